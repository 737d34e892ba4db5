package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http/httputil"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/metrics"
	"capibridge/proxy/auth"
)

// gatewayFor starts another gateway, in front of upstream, whose tokens are
// the stack's: it verifies them with the embedded CF's key, as startStack's
// gateway does. The returned stack reports failures to t.
func (s *stack) gatewayFor(t testing.TB, upstream string, mutate func(*configs.Config)) *stack {
	t.Helper()
	g := s.with(t)
	cfg := testGatewayConfig()
	cfg.Upstream = upstream
	if mutate != nil {
		mutate(&cfg)
	}
	g.startGateway(cfg, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	return g
}

// with is the stack reporting to t, for subtests.
func (s *stack) with(t testing.TB) *stack {
	c := *s
	c.t = t
	return &c
}

func (s *stack) gwHost() string { return strings.TrimPrefix(s.gwURL, "http://") }

// startFastUpstream serves srv on a loopback port until the test ends and
// returns its URL.
func startFastUpstream(t testing.TB, srv *fasthttp.Server) string {
	t.Helper()
	ln := listen(t)
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	return "http://" + ln.Addr().String()
}

// rawMessage is one HTTP/1.1 message as it crossed the wire: the start
// line, the header fields (textproto canonicalises names, so lookups ignore
// the sender's case but every field sent is there) and the body.
type rawMessage struct {
	line   string
	header textproto.MIMEHeader
	body   []byte
}

// readMessage reads one message from br; the body is framed by
// Content-Length or chunked, and absent otherwise.
func readMessage(br *bufio.Reader) (rawMessage, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return rawMessage{}, err
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return rawMessage{}, fmt.Errorf("header of %q: %w", line, err)
	}
	m := rawMessage{line: line, header: h}
	switch {
	case strings.EqualFold(h.Get("Transfer-Encoding"), "chunked"):
		m.body, err = io.ReadAll(httputil.NewChunkedReader(br))
		if err == nil {
			_, err = tp.ReadMIMEHeader() // trailer section
		}
	case h.Get("Content-Length") != "":
		var n int
		if n, err = strconv.Atoi(h.Get("Content-Length")); err == nil {
			m.body = make([]byte, n)
			_, err = io.ReadFull(br, m.body)
		}
	}
	return m, err
}

// rawUpstream is a hand-written upstream on a loopback port that reads and
// writes HTTP/1.1 byte for byte, so a test sees exactly what the gateway
// sent and controls exactly what it gets back.
type rawUpstream struct {
	addr     string
	requests atomic.Int64 // request heads read, over all connections
	mu       sync.Mutex
	last     rawMessage
}

