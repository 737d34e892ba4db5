package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// userSummary is the part of GET /v2/users/:guid/summary the test reads.
type userSummary struct {
	Metadata map[string]any `json:"metadata"`
	Entity   map[string][]struct {
		Metadata struct {
			GUID string `json:"guid"`
		} `json:"metadata"`
		Entity struct {
			Name            string `json:"name"`
			Status          string `json:"status"`
			BillingEnabled  *bool  `json:"billing_enabled"`
			Spaces          []struct{ Entity struct{ Name string } }
			QuotaDefinition *struct {
				Entity struct {
					Name           string `json:"name"`
					MemoryLimit    int64  `json:"memory_limit"`
					TotalServices  int64  `json:"total_services"`
					TrialDBAllowed *bool  `json:"trial_db_allowed"`
				}
			} `json:"quota_definition"`
			Managers []struct {
				Metadata struct{ GUID string }
				Entity   map[string]any
			}
		} `json:"entity"`
	} `json:"entity"`
}

func (u userSummary) names(list string) []string {
	var out []string
	for _, r := range u.Entity[list] {
		out = append(out, r.Entity.Name)
	}
	return out
}

// GET /v2/users/:guid/summary (MAPPING-orgs §11.5): the user's orgs, each
// with its spaces, quota and managers, and the user's spaces, by role; for
// the user itself and admins only.
func TestV2UserSummary(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "summary-org"})
	if err != nil {
		t.Fatal(err)
	}
	var spaceGUIDs []string
	for _, name := range []string{"alpha", "beta"} {
		sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: name, OrganizationGuid: org.Guid, AllowSSH: true})
		if err != nil {
			t.Fatal(err)
		}
		spaceGUIDs = append(spaceGUIDs, sp.Guid)
	}
	dev := backend.DeveloperGUID
	steps := []func() error{
		func() error { _, err := admin.AssociateOrgUser(org.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgManager(org.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgBillingManager(org.Guid, dev); return err },
		func() error { _, err := admin.AssociateOrgAuditor(org.Guid, dev); return err },
		func() error { _, err := admin.AssociateSpaceDeveloper(spaceGUIDs[0], dev); return err },
		func() error { _, err := admin.AssociateSpaceManager(spaceGUIDs[1], dev); return err },
		func() error { _, err := admin.AssociateSpaceAuditor(spaceGUIDs[1], dev); return err },
		// demo-org gets a manager, the auditor (already its org user).
		func() error {
			_, err := admin.AssociateOrgManager(backend.DemoOrgGUID, backend.AuditorGUID)
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	url := s.gwURL + "/v2/users/" + dev + "/summary"
	self := s.do("GET", url, "developer", nil)
	if self.status != 200 {
		t.Fatalf("own summary: %d %s", self.status, self.body)
	}
	var sum userSummary
	if err := json.Unmarshal(self.body, &sum); err != nil {
		t.Fatal(err)
	}
	// ApiPresenter's metadata: guid, created_at, updated_at, no url; then
	// the entity's lists in UserSummaryPresenter's order.
	if !regexp.MustCompile(`^\{"metadata":\{"guid":"`+dev+`","created_at":"[0-9T:-]+Z","updated_at":"[0-9T:-]+Z"\},"entity":\{"organizations":\[`).Match(self.body) ||
		bytes.Contains(self.body, []byte(`"url"`)) {
		t.Errorf("summary's metadata: %s", self.body)
	}
	var keys []string
	for _, k := range []string{"organizations", "managed_organizations", "billing_managed_organizations", "audited_organizations", "spaces", "managed_spaces", "audited_spaces"} {
		keys = append(keys, `"`+k+`":[`)
	}
	at := 0
	for _, k := range keys {
		i := bytes.Index(self.body[at:], []byte(k))
		if i < 0 {
			t.Fatalf("%s missing or out of order: %s", k, self.body)
		}
		at += i
	}
	for list, want := range map[string][]string{
		"organizations":                 {"demo-org", "summary-org"},
		"managed_organizations":         {"summary-org"},
		"billing_managed_organizations": {"summary-org"},
		"audited_organizations":         {"summary-org"},
		"spaces":                        {"demo-space", "alpha"},
		"managed_spaces":                {"beta"},
		"audited_spaces":                {"beta"},
	} {
		if got := sum.names(list); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", list, got, want)
		}
	}
	managed := sum.Entity["managed_organizations"][0]
	if e := managed.Entity; e.Status != "active" || e.BillingEnabled == nil || *e.BillingEnabled || len(e.Spaces) != 2 ||
		e.Spaces[0].Entity.Name != "alpha" || e.Spaces[1].Entity.Name != "beta" {
		t.Errorf("the managed org: %+v", e)
	}
	if q := managed.Entity.QuotaDefinition; q == nil || q.Entity.Name != "default" || q.Entity.MemoryLimit != 102400 ||
		q.Entity.TotalServices != -1 || q.Entity.TrialDBAllowed == nil || *q.Entity.TrialDBAllowed {
		t.Errorf("the managed org's quota: %+v", q)
	}
	if m := managed.Entity.Managers; len(m) != 1 || m[0].Metadata.GUID != dev || len(m[0].Entity) != 3 || m[0].Entity["admin"] != false ||
		m[0].Entity["active"] != false || m[0].Entity["default_space_guid"] != nil {
		t.Errorf("the managed org's managers: %+v", m)
	}
	if m := sum.Entity["organizations"][0].Entity.Managers; len(m) != 1 || m[0].Metadata.GUID != backend.AuditorGUID {
		t.Errorf("demo-org's managers: %+v", m)
	}
	if !bytes.Contains(self.body, []byte(`"entity":{"admin":false,"active":false,"default_space_guid":null}`)) ||
		!bytes.Contains(self.body, []byte(`"entity":{"name":"default","non_basic_services_allowed":true,"total_services":-1,"memory_limit":102400,"trial_db_allowed":false,"total_routes":1000,"instance_memory_limit":-1,"total_private_domains":-1,"app_instance_limit":-1,"app_task_limit":-1}`)) {
		t.Errorf("the presenters' key order: %s", self.body)
	}

	// An admin reads the same summary (the user sees every space of these
	// orgs too); a read-only admin may as well.
	if r := s.do("GET", url, "admin", nil); r.status != 200 || !bytes.Equal(r.body, self.body) {
		t.Errorf("admin's view: %d %s\nwant %s", r.status, r.body, self.body)
	}
	// Tokens of the auditor user with other scopes.
	as := func(scope string) string {
		tok, err := s.cf.Token(context.Background(), "auditor", scope)
		if err != nil {
			t.Fatal(err)
		}
		return "bearer " + tok
	}
	if r := s.do("GET", url, as("cloud_controller.admin_read_only"), nil); r.status != 200 || !bytes.Equal(r.body, self.body) {
		t.Errorf("a read-only admin's view: %d %s", r.status, r.body)
	}
	// Another user, a global auditor included, is refused (UserAccess#read?);
	// an unknown user is UserNotFound first.
	for _, who := range []string{"auditor", as("cloud_controller.global_auditor")} {
		if r := s.do("GET", url, who, nil); r.status != 403 || !bytes.Contains(r.body, []byte(`"error_code":"CF-NotAuthorized"`)) {
			t.Errorf("another user's summary: %d %s", r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/users/no-such-user/summary", "admin", nil); r.status != 404 ||
		!bytes.Contains(r.body, []byte(`"description":"The user could not be found: no-such-user","error_code":"CF-UserNotFound","code":20003`)) {
		t.Errorf("an unknown user: %d %s", r.status, r.body)
	}
	// A user without roles has empty lists.
	if r := s.do("GET", s.gwURL+"/v2/users/"+backend.OutsiderGUID+"/summary", "outsider", nil); r.status != 200 ||
		!bytes.Contains(r.body, []byte(`"entity":{"organizations":[],"managed_organizations":[],"billing_managed_organizations":[],"audited_organizations":[],"spaces":[],"managed_spaces":[],"audited_spaces":[]}`)) {
		t.Errorf("a user without roles: %d %s", r.status, r.body)
	}
}
