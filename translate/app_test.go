package translate

import (
	"bytes"
	"capibridge/internal/jsonshape"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The -update flag rewrites golden files. Other golden tests of this package
// share it, so it is registered once, by whichever file gets there first.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func appGoldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// appGoldenInput is a <case>.v3.json file: the v3 bodies the caller of
// AppResource fetches, as v3 sends them.
type appGoldenInput struct {
	Description    string     `json:"description"`
	App            V3App      `json:"app"`
	Web            V3Process  `json:"web_process"`
	LatestPackage  *V3Package `json:"latest_package"`
	LatestBuild    *V3Build   `json:"latest_build"`
	LatestDroplet  *V3Droplet `json:"latest_droplet"`
	CurrentDroplet *V3Droplet `json:"current_droplet"`
	// EnvironmentVariables is null when v3 answered 403; the error body is
	// then in environment_variables_error.
	EnvironmentVariables *V3EnvironmentVariables `json:"environment_variables"`
	FeatureSSH           V3AppFeature            `json:"feature_ssh"`
	// Stack is the stack the caller resolved (GET /v3/stacks?names=…, or
	// ?default=true for docker).
	Stack struct {
		GUID string `json:"guid"`
		Name string `json:"name"`
	} `json:"stack"`
	DetectedBuildpackGUID string    `json:"detected_buildpack_guid"`
	Routes                []V3Route `json:"routes"`
}

func (in *appGoldenInput) bundle() AppBundle {
	b := AppBundle{
		App:                   in.App,
		Web:                   in.Web,
		LatestPackage:         in.LatestPackage,
		LatestBuild:           in.LatestBuild,
		LatestDroplet:         in.LatestDroplet,
		CurrentDroplet:        in.CurrentDroplet,
		SSHEnabled:            in.FeatureSSH.Enabled,
		StackGUID:             in.Stack.GUID,
		DetectedBuildpackGUID: in.DetectedBuildpackGUID,
		Routes:                in.Routes,
	}
	if in.EnvironmentVariables == nil {
		b.EnvRedacted = true
	} else {
		b.Env = in.EnvironmentVariables.Var
	}
	return b
}

func appGoldenCases(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "apps", "*.v3.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs in testdata/apps: %v", err)
	}
	return files
}

func appReadBundle(t testing.TB, path string) AppBundle {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in appGoldenInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return in.bundle()
}

// TestAppGolden renders every testdata/apps/<case>.v3.json and compares it
// with <case>.v2.json (indented for review; the comparison is on the
// indented bytes, so key order and escaping count). -update rewrites them.
func TestAppGolden(t *testing.T) {
	t.Parallel()
	for _, in := range appGoldenCases(t) {
		name := strings.TrimSuffix(filepath.Base(in), ".v3.json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := AppResource(appReadBundle(t, in))
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			pretty.WriteByte('\n')
			out := strings.TrimSuffix(in, ".v3.json") + ".v2.json"
			if appGoldenUpdate() {
				if err := os.WriteFile(out, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./translate -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s differs from the rendering:\n%s", out, appLineDiff(string(want), pretty.String()))
			}
		})
	}
}

func appLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// appShape is the structure of a JSON value (internal/jsonshape).
type appShape = jsonshape.Shape

func appParseShape(t *testing.T, b []byte) *appShape {
	t.Helper()
	s, err := jsonshape.Parse(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", b, err)
	}
	return s
}

// appNullable lists the fields CC renders as null or as a value, with the
// kind of the value. Every other field must have the kind it has in
// app.current-shape.json. Paths are dotted from the resource root.
var appNullable = map[string]string{
	"metadata.updated_at":                "string",
	"entity.buildpack":                   "string",
	"entity.detected_buildpack":          "string",
	"entity.detected_buildpack_guid":     "string",
	"entity.environment_json":            "object",
	"entity.command":                     "string",
	"entity.debug":                       "string",
	"entity.staging_task_id":             "string",
	"entity.health_check_timeout":        "number",
	"entity.health_check_http_endpoint":  "string",
	"entity.staging_failed_reason":       "string",
	"entity.staging_failed_description":  "string",
	"entity.docker_image":                "string",
	"entity.docker_credentials.username": "string",
	"entity.docker_credentials.password": "string",
	"entity.package_updated_at":          "string",
}

// appFreeObjects are objects whose keys are data, not shape.
var appFreeObjects = map[string]bool{"entity.environment_json": true}

