// Package migration is the gateway's part in finishing a v2 migration:
// the warnings and deprecation headers that tell v2 callers to move, and
// the brownouts that refuse them for a while, as public APIs stage their
// shutdowns. It decides; the gateway's request path acts.
package migration

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"capibridge/configs"
	"capibridge/proxy/clients"
)

// Policy is the configured cockpit, read once.
type Policy struct {
	warning   string // escaped for X-Cf-Warnings
	rules     []warningRule
	brownouts []Brownout
	// Header values; "" sends none.
	deprecation, sunset, link string
	// V3Calls says whether translated answers name their v3 calls.
	V3Calls bool
}

// matcher narrows a rule to some v2 route templates and client families.
type matcher struct {
	routes, prefixes []string
	families         []clients.Family
}

func (m matcher) match(route string, f clients.Family) bool {
	if len(m.families) > 0 && !slices.Contains(m.families, f) {
		return false
	}
	if len(m.routes) == 0 && len(m.prefixes) == 0 {
		return true
	}
	if slices.Contains(m.routes, route) {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(route, p) {
			return true
		}
	}
	return false
}

type warningRule struct {
	matcher
	text string // escaped
}

// Brownout is one configured brownout.
type Brownout struct {
	matcher
	// Name labels it in metrics and the usage report.
	Name string
	// Message is the refusal's description.
	Message string
	// DryRun only counts.
	DryRun   bool
	schedule configs.Schedule
}

// New reads cfg. templates are the v2 route templates the gateway serves:
// a rule naming another, or a prefix that matches none, is a mistake
// reported here, at start-up, not a rule that silently never applies.
func New(cfg configs.Migration, templates []string) (*Policy, error) {
	p := &Policy{warning: escapeWarning(cfg.Warning), V3Calls: cfg.V3CallsHeader}
	for i, w := range cfg.Warnings {
		m, err := newMatcher(w.Routes, w.ClientFamilies, templates)
		if err != nil {
			return nil, fmt.Errorf("migration.warnings[%d]: %w", i, err)
		}
		p.rules = append(p.rules, warningRule{m, escapeWarning(w.Text)})
	}
	for i, b := range cfg.Brownouts {
		m, err := newMatcher(b.Routes, b.ClientFamilies, templates)
		if err != nil {
			return nil, fmt.Errorf("migration.brownouts[%d]: %w", i, err)
		}
		s, err := b.Schedule()
		if err != nil {
			return nil, fmt.Errorf("migration.brownouts[%d]: %w", i, err)
		}
		msg := b.Message
		if msg == "" {
			msg = "The v2 API is unavailable during a scheduled brownout: move to the v3 API."
		}
		p.brownouts = append(p.brownouts, Brownout{matcher: m, Name: b.Name, Message: msg, DryRun: b.DryRun, schedule: s})
	}
	if cfg.Deprecation != "" {
		t, err := time.Parse(time.RFC3339, cfg.Deprecation)
		if err != nil {
			return nil, fmt.Errorf("migration.deprecation: %w", err)
		}
		// RFC 9745 §2.1: a Structured Field Date, "@" and Unix seconds.
		p.deprecation = "@" + strconv.FormatInt(t.Unix(), 10)
	}
	if cfg.Sunset != "" {
		t, err := time.Parse(time.RFC3339, cfg.Sunset)
		if err != nil {
			return nil, fmt.Errorf("migration.sunset: %w", err)
		}
		// RFC 8594 §3: an HTTP-date.
		p.sunset = t.UTC().Format(http.TimeFormat)
	}
	if cfg.Guide != "" {
		// RFC 9745 §3 and RFC 8594 §6: the guide is where both point.
		rel := "deprecation"
		if p.sunset != "" {
			rel = "deprecation sunset"
		}
		p.link = "<" + cfg.Guide + `>; rel="` + rel + `"; type="text/html"`
	}
	return p, nil
}

func newMatcher(routes, families, templates []string) (matcher, error) {
	var m matcher
	for _, r := range routes {
		if p, ok := strings.CutSuffix(r, "*"); ok {
			if !slices.ContainsFunc(templates, func(t string) bool { return strings.HasPrefix(t, p) }) {
				return m, fmt.Errorf("routes: %q matches no v2 route", r)
			}
			m.prefixes = append(m.prefixes, p)
			continue
		}
		if !slices.Contains(templates, r) {
			return m, fmt.Errorf("routes: %q is not a v2 route template (such as /v2/apps/:guid)", r)
		}
		m.routes = append(m.routes, r)
	}
	known := clients.Families()
	for _, f := range families {
		if !slices.Contains(known, clients.Family(f)) {
			return m, fmt.Errorf("client_families: %q is not one of %v", f, known)
		}
		m.families = append(m.families, clients.Family(f))
	}
	return m, nil
}

// escapeWarning encodes a warning as the Cloud Controller does
// (CGI.escape, cc:app/controllers/base/base_controller.rb add_warning):
// the cf CLI splits X-Cf-Warnings at commas and URL-unescapes each part
// (cli:api/cloudcontroller/cloud_controller_connection.go handleWarnings).
func escapeWarning(s string) string {
	if s == "" {
		return ""
	}
	return url.QueryEscape(s)
}

// Warning is the X-Cf-Warnings entry for a v2 request of route from
// family, escaped, or "".
func (p *Policy) Warning(route string, f clients.Family) string {
	for _, r := range p.rules {
		if r.match(route, f) {
			return r.text
		}
	}
	return p.warning
}

// Headers are the Deprecation, Sunset and Link values of v2 answers; ""
// sends none.
func (p *Policy) Headers() (deprecation, sunset, link string) {
	return p.deprecation, p.sunset, p.link
}

// Brownouts returns the brownout that refuses a v2 request of route from
// family at now (the first active one that is not a dry run), and the
// dry-run brownouts that would have refused it.
func (p *Policy) Brownouts(route string, f clients.Family, now time.Time) (refuse *Brownout, dryRuns []*Brownout) {
	for i := range p.brownouts {
		b := &p.brownouts[i]
		if !b.match(route, f) || !b.schedule.Active(now) {
			continue
		}
		if b.DryRun {
			dryRuns = append(dryRuns, b)
		} else if refuse == nil {
			refuse = b
		}
	}
	return refuse, dryRuns
}

// HasBrownouts reports whether any brownout is configured: without one, the
// request path skips the check.
func (p *Policy) HasBrownouts() bool { return len(p.brownouts) > 0 }
