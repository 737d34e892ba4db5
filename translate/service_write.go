package translate

import (
	"encoding/json"
	"net/url"
	"strings"
)

// The v2 service writes' bodies checked as v2 did before v3 sees them
// (v3 words these refusals differently, or not at all: §10.3.3, §10.4.2).

// Check refuses what CC's model refused of a user-provided instance: an
// empty or too long name, too many tag characters, and a route service
// URL that is no https URL with a host (ServiceInstance#validate).
func (r UserProvidedRequest) Check() *Error {
	name := ""
	if r.Name != nil {
		name = *r.Name
	}
	switch {
	case r.Name != nil && name == "":
		return ServiceError("ServiceInstanceNameEmpty", "")
	case len(name) > 255:
		return ServiceError("ServiceInstanceNameTooLong", "")
	case len(strings.Join(r.Tags, "")) > 2048:
		return ServiceError("ServiceInstanceTagsTooLong", name)
	}
	if r.RouteServiceURL != nil && strings.TrimSpace(*r.RouteServiceURL) != "" {
		u, err := url.Parse(strings.TrimSpace(*r.RouteServiceURL))
		switch {
		case err != nil || u.Host == "" || strings.HasPrefix(u.Host, "."):
			return ServiceError("ServiceInstanceRouteServiceURLInvalid", "route_service_url is invalid.")
		case u.Scheme != "https":
			return ServiceError("ServiceInstanceRouteServiceURLInvalid", "Scheme for route_service_url must be https.")
		}
	}
	return nil
}

// v3UserProvided is the body of a v3 user-provided instance write: only
// the keys given.
type v3UserProvided struct {
	Type            string                      `json:"type,omitempty"`
	Name            *string                     `json:"name,omitempty"`
	Credentials     *map[string]json.RawMessage `json:"credentials,omitempty"`
	SyslogDrainURL  *string                     `json:"syslog_drain_url,omitempty"`
	RouteServiceURL *string                     `json:"route_service_url,omitempty"`
	Tags            *[]string                   `json:"tags,omitempty"`
	Relationships   *struct {
		Space struct {
			Data V3GUIDRef `json:"data"`
		} `json:"space"`
	} `json:"relationships,omitempty"`
}

// V3UserProvidedWrite is the POST (create) or PATCH body of a user-provided
// instance write: credentials and tags replace, as in v2 (§10.4.3).
func V3UserProvidedWrite(r UserProvidedRequest, create bool) ([]byte, error) {
	b := v3UserProvided{Name: r.Name, SyslogDrainURL: r.SyslogDrainURL, RouteServiceURL: r.RouteServiceURL}
	if r.Credentials != nil {
		b.Credentials = &r.Credentials
	}
	if r.TagsGiven {
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		b.Tags = &tags
	}
	if !create {
		return json.Marshal(b)
	}
	b.Type = InstanceUserProvided
	b.Relationships = &struct {
		Space struct {
			Data V3GUIDRef `json:"data"`
		} `json:"space"`
	}{}
	b.Relationships.Space.Data.GUID = deref(r.SpaceGUID)
	return json.Marshal(b)
}

// bindingFields are ServiceBindingsController's writable attributes, then
// its to-one guids.
var bindingFields = []bodyField{{"parameters", kindHash, false}, {"name", kindString, false}, {"app_guid", kindString, true},
	{"service_instance_guid", kindString, true}}

// BindingRequest is a parsed POST /v2/service_bindings body.
type BindingRequest struct {
	AppGUID, InstanceGUID string
	Name                  *string
	Parameters            map[string]json.RawMessage
}

// ParseBindingRequest parses a binding body; "parameters": null (what the
// cf CLI sends without -c) is dropped like any null key.
func ParseBindingRequest(body []byte) (BindingRequest, error) {
	m, err := parseMessage(body, bindingFields, true)
	if err != nil {
		return BindingRequest{}, err
	}
	r := BindingRequest{AppGUID: deref(m.str("app_guid")), InstanceGUID: deref(m.str("service_instance_guid")), Name: m.str("name")}
	if v, ok := m["parameters"]; ok {
		r.Parameters = v.m
	}
	return r, nil
}

