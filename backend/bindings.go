package backend

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Service credential bindings: an app's binding of a service instance, or a
// service key (cc:app/controllers/v3/service_credential_bindings_controller.rb,
// app/presenters/v3/service_credential_binding_presenter.rb).

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
