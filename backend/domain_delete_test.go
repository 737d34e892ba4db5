package backend

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// TestDomainDelete: 202 with a domain.delete job that takes the domain's
// routes and their destinations with it (DomainsController#destroy,
// Domain#destroy); the refusals in CC's order.
func TestDomainDelete(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
	c.addManager(DemoOrgGUID)
	del := func(guid, user string) resp { return c.do("DELETE", "/v3/domains/"+guid, user, nil) }

	roleNotFound("Domain").assert(t, del(roleMissingGUID, "admin"))
	roleNotFound("Domain").assert(t, del(routesPrivateDomain, "developer"))
	roleNotAuthorized.assert(t, del(routesDemoDomain, "developer"))
	roleNotAuthorized.assert(t, del(routesDemoDomain, "auditor"))
	roleNotAuthorized.assert(t, del(SharedDomainGUID, "manager"))
	if err := st.ShareDomain(ctx, routesDemoDomain, []string{otherOrgGUID}); err != nil {
		t.Fatal(err)
	}
	shared := roleUnprocessable("This domain is shared with other organizations. Unshare before deleting.")
	shared.assert(t, del(routesDemoDomain, "manager"))
	c.must(204, "DELETE", "/v3/domains/"+routesDemoDomain+"/relationships/shared_organizations/"+otherOrgGUID, "admin", nil)

	// A route with a destination on the domain goes with it.
	var rt struct{ GUID string }
	c.must(201, "POST", "/v3/routes", "developer", routeBody("doomed", "", DemoSpaceGUID, routesDemoDomain)).json(t, &rt)
	c.must(200, "POST", "/v3/routes/"+rt.GUID+"/destinations", "developer", destinations(w.app))
	r := del(routesDemoDomain, "manager")
	roleOK(202).assert(t, r)
	loc := r.header["Location"]
	if !strings.HasPrefix(loc, v3Base+"/v3/jobs/") || len(r.body) != 0 {
		t.Fatalf("Location %q, body %q", loc, r.body)
	}
	if state := c.waitJob(loc, "manager"); state != store.JobComplete {
		t.Fatalf("job %s", state)
	}
	job := c.must(200, "GET", loc[len(v3Base):], "manager", nil).body
	if got := rawAt(t, job, "operation") + " " + rawAt(t, job, "errors"); got != `"domain.delete" []` {
		t.Errorf("job %s", job)
	}
	roleNotFound("Domain").assert(t, c.do("GET", "/v3/domains/"+routesDemoDomain, "admin", nil))
	roleNotFound("Route").assert(t, c.do("GET", "/v3/routes/"+rt.GUID, "admin", nil))
	if dests, err := st.Destinations(ctx, []string{rt.GUID}, store.DestinationFilter{}); err != nil || len(dests[rt.GUID]) != 0 {
		t.Errorf("destinations left %v %v", dests, err)
	}
	if _, err := st.GetRoute(ctx, all, routesHost); err != nil {
		t.Errorf("a route of another domain went too: %v", err)
	}

	// A shared domain: the admin's to delete, routes in any org included.
	r = del(routesPrivateDomain, "admin")
	roleOK(202).assert(t, r)
	c.waitJob(r.header["Location"], "admin")
	if _, err := st.GetRoute(ctx, all, routesOther); err == nil {
		t.Error("the other org's route outlived its domain")
	}
	// A domain already gone is ErrNotFound, which the job takes for done.
	if err := st.DeleteDomain(ctx, routesPrivateDomain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a deleted domain: %v", err)
	}
}

