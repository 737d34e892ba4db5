package proxy

import (
	"capibridge/proxy/cferr"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/valyala/fasthttp"
)

// The answers to requests the gateway will not read or serve as sent. The
// Cloud Controller has no codes of its own for these (its router and nginx
// answer them in plain text), so they are InvalidRequest (errors/v2.yml
// 10004) with the protocol's status, as the upstream's own 414 and 431 are
// (tooLarge), and a description that says what was wrong.
func errTimedOut() *Error {
	return &Error{Status: fasthttp.StatusRequestTimeout, Code: 10004, Name: "InvalidRequest",
		Description: "The request did not arrive in time"}
}

func errBodyTooLarge(limit int) *Error {
	return &Error{Status: fasthttp.StatusRequestEntityTooLarge, Code: 10004, Name: "InvalidRequest",
		Description: "The request body is larger than " + strconv.Itoa(limit) + " bytes"}
}

func errURITooLong() *Error {
	return &Error{Status: fasthttp.StatusRequestURITooLong, Code: 10004, Name: "InvalidRequest",
		Description: "The request URI is too long"}
}

func errHeadersTooLarge() *Error {
	return &Error{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Code: 10004, Name: "InvalidRequest",
		Description: "The request headers are too large"}
}

func errHTTPVersion(proto []byte) *Error {
	return &Error{Status: fasthttp.StatusHTTPVersionNotSupported, Code: 10004, Name: "InvalidRequest",
		Description: "The HTTP version " + strconv.Quote(string(proto)) + " is not supported; use HTTP/1.1"}
}

// checkHead refuses what fasthttp's parser lets through of a request head
// that no server should serve, and closes the connection after the
// answer:
//   - an HTTP major version other than 1: fasthttp serves any HTTP/x.y as
//     HTTP/1.0, so "HTTP/2.0" was answered as if it were (505, RFC 9110
//     §15.6.6; a real HTTP/2 client starts with the PRI preface, which is
//     a parse error);
//   - a field name that is not a token, such as "Bad Name" (400, RFC 9112
//     §5.1, RFC 9110 §5.1): fasthttp keeps it as a field of that name,
//     where a next hop may read the line otherwise;
//   - a line ending in a bare LF in a head that still ended in CRLFCRLF
//     (400; a head of bare LFs only is refused while it is read, see
//     guardedConn.Read).
func (g *Gateway) checkHead(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if e := headFault(ctx.Request.Header.Protocol(), ctx.Request.Header.RawHeaders()); e != nil {
			ctx.SetConnectionClose()
			writeError(ctx, e, isV2(ctx))
			return
		}
		next(ctx)
	}
}

// headFault says what is wrong with a request's protocol version and its
// header fields as they came, or nil.
func headFault(proto, fields []byte) *Error {
	if len(proto) < 6 || proto[5] != '1' {
		return errHTTPVersion(proto)
	}
	for len(fields) > 0 {
		var line []byte
		i := 0
		for i < len(fields) && fields[i] != '\n' {
			i++
		}
		if i < len(fields) && (i == 0 || fields[i-1] != '\r') {
			return cferr.BadRequest("the lines of a request head must end in CRLF")
		}
		line, fields = fields[:i], fields[min(i+1, len(fields)):]
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '\r' {
			continue // the blank line, or a folded continuation
		}
		for _, c := range line {
			if c == ':' {
				break
			}
			if !isTokenChar(c) {
				return cferr.BadRequest("a header field name may hold only token characters (RFC 9110 §5.1)")
			}
		}
	}
	return nil
}

// isTokenChar reports a tchar (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// readBody reads a request body whole, up to server.max_request_body_bytes
// (the server streams request bodies, so it does not enforce the limit
// itself); v2 app bodies are small. A body that is, or says it is, larger
// is 413 and the connection is closed after the answer (the rest of the
// body is not read as a next request); one announced larger is refused
// before a byte of it is read.
func (g *Gateway) readBody(ctx *fasthttp.RequestCtx) ([]byte, error) {
	limit := g.cfg.Server.MaxRequestBodyBytes
	if n := ctx.Request.Header.ContentLength(); n > limit {
		ctx.SetConnectionClose()
		return nil, errBodyTooLarge(limit)
	}
	bs := ctx.RequestBodyStream()
	if bs == nil {
		return ctx.Request.Body(), nil
	}
	b, err := io.ReadAll(io.LimitReader(bs, int64(limit)+1))
	if err != nil {
		ctx.SetConnectionClose()
		if e := bodyFault(err); e != nil {
			e.Cause = err
			return nil, e
		}
		return nil, &Error{Status: 499, Code: 10001, Name: "UnknownError", Description: "The client went away", Cause: fmt.Errorf("%w: %w", errClientGone, err)}
	}
	if len(b) > limit {
		ctx.SetConnectionClose()
		return nil, errBodyTooLarge(limit)
	}
	return b, nil
}

// bodyFault names the client's fault in a failed read of its request body:
// a stall past server.read_timeout is 408, a chunked body whose framing is
// not HTTP's is 400. nil is a client that went away (a closed or reset
// connection, a body cut short), which nobody is left to answer.
func bodyFault(err error) *Error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return errTimedOut()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ne):
		return nil
	}
	// What is left is fasthttp's reading of chunked framing: a size that is
	// not hex, a chunk not ended by CRLF, a malformed trailer.
	return cferr.BadRequest("the request body's chunked framing is malformed")
}
