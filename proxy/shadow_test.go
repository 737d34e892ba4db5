package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/configs"
	"capibridge/proxy/auth"
	"capibridge/proxy/shadow"
)

// v2Replay stands in for a Cloud Controller that still serves v2: its v2
// answers are recorded native ones (record), or else those of a gateway
// in front of the same embedded CF (so they describe the v3 state the
// embedded CF holds), put through a change the test chooses; everything
// else is the embedded CF's.
type v2Replay struct {
	url      string
	mu       sync.Mutex
	change   func(status int, body []byte) (int, []byte)
	recorded map[string][]byte
}

func startV2Replay(t *testing.T, s *stack) *v2Replay {
	t.Helper()
	r := &v2Replay{}
	client := &fasthttp.Client{ReadTimeout: 30 * time.Second, MaxResponseBodySize: 1 << 30}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		to := s.cfURL
		v2 := strings.HasPrefix(string(ctx.Path()), "/v2/")
		if v2 {
			to = s.gwURL
		}
		r.mu.Lock()
		change, recorded := r.change, r.recorded[string(ctx.RequestURI())]
		r.mu.Unlock()
		if recorded != nil {
			ctx.SetContentType("application/json;charset=utf-8")
			ctx.SetBody(recorded)
		} else {
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			ctx.Request.CopyTo(req)
			req.SetRequestURI(to + string(ctx.RequestURI()))
			req.Header.Del("Accept-Encoding")
			if err := client.Do(req, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
				return
			}
		}
		if v2 {
			if change != nil {
				status, body := change(ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...))
				ctx.Response.SetStatusCode(status)
				ctx.Response.SetBody(body)
			}
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown() })
	r.url = "http://" + ln.Addr().String()
	return r
}

func (r *v2Replay) set(change func(int, []byte) (int, []byte)) {
	r.mu.Lock()
	r.change = change
	r.mu.Unlock()
}

// record makes the replay answer GET uri with body, as recorded.
func (r *v2Replay) record(uri string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recorded == nil {
		r.recorded = map[string][]byte{}
	}
	r.recorded[uri] = body
}

var (
	timeValue = regexp.MustCompile(`"(\w+_at)"(\s*:\s*)"([0-9T:.Z+-]+)"`)
	nextURL   = regexp.MustCompile(`"next_url"(\s*:\s*)"([^"]*)"`)
	totalRes  = regexp.MustCompile(`"total_results"(\s*:\s*)(\d+)`)
	prevURL   = regexp.MustCompile(`"prev_url"\s*:\s*null\s*,\s*`)
	topKeys   = regexp.MustCompile(`"total_results"(\s*:\s*)(\d+)(\s*,\s*)"total_pages"(\s*:\s*)(\d+)`)
)

// legitimate changes what may differ between two answers read a moment
// apart: every time a second later, next_url's parameters reversed.
func legitimate(status int, body []byte) (int, []byte) {
	body = timeValue.ReplaceAllFunc(body, func(m []byte) []byte {
		p := timeValue.FindSubmatch(m)
		at, err := time.Parse(time.RFC3339, string(p[3]))
		if err != nil {
			return m
		}
		return []byte(fmt.Sprintf(`"%s"%s"%s"`, p[1], p[2], at.Add(time.Second).Format(time.RFC3339)))
	})
	body = nextURL.ReplaceAllFunc(body, func(m []byte) []byte {
		p := nextURL.FindSubmatch(m)
		u, err := url.Parse(string(p[2]))
		if err != nil {
			return m
		}
		parts := strings.Split(u.RawQuery, "&")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		u.RawQuery = strings.Join(parts, "&")
		return []byte(fmt.Sprintf(`"next_url"%s"%s"`, p[1], u.String()))
	})
	return status, body
}

