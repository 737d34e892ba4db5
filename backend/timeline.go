package backend

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// timeline finishes work that falls due at times kept in the store: builds
// whose staging time has passed (staging.go), broker operations whose
// polling time has come (service_ops.go). The outcome and the due time are
// stored with the work, so what a reader sees depends on the clock alone
// (an injected one in tests), and work in flight when the process stops
// finishes after the next start. Due work is finished on the first request
// after its time (settle, called for every request), or from a timer when
// nobody asks.
type timeline struct {
	now func() time.Time
	log *slog.Logger
	// what names the work in logs.
	what string
	// finish does the work due at nowMs and returns the next due time
	// (unix milliseconds), 0 when nothing is left.
	finish func(ctx context.Context, nowMs int64) (int64, error)

	// next is the earliest due time (unix milliseconds), 0 when none:
	// every request reads it, so it is atomic.
	next atomic.Int64

	// mu orders the finishing of work with the scheduling of new work, and
	// guards timer and closed.
	mu     sync.Mutex
	timer  *time.Timer
	closed bool
}

// minTimer keeps a timer whose deadline the clock has not reached (an
// injected clock that stands still) from spinning.
const minTimer = 10 * time.Millisecond

// start schedules the work due at next (0: none) and finishes what is
// already due.
func (t *timeline) start(ctx context.Context, next int64) {
	t.mu.Lock()
	t.next.Store(next)
	t.armLocked()
	t.mu.Unlock()
	t.settle(ctx)
}

// close stops the timer. A timer that is already running finishes first.
func (t *timeline) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// settle finishes the work whose time has come. It costs one atomic load
// when none has.
func (t *timeline) settle(ctx context.Context) {
	if t == nil {
		return
	}
	next := t.next.Load()
	if next == 0 || t.now().UnixMilli() < next {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.finishLocked(ctx)
}

// added schedules work that falls due at at (unix milliseconds).
func (t *timeline) added(at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if next := t.next.Load(); next != 0 && next <= at {
		return
	}
	t.next.Store(at)
	t.armLocked()
}

// finishLocked does the due work and schedules the next.
func (t *timeline) finishLocked(ctx context.Context) {
	if next := t.next.Load(); next == 0 || t.now().UnixMilli() < next {
		return
	}
	next, err := t.finish(ctx, t.now().UnixMilli())
	if err != nil {
		// Left as it is: the next request or timer tries again.
		t.log.Error("finishing "+t.what, "err", err)
		t.armLocked()
		return
	}
	t.next.Store(next)
	t.armLocked()
}

// armLocked sets the timer for the next due time, in real time.
func (t *timeline) armLocked() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	next := t.next.Load()
	if t.closed || next == 0 {
		return
	}
	d := max(time.Duration(next-t.now().UnixMilli())*time.Millisecond, minTimer)
	t.timer = time.AfterFunc(d, t.fire)
}

func (t *timeline) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.timer = nil
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if next := t.next.Load(); next != 0 && t.now().UnixMilli() >= next {
		t.finishLocked(ctx)
		return
	}
	// The clock (an injected one) has not reached the due time yet.
	t.armLocked()
}
