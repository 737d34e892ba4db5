package translate

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func f1(key string, op Op, v string) Filter { return Filter{Key: key, Op: op, Values: []string{v}} }

func fin(key string, vs ...string) Filter {
	if vs == nil {
		vs = []string{}
	}
	return Filter{Key: key, Op: OpIn, Values: vs}
}

func TestParseQ(t *testing.T) {
	t.Parallel()
	apps := AppQueryKeys()
	tests := []struct {
		name    string
		qs      []string
		want    []Filter
		wantErr string // the error's Description; "" for success
	}{
		{name: "none", qs: nil, want: nil},
		{name: "colon is equals", qs: []string{"name:foo"}, want: []Filter{f1("name", OpEq, "foo")}},
		{name: "greater or equal", qs: []string{"name>=foo"}, want: []Filter{f1("name", OpGe, "foo")}},
		{name: "less or equal", qs: []string{"name<=foo"}, want: []Filter{f1("name", OpLe, "foo")}},
		{name: "less", qs: []string{"name<foo"}, want: []Filter{f1("name", OpLt, "foo")}},
		{name: "greater", qs: []string{"name>foo"}, want: []Filter{f1("name", OpGt, "foo")}},
		{name: "IN", qs: []string{"name IN a,b,c"}, want: []Filter{fin("name", "a", "b", "c")}},
		{name: "leftmost operator wins", qs: []string{"name:a>b"}, want: []Filter{f1("name", OpEq, "a>b")}},
		{name: "leftmost over later colon", qs: []string{"name>=a:b"}, want: []Filter{f1("name", OpGe, "a:b")}},
		{name: "> then >", qs: []string{"name>>"}, want: []Filter{f1("name", OpGt, ">")}},
		{name: "< not <= before >", qs: []string{"name<>a"}, want: []Filter{f1("name", OpLt, ">a")}},
		{name: "colon before IN", qs: []string{"name:x IN y"}, want: []Filter{f1("name", OpEq, "x IN y")}},
		{name: "IN before colon", qs: []string{"name IN a:b,c"}, want: []Filter{fin("name", "a:b", "c")}},
		{name: "less before IN", qs: []string{"name<x IN y"}, want: []Filter{f1("name", OpLt, "x IN y")}},
		{name: "value may be an operator", qs: []string{"name:>="}, want: []Filter{f1("name", OpEq, ">=")}},
		{name: "empty value", qs: []string{"name:"}, want: []Filter{f1("name", OpEq, "")}},
		{name: "empty value after >=", qs: []string{"name>="}, want: []Filter{f1("name", OpGe, "")}},
		{name: "IN keeps inner empties, drops trailing", qs: []string{"name IN ,a,,b,,"}, want: []Filter{fin("name", "", "a", "", "b")}},
		{name: "IN with nothing", qs: []string{"name IN "}, want: []Filter{fin("name")}},
		{name: "IN with only commas", qs: []string{"name IN ,,"}, want: []Filter{fin("name")}},
		{name: "IN value keeps spaces", qs: []string{"name IN a b, c"}, want: []Filter{fin("name", "a b", " c")}},
		{name: "segments AND", qs: []string{"name:a;space_guid:s"}, want: []Filter{f1("name", OpEq, "a"), f1("space_guid", OpEq, "s")}},
		{name: "escaped semicolon", qs: []string{"name:a;;b"}, want: []Filter{f1("name", OpEq, "a;b")}},
		{name: "escape then separator", qs: []string{"name:a;;;space_guid:s"}, want: []Filter{f1("name", OpEq, "a;"), f1("space_guid", OpEq, "s")}},
		{name: "two escapes", qs: []string{"name:a;;;;b"}, want: []Filter{f1("name", OpEq, "a;;b")}},
		{name: "escaped semicolon in IN", qs: []string{"name IN a;;b,c"}, want: []Filter{fin("name", "a;b", "c")}},
		{name: "trailing separator dropped", qs: []string{"name:a;"}, want: []Filter{f1("name", OpEq, "a")}},
		{name: "only a separator", qs: []string{";"}, want: nil},
		{name: "empty q", qs: []string{""}, want: nil},
		{name: "leading separator is an empty key", qs: []string{";name:a"}, wantErr: "The query parameter is invalid: "},
		{name: "odd run of semicolons", qs: []string{"name:a;;;;;space_guid:b"}, want: []Filter{f1("name", OpEq, "a;;"), f1("space_guid", OpEq, "b")}},
		{name: "repeated q in order", qs: []string{"name:a", "space_guid:s", "name:b"}, want: []Filter{f1("name", OpEq, "a"), f1("space_guid", OpEq, "s"), f1("name", OpEq, "b")}},
		{name: "repeated key kept", qs: []string{"name:a;name:b"}, want: []Filter{f1("name", OpEq, "a"), f1("name", OpEq, "b")}},
		{name: "guid key keeps its operator", qs: []string{"space_guid>x"}, want: []Filter{f1("space_guid", OpGt, "x")}},
		{name: "guid IN", qs: []string{"organization_guid IN o1,o2"}, want: []Filter{fin("organization_guid", "o1", "o2")}},
		{name: "all app keys", qs: []string{"diego:true;stack_guid:st"}, want: []Filter{f1("diego", OpEq, "true"), f1("stack_guid", OpEq, "st")}},
		{name: "utf-8 value", qs: []string{"name:café"}, want: []Filter{f1("name", OpEq, "café")}},
		{name: "unknown key", qs: []string{"foo:bar"}, wantErr: "The query parameter is invalid: foo"},
		{name: "unknown key after a good segment", qs: []string{"name:a;guid:b"}, wantErr: "The query parameter is invalid: guid"},
		{name: "unknown key in a later q", qs: []string{"name:a", "state:STARTED"}, wantErr: "The query parameter is invalid: state"},
		{name: "keys are case-sensitive", qs: []string{"Name:foo"}, wantErr: "The query parameter is invalid: Name"},
		{name: "key with a space", qs: []string{"name :foo"}, wantErr: "The query parameter is invalid: name "},
		{name: "empty key", qs: []string{":foo"}, wantErr: "The query parameter is invalid: "},
		{name: "empty key before IN", qs: []string{" IN a"}, wantErr: "The query parameter is invalid: "},
		{name: "lower-case in is no operator", qs: []string{"name in a,b"}, wantErr: "The query parameter is invalid: name in a,b"},
		{name: "no operator, allowed key", qs: []string{"name"}, wantErr: "The query parameter is invalid: name"},
		{name: "IN needs both spaces", qs: []string{"name INa"}, wantErr: "The query parameter is invalid: name INa"},
		{name: "only escaped semicolon", qs: []string{";;"}, wantErr: "The query parameter is invalid: ;"},
		{name: "equals sign is no operator", qs: []string{"name=foo"}, wantErr: "The query parameter is invalid: name=foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQ(tt.qs, apps)
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("ParseQ(%q) error = %v, want *Error", tt.qs, err)
				}
				if e.Status != 400 || e.Code != 10005 || e.Name != "BadQueryParameter" || e.Description != tt.wantErr {
					t.Errorf("ParseQ(%q) error = %+v, want 400 BadQueryParameter %q", tt.qs, e, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ParseQ(%q) filters = %v with an error", tt.qs, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseQ(%q) error = %v", tt.qs, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseQ(%q) = %#v, want %#v", tt.qs, got, tt.want)
			}
		})
	}
}

