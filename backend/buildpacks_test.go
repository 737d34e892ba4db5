package backend

import (
	"archive/zip"
	"bytes"
	"fmt"
	"mime/multipart"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// buildpackRoleRows are the buildpack rows of the role table, run by
// TestRoleBuildpacks on a fresh buildpack ({bp}): every user reads
// buildpacks; only admins write them.
var buildpackRoleRows = []roleRow{
	{"list buildpacks", "GET", "/v3/buildpacks?names={name}", nil, roleAll(roleOK(200, roleTotal(1)))},
	{"buildpack", "GET", "/v3/buildpacks/{bp}", nil, roleAll(roleOK(200, roleField("guid", "{bp}")))},
	{"create buildpack", "POST", "/v3/buildpacks", map[string]any{"name": "{name}-new"},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update buildpack", "PATCH", "/v3/buildpacks/{bp}", map[string]any{"enabled": false},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"delete buildpack", "DELETE", "/v3/buildpacks/{bp}", nil,
		rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"upload buildpack", "POST", "/v3/buildpacks/{bp}/upload", nil,
		rolePer(roleUnprocessable("Uploaded buildpack file is invalid: A buildpack zip file must be uploaded as 'bits'"),
			roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
}

func init() { roleFixtureRows = append(roleFixtureRows, buildpackRoleRows...) }

func TestRoleBuildpacks(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range buildpackRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				name := fmt.Sprintf("role_bp_%d", seq.Add(1))
				var b buildpackJSON
				c.must(201, "POST", "/v3/buildpacks", "admin", map[string]any{"name": name}).json(t, &b)
				fill := strings.NewReplacer("{bp}", b.GUID, "{name}", name)
				want := row.want[user]
				if want.check != nil {
					check := want.check
					want.check = func(t *testing.T, r resp) {
						t.Helper()
						r.body = []byte(strings.ReplaceAll(string(r.body), b.GUID, "{bp}"))
						check(t, r)
					}
				}
				path, body := row.filled(t, fill)
				r := roleView(c, t).do(row.method, path, user, body)
				want.assert(t, r)
				if r.status == 202 && row.method == "DELETE" {
					if state := c.waitJob(r.header["Location"], user); state != store.JobComplete {
						t.Fatalf("job %s", state)
					}
					c.must(404, "GET", path, user, nil)
				}
			})
		}
	}
}

// buildpackNames lists the names of the buildpacks in the list's order.
func buildpackNames(t *testing.T, c *cf, query string) []string {
	t.Helper()
	var l struct{ Resources []buildpackJSON }
	c.must(200, "GET", "/v3/buildpacks"+query, "developer", nil).json(t, &l)
	names := make([]string, len(l.Resources))
	for i, b := range l.Resources {
		names[i] = fmt.Sprintf("%s:%d", b.Name, b.Position)
	}
	return names
}

// TestBuildpacksSeeded: a cf-deployment's buildpacks for cflinuxfs4, in
// its order, uploaded and enabled; the exact body of one.
func TestBuildpacksSeeded(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := strings.Join(buildpackNames(t, c, ""), " ")
	want := "staticfile_buildpack:1 java_buildpack:2 ruby_buildpack:3 dotnet_core_buildpack:4 nodejs_buildpack:5 go_buildpack:6 " +
		"python_buildpack:7 php_buildpack:8 nginx_buildpack:9 r_buildpack:10 binary_buildpack:11"
	if got != want {
		t.Errorf("seeded buildpacks\n got %s\nwant %s", got, want)
	}
	body := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", "outsider", nil).body), `"T"`)
	want = `{"guid":"b0000000-0000-4000-8000-000000000003","created_at":"T","updated_at":"T","name":"ruby_buildpack","stack":"cflinuxfs4",` +
		`"state":"READY","lifecycle":"buildpack","filename":"ruby_buildpack-cflinuxfs4-v1.10.20.zip","position":3,"enabled":true,"locked":false,` +
		`"metadata":{"labels":{},"annotations":{}},"links":{"self":{"href":"http://api.example.org/v3/buildpacks/b0000000-0000-4000-8000-000000000003"},` +
		`"upload":{"href":"http://api.example.org/v3/buildpacks/b0000000-0000-4000-8000-000000000003/upload","method":"POST"}}}`
	if body != want {
		t.Errorf("ruby buildpack\n got %s\nwant %s", body, want)
	}
	c.must(404, "GET", "/v3/buildpacks/"+roleMissingGUID, "admin", nil)
	if got := buildpackNames(t, c, "?names=go_buildpack,ruby_buildpack&order_by=-position"); strings.Join(got, " ") != "go_buildpack:6 ruby_buildpack:3" {
		t.Errorf("names, -position: %v", got)
	}
	if got := buildpackNames(t, c, "?stacks=cflinuxfs3"); len(got) != 0 {
		t.Errorf("stacks=cflinuxfs3: %v", got)
	}
	if got := buildpackNames(t, c, "?lifecycle=cnb"); len(got) != 0 {
		t.Errorf("lifecycle=cnb: %v", got)
	}
	r := c.do("GET", "/v3/buildpacks?lifecycle=docker", "admin", nil)
	roleWant{status: 400, title: "CF-BadQueryParameter", code: 10005, detail: `The query parameter is invalid: Lifecycle must be either "buildpack" or "cnb"`}.assert(t, r)
	r = c.do("GET", "/v3/buildpacks?order_by=name", "admin", nil)
	roleWant{status: 400, title: "CF-BadQueryParameter", code: 10005,
		detail: "The query parameter is invalid: Order by can only be: 'created_at', 'updated_at', 'position', 'lifecycle'"}.assert(t, r)
}

