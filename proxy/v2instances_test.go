package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
	"capibridge/configs"
)

// quickStack is a stack whose embedded CF stages and starts in a moment.
func quickStack(t *testing.T) *stack {
	return startStackWith(t, func(b *configs.Backend) {
		b.StagingDuration, b.StartupDuration = 20*time.Millisecond, 20*time.Millisecond
	}, nil)
}

// startedApp creates a docker app through v3, stages it, gives it the
// droplet and starts it, as a v3 client would.
func (s *stack) startedApp(t *testing.T, name string) string {
	t.Helper()
	guid := s.v3Create(t, "developer", "/v3/apps", fmt.Sprintf(`{"name":%q,"lifecycle":{"type":"docker","data":{}},"relationships":{"space":{"data":{"guid":%q}}}}`,
		name, backend.DemoSpaceGUID))
	pkg := s.v3Create(t, "developer", "/v3/packages", fmt.Sprintf(`{"type":"docker","data":{"image":"nginx:1"},"relationships":{"app":{"data":{"guid":%q}}}}`, guid))
	s.stageAndStart(t, guid, pkg)
	return guid
}

// startedBuildpackApp is startedApp for a buildpack app with bits.
func (s *stack) startedBuildpackApp(t *testing.T, name string) string {
	t.Helper()
	guid := s.createApps(t, "developer", name)[0]
	s.uploadBits(t, guid, map[string]string{"Procfile": "web: ./server\n", "server": "#!/bin/sh\n"})
	var pkgs struct{ Resources []struct{ GUID string } }
	r := s.do("GET", s.cfURL+"/v3/apps/"+guid+"/packages", "developer", nil)
	if err := json.Unmarshal(r.body, &pkgs); err != nil || len(pkgs.Resources) != 1 {
		t.Fatalf("packages: %s", r.body)
	}
	s.stageAndStart(t, guid, pkgs.Resources[0].GUID)
	return guid
}

