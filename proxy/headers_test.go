package proxy

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
)

// UAA tokens with many scopes or groups run to several KiB, and gorouter
// takes 1 MiB of headers: 20 KiB of headers pass the gateway and the
// embedded CF, on a translated v2 route and on the v3 passthrough.
func TestLargeHeadersPassEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	big := strings.Repeat("x", 20<<10)
	for _, path := range []string{"/v2/apps", "/v3/apps", "/v2/info"} {
		r := s.do("GET", s.gwURL+path, "developer", nil, "X-Large-Header", big)
		if r.status != 200 {
			t.Errorf("%s with 20 KiB of headers: %d %.300s", path, r.status, r.body)
		}
	}
	// A 20 KiB token, which the v2 handlers send upstream too.
	token := s.mintToken(t, manyScopes(450))
	if len(token) < 20<<10 {
		t.Fatalf("token of %d bytes", len(token))
	}
	for _, path := range []string{"/v2/apps", "/v3/apps"} {
		if r := s.do("GET", s.gwURL+path, token, nil); r.status != 200 {
			t.Errorf("%s with a 20 KiB token: %d %.300s", path, r.status, r.body)
		}
	}
}

// manyScopes is the developer's scopes and n groups, for large tokens.
func manyScopes(n int) []string {
	scopes := []string{"cloud_controller.read", "cloud_controller.write"}
	for i := 0; i < n; i++ {
		scopes = append(scopes, "group.team-with-a-long-name-"+strings.Repeat("x", i%10))
	}
	return scopes
}

// An upstream that refuses headers too large for it (431 in plain text, as
// a fasthttp server with its default 4 KiB buffer does) is answered in the
// Cloud Controller's shape with the same status, not as a v2 500.
func TestUpstream431IsCFShaped(t *testing.T) {
	s := startStack(t, nil)
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://")}
	small := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}) // ReadBufferSize unset: 4 KiB
	cfg := testGatewayConfig()
	cfg.Upstream = small
	g := launchGateway(t, cfg, nil, auth.WithKeys(s.cf.VerificationKey()), auth.WithIssuer(s.cf.Issuer()))
	// A token with many groups: the v2 handlers send the user's token
	// upstream, and it alone overflows the hop's 4 KiB.
	token := s.mintToken(t, manyScopes(300))
	if len(token) < 8<<10 {
		t.Fatalf("token of %d bytes", len(token))
	}
	cases := []struct{ path, want string }{
		{"/v2/apps", `{"description":"The request headers are too large for the Cloud Controller","error_code":"CF-InvalidRequest","code":10004}` + "\n"},
		{"/v2/apps/some-guid", `{"description":"The request headers are too large for the Cloud Controller","error_code":"CF-InvalidRequest","code":10004}` + "\n"},
		{"/v3/apps", `{"errors":[{"detail":"The request headers are too large for the Cloud Controller","title":"CF-InvalidRequest","code":10004}]}`},
	}
	for _, tc := range cases {
		r := s.do("GET", g.url+tc.path, token, nil)
		if r.status != fasthttp.StatusRequestHeaderFieldsTooLarge || string(r.body) != tc.want {
			t.Errorf("%s: %d %s, want 431 %s", tc.path, r.status, r.body, tc.want)
		}
	}
	// With an ordinary token the same route works through that hop.
	if r := s.do("GET", g.url+"/v2/apps", "developer", nil); r.status != 200 {
		t.Errorf("/v2/apps through the hop: %d %s", r.status, r.body)
	}
}
