package proxy

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
	"capibridge/backend/store"
)

// go-cfclient's user-provided instances and bindings through the gateway in
// front of the embedded CF (MAPPING-services §10.4, §10.5, §10.12.5).
func TestV2UserProvidedGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "bound")[0]
	c := s.goCFClient(t, "developer")
	ups, err := c.CreateUserProvidedServiceInstance(cfclient.UserProvidedServiceInstanceRequest{Name: "db", SpaceGuid: backend.DemoSpaceGUID,
		Credentials: map[string]interface{}{"uri": "postgres://u:p@h/d"}, Tags: []string{"sql"}})
	if err != nil || ups.Guid == "" || ups.Name != "db" || ups.Credentials["uri"] != "postgres://u:p@h/d" || ups.Type != "user_provided_service_instance" ||
		len(ups.Tags) != 1 {
		t.Fatalf("CreateUserProvidedServiceInstance: %v %+v", err, ups)
	}
	if got, err := c.GetUserProvidedServiceInstanceByGuid(ups.Guid); err != nil || got.Name != "db" || got.SpaceGuid != backend.DemoSpaceGUID {
		t.Errorf("GetUserProvidedServiceInstanceByGuid: %v %+v", err, got)
	}
	if list, err := c.ListUserProvidedServiceInstances(); err != nil || len(list) != 1 {
		t.Errorf("ListUserProvidedServiceInstances: %v %+v", err, list)
	}
	if list, err := c.ListUserProvidedServiceInstancesByQuery(url.Values{"q": {"name:nope"}}); err != nil || len(list) != 0 {
		t.Errorf("by another name: %v %+v", err, list)
	}
	// go-cfclient sends space_guid "" when unset: a change of space.
	if _, err := c.UpdateUserProvidedServiceInstance(ups.Guid, cfclient.UserProvidedServiceInstanceRequest{Name: "db2"}); err == nil ||
		!strings.Contains(err.Error(), "cannot change space for service instance") {
		t.Errorf("update without space_guid: %v", err)
	}
	up, err := c.UpdateUserProvidedServiceInstance(ups.Guid, cfclient.UserProvidedServiceInstanceRequest{Name: "db2", SpaceGuid: backend.DemoSpaceGUID,
		Credentials: map[string]interface{}{"uri": "postgres://new"}})
	if err != nil || up.Name != "db2" || up.Credentials["uri"] != "postgres://new" {
		t.Fatalf("UpdateUserProvidedServiceInstance: %v %+v", err, up)
	}
	// Through /v2/service_instances a user-provided instance reads in its
	// own shape; the managed list does not show it.
	if si, err := c.GetServiceInstanceByGuid(ups.Guid); err != nil || si.Name != "db2" {
		t.Errorf("GetServiceInstanceByGuid: %v %+v", err, si)
	}
	if list, err := c.ListServiceInstances(); err != nil || len(list) != 0 {
		t.Errorf("ListServiceInstances shows managed instances only: %v %+v", err, list)
	}
	if list, err := c.ListSpaceServiceInstancesByQuery(backend.DemoSpaceGUID, url.Values{"return_user_provided_service_instances": {"true"}}); err != nil || len(list) != 1 {
		t.Errorf("space instances with user-provided: %v %+v", err, list)
	}

	b, err := c.CreateServiceBinding(app, ups.Guid)
	if err != nil || b.Guid == "" || b.AppGuid != app || b.ServiceInstanceGuid != ups.Guid || b.Credentials == nil {
		t.Fatalf("CreateServiceBinding: %v %+v", err, b)
	}
	if _, err := c.CreateServiceBinding(app, ups.Guid); err == nil || !strings.Contains(err.Error(), "The app is already bound to the service.") {
		t.Errorf("second binding: %v", err)
	}
	if got, err := c.GetServiceBindingByGuid(b.Guid); err != nil || got.AppGuid != app {
		t.Errorf("GetServiceBindingByGuid: %v %+v", err, got)
	}
	if list, err := c.ListServiceBindingsByQuery(url.Values{"q": {"app_guid:" + app}}); err != nil || len(list) != 1 {
		t.Errorf("ListServiceBindingsByQuery: %v %+v", err, list)
	}
	// The app's env shows the instance in VCAP_SERVICES.
	if env := s.do("GET", s.gwURL+"/v2/apps/"+app+"/env", "developer", nil); !strings.Contains(string(env.body), `"postgres://new"`) {
		t.Errorf("VCAP_SERVICES: %s", env.body)
	}
	// A bound instance is not deleted without recursive.
	if err := c.DeleteUserProvidedServiceInstance(ups.Guid); err == nil || !strings.Contains(err.Error(), "Please delete the service_bindings associations for your service_instances.") {
		t.Errorf("delete with bindings: %v", err)
	}
	if err := c.DeleteServiceBinding(b.Guid); err != nil {
		t.Errorf("DeleteServiceBinding: %v", err)
	}
	if err := c.DeleteUserProvidedServiceInstance(ups.Guid); err != nil {
		t.Errorf("DeleteUserProvidedServiceInstance: %v", err)
	}
	if _, err := c.GetUserProvidedServiceInstanceByGuid(ups.Guid); err == nil {
		t.Errorf("instance after delete")
	}
}

