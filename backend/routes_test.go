package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
			"The query parameter is invalid: Invalid included resource: 'apps'. Valid included resources are: 'domain', 'space', 'space.organization', 'route_policies'")
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
	// RoutesController#index_destinations answers a bad query with 422
	// (TestRouteDestinationsQuery has the rest).
	wantV3Error(t, w.c.do("GET", "/v3/routes/"+routesHost+"/destinations?page=2", "developer", nil), 422, 10008, "CF-UnprocessableEntity",
		"Unknown query parameter(s): 'page'. Valid parameters are: 'guids', 'app_guids'")
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

// routeBody is a POST /v3/routes body.
func routeBody(host, path, space, domain string) map[string]any {
	b := map[string]any{"relationships": map[string]any{
		"space": map[string]any{"data": map[string]string{"guid": space}}, "domain": map[string]any{"data": map[string]string{"guid": domain}}}}
	if host != "" {
		b["host"] = host
	}
	if path != "" {
		b["path"] = path
	}
	return b
}

// destinations is a destinations body: app guids, each optionally
// followed by ":process" and "@weight" (app:worker@60).
func destinations(apps ...string) map[string]any {
	list := []map[string]any{}
	for _, a := range apps {
		d := map[string]any{}
		if guid, w, ok := strings.Cut(a, "@"); ok {
			n, _ := strconv.Atoi(w)
			d["weight"], a = n, guid
		}
		app := map[string]any{}
		if guid, proc, ok := strings.Cut(a, ":"); ok {
			app["process"], a = map[string]string{"type": proc}, guid
		}
		app["guid"] = a
		d["app"] = app
		list = append(list, d)
	}
	return map[string]any{"destinations": list}
}

// destinationsOf reads a destinations list as "app:process:port[@weight]".
func destinationsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Destinations []struct {
			GUID string
			App  struct {
				GUID    string
				Process struct{ Type string }
			}
			Port     int64
			Weight   *int64
			Protocol string
		}
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, d := range b.Destinations {
		s := d.App.GUID + ":" + d.App.Process.Type + ":" + strconv.FormatInt(d.Port, 10)
		if d.Weight != nil {
			s += "@" + strconv.FormatInt(*d.Weight, 10)
		}
		if d.Protocol != "http1" {
			s += "/" + d.Protocol
		}
		out = append(out, s)
	}
	return out
}

