package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
)

// TestCFCLIServiceCommands replays, request by request, what cf CLI 6.53.0
// and 6.37.0 (built from their sources) sent for the service commands of
// MAPPING-services §10.12, recorded on the wire against this gateway in
// front of the embedded CF and its broker: marketplace (logged in and
// not, and -s), create-user-provided-service (twice: CC's name-taken
// error), update-user-provided-service, create-service (202 in progress,
// then service until it succeeded, and again: 6.53's "already exists" from
// the error code, 6.37's from the inlined plan), services (the space
// summary), service, bind-service (a user-provided instance with the CLI's
// "parameters":{}, a managed one with -c, again: already bound),
// env, rename-service, create-service-key (twice), service-keys,
// service-key, delete-service-key, unbind-service, delete-service, and a
// create the broker fails.
func TestCFCLIServiceCommands(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	c := &cliSession{t: t, s: s, token: "bearer " + s.tokens["developer"]}
	space, db := backend.DemoSpaceGUID, backend.DBOfferingGUID
	get := func(path string, status int) reply {
		t.Helper()
		return c.send("GET", path, c.token, "", nil, status, "Authorization", c.token)
	}
	del := func(path string, status int) reply {
		t.Helper()
		return c.send("DELETE", path, c.token, "", nil, status, "Authorization", c.token)
	}
	type resource struct {
		Metadata struct{ GUID string } `json:"metadata"`
		Entity   json.RawMessage       `json:"entity"`
	}
	list := func(path string) []resource {
		t.Helper()
		var l struct{ Resources []resource }
		if err := json.Unmarshal(get(path, 200).body, &l); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return l.Resources
	}
	find := func(name string) resource {
		t.Helper()
		rs := list("/v2/spaces/" + space + "/service_instances?q=name%3A" + name + "&return_user_provided_service_instances=true")
		if len(rs) != 1 {
			t.Fatalf("find instance %s: %d found", name, len(rs))
		}
		return rs[0]
	}
	contains := func(what string, body []byte, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: no %s in %.600s", what, w, body)
			}
		}
	}

	// cf marketplace (6.53): the space's services, then the plans of each;
	// logged out: /v2/services and /v2/service_plans without a token.
	contains("marketplace", get("/v2/spaces/"+space+"/services", 200).body, `"label":"capibridge-db"`, `"service_broker_name":"capibridge-broker"`,
		`"extra":"{\"displayName\":`)
	contains("plans", get("/v2/service_plans?q=service_guid%3A"+db, 200).body, `"name":"small"`, `"free":true`)
	anon := c.send("GET", "/v2/services", "", "", nil, 200)
	contains("anonymous marketplace", anon.body, `"label":"capibridge-db"`)
	c.send("GET", "/v2/service_plans?q=service_guid%3A"+db, "", "", nil, 200)
	get("/v2/spaces/"+space+"/services?q=label%3Acapibridge-db", 200)

	app := decodeApp(t, c.json("POST", "/v2/apps", map[string]string{"name": "app1", "space_guid": space}, 201), 201).Metadata.GUID

	// cf create-user-provided-service ups1 -p ..., twice.
	ups := map[string]any{"name": "ups1", "credentials": map[string]string{"pass": "p", "user": "u"}, "space_guid": space, "syslog_drain_url": "", "route_service_url": ""}
	c.json("POST", "/v2/user_provided_service_instances", ups, 201)
	contains("cups again", c.json("POST", "/v2/user_provided_service_instances", ups, 400).body, `"code":60002`)
	// cf update-user-provided-service ups1 -p (6.53).
	upsGUID := find("ups1").Metadata.GUID
	contains("uups", c.json("PUT", "/v2/user_provided_service_instances/"+upsGUID, map[string]any{"credentials": map[string]string{"user": "u2"}}, 201).body,
		`"credentials":{"user":"u2"}`)

	// cf create-service capibridge-db small db1: 202 in progress; cf service
	// polls the instance (and reads the feature flags) until it succeeded.
	body := map[string]string{"name": "db1", "service_plan_guid": backend.DBSmallPlanGUID, "space_guid": space}
	created := c.json("POST", "/v2/service_instances?accepts_incomplete=true", body, 202)
	contains("create-service", created.body, `"last_operation":{"type":"create","state":"in progress"`)
	for i := 0; ; i++ {
		if strings.Contains(string(find("db1").Entity), `"state":"succeeded"`) {
			break
		}
		get("/v2/config/feature_flags", 200)
		if i > 100 {
			t.Fatal("db1 never succeeded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	contains("create-service again", c.json("POST", "/v2/service_instances?accepts_incomplete=true", body, 400).body, `"error_code":"CF-ServiceInstanceNameTaken"`)
	// 6.37 then looks the instance up with its plan inlined and compares
	// the plan's guid.
	legacy := list("/v2/spaces/" + space + "/service_instances?return_user_provided_service_instances=true&q=name%3Adb1&inline-relations-depth=1")
	contains("legacy find", legacy[0].Entity, `"service_plan":{"metadata":{"guid":"`+backend.DBSmallPlanGUID+`"`, `"service_bindings":[]`, `"service_keys":[]`)
	dbGUID := legacy[0].Metadata.GUID

	// cf services (6.53): the space summary, then /v2/services.
	contains("services", get("/v2/spaces/"+space+"/summary", 200).body, `"name":"db1"`, `"label":"capibridge-db"`, `"name":"small"`,
		`"service_broker_name":"capibridge-broker"`, `"type":"user_provided_service_instance"`)
	get("/v2/services", 200)
	get("/v2/user_provided_service_instances/"+upsGUID+"/service_bindings", 200)

	// cf bind-service: the user-provided one at once (the CLI sends
	// "parameters":{}), the managed one 202 then bound, again 400.
	get("/v2/apps?q=name%3Aapp1&q=space_guid%3A"+space, 200)
	c.json("POST", "/v2/service_bindings?accepts_incomplete=true", map[string]any{"service_instance_guid": upsGUID, "app_guid": app, "parameters": map[string]any{}}, 201)
	bind := c.json("POST", "/v2/service_bindings?accepts_incomplete=true", map[string]any{"service_instance_guid": dbGUID, "app_guid": app, "parameters": map[string]string{"role": "ro"}}, 202)
	contains("bind managed", bind.body, `"state":"in progress"`)
	again := c.json("POST", "/v2/service_bindings?accepts_incomplete=true", map[string]any{"service_instance_guid": dbGUID, "app_guid": app, "parameters": map[string]any{}}, 400)
	contains("bind again", again.body, `"description":"The app is already bound to the service.","error_code":"CF-ServiceBindingAppServiceTaken","code":90003`)
	// cf env: VCAP_SERVICES with both, once the managed binding is done.
	for i := 0; ; i++ {
		env := get("/v2/apps/"+app+"/env", 200)
		if strings.Contains(string(env.body), `"ups1"`) && strings.Contains(string(env.body), `"db1"`) {
			break
		}
		if i > 100 {
			t.Fatalf("VCAP_SERVICES: %s", env.body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// cf rename-service ups1 ups2 (legacy).
	list("/v2/spaces/" + space + "/service_instances?return_user_provided_service_instances=true&q=name%3Aups1&inline-relations-depth=1")
	c.json("PUT", "/v2/user_provided_service_instances/"+upsGUID, map[string]string{"name": "ups2"}, 201)

	// cf create-service-key db1 key1, twice; service-keys; service-key;
	// delete-service-key (legacy, with async=true).
	key := map[string]string{"service_instance_guid": dbGUID, "name": "key1"}
	contains("create-service-key", c.json("POST", "/v2/service_keys", key, 201).body, `"name":"key1"`, `"uri":`)
	contains("create-service-key again", c.json("POST", "/v2/service_keys", key, 400).body, `"error_code":"CF-ServiceKeyNameTaken"`)
	if keys := list("/v2/service_instances/" + dbGUID + "/service_keys"); len(keys) != 1 {
		t.Fatalf("service-keys: %d", len(keys))
	}
	keys := list("/v2/service_instances/" + dbGUID + "/service_keys?q=name%3Akey1")
	if len(keys) != 1 {
		t.Fatalf("service-key: %d", len(keys))
	}
	del("/v2/service_keys/"+keys[0].Metadata.GUID+"?async=true", 204)

	// cf unbind-service: find the binding by app and instance, delete it
	// (the managed one answers 202 while the broker unbinds, as CC did);
	// again: none found (the CLI says it did not exist).
	for si, status := range map[string]int{dbGUID: 202, upsGUID: 204} {
		bs := list("/v2/service_bindings?q=app_guid%3A" + app + "&q=service_instance_guid%3A" + si)
		if len(bs) != 1 {
			t.Fatalf("binding of %s: %d", si, len(bs))
		}
		del("/v2/service_bindings/"+bs[0].Metadata.GUID+"?accepts_incomplete=true", status)
	}
	for i := 0; len(list("/v2/service_bindings?q=app_guid%3A"+app)) > 0; i++ {
		if i > 100 {
			t.Fatal("the managed binding was never deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if bs := list("/v2/service_bindings?q=app_guid%3A" + app + "&q=service_instance_guid%3A" + upsGUID); len(bs) != 0 {
		t.Errorf("binding after unbind: %d", len(bs))
	}

	// cf delete-service db1 (legacy: async=true with accepts_incomplete,
	// which CC runs at once: 202 with the delete in progress), then the
	// instance goes; delete-service ups2 (204 at once).
	deleting := del("/v2/service_instances/"+dbGUID+"?accepts_incomplete=true&async=true", 202)
	contains("delete-service", deleting.body, `"last_operation":{"type":"delete","state":"in progress"`)
	for i := 0; ; i++ {
		rs := list("/v2/spaces/" + space + "/service_instances?q=name%3Adb1&return_user_provided_service_instances=true")
		if len(rs) == 0 {
			break
		}
		if i > 100 {
			t.Fatal("db1 was never deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	del("/v2/service_instances/"+upsGUID+"?accepts_incomplete=true&async=true", 204)

	// A create the broker fails reads as failed, and deletes.
	fail := map[string]string{"name": "capibridge-fail-1", "service_plan_guid": backend.DBSmallPlanGUID, "space_guid": space}
	failed := c.json("POST", "/v2/service_instances?accepts_incomplete=true", fail, 202)
	var f resource
	_ = json.Unmarshal(failed.body, &f)
	for i := 0; ; i++ {
		if e := find("capibridge-fail-1").Entity; strings.Contains(string(e), `"state":"failed"`) {
			break
		}
		if i > 100 {
			t.Fatal("the failing create never failed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	del("/v2/service_instances/"+f.Metadata.GUID+"?accepts_incomplete=true&async=true", 202)
}
