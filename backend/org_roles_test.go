package backend

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// orgWriteRoleRows are the organization and space write rows of the role
// table, run by TestRoleOrgWrites as the seeded users and an org manager
// ("manager") on a fresh org ({org}) where the developer is a space
// developer and the auditor a space auditor of {space}; {name} is a fresh
// name. Creating an org is the admin's (user_org_creation is off);
// updating it is also its managers'; deleting it the admin's alone.
// Spaces are created and deleted by admins and org managers
// (can_write_to_active_org?); the developer and the auditor see them, so
// 403; the outsider does not, so 404, or 422 for a create.
var orgWriteRoleRows = []roleRow{
	{"create org", "POST", "/v3/organizations", map[string]any{"name": "{name}"},
		withManager(rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized), roleNotAuthorized)},
	{"update org", "PATCH", "/v3/organizations/{org}", map[string]any{"name": "{name}"},
		withManager(rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Organization")), roleOK(200))},
	{"delete org", "DELETE", "/v3/organizations/{org}", nil,
		withManager(rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("Organization")), roleNotAuthorized)},
	{"create space", "POST", "/v3/spaces", spaceBody("{name}", "{org}"),
		withManager(rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized,
			roleUnprocessable("Invalid organization. Ensure the organization exists and you have access to it.")), roleOK(201))},
	{"update space", "PATCH", "/v3/spaces/{space}", map[string]any{"name": "{name}"},
		withManager(rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space")), roleOK(200))},
	{"space ssh feature", "PATCH", "/v3/spaces/{space}/features/ssh", map[string]any{"enabled": false},
		withManager(rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space")), roleOK(200))},
	{"delete space", "DELETE", "/v3/spaces/{space}", nil,
		withManager(rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space")), roleOK(202))},
}

func init() { roleFixtureRows = append(roleFixtureRows, orgWriteRoleRows...) }

// roleOrgFixture makes org n with a space, the developer and auditor in
// it and the manager managing it, and returns the row placeholders.
func roleOrgFixture(t *testing.T, c *cf, n int64) *strings.Replacer {
	t.Helper()
	ctx, st := t.Context(), c.srv.Store()
	now := st.Now()
	org, space := fmt.Sprintf("org-%d", n), fmt.Sprintf("space-%d", n)
	if err := st.CreateOrg(ctx, store.Org{GUID: org, Name: org, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSpace(ctx, store.Space{GUID: space, Name: space, OrgGUID: org, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []store.Role{
		{Type: store.RoleOrgUser, UserGUID: DeveloperGUID},
		{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, SpaceGUID: space},
		{Type: store.RoleOrgUser, UserGUID: AuditorGUID},
		{Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID, SpaceGUID: space},
		{Type: store.RoleOrgManager, UserGUID: managerGUID},
	} {
		r.GUID, r.OrgGUID = fmt.Sprintf("%s-role-%d", org, i), org
		if err := st.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return strings.NewReplacer("{org}", org, "{space}", space, "{name}", fmt.Sprintf("name-%d", n))
}

func TestRoleOrgWrites(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addManager()
	var seq atomic.Int64
	for _, row := range orgWriteRoleRows {
		for _, user := range append(append([]string{}, roleUsers...), "manager") {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				v := roleView(c, t)
				path, body := row.filled(t, roleOrgFixture(t, c, seq.Add(1)))
				r := v.do(row.method, path, user, body)
				row.want[user].assert(t, r)
				if r.status == 202 {
					if state := v.waitJob(r.header["Location"], user); state != store.JobComplete {
						t.Fatalf("job %s", state)
					}
					gone(v, path)
				}
			})
		}
	}
}
