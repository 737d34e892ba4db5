package backend

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
	"capibridge/configs"
)

// runT0 is the running fixture's clock.
var runT0 = time.Date(2025, 8, 1, 10, 0, 0, 0, time.UTC)

// runRoleRows give the role table the read routes of running: stats of the
// read fixture's app (stopped, so one DOWN instance) and deployments.
var runRoleRows = []roleRow{
	{"process stats", "GET", "/v3/processes/{app}/stats", nil, rolePer(roleOK(200, runDown(1)), roleOK(200, runDown(1)), roleOK(200, runDown(1)), roleNotFound("Process"))},
	{"app process stats", "GET", "/v3/apps/{app}/processes/web/stats", nil, rolePer(roleOK(200, runDown(1)), roleOK(200, runDown(1)), roleOK(200, runDown(1)), roleNotFound("App"))},
	{"other process stats", "GET", "/v3/processes/{otherApp}/stats", nil, rolePer(roleOK(200, runDown(1)), roleNotFound("Process"), roleNotFound("Process"), roleNotFound("Process"))},
	{"list deployments", "GET", "/v3/deployments", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing deployment", "GET", "/v3/deployments/" + roleMissingGUID, nil, roleAll(roleNotFound("Deployment"))},
}

func init() { roleAnonRows = append(roleAnonRows, runRoleRows...) }

// runDown checks a stats body of n instances, all DOWN.
func runDown(n int) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var b struct{ Resources []statsEntry }
		r.json(t, &b)
		if got := statesOf(b.Resources); got != strings.TrimSuffix(strings.Repeat("DOWN,", n), ",") {
			t.Errorf("states %q, want %d DOWN", got, n)
		}
	}
}

// statsEntry is what the tests read of one instance's stats.
type statsEntry struct {
	Type         string `json:"type"`
	Index        int64  `json:"index"`
	InstanceGUID string `json:"instance_guid"`
	State        string `json:"state"`
	Routable     *bool  `json:"routable"`
	Usage        *struct {
		Time string  `json:"time"`
		CPU  float64 `json:"cpu"`
		Mem  int64   `json:"mem"`
		Disk int64   `json:"disk"`
	} `json:"usage"`
	Host          string `json:"host"`
	InstancePorts []struct {
		External int64 `json:"external"`
		Internal int64 `json:"internal"`
	} `json:"instance_ports"`
	Uptime    int64  `json:"uptime"`
	MemQuota  *int64 `json:"mem_quota"`
	DiskQuota *int64 `json:"disk_quota"`
	FDSQuota  int64  `json:"fds_quota"`
}

func statesOf(entries []statsEntry) string {
	states := make([]string, len(entries))
	for i, e := range entries {
		states[i] = e.State
	}
	return strings.Join(states, ",")
}

// runWorld is an app of the developer in demo-space with a staged current
// droplet whose web command is webCommand, under a fake clock.
type runWorld struct {
	c       *cf
	clk     *fakeClock
	app     string
	droplet string
}

func newRunWorld(t *testing.T, webCommand string, cfg *configs.Backend) *runWorld {
	t.Helper()
	clk := &fakeClock{now: runT0}
	c := startCF(t, cfg, WithClock(clk.Now))
	w := &runWorld{c: c, clk: clk, app: c.createApp("developer", "runner", nil)}
	w.droplet = runDroplet(t, c, w.app, webCommand)
	return w
}

