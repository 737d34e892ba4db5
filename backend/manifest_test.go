package backend

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// applyManifestPath is the apply_manifest action of the demo space.
const applyManifestPath = "/v3/spaces/" + DemoSpaceGUID + "/actions/apply_manifest"

// postManifest sends a YAML manifest as user with the given Content-Type
// ("" sends none), as the cf CLI does.
func (c *cf) postManifest(path, user, contentType, yml string) resp {
	c.t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org" + path)
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "bearer "+c.tokens[user])
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	req.SetBodyString(yml)
	if err := c.client.Do(req, res); err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	h := map[string]string{}
	for k, v := range res.Header.All() {
		h[string(k)] = string(v)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: h}
}

// manifestJob applies yml to the demo space as developer, waits for the
// job and returns it.
func (c *cf) manifestJob(yml string) jobView {
	c.t.Helper()
	r := c.postManifest(applyManifestPath, "developer", "application/x-yaml", yml)
	if r.status != 202 || len(r.body) != 0 {
		c.t.Fatalf("apply_manifest: %d %s", r.status, r.body)
	}
	loc := r.header["Location"]
	if !strings.HasPrefix(loc, "http://api.example.org/v3/jobs/") {
		c.t.Fatalf("Location %q", loc)
	}
	c.waitJob(loc, "developer")
	var j jobView
	c.must(200, "GET", loc[strings.Index(loc, "/v3/"):], "developer", nil).json(c.t, &j)
	return j
}

type jobView struct {
	Operation string
	State     string
	Errors    []errorEntry
}

// appByName returns the guid of the demo space's app called name, or "".
func (c *cf) appByName(name string) string {
	c.t.Helper()
	var list struct{ Resources []struct{ GUID string } }
	c.must(200, "GET", "/v3/apps?names="+name+"&space_guids="+DemoSpaceGUID, "developer", nil).json(c.t, &list)
	if len(list.Resources) == 0 {
		return ""
	}
	return list.Resources[0].GUID
}

type routeView struct {
	Host string
	Path string
	URL  string
}

func (c *cf) appRoutes(app string) []routeView {
	c.t.Helper()
	var list struct{ Resources []routeView }
	c.must(200, "GET", "/v3/apps/"+app+"/routes", "developer", nil).json(c.t, &list)
	return list.Resources
}

// manifestRoleRows are apply_manifest's rows of the role table: admins and
// space developers apply; the auditor sees the space but may not write;
// the outsider does not see it. The body is YAML, so TestApplyManifestRoles
// sends them itself rather than through the JSON role runners.
var manifestRoleRows = []roleRow{
	{"apply manifest", "POST", applyManifestPath, "applications:\n- name: role-app\n  no-route: true\n",
		rolePer(roleOK(202), roleOK(202), roleNotAuthorized, roleNotFound("Space"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, manifestRoleRows...) }

func TestApplyManifestRoles(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	for _, row := range manifestRoleRows {
		for _, user := range []string{"admin", "developer", "auditor", "outsider"} {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				r := c.postManifest(row.path, user, "application/x-yaml", row.body.(string))
				row.want[user].assert(t, r)
				if r.status == 202 {
					if state := c.waitJob(r.header["Location"], user); state != "COMPLETE" {
						t.Errorf("job %s", state)
					}
				}
			})
		}
	}
}

func TestApplyManifestErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	const yamlType = "application/x-yaml"
	for _, tc := range []struct {
		name, path, user, contentType, body string
		status                              int
		errs                                []errorEntry
	}{
		{name: "no content type", user: "developer", body: "applications:\n- name: a\n", status: 400,
			errs: []errorEntry{{Detail: "Bad request: Content-Type must be yaml", Title: "CF-BadRequest", Code: 1004}}},
		{name: "json content type", user: "developer", contentType: "application/json", body: "{}", status: 400,
			errs: []errorEntry{{Detail: "Bad request: Content-Type must be yaml", Title: "CF-BadRequest", Code: 1004}}},
		{name: "unknown space", path: "/v3/spaces/nope/actions/apply_manifest", user: "developer", contentType: yamlType,
			body: "applications:\n- name: a\n", status: 404,
			errs: []errorEntry{{Detail: "Space not found", Title: "CF-ResourceNotFound", Code: 10010}}},
		{name: "outsider sees no space", user: "outsider", contentType: yamlType, body: "applications:\n- name: a\n", status: 404,
			errs: []errorEntry{{Detail: "Space not found", Title: "CF-ResourceNotFound", Code: 10010}}},
		{name: "auditor may not write", user: "auditor", contentType: yamlType, body: "applications:\n- name: a\n", status: 403,
			errs: []errorEntry{{Detail: "You are not authorized to perform the requested action", Title: "CF-NotAuthorized", Code: 10003}}},
		{name: "not a mapping", user: "developer", contentType: yamlType, body: "- just\n- a list\n", status: 400,
			errs: []errorEntry{{Detail: "Request invalid due to parse error: invalid request body", Title: "CF-MessageParseError", Code: 1001}}},
		{name: "anchors", user: "developer", contentType: yamlType, status: 400,
			body: "applications:\n- name: a\n  processes:\n  - type: web\n    memory: &m 321M\n    disk_quota: *m\n",
			errs: []errorEntry{{Detail: "Bad request: Manifest does not support Anchors and Aliases", Title: "CF-BadRequest", Code: 1004}}},
		{name: "no applications", user: "developer", contentType: yamlType, body: "not-applications:\n- name: a\n", status: 422,
			errs: []errorEntry{{Detail: "Cannot parse manifest with no 'applications' field.", Title: "CF-UnprocessableEntity", Code: 10008}}},
		{name: "version", user: "developer", contentType: yamlType, body: "version: 1234567\napplications:\n- name: a\n", status: 422,
			errs: []errorEntry{{Detail: "Unsupported manifest schema version. Currently supported versions: [1].", Title: "CF-UnprocessableEntity", Code: 10008}}},
		{name: "memory without unit", user: "developer", contentType: yamlType, body: "applications:\n- name: a\n  memory: 256\n", status: 422,
			errs: []errorEntry{{Detail: `For application 'a': Process "web": Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB`,
				Title: "CF-UnprocessableEntity", Code: 10008}}},
		{name: "memory zero", user: "developer", contentType: yamlType, body: "applications:\n- name: a\n  memory: 0M\n", status: 422,
			errs: []errorEntry{{Detail: `For application 'a': Process "web": Memory must be greater than 0MB`, Title: "CF-UnprocessableEntity", Code: 10008}}},
		{name: "every problem at once", user: "developer", contentType: yamlType, status: 422,
			body: "applications:\n- name: a\n  disk_quota: lots\n  stack: {hash: but should be a string}\n- instances: -1\n",
			errs: []errorEntry{
				{Detail: `For application 'a': Process "web": Disk quota is not a number`, Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application 'a': Stack must be a string", Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application at index 1: Name must not be empty", Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: `For application at index 1: Process "web": Instances must be greater than or equal to 0`, Title: "CF-UnprocessableEntity", Code: 10008},
			}},
		{name: "routes", user: "developer", contentType: yamlType, status: 422,
			body: "applications:\n- name: a\n  random-route: true\n  default-route: true\n  no-route: yes-please\n  routes: [{route: 'http://:80'}]\n",
			errs: []errorEntry{
				{Detail: "For application 'a': The route 'http://:80' is not a properly formed URL", Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application 'a': No-route must be a boolean", Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application 'a': Random-route and default-route may not be used together", Title: "CF-UnprocessableEntity", Code: 10008},
			}},
		{name: "env and services", user: "developer", contentType: yamlType, status: 422,
			body: "applications:\n- name: a\n  env: {VCAP_X: y}\n  services: [{nom: db}]\n  health-check-type: tcp\n",
			errs: []errorEntry{
				{Detail: `For application 'a': Process "web": Health check type must be "port", "process", or "http"`, Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application 'a': Services must be a list of service instances", Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: "For application 'a': Env cannot start with VCAP_", Title: "CF-UnprocessableEntity", Code: 10008},
			}},
		{name: "sidecars", user: "developer", contentType: yamlType, status: 422,
			body: "applications:\n- name: a\n  sidecars:\n  - name: auth\n    process_types: []\n",
			errs: []errorEntry{
				{Detail: `For application 'a': Sidecar "auth": Command can't be blank`, Title: "CF-UnprocessableEntity", Code: 10008},
				{Detail: `For application 'a': Sidecar "auth": Process types must have at least 1 process_type`, Title: "CF-UnprocessableEntity", Code: 10008},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = applyManifestPath
			}
			r := c.postManifest(path, tc.user, tc.contentType, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			var got errorBody
			r.json(t, &got)
			if !slices.Equal(got.Errors, tc.errs) {
				t.Errorf("errors\n got %+v\nwant %+v", got.Errors, tc.errs)
			}
		})
	}
	// A refused manifest creates no app.
	if guid := c.appByName("a"); guid != "" {
		t.Errorf("app a exists after refused manifests")
	}
}

