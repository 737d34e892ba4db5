package backend

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Managed service instances of the built-in broker: create, update and
// delete as ServiceInstancesV3Controller does them with
// V3::ServiceInstanceCreateManaged, V3::ServiceInstanceUpdateManaged and
// V3::ServiceInstanceDelete; the broker work is a job (service_ops.go).

// errInvalidPlan is the create's answer for a plan that does not exist or
// that the caller cannot see.
func errInvalidPlan() error {
	return errUnprocessable("Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.")
}

// errOperationInProgress is CC's AsyncServiceInstanceOperationInProgress
// (errors/v2.yml 60016), raised by the UpdaterLock.
func errOperationInProgress(name string) error {
	return &apiError{Status: 409, Code: 60016, Title: "CF-AsyncServiceInstanceOperationInProgress",
		Detail: "An operation for service instance " + name + " is in progress."}
}

// errInstanceGone is CC's ServiceInstanceNotFound (60004), for an instance
// whose create failed.
func errInstanceGone(name string) error {
	return &apiError{Status: 404, Code: 60004, Title: "CF-ServiceInstanceNotFound", Detail: "The service instance could not be found: " + name}
}

// parseParameters reads an optional parameters object.
func parseParameters(o object) (json.RawMessage, error) {
	if p, err := o.sub("parameters", "Parameters"); err != nil || p == nil {
		return nil, err
	}
	return o["parameters"], nil
}

// usablePlan checks the plan guid names for an instance in space, in the
// controller's order: it exists and the caller sees it, it is active, and
// it is visible in the space's organization.
func (s *Server) usablePlan(r *request, guid string, sp store.Space) (store.ServicePlan, store.ServiceOffering, error) {
	plan, err := s.store.GetServicePlan(r.ctx, r.viewer(), guid)
	if errors.Is(err, store.ErrNotFound) {
		return plan, store.ServiceOffering{}, errInvalidPlan()
	}
	if err != nil {
		return plan, store.ServiceOffering{}, errInternal(err)
	}
	offerings, _, err := s.offeringsOf(r.ctx, []store.ServicePlan{plan})
	if err != nil {
		return plan, store.ServiceOffering{}, err
	}
	if !plan.Active {
		return plan, offerings[plan.OfferingGUID], errUnprocessable("Invalid service plan. The service plan '" + plan.Name + "' with guid '" + plan.GUID +
			"' has been removed from the service broker's catalog. It is not possible to create new service instances using this plan.")
	}
	visible, err := s.store.PlanVisibleInOrg(r.ctx, plan, sp.OrgGUID)
	if err != nil {
		return plan, store.ServiceOffering{}, errInternal(err)
	}
	if !visible {
		return plan, offerings[plan.OfferingGUID], errUnprocessable("Invalid service plan. This could be due to a space-scoped broker which is offering the service plan '" +
			plan.Name + "' with guid '" + plan.GUID + "' in another space or that the plan is not enabled in this organization. Ensure that the service plan " +
			"is visible in your current space '" + sp.Name + "' with guid '" + sp.GUID + "'.")
	}
	return plan, offerings[plan.OfferingGUID], nil
}

// brokerContext is the platform context of an instance (Client#context_hash).
func brokerContext(sp store.Space, name string) osbContext {
	return osbContext{Platform: brokerPlatform, OrganizationGUID: sp.OrgGUID, SpaceGUID: sp.GUID, InstanceName: name}
}

