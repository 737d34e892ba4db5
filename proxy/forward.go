package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

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
	return g.forwardTo(ctx, rt, g.upstream)
}

// forwardTo is forward to up: the Cloud Controller, or the UAA of
// configs.UAAPassthrough.
func (g *Gateway) forwardTo(ctx *fasthttp.RequestCtx, rt *Route, up *Upstream) error {
	g.prepareUpstreamRequest(ctx)
	// The body is read from the client while it is written upstream: wrap
	// it so that a client that goes away is told from an upstream that
	// fails (the server keeps and releases its own stream; see fasthttp's
	// serveConn).
	//
	// Only bits (uploads) may be larger than server.max_request_body_bytes:
	// an API body announced larger is refused before a byte of it is read,
	// a chunked one once it grows larger (a Cloud Controller that takes
	// neither closes the connection under it, which was a 502).
	var body *clientBody
	n, limit := ctx.Request.Header.ContentLength(), g.cfg.Server.MaxRequestBodyBytes
	bits := isBits(ctx.Path())
	if !bits && n > limit {
		ctx.SetConnectionClose()
		return errBodyTooLarge(limit)
	}
	if n != 0 {
		if bs := ctx.RequestBodyStream(); bs != nil {
			body = g.clientBody(ctx, bs)
			if !bits {
				body.limit = limit
			}
			ctx.Request.SetBodyStream(body, n)
		}
	}
	do := up.Do
	if g.isTransfer(ctx) {
		do = up.Transfer
	}
	if err := do(&ctx.Request, &ctx.Response, rt.Template); err != nil {
		if body != nil && body.fault != nil {
			// The client's body, not the upstream, failed the request;
			// what is left of it is not read as a next request.
			ctx.SetConnectionClose()
			return body.fault
		}
		return err
	}
	stripHopHeaders(&ctx.Response.Header)
	return nil
}

// errClientGone marks a failure to read the client's request body: the
// client went away or stalled past the read timeout.
var errClientGone = errors.New("proxy: the client went away")

// clientBody reads the client's body on its way upstream and marks its
// own read errors, so the failure table can answer 499 for them; fault
// keeps the client's own fault in a failed read (a stall, 408; broken
// chunked framing, 400; more than limit bytes when limit is set, 413),
// which is answered instead (bodyFault). While the body keeps coming it
// moves the connection's read deadline on, so server.read_timeout bounds a
// stall, not a long upload (the server sets the deadline once per
// request).
type clientBody struct {
	r        io.Reader
	conn     net.Conn
	idle     time.Duration
	extended time.Time
	fault    *Error
	limit    int
	read     int
}

// clientBody wraps the request body stream r of ctx.
func (g *Gateway) clientBody(ctx *fasthttp.RequestCtx, r io.Reader) *clientBody {
	return &clientBody{r: r, conn: ctx.Conn(), idle: g.cfg.Server.ReadTimeout}
}

func (c *clientBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.read += n; c.limit > 0 && c.read > c.limit {
		c.fault = errBodyTooLarge(c.limit)
		return n, c.fault
	}
	if n > 0 && c.conn != nil && c.idle > 0 {
		// At most every tenth of the timeout: a deadline per read costs.
		if now := time.Now(); now.Sub(c.extended) > c.idle/10 {
			_ = c.conn.SetReadDeadline(now.Add(c.idle))
			c.extended = now
		}
	}
	if err != nil && err != io.EOF {
		cause := fmt.Errorf("%w: %w", errClientGone, err)
		if c.fault = bodyFault(err); c.fault != nil {
			c.fault.Cause = cause
			return n, c.fault
		}
		err = cause
	}
	return n, err
}

// isTransfer tells a request that moves bits (a package or droplet upload
// or download, or a body larger than the gateway buffers, or chunked) from
// an API call.
func (g *Gateway) isTransfer(ctx *fasthttp.RequestCtx) bool {
	if isBits(ctx.Path()) {
		return true
	}
	n := ctx.Request.Header.ContentLength()
	return n == -1 || n > g.cfg.Server.MaxRequestBodyBytes // -1: chunked
}

// isBits tells the paths that move bits, whose bodies may be of any size:
// v3's package, droplet and buildpack uploads and downloads, and v2's
// .../bits (a v2 path passed through).
func isBits(path []byte) bool {
	return bytes.HasSuffix(path, []byte("/upload")) || bytes.HasSuffix(path, []byte("/download")) ||
		bytes.HasSuffix(path, []byte("/bits"))
}

// prepareUpstreamRequest strips hop-by-hop headers and the client's own
// X-Forwarded-* (a client must not choose what the upstream believes about
// it), then says who the client is.
func (g *Gateway) prepareUpstreamRequest(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	for _, name := range connectionTokens(h.Peek("Connection")) {
		// The fields Connection names go no further (RFC 9110 §7.6.1).
		// Content-Length and Transfer-Encoding frame this hop's body, and
		// the gateway frames the next hop's itself from the body it
		// forwards (forward's SetBodyStream): deleting them here would
		// drop the body's length and send a body no header announces.
		if !strings.EqualFold(name, fasthttp.HeaderContentLength) && !strings.EqualFold(name, fasthttp.HeaderTransferEncoding) {
			h.Del(name)
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	var forwarded []string
	for k := range h.All() {
		if len(k) > 12 && strings.EqualFold(string(k[:12]), "X-Forwarded-") {
			forwarded = append(forwarded, string(k))
		}
	}
	for _, k := range forwarded {
		h.Del(k)
	}
	h.Set("X-Forwarded-For", ctx.RemoteIP().String())
	// The origin the client should see in the upstream's links: the
	// configured external URL, else the one it used.
	if u := g.external; u != nil {
		h.Set("X-Forwarded-Proto", u.Scheme)
		h.Set("X-Forwarded-Host", u.Host)
		return
	}
	h.Set("X-Forwarded-Proto", g.scheme(ctx))
	h.SetBytesV("X-Forwarded-Host", ctx.Host())
}

// stripHopHeaders removes the hop-by-hop fields of an upstream's answer.
// The upstream client keeps field names as the upstream spelt them
// (DisableHeaderNamesNormalizing), so names are matched without regard to
// case (RFC 9110 §5.1): "keep-alive" is as hop-by-hop as "Keep-Alive".
func stripHopHeaders(h *fasthttp.ResponseHeader) {
	var named []string
	for k, v := range h.All() {
		if bytes.EqualFold(k, []byte("Connection")) {
			named = append(named, connectionTokens(v)...)
		}
	}
	var drop []string
	for k := range h.All() {
		if isHopHeader(k, named) {
			drop = append(drop, string(k))
		}
	}
	for _, k := range drop {
		h.Del(k)
	}
}

func isHopHeader(k []byte, named []string) bool {
	for _, name := range hopHeaders {
		if name != "Transfer-Encoding" && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) { // fasthttp frames the body itself
			return true
		}
	}
	for _, name := range named {
		if len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return true
		}
	}
	return false
}

// connectionTokens lists the headers a Connection header names.
func connectionTokens(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
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
