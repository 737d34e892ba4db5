package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"capibridge/internal/redistest"
	"capibridge/metrics"
	"capibridge/proxy/v2api"
)

// upstreamBy sums capibridge_upstream_requests_total by v3 route template.
func upstreamBy(t testing.TB, g launched) map[string]float64 {
	t.Helper()
	return counterBy(t, g, "capibridge_upstream_requests_total", "route")
}

// counterBy sums the gateway's counter name by the value of label.
func counterBy(t testing.TB, g launched, name, label string) map[string]float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelOf(m, label)] += m.GetCounter().GetValue()
		}
	}
	return out
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// perAppReads are the upstream routes of the reads v3 has no batch for.
var perAppReads = []string{"/v3/apps/:guid/*", "/v3/processes/:guid"}

// appsByName reads /v2/apps through g afresh (past the page cache, so
// that only fragments can save upstream reads) and returns each app's
// entity by name, and how many per-app reads it cost upstream.
func appsByName(t *testing.T, s *stack, g launched, user string) (map[string]map[string]json.RawMessage, int) {
	apps, n, _ := appsAndCost(t, s, g, user)
	return apps, n
}

// appsAndCost is appsByName that also says how many upstream requests the
// page cost in all.
func appsAndCost(t *testing.T, s *stack, g launched, user string) (map[string]map[string]json.RawMessage, int, int) {
	t.Helper()
	body, cost := freshRead(t, s, g, user, "/v2/apps?results-per-page=100")
	var l v2List
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("%v %s", err, body)
	}
	n, total := 0, 0
	for _, route := range perAppReads {
		n += cost[route]
	}
	for _, c := range cost {
		total += c
	}
	out := map[string]map[string]json.RawMessage{}
	for _, res := range l.Resources {
		var name string
		_ = json.Unmarshal(res.Entity["name"], &name)
		out[name] = res.Entity
	}
	return out, n, total
}

// settle waits until what was written before it is older than the
// fragments' settling time.
func settle() { time.Sleep(v2api.FragmentSettle + time.Second) }

// TestFragmentsNeverStale: the per-app parts v3 has no batch read for are
// kept per app and read again only when the app's stamp moved; a write
// straight to the Cloud Controller, around the gateway, shows on the next
// read, also one in the same second as the read before it; a reader of
// another class never gets a developer's parts.
func TestFragmentsNeverStale(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	g := s.cachedGateway(t, s.cfURL, "", nil)
	guids := s.createApps(t, "developer", "f-one", "f-two", "f-three")
	var web struct{ GUID string }
	s.v3JSON(t, "/v3/apps/"+guids[2]+"/processes/web", &web)
	settle()

	if _, n := appsByName(t, s, g, "developer"); n != 3*3 {
		t.Errorf("cold: %d per-app reads, want 9 (env, ssh, command of each)", n)
	}
	// Warm: the six batch lists (apps, web processes, packages, builds,
	// droplets, routes); the stacks are kept as pages are.
	if _, n, total := appsAndCost(t, s, g, "developer"); n != 0 || total != 6 {
		t.Errorf("warm: %d per-app reads, %d in all, want none and 6", n, total)
	}
	// The auditor's parts are its own: the developer's are not served to it.
	apps, n := appsByName(t, s, g, "auditor")
	if n != 3*2 {
		t.Errorf("auditor: %d per-app reads, want 6 (env and command of each; ssh is shared)", n)
	}
	if got := string(apps["f-one"]["environment_json"]); !strings.Contains(got, "PRIVATE DATA HIDDEN") {
		t.Errorf("the auditor reads environment_json %s", got)
	}

	write := func(method, path, body string) {
		t.Helper()
		if r := s.do(method, s.cfURL+path, "developer", []byte(body)); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
	}
	write("PATCH", "/v3/apps/"+guids[0]+"/environment_variables", `{"var":{"K":"changed"}}`)
	write("PATCH", "/v3/apps/"+guids[1]+"/features/ssh", `{"enabled":false}`)
	write("PATCH", "/v3/processes/"+web.GUID, `{"command":"./run-it"}`)
	apps, n = appsByName(t, s, g, "developer")
	if got := string(apps["f-one"]["environment_json"]); got != `{"K":"changed"}` {
		t.Errorf("environment_json after a write around the gateway: %s", got)
	}
	if got := string(apps["f-two"]["enable_ssh"]); got != "false" {
		t.Errorf("enable_ssh after a write around the gateway: %s", got)
	}
	if got := string(apps["f-three"]["command"]); got != `"./run-it"` {
		t.Errorf("command after a write around the gateway: %s", got)
	}
	if n != 2+2+1 {
		t.Errorf("%d per-app reads after three writes, want 5 (env and ssh of two apps, one command)", n)
	}

	// Two writes in one second, with a read between them: the stamp
	// (updated_at, whole seconds) is the same after both, so what the first
	// read saw must not have been kept.
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			t.Fatal("never managed two writes in one second")
		}
		sec := time.Now().Unix()
		write("PATCH", "/v3/apps/"+guids[0]+"/environment_variables", fmt.Sprintf(`{"var":{"K":"first-%d"}}`, attempt))
		appsByName(t, s, g, "developer")
		write("PATCH", "/v3/apps/"+guids[0]+"/environment_variables", fmt.Sprintf(`{"var":{"K":"second-%d"}}`, attempt))
		if time.Now().Unix() != sec {
			continue
		}
		apps, _ = appsByName(t, s, g, "developer")
		if got, want := string(apps["f-one"]["environment_json"]), fmt.Sprintf(`{"K":"second-%d"}`, attempt); got != want {
			t.Errorf("after two writes in one second: %s, want %s", got, want)
		}
		break
	}
}

