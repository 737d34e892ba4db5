package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// v3Base is the origin of absolute links in the tests: the harness sends
// every request to http://api.example.org.
const v3Base = "http://api.example.org"

// forSubtest returns a copy of c that reports failures on t, so that a
// subtest never calls FailNow on its parent's testing.T.
func (c *cf) forSubtest(t testing.TB) *cf {
	cp := *c
	cp.t = t
	return &cp
}

// appBody is a POST /v3/apps body for demo-space in the GA relationship
// shape, with extra fields on top (a nil value removes a field).
func appBody(name string, extra map[string]any) map[string]any {
	b := map[string]any{"name": name, "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

// rawAt returns the compact JSON found at a dotted path of body ("" is the
// whole body; a number indexes an array), failing when it is not there.
func rawAt(t testing.TB, body []byte, path string) string {
	t.Helper()
	cur := json.RawMessage(body)
	if path != "" {
		for _, p := range strings.Split(path, ".") {
			if i, err := strconv.Atoi(p); err == nil {
				var arr []json.RawMessage
				if err := json.Unmarshal(cur, &arr); err != nil || i >= len(arr) {
					t.Fatalf("%s: no item %d in %s", path, i, cur)
				}
				cur = arr[i]
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(cur, &obj); err != nil {
				t.Fatalf("%s: %s is not an object", path, cur)
			}
			v, ok := obj[p]
			if !ok {
				t.Fatalf("%s: no key %q in %s", path, p, cur)
			}
			cur = v
		}
	}
	return compactJSON(t, string(cur))
}

// keysAt lists the keys of the object at path, in document order.
func keysAt(t testing.TB, body []byte, path string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(rawAt(t, body, path)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object", path)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compacting %s: %v", s, err)
	}
	return b.String()
}

// sameJSON reports whether a and b hold the same JSON value, whatever the
// order of object keys.
func sameJSON(t testing.TB, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("decoding %s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// wantV3Error checks a v3 error response: its status and its one error's
// code, title and detail.
func wantV3Error(t testing.TB, r resp, status, code int, title, detail string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("want exactly one v3 error, got %s", r.body)
	}
	got := e.Errors[0]
	if got.Code != code || got.Title != title || got.Detail != detail {
		t.Errorf("error %d %s %q, want %d %s %q", got.Code, got.Title, got.Detail, code, title, detail)
	}
}

// referenceBody reads a reference body from testdata/v3, compacted.
func referenceBody(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "v3", name))
	if err != nil {
		t.Fatal(err)
	}
	return compactJSON(t, string(b))
}

// setDroplet gives an app a current droplet straight in the store: the
// embedded CF cannot stage, and v3 refuses to start an app without one.
func setDroplet(t testing.TB, c *cf, appGUID, dropletGUID string) {
	t.Helper()
	ctx := context.Background()
	a, err := c.srv.Store().GetApp(ctx, store.Viewer{All: true}, appGUID)
	if err != nil {
		t.Fatal(err)
	}
	a.DropletGUID = &dropletGUID
	if err := c.srv.Store().UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
}

func TestCreateApp(t *testing.T) {
	c := startCF(t, nil)
	cases := []struct {
		name string
		body map[string]any
		// What the created app shows; empty means the defaults.
		lifecycle, metadata, wantName string
		// check looks further, after the common checks.
		check func(t *testing.T, c *cf, guid string)
	}{
		{
			// CC: a new app is STOPPED, on the buildpack lifecycle with the
			// default stack and autodetection, with no droplet (AppCreate).
			name:      "defaults",
			body:      appBody("defaults", nil),
			lifecycle: `{"type":"buildpack","data":{"buildpacks":[],"stack":"cflinuxfs4"}}`,
		},
		{
			name:      "docker lifecycle",
			body:      appBody("docker", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}}),
			lifecycle: `{"type":"docker","data":{}}`,
		},
		{
			name:      "explicit stack",
			body:      appBody("fs3", map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"stack": "cflinuxfs3"}}}),
			lifecycle: `{"type":"buildpack","data":{"buildpacks":[],"stack":"cflinuxfs3"}}`,
		},
		{
			name: "buildpacks kept in order",
			body: appBody("bps", map[string]any{"lifecycle": map[string]any{"type": "buildpack",
				"data": map[string]any{"buildpacks": []string{"ruby_buildpack", "go_buildpack"}}}}),
			lifecycle: `{"type":"buildpack","data":{"buildpacks":["ruby_buildpack","go_buildpack"],"stack":"cflinuxfs4"}}`,
		},
		{
			// The experimental v3 API (CC docs before 3.0 GA) sent the space
			// without "data" and a single "buildpack"; old clients still do.
			name:      "experimental relationship shape",
			body:      map[string]any{"name": "exp-rel", "relationships": map[string]any{"space": map[string]any{"guid": DemoSpaceGUID}}},
			lifecycle: `{"type":"buildpack","data":{"buildpacks":[],"stack":"cflinuxfs4"}}`,
		},
		{
			name:      "experimental lifecycle data",
			body:      appBody("exp-bp", map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpack": "x"}}}),
			lifecycle: `{"type":"buildpack","data":{"buildpacks":["x"],"stack":"cflinuxfs4"}}`,
		},
		{
			name: "environment variables stored",
			body: appBody("with-env", map[string]any{"environment_variables": map[string]any{"RAILS_ENV": "production", "EMPTY": ""}}),
			check: func(t *testing.T, c *cf, guid string) {
				r := c.must(200, "GET", "/v3/apps/"+guid+"/environment_variables", "developer", nil)
				if got := rawAt(t, r.body, "var"); !sameJSON(t, got, `{"RAILS_ENV":"production","EMPTY":""}`) {
					t.Errorf("var %s", got)
				}
			},
		},
		{
			name: "metadata stored",
			body: appBody("with-md", map[string]any{"metadata": map[string]any{
				"labels":      map[string]any{"env": "prod", "example.org/tier": "web", "empty": ""},
				"annotations": map[string]any{"note": "free text, with spaces!"}}}),
			metadata: `{"labels":{"empty":"","env":"prod","example.org/tier":"web"},"annotations":{"note":"free text, with spaces!"}}`,
		},
		{
			// AppModel strips the name (strip_attributes :name).
			name:     "name stripped",
			body:     appBody("  padded\t", nil),
			wantName: "padded",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forSubtest(t)
			r := c.must(201, "POST", "/v3/apps", "developer", tc.body)
			guid := strings.Trim(rawAt(t, r.body, "guid"), `"`)
			wantName := tc.wantName
			if wantName == "" {
				wantName = tc.body["name"].(string)
			}
			lifecycle, metadata := tc.lifecycle, tc.metadata
			if lifecycle == "" {
				lifecycle = `{"type":"buildpack","data":{"buildpacks":[],"stack":"cflinuxfs4"}}`
			}
			if metadata == "" {
				metadata = `{"labels":{},"annotations":{}}`
			}
			get := c.must(200, "GET", "/v3/apps/"+guid, "developer", nil)
			for _, body := range [][]byte{r.body, get.body} {
				for path, want := range map[string]string{
					"name":                          strconv.Quote(wantName),
					"state":                         `"STOPPED"`,
					"lifecycle":                     lifecycle,
					"relationships.space":           `{"data":{"guid":"` + DemoSpaceGUID + `"}}`,
					"relationships.current_droplet": `{"data":{"guid":null}}`,
					"links.self.href":               `"` + v3Base + "/v3/apps/" + guid + `"`,
					"links.start":                   `{"href":"` + v3Base + "/v3/apps/" + guid + `/actions/start","method":"POST"}`,
				} {
					if got := rawAt(t, body, path); got != want {
						t.Errorf("%s = %s, want %s", path, got, want)
					}
				}
				if got := rawAt(t, body, "metadata"); !sameJSON(t, got, metadata) {
					t.Errorf("metadata = %s, want %s", got, metadata)
				}
				if created, updated := rawAt(t, body, "created_at"), rawAt(t, body, "updated_at"); created != updated {
					t.Errorf("created_at %s, updated_at %s: a new app has one time", created, updated)
				}
			}

			// ProcessCreate gives every new app a web process that shares its
			// guid and has the configured defaults (cc:app/actions/process_create.rb).
			web := c.must(200, "GET", "/v3/apps/"+guid+"/processes/web", "developer", nil)
			for path, want := range map[string]string{
				"guid":                               strconv.Quote(guid),
				"type":                               `"web"`,
				"command":                            "null",
				"instances":                          "1",
				"memory_in_mb":                       "1024",
				"disk_in_mb":                         "1024",
				"log_rate_limit_in_bytes_per_second": "-1",
				"health_check":                       `{"type":"port","data":{"timeout":null,"invocation_timeout":null,"interval":null}}`,
				"relationships.app":                  `{"data":{"guid":"` + guid + `"}}`,
			} {
				if got := rawAt(t, web.body, path); got != want {
					t.Errorf("web process %s = %s, want %s", path, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, c, guid)
			}
		})
	}
}

