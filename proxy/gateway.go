// Package proxy is capibridge's request path: the fasthttp server, the
// handler chain (chain.go, read top to bottom), routing, the v3
// passthrough, the answers the gateway gives itself (/v2/info) and the one
// writer of v2 and v3 errors.
package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/pprof"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"capibridge/cache"
	"capibridge/configs"
	"capibridge/metrics"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/migration"
	"capibridge/proxy/usage"
	"capibridge/proxy/v2api"
)

// Gateway is one capibridge instance.
type Gateway struct {
	cfg      configs.Config
	upstream *Upstream
	v3       *ccv3.Client
	verifier *lateVerifier
	m        *metrics.Metrics
	gatherer prometheus.Gatherer
	log      *slog.Logger
	// migration is the cockpit's policy; usage its report, nil without
	// one; clientIDs the client ids with their own metric label.
	migration *migration.Policy
	usage     *usage.Recorder
	clientIDs map[string]bool
	served    func(route, method string, v3Calls []string)
	// shadow is shadow mode; nil when off.
	shadow *shadowMode
	// metricsAuth is the Authorization value that opens /metrics on the
	// public listener; empty: not served there.
	metricsAuth string
	// publicMetrics serves the registry there.
	publicMetrics fasthttp.RequestHandler
	// accessW is Deps.AccessLog.
	accessW io.Writer
	router  *router
	// v2 serves the translated v2 routes.
	v2 *v2api.API
	// faultHook, set by fault-injection runs only, is called at the named
	// steps of the multi-call v2 writes.
	faultHook func(step string)
	info      infoCache
	// cache is the v2 list-page cache, nil when off; cachePolicy holds
	// the cached routes.
	cache       *cache.Cache
	cachePolicy map[*Route]cache.Policy
	// bg is the gateway's own UAA client (configs.Background), nil
	// without one; set late with the verifier when the UAA is found after
	// start (SetVerifier).
	bg atomic.Pointer[clientToken]
	// uaa, logCache and routing are the components of
	// configs.UAAPassthrough, LogCachePassthrough and RoutingPassthrough,
	// nil without them.
	uaa, logCache, routing *Upstream

	public, admin *fasthttp.Server
	// conns guards the public listener's connections (conns.go).
	conns *connGuard

	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error

	// external is configs.ExternalURL parsed once, nil when unset.
	external *url.URL
}

// Deps are what a Gateway is built from; cmd wires them.
type Deps struct {
	Upstream *Upstream
	// Verifier checks tokens. Nil starts the gateway without one, as when
	// the UAA is still to be discovered: requests that need a token are
	// answered 503 UaaUnavailable and /readyz fails until SetVerifier.
	Verifier *auth.Verifier
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	// AccessLog takes one JSON line per request (accesslog.go); nil
	// writes none.
	AccessLog io.Writer
	// Served, when set, is told of each translated v2 request: its route
	// template, method and the v3 calls that served it (Trace.Calls). The
	// gateway's tests build docs/V2-TO-V3.md with it.
	Served func(route, method string, v3Calls []string)
	// Usage keeps the v2 usage report; nil keeps none.
	Usage *usage.Recorder
	// Cache is the list-page cache; nil serves every v2 read upstream.
	Cache *cache.Cache
	// Fault, when set, is called at the named steps of the multi-call v2
	// writes ("create:app" … "start:build"), so that a fault-injection run
	// can stop the gateway there as a crash would. Nil in service.
	Fault func(step string)
}

