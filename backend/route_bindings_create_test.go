package backend

import (
	"context"
	"fmt"
	"testing"

	"capibridge/backend/store"
)

// rbBody is a POST /v3/service_route_bindings body.
func rbBody(route, instance string, extra map[string]any) map[string]any {
	b := map[string]any{"relationships": map[string]any{
		"route": map[string]any{"data": map[string]string{"guid": route}}, "service_instance": map[string]any{"data": map[string]string{"guid": instance}}}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// rbRouteService is the route service url of the fixture's instances.
const rbRouteService = "https://logger.example.org"

// rbWorld is the route binding fixture in demo-space: user-provided
// instances with (rs, rs2) and without (plain) a route_service_url, a
// managed one, routes on the shared domain and one on an internal domain,
// and a second space of the org (space2, where the developer develops too)
// with a route service instance of its own (rsOther).
type rbWorld struct {
	c                                *cf
	clk                              *fakeClock
	rs, rs2, plain, managed, rsOther string
	route, route2, route3, internal  string
	space2, otherOrgRS               string
}

func newRBWorld(t *testing.T, opts ...Option) *rbWorld {
	t.Helper()
	w := &rbWorld{clk: &fakeClock{now: servicesT0}}
	c := startCF(t, nil, append([]Option{WithClock(w.clk.Now), WithBrokerDuration(0)}, opts...)...)
	w.c = c
	c.addOtherSpace()
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	w.space2 = "5ace3000-0000-4000-8000-000000000001"
	if err := st.CreateSpace(ctx, store.Space{GUID: w.space2, Name: "space-two", OrgGUID: DemoOrgGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRole(ctx, store.Role{GUID: "rb-role-dev", Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, OrgGUID: DemoOrgGUID,
		SpaceGUID: w.space2}); err != nil {
		t.Fatal(err)
	}
	upsi := func(name, space string, url bool) string {
		extra := map[string]any{}
		if url {
			extra["route_service_url"] = rbRouteService
		}
		var si struct{ GUID string }
		c.must(201, "POST", "/v3/service_instances", "admin", upsiBody(name, space, extra)).json(t, &si)
		return si.GUID
	}
	w.rs, w.rs2, w.plain = upsi("rs", DemoSpaceGUID, true), upsi("rs2", DemoSpaceGUID, true), upsi("plain", DemoSpaceGUID, false)
	w.rsOther, w.otherOrgRS = upsi("rs-other", w.space2, true), upsi("rs-far", otherSpaceGUID, true)
	r := c.must(202, "POST", "/v3/service_instances", "admin", managedBody("db", DemoSpaceGUID, DBSmallPlanGUID, nil))
	c.finish(r, "admin")
	w.managed = c.created(r, "admin")
	route := func(host, domain string) string {
		var rt struct{ GUID string }
		c.must(201, "POST", "/v3/routes", "admin", routeBody(host, "", DemoSpaceGUID, domain)).json(t, &rt)
		return rt.GUID
	}
	w.route, w.route2, w.route3 = route("front", SharedDomainGUID), route("back", SharedDomainGUID), route("side", SharedDomainGUID)
	var d struct{ GUID string }
	c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "apps.internal", "internal": true}).json(t, &d)
	w.internal = route("inside", d.GUID)
	return w
}

// rbGUIDs are the guids of the first page of the list at path.
func rbGUIDs(c *cf, user, path string) []string {
	c.t.Helper()
	var l struct{ Resources []struct{ GUID string } }
	c.must(200, "GET", path, user, nil).json(c.t, &l)
	out := []string{}
	for _, r := range l.Resources {
		out = append(out, r.GUID)
	}
	return out
}

// bind binds route to instance as user and returns the binding's guid.
func (w *rbWorld) bind(t *testing.T, user, route, instance string) string {
	t.Helper()
	var b struct{ GUID string }
	w.c.forTest(t).must(201, "POST", "/v3/service_route_bindings", user, rbBody(route, instance, nil)).json(t, &b)
	return b.GUID
}

// TestServiceRouteBindingCreate binds a route to a user-provided route
// service and reads the binding back as CC presents it.
func TestServiceRouteBindingCreate(t *testing.T) {
	t.Parallel()
	w := newRBWorld(t)
	c := w.c
	r := c.must(201, "POST", "/v3/service_route_bindings", "developer",
		rbBody(w.route, w.rs, map[string]any{"metadata": map[string]any{"labels": map[string]string{"tier": "edge"}}}))
	guid := rawAt(t, r.body, "guid")
	guid = guid[1 : len(guid)-1]
	ts := timestamp(w.clk.Now().Unix())
	want := fmt.Sprintf(`{"guid":%q,"route_service_url":%q,"created_at":%q,"updated_at":%q,`+
		`"last_operation":{"type":"create","state":"succeeded","description":null,"updated_at":%q,"created_at":%q},`+
		`"metadata":{"labels":{"tier":"edge"},"annotations":{}},`+
		`"relationships":{"service_instance":{"data":{"guid":%q}},"route":{"data":{"guid":%q}}},`+
		`"links":{"self":{"href":"%s/v3/service_route_bindings/%s"},"service_instance":{"href":"%s/v3/service_instances/%s"},`+
		`"route":{"href":"%s/v3/routes/%s"}}}`,
		guid, rbRouteService, ts, ts, ts, ts, w.rs, w.route, v3Base, guid, v3Base, w.rs, v3Base, w.route)
	if string(r.body) != want {
		t.Errorf("created\n%s\nwant\n%s", r.body, want)
	}
	if got := string(c.must(200, "GET", "/v3/service_route_bindings/"+guid, "auditor", nil).body); got != want {
		t.Errorf("shown\n%s\nwant\n%s", got, want)
	}
	c.must(404, "GET", "/v3/service_route_bindings/"+guid, "outsider", nil)
	other := w.bind(t, "admin", w.route2, w.rs2)

	lists := []struct {
		name, user, query string
		want              []string
	}{
		{"all", "developer", "", []string{guid, other}},
		{"outsider", "outsider", "", []string{}},
		{"route_guids", "auditor", "?route_guids=" + w.route2, []string{other}},
		{"service_instance_guids", "developer", "?service_instance_guids=" + w.rs + "," + w.plain, []string{guid}},
		{"service_instance_names", "developer", "?service_instance_names=rs2", []string{other}},
		{"guids", "developer", "?guids=" + other, []string{other}},
		{"label_selector", "developer", "?label_selector=tier=edge", []string{guid}},
		{"order_by", "developer", "?order_by=-created_at", []string{other, guid}},
	}
	for _, tc := range lists {
		t.Run("list "+tc.name, func(t *testing.T) {
			t.Parallel()
			if got := rbGUIDs(c.forTest(t), tc.user, "/v3/service_route_bindings"+tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("guids %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("include", func(t *testing.T) {
		t.Parallel()
		cc := c.forTest(t)
		body := cc.must(200, "GET", "/v3/service_route_bindings?route_guids="+w.route+"&include=route,service_instance", "developer", nil).body
		if keys := keysAt(t, body, "included"); fmt.Sprint(keys) != "[service_instances routes]" {
			t.Errorf("included keys %v", keys)
		}
		if got := rawAt(t, body, "included.service_instances.0.guid"); got != `"`+w.rs+`"` {
			t.Errorf("included instance %s", got)
		}
		if got := rawAt(t, body, "included.routes.0.url"); got != `"front.`+SharedDomainName+`"` {
			t.Errorf("included route %s", got)
		}
		body = cc.must(200, "GET", "/v3/service_route_bindings/"+other+"?include=route", "developer", nil).body
		if got := rawAt(t, body, "included.routes.0.guid"); got != `"`+w.route2+`"` {
			t.Errorf("shown included route %s", got)
		}
	})
	t.Run("routes by service instance", func(t *testing.T) {
		t.Parallel()
		if got := rbGUIDs(c.forTest(t), "developer", "/v3/routes?service_instance_guids="+w.rs2); fmt.Sprint(got) != fmt.Sprint([]string{w.route2}) {
			t.Errorf("routes %v", got)
		}
	})
	t.Run("event", func(t *testing.T) {
		t.Parallel()
		body := c.forTest(t).must(200, "GET", "/v3/audit_events?types=audit.service_route_binding.create&target_guids="+guid, "admin", nil).body
		if got := rawAt(t, body, "pagination.total_results"); got != "1" {
			t.Fatalf("events %s", got)
		}
		if got := rawAt(t, body, "resources.0.data.request.relationships.route.data.guid"); got != `"`+w.route+`"` {
			t.Errorf("event request route %s", got)
		}
	})
}

// TestServiceRouteBindingCreateErrors checks CC's refusals, each with its
// text, in the order CC validates.
func TestServiceRouteBindingCreateErrors(t *testing.T) {
	t.Parallel()
	w := newRBWorld(t)
	w.bind(t, "developer", w.route3, w.rs2)
	ok := rbBody(w.route, w.rs, nil)
	cases := []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"unknown field", "developer", map[string]any{"relationships": ok["relationships"], "name": "x"}, roleUnprocessable("Unknown field(s): 'name'")},
		{"no relationships", "developer", map[string]any{}, roleUnprocessable("Relationships 'relationships' is not an object")},
		{"empty relationships", "developer", map[string]any{"relationships": map[string]any{}},
			roleUnprocessable("Relationships 'relationships' must include one or more valid relationships")},
		{"unknown relationship", "developer", map[string]any{"relationships": map[string]any{"app": map[string]any{}}},
			roleUnprocessable("Relationships Unknown field(s): 'app'")},
		{"no route", "developer", map[string]any{"relationships": map[string]any{"service_instance": map[string]any{"data": map[string]string{"guid": w.rs}}}},
			roleUnprocessable(`Relationships Route must be structured like this: "route: {"data": {"guid": "valid-guid"}}"`)},
		{"parameters not an object", "developer", rbBody(w.route, w.rs, map[string]any{"parameters": "x"}), roleUnprocessable("Parameters must be an object")},
		{"missing instance", "developer", rbBody(w.route, roleMissingGUID, nil), roleUnprocessable("The service instance could not be found: " + roleMissingGUID)},
		{"instance of another org", "developer", rbBody(w.route, w.otherOrgRS, nil), roleUnprocessable("The service instance could not be found: " + w.otherOrgRS)},
		{"outsider", "outsider", ok, roleUnprocessable("The service instance could not be found: " + w.rs)},
		{"auditor", "auditor", ok, roleNotAuthorized},
		{"missing route", "developer", rbBody(roleMissingGUID, w.rs, nil), roleUnprocessable("The route could not be found: " + roleMissingGUID)},
		{"parameters", "developer", rbBody(w.route, w.rs, map[string]any{"parameters": map[string]int{"a": 1}}),
			roleUnprocessable("Binding parameters are not supported for user-provided service instances")},
		{"no route service url", "developer", rbBody(w.route, w.plain, nil), roleUnprocessable("This service instance does not support route binding")},
		{"managed", "developer", rbBody(w.route, w.managed, nil), roleUnprocessable("This service instance does not support route binding")},
		{"internal route", "developer", rbBody(w.internal, w.rs, nil), roleUnprocessable("Route services cannot be bound to internal routes")},
		{"different spaces", "developer", rbBody(w.route, w.rsOther, nil), roleUnprocessable("The service instance and the route are in different spaces")},
		{"route bound elsewhere", "developer", rbBody(w.route3, w.rs, nil), roleUnprocessable("A route may only be bound to a single service instance")},
		{"already bound", "developer", rbBody(w.route3, w.rs2, nil), roleWant{status: 422, title: "CF-ServiceInstanceAlreadyBoundToSameRoute",
			code: 130008, detail: "The route and service instance are already bound."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.assert(t, w.c.forTest(t).do("POST", "/v3/service_route_bindings", tc.user, tc.body))
		})
	}
}
