package backend

import (
	"context"
	"slices"
	"testing"

	"capibridge/backend/store"
)

// sharedSpaceGUID is a second space of demo-org, where the developer is a
// space developer too.
const sharedSpaceGUID = "5ace0000-0000-4000-8000-0000000000c1"

// addSharedSpace makes sharedSpaceGUID.
func (c *cf) addSharedSpace() {
	c.t.Helper()
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	if err := st.CreateSpace(ctx, store.Space{GUID: sharedSpaceGUID, Name: "shared-space", OrgGUID: DemoOrgGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		c.t.Fatal(err)
	}
	if err := st.AddRole(ctx, store.Role{GUID: "shared-space-dev", Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, OrgGUID: DemoOrgGUID,
		SpaceGUID: sharedSpaceGUID}); err != nil {
		c.t.Fatal(err)
	}
}

// TestServiceInstanceSharing shares a managed instance into a second space
// of its org, binds an app there, reads the sharing, and unshares it.
func TestServiceInstanceSharing(t *testing.T) {
	t.Parallel()
	c, _ := startBroker(t, 0, 0)
	c.addSharedSpace()
	c.addOtherSpace()
	create := func(user, name, space, plan string) string {
		t.Helper()
		r := c.must(202, "POST", "/v3/service_instances", user, managedBody(name, space, plan, nil))
		c.finish(r, user)
		return c.created(r, user)
	}
	db := create("developer", "db", DemoSpaceGUID, DBSmallPlanGUID)
	shares := "/v3/service_instances/" + db + "/relationships/shared_spaces"
	share := func(guids ...string) map[string]any {
		var data []map[string]string
		for _, g := range guids {
			data = append(data, map[string]string{"guid": g})
		}
		return map[string]any{"data": data}
	}
	want := `{"data":[{"guid":"` + sharedSpaceGUID + `"}],"links":{"self":{"href":"` + v3Base + shares + `"}}}`
	if got := string(c.must(200, "POST", shares, "developer", share(sharedSpaceGUID)).body); got != want {
		t.Errorf("share\n got %s\nwant %s", got, want)
	}
	// A space's name shows to those who see the space; the auditor has no
	// role in the shared space.
	for user, space := range map[string]string{"developer": `,"name":"shared-space"`, "auditor": ""} {
		got := string(c.must(200, "GET", shares+"?fields[space]=name,guid&fields[space.organization]=name", user, nil).body)
		if want := want[:len(want)-1] + `,"included":{"spaces":[{"guid":"` + sharedSpaceGUID + `"` + space + `}],"organizations":[{"name":"demo-org"}]}}`; got != want {
			t.Errorf("shared spaces with fields as %s\n got %s\nwant %s", user, got, want)
		}
	}
	if got := guidsOf(c.listPage("developer", "/v3/service_instances?space_guids="+sharedSpaceGUID).Resources); !slices.Equal(got, []string{db}) {
		t.Errorf("instances of the shared space %v", got)
	}
	wantV3Error(t, c.do("PATCH", "/v3/service_instances/"+db, "developer", map[string]any{"name": "renamed"}), 422, 10008, "CF-UnprocessableEntity",
		"Service instances that have been shared cannot be renamed")

	// An app in the shared space binds to it.
	var app struct{ GUID string }
	c.must(201, "POST", "/v3/apps", "developer", map[string]any{"name": "consumer",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": sharedSpaceGUID}}}}).json(t, &app)
	c.finish(c.must(202, "POST", "/v3/service_credential_bindings", "developer", bindingBody(db, app.GUID, "")), "developer")
	usage := string(c.must(200, "GET", shares+"/usage_summary", "developer", nil).body)
	wantUsage := `{"usage_summary":[{"space":{"guid":"` + sharedSpaceGUID + `"},"bound_app_count":1}],"links":{"self":{"href":"` + v3Base + shares +
		`/usage_summary"},"shared_spaces":{"href":"` + v3Base + shares + `"},"service_instance":{"href":"` + v3Base + "/v3/service_instances/" + db + `"}}}`
	if usage != wantUsage {
		t.Errorf("usage\n got %s\nwant %s", usage, wantUsage)
	}

	ups := func() string {
		var u struct{ GUID string }
		c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("ups", DemoSpaceGUID, nil)).json(t, &u)
		return u.GUID
	}()
	cache := create("developer", "cache", DemoSpaceGUID, CacheBasicPlanGUID)
	large := create("admin", "big", DemoSpaceGUID, DBLargePlanGUID)
	create("developer", "db-two", sharedSpaceGUID, DBSmallPlanGUID)
	clash := create("developer", "db-two", DemoSpaceGUID, DBSmallPlanGUID)
	for _, tc := range []struct {
		name, user, instance string
		body                 any
		detail               string
	}{
		{"user-provided", "developer", ups, share(sharedSpaceGUID), "User-provided services cannot be shared."},
		{"not shareable", "developer", cache, share(sharedSpaceGUID), "The capibridge-cache service does not support service instance sharing."},
		{"own space", "developer", db, share(DemoSpaceGUID), "Unable to share service instance 'db' with space '" + DemoSpaceGUID + "'. " +
			"Service instances cannot be shared into the space where they were created."},
		{"unknown space", "developer", db, share(roleMissingGUID), "Unable to share service instance db with spaces ['" + roleMissingGUID + "']. " +
			"Ensure the spaces exist and that you have access to them."},
		{"plan not in the org", "admin", large, share(otherSpaceGUID), "Access to service capibridge-db and plan large is not enabled in other-org/other-space."},
		{"name in the space", "developer", clash, share(sharedSpaceGUID), "A service instance called db-two already exists in shared-space."},
		{"data not a list", "developer", db, map[string]any{"data": "x"}, "Data must be an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantV3Error(t, c.forTest(t).do("POST", "/v3/service_instances/"+tc.instance+"/relationships/shared_spaces", tc.user, tc.body),
				422, 10008, "CF-UnprocessableEntity", tc.detail)
		})
	}

	// Unsharing takes the bindings in that space along.
	wantV3Error(t, c.do("DELETE", shares+"/"+roleMissingGUID, "developer", nil), 422, 10008, "CF-UnprocessableEntity",
		"Unable to unshare service instance from space "+roleMissingGUID+". Ensure the space exists.")
	c.must(204, "DELETE", shares+"/"+sharedSpaceGUID, "developer", nil)
	if n := c.listPage("developer", "/v3/service_credential_bindings?app_guids="+app.GUID).Pagination.TotalResults; n != 0 {
		t.Errorf("%d bindings in the space after the unshare", n)
	}
	if got := string(c.must(200, "GET", shares, "developer", nil).body); got != `{"data":[],"links":{"self":{"href":"`+v3Base+shares+`"}}}` {
		t.Errorf("after the unshare %s", got)
	}
	for _, typ := range []string{"audit.service_instance.share", "audit.service_instance.unshare"} {
		if n := c.listPage("admin", "/v3/audit_events?types="+typ+"&target_guids="+db).Pagination.TotalResults; n != 1 {
			t.Errorf("%d %s events", n, typ)
		}
	}
	for user, want := range map[string]string{"developer": `{"manage":true,"read":true}`, "auditor": `{"manage":false,"read":true}`,
		"outsider": `{"manage":false,"read":false}`} {
		if got := string(c.must(200, "GET", "/v3/service_instances/"+db+"/permissions", user, nil).body); got != want {
			t.Errorf("%s permissions %s, want %s", user, got, want)
		}
	}
}