// TestShadowMode runs one v2 read per route family through a gateway in
// shadow mode: the client gets the native answer; the background
// comparison matches when the native answer differs only in what may
// (times a second apart, next_url's parameter order), and when the native
// side is changed as a wrong translation would differ, it names the kind
// and the path: a changed value, a missing key, an extra key, keys in
// another order, another status. Writes go to the native API unshadowed.
func TestShadowMode(t *testing.T) {
	s := startStack(t, nil)
	// An app, so that the app pages have something to compare.
	if r := s.do("POST", s.cfURL+"/v3/apps", "developer", []byte(`{"name":"shadowed","relationships":{"space":{"data":{"guid":"`+backend.DemoSpaceGUID+`"}}}}`)); r.status != 201 {
		t.Fatalf("creating an app: %d %s", r.status, r.body)
	}
	g, replay := shadowGateway(t, s, nil)

	type change struct {
		kind shadow.Kind
		path string
		fn   func(int, []byte) (int, []byte)
	}
	changes := []change{
		{shadow.KindValue, "total_results", func(st int, b []byte) (int, []byte) {
			return st, totalRes.ReplaceAllFunc(b, func(m []byte) []byte {
				p := totalRes.FindSubmatch(m)
				n, _ := strconv.Atoi(string(p[2]))
				return []byte(fmt.Sprintf(`"total_results"%s%d`, p[1], n+1))
			})
		}},
		// A key the native answer lacks is one the translation has too
		// many, and the other way round.
		{shadow.KindExtraKey, "prev_url", func(st int, b []byte) (int, []byte) { return st, prevURL.ReplaceAll(b, nil) }},
		{shadow.KindMissingKey, "capibridge_extra", func(st int, b []byte) (int, []byte) {
			return st, []byte(strings.Replace(string(b), "{", `{"capibridge_extra":1,`, 1))
		}},
		{shadow.KindOrder, "", func(st int, b []byte) (int, []byte) {
			return st, topKeys.ReplaceAll(b, []byte(`"total_pages"$4$5$3"total_results"$1$2`))
		}},
		{shadow.KindStatus, "", func(_ int, b []byte) (int, []byte) { return 500, b }},
	}
	families := []string{"/v2/apps", "/v2/spaces", "/v2/organizations", "/v2/routes", "/v2/shared_domains",
		"/v2/stacks", "/v2/users", "/v2/quota_definitions", "/v2/service_instances", "/v2/events"}
	report := func() map[string]shadow.RouteReport { return shadowReport(t, s, g) }
	// waitFor waits until the route has n comparisons of result.
	waitFor := func(route string, res shadow.Result, n float64) {
		t.Helper()
		waitMetric(t, func() bool { return comparisons(g, route, res) >= n })
	}
	for i, path := range families {
		// Two per page, so that the lists have a next_url.
		uri := path + "?results-per-page=1"
		replay.set(legitimate)
		r := s.do("GET", g.url+uri, "admin", nil)
		direct := s.do("GET", s.gwURL+uri, "admin", nil)
		if r.status != direct.status {
			t.Errorf("%s: the client got %d, the native answer is %d", path, r.status, direct.status)
		}
		waitFor(path, shadow.Match, 1)
		c := changes[i%len(changes)]
		replay.set(func(st int, b []byte) (int, []byte) { return c.fn(legitimate(st, b)) })
		r = s.do("GET", g.url+uri, "admin", nil)
		if c.kind == shadow.KindStatus && r.status != 500 {
			t.Errorf("%s: the client got %d, not the native 500", path, r.status)
		}
		waitFor(path, shadow.Differ, 1)
		rep := report()[path]
		if rep.Match != 1 || rep.Differ != 1 || rep.MatchRate != 0.5 || len(rep.Last) != 1 {
			t.Errorf("%s: report %+v", path, rep)
			continue
		}
		last := rep.Last[0]
		found := false
		for _, d := range last.Differences {
			found = found || d.Kind == c.kind && d.Path == c.path
		}
		if !found || len(last.Differences) != 1 {
			t.Errorf("%s with a %s change: differences %+v, want exactly %s at %q", path, c.kind, last.Differences, c.kind, c.path)
		}
		if last.Request != "GET "+uri || last.NativeBody == "" || last.TranslatedBody == "" || strings.Contains(last.NativeBody+last.Request, s.tokens["admin"]) {
			t.Errorf("%s: sample %+v", path, last)
		}
		if got := testutil.ToFloat64(g.m.ShadowDifferences.WithLabelValues(path, string(c.kind))); got != 1 {
			t.Errorf("%s: capibridge_shadow_differences_total{kind=%s} = %v", path, c.kind, got)
		}
	}
	// A write goes to the native v2 API and is not shadowed.
	replay.set(nil)
	before := testutil.CollectAndCount(g.m.ShadowComparisons)
	if r := s.do("POST", g.url+"/v2/organizations", "admin", []byte(`{"name":"shadow-org"}`)); r.status != 201 {
		t.Errorf("POST /v2/organizations in shadow mode: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.cfURL+"/v3/organizations?names=shadow-org", "admin", nil); !strings.Contains(string(r.body), `"total_results": 1`) &&
		!strings.Contains(string(r.body), `"total_results":1`) {
		t.Errorf("the native API did not create the org: %s", r.body)
	}
	if after := testutil.CollectAndCount(g.m.ShadowComparisons); after != before {
		t.Errorf("a write was shadowed: %d series before, %d after", before, after)
	}
}

// shadowGateway is a gateway in shadow mode in front of a v2 replay of
// the stack, with cfg's shadow settings changed by set.
func shadowGateway(t *testing.T, s *stack, set func(*configs.Shadow)) (launched, *v2Replay) {
	t.Helper()
	replay := startV2Replay(t, s)
	cfg := testGatewayConfig()
	cfg.Upstream = replay.url
	// Long enough that no comparison a test waits for is given up on a
	// loaded machine; tests of the delay set their own.
	cfg.Shadow.Enabled, cfg.Shadow.MaxDelay = true, time.Minute
	if set != nil {
		set(&cfg.Shadow)
	}
	return launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer())), replay
}

