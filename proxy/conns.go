package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/metrics"
)

// connGuard watches the public listener's connections: it caps how many
// are open, in all and per client IP (server.max_conns,
// server.max_conns_per_ip), answers the excess itself, reads each request
// head as it arrives for what fasthttp's parser does not tell (a bare LF,
// where the request line ended, whether the path is a v2 one), and closes
// a connection the server gives up in the middle of a request only once
// the client has had its answer.
//
// fasthttp has caps of its own (Server.Concurrency, MaxConnsPerIP), but it
// refuses from its accept loop with a plain-text body and closes without
// reading what the client sent, which resets the connection under the
// answer: the guard refuses in the Cloud Controller's shape instead.
type connGuard struct {
	max, perIP int
	m          *metrics.Metrics
	open       atomic.Int64
	mu         sync.Mutex
	byIP       map[netip.Addr]int
	// spare bounds the goroutines that answer refused connections and
	// linger over closing ones; past it a connection is closed at once.
	spare chan struct{}
}

const (
	// lingerers bounds connGuard.spare.
	lingerers = 512
	// refuseWait is how long a refused connection's request line is waited
	// for, to answer in the shape of its path.
	refuseWait = time.Second
	// lingerTime and lingerBytes bound what is read and dropped after the
	// last answer on a connection the server closes mid-request, so that
	// the client reads the answer rather than a reset (nginx's
	// lingering_close; RFC 9112 §9.6: a server that closes while the client
	// may still be sending ought to close its sending half first and keep
	// reading).
	lingerTime  = 5 * time.Second
	lingerBytes = 32 << 20
)

func newConnGuard(s configs.Server, m *metrics.Metrics) *connGuard {
	for _, r := range []string{metrics.RefusedMaxConns, metrics.RefusedPerIP} {
		m.ConnectionsRefused.WithLabelValues(r)
	}
	return &connGuard{max: s.MaxConns, perIP: s.MaxConnsPerIP, m: m, byIP: map[netip.Addr]int{}, spare: make(chan struct{}, lingerers)}
}

// listener wraps ln so that its connections are guarded.
func (cg *connGuard) listener(ln net.Listener) net.Listener {
	return &guardedListener{Listener: ln, cg: cg}
}

type guardedListener struct {
	net.Listener
	cg *connGuard
}

// Accept returns the next connection within the caps; the others are
// answered and closed on the way.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		reason := l.cg.admit(ip)
		if reason == "" {
			gc := &guardedConn{Conn: c, cg: l.cg, ip: ip}
			if tc, ok := c.(tlsConn); ok {
				// fasthttp tells TLS (ctx.IsTLS, the scheme forwarded
				// upstream) by these methods.
				return guardedTLSConn{guardedConn: gc, tls: tc}, nil
			}
			return gc, nil
		}
		l.cg.m.ConnectionsRefused.WithLabelValues(reason).Inc()
		l.cg.refuse(c, reason)
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// admit counts a new connection in, or says why it may not be.
func (cg *connGuard) admit(ip netip.Addr) string {
	if n := cg.open.Add(1); cg.max > 0 && n > int64(cg.max) {
		cg.open.Add(-1)
		return metrics.RefusedMaxConns
	}
	if cg.perIP > 0 && ip.IsValid() {
		cg.mu.Lock()
		if cg.byIP[ip] >= cg.perIP {
			cg.mu.Unlock()
			cg.open.Add(-1)
			return metrics.RefusedPerIP
		}
		cg.byIP[ip]++
		cg.mu.Unlock()
	}
	cg.m.ConnectionsOpen.Inc()
	return ""
}

// release counts a connection out.
func (cg *connGuard) release(ip netip.Addr) {
	cg.open.Add(-1)
	cg.m.ConnectionsOpen.Dec()
	if cg.perIP > 0 && ip.IsValid() {
		cg.mu.Lock()
		if cg.byIP[ip]--; cg.byIP[ip] <= 0 {
			delete(cg.byIP, ip)
		}
		cg.mu.Unlock()
	}
}

