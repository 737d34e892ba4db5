package proxy

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// faultyHop starts a forwarding hop to the embedded CF that answers 500
// (in v3's error shape) to the requests refuse picks, and a gateway in
// front of it sharing s's tokens. It returns the gateway's URL and how
// many requests were refused.
func (s *stack) faultyHop(t *testing.T, refuse func(req *fasthttp.Request) bool) (string, *atomic.Int32) {
	t.Helper()
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://")}
	var refused atomic.Int32
	hop := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if refuse(&ctx.Request) {
			refused.Add(1)
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"errors":[{"detail":"An unknown error occurred.","title":"UnknownError","code":10001}]}`)
			return
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	return s.gatewayFor(t, hop, nil).gwURL, &refused
}

// patchesAnnotation picks the PATCH of an app that writes the pending
// start annotation: with a build guid (set; not the "requested" record a
// start writes before its build) or null (clear).
func patchesAnnotation(set bool) func(*fasthttp.Request) bool {
	return func(req *fasthttp.Request) bool {
		if string(req.Header.Method()) != "PATCH" || !bytes.HasPrefix(req.URI().Path(), []byte("/v3/apps/")) ||
			bytes.Contains(req.URI().Path(), []byte("/relationships/")) {
			return false
		}
		if set {
			return bytes.Contains(req.Body(), []byte(`"capibridge.io/pending-start":"`)) &&
				!bytes.Contains(req.Body(), []byte(`"capibridge.io/pending-start":"requested"`))
		}
		return bytes.Contains(req.Body(), []byte(`"capibridge.io/pending-start":null`))
	}
}

// A v2 start whose last step (recording the build) fails after the build
// was made has done what the client asked: the start was recorded as
// requested before the build, so the update answers 201 and the next read
// carries the start on from the build it finds.
func TestV2StartRecordFailsAfterTheBuild(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"half","space_guid":%q}`, demoSpace))
	s.uploadBits(t, guid, map[string]string{"index.html": "hi", "Staticfile": ""})
	gw, refused := s.faultyHop(t, patchesAnnotation(true))
	a := decodeApp(t, s.do("PUT", gw+"/v2/apps/"+guid, "developer", []byte(`{"memory":300,"state":"STARTED"}`)), 201)
	if refused.Load() == 0 {
		t.Fatal("the annotation was never written")
	}
	if a.Entity.Memory != 300 || a.Entity.State != "STARTED" {
		t.Errorf("memory %d, state %s", a.Entity.Memory, a.Entity.State)
	}
	s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
	if st, p := v3State(t, s, guid); st != "STARTED" || p != "" {
		t.Errorf("v3 state %s, pending %q: want started, the record cleared", st, p)
	}
}

// A v2 start that cannot record itself before staging begins nothing:
// the update's other changes are undone, and no build is made.
func TestV2StartUnrecordedBeginsNothing(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"unrecorded","space_guid":%q}`, demoSpace))
	s.uploadBits(t, guid, map[string]string{"index.html": "hi", "Staticfile": ""})
	gw, refused := s.faultyHop(t, func(req *fasthttp.Request) bool {
		return bytes.Contains(req.Body(), []byte(`"capibridge.io/pending-start":"requested"`))
	})
	r := s.do("PUT", gw+"/v2/apps/"+guid, "developer", []byte(`{"memory":300,"state":"STARTED"}`))
	if refused.Load() == 0 || r.status != 500 || bytes.Contains(r.body, []byte("could not be undone")) {
		t.Fatalf("%d refused; %d %s", refused.Load(), r.status, r.body)
	}
	a := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200)
	if a.Entity.Memory == 300 || a.Entity.State != "STOPPED" {
		t.Errorf("memory %d, state %s: the update was not undone", a.Entity.Memory, a.Entity.State)
	}
	var builds struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	s.v3JSON(t, "/v3/apps/"+guid+"/builds", &builds)
	if len(builds.Resources) != 0 {
		t.Errorf("builds made: %+v", builds)
	}
}

