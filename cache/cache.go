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
// When Redis cannot be reached the generations cannot be checked, so no
// cached entry is served: requests go to the fill (slower, not wrong) and
// are counted with result "error". After a failure the cache skips Redis
// for a back-off so requests do not each wait for a timeout; the next
// lookup after it probes Redis, and the cache is used again once it
// answers.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	defaultKeyPrefix     = "capibridge:cache:"
	housekeepingPeriod   = time.Second
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
	// KeyPrefix starts every Redis key; it must not contain "{" or "}"
	// (Redis Cluster hash tags). Default "capibridge:cache:".
	KeyPrefix string
	// Channel is the pub/sub channel of invalidations. Default KeyPrefix +
	// "invalidations".
	Channel string
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
	// fill nor a caller may modify it after handing it over.
	Body []byte
	// Stored is when the fill that produced the entry started; its age is
	// measured from then (the Age header). The cache sets it.
	Stored time.Time
	// NoStore, set by a fill, keeps the answer out of the cache: it shows
	// a state about to change that no write will announce.
	NoStore bool
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

	local  *localStore
	remote store // nil without Redis
	br     *breaker
	gens   generations
	rgens  *redisGens // nil without Redis
	redisW *expiring  // nil without Redis

	flights flights

	sweepCh   chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

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
	local, err := newLocalStore(cfg.LocalMaxBytes)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		name:     cfg.Name,
		now:      cfg.Now,
		log:      cfg.Log,
		m:        cfg.Metrics,
		maxEntry: int(min(cfg.MaxEntryBytes, 1<<31)),
		local:    local,
		sweepCh:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.tierHitLocal = c.m.CacheTierHits.WithLabelValues(metrics.TierLocal)
	c.tierHitRedis = c.m.CacheTierHits.WithLabelValues(metrics.TierRedis)
	c.bytesLocal = c.m.CacheBytes.WithLabelValues(metrics.TierLocal)
	c.bytesRedis = c.m.CacheBytes.WithLabelValues(metrics.TierRedis)
	if cfg.Redis == nil {
		c.gens = newLocalGens(c.scheduleSweep)
	} else {
		c.br = &breaker{backoff: cfg.RedisBackoff, now: time.Now, gauge: c.m.RedisBreakerOpen, log: c.log}
		c.br.gauge.Set(0)
		conn := newRedisConn(cfg.Redis, cfg.RedisTimeout, c.br, c.m)
		c.redisW = &expiring{now: time.Now}
		c.remote = &redisStore{r: conn, prefix: cfg.KeyPrefix, written: c.redisW}
		c.rgens = &redisGens{
			r:         conn,
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
	c.wg.Add(1)
	go c.housekeeping()
	return c, nil
}

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
// fill; a caller whose ctx ends stops waiting and gets ctx's error.
//
// With bypass (a client's Cache-Control: no-cache) the cached entry is not
// read, but the fill's answer replaces it.
//
// When fill fails or answers 5xx, an entry of the same generations younger
// than p.TTL+p.StaleIfError is served instead, marked stale in the Outcome.
// Otherwise fill's entry and error are returned as they are. Redis failures
// never make Get fail: the request is filled instead.
func (c *Cache) Get(ctx context.Context, k Key, p Policy, bypass bool, fill FillFunc) (Entry, Outcome, error) {
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
		// The generations cannot be checked, so nothing cached may be
		// served, and nothing filled now could be stored under the right
		// key. Fill, uncoalesced: a shared fill could have started before
		// this request arrived.
		o.Result, o.Fwd = metrics.CacheError, fwdBypass
		c.count(route, o.Result)
		e, err := fill(ctx)
		return e, o, err
	}
	key := sum(&k, topics, v)

	var cand *record
	var tier string
	redisFailed := false
	if !bypass {
		cand, tier, redisFailed = c.lookup(ctx, key, topics, v, p)
		if cand != nil {
			if age := c.now().Sub(cand.stored); age < p.TTL {
				o.Result, o.Tier, o.TTL = metrics.CacheHit, tier, p.TTL-age
				c.count(route, o.Result)
				if tier == metrics.TierLocal {
					c.tierHitLocal.Inc()
				} else {
					c.tierHitRedis.Inc()
				}
				return cand.entry(), o, nil
			}
		}
	}

	res, shared, err := c.flights.do(ctx, key, !bypass, func(fctx context.Context) fillResult {
		return c.fill(fctx, key, topics, v, p, fill)
	})
	if err != nil {
		return Entry{}, o, fmt.Errorf("cache: waiting for the fill: %w", err)
	}
	o.Collapsed = shared
	switch {
	case bypass:
		o.Fwd = fwdRequest
	case cand != nil:
		o.Fwd = fwdStale
	default:
		o.Fwd = fwdMiss
	}
	if res.err != nil || res.entry.Status >= 500 {
		if cand == nil && bypass {
			var failed bool
			cand, tier, failed = c.lookup(ctx, key, topics, v, p)
			redisFailed = redisFailed || failed
		}
		if cand != nil {
			if age := c.now().Sub(cand.stored); age < p.TTL+p.StaleIfError {
				o.Result, o.Tier, o.TTL, o.FwdStatus, o.staleIfError = metrics.CacheStale, tier, p.TTL-age, res.entry.Status, true
				if res.err != nil {
					o.FwdStatus = 0
				}
				c.count(route, o.Result)
				return cand.entry(), o, nil
			}
		}
	}
	o.Stored = res.stored
	switch {
	case redisFailed:
		o.Result = metrics.CacheError
	case bypass:
		o.Result = metrics.CacheBypass
	default:
		o.Result = metrics.CacheMiss
	}
	c.count(route, o.Result)
	return res.entry, o, res.err
}

