package backend

import (
	"encoding/json"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// TestRoleShape: a role with include=user, exactly as CC renders it, and
// the list's include of orgs and spaces.
func TestRoleShape(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var role struct{ GUID string }
	c.must(201, "POST", "/v3/roles", "admin", roleBody(store.RoleSpaceManager, DeveloperGUID, "space", DemoSpaceGUID)).json(t, &role)
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/roles/"+role.GUID+"?include=user", "developer", nil).body), `"T"`)
	base := "http://api.example.org"
	want := `{"guid":"` + role.GUID + `","created_at":"T","updated_at":"T","type":"space_manager",` +
		`"relationships":{"user":{"data":{"guid":"` + DeveloperGUID + `"}},"space":{"data":{"guid":"` + DemoSpaceGUID + `"}},"organization":{"data":null}},` +
		`"links":{"self":{"href":"` + base + `/v3/roles/` + role.GUID + `"},"user":{"href":"` + base + `/v3/users/` + DeveloperGUID + `"},` +
		`"space":{"href":"` + base + `/v3/spaces/` + DemoSpaceGUID + `"}},` +
		`"included":{"users":[{"guid":"` + DeveloperGUID + `","created_at":"T","updated_at":"T","username":"developer","presentation_name":"developer",` +
		`"origin":"uaa","metadata":{"labels":{},"annotations":{}},"links":{"self":{"href":"` + base + `/v3/users/` + DeveloperGUID + `"}}}]}}`
	if got != want {
		t.Errorf("role\n got %s\nwant %s", got, want)
	}
	var l struct {
		Resources []struct {
			Type          string
			Relationships map[string]toOne
		}
		Included struct {
			Users         []userJSON
			Organizations []orgJSON
			Spaces        []spaceJSON
		}
	}
	r := c.must(200, "GET", "/v3/roles?user_guids="+DeveloperGUID+"&include=organization,space,user", "admin", nil)
	r.json(t, &l)
	if len(l.Resources) != 3 || l.Resources[0].Type != store.RoleOrgUser || *l.Resources[0].Relationships["organization"].Data.GUID != DemoOrgGUID ||
		l.Resources[0].Relationships["space"].Data != nil || len(l.Included.Users) != 1 || len(l.Included.Organizations) != 1 || len(l.Included.Spaces) != 1 {
		t.Errorf("developer's roles %s", r.body)
	}
	if i := strings.Index(string(r.body), `"included":{"users"`); i < 0 || !strings.Contains(string(r.body[i:]), `],"organizations":[`) {
		t.Errorf("included order %s", r.body)
	}
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"types=space_developer,space_manager", 2},
		{"organization_guids=" + DemoOrgGUID, 2},
		{"space_guids=" + DemoSpaceGUID, 3},
		{"user_guids=" + AuditorGUID + "&types=organization_user", 1},
		{"guids=" + role.GUID, 1},
	} {
		roleTotal(tc.n)(t, c.do("GET", "/v3/roles?"+tc.query, "admin", nil))
	}
	roleTotal(3)(t, c.do("GET", "/v3/roles?space_guids="+DemoSpaceGUID, "auditor", nil))
	roleTotal(0)(t, c.do("GET", "/v3/roles?space_guids="+DemoSpaceGUID, "outsider", nil))
	roleUnprocessable("Unknown query parameter(s): 'names'. Valid parameters are: 'page', 'per_page', 'order_by', "+
		"'created_ats', 'created_ats[lt]', 'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', "+
		"'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', 'updated_ats[gte]', "+
		"'guids', 'organization_guids', 'space_guids', 'user_guids', 'types', 'include'").assert(t, c.do("GET", "/v3/roles?names=x", "admin", nil))
}

