package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// User-provided service instances and service credential bindings: enough
// for an app to be bound to a service, as a v2 client binds one. Managed
// instances need brokers and plans, which the embedded CF does not have.
// Shapes are those of CC's docs (api_resources/_service_instances.erb,
// _service_credential_bindings.erb) and presenters
// (cc:app/presenters/v3/service_instance_presenter.rb,
// service_credential_binding_presenter.rb); shared/reference has no
// example of these.

type lastOperationJSON struct {
	Type        string `json:"type"`
	State       string `json:"state"`
	Description string `json:"description"`
	UpdatedAt   string `json:"updated_at"`
	CreatedAt   string `json:"created_at"`
}

type serviceInstanceJSON struct {
	GUID            string            `json:"guid"`
	CreatedAt       string            `json:"created_at"`
	UpdatedAt       string            `json:"updated_at"`
	LastOperation   lastOperationJSON `json:"last_operation"`
	Name            string            `json:"name"`
	Tags            []string          `json:"tags"`
	Type            string            `json:"type"`
	SyslogDrainURL  *string           `json:"syslog_drain_url"`
	RouteServiceURL *string           `json:"route_service_url"`
	Relationships   struct {
		Space toOne `json:"space"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self                      link `json:"self"`
		Space                     link `json:"space"`
		Credentials               link `json:"credentials"`
		ServiceCredentialBindings link `json:"service_credential_bindings"`
		ServiceRouteBindings      link `json:"service_route_bindings"`
	} `json:"links"`
}

// presentServiceInstance renders a user-provided service instance. Its
// last operation is its create, which succeeds at once.
func presentServiceInstance(base string, si store.ServiceInstance) serviceInstanceJSON {
	j := serviceInstanceJSON{GUID: si.GUID, CreatedAt: timestamp(si.CreatedAt), UpdatedAt: timestamp(si.UpdatedAt), Name: si.Name,
		Tags: si.Tags, Type: si.Type, SyslogDrainURL: si.SyslogDrainURL, RouteServiceURL: si.RouteServiceURL, Metadata: meta(si.Labels, si.Annotations)}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	j.LastOperation = lastOperationJSON{Type: "create", State: "succeeded", Description: "Operation succeeded", UpdatedAt: j.UpdatedAt, CreatedAt: j.CreatedAt}
	j.Relationships.Space = one(si.SpaceGUID)
	self := base + "/v3/service_instances/" + si.GUID
	j.Links.Self = link{Href: self}
	j.Links.Space = link{Href: base + "/v3/spaces/" + si.SpaceGUID}
	j.Links.Credentials = link{Href: self + "/credentials"}
	j.Links.ServiceCredentialBindings = link{Href: base + "/v3/service_credential_bindings?service_instance_guids=" + si.GUID}
	j.Links.ServiceRouteBindings = link{Href: base + "/v3/service_route_bindings?service_instance_guids=" + si.GUID}
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
// (cc:app/messages/service_instances_list_message.rb), less fields.
var serviceInstanceParams = listKeys("guids", "names", "space_guids", "organization_guids", "type", "service_plan_guids", "service_plan_names")

// serviceInstanceResource is GET /v3/service_instances and
// /v3/service_instances/:guid.
var serviceInstanceResource = &resource[store.ServiceInstance, store.ServiceInstanceFilter, serviceInstanceJSON]{
	name:   "Service instance",
	path:   "/v3/service_instances",
	keys:   serviceInstanceParams,
	orders: namedOrders,
	filter: func(q *params) store.ServiceInstanceFilter {
		f := store.ServiceInstanceFilter{GUIDs: q.list("guids"), Names: q.list("names"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
		f.Types = q.oneOf("type", func(string) string { return "Type must be one of 'managed', 'user-provided'" }, store.Managed, store.UserProvided)
		// A user-provided instance has no plan: a plan filter keeps none.
		if q.has("service_plan_guids") || q.has("service_plan_names") {
			f.Types = []string{}
		}
		return f
	},
	list: (*store.Store).ListServiceInstances,
	get:  (*store.Store).GetServiceInstance,
	present: each(func(r *request, si store.ServiceInstance) serviceInstanceJSON {
		return presentServiceInstance(r.base, si)
	}),
}

// writableServiceInstance loads a service instance the caller can see
// (404) in a space it may write to (403).
func (s *Server) writableServiceInstance(r *request) (store.ServiceInstance, error) {
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return si, storeErr(err, "Service instance")
	}
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

// parseURL checks an optional URL field as CC's UriValidator does.
func parseURL(o object, key, label string) (*string, error) {
	v, err := o.str(key, label)
	if err != nil || v == nil || *v == "" {
		return v, err
	}
	if u, err := url.Parse(*v); err != nil || u.Scheme == "" {
		return nil, errUnprocessable(label + " must be a valid URI")
	}
	return v, nil
}

// parseUserProvided reads the body of a user-provided service instance
// create (ServiceInstanceCreateUserProvidedMessage).
func parseUserProvided(o object) (store.ServiceInstance, error) {
	si := store.ServiceInstance{Type: store.UserProvided, Tags: []string{}}
	if err := o.only("type", "name", "relationships", "tags", "metadata", "credentials", "syslog_drain_url", "route_service_url"); err != nil {
		return si, err
	}
	name, err := o.str("name", "Name")
	if err != nil {
		return si, err
	}
	if name == nil {
		return si, errUnprocessable("Name must be a string")
	}
	if *name = strings.Trim(*name, rubyWhitespace); *name == "" {
		return si, errUnprocessable("Name can't be blank")
	}
	si.Name = *name
	if o.has("credentials") && !o.isNull("credentials") {
		if _, err := o.sub("credentials", "Credentials"); err != nil {
			return si, err
		}
		// Kept as sent, key order included.
		var compact bytes.Buffer
		if err := json.Compact(&compact, o["credentials"]); err != nil {
			return si, errUnprocessable("Credentials must be an object")
		}
		si.Credentials = compact.Bytes()
	}
	if si.SyslogDrainURL, err = parseURL(o, "syslog_drain_url", "Syslog drain url"); err != nil {
		return si, err
	}
	if si.RouteServiceURL, err = parseURL(o, "route_service_url", "Route service url"); err != nil {
		return si, err
	}
	if si.RouteServiceURL != nil && *si.RouteServiceURL != "" && !strings.HasPrefix(*si.RouteServiceURL, "https:") {
		return si, errUnprocessable("Route service url must be https")
	}
	if o.has("tags") && !o.isNull("tags") {
		var raw []json.RawMessage
		if err := json.Unmarshal(o["tags"], &raw); err != nil {
			return si, errUnprocessable("Tags must be an array")
		}
		total := 0
		for _, t := range raw {
			var tag string
			if err := json.Unmarshal(t, &tag); err != nil {
				return si, errUnprocessable("Tags must be a list of strings")
			}
			si.Tags = append(si.Tags, tag)
			total += len(tag)
		}
		if total > 2048 {
			return si, errUnprocessable("Tags combined length must be 2048 characters or less")
		}
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return si, err
	}
	if rels == nil {
		return si, errUnprocessable("Relationships can't be blank")
	}
	if err := rels.only("space"); err != nil {
		return si, err
	}
	si.SpaceGUID, err = toOneGUID(rels, "space", "Space")
	return si, err
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
		// No broker offers a plan here.
		return errUnprocessable("Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.")
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
			return errUnprocessable("The service instance name is taken: " + si.Name)
		}
		return errInternal(err)
	}
	return r.reply(201, presentServiceInstance(r.base, si))
}

// deleteServiceInstance is DELETE /v3/service_instances/:guid: a
// user-provided instance goes at once with its bindings, 204.
func (s *Server) deleteServiceInstance(r *request) error {
	if err := r.query.allow("purge"); err != nil {
		return err
	}
	si, err := s.writableServiceInstance(r)
	if err != nil {
		return err
	}
	bindings, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{ServiceInstanceGUIDs: []string{si.GUID}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	var events []store.Event
	for _, b := range bindings {
		events = append(events, s.unbindEvent(r, b))
	}
	events = append(events, s.serviceInstanceEvent(r, "audit.user_provided_service_instance.delete", si, map[string]any{}))
	if err := s.store.DeleteServiceInstance(r.ctx, si.GUID, events...); err != nil {
		return storeErr(err, "Service instance")
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// getServiceInstanceCredentials is GET /v3/service_instances/:guid/credentials:
// a user-provided instance's credentials, for readers of secrets, which CC
// records as an audit.user_provided_service_instance.show event.
func (s *Server) getServiceInstanceCredentials(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), r.params[0])
	if err == nil && si.Type != store.UserProvided {
		err = store.ErrNotFound
	}
	if err != nil {
		return storeErr(err, "Service instance")
	}
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return err
	}
	if !roles.secrets {
		return errNotAuthorized()
	}
	if err := s.store.RecordEvents(r.ctx, s.serviceInstanceEvent(r, "audit.user_provided_service_instance.show", si, map[string]any{})); err != nil {
		return errInternal(err)
	}
	creds := si.Credentials
	if len(creds) == 0 {
		creds = json.RawMessage("{}")
	}
	return r.reply(200, creds)
}

type bindingJSON struct {
	GUID          string  `json:"guid"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	Name          *string `json:"name"`
	Type          string  `json:"type"`
	LastOperation struct {
		Type        string `json:"type"`
		State       string `json:"state"`
		Description string `json:"description"`
		CreatedAt   string `json:"created_at"`
		UpdatedAt   string `json:"updated_at"`
	} `json:"last_operation"`
	Metadata      metadataJSON `json:"metadata"`
	Relationships struct {
		ServiceInstance toOne  `json:"service_instance"`
		App             *toOne `json:"app,omitempty"`
	} `json:"relationships"`
	Links struct {
		Self            link  `json:"self"`
		Details         link  `json:"details"`
		ServiceInstance link  `json:"service_instance"`
		Parameters      *link `json:"parameters,omitempty"`
		App             *link `json:"app,omitempty"`
	} `json:"links"`
}

// presentBinding renders a binding. The parameters link is for managed
// service instances only: userProvided drops it.
func presentBinding(base string, b store.ServiceCredentialBinding, userProvided bool) bindingJSON {
	j := bindingJSON{GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), Name: b.Name, Type: b.Type,
		Metadata: meta(b.Labels, b.Annotations)}
	// A binding's last operation carries the binding's own times when CC
	// has no operation row (LastOperationHelper).
	lo := &j.LastOperation
	lo.Type, lo.State, lo.Description = b.LastOperation.Type, b.LastOperation.State, b.LastOperation.Description
	lo.CreatedAt, lo.UpdatedAt = j.CreatedAt, j.UpdatedAt
	j.Relationships.ServiceInstance = one(b.ServiceInstanceGUID)
	self := base + "/v3/service_credential_bindings/" + b.GUID
	j.Links.Self = link{Href: self}
	j.Links.Details = link{Href: self + "/details"}
	j.Links.ServiceInstance = link{Href: base + "/v3/service_instances/" + b.ServiceInstanceGUID}
	if !userProvided {
		j.Links.Parameters = &link{Href: self + "/parameters"}
	}
	if b.AppGUID != nil && *b.AppGUID != "" {
		app := one(*b.AppGUID)
		j.Relationships.App = &app
		j.Links.App = &link{Href: base + "/v3/apps/" + *b.AppGUID}
	}
	return j
}

