// Package cache is the engine of capibridge's list-page cache: an
// in-process tier bounded in bytes in front of a Redis tier shared by every
// gateway instance, with keys that never hold a token, invalidation by topic
// generations, coalesced fills, stale-if-error serving and the RFC 9211
// Cache-Status value. It knows nothing of v2 shapes or of fasthttp.
//
// # Correctness
//
// A write through any instance calls Invalidate once the upstream has done
// the write and before the client is answered; it increments in Redis a
// generation per topic the write touched. Every
// lookup first reads the generations of its topics as of a moment after it
// arrived (reads are coalesced: one MGET serves every lookup that arrived
// while the previous one was in flight), and the entry's key is a hash of
// the request and those generations. So a client that got an answer to its
// write never reads, from any instance, a page filled before that write:
// the page it could read was filled under the new generations, by a fill
// that started after they were read. Pub/sub only frees memory early.
//
// When an instance cannot read the generations (Redis unreachable, or
// slower than the command timeout), it cannot confirm that a cached page
// is current, so it serves none, from either tier: requests go upstream
// (slower, not wrong), counted with result "error" and marked
// "fwd=bypass; detail=generations-unconfirmed" in Cache-Status. They still
// share fills, but only fills that started after they arrived, so each
// answer is as of a moment after its request. After a failure the cache
// skips Redis for a back-off so requests do not each wait for a timeout;
// the next lookup after it probes Redis. Failures of the Redis page tier
// alone (a page's GET or SET) only skip that tier: the generations still
// confirm the in-process tier.
//
// The other half is the writer's. When Redis does not take a bump at once,
// Invalidate queues it and retries, and the write's answer waits until
// Redis takes it, at most Config.InvalidateWait. Until the bump lands no
// other instance can know of the write, since Redis is all they share; the
// writing instance itself applies its queued bumps before it reads any
// generation, so it never serves a page older than its own writes. Hence
// the guarantee: a client never reads, from any instance, a page older than
// a write it saw answered, provided Redis took the write's bump within
// InvalidateWait. A write answered without its bump (Redis away longer than
// that; Invalidate returns ErrRedisUnavailable and
// capibridge_cache_invalidations_total{result="error"} counts it) may be
// missing from pages other instances that can still read the generations
// serve, until the writer's retry lands; if the writer dies first, the TTL
// bounds it.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"capibridge/metrics"
)

// Defaults for the zero values of Config.
const (
	defaultName          = "capibridge"
	defaultLocalMaxBytes = 64 << 20
	defaultMaxEntryBytes = 4 << 20
	defaultRedisTimeout  = 50 * time.Millisecond
	defaultRedisBackoff  = time.Second
	// defaultInvalidateWait covers a Redis that stalls for a moment (a
	// slow fork, a paused or restarted server) without holding writes long
	// when it is down.
	defaultInvalidateWait   = 2 * time.Second
	defaultKeyPrefix        = "capibridge:cache:"
	defaultFragmentMaxBytes = 32 << 20
	defaultCompressMinBytes = 1 << 10
	defaultFragmentTTL      = time.Hour
	housekeepingPeriod      = time.Second
	// minSweepInterval spaces sweeps of the local tier (each walks every
	// entry) when writes are frequent; a sweep asked for sooner waits for
	// the next housekeeping tick.
	minSweepInterval = 250 * time.Millisecond
)

