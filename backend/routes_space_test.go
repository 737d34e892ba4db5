package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"capibridge/backend/store"
)

// TestRouteFiltersAsCC: every RoutesListMessage key, each read as
// BaseMessage.to_array! reads it (cc:app/fetchers/route_fetcher.rb).
func TestRouteFiltersAsCC(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	ts := func(s int64) string { return timestamp(routesAt(s)) }
	cases := []struct {
		name, path, user string
		want             []string
	}{
		{"guids", "/v3/routes?guids=" + routesTCP + "," + routesHost, "admin", []string{routesHost, routesTCP}},
		{"empty guids", "/v3/routes?guids=", "admin", []string{}},
		{"hosts with an empty one", "/v3/routes?hosts=myapp,", "admin", []string{routesHost, routesBare, routesTCP}},
		{"empty paths", "/v3/routes?paths=", "admin", []string{routesHost, routesTCP, routesOther}},
		{"empty hosts in a space", "/v3/routes?hosts=&space_guids=" + DemoSpaceGUID, "admin", []string{routesBare, routesTCP}},
		{"empty hosts and paths", "/v3/routes?hosts=&paths=", "admin", []string{routesTCP}},
		{"empty ports", "/v3/routes?ports=", "admin", []string{}},
		{"port not a number", "/v3/routes?ports=tcp", "admin", []string{}},
		{"empty space_guids", "/v3/routes?space_guids=", "admin", []string{}},
		{"empty domain_guids", "/v3/routes?domain_guids=", "admin", []string{}},
		{"empty app_guids", "/v3/routes?app_guids=", "admin", []string{}},
		{"domain_guids of two", "/v3/routes?domain_guids=" + routesPrivateDomain + "," + SharedDomainGUID, "admin",
			[]string{routesHost, routesBare, routesTCP, routesOther}},
		{"organization_guids of another org", "/v3/routes?organization_guids=" + otherOrgGUID, "admin", []string{routesOther}},
		{"organization_guids the user cannot see", "/v3/routes?organization_guids=" + otherOrgGUID, "developer", []string{}},
		{"space_guids and app_guids", "/v3/routes?space_guids=" + DemoSpaceGUID + "&app_guids=" + w.app, "developer", []string{routesHost}},
		{"service_instance_guids", "/v3/routes?service_instance_guids=" + roleMissingGUID, "admin", []string{}},
		{"created_ats after", "/v3/routes?created_ats[gt]=" + ts(12), "admin", []string{routesTCP, routesOther}},
		{"updated_ats", "/v3/routes?updated_ats=" + ts(11), "admin", []string{routesHost}},
		{"app routes by guid", "/v3/apps/" + w.app + "/routes?guids=" + routesHost, "developer", []string{routesHost}},
		{"app routes by empty hosts", "/v3/apps/" + w.app + "/routes?hosts=", "developer", []string{}},
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
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		wantBadQuery(t, w.c.forTest(t).do("GET", "/v3/routes?names=x", "admin", nil),
			"The query parameter is invalid: Unknown query parameter(s): 'names'. Valid parameters are: 'page', 'per_page', 'order_by', "+
				"'created_ats', 'created_ats[lt]', 'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', "+
				"'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', 'updated_ats[gte]', "+
				"'guids', 'hosts', 'space_guids', 'organization_guids', 'domain_guids', 'paths', 'app_guids', 'include', 'label_selector', 'ports', "+
				"'service_instance_guids'")
	})
}

