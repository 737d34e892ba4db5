package proxy

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// kind says how the gateway serves a route.
type kind int

const (
	kindRoot      kind = iota // GET / and /v3: passed through, links rewritten
	kindV3Info                // GET /v3/info: passed through, anonymous
	kindV2Info                // GET /v2/info: answered by the gateway
	kindV3                    // any other /v3 path: passed through
	kindV2Forward             // an untranslated v2 path configured to pass through
	kindV2Unknown             // an untranslated v2 path: 404 CF-NotFound
	kindV2                    // a v2 route the gateway translates: see v2Routes
	kindUAA                   // a UAA endpoint passed to configs.UAAPassthrough: see uaaPaths
	kindLogCache              // a log-cache endpoint passed to configs.LogCachePassthrough
	kindRouting               // a routing API endpoint passed to configs.RoutingPassthrough
	kindUnknown               // anything else: 404 CF-NotFound
)

// v2Handler serves one method of a translated v2 route. Path parameters
// are read with pathParam.
type v2Handler func(g *Gateway, ctx *fasthttp.RequestCtx) error

// Route is what the router decided about a request. Routes are built once;
// a request only points at one, so routing allocates nothing.
type Route struct {
	// Template is the bounded label of the route in metrics and logs:
	// "/v3/apps/:guid", never a raw path.
	Template string
	kind     kind
	// anonymous routes need no token; optionalAuth ones use it when valid.
	anonymous, optionalAuth bool
	// v2 routes answer errors in the v2 shape and check v2 scopes.
	v2 bool
	// segs are a translated route's template segments after "/v2/";
	// ":name" matches any one segment.
	segs []string
	// The handlers of a translated route by method; nil is not translated.
	get, put, post, del v2Handler
}

// handler returns the translated handler of method (HEAD is GET), or nil.
func (r *Route) handler(method []byte) v2Handler {
	switch string(method) {
	case fasthttp.MethodGet, fasthttp.MethodHead:
		return r.get
	case fasthttp.MethodPut:
		return r.put
	case fasthttp.MethodPost:
		return r.post
	case fasthttp.MethodDelete:
		return r.del
	}
	return nil
}

