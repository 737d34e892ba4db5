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
