package proxy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
	"capibridge/configs"
	"capibridge/proxy/shadow"
)

// Recorded native answers (testdata/recorded: copies of the Cloud
// Controller's own v2 bodies in shared/reference/v2) replayed as the
// native v2 API for the state the embedded CF holds: each recording's
// state is created through v3 with the recording's values, and the
// recording is rebased onto it, its guids and its resource's times
// replaced by those of what was created. Everything else in the body is
// the Cloud Controller's: its keys, their order, its values.
type recording struct {
	// file is in testdata/recorded; route is the v2 route template.
	file, route string
	// seed creates the recording's state and names its v2 path and, in
	// rb, what the recording's guids and times become.
	seed func(t *testing.T, s *stack, rb *rebase) string
}

// rebase is what a recording's identities become.
type rebase struct {
	texts []string // recorded, created, pairs
	// keys replace the first value of each key.
	keys [][2]string
}

// replace maps a recorded text (a guid, a URL holding one) to what the
// created state makes of it.
func (rb *rebase) replace(recorded, created string) { rb.texts = append(rb.texts, recorded, created) }

// key replaces the first string value of key with value.
func (rb *rebase) key(key, value string) { rb.keys = append(rb.keys, [2]string{key, value}) }

// times takes the created and updated times of a v3 resource.
func (rb *rebase) times(t *testing.T, v3 []byte) {
	t.Helper()
	var r struct {
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
	}
	if err := json.Unmarshal(v3, &r); err != nil || r.CreatedAt == "" {
		t.Fatalf("no times in %s", v3)
	}
	rb.key("created_at", r.CreatedAt)
	rb.key("updated_at", r.UpdatedAt)
}

// apply rebases a recorded body.
func (rb *rebase) apply(body []byte) []byte {
	out := strings.NewReplacer(rb.texts...).Replace(string(body))
	for _, kv := range rb.keys {
		out = replaceFirst(keyValue(kv[0]), out, `${1}"`+kv[1]+`"`)
	}
	return []byte(out)
}

// keyValue matches key and its string value.
func keyValue(key string) *regexp.Regexp {
	return regexp.MustCompile(`("` + regexp.QuoteMeta(key) + `"\s*:\s*)"[^"]*"`)
}

var recordedCreated = keyValue("created_at")

func replaceFirst(re *regexp.Regexp, s, repl string) string {
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s
	}
	return s[:loc[0]] + string(re.ExpandString(nil, repl, s, loc)) + s[loc[1]:]
}

