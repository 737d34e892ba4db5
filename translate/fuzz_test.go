package translate

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseQ checks that ParseQ never panics, fails only with a 400
// BadQueryParameter, and yields well-formed filters on allowed keys.
// Several q values are separated by "\n" in the input.
func FuzzParseQ(f *testing.F) {
	for _, s := range []string{
		"name:foo", "name IN a,b,c", "name>=a;;b", "space_guid>x;diego:t", ";", ";;", ";name:a",
		"name", ":", " IN ", "name IN ", "name:a\nname:b", "name<>=:", "stack_guid IN ,,",
		"name:a;;;organization_guid:o", "diego IN t,f\nname<=z", "\xff:\x00",
	} {
		f.Add(s)
	}
	keys := AppQueryKeys()
	f.Fuzz(func(t *testing.T, in string) {
		qs := strings.Split(in, "\n")
		fs, err := ParseQ(qs, keys)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Name != "BadQueryParameter" {
				t.Fatalf("ParseQ(%q) error = %v, want BadQueryParameter", qs, err)
			}
			if fs != nil {
				t.Fatalf("ParseQ(%q) returned filters with an error", qs)
			}
			return
		}
		for _, fl := range fs {
			if fl.Key == "" || !keyAllowed(keys, fl.Key) {
				t.Fatalf("ParseQ(%q) gave key %q", qs, fl.Key)
			}
			switch fl.Op {
			case OpEq, OpGe, OpLe, OpLt, OpGt:
				if len(fl.Values) != 1 {
					t.Fatalf("ParseQ(%q) gave %d values for %q", qs, len(fl.Values), fl.Op)
				}
			case OpIn:
				if fl.Values == nil {
					t.Fatalf("ParseQ(%q) gave nil IN values", qs)
				}
				for _, v := range fl.Values {
					if strings.Contains(v, ",") {
						t.Fatalf("ParseQ(%q) gave IN value %q with a comma", qs, v)
					}
				}
			default:
				t.Fatalf("ParseQ(%q) gave operator %q", qs, fl.Op)
			}
		}
		// No segment is lost or invented: segments with a
		// separator between them cannot exceed the separators + 1.
		if seps := strings.Count(strings.ReplaceAll(in, ";;", ""), ";") + strings.Count(in, "\n"); len(fs) > seps+1 {
			t.Fatalf("ParseQ(%q) gave %d filters from %d separators", qs, len(fs), seps)
		}
		q := AppQueryFromFilters(fs)
		for _, set := range [][]string{q.Names, q.SpaceGUIDs, q.OrgGUIDs, q.StackGUIDs} {
			for _, v := range set {
				if v == "" {
					t.Fatalf("AppQueryFromFilters(%q) kept an empty value", qs)
				}
			}
			if set != nil && len(set) == 0 && !q.Empty {
				t.Fatalf("AppQueryFromFilters(%q) has an empty set but is not Empty", qs)
			}
		}
		for _, l := range q.Local {
			if l.Key != "name" || l.Op == OpEq || l.Op == OpIn {
				t.Fatalf("AppQueryFromFilters(%q) made %v local", qs, l)
			}
		}
		_ = q.Match(in)
	})
}

// FuzzParseListParams checks that ParseListParams never panics, that what
// it accepts is in range, and that ListURL's output parses back to the same
// parameters (so following next_url repeats the query).
func FuzzParseListParams(f *testing.F) {
	for _, s := range []string{
		"", "page=2&results-per-page=10", "q=name%20IN%20a,b&q=name%3E%3Dx", "inline-relations-depth=1&orphan-relations=1",
		"include-relations=a,,b,&exclude-relations=", "order-direction=desc&order-by=name", "page=0x10&results-per-page=0b11",
		"page=%20%2B1_0%20", "q=%3B%3B%26%2B%25%C3%A9%00", "page=99999999999999999999", "order-direction=ASC",
		"q=a+b&q=&q=%FF", "orphan-relations=-9223372036854775808&inline-relations-depth=-5",
	} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, raw string, total int) {
		pairs, err := decodeTestQuery(raw)
		if err != nil {
			return
		}
		lp, err := ParseListParams(pairs, 2)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 500) {
				t.Fatalf("ParseListParams(%q) error = %v", raw, err)
			}
			return
		}
		if lp.Page < 1 || lp.ResultsPerPage < 1 || lp.ResultsPerPage > 100 || lp.InlineRelationsDepth > 2 ||
			(lp.OrderDirection != "asc" && lp.OrderDirection != "desc") || lp.Offset() < 0 {
			t.Fatalf("ParseListParams(%q) accepted %#v", raw, lp)
		}
		u := lp.ListURL("/v2/apps", lp.Page)
		path, query, ok := strings.Cut(u, "?")
		if !ok || path != "/v2/apps" {
			t.Fatalf("ListURL = %q", u)
		}
		for i := 0; i < len(query); i++ {
			if c := query[i]; c != '&' && c != '%' && !literalInQuery(c) {
				t.Fatalf("ListURL(%q) = %q has raw byte %q", raw, u, c)
			}
		}
		back, err := decodeTestQuery(query)
		if err != nil {
			t.Fatalf("ListURL(%q) = %q does not decode: %v", raw, u, err)
		}
		lp2, err := ParseListParams(back, 2)
		if err != nil {
			t.Fatalf("ListURL(%q) = %q does not parse: %v", raw, u, err)
		}
		if !reflect.DeepEqual(lp, lp2) {
			t.Fatalf("round trip of %q through %q:\n %#v\n %#v", raw, u, lp, lp2)
		}
		p := Paginate(lp, "/v2/apps", total)
		if p.TotalPages < 1 || (p.PrevURL != nil) != (lp.Page > 1) || (p.NextURL != nil) != (lp.Page < p.TotalPages) {
			t.Fatalf("Paginate(%#v, %d) = %+v", lp, total, p)
		}
	})
}
