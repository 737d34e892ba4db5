package backend

import (
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// TestManagedInstanceFailures: the broker fails what names and parameters
// ask it to, and CC's jobs and last operations say so.
func TestManagedInstanceFailures(t *testing.T) {
	t.Parallel()
	c, clk := startBroker(t, 0, 5*time.Second)
	done := func() { t.Helper(); clk.Advance(5 * time.Second) }
	unable := func(t *testing.T, j jobBody, detail string) {
		t.Helper()
		if j.State != store.JobFailed || len(j.Errors) != 1 || j.Errors[0] != (errorEntry{Detail: detail, Title: "CF-UnableToPerform", Code: 10009}) {
			t.Errorf("job %+v, want FAILED with %q", j, detail)
		}
	}

	// A provision that fails leaves the instance "create failed"; its name
	// can be taken again.
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db-capibridge-fail", DemoSpaceGUID, DBSmallPlanGUID, nil))
	failed := c.created(r, "developer")
	done()
	unable(t, c.job(r.header["Location"], "developer"),
		`create managed could not be completed: The provision failed: the instance name "db-capibridge-fail" asks for it`)
	path := "/v3/service_instances/" + failed
	if got := c.lastOp(path, "developer"); got != "create failed" {
		t.Errorf("failed instance: %s", got)
	}
	roleNotFound("Service instance").assert(t, c.do("GET", path+"/parameters", "developer", nil))
	wantV3Error(t, c.do("PATCH", path, "developer", map[string]any{"tags": []string{"x"}}), 404, 60004, "CF-ServiceInstanceNotFound",
		"The service instance could not be found: db-capibridge-fail")
	wantV3Error(t, c.do("POST", "/v3/service_credential_bindings", "developer", keyBody(failed, "k", nil)), 422, 10008, "CF-UnprocessableEntity",
		"Service instance not found")
	r = c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db-capibridge-fail", DemoSpaceGUID, DBSmallPlanGUID, nil))
	roleNotFound("Service instance").assert(t, c.do("GET", path, "developer", nil))
	retry := c.created(r, "developer")
	done()
	c.must(202, "DELETE", "/v3/service_instances/"+retry, "developer", nil)
	done()

	// A failed update, a failed bind, a failed unbind and a failed
	// deprovision leave the instance and its key in place.
	r = c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db-capibridge-fail-update", DemoSpaceGUID, DBSmallPlanGUID,
		map[string]any{"parameters": map[string]int{"size": 1}}))
	si := c.created(r, "developer")
	path = "/v3/service_instances/" + si
	done()
	r = c.must(202, "PATCH", path, "developer", map[string]any{"parameters": map[string]int{"size": 2}})
	done()
	unable(t, c.job(r.header["Location"], "developer"), `update could not be completed: The update failed: the instance name "db-capibridge-fail-update" asks for it`)
	if got := c.lastOp(path, "developer"); got != "update failed" {
		t.Errorf("after a failed update: %s", got)
	}
	if got := string(c.must(200, "GET", path+"/parameters", "developer", nil).body); got != `{"size":1}` {
		t.Errorf("parameters after a failed update %s", got)
	}
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(si, "k", map[string]any{"capibridge-fail": "no keys today"}))
	key := c.created(r, "developer")
	done()
	// Bindings fail with the class name of the exception CC raises bare.
	unable(t, c.job(r.header["Location"], "developer"), "create could not be completed: VCAP::CloudController::V3::LastOperationFailedState")
	keyPath := "/v3/service_credential_bindings/" + key
	if got := rawAt(t, c.must(200, "GET", keyPath, "developer", nil).body, "last_operation.description"); got != `"no keys today"` {
		t.Errorf("failed key's description %s", got)
	}
	wantV3Error(t, c.do("GET", keyPath+"/details", "developer", nil), 404, 10010, "CF-ResourceNotFound", "Creation of service key failed")
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(si, "k", nil))
	if got := c.created(r, "developer"); got == key {
		t.Errorf("the failed key was not replaced")
	}
	done()

	r = c.must(202, "POST", "/v3/service_instances", "developer", managedBody("q-capibridge-fail-deprovision", DemoSpaceGUID, DBSmallPlanGUID, nil))
	gone := c.created(r, "developer")
	done()
	r = c.must(202, "DELETE", "/v3/service_instances/"+gone, "developer", nil)
	done()
	unable(t, c.job(r.header["Location"], "developer"),
		`delete could not be completed: The deprovision failed: the instance name "q-capibridge-fail-deprovision" asks for it`)
	if got := c.lastOp("/v3/service_instances/"+gone, "developer"); got != "delete failed" {
		t.Errorf("after a failed delete: %s", got)
	}
	// purge removes it without the broker, for an admin only.
	roleNotAuthorized.assert(t, c.do("DELETE", "/v3/service_instances/"+gone+"?purge=true", "developer", nil))
	c.must(204, "DELETE", "/v3/service_instances/"+gone+"?purge=true", "admin", nil)
	roleNotFound("Service instance").assert(t, c.do("GET", "/v3/service_instances/"+gone, "admin", nil))

	r = c.must(202, "POST", "/v3/service_instances", "developer", managedBody("k-capibridge-fail-unbind", DemoSpaceGUID, DBSmallPlanGUID, nil))
	unbind := c.created(r, "developer")
	done()
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(unbind, "k", nil))
	key = c.created(r, "developer")
	done()
	r = c.must(202, "DELETE", "/v3/service_credential_bindings/"+key, "developer", nil)
	done()
	unable(t, c.job(r.header["Location"], "developer"), "delete could not be completed: VCAP::CloudController::V3::LastOperationFailedState")
	if got := c.lastOp("/v3/service_credential_bindings/"+key, "developer"); got != "delete failed" {
		t.Errorf("after a failed unbind: %s", got)
	}
	wantV3Error(t, c.do("POST", "/v3/service_credential_bindings", "developer", keyBody(unbind, "k", nil)), 422, 10008, "CF-UnprocessableEntity",
		"The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with the name 'k' "+
			"that is getting deleted or its deletion failed.")
}