// refuse answers a connection over a cap: 503 ServiceUnavailable past
// server.max_conns, 429 RateLimitExceeded past server.max_conns_per_ip,
// both with Retry-After and in the shape of the request's path when its
// request line comes within refuseWait, then closes it. While many are
// being refused at once the excess is closed without an answer.
func (cg *connGuard) refuse(c net.Conn, reason string) {
	select {
	case cg.spare <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-cg.spare }()
		var head headScan
		head.start()
		buf := make([]byte, 1024)
		_ = c.SetReadDeadline(time.Now().Add(refuseWait))
		if n, _ := c.Read(buf); n > 0 {
			head.scan(buf[:n])
		}
		e := &Error{Status: fasthttp.StatusServiceUnavailable, Code: 10015, Name: "ServiceUnavailable",
			Description: "The gateway has too many open connections; try again later"}
		if reason == metrics.RefusedPerIP {
			e = &Error{Status: fasthttp.StatusTooManyRequests, Code: 10013, Name: "RateLimitExceeded", Description: "Rate Limit Exceeded"}
		}
		var ctx fasthttp.RequestCtx
		writeError(&ctx, e, head.v2())
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		ctx.Response.SetConnectionClose()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := ctx.Response.WriteTo(c); err == nil {
			linger(c)
			return
		}
		_ = c.Close()
	}()
}

// lingerClose closes c once the client has stopped sending, at most
// lingerTime from now, in the background.
func (cg *connGuard) lingerClose(c net.Conn) error {
	select {
	case cg.spare <- struct{}{}:
	default:
		return c.Close()
	}
	go func() {
		defer func() { <-cg.spare }()
		linger(c)
	}()
	return nil
}

// linger closes c's sending half, so that the client sees the end of
// what it was sent, reads and drops what it still sends until it closes
// (or lingerTime or lingerBytes pass), then closes c: a socket closed with
// unread bytes sends a reset, which can destroy the answer before the
// client has read it.
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, lingerBytes)
	_ = c.Close()
}

// guardedConn is a connection of the public listener. Its head is read by
// the goroutine serving the connection only (Read, the ConnState hook and
// the server's ErrorHandler).
type guardedConn struct {
	net.Conn
	cg     *connGuard
	ip     netip.Addr
	head   headScan
	idle   atomic.Bool
	closed atomic.Bool
	// serving is true from a request's first byte until its answer's
	// last is written (ConnState active, then idle or closed).
	serving atomic.Bool
}

// tlsConn is what fasthttp asks of a connection to call it TLS.
type tlsConn interface {
	Handshake() error
	ConnectionState() tls.ConnectionState
}

// guardedTLSConn is a guardedConn over TLS.
type guardedTLSConn struct {
	*guardedConn
	tls tlsConn
}

// Handshake runs the TLS handshake.
func (c guardedTLSConn) Handshake() error { return c.tls.Handshake() }

// ConnectionState describes the TLS connection.
func (c guardedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// guardedOf is c's guardedConn, nil for a connection that is not guarded.
func guardedOf(c net.Conn) *guardedConn {
	switch gc := c.(type) {
	case *guardedConn:
		return gc
	case guardedTLSConn:
		return gc.guardedConn
	}
	return nil
}

// errBareLF is a request head with a line ending in LF alone.
var errBareLF = errors.New("proxy: a request head line ends in a bare LF")

// Read reads from the client and, while a request head is coming, looks
// at it: a line ending in a bare LF fails the read, so that the server
// answers at once. fasthttp waits for a CRLFCRLF to end such a head (so
// that a next hop that takes only CRLF cannot frame the stream another
// way) and so would wait out server.read_timeout in silence.
func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.head.active && n > 0 && c.head.scan(p[:n]) && err == nil {
		err = errBareLF
	}
	return n, err
}

