package backend

import (
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// userRoleRoleRows are the users and roles rows of the role table, run by
// TestRoleUsersRoles on a fresh org ({org}) with a space ({space}) where
// the developer and the auditor are org users (and space developer and
// auditor), and a fresh user ({user}, named {username}) who is an org user
// and org auditor there ({role}). Users see whoever shares an org with
// them; only admins write users; roles are written by admins and org
// managers (the developer and the auditor see the org: 403; the outsider
// does not: 404, or 403 for a create, which finds the org whoever asks).
var userRoleRoleRows = []roleRow{
	{"list users", "GET", "/v3/users?guids={user}", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
	{"user", "GET", "/v3/users/{user}", nil,
		rolePer(roleOK(200, roleField("username", "{username}")), roleOK(200), roleOK(200), roleNotFound("User"))},
	{"create user", "POST", "/v3/users", map[string]any{"guid": "{name}"},
		rolePer(roleOK(201, roleField("presentation_name", "{name}")), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update user", "PATCH", "/v3/users/{user}", map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("User"))},
	{"delete user", "DELETE", "/v3/users/{user}", nil,
		rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("User"))},
	{"list roles", "GET", "/v3/roles?organization_guids={org}", nil,
		rolePer(roleOK(200, roleTotal(4)), roleOK(200, roleTotal(4)), roleOK(200, roleTotal(4)), roleOK(200, roleTotal(0)))},
	{"role", "GET", "/v3/roles/{role}?include=user", nil,
		rolePer(roleOK(200, roleField("type", store.RoleOrgAuditor)), roleOK(200), roleOK(200), roleNotFound("Role"))},
	{"create role", "POST", "/v3/roles", roleBody(store.RoleOrgManager, "{user}", "organization", "{org}"),
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"delete role", "DELETE", "/v3/roles/{role}", nil,
		rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("Role"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, userRoleRoleRows...) }

// roleBody is a POST /v3/roles body giving the user guid a role of typ in
// the organization or space (kind) place.
func roleBody(typ, user, kind, place string) map[string]any {
	return map[string]any{"type": typ, "relationships": map[string]any{
		"user": map[string]any{"data": map[string]string{"guid": user}}, kind: map[string]any{"data": map[string]string{"guid": place}}}}
}

// userFixture makes org n with a space, the developer and the auditor in
// both, and a user of its own who is org user and org auditor there.
func userFixture(t *testing.T, c *cf, n int64) *strings.Replacer {
	t.Helper()
	ctx, st := t.Context(), c.srv.Store()
	now := st.Now()
	org, space, user := fmt.Sprintf("users-org-%d", n), fmt.Sprintf("users-space-%d", n), fmt.Sprintf("user-%d", n)
	if err := st.CreateOrg(ctx, store.Org{GUID: org, Name: org, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSpace(ctx, store.Space{GUID: space, Name: space, OrgGUID: org, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{GUID: user, Username: "name-" + user, Email: user + "@example.org", Scopes: userScopes}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []store.Role{
		{Type: store.RoleOrgUser, UserGUID: DeveloperGUID},
		{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, SpaceGUID: space},
		{Type: store.RoleOrgUser, UserGUID: AuditorGUID},
		{Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID, SpaceGUID: space},
		{Type: store.RoleOrgUser, UserGUID: user},
		{Type: store.RoleOrgAuditor, UserGUID: user},
	} {
		r.GUID, r.OrgGUID = fmt.Sprintf("%s-role-%d", org, i), org
		if err := st.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return strings.NewReplacer("{org}", org, "{space}", space, "{user}", user, "{username}", "name-"+user,
		"{role}", org+"-role-5", "{name}", fmt.Sprintf("new-user-%d", n))
}

func TestRoleUsersRoles(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range userRoleRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				fill := userFixture(t, c, seq.Add(1))
				row.runWrite(t, c, user, fill, "{username}", "{name}")
			})
		}
	}
}

// TestUsers: the shape of a user, the filters, what each user sees, and
// CC's texts for a create.
func TestUsers(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/users/"+DeveloperGUID, "developer", nil).body), `"T"`)
	want := `{"guid":"` + DeveloperGUID + `","created_at":"T","updated_at":"T","username":"developer","presentation_name":"developer","origin":"uaa",` +
		`"metadata":{"labels":{},"annotations":{}},"links":{"self":{"href":"http://api.example.org/v3/users/` + DeveloperGUID + `"}}}`
	if got != want {
		t.Errorf("user\n got %s\nwant %s", got, want)
	}
	names := func(path, user string) string {
		var l struct {
			Resources []userJSON
		}
		c.must(200, "GET", path, user, nil).json(t, &l)
		var out []string
		for _, u := range l.Resources {
			out = append(out, u.PresentationName)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ path, user, want string }{
		{"/v3/users", "admin", "admin,developer,auditor,outsider"},
		{"/v3/users", "developer", "developer,auditor"},
		{"/v3/users", "outsider", "outsider"},
		{"/v3/users?usernames=DEVELOPER,auditor", "admin", "developer,auditor"},
		{"/v3/users?usernames=developer&origins=ldap", "admin", ""},
		{"/v3/users?partial_usernames=dit,MIN&origins=uaa", "admin", "admin,auditor"},
		{"/v3/users?guids=" + OutsiderGUID, "admin", "outsider"},
		{"/v3/users?order_by=-created_at&per_page=1", "admin", "outsider"},
	} {
		if got := names(tc.path, tc.user); got != tc.want {
			t.Errorf("%s as %s: %q, want %q", tc.path, tc.user, got, tc.want)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"/v3/users?origins=uaa", "Origins filter cannot be provided without usernames or partial_usernames filter."},
		{"/v3/users?usernames=a&partial_usernames=b", "Usernames filter cannot be provided with both usernames and partial_usernames filter."},
		{"/v3/roles?include=app", "Invalid included resource: 'app'. Valid included resources are: 'user', 'organization', 'space'"},
	} {
		roleUnprocessable(tc.want).assert(t, c.do("GET", tc.path, "admin", nil))
	}
	c.must(404, "GET", "/v3/users/"+OutsiderGUID, "developer", nil)

	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"empty", map[string]any{}, "Guid or 'username' and 'origin' must be provided"},
		{"guid and username", map[string]any{"guid": "g", "username": "u", "origin": "o"},
			"Username cannot be provided with 'guid', Origin cannot be provided with 'guid'"},
		{"username alone", map[string]any{"username": "u"}, "Username can only be provided together with 'origin'"},
		{"uaa origin", map[string]any{"username": "u", "origin": "uaa"}, "Origin cannot be 'uaa' when creating a user by username"},
		{"unknown key", map[string]any{"guid": "g", "name": "n"}, "Unknown field(s): 'name'"},
		{"taken guid", map[string]any{"guid": DeveloperGUID}, "User with guid '" + DeveloperGUID + "' already exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roleUnprocessable(tc.want).assert(t, roleView(c, t).do("POST", "/v3/users", "admin", tc.body))
		})
	}
	// A client's id, unknown to the UAA: no username, the guid as name.
	var u userJSON
	c.must(201, "POST", "/v3/users", "admin", map[string]any{"guid": "my-client", "metadata": map[string]any{"labels": map[string]string{"k": "v"}}}).json(t, &u)
	if u.Username != nil || u.Origin != nil || u.PresentationName != "my-client" || u.Metadata.Labels["k"] != "v" {
		t.Errorf("client user %+v", u)
	}
	// By username and origin: the UAA's shadow user, then taken.
	c.must(201, "POST", "/v3/users", "admin", map[string]any{"username": "carol", "origin": "ldap"}).json(t, &u)
	if u.Username == nil || *u.Username != "carol" || *u.Origin != "ldap" {
		t.Errorf("shadow user %+v", u)
	}
	roleUnprocessable("User with username 'carol' and origin 'ldap' already exists.").
		assert(t, c.do("POST", "/v3/users", "admin", map[string]any{"username": "carol", "origin": "ldap"}))
	if r := c.uaa(uaaReqPassword("carol", "carol")); r.status != 401 {
		t.Errorf("a shadow user logs in: %d", r.status)
	}
}

// TestUserDeleteRemovesRoles: a user.delete job makes CC forget the user
// and its roles; the UAA keeps the user, who can be made a CC user again.
func TestUserDeleteRemovesRoles(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	loc := c.must(202, "DELETE", "/v3/users/"+DeveloperGUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("user.delete %s", state)
	}
	c.must(404, "GET", "/v3/users/"+DeveloperGUID, "admin", nil)
	c.must(200, "GET", "/v3/roles?user_guids="+DeveloperGUID, "admin", nil).json(t, &struct{}{})
	roleTotal(0)(t, c.do("GET", "/v3/roles?user_guids="+DeveloperGUID, "admin", nil))
	c.login("developer", "developer", nil)
	c.must(201, "POST", "/v3/users", "admin", map[string]string{"guid": DeveloperGUID})
}

// uaaReqPassword is the cf CLI's password grant for user.
func uaaReqPassword(user, password string) uaaReq {
	return uaaReq{method: "POST", path: "/oauth/token", basic: "cf:",
		form: url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}}
}
