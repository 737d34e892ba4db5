package cache

import (
	"testing"
)

func TestKeyNormalisation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b Key
		same bool
	}{
		{"parameter order", Key{Query: "page=2&results-per-page=50"}, Key{Query: "results-per-page=50&page=2"}, true},
		{"percent-encoding of the query", Key{Query: "q=name%3Amy-app"}, Key{Query: "q=name:my-app"}, true},
		{"hex case", Key{Query: "q=name%3amy%2Capp"}, Key{Query: "q=name%3Amy%2capp"}, true},
		{"plus is a space", Key{Query: "q=name:a+b"}, Key{Query: "q=name:a%20b"}, true},
		{"encoded name", Key{Query: "order%2Ddirection=asc"}, Key{Query: "order-direction=asc"}, true},
		{"empty parameters", Key{Query: "&page=1&&"}, Key{Query: "page=1"}, true},
		{"repeated names keep their order", Key{Query: "q=a:1&page=1&q=b:2"}, Key{Query: "page=1&q=a:1&q=b:2"}, true},
		{"repeated names in another order", Key{Query: "q=a:1&q=b:2"}, Key{Query: "q=b:2&q=a:1"}, false},
		{"semicolon is not a separator", Key{Query: "q=a:1;b:2"}, Key{Query: "q=a:1&q=b:2"}, false},
		{"encoded ampersand stays in the value", Key{Query: "q=a%26b=c"}, Key{Query: "q=a&b=c"}, false},
		{"name without = differs from empty value", Key{Query: "a"}, Key{Query: "a="}, false},
		{"different values", Key{Query: "page=1"}, Key{Query: "page=2"}, false},
		{"malformed escape is not its literal form", Key{Query: "q=%zz"}, Key{Query: "q=%25zz"}, false},
		{"malformed escape is itself", Key{Query: "q=%zz&a=1"}, Key{Query: "a=1&q=%zz"}, true},
		{"path unreserved escape", Key{Path: "/v2/apps/%61bc"}, Key{Path: "/v2/apps/abc"}, true},
		{"path hex case", Key{Path: "/v2/a%2fb"}, Key{Path: "/v2/a%2Fb"}, true},
		{"path escaped slash is not a slash", Key{Path: "/v2/a%2Fb"}, Key{Path: "/v2/a/b"}, false},
		{"path is case-sensitive", Key{Path: "/v2/apps/ABC"}, Key{Path: "/v2/apps/abc"}, false},
		{"path and query do not run together", Key{Path: "/v2/apps?page=1"}, Key{Path: "/v2/apps", Query: "page=1"}, false},
		{"route", Key{Route: "/v2/apps"}, Key{Route: "/v2/spaces"}, false},
		{"who", Key{Who: "user-1"}, Key{Who: "user-2"}, false},
		{"who and route do not run together", Key{Route: "ab", Who: "c"}, Key{Route: "a", Who: "bc"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &genView{epoch: "e", gens: map[string]uint64{"apps": 1}}
			ka, kb := sum(&tc.a, []string{"apps"}, v), sum(&tc.b, []string{"apps"}, v)
			if (ka == kb) != tc.same {
				t.Errorf("same key = %v, want %v", ka == kb, tc.same)
			}
		})
	}
}

func TestKeyDependsOnGenerations(t *testing.T) {
	t.Parallel()
	k := Key{Route: "/v2/apps", Path: "/v2/apps", Who: "global"}
	base := sum(&k, []string{"apps", "spaces"}, &genView{epoch: "e", gens: map[string]uint64{"apps": 1, "spaces": 2}})
	for name, v := range map[string]*genView{
		"another generation": {epoch: "e", gens: map[string]uint64{"apps": 2, "spaces": 2}},
		"another epoch":      {epoch: "f", gens: map[string]uint64{"apps": 1, "spaces": 2}},
	} {
		if sum(&k, []string{"apps", "spaces"}, v) == base {
			t.Errorf("%s gave the same key", name)
		}
	}
	// A generation of a topic the entry does not depend on does not matter.
	if sum(&k, []string{"apps", "spaces"}, &genView{epoch: "e", gens: map[string]uint64{"apps": 1, "spaces": 2, "stacks": 9}}) != base {
		t.Error("an unrelated topic changed the key")
	}
}

func TestNormTopics(t *testing.T) {
	t.Parallel()
	in := []string{"apps", "spaces"}
	out, err := normTopics(in)
	if err != nil || &out[0] != &in[0] {
		t.Errorf("a sorted list was copied: %v", err)
	}
	out, err = normTopics([]string{"spaces", "apps", "spaces"})
	if err != nil || len(out) != 2 || out[0] != "apps" || out[1] != "spaces" {
		t.Errorf("%v %v", out, err)
	}
	for _, bad := range []string{"", "a b", "a\nb", string(make([]byte, 129))} {
		if _, err := normTopics([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNormalQueryIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"b=2&a=1&a=0", "q=name%3Ax+y&q=%21", "a&a=&=x", "x=%E2%9C%93"} {
		once, _, _ := appendNormalQuery(nil, q, nil, nil)
		twice, _, _ := appendNormalQuery(nil, string(once), nil, nil)
		if string(once) != string(twice) {
			t.Errorf("%q → %q → %q", q, once, twice)
		}
	}
}

func FuzzNormalQuery(f *testing.F) {
	for _, s := range []string{"page=2&results-per-page=50", "q=name%3Aa+b", "q=%zz&&a", "a=%", "=&="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		once, _, _ := appendNormalQuery(nil, q, nil, nil)
		if !validEscapes(q) {
			// Kept raw behind "!": distinct, not canonical.
			return
		}
		twice, _, _ := appendNormalQuery(nil, string(once), nil, nil)
		if string(once) != string(twice) {
			t.Fatalf("not idempotent: %q → %q → %q", q, once, twice)
		}
	})
}
