package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"capibridge/configs"
	"capibridge/metrics"
)

// heldConn is a client connection that has had one answer and stays open.
func heldConn(t testing.TB, addr string, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /v3/info HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	m, err := readMessage(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("no answer on a connection within the caps: %v", err)
	}
	if code := statusOf(t, m); code != 200 {
		t.Fatalf("a connection within the caps: %d %s", code, m.body)
	}
	return c
}

// refusedExchange sends a request on a new connection from local and
// reads the answer.
func refusedExchange(t testing.TB, addr string, local net.Addr, path string) hostileAnswer {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	m, err := readMessage(br)
	if err != nil {
		t.Fatalf("no answer on a refused connection: %v", err)
	}
	a := hostileAnswer{rawMessage: m}
	_, a.end = io.Copy(io.Discard, br)
	if a.end == nil {
		a.end = io.EOF
	}
	return a
}

// TestConnectionCap: past server.max_conns open connections (idle
// keep-alive ones count) a new connection is answered 503
// ServiceUnavailable with Retry-After in the shape of its path and
// closed cleanly, and counted; once one closes, a new one is served.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	s := startStack(t, func(c *configs.Config) { c.Server.MaxConns = 3 })
	var held []net.Conn
	for range 3 {
		held = append(held, heldConn(t, s.gwHost(), nil))
	}
	if got := testutil.ToFloat64(s.m.ConnectionsOpen); got != 3 {
		t.Errorf("connections open = %v, want 3", got)
	}
	for _, tc := range []struct {
		path string
		v2   bool
	}{{"/v2/apps", true}, {"/v3/apps", false}} {
		a := refusedExchange(t, s.gwHost(), nil, tc.path)
		checkRefused(t, a, 503, tc.v2, 10015)
		if a.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q, want 1", a.header.Get("Retry-After"))
		}
	}
	if got := testutil.ToFloat64(s.m.ConnectionsRefused.WithLabelValues(metrics.RefusedMaxConns)); got != 2 {
		t.Errorf("connections refused (max_conns) = %v, want 2", got)
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(s.m.ConnectionsOpen) > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	heldConn(t, s.gwHost(), nil)
}

// TestConnectionCapPerIP: past server.max_conns_per_ip connections from
// one client IP a new one from it is 429 RateLimitExceeded with
// Retry-After; another IP is served meanwhile.
func TestConnectionCapPerIP(t *testing.T) {
	t.Parallel()
	s := startStack(t, func(c *configs.Config) { c.Server.MaxConnsPerIP = 2 })
	one, other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	heldConn(t, s.gwHost(), one)
	heldConn(t, s.gwHost(), one)
	a := refusedExchange(t, s.gwHost(), one, "/v2/apps")
	checkRefused(t, a, 429, true, 10013)
	if a.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", a.header.Get("Retry-After"))
	}
	heldConn(t, s.gwHost(), other)
	if got := testutil.ToFloat64(s.m.ConnectionsRefused.WithLabelValues(metrics.RefusedPerIP)); got != 1 {
		t.Errorf("connections refused (per_ip) = %v, want 1", got)
	}
}

// TestHeadScan follows request heads however they are cut into reads.
func TestHeadScan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, head   string
		bareLF, done bool
		v2           bool
	}{
		{"CRLF", "GET /v2/apps HTTP/1.1\r\nHost: x\r\n\r\n", false, true, true},
		{"v3", "GET /v3/apps HTTP/1.1\r\nHost: x\r\n\r\n", false, true, false},
		{"/v2 alone", "GET /v2 HTTP/1.1\r\n\r\n", false, true, true},
		{"/v2 with a query", "GET /v2?x HTTP/1.1\r\n\r\n", false, true, true},
		{"/v2x is not v2", "GET /v2x HTTP/1.1\r\n\r\n", false, true, false},
		{"absolute form", "GET http://h:1/v2/apps HTTP/1.1\r\n\r\n", false, true, true},
		{"empty lines before the request line", "\r\n\r\nGET /v2/apps HTTP/1.1\r\n\r\n", false, true, true},
		{"bare LF request line", "GET /v2/apps HTTP/1.1\nHost: x\r\n\r\n", true, false, true},
		{"bare LF in a field", "GET /v2/apps HTTP/1.1\r\nHost: x\n\r\n", true, true, true},
		{"bare LF blank line", "GET /v2/apps HTTP/1.1\r\nHost: x\r\n\n", true, true, true},
		{"a CR inside a line", "GET /v2/apps HTTP/1.1\r\nX: a\rb\r\n\r\n", false, true, true},
		{"CR CR LF", "GET /v2/apps HTTP/1.1\r\r\nHost: x\r\n\r\n", false, true, true},
		{"a long field", "GET /v2/apps HTTP/1.1\r\nAuthorization: bearer " + strings.Repeat("x", 1500) + "\r\n\r\n", false, true, true},
		{"a bare LF after a long field", "GET /v2/apps HTTP/1.1\r\nAuthorization: bearer " + strings.Repeat("x", 1500) + "\n\r\n", true, true, true},
		{"cut in the request line", "GET /v2/ap", false, false, true},
		{"a body after the head is not read", "POST /v3/apps HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nb", false, true, false},
	} {
		for _, step := range []int{1, 2, 7, len(tc.head)} {
			var h headScan
			h.start()
			bare := false
			for i := 0; i < len(tc.head) && h.active; i += step {
				bare = h.scan([]byte(tc.head[i:min(i+step, len(tc.head))])) || bare
			}
			if bare != tc.bareLF || h.lineDone != tc.done || h.v2() != tc.v2 {
				t.Errorf("%s, in reads of %d: bare LF %v, request line done %v, v2 %v; want %v %v %v",
					tc.name, step, bare, h.lineDone, h.v2(), tc.bareLF, tc.done, tc.v2)
			}
		}
	}
}

// connListener accepts the connections it is given, then fails.
type connListener struct {
	net.Listener
	conns chan net.Conn
}

func (l connListener) Accept() (net.Conn, error) {
	if c, ok := <-l.conns; ok {
		return c, nil
	}
	return nil, net.ErrClosed
}

// TestGuardedConnKeepsTLS: a guarded TLS connection is still TLS to
// fasthttp (ctx.IsTLS, and so the scheme the upstream is told).
func TestGuardedConnKeepsTLS(t *testing.T) {
	t.Parallel()
	m := metrics.New(prometheus.NewRegistry(), "test")
	cg := newConnGuard(configs.Default().Server, m)
	a, b := net.Pipe()
	defer b.Close()
	conns := make(chan net.Conn, 2)
	conns <- tls.Server(a, &tls.Config{})
	conns <- a
	close(conns)
	ln := cg.listener(connListener{conns: conns})
	for _, wantTLS := range []bool{true, false} {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		_, isTLS := c.(interface {
			Handshake() error
			ConnectionState() tls.ConnectionState
		})
		if isTLS != wantTLS || guardedOf(c) == nil {
			t.Errorf("accepted %T: TLS %v, want %v; guarded %v", c, isTLS, wantTLS, guardedOf(c) != nil)
		}
	}
	if got := testutil.ToFloat64(m.ConnectionsOpen); got != 2 {
		t.Errorf("connections open = %v, want 2", got)
	}
}
