package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/configs"
	"capibridge/proxy/auth"
)

// backgroundConfig runs the background work as the embedded UAA's gateway
// client.
func (s *stack) backgroundConfig(sweep, watch time.Duration) configs.Background {
	b := configs.DefaultBackend()
	return configs.Background{ClientID: b.GatewayClientID, ClientSecret: b.GatewayClientSecret, TokenURL: s.cfURL + "/oauth/token",
		SweepInterval: sweep, WatchInterval: watch}
}

func runBackground(t *testing.T, g *Gateway, cfg configs.Background) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.RunBackground(ctx, cfg); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestBackgroundSweepFinishesPendingStarts: a v2 start nobody reads again
// is finished by the sweep once its build has staged.
func TestBackgroundSweepFinishesPendingStarts(t *testing.T) {
	s := startStackWith(t, func(b *configs.Backend) {
		b.StagingDuration, b.StartupDuration = 600*time.Millisecond, 10*time.Millisecond
	}, nil)
	body := fmt.Sprintf(`{"name":"swept","space_guid":%q,"docker_image":"nginx:1","state":"STARTED"}`, backend.DemoSpaceGUID)
	r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body))
	if r.status != 201 || !strings.Contains(string(r.body), `"package_state":"PENDING"`) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	guid := mustField(t, mustField(t, r.body, "metadata"), "guid")
	runBackground(t, s.gw, s.backgroundConfig(50*time.Millisecond, 0))
	// Read the v3 app straight from the embedded CF: no v2 read finishes it.
	waitFor(t, "the sweep to start the app", func() bool {
		a := s.do("GET", s.cfURL+"/v3/apps/"+strings.Trim(string(guid), `"`), "developer", nil)
		return strings.Contains(string(a.body), `"state":"STARTED"`) && !strings.Contains(string(a.body), "capibridge.io/pending-start")
	})
}

// TestBackgroundWatchInvalidates: a change made around the gateway (on the
// Cloud Controller directly) reaches the cached pages through the audit
// events, long before the TTL.
func TestBackgroundWatchInvalidates(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "watched-one")
	g := s.cachedGateway(t, s.cfURL, "", nil)
	runBackground(t, g.gw, s.backgroundConfig(0, 50*time.Millisecond))
	if n := listTotal(t, s.do("GET", g.url+"/v2/apps", "developer", nil)); n != 1 {
		t.Fatalf("%d apps", n)
	}
	s.createApps(t, "developer", "watched-two")  // straight to the embedded CF
	deadline := time.Now().Add(10 * time.Second) // the TTL is 30 s
	for listTotal(t, s.do("GET", g.url+"/v2/apps", "developer", nil)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the cached list never showed the app made around the gateway")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHiddenIsNotAuthorized: with its own client, the gateway tells a
// resource the user may not see (403 NotAuthorized, as CC v2's
// find_guid_and_validate_access) from one that does not exist (404).
func TestHiddenIsNotAuthorized(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "hidden")[0]
	// The same embedded CF, a gateway with the background client.
	cfg := testGatewayConfig()
	cfg.Upstream = s.cfURL
	cfg.Background = s.backgroundConfig(0, 0)
	g := launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	cases := []struct{ path, user, want string }{
		{"/v2/apps/" + guid, "outsider", `{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`},
		{"/v2/apps/" + guid + "/summary", "outsider", `"CF-NotAuthorized"`},
		{"/v2/spaces/" + backend.DemoSpaceGUID, "outsider", `"CF-NotAuthorized"`},
		{"/v2/organizations/" + backend.DemoOrgGUID, "outsider", `"CF-NotAuthorized"`},
		{"/v2/apps/00000000-0000-4000-8000-00000000dead", "outsider", `"CF-AppNotFound"`},
		{"/v2/spaces/00000000-0000-4000-8000-00000000dead/apps", "developer", `"CF-SpaceNotFound"`},
		{"/v2/apps/" + guid, "developer", `"name":"hidden"`},
	}
	for _, tc := range cases {
		r := s.do("GET", g.url+tc.path, tc.user, nil)
		if !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s as %s: %d %s", tc.path, tc.user, r.status, r.body)
		}
	}
}

// TestNoWebProcessIsNotFound: an app the user sees but which has no web
// process is no v2 app: 404 AppNotFound, not NotAuthorized, even though
// the gateway's own client finds it.
func TestNoWebProcessIsNotFound(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "headless")[0]
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://")}
	hop := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/v3/apps/"+guid+"/processes/web" || string(ctx.Path()) == "/v3/processes" {
			// v3 as it answers an app whose web process is gone.
			if string(ctx.Path()) == "/v3/processes" {
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"pagination":{"total_results":0,"total_pages":1},"resources":[]}`)
				return
			}
			ctx.SetStatusCode(404)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`)
			return
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	cfg := testGatewayConfig()
	cfg.Upstream = hop
	cfg.Background = s.backgroundConfig(0, 0)
	g := launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	for user, want := range map[string]string{"admin": `"CF-AppNotFound"`, "developer": `"CF-AppNotFound"`, "outsider": `"CF-NotAuthorized"`} {
		r := s.do("GET", g.url+"/v2/apps/"+guid, user, nil)
		if !strings.Contains(string(r.body), want) {
			t.Errorf("as %s: %d %s, want %s", user, r.status, r.body, want)
		}
	}
}
