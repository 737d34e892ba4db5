package translate

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// V2RouteEntity is the entity of a v2 route, in the key order of
// cc:app/presenters/v2/route_presenter.rb#entity_hash and its relations
// (MAPPING-routes §9.2.1): to-one domain, space and service_instance, then
// to-many apps and route_mappings, each inlined value after its url.
type V2RouteEntity struct {
	Host string `json:"host"`
	Path string `json:"path"`
	// DomainGUID and SpaceGUID come from the route's relationships.
	DomainGUID string `json:"domain_guid"`
	SpaceGUID  string `json:"space_guid"`
	// ServiceInstanceGUID is the route service bound to the route, from
	// v3's service route bindings (the embedded CF has none).
	ServiceInstanceGUID *string `json:"service_instance_guid"`
	// Port is set for tcp routes, null for http ones.
	Port      *int            `json:"port"`
	DomainURL string          `json:"domain_url"`
	Domain    json.RawMessage `json:"domain,omitempty"`
	SpaceURL  string          `json:"space_url"`
	Space     json.RawMessage `json:"space,omitempty"`
	// ServiceInstanceURL is absent, not null, on a route without a
	// route service (§9.2.2).
	ServiceInstanceURL string          `json:"service_instance_url,omitempty"`
	AppsURL            string          `json:"apps_url"`
	Apps               json.RawMessage `json:"apps,omitempty"`
	RouteMappingsURL   string          `json:"route_mappings_url"`
}

// V2RouteResource is a v2 route as CC renders it.
type V2RouteResource struct {
	Metadata V2Metadata    `json:"metadata"`
	Entity   V2RouteEntity `json:"entity"`
}

// RouteService is the service instance bound to a route as its route
// service (GET /v3/service_route_bindings).
type RouteService struct {
	InstanceGUID string
	// UserProvided: the instance is user-provided, which v2 names under
	// /v2/user_provided_service_instances
	// (ServiceInstancesController.url_for_guid).
	UserProvided bool
}

// RouteInlined holds what a route inlines at inline-relations-depth 1 and
// more (§9.2.3); nil fields stay url-only. Apps are v2 app resources
// already rendered, in the route's destination order.
type RouteInlined struct {
	Domain *V3Domain
	// Service is the route's route service, nil when it has none.
	Service *RouteService
	Space   *SpaceBundle
	Apps    []json.RawMessage
	// HasApps says the apps were read, so that a route without any still
	// shows [].
	HasApps bool
}

// RouteEntity returns the v2 entity of r. domain is the route's domain, or
// nil when it is not known: the url then names the shared domain
// collection. A private domain (one with an owning org) is served under
// /v2/private_domains, a shared one under /v2/shared_domains
// (RoutePresenter#correct_domain_url! rewrites /v2/domains in place).
func RouteEntity(r V3Route, domain *V3Domain) V2RouteEntity {
	base := "/v2/routes/" + r.GUID
	domainGUID := r.Relationships.Domain.GUID()
	collection := "/v2/shared_domains/"
	if domain != nil && !domain.Shared() {
		collection = "/v2/private_domains/"
	}
	return V2RouteEntity{
		Host:             r.Host,
		Path:             r.Path,
		DomainGUID:       domainGUID,
		SpaceGUID:        r.Relationships.Space.GUID(),
		Port:             r.Port,
		DomainURL:        collection + domainGUID,
		SpaceURL:         "/v2/spaces/" + r.Relationships.Space.GUID(),
		AppsURL:          base + "/apps",
		RouteMappingsURL: base + "/route_mappings",
	}
}

// AppendRouteResource writes the v2 route resource of r to buf.
func AppendRouteResource(buf *bytes.Buffer, r V3Route, domain *V3Domain) error {
	return AppendRouteInlined(buf, r, Inline{}, &RouteInlined{Domain: domain})
}

