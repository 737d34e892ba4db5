package ccv3

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// InstanceQuery is a GET /v3/service_instances request; nil filters are
// left out.
type InstanceQuery struct {
	Type                                          string
	Names, SpaceGUIDs, OrgGUIDs, PlanGUIDs, GUIDs []string
	Page, PerPage                                 int
	OrderBy                                       string
}

func (q InstanceQuery) encode() string {
	s := encodeList(map[string][]string{"names": q.Names, "space_guids": q.SpaceGUIDs, "organization_guids": q.OrgGUIDs,
		"service_plan_guids": q.PlanGUIDs, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
	if q.Type == "" {
		return s
	}
	v, _ := url.ParseQuery(s)
	v.Set("type", q.Type)
	return v.Encode()
}

// ListServiceInstances is GET /v3/service_instances.
func (c *Client) ListServiceInstances(call Call, q InstanceQuery) (Page[translate.V3ServiceInstance], error) {
	var p Page[translate.V3ServiceInstance]
	err := c.get(call, "/v3/service_instances", q.encode(), "/v3/service_instances", &p)
	return p, err
}

// GetServiceInstance is GET /v3/service_instances/:guid.
func (c *Client) GetServiceInstance(call Call, guid string) (translate.V3ServiceInstance, error) {
	var si translate.V3ServiceInstance
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid), "", "/v3/service_instances/:guid", &si)
	return si, err
}