// TestBuildpackPositions: a new buildpack goes first unless it says where,
// a position past the end is the end, an update moves the buildpacks
// between, a delete closes the gap (Sequel's list plugin).
func TestBuildpackPositions(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	create := func(body map[string]any) buildpackJSON {
		var b buildpackJSON
		c.must(201, "POST", "/v3/buildpacks", "admin", body).json(t, &b)
		return b
	}
	first := create(map[string]any{"name": "first"})
	last := create(map[string]any{"name": "last", "position": 100, "stack": "cflinuxfs4", "enabled": false, "locked": true})
	mid := create(map[string]any{"name": "mid", "position": 5, "stack": nil})
	if first.Position != 1 || last.Position != 13 || mid.Position != 5 || last.Enabled || !last.Locked || mid.Stack != nil || first.State != "AWAITING_UPLOAD" {
		t.Fatalf("positions %d %d %d, last %+v, mid %+v", first.Position, last.Position, mid.Position, last, mid)
	}
	want := "first:1 staticfile_buildpack:2 java_buildpack:3 ruby_buildpack:4 mid:5 dotnet_core_buildpack:6 nodejs_buildpack:7 go_buildpack:8 " +
		"python_buildpack:9 php_buildpack:10 nginx_buildpack:11 r_buildpack:12 binary_buildpack:13 last:14"
	if got := strings.Join(buildpackNames(t, c, "?per_page=100"), " "); got != want {
		t.Errorf("after creates\n got %s\nwant %s", got, want)
	}
	var b buildpackJSON
	c.must(200, "PATCH", "/v3/buildpacks/"+first.GUID, "admin", map[string]any{"position": 3}).json(t, &b)
	if b.Position != 3 {
		t.Errorf("moved down to %d", b.Position)
	}
	c.must(200, "PATCH", "/v3/buildpacks/"+last.GUID, "admin", map[string]any{"position": 1, "name": "now-first"}).json(t, &b)
	if b.Position != 1 || b.Name != "now-first" {
		t.Errorf("moved up: %+v", b)
	}
	c.waitJob(c.must(202, "DELETE", "/v3/buildpacks/"+mid.GUID, "admin", nil).header["Location"], "admin")
	want = "now-first:1 staticfile_buildpack:2 java_buildpack:3 first:4 ruby_buildpack:5 dotnet_core_buildpack:6 nodejs_buildpack:7 go_buildpack:8 " +
		"python_buildpack:9 php_buildpack:10 nginx_buildpack:11 r_buildpack:12 binary_buildpack:13"
	if got := strings.Join(buildpackNames(t, c, "?per_page=100"), " "); got != want {
		t.Errorf("after moves and a delete\n got %s\nwant %s", got, want)
	}
	var events struct{ Resources []eventJSON }
	c.must(200, "GET", "/v3/audit_events?target_guids="+mid.GUID, "admin", nil).json(t, &events)
	if len(events.Resources) != 2 || events.Resources[0].Type != "audit.buildpack.create" || events.Resources[1].Type != "audit.buildpack.delete" {
		t.Errorf("events %+v", events.Resources)
	}
}

