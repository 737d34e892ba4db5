package cache

import (
	"capibridge/internal/redistest"

	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"capibridge/metrics"
)

// The benchmarks serve one ~10 KB page. Each figure is read against the
// baselines measured in the same run: a bare map lookup of the body, and a
// bare Redis GET of it.

var (
	benchBody   = bytes.Repeat([]byte(`{"metadata":{"guid":"0d0e0000-0000-4000-8000-000000000001"}},`), 160)
	benchKey    = Key{Route: "/v2/apps", Path: "/v2/apps", Query: "results-per-page=50&page=2&q=space_guid:5ace0000-0000-4000-8000-000000000001", Who: "05e40000-0000-4000-8000-000000000002"}
	benchPolicy = Policy{TTL: time.Hour, StaleIfError: time.Hour, Topics: []string{"apps", "spaces"}}
)

func benchFill(context.Context) (Entry, error) {
	return Entry{Status: 200, ContentType: "application/json", Body: benchBody}, nil
}

func benchCache(b *testing.B, client redis.UniversalClient) *Cache {
	b.Helper()
	c, err := New(Config{Redis: client, Metrics: metrics.New(prometheus.NewRegistry(), "bench")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, _, err := c.Get(context.Background(), benchKey, benchPolicy, false, benchFill); err != nil {
		b.Fatal(err)
	}
	return c
}

func benchGet(b *testing.B, c *Cache, wantTier string) {
	b.Helper()
	e, o, err := c.Get(context.Background(), benchKey, benchPolicy, false, benchFill)
	if err != nil || o.Result != metrics.CacheHit || o.Tier != wantTier || len(e.Body) != len(benchBody) {
		b.Fatalf("%+v %v", o, err)
	}
}

// BenchmarkBaselineMapLookup is the floor: the body from a Go map by path.
func BenchmarkBaselineMapLookup(b *testing.B) {
	m := map[string]Entry{benchKey.Path + "?" + benchKey.Query: {Status: 200, Body: benchBody}}
	k := benchKey.Path + "?" + benchKey.Query
	b.ReportAllocs()
	for b.Loop() {
		if e := m[k]; len(e.Body) != len(benchBody) {
			b.Fatal("miss")
		}
	}
}

// BenchmarkLocalHit is a hit of the in-process tier without Redis:
// normalising the query, hashing the key, the lookup and the metrics.
func BenchmarkLocalHit(b *testing.B) {
	c := benchCache(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		benchGet(b, c, metrics.TierLocal)
	}
}

// BenchmarkBaselineRedisGet is one bare GET of the body from Redis.
func BenchmarkBaselineRedisGet(b *testing.B) {
	client := redisClient(b, redistest.Start(b).Addr())
	ctx := context.Background()
	if err := client.Set(ctx, "bench", benchBody, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := client.Get(ctx, "bench").Bytes(); err != nil || len(v) != len(benchBody) {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalHitWithRedis is a hit of the in-process tier when Redis
// holds the generations: one request at a time, so every lookup waits for
// a generation read of its own (one MGET round trip).
func BenchmarkLocalHitWithRedis(b *testing.B) {
	c := benchCache(b, redisClient(b, redistest.Start(b).Addr()))
	b.ReportAllocs()
	for b.Loop() {
		benchGet(b, c, metrics.TierLocal)
	}
	b.ReportMetric(testutil.ToFloat64(c.m.CacheGenerationReads)/float64(b.N), "mgets/op")
}

// BenchmarkRedisHit is a hit of the Redis tier: the generation read, then a
// GET and decoding of the entry. The local copy is dropped after each hit
// (a few tens of ns of the figure).
func BenchmarkRedisHit(b *testing.B) {
	c := benchCache(b, redisClient(b, redistest.Start(b).Addr()))
	waitFor(b, "the Redis write", func() bool { return c.redisW.bytes() > 0 })
	v := c.gens.Known()
	key := sum(&benchKey, benchPolicy.Topics, v)
	c.local.c.Invalidate(key)
	b.ReportAllocs()
	for b.Loop() {
		benchGet(b, c, metrics.TierRedis)
		c.local.c.Invalidate(key)
	}
}

// BenchmarkParallelHitsWithRedis is many concurrent requests hitting the
// in-process tier with Redis holding the generations: they share generation
// reads, so mgets/op falls well below 1 and the time per request well
// below a round trip.
func BenchmarkParallelHitsWithRedis(b *testing.B) {
	c := benchCache(b, redisClient(b, redistest.Start(b).Addr()))
	before := testutil.ToFloat64(c.m.CacheGenerationReads)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, metrics.TierLocal)
		}
	})
	b.ReportMetric((testutil.ToFloat64(c.m.CacheGenerationReads)-before)/float64(b.N), "mgets/op")
}

// BenchmarkParallelLocalHit is the same without Redis, for comparison.
func BenchmarkParallelLocalHit(b *testing.B) {
	c := benchCache(b, nil)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, metrics.TierLocal)
		}
	})
}
