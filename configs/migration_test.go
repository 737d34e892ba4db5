package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBrownoutSchedule(t *testing.T) {
	cases := []struct {
		name string
		b    Brownout
		in   []string
		out  []string
	}{
		{"one window", Brownout{Start: "2027-03-02T14:00:00Z", End: "2027-03-02T15:00:00Z"},
			[]string{"2027-03-02T14:00:00Z", "2027-03-02T14:59:59Z"},
			[]string{"2027-03-02T13:59:59Z", "2027-03-02T15:00:00Z", "2027-03-03T14:30:00Z"}},
		{"daily", Brownout{At: "14:00", Duration: time.Hour},
			[]string{"2027-03-02T14:00:00Z", "2027-03-09T14:30:00Z"},
			[]string{"2027-03-02T13:59:00Z", "2027-03-02T15:00:00Z"}},
		// 2027-03-02 is a Tuesday.
		{"weekdays", Brownout{At: "14:00", Duration: time.Hour, Days: []string{"tue", "Thu"}},
			[]string{"2027-03-02T14:10:00Z", "2027-03-04T14:10:00Z"},
			[]string{"2027-03-03T14:10:00Z", "2027-03-05T14:10:00Z"}},
		{"past midnight, on the day it began", Brownout{At: "23:30", Duration: time.Hour, Days: []string{"tue"}},
			[]string{"2027-03-02T23:45:00Z", "2027-03-03T00:15:00Z"},
			[]string{"2027-03-03T00:30:00Z", "2027-03-03T23:45:00Z", "2027-03-02T00:15:00Z"}},
		{"within start and end", Brownout{At: "14:00", Duration: time.Hour, Start: "2027-03-03T00:00:00Z", End: "2027-03-05T00:00:00Z"},
			[]string{"2027-03-03T14:00:00Z", "2027-03-04T14:59:00Z"},
			[]string{"2027-03-02T14:30:00Z", "2027-03-05T14:30:00Z"}},
		// Berlin leaves summer time on 2027-10-31: 14:00 local is 12:00Z
		// before and 13:00Z after.
		{"wall clock across DST", Brownout{At: "14:00", Duration: time.Hour, Timezone: "Europe/Berlin"},
			[]string{"2027-10-30T12:30:00Z", "2027-10-31T13:30:00Z"},
			[]string{"2027-10-30T13:30:00Z", "2027-10-31T12:30:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.b.Schedule()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.in {
				if !s.Active(at(v)) {
					t.Errorf("not active at %s", v)
				}
			}
			for _, v := range tc.out {
				if s.Active(at(v)) {
					t.Errorf("active at %s", v)
				}
			}
		})
	}
}

func TestMigrationValidate(t *testing.T) {
	cases := []struct {
		name string
		m    func(*Migration)
		want string
	}{
		{"no window", func(m *Migration) { m.Brownouts = []Brownout{{Name: "a"}} }, "start and end, or at and duration"},
		{"end before start", func(m *Migration) {
			m.Brownouts = []Brownout{{Name: "a", Start: "2027-03-02T15:00:00Z", End: "2027-03-02T14:00:00Z"}}
		}, "end: must be after start"},
		{"bad at", func(m *Migration) { m.Brownouts = []Brownout{{Name: "a", At: "2pm", Duration: time.Hour}} }, "at:"},
		{"no duration", func(m *Migration) { m.Brownouts = []Brownout{{Name: "a", At: "14:00"}} }, "duration:"},
		{"bad day", func(m *Migration) {
			m.Brownouts = []Brownout{{Name: "a", At: "14:00", Duration: time.Hour, Days: []string{"tuesday"}}}
		}, "days:"},
		{"bad zone", func(m *Migration) {
			m.Brownouts = []Brownout{{Name: "a", At: "14:00", Duration: time.Hour, Timezone: "Mars/Olympus"}}
		}, "timezone:"},
		{"days without at", func(m *Migration) {
			m.Brownouts = []Brownout{{Name: "a", Start: "2027-03-02T14:00:00Z", End: "2027-03-02T15:00:00Z", Days: []string{"mon"}}}
		}, "go with at"},
		{"duplicate name", func(m *Migration) {
			b := Brownout{Name: "a", At: "14:00", Duration: time.Hour}
			m.Brownouts = []Brownout{b, b}
		}, "brownouts[1].name"},
		{"sunset", func(m *Migration) { m.Sunset = "next year" }, "migration.sunset"},
		{"guide", func(m *Migration) { m.Guide = "/docs" }, "migration.guide"},
		{"warning text", func(m *Migration) { m.Warnings = []WarningRule{{Routes: []string{"/v2/apps"}}} }, "warnings[0].text"},
		{"retention", func(m *Migration) { m.UsageRetention = time.Hour }, "usage_retention"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := DefaultMigration()
			tc.m(&m)
			err := m.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// Brownouts come from the YAML file; their objects' keys are checked as
// strictly as the rest, and a variable cannot hold them.
func TestLoadBrownouts(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write(`migration:
  brownouts:
    - name: weekly
      at: "14:00"
      duration: 1h
      days: [tue]
      client_families: [cf_cli]
      message: gone for an hour
      dry_run: true
  warnings:
    - routes: ["/v2/apps*"]
      text: use v3
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b := cfg.Migration.Brownouts
	if len(b) != 1 || b[0].Name != "weekly" || b[0].Duration != time.Hour || !b[0].DryRun || b[0].ClientFamilies[0] != "cf_cli" {
		t.Errorf("brownouts = %+v", b)
	}
	if w := cfg.Migration.Warnings; len(w) != 1 || w[0].Text != "use v3" {
		t.Errorf("warnings = %+v", w)
	}
	if _, err := Load(write("migration:\n  brownouts:\n    - name: x\n      strat: \"2027-01-01T00:00:00Z\"\n"), nil); err == nil || !strings.Contains(err.Error(), "strat") {
		t.Errorf("a misspelt brownout key: err = %v", err)
	}
	if _, err := Load("", []string{"CAPIBRIDGE_MIGRATION_BROWNOUTS=x"}); err == nil || !strings.Contains(err.Error(), "YAML") {
		t.Errorf("brownouts from a variable: err = %v", err)
	}
	if cfg, err := Load("", []string{"CAPIBRIDGE_MIGRATION_WARNING=move to v3", "CAPIBRIDGE_MIGRATION_CLIENT_IDS=cf,ci"}); err != nil ||
		cfg.Migration.Warning != "move to v3" || len(cfg.Migration.ClientIDs) != 2 {
		t.Errorf("warning from a variable: %+v, %v", cfg.Migration, err)
	}
}