func (u *rawUpstream) lastRequest() rawMessage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// startRawUpstream answers the n-th request (from 1) with the bytes respond
// returns; nil closes the connection without an answer.
func startRawUpstream(t testing.TB, respond func(n int64, req rawMessage) []byte) *rawUpstream {
	t.Helper()
	ln := listen(t)
	u := &rawUpstream{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
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
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				br := bufio.NewReader(c)
				for {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					req, err := readMessage(br)
					if err != nil {
						return
					}
					n := u.requests.Add(1)
					u.mu.Lock()
					u.last = req
					u.mu.Unlock()
					out := respond(n, req)
					if out == nil {
						return
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return u
}

// rawExchange sends raw to addr on a new connection and reads one answer.
func rawExchange(t testing.TB, addr, raw string) rawMessage {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	m, err := readMessage(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return m
}

func statusOf(t testing.TB, m rawMessage) int {
	t.Helper()
	_, rest, _ := strings.Cut(m.line, " ")
	code, err := strconv.Atoi(strings.SplitN(rest, " ", 2)[0])
	if err != nil {
		t.Fatalf("status line %q", m.line)
	}
	return code
}

// longScopes makes a token the size of a real UAA token with many groups:
// well over 4 KiB. Every scope keeps the cloud_controller audience.
func longScopes() []string {
	scopes := []string{"cloud_controller.read", "cloud_controller.write", "openid"}
	for i := range 90 {
		scopes = append(scopes, fmt.Sprintf("cloud_controller.zone_%03d_some_long_group_name_from_ldap", i))
	}
	return scopes
}

// hopResponse is an upstream answer carrying every kind of hop-by-hop field;
// lower spells every name in lower case (field names are case-insensitive,
// RFC 9110 §5.1).
func hopResponse(lower bool, body string) []byte {
	fields := []string{
		"Content-Type: application/json; charset=utf-8",
		"Content-Length: " + strconv.Itoa(len(body)),
		"Connection: keep-alive, X-Resp-Named",
		"X-Resp-Named: only for the next hop",
		"Keep-Alive: timeout=5, max=100",
		"Proxy-Authenticate: Basic realm=\"cc\"",
		"Proxy-Connection: keep-alive",
		"Upgrade: h2c",
		"X-Cf-Warnings: kept%20as%20is",
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for _, f := range fields {
		if lower {
			name, value, _ := strings.Cut(f, ":")
			f = strings.ToLower(name) + ":" + value
		}
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return []byte(b.String())
}

func TestPassthroughHeaders(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	const answer = `{"resources":[]}`
	up := startRawUpstream(t, func(_ int64, req rawMessage) []byte {
		return hopResponse(req.header.Get("X-Test-Lower") != "", answer)
	})
	g := s.gatewayFor(t, "http://"+up.addr, nil)
	long := s.mintToken(t, longScopes())
	if len(long) <= 4<<10 {
		t.Fatalf("the long token is only %d bytes", len(long))
	}

	cases := []struct {
		name, method, path, authorization, body string
		lowerResponse                           bool
	}{
		{"GET", "GET", "/v3/apps?page=2&per_page=5", "bearer " + s.tokens["developer"], "", false},
		{"POST with a token over 4 KiB", "POST", "/v3/apps", long, `{"name":"big-token"}`, false},
		{"upstream spells fields in lower case", "GET", "/v3/apps", "bearer " + s.tokens["developer"], "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			endToEnd := [][2]string{
				{"Authorization", tc.authorization},
				{"Accept", "application/json"},
				{"User-Agent", "cf/6.53.0+8e2b70a.2020-10-01 (go1.13.15; amd64 linux)"},
				{"X-End-To-End", "kept, as is"},
				{"X-Vcap-Request-Id", "from-the-client"},
			}
			hop := [][2]string{
				{"Connection", "keep-alive, X-Hop-Named, x-hop-lower"},
				{"X-Hop-Named", "for the gateway only"},
				{"x-hop-lower", "for the gateway only"},
				{"Keep-Alive", "timeout=5"},
				{"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
				{"Proxy-Connection", "keep-alive"},
				{"Te", "trailers"},
				{"Trailer", "X-Checksum"},
				{"Upgrade", "websocket"},
				{"X-Forwarded-For", "203.0.113.7"},
				{"x-forwarded-proto", "https"},
				{"X-Forwarded-Host", "evil.example"},
				{"X-Forwarded-Port", "443"},
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", tc.method, tc.path, g.gwHost())
			for _, f := range append(endToEnd, hop...) {
				b.WriteString(f[0] + ": " + f[1] + "\r\n")
			}
			if tc.lowerResponse {
				b.WriteString("X-Test-Lower: 1\r\n")
			}
			if tc.body != "" {
				fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(tc.body))
			}
			b.WriteString("\r\n" + tc.body)
			if tc.authorization == long && b.Len() < 4<<10 {
				t.Fatalf("the request head is only %d bytes", b.Len())
			}

			resp := rawExchange(t, g.gwHost(), b.String())
			if code := statusOf(t, resp); code != 200 || string(resp.body) != answer {
				t.Fatalf("answer %d %s", code, resp.body)
			}
			got := up.lastRequest()
			if want := tc.method + " " + tc.path + " HTTP/1.1"; got.line != want {
				t.Errorf("request line %q, want %q", got.line, want)
			}
			if string(got.body) != tc.body {
				t.Errorf("body %q, want %q", got.body, tc.body)
			}

			// What the upstream sees, field by field.
			want := map[string][]string{
				"Host":              {up.addr},
				"X-Forwarded-For":   {"127.0.0.1"},
				"X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host":  {g.gwHost()},
			}
			for _, f := range endToEnd {
				if f[0] != "X-Vcap-Request-Id" { // the gateway's own id goes upstream
					want[f[0]] = []string{f[1]}
				}
			}
			for _, f := range hop {
				if _, set := want[textproto.CanonicalMIMEHeaderKey(f[0])]; !set {
					want[f[0]] = nil
				}
			}
			for name, values := range want {
				if have := got.header.Values(name); strings.Join(have, "\n") != strings.Join(values, "\n") {
					t.Errorf("upstream got %s = %q, want %q", name, have, values)
				}
			}
			if id := got.header.Get("X-Vcap-Request-Id"); !strings.HasPrefix(id, "from-the-client::") {
				t.Errorf("upstream got X-Vcap-Request-Id %q, want the gateway's id", id)
			}

			// What the client sees.
			for _, name := range []string{"Connection", "X-Resp-Named", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade"} {
				if v := resp.header.Values(name); len(v) > 0 {
					t.Errorf("client got hop-by-hop %s: %q", name, v)
				}
			}
			if v := resp.header.Get("X-Cf-Warnings"); v != "kept%20as%20is" {
				t.Errorf("client got X-Cf-Warnings %q", v)
			}
		})
	}
}

// pattern is the content of large test bodies: pseudo-random bytes from a
// block whose length is not a power of two, so a dropped, doubled or
// reordered buffer changes the checksum.
var pattern = func() []byte {
	r := rand.New(rand.NewChaCha8([32]byte{'c', 'a', 'p', 'i'}))
	b := make([]byte, 1<<20+13)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// patternReader yields n bytes of pattern.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	done := 0
	for done < len(p) {
		done += copy(p[done:], pattern[(r.off+int64(done))%int64(len(pattern)):])
	}
	r.off += int64(done)
	return done, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// countingHash counts and checksums what is written to it.
type countingHash struct {
	n   int64
	sum uint32
}

func (h *countingHash) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	h.sum = crc32.Update(h.sum, castagnoli, p)
	return len(p), nil
}

// memoryWatch samples the heap while a transfer runs.
type memoryWatch struct {
	before   runtime.MemStats
	peak     atomic.Uint64
	stop     chan struct{}
	finished chan struct{}
}

func watchMemory() *memoryWatch {
	runtime.GC()
	w := &memoryWatch{stop: make(chan struct{}), finished: make(chan struct{})}
	runtime.ReadMemStats(&w.before)
	w.peak.Store(w.before.HeapInuse)
	go func() {
		defer close(w.finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > w.peak.Load() {
					w.peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	return w
}

// done returns how much the heap grew at its peak and how much was
// allocated in all.
func (w *memoryWatch) done() (peakGrowth, allocated uint64) {
	close(w.stop)
	<-w.finished
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak := max(w.peak.Load(), after.HeapInuse)
	if peak > w.before.HeapInuse {
		peakGrowth = peak - w.before.HeapInuse
	}
	return peakGrowth, after.TotalAlloc - w.before.TotalAlloc
}

// transfer is one large request's outcome as the client saw it.
type transfer struct {
	status     int
	got        countingHash // what the client read back
	took       time.Duration
	peakGrowth uint64
	allocated  uint64
}

// TestPassthroughStreamsLargeBodies moves 200 MB each way through the
// gateway. The client, the gateway and the upstream share this process and
// all three stream, so the heap must not grow by anything like the body.
// What the transfer allocates is read against the same transfer straight to
// the upstream in the same run: under -race sync.Pool drops items on
// purpose, and fasthttp's SetBodyStreamWriter pipe then allocates tens of
// MB in the upstream, none of it the gateway's.
// Not parallel: the memory figures are the whole process's.
func TestPassthroughStreamsLargeBodies(t *testing.T) {
	const (
		size     = 200 << 20
		heapRoom = 64 << 20
	)
	want := &countingHash{}
	if _, err := io.Copy(want, &patternReader{n: size}); err != nil {
		t.Fatal(err)
	}

	var (
		receivedMu sync.Mutex
		received   countingHash
	)
	upstream := startFastUpstream(t, &fasthttp.Server{
		StreamRequestBody: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			switch {
			case ctx.IsPost():
				var h countingHash
				if _, err := io.CopyBuffer(&h, ctx.RequestBodyStream(), make([]byte, 64<<10)); err != nil {
					ctx.Error(err.Error(), fasthttp.StatusBadRequest)
					return
				}
				receivedMu.Lock()
				received = h
				receivedMu.Unlock()
				ctx.SetStatusCode(fasthttp.StatusCreated)
				ctx.SetBodyString(`{"state":"READY"}`)
			case ctx.IsGet():
				ctx.SetContentType("application/octet-stream")
				ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
					_, _ = io.CopyBuffer(w, &patternReader{n: size}, make([]byte, 64<<10))
				})
			}
		},
	})
	s := startStack(t, nil)
	g := s.gatewayFor(t, upstream, nil)
	client := &fasthttp.Client{StreamResponseBody: true, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	token := "bearer " + s.tokens["developer"]

	run := func(t *testing.T, method, url string) transfer {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod(method)
		req.Header.Set("Authorization", token)
		if method == fasthttp.MethodPost {
			req.Header.SetContentType("application/zip")
			req.SetBodyStream(&patternReader{n: size}, size)
		}
		watch := watchMemory()
		start := time.Now()
		var tr transfer
		err := client.Do(req, resp)
		if err == nil {
			tr.status = resp.StatusCode()
			_, err = io.CopyBuffer(&tr.got, resp.BodyStream(), make([]byte, 64<<10))
		}
		tr.took = time.Since(start)
		tr.peakGrowth, tr.allocated = watch.done()
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		return tr
	}

	cases := []struct {
		name, method, path string
		status             int
		// check says what is wrong with the bytes that arrived, or "".
		check func(tr transfer) string
	}{
		{"upload", fasthttp.MethodPost, "/v3/packages/5ace0000-0000-4000-8000-00000000aaaa/upload", fasthttp.StatusCreated,
			func(tr transfer) string {
				receivedMu.Lock()
				got := received
				received = countingHash{}
				receivedMu.Unlock()
				if got != *want {
					return fmt.Sprintf("upstream received %d bytes, crc %08x; client sent %d, crc %08x", got.n, got.sum, want.n, want.sum)
				}
				return ""
			}},
		{"download", fasthttp.MethodGet, "/v3/droplets/d0000000-0000-4000-8000-00000000aaaa/download", fasthttp.StatusOK,
			func(tr transfer) string {
				if tr.got != *want {
					return fmt.Sprintf("client received %d bytes, crc %08x; upstream sent %d, crc %08x", tr.got.n, tr.got.sum, want.n, want.sum)
				}
				return ""
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			direct := run(t, tc.method, upstream+tc.path)
			if direct.status != tc.status {
				t.Fatalf("straight to the upstream: status %d", direct.status)
			}
			if msg := tc.check(direct); msg != "" {
				t.Fatalf("straight to the upstream: %s", msg)
			}
			via := run(t, tc.method, g.gwURL+tc.path)
			t.Logf("200 MB in %v through the gateway, %v straight; heap peak +%d MB; allocated %d MB, %d MB straight",
				via.took.Round(time.Millisecond), direct.took.Round(time.Millisecond), via.peakGrowth>>20, via.allocated>>20, direct.allocated>>20)
			if via.status != tc.status {
				t.Fatalf("status %d, want %d", via.status, tc.status)
			}
			if msg := tc.check(via); msg != "" {
				t.Error(msg)
			}
			if via.peakGrowth > heapRoom {
				t.Errorf("the heap grew %d MB at its peak: the body was held", via.peakGrowth>>20)
			}
			if via.allocated > direct.allocated+heapRoom {
				t.Errorf("%d MB allocated through the gateway, %d MB straight: the gateway copied the body into memory",
					via.allocated>>20, direct.allocated>>20)
			}
		})
	}
}

// Bodies of the gateway's upstream failures, in both shapes.
func failureBody(v2 bool, description string) string {
	if v2 {
		return `{"description":"` + description + `","error_code":"CF-ServiceUnavailable","code":10015}` + "\n"
	}
	return `{"errors":[{"detail":"` + description + `","title":"CF-ServiceUnavailable","code":10015}]}`
}

// closedPort is a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	slow := startRawUpstream(t, func(int64, rawMessage) []byte {
		time.Sleep(time.Second)
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	})
	resetting := startRawUpstream(t, func(int64, rawMessage) []byte { return nil })

	kinds := []struct {
		name     string
		addr     string
		attempts func() int64 // requests the upstream saw, nil when it sees none
		status   int
		outcome  string
		text     string
		// tries is how many requests a GET and a POST make upstream.
		getTries, postTries int64
	}{
		{"down", closedPort(t), nil, 502, metrics.OutcomeConnect, "The Cloud Controller could not be reached", 0, 0},
		{"slow", slow.addr, slow.requests.Load, 504, metrics.OutcomeTimeout, "The Cloud Controller did not answer in time", 1, 1},
		{"resetting", resetting.addr, resetting.requests.Load, 502, metrics.OutcomeReset, "The Cloud Controller closed the connection", 2, 1},
	}
	for _, k := range kinds {
		g := s.gatewayFor(t, "http://"+k.addr, func(c *configs.Config) {
			c.V2Passthrough = []string{"/v2/apps"}
			c.UpstreamClient.RequestTimeout = 200 * time.Millisecond
			c.UpstreamClient.DialTimeout = time.Second
		})
		for _, shape := range []struct {
			name, path, route string
			v2                bool
		}{{"v3", "/v3/apps", "/v3/apps", false}, {"v2", "/v2/apps", "/v2/apps", true}} {
			for _, method := range []string{"GET", "POST"} {
				t.Run(k.name+"/"+shape.name+"/"+method, func(t *testing.T) {
					g := g.with(t)
					var body []byte
					wantTries := k.getTries
					if method == "POST" {
						body, wantTries = []byte(`{"name":"x"}`), k.postTries
					}
					var before int64
					if k.attempts != nil {
						before = k.attempts()
					}
					counter := g.m.UpstreamRequests.WithLabelValues(shape.route, k.outcome)
					count := testutil.ToFloat64(counter)
					start := time.Now()
					r := g.do(method, g.gwURL+shape.path, "developer", body)
					took := time.Since(start)
					if r.status != k.status {
						t.Errorf("status %d, want %d", r.status, k.status)
					}
					if want := failureBody(shape.v2, k.text); string(r.body) != want {
						t.Errorf("body %s\nwant %s", r.body, want)
					}
					if got := testutil.ToFloat64(counter) - count; got != 1 {
						t.Errorf("capibridge_upstream_requests_total{route=%q,outcome=%q} rose by %v, want 1", shape.route, k.outcome, got)
					}
					if k.attempts != nil {
						if got := k.attempts() - before; got != wantTries {
							t.Errorf("the upstream saw %d requests, want %d", got, wantTries)
						}
					}
					if took > 3*time.Second {
						t.Errorf("the failure took %v", took)
					}
				})
			}
		}
	}
}

// TestUpstreamRetryOnlyIdempotent: a connection the upstream drops before
// answering is tried again for a GET, and never for a POST, which the
// upstream may have acted on (DESIGN: non-idempotent calls are never
// retried blindly).
func TestUpstreamRetryOnlyIdempotent(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	cases := []struct {
		method   string
		status   int
		outcome  string
		attempts int64
	}{
		{"GET", 200, metrics.OutcomeOK, 2},
		{"HEAD", 200, metrics.OutcomeOK, 2},
		{"POST", 502, metrics.OutcomeReset, 1},
		{"PUT", 502, metrics.OutcomeReset, 1},
		{"DELETE", 502, metrics.OutcomeReset, 1},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			// The first connection is dropped after the request arrives; later
			// ones are answered.
			flaky := startRawUpstream(t, func(n int64, req rawMessage) []byte {
				if n == 1 {
					return nil
				}
				if strings.HasPrefix(req.line, "HEAD ") {
					return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
				}
				return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
			})
			g := s.gatewayFor(t, "http://"+flaky.addr, nil)
			var body []byte
			if tc.method != "GET" && tc.method != "HEAD" {
				body = []byte(`{}`)
			}
			r := g.do(tc.method, g.gwURL+"/v3/apps/a0000000-0000-4000-8000-000000000001", "developer", body)
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := flaky.requests.Load(); got != tc.attempts {
				t.Errorf("the upstream saw %d requests, want %d", got, tc.attempts)
			}
			if got := testutil.ToFloat64(g.m.UpstreamRequests.WithLabelValues("/v3/apps/:guid", tc.outcome)); got != 1 {
				t.Errorf("upstream requests with outcome %s = %v, want 1", tc.outcome, got)
			}
		})
	}
}

func TestShutdownWithRequestInFlight(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	arrived := make(chan struct{}, 1)
	var answered atomic.Bool
	slow := startRawUpstream(t, func(int64, rawMessage) []byte {
		arrived <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		answered.Store(true)
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"done\":\"yes\"}\n")
	})
	g := s.gatewayFor(t, "http://"+slow.addr, nil)

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(g.gwURL + "/v3/apps")
		req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
		err := (&fasthttp.Client{}).DoTimeout(req, resp, 10*time.Second)
		done <- result{resp.StatusCode(), string(resp.Body()), err}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.gw.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if !answered.Load() {
		t.Error("Shutdown returned while the upstream was still answering")
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != 200 || r.body != "{\"done\":\"yes\"}\n" {
			t.Errorf("in-flight request: %d %q %v", r.status, r.body, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request did not complete")
	}
	c, err := net.DialTimeout("tcp", g.gwHost(), time.Second)
	if err == nil {
		c.Close()
		t.Error("the gateway still accepts connections after Shutdown")
	}
}

// TestSlowClientCutOff: a client that stops half way through its request is
// disconnected once server.read_timeout has passed, without holding the
// connection (or an upstream one) any longer.
func TestSlowClientCutOff(t *testing.T) {
	t.Parallel()
	const readTimeout = 300 * time.Millisecond
	s := startStack(t, nil)
	// complete counts bodies the upstream read to their Content-Length.
	// fasthttp's server ends a body cut short by a closed connection with
	// io.EOF, not an error, so the count is what tells.
	var complete atomic.Int64
	upstream := startFastUpstream(t, &fasthttp.Server{
		StreamRequestBody: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			n, _ := io.Copy(io.Discard, ctx.RequestBodyStream())
			if n == int64(ctx.Request.Header.ContentLength()) {
				complete.Add(1)
			}
			ctx.SetStatusCode(fasthttp.StatusCreated)
			ctx.SetBodyString(strconv.FormatInt(n, 10))
		},
	})
	g := s.gatewayFor(t, upstream, func(c *configs.Config) { c.Server.ReadTimeout = readTimeout })
	token := "bearer " + s.tokens["developer"]
	cases := []struct{ name, sent string }{
		{"half the headers", "POST /v3/packages/p/upload HTTP/1.1\r\nHost: " + g.gwHost() + "\r\nAuthoriz"},
		{"half the body", "POST /v3/packages/p/upload HTTP/1.1\r\nHost: " + g.gwHost() + "\r\nAuthorization: " + token +
			"\r\nContent-Type: application/zip\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("z", 100000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", g.gwHost(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if _, err := io.WriteString(c, tc.sent); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(start.Add(5 * time.Second))
			answer, err := io.ReadAll(c)
			took := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection was still open after %v", took)
			}
			if took < readTimeout/2 || took > 3*time.Second {
				t.Errorf("cut off after %v; read_timeout is %v", took, readTimeout)
			}
			t.Logf("cut off after %v with %q", took.Round(time.Millisecond), firstLine(answer))
			if n := complete.Load(); n != 0 {
				t.Errorf("the upstream read %d complete requests from a client that never finished one", n)
			}
		})
	}
	// The stalled upload is the client's doing, not the upstream's: it is
	// counted as client_gone and answered 499, never as an upstream timeout.
	route := "/v3/packages/:guid/*"
	if got := testutil.ToFloat64(g.m.UpstreamRequests.WithLabelValues(route, metrics.OutcomeClient)); got != 1 {
		t.Errorf("upstream outcome client_gone = %v, want 1", got)
	}
	if got := testutil.ToFloat64(g.m.UpstreamRequests.WithLabelValues(route, metrics.OutcomeTimeout)); got != 0 {
		t.Errorf("upstream outcome timeout = %v, want 0", got)
	}
	if got := testutil.ToFloat64(g.m.Requests.WithLabelValues(route, "POST", "4xx")); got != 1 {
		t.Errorf("requests 4xx for the stalled upload = %v, want 1", got)
	}
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

// A download that takes longer than the API request timeout still arrives
// whole: bits get the transfer timeout. The same slow body on an API path
// is cut off at the request timeout.
func TestTransfersOutliveTheRequestTimeout(t *testing.T) {
	s := startStack(t, nil)
	upstream := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for range 10 {
				w.WriteString("0123456789")
				w.Flush()
				time.Sleep(60 * time.Millisecond)
			}
		})
	}})
	g := s.gatewayFor(t, upstream, func(c *configs.Config) {
		c.UpstreamClient.RequestTimeout = 200 * time.Millisecond
		c.UpstreamClient.TransferTimeout = 10 * time.Second
	})
	r := g.do("GET", g.gwURL+"/v3/packages/p/download", "developer", nil)
	if r.status != 200 || len(r.body) != 100 {
		t.Errorf("download: %d, %d bytes, want 200 and 100", r.status, len(r.body))
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(g.gwURL + "/v3/apps")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	err := g.client.Do(req, resp)
	if err == nil && len(resp.Body()) == 100 {
		t.Errorf("an API answer slower than the request timeout arrived whole")
	}
}