// TestRouteWrites walks a route's life: create, duplicates, destinations
// inserted, replaced and removed, lists by app, delete.
func TestRouteWrites(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	var rt struct{ GUID string }
	r := c.must(201, "POST", "/v3/routes", "developer", routeBody("shop", "", DemoSpaceGUID, SharedDomainGUID))
	r.json(t, &rt)
	self := v3Base + "/v3/routes/" + rt.GUID
	want := `{"guid":"` + rt.GUID + `","created_at":"2025-07-01T09:00:00Z","updated_at":"2025-07-01T09:00:00Z","protocol":"http",` +
		`"host":"shop","path":"","port":null,"url":"shop.apps.capibridge.local","destinations":[],"metadata":{"labels":{},"annotations":{}},` +
		`"relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}},"domain":{"data":{"guid":"` + SharedDomainGUID + `"}}},` +
		`"links":{"self":{"href":"` + self + `"},"space":{"href":"` + v3Base + `/v3/spaces/` + DemoSpaceGUID + `"},` +
		`"destinations":{"href":"` + self + `/destinations"},"domain":{"href":"` + v3Base + `/v3/domains/` + SharedDomainGUID + `"}}}`
	if string(r.body) != want {
		t.Errorf("created\n got %s\nwant %s", r.body, want)
	}
	if got := string(c.must(200, "GET", "/v3/routes/"+rt.GUID, "auditor", nil).body); got != want {
		t.Errorf("read back\n got %s\nwant %s", got, want)
	}
	wantV3Error(t, c.do("POST", "/v3/routes", "developer", routeBody("SHOP", "", DemoSpaceGUID, SharedDomainGUID)), 422, 10008,
		"CF-UnprocessableEntity", "Route already exists with host 'SHOP' for domain 'apps.capibridge.local'.")
	c.must(201, "POST", "/v3/routes", "developer", routeBody("shop", "/api", DemoSpaceGUID, SharedDomainGUID))
	wantV3Error(t, c.do("POST", "/v3/routes", "admin", routeBody("shop", "/api", DemoSpaceGUID, SharedDomainGUID)), 422, 10008,
		"CF-UnprocessableEntity", "Route already exists with host 'shop' and path '/api' for domain 'apps.capibridge.local'.")

	dests := "/v3/routes/" + rt.GUID + "/destinations"
	steps := []struct {
		name, method string
		body         any
		want         []string
	}{
		{"insert", "POST", destinations(w.app), []string{w.app + ":web:8080"}},
		{"insert the same again", "POST", destinations(w.app), []string{w.app + ":web:8080"}},
		{"insert another process", "POST", map[string]any{"destinations": []map[string]any{{"app": map[string]any{"guid": w.sidekick,
			"process": map[string]string{"type": "worker"}}, "port": 9090, "protocol": "http2"}}},
			[]string{w.app + ":web:8080", w.sidekick + ":worker:9090/http2"}},
		{"replace with weights", "PATCH", destinations(w.app+"@60", w.sidekick+":worker@40"),
			[]string{w.app + ":web:8080@60", w.sidekick + ":worker:8080@40"}},
		{"replace", "PATCH", destinations(w.app), []string{w.app + ":web:8080"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := c.forTest(t).must(200, st.method, dests, "developer", st.body)
			// Destinations made at one instant come in guid order: compare sets.
			if got := destinationsOf(t, r.body); !slices.Equal(sortedCopy(got), sortedCopy(st.want)) {
				t.Errorf("destinations %v, want %v", got, st.want)
			}
			if got := rawAt(t, r.body, "links"); got != `{"self":{"href":"`+self+`/destinations"},"route":{"href":"`+self+`"}}` {
				t.Errorf("links %s", got)
			}
		})
	}
	if got := guidsOf(c.listPage("developer", "/v3/routes?app_guids="+w.app+"&hosts=shop").Resources); !slices.Equal(got, []string{rt.GUID}) {
		t.Errorf("routes of the app %v", got)
	}
	if got := guidsOf(c.listPage("auditor", "/v3/apps/"+w.app+"/routes?hosts=shop").Resources); !slices.Equal(got, []string{rt.GUID}) {
		t.Errorf("app routes %v", got)
	}
	var d struct{ Destinations []struct{ GUID string } }
	c.must(200, "GET", dests, "developer", nil).json(t, &d)
	unmap := `{"errors":[{"detail":"Unable to unmap route from destination. Ensure the route has a destination with this guid.","title":"CF-UnprocessableEntity","code":10008}]}`
	if r := c.do("DELETE", dests+"/"+routesDestWeb, "developer", nil); r.status != 422 || string(r.body) != unmap {
		t.Errorf("a destination of another route: %d %s", r.status, r.body)
	}
	c.must(204, "DELETE", dests+"/"+d.Destinations[0].GUID, "developer", nil)
	if got := guidsOf(c.listPage("developer", "/v3/routes?app_guids="+w.app+"&hosts=shop").Resources); len(got) != 0 {
		t.Errorf("routes of the app after the unmap %v", got)
	}
	events := func(typ, target string) int {
		return c.listPage("admin", "/v3/audit_events?types="+typ+"&target_guids="+target).Pagination.TotalResults
	}
	for _, ev := range []struct {
		typ, target string
		n           int
	}{
		{"audit.route.create", rt.GUID, 1},
		// insert, insert weighted (replace), insert unweighted (replace)
		{"audit.app.map-route", w.app, 3},
		{"audit.app.map-route", w.sidekick, 2},
		{"audit.app.unmap-route", w.app, 3},
		{"audit.app.unmap-route", w.sidekick, 2},
	} {
		if n := events(ev.typ, ev.target); n != ev.n {
			t.Errorf("%d %s events about %s, want %d", n, ev.typ, ev.target, ev.n)
		}
	}

	del := c.must(202, "DELETE", "/v3/routes/"+rt.GUID, "developer", nil)
	if state := c.waitJob(del.header["Location"], "developer"); state != store.JobComplete {
		t.Errorf("delete job %s", state)
	}
	if got := rawAt(t, c.must(200, "GET", del.header["Location"][len(v3Base):], "developer", nil).body, "operation"); got != `"route.delete"` {
		t.Errorf("job operation %s", got)
	}
	roleNotFound("Route").assert(t, c.do("GET", "/v3/routes/"+rt.GUID, "developer", nil))
	if n := events("audit.route.delete-request", rt.GUID); n != 1 {
		t.Errorf("%d delete-request events", n)
	}
}