// TestRouteIncludes: include=domain,space on the list and on one route
// renders the same domains and spaces as their own endpoints, under
// "included" after the route's keys (IncludeRouteDomainDecorator,
// IncludeSpaceDecorator).
func TestRouteIncludes(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	domainBody := func(guid string) json.RawMessage {
		return json.RawMessage(c.must(200, "GET", "/v3/domains/"+guid, "admin", nil).body)
	}
	spaceBody := func(guid string) json.RawMessage {
		return json.RawMessage(c.must(200, "GET", "/v3/spaces/"+guid, "admin", nil).body)
	}
	compact := func(parts ...json.RawMessage) string {
		b, err := json.Marshal(parts)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("show", func(t *testing.T) {
		body := c.must(200, "GET", "/v3/routes/"+routesOther+"?include=domain,space", "admin", nil).body
		keys := keysAt(t, body, "")
		if len(keys) == 0 || keys[len(keys)-1] != "included" {
			t.Fatalf("keys %v: included is not last", keys)
		}
		if got := keysAt(t, body, "included"); !slices.Equal(got, []string{"domains", "spaces"}) {
			t.Errorf("included keys %v", got)
		}
		if got, want := rawAt(t, body, "included.domains"), compact(domainBody(routesPrivateDomain)); got != want {
			t.Errorf("included domains\n got %s\nwant %s", got, want)
		}
		if got, want := rawAt(t, body, "included.spaces"), compact(spaceBody(otherSpaceGUID)); got != want {
			t.Errorf("included spaces\n got %s\nwant %s", got, want)
		}
		plain := c.must(200, "GET", "/v3/routes/"+routesOther, "admin", nil).body
		if got := rawAt(t, body, "guid"); got != rawAt(t, plain, "guid") || slices.Contains(keysAt(t, plain, ""), "included") {
			t.Errorf("show without include: %s", plain)
		}
		org := c.must(200, "GET", "/v3/routes/"+routesHost+"?include=space.organization", "developer", nil).body
		if got := keysAt(t, org, "included"); !slices.Equal(got, []string{"spaces", "organizations"}) {
			t.Errorf("space.organization gives %v", got)
		}
		if got := rawAt(t, c.must(200, "GET", "/v3/routes/"+routesHost+"?include=route_policies", "developer", nil).body, "included"); got != `{"route_policies":[]}` {
			t.Errorf("route_policies gives %s", got)
		}
		// RouteShowMessage knows guid; the path's wins.
		if got := rawAt(t, c.must(200, "GET", "/v3/routes/"+routesHost+"?guid="+routesOther, "developer", nil).body, "guid"); got != `"`+routesHost+`"` {
			t.Errorf("guid in the query shows %s", got)
		}
		roleNotFound("Route").assert(t, c.do("GET", "/v3/routes/"+routesOther+"?include=domain", "developer", nil))
	})

	t.Run("list", func(t *testing.T) {
		body := c.must(200, "GET", "/v3/routes?hosts=&include=domain,space", "developer", nil).body
		if got := keysAt(t, body, ""); !slices.Equal(got, []string{"pagination", "resources", "included"}) {
			t.Errorf("keys %v", got)
		}
		if got, want := rawAt(t, body, "included.domains"), compact(domainBody(SharedDomainGUID)); got != want {
			t.Errorf("included domains\n got %s\nwant %s", got, want)
		}
		if got, want := rawAt(t, body, "included.spaces"), compact(spaceBody(DemoSpaceGUID)); got != want {
			t.Errorf("included spaces\n got %s\nwant %s", got, want)
		}
		none := c.must(200, "GET", "/v3/routes?guids=&include=domain,space", "admin", nil).body
		if got := rawAt(t, none, "included"); got != `{"domains":[],"spaces":[]}` {
			t.Errorf("empty page included %s", got)
		}
		if got := rawAt(t, c.must(200, "GET", "/v3/routes?include=route_policies", "admin", nil).body, "included"); got != `{"route_policies":[]}` {
			t.Errorf("route_policies gives %s", got)
		}
		wantBadQuery(t, c.do("GET", "/v3/routes?include=apps", "admin", nil),
			"The query parameter is invalid: Invalid included resource: 'apps'. Valid included resources are: 'domain', 'space', 'space.organization', 'route_policies'")
	})

	t.Run("show errors are 422", func(t *testing.T) {
		for _, tc := range []struct{ query, detail string }{
			{"include=apps", "Invalid included resource: 'apps'. Valid included resources are: 'domain', 'space', 'space.organization', 'route_policies'"},
			{"names=x", "Unknown query parameter(s): 'names'. Valid parameters are: 'guid', 'include'"},
			{"names=x&include=apps", "Unknown query parameter(s): 'names'. Valid parameters are: 'guid', 'include', " +
				"Invalid included resource: 'apps'. Valid included resources are: 'domain', 'space', 'space.organization', 'route_policies'"},
		} {
			wantV3Error(t, c.do("GET", "/v3/routes/"+routesHost+"?"+tc.query, "developer", nil), 422, 10008, "CF-UnprocessableEntity", tc.detail)
		}
	})
}

// TestDeleteUnmappedRoutes: DELETE /v3/spaces/:guid/routes?unmapped=true
// answers 202 with a job that deletes the space's routes without
// destinations, and nothing else (SpacesV3Controller#delete_unmapped_routes).
func TestDeleteUnmappedRoutes(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	const spare = "f0de0000-0000-4000-8000-0000000000e1"
	if err := c.srv.Store().CreateRoute(context.Background(), store.Route{GUID: spare, SpaceGUID: otherSpaceGUID, DomainGUID: routesPrivateDomain,
		Host: "spare", CreatedAt: routesAt(15), UpdatedAt: routesAt(15)}); err != nil {
		t.Fatal(err)
	}
	const massDelete = "Mass delete not supported for routes. Use 'unmapped=true' parameter to delete all unmapped routes."
	demo := "/v3/spaces/" + DemoSpaceGUID + "/routes"
	cases := []struct {
		name, path, user string
		want             roleWant
	}{
		{"no unmapped", demo, "developer", roleUnprocessable("Unmapped can't be blank, " + massDelete + ", Unmapped must be a boolean")},
		{"unmapped=false", demo + "?unmapped=false", "developer",
			roleUnprocessable("Mass delete not supported for mapped routes. Use 'unmapped=true' parameter to delete all unmapped routes.")},
		{"unmapped not a boolean", demo + "?unmapped=yes", "developer", roleUnprocessable("Unmapped must be a boolean")},
		{"empty unmapped", demo + "?unmapped=", "developer", roleUnprocessable("Unmapped can't be blank, Unmapped must be a boolean")},
		{"unknown key", demo + "?unmapped=true&recursive=true", "developer", roleUnprocessable("Unknown field(s): 'recursive'")},
		{"query before space", "/v3/spaces/" + roleMissingGUID + "/routes", "admin",
			roleUnprocessable("Unmapped can't be blank, " + massDelete + ", Unmapped must be a boolean")},
		{"missing space", "/v3/spaces/" + roleMissingGUID + "/routes?unmapped=true", "admin", roleNotFound("Space")},
		{"space the user cannot see", "/v3/spaces/" + otherSpaceGUID + "/routes?unmapped=true", "developer", roleNotFound("Space")},
		{"auditor", demo + "?unmapped=true", "auditor", roleNotAuthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, c.forTest(t).do("DELETE", tc.path, tc.user, nil))
		})
	}
	all := []string{routesHost, routesBare, routesTCP, routesOther, spare}
	if got := guidsOf(c.listPage("admin", "/v3/routes").Resources); !slices.Equal(got, all) {
		t.Fatalf("refused deletes changed the routes: %v", got)
	}

	r := c.must(202, "DELETE", demo+"?unmapped=true", "developer", nil)
	loc := r.header["Location"]
	if len(r.body) != 0 || len(loc) <= len(v3Base+"/v3/jobs/") || loc[:len(v3Base+"/v3/jobs/")] != v3Base+"/v3/jobs/" {
		t.Fatalf("Location %q, body %q: want a job and no body", loc, r.body)
	}
	if st := c.waitJob(loc, "developer"); st != store.JobComplete {
		t.Fatalf("job %s", st)
	}
	job := c.must(200, "GET", loc[len(v3Base):], "developer", nil).body
	for path, want := range map[string]string{
		"guid":            `"` + loc[len(v3Base+"/v3/jobs/"):] + `"`,
		"operation":       `"space.delete_unmapped_routes"`,
		"state":           `"COMPLETE"`,
		"links.self.href": `"` + loc + `"`,
		"errors":          `[]`,
	} {
		if got := rawAt(t, job, path); got != want {
			t.Errorf("job %s = %s, want %s", path, got, want)
		}
	}
	roleNotFound("Job").assert(t, c.do("GET", loc[len(v3Base):], "auditor", nil))
	// The mapped route stays, and so do the routes of other spaces.
	if got := guidsOf(c.listPage("admin", "/v3/routes").Resources); !slices.Equal(got, []string{routesHost, routesOther, spare}) {
		t.Errorf("routes after the job: %v", got)
	}
	dests, err := c.srv.Store().Destinations(context.Background(), []string{routesHost}, store.DestinationFilter{})
	if err != nil || len(dests[routesHost]) != 2 {
		t.Errorf("destinations of the mapped route: %v %v", dests, err)
	}
	// Nothing left to delete is still a job.
	again := c.must(202, "DELETE", demo+"?unmapped=true", "admin", nil)
	if st := c.waitJob(again.header["Location"], "admin"); st != store.JobComplete {
		t.Errorf("second job %s", st)
	}
}