// v2Routes are the v2 routes the gateway translates, one file per v2
// resource (v2apps.go, v2orgs.go, ...).
func v2Routes() []*Route {
	return []*Route{
		{Template: "/v2/apps", get: (*Gateway).v2AppList, post: (*Gateway).v2AppCreate},
		{Template: "/v2/apps/:guid", get: (*Gateway).v2App, put: (*Gateway).v2AppUpdate, del: (*Gateway).v2AppDelete},
		{Template: "/v2/apps/:guid/summary", get: (*Gateway).v2AppSummary},
		{Template: "/v2/apps/:guid/env", get: (*Gateway).v2AppEnv},
		{Template: "/v2/apps/:guid/permissions", get: (*Gateway).v2AppPermissions},
		{Template: "/v2/apps/:guid/routes", get: appRoutes.listHandler},
		{Template: "/v2/apps/:guid/route_mappings", get: appRouteMappings.listHandler},
		{Template: "/v2/apps/:guid/service_bindings", get: appBindingsList.listHandler},
		{Template: "/v2/apps/:guid/events", get: (*Gateway).v2AppEvents},
		{Template: "/v2/apps/:guid/stats", get: (*Gateway).v2AppStats},
		{Template: "/v2/apps/:guid/instances", get: (*Gateway).v2AppInstances},
		{Template: "/v2/apps/:guid/instances/:index", del: (*Gateway).v2AppKillInstance},
		{Template: "/v2/apps/:guid/crashes", get: (*Gateway).v2AppCrashes},
		{Template: "/v2/apps/:guid/routes/:route_guid", put: (*Gateway).v2AppMapRoute, del: (*Gateway).v2AppUnmapRoute},
		{Template: "/v2/apps/:guid/bits", put: (*Gateway).v2AppUploadBits},
		{Template: "/v2/apps/:guid/copy_bits", post: (*Gateway).v2AppCopyBits},
		{Template: "/v2/apps/:guid/restage", post: (*Gateway).v2AppRestage},
		{Template: "/v2/apps/:guid/download", get: (*Gateway).v2AppDownload},
		{Template: "/v2/apps/:guid/droplet/download", get: (*Gateway).v2AppDropletDownload},
		{Template: "/v2/apps/:guid/droplet/upload", put: (*Gateway).v2AppDropletUpload},
		{Template: "/v2/resource_match", put: (*Gateway).v2ResourceMatch},
		{Template: "/v2/events", get: (*Gateway).v2EventList},
		{Template: "/v2/events/:guid", get: (*Gateway).v2Event},
		{Template: "/v2/jobs/:guid", get: (*Gateway).v2Job},
		{Template: "/v2/organizations", get: orgsRead.listHandler, post: orgsRead.createHandler},
		{Template: "/v2/organizations/:guid", get: orgsRead.getHandler, put: orgsRead.updateHandler, del: orgsRead.deleteHandler},
		{Template: "/v2/organizations/:guid/spaces", get: orgSpaces.listHandler},
		{Template: "/v2/spaces", get: spaces.listHandler, post: spaces.createHandler},
		{Template: "/v2/spaces/:guid", get: (*Gateway).v2Space, put: spaces.updateHandler, del: spaces.deleteHandler},
		{Template: "/v2/spaces/:guid/apps", get: (*Gateway).v2SpaceApps},
		{Template: "/v2/spaces/:guid/summary", get: (*Gateway).v2SpaceSummary},
		{Template: "/v2/stacks", get: stacksRead.listHandler},
		{Template: "/v2/stacks/:guid", get: stacksRead.getHandler},
		{Template: "/v2/routes/reserved/domain/:domain_guid", get: (*Gateway).v2RouteReserved},
		{Template: "/v2/routes/reserved/domain/:domain_guid/host/:host", get: (*Gateway).v2RouteReservedHost},
		{Template: "/v2/routes", get: routes.listHandler, post: routes.createHandler},
		{Template: "/v2/routes/:guid", get: routes.getHandler, put: routes.updateHandler, del: routes.deleteHandler},
		{Template: "/v2/routes/:guid/apps", get: (*Gateway).v2RouteApps},
		{Template: "/v2/routes/:guid/apps/:app_guid", put: (*Gateway).v2RouteMapApp, del: (*Gateway).v2RouteUnmapApp},
		{Template: "/v2/routes/:guid/route_mappings", get: routeMappingsUnder.listHandler},
		{Template: "/v2/route_mappings", get: routeMappings.listHandler, post: routeMappings.createHandler},
		{Template: "/v2/route_mappings/:guid", get: routeMappings.getHandler, put: (*Gateway).v2RouteMappingUpdate, del: routeMappings.deleteHandler},
		{Template: "/v2/spaces/:guid/routes", get: spaceRoutes.listHandler},
		{Template: "/v2/spaces/:guid/unmapped_routes", del: (*Gateway).v2SpaceDeleteUnmappedRoutes},
		{Template: "/v2/service_instances", get: serviceInstances.listHandler, post: serviceInstances.createHandler},
		{Template: "/v2/service_instances/:guid", get: serviceInstances.getHandler, put: serviceInstances.updateHandler, del: (*Gateway).v2ServiceInstanceDelete},
		{Template: "/v2/service_instances/:guid/routes", get: instanceRoutes.listHandler},
		{Template: "/v2/user_provided_service_instances/:guid/routes", get: userProvidedRoutes.listHandler},
		{Template: "/v2/service_instances/:guid/routes/:route_guid", put: managedRouteSide.bindRoute, del: managedRouteSide.unbindRoute},
		{Template: "/v2/service_instances/:guid/routes/:route_guid/parameters", get: (*Gateway).v2RouteBindingParameters},
		{Template: "/v2/user_provided_service_instances/:guid/routes/:route_guid", put: userProvidedRouteSide.bindRoute, del: userProvidedRouteSide.unbindRoute},
		{Template: "/v2/service_instances/:guid/permissions", get: (*Gateway).v2ServiceInstancePermissions},
		{Template: "/v2/service_instances/:guid/parameters", get: (*Gateway).v2ServiceInstanceParameters},
		{Template: "/v2/service_instances/:guid/shared_from", get: (*Gateway).v2ServiceInstanceSharedFrom},
		{Template: "/v2/service_instances/:guid/shared_to", get: (*Gateway).v2ServiceInstanceSharedTo},
		{Template: "/v2/service_bindings/:guid/parameters", get: (*Gateway).v2ServiceBindingParameters},
		{Template: "/v2/service_keys/:guid/parameters", get: (*Gateway).v2ServiceKeyParameters},
		{Template: "/v2/service_instances/:guid/service_bindings", get: instanceBindings.listHandler},
		{Template: "/v2/user_provided_service_instances", get: userProvided.listHandler, post: userProvided.createHandler},
		{Template: "/v2/user_provided_service_instances/:guid", get: userProvided.getHandler, put: userProvided.updateHandler, del: userProvided.deleteHandler},
		{Template: "/v2/user_provided_service_instances/:guid/service_bindings", get: userProvidedBindings.listHandler},
		{Template: "/v2/service_bindings", get: serviceBindings.listHandler, post: serviceBindings.createHandler},
		{Template: "/v2/service_bindings/:guid", get: serviceBindings.getHandler, del: (*Gateway).v2ServiceBindingDelete},
		{Template: "/v2/spaces/:guid/service_instances", get: spaceInstances.listHandler},
		{Template: "/v2/spaces/:guid/services", get: spaceServices.listHandler},
		{Template: "/v2/organizations/:guid/services", get: orgServices.listHandler},
		// The marketplace lists are read without a token too (§10.7.1).
		{Template: "/v2/services", get: services.listHandler, optionalAuth: true},
		{Template: "/v2/services/:guid", get: services.getHandler},
		{Template: "/v2/services/:guid/service_plans", get: serviceServicePlans.listHandler},
		{Template: "/v2/service_plans", get: servicePlans.listHandler, optionalAuth: true},
		{Template: "/v2/service_plans/:guid", get: servicePlans.getHandler},
		{Template: "/v2/service_plans/:guid/service_instances", get: planInstances.listHandler},
		{Template: "/v2/service_keys", get: serviceKeys.listHandler, post: serviceKeys.createHandler},
		{Template: "/v2/service_keys/:guid", get: (*Gateway).v2ServiceKey, del: serviceKeys.deleteHandler},
		{Template: "/v2/service_instances/:guid/service_keys", get: instanceKeys.listHandler},
		{Template: "/v2/quota_definitions", get: quotaDefinitions.listHandler, post: quotaDefinitions.createHandler},
		{Template: "/v2/quota_definitions/:guid", get: quotaDefinitions.getHandler, put: quotaDefinitions.updateHandler, del: quotaDefinitions.deleteHandler},
		{Template: "/v2/config/feature_flags", get: (*Gateway).v2FeatureFlags},
		{Template: "/v2/config/feature_flags/:name", get: (*Gateway).v2FeatureFlag},
		{Template: "/v2/service_plan_visibilities", get: planVisibilities.listHandler},
		{Template: "/v2/service_plan_visibilities/:guid", get: (*Gateway).v2PlanVisibility},
		{Template: "/v2/service_brokers", get: brokers.listHandler},
		{Template: "/v2/service_brokers/:guid", get: brokers.getHandler},
		{Template: "/v2/shared_domains", get: sharedDomains.listHandler, post: sharedDomains.createHandler},
		{Template: "/v2/shared_domains/:guid", get: sharedDomains.getHandler, put: sharedDomains.updateHandler, del: sharedDomains.deleteHandler},
		{Template: "/v2/private_domains", get: privateDomains.listHandler, post: privateDomains.createHandler},
		{Template: "/v2/private_domains/:guid", get: privateDomains.getHandler, put: privateDomains.updateHandler, del: privateDomains.deleteHandler},
		{Template: "/v2/private_domains/:guid/shared_organizations", get: domainSharedOrgs.listHandler},
		{Template: "/v2/organizations/:guid/private_domains", get: orgPrivateDomains.listHandler},
		{Template: "/v2/organizations/:guid/private_domains/:domain_guid", put: (*Gateway).v2ShareOrgPrivateDomain, del: (*Gateway).v2UnshareOrgPrivateDomain},
		{Template: "/v2/domains", get: deprecatedWarning(domainsDeprecated.listHandler)},
		{Template: "/v2/domains/:guid", get: deprecatedWarning(domainsDeprecated.getHandler)},
		{Template: "/v2/domains/:guid/spaces", get: deprecatedWarning(domainSpaces.listHandler)},
		{Template: "/v2/organizations/:guid/domains", get: deprecatedWarning(orgDomains.listHandler)},
		{Template: "/v2/organizations/:guid/domains/:domain_guid", del: (*Gateway).v2OrgDomainDelete},
		{Template: "/v2/spaces/:guid/domains", get: deprecatedWarning(spaceDomains.listHandler)},
	}
}

