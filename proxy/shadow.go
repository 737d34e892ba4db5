package proxy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/shadow"
	"capibridge/proxy/v2api"
)

// Shadow mode (configs.Shadow): every v2 request goes to the Cloud
// Controller's native v2 API and its answer goes back to the client
// unchanged, as the v2 passthrough does; writes stop there (they cannot
// be repeated). For a sample of the reads the gateway then builds its own
// answer from v3, with the same request and token, in the background under
// a concurrency bound, and compares the two (proxy/shadow).
// maxShadowBody is the largest native answer compared.
const maxShadowBody = 16 << 20

// offlineKey marks the request context of an offline translation.
const offlineKey = "capibridge.offline"

type shadowMode struct {
	rate  float64
	slots chan struct{}
	opts  shadow.Options
	store *shadow.Store
}

func newShadowMode(c configs.Shadow) *shadowMode {
	if !c.Enabled {
		return nil
	}
	return &shadowMode{rate: c.SampleRate, slots: make(chan struct{}, c.MaxConcurrency), store: shadow.NewStore(c.Keep),
		opts: shadow.Options{TimeSkew: c.TimeSkew, Ignore: c.Ignore}}
}

// serveShadowed answers a translated v2 route natively and, for a sampled
// read, compares the translation in the background.
func (g *Gateway) serveShadowed(ctx *fasthttp.RequestCtx, rt *Route) error {
	s := g.shadow
	if !ctx.IsGet() || rt.get == nil || s.rate < 1 && rand.Float64() >= s.rate {
		return g.forward(ctx, rt)
	}
	// The request as the client sent it, before the forward rewrites it.
	req := fasthttp.AcquireRequest()
	ctx.Request.CopyTo(req)
	if err := g.forward(ctx, rt); err != nil {
		fasthttp.ReleaseRequest(req)
		return err
	}
	native, ok := nativeAnswer(ctx)
	if !ok {
		fasthttp.ReleaseRequest(req)
		g.shadowResult(rt.Template, shadow.Skipped)
		return nil
	}
	select {
	case s.slots <- struct{}{}:
	default:
		fasthttp.ReleaseRequest(req)
		g.shadowResult(rt.Template, shadow.Skipped)
		return nil
	}
	id := identityOf(ctx)
	go func() {
		defer func() { <-s.slots }()
		defer fasthttp.ReleaseRequest(req)
		g.compareShadow(req, id, rt, native)
	}()
	return nil
}

// nativeAnswer copies the native answer, decompressed; false for one that
// cannot be compared (too large, of unknown size, or not decodable).
func nativeAnswer(ctx *fasthttp.RequestCtx) (shadow.Answer, bool) {
	resp := &ctx.Response
	// The upstream's answer comes as a stream; one of a known size up to
	// maxShadowBody is read whole here (Body drains the stream) and sent
	// from memory, anything else goes on unread and uncompared.
	if n := resp.Header.ContentLength(); resp.IsBodyStream() && (n < 0 || n > maxShadowBody) {
		return shadow.Answer{}, false
	}
	body := resp.Body()
	if string(resp.Header.ContentEncoding()) == "gzip" {
		b, err := resp.BodyGunzip()
		if err != nil {
			return shadow.Answer{}, false
		}
		body = b
	}
	return shadow.Answer{Status: resp.StatusCode(), Body: append([]byte(nil), body...)}, true
}

// compareShadow translates req as the gateway would have served it and
// records how it compares with the native answer.
func (g *Gateway) compareShadow(req *fasthttp.Request, id *auth.Identity, rt *Route, native shadow.Answer) {
	translated, err := g.translateOffline(req, id, rt)
	if err != nil {
		g.log.Warn("shadow: translating failed", "route", rt.Template, "err", err)
		g.shadowResult(rt.Template, shadow.Error)
		return
	}
	diffs := shadow.Compare(native, translated, g.shadow.opts)
	if len(diffs) == 0 {
		g.shadowResult(rt.Template, shadow.Match)
		return
	}
	g.shadowResult(rt.Template, shadow.Differ)
	for _, d := range diffs {
		g.m.ShadowDifferences.WithLabelValues(rt.Template, string(d.Kind)).Inc()
	}
	g.shadow.store.Differed(rt.Template, shadow.Sample{At: time.Now().UTC(), Request: string(req.Header.Method()) + " " + string(req.RequestURI()),
		NativeStatus: native.Status, TranslatedStatus: translated.Status, Differences: diffs,
		NativeBody: string(native.Body), TranslatedBody: string(translated.Body)})
}

func (g *Gateway) shadowResult(route string, r shadow.Result) {
	g.m.ShadowComparisons.WithLabelValues(route, string(r)).Inc()
	if r != shadow.Differ {
		g.shadow.store.Count(route, r)
	}
}

// translateOffline serves req with the gateway's translation, on a
// request context of its own: what the client would have been answered
// without shadow mode (no page cache, identity body).
func (g *Gateway) translateOffline(req *fasthttp.Request, id *auth.Identity, rt *Route) (a shadow.Answer, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	var sctx fasthttp.RequestCtx
	sctx.Init(req, nil, nil)
	sctx.SetUserValue(routeKey, rt)
	if id != nil {
		sctx.SetUserValue(identityKey, id)
	}
	sctx.SetUserValue(v2api.TraceKey, ccv3.NewTrace(nil))
	sctx.SetUserValue(offlineKey, true)
	g.dispatch(&sctx)
	if sctx.Response.IsBodyStream() {
		return a, fmt.Errorf("the translation streamed its body")
	}
	return shadow.Answer{Status: sctx.Response.StatusCode(), Body: append([]byte(nil), sctx.Response.Body()...)}, nil
}

// shadowReport answers the admin port's /admin/shadow: per route, the
// comparisons, the match rate, the paths that differed and the last
// differing samples with both bodies.
func (g *Gateway) shadowReport(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	out := struct {
		Enabled bool                 `json:"enabled"`
		Routes  []shadow.RouteReport `json:"routes"`
	}{Routes: []shadow.RouteReport{}}
	if g.shadow != nil {
		out.Enabled, out.Routes = true, g.shadow.store.Report()
	}
	_ = json.NewEncoder(ctx).Encode(out)
}
