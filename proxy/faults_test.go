package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/configs"
	"capibridge/metrics"
)

// tcpHop forwards TCP connections to target, and can be restarted on the
// same port: a restart closes every connection through it, as a Cloud
// Controller (or the router in front of it) that restarts closes them.
type tcpHop struct {
	t      testing.TB
	addr   string
	target string
	// tls, when set, terminates TLS in front of the plain target.
	tls *tls.Config

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startTCPHop(t testing.TB, target string, tlsConfig *tls.Config) *tcpHop {
	t.Helper()
	h := &tcpHop{t: t, target: target, tls: tlsConfig, conns: map[net.Conn]bool{}}
	h.listen("127.0.0.1:0")
	h.addr = h.ln.Addr().String()
	t.Cleanup(func() {
		h.stop()
		h.wg.Wait()
	})
	return h
}

func (h *tcpHop) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if h.tls != nil {
				c = tls.Server(c, h.tls)
			}
			u, err := net.Dial("tcp", h.target)
			if err != nil {
				c.Close()
				continue
			}
			h.mu.Lock()
			h.conns[c], h.conns[u] = true, true
			h.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer h.wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
				h.mu.Lock()
				delete(h.conns, dst)
				delete(h.conns, src)
				h.mu.Unlock()
			}
			h.wg.Add(2)
			go pipe(c, u)
			go pipe(u, c)
		}
	}()
}

// stop closes the listener and every connection through the hop.
func (h *tcpHop) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ln.Close()
	for c := range h.conns {
		c.Close()
	}
}

// restart is stop, then listening again on the same address.
func (h *tcpHop) restart() {
	h.stop()
	h.listen(h.addr)
}

// TestUpstreamRestartLosesNoRequest: after the Cloud Controller restarts,
// every pooled connection of the gateway is closed at the other end. A
// request about to be written on one has sent nothing, so it goes again
// on a new connection whatever its method: 20 v2 creates and 10 v3 reads
// right after the restart all succeed, and each create made one app.
func TestUpstreamRestartLosesNoRequest(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	cert, key, err := fasthttp.GenerateTestCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scheme string
		tls    *tls.Config
	}{
		{"http", nil},
		{"https", &tls.Config{Certificates: []tls.Certificate{pair}}},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			t.Parallel()
			hop := startTCPHop(t, strings.TrimPrefix(s.cfURL, "http://"), tc.tls)
			g := s.gatewayFor(t, tc.scheme+"://"+hop.addr, func(c *configs.Config) { c.UpstreamClient.InsecureSkipVerify = true })

			// Fill the pool with idle connections.
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := g.do("GET", g.gwURL+"/v3/apps", "developer", nil); r.status != 200 {
						t.Errorf("before the restart: %d %s", r.status, r.body)
					}
				}()
			}
			wg.Wait()
			hop.restart()

			var failed []string
			for i := range 20 {
				body := fmt.Sprintf(`{"name":"after-restart-%s-%d","space_guid":%q}`, tc.scheme, i, backend.DemoSpaceGUID)
				if r := g.do("POST", g.gwURL+"/v2/apps", "developer", []byte(body)); r.status != 201 {
					failed = append(failed, fmt.Sprintf("POST /v2/apps #%d: %d %s", i, r.status, r.body))
				}
			}
			for i := range 10 {
				if r := g.do("GET", g.gwURL+"/v3/apps", "developer", nil); r.status != 200 {
					failed = append(failed, fmt.Sprintf("GET /v3/apps #%d: %d %s", i, r.status, r.body))
				}
			}
			if len(failed) > 0 {
				t.Errorf("%d of 30 requests failed after the restart:\n%s", len(failed), strings.Join(failed, "\n"))
			}
			for i := range 20 {
				if n := s.appsNamed(t, fmt.Sprintf("after-restart-%s-%d", tc.scheme, i)); n != 1 {
					t.Errorf("%d apps named after-restart-%s-%d, want 1", n, tc.scheme, i)
				}
			}
			if got := testutil.ToFloat64(g.m.UpstreamRetries.WithLabelValues(metrics.RetryIdleClosed)); got < 1 {
				t.Errorf("capibridge_upstream_retries_total{reason=%q} = %v, want at least 1", metrics.RetryIdleClosed, got)
			}
		})
	}
}

// TestUpstreamRestartStreamedBody: a streamed (chunked) upload about to be
// written on a pooled connection the upstream closed is sent on a new one:
// nothing of its body had been read yet.
func TestUpstreamRestartStreamedBody(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	hop := startTCPHop(t, strings.TrimPrefix(s.cfURL, "http://"), nil)
	g := s.gatewayFor(t, "http://"+hop.addr, nil)
	if r := g.do("GET", g.gwURL+"/v3/apps", "developer", nil); r.status != 200 {
		t.Fatalf("before the restart: %d %s", r.status, r.body)
	}
	hop.restart()

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(g.gwURL + "/v3/apps")
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	req.Header.SetContentType("application/json")
	body := fmt.Sprintf(`{"name":"streamed-after-restart","relationships":{"space":{"data":{"guid":%q}}}}`, backend.DemoSpaceGUID)
	req.SetBodyStream(strings.NewReader(body), -1) // chunked: the gateway streams it
	if err := s.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 201 {
		t.Errorf("chunked POST /v3/apps after the restart: %d %s", resp.StatusCode(), resp.Body())
	}
	if n := s.appsNamed(t, "streamed-after-restart"); n != 1 {
		t.Errorf("%d apps made, want 1", n)
	}
}

