package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"capibridge/metrics"
)

const (
	dashboardPath = "grafana/capibridge.json"
	alertsPath    = "prometheus/alerts.yaml"
)

// pending lists metrics that the dashboard and the alert rules already use
// but metrics.New does not register yet, with the labels they will have.
// TestPendingMetrics fails as soon as one of them is registered, so that the
// entry is removed and the name is checked against the real collector.
var pending = map[string][]string{}

// targetLabels are attached to every series by Prometheus at scrape time.
var targetLabels = []string{"job", "instance"}

// series is one name an expression can select, with the labels it carries.
type series struct {
	labels  map[string]bool
	pending bool
}

// catalog maps every selectable series name to its labels.
type catalog map[string]series

// recorder is a Registerer that remembers what it was given.
type recorder struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
	r.Registerer.MustRegister(cs...)
}

var (
	descName   = regexp.MustCompile(`^Desc\{fqName: "([^"]*)"`)
	descLabels = regexp.MustCompile(`constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}\}$`)
	constLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)=`)
)

// registered returns the series that metrics.New registers, histograms and
// summaries expanded to the names Prometheus stores (_bucket, _sum, _count).
func registered(t *testing.T) catalog {
	t.Helper()
	rec := &recorder{Registerer: prometheus.NewRegistry()}
	metrics.New(rec, "test")
	if len(rec.collectors) == 0 {
		t.Fatal("metrics.New registered nothing")
	}
	cat := catalog{}
	for _, c := range rec.collectors {
		kind := collectorKind(t, c)
		ch := make(chan *prometheus.Desc)
		go func() {
			c.Describe(ch)
			close(ch)
		}()
		for d := range ch {
			s := d.String()
			name := descName.FindStringSubmatch(s)
			labels := descLabels.FindStringSubmatch(s)
			if name == nil || labels == nil {
				t.Fatalf("cannot read descriptor %s", s)
			}
			set := map[string]bool{}
			for _, m := range constLabel.FindAllStringSubmatch(labels[1], -1) {
				set[m[1]] = true
			}
			for l := range strings.SplitSeq(labels[2], ",") {
				// A constrained label prints as c(name).
				l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")")
				if l != "" {
					set[l] = true
				}
			}
			switch kind {
			case "histogram":
				cat[name[1]+"_bucket"] = series{labels: with(set, "le")}
				cat[name[1]+"_sum"] = series{labels: set}
				cat[name[1]+"_count"] = series{labels: set}
			case "summary":
				cat[name[1]] = series{labels: with(set, "quantile")}
				cat[name[1]+"_sum"] = series{labels: set}
				cat[name[1]+"_count"] = series{labels: set}
			default:
				cat[name[1]] = series{labels: set}
			}
		}
	}
	return cat
}

// collectorKind tells histograms and summaries from the rest: a vector by its
// type (it has no child to collect yet), a plain metric by what it writes.
func collectorKind(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	switch c.(type) {
	case *prometheus.HistogramVec:
		return "histogram"
	case *prometheus.SummaryVec:
		return "summary"
	}
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	kind := ""
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		switch {
		case pb.Histogram != nil:
			kind = "histogram"
		case pb.Summary != nil:
			kind = "summary"
		}
	}
	return kind
}

func with(set map[string]bool, label string) map[string]bool {
	out := map[string]bool{label: true}
	for l := range set {
		out[l] = true
	}
	return out
}

// fullCatalog is what metrics.New registers plus the pending names it does
// not register yet.
func fullCatalog(t *testing.T) catalog {
	t.Helper()
	cat := registered(t)
	for name, labels := range pending {
		if _, ok := cat[name]; ok {
			continue
		}
		set := map[string]bool{}
		for _, l := range labels {
			set[l] = true
		}
		cat[name] = series{labels: set, pending: true}
	}
	return cat
}

// ruleFile is Prometheus' rules file format
// (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/).
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Limit    int    `yaml:"limit,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var rf ruleFile
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", alertsPath, err)
	}
	return rf
}

// The fields the checks read; Grafana's model has many more.
type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	GridPos    *gridPos    `json:"gridPos"`
	Datasource *datasource `json:"datasource"`
	Targets    []target    `json:"targets"`
	// Panels holds the panels of a collapsed row.
	Panels []panel `json:"panels"`
}

