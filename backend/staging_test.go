package backend

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/configs"
)

// zipFile is one entry of a test zip.
type zipFile struct {
	name, body string
	mode       fs.FileMode // 0 means 0644
}

// zipOf makes a zip of files, in order.
func zipOf(t testing.TB, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartOf is a multipart/form-data body: the fields, then bits as a
// file called name when bits is not nil.
func multipartOf(t testing.TB, fields map[string]string, name string, bits []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := mw.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	if bits != nil {
		w, err := mw.CreateFormFile("bits", name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bits); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// raw sends a request with a body of its own content type as user ("" for
// none); chunked sends the body without a Content-Length.
func (c *cf) raw(method, path, user, contentType string, body []byte, chunked bool) resp {
	c.t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	if strings.HasPrefix(path, "http") {
		req.SetRequestURI(path)
	} else {
		req.SetRequestURI("http://api.example.org" + path)
	}
	req.Header.SetMethod(method)
	if user != "" {
		req.Header.Set("Authorization", "bearer "+c.tokens[user])
	}
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	if chunked {
		req.SetBodyStream(bytes.NewReader(body), -1)
	} else if body != nil {
		req.SetBody(body)
	}
	if err := c.client.Do(req, res); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	h := map[string]string{}
	for k, v := range res.Header.All() {
		h[string(k)] = string(v)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: h}
}

func appRel(app string) map[string]any {
	return map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}}
}

// newPackage creates a bits package of app as user and returns its guid.
func (c *cf) newPackage(user, app string) string {
	c.t.Helper()
	var p struct{ GUID string }
	c.must(201, "POST", "/v3/packages", user, map[string]any{"type": "bits", "relationships": appRel(app)}).json(c.t, &p)
	return p.GUID
}

// uploadBits uploads a zip (nil for none) and resources ("" for none) to
// a package as user.
func (c *cf) uploadBits(user, pkg string, zip []byte, resources string) resp {
	c.t.Helper()
	fields := map[string]string{}
	if resources != "" {
		fields["resources"] = resources
	}
	body, ct := multipartOf(c.t, fields, "application.zip", zip)
	return c.raw("POST", "/v3/packages/"+pkg+"/upload", user, ct, body, false)
}

// readyPackage creates a package of app and uploads files to it; the
// package must end READY.
func (c *cf) readyPackage(user, app string, files ...zipFile) string {
	c.t.Helper()
	pkg := c.newPackage(user, app)
	c.mustStatus(200, c.uploadBits(user, pkg, zipOf(c.t, files...), ""))
	if state := rawAt(c.t, c.must(200, "GET", "/v3/packages/"+pkg, user, nil).body, "state"); state != `"READY"` {
		c.t.Fatalf("package %s is %s after its upload", pkg, state)
	}
	return pkg
}

func (c *cf) mustStatus(want int, r resp) resp {
	c.t.Helper()
	if r.status != want {
		c.t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// newBuild stages a package as user and returns the build's guid.
func (c *cf) newBuild(user, pkg string) string {
	c.t.Helper()
	var b struct{ GUID string }
	c.must(201, "POST", "/v3/builds", user, map[string]any{"package": map[string]string{"guid": pkg}}).json(c.t, &b)
	return b.GUID
}

// stagingCF is an embedded CF on an injected clock, with its config.
func stagingCF(t testing.TB, edit func(*configs.Backend)) (*cf, *fakeClock) {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	clk := &fakeClock{now: time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)}
	return startCF(t, &cfg, WithClock(clk.Now)), clk
}

// bigFile is a file the resource cache keeps: at least 64 KiB.
func bigFile(seed string) string { return strings.Repeat(seed, (70<<10)/len(seed)+1) }

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// untar lists a droplet tgz: each file's body by name.
func untar(t testing.TB, tgz []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatalf("droplet is not gzipped: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = string(b)
	}
}

// unzipped lists a zip: each file's body by name.
func unzipped(t testing.TB, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(body)
	}
	return out
}

// download follows a download endpoint's redirect without a token and
// returns the bits.
func (c *cf) download(user, path string) []byte {
	c.t.Helper()
	r := c.must(302, "GET", path, user, nil)
	loc := r.header["Location"]
	if !strings.HasPrefix(loc, "http://api.example.org/blobs/") {
		c.t.Fatalf("Location %q", loc)
	}
	got := c.raw("GET", loc, "", "", nil, false)
	if got.status != 200 {
		c.t.Fatalf("GET %s without a token: %d %s", loc, got.status, got.body)
	}
	return got.body
}

func shapeOf(t *testing.T, name string, body []byte, r shapeRules) {
	t.Helper()
	if diffs := compareShape(reference(t, name), parseShape(t, body), "", r); len(diffs) > 0 {
		t.Errorf("%s: shape differs from the reference:\n  %s\nbody: %s", name, strings.Join(diffs, "\n  "), body)
	}
}

// eventTypes lists the types of the audit events about a target, oldest first.
func (c *cf) eventTypes(target string) []string {
	c.t.Helper()
	var l struct{ Resources []struct{ Type string } }
	c.must(200, "GET", "/v3/audit_events?per_page=5000&target_guids="+target, "admin", nil).json(c.t, &l)
	var out []string
	for _, e := range l.Resources {
		out = append(out, e.Type)
	}
	return out
}

// TestPushFlow is cf push over the v3 API: an app, a package whose bits
// come partly from the resource cache, a build that stages after the
// configured time, its droplet made current, and a start.
func TestPushFlow(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	app := c.createApp("developer", "pushed", nil)
	big := bigFile("0123456789abcdef")
	files := []zipFile{
		{name: "Procfile", body: "web: bundle exec rackup -p $PORT\nworker: bundle exec sidekiq\n"},
		{name: "Gemfile", body: "source 'https://rubygems.org'\n"},
		{name: "lib/", mode: fs.ModeDir | 0o755},
		{name: "lib/big.bin", body: big},
		{name: "bin/run", body: "#!/bin/sh\n", mode: 0o755},
	}

	// The first push uploads everything; the big file enters the cache.
	first := c.newPackage("developer", app)
	created := c.must(200, "GET", "/v3/packages/"+first, "developer", nil)
	shapeOf(t, "package_bits.json", created.body, rules(nil, nil, nil))
	if got := rawAt(t, created.body, "state"); got != `"AWAITING_UPLOAD"` {
		t.Fatalf("new package %s", got)
	}
	up := c.mustStatus(200, c.uploadBits("developer", first, zipOf(t, files...), ""))
	shapeOf(t, "package_bits.json", up.body, rules(nil, nil, nil))
	if got := rawAt(t, up.body, "state"); got != `"PROCESSING_UPLOAD"` {
		t.Errorf("upload answers %s, want PROCESSING_UPLOAD", got)
	}
	ready := c.must(200, "GET", "/v3/packages/"+first, "developer", nil)
	if got := rawAt(t, ready.body, "state"); got != `"READY"` {
		t.Fatalf("package %s after upload: %s", got, ready.body)
	}
	firstBits := c.download("developer", "/v3/packages/"+first+"/download")
	sum := sha256.Sum256(firstBits)
	if got := rawAt(t, ready.body, "data.checksum"); got != `{"type":"sha256","value":"`+hex.EncodeToString(sum[:])+`"}` {
		t.Errorf("checksum %s, want the sha256 of the bits", got)
	}

	// The second push asks which files the cache has and leaves them out.
	ask := map[string]any{"resources": []map[string]any{
		{"checksum": map[string]string{"value": sha1Hex(big)}, "size_in_bytes": len(big), "path": "lib/big.bin", "mode": "644"},
		{"checksum": map[string]string{"value": sha1Hex(files[0].body)}, "size_in_bytes": len(files[0].body), "path": "Procfile", "mode": "644"},
		{"checksum": map[string]string{"value": sha1Hex("nope")}, "size_in_bytes": 70 << 10, "path": "absent"},
	}}
	matched := c.must(201, "POST", "/v3/resource_matches", "developer", ask)
	want := `{"resources":[{"checksum":{"value":"` + sha1Hex(big) + `"},"size_in_bytes":` + fmt.Sprint(len(big)) + `,"path":"lib/big.bin","mode":"644"}]}`
	if string(matched.body) != want {
		t.Errorf("resource matches\n got %s\nwant %s", matched.body, want)
	}
	second := c.newPackage("developer", app)
	resources := `[{"path":"lib/big.bin","size_in_bytes":` + fmt.Sprint(len(big)) + `,"checksum":{"value":"` + sha1Hex(big) + `"},"mode":"644"}]`
	var rest []zipFile
	for _, f := range files {
		if f.name != "lib/big.bin" {
			rest = append(rest, f)
		}
	}
	c.mustStatus(200, c.uploadBits("developer", second, zipOf(t, rest...), resources))
	got := unzipped(t, c.download("developer", "/v3/packages/"+second+"/download"))
	if got["lib/big.bin"] != big || got["Procfile"] != files[0].body || got["bin/run"] != files[4].body {
		t.Errorf("second package holds %d files; big file %v", len(got), got["lib/big.bin"] == big)
	}

	// Staging: STAGING until StagingDuration has passed, then STAGED.
	c.must(404, "GET", "/v3/apps/"+app+"/droplets/current", "developer", nil)
	build := c.newBuild("developer", second)
	staging := c.must(200, "GET", "/v3/builds/"+build, "developer", nil)
	shapeOf(t, "build_staging.json", staging.body, rules(nil, nil, nil))
	if got := rawAt(t, staging.body, "state"); got != `"STAGING"` {
		t.Fatalf("build %s", got)
	}
	clk.Advance(time.Second - time.Millisecond)
	if got := rawAt(t, c.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "state"); got != `"STAGING"` {
		t.Fatalf("build %s before its time", got)
	}
	clk.Advance(time.Millisecond)
	staged := c.must(200, "GET", "/v3/builds/"+build, "developer", nil)
	shapeOf(t, "build_staged.json", staged.body, rules(nil, nil, nil))
	if got := rawAt(t, staged.body, "state"); got != `"STAGED"` {
		t.Fatalf("build %s after its time: %s", got, staged.body)
	}
	if got := rawAt(t, staged.body, "updated_at"); got != `"2025-07-01T09:00:01Z"` {
		t.Errorf("staged build updated_at %s, want the time staging ended", got)
	}
	droplet := strings.Trim(rawAt(t, staged.body, "droplet.guid"), `"`)
	d := c.must(200, "GET", "/v3/droplets/"+droplet, "developer", nil)
	shapeOf(t, "droplet.json", d.body, rules([]string{"process_types"}, nil, nil))
	for at, want := range map[string]string{
		"state":         `"STAGED"`,
		"process_types": `{"web":"bundle exec rackup -p $PORT","worker":"bundle exec sidekiq"}`,
		"buildpacks":    `[{"name":"ruby_buildpack","detect_output":"ruby","version":"1.10.20","buildpack_name":"ruby"}]`,
		"stack":         `"cflinuxfs4"`,
		"links.package": `{"href":"http://api.example.org/v3/packages/` + second + `"}`,
	} {
		if got := rawAt(t, d.body, at); !sameJSON(t, got, want) {
			t.Errorf("droplet %s = %s, want %s", at, got, want)
		}
	}
	tgz := c.download("developer", "/v3/droplets/"+droplet+"/download")
	sum = sha256.Sum256(tgz)
	if got := rawAt(t, d.body, "checksum.value"); got != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Errorf("droplet checksum %s, want the sha256 of its bits", got)
	}
	contents := untar(t, tgz)
	if contents["./app/lib/big.bin"] != big || !strings.Contains(contents["./staging_info.yml"], `"detected_buildpack":"ruby"`) {
		t.Errorf("droplet holds %d entries; staging_info %q", len(contents), contents["./staging_info.yml"])
	}

	// Start: refused without a current droplet, accepted with one.
	c.must(422, "POST", "/v3/apps/"+app+"/actions/start", "developer", nil)
	rel := c.must(200, "PATCH", "/v3/apps/"+app+"/relationships/current_droplet", "developer", map[string]any{"data": map[string]string{"guid": droplet}})
	shapeOf(t, "app_current_droplet_relationship.json", rel.body, rules(nil, nil, nil))
	current := c.must(200, "GET", "/v3/apps/"+app+"/droplets/current", "auditor", nil)
	if got := rawAt(t, current.body, "guid"); got != `"`+droplet+`"` {
		t.Errorf("current droplet %s", got)
	}
	c.must(200, "POST", "/v3/apps/"+app+"/actions/start", "developer", nil)
	// The Procfile's worker got a process, with no instances.
	worker := c.must(200, "GET", "/v3/apps/"+app+"/processes/worker", "developer", nil)
	if got := rawAt(t, worker.body, "instances"); got != "0" {
		t.Errorf("worker instances %s", got)
	}

	events := c.eventTypes(app)
	for _, want := range []string{"audit.app.package.create", "audit.app.package.upload", "audit.app.package.download",
		"audit.app.build.create", "audit.app.droplet.create", "audit.app.droplet.download", "audit.app.droplet.mapped",
		"audit.app.process.create", "audit.app.start"} {
		if !slices.Contains(events, want) {
			t.Errorf("no %s event in %v", want, events)
		}
	}
}

