package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func inlineBundle(routes int) AppBundle {
	b := AppBundle{App: V3App{GUID: "a1", Name: "app"}, StackGUID: "st1"}
	b.App.Relationships.Space.Data = &V3GUIDRef{GUID: "sp1"}
	sp := SpaceBundle{Space: V3Space{GUID: "sp1", Name: "space"}, AllowSSH: true}
	sp.Space.Relationships.Organization.Data = &V3GUIDRef{GUID: "o1"}
	x := &AppInlined{Space: &sp, SpaceOrg: &OrgBundle{Org: V3Org{GUID: "o1", Name: "org"}}, Stack: &V3Stack{GUID: "st1", Name: "cflinuxfs4"},
		HasRoutes: true, HasBindings: true, Domains: map[string]*V3Domain{}}
	for i := range routes {
		r := V3Route{GUID: "r" + string(rune('a'+i%26)), Host: "h"}
		r.Relationships.Domain.Data = &V3GUIDRef{GUID: "d1"}
		x.Routes = append(x.Routes, r)
	}
	b.Inlined = x
	return b
}

func TestAppInline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		in       Inline
		routes   int
		wantKeys string // the relation keys of the entity, in order
		orgIn    bool
	}{
		{"depth 0", Inline{}, 1, "space_url,stack_url,routes_url,events_url,service_bindings_url,route_mappings_url", false},
		{"depth 1", Inline{Depth: 1}, 1,
			"space_url,space,stack_url,stack,routes_url,routes,events_url,service_bindings_url,service_bindings,route_mappings_url", false},
		{"depth 2 inlines the space's organization", Inline{Depth: 2}, 1,
			"space_url,space,stack_url,stack,routes_url,routes,events_url,service_bindings_url,service_bindings,route_mappings_url", true},
		{"include-relations", Inline{Depth: 2, Include: []string{"stack"}}, 1,
			"space_url,stack_url,stack,routes_url,events_url,service_bindings_url,route_mappings_url", false},
		{"exclude-relations", Inline{Depth: 1, Exclude: []string{"space", "routes"}}, 1,
			"space_url,stack_url,stack,routes_url,events_url,service_bindings_url,service_bindings,route_mappings_url", false},
		{"more than 50 routes stay a url", Inline{Depth: 1}, 51,
			"space_url,space,stack_url,stack,routes_url,events_url,service_bindings_url,service_bindings,route_mappings_url", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := inlineBundle(tc.routes)
			b.Inline = tc.in
			raw, err := AppResource(b)
			if err != nil {
				t.Fatal(err)
			}
			var rel []string
			for _, k := range objectKeys(t, raw, "entity") {
				if strings.HasSuffix(k, "_url") || k == "space" || k == "stack" || k == "routes" || k == "service_bindings" {
					rel = append(rel, k)
				}
			}
			if got := strings.Join(rel, ","); got != tc.wantKeys {
				t.Errorf("relation keys\n got %s\nwant %s", got, tc.wantKeys)
			}
			var res struct {
				Entity struct {
					Space *struct {
						Metadata V2Metadata
						Entity   map[string]json.RawMessage
					}
					ServiceBindings json.RawMessage `json:"service_bindings"`
				}
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			if sp := res.Entity.Space; sp != nil {
				_, hasOrg := sp.Entity["organization"]
				if hasOrg != tc.orgIn || sp.Metadata.URL != "/v2/spaces/sp1" || string(sp.Entity["allow_ssh"]) != "true" {
					t.Errorf("space %s (organization inlined %v, want %v)", raw, hasOrg, tc.orgIn)
				}
				if hasOrg {
					keys := strings.Join(objectKeys(t, raw, "entity", "space", "entity"), ",")
					if !strings.Contains(keys, "organization_url,organization,") {
						t.Errorf("organization not right after its url: %s", keys)
					}
				}
			}
			if res.Entity.ServiceBindings != nil && string(res.Entity.ServiceBindings) != "[]" {
				t.Errorf("no bindings should render [], got %s", res.Entity.ServiceBindings)
			}
		})
	}
}

func TestAppInlineOrphans(t *testing.T) {
	t.Parallel()
	b := inlineBundle(2)
	orphans := NewOrphans()
	b.Inline = Inline{Depth: 2, Orphans: orphans}
	raw, err := AppResource(b)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Entity map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Entity["space"]; ok {
		t.Errorf("an orphaned space is embedded: %s", raw)
	}
	if _, ok := res.Entity["stack"]; ok {
		t.Errorf("an orphaned stack is embedded: %s", raw)
	}
	if string(res.Entity["routes"]) != `["ra","rb"]` || string(res.Entity["service_bindings"]) != `[]` {
		t.Errorf("to-many relations as guids: routes %s, bindings %s", res.Entity["routes"], res.Entity["service_bindings"])
	}
	// A second app of the same space and stack adds nothing new.
	if _, err := AppResource(b); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	orphans.AppendJSON(&buf)
	got := objectKeys(t, buf.Bytes())
	if strings.Join(got, ",") != "o1,sp1,st1,ra,rb" {
		t.Errorf("orphans %v", got)
	}
	var all map[string]struct {
		Entity map[string]json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &all); err != nil {
		t.Fatal(err)
	}
	if _, ok := all["sp1"].Entity["organization"]; ok {
		t.Error("the orphaned space embeds its organization, which is an orphan itself")
	}
}

// An app's space and the space's organization inline with their isolation
// segments, as the space and org lists render them: the space's own
// segment and its url, the org's default and isolation_segment_url.
func TestAppInlineSegments(t *testing.T) {
	t.Parallel()
	b := inlineBundle(1)
	b.Inline = Inline{Depth: 2}
	b.Inlined.Space.IsolationSegmentGUID = "iso-a"
	b.Inlined.SpaceOrg.DefaultIsolationSegmentGUID, b.Inlined.SpaceOrg.Entitled = "iso-b", true
	raw, err := AppResource(b)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Entity struct {
			Space json.RawMessage `json:"space"`
		} `json:"entity"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := AppendSpaceResourceInOrg(&want, *b.Inlined.Space, *b.Inlined.SpaceOrg); err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSpace(res.Entity.Space); !bytes.Equal(got, bytes.TrimSpace(want.Bytes())) {
		t.Errorf("inlined space\n got %s\nwant %s", got, want.Bytes())
	}
	for _, part := range []string{
		`"isolation_segment_guid":"iso-a","allow_ssh":true,"isolation_segment_url":"/v3/isolation_segments/iso-a"`,
		`"default_isolation_segment_guid":"iso-b","isolation_segment_url":"/v3/isolation_segments?organization_guids=o1"`,
	} {
		if !bytes.Contains(res.Entity.Space, []byte(part)) {
			t.Errorf("missing %s in %s", part, res.Entity.Space)
		}
	}
}