// TestManagedServiceErrors: CC's answers to what cannot be done, in the
// order CC checks.
func TestManagedServiceErrors(t *testing.T) {
	t.Parallel()
	c, _ := startBroker(t, 0, 0)
	c.addOtherSpace()
	create := func(name, plan string) string {
		t.Helper()
		r := c.must(202, "POST", "/v3/service_instances", "admin", managedBody(name, DemoSpaceGUID, plan, nil))
		c.finish(r, "admin")
		return c.created(r, "admin")
	}
	db, cache := create("db", DBSmallPlanGUID), create("cache", CacheBasicPlanGUID)
	app := c.createApp("developer", "app", nil)
	var upsi struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("ups", DemoSpaceGUID, nil)).json(t, &upsi)
	c.finish(c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(db, "taken", nil)), "developer")
	c.finish(c.must(202, "POST", "/v3/service_credential_bindings", "developer", bindingBody(db, app, "")), "developer")
	plan := func(guid string) map[string]any {
		return map[string]any{"service_plan": map[string]any{"data": map[string]string{"guid": guid}}}
	}
	invalidPlan := "Invalid service plan. Ensure that the service plan exists, is available, and you have access to it."
	cases := []struct {
		name, user, method, path string
		body                     any
		status, code             int
		title, detail            string
	}{
		{"create: unknown plan", "developer", "POST", "/v3/service_instances", managedBody("x", DemoSpaceGUID, roleMissingGUID, nil),
			422, 10008, "CF-UnprocessableEntity", invalidPlan},
		{"create: plan not visible in the org", "admin", "POST", "/v3/service_instances", managedBody("x", otherSpaceGUID, DBLargePlanGUID, nil),
			422, 10008, "CF-UnprocessableEntity", "Invalid service plan. This could be due to a space-scoped broker which is offering the service plan " +
				"'large' with guid '" + DBLargePlanGUID + "' in another space or that the plan is not enabled in this organization. Ensure that the " +
				"service plan is visible in your current space 'other-space' with guid '" + otherSpaceGUID + "'."},
		{"create: name taken", "developer", "POST", "/v3/service_instances", managedBody("db", DemoSpaceGUID, DBSmallPlanGUID, nil),
			422, 10008, "CF-UnprocessableEntity", "The service instance name is taken: db."},
		{"create: no plan", "developer", "POST", "/v3/service_instances", upsiBody("x", DemoSpaceGUID, map[string]any{"type": "managed"}),
			422, 10008, "CF-UnprocessableEntity", `Relationships Service plan must be structured like this: "service_plan: {"data": {"guid": "valid-guid"}}"`},
		{"create: credentials", "developer", "POST", "/v3/service_instances", managedBody("x", DemoSpaceGUID, DBSmallPlanGUID,
			map[string]any{"credentials": map[string]string{}}), 422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'credentials'"},
		{"create: parameters not an object", "developer", "POST", "/v3/service_instances", managedBody("x", DemoSpaceGUID, DBSmallPlanGUID,
			map[string]any{"parameters": []int{1}}), 422, 10008, "CF-UnprocessableEntity", "Parameters must be an object"},
		{"update: plan of another offering", "developer", "PATCH", "/v3/service_instances/" + db, map[string]any{"relationships": plan(CacheBasicPlanGUID)},
			400, 1002, "CF-InvalidRelation", "service plan relates to a different service offering"},
		{"update: plan of an offering that keeps its plans", "developer", "PATCH", "/v3/service_instances/" + cache,
			map[string]any{"relationships": plan(CacheBasicPlanGUID)}, 422, 10008, "CF-UnprocessableEntity", "The service does not support changing plans."},
		{"update: unknown plan", "developer", "PATCH", "/v3/service_instances/" + db, map[string]any{"relationships": plan(roleMissingGUID)},
			422, 10008, "CF-UnprocessableEntity", invalidPlan},
		{"update: name taken", "developer", "PATCH", "/v3/service_instances/" + db, map[string]any{"name": "cache"},
			422, 10008, "CF-UnprocessableEntity", "The service instance name is taken: cache"},
		{"update: maintenance_info", "developer", "PATCH", "/v3/service_instances/" + db, map[string]any{"maintenance_info": map[string]string{"version": "2.0.0"}},
			422, 10008, "CF-UnprocessableEntity", "The service broker does not support upgrades for service instances created from this plan."},
		{"update: unknown field", "developer", "PATCH", "/v3/service_instances/" + db, map[string]any{"credentials": map[string]string{}},
			422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'credentials'"},
		{"update user-provided: parameters", "developer", "PATCH", "/v3/service_instances/" + upsi.GUID, map[string]any{"parameters": map[string]string{}},
			422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'parameters'"},
		{"update user-provided: name taken", "developer", "PATCH", "/v3/service_instances/" + upsi.GUID, map[string]any{"name": "db"},
			422, 10008, "CF-UnprocessableEntity", "The service instance name is taken: db."},
		{"bind: not bindable", "developer", "POST", "/v3/service_credential_bindings", bindingBody(cache, app, ""),
			422, 10008, "CF-UnprocessableEntity", "Service plan does not allow bindings"},
		{"key: not bindable", "developer", "POST", "/v3/service_credential_bindings", keyBody(cache, "k", nil),
			422, 10008, "CF-UnprocessableEntity", "Service plan does not allow bindings."},
		{"key: name taken", "developer", "POST", "/v3/service_credential_bindings", keyBody(db, "taken", nil),
			422, 10008, "CF-UnprocessableEntity", "The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name 'taken'."},
		{"key: user-provided", "developer", "POST", "/v3/service_credential_bindings", keyBody(upsi.GUID, "k", nil),
			422, 10008, "CF-UnprocessableEntity", "Service credential bindings of type 'key' are not supported for user-provided service instances."},
		{"key: no name", "developer", "POST", "/v3/service_credential_bindings", map[string]any{"type": "key",
			"relationships": keyBody(db, "", nil)["relationships"]}, 422, 10008, "CF-UnprocessableEntity", "Name must be a string, Name can't be blank"},
		{"bind: already bound", "developer", "POST", "/v3/service_credential_bindings", bindingBody(db, app, ""),
			422, 10008, "CF-UnprocessableEntity", "The app is already bound to the service instance"},
		{"bind: strategy", "developer", "POST", "/v3/service_credential_bindings", map[string]any{"type": "app", "strategy": "all",
			"relationships": bindingBody(db, app, "")["relationships"]}, 422, 10008, "CF-UnprocessableEntity", "Strategy must be 'single' or 'multiple'"},
		{"user-provided parameters", "developer", "GET", "/v3/service_instances/" + upsi.GUID + "/parameters", nil,
			400, 120004, "CF-ServiceFetchInstanceParametersNotSupported", "This service does not support fetching service instance parameters."},
		{"unknown feature flag", "developer", "GET", "/v3/feature_flags/ssh", nil, 404, 10010, "CF-ResourceNotFound", "Feature flag not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantV3Error(t, c.forTest(t).do(tc.method, tc.path, tc.user, tc.body), tc.status, tc.code, tc.title, tc.detail)
		})
	}
	// A binding of a user-provided instance has no parameters to fetch.
	var b struct{ GUID string }
	c.must(201, "POST", "/v3/service_credential_bindings", "developer", bindingBody(upsi.GUID, app, "")).json(t, &b)
	wantV3Error(t, c.do("GET", "/v3/service_credential_bindings/"+b.GUID+"/parameters", "developer", nil), 400, 90007,
		"CF-ServiceFetchBindingParametersNotSupported", "This service does not support fetching service binding parameters.")
	// A user-provided instance's update reaches its bindings.
	c.must(200, "PATCH", "/v3/service_instances/"+upsi.GUID, "developer", map[string]any{"credentials": map[string]string{"token": "t2"},
		"syslog_drain_url": "syslog://drain.example.org"})
	details := string(c.must(200, "GET", "/v3/service_credential_bindings/"+b.GUID+"/details", "developer", nil).body)
	if want := `{"credentials":{"token":"t2"},"syslog_drain_url":"syslog://drain.example.org"}`; details != want {
		t.Errorf("details after the update %s, want %s", details, want)
	}
	if got := c.lastOp("/v3/service_instances/"+upsi.GUID, "developer"); got != "update succeeded" {
		t.Errorf("user-provided after an update: %s", got)
	}
	if !strings.Contains(string(c.must(200, "GET", "/v3/audit_events?types=audit.service_key.show", "admin", nil).body), `"total_results":0`) {
		t.Errorf("no key was shown, yet there is an audit.service_key.show")
	}

	// The bindings list's filters on instances, plans and offerings.
	for path, want := range map[string]int{
		"service_instance_names=db": 2, "service_plan_names=small": 2, "service_plan_guids=" + DBSmallPlanGUID + "&type=key": 1,
		"service_offering_names=" + CacheOfferingName: 0, "service_offering_guids=" + DBOfferingGUID: 2, "service_instance_names=ups": 1,
	} {
		if got := c.listPage("developer", "/v3/service_credential_bindings?"+path).Pagination.TotalResults; got != want {
			t.Errorf("bindings ?%s: %d, want %d", path, got, want)
		}
	}
	// Audit events hide what the request's parameters were.
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("secret", DemoSpaceGUID, DBSmallPlanGUID,
		map[string]any{"parameters": map[string]string{"password": "hunter2"}}))
	c.finish(r, "developer")
	events := string(c.must(200, "GET", "/v3/audit_events?target_guids="+c.created(r, "developer"), "admin", nil).body)
	if strings.Contains(events, "hunter2") || !strings.Contains(events, `"parameters":"[PRIVATE DATA HIDDEN]"`) {
		t.Errorf("events of an instance made with parameters: %s", events)
	}
}
