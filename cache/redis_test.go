package cache

import (
	"bytes"
	"capibridge/internal/redistest"

	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"capibridge/metrics"
)

// newRedisCache is an instance of the gateway's cache on the shared Redis.
func newRedisCache(t testing.TB, client redis.UniversalClient, mod func(*Config)) *Cache {
	t.Helper()
	cfg := Config{
		Redis:        client,
		RedisTimeout: 200 * time.Millisecond, // generous: the race detector slows everything
		RedisBackoff: 50 * time.Millisecond,
		Metrics:      metrics.New(prometheus.NewRegistry(), "test"),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// versioned answers with the current version of the upstream's data, so a
// test can tell a page filled before a write from one filled after it.
type versioned struct{ v atomic.Int64 }

func (u *versioned) fill(context.Context) (Entry, error) {
	return Entry{Status: 200, ContentType: "application/json", Body: []byte(strconv.FormatInt(u.v.Load(), 10))}, nil
}

func bodyVersion(t testing.TB, e Entry) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(e.Body), 10, 64)
	if err != nil {
		t.Fatalf("body %q", e.Body)
	}
	return n
}

func TestRedisTierSharedByInstances(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	b := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	f := &filler{}
	if _, o := mustGet(t, a, appsKey, appsPolicy, false, f.fill); o.Result != metrics.CacheMiss || !o.Stored {
		t.Fatalf("a: %+v", o)
	}
	// a's Redis write follows its answer; b reads it once it has landed.
	var e Entry
	var o Outcome
	waitFor(t, "b to hit a's entry in Redis", func() bool {
		e, o = mustGet(t, b, appsKey, appsPolicy, false, func(ctx context.Context) (Entry, error) {
			return Entry{Status: 503}, nil // not stored, so b keeps asking Redis
		})
		return o.Result == metrics.CacheHit
	})
	if o.Tier != metrics.TierRedis || string(e.Body) != `{"fill":1}` || e.ContentType != "application/json" {
		t.Fatalf("b: %s %+v", e.Body, o)
	}
	if _, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill); o.Tier != metrics.TierLocal {
		t.Fatalf("b again: %+v", o)
	}
	if f.n.Load() != 1 {
		t.Errorf("%d fills", f.n.Load())
	}
	if testutil.ToFloat64(a.m.CacheGenerationReads) < 1 || testutil.ToFloat64(a.m.RedisBreakerOpen) != 0 {
		t.Error("metrics")
	}
	waitFor(t, "a's redis bytes gauge", func() bool { return testutil.ToFloat64(a.bytesRedis) > 0 })
}

func TestInvalidateOnOneInstanceReadOnAnother(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	b := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	up := &versioned{}
	ctx := context.Background()
	policy := Policy{TTL: time.Hour, Topics: []string{"apps"}}

	// Other clients read through b all along, so b always holds an entry
	// of the previous generation and has generation reads in flight.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := b.Get(ctx, appsKey, policy, false, up.fill); err != nil {
					t.Errorf("background Get: %v", err)
					return
				}
			}
		})
	}
	const writes = 300
	for n := int64(1); n <= writes; n++ {
		mustGet(t, b, appsKey, policy, false, up.fill) // b caches version n-1
		up.v.Store(n)                                  // the write reaches the upstream
		if err := a.Invalidate(ctx, "apps"); err != nil {
			t.Fatal(err)
		}
		// The client got its answer from a; its next read goes to b.
		e, _ := mustGet(t, b, appsKey, policy, false, up.fill)
		if got := bodyVersion(t, e); got < n {
			t.Fatalf("write %d: b served version %d, older than the acknowledged write", n, got)
		}
	}
	if hits := requests(b, "/v2/apps", metrics.CacheHit); hits == 0 {
		t.Error("b never hit: the test exercised nothing")
	}
}

