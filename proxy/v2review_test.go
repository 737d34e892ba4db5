package proxy

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
	"time"
)

// TestPendingStartSupersededByV3Deploy: a v2 start left pending, then a
// v3 client deploys a newer build and starts it; a later v2 read must not
// put the app back on the pending start's older droplet.
func TestPendingStartSupersededByV3Deploy(t *testing.T) {
	s := startStackStaging(t, 300*time.Millisecond)
	guid := s.createV2(t, fmt.Sprintf(`{"name":"mixed","space_guid":%q,"docker_image":"nginx:1"}`, demoSpace))
	a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 201)
	b1 := *a.Entity.StagingTaskID
	var build struct {
		State   string
		Droplet struct{ GUID string }
	}
	waitFor(t, "the v2 build to stage", func() bool { s.v3JSON(t, "/v3/builds/"+b1, &build); return build.State == "STAGED" })
	// A v3 client deploys nginx:2 without going through v2.
	p2 := s.v3Create(t, "developer", "/v3/packages", fmt.Sprintf(`{"type":"docker","relationships":{"app":{"data":{"guid":%q}}},"data":{"image":"nginx:2"}}`, guid))
	b2 := s.v3Create(t, "developer", "/v3/builds", fmt.Sprintf(`{"package":{"guid":%q}}`, p2))
	waitFor(t, "the v3 build to stage", func() bool { s.v3JSON(t, "/v3/builds/"+b2, &build); return build.State == "STAGED" })
	d2 := build.Droplet.GUID
	if r := s.do("PATCH", s.cfURL+"/v3/apps/"+guid+"/relationships/current_droplet", "developer", []byte(fmt.Sprintf(`{"data":{"guid":%q}}`, d2))); r.status != 200 {
		t.Fatalf("current droplet: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.cfURL+"/v3/apps/"+guid+"/actions/start", "developer", nil); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	after := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200)
	var cur struct{ Data struct{ GUID string } }
	s.v3JSON(t, "/v3/apps/"+guid+"/relationships/current_droplet", &cur)
	if cur.Data.GUID != d2 {
		t.Errorf("a v2 read put the app back on the pending start's droplet %s (v3 deployed %s)", cur.Data.GUID, d2)
	}
	if st, p := v3State(t, s, guid); st != "STARTED" || p != "" {
		t.Errorf("v3 state %s, pending %q", st, p)
	}
	if after.Entity.PackageState != "STAGED" || deref(after.Entity.DockerImage) != "nginx:2" {
		t.Errorf("v2 reads %+v", after.Entity)
	}
}

// TestKillInstanceWithoutV3ErrorBody: a 404 whose body is not v3's JSON
// (a router's text) is still CC's InstancesError, not a panic.
func TestKillInstanceWithoutV3ErrorBody(t *testing.T) {
	s := startStack(t, nil)
	fake := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch p := string(ctx.Path()); {
		case strings.HasSuffix(p, "/processes/web"):
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"guid":"p1","type":"web"}`)
		case ctx.IsDelete():
			ctx.SetStatusCode(404)
			ctx.SetBodyString("404 Not Found: Requested route does not exist.")
		default:
			ctx.SetStatusCode(500)
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fake.Serve(ln)
	t.Cleanup(func() { _ = fake.Shutdown() })
	cfg := testGatewayConfig()
	cfg.Upstream = "http://" + ln.Addr().String()
	g := launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	if r := s.do("DELETE", g.url+"/v2/apps/a1/instances/0", "admin", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-InstancesError") {
		t.Errorf("%d %s", r.status, r.body)
	}
}
