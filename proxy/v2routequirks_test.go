package proxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/backend/store"
)

// The quirks of MAPPING-routes §9, one case each, against the embedded CF
// through the gateway: exact statuses, bodies and headers.
func TestV2RouteQuirks(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "quirky")[0]
	post := func(path, user, body string) reply {
		t.Helper()
		return s.do("POST", s.gwURL+path, user, []byte(body))
	}
	r := post("/v2/routes?inline-relations-depth=1", "developer",
		`{"host":"quirk","path":"/p","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`)
	var created struct {
		Metadata struct{ GUID string } `json:"metadata"`
		Entity   struct {
			Host, Path string
			Port       *int
			Domain     struct{ Entity struct{ Name string } } `json:"domain"`
			Space      struct{ Entity struct{ Name string } } `json:"space"`
			Apps       []json.RawMessage                      `json:"apps"`
		} `json:"entity"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &created) != nil || created.Entity.Path != "/p" || created.Entity.Port != nil ||
		created.Entity.Domain.Entity.Name != backend.SharedDomainName || created.Entity.Space.Entity.Name != backend.DemoSpaceName ||
		created.Entity.Apps == nil || len(created.Entity.Apps) != 0 {
		t.Fatalf("create with inline-relations-depth=1: %d %s", r.status, r.body)
	}
	route := created.Metadata.GUID
	if loc := string(r.header.Peek("Location")); loc != "/v2/routes/"+route {
		t.Errorf("Location %q", loc)
	}
	if r := s.do("PUT", s.gwURL+"/v2/routes/"+route+"/apps/"+app, "developer", nil); r.status != 201 || !strings.Contains(string(r.body), `"host":"quirk"`) {
		t.Fatalf("map: %d %s", r.status, r.body)
	}
	sinatra := `{"description":"Unknown request","error_code":"CF-NotFound","code":10000}`
	v2err := func(name string, code int, desc string) string {
		b, _ := json.Marshal(map[string]any{"description": desc})
		return strings.TrimSuffix(string(b), "}") + `,"error_code":"CF-` + name + `","code":` + itoa(code) + "}\n"
	}
	cases := []struct {
		name, method, path, user, body string
		status                         int
		want                           string // the exact body, or "" to skip
		contains                       string
		header                         [2]string
	}{
		// §9.10: a match is 204 with no body, none (or an unknown domain)
		// Sinatra's 404 without a newline.
		{"reserved, match", "GET", "/v2/routes/reserved/domain/" + backend.SharedDomainGUID + "?host=quirk&path=%2Fp", "outsider", "", 204, "", "", [2]string{}},
		{"reserved by host", "GET", "/v2/routes/reserved/domain/" + backend.SharedDomainGUID + "/host/quirk?path=%2Fp", "developer", "", 204, "", "", [2]string{}},
		{"reserved, no match", "GET", "/v2/routes/reserved/domain/" + backend.SharedDomainGUID + "?host=other", "developer", "", 404, sinatra, "", [2]string{}},
		{"reserved, unknown domain", "GET", "/v2/routes/reserved/domain/nope?host=quirk", "developer", "", 404, sinatra, "", [2]string{}},
		// §9.1: order-by is refused on routes.
		{"order-by", "GET", "/v2/routes?order-by=host", "developer", "", 500, v2err("OrderByParameterInvalid", 10012, "Cannot order by: host"), "", [2]string{}},
		{"bad q key", "GET", "/v2/routes?q=name:x", "developer", "", 400, "", "CF-BadQueryParameter", [2]string{}},
		{"by host and path", "GET", "/v2/routes?q=host:quirk&q=path:/p", "developer", "", 200, "", `"total_results":1`, [2]string{}},
		{"legacy joined q", "GET", "/v2/routes?inline-relations-depth=1&q=host%3Aquirk%3Bdomain_guid%3A" + backend.SharedDomainGUID + "%3Bpath%3A%2Fp",
			"developer", "", 200, "", `"name":"quirky"`, [2]string{}},
		{"path-less only", "GET", "/v2/routes?q=host:quirk&q=path:", "developer", "", 200, "", `"total_results":0`, [2]string{}},
		{"port:0 is every http route", "GET", "/v2/routes?q=port:0", "developer", "", 200, "", `"total_results":1`, [2]string{}},
		{"space routes", "GET", "/v2/spaces/" + backend.DemoSpaceGUID + "/routes?inline-relations-depth=1", "developer", "", 200, "", `"apps":[{`, [2]string{}},
		{"route apps", "GET", "/v2/routes/" + route + "/apps", "developer", "", 200, "", `"name":"quirky"`, [2]string{}},
		{"unknown route", "GET", "/v2/routes/nope", "developer", "", 404, v2err("RouteNotFound", 210002, "The route could not be found: nope"), "", [2]string{}},
		{"outsider", "GET", "/v2/routes/" + route, "outsider", "", 404, "", "CF-RouteNotFound", [2]string{}},
		// §9.5: errors in CC's order.
		{"parse error first", "POST", "/v2/routes?generate_port=maybe", "developer", `{"host":"x"}`, 400, "", "Missing field domain_guid", [2]string{}},
		{"generate_port value", "POST", "/v2/routes?generate_port=maybe", "developer",
			`{"host":"x","domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("InvalidRequest", 10004, "The request is invalid"), "", [2]string{}},
		{"unknown domain", "POST", "/v2/routes", "developer", `{"host":"x","domain_guid":"nope","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("InvalidRelation", 1002, "Could not find Domain with guid: nope"), "", [2]string{}},
		{"unknown domain, generate_port", "POST", "/v2/routes?generate_port=true", "developer", `{"domain_guid":"nope","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("DomainInvalid", 130001, "The domain is invalid: Domain with guid nope does not exist"), "", [2]string{}},
		{"port on http", "POST", "/v2/routes", "developer",
			`{"host":"x","port":1234,"domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("RouteInvalid", 210001, "The route is invalid: Port is supported for domains of TCP router groups only."), "", [2]string{}},
		{"taken", "POST", "/v2/routes", "developer",
			`{"host":"quirk","path":"/p","domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("RoutePathTaken", 210004, "The path is taken: /p"), "", [2]string{}},
		{"path without slash", "POST", "/v2/routes", "developer",
			`{"host":"y","path":"p","domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			v2err("PathInvalid", 130004, `The path is invalid: the path must start with a "/"`), "", [2]string{}},
		{"unknown space", "POST", "/v2/routes", "developer", `{"host":"x","domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"nope"}`, 400,
			v2err("InvalidRelation", 1002, "Could not find Space with guid: nope"), "", [2]string{}},
		{"auditor may not create", "POST", "/v2/routes", "auditor",
			`{"host":"z","domain_guid":"` + backend.SharedDomainGUID + `","space_guid":"` + backend.DemoSpaceGUID + `"}`, 403, "", "CF-NotAuthorized", [2]string{}},
		// §9.6: an update that changes nothing is 201; a change v3 cannot
		// make is RouteInvalid.
		{"update, same", "PUT", "/v2/routes/" + route, "developer", `{"host":"quirk"}`, 201, "", `"host":"quirk"`, [2]string{}},
		{"update, other host", "PUT", "/v2/routes/" + route, "developer", `{"host":"other"}`, 400, "", "CF-RouteInvalid", [2]string{}},
		// §9.11: PUT on a mapping is Sinatra's 404.
		{"mapping update", "PUT", "/v2/route_mappings/x", "developer", `{}`, 404, sinatra, "", [2]string{}},
		{"mapping, unknown", "GET", "/v2/route_mappings/nope", "developer", "", 404, v2err("RouteMappingNotFound", 210007, "The route mapping could not be found: nope"), "", [2]string{}},
		{"mapping, other space", "POST", "/v2/route_mappings", "developer", `{"app_guid":"` + app + `","route_guid":"nope"}`, 404, "", "CF-RouteNotFound", [2]string{}},
		{"route mappings of the route", "GET", "/v2/routes/" + route + "/route_mappings", "developer", "", 200, "", `"app_port":8080`, [2]string{}},
		// §9.14: the deprecated views warn; the removed delete redirects.
		{"deprecated domains", "GET", "/v2/domains", "developer", "", 200, "", `"/v2/shared_domains/` + backend.SharedDomainGUID + `"`,
			[2]string{"X-Cf-Warnings", "Endpoint+deprecated"}},
		{"org domains", "GET", "/v2/organizations/" + backend.DemoOrgGUID + "/domains", "developer", "", 200, "", `"router_group_type":null`,
			[2]string{"X-Cf-Warnings", "Endpoint+deprecated"}},
		{"space domains", "GET", "/v2/spaces/" + backend.DemoSpaceGUID + "/domains", "developer", "", 200, "", `"total_results":1`,
			[2]string{"X-Cf-Warnings", "Endpoint+deprecated"}},
		{"shared domain's spaces", "GET", "/v2/domains/" + backend.SharedDomainGUID + "/spaces", "developer", "", 200, "", `"total_results":0`,
			[2]string{"X-Cf-Warnings", "Endpoint+deprecated"}},
		{"org domain delete", "DELETE", "/v2/organizations/" + backend.DemoOrgGUID + "/domains/x", "developer", "", 301,
			"Use DELETE /v2/private_domains/:domain_guid", "", [2]string{"Location", "/v2/private_domains/:domain_guid"}},
		// §9.12: a shared domain update ignores the body, admins only.
		{"shared domain update", "PUT", "/v2/shared_domains/" + backend.SharedDomainGUID, "admin", `{"name":"renamed.example.org"}`, 201, "",
			`"name":"` + backend.SharedDomainName + `"`, [2]string{}},
		{"shared domain update, developer", "PUT", "/v2/shared_domains/" + backend.SharedDomainGUID, "developer", `{}`, 403, "", "CF-NotAuthorized", [2]string{}},
		{"shared domain delete with routes", "DELETE", "/v2/shared_domains/" + backend.SharedDomainGUID, "admin", "", 400,
			v2err("AssociationNotEmpty", 10006, "Please delete the routes associations for your domains."), "", [2]string{}},
	}
	for _, tc := range cases {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := s.do(tc.method, s.gwURL+tc.path, tc.user, body)
		switch {
		case r.status != tc.status:
			t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		case tc.want != "" && string(r.body) != tc.want:
			t.Errorf("%s: body\n got %q\nwant %q", tc.name, r.body, tc.want)
		case tc.status == 204 && len(r.body) != 0:
			t.Errorf("%s: 204 with a body %q", tc.name, r.body)
		case !strings.Contains(string(r.body), tc.contains):
			t.Errorf("%s: no %q in %s", tc.name, tc.contains, r.body)
		case tc.header[0] != "" && string(r.header.Peek(tc.header[0])) != tc.header[1]:
			t.Errorf("%s: %s %q, want %q", tc.name, tc.header[0], r.header.Peek(tc.header[0]), tc.header[1])
		}
	}

	// §9.8: unmapping what is not mapped is a success; an app once
	// unmapped is gone from the route's apps.
	for range 2 {
		if r := s.do("DELETE", s.gwURL+"/v2/routes/"+route+"/apps/"+app, "developer", nil); r.status != 204 {
			t.Errorf("unmap: %d %s", r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/routes/"+route+"/apps", "developer", nil); !strings.Contains(string(r.body), `"total_results":0`) {
		t.Errorf("apps after unmap: %s", r.body)
	}
	// §9.15: the unmapped route goes; a mapped one stays.
	other := post("/v2/routes", "developer", `{"host":"kept","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`)
	var kept struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	_ = json.Unmarshal(other.body, &kept)
	if r := s.do("PUT", s.gwURL+"/v2/apps/"+app+"/routes/"+kept.Metadata.GUID, "developer", nil); r.status != 201 {
		t.Fatalf("map kept: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/unmapped_routes", "developer", nil); r.status != 204 || len(r.body) != 0 {
		t.Errorf("delete unmapped routes: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/routes", "developer", nil)
	if !strings.Contains(string(r.body), `"total_results":1`) || !strings.Contains(string(r.body), `"host":"kept"`) {
		t.Errorf("routes after delete-orphaned-routes: %s", r.body)
	}
	// §9.7: async=true is 202 with the v2 job, which finishes.
	r = s.do("DELETE", s.gwURL+"/v2/routes/"+kept.Metadata.GUID+"?async=true", "developer", nil)
	var job struct {
		Metadata struct{ URL string } `json:"metadata"`
		Entity   struct{ GUID, Status string }
	}
	if r.status != 202 || json.Unmarshal(r.body, &job) != nil || job.Entity.Status != "queued" || job.Metadata.URL != "/v2/jobs/"+job.Entity.GUID ||
		len(r.header.Peek("Location")) != 0 {
		t.Fatalf("async delete: %d %s", r.status, r.body)
	}
	s.waitV2Job(t, job.Entity.GUID)
	if r := s.do("GET", s.gwURL+"/v2/routes/"+kept.Metadata.GUID, "developer", nil); r.status != 404 {
		t.Errorf("route after the job: %d %s", r.status, r.body)
	}
}

// Sharing a private domain with another org and unsharing it (§9.13.3).
func TestV2PrivateDomainSharing(t *testing.T) {
	s := startStack(t, nil)
	// The embedded CF has no org create yet: the org goes into its store.
	st := s.cf.Store()
	org := struct{ GUID string }{"0d0e0000-0000-4000-8000-0000000000ff"}
	if err := st.CreateOrg(context.Background(), store.Org{GUID: org.GUID, Name: "other-org", QuotaGUID: backend.DemoQuotaGUID,
		CreatedAt: st.Now(), UpdatedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", s.gwURL+"/v2/private_domains", "admin", []byte(`{"name":"shared-out.example.org","owning_organization_guid":"`+backend.DemoOrgGUID+`"}`))
	var d struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &d) != nil {
		t.Fatalf("domain: %d %s", r.status, r.body)
	}
	// The deprecated view: a private domain's spaces are its owner's.
	if r := s.do("GET", s.gwURL+"/v2/domains/"+d.Metadata.GUID+"/spaces?results-per-page=1", "admin", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"total_results":1`) || !strings.Contains(string(r.body), `"name":"`+backend.DemoSpaceName+`"`) ||
		!strings.Contains(string(r.body), `"next_url":null`) {
		t.Errorf("private domain's spaces: %d %s", r.status, r.body)
	}
	share := "/v2/organizations/" + org.GUID + "/private_domains/" + d.Metadata.GUID
	if r := s.do("PUT", s.gwURL+share, "admin", nil); r.status != 201 || !strings.Contains(string(r.body), `"name":"other-org"`) {
		t.Fatalf("share (answers the org): %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/private_domains/"+d.Metadata.GUID+"/shared_organizations", "admin", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"total_results":1`) || !strings.Contains(string(r.body), org.GUID) {
		t.Errorf("shared organizations: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations/"+org.GUID+"/private_domains", "admin", nil); !strings.Contains(string(r.body), "shared-out.example.org") {
		t.Errorf("the other org's private domains: %s", r.body)
	}
	// The owner cannot share with or unshare from itself.
	own := "/v2/organizations/" + backend.DemoOrgGUID + "/private_domains/" + d.Metadata.GUID
	for _, m := range []string{"PUT", "DELETE"} {
		if r := s.do(m, s.gwURL+own, "admin", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-InvalidRequest") {
			t.Errorf("%s with the owner: %d %s", m, r.status, r.body)
		}
	}
	// A shared domain, or one not shared with the org, has nothing to
	// unshare: InvalidRequest, and the org's routes on it stay.
	rt := s.do("POST", s.gwURL+"/v2/routes", "developer", []byte(`{"host":"stays","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`))
	if rt.status != 201 {
		t.Fatalf("route: %d %s", rt.status, rt.body)
	}
	for _, d := range []string{backend.SharedDomainGUID} {
		if r := s.do("DELETE", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/private_domains/"+d, "admin", nil); r.status != 400 ||
			!strings.Contains(string(r.body), "CF-InvalidRequest") {
			t.Errorf("unshare a shared domain: %d %s", r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/routes?q=host:stays", "developer", nil); !strings.Contains(string(r.body), `"total_results":1`) {
		t.Errorf("the route on the shared domain is gone: %s", r.body)
	}
	if r := s.do("DELETE", s.gwURL+share, "admin", nil); r.status != 204 {
		t.Errorf("unshare: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/private_domains/"+d.Metadata.GUID+"/shared_organizations", "admin", nil); !strings.Contains(string(r.body), `"total_results":0`) {
		t.Errorf("shared organizations after unshare: %s", r.body)
	}
	// Shared again, the domain still deletes: v2 nullified the shares.
	if r := s.do("PUT", s.gwURL+share, "admin", nil); r.status != 201 {
		t.Fatalf("share again: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/private_domains/"+d.Metadata.GUID, "admin", nil); r.status != 204 {
		t.Errorf("delete a shared private domain: %d %s", r.status, r.body)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