func TestRedisRestartUnderLoad(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	up := &versioned{}
	ctx := context.Background()

	// phase: 0 up, 1 down (Redis killed and reaped), 2 restarting or back.
	var phase atomic.Int32
	var hitsAfter, errorsWhileDown, othersWhileDown atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer halt()
	for w := range 8 {
		wg.Go(func() {
			k := appsKey
			k.Who = "user-" + strconv.Itoa(w%3)
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				_, o, err := c.Get(ctx, k, appsPolicy, false, up.fill)
				if err != nil {
					t.Errorf("Get failed with Redis phase %d: %v", p, err)
					return
				}
				switch {
				case p == 1 && phase.Load() == 1:
					if o.Result == metrics.CacheError {
						errorsWhileDown.Add(1)
					} else {
						othersWhileDown.Add(1)
					}
				case p == 2 && o.Result == metrics.CacheHit:
					hitsAfter.Add(1)
				}
			}
		})
	}
	waitFor(t, "hits before the outage", func() bool { return requests(c, "/v2/apps", metrics.CacheHit) > 50 })

	srv.Kill()
	phase.Store(1)
	waitFor(t, "lookups counted as errors while Redis is down", func() bool { return errorsWhileDown.Load() > 50 })
	if testutil.ToFloat64(c.m.RedisBreakerOpen) != 1 {
		t.Error("breaker gauge not set while Redis is down")
	}

	phase.Store(2)
	srv.Restart()
	waitFor(t, "hits after Redis came back", func() bool { return hitsAfter.Load() > 50 })
	halt()
	if n := othersWhileDown.Load(); n != 0 {
		t.Errorf("%d lookups that began with Redis down were not counted as errors (served from cache?)", n)
	}
	if testutil.ToFloat64(c.m.RedisBreakerOpen) != 0 {
		t.Error("breaker gauge still set")
	}
}

func TestEmptiedRedisStartsANewEpoch(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	// b listens on another channel: it never hears of a's writes and can
	// only learn of them by reading the generations.
	b := newRedisCache(t, redisClient(t, srv.Addr()), func(c *Config) { c.Channel = "elsewhere" })
	up := &versioned{}
	ctx := context.Background()
	mustGet(t, b, appsKey, appsPolicy, false, up.fill) // version 0, generation 0
	up.v.Store(1)
	if err := a.Invalidate(ctx, "apps"); err != nil {
		t.Fatal(err)
	}
	// Redis loses everything, the write's generation with it: back at 0.
	srv.Restart()
	var e Entry
	waitFor(t, "b to use Redis again", func() bool {
		var o Outcome
		e, o = mustGet(t, b, appsKey, appsPolicy, false, up.fill)
		return o.Result != metrics.CacheError
	})
	if bodyVersion(t, e) != 1 {
		t.Fatalf("b served version %s from before the write after Redis lost the generations", e.Body)
	}
}

