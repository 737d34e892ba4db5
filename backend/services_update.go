package backend

import (
	"context"
	"encoding/json"
	"errors"

	"capibridge/backend/store"
)

// Updates of managed service instances (V3::ServiceInstanceUpdateManaged):
// what the broker must do is a job, the rest is made at once.

// managedUpdate is a PATCH of a managed instance, read
// (ServiceInstanceUpdateManagedMessage).
type managedUpdate struct {
	name        *string
	tags        *[]string
	params      json.RawMessage
	plan        string
	maintenance bool
	md          *metadataPatch
	keys        int
}

func parseManagedUpdate(o object) (managedUpdate, error) {
	var u managedUpdate
	if err := o.only("name", "tags", "parameters", "relationships", "maintenance_info", "metadata"); err != nil {
		return u, err
	}
	u.keys = len(o)
	var err error
	if u.name, err = o.str("name", "Name"); err != nil {
		return u, err
	}
	if o.has("tags") {
		tags, err := parseTags(o)
		if err != nil {
			return u, err
		}
		u.tags = &tags
	}
	if u.params, err = parseParameters(o); err != nil {
		return u, err
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return u, err
	}
	if rels != nil {
		if err := rels.only("service_plan"); err != nil {
			return u, err
		}
		if u.plan, err = toOneGUID(rels, "service_plan", "Service plan"); err != nil {
			return u, err
		}
	}
	mi, err := o.sub("maintenance_info", "Maintenance info")
	if err != nil {
		return u, err
	}
	u.maintenance = mi != nil
	u.md, err = o.metadata()
	return u, err
}

// updateManagedInstance is PATCH /v3/service_instances/:guid of a managed
// instance: a change the broker must make (parameters, plan) is a job,
// 202; a rename, tags or metadata are made at once, 200.
func (s *Server) updateManagedInstance(r *request, si store.ServiceInstance, o object) error {
	u, err := parseManagedUpdate(o)
	if err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, si.SpaceGUID)
	if err != nil {
		return errInternal(err)
	}
	current, offerings, err := s.planOf(r.ctx, si)
	if err != nil {
		return err
	}
	plan := current
	if u.plan != "" {
		if plan, _, err = s.usablePlan(r, u.plan, sp); err != nil {
			return err
		}
		if plan.OfferingGUID != current.OfferingGUID {
			return &apiError{Status: 400, Code: 1002, Title: "CF-InvalidRelation", Detail: "service plan relates to a different service offering"}
		}
	}
	if err := s.preflightUpdate(r.ctx, si, u, current, offerings[current.OfferingGUID]); err != nil {
		return err
	}
	lo := si.LastOperation
	deleting := lo != nil && lo.Type == "delete" && lo.InProgress()
	now := s.store.Now()
	req := opRequest{Audit: o.audit("parameters", hidden), Name: u.name, Tags: u.tags}
	if u.md != nil {
		req.Labels, req.Annotations = u.md.labels, u.md.annotations
	}
	event := s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.update", si.GUID, "service_instance", si.Name, si.SpaceGUID, auditData(req.Audit))
	if u.keys == 1 && u.md != nil && !deleting {
		si.Labels, si.Annotations = apply(si.Labels, req.Labels), apply(si.Annotations, req.Annotations)
		si.UpdatedAt = now
		return s.replyInstance(r, store.ServiceChange{Instance: &si, Events: []store.Event{event}})
	}
	if lo.InProgress() {
		return errOperationInProgress(si.Name)
	}
	if err := s.bindingsIdle(r.ctx, si); err != nil {
		return err
	}
	si.UpdatedAt = now
	if u.params == nil && (u.plan == "" || u.plan == si.PlanGUID) && !u.maintenance {
		if u.name != nil {
			si.Name = *u.name
		}
		if u.tags != nil {
			si.Tags = *u.tags
		}
		si.Labels, si.Annotations = apply(si.Labels, req.Labels), apply(si.Annotations, req.Annotations)
		si.LastOperation = &store.InstanceOperation{Type: "update", State: "succeeded", CreatedAt: now, UpdatedAt: now}
		return s.replyInstance(r, store.ServiceChange{Instance: &si, Events: []store.Event{event}})
	}
	if u.plan != "" {
		req.Plan = plan.GUID
	}
	name := si.Name
	if u.name != nil {
		name = *u.name
	}
	async, err := s.broker.Update(r.ctx, si.GUID, osbInstanceRequest{ServiceID: offerings[current.OfferingGUID].UniqueID, PlanID: plan.UniqueID,
		Context: brokerContext(sp, name), Parameters: u.params})
	if err != nil {
		return errInternal(err)
	}
	si.LastOperation = &store.InstanceOperation{Type: "update", State: "in progress", CreatedAt: now, UpdatedAt: now}
	event.Type = "audit.service_instance.start_update"
	c := store.ServiceChange{Instance: &si, Events: []store.Event{event}}
	return s.serviceJob(r, &c, "service_instance.update", opInstance, si.GUID, "update", async, req)
}

