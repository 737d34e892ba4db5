package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/proxy/auth"
)

// keysOf returns the top-level keys of a JSON object, in order.
func keysOf(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestV2InfoFromTheUpstream(t *testing.T) {
	s := startStack(t, nil)
	// A copy of shared/reference/v2/info.current-shape.json.
	ref, err := os.ReadFile(filepath.Join("testdata", "info.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	anon := s.do("GET", s.gwURL+"/v2/info", "", nil)
	if anon.status != 200 || string(anon.header.ContentType()) != contentTypeV2 {
		t.Fatalf("GET /v2/info: %d %s %s", anon.status, anon.header.ContentType(), anon.body)
	}
	var info map[string]any
	if err := json.Unmarshal(anon.body, &info); err != nil {
		t.Fatal(err)
	}
	// CC's key order; "user" only with a valid token, "custom" only when
	// set (cc app/controllers/runtime/info_controller.rb).
	want := strings.Join(keysOf(t, ref), ",")
	want = strings.TrimSuffix(want, ",user")
	if got := strings.Join(keysOf(t, anon.body), ","); got != want {
		t.Errorf("keys\n got %s\nwant %s", got, want)
	}
	// The UAA is the embedded one, passed through on the gateway's address.
	for key, value := range map[string]any{"api_version": "2.293.0", "authorization_endpoint": s.gwURL, "token_endpoint": s.gwURL,
		"min_cli_version": "6.22.0", "name": "capibridge", "doppler_logging_endpoint": nil, "app_ssh_endpoint": nil,
		"routing_endpoint": s.gwURL + "/routing"} {
		if info[key] != value {
			t.Errorf("%s = %v, want %v", key, info[key], value)
		}
	}
	withUser := s.do("GET", s.gwURL+"/v2/info", "developer", nil)
	if err := json.Unmarshal(withUser.body, &info); err != nil {
		t.Fatal(err)
	}
	if info["user"] != "05e40000-0000-4000-8000-000000000002" {
		t.Errorf("user = %v, want the developer's guid", info["user"])
	}
	bad := s.do("GET", s.gwURL+"/v2/info", "bearer nonsense", nil)
	if bad.status != 200 || bytes.Contains(bad.body, []byte(`"user"`)) {
		t.Errorf("an invalid token on /v2/info: %d %s", bad.status, bad.body)
	}
}

func TestPassthroughIsTheUpstreamsAnswer(t *testing.T) {
	s := startStack(t, nil)
	body := []byte(`{"name":"through","relationships":{"space":{"data":{"guid":"5ace0000-0000-4000-8000-000000000001"}}}}`)
	created := s.do("POST", s.gwURL+"/v3/apps", "developer", body)
	if created.status != 201 {
		t.Fatalf("create through the gateway: %d %s", created.status, created.body)
	}
	var app struct {
		GUID  string
		Links struct{ Self struct{ Href string } }
	}
	if err := json.Unmarshal(created.body, &app); err != nil {
		t.Fatal(err)
	}
	// The embedded CF builds links from X-Forwarded-Host: they name the gateway.
	if !strings.HasPrefix(app.Links.Self.Href, s.gwURL+"/v3/apps/") {
		t.Errorf("self link %s does not point at the gateway %s", app.Links.Self.Href, s.gwURL)
	}
	via := s.do("GET", s.gwURL+"/v3/apps/"+app.GUID, "developer", nil)
	direct := s.do("GET", s.cfURL+"/v3/apps/"+app.GUID, "developer", nil, "X-Forwarded-Host", strings.TrimPrefix(s.gwURL, "http://"))
	if via.status != 200 || !bytes.Equal(via.body, direct.body) {
		t.Errorf("through the gateway %d %s\ndirect %d %s", via.status, via.body, direct.status, direct.body)
	}
	// The Cloud Controller decides v3 authorisation: an auditor's write is its 403.
	denied := s.do("PATCH", s.gwURL+"/v3/apps/"+app.GUID, "auditor", []byte(`{"name":"x"}`))
	if denied.status != 403 || !bytes.Contains(denied.body, []byte("CF-NotAuthorized")) {
		t.Errorf("auditor PATCH: %d %s", denied.status, denied.body)
	}
}

func TestRequestID(t *testing.T) {
	s := startStack(t, nil)
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	cases := []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, "^" + uuid + "$"},
		{"vcap id cleaned", []string{"X-Vcap-Request-Id", "abc$%/def_1-2"}, "^abcdef_1-2::" + uuid + "$"},
		{"x-request-id", []string{"X-Request-Id", "from-lb"}, "^from-lb::" + uuid + "$"},
		{"vcap wins", []string{"X-Vcap-Request-Id", "vcap", "X-Request-Id", "other"}, "^vcap::" + uuid + "$"},
		{"cut to 255", []string{"X-Vcap-Request-Id", strings.Repeat("a", 300)}, "^a{255}::" + uuid + "$"},
		{"nothing left", []string{"X-Vcap-Request-Id", "$$$"}, "^" + uuid + "$"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v3/info", "/v2/nope", "/v3/apps"} {
				r := s.do("GET", s.gwURL+path, "", nil, tc.headers...)
				got := string(r.header.Peek("X-VCAP-Request-ID"))
				if !regexp.MustCompile(tc.want).MatchString(got) {
					t.Errorf("%s: X-VCAP-Request-ID %q, want %s", path, got, tc.want)
				}
			}
		})
	}
}

