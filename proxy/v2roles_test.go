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

func usernames(us []cfclient.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	slices.Sort(out)
	return out
}

// go-cfclient's role and user functions through the gateway in front of
// the embedded CF (MAPPING-orgs §11.2.6, §11.5, §11.6).
func TestV2RolesGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "roles-org"})
	if err != nil {
		t.Fatal(err)
	}
	space, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "dev", OrganizationGuid: org.Guid})
	if err != nil {
		t.Fatal(err)
	}

	// Adding: by username and by guid, twice (v2's find_or_create).
	if o, err := admin.AssociateOrgUserByUsername(org.Guid, "outsider"); err != nil || o.Guid != org.Guid {
		t.Fatalf("AssociateOrgUserByUsername: %v %+v", err, o)
	}
	for range 2 {
		if _, err := admin.AssociateOrgManager(org.Guid, backend.DeveloperGUID); err != nil {
			t.Fatalf("AssociateOrgManager: %v", err)
		}
	}
	if _, err := admin.AssociateOrgUser(org.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	if us, err := admin.ListOrgUsers(org.Guid); err != nil || !slices.Equal(usernames(us), []string{"developer", "outsider"}) {
		t.Errorf("ListOrgUsers: %v %v", err, usernames(us))
	}
	if us, err := admin.ListOrgManagers(org.Guid); err != nil || !slices.Equal(usernames(us), []string{"developer"}) {
		t.Errorf("ListOrgManagers: %v %v", err, usernames(us))
	}
	if sp, err := admin.AssociateSpaceDeveloperByUsername(space.Guid, "outsider"); err != nil || sp.Guid != space.Guid {
		t.Fatalf("AssociateSpaceDeveloperByUsername: %v %+v", err, sp)
	}
	if us, err := admin.ListSpaceDevelopers(space.Guid); err != nil || !slices.Equal(usernames(us), []string{"outsider"}) {
		t.Errorf("ListSpaceDevelopers: %v %v", err, usernames(us))
	}
	// A space role for a user outside the org: InvalidRelation, the
	// description the user's guid.
	if _, err := admin.AssociateSpaceAuditor(space.Guid, backend.AuditorGUID); err == nil ||
		!strings.Contains(err.Error(), "CF-InvalidRelation") || !strings.Contains(err.Error(), backend.AuditorGUID) {
		t.Errorf("a space role outside the org: %v", err)
	}
	if _, err := admin.AssociateOrgAuditorByUsername(org.Guid, "nobody"); err == nil || !strings.Contains(err.Error(), "The user could not be found: nobody") {
		t.Errorf("an unknown username: %v", err)
	}

	// The user lists and users.
	r := s.do("GET", s.gwURL+"/v2/organizations/"+org.Guid+"/user_roles", "admin", nil)
	var roles struct {
		Resources []struct {
			Entity struct {
				Username          string   `json:"username"`
				OrganizationRoles []string `json:"organization_roles"`
			} `json:"entity"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(r.body, &roles); r.status != 200 || err != nil || len(roles.Resources) != 2 {
		t.Fatalf("user_roles: %d %s", r.status, r.body)
	}
	for _, u := range roles.Resources {
		want := map[string][]string{"developer": {"org_user", "org_manager"}, "outsider": {"org_user"}}[u.Entity.Username]
		if !slices.Equal(u.Entity.OrganizationRoles, want) {
			t.Errorf("user_roles of %s: %v, want %v", u.Entity.Username, u.Entity.OrganizationRoles, want)
		}
	}
	if !bytes.Contains(r.body, []byte(`"default_space_guid":null,"username":"developer","organization_roles":["org_user","org_manager"],"spaces_url":"/v2/users/`+backend.DeveloperGUID+`/spaces"`)) {
		t.Errorf("user_roles' key order: %s", r.body)
	}
	all, err := admin.ListUsers()
	if err != nil || len(all) < 4 {
		t.Errorf("ListUsers: %v %d", err, len(all))
	}
	if u, err := admin.GetUserByGUID(backend.OutsiderGUID); err != nil || u.Username != "outsider" {
		t.Errorf("GetUserByGUID: %v %+v", err, u)
	}
	if orgs, err := admin.ListUserOrgs(backend.OutsiderGUID); err != nil || len(orgs) != 1 || orgs[0].Guid != org.Guid {
		t.Errorf("ListUserOrgs: %v %+v", err, orgs)
	}
	if sps, err := admin.ListUserSpaces(backend.OutsiderGUID); err != nil || len(sps) != 1 || sps[0].Guid != space.Guid {
		t.Errorf("ListUserSpaces: %v %+v", err, sps)
	}
	// A user's own relations, by the user's path.
	if r := s.do("PUT", s.gwURL+"/v2/users/"+backend.OutsiderGUID+"/audited_organizations/"+org.Guid, "admin", nil); r.status != 201 ||
		!bytes.Contains(r.body, []byte(`"username":"outsider"`)) {
		t.Errorf("PUT audited_organizations: %d %s", r.status, r.body)
	}
	if orgs, err := admin.ListUserAuditedOrgs(backend.OutsiderGUID); err != nil || len(orgs) != 1 || orgs[0].Guid != org.Guid {
		t.Errorf("ListUserAuditedOrgs: %v %+v", err, orgs)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/users/"+backend.OutsiderGUID+"/audited_organizations/"+org.Guid, "admin", nil); r.status != 204 {
		t.Errorf("DELETE audited_organizations: %d %s", r.status, r.body)
	}
	if orgs, err := admin.ListUserAuditedOrgs(backend.OutsiderGUID); err != nil || len(orgs) != 0 {
		t.Errorf("ListUserAuditedOrgs after the removal: %v %+v", err, orgs)
	}
	if r := s.do("GET", s.gwURL+"/v2/users", "developer", nil); r.status != 403 || !bytes.Contains(r.body, []byte(`"code":10003`)) {
		t.Errorf("a developer lists users: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/users?q=space_guid:"+space.Guid, "admin", nil); r.status != 200 ||
		!bytes.Contains(r.body, []byte(`"total_results":1`)) || !bytes.Contains(r.body, []byte(`"username":"outsider"`)) {
		t.Errorf("users by space_guid: %d %s", r.status, r.body)
	}

	// Removing: the org user with space roles is refused, then removed
	// recursively; the by-name space removal answers 200 and the space.
	if err := admin.RemoveOrgUser(org.Guid, backend.OutsiderGUID); err == nil || !strings.Contains(err.Error(), "CF-AssociationNotEmpty") {
		t.Errorf("RemoveOrgUser with a space role: %v", err)
	}
	r = s.do("DELETE", s.gwURL+"/v2/spaces/"+space.Guid+"/developers", "admin", []byte(`{"username":"outsider"}`))
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"guid":"`+space.Guid+`"`)) {
		t.Errorf("space role removal by username: %d %s", r.status, r.body)
	}
	if us, err := admin.ListSpaceDevelopers(space.Guid); err != nil || len(us) != 0 {
		t.Errorf("developers after the removal: %v %v", err, usernames(us))
	}
	if _, err := admin.AssociateSpaceManager(space.Guid, backend.OutsiderGUID); err != nil {
		t.Fatal(err)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/organizations/"+org.Guid+"/users/"+backend.OutsiderGUID+"?recursive=true", "admin", nil); r.status != 204 {
		t.Errorf("recursive org user removal: %d %s", r.status, r.body)
	}
	if us, err := admin.ListSpaceManagers(space.Guid); err != nil || len(us) != 0 {
		t.Errorf("space managers after the recursive removal: %v %v", err, usernames(us))
	}
	// Removing a role the user lacks is a no-op.
	if r := s.do("DELETE", s.gwURL+"/v2/organizations/"+org.Guid+"/auditors/"+backend.OutsiderGUID, "admin", nil); r.status != 204 {
		t.Errorf("removing a missing role: %d %s", r.status, r.body)
	}
	// An org manager who is not an admin may not remove the last manager.
	dev := s.goCFClient(t, "developer")
	if err := dev.RemoveOrgManager(org.Guid, backend.DeveloperGUID); err == nil || !strings.Contains(err.Error(), "CF-LastManagerInOrg") {
		t.Errorf("removing the last manager: %v", err)
	}
	if err := admin.RemoveOrgManagerByUsername(org.Guid, "developer"); err != nil {
		t.Errorf("RemoveOrgManagerByUsername: %v", err)
	}
	if us, err := admin.ListOrgManagers(org.Guid); err != nil || len(us) != 0 {
		t.Errorf("managers after the removal: %v %v", err, usernames(us))
	}
}

