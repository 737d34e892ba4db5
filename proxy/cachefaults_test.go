package proxy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/internal/redistest"
)

// countingHop forwards to the embedded CF and counts the v3 app lists that
// pass, one per fill of a v2 app page. While held, it keeps every app list
// waiting, so that a test can line requests up behind a fill in progress.
type countingHop struct {
	url   string
	lists atomic.Int64
	mu    sync.Mutex
	gate  chan struct{}
}

func newCountingHop(t *testing.T, target string) *countingHop {
	t.Helper()
	h := &countingHop{}
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(target, "http://"), MaxConns: 1024}
	h.url = startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if ctx.IsGet() && string(ctx.Path()) == "/v3/apps" {
			h.lists.Add(1)
			h.mu.Lock()
			gate := h.gate
			h.mu.Unlock()
			if gate != nil {
				<-gate
			}
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	t.Cleanup(h.release)
	return h
}

func (h *countingHop) hold() {
	h.mu.Lock()
	h.gate = make(chan struct{})
	h.mu.Unlock()
}

func (h *countingHop) release() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.mu.Unlock()
}

// burst sends n concurrent GETs of url as user while the hop holds the app
// lists, lets them go once all n are inside the gateway, and returns the
// replies and how many app lists (fills) they cost.
func (s *stack) burst(t *testing.T, g launched, hop *countingHop, n int, url, user string, headers ...string) ([]reply, int64) {
	t.Helper()
	before := hop.lists.Load()
	hop.hold()
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = s.do("GET", url, user, nil, headers...) })
	}
	waitFor(t, fmt.Sprintf("%d requests inside the gateway", n), func() bool { return testutil.ToFloat64(g.m.InFlight) == float64(n) })
	hop.release()
	wg.Wait()
	return replies, hop.lists.Load() - before
}

// TestCacheNoCacheRefreshesShareAFill: 64 concurrent Cache-Control:
// no-cache reads of one page make one fill between them (beside the one
// already in progress when later ones arrived), not one each; none fails,
// and the refreshed page is stored.
func TestCacheNoCacheRefreshesShareAFill(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "nc-one", "nc-two")
	hop := newCountingHop(t, s.cfURL)
	g := s.cachedGateway(t, hop.url, "", nil)
	const n = 64
	replies, fills := s.burst(t, g, hop, n, g.url+"/v2/apps", "developer", "Cache-Control", "no-cache")
	failed := 0
	for _, r := range replies {
		if r.status != 200 || !strings.Contains(string(r.body), "nc-two") || !strings.Contains(cacheStatus(r), "fwd=request") {
			failed++
			t.Logf("%d %q %.200s", r.status, cacheStatus(r), r.body)
		}
	}
	t.Logf("%d concurrent no-cache reads: %d fills, %d failed", n, fills, failed)
	if failed != 0 {
		t.Errorf("%d of %d no-cache reads failed", failed, n)
	}
	if fills > 3 {
		t.Errorf("%d fills for %d concurrent no-cache reads of one page, want one or two", fills, n)
	}
	if r := s.do("GET", g.url+"/v2/apps", "developer", nil); !strings.Contains(cacheStatus(r), "hit") {
		t.Errorf("after the refreshes: Cache-Status %q, want a hit on the refreshed page", cacheStatus(r))
	}
}

// TestCacheRedisStoppedCoalescesFills: with Redis stopped (SIGSTOP) the
// gateway cannot confirm the generations, so it serves nothing cached and
// says so; 64 concurrent reads of one page still share their fills.
func TestCacheRedisStoppedCoalescesFills(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "rs-one", "rs-two")
	rs := redistest.Start(t)
	hop := newCountingHop(t, s.cfURL)
	g := s.cachedGateway(t, hop.url, rs.Addr(), nil)
	waitFor(t, "a hit", func() bool {
		return strings.Contains(cacheStatus(s.do("GET", g.url+"/v2/apps", "developer", nil)), "hit")
	})
	rs.Pause()
	defer rs.Resume()
	const n = 64
	replies, fills := s.burst(t, g, hop, n, g.url+"/v2/apps", "developer")
	failed, unconfirmed := 0, 0
	for _, r := range replies {
		if r.status != 200 || !strings.Contains(string(r.body), "rs-two") {
			failed++
			t.Logf("%d %q %.200s", r.status, cacheStatus(r), r.body)
		}
		if st := cacheStatus(r); strings.Contains(st, "fwd=bypass") && strings.Contains(st, "detail=generations-unconfirmed") {
			unconfirmed++
		}
	}
	t.Logf("%d concurrent reads with Redis stopped: %d fills, %d failed", n, fills, failed)
	if failed != 0 {
		t.Errorf("%d of %d reads failed with Redis stopped", failed, n)
	}
	if fills > 3 {
		t.Errorf("%d fills for %d concurrent reads of one page with Redis stopped, want one or two", fills, n)
	}
	if unconfirmed != n {
		t.Errorf("%d of %d answers said in Cache-Status that the generations were unconfirmed", unconfirmed, n)
	}
	rs.Resume()
	waitFor(t, "hits once Redis answers", func() bool {
		return strings.Contains(cacheStatus(s.do("GET", g.url+"/v2/apps", "developer", nil)), "hit")
	})
}