// TestDockerStaging: a docker package is READY at once, and its build
// makes a docker droplet when staging ends.
func TestDockerStaging(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	docker := c.createApp("developer", "docker-app", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	buildpack := c.createApp("developer", "buildpack-app", nil)
	body := map[string]any{"type": "docker", "relationships": appRel(docker),
		"data": map[string]string{"image": "registry/image:latest", "username": "username", "password": "s3cret"}}
	created := c.must(201, "POST", "/v3/packages", "developer", body)
	shapeOf(t, "package_docker.json", created.body, rules(nil, nil, nil))
	if got := rawAt(t, created.body, "data"); got != `{"image":"registry/image:latest","username":"username","password":"***"}` {
		t.Errorf("docker data %s", got)
	}
	pkg := strings.Trim(rawAt(t, created.body, "guid"), `"`)

	wantV3Error(t, c.do("POST", "/v3/packages", "developer", map[string]any{"type": "docker", "relationships": appRel(buildpack),
		"data": map[string]string{"image": "nginx"}}), 422, 10008, "CF-UnprocessableEntity", "Cannot create Docker package for a buildpack app.")
	wantV3Error(t, c.do("POST", "/v3/packages", "developer", map[string]any{"type": "bits", "relationships": appRel(docker)}),
		422, 10008, "CF-UnprocessableEntity", "Cannot create bits package for a Docker app.")
	wantV3Error(t, c.do("POST", "/v3/packages", "developer", map[string]any{"type": "docker", "relationships": appRel(docker)}),
		422, 10008, "CF-UnprocessableEntity", "Data Image required")
	wantV3Error(t, c.do("GET", "/v3/packages/"+pkg+"/download", "developer", nil), 422, 10008, "CF-UnprocessableEntity", "Package type must be bits.")

	build := c.newBuild("developer", pkg)
	b := c.must(200, "GET", "/v3/builds/"+build, "developer", nil)
	if got := rawAt(t, b.body, "lifecycle"); got != `{"type":"docker","data":{}}` {
		t.Errorf("build lifecycle %s", got)
	}
	if got := rawAt(t, b.body, "droplet"); got != "null" {
		t.Errorf("staging build droplet %s", got)
	}
	clk.Advance(time.Second)
	b = c.must(200, "GET", "/v3/builds/"+build, "developer", nil)
	if got := rawAt(t, b.body, "state"); got != `"STAGED"` {
		t.Fatalf("docker build %s", b.body)
	}
	droplet := strings.Trim(rawAt(t, b.body, "droplet.guid"), `"`)
	d := c.must(200, "GET", "/v3/droplets/"+droplet, "developer", nil)
	for at, want := range map[string]string{"image": `"registry/image:latest"`, "buildpacks": "null", "lifecycle": `{"type":"docker","data":{}}`,
		"checksum": "null", "state": `"STAGED"`} {
		if got := rawAt(t, d.body, at); got != want {
			t.Errorf("docker droplet %s = %s, want %s", at, got, want)
		}
	}
	wantV3Error(t, c.do("GET", "/v3/droplets/"+droplet+"/download", "developer", nil), 422, 10008, "CF-UnprocessableEntity",
		"Cannot download droplets with 'docker' lifecycle.")
	c.must(200, "PATCH", "/v3/apps/"+docker+"/relationships/current_droplet", "developer", map[string]any{"data": map[string]string{"guid": droplet}})
	c.must(200, "POST", "/v3/apps/"+docker+"/actions/start", "developer", nil)
	if events := c.eventTypes(docker); !slices.Contains(events, "audit.app.droplet.create") {
		t.Errorf("no droplet create event when staging ended: %v", events)
	}
}

// TestStagingFailures: bits that cannot stage give a FAILED build and
// droplet with CC's error text.
func TestStagingFailures(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	cases := []struct {
		name  string
		files []zipFile
		want  string
	}{
		{"declared failure", []zipFile{{name: "index.html", body: "hi"}, {name: failStagingFile, body: "the compiler fell over\n"}},
			"StagingError - Staging error: the compiler fell over"},
		{"declared reason", []zipFile{{name: "app.rb", body: "x"}, {name: failStagingFile, body: "BuildpackCompileFailed"}},
			"BuildpackCompileFailed - App staging failed in the buildpack compile phase"},
		{"empty marker", []zipFile{{name: failStagingFile}}, "StagingError - Staging error: staging failed"},
		{"empty package", nil, "NoAppDetectedError - An app was not successfully detected by any available buildpack"},
		{"directories only", []zipFile{{name: "empty/", mode: fs.ModeDir | 0o755}},
			"NoAppDetectedError - An app was not successfully detected by any available buildpack"},
	}
	for i, tc := range cases {
		app := c.createApp("developer", fmt.Sprintf("failing-%d", i), nil)
		pkg := c.readyPackage("developer", app, tc.files...)
		build := c.newBuild("developer", pkg)
		clk.Advance(time.Second)
		b := c.must(200, "GET", "/v3/builds/"+build, "developer", nil)
		t.Run(tc.name, func(t *testing.T) {
			if got := rawAt(t, b.body, "state"); got != `"FAILED"` {
				t.Fatalf("build %s", b.body)
			}
			if got := rawAt(t, b.body, "error"); got != `"`+tc.want+`"` {
				t.Errorf("build error %s, want %q", got, tc.want)
			}
			droplet := strings.Trim(rawAt(t, b.body, "droplet.guid"), `"`)
			d := c.forTest(t).must(200, "GET", "/v3/droplets/"+droplet, "developer", nil)
			if got := rawAt(t, d.body, "state") + " " + rawAt(t, d.body, "error"); got != `"FAILED" "`+tc.want+`"` {
				t.Errorf("droplet %s", got)
			}
			wantV3Error(t, c.forTest(t).do("PATCH", "/v3/apps/"+app+"/relationships/current_droplet", "developer",
				map[string]any{"data": map[string]string{"guid": droplet}}), 422, 10008, "CF-UnprocessableEntity", "droplet must be in staged state")
		})
	}
}

// TestStagingInProgress: one build at a time per app (CC's
// StagingInProgress); the next is accepted once the first has ended.
func TestStagingInProgress(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	app := c.createApp("developer", "busy", nil)
	pkg := c.readyPackage("developer", app, zipFile{name: "index.php", body: "<?php"})
	c.newBuild("developer", pkg)
	r := c.do("POST", "/v3/builds", "developer", map[string]any{"package": map[string]string{"guid": pkg}})
	if want := `{"errors":[{"detail":"Only one build can be STAGING at a time per application.","title":"CF-StagingInProgress","code":170017}]}`; r.status != 422 || string(r.body) != want {
		t.Errorf("second build: %d %s\nwant 422 %s", r.status, r.body, want)
	}
	// Another app stages meanwhile.
	other := c.createApp("developer", "idle", nil)
	c.newBuild("developer", c.readyPackage("developer", other, zipFile{name: "index.php", body: "<?php"}))
	clk.Advance(time.Second)
	c.newBuild("developer", pkg)
}

// TestBuildErrors covers a build create's refusals, in CC's words and order.
func TestBuildErrors(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "builds", nil)
	waiting := c.newPackage("developer", app)
	ready := c.readyPackage("developer", app, zipFile{name: "Staticfile"})
	unusable := "Unable to use package. Ensure that the package exists and you have access to it."
	cases := []struct {
		name, user string
		body       any
		status     int
		code       int
		title      string
		detail     string
	}{
		{"no package", "developer", map[string]any{}, 422, 10008, "CF-UnprocessableEntity", "Package guid can't be blank, Package guid must be a string"},
		{"unknown field", "developer", map[string]any{"package": map[string]string{"guid": ready}, "x": 1}, 422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'x'"},
		{"missing package", "developer", map[string]any{"package": map[string]string{"guid": roleMissingGUID}}, 422, 10008, "CF-UnprocessableEntity", unusable},
		{"auditor", "auditor", map[string]any{"package": map[string]string{"guid": ready}}, 422, 10008, "CF-UnprocessableEntity", unusable},
		{"outsider", "outsider", map[string]any{"package": map[string]string{"guid": ready}}, 422, 10008, "CF-UnprocessableEntity", unusable},
		{"not ready", "developer", map[string]any{"package": map[string]string{"guid": waiting}}, 400, 1004, "CF-BadRequest",
			"Bad request: Cannot stage package whose state is not ready."},
		{"memory", "developer", map[string]any{"package": map[string]string{"guid": ready}, "staging_memory_in_mb": 0}, 422, 10008,
			"CF-UnprocessableEntity", "Staging memory in mb must be greater than 0"},
		{"disk", "developer", map[string]any{"package": map[string]string{"guid": ready}, "staging_disk_in_mb": "big"}, 422, 10008,
			"CF-UnprocessableEntity", "Staging disk in mb is not a number"},
		{"bad json", "developer", "{", 400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantV3Error(t, c.forTest(t).do("POST", "/v3/builds", tc.user, tc.body), tc.status, tc.code, tc.title, tc.detail)
		})
	}
	// Limits: the minimums apply, the request's values win over the web process's.
	b := c.must(201, "POST", "/v3/builds", "developer", map[string]any{"package": map[string]string{"guid": ready},
		"staging_memory_in_mb": 2048, "staging_disk_in_mb": 512, "staging_log_rate_limit_bytes_per_second": -1, "metadata": map[string]any{"labels": map[string]string{"k": "v"}}})
	for at, want := range map[string]string{"staging_memory_in_mb": "2048", "staging_disk_in_mb": "4096",
		"staging_log_rate_limit_bytes_per_second": "-1", "metadata.labels": `{"k":"v"}`,
		"created_by": `{"guid":"` + DeveloperGUID + `","name":"developer","email":"developer@example.org"}`} {
		if got := rawAt(t, b.body, at); got != want {
			t.Errorf("%s = %s, want %s", at, got, want)
		}
	}
}