func TestRouteWriteErrors(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	ctx := context.Background()
	group := TCPRouterGroupGUID
	if err := c.srv.Store().CreateDomain(ctx, store.Domain{GUID: "d0a10000-0000-4000-8000-0000000000c1", Name: "tcp.example.org",
		RouterGroupGUID: &group, Protocols: []string{"tcp"}, CreatedAt: routesAt(3), UpdatedAt: routesAt(3)}); err != nil {
		t.Fatal(err)
	}
	const tcp = "d0a10000-0000-4000-8000-0000000000c1"
	weighted := c.must(201, "POST", "/v3/routes", "developer", routeBody("weighted", "", DemoSpaceGUID, SharedDomainGUID)).body
	var wr struct{ GUID string }
	if err := json.Unmarshal(weighted, &wr); err != nil {
		t.Fatal(err)
	}
	var wd struct{ Destinations []struct{ GUID string } }
	c.must(200, "PATCH", "/v3/routes/"+wr.GUID+"/destinations", "developer", destinations(w.app+"@50", w.sidekick+"@50")).json(t, &wd)
	with := func(b map[string]any, k string, v any) map[string]any { b[k] = v; return b }
	cases := []struct {
		name, method, path string
		body               any
		status             int
		detail             string
	}{
		{"no host on a shared domain", "POST", "/v3/routes", routeBody("", "", DemoSpaceGUID, SharedDomainGUID), 422,
			"Missing host. Routes in shared domains must have a host defined."},
		{"port on an http domain", "POST", "/v3/routes", with(routeBody("p", "", DemoSpaceGUID, SharedDomainGUID), "port", 8080), 422,
			"Routes with protocol 'http' do not support ports."},
		{"bad host", "POST", "/v3/routes", routeBody("a.b", "", DemoSpaceGUID, SharedDomainGUID), 422,
			`Host must be either "*" or contain only alphanumeric characters, "_", or "-"`},
		{"path without a slash", "POST", "/v3/routes", routeBody("h", "api", DemoSpaceGUID, SharedDomainGUID), 422, "Path must begin with /"},
		{"path of a slash", "POST", "/v3/routes", routeBody("h", "/", DemoSpaceGUID, SharedDomainGUID), 422, "Path cannot be exactly /"},
		{"path with a question mark", "POST", "/v3/routes", routeBody("h", "/a?b", DemoSpaceGUID, SharedDomainGUID), 422, "Path cannot contain ?"},
		{"unknown space", "POST", "/v3/routes", routeBody("h", "", roleMissingGUID, SharedDomainGUID), 422,
			"Invalid space. Ensure that the space exists and you have access to it."},
		{"unknown domain", "POST", "/v3/routes", routeBody("h", "", DemoSpaceGUID, roleMissingGUID), 422,
			"Invalid domain. Ensure that the domain exists and you have access to it."},
		{"private domain of another org", "POST", "/v3/routes", routeBody("h", "", DemoSpaceGUID, routesPrivateDomain), 422,
			"Invalid domain. Domain 'private.example.org' is not available in organization 'demo-org'."},
		{"wildcard on a shared domain", "POST", "/v3/routes", routeBody("*", "", DemoSpaceGUID, SharedDomainGUID), 422,
			"You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization."},
		{"no relationships", "POST", "/v3/routes", map[string]any{"host": "h"}, 422, "Relationships can't be blank"},
		{"unknown field", "POST", "/v3/routes", with(routeBody("h", "", DemoSpaceGUID, SharedDomainGUID), "weight", 1), 422, "Unknown field(s): 'weight'"},
		{"host on a tcp domain", "POST", "/v3/routes", routeBody("h", "", DemoSpaceGUID, tcp), 422, "Hosts are not supported for TCP routes."},
		{"taken port", "POST", "/v3/routes", with(routeBody("", "", DemoSpaceGUID, tcp), "port", 1024), 422,
			"Route already exists with port '1024' for domain 'tcp.example.org'."},
		{"no destinations", "POST", "/v3/routes/" + routesHost + "/destinations", map[string]any{"destinations": []any{}}, 422,
			"Destinations must be an array containing between 1 and 100 destination objects."},
		{"no app", "POST", "/v3/routes/" + routesHost + "/destinations", map[string]any{"destinations": []any{map[string]any{"port": 8080}}}, 422,
			`Destinations[0]: must have an "app".`},
		{"weight on insert", "POST", "/v3/routes/" + routesHost + "/destinations", destinations(w.app + "@100"), 422,
			"Destinations[0]: weighted destinations can only be used when replacing all destinations."},
		{"weights not summing to 100", "PATCH", "/v3/routes/" + routesHost + "/destinations", destinations(w.app+"@10", w.sidekick+"@20"), 422,
			"Destinations must have weights that sum to 100."},
		{"low port", "POST", "/v3/routes/" + routesHost + "/destinations",
			map[string]any{"destinations": []any{map[string]any{"app": map[string]string{"guid": w.app}, "port": 80}}}, 422,
			"Destinations[0]: port must be a positive integer between 1024 and 65535 inclusive."},
		{"missing app", "POST", "/v3/routes/" + routesHost + "/destinations", destinations(roleMissingGUID), 422,
			`App(s) with guid(s) "` + roleMissingGUID + `" do not exist.`},
		{"app in another space", "POST", "/v3/routes/" + routesHost + "/destinations", destinations(w.otherApp), 422,
			`App(s) with guid(s) "` + w.otherApp + `" you do not have access.`},
		{"duplicates", "POST", "/v3/routes/" + routesHost + "/destinations", destinations(w.app, w.app), 422,
			"Destinations cannot contain duplicate entries"},
		{"insert next to weighted", "POST", "/v3/routes/" + wr.GUID + "/destinations", destinations(w.app + ":worker"), 422,
			"Destinations cannot be inserted when there are weighted destinations already configured."},
		{"remove a weighted one", "DELETE", "/v3/routes/" + wr.GUID + "/destinations/" + wd.Destinations[0].GUID, nil, 422,
			"Weighted destinations cannot be deleted individually."},
		{"missing route", "DELETE", "/v3/routes/" + roleMissingGUID, nil, 404, "Route not found"},
		{"route of another org", "POST", "/v3/routes/" + routesOther + "/destinations", destinations(w.app), 404, "Route not found"},
	}
	// A tcp route on a port of its router group (routes_tcp_test.go has
	// the rest of the port rules).
	r := c.must(201, "POST", "/v3/routes", "developer", with(routeBody("", "", DemoSpaceGUID, tcp), "port", 1024))
	if got := rawAt(t, r.body, "port"); got != "1024" {
		t.Errorf("tcp port %s, want 1024", got)
	}
	if got := rawAt(t, r.body, "url"); got != `"tcp.example.org:1024"` {
		t.Errorf("tcp url %s", got)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.forTest(t).do(tc.method, tc.path, "developer", tc.body)
			title, code := "CF-UnprocessableEntity", 10008
			if tc.status == 404 {
				title, code = "CF-ResourceNotFound", 10010
			}
			wantV3Error(t, r, tc.status, code, title, tc.detail)
		})
	}
	// The admin reads every app, so another space is the space check's turn.
	wantV3Error(t, c.do("POST", "/v3/routes/"+routesHost+"/destinations", "admin", destinations(w.otherApp)), 422, 10008,
		"CF-UnprocessableEntity", "Routes destinations must be in either the route's space or the route's shared spaces")
	c.must(201, "POST", "/v3/routes", "admin", routeBody("*", "", DemoSpaceGUID, SharedDomainGUID))
}