// New builds a gateway. It does no I/O.
func New(cfg configs.Config, d Deps) (*Gateway, error) {
	if d.Upstream == nil || d.Metrics == nil || d.Gatherer == nil {
		return nil, errors.New("proxy: New needs an upstream, metrics and a gatherer")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, upstream: d.Upstream, verifier: newLateVerifier(d.Verifier), m: d.Metrics, gatherer: d.Gatherer, log: d.Log,
		router: newRouter(cfg.V2Passthrough, cfg.UAAPassthrough != "", cfg.LogCachePassthrough != "", cfg.RoutingPassthrough != ""), v3: ccv3.New(d.Upstream, d.Upstream.URL(), cfg.UpstreamClient.Fanout), cache: d.Cache}
	if g.cache != nil {
		g.cachePolicy = cachePolicies(g.router, cfg.Cache)
	}
	// The platform's view of the gateway, on the public listener: a
	// liveness answer always, the metrics when a credential guards them
	// (Cloud Foundry routes no traffic to an app's second port).
	g.router.components["/healthz"] = &Route{Template: "/healthz", kind: kindHealth, anonymous: true}
	if cfg.Server.MetricsBasicAuth != "" {
		g.router.components["/metrics"] = &Route{Template: "/metrics", kind: kindMetrics, anonymous: true}
		g.metricsAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Server.MetricsBasicAuth))
		g.publicMetrics = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	}
	if cfg.ExternalURL != "" {
		u, err := url.Parse(cfg.ExternalURL)
		if err != nil {
			return nil, fmt.Errorf("proxy: external_url: %w", err)
		}
		g.external = u
	}
	// A component at the upstream's own address shares its connections.
	component := func(rawURL string) (*Upstream, error) {
		if rawURL == "" {
			return nil, nil
		}
		if strings.TrimSuffix(rawURL, "/") == d.Upstream.URL() {
			return d.Upstream, nil
		}
		return NewUpstream(rawURL, cfg.UpstreamClient, d.Metrics)
	}
	var err error
	if g.uaa, err = component(cfg.UAAPassthrough); err != nil {
		return nil, err
	}
	if g.logCache, err = component(cfg.LogCachePassthrough); err != nil {
		return nil, err
	}
	if g.routing, err = component(cfg.RoutingPassthrough); err != nil {
		return nil, err
	}
	g.faultHook, g.accessW, g.usage, g.served = d.Fault, d.AccessLog, d.Usage, d.Served
	g.shadow = newShadowMode(cfg.Shadow)
	d.Metrics.Ready.SetReadiness(g.ready)
	if g.migration, err = migration.New(cfg.Migration, g.router.v2Templates()); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	g.clientIDs = map[string]bool{}
	for _, id := range cfg.Migration.ClientIDs {
		g.clientIDs[id] = true
	}
	if t := newClientToken(cfg.Background, d.Upstream); t != nil {
		g.bg.Store(t)
	}
	var frags v2api.FragmentStore
	var shared func(string, []string, func() ([]byte, error)) ([]byte, error)
	if d.Cache != nil {
		frags, shared = d.Cache.Fragments(), g.shared
	}
	g.v2 = v2api.New(cfg, g.v3, d.Log, v2api.Hooks{
		Fragments:  frags,
		Shared:     shared,
		ReadBody:   g.readBody,
		ClientBody: func(ctx *fasthttp.RequestCtx, r io.Reader) io.Reader { return g.clientBody(ctx, r) },
		ClientGone: isClientGone,
		Public: func(ctx *fasthttp.RequestCtx, href string) (string, bool) {
			return relink(href, g.upstream.URL(), g.publicBase(ctx))
		},
		Invalidate:         g.invalidate,
		InvalidateWhenDone: g.invalidateWhenDone,
		Metrics:            d.Metrics,
		Background: func() (ccv3.Call, bool, error) {
			bg := g.bg.Load()
			if bg == nil {
				return ccv3.Call{}, false, nil
			}
			c, err := bg.call()
			return c, true, err
		},
		Fault: func(step string) {
			if g.faultHook != nil {
				g.faultHook(step)
			}
		},
	})
	// Each identity's share of the upstream is counted by the user the
	// token names.
	for _, up := range []*Upstream{d.Upstream, g.uaa, g.logCache, g.routing} {
		if up != nil {
			up.identify = g.identify
		}
	}
	// Every refusal reason is exported from the start, at 0, so a rate
	// over it exists before the first failure.
	for _, r := range auth.Reasons() {
		d.Metrics.AuthFailures.WithLabelValues(string(r))
	}
	d.Metrics.AuthFailures.WithLabelValues(reasonScope)
	g.conns = newConnGuard(cfg.Server, d.Metrics)
	g.public = &fasthttp.Server{
		Handler:                       g.chain(),
		Name:                          "capibridge",
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		ReadTimeout:                   cfg.Server.ReadTimeout,
		WriteTimeout:                  cfg.Server.WriteTimeout,
		IdleTimeout:                   cfg.Server.IdleTimeout,
		ReadBufferSize:                cfg.Server.MaxHeaderBytes,
		WriteBufferSize:               16 << 10,
		MaxRequestBodySize:            cfg.Server.MaxRequestBodyBytes,
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		// Framing faults fasthttp refuses while parsing are answered in
		// the CF shape (framing.go); its error texts, which it also logs,
		// name the fault without quoting the request, tokens included.
		ErrorHandler:          serverError,
		SecureErrorLogMessage: true,
		ConnState:             g.connState,
		// Buffers go back to their pools between requests instead of
		// staying with each keep-alive connection: a 64 KiB read and a
		// 16 KiB write buffer each (80 MB for 1,000 idle ones), and
		// request and response bodies as large as the largest they
		// carried (returnMemory).
		ReduceMemoryUsage: true,
	}
	g.admin = &fasthttp.Server{Handler: g.adminHandler(), Name: "capibridge-admin", NoDefaultServerHeader: true,
		ReadTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	return g, nil
}

