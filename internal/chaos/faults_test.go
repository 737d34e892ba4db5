package chaos

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// watchQuiet is how long after a write the gateways' audit-event watch
// (background.watch_interval, 5 s) may still invalidate pages: before the
// Cloud Controller goes down, the cached pages must have been filled after
// that, so that serving them is no page older than a write.
const watchQuiet = 7 * time.Second

// testCloudControllerRestart: the Cloud Controller (the backend process)
// killed with SIGKILL and started again on the same port, under load.
// Cached v2 pages are read all along, through both gateways; requests that
// must reach the Cloud Controller (v3 passthrough, single v2 reads) run
// before the kill and resume the moment it answers again, on the
// connections the gateways pooled before it went down; then, as the issue
// measured, 20 v2 creates and 20 v3 reads back to back. 0 non-2xx
// expected: a request that failed on a dead pooled connection before any
// answer is retried on a fresh one.
func testCloudControllerRestart(t *testing.T, s *stack, tb *table) {
	dev, admin := s.tokens["developer"], s.tokens["admin"]
	page := "/v2/apps?results-per-page=50"
	l := newLoad(time.Duration(*rounds)*(4**duration+2*watchQuiet) + 2*time.Minute)
	defer l.stop()
	cached := &group{workers: 3, targets: []target{
		{name: "A GET " + page + " (developer)", method: "GET", url: s.a.url + page, token: dev},
		{name: "B GET " + page + " (admin)", method: "GET", url: s.b.url + page, token: admin},
		{name: "B GET " + page + " (developer)", method: "GET", url: s.b.url + page, token: dev},
	}}
	upstream := &group{workers: 4, targets: []target{
		{name: "A GET /v3/apps", method: "GET", url: s.a.url + "/v3/apps?per_page=10", token: dev},
		{name: "B GET /v3/apps", method: "GET", url: s.b.url + "/v3/apps?per_page=10", token: admin},
		{name: "A GET /v3/apps/:guid", method: "GET", url: s.a.url + "/v3/apps/" + s.apps[0].guid, token: dev},
		{name: "B GET /v2/apps/:guid/summary", method: "GET", url: s.b.url + "/v2/apps/" + s.apps[1].guid + "/summary", token: dev},
	}}
	var created []string
	for r := range *rounds {
		l.setPhase(fmt.Sprintf("r%d before", r+1))
		if r == 0 {
			l.run(cached)
			l.run(upstream)
		} else {
			upstream.resume()
		}
		time.Sleep(*duration)
		// The cached pages must postdate every write the watch may still
		// act on.
		for time.Since(s.lastWrite()) < watchQuiet+*duration {
			time.Sleep(100 * time.Millisecond)
		}
		upstream.pause()
		l.setPhase(fmt.Sprintf("r%d cloud controller down", r+1))
		s.cf.kill()
		time.Sleep(min(*duration, 2*time.Second))
		s.startCF()
		l.setPhase(fmt.Sprintf("r%d after restart", r+1))
		upstream.resume()
		for i := range 20 {
			body := fmt.Sprintf(`{"name":"chaos-cc-r%d-%02d","space_guid":%q}`, r+1, i, demoSpace)
			code, resp := l.do(target{name: "A POST /v2/apps", method: "POST", url: s.a.url + "/v2/apps", token: dev, bodies: [][]byte{[]byte(body)}})
			if code == 201 {
				var app struct{ Metadata struct{ GUID string } }
				_ = json.Unmarshal(resp, &app)
				created = append(created, app.Metadata.GUID)
			}
		}
		s.wrote()
		for i := range 20 {
			g := s.a
			if i%2 == 1 {
				g = s.b
			}
			l.do(target{name: "GET /v3/apps", method: "GET", url: g.url + "/v3/apps?per_page=5", token: dev})
		}
		time.Sleep(*duration)
	}
	l.stop()
	// The created apps go, straight at the Cloud Controller, so that the
	// pages the later scenarios read stay small.
	s.deleteApps(created)
	l.tally.report(t, tb, "cloud controller kill -9 + restart under load: 0 non-2xx", l.figures())
}

// testRedisFaults: Redis stopped with SIGSTOP (it hangs: connections are
// accepted, nothing is answered) and later killed and started again
// empty, under load: cached v2 reads through both gateways, v3
// passthrough, and v2 updates through both. 0 non-2xx expected: Redis
// down is slower, not broken.
func testRedisFaults(t *testing.T, s *stack, tb *table) {
	dev, admin, aud := s.tokens["developer"], s.tokens["admin"], s.tokens["auditor"]
	page := "/v2/apps?results-per-page=50"
	l := newLoad(time.Duration(*rounds)*6**duration + 2*time.Minute)
	defer l.stop()
	reads := &group{workers: 6, targets: []target{
		{name: "A GET " + page + " (developer)", method: "GET", url: s.a.url + page, token: dev},
		{name: "B GET " + page + " (admin)", method: "GET", url: s.b.url + page, token: admin},
		{name: "A GET " + page + " (admin)", method: "GET", url: s.a.url + page, token: admin},
		{name: "B GET " + page + " (developer)", method: "GET", url: s.b.url + page, token: dev},
		{name: "A GET " + page + " (auditor)", method: "GET", url: s.a.url + page, token: aud},
		{name: "B GET /v3/apps", method: "GET", url: s.b.url + "/v3/apps?per_page=10", token: dev},
	}}
	scale := [][]byte{[]byte(`{"instances":2}`), []byte(`{"instances":1}`)}
	writes := &group{workers: 1, targets: []target{
		{name: "A PUT /v2/apps/:guid", method: "PUT", url: s.a.url + "/v2/apps/" + s.writeApp, token: dev, bodies: scale, pause: 100 * time.Millisecond},
		{name: "B PUT /v2/apps/:guid", method: "PUT", url: s.b.url + "/v2/apps/" + s.writeApp, token: dev, bodies: scale, pause: 100 * time.Millisecond},
	}}
	for r := range *rounds {
		l.setPhase(fmt.Sprintf("r%d before", r+1))
		if r == 0 {
			l.run(reads)
			l.run(writes)
		}
		time.Sleep(*duration)
		l.setPhase(fmt.Sprintf("r%d redis stopped", r+1))
		s.redis.Pause()
		time.Sleep(*duration)
		s.redis.Resume()
		l.setPhase(fmt.Sprintf("r%d redis resumed", r+1))
		time.Sleep(*duration)
		l.setPhase(fmt.Sprintf("r%d redis killed", r+1))
		s.redis.Kill()
		time.Sleep(*duration)
		s.redis.Restart()
		l.setPhase(fmt.Sprintf("r%d redis restarted", r+1))
		time.Sleep(*duration)
	}
	l.stop()
	s.wrote()
	l.tally.report(t, tb, "redis SIGSTOP + kill under load: 0 non-2xx", l.figures())
}

// deleteApps deletes apps straight at the Cloud Controller and waits until
// they are gone, so that no later load reads a list while they go.
func (s *stack) deleteApps(guids []string) {
	s.t.Helper()
	for _, guid := range guids {
		if code, body, err := s.do("DELETE", s.cfURL+"/v3/apps/"+guid, s.tokens["admin"], nil, nil); err != nil || code != 202 {
			s.t.Fatalf("deleting app %s: %d %v %s", guid, code, err, body)
		}
	}
	for _, guid := range guids {
		for deadline := time.Now().Add(time.Minute); ; {
			code, _, err := s.get(s.cfURL+"/v3/apps/"+guid, s.tokens["admin"])
			if err == nil && code == 404 {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("app %s still there a minute after its delete (%d %v)", guid, code, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.wrote()
}