// Config configures a Cache. The zero value of every field but Redis has a
// usable default.
type Config struct {
	// Name is the cache's name in Cache-Status (RFC 9211 §2), an sf-token.
	// Default "capibridge".
	Name string
	// LocalMaxBytes bounds the in-process tier, weighed by body size plus a
	// small per-entry overhead. Default 64 MiB.
	LocalMaxBytes int64
	// MaxEntryBytes is the largest body the cache stores; larger responses
	// are served but not kept. Default 4 MiB.
	MaxEntryBytes int64
	// Redis is the shared tier and the home of the generations; build it
	// with NewRedisClient. Nil runs the in-process tier alone, with
	// process-local generations (right for one instance only). The cache
	// does not close it.
	Redis redis.UniversalClient
	// RedisTimeout bounds each Redis command. Default 50ms.
	RedisTimeout time.Duration
	// RedisBackoff is how long the cache skips Redis after a failure.
	// Default 1s.
	RedisBackoff time.Duration
	// InvalidateWait is how long Invalidate keeps retrying a bump Redis
	// did not take at once, and so how long a write's answer may wait for
	// it, before it gives up and leaves the bump queued. Default 2s.
	InvalidateWait time.Duration
	// KeyPrefix starts every Redis key; it must not contain "{" or "}"
	// (Redis Cluster hash tags). Default "capibridge:cache:".
	KeyPrefix string
	// Channel is the pub/sub channel of invalidations. Default KeyPrefix +
	// "invalidations".
	Channel string
	// CompressMinBytes is the smallest body stored compressed too.
	// Default 1 KiB; negative: none.
	CompressMinBytes int
	// FragmentMaxBytes bounds the in-process tier of per-resource
	// fragments (Fragments). Default 32 MiB.
	FragmentMaxBytes int64
	// FragmentTTL is how long an unused fragment is kept in either tier;
	// stamps, not the TTL, keep fragments current. Default 1h.
	FragmentTTL time.Duration
	// Metrics receives the cache's collectors. Nil counts into a private
	// registry nobody reads.
	Metrics *metrics.Metrics
	// Now is the clock of entry ages (TTL and stale-if-error). Default
	// time.Now.
	Now func() time.Time
	// Log receives Redis state changes, never one line per request. Default
	// discards.
	Log *slog.Logger
}

// Key identifies a cacheable request.
type Key struct {
	// Route is the bounded route template, such as "/v2/apps"; it is also
	// the "route" label of the metrics.
	Route string
	// Path is the request's actual path.
	Path string
	// Query is the raw query string. The cache normalises it: the order of
	// distinct parameters and the percent-encoding do not matter; repeated
	// parameters keep their relative order.
	Query string
	// Who is the class of caller whose answers are alike, decided by the
	// caller: "global" for a page every caller sees the same, or a user id.
	// Never a raw token: it is hashed, but it also decides who shares what.
	Who string
}

// Policy says how long an answer may be kept and what invalidates it.
type Policy struct {
	// TTL is how long an entry is served without asking the upstream. It
	// bounds staleness from writes that bypass the gateway. Zero or less
	// means the request is not cached.
	TTL time.Duration
	// StaleIfError is how long past TTL an entry may still be served when
	// the upstream fails (RFC 5861).
	StaleIfError time.Duration
	// Topics are the generations the answer depends on, such as "apps" and
	// "spaces": an Invalidate of any of them makes the entry unreachable.
	Topics []string
}

// Entry is a cached or freshly filled response.
type Entry struct {
	// Status is the HTTP status. Only 200 is stored.
	Status int
	// ContentType is the Content-Type of Body.
	ContentType string
	// Body is the response body. The cache keeps and shares it: neither a
	// fill nor a caller may modify it after handing it over. It is nil for
	// an entry read from Redis that is kept compressed: Identity gives it.
	Body []byte
	// Gzip is Body compressed, set by the cache on what it stores (nil for
	// bodies under Config.CompressMinBytes); the same sharing rule holds.
	Gzip []byte
	// Stored is when the fill that produced the entry started; its age is
	// measured from then (the Age header). The cache sets it.
	Stored time.Time
	// NoStore, set by a fill, keeps the answer out of the cache: it shows
	// a state about to change that no write will announce.
	NoStore bool
	// keep, on an entry that holds only Gzip, keeps the decompressed body
	// in the in-process tier once Identity has made it.
	keep func(body []byte)
}

