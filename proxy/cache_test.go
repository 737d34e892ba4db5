package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"capibridge/backend"
	"capibridge/cache"
	"capibridge/configs"
	"capibridge/internal/redistest"
	"capibridge/metrics"
	"capibridge/proxy/auth"
)

// cachedGateway starts another gateway in front of upstream with the
// list-page cache: over Redis at redisAddr, or in process when it is "".
func (s *stack) cachedGateway(t testing.TB, upstream, redisAddr string, now func() time.Time) launched {
	t.Helper()
	cfg := testGatewayConfig()
	cfg.Upstream = upstream
	return launchGateway(t, cfg, func(m *metrics.Metrics) *cache.Cache {
		var rc redis.UniversalClient
		if redisAddr != "" {
			rc = cache.NewRedisClient(redis.UniversalOptions{Addrs: []string{redisAddr}}, 0)
			t.Cleanup(func() { _ = rc.Close() })
		}
		c, err := cache.New(cache.Config{Redis: rc, Metrics: m, Now: now, RedisBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
}

func listTotal(t *testing.T, r reply) int {
	t.Helper()
	var l v2List
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	return l.TotalResults
}

func cacheStatus(r reply) string { return string(r.header.Peek("Cache-Status")) }

// TestCachePerUser: callers never share pages across classes: a
// developer, an outsider and an auditor list the same route; each gets
// their own page, and their own hits.
func TestCachePerUser(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "c-one", "c-two")
	g := s.cachedGateway(t, s.cfURL, "", nil)
	want := map[string]int{"developer": 2, "outsider": 0, "auditor": 2, "admin": 2}
	for round := range 3 {
		for _, user := range []string{"developer", "outsider", "auditor", "admin"} {
			r := s.do("GET", g.url+"/v2/apps", user, nil)
			if n := listTotal(t, r); n != want[user] {
				t.Errorf("round %d: %s sees %d apps, want %d", round, user, n, want[user])
			}
			st := cacheStatus(r)
			if round == 0 && !strings.Contains(st, "fwd=miss") || round > 0 && !strings.Contains(st, "hit") {
				t.Errorf("round %d %s: Cache-Status %q", round, user, st)
			}
		}
	}
	// The auditor's page is not the developer's: env is redacted for it.
	dev := s.do("GET", g.url+"/v2/apps", "developer", nil)
	aud := s.do("GET", g.url+"/v2/apps", "auditor", nil)
	if !strings.Contains(string(dev.body), `"environment_json":{"K":"v"}`) || !strings.Contains(string(aud.body), `"redacted_message"`) {
		t.Errorf("developer %s\nauditor %s", dev.body, aud.body)
	}
	if got := testutil.ToFloat64(g.m.CacheRequests.WithLabelValues("/v2/apps", metrics.CacheHit)); got != 10 {
		t.Errorf("hits counted %v, want 10", got)
	}
	// no-cache goes upstream and refreshes the entry.
	if r := s.do("GET", g.url+"/v2/apps", "developer", nil, "Cache-Control", "no-cache"); !strings.Contains(cacheStatus(r), "fwd=request") {
		t.Errorf("no-cache: Cache-Status %q", cacheStatus(r))
	}
}

// TestCacheGlobalAuditorsApart: two global auditors do not share pages:
// one who is also the space's developer reads its environment variables,
// the other must not get that page from the cache.
func TestCacheGlobalAuditorsApart(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "ga-one")
	g := s.cachedGateway(t, s.cfURL, "", nil)
	token := func(user string) string {
		tok, err := s.cf.Token(t.Context(), user, "cloud_controller.global_auditor", "openid")
		if err != nil {
			t.Fatal(err)
		}
		return "bearer " + tok
	}
	dev := s.do("GET", g.url+"/v2/apps", token("developer"), nil)
	if !strings.Contains(string(dev.body), `"environment_json":{"K":"v"}`) {
		t.Fatalf("the developer who is a global auditor: %s", dev.body)
	}
	out := s.do("GET", g.url+"/v2/apps", token("outsider"), nil)
	if strings.Contains(string(out.body), `"K":"v"`) || !strings.Contains(string(out.body), `"redacted_message"`) {
		t.Errorf("another global auditor read the developer's page (Cache-Status %q): %s", cacheStatus(out), out.body)
	}
	if !strings.Contains(cacheStatus(out), "fwd=miss") {
		t.Errorf("Cache-Status %q, want a miss", cacheStatus(out))
	}
}

// TestCacheReadYourWritesAcrossInstances: a write answered by gateway A is
// seen at once by a read through gateway B, both sharing one Redis.
func TestCacheReadYourWritesAcrossInstances(t *testing.T) {
	s := startStack(t, nil)
	rs := redistest.Start(t)
	a := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	b := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	space := backend.DemoSpaceGUID
	for i := range 15 {
		before := listTotal(t, s.do("GET", b.url+"/v2/spaces/"+space+"/apps", "developer", nil))
		if i > 0 {
			if r := s.do("GET", b.url+"/v2/spaces/"+space+"/apps", "developer", nil); !strings.Contains(cacheStatus(r), "hit") {
				t.Fatalf("round %d: the second read was not a hit: %q", i, cacheStatus(r))
			}
		}
		body := fmt.Sprintf(`{"name":"ryw-%d","relationships":{"space":{"data":{"guid":%q}}}}`, i, space)
		if r := s.do("POST", a.url+"/v3/apps", "developer", []byte(body)); r.status != 201 {
			t.Fatalf("create through A: %d %s", r.status, r.body)
		}
		if after := listTotal(t, s.do("GET", b.url+"/v2/spaces/"+space+"/apps", "developer", nil)); after != before+1 {
			t.Fatalf("round %d: B lists %d apps right after A's create, want %d", i, after, before+1)
		}
	}
	// A rename through A is seen through B's single-app page too.
	apps := s.do("GET", b.url+"/v2/apps?q=name:ryw-0", "developer", nil)
	var l v2List
	_ = json.Unmarshal(apps.body, &l)
	guid := l.Resources[0].Metadata.GUID
	s.do("GET", b.url+"/v2/apps/"+guid, "developer", nil)
	if r := s.do("PATCH", a.url+"/v3/apps/"+guid, "developer", []byte(`{"name":"renamed"}`)); r.status != 200 {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	if r := s.do("GET", b.url+"/v2/apps/"+guid, "developer", nil); !strings.Contains(string(r.body), `"name":"renamed"`) {
		t.Errorf("B after A's rename: %s", r.body)
	}
}

// TestCacheRedisRestartUnderLoad: Redis killed and restarted while clients
// read: no request fails, and hits resume once Redis is back.
func TestCacheRedisRestartUnderLoad(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "load-one")
	rs := redistest.Start(t)
	g := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	var stop atomic.Bool
	var failures, requests atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r := s.do("GET", g.url+"/v2/apps", "developer", nil)
				requests.Add(1)
				if r.status != 200 || !strings.Contains(string(r.body), "load-one") {
					failures.Add(1)
				}
			}
		}()
	}
	waitFor(t, "hits before the restart", func() bool {
		return testutil.ToFloat64(g.m.CacheRequests.WithLabelValues("/v2/apps", metrics.CacheHit)) > 10
	})
	rs.Kill()
	waitFor(t, "requests served while Redis is down", func() bool {
		return testutil.ToFloat64(g.m.CacheRequests.WithLabelValues("/v2/apps", metrics.CacheError)) > 5
	})
	rs.Restart()
	hitsBack := testutil.ToFloat64(g.m.CacheRequests.WithLabelValues("/v2/apps", metrics.CacheHit))
	waitFor(t, "hits after the restart", func() bool {
		return testutil.ToFloat64(g.m.CacheRequests.WithLabelValues("/v2/apps", metrics.CacheHit)) > hitsBack+10
	})
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed", failures.Load(), requests.Load())
	}
}

