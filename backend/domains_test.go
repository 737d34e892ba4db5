package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// TestOrgDomains: an org's domains are the shared ones and the private
// ones it owns or is shared with, read with /v3/domains' filters; the org
// is found before the query is read (index_org_domains).
func TestOrgDomains(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	if err := w.c.srv.Store().ShareDomain(context.Background(), routesPrivateDomain, []string{DemoOrgGUID}); err != nil {
		t.Fatal(err)
	}
	demo, other := "/v3/organizations/"+DemoOrgGUID+"/domains", "/v3/organizations/"+otherOrgGUID+"/domains"
	cases := []struct {
		name, path, user string
		want             []string
	}{
		{"demo org", demo, "developer", []string{SharedDomainGUID, routesPrivateDomain, routesDemoDomain}},
		{"demo org as admin", demo, "admin", []string{SharedDomainGUID, routesPrivateDomain, routesDemoDomain}},
		{"other org", other, "admin", []string{SharedDomainGUID, routesPrivateDomain}},
		{"names", demo + "?names=demo.example.org", "auditor", []string{routesDemoDomain}},
		{"organization_guids", demo + "?organization_guids=" + otherOrgGUID, "developer", []string{routesPrivateDomain}},
		{"guids", demo + "?guids=" + SharedDomainGUID, "developer", []string{SharedDomainGUID}},
		{"newest first", demo + "?order_by=-created_at&per_page=2", "developer", []string{routesDemoDomain, routesPrivateDomain}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := guidsOf(w.c.forTest(t).listPage(tc.user, tc.path).Resources); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("shared with the viewer's org", func(t *testing.T) {
		t.Parallel()
		got := guidsOf(w.c.forTest(t).listPage("developer", "/v3/domains").Resources)
		if want := []string{SharedDomainGUID, routesPrivateDomain, routesDemoDomain}; !slices.Equal(got, want) {
			t.Errorf("/v3/domains: got %v, want %v", got, want)
		}
	})
	t.Run("pagination", func(t *testing.T) {
		t.Parallel()
		body := w.c.forTest(t).must(200, "GET", demo+"?per_page=1", "developer", nil).body
		if got, want := rawAt(t, body, "pagination.first"), `{"href":"`+v3Base+demo+`?page=1&per_page=1"}`; got != want {
			t.Errorf("first %s, want %s", got, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		c := w.c.forTest(t)
		roleNotFound("Organization").assert(t, c.do("GET", other, "developer", nil))
		roleNotFound("Organization").assert(t, c.do("GET", other+"?bogus=1", "developer", nil))
		roleNotFound("Organization").assert(t, c.do("GET", "/v3/organizations/"+roleMissingGUID+"/domains", "admin", nil))
		r := c.do("GET", demo+"?bogus=1", "developer", nil)
		roleWant{status: 400, title: "CF-BadQueryParameter", code: 10005, detail: "The query parameter is invalid: Unknown query parameter(s): 'bogus'. Valid parameters are: 'page', 'per_page', 'order_by', 'guids', 'names', 'organization_guids', 'label_selector', 'created_ats', 'created_ats[lt]', 'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', " +
			"'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', 'updated_ats[gte]'"}.assert(t, r)
	})
}

// TestRouteReservations: matching_route says whether any route of the
// domain has exactly the host, path and port asked, "" and no port
// standing for what is not asked (check_routes).
func TestRouteReservations(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	base := "/v3/domains/" + SharedDomainGUID + "/route_reservations"
	cases := []struct {
		name, query, user string
		want              bool
	}{
		{"host", "?host=myapp", "developer", true},
		{"host and path", "?host=myapp&path=/api", "developer", false},
		{"path", "?path=/api", "developer", true},
		{"port", "?port=61000", "developer", true},
		{"other port", "?port=61001", "developer", false},
		{"port not a number", "?port=x", "developer", false},
		{"nothing asked", "", "developer", false},
		{"unknown host", "?host=nope", "developer", false},
		// Routes the caller cannot see count too: the outsider has no space.
		{"invisible route", "?host=myapp&unknown=1", "outsider", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(w.c.forTest(t).must(200, "GET", base+tc.query, tc.user, nil).body)
			if want := fmt.Sprintf(`{"matching_route":%v}`, tc.want); got != want {
				t.Errorf("body %s, want %s", got, want)
			}
		})
	}
	t.Run("domain not visible", func(t *testing.T) {
		t.Parallel()
		c := w.c.forTest(t)
		roleNotFound("Domain").assert(t, c.do("GET", "/v3/domains/"+routesPrivateDomain+"/route_reservations?host=o", "developer", nil))
		c.must(200, "GET", "/v3/domains/"+routesPrivateDomain+"/route_reservations?host=o", "admin", nil)
	})
}

// TestDomainSharing: sharing a private domain answers the relationship and
// makes it the shared org's; CC's refusals come in its order of checks
// (update_shared_orgs, delete_shared_org).
func TestDomainSharing(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	rel := func(domain string) string { return "/v3/domains/" + domain + "/relationships/shared_organizations" }
	data := func(guids ...string) map[string]any {
		items := []map[string]string{}
		for _, g := range guids {
			items = append(items, map[string]string{"guid": g})
		}
		return map[string]any{"data": items}
	}
	shape := roleUnprocessable(sharedOrgsShape)
	for _, tc := range []struct {
		name   string
		domain string
		body   any
		want   roleWant
	}{
		{"unknown field", routesDemoDomain, map[string]any{"data": []any{}, "x": 1}, roleUnprocessable("Unknown field(s): 'x'")},
		{"no data", routesDemoDomain, map[string]any{}, shape},
		{"data not a list", routesDemoDomain, map[string]any{"data": map[string]string{"guid": otherOrgGUID}}, shape},
		{"guid not a string", routesDemoDomain, map[string]any{"data": []any{map[string]int{"guid": 1}}}, shape},
		{"unknown domain", roleMissingGUID, data(otherOrgGUID), roleNotFound("Domain")},
		{"unknown org", routesDemoDomain, data(roleMissingGUID),
			roleUnprocessable("Organization with guid '" + roleMissingGUID + "' does not exist, or you do not have access to it.")},
		{"owning org", routesDemoDomain, data(DemoOrgGUID), roleUnprocessable("Domain cannot be shared with owning organization.")},
		{"shared domain", SharedDomainGUID, data(otherOrgGUID),
			roleUnprocessable("Domains cannot be shared with other organizations unless they are scoped to an organization.")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, c.forTest(t).do("POST", rel(tc.domain), "admin", tc.body))
		})
	}

	want := `{"data":[{"guid":"` + otherOrgGUID + `"}]}`
	for range 2 {
		if got := string(c.must(200, "POST", rel(routesDemoDomain), "admin", data(otherOrgGUID)).body); got != want {
			t.Fatalf("share: %s, want %s", got, want)
		}
	}
	if got := guidsOf(c.listPage("admin", "/v3/organizations/"+otherOrgGUID+"/domains").Resources); !slices.Contains(got, routesDemoDomain) {
		t.Errorf("other org's domains after sharing: %v", got)
	}

	unshare := func(org string) resp { return c.do("DELETE", rel(routesDemoDomain)+"/"+org, "admin", nil) }
	notShared := func(name string) roleWant {
		return roleUnprocessable("Unable to unshare domain from organization with name '" + name + "'. Ensure the domain is shared to this organization.")
	}
	roleUnprocessable("Organization with guid '"+roleMissingGUID+"' does not exist or you do not have access to it.").assert(t, unshare(roleMissingGUID))
	notShared(DemoOrgName).assert(t, unshare(DemoOrgGUID))
	notShared("other-org").assert(t, c.do("DELETE", rel(SharedDomainGUID)+"/"+otherOrgGUID, "admin", nil))
	roleNotAuthorized.assert(t, c.do("DELETE", rel(routesDemoDomain)+"/"+otherOrgGUID, "developer", nil))

	ctx, st := context.Background(), c.srv.Store()
	inShared := store.Route{GUID: "f0de0000-0000-4000-8000-0000000000e1", SpaceGUID: otherSpaceGUID, DomainGUID: routesDemoDomain, Host: "shared",
		CreatedAt: routesAt(40), UpdatedAt: routesAt(40)}
	if err := st.CreateRoute(ctx, inShared); err != nil {
		t.Fatal(err)
	}
	roleUnprocessable("This domain has associated routes in this organization. Delete the routes before unsharing.").assert(t, unshare(otherOrgGUID))
	if err := st.DeleteRoute(ctx, inShared.GUID); err != nil {
		t.Fatal(err)
	}
	if r := unshare(otherOrgGUID); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("unshare: %d %s", r.status, r.body)
	}
	notShared("other-org").assert(t, unshare(otherOrgGUID))
	if got := guidsOf(c.listPage("admin", "/v3/organizations/"+otherOrgGUID+"/domains").Resources); slices.Contains(got, routesDemoDomain) {
		t.Errorf("other org's domains after unsharing: %v", got)
	}
}

