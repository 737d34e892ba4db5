package backend

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// managedRoleReads are the reads of instances and bindings that need no
// fixture: those that do not exist, and the feature flag of sharing.
var managedRoleReads = []roleRow{
	{"feature flag", "GET", "/v3/feature_flags/service_instance_sharing", nil, roleAll(roleOK(200, roleField("name", "service_instance_sharing")))},
	{"feature flags", "GET", "/v3/feature_flags", nil, roleAll(roleOK(200, roleTotal(19)))},
	{"missing instance parameters", "GET", "/v3/service_instances/" + roleMissingGUID + "/parameters", nil, roleAll(roleNotFound("Service instance"))},
	{"missing instance permissions", "GET", "/v3/service_instances/" + roleMissingGUID + "/permissions", nil, roleAll(roleNotFound("Service instance"))},
	{"missing binding parameters", "GET", "/v3/service_credential_bindings/" + roleMissingGUID + "/parameters", nil,
		roleAll(roleNotFound("Service credential binding"))},
}

// managedRoleRows run on a managed instance {msi} of their own with a key
// {key}, a managed instance {shared} shared into {space2} (a second space
// of the org where developer and auditor hold their roles too), a
// user-provided instance {upsi} and an unbound app {app2}. Writes need the
// space developer; the auditor sees and is refused (403), the outsider does
// not see (404, or 422 where CC looks the instance up for a create). Key
// credentials are secrets; parameters are not.
var managedRoleRows = []roleRow{
	{"create managed service instance", "POST", "/v3/service_instances", managedBody("{name}", "{space}", DBSmallPlanGUID, nil),
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleUnprocessable("Invalid space. Ensure that the space exists and you have access to it."))},
	{"update managed service instance", "PATCH", "/v3/service_instances/{msi}", map[string]any{"parameters": map[string]int{"size": 2}},
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Service instance"))},
	{"rename managed service instance", "PATCH", "/v3/service_instances/{msi}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleOK(200), roleNotAuthorized, roleNotFound("Service instance"))},
	{"update user-provided service instance", "PATCH", "/v3/service_instances/{upsi}", map[string]any{"credentials": map[string]string{"user": "v"}},
		rolePer(roleOK(200), roleOK(200), roleNotAuthorized, roleNotFound("Service instance"))},
	{"delete managed service instance", "DELETE", "/v3/service_instances/{msi}", nil,
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Service instance"))},
	{"service instance parameters", "GET", "/v3/service_instances/{msi}/parameters", nil,
		rolePer(roleOK(200), roleOK(200, roleRaw("size", "1")), roleOK(200), roleNotFound("Service instance"))},
	{"service instance permissions", "GET", "/v3/service_instances/{msi}/permissions", nil,
		rolePer(roleOK(200, roleRaw("read", "true")), roleOK(200, roleRaw("read", "true")), roleOK(200, roleRaw("read", "true")), roleOK(200, roleRaw("read", "false")))},
	{"shared spaces", "GET", "/v3/service_instances/{shared}/relationships/shared_spaces", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Service instance"))},
	{"shared spaces usage", "GET", "/v3/service_instances/{shared}/relationships/shared_spaces/usage_summary", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Service instance"))},
	{"share service instance", "POST", "/v3/service_instances/{msi}/relationships/shared_spaces", map[string]any{"data": []map[string]string{{"guid": "{space2}"}}},
		rolePer(roleOK(200), roleOK(200), roleNotAuthorized, roleNotFound("Service instance"))},
	{"unshare service instance", "DELETE", "/v3/service_instances/{shared}/relationships/shared_spaces/{space2}", nil,
		rolePer(roleOK(204), roleOK(204), roleNotAuthorized, roleNotFound("Service instance"))},
	{"create key", "POST", "/v3/service_credential_bindings", keyBody("{msi}", "{name}", nil),
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleUnprocessable("The service instance could not be found: '{msi}'"))},
	{"create managed binding", "POST", "/v3/service_credential_bindings", bindingBody("{msi}", "{app2}", ""),
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleUnprocessable("The service instance could not be found: '{msi}'"))},
	{"key details", "GET", "/v3/service_credential_bindings/{key}/details", nil,
		rolePer(roleOK(200), roleOK(200), roleNotFound("Service credential binding"), roleNotFound("Service credential binding"))},
	{"key parameters", "GET", "/v3/service_credential_bindings/{key}/parameters", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Service credential binding"))},
	{"delete key", "DELETE", "/v3/service_credential_bindings/{key}", nil,
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Service credential binding"))},
}

func init() {
	roleAnonRows = append(roleAnonRows, managedRoleReads...)
	roleFixtureRows = append(roleFixtureRows, managedRoleRows...)
}

// finish waits for the job of a 202 to end, and fails unless it completed.
func (c *cf) finish(r resp, user string) {
	c.t.Helper()
	if state := c.waitJob(r.header["Location"], user); state != store.JobComplete {
		// waitJob stops at POLLING too: poll on until the end.
		for state == store.JobPolling {
			state = c.job(r.header["Location"], user).State
		}
		if state != store.JobComplete {
			c.t.Fatalf("job %s: %s", r.header["Location"], state)
		}
	}
}

// TestRoleManagedServiceWrites runs managedRoleRows with a broker whose
// operations end as soon as they are polled.
func TestRoleManagedServiceWrites(t *testing.T) {
	t.Parallel()
	setup := func(c *cf, space, name string) map[string]string {
		c.t.Helper()
		ctx, st := context.Background(), c.srv.Store()
		sp, err := st.GetSpace(ctx, store.Viewer{All: true}, space)
		if err != nil {
			c.t.Fatal(err)
		}
		space2 := fmt.Sprintf("5ace2000-0000-4000-8000-%012x", hashName(name))
		now := st.Now()
		if err := st.CreateSpace(ctx, store.Space{GUID: space2, Name: name + "-two", OrgGUID: sp.OrgGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
			c.t.Fatal(err)
		}
		for i, r := range []store.Role{{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID}, {Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID}} {
			r.GUID, r.OrgGUID, r.SpaceGUID = fmt.Sprintf("%s-role-%d", space2, i), sp.OrgGUID, space2
			if err := st.AddRole(ctx, r); err != nil {
				c.t.Fatal(err)
			}
		}
		var upsi struct{ GUID string }
		c.must(201, "POST", "/v3/service_instances", "admin", upsiBody(name+"-up", space, map[string]any{"credentials": map[string]string{"user": "u"}})).json(c.t, &upsi)
		create := func(n string) string {
			r := c.must(202, "POST", "/v3/service_instances", "admin", managedBody(n, space, DBSmallPlanGUID, map[string]any{"parameters": map[string]int{"size": 1}}))
			c.finish(r, "admin")
			return c.created(r, "admin")
		}
		msi, shared := create(name), create(name+"-shared")
		c.must(200, "POST", "/v3/service_instances/"+shared+"/relationships/shared_spaces", "admin",
			map[string]any{"data": []map[string]string{{"guid": space2}}})
		r := c.must(202, "POST", "/v3/service_credential_bindings", "admin", keyBody(msi, "key", nil))
		c.finish(r, "admin")
		return map[string]string{"{msi}": msi, "{shared}": shared, "{upsi}": upsi.GUID, "{key}": c.created(r, "admin"),
			"{app2}": roleAppIn(c, space, name+"-b", false), "{space2}": space2, "{name}": name + "-new"}
	}
	snapshot := func(t *testing.T, c *cf, vals map[string]string) string {
		ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
		var b strings.Builder
		_, named, err := st.ListServiceInstances(ctx, all, store.ServiceInstanceFilter{Names: []string{vals["{name}"]}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "named %d\n", named)
		for _, k := range []string{"{msi}", "{shared}", "{upsi}"} {
			si, err := st.GetServiceInstance(ctx, all, vals[k])
			shares, _ := st.SharedSpaces(ctx, vals[k])
			lo := ""
			if si.LastOperation != nil {
				lo = si.LastOperation.Type + " " + si.LastOperation.State
			}
			fmt.Fprintf(&b, "%s %v %s %s %s %d shares\n", k, err, si.Name, si.Credentials, lo, len(shares))
		}
		bindings, _, err := st.ListServiceCredentialBindings(ctx, all, store.BindingFilter{ServiceInstanceGUIDs: []string{vals["{msi}"]}},
			store.Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, bd := range bindings {
			fmt.Fprintf(&b, "binding %s %s %+v\n", bd.GUID, bd.Type, bd.LastOperation)
		}
		return b.String()
	}
	runFixtureRoles(t, managedRoleRows, setup, snapshot, WithBrokerDuration(0))
}

// hashName is a number that names tell apart, for fixture guids.
func hashName(name string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h & 0xffffffffffff
}

// roleRaw checks the JSON text at a path of the body.
func roleRaw(path, want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := rawAt(t, r.body, path); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}
