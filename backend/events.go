package backend

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"capibridge/backend/store"
)

// eventResource is GET /v3/audit_events and /v3/audit_events/:guid.
var eventResource = &resource[store.Event, store.EventFilter, eventJSON]{
	name: "Event",
	path: "/v3/audit_events",
	keys: append(append(append([]string{}, pageParams...), "types", "target_guids", "space_guids", "organization_guids"),
		timeKeys("created_ats")...),
	orders: timeOrders,
	filter: func(q *params) store.EventFilter {
		return store.EventFilter{Types: q.list("types"), TargetGUIDs: q.list("target_guids"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), CreatedAts: q.times("created_ats")}
	},
	list:    (*store.Store).ListEvents,
	get:     (*store.Store).GetEvent,
	present: each(func(r *request, e store.Event) eventJSON { return presentEvent(r.base, e) }),
}

// getJob shows a job to the user who started it and to global readers.
func (s *Server) getJob(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	j, err := s.store.GetJob(r.ctx, r.params[0])
	if err != nil {
		return storeErr(err, "Job")
	}
	if j.UserGUID != r.user.GUID && !r.user.readsAll() {
		return errNotFound("Job")
	}
	return r.reply(200, presentJob(r.base, j))
}

// runJob carries out a PROCESSING job in the background after the
// configured delay. Jobs survive a restart: New resumes the ones left over.
func (s *Server) runJob(j store.Job) {
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		select {
		case <-time.After(s.cfg.JobDelay):
		case <-s.ctx.Done():
			return // resumed at the next start
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		state, errs := store.JobComplete, json.RawMessage("[]")
		switch j.Operation {
		case "app.delete":
			if err := s.store.DeleteApp(ctx, j.ResourceGUID); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Error("app delete job failed", "job", j.GUID, "app", j.ResourceGUID, "err", err)
				state = store.JobFailed
				errs, _ = json.Marshal([]errorEntry{{Detail: "An unknown error occurred.", Title: "UnknownError", Code: 10001}})
			}
		case "space.delete_unmapped_routes":
			if _, err := s.store.DeleteUnmappedRoutes(ctx, j.ResourceGUID); err != nil {
				s.log.Error("unmapped routes delete job failed", "job", j.GUID, "space", j.ResourceGUID, "err", err)
				state = store.JobFailed
				errs, _ = json.Marshal([]errorEntry{{Detail: "An unknown error occurred.", Title: "UnknownError", Code: 10001}})
			}
		}
		if err := s.store.FinishJob(ctx, j.GUID, state, errs); err != nil {
			s.log.Error("finishing job", "job", j.GUID, "err", err)
		}
	}()
}

// resumeJobs restarts the jobs a previous run left PROCESSING.
func (s *Server) resumeJobs(ctx context.Context) error {
	jobs, err := s.store.PendingJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		s.runJob(j)
	}
	return nil
}
