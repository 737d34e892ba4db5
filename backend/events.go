package backend

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

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
	out := presentJob(r.base, j)
	if key, path := s.jobResource(r.ctx, j); key != "" {
		out.Links.resource, out.Links.href = key, link{Href: r.base + path}
	}
	return r.reply(200, out)
}

// runJob carries out a PROCESSING job in the background after the
// configured delay. Jobs survive a restart: New resumes the ones left over.
func (s *Server) runJob(j store.Job) {
	s.runJobWith(j, func(ctx context.Context) error { return s.jobWork(ctx, j) })
}

// runJobWith is runJob with the work given: a job whose work lives only in
// memory (an applied manifest) runs it.
func (s *Server) runJobWith(j store.Job, work func(context.Context) error) {
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
		if err := work(ctx); err != nil && !errors.Is(err, store.ErrNotFound) {
			// A job fails with the CC error its work returns (a deletion
			// that could not finish), else with UnknownError.
			ae := errInternal(err)
			if !errors.As(err, &ae) || ae.Status == 500 {
				s.log.Error("job failed", "job", j.GUID, "operation", j.Operation, "resource", j.ResourceGUID, "err", err)
			}
			state = store.JobFailed
			errs, _ = json.Marshal([]errorEntry{{Detail: ae.Detail, Title: ae.Title, Code: ae.Code}})
		}
		if err := s.store.FinishJob(ctx, j.GUID, state, errs); err != nil {
			s.log.Error("finishing job", "job", j.GUID, "err", err)
		}
	}()
}

// jobWork does what a job of j's operation does when it runs; the other
// operations did their work when they were asked for. A resource already
// gone (ErrNotFound) is a job done, as CC's DeleteActionJob ignores it.
func (s *Server) jobWork(ctx context.Context, j store.Job) error {
	switch j.Operation {
	case "app.delete":
		return s.store.DeleteApp(ctx, j.ResourceGUID)
	case "space.delete_unmapped_routes":
		_, err := s.store.DeleteUnmappedRoutes(ctx, j.ResourceGUID)
		return err
	case "domain.delete":
		return s.store.DeleteDomain(ctx, j.ResourceGUID)
	case "space.delete":
		return s.spaceDeleteWork(ctx, j, j.ResourceGUID)
	case "organization.delete":
		return s.orgDeleteWork(ctx, j, j.ResourceGUID)
	case "organization_quota.delete":
		return s.orgQuotaDeleteWork(ctx, j)
	case "space_quota.delete":
		return s.spaceQuotaDeleteWork(ctx, j)
	case "security_group.delete":
		return s.securityGroupDeleteWork(ctx, j)
	case "user.delete":
		return s.userDeleteWork(ctx, j.ResourceGUID)
	case "role.delete":
		return s.roleDeleteWork(ctx, j)
	case manifestJobOperation:
		return errManifestInterrupted()
	}
	return nil
}

// startJob records a PROCESSING job of op on the resource guid, runs it in
// the background and answers 202 with its Location.
func (s *Server) startJob(r *request, op, guid string) error {
	now := s.store.Now()
	job := store.Job{GUID: uuid.NewString(), Operation: op, State: store.JobProcessing, ResourceGUID: guid,
		UserGUID: r.user.GUID, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateJob(r.ctx, job); err != nil {
		return errInternal(err)
	}
	s.runJob(job)
	return r.accepted(job.GUID)
}

// resumeJobs restarts the jobs a previous run left PROCESSING.
func (s *Server) resumeJobs(ctx context.Context) error {
	jobs, err := s.store.PendingJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !isServiceJob(j.Operation) {
			s.runJob(j)
		}
	}
	return nil
}

// jobLinks are a job's links: self, then the resource it works on while
// that exists, under the name of its resource type (JobPresenter#build_links).
type jobLinks struct {
	Self     link
	resource string
	href     link
}

// MarshalJSON writes self, then the resource's link when there is one.
func (l jobLinks) MarshalJSON() ([]byte, error) {
	if l.resource == "" {
		return marshalRaw(struct {
			Self link `json:"self"`
		}{l.Self})
	}
	self, err := marshalRaw(l.Self)
	if err != nil {
		return nil, err
	}
	key, err := marshalRaw(l.resource)
	if err != nil {
		return nil, err
	}
	href, err := marshalRaw(l.href)
	if err != nil {
		return nil, err
	}
	return []byte(`{"self":` + string(self) + `,` + string(key) + `:` + string(href) + `}`), nil
}