// Identity returns the uncompressed body: Body, or Gzip decompressed
// (once per call: entries read from Redis are kept compressed only, and
// most clients take the gzip bytes).
func (e Entry) Identity() ([]byte, error) {
	if e.Body != nil || e.Gzip == nil {
		return e.Body, nil
	}
	b, err := gunzip(e.Gzip)
	if err != nil {
		return nil, fmt.Errorf("cache: a stored page does not decompress: %w", err)
	}
	if e.keep != nil {
		e.keep(b)
	}
	return b, nil
}

// entryOf is the entry of r, found under key. A record read from Redis
// holds only the gzip bytes: the first Identity of it keeps the
// decompressed body beside them in the in-process tier (weighed anew), so
// that identity clients decompress it once per instance, and gzip clients
// never.
func (c *Cache) entryOf(key hashKey, r *record, p Policy) Entry {
	e := r.entry()
	if r.body == nil && r.gz != nil {
		e.keep = func(body []byte) {
			ctx := context.Background()
			if cur, _ := c.local.Get(ctx, key); cur != nil && cur != r {
				return // replaced meanwhile
			}
			whole := *r
			whole.body = body
			if age := c.now().Sub(r.stored); age < p.TTL {
				_ = c.local.Set(ctx, key, &whole, p.TTL+p.StaleIfError-age)
			}
		}
	}
	return e
}

// FillFunc produces the response for a cache miss. It may outlive the Get
// that started it, since other callers may still wait for it, so it must
// not use anything tied to one request's lifetime (a fasthttp.RequestCtx or
// its byte slices): copy what it needs before calling Get, and use ctx,
// which keeps the starting caller's values and ends when no caller waits
// any more. Its errors are returned to the callers as they are.
type FillFunc func(ctx context.Context) (Entry, error)

// Cache is the two-tier list-page cache. It is safe for concurrent use.
type Cache struct {
	name     string
	now      func() time.Time
	log      *slog.Logger
	m        *metrics.Metrics
	maxEntry int
	// compressMin is Config.CompressMinBytes, MaxInt for none.
	compressMin int

	local  *localStore
	remote store // nil without Redis
	// br is the generations' breaker: open, nothing cached is served.
	// pageBr is the Redis tier's: open, only that tier is skipped.
	br, pageBr *breaker
	gens       generations
	rgens      *redisGens // nil without Redis
	redisW     *expiring  // nil without Redis

	flights flights

	sweepCh   chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	frags *Fragments

	tierHitLocal, tierHitRedis prometheus.Counter
	bytesLocal, bytesRedis     prometheus.Gauge
}

var errNoFill = errors.New("cache: no fill function")