func TestCreateAppRejects(t *testing.T) {
	c := startCF(t, nil)
	c.createApp("developer", "my_app", nil)
	const (
		unprocessable = "CF-UnprocessableEntity"
		invalidSpace  = "Invalid space. Ensure that the space exists and you have access to it."
	)
	lifecycle := func(typ string, data map[string]any) map[string]any {
		return map[string]any{"lifecycle": map[string]any{"type": typ, "data": data}}
	}
	env := func(k string) map[string]any {
		return map[string]any{"environment_variables": map[string]any{k: "x"}}
	}
	label := func(k, v string) map[string]any {
		return map[string]any{"metadata": map[string]any{"labels": map[string]any{k: v}}}
	}
	cases := []struct {
		name   string
		user   string // developer when empty
		body   any
		status int
		code   int
		title  string
		detail string
	}{
		// AppCreateMessage: validates :name, string: true, which nil fails too.
		{"missing name", "", appBody("", map[string]any{"name": nil}), 422, 10008, unprocessable, "Name must be a string"},
		{"null name", "", `{"name":null,"relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}}}}`, 422, 10008, unprocessable, "Name must be a string"},
		{"non-string name", "", appBody("", map[string]any{"name": 42}), 422, 10008, unprocessable, "Name must be a string"},
		{"blank name", "", appBody("", nil), 422, 10008, unprocessable, "Name can't be blank"},
		{"whitespace name", "", appBody(" \t ", nil), 422, 10008, unprocessable, "Name can't be blank"},
		{"bad lifecycle type", "", appBody("x", lifecycle("kpack", map[string]any{})), 422, 10008, unprocessable,
			"Lifecycle type is not included in the list: buildpack, docker"},
		{"unknown stack", "", appBody("x", lifecycle("buildpack", map[string]any{"stack": "windows2016"})), 422, 10008, unprocessable,
			"Stack must be an existing stack"},
		// EnvironmentVariablesValidator matches prefixes case-insensitively.
		{"VCAP_ env key", "", appBody("x", env("VCAP_SERVICES")), 422, 10008, unprocessable, "Environment variables cannot start with VCAP_"},
		{"lowercase vcap_ env key", "", appBody("x", env("vcap_application")), 422, 10008, unprocessable, "Environment variables cannot start with VCAP_"},
		{"VMC env key", "", appBody("x", env("VMC_APP")), 422, 10008, unprocessable, "Environment variables cannot start with VMC_"},
		{"PORT env key", "", appBody("x", env("PORT")), 422, 10008, unprocessable, "Environment variables cannot set PORT"},
		{"lowercase port env key", "", appBody("x", env("port")), 422, 10008, unprocessable, "Environment variables cannot set PORT"},
		{"empty env key", "", appBody("x", env("")), 422, 10008, unprocessable, "Environment variables key must be a minimum length of 1"},
		// MetadataValidator words (cc:app/messages/validators/metadata_validator.rb
		// and metadata_validator_helper.rb): the name part of a key is quoted.
		{"label key with invalid characters", "", appBody("x", label("bad key", "v")), 422, 10008, unprocessable,
			"Metadata label key error: 'bad key' contains invalid characters"},
		{"label key starting with a dash", "", appBody("x", label("-lead", "v")), 422, 10008, unprocessable,
			"Metadata label key error: '-lead' starts or ends with invalid characters"},
		{"label key with two slashes", "", appBody("x", label("a/b/c", "v")), 422, 10008, unprocessable,
			"Metadata label key error: key has more than one '/'"},
		{"label key too long", "", appBody("x", label(strings.Repeat("k", 64), "v")), 422, 10008, unprocessable,
			"Metadata label key error: 'kkkkkkkk...' is greater than 63 characters"},
		{"label key with a bad prefix", "", appBody("x", label("-x.org/name", "v")), 422, 10008, unprocessable,
			"Metadata label key error: prefix '-x.org' must be in valid dns format"},
		{"label key with an empty name", "", appBody("x", label("example.org/", "v")), 422, 10008, unprocessable,
			"Metadata label key error: key cannot be empty string"},
		{"label value with invalid characters", "", appBody("x", label("env", "pro duction")), 422, 10008, unprocessable,
			"Metadata label value error: 'pro duction' contains invalid characters"},
		{"label value ending in a dot", "", appBody("x", label("env", "prod.")), 422, 10008, unprocessable,
			"Metadata label value error: 'prod.' starts or ends with invalid characters"},
		{"unknown field", "", appBody("x", map[string]any{"stack": "cflinuxfs4"}), 422, 10008, unprocessable, "Unknown field(s): 'stack'"},
		// CC's v3 controllers turn a JSON::ParserError into MessageParseError.
		{"malformed JSON", "", `{"name": "x",`, 400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body"},
		{"space that does not exist", "", appBody("x", map[string]any{"relationships": map[string]any{"space": map[string]any{
			"data": map[string]any{"guid": "no-such-space"}}}}), 422, 10008, unprocessable, invalidSpace},
		// A space the user cannot see reads as missing; one it sees but
		// cannot write to is 403 (AppsV3Controller#create).
		{"space the user cannot see", "outsider", appBody("x", nil), 422, 10008, unprocessable, invalidSpace},
		{"space the user cannot write to", "auditor", appBody("x", nil), 403, 10003, "CF-NotAuthorized",
			"You are not authorized to perform the requested action"},
		// Names are unique per space, case-insensitively; the detail quotes
		// the requested name (AppModel validates_unique message).
		{"duplicate name", "", appBody("my_app", nil), 422, 10016, "CF-UniquenessError", "App with the name 'my_app' already exists."},
		{"duplicate name in another case", "", appBody("MY_App", nil), 422, 10016, "CF-UniquenessError", "App with the name 'MY_App' already exists."},
		{"duplicate name once stripped", "", appBody(" my_app ", nil), 422, 10016, "CF-UniquenessError", "App with the name 'my_app' already exists."},
	}
	// The group returns once its parallel cases are done, so the checks
	// after it see what they left behind.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := c.forSubtest(t)
				user := tc.user
				if user == "" {
					user = "developer"
				}
				wantV3Error(t, c.do("POST", "/v3/apps", user, tc.body), tc.status, tc.code, tc.title, tc.detail)
			})
		}
	})

	t.Run("name taken body is CC's", func(t *testing.T) {
		r := c.forSubtest(t).do("POST", "/v3/apps", "developer", appBody("my_app", nil))
		if want := referenceBody(t, "error_app_name_taken.json"); string(r.body) != want {
			t.Errorf("body %s, want %s", r.body, want)
		}
	})
	t.Run("nothing was created", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", "/v3/apps", "admin", nil)
		if got := rawAt(t, r.body, "pagination.total_results"); got != "1" {
			t.Errorf("%s apps, want only my_app", got)
		}
	})
}