// runDroplet gives app a staged current droplet with that web command.
func runDroplet(t testing.TB, c *cf, app, webCommand string) string {
	t.Helper()
	guid := "d7000000-0000-4000-8000-" + app[len(app)-12:]
	now := c.srv.Store().Now()
	err := c.srv.Store().CreateDroplet(context.Background(), store.Droplet{GUID: guid, AppGUID: app, SpaceGUID: DemoSpaceGUID,
		State: store.DropletStaged, LifecycleType: "buildpack", ProcessTypes: map[string]string{"web": webCommand}, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	c.editApp(app, func(a *store.App) { a.DropletGUID = &guid })
	return guid
}

func (w *runWorld) stats(t *testing.T, path string) []statsEntry {
	t.Helper()
	var b struct{ Resources []statsEntry }
	w.c.forTest(t).must(200, "GET", path, "developer", nil).json(t, &b)
	return b.Resources
}

func (w *runWorld) webStats(t *testing.T) []statsEntry {
	t.Helper()
	return w.stats(t, "/v3/processes/"+w.app+"/stats")
}

func (w *runWorld) action(t *testing.T, action string) {
	t.Helper()
	w.c.forTest(t).must(200, "POST", "/v3/apps/"+w.app+"/actions/"+action, "developer", nil)
}

func (w *runWorld) scale(t *testing.T, instances int) {
	t.Helper()
	w.c.forTest(t).must(202, "POST", "/v3/processes/"+w.app+"/actions/scale", "developer", map[string]int{"instances": instances})
}

// events lists the audit events of a type about the app.
func (w *runWorld) events(t *testing.T, typ string) []json.RawMessage {
	t.Helper()
	var b struct{ Resources []json.RawMessage }
	w.c.forTest(t).must(200, "GET", "/v3/audit_events?per_page=5000&types="+typ+"&target_guids="+w.app, "developer", nil).json(t, &b)
	return b.Resources
}

func TestRunningLifecycle(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "bundle exec rackup config.ru -p $PORT", nil)
	step := func(name string, do func(t *testing.T), want string, check func(t *testing.T, e []statsEntry)) {
		t.Run(name, func(t *testing.T) {
			if do != nil {
				do(t)
			}
			e := w.webStats(t)
			if got := statesOf(e); got != want {
				t.Fatalf("states %q, want %q", got, want)
			}
			for i, x := range e {
				if x.Index != int64(i) || x.Type != "web" {
					t.Errorf("entry %d: index %d, type %q", i, x.Index, x.Type)
				}
			}
			if check != nil {
				check(t, e)
			}
		})
	}
	advance := func(d time.Duration) func(t *testing.T) { return func(*testing.T) { w.clk.Advance(d) } }
	var firstGUID string
	step("stopped", nil, "DOWN", nil)
	step("start", func(t *testing.T) { w.action(t, "start") }, "STARTING", func(t *testing.T, e []statsEntry) {
		x := e[0]
		if x.Routable == nil || *x.Routable || x.Uptime != 0 || x.Host != "" || len(x.InstancePorts) != 0 || x.MemQuota != nil {
			t.Errorf("a starting instance: %+v", x)
		}
		if x.Usage == nil || x.Usage.Time != "2025-08-01T10:00:00Z" || x.Usage.Mem != 0 {
			t.Errorf("a starting instance's usage: %+v", x.Usage)
		}
		firstGUID = x.InstanceGUID
	})
	step("still starting", advance(999*time.Millisecond), "STARTING", nil)
	step("running after the startup delay", advance(time.Millisecond), "RUNNING", func(t *testing.T, e []statsEntry) {
		x := e[0]
		if x.InstanceGUID != firstGUID || x.Routable == nil || !*x.Routable || x.Host != "127.0.0.1" || x.Uptime != 0 {
			t.Errorf("a running instance: %+v", x)
		}
		if len(x.InstancePorts) != 1 || x.InstancePorts[0].Internal != 8080 || x.InstancePorts[0].External < 1024 {
			t.Errorf("instance ports %+v", x.InstancePorts)
		}
		if x.MemQuota == nil || *x.MemQuota != 1024<<20 || x.DiskQuota == nil || *x.DiskQuota != 1024<<20 || x.FDSQuota != 16384 {
			t.Errorf("quotas %v %v %d", x.MemQuota, x.DiskQuota, x.FDSQuota)
		}
		if u := x.Usage; u == nil || u.Mem <= 0 || u.Mem > *x.MemQuota || u.Disk <= 0 || u.CPU <= 0 || u.CPU > 0.01 {
			t.Errorf("usage %+v", x.Usage)
		}
	})
	step("uptime counts from RUNNING", advance(90*time.Second), "RUNNING", func(t *testing.T, e []statsEntry) {
		if e[0].Uptime != 90 {
			t.Errorf("uptime %d, want 90", e[0].Uptime)
		}
	})
	step("scale up: the new instances start", func(t *testing.T) { w.scale(t, 3) }, "RUNNING,STARTING,STARTING", func(t *testing.T, e []statsEntry) {
		if e[0].InstanceGUID != firstGUID || e[1].InstanceGUID == e[2].InstanceGUID {
			t.Errorf("instance guids %s %s %s", e[0].InstanceGUID, e[1].InstanceGUID, e[2].InstanceGUID)
		}
	})
	step("all running", advance(time.Second), "RUNNING,RUNNING,RUNNING", nil)
	step("restart one instance", func(t *testing.T) {
		w.c.forTest(t).must(204, "DELETE", "/v3/processes/"+w.app+"/instances/1", "developer", nil)
	}, "RUNNING,STARTING,RUNNING", nil)
	step("restart one instance through the app", func(t *testing.T) {
		w.c.forTest(t).must(204, "DELETE", "/v3/apps/"+w.app+"/processes/web/instances/2", "developer", nil)
	}, "RUNNING,STARTING,STARTING", func(t *testing.T, _ []statsEntry) {
		if n := len(w.events(t, "audit.app.process.terminate_instance")); n != 2 {
			t.Errorf("%d terminate_instance events, want 2", n)
		}
	})
	step("app alias", advance(time.Second), "RUNNING,RUNNING,RUNNING", func(t *testing.T, e []statsEntry) {
		if got := statesOf(w.stats(t, "/v3/apps/"+w.app+"/processes/web/stats")); got != "RUNNING,RUNNING,RUNNING" {
			t.Errorf("app alias states %q", got)
		}
	})
	step("scale down", func(t *testing.T) { w.scale(t, 2) }, "RUNNING,RUNNING", nil)
	step("restart the app", func(t *testing.T) { w.action(t, "restart") }, "STARTING,STARTING", func(t *testing.T, e []statsEntry) {
		if e[0].InstanceGUID == firstGUID {
			t.Errorf("instance 0 kept its guid over a restart")
		}
	})
	step("start a started app changes nothing", func(t *testing.T) {
		w.clk.Advance(time.Second)
		w.action(t, "start")
	}, "RUNNING,RUNNING", nil)
	step("stop", func(t *testing.T) { w.action(t, "stop") }, "DOWN,DOWN", nil)
	step("start again", func(t *testing.T) { w.action(t, "start") }, "STARTING,STARTING", nil)
	step("a new memory limit restarts the instances", func(t *testing.T) {
		w.clk.Advance(time.Second)
		w.c.forTest(t).must(202, "POST", "/v3/processes/"+w.app+"/actions/scale", "developer", map[string]int{"memory_in_mb": 256})
	}, "STARTING,STARTING", nil)
	step("zero instances", func(t *testing.T) { w.scale(t, 0) }, "", nil)
}

func TestRunningStatsAreSteady(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "./server", nil)
	w.scale(t, 2)
	w.action(t, "start")
	w.clk.Advance(time.Minute)
	path := "/v3/processes/" + w.app + "/stats"
	a := w.c.must(200, "GET", path, "developer", nil).body
	b := w.c.must(200, "GET", path, "developer", nil).body
	if string(a) != string(b) {
		t.Errorf("two reads at one instant differ:\n%s\n%s", a, b)
	}
	var e struct{ Resources []statsEntry }
	if err := json.Unmarshal(a, &e); err != nil {
		t.Fatal(err)
	}
	if e.Resources[0].InstanceGUID == e.Resources[1].InstanceGUID || e.Resources[0].InstancePorts[0].External == e.Resources[1].InstancePorts[0].External &&
		e.Resources[0].Usage.Mem == e.Resources[1].Usage.Mem {
		t.Errorf("two instances look the same: %s", a)
	}
}