// domainRoleRows are the domain rows of the role table, run by
// TestRoleDomains on a domain of demo-org of their own ({domain}), shared
// with another org ({otherOrg}) for the unshare. Sharing needs admin or an
// org manager of the owning org: the developer and the auditor, org users
// who see the domain, get 403; the outsider does not see it.
var domainRoleRows = []roleRow{
	{"org domains", "GET", "/v3/organizations/{org}/domains?names=apps.capibridge.local,{name}", nil,
		rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(2)), roleOK(200, roleTotal(2)), roleNotFound("Organization"))},
	{"route reservations", "GET", "/v3/domains/{domain}/route_reservations?host=x", nil,
		rolePer(roleOK(200, roleMatching(false)), roleOK(200, roleMatching(false)), roleOK(200, roleMatching(false)), roleNotFound("Domain"))},
	{"share domain", "POST", "/v3/domains/{domain}/relationships/shared_organizations",
		map[string]any{"data": []map[string]string{{"guid": "{otherOrg}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Domain"))},
	{"unshare domain", "DELETE", "/v3/domains/{domain}/relationships/shared_organizations/{otherOrg}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotFound("Domain"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, domainRoleRows...) }

func roleMatching(want bool) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := string(r.body); got != fmt.Sprintf(`{"matching_route":%v}`, want) {
			t.Errorf("body %s, want matching_route %v", got, want)
		}
	}
}