// waitFor polls cond until it holds, failing after a generous deadline;
// no timing is asserted.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// switchable is an upstream that forwards to the embedded CF until it is
// switched off, then drops every connection, as a Cloud Controller that
// went away.
type switchable struct {
	down atomic.Bool
	url  string
}

func newSwitchable(t *testing.T, target string) *switchable {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	sw := &switchable{}
	rp := httputil.NewSingleHostReverseProxy(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sw.down.Load() {
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	sw.url = "http://" + ln.Addr().String()
	return sw
}

// TestCacheStaleIfError: with the upstream down, an expired page is served
// marked stale within cache.stale_if_error, and a v2 error after it.
func TestCacheStaleIfError(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "stale-one")
	up := newSwitchable(t, s.cfURL)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	g := s.cachedGateway(t, up.url, "", clock)
	defaults := configs.Default().Cache

	if r := s.do("GET", g.url+"/v2/apps", "developer", nil); listTotal(t, r) != 1 || !strings.Contains(cacheStatus(r), "stored") {
		t.Fatalf("first read: %q %s", cacheStatus(r), r.body)
	}
	up.down.Store(true)
	advance(defaults.TTL + time.Second)
	r := s.do("GET", g.url+"/v2/apps", "developer", nil)
	if listTotal(t, r) != 1 || !strings.Contains(cacheStatus(r), "fwd=stale") || !strings.Contains(cacheStatus(r), "stale-if-error") {
		t.Errorf("upstream down within the bound: %d %q", r.status, cacheStatus(r))
	}
	advance(defaults.StaleIfError)
	r = s.do("GET", g.url+"/v2/apps", "developer", nil)
	if r.status < 500 || !strings.Contains(string(r.body), `"error_code":"CF-`) && !strings.Contains(string(r.body), `"UnknownError"`) {
		t.Errorf("upstream down past the bound: %d %s", r.status, r.body)
	}
	up.down.Store(false)
	if r := s.do("GET", g.url+"/v2/apps", "developer", nil); listTotal(t, r) != 1 {
		t.Errorf("upstream back: %d", r.status)
	}
}

// TestCacheCoalescesMisses: 100 concurrent misses of one page make one
// upstream fan-out.
func TestCacheCoalescesMisses(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "co-one", "co-two")
	g := s.cachedGateway(t, s.cfURL, "", nil)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.do("GET", g.url+"/v2/apps", "developer", nil); r.status != 200 || !strings.Contains(string(r.body), "co-two") {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d requests failed", bad.Load())
	}
	if n := testutil.ToFloat64(g.m.UpstreamRequests.WithLabelValues("/v3/apps", metrics.OutcomeOK)); n != 1 {
		t.Errorf("%v upstream app lists for 100 concurrent misses, want 1", n)
	}
}