// New builds a Cache and starts its housekeeping and, with Redis, its
// pub/sub listener. It waits for Redis at most one command timeout (the
// first SUBSCRIBE) and never fails because of it: a Redis that is down at
// start means requests are filled until it answers.
func New(cfg Config) (*Cache, error) {
	if cfg.Name == "" {
		cfg.Name = defaultName
	}
	if !isToken(cfg.Name) {
		return nil, fmt.Errorf("cache: name %q is not an RFC 8941 token", cfg.Name)
	}
	switch {
	case cfg.LocalMaxBytes == 0:
		cfg.LocalMaxBytes = defaultLocalMaxBytes
	case cfg.LocalMaxBytes < 0:
		return nil, errors.New("cache: LocalMaxBytes must not be negative")
	}
	switch {
	case cfg.MaxEntryBytes == 0:
		cfg.MaxEntryBytes = defaultMaxEntryBytes
	case cfg.MaxEntryBytes < 0:
		return nil, errors.New("cache: MaxEntryBytes must not be negative")
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = defaultRedisTimeout
	}
	if cfg.RedisBackoff <= 0 {
		cfg.RedisBackoff = defaultRedisBackoff
	}
	if cfg.InvalidateWait <= 0 {
		cfg.InvalidateWait = defaultInvalidateWait
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = defaultKeyPrefix
	}
	for _, c := range cfg.KeyPrefix {
		if c == '{' || c == '}' {
			return nil, errors.New("cache: KeyPrefix must not contain { or }")
		}
	}
	if cfg.Channel == "" {
		cfg.Channel = cfg.KeyPrefix + "invalidations"
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(prometheus.NewRegistry(), "")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.FragmentMaxBytes == 0:
		cfg.FragmentMaxBytes = defaultFragmentMaxBytes
	case cfg.FragmentMaxBytes < 0:
		return nil, errors.New("cache: FragmentMaxBytes must not be negative")
	}
	switch {
	case cfg.CompressMinBytes == 0:
		cfg.CompressMinBytes = defaultCompressMinBytes
	case cfg.CompressMinBytes < 0:
		cfg.CompressMinBytes = math.MaxInt
	}
	if cfg.FragmentTTL <= 0 {
		cfg.FragmentTTL = defaultFragmentTTL
	}
	local, err := newLocalStore(cfg.LocalMaxBytes)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		name:        cfg.Name,
		now:         cfg.Now,
		log:         cfg.Log,
		m:           cfg.Metrics,
		maxEntry:    int(min(cfg.MaxEntryBytes, 1<<31)),
		compressMin: cfg.CompressMinBytes,
		local:       local,
		sweepCh:     make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	c.tierHitLocal = c.m.CacheTierHits.WithLabelValues(metrics.TierLocal)
	c.tierHitRedis = c.m.CacheTierHits.WithLabelValues(metrics.TierRedis)
	c.bytesLocal = c.m.CacheBytes.WithLabelValues(metrics.TierLocal)
	c.bytesRedis = c.m.CacheBytes.WithLabelValues(metrics.TierRedis)
	if cfg.Redis == nil {
		c.gens = newLocalGens(c.scheduleSweep)
	} else {
		c.br = &breaker{backoff: cfg.RedisBackoff, now: time.Now, gauge: c.m.RedisBreakerOpen, log: c.log,
			down: "cache: redis unavailable, serving without the cache", up: "cache: redis reachable again"}
		c.br.gauge.Set(0)
		c.pageBr = &breaker{backoff: cfg.RedisBackoff, now: time.Now, gauge: c.m.RedisPageBreakerOpen, log: c.log,
			down: "cache: redis page tier failing, serving from the in-process tier", up: "cache: redis page tier answering again"}
		c.pageBr.gauge.Set(0)
		c.redisW = &expiring{now: time.Now}
		c.remote = &redisStore{r: newRedisConn(cfg.Redis, cfg.RedisTimeout, c.pageBr, c.m), prefix: cfg.KeyPrefix, written: c.redisW}
		c.rgens = &redisGens{
			r:         newRedisConn(cfg.Redis, cfg.RedisTimeout, c.br, c.m),
			wait:      cfg.InvalidateWait,
			done:      c.done,
			genPrefix: cfg.KeyPrefix + "{gen}:t:",
			epochKey:  cfg.KeyPrefix + "{gen}:epoch",
			channel:   cfg.Channel,
			known:     newKnowledge("", c.scheduleSweep),
			m:         c.m,
			log:       c.log,
		}
		c.gens = c.rgens
		c.rgens.subscribe()
	}
	var fr *redisConn
	if cfg.Redis != nil {
		fr = newRedisConn(cfg.Redis, cfg.RedisTimeout, c.pageBr, c.m)
	}
	if c.frags, err = newFragments(cfg.FragmentMaxBytes, cfg.FragmentTTL, c.maxEntry, fr, cfg.KeyPrefix); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.housekeeping()
	return c, nil
}

// Fragments is the cache's store of per-resource fragments, in the same
// tiers as the pages.
func (c *Cache) Fragments() *Fragments { return c.frags }

// Close stops the cache's goroutines. It does not close the Redis client.
// Get still works afterwards, without housekeeping.
func (c *Cache) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.wg.Wait()
		if c.rgens != nil {
			err = c.rgens.close()
		}
		c.local.close()
	})
	if err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// Get returns the answer to k: from the cache when an entry filled under the