// The exact answers of §10.2.2, §10.4 and §10.5: shapes, redaction for an
// auditor, CC's error names.
func TestV2UserProvidedAnswers(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "shaped")[0]
	r := s.do("POST", s.gwURL+"/v2/user_provided_service_instances", "developer",
		[]byte(`{"name":" logs ","space_guid":"`+backend.DemoSpaceGUID+`","credentials":{"k":"v"}}`))
	var created struct {
		Metadata struct{ GUID, URL string } `json:"metadata"`
		Entity   map[string]json.RawMessage `json:"entity"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &created) != nil || string(r.header.Peek("Location")) != "/v2/user_provided_service_instances/"+created.Metadata.GUID {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	guid := created.Metadata.GUID
	// Defaults v2 stores, and the stripped name.
	for key, want := range map[string]string{"name": `"logs"`, "credentials": `{"k":"v"}`, "syslog_drain_url": `""`, "route_service_url": `""`, "tags": `[]`,
		"type": `"user_provided_service_instance"`} {
		if got := string(created.Entity[key]); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	// The auditor reads it redacted, through both controllers.
	for _, path := range []string{"/v2/user_provided_service_instances/", "/v2/service_instances/"} {
		r := s.do("GET", s.gwURL+path+guid, "auditor", nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"credentials":{"redacted_message":"[PRIVATE DATA HIDDEN]"}`) {
			t.Errorf("auditor %s: %d %s", path, r.status, r.body)
		}
	}
	// Through ServiceInstancesController: service_keys_url, the UPSI urls.
	r = s.do("GET", s.gwURL+"/v2/service_instances/"+guid, "developer", nil)
	if !strings.Contains(string(r.body), `"url":"/v2/user_provided_service_instances/`+guid+`"`) ||
		!strings.Contains(string(r.body), `"service_keys_url":"/v2/user_provided_service_instances/`+guid+`/service_keys"`) {
		t.Errorf("through service_instances: %s", r.body)
	}
	bind := s.do("POST", s.gwURL+"/v2/service_bindings", "developer", []byte(`{"app_guid":"`+app+`","service_instance_guid":"`+guid+`","parameters":{"a":1}}`))
	if bind.status != 201 || string(bind.header.Peek("X-Cf-Warnings")) != "Configuration+parameters+are+ignored+for+bindings+to+user-provided+service+instances." ||
		!strings.Contains(string(bind.body), `"service_instance_url":"/v2/user_provided_service_instances/`+guid+`"`) ||
		!strings.Contains(string(bind.body), `"last_operation":{"type":"create","state":"succeeded","description":""`) {
		t.Errorf("bind with parameters: %d %q %s", bind.status, bind.header.Peek("X-Cf-Warnings"), bind.body)
	}
	// The legacy cf CLI's lookup inlines bindings.
	r = s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/service_instances?return_user_provided_service_instances=true&q=name%3Alogs&inline-relations-depth=1", "developer", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"service_bindings":[{`) {
		t.Errorf("legacy find instance: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/service_instances?return_user_provided_service_instances=true&results-per-page=1&page=1", "developer", nil)
	if !strings.Contains(string(r.body), `"next_url":null`) || !strings.Contains(string(r.body), `"total_results":1`) {
		t.Errorf("space instances: %s", r.body)
	}
	cases := []struct {
		name, method, path, user, body string
		status                         int
		contains                       string
	}{
		{"name taken", "POST", "/v2/user_provided_service_instances", "developer", `{"name":"logs","space_guid":"` + backend.DemoSpaceGUID + `"}`, 400,
			`"description":"The service instance name is taken: logs","error_code":"CF-ServiceInstanceNameTaken","code":60002`},
		{"missing space", "POST", "/v2/user_provided_service_instances", "developer", `{"name":"x"}`, 400, "Field: space_guid, Error: Missing field space_guid"},
		{"route service http", "POST", "/v2/user_provided_service_instances", "developer",
			`{"name":"rs","space_guid":"` + backend.DemoSpaceGUID + `","route_service_url":"http://x.example.com"}`, 400,
			"The route service URL is invalid: Scheme for route_service_url must be https."},
		{"tags not strings", "POST", "/v2/user_provided_service_instances", "developer", `{"name":"t","space_guid":"x","tags":[1]}`, 400,
			"Field: tags, Error: At index 0: Expected instance of String, given an instance of Integer"},
		{"auditor creates", "POST", "/v2/user_provided_service_instances", "auditor", `{"name":"a","space_guid":"` + backend.DemoSpaceGUID + `"}`, 403, "CF-NotAuthorized"},
		{"unknown upsi", "GET", "/v2/user_provided_service_instances/nope", "developer", "", 404,
			`"description":"The service instance could not be found: nope","error_code":"CF-UserProvidedServiceInstanceNotFound","code":340001`},
		{"upsi under managed bindings", "GET", "/v2/service_instances/" + guid + "/service_bindings", "developer", "", 404, "CF-ManagedServiceInstanceNotFound"},
		{"upsi bindings", "GET", "/v2/user_provided_service_instances/" + guid + "/service_bindings", "developer", "", 200, `"total_results":1`},
		{"unknown instance", "GET", "/v2/service_instances/nope", "developer", "", 404, "CF-ServiceInstanceNotFound"},
		{"order-by refused", "GET", "/v2/service_instances?order-by=name", "developer", "", 500, "CF-OrderByParameterInvalid"},
		{"space org key", "GET", "/v2/spaces/" + backend.DemoSpaceGUID + "/service_instances?q=organization_guid:x", "developer", "", 400, "CF-BadQueryParameter"},
		{"bind unknown app", "POST", "/v2/service_bindings", "developer", `{"app_guid":"nope","service_instance_guid":"` + guid + `"}`, 404,
			`"description":"The app could not be found: nope","error_code":"CF-AppNotFound"`},
		{"bind unknown instance", "POST", "/v2/service_bindings", "developer", `{"app_guid":"` + app + `","service_instance_guid":"nope"}`, 404, "CF-ServiceInstanceNotFound"},
		{"bind accepts_incomplete", "POST", "/v2/service_bindings?accepts_incomplete=maybe", "developer", `{}`, 400, "CF-InvalidRequest"},
		{"unknown binding", "GET", "/v2/service_bindings/nope", "developer", "", 404, "CF-ServiceBindingNotFound"},
		{"auditor binding redacted", "GET", "/v2/service_bindings?q=app_guid:" + app, "auditor", "", 200, `"credentials":{"redacted_message":"[PRIVATE DATA HIDDEN]"}`},
		{"app bindings", "GET", "/v2/apps/" + app + "/service_bindings", "developer", "", 200, `"credentials":{"k":"v"}`},
	}
	for _, tc := range cases {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := s.do(tc.method, s.gwURL+tc.path, tc.user, body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.contains) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
}

