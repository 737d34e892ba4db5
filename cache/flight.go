package cache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// fillResult is what one fill produced, shared by every caller that waited
// for it.
type fillResult struct {
	entry  Entry
	err    error
	stored bool
	// hit reports that rec, fresh, answered instead of a fill.
	hit bool
	// rec is the entry found in Redis under the key, if any: a hit, or a
	// candidate to serve stale when the fill fails.
	rec *record
	// redisFailed reports that Redis could not be read or written on the
	// way.
	redisFailed bool
	// then runs after the waiters are released (the Redis write), so no
	// caller waits for it.
	then func()
}

// waiter is one caller of flights.do.
type waiter struct {
	ctx context.Context
	fn  func(context.Context) fillResult
}

// flight is one fill, running or waiting for its turn.
type flight struct {
	done chan struct{}
	res  fillResult
	// fresh: the fill runs whatever is cached (a refresh, or a request
	// that could not confirm the generations), so its answer is as of a
	// moment after it started.
	fresh bool
	// start orders the fill's start among the callers' arrivals; 0 while
	// the flight waits for its turn.
	start uint64
	// owner is the caller whose function runs the fill; queued are the
	// callers that could run it, until it starts.
	owner    *waiter
	queued   []*waiter
	waiters  int
	finished bool
	cancel   context.CancelFunc
}

// slot holds the flights of one key: the fill running, and the fresh
// callers waiting for the next one.
type slot struct {
	cur  *flight
	next *flight
}

// flights makes concurrent misses of one key share one fill, like
// golang.org/x/sync/singleflight, with the differences the cache needs:
//
//   - A fresh caller (client no-cache, or generations it could not
//     confirm) only joins a fill that started after it arrived, so that
//     its answer is as of a moment after its request: a write answered
//     before the request is in it. While a fill that began earlier runs,
//     fresh callers line up for the next one, which starts when the
//     running fill ends; every fresh caller that arrived meanwhile shares
//     it. One fill per key runs at a time, however many callers.
//   - A caller whose context ends stops waiting at once; when the last
//     caller of a fill has gone its context is cancelled, so an upstream
//     call nobody waits for stops.
//   - A panicking fill becomes an error instead of a crash of a goroutine
//     no handler recovers.
//
// Other callers join whatever fill of their key is running: the key
// commits to the generations the fill runs under, read after the caller
// arrived, so a fill of that key started after every write whose bump
// those generations include.
type flights struct {
	seq atomic.Uint64
	mu  sync.Mutex
	m   map[hashKey]*slot
}

// arrive stamps a caller's arrival, before it reads anything.
func (g *flights) arrive() uint64 { return g.seq.Add(1) }

// do runs fn once for concurrent callers of key and returns its result and
// whether the caller got a fill another caller's function ran. arrival is
// the caller's stamp from arrive. The fill runs on its own goroutine with
// a context that keeps its owner's values but ends only when every waiter
// has gone.
func (g *flights) do(ctx context.Context, key hashKey, arrival uint64, fresh bool, fn func(context.Context) fillResult) (fillResult, bool, error) {
	w := &waiter{ctx: ctx, fn: fn}
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[hashKey]*slot)
	}
	s := g.m[key]
	if s == nil {
		s = &slot{}
		g.m[key] = s
	}
	var f *flight
	switch {
	case s.cur == nil:
		f = &flight{done: make(chan struct{}), fresh: fresh, queued: []*waiter{w}, waiters: 1}
		s.cur = f
		g.start(key, f)
	case !fresh || s.cur.fresh && s.cur.start > arrival:
		f = s.cur
		f.waiters++
	default:
		if s.next == nil {
			s.next = &flight{done: make(chan struct{}), fresh: true}
		}
		f = s.next
		f.queued = append(f.queued, w)
		f.waiters++
	}
	g.mu.Unlock()
	return g.wait(ctx, key, f, w)
}

// start runs f's fill with the function of its first queued caller. g.mu
// is held.
func (g *flights) start(key hashKey, f *flight) {
	f.start = g.seq.Add(1)
	f.owner, f.queued = f.queued[0], nil
	fctx, cancel := context.WithCancel(context.WithoutCancel(f.owner.ctx))
	f.cancel = cancel
	go g.run(fctx, key, f)
}

// advance ends f's turn as key's running fill and starts the next one, if
// fresh callers wait for it. g.mu is held.
func (g *flights) advance(key hashKey, f *flight) {
	s := g.m[key]
	if s == nil || s.cur != f {
		return
	}
	s.cur, s.next = s.next, nil
	if s.cur == nil {
		delete(g.m, key)
		return
	}
	g.start(key, s.cur)
}

func (g *flights) run(ctx context.Context, key hashKey, f *flight) {
	res := call(ctx, f.owner.fn)
	g.mu.Lock()
	f.res, f.finished = res, true
	g.advance(key, f)
	g.mu.Unlock()
	close(f.done)
	f.cancel()
	if res.then != nil {
		res.then()
	}
}

// call runs fn, turning a panic into an error.
func call(ctx context.Context, fn func(context.Context) fillResult) (res fillResult) {
	defer func() {
		if p := recover(); p != nil {
			res = fillResult{err: fmt.Errorf("cache: fill panicked: %v", p)}
		}
	}()
	return fn(ctx)
}

func (g *flights) wait(ctx context.Context, key hashKey, f *flight, w *waiter) (fillResult, bool, error) {
	select {
	case <-f.done:
		return f.res, f.owner != w, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f.waiters--
	switch {
	case f.start == 0:
		// Still waiting for its turn: it must not run this caller's
		// function, which may not outlive the call.
		f.queued = slices.DeleteFunc(f.queued, func(q *waiter) bool { return q == w })
		if s := g.m[key]; f.waiters == 0 && s != nil && s.next == f {
			s.next = nil
		}
	case f.waiters == 0 && !f.finished:
		f.cancel()
		// The next fill need not wait for one nobody wants.
		g.advance(key, f)
	}
	return fillResult{}, f.start != 0 && f.owner != w, ctx.Err()
}