func TestPatchApp(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	c := startCF(t, nil, WithClock(clock.Now))
	c.createApp("developer", "occupied", nil)
	bp := func(data map[string]any) map[string]any {
		return map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": data}}
	}
	cases := []struct {
		name   string
		create map[string]any // extra create fields
		patch  any
		// want maps dotted paths to the JSON the PATCH response and a later
		// GET show; on an error, the app must be left as it was.
		want   map[string]string
		status int
		detail string
		code   int
	}{
		{name: "rename", patch: map[string]any{"name": "renamed"}, want: map[string]string{"name": `"renamed"`}},
		{name: "rename stripped", patch: map[string]any{"name": " trimmed "}, want: map[string]string{"name": `"trimmed"`}},
		{name: "rename onto a taken name", patch: map[string]any{"name": "OCCUPIED"},
			status: 422, code: 10016, detail: "App with the name 'OCCUPIED' already exists."},
		{name: "buildpacks", create: bp(map[string]any{"buildpacks": []string{"java_buildpack"}}),
			patch: bp(map[string]any{"buildpacks": []string{"go_buildpack", "binary_buildpack"}}),
			want:  map[string]string{"lifecycle": `{"type":"buildpack","data":{"buildpacks":["go_buildpack","binary_buildpack"],"stack":"cflinuxfs4"}}`}},
		{name: "buildpacks back to autodetect", create: bp(map[string]any{"buildpacks": []string{"java_buildpack"}}),
			patch: bp(map[string]any{"buildpacks": []string{}}),
			want:  map[string]string{"lifecycle": `{"type":"buildpack","data":{"buildpacks":[],"stack":"cflinuxfs4"}}`}},
		{name: "stack keeps buildpacks", create: bp(map[string]any{"buildpacks": []string{"java_buildpack"}}),
			patch: bp(map[string]any{"stack": "cflinuxfs3"}),
			want:  map[string]string{"lifecycle": `{"type":"buildpack","data":{"buildpacks":["java_buildpack"],"stack":"cflinuxfs3"}}`}},
		{name: "unknown stack", patch: bp(map[string]any{"stack": "cflinuxfs2"}), status: 422, code: 10008, detail: "Stack must be an existing stack"},
		// AppUpdate#validate_not_changing_lifecycle_type!.
		{name: "buildpack to docker refused", patch: map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}},
			status: 422, code: 10008, detail: "Lifecycle type cannot be changed"},
		{name: "docker to buildpack refused", create: map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}},
			patch: bp(map[string]any{"buildpacks": []string{"go_buildpack"}}), status: 422, code: 10008, detail: "Lifecycle type cannot be changed"},
		{
			// A null value deletes a label or an annotation; other keys stay.
			name: "metadata",
			create: map[string]any{"metadata": map[string]any{
				"labels":      map[string]any{"env": "prod", "tier": "web"},
				"annotations": map[string]any{"note": "old", "owner": "team-a"}}},
			patch: map[string]any{"metadata": map[string]any{
				"labels":      map[string]any{"tier": nil, "team": "core"},
				"annotations": map[string]any{"note": nil}}},
			want: map[string]string{
				"metadata.labels":      `{"env":"prod","team":"core"}`,
				"metadata.annotations": `{"owner":"team-a"}`,
			},
		},
		{name: "bad label", patch: map[string]any{"metadata": map[string]any{"labels": map[string]any{"a b": "c"}}},
			status: 422, code: 10008, detail: "Metadata label key error: 'a b' contains invalid characters"},
		{name: "space cannot be changed", patch: map[string]any{"relationships": map[string]any{}},
			status: 422, code: 10008, detail: "Unknown field(s): 'relationships'"},
	}
	// The clock is shared: these subtests run one after another.
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forSubtest(t)
			guid := c.createApp("developer", "patch-"+strconv.Itoa(i), tc.create)
			before := c.must(200, "GET", "/v3/apps/"+guid, "developer", nil)
			created := rawAt(t, before.body, "created_at")
			clock.Advance(90 * time.Second)
			moved := strconv.Quote(clock.Now().UTC().Format("2006-01-02T15:04:05Z"))

			r := c.do("PATCH", "/v3/apps/"+guid, "developer", tc.patch)
			after := c.must(200, "GET", "/v3/apps/"+guid, "developer", nil)
			if tc.status != 0 {
				title := "CF-UnprocessableEntity"
				if tc.code == 10016 {
					title = "CF-UniquenessError"
				}
				wantV3Error(t, r, tc.status, tc.code, title, tc.detail)
				if !bytes.Equal(before.body, after.body) {
					t.Errorf("a refused PATCH changed the app:\nbefore %s\nafter  %s", before.body, after.body)
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			for _, body := range [][]byte{r.body, after.body} {
				for path, want := range tc.want {
					if got := rawAt(t, body, path); !sameJSON(t, got, want) {
						t.Errorf("%s = %s, want %s", path, got, want)
					}
				}
				if got := rawAt(t, body, "updated_at"); got != moved {
					t.Errorf("updated_at %s, want %s", got, moved)
				}
				if got := rawAt(t, body, "created_at"); got != created {
					t.Errorf("created_at %s, want %s (unchanged)", got, created)
				}
			}
		})
	}
}

