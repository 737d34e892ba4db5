package backend

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// routesT0 is the fixture clock: the seeded domain's times are this.
var routesT0 = time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)

func routesAt(seconds int64) int64 { return routesT0.Unix() + seconds }

// The routes fixture's guids.
const (
	routesPrivateDomain = "d0a10000-0000-4000-8000-0000000000f1" // private to the other org
	routesDemoDomain    = "d0a10000-0000-4000-8000-0000000000d1" // private to demo-org
	routesHost          = "f0de0000-0000-4000-8000-000000000001" // myapp.<shared>, two destinations
	routesBare          = "f0de0000-0000-4000-8000-000000000002" // <shared>/api, none
	routesTCP           = "f0de0000-0000-4000-8000-000000000003" // <shared>:61000
	routesOther         = "f0de0000-0000-4000-8000-0000000000f1" // in the other org
	routesDestWeb       = "de500000-0000-4000-8000-000000000001" // app's web, created second
	routesDestWorker    = "de500000-0000-4000-8000-000000000002" // sidekick's worker, created first
	routesDestOther     = "de500000-0000-4000-8000-0000000000f1"
)

// routesWorld: in demo-space, the developer's app and sidekick; in the
// other org, the admin's app; two private domains next to the shared one.
type routesWorld struct {
	c                       *cf
	app, sidekick, otherApp string
}

func newRoutesWorld(t *testing.T) *routesWorld {
	t.Helper()
	clk := &fakeClock{now: routesT0}
	c := startCF(t, nil, WithClock(clk.Now))
	c.addOtherSpace()
	w := &routesWorld{c: c, app: c.createApp("developer", "routed", nil), sidekick: c.createApp("developer", "sidekick", nil),
		otherApp: c.createAppIn("admin", otherSpaceGUID, "elsewhere", nil)}
	ctx, st := context.Background(), c.srv.Store()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateDomain(ctx, store.Domain{GUID: routesPrivateDomain, Name: "private.example.org", OrgGUID: otherOrgGUID, CreatedAt: routesAt(1), UpdatedAt: routesAt(1)}))
	must(st.CreateDomain(ctx, store.Domain{GUID: routesDemoDomain, Name: "demo.example.org", OrgGUID: DemoOrgGUID, CreatedAt: routesAt(2), UpdatedAt: routesAt(2)}))
	port := int64(61000)
	for _, rt := range []store.Route{
		{GUID: routesHost, SpaceGUID: DemoSpaceGUID, DomainGUID: SharedDomainGUID, Host: "myapp", CreatedAt: routesAt(10), UpdatedAt: routesAt(11)},
		{GUID: routesBare, SpaceGUID: DemoSpaceGUID, DomainGUID: SharedDomainGUID, Path: "/api", CreatedAt: routesAt(12), UpdatedAt: routesAt(12)},
		{GUID: routesTCP, SpaceGUID: DemoSpaceGUID, DomainGUID: SharedDomainGUID, Port: &port, CreatedAt: routesAt(13), UpdatedAt: routesAt(13)},
		{GUID: routesOther, SpaceGUID: otherSpaceGUID, DomainGUID: routesPrivateDomain, Host: "o", CreatedAt: routesAt(14), UpdatedAt: routesAt(14)},
	} {
		must(st.CreateRoute(ctx, rt))
	}
	weight := int64(5)
	must(st.AddDestination(ctx, store.Destination{GUID: routesDestWeb, RouteGUID: routesHost, AppGUID: w.app, CreatedAt: routesAt(30), UpdatedAt: routesAt(31)}))
	must(st.AddDestination(ctx, store.Destination{GUID: routesDestWorker, RouteGUID: routesHost, AppGUID: w.sidekick, ProcessType: "worker", Port: 9000,
		Weight: &weight, CreatedAt: routesAt(20), UpdatedAt: routesAt(20)}))
	must(st.AddDestination(ctx, store.Destination{GUID: routesDestOther, RouteGUID: routesOther, AppGUID: w.otherApp, CreatedAt: routesAt(21), UpdatedAt: routesAt(21)}))
	return w
}

