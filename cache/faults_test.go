package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"capibridge/internal/redistest"
	"capibridge/metrics"
)

// gatedUpstream answers with its version as of the moment a fill began, and
// holds every fill until it is opened: a test can line callers up behind a
// fill in progress.
type gatedUpstream struct {
	v     atomic.Int64
	fills atomic.Int64
	gate  chan struct{}
	once  sync.Once
}

func newGatedUpstream(t testing.TB) *gatedUpstream {
	u := &gatedUpstream{gate: make(chan struct{})}
	t.Cleanup(u.open)
	return u
}

func (u *gatedUpstream) open() { u.once.Do(func() { close(u.gate) }) }

func (u *gatedUpstream) fill(context.Context) (Entry, error) {
	u.fills.Add(1)
	v := u.v.Load()
	<-u.gate
	return Entry{Status: 200, ContentType: "application/json", Body: []byte(strconv.FormatInt(v, 10))}, nil
}

// TestConcurrentRefreshesShareAFill: client no-cache refreshes of one key
// that arrive while a fill is in progress share one fill, and it is one
// that started after they arrived: they see a write the fill in progress
// may have missed. Its answer is stored.
func TestConcurrentRefreshesShareAFill(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	up := newGatedUpstream(t)
	first := make(chan Entry, 1)
	go func() {
		e, _, err := c.Get(context.Background(), appsKey, appsPolicy, true, up.fill)
		if err != nil {
			t.Errorf("first refresh: %v", err)
		}
		first <- e
	}()
	waitFor(t, "the first refresh's fill", func() bool { return up.fills.Load() == 1 })
	up.v.Store(1) // a write completes upstream while that fill runs

	const n = 50
	type result struct {
		e Entry
		o Outcome
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			e, o, err := c.Get(context.Background(), appsKey, appsPolicy, true, up.fill)
			if err != nil {
				t.Errorf("refresh: %v", err)
			}
			results <- result{e, o}
		})
	}
	// Each refresh either runs a fill of its own or waits for one.
	waitFor(t, "every refresh to fill or wait", func() bool { return up.fills.Load() == n+1 || c.waiters() == n+1 })
	up.open()
	wg.Wait()
	close(results)
	if e := <-first; bodyVersion(t, e) != 0 {
		t.Errorf("first refresh got version %s", e.Body)
	}
	if got := up.fills.Load(); got != 2 {
		t.Errorf("%d fills for %d concurrent refreshes of one key, want 2 (the one in progress, then one shared)", got, n+1)
	}
	collapsed := 0
	for r := range results {
		if bodyVersion(t, r.e) != 1 {
			t.Errorf("a refresh got version %s from a fill that started before it arrived", r.e.Body)
		}
		if r.o.Result != metrics.CacheBypass || !r.o.Stored {
			t.Errorf("refresh outcome %+v", r.o)
		}
		if r.o.Collapsed {
			collapsed++
			if got := r.o.CacheStatus(); got != "capibridge; fwd=request; stored; collapsed" {
				t.Errorf("Cache-Status %q", got)
			}
		}
	}
	if collapsed != n-1 {
		t.Errorf("%d refreshes collapsed, want %d", collapsed, n-1)
	}
	// The shared refresh was stored.
	if e, o := mustGet(t, c, appsKey, appsPolicy, false, up.fill); bodyVersion(t, e) != 1 || o.Result != metrics.CacheHit {
		t.Errorf("after the refreshes: %s %+v", e.Body, o)
	}
}

// TestRedisThatHangsCoalescesFills: with Redis stopped, lookups cannot
// confirm the generations and go upstream, but concurrent ones of one key
// share a fill instead of each making its own.
func TestRedisThatHangsCoalescesFills(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	warm := &versioned{}
	waitFor(t, "a hit", func() bool {
		_, o := mustGet(t, c, appsKey, appsPolicy, false, warm.fill)
		return o.Result == metrics.CacheHit
	})

	srv.Pause()
	defer srv.Resume()
	up := newGatedUpstream(t)
	up.v.Store(1)
	const n = 64
	outcomes := make(chan Outcome, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			e, o, err := c.Get(context.Background(), appsKey, appsPolicy, false, up.fill)
			if err != nil || bodyVersion(t, e) != 1 {
				t.Errorf("Get with Redis stopped: %s %v", e.Body, err)
			}
			outcomes <- o
		})
	}
	waitFor(t, "every lookup to fill or wait", func() bool { return up.fills.Load() == n || c.waiters() == n })
	up.open()
	wg.Wait()
	close(outcomes)
	if got := up.fills.Load(); got > 2 {
		t.Errorf("%d fills for %d concurrent lookups of one key with Redis stopped, want at most 2", got, n)
	}
	for o := range outcomes {
		if o.Result != metrics.CacheError || o.Tier != "" || !strings.HasPrefix(o.CacheStatus(), "capibridge; fwd=bypass") ||
			!strings.Contains(o.CacheStatus(), "detail=generations-unconfirmed") {
			t.Errorf("outcome with Redis stopped: %+v %q", o, o.CacheStatus())
			break
		}
	}

	srv.Resume()
	waitFor(t, "hits once Redis answers", func() bool {
		_, o := mustGet(t, c, appsKey, appsPolicy, false, warm.fill)
		return o.Result == metrics.CacheHit
	})
}