// InstanceCredentials is GET /v3/service_instances/:guid/credentials of a
// user-provided instance; nil when the user may not read them (403).
func (c *Client) InstanceCredentials(call Call, guid string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/credentials", "", "/v3/service_instances/:guid/*", &raw)
	if e, ok := err.(*Error); ok && (e.Status == 403 || e.Status == 404) {
		return nil, nil
	}
	return raw, err
}

// InstancePermissions is GET /v3/service_instances/:guid/permissions.
func (c *Client) InstancePermissions(call Call, guid string) (manage, read bool, err error) {
	var p struct{ Manage, Read bool }
	err = c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/permissions", "", "/v3/service_instances/:guid/*", &p)
	return p.Manage, p.Read, err
}

// Written is what a v3 write answered: the resource (201 or 200), or the
// job that finishes it (202).
type Written[T any] struct {
	Resource T
	Job      string
}

// write sends a v3 write and reads a 202's job from its Location.
func write[T any](c *Client, call Call, method, path, route string, body []byte) (Written[T], error) {
	var w Written[T]
	loc, err := c.send(call, method, path, route, body, &w.Resource)
	if err == nil && loc != "" {
		if u, perr := url.Parse(loc); perr == nil && strings.Contains(u.Path, "/v3/jobs/") {
			w.Job = lastSegment(u.Path)
		}
	}
	return w, err
}

// CreateServiceInstance is POST /v3/service_instances.
func (c *Client) CreateServiceInstance(call Call, body []byte) (Written[translate.V3ServiceInstance], error) {
	return write[translate.V3ServiceInstance](c, call, fasthttp.MethodPost, "/v3/service_instances", "/v3/service_instances", body)
}

// UpdateServiceInstance is PATCH /v3/service_instances/:guid.
func (c *Client) UpdateServiceInstance(call Call, guid string, body []byte) (Written[translate.V3ServiceInstance], error) {
	return write[translate.V3ServiceInstance](c, call, fasthttp.MethodPatch, "/v3/service_instances/"+url.PathEscape(guid), "/v3/service_instances/:guid", body)
}

// DeleteServiceInstance is DELETE /v3/service_instances/:guid; it returns the
// job of a managed instance's delete ("" for a user-provided one).
func (c *Client) DeleteServiceInstance(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/service_instances/"+url.PathEscape(guid), "/v3/service_instances/:guid")
}

// BindingQuery is a GET /v3/service_credential_bindings request.
type BindingQuery struct {
	Type                                  string // "app" or "key"
	AppGUIDs, InstanceGUIDs, Names, GUIDs []string
	Page, PerPage                         int
}

func (q BindingQuery) encode() string {
	v, _ := url.ParseQuery(encodeList(map[string][]string{"app_guids": q.AppGUIDs, "service_instance_guids": q.InstanceGUIDs,
		"names": q.Names, "guids": q.GUIDs}, q.Page, q.PerPage, ""))
	v.Set("type", q.Type)
	return v.Encode()
}

// ListBindings is GET /v3/service_credential_bindings.
func (c *Client) ListBindings(call Call, q BindingQuery) (Page[translate.V3ServiceCredentialBinding], error) {
	var p Page[translate.V3ServiceCredentialBinding]
	err := c.get(call, "/v3/service_credential_bindings", q.encode(), "/v3/service_credential_bindings", &p)
	return p, err
}

// GetBinding is GET /v3/service_credential_bindings/:guid.
func (c *Client) GetBinding(call Call, guid string) (translate.V3ServiceCredentialBinding, error) {
	var b translate.V3ServiceCredentialBinding
	err := c.get(call, "/v3/service_credential_bindings/"+url.PathEscape(guid), "", "/v3/service_credential_bindings/:guid", &b)
	return b, err
}

// CreateBinding is POST /v3/service_credential_bindings.
func (c *Client) CreateBinding(call Call, body []byte) (Written[translate.V3ServiceCredentialBinding], error) {
	return write[translate.V3ServiceCredentialBinding](c, call, fasthttp.MethodPost, "/v3/service_credential_bindings", "/v3/service_credential_bindings", body)
}

// DeleteBinding is DELETE /v3/service_credential_bindings/:guid; it
// returns the job of an asynchronous unbind.
func (c *Client) DeleteBinding(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/service_credential_bindings/"+url.PathEscape(guid), "/v3/service_credential_bindings/:guid")
}

// getOne is GET <collection>/:guid.
func getOne[T any](c *Client, call Call, collection, guid string) (T, error) {
	var v T
	err := c.get(call, collection+"/"+url.PathEscape(guid), "", collection+"/:guid", &v)
	return v, err
}

// listOf is GET <collection> with the query v.
func listOf[T any](c *Client, call Call, collection string, v url.Values) (Page[T], error) {
	var p Page[T]
	err := c.get(call, collection, v.Encode(), collection, &p)
	return p, err
}

// offeringsPage is a page of offerings with their brokers' names
// (fields[service_broker]=name,guid).
type offeringsPage struct {
	Page[translate.V3ServiceOffering]
	Included struct {
		ServiceBrokers []struct{ GUID, Name string } `json:"service_brokers"`
	} `json:"included"`
}

// brokerFields asks v3 to name each offering's broker.
const brokerFields = "fields[service_broker]"

// named fills each offering's BrokerName from the included brokers.
func (p *offeringsPage) named() Page[translate.V3ServiceOffering] {
	names := map[string]string{}
	for _, b := range p.Included.ServiceBrokers {
		names[b.GUID] = b.Name
	}
	for i := range p.Resources {
		p.Resources[i].BrokerName = names[p.Resources[i].Relationships.ServiceBroker.GUID()]
	}
	return p.Page
}

// ListOfferings is GET /v3/service_offerings, the brokers named.
func (c *Client) ListOfferings(call Call, v url.Values) (Page[translate.V3ServiceOffering], error) {
	w := url.Values{}
	for k, vals := range v {
		w[k] = vals
	}
	w.Set(brokerFields, "name,guid")
	var p offeringsPage
	err := c.get(call, "/v3/service_offerings", w.Encode(), "/v3/service_offerings", &p)
	return p.named(), err
}

// GetOffering is GET /v3/service_offerings/:guid, its broker named.
func (c *Client) GetOffering(call Call, guid string) (translate.V3ServiceOffering, error) {
	var o struct {
		translate.V3ServiceOffering
		Included struct {
			ServiceBrokers []struct{ GUID, Name string } `json:"service_brokers"`
		} `json:"included"`
	}
	err := c.get(call, "/v3/service_offerings/"+url.PathEscape(guid), url.Values{brokerFields: {"name,guid"}}.Encode(), "/v3/service_offerings/:guid", &o)
	if len(o.Included.ServiceBrokers) > 0 {
		o.BrokerName = o.Included.ServiceBrokers[0].Name
	}
	return o.V3ServiceOffering, err
}

// ListPlans is GET /v3/service_plans.
func (c *Client) ListPlans(call Call, v url.Values) (Page[translate.V3ServicePlan], error) {
	return listOf[translate.V3ServicePlan](c, call, "/v3/service_plans", v)
}

// GetPlan is GET /v3/service_plans/:guid.
func (c *Client) GetPlan(call Call, guid string) (translate.V3ServicePlan, error) {
	return getOne[translate.V3ServicePlan](c, call, "/v3/service_plans", guid)
}

// ListBrokers is GET /v3/service_brokers.
func (c *Client) ListBrokers(call Call, v url.Values) (Page[translate.V3ServiceBroker], error) {
	return listOf[translate.V3ServiceBroker](c, call, "/v3/service_brokers", v)
}

// GetBroker is GET /v3/service_brokers/:guid.
func (c *Client) GetBroker(call Call, guid string) (translate.V3ServiceBroker, error) {
	return getOne[translate.V3ServiceBroker](c, call, "/v3/service_brokers", guid)
}

// SharedSpaces is GET /v3/service_instances/:guid/relationships/shared_spaces:
// the guids of the spaces the instance is shared into.
func (c *Client) SharedSpaces(call Call, guid string) ([]string, error) {
	var out struct {
		Data []translate.V3GUIDRef `json:"data"`
	}
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/relationships/shared_spaces", "", "/v3/service_instances/:guid/*", &out)
	guids := make([]string, len(out.Data))
	for i, d := range out.Data {
		guids[i] = d.GUID
	}
	return guids, err
}

// InstanceRoutes returns the guids of the routes an instance is bound to
// as their route service (GET /v3/service_route_bindings).
func (c *Client) InstanceRoutes(call Call, instanceGUID string) ([]string, error) {
	type binding struct {
		Relationships struct {
			Route translate.V3ToOne `json:"route"`
		} `json:"relationships"`
	}
	list, err := listBy[binding](c, call, "/v3/service_route_bindings", "/v3/service_route_bindings", "service_instance_guids", []string{instanceGUID}, nil)
	out := make([]string, len(list))
	for i, b := range list {
		out[i] = b.Relationships.Route.GUID()
	}
	return out, err
}

// InstanceParameters is GET /v3/service_instances/:guid/parameters.
func (c *Client) InstanceParameters(call Call, guid string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/parameters", "", "/v3/service_instances/:guid/*", &raw)
	return raw, err
}

// BindingParameters is GET /v3/service_credential_bindings/:guid/parameters.
func (c *Client) BindingParameters(call Call, guid string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.get(call, "/v3/service_credential_bindings/"+url.PathEscape(guid)+"/parameters", "", "/v3/service_credential_bindings/:guid/*", &raw)
	return raw, err
}

// SharedSpacesUsage is GET /v3/service_instances/:guid/relationships/shared_spaces/usage_summary:
// the bound app count in each space the instance is shared into.
func (c *Client) SharedSpacesUsage(call Call, guid string) (map[string]int, error) {
	var out struct {
		UsageSummary []struct {
			Space         translate.V3GUIDRef `json:"space"`
			BoundAppCount int                 `json:"bound_app_count"`
		} `json:"usage_summary"`
	}
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/relationships/shared_spaces/usage_summary", "",
		"/v3/service_instances/:guid/*", &out)
	counts := make(map[string]int, len(out.UsageSummary))
	for _, u := range out.UsageSummary {
		counts[u.Space.GUID] = u.BoundAppCount
	}
	return counts, err
}

// SharedSpace is a space an instance is shared into, named as v3's
// shared_spaces include them (fields[space], fields[space.organization]).
type SharedSpace struct {
	GUID, Name, OrgName string
}

// SharedSpacesNamed is SharedSpaces with each space's name and its org's.
func (c *Client) SharedSpacesNamed(call Call, guid string) ([]SharedSpace, error) {
	var out struct {
		Data     []translate.V3GUIDRef `json:"data"`
		Included struct {
			Spaces []struct {
				GUID          string `json:"guid"`
				Name          string `json:"name"`
				Relationships struct {
					Organization translate.V3ToOne `json:"organization"`
				} `json:"relationships"`
			} `json:"spaces"`
			Organizations []struct {
				GUID string `json:"guid"`
				Name string `json:"name"`
			} `json:"organizations"`
		} `json:"included"`
	}
	q := url.Values{"fields[space]": {"guid,name,relationships.organization"}, "fields[space.organization]": {"name,guid"}}
	err := c.get(call, "/v3/service_instances/"+url.PathEscape(guid)+"/relationships/shared_spaces", q.Encode(), "/v3/service_instances/:guid/*", &out)
	orgs := map[string]string{}
	for _, o := range out.Included.Organizations {
		orgs[o.GUID] = o.Name
	}
	spaces := make([]SharedSpace, 0, len(out.Included.Spaces))
	for _, sp := range out.Included.Spaces {
		spaces = append(spaces, SharedSpace{GUID: sp.GUID, Name: sp.Name, OrgName: orgs[sp.Relationships.Organization.GUID()]})
	}
	return spaces, err
}

// PlanVisibilityOrgs is GET /v3/service_plans/:guid/visibility: the orgs
// an organization-visible plan is visible in.
func (c *Client) PlanVisibilityOrgs(call Call, planGUID string) ([]string, error) {
	var out struct {
		Organizations []translate.V3GUIDRef `json:"organizations"`
	}
	err := c.get(call, "/v3/service_plans/"+url.PathEscape(planGUID)+"/visibility", "", "/v3/service_plans/:guid/*", &out)
	guids := make([]string, len(out.Organizations))
	for i, o := range out.Organizations {
		guids[i] = o.GUID
	}
	return guids, err
}

// FeatureFlags is GET /v3/feature_flags, every page.
func (c *Client) FeatureFlags(call Call) ([]translate.V3FeatureFlag, error) {
	return allPages[translate.V3FeatureFlag](c, call, "/v3/feature_flags", "/v3/feature_flags", url.Values{"per_page": {"5000"}})
}

// FeatureFlag is GET /v3/feature_flags/:name.
func (c *Client) FeatureFlag(call Call, name string) (translate.V3FeatureFlag, error) {
	return getOne[translate.V3FeatureFlag](c, call, "/v3/feature_flags", name)
}

// RouteBindingOf returns the guid of the binding of route to instance, ""
// when there is none.
func (c *Client) RouteBindingOf(call Call, instanceGUID, routeGUID string) (string, error) {
	type binding struct {
		GUID string `json:"guid"`
	}
	v := url.Values{"service_instance_guids": {instanceGUID}, "route_guids": {routeGUID}}
	p, err := listOf[binding](c, call, "/v3/service_route_bindings", v)
	if err != nil || len(p.Resources) == 0 {
		return "", err
	}
	return p.Resources[0].GUID, nil
}

// CreateRouteBinding is POST /v3/service_route_bindings; it returns the
// job of a managed instance's bind.
func (c *Client) CreateRouteBinding(call Call, body []byte) (string, error) {
	w, err := write[json.RawMessage](c, call, fasthttp.MethodPost, "/v3/service_route_bindings", "/v3/service_route_bindings", body)
	return w.Job, err
}

// DeleteRouteBinding is DELETE /v3/service_route_bindings/:guid; it
// returns the job of a managed instance's unbind.
func (c *Client) DeleteRouteBinding(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/service_route_bindings/"+url.PathEscape(guid), "/v3/service_route_bindings/:guid")
}

// RouteBindingParameters is GET /v3/service_route_bindings/:guid/parameters.
func (c *Client) RouteBindingParameters(call Call, guid string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.get(call, "/v3/service_route_bindings/"+url.PathEscape(guid)+"/parameters", "", "/v3/service_route_bindings/:guid/*", &raw)
	return raw, err
}

// PurgeServiceInstance is DELETE /v3/service_instances/:guid?purge=true:
// the rows go, without the broker.
func (c *Client) PurgeServiceInstance(call Call, guid string) error {
	_, err := c.send(call, fasthttp.MethodDelete, "/v3/service_instances/"+url.PathEscape(guid)+"?purge=true", "/v3/service_instances/:guid", nil, nil)
	return err
}