func TestRunningErrors(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "./server", nil)
	w.scale(t, 2)
	c := w.c
	const instanceNotFound = `{"errors":[{"detail":"Instance not found","title":"CF-ResourceNotFound","code":10010}]}`
	cases := []struct {
		name, method, path, user string
		status                   int
		body                     string
	}{
		{"index past the instances", "DELETE", "/v3/processes/" + w.app + "/instances/2", "developer", 404, instanceNotFound},
		{"negative index", "DELETE", "/v3/apps/" + w.app + "/processes/web/instances/-1", "developer", 404, instanceNotFound},
		// Ruby's to_i reads "1abc" as 1 and "abc" as 0.
		{"index with a tail", "DELETE", "/v3/processes/" + w.app + "/instances/1abc", "developer", 204, ""},
		{"no digits", "DELETE", "/v3/processes/" + w.app + "/instances/abc", "developer", 204, ""},
		{"auditor", "DELETE", "/v3/processes/" + w.app + "/instances/0", "auditor", 403,
			`{"errors":[{"detail":"You are not authorized to perform the requested action","title":"CF-NotAuthorized","code":10003}]}`},
		{"unknown process type", "GET", "/v3/apps/" + w.app + "/processes/worker/stats", "developer", 404,
			`{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`},
		{"outsider", "GET", "/v3/processes/" + w.app + "/stats", "outsider", 404,
			`{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`},
		// ProcessesController#stats reads no message: a query is ignored.
		{"query", "GET", "/v3/processes/" + w.app + "/stats?page=1", "developer", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.forTest(t).do(tc.method, tc.path, tc.user, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Errorf("body\n got %s\nwant %s", r.body, tc.body)
			}
		})
	}
}