// The reference bodies of shared/reference/v3/environment_variables_patch_request.json
// and environment_variables_patch_response.json, whose app already had
// RAILS_ENV and USER.
const (
	envPatchRequest  = `{"var":{"DEBUG":"false","USER":null}}`
	envPatchResponse = `{"var":{"RAILS_ENV":"production","DEBUG":"false"},
		"links":{"self":{"href":"https://api.example.org/v3/apps/[guid]/environment_variables"},"app":{"href":"https://api.example.org/v3/apps/[guid]"}}}`
)

func TestAppEnvironmentVariables(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "env-app", map[string]any{"environment_variables": map[string]string{"RAILS_ENV": "production", "USER": "admin"}})
	path := "/v3/apps/" + guid + "/environment_variables"
	want := strings.NewReplacer("https://api.example.org", v3Base, "[guid]", guid).Replace(envPatchResponse)

	t.Run("get", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", path, "developer", nil)
		if got := rawAt(t, r.body, "var"); !sameJSON(t, got, `{"RAILS_ENV":"production","USER":"admin"}`) {
			t.Errorf("var %s", got)
		}
	})
	t.Run("patch merges and null deletes", func(t *testing.T) {
		c := c.forSubtest(t)
		r := c.must(200, "PATCH", path, "developer", envPatchRequest)
		if !sameJSON(t, string(r.body), want) {
			t.Errorf("body %s\nwant %s", r.body, want)
		}
		if diffs := compareShape(parseShape(t, []byte(want)), parseShape(t, r.body), "", rules([]string{"var"}, nil, nil)); len(diffs) > 0 {
			t.Errorf("shape: %v", diffs)
		}
		if got := c.must(200, "GET", path, "developer", nil); !sameJSON(t, string(got.body), want) {
			t.Errorf("GET after PATCH %s", got.body)
		}
	})
	t.Run("empty patch changes nothing", func(t *testing.T) {
		c := c.forSubtest(t)
		if r := c.must(200, "PATCH", path, "developer", `{"var":{}}`); !sameJSON(t, string(r.body), want) {
			t.Errorf("body %s", r.body)
		}
	})

	// Refused updates leave the variables as they are.
	cases := []struct {
		name, user, body string
		status, code     int
		title, detail    string
	}{
		{"VCAP_ key", "developer", `{"var":{"VCAP_SERVICES":"x"}}`, 422, 10008, "CF-UnprocessableEntity", "Var cannot start with VCAP_"},
		{"VMC key", "developer", `{"var":{"vmc_x":"x"}}`, 422, 10008, "CF-UnprocessableEntity", "Var cannot start with VMC_"},
		{"PORT key", "developer", `{"var":{"PORT":"8080"}}`, 422, 10008, "CF-UnprocessableEntity", "Var cannot set PORT"},
		// EnvironmentVariablesStringValuesValidator, for updates only.
		{"number value", "developer", `{"var":{"WORKERS":4}}`, 422, 10008, "CF-UnprocessableEntity",
			"Non-string value in environment variable for key 'WORKERS', value '4'"},
		{"object value", "developer", `{"var":{"CONF":{"a": [1, true]}}}`, 422, 10008, "CF-UnprocessableEntity",
			`Non-string value in environment variable for key 'CONF', value '{"a":[1,true]}'`},
		{"var not an object", "developer", `{"var":"DEBUG=1"}`, 422, 10008, "CF-UnprocessableEntity", "Var must be an object"},
		{"var missing", "developer", `{}`, 422, 10008, "CF-UnprocessableEntity", "Var must be an object"},
		{"unknown field", "developer", `{"var":{},"env":{}}`, 422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'env'"},
		{"malformed JSON", "developer", `{"var":`, 400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body"},
		// Environment variables are secrets: a space auditor may not write
		// them (nor read them, below).
		{"auditor", "auditor", `{"var":{"A":"1"}}`, 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forSubtest(t)
			wantV3Error(t, c.do("PATCH", path, tc.user, tc.body), tc.status, tc.code, tc.title, tc.detail)
			if r := c.must(200, "GET", path, "developer", nil); !sameJSON(t, string(r.body), want) {
				t.Errorf("variables changed: %s", r.body)
			}
		})
	}
	t.Run("auditor cannot read", func(t *testing.T) {
		wantV3Error(t, c.forSubtest(t).do("GET", path, "auditor", nil), 403, 10003, "CF-NotAuthorized",
			"You are not authorized to perform the requested action")
	})
	t.Run("missing app", func(t *testing.T) {
		wantV3Error(t, c.forSubtest(t).do("GET", "/v3/apps/no-such-app/environment_variables", "developer", nil), 404, 10010,
			"CF-ResourceNotFound", "App not found")
	})
}