// TestCacheNoStalePageAcrossInstancesWhileRedisPauses: Redis pauses around
// a write through gateway A; once A has answered it, a read through
// gateway B never gets the page from before the write. Redis hangs
// (SIGSTOP), or refuses writes while it still serves reads (CLIENT PAUSE
// WRITE), so that B can read the generations A could not bump.
func TestCacheNoStalePageAcrossInstancesWhileRedisPauses(t *testing.T) {
	for _, mode := range []string{"sigstop", "client pause write"} {
		t.Run(mode, func(t *testing.T) {
			s := startStack(t, nil).with(t)
			rs := redistest.Start(t)
			pause, resume := rs.Pause, rs.Resume
			if mode != "sigstop" {
				direct := redis.NewClient(&redis.Options{Addr: rs.Addr()})
				t.Cleanup(func() { _ = direct.Close() })
				pause = func() {
					if err := direct.Do(context.Background(), "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
						t.Fatal(err)
					}
				}
				resume = func() {
					if err := direct.Do(context.Background(), "CLIENT", "UNPAUSE").Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			a := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
			b := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
			page := b.url + "/v2/spaces/" + backend.DemoSpaceGUID + "/apps"
			initial := listTotal(t, s.do("GET", page, "developer", nil, "Cache-Control", "no-cache"))
			const rounds = 20
			stale := 0
			for i := range rounds {
				want := initial + i + 1 // the apps once this round's create is done
				waitFor(t, "B to hold the page", func() bool {
					return strings.Contains(cacheStatus(s.do("GET", page, "developer", nil)), "hit")
				})
				failed := testutil.ToFloat64(a.m.RedisErrors.WithLabelValues("incr"))
				pause()
				answered := make(chan reply, 1)
				go func() {
					body := fmt.Sprintf(`{"name":"pause-%d","relationships":{"space":{"data":{"guid":%q}}}}`, i, backend.DemoSpaceGUID)
					answered <- s.send("POST", a.url+"/v3/apps", "developer", []byte(body))
				}()
				waitFor(t, "A's bump to fail", func() bool {
					return testutil.ToFloat64(a.m.RedisErrors.WithLabelValues("incr")) > failed
				})
				if mode == "sigstop" && i%2 == 1 {
					// B cannot confirm the generations: it goes upstream and
					// says so.
					r := s.do("GET", page, "developer", nil)
					if st := cacheStatus(r); !strings.Contains(st, "detail=generations-unconfirmed") || listTotal(t, r) != want {
						t.Errorf("round %d: B with Redis stopped: %d apps, want %d; Cache-Status %q", i, listTotal(t, r), want, st)
					}
				}
				resume()
				if w := <-answered; w.status != 201 {
					t.Fatalf("round %d: create through A: %d %s", i, w.status, w.body)
				}
				r := s.do("GET", page, "developer", nil)
				if got := listTotal(t, r); got != want {
					stale++
					t.Logf("round %d: B lists %d apps (%q) after A answered the create, want %d", i, got, cacheStatus(r), want)
				}
			}
			if stale != 0 {
				t.Errorf("%d of %d reads through B served a page older than a write A had answered", stale, rounds)
			}
		})
	}
}

// send is do for another goroutine than the test's: a transport error is
// a reply with status 0.
func (s *stack) send(method, url, user string, body []byte) reply {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	req.Header.Set("Authorization", "bearer "+s.tokens[user])
	if body != nil {
		req.SetBody(body)
		req.Header.SetContentType("application/json")
	}
	if err := s.client.Do(req, resp); err != nil {
		return reply{body: []byte(err.Error()), header: &fasthttp.ResponseHeader{}}
	}
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return reply{status: resp.StatusCode(), body: append([]byte(nil), resp.Body()...), header: h}
}