// TestKeepAliveRaceRetriesOnlySafeMethods: an upstream that closes a
// reused connection after reading a request, without answering, may or
// may not have acted on it. A GET is sent again on a new connection; a
// POST is not (Go's net/http transport draws the same line:
// a request is replayed after its bytes were written only when its
// method is safe).
func TestKeepAliveRaceRetriesOnlySafeMethods(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	cases := []struct {
		method   string
		status   int
		attempts int64
	}{
		{"GET", 200, 3},
		{"POST", 502, 2},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			up := startSecondDropper(t)
			g := s.gatewayFor(t, "http://"+up.addr, nil)
			if r := g.do("GET", g.gwURL+"/v3/apps", "developer", nil); r.status != 200 {
				t.Fatalf("first request: %d %s", r.status, r.body)
			}
			var body []byte
			if tc.method == "POST" {
				body = []byte(`{}`)
			}
			r := g.do(tc.method, g.gwURL+"/v3/apps", "developer", body)
			if r.status != tc.status {
				t.Errorf("%s on the reused connection: %d %s, want %d", tc.method, r.status, r.body, tc.status)
			}
			if got := up.requests.Load(); got != tc.attempts {
				t.Errorf("the upstream saw %d requests, want %d", got, tc.attempts)
			}
		})
	}
}

// secondDropper is an upstream that answers the first request of every
// connection and reads the second, then closes without answering, as an
// upstream whose keep-alive timeout struck just as the request came.
type secondDropper struct {
	addr     string
	requests atomic.Int64
}

