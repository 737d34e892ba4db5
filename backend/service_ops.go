package backend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Broker operations as CC's reoccurring service jobs run them
// (cc:app/jobs/v3/create_service_instance_job.rb, update_service_instance_job.rb,
// delete_service_instance_job.rb, create_binding_async_job.rb,
// delete_binding_job.rb). A request records the job, PROCESSING, and an
// operation to poll from JobDelay on; the first poll makes the job POLLING
// and the resource's last operation "in progress"; the poll that finds the
// broker done applies the operation and ends the job COMPLETE or FAILED.
// Polls happen when the broker's Retry-After says, on the services
// timeline (timeline.go), so a restart loses nothing.

// Resource types of service operations: the job links to them under these
// names (JobPresenter#build_links).
const (
	opInstance = "service_instance"
	opBinding  = "service_credential_binding"
)

// opRequest is what an operation applies when it succeeds, and who asked.
type opRequest struct {
	Actor       store.Actor        `json:"actor"`
	Audit       json.RawMessage    `json:"audit,omitempty"`
	Name        *string            `json:"name,omitempty"`
	Tags        *[]string          `json:"tags,omitempty"`
	Plan        string             `json:"plan,omitempty"`
	Labels      map[string]*string `json:"labels,omitempty"`
	Annotations map[string]*string `json:"annotations,omitempty"`
}

// isServiceJob says whether a job reports a broker operation: those are
// polled here, not run by runJob.
func isServiceJob(operation string) bool { return strings.HasPrefix(operation, "service_") }

// openServices schedules the operations a previous run left in flight.
func (s *Server) openServices(ctx context.Context) error {
	next, err := s.store.NextServiceOperation(ctx)
	if err != nil {
		return err
	}
	s.services = &timeline{now: s.now, log: s.log, what: "broker operations", finish: s.finishServiceOps}
	s.services.start(ctx, next)
	return nil
}