func TestParseQAllowedList(t *testing.T) {
	t.Parallel()
	if _, err := ParseQ([]string{"name:a"}, nil); err == nil {
		t.Error("ParseQ with no allowed keys accepted name")
	}
	got, err := ParseQ([]string{"timestamp>=2020"}, []string{"timestamp", "type"})
	if err != nil || !reflect.DeepEqual(got, []Filter{f1("timestamp", OpGe, "2020")}) {
		t.Errorf("ParseQ(events) = %v, %v", got, err)
	}
}

func TestQueryFilterForeignKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"space_guid": true, "organization_guid": true, "stack_guid": true,
		"name": false, "diego": false, "guid": false, "_guid": false, "space_guidx": false,
	} {
		if got := (Filter{Key: key}).ForeignKey(); got != want {
			t.Errorf("Filter{Key: %q}.ForeignKey() = %v, want %v", key, got, want)
		}
	}
}

func TestAppQueryFromFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    []string
		want AppQuery
	}{
		{name: "no filter", q: nil, want: AppQuery{}},
		{name: "name:X", q: []string{"name:foo"}, want: AppQuery{Names: []string{"foo"}}},
		{name: "name with comma stays one value", q: []string{"name:a,b"}, want: AppQuery{Names: []string{"a,b"}}},
		{name: "name IN", q: []string{"name IN a,b"}, want: AppQuery{Names: []string{"a", "b"}}},
		{name: "name IN drops empties and duplicates", q: []string{"name IN a,,A,b"}, want: AppQuery{Names: []string{"a", "b"}}},
		{name: "name IN nothing", q: []string{"name IN "}, want: AppQuery{Names: []string{}, Empty: true}},
		{name: "empty name", q: []string{"name:"}, want: AppQuery{Names: []string{}, Empty: true}},
		{name: "name >= is local", q: []string{"name>=m"}, want: AppQuery{Local: []Filter{f1("name", OpGe, "m")}}},
		{name: "name < > <= are local", q: []string{"name<z;name>a;name<=y"}, want: AppQuery{Local: []Filter{f1("name", OpLt, "z"), f1("name", OpGt, "a"), f1("name", OpLe, "y")}}},
		{name: "space_guid", q: []string{"space_guid:s1"}, want: AppQuery{SpaceGUIDs: []string{"s1"}}},
		{name: "space_guid ignores >", q: []string{"space_guid>s1"}, want: AppQuery{SpaceGUIDs: []string{"s1"}}},
		{name: "space_guid ignores <=, value with comma", q: []string{"space_guid<=s1,s2"}, want: AppQuery{SpaceGUIDs: []string{"s1,s2"}}},
		{name: "space_guid IN", q: []string{"space_guid IN s1,s2"}, want: AppQuery{SpaceGUIDs: []string{"s1", "s2"}}},
		{name: "organization_guid", q: []string{"organization_guid>=o1"}, want: AppQuery{OrgGUIDs: []string{"o1"}}},
		{name: "stack_guid stays a guid", q: []string{"stack_guid IN st1,st2"}, want: AppQuery{StackGUIDs: []string{"st1", "st2"}}},
		{name: "empty guid", q: []string{"stack_guid:"}, want: AppQuery{StackGUIDs: []string{}, Empty: true}},
		{name: "diego:true", q: []string{"diego:true"}, want: AppQuery{}},
		{name: "diego:t", q: []string{"diego:t"}, want: AppQuery{}},
		{name: "diego:false", q: []string{"diego:false"}, want: AppQuery{Empty: true}},
		{name: "diego:TRUE is false", q: []string{"diego:TRUE"}, want: AppQuery{Empty: true}},
		{name: "diego:", q: []string{"diego:"}, want: AppQuery{Empty: true}},
		{name: "diego IN f,t", q: []string{"diego IN f,t"}, want: AppQuery{}},
		{name: "diego IN f", q: []string{"diego IN f"}, want: AppQuery{Empty: true}},
		{name: "diego>=false matches all", q: []string{"diego>=false"}, want: AppQuery{}},
		{name: "diego>false matches all", q: []string{"diego>false"}, want: AppQuery{}},
		{name: "diego>true matches none", q: []string{"diego>true"}, want: AppQuery{Empty: true}},
		{name: "diego<true matches none", q: []string{"diego<true"}, want: AppQuery{Empty: true}},
		{name: "diego<=t matches all", q: []string{"diego<=t"}, want: AppQuery{}},
		{name: "diego<=f matches none", q: []string{"diego<=f"}, want: AppQuery{Empty: true}},
		{name: "repeated name intersects", q: []string{"name IN a,b,c", "name IN b,c,d"}, want: AppQuery{Names: []string{"b", "c"}}},
		{name: "repeated name intersects case-insensitively", q: []string{"name:Foo;name:fOO"}, want: AppQuery{Names: []string{"Foo"}}},
		{name: "disjoint names", q: []string{"name:a;name:b"}, want: AppQuery{Names: []string{}, Empty: true}},
		{name: "repeated space_guid intersects exactly", q: []string{"space_guid IN s1,s2;space_guid:s2"}, want: AppQuery{SpaceGUIDs: []string{"s2"}}},
		{name: "guids are case-sensitive", q: []string{"space_guid:S1;space_guid:s1"}, want: AppQuery{SpaceGUIDs: []string{}, Empty: true}},
		{name: "disjoint org guids", q: []string{"organization_guid:o1", "organization_guid:o2"}, want: AppQuery{OrgGUIDs: []string{}, Empty: true}},
		{name: "name and local that it passes", q: []string{"name:foo;name>a"}, want: AppQuery{Names: []string{"foo"}, Local: []Filter{f1("name", OpGt, "a")}}},
		{name: "name and local that it fails", q: []string{"name IN foo,Bar;name<c"}, want: AppQuery{Names: []string{"Bar"}, Local: []Filter{f1("name", OpLt, "c")}}},
		{name: "name and local that none passes", q: []string{"name:foo;name<c"}, want: AppQuery{Names: []string{}, Empty: true, Local: []Filter{f1("name", OpLt, "c")}}},
		{name: "everything", q: []string{"name:a;space_guid:s;organization_guid:o;stack_guid:st;diego:t"},
			want: AppQuery{Names: []string{"a"}, SpaceGUIDs: []string{"s"}, OrgGUIDs: []string{"o"}, StackGUIDs: []string{"st"}}},
		{name: "one empty set empties all", q: []string{"name:a;space_guid IN "}, want: AppQuery{Names: []string{"a"}, SpaceGUIDs: []string{}, Empty: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs, err := ParseQ(tt.q, AppQueryKeys())
			if err != nil {
				t.Fatalf("ParseQ(%q): %v", tt.q, err)
			}
			got := AppQueryFromFilters(fs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AppQueryFromFilters(%q) =\n %#v, want\n %#v", tt.q, got, tt.want)
			}
		})
	}
}

