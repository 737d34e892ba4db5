package backend

import (
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// managedBody is a POST /v3/service_instances body of a managed instance
// of plan in space, with extra fields on top.
func managedBody(name, space, plan string, extra map[string]any) map[string]any {
	b := map[string]any{"type": "managed", "name": name, "relationships": map[string]any{
		"space": map[string]any{"data": map[string]string{"guid": space}}, "service_plan": map[string]any{"data": map[string]string{"guid": plan}}}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// keyBody is a POST /v3/service_credential_bindings body of a key.
func keyBody(instance, name string, params map[string]any) map[string]any {
	b := map[string]any{"type": "key", "name": name, "relationships": map[string]any{
		"service_instance": map[string]any{"data": map[string]string{"guid": instance}}}}
	if params != nil {
		b["parameters"] = params
	}
	return b
}

// jobBody is a job as the tests read it.
type jobBody struct {
	State     string
	Operation string
	Errors    []errorEntry
	Links     map[string]struct{ Href string }
}

// job reads the job of a 202's Location.
func (c *cf) job(location, user string) jobBody {
	c.t.Helper()
	var j jobBody
	c.must(200, "GET", location[strings.Index(location, "/v3/"):], user, nil).json(c.t, &j)
	return j
}

// lastOp reads an instance's or binding's last operation type and state.
func (c *cf) lastOp(path, user string) string {
	c.t.Helper()
	var v struct {
		LastOperation struct{ Type, State string } `json:"last_operation"`
	}
	c.must(200, "GET", path, user, nil).json(c.t, &v)
	return v.LastOperation.Type + " " + v.LastOperation.State
}

// startBroker starts an embedded CF on a fake clock whose jobs first run
// after jobDelay and whose broker takes duration.
func startBroker(t *testing.T, jobDelay, duration time.Duration) (*cf, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: servicesT0}
	cfg := testConfig()
	cfg.JobDelay = jobDelay
	return startCF(t, &cfg, WithClock(clk.Now), WithBrokerDuration(duration)), clk
}

// created is the guid of what a 202 made: the job's resource.
func (c *cf) created(r resp, user string) string {
	c.t.Helper()
	j := c.job(r.header["Location"], user)
	for _, l := range j.Links {
		if i := strings.LastIndex(l.Href, "/"); !strings.Contains(l.Href, "/v3/jobs/") {
			return l.Href[i+1:]
		}
	}
	c.t.Fatalf("job %+v links to nothing", j)
	return ""
}

// TestManagedInstanceLifecycle walks a managed instance of the built-in
// broker through create, updates, a key, an app binding and delete, on a
// clock that moves only when told: each operation is "initial" (the job
// PROCESSING) until the job first runs, "in progress" (POLLING) while the
// broker works, then done.
func TestManagedInstanceLifecycle(t *testing.T) {
	t.Parallel()
	c, clk := startBroker(t, 2*time.Second, 10*time.Second)
	params := map[string]any{"storage_gb": 5, "extensions": []string{"postgis"}}
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("orders", DemoSpaceGUID, DBSmallPlanGUID,
		map[string]any{"parameters": params, "tags": []string{"orders"}}))
	loc := r.header["Location"]
	if len(r.body) > 0 {
		t.Errorf("202 with a body %s", r.body)
	}
	j := c.job(loc, "developer")
	si := c.created(r, "developer")
	if j.State != store.JobProcessing || j.Operation != "service_instance.create" || j.Links["service_instances"].Href != v3Base+"/v3/service_instances/"+si {
		t.Fatalf("new job %+v", j)
	}
	path := "/v3/service_instances/" + si
	if got := c.lastOp(path, "developer"); got != "create initial" {
		t.Errorf("before the job runs: %s", got)
	}
	clk.Advance(2 * time.Second)
	if got := c.lastOp(path, "developer"); got != "create in progress" {
		t.Errorf("while the broker works: %s", got)
	}
	if j := c.job(loc, "developer"); j.State != store.JobPolling {
		t.Errorf("job %s while the broker works", j.State)
	}
	// An instance being made is neither updated nor deleted.
	wantV3Error(t, c.do("PATCH", path, "developer", map[string]any{"parameters": map[string]int{"a": 1}}), 409, 60016,
		"CF-AsyncServiceInstanceOperationInProgress", "An operation for service instance orders is in progress.")
	wantV3Error(t, c.do("DELETE", path, "developer", nil), 422, 10008, "CF-UnprocessableEntity",
		"There is an operation in progress for the service instance.")
	wantV3Error(t, c.do("POST", "/v3/service_credential_bindings", "developer", keyBody(si, "k", nil)), 422, 10008, "CF-UnprocessableEntity",
		"There is an operation in progress for the service instance")
	clk.Advance(8 * time.Second)
	if got := c.lastOp(path, "developer"); got != "create succeeded" {
		t.Errorf("after the broker: %s", got)
	}
	if j := c.job(loc, "developer"); j.State != store.JobComplete || len(j.Errors) != 0 {
		t.Errorf("job %+v", j)
	}
	body := c.must(200, "GET", path, "auditor", nil).body
	for key, want := range map[string]string{"type": `"managed"`, "tags": `["orders"]`, "maintenance_info": `{}`, "upgrade_available": "false",
		"dashboard_url": "null", "relationships.service_plan.data.guid": `"` + DBSmallPlanGUID + `"`,
		"last_operation.description": `"provision succeeded"`, "links.parameters.href": `"` + v3Base + path + `/parameters"`} {
		if got := rawAt(t, body, key); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	wantParams := `{"extensions":["postgis"],"storage_gb":5}`
	if got := string(c.must(200, "GET", path+"/parameters", "auditor", nil).body); got != wantParams {
		t.Errorf("parameters %s, want %s", got, wantParams)
	}

	// A rename and tags are made at once; parameters and a plan are the
	// broker's, a job.
	c.must(200, "PATCH", path, "developer", map[string]any{"name": "orders-db", "tags": []string{"a"}})
	if got := c.lastOp(path, "developer"); got != "update succeeded" {
		t.Errorf("after a rename: %s", got)
	}
	r = c.must(202, "PATCH", path, "developer", map[string]any{"parameters": map[string]int{"storage_gb": 50},
		"relationships": map[string]any{"service_plan": map[string]any{"data": map[string]string{"guid": DBLargePlanGUID}}}})
	if got := c.lastOp(path, "developer"); got != "update in progress" {
		t.Errorf("during an update: %s", got)
	}
	if got := rawAt(t, c.must(200, "GET", path, "developer", nil).body, "relationships.service_plan.data.guid"); got != `"`+DBSmallPlanGUID+`"` {
		t.Errorf("plan %s before the update is done", got)
	}
	clk.Advance(10 * time.Second)
	if j := c.job(r.header["Location"], "developer"); j.State != store.JobComplete || j.Operation != "service_instance.update" {
		t.Errorf("update job %+v", j)
	}
	if got := rawAt(t, c.must(200, "GET", path, "developer", nil).body, "relationships.service_plan.data.guid"); got != `"`+DBLargePlanGUID+`"` {
		t.Errorf("plan %s after the update", got)
	}
	if got := string(c.must(200, "GET", path+"/parameters", "developer", nil).body); got != `{"storage_gb":50}` {
		t.Errorf("parameters after the update %s", got)
	}

	// A key: its details are the broker's credentials once it is made.
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", keyBody(si, "ci", map[string]any{"ttl": 60}))
	key := c.created(r, "developer")
	keyPath := "/v3/service_credential_bindings/" + key
	wantV3Error(t, c.do("GET", keyPath+"/details", "developer", nil), 404, 10010, "CF-ResourceNotFound", "Creation of service key initial")
	clk.Advance(10 * time.Second)
	var details struct {
		Credentials struct {
			URI, Username, Password, Host string
			Port                          int
		}
	}
	c.must(200, "GET", keyPath+"/details", "developer", nil).json(t, &details)
	cr := details.Credentials
	if cr.Username == "" || len(cr.Password) < 20 || cr.Host == "" || cr.Port != 5432 ||
		!strings.HasPrefix(cr.URI, "postgres://"+cr.Username+":"+cr.Password+"@"+cr.Host+":5432/") {
		t.Errorf("credentials %+v", cr)
	}
	if got := string(c.must(200, "GET", keyPath+"/parameters", "auditor", nil).body); got != `{"ttl":60}` {
		t.Errorf("key parameters %s", got)
	}
	roleNotFound("Service credential binding").assert(t, c.do("GET", keyPath+"/details", "auditor", nil))
	if got := c.listPage("developer", "/v3/service_credential_bindings?type=key&service_instance_guids="+si).Pagination.TotalResults; got != 1 {
		t.Errorf("%d keys", got)
	}

	// An app binding, seen in the app's VCAP_SERVICES.
	app := c.createApp("developer", "orders-app", nil)
	r = c.must(202, "POST", "/v3/service_credential_bindings", "developer", bindingBody(si, app, "orders"))
	clk.Advance(10 * time.Second)
	if j := c.job(r.header["Location"], "developer"); j.State != store.JobComplete || j.Operation != "service_bindings.create" {
		t.Errorf("binding job %+v", j)
	}
	env := c.must(200, "GET", "/v3/apps/"+app+"/env", "developer", nil).body
	vcap := rawAt(t, env, "system_env_json.VCAP_SERVICES."+DBOfferingName)
	for _, want := range []string{`"label":"capibridge-db"`, `"provider":null`, `"plan":"large"`, `"name":"orders"`,
		`"tags":["postgresql","relational","a"]`, `"instance_name":"orders-db"`, `"binding_name":"orders"`, `"uri":"postgres://`} {
		if !strings.Contains(vcap, want) {
			t.Errorf("VCAP_SERVICES %s lacks %s", vcap, want)
		}
	}

	// Deleting the key, then the instance (which takes the binding along).
	r = c.must(202, "DELETE", keyPath, "developer", nil)
	if got := c.lastOp(keyPath, "developer"); got != "delete in progress" {
		t.Errorf("key being deleted: %s", got)
	}
	clk.Advance(10 * time.Second)
	if j := c.job(r.header["Location"], "developer"); j.State != store.JobComplete || j.Operation != "service_keys.delete" || len(j.Links) != 1 {
		t.Errorf("key delete job %+v", j)
	}
	roleNotFound("Service credential binding").assert(t, c.do("GET", keyPath, "developer", nil))
	r = c.must(202, "DELETE", path, "developer", nil)
	if j := c.job(r.header["Location"], "developer"); j.Operation != "service_instance.delete" ||
		j.Links["service_instance"].Href != v3Base+"/v3/service_instances/"+si {
		t.Errorf("delete job %+v", j)
	}
	if got := c.lastOp(path, "developer"); got != "delete in progress" {
		t.Errorf("instance being deleted: %s", got)
	}
	clk.Advance(10 * time.Second)
	roleNotFound("Service instance").assert(t, c.do("GET", path, "developer", nil))
	if j := c.job(r.header["Location"], "developer"); j.State != store.JobComplete || len(j.Links) != 1 {
		t.Errorf("delete job after %+v", j)
	}
	if n := c.listPage("admin", "/v3/service_credential_bindings?service_instance_guids="+si).Pagination.TotalResults; n != 0 {
		t.Errorf("%d bindings left", n)
	}
	var events struct{ Resources []struct{ Type string } }
	c.must(200, "GET", "/v3/audit_events?target_guids="+si, "admin", nil).json(t, &events)
	var types []string
	for _, e := range events.Resources {
		types = append(types, e.Type)
	}
	want := "audit.service_instance.start_create audit.service_instance.create audit.service_instance.update audit.service_instance.start_update " +
		"audit.service_instance.update audit.service_instance.start_delete audit.service_instance.delete"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}
