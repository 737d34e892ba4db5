package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capibridge/internal/jsonshape"
)

// A route at inline-relations-depth=1 (the legacy cf CLI's reads): the
// domain with DomainsController's relations, the space, the web apps.
func routeInlined(raw []byte) ([]byte, error) {
	var in struct {
		Route  V3Route
		Domain V3Domain
		Space  struct {
			Space      V3Space
			FeatureSSH struct{ Enabled bool } `json:"feature_ssh"`
		}
		Apps    []json.RawMessage
		Service *RouteService
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	x := &RouteInlined{Domain: &in.Domain, Space: &SpaceBundle{Space: in.Space.Space, AllowSSH: in.Space.FeatureSSH.Enabled}, Apps: in.Apps, HasApps: true,
		Service: in.Service}
	var b bytes.Buffer
	err := AppendRouteInlined(&b, in.Route, Inline{Depth: 1}, x)
	return b.Bytes(), err
}

func TestRouteInlinedGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "routes_inline", routeInlined)
}

// The keys of a route and of what it inlines are CC's, in CC's order
// (route_list_inline_depth1.current-shape.json, from CC's request spec),
// and a route without inlining has route.json's keys but the route
// service's url, which only a bound route has.
func TestRouteKeyOrder(t *testing.T) {
	t.Parallel()
	read := func(elem ...string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got, err := routeInlined(read("routes_inline", "shared_depth1.v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	ref := read("reference", "route_list_inline_depth1.current-shape.json")
	for _, at := range []string{"metadata", "entity", "entity.domain.entity", "entity.space.entity", "entity.apps.0.entity"} {
		if w, g := keysOf(t, ref, "resources.0."+at), keysOf(t, got, at); w != g {
			t.Errorf("%s keys\n got %s\nwant %s", at, g, w)
		}
	}
	// A bound route, not inlined, has route.json's keys exactly.
	var in struct {
		Route   V3Route
		Service *RouteService
	}
	if err := json.Unmarshal(read("routes_inline", "bound_upsi.v3.json"), &in); err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := AppendRouteInlined(&plain, in.Route, Inline{}, &RouteInlined{Service: in.Service}); err != nil {
		t.Fatal(err)
	}
	if w, g := keysOf(t, read("reference", "route.json"), "entity"), keysOf(t, plain.Bytes(), "entity"); g != w {
		t.Errorf("bound route keys\n got %s\nwant %s", g, w)
	}
}

// The clients' route bodies (shared/reference/v2/routes/client_*) and the
// POST /v3/routes each becomes; CC's parse errors.
func TestParseRouteRequest(t *testing.T) {
	t.Parallel()
	rel := `"relationships":{"space":{"data":{"guid":"s"}},"domain":{"data":{"guid":"d"}}}}`
	cases := []struct {
		name, body string
		generate   bool
		want       string // v3 body, or the error's description
	}{
		{"cli6", `{"host":"myapp","port":null,"domain_guid":"d","space_guid":"s"}`, false, `{"host":"myapp",` + rel},
		{"go-cfclient", `{"domain_guid":"d","space_guid":"s","host":"myapp","path":"","port":0}`, false, `{"host":"myapp",` + rel},
		{"legacy with path", `{"host":"myapp","path":"/p","domain_guid":"d","space_guid":"s"}`, false, `{"host":"myapp","path":"/p",` + rel},
		{"tcp port", `{"port":1234,"domain_guid":"d","space_guid":"s"}`, false, `{"host":"","port":1234,` + rel},
		{"generate drops the port", `{"port":1234,"domain_guid":"d","space_guid":"s"}`, true, `{"host":"",` + rel},
		{"missing both", `{"host":"x"}`, false,
			"Request invalid due to parse error: Field: domain_guid, Error: Missing field domain_guid, Field: space_guid, Error: Missing field space_guid"},
		{"port as string", `{"port":"1234","domain_guid":"d","space_guid":"s"}`, false,
			"Request invalid due to parse error: Field: port, Error: Expected instance of Integer, given an instance of String"},
		{"empty body", ``, false, "Request invalid due to parse error: Decoded JSON cannot be nil"},
	}
	for _, tc := range cases {
		r, err := ParseRouteRequest([]byte(tc.body), true)
		got := ""
		if err != nil {
			got = err.(*Error).Description
		} else {
			b, err := V3RouteCreate(r, tc.generate)
			if err != nil {
				t.Fatal(err)
			}
			got = string(b)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// What v2 refuses before v3 sees the route (§9.5.3 step 2).
func TestRouteCheck(t *testing.T) {
	t.Parallel()
	port := int64(1234)
	zero := int64(0)
	http := V3Domain{SupportedProtocols: []string{"http"}}
	tcp := V3Domain{SupportedProtocols: []string{"tcp"}}
	privateTCP := tcp
	privateTCP.Relationships.Organization.Data = &V3GUIDRef{GUID: "o"}
	cases := []struct {
		name     string
		r        RouteRequest
		d        V3Domain
		generate bool
		want     string
	}{
		{"http, no port", RouteRequest{}, http, false, ""},
		{"http, port 0", RouteRequest{Port: &zero}, http, false, ""},
		{"http, port", RouteRequest{Port: &port}, http, false, "The route is invalid: Port is supported for domains of TCP router groups only."},
		{"http, generate", RouteRequest{}, http, true, "The route is invalid: Port is supported for domains of TCP router groups only."},
		{"tcp, no port", RouteRequest{}, tcp, false, "The route is invalid: For TCP routes you must specify a port or request a random one."},
		{"tcp, port 0", RouteRequest{Port: &zero}, tcp, false, "The route is invalid: For TCP routes you must specify a port or request a random one."},
		{"tcp, port", RouteRequest{Port: &port}, tcp, false, ""},
		{"tcp, generate", RouteRequest{Port: &zero}, tcp, true, ""},
		{"private tcp, generate", RouteRequest{}, privateTCP, true, "The route is invalid: Port is supported for domains of TCP router groups only."},
	}
	for _, tc := range cases {
		got := ""
		if e := RouteCheck(tc.r, tc.d, tc.generate); e != nil {
			got = e.Description
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// v3's refusals of POST /v3/routes in v2's words (§9.5.3's table).
func TestRouteCreateError(t *testing.T) {
	t.Parallel()
	host, path, dom, sp := "myapp", "/p", "d-guid", "s-guid"
	port := int64(1234)
	r := RouteRequest{Host: &host, Path: &path, DomainGUID: &dom, SpaceGUID: &sp, Port: &port}
	cases := []struct {
		status       int
		title        string
		detail, name string
		want         string
	}{
		{422, "CF-UnprocessableEntity", "Invalid space. Ensure that the space exists and you have access to it.", "InvalidRelation", "Could not find Space with guid: s-guid"},
		{422, "CF-UnprocessableEntity", "Invalid domain. Ensure that the domain exists and you have access to it.", "InvalidRelation", "Could not find Domain with guid: d-guid"},
		{422, "CF-UnprocessableEntity", "Invalid domain. Domain 'my-domain.example.com' is not available in organization 'o'.", "InvalidRelation", "Organization cannot use domain my-domain.example.com"},
		{422, "CF-UnprocessableEntity", "Route already exists with host 'myapp' for domain 'example.com'.", "RouteHostTaken", "The host is taken: myapp"},
		{422, "CF-UnprocessableEntity", "Route already exists with host 'myapp' and path '/p' for domain 'example.com'.", "RoutePathTaken", "The path is taken: /p"},
		{422, "CF-UnprocessableEntity", "Route already exists with port '1234' for domain 'tcp.example.com'.", "RoutePortTaken",
			"The port is taken: Port 1234 is not available on this domain's router group. Try a different port, request an random port, or use a domain of a different router group."},
		{422, "CF-UnprocessableEntity", "Path must begin with /", "PathInvalid", `The path is invalid: the path must start with a "/"`},
		{422, "CF-UnprocessableEntity", "Path cannot be exactly /", "PathInvalid", "The path is invalid: the path cannot be a single slash"},
		{422, "CF-UnprocessableEntity", "Path cannot contain ?", "PathInvalid", `The path is invalid: illegal "?" character`},
		{422, "CF-UnprocessableEntity", `Host must be either "*" or contain only alphanumeric characters, "_", or "-"`, "RouteInvalid", "The route is invalid: host format"},
		{422, "CF-UnprocessableEntity", "Missing host. Routes in shared domains must have a host defined.", "RouteInvalid", "The route is invalid: host is required for shared-domains"},
		{422, "CF-UnprocessableEntity", "Routes quota exceeded for space 's'.", "SpaceQuotaTotalRoutesExceeded", "You have exceeded the total routes for your space's quota."},
		{422, "CF-UnprocessableEntity", "Routes quota exceeded for organization 'o'.", "OrgQuotaTotalRoutesExceeded", "You have exceeded the total routes for your organization's quota."},
		{422, "CF-UnprocessableEntity", "Something new.", "RouteInvalid", "The route is invalid: Something new."},
		{403, "CF-FeatureDisabled", "Feature Disabled: route_creation", "FeatureDisabled", "Feature Disabled: route_creation"},
		{403, "CF-NotAuthorized", "You are not authorized to perform the requested action", "NotAuthorized", "You are not authorized to perform the requested action"},
	}
	for _, tc := range cases {
		e := RouteCreateError(tc.status, tc.title, tc.detail, r)
		if e == nil || e.Name != tc.name || e.Description != tc.want {
			t.Errorf("%q: got %+v, want %s %q", tc.detail, e, tc.name, tc.want)
		}
	}
	if e := RouteCreateError(500, "UnknownError", "boom", r); e != nil {
		t.Errorf("a 500 is not a route error: %+v", e)
	}
}

// The route q of /v2/routes as v3 filters and local ones (§9.3).
func TestRouteQueryFromFilters(t *testing.T) {
	t.Parallel()
	parse := func(qs ...string) RouteQuery {
		fs, err := ParseQ(qs, RouteListKeys())
		if err != nil {
			t.Fatal(err)
		}
		return RouteQueryFromFilters(fs)
	}
	q := parse("host:web", "domain_guid>d1", "path:")
	if strings.Join(q.Hosts, ",") != "web" || strings.Join(q.DomainGUIDs, ",") != "d1" || q.Paths == nil || len(q.Paths) != 1 || q.Paths[0] != "" || q.Empty {
		t.Errorf("eq filters: %+v", q)
	}
	// The legacy CLI's one q joined by ";".
	q = parse("host:web;domain_guid:d1;port:1234")
	if strings.Join(q.Hosts, ",") != "web" || len(q.Local) != 1 || q.Local[0].Key != "port" {
		t.Errorf("joined q: %+v", q)
	}
	if q = parse("host:a", "host:b"); !q.Empty {
		t.Errorf("host:a and host:b match nothing: %+v", q)
	}
	q = parse("organization_guid:o1", "organization_guid IN o2,o3")
	if strings.Join(q.OrgGUIDs, ",") != "o1,o2,o3" {
		t.Errorf("first : and first IN are ORed: %+v", q)
	}
	q = parse("host>m")
	if q.Hosts != nil || len(q.Local) != 1 || !q.Match(V3Route{Host: "web"}) || q.Match(V3Route{Host: "api"}) {
		t.Errorf("host>m is local: %+v", q)
	}
	p := func(n int) *int { return &n }
	cases := []struct {
		q    string
		port *int
		want bool
	}{
		{"port:0", nil, true}, // every http route is stored with port 0
		{"port:abc", nil, true},
		{"port:1234", p(1234), true},
		{"port:1234", nil, false},
		{"port>1000", p(1234), true},
		{"port<1000", p(1234), false},
		{"port IN 1,1234", p(1234), true},
		{"port:", nil, false}, // NULL matches nothing
		{"port:12x", p(12), true},
	}
	for _, tc := range cases {
		if got := parse(tc.q).Match(V3Route{Port: tc.port}); got != tc.want {
			t.Errorf("%s on %v: %v, want %v", tc.q, tc.port, got, tc.want)
		}
	}
}

// The domain bodies and v3's refusals of POST /v3/domains (§9.12.2,
// §9.13.2).
func TestDomainWrites(t *testing.T) {
	t.Parallel()
	r, err := ParseSharedDomainRequest([]byte(`{"internal":false,"name":" shared.example.org ","router_group_guid":"rg"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := V3DomainCreate(r)
	if string(b) != `{"name":"shared.example.org","internal":false,"router_group":{"guid":"rg"}}` {
		t.Errorf("shared body: %s", b)
	}
	p, err := ParsePrivateDomainRequest([]byte(`{"name":"p.example.org","owning_organization_guid":"o","wildcard":true}`), true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = V3DomainCreate(p)
	if string(b) != `{"name":"p.example.org","relationships":{"organization":{"data":{"guid":"o"}}}}` {
		t.Errorf("private body: %s", b)
	}
	if _, err := ParsePrivateDomainRequest([]byte(`{"name":"p.example.org"}`), true); err == nil ||
		err.(*Error).Description != "Request invalid due to parse error: Field: owning_organization_guid, Error: Missing field owning_organization_guid" {
		t.Errorf("missing owner: %v", err)
	}
	if _, err := ParseSharedDomainRequest([]byte(`{"name":"x.org","internal":"true"}`)); err == nil ||
		!strings.Contains(err.(*Error).Description, "Field: internal, Error: Expected instance of true or false, given true") {
		t.Errorf("internal as a string: %v", err)
	}
	cases := []struct {
		status      int
		title       string
		detail      string
		name, descr string
	}{
		{422, "CF-UnprocessableEntity", `The domain name "p.example.org" is already in use`, "DomainNameTaken", "The domain name is taken: p.example.org"},
		{422, "CF-UnprocessableEntity", "Organization with guid 'o' does not exist or you do not have access to it.", "InvalidRelation", "Could not find Organization with guid: o"},
		{422, "CF-UnprocessableEntity", `The "co.uk" domain is reserved and cannot be used for org-scoped domains.`, "DomainInvalid", "The domain is invalid: name reserved"},
		{422, "CF-UnprocessableEntity", `The number of private domains exceeds the quota for organization "my-org"`, "TotalPrivateDomainsExceeded",
			"The number of private domains exceeds the quota for organization: my-org"},
		{422, "CF-UnprocessableEntity", "Name does not comply with RFC 1035 standards", "DomainInvalid", "The domain is invalid: Name does not comply with RFC 1035 standards"},
		{403, "CF-NotAuthorized", "You are not authorized to perform the requested action", "NotAuthorized", "You are not authorized to perform the requested action"},
		{403, "CF-FeatureDisabled", "Feature Disabled: private_domain_creation", "FeatureDisabled", "Feature Disabled: private_domain_creation"},
	}
	for _, tc := range cases {
		e := DomainCreateError(tc.status, tc.title, tc.detail, p)
		if e == nil || e.Name != tc.name || e.Description != tc.descr {
			t.Errorf("%q: got %+v", tc.detail, e)
		}
	}
	var d V3Domain
	d.Name = "p.example.org"
	d.Relationships.Organization.Data = &V3GUIDRef{GUID: "o"}
	other, same := "o2", "P.example.org"
	if e := DomainUpdateError(DomainRequest{OwningOrgGUID: &other}, d); e == nil || e.Description != "The domain is invalid: the owning organization cannot be changed" {
		t.Errorf("owner change: %+v", e)
	}
	if e := DomainUpdateError(DomainRequest{Name: &same}, d); e != nil {
		t.Errorf("same name: %+v", e)
	}
}

// keysOf returns the keys of the object at path in a JSON document, in
// their order.
func keysOf(t *testing.T, doc []byte, path string) string {
	t.Helper()
	shape, err := jsonshape.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if path != "" {
		shape = shape.At(path)
	}
	return strings.Join(shape.Keys, ",")
}

// The other bodies of MAPPING-routes §9 against CC's: a route mapping,
// the queued job of an async delete, and both kinds of domain as
// DomainsController renders them (the deprecated list).
func TestRoutesFamilyKeyOrder(t *testing.T) {
	t.Parallel()
	port := 8888
	ts, err := time.Parse(time.RFC3339, "2016-06-08T16:41:42Z")
	if err != nil {
		t.Fatal(err)
	}
	var mapping, job, shared, private bytes.Buffer
	if err := AppendRouteMappingResource(&mapping, RouteMapping{Route: V3Route{GUID: "r"},
		Destination: V3Destination{GUID: "m", Port: &port, App: V3DestinationApp{GUID: "a"}, CreatedAt: ts, UpdatedAt: ts}}); err != nil {
		t.Fatal(err)
	}
	body, err := QueuedJob("j", ts)
	if err != nil {
		t.Fatal(err)
	}
	job.Write(body)
	var d V3Domain
	d.GUID, d.Name = "d", "example.com"
	if err := AppendDomainViaDomains(&shared, d); err != nil {
		t.Fatal(err)
	}
	d.Relationships.Organization.Data = &V3GUIDRef{GUID: "o"}
	if err := AppendDomainViaDomains(&private, d); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		got     []byte
		ref, at string
		parts   []string
	}{
		{mapping.Bytes(), "route_mapping.json", "", []string{"metadata", "entity"}},
		{job.Bytes(), "route_delete_async_response.current-shape.json", "", []string{"metadata", "entity"}},
		{private.Bytes(), "private_domain_via_domains_controller.current-shape.json", "", []string{"metadata", "entity"}},
		{shared.Bytes(), "domain_list_deprecated.current-shape.json", "resources.0", []string{"metadata", "entity"}},
	}
	for _, tc := range cases {
		ref, err := os.ReadFile(filepath.Join("testdata", "reference", tc.ref))
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range tc.parts {
			refPath := part
			if tc.at != "" {
				refPath = tc.at + "." + part
			}
			if w, g := keysOf(t, ref, refPath), keysOf(t, tc.got, part); w != g {
				t.Errorf("%s %s keys\n got %s\nwant %s", tc.ref, part, g, w)
			}
		}
	}
	if !strings.Contains(shared.String(), `"router_group_type":null`) || !strings.Contains(shared.String(), `"url":"/v2/shared_domains/d"`) {
		t.Errorf("a shared domain through DomainsController: %s", shared.String())
	}
}
