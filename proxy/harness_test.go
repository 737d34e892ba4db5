package proxy

import (
	"context"
	"net"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/backend/store"
	"capibridge/cache"
	"capibridge/configs"
	"capibridge/metrics"
	"capibridge/proxy/auth"
	"capibridge/proxy/usage"
)

// stack is a gateway in front of a real embedded Cloud Foundry, both on
// loopback ports, with tokens for the seeded users.
type stack struct {
	t        testing.TB
	cf       *backend.Server
	cfURL    string
	gw       *Gateway
	gwURL    string
	adminURL string
	reg      *prometheus.Registry
	m        *metrics.Metrics
	tokens   map[string]string
	client   *fasthttp.Client
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testGatewayConfig is the gateway configuration of the tests.
func testGatewayConfig() configs.Config {
	cfg := configs.Default()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	return cfg
}

// startStack starts the embedded CF and a gateway in front of it; mutate
// may change the gateway's configuration first.
func startStack(t testing.TB, mutate func(*configs.Config)) *stack {
	t.Helper()
	return startStackWith(t, nil, mutate)
}

// startStackWith is startStack with the embedded CF's configuration
// changed by backendMutate first (staging and job delays, ...).
func startStackWith(t testing.TB, backendMutate func(*configs.Backend), mutate func(*configs.Config)) *stack {
	t.Helper()
	bcfg := configs.DefaultBackend()
	bcfg.Data, bcfg.JobDelay = store.Memory, 0
	if backendMutate != nil {
		backendMutate(&bcfg)
	}
	cf, err := backend.New(context.Background(), bcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfLn := listen(t)
	go cf.Serve(cfLn)
	s := &stack{t: t, cf: cf, cfURL: "http://" + cfLn.Addr().String(), tokens: map[string]string{},
		client: &fasthttp.Client{ReadTimeout: 30 * time.Second, MaxResponseBodySize: 1 << 30}}
	cfg := testGatewayConfig()
	cfg.Upstream = s.cfURL
	// As serve sets them in front of the embedded CF.
	cfg.UAAPassthrough, cfg.LogCachePassthrough, cfg.RoutingPassthrough = s.cfURL, s.cfURL, s.cfURL
	if mutate != nil {
		mutate(&cfg)
	}
	s.startGateway(cfg, auth.WithKeys(cf.VerificationKey()), auth.WithIssuer(cf.Issuer()))
	for _, u := range []string{"admin", "developer", "auditor", "outsider"} {
		tok, err := cf.Token(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[u] = tok
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cf.Shutdown(ctx)
	})
	return s
}

// startGateway starts a gateway with cfg in front of cfg.Upstream.
func (s *stack) startGateway(cfg configs.Config, opts ...auth.Option) {
	g := launchGateway(s.t, cfg, nil, opts...)
	s.gw, s.gwURL, s.adminURL, s.reg, s.m = g.gw, g.url, g.adminURL, g.reg, g.m
}

// launched is one running gateway.
type launched struct {
	gw            *Gateway
	url, adminURL string
	reg           *prometheus.Registry
	m             *metrics.Metrics
}

// launchGateway starts a gateway with cfg in front of cfg.Upstream, with
// the list-page cache built by newCache when it is not nil, stopped at
// cleanup.
func launchGateway(t testing.TB, cfg configs.Config, newCache func(*metrics.Metrics) *cache.Cache, opts ...auth.Option) launched {
	t.Helper()
	return launchGatewayWith(t, cfg, newCache, nil, opts...)
}

// baseDeps are the least Deps New takes: an upstream, metrics on a
// registry of their own, returned too.
func baseDeps(t testing.TB, cfg configs.Config) (Deps, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	up, err := NewUpstream(cfg.Upstream, cfg.UpstreamClient, m)
	if err != nil {
		t.Fatal(err)
	}
	return Deps{Upstream: up, Metrics: m, Gatherer: reg}, reg
}

// launchGatewayWith is launchGateway with the Deps changed by deps first.
func launchGatewayWith(t testing.TB, cfg configs.Config, newCache func(*metrics.Metrics) *cache.Cache, deps func(*Deps), opts ...auth.Option) launched {
	t.Helper()
	d, reg := baseDeps(t, cfg)
	m := d.Metrics
	v, err := auth.New(cfg.Auth, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// Every gateway keeps a usage report in memory, and tells the
	// package's record of v3 calls (docs/V2-TO-V3.md) what it called.
	rep := usage.New(usage.Config{Retention: 14 * 24 * time.Hour, MaxRows: 10000, FlushInterval: time.Hour}, nil, nil)
	d.Verifier, d.Usage, d.Served = v, rep, v2Calls.record
	if newCache != nil {
		d.Cache = newCache(m)
	}
	if deps != nil {
		deps(&d)
	}
	gw, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ln, adminLn := listen(t), listen(t)
	go gw.Serve(ln)
	go gw.ServeAdmin(adminLn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway Shutdown: %v", err)
		}
		v.Close()
		if d.Cache != nil {
			_ = d.Cache.Close()
		}
	})
	return launched{gw: gw, url: "http://" + ln.Addr().String(), adminURL: "http://" + adminLn.Addr().String(), reg: reg, m: m}
}

type reply struct {
	status int
	body   []byte
	header *fasthttp.ResponseHeader
}

// do sends a request to base+path; auth is a seeded user, a raw
// Authorization value, or "" for none.
func (s *stack) do(method, url, user string, body []byte, headers ...string) reply {
	s.t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	if tok, ok := s.tokens[user]; ok {
		req.Header.Set("Authorization", "bearer "+tok)
	} else if user != "" {
		req.Header.Set("Authorization", user)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.SetBody(body)
		req.Header.SetContentType("application/json")
	}
	if err := s.client.Do(req, resp); err != nil {
		s.t.Fatalf("%s %s: %v", method, url, err)
	}
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return reply{status: resp.StatusCode(), body: append([]byte(nil), resp.Body()...), header: h}
}

// mintToken signs a developer token with the given scopes instead of the
// developer's own, returned as an Authorization value.
func (s *stack) mintToken(t testing.TB, scopes []string) string {
	t.Helper()
	tok, err := s.cf.Token(context.Background(), "developer", scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return "bearer " + tok
}

// goCFClient is go-cfclient's last v2 release logged in as a seeded user
// through the gateway.
func (s *stack) goCFClient(t testing.TB, user string) *cfclient.Client {
	t.Helper()
	c, err := cfclient.NewClient(&cfclient.Config{ApiAddress: s.gwURL, Token: s.tokens[user]})
	if err != nil {
		t.Fatalf("go-cfclient NewClient as %s: %v", user, err)
	}
	return c
}
