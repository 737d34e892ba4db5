package backend

import (
	"context"
	"testing"

	"capibridge/backend/store"
)

// TestServiceRouteBindingDelete unbinds, reads parameters, and checks that
// a binding goes with its route and with its instance as in CC, and that
// an instance's new route_service_url reaches its bindings.
func TestServiceRouteBindingDelete(t *testing.T) {
	t.Parallel()
	w := newRBWorld(t)
	c := w.c
	count := func(t *testing.T, query string) string {
		t.Helper()
		return rawAt(t, c.forTest(t).must(200, "GET", "/v3/service_route_bindings"+query, "admin", nil).body, "pagination.total_results")
	}
	events := func(t *testing.T, typ, target string) string {
		t.Helper()
		return rawAt(t, c.forTest(t).must(200, "GET", "/v3/audit_events?types="+typ+"&target_guids="+target, "admin", nil).body, "pagination.total_results")
	}

	t.Run("unbind", func(t *testing.T) {
		c := w.c.forTest(t)
		guid := w.bind(t, "developer", w.route, w.rs)
		roleWant{status: 400, title: "CF-BadRequest", code: 1004,
			detail: "Bad request: user provided service instances do not support fetching route bindings parameters."}.
			assert(t, c.do("GET", "/v3/service_route_bindings/"+guid+"/parameters", "developer", nil))
		roleNotAuthorized.assert(t, c.do("GET", "/v3/service_route_bindings/"+guid+"/parameters", "auditor", nil))
		roleNotFound("Service route binding").assert(t, c.do("GET", "/v3/service_route_bindings/"+roleMissingGUID+"/parameters", "developer", nil))
		roleNotAuthorized.assert(t, c.do("DELETE", "/v3/service_route_bindings/"+guid, "auditor", nil))
		roleNotFound("Service route binding").assert(t, c.do("DELETE", "/v3/service_route_bindings/"+guid, "outsider", nil))
		c.must(204, "DELETE", "/v3/service_route_bindings/"+guid, "developer", nil)
		roleNotFound("Service route binding").assert(t, c.do("DELETE", "/v3/service_route_bindings/"+guid, "developer", nil))
		if got := count(t, "?route_guids="+w.route); got != "0" {
			t.Errorf("bindings after the delete: %s", got)
		}
		body := c.must(200, "GET", "/v3/audit_events?types=audit.service_route_binding.delete&target_guids="+guid, "admin", nil).body
		if got := rawAt(t, body, "resources.0.data.request"); got != `{"app_guid":null,"route_guid":"`+w.route+`","service_instance_guid":"`+w.rs+`"}` {
			t.Errorf("delete event request %s", got)
		}
		// The route is free again.
		w.bind(t, "developer", w.route, w.rs2)
	})

	t.Run("instance update", func(t *testing.T) {
		c := w.c.forTest(t)
		guid := w.bind(t, "developer", w.route2, w.rs)
		const moved = "https://logger2.example.org"
		c.must(200, "PATCH", "/v3/service_instances/"+w.rs, "developer", map[string]any{"route_service_url": moved})
		if got := rawAt(t, c.must(200, "GET", "/v3/service_route_bindings/"+guid, "developer", nil).body, "route_service_url"); got != `"`+moved+`"` {
			t.Errorf("route_service_url %s", got)
		}
	})

	t.Run("route delete", func(t *testing.T) {
		c := w.c.forTest(t)
		guid := w.bind(t, "developer", w.route3, w.rs2)
		// Routes with a route service binding are not unmapped routes.
		c.finish(c.must(202, "DELETE", "/v3/spaces/"+DemoSpaceGUID+"/routes?unmapped=true", "developer", nil), "developer")
		c.must(200, "GET", "/v3/routes/"+w.route3, "developer", nil)
		c.finish(c.must(202, "DELETE", "/v3/routes/"+w.route3, "developer", nil), "developer")
		roleNotFound("Service route binding").assert(t, c.do("GET", "/v3/service_route_bindings/"+guid, "developer", nil))
	})

	t.Run("instance delete", func(t *testing.T) {
		c := w.c.forTest(t)
		if got := count(t, "?service_instance_guids="+w.rs2); got != "1" {
			t.Fatalf("bindings of rs2 before: %s", got)
		}
		bindings := rbGUIDs(c, "admin", "/v3/service_route_bindings?service_instance_guids="+w.rs2)
		c.must(204, "DELETE", "/v3/service_instances/"+w.rs2, "developer", nil)
		if got := count(t, "?service_instance_guids="+w.rs2); got != "0" {
			t.Errorf("bindings of rs2 after: %s", got)
		}
		if got := events(t, "audit.service_route_binding.delete", bindings[0]); got != "1" {
			t.Errorf("delete events %s", got)
		}
	})

	t.Run("instance purge", func(t *testing.T) {
		c := w.c.forTest(t)
		guid := rbGUIDs(c, "admin", "/v3/service_route_bindings?service_instance_guids="+w.rs)[0]
		c.must(204, "DELETE", "/v3/service_instances/"+w.rs+"?purge=true", "developer", nil)
		roleNotFound("Service route binding").assert(t, c.do("GET", "/v3/service_route_bindings/"+guid, "admin", nil))
		if got := events(t, "audit.service_route_binding.delete", guid); got != "1" {
			t.Errorf("delete events %s", got)
		}
	})
}

// TestServiceRouteBindingsSurviveRestart binds on one start and reads and
// unbinds on the next, on the same data dir.
func TestServiceRouteBindingsSurviveRestart(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	first := startCF(t, &cfg)
	var si, rt struct{ GUID string }
	first.must(201, "POST", "/v3/service_instances", "developer",
		upsiBody("rs", DemoSpaceGUID, map[string]any{"route_service_url": rbRouteService})).json(t, &si)
	first.must(201, "POST", "/v3/routes", "developer", routeBody("kept", "", DemoSpaceGUID, SharedDomainGUID)).json(t, &rt)
	var b struct{ GUID string }
	first.must(201, "POST", "/v3/service_route_bindings", "developer", rbBody(rt.GUID, si.GUID, nil)).json(t, &b)
	tokens := first.tokens
	first.stop()

	second := startCF(t, &cfg)
	second.withTokens(tokens)
	body := second.must(200, "GET", "/v3/service_route_bindings/"+b.GUID, "developer", nil).body
	if got := rawAt(t, body, "route_service_url"); got != `"`+rbRouteService+`"` {
		t.Errorf("route_service_url %s", got)
	}
	bindings, _, err := second.srv.Store().ListRouteBindings(context.Background(), store.Viewer{All: true},
		store.RouteBindingFilter{RouteGUIDs: []string{rt.GUID}}, store.Page{Page: 1, PerPage: 10})
	if err != nil || len(bindings) != 1 {
		t.Fatalf("stored bindings %v, %v", bindings, err)
	}
	second.must(204, "DELETE", "/v3/service_route_bindings/"+b.GUID, "developer", nil)
}
