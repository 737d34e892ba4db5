package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/metrics"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/proxy/v2api"
)

// middleware wraps a handler; see chain for the order.
type middleware func(next fasthttp.RequestHandler) fasthttp.RequestHandler

// chain is the request path, read top to bottom in execution order. It is
// built from the end (caddy's routes.go Compile), so the slice reads as
// the request runs.
func (g *Gateway) chain() fasthttp.RequestHandler {
	steps := []middleware{
		g.recoverPanics, // outermost: fasthttp does not recover handler panics
		g.requestID,     // X-VCAP-Request-ID, CC's format (MAPPING §6)
		g.route,         // picks the Route: the bounded template every later step uses
		g.accessLog,     // one JSON line per request; never a token
		g.measure,       // capibridge_http_* metrics
		g.checkHead,     // heads fasthttp lets through: HTTP/2.0 505, a field name not a token 400 (limits.go)
		g.checkFraming,  // body framing a proxy must not pass on: 400 and close (RFC 9112 §6.3)
		g.authenticate,  // bearer tokens and v2 scopes (MAPPING §4)
		g.migrate,       // v2 brownouts, warning and deprecation headers (migrate.go)
		g.compress,      // gzip for large translated answers (cached pages come compressed)
	}
	if g.cache != nil && g.shadow == nil {
		steps = append(steps, g.cached) // v2 list pages; invalidation after writes (shadow mode answers natively)
	}
	h := fasthttp.RequestHandler(g.dispatch)
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i](h)
	}
	return h
}

// User-value keys of per-request state.
const (
	routeKey    = "capibridge.route"
	identityKey = v2api.IdentityKey
	startKey    = "capibridge.start"
)

func routeOf(ctx *fasthttp.RequestCtx) *Route {
	if r, ok := ctx.UserValue(routeKey).(*Route); ok {
		return r
	}
	return nil
}

func identityOf(ctx *fasthttp.RequestCtx) *auth.Identity {
	id, _ := ctx.UserValue(identityKey).(*auth.Identity)
	return id
}

func isV2(ctx *fasthttp.RequestCtx) bool {
	if r := routeOf(ctx); r != nil {
		return r.v2
	}
	p := ctx.Path()
	return len(p) >= 3 && string(p[:3]) == "/v2"
}

func (g *Gateway) recoverPanics(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if v := recover(); v != nil {
				g.log.Error("panic serving request", "method", string(ctx.Method()), "path", string(ctx.Path()), "panic", fmt.Sprint(v))
				writeError(ctx, cferr.Unknown(fmt.Errorf("panic: %v", v)), isV2(ctx))
			}
		}()
		next(ctx)
	}
}

func (g *Gateway) requestID(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		id := newRequestID(ctx.Request.Header.Peek("X-Vcap-Request-Id"), ctx.Request.Header.Peek("X-Request-Id"))
		// The upstream sees the gateway's id and logs under it.
		ctx.Request.Header.Set("X-Vcap-Request-Id", id)
		next(ctx)
		ctx.Response.Header.Del("X-Vcap-Request-Id")
		ctx.Response.Header.DisableNormalizing()
		ctx.Response.Header.Set("X-VCAP-Request-ID", id)
	}
}

func (g *Gateway) route(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		rt := g.router.match(ctx.Path())
		if ambiguousPath(ctx.Request.Header.RequestURI()) {
			// A dot segment or an encoded slash: an unknown request, in
			// the shape of the path as sent (paths.go says why).
			rt = g.router.unknown
			if p := ctx.Request.URI().PathOriginal(); bytes.HasPrefix(p, []byte("/v2/")) || bytes.Equal(p, []byte("/v2")) {
				rt = g.router.v2Other
			}
		}
		ctx.SetUserValue(routeKey, rt)
		next(ctx)
	}
}

func (g *Gateway) accessLog(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if g.accessW == nil {
		return next
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		next(ctx)
		g.writeAccessLine(ctx, start, time.Now())
	}
}

