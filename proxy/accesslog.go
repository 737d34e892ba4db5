package proxy

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// The access log: one JSON line per request, with the keys and values the
// slog logger would write for it (time, level, msg, then the request's
// fields), appended by hand into a pooled buffer. slog's JSON handler
// spent a tenth of a cached hit's CPU on the same line
// (BenchmarkAccessLine).

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeAccessLine writes the request's line to the access log.
func (g *Gateway) writeAccessLine(ctx *fasthttp.RequestCtx, start, end time.Time) {
	bp := linePool.Get().(*[]byte)
	b := appendAccessLine((*bp)[:0], ctx, start, end)
	_, _ = g.accessW.Write(b)
	*bp = b
	linePool.Put(bp)
}

// appendAccessLine appends the line of the request ctx served from start
// to end.
func appendAccessLine(b []byte, ctx *fasthttp.RequestCtx, start, end time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = end.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, ctx.Method())
	b = append(b, `,"path":`...)
	b = appendJSONString(b, ctx.Path())
	b = append(b, `,"route":`...)
	if rt := routeOf(ctx); rt != nil {
		b = appendJSONString(b, rt.Template)
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(ctx.Response.StatusCode()), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(end.Sub(start).Microseconds())/1000, 'g', -1, 64)
	b = append(b, `,"remote":"`...)
	if ip, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		b = ip.Unmap().AppendTo(b)
	}
	b = append(b, `","user":`...)
	if id := identityOf(ctx); id != nil {
		b = appendJSONString(b, id.ID())
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, ctx.Request.Header.Peek("X-Vcap-Request-Id"))
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced
// by U+FFFD, as slog and encoding/json do (paths and ids are the client's bytes).
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
			switch {
			case r == utf8.RuneError && n == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				// Valid JSON, but not JavaScript: escaped as slog does.
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
			default:
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