// TestFragmentsSharedThroughRedis: what one instance read is kept in
// Redis, and another instance's first read of the page takes it from
// there; a write through either drops the app's parts.
func TestFragmentsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	rs := redistest.Start(t)
	a := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	b := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	guids := s.createApps(t, "developer", "r-one", "r-two")
	settle()
	if _, n := appsByName(t, s, a, "developer"); n != 2*3 {
		t.Errorf("a, cold: %d per-app reads, want 6", n)
	}
	if _, n := appsByName(t, s, b, "developer"); n != 0 {
		t.Errorf("b after a: %d per-app reads, want none (Redis)", n)
	}
	if r := s.do("PUT", a.url+"/v2/apps/"+guids[0], "developer", []byte(`{"environment_json":{"X":"y"}}`)); r.status != 201 {
		t.Fatalf("update through a: %d %s", r.status, r.body)
	}
	apps, _ := appsByName(t, s, b, "developer")
	if got := string(apps["r-one"]["environment_json"]); got != `{"X":"y"}` {
		t.Errorf("b after a's write: %s", got)
	}
}

// stagedDroplet stages a bits package of files for the app through the
// embedded CF and returns the droplet.
func (s *stack) stagedDroplet(t *testing.T, app string, files map[string]string) string {
	t.Helper()
	pkg := s.uploadBits(t, app, files)
	build := s.v3Create(t, "developer", "/v3/builds", fmt.Sprintf(`{"package":{"guid":%q}}`, pkg))
	var b struct {
		State   string
		Droplet struct{ GUID string }
	}
	waitFor(t, "the build to stage", func() bool { s.v3JSON(t, "/v3/builds/"+build, &b); return b.State == "STAGED" })
	return b.Droplet.GUID
}

// TestFragmentsFollowTheCurrentDroplet: the current droplet and the web
// process's command are kept, and a droplet assigned around the gateway
// shows on the next read, both read again.
func TestFragmentsFollowTheCurrentDroplet(t *testing.T) {
	t.Parallel()
	s := startStackStaging(t, 20*time.Millisecond)
	g := s.cachedGateway(t, s.cfURL, "", nil)
	guids := s.createApps(t, "developer", "d-one", "d-other")
	d1 := s.stagedDroplet(t, guids[0], map[string]string{"Procfile": "web: ./one", "Staticfile": ""})
	d2 := s.stagedDroplet(t, guids[0], map[string]string{"Procfile": "web: ./two", "Staticfile": ""})
	assign := func(d string) {
		t.Helper()
		if r := s.do("PATCH", s.cfURL+"/v3/apps/"+guids[0]+"/relationships/current_droplet", "developer",
			[]byte(fmt.Sprintf(`{"data":{"guid":%q}}`, d))); r.status != 200 {
			t.Fatalf("current droplet: %d %s", r.status, r.body)
		}
	}
	assign(d1)
	settle()
	apps, _ := appsByName(t, s, g, "developer")
	if got := string(apps["d-one"]["detected_start_command"]); got != `"./one"` {
		t.Fatalf("detected_start_command %s", got)
	}
	if apps, n := appsByName(t, s, g, "developer"); n != 0 || string(apps["d-one"]["detected_start_command"]) != `"./one"` {
		t.Errorf("warm: %d per-app reads, detected_start_command %s", n, apps["d-one"]["detected_start_command"])
	}
	assign(d2)
	apps, n := appsByName(t, s, g, "developer")
	if got := string(apps["d-one"]["detected_start_command"]); got != `"./two"` {
		t.Errorf("detected_start_command after another droplet was assigned: %s", got)
	}
	// v2's command is the one the user gave (null here); the web
	// process's own GET, read again, now shows the new droplet's.
	if n != 4 {
		t.Errorf("%d per-app reads, want 4 (the app's env, ssh, command and droplet)", n)
	}
}

