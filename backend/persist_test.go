package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/configs"
)

// fileConfig is testConfig on a data dir, so that state outlives a Server.
func fileConfig(dir string) configs.Backend {
	cfg := testConfig()
	cfg.Data = dir
	return cfg
}

// stop shuts c down now rather than at the end of the test; the harness's
// own Shutdown in Cleanup then finds nothing left to do.
func (c *cf) stop() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		c.t.Fatalf("Shutdown: %v", err)
	}
}

// send is do without t.Fatal, for goroutines other than the test's.
func (c *cf) send(method, path, user string, body []byte) (resp, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org" + path)
	req.Header.SetMethod(method)
	req.Header.Set("Authorization", "bearer "+c.tokens[user])
	if body != nil {
		req.SetBody(body)
		req.Header.SetContentType("application/json")
	}
	if err := c.client.Do(req, res); err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...)}, nil
}

// withTokens makes c send the given tokens, such as those minted by an
// earlier Server, instead of its own.
func (c *cf) withTokens(tokens map[string]string) {
	for u, tok := range tokens {
		c.tokens[u] = tok
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	// The second run's clock is later: a restart that re-seeded or touched
	// rows would show in their timestamps.
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	first := startCF(t, &cfg, WithClock(clock.Now))

	alpha := first.createApp("developer", "alpha", map[string]any{
		"environment_variables": map[string]any{"KEEP": "1", "DROP": "x"},
		"metadata":              map[string]any{"labels": map[string]string{"env": "dev"}, "annotations": map[string]string{"note": "first"}},
	})
	beta := first.createApp("developer", "beta", map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}})
	gamma := first.createApp("admin", "gamma", map[string]any{
		"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"go_buildpack"}, "stack": "cflinuxfs3"}},
	})
	gone := first.createApp("developer", "gone", nil)
	clock.Advance(time.Minute)
	// A raw body: json.Marshal would send "&" as \u0026, and the value must
	// come back with the bytes a curl user sent.
	first.must(200, "PATCH", "/v3/apps/"+alpha+"/environment_variables", "developer",
		`{"var":{"KEEP":"2","DROP":null,"ADDED":"a=b&c"}}`)
	first.must(200, "PATCH", "/v3/apps/"+alpha, "developer",
		map[string]any{"metadata": map[string]any{"labels": map[string]any{"env": "prod", "tier": "web"}, "annotations": map[string]any{"note": nil}}})
	first.must(202, "POST", "/v3/apps/"+beta+"/processes/web/actions/scale", "developer",
		map[string]any{"instances": 3, "memory_in_mb": 256, "disk_in_mb": 512})
	first.must(200, "PATCH", "/v3/apps/"+gamma+"/processes/web", "admin",
		map[string]any{"command": "./run", "health_check": map[string]any{"type": "http", "data": map[string]any{"endpoint": "/health"}}})
	r := first.must(202, "DELETE", "/v3/apps/"+gone, "developer", nil)
	if st := first.waitJob(r.header["Location"], "developer"); st != store.JobComplete {
		t.Fatalf("delete job of gone: %s", st)
	}

	// Every read is compared byte for byte across the restart, as admin
	// and as the developer whose view depends on persisted roles.
	paths := []string{
		"/v3/organizations", "/v3/spaces", "/v3/stacks?order_by=name",
		"/v3/apps?order_by=name", "/v3/apps?label_selector=env%3Dprod", "/v3/processes", "/v3/audit_events",
		"/v3/apps/" + gone,
	}
	for _, g := range []string{alpha, beta, gamma} {
		paths = append(paths, "/v3/apps/"+g, "/v3/apps/"+g+"/environment_variables", "/v3/apps/"+g+"/processes/web")
	}
	read := func(c *cf) map[string]resp {
		out := map[string]resp{}
		for _, p := range paths {
			for _, u := range []string{"admin", "developer"} {
				out[u+" "+p] = c.do("GET", p, u, nil)
			}
		}
		return out
	}
	before := read(first)
	// Guard the comparison against two empty or two failing snapshots.
	var apps struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		}
	}
	before["developer /v3/apps?order_by=name"].json(t, &apps)
	if apps.Pagination.TotalResults != 3 || before["admin /v3/apps/"+alpha].status != 200 || before["admin /v3/apps/"+gone].status != 404 {
		t.Fatalf("before the restart: %d apps, alpha %d, gone %d", apps.Pagination.TotalResults,
			before["admin /v3/apps/"+alpha].status, before["admin /v3/apps/"+gone].status)
	}
	oldTokens := first.tokens
	first.stop()

	clock.Advance(time.Hour)
	second := startCF(t, &cfg, WithClock(clock.Now))
	// Tokens signed before the restart still verify: the key is in the data dir.
	second.withTokens(oldTokens)
	after := read(second)
	for k, b := range before {
		a := after[k]
		if a.status != b.status || string(a.body) != string(b.body) {
			t.Errorf("GET %s after restart:\n %d %s\nbefore:\n %d %s", k, a.status, a.body, b.status, b.body)
		}
	}

	// What the byte comparison covers, spelled out once.
	var env struct{ Var map[string]json.RawMessage }
	after["developer /v3/apps/"+alpha+"/environment_variables"].json(t, &env)
	if string(env.Var["KEEP"]) != `"2"` || env.Var["DROP"] != nil || string(env.Var["ADDED"]) != `"a=b&c"` {
		t.Errorf("alpha env after restart = %s", after["developer /v3/apps/"+alpha+"/environment_variables"].body)
	}
	var web struct {
		Instances  int   `json:"instances"`
		MemoryInMB int64 `json:"memory_in_mb"`
	}
	after["developer /v3/apps/"+beta+"/processes/web"].json(t, &web)
	if web.Instances != 3 || web.MemoryInMB != 256 {
		t.Errorf("beta web after restart = %+v, want 3 instances of 256 MB", web)
	}
	var orgs struct {
		Resources []struct {
			GUID      string `json:"guid"`
			CreatedAt string `json:"created_at"`
		}
	}
	after["admin /v3/organizations"].json(t, &orgs)
	if len(orgs.Resources) != 1 || orgs.Resources[0].GUID != DemoOrgGUID || orgs.Resources[0].CreatedAt != "2025-03-01T12:00:00Z" {
		t.Errorf("organizations after restart = %+v, want only the demo org seeded by the first run", orgs.Resources)
	}
	var me struct{ GUID string }
	// A token minted by the second run names the same seeded user.
	second.must(201, "POST", "/v3/apps", "developer", map[string]any{"name": "after-restart",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}).json(t, &me)
	var ev struct {
		Resources []struct {
			Actor struct{ GUID string } `json:"actor"`
		}
	}
	second.must(200, "GET", "/v3/audit_events?types=audit.app.create&target_guids="+me.GUID, "admin", nil).json(t, &ev)
	if len(ev.Resources) != 1 || ev.Resources[0].Actor.GUID != DeveloperGUID {
		t.Errorf("create event after restart = %+v, want actor %s", ev.Resources, DeveloperGUID)
	}
}

func TestResumeJobAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := fileConfig(dir)
	// The job would wait an hour: the shutdown always comes first.
	cfg.JobDelay = time.Hour
	first := startCF(t, &cfg)
	guid := first.createApp("developer", "pending-delete", nil)
	r := first.must(202, "DELETE", "/v3/apps/"+guid, "developer", nil)
	location := r.header["Location"]
	jobPath := location[strings.Index(location, "/v3/"):]
	var job struct{ State string }
	first.must(200, "GET", jobPath, "developer", nil).json(t, &job)
	if job.State != store.JobProcessing {
		t.Fatalf("job before shutdown = %s, want PROCESSING", job.State)
	}
	oldTokens := first.tokens
	first.stop()

	// The shutdown must leave the job for the next run, not half-done.
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("opening the data dir between runs: %v", err)
	}
	pending, perr := st.PendingJobs(context.Background())
	_, aerr := st.GetApp(context.Background(), store.Viewer{All: true}, guid)
	st.Close()
	if perr != nil || len(pending) != 1 || pending[0].ResourceGUID != guid || aerr != nil {
		t.Fatalf("between runs: pending %+v (%v), app err %v; want the delete job pending and the app present", pending, perr, aerr)
	}

	cfg.JobDelay = 0
	second := startCF(t, &cfg)
	second.withTokens(oldTokens)
	if got := second.waitJob(location, "developer"); got != store.JobComplete {
		t.Fatalf("job after restart = %s, want COMPLETE", got)
	}
	second.must(404, "GET", "/v3/apps/"+guid, "developer", nil)
	var procs struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		}
	}
	second.must(200, "GET", "/v3/processes?app_guids="+guid, "admin", nil).json(t, &procs)
	if procs.Pagination.TotalResults != 0 {
		t.Errorf("processes of the deleted app after restart: %d", procs.Pagination.TotalResults)
	}
}

// caseVariant spells name with the letters whose bit is set in i upper-cased,
// so concurrent requests differ only in case.
func caseVariant(name string, i int) string {
	b := []byte(name)
	for j := range b {
		if i&(1<<j) != 0 {
			b[j] = byte(strings.ToUpper(string(b[j]))[0])
		}
	}
	return string(b)
}

