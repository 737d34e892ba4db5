package proxy

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"capibridge/proxy/v2api"
)

// docs/V2-TO-V3.md lists, for every translated v2 endpoint, the v3 calls
// that replace it. The v2 side comes from the route table, the v3 side
// from what the gateways of this package's tests called (Deps.Served):
// when the whole package runs, every call seen must be in the document and
// every endpoint of the table must have its row, so the document cannot
// drift from the code, and every endpoint must be exercised by some test.
// -v2tov3.update writes it from the run.

var updateV2ToV3 = flag.Bool("v2tov3.update", false, "write docs/V2-TO-V3.md from the v3 calls this run saw")

const v2ToV3File = "../docs/V2-TO-V3.md"

// callRecord collects the v3 calls per v2 endpoint ("GET /v2/apps").
type callRecord struct {
	mu    sync.Mutex
	calls map[string]map[string]bool
}

var v2Calls = &callRecord{calls: map[string]map[string]bool{}}

func (r *callRecord) record(route, method string, calls []string) {
	if method == "HEAD" {
		method = "GET"
	}
	ep := method + " " + route
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[ep] == nil {
		r.calls[ep] = map[string]bool{}
	}
	for _, c := range calls {
		r.calls[ep][c] = true
	}
}

// endpoints lists the table's v2 endpoints in its order.
func endpoints() []string {
	var out []string
	for _, rt := range v2api.Routes() {
		for _, m := range []struct {
			name string
			h    v2api.Handler
		}{{"GET", rt.Get}, {"PUT", rt.Put}, {"POST", rt.Post}, {"DELETE", rt.Del}} {
			if m.h != nil {
				out = append(out, m.name+" "+rt.Template)
			}
		}
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	whole := flag.Lookup("test.run").Value.String() == "" && !testing.Short()
	if code == 0 && (whole || *updateV2ToV3) {
		if err := checkV2ToV3(*updateV2ToV3); err != nil {
			fmt.Fprintln(os.Stderr, "docs/V2-TO-V3.md:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var docRow = regexp.MustCompile("^\\| `([A-Z]+ /v2/[^`]*)` \\| (.*) \\|$")

func checkV2ToV3(update bool) error {
	v2Calls.mu.Lock()
	defer v2Calls.mu.Unlock()
	if update {
		return os.WriteFile(v2ToV3File, []byte(renderV2ToV3(v2Calls.calls)), 0o644)
	}
	body, err := os.ReadFile(v2ToV3File)
	if err != nil {
		return err
	}
	documented := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if m := docRow.FindStringSubmatch(line); m != nil {
			documented[m[1]] = m[2]
		}
	}
	var problems []string
	for _, ep := range endpoints() {
		if _, seen := v2Calls.calls[ep]; !seen {
			problems = append(problems, ep+": not exercised by any test")
		}
		cell, ok := documented[ep]
		if !ok {
			problems = append(problems, ep+": no row")
			continue
		}
		for c := range v2Calls.calls[ep] {
			if !strings.Contains(cell, "`"+c+"`") {
				problems = append(problems, fmt.Sprintf("%s: calls %s, which its row does not name", ep, c))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("out of date (go test ./proxy -args -v2tov3.update writes it):\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// renderV2ToV3 writes the document: one table per v2 collection.
func renderV2ToV3(calls map[string]map[string]bool) string {
	var b strings.Builder
	b.WriteString(`# v2 endpoints and the v3 calls that replace them

Generated from capibridge's route table and the v3 calls its gateways made for each
v2 endpoint over the test suite (` + "`go test ./proxy -args -v2tov3.update`" + `); the suite fails
when a call is missing here. A row lists every call seen for any request to the endpoint:
one request makes some of them, depending on its query, its body and the state of the
resources (a cached page makes none). Route templates are those of
` + "`capibridge_upstream_requests_total`" + `. The gateway sends the calls of each answer in
` + "`X-Capibridge-V3-Calls`" + ` when ` + "`migration.v3_calls_header`" + ` is on.
`)
	collection := ""
	for _, ep := range endpoints() {
		_, tmpl, _ := strings.Cut(ep, " ")
		c := strings.SplitN(strings.TrimPrefix(tmpl, "/v2/"), "/", 2)[0]
		if c != collection {
			collection = c
			fmt.Fprintf(&b, "\n## /v2/%s\n\n| v2 | v3 |\n|---|---|\n", c)
		}
		var cs []string
		for call := range calls[ep] {
			cs = append(cs, "`"+call+"`")
		}
		slices.Sort(cs)
		cell := strings.Join(cs, "<br>")
		switch {
		case calls[ep] == nil:
			cell = "(not exercised by the tests)"
		case cell == "":
			cell = "(none: the gateway answers it itself)"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", ep, cell)
	}
	return b.String()
}