// routeRoleRows are the route writes of the role table, run by
// TestRoleRouteWrites on a route of their own ({route}, with a destination
// {dest} to {app}; {app2} is unmapped) in demo-space and in a suspended org.
// CC checks only that the space of a new route exists, so a user without a
// role there gets 403, not 422 (RoutesController#create).
var routeRoleRows = []roleRow{
	{"create route", "POST", "/v3/routes", routeBody("{host}", "", "{space}", SharedDomainGUID),
		rolePer(roleOK(201), roleOK(201), roleNotAuthorized, roleNotAuthorized)},
	{"delete route", "DELETE", "/v3/routes/{route}", nil, rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Route"))},
	{"insert destinations", "POST", "/v3/routes/{route}/destinations", destinations("{app2}"),
		rolePer(roleOK(200), roleOK(200), roleNotAuthorized, roleNotFound("Route"))},
	{"replace destinations", "PATCH", "/v3/routes/{route}/destinations", map[string]any{"destinations": []any{}},
		rolePer(roleOK(200), roleOK(200), roleNotAuthorized, roleNotFound("Route"))},
	{"delete destination", "DELETE", "/v3/routes/{route}/destinations/{dest}", nil,
		rolePer(roleOK(204), roleOK(204), roleNotAuthorized, roleNotFound("Route"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, routeRoleRows...) }

// runFixtureRoles runs rows as every seeded user in demo-space and in a
// suspended org (roleWriteFixture, started with opts). setup makes the objects of one run as
// admin and returns the placeholders; snapshot is what a write may change.
// A refused write must leave the snapshot alone, an accepted one change it;
// reads are not checked for effects, nor turned by the suspension.
func runFixtureRoles(t *testing.T, rows []roleRow, setup func(c *cf, space, name string) map[string]string,
	snapshot func(t *testing.T, c *cf, vals map[string]string) string, opts ...Option) {
	c := roleWriteFixture(t, opts...)
	var seq atomic.Int64
	targets := []struct{ name, space string }{{"demo space", DemoSpaceGUID}, {"suspended org", roleSuspendedSpaceGUID}}
	for _, row := range rows {
		for _, target := range targets {
			for _, user := range roleUsers {
				t.Run(row.name+"/"+target.name+"/"+user, func(t *testing.T) {
					t.Parallel()
					want, ok := row.want[user]
					if !ok {
						t.Fatalf("row has no expectation for %s", user)
					}
					if target.space == roleSuspendedSpaceGUID && row.method != "GET" {
						want = roleSuspended(user, want)
					}
					v := roleView(c, t)
					vals := setup(v, target.space, fmt.Sprintf("role-%d", seq.Add(1)))
					vals["{space}"] = target.space
					var pairs []string
					for k, val := range vals {
						pairs = append(pairs, k, val)
					}
					fill := strings.NewReplacer(pairs...)
					path, body := row.filled(t, fill)
					want.detail = fill.Replace(want.detail)
					before := snapshot(t, c, vals)
					want.assert(t, v.do(row.method, path, user, body))
					if row.method == "GET" {
						return
					}
					if after := snapshot(t, c, vals); (want.status >= 400) != (before == after) {
						t.Errorf("refused=%v but the state went from\n%s\nto\n%s", want.status >= 400, before, after)
					}
				})
			}
		}
	}
}

func TestRoleRouteWrites(t *testing.T) {
	t.Parallel()
	setup := func(c *cf, space, name string) map[string]string {
		c.t.Helper()
		app, app2 := roleAppIn(c, space, name+"-a", false), roleAppIn(c, space, name+"-b", false)
		var rt struct{ GUID string }
		c.must(201, "POST", "/v3/routes", "admin", routeBody(name, "", space, SharedDomainGUID)).json(c.t, &rt)
		var d struct{ Destinations []struct{ GUID string } }
		c.must(200, "POST", "/v3/routes/"+rt.GUID+"/destinations", "admin", destinations(app)).json(c.t, &d)
		return map[string]string{"{route}": rt.GUID, "{dest}": d.Destinations[0].GUID, "{app}": app, "{app2}": app2, "{host}": name + "-new"}
	}
	snapshot := func(t *testing.T, c *cf, vals map[string]string) string {
		ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
		_, created, err := st.ListRoutes(ctx, all, store.RouteFilter{Hosts: []string{vals["{host}"]}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := st.GetRoute(ctx, all, vals["{route}"])
		dests, derr := st.Destinations(ctx, []string{vals["{route}"]}, store.DestinationFilter{})
		if derr != nil {
			t.Fatal(derr)
		}
		return fmt.Sprintf("created %d; route %v %v; destinations %v", created, rt.GUID, err, dests)
	}
	runFixtureRoles(t, routeRoleRows, setup, snapshot)
}
