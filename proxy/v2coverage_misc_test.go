package proxy

import (
	"context"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/backend/store"
)

// The reference bodies of this file's answers: copies of
// shared/reference/v2.
const (
	sharedDomainShapeRef    = "../translate/testdata/reference/domain_list_deprecated.current-shape.json"
	privateDomainViaDomains = "../translate/testdata/reference/private_domain_via_domains_controller.current-shape.json"
	privateDomainShapeRef   = "../translate/testdata/reference/private_domain.json"
	spaceQuotaShapeRef      = "testdata/space_quota_definition.current-shape.json"
)

// wantStatus checks an answer's status and that its body holds each of
// want.
func wantStatus(t *testing.T, what string, r reply, status int, want ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: %d %s, want %d", what, r.status, r.body, status)
		return
	}
	for _, w := range want {
		if !strings.Contains(string(r.body), w) {
			t.Errorf("%s: no %s in %s", what, w, r.body)
		}
	}
}

// createV2Route creates a route of host on the shared domain in the demo
// space through the gateway.
func (s *stack) createV2Route(t *testing.T, host string) string {
	t.Helper()
	return s.postV2(t, "developer", "/v2/routes", `{"host":"`+host+`","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`)
}

// PUT /v2/route_mappings/:guid: RouteMappingsController#update answers a
// bare 404 whatever the mapping (MAPPING-routes §9.11.2), and the mapping
// stays as it was.
func TestV2CoverageRouteMappingUpdate(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "remapped")[0]
	route := s.createV2Route(t, "remapped")
	mapping := s.postV2(t, "developer", "/v2/route_mappings", `{"app_guid":"`+app+`","route_guid":"`+route+`"}`)
	for _, guid := range []string{mapping, "nope"} {
		r := s.do("PUT", s.gwURL+"/v2/route_mappings/"+guid, "developer", []byte(`{"app_port":9090}`))
		if r.status != 404 || strings.TrimSpace(string(r.body)) != `{"description":"Unknown request","error_code":"CF-NotFound","code":10000}` {
			t.Errorf("PUT %s: %d %s", guid, r.status, r.body)
		}
	}
	wantStatus(t, "the mapping after", s.do("GET", s.gwURL+"/v2/route_mappings/"+mapping, "developer", nil), 200,
		`"app_port":8080`, `"route_guid":"`+route+`"`)
}

