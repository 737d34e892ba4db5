package proxy

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// hopHeaders are the hop-by-hop headers a proxy must not forward (RFC 9110
// §7.6.1; the list of Go's net/http/httputil reverseproxy.go).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// forward passes the request to the upstream and its answer back, bodies
// streamed both ways: the user's Authorization goes with it (DESIGN: the
// Cloud Controller authorises by role).
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, rt *Route) error {
	g.prepareUpstreamRequest(ctx)
	if err := g.upstream.Do(&ctx.Request, &ctx.Response, rt.Template); err != nil {
		return err
	}
	stripHopHeaders(&ctx.Response.Header)
	return nil
}

// prepareUpstreamRequest strips hop-by-hop headers and the client's own
// X-Forwarded-* (a client must not choose what the upstream believes about
// it), then says who the client is.
func (g *Gateway) prepareUpstreamRequest(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	for _, name := range connectionTokens(h.Peek("Connection")) {
		h.Del(name)
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	var forwarded []string
	h.VisitAll(func(k, _ []byte) {
		if len(k) > 12 && strings.EqualFold(string(k[:12]), "X-Forwarded-") {
			forwarded = append(forwarded, string(k))
		}
	})
	for _, k := range forwarded {
		h.Del(k)
	}
	h.Set("X-Forwarded-For", ctx.RemoteIP().String())
	h.Set("X-Forwarded-Proto", g.scheme(ctx))
	h.SetBytesV("X-Forwarded-Host", ctx.Host())
}

type responseHeader interface {
	Peek(string) []byte
	Del(string)
}

func stripHopHeaders(h responseHeader) {
	for _, name := range connectionTokens(h.Peek("Connection")) {
		h.Del(name)
	}
	for _, name := range hopHeaders {
		if name != "Transfer-Encoding" { // fasthttp frames the body itself
			h.Del(name)
		}
	}
}

// connectionTokens lists the headers a Connection header names.
func connectionTokens(v []byte) []string {
	var out []string
	for _, t := range bytes.Split(v, []byte(",")) {
		if t = bytes.TrimSpace(t); len(t) > 0 && !bytes.EqualFold(t, []byte("close")) && !bytes.EqualFold(t, []byte("keep-alive")) {
			out = append(out, string(t))
		}
	}
	return out
}

// scheme is how the client reached the gateway.
func (g *Gateway) scheme(ctx *fasthttp.RequestCtx) string {
	if ctx.IsTLS() {
		return "https"
	}
	return "http"
}

// publicBase is the gateway's URL as clients see it: the configured
// external URL, else the scheme and Host of the request.
func (g *Gateway) publicBase(ctx *fasthttp.RequestCtx) string {
	if g.cfg.ExternalURL != "" {
		return strings.TrimSuffix(g.cfg.ExternalURL, "/")
	}
	return g.scheme(ctx) + "://" + string(ctx.Host())
}