// created POSTs a v3 body as admin and returns the new resource's guid
// and body.
func created(t *testing.T, s *stack, path, body string) (string, []byte) {
	t.Helper()
	r := s.do("POST", s.cfURL+path, "admin", []byte(body))
	if r.status != 201 {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	var v struct {
		GUID string `json:"guid"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.GUID == "" {
		t.Fatalf("POST %s: no guid in %s", path, r.body)
	}
	return v.GUID, r.body
}

// recordings: one per v2 route family that has a recorded single-resource
// answer, each with the state it describes.
func recordings() []recording {
	rel := func(name, guid string) string {
		return fmt.Sprintf(`"relationships":{%q:{"data":{"guid":%q}}}`, name, guid)
	}
	// org and space are an organization and a space of their own for a
	// recording that has them.
	n := 0
	org := func(t *testing.T, s *stack) string {
		n++
		guid, _ := created(t, s, "/v3/organizations", fmt.Sprintf(`{"name":"recorded-org-%d"}`, n))
		return guid
	}
	space := func(t *testing.T, s *stack, org string) string {
		guid, _ := created(t, s, "/v3/spaces", `{"name":"recorded-space",`+rel("organization", org)+`}`)
		return guid
	}
	return []recording{
		{"app.current-shape.json", "/v2/apps/:guid", recordedApp},
		{"organization.current-shape.json", "/v2/organizations/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			guid, body := created(t, s, "/v3/organizations", `{"name":"name-1716"}`)
			var o struct {
				Relationships struct {
					Quota struct{ Data struct{ GUID string } }
				}
			}
			_ = json.Unmarshal(body, &o)
			rb.replace("1c0e6074-777f-450e-9abc-c42f39d9b75b", guid)
			rb.replace("769e777f-92b6-4ba0-9e48-5f77e6293670", o.Relationships.Quota.Data.GUID)
			rb.times(t, body)
			return "/v2/organizations/" + guid
		}},
		{"quota_definition.current-shape.json", "/v2/quota_definitions/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			guid, body := created(t, s, "/v3/organization_quotas", `{"name":"name-1996",
				"apps":{"total_memory_in_mb":20480,"per_process_memory_in_mb":null,"total_instances":null,"per_app_tasks":null,"log_rate_limit_in_bytes_per_second":null},
				"services":{"paid_services_allowed":true,"total_service_instances":60,"total_service_keys":null},
				"routes":{"total_routes":1000,"total_reserved_ports":5},"domains":{"total_domains":null}}`)
			rb.replace("80f3e539-a8c0-4c43-9c72-649df53da8cb", guid)
			rb.times(t, body)
			return "/v2/quota_definitions/" + guid
		}},
		{"space.current-shape.json", "/v2/spaces/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			o := org(t, s)
			guid, body := created(t, s, "/v3/spaces", `{"name":"name-2064",`+rel("organization", o)+`}`)
			rb.replace("bc8d3381-390d-4bd7-8c71-25309900a2e3", guid)
			rb.replace("6e1ca5aa-55f1-4110-a97f-1f3473e771b9", o)
			rb.times(t, body)
			return "/v2/spaces/" + guid
		}},
		{"space_quota_definition.current-shape.json", "/v2/space_quota_definitions/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			o := org(t, s)
			guid, body := created(t, s, "/v3/space_quotas", `{"name":"name-1491",`+rel("organization", o)+`,
				"apps":{"total_memory_in_mb":20480,"per_process_memory_in_mb":null,"total_instances":null,"per_app_tasks":5,"log_rate_limit_in_bytes_per_second":null},
				"services":{"paid_services_allowed":true,"total_service_instances":60,"total_service_keys":600},
				"routes":{"total_routes":1000,"total_reserved_ports":null}}`)
			rb.replace("a9097bc8-c6cf-4a8f-bc47-623fa22e8019", guid)
			rb.replace("a065dfc7-3aed-4438-a6af-b1f42d9a4ed4", o)
			rb.times(t, body)
			return "/v2/space_quota_definitions/" + guid
		}},
		{"shared_domain.json", "/v2/shared_domains/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			guid, body := created(t, s, "/v3/domains", `{"name":"customer-app-domain1.com","internal":false}`)
			rb.replace("fa1385de-55ba-41d3-beb2-f83919c634d6", guid)
			rb.times(t, body)
			return "/v2/shared_domains/" + guid
		}},
		{"route.json", "/v2/routes/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			sp := space(t, s, org(t, s))
			dom, _ := created(t, s, "/v3/domains", `{"name":"recorded-route.example.com","internal":false}`)
			guid, body := created(t, s, "/v3/routes", `{"host":"host-13","relationships":{"domain":{"data":{"guid":"`+dom+`"}},"space":{"data":{"guid":"`+sp+`"}}}}`)
			// The recorded route is bound to a route service.
			si, _ := created(t, s, "/v3/service_instances", `{"type":"user-provided","name":"route-service","route_service_url":"https://rs.example.com",`+rel("space", sp)+`}`)
			if r := s.do("POST", s.cfURL+"/v3/service_route_bindings", "admin", []byte(`{"relationships":{"route":{"data":{"guid":"`+guid+`"}},"service_instance":{"data":{"guid":"`+si+`"}}}}`)); r.status != 201 && r.status != 202 {
				t.Fatalf("binding the route service: %d %s", r.status, r.body)
			}
			// The recorded route service is a managed instance, which the
			// embedded CF's broker does not offer; a user-provided one's
			// URL is under /v2/user_provided_service_instances
			// (cc:app/controllers/services/service_instances_controller.rb
			// url_for_guid).
			rb.replace("/v2/service_instances/bcfb342f-58c0-4f91-8fee-94eb4d752aef", "/v2/user_provided_service_instances/"+si)
			rb.replace("3682ced5-10d5-459a-bcd8-4765339eda8d", guid)
			rb.replace("e0424d83-b1c3-461c-872d-5baf63206c94", dom)
			rb.replace("04e7458f-9cd5-4653-8b77-60d29b5b478d", sp)
			rb.replace("bcfb342f-58c0-4f91-8fee-94eb4d752aef", si)
			rb.times(t, body)
			return "/v2/routes/" + guid
		}},
		{"user_provided_service_instance_via_service_instances.current-shape.json", "/v2/service_instances/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			sp := space(t, s, org(t, s))
			guid, body := created(t, s, "/v3/service_instances", `{"type":"user-provided","name":"name-1700","credentials":{"creds-key-58":"creds-val-58"},
				"syslog_drain_url":"https://foo.com/url-104","tags":["accounting","mongodb"],`+rel("space", sp)+`}`)
			rb.replace("e9358711-0ad9-4f2a-b3dc-289d47c17c87", guid)
			rb.replace("22236d1a-d9c7-44b7-bdad-2bb079a6c4a1", sp)
			rb.times(t, body)
			return "/v2/service_instances/" + guid
		}},
		{"user.json", "/v2/users/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			guid, body := created(t, s, "/v3/users", `{"guid":"uaa-id-317"}`)
			rb.times(t, body)
			return "/v2/users/" + guid
		}},
		{"security_group.json", "/v2/security_groups/:guid", func(t *testing.T, s *stack, rb *rebase) string {
			guid, body := created(t, s, "/v3/security_groups", `{"name":"dummy1","rules":[]}`)
			rb.replace("1452e164-0c3e-4a6c-b3c3-c40ad9fd0159", guid)
			rb.times(t, body)
			return "/v2/security_groups/" + guid
		}},
		{"feature_flag.json", "/v2/config/feature_flags/:name", func(*testing.T, *stack, *rebase) string {
			return "/v2/config/feature_flags/app_bits_upload"
		}},
	}
}

// recordedApp creates the recorded app: stopped, its web process with a
// command of its own, 1024 MB of memory and disk and a log rate, a bits
// package, and a droplet uploaded after it (so no buildpack detected it,
// as none did the recorded one's) as the current droplet.
func recordedApp(t *testing.T, s *stack, rb *rebase) string {
	guid, _ := created(t, s, "/v3/apps", `{"name":"app-name","relationships":{"space":{"data":{"guid":"`+backend.DemoSpaceGUID+`"}}}}`)
	var web struct {
		GUID, Version        string
		CreatedAt, UpdatedAt string `json:"-"`
	}
	s.v3JSON(t, "/v3/apps/"+guid+"/processes/web", &web)
	for _, w := range []struct{ path, body string }{
		{"/v3/processes/" + web.GUID, `{"command":"app-command"}`},
		{"/v3/processes/" + web.GUID + "/actions/scale", `{"memory_in_mb":1024,"disk_in_mb":1024,"log_rate_limit_in_bytes_per_second":1048576}`},
	} {
		method := "PATCH"
		if strings.HasSuffix(w.path, "/scale") {
			method = "POST"
		}
		if r := s.do(method, s.cfURL+w.path, "admin", []byte(w.body)); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", method, w.path, r.status, r.body)
		}
	}
	pkg := s.uploadBits(t, guid, map[string]string{"boot.sh": "#!/bin/sh\n"})
	// A package of the droplet's second counts as newer than the droplet
	// (PackageStateCalculator compares created_at with >=, MAPPING §1.4),
	// and the app as not staged: the droplet comes a second later.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	droplet, _ := created(t, s, "/v3/droplets", `{"relationships":{"app":{"data":{"guid":"`+guid+`"}}},"process_types":{"web":"$HOME/boot.sh"}}`)
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "boot.sh", Mode: 0o755, Size: 10}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte("#!/bin/sh\n"))
	_ = tw.Close()
	_ = gz.Close()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	w, _ := mw.CreateFormFile("bits", "droplet.tgz")
	_, _ = w.Write(tgz.Bytes())
	_ = mw.Close()
	if r := s.doRaw("POST", s.cfURL+"/v3/droplets/"+droplet+"/upload", "admin", mw.FormDataContentType(), form.Bytes()); r.status != 202 {
		t.Fatalf("uploading the droplet: %d %s", r.status, r.body)
	}
	waitFor(t, "the droplet to be staged", func() bool {
		var d struct{ State string }
		s.v3JSON(t, "/v3/droplets/"+droplet, &d)
		return d.State == "STAGED"
	})
	if r := s.do("PATCH", s.cfURL+"/v3/apps/"+guid+"/relationships/current_droplet", "admin", []byte(`{"data":{"guid":"`+droplet+`"}}`)); r.status != 200 {
		t.Fatalf("current droplet: %d %s", r.status, r.body)
	}
	var app struct {
		Lifecycle struct{ Data struct{ Stack string } }
	}
	s.v3JSON(t, "/v3/apps/"+guid, &app)
	var stacks struct{ Resources []struct{ GUID string } }
	s.v3JSON(t, "/v3/stacks?names="+app.Lifecycle.Data.Stack, &stacks)
	var p struct {
		CreatedAt string `json:"created_at"`
	}
	s.v3JSON(t, "/v3/packages/"+pkg, &p)
	if len(stacks.Resources) != 1 || p.CreatedAt == "" {
		t.Fatalf("stack %q: %+v; package created at %q", app.Lifecycle.Data.Stack, stacks, p.CreatedAt)
	}
	// The v2 app's times are its web process's (MAPPING §1.1), read
	// after the writes above.
	r := s.do("GET", s.cfURL+"/v3/processes/"+web.GUID, "admin", nil)
	if err := json.Unmarshal(r.body, &web); err != nil {
		t.Fatal(err)
	}
	rb.replace("15b3885d-0351-4b9b-8697-86641668c123", guid)
	rb.replace("7846301e-c84c-4ba9-9c6a-2dfdae948d52", backend.DemoSpaceGUID)
	rb.replace("7e03186d-a438-4285-b3b7-c426532e1df2", stacks.Resources[0].GUID)
	rb.replace("df19a7ea-2003-4ecb-a909-e630e43f2719", web.Version)
	// staging_task_id: the latest build's guid, else the latest
	// droplet's (MAPPING §1.1); there is no build.
	rb.replace("a1c5f0c2-5a0e-4d5c-9a56-3c8a5d4b2f10", droplet)
	rb.times(t, r.body)
	rb.key("package_updated_at", p.CreatedAt)
	// The recorded app's environment is NULL, which v3 cannot tell from
	// empty: it shows {} for both (MAPPING §1.1, environment_json), as an
	// app created through v2, which stores {}, shows it.
	rb.replace(`"environment_json": null`, `"environment_json": {}`)
	return "/v2/apps/" + guid
}

// recordedIgnore are the deviations MAPPING documents as deliberate for
// these recordings, as an operator would list them in shadow.ignore.
var recordedIgnore = []string{
	// MAPPING-orgs: a user's default space has no v3 concept: null, and
	// no default_space_url.
	"entity.default_space_guid", "entity.default_space_url",
}

// recordedChange changes a recorded answer as a wrong translation would
// differ from it, cycling through the kinds: it says the kind and path it
// makes, and the change.
func recordedChange(i int, body []byte) (shadow.Kind, string, func(int, []byte) (int, []byte)) {
	hasMetadata := strings.Contains(string(body), `"metadata"`)
	switch {
	case i%4 == 0 && hasMetadata:
		// A time years off: past any skew.
		return shadow.KindValue, "metadata.created_at", func(st int, b []byte) (int, []byte) {
			return st, []byte(replaceFirst(recordedCreated, string(b), `${1}"2001-01-01T00:00:00Z"`))
		}
	case i%4 == 1 && hasMetadata:
		return shadow.KindExtraKey, "metadata.updated_at", func(st int, b []byte) (int, []byte) {
			return st, regexp.MustCompile(`,\s*"updated_at"\s*:\s*"[^"]*"`).ReplaceAll(b, nil)
		}
	case i%4 == 2 && hasMetadata:
		return shadow.KindOrder, "metadata", func(st int, b []byte) (int, []byte) {
			return st, regexp.MustCompile(`("created_at"\s*:\s*"[^"]*")(\s*,\s*)("updated_at"\s*:\s*"[^"]*")`).ReplaceAll(b, []byte("$3$2$1"))
		}
	case i%4 == 3:
		return shadow.KindStatus, "", func(_ int, b []byte) (int, []byte) { return 404, b }
	}
	return shadow.KindMissingKey, "capibridge_extra", func(st int, b []byte) (int, []byte) {
		return st, []byte(strings.Replace(string(b), "{", `{"capibridge_extra":1,`, 1))
	}
}