// AppendRouteInlined writes the v2 route of r with what in asks it to
// inline from x. The domain is rendered with DomainsController's relations
// (§9.2.3): a private domain links its spaces, a shared one has no
// relation keys and router_group_type null. The space inlines no further
// relations; apps inline only when there are at most 50 (CC's
// MAX_INLINE_DEFAULT).
func AppendRouteInlined(buf *bytes.Buffer, r V3Route, in Inline, x *RouteInlined) error {
	res := V2RouteResource{Metadata: v2Metadata("routes", r.GUID, r.CreatedAt, r.UpdatedAt), Entity: RouteEntity(r, x.Domain)}
	e := &res.Entity
	if si := x.Service; si != nil && si.InstanceGUID != "" {
		guid := si.InstanceGUID
		e.ServiceInstanceGUID, e.ServiceInstanceURL = &guid, "/v2/service_instances/"+guid
		if si.UserProvided {
			e.ServiceInstanceURL = "/v2/user_provided_service_instances/" + guid
		}
	}
	var err error
	if in.Wants("domain") && x.Domain != nil {
		if e.Domain, err = renderJSON(func(b *bytes.Buffer) error { return AppendDomainViaDomains(b, *x.Domain) }); err != nil {
			return err
		}
	}
	if in.Wants("space") && x.Space != nil {
		if e.Space, err = renderJSON(func(b *bytes.Buffer) error { return AppendSpaceResource(b, *x.Space) }); err != nil {
			return err
		}
	}
	if in.Wants("apps") && x.HasApps && len(x.Apps) <= maxInline {
		if e.Apps, err = renderArray(len(x.Apps), func(b *bytes.Buffer, i int) error { b.Write(x.Apps[i]); return nil }); err != nil {
			return err
		}
	}
	return encodeJSON(buf, &res)
}

// WebRoutes returns the routes of routes that have a destination of the
// app's web process, the routes v2 shows for an app (MAPPING §7: v2 maps
// routes to the web process only).
func WebRoutes(appGUID string, routes []V3Route) []V3Route {
	var out []V3Route
	for _, r := range routes {
		for _, d := range r.Destinations {
			if d.App.GUID == appGUID && d.App.Process.Type == "web" {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// V2RouteMappingEntity is the entity of a v2 route mapping
// (cc:app/controllers/runtime/route_mappings_controller.rb; MAPPING §7).
type V2RouteMappingEntity struct {
	// AppPort is the destination's port. v3 fills in 8080 where v2 kept
	// null for a mapping made without app_port, so null never appears.
	AppPort   *int   `json:"app_port"`
	AppGUID   string `json:"app_guid"`
	RouteGUID string `json:"route_guid"`
	AppURL    string `json:"app_url"`
	RouteURL  string `json:"route_url"`
}

// V2RouteMappingResource is a v2 route mapping as CC renders it.
type V2RouteMappingResource struct {
	Metadata V2Metadata           `json:"metadata"`
	Entity   V2RouteMappingEntity `json:"entity"`
}

// RouteMapping is one web-process destination of a route: a v2 route
// mapping, whose guid is the destination's (MAPPING §7).
type RouteMapping struct {
	Route       V3Route
	Destination V3Destination
}

// AppRouteMappings returns the v2 route mappings of the app: its web
// process's destinations, in route order.
func AppRouteMappings(appGUID string, routes []V3Route) []RouteMapping {
	var out []RouteMapping
	for _, r := range routes {
		for _, d := range r.Destinations {
			if d.App.GUID == appGUID && d.App.Process.Type == "web" {
				out = append(out, RouteMapping{Route: r, Destination: d})
			}
		}
	}
	return out
}

// AppendRouteMappingResource writes the v2 route mapping resource of m:
// the destination's times, or the route's where v3 shows none.
func AppendRouteMappingResource(buf *bytes.Buffer, m RouteMapping) error {
	created, updated := m.Destination.CreatedAt, m.Destination.UpdatedAt
	if created.IsZero() {
		created, updated = m.Route.CreatedAt, m.Route.UpdatedAt
	}
	res := V2RouteMappingResource{
		Metadata: v2Metadata("route_mappings", m.Destination.GUID, created, updated),
		Entity: V2RouteMappingEntity{
			AppPort:   m.Destination.Port,
			AppGUID:   m.Destination.App.GUID,
			RouteGUID: m.Route.GUID,
			AppURL:    "/v2/apps/" + m.Destination.App.GUID,
			RouteURL:  "/v2/routes/" + m.Route.GUID,
		},
	}
	return encodeJSON(buf, &res)
}

// RouteQueryKeys returns the q keys of /v2/apps/:guid/routes that the
// gateway applies (RoutesController query_parameters: host, domain_guid,
// path, port; organization_guid has no field on a v3 route).
func RouteQueryKeys() []string { return []string{"host", "domain_guid", "path", "port"} }

// RouteField returns the value a route q filter compares.
func RouteField(r V3Route, key string) string {
	switch key {
	case "host":
		return r.Host
	case "domain_guid":
		return r.Relationships.Domain.GUID()
	case "path":
		return r.Path
	case "port":
		if r.Port != nil {
			return strconv.Itoa(*r.Port)
		}
	}
	return ""
}