// current generations of p.Topics is younger than p.TTL, otherwise from
// fill, whose 200 answers are stored. Concurrent misses of one key share one
// fill (and one read of the Redis tier); a caller whose ctx ends stops
// waiting and gets ctx's error.
//
// With bypass (a client's Cache-Control: no-cache) the cached entry is not
// read, but the fill's answer replaces it. Concurrent refreshes of one key
// share one fill that started after they all arrived.
//
// When fill fails or answers 5xx, an entry of the same generations younger
// than p.TTL+p.StaleIfError is served instead, marked stale in the Outcome.
// Otherwise fill's entry and error are returned as they are. Redis failures
// never make Get fail: when the generations cannot be read, nothing cached
// is served and the request is filled, sharing only fills that started
// after it arrived.
func (c *Cache) Get(ctx context.Context, k Key, p Policy, bypass bool, fill FillFunc) (Entry, Outcome, error) {
	arrival := c.flights.arrive()
	o := Outcome{name: c.name}
	if fill == nil {
		return Entry{}, o, errNoFill
	}
	topics, err := normTopics(p.Topics)
	if err != nil {
		return Entry{}, o, err
	}
	route := k.Route
	if route == "" {
		route = metrics.RouteOther
	}
	if p.TTL <= 0 {
		o.Result, o.Fwd = metrics.CacheBypass, fwdBypass
		c.count(route, o.Result)
		e, err := fill(ctx)
		return e, o, err
	}
	v, err := c.gens.Read(ctx, topics)
	if err != nil {
		if ctx.Err() != nil {
			return Entry{}, o, fmt.Errorf("cache: %w", ctx.Err())
		}
		return c.getUnconfirmed(ctx, &k, topics, route, arrival, fill)
	}
	key := sum(&k, topics, v)

	var local *record
	if !bypass {
		local = c.lookupLocal(key, topics, v, p)
		if local != nil {
			if age := c.now().Sub(local.stored); age < p.TTL {
				o.Result, o.Tier, o.TTL = metrics.CacheHit, metrics.TierLocal, p.TTL-age
				c.count(route, o.Result)
				c.tierHitLocal.Inc()
				return c.entryOf(key, local, p), o, nil
			}
		}
	}

	res, shared, err := c.flights.do(ctx, key, arrival, bypass, func(fctx context.Context) fillResult {
		return c.fill(fctx, key, topics, v, p, route, !bypass, fill)
	})
	if err != nil {
		return Entry{}, o, fmt.Errorf("cache: waiting for the fill: %w", err)
	}
	if res.hit {
		// Another instance's entry, found in Redis by this key's flight.
		o.Result, o.Tier, o.TTL = metrics.CacheHit, metrics.TierRedis, p.TTL-c.now().Sub(res.rec.stored)
		c.count(route, o.Result)
		c.tierHitRedis.Inc()
		return c.entryOf(key, res.rec, p), o, nil
	}
	o.Collapsed = shared
	switch {
	case bypass:
		o.Fwd = fwdRequest
	case local != nil || res.rec != nil:
		o.Fwd = fwdStale
	default:
		o.Fwd = fwdMiss
	}
	if res.err != nil || res.entry.Status >= 500 {
		if bypass {
			local = c.lookupLocal(key, topics, v, p)
		}
		cand, tier := local, metrics.TierLocal
		if res.rec != nil && (cand == nil || res.rec.stored.After(cand.stored)) {
			cand, tier = res.rec, metrics.TierRedis
		}
		if cand != nil {
			if age := c.now().Sub(cand.stored); age < p.TTL+p.StaleIfError {
				o.Result, o.Tier, o.TTL, o.FwdStatus, o.staleIfError = metrics.CacheStale, tier, p.TTL-age, res.entry.Status, true
				if res.err != nil {
					o.FwdStatus = 0
				}
				c.count(route, o.Result)
				return c.entryOf(key, cand, p), o, nil
			}
		}
	}
	o.Stored = res.stored
	switch {
	case res.redisFailed:
		o.Result = metrics.CacheError
	case bypass:
		o.Result = metrics.CacheBypass
	default:
		o.Result = metrics.CacheMiss
	}
	c.count(route, o.Result)
	return res.entry, o, res.err
}