// lookup finds the entry under key: the local one if it is fresh, else the
// fresher of the local one and Redis's (another instance may have refreshed
// it). It returns nil for an entry too old even to be served stale, and
// reports whether Redis failed (or was skipped) on the way.
func (c *Cache) lookup(ctx context.Context, key hashKey, topics []string, v *genView, p Policy) (*record, string, bool) {
	now := c.now()
	hard := p.TTL + p.StaleIfError
	var best *record
	var tier string
	if r, _ := c.local.Get(ctx, key); r != nil && r.matches(v, topics) && now.Sub(r.stored) < hard {
		if now.Sub(r.stored) < p.TTL {
			return r, metrics.TierLocal, false
		}
		best, tier = r, metrics.TierLocal
	}
	if c.remote == nil {
		return best, tier, false
	}
	if c.br.open() {
		return best, tier, true
	}
	r, err := c.remote.Get(ctx, key)
	if err != nil {
		return best, tier, !errors.Is(err, errBadRecord)
	}
	if r == nil || !r.matches(v, topics) || best != nil && !r.stored.After(best.stored) {
		return best, tier, false
	}
	left := r.stored.Add(hard).Sub(now)
	if left <= 0 {
		return best, tier, false
	}
	_ = c.local.Set(ctx, key, r, left)
	return r, metrics.TierRedis, false
}

// fill runs on the flight's goroutine: it calls the FillFunc and stores a
// 200 answer locally before the waiters are released, and in Redis after.
func (c *Cache) fill(ctx context.Context, key hashKey, topics []string, v *genView, p Policy, fill FillFunc) fillResult {
	start := c.now()
	e, err := fill(ctx)
	if err != nil {
		return fillResult{err: err}
	}
	e.Stored = start
	if e.Status != 200 || e.NoStore || len(e.Body) > c.maxEntry {
		return fillResult{entry: e}
	}
	r := &record{
		status:      e.Status,
		contentType: e.ContentType,
		body:        e.Body,
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
	res := fillResult{entry: e, stored: true}
	if c.remote != nil && !c.br.open() {
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
// If Redis cannot be reached it returns an error wrapping
// ErrRedisUnavailable; the bump is queued and applied as soon as Redis
// answers (this instance reads no generations before it is), so the caller
// should log it, not fail the write.
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
// size gauges and retries queued invalidations.
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
			if c.rgens.npending.Load() > 0 {
				_ = c.rgens.flushPending(context.Background())
			}
		}
	}
}
