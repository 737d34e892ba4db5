package translate

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The v2 service instances (MAPPING-services §10.2): one v3 collection seen
// as managed and user-provided instances, each with its own v2 shape.

// Types of v3 service instances.
const (
	InstanceManaged      = "managed"
	InstanceUserProvided = "user-provided"
)

// InstanceBundle is a service instance with what its v2 entity shows from
// other v3 resources.
type InstanceBundle struct {
	Instance V3ServiceInstance
	// Credentials are a user-provided instance's, nil when the reader may
	// not see them (v3 answered 403): they are then redacted.
	Credentials json.RawMessage
	// SecretsReader: the reader may see a managed instance's credentials
	// (admin, admin_read_only, or a developer of its space).
	SecretsReader bool
	// ServiceGUID is the offering of a managed instance's plan; PlanVisible
	// says the reader's plan list shows the plan (else service_plan_url is
	// left out, §10.2.1 row 13).
	ServiceGUID string
	PlanVisible bool
}

// InstanceInlined is what an instance inlines at depth 1 (§10.1.4): the
// legacy cf CLI reads its bindings and keys. Rendered resources; nil
// fields stay url-only.
type InstanceInlined struct {
	Space *SpaceBundle
	// Plan is the managed instance's plan, inlined after service_plan_url
	// (the legacy cf CLI reads its guid and service_guid).
	Plan                 *V3ServicePlan
	Bindings, Keys       []json.RawMessage
	HasBindings, HasKeys bool
}

// V2UserProvidedEntity is a user-provided instance's entity
// (UserProvidedServiceInstance.export_attributes, then its relations;
// §10.2.2). ServiceKeysURL is there only through ServiceInstancesController.
type V2UserProvidedEntity struct {
	Name            string          `json:"name"`
	Credentials     json.RawMessage `json:"credentials"`
	SpaceGUID       string          `json:"space_guid"`
	Type            string          `json:"type"`
	SyslogDrainURL  *string         `json:"syslog_drain_url"`
	RouteServiceURL *string         `json:"route_service_url"`
	Tags            []string        `json:"tags"`
	SpaceURL        string          `json:"space_url"`
	Space           json.RawMessage `json:"space,omitempty"`
	BindingsURL     string          `json:"service_bindings_url"`
	Bindings        json.RawMessage `json:"service_bindings,omitempty"`
	ServiceKeysURL  string          `json:"service_keys_url,omitempty"`
	ServiceKeys     json.RawMessage `json:"service_keys,omitempty"`
	RoutesURL       string          `json:"routes_url"`
}

// V2ManagedEntity is a managed instance's entity in today's order
// (service_instance.current-shape.json, §10.2.1).
type V2ManagedEntity struct {
	Name            string           `json:"name"`
	Credentials     json.RawMessage  `json:"credentials"`
	ServicePlanGUID string           `json:"service_plan_guid"`
	SpaceGUID       string           `json:"space_guid"`
	GatewayData     *string          `json:"gateway_data"`
	DashboardURL    *string          `json:"dashboard_url"`
	Type            string           `json:"type"`
	LastOperation   *V2LastOperation `json:"last_operation"`
	Tags            []string         `json:"tags"`
	MaintenanceInfo json.RawMessage  `json:"maintenance_info"`
	ServiceGUID     string           `json:"service_guid"`
	SpaceURL        string           `json:"space_url"`
	Space           json.RawMessage  `json:"space,omitempty"`
	ServicePlanURL  string           `json:"service_plan_url,omitempty"`
	ServicePlan     json.RawMessage  `json:"service_plan,omitempty"`
	BindingsURL     string           `json:"service_bindings_url"`
	Bindings        json.RawMessage  `json:"service_bindings,omitempty"`
	ServiceKeysURL  string           `json:"service_keys_url"`
	ServiceKeys     json.RawMessage  `json:"service_keys,omitempty"`
	RoutesURL       string           `json:"routes_url"`
	ServiceURL      string           `json:"service_url"`
	SharedFromURL   string           `json:"shared_from_url"`
	SharedToURL     string           `json:"shared_to_url"`
	ParametersURL   string           `json:"service_instance_parameters_url"`
}

// instanceLastOperation is a managed instance's v2 last_operation: null
// when v3 has none, "initial" (v3 only, before its job starts) read as
// "in progress" (§10.9.1).
func instanceLastOperation(op *V3LastOperation) *V2LastOperation {
	if op == nil || op.Type == "" && op.State == "" {
		return nil
	}
	state := op.State
	if state == "initial" {
		state = "in progress"
	}
	return &V2LastOperation{Type: op.Type, State: state, Description: op.Description, UpdatedAt: timePtr(op.UpdatedAt), CreatedAt: timePtr(op.CreatedAt)}
}

