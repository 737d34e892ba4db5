package proxy

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"reflect"
	"strings"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/configs"
	"capibridge/proxy/auth"
)

// startStackStaging is startStack with the embedded CF's backend
// configuration changed first: a short staging time lets a test watch a
// v2 start finish.
func startStackStaging(t testing.TB, stagingDuration time.Duration) *stack {
	t.Helper()
	return startStackWith(t, func(b *configs.Backend) { b.StagingDuration, b.StartupDuration = stagingDuration, 0 }, nil)
}

// doRaw sends body with a content type of the caller's choosing ("" for
// none) as user.
func (s *stack) doRaw(method, url, user, contentType string, body []byte) reply {
	s.t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	if tok, ok := s.tokens[user]; ok {
		req.Header.Set("Authorization", "bearer "+tok)
	} else if user != "" {
		req.Header.Set("Authorization", user)
	}
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	req.SetBody(body)
	if err := s.client.Do(req, resp); err != nil {
		s.t.Fatalf("%s %s: %v", method, url, err)
	}
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return reply{status: resp.StatusCode(), body: append([]byte(nil), resp.Body()...), header: h}
}

// v2AppBody is the part of a v2 app the write tests read.
type v2AppBody struct {
	Metadata struct {
		GUID string `json:"guid"`
		URL  string `json:"url"`
	} `json:"metadata"`
	Entity struct {
		Name                    string             `json:"name"`
		Production              bool               `json:"production"`
		SpaceGUID               string             `json:"space_guid"`
		StackGUID               string             `json:"stack_guid"`
		Buildpack               *string            `json:"buildpack"`
		EnvironmentJSON         map[string]any     `json:"environment_json"`
		Memory                  int                `json:"memory"`
		Instances               int                `json:"instances"`
		DiskQuota               int                `json:"disk_quota"`
		State                   string             `json:"state"`
		Command                 *string            `json:"command"`
		Console                 bool               `json:"console"`
		Debug                   *string            `json:"debug"`
		StagingTaskID           *string            `json:"staging_task_id"`
		PackageState            string             `json:"package_state"`
		HealthCheckType         string             `json:"health_check_type"`
		HealthCheckTimeout      *int               `json:"health_check_timeout"`
		HealthCheckHTTPEndpoint *string            `json:"health_check_http_endpoint"`
		StagingFailedReason     *string            `json:"staging_failed_reason"`
		Diego                   bool               `json:"diego"`
		DockerImage             *string            `json:"docker_image"`
		DockerCredentials       map[string]*string `json:"docker_credentials"`
		EnableSSH               bool               `json:"enable_ssh"`
	} `json:"entity"`
}

func decodeApp(t *testing.T, r reply, status int) v2AppBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := string(r.header.ContentType()); ct != contentTypeV2 {
		t.Errorf("content type %q", ct)
	}
	var a v2AppBody
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return a
}

// wantError checks a v2 error answer byte for byte.
func wantError(t *testing.T, r reply, status int, body string) {
	t.Helper()
	if r.status != status || string(r.body) != body+"\n" {
		t.Errorf("got  %d %s\nwant %d %s", r.status, r.body, status, body)
	}
}

// v3JSON GETs a v3 path from the embedded CF as admin.
func (s *stack) v3JSON(t *testing.T, path string, v any) int {
	t.Helper()
	r := s.do("GET", s.cfURL+path, "admin", nil)
	if v != nil && r.status == 200 {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatal(err)
		}
	}
	return r.status
}

// appsNamed counts the v3 apps called name.
func (s *stack) appsNamed(t *testing.T, name string) int {
	t.Helper()
	var p struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		} `json:"pagination"`
	}
	s.v3JSON(t, "/v3/apps?names="+name, &p)
	return p.Pagination.TotalResults
}

// createV2 creates an app through the gateway and returns its guid.
func (s *stack) createV2(t *testing.T, body string) string {
	t.Helper()
	a := decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body)), 201)
	return a.Metadata.GUID
}

const demoSpace = backend.DemoSpaceGUID