// Handler is the public request path, for tests that serve it themselves.
func (g *Gateway) Handler() fasthttp.RequestHandler { return g.public.Handler }

// Serve answers clients on ln until Shutdown, within the connection caps
// (conns.go), and meanwhile returns memory a burst left behind
// (returnMemory).
func (g *Gateway) Serve(ln net.Listener) error {
	if d := g.cfg.Server.MemoryReturnInterval; d > 0 {
		stop := make(chan struct{})
		defer close(stop)
		go returnMemory(d, stop)
	}
	return g.public.Serve(g.conns.listener(ln))
}

// ServeAdmin answers /metrics, /healthz, /readyz and /debug/pprof on ln.
func (g *Gateway) ServeAdmin(ln net.Listener) error { return g.admin.Serve(ln) }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.public.ShutdownWithContext(ctx)
	return errors.Join(err, g.admin.ShutdownWithContext(ctx))
}

func (g *Gateway) adminHandler() fasthttp.RequestHandler {
	prom := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(g.gatherer, promhttp.HandlerOpts{}))
	pprofIndex := fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Index)
	pprofNamed := map[string]fasthttp.RequestHandler{
		"/debug/pprof/cmdline": fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Trace),
	}
	return func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		switch {
		case path == "/metrics":
			prom(ctx)
		case path == "/healthz":
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("ok\n")
		case path == "/readyz":
			ctx.SetContentType("text/plain; charset=utf-8")
			if err := g.ready(); err != nil {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				ctx.SetBodyString("not ready: " + err.Error() + "\n")
				return
			}
			ctx.SetBodyString("ok\n")
		case path == "/admin/v2-usage":
			g.usageReport(ctx)
		case path == "/admin/shadow":
			g.shadowReport(ctx)
		case pprofNamed[path] != nil:
			pprofNamed[path](ctx)
		case len(path) >= len("/debug/pprof/") && path[:len("/debug/pprof/")] == "/debug/pprof/":
			pprofIndex(ctx)
		default:
			ctx.Error("not found\n", fasthttp.StatusNotFound)
		}
	}
}

// readyTTL spaces out the upstream probes of /readyz.
const readyTTL = 2 * time.Second

// ready is nil when the gateway can serve: keys to check tokens with, and
// an upstream that answers GET /.
func (g *Gateway) ready() error {
	if err := g.verifier.Ready(); err != nil {
		return err
	}
	g.readyMu.Lock()
	defer g.readyMu.Unlock()
	if time.Since(g.readyAt) < readyTTL {
		return g.readyErr
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(g.upstream.URL() + "/")
	g.readyErr = g.upstream.Do(req, resp, "/")
	if g.readyErr == nil && resp.StatusCode() != fasthttp.StatusOK {
		g.readyErr = fmt.Errorf("proxy: upstream GET / answered %d", resp.StatusCode())
	}
	g.readyAt = time.Now()
	return g.readyErr
}

// servePublicMetrics answers GET /metrics on the public listener to the
// credential of server.metrics_basic_auth (compared in constant time), and
// 401 with a Basic challenge to anyone else.
func (g *Gateway) servePublicMetrics(ctx *fasthttp.RequestCtx) {
	got := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if subtle.ConstantTimeCompare(got, []byte(g.metricsAuth)) != 1 {
		// Error resets the headers: the challenge goes after it.
		ctx.Error("unauthorized\n", fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Basic realm="capibridge metrics", charset="UTF-8"`)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	g.publicMetrics(ctx)
}