// AppendServiceInstance writes b as ServiceInstancesController renders it
// (/v2/service_instances, the space lists): a managed instance whole, a
// user-provided one with its own shape, its url and service_keys_url under
// /v2/user_provided_service_instances (§10.2.2).
func AppendServiceInstance(buf *bytes.Buffer, b InstanceBundle, in Inline, x *InstanceInlined) error {
	if b.Instance.Type == InstanceUserProvided {
		return appendUserProvided(buf, b, in, x, true)
	}
	si := b.Instance
	g := si.GUID
	base := "/v2/service_instances/" + g
	creds := json.RawMessage(`{}`)
	if !b.SecretsReader {
		creds = redactedCredentials
	}
	maint := si.MaintenanceInfo
	if len(maint) == 0 || string(maint) == "null" {
		maint = json.RawMessage(`{}`)
	}
	tags := si.Tags
	if tags == nil {
		tags = []string{}
	}
	e := V2ManagedEntity{Name: si.Name, Credentials: creds, ServicePlanGUID: si.Relationships.ServicePlan.GUID(), SpaceGUID: si.Relationships.Space.GUID(),
		DashboardURL: si.DashboardURL, Type: "managed_service_instance", LastOperation: instanceLastOperation(si.LastOperation), Tags: tags,
		MaintenanceInfo: maint, ServiceGUID: b.ServiceGUID, SpaceURL: "/v2/spaces/" + si.Relationships.Space.GUID(),
		BindingsURL: base + "/service_bindings", ServiceKeysURL: base + "/service_keys", RoutesURL: base + "/routes",
		ServiceURL: "/v2/services/" + b.ServiceGUID, SharedFromURL: base + "/shared_from", SharedToURL: base + "/shared_to",
		ParametersURL: base + "/parameters"}
	if b.PlanVisible {
		e.ServicePlanURL = "/v2/service_plans/" + e.ServicePlanGUID
		if x != nil && x.Plan != nil && in.Wants("service_plan") {
			var err error
			if e.ServicePlan, err = renderJSON(func(buf *bytes.Buffer) error { return AppendServicePlanResource(buf, *x.Plan) }); err != nil {
				return err
			}
		}
	}
	if err := inlineInstance(in, x, &e.Space, &e.Bindings, &e.ServiceKeys); err != nil {
		return err
	}
	return encodeJSON(buf, &v2Resource[V2ManagedEntity]{Metadata: v2Metadata("service_instances", g, si.CreatedAt, si.UpdatedAt), Entity: e})
}

// AppendUserProvided writes a user-provided instance as
// UserProvidedServiceInstancesController renders it.
func AppendUserProvided(buf *bytes.Buffer, b InstanceBundle, in Inline, x *InstanceInlined) error {
	return appendUserProvided(buf, b, in, x, false)
}

func appendUserProvided(buf *bytes.Buffer, b InstanceBundle, in Inline, x *InstanceInlined, viaServiceInstances bool) error {
	si := b.Instance
	base := "/v2/user_provided_service_instances/" + si.GUID
	creds := b.Credentials
	if creds == nil {
		creds = redactedCredentials
	}
	tags := si.Tags
	if tags == nil {
		tags = []string{}
	}
	e := V2UserProvidedEntity{Name: si.Name, Credentials: creds, SpaceGUID: si.Relationships.Space.GUID(), Type: "user_provided_service_instance",
		SyslogDrainURL: si.SyslogDrainURL, RouteServiceURL: si.RouteServiceURL, Tags: tags, SpaceURL: "/v2/spaces/" + si.Relationships.Space.GUID(),
		BindingsURL: base + "/service_bindings", RoutesURL: base + "/routes"}
	var keys *json.RawMessage
	if viaServiceInstances {
		e.ServiceKeysURL = base + "/service_keys"
		keys = &e.ServiceKeys
	}
	if err := inlineInstance(in, x, &e.Space, &e.Bindings, keys); err != nil {
		return err
	}
	return encodeJSON(buf, &v2Resource[V2UserProvidedEntity]{Metadata: v2Metadata("user_provided_service_instances", si.GUID, si.CreatedAt, si.UpdatedAt), Entity: e})
}

// inlineInstance fills the inlined relations in's depth asks for.
func inlineInstance(in Inline, x *InstanceInlined, space, bindings, keys *json.RawMessage) error {
	if x == nil || in.Depth < 1 {
		return nil
	}
	var err error
	if in.Wants("space") && x.Space != nil {
		if *space, err = renderJSON(func(b *bytes.Buffer) error { return AppendSpaceResource(b, *x.Space) }); err != nil {
			return err
		}
	}
	many := func(dst *json.RawMessage, name string, has bool, items []json.RawMessage) error {
		if dst == nil || !in.Wants(name) || !has || len(items) > maxInline {
			return nil
		}
		*dst, err = renderArray(len(items), func(b *bytes.Buffer, i int) error { b.Write(items[i]); return nil })
		return err
	}
	if err := many(bindings, "service_bindings", x.HasBindings, x.Bindings); err != nil {
		return err
	}
	return many(keys, "service_keys", x.HasKeys, x.Keys)
}

