package backend

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"capibridge/backend/store"
)

// Staging is simulated with the state changes, their order and the shapes
// of a Cloud Controller with Diego behind it. A build is created STAGING
// with its outcome already decided (staging_sim.go) and a finish time
// StagingDuration ahead; it becomes STAGED or FAILED once the clock passes
// that time: on the first request after it (staging.settle, called for
// every request), or from a timer when nobody asks. The outcome and the
// finish time are stored with the build, so the result depends on the
// clock alone (an injected one in tests) and a build STAGING when the
// process stops finishes after the next start.

// staging is the bits on disk and the clock of the builds in flight.
type staging struct {
	blobs *blobstore
	store *store.Store
	now   func() time.Time
	log   *slog.Logger

	// next is the finish time (unix milliseconds) of the earliest STAGING
	// build, 0 when none: every request reads it, so it is atomic.
	next atomic.Int64

	// mu orders the finishing of builds with the scheduling of new ones,
	// and guards timer and closed.
	mu     sync.Mutex
	timer  *time.Timer
	closed bool
}

// minTimer keeps a timer whose deadline the clock has not reached (an
// injected clock that stands still) from spinning.
const minTimer = 10 * time.Millisecond

// openStaging opens the blobstore, removes the bits of packages and
// droplets that are gone, and finishes or schedules the builds a previous
// run left STAGING.
func (s *Server) openStaging(ctx context.Context) (*staging, error) {
	blobs, err := openBlobstore(s.cfg.Data)
	if err != nil {
		return nil, err
	}
	st := &staging{blobs: blobs, store: s.store, now: s.now, log: s.log}
	packages, droplets, err := s.store.BlobOwners(ctx)
	if err != nil {
		blobs.close()
		return nil, err
	}
	blobs.gc(packages, droplets)
	next, err := s.store.NextBuildFinish(ctx)
	if err != nil {
		blobs.close()
		return nil, err
	}
	st.mu.Lock()
	st.next.Store(next)
	st.armLocked()
	st.mu.Unlock()
	st.settle(ctx)
	return st, nil
}

// close stops the timer and removes a temporary blobstore. A timer that is
// already running finishes first.
func (st *staging) close() error {
	if st == nil {
		return nil
	}
	st.mu.Lock()
	st.closed = true
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.mu.Unlock()
	return st.blobs.close()
}

// settle finishes the builds whose time has come. It costs one atomic load
// when none has.
func (st *staging) settle(ctx context.Context) {
	if st == nil {
		return
	}
	next := st.next.Load()
	if next == 0 || st.now().UnixMilli() < next {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.finishLocked(ctx)
}

// added schedules a build that finishes at finishAt (unix milliseconds).
func (st *staging) added(finishAt int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if next := st.next.Load(); next != 0 && next <= finishAt {
		return
	}
	st.next.Store(finishAt)
	st.armLocked()
}

// finishLocked ends the due builds and schedules the next one.
func (st *staging) finishLocked(ctx context.Context) {
	if next := st.next.Load(); next == 0 || st.now().UnixMilli() < next {
		return
	}
	next, err := st.store.FinishBuilds(ctx, st.now().UnixMilli())
	if err != nil {
		// Left as it is: the next request or timer tries again.
		st.log.Error("finishing builds", "err", err)
		st.armLocked()
		return
	}
	st.next.Store(next)
	st.armLocked()
}

// armLocked sets the timer for the next finish, in real time.
func (st *staging) armLocked() {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	next := st.next.Load()
	if st.closed || next == 0 {
		return
	}
	d := max(time.Duration(next-st.now().UnixMilli())*time.Millisecond, minTimer)
	st.timer = time.AfterFunc(d, st.fire)
}

func (st *staging) fire() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.timer = nil
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if next := st.next.Load(); next != 0 && st.now().UnixMilli() >= next {
		st.finishLocked(ctx)
		return
	}
	// The clock (an injected one) has not reached the finish yet.
	st.armLocked()
}

// errStagingInProgress is CC's StagingInProgress (errors/v2.yml 170017).
func errStagingInProgress() *apiError {
	return &apiError{Status: 422, Code: 170017, Title: "CF-StagingInProgress", Detail: "Only one build can be STAGING at a time per application."}
}

// errBadRequest is CC's BadRequest (errors/v2.yml 1004), raised by
// ApplicationController#bad_request!.
func errBadRequest(detail string) *apiError {
	return &apiError{Status: 400, Code: 1004, Title: "CF-BadRequest", Detail: "Bad request: " + detail}
}

// errBitsAlreadyUploaded is CC's PackageBitsAlreadyUploaded (150004).
func errBitsAlreadyUploaded() *apiError {
	return &apiError{Status: 400, Code: 150004, Title: "CF-PackageBitsAlreadyUploaded",
		Detail: "Bits may be uploaded only once. Create a new package to upload different bits."}
}

// errBlobstoreUnavailable is CC's BlobstoreUnavailable (150006): a blob
// that should be there is not.
func errBlobstoreUnavailable() *apiError {
	return &apiError{Status: 502, Code: 150006, Title: "CF-BlobstoreUnavailable",
		Detail: "Failed to perform operation due to blobstore unavailability."}
}

// isNotFound tells a 404 apiError.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == 404
}
