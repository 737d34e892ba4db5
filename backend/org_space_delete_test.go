package backend

import (
	"encoding/json"
	"testing"

	"capibridge/backend/store"
)

// jobOf fetches the job at location as user.
func jobOf(c *cf, location, user string) (state string, errs []errorEntry, op string) {
	c.t.Helper()
	var j struct {
		State     string
		Operation string
		Errors    []errorEntry
	}
	c.must(200, "GET", location[len("http://api.example.org"):], user, nil).json(c.t, &j)
	return j.State, j.Errors, j.Operation
}

// fillSpace puts an app, a route mapped to it, a user-provided instance
// bound to the app and a space manager role in a new space of org.
func fillSpace(c *cf, org, name string) (space, app, route, instance string) {
	c.t.Helper()
	var sp spaceCreated
	c.must(201, "POST", "/v3/spaces", "admin", spaceBody(name, org)).json(c.t, &sp)
	app = roleAppIn(c, sp.GUID, name+"-app", false)
	var rt, si struct{ GUID string }
	c.must(201, "POST", "/v3/routes", "admin", routeBody(name, "", sp.GUID, SharedDomainGUID)).json(c.t, &rt)
	c.must(200, "POST", "/v3/routes/"+rt.GUID+"/destinations", "admin", map[string]any{"destinations": []map[string]any{{"app": map[string]string{"guid": app}}}})
	c.must(201, "POST", "/v3/service_instances", "admin", upsiBody(name+"-db", sp.GUID, nil)).json(c.t, &si)
	c.must(201, "POST", "/v3/service_credential_bindings", "admin", bindingBody(si.GUID, app, ""))
	if err := c.srv.Store().AddRole(c.t.Context(), store.Role{GUID: "sm-" + sp.GUID, Type: store.RoleSpaceManager, UserGUID: AuditorGUID,
		OrgGUID: org, SpaceGUID: sp.GUID}); err != nil {
		c.t.Fatal(err)
	}
	return sp.GUID, app, rt.GUID, si.GUID
}

// gone checks every path answers 404 to the admin.
func gone(c *cf, paths ...string) {
	c.t.Helper()
	for _, p := range paths {
		if r := c.do("GET", p, "admin", nil); r.status != 404 {
			c.t.Errorf("%s: %d after the delete", p, r.status)
		}
	}
}

func TestDeleteSpace(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(DemoOrgGUID, roleSuspendedOrgGUID)
	space, app, route, instance := fillSpace(c, DemoOrgGUID, "doomed")
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/spaces/"+space, "auditor", nil)) // a space manager may not
	roleNotFound("Space").assert(t, c.do("DELETE", "/v3/spaces/"+space, "outsider", nil))
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/spaces/"+DemoSpaceGUID, "developer", nil))
	roleOrgSuspended.assert(t, c.do("DELETE", "/v3/spaces/"+roleSuspendedSpaceGUID, "manager", nil))
	loc := c.must(202, "DELETE", "/v3/spaces/"+space, "manager", nil).header["Location"]
	if state := c.waitJob(loc, "manager"); state != store.JobComplete {
		t.Fatalf("job %s", state)
	}
	if _, _, op := jobOf(c, loc, "manager"); op != "space.delete" {
		t.Errorf("operation %q", op)
	}
	gone(c, "/v3/spaces/"+space, "/v3/apps/"+app, "/v3/routes/"+route, "/v3/service_instances/"+instance)
	if roles, _ := c.srv.Store().RolesIn(t.Context(), AuditorGUID, DemoOrgGUID, space); len(roles) != 1 {
		t.Errorf("auditor keeps %v", roles) // the org user role stays
	}
	if n := countEvents(c, "audit.space.delete-request", space); n != 1 {
		t.Errorf("%d delete events", n)
	}
	// The admin deletes in a suspended org.
	loc = c.must(202, "DELETE", "/v3/spaces/"+roleSuspendedSpaceGUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("job %s", state)
	}
}