func TestGenerationsNeverGoBackwards(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redisClient(t, srv.Addr())
	c := newRedisCache(t, client, func(c *Config) { c.KeyPrefix = "t:" })
	ctx := context.Background()
	up := &versioned{}
	mustGet(t, c, appsKey, appsPolicy, false, up.fill) // version 0 under generation 0
	for range 3 {
		if err := c.Invalidate(ctx, "apps"); err != nil {
			t.Fatal(err)
		}
	}
	up.v.Store(3)
	// A failover to a replica that missed the INCRs: generation 0 again,
	// same epoch.
	if err := client.Set(ctx, "t:{gen}:t:apps", "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e, _ := mustGet(t, c, appsKey, appsPolicy, false, up.fill)
	if bodyVersion(t, e) != 3 {
		t.Fatalf("served version %s after the generation went back", e.Body)
	}
	if got, _ := client.Get(ctx, "t:{gen}:t:apps").Int(); got != 3 {
		t.Errorf("generation in Redis = %d, want it raised back to 3", got)
	}
}

func TestPubSubDropsLocalEntriesAndResubscribes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	b := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	ctx := context.Background()
	mustGet(t, b, appsKey, appsPolicy, false, (&filler{}).fill)
	if n := b.local.c.EstimatedSize(); n != 1 {
		t.Fatalf("%d local entries", n)
	}
	// b is subscribed once go-redis has sent SUBSCRIBE; until then a's
	// message would be lost, so invalidate until b hears one.
	waitFor(t, "b to drop its entry on a's message", func() bool {
		if err := a.Invalidate(ctx, "spaces"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		return b.local.c.EstimatedSize() == 0
	})

	srv.Restart()
	// Redis lost its data: b reads once, to learn the new epoch (messages
	// of an epoch it has not read are ignored). Then only its subscription,
	// renewed by go-redis, can tell it of a's writes of another topic.
	waitFor(t, "b to read the new epoch", func() bool {
		_, o := mustGet(t, b, appsKey, appsPolicy, false, (&filler{}).fill)
		return o.Result != metrics.CacheError
	})
	waitFor(t, "a message after Redis came back", func() bool {
		_ = a.Invalidate(ctx, "stacks")
		time.Sleep(5 * time.Millisecond)
		return b.gens.Known().gens["stacks"] > 0
	})
}

func TestInvalidateWhileRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	direct := redisClient(t, srv.Addr())
	proxy := newTCPProxy(t, srv.Addr())
	// a waits a moment for Redis to take a bump, then answers without it.
	a := newRedisCache(t, proxy.client(t), func(c *Config) { c.KeyPrefix = "t:"; c.InvalidateWait = 100 * time.Millisecond })
	ctx := context.Background()
	up := &versioned{}
	if err := a.Invalidate(ctx, "apps"); err != nil {
		t.Fatal(err)
	}
	up.v.Store(1)
	mustGet(t, a, appsKey, appsPolicy, false, up.fill) // version 1 under generation 1

	proxy.cut() // a loses Redis; Redis keeps its data
	up.v.Store(2)
	err := a.Invalidate(ctx, "apps")
	if !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("err %v, want ErrRedisUnavailable", err)
	}
	if got := testutil.ToFloat64(a.m.CacheInvalidationsPending); got != 1 {
		t.Errorf("pending = %v", got)
	}
	if got := testutil.ToFloat64(a.m.CacheInvalidations.WithLabelValues(metrics.InvalidationError)); got != 1 {
		t.Errorf("failed invalidations = %v", got)
	}
	// Reads while Redis is unreachable go to the upstream.
	if e, o := mustGet(t, a, appsKey, appsPolicy, false, up.fill); bodyVersion(t, e) != 2 || o.Result != metrics.CacheError {
		t.Fatalf("while unreachable: %s %+v", e.Body, o)
	}
	if got, _ := direct.Get(ctx, "t:{gen}:t:apps").Int(); got != 1 {
		t.Fatalf("generation = %d while a could not reach Redis", got)
	}

	// Back: the queued bump lands before a reads any generation, so a never
	// serves its version-1 entry of generation 1 again.
	proxy.restore()
	var e Entry
	waitFor(t, "a to use Redis again", func() bool {
		var o Outcome
		e, o = mustGet(t, a, appsKey, appsPolicy, false, up.fill)
		return o.Result != metrics.CacheError
	})
	if bodyVersion(t, e) != 2 {
		t.Fatalf("served version %s after Redis came back", e.Body)
	}
	if got, _ := direct.Get(ctx, "t:{gen}:t:apps").Int(); got != 2 {
		t.Errorf("generation = %d, want the queued bump applied", got)
	}
	if got := testutil.ToFloat64(a.m.CacheInvalidationsPending); got != 0 {
		t.Errorf("pending = %v", got)
	}
}

