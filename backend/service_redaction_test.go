package backend

import (
	"context"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// TestServiceCredentialsRedaction: credentials are secrets. Readers who may
// see an instance, its bindings and keys but not the space's secrets (the
// space auditor, a space manager, an org manager) get the instances and
// bindings without credentials; the credentials endpoints refuse them as CC
// does (403 for a user-provided instance's, 404 for a binding's or key's
// details), and nothing they can read carries a credential
// (can_read_secrets_in_space?: admin, admin_read_only, space developer).
func TestServiceCredentialsRedaction(t *testing.T) {
	t.Parallel()
	c, _ := startBroker(t, 0, 0)
	c.addManager(DemoOrgGUID)
	ctx, st := context.Background(), c.srv.Store()
	const spaceManagerGUID = "05e40000-0000-4000-8000-0000000000a2"
	if err := st.CreateUser(ctx, store.User{GUID: spaceManagerGUID, Username: "space-manager", Email: "sm@example.org", Scopes: userScopes}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Role{{GUID: "sm-org", Type: store.RoleOrgUser}, {GUID: "sm-space", Type: store.RoleSpaceManager, SpaceGUID: DemoSpaceGUID}} {
		r.UserGUID, r.OrgGUID = spaceManagerGUID, DemoOrgGUID
		if err := st.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := c.srv.Token(ctx, "space-manager")
	if err != nil {
		t.Fatal(err)
	}
	c.tokens["space-manager"] = tok

	app := c.createApp("developer", "app", nil)
	var ups struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("ups", DemoSpaceGUID,
		map[string]any{"credentials": map[string]string{"password": "ups-secret"}})).json(t, &ups)
	var upsBinding struct{ GUID string }
	c.must(201, "POST", "/v3/service_credential_bindings", "developer", bindingBody(ups.GUID, app, "")).json(t, &upsBinding)
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db", DemoSpaceGUID, DBSmallPlanGUID, nil))
	c.finish(r, "developer")
	db := c.created(r, "developer")
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(db, "ci", nil))
	c.finish(r, "developer")
	key := c.created(r, "developer")
	var details struct{ Credentials struct{ Password string } }
	c.must(200, "GET", "/v3/service_credential_bindings/"+key+"/details", "developer", nil).json(t, &details)
	secrets := []string{"ups-secret", details.Credentials.Password}

	for _, user := range []string{"auditor", "space-manager", "manager"} {
		t.Run(user, func(t *testing.T) {
			v := c.forTest(t)
			roleNotAuthorized.assert(t, v.do("GET", "/v3/service_instances/"+ups.GUID+"/credentials", user, nil))
			for _, b := range []string{upsBinding.GUID, key} {
				roleNotFound("Service credential binding").assert(t, v.do("GET", "/v3/service_credential_bindings/"+b+"/details", user, nil))
			}
			for _, path := range []string{"/v3/service_instances", "/v3/service_instances/" + db, "/v3/service_credential_bindings?include=service_instance,app",
				"/v3/service_credential_bindings/" + key, "/v3/service_credential_bindings/" + key + "/parameters", "/v3/service_instances/" + db + "/parameters",
				"/v3/apps/" + app + "/env"} {
				r := v.do("GET", path, user, nil)
				for _, secret := range secrets {
					if strings.Contains(string(r.body), secret) {
						t.Errorf("%s as %s shows a credential: %s", path, user, r.body)
					}
				}
			}
			if n := v.listPage(user, "/v3/service_credential_bindings").Pagination.TotalResults; n != 2 {
				t.Errorf("%s sees %d bindings, want 2", user, n)
			}
		})
	}
	// The developer and the admin read them, and the read is audited.
	for _, user := range []string{"developer", "admin"} {
		if got := string(c.must(200, "GET", "/v3/service_instances/"+ups.GUID+"/credentials", user, nil).body); got != `{"password":"ups-secret"}` {
			t.Errorf("%s reads credentials %s", user, got)
		}
	}
	if n := c.listPage("admin", "/v3/audit_events?types=audit.service_key.show&target_guids="+key).Pagination.TotalResults; n != 1 {
		t.Errorf("%d audit.service_key.show events, want 1", n)
	}
}
