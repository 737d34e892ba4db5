package proxy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// roleHolders are the guids listed at a v2 role list path, sorted.
func roleHolders(t *testing.T, s *stack, path string) []string {
	t.Helper()
	return listGUIDs(t, s.do("GET", s.gwURL+path, "admin", nil))
}

// PUT /v2/spaces/:guid with developer_guids, manager_guids and
// auditor_guids (MAPPING-orgs §11.0, §11.4): each list replaces the
// holders of its role, as CC's guids writers; every user is checked
// before anything changes, in CC's order; removing the last manager is
// allowed, but not a non-admin's own way to update the space.
func TestV2SpaceRoleLists(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	// The outsider becomes a CC user by calling the API; it has no role
	// in the demo org.
	s.do("GET", s.gwURL+"/v2/organizations", "outsider", nil)
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "crew", OrganizationGuid: backend.DemoOrgGUID, AllowSSH: true})
	if err != nil {
		t.Fatal(err)
	}
	base := "/v2/spaces/" + sp.Guid
	url := s.gwURL + base
	dev, aud := backend.DeveloperGUID, backend.AuditorGUID
	check := func(what string, want map[string][]string) {
		t.Helper()
		for list, guids := range want {
			if got := roleHolders(t, s, base+"/"+list); !slices.Equal(got, sortedGUIDs(guids...)) {
				t.Errorf("%s: %s %v, want %v", what, list, got, sortedGUIDs(guids...))
			}
		}
	}
	want := func(what string, r reply, status int, body string) {
		t.Helper()
		if r.status != status || !bytes.Contains(r.body, []byte(body)) {
			t.Errorf("%s: %d %s\nwant %d %s", what, r.status, r.body, status, body)
		}
	}

	want("set", s.do("PUT", url, "admin", []byte(`{"developer_guids":["`+dev+`"],"manager_guids":["`+aud+`","`+aud+`"]}`)), 201, `"guid":"`+sp.Guid+`"`)
	check("set", map[string][]string{"developers": {dev}, "managers": {aud}, "auditors": {}})

	// go-cfclient's UpdateSpace leaves out empty lists (omitempty): a
	// rename changes no role, a list replaces its role only.
	if _, err := admin.UpdateSpace(sp.Guid, cfclient.SpaceRequest{Name: "crew-2", OrganizationGuid: backend.DemoOrgGUID, AllowSSH: true}); err != nil {
		t.Fatal(err)
	}
	check("rename", map[string][]string{"developers": {dev}, "managers": {aud}})
	if _, err := admin.UpdateSpace(sp.Guid, cfclient.SpaceRequest{Name: "crew-2", OrganizationGuid: backend.DemoOrgGUID, AllowSSH: true,
		DeveloperGuid: []string{aud}}); err != nil {
		t.Fatal(err)
	}
	check("UpdateSpace", map[string][]string{"developers": {aud}, "managers": {aud}})

	// Refusals change nothing. A user outside the org: InvalidRelation
	// whose description is the guid; one CC does not know names the model.
	// The developers are checked before the managers and before the name.
	want("outside the org", s.do("PUT", url, "admin", []byte(`{"manager_guids":[],"developer_guids":["`+dev+`","`+backend.OutsiderGUID+`"]}`)),
		400, `{"description":"`+backend.OutsiderGUID+`","error_code":"CF-InvalidRelation","code":1002}`)
	want("unknown", s.do("PUT", url, "admin", []byte(`{"name":"","developer_guids":[],"auditor_guids":["nope"]}`)),
		400, `{"description":"Could not find VCAP::CloudController::User with guid: nope","error_code":"CF-InvalidRelation","code":1002}`)
	check("refusals", map[string][]string{"developers": {aud}, "managers": {aud}, "auditors": {}})

	// A space manager who is no org manager may change the lists, but not
	// leave the managers: CC checks update? again after the lists.
	want("a manager adds", s.do("PUT", url, "auditor", []byte(`{"manager_guids":["`+aud+`","`+dev+`"],"auditor_guids":["`+dev+`"]}`)), 201, `"name":"crew-2"`)
	check("a manager adds", map[string][]string{"managers": {aud, dev}, "auditors": {dev}})
	want("a manager leaves", s.do("PUT", url, "auditor", []byte(`{"manager_guids":["`+dev+`"],"developer_guids":[]}`)), 403, `"error_code":"CF-NotAuthorized"`)
	check("a manager leaves", map[string][]string{"managers": {aud, dev}, "developers": {aud}})
	// A developer may not update the space at all.
	want("a developer", s.do("PUT", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID, "developer", []byte(`{"developer_guids":["`+dev+`"]}`)),
		403, `"error_code":"CF-NotAuthorized"`)

	// An admin may remove every manager: v2 has no last-manager check on
	// an update; [] clears a role.
	want("clear", s.do("PUT", url, "admin", []byte(`{"manager_guids":[],"auditor_guids":[]}`)), 201, `"guid":"`+sp.Guid+`"`)
	check("clear", map[string][]string{"developers": {aud}, "managers": {}, "auditors": {}})

	// On create, a user CC does not know fails the create, which leaves
	// no space.
	r := s.do("POST", s.gwURL+"/v2/spaces", "admin", []byte(`{"name":"ghosts","organization_guid":"`+backend.DemoOrgGUID+`","auditor_guids":["nope"]}`))
	want("create with an unknown user", r, 400, `"description":"Could not find VCAP::CloudController::User with guid: nope"`)
	if _, err := admin.GetSpaceByName("ghosts", backend.DemoOrgGUID); err == nil {
		t.Error("the failed create left its space")
	}
}