// raceCreates posts n creates of name (varying case) at once, round robin
// over servers, and checks that exactly one wins and the others get CC's
// uniqueness error. It returns the name that won.
func raceCreates(t *testing.T, servers []*cf, name string, n int) string {
	t.Helper()
	type result struct {
		name string
		r    resp
		err  error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nm := caseVariant(name, i)
			body, _ := json.Marshal(map[string]any{"name": nm,
				"relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}})
			<-start
			r, err := servers[i%len(servers)].send("POST", "/v3/apps", "developer", body)
			results[i] = result{nm, r, err}
		}()
	}
	close(start)
	wg.Wait()

	winner := ""
	for _, res := range results {
		switch {
		case res.err != nil:
			t.Errorf("create %q: %v", res.name, res.err)
		case res.r.status == 201:
			if winner != "" {
				t.Errorf("both %q and %q were created", winner, res.name)
			}
			winner = res.name
		case res.r.status == 422:
			code, title := res.r.errCode()
			var e errorBody
			res.r.json(t, &e)
			want := "App with the name '" + res.name + "' already exists."
			if code != 10016 || title != "CF-UniquenessError" || e.Errors[0].Detail != want {
				t.Errorf("create %q: 422 %s, want CF-UniquenessError 10016 %q", res.name, res.r.body, want)
			}
		default:
			t.Errorf("create %q: status %d %s, want 201 or 422", res.name, res.r.status, res.r.body)
		}
	}
	if winner == "" {
		t.Fatalf("none of %d creates of %q succeeded", n, name)
	}
	return winner
}

// countNamed counts the apps of demo-space named name in any case, without
// relying on how the names filter treats case.
func countNamed(t *testing.T, c *cf, name string) int {
	t.Helper()
	var list struct {
		Resources []struct{ Name string }
	}
	c.must(200, "GET", "/v3/apps?per_page=5000&space_guids="+DemoSpaceGUID, "admin", nil).json(t, &list)
	n := 0
	for _, a := range list.Resources {
		if strings.EqualFold(a.Name, name) {
			n++
		}
	}
	return n
}

func TestConcurrentCreateSameName(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	winner := raceCreates(t, []*cf{c}, "racer", 20)

	var list struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		}
		Resources []struct{ Name string }
	}
	c.must(200, "GET", "/v3/apps?names="+winner, "developer", nil).json(t, &list)
	if list.Pagination.TotalResults != 1 || len(list.Resources) != 1 || list.Resources[0].Name != winner {
		t.Errorf("GET /v3/apps?names=%s = %d apps %+v, want the one winner", winner, list.Pagination.TotalResults, list.Resources)
	}
	if n := countNamed(t, c, "racer"); n != 1 {
		t.Errorf("%d apps named racer in any case, want 1", n)
	}
}

func TestConcurrentCreateTwoServersOneDir(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	// Two Servers on one data dir are two SQLite connections pools with
	// separate in-process write locks: only busy_timeout and the unique
	// index stand between them, as between two processes.
	a := startCF(t, &cfg)
	b := startCF(t, &cfg)
	winner := raceCreates(t, []*cf{a, b}, "shared", 20)
	for i, c := range []*cf{a, b} {
		if n := countNamed(t, c, winner); n != 1 {
			t.Errorf("server %d sees %d apps named %s in any case, want 1", i, n, winner)
		}
	}
}

func TestConcurrentStartOneFreshDir(t *testing.T) {
	t.Parallel()
	// Two Servers starting at once on a fresh data dir must agree on one
	// signing key and one seeded foundation.
	cfg := fileConfig(t.TempDir())
	var wg sync.WaitGroup
	srvs := make([]*Server, 2)
	errs := make([]error, 2)
	for i := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = New(context.Background(), cfg, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("New %d: %v", i, err)
		}
		t.Cleanup(func() { srvs[i].Close() })
	}
	tok, err := srvs[0].Token(context.Background(), "developer")
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if _, err := srvs[1].auth.authenticate([]byte("bearer " + tok)); err != nil {
		t.Errorf("a token of one server fails at the other: %v", err)
	}
	orgs, total, err := srvs[1].Store().ListOrgs(context.Background(), store.Viewer{All: true}, store.OrgFilter{}, store.Page{Page: 1, PerPage: 10})
	if err != nil || total != 1 || orgs[0].GUID != DemoOrgGUID {
		t.Errorf("orgs after two concurrent seeds = %+v (%d), %v; want the demo org once", orgs, total, err)
	}
}