// shadowReport reads the gateway's /admin/shadow, by route.
func shadowReport(t *testing.T, s *stack, g launched) map[string]shadow.RouteReport {
	t.Helper()
	r := s.do("GET", g.adminURL+"/admin/shadow", "", nil)
	var out struct {
		Enabled bool
		Routes  []shadow.RouteReport
	}
	if err := json.Unmarshal(r.body, &out); err != nil || !out.Enabled {
		t.Fatalf("/admin/shadow: %d %s", r.status, r.body)
	}
	m := map[string]shadow.RouteReport{}
	for _, rr := range out.Routes {
		m[rr.Route] = rr
	}
	return m
}

// comparisons reads capibridge_shadow_comparisons_total for route and
// result.
func comparisons(g launched, route string, r shadow.Result) float64 {
	return testutil.ToFloat64(g.m.ShadowComparisons.WithLabelValues(route, string(r)))
}

// Past max_pending_bytes a read is counted as skipped, and the client is
// answered all the same.
func TestShadowSkipsPastItsBound(t *testing.T) {
	s := startStack(t, nil)
	g, _ := shadowGateway(t, s, func(c *configs.Shadow) { c.MaxPendingBytes = 1 })
	if r := s.do("GET", g.url+"/v2/stacks", "admin", nil); r.status != 200 {
		t.Fatalf("/v2/stacks: %d", r.status)
	}
	if got := comparisons(g, "/v2/stacks", shadow.Skipped); got != 1 {
		t.Errorf("skipped = %v, want 1", got)
	}
	if got := g.gw.shadow.pending.Load(); got != 0 {
		t.Errorf("%d bytes still counted pending after the skip", got)
	}
}

// A comparison waits while a client request is in flight (yield_above 0),
// runs once none is, and is given up as skipped when that takes longer
// than max_delay; the clients are answered meanwhile.
func TestShadowYieldsToClients(t *testing.T) {
	s := startStack(t, nil)
	g, _ := shadowGateway(t, s, func(c *configs.Shadow) { c.MaxDelay = 4 * time.Second })
	load := &g.gw.shadow.load
	// Another client's request in flight.
	load.enter()
	if r := s.do("GET", g.url+"/v2/stacks", "admin", nil); r.status != 200 {
		t.Fatalf("/v2/stacks: %d", r.status)
	}
	time.Sleep(300 * time.Millisecond)
	for _, res := range shadow.Results() {
		if got := comparisons(g, "/v2/stacks", res); got != 0 {
			t.Fatalf("a comparison ended (%s) while a client was in flight", res)
		}
	}
	if got := g.gw.shadow.pending.Load(); got <= 0 {
		t.Errorf("the waiting comparison holds %d bytes", got)
	}
	load.leave()
	waitMetric(t, func() bool { return comparisons(g, "/v2/stacks", shadow.Match) == 1 })

	// Kept busy past max_delay: skipped, and its bytes given back.
	load.enter()
	if r := s.do("GET", g.url+"/v2/stacks", "admin", nil); r.status != 200 {
		t.Fatalf("/v2/stacks: %d", r.status)
	}
	waitMetric(t, func() bool { return comparisons(g, "/v2/stacks", shadow.Skipped) == 1 })
	load.leave()
	waitMetric(t, func() bool { return g.gw.shadow.pending.Load() == 0 })
	if got := comparisons(g, "/v2/stacks", shadow.Match); got != 1 {
		t.Errorf("match = %v after the skip, want still 1", got)
	}
}

