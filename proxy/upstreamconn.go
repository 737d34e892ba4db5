package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/metrics"
)

// Connections to the upstream, and what fasthttp's client does not know
// about them.
//
// Go's net/http transport watches every idle connection with a read loop,
// so it knows when the server closed one (errServerClosedIdle), and it
// sends a request again, whatever its method, when it failed on a reused
// connection before anything was written (nothingWrittenError,
// persistConn.shouldRetryRequest). fasthttp's HostClient does neither: a
// request written into a pooled connection the upstream closed (it
// restarted, or its keep-alive timeout struck) fails, and a retry takes
// the next dead connection from the pool. After a Cloud Controller restart
// that was one 502 per pooled connection.
//
// trackedConn sees each exchange on a connection: just before the first
// byte of a request goes on a connection that carried an earlier one, it
// asks the kernel whether the upstream has closed it (a non-blocking
// peek). If so nothing is written, and upstreamTransport sends the request
// again on a new connection, after closing the pool's other idle
// connections, which a restart closed as well. A request whose bytes were
// written and then met a closed connection is another matter: the
// upstream may have acted on it, so only a GET or HEAD goes again
// (Upstream's RetryIfErr), as net/http replays only such requests.

// idleClosedError is a pooled connection found closed by the upstream at
// the start of a request: nothing of the request was sent.
type idleClosedError struct {
	// bodyUntouched: found before the request was written at all (at its
	// write deadline), so a streamed body has not been read either.
	bodyUntouched bool
}

func (e *idleClosedError) Error() string {
	return "proxy: the upstream had closed the pooled connection; nothing was sent"
}

// Unwrap makes it a connection closed by the peer for the failure table.
func (e *idleClosedError) Unwrap() error { return fasthttp.ErrConnectionClosed }

// connState is where a connection is in its exchanges.
type connState uint8

const (
	connFresh   connState = iota // dialled, nothing sent yet
	connWriting                  // a request is being written
	connReading                  // a response is (or was) being read: the next write starts a new exchange
)

// trackedConn is an upstream connection that knows its exchanges. fasthttp
// hands a connection to one request at a time (the pool's lock orders the
// hand-overs), so its fields need no lock of their own.
type trackedConn struct {
	net.Conn          // what the client reads and writes: TCP, or TLS over it
	raw      net.Conn // the TCP connection under it
	tls      bool
	state    connState
}

// dialTracked dials addr within timeout; with tlsConfig, the connection is
// TLS, its handshake made on the first write as fasthttp makes it. The
// tracking sits above TLS, so that it sees requests and responses, not
// handshake records.
func dialTracked(addr string, timeout time.Duration, tlsConfig *tls.Config) (net.Conn, error) {
	raw, err := fasthttp.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &trackedConn{Conn: raw, raw: raw}
	if tlsConfig != nil {
		c.Conn, c.tls = tls.Client(raw, tlsConfig), true
	}
	return c, nil
}

// Handshake completes a TLS connection's handshake. Its presence tells
// fasthttp that the connection is TLS already (dialAddr).
func (c *trackedConn) Handshake() error {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.Handshake()
	}
	return nil
}

// begin marks the start of a request's exchange at its first write-side
// call; on a connection that carried an earlier exchange it first checks
// that the upstream has not closed it.
func (c *trackedConn) begin(beforeWrite bool) error {
	if c.state == connWriting {
		return nil
	}
	reused := c.state == connReading
	c.state = connWriting
	if reused && c.peerClosed() {
		return &idleClosedError{bodyUntouched: beforeWrite}
	}
	return nil
}

// peekResult is what waits on an idle connection.
type peekResult uint8

const (
	peekNothing peekResult = iota // the connection is open and quiet
	peekClosed                    // the upstream's FIN, or an error such as its RST
	peekBytes                     // bytes nobody asked for
)

// peerClosed reports whether the upstream has closed the idle connection.
// Bytes waiting on an idle plain HTTP connection mean the same: an
// upstream speaks unasked only to say goodbye (a 408 before it closes).
// Over TLS they are most often the close_notify alert before the FIN, but
// may be a session ticket (TLS 1.3 encrypts both alike), so TLS reads
// them: an alert ends in io.EOF, a ticket in nothing more within a
// millisecond.
func (c *trackedConn) peerClosed() bool {
	switch peek(c.raw) {
	case peekClosed:
		return true
	case peekNothing:
		return false
	}
	if !c.tls {
		return true
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	n, err := c.Conn.Read(b[:])
	_ = c.Conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return n > 0 || err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// SetWriteDeadline is what fasthttp's transport calls on a connection
// before it writes a request, and before it reads any of a streamed body:
// an exchange begins here.
func (c *trackedConn) SetWriteDeadline(t time.Time) error {
	if err := c.begin(true); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if err := c.begin(false); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Read(p []byte) (int, error) {
	c.state = connReading
	return c.Conn.Read(p)
}

// upstreamTransport is fasthttp's transport, sending a request once more
// when its pooled connection turned out to be closed before anything was
// written.
type upstreamTransport struct{ m *metrics.Metrics }

// RoundTrip implements fasthttp.RoundTripper.
func (t upstreamTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	retry, err := fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	var closed *idleClosedError
	if err == nil || !errors.As(err, &closed) {
		return retry, err
	}
	// The pool's other idle connections were most likely closed with this
	// one (the upstream restarted): drop them all, so the retry dials.
	hc.CloseIdleConnections()
	if req.IsBodyStream() && !closed.bodyUntouched {
		// Part of the body may sit in the write buffer already.
		return false, err
	}
	t.m.UpstreamRetries.WithLabelValues(metrics.RetryIdleClosed).Inc()
	return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
}

var (
	_ net.Conn              = (*trackedConn)(nil)
	_ fasthttp.RoundTripper = upstreamTransport{}
)