// unconfirmedView addresses the fills of requests that could not read the
// generations: no real view has an empty epoch, so their flights never mix
// with those of entries.
var unconfirmedView = &genView{}

// getUnconfirmed answers a request whose generations could not be read.
// Nothing cached may be served, and nothing filled now could be stored
// under the right key, so it fills; concurrent requests of one key share
// fills that started after they arrived, so a slow Redis costs a miss per
// key, not a fill per request.
func (c *Cache) getUnconfirmed(ctx context.Context, k *Key, topics []string, route string, arrival uint64, fill FillFunc) (Entry, Outcome, error) {
	o := Outcome{name: c.name, Result: metrics.CacheError, Fwd: fwdBypass, detail: detailUnconfirmed}
	res, shared, err := c.flights.do(ctx, sum(k, topics, unconfirmedView), arrival, true, func(fctx context.Context) fillResult {
		c.m.CacheFills.WithLabelValues(route, metrics.FillUnconfirmed).Inc()
		e, err := fill(fctx)
		return fillResult{entry: e, err: err}
	})
	if err != nil {
		return Entry{}, o, fmt.Errorf("cache: waiting for the fill: %w", err)
	}
	o.Collapsed = shared
	c.count(route, o.Result)
	return res.entry, o, res.err
}

// lookupLocal returns the in-process entry under key if it may still be
// served, fresh or stale.
func (c *Cache) lookupLocal(key hashKey, topics []string, v *genView, p Policy) *record {
	r, _ := c.local.Get(context.Background(), key)
	if r == nil || !r.matches(v, topics) || c.now().Sub(r.stored) >= p.TTL+p.StaleIfError {
		return nil
	}
	return r
}

// lookupRemote returns the Redis entry under key if it may still be served,
// fresh or stale, and reports whether Redis failed (or was skipped) on the
// way. A fresh entry is copied to the local tier.
func (c *Cache) lookupRemote(ctx context.Context, key hashKey, topics []string, v *genView, p Policy) (*record, bool) {
	if c.remote == nil {
		return nil, false
	}
	if c.pageBr.open() {
		return nil, true
	}
	r, err := c.remote.Get(ctx, key)
	if err != nil {
		return nil, !errors.Is(err, errBadRecord)
	}
	if r == nil || !r.matches(v, topics) {
		return nil, false
	}
	age := c.now().Sub(r.stored)
	if age >= p.TTL+p.StaleIfError {
		return nil, false
	}
	if age < p.TTL {
		_ = c.local.Set(ctx, key, r, p.TTL+p.StaleIfError-age)
	}
	return r, false
}

