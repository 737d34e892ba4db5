package proxy

import (
	"bytes"
	"capibridge/proxy/cferr"
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
			writeError(ctx, cferr.BadRequest(reason), isV2(ctx))
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
// server closes the connection after it (lingering, see guardedConn.Close).
// Every answer is CF-shaped, in the v2 shape when the request line, as the
// connection saw it, names a /v2 path (fasthttp has reset the request by
// then):
//   - a fault of the body's framing (a transfer coding other than chunked,
//     Transfer-Encoding twice, a Content-Length twice or not a number) is
//     400 BadRequest, as checkFraming answers those fasthttp lets through;
//   - a head line ending in a bare LF is 400 (guardedConn.Read);
//   - a head larger than the read buffer (server.max_header_bytes) is 414
//     when the request line itself did not fit, else 431;
//   - a head, or the start of a body, that did not arrive within
//     server.read_timeout is 408;
//   - anything else fasthttp could not parse is 400.
//
// Its error texts, which it also logs, name the fault without quoting the
// request (SecureErrorLogMessage: tokens).
func serverError(ctx *fasthttp.RequestCtx, err error) {
	v2 := isV2(ctx)
	head, guarded := headOf(ctx)
	if guarded {
		v2 = head.v2()
	}
	var (
		small  *fasthttp.ErrSmallBuffer
		netErr net.Error
		e      *Error
	)
	switch {
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		e = cferr.BadRequest("the only Transfer-Encoding accepted is chunked, once")
	case errors.Is(err, fasthttp.ErrDuplicateContentLength), errors.Is(err, fasthttp.ErrNonNumericChars):
		e = cferr.BadRequest("the request's Content-Length is not one number")
	case errors.Is(err, errBareLF):
		e = cferr.BadRequest("the lines of a request head must end in CRLF")
	case errors.As(err, &small):
		e = errHeadersTooLarge()
		if guarded && !head.lineDone {
			e = errURITooLong()
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		e = errTimedOut()
	default:
		e = cferr.BadRequest("the request head is not valid HTTP/1.1")
	}
	e.Cause = err
	writeError(ctx, e, v2)
}
