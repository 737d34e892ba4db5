package cache

import (
	"container/heap"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"capibridge/metrics"
)

// ErrRedisUnavailable is returned by Invalidate when Redis cannot be
// reached; the bump is queued and applied when Redis answers again.
var ErrRedisUnavailable = errors.New("cache: redis unavailable")

var (
	errBreakerOpen   = fmt.Errorf("%w: backing off after a failure", ErrRedisUnavailable)
	errBadGeneration = errors.New("cache: a generation in Redis is not a number")
	errEpochChanged  = errors.New("cache: the Redis epoch changed during a read")
)

// Redis command names, the bounded values of the "command" label.
const (
	cmdGet     = "get"
	cmdSet     = "set"
	cmdMGet    = "mget"
	cmdIncr    = "incr"
	cmdPublish = "publish"
	cmdSetNX   = "setnx"
	cmdRaise   = "raise"
	cmdHGet    = "hget"
	cmdHSet    = "hset"
	cmdDel     = "del"
)

// NewRedisClient returns a client for the cache from o: standalone,
// Sentinel (o.MasterName) or Cluster, as redis.NewUniversalClient chooses.
// It makes commands honour their context's deadline (the cache gives each
// command its own timeout), and, where o leaves them unset, turns off
// go-redis's own retries (the cache backs off instead) and bounds dials and
// socket I/O, so a Redis that hangs costs a request at most one timeout.
// It turns off reads from replicas (ReadOnly, RouteByLatency,
// RouteRandomly): a replica that lags would hand out generations older than
// an acknowledged write.
func NewRedisClient(o redis.UniversalOptions, timeout time.Duration) redis.UniversalClient {
	if timeout <= 0 {
		timeout = defaultRedisTimeout
	}
	o.ContextTimeoutEnabled = true
	o.ReadOnly, o.RouteByLatency, o.RouteRandomly = false, false, false
	if o.MaxRetries == 0 {
		o.MaxRetries = -1
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = timeout
	}
	return redis.NewUniversalClient(&o)
}

// breaker makes the cache skip Redis for a back-off after a failure, so
// that requests do not each wait for a timeout while Redis is down. Once the
// back-off has passed, the next command is the probe: success closes the
// breaker, failure opens it for another back-off.
type breaker struct {
	backoff   time.Duration
	now       func() time.Time
	openUntil atomic.Int64 // Unix nanoseconds; 0 while closed
	gauge     prometheus.Gauge
	log       *slog.Logger
	// down and up are the log messages of opening and closing.
	down, up string
}

// open reports whether Redis is to be skipped now.
func (b *breaker) open() bool {
	u := b.openUntil.Load()
	return u != 0 && b.now().UnixNano() < u
}

func (b *breaker) fail(err error) {
	if b.openUntil.Swap(b.now().Add(b.backoff).UnixNano()) == 0 {
		b.gauge.Set(1)
		b.log.Warn(b.down, "error", err, "backoff", b.backoff)
	}
}

func (b *breaker) succeed() {
	if b.openUntil.Load() != 0 && b.openUntil.Swap(0) != 0 {
		b.gauge.Set(0)
		b.log.Info(b.up)
	}
}

// redisConn runs commands with a timeout each, times them, and feeds the
// breaker.
type redisConn struct {
	client   redis.UniversalClient
	timeout  time.Duration
	br       *breaker
	duration map[string]prometheus.Observer
	errors   map[string]prometheus.Counter
}

func newRedisConn(client redis.UniversalClient, timeout time.Duration, br *breaker, m *metrics.Metrics) *redisConn {
	r := &redisConn{client: client, timeout: timeout, br: br,
		duration: map[string]prometheus.Observer{}, errors: map[string]prometheus.Counter{}}
	for _, c := range []string{cmdGet, cmdSet, cmdMGet, cmdIncr, cmdPublish, cmdSetNX, cmdRaise, cmdHGet, cmdHSet, cmdDel} {
		r.duration[c] = m.RedisDuration.WithLabelValues(c)
		r.errors[c] = m.RedisErrors.WithLabelValues(c)
	}
	return r
}

// call runs f with a context bounded by the command timeout. A failure
// other than redis.Nil opens the breaker, unless it came from the caller's
// own context ending.
func (r *redisConn) call(ctx context.Context, cmd string, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	start := time.Now()
	err := f(cctx)
	cancel()
	r.duration[cmd].Observe(time.Since(start).Seconds())
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.br.succeed()
	case ctx.Err() != nil:
	default:
		r.errors[cmd].Inc()
		r.br.fail(err)
	}
	return err
}

