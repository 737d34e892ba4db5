package backend

import (
	"testing"

	"capibridge/backend/store"
)

// spaceBody is a POST /v3/spaces body.
func spaceBody(name, org string) map[string]any {
	return map[string]any{"name": name, "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org}}}}
}

type spaceCreated struct {
	GUID          string
	Name          string
	Relationships struct {
		Organization struct {
			Data struct{ GUID string }
		}
	}
}

func TestCreateSpace(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(DemoOrgGUID, roleSuspendedOrgGUID)
	var sp spaceCreated
	c.must(201, "POST", "/v3/spaces", "manager", spaceBody("made", DemoOrgGUID)).json(t, &sp)
	if sp.Name != "made" || sp.Relationships.Organization.Data.GUID != DemoOrgGUID {
		t.Errorf("created %+v", sp)
	}
	if n := countEvents(c, "audit.space.create", sp.GUID); n != 1 {
		t.Errorf("%d create events", n)
	}
	// The creator gets no role: the manager sees the space through the org.
	if roles, _ := c.srv.Store().RolesIn(t.Context(), managerGUID, DemoOrgGUID, sp.GUID); len(roles) != 1 {
		t.Errorf("manager's roles %v", roles)
	}
	missingOrg := roleUnprocessable("Invalid organization. Ensure the organization exists and you have access to it.")
	for _, tc := range []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"name taken", "admin", spaceBody("MADE", DemoOrgGUID), roleUnprocessable("Name must be unique per organization")},
		{"developer", "developer", spaceBody("x", DemoOrgGUID), roleNotAuthorized},
		{"outsider", "outsider", spaceBody("x", DemoOrgGUID), missingOrg},
		{"missing org", "admin", spaceBody("x", roleMissingGUID), missingOrg},
		{"suspended org", "manager", spaceBody("x", roleSuspendedOrgGUID), roleOrgSuspended},
		{"no name", "admin", map[string]any{"relationships": spaceBody("", DemoOrgGUID)["relationships"]}, roleUnprocessable("Name can't be blank")},
		{"long name", "admin", spaceBody(longName(256), DemoOrgGUID), roleUnprocessable("Name is too long (maximum is 255 characters)")},
		{"no relationships", "admin", map[string]any{"name": "x"}, roleUnprocessable("Relationships 'relationships' is not an object")},
		{"empty relationships", "admin", map[string]any{"name": "x", "relationships": map[string]any{}},
			roleUnprocessable("Relationships 'relationships' must include one or more valid relationships")},
		{"bad relationship", "admin", map[string]any{"name": "x", "relationships": map[string]any{"organization": map[string]any{"guid": "x"}}},
			roleUnprocessable(`Relationships Organization must be structured like this: "organization: {"data": {"guid": "valid-guid"}}"`)},
		{"suspended key", "admin", map[string]any{"name": "x", "suspended": true, "relationships": spaceBody("", DemoOrgGUID)["relationships"]},
			roleUnprocessable("Unknown field(s): 'suspended'")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, roleView(c, t).do("POST", "/v3/spaces", tc.user, tc.body))
		})
	}
	c.must(201, "POST", "/v3/spaces", "admin", spaceBody("admin-made", roleSuspendedOrgGUID))
}

func longName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestUpdateSpace(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(roleSuspendedOrgGUID)
	st := c.srv.Store()
	// The auditor manages demo-space too.
	if err := st.AddRole(t.Context(), store.Role{GUID: "sm", Type: store.RoleSpaceManager, UserGUID: AuditorGUID, OrgGUID: DemoOrgGUID, SpaceGUID: DemoSpaceGUID}); err != nil {
		t.Fatal(err)
	}
	c.must(201, "POST", "/v3/spaces", "admin", spaceBody("other", DemoOrgGUID))
	path := "/v3/spaces/" + DemoSpaceGUID
	var sp spaceCreated
	c.must(200, "PATCH", path, "auditor", map[string]any{"name": "renamed"}).json(t, &sp)
	if sp.Name != "renamed" {
		t.Errorf("updated %+v", sp)
	}
	if n := countEvents(c, "audit.space.update", DemoSpaceGUID); n != 1 {
		t.Errorf("%d update events", n)
	}
	for _, tc := range []struct {
		name, user, path string
		body             any
		want             roleWant
	}{
		{"name taken", "admin", path, map[string]any{"name": "OTHER"},
			roleUnprocessable("Organization 'demo-org' already contains a space with name 'OTHER'.")},
		{"empty name", "admin", path, map[string]any{"name": ""},
			roleUnprocessable("Name is too short (minimum is 1 character), Name must not contain escaped characters")},
		{"unknown key", "admin", path, map[string]any{"relationships": map[string]any{}}, roleUnprocessable("Unknown field(s): 'relationships'")},
		{"developer", "developer", path, map[string]any{"name": "x"}, roleNotAuthorized},
		{"outsider", "outsider", path, map[string]any{"name": "x"}, roleNotFound("Space")},
		{"org manager of a suspended org", "manager", "/v3/spaces/" + roleSuspendedSpaceGUID, map[string]any{"name": "x"}, roleOrgSuspended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, roleView(c, t).do("PATCH", tc.path, tc.user, tc.body))
		})
	}
	c.must(200, "PATCH", "/v3/spaces/"+roleSuspendedSpaceGUID, "admin", map[string]any{"metadata": map[string]any{"annotations": map[string]string{"k": "v"}}})
}

// TestSpaceSSHFeature: PATCH /v3/spaces/:guid/features/ssh turns ssh off
// and on for the space's apps; the body must name enabled as a boolean.
func TestSpaceSSHFeature(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	path := "/v3/spaces/" + DemoSpaceGUID + "/features/ssh"
	var f struct{ Enabled bool }
	c.must(200, "PATCH", path, "admin", map[string]any{"enabled": false}).json(t, &f)
	if f.Enabled {
		t.Errorf("ssh still enabled: %+v", f)
	}
	c.must(200, "GET", path, "developer", nil).json(t, &f)
	if f.Enabled {
		t.Errorf("GET after disabling: %+v", f)
	}
	c.must(422, "PATCH", path, "admin", map[string]any{"enabled": "no"})
	c.must(404, "PATCH", "/v3/spaces/"+DemoSpaceGUID+"/features/nope", "admin", map[string]any{"enabled": true})
	c.must(200, "PATCH", path, "admin", map[string]any{"enabled": true}).json(t, &f)
	if !f.Enabled {
		t.Errorf("ssh not enabled again: %+v", f)
	}
}