// The idle gate: a waiter goes on once no more than yield_above client
// requests are in flight, not before, and gives up at its deadline.
func TestIdleGate(t *testing.T) {
	l := newIdleGate(0)
	if err := l.wait(time.Now()); err != nil {
		t.Fatalf("idle: %v", err)
	}
	l.enter()
	l.enter()
	if err := l.wait(time.Now().Add(50 * time.Millisecond)); !errors.Is(err, errShadowLate) {
		t.Fatalf("busy past the deadline: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.wait(time.Now().Add(10 * time.Second)) }()
	l.leave()
	select {
	case err := <-done:
		t.Fatalf("woken with a request still in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	l.leave()
	if err := <-done; err != nil {
		t.Fatalf("not woken when idle: %v", err)
	}
	// Above 1: one request in flight does not hold it; -1 never waits.
	l1 := newIdleGate(1)
	l1.enter()
	if err := l1.wait(time.Now()); err != nil {
		t.Errorf("yield_above 1, one in flight: %v", err)
	}
	never := newIdleGate(-1)
	never.enter()
	if err := never.wait(time.Now()); err != nil {
		t.Errorf("yield_above -1: %v", err)
	}
}

// waitMetric waits up to 20 s for cond.
func waitMetric(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 20 s")
}

// go-cfclient's last v2 release, a client nobody here wrote, reading
// through a gateway in shadow mode: it gets the native answers, and every
// read it makes is compared, and matches (the stand-in's answers are the
// translation's, so a difference is a defect of the comparison).
func TestShadowWithGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	if r := s.do("POST", s.cfURL+"/v3/apps", "developer", []byte(`{"name":"go-shadowed","relationships":{"space":{"data":{"guid":"`+backend.DemoSpaceGUID+`"}}}}`)); r.status != 201 {
		t.Fatalf("creating an app: %d %s", r.status, r.body)
	}
	// The gateway names itself in cf_api on purpose; the stand-in does too.
	g, _ := shadowGateway(t, s, func(c *configs.Shadow) { c.Ignore = []string{"application_env_json.VCAP_APPLICATION.cf_api"} })
	c, err := cfclient.NewClient(&cfclient.Config{ApiAddress: g.url, Token: s.tokens["admin"]})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := c.ListApps()
	if err != nil || len(apps) == 0 {
		t.Fatalf("ListApps: %v, %d apps", err, len(apps))
	}
	steps := map[string]func() error{
		"GetAppByGuid":         func() error { _, err := c.GetAppByGuid(apps[0].Guid); return err },
		"GetAppEnv":            func() error { _, err := c.GetAppEnv(apps[0].Guid); return err },
		"ListOrgs":             func() error { _, err := c.ListOrgs(); return err },
		"ListSpaces":           func() error { _, err := c.ListSpaces(); return err },
		"ListRoutes":           func() error { _, err := c.ListRoutes(); return err },
		"ListStacks":           func() error { _, err := c.ListStacks(); return err },
		"ListSharedDomains":    func() error { _, err := c.ListSharedDomains(); return err },
		"ListServices":         func() error { _, err := c.ListServices(); return err },
		"ListServiceInstances": func() error { _, err := c.ListServiceInstances(); return err },
		"ListUsers":            func() error { _, err := c.ListUsers(); return err },
		"ListSecGroups":        func() error { _, err := c.ListSecGroups(); return err },
		"ListOrgQuotas":        func() error { _, err := c.ListOrgQuotas(); return err },
		"ListBuildpacks":       func() error { _, err := c.ListBuildpacks(); return err },
		"ListSpaceQuotas":      func() error { _, err := c.ListSpaceQuotas(); return err },
		// A stopped app's stats are CC's 400 AppStoppedStatsError: compared too.
		"GetAppStats": func() error {
			if _, err := c.GetAppStats(apps[0].Guid); err == nil || !strings.Contains(err.Error(), "200003") {
				return fmt.Errorf("want CF-AppStoppedStatsError, got %v", err)
			}
			return nil
		},
		"GetAppRoutes": func() error { _, err := c.GetAppRoutes(apps[0].Guid); return err },
		"ListUserProvidedServiceInstances": func() error {
			_, err := c.ListUserProvidedServiceInstances()
			return err
		},
		"GetRunningEnvironmentVariableGroup": func() error { _, err := c.GetRunningEnvironmentVariableGroup(); return err },
		"ListEvents":                         func() error { _, err := c.ListEvents(); return err },
	}
	for name, step := range steps {
		if err := step(); err != nil {
			t.Errorf("%s in shadow mode: %v", name, err)
		}
	}
	waitMetric(t, func() bool { return g.gw.shadow.pending.Load() == 0 })
	total := 0.0
	for res, n := range counterBy(t, g, "capibridge_shadow_comparisons_total", "result") {
		if res != string(shadow.Match) && n > 0 {
			t.Errorf("%v comparisons %s: %s", n, res, s.do("GET", g.adminURL+"/admin/shadow", "", nil).body)
		}
		total += n
	}
	if total < float64(len(steps)+1) {
		t.Errorf("%v comparisons for %d reads", total, len(steps)+1)
	}
}
