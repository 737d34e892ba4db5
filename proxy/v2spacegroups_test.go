package proxy

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// listGUIDs reads the guids of a v2 list, sorted.
func listGUIDs(t *testing.T, r reply) []string {
	t.Helper()
	var list struct {
		Resources []struct {
			Metadata struct{ GUID string } `json:"metadata"`
		} `json:"resources"`
	}
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, x := range list.Resources {
		out = append(out, x.Metadata.GUID)
	}
	slices.Sort(out)
	return out
}

func sortedGUIDs(guids ...string) []string {
	out := slices.Clone(guids)
	slices.Sort(out)
	return out
}

// POST and PUT /v2/spaces with security_group_guids and
// staging_security_group_guids (MAPPING-orgs §11.4): bound through v3's
// running_spaces and staging_spaces; a create that fails deletes the
// space again; an update replaces the lists as CC's guids writer does,
// against the bound and the globally enabled groups.
func TestV2SpaceSecurityGroupLists(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	web, err := admin.CreateSecGroup("web", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := admin.CreateSecGroup("db", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	public, dns := backend.PublicNetworksSecurityGroupGUID, backend.DNSSecurityGroupGUID
	running := func(space string) []string {
		return listGUIDs(t, s.do("GET", s.gwURL+"/v2/spaces/"+space+"/security_groups", "admin", nil))
	}
	staging := func(space string) []string {
		return listGUIDs(t, s.do("GET", s.gwURL+"/v2/spaces/"+space+"/staging_security_groups", "admin", nil))
	}
	boundTo := func(sg, list string) []string {
		return listGUIDs(t, s.do("GET", s.gwURL+"/v2/security_groups/"+sg+"/"+list, "admin", nil))
	}

	// go-cfclient's CreateSpace sends security_group_guids.
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "secured", OrganizationGuid: backend.DemoOrgGUID, AllowSSH: true,
		SecurityGroupGuids: []string{web.Guid}})
	if err != nil {
		t.Fatal(err)
	}
	if got := running(sp.Guid); !slices.Equal(got, sortedGUIDs(web.Guid, public, dns)) {
		t.Errorf("running groups: %v", got)
	}
	if got := staging(sp.Guid); !slices.Equal(got, sortedGUIDs(public, dns)) {
		t.Errorf("staging groups: %v", got)
	}
	if got := boundTo(web.Guid, "spaces"); !slices.Equal(got, []string{sp.Guid}) {
		t.Errorf("web's spaces: %v", got)
	}

	// Both lists, a group repeated.
	r := s.do("POST", s.gwURL+"/v2/spaces", "admin", []byte(`{"name":"both","organization_guid":"`+backend.DemoOrgGUID+
		`","security_group_guids":["`+web.Guid+`","`+db.Guid+`","`+web.Guid+`"],"staging_security_group_guids":["`+db.Guid+`"]}`))
	if r.status != 201 {
		t.Fatalf("create with both lists: %d %s", r.status, r.body)
	}
	var created struct{ Metadata struct{ GUID string } }
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	both := created.Metadata.GUID
	if got := running(both); !slices.Equal(got, sortedGUIDs(web.Guid, db.Guid, public, dns)) {
		t.Errorf("running groups of both: %v", got)
	}
	if got := boundTo(db.Guid, "staging_spaces"); !slices.Equal(got, []string{both}) {
		t.Errorf("db's staging spaces: %v", got)
	}

	// An unknown group, in either list, is InvalidRelation naming the
	// model undemodulized, and the space is deleted again.
	for _, body := range []string{
		`{"name":"broken","organization_guid":"` + backend.DemoOrgGUID + `","security_group_guids":["nope"]}`,
		`{"name":"broken","organization_guid":"` + backend.DemoOrgGUID + `","security_group_guids":["` + db.Guid + `"],"staging_security_group_guids":["nope"]}`,
	} {
		r := s.do("POST", s.gwURL+"/v2/spaces", "admin", []byte(body))
		if r.status != 400 || !bytes.Contains(r.body, []byte(`{"description":"Could not find VCAP::CloudController::SecurityGroup with guid: nope","error_code":"CF-InvalidRelation","code":1002}`)) {
			t.Errorf("unknown group: %d %s", r.status, r.body)
		}
		if _, err := admin.GetSpaceByName("broken", backend.DemoOrgGUID); err == nil {
			t.Error("the failed create left its space")
		}
	}
	if got := boundTo(db.Guid, "spaces"); !slices.Equal(got, []string{both}) {
		t.Errorf("db's spaces after the failed creates: %v", got)
	}

	// PUT replaces: web goes, db comes; a globally enabled group named is
	// not bound to the space (it is already among the space's groups in
	// CC's association), and the staging list is emptied.
	url := s.gwURL + "/v2/spaces/" + both
	r = s.do("PUT", url, "admin", []byte(`{"security_group_guids":["`+db.Guid+`","`+public+`"],"staging_security_group_guids":[]}`))
	if r.status != 201 || !bytes.Contains(r.body, []byte(`"guid":"`+both+`"`)) {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if got := running(both); !slices.Equal(got, sortedGUIDs(db.Guid, public, dns)) {
		t.Errorf("running groups after the update: %v", got)
	}
	if got := boundTo(public, "spaces"); slices.Contains(got, both) {
		t.Errorf("the global group was bound: %v", got)
	}
	if got := boundTo(db.Guid, "staging_spaces"); len(got) != 0 {
		t.Errorf("db's staging spaces after the update: %v", got)
	}
	if got := boundTo(web.Guid, "spaces"); !slices.Equal(got, []string{sp.Guid}) {
		t.Errorf("web's spaces after the update: %v", got)
	}
	// An unknown group changes nothing.
	r = s.do("PUT", url, "admin", []byte(`{"security_group_guids":["`+web.Guid+`","nope"]}`))
	if r.status != 400 || !bytes.Contains(r.body, []byte(`"description":"Could not find VCAP::CloudController::SecurityGroup with guid: nope"`)) {
		t.Errorf("update with an unknown group: %d %s", r.status, r.body)
	}
	if got := running(both); !slices.Equal(got, sortedGUIDs(db.Guid, public, dns)) {
		t.Errorf("running groups after the refused update: %v", got)
	}
	// A PUT without the lists leaves the groups alone.
	if r := s.do("PUT", url, "admin", []byte(`{"name":"both-renamed"}`)); r.status != 201 {
		t.Errorf("rename: %d %s", r.status, r.body)
	}
	if got := running(both); !slices.Equal(got, sortedGUIDs(db.Guid, public, dns)) {
		t.Errorf("running groups after the rename: %v", got)
	}
	// A space manager may: the groups it sees are replaced. A group bound
	// to none of its spaces is one v3 hides from it, refused as unknown
	// (CC found any group by guid).
	if _, err := admin.AssociateSpaceManager(both, backend.AuditorGUID); err != nil {
		t.Fatal(err)
	}
	if r := s.do("PUT", url, "auditor", []byte(`{"security_group_guids":[]}`)); r.status != 201 {
		t.Errorf("a space manager's update: %d %s", r.status, r.body)
	}
	if got := running(both); !slices.Equal(got, sortedGUIDs(public, dns)) {
		t.Errorf("running groups after the manager's update: %v", got)
	}
	if r := s.do("PUT", url, "auditor", []byte(`{"security_group_guids":["`+web.Guid+`"]}`)); r.status != 400 ||
		!bytes.Contains(r.body, []byte(`"error_code":"CF-InvalidRelation"`)) {
		t.Errorf("a space manager names a group it cannot see: %d %s", r.status, r.body)
	}
	// A developer may not update the space, even when nothing would
	// change (SpaceAccess#read_for_update? comes first).
	r = s.do("PUT", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID, "developer", []byte(`{"security_group_guids":["`+public+`"]}`))
	if r.status != 403 || !bytes.Contains(r.body, []byte(`"error_code":"CF-NotAuthorized"`)) {
		t.Errorf("a developer's update: %d %s", r.status, r.body)
	}
}
