package backend

import (
	"encoding/json"

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
	return instancesOf(s, r, bindings, func(b store.ServiceCredentialBinding) string { return b.ServiceInstanceGUID })
}

// instancesOf loads the service instances that items name (instanceOf
// reads the guid), by guid, with the guids in the order of first use.
func instancesOf[B any](s *Server, r *request, items []B, instanceOf func(B) string) (map[string]store.ServiceInstance, []string, error) {
	var guids []string
	seen := map[string]bool{}
	for _, item := range items {
		if guid := instanceOf(item); !seen[guid] {
			seen[guid] = true
			guids = append(guids, guid)
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

// presentInstances renders the instances of order that exist, for an
// included block.
func presentInstances(r *request, instances map[string]store.ServiceInstance, order []string) []serviceInstanceJSON {
	out := []serviceInstanceJSON{}
	for _, guid := range order {
		if si, ok := instances[guid]; ok {
			out = append(out, presentServiceInstance(r.base, si))
		}
	}
	return out
}

// bindingIncluded is the included block of a bindings list, in the order
// of CC's decorators: apps, then service instances.
type bindingIncluded struct {
	Apps             []appJSON             `json:"apps,omitzero"`
	ServiceInstances []serviceInstanceJSON `json:"service_instances,omitzero"`
}

// bindingResource is GET /v3/service_credential_bindings and
// /v3/service_credential_bindings/:guid (ServiceCredentialBindingListMessage).
var bindingResource = &resource[store.ServiceCredentialBinding, store.BindingFilter, bindingJSON]{
	name: "Service credential binding",
	path: "/v3/service_credential_bindings",
	keys: listKeys("guids", "names", "app_guids", "app_names", "service_instance_guids", "type", "include", "service_instance_names",
		"service_plan_names", "service_plan_guids", "service_offering_names", "service_offering_guids"),
	orders: namedOrders,
	filter: func(q *params) store.BindingFilter {
		f := store.BindingFilter{GUIDs: q.list("guids"), Names: q.list("names"), AppGUIDs: q.list("app_guids"),
			AppNames: q.list("app_names"), ServiceInstanceGUIDs: q.list("service_instance_guids"),
			ServiceInstanceNames: q.list("service_instance_names"), PlanNames: q.list("service_plan_names"), PlanGUIDs: q.list("service_plan_guids"),
			OfferingNames: q.list("service_offering_names"), OfferingGUIDs: q.list("service_offering_guids"),
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
		inc.ServiceInstances = presentInstances(r, instances, order)
	}
	return inc, nil
}

// readableBinding loads a binding the caller can see whose create
// succeeded; another is 404 with not_found_with_message!'s text.
func (s *Server) readableBinding(r *request) (store.ServiceCredentialBinding, error) {
	b, err := s.store.GetServiceCredentialBinding(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return b, storeErr(err, "Service credential binding")
	}
	if lo := b.LastOperation; lo.Type != "create" || lo.State != "succeeded" {
		kind := "service binding"
		if b.Type == "key" {
			kind = "service key"
		}
		return b, errOperationNotFound(kind, lo.Type, lo.State)
	}
	return b, nil
}

// errOperationNotFound is not_found_with_message! of a binding whose
// create has not succeeded: "Creation of <kind> <state>", or "Deletion of
// ..." while it is being deleted.
func errOperationNotFound(kind, typ, state string) error {
	op := "Deletion"
	if typ == "create" {
		op = "Creation"
	}
	return &apiError{Status: 404, Code: 10010, Title: "CF-ResourceNotFound", Detail: op + " of " + kind + " " + state}
}

// getServiceCredentialBindingDetails is GET
// /v3/service_credential_bindings/:guid/details: credentials and syslog
// drain, for readers of secrets; others get 404, as in CC
// (ServiceCredentialBindingDetailsPresenter leaves out what is unset).
// Reading them is audited (record_show).
func (s *Server) getServiceCredentialBindingDetails(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	_, roles, err := s.bindingWithRoles(r)
	if err != nil {
		return err
	}
	if !roles.secrets {
		return errNotFound("Service credential binding")
	}
	b, err := s.readableBinding(r)
	if err != nil {
		return err
	}
	event := s.serviceEvent(r.ctx, r.user.actor(), bindingEventType(b, "show"), b.GUID, bindingTarget(b), deref(b.Name), b.SpaceGUID, auditData(nil))
	if err := s.store.RecordEvents(r.ctx, event); err != nil {
		return errInternal(err)
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

// getServiceCredentialBindingParameters is GET
// /v3/service_credential_bindings/:guid/parameters: what the binding was
// made with, as the broker tells (ServiceBindingRead#fetch_parameters).
func (s *Server) getServiceCredentialBindingParameters(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, err := s.readableBinding(r)
	if err != nil {
		return err
	}
	si, err := s.store.GetServiceInstance(r.ctx, store.Viewer{All: true}, b.ServiceInstanceGUID)
	if err != nil {
		return errInternal(err)
	}
	if si.Type == store.UserProvided {
		return &apiError{Status: 400, Code: 90007, Title: "CF-ServiceFetchBindingParametersNotSupported",
			Detail: "This service does not support fetching service binding parameters."}
	}
	fetched, err := s.broker.Fetch(r.ctx, b.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, fetched.Parameters)
}

// vcapServiceJSON is one bound instance in VCAP_SERVICES, keys in the order
// of the binding hash with the instance's reverse_merge!d under it
// (cc:app/presenters/system_environment/service_binding_presenter.rb,
// service_instance_presenter.rb): a managed instance adds provider and
// plan, which a user-provided one leaves out.
type vcapServiceJSON struct {
	Label          string          `json:"label"`
	Provider       json.RawMessage `json:"provider,omitempty"`
	Plan           *string         `json:"plan,omitempty"`
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

// vcapServices is the VCAP_SERVICES of an app
// (cc:app/presenters/system_environment/system_env_presenter.rb): its
// bindings whose create succeeded, under "user-provided" or the label of
// the managed instance's offering, whose tags come before the instance's.
// A binding's name, when it has one, names the service.
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
		if !ok || b.LastOperation.Type != "create" || b.LastOperation.State != "succeeded" {
			continue
		}
		v := vcapServiceJSON{Label: store.UserProvided, Name: si.Name, Tags: si.Tags, InstanceGUID: si.GUID, InstanceName: si.Name,
			BindingGUID: b.GUID, BindingName: b.Name, Credentials: b.Credentials, SyslogDrainURL: b.SyslogDrainURL, VolumeMounts: []string{}}
		if si.Type == store.Managed {
			plan, offerings, err := s.planOf(r.ctx, si)
			if err != nil {
				return nil, err
			}
			o := offerings[plan.OfferingGUID]
			v.Label, v.Provider, v.Plan, v.Tags = o.Name, json.RawMessage("null"), &plan.Name, uniq(append(append([]string{}, o.Tags...), si.Tags...))
		}
		if b.Name != nil && *b.Name != "" {
			v.Name = *b.Name
		}
		if len(v.Credentials) == 0 {
			v.Credentials = json.RawMessage("{}")
		}
		out[v.Label] = append(out[v.Label], v)
	}
	return out, nil
}
