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

// entityKeys returns the keys of the first resource entity of body (a list)
// or of body's entity (one resource), in wire order.
func entityKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var doc struct {
		Entity    json.RawMessage `json:"entity"`
		Resources []struct {
			Entity json.RawMessage `json:"entity"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	raw := doc.Entity
	if raw == nil && len(doc.Resources) > 0 {
		raw = doc.Resources[0].Entity
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestV2OrgsSpacesStacksLists(t *testing.T) {
	s := startStack(t, nil)
	org := backend.DemoOrgGUID
	cases := []struct {
		name, path, user string
		total            int
		names            []string
		next             string // "" = null
	}{
		{"orgs as developer", "/v2/organizations", "developer", 1, []string{"demo-org"}, ""},
		{"orgs as auditor", "/v2/organizations", "auditor", 1, []string{"demo-org"}, ""},
		{"orgs as outsider", "/v2/organizations", "outsider", 0, nil, ""},
		{"orgs as admin", "/v2/organizations", "admin", 1, []string{"demo-org"}, ""},
		{"orgs by name", "/v2/organizations?q=name:demo-org", "developer", 1, []string{"demo-org"}, ""},
		{"orgs by another name", "/v2/organizations?q=name:other", "developer", 0, nil, ""},
		{"orgs by name >= (gateway side)", "/v2/organizations?q=name%3Edemo", "admin", 1, []string{"demo-org"}, ""},
		{"orgs by name < (gateway side)", "/v2/organizations?q=name%3Cdemo", "admin", 0, nil, ""},
		{"orgs ordered by name", "/v2/organizations?order-by=name&order-direction=desc", "admin", 1, []string{"demo-org"}, ""},
		{"spaces as developer", "/v2/spaces", "developer", 1, []string{"demo-space"}, ""},
		{"spaces as auditor", "/v2/spaces", "auditor", 1, []string{"demo-space"}, ""},
		{"spaces as outsider", "/v2/spaces", "outsider", 0, nil, ""},
		{"spaces as admin", "/v2/spaces", "admin", 1, []string{"demo-space"}, ""},
		{"spaces by org", "/v2/spaces?q=organization_guid:" + org, "developer", 1, []string{"demo-space"}, ""},
		{"spaces by another org", "/v2/spaces?q=organization_guid:nope", "admin", 0, nil, ""},
		{"spaces by name and org", "/v2/spaces?q=name:demo-space;organization_guid:" + org, "developer", 1, []string{"demo-space"}, ""},
		{"spaces by another name", "/v2/spaces?q=name:x", "developer", 0, nil, ""},
		{"org spaces", "/v2/organizations/" + org + "/spaces", "developer", 1, []string{"demo-space"}, ""},
		{"org spaces as admin with a contradicting q", "/v2/organizations/" + org + "/spaces?q=organization_guid:nope", "admin", 0, nil, ""},
		{"stacks as outsider", "/v2/stacks", "outsider", 2, []string{"cflinuxfs4", "cflinuxfs3"}, ""},
		{"stacks page 1 of 2", "/v2/stacks?results-per-page=1", "developer", 2, []string{"cflinuxfs4"},
			"/v2/stacks?order-direction=asc&page=2&results-per-page=1"},
		{"stacks by name", "/v2/stacks?q=name:cflinuxfs3", "developer", 1, []string{"cflinuxfs3"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", s.gwURL+tc.path, tc.user, nil)
			if r.status != 200 || string(r.header.ContentType()) != contentTypeV2 {
				t.Fatalf("%d %s %s", r.status, r.header.ContentType(), r.body)
			}
			var l v2List
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, res := range l.Resources {
				var n string
				_ = json.Unmarshal(res.Entity["name"], &n)
				names = append(names, n)
			}
			if l.TotalResults != tc.total || !slices.Equal(names, tc.names) {
				t.Errorf("total %d names %v, want %d %v", l.TotalResults, names, tc.total, tc.names)
			}
			next := ""
			if l.NextURL != nil {
				next = *l.NextURL
			}
			if next != tc.next {
				t.Errorf("next_url %q, want %q", next, tc.next)
			}
		})
	}
}

func TestV2OrgsSpacesStacksResources(t *testing.T) {
	s := startStack(t, nil)
	org, space, stack := backend.DemoOrgGUID, backend.DemoSpaceGUID, backend.StackFS4GUID
	cases := []struct {
		name, path, user string
		status           int
		want             string // a fragment of the body
	}{
		{"org", "/v2/organizations/" + org, "developer", 200,
			`"entity":{"name":"demo-org","billing_enabled":false,"quota_definition_guid":"` + backend.DemoQuotaGUID + `","status":"active","default_isolation_segment_guid":null,"quota_definition_url":"/v2/quota_definitions/` + backend.DemoQuotaGUID + `","spaces_url":"/v2/organizations/` + org + `/spaces"`},
		{"org url", "/v2/organizations/" + org, "admin", 200, `"metadata":{"guid":"` + org + `","url":"/v2/organizations/` + org + `","created_at":"`},
		{"org invisible", "/v2/organizations/" + org, "outsider", 404,
			`{"description":"The organization could not be found: ` + org + `","error_code":"CF-OrganizationNotFound","code":30003}`},
		{"org missing", "/v2/organizations/nope", "admin", 404, `"code":30003`},
		{"org spaces invisible", "/v2/organizations/" + org + "/spaces", "outsider", 404, `"code":30003`},
		{"space", "/v2/spaces/" + space, "auditor", 200,
			`"entity":{"name":"demo-space","organization_guid":"` + org + `","space_quota_definition_guid":null,"isolation_segment_guid":null,"allow_ssh":true,"organization_url":"/v2/organizations/` + org + `","developers_url":"/v2/spaces/` + space + `/developers"`},
		{"space invisible", "/v2/spaces/" + space, "outsider", 404,
			`{"description":"The app space could not be found: ` + space + `","error_code":"CF-SpaceNotFound","code":40004}`},
		{"stack", "/v2/stacks/" + stack, "outsider", 200,
			`"entity":{"name":"cflinuxfs4","description":"Cloud Foundry Linux-based filesystem (Ubuntu 22.04)","build_rootfs_image":"cflinuxfs4","run_rootfs_image":"cflinuxfs4"}}`},
		{"stack missing", "/v2/stacks/nope", "developer", 404,
			`{"description":"The stack could not be found: nope","error_code":"CF-StackNotFound","code":250003}`},
		// CC answers a forbidden order-by 500 OrderByParameterInvalid.
		{"orgs order-by id is allowed", "/v2/organizations?order-by=id", "developer", 200, `"total_results":1`},
		{"orgs order-by other", "/v2/organizations?order-by=created_at", "developer", 500, `"code":10012`},
		{"stacks order-by name", "/v2/stacks?order-by=name", "developer", 500, `"description":"Cannot order by: name"`},
		{"spaces unknown q key", "/v2/spaces?q=space_quota_definition_guid:x", "developer", 400, `"code":10005`},
		{"spaces by developer", "/v2/spaces?q=developer_guid:" + backend.DeveloperGUID, "developer", 200, `"total_results":1`},
		{"spaces by another developer", "/v2/spaces?q=developer_guid:" + backend.AuditorGUID, "developer", 200, `"total_results":0`},
		{"spaces of an unknown app", "/v2/spaces?q=app_guid:nope", "developer", 200, `"total_results":0`},
		{"org spaces by developer", "/v2/organizations/" + org + "/spaces?q=developer_guid:" + backend.DeveloperGUID, "admin", 200, `"name":"demo-space"`},
		{"no token", "/v2/spaces", "", 401, `"code":10002`},
		// A v2 org delete without recursive refuses an org with spaces (CC's
		// AssociationNotEmpty, MAPPING-orgs §11.4).
		{"delete refused with spaces", "/v2/organizations/" + org, "admin", 400,
			`{"description":"Please delete the spaces associations for your organizations.","error_code":"CF-AssociationNotEmpty","code":10006}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.name == "delete refused with spaces" {
				method = "DELETE"
			}
			r := s.do(method, s.gwURL+tc.path, tc.user, nil)
			if r.status != tc.status || !bytes.Contains(r.body, []byte(tc.want)) {
				t.Errorf("%d %s\nwant %d and %s", r.status, r.body, tc.status, tc.want)
			}
		})
	}

	// Key order is CC's presenters' (OrganizationPresenter, SpacePresenter,
	// Stack export_attributes), lists and single GETs alike.
	orgKeys := []string{"name", "billing_enabled", "quota_definition_guid", "status", "default_isolation_segment_guid",
		"quota_definition_url", "spaces_url", "domains_url", "private_domains_url", "users_url", "managers_url",
		"billing_managers_url", "auditors_url", "app_events_url", "space_quota_definitions_url"}
	spaceKeys := []string{"name", "organization_guid", "space_quota_definition_guid", "isolation_segment_guid", "allow_ssh",
		"organization_url", "developers_url", "managers_url", "auditors_url", "apps_url", "routes_url", "domains_url",
		"service_instances_url", "app_events_url", "events_url", "security_groups_url", "staging_security_groups_url"}
	stackKeys := []string{"name", "description", "build_rootfs_image", "run_rootfs_image"}
	for path, want := range map[string][]string{
		"/v2/organizations": orgKeys, "/v2/organizations/" + org: orgKeys,
		"/v2/spaces": spaceKeys, "/v2/spaces/" + space: spaceKeys, "/v2/organizations/" + org + "/spaces": spaceKeys,
		"/v2/stacks": stackKeys, "/v2/stacks/" + stack: stackKeys,
	} {
		r := s.do("GET", s.gwURL+path, "developer", nil)
		if got := entityKeys(t, r.body); !slices.Equal(got, want) {
			t.Errorf("%s entity keys\n%v\nwant\n%v", path, got, want)
		}
	}
}

// TestGoCFClientReadsOrgsSpacesStacks reads through go-cfclient's last v2
// release, as developer, auditor, outsider and admin.
func TestGoCFClientReadsOrgsSpacesStacks(t *testing.T) {
	s := startStack(t, nil)
	for _, tc := range []struct {
		user   string
		orgs   int
		spaces int
	}{{"developer", 1, 1}, {"auditor", 1, 1}, {"outsider", 0, 0}, {"admin", 1, 1}} {
		t.Run(tc.user, func(t *testing.T) {
			c := s.goCFClient(t, tc.user)
			orgs, err := c.ListOrgs()
			if err != nil || len(orgs) != tc.orgs {
				t.Fatalf("ListOrgs: %v %+v, want %d", err, orgs, tc.orgs)
			}
			spaces, err := c.ListSpaces()
			if err != nil || len(spaces) != tc.spaces {
				t.Fatalf("ListSpaces: %v %+v, want %d", err, spaces, tc.spaces)
			}
			stacks, err := c.ListStacks()
			if err != nil || len(stacks) != 2 || stacks[0].Name != "cflinuxfs4" || stacks[0].Guid != backend.StackFS4GUID ||
				stacks[0].Description == "" {
				t.Errorf("ListStacks: %v %+v", err, stacks)
			}
			st, err := c.GetStackByGuid(backend.StackFS3GUID)
			if err != nil || st.Name != "cflinuxfs3" {
				t.Errorf("GetStackByGuid: %v %+v", err, st)
			}
			o, orgErr := c.GetOrgByGuid(backend.DemoOrgGUID)
			sp, spaceErr := c.GetSpaceByGuid(backend.DemoSpaceGUID)
			if tc.orgs == 0 {
				if orgErr == nil || spaceErr == nil {
					t.Errorf("%s read what it cannot see: %+v %+v", tc.user, o, sp)
				}
				if !cfclient.IsOrganizationNotFoundError(orgErr) {
					t.Errorf("GetOrgByGuid error %v, want OrganizationNotFound", orgErr)
				}
				return
			}
			if orgErr != nil || o.Name != "demo-org" || o.Guid != backend.DemoOrgGUID || o.Status != "active" ||
				o.QuotaDefinitionGuid != backend.DemoQuotaGUID || orgs[0].Guid != backend.DemoOrgGUID {
				t.Errorf("GetOrgByGuid: %v %+v", orgErr, o)
			}
			if spaceErr != nil || sp.Name != "demo-space" || sp.OrganizationGuid != backend.DemoOrgGUID || !sp.AllowSSH ||
				spaces[0].Guid != backend.DemoSpaceGUID {
				t.Errorf("GetSpaceByGuid: %v %+v", spaceErr, sp)
			}
			byOrg, err := c.ListSpacesByOrgGuid(backend.DemoOrgGUID)
			if err != nil || len(byOrg) != 1 || byOrg[0].Name != "demo-space" {
				t.Errorf("ListSpacesByOrgGuid: %v %+v", err, byOrg)
			}
			byName, err := c.GetOrgByName("demo-org")
			if err != nil || byName.Guid != backend.DemoOrgGUID {
				t.Errorf("GetOrgByName: %v %+v", err, byName)
			}
			sn, err := c.GetSpaceByName("demo-space", backend.DemoOrgGUID)
			if err != nil || sn.Guid != backend.DemoSpaceGUID {
				t.Errorf("GetSpaceByName: %v %+v", err, sn)
			}
			if _, err := c.ListOrgsByQuery(url.Values{"q": {"name:missing"}}); err != nil {
				t.Errorf("ListOrgsByQuery: %v", err)
			}
		})
	}
}
