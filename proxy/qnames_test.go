package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// startLineLimitedCF puts an 8 KiB head limit in front of the embedded CF,
// as nginx's large_client_header_buffers puts one in front of a real Cloud
// Controller (there a 414; fasthttp answers 431), and returns its URL.
func startLineLimitedCF(t testing.TB, cfURL string) string {
	t.Helper()
	cf := &fasthttp.HostClient{Addr: strings.TrimPrefix(cfURL, "http://"), ReadBufferSize: 64 << 10, MaxResponseBodySize: 64 << 20}
	return startFastUpstream(t, &fasthttp.Server{
		ReadBufferSize: 8 << 10,
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.Request.SetHost(cf.Addr)
			if err := cf.Do(&ctx.Request, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
		},
	})
}

// TestManyNamesInQ: "q=name IN" with 5,000 names is answered as the Cloud
// Controller's v2 answered it, with the apps of those names, where it was a
// 414 or 431 from a Cloud Controller that takes no request line that long:
// the names are matched by the gateway over the v3 apps the other filters
// select, in upstream requests that fit.
func TestManyNamesInQ(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	g := s.gatewayFor(t, startLineLimitedCF(t, s.cfURL), nil)
	for i := range 3 {
		r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(fmt.Sprintf(`{"name":"many-%04d","space_guid":"5ace0000-0000-4000-8000-000000000001"}`, i*2000)))
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("many-%04d", i)
	}
	names[4000] = "MANY-4000" // names match case-insensitively
	q := "q=" + strings.ReplaceAll("name IN "+strings.Join(names, ","), " ", "%20")
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"apps", "/v2/apps?" + q + "&results-per-page=2", []string{"many-0000", "many-2000"}},
		{"apps, second page", "/v2/apps?" + q + "&results-per-page=2&page=2", []string{"many-4000"}},
		{"apps newest first", "/v2/apps?" + q + "&order-direction=desc", []string{"many-4000", "many-2000", "many-0000"}},
		{"a space's apps", "/v2/spaces/5ace0000-0000-4000-8000-000000000001/apps?" + q, []string{"many-0000", "many-2000", "many-4000"}},
		{"organizations", "/v2/organizations?" + strings.ReplaceAll(q, "many-0000", "demo-org"), []string{"demo-org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := g.do("GET", g.gwURL+tc.path, "developer", nil)
			if r.status != 200 {
				t.Fatalf("status %d: %.300s", r.status, r.body)
			}
			var page struct {
				Total     int `json:"total_results"`
				Resources []struct {
					Entity struct {
						Name string `json:"name"`
					} `json:"entity"`
				} `json:"resources"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, res := range page.Resources {
				got = append(got, res.Entity.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("names %q, want %q", got, tc.want)
			}
		})
	}
}