// TestBuildpackDetection: the app's buildpacks win; else the files decide.
func TestBuildpackDetection(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	cases := []struct {
		name       string
		buildpacks []string
		files      []zipFile
		detect     string
		web        string
	}{
		{"node", nil, []zipFile{{name: "package.json", body: "{}"}}, "nodejs", "npm start"},
		{"go", nil, []zipFile{{name: "go.mod", body: "module example.com/tools/hello\n\ngo 1.22\n"}}, "go", "hello"},
		{"procfile over buildpack", nil, []zipFile{{name: "package.json", body: "{}"}, {name: "Procfile", body: "web: node capibridge-crash.js\n"}},
			"nodejs", "node capibridge-crash.js"},
		{"binary", nil, []zipFile{{name: "server", body: "\x7fELF"}}, "binary", "./app"},
		{"static", nil, []zipFile{{name: "Staticfile", body: ""}, {name: "package.json", body: "{}"}}, "staticfile", "$HOME/boot.sh"},
		{"asked for", []string{"go_buildpack", "python_buildpack"}, []zipFile{{name: "package.json", body: "{}"}}, "python", "python app.py"},
	}
	for i, tc := range cases {
		var extra map[string]any
		if tc.buildpacks != nil {
			extra = map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": tc.buildpacks}}}
		}
		app := c.createApp("developer", fmt.Sprintf("detect-%d", i), extra)
		build := c.newBuild("developer", c.readyPackage("developer", app, tc.files...))
		clk.Advance(time.Second)
		droplet := strings.Trim(rawAt(t, c.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "droplet.guid"), `"`)
		d := c.must(200, "GET", "/v3/droplets/"+droplet, "developer", nil)
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				ProcessTypes map[string]string `json:"process_types"`
				Buildpacks   []struct {
					Name         string  `json:"name"`
					DetectOutput *string `json:"detect_output"`
				} `json:"buildpacks"`
			}
			d.json(t, &got)
			if got.ProcessTypes["web"] != tc.web {
				t.Errorf("web %q, want %q", got.ProcessTypes["web"], tc.web)
			}
			last := got.Buildpacks[len(got.Buildpacks)-1]
			if last.DetectOutput == nil || *last.DetectOutput != tc.detect {
				t.Errorf("buildpacks %s", rawAt(t, d.body, "buildpacks"))
			}
			if tc.buildpacks != nil && len(got.Buildpacks) != len(tc.buildpacks) {
				t.Errorf("buildpacks %s, want those asked for", rawAt(t, d.body, "buildpacks"))
			}
		})
	}
}