// freshRead GETs path through g afresh (Cache-Control: no-cache: past the
// page cache, so that only fragments can save upstream reads) and returns
// the body and the upstream requests it cost, by v3 route.
func freshRead(t testing.TB, s *stack, g launched, user, path string) ([]byte, map[string]int) {
	t.Helper()
	before := upstreamBy(t, g)
	r := s.do("GET", g.url+path, user, nil, "Cache-Control", "no-cache")
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	cost := map[string]int{}
	for route, v := range upstreamBy(t, g) {
		if d := int(v - before[route]); d > 0 {
			cost[route] = d
		}
	}
	return r.body, cost
}

// A space's allow_ssh and a binding's details are fragments too: kept,
// read again after a change around the gateway, per reader class where
// readers see them differently.
func TestFragmentsOfSpacesAndBindings(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	g := s.cachedGateway(t, s.cfURL, "", nil)
	app := s.createApps(t, "developer", "b-one")[0]
	_, instance := s.serviceFixture(t, app, "b-one", "b-db")
	settle()

	const details = "/v3/service_credential_bindings/:guid/*"
	read := func(user, path, route string) ([]byte, int) {
		body, cost := freshRead(t, s, g, user, path)
		return body, cost[route]
	}
	// The space list reads other things per space too (its isolation
	// segment): the ssh reads are counted by the fragments' own metric.
	sshReads := func() float64 {
		return testutil.ToFloat64(g.m.Fragments.WithLabelValues("space-ssh", metrics.FragmentMiss)) +
			testutil.ToFloat64(g.m.Fragments.WithLabelValues("space-ssh", metrics.FragmentYoung))
	}
	read("developer", "/v2/spaces", "")
	before := sshReads()
	if read("developer", "/v2/spaces", ""); sshReads() != before {
		t.Errorf("warm space list: %v ssh reads", sshReads()-before)
	}
	if r := s.do("PATCH", s.cfURL+"/v3/spaces/"+demoSpace+"/features/ssh", "admin", []byte(`{"enabled":false}`)); r.status != 200 {
		t.Fatalf("space ssh: %d %s", r.status, r.body)
	}
	if body, _ := read("developer", "/v2/spaces", ""); sshReads() != before+1 || !strings.Contains(string(body), `"allow_ssh":false`) {
		t.Errorf("after the space's ssh changed: %v reads, %s", sshReads()-before, body)
	}

	bindings := "/v2/apps/" + app + "/service_bindings"
	read("developer", bindings, details)
	if body, n := read("developer", bindings, details); n != 0 || !strings.Contains(string(body), `"password":"s3cret"`) {
		t.Errorf("warm bindings: %d detail reads, %s", n, body)
	}
	if body, _ := read("auditor", bindings, details); strings.Contains(string(body), "s3cret") {
		t.Errorf("the auditor reads the developer's credentials: %s", body)
	}
	if r := s.do("PATCH", s.cfURL+"/v3/service_instances/"+instance, "developer", []byte(`{"credentials":{"password":"rotated"}}`)); r.status != 200 {
		t.Fatalf("rotating the credentials: %d %s", r.status, r.body)
	}
	if body, n := read("developer", bindings, details); n != 1 || !strings.Contains(string(body), `"password":"rotated"`) {
		t.Errorf("after the credentials changed: %d detail reads, %s", n, body)
	}
}