// Close counts the connection out and closes it; one the server gives up
// while a request is under way (an error, a refusal with Connection:
// close) is lingered over first.
func (c *guardedConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cg.release(c.ip)
	if !c.idle.Load() {
		return c.cg.lingerClose(c.Conn)
	}
	return c.Conn.Close()
}

// connState is the public server's ConnState hook: a connection that is
// new or done with its request waits for a request head. In shadow mode
// it also counts the connections serving a request, from its first byte
// to its answer's last, which shadow comparisons yield to (shadow.go).
func (g *Gateway) connState(c net.Conn, s fasthttp.ConnState) {
	gc := guardedOf(c)
	if gc == nil {
		return
	}
	switch s {
	case fasthttp.StateNew, fasthttp.StateIdle:
		gc.head.start()
		gc.idle.Store(s == fasthttp.StateIdle)
	case fasthttp.StateActive:
		gc.idle.Store(false)
	}
	if g.shadow == nil {
		return
	}
	switch s {
	case fasthttp.StateActive:
		if gc.serving.CompareAndSwap(false, true) {
			g.shadow.load.enter()
		}
	case fasthttp.StateIdle, fasthttp.StateClosed, fasthttp.StateHijacked:
		if gc.serving.CompareAndSwap(true, false) {
			g.shadow.load.leave()
		}
	}
}

// headOf is what the connection of ctx saw of the request head, for the
// answers given before (or without) a parsed request; ok is false for a
// connection that is not guarded.
func headOf(ctx *fasthttp.RequestCtx) (h *headScan, ok bool) {
	if gc := guardedOf(ctx.Conn()); gc != nil {
		return &gc.head, true
	}
	return nil, false
}

// headScan follows a request head as it arrives: the line ends, and the
// first bytes of the request line.
type headScan struct {
	active bool
	// lineDone is set once the request line has ended.
	lineDone bool
	// lineLen is the length of the current line so far, a trailing CR
	// aside; cr is set when the last byte was a CR.
	lineLen int
	cr      bool
	// line holds the start of the request line, n bytes of it.
	line [256]byte
	n    int
}

// start waits for a new request head.
func (h *headScan) start() { *h = headScan{active: true} }

// scan follows the next bytes of a head. It reports a line that ends in a
// bare LF, and stops following at the blank line that ends the head. It
// goes from line end to line end (bytes.IndexByte), not byte by byte: it
// runs on every read of every request.
func (h *headScan) scan(b []byte) (bareLF bool) {
	for len(b) > 0 {
		seg, rest, found := bytes.Cut(b, []byte{'\n'})
		if len(seg) > 0 {
			// A CR counts as the line's content unless it ends the line;
			// one pending from the last read is followed by more here.
			if h.cr {
				h.lineLen++
			}
			h.cr = seg[len(seg)-1] == '\r'
			h.lineLen += len(seg)
			if h.cr {
				h.lineLen--
			}
			if !h.lineDone {
				for _, c := range seg {
					if c != '\r' && h.n < len(h.line) {
						h.line[h.n] = c
						h.n++
					}
				}
			}
		}
		if !found {
			return false
		}
		if !h.cr {
			h.active = false
			return true
		}
		empty := h.lineLen == 0
		h.lineLen, h.cr = 0, false
		switch {
		case !h.lineDone && !empty:
			h.lineDone = true
		case h.lineDone && empty:
			h.active = false
			return false
		}
		// Empty lines before the request line are ignored (RFC 9112 §2.2).
		b = rest
	}
	return false
}

// v2 reports whether the request line's target is a /v2 path (origin or
// absolute form), as far as it came.
func (h *headScan) v2() bool {
	line := h.line[:h.n]
	_, target, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return false
	}
	if i := bytes.Index(target, []byte("://")); i >= 0 && bytes.IndexByte(target[:i], '/') < 0 {
		rest := target[i+3:]
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			return false
		}
		target = rest[j:]
	}
	if !bytes.HasPrefix(target, []byte("/v2")) {
		return false
	}
	return len(target) == 3 || strings.IndexByte("/? ", target[3]) >= 0
}
