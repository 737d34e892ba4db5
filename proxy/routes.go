package proxy

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// kind says how the gateway serves a route.
type kind int

const (
	kindRoot        kind = iota // GET / and /v3: passed through, links rewritten
	kindV3Info                  // GET /v3/info: passed through, anonymous
	kindV2Info                  // GET /v2/info: answered by the gateway
	kindV3                      // any other /v3 path: passed through
	kindV2Forward               // an untranslated v2 path configured to pass through
	kindV2Unknown               // an untranslated v2 path: 404 CF-NotFound
	kindV2AppList               // GET /v2/apps, translated
	kindV2App                   // GET /v2/apps/:guid, translated
	kindV2SpaceApps             // GET /v2/spaces/:guid/apps, translated
	kindV2OrgList               // GET /v2/organizations, translated
	kindV2Org                   // GET /v2/organizations/:guid, translated
	kindV2OrgSpaces             // GET /v2/organizations/:guid/spaces, translated
	kindV2SpaceList             // GET /v2/spaces, translated
	kindV2Space                 // GET /v2/spaces/:guid, translated
	kindV2StackList             // GET /v2/stacks, translated
	kindV2Stack                 // GET /v2/stacks/:guid, translated
	kindUnknown                 // anything else: 404 CF-NotFound
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

// router maps request paths to routes.
type router struct {
	root, v3Root, v3Info, v2Info, unknown, v2Other, v3Other, v2ForwardOther, v2SpaceApps *Route
	v2OrgSpaces                                                                          *Route
	v3, v2, v2Forward                                                                    map[string][3]*Route // collection → [list, :guid, :guid/*]
	passthrough                                                                          []string
}

func newRouter(v2Passthrough []string) *router {
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
		passthrough:    v2Passthrough,
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
	// The v2 routes the gateway translates.
	r.v2SpaceApps = &Route{Template: "/v2/spaces/:guid/apps", kind: kindV2SpaceApps, v2: true}
	apps := r.v2["apps"]
	apps[0] = &Route{Template: "/v2/apps", kind: kindV2AppList, v2: true}
	apps[1] = &Route{Template: "/v2/apps/:guid", kind: kindV2App, v2: true}
	r.v2["apps"] = apps
	r.v2OrgSpaces = &Route{Template: "/v2/organizations/:guid/spaces", kind: kindV2OrgSpaces, v2: true}
	for c, k := range map[string][2]kind{"organizations": {kindV2OrgList, kindV2Org}, "spaces": {kindV2SpaceList, kindV2Space},
		"stacks": {kindV2StackList, kindV2Stack}} {
		rs := r.v2[c]
		rs[0] = &Route{Template: rs[0].Template, kind: k[0], v2: true}
		rs[1] = &Route{Template: rs[1].Template, kind: k[1], v2: true}
		r.v2[c] = rs
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
		}
	default:
		return r.unknown
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
	if bytes.HasPrefix(path, []byte("/v2/")) && string(name) == "spaces" && bytes.Count(tail, []byte("/")) == 1 && bytes.HasSuffix(tail, []byte("/apps")) &&
		!r.forwarded(path) {
		return r.v2SpaceApps
	}
	if bytes.HasPrefix(path, []byte("/v2/")) && string(name) == "organizations" && bytes.Count(tail, []byte("/")) == 1 &&
		bytes.HasSuffix(tail, []byte("/spaces")) && !r.forwarded(path) {
		return r.v2OrgSpaces
	}
	return routes[2]
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