// unmappedRoleRows are the role table's rows for the unmapped-route
// delete, and a read of one route with include=, run by
// TestRoleUnmappedRoutes in a space of their own ({ownSpace}, in demo-org
// or the suspended org, where developer and auditor hold their usual
// roles), with an unmapped route {route} and a mapped one. CC lets space
// developers (and supporters) delete; org members without a space role
// get 404.
var unmappedRoleRows = []roleRow{
	{"delete unmapped routes", "DELETE", "/v3/spaces/{ownSpace}/routes?unmapped=true", nil,
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Space"))},
	{"route with include", "GET", "/v3/routes/{route}?include=domain,space", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Route"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, unmappedRoleRows...) }

// unmappedSpaceSeq numbers the spaces of TestRoleUnmappedRoutes.
var unmappedSpaceSeq atomic.Int64

func TestRoleUnmappedRoutes(t *testing.T) {
	t.Parallel()
	setup := func(c *cf, space, name string) map[string]string {
		c.t.Helper()
		ctx, st := context.Background(), c.srv.Store()
		org := DemoOrgGUID
		if space == roleSuspendedSpaceGUID {
			org = roleSuspendedOrgGUID
		}
		own := fmt.Sprintf("5ace0e00-0000-4000-8000-%012d", unmappedSpaceSeq.Add(1))
		now := st.Now()
		if err := st.CreateSpace(ctx, store.Space{GUID: own, Name: name, OrgGUID: org, CreatedAt: now, UpdatedAt: now}); err != nil {
			c.t.Fatal(err)
		}
		for i, r := range []store.Role{
			{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID},
			{Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID},
		} {
			r.GUID, r.OrgGUID, r.SpaceGUID = fmt.Sprintf("role-%s-%d", name, i), org, own
			if err := st.AddRole(ctx, r); err != nil {
				c.t.Fatal(err)
			}
		}
		app := roleAppIn(c, own, name+"-a", false)
		var unmapped, mapped struct{ GUID string }
		c.must(201, "POST", "/v3/routes", "admin", routeBody(name, "", own, SharedDomainGUID)).json(c.t, &unmapped)
		c.must(201, "POST", "/v3/routes", "admin", routeBody(name+"-mapped", "", own, SharedDomainGUID)).json(c.t, &mapped)
		c.must(200, "POST", "/v3/routes/"+mapped.GUID+"/destinations", "admin", destinations(app))
		return map[string]string{"{ownSpace}": own, "{route}": unmapped.GUID}
	}
	// snapshot waits for the space's jobs, then lists its routes.
	snapshot := func(t *testing.T, c *cf, vals map[string]string) string {
		ctx, st := context.Background(), c.srv.Store()
		deadline := time.Now().Add(10 * time.Second)
		for {
			jobs, err := st.PendingJobs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(jobs, func(j store.Job) bool { return j.ResourceGUID == vals["{ownSpace}"] }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("job still PROCESSING after 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		routes, _, err := st.ListRoutes(ctx, store.Viewer{All: true}, store.RouteFilter{SpaceGUIDs: []string{vals["{ownSpace}"]}},
			store.Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(guidsOfRoutes(routes))
	}
	runFixtureRoles(t, unmappedRoleRows, setup, snapshot)
}

func guidsOfRoutes(routes []store.Route) []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.GUID
	}
	return out
}
