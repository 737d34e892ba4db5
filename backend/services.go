package backend

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Service instances (cc:app/controllers/v3/service_instances_controller.rb,
// app/presenters/v3/service_instance_presenter.rb): user-provided ones
// here, managed ones of the built-in broker in services_managed.go.

type lastOperationJSON struct {
	Type        string  `json:"type"`
	State       string  `json:"state"`
	Description *string `json:"description"`
	UpdatedAt   string  `json:"updated_at"`
	CreatedAt   string  `json:"created_at"`
}

// serviceInstanceJSON is both kinds of instance, keys in the presenter's
// order: the managed keys (maintenance_info to dashboard_url) and the
// user-provided ones (the two URLs) are left out of the other kind.
type serviceInstanceJSON struct {
	GUID             string            `json:"guid"`
	CreatedAt        string            `json:"created_at"`
	UpdatedAt        string            `json:"updated_at"`
	Name             string            `json:"name"`
	Tags             []string          `json:"tags"`
	LastOperation    lastOperationJSON `json:"last_operation"`
	Type             string            `json:"type"`
	MaintenanceInfo  json.RawMessage   `json:"maintenance_info,omitempty"`
	UpgradeAvailable *bool             `json:"upgrade_available,omitempty"`
	DashboardURL     json.RawMessage   `json:"dashboard_url,omitempty"`
	SyslogDrainURL   json.RawMessage   `json:"syslog_drain_url,omitempty"`
	RouteServiceURL  json.RawMessage   `json:"route_service_url,omitempty"`
	Relationships    struct {
		Space       toOne  `json:"space"`
		ServicePlan *toOne `json:"service_plan,omitempty"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self                      link  `json:"self"`
		Space                     link  `json:"space"`
		ServiceCredentialBindings link  `json:"service_credential_bindings"`
		ServiceRouteBindings      link  `json:"service_route_bindings"`
		ServicePlan               *link `json:"service_plan,omitempty"`
		Parameters                *link `json:"parameters,omitempty"`
		SharedSpaces              *link `json:"shared_spaces,omitempty"`
		Credentials               *link `json:"credentials,omitempty"`
	} `json:"links"`
}

// nullable is a string field that is shown as null when unset.
func nullable(v *string) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// presentServiceInstance renders a service instance. A user-provided one
// made before instances kept their last operation shows its create,
// succeeded with CC's "Operation succeeded".
func presentServiceInstance(base string, si store.ServiceInstance) serviceInstanceJSON {
	j := serviceInstanceJSON{GUID: si.GUID, CreatedAt: timestamp(si.CreatedAt), UpdatedAt: timestamp(si.UpdatedAt), Name: si.Name,
		Tags: si.Tags, Type: si.Type, Metadata: meta(si.Labels, si.Annotations)}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	lo := si.LastOperation
	if lo == nil {
		done := "Operation succeeded"
		lo = &store.InstanceOperation{Type: "create", State: "succeeded", Description: &done, CreatedAt: si.CreatedAt, UpdatedAt: si.UpdatedAt}
	}
	j.LastOperation = lastOperationJSON{Type: lo.Type, State: lo.State, Description: lo.Description, UpdatedAt: timestamp(lo.UpdatedAt),
		CreatedAt: timestamp(lo.CreatedAt)}
	j.Relationships.Space = one(si.SpaceGUID)
	self := base + "/v3/service_instances/" + si.GUID
	j.Links.Self = link{Href: self}
	j.Links.Space = link{Href: base + "/v3/spaces/" + si.SpaceGUID}
	j.Links.ServiceCredentialBindings = link{Href: base + "/v3/service_credential_bindings?service_instance_guids=" + si.GUID}
	j.Links.ServiceRouteBindings = link{Href: base + "/v3/service_route_bindings?service_instance_guids=" + si.GUID}
	if si.Type == store.UserProvided {
		j.SyslogDrainURL, j.RouteServiceURL = nullable(si.SyslogDrainURL), nullable(si.RouteServiceURL)
		j.Links.Credentials = &link{Href: self + "/credentials"}
		return j
	}
	// The built-in broker's plans have no maintenance_info, so neither do
	// their instances, and no upgrade is ever available.
	noUpgrade := false
	j.MaintenanceInfo, j.UpgradeAvailable, j.DashboardURL = json.RawMessage("{}"), &noUpgrade, nullable(si.DashboardURL)
	plan := one(si.PlanGUID)
	j.Relationships.ServicePlan = &plan
	j.Links.ServicePlan = &link{Href: base + "/v3/service_plans/" + si.PlanGUID}
	j.Links.Parameters = &link{Href: self + "/parameters"}
	j.Links.SharedSpaces = &link{Href: self + "/relationships/shared_spaces"}
	return j
}

// serviceInstanceEvent builds an audit event about a user-provided service
// instance (ServiceEventRepository#record_user_provided_service_instance_event).
func (s *Server) serviceInstanceEvent(r *request, typ string, si store.ServiceInstance, request any) store.Event {
	b, err := json.Marshal(map[string]any{"request": request})
	if err != nil {
		b = []byte(`{"request":{}}`)
	}
	sp, err := s.store.SpacesByGUID(r.ctx, []string{si.SpaceGUID})
	org := ""
	if err == nil && len(sp) == 1 {
		org = sp[0].OrgGUID
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: si.GUID, TargetType: "user_provided_service_instance",
		TargetName: si.Name, SpaceGUID: si.SpaceGUID, OrgGUID: org, Data: b, CreatedAt: s.store.Now()}
}

// serviceInstanceParams are the query keys of GET /v3/service_instances
// (cc:app/messages/service_instances_list_message.rb).
var serviceInstanceParams = listKeys("guids", "names", "space_guids", "organization_guids", "type", "service_plan_guids",
	"service_plan_names", "fields")

// serviceInstanceResource is GET /v3/service_instances and
// /v3/service_instances/:guid; space_guids and organization_guids keep the
// instances shared into those spaces too.
var serviceInstanceResource = &resource[store.ServiceInstance, store.ServiceInstanceFilter, serviceInstanceJSON]{
	name:   "Service instance",
	path:   "/v3/service_instances",
	keys:   serviceInstanceParams,
	orders: namedOrders,
	filter: func(q *params) store.ServiceInstanceFilter {
		f := store.ServiceInstanceFilter{GUIDs: q.list("guids"), Names: q.list("names"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), PlanGUIDs: q.list("service_plan_guids"), PlanNames: q.list("service_plan_names"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
		f.Types = q.oneOf("type", func(string) string { return "Type must be one of 'managed', 'user-provided'" }, store.Managed, store.UserProvided)
		return f
	},
	list: (*store.Store).ListServiceInstances,
	get:  (*store.Store).GetServiceInstance,
	present: each(func(r *request, si store.ServiceInstance) serviceInstanceJSON {
		return presentServiceInstance(r.base, si)
	}),
	fields:     instanceListFields,
	showFields: instanceShowFields,
	included: func(s *Server, r *request, _ map[string]bool, items []store.ServiceInstance) (any, error) {
		return s.instanceFields(r, items)
	},
}

// writableServiceInstance loads a service instance the caller can see
// (404) in a space it may write to (403).
func (s *Server) writableServiceInstance(r *request) (store.ServiceInstance, error) {
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return si, storeErr(err, "Service instance")
	}
	// The write role counts in the instance's own space, not in a space it
	// is shared into (fetch_writable_service_instance).
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return si, err
	}
	return si, roles.writeErr()
}

// spaceRoles is rolesIn for a space known to exist.
func (s *Server) spaceRoles(r *request, spaceGUID string) (spaceRoles, error) {
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, spaceGUID)
	if err != nil {
		return spaceRoles{}, errInternal(err)
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return roles, errInternal(err)
	}
	return roles, nil
}

// createServiceInstance is POST /v3/service_instances. A user-provided
// instance is created at once: 201 (ServiceInstancesV3Controller#create).
func (s *Server) createServiceInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "type", "name", "relationships", "tags", "metadata", "credentials", "syslog_drain_url",
		"route_service_url", "parameters", "maintenance_info")
	if err != nil {
		return err
	}
	typ, err := o.str("type", "Type")
	if err != nil || typ == nil || (*typ != store.UserProvided && *typ != store.Managed) {
		return errUnprocessable("Type must be one of 'managed', 'user-provided'")
	}
	if *typ == store.Managed {
		return s.createManagedInstance(r, o)
	}
	si, err := parseUserProvided(o)
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	if _, err := s.spaceToWrite(r, si.SpaceGUID); err != nil {
		return err
	}
	now := s.store.Now()
	si.GUID, si.CreatedAt, si.UpdatedAt = uuid.NewString(), now, now
	done := "Operation succeeded"
	si.LastOperation = &store.InstanceOperation{Type: "create", State: "succeeded", Description: &done, CreatedAt: now, UpdatedAt: now}
	if md != nil {
		si.Labels, si.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	// The request as CC's audit_hash has it, credentials redacted.
	request := map[string]json.RawMessage{}
	for k, v := range o {
		request[k] = v
	}
	request["credentials"] = json.RawMessage(`"[REDACTED]"`)
	if err := s.store.CreateServiceInstance(r.ctx, si, s.serviceInstanceEvent(r, "audit.user_provided_service_instance.create", si, request)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("The service instance name is taken: " + si.Name + ".")
		}
		return errInternal(err)
	}
	return r.reply(201, presentServiceInstance(r.base, si))
}

// deleteServiceInstance is DELETE /v3/service_instances/:guid: a
// user-provided instance goes at once with its bindings and its route
// bindings (the store's cascade), 204; a managed one is deprovisioned by
// a job, 202; purge=true removes either at once.
func (s *Server) deleteServiceInstance(r *request) error {
	if err := r.query.allow("purge"); err != nil {
		return err
	}
	si, err := s.writableServiceInstance(r)
	if err != nil {
		return err
	}
	switch {
	case r.query.str("purge") == "true":
		return s.purgeServiceInstance(r, si)
	case si.Type == store.Managed:
		return s.deleteManagedInstance(r, si)
	}
	bindings, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{ServiceInstanceGUIDs: []string{si.GUID}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	events, err := s.routeBindingDeleteEvents(r, si.GUID)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		events = append(events, s.serviceEvent(r.ctx, r.user.actor(), bindingEventType(b, "delete"), b.GUID, bindingTarget(b), deref(b.Name),
			b.SpaceGUID, auditData(nil)))
	}
	events = append(events, s.serviceInstanceEvent(r, "audit.user_provided_service_instance.delete", si, map[string]any{}))
	if err := s.store.DeleteServiceInstance(r.ctx, si.GUID, events...); err != nil {
		return storeErr(err, "Service instance")
	}
	r.ctx.SetStatusCode(204)
	return nil
}