func TestAppQueryFromFiltersIgnoresOtherKeys(t *testing.T) {
	t.Parallel()
	got := AppQueryFromFilters([]Filter{f1("state", OpEq, "STARTED")})
	if !reflect.DeepEqual(got, AppQuery{}) {
		t.Errorf("AppQueryFromFilters(state) = %#v, want the zero AppQuery", got)
	}
}

func TestAppQueryMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q     []string
		name  string
		match bool
	}{
		{nil, "anything", true},
		{[]string{"name>=m"}, "m", true},
		{[]string{"name>=m"}, "M", true},
		{[]string{"name>=M"}, "m", true},
		{[]string{"name>=m"}, "L", false},
		{[]string{"name>m"}, "m", false},
		{[]string{"name>m"}, "MA", true},
		{[]string{"name<m"}, "M", false},
		{[]string{"name<m"}, "Apple", true},
		{[]string{"name<=Apple"}, "aPPLE", true},
		{[]string{"name<=apple"}, "apples", false},
		{[]string{"name>a;name<c"}, "B", true},
		{[]string{"name>a;name<c"}, "C", false},
		{[]string{"name>a;name<c"}, "a", false},
		// An empty value: SQL's name >= '' holds for every name, name <= '' for none.
		{[]string{"name>="}, "x", true},
		{[]string{"name>"}, "x", true},
		{[]string{"name<="}, "x", false},
		{[]string{"name<"}, "x", false},
		// Lower-cased bytewise: "_" (0x5f) sorts before "a".
		{[]string{"name<a"}, "_x", true},
		// Empty query never matches.
		{[]string{"diego:false"}, "x", false},
		{[]string{"name:a;name:b"}, "a", false},
		// Pushed-down filters are not re-checked by Match.
		{[]string{"name:foo"}, "bar", true},
	}
	for _, tt := range tests {
		fs, err := ParseQ(tt.q, AppQueryKeys())
		if err != nil {
			t.Fatalf("ParseQ(%q): %v", tt.q, err)
		}
		if got := AppQueryFromFilters(fs).Match(tt.name); got != tt.match {
			t.Errorf("AppQuery(%q).Match(%q) = %v, want %v", tt.q, tt.name, got, tt.match)
		}
	}
}