// appShapeDiff lists how got departs from want: missing, extra or reordered
// keys, and kinds that differ (null only where appNullable allows it).
func appShapeDiff(path string, want, got *appShape) []string {
	var diffs []string
	if kind, ok := appNullable[path]; ok {
		if want.Kind != "null" && want.Kind != kind {
			return []string{fmt.Sprintf("appNullable[%s] = %s but the reference has %s", path, kind, want.Kind)}
		}
		if got.Kind != "null" && got.Kind != kind {
			return []string{fmt.Sprintf("%s: kind %s, want null or %s", path, got.Kind, kind)}
		}
		if got.Kind == "null" || want.Kind == "null" || appFreeObjects[path] {
			return nil
		}
	} else if got.Kind != want.Kind {
		return []string{fmt.Sprintf("%s: kind %s, want %s", path, got.Kind, want.Kind)}
	}
	switch got.Kind {
	case "object":
		if strings.Join(got.Keys, ",") != strings.Join(want.Keys, ",") {
			return []string{fmt.Sprintf("%s: keys\n  %s\nwant\n  %s", path, strings.Join(got.Keys, ","), strings.Join(want.Keys, ","))}
		}
		for _, k := range want.Keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffs = append(diffs, appShapeDiff(p, want.Kids[k], got.Kids[k])...)
		}
	case "array":
		if len(want.Items) == 0 {
			return []string{path + ": the reference array is empty"}
		}
		for i, it := range got.Items {
			diffs = append(diffs, appShapeDiff(fmt.Sprintf("%s[%d]", path, i), want.Items[0], it)...)
		}
	}
	return diffs
}

func appCompareShape(t *testing.T, want, got *appShape) {
	t.Helper()
	for _, d := range appShapeDiff("", want, got) {
		t.Error(d)
	}
}

// TestAppShape checks that every produced body has exactly the keys, key
// order and JSON kinds of today's CC (testdata/app.current-shape.json, a
// copy of shared/reference/v2/app.current-shape.json).
func TestAppShape(t *testing.T) {
	t.Parallel()
	ref, err := os.ReadFile(filepath.Join("testdata", "app.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := appParseShape(t, ref)
	for _, in := range appGoldenCases(t) {
		name := strings.TrimSuffix(filepath.Base(in), ".v3.json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := AppResource(appReadBundle(t, in))
			if err != nil {
				t.Fatal(err)
			}
			appCompareShape(t, want, appParseShape(t, got))
		})
	}
}

// TestAppShapeZeroBundle checks that even an empty bundle keeps the shape:
// no field goes missing, and ports and the relation urls stay present.
func TestAppShapeZeroBundle(t *testing.T) {
	t.Parallel()
	ref, err := os.ReadFile(filepath.Join("testdata", "app.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppResource(AppBundle{})
	if err != nil {
		t.Fatal(err)
	}
	appCompareShape(t, appParseShape(t, ref), appParseShape(t, got))
}

// TestAppShapeCatches makes sure the shape check fails on what it must
// catch: the 2016 key order, a missing key, a wrong kind, a stray null.
func TestAppShapeCatches(t *testing.T) {
	t.Parallel()
	ref, err := os.ReadFile(filepath.Join("testdata", "app.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := appParseShape(t, ref)
	if d := appShapeDiff("", want, want); len(d) != 0 {
		t.Fatalf("the reference does not match itself: %v", d)
	}
	cases := []struct{ name, from, to string }{
		{"missing log_rate_limit", `"log_rate_limit": 1048576,`, ``},
		{"2016 order", `"health_check_type": "port",
    "health_check_timeout": null,
    "health_check_http_endpoint": null,`, `"health_check_http_endpoint": null,
    "health_check_type": "port",
    "health_check_timeout": null,`},
		{"memory as a string", `"memory": 1024,`, `"memory": "1024",`},
		{"null ports", `"ports": [
      8080
    ],`, `"ports": null,`},
		{"null state", `"state": "STOPPED",`, `"state": null,`},
		{"port as a string", `"ports": [
      8080
    ],`, `"ports": ["8080"],`},
		{"extra key", `"diego": true,`, `"diego": true, "extra": 1,`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mutated := strings.Replace(string(ref), c.from, c.to, 1)
			if mutated == string(ref) {
				t.Fatalf("mutation %q did not apply", c.name)
			}
			if d := appShapeDiff("", want, appParseShape(t, []byte(mutated))); len(d) == 0 {
				t.Errorf("shape check accepted %s", c.name)
			}
		})
	}
}

func appStrP(s string) *string { return &s }

func TestAppSplitStagingError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in     string
		reason, desc *string
	}{
		{"id and description", "StagingError - Staging error: staging failed", appStrP("StagingError"), appStrP("Staging error: staging failed")},
		{"separator in description", "BuildpackCompileFailed - App staging failed - compile step", appStrP("BuildpackCompileFailed"), appStrP("App staging failed - compile step")},
		{"no separator", "something broke", nil, appStrP("something broke")},
		{"empty", "", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, d := splitStagingError(&c.in)
			if !appEqStrP(r, c.reason) || !appEqStrP(d, c.desc) {
				t.Errorf("split(%q) = %s, %s; want %s, %s", c.in, appShowP(r), appShowP(d), appShowP(c.reason), appShowP(c.desc))
			}
		})
	}
}

func TestAppStagingFailureFallsBackPerField(t *testing.T) {
	t.Parallel()
	// CC: latest_build.error_id || latest_droplet.error_id, and the same for
	// the description, each on its own.
	build := &V3Build{GUID: "b", State: "FAILED", Error: appStrP("only a description")}
	droplet := &V3Droplet{GUID: "d", State: "FAILED", Error: appStrP("StagingError - from the droplet")}
	r, d := stagingFailure(build, droplet)
	if !appEqStrP(r, appStrP("StagingError")) || !appEqStrP(d, appStrP("only a description")) {
		t.Errorf("got %s, %s", appShowP(r), appShowP(d))
	}
	r, d = stagingFailure(&V3Build{GUID: "b", State: "STAGING"}, nil)
	if r != nil || d != nil {
		t.Errorf("no errors: got %s, %s", appShowP(r), appShowP(d))
	}
}

func TestAppUserCommand(t *testing.T) {
	t.Parallel()
	droplet := &V3Droplet{ProcessTypes: map[string]string{"web": "bundle exec rackup"}}
	cases := []struct {
		name    string
		cmd     *string
		droplet *V3Droplet
		want    *string
	}{
		{"null", nil, droplet, nil},
		{"empty", appStrP(""), droplet, nil},
		{"detected", appStrP("bundle exec rackup"), droplet, nil},
		{"specified", appStrP("bundle exec puma"), droplet, appStrP("bundle exec puma")},
		{"specified, no droplet", appStrP("bundle exec puma"), nil, appStrP("bundle exec puma")},
		{"redacted", appStrP(privateDataHidden), droplet, nil},
		{"redacted in lists", appStrP(privateDataHiddenInLists), nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := userCommand(c.cmd, c.droplet); !appEqStrP(got, c.want) {
				t.Errorf("got %s, want %s", appShowP(got), appShowP(c.want))
			}
		})
	}
}