func TestAppEnv(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "env-json", map[string]any{"environment_variables": map[string]string{"RAILS_ENV": "production"}})
	c.must(200, "PATCH", "/v3/apps/"+guid+"/environment_variables", "developer", `{"var":{"DEBUG":"1"}}`)
	r := c.must(200, "GET", "/v3/apps/"+guid+"/env", "developer", nil)

	if got, want := strings.Join(keysAt(t, r.body, ""), ","),
		"staging_env_json,running_env_json,environment_variables,system_env_json,application_env_json"; got != want {
		t.Errorf("keys %s, want %s", got, want)
	}
	cases := []struct{ path, want string }{
		{"staging_env_json", `{}`},
		{"running_env_json", `{}`},
		{"environment_variables", `{"RAILS_ENV":"production","DEBUG":"1"}`},
		{"system_env_json", `{"VCAP_SERVICES":{}}`},
		{"application_env_json.VCAP_APPLICATION.application_id", strconv.Quote(guid)},
		{"application_env_json.VCAP_APPLICATION.application_name", `"env-json"`},
		{"application_env_json.VCAP_APPLICATION.name", `"env-json"`},
		{"application_env_json.VCAP_APPLICATION.space_name", `"demo-space"`},
		{"application_env_json.VCAP_APPLICATION.space_id", strconv.Quote(DemoSpaceGUID)},
		{"application_env_json.VCAP_APPLICATION.organization_name", `"demo-org"`},
		{"application_env_json.VCAP_APPLICATION.organization_id", strconv.Quote(DemoOrgGUID)},
		{"application_env_json.VCAP_APPLICATION.cf_api", strconv.Quote(v3Base)},
		{"application_env_json.VCAP_APPLICATION.limits.fds", "16384"},
		{"application_env_json.VCAP_APPLICATION.uris", `[]`},
		{"application_env_json.VCAP_APPLICATION.application_uris", `[]`},
		{"application_env_json.VCAP_APPLICATION.users", `null`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			if got := rawAt(t, r.body, tc.path); !sameJSON(t, got, tc.want) {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
	t.Run("auditor cannot read", func(t *testing.T) {
		wantV3Error(t, c.forSubtest(t).do("GET", "/v3/apps/"+guid+"/env", "auditor", nil), 403, 10003, "CF-NotAuthorized",
			"You are not authorized to perform the requested action")
	})
}

func TestAppFeatures(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "featured", nil)
	base := "/v3/apps/" + guid + "/features"
	feature := func(name string, enabled bool) string {
		desc := map[string]string{"ssh": "Enable SSHing into the app.", "revisions": "Enable versioning of an application"}[name]
		return `{"name":"` + name + `","description":"` + desc + `","enabled":` + strconv.FormatBool(enabled) + `}`
	}

	t.Run("list", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", base, "developer", nil)
		want := strings.ReplaceAll(referenceBody(t, "features_list.json"), "05d39de4-2c9e-4c76-8fd6-10417da07e42", guid)
		if string(r.body) != want {
			t.Errorf("body %s\nwant %s", r.body, want)
		}
	})
	t.Run("get ssh", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", base+"/ssh", "developer", nil)
		if want := referenceBody(t, "feature_ssh.json"); string(r.body) != want {
			t.Errorf("body %s, want %s", r.body, want)
		}
	})

	// Each step runs after the previous one.
	steps := []struct {
		name, method, feature, user, body string
		status                            int
		want                              string // the response body
		// After the step: the ssh feature and GET ssh_enabled.
		ssh, sshEnabled string
	}{
		{"ssh off", "PATCH", "ssh", "developer", `{"enabled":false}`, 200, feature("ssh", false),
			feature("ssh", false), `{"enabled":false,"reason":"Disabled for this app"}`},
		{"ssh off again", "PATCH", "ssh", "developer", `{"enabled":false}`, 200, feature("ssh", false),
			feature("ssh", false), `{"enabled":false,"reason":"Disabled for this app"}`},
		{"ssh on", "PATCH", "ssh", "developer", `{"enabled":true}`, 200, feature("ssh", true),
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"revisions on leaves ssh", "PATCH", "revisions", "developer", `{"enabled":true}`, 200, feature("revisions", true),
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"get revisions", "GET", "revisions", "developer", "", 200, feature("revisions", true),
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"auditor reads", "GET", "ssh", "auditor", "", 200, feature("ssh", true),
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"auditor cannot patch", "PATCH", "ssh", "auditor", `{"enabled":false}`, 403,
			`{"errors":[{"detail":"You are not authorized to perform the requested action","title":"CF-NotAuthorized","code":10003}]}`,
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		// AppFeatureUpdateMessage: validates :enabled, boolean: true.
		{"enabled not a boolean", "PATCH", "ssh", "developer", `{"enabled":"false"}`, 422,
			`{"errors":[{"detail":"Enabled must be a boolean","title":"CF-UnprocessableEntity","code":10008}]}`,
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"enabled missing", "PATCH", "ssh", "developer", `{}`, 422,
			`{"errors":[{"detail":"Enabled must be a boolean","title":"CF-UnprocessableEntity","code":10008}]}`,
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"unknown feature", "GET", "autoscaling", "developer", "", 404,
			`{"errors":[{"detail":"Feature not found","title":"CF-ResourceNotFound","code":10010}]}`,
			feature("ssh", true), `{"enabled":true,"reason":""}`},
		{"patch unknown feature", "PATCH", "autoscaling", "developer", `{"enabled":true}`, 404,
			`{"errors":[{"detail":"Feature not found","title":"CF-ResourceNotFound","code":10010}]}`,
			feature("ssh", true), `{"enabled":true,"reason":""}`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := c.forSubtest(t)
			var body any
			if st.body != "" {
				body = st.body
			}
			r := c.do(st.method, base+"/"+st.feature, st.user, body)
			if r.status != st.status || string(r.body) != st.want {
				t.Errorf("%d %s, want %d %s", r.status, r.body, st.status, st.want)
			}
			if got := c.must(200, "GET", base+"/ssh", "developer", nil); string(got.body) != st.ssh {
				t.Errorf("ssh feature %s, want %s", got.body, st.ssh)
			}
			if got := c.must(200, "GET", "/v3/apps/"+guid+"/ssh_enabled", "developer", nil); string(got.body) != st.sshEnabled {
				t.Errorf("ssh_enabled %s, want %s", got.body, st.sshEnabled)
			}
		})
	}
	t.Run("list after", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", base, "developer", nil)
		if got := rawAt(t, r.body, "resources.1"); got != feature("revisions", true) {
			t.Errorf("revisions %s", got)
		}
	})
	t.Run("missing app", func(t *testing.T) {
		wantV3Error(t, c.forSubtest(t).do("GET", "/v3/apps/no-such-app/features", "developer", nil), 404, 10010,
			"CF-ResourceNotFound", "App not found")
	})
}

