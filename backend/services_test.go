package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// servicesT0 is the services fixture's clock.
var servicesT0 = time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)

// upsiBody is a POST /v3/service_instances body of a user-provided
// instance in space, with extra fields on top.
func upsiBody(name, space string, extra map[string]any) map[string]any {
	b := map[string]any{"type": "user-provided", "name": name,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// bindingBody is a POST /v3/service_credential_bindings body of an app
// binding.
func bindingBody(instance, app, name string) map[string]any {
	b := map[string]any{"type": "app", "relationships": map[string]any{
		"service_instance": map[string]any{"data": map[string]string{"guid": instance}}, "app": map[string]any{"data": map[string]string{"guid": app}}}}
	if name != "" {
		b["name"] = name
	}
	return b
}

// serviceRoleReads give the role table the service reads of the read
// fixture, which has no service instance.
var serviceRoleReads = []roleRow{
	{"list service instances", "GET", "/v3/service_instances", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing service instance", "GET", "/v3/service_instances/" + roleMissingGUID, nil, roleAll(roleNotFound("Service instance"))},
	{"missing service instance credentials", "GET", "/v3/service_instances/" + roleMissingGUID + "/credentials", nil,
		roleAll(roleNotFound("Service instance"))},
	{"missing binding details", "GET", "/v3/service_credential_bindings/" + roleMissingGUID + "/details", nil,
		roleAll(roleNotFound("Service credential binding"))},
}

// serviceRoleRows run on an instance {si} of their own, bound to {app}
// ({binding}), with {app2} unbound. Credentials are secrets: the auditor is
// refused them, and does not even see binding details
// (ServiceCredentialBindingsController#details: not_found!).
var serviceRoleRows = []roleRow{
	{"create service instance", "POST", "/v3/service_instances", upsiBody("{name}", "{space}", nil),
		rolePer(roleOK(201), roleOK(201), roleNotAuthorized, roleUnprocessable("Invalid space. Ensure that the space exists and you have access to it."))},
	{"service instance", "GET", "/v3/service_instances/{si}", nil, rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Service instance"))},
	{"service instance credentials", "GET", "/v3/service_instances/{si}/credentials", nil,
		rolePer(roleOK(200), roleOK(200, roleField("user", "u")), roleNotAuthorized, roleNotFound("Service instance"))},
	{"delete service instance", "DELETE", "/v3/service_instances/{si}", nil,
		rolePer(roleOK(204), roleOK(204), roleNotAuthorized, roleNotFound("Service instance"))},
	{"create binding", "POST", "/v3/service_credential_bindings", bindingBody("{si}", "{app2}", ""),
		rolePer(roleOK(201), roleOK(201), roleNotAuthorized, roleUnprocessable("The service instance could not be found: '{si}'"))},
	{"binding details", "GET", "/v3/service_credential_bindings/{binding}/details", nil,
		rolePer(roleOK(200), roleOK(200), roleNotFound("Service credential binding"), roleNotFound("Service credential binding"))},
	{"delete binding", "DELETE", "/v3/service_credential_bindings/{binding}", nil,
		rolePer(roleOK(204), roleOK(204), roleNotAuthorized, roleNotFound("Service credential binding"))},
}

func init() {
	roleAnonRows = append(roleAnonRows, serviceRoleReads...)
	roleFixtureRows = append(roleFixtureRows, serviceRoleRows...)
}

func TestRoleServiceWrites(t *testing.T) {
	t.Parallel()
	setup := func(c *cf, space, name string) map[string]string {
		c.t.Helper()
		app, app2 := roleAppIn(c, space, name+"-a", false), roleAppIn(c, space, name+"-b", false)
		var si, b struct{ GUID string }
		c.must(201, "POST", "/v3/service_instances", "admin", upsiBody(name, space, map[string]any{"credentials": map[string]string{"user": "u"}})).json(c.t, &si)
		c.must(201, "POST", "/v3/service_credential_bindings", "admin", bindingBody(si.GUID, app, "")).json(c.t, &b)
		return map[string]string{"{si}": si.GUID, "{binding}": b.GUID, "{app}": app, "{app2}": app2, "{name}": name + "-new"}
	}
	snapshot := func(t *testing.T, c *cf, vals map[string]string) string {
		ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
		_, created, err := st.ListServiceInstances(ctx, all, store.ServiceInstanceFilter{Names: []string{vals["{name}"]}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, siErr := st.GetServiceInstance(ctx, all, vals["{si}"])
		bindings, _, err := st.ListServiceCredentialBindings(ctx, all, store.BindingFilter{ServiceInstanceGUIDs: []string{vals["{si}"]}},
			store.Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		var guids []string
		for _, b := range bindings {
			guids = append(guids, b.GUID)
		}
		return fmt.Sprintf("created %d; instance %v; bindings %v", created, siErr, guids)
	}
	runFixtureRoles(t, serviceRoleRows, setup, snapshot)
}

// TestUserProvidedServices walks what a v2 client does with a
// user-provided service: create, read, bind, read the binding's details,
// list an app's bindings, unbind, delete.
func TestUserProvidedServices(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: servicesT0}
	c := startCF(t, nil, WithClock(clk.Now))
	app := c.createApp("developer", "bound", nil)
	other := c.createApp("developer", "other", nil)
	creds := `{"uri":"postgres://u:p@db.example.org/db","password":"s3cret","port":5432}`
	body := upsiBody("db", DemoSpaceGUID, map[string]any{"credentials": json.RawMessage(creds), "tags": []string{"sql", "pg"},
		"syslog_drain_url": "syslog://logs.example.org:514", "metadata": map[string]any{"labels": map[string]string{"tier": "data"}}})
	r := c.must(201, "POST", "/v3/service_instances", "developer", body)
	var si struct{ GUID string }
	r.json(t, &si)
	self := v3Base + "/v3/service_instances/" + si.GUID
	// Keys in ServiceInstancePresenter's order.
	want := `{"guid":"` + si.GUID + `","created_at":"2025-09-01T08:00:00Z","updated_at":"2025-09-01T08:00:00Z","name":"db","tags":["sql","pg"],` +
		`"last_operation":{"type":"create","state":"succeeded","description":"Operation succeeded","updated_at":"2025-09-01T08:00:00Z","created_at":"2025-09-01T08:00:00Z"},` +
		`"type":"user-provided","syslog_drain_url":"syslog://logs.example.org:514","route_service_url":null,` +
		`"relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}}},"metadata":{"labels":{"tier":"data"},"annotations":{}},` +
		`"links":{"self":{"href":"` + self + `"},"space":{"href":"` + v3Base + `/v3/spaces/` + DemoSpaceGUID + `"},` +
		`"service_credential_bindings":{"href":"` + v3Base + `/v3/service_credential_bindings?service_instance_guids=` + si.GUID + `"},` +
		`"service_route_bindings":{"href":"` + v3Base + `/v3/service_route_bindings?service_instance_guids=` + si.GUID + `"},` +
		`"credentials":{"href":"` + self + `/credentials"}}}`
	if string(r.body) != want {
		t.Errorf("created\n got %s\nwant %s", r.body, want)
	}
	if got := string(c.must(200, "GET", "/v3/service_instances/"+si.GUID, "auditor", nil).body); got != want {
		t.Errorf("read back\n got %s\nwant %s", got, want)
	}
	wantV3Error(t, c.do("POST", "/v3/service_instances", "developer", upsiBody("db", DemoSpaceGUID, nil)), 422, 10008,
		"CF-UnprocessableEntity", "The service instance name is taken: db.")

	for _, tc := range []struct {
		name, path, user string
		want             []string
	}{
		{"names", "/v3/service_instances?names=db", "developer", []string{si.GUID}},
		{"space_guids", "/v3/service_instances?space_guids=" + DemoSpaceGUID, "auditor", []string{si.GUID}},
		{"type", "/v3/service_instances?type=user-provided", "developer", []string{si.GUID}},
		{"managed", "/v3/service_instances?type=managed", "developer", []string{}},
		{"plans", "/v3/service_instances?service_plan_names=small", "developer", []string{}},
		{"outsider", "/v3/service_instances", "outsider", []string{}},
		{"labels", "/v3/service_instances?label_selector=tier=data", "admin", []string{si.GUID}},
	} {
		if got := guidsOf(c.listPage(tc.user, tc.path).Resources); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	wantBadQuery(t, c.do("GET", "/v3/service_instances?type=brokered", "developer", nil),
		"The query parameter is invalid: Type must be one of 'managed', 'user-provided'")

	// Credentials keep the order they were sent in; reading them is audited.
	if got := string(c.must(200, "GET", "/v3/service_instances/"+si.GUID+"/credentials", "developer", nil).body); got != creds {
		t.Errorf("credentials %s, want %s", got, creds)
	}
	roleNotAuthorized.assert(t, c.do("GET", "/v3/service_instances/"+si.GUID+"/credentials", "auditor", nil))

	// Bind, twice.
	r = c.must(201, "POST", "/v3/service_credential_bindings", "developer", bindingBody(si.GUID, app, "db-binding"))
	var b struct{ GUID string }
	r.json(t, &b)
	bself := v3Base + "/v3/service_credential_bindings/" + b.GUID
	wantBinding := `{"guid":"` + b.GUID + `","created_at":"2025-09-01T08:00:00Z","updated_at":"2025-09-01T08:00:00Z","name":"db-binding","type":"app",` +
		`"last_operation":{"type":"create","state":"succeeded","description":"","created_at":"2025-09-01T08:00:00Z","updated_at":"2025-09-01T08:00:00Z"},` +
		`"metadata":{"labels":{},"annotations":{}},"relationships":{"service_instance":{"data":{"guid":"` + si.GUID + `"}},"app":{"data":{"guid":"` + app + `"}}},` +
		`"links":{"self":{"href":"` + bself + `"},"details":{"href":"` + bself + `/details"},"service_instance":{"href":"` + self + `"},` +
		`"app":{"href":"` + v3Base + `/v3/apps/` + app + `"}}}`
	if string(r.body) != wantBinding {
		t.Errorf("binding\n got %s\nwant %s", r.body, wantBinding)
	}
	for _, tc := range []struct {
		name   string
		body   any
		detail string
	}{
		{"already bound", bindingBody(si.GUID, app, ""), "The app is already bound to the service instance"},
		{"missing instance", bindingBody(roleMissingGUID, app, "db-binding"), "The service instance could not be found: '" + roleMissingGUID + "'"},
		{"missing app", bindingBody(si.GUID, roleMissingGUID, ""), "The app could not be found: '" + roleMissingGUID + "'"},
		{"key", map[string]any{"type": "key", "name": "k", "relationships": map[string]any{"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}},
			"Service credential bindings of type 'key' are not supported for user-provided service instances."},
		{"parameters", map[string]any{"type": "app", "parameters": map[string]int{"a": 1}, "relationships": bindingBody(si.GUID, other, "")["relationships"]},
			"Binding parameters are not supported for user-provided service instances"},
		{"bad type", map[string]any{"type": "route"}, "Type must be 'app' or 'key'"},
	} {
		wantV3Error(t, c.do("POST", "/v3/service_credential_bindings", "developer", tc.body), 422, 10008, "CF-UnprocessableEntity", tc.detail)
	}
	second := upsiBody("cache", DemoSpaceGUID, nil)
	var si2 struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "developer", second).json(t, &si2)
	wantV3Error(t, c.do("POST", "/v3/service_credential_bindings", "developer", bindingBody(si2.GUID, app, "db-binding")), 422, 10008,
		"CF-UnprocessableEntity", "The binding name is invalid. Binding names must be unique for a given service instance and app. The app already has a binding with name 'db-binding'.")

	// Details are the instance's credentials and drain, taken at bind time.
	details := `{"credentials":` + creds + `,"syslog_drain_url":"syslog://logs.example.org:514"}`
	if got := string(c.must(200, "GET", "/v3/service_credential_bindings/"+b.GUID+"/details", "developer", nil).body); got != details {
		t.Errorf("details\n got %s\nwant %s", got, details)
	}
	roleNotFound("Service credential binding").assert(t, c.do("GET", "/v3/service_credential_bindings/"+b.GUID+"/details", "auditor", nil))

	// The app's environment shows the bound service.
	env := c.must(200, "GET", "/v3/apps/"+app+"/env", "developer", nil).body
	wantVCAP := `{"user-provided":[{"label":"user-provided","name":"db-binding","tags":["sql","pg"],"instance_guid":"` + si.GUID +
		`","instance_name":"db","binding_guid":"` + b.GUID + `","binding_name":"db-binding","credentials":` + creds +
		`,"syslog_drain_url":"syslog://logs.example.org:514","volume_mounts":[]}]}`
	if got := rawAt(t, env, "system_env_json.VCAP_SERVICES"); got != wantVCAP {
		t.Errorf("VCAP_SERVICES\n got %s\nwant %s", got, wantVCAP)
	}

	// What the gateway reads for an app's services (MAPPING §7).
	list := c.must(200, "GET", "/v3/service_credential_bindings?app_guids="+app+"&type=app&include=service_instance", "auditor", nil).body
	if got := rawAt(t, list, "resources"); got != "["+wantBinding+"]" {
		t.Errorf("bindings of the app %s", got)
	}
	if got := rawAt(t, list, "included.service_instances"); got != "["+want+"]" {
		t.Errorf("included %s", got)
	}

	// An update of the instance's credentials saves each binding with
	// them (ServiceInstanceUpdateUserProvided#update_service_bindings):
	// the binding's updated_at moves.
	clk.Advance(time.Minute)
	c.must(200, "PATCH", "/v3/service_instances/"+si.GUID, "developer", []byte(`{"credentials":{"password":"rotated"}}`))
	if got := string(c.must(200, "GET", "/v3/service_credential_bindings/"+b.GUID+"/details", "developer", nil).body); !strings.Contains(got, `"rotated"`) {
		t.Errorf("details after the update: %s", got)
	}
	if got := rawAt(t, c.must(200, "GET", "/v3/service_credential_bindings/"+b.GUID, "developer", nil).body, "updated_at"); got != `"2025-09-01T08:01:00Z"` {
		t.Errorf("the binding's updated_at after the update: %s", got)
	}
	c.must(200, "PATCH", "/v3/service_instances/"+si.GUID, "developer", []byte(`{"credentials":`+creds+`}`))

	// Unbind; the app can be bound again, then the instance deleted with it.
	c.must(204, "DELETE", "/v3/service_credential_bindings/"+b.GUID, "developer", nil)
	if n := c.listPage("developer", "/v3/service_credential_bindings?app_guids="+app).Pagination.TotalResults; n != 0 {
		t.Errorf("%d bindings after the unbind", n)
	}
	c.must(201, "POST", "/v3/service_credential_bindings", "developer", bindingBody(si.GUID, app, ""))
	c.must(204, "DELETE", "/v3/service_instances/"+si.GUID, "developer", nil)
	roleNotFound("Service instance").assert(t, c.do("GET", "/v3/service_instances/"+si.GUID, "developer", nil))
	if n := c.listPage("developer", "/v3/service_credential_bindings?service_instance_guids="+si.GUID).Pagination.TotalResults; n != 0 {
		t.Errorf("%d bindings of a deleted instance", n)
	}

	for _, ev := range []struct {
		typ, target string
		n           int
	}{
		{"audit.user_provided_service_instance.create", si.GUID, 1},
		{"audit.user_provided_service_instance.show", si.GUID, 1},
		{"audit.user_provided_service_instance.delete", si.GUID, 1},
		{"audit.service_binding.create", b.GUID, 1},
		{"audit.service_binding.delete", b.GUID, 1},
		{"audit.service_binding.delete", "", 2},
	} {
		path := "/v3/audit_events?types=" + ev.typ
		if ev.target != "" {
			path += "&target_guids=" + ev.target
		}
		if n := c.listPage("admin", path).Pagination.TotalResults; n != ev.n {
			t.Errorf("%d %s events about %q, want %d", n, ev.typ, ev.target, ev.n)
		}
	}
	var created struct {
		Resources []struct{ Data json.RawMessage }
	}
	c.must(200, "GET", "/v3/audit_events?types=audit.user_provided_service_instance.create", "admin", nil).json(t, &created)
	if got := string(created.Resources[0].Data); !strings.Contains(got, `"credentials":"[REDACTED]"`) || strings.Contains(got, "s3cret") {
		t.Errorf("create event data %s", got)
	}
}

func TestUserProvidedServiceErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	cases := []struct {
		name   string
		body   any
		detail string
	}{
		{"no type", map[string]any{"name": "x"}, "Type must be one of 'managed', 'user-provided'"},
		{"managed", map[string]any{"type": "managed", "name": "x"}, "Relationships can't be blank"},
		{"blank name", upsiBody("  ", DemoSpaceGUID, nil), "Name can't be blank"},
		{"name not a string", upsiBody("x", DemoSpaceGUID, map[string]any{"name": 5}), "Name must be a string"},
		{"credentials not an object", upsiBody("x", DemoSpaceGUID, map[string]any{"credentials": "secret"}), "Credentials must be an object"},
		{"route service over http", upsiBody("x", DemoSpaceGUID, map[string]any{"route_service_url": "http://rs.example.org"}), "Route service url must be https"},
		{"drain not a URI", upsiBody("x", DemoSpaceGUID, map[string]any{"syslog_drain_url": "logs"}), "Syslog drain url must be a valid URI"},
		{"tags not strings", upsiBody("x", DemoSpaceGUID, map[string]any{"tags": []any{1}}), "Tags must be a list of strings"},
		{"parameters", upsiBody("x", DemoSpaceGUID, map[string]any{"parameters": map[string]any{}}), "Unknown field(s): 'parameters'"},
		{"no relationships", map[string]any{"type": "user-provided", "name": "x"}, "Relationships can't be blank"},
		{"unknown space", upsiBody("x", roleMissingGUID, nil), "Invalid space. Ensure that the space exists and you have access to it."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantV3Error(t, c.forTest(t).do("POST", "/v3/service_instances", "developer", tc.body), 422, 10008, "CF-UnprocessableEntity", tc.detail)
		})
	}
}