// TestShadowAgainstRecordedV2 replays the Cloud Controller's own recorded
// v2 answers, rebased onto the state created for them, as the native side
// of shadow mode: the translation must match each (but for the ignored
// deviations), and each changed as a wrong translation would differ must
// be caught, with the kind and the path of the change.
func TestShadowAgainstRecordedV2(t *testing.T) {
	s := startStack(t, nil)
	g, replay := shadowGateway(t, s, func(c *configs.Shadow) { c.Ignore = recordedIgnore })
	// ended waits for the route's next comparison and says how it ended.
	ended := func(route string, before map[shadow.Result]float64) shadow.Result {
		t.Helper()
		var res shadow.Result
		waitMetric(t, func() bool {
			for _, r := range shadow.Results() {
				if comparisons(g, route, r) > before[r] {
					res = r
					return true
				}
			}
			return false
		})
		return res
	}
	counts := func(route string) map[shadow.Result]float64 {
		m := map[shadow.Result]float64{}
		for _, r := range shadow.Results() {
			m[r] = comparisons(g, route, r)
		}
		return m
	}
	for i, rec := range recordings() {
		body, err := os.ReadFile("testdata/recorded/" + rec.file)
		if err != nil {
			t.Fatal(err)
		}
		var rb rebase
		path := rec.seed(t, s, &rb)
		native := rb.apply(body)
		replay.record(path, native)

		replay.set(nil)
		before := counts(rec.route)
		r := s.do("GET", g.url+path, "admin", nil)
		if r.status != 200 || string(r.body) != string(native) {
			t.Errorf("%s: the client got %d %.300s, not the recorded answer", rec.file, r.status, r.body)
		}
		if res := ended(rec.route, before); res != shadow.Match {
			t.Errorf("%s: %s against the recorded answer: %+v", rec.file, res, lastSample(t, s, g, rec.route).Differences)
			continue
		}

		kind, at, change := recordedChange(i, native)
		replay.set(change)
		before = counts(rec.route)
		s.do("GET", g.url+path, "admin", nil)
		if res := ended(rec.route, before); res != shadow.Differ {
			t.Errorf("%s with a %s change: %s, not differ", rec.file, kind, res)
			continue
		}
		found := false
		sample := lastSample(t, s, g, rec.route)
		for _, d := range sample.Differences {
			found = found || d.Kind == kind && d.Path == at
		}
		if !found {
			t.Errorf("%s with a %s change at %q: differences %+v", rec.file, kind, at, sample.Differences)
		}
	}
}

// lastSample is the route's latest differing sample on /admin/shadow.
func lastSample(t *testing.T, s *stack, g launched, route string) shadow.Sample {
	t.Helper()
	if last := shadowReport(t, s, g)[route].Last; len(last) > 0 {
		return last[0]
	}
	return shadow.Sample{}
}