// serviceJob starts a job of operation (service_instance.create, ...) on
// a resource and its operation, which c then records; the job is answered
// with 202 and its Location.
func (s *Server) serviceJob(r *request, c *store.ServiceChange, operation, resourceType, resourceGUID, typ string, async osbAsync, req opRequest) error {
	now := s.now()
	req.Actor = r.user.actor()
	body, err := json.Marshal(req)
	if err != nil {
		return errInternal(err)
	}
	c.Job = &store.Job{GUID: uuid.NewString(), Operation: operation, State: store.JobProcessing, ResourceGUID: resourceGUID,
		UserGUID: r.user.GUID, CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
	pollAt := now.Add(s.cfg.JobDelay).UnixMilli()
	c.Operation = &store.ServiceOperation{JobGUID: c.Job.GUID, ResourceType: resourceType, ResourceGUID: resourceGUID, Type: typ,
		BrokerOperation: async.Operation, PollAt: pollAt, NextPollAt: pollAt, Request: body}
	if err := s.store.ApplyServices(r.ctx, *c); err != nil {
		return err
	}
	s.services.added(pollAt)
	return r.accepted(c.Job.GUID)
}

// finishServiceOps polls the operations due at nowMs. One that cannot be
// polled is tried again a second later.
func (s *Server) finishServiceOps(ctx context.Context, nowMs int64) (int64, error) {
	ops, err := s.store.ServiceOperations(ctx, nowMs)
	if err != nil {
		return 0, err
	}
	for _, op := range ops {
		if err := s.pollOperation(ctx, op, nowMs); err != nil {
			s.log.Error("polling a broker operation", "job", op.JobGUID, "resource", op.ResourceGUID, "err", err)
			op.NextPollAt = nowMs + time.Second.Milliseconds()
			if err := s.store.ApplyServices(ctx, store.ServiceChange{Operation: &op}); err != nil {
				return 0, err
			}
		}
	}
	return s.store.NextServiceOperation(ctx)
}

// pollOperation asks the broker about op and records what it says.
func (s *Server) pollOperation(ctx context.Context, op store.ServiceOperation, nowMs int64) error {
	var req opRequest
	if err := json.Unmarshal(op.Request, &req); err != nil {
		return err
	}
	job, err := s.store.GetJob(ctx, op.JobGUID)
	if err != nil {
		return err
	}
	now := nowMs / 1000
	c := store.ServiceChange{SetJob: &job}
	job.UpdatedAt = now
	lo, err := s.broker.LastOperation(ctx, op.ResourceGUID, op.BrokerOperation)
	if err != nil {
		return err
	}
	done := lo.State != brokerOperationPending
	if done {
		c.EndOperation, job.State = op.JobGUID, store.JobComplete
		if lo.State == "failed" {
			job.State = store.JobFailed
		}
	} else {
		job.State = store.JobPolling
		op.NextPollAt = nowMs + max(lo.RetryAfter.Milliseconds(), 1)
		c.Operation = &op
	}
	var found bool
	if op.ResourceType == opInstance {
		found, err = s.pollInstance(ctx, &c, op, req, lo, now)
	} else {
		found, err = s.pollBinding(ctx, &c, op, req, lo, now)
	}
	if err != nil {
		return err
	}
	if !found {
		// Gone meanwhile: nothing is left to do (DeleteServiceInstanceJob
		// finishes when its instance is gone).
		c = store.ServiceChange{SetJob: &job, EndOperation: op.JobGUID}
		job.State = store.JobComplete
	}
	if job.State == store.JobFailed {
		job.Errors = failedJobErrors(op, lo.Description)
	}
	return s.store.ApplyServices(ctx, c)
}

// failedJobErrors is a failed job's errors: UnableToPerform, worded as the
// actions word it ("create managed" for an instance; a binding's text is
// the class name of the LastOperationFailedState it raises without a
// message, cc:app/actions/v3/service_binding_create.rb#poll).
func failedJobErrors(op store.ServiceOperation, description string) json.RawMessage {
	what := op.Type
	if op.ResourceType == opInstance && op.Type == "create" {
		what = "create managed"
	}
	if op.ResourceType == opBinding {
		description = "VCAP::CloudController::V3::LastOperationFailedState"
	}
	b, _ := json.Marshal([]errorEntry{{Detail: what + " could not be completed: " + description, Title: "CF-UnableToPerform", Code: 10009}})
	return b
}

// pollInstance records a poll of an operation on a service instance.
func (s *Server) pollInstance(ctx context.Context, c *store.ServiceChange, op store.ServiceOperation, req opRequest, lo osbLastOperation, now int64) (bool, error) {
	si, err := s.store.GetServiceInstance(ctx, store.Viewer{All: true}, op.ResourceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	desc := lo.Description
	state := lo.State
	created := now
	if si.LastOperation != nil && si.LastOperation.Type == op.Type {
		created = si.LastOperation.CreatedAt
	}
	si.LastOperation = &store.InstanceOperation{Type: op.Type, State: state, Description: &desc, CreatedAt: created, UpdatedAt: now}
	si.UpdatedAt = now
	c.Instance = &si
	if state != "succeeded" {
		return true, nil
	}
	event := "audit.service_instance." + op.Type
	switch op.Type {
	case "update":
		if req.Name != nil {
			si.Name = *req.Name
		}
		if req.Tags != nil {
			si.Tags = *req.Tags
		}
		if req.Plan != "" {
			si.PlanGUID = req.Plan
		}
		si.Labels, si.Annotations = apply(si.Labels, req.Labels), apply(si.Annotations, req.Annotations)
	case "delete":
		c.Instance, c.DeleteInstance = nil, si.GUID
		bindings, err := s.instanceBindings(ctx, si.GUID)
		if err != nil {
			return false, err
		}
		for _, b := range bindings {
			c.Events = append(c.Events, s.serviceEvent(ctx, req.Actor, bindingEventType(b, "delete"), b.GUID, bindingTarget(b), deref(b.Name), b.SpaceGUID,
				auditData(nil)))
		}
		// Its shares go with it (ServiceInstanceDelete#unshare_all_spaces).
		shared, err := s.store.SharedSpaces(ctx, si.GUID)
		if err != nil {
			return false, err
		}
		for _, sp := range shared {
			data, _ := json.Marshal(map[string]string{"target_space_guid": sp.GUID})
			c.Events = append(c.Events, s.serviceEvent(ctx, req.Actor, "audit.service_instance.unshare", si.GUID, "service_instance", si.Name,
				si.SpaceGUID, data))
		}
	}
	c.Events = append(c.Events, s.serviceEvent(ctx, req.Actor, event, si.GUID, "service_instance", si.Name, si.SpaceGUID, auditData(req.Audit)))
	return true, nil
}

// pollBinding records a poll of an operation on a binding or key.
func (s *Server) pollBinding(ctx context.Context, c *store.ServiceChange, op store.ServiceOperation, req opRequest, lo osbLastOperation, now int64) (bool, error) {
	b, err := s.store.GetServiceCredentialBinding(ctx, store.Viewer{All: true}, op.ResourceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b.LastOperation = store.LastOperation{Type: op.Type, State: lo.State, Description: lo.Description}
	b.UpdatedAt = now
	c.Binding = &b
	if lo.State != "succeeded" {
		return true, nil
	}
	if op.Type == "delete" {
		c.Binding, c.DeleteBindings = nil, []string{b.GUID}
	} else {
		fetched, err := s.broker.Fetch(ctx, b.GUID)
		if err != nil {
			return false, err
		}
		b.Credentials = fetched.Credentials
	}
	c.Events = append(c.Events, s.serviceEvent(ctx, req.Actor, bindingEventType(b, op.Type), b.GUID, bindingTarget(b), deref(b.Name), b.SpaceGUID,
		auditData(req.Audit)))
	return true, nil
}

// instanceBindings returns every binding and key of an instance.
func (s *Server) instanceBindings(ctx context.Context, instance string) ([]store.ServiceCredentialBinding, error) {
	out, _, err := s.store.ListServiceCredentialBindings(ctx, store.Viewer{All: true},
		store.BindingFilter{ServiceInstanceGUIDs: []string{instance}}, store.Page{Page: 1, PerPage: maxPerPage})
	return out, err
}

// bindingEventType is the audit event type of an action on a binding:
// audit.service_binding.* for an app's, audit.service_key.* for a key
// (ServiceGenericBindingEventRepository).
func bindingEventType(b store.ServiceCredentialBinding, action string) string {
	if b.Type == "key" {
		return "audit.service_key." + action
	}
	return "audit.service_binding." + action
}

// bindingTarget is the actee type of a binding's events.
func bindingTarget(b store.ServiceCredentialBinding) string {
	if b.Type == "key" {
		return "service_key"
	}
	return "service_binding"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// auditData is an event's data: {"request": <the request as audited>}.
func auditData(audit json.RawMessage) json.RawMessage {
	if len(audit) == 0 {
		audit = json.RawMessage("{}")
	}
	b, _ := json.Marshal(map[string]json.RawMessage{"request": audit})
	return b
}

// serviceEvent builds an audit event about a service resource in space.
func (s *Server) serviceEvent(ctx context.Context, actor store.Actor, typ, guid, targetType, name, space string, data json.RawMessage) store.Event {
	org := ""
	if sp, err := s.store.SpacesByGUID(ctx, []string{space}); err == nil && len(sp) == 1 {
		org = sp[0].OrgGUID
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: actor, TargetGUID: guid, TargetType: targetType, TargetName: name,
		SpaceGUID: space, OrgGUID: org, Data: data, CreatedAt: s.store.Now()}
}

// jobResource is the link a service job shows while its resource exists:
// CC names it after the job's resource_type and pluralizes it in the path.
func (s *Server) jobResource(ctx context.Context, j store.Job) (string, string) {
	var key, path string
	switch {
	case strings.HasPrefix(j.Operation, "service_instance.delete"):
		key, path = "service_instance", "/v3/service_instances/"
	case strings.HasPrefix(j.Operation, "service_instance."):
		key, path = "service_instances", "/v3/service_instances/"
	case strings.HasPrefix(j.Operation, "service_bindings.") || strings.HasPrefix(j.Operation, "service_keys."):
		key, path = "service_credential_binding", "/v3/service_credential_bindings/"
	default:
		return "", ""
	}
	var err error
	if key == "service_credential_binding" {
		_, err = s.store.GetServiceCredentialBinding(ctx, store.Viewer{All: true}, j.ResourceGUID)
	} else {
		_, err = s.store.GetServiceInstance(ctx, store.Viewer{All: true}, j.ResourceGUID)
	}
	if err != nil {
		return "", ""
	}
	return key, path + j.ResourceGUID
}