// TestCacheInvalidatesWhenJobFinishes: a v3 delete answers 202 and
// deletes later; the cache drops the app's pages when the job is done.
func TestCacheInvalidatesWhenJobFinishes(t *testing.T) {
	// The delete job waits before it runs, so the invalidation at the 202
	// comes too early and only the one after the job can clear the page.
	s := startStackWith(t, func(b *configs.Backend) { b.JobDelay = 300 * time.Millisecond }, nil)
	guid := s.createApps(t, "developer", "jobbed")[0]
	g := s.cachedGateway(t, s.cfURL, "", nil)
	if n := listTotal(t, s.do("GET", g.url+"/v2/apps", "developer", nil)); n != 1 {
		t.Fatalf("%d apps", n)
	}
	if r := s.do("DELETE", g.url+"/v3/apps/"+guid, "developer", nil); r.status != 202 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// Well within the cache TTL (30 s), which would clear it anyway.
	deadline := time.Now().Add(10 * time.Second)
	for listTotal(t, s.do("GET", g.url+"/v2/apps", "developer", nil)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the deleted app is still listed from the cache")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheDoesNotKeepPendingStarts: a page showing a v2 start that waits
// for staging is not cached, so the start shows finished as soon as the
// build stages, well within the TTL.
func TestCacheDoesNotKeepPendingStarts(t *testing.T) {
	s := startStackWith(t, func(b *configs.Backend) {
		b.StagingDuration, b.StartupDuration = 600*time.Millisecond, 10*time.Millisecond
	}, nil)
	g := s.cachedGateway(t, s.cfURL, "", nil)
	body := fmt.Sprintf(`{"name":"pending","space_guid":%q,"docker_image":"nginx:1","state":"STARTED"}`, backend.DemoSpaceGUID)
	r := s.do("POST", g.url+"/v2/apps", "developer", []byte(body))
	if r.status != 201 || !strings.Contains(string(r.body), `"package_state":"PENDING"`) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var res struct{ Metadata struct{ GUID string } }
	_ = json.Unmarshal(r.body, &res)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.do("GET", g.url+"/v2/apps/"+res.Metadata.GUID, "developer", nil)
		if strings.Contains(string(r.body), `"package_state":"STAGED"`) {
			break
		}
		if strings.Contains(cacheStatus(r), "hit") {
			t.Fatalf("a pending start was served from the cache: %q", cacheStatus(r))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start never finished: %s", r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once staged, the page is cached again.
	s.do("GET", g.url+"/v2/apps/"+res.Metadata.GUID, "developer", nil)
	if r := s.do("GET", g.url+"/v2/apps/"+res.Metadata.GUID, "developer", nil); !strings.Contains(cacheStatus(r), "hit") {
		t.Errorf("after staging: %q", cacheStatus(r))
	}
}
