package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"capibridge/metrics"
)

// fakeClock is the injected clock of entry ages.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// mapStore is a hand-written remote tier for the tier-logic tests: a map of
// encoded records (so the codec is exercised too) that can be made to fail.
type mapStore struct {
	mu   sync.Mutex
	m    map[hashKey][]byte
	fail error
	gets int
}

var _ store = (*mapStore)(nil)

func (s *mapStore) Get(_ context.Context, k hashKey) (*record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return nil, s.fail
	}
	b, ok := s.m[k]
	if !ok {
		return nil, nil
	}
	return unmarshalRecord(b)
}

func (s *mapStore) Set(_ context.Context, k hashKey, r *record, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.m == nil {
		s.m = map[hashKey][]byte{}
	}
	s.m[k] = r.marshal()
	return nil
}

func (s *mapStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func newTestCache(t testing.TB, clock *fakeClock) *Cache {
	t.Helper()
	cfg := Config{Metrics: metrics.New(prometheus.NewRegistry(), "test")}
	if clock != nil {
		cfg.Now = clock.Now
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// withRemote gives c the remote tier s and the generations of gens (so two
// caches can share both, as two instances share Redis).
func withRemote(c *Cache, s store, gens generations, clock *fakeClock) {
	c.remote = s
	c.br = &breaker{backoff: time.Second, now: clock.Now, gauge: c.m.RedisBreakerOpen, log: slog.New(slog.DiscardHandler)}
	c.pageBr = &breaker{backoff: time.Second, now: clock.Now, gauge: c.m.RedisPageBreakerOpen, log: slog.New(slog.DiscardHandler)}
	c.gens = gens
}

// filler counts fills and answers with a body naming the fill.
type filler struct {
	n      atomic.Int64
	status int
	err    error
}

func (f *filler) fill(context.Context) (Entry, error) {
	n := f.n.Add(1)
	if f.err != nil {
		return Entry{}, f.err
	}
	status := f.status
	if status == 0 {
		status = 200
	}
	return Entry{Status: status, ContentType: "application/json", Body: []byte(`{"fill":` + strconv.FormatInt(n, 10) + `}`)}, nil
}

var (
	appsKey    = Key{Route: "/v2/apps", Path: "/v2/apps", Query: "results-per-page=50&page=1", Who: "user-1"}
	appsPolicy = Policy{TTL: time.Minute, StaleIfError: 5 * time.Minute, Topics: []string{"apps", "spaces"}}
)

func mustGet(t *testing.T, c *Cache, k Key, p Policy, bypass bool, fill FillFunc) (Entry, Outcome) {
	t.Helper()
	e, o, err := c.Get(context.Background(), k, p, bypass, fill)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return e, o
}

func requests(c *Cache, route, result string) float64 {
	return testutil.ToFloat64(c.m.CacheRequests.WithLabelValues(route, result))
}

func TestHitMissBypass(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c := newTestCache(t, clock)
	f := &filler{}

	e, o := mustGet(t, c, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":1}` || o.Result != metrics.CacheMiss || !o.Stored || o.Collapsed {
		t.Fatalf("first get: %s %+v", e.Body, o)
	}
	if got := o.CacheStatus(); got != "capibridge; fwd=miss; stored" {
		t.Errorf("Cache-Status %q", got)
	}
	if !e.Stored.Equal(clock.Now()) {
		t.Errorf("Stored %v, want %v", e.Stored, clock.Now())
	}

	clock.Add(20 * time.Second)
	e, o = mustGet(t, c, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":1}` || o.Result != metrics.CacheHit || o.Tier != metrics.TierLocal || o.TTL != 40*time.Second {
		t.Fatalf("second get: %s %+v", e.Body, o)
	}
	if got := o.CacheStatus(); got != "capibridge; hit; ttl=40" {
		t.Errorf("Cache-Status %q", got)
	}

	e, o = mustGet(t, c, appsKey, appsPolicy, true, f.fill)
	if string(e.Body) != `{"fill":2}` || o.Result != metrics.CacheBypass || !o.Stored {
		t.Fatalf("bypass: %s %+v", e.Body, o)
	}
	if got := o.CacheStatus(); got != "capibridge; fwd=request; stored" {
		t.Errorf("Cache-Status %q", got)
	}
	// The bypass refreshed the entry.
	e, o = mustGet(t, c, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":2}` || o.Result != metrics.CacheHit {
		t.Fatalf("after bypass: %s %+v", e.Body, o)
	}
	if f.n.Load() != 2 {
		t.Errorf("%d fills, want 2", f.n.Load())
	}
	for result, want := range map[string]float64{metrics.CacheMiss: 1, metrics.CacheHit: 2, metrics.CacheBypass: 1} {
		if got := requests(c, "/v2/apps", result); got != want {
			t.Errorf("requests{result=%s} = %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(c.m.CacheTierHits.WithLabelValues(metrics.TierLocal)); got != 2 {
		t.Errorf("local tier hits = %v", got)
	}
}

func TestTTLExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c := newTestCache(t, clock)
	f := &filler{}
	mustGet(t, c, appsKey, appsPolicy, false, f.fill)

	clock.Add(time.Minute) // exactly TTL: no longer fresh
	e, o := mustGet(t, c, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":2}` || o.Result != metrics.CacheMiss || o.Fwd != fwdStale {
		t.Fatalf("at TTL: %s %+v", e.Body, o)
	}
	if got := o.CacheStatus(); got != "capibridge; fwd=stale; stored" {
		t.Errorf("Cache-Status %q", got)
	}

	clock.Add(time.Hour) // past TTL+StaleIfError: not even a candidate
	e, o = mustGet(t, c, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":3}` || o.Fwd != fwdMiss {
		t.Fatalf("past the stale bound: %s %+v", e.Body, o)
	}
}

func TestNoTTLIsNotCached(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	f := &filler{}
	for range 2 {
		_, o := mustGet(t, c, appsKey, Policy{}, false, f.fill)
		if o.Result != metrics.CacheBypass || o.CacheStatus() != "capibridge; fwd=bypass" {
			t.Fatalf("%+v %s", o, o.CacheStatus())
		}
	}
	if f.n.Load() != 2 {
		t.Errorf("%d fills", f.n.Load())
	}
}

func TestOnly200IsStored(t *testing.T) {
	t.Parallel()
	for _, status := range []int{201, 204, 304, 404, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			c := newTestCache(t, newFakeClock())
			f := &filler{status: status}
			for i := range 2 {
				e, o := mustGet(t, c, appsKey, appsPolicy, false, f.fill)
				if e.Status != status || o.Stored || o.Result != metrics.CacheMiss {
					t.Fatalf("get %d: %d %+v", i, e.Status, o)
				}
			}
			if f.n.Load() != 2 {
				t.Errorf("%d fills, want 2", f.n.Load())
			}
		})
	}
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	upstreamDown := errors.New("upstream down")
	for _, tc := range []struct {
		name       string
		age        time.Duration
		status     int
		err        error
		wantBody   string
		wantErr    error
		wantStatus string
	}{
		{"error within bound", 2 * time.Minute, 0, upstreamDown, `{"fill":1}`, nil,
			"capibridge; fwd=stale; ttl=-60; detail=stale-if-error"},
		{"502 within bound", 3*time.Minute + 500*time.Millisecond, 502, nil, `{"fill":1}`, nil,
			"capibridge; fwd=stale; fwd-status=502; ttl=-121; detail=stale-if-error"},
		{"error just inside the bound", 6*time.Minute - time.Nanosecond, 0, upstreamDown, `{"fill":1}`, nil,
			"capibridge; fwd=stale; ttl=-300; detail=stale-if-error"},
		{"error at the bound", 6 * time.Minute, 0, upstreamDown, "", upstreamDown, "capibridge; fwd=miss"},
		{"503 after the bound", 10 * time.Minute, 503, nil, `{"fill":2}`, nil, "capibridge; fwd=miss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			c := newTestCache(t, clock)
			mustGet(t, c, appsKey, appsPolicy, false, (&filler{}).fill)
			clock.Add(tc.age)
			f := &filler{status: tc.status, err: tc.err}
			f.n.Store(1)
			e, o, err := c.Get(context.Background(), appsKey, appsPolicy, false, f.fill)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if string(e.Body) != tc.wantBody {
				t.Errorf("body %q, want %q", e.Body, tc.wantBody)
			}
			if got := o.CacheStatus(); got != tc.wantStatus {
				t.Errorf("Cache-Status %q, want %q", got, tc.wantStatus)
			}
			wantResult := metrics.CacheMiss
			if tc.wantBody == `{"fill":1}` {
				wantResult = metrics.CacheStale
			}
			if o.Result != wantResult {
				t.Errorf("result %s, want %s", o.Result, wantResult)
			}
		})
	}
}

func TestStaleIfErrorOnBypass(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c := newTestCache(t, clock)
	mustGet(t, c, appsKey, appsPolicy, false, (&filler{}).fill)
	clock.Add(10 * time.Second)
	e, o := mustGet(t, c, appsKey, appsPolicy, true, (&filler{status: 503}).fill)
	if string(e.Body) != `{"fill":1}` || o.Result != metrics.CacheStale {
		t.Fatalf("%s %+v", e.Body, o)
	}
	if got := o.CacheStatus(); got != "capibridge; fwd=request; fwd-status=503; ttl=50; detail=stale-if-error" {
		t.Errorf("Cache-Status %q", got)
	}
}

func TestInvalidateLocal(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	ctx := context.Background()
	apps := &filler{}
	stacks := &filler{}
	stacksKey := Key{Route: "/v2/stacks", Path: "/v2/stacks", Who: "global"}
	stacksPolicy := Policy{TTL: time.Minute, Topics: []string{"stacks"}}
	mustGet(t, c, appsKey, appsPolicy, false, apps.fill)
	mustGet(t, c, stacksKey, stacksPolicy, false, stacks.fill)

	if err := c.Invalidate(ctx, "spaces"); err != nil {
		t.Fatal(err)
	}
	e, o := mustGet(t, c, appsKey, appsPolicy, false, apps.fill)
	if string(e.Body) != `{"fill":2}` || o.Result != metrics.CacheMiss {
		t.Fatalf("apps after a spaces write: %s %+v", e.Body, o)
	}
	if _, o := mustGet(t, c, stacksKey, stacksPolicy, false, stacks.fill); o.Result != metrics.CacheHit {
		t.Fatalf("stacks after a spaces write: %+v", o)
	}
	if err := c.Invalidate(ctx, "apps", "stacks", "apps"); err != nil {
		t.Fatal(err)
	}
	if e, _ := mustGet(t, c, stacksKey, stacksPolicy, false, stacks.fill); string(e.Body) != `{"fill":2}` {
		t.Fatalf("stacks after a stacks write: %s", e.Body)
	}
	if got := testutil.ToFloat64(c.m.CacheInvalidations.WithLabelValues(metrics.InvalidationOK)); got != 3 {
		t.Errorf("invalidations = %v, want 3", got)
	}
	if err := c.Invalidate(ctx, "bad topic"); !errors.Is(err, errBadTopic) {
		t.Errorf("bad topic: %v", err)
	}
}

func TestSweepDropsOutdatedLocalEntries(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	mustGet(t, c, appsKey, appsPolicy, false, (&filler{}).fill)
	other := appsKey
	other.Who = "user-2"
	mustGet(t, c, other, Policy{TTL: time.Minute, Topics: []string{"stacks"}}, false, (&filler{}).fill)
	if n := c.local.c.EstimatedSize(); n != 2 {
		t.Fatalf("%d local entries, want 2", n)
	}
	if err := c.Invalidate(context.Background(), "spaces"); err != nil {
		t.Fatal(err)
	}
	c.sweep()
	if n := c.local.c.EstimatedSize(); n != 1 {
		t.Fatalf("%d local entries after the sweep, want 1", n)
	}
}

func TestWhoIsolation(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	f := &filler{}
	seen := map[string]string{}
	for _, who := range []string{"global", "user-1", "user-2", "user-1", "global"} {
		k := appsKey
		k.Who = who
		e, _ := mustGet(t, c, k, appsPolicy, false, f.fill)
		if prev, ok := seen[who]; ok && prev != string(e.Body) {
			t.Errorf("%s got %s, then %s", who, prev, e.Body)
		}
		seen[who] = string(e.Body)
	}
	if f.n.Load() != 3 {
		t.Errorf("%d fills, want one per caller class", f.n.Load())
	}
	if seen["user-1"] == seen["user-2"] || seen["global"] == seen["user-1"] {
		t.Errorf("callers shared an answer: %v", seen)
	}
}

func TestRouteIsPartOfTheKey(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	f := &filler{}
	k := appsKey
	mustGet(t, c, k, appsPolicy, false, f.fill)
	k.Route = "/v2/spaces/:guid/apps"
	if _, o := mustGet(t, c, k, appsPolicy, false, f.fill); o.Result != metrics.CacheMiss {
		t.Fatalf("%+v", o)
	}
}

func TestCoalescedFill(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	release := make(chan struct{})
	var fills atomic.Int64
	fill := func(context.Context) (Entry, error) {
		fills.Add(1)
		<-release
		return Entry{Status: 200, Body: []byte("page")}, nil
	}
	const n = 100
	var wg sync.WaitGroup
	outcomes := make(chan Outcome, n)
	for range n {
		wg.Go(func() {
			e, o, err := c.Get(context.Background(), appsKey, appsPolicy, false, fill)
			if err != nil || string(e.Body) != "page" {
				t.Errorf("Get: %q %v", e.Body, err)
			}
			outcomes <- o
		})
	}
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	waitFor(t, "100 callers waiting for one fill", func() bool { return c.waiters() == n })
	free()
	wg.Wait()
	close(outcomes)
	if got := fills.Load(); got != 1 {
		t.Fatalf("%d fills, want 1", got)
	}
	collapsed := 0
	for o := range outcomes {
		if o.Collapsed {
			collapsed++
			if o.CacheStatus() != "capibridge; fwd=miss; stored; collapsed" {
				t.Errorf("Cache-Status %q", o.CacheStatus())
			}
		}
	}
	if collapsed != n-1 {
		t.Errorf("%d collapsed, want %d", collapsed, n-1)
	}
}

// waiters is the number of callers waiting for fills.
func (c *Cache) waiters() int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	n := 0
	for _, s := range c.flights.m {
		for _, f := range []*flight{s.cur, s.next} {
			if f != nil {
				n += f.waiters
			}
		}
	}
	return n
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestCallerStopsWaiting(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	fillCtxDone := make(chan struct{})
	started := make(chan struct{})
	fill := func(ctx context.Context) (Entry, error) {
		close(started)
		<-ctx.Done()
		close(fillCtxDone)
		return Entry{}, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Get(ctx, appsKey, appsPolicy, false, fill)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// Nobody waits any more: the fill's context ends too.
	<-fillCtxDone
	// And the next caller starts a fill of its own.
	f := &filler{}
	if e, _ := mustGet(t, c, appsKey, appsPolicy, false, f.fill); string(e.Body) != `{"fill":1}` {
		t.Fatalf("%s", e.Body)
	}
}

func TestFillPanicIsAnError(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	_, _, err := c.Get(context.Background(), appsKey, appsPolicy, false, func(context.Context) (Entry, error) {
		panic("boom")
	})
	if err == nil || err.Error() != "cache: fill panicked: boom" {
		t.Fatalf("err %v", err)
	}
}

func TestRemoteTier(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	remote := &mapStore{}
	a, b := newTestCache(t, clock), newTestCache(t, clock)
	gens := newLocalGens(nil)
	withRemote(a, remote, gens, clock)
	withRemote(b, remote, gens, clock)

	_, o := mustGet(t, a, appsKey, appsPolicy, false, (&filler{}).fill)
	if !o.Stored {
		t.Fatalf("%+v", o)
	}
	// The Redis write happens after the waiters are released.
	waitFor(t, "the remote write", func() bool { remote.mu.Lock(); defer remote.mu.Unlock(); return len(remote.m) == 1 })

	clock.Add(10 * time.Second)
	f := &filler{}
	e, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != `{"fill":1}` || o.Tier != metrics.TierRedis || o.Result != metrics.CacheHit || o.TTL != 50*time.Second {
		t.Fatalf("b: %s %+v", e.Body, o)
	}
	if e.ContentType != "application/json" || !e.Stored.Equal(clock.Now().Add(-10*time.Second)) {
		t.Errorf("b: entry %+v", e)
	}
	// Promoted to b's local tier.
	remote.setFail(errors.New("redis down"))
	if _, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill); o.Tier != metrics.TierLocal {
		t.Fatalf("b again: %+v", o)
	}

	// A remote failure on a local miss fills, and is counted as an error.
	k := appsKey
	k.Who = "user-9"
	e, o = mustGet(t, b, k, appsPolicy, false, f.fill)
	if o.Result != metrics.CacheError || string(e.Body) != `{"fill":1}` || f.n.Load() != 1 {
		t.Fatalf("remote down: %s %+v", e.Body, o)
	}
	if got := requests(b, "/v2/apps", metrics.CacheError); got != 1 {
		t.Errorf("error results %v", got)
	}
}

func TestFresherRemoteEntryBeatsStaleLocal(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	remote := &mapStore{}
	a, b := newTestCache(t, clock), newTestCache(t, clock)
	gens := newLocalGens(nil)
	withRemote(a, remote, gens, clock)
	withRemote(b, remote, gens, clock)
	mustGet(t, b, appsKey, appsPolicy, false, (&filler{}).fill) // b's local copy
	clock.Add(2 * time.Minute)
	// a refreshes the entry in Redis (a client's no-cache, say).
	mustGet(t, a, appsKey, appsPolicy, true, func(context.Context) (Entry, error) {
		return Entry{Status: 200, Body: []byte("fresh")}, nil
	})
	waitFor(t, "a's remote write", func() bool {
		r, _ := remote.Get(context.Background(), sum(&appsKey, appsPolicy.Topics, gens.Known()))
		return r != nil && string(r.body) == "fresh"
	})
	f := &filler{}
	e, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill)
	if string(e.Body) != "fresh" || o.Result != metrics.CacheHit || o.Tier != metrics.TierRedis || f.n.Load() != 0 {
		t.Fatalf("%s %+v", e.Body, o)
	}
}