type gridPos struct {
	H, W, X, Y int
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows, collapsed ones included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// grafanaMacros stand in for the interval variables Grafana fills in, so
// that a panel's query can be checked as PromQL.
var grafanaMacros = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
)

// labelValues is a template variable's query: label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// expr is one query to check, and where it comes from.
type expr struct {
	where string
	query string
}

// dashboardExprs returns the dashboard's PromQL, panels' and template
// variables' selectors alike, with the label each variable reads.
func dashboardExprs(t *testing.T, d dashboard) (exprs []expr, varLabels map[string]string) {
	t.Helper()
	varLabels = map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			exprs = append(exprs, expr{
				where: fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID),
				query: grafanaMacros.Replace(tg.Expr),
			})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: want label_values(selector, label), have %q", v.Name, q.Query)
		}
		where := "variable " + v.Name
		exprs = append(exprs, expr{where: where, query: m[1]})
		varLabels[where] = m[2]
	}
	return exprs, varLabels
}

func ruleExprs(rf ruleFile) []expr {
	var exprs []expr
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, expr{where: "rule " + g.Name + "/" + r.Alert + r.Record, query: r.Expr})
		}
	}
	return exprs
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	rf := loadRules(t)
	if len(rf.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	groups := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group %q: name empty or used twice", g.Name)
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			t.Errorf("group %s: no rules", g.Name)
		}
		for _, r := range g.Rules {
			name := g.Name + "/" + r.Alert
			if r.Alert == "" || r.Record != "" {
				t.Errorf("%s: every rule here is an alert", name)
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert name used twice", name)
			}
			alerts[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", name)
			}
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q: want a positive duration", name, r.For)
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q: want critical, warning or info", name, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", name, a)
				}
			}
		}
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want both set and a schema of Grafana 9 or later", d.UID, d.Title, d.SchemaVersion)
	}

	vars := map[string]templateVar{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("want a Prometheus datasource variable named datasource, have %+v", v)
	}
	for _, name := range []string{"instance", "route"} {
		v, ok := vars[name]
		if !ok || v.Type != "query" {
			t.Errorf("want a query variable named %s", name)
			continue
		}
		if !isTemplateDatasource(v.Datasource) {
			t.Errorf("variable %s: datasource %+v: want the datasource variable", name, v.Datasource)
		}
	}

	ids := map[int]string{}
	cells := map[[2]int]int{}
	targets := 0
	for _, p := range allPanels(d.Panels) {
		if p.ID <= 0 {
			t.Errorf("panel %q: no id", p.Title)
		} else if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d: no title", p.ID)
		}
		g := p.GridPos
		if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v: want w, h > 0 within 24 columns", p.ID, p.Title, g)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panel %d overlaps panel %d at x=%d y=%d", p.ID, other, x, y)
					x, y = g.X+g.W, g.Y+g.H
				}
				cells[[2]int{x, y}] = p.ID
			}
		}
		if p.Type == "row" {
			if len(p.Targets) != 0 {
				t.Errorf("row %d %q: has targets", p.ID, p.Title)
			}
			continue
		}
		if !isTemplateDatasource(p.Datasource) {
			t.Errorf("panel %d %q: datasource %+v: want the datasource variable", p.ID, p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q: no targets", p.ID, p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			targets++
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %d %q target %s: no expr", p.ID, p.Title, tg.RefID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %d %q: refId %q empty or used twice", p.ID, p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && !isTemplateDatasource(tg.Datasource) {
				t.Errorf("panel %d %q target %s: datasource %+v: want the datasource variable", p.ID, p.Title, tg.RefID, tg.Datasource)
			}
		}
	}
	if targets == 0 {
		t.Error("no queries")
	}
}

func isTemplateDatasource(ds *datasource) bool {
	return ds != nil && ds.Type == "prometheus" && (ds.UID == "${datasource}" || ds.UID == "$datasource")
}