// The collections whose names may appear in route templates. Paths under
// any other name share the template "/v3/_other" (or "/v2/_other"), so a
// client cannot grow the metrics' label sets.
var (
	v3Collections = []string{"admin", "app_usage_events", "apps", "audit_events", "buildpacks", "builds", "deployments",
		"domains", "droplets", "environment_variable_groups", "feature_flags", "info", "isolation_segments", "jobs",
		"organization_quotas", "organizations", "packages", "processes", "resource_matches", "revisions", "roles", "routes",
		"security_groups", "service_brokers", "service_credential_bindings", "service_instances", "service_offerings",
		"service_plans", "service_route_bindings", "service_usage_events", "sidecars", "space_quotas", "spaces", "stacks",
		"tasks", "users"}
	v2Collections = []string{"app_usage_events", "apps", "buildpacks", "config", "domains", "environment_variable_groups",
		"events", "feature_flags", "info", "jobs", "organizations", "private_domains", "quota_definitions", "resource_match",
		"route_mappings", "routes", "security_groups", "service_bindings", "service_brokers", "service_instances", "service_keys",
		"service_plan_visibilities", "service_plans", "service_usage_events", "services", "shared_domains",
		"space_quota_definitions", "spaces", "stacks", "user_provided_service_instances", "users"}
)