// TestPackageUploadErrors: refusals of an upload, and uploads that end in
// a FAILED package with CC's error text.
func TestPackageUploadErrors(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "uploads", nil)
	docker := c.createApp("developer", "docker", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	var dp struct{ GUID string }
	c.must(201, "POST", "/v3/packages", "developer", map[string]any{"type": "docker", "relationships": appRel(docker),
		"data": map[string]string{"image": "nginx"}}).json(t, &dp)
	good := zipOf(t, zipFile{name: "a.txt", body: "a"})
	unprocessable := func(t *testing.T, r resp, detail string) {
		t.Helper()
		wantV3Error(t, r, 422, 10008, "CF-UnprocessableEntity", detail)
	}
	t.Run("refusals", func(t *testing.T) {
		pkg := c.newPackage("developer", app)
		body, ct := multipartOf(t, map[string]string{"bogus": "1"}, "a.zip", good)
		unprocessable(t, c.raw("POST", "/v3/packages/"+pkg+"/upload", "developer", ct, body, false), "Unknown field(s): 'bogus'")
		unprocessable(t, c.uploadBits("developer", pkg, nil, ""), "Upload must include either resources or bits")
		unprocessable(t, c.uploadBits("developer", pkg, nil, "[]"), "Upload must include either resources or bits")
		unprocessable(t, c.uploadBits("developer", pkg, good, "{nope"), "Resources must be valid JSON.")
		unprocessable(t, c.raw("POST", "/v3/packages/"+pkg+"/upload", "developer", "application/json", []byte("{}"), false),
			"Upload must include either resources or bits")
		unprocessable(t, c.uploadBits("developer", dp.GUID, good, ""), "Package type must be bits.")
		wantV3Error(t, c.uploadBits("developer", roleMissingGUID, good, ""), 404, 10010, "CF-ResourceNotFound", "Package not found")
		wantV3Error(t, c.uploadBits("outsider", pkg, good, ""), 404, 10010, "CF-ResourceNotFound", "Package not found")
		wantV3Error(t, c.uploadBits("auditor", pkg, good, ""), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
		wantV3Error(t, c.raw("POST", "/v3/packages/"+pkg+"/upload", "developer", "multipart/form-data; boundary=xyz", []byte("--xyz\r\ngarbage"), false),
			400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body")
		// Chunked, as a client streaming from a pipe sends it.
		body, ct = multipartOf(t, nil, "a.zip", good)
		c.mustStatus(200, c.raw("POST", "/v3/packages/"+pkg+"/upload", "developer", ct, body, true))
		wantV3Error(t, c.uploadBits("developer", pkg, good, ""), 400, 150004, "CF-PackageBitsAlreadyUploaded",
			"Bits may be uploaded only once. Create a new package to upload different bits.")
	})
	failed := []struct {
		name      string
		bits      []byte
		resources string
		want      string
	}{
		{"not a zip", []byte("this is not a zip"), "",
			"The app upload is invalid: Unzipping had errors\n STDOUT: \"\"\n STDERR: \"zip: not a valid zip file\""},
		{"path outside", zipOf(t, zipFile{name: "../escape", body: "x"}), "", "The app upload is invalid: Relative path(s) outside of root folder"},
		{"symlink outside", zipOf(t, zipFile{name: "link", body: "../../etc/passwd", mode: fs.ModeSymlink | 0o777}), "",
			"The app upload is invalid: Symlink(s) point outside of root folder"},
		{"uncached resource", good, `[{"path":"big","size_in_bytes":70000,"checksum":{"value":"` + sha1Hex("absent") + `"}}]`,
			`Can not copy bits we do not have {"fn"=>"big", "size"=>70000, "sha1"=>"` + sha1Hex("absent") + `", "mode"=>""}`},
		{"unsafe resource path", nil, `[{"path":"/etc/passwd","size_in_bytes":70000,"checksum":{"value":"` + sha1Hex("absent") + `"}}]`,
			"The resource file path is invalid: File path '/etc/passwd' is not safe."},
		{"bad resource mode", nil, `[{"path":"a","size_in_bytes":70000,"mode":"400","checksum":{"value":"` + sha1Hex("absent") + `"}}]`,
			"The resource file mode is invalid: File mode '400' with path 'a' is invalid."},
	}
	for _, tc := range failed {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forTest(t)
			pkg := c.newPackage("developer", app)
			r := c.mustStatus(200, c.uploadBits("developer", pkg, tc.bits, tc.resources))
			if got := rawAt(t, r.body, "state"); got != `"PROCESSING_UPLOAD"` {
				t.Errorf("upload answers %s", got)
			}
			p := c.must(200, "GET", "/v3/packages/"+pkg, "developer", nil)
			if got := rawAt(t, p.body, "state"); got != `"FAILED"` {
				t.Fatalf("package %s", p.body)
			}
			var data struct {
				Data struct{ Error string } `json:"data"`
			}
			p.json(t, &data)
			if data.Data.Error != tc.want {
				t.Errorf("error\n got %q\nwant %q", data.Data.Error, tc.want)
			}
			wantV3Error(t, c.do("GET", "/v3/packages/"+pkg+"/download", "developer", nil), 422, 10008, "CF-UnprocessableEntity", "Package has no bits to download.")
		})
	}
}

