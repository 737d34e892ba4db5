package backend

import (
	"context"
	"errors"
)

// Staging is simulated with the state changes, their order and the shapes
// of a Cloud Controller with Diego behind it. A build is created STAGING
// with its outcome already decided (staging_sim.go) and a finish time
// StagingDuration ahead; it becomes STAGED or FAILED once the clock passes
// that time (timeline.go).

// staging is the bits on disk and the timeline of the builds in flight.
type staging struct {
	*timeline
	blobs *blobstore
}

// openStaging opens the blobstore, removes the bits of packages and
// droplets that are gone, and finishes or schedules the builds a previous
// run left STAGING.
func (s *Server) openStaging(ctx context.Context) (*staging, error) {
	blobs, err := openBlobstore(s.cfg.Data)
	if err != nil {
		return nil, err
	}
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
	st := &staging{blobs: blobs, timeline: &timeline{now: s.now, log: s.log, what: "builds", finish: s.store.FinishBuilds}}
	st.start(ctx, next)
	return st, nil
}

// close stops the timer and removes a temporary blobstore. A timer that is
// already running finishes first.
func (st *staging) close() error {
	if st == nil {
		return nil
	}
	st.timeline.close()
	return st.blobs.close()
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