// uaaPaths are the UAA endpoints the cf CLI, go-cfclient and OAuth
// libraries call (login prompts, tokens, keys, user info, discovery);
// uaaPrefixes are UAA's SCIM collections (cf create-user). logCachePaths
// are log-cache's HTTP API (go-log-cache: info, read, meta, PromQL), the
// read's source id a prefix. Served only with a passthrough of their
// component; without one they are unknown requests.
var (
	uaaPaths = []string{"/login", "/info", "/oauth/token", "/oauth/authorize", "/token_key", "/token_keys", "/userinfo",
		"/check_token", "/introspect", "/.well-known/openid-configuration", "/passcode", "/logout.do"}
	uaaPrefixes      = []string{"/Users", "/Groups"}
	logCachePaths    = []string{"/api/v1/info", "/api/v1/meta", "/api/v1/query", "/api/v1/query_range"}
	logCachePrefixes = []string{"/api/v1/read"}
	// routingPrefixes are the routing API's (its router groups, which the
	// cf CLI reads for TCP domains), under the /routing the Cloud
	// Controller's routing link names.
	routingPrefixes = []string{"/routing/v1"}
)

// router maps request paths to routes.
type router struct {
	root, v3Root, v3Info, v2Info, unknown, v2Other, v3Other, v2ForwardOther *Route
	v3, v2, v2Forward                                                       map[string][3]*Route // collection → [list, :guid, :guid/*]
	translated                                                              map[string][]*Route  // collection → translated v2 routes
	passthrough                                                             []string
	// components holds the routes of the UAA and of log-cache by path,
	// and by prefix as "/Users/*"; empty without their passthroughs.
	components map[string]*Route
}