func TestV2AppCreate(t *testing.T) {
	s := startStack(t, nil)

	t.Run("buildpack app with v2-only fields", func(t *testing.T) {
		body := fmt.Sprintf(`{"name":"web","space_guid":%q,"memory":256,"instances":2,"disk_quota":512,"buildpack":"go_buildpack",`+
			`"environment_json":{"GREETING":"hi","N":3},"production":true,"console":true,"debug":"suspend","health_check_type":"none",`+
			`"health_check_timeout":90,"command":"./web","ports":[8080],"diego":true,"enable_ssh":false}`, demoSpace)
		r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body))
		a := decodeApp(t, r, 201)
		if loc := string(r.header.Peek("Location")); loc != "/v2/apps/"+a.Metadata.GUID || a.Metadata.URL != loc {
			t.Errorf("Location %q, url %q", loc, a.Metadata.URL)
		}
		e := a.Entity
		if e.Name != "web" || e.Memory != 256 || e.Instances != 2 || e.DiskQuota != 512 || deref(e.Buildpack) != "go_buildpack" ||
			!e.Production || !e.Console || deref(e.Debug) != "suspend" || e.HealthCheckType != "none" || e.HealthCheckTimeout == nil ||
			*e.HealthCheckTimeout != 90 || e.State != "STOPPED" || e.PackageState != "PENDING" ||
			e.SpaceGUID != demoSpace || e.StackGUID != backend.StackFS4GUID || !e.Diego || e.EnableSSH ||
			e.EnvironmentJSON["GREETING"] != "hi" || e.EnvironmentJSON["N"] != 3.0 {
			t.Errorf("entity %+v", e)
		}
		// The v2-only fields live in the app's annotations, so a read
		// (by any gateway) gives them back.
		got := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+a.Metadata.GUID, "developer", nil), 200)
		if !got.Entity.Production || !got.Entity.Console || deref(got.Entity.Debug) != "suspend" || got.Entity.HealthCheckType != "none" {
			t.Errorf("read back %+v", got.Entity)
		}
		var v3app struct {
			Metadata struct{ Annotations map[string]string }
		}
		s.v3JSON(t, "/v3/apps/"+a.Metadata.GUID, &v3app)
		want := map[string]string{"capibridge.io/production": "true", "capibridge.io/console": "true", "capibridge.io/debug": "suspend",
			"capibridge.io/health-check-type": "none"}
		for k, v := range want {
			if v3app.Metadata.Annotations[k] != v {
				t.Errorf("annotation %s = %q, want %q", k, v3app.Metadata.Annotations[k], v)
			}
		}
		if web := s.webProcess(t, a.Metadata.GUID); web.HealthCheck.Type != "process" || deref(web.Command) != "./web" {
			t.Errorf("v3 health check %q (want process for v2 none), command %v", web.HealthCheck.Type, web.Command)
		}
	})

	t.Run("defaults, whatever the content type", func(t *testing.T) {
		body := fmt.Sprintf(`{"name":"plain","space_guid":%q,"bogus":1,"memory":null,"name":"plain-2"}`, demoSpace)
		a := decodeApp(t, s.doRaw("POST", s.gwURL+"/v2/apps", "developer", "text/plain", []byte(body)), 201)
		e := a.Entity
		if e.Name != "plain-2" || e.Memory != 1024 || e.Instances != 1 || e.DiskQuota != 1024 || e.HealthCheckType != "port" || e.Production ||
			e.Console || e.Debug != nil || e.State != "STOPPED" || e.Buildpack != nil || e.Command != nil || len(e.EnvironmentJSON) != 0 ||
			e.EnvironmentJSON == nil || !e.EnableSSH || e.DockerImage != nil {
			t.Errorf("entity %+v", e)
		}
		a = decodeApp(t, s.doRaw("POST", s.gwURL+"/v2/apps", "developer", "", []byte(fmt.Sprintf(`{"name":"bare","space_guid":%q}`, demoSpace))), 201)
		if a.Entity.Name != "bare" {
			t.Errorf("no content type: %+v", a.Entity)
		}
	})

	t.Run("stacks", func(t *testing.T) {
		a := decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer",
			[]byte(fmt.Sprintf(`{"name":"old-stack","space_guid":%q,"stack_guid":%q}`, demoSpace, backend.StackFS3GUID))), 201)
		if a.Entity.StackGUID != backend.StackFS3GUID {
			t.Errorf("stack %s", a.Entity.StackGUID)
		}
		// CC's get_stack_name falls back to the default stack.
		a = decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer",
			[]byte(fmt.Sprintf(`{"name":"no-stack","space_guid":%q,"stack_guid":"no-such-stack"}`, demoSpace))), 201)
		if a.Entity.StackGUID != backend.StackFS4GUID {
			t.Errorf("stack %s", a.Entity.StackGUID)
		}
	})

	t.Run("docker app", func(t *testing.T) {
		body := fmt.Sprintf(`{"name":"docker_app","space_guid":%q,"docker_image":"cloudfoundry/diego-docker-app",`+
			`"docker_credentials":{"username":"user","password":"password"},"diego":true}`, demoSpace)
		a := decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body)), 201)
		e := a.Entity
		if deref(e.DockerImage) != "cloudfoundry/diego-docker-app" || deref(e.DockerCredentials["username"]) != "user" ||
			deref(e.DockerCredentials["password"]) != "***" || e.State != "STOPPED" || e.PackageState != "PENDING" ||
			e.StackGUID != backend.StackFS4GUID || e.Buildpack != nil {
			t.Errorf("entity %+v", e)
		}
	})

	t.Run("errors", func(t *testing.T) {
		s.createV2(t, fmt.Sprintf(`{"name":"taken","space_guid":%q}`, demoSpace))
		cases := []struct {
			name, user, body string
			status           int
			want             string
		}{
			{"name taken", "developer", fmt.Sprintf(`{"name":"taken","space_guid":%q}`, demoSpace), 400,
				`{"description":"The app name is taken: taken","error_code":"CF-AppNameTaken","code":100002}`},
			{"name taken in another case", "developer", fmt.Sprintf(`{"name":"TAKEN","space_guid":%q}`, demoSpace), 400,
				`{"description":"The app name is taken: TAKEN","error_code":"CF-AppNameTaken","code":100002}`},
			{"no such space", "developer", `{"name":"x","space_guid":"no-such-space"}`, 404,
				`{"description":"The app could not be found: no-such-space","error_code":"CF-AppNotFound","code":100004}`},
			// v3 hides the space from a user without a role in it, so the
			// gateway cannot tell it from a missing one (MAPPING §4).
			{"outsider", "outsider", fmt.Sprintf(`{"name":"x","space_guid":%q}`, demoSpace), 404,
				`{"description":"The app could not be found: ` + demoSpace + `","error_code":"CF-AppNotFound","code":100004}`},
			{"auditor", "auditor", fmt.Sprintf(`{"name":"x","space_guid":%q}`, demoSpace), 403,
				`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`},
			{"read-only token", s.mintToken(t, []string{"cloud_controller.read"}), fmt.Sprintf(`{"name":"x","space_guid":%q}`, demoSpace), 403,
				`{"description":"Your token lacks the necessary scopes to access this resource.","error_code":"CF-InsufficientScope","code":10007}`},
			{"missing fields", "developer", `{"memory":1.5}`, 400,
				`{"description":"Request invalid due to parse error: Field: memory, Error: Expected instance of Integer, given an instance of BigDecimal, ` +
					`Field: name, Error: Missing field name, Field: space_guid, Error: Missing field space_guid","error_code":"CF-MessageParseError","code":1001}`},
			{"empty body", "developer", ``, 400,
				`{"description":"Request invalid due to parse error: Decoded JSON cannot be nil","error_code":"CF-MessageParseError","code":1001}`},
			{"memory", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"memory":0}`, demoSpace), 400,
				`{"description":"You have specified an invalid amount of memory for your application.","error_code":"CF-AppMemoryInvalid","code":100006}`},
			{"instances", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"instances":-1}`, demoSpace), 400,
				`{"description":"The app is invalid: Number of instances less than 0","error_code":"CF-AppInvalid","code":100001}`},
			{"state", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"state":"RUNNING"}`, demoSpace), 400,
				`{"description":"The app is invalid: Invalid app state provided","error_code":"CF-AppInvalid","code":100001}`},
			{"ports", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"ports":[80]}`, demoSpace), 400,
				`{"description":"The app is invalid: Ports must be in the 1024-65535 range.","error_code":"CF-AppInvalid","code":100001}`},
			{"env", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"environment_json":{"VCAP_X":"1"}}`, demoSpace), 400,
				`{"description":"The app is invalid: environment_variables cannot start with VCAP_","error_code":"CF-AppInvalid","code":100001}`},
			{"credentials without image", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"docker_credentials":{"username":"u"}}`, demoSpace), 400,
				`{"description":"Docker credentials can only be supplied for apps with a 'docker_image'","error_code":"CF-DockerImageMissing","code":150008}`},
			{"started without bits", "developer", fmt.Sprintf(`{"name":"x","space_guid":%q,"state":"STARTED"}`, demoSpace), 400,
				`{"description":"The app package is invalid: bits have not been uploaded","error_code":"CF-AppPackageInvalid","code":150001}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, s.do("POST", s.gwURL+"/v2/apps", tc.user, []byte(tc.body)), tc.status, tc.want)
			})
		}
		if n := s.appsNamed(t, "x"); n != 0 {
			t.Errorf("%d apps called x were left behind", n)
		}
	})
}

// A create whose later v3 call fails deletes the app it made, so the name
// is free for the retry.
func TestV2AppCreateUndone(t *testing.T) {
	s := startStack(t, nil)
	cases := []struct {
		name, body, want string
	}{
		{"the process patch fails", `"health_check_type":"http","health_check_http_endpoint":"no-slash"`,
			`{"description":"The app is invalid: Health check endpoint must be a valid URI path","error_code":"CF-AppInvalid","code":100001}`},
		{"the scale fails", `"memory":3000000000`,
			`{"description":"The app is invalid: Memory in mb must be less than or equal to 2147483647","error_code":"CF-AppInvalid","code":100001}`},
		{"the docker package fails", `"docker_image":"i","docker_credentials":{"username":5}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"name":"undone","space_guid":%q,%s}`, demoSpace, tc.body)
			r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body))
			if tc.want != "" {
				wantError(t, r, 400, tc.want)
			} else if r.status < 400 {
				t.Errorf("%d %s", r.status, r.body)
			}
			if n := s.appsNamed(t, "undone"); n != 0 {
				t.Fatalf("%d apps left behind after %s", n, r.body)
			}
		})
	}
	s.createV2(t, fmt.Sprintf(`{"name":"undone","space_guid":%q}`, demoSpace))
}

func TestV2AppUpdate(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"before","space_guid":%q,"environment_json":{"KEEP":"k","DROP":"d","NUM":1},"production":true}`, demoSpace))

	t.Run("many fields at once, answered 201", func(t *testing.T) {
		body := `{"name":"after","memory":512,"instances":2,"disk_quota":2048,"environment_json":{"KEEP":"k","NUM":1,"NEW":"n"},` +
			`"health_check_type":"http","health_check_http_endpoint":"/health","health_check_timeout":30,"command":"./run","production":false,` +
			`"console":true,"buildpack":"ruby_buildpack","stack_guid":"` + backend.StackFS3GUID + `","enable_ssh":false,"state":"STOPPED","ports":[]}`
		a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(body)), 201)
		e := a.Entity
		if e.Name != "after" || e.Memory != 512 || e.Instances != 2 || e.DiskQuota != 2048 || e.HealthCheckType != "http" ||
			deref(e.HealthCheckHTTPEndpoint) != "/health" || e.HealthCheckTimeout == nil || *e.HealthCheckTimeout != 30 ||
			e.Production || !e.Console || deref(e.Buildpack) != "ruby_buildpack" || e.StackGUID != backend.StackFS3GUID || e.EnableSSH ||
			len(e.EnvironmentJSON) != 3 || e.EnvironmentJSON["NEW"] != "n" || e.EnvironmentJSON["DROP"] != nil || e.EnvironmentJSON["NUM"] != 1.0 {
			t.Errorf("entity %+v", e)
		}
		if web := s.webProcess(t, guid); deref(web.Command) != "./run" {
			t.Errorf("v3 command %v", web.Command)
		}
		var v3app struct {
			Metadata struct{ Annotations map[string]string }
		}
		s.v3JSON(t, "/v3/apps/"+guid, &v3app)
		if _, ok := v3app.Metadata.Annotations["capibridge.io/production"]; ok || v3app.Metadata.Annotations["capibridge.io/console"] != "true" {
			t.Errorf("annotations %v", v3app.Metadata.Annotations)
		}
		// A second PUT of the same values writes nothing and answers the same.
		b := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(body)), 201)
		if !reflect.DeepEqual(b.Entity, a.Entity) {
			t.Errorf("second PUT\n got %+v\nwant %+v", b.Entity, a.Entity)
		}
		// Back to none, with the command reset to the detected one.
		c := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"health_check_type":"none","command":""}`)), 201)
		if c.Entity.HealthCheckType != "none" || c.Entity.HealthCheckHTTPEndpoint != nil || c.Entity.Command != nil {
			t.Errorf("entity %+v", c.Entity)
		}
		if web := s.webProcess(t, guid); web.Command != nil || web.HealthCheck.Type != "process" {
			t.Errorf("v3 command %v, health check %s", web.Command, web.HealthCheck.Type)
		}
	})

	t.Run("a failure half-way undoes what was written", func(t *testing.T) {
		// v3 keeps only string values written after a create, so an undo
		// puts a number back as its text: start from strings.
		decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"environment_json":{"KEEP":"k","N":"1"}}`)), 201)
		before := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200).Entity
		// name, environment and the process command are written, then the
		// scale fails: all three are put back.
		body := `{"name":"half","environment_json":{"ONLY":"x"},"command":"./other","console":false,"memory":3000000000}`
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(body)), 400,
			`{"description":"The app is invalid: Memory in mb must be less than or equal to 2147483647","error_code":"CF-AppInvalid","code":100001}`)
		after := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200).Entity
		if !reflect.DeepEqual(after, before) {
			t.Errorf("after the failed PUT\n got %+v\nwant %+v", after, before)
		}
		if web := s.webProcess(t, guid); web.Command != nil {
			t.Errorf("the command stayed written: %s", *web.Command)
		}
		// The process patch itself fails after the app and env writes.
		body = `{"name":"half","environment_json":{},"health_check_type":"http","health_check_http_endpoint":"no-slash"}`
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(body)), 400,
			`{"description":"The app is invalid: Health check endpoint must be a valid URI path","error_code":"CF-AppInvalid","code":100001}`)
		after = decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200).Entity
		if !reflect.DeepEqual(after, before) {
			t.Errorf("after the failed PUT\n got %+v\nwant %+v", after, before)
		}
	})

	t.Run("errors", func(t *testing.T) {
		other := s.createV2(t, fmt.Sprintf(`{"name":"other","space_guid":%q}`, demoSpace))
		docker := s.createV2(t, fmt.Sprintf(`{"name":"docked","space_guid":%q,"docker_image":"nginx"}`, demoSpace))
		cases := []struct {
			name, user, path, body string
			status                 int
			want                   string
		}{
			{"parse error before not found", "developer", "/v2/apps/missing", `{"memory":"x"}`, 400,
				`{"description":"Request invalid due to parse error: Field: memory, Error: Expected instance of Integer, given an instance of String","error_code":"CF-MessageParseError","code":1001}`},
			{"not found", "developer", "/v2/apps/missing", `{}`, 404,
				`{"description":"The app could not be found: missing","error_code":"CF-AppNotFound","code":100004}`},
			{"name taken", "developer", "/v2/apps/" + other, `{"name":"AFTER"}`, 400,
				`{"description":"The app name is taken: AFTER","error_code":"CF-AppNameTaken","code":100002}`},
			{"auditor", "auditor", "/v2/apps/" + other, `{"memory":128}`, 403,
				`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`},
			{"auditor env", "auditor", "/v2/apps/" + other, `{"environment_json":{}}`, 403,
				`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`},
			{"space change", "developer", "/v2/apps/" + other, `{"space_guid":"elsewhere"}`, 400,
				`{"description":"The app is invalid: space_guid cannot be changed","error_code":"CF-AppInvalid","code":100001}`},
			{"docker image on a buildpack app", "developer", "/v2/apps/" + other, `{"docker_image":"nginx"}`, 400,
				`{"description":"The app is invalid: Lifecycle type cannot be changed","error_code":"CF-AppInvalid","code":100001}`},
			{"buildpack on a docker app", "developer", "/v2/apps/" + docker, `{"buildpack":"go"}`, 400,
				`{"description":"The app is invalid: Lifecycle type cannot be changed","error_code":"CF-AppInvalid","code":100001}`},
			{"credentials without an image", "developer", "/v2/apps/" + other, `{"docker_credentials":{"username":"u"}}`, 400,
				`{"description":"Docker credentials can only be supplied for apps with a 'docker_image'","error_code":"CF-DockerImageMissing","code":150008}`},
			{"started without bits", "developer", "/v2/apps/" + other, `{"state":"STARTED"}`, 400,
				`{"description":"The app package is invalid: bits have not been uploaded","error_code":"CF-AppPackageInvalid","code":150001}`},
			{"blank name", "developer", "/v2/apps/" + other, `{"name":"  "}`, 400,
				`{"description":"The app is invalid: name is not present","error_code":"CF-AppInvalid","code":100001}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, s.do("PUT", s.gwURL+tc.path, tc.user, []byte(tc.body)), tc.status, tc.want)
			})
		}
		// A new image for the docker app is a new package.
		decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+docker, "developer",
			[]byte(`{"docker_image":"nginx:2","docker_credentials":{"username":"me","password":"pw"}}`)), 201)
		var pkgs struct {
			Resources []struct {
				Data struct{ Image, Username string }
			}
		}
		s.v3JSON(t, "/v3/apps/"+docker+"/packages", &pkgs)
		if n := len(pkgs.Resources); n != 2 || pkgs.Resources[1].Data.Image != "nginx:2" || pkgs.Resources[1].Data.Username != "me" {
			t.Errorf("packages after a new image: %+v", pkgs.Resources)
		}
	})
}

// zipFiles is a zip of the files, name → content.
func zipFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadBits gives the app a READY bits package with the files, through
// the embedded CF's v3 API, and returns the package.
func (s *stack) uploadBits(t *testing.T, appGUID string, files map[string]string) string {
	t.Helper()
	pkg := s.v3Create(t, "developer", "/v3/packages", fmt.Sprintf(`{"type":"bits","relationships":{"app":{"data":{"guid":%q}}}}`, appGUID))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("bits", "application.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(zipFiles(t, files)); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	if r := s.doRaw("POST", s.cfURL+"/v3/packages/"+pkg+"/upload", "developer", mw.FormDataContentType(), body.Bytes()); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	return pkg
}

// eventually reads the v2 app until cond holds, within a few seconds.
func (s *stack) eventually(t *testing.T, baseURL, guid string, cond func(v2AppBody) bool) v2AppBody {
	t.Helper()
	var a v2AppBody
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a = decodeApp(t, s.do("GET", baseURL+"/v2/apps/"+guid, "developer", nil), 200)
		if cond(a) {
			return a
		}
	}
	t.Fatalf("the app never got there: %+v", a.Entity)
	return a
}

// webProcess reads the app's web process from the embedded CF (a single
// GET shows the command, which lists redact).
func (s *stack) webProcess(t *testing.T, guid string) struct {
	Command     *string
	HealthCheck struct{ Type string } `json:"health_check"`
} {
	t.Helper()
	var web struct {
		Command     *string
		HealthCheck struct{ Type string } `json:"health_check"`
	}
	s.v3JSON(t, "/v3/apps/"+guid+"/processes/web", &web)
	return web
}

func v3State(t *testing.T, s *stack, guid string) (state, pending string) {
	t.Helper()
	var a struct {
		State    string
		Metadata struct{ Annotations map[string]string }
	}
	s.v3JSON(t, "/v3/apps/"+guid, &a)
	return a.State, a.Metadata.Annotations["capibridge.io/pending-start"]
}

// A v2 start of an app with no droplet answers at once, STARTED and
// PENDING, and the next read after staging finishes the start.
func TestV2AppStart(t *testing.T) {
	s := startStackStaging(t, 400*time.Millisecond)

	t.Run("docker: pending, then finished by a read", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"dock","space_guid":%q,"docker_image":"nginx:1"}`, demoSpace))
		a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
		if a.Entity.State != "STARTED" || a.Entity.PackageState != "PENDING" || a.Entity.StagingTaskID == nil {
			t.Fatalf("entity %+v", a.Entity)
		}
		build := *a.Entity.StagingTaskID
		if st, p := v3State(t, s, guid); st != "STOPPED" || p != build {
			t.Errorf("v3 state %s, pending %q, want STOPPED and %s", st, p, build)
		}
		done := s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
		if done.Entity.State != "STARTED" || deref(done.Entity.StagingTaskID) != build {
			t.Errorf("entity %+v", done.Entity)
		}
		if st, p := v3State(t, s, guid); st != "STARTED" || p != "" {
			t.Errorf("v3 state %s, pending %q, want STARTED and none", st, p)
		}
		// Stop, then start again: staged, so it starts at once.
		a = decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STOPPED"}`)), 201)
		if a.Entity.State != "STOPPED" {
			t.Errorf("stop: %+v", a.Entity)
		}
		a = decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
		if a.Entity.State != "STARTED" || a.Entity.PackageState != "STAGED" {
			t.Errorf("restart: %+v", a.Entity)
		}
		if st, _ := v3State(t, s, guid); st != "STARTED" {
			t.Errorf("v3 state %s", st)
		}
	})

	t.Run("create STARTED; another gateway finishes it from a list", func(t *testing.T) {
		a := decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer",
			[]byte(fmt.Sprintf(`{"name":"born-started","space_guid":%q,"docker_image":"nginx:1","state":"STARTED","memory":256}`, demoSpace))), 201)
		if a.Entity.State != "STARTED" || a.Entity.PackageState != "PENDING" || a.Entity.Memory != 256 {
			t.Fatalf("entity %+v", a.Entity)
		}
		first := s.gwURL
		s.startGateway(func() configs.Config { c := testGatewayConfig(); c.Upstream = s.cfURL; return c }(),
			auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
		if s.gwURL == first {
			t.Fatal("no second gateway")
		}
		// Only the second gateway reads, from a list, until staging ends.
		var l v2List
		waitFor(t, "the list to show the start finished", func() bool {
			r := s.do("GET", s.gwURL+"/v2/apps?q=name:born-started", "developer", nil)
			if err := json.Unmarshal(r.body, &l); err != nil || len(l.Resources) != 1 {
				t.Fatalf("%v %s", err, r.body)
			}
			return string(l.Resources[0].Entity["package_state"]) == `"STAGED"`
		})
		if string(l.Resources[0].Entity["state"]) != `"STARTED"` {
			t.Errorf("listed %s %s", l.Resources[0].Entity["state"], l.Resources[0].Entity["package_state"])
		}
		if st, p := v3State(t, s, a.Metadata.GUID); st != "STARTED" || p != "" {
			t.Errorf("v3 state %s, pending %q", st, p)
		}
	})

	t.Run("buildpack bits stage and start", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"static","space_guid":%q}`, demoSpace))
		s.uploadBits(t, guid, map[string]string{"Staticfile": "", "index.html": "hi"})
		a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED","instances":2}`)), 201)
		if a.Entity.State != "STARTED" || a.Entity.PackageState != "PENDING" || a.Entity.Instances != 2 {
			t.Fatalf("entity %+v", a.Entity)
		}
		s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" && a.Entity.State == "STARTED" })
	})

	t.Run("a new package of a running app: staged, then restarted on it, however many gateways race", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"rolling","space_guid":%q,"docker_image":"nginx:1","state":"STARTED"}`, demoSpace))
		s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
		var before struct{ Data struct{ GUID string } }
		s.v3JSON(t, "/v3/apps/"+guid+"/relationships/current_droplet", &before)
		// v3 times have whole seconds: what the update makes must be newer
		// than what the create made for the v2 read to tell them apart.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"docker_image":"nginx:2","state":"STARTED"}`)), 201)
		if a.Entity.State != "STARTED" || a.Entity.PackageState != "PENDING" {
			t.Fatalf("entity %+v", a.Entity)
		}
		// Let staging end (read on v3, which finishes nothing), so the
		// reads below race to finish the start.
		waitFor(t, "the new build to stage", func() bool {
			r := s.do("GET", s.cfURL+"/v3/apps/"+guid+"/builds?order_by=-created_at&per_page=1", "developer", nil)
			return strings.Contains(string(r.body), `"state":"STAGED"`)
		})
		other := s.gwURL
		s.startGateway(func() configs.Config { c := testGatewayConfig(); c.Upstream = s.cfURL; return c }(),
			auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
		results := make(chan reply, 6)
		for i := range 6 {
			base := []string{other, s.gwURL}[i%2]
			go func() { results <- s.do("GET", base+"/v2/apps/"+guid, "developer", nil) }()
		}
		for range 6 {
			if r := <-results; r.status != 200 {
				t.Errorf("racing read: %d %s", r.status, r.body)
			}
		}
		done := s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
		if done.Entity.State != "STARTED" || deref(done.Entity.DockerImage) != "nginx:2" {
			t.Errorf("entity %+v", done.Entity)
		}
		var after struct{ Data struct{ GUID string } }
		s.v3JSON(t, "/v3/apps/"+guid+"/relationships/current_droplet", &after)
		if st, p := v3State(t, s, guid); st != "STARTED" || p != "" || after.Data.GUID == before.Data.GUID {
			t.Errorf("v3 state %s, pending %q, droplet %s (was %s)", st, p, after.Data.GUID, before.Data.GUID)
		}
	})

	t.Run("a refused package undoes the scale before it", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"refused","space_guid":%q,"docker_image":"nginx:1"}`, demoSpace))
		r := s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"docker_image":"nginx:2","docker_credentials":{"username":5},"disk_quota":4096,"state":"STARTED"}`))
		if r.status != 400 || !strings.Contains(string(r.body), `"error_code":"CF-AppInvalid"`) {
			t.Errorf("%d %s", r.status, r.body)
		}
		a := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200)
		if a.Entity.DiskQuota != 1024 || a.Entity.State != "STOPPED" || deref(a.Entity.DockerImage) != "nginx:1" {
			t.Errorf("entity %+v", a.Entity)
		}
	})

	t.Run("a failed staging stays STARTED until stopped", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"broken","space_guid":%q}`, demoSpace))
		s.uploadBits(t, guid, map[string]string{"Staticfile": "", "capibridge-fail-staging": "BuildpackCompileFailed"})
		a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
		if a.Entity.State != "STARTED" {
			t.Fatalf("entity %+v", a.Entity)
		}
		f := s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "FAILED" })
		if f.Entity.State != "STARTED" || deref(f.Entity.StagingFailedReason) != "BuildpackCompileFailed" {
			t.Errorf("entity %+v", f.Entity)
		}
		if st, p := v3State(t, s, guid); st != "STOPPED" || p == "" {
			t.Errorf("v3 state %s, pending %q", st, p)
		}
		a = decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STOPPED"}`)), 201)
		if a.Entity.State != "STOPPED" {
			t.Errorf("entity %+v", a.Entity)
		}
		if _, p := v3State(t, s, guid); p != "" {
			t.Errorf("pending %q after the stop", p)
		}
	})
}