// TestBuildpackErrors: CC's message texts and BuildpackCreate's and
// BuildpackUpdate's validation errors.
func TestBuildpackErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var nilStack buildpackJSON
	c.must(201, "POST", "/v3/buildpacks", "admin", map[string]any{"name": "anywhere"}).json(t, &nilStack)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		want   string
	}{
		{"no name", "POST", "/v3/buildpacks", map[string]any{}, "Name must be a string, Name can't be blank, Name is invalid"},
		{"bad name", "POST", "/v3/buildpacks", map[string]any{"name": "a b"}, "Name is invalid"},
		{"unknown key", "POST", "/v3/buildpacks", map[string]any{"name": "x", "filename": "y"}, "Unknown field(s): 'filename'"},
		{"position", "POST", "/v3/buildpacks", map[string]any{"name": "x", "position": 0}, "Position must be greater than or equal to 1"},
		{"position float", "POST", "/v3/buildpacks", map[string]any{"name": "x", "position": 1.5}, "Position must be an integer"},
		{"enabled", "POST", "/v3/buildpacks", map[string]any{"name": "x", "enabled": "yes"}, "Enabled must be a boolean"},
		{"lifecycle", "POST", "/v3/buildpacks", map[string]any{"name": "x", "lifecycle": "docker"}, `Lifecycle must be either "buildpack" or "cnb"`},
		{"unknown stack", "POST", "/v3/buildpacks", map[string]any{"name": "x", "stack": "windows"}, "Stack 'windows' does not exist"},
		{"taken", "POST", "/v3/buildpacks", map[string]any{"name": "ruby_buildpack", "stack": "cflinuxfs4"},
			"Buildpack with name 'ruby_buildpack', stack 'cflinuxfs4' and lifecycle 'buildpack' already exists"},
		{"taken unassigned", "POST", "/v3/buildpacks", map[string]any{"name": "anywhere"}, "Buildpack with name 'anywhere' and an unassigned stack already exists"},
		{"lifecycle on update", "PATCH", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", map[string]any{"lifecycle": "cnb"}, "Unknown field(s): 'lifecycle'"},
		{"null position", "PATCH", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", map[string]any{"position": nil}, "Position is not a number"},
		{"null enabled", "PATCH", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", map[string]any{"enabled": nil}, "Enabled must be a boolean"},
		{"stack change", "PATCH", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", map[string]any{"stack": "cflinuxfs3"}, "Buildpack stack cannot be changed"},
		{"rename taken", "PATCH", "/v3/buildpacks/b0000000-0000-4000-8000-000000000003", map[string]any{"name": "go_buildpack"},
			"Buildpack with name 'go_buildpack', stack 'cflinuxfs4' and lifecycle 'buildpack' already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roleUnprocessable(tc.want).assert(t, roleView(c, t).do(tc.method, tc.path, "admin", tc.body))
		})
	}
	// A buildpack without a stack may be given one.
	var b buildpackJSON
	c.must(200, "PATCH", "/v3/buildpacks/"+nilStack.GUID, "admin", map[string]any{"stack": "cflinuxfs4"}).json(t, &b)
	if b.Stack == nil || *b.Stack != "cflinuxfs4" {
		t.Errorf("stack %v", b.Stack)
	}
	c.must(404, "PATCH", "/v3/buildpacks/"+roleMissingGUID, "developer", map[string]any{})
}

// uploadBits sends a multipart body with one file part.
func uploadBits(t *testing.T, c *cf, path, user, field, filename string, content []byte) resp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org" + path)
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "bearer "+c.tokens[user])
	req.Header.SetContentType(mw.FormDataContentType())
	req.SetBody(body.Bytes())
	if err := c.client.Do(req, res); err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for k, v := range res.Header.All() {
		h[string(k)] = string(v)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: h}
}

// TestBuildpackUpload: a zip under bits makes the buildpack READY with
// the file's name; CC's texts for what is not a zip and for a locked
// buildpack.
func TestBuildpackUpload(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var b buildpackJSON
	c.must(201, "POST", "/v3/buildpacks", "admin", map[string]any{"name": "custom", "stack": "cflinuxfs4"}).json(t, &b)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("bin/detect")
	w.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	r := uploadBits(t, c, "/v3/buildpacks/"+b.GUID+"/upload", "admin", "bits", "custom.zip", zipped.Bytes())
	if r.status != 202 || !strings.Contains(r.header["Location"], "/v3/jobs/") || !strings.Contains(string(r.body), `"state":"AWAITING_UPLOAD"`) {
		t.Fatalf("upload: %d %v %s", r.status, r.header, r.body)
	}
	if state := c.waitJob(r.header["Location"], "admin"); state != store.JobComplete {
		t.Fatalf("upload job %s", state)
	}
	var got buildpackJSON
	c.must(200, "GET", "/v3/buildpacks/"+b.GUID, "admin", nil).json(t, &got)
	if got.State != "READY" || got.Filename == nil || *got.Filename != "custom.zip" {
		t.Errorf("after upload: %+v", got)
	}
	roleUnprocessable("Uploaded buildpack file is invalid: custom.tgz is not a zip file. Buildpacks of lifecycle \"buildpack\" must be valid zip files.").
		assert(t, uploadBits(t, c, "/v3/buildpacks/"+b.GUID+"/upload", "admin", "bits", "custom.tgz", []byte("\x1f\x8b\x08 not a zip")))
	roleUnprocessable("Uploaded buildpack file is invalid: A buildpack zip file must be uploaded as 'bits'").
		assert(t, uploadBits(t, c, "/v3/buildpacks/"+b.GUID+"/upload", "admin", "buildpack", "custom.zip", zipped.Bytes()))
	c.must(200, "PATCH", "/v3/buildpacks/"+b.GUID, "admin", map[string]any{"locked": true})
	roleUnprocessable("Buildpack is locked").assert(t, uploadBits(t, c, "/v3/buildpacks/"+b.GUID+"/upload", "admin", "bits", "custom.zip", zipped.Bytes()))
	roleNotAuthorized.assert(t, uploadBits(t, c, "/v3/buildpacks/"+b.GUID+"/upload", "developer", "bits", "custom.zip", zipped.Bytes()))
}