// newRouter builds the routes; uaa and logCache add the routes of those
// components, passed through.
func newRouter(v2Passthrough []string, uaa, logCache, routing bool) *router {
	r := &router{
		root:           &Route{Template: "/", kind: kindRoot, anonymous: true},
		v3Root:         &Route{Template: "/v3", kind: kindRoot, anonymous: true},
		v3Info:         &Route{Template: "/v3/info", kind: kindV3Info, anonymous: true},
		v2Info:         &Route{Template: "/v2/info", kind: kindV2Info, optionalAuth: true, v2: true},
		unknown:        &Route{Template: "_other", kind: kindUnknown, anonymous: true},
		v3Other:        &Route{Template: "/v3/_other", kind: kindV3},
		v2Other:        &Route{Template: "/v2/_other", kind: kindV2Unknown, anonymous: true, v2: true},
		v2ForwardOther: &Route{Template: "/v2/_other", kind: kindV2Forward, v2: true},
		v3:             map[string][3]*Route{},
		v2:             map[string][3]*Route{},
		v2Forward:      map[string][3]*Route{},
		translated:     map[string][]*Route{},
		passthrough:    v2Passthrough,
		components:     map[string]*Route{},
	}
	add := func(k kind, paths, prefixes []string) {
		// The UAA checks its own credentials (client Basic auth, bearer
		// tokens), so its routes are anonymous to the gateway; log-cache
		// takes the UAA tokens the gateway checks, but for its version.
		for _, p := range paths {
			r.components[p] = &Route{Template: p, kind: k, anonymous: k == kindUAA || p == "/api/v1/info"}
		}
		for _, p := range prefixes {
			r.components[p] = &Route{Template: p, kind: k, anonymous: k == kindUAA}
			r.components[p+"/*"] = &Route{Template: p + "/*", kind: k, anonymous: k == kindUAA}
		}
	}
	if uaa {
		add(kindUAA, uaaPaths, uaaPrefixes)
	}
	if logCache {
		add(kindLogCache, logCachePaths, logCachePrefixes)
	}
	if routing {
		add(kindRouting, nil, routingPrefixes)
	}
	templates := func(prefix, c string) [3]string {
		base := prefix + c
		return [3]string{base, base + "/:guid", base + "/:guid/*"}
	}
	for _, c := range v3Collections {
		t := templates("/v3/", c)
		r.v3[c] = [3]*Route{{Template: t[0], kind: kindV3}, {Template: t[1], kind: kindV3}, {Template: t[2], kind: kindV3}}
	}
	for _, c := range v2Collections {
		t := templates("/v2/", c)
		// Untranslated v2 routes are unknown requests, which CC answers 404
		// before it looks at the token.
		r.v2[c] = [3]*Route{{Template: t[0], kind: kindV2Unknown, anonymous: true, v2: true},
			{Template: t[1], kind: kindV2Unknown, anonymous: true, v2: true},
			{Template: t[2], kind: kindV2Unknown, anonymous: true, v2: true}}
		r.v2Forward[c] = [3]*Route{{Template: t[0], kind: kindV2Forward, v2: true}, {Template: t[1], kind: kindV2Forward, v2: true},
			{Template: t[2], kind: kindV2Forward, v2: true}}
	}
	for _, rt := range v2Routes() {
		rt.kind, rt.v2 = kindV2, true
		rt.segs = strings.Split(strings.TrimPrefix(rt.Template, "/v2/"), "/")
		r.translated[rt.segs[0]] = append(r.translated[rt.segs[0]], rt)
	}
	return r
}