// crashEvent is what the tests read of an audit.app.process.crash event.
type crashEvent struct {
	CreatedAt string `json:"created_at"`
	Actor     struct{ GUID, Type, Name string }
	Target    struct{ GUID, Type, Name string }
	Data      map[string]any
}

func TestRunningCrashes(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "bundle exec capibridge-crash", nil)
	crashes := func(t *testing.T) []crashEvent {
		t.Helper()
		var out []crashEvent
		for _, raw := range w.events(t, "audit.app.process.crash") {
			var e crashEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	w.action(t, "start")
	if got := statesOf(w.webStats(t)); got != "STARTING" {
		t.Fatalf("states %q before the delay", got)
	}
	w.clk.Advance(5 * time.Second)
	e := w.webStats(t)
	if got := statesOf(e); got != "CRASHED" {
		t.Fatalf("states %q, want CRASHED", got)
	}
	if e[0].Routable == nil || *e[0].Routable || e[0].Uptime != 4 || e[0].Host != "" {
		t.Errorf("a crashed instance: %+v", e[0])
	}
	w.webStats(t) // a second look records nothing more
	got := crashes(t)
	if len(got) != 1 {
		t.Fatalf("%d crash events, want 1", len(got))
	}
	ev := got[0]
	// Dated when the instance crashed, one second after the start.
	if ev.CreatedAt != "2025-08-01T10:00:01Z" || ev.Actor.GUID != w.app || ev.Actor.Type != "process" || ev.Actor.Name != "web" ||
		ev.Target.GUID != w.app || ev.Target.Type != "app" || ev.Target.Name != "runner" {
		t.Errorf("crash event %+v", ev)
	}
	for k, want := range map[string]any{"instance": e[0].InstanceGUID, "index": 0.0, "exit_status": 1.0, "reason": "CRASHED",
		"exit_description": "APP/PROC/WEB: Exited with status 1"} {
		if ev.Data[k] != want {
			t.Errorf("data %s = %v, want %v", k, ev.Data[k], want)
		}
	}
	if id, _ := ev.Data["cell_id"].(string); id == "" {
		t.Errorf("no cell_id in %v", ev.Data)
	}

	// A restarted instance crashes again: a second event.
	w.c.must(204, "DELETE", "/v3/processes/"+w.app+"/instances/0", "developer", nil)
	if got := statesOf(w.webStats(t)); got != "STARTING" {
		t.Fatalf("states %q after a restart", got)
	}
	w.clk.Advance(2 * time.Second)
	if got := statesOf(w.webStats(t)); got != "CRASHED" {
		t.Fatalf("states %q, want CRASHED", got)
	}
	// A new instance crashes on its own.
	w.scale(t, 2)
	w.clk.Advance(time.Second)
	if got := statesOf(w.webStats(t)); got != "CRASHED,CRASHED" {
		t.Fatalf("states %q", got)
	}
	if n := len(crashes(t)); n != 3 {
		t.Errorf("%d crash events, want 3", n)
	}
	// The process's own command wins over the droplet's.
	w.c.must(200, "PATCH", "/v3/processes/"+w.app, "developer", map[string]string{"command": "./healthy"})
	w.clk.Advance(time.Second)
	if got := statesOf(w.webStats(t)); got != "RUNNING,RUNNING" {
		t.Errorf("states %q with a healthy command", got)
	}
	w.c.must(200, "PATCH", "/v3/processes/"+w.app, "developer", map[string]string{"command": "./capibridge-crash --now"})
	w.clk.Advance(time.Second)
	if got := statesOf(w.webStats(t)); got != "CRASHED,CRASHED" {
		t.Errorf("states %q with a crashing command", got)
	}
	if n := len(crashes(t)); n != 5 {
		t.Errorf("%d crash events, want 5", n)
	}
}

// TestRunningCrashSweep: crashes nobody looks at are recorded by the
// background pass, once, and the pass leaves healthy apps alone.
func TestRunningCrashSweep(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "capibridge-crash", nil)
	healthy := w.c.createApp("developer", "healthy", nil)
	runDroplet(t, w.c, healthy, "./server")
	w.action(t, "start")
	w.c.must(200, "POST", "/v3/apps/"+healthy+"/actions/start", "developer", nil)
	ctx := context.Background()
	if err := w.c.srv.sweepCrashes(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(w.events(t, "audit.app.process.crash")); n != 0 {
		t.Fatalf("%d crash events before the delay", n)
	}
	w.clk.Advance(time.Second)
	for range 2 {
		if err := w.c.srv.sweepCrashes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.events(t, "audit.app.process.crash")); n != 1 {
		t.Errorf("%d crash events, want 1", n)
	}
	var b struct{ Resources []json.RawMessage }
	w.c.must(200, "GET", "/v3/audit_events?types=audit.app.process.crash&target_guids="+healthy, "developer", nil).json(t, &b)
	if len(b.Resources) != 0 {
		t.Errorf("the healthy app crashed")
	}
	if got := statesOf(w.webStats(t)); got != "CRASHED" {
		t.Errorf("states %q", got)
	}
}

// TestRunningSurvivesRestart: instance state lives in the store, so another
// embedded CF on the same data dir sees the same instances.
func TestRunningSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := fileConfig(dir)
	w := newRunWorld(t, "./server", &cfg)
	w.scale(t, 2)
	w.action(t, "start")
	w.clk.Advance(time.Second)
	w.c.must(204, "DELETE", "/v3/processes/"+w.app+"/instances/1", "developer", nil)
	before := w.webStats(t)
	w.c.stop()

	c2 := startCF(t, &cfg, WithClock(w.clk.Now))
	w2 := &runWorld{c: c2, clk: w.clk, app: w.app}
	after := w2.webStats(t)
	if statesOf(after) != "RUNNING,STARTING" || after[0].InstanceGUID != before[0].InstanceGUID || after[1].InstanceGUID != before[1].InstanceGUID {
		t.Errorf("before %+v\nafter %+v", before, after)
	}
	w.clk.Advance(time.Second)
	if got := statesOf(w2.webStats(t)); got != "RUNNING,RUNNING" {
		t.Errorf("states %q", got)
	}
}