// replyInstance writes c and answers 200 with its instance.
func (s *Server) replyInstance(r *request, c store.ServiceChange) error {
	if err := s.store.ApplyServices(r.ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("The service instance name is taken: " + c.Instance.Name)
		}
		return errInternal(err)
	}
	return r.reply(200, presentServiceInstance(r.base, *c.Instance))
}

// planOf loads a managed instance's plan and offering.
func (s *Server) planOf(ctx context.Context, si store.ServiceInstance) (store.ServicePlan, map[string]store.ServiceOffering, error) {
	plans, err := s.store.ServicePlansByGUID(ctx, []string{si.PlanGUID})
	if err != nil || len(plans) == 0 {
		return store.ServicePlan{}, nil, errInternal(errors.Join(err, store.ErrNotFound))
	}
	offerings, _, err := s.offeringsOf(ctx, plans)
	return plans[0], offerings, err
}

// preflightUpdate is ServiceInstanceUpdateManaged#preflight!: the errors
// it raises as UnprocessableUpdate the controller answers with 422.
func (s *Server) preflightUpdate(ctx context.Context, si store.ServiceInstance, u managedUpdate, plan store.ServicePlan, offering store.ServiceOffering) error {
	if lo := si.LastOperation; lo != nil && lo.Type == "create" && lo.State == "failed" {
		return errInstanceGone(si.Name)
	}
	if u.name != nil && *u.name != si.Name {
		taken, _, err := s.store.ListServiceInstances(ctx, store.Viewer{All: true},
			store.ServiceInstanceFilter{Names: []string{*u.name}, SpaceGUIDs: []string{si.SpaceGUID}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			return errInternal(err)
		}
		if len(taken) > 0 && taken[0].SpaceGUID == si.SpaceGUID {
			return errUnprocessable("The service instance name is taken: " + *u.name)
		}
	}
	if u.name != nil {
		shared, err := s.store.SharedSpaces(ctx, si.GUID)
		if err != nil {
			return errInternal(err)
		}
		if len(shared) > 0 {
			return errUnprocessable("Service instances that have been shared cannot be renamed")
		}
	}
	if u.plan != "" && !planUpdateable(plan, offering) {
		return errUnprocessable("The service does not support changing plans.")
	}
	if u.plan != "" {
		target, err := s.store.ServicePlansByGUID(ctx, []string{u.plan})
		if err != nil {
			return errInternal(err)
		}
		bindings, err := s.instanceBindings(ctx, si.GUID)
		if err != nil {
			return errInternal(err)
		}
		hasApps := false
		for _, b := range bindings {
			hasApps = hasApps || b.Type == "app"
		}
		if hasApps && len(target) == 1 && !planBindable(target[0], offering) {
			return errUnprocessable("The service plan is invalid: cannot switch to non-bindable plan when service bindings exist")
		}
	}
	if u.maintenance {
		// No plan of the built-in broker has maintenance_info.
		return errUnprocessable("The service broker does not support upgrades for service instances created from this plan.")
	}
	return nil
}

// bindingsIdle is the UpdaterLock's check of an instance's app bindings:
// one with an operation in progress is AsyncServiceBindingOperationInProgress.
func (s *Server) bindingsIdle(ctx context.Context, si store.ServiceInstance) error {
	bindings, err := s.instanceBindings(ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	for _, b := range bindings {
		if b.Type != "app" || (b.LastOperation.State != "initial" && b.LastOperation.State != "in progress") {
			continue
		}
		app, err := s.store.GetApp(ctx, store.Viewer{All: true}, deref(b.AppGUID))
		if err != nil {
			return errInternal(err)
		}
		return &apiError{Status: 409, Code: 90008, Title: "CF-AsyncServiceBindingOperationInProgress",
			Detail: "An operation for the service binding between app " + app.Name + " and service instance " + si.Name + " is in progress."}
	}
	return nil
}