// TestRoleCreate: CC's checks and texts, in CC's order.
func TestRoleCreate(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil, WithFeatureFlag("set_roles_by_username", false))
	c.addManager(DemoOrgGUID)
	st := c.srv.Store()
	ctx := t.Context()
	now := st.Now()
	// "dora" is in two origins.
	for _, origin := range []string{"uaa", "ldap"} {
		u := newUAAUser(now, "dora", origin, "dora@example.org")
		if err := st.CreateUAAUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	byName := func(typ, name string, origin any, kind, place string) map[string]any {
		data := map[string]any{"username": name}
		if origin != nil {
			data["origin"] = origin
		}
		return map[string]any{"type": typ, "relationships": map[string]any{"user": map[string]any{"data": data},
			kind: map[string]any{"data": map[string]string{"guid": place}}}}
	}
	for _, tc := range []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"no relationships", "admin", map[string]any{"type": "space_developer"},
			roleUnprocessable("Relationships 'relationships' is not an object")},
		{"bad type", "admin", map[string]any{"type": "owner", "relationships": map[string]any{
			"user": map[string]any{"data": map[string]string{"guid": OutsiderGUID}}, "organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
			roleUnprocessable(`Type must be one of the allowed types ["organization_auditor", "organization_manager", "organization_billing_manager", ` +
				`"organization_user", "space_auditor", "space_manager", "space_developer", "space_supporter"]`)},
		{"space type with an org", "admin", roleBody(store.RoleSpaceDeveloper, OutsiderGUID, "organization", DemoOrgGUID),
			roleUnprocessable("Relationships Organization cannot be provided with the space role type: 'space_developer'.")},
		{"neither guid nor username", "admin", map[string]any{"type": "organization_user", "relationships": map[string]any{
			"user": map[string]any{"data": map[string]string{}}, "organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
			roleUnprocessable("Relationships User must have a username or guid specified")},
		{"guid and username", "admin", map[string]any{"type": "organization_user", "relationships": map[string]any{
			"user": map[string]any{"data": map[string]string{"guid": "g", "username": "u"}}, "organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
			roleUnprocessable("Relationships Username cannot be specified when identifying user by guid")},
		{"no place", "admin", map[string]any{"type": "organization_user", "relationships": map[string]any{
			"user": map[string]any{"data": map[string]string{"guid": OutsiderGUID}}}},
			roleUnprocessable("Relationships must specify either a space or an organization.")},
		{"unknown org", "admin", roleBody(store.RoleOrgUser, OutsiderGUID, "organization", roleMissingGUID),
			roleUnprocessable("Invalid organization. Ensure that the organization exists and you have access to it.")},
		{"unknown space", "admin", roleBody(store.RoleSpaceDeveloper, OutsiderGUID, "space", roleMissingGUID),
			roleUnprocessable("Invalid space. Ensure that the space exists and you have access to it.")},
		{"already has", "admin", roleBody(store.RoleOrgUser, DeveloperGUID, "organization", DemoOrgGUID),
			roleUnprocessable("User 'developer' already has 'organization_user' role in organization '" + DemoOrgName + "'.")},
		{"already has in space", "admin", roleBody(store.RoleSpaceDeveloper, DeveloperGUID, "space", DemoSpaceGUID),
			roleUnprocessable("User 'developer' already has 'space_developer' role in space '" + DemoSpaceName + "'.")},
		{"space role for an outsider", "admin", roleBody(store.RoleSpaceDeveloper, OutsiderGUID, "space", DemoSpaceGUID),
			roleUnprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")},
		{"space role for a stranger", "admin", roleBody(store.RoleSpaceDeveloper, "nobody", "space", DemoSpaceGUID),
			roleUnprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")},
		{"developer", "developer", roleBody(store.RoleOrgManager, DeveloperGUID, "organization", DemoOrgGUID), roleNotAuthorized},
		{"flag off for the manager", "manager", byName(store.RoleOrgAuditor, "outsider", nil, "organization", DemoOrgGUID),
			roleWant{status: 403, title: "CF-FeatureDisabled", code: 330002, detail: "Feature Disabled: set_roles_by_username"}},
		{"unknown username", "admin", byName(store.RoleOrgAuditor, "nobody", nil, "organization", DemoOrgGUID),
			roleUnprocessable("No user exists with the username 'nobody'.")},
		{"unknown username and origin", "admin", byName(store.RoleOrgAuditor, "outsider", "ldap", "organization", DemoOrgGUID),
			roleUnprocessable("No user exists with the username 'outsider' and origin 'ldap'.")},
		{"unknown username in a space", "admin", byName(store.RoleSpaceAuditor, "nobody", nil, "space", DemoSpaceGUID),
			roleUnprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")},
		{"ambiguous", "admin", byName(store.RoleOrgAuditor, "dora", nil, "organization", DemoOrgGUID),
			roleUnprocessable("Ambiguous user. User with username 'dora' exists in the following origins: ldap, uaa. Specify an origin to disambiguate.")},
		// Allowed: the manager by guid, the admin by name (it skips the
		// flag), an org role for a guid CC does not know yet.
		{"manager by guid", "manager", roleBody(store.RoleOrgAuditor, OutsiderGUID, "organization", DemoOrgGUID), roleOK(201)},
		{"manager's space role", "manager", roleBody(store.RoleSpaceSupporter, AuditorGUID, "space", DemoSpaceGUID), roleOK(201)},
		{"admin by name", "admin", byName(store.RoleOrgBillingManager, "auditor", nil, "organization", DemoOrgGUID), roleOK(201)},
		{"admin by name and origin", "admin", byName(store.RoleOrgUser, "dora", "ldap", "organization", DemoOrgGUID), roleOK(201)},
		{"new CC user", "admin", roleBody(store.RoleOrgUser, "some-client", "organization", DemoOrgGUID), roleOK(201)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, roleView(c, t).do("POST", "/v3/roles", tc.user, tc.body))
		})
	}
	var u userJSON
	c.must(200, "GET", "/v3/users/some-client", "admin", nil).json(t, &u)
	if u.Username != nil || u.PresentationName != "some-client" {
		t.Errorf("CC's new user %+v", u)
	}
	// The manager's grant was recorded as CC records it.
	var events struct {
		Resources []eventJSON
	}
	c.must(200, "GET", "/v3/audit_events?types=audit.user.organization_auditor_add&target_guids="+OutsiderGUID, "admin", nil).json(t, &events)
	if len(events.Resources) != 1 {
		t.Fatalf("events %+v", events)
	}
	ev, _ := json.Marshal(events.Resources[0])
	for _, want := range []string{`"target":{"guid":"` + OutsiderGUID + `","type":"user","name":"outsider"}`,
		`"organization":{"guid":"` + DemoOrgGUID + `"}`, `"data":{"request":{"relationships":`} {
		if !strings.Contains(string(ev), want) {
			t.Errorf("event %s lacks %s", ev, want)
		}
	}
}

// TestRoleDelete: 202 with a role.delete job and its event; an org user
// with space roles stays; the manager removes roles in its org.
func TestRoleDelete(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addManager(DemoOrgGUID)
	roleOf := func(user, typ string) string {
		var l struct{ Resources []struct{ GUID string } }
		c.must(200, "GET", "/v3/roles?user_guids="+user+"&types="+typ, "admin", nil).json(t, &l)
		if len(l.Resources) != 1 {
			t.Fatalf("%s's %s roles: %d", user, typ, len(l.Resources))
		}
		return l.Resources[0].GUID
	}
	orgUser := roleOf(DeveloperGUID, store.RoleOrgUser)
	roleUnprocessable("Cannot delete organization_user role while user has roles in spaces in that organization.").
		assert(t, c.do("DELETE", "/v3/roles/"+orgUser, "admin", nil))
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/roles/"+orgUser, "auditor", nil))
	roleNotFound("Role").assert(t, c.do("DELETE", "/v3/roles/"+orgUser, "outsider", nil))
	dev := roleOf(DeveloperGUID, store.RoleSpaceDeveloper)
	loc := c.must(202, "DELETE", "/v3/roles/"+dev, "manager", nil).header["Location"]
	if state := c.waitJob(loc, "manager"); state != store.JobComplete {
		t.Fatalf("role.delete %s", state)
	}
	c.must(404, "GET", "/v3/roles/"+dev, "admin", nil)
	roleTotal(1)(t, c.do("GET", "/v3/audit_events?types=audit.user.space_developer_remove&space_guids="+DemoSpaceGUID, "admin", nil))
	loc = c.must(202, "DELETE", "/v3/roles/"+orgUser, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("role.delete %s", state)
	}
	roleTotal(1)(t, c.do("GET", "/v3/audit_events?types=audit.user.organization_user_remove&organization_guids="+DemoOrgGUID, "admin", nil))
}