// TestExpressions checks every query of the dashboard and the alert rules:
// balanced brackets, well-formed label matchers, and only series and labels
// that the gateway exports.
func TestExpressions(t *testing.T) {
	t.Parallel()
	cat := fullCatalog(t)
	d := loadDashboard(t)
	exprs, varLabels := dashboardExprs(t, d)
	exprs = append(exprs, ruleExprs(loadRules(t))...)

	used := map[string]bool{}
	for _, e := range exprs {
		names, errs := checkExpr(e.query, cat)
		for _, err := range errs {
			t.Errorf("%s: %v\n\t%s", e.where, err, e.query)
		}
		for _, n := range names {
			used[n] = true
		}
		if l, ok := varLabels[e.where]; ok {
			for _, n := range names {
				if s, ok := cat[n]; ok && !labelAllowed(s, l) {
					t.Errorf("%s: label_values reads %q, which %s does not have", e.where, l, n)
				}
			}
		}
	}
	for name := range pending {
		if !used[name] {
			t.Errorf("pending metric %s is used nowhere: remove it from pending", name)
		}
	}
}

// TestPendingMetrics keeps pending honest: a name metrics.New registers must
// leave it, so that its labels are checked against the real collector.
func TestPendingMetrics(t *testing.T) {
	t.Parallel()
	cat := registered(t)
	for name := range pending {
		if _, ok := cat[name]; ok {
			t.Errorf("%s is registered by metrics.New now: remove it from pending", name)
		}
	}
}

