package backend

import (
	"errors"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// wantBadQueryErr fails unless err is CC's 400 BadQueryParameter.
func wantBadQueryErr(t *testing.T, input string, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != 10005 {
		t.Fatalf("%q: error %v, want a 400 BadQueryParameter", input, err)
	}
}

// renderSelector writes requirements back as a label_selector.
func renderSelector(reqs []store.LabelReq) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		switch {
		case r.Op == store.LabelExists:
			parts[i] = r.Key
		case r.Op == store.LabelNotExists:
			parts[i] = "!" + r.Key
		case r.Op == store.LabelIn && len(r.Values) == 1:
			parts[i] = r.Key + "=" + r.Values[0]
		case r.Op == store.LabelNotIn && len(r.Values) == 1:
			parts[i] = r.Key + "!=" + r.Values[0]
		case r.Op == store.LabelIn:
			parts[i] = r.Key + " in (" + strings.Join(r.Values, ",") + ")"
		default:
			parts[i] = r.Key + " notin (" + strings.Join(r.Values, ",") + ")"
		}
	}
	return strings.Join(parts, ",")
}

// FuzzParseLabelSelector: any selector either parses into well-formed
// requirements, which read the same once written back, or is a 400.
func FuzzParseLabelSelector(f *testing.F) {
	for _, s := range []string{
		"env=prod", "env==prod", "env!=prod", "env in (prod,staging)", "env notin ( a , b )",
		"tier", "!tier", "env=prod,tier in (web,api),!legacy", "example.com/tier=frontend", "env=",
		"", " ", ",", "env in (a", "env in ()", "env in (a,,b)", "(", ")", "!", "=", "a=b=c", "a!=b!=c",
		"env in (a,b),", "a in (b) in (c)", "k notin (x),k in (y)", "en$v=prod", "a==", "!a=b",
		"a in (b),c notin (d)),e", "a in ((b))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sel string) {
		reqs, err := parseLabelSelector(sel)
		if err != nil {
			wantBadQueryErr(t, sel, err)
			return
		}
		if len(reqs) == 0 {
			t.Fatalf("%q: no requirement and no error", sel)
		}
		for _, r := range reqs {
			if !labelKey.MatchString(r.Key) {
				t.Fatalf("%q: key %q", sel, r.Key)
			}
			switch r.Op {
			case store.LabelExists, store.LabelNotExists:
				if len(r.Values) != 0 {
					t.Fatalf("%q: existence requirement with values %q", sel, r.Values)
				}
			case store.LabelIn, store.LabelNotIn:
				if len(r.Values) == 0 {
					t.Fatalf("%q: set requirement without values", sel)
				}
				for _, v := range r.Values {
					if strings.ContainsAny(v, " ()!=,") || (v == "" && len(r.Values) > 1) {
						t.Fatalf("%q: value %q", sel, v)
					}
				}
			default:
				t.Fatalf("%q: operator %d", sel, r.Op)
			}
		}
		again, err := parseLabelSelector(renderSelector(reqs))
		if err != nil || !reflect.DeepEqual(again, reqs) {
			t.Fatalf("%q parsed to %+v; written back as %q it parses to %+v, %v", sel, reqs, renderSelector(reqs), again, err)
		}
	})
}