func TestRemoteEntryOfAnotherGenerationIsNotServed(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	remote := &mapStore{}
	c := newTestCache(t, clock)
	gens := newLocalGens(nil)
	withRemote(c, remote, gens, clock)
	mustGet(t, c, appsKey, appsPolicy, false, (&filler{}).fill)
	waitFor(t, "the remote write", func() bool { remote.mu.Lock(); defer remote.mu.Unlock(); return len(remote.m) == 1 })

	// A store that answered a key with an entry of older generations (it
	// cannot happen by hash, but a tier is not trusted) is not served.
	v, _ := gens.Read(context.Background(), nil)
	if err := gens.Bump(context.Background(), []string{"apps"}); err != nil {
		t.Fatal(err)
	}
	v2, _ := gens.Read(context.Background(), nil)
	remote.mu.Lock()
	remote.m[sum(&appsKey, appsPolicy.Topics, v2)] = remote.m[sum(&appsKey, appsPolicy.Topics, v)]
	remote.mu.Unlock()
	c.local.c.InvalidateAll()
	f := &filler{}
	if _, o := mustGet(t, c, appsKey, appsPolicy, false, f.fill); o.Result != metrics.CacheMiss || f.n.Load() != 1 {
		t.Fatalf("%+v", o)
	}
}

