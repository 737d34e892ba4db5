package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"capibridge/configs"
	"capibridge/proxy/usage"
)

// User-Agents as the clients send them (proxy/clients has the sources).
const (
	uaCfCLI     = "cf/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64 linux)"
	uaLegacyCLI = "go-cli 6.53.0+8e2b70a4a.2020-10-01 / linux"
	uaGoCF      = "Go-CF-client/1.1"
)

// cfWarnings reads X-Cf-Warnings as the cf CLI does: split at commas,
// each part URL-unescaped (cli:api/cloudcontroller/cloud_controller_connection.go).
func cfWarnings(t *testing.T, r reply) []string {
	t.Helper()
	raw := string(r.header.Peek("X-Cf-Warnings"))
	if raw == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(raw, ",") {
		w, err := url.QueryUnescape(part)
		if err != nil {
			t.Fatalf("X-Cf-Warnings %q: %v", raw, err)
		}
		out = append(out, strings.TrimSpace(w))
	}
	return out
}

// TestMigrationCockpit: v2 requests are counted by client family and
// client id, in metrics and in the usage report; a brownout refuses the
// cf CLI's /v2/apps with 410 in the v2 shape while other clients and
// routes pass; a dry-run brownout only counts; every v2 answer carries the
// warning (a client family's own where configured), the Deprecation,
// Sunset and Link headers and the v3 calls that served it; v3 answers
// carry none of it.
func TestMigrationCockpit(t *testing.T) {
	now := time.Now().UTC()
	deprecated := now.AddDate(0, -1, 0).Truncate(time.Second)
	sunset := now.AddDate(0, 3, 0).Truncate(time.Second)
	s := startStack(t, func(c *configs.Config) {
		c.Migration.Warning = "v2 is deprecated, move to v3"
		c.Migration.Warnings = []configs.WarningRule{{ClientFamilies: []string{"go_cfclient"}, Routes: []string{"/v2/apps*"}, Text: "go-cfclient's v2 line is retired: use its v3 client"}}
		c.Migration.Deprecation = deprecated.Format(time.RFC3339)
		c.Migration.Sunset = sunset.Format(time.RFC3339)
		c.Migration.Guide = "https://docs.example.org/v2-to-v3"
		c.Migration.V3CallsHeader = true
		c.Migration.Brownouts = []configs.Brownout{
			{Name: "cli-apps", Start: now.Add(-time.Hour).Format(time.RFC3339), End: now.Add(time.Hour).Format(time.RFC3339),
				Routes: []string{"/v2/apps"}, ClientFamilies: []string{"cf_cli"}, Message: "v2 brownout: the cf CLI 6 is retired, install cf CLI 8"},
			{Name: "spaces-dry", At: "00:00", Duration: 24 * time.Hour, Routes: []string{"/v2/spaces*"}, DryRun: true},
		}
	})

	// The cf CLI on /v2/apps: refused, whichever of its code paths.
	for _, ua := range []string{uaCfCLI, uaLegacyCLI} {
		r := s.do("GET", s.gwURL+"/v2/apps", "developer", nil, "User-Agent", ua)
		var e struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
			ErrorCode   string `json:"error_code"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || r.status != http.StatusGone || e.Code != 10999 || e.ErrorCode != "CF-V2Brownout" ||
			e.Description != "v2 brownout: the cf CLI 6 is retired, install cf CLI 8" {
			t.Errorf("%s on /v2/apps during the brownout: %d %s", ua, r.status, r.body)
		}
		if w := cfWarnings(t, r); len(w) != 1 || w[0] != "v2 is deprecated, move to v3" {
			t.Errorf("%s: warnings %q", ua, w)
		}
	}
	// Another route, and another client on the same route, pass.
	r := s.do("GET", s.gwURL+"/v2/organizations", "developer", nil, "User-Agent", uaCfCLI)
	if r.status != 200 {
		t.Errorf("cf CLI on /v2/organizations: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/apps", "developer", nil, "User-Agent", uaGoCF)
	if r.status != 200 {
		t.Fatalf("go-cfclient on /v2/apps: %d %s", r.status, r.body)
	}
	if w := cfWarnings(t, r); len(w) != 1 || w[0] != "go-cfclient's v2 line is retired: use its v3 client" {
		t.Errorf("go-cfclient's warnings %q", w)
	}
	if got, want := string(r.header.Peek("Deprecation")), "@"+strconv.FormatInt(deprecated.Unix(), 10); got != want {
		t.Errorf("Deprecation %q, want %q", got, want)
	}
	if got, err := http.ParseTime(string(r.header.Peek("Sunset"))); err != nil || !got.Equal(sunset) {
		t.Errorf("Sunset %q (%v), want %s", r.header.Peek("Sunset"), err, sunset)
	}
	if got := string(r.header.Peek("Link")); got != `<https://docs.example.org/v2-to-v3>; rel="deprecation sunset"; type="text/html"` {
		t.Errorf("Link %q", got)
	}
	if calls := string(r.header.Peek("X-Capibridge-V3-Calls")); !strings.HasPrefix(calls, "GET /v3/apps, GET /v3/stacks") {
		t.Errorf("X-Capibridge-V3-Calls %q", calls)
	}
	// The dry run counts and refuses nothing.
	if r := s.do("GET", s.gwURL+"/v2/spaces", "developer", nil, "User-Agent", uaCfCLI); r.status != 200 {
		t.Errorf("/v2/spaces in a dry run: %d %s", r.status, r.body)
	}
	// Anonymous v2 (cf api reads /v2/info first), and v3, untouched.
	if r := s.do("GET", s.gwURL+"/v2/info", "", nil, "User-Agent", "curl/8.5.0"); r.status != 200 || len(cfWarnings(t, r)) != 1 {
		t.Errorf("/v2/info: %d, warnings %q", r.status, r.header.Peek("X-Cf-Warnings"))
	}
	if r := s.do("GET", s.gwURL+"/v3/apps", "developer", nil, "User-Agent", uaCfCLI); r.status != 200 || r.header.Peek("X-Cf-Warnings") != nil ||
		r.header.Peek("Deprecation") != nil {
		t.Errorf("/v3/apps: %d, warnings %q, deprecation %q", r.status, r.header.Peek("X-Cf-Warnings"), r.header.Peek("Deprecation"))
	}

	// Metrics.
	if problems, err := testutil.CollectAndLint(s.m.V2Requests); err != nil || len(problems) > 0 {
		t.Errorf("capibridge_v2_requests_total lint: %v %v", problems, err)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"/v2/apps", "GET", "cf_cli", "cf"}, 2},
		{[]string{"/v2/apps", "GET", "go_cfclient", "cf"}, 1},
		{[]string{"/v2/organizations", "GET", "cf_cli", "cf"}, 1},
		{[]string{"/v2/info", "GET", "curl", "none"}, 1},
	} {
		if got := testutil.ToFloat64(s.m.V2Requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("capibridge_v2_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := testutil.ToFloat64(s.m.V2Brownouts.WithLabelValues("cli-apps", "/v2/apps", "cf_cli", "refused")); got != 2 {
		t.Errorf("refused = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.m.V2Brownouts.WithLabelValues("spaces-dry", "/v2/spaces", "cf_cli", "dry_run")); got != 1 {
		t.Errorf("dry runs = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.m.V2Warnings.WithLabelValues("/v2/apps", "go_cfclient")); got != 1 {
		t.Errorf("warnings to go-cfclient = %v, want 1", got)
	}

	// The usage report on the admin port.
	r = s.do("GET", s.adminURL+"/admin/v2-usage", "", nil)
	var rep struct{ Rows []usage.Row }
	if err := json.Unmarshal(r.body, &rep); err != nil || r.status != 200 {
		t.Fatalf("/admin/v2-usage: %d %s", r.status, r.body)
	}
	row := func(user, family, route string) *usage.Row {
		for i, x := range rep.Rows {
			if x.User == user && x.ClientFamily == family && x.Route == route {
				return &rep.Rows[i]
			}
		}
		t.Errorf("no usage row %s %s %s in %+v", user, family, route, rep.Rows)
		return &usage.Row{}
	}
	if x := row("developer", "cf_cli", "/v2/apps"); x.Refused != 2 || x.Requests != 0 || x.ClientID != "cf" || x.ClientVersion != "6.53.0 legacy" {
		t.Errorf("the cf CLI's refused row: %+v", x)
	}
	if x := row("developer", "go_cfclient", "/v2/apps"); x.Requests != 1 || x.ClientVersion != "1.1" {
		t.Errorf("go-cfclient's row: %+v", x)
	}
	if x := row("developer", "cf_cli", "/v2/spaces"); x.Requests != 1 || x.DryRun != 1 {
		t.Errorf("the dry-run row: %+v", x)
	}
	row(usage.Anonymous, "curl", "/v2/info")
	if strings.Contains(string(r.body), s.tokens["developer"][:20]) {
		t.Error("the report holds a token")
	}
	r = s.do("GET", s.adminURL+"/admin/v2-usage?format=csv&days=1", "", nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "user,client_family,route,client_id,client_version,requests,refused,dry_run,first_seen,last_seen\n") ||
		!strings.Contains(string(r.body), "developer,cf_cli,/v2/apps,cf,6.53.0 legacy,0,2,0,") {
		t.Errorf("CSV report: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.adminURL+"/admin/v2-usage?days=x", "", nil); r.status != 400 {
		t.Errorf("days=x: %d", r.status)
	}
}

// A rule naming a route the gateway does not serve, or an unknown client
// family, stops the start.
func TestMigrationRulesChecked(t *testing.T) {
	for _, c := range []configs.WarningRule{
		{Routes: []string{"/v2/applications"}, Text: "x"},
		{Routes: []string{"/v3/apps*"}, Text: "x"},
		{ClientFamilies: []string{"cf-cli"}, Text: "x"},
	} {
		cfg := testGatewayConfig()
		cfg.Upstream = "http://127.0.0.1:1"
		cfg.Migration.Warnings = []configs.WarningRule{c}
		m, _ := baseDeps(t, cfg)
		if _, err := New(cfg, m); err == nil || !strings.Contains(err.Error(), "migration.warnings[0]") {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
}

// go-cfclient, as it is: its User-Agent makes it go_cfclient; a brownout
// for that family reaches it as a Cloud Controller error it decodes, with
// the configured description; the report names it with its version.
func TestBrownoutReachesGoCFClient(t *testing.T) {
	now := time.Now().UTC()
	s := startStack(t, func(c *configs.Config) {
		c.Migration.Brownouts = []configs.Brownout{{Name: "gocf", Start: now.Add(-time.Hour).Format(time.RFC3339),
			End: now.Add(time.Hour).Format(time.RFC3339), Routes: []string{"/v2/spaces"}, ClientFamilies: []string{"go_cfclient"},
			Message: "v2 brownout: go-cfclient's v2 line is retired"}}
	})
	c := s.goCFClient(t, "developer")
	if _, err := c.ListOrgs(); err != nil {
		t.Fatalf("ListOrgs outside the brownout's routes: %v", err)
	}
	// What go-cfclient decoded from the v2 error body, as it prints it.
	if _, err := c.ListSpaces(); err == nil || !strings.HasSuffix(err.Error(), "cfclient error (CF-V2Brownout|10999): v2 brownout: go-cfclient's v2 line is retired") {
		t.Fatalf("ListSpaces during the brownout: %v", err)
	}
	r := s.do("GET", s.adminURL+"/admin/v2-usage", "", nil)
	var rep struct{ Rows []usage.Row }
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatal(err)
	}
	var refused, served bool
	for _, x := range rep.Rows {
		if x.User == "developer" && x.ClientFamily == "go_cfclient" && x.ClientVersion == "1.1" {
			refused = refused || x.Route == "/v2/spaces" && x.Refused == 1
			served = served || x.Route == "/v2/organizations" && x.Requests >= 1
		}
	}
	if !refused || !served {
		t.Errorf("the report does not show go-cfclient refused on /v2/spaces and served on /v2/organizations: %+v", rep.Rows)
	}
}
