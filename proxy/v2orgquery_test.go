package proxy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// orgNames reads the names of a v2 org list, in order.
func orgNames(t *testing.T, body []byte) []string {
	t.Helper()
	var list struct {
		Resources []struct {
			Entity struct{ Name string } `json:"entity"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := []string{}
	for _, r := range list.Resources {
		out = append(out, r.Entity.Name)
	}
	return out
}

// The q keys of /v2/organizations beyond name (MAPPING-orgs §11.2.1):
// space_guid and the role keys through v3 spaces and roles, the operator
// ignored; status matched on each org, the operator honoured.
func TestV2OrgQueryKeys(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	team, err := admin.CreateOrg(cfclient.OrgRequest{Name: "team-org"})
	if err != nil {
		t.Fatal(err)
	}
	paused, err := admin.CreateOrg(cfclient.OrgRequest{Name: "paused-org", Status: "suspended"})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "team-space", OrganizationGuid: team.Guid, AllowSSH: true})
	if err != nil {
		t.Fatal(err)
	}
	dev, aud := backend.DeveloperGUID, backend.AuditorGUID
	for i, step := range []func() error{
		func() error { _, err := admin.AssociateOrgUser(team.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgManager(team.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgUser(paused.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgBillingManager(paused.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgUser(team.Guid, aud); return err },
		func() error { _, err := admin.AssociateOrgAuditor(team.Guid, aud); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	cases := []struct {
		name, query, user string
		want              []string
	}{
		{"space", "q=space_guid:" + sp.Guid, "admin", []string{"team-org"}},
		{"spaces IN", "q=space_guid%20IN%20" + sp.Guid + "," + backend.DemoSpaceGUID + "&order-by=name", "admin", []string{"demo-org", "team-org"}},
		{"unknown space", "q=space_guid:nope", "admin", []string{}},
		{"org user", "q=user_guid:" + dev + "&order-by=name", "admin", []string{"demo-org", "paused-org", "team-org"}},
		{"manager", "q=manager_guid:" + dev, "admin", []string{"team-org"}},
		// An association filter ignores its operator (MAPPING §3.1).
		{"manager, operator ignored", "q=manager_guid>" + dev, "admin", []string{"team-org"}},
		{"billing manager", "q=billing_manager_guid:" + dev, "admin", []string{"paused-org"}},
		{"auditor", "q=auditor_guid:" + aud, "admin", []string{"team-org"}},
		{"auditor of none", "q=auditor_guid:" + dev, "admin", []string{}},
		{"empty guid", "q=user_guid:", "admin", []string{}},
		{"empty IN", "q=user_guid%20IN%20", "admin", []string{}},
		{"suspended", "q=status:suspended", "admin", []string{"paused-org"}},
		{"active", "q=status:active&order-by=name", "admin", []string{"demo-org", "team-org"}},
		// status is a column: exact, and the operator counts.
		{"status is exact", "q=status:Active", "admin", []string{}},
		{"deleting", "q=status:deleting", "admin", []string{}},
		{"status IN", "q=status%20IN%20suspended,deleting", "admin", []string{"paused-org"}},
		{"status >", "q=status>b&order-by=name", "admin", []string{"paused-org"}},
		{"status <=, descending", "q=status<=active&order-by=name&order-direction=desc", "admin", []string{"team-org", "demo-org"}},
		{"role and status", "q=user_guid:" + dev + "&q=status:active&order-by=name", "admin", []string{"demo-org", "team-org"}},
		{"role and status in one q", "q=billing_manager_guid:" + dev + ";status:active", "admin", []string{}},
		{"role and name", "q=user_guid:" + dev + "&q=name:team-org", "admin", []string{"team-org"}},
		{"two roles AND", "q=manager_guid:" + dev + "&q=auditor_guid:" + aud, "admin", []string{"team-org"}},
		// The caller's visibility still bounds the list.
		{"outsider", "q=user_guid:" + dev, "outsider", []string{}},
		{"auditor sees its orgs", "q=user_guid:" + dev + "&order-by=name", "auditor", []string{"demo-org", "team-org"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", s.gwURL+"/v2/organizations?"+tc.query, tc.user, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := orgNames(t, r.body); !slices.Equal(got, tc.want) {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
	// A page of a status filter, read and paged here.
	r := s.do("GET", s.gwURL+"/v2/organizations?q=status:active&order-by=name&results-per-page=1&page=2", "admin", nil)
	if got := orgNames(t, r.body); r.status != 200 || !slices.Equal(got, []string{"team-org"}) ||
		!bytes.Contains(r.body, []byte(`"total_results":2,"total_pages":2,"prev_url":"/v2/organizations?order-by=name&order-direction=asc&page=1&q=status:active&results-per-page=1","next_url":null`)) {
		t.Errorf("second page: %d %s", r.status, r.body)
	}
	// Unknown keys stay BadQueryParameter.
	if r := s.do("GET", s.gwURL+"/v2/organizations?q=quota_definition_guid:x", "admin", nil); r.status != 400 ||
		!bytes.Contains(r.body, []byte(`"description":"The query parameter is invalid: quota_definition_guid","error_code":"CF-BadQueryParameter","code":10005`)) {
		t.Errorf("unknown key: %d %s", r.status, r.body)
	}
	// The nested org lists take the same keys.
	for path, want := range map[string][]string{
		"/v2/users/" + dev + "/organizations?q=status:suspended":                    {"paused-org"},
		"/v2/users/" + dev + "/organizations?q=manager_guid:" + dev:                 {"team-org"},
		"/v2/users/" + dev + "/billing_managed_organizations?q=status:active":       {},
		"/v2/users/" + dev + "/organizations?q=space_guid:" + backend.DemoSpaceGUID: {"demo-org"},
	} {
		r := s.do("GET", s.gwURL+path, "admin", nil)
		if got := orgNames(t, r.body); r.status != 200 || !slices.Equal(got, want) {
			t.Errorf("%s: %d %v, want %v", path, r.status, got, want)
		}
	}
	// go-cfclient's ListOrgsByQuery.
	orgs, err := admin.ListOrgsByQuery(url.Values{"q": {"manager_guid:" + dev}})
	if err != nil || len(orgs) != 1 || orgs[0].Guid != team.Guid {
		t.Errorf("ListOrgsByQuery: %v %+v", err, orgs)
	}
}
