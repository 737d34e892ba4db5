package proxy

import (
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// go-cfclient's org and space writes through the gateway in front of the
// embedded CF (MAPPING-orgs §11.2, §11.4, §11.9).
func TestV2OrgSpaceWritesGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "team-a"})
	if err != nil || org.Guid == "" || org.Name != "team-a" || org.Status != "active" {
		t.Fatalf("CreateOrg: %v %+v", err, org)
	}
	if got, err := admin.GetOrgByName("team-a"); err != nil || got.Guid != org.Guid {
		t.Errorf("GetOrgByName: %v %+v", err, got)
	}
	if _, err := admin.CreateOrg(cfclient.OrgRequest{Name: "TEAM-A"}); err == nil || !strings.Contains(err.Error(), "CF-OrganizationNameTaken") {
		t.Errorf("a taken name: %v", err)
	}
	up, err := admin.UpdateOrg(org.Guid, cfclient.OrgRequest{Name: "team-b", Status: "suspended"})
	if err != nil || up.Name != "team-b" || up.Status != "suspended" {
		t.Errorf("UpdateOrg: %v %+v", err, up)
	}
	if _, err := admin.UpdateOrg(org.Guid, cfclient.OrgRequest{Name: "team-b", Status: "active"}); err != nil {
		t.Errorf("UpdateOrg back to active: %v", err)
	}
	space, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "dev", OrganizationGuid: org.Guid})
	if err != nil || space.Guid == "" || space.Name != "dev" || space.OrganizationGuid != org.Guid || space.AllowSSH {
		t.Fatalf("CreateSpace (go-cfclient sends allow_ssh false): %v %+v", err, space)
	}
	if _, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "dev", OrganizationGuid: org.Guid}); err == nil || !strings.Contains(err.Error(), "CF-SpaceNameTaken") {
		t.Errorf("a taken space name: %v", err)
	}
	// go-cfclient sends organization_guid "" when unset: CC could not find it.
	if _, err := admin.UpdateSpace(space.Guid, cfclient.SpaceRequest{Name: "prod"}); err == nil ||
		!strings.Contains(err.Error(), "Could not find Organization with guid: ") {
		t.Errorf("UpdateSpace without its org: %v", err)
	}
	sp, err := admin.UpdateSpace(space.Guid, cfclient.SpaceRequest{Name: "prod", OrganizationGuid: org.Guid, AllowSSH: true})
	if err != nil || sp.Name != "prod" || !sp.AllowSSH {
		t.Errorf("UpdateSpace: %v %+v", err, sp)
	}
	if _, err := admin.UpdateSpace(space.Guid, cfclient.SpaceRequest{Name: "prod", OrganizationGuid: backend.DemoOrgGUID}); err == nil ||
		!strings.Contains(err.Error(), "CF-OrganizationAlreadySet") {
		t.Errorf("moving a space: %v", err)
	}
	// An org with a space is not deleted without recursive.
	if err := admin.DeleteOrg(org.Guid, false, false); err == nil || !strings.Contains(err.Error(), "CF-AssociationNotEmpty") {
		t.Errorf("DeleteOrg with a space: %v", err)
	}
	if err := admin.DeleteSpace(space.Guid, false, false); err != nil {
		t.Errorf("DeleteSpace: %v", err)
	}
	if err := admin.DeleteOrg(org.Guid, true, false); err != nil {
		t.Errorf("DeleteOrg: %v", err)
	}
	if _, err := admin.GetOrgByGuid(org.Guid); err == nil {
		t.Errorf("the org is still there")
	}
	// A developer may create neither orgs (user_org_creation is off) nor
	// spaces (org managers only).
	dev := s.goCFClient(t, "developer")
	if _, err := dev.CreateOrg(cfclient.OrgRequest{Name: "mine"}); err == nil || !strings.Contains(err.Error(), "CF-NotAuthorized") && !strings.Contains(err.Error(), "CF-FeatureDisabled") {
		t.Errorf("developer CreateOrg: %v", err)
	}
	if _, err := dev.CreateSpace(cfclient.SpaceRequest{Name: "mine", OrganizationGuid: backend.DemoOrgGUID}); err == nil || !strings.Contains(err.Error(), "CF-NotAuthorized") {
		t.Errorf("developer CreateSpace: %v", err)
	}
	// A space with an app is refused without recursive.
	s.createApps(t, "developer", "resident")
	r := s.do("DELETE", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID, "admin", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "Please delete the processes associations for your spaces.") {
		t.Errorf("delete a space with an app: %d %s", r.status, r.body)
	}
}

// A space created with role lists and a space quota gets both; a role for
// a user outside the org fails the create, which leaves no space behind
// (MAPPING-orgs §11.4).
func TestV2SpaceCreateWithRolesAndQuota(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	q, err := admin.CreateSpaceQuota(cfclient.SpaceQuotaRequest{Name: "small", OrganizationGuid: backend.DemoOrgGUID, TotalServices: 1,
		TotalRoutes: 1, MemoryLimit: 256, InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: 5, TotalServiceKeys: -1, TotalReservedRoutePorts: -1})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "team", OrganizationGuid: backend.DemoOrgGUID, AllowSSH: true,
		DeveloperGuid: []string{backend.DeveloperGUID}, ManagerGuid: []string{backend.AuditorGUID}, SpaceQuotaDefGuid: q.Guid})
	if err != nil || sp.QuotaDefinitionGuid != q.Guid {
		t.Fatalf("CreateSpace: %v %+v", err, sp)
	}
	if us, err := admin.ListSpaceDevelopers(sp.Guid); err != nil || len(us) != 1 || us[0].Guid != backend.DeveloperGUID {
		t.Errorf("developers: %v %+v", err, us)
	}
	if us, err := admin.ListSpaceManagers(sp.Guid); err != nil || len(us) != 1 || us[0].Guid != backend.AuditorGUID {
		t.Errorf("managers: %v %+v", err, us)
	}
	if _, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "team2", OrganizationGuid: backend.DemoOrgGUID,
		DeveloperGuid: []string{backend.OutsiderGUID}}); err == nil || !strings.Contains(err.Error(), "CF-InvalidRelation") ||
		!strings.Contains(err.Error(), backend.OutsiderGUID) {
		t.Errorf("a developer outside the org: %v", err)
	}
	if _, err := admin.GetSpaceByName("team2", backend.DemoOrgGUID); err == nil {
		t.Error("the failed create left its space")
	}
}
