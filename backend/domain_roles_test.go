package backend

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// domainWriteRoleRows are the domain create and delete rows of the role
// table, run by TestRoleDomainWrites as the seeded users and an org
// manager ("manager"), for a private domain of demo-org and of a suspended
// org ({org}): {name} is a fresh name, {domain} a private domain of {org},
// {shared} a shared domain. A shared domain is the admin's alone; a private
// one also its org's managers' (can_write_to_active_org?), and the
// developer and the auditor, who see it, get 403.
var domainWriteRoleRows = []roleRow{
	{"create shared domain", "POST", "/v3/domains", map[string]any{"name": "{name}"},
		withManager(rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized), roleNotAuthorized)},
	{"create tcp domain", "POST", "/v3/domains", map[string]any{"name": "{name}", "router_group": map[string]string{"guid": TCPRouterGroupGUID}},
		withManager(rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized), roleNotAuthorized)},
	{"create private domain", "POST", "/v3/domains", privateDomainBody("{name}", "{org}"),
		withManager(rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized), roleOK(201))},
	{"delete private domain", "DELETE", "/v3/domains/{domain}", nil,
		withManager(rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("Domain")), roleOK(202))},
	{"delete shared domain", "DELETE", "/v3/domains/{shared}", nil,
		withManager(rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized), roleNotAuthorized)},
}

func init() { roleFixtureRows = append(roleFixtureRows, domainWriteRoleRows...) }

// withManager adds the manager's expectation to a row's.
func withManager(want map[string]roleWant, manager roleWant) map[string]roleWant {
	want["manager"] = manager
	return want
}

func TestRoleDomainWrites(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(DemoOrgGUID, roleSuspendedOrgGUID)
	var seq atomic.Int64
	targets := []struct{ name, org string }{{"demo org", DemoOrgGUID}, {"suspended org", roleSuspendedOrgGUID}}
	for _, row := range domainWriteRoleRows {
		for _, target := range targets {
			for _, user := range append(append([]string{}, roleUsers...), "manager") {
				t.Run(row.name+"/"+target.name+"/"+user, func(t *testing.T) {
					t.Parallel()
					want := row.want[user]
					// A manager of a suspended org may not write there
					// (require_writable_org!); an admin may.
					if target.org == roleSuspendedOrgGUID && user == "manager" && want.status < 300 {
						want = roleOrgSuspended
					}
					v := roleView(c, t)
					vals := roleDomainFixture(t, c, target.org, seq.Add(1))
					var pairs []string
					for k, val := range vals {
						pairs = append(pairs, k, val)
					}
					path, body := row.filled(t, strings.NewReplacer(pairs...))
					before := roleDomainSnapshot(t, c, vals)
					r := v.do(row.method, path, user, body)
					want.assert(t, r)
					if r.status == 202 {
						if state := v.waitJob(r.header["Location"], user); state != store.JobComplete {
							t.Fatalf("job %s", state)
						}
					}
					if after := roleDomainSnapshot(t, c, vals); (want.status >= 400) != (before == after) {
						t.Errorf("refused=%v but the domains went from %s to %s", want.status >= 400, before, after)
					}
				})
			}
		}
	}
}

// roleDomainFixture makes a private domain of org and a shared domain for
// one run, and returns the placeholders.
func roleDomainFixture(t *testing.T, c *cf, org string, n int64) map[string]string {
	t.Helper()
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	vals := map[string]string{"{org}": org, "{name}": fmt.Sprintf("new-%d.example.org", n),
		"{domain}": fmt.Sprintf("d0a1f000-0000-4000-8000-%012d", n), "{shared}": fmt.Sprintf("d0a1f000-0000-4000-9000-%012d", n)}
	for _, d := range []store.Domain{
		{GUID: vals["{domain}"], Name: fmt.Sprintf("private-%d.example.org", n), OrgGUID: org, CreatedAt: now, UpdatedAt: now},
		{GUID: vals["{shared}"], Name: fmt.Sprintf("shared-%d.example.org", n), CreatedAt: now, UpdatedAt: now},
	} {
		if err := st.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return vals
}

// roleDomainSnapshot is what a domain write can change: whether {name},
// {domain} and {shared} exist.
func roleDomainSnapshot(t *testing.T, c *cf, vals map[string]string) string {
	t.Helper()
	ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
	_, named, err := st.ListDomains(ctx, all, store.DomainFilter{Names: []string{vals["{name}"]}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.DomainsByGUID(ctx, []string{vals["{domain}"], vals["{shared}"]})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("named %d, of the fixture %d", named, len(ds))
}