func TestAuthErrorsInTheRightShape(t *testing.T) {
	s := startStack(t, func(c *configs.Config) { c.V2Passthrough = []string{"/v2/service_brokers"} })
	// A UAA token's aud comes from its scopes: one without any
	// cloud_controller scope is not meant for the Cloud Controller at all.
	noCC := s.mintToken(t, []string{"openid"})
	writeOnly := s.mintToken(t, []string{"cloud_controller.write"})
	cases := []struct {
		name, method, path, user string
		status                   int
		body                     string
	}{
		{"v3 no token", "GET", "/v3/apps", "", 401, `{"errors":[{"detail":"Authentication error","title":"CF-NotAuthenticated","code":10002}]}`},
		{"v3 basic auth", "GET", "/v3/apps", "Basic YWRtaW46YWRtaW4=", 401, `{"errors":[{"detail":"Authentication error","title":"CF-NotAuthenticated","code":10002}]}`},
		{"v3 bad token", "GET", "/v3/apps", "bearer abc.def.ghi", 401, `{"errors":[{"detail":"Invalid Auth Token","title":"CF-InvalidAuthToken","code":1000}]}`},
		{"v2 passthrough no token", "GET", "/v2/service_brokers", "", 401, `{"description":"Authentication error","error_code":"CF-NotAuthenticated","code":10002}` + "\n"},
		{"v2 passthrough bad token", "GET", "/v2/service_brokers", "bearer abc.def.ghi", 401, `{"description":"Invalid Auth Token","error_code":"CF-InvalidAuthToken","code":1000}` + "\n"},
		{"v2 no cloud_controller audience", "GET", "/v2/service_brokers", noCC, 401, `{"description":"Invalid Auth Token","error_code":"CF-InvalidAuthToken","code":1000}` + "\n"},
		{"v2 missing read scope", "GET", "/v2/service_brokers", writeOnly, 403,
			`{"description":"Your token lacks the necessary scopes to access this resource.","error_code":"CF-InsufficientScope","code":10007}` + "\n"},
		{"v2 missing write scope", "DELETE", "/v2/service_brokers/x", s.mintToken(t, []string{"cloud_controller.read"}), 403,
			`{"description":"Your token lacks the necessary scopes to access this resource.","error_code":"CF-InsufficientScope","code":10007}` + "\n"},
		{"v2 untranslated route, no token", "GET", "/v2/service_usage_events", "", 404, `{"description":"Unknown request","error_code":"CF-NotFound","code":10000}` + "\n"},
		{"elsewhere unknown", "GET", "/v4/apps", "", 404, `{"errors":[{"detail":"Unknown request","title":"CF-NotFound","code":10000}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, s.gwURL+tc.path, tc.user, nil)
			if r.status != tc.status || string(r.body) != tc.body {
				t.Errorf("got %d %q\nwant %d %q", r.status, r.body, tc.status, tc.body)
			}
			wantCT := contentTypeV3
			if strings.HasPrefix(tc.path, "/v2") {
				wantCT = contentTypeV2
			}
			if ct := string(r.header.ContentType()); ct != wantCT {
				t.Errorf("Content-Type %q, want %q", ct, wantCT)
			}
		})
	}
	if got := testutil.ToFloat64(s.m.AuthFailures.WithLabelValues("missing")); got != 3 {
		t.Errorf("auth failures (missing) = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.m.AuthFailures.WithLabelValues("scope")); got != 2 {
		t.Errorf("auth failures (scope) = %v, want 2", got)
	}
}

func TestRootLinksPointAtTheGateway(t *testing.T) {
	s := startStack(t, nil)
	var root struct {
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"links"`
	}
	r := s.do("GET", s.gwURL+"/", "", nil)
	if err := json.Unmarshal(r.body, &root); err != nil {
		t.Fatal(err)
	}
	// The other links are the upstream's own, as it gives them to a client
	// that reached it through this host.
	direct := s.do("GET", s.cfURL+"/", "", nil, "X-Forwarded-Host", strings.TrimPrefix(s.gwURL, "http://"))
	var upstream struct {
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(direct.body, &upstream); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"self": s.gwURL, "cloud_controller_v2": s.gwURL + "/v2", "cloud_controller_v3": s.gwURL + "/v3",
		"uaa": s.gwURL, "login": s.gwURL, "log_cache": s.gwURL, "routing": s.gwURL + "/routing", "network_policy_v0": upstream.Links["network_policy_v0"].Href} {
		if got := root.Links[name].Href; got != want || want == "" {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// What the embedded CF does not run stays null, as CC renders a
	// component it is not configured with.
	for _, name := range []string{"credhub", "logging", "log_stream"} {
		if !bytes.Contains(r.body, []byte(`"`+name+`":null`)) {
			t.Errorf("%s is not null: %s", name, r.body)
		}
	}
	// Key order is the upstream's.
	var a, b struct{ Links json.RawMessage }
	_ = json.Unmarshal(r.body, &a)
	_ = json.Unmarshal(direct.body, &b)
	if strings.Join(keysOf(t, a.Links), ",") != strings.Join(keysOf(t, b.Links), ",") {
		t.Errorf("link order changed:\n%s\n%s", a.Links, b.Links)
	}

	// Behind a configured external URL, every v3 link of /v3 names it.
	ext := startStack(t, func(c *configs.Config) { c.ExternalURL = "https://api.example.org" })
	v3 := ext.do("GET", ext.gwURL+"/v3", "", nil)
	var doc struct {
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(v3.body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Links) < 10 {
		t.Fatalf("few links: %s", v3.body)
	}
	for name, l := range doc.Links {
		if !strings.HasPrefix(l.Href, "https://api.example.org/v3") {
			t.Errorf("/v3 link %s = %q", name, l.Href)
		}
	}
	// And so does every link of / and /v2/info, the UAA's included.
	extRoot := ext.do("GET", ext.gwURL+"/", "", nil)
	if err := json.Unmarshal(extRoot.body, &doc); err != nil {
		t.Fatal(err)
	}
	for name, l := range doc.Links {
		if l.Href != "" && !strings.HasPrefix(l.Href, "https://api.example.org") {
			t.Errorf("/ link %s = %q", name, l.Href)
		}
	}
	var info struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(ext.do("GET", ext.gwURL+"/v2/info", "", nil).body, &info); err != nil {
		t.Fatal(err)
	}
	if info.Auth != "https://api.example.org" || info.Token != "https://api.example.org" {
		t.Errorf("/v2/info names the UAA at %q and %q", info.Auth, info.Token)
	}
}

func TestV2PassthroughPrefixes(t *testing.T) {
	s := startStack(t, func(c *configs.Config) { c.V2Passthrough = []string{"/v2/service_brokers"} })
	// The embedded CF serves no v2: what comes back is its own 404, in its v3 shape.
	r := s.do("GET", s.gwURL+"/v2/service_brokers", "admin", nil)
	if r.status != 404 || !bytes.Contains(r.body, []byte(`"errors"`)) {
		t.Errorf("forwarded v2 path: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/service_brokers_extra", "admin", nil)
	if r.status != 404 || !bytes.Contains(r.body, []byte(`"error_code":"CF-NotFound"`)) {
		t.Errorf("a path that only shares the prefix's text was forwarded: %d %s", r.status, r.body)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	s := startStack(t, nil)
	s.do("GET", s.gwURL+"/v3/apps", "developer", nil)
	s.do("GET", s.gwURL+"/v3/apps/some-guid", "developer", nil)
	s.do("GET", s.gwURL+"/v3/whatever/x/y", "developer", nil)
	cases := []struct {
		labels []string
		want   float64
	}{
		{[]string{"/v3/apps", "GET", "2xx"}, 1},
		{[]string{"/v3/apps/:guid", "GET", "4xx"}, 1},
		{[]string{"/v3/_other", "GET", "4xx"}, 1},
	}
	for _, tc := range cases {
		if got := testutil.ToFloat64(s.m.Requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("requests%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(s.m.UpstreamRequests.WithLabelValues("/v3/apps", "ok")); got != 1 {
		t.Errorf("upstream ok for /v3/apps = %v", got)
	}
	if got := testutil.ToFloat64(s.m.InFlight); got != 0 {
		t.Errorf("in flight after the requests = %v", got)
	}
	m := s.do("GET", s.adminURL+"/metrics", "", nil)
	for _, want := range []string{`capibridge_http_requests_total{method="GET",route="/v3/apps",status_class="2xx"} 1`, "capibridge_build_info"} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if problems, err := testutil.GatherAndLint(s.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/debug/pprof/": 200, "/nope": 404} {
		if r := s.do("GET", s.adminURL+path, "", nil); r.status != want {
			t.Errorf("admin %s: %d, want %d", path, r.status, want)
		}
	}
}

// capibridge_ready says what /readyz says: 1 in front of an upstream that
// answers, 0 (and 503) once it does not.
func TestReadinessGauge(t *testing.T) {
	s := startStack(t, nil)
	ln := listen(t)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(200) }}
	go up.Serve(ln)
	cfg := testGatewayConfig()
	cfg.Upstream = "http://" + ln.Addr().String()
	g := launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	ready := func() (int, string) {
		t.Helper()
		r := s.do("GET", g.adminURL+"/readyz", "", nil)
		m := s.do("GET", g.adminURL+"/metrics", "", nil)
		for _, line := range strings.Split(string(m.body), "\n") {
			if strings.HasPrefix(line, "capibridge_ready ") {
				return r.status, line
			}
		}
		t.Fatalf("/metrics has no capibridge_ready")
		return 0, ""
	}
	if status, line := ready(); status != 200 || line != "capibridge_ready 1" {
		t.Errorf("upstream answering: /readyz %d, %s", status, line)
	}
	_ = up.Shutdown()
	_ = ln.Close()
	time.Sleep(readyTTL + 100*time.Millisecond) // past the cached answer
	if status, line := ready(); status != 503 || line != "capibridge_ready 0" {
		t.Errorf("upstream gone: /readyz %d, %s", status, line)
	}
}