// A managed instance with an operation in progress stops the delete:
// the job fails with CC's SpaceDeletionFailed and the space stays.
func TestDeleteSpaceBusyInstance(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var sp spaceCreated
	c.must(201, "POST", "/v3/spaces", "admin", spaceBody("busy", DemoOrgGUID)).json(t, &sp)
	now := c.srv.Store().Now()
	si := store.ServiceInstance{GUID: "busy-si", Type: store.Managed, Name: "busy-db", SpaceGUID: sp.GUID, CreatedAt: now, UpdatedAt: now,
		Credentials: json.RawMessage("{}"), LastOperation: &store.InstanceOperation{Type: "create", State: "in progress", CreatedAt: now, UpdatedAt: now}}
	if err := c.srv.Store().CreateServiceInstance(t.Context(), si); err != nil {
		t.Fatal(err)
	}
	loc := c.must(202, "DELETE", "/v3/spaces/"+sp.GUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobFailed {
		t.Fatalf("job %s", state)
	}
	_, errs, _ := jobOf(c, loc, "admin")
	want := errorEntry{Title: "CF-SpaceDeletionFailed", Code: 290008,
		Detail: "Deletion of space busy failed because one or more resources within could not be deleted.\n\n\tAn operation for service instance busy-db is in progress."}
	if len(errs) != 1 || errs[0] != want {
		t.Errorf("errors %+v", errs)
	}
	c.must(200, "GET", "/v3/spaces/"+sp.GUID, "admin", nil)
	// The org's delete fails with the space's text inside its own.
	loc = c.must(202, "DELETE", "/v3/organizations/"+DemoOrgGUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobFailed {
		t.Fatalf("org job %s", state)
	}
	_, errs, _ = jobOf(c, loc, "admin")
	if len(errs) != 1 || errs[0].Title != "CF-OrganizationDeletionFailed" || errs[0].Code != 290010 ||
		errs[0].Detail != "Deletion of organization demo-org failed because one or more resources within could not be deleted.\n\n"+want.Detail {
		t.Errorf("org errors %+v", errs)
	}
	c.must(200, "GET", "/v3/organizations/"+DemoOrgGUID, "admin", nil)
}

func TestDeleteOrg(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(roleSuspendedOrgGUID)
	var o orgCreated
	c.must(201, "POST", "/v3/organizations", "admin", map[string]any{"name": "doomed"}).json(t, &o)
	space, app, route, instance := fillSpace(c, o.GUID, "in-doomed")
	var d struct{ GUID string }
	c.must(201, "POST", "/v3/domains", "admin", privateDomainBody("doomed.example.org", o.GUID)).json(t, &d)
	// The demo org's domain is shared with the doomed org: unshared.
	var shared struct{ GUID string }
	c.must(201, "POST", "/v3/domains", "admin", privateDomainBody("demo.example.org", DemoOrgGUID, o.GUID)).json(t, &shared)
	roleNotFound("Organization").assert(t, c.do("DELETE", "/v3/organizations/"+o.GUID, "developer", nil))
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/organizations/"+DemoOrgGUID, "developer", nil))
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/organizations/"+roleSuspendedOrgGUID, "manager", nil))
	roleNotFound("Organization").assert(t, c.do("DELETE", "/v3/organizations/"+roleMissingGUID, "admin", nil))
	loc := c.must(202, "DELETE", "/v3/organizations/"+o.GUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("job %s", state)
	}
	if _, _, op := jobOf(c, loc, "admin"); op != "organization.delete" {
		t.Errorf("operation %q", op)
	}
	gone(c, "/v3/organizations/"+o.GUID, "/v3/spaces/"+space, "/v3/apps/"+app, "/v3/routes/"+route,
		"/v3/service_instances/"+instance, "/v3/domains/"+d.GUID)
	c.must(200, "GET", "/v3/domains/"+shared.GUID, "admin", nil)
	if roles := roleTypesOf(c, AuditorGUID, o.GUID); len(roles) != 0 {
		t.Errorf("roles left %v", roles)
	}
	if n := countEvents(c, "audit.organization.delete-request", o.GUID); n != 1 {
		t.Errorf("%d delete events", n)
	}
	// An own domain shared with another org stops the delete.
	var o2 orgCreated
	c.must(201, "POST", "/v3/organizations", "admin", map[string]any{"name": "sharer"}).json(t, &o2)
	c.must(201, "POST", "/v3/domains", "admin", privateDomainBody("sharer.example.org", o2.GUID, DemoOrgGUID))
	loc = c.must(202, "DELETE", "/v3/organizations/"+o2.GUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobFailed {
		t.Fatalf("job %s", state)
	}
	_, errs, _ := jobOf(c, loc, "admin")
	if len(errs) != 1 || errs[0].Detail != "Deletion of organization sharer failed because one or more resources within could not be deleted.\n\n"+
		"Domain 'sharer.example.org' is shared with other organizations. Unshare before deleting." {
		t.Errorf("errors %+v", errs)
	}
}