// FuzzParseQueryPage: page() yields a usable page or a 400, and the
// pagination links built from any query follow the v3 rules and lead back
// to the same query.
func FuzzParseQueryPage(f *testing.F) {
	for _, s := range []string{
		"", "page=2&per_page=10&order_by=-name", "per_page=5000", "per_page=5001", "per_page=0", "page=0",
		"page=abc", "per_page=99999999999999999999", "page=99999999999999999999", "page=9223372036854775807&per_page=5000",
		"order_by=%2Bstate", "order_by=--name", "order_by=", "names=a%252Cb,c&page=3", "names=a,%20b", "names=",
		"label_selector=env%20in%20(a,b)", "created_ats[lt]=2024-01-01T00:00:00Z", "created_ats=", "created_ats[gt]=a,b",
		"%zz=1&a=%zz", "=x&&page=2", "page=1&page=2", "a=b=c", "pag%65=4", "include=space,space.organization",
	} {
		f.Add(s)
	}
	orders := []string{"created_at", "updated_at", "name", "state"}
	f.Fuzz(func(t *testing.T, qs string) {
		q := parseQuery([]byte(qs))
		// The other readers take anything without panicking.
		for _, k := range q.order {
			_ = q.list(k)
			_, _ = q.boolean(k)
		}
		if _, err := q.times("created_ats"); err != nil {
			wantBadQueryErr(t, qs, err)
		}
		if _, err := q.labels(); err != nil {
			wantBadQueryErr(t, qs, err)
		}
		p, err := q.page(orders...)
		if err != nil {
			wantBadQueryErr(t, qs, err)
			return
		}
		if p.Page < 1 || p.PerPage < 1 || p.PerPage > maxPerPage || (p.OrderBy != "" && !slices.Contains(orders, p.OrderBy)) {
			t.Fatalf("%q: page %+v", qs, p)
		}
		if p.Page-1 > math.MaxInt/p.PerPage {
			t.Fatalf("%q: page %d of %d overflows the offset", qs, p.Page, p.PerPage)
		}
		for _, total := range []int{0, 1, p.PerPage, 3*p.PerPage + 1} {
			pj := pagination(apiBase, "/v3/apps", q, p, total)
			pages := max(1, (total+p.PerPage-1)/p.PerPage)
			if pj.TotalResults != total || pj.TotalPages != pages {
				t.Fatalf("%q, %d results: totals %d, %d pages", qs, total, pj.TotalResults, pj.TotalPages)
			}
			if (pj.Next != nil) != (p.Page < pages) || (pj.Previous != nil) != (p.Page > 1) || pj.First == nil || pj.Last == nil {
				t.Fatalf("%q, %d results: links %+v", qs, total, pj)
			}
			for _, l := range []struct {
				link *link
				page int
			}{{pj.First, 1}, {pj.Last, pages}} {
				u, err := url.Parse(l.link.Href)
				if err != nil || u.Scheme+"://"+u.Host != apiBase || u.Path != "/v3/apps" {
					t.Fatalf("%q: href %q: %v", qs, l.link.Href, err)
				}
				back := parseQuery([]byte(u.RawQuery))
				bp, err := back.page(orders...)
				if err != nil || bp.Page != l.page || bp.PerPage != p.PerPage || bp.OrderBy != p.OrderBy || bp.Desc != p.Desc {
					t.Fatalf("%q: href %q reads as page %+v, %v", qs, l.link.Href, bp, err)
				}
				for _, k := range q.order {
					if k == "page" || k == "per_page" {
						continue
					}
					if back.str(k) != q.str(k) || !slices.Equal(back.list(k), q.list(k)) {
						t.Fatalf("%q: href %q changes %q from %q to %q", qs, l.link.Href, k, q.str(k), back.str(k))
					}
				}
				if !slices.IsSorted(back.order) {
					t.Fatalf("%q: href %q keys not sorted", qs, l.link.Href)
				}
			}
		}
	})
}

// serveDirect runs one request through the handler, without a connection.
func serveDirect(h fasthttp.RequestHandler, method, uri, token string, body []byte) int {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(apiBase + uri)
	req.Header.Set(fasthttp.HeaderAuthorization, "bearer "+token)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h(&ctx)
	return ctx.Response.StatusCode()
}

// FuzzHandler sends a fuzzed query string to the lists and a fuzzed JSON
// body to app creation and process update through the whole handler: no
// input may panic (the handler would answer 500) or get any other 5xx.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		query, body string
	}{
		{"", `{"name":"seed","relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}}}}`},
		{"names=a,b&order_by=-name&per_page=2&page=3", `{"command":"rackup","health_check":{"type":"http","data":{"endpoint":"/health","timeout":5}}}`},
		{"label_selector=env%20in%20(a,b),!x&include=space,space.organization", `{"metadata":{"labels":{"example.com/tier":"web"},"annotations":{"a":"b"}}}`},
		{"created_ats[gte]=2024-01-01T00:00:00Z&updated_ats=2024-01-01T00:00:00Z", `{"name":"d","relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}}},"lifecycle":{"type":"docker","data":{}}}`},
		{"stacks=cflinuxfs3&lifecycle_type=buildpack&space_guids=" + DemoSpaceGUID, `{"name":"e","relationships":{"space":{"guid":"` + DemoSpaceGUID + `"}},"environment_variables":{"A":null,"B":{"c":[1]}}}`},
		{"page=99999999999999999999&per_page=5000", `{"health_check":{"type":"port","data":{"invocation_timeout":99999999999}}}`},
		{"guids=&names=&organization_guids=", `[]`},
		{"%zz", `{"name":`},
		{"label_selector=", `null`},
		// A crasher this fuzzer found: an empty timestamp filter (here a
		// key without "=") once built "()" into the SQL and answered 500.
		{"updated_ats", `0`},
		{"created_ats=", `{}`},
		{"updated_ats[lt]=", `{"command":null}`},
		{"created_ats=2024-01-01T00:00:00Z,", `{"command":""}`},
	}
	for _, s := range seeds {
		f.Add(s.query, []byte(s.body))
	}
	c := startCF(f, nil)
	proc := c.createApp("developer", "fuzz-target", nil)
	h, token := c.srv.Handler(), c.tokens["developer"]
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		for _, r := range []struct {
			method, uri string
			body        []byte
		}{
			{"GET", "/v3/apps?" + query, nil},
			{"GET", "/v3/processes?" + query, nil},
			{"GET", "/v3/audit_events?" + query, nil},
			{"POST", "/v3/apps", body},
			{"PATCH", "/v3/processes/" + proc, body},
			{"POST", "/v3/processes/" + proc + "/actions/scale", body},
		} {
			if status := serveDirect(h, r.method, r.uri, token, r.body); status >= 500 {
				t.Fatalf("%s %s with %q: status %d", r.method, r.uri, r.body, status)
			}
		}
	})
}