func TestRedisThatHangs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	proxy := newTCPProxy(t, srv.Addr())
	c := newRedisCache(t, proxy.client(t), nil)
	up := &versioned{}
	waitFor(t, "a hit", func() bool {
		_, o := mustGet(t, c, appsKey, appsPolicy, false, up.fill)
		return o.Result == metrics.CacheHit
	})
	proxy.blackhole(true)
	// Each lookup costs at most a command timeout, then the breaker skips
	// Redis; none fails.
	for range 20 {
		if _, o := mustGet(t, c, appsKey, appsPolicy, false, up.fill); o.Result != metrics.CacheError {
			t.Fatalf("hung Redis: %+v", o)
		}
	}
	if testutil.ToFloat64(c.m.RedisErrors.WithLabelValues(cmdMGet)) == 0 {
		t.Error("no mget error counted")
	}
	proxy.blackhole(false)
	waitFor(t, "hits once Redis answers again", func() bool {
		_, o := mustGet(t, c, appsKey, appsPolicy, false, up.fill)
		return o.Result == metrics.CacheHit
	})
}

func TestNoRedisKeyHoldsTheCaller(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redisClient(t, srv.Addr())
	c := newRedisCache(t, client, nil)
	k := appsKey
	k.Who = "bearer-eyJhbGciOi-secret"
	k.Query = "q=name:secret-app"
	mustGet(t, c, k, appsPolicy, false, (&filler{}).fill)
	var keys []string
	waitFor(t, "the entry in Redis", func() bool {
		var err error
		keys, err = client.Keys(context.Background(), "capibridge:cache:e:*").Result()
		return err == nil && len(keys) == 1
	})
	all, _ := client.Keys(context.Background(), "*").Result()
	for _, key := range all {
		for _, secret := range []string{"secret", "user", "bearer", "/v2", "page"} {
			if strings.Contains(key, secret) {
				t.Errorf("Redis key %q contains %q", key, secret)
			}
		}
	}
}

func TestStartsWhileRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	proxy := newTCPProxy(t, srv.Addr())
	proxy.cut()
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	b := newRedisCache(t, proxy.client(t), nil)
	f := &filler{}
	if _, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill); o.Result != metrics.CacheError {
		t.Fatalf("down: %+v", o)
	}
	proxy.restore()
	waitFor(t, "hits once Redis answers", func() bool {
		_, o := mustGet(t, b, appsKey, appsPolicy, false, f.fill)
		return o.Result == metrics.CacheHit
	})
	// b's subscription, which failed at start, is in place now.
	waitFor(t, "b to hear a's write", func() bool {
		if err := a.Invalidate(context.Background(), "spaces"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		return b.gens.Known().gens["spaces"] > 0
	})
}

// A page another instance put in Redis arrives compressed: a gzip client
// takes its bytes as they are; the first identity client decompresses it,
// and the body is kept beside them in process, so the next one does not.
func TestRedisPagesStayCompressed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	b := newRedisCache(t, redisClient(t, srv.Addr()), nil)
	page := bytes.Repeat([]byte(`{"name":"app","state":"STARTED"},`), 200)
	fill := func(context.Context) (Entry, error) {
		return Entry{Status: 200, ContentType: "application/json", Body: page}, nil
	}
	if e, _ := mustGet(t, a, appsKey, appsPolicy, false, fill); e.Gzip == nil || !bytes.Equal(e.Body, page) {
		t.Fatal("a fill keeps the identity and gzip bytes")
	}
	var e Entry
	waitFor(t, "b to hit a's entry in Redis", func() bool {
		var o Outcome
		e, o = mustGet(t, b, appsKey, appsPolicy, false, func(context.Context) (Entry, error) { return Entry{Status: 503}, nil })
		return o.Tier == metrics.TierRedis
	})
	if e.Body != nil || e.Gzip == nil {
		t.Fatalf("from Redis: body %d bytes, gzip %d", len(e.Body), len(e.Gzip))
	}
	if body, err := e.Identity(); err != nil || !bytes.Equal(body, page) {
		t.Fatalf("Identity: %v", err)
	}
	again, o := mustGet(t, b, appsKey, appsPolicy, false, fill)
	if o.Tier != metrics.TierLocal || !bytes.Equal(again.Body, page) || !bytes.Equal(again.Gzip, e.Gzip) {
		t.Errorf("the next hit: %+v, body kept %v", o, again.Body != nil)
	}
}