// createManagedInstance is POST /v3/service_instances of type managed:
// the instance is made "create initial" and a job provisions it, 202.
func (s *Server) createManagedInstance(r *request, o object) error {
	if err := o.only("type", "relationships", "name", "tags", "parameters", "metadata"); err != nil {
		return err
	}
	name, err := parseName(o)
	if err != nil {
		return err
	}
	tags, err := parseTags(o)
	if err != nil {
		return err
	}
	params, err := parseParameters(o)
	if err != nil {
		return err
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return err
	}
	if rels == nil {
		return errUnprocessable("Relationships can't be blank")
	}
	if err := rels.only("space", "service_plan"); err != nil {
		return err
	}
	spaceGUID, err := toOneGUID(rels, "space", "Space")
	if err != nil {
		return err
	}
	planGUID, err := toOneGUID(rels, "service_plan", "Service plan")
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	sp, err := s.spaceToWrite(r, spaceGUID)
	if err != nil {
		return err
	}
	plan, offering, err := s.usablePlan(r, planGUID, sp)
	if err != nil {
		return err
	}
	now := s.store.Now()
	si := store.ServiceInstance{GUID: uuid.NewString(), Type: store.Managed, Name: name, SpaceGUID: sp.GUID, PlanGUID: plan.GUID, Tags: tags,
		LastOperation: &store.InstanceOperation{Type: "create", State: "initial", CreatedAt: now, UpdatedAt: now}, CreatedAt: now, UpdatedAt: now}
	if md != nil {
		si.Labels, si.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	c := store.ServiceChange{Instance: &si}
	// A create that failed gives way to a new instance of its name
	// (ServiceInstanceCreateManaged#precursor); any other is a name taken.
	taken, _, err := s.store.ListServiceInstances(r.ctx, store.Viewer{All: true},
		store.ServiceInstanceFilter{Names: []string{name}, SpaceGUIDs: []string{sp.GUID}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return errInternal(err)
	}
	for _, t := range taken {
		if t.SpaceGUID != sp.GUID {
			continue
		}
		if lo := t.LastOperation; t.Type != store.Managed || lo == nil || lo.Type != "create" || lo.State != "failed" {
			return errUnprocessable("The service instance name is taken: " + name + ".")
		}
		c.DeleteInstance = t.GUID
	}
	if err := s.serviceInstanceQuotaErr(r.ctx, sp, plan, c.DeleteInstance); err != nil {
		return err
	}
	async, err := s.broker.Provision(r.ctx, si.GUID, osbInstanceRequest{ServiceID: offering.UniqueID, PlanID: plan.UniqueID,
		Context: brokerContext(sp, name), Parameters: params})
	if err != nil {
		return errInternal(err)
	}
	c.Events = []store.Event{s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.start_create", si.GUID, "service_instance", si.Name,
		si.SpaceGUID, auditData(o.audit("parameters", hidden)))}
	err = s.serviceJob(r, &c, "service_instance.create", opInstance, si.GUID, "create", async, opRequest{Audit: o.audit("parameters", hidden)})
	if errors.Is(err, store.ErrConflict) {
		return errUnprocessable("The service instance name is taken: " + name + ".")
	}
	return err
}

// audit is the request body as CC's audit events record it: key, when
// present, hidden behind with (ServiceEventRepository#with_parameters_redacted,
// #with_credentials_redacted).
func (o object) audit(key, with string) json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range o {
		out[k] = v
	}
	if o.has(key) {
		out[key], _ = json.Marshal(with)
	}
	b, _ := json.Marshal(out)
	return b
}

// hidden is CC's Censorship::PRIVATE_DATA_HIDDEN.
const hidden = "[PRIVATE DATA HIDDEN]"

// deleteManagedInstance is DELETE /v3/service_instances/:guid of a managed
// instance: a job deprovisions it, and removes its bindings and keys with
// it, 202.
func (s *Server) deleteManagedInstance(r *request, si store.ServiceInstance) error {
	if si.LastOperation.InProgress() {
		return errUnprocessable("There is an operation in progress for the service instance.")
	}
	bindings, err := s.instanceBindings(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	for _, b := range bindings {
		if b.LastOperation.State == "initial" || b.LastOperation.State == "in progress" {
			return errUnprocessable("There is an operation in progress for the service instance.")
		}
	}
	async, err := s.broker.Deprovision(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	now := s.store.Now()
	si.LastOperation = &store.InstanceOperation{Type: "delete", State: "in progress", CreatedAt: now, UpdatedAt: now}
	si.UpdatedAt = now
	c := store.ServiceChange{Instance: &si, Events: []store.Event{s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.start_delete",
		si.GUID, "service_instance", si.Name, si.SpaceGUID, auditData(nil))}}
	return s.serviceJob(r, &c, "service_instance.delete", opInstance, si.GUID, "delete", async, opRequest{})
}

// purgeServiceInstance is DELETE /v3/service_instances/:guid?purge=true:
// the instance, its bindings and keys go at once, without the broker
// (ServiceInstancePurge); a managed one only for who may write its
// offering, an admin here.
func (s *Server) purgeServiceInstance(r *request, si store.ServiceInstance) error {
	if si.Type == store.Managed && !r.user.admin() {
		return errNotAuthorized()
	}
	bindings, err := s.instanceBindings(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	c := store.ServiceChange{DeleteInstance: si.GUID}
	// Route bindings go with the instance (the store's cascade), each with
	// its delete event, before the credential bindings' (ServiceInstancePurge).
	if c.Events, err = s.routeBindingDeleteEvents(r, si.GUID); err != nil {
		return err
	}
	for _, b := range bindings {
		c.Events = append(c.Events, s.serviceEvent(r.ctx, r.user.actor(), bindingEventType(b, "delete"), b.GUID, bindingTarget(b), deref(b.Name),
			b.SpaceGUID, auditData(nil)))
	}
	c.Events = append(c.Events, s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.purge", si.GUID, "service_instance", si.Name,
		si.SpaceGUID, json.RawMessage(`{"request":null}`)))
	if err := s.store.ApplyServices(r.ctx, c); err != nil {
		return storeErr(err, "Service instance")
	}
	r.ctx.SetStatusCode(204)
	return nil
}