// stageAndStart stages the package, makes its droplet current and starts
// the app.
func (s *stack) stageAndStart(t *testing.T, guid, pkg string) {
	t.Helper()
	waitFor(t, "the package to be ready", func() bool {
		r := s.do("GET", s.cfURL+"/v3/packages/"+pkg, "developer", nil)
		return strings.Contains(string(r.body), `"state":"READY"`)
	})
	build := s.v3Create(t, "developer", "/v3/builds", fmt.Sprintf(`{"package":{"guid":%q}}`, pkg))
	var b struct {
		State   string
		Droplet *struct{ GUID string }
	}
	waitFor(t, "the build to stage", func() bool {
		r := s.do("GET", s.cfURL+"/v3/builds/"+build, "developer", nil)
		_ = json.Unmarshal(r.body, &b)
		return b.State == "STAGED" || b.State == "FAILED"
	})
	if b.State != "STAGED" || b.Droplet == nil {
		t.Fatalf("build %+v", b)
	}
	if r := s.do("PATCH", s.cfURL+"/v3/apps/"+guid+"/relationships/current_droplet", "developer", []byte(fmt.Sprintf(`{"data":{"guid":%q}}`, b.Droplet.GUID))); r.status != 200 {
		t.Fatalf("current droplet: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.cfURL+"/v3/apps/"+guid+"/actions/start", "developer", nil); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
}

func TestV2AppStatsAndInstances(t *testing.T) {
	s := quickStack(t)
	guid := s.startedApp(t, "running")
	route, _ := s.serviceFixture(t, guid, "running", "running-db")
	base := s.gwURL + "/v2/apps/" + guid

	var inst map[string]struct {
		State  string
		Since  float64
		Uptime int64
	}
	waitFor(t, "the instance to run", func() bool {
		r := s.do("GET", base+"/instances", "developer", nil)
		_ = json.Unmarshal(r.body, &inst)
		return r.status == 200 && inst["0"].State == "RUNNING"
	})
	if inst["0"].Since <= 0 || inst["0"].Since > float64(time.Now().Unix()+1) {
		t.Errorf("instances %+v", inst)
	}

	r := s.do("GET", base+"/stats", "developer", nil)
	var stats map[string]struct {
		State string
		Stats struct {
			Name     string
			URIs     []string
			Host     string
			Port     int
			MemQuota int64 `json:"mem_quota"`
			Usage    map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(r.body, &stats); err != nil || r.status != 200 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	st := stats["0"]
	if st.State != "RUNNING" || st.Stats.Name != "running" || len(st.Stats.URIs) != 1 || st.Stats.URIs[0] != "running."+backend.SharedDomainName ||
		st.Stats.Host == "" || st.Stats.Port == 0 || st.Stats.MemQuota != 1024<<20 || st.Stats.Usage["mem"] == nil {
		t.Errorf("stats %s", r.body)
	}
	if got := strings.Join(keysOf(t, mustField(t, mustField(t, r.body, "0"), "stats")), ","); got !=
		"name,uris,host,instance_guid,port,uptime,fds_quota,mem_quota,disk_quota,log_rate_limit,usage" {
		t.Errorf("stats keys %s", got)
	}

	// Kill instance 0: v3 restarts it.
	if r := s.do("DELETE", base+"/instances/0", "developer", nil); r.status != 204 {
		t.Errorf("kill: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", base+"/instances/7", "developer", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-InstancesError") {
		t.Errorf("kill a missing index: %d %s", r.status, r.body)
	}

	// Unmap and map the route back.
	if r := s.do("DELETE", base+"/routes/"+route, "developer", nil); r.status != 204 {
		t.Fatalf("unmap: %d %s", r.status, r.body)
	}
	if r := s.do("GET", base+"/routes", "developer", nil); listTotal(t, r) != 0 {
		t.Errorf("routes after unmap: %s", r.body)
	}
	for range 2 { // mapping twice is a success both times
		if r := s.do("PUT", base+"/routes/"+route, "developer", nil); r.status != 201 || !strings.Contains(string(r.body), `"guid":"`+guid+`"`) {
			t.Fatalf("map: %d %s", r.status, r.body)
		}
	}
	if r := s.do("GET", base+"/route_mappings", "developer", nil); listTotal(t, r) != 1 {
		t.Errorf("mappings after map: %s", r.body)
	}
	if r := s.do("PUT", base+"/routes/no-such-route", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), `"CF-RouteNotFound","code":210002`) {
		t.Errorf("map a missing route: %d %s", r.status, r.body)
	}

	// A crash, recorded by the embedded CF, is listed.
	if r := s.do("PATCH", s.cfURL+"/v3/apps/"+guid+"/processes/web", "developer", []byte(`{"command":"capibridge-crash now"}`)); r.status != 200 {
		t.Fatalf("crashing command: %d %s", r.status, r.body)
	}
	var crashes []struct {
		Instance string
		Since    float64
	}
	waitFor(t, "a crash", func() bool {
		s.do("GET", base+"/stats", "developer", nil) // the embedded CF records crashes it observes
		r := s.do("GET", base+"/crashes", "developer", nil)
		_ = json.Unmarshal(r.body, &crashes)
		return len(crashes) > 0
	})
	if crashes[0].Instance == "" || crashes[0].Since <= 0 {
		t.Errorf("crashes %+v", crashes)
	}
	// The crash is an app event, which q narrows (timestamp, app_guid).
	for q, want := range map[string]bool{"": true, "?q=timestamp>2099-01-01T00:00:00Z": false, "?q=timestamp<2099-01-01T00:00:00Z": true,
		"?q=app_guid:" + guid: true, "?q=app_guid>" + guid: true, "?q=app_guid:another": false, "?q=app_guid%20IN%20another," + guid: true} {
		r := s.do("GET", base+"/events"+q, "developer", nil)
		if n := listTotal(t, r); (n > 0) != want {
			t.Errorf("events%s: %d, want some: %v", q, n, want)
		}
	}

	// The space's and the org's app events are their apps' crashes: the
	// same event, the same q keys; a missing parent is its not-found.
	for _, parent := range []string{"/v2/spaces/" + backend.DemoSpaceGUID, "/v2/organizations/" + backend.DemoOrgGUID} {
		r := s.do("GET", s.gwURL+parent+"/app_events?q=app_guid:"+guid, "developer", nil)
		var l v2List
		if err := json.Unmarshal(r.body, &l); err != nil || l.TotalResults < 1 || string(l.Resources[0].Entity["app_guid"]) != `"`+guid+`"` ||
			!strings.HasPrefix(l.Resources[0].Metadata.URL, "/v2/app_events/") {
			t.Errorf("%s/app_events: %d %s", parent, r.status, r.body)
		}
		if n := listTotal(t, s.do("GET", s.gwURL+parent+"/app_events?q=app_guid:another", "developer", nil)); n != 0 {
			t.Errorf("%s/app_events of another app: %d", parent, n)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/spaces/no-such-space/app_events", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-SpaceNotFound") {
		t.Errorf("app events of a missing space: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations/no-such-org/app_events", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-OrganizationNotFound") {
		t.Errorf("app events of a missing org: %d %s", r.status, r.body)
	}
	// The space's events: every audit event of the space, as /v2/events
	// with its space_guid, the same q keys.
	r = s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/events?q=type:audit.app.create", "developer", nil)
	var sl v2List
	if err := json.Unmarshal(r.body, &sl); err != nil || sl.TotalResults < 1 {
		t.Fatalf("space events: %d %s", r.status, r.body)
	}
	for _, res := range sl.Resources {
		if string(res.Entity["space_guid"]) != `"`+backend.DemoSpaceGUID+`"` || string(res.Entity["type"]) != `"audit.app.create"` {
			t.Errorf("space events let through %s %s", res.Entity["space_guid"], res.Entity["type"])
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/spaces/no-such-space/events", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-SpaceNotFound") {
		t.Errorf("events of a missing space: %d %s", r.status, r.body)
	}

	// Stopped: both refuse, in CC's words.
	if r := s.do("POST", s.cfURL+"/v3/apps/"+guid+"/actions/stop", "developer", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := s.do("GET", base+"/stats", "developer", nil); r.status != 400 ||
		string(r.body) != `{"description":"Could not fetch stats for stopped app: running","error_code":"CF-AppStoppedStatsError","code":200003}`+"\n" {
		t.Errorf("stats of a stopped app: %d %s", r.status, r.body)
	}
	if r := s.do("GET", base+"/instances", "developer", nil); r.status != 400 ||
		string(r.body) != `{"description":"Instances error: Request failed for app: running as the app is in stopped state.","error_code":"CF-InstancesError","code":220001}`+"\n" {
		t.Errorf("instances of a stopped app: %d %s", r.status, r.body)
	}
}

func TestV2AppInstancesNotStaged(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "unstaged")[0]
	if r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/instances", "developer", nil); r.status != 400 || !strings.Contains(string(r.body), `"CF-NotStaged","code":170002`) {
		t.Errorf("%d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/apps/no-such-app/stats", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-AppNotFound") {
		t.Errorf("%d %s", r.status, r.body)
	}
}

// mustField returns the raw value of key in the JSON object b.
func mustField(t *testing.T, b []byte, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m[key] == nil {
		t.Fatalf("no %q in %s", key, b)
	}
	return m[key]
}