// V3BindingCreate is the POST /v3/service_credential_bindings body of a v2
// bind: parameters only for a managed instance (v3 refuses any, even {},
// for a user-provided one; §10.5.3).
func V3BindingCreate(r BindingRequest, userProvided bool) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	body := struct {
		Type          string                     `json:"type"`
		Name          *string                    `json:"name,omitempty"`
		Parameters    map[string]json.RawMessage `json:"parameters,omitempty"`
		Relationships struct {
			App             guidData `json:"app"`
			ServiceInstance guidData `json:"service_instance"`
		} `json:"relationships"`
	}{Type: "app", Name: r.Name}
	if !userProvided {
		body.Parameters = r.Parameters
	}
	body.Relationships.App.Data.GUID = r.AppGUID
	body.Relationships.ServiceInstance.Data.GUID = r.InstanceGUID
	return json.Marshal(body)
}

// ServiceJobError is the v2 error of a failed v3 service job (§10.10): a
// named v2 error passes with its v2 status; a broker failure v3 wraps as
// UnableToPerform ("<operation> could not be completed: <broker message>")
// becomes the broker error v2 raised itself.
func ServiceJobError(title, detail string, code int) *Error {
	name := strings.TrimPrefix(title, "CF-")
	if e, ok := serviceErrors[name]; ok {
		return &Error{Status: e.status, Code: e.code, Name: name, Description: detail}
	}
	if name != "UnableToPerform" {
		return &Error{Status: 400, Code: code, Name: name, Description: detail}
	}
	msg := detail
	if i := strings.Index(detail, "could not be completed: "); i >= 0 {
		msg = detail[i+len("could not be completed: "):]
	}
	class, status := "ServiceBrokerBadResponse", 502
	switch {
	case strings.HasPrefix(msg, "The request to the service broker timed out"):
		class, status = "ServiceBrokerApiTimeout", 504
	case strings.HasPrefix(msg, "The service broker could not be reached"):
		class = "ServiceBrokerApiUnreachable"
	case strings.HasPrefix(msg, "Authentication with the service broker failed"):
		class = "ServiceBrokerApiAuthenticationFailed"
	case strings.HasPrefix(msg, "The service broker rejected the request"):
		class = "ServiceBrokerRequestRejected"
	}
	return &Error{Status: status, Code: 10001, Name: class, Description: msg}
}

// keyFields are ServiceKeysController's attributes, then its to-one guid.
var keyFields = []bodyField{{"name", kindString, true}, {"parameters", kindHash, false}, {"service_instance_guid", kindString, true}}

// KeyRequest is a parsed POST /v2/service_keys body.
type KeyRequest struct {
	Name, InstanceGUID string
	Parameters         map[string]json.RawMessage
}

// ParseKeyRequest parses a key body.
func ParseKeyRequest(body []byte) (KeyRequest, error) {
	m, err := parseMessage(body, keyFields, true)
	if err != nil {
		return KeyRequest{}, err
	}
	r := KeyRequest{Name: deref(m.str("name")), InstanceGUID: deref(m.str("service_instance_guid"))}
	if v, ok := m["parameters"]; ok {
		r.Parameters = v.m
	}
	return r, nil
}

// V3KeyCreate is the POST /v3/service_credential_bindings body of a key.
func V3KeyCreate(r KeyRequest) ([]byte, error) {
	body := struct {
		Type          string                     `json:"type"`
		Name          string                     `json:"name"`
		Parameters    map[string]json.RawMessage `json:"parameters,omitempty"`
		Relationships struct {
			ServiceInstance struct {
				Data V3GUIDRef `json:"data"`
			} `json:"service_instance"`
		} `json:"relationships"`
	}{Type: "key", Name: r.Name, Parameters: r.Parameters}
	body.Relationships.ServiceInstance.Data.GUID = r.InstanceGUID
	return json.Marshal(body)
}