// match returns the route of a path. It does not allocate.
func (r *router) match(path []byte) *Route {
	path = bytes.TrimSuffix(path, []byte("/"))
	switch string(path) {
	case "":
		return r.root
	case "/v3":
		return r.v3Root
	case "/v3/info":
		return r.v3Info
	case "/v2/info":
		return r.v2Info
	}
	var table map[string][3]*Route
	var other *Route
	var rest []byte
	switch {
	case bytes.HasPrefix(path, []byte("/v3/")):
		table, other, rest = r.v3, r.v3Other, path[4:]
	case bytes.HasPrefix(path, []byte("/v2/")):
		table, other, rest = r.v2, r.v2Other, path[4:]
		if r.forwarded(path) {
			table, other = r.v2Forward, r.v2ForwardOther
			break
		}
		for _, rt := range r.translated[string(firstSegment(rest))] {
			if segmentsMatch(rt.segs, rest) {
				return rt
			}
		}
	default:
		return r.matchComponent(path)
	}
	name, tail, _ := bytes.Cut(rest, []byte("/"))
	routes, ok := table[string(name)] // no allocation: the compiler reads the bytes in place
	if !ok {
		return other
	}
	switch {
	case len(tail) == 0:
		return routes[0]
	case bytes.IndexByte(tail, '/') < 0:
		return routes[1]
	}
	return routes[2]
}

// matchComponent returns the UAA or log-cache route of path, or the
// unknown route: an exact path, else the longest prefix with routes below
// it ("/Users/*").
func (r *router) matchComponent(path []byte) *Route {
	if len(r.components) == 0 {
		return r.unknown
	}
	if rt, ok := r.components[string(path)]; ok {
		return rt
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '/' {
			continue
		}
		if rt, ok := r.components[string(path[:i])]; ok {
			if below, ok := r.components[rt.Template+"/*"]; ok {
				return below
			}
			return r.unknown
		}
	}
	return r.unknown
}

func firstSegment(p []byte) []byte {
	if i := bytes.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// segmentsMatch reports whether path has exactly the template's segments,
// a ":name" segment matching any non-empty one.
func segmentsMatch(segs []string, path []byte) bool {
	for i, s := range segs {
		var seg []byte
		var found bool
		seg, path, found = bytes.Cut(path, []byte("/"))
		if len(seg) == 0 || s[0] != ':' && string(seg) != s {
			return false
		}
		if found != (i < len(segs)-1) {
			return false
		}
	}
	return true
}

// pathParam returns segment i of the request path after "/v2/" or "/v3/"
// (0 is the collection): the guid of "/v2/apps/:guid/summary" is
// pathParam(ctx, 1).
func pathParam(ctx *fasthttp.RequestCtx, i int) string {
	p := bytes.TrimSuffix(ctx.Path(), []byte("/"))
	if len(p) < 4 {
		return ""
	}
	p = p[4:]
	for ; i > 0; i-- {
		_, p, _ = bytes.Cut(p, []byte("/"))
	}
	return string(firstSegment(p))
}

func (r *router) forwarded(path []byte) bool {
	for _, p := range r.passthrough {
		p = strings.TrimSuffix(p, "/")
		if bytes.HasPrefix(path, []byte(p)) && (len(path) == len(p) || path[len(p)] == '/') {
			return true
		}
	}
	return false
}

// methodLabel bounds the method label to the methods HTTP defines.
func methodLabel(m []byte) string {
	switch string(m) {
	case fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodHead:
		return fasthttp.MethodHead
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	case fasthttp.MethodPut:
		return fasthttp.MethodPut
	case fasthttp.MethodPatch:
		return fasthttp.MethodPatch
	case fasthttp.MethodDelete:
		return fasthttp.MethodDelete
	case fasthttp.MethodOptions:
		return fasthttp.MethodOptions
	}
	return "_other"
}