// bindingInstances loads the service instances of bindings, by guid. A
// binding whose instance is not in the store (only tests make those) is
// taken for a managed one.
func (s *Server) bindingInstances(r *request, bindings []store.ServiceCredentialBinding) (map[string]store.ServiceInstance, []string, error) {
	var guids []string
	seen := map[string]bool{}
	for _, b := range bindings {
		if !seen[b.ServiceInstanceGUID] {
			seen[b.ServiceInstanceGUID] = true
			guids = append(guids, b.ServiceInstanceGUID)
		}
	}
	found, err := s.store.ServiceInstancesByGUID(r.ctx, guids)
	if err != nil {
		return nil, nil, errInternal(err)
	}
	out := make(map[string]store.ServiceInstance, len(found))
	for _, si := range found {
		out[si.GUID] = si
	}
	return out, guids, nil
}

// bindingIncluded is the included block of a bindings list, in the order
// of CC's decorators: apps, then service instances.
type bindingIncluded struct {
	Apps             []appJSON             `json:"apps,omitzero"`
	ServiceInstances []serviceInstanceJSON `json:"service_instances,omitzero"`
}

// bindingResource is GET /v3/service_credential_bindings and
// /v3/service_credential_bindings/:guid (ServiceCredentialBindingsListMessage), less the filters on service
// plans, offerings and instance names.
var bindingResource = &resource[store.ServiceCredentialBinding, store.BindingFilter, bindingJSON]{
	name:   "Service credential binding",
	path:   "/v3/service_credential_bindings",
	keys:   listKeys("guids", "names", "app_guids", "app_names", "service_instance_guids", "type", "include"),
	orders: namedOrders,
	filter: func(q *params) store.BindingFilter {
		f := store.BindingFilter{GUIDs: q.list("guids"), Names: q.list("names"), AppGUIDs: q.list("app_guids"),
			AppNames: q.list("app_names"), ServiceInstanceGUIDs: q.list("service_instance_guids"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
		f.Types = q.oneOf("type", func(string) string { return "Type must be one of 'app', 'key'" }, "app", "key")
		return f
	},
	list: (*store.Store).ListServiceCredentialBindings,
	get:  (*store.Store).GetServiceCredentialBinding,
	present: func(s *Server, r *request, bindings []store.ServiceCredentialBinding) ([]bindingJSON, error) {
		instances, _, err := s.bindingInstances(r, bindings)
		if err != nil {
			return nil, err
		}
		out := make([]bindingJSON, len(bindings))
		for i, b := range bindings {
			out[i] = presentBinding(r.base, b, instances[b.ServiceInstanceGUID].Type == store.UserProvided)
		}
		return out, nil
	},
	includes: []string{"app", "service_instance"},
	included: func(s *Server, r *request, include map[string]bool, bindings []store.ServiceCredentialBinding) (any, error) {
		return s.includeForBindings(r, include, bindings)
	},
}

// includeForBindings renders the apps and service instances include= asks
// for, each once, in the order of first use.
func (s *Server) includeForBindings(r *request, include map[string]bool, bindings []store.ServiceCredentialBinding) (*bindingIncluded, error) {
	inc := &bindingIncluded{}
	if include["app"] {
		inc.Apps = []appJSON{}
		seen := map[string]bool{}
		for _, b := range bindings {
			if b.AppGUID == nil || seen[*b.AppGUID] {
				continue
			}
			seen[*b.AppGUID] = true
			a, err := s.store.GetApp(r.ctx, store.Viewer{All: true}, *b.AppGUID)
			if err != nil {
				return nil, errInternal(err)
			}
			inc.Apps = append(inc.Apps, presentApp(r.base, a))
		}
	}
	if include["service_instance"] {
		instances, order, err := s.bindingInstances(r, bindings)
		if err != nil {
			return nil, err
		}
		inc.ServiceInstances = []serviceInstanceJSON{}
		for _, guid := range order {
			if si, ok := instances[guid]; ok {
				inc.ServiceInstances = append(inc.ServiceInstances, presentServiceInstance(r.base, si))
			}
		}
	}
	return inc, nil
}

// bindingEvent builds an audit event about an app binding
// (ServiceGenericBindingEventRepository, actee type service_binding).
func (s *Server) bindingEvent(r *request, typ string, b store.ServiceCredentialBinding, data any) store.Event {
	body, err := json.Marshal(data)
	if err != nil {
		body = []byte("{}")
	}
	name, org := "", ""
	if b.Name != nil {
		name = *b.Name
	}
	if sp, err := s.store.SpacesByGUID(r.ctx, []string{b.SpaceGUID}); err == nil && len(sp) == 1 {
		org = sp[0].OrgGUID
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: b.GUID, TargetType: "service_binding",
		TargetName: name, SpaceGUID: b.SpaceGUID, OrgGUID: org, Data: body, CreatedAt: s.store.Now()}
}

// unbindEvent is audit.service_binding.delete about b.
func (s *Server) unbindEvent(r *request, b store.ServiceCredentialBinding) store.Event {
	return s.bindingEvent(r, "audit.service_binding.delete", b, map[string]any{"request": map[string]any{
		"app_guid": b.AppGUID, "route_guid": nil, "service_instance_guid": b.ServiceInstanceGUID}})
}

// createServiceCredentialBinding is POST /v3/service_credential_bindings:
// an app binding of a user-provided instance is made at once, 201
// (ServiceCredentialBindingsController#create,
// V3::ServiceCredentialBindingAppCreate). The binding takes a copy of the
// instance's credentials and syslog drain.
func (s *Server) createServiceCredentialBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "type", "name", "relationships", "parameters", "metadata")
	if err != nil {
		return err
	}
	typ, err := o.str("type", "Type")
	if err != nil || typ == nil || (*typ != "app" && *typ != "key") {
		return errUnprocessable("Type must be one of 'key', 'app'")
	}
	name, err := o.str("name", "Name")
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
	if err := rels.only("service_instance", "app"); err != nil {
		return err
	}
	siGUID, err := toOneGUID(rels, "service_instance", "Service instance")
	if err != nil {
		return err
	}
	appGUID := ""
	if *typ == "app" {
		if appGUID, err = toOneGUID(rels, "app", "App"); err != nil {
			return err
		}
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), siGUID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("The service instance could not be found: '" + siGUID + "'")
	}
	if err != nil {
		return errInternal(err)
	}
	if o.has("parameters") {
		return errUnprocessable("Binding parameters are not supported for user-provided service instances")
	}
	if *typ == "key" {
		return errUnprocessable("Service credential bindings of type 'key' are not supported for user-provided service instances.")
	}
	a, err := s.store.GetApp(r.ctx, r.user.viewer(), appGUID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("The app could not be found: '" + appGUID + "'")
	}
	if err != nil {
		return errInternal(err)
	}
	roles, err := s.spaceRoles(r, a.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	if si.SpaceGUID != a.SpaceGUID {
		return errUnprocessable("The service instance and the app are in different spaces")
	}
	existing, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{AppGUIDs: []string{a.GUID}, Types: []string{"app"}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	for _, b := range existing {
		if b.ServiceInstanceGUID == si.GUID {
			return errUnprocessable("The app is already bound to the service instance")
		}
		if name != nil && b.Name != nil && *b.Name == *name {
			return errUnprocessable("The binding name is invalid. App binding names must be unique. The app already has a binding with name '" + *name + "'.")
		}
	}
	now := s.store.Now()
	b := store.ServiceCredentialBinding{GUID: uuid.NewString(), Type: "app", Name: name, AppGUID: &a.GUID, ServiceInstanceGUID: si.GUID,
		SpaceGUID: a.SpaceGUID, Credentials: si.Credentials, SyslogDrainURL: si.SyslogDrainURL,
		LastOperation: store.LastOperation{Type: "create", State: "succeeded"}, CreatedAt: now, UpdatedAt: now}
	if md != nil {
		b.Labels, b.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	ev := s.bindingEvent(r, "audit.service_binding.create", b, map[string]any{"request": o})
	if err := s.store.CreateServiceCredentialBinding(r.ctx, b, ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("The app is already bound to the service instance")
		}
		return errInternal(err)
	}
	return r.reply(201, presentBinding(r.base, b, true))
}

// deleteServiceCredentialBinding is DELETE
// /v3/service_credential_bindings/:guid: an app binding goes at once, 204.
func (s *Server) deleteServiceCredentialBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, err := s.store.GetServiceCredentialBinding(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Service credential binding")
	}
	roles, err := s.spaceRoles(r, b.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	if err := s.store.DeleteServiceCredentialBinding(r.ctx, b.GUID, s.unbindEvent(r, b)); err != nil {
		return storeErr(err, "Service credential binding")
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// getServiceCredentialBindingDetails is GET
// /v3/service_credential_bindings/:guid/details: credentials and syslog
// drain, for readers of secrets; others get 404, as in CC
// (ServiceCredentialBindingDetailsPresenter leaves out what is unset).
func (s *Server) getServiceCredentialBindingDetails(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, err := s.store.GetServiceCredentialBinding(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Service credential binding")
	}
	roles, err := s.spaceRoles(r, b.SpaceGUID)
	if err != nil {
		return err
	}
	if !roles.secrets {
		return errNotFound("Service credential binding")
	}
	creds := b.Credentials
	if len(creds) == 0 {
		creds = json.RawMessage("{}")
	}
	return r.reply(200, struct {
		Credentials    json.RawMessage `json:"credentials"`
		SyslogDrainURL *string         `json:"syslog_drain_url,omitempty"`
	}{creds, b.SyslogDrainURL})
}

// vcapServiceJSON is one bound instance in VCAP_SERVICES, keys in the order
// of CC's docs ("VCAP_SERVICES", user-provided service instances).
type vcapServiceJSON struct {
	Label          string          `json:"label"`
	Name           string          `json:"name"`
	Tags           []string        `json:"tags"`
	InstanceGUID   string          `json:"instance_guid"`
	InstanceName   string          `json:"instance_name"`
	BindingGUID    string          `json:"binding_guid"`
	BindingName    *string         `json:"binding_name"`
	Credentials    json.RawMessage `json:"credentials"`
	SyslogDrainURL *string         `json:"syslog_drain_url"`
	VolumeMounts   []string        `json:"volume_mounts"`
}

// vcapServices is the VCAP_SERVICES of an app: its bindings of
// user-provided instances under "user-provided"
// (cc:app/presenters/system_environment/system_env_presenter.rb). A
// binding's name, when it has one, names the service.
func (s *Server) vcapServices(r *request, appGUID string) (map[string][]vcapServiceJSON, error) {
	out := map[string][]vcapServiceJSON{}
	bindings, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{AppGUIDs: []string{appGUID}, Types: []string{"app"}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return nil, errInternal(err)
	}
	instances, _, err := s.bindingInstances(r, bindings)
	if err != nil {
		return nil, err
	}
	for _, b := range bindings {
		si, ok := instances[b.ServiceInstanceGUID]
		if !ok || si.Type != store.UserProvided {
			continue
		}
		v := vcapServiceJSON{Label: store.UserProvided, Name: si.Name, Tags: si.Tags, InstanceGUID: si.GUID, InstanceName: si.Name,
			BindingGUID: b.GUID, BindingName: b.Name, Credentials: b.Credentials, SyslogDrainURL: b.SyslogDrainURL, VolumeMounts: []string{}}
		if b.Name != nil {
			v.Name = *b.Name
		}
		if len(v.Credentials) == 0 {
			v.Credentials = json.RawMessage("{}")
		}
		out[store.UserProvided] = append(out[store.UserProvided], v)
	}
	return out, nil
}
