package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"capibridge/cache"
	"capibridge/configs"
	"capibridge/internal/redistest"
	"capibridge/metrics"
)

// syncBuffer is a log destination the cache's goroutines may write to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// redisURLCache is the cache `serve --redis url` builds: the config
// validated as at start-up, then newCache.
func redisURLCache(t *testing.T, url string) (*cache.Cache, *metrics.Metrics, *syncBuffer) {
	t.Helper()
	cfg := configs.Default()
	cfg.Cache.RedisAddrs = []string{url}
	cfg.Cache.RedisTimeout = time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry(), "")
	logs := &syncBuffer{}
	c, _, closeCache, err := newCache(cfg.Cache, m, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeCache)
	return c, m, logs
}

// TestCacheThroughRedisURL: a redis:// URL with a password and a database
// reaches a Redis that requires the password, and the cache works through
// it; with a wrong password the gateway still answers, without the cache,
// and says why.
func TestCacheThroughRedisURL(t *testing.T) {
	t.Parallel()
	srv := redistest.StartPassword(t, "secret")
	ctx := context.Background()
	key := cache.Key{Route: "/v2/apps", Path: "/v2/apps", Who: "global"}
	policy := cache.Policy{TTL: time.Hour, Topics: []string{"apps"}}
	var fills atomic.Int64
	fill := func(context.Context) (cache.Entry, error) {
		fills.Add(1)
		return cache.Entry{Status: 200, ContentType: "application/json", Body: []byte(`{"resources":[]}`)}, nil
	}

	t.Run("right password", func(t *testing.T) {
		url := "redis://:secret@" + srv.Addr() + "/2"
		a, _, _ := redisURLCache(t, url)
		if _, o, err := a.Get(ctx, key, policy, false, fill); err != nil || o.Result != metrics.CacheMiss || !o.Stored {
			t.Fatalf("first read: %+v, %v", o, err)
		}
		// A second instance finds the page in Redis (written just after
		// the first read returned).
		b, _, _ := redisURLCache(t, url)
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, o, err := b.Get(ctx, key, policy, false, fill)
			if err != nil {
				t.Fatal(err)
			}
			if o.Result == metrics.CacheHit && o.Tier == metrics.TierRedis {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second instance never hit Redis: %+v", o)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := b.Invalidate(ctx, "apps"); err != nil {
			t.Errorf("invalidate: %v", err)
		}
		// Everything went to database 2.
		for db, wantKeys := range map[int]bool{0: false, 2: true} {
			rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "secret", DB: db})
			n, err := rc.DBSize(ctx).Result()
			rc.Close()
			if err != nil {
				t.Fatalf("DBSIZE of database %d: %v", db, err)
			}
			if (n > 0) != wantKeys {
				t.Errorf("database %d holds %d keys", db, n)
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		c, m, logs := redisURLCache(t, "redis://:wrong@"+srv.Addr()+"/2")
		before := fills.Load()
		e, o, err := c.Get(ctx, key, policy, false, fill)
		if err != nil || e.Status != 200 || o.Result != metrics.CacheError || fills.Load() != before+1 {
			t.Errorf("read: status %d, %+v, %v; want the fill's answer, counted as a cache error", e.Status, o, err)
		}
		if err := c.Invalidate(ctx, "apps"); !errors.Is(err, cache.ErrRedisUnavailable) || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("invalidate: %v, want redis unavailable: WRONGPASS", err)
		}
		if got := testutil.ToFloat64(m.RedisBreakerOpen); got != 1 {
			t.Errorf("capibridge_redis_breaker_open = %v, want 1", got)
		}
		if l := logs.String(); !strings.Contains(l, "redis unavailable") || !strings.Contains(l, "WRONGPASS") {
			t.Errorf("the log does not say why Redis is unavailable:\n%s", l)
		}
	})
}

// TestServeRefusesABadRedisURL: a URL that cannot work stops serve before
// it listens, naming the key and hiding the password.
func TestServeRefusesABadRedisURL(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve", "--redis", "redis://:secret@127.0.0.1:6379/zero",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "cache.redis_addrs:") || strings.Contains(err.Error(), "secret") {
		t.Errorf("serve --redis <bad URL>: %v", err)
	}
}