func TestAppSSHEnabledReasons(t *testing.T) {
	c := startCF(t, nil)
	ctx := context.Background()
	const noSSH = "5ace0000-0000-4000-8000-0000000000ff"
	st := c.srv.Store()
	if err := st.CreateSpace(ctx, store.Space{GUID: noSSH, Name: "locked-space", OrgGUID: DemoOrgGUID, AllowSSH: false}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRole(ctx, store.Role{GUID: "locked-space-dev", Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID,
		OrgGUID: DemoOrgGUID, SpaceGUID: noSSH}); err != nil {
		t.Fatal(err)
	}
	inLocked := func(name string) string {
		var a struct{ GUID string }
		c.must(201, "POST", "/v3/apps", "developer", appBody(name, map[string]any{
			"relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": noSSH}}}})).json(t, &a)
		return a.GUID
	}
	open, locked, lockedOff := c.createApp("developer", "open", nil), inLocked("locked"), inLocked("locked-off")
	openOff := c.createApp("developer", "open-off", nil)
	for _, g := range []string{openOff, lockedOff} {
		c.must(200, "PATCH", "/v3/apps/"+g+"/features/ssh", "developer", `{"enabled":false}`)
	}

	// The space is checked before the app (AppSshStatusPresenter); the app's
	// own flag starts from default_app_ssh_access, not from the space.
	cases := []struct {
		name, guid, want string
		feature          bool
	}{
		{"allowed", open, `{"enabled":true,"reason":""}`, true},
		{"off for the app", openOff, `{"enabled":false,"reason":"Disabled for this app"}`, false},
		{"off for the space", locked, `{"enabled":false,"reason":"Disabled for space locked-space"}`, true},
		{"off for both", lockedOff, `{"enabled":false,"reason":"Disabled for space locked-space"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forSubtest(t)
			if r := c.must(200, "GET", "/v3/apps/"+tc.guid+"/ssh_enabled", "developer", nil); string(r.body) != tc.want {
				t.Errorf("ssh_enabled %s, want %s", r.body, tc.want)
			}
			r := c.must(200, "GET", "/v3/apps/"+tc.guid+"/features/ssh", "developer", nil)
			if got := rawAt(t, r.body, "enabled"); got != strconv.FormatBool(tc.feature) {
				t.Errorf("features/ssh enabled %s, want %v", got, tc.feature)
			}
		})
	}
}

func TestAppActions(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "actor", nil)
	const droplet = "d0d0d0d0-0000-4000-8000-000000000001"
	webVersion := func(t *testing.T) string {
		return rawAt(t, c.forSubtest(t).must(200, "GET", "/v3/apps/"+guid+"/processes/web", "developer", nil).body, "version")
	}
	noDroplet := referenceBody(t, "error_no_droplet_on_start.json")

	// Steps run in order; each says what the app and its web process look
	// like afterwards.
	steps := []struct {
		name, action, user string
		before             func(t *testing.T)
		status             int
		errBody            string // the whole error body, when status is not 200
		state              string
		droplet            string // JSON of relationships.current_droplet.data.guid
		newVersion         bool
	}{
		// AppsV3Controller#start: "Assign a droplet before starting this app."
		{name: "start without a droplet", action: "start", status: 422, errBody: noDroplet, state: "STOPPED", droplet: "null"},
		{name: "restart without a droplet", action: "restart", status: 422, errBody: noDroplet, state: "STOPPED", droplet: "null"},
		{name: "stop a stopped app", action: "stop", status: 200, state: "STOPPED", droplet: "null"},
		{name: "start", action: "start", before: func(t *testing.T) { setDroplet(t, c, guid, droplet) },
			status: 200, state: "STARTED", droplet: strconv.Quote(droplet), newVersion: true},
		{name: "restart", action: "restart", status: 200, state: "STARTED", droplet: strconv.Quote(droplet), newVersion: true},
		{name: "auditor cannot stop", action: "stop", user: "auditor", status: 403,
			errBody: `{"errors":[{"detail":"You are not authorized to perform the requested action","title":"CF-NotAuthorized","code":10003}]}`,
			state:   "STARTED", droplet: strconv.Quote(droplet)},
		{name: "stop", action: "stop", status: 200, state: "STOPPED", droplet: strconv.Quote(droplet)},
		{name: "start again", action: "start", status: 200, state: "STARTED", droplet: strconv.Quote(droplet), newVersion: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := c.forSubtest(t)
			if st.before != nil {
				st.before(t)
			}
			user := st.user
			if user == "" {
				user = "developer"
			}
			v0 := webVersion(t)
			r := c.do("POST", "/v3/apps/"+guid+"/actions/"+st.action, user, nil)
			if r.status != st.status {
				t.Fatalf("status %d, want %d; body %s", r.status, st.status, r.body)
			}
			if st.status != 200 {
				if string(r.body) != st.errBody {
					t.Errorf("body %s, want %s", r.body, st.errBody)
				}
			} else if got := rawAt(t, r.body, "state"); got != strconv.Quote(st.state) {
				t.Errorf("response state %s, want %s", got, st.state)
			}
			get := c.must(200, "GET", "/v3/apps/"+guid, "developer", nil)
			if got := rawAt(t, get.body, "state"); got != strconv.Quote(st.state) {
				t.Errorf("state %s, want %s", got, st.state)
			}
			if got := rawAt(t, get.body, "relationships.current_droplet.data.guid"); got != st.droplet {
				t.Errorf("current droplet %s, want %s", got, st.droplet)
			}
			if v1 := webVersion(t); (v1 != v0) != st.newVersion {
				t.Errorf("web version %s -> %s; want a new version: %v", v0, v1, st.newVersion)
			}
		})
	}
	t.Run("missing app", func(t *testing.T) {
		wantV3Error(t, c.forSubtest(t).do("POST", "/v3/apps/no-such-app/actions/stop", "developer", nil), 404, 10010,
			"CF-ResourceNotFound", "App not found")
	})
}

func TestDeleteApp(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "doomed", map[string]any{"environment_variables": map[string]string{"A": "1"}})
	keep := c.createApp("developer", "kept", nil)

	r := c.must(202, "DELETE", "/v3/apps/"+guid, "developer", nil)
	loc := r.header["Location"]
	if !strings.HasPrefix(loc, v3Base+"/v3/jobs/") || len(r.body) != 0 {
		t.Fatalf("Location %q, body %q: want a job and no body", loc, r.body)
	}
	if st := c.waitJob(loc, "developer"); st != store.JobComplete {
		t.Fatalf("job %s", st)
	}
	job := c.must(200, "GET", loc[len(v3Base):], "developer", nil)

	t.Run("job", func(t *testing.T) {
		if diffs := compareShape(reference(t, "job_complete.json"), parseShape(t, job.body), "", rules(nil, nil, nil)); len(diffs) > 0 {
			t.Errorf("shape: %v", diffs)
		}
		for path, want := range map[string]string{
			"guid":            strconv.Quote(strings.TrimPrefix(loc, v3Base+"/v3/jobs/")),
			"operation":       `"app.delete"`,
			"state":           `"COMPLETE"`,
			"links.self.href": strconv.Quote(loc),
			"errors":          `[]`,
			"warnings":        `[]`,
		} {
			if got := rawAt(t, job.body, path); got != want {
				t.Errorf("%s = %s, want %s", path, got, want)
			}
		}
	})

	gone := []struct {
		name, method, path string
		detail             string
	}{
		{"app", "GET", "/v3/apps/" + guid, "App not found"},
		{"process", "GET", "/v3/processes/" + guid, "Process not found"},
		{"web process", "GET", "/v3/apps/" + guid + "/processes/web", "App not found"},
		{"environment variables", "GET", "/v3/apps/" + guid + "/environment_variables", "App not found"},
		{"env", "GET", "/v3/apps/" + guid + "/env", "App not found"},
		{"second delete", "DELETE", "/v3/apps/" + guid, "App not found"},
	}
	for _, tc := range gone {
		t.Run(tc.name+" gone", func(t *testing.T) {
			wantV3Error(t, c.forSubtest(t).do(tc.method, tc.path, "developer", nil), 404, 10010, "CF-ResourceNotFound", tc.detail)
		})
	}
	t.Run("no processes listed", func(t *testing.T) {
		r := c.forSubtest(t).must(200, "GET", "/v3/processes?app_guids="+guid+","+keep, "developer", nil)
		if got := rawAt(t, r.body, "pagination.total_results"); got != "1" {
			t.Errorf("total_results %s, want only the kept app's web process", got)
		}
		if got := rawAt(t, r.body, "resources.0.guid"); got != strconv.Quote(keep) {
			t.Errorf("listed %s, want %s", got, keep)
		}
	})
	t.Run("other app kept", func(t *testing.T) {
		c.forSubtest(t).must(200, "GET", "/v3/apps/"+keep, "developer", nil)
	})
	t.Run("auditor cannot delete", func(t *testing.T) {
		c := c.forSubtest(t)
		wantV3Error(t, c.do("DELETE", "/v3/apps/"+keep, "auditor", nil), 403, 10003, "CF-NotAuthorized",
			"You are not authorized to perform the requested action")
		c.must(200, "GET", "/v3/apps/"+keep, "developer", nil)
	})
}
