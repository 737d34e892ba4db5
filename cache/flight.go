package cache

import (
	"context"
	"fmt"
	"sync"
)

// fillResult is what one fill produced, shared by every caller that waited
// for it.
type fillResult struct {
	entry  Entry
	err    error
	stored bool
	// then runs after the waiters are released (the Redis write), so no
	// caller waits for it.
	then func()
}

// flight is one fill in progress.
type flight struct {
	done     chan struct{}
	res      fillResult
	waiters  int
	finished bool
	cancel   context.CancelFunc
}

// flights makes concurrent misses of one key share one fill, like
// golang.org/x/sync/singleflight, with three differences the cache needs:
// a caller whose context ends stops waiting at once; when the last caller
// has gone the fill's context is cancelled, so an upstream call nobody waits
// for stops; and a panicking fill becomes an error instead of a crash of a
// goroutine no handler recovers.
//
// The key commits to the generations the fill runs under, so a caller only
// ever joins a fill that started after those generations were read: a fill
// that began before a write is never shared with a request that arrived
// after it.
type flights struct {
	mu sync.Mutex
	m  map[hashKey]*flight
}

// do runs fn once for concurrent callers of key and returns its result and
// whether the caller joined a fill that another had started. With join
// false the caller starts a fill of its own even if one is in progress
// (client no-cache), and later callers join the new one. The fill runs on
// its own goroutine with a context that keeps ctx's values but ends only
// when every waiter has gone.
func (g *flights) do(ctx context.Context, key hashKey, join bool, fn func(context.Context) fillResult) (fillResult, bool, error) {
	g.mu.Lock()
	if f, ok := g.m[key]; ok && join {
		f.waiters++
		g.mu.Unlock()
		return g.wait(ctx, key, f, true)
	}
	if g.m == nil {
		g.m = make(map[hashKey]*flight)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &flight{done: make(chan struct{}), waiters: 1, cancel: cancel}
	g.m[key] = f
	g.mu.Unlock()
	go g.run(fctx, key, f, fn)
	return g.wait(ctx, key, f, false)
}

func (g *flights) run(ctx context.Context, key hashKey, f *flight, fn func(context.Context) fillResult) {
	res := call(ctx, fn)
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	f.res, f.finished = res, true
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

func (g *flights) wait(ctx context.Context, key hashKey, f *flight, shared bool) (fillResult, bool, error) {
	select {
	case <-f.done:
		return f.res, shared, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	f.waiters--
	if f.waiters == 0 && !f.finished {
		f.cancel()
		if g.m[key] == f {
			delete(g.m, key)
		}
	}
	g.mu.Unlock()
	return fillResult{}, shared, ctx.Err()
}