// TestDownloads: downloads redirect to a signed URL that needs no token,
// serves the same bytes and expires; only readers of secrets may download.
func TestDownloads(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	app := c.createApp("developer", "downloads", nil)
	files := []zipFile{{name: "index.html", body: "<h1>hi</h1>"}, {name: "Staticfile"}}
	pkg := c.readyPackage("developer", app, files...)
	bits := c.download("developer", "/v3/packages/"+pkg+"/download")
	if got := unzipped(t, bits); got["index.html"] != files[0].body {
		t.Errorf("downloaded package %v", got)
	}
	if admin := c.download("admin", "/v3/packages/"+pkg+"/download"); !bytes.Equal(admin, bits) {
		t.Error("the admin downloads other bytes")
	}
	wantV3Error(t, c.do("GET", "/v3/packages/"+pkg+"/download", "auditor", nil), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
	wantV3Error(t, c.do("GET", "/v3/packages/"+pkg+"/download", "outsider", nil), 404, 10010, "CF-ResourceNotFound", "Package not found")
	wantV3Error(t, c.do("GET", "/v3/packages/"+c.newPackage("developer", app)+"/download", "developer", nil), 422, 10008,
		"CF-UnprocessableEntity", "Package has no bits to download.")

	build := c.newBuild("developer", pkg)
	droplet := strings.Trim(rawAt(t, c.must(201, "POST", "/v3/droplets", "developer", map[string]any{"relationships": appRel(app)}).body, "guid"), `"`)
	wantV3Error(t, c.do("GET", "/v3/droplets/"+droplet+"/download", "developer", nil), 422, 10008, "CF-UnprocessableEntity", "Only staged droplets can be downloaded.")
	clk.Advance(time.Second)
	staged := strings.Trim(rawAt(t, c.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "droplet.guid"), `"`)
	tgz := c.download("developer", "/v3/droplets/"+staged+"/download")
	if got := untar(t, tgz); got["./app/index.html"] != files[0].body {
		t.Errorf("droplet entries %d", len(got))
	}
	wantV3Error(t, c.do("GET", "/v3/droplets/"+staged+"/download", "auditor", nil), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")

	// The signed URL: a changed signature or guid is refused, an old one expires.
	loc := c.must(302, "GET", "/v3/packages/"+pkg+"/download", "developer", nil).header["Location"]
	if r := c.raw("HEAD", loc, "", "", nil, false); r.status != 200 || r.header["Content-Type"] != "application/zip" {
		t.Errorf("HEAD of the blob: %d %v", r.status, r.header)
	}
	for _, bad := range []string{loc[:len(loc)-1] + "0", strings.Replace(loc, pkg, staged, 1), strings.Replace(loc, "/packages/", "/droplets/", 1),
		strings.Split(loc, "?")[0]} {
		if bad == loc {
			continue
		}
		if r := c.raw("GET", bad, "", "", nil, false); r.status != 403 {
			t.Errorf("GET %s: %d %s, want 403", bad, r.status, r.body)
		}
	}
	clk.Advance(blobURLTTL + time.Second)
	if r := c.raw("GET", loc, "", "", nil, false); r.status != 410 {
		t.Errorf("an expired URL answers %d %s, want 410", r.status, r.body)
	}
	events := c.eventTypes(app)
	for _, want := range []string{"audit.app.package.download", "audit.app.droplet.download"} {
		if !slices.Contains(events, want) {
			t.Errorf("no %s in %v", want, events)
		}
	}
}

// tgzOf is a droplet tgz holding files.
func tgzOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDropletUploadAndCopy: a droplet made outside (cf push --droplet):
// created AWAITING_UPLOAD, uploaded with a job, then copied to another app.
func TestDropletUploadAndCopy(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "droplet-app", nil)
	other := c.createApp("developer", "droplet-copy", nil)
	created := c.must(201, "POST", "/v3/droplets", "developer", map[string]any{"relationships": appRel(app),
		"process_types": map[string]string{"web": "./serve"}})
	droplet := strings.Trim(rawAt(t, created.body, "guid"), `"`)
	for at, want := range map[string]string{"state": `"AWAITING_UPLOAD"`, "process_types": `{"web":"./serve"}`,
		"links.upload": `{"href":"http://api.example.org/v3/droplets/` + droplet + `/upload","method":"POST"}`, "buildpacks": "[]"} {
		if got := rawAt(t, created.body, at); got != want {
			t.Errorf("created droplet %s = %s, want %s", at, got, want)
		}
	}
	shapeOf(t, "droplet.json", c.must(200, "GET", "/v3/droplets/"+droplet, "developer", nil).body,
		rules([]string{"process_types", "links"}, []string{"checksum", "stack"}, nil))
	defaults := c.must(201, "POST", "/v3/droplets", "developer", map[string]any{"relationships": appRel(app)})
	if got := rawAt(t, defaults.body, "process_types"); got != `{"web":""}` {
		t.Errorf("default process types %s", got)
	}

	tgz := tgzOf(t, map[string]string{"./app/serve": "#!/bin/sh\n"})
	upload := func(user, guid, name string, bits []byte) resp {
		body, ct := multipartOf(t, nil, name, bits)
		return c.raw("POST", "/v3/droplets/"+guid+"/upload", user, ct, body, false)
	}
	unprocessable := func(r resp, detail string) {
		t.Helper()
		wantV3Error(t, r, 422, 10008, "CF-UnprocessableEntity", detail)
	}
	unprocessable(upload("developer", droplet, "droplet.zip", tgz), "Uploaded droplet file is invalid: droplet.zip is not a tgz")
	unprocessable(upload("developer", droplet, "droplet.tgz", []byte{}), "Uploaded droplet file is invalid: droplet.tgz cannot be empty")
	unprocessable(upload("developer", droplet, "", nil), "Uploaded droplet file is invalid: A droplet tgz file must be uploaded as 'bits'")
	wantV3Error(t, upload("auditor", droplet, "droplet.tgz", tgz), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
	r := c.mustStatus(202, upload("developer", droplet, "droplet.tgz", tgz))
	if got := rawAt(t, r.body, "state"); got != `"PROCESSING_UPLOAD"` {
		t.Errorf("upload answers %s", got)
	}
	if state := c.waitJob(r.header["Location"], "developer"); state != store.JobComplete {
		t.Fatalf("upload job %s", state)
	}
	d := c.must(200, "GET", "/v3/droplets/"+droplet, "developer", nil)
	sum := sha256.Sum256(tgz)
	if got := rawAt(t, d.body, "state") + " " + rawAt(t, d.body, "checksum"); got != `"STAGED" {"type":"sha256","value":"`+hex.EncodeToString(sum[:])+`"}` {
		t.Errorf("uploaded droplet %s", got)
	}
	if got := c.download("developer", "/v3/droplets/"+droplet+"/download"); !bytes.Equal(got, tgz) {
		t.Error("the droplet downloads other bytes than were uploaded")
	}
	unprocessable(upload("developer", droplet, "droplet.tgz", tgz), "Droplet may be uploaded only once. Create a new droplet to upload bits.")

	// Copies: a STAGED droplet only, to an app the caller may write to.
	copyOf := func(user, source, dest string) resp {
		return c.do("POST", "/v3/droplets?source_guid="+source, user, map[string]any{"relationships": appRel(dest)})
	}
	cp := copyOf("developer", droplet, other)
	if cp.status != 201 || rawAt(t, cp.body, "state") != `"COPYING"` {
		t.Fatalf("copy: %d %s", cp.status, cp.body)
	}
	copied := strings.Trim(rawAt(t, cp.body, "guid"), `"`)
	got := c.must(200, "GET", "/v3/droplets/"+copied, "developer", nil)
	if rawAt(t, got.body, "state") != `"STAGED"` || rawAt(t, got.body, "checksum") != rawAt(t, d.body, "checksum") ||
		rawAt(t, got.body, "process_types") != `{"web":"./serve"}` {
		t.Errorf("copied droplet %s", got.body)
	}
	if b := c.download("developer", "/v3/droplets/"+copied+"/download"); !bytes.Equal(b, tgz) {
		t.Error("the copy downloads other bytes")
	}
	unprocessable(copyOf("developer", strings.Trim(rawAt(t, defaults.body, "guid"), `"`), other), "source droplet is not staged")
	wantV3Error(t, copyOf("outsider", droplet, other), 404, 10010, "CF-ResourceNotFound", "Droplet not found")
	wantV3Error(t, copyOf("developer", droplet, roleMissingGUID), 404, 10010, "CF-ResourceNotFound", "App not found")
	wantV3Error(t, copyOf("auditor", droplet, other), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
	if events := c.eventTypes(other); !slices.Contains(events, "audit.app.droplet.create") {
		t.Errorf("copy events %v", events)
	}
	docker := c.createApp("developer", "docker", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	unprocessable(c.do("POST", "/v3/droplets", "developer", map[string]any{"relationships": appRel(docker)}),
		"Droplet creation is not available for apps with docker lifecycles.")
	unprocessable(c.do("POST", "/v3/droplets", "outsider", map[string]any{"relationships": appRel(app)}),
		`App with guid "`+app+`" does not exist, or you do not have access to it.`)
}

// TestPackageCopy: a bits copy is COPYING, then READY with the source's
// bits; a docker copy is READY at once.
func TestPackageCopy(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	src := c.createApp("developer", "source", nil)
	dst := c.createApp("developer", "destination", nil)
	pkg := c.readyPackage("developer", src, zipFile{name: "index.php", body: "<?php echo 1;"})
	copyOf := func(user, source, app string) resp {
		return c.do("POST", "/v3/packages?source_guid="+source, user, map[string]any{"relationships": appRel(app)})
	}
	r := copyOf("developer", pkg, dst)
	if r.status != 201 || rawAt(t, r.body, "state") != `"COPYING"` {
		t.Fatalf("copy %d %s", r.status, r.body)
	}
	copied := strings.Trim(rawAt(t, r.body, "guid"), `"`)
	p := c.must(200, "GET", "/v3/packages/"+copied, "developer", nil)
	orig := c.must(200, "GET", "/v3/packages/"+pkg, "developer", nil)
	if rawAt(t, p.body, "state") != `"READY"` || rawAt(t, p.body, "data.checksum") != rawAt(t, orig.body, "data.checksum") ||
		rawAt(t, p.body, "relationships.app.data.guid") != `"`+dst+`"` {
		t.Errorf("copied package %s", p.body)
	}
	if !bytes.Equal(c.download("developer", "/v3/packages/"+copied+"/download"), c.download("developer", "/v3/packages/"+pkg+"/download")) {
		t.Error("the copy holds other bits")
	}
	waiting := copyOf("developer", c.newPackage("developer", src), dst)
	if got := rawAt(t, c.must(200, "GET", "/v3/packages/"+strings.Trim(rawAt(t, waiting.body, "guid"), `"`), "developer", nil).body, "state"); got != `"FAILED"` {
		t.Errorf("a copy of a package without bits is %s", got)
	}
	wantV3Error(t, copyOf("developer", roleMissingGUID, dst), 422, 10008, "CF-UnprocessableEntity",
		"Source package is invalid. Ensure it exists and you have access to it.")
	wantV3Error(t, copyOf("outsider", pkg, dst), 422, 10008, "CF-UnprocessableEntity", "App is invalid. Ensure it exists and you have access to it.")
	wantV3Error(t, copyOf("auditor", pkg, dst), 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")

	dockerSrc := c.createApp("developer", "docker-src", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	dockerDst := c.createApp("developer", "docker-dst", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	var dp struct{ GUID string }
	c.must(201, "POST", "/v3/packages", "developer", map[string]any{"type": "docker", "relationships": appRel(dockerSrc),
		"data": map[string]string{"image": "nginx:1"}}).json(t, &dp)
	r = copyOf("developer", dp.GUID, dockerDst)
	if r.status != 201 || rawAt(t, r.body, "state") != `"READY"` || rawAt(t, r.body, "data.image") != `"nginx:1"` {
		t.Errorf("docker copy %d %s", r.status, r.body)
	}
	wantV3Error(t, copyOf("developer", dp.GUID, dst), 422, 10008, "CF-UnprocessableEntity", "Cannot create Docker package for a buildpack app.")
}

// TestPackageCreateErrors: a package create's refusals.
func TestPackageCreateErrors(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "packages", nil)
	cases := []struct {
		name, user string
		body       any
		status     int
		detail     string
	}{
		{"no type", "developer", map[string]any{"relationships": appRel(app)}, 422, "Type must be one of 'bits, docker'"},
		{"bad type", "developer", map[string]any{"type": "zip", "relationships": appRel(app)}, 422, "Type must be one of 'bits, docker'"},
		{"no app", "developer", map[string]any{"type": "bits"}, 422, "Relationships must be an object, Relationships App can't be blank"},
		{"data on bits", "developer", map[string]any{"type": "bits", "relationships": appRel(app), "data": map[string]string{"image": "x"}}, 422,
			"Data must be empty if provided for bits packages"},
		{"unknown field", "developer", map[string]any{"type": "bits", "relationships": appRel(app), "url": "x"}, 422, "Unknown field(s): 'url'"},
		{"missing app", "developer", map[string]any{"type": "bits", "relationships": appRel(roleMissingGUID)}, 422,
			"App is invalid. Ensure it exists and you have access to it."},
		{"outsider", "outsider", map[string]any{"type": "bits", "relationships": appRel(app)}, 422, "App is invalid. Ensure it exists and you have access to it."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantV3Error(t, c.forTest(t).do("POST", "/v3/packages", tc.user, tc.body), tc.status, 10008, "CF-UnprocessableEntity", tc.detail)
		})
	}
	wantV3Error(t, c.do("POST", "/v3/packages", "auditor", map[string]any{"type": "bits", "relationships": appRel(app)}), 403, 10003,
		"CF-NotAuthorized", "You are not authorized to perform the requested action")
	r := c.must(201, "POST", "/v3/packages", "developer", map[string]any{"type": "bits", "relationships": appRel(app),
		"metadata": map[string]any{"labels": map[string]string{"tier": "web"}}})
	if got := rawAt(t, r.body, "metadata.labels"); got != `{"tier":"web"}` {
		t.Errorf("labels %s", got)
	}
	// The list filters of the brief: app_guids, states, types, order_by.
	l := c.listPage("developer", "/v3/packages?app_guids="+app+"&states=AWAITING_UPLOAD&types=bits&order_by=-created_at")
	if l.Pagination.TotalResults != 1 {
		t.Errorf("filtered packages: %d", l.Pagination.TotalResults)
	}
}

// TestResourceMatchErrors: ResourceMatchCreateMessage's refusals.
func TestResourceMatchErrors(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	const pre = "Resources array contains at least one resource with a "
	good := map[string]any{"checksum": map[string]string{"value": sha1Hex("x")}, "size_in_bytes": 1}
	cases := []struct {
		name   string
		body   any
		detail string
	}{
		{"no resources", map[string]any{}, "Resources must be an array"},
		{"not a list", map[string]any{"resources": "x"}, "Resources must be an array"},
		{"empty", map[string]any{"resources": []any{}}, "Resources must have at least 1 resource"},
		{"unknown field", map[string]any{"resources": []any{good}, "x": 1}, "Unknown field(s): 'x'"},
		{"checksum not an object", map[string]any{"resources": []any{map[string]any{"checksum": "x", "size_in_bytes": 1}}}, pre + "non-object checksum"},
		{"short sha1", map[string]any{"resources": []any{map[string]any{"checksum": map[string]string{"value": "abc"}, "size_in_bytes": 1}}},
			pre + "non-SHA1 checksum value"},
		{"negative size and float", map[string]any{"resources": []any{
			map[string]any{"checksum": map[string]string{"value": sha1Hex("a")}, "size_in_bytes": -1},
			map[string]any{"checksum": map[string]string{"value": sha1Hex("a")}, "size_in_bytes": 1.5}}},
			pre + "negative size_in_bytes, " + pre + "non-integer size_in_bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantV3Error(t, c.forTest(t).do("POST", "/v3/resource_matches", "outsider", tc.body), 422, 10008, "CF-UnprocessableEntity", tc.detail)
		})
	}
	if r := c.must(201, "POST", "/v3/resource_matches", "auditor", map[string]any{"resources": []any{good}}); string(r.body) != `{"resources":[]}` {
		t.Errorf("no match: %s", r.body)
	}
}

// TestCurrentDropletErrors: PATCH current_droplet's refusals.
func TestCurrentDropletErrors(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "current", nil)
	other := c.createApp("developer", "other", nil)
	foreign := strings.Trim(rawAt(t, c.must(201, "POST", "/v3/droplets", "developer", map[string]any{"relationships": appRel(other)}).body, "guid"), `"`)
	patch := func(user string, body any) resp {
		return c.do("PATCH", "/v3/apps/"+app+"/relationships/current_droplet", user, body)
	}
	unable := "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
	wantV3Error(t, patch("developer", map[string]any{"data": nil}), 422, 10008, "CF-UnprocessableEntity",
		"Current droplet cannot be removed. Replace it with a preferred droplet.")
	wantV3Error(t, patch("developer", map[string]any{}), 422, 10008, "CF-UnprocessableEntity", unable)
	wantV3Error(t, patch("developer", map[string]any{"data": map[string]string{"guid": foreign}}), 422, 10008, "CF-UnprocessableEntity", unable)
	wantV3Error(t, patch("developer", map[string]any{"data": map[string]string{"guid": roleMissingGUID}}), 422, 10008, "CF-UnprocessableEntity", unable)
	wantV3Error(t, patch("auditor", map[string]any{"data": map[string]string{"guid": foreign}}), 403, 10003, "CF-NotAuthorized",
		"You are not authorized to perform the requested action")
	wantV3Error(t, patch("outsider", map[string]any{"data": map[string]string{"guid": foreign}}), 404, 10010, "CF-ResourceNotFound", "App not found")
}

// TestRestartFinishesStaging: a build STAGING when the embedded CF stops
// finishes after it starts again, by the clock.
func TestRestartFinishesStaging(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	clk := &fakeClock{now: time.Date(2025, 8, 1, 10, 0, 0, 0, time.UTC)}
	first := startCF(t, &cfg, WithClock(clk.Now))
	app := first.createApp("developer", "restarted", nil)
	pkg := first.readyPackage("developer", app, zipFile{name: "package.json", body: "{}"})
	build := first.newBuild("developer", pkg)
	tokens := first.tokens
	first.stop()

	// Started again before the build's time: still STAGING.
	second := startCF(t, &cfg, WithClock(clk.Now))
	second.withTokens(tokens)
	if got := rawAt(t, second.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "state"); got != `"STAGING"` {
		t.Fatalf("build %s after a restart before its time", got)
	}
	second.stop()

	// Started after it: STAGED at once, its droplet with its bits.
	clk.Advance(time.Minute)
	third := startCF(t, &cfg, WithClock(clk.Now))
	third.withTokens(tokens)
	b, err := third.srv.Store().GetBuild(context.Background(), store.Viewer{All: true}, build)
	if err != nil || b.State != store.BuildStaged {
		t.Fatalf("build after a restart past its time: %s %v", b.State, err)
	}
	if got := rawAt(t, third.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "updated_at"); got != `"2025-08-01T10:00:01Z"` {
		t.Errorf("updated_at %s, want when staging ended", got)
	}
	if tgz := third.download("developer", "/v3/droplets/"+*b.DropletGUID+"/download"); len(untar(t, tgz)) == 0 {
		t.Error("empty droplet")
	}
	if got := unzipped(t, third.download("developer", "/v3/packages/"+pkg+"/download")); got["package.json"] != "{}" {
		t.Errorf("package after restarts %v", got)
	}
}

// TestStagingTimer: with the real clock, a build finishes on its own,
// without a request to notice it.
func TestStagingTimer(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.StagingDuration = 30 * time.Millisecond
	c := startCF(t, &cfg)
	app := c.createApp("developer", "timed", nil)
	build := c.newBuild("developer", c.readyPackage("developer", app, zipFile{name: "Staticfile"}))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := c.srv.Store().GetBuild(context.Background(), store.Viewer{All: true}, build)
		if err != nil {
			t.Fatal(err)
		}
		if b.State == store.BuildStaged {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("build still %s", b.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRequestBodyLimit: bodies other than uploads are read whole up to
// 4 MiB, as fasthttp's default limit had it.
func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	big := []byte(`{"name":"` + strings.Repeat("x", maxJSONBody) + `"}`)
	for _, chunked := range []bool{false, true} {
		if r := c.raw("POST", "/v3/apps", "developer", "application/json", big, chunked); r.status != 413 {
			t.Errorf("chunked=%v: %d, want 413", chunked, r.status)
		}
	}
	body, _ := json.Marshal(appBody("small", nil))
	if r := c.raw("POST", "/v3/apps", "developer", "application/json", body, true); r.status != 201 {
		t.Errorf("a small chunked body: %d %s", r.status, r.body)
	}
}

func TestStagingFailureText(t *testing.T) {
	t.Parallel()
	cases := []struct{ reason, details, id, desc string }{
		{"StagingError", "", "StagingError", "Staging error: staging failed"},
		{"Whatever", "boom", "StagingError", "Staging error: boom"},
		{"NoAppDetectedError", "", "NoAppDetectedError", "An app was not successfully detected by any available buildpack"},
		{"StagingTimeExpired", "15m", "StagingTimeExpired", "Staging time expired: 15m"},
	}
	for _, tc := range cases {
		if id, desc := stagingFailure(tc.reason, tc.details); id != tc.id || desc != tc.desc {
			t.Errorf("stagingFailure(%q, %q) = %q, %q", tc.reason, tc.details, id, desc)
		}
	}
}

func TestSafePaths(t *testing.T) {
	t.Parallel()
	names := map[string]bool{"a": true, "a/b": true, "a/../b": true, "./a": true, "dir/": true, "../a": false, "/etc": false,
		"a/../../b": false, "": false, `..\x`: false}
	for name, ok := range names {
		if _, got := safeName(name); got != ok {
			t.Errorf("safeName(%q) = %v", name, got)
		}
	}
	links := map[[2]string]bool{{"a", "b"}: true, {"d/a", "../b"}: true, {"a", "../b"}: false, {"a", "/etc"}: false, {"d/e/a", "../../x"}: true}
	for l, ok := range links {
		if got := safeLink(l[0], l[1]); got != ok {
			t.Errorf("safeLink(%q, %q) = %v", l[0], l[1], got)
		}
	}
	modes := map[string]bool{"": true, "644": true, "0755": true, "400": false, "9": false, "x": false}
	for m, ok := range modes {
		if _, got := parseMode(m); got != ok {
			t.Errorf("parseMode(%q) = %v", m, got)
		}
	}
	if got := parseProcfile("web: a b\n# c\nworker:b\nbad line\n"); len(got) != 2 || got["web"] != "a b" || got["worker"] != "b" {
		t.Errorf("parseProcfile %v", got)
	}
}
