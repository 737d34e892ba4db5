package migration

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"capibridge/configs"
	"capibridge/proxy/clients"
)

var templates = []string{"/v2/apps", "/v2/apps/:guid", "/v2/spaces", "/v2/spaces/:guid/summary", "/v2/info"}

func TestWarnings(t *testing.T) {
	cfg := configs.DefaultMigration()
	cfg.Warning = "v2 is deprecated, see https://example.org/a?b=c"
	cfg.Warnings = []configs.WarningRule{
		{Routes: []string{"/v2/spaces*"}, ClientFamilies: []string{"cf_cli"}, Text: "spaces, cf"},
		{Routes: []string{"/v2/spaces*"}, Text: "spaces"},
		{ClientFamilies: []string{"terraform"}, Text: "terraform"},
	}
	p, err := New(cfg, templates)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		route  string
		family clients.Family
		want   string
	}{
		{"/v2/spaces/:guid/summary", clients.FamilyCfCLI, "spaces, cf"},
		{"/v2/spaces", clients.FamilyGoCfclient, "spaces"},
		{"/v2/apps", clients.FamilyTerraform, "terraform"},
		{"/v2/apps", clients.FamilyCfCLI, cfg.Warning},
	} {
		got := p.Warning(c.route, c.family)
		if strings.Contains(got, ",") || strings.Contains(got, " ") {
			t.Errorf("%s %s: %q is not escaped for X-Cf-Warnings", c.route, c.family, got)
		}
		if w, err := url.QueryUnescape(got); err != nil || w != c.want {
			t.Errorf("%s %s: %q (%v), want %q", c.route, c.family, w, err, c.want)
		}
	}
	none, _ := New(configs.DefaultMigration(), templates)
	if w := none.Warning("/v2/apps", clients.FamilyCfCLI); w != "" {
		t.Errorf("no warning configured, got %q", w)
	}
}

func TestBrownouts(t *testing.T) {
	now := time.Date(2027, 3, 2, 14, 30, 0, 0, time.UTC)
	cfg := configs.DefaultMigration()
	cfg.Brownouts = []configs.Brownout{
		{Name: "dry", At: "14:00", Duration: time.Hour, DryRun: true},
		{Name: "apps", At: "14:00", Duration: time.Hour, Routes: []string{"/v2/apps*"}, ClientFamilies: []string{"cf_cli"}},
		{Name: "all", At: "14:00", Duration: time.Hour, Routes: []string{"/v2/apps"}},
		{Name: "later", At: "16:00", Duration: time.Hour},
	}
	p, err := New(cfg, templates)
	if err != nil {
		t.Fatal(err)
	}
	refuse, dry := p.Brownouts("/v2/apps/:guid", clients.FamilyCfCLI, now)
	if refuse == nil || refuse.Name != "apps" || len(dry) != 1 || dry[0].Name != "dry" {
		t.Errorf("cf CLI on /v2/apps/:guid: refuse %+v, dry %+v", refuse, dry)
	}
	if !strings.Contains(refuse.Message, "brownout") {
		t.Errorf("default message %q", refuse.Message)
	}
	if refuse, _ := p.Brownouts("/v2/apps", clients.FamilyGoCfclient, now); refuse == nil || refuse.Name != "all" {
		t.Errorf("go-cfclient on /v2/apps: %+v", refuse)
	}
	if refuse, dry := p.Brownouts("/v2/info", clients.FamilyGoCfclient, now); refuse != nil || len(dry) != 1 {
		t.Errorf("/v2/info: %+v %+v", refuse, dry)
	}
	if refuse, dry := p.Brownouts("/v2/apps", clients.FamilyCfCLI, now.Add(time.Hour)); refuse != nil || len(dry) != 0 {
		t.Errorf("after the windows: %+v %+v", refuse, dry)
	}
	if !p.HasBrownouts() {
		t.Error("HasBrownouts false")
	}
}

func TestHeaders(t *testing.T) {
	cfg := configs.DefaultMigration()
	cfg.Deprecation, cfg.Guide = "2026-12-01T00:00:00Z", "https://example.org/guide"
	p, err := New(cfg, templates)
	if err != nil {
		t.Fatal(err)
	}
	dep, sunset, link := p.Headers()
	if dep != "@1796083200" || sunset != "" || link != `<https://example.org/guide>; rel="deprecation"; type="text/html"` {
		t.Errorf("headers %q %q %q", dep, sunset, link)
	}
}