// TestServiceInstanceListFields: the filters and fields[...] of the
// instances list and show.
func TestServiceInstanceListFields(t *testing.T) {
	t.Parallel()
	c, _ := startBroker(t, 0, 0)
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db", DemoSpaceGUID, DBLargePlanGUID, nil))
	c.finish(r, "developer")
	db := c.created(r, "developer")
	var ups struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("ups", DemoSpaceGUID, nil)).json(t, &ups)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/v3/service_instances?type=managed", []string{db}},
		{"/v3/service_instances?type=user-provided", []string{ups.GUID}},
		{"/v3/service_instances?service_plan_guids=" + DBLargePlanGUID, []string{db}},
		{"/v3/service_instances?service_plan_names=small", []string{}},
		{"/v3/service_instances?guids=" + ups.GUID + "," + db + "&order_by=-name", []string{ups.GUID, db}},
	} {
		if got := guidsOf(c.listPage("developer", tc.path).Resources); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
	}
	var plans struct{ Resources []struct{ Name string } }
	c.must(200, "GET", "/v3/service_plans?service_instance_guids="+db, "developer", nil).json(t, &plans)
	if len(plans.Resources) != 1 || plans.Resources[0].Name != "large" {
		t.Errorf("plans of the instance %+v", plans.Resources)
	}
	list := c.must(200, "GET", "/v3/service_instances?fields[space]=name,guid,relationships.organization&fields[space.organization]=name,guid"+
		"&fields[service_plan]=guid,name,relationships.service_offering&fields[service_plan.service_offering]=name,guid,documentation_url"+
		"&fields[service_plan.service_offering.service_broker]=name", "developer", nil).body
	want := `{"spaces":[{"guid":"` + DemoSpaceGUID + `","name":"demo-space","relationships":{"organization":{"data":{"guid":"` + DemoOrgGUID + `"}}}}],` +
		`"organizations":[{"guid":"` + DemoOrgGUID + `","name":"demo-org"}],` +
		`"service_plans":[{"guid":"` + DBLargePlanGUID + `","name":"large","relationships":{"service_offering":{"data":{"guid":"` + DBOfferingGUID + `"}}}}],` +
		`"service_offerings":[{"name":"capibridge-db","guid":"` + DBOfferingGUID + `","documentation_url":"https://capibridge.local/docs/capibridge-db"}],` +
		`"service_brokers":[{"name":"capibridge-broker"}]}`
	if got := rawAt(t, list, "included"); got != want {
		t.Errorf("included\n got %s\nwant %s", got, want)
	}
	// A page of user-provided instances has no plans to include.
	if got := rawAt(t, c.must(200, "GET", "/v3/service_instances?type=user-provided&fields[service_plan]=name", "developer", nil).body,
		"included"); got != "{}" {
		t.Errorf("included of user-provided instances %s", got)
	}
	shown := c.must(200, "GET", "/v3/service_instances/"+db+"?fields[service_plan.service_offering]=name,tags", "auditor", nil).body
	if got := rawAt(t, shown, "included"); got != `{"service_offerings":[{"name":"capibridge-db","tags":["postgresql","relational"]}]}` {
		t.Errorf("shown with fields: included %s", got)
	}
	wantBadQuery(t, c.do("GET", "/v3/service_instances/"+db+"?fields[space]=relationships.organization", "developer", nil),
		"The query parameter is invalid: Fields valid keys for 'space' are: 'name', 'guid'")
	wantBadQuery(t, c.do("GET", "/v3/service_instances?fields=name", "developer", nil), "The query parameter is invalid: Fields must be an object")
}