func TestRoleDomains(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addOtherSpace()
	var seq atomic.Int64
	for _, row := range domainRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				v := roleView(c, t)
				ctx, st := context.Background(), c.srv.Store()
				n, now := seq.Add(1), st.Now()
				guid, name := fmt.Sprintf("d0a1e000-0000-4000-8000-%012d", n), fmt.Sprintf("role-%d.example.org", n)
				if err := st.CreateDomain(ctx, store.Domain{GUID: guid, Name: name, OrgGUID: DemoOrgGUID,
					CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				if row.method == "DELETE" {
					if err := st.ShareDomain(ctx, guid, []string{otherOrgGUID}); err != nil {
						t.Fatal(err)
					}
				}
				fill := strings.NewReplacer("{domain}", guid, "{name}", name, "{org}", DemoOrgGUID, "{otherOrg}", otherOrgGUID)
				path, body := row.filled(t, fill)
				before, err := st.SharedOrgs(ctx, store.Viewer{All: true}, []string{guid})
				if err != nil {
					t.Fatal(err)
				}
				want := row.want[user]
				want.assert(t, v.do(row.method, path, user, body))
				after, err := st.SharedOrgs(ctx, store.Viewer{All: true}, []string{guid})
				if err != nil {
					t.Fatal(err)
				}
				if changed := fmt.Sprint(before) != fmt.Sprint(after); row.method != "GET" && changed != (want.status < 400) {
					t.Errorf("shared orgs went from %v to %v", before, after)
				}
			})
		}
	}
}