// redisStore is the shared tier: one Redis string per entry, expiring with
// the entry's stale-if-error bound.
type redisStore struct {
	r       *redisConn
	prefix  string
	written *expiring
}

var _ store = (*redisStore)(nil)

func (s *redisStore) key(k hashKey) string {
	var b [len(hashKey{}) * 2]byte
	hex.Encode(b[:], k[:])
	return s.prefix + "e:" + string(b[:])
}

// Get returns the record under k, or nil.
func (s *redisStore) Get(ctx context.Context, k hashKey) (*record, error) {
	var b []byte
	err := s.r.call(ctx, cmdGet, func(ctx context.Context) (err error) {
		b, err = s.r.client.Get(ctx, s.key(k)).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: redis get: %w", err)
	}
	return unmarshalRecord(b)
}

// Set writes r under k with a Redis TTL.
func (s *redisStore) Set(ctx context.Context, k hashKey, r *record, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	b := r.marshal()
	err := s.r.call(ctx, cmdSet, func(ctx context.Context) error {
		return s.r.client.Set(ctx, s.key(k), b, ttl).Err()
	})
	if err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	s.written.add(int64(len(b)), ttl)
	return nil
}

// raiseScript sets each generation key to at least its wanted value and
// returns the values, unless the epoch changed (Redis restarted between the
// read and this script): then it returns false.
var raiseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local out = {}
for i = 2, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  local want = tonumber(ARGV[i])
  if cur < want then
    redis.call('SET', KEYS[i], ARGV[i])
    cur = want
  end
  out[i - 1] = cur
end
return out
`)

// redisGens keeps the generations in Redis: one integer per topic, INCR on
// a write, and an epoch key that a Redis which lost its data no longer
// holds. All of them share the hash tag "{gen}", so MGET, MULTI and the
// raise script work on a Redis Cluster too.
//
// Reads are coalesced: a Read joins the next MGET that has not yet been
// sent, never one already in flight, so the generations it gets are as of a
// moment after the Read began. At most one MGET is in flight per instance:
// under load, every request that arrives during one round trip shares the
// next one.
type redisGens struct {
	r         *redisConn
	genPrefix string
	epochKey  string
	channel   string
	known     *knowledge
	m         *metrics.Metrics
	log       *slog.Logger
	// wait bounds how long Bump waits for a queued bump to land.
	wait time.Duration
	// done ends the retries of queued bumps (the cache is closing).
	done <-chan struct{}

	mu      sync.Mutex
	running bool
	next    *genRound

	pmu      sync.Mutex
	pending  map[string]uint64 // topic → sequence of its latest failed bump
	pseq     uint64
	npending atomic.Int64
	// landed is the sequence up to which every queued bump has reached
	// Redis; landedCh is closed when it grows. retrying is set while the
	// retry loop runs.
	landed   uint64
	landedCh chan struct{}
	retrying bool
	// fmu makes flushes take turns, so that one queued bump is not sent
	// twice by racing flushes.
	fmu sync.Mutex

	ps *redis.PubSub
	wg sync.WaitGroup
}

var _ generations = (*redisGens)(nil)

// genRound is one MGET and the reads waiting for it.
type genRound struct {
	topics []string
	done   chan struct{}
	view   *genView
	err    error
}

func (r *genRound) add(topics []string) {
outer:
	for _, t := range topics {
		for _, u := range r.topics {
			if u == t {
				continue outer
			}
		}
		r.topics = append(r.topics, t)
	}
}

func (g *redisGens) genKey(topic string) string { return g.genPrefix + topic }

// Read joins the next generation read. When no read is in flight the
// caller performs one itself, at once and on its own goroutine, so an idle
// instance pays one round trip and no hand-off; otherwise it waits for the
// round that starts when the read in flight ends.
func (g *redisGens) Read(ctx context.Context, topics []string) (*genView, error) {
	if g.r.br.open() {
		return nil, errBreakerOpen
	}
	g.mu.Lock()
	if !g.running {
		g.running = true
		g.mu.Unlock()
		r := &genRound{topics: topics, done: make(chan struct{})}
		g.complete(r)
		return r.view, r.err
	}
	r := g.next
	if r == nil {
		r = &genRound{done: make(chan struct{})}
		g.next = r
	}
	r.add(topics)
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.view, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// complete performs round r and releases its readers, then hands the next
// waiting round, if any, to a goroutine of its own. A round is taken out of
// g.next under the lock before its MGET is sent, so no Read ever joins a
// round whose MGET started before the Read began.
func (g *redisGens) complete(r *genRound) {
	r.view, r.err = g.fetch(r.topics)
	close(r.done)
	g.mu.Lock()
	next := g.next
	g.next = nil
	if next == nil {
		g.running = false
	}
	g.mu.Unlock()
	if next != nil {
		go g.run(next)
	}
}

// run performs rounds until none is waiting.
func (g *redisGens) run(r *genRound) {
	for r != nil {
		r.view, r.err = g.fetch(r.topics)
		close(r.done)
		g.mu.Lock()
		r, g.next = g.next, nil
		if r == nil {
			g.running = false
		}
		g.mu.Unlock()
	}
}

// fetch reads the generations of topics. It first applies this instance's
// queued bumps, so that after an outage no read here predates a write this
// instance acknowledged.
func (g *redisGens) fetch(topics []string) (*genView, error) {
	ctx := context.Background()
	if g.npending.Load() > 0 {
		if err := g.flushPending(ctx); err != nil {
			return nil, err
		}
	}
	epoch, gens, err := g.mget(ctx, topics)
	if err != nil {
		return nil, err
	}
	if epoch == "" {
		// A new or emptied Redis: name a new epoch, so that every entry
		// filled under the lost generations is addressed by keys no one
		// will compute again. SETNX lets one instance win.
		err := g.r.call(ctx, cmdSetNX, func(ctx context.Context) error {
			return g.r.client.SetNX(ctx, g.epochKey, newEpoch(), 0).Err()
		})
		if err != nil {
			return nil, fmt.Errorf("cache: redis setnx: %w", err)
		}
		if epoch, gens, err = g.mget(ctx, topics); err != nil {
			return nil, err
		}
		if epoch == "" {
			return nil, errEpochChanged
		}
	}
	// Generations never go backwards within an epoch. A Sentinel failover
	// to a replica that missed an INCR would move one back; push it forward
	// again to the newest value this instance has seen.
	if kv := g.known.load(); kv.epoch == epoch {
		for i, t := range topics {
			if gens[i] < kv.gens[t] {
				if gens, err = g.raise(ctx, epoch, topics, gens, kv); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	g.m.CacheGenerationReads.Inc()
	v := &genView{epoch: epoch, gens: make(map[string]uint64, len(topics))}
	for i, t := range topics {
		v.gens[t] = gens[i]
	}
	g.known.learn(epoch, topics, gens, true)
	return v, nil
}

func (g *redisGens) mget(ctx context.Context, topics []string) (string, []uint64, error) {
	keys := make([]string, 0, len(topics)+1)
	keys = append(keys, g.epochKey)
	for _, t := range topics {
		keys = append(keys, g.genKey(t))
	}
	var vals []any
	err := g.r.call(ctx, cmdMGet, func(ctx context.Context) (err error) {
		vals, err = g.r.client.MGet(ctx, keys...).Result()
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("cache: redis mget: %w", err)
	}
	if len(vals) != len(keys) {
		g.r.br.fail(errBadGeneration)
		return "", nil, errBadGeneration
	}
	epoch, _ := vals[0].(string)
	gens := make([]uint64, len(topics))
	for i := range topics {
		switch v := vals[i+1].(type) {
		case nil:
		case string:
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				// Something else wrote the key: back off (and say so in
				// the log) rather than fail every read silently.
				g.r.br.fail(fmt.Errorf("%w: %s", errBadGeneration, keys[i+1]))
				return "", nil, errBadGeneration
			}
			gens[i] = n
		default:
			g.r.br.fail(errBadGeneration)
			return "", nil, errBadGeneration
		}
	}
	return epoch, gens, nil
}

func (g *redisGens) raise(ctx context.Context, epoch string, topics []string, gens []uint64, kv *genView) ([]uint64, error) {
	keys := make([]string, 0, len(topics)+1)
	args := make([]any, 0, len(topics)+1)
	keys, args = append(keys, g.epochKey), append(args, epoch)
	for i, t := range topics {
		keys, args = append(keys, g.genKey(t)), append(args, max(gens[i], kv.gens[t]))
	}
	var out []int64
	err := g.r.call(ctx, cmdRaise, func(ctx context.Context) (err error) {
		out, err = raiseScript.Run(ctx, g.r.client, keys, args...).Int64Slice()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, errEpochChanged
	}
	if err != nil {
		return nil, fmt.Errorf("cache: redis raise: %w", err)
	}
	if len(out) != len(topics) {
		return nil, errBadGeneration
	}
	raised := make([]uint64, len(out))
	for i, n := range out {
		raised[i] = uint64(n)
	}
	g.log.Warn("cache: generations in Redis went backwards within an epoch; raised them", "topics", topics)
	return raised, nil
}

// Bump increments the topics' generations in Redis and publishes them. If
// Redis does not take them at once they are queued and retried (by a loop
// of their own, and before this instance's next generation read), and Bump
// waits until a retry lands, at most g.wait or until ctx ends: the caller
// answers its write only after Bump returns, so other instances learn of
// the write before its client can read from them. If the wait ends first,
// the error says so and the bump stays queued.
func (g *redisGens) Bump(ctx context.Context, topics []string) error {
	err := g.incr(ctx, topics)
	if err == nil {
		g.m.CacheInvalidations.WithLabelValues(metrics.InvalidationOK).Add(float64(len(topics)))
		return nil
	}
	seq := g.queue(topics)
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	for {
		g.pmu.Lock()
		landed, ch := g.landed >= seq, g.landedCh
		g.pmu.Unlock()
		if landed {
			g.m.CacheInvalidations.WithLabelValues(metrics.InvalidationDelayed).Add(float64(len(topics)))
			return nil
		}
		select {
		case <-ch:
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-g.done:
		}
		g.m.CacheInvalidations.WithLabelValues(metrics.InvalidationError).Add(float64(len(topics)))
		return fmt.Errorf("%w: %w", ErrRedisUnavailable, err)
	}
}

// incr bumps topics in one MULTI, reading the epoch in the same
// transaction, then publishes the new generations so that other instances
// drop their outdated local entries early. Correctness does not depend on
// the message: readers read the generations themselves.
func (g *redisGens) incr(ctx context.Context, topics []string) error {
	var epochCmd *redis.StringCmd
	incrs := make([]*redis.IntCmd, len(topics))
	err := g.r.call(ctx, cmdIncr, func(ctx context.Context) error {
		_, err := g.r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			epochCmd = p.Get(ctx, g.epochKey)
			for i, t := range topics {
				incrs[i] = p.Incr(ctx, g.genKey(t))
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			// Only the GET of a missing epoch; the INCRs are checked below.
			err = nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("cache: redis incr: %w", err)
	}
	gens := make([]uint64, len(topics))
	for i, c := range incrs {
		n, err := c.Result()
		if err != nil {
			return fmt.Errorf("cache: redis incr: %w", err)
		}
		gens[i] = uint64(n)
	}
	epoch, _ := epochCmd.Result()
	g.known.learn(epoch, topics, gens, true)
	if epoch == "" {
		return nil
	}
	msg := encodeMessage(epoch, topics, gens)
	_ = g.r.call(ctx, cmdPublish, func(ctx context.Context) error {
		return g.r.client.Publish(ctx, g.channel, msg).Err()
	})
	return nil
}

// queue records topics as bumped but not yet in Redis, starts the retry
// loop if it is not running, and returns the bump's sequence number.
func (g *redisGens) queue(topics []string) uint64 {
	g.pmu.Lock()
	if g.pending == nil {
		g.pending = map[string]uint64{}
	}
	if g.landedCh == nil {
		g.landedCh = make(chan struct{})
	}
	g.pseq++
	seq := g.pseq
	for _, t := range topics {
		g.pending[t] = seq
	}
	n := len(g.pending)
	start := !g.retrying
	g.retrying = true
	g.pmu.Unlock()
	g.npending.Store(int64(n))
	g.m.CacheInvalidationsPending.Set(float64(n))
	if start {
		go g.retry()
	}
	return seq
}

// Retries of queued bumps start retryMin apart and back off to retryMax:
// a Redis that stalls for a moment takes them almost at once, one that is
// down is not dialled dozens of times a second; once it is back, the
// queued bumps land within about retryMax.
const (
	retryMin = 20 * time.Millisecond
	retryMax = 250 * time.Millisecond
)

// retry applies the queued bumps until none is left, or the cache closes.
// It ignores the breaker: it is the probe that finds Redis back first.
func (g *redisGens) retry() {
	t := time.NewTimer(0)
	defer t.Stop()
	interval := retryMin
	for {
		select {
		case <-g.done:
			g.pmu.Lock()
			g.retrying = false
			g.pmu.Unlock()
			return
		case <-t.C:
		}
		_ = g.flushPending(context.Background())
		g.pmu.Lock()
		if len(g.pending) == 0 {
			g.retrying = false
			g.pmu.Unlock()
			return
		}
		g.pmu.Unlock()
		t.Reset(interval)
		interval = min(2*interval, retryMax)
	}
}

// flushPending applies the queued bumps. A topic queued again while the
// flush ran stays queued: its newer write may postdate the INCR. Every bump
// queued before the flush read the queue has landed once it succeeds.
func (g *redisGens) flushPending(ctx context.Context) error {
	g.fmu.Lock()
	defer g.fmu.Unlock()
	g.pmu.Lock()
	topics := make([]string, 0, len(g.pending))
	seqs := make([]uint64, 0, len(g.pending))
	for t, s := range g.pending {
		topics, seqs = append(topics, t), append(seqs, s)
	}
	upTo := g.pseq
	g.pmu.Unlock()
	if len(topics) == 0 {
		return nil
	}
	if err := g.incr(ctx, topics); err != nil {
		return err
	}
	g.pmu.Lock()
	for i, t := range topics {
		if g.pending[t] == seqs[i] {
			delete(g.pending, t)
		}
	}
	if upTo > g.landed {
		g.landed = upTo
		close(g.landedCh)
		g.landedCh = make(chan struct{})
	}
	n := len(g.pending)
	g.pmu.Unlock()
	g.npending.Store(int64(n))
	g.m.CacheInvalidationsPending.Set(float64(n))
	g.log.Info("cache: applied invalidations queued while redis was unavailable", "topics", len(topics))
	return nil
}

// Known is the newest generations seen here.
func (g *redisGens) Known() *genView { return g.known.load() }

// subscribe listens for other instances' bumps. go-redis reconnects and
// subscribes again by itself after Redis returns; messages sent meanwhile
// are lost, which costs memory (outdated entries wait for their TTL) and
// never correctness.
func (g *redisGens) subscribe() {
	// The first SUBSCRIBE gets one command timeout; if Redis is down,
	// go-redis keeps the channel and subscribes when it reconnects.
	ctx, cancel := context.WithTimeout(context.Background(), g.r.timeout)
	g.ps = g.r.client.Subscribe(ctx, g.channel)
	cancel()
	ch := g.ps.Channel(redis.WithChannelHealthCheckInterval(time.Second))
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for msg := range ch {
			if epoch, topics, gens, ok := decodeMessage(msg.Payload); ok {
				g.known.learn(epoch, topics, gens, false)
			}
		}
	}()
}

func (g *redisGens) close() error {
	if g.ps == nil {
		return nil
	}
	err := g.ps.Close()
	g.wg.Wait()
	return err
}

// encodeMessage writes the pub/sub payload: the epoch on the first line,
// then one "generation topic" line per topic.
func encodeMessage(epoch string, topics []string, gens []uint64) string {
	var b strings.Builder
	b.WriteString(epoch)
	for i, t := range topics {
		b.WriteByte('\n')
		b.WriteString(strconv.FormatUint(gens[i], 10))
		b.WriteByte(' ')
		b.WriteString(t)
	}
	return b.String()
}

func decodeMessage(s string) (epoch string, topics []string, gens []uint64, ok bool) {
	lines := strings.Split(s, "\n")
	if len(lines) < 2 || lines[0] == "" {
		return "", nil, nil, false
	}
	for _, l := range lines[1:] {
		n, t, found := strings.Cut(l, " ")
		g, err := strconv.ParseUint(n, 10, 64)
		if !found || err != nil || !validTopic(t) {
			return "", nil, nil, false
		}
		topics, gens = append(topics, t), append(gens, g)
	}
	return lines[0], topics, gens, true
}

// expiring sums the sizes of writes whose TTL has not passed: the bytes
// this instance holds in Redis, as far as it knows (Redis may evict
// earlier, and other instances write too).
type expiring struct {
	mu    sync.Mutex
	h     expiryHeap
	total int64
	now   func() time.Time
}

type expiry struct {
	at   int64
	size int64
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (e *expiring) add(size int64, ttl time.Duration) {
	e.mu.Lock()
	heap.Push(&e.h, expiry{at: e.now().Add(ttl).UnixNano(), size: size})
	e.total += size
	e.mu.Unlock()
}

// bytes drops what has expired and returns the rest.
func (e *expiring) bytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now().UnixNano()
	for len(e.h) > 0 && e.h[0].at <= now {
		e.total -= heap.Pop(&e.h).(expiry).size
	}
	return e.total
}
