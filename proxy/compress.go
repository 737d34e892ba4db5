package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"capibridge/cache"
)

// acceptsGzip reads an Accept-Encoding value (RFC 9110 §12.5.3): gzip (or
// x-gzip) is acceptable when named with a q above 0, or when * is and
// gzip is not named with q=0.
func acceptsGzip(h []byte) bool {
	named, star := -1, -1
	for len(h) > 0 {
		var item []byte
		item, h, _ = bytes.Cut(h, []byte{','})
		coding, params, _ := bytes.Cut(item, []byte{';'})
		coding = bytes.TrimSpace(coding)
		ok := 1
		for p := range bytes.SplitSeq(params, []byte{';'}) {
			k, v, _ := bytes.Cut(bytes.TrimSpace(p), []byte{'='})
			if bytes.EqualFold(bytes.TrimSpace(k), []byte("q")) && qIsZero(bytes.TrimSpace(v)) {
				ok = 0
			}
		}
		switch {
		case bytes.EqualFold(coding, []byte("gzip")), bytes.EqualFold(coding, []byte("x-gzip")):
			named = ok
		case bytes.Equal(coding, []byte("*")):
			star = ok
		}
	}
	return named == 1 || named == -1 && star == 1
}

// qIsZero reads a qvalue: "0", "0.", "0.0", ... up to three decimals.
func qIsZero(v []byte) bool {
	if len(v) == 0 || v[0] != '0' {
		return false
	}
	for _, c := range v[1:] {
		if c != '.' && c != '0' {
			return false
		}
	}
	return true
}

// setBody answers the entry's body, or its gzip form when there is one
// and the client accepts it. Either way the answer varies by
// Accept-Encoding.
func setBody(ctx *fasthttp.RequestCtx, e cache.Entry) error {
	ctx.Response.Header.Set(fasthttp.HeaderVary, "Accept-Encoding")
	if e.Gzip != nil && acceptsGzip(ctx.Request.Header.Peek(fasthttp.HeaderAcceptEncoding)) {
		ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
		ctx.Response.SetBodyRaw(e.Gzip)
		return nil
	}
	body, err := e.Identity()
	if err != nil {
		return err
	}
	ctx.Response.SetBodyRaw(body)
	return nil
}

// compress gzips the translated v2 answers of server.compress_min_bytes or
// more for clients that accept it; cached pages come compressed already.
func (g *Gateway) compress(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	least := g.cfg.Server.CompressMinBytes
	return func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		if least < 0 || routeOf(ctx).kind != kindV2 || ctx.IsHead() || ctx.Response.IsBodyStream() ||
			len(ctx.Response.Header.ContentEncoding()) > 0 {
			return
		}
		body := ctx.Response.Body()
		if len(body) < least {
			return
		}
		ctx.Response.Header.Set(fasthttp.HeaderVary, "Accept-Encoding")
		if acceptsGzip(ctx.Request.Header.Peek(fasthttp.HeaderAcceptEncoding)) {
			gz := cache.Gzip(body)
			ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
			ctx.Response.SetBodyRaw(gz)
		}
	}
}