func TestQueryMatchNameAllOps(t *testing.T) {
	t.Parallel()
	// matchName is also what Match uses for IN and = when a caller
	// builds Local by hand.
	tests := []struct {
		f     Filter
		name  string
		match bool
	}{
		{f1("name", OpEq, "FOO"), "foo", true},
		{f1("name", OpEq, "foo"), "fo", false},
		{fin("name", "a", "FOO"), "foo", true},
		{fin("name", "a", "b"), "foo", false},
		{fin("name", ""), "", false},
		{fin("name"), "foo", false},
		{Filter{Key: "name", Op: OpGe}, "foo", false},
	}
	for _, tt := range tests {
		q := AppQuery{Local: []Filter{tt.f}}
		if got := q.Match(tt.name); got != tt.match {
			t.Errorf("Match(%#v, %q) = %v, want %v", tt.f, tt.name, got, tt.match)
		}
	}
}

func BenchmarkParseQ(b *testing.B) {
	qs := []string{"name IN app-one,app-two,app-three", "space_guid:8a3f0c2e-5d1b-4c9e-9f7a-2b6d4e8c1a0f;organization_guid>=6c1e"}
	keys := AppQueryKeys()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseQ(qs, keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppQueryFromFilters(b *testing.B) {
	fs, err := ParseQ([]string{"name IN a,b,c;name:b", "space_guid:s;diego:true;name>a"}, AppQueryKeys())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = AppQueryFromFilters(fs)
	}
}

// TestIntersectValuesLinear: the names (or guids) of a q are deduplicated
// and intersected in time linear in their number: a 64 KiB URL holds some
// 13,000 names, and comparing each with every other one took seconds of
// CPU per request. Counted in allocations, not time: case folding
// allocates for each name that has an upper-case letter, once per name
// rather than once per pair. Not parallel: AllocsPerRun counts the
// process's allocations.
func TestIntersectValuesLinear(t *testing.T) {
	const n = 3000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("App-%04d", i)
	}
	allocs := testing.AllocsPerRun(1, func() {
		set := intersectValues(nil, names, true)
		intersectValues(set, names, true)
	})
	if allocs > 20*n {
		t.Errorf("two intersections of %d names took %.0f allocations, want at most %d", n, allocs, 20*n)
	}
	got := intersectValues(intersectValues(nil, []string{"B", "a", "b", "", "C", "A"}, true), []string{"c", "a", "A", "d"}, true)
	if want := []string{"C", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("intersection %q, want %q", got, want)
	}
}

