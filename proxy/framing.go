package proxy

import (
	"bytes"
	"errors"
	"net"

	"github.com/valyala/fasthttp"
)

// checkFraming refuses a request whose body framing a proxy must not pass
// on, before anything reads or forwards its body, and closes the
// connection after the answer: whatever follows the head on it may be a
// second request hidden in a body the next hop would frame otherwise
// (request smuggling). fasthttp refuses most of these while it parses
// (serverError answers them); what it lets through is checked here from
// the head as it came: it drops "Transfer-Encoding: identity" and reads
// such a request as having no body, and it takes chunked over a
// Content-Length sent beside it.
func (g *Gateway) checkFraming(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if reason := framingFault(ctx.Request.Header.RawHeaders()); reason != "" {
			ctx.SetConnectionClose()
			writeError(ctx, errBadRequest(reason), isV2(ctx))
			return
		}
		next(ctx)
	}
}

// framingFault says what is wrong with the body framing of a request head
// (its header fields as they came, without the request line), or "" when
// nothing is. RFC 9112 §6.3: a Transfer-Encoding whose last coding is not
// chunked leaves the length unknown (400, then close: item 4), and one
// beside a Content-Length "ought to be handled as an error" (item 3); the
// gateway refuses it rather than forward it without the Content-Length,
// as Envoy does by default. The only coding the gateway applies is chunked
// (§6.1: a coding the server does not understand is refused; "identity" is
// no longer a transfer coding at all, RFC 9112 §7).
func framingFault(head []byte) string {
	var (
		codings     [][]byte
		te, inTE    bool
		contentLen  bool
		line, value []byte
		name        []byte
		found, cont bool
	)
	for len(head) > 0 {
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		// A line that starts with white space continues the field before
		// it (obs-fold, RFC 9112 §5.2).
		cont = len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		switch {
		case cont && inTE:
			value = line
		case cont:
			continue
		default:
			name, value, found = bytes.Cut(line, []byte(":"))
			if !found {
				continue
			}
			inTE = bytes.EqualFold(bytes.TrimSpace(name), []byte(fasthttp.HeaderTransferEncoding))
			if bytes.EqualFold(bytes.TrimSpace(name), []byte(fasthttp.HeaderContentLength)) {
				contentLen = true
			}
			if !inTE {
				continue
			}
		}
		te = true
		for _, c := range bytes.Split(value, []byte(",")) {
			if c = bytes.TrimSpace(c); len(c) > 0 {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case !te:
		return ""
	case contentLen:
		return "a request must not carry both Transfer-Encoding and Content-Length"
	case len(codings) != 1 || !bytes.EqualFold(codings[0], []byte("chunked")):
		return "the only Transfer-Encoding accepted is chunked"
	}
	return ""
}

// serverError answers a request fasthttp refused while reading it; the
// server closes the connection after it. A fault of the body's framing
// (a transfer coding other than chunked, Transfer-Encoding twice, a
// Content-Length twice or not a number) is a CF-shaped 400 BadRequest, in
// the v2 shape on /v2 paths, as checkFraming answers those fasthttp lets
// through. Anything else is answered as fasthttp's default ErrorHandler
// does.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		writeError(ctx, errBadRequest("the only Transfer-Encoding accepted is chunked, once"), isV2(ctx))
	case errors.Is(err, fasthttp.ErrDuplicateContentLength), errors.Is(err, fasthttp.ErrNonNumericChars):
		writeError(ctx, errBadRequest("the request's Content-Length is not one number"), isV2(ctx))
	default:
		var small *fasthttp.ErrSmallBuffer
		var netErr *net.OpError
		switch {
		case errors.As(err, &small):
			ctx.Error("Too big request header", fasthttp.StatusRequestHeaderFieldsTooLarge)
		case errors.As(err, &netErr) && netErr.Timeout():
			ctx.Error("Request timeout", fasthttp.StatusRequestTimeout)
		default:
			ctx.Error("Error when parsing request", fasthttp.StatusBadRequest)
		}
	}
}