func startSecondDropper(t *testing.T) *secondDropper {
	t.Helper()
	ln := listen(t)
	d := &secondDropper{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := readMessage(br); err != nil {
						return
					}
					d.requests.Add(1)
					if n == 2 {
						return
					}
					if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return d
}

// gatedHop forwards to the embedded CF and holds every request carrying
// token until open is closed; held counts those that arrived.
func (s *stack) gatedHop(t *testing.T, token string) (url string, held *atomic.Int32, open func()) {
	t.Helper()
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://"), MaxConns: 1024}
	gate := make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	held = new(atomic.Int32)
	url = startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if strings.HasSuffix(string(ctx.Request.Header.Peek("Authorization")), token) {
			held.Add(1)
			<-gate
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	return url, held, open
}

// TestOneIdentityFloodLeavesOthersServed: one user's parallel requests
// take at most upstream_client.identity_max_conns of the upstream
// connections; the rest of theirs wait for those, and another user is
// served at once all along. Nobody gets a 502.
func TestOneIdentityFloodLeavesOthersServed(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	hop, held, open := s.gatedHop(t, s.tokens["developer"])
	const pool, share, flood = 4, 2, 16
	g := s.gatewayFor(t, hop, func(c *configs.Config) {
		c.UpstreamClient.MaxConns = pool
		c.UpstreamClient.MaxConnWait = 0 // others must be served at once, not after the flood
		c.UpstreamClient.IdentityMaxConns = share
		c.UpstreamClient.IdentityWait = time.Minute
	})
	statuses := make(chan int, flood)
	for range flood {
		go func() { statuses <- g.do("GET", g.gwURL+"/v3/apps", "developer", nil).status }()
	}
	// The flood has taken what it can: the whole pool without a share, or
	// its share with the rest waiting.
	waitFor(t, "the flood to take its connections", func() bool {
		return held.Load() == pool || held.Load() == share && testutil.ToFloat64(g.m.IdentityWaiting) == flood-share
	})
	other := map[int]int{}
	for range 20 {
		other[g.do("GET", g.gwURL+"/v3/apps", "auditor", nil).status]++
	}
	if other[200] != 20 {
		t.Errorf("another user during the flood: statuses %v, want 20 x 200", other)
	}
	open()
	flooder := map[int]int{}
	for range flood {
		flooder[<-statuses]++
	}
	if flooder[200] != flood {
		t.Errorf("the flooding user: statuses %v, want %d x 200 (queued, not refused)", flooder, flood)
	}
	if got := testutil.ToFloat64(g.m.IdentityLimited.WithLabelValues(metrics.LimitQueued)); got != flood-share {
		t.Errorf("capibridge_upstream_identity_limited_total{result=queued} = %v, want %d", got, flood-share)
	}
}

// TestIdentityOverShareIs429: with no time to wait, a request over its
// identity's share is answered as the Cloud Controller's rate limiter
// answers, 429 RateLimitExceeded with Retry-After, in the shape of its
// path; another user is served.
func TestIdentityOverShareIs429(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	hop, held, open := s.gatedHop(t, s.tokens["developer"])
	g := s.gatewayFor(t, hop, func(c *configs.Config) {
		c.UpstreamClient.MaxConns = 4
		c.UpstreamClient.IdentityMaxConns = 1
		c.UpstreamClient.IdentityWait = 0
	})
	first := make(chan int, 1)
	go func() { first <- g.do("GET", g.gwURL+"/v3/apps", "developer", nil).status }()
	waitFor(t, "the first request to be held", func() bool { return held.Load() == 1 })
	cases := []struct {
		path, body string
	}{
		{"/v3/apps", `{"errors":[{"detail":"Rate Limit Exceeded","title":"CF-RateLimitExceeded","code":10013}]}`},
		{"/v2/apps", `{"description":"Rate Limit Exceeded","error_code":"CF-RateLimitExceeded","code":10013}` + "\n"},
	}
	for _, tc := range cases {
		r := g.do("GET", g.gwURL+tc.path, "developer", nil)
		if r.status != 429 || string(r.body) != tc.body {
			t.Errorf("%s over the share: %d %s\nwant 429 %s", tc.path, r.status, r.body, tc.body)
		}
		if ra := string(r.header.Peek("Retry-After")); ra != "1" {
			t.Errorf("%s: Retry-After %q, want 1", tc.path, ra)
		}
	}
	if r := g.do("GET", g.gwURL+"/v3/apps", "auditor", nil); r.status != 200 {
		t.Errorf("another user: %d %s", r.status, r.body)
	}
	open()
	if st := <-first; st != 200 {
		t.Errorf("the held request: %d", st)
	}
	// One for the v3 request; the v2 list's first round sends several.
	if got := testutil.ToFloat64(g.m.IdentityLimited.WithLabelValues(metrics.LimitRefused)); got < 2 {
		t.Errorf("capibridge_upstream_identity_limited_total{result=refused} = %v, want at least 2", got)
	}
}

// TestFullPoolQueues: with every upstream connection busy, a request waits
// up to upstream_client.max_conn_wait for one instead of failing at once;
// past it, 503 with Retry-After.
func TestFullPoolQueues(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	t.Run("served after waiting", func(t *testing.T) {
		t.Parallel()
		hop, held, open := s.gatedHop(t, s.tokens["developer"])
		g := s.gatewayFor(t, hop, func(c *configs.Config) {
			c.UpstreamClient.MaxConns = 2
			c.UpstreamClient.IdentityMaxConns = 0
			c.UpstreamClient.MaxConnWait = time.Minute
		})
		busy := make(chan int, 2)
		for range 2 {
			go func() { busy <- g.do("GET", g.gwURL+"/v3/apps", "developer", nil).status }()
		}
		waitFor(t, "the pool to fill", func() bool { return held.Load() == 2 })
		waiting := make(chan reply, 1)
		go func() { waiting <- g.do("GET", g.gwURL+"/v3/apps", "auditor", nil) }()
		// A request refused at once shows before the pool frees up.
		select {
		case r := <-waiting:
			t.Fatalf("with the pool full: %d %s before any connection was free", r.status, r.body)
		case <-time.After(200 * time.Millisecond):
		}
		open()
		if r := <-waiting; r.status != 200 {
			t.Errorf("the queued request: %d %s", r.status, r.body)
		}
		for range 2 {
			if st := <-busy; st != 200 {
				t.Errorf("a request that held the pool: %d", st)
			}
		}
	})
	t.Run("refused past the wait", func(t *testing.T) {
		t.Parallel()
		hop, held, open := s.gatedHop(t, s.tokens["developer"])
		g := s.gatewayFor(t, hop, func(c *configs.Config) {
			c.UpstreamClient.MaxConns = 1
			c.UpstreamClient.IdentityMaxConns = 0
			c.UpstreamClient.MaxConnWait = time.Millisecond
		})
		busy := make(chan int, 1)
		go func() { busy <- g.do("GET", g.gwURL+"/v3/apps", "developer", nil).status }()
		waitFor(t, "the pool to fill", func() bool { return held.Load() == 1 })
		r := g.do("GET", g.gwURL+"/v3/apps", "auditor", nil)
		want := `{"errors":[{"detail":"Too many requests to the Cloud Controller in flight","title":"CF-ServiceUnavailable","code":10015}]}`
		if r.status != 503 || string(r.body) != want {
			t.Errorf("with the pool full past the wait: %d %s\nwant 503 %s", r.status, r.body, want)
		}
		if ra := string(r.header.Peek("Retry-After")); ra != "1" {
			t.Errorf("Retry-After %q, want 1", ra)
		}
		if got := testutil.ToFloat64(g.m.UpstreamRequests.WithLabelValues("/v3/apps", metrics.OutcomePoolFull)); got != 1 {
			t.Errorf("upstream requests with outcome pool_full = %v, want 1", got)
		}
		open()
		if st := <-busy; st != 200 {
			t.Errorf("the request that held the pool: %d", st)
		}
	})
}