// The deprecated domain views and the private domain update
// (MAPPING-routes §9.13.2, §9.14): GET /v2/domains/:guid reads either kind
// with the deprecation warning; DELETE /v2/organizations/:org/domains/:d is
// CC's 301 and deletes nothing; PUT /v2/private_domains/:guid answers 201
// and the domain to a manager of its org, changes neither name nor owner.
func TestV2CoverageDomains(t *testing.T) {
	s := startStack(t, nil)
	st := s.cf.Store()
	const private = "d0a10000-0000-4000-8000-0000000000c1"
	if err := st.CreateDomain(context.Background(), store.Domain{GUID: private, Name: "covered.example.org", OrgGUID: backend.DemoOrgGUID,
		Protocols: []string{"http"}, CreatedAt: st.Now(), UpdatedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}
	other := s.postV2(t, "admin", "/v2/organizations", `{"name":"cov-domains"}`)

	t.Run("GET /v2/domains/:guid", func(t *testing.T) {
		for _, tc := range []struct{ guid, ref, refAt, want string }{
			{backend.SharedDomainGUID, sharedDomainShapeRef, "resources.0", `"url":"/v2/shared_domains/` + backend.SharedDomainGUID + `"`},
			{private, privateDomainViaDomains, "", `"owning_organization_guid":"` + backend.DemoOrgGUID + `"`},
		} {
			r := s.do("GET", s.gwURL+"/v2/domains/"+tc.guid, "developer", nil)
			wantStatus(t, tc.guid, r, 200, tc.want)
			if w := string(r.header.Peek("X-Cf-Warnings")); w != "Endpoint+deprecated" {
				t.Errorf("%s: warnings %q", tc.guid, w)
			}
			sameShape(t, tc.guid, r.body, "", tc.ref, tc.refAt)
		}
		wantError(t, s.do("GET", s.gwURL+"/v2/domains/nope", "developer", nil), 404,
			`{"description":"The domain could not be found: nope","error_code":"CF-DomainNotFound","code":130002}`)
	})

	t.Run("DELETE /v2/organizations/:guid/domains/:domain_guid", func(t *testing.T) {
		r := s.do("DELETE", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/domains/"+private, "admin", nil)
		if r.status != 301 || string(r.body) != "Use DELETE /v2/private_domains/:domain_guid" ||
			string(r.header.Peek("Location")) != "/v2/private_domains/:domain_guid" || string(r.header.Peek("X-Cf-Warnings")) != "Endpoint+removed" {
			t.Errorf("%d %q %q %s", r.status, r.header.Peek("Location"), r.header.Peek("X-Cf-Warnings"), r.body)
		}
		if st := s.v3JSON(t, "/v3/domains/"+private, nil); st != 200 {
			t.Errorf("the domain after: %d", st)
		}
	})

	t.Run("PUT /v2/private_domains/:guid", func(t *testing.T) {
		path := s.gwURL + "/v2/private_domains/" + private
		for _, body := range []string{`{}`, `{"name":"covered.example.org","owning_organization_guid":"` + backend.DemoOrgGUID + `"}`} {
			r := s.do("PUT", path, "admin", []byte(body))
			wantStatus(t, "PUT "+body, r, 201, `"name":"covered.example.org"`, `"guid":"`+private+`"`)
			sameShape(t, "PUT "+body, r.body, "", privateDomainShapeRef, "")
		}
		// Refusals: not a manager of the owning org
		// (PrivateDomainAccess#update?), before the body's checks; a
		// rename (v3 cannot), a new owner
		// (PrivateDomain#validate_owning_organization); a shared domain
		// or none. The domain stays.
		wantError(t, s.do("PUT", path, "developer", []byte(`{"name":"other.example.org"}`)), 403,
			`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`)
		wantError(t, s.do("PUT", path, "admin", []byte(`{"owning_organization_guid":"`+other+`"}`)), 400,
			`{"description":"The domain is invalid: the owning organization cannot be changed","error_code":"CF-DomainInvalid","code":130001}`)
		wantStatus(t, "a rename", s.do("PUT", path, "admin", []byte(`{"name":"other.example.org"}`)), 400, `"error_code":"CF-DomainInvalid"`)
		for _, guid := range []string{backend.SharedDomainGUID, "nope"} {
			wantError(t, s.do("PUT", s.gwURL+"/v2/private_domains/"+guid, "admin", []byte(`{}`)), 404,
				`{"description":"The domain could not be found: `+guid+`","error_code":"CF-DomainNotFound","code":130002}`)
		}
		wantStatus(t, "the domain after", s.do("GET", path, "admin", nil), 200, `"name":"covered.example.org"`,
			`"owning_organization_guid":"`+backend.DemoOrgGUID+`"`)
	})
}

// GET /v2/space_quota_definitions (MAPPING-orgs §12.2): admins read every
// space quota; others those of orgs they manage and of spaces they are
// members of (SpaceQuotaDefinition.user_visibility_filter).
func TestV2CoverageSpaceQuotaList(t *testing.T) {
	s := startStack(t, nil)
	quota := s.postV2(t, "admin", "/v2/space_quota_definitions", `{"name":"cov-sq","organization_guid":"`+backend.DemoOrgGUID+
		`","non_basic_services_allowed":false,"total_services":1,"total_routes":1,"memory_limit":128}`)
	list := s.gwURL + "/v2/space_quota_definitions"
	r := s.do("GET", list, "admin", nil)
	if got := listGUIDs(t, r); len(got) != 1 || got[0] != quota {
		t.Errorf("admin's list: %v", got)
	}
	sameShape(t, "the list", r.body, "resources.0", spaceQuotaShapeRef, "")
	wantStatus(t, "a developer before", s.do("GET", list, "developer", nil), 200, `"total_results":0`)
	if r := s.do("PUT", s.gwURL+"/v2/space_quota_definitions/"+quota+"/spaces/"+backend.DemoSpaceGUID, "admin", nil); r.status != 201 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	for _, user := range []string{"developer", "auditor"} {
		if got := listGUIDs(t, s.do("GET", list, user, nil)); len(got) != 1 || got[0] != quota {
			t.Errorf("a member of the space, %s: %v", user, got)
		}
	}
	wantStatus(t, "an outsider", s.do("GET", list, "outsider", nil), 200, `"total_results":0`)
	// SpaceQuotaDefinitionsController declares no query_parameters.
	wantError(t, s.do("GET", list+"?q=name:cov-sq", "admin", nil), 400,
		`{"description":"The query parameter is invalid: name","error_code":"CF-BadQueryParameter","code":10005}`)
}

// GET and POST /v2/app_usage_events/destructively_purge_all_and_reseed_started_apps
// (MAPPING-orgs §12.6): the GET reads an event of that guid, as CC's
// routes match it, so EventNotFound; the POST, an admin's, purges and
// reseeds one event per started app, 204.
func TestV2CoverageUsageEventPurge(t *testing.T) {
	s := quickStack(t)
	app := s.startedApp(t, "reseeded")
	path := s.gwURL + "/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps"
	for _, user := range []string{"admin", "developer"} {
		wantError(t, s.do("GET", path, user, nil), 404,
			`{"description":"Event could not be found: destructively_purge_all_and_reseed_started_apps","error_code":"CF-EventNotFound","code":230002}`)
	}
	wantStatus(t, "a developer purges", s.do("POST", path, "developer", nil), 403)
	events := func() []string {
		var p struct {
			Resources []struct {
				State struct {
					Current string `json:"current"`
				} `json:"state"`
				App struct {
					GUID string `json:"guid"`
				} `json:"app"`
			} `json:"resources"`
		}
		if st := s.v3JSON(t, "/v3/app_usage_events?per_page=100", &p); st != 200 {
			t.Fatalf("v3 usage events: %d", st)
		}
		var out []string
		for _, e := range p.Resources {
			out = append(out, e.App.GUID+" "+e.State.Current)
		}
		return out
	}
	before := events()
	if len(before) < 2 {
		t.Fatalf("events before: %v", before)
	}
	if r := s.do("POST", path, "admin", nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("purge: %d %s", r.status, r.body)
	}
	if after := events(); len(after) != 1 || after[0] != app+" STARTED" {
		t.Errorf("events after: %v (before %v)", after, before)
	}
}

// PUT /v2/spaces/:guid/staging_security_groups/:sg answers 201 and the
// space, DELETE /v2/spaces/:guid/security_groups/:sg 204 (MAPPING-orgs
// §11.4), bound and unbound in v3; a developer may do neither.
func TestV2CoverageSpaceSecurityGroups(t *testing.T) {
	s := startStack(t, nil)
	sg := s.postV2(t, "admin", "/v2/security_groups", `{"name":"cov-sg"}`)
	space := backend.DemoSpaceGUID
	bound := func(lifecycle string) bool {
		var g struct {
			Relationships map[string]struct {
				Data []struct{ GUID string } `json:"data"`
			} `json:"relationships"`
		}
		if st := s.v3JSON(t, "/v3/security_groups/"+sg, &g); st != 200 {
			t.Fatalf("v3 group: %d", st)
		}
		for _, d := range g.Relationships[lifecycle+"_spaces"].Data {
			if d.GUID == space {
				return true
			}
		}
		return false
	}
	r := s.do("PUT", s.gwURL+"/v2/spaces/"+space+"/staging_security_groups/"+sg, "admin", nil)
	wantStatus(t, "PUT staging", r, 201, `"guid":"`+space+`"`)
	sameShape(t, "PUT staging", r.body, "", spaceShapeRef, "", spaceOptional...)
	if !bound("staging") || bound("running") {
		t.Errorf("after PUT staging: staging %v, running %v", bound("staging"), bound("running"))
	}
	if r := s.do("PUT", s.gwURL+"/v2/security_groups/"+sg+"/spaces/"+space, "admin", nil); r.status != 201 {
		t.Fatalf("bind running: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/spaces/"+space+"/security_groups/"+sg, "admin", nil); r.status != 204 || len(r.body) != 0 {
		t.Errorf("DELETE running: %d %s", r.status, r.body)
	}
	if !bound("staging") || bound("running") {
		t.Errorf("after DELETE running: staging %v, running %v", bound("staging"), bound("running"))
	}

	// Refusals: a developer is no manager (SpaceAccess via
	// read_related_object_for_update?); an unknown space; an unknown group.
	for _, method := range []string{"PUT", "DELETE"} {
		wantStatus(t, method+" as a developer", s.do(method, s.gwURL+"/v2/spaces/"+space+"/staging_security_groups/"+sg, "developer", nil), 403,
			`"error_code":"CF-NotAuthorized"`)
	}
	wantError(t, s.do("DELETE", s.gwURL+"/v2/spaces/nope/security_groups/"+sg, "admin", nil), 404,
		`{"description":"The app space could not be found: nope","error_code":"CF-SpaceNotFound","code":40004}`)
	wantStatus(t, "an unknown group", s.do("PUT", s.gwURL+"/v2/spaces/"+space+"/staging_security_groups/nope", "admin", nil), 400,
		`"error_code":"CF-InvalidRelation"`)
	if !bound("staging") {
		t.Error("a refusal unbound the group")
	}
}
