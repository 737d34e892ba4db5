package backend

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// spaceQuotaRoleRows are the space quota rows of the role table, run by
// TestRoleSpaceQuotas on fresh fixtures in demo-org: {quota} applied to
// {space}, where developer and auditor hold their roles, {free} applied
// to no space, and {other}, a space without a quota. Readers see the
// quotas of their spaces; admins (and org managers) write.
var spaceQuotaRoleRows = []roleRow{
	{"list space quotas", "GET", "/v3/space_quotas?guids={quota},{free}", nil,
		rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
	{"space quota", "GET", "/v3/space_quotas/{quota}", nil,
		rolePer(roleOK(200, roleField("guid", "{quota}")), roleOK(200, roleField("guid", "{quota}")), roleOK(200), roleNotFound("Space quota"))},
	{"create space quota", "POST", "/v3/space_quotas",
		map[string]any{"name": "{name}", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update space quota", "PATCH", "/v3/space_quotas/{quota}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
	{"delete space quota", "DELETE", "/v3/space_quotas/{free}", nil,
		rolePer(roleOK(202), roleNotFound("Space quota"), roleNotFound("Space quota"), roleNotFound("Space quota"))},
	{"apply space quota", "POST", "/v3/space_quotas/{quota}/relationships/spaces", map[string]any{"data": []map[string]string{{"guid": "{other}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
	{"remove space quota", "DELETE", "/v3/space_quotas/{quota}/relationships/spaces/{space}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, spaceQuotaRoleRows...) }

// spaceQuotaFixture adds a space quota named name to org with limits, and
// applies it to spaces.
func spaceQuotaFixture(t testing.TB, c *cf, guid, org string, limits store.QuotaLimits, spaces ...string) {
	t.Helper()
	now := c.srv.Store().Now()
	if err := c.srv.Store().CreateSpaceQuota(t.Context(), store.SpaceQuota{GUID: guid, Name: guid, OrgGUID: org, QuotaLimits: limits,
		CreatedAt: now, UpdatedAt: now}, spaces); err != nil {
		t.Fatal(err)
	}
}

// spaceFixture adds a space to demo-org, where developer and auditor
// hold their roles.
func spaceFixture(t testing.TB, c *cf, guid string) {
	t.Helper()
	st := c.srv.Store()
	now := st.Now()
	if err := st.CreateSpace(t.Context(), store.Space{GUID: guid, Name: guid, OrgGUID: DemoOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for user, typ := range map[string]string{DeveloperGUID: store.RoleSpaceDeveloper, AuditorGUID: store.RoleSpaceAuditor} {
		if err := st.AddRole(t.Context(), store.Role{GUID: guid + "-" + typ, Type: typ, UserGUID: user, OrgGUID: DemoOrgGUID, SpaceGUID: guid}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoleSpaceQuotas(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range spaceQuotaRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				n := seq.Add(1)
				quota, free, space, other := fmt.Sprintf("sq-%d", n), fmt.Sprintf("sq-free-%d", n), fmt.Sprintf("sq-space-%d", n), fmt.Sprintf("sq-other-%d", n)
				spaceFixture(t, c, space)
				spaceFixture(t, c, other)
				spaceQuotaFixture(t, c, quota, DemoOrgGUID, store.QuotaLimits{PaidServicesAllowed: true}, space)
				spaceQuotaFixture(t, c, free, DemoOrgGUID, store.QuotaLimits{PaidServicesAllowed: true})
				fill := strings.NewReplacer("{quota}", quota, "{free}", free, "{space}", space, "{other}", other, "{name}", fmt.Sprintf("sq-name-%d", n))
				want := row.want[user]
				if want.check != nil {
					check := want.check
					want.check = func(t *testing.T, r resp) {
						t.Helper()
						r.body = []byte(strings.ReplaceAll(string(r.body), quota, "{quota}"))
						check(t, r)
					}
				}
				path, body := row.filled(t, fill)
				r := roleView(c, t).do(row.method, path, user, body)
				want.assert(t, r)
				if r.status == 202 {
					if state := c.waitJob(r.header["Location"], user); state != store.JobComplete {
						t.Fatalf("job %s", state)
					}
					c.must(404, "GET", path, user, nil)
				}
			})
		}
	}
}