// TestDomainSharedOrgsShown: a domain's shared_organizations lists the orgs
// it is shared with that the caller sees (DomainPresenter#shared_org_guids),
// on GET, the lists and the org's domains; a route's included domain shows
// none (IncludeRouteDomainDecorator passes no visible orgs).
func TestDomainSharedOrgsShown(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	ctx, st := context.Background(), c.srv.Store()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.ShareDomain(ctx, routesPrivateDomain, []string{DemoOrgGUID}))
	must(st.ShareDomain(ctx, routesDemoDomain, []string{otherOrgGUID}))
	data := func(guids ...string) string {
		parts := []string{}
		for _, g := range guids {
			parts = append(parts, `{"guid":"`+g+`"}`)
		}
		return `{"data":[` + strings.Join(parts, ",") + `]}`
	}
	cases := []struct {
		name, user, domain, want string
	}{
		{"admin, other org's domain", "admin", routesPrivateDomain, data(DemoOrgGUID)},
		{"developer, shared with its org", "developer", routesPrivateDomain, data(DemoOrgGUID)},
		{"admin, demo domain", "admin", routesDemoDomain, data(otherOrgGUID)},
		{"developer, demo domain", "developer", routesDemoDomain, data()},
		{"seeded shared domain", "developer", SharedDomainGUID, data()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc := c.forTest(t)
			got := rawAt(t, cc.must(200, "GET", "/v3/domains/"+tc.domain, tc.user, nil).body, "relationships.shared_organizations")
			if got != tc.want {
				t.Errorf("GET: %s, want %s", got, tc.want)
			}
			for _, list := range []string{"/v3/domains?guids=" + tc.domain, "/v3/organizations/" + DemoOrgGUID + "/domains?guids=" + tc.domain} {
				if got := rawAt(t, cc.must(200, "GET", list, tc.user, nil).body, "resources.0.relationships.shared_organizations"); got != tc.want {
					t.Errorf("%s: %s, want %s", list, got, tc.want)
				}
			}
		})
	}
	t.Run("route include", func(t *testing.T) {
		t.Parallel()
		body := c.forTest(t).must(200, "GET", "/v3/routes/"+routesOther+"?include=domain", "admin", nil).body
		if got := rawAt(t, body, "included.domains.0.relationships.shared_organizations"); got != data() {
			t.Errorf("included domain shows %s", got)
		}
	})
}

// TestRouteOnSharedPrivateDomain: a route may use a private domain its
// space's org owns or is shared with (Domain#usable_by_organization?), and
// unsharing is refused while it stands.
func TestRouteOnSharedPrivateDomain(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	body := routeBody("guest", "", DemoSpaceGUID, routesPrivateDomain)
	roleUnprocessable("Invalid domain. Domain 'private.example.org' is not available in organization 'demo-org'.").
		assert(t, c.do("POST", "/v3/routes", "developer", body))
	c.must(200, "POST", "/v3/domains/"+routesPrivateDomain+"/relationships/shared_organizations", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}})
	r := c.must(201, "POST", "/v3/routes", "developer", body)
	if got := rawAt(t, r.body, "url"); got != `"guest.private.example.org"` {
		t.Errorf("url %s", got)
	}
	// A private domain needs no host, shared with the org or not.
	c.must(201, "POST", "/v3/routes", "developer", routeBody("", "/bare", DemoSpaceGUID, routesPrivateDomain))
	roleUnprocessable("This domain has associated routes in this organization. Delete the routes before unsharing.").
		assert(t, c.do("DELETE", "/v3/domains/"+routesPrivateDomain+"/relationships/shared_organizations/"+DemoOrgGUID, "admin", nil))
}

// TestRouteDestinationsQuery: RouteDestinationsListMessage's keys, each
// read as to_array! reads it; anything else is 422 (unprocessable!),
// checked before the route is looked up.
func TestRouteDestinationsQuery(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	base := "/v3/routes/" + routesHost + "/destinations"
	cases := []struct {
		name, query string
		want        []string
	}{
		{"app_guids and guids", "?app_guids=" + w.app + "," + w.sidekick + "&guids=" + routesDestWorker, []string{routesDestWorker}},
		{"blank after a comma", "?guids=" + routesDestWeb + ",%20" + routesDestWorker, []string{routesDestWorker, routesDestWeb}},
		{"empty guids", "?guids=", []string{}},
		{"empty app_guids", "?app_guids=", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b struct{ Destinations []listItem }
			w.c.forTest(t).must(200, "GET", base+tc.query, "developer", nil).json(t, &b)
			if got := guidsOf(b.Destinations); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	bad := roleUnprocessable("Unknown query parameter(s): 'per_page', 'include'. Valid parameters are: 'guids', 'app_guids'")
	bad.assert(t, w.c.do("GET", base+"?per_page=1&include=app", "developer", nil))
	bad.assert(t, w.c.do("GET", "/v3/routes/"+roleMissingGUID+"/destinations?per_page=1&include=app", "developer", nil))
	roleNotFound("Route").assert(t, w.c.do("GET", "/v3/routes/"+routesOther+"/destinations?guids=x", "developer", nil))
}
