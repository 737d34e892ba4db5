package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	o := Options{TimeSkew: 2 * time.Second, Ignore: []string{"resources[].entity.detected_buildpack_guid"}}
	cases := []struct {
		name       string
		native, tr string
		status     [2]int
		want       []Difference
	}{
		{name: "same", native: `{"a":1,"b":[1,2]}`, tr: `{"a":1,"b":[1,2]}`},
		{name: "whitespace and number forms", native: "{\n  \"a\": 1.0,\n  \"b\": 1e2\n}", tr: `{"a":1,"b":100}`},
		{name: "times within the skew", native: `{"updated_at":"2026-12-07T10:00:00Z"}`, tr: `{"updated_at":"2026-12-07T10:00:02Z"}`},
		{name: "times past the skew", native: `{"updated_at":"2026-12-07T10:00:00Z"}`, tr: `{"updated_at":"2026-12-07T10:00:03Z"}`,
			want: []Difference{{KindValue, "updated_at", `"2026-12-07T10:00:00Z"`, `"2026-12-07T10:00:03Z"`}}},
		{name: "an instance's since and uptime read a moment apart", native: `{"0":{"since":1796694623.2168608,"uptime":4}}`,
			tr: `{"0":{"since":1796694624.7373552,"uptime":5}}`},
		{name: "since past the skew", native: `{"0":{"since":1796694623.2}}`, tr: `{"0":{"since":1796694626.3}}`,
			want: []Difference{{KindValue, "0.since", "1796694623.2", "1796694626.3"}}},
		{name: "seconds against milliseconds", native: `{"0":{"since":1796694623}}`, tr: `{"0":{"since":1796694623000}}`,
			want: []Difference{{KindValue, "0.since", "1796694623", "1796694623000"}}},
		{name: "uptime far apart", native: `{"uptime":0}`, tr: `{"uptime":1e10}`,
			want: []Difference{{KindValue, "uptime", "0", "1e10"}}},
		{name: "not UTF-8 is U+FFFD", native: "{\"a\":\"\xff\"}", tr: `{"a":"\ufffd"}`},
		{name: "other numbers are not times", native: `{"memory":1024}`, tr: `{"memory":1025}`,
			want: []Difference{{KindValue, "memory", "1024", "1025"}}},
		{name: "stats usage times", native: `{"time":"2014-06-19 22:37:58 +0000"}`, tr: `{"time":"2014-06-19 22:37:59 +0000"}`},
		{name: "stats usage times past the skew", native: `{"time":"2014-06-19 22:37:58 +0000"}`, tr: `{"time":"2014-06-19 22:38:58 +0000"}`,
			want: []Difference{{KindValue, "time", `"2014-06-19 22:37:58 +0000"`, `"2014-06-19 22:38:58 +0000"`}}},
		{name: "next_url in another order", native: `{"next_url":"/v2/apps?page=2&results-per-page=1&order-direction=asc"}`,
			tr: `{"next_url":"/v2/apps?order-direction=asc&results-per-page=1&page=2"}`},
		{name: "next_url to another page", native: `{"next_url":"/v2/apps?page=2"}`, tr: `{"next_url":"/v2/apps?page=3"}`,
			want: []Difference{{KindValue, "next_url", `"/v2/apps?page=2"`, `"/v2/apps?page=3"`}}},
		{name: "other strings are not URLs", native: `{"name":"/a?x=1&y=2"}`, tr: `{"name":"/a?y=2&x=1"}`,
			want: []Difference{{KindValue, "name", `"/a?x=1\u0026y=2"`, `"/a?y=2\u0026x=1"`}}},
		{name: "ignored path", native: `{"resources":[{"entity":{"detected_buildpack_guid":"x","n":1}}]}`,
			tr: `{"resources":[{"entity":{"n":1}}]}`},
		{name: "nested paths", native: `{"resources":[{"entity":{"n":1}},{"entity":{"n":2,"m":true}}]}`,
			tr:   `{"resources":[{"entity":{"n":1}},{"entity":{"m":true,"n":3}}]}`,
			want: []Difference{{KindOrder, "resources[1].entity", "n,m", "m,n"}, {KindValue, "resources[1].entity.n", "2", "3"}}},
		{name: "list lengths", native: `{"r":[1,2]}`, tr: `{"r":[1]}`, want: []Difference{{KindValue, "r", "[1,2]", "[1]"}}},
		{name: "types", native: `{"r":null}`, tr: `{"r":{}}`, want: []Difference{{KindValue, "r", "null", "{}"}}},
		{name: "status", native: `{}`, tr: `{}`, status: [2]int{404, 200}, want: []Difference{{KindStatus, "", "404", "200"}}},
		{name: "not JSON", native: "ok\n", tr: "ok", want: nil},
		{name: "not JSON, different", native: "ok", tr: "no", want: []Difference{{KindValue, "", "ok", "no"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := c.status
			if st == [2]int{} {
				st = [2]int{200, 200}
			}
			got := Compare(Answer{st[0], []byte(c.native)}, Answer{st[1], []byte(c.tr)}, o)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestStoreBounds(t *testing.T) {
	s := NewStore(2)
	for i := range 5 {
		s.Differed("/v2/apps", Sample{Request: fmt.Sprint(i), Differences: []Difference{{Kind: KindValue, Path: fmt.Sprintf("resources[%d].entity.name", i)}}})
	}
	s.Count("/v2/apps", Match)
	rep := s.Report()
	if len(rep) != 1 || rep[0].Differ != 5 || rep[0].Match != 1 || len(rep[0].Last) != 2 || rep[0].Last[0].Request != "4" {
		t.Fatalf("report %+v", rep)
	}
	if p := rep[0].Paths; len(p) != 1 || p[0].Path != "resources[].entity.name" || p[0].Count != 5 {
		t.Errorf("paths %+v", p)
	}
}

// page50 is a v2 list page of 50 recorded apps, as a 50-app /v2/apps
// page comes.
func page50(b *testing.B) []byte {
	app, err := os.ReadFile("testdata/app.json")
	if err != nil {
		b.Fatal(err)
	}
	var page bytes.Buffer
	page.WriteString(`{"total_results":50,"total_pages":1,"prev_url":null,"next_url":null,"resources":[`)
	for i := range 50 {
		if i > 0 {
			page.WriteByte(',')
		}
		page.Write(app)
	}
	page.WriteString("]}")
	return page.Bytes()
}

// BenchmarkCompareIgnoring is BenchmarkCompare with shadow.ignore paths
// set, as the README advises for some foundations.
func BenchmarkCompareIgnoring(b *testing.B) {
	body := page50(b)
	a := Answer{Status: 200, Body: body}
	o := Options{TimeSkew: time.Second, Ignore: []string{"application_env_json.VCAP_APPLICATION.cf_api", "[].stats.usage",
		"entity.default_space_guid", "entity.default_space_url", "resources[].entity.detected_buildpack_guid"}}
	b.SetBytes(int64(2 * len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if d := Compare(a, a, o); len(d) != 0 {
			b.Fatal(d)
		}
	}
}

// BenchmarkCompare compares a 50-app page with itself: the CPU a
// comparison of the most common shadowed read costs, besides its
// translation.
func BenchmarkCompare(b *testing.B) {
	body := page50(b)
	a := Answer{Status: 200, Body: body}
	b.SetBytes(int64(2 * len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if d := Compare(a, a, Options{TimeSkew: time.Second}); len(d) != 0 {
			b.Fatal(d)
		}
	}
}

// plain is a parsed value as encoding/json decodes into any (numbers as
// json.Number): the values themselves, strings and all, not re-encoded.
func plain(v value) any {
	switch x := v.(type) {
	case *object:
		m := map[string]any{}
		for i, k := range x.keys {
			m[k] = plain(x.vals[i])
		}
		return m
	case []value:
		l := []any{}
		for _, e := range x {
			l = append(l, plain(e))
		}
		return l
	}
	return v
}

// The parser reads what encoding/json reads, as encoding/json reads it,
// and refuses what it refuses.
func FuzzParseAsEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `[]`, `{}`, `"x"`, `-1.5e3`, `0`,
		`{"a":"\u00e9\n\"q\"\\/","a":2}`, `{"k":"ü€😀"}`, ` [ 1 , 2 ] `, `{"a":[{"b":[]}]}`,
		"\"\xff\"", "\"a\xc3\"", `"\ufffd"`, strings.Repeat("[", 1500) + strings.Repeat("]", 1500),
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `01`, `1.`, `-`, `tru`, `nul`, `"abc`, "\"a\tb\"", `{"a":1}x`, `[1 2]`, `+1`, `.5`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Numbers as json.Number, as the comparison keeps them.
		decode := func(b []byte) (any, error) {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				return nil, err
			}
			if _, err := d.Token(); err != io.EOF {
				return nil, errors.New("trailing data")
			}
			return v, nil
		}
		want, wantErr := decode(b)
		v, err := parse(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: parse error %v, encoding/json's %v", b, err, wantErr)
		}
		if err != nil {
			return
		}
		if got := plain(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parsed as %#v, encoding/json reads %#v", b, got, want)
		}
	})
}