// TestApplyManifestPush follows `cf push` of cf CLI 8: its generated
// manifest for `cf push myapp` first, then richer manifests.
func TestApplyManifestPush(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)

	// v7pushaction's HandleDefaultRouteOverride sets default-route unless
	// the manifest asks for a random route or none.
	if j := c.manifestJob("applications:\n- name: myapp\n  default-route: true\n"); j.State != "COMPLETE" || j.Operation != "space.apply_manifest" {
		t.Fatalf("job %+v", j)
	}
	app := c.appByName("myapp")
	if app == "" {
		t.Fatal("myapp was not created")
	}
	var a struct {
		State     string
		Lifecycle struct {
			Type string
			Data struct{ Stack string }
		}
	}
	c.must(200, "GET", "/v3/apps/"+app, "developer", nil).json(t, &a)
	if a.State != "STOPPED" || a.Lifecycle.Type != "buildpack" || a.Lifecycle.Data.Stack != DefaultStackName {
		t.Errorf("app %+v", a)
	}
	var web struct {
		Type        string
		Instances   int
		MemoryInMB  int `json:"memory_in_mb"`
		HealthCheck struct {
			Type string
			Data struct{ Endpoint *string }
		} `json:"health_check"`
	}
	c.must(200, "GET", "/v3/apps/"+app+"/processes/web", "developer", nil).json(t, &web)
	if web.Instances != 1 || web.HealthCheck.Type != "port" {
		t.Errorf("web %+v", web)
	}
	if rs := c.appRoutes(app); len(rs) != 1 || rs[0].URL != "myapp."+SharedDomainName {
		t.Fatalf("routes %+v", rs)
	}
	var events struct {
		Resources []struct {
			Data struct {
				Request struct{ Manifest string }
			}
		}
	}
	c.must(200, "GET", "/v3/audit_events?types=audit.app.apply_manifest&target_guids="+app, "developer", nil).json(t, &events)
	if len(events.Resources) != 1 || !strings.Contains(events.Resources[0].Data.Request.Manifest, "name: myapp") {
		t.Errorf("apply_manifest events %+v", events)
	}

	// A second push of the same manifest keeps the one route.
	if j := c.manifestJob("applications:\n- name: myapp\n  default-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("job %+v", j)
	}
	if rs := c.appRoutes(app); len(rs) != 1 {
		t.Fatalf("routes after a second push %+v", rs)
	}

	c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("mydb", DemoSpaceGUID, map[string]any{"credentials": map[string]string{"u": "p"}}))
	j := c.manifestJob(`applications:
- name: myapp
  memory: 256M
  disk_quota: 1G
  instances: 2
  env:
    FOO: bar
    N: 3
  routes:
  - route: myapp-api.` + SharedDomainName + `/api
  services:
  - mydb
  health-check-type: http
  health-check-http-endpoint: /health
  timeout: 30
  processes:
  - type: worker
    command: ./worker
    instances: 1
    memory: 128MB
`)
	if j.State != "COMPLETE" {
		t.Fatalf("job %+v", j)
	}
	c.must(200, "GET", "/v3/apps/"+app+"/processes/web", "developer", nil).json(t, &web)
	if web.Instances != 2 || web.MemoryInMB != 256 || web.HealthCheck.Type != "http" || web.HealthCheck.Data.Endpoint == nil ||
		*web.HealthCheck.Data.Endpoint != "/health" {
		t.Errorf("web after the manifest %+v", web)
	}
	var worker struct {
		Instances  int
		MemoryInMB int `json:"memory_in_mb"`
		Command    *string
	}
	c.must(200, "GET", "/v3/apps/"+app+"/processes/worker", "developer", nil).json(t, &worker)
	if worker.Instances != 1 || worker.MemoryInMB != 128 || worker.Command == nil || *worker.Command != "./worker" {
		t.Errorf("worker %+v", worker)
	}
	var env struct{ Var map[string]string }
	c.must(200, "GET", "/v3/apps/"+app+"/environment_variables", "developer", nil).json(t, &env)
	if env.Var["FOO"] != "bar" || env.Var["N"] != "3" {
		t.Errorf("env %+v", env.Var)
	}
	var urls []string
	for _, r := range c.appRoutes(app) {
		urls = append(urls, r.URL)
	}
	slices.Sort(urls)
	if want := []string{"myapp-api." + SharedDomainName + "/api", "myapp." + SharedDomainName}; !slices.Equal(urls, want) {
		t.Errorf("routes %v, want %v", urls, want)
	}
	var bindings struct{ Resources []struct{ Type string } }
	c.must(200, "GET", "/v3/service_credential_bindings?app_guids="+app+"&service_instance_names=mydb", "developer", nil).json(t, &bindings)
	if len(bindings.Resources) != 1 {
		t.Errorf("bindings %+v", bindings)
	}
	// Applying it again binds nothing twice.
	if j := c.manifestJob("applications:\n- name: myapp\n  services: [mydb]\n"); j.State != "COMPLETE" {
		t.Fatalf("second bind: %+v", j)
	}

	// no-route unmaps every route.
	if j := c.manifestJob("applications:\n- name: myapp\n  no-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("no-route job %+v", j)
	}
	if rs := c.appRoutes(app); len(rs) != 0 {
		t.Errorf("routes after no-route %+v", rs)
	}
	// random-route gives an app without routes one.
	if j := c.manifestJob("applications:\n- name: myapp\n  random-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("random-route job %+v", j)
	}
	if rs := c.appRoutes(app); len(rs) != 1 || !strings.HasPrefix(rs[0].Host, "myapp-") {
		t.Errorf("routes after random-route %+v", rs)
	}

	// An unknown service fails the job with CC's error.
	j = c.manifestJob("applications:\n- name: myapp\n  services: [nope]\n")
	want := []errorEntry{{Detail: "For application 'myapp': Service instance 'nope' not found", Title: "CF-ResourceNotFound", Code: 10010}}
	if j.State != "FAILED" || !slices.Equal(j.Errors, want) {
		t.Errorf("job %+v, want FAILED with %+v", j, want)
	}
	// So does a route on no known domain.
	j = c.manifestJob("applications:\n- name: myapp\n  routes: [{route: x.nowhere.example}]\n")
	want = []errorEntry{{Detail: "For application 'myapp': No domains exist for route x.nowhere.example", Title: "CF-UnprocessableEntity", Code: 10008}}
	if j.State != "FAILED" || !slices.Equal(j.Errors, want) {
		t.Errorf("job %+v, want FAILED with %+v", j, want)
	}
}