// PUT and POST /v2/organizations with user_guids, manager_guids,
// billing_manager_guids and auditor_guids (MAPPING-orgs §11.2.2,
// §11.2.3): the lists replace the org's roles; an org user with space
// roles in the org stays (Organization#remove_user); an org manager may
// not leave the managers, nor send billing_enabled
// (OrganizationAccess#read_for_update?).
func TestV2OrgRoleLists(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	dev, aud := backend.DeveloperGUID, backend.AuditorGUID
	// Created with lists: the roles come with the org; an unknown user
	// creates nothing.
	r := s.do("POST", s.gwURL+"/v2/organizations", "admin", []byte(`{"name":"guild","user_guids":["`+dev+`","`+aud+`"],"manager_guids":["`+dev+`"]}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct{ Metadata struct{ GUID string } }
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	org := created.Metadata.GUID
	base := "/v2/organizations/" + org
	url := s.gwURL + base
	check := func(what string, want map[string][]string) {
		t.Helper()
		for list, guids := range want {
			if got := roleHolders(t, s, base+"/"+list); !slices.Equal(got, sortedGUIDs(guids...)) {
				t.Errorf("%s: %s %v, want %v", what, list, got, sortedGUIDs(guids...))
			}
		}
	}
	want := func(what string, r reply, status int, body string) {
		t.Helper()
		if r.status != status || !bytes.Contains(r.body, []byte(body)) {
			t.Errorf("%s: %d %s\nwant %d %s", what, r.status, r.body, status, body)
		}
	}
	check("create", map[string][]string{"users": {dev, aud}, "managers": {dev}, "billing_managers": {}, "auditors": {}})
	want("create with an unknown user", s.do("POST", s.gwURL+"/v2/organizations", "admin", []byte(`{"name":"ghosts","billing_manager_guids":["nope"]}`)),
		400, `{"description":"Could not find VCAP::CloudController::User with guid: nope","error_code":"CF-InvalidRelation","code":1002}`)
	if _, err := admin.GetOrgByName("ghosts"); err == nil {
		t.Error("the failed create left its org")
	}

	// Replace; go-cfclient's UpdateOrg sends no lists and changes no role.
	want("replace", s.do("PUT", url, "admin", []byte(`{"manager_guids":["`+aud+`","`+dev+`"],"auditor_guids":["`+aud+`"],"billing_manager_guids":[]}`)),
		201, `"name":"guild"`)
	check("replace", map[string][]string{"users": {dev, aud}, "managers": {dev, aud}, "auditors": {aud}})
	if _, err := admin.UpdateOrg(org, cfclient.OrgRequest{Name: "guild-2"}); err != nil {
		t.Fatal(err)
	}
	check("UpdateOrg", map[string][]string{"users": {dev, aud}, "managers": {dev, aud}, "auditors": {aud}})

	// An org user with a space role in the org stays, and nothing of the
	// update happens.
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "hall", OrganizationGuid: org, AllowSSH: true, DeveloperGuid: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	want("an org user with a space role", s.do("PUT", url, "admin", []byte(`{"name":"guild-3","auditor_guids":[],"user_guids":["`+dev+`"]}`)),
		400, `{"description":"Please delete the user associations for your spaces in the org.","error_code":"CF-AssociationNotEmpty","code":10006}`)
	want("unknown", s.do("PUT", url, "admin", []byte(`{"auditor_guids":["nope"]}`)), 400, `"description":"Could not find VCAP::CloudController::User with guid: nope"`)
	check("refusals", map[string][]string{"users": {dev, aud}, "managers": {dev, aud}, "auditors": {aud}})
	if o, err := admin.GetOrgByGuid(org); err != nil || o.Name != "guild-2" {
		t.Errorf("the refused update renamed the org: %v %+v", err, o)
	}
	if err := admin.RemoveSpaceDeveloper(sp.Guid, aud); err != nil {
		t.Fatal(err)
	}
	want("remove an org user", s.do("PUT", url, "admin", []byte(`{"user_guids":["`+dev+`"]}`)), 201, `"name":"guild-2"`)
	check("remove an org user", map[string][]string{"users": {dev}, "managers": {dev, aud}})

	// An org manager: not out of the managers, not billing_enabled; other
	// lists and its own staying are fine; a member who manages nothing may
	// not update, even when nothing would change.
	want("a manager leaves", s.do("PUT", url, "developer", []byte(`{"manager_guids":["`+aud+`"]}`)), 403, `"error_code":"CF-NotAuthorized"`)
	want("billing_enabled", s.do("PUT", url, "developer", []byte(`{"billing_enabled":false}`)), 403, `"error_code":"CF-NotAuthorized"`)
	check("a manager's refusals", map[string][]string{"managers": {dev, aud}})
	want("a manager stays", s.do("PUT", url, "developer", []byte(`{"manager_guids":["`+dev+`"],"user_guids":["`+dev+`","`+aud+`"]}`)), 201, `"name":"guild-2"`)
	check("a manager stays", map[string][]string{"users": {dev, aud}, "managers": {dev}})
	if _, err := admin.AssociateOrgUser(backend.DemoOrgGUID, backend.OutsiderGUID); err != nil {
		t.Fatal(err)
	}
	r = s.do("PUT", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID, "auditor", []byte(`{"user_guids":["`+dev+`","`+aud+`","`+backend.OutsiderGUID+`"]}`))
	want("a member", r, 403, `"error_code":"CF-NotAuthorized"`)
	if !strings.Contains(string(r.body), "You are not authorized") {
		t.Errorf("a member: %s", r.body)
	}
}