// TestAppQueryNamesLocal: names that would not fit in an upstream URL are
// matched by the gateway over a scan of the other filters' matches,
// case-insensitively as v3 matches them, and only then.
func TestAppQueryNamesLocal(t *testing.T) {
	t.Parallel()
	few := AppQueryFromFilters([]Filter{fin("name", "a", "b")})
	few.NamesLocal(100)
	if few.Scan() || !reflect.DeepEqual(few.Names, []string{"a", "b"}) {
		t.Errorf("two names within the budget: Scan %v, Names %q", few.Scan(), few.Names)
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("App,%03d", i))
	}
	q := AppQueryFromFilters([]Filter{fin("name", many...), f1("name", OpGe, "app,050"), fin("space_guid", "s1")})
	q.NamesLocal(100)
	if !q.Scan() || q.Names != nil || !reflect.DeepEqual(q.SpaceGUIDs, []string{"s1"}) {
		t.Fatalf("100 names over the budget: Scan %v, Names %q, SpaceGUIDs %q", q.Scan(), q.Names, q.SpaceGUIDs)
	}
	for name, want := range map[string]bool{"app,060": true, "APP,099": true, "app,049": false, "app,100": false, "other": false} {
		if got := q.Match(name); got != want {
			t.Errorf("Match(%q) = %v, want %v", name, got, want)
		}
	}
	empty := AppQueryFromFilters([]Filter{fin("name")})
	empty.NamesLocal(0)
	if !empty.Empty {
		t.Error("no names at all still matches nothing")
	}
}