// A v2 start that ran the app but could not clear the pending start's
// record has done what the client asked: 201, and the stale record is
// cleared by a later read.
func TestV2StartClearFailsAfterTheStart(t *testing.T) {
	// Staging outlasts the first start's answer, which would otherwise
	// finish the start itself on a slow machine (its read-back finds the
	// build staged) and leave no record for the hop to refuse clearing.
	s := startStackStaging(t, time.Second)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"dock","space_guid":%q,"docker_image":"nginx:1"}`, demoSpace))
	a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
	var build struct{ State string }
	waitFor(t, "the build to stage", func() bool {
		s.v3JSON(t, "/v3/builds/"+*a.Entity.StagingTaskID, &build)
		return build.State == "STAGED"
	})
	gw, refused := s.faultyHop(t, patchesAnnotation(false))
	b := decodeApp(t, s.do("PUT", gw+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
	if refused.Load() == 0 {
		t.Fatal("the record was never cleared")
	}
	if st, p := v3State(t, s, guid); st != "STARTED" || p == "" {
		t.Errorf("v3 state %s, pending %q: want started with the record left", st, p)
	}
	if b.Entity.State != "STARTED" || b.Entity.PackageState != "STAGED" {
		t.Errorf("answered %s %s", b.Entity.State, b.Entity.PackageState)
	}
	decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200)
	if st, p := v3State(t, s, guid); st != "STARTED" || p != "" {
		t.Errorf("after a read: v3 state %s, pending %q", st, p)
	}
}

// A v2 start that made the staged droplet current and then could not run
// the app says so: the droplet stays current (v2 would stage and run it
// on the next start anyway).
func TestV2StartFailsAfterTheDroplet(t *testing.T) {
	s := startStackStaging(t, 100*time.Millisecond)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"dock","space_guid":%q,"docker_image":"nginx:1"}`, demoSpace))
	a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
	var build struct {
		State   string
		Droplet struct{ GUID string }
	}
	waitFor(t, "the build to stage", func() bool {
		s.v3JSON(t, "/v3/builds/"+*a.Entity.StagingTaskID, &build)
		return build.State == "STAGED"
	})
	gw, refused := s.faultyHop(t, func(req *fasthttp.Request) bool {
		return string(req.Header.Method()) == "POST" && bytes.HasSuffix(req.URI().Path(), []byte("/actions/start"))
	})
	r := s.do("PUT", gw+"/v2/apps/"+guid, "developer", []byte(`{"instances":2,"state":"STARTED"}`))
	if refused.Load() == 0 {
		t.Fatal("the app was never started")
	}
	wantError(t, r, 500, `{"error_code":"UnknownError","description":"An unknown error occurred. `+
		`(these changes were applied and could not be undone: state: the staged droplet became current)","code":10001}`)
	var cur struct{ Data struct{ GUID string } }
	s.v3JSON(t, "/v3/apps/"+guid+"/relationships/current_droplet", &cur)
	if cur.Data.GUID != build.Droplet.GUID {
		t.Errorf("current droplet %q, want %q", cur.Data.GUID, build.Droplet.GUID)
	}
	if st, _ := v3State(t, s, guid); st != "STOPPED" {
		t.Errorf("v3 state %s", st)
	}
	if web := decodeApp(t, s.do("GET", gw+"/v2/apps/"+guid, "developer", nil), 200); web.Entity.Instances != 1 {
		t.Errorf("instances %d: the scale was not undone", web.Entity.Instances)
	}
}

// A create whose app cannot be read back afterwards still tells the
// client where its app is: in Location and in the error.
func TestV2CreateUnreadable(t *testing.T) {
	s := startStack(t, nil)
	gw, refused := s.faultyHop(t, func(req *fasthttp.Request) bool {
		// GET /v3/apps/:guid, which only the read-back sends.
		p := req.URI().Path()
		return string(req.Header.Method()) == "GET" && bytes.HasPrefix(p, []byte("/v3/apps/")) && bytes.Count(p, []byte("/")) == 3
	})
	r := s.do("POST", gw+"/v2/apps", "developer", []byte(fmt.Sprintf(`{"name":"unread","space_guid":%q}`, demoSpace)))
	if refused.Load() < 2 {
		t.Errorf("read back %d times, want 2", refused.Load())
	}
	loc := string(r.header.Peek("Location"))
	if !strings.HasPrefix(loc, "/v2/apps/") {
		t.Fatalf("Location %q: %d %s", loc, r.status, r.body)
	}
	wantError(t, r, 500, `{"error_code":"UnknownError","description":"An unknown error occurred. (the app was created: `+loc+`)","code":10001}`)
	if a := decodeApp(t, s.do("GET", s.gwURL+loc, "developer", nil), 200); a.Entity.Name != "unread" {
		t.Errorf("the created app reads %+v", a.Entity)
	}
}