func TestV2AppDelete(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"doomed","space_guid":%q}`, demoSpace))
	wantError(t, s.do("DELETE", s.gwURL+"/v2/apps/"+guid, "auditor", nil), 403,
		`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`)
	r := s.do("DELETE", s.gwURL+"/v2/apps/"+guid, "developer", nil)
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("%d %q", r.status, r.body)
	}
	wantError(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 404,
		`{"description":"The app could not be found: `+guid+`","error_code":"CF-AppNotFound","code":100004}`)
	wantError(t, s.do("DELETE", s.gwURL+"/v2/apps/"+guid, "developer", nil), 404,
		`{"description":"The app could not be found: `+guid+`","error_code":"CF-AppNotFound","code":100004}`)

	bound := s.createV2(t, fmt.Sprintf(`{"name":"bound","space_guid":%q}`, demoSpace))
	s.serviceFixture(t, bound, "bound", "bound-db")
	wantError(t, s.do("DELETE", s.gwURL+"/v2/apps/"+bound, "developer", nil), 400,
		`{"description":"Please delete the service_bindings associations for your processes.","error_code":"CF-AssociationNotEmpty","code":10006}`)
	if r := s.do("DELETE", s.gwURL+"/v2/apps/"+bound+"?recursive=true&async=true", "developer", nil); r.status != 204 {
		t.Fatalf("recursive: %d %s", r.status, r.body)
	}
	if n := s.appsNamed(t, "bound"); n != 0 {
		t.Errorf("%d apps called bound remain", n)
	}
	if strings.Contains(string(r.header.ContentType()), "json") && len(r.body) > 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
}

// TestGoCFClientWritesApps: go-cfclient's last v2 release creates, finds,
// updates and deletes apps through the gateway.
func TestGoCFClientWritesApps(t *testing.T) {
	s := startStack(t, nil)
	dev := s.goCFClient(t, "developer")
	app, err := dev.CreateApp(cfclient.AppCreateRequest{Name: "cf-made", SpaceGuid: demoSpace, Memory: 256, Instances: 2,
		Buildpack: "go_buildpack", HealthCheckType: cfclient.HEALTH_PROCESS, HealthCheckTimeout: 45,
		Environment: map[string]interface{}{"A": "1", "B": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if app.Guid == "" || app.Name != "cf-made" || app.Memory != 256 || app.Instances != 2 || app.Buildpack != "go_buildpack" ||
		app.HealthCheckType != "process" || app.HealthCheckTimeout != 45 || app.State != "STOPPED" || app.Environment["A"] != "1" {
		t.Errorf("CreateApp: %+v", app)
	}
	found, err := dev.AppByName("cf-made", demoSpace, backend.DemoOrgGUID)
	if err != nil || found.Guid != app.Guid {
		t.Errorf("AppByName: %v %+v", err, found)
	}
	upd, err := dev.UpdateApp(app.Guid, cfclient.AppUpdateResource{Name: "cf-renamed", Memory: 512, DiskQuota: 2048,
		Environment: map[string]interface{}{"B": "3"}, HealthCheckType: "http", HealthCheckHttpEndpoint: "/ready"})
	if err != nil {
		t.Fatal(err)
	}
	e := upd.Entity
	if upd.Metadata.Guid != app.Guid || e.Name != "cf-renamed" || e.Memory != 512 || e.DiskQuota != 2048 || e.Instances != 2 ||
		len(e.Environment) != 1 || e.Environment["B"] != "3" || e.HealthCheckType != "http" || e.HealthCheckHttpEndpoint != "/ready" {
		t.Errorf("UpdateApp: %+v", upd)
	}
	got, err := dev.GetAppByGuidNoInlineCall(app.Guid)
	if err != nil || got.Name != "cf-renamed" || got.Memory != 512 || got.Environment["A"] != nil {
		t.Errorf("read after update: %v %+v", err, got)
	}
	docker, err := dev.CreateApp(cfclient.AppCreateRequest{Name: "cf-docker", SpaceGuid: demoSpace, DockerImage: "nginx:1",
		DockerCredentials: cfclient.DockerCredentials{Username: "me", Password: "pw"}})
	if err != nil || docker.DockerImage != "nginx:1" || docker.DockerCredentials.Username != "me" || docker.DockerCredentials.Password != "***" {
		t.Errorf("docker CreateApp: %v %+v", err, docker)
	}
	// go-cfclient says only that something went wrong; the status is CC's.
	if _, err := dev.CreateApp(cfclient.AppCreateRequest{Name: "cf-renamed", SpaceGuid: demoSpace}); err == nil {
		t.Error("a second app with a taken name was created")
	}
	if _, err := s.goCFClient(t, "auditor").UpdateApp(app.Guid, cfclient.AppUpdateResource{Memory: 128}); err == nil {
		t.Error("the auditor updated the app")
	}
	if err := dev.DeleteApp(app.Guid); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.GetAppByGuidNoInlineCall(app.Guid); err == nil {
		t.Error("the deleted app is still there")
	}
	if err := dev.DeleteApp(docker.Guid); err != nil {
		t.Fatal(err)
	}
	if n := s.appsNamed(t, "cf-docker"); n != 0 {
		t.Errorf("%d apps called cf-docker remain", n)
	}
}
