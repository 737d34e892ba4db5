package configs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Migration configures the migration cockpit: who still calls v2 (the
// capibridge_v2_requests_total labels and the usage report), and the
// nudges towards v3 (warnings, deprecation headers, brownouts).
type Migration struct {
	// ClientIDs are the UAA client ids counted under their own client_id
	// label in capibridge_v2_requests_total; the others are "other", so
	// the label stays bounded.
	ClientIDs []string `koanf:"client_ids"`
	// UsageRetention is how many days of v2 usage the report keeps.
	UsageRetention time.Duration `koanf:"usage_retention"`
	// UsageMaxRows bounds the report's rows (user × client family × route)
	// per day; past it, new users are counted under "(other users)".
	UsageMaxRows int `koanf:"usage_max_rows"`
	// UsageFlushInterval is how often an instance adds what it counted to
	// the shared report (Redis when the cache has one).
	UsageFlushInterval time.Duration `koanf:"usage_flush_interval"`
	// Warning is sent in X-Cf-Warnings on every v2 response (the cf CLI
	// prints it as a warning). Empty sends none unless a rule of Warnings
	// matches.
	Warning string `koanf:"warning"`
	// Warnings are texts for some routes or client families, instead of
	// Warning; the first that matches is sent.
	Warnings []WarningRule `koanf:"warnings"`
	// Deprecation, when set (RFC 3339), is sent on v2 responses as the
	// Deprecation header (RFC 9745: "@" and Unix seconds): the date v2 was
	// or will be deprecated.
	Deprecation string `koanf:"deprecation"`
	// Sunset, when set (RFC 3339), is sent on v2 responses as the Sunset
	// header (RFC 8594, an HTTP date): when v2 goes away.
	Sunset string `koanf:"sunset"`
	// Guide, when set, is a URL sent as Link: <guide>; rel="deprecation"
	// (and rel="sunset" with Sunset).
	Guide string `koanf:"guide"`
	// Brownouts are windows in which chosen v2 routes or client families
	// get 410 Gone, or are only counted (dry_run).
	Brownouts []Brownout `koanf:"brownouts"`
	// V3CallsHeader sends X-Capibridge-V3-Calls on translated v2
	// responses: the v3 calls (method and route template) that served it.
	V3CallsHeader bool `koanf:"v3_calls_header"`
}

// WarningRule is a warning text for some routes or client families.
type WarningRule struct {
	// Routes are v2 route templates ("/v2/apps/:guid"), or prefixes ending
	// in "*" ("/v2/service*"); empty matches every v2 route.
	Routes []string `koanf:"routes"`
	// ClientFamilies are client families (cf_cli, go_cfclient, ...);
	// empty matches every client.
	ClientFamilies []string `koanf:"client_families"`
	// Text is the warning.
	Text string `koanf:"text"`
}

// Brownout is a window in which v2 requests are refused with 410 Gone in
// the v2 error shape, or, with DryRun, only counted. A window is either
// one period, Start to End, or a repeating one: At (a time of day) for
// Duration on Days, between Start and End when they are set.
type Brownout struct {
	// Name labels the brownout in metrics and the usage report.
	Name string `koanf:"name"`
	// Start and End bound the brownout (RFC 3339); without At they are the
	// window itself.
	Start string `koanf:"start"`
	End   string `koanf:"end"`
	// At ("14:00", 24-hour) in Timezone starts a window on each of Days
	// (mon … sun; empty is every day) that lasts Duration.
	At       string        `koanf:"at"`
	Duration time.Duration `koanf:"duration"`
	Days     []string      `koanf:"days"`
	// Timezone is an IANA zone name for At and Days; empty is UTC.
	Timezone string `koanf:"timezone"`
	// Routes and ClientFamilies narrow the brownout as WarningRule's do.
	Routes         []string `koanf:"routes"`
	ClientFamilies []string `koanf:"client_families"`
	// Message is the refusal's description.
	Message string `koanf:"message"`
	// DryRun counts what would have been refused and refuses nothing.
	DryRun bool `koanf:"dry_run"`
}

// DefaultWarning is the text of migration.warning in the documented
// configuration's examples.
const DefaultWarning = "The Cloud Foundry v2 API is deprecated: move to the v3 API (cf CLI 7 or later)."

// DefaultMigration returns the cockpit's defaults: usage counted, no
// warning, no brownout.
func DefaultMigration() Migration {
	return Migration{
		ClientIDs:          []string{"cf"},
		UsageRetention:     14 * 24 * time.Hour,
		UsageMaxRows:       10000,
		UsageFlushInterval: 10 * time.Second,
		Warnings:           []WarningRule{},
		Brownouts:          []Brownout{},
	}
}

// weekdays maps Days entries to time.Weekday.
var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Weekday reads a Days entry.
func Weekday(s string) (time.Weekday, bool) {
	d, ok := weekdays[strings.ToLower(strings.TrimSpace(s))]
	return d, ok
}

// Validate reports the migration settings that cannot work, by their keys.
func (m Migration) Validate() error {
	var errs []error
	if m.UsageRetention < 24*time.Hour {
		errs = append(errs, errors.New("configs: migration.usage_retention: must be at least 24h"))
	}
	if m.UsageMaxRows < 1 {
		errs = append(errs, errors.New("configs: migration.usage_max_rows: must be positive"))
	}
	if m.UsageFlushInterval <= 0 {
		errs = append(errs, errors.New("configs: migration.usage_flush_interval: must be positive"))
	}
	for key, v := range map[string]string{"deprecation": m.Deprecation, "sunset": m.Sunset} {
		if _, err := optionalTime(v); err != nil {
			errs = append(errs, fmt.Errorf("configs: migration.%s: %w", key, err))
		}
	}
	if m.Guide != "" {
		if u, err := url.Parse(m.Guide); err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(m.Guide, "<>\r\n ") {
			errs = append(errs, fmt.Errorf("configs: migration.guide: %q is not an absolute URL", m.Guide))
		}
	}
	for i, w := range m.Warnings {
		if w.Text == "" {
			errs = append(errs, fmt.Errorf("configs: migration.warnings[%d].text: must be set", i))
		}
	}
	names := map[string]bool{}
	for i, b := range m.Brownouts {
		key := fmt.Sprintf("migration.brownouts[%d]", i)
		if b.Name == "" || names[b.Name] {
			errs = append(errs, fmt.Errorf("configs: %s.name: must be set and unique", key))
		}
		names[b.Name] = true
		if _, err := b.Schedule(); err != nil {
			errs = append(errs, fmt.Errorf("configs: %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

// Schedule is a brownout's window, read.
type Schedule struct {
	// Start and End bound it; zero is unbounded.
	Start, End time.Time
	// Repeating windows: At minutes after midnight in Location, for
	// Duration, on Days (all seven when empty).
	Repeating bool
	At        time.Duration
	Duration  time.Duration
	Days      map[time.Weekday]bool
	Location  *time.Location
}

// Schedule reads the brownout's window.
func (b Brownout) Schedule() (Schedule, error) {
	var s Schedule
	var err error
	if s.Start, err = optionalTime(b.Start); err != nil {
		return s, fmt.Errorf("start: %w", err)
	}
	if s.End, err = optionalTime(b.End); err != nil {
		return s, fmt.Errorf("end: %w", err)
	}
	if !s.Start.IsZero() && !s.End.IsZero() && !s.End.After(s.Start) {
		return s, errors.New("end: must be after start")
	}
	if b.At == "" {
		if s.Start.IsZero() || s.End.IsZero() {
			return s, errors.New("a window needs start and end, or at and duration")
		}
		if b.Duration != 0 || len(b.Days) > 0 || b.Timezone != "" {
			return s, errors.New("duration, days and timezone go with at")
		}
		return s, nil
	}
	s.Repeating = true
	at, err := time.Parse("15:04", b.At)
	if err != nil {
		return s, fmt.Errorf("at: %q is not a 24-hour time such as 14:00", b.At)
	}
	s.At = time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute
	if b.Duration <= 0 || b.Duration > 24*time.Hour {
		return s, errors.New("duration: must be positive and at most 24h")
	}
	s.Duration = b.Duration
	s.Days = map[time.Weekday]bool{}
	for _, d := range b.Days {
		wd, ok := Weekday(d)
		if !ok {
			return s, fmt.Errorf("days: %q is not one of mon, tue, wed, thu, fri, sat, sun", d)
		}
		s.Days[wd] = true
	}
	s.Location = time.UTC
	if b.Timezone != "" {
		if s.Location, err = time.LoadLocation(b.Timezone); err != nil {
			return s, fmt.Errorf("timezone: %w", err)
		}
	}
	return s, nil
}

// Active reports whether the window holds t.
func (s Schedule) Active(t time.Time) bool {
	if !s.Start.IsZero() && t.Before(s.Start) || !s.End.IsZero() && !t.Before(s.End) {
		return false
	}
	if !s.Repeating {
		return true
	}
	// A window that began yesterday may run past midnight.
	local := t.In(s.Location)
	for back := range 2 {
		day := local.AddDate(0, 0, -back)
		if len(s.Days) > 0 && !s.Days[day.Weekday()] {
			continue
		}
		y, m, d := day.Date()
		// Wall-clock time, so that 14:00 stays 14:00 across DST changes.
		from := time.Date(y, m, d, int(s.At/time.Hour), int(s.At%time.Hour/time.Minute), 0, 0, s.Location)
		if !t.Before(from) && t.Before(from.Add(s.Duration)) {
			return true
		}
	}
	return false
}

func optionalTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2027-03-01T00:00:00Z", v)
	}
	return t, nil
}