func TestRunningShapesMatchReference(t *testing.T) {
	t.Parallel()
	w := newRunWorld(t, "./server", nil)
	w.scale(t, 2)
	ref := reference(t, "process_stats.json")
	// The reference's first instance is a running one; quotas, the
	// isolation segment, log rate limit and details are null in one state
	// or another.
	r := rules(nil, []string{"resources.[].mem_quota", "resources.[].disk_quota", "resources.[].isolation_segment",
		"resources.[].log_rate_limit", "resources.[].details"}, nil)
	r.items["resources.[]"] = ref.At("resources.0")
	// CC's down_instance_stats_hash.
	down := parseShape(t, []byte(`{"resources":[{"type":"web","index":0,"state":"DOWN","uptime":0,"isolation_segment":null,"details":null}]}`))
	downRules := rules(nil, nil, nil)
	check := func(name string, want *shape, rr shapeRules) {
		t.Run(name, func(t *testing.T) {
			body := w.c.forTest(t).must(200, "GET", "/v3/processes/"+w.app+"/stats", "developer", nil).body
			if diffs := compareShape(want, parseShape(t, body), "", rr); len(diffs) > 0 {
				t.Errorf("shape differs:\n  %s\nbody: %s", strings.Join(diffs, "\n  "), body)
			}
		})
	}
	check("down", down, downRules)
	w.action(t, "start")
	check("starting", ref, r)
	w.clk.Advance(time.Second)
	check("running", ref, r)
	w.c.must(200, "PATCH", "/v3/processes/"+w.app, "developer", map[string]string{"command": "capibridge-crash"})
	w.clk.Advance(time.Second)
	check("crashed", ref, r)
	if got := statesOf(w.webStats(t)); got != "CRASHED,CRASHED" {
		t.Errorf("states %q", got)
	}
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	page := apiBase + "/v3/deployments?app_guids=x&page=1&per_page=50&states=DEPLOYING&status_values=ACTIVE"
	want := `{"pagination":{"total_results":0,"total_pages":1,"first":{"href":"` + page + `"},"last":{"href":"` + page + `"},` +
		`"next":null,"previous":null},"resources":[]}`
	if got := string(c.must(200, "GET", "/v3/deployments?app_guids=x&states=DEPLOYING&status_values=ACTIVE", "developer", nil).body); got != want {
		t.Errorf("list\n got %s\nwant %s", got, want)
	}
	c.must(200, "GET", "/v3/deployments?order_by=-created_at&status_reasons=DEPLOYED&label_selector=a=b", "auditor", nil)
	wantBadQuery(t, c.do("GET", "/v3/deployments?names=x", "developer", nil), "")
	wantBadQuery(t, c.do("GET", "/v3/deployments?order_by=name", "developer", nil), "")
	roleNotFound("Deployment").assert(t, c.do("GET", "/v3/deployments/"+strconv.Itoa(1), "developer", nil))
}