func (g *Gateway) measure(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		g.m.InFlight.Inc()
		start := time.Now()
		rt := routeOf(ctx)
		var trace *ccv3.Trace
		if rt.kind == kindV2 {
			// What the translation costs upstream, cached pages included (0).
			trace = ccv3.NewTrace(nil)
			if g.migration.V3Calls || g.served != nil {
				trace.KeepCalls()
			}
			ctx.SetUserValue(v2api.TraceKey, trace)
		}
		next(ctx)
		g.m.InFlight.Dec()
		if rt.v2 {
			g.accountV2(ctx, rt, methodLabel(ctx.Method()), start)
		}
		if trace != nil && g.served != nil {
			g.served(rt.Template, methodLabel(ctx.Method()), trace.Calls())
		}
		if trace != nil {
			g.m.UpstreamPerRequest.WithLabelValues(rt.Template).Observe(float64(trace.Requests()))
		}
		labels := []string{rt.Template, methodLabel(ctx.Method()), metrics.StatusClass(ctx.Response.StatusCode())}
		g.m.Requests.WithLabelValues(labels...).Inc()
		g.m.RequestDuration.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
	}
}

// authenticate checks the bearer token of every route that is not
// anonymous (MAPPING §4), and v2 scopes: reads need admin, admin_read_only,
// global_auditor or read; writes need admin or write. v3 scopes are the
// Cloud Controller's to check: it answers v3 clients in its own words.
func (g *Gateway) authenticate(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		rt := routeOf(ctx)
		// A method the gateway does not translate is an unknown request,
		// which CC answers 404 before it looks at the token.
		if rt.anonymous || rt.kind == kindV2 && rt.handler(ctx.Method()) == nil {
			next(ctx)
			return
		}
		id, err := g.verifier.Verify(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
		if err != nil {
			if rt.optionalAuth {
				next(ctx)
				return
			}
			reason := string(auth.ReasonMalformed)
			var ae *auth.Error
			if errors.As(err, &ae) {
				reason = string(ae.Reason)
			}
			g.m.AuthFailures.WithLabelValues(reason).Inc()
			writeError(ctx, authError(err), rt.v2)
			return
		}
		ctx.SetUserValue(identityKey, id)
		if rt.v2 && !rt.optionalAuth {
			read := ctx.IsGet() || ctx.IsHead()
			if read && !id.CanRead() || !read && !id.CanWrite() {
				g.m.AuthFailures.WithLabelValues(reasonScope).Inc()
				writeError(ctx, cferr.InsufficientScope(), true)
				return
			}
		}
		next(ctx)
	}
}

// reasonScope labels a valid token refused for want of a v2 scope.
const reasonScope = "scope"

// authError maps a refused token to CC's error: a missing token is
// NotAuthenticated, keys that cannot be had UaaUnavailable, anything else
// InvalidAuthToken.
func authError(err error) *Error {
	var ae *auth.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Missing():
			return cferr.NotAuthenticated()
		case ae.Unavailable():
			return cferr.UaaUnavailable(err)
		}
	}
	return cferr.InvalidAuthToken(err)
}

// dispatch serves the route the router chose.
func (g *Gateway) dispatch(ctx *fasthttp.RequestCtx) {
	rt := routeOf(ctx)
	var err error
	switch rt.kind {
	case kindRoot:
		err = g.root(ctx, rt)
	case kindV3Info, kindV3, kindV2Forward:
		err = g.forward(ctx, rt)
	case kindV2Info:
		err = g.v2Info(ctx)
	case kindUAA:
		err = g.uaaForward(ctx, rt)
	case kindLogCache:
		err = g.forwardTo(ctx, rt, g.logCache)
	case kindRouting:
		err = g.forwardTo(ctx, rt, g.routing)
	case kindHealth:
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok\n")
	case kindMetrics:
		g.servePublicMetrics(ctx)
	case kindV2:
		// In shadow mode the client gets the native answer; the offline
		// translation it is compared with runs the handler itself.
		if g.shadow != nil && ctx.UserValue(offlineKey) == nil {
			err = g.serveShadowed(ctx, rt)
			break
		}
		if h := rt.handler(ctx.Method()); h != nil {
			err = g.v2.Serve(h, ctx)
		} else {
			err = cferr.NotFound()
		}
	default:
		err = cferr.NotFound()
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Status >= 500 {
			g.log.Error("request failed", "route", rt.Template, "err", err)
		}
		writeError(ctx, err, rt.v2)
	}
}