// InstanceQueryKeys are the q keys of /v2/service_instances
// (ServiceInstancesController query_parameters, §10.1.3);
// UserProvidedQueryKeys those of /v2/user_provided_service_instances.
func InstanceQueryKeys() []string {
	return []string{"name", "space_guid", "service_plan_guid", "service_binding_guid", "gateway_name", "organization_guid", "service_key_guid"}
}

// UserProvidedQueryKeys are the q keys of /v2/user_provided_service_instances.
func UserProvidedQueryKeys() []string { return []string{"name", "space_guid", "organization_guid"} }

// upsiFields are UserProvidedServiceInstancesController's attributes, then
// its to-one space.
var upsiFields = []bodyField{{"name", kindString, true}, {"credentials", kindHash, false}, {"syslog_drain_url", kindString, false},
	{"route_service_url", kindString, false}, {"tags", kindStringList, false}, {"space_guid", kindString, true}}

// UserProvidedRequest is a parsed user-provided instance body; nil fields
// were absent or null.
type UserProvidedRequest struct {
	Name, SyslogDrainURL, RouteServiceURL, SpaceGUID *string
	Credentials                                      map[string]json.RawMessage
	Tags                                             []string
	TagsGiven                                        bool
}

// ParseUserProvidedRequest parses a user-provided instance body; a create
// fills in the v2 defaults (credentials {}, "" urls, tags []), which v3
// then stores so the instance reads back as v2 shows it.
func ParseUserProvidedRequest(body []byte, create bool) (UserProvidedRequest, error) {
	m, err := parseMessage(body, upsiFields, create)
	if err != nil {
		return UserProvidedRequest{}, err
	}
	r := UserProvidedRequest{Name: m.str("name"), SyslogDrainURL: m.str("syslog_drain_url"), RouteServiceURL: m.str("route_service_url"),
		SpaceGUID: m.str("space_guid")}
	if v, ok := m["credentials"]; ok {
		r.Credentials = v.m
	}
	if v, ok := m["tags"]; ok {
		r.Tags, r.TagsGiven = v.strs, true
	}
	if r.Name != nil {
		name := strings.TrimSpace(*r.Name)
		r.Name = &name
	}
	if create {
		empty := ""
		if r.Credentials == nil {
			r.Credentials = map[string]json.RawMessage{}
		}
		if r.SyslogDrainURL == nil {
			r.SyslogDrainURL = &empty
		}
		if r.RouteServiceURL == nil {
			r.RouteServiceURL = &empty
		}
		if !r.TagsGiven {
			r.Tags, r.TagsGiven = []string{}, true
		}
	}
	return r, nil
}

// InstanceQuery is a service instance list's q translated (§10.1.3): the
// v3 filters, the ones the gateway applies, and the binding and key guids
// whose instances the list keeps.
type InstanceQuery struct {
	Names, SpaceGUIDs, OrgGUIDs, PlanGUIDs []string
	BindingGUIDs, KeyGUIDs                 []string
	// Local are name comparisons v3 cannot make (<, >, <=, >=).
	Local []Filter
	// Empty is set when no instance can match: an empty name (NULL in
	// CC's query), gateway_name (NULL for every broker instance), or
	// filters with no value in common.
	Empty bool
}

// InstanceQueryFromFilters translates parsed q filters. space_guid keeps
// only the instances a space owns (v3 also lists those shared into it),
// which Match applies.
func InstanceQueryFromFilters(fs []Filter) InstanceQuery {
	var q InstanceQuery
	for _, f := range fs {
		values := f.Values
		switch {
		case f.Key == "gateway_name":
			q.Empty = true
		case f.Key == "name" && (f.Op == OpEq || f.Op == OpIn):
			if f.Op == OpEq && len(values) == 1 && values[0] == "" {
				q.Empty = true
			}
			andValues(&q.Names, values, true)
		case f.Key == "name":
			q.Local = append(q.Local, f)
		case f.Key == "space_guid":
			andValues(&q.SpaceGUIDs, values, false)
		case f.Key == "organization_guid":
			andValues(&q.OrgGUIDs, values, false)
		case f.Key == "service_plan_guid":
			andValues(&q.PlanGUIDs, values, false)
		case f.Key == "service_binding_guid":
			andValues(&q.BindingGUIDs, values, false)
		case f.Key == "service_key_guid":
			andValues(&q.KeyGUIDs, values, false)
		}
	}
	for _, set := range [][]string{q.Names, q.SpaceGUIDs, q.OrgGUIDs, q.PlanGUIDs, q.BindingGUIDs, q.KeyGUIDs} {
		if set != nil && len(set) == 0 {
			q.Empty = true
		}
	}
	return q
}

// Match applies what v3 cannot: name comparisons, and the owner space.
func (q InstanceQuery) Match(si V3ServiceInstance) bool {
	for _, f := range q.Local {
		if !f.Matches(si.Name) {
			return false
		}
	}
	if q.SpaceGUIDs != nil {
		owner := si.Relationships.Space.GUID()
		found := false
		for _, s := range q.SpaceGUIDs {
			found = found || s == owner
		}
		return found
	}
	return true
}