// TestPromtool runs Prometheus' own checker, when it is installed, on the
// alert rules and on the dashboard's queries (as recording rules).
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	dashRules := ruleGroup{Name: "dashboard"}
	exprs, varLabels := dashboardExprs(t, loadDashboard(t))
	for i, e := range exprs {
		if _, ok := varLabels[e.where]; ok {
			continue
		}
		dashRules.Rules = append(dashRules.Rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: e.query})
	}
	b, err := yaml.Marshal(ruleFile{Groups: []ruleGroup{dashRules}})
	if err != nil {
		t.Fatal(err)
	}
	dashFile := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(dashFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{alertsPath, dashFile} {
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

// TestExprChecker shows that checkExpr catches what it is meant to.
func TestExprChecker(t *testing.T) {
	t.Parallel()
	cat := fullCatalog(t)
	tests := []struct {
		name  string
		query string
		ok    bool
	}{
		{"valid", `sum by (route) (rate(capibridge_http_requests_total{status_class="5xx", job=~"capibridge.*"}[5m]))`, true},
		{"valid postfix by", `sum(rate(capibridge_http_requests_total[5m])) by (method)`, true},
		{"valid histogram", `histogram_quantile(0.99, sum by (le) (rate(capibridge_http_request_duration_seconds_bucket[5m])))`, true},
		{"valid vector matching", `sum by (client_family) (rate(capibridge_v2_requests_total[1h])) and on (client_family) capibridge_v2_brownouts_total`, true},
		{"valid pending", `time() - capibridge_token_keys_last_refresh_timestamp_seconds{instance="a"} > 900`, true},
		{"valid subquery", `max_over_time(rate(capibridge_http_requests_total[5m])[1h:1m])`, true},
		{"unclosed paren", `sum(rate(capibridge_http_requests_total[5m])`, false},
		{"mismatched bracket", `rate(capibridge_http_requests_total[5m)]`, false},
		{"matcher without operator", `capibridge_http_requests_total{route"x"}`, false},
		{"matcher with bad operator", `capibridge_http_requests_total{route~"x"}`, false},
		{"matcher without quotes", `capibridge_http_requests_total{route=x}`, false},
		{"matcher with bad regexp", `capibridge_http_requests_total{route=~"("}`, false},
		{"matcher on unknown label", `capibridge_http_requests_total{tier="local"}`, false},
		{"by unknown label", `sum by (tier) (rate(capibridge_http_requests_total[5m]))`, false},
		{"postfix by unknown label", `sum(rate(capibridge_http_requests_total[5m])) by (tier)`, false},
		{"le on a counter", `sum by (le) (rate(capibridge_http_requests_total[5m]))`, false},
		{"histogram without suffix", `rate(capibridge_http_request_duration_seconds[5m])`, false},
		{"unknown metric", `rate(capibridge_nope_total[5m])`, false},
		{"on unknown label", `capibridge_cache_bytes and on (route) capibridge_redis_breaker_open`, false},
		{"pending metric label", `max by (tier) (capibridge_token_keys_last_refresh_timestamp_seconds)`, false},
		{"grafana variable left", `rate(capibridge_http_requests_total[$interval])`, false},
		{"unterminated string", `capibridge_http_requests_total{route="x}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := checkExpr(tc.query, cat)
			if tc.ok && len(errs) > 0 {
				t.Errorf("want no error, have %v", errs)
			}
			if !tc.ok && len(errs) == 0 {
				t.Error("want an error, have none")
			}
		})
	}
}

// token is a PromQL lexeme.
type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'o' operator, else the bracket or comma itself
	text string
	pos  int
}

var operators = []string{"==", "!=", "<=", ">=", "=~", "!~", "=", "<", ">", "+", "-", "*", "/", "%", "^", "@", ":"}

// lex splits a PromQL expression into tokens
// (https://prometheus.io/docs/prometheus/latest/querying/basics/).
func lex(q string) ([]token, error) {
	var toks []token
	isIdentStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c == ':' || c >= '0' && c <= '9' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdent(q[j]) {
				j++
			}
			toks = append(toks, token{'i', q[i:j], i})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]):
			j := i + 1
			for j < len(q) && (isDigit(q[j]) || q[j] == '.' || isIdentStart(q[j])) {
				j++
			}
			toks = append(toks, token{'n', q[i:j], i})
			i = j
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return nil, fmt.Errorf("offset %d: unterminated string", i)
			}
			toks = append(toks, token{'s', q[i : j+1], i})
			i = j + 1
		case strings.ContainsRune("(){}[],", rune(c)):
			toks = append(toks, token{c, string(c), i})
			i++
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(q[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("offset %d: unexpected %q", i, c)
			}
			toks = append(toks, token{'o', op, i})
			i += len(op)
		}
	}
	return toks, nil
}

var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

var matchOps = map[string]bool{"=": true, "!=": true, "=~": true, "!~": true}

// checkExpr checks q against cat: brackets balance, label matchers are
// well formed (name, operator, quoted value; regexps compile), every
// capibridge_ series exists, and every label a matcher, a by or without
// clause or an on or ignoring clause names belongs to the series it applies
// to. It returns the capibridge_ names q selects.
func checkExpr(q string, cat catalog) (names []string, errs []error) {
	toks, err := lex(q)
	if err != nil {
		return nil, []error{err}
	}

	// Brackets, and the partner of each.
	match := make([]int, len(toks))
	var stack []int
	closer := map[byte]byte{'(': ')', '{': '}', '[': ']'}
	for i, tk := range toks {
		match[i] = -1
		switch tk.kind {
		case '(', '{', '[':
			stack = append(stack, i)
		case ')', '}', ']':
			if len(stack) == 0 || closer[toks[stack[len(stack)-1]].kind] != tk.kind {
				return nil, []error{fmt.Errorf("offset %d: unmatched %q", tk.pos, tk.text)}
			}
			open := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			match[open], match[i] = i, open
		}
	}
	if len(stack) > 0 {
		return nil, []error{fmt.Errorf("offset %d: %q never closed", toks[stack[len(stack)-1]].pos, toks[stack[len(stack)-1]].text)}
	}

	metricAt := func(i int) (string, bool) {
		tk := toks[i]
		return tk.text, tk.kind == 'i' && strings.HasPrefix(tk.text, metrics.Namespace+"_") && (i+1 == len(toks) || toks[i+1].kind != '(')
	}
	// metricsIn returns the capibridge_ series between toks[from] and toks[to].
	metricsIn := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			if n, ok := metricAt(i); ok {
				out = append(out, n)
			}
		}
		return out
	}
	checkLabel := func(tk token, names []string, what string) {
		for _, n := range names {
			if s, ok := cat[n]; ok && !labelAllowed(s, tk.text) {
				errs = append(errs, fmt.Errorf("offset %d: %s label %q: %s has no such label", tk.pos, what, tk.text, n))
			}
		}
	}
	// labelList reads "(a, b, ...)" opening at toks[i]; it returns the labels
	// and the index of the ")".
	labelList := func(i int) ([]token, int, error) {
		if i >= len(toks) || toks[i].kind != '(' {
			return nil, i, errors.New("want a label list")
		}
		var labels []token
		for j := i + 1; j < match[i]; j++ {
			switch {
			case toks[j].kind == 'i' && (labels == nil || toks[j-1].kind == ','):
				labels = append(labels, toks[j])
			case toks[j].kind == ',' && toks[j-1].kind == 'i':
			default:
				return nil, i, fmt.Errorf("offset %d: unexpected %q in label list", toks[j].pos, toks[j].text)
			}
		}
		return labels, match[i], nil
	}

	all := metricsIn(0, len(toks)-1)
	for _, n := range all {
		if _, ok := cat[n]; !ok {
			errs = append(errs, fmt.Errorf("unknown series %s", n))
		}
	}

	for i, tk := range toks {
		switch {
		case tk.kind == '{':
			var owner []string
			if i > 0 {
				if n, ok := metricAt(i - 1); ok {
					owner = []string{n}
				}
			}
			errs = append(errs, checkMatchers(toks[i+1:match[i]], owner, checkLabel)...)
		case tk.kind == 'i' && (tk.text == "by" || tk.text == "without"):
			labels, end, err := labelList(i + 1)
			if err != nil {
				errs = append(errs, fmt.Errorf("offset %d: %s: %w", tk.pos, tk.text, err))
				continue
			}
			var scope []string
			switch {
			case i > 0 && toks[i-1].kind == 'i' && aggregators[toks[i-1].text] && end+1 < len(toks) && toks[end+1].kind == '(':
				// sum by (a) (expr)
				scope = metricsIn(end+1, match[end+1])
			case i > 0 && toks[i-1].kind == ')' && match[i-1] > 0 && toks[match[i-1]-1].kind == 'i' && aggregators[toks[match[i-1]-1].text]:
				// sum (expr) by (a)
				scope = metricsIn(match[i-1], i-1)
			default:
				errs = append(errs, fmt.Errorf("offset %d: %s is not part of an aggregation", tk.pos, tk.text))
				continue
			}
			for _, l := range labels {
				checkLabel(l, scope, tk.text)
			}
		case tk.kind == 'i' && (tk.text == "on" || tk.text == "ignoring" || tk.text == "group_left" || tk.text == "group_right"):
			if i+1 >= len(toks) || toks[i+1].kind != '(' {
				if tk.text == "on" || tk.text == "ignoring" {
					errs = append(errs, fmt.Errorf("offset %d: %s wants a label list", tk.pos, tk.text))
				}
				continue
			}
			labels, _, err := labelList(i + 1)
			if err != nil {
				errs = append(errs, fmt.Errorf("offset %d: %s: %w", tk.pos, tk.text, err))
				continue
			}
			// The label must exist on some series of the expression.
			for _, l := range labels {
				found := false
				for _, n := range all {
					if s, ok := cat[n]; ok && labelAllowed(s, l.text) {
						found = true
					}
				}
				if !found {
					errs = append(errs, fmt.Errorf("offset %d: %s label %q: no series here has it", l.pos, tk.text, l.text))
				}
			}
		}
	}
	sort.Strings(all)
	return slices.Compact(all), errs
}

// checkMatchers checks the tokens between { and }: name op "value", ...
func checkMatchers(toks []token, owner []string, checkLabel func(token, []string, string)) []error {
	var errs []error
	for i := 0; i < len(toks); {
		if i+2 >= len(toks) || toks[i].kind != 'i' || toks[i+1].kind != 'o' || !matchOps[toks[i+1].text] || toks[i+2].kind != 's' {
			return append(errs, fmt.Errorf("offset %d: want label, =, !=, =~ or !~, and a quoted value", toks[i].pos))
		}
		checkLabel(toks[i], owner, "matcher")
		if op := toks[i+1].text; op == "=~" || op == "!~" {
			v := toks[i+2].text
			if _, err := regexp.Compile("^(?:" + v[1:len(v)-1] + ")$"); err != nil {
				errs = append(errs, fmt.Errorf("offset %d: %w", toks[i+2].pos, err))
			}
		}
		i += 3
		if i < len(toks) {
			if toks[i].kind != ',' {
				return append(errs, fmt.Errorf("offset %d: want , or }", toks[i].pos))
			}
			i++
		}
	}
	return errs
}

func labelAllowed(s series, label string) bool {
	return s.labels[label] || slices.Contains(targetLabels, label) || label == "__name__"
}
