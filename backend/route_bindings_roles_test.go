package backend

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// The role rows of service route bindings. They run on a fixture of their
// own ({upsi}, a user-provided route service; {route} bound to it by {rb};
// {route2} unbound), in demo-space and in a space of a suspended org.
// Binding and unbinding need a space developer (can_bind_in_active_space?);
// the auditor sees and is refused (403); the outsider does not see: the
// create looks the instance up first, 422, the delete 404.
var rbRoleWrites = []roleRow{
	{"create service route binding", "POST", "/v3/service_route_bindings", rbBody("{route2}", "{upsi}", nil),
		rolePer(roleOK(201), roleOK(201), roleNotAuthorized, roleUnprocessable("The service instance could not be found: {upsi}"))},
	{"delete service route binding", "DELETE", "/v3/service_route_bindings/{rb}", nil,
		rolePer(roleOK(204), roleOK(204), roleNotAuthorized, roleNotFound("Service route binding"))},
}

// rbParamsUPSI is the parameters answer for a user-provided instance's binding.
var rbParamsUPSI = roleWant{status: 400, title: "CF-BadRequest", code: 1004,
	detail: "Bad request: user provided service instances do not support fetching route bindings parameters."}

// rbRoleReads are the reads, with what each user gets in demo-space and in
// the suspended org: readers of the space see the binding; parameters are
// for writers of an active space (ServiceRouteBindingsController#parameters:
// unauthorized!, then require_writable_space!).
var rbRoleReads = []struct {
	roleRow
	suspended map[string]roleWant
}{
	{roleRow{"list service route bindings", "GET", "/v3/service_route_bindings?route_guids={route}&include=route,service_instance", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))}, nil},
	{roleRow{"show service route binding", "GET", "/v3/service_route_bindings/{rb}?include=route", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Service route binding"))}, nil},
	{roleRow{"service route binding parameters", "GET", "/v3/service_route_bindings/{rb}/parameters", nil,
		rolePer(rbParamsUPSI, rbParamsUPSI, roleNotAuthorized, roleNotFound("Service route binding"))},
		rolePer(rbParamsUPSI, roleOrgSuspended, roleNotAuthorized, roleNotFound("Service route binding"))},
}

func init() {
	roleFixtureRows = append(roleFixtureRows, rbRoleWrites...)
	for _, r := range rbRoleReads {
		roleFixtureRows = append(roleFixtureRows, r.roleRow)
	}
}

// rbRoleSetup makes the fixture of the route binding rows in space.
func rbRoleSetup(c *cf, space, name string) map[string]string {
	c.t.Helper()
	var si, rt, rt2, rb struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "admin", upsiBody(name+"-rs", space, map[string]any{"route_service_url": rbRouteService})).json(c.t, &si)
	c.must(201, "POST", "/v3/routes", "admin", routeBody(name, "", space, SharedDomainGUID)).json(c.t, &rt)
	c.must(201, "POST", "/v3/routes", "admin", routeBody(name+"-two", "", space, SharedDomainGUID)).json(c.t, &rt2)
	c.must(201, "POST", "/v3/service_route_bindings", "admin", rbBody(rt.GUID, si.GUID, nil)).json(c.t, &rb)
	return map[string]string{"{upsi}": si.GUID, "{route}": rt.GUID, "{route2}": rt2.GUID, "{rb}": rb.GUID}
}

func TestRoleServiceRouteBindingWrites(t *testing.T) {
	t.Parallel()
	snapshot := func(t *testing.T, c *cf, vals map[string]string) string {
		bindings, _, err := c.srv.Store().ListRouteBindings(context.Background(), store.Viewer{All: true},
			store.RouteBindingFilter{ServiceInstanceGUIDs: []string{vals["{upsi}"]}}, store.Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, b := range bindings {
			out += b.GUID + " " + b.RouteGUID + "\n"
		}
		return out
	}
	runFixtureRoles(t, rbRoleWrites, rbRoleSetup, snapshot)
}

func TestRoleServiceRouteBindingReads(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	targets := []struct {
		name, space string
		suspended   bool
	}{{"demo space", DemoSpaceGUID, false}, {"suspended org", roleSuspendedSpaceGUID, true}}
	for i, target := range targets {
		vals := rbRoleSetup(c, target.space, fmt.Sprintf("rb-read-%d", i))
		var pairs []string
		for k, v := range vals {
			pairs = append(pairs, k, v)
		}
		for _, row := range rbRoleReads {
			for _, user := range roleUsers {
				t.Run(row.name+"/"+target.name+"/"+user, func(t *testing.T) {
					t.Parallel()
					want := row.want[user]
					if target.suspended && row.suspended != nil {
						want = row.suspended[user]
					}
					path, body := row.filled(t, strings.NewReplacer(pairs...))
					want.assert(t, roleView(c, t).do(row.method, path, user, body))
				})
			}
		}
	}
}