// TestApplyManifestDocker creates a docker app from a manifest and refuses
// buildpacks for it afterwards, as SpaceManifestsController does.
func TestApplyManifestDocker(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	if j := c.manifestJob("applications:\n- name: dockerapp\n  docker: {image: busybox}\n  no-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("job %+v", j)
	}
	app := c.appByName("dockerapp")
	var a struct{ Lifecycle struct{ Type string } }
	c.must(200, "GET", "/v3/apps/"+app, "developer", nil).json(t, &a)
	if a.Lifecycle.Type != "docker" {
		t.Errorf("lifecycle %q", a.Lifecycle.Type)
	}
	r := c.postManifest(applyManifestPath, "developer", "application/x-yaml", "applications:\n- name: dockerapp\n  buildpacks: [ruby_buildpack]\n")
	var got errorBody
	r.json(t, &got)
	want := []errorEntry{{Detail: "For application 'dockerapp': Buildpacks cannot be configured for a docker lifecycle app.", Title: "CF-UnprocessableEntity", Code: 10008}}
	if r.status != 422 || !slices.Equal(got.Errors, want) {
		t.Errorf("%d %+v, want 422 %+v", r.status, got.Errors, want)
	}
}

func TestByteConverter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		mb   int64
		fail string
	}{
		{in: "256M", mb: 256}, {in: "1G", mb: 1024}, {in: "512MB", mb: 512}, {in: "1.5gb", mb: 1536}, {in: "2048KiB", mb: 2},
		{in: "1T", mb: 1 << 20}, {in: 256, fail: "Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB"},
		{in: "M", fail: "Memory is not a number"}, {in: "12X", fail: "Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB"},
	} {
		if msg := byteFormatProblem(tc.in, "Memory", false); msg != tc.fail {
			t.Errorf("%v: problem %q, want %q", tc.in, msg, tc.fail)
		}
		if tc.fail != "" {
			continue
		}
		if mb, ok, err := toMB(tc.in); err != nil || !ok || mb != tc.mb {
			t.Errorf("%v: %d %v %v, want %d", tc.in, mb, ok, err, tc.mb)
		}
	}
	raw, _ := json.Marshal(underscore("health-check-http-endpoint") + " " + underscore("diskQuota"))
	if string(raw) != `"health_check_http_endpoint disk_quota"` {
		t.Errorf("underscore: %s", raw)
	}
}