// TestSharedDomainSeeded: the first start seeds one shared domain, which
// every user sees, in the shape of CC's DomainPresenter.
func TestSharedDomainSeeded(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: routesT0}
	c := startCF(t, nil, WithClock(clk.Now))
	self := v3Base + "/v3/domains/" + SharedDomainGUID
	want := `{"guid":"` + SharedDomainGUID + `","created_at":"2025-07-01T09:00:00Z","updated_at":"2025-07-01T09:00:00Z",` +
		`"name":"apps.capibridge.local","internal":false,"router_group":null,"supported_protocols":["http"],` +
		`"relationships":{"organization":{"data":null},"shared_organizations":{"data":[]}},` +
		`"metadata":{"labels":{},"annotations":{}},` +
		`"links":{"self":{"href":"` + self + `"},"route_reservations":{"href":"` + self + `/route_reservations"}}}`
	for _, user := range roleUsers {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			if got := string(c.must(200, "GET", "/v3/domains/"+SharedDomainGUID, user, nil).body); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			if got := rawAt(t, c.must(200, "GET", "/v3/domains", user, nil).body, "resources"); got != "["+want+"]" {
				t.Errorf("list resources\n got %s\nwant [%s]", got, want)
			}
		})
	}
}

func TestDomainsVisibilityAndFilters(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	cases := []struct {
		name, path, user string
		want             []string
	}{
		// Private domains show to members of their org (the developer and
		// the auditor are org users of demo-org), shared ones to everyone.
		{"admin", "/v3/domains", "admin", []string{SharedDomainGUID, routesPrivateDomain, routesDemoDomain}},
		{"developer", "/v3/domains", "developer", []string{SharedDomainGUID, routesDemoDomain}},
		{"auditor", "/v3/domains", "auditor", []string{SharedDomainGUID, routesDemoDomain}},
		{"outsider", "/v3/domains", "outsider", []string{SharedDomainGUID}},
		{"names", "/v3/domains?names=APPS.capibridge.local", "admin", []string{SharedDomainGUID}},
		{"guids", "/v3/domains?guids=" + routesDemoDomain + "," + routesPrivateDomain, "developer", []string{routesDemoDomain}},
		{"organization_guids", "/v3/domains?organization_guids=" + otherOrgGUID, "admin", []string{routesPrivateDomain}},
		{"newest first", "/v3/domains?order_by=-created_at&per_page=2", "admin", []string{routesDemoDomain, routesPrivateDomain}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := guidsOf(w.c.forTest(t).listPage(tc.user, tc.path).Resources); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("private domain", func(t *testing.T) {
		t.Parallel()
		c := w.c.forTest(t)
		roleNotFound("Domain").assert(t, c.do("GET", "/v3/domains/"+routesPrivateDomain, "developer", nil))
		body := c.must(200, "GET", "/v3/domains/"+routesPrivateDomain, "admin", nil).body
		self := v3Base + "/v3/domains/" + routesPrivateDomain
		if got, want := rawAt(t, body, "relationships.organization"), `{"data":{"guid":"`+otherOrgGUID+`"}}`; got != want {
			t.Errorf("organization %s, want %s", got, want)
		}
		wantLinks := `{"self":{"href":"` + self + `"},"route_reservations":{"href":"` + self + `/route_reservations"},` +
			`"organization":{"href":"` + v3Base + `/v3/organizations/` + otherOrgGUID + `"},` +
			`"shared_organizations":{"href":"` + self + `/relationships/shared_organizations"}}`
		if got := rawAt(t, body, "links"); got != wantLinks {
			t.Errorf("links\n got %s\nwant %s", got, wantLinks)
		}
	})
}

// TestRouteShape compares a route, byte for byte, with CC's RoutePresenter
// order: destinations by created_at, then guid.
func TestRouteShape(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	self := v3Base + "/v3/routes/" + routesHost
	dest := func(guid, app, typ, weight, port, created, updated string) string {
		return `{"guid":"` + guid + `","app":{"guid":"` + app + `","process":{"type":"` + typ + `"}},"weight":` + weight +
			`,"port":` + port + `,"protocol":"http1","created_at":"` + created + `","updated_at":"` + updated + `"}`
	}
	destinations := `[` + dest(routesDestWorker, w.sidekick, "worker", "5", "9000", "2025-07-01T09:00:20Z", "2025-07-01T09:00:20Z") + `,` +
		dest(routesDestWeb, w.app, "web", "null", "8080", "2025-07-01T09:00:30Z", "2025-07-01T09:00:31Z") + `]`
	want := `{"guid":"` + routesHost + `","created_at":"2025-07-01T09:00:10Z","updated_at":"2025-07-01T09:00:11Z",` +
		`"protocol":"http","host":"myapp","path":"","port":null,"url":"myapp.apps.capibridge.local",` +
		`"destinations":` + destinations + `,"metadata":{"labels":{},"annotations":{}},` +
		`"relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}},"domain":{"data":{"guid":"` + SharedDomainGUID + `"}}},` +
		`"links":{"self":{"href":"` + self + `"},"space":{"href":"` + v3Base + `/v3/spaces/` + DemoSpaceGUID + `"},` +
		`"destinations":{"href":"` + self + `/destinations"},"domain":{"href":"` + v3Base + `/v3/domains/` + SharedDomainGUID + `"}}}`
	c := w.c
	if got := string(c.must(200, "GET", "/v3/routes/"+routesHost, "auditor", nil).body); got != want {
		t.Errorf("route\n got %s\nwant %s", got, want)
	}
	wantDests := `{"destinations":` + destinations + `,"links":{"self":{"href":"` + self + `/destinations"},"route":{"href":"` + self + `"}}}`
	if got := string(c.must(200, "GET", "/v3/routes/"+routesHost+"/destinations", "developer", nil).body); got != wantDests {
		t.Errorf("destinations\n got %s\nwant %s", got, wantDests)
	}
	urls := []struct{ guid, url, port string }{
		{routesBare, "apps.capibridge.local/api", "null"},
		{routesTCP, "apps.capibridge.local:61000", "61000"},
	}
	for _, u := range urls {
		body := c.must(200, "GET", "/v3/routes/"+u.guid, "developer", nil).body
		if got := rawAt(t, body, "url"); got != `"`+u.url+`"` {
			t.Errorf("%s: url %s, want %q", u.guid, got, u.url)
		}
		if got := rawAt(t, body, "port"); got != u.port {
			t.Errorf("%s: port %s, want %s", u.guid, got, u.port)
		}
		if got := rawAt(t, body, "destinations"); got != "[]" {
			t.Errorf("%s: destinations %s, want []", u.guid, got)
		}
	}
}

func TestRouteListsAndFilters(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	cases := []struct {
		name, path, user string
		want             []string
	}{
		{"admin", "/v3/routes", "admin", []string{routesHost, routesBare, routesTCP, routesOther}},
		{"developer", "/v3/routes", "developer", []string{routesHost, routesBare, routesTCP}},
		{"auditor", "/v3/routes", "auditor", []string{routesHost, routesBare, routesTCP}},
		{"outsider", "/v3/routes", "outsider", []string{}},
		{"app_guids", "/v3/routes?app_guids=" + w.sidekick, "admin", []string{routesHost}},
		{"app_guids of two", "/v3/routes?app_guids=" + w.otherApp + "," + w.app, "admin", []string{routesHost, routesOther}},
		{"app_guids not visible", "/v3/routes?app_guids=" + w.otherApp, "developer", []string{}},
		{"space_guids", "/v3/routes?space_guids=" + otherSpaceGUID, "admin", []string{routesOther}},
		{"organization_guids", "/v3/routes?organization_guids=" + DemoOrgGUID, "admin", []string{routesHost, routesBare, routesTCP}},
		{"domain_guids", "/v3/routes?domain_guids=" + routesPrivateDomain, "admin", []string{routesOther}},
		{"hosts", "/v3/routes?hosts=myapp,o", "admin", []string{routesHost, routesOther}},
		// CC reads an empty hosts as [""]: the routes without a host.
		{"empty hosts", "/v3/routes?hosts=", "admin", []string{routesBare, routesTCP}},
		{"paths", "/v3/routes?paths=/api", "admin", []string{routesBare}},
		{"ports", "/v3/routes?ports=61000", "admin", []string{routesTCP}},
		{"newest first", "/v3/routes?order_by=-created_at", "admin", []string{routesOther, routesTCP, routesBare, routesHost}},
		{"app routes", "/v3/apps/" + w.app + "/routes", "developer", []string{routesHost}},
		{"app routes of the sidekick", "/v3/apps/" + w.sidekick + "/routes", "auditor", []string{routesHost}},
		{"app routes and another app", "/v3/apps/" + w.app + "/routes?app_guids=" + w.sidekick, "admin", []string{}},
		{"app routes by host", "/v3/apps/" + w.app + "/routes?hosts=nope", "admin", []string{}},
		{"other app routes", "/v3/apps/" + w.otherApp + "/routes", "admin", []string{routesOther}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := w.c.forTest(t).listPage(tc.user, tc.path)
			if got := guidsOf(b.Resources); !slices.Equal(got, tc.want) || b.Pagination.TotalResults != len(tc.want) {
				t.Errorf("got %v (total %d), want %v", got, b.Pagination.TotalResults, tc.want)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		b := w.c.forTest(t).listPage("developer", "/v3/routes?per_page=2&page=2")
		if got := guidsOf(b.Resources); !slices.Equal(got, []string{routesTCP}) || b.Pagination.TotalPages != 2 ||
			hrefOf(b.Pagination.Previous) != v3Base+"/v3/routes?page=1&per_page=2" || b.Pagination.Next != nil {
			t.Errorf("page 2: %v, pagination %+v", got, b.Pagination)
		}
	})
	t.Run("include", func(t *testing.T) {
		t.Parallel()
		c := w.c.forTest(t)
		body := c.must(200, "GET", "/v3/routes?include=domain,space.organization", "admin", nil).body
		if got := keysAt(t, body, "included"); !slices.Equal(got, []string{"domains", "spaces", "organizations"}) {
			t.Errorf("included keys %v", got)
		}
		var inc struct {
			Included struct{ Domains, Spaces, Organizations []listItem }
		}
		if err := json.Unmarshal(body, &inc); err != nil {
			t.Fatal(err)
		}
		if got := guidsOf(inc.Included.Domains); !slices.Equal(got, []string{SharedDomainGUID, routesPrivateDomain}) {
			t.Errorf("included domains %v", got)
		}
		if got := guidsOf(inc.Included.Spaces); !slices.Equal(sortedCopy(got), sortedCopy([]string{DemoSpaceGUID, otherSpaceGUID})) {
			t.Errorf("included spaces %v", got)
		}
		if got := guidsOf(inc.Included.Organizations); !slices.Equal(sortedCopy(got), sortedCopy([]string{DemoOrgGUID, otherOrgGUID})) {
			t.Errorf("included organizations %v", got)
		}
		if got := keysAt(t, c.must(200, "GET", "/v3/apps/"+w.app+"/routes?include=domain", "developer", nil).body, "included"); !slices.Equal(got, []string{"domains"}) {
			t.Errorf("include=domain gives %v", got)
		}
		wantBadQuery(t, c.do("GET", "/v3/routes?include=apps", "admin", nil),
			"The query parameter is invalid: Invalid included resource: 'apps'. Valid included resources are: 'domain', 'space', 'space.organization'")
		if !strings.HasPrefix(string(c.do("GET", "/v3/routes?names=x", "admin", nil).body), `{"errors":[{"detail":"The query parameter is invalid: Unknown query parameter(s): 'names'`) {
			t.Errorf("names is no route filter")
		}
	})
}

func TestRouteVisibility(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	for _, user := range roleUsers {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			c := w.c.forTest(t)
			for _, guid := range []string{routesHost, routesOther} {
				visible := user == "admin" || guid == routesHost && user != "outsider"
				for _, suffix := range []string{"", "/destinations"} {
					r := c.do("GET", "/v3/routes/"+guid+suffix, user, nil)
					if visible {
						roleOK(200).assert(t, r)
					} else {
						roleNotFound("Route").assert(t, r)
					}
				}
			}
			r := c.do("GET", "/v3/apps/"+w.app+"/routes", user, nil)
			if user == "outsider" {
				roleNotFound("App").assert(t, r)
			} else {
				roleOK(200, roleTotal(1)).assert(t, r)
			}
		})
	}
}

func TestRouteDestinationsFilters(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	cases := []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{routesDestWorker, routesDestWeb}},
		{"app_guids", "?app_guids=" + w.app, []string{routesDestWeb}},
		{"guids", "?guids=" + routesDestWorker + "," + routesDestOther, []string{routesDestWorker}},
		{"no match", "?app_guids=" + w.otherApp, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b struct{ Destinations []listItem }
			w.c.forTest(t).must(200, "GET", "/v3/routes/"+routesHost+"/destinations"+tc.query, "developer", nil).json(t, &b)
			if got := guidsOf(b.Destinations); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	wantBadQuery(t, w.c.do("GET", "/v3/routes/"+routesHost+"/destinations?page=2", "developer", nil), "")
}

// TestServiceCredentialBindings: the list the gateway reads for an app's
// bindings (MAPPING §1.3) answers an empty page, until a binding exists.
func TestServiceCredentialBindings(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	path := "/v3/service_credential_bindings?app_guids=" + w.app + "&type=app"
	page := v3Base + "/v3/service_credential_bindings?app_guids=" + w.app + "&page=1&per_page=50&type=app"
	empty := `{"pagination":{"total_results":0,"total_pages":1,"first":{"href":"` + page + `"},"last":{"href":"` + page + `"},` +
		`"next":null,"previous":null},"resources":[]}`
	if got := string(c.must(200, "GET", path, "developer", nil).body); got != empty {
		t.Errorf("empty list\n got %s\nwant %s", got, empty)
	}
	if got := rawAt(t, c.must(200, "GET", path+"&include=service_instance", "developer", nil).body, "included"); got != `{"service_instances":[]}` {
		t.Errorf("include=service_instance: included %s", got)
	}

	ctx, st := context.Background(), c.srv.Store()
	name := "db-binding"
	for _, b := range []store.ServiceCredentialBinding{
		{GUID: "b1a00000-0000-4000-8000-000000000001", Type: "app", Name: &name, AppGUID: &w.app, ServiceInstanceGUID: "5e1a0000-0000-4000-8000-000000000001",
			SpaceGUID: DemoSpaceGUID, CreatedAt: routesAt(40), UpdatedAt: routesAt(41)},
		{GUID: "b1a00000-0000-4000-8000-0000000000f1", Type: "app", AppGUID: &w.otherApp, ServiceInstanceGUID: "5e1a0000-0000-4000-8000-0000000000f1",
			SpaceGUID: otherSpaceGUID, CreatedAt: routesAt(42), UpdatedAt: routesAt(42)},
		{GUID: "b1a00000-0000-4000-8000-000000000002", Type: "key", ServiceInstanceGUID: "5e1a0000-0000-4000-8000-000000000001",
			SpaceGUID: DemoSpaceGUID, CreatedAt: routesAt(43), UpdatedAt: routesAt(43)},
	} {
		if err := st.CreateServiceCredentialBinding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, path, user string
		want             []string
	}{
		{"admin", "/v3/service_credential_bindings", "admin", []string{"b1a00000-0000-4000-8000-000000000001", "b1a00000-0000-4000-8000-0000000000f1", "b1a00000-0000-4000-8000-000000000002"}},
		{"developer", "/v3/service_credential_bindings", "developer", []string{"b1a00000-0000-4000-8000-000000000001", "b1a00000-0000-4000-8000-000000000002"}},
		{"outsider", "/v3/service_credential_bindings", "outsider", []string{}},
		{"app and type", path, "auditor", []string{"b1a00000-0000-4000-8000-000000000001"}},
		{"keys", "/v3/service_credential_bindings?type=key", "admin", []string{"b1a00000-0000-4000-8000-000000000002"}},
		{"app_names", "/v3/service_credential_bindings?app_names=elsewhere", "admin", []string{"b1a00000-0000-4000-8000-0000000000f1"}},
		{"names", "/v3/service_credential_bindings?names=db-binding", "admin", []string{"b1a00000-0000-4000-8000-000000000001"}},
		{"service_instance_guids", "/v3/service_credential_bindings?service_instance_guids=5e1a0000-0000-4000-8000-000000000001&order_by=-created_at",
			"admin", []string{"b1a00000-0000-4000-8000-000000000002", "b1a00000-0000-4000-8000-000000000001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := guidsOf(c.forTest(t).listPage(tc.user, tc.path).Resources); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("shape", func(t *testing.T) {
		t.Parallel()
		c := c.forTest(t)
		self := v3Base + "/v3/service_credential_bindings/b1a00000-0000-4000-8000-000000000001"
		want := `{"guid":"b1a00000-0000-4000-8000-000000000001","created_at":"2025-07-01T09:00:40Z","updated_at":"2025-07-01T09:00:41Z",` +
			`"name":"db-binding","type":"app","last_operation":{"type":"create","state":"succeeded","description":"",` +
			`"created_at":"2025-07-01T09:00:40Z","updated_at":"2025-07-01T09:00:41Z"},"metadata":{"labels":{},"annotations":{}},` +
			`"relationships":{"service_instance":{"data":{"guid":"5e1a0000-0000-4000-8000-000000000001"}},"app":{"data":{"guid":"` + w.app + `"}}},` +
			`"links":{"self":{"href":"` + self + `"},"details":{"href":"` + self + `/details"},` +
			`"service_instance":{"href":"` + v3Base + `/v3/service_instances/5e1a0000-0000-4000-8000-000000000001"},` +
			`"parameters":{"href":"` + self + `/parameters"},"app":{"href":"` + v3Base + `/v3/apps/` + w.app + `"}}}`
		if got := string(c.must(200, "GET", "/v3/service_credential_bindings/b1a00000-0000-4000-8000-000000000001", "auditor", nil).body); got != want {
			t.Errorf("binding\n got %s\nwant %s", got, want)
		}
		key := c.must(200, "GET", "/v3/service_credential_bindings/b1a00000-0000-4000-8000-000000000002", "developer", nil).body
		if got := keysAt(t, key, "relationships"); !slices.Equal(got, []string{"service_instance"}) {
			t.Errorf("a key's relationships %v", got)
		}
		if got := rawAt(t, key, "name"); got != "null" {
			t.Errorf("an unnamed key's name %s", got)
		}
		roleNotFound("Service credential binding").assert(t, c.do("GET", "/v3/service_credential_bindings/b1a00000-0000-4000-8000-0000000000f1", "developer", nil))
	})
	t.Run("include app", func(t *testing.T) {
		t.Parallel()
		var b struct {
			Included struct{ Apps []listItem }
		}
		w.c.forTest(t).must(200, "GET", path+"&include=app", "developer", nil).json(t, &b)
		if got := guidsOf(b.Included.Apps); !slices.Equal(got, []string{w.app}) {
			t.Errorf("included apps %v", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		c := w.c.forTest(t)
		const prefix = "The query parameter is invalid: "
		wantBadQuery(t, c.do("GET", "/v3/service_credential_bindings?type=service", "admin", nil), prefix+"Type must be one of 'app', 'key'")
		wantBadQuery(t, c.do("GET", "/v3/service_credential_bindings?include=route", "admin", nil),
			prefix+"Invalid included resource: 'route'. Valid included resources are: 'app', 'service_instance'")
		wantBadQuery(t, c.do("GET", "/v3/service_credential_bindings?order_by=type", "admin", nil), prefix+"Order by can only be: 'created_at', 'updated_at', 'name'")
	})
}