// managedFields are ServiceInstancesController's writable attributes, then
// its to-one guids (§10.3.3, §10.3.4).
var managedFields = []bodyField{{"name", kindString, true}, {"parameters", kindHash, false}, {"tags", kindStringList, false},
	{"maintenance_info", kindHash, false}, {"space_guid", kindString, true}, {"service_plan_guid", kindString, true}}

// ManagedRequest is a parsed managed instance body; nil fields were absent.
type ManagedRequest struct {
	Name, SpaceGUID, PlanGUID   *string
	Parameters, MaintenanceInfo map[string]json.RawMessage
	Tags                        []string
	TagsGiven                   bool
}

// ParseManagedRequest parses a managed instance body; maintenance_info is
// excluded on create (ignored as an unknown key).
func ParseManagedRequest(body []byte, create bool) (ManagedRequest, error) {
	m, err := parseMessage(body, managedFields, create)
	if err != nil {
		return ManagedRequest{}, err
	}
	r := ManagedRequest{Name: m.str("name"), SpaceGUID: m.str("space_guid"), PlanGUID: m.str("service_plan_guid")}
	if v, ok := m["parameters"]; ok {
		r.Parameters = v.m
	}
	if v, ok := m["maintenance_info"]; ok && !create {
		r.MaintenanceInfo = v.m
	}
	if v, ok := m["tags"]; ok {
		r.Tags, r.TagsGiven = v.strs, true
	}
	if r.Name != nil {
		name := strings.TrimSpace(*r.Name)
		r.Name = &name
	}
	return r, nil
}

// Check refuses the names and tags CC's model refused.
func (r ManagedRequest) Check() *Error {
	return UserProvidedRequest{Name: r.Name, Tags: r.Tags}.Check()
}

// V3ManagedWrite is the POST (create) or PATCH body of a managed instance
// write: only the keys given.
func V3ManagedWrite(r ManagedRequest, create bool) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	type rels struct {
		Space       *guidData `json:"space,omitempty"`
		ServicePlan *guidData `json:"service_plan,omitempty"`
	}
	body := struct {
		Type            string                     `json:"type,omitempty"`
		Name            *string                    `json:"name,omitempty"`
		Tags            *[]string                  `json:"tags,omitempty"`
		Parameters      map[string]json.RawMessage `json:"parameters,omitempty"`
		MaintenanceInfo map[string]json.RawMessage `json:"maintenance_info,omitempty"`
		Relationships   *rels                      `json:"relationships,omitempty"`
	}{Name: r.Name, Parameters: r.Parameters, MaintenanceInfo: r.MaintenanceInfo}
	if r.TagsGiven {
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		body.Tags = &tags
	}
	if create {
		body.Type = InstanceManaged
		body.Relationships = &rels{Space: &guidData{V3GUIDRef{deref(r.SpaceGUID)}}, ServicePlan: &guidData{V3GUIDRef{deref(r.PlanGUID)}}}
	} else if r.PlanGUID != nil {
		body.Relationships = &rels{ServicePlan: &guidData{V3GUIDRef{*r.PlanGUID}}}
	}
	return json.Marshal(body)
}

// ParseRouteBindingRequest parses a route bind's body: an optional
// parameters object.
func ParseRouteBindingRequest(body []byte) (map[string]json.RawMessage, error) {
	m, err := parseMessage(body, []bodyField{{"parameters", kindHash, false}}, false)
	if err != nil {
		return nil, err
	}
	return m["parameters"].m, nil
}

// V3RouteBindingCreate is the POST /v3/service_route_bindings body.
func V3RouteBindingCreate(instanceGUID, routeGUID string, params map[string]json.RawMessage) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	body := struct {
		Parameters    map[string]json.RawMessage `json:"parameters,omitempty"`
		Relationships struct {
			Route           guidData `json:"route"`
			ServiceInstance guidData `json:"service_instance"`
		} `json:"relationships"`
	}{Parameters: params}
	body.Relationships.Route.Data.GUID = routeGUID
	body.Relationships.ServiceInstance.Data.GUID = instanceGUID
	return json.Marshal(body)
}