// TestLocalTierOutlivesFailingRedisWrites: a Redis that serves reads but
// not writes (CLIENT PAUSE WRITE, as during a failover) fails the page
// tier's writes; the generations still read, so the in-process tier keeps
// answering.
func TestLocalTierOutlivesFailingRedisWrites(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	direct := redisClient(t, srv.Addr())
	// A long back-off: whatever a failure switches off stays off for the
	// test.
	c := newRedisCache(t, redisClient(t, srv.Addr()), func(cfg *Config) { cfg.RedisBackoff = time.Hour })
	warm := &filler{}
	mustGet(t, c, appsKey, appsPolicy, false, warm.fill)
	ctx := context.Background()
	if err := direct.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer direct.Do(ctx, "CLIENT", "UNPAUSE")
	other := appsKey
	other.Who = "user-2"
	mustGet(t, c, other, appsPolicy, false, (&filler{}).fill)
	waitFor(t, "the page write to fail", func() bool {
		return testutil.ToFloat64(c.m.RedisErrors.WithLabelValues(cmdSet)) > 0
	})
	f := &filler{}
	const n = 32
	var wg sync.WaitGroup
	var hits atomic.Int64
	for range n {
		wg.Go(func() {
			e, o, err := c.Get(ctx, appsKey, appsPolicy, false, f.fill)
			if err == nil && o.Result == metrics.CacheHit && o.Tier == metrics.TierLocal && string(e.Body) == `{"fill":1}` {
				hits.Add(1)
			}
		})
	}
	wg.Wait()
	if hits.Load() != n || f.n.Load() != 0 {
		t.Errorf("%d of %d lookups were local hits, %d fills, while Redis refused writes", hits.Load(), n, f.n.Load())
	}
}

// TestNoPageOlderThanAWriteWhileRedisPauses: a write through instance a
// while Redis does not answer it, then a read through b once a has
// answered the write: b never serves the page from before it, whether
// Redis hung (SIGSTOP) or refused writes only (CLIENT PAUSE WRITE, when b
// can still read the generations).
func TestNoPageOlderThanAWriteWhileRedisPauses(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sigstop", "client pause write"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			direct := redisClient(t, srv.Addr())
			ctx := context.Background()
			pause, resume := srv.Pause, srv.Resume
			if mode != "sigstop" {
				pause = func() {
					if err := direct.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
						t.Fatal(err)
					}
				}
				resume = func() {
					if err := direct.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
			b := newRedisCache(t, redisClient(t, srv.Addr()), nil)
			up := &versioned{}
			policy := Policy{TTL: time.Hour, Topics: []string{"apps"}}
			const rounds = 20
			stale := 0
			for n := int64(1); n <= rounds; n++ {
				waitFor(t, "b to hold the current page", func() bool {
					e, o := mustGet(t, b, appsKey, policy, false, up.fill)
					return o.Result == metrics.CacheHit && bodyVersion(t, e) == n-1
				})
				failed := testutil.ToFloat64(a.m.RedisErrors.WithLabelValues(cmdIncr))
				pause()
				up.v.Store(n) // the write reaches the upstream
				answered := make(chan error, 1)
				go func() { answered <- a.Invalidate(ctx, "apps") }()
				waitFor(t, "a's bump to fail", func() bool {
					return testutil.ToFloat64(a.m.RedisErrors.WithLabelValues(cmdIncr)) > failed
				})
				if mode == "sigstop" && n%2 == 0 {
					// b cannot confirm the generations: it goes upstream.
					e, o := mustGet(t, b, appsKey, policy, false, up.fill)
					if bodyVersion(t, e) != n || o.Result != metrics.CacheError {
						t.Errorf("round %d: b with Redis stopped: version %s, %+v", n, e.Body, o)
					}
				}
				resume()
				// The client has the write's answer, given once Redis took
				// the bump.
				if err := <-answered; err != nil {
					t.Errorf("round %d: Invalidate: %v", n, err)
				}
				e, o := mustGet(t, b, appsKey, policy, false, up.fill)
				if bodyVersion(t, e) < n {
					stale++
					t.Logf("round %d: b served version %s (%s) after the write of version %d was answered", n, e.Body, o.CacheStatus(), n)
				}
			}
			if stale != 0 {
				t.Errorf("%d of %d reads through b served a page older than an answered write", stale, rounds)
			}
			if got := testutil.ToFloat64(a.m.CacheInvalidations.WithLabelValues(metrics.InvalidationDelayed)); got != rounds {
				t.Errorf("invalidations{result=delayed} = %v, want %d", got, rounds)
			}
		})
	}
}

// TestQueuedRefreshThatLeaves: a refresh that stops waiting before its
// fill's turn comes is dropped from it: its fill function, tied to its
// request, is never run, and the others' fill runs with theirs.
func TestQueuedRefreshThatLeaves(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	up := newGatedUpstream(t)
	go func() { _, _, _ = c.Get(context.Background(), appsKey, appsPolicy, true, up.fill) }()
	waitFor(t, "the first refresh's fill", func() bool { return up.fills.Load() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, _, err := c.Get(ctx, appsKey, appsPolicy, true, func(context.Context) (Entry, error) {
			t.Error("the fill of a refresh that left was run")
			return Entry{}, nil
		})
		left <- err
	}()
	waitFor(t, "the second refresh to wait", func() bool { return c.waiters() == 2 })
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	done := make(chan Entry, 1)
	go func() {
		e, _, _ := c.Get(context.Background(), appsKey, appsPolicy, true, up.fill)
		done <- e
	}()
	waitFor(t, "the third refresh to wait", func() bool { return c.waiters() == 2 })
	up.v.Store(1)
	up.open()
	if e := <-done; bodyVersion(t, e) != 1 || up.fills.Load() != 2 {
		t.Errorf("third refresh: %s after %d fills", e.Body, up.fills.Load())
	}
}