func TestAppAnnotations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		annotations map[string]string
		hcType      string
		check       func(e V2AppEntity) string
	}{
		{"no annotations", nil, "port", func(e V2AppEntity) string {
			if e.Production || e.Console || e.Debug != nil || e.HealthCheckType != "port" || e.State != "STOPPED" {
				return fmt.Sprintf("%+v", e)
			}
			return ""
		}},
		{"production and console need true", map[string]string{AnnotationProduction: "yes", AnnotationConsole: "1"}, "port", func(e V2AppEntity) string {
			if e.Production || e.Console {
				return "non-true values read as true"
			}
			return ""
		}},
		{"debug none is null", map[string]string{AnnotationDebug: "none"}, "port", func(e V2AppEntity) string {
			if e.Debug != nil {
				return "debug " + *e.Debug
			}
			return ""
		}},
		{"health check none echoed over process", map[string]string{AnnotationHealthCheckType: "none"}, "process", func(e V2AppEntity) string {
			if e.HealthCheckType != "none" {
				return e.HealthCheckType
			}
			return ""
		}},
		{"stale health check annotation loses to v3", map[string]string{AnnotationHealthCheckType: "none"}, "http", func(e V2AppEntity) string {
			if e.HealthCheckType != "http" {
				return e.HealthCheckType
			}
			return ""
		}},
		{"pending start overlays STARTED", map[string]string{AnnotationPendingStart: "build-guid"}, "port", func(e V2AppEntity) string {
			if e.State != "STARTED" {
				return e.State
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := AppBundle{App: V3App{GUID: "g", State: "STOPPED", Metadata: V3ObjectMetadata{Annotations: c.annotations}}}
			b.Web.HealthCheck.Type = c.hcType
			if msg := c.check(AppEntity(b)); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestAppPorts(t *testing.T) {
	t.Parallel()
	port := func(p int) *int { return &p }
	dest := func(app, typ string, p *int) V3Destination {
		return V3Destination{App: V3DestinationApp{GUID: app, Process: V3ProcessTypeRef{Type: typ}}, Port: p}
	}
	dockerMeta := `{"ports":[{"Port":5000,"Protocol":"tcp"},{"Port":53,"Protocol":"udp"}]}`
	staged := &V3Droplet{GUID: "d", State: "STAGED", ExecutionMetadata: dockerMeta,
		Links: V3DropletLinks{Package: &V3Href{Href: "/v3/packages/p"}}}
	cases := []struct {
		name string
		b    AppBundle
		want string
	}{
		{"buildpack, no routes", AppBundle{App: V3App{GUID: "a"}}, "[8080]"},
		{"destinations", AppBundle{App: V3App{GUID: "a"}, Routes: []V3Route{
			{Destinations: []V3Destination{dest("a", "web", port(9000)), dest("b", "web", port(7000)), dest("a", "worker", port(9100))}},
			{Destinations: []V3Destination{dest("a", "web", port(8080)), dest("a", "web", port(9000)), dest("a", "web", nil)}},
		}}, "[9000,8080]"},
		{"only other processes", AppBundle{App: V3App{GUID: "a"}, Routes: []V3Route{
			{Destinations: []V3Destination{dest("a", "worker", port(9100))}},
		}}, "[8080]"},
		{"docker, exposed ports", AppBundle{App: V3App{GUID: "a", State: "STARTED", Lifecycle: V3Lifecycle{Type: "docker"}},
			LatestPackage: &V3Package{GUID: "p", Type: "docker", State: "READY"}, LatestBuild: &V3Build{State: "STAGED"},
			LatestDroplet: staged, CurrentDroplet: staged}, "[5000]"},
		{"docker, needs staging", AppBundle{App: V3App{GUID: "a", State: "STARTED", Lifecycle: V3Lifecycle{Type: "docker"}},
			LatestPackage: &V3Package{GUID: "p", Type: "docker", State: "READY"}, LatestBuild: &V3Build{State: "STAGING"},
			LatestDroplet: staged, CurrentDroplet: staged}, "[]"},
		{"docker, stopped and pending keeps exposed ports", AppBundle{App: V3App{GUID: "a", State: "STOPPED", Lifecycle: V3Lifecycle{Type: "docker"}},
			LatestPackage: &V3Package{GUID: "p", Type: "docker", State: "READY"}, LatestBuild: &V3Build{State: "STAGING"},
			LatestDroplet: staged, CurrentDroplet: staged}, "[5000]"},
		{"docker, bad metadata", AppBundle{App: V3App{GUID: "a", Lifecycle: V3Lifecycle{Type: "docker"}},
			CurrentDroplet: &V3Droplet{GUID: "d", ExecutionMetadata: "{"}}, "[]"},
		{"docker, no droplet", AppBundle{App: V3App{GUID: "a", Lifecycle: V3Lifecycle{Type: "docker"}}}, "[]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, _ := json.Marshal(AppEntity(c.b).Ports)
			if string(got) != c.want {
				t.Errorf("ports %s, want %s", got, c.want)
			}
		})
	}
}

func TestAppEnvironmentJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  V2Environment
		want string
	}{
		{"null", V2Environment{}, `null`},
		{"empty", V2Environment{Vars: map[string]json.RawMessage{}}, `{}`},
		{"redacted wins", V2Environment{Vars: map[string]json.RawMessage{"A": json.RawMessage(`"1"`)}, Redacted: true}, `{"redacted_message":"[PRIVATE DATA HIDDEN]"}`},
		{"values, no HTML escaping", V2Environment{Vars: map[string]json.RawMessage{"B": json.RawMessage(`{"x": [1, 2]}`), "A": json.RawMessage(`"a&b<c>"`)}}, `{"A":"a&b<c>","B":{"x":[1,2]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := encodeJSON(&buf, struct {
				E V2Environment `json:"e"`
			}{c.env}); err != nil {
				t.Fatal(err)
			}
			if want := `{"e":` + c.want + `}`; buf.String() != want {
				t.Errorf("got %s, want %s", buf.String(), want)
			}
		})
	}
}

func TestAppMetadataTimes(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("CEST", 2*3600)
	b := AppBundle{App: V3App{GUID: "g", CreatedAt: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}}
	b.Web.CreatedAt = time.Date(2016, 6, 8, 18, 41, 44, 900_000_000, loc)
	m := AppMetadata(b)
	if m.CreatedAt != "2016-06-08T16:41:44Z" || m.UpdatedAt != nil || m.URL != "/v2/apps/g" {
		t.Errorf("metadata %+v", m)
	}
}

func TestAppReceiptBuildpackName(t *testing.T) {
	t.Parallel()
	d := &V3Droplet{Buildpacks: []V3DropletBuildpack{{Name: "go_buildpack"}, {Name: "ruby_buildpack", DetectOutput: appStrP("ruby")}}}
	if got := ReceiptBuildpackName(d); got != "ruby_buildpack" {
		t.Errorf("got %q", got)
	}
	d = &V3Droplet{Buildpacks: []V3DropletBuildpack{{Name: "https://***:***@example.com/bp.git", DetectOutput: appStrP("x")}}}
	if got := ReceiptBuildpackName(d); got != "" {
		t.Errorf("url buildpack: got %q", got)
	}
	if got := ReceiptBuildpackName(nil); got != "" {
		t.Errorf("nil droplet: got %q", got)
	}
}

func TestAppStagingTaskID(t *testing.T) {
	t.Parallel()
	// latest_build.guid || latest_droplet.guid
	build, droplet := &V3Build{GUID: "b"}, &V3Droplet{GUID: "d"}
	if got := stagingTaskID(build, droplet); !appEqStrP(got, appStrP("b")) {
		t.Errorf("build and droplet: %s", appShowP(got))
	}
	if got := stagingTaskID(nil, droplet); !appEqStrP(got, appStrP("d")) {
		t.Errorf("uploaded droplet: %s", appShowP(got))
	}
	if got := stagingTaskID(nil, nil); got != nil {
		t.Errorf("nothing: %s", appShowP(got))
	}
}

func TestAppDockerPorts(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":               "[]",
		"{":              "[]",
		`{"ports":null}`: "[]",
		`{"cmd":["/x"]}`: "[]",
		`{"ports":[{"Port":8081,"Protocol":"tcp"},{"Port":53,"Protocol":"udp"},{"Port":8082,"Protocol":"tcp"}]}`: "[8081,8082]",
	}
	for meta, want := range cases {
		got, _ := json.Marshal(dockerPorts(meta))
		if string(got) != want {
			t.Errorf("dockerPorts(%q) = %s, want %s", meta, got, want)
		}
	}
}

func TestAppResourceBadEnv(t *testing.T) {
	t.Parallel()
	// Env values are passed through raw; one that is not JSON is an error,
	// not a broken body.
	b := AppBundle{Env: map[string]json.RawMessage{"A": json.RawMessage(`{`)}}
	if out, err := AppResource(b); err == nil {
		t.Errorf("rendered %s", out)
	}
}

func appEqStrP(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func appShowP(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *s)
}

func appBenchBundle(b *testing.B) AppBundle {
	b.Helper()
	return appReadBundle(b, filepath.Join("testdata", "apps", "routes.v3.json"))
}

// BenchmarkAppResource renders one app with env vars, routes and droplets.
func BenchmarkAppResource(b *testing.B) {
	bundle := appBenchBundle(b)
	bundle.Env = map[string]json.RawMessage{"RAILS_ENV": json.RawMessage(`"production"`), "WORKERS": json.RawMessage(`"4"`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppResource(bundle); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppResourcePage50 renders the 50 resources of a full v2 page
// into one buffer, as a list handler does.
func BenchmarkAppResourcePage50(b *testing.B) {
	bundle := appBenchBundle(b)
	bundle.Env = map[string]json.RawMessage{"RAILS_ENV": json.RawMessage(`"production"`), "WORKERS": json.RawMessage(`"4"`)}
	bundles := make([]AppBundle, 50)
	for i := range bundles {
		bundles[i] = bundle
		bundles[i].App.GUID = fmt.Sprintf("%08d-fb05-47e1-b541-c34179ddc446", i)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		buf.WriteByte('[')
		for i := range bundles {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := AppendAppResource(&buf, bundles[i]); err != nil {
				b.Fatal(err)
			}
		}
		buf.WriteByte(']')
	}
}

// FuzzAppResource feeds arbitrary v3 bodies through the translation: it must
// not panic, and whatever it renders keeps CC's shape.
func FuzzAppResource(f *testing.F) {
	for _, in := range appGoldenCases(f) {
		raw, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	ref, err := os.ReadFile(filepath.Join("testdata", "app.current-shape.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in appGoldenInput
		if json.Unmarshal(raw, &in) != nil {
			return
		}
		got, err := AppResource(in.bundle())
		if err != nil {
			return // an env value that is not JSON; the caller's decoder rules that out
		}
		appCompareShape(t, appParseShape(t, ref), appParseShape(t, got))
	})
}