// fill runs on the flight's goroutine: with remote, it first looks for the
// entry in Redis (another instance may have filled or refreshed it); then
// it calls the FillFunc and stores a 200 answer locally before the waiters
// are released, and in Redis after.
func (c *Cache) fill(ctx context.Context, key hashKey, topics []string, v *genView, p Policy, route string, remote bool, fill FillFunc) fillResult {
	var res fillResult
	reason := metrics.FillRefresh
	if remote {
		reason = metrics.FillMiss
		res.rec, res.redisFailed = c.lookupRemote(ctx, key, topics, v, p)
		if res.rec != nil && c.now().Sub(res.rec.stored) < p.TTL {
			res.hit = true
			return res
		}
	}
	c.m.CacheFills.WithLabelValues(route, reason).Inc()
	start := c.now()
	e, err := fill(ctx)
	if err != nil || e.Status >= 500 {
		if !remote {
			// A candidate to serve stale, shared by every waiter.
			var failed bool
			res.rec, failed = c.lookupRemote(ctx, key, topics, v, p)
			res.redisFailed = res.redisFailed || failed
		}
		if err != nil {
			res.err = err
			return res
		}
	}
	e.Stored = start
	res.entry = e
	if e.Status != 200 || e.NoStore || len(e.Body) > c.maxEntry {
		return res
	}
	if len(e.Body) >= c.compressMin {
		e.Gzip = Gzip(e.Body)
		res.entry.Gzip = e.Gzip
	}
	r := &record{
		status:      e.Status,
		contentType: e.ContentType,
		body:        e.Body,
		gz:          e.Gzip,
		stored:      start,
		epoch:       v.epoch,
		topics:      slices.Clone(topics),
		gens:        make([]uint64, len(topics)),
	}
	for i, t := range topics {
		r.gens[i] = v.gens[t]
	}
	hard := p.TTL + p.StaleIfError
	_ = c.local.Set(ctx, key, r, hard)
	res.stored = true
	if c.remote != nil && !c.pageBr.open() {
		// The flight's context ends when its waiters are released; the
		// write has its own command timeout.
		res.then = func() { _ = c.remote.Set(context.WithoutCancel(ctx), key, r, hard) }
	}
	return res
}

// Invalidate bumps the generations of topics after a write: from then on
// no instance serves an entry filled under the old ones. Call it once the
// upstream has completed the write, not before (a fill that started in
// between would store the old state under the new generations), and return
// the answer to the client only after it: that ordering is the whole
// guarantee. A write the upstream completes later (a v3 job) needs another
// Invalidate when it completes; until then the TTL bounds staleness.
//
// If Redis does not take the bump at once, Invalidate queues it and waits
// while it is retried, at most Config.InvalidateWait or until ctx ends: a
// Redis that stalls for a moment costs the write time, not the guarantee.
// If the wait ends first it returns an error wrapping ErrRedisUnavailable;
// the bump stays queued and is applied as soon as Redis takes it (this
// instance reads no generations before it is), so the caller should log
// it, not fail the write: until then other instances may serve pages older
// than the write (see the package doc).
func (c *Cache) Invalidate(ctx context.Context, topics ...string) error {
	ts, err := normTopics(topics)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return nil
	}
	if err := c.gens.Bump(ctx, ts); err != nil {
		return err
	}
	if c.rgens == nil {
		c.m.CacheInvalidations.WithLabelValues(metrics.InvalidationOK).Add(float64(len(ts)))
	}
	return nil
}

func (c *Cache) count(route, result string) {
	c.m.CacheRequests.WithLabelValues(route, result).Inc()
}

func (c *Cache) scheduleSweep() {
	select {
	case c.sweepCh <- struct{}{}:
	default:
	}
}

// sweep drops the local entries that newer generations have made
// unreachable, to free their memory before their TTL does.
func (c *Cache) sweep() {
	v := c.gens.Known()
	c.local.drop(func(r *record) bool { return r.outdated(v) })
	c.bytesLocal.Set(float64(c.local.bytes()))
}

// housekeeping sweeps on new generations and, every second, refreshes the
// size gauges. Queued invalidations have a retry loop of their own.
func (c *Cache) housekeeping() {
	defer c.wg.Done()
	t := time.NewTicker(housekeepingPeriod)
	defer t.Stop()
	var last time.Time
	deferred := false
	for {
		select {
		case <-c.done:
			return
		case <-c.sweepCh:
			if time.Since(last) < minSweepInterval {
				deferred = true
				continue
			}
			c.sweep()
			last = time.Now()
		case <-t.C:
			if deferred {
				c.sweep()
				last, deferred = time.Now(), false
			}
			c.bytesLocal.Set(float64(c.local.bytes()))
			if c.rgens == nil {
				continue
			}
			c.bytesRedis.Set(float64(c.redisW.bytes()))
		}
	}
}