// go-cfclient's managed services through the gateway in front of the
// embedded CF and its built-in broker: the marketplace, an instance
// created asynchronously and polled, updated, bound, keyed, and deleted
// (MAPPING-services §10.3, §10.5, §10.6, §10.7, §10.12.5).
func TestV2ManagedServicesGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "managed")[0]
	c := s.goCFClient(t, "developer")
	svcs, err := c.ListServices()
	if err != nil || len(svcs) != 2 {
		t.Fatalf("ListServices: %v %+v", err, svcs)
	}
	if svc, err := c.GetServiceByGuid(backend.DBOfferingGUID); err != nil || svc.Label != backend.DBOfferingName || !svc.Bindable {
		t.Errorf("GetServiceByGuid: %v %+v", err, svc)
	}
	plans, err := c.ListServicePlansByQuery(url.Values{"q": {"service_guid:" + backend.DBOfferingGUID}})
	if err != nil || len(plans) == 0 {
		t.Fatalf("ListServicePlansByQuery: %v %+v", err, plans)
	}
	si, err := c.CreateServiceInstance(cfclient.ServiceInstanceRequest{Name: "pg", SpaceGuid: backend.DemoSpaceGUID, ServicePlanGuid: backend.DBSmallPlanGUID,
		Parameters: map[string]interface{}{"size": "s"}})
	if err != nil || si.Guid == "" || si.LastOperation.Type != "create" || si.ServiceGuid != backend.DBOfferingGUID {
		t.Fatalf("CreateServiceInstance: %v %+v", err, si)
	}
	waitOperation := func(want string) cfclient.ServiceInstance {
		t.Helper()
		for range 200 {
			got, err := c.GetServiceInstanceByGuid(si.Guid)
			if err != nil {
				t.Fatalf("GetServiceInstanceByGuid: %v", err)
			}
			if got.LastOperation.State == want {
				return got
			}
			if got.LastOperation.State == "failed" {
				t.Fatalf("operation failed: %+v", got.LastOperation)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the operation did not end %s", want)
		return cfclient.ServiceInstance{}
	}
	waitOperation("succeeded")
	if params, err := c.GetServiceInstanceParams(si.Guid); err != nil || params["size"] != "s" {
		t.Errorf("GetServiceInstanceParams: %v %+v", err, params)
	}
	if list, err := c.ListServiceInstances(); err != nil || len(list) != 1 || list[0].Guid != si.Guid {
		t.Errorf("ListServiceInstances: %v %+v", err, list)
	}
	if err := c.UpdateSI(si.Guid, cfclient.ServiceInstanceUpdateRequest{Parameters: map[string]interface{}{"size": "m"}}, true); err != nil {
		t.Errorf("UpdateSI (async, 202): %v", err)
	}
	if got := waitOperation("succeeded"); got.LastOperation.Type != "update" {
		t.Errorf("after the update: %+v", got.LastOperation)
	}

	b, err := c.CreateServiceBinding(app, si.Guid)
	if err != nil || b.Guid == "" {
		t.Fatalf("CreateServiceBinding: %v %+v", err, b)
	}
	if got, err := c.GetServiceBindingByGuid(b.Guid); err != nil || got.Credentials == nil {
		t.Errorf("GetServiceBindingByGuid: %v %+v", err, got)
	}
	key, err := c.CreateServiceKey(cfclient.CreateServiceKeyRequest{Name: "ci", ServiceInstanceGuid: si.Guid})
	if err != nil || key.Guid == "" || key.Credentials == nil {
		t.Fatalf("CreateServiceKey: %v %+v", err, key)
	}
	if keys, err := c.GetServiceKeysByInstanceGuid(si.Guid); err != nil || len(keys) != 1 {
		t.Errorf("GetServiceKeysByInstanceGuid: %v %+v", err, keys)
	}
	if _, err := c.CreateServiceKey(cfclient.CreateServiceKeyRequest{Name: "ci", ServiceInstanceGuid: si.Guid}); err == nil ||
		!strings.Contains(err.Error(), "CF-ServiceKeyNameTaken") {
		t.Errorf("second key of the name: %v", err)
	}
	// Bound and keyed: not deleted without recursive.
	r := s.do("DELETE", s.gwURL+"/v2/service_instances/"+si.Guid, "developer", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "Please delete the service_bindings, service_keys, and routes associations for your service_instances.") {
		t.Errorf("delete in use: %d %s", r.status, r.body)
	}
	if err := c.DeleteServiceKey(key.Guid); err != nil {
		t.Errorf("DeleteServiceKey: %v", err)
	}
	if err := c.DeleteServiceBinding(b.Guid); err != nil {
		t.Errorf("DeleteServiceBinding: %v", err)
	}
	if err := c.DeleteServiceInstance(si.Guid, false, true); err != nil {
		t.Errorf("DeleteServiceInstance (async, 202): %v", err)
	}
	for range 200 {
		if _, err := c.GetServiceInstanceByGuid(si.Guid); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("the instance is still there")
}

// A managed instance shared into another space: shared_from and shared_to
// (§10.3.10, §10.3.11), and the delete refused while shared.
func TestV2ServiceInstanceSharing(t *testing.T) {
	s := startStack(t, nil)
	st := s.cf.Store()
	other := "5ace0000-0000-4000-8000-0000000000ff"
	if err := st.CreateSpace(context.Background(), store.Space{GUID: other, Name: "other-space", OrgGUID: backend.DemoOrgGUID, CreatedAt: st.Now(), UpdatedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", s.gwURL+"/v2/service_instances", "developer",
		[]byte(`{"name":"shared-db","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`))
	var si struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &si) != nil {
		t.Fatalf("create (waited for): %d %s", r.status, r.body)
	}
	guid := si.Metadata.GUID
	if r := s.do("GET", s.gwURL+"/v2/service_instances/"+guid+"/shared_from", "developer", nil); r.status != 204 || len(r.body) != 0 {
		t.Errorf("shared_from, not shared: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.cfURL+"/v3/service_instances/"+guid+"/relationships/shared_spaces", "admin", []byte(`{"data":[{"guid":"`+other+`"}]}`)); r.status != 200 {
		t.Fatalf("share: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/service_instances/"+guid+"/shared_from", "developer", nil)
	if r.status != 200 || string(r.body) != `{"space_guid":"`+backend.DemoSpaceGUID+`","space_name":"demo-space","organization_name":"demo-org"}` {
		t.Errorf("shared_from: %d %s", r.status, r.body)
	}
	// An admin reads the names of every space (v3 names only the spaces
	// the reader sees).
	r = s.do("GET", s.gwURL+"/v2/service_instances/"+guid+"/shared_to", "admin", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"resources":[{"space_guid":"`+other+`","space_name":"other-space","organization_name":"demo-org","bound_app_count":0}]`) {
		t.Errorf("shared_to: %d %s", r.status, r.body)
	}
	r = s.do("DELETE", s.gwURL+"/v2/service_instances/"+guid, "developer", nil)
	if r.status != 422 || !strings.Contains(string(r.body), "CF-ServiceInstanceDeletionSharesExists") {
		t.Errorf("delete while shared: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/service_instances/nope/shared_to", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-ServiceInstanceNotFound") {
		t.Errorf("shared_to of nothing: %d %s", r.status, r.body)
	}
	// §10.11: one who cannot read the instance gets shared_from's 404
	// with no body, shared_to's ServiceInstanceNotFound, and a key's
	// ServiceKeyNotFound.
	if r := s.do("GET", s.gwURL+"/v2/service_instances/"+guid+"/shared_from", "outsider", nil); r.status != 404 || len(r.body) != 0 {
		t.Errorf("outsider's shared_from: %d %q", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/service_instances/"+guid+"/shared_to", "outsider", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-ServiceInstanceNotFound") {
		t.Errorf("outsider's shared_to: %d %s", r.status, r.body)
	}
	k := s.do("POST", s.gwURL+"/v2/service_keys", "developer", []byte(`{"name":"k","service_instance_guid":"`+guid+`"}`))
	var key struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if k.status != 201 || json.Unmarshal(k.body, &key) != nil {
		t.Fatalf("key: %d %s", k.status, k.body)
	}
	for _, reader := range []string{"outsider", "auditor"} {
		r := s.do("GET", s.gwURL+"/v2/service_keys/"+key.Metadata.GUID, reader, nil)
		if r.status != 404 || !strings.Contains(string(r.body), `"error_code":"CF-ServiceKeyNotFound"`) {
			t.Errorf("%s reads a key: %d %s", reader, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/service_keys/"+key.Metadata.GUID, "developer", nil); r.status != 200 || string(r.header.Peek("Location")) != "/v2/service_keys/"+key.Metadata.GUID {
		t.Errorf("developer reads the key (with Location): %d %q %s", r.status, r.header.Peek("Location"), r.body)
	}
	// A key is no binding: DELETE /v2/service_bindings/<key> is not found
	// and leaves the key.
	if r := s.do("DELETE", s.gwURL+"/v2/service_bindings/"+key.Metadata.GUID, "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-ServiceBindingNotFound") {
		t.Errorf("delete a key as a binding: %d %s", r.status, r.body)
	}
	// A plan of another offering is InvalidRelation "Plan" (§10.10).
	if r := s.do("PUT", s.gwURL+"/v2/service_instances/"+guid, "developer", []byte(`{"service_plan_guid":"`+backend.CacheBasicPlanGUID+`"}`)); r.status != 400 ||
		!strings.Contains(string(r.body), `"description":"Plan","error_code":"CF-InvalidRelation"`) {
		t.Errorf("a plan of another offering: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/service_keys/"+key.Metadata.GUID+"?async=true", "developer", nil); r.status != 204 {
		t.Errorf("delete the key: %d %s", r.status, r.body)
	}
	// Recursive: v3 unshares and deletes; waited for, 204.
	if r := s.do("DELETE", s.gwURL+"/v2/service_instances/"+guid+"?recursive=true", "developer", nil); r.status != 204 {
		t.Errorf("recursive delete: %d %s", r.status, r.body)
	}
	// Purge (an admin's) deletes the rows of a keyed instance at once.
	r = s.do("POST", s.gwURL+"/v2/service_instances", "developer",
		[]byte(`{"name":"purged","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`))
	if r.status != 201 || json.Unmarshal(r.body, &si) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.gwURL+"/v2/service_keys", "developer", []byte(`{"name":"k","service_instance_guid":"`+si.Metadata.GUID+`"}`)); r.status != 201 {
		t.Fatalf("key: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/service_instances/"+si.Metadata.GUID+"?purge=true", "admin", nil); r.status != 204 {
		t.Errorf("purge: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/service_instances/"+si.Metadata.GUID, "admin", nil); r.status != 404 {
		t.Errorf("after the purge: %d %s", r.status, r.body)
	}
}

// Plan visibilities are made from v3's plan visibility: one row per org
// of an organization-visible plan, seen by global readers only (§10.7.5).
func TestV2PlanVisibilities(t *testing.T) {
	s := startStack(t, nil)
	var list struct {
		TotalResults int `json:"total_results"`
		Resources    []struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct {
				ServicePlanGUID  string `json:"service_plan_guid"`
				OrganizationGUID string `json:"organization_guid"`
			} `json:"entity"`
		} `json:"resources"`
	}
	r := s.do("GET", s.gwURL+"/v2/service_plan_visibilities?q=organization_guid:"+backend.DemoOrgGUID, "admin", nil)
	if r.status != 200 || json.Unmarshal(r.body, &list) != nil || list.TotalResults != 1 ||
		list.Resources[0].Entity.ServicePlanGUID != backend.DBLargePlanGUID {
		t.Fatalf("visibilities: %d %s", r.status, r.body)
	}
	guid := list.Resources[0].Metadata.GUID
	if r := s.do("GET", s.gwURL+"/v2/service_plan_visibilities/"+guid, "admin", nil); r.status != 200 || !strings.Contains(string(r.body), guid) {
		t.Errorf("one visibility: %d %s", r.status, r.body)
	}
	// The guid is the same on every read, on any gateway.
	if r := s.do("GET", s.gwURL+"/v2/service_plan_visibilities", "admin", nil); !strings.Contains(string(r.body), guid) {
		t.Errorf("guid not stable: %s", r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/service_plan_visibilities", "developer", nil); !strings.Contains(string(r.body), `"total_results":0`) {
		t.Errorf("a developer sees visibilities: %s", r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/service_plan_visibilities/nope", "admin", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-ServicePlanVisibilityNotFound") {
		t.Errorf("unknown visibility: %d %s", r.status, r.body)
	}
}

// What the cf CLI's service commands read besides the resources: the
// marketplace without a token and with its broker named for a developer,
// the feature flags cf service reads, and the plan the legacy CLI reads
// inlined in an instance (MAPPING-services §10.12).
func TestV2ServicesForTheCLI(t *testing.T) {
	s := startStack(t, nil)
	for _, user := range []string{"", "developer"} {
		r := s.do("GET", s.gwURL+"/v2/services", user, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"service_broker_name":"capibridge-broker"`) {
			t.Errorf("services as %q: %d %s", user, r.status, r.body)
		}
	}
	r := s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/services", "developer", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"service_broker_name":"capibridge-broker"`) {
		t.Errorf("space services: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/config/feature_flags", "developer", nil)
	var flags []struct {
		Name string
		URL  string
	}
	if r.status != 200 || json.Unmarshal(r.body, &flags) != nil || len(flags) != 19 || flags[0].Name != "user_org_creation" ||
		flags[0].URL != "/v2/config/feature_flags/user_org_creation" {
		t.Errorf("feature flags: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/config/feature_flags/service_instance_sharing", "developer", nil); r.status != 200 ||
		string(r.body) != `{"name":"service_instance_sharing","enabled":true,"error_message":null,"url":"/v2/config/feature_flags/service_instance_sharing"}` {
		t.Errorf("one flag: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/config/feature_flags/nope", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-FeatureFlagNotFound") {
		t.Errorf("unknown flag: %d %s", r.status, r.body)
	}
	r = s.do("POST", s.gwURL+"/v2/service_instances", "developer",
		[]byte(`{"name":"db1","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/service_instances?return_user_provided_service_instances=true&q=name%3Adb1&inline-relations-depth=1", "developer", nil)
	if !strings.Contains(string(r.body), `"service_plan":{"metadata":{"guid":"`+backend.DBSmallPlanGUID+`"`) ||
		!strings.Contains(string(r.body), `"service_guid":"`+backend.DBOfferingGUID+`"`) {
		t.Errorf("the legacy CLI's lookup: %s", r.body)
	}
}

// Redaction (§10.11): the auditor and a space manager read instances,
// bindings and keys without a credential, also through the page cache,
// where the developer's page (with the credentials) is never served to
// them.
func TestV2ServiceRedaction(t *testing.T) {
	s := startStack(t, nil)
	ctx, st := context.Background(), s.cf.Store()
	const managerGUID = "05e40000-0000-4000-8000-0000000000b1"
	if err := st.CreateUser(ctx, store.User{GUID: managerGUID, Username: "space-manager", Email: "sm@example.org",
		Scopes: []string{"openid", "cloud_controller.read", "cloud_controller.write"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Role{{GUID: "sm-org", Type: store.RoleOrgUser}, {GUID: "sm-space", Type: store.RoleSpaceManager, SpaceGUID: backend.DemoSpaceGUID}} {
		r.UserGUID, r.OrgGUID = managerGUID, backend.DemoOrgGUID
		if err := st.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := s.cf.Token(ctx, "space-manager")
	if err != nil {
		t.Fatal(err)
	}
	s.tokens["space-manager"] = tok
	app := s.createApps(t, "developer", "secretive")[0]
	g := s.cachedGateway(t, s.cfURL, "", nil)
	r := s.do("POST", g.url+"/v2/user_provided_service_instances", "developer",
		[]byte(`{"name":"vault","space_guid":"`+backend.DemoSpaceGUID+`","credentials":{"token":"s3cret"}}`))
	var ups struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &ups) != nil {
		t.Fatalf("cups: %d %s", r.status, r.body)
	}
	if r := s.do("POST", g.url+"/v2/service_bindings", "developer", []byte(`{"app_guid":"`+app+`","service_instance_guid":"`+ups.Metadata.GUID+`"}`)); r.status != 201 {
		t.Fatalf("bind: %d %s", r.status, r.body)
	}
	r = s.do("POST", g.url+"/v2/service_instances", "developer",
		[]byte(`{"name":"keyed","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`))
	var managed struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &managed) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := s.do("POST", g.url+"/v2/service_keys", "developer", []byte(`{"name":"k","service_instance_guid":"`+managed.Metadata.GUID+`"}`)); r.status != 201 {
		t.Fatalf("key: %d %s", r.status, r.body)
	}
	paths := []string{
		"/v2/apps?inline-relations-depth=1", "/v2/apps/" + app + "/service_bindings", "/v2/service_bindings",
		"/v2/user_provided_service_instances", "/v2/service_instances/" + ups.Metadata.GUID,
		"/v2/spaces/" + backend.DemoSpaceGUID + "/service_instances?return_user_provided_service_instances=true&inline-relations-depth=1",
		"/v2/service_instances/" + managed.Metadata.GUID,
	}
	for round := range 2 { // the second round reads the cache where it may
		for _, p := range paths {
			dev := s.do("GET", g.url+p, "developer", nil)
			if p != "/v2/service_instances/"+managed.Metadata.GUID && !strings.Contains(string(dev.body), "s3cret") {
				t.Errorf("round %d %s: the developer does not see the credentials: %s", round, p, dev.body)
			}
			for _, reader := range []string{"auditor", "space-manager"} {
				r := s.do("GET", g.url+p, reader, nil)
				if r.status != 200 || strings.Contains(string(r.body), "s3cret") || strings.Contains(string(r.body), `"password":"`) ||
					!strings.Contains(string(r.body), `"redacted_message":"[PRIVATE DATA HIDDEN]"`) {
					t.Errorf("round %d %s: the %s's answer: %d %s", round, p, reader, r.status, r.body)
				}
			}
		}
	}
	// Keys: the developer lists and reads them with credentials; the
	// auditor lists none and reads ServiceKeyNotFound (v2's key access).
	if r := s.do("GET", g.url+"/v2/service_keys", "developer", nil); !strings.Contains(string(r.body), `"password":"`) {
		t.Errorf("developer's keys: %s", r.body)
	}
	for _, reader := range []string{"auditor", "space-manager"} {
		if r := s.do("GET", g.url+"/v2/service_keys", reader, nil); !strings.Contains(string(r.body), `"total_results":0`) {
			t.Errorf("%s's keys: %s", reader, r.body)
		}
	}
	// Permissions: the outsider, who cannot see the instance, reads both
	// false rather than an error (§10.3.8); the auditor reads it.
	r = s.do("GET", g.url+"/v2/service_instances/"+managed.Metadata.GUID+"/permissions", "outsider", nil)
	if r.status != 200 || string(r.body) != `{"manage":false,"read":false}` {
		t.Errorf("outsider's permissions: %d %s", r.status, r.body)
	}
	if r := s.do("GET", g.url+"/v2/service_instances/"+managed.Metadata.GUID+"/permissions", "auditor", nil); string(r.body) != `{"manage":false,"read":true}` {
		t.Errorf("auditor's permissions: %d %s", r.status, r.body)
	}
	r = s.do("GET", g.url+"/v2/service_instances/"+managed.Metadata.GUID+"/service_keys", "auditor", nil)
	if strings.Contains(string(r.body), `"password":"`) {
		t.Errorf("auditor's instance keys: %s", r.body)
	}
	// Inlined keys pass the keys' visibility: the auditor sees none.
	r = s.do("GET", g.url+"/v2/spaces/"+backend.DemoSpaceGUID+"/service_instances?inline-relations-depth=1", "auditor", nil)
	if !strings.Contains(string(r.body), `"service_keys":[]`) || strings.Contains(string(r.body), "service_key_parameters_url") {
		t.Errorf("auditor's inlined keys: %s", r.body)
	}
}

// Route services through v2 (§10.3.7, §10.4.5): a user-provided instance
// with a route_service_url is bound to a route (201 with the instance),
// the route shows it, a second bind and a managed instance are refused in
// CC's words, and the unbind is 204, then InvalidRelation.
func TestV2RouteServiceBindings(t *testing.T) {
	s := startStack(t, nil)
	r := s.do("POST", s.gwURL+"/v2/user_provided_service_instances", "developer",
		[]byte(`{"name":"rs","space_guid":"`+backend.DemoSpaceGUID+`","route_service_url":"https://rs.example.com"}`))
	var ups struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &ups) != nil {
		t.Fatalf("cups: %d %s", r.status, r.body)
	}
	r = s.do("POST", s.gwURL+"/v2/routes", "developer", []byte(`{"host":"guarded","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`))
	var route struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &route) != nil {
		t.Fatalf("route: %d %s", r.status, r.body)
	}
	bind := "/v2/user_provided_service_instances/" + ups.Metadata.GUID + "/routes/" + route.Metadata.GUID
	if r := s.do("PUT", s.gwURL+bind, "developer", nil); r.status != 201 || !strings.Contains(string(r.body), `"name":"rs"`) {
		t.Fatalf("bind: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/routes/"+route.Metadata.GUID, "developer", nil)
	if !strings.Contains(string(r.body), `"service_instance_guid":"`+ups.Metadata.GUID+`"`) ||
		!strings.Contains(string(r.body), `"service_instance_url":"/v2/user_provided_service_instances/`+ups.Metadata.GUID+`"`) {
		t.Errorf("the bound route: %s", r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/user_provided_service_instances/"+ups.Metadata.GUID+"/routes", "developer", nil); !strings.Contains(string(r.body), `"total_results":1`) {
		t.Errorf("instance routes: %s", r.body)
	}
	if r := s.do("PUT", s.gwURL+bind, "developer", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-ServiceInstanceAlreadyBoundToSameRoute") {
		t.Errorf("bind again: %d %s", r.status, r.body)
	}
	// A bound route is not deleted without recursive (§9.7).
	if r := s.do("DELETE", s.gwURL+"/v2/routes/"+route.Metadata.GUID, "developer", nil); r.status != 400 ||
		!strings.Contains(string(r.body), "Please delete the service_instance associations for your routes.") {
		t.Errorf("delete a bound route: %d %s", r.status, r.body)
	}
	r = s.do("POST", s.gwURL+"/v2/service_instances", "developer",
		[]byte(`{"name":"db","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`))
	var managed struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &managed) != nil {
		t.Fatalf("managed: %d %s", r.status, r.body)
	}
	r = s.do("PUT", s.gwURL+"/v2/service_instances/"+managed.Metadata.GUID+"/routes/"+route.Metadata.GUID, "developer", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "CF-RouteAlreadyBoundToServiceInstance") && !strings.Contains(string(r.body), "CF-ServiceDoesNotSupportRoutes") {
		t.Errorf("bind a managed instance: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", s.gwURL+"/v2/service_instances/"+managed.Metadata.GUID+"/routes/nope", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-RouteNotFound") {
		t.Errorf("bind to no route: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+bind, "developer", nil); r.status != 204 {
		t.Errorf("unbind: %d %s", r.status, r.body)
	}
	r = s.do("DELETE", s.gwURL+bind, "developer", nil)
	if r.status != 400 || !strings.Contains(string(r.body), `"description":"Route `+route.Metadata.GUID+` is not bound to service instance `+ups.Metadata.GUID+`.","error_code":"CF-InvalidRelation"`) {
		t.Errorf("unbind again: %d %s", r.status, r.body)
	}
}