// cf create-user: the UAA user through the gateway's UAA passthrough, then
// POST /v2/users with its id; the new user gets roles by name.
func TestV2CreateUserFlow(t *testing.T) {
	s := startStack(t, nil)
	r := s.do("POST", s.gwURL+"/Users", "admin", []byte(`{"userName":"newbie","password":"s3cret","emails":[{"value":"newbie@example.com"}]}`))
	if r.status != 201 {
		t.Fatalf("SCIM create: %d %s", r.status, r.body)
	}
	var scim struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &scim); err != nil || scim.ID == "" {
		t.Fatalf("%v %s", err, r.body)
	}
	admin := s.goCFClient(t, "admin")
	u, err := admin.CreateUser(cfclient.UserRequest{Guid: scim.ID})
	if err != nil || u.Guid != scim.ID {
		t.Fatalf("CreateUser: %v %+v", err, u)
	}
	if _, err := admin.CreateUser(cfclient.UserRequest{Guid: scim.ID}); err == nil || !strings.Contains(err.Error(), "CF-UaaIdTaken") {
		t.Errorf("a second CreateUser: %v", err)
	}
	if _, err := admin.AssociateOrgUserByUsername(backend.DemoOrgGUID, "newbie"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AssociateSpaceDeveloperByUsername(backend.DemoSpaceGUID, "newbie"); err != nil {
		t.Fatal(err)
	}
	if us, err := admin.ListSpaceDevelopers(backend.DemoSpaceGUID); err != nil || !slices.Contains(usernames(us), "newbie") {
		t.Errorf("ListSpaceDevelopers: %v %v", err, usernames(us))
	}
	// A non-admin may not add roles by name while set_roles_by_username
	// is off... it is on by default, so the flag's refusal is shown by
	// the space auditor, who may not change roles at all.
	if r := s.do("PUT", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/auditors", "auditor", []byte(`{"username":"newbie"}`)); r.status != 403 {
		t.Errorf("an auditor adds a role: %d %s", r.status, r.body)
	}
	if err := admin.DeleteUser(scim.ID); err != nil {
		t.Errorf("DeleteUser: %v", err)
	}
	if r := s.do("GET", s.gwURL+"/v2/users/"+scim.ID, "admin", nil); r.status != 404 || !bytes.Contains(r.body, []byte(`"code":20003`)) {
		t.Errorf("the deleted user: %d %s", r.status, r.body)
	}
}
