package translate

import (
	"errors"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testQueryPairs decodes a raw query string the way Rack and CGI.parse do
// ("+" is a space), keeping order and repeats. It fails on a bad escape.
func testQueryPairs(tb testing.TB, raw string) [][2]string {
	tb.Helper()
	pairs, err := decodeTestQuery(raw)
	if err != nil {
		tb.Fatalf("decoding %q: %v", raw, err)
	}
	return pairs
}

func decodeTestQuery(raw string) ([][2]string, error) {
	var pairs [][2]string
	if raw == "" {
		return nil, nil
	}
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]string{dk, dv})
	}
	return pairs, nil
}

func TestParseListParams(t *testing.T) {
	t.Parallel()
	def := ListParams{Page: 1, ResultsPerPage: 50, OrderDirection: "asc"}
	with := func(f func(*ListParams)) ListParams { lp := def; f(&lp); return lp }
	tests := []struct {
		name string
		raw  string
		want ListParams
	}{
		{"defaults", "", def},
		{"page and size", "page=3&results-per-page=10", with(func(lp *ListParams) { lp.Page, lp.ResultsPerPage = 3, 10 })},
		{"max size", "results-per-page=100", with(func(lp *ListParams) { lp.ResultsPerPage = 100 })},
		{"desc", "order-direction=desc", with(func(lp *ListParams) { lp.OrderDirection = "desc" })},
		{"explicit asc", "order-direction=asc", def},
		{"depth", "inline-relations-depth=2", with(func(lp *ListParams) { lp.InlineRelationsDepth, lp.HasDepth = 2, true })},
		{"depth zero is remembered", "inline-relations-depth=0", with(func(lp *ListParams) { lp.HasDepth = true })},
		{"negative depth accepted", "inline-relations-depth=-1", with(func(lp *ListParams) { lp.InlineRelationsDepth, lp.HasDepth = -1, true })},
		{"q in order", "q=name:b&page=2&q=space_guid:s", with(func(lp *ListParams) { lp.Page, lp.Q = 2, []string{"name:b", "space_guid:s"} })},
		{"empty q kept", "q=", with(func(lp *ListParams) { lp.Q = []string{""} })},
		{"plus is a space", "q=name+IN+a,b", with(func(lp *ListParams) { lp.Q = []string{"name IN a,b"} })},
		{"orphans", "orphan-relations=1", with(func(lp *ListParams) { lp.OrphanRelations, lp.HasOrphanRelations = 1, true })},
		{"orphans 0 remembered", "orphan-relations=0", with(func(lp *ListParams) { lp.HasOrphanRelations = true })},
		{"relations split", "include-relations=space,routes&exclude-relations=stack", with(func(lp *ListParams) {
			lp.IncludeRelations, lp.ExcludeRelations = []string{"space", "routes"}, []string{"stack"}
		})},
		{"relations split like Ruby", "include-relations=,a,,b,,", with(func(lp *ListParams) { lp.IncludeRelations = []string{"", "a", "", "b"} })},
		{"empty relations present", "include-relations=", with(func(lp *ListParams) { lp.IncludeRelations = []string{} })},
		{"order-by kept", "order-by=name", with(func(lp *ListParams) { lp.OrderBy, lp.HasOrderBy = "name", true })},
		{"empty order-by present", "order-by=", with(func(lp *ListParams) { lp.HasOrderBy = true })},
		{"last value wins", "page=2&page=3&results-per-page=5&results-per-page=7&order-direction=foo&order-direction=desc",
			with(func(lp *ListParams) { lp.Page, lp.ResultsPerPage, lp.OrderDirection = 3, 7, "desc" })},
		{"unknown params ignored", "recursive=true&foo=bar&Page=9&q[]=x", def},
		{"Ruby Integer: spaces", "page=%202%0A", with(func(lp *ListParams) { lp.Page = 2 })},
		{"Ruby Integer: octal", "page=010", with(func(lp *ListParams) { lp.Page = 8 })},
		{"Ruby Integer: hex", "results-per-page=0x1A", with(func(lp *ListParams) { lp.ResultsPerPage = 26 })},
		{"Ruby Integer: binary", "page=0b11", with(func(lp *ListParams) { lp.Page = 3 })},
		{"Ruby Integer: 0o", "page=0o7", with(func(lp *ListParams) { lp.Page = 7 })},
		{"Ruby Integer: 0d", "page=0d012", with(func(lp *ListParams) { lp.Page = 12 })},
		{"Ruby Integer: underscore", "page=1_0", with(func(lp *ListParams) { lp.Page = 10 })},
		{"Ruby Integer: plus sign", "page=%2B4", with(func(lp *ListParams) { lp.Page = 4 })},
		{"huge page is fine", "page=1000000000", with(func(lp *ListParams) { lp.Page = 1000000000 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseListParams(testQueryPairs(t, tt.raw), 2)
			if err != nil {
				t.Fatalf("ParseListParams(%q): %v", tt.raw, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseListParams(%q) =\n %#v, want\n %#v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseListParamsErrors(t *testing.T) {
	t.Parallel()
	const unknown = "An unknown error occurred."
	tests := []struct {
		raw    string
		status int
		code   int
		desc   string
	}{
		{"results-per-page=101", 400, 10005, "The query parameter is invalid: results_per_page must be <= 100"},
		{"results-per-page=99999999999999999999999", 400, 10005, "The query parameter is invalid: results_per_page must be <= 100"},
		{"inline-relations-depth=3", 400, 10005, "The query parameter is invalid: inline_relations_depth must be <= 2"},
		{"order-direction=ASC", 400, 10005, "The query parameter is invalid: order_direction must be 'asc' or 'desc' but was 'ASC'"},
		{"order-direction=", 400, 10005, "The query parameter is invalid: order_direction must be 'asc' or 'desc' but was ''"},
		{"order-direction=desc%20", 400, 10005, "The query parameter is invalid: order_direction must be 'asc' or 'desc' but was 'desc '"},
		{"page=abc", 500, 10001, unknown},
		{"page=", 500, 10001, unknown},
		{"page=2.0", 500, 10001, unknown},
		{"page=1e2", 500, 10001, unknown},
		{"page=08", 500, 10001, unknown},
		{"page=1__0", 500, 10001, unknown},
		{"page=_1", 500, 10001, unknown},
		{"page=0x_1", 500, 10001, unknown},
		{"page=0d", 500, 10001, unknown},
		{"page=1%002", 500, 10001, unknown},
		{"page=- 1", 500, 10001, unknown},
		{"results-per-page=ten", 500, 10001, unknown},
		{"inline-relations-depth=one", 500, 10001, unknown},
		{"orphan-relations=true", 500, 10001, unknown},
		{"page=0", 500, 10001, unknown},
		{"page=-1", 500, 10001, unknown},
		{"results-per-page=0", 500, 10001, unknown},
		{"results-per-page=-5", 500, 10001, unknown},
		{"page=99999999999999999999999", 500, 10001, unknown},
		{"page=" + strconv.Itoa(math.MaxInt/50+2), 500, 10001, unknown},
		// CC's order: Integer() first, then size, depth, direction, then Sequel.
		{"results-per-page=101&page=x", 500, 10001, unknown},
		{"results-per-page=101&inline-relations-depth=9", 400, 10005, "The query parameter is invalid: results_per_page must be <= 100"},
		{"inline-relations-depth=9&order-direction=up", 400, 10005, "The query parameter is invalid: inline_relations_depth must be <= 2"},
		{"order-direction=up&page=0", 400, 10005, "The query parameter is invalid: order_direction must be 'asc' or 'desc' but was 'up'"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			lp, err := ParseListParams(testQueryPairs(t, tt.raw), 2)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseListParams(%q) = %#v, %v; want *Error", tt.raw, lp, err)
			}
			if e.Status != tt.status || e.Code != tt.code || e.Description != tt.desc {
				t.Errorf("ParseListParams(%q) error = %d %d %q, want %d %d %q", tt.raw, e.Status, e.Code, e.Description, tt.status, tt.code, tt.desc)
			}
			if !reflect.DeepEqual(lp, ListParams{}) {
				t.Errorf("ParseListParams(%q) returned %#v with an error", tt.raw, lp)
			}
		})
	}
}

func TestParseListParamsMaxDepth(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{{"inline-relations-depth", "3"}}
	if _, err := ParseListParams(pairs, 3); err != nil {
		t.Errorf("depth 3 with max 3: %v", err)
	}
	_, err := ParseListParams(pairs, 2)
	if err == nil || !strings.HasSuffix(err.(*Error).Description, "inline_relations_depth must be <= 2") {
		t.Errorf("depth 3 with max 2: %v", err)
	}
}

func TestListParamsHelpers(t *testing.T) {
	t.Parallel()
	lp, err := ParseListParams(testQueryPairs(t, "page=3&results-per-page=20&orphan-relations=1"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := lp.Offset(); got != 40 {
		t.Errorf("Offset() = %d, want 40", got)
	}
	if !lp.Orphans() {
		t.Error("Orphans() = false for orphan-relations=1")
	}
	lp.OrphanRelations = 2
	if lp.Orphans() {
		t.Error("Orphans() = true for orphan-relations=2")
	}
}

func TestListCheckOrderBy(t *testing.T) {
	t.Parallel()
	none, _ := ParseListParams(nil, 2)
	if err := CheckOrderBy(none); err != nil {
		t.Errorf("CheckOrderBy without order-by: %v", err)
	}
	for _, tt := range []struct {
		value   string
		allowed []string
		ok      bool
	}{
		{"name", nil, false},
		{"", nil, false},
		{"id", nil, false},
		{"name", []string{"id", "name"}, true},
		{"Name", []string{"id", "name"}, false},
		{"timestamp", []string{"timestamp", "id"}, true},
	} {
		lp, err := ParseListParams([][2]string{{"order-by", tt.value}}, 2)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckOrderBy(lp, tt.allowed...)
		if tt.ok {
			if err != nil {
				t.Errorf("CheckOrderBy(%q, %q) = %v, want nil", tt.value, tt.allowed, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 500 || e.Code != 10012 || e.Name != "OrderByParameterInvalid" || e.Description != "Cannot order by: "+tt.value {
			t.Errorf("CheckOrderBy(%q, %q) = %v, want 500 OrderByParameterInvalid", tt.value, tt.allowed, err)
		}
	}
}

func TestListURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		page int
		want string
	}{
		{"defaults", "", 2, "/v2/apps?order-direction=asc&page=2&results-per-page=50"},
		{"MAPPING example", "q=name:foo&inline-relations-depth=1&page=1", 2,
			"/v2/apps?inline-relations-depth=1&order-direction=asc&page=2&q=name:foo&results-per-page=50"},
		{"IN", "q=name%20IN%20a,b", 2, "/v2/apps?order-direction=asc&page=2&q=name%20IN%20a,b&results-per-page=50"},
		{">=", "q=name%3E%3Dx", 2, "/v2/apps?order-direction=asc&page=2&q=name%3E=x&results-per-page=50"},
		{"<", "q=name<x", 2, "/v2/apps?order-direction=asc&page=2&q=name%3Cx&results-per-page=50"},
		{"; & + %", "q=name:a%3B%3Bb%26c%2Bd%25", 2, "/v2/apps?order-direction=asc&page=2&q=name:a%3B%3Bb%26c%2Bd%25&results-per-page=50"},
		{"literal set", "q=name:aZ09-._~!$'()*,=:@/?", 2, "/v2/apps?order-direction=asc&page=2&q=name:aZ09-._~!$'()*,=:@/?&results-per-page=50"},
		{"encoded set", "q=name:%23%5B%5D%22%5C%5E%60%7B%7C%7D%00%7F", 2,
			"/v2/apps?order-direction=asc&page=2&q=name:%23%5B%5D%22%5C%5E%60%7B%7C%7D%00%7F&results-per-page=50"},
		{"utf-8 upper-case hex", "q=name:caf%C3%A9", 2, "/v2/apps?order-direction=asc&page=2&q=name:caf%C3%A9&results-per-page=50"},
		{"repeated q in request order", "q=space_guid:s&q=name:a", 3, "/v2/apps?order-direction=asc&page=3&q=space_guid:s&q=name:a&results-per-page=50"},
		{"empty q kept", "q=", 2, "/v2/apps?order-direction=asc&page=2&q=&results-per-page=50"},
		{"effective size and desc", "results-per-page=10&order-direction=desc", 4, "/v2/apps?order-direction=desc&page=4&results-per-page=10"},
		{"integers normalised", "results-per-page=0x0A&inline-relations-depth=%2001&orphan-relations=01", 2,
			"/v2/apps?inline-relations-depth=1&order-direction=asc&orphan-relations=1&page=2&results-per-page=10"},
		{"every parameter, sorted", "order-by=name&q=name>a&orphan-relations=1&include-relations=space,routes&exclude-relations=stack&inline-relations-depth=2&order-direction=desc&results-per-page=5&page=3", 4,
			"/v2/apps?exclude-relations=stack&include-relations=space,routes&inline-relations-depth=2&order-by=name&order-direction=desc&orphan-relations=1&page=4&q=name%3Ea&results-per-page=5"},
		{"relations comma-joined as split", "include-relations=a,,b,", 2, "/v2/apps?include-relations=a,,b&order-direction=asc&page=2&results-per-page=50"},
		{"empty relations kept", "exclude-relations=", 2, "/v2/apps?exclude-relations=&order-direction=asc&page=2&results-per-page=50"},
		{"relation escaped", "include-relations=a%20b", 2, "/v2/apps?include-relations=a%20b&order-direction=asc&page=2&results-per-page=50"},
		{"empty order-by kept", "order-by=", 2, "/v2/apps?order-by=&order-direction=asc&page=2&results-per-page=50"},
		{"unknown params dropped", "foo=bar&recursive=true", 2, "/v2/apps?order-direction=asc&page=2&results-per-page=50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lp, err := ParseListParams(testQueryPairs(t, tt.raw), 2)
			if err != nil {
				t.Fatalf("ParseListParams(%q): %v", tt.raw, err)
			}
			if got := lp.ListURL("/v2/apps", tt.page); got != tt.want {
				t.Errorf("ListURL(%q, %d) =\n %s\nwant\n %s", tt.raw, tt.page, got, tt.want)
			}
		})
	}
}

func TestListURLPath(t *testing.T) {
	t.Parallel()
	lp, _ := ParseListParams(nil, 2)
	const want = "/v2/spaces/5a98cff5/apps?order-direction=asc&page=1&results-per-page=50"
	if got := lp.ListURL("/v2/spaces/5a98cff5/apps", 1); got != want {
		t.Errorf("ListURL = %s, want %s", got, want)
	}
}

func TestPaginate(t *testing.T) {
	t.Parallel()
	u := func(page int) *string {
		s := "/v2/apps?order-direction=asc&page=" + strconv.Itoa(page) + "&results-per-page=50"
		return &s
	}
	tests := []struct {
		name       string
		page       int
		total      int
		pages      int
		prev, next *string
	}{
		{"no results", 1, 0, 1, nil, nil},
		{"fewer than a page", 1, 3, 1, nil, nil},
		{"exactly one page", 1, 50, 1, nil, nil},
		{"one more than a page", 1, 51, 2, nil, u(2)},
		{"exact multiple, first", 1, 100, 2, nil, u(2)},
		{"exact multiple, last", 2, 100, 2, u(1), nil},
		{"middle", 2, 101, 3, u(1), u(3)},
		{"past the last page", 5, 100, 2, u(4), nil},
		{"past the only page", 2, 0, 1, u(1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lp, err := ParseListParams([][2]string{{"page", strconv.Itoa(tt.page)}}, 2)
			if err != nil {
				t.Fatal(err)
			}
			got := Paginate(lp, "/v2/apps", tt.total)
			want := Page{TotalResults: tt.total, TotalPages: tt.pages, PrevURL: tt.prev, NextURL: tt.next}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Paginate(page %d, total %d) = %s, want %s", tt.page, tt.total, fmtPage(got), fmtPage(want))
			}
		})
	}
}

func TestPaginateKeepsParams(t *testing.T) {
	t.Parallel()
	lp, err := ParseListParams(testQueryPairs(t, "page=2&results-per-page=1&q=name%20IN%20a,b&inline-relations-depth=1"), 2)
	if err != nil {
		t.Fatal(err)
	}
	p := Paginate(lp, "/v2/apps", 3)
	const prev = "/v2/apps?inline-relations-depth=1&order-direction=asc&page=1&q=name%20IN%20a,b&results-per-page=1"
	const next = "/v2/apps?inline-relations-depth=1&order-direction=asc&page=3&q=name%20IN%20a,b&results-per-page=1"
	if p.TotalPages != 3 || p.PrevURL == nil || *p.PrevURL != prev || p.NextURL == nil || *p.NextURL != next {
		t.Errorf("Paginate = %s", fmtPage(p))
	}
}

func fmtPage(p Page) string {
	s := func(u *string) string {
		if u == nil {
			return "null"
		}
		return *u
	}
	return "{" + strconv.Itoa(p.TotalResults) + " " + strconv.Itoa(p.TotalPages) + " prev=" + s(p.PrevURL) + " next=" + s(p.NextURL) + "}"
}

func BenchmarkListURL(b *testing.B) {
	lp, err := ParseListParams([][2]string{
		{"q", "name IN app-one,app-two"}, {"q", "space_guid:8a3f0c2e-5d1b-4c9e-9f7a-2b6d4e8c1a0f"},
		{"inline-relations-depth", "1"}, {"page", "2"},
	}, 2)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = lp.ListURL("/v2/apps", 3)
	}
}

func BenchmarkParseListParams(b *testing.B) {
	pairs := [][2]string{{"q", "name:foo"}, {"page", "2"}, {"results-per-page", "100"}, {"order-direction", "desc"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseListParams(pairs, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// A single resource's GET checks the integers and the inline depth only
// (CC's CommonParams and ObjectRenderer); what only lists check passes.
func TestParseObjectParams(t *testing.T) {
	t.Parallel()
	for raw, wantErr := range map[string]string{
		"results-per-page=101":           "",
		"page=0":                         "",
		"results-per-page=0":             "",
		"order-direction=up":             "",
		"inline-relations-depth=2":       "",
		"inline-relations-depth=3":       "inline_relations_depth must be <= 2",
		"page=abc":                       "An unknown error occurred.",
		"inline-relations-depth=2.0":     "An unknown error occurred.",
		"orphan-relations=1&page=-5&q=x": "",
	} {
		lp, err := ParseObjectParams(testQueryPairs(t, raw), 2)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", raw, err)
		case wantErr != "" && (err == nil || !strings.HasSuffix(err.(*Error).Description, wantErr)):
			t.Errorf("%s: %v, want %q", raw, err, wantErr)
		}
		if _, lerr := ParseListParams(testQueryPairs(t, raw), 2); wantErr == "" && raw != "inline-relations-depth=2" && lerr == nil {
			t.Errorf("%s: a list refuses it, the test means nothing", raw)
		}
		if raw == "inline-relations-depth=2" && (lp.InlineRelationsDepth != 2 || !lp.HasDepth) {
			t.Errorf("depth not read: %+v", lp)
		}
	}
}
