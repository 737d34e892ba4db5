package shadow

import (
	"fmt"
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
