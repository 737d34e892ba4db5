package proxy

import (
	"bytes"
	"capibridge/proxy/v2api"
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
	kindHealth                // GET /healthz: the gateway is up (the platform's health check on Cloud Foundry)
	kindMetrics               // GET /metrics behind server.metrics_basic_auth (where the admin port is not reachable)
	kindUnknown               // anything else: 404 CF-NotFound
)

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
	get, put, post, del v2api.Handler
}

// handler returns the translated handler of method (HEAD is GET), or nil.
func (r *Route) handler(method []byte) v2api.Handler {
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
	for _, d := range v2api.Routes() {
		rt := &Route{Template: d.Template, optionalAuth: d.OptionalAuth, get: d.Get, put: d.Put, post: d.Post, del: d.Del}
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