func TestUnusableTopicsAndFill(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFakeClock())
	if _, _, err := c.Get(context.Background(), appsKey, Policy{TTL: time.Minute, Topics: []string{""}}, false, (&filler{}).fill); !errors.Is(err, errBadTopic) {
		t.Errorf("empty topic: %v", err)
	}
	if _, _, err := c.Get(context.Background(), appsKey, appsPolicy, false, nil); !errors.Is(err, errNoFill) {
		t.Errorf("nil fill: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Name: "capi bridge"},
		{Name: "1cache"},
		{KeyPrefix: "x{y}:"},
		{LocalMaxBytes: -1},
		{MaxEntryBytes: -1},
	} {
		if c, err := New(cfg); err == nil {
			_ = c.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	b := &breaker{backoff: time.Second, now: clock.Now, gauge: g, log: slog.New(slog.DiscardHandler)}
	if b.open() {
		t.Fatal("open at start")
	}
	b.fail(errors.New("x"))
	if !b.open() || testutil.ToFloat64(g) != 1 {
		t.Fatal("not open after a failure")
	}
	clock.Add(999 * time.Millisecond)
	if !b.open() {
		t.Fatal("closed before the back-off")
	}
	clock.Add(time.Millisecond)
	if b.open() {
		t.Fatal("still open after the back-off: no probe can pass")
	}
	b.fail(errors.New("probe failed"))
	if !b.open() {
		t.Fatal("a failed probe did not reopen it")
	}
	b.succeed()
	if b.open() || testutil.ToFloat64(g) != 0 {
		t.Fatal("open after a success")
	}
}

func TestOutcomeCacheStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Outcome
		want string
	}{
		{Outcome{Fwd: "", TTL: 1500 * time.Millisecond}, "capibridge; hit; ttl=1"},
		{Outcome{Fwd: fwdMiss, Stored: true}, "capibridge; fwd=miss; stored"},
		{Outcome{Fwd: fwdMiss}, "capibridge; fwd=miss"},
		{Outcome{Fwd: fwdStale, FwdStatus: 500, TTL: -time.Millisecond, staleIfError: true}, "capibridge; fwd=stale; fwd-status=500; ttl=-1; detail=stale-if-error"},
		{Outcome{Fwd: fwdRequest, Stored: true, Collapsed: true}, "capibridge; fwd=request; stored; collapsed"},
		{Outcome{Fwd: fwdBypass}, "capibridge; fwd=bypass"},
		{Outcome{Fwd: fwdBypass, Collapsed: true, detail: detailUnconfirmed}, "capibridge; fwd=bypass; collapsed; detail=generations-unconfirmed"},
	} {
		tc.o.name = "capibridge"
		if got := tc.o.CacheStatus(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
	}
	if !isToken("capibridge") || !isToken("edge/1.2") || isToken("") || isToken("a b") || isToken("\"q\"") {
		t.Error("isToken")
	}
}

func TestRecordCodec(t *testing.T) {
	t.Parallel()
	r := &record{status: 200, contentType: "application/json", body: []byte(`{"a":1}`),
		stored: time.Unix(1700000000, 123), epoch: "e1", topics: []string{"apps", "spaces"}, gens: []uint64{3, 1 << 40}}
	got, err := unmarshalRecord(r.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(r) || !got.stored.Equal(r.stored) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
	// A compressed record travels as its gzip bytes alone, which give the
	// body back when asked.
	big := bytes.Repeat([]byte(`{"name":"app","state":"STARTED"},`), 100)
	z := &record{status: 200, contentType: "application/json", body: big, gz: Gzip(big), stored: time.Unix(1700000000, 0),
		epoch: "e1", topics: []string{"apps"}, gens: []uint64{1}}
	enc := z.marshal()
	if len(enc) > len(big)/4 {
		t.Errorf("a compressed record takes %d bytes for a %d-byte body", len(enc), len(big))
	}
	got, err = unmarshalRecord(enc)
	if err != nil || got.body != nil || !bytes.Equal(got.gz, z.gz) {
		t.Fatalf("compressed round trip: %v", err)
	}
	if body, err := got.entry().Identity(); err != nil || !bytes.Equal(body, big) {
		t.Errorf("the identity of a compressed record: %v", err)
	}
	broken := append(enc[:len(enc)-len(z.gz)], 0x1f, 0x8b, 8, 0, 0)
	if got, err := unmarshalRecord(broken); err != nil {
		t.Errorf("a record with a gzip header: %v", err)
	} else if _, err := got.entry().Identity(); err == nil {
		t.Error("a broken gzip body decompressed")
	}
	notGzip := append(enc[:len(enc)-len(z.gz)], 'x', 'y')
	for _, bad := range [][]byte{nil, {0}, {recordVersion}, r.marshal()[:10], notGzip} {
		if _, err := unmarshalRecord(bad); !errors.Is(err, errBadRecord) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestMessageCodec(t *testing.T) {
	t.Parallel()
	msg := encodeMessage("e1", []string{"apps", "spaces"}, []uint64{7, 9})
	epoch, topics, gens, ok := decodeMessage(msg)
	if !ok || epoch != "e1" || fmt.Sprint(topics, gens) != "[apps spaces] [7 9]" {
		t.Fatalf("%q → %v %v %v %v", msg, epoch, topics, gens, ok)
	}
	for _, bad := range []string{"", "e1", "e1\nx apps", "e1\n1", "\n1 apps"} {
		if _, _, _, ok := decodeMessage(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzUnmarshalRecord(f *testing.F) {
	r := &record{status: 200, body: []byte("x"), epoch: "e", topics: []string{"apps"}, gens: []uint64{1}}
	f.Add(r.marshal())
	f.Add([]byte{recordVersion, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := unmarshalRecord(b)
		if err != nil {
			return
		}
		again, err := unmarshalRecord(r.marshal())
		if err != nil || fmt.Sprint(again) != fmt.Sprint(r) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", r, again, err)
		}
	})
}
