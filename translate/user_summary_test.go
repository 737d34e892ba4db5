package translate

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestUserSummaryGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "user_summary", func(raw []byte) ([]byte, error) {
		var b UserSummaryBundle
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		return UserSummary(b)
	})
}

// shapeOf lists, for every object in raw, its path and its keys in
// document order, following the first item of each array.
func shapeOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var out []string
	var walk func(path string, v json.RawMessage)
	walk = func(path string, v json.RawMessage) {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '[':
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				t.Fatal(err)
			}
			if len(items) > 0 {
				walk(path+"[0]", items[0])
			}
		case len(v) > 0 && v[0] == '{':
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.Token()
			var keys []string
			var vals []json.RawMessage
			for dec.More() {
				k, _ := dec.Token()
				var val json.RawMessage
				if err := dec.Decode(&val); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k.(string))
				vals = append(vals, val)
			}
			out = append(out, path+": "+strings.Join(keys, ","))
			for i, k := range keys {
				walk(path+"."+k, vals[i])
			}
		}
	}
	walk("", raw)
	return out
}

// The summary has the nesting and key order of CC's body
// (user_summary.json): metadata without url, the api presenters' entities.
func TestUserSummaryShape(t *testing.T) {
	t.Parallel()
	want := shapeOf(t, readTestdata(t, "reference", "user_summary.json"))
	if len(want) < 10 {
		t.Fatalf("reference shape %v", want)
	}
	got := shapeOf(t, readTestdata(t, "user_summary", "member.v2.json"))
	if !slices.Equal(got, want) {
		t.Errorf("shape\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// The lists follow the roles, each org or space once; an org the caller
// cannot see is left out, and an org whose quota is unknown shows a null
// quota_definition.
func TestUserSummaryLists(t *testing.T) {
	t.Parallel()
	role := func(typ, org, space string) V3Role {
		var r V3Role
		r.Type = typ
		if org != "" {
			r.Relationships.Organization.Data = &V3GUIDRef{GUID: org}
		}
		if space != "" {
			r.Relationships.Space.Data = &V3GUIDRef{GUID: space}
		}
		return r
	}
	b := UserSummaryBundle{
		User:   V3User{GUID: "u"},
		Roles:  []V3Role{role("organization_user", "o2", ""), role("organization_user", "o1", ""), role("organization_user", "hidden", ""), role("space_auditor", "", "s1")},
		Orgs:   map[string]V3Org{"o1": {GUID: "o1", Name: "one"}, "o2": {GUID: "o2", Name: "two", Suspended: true}},
		Spaces: map[string]V3Space{"s1": {GUID: "s1", Name: "space"}},
	}
	if got := b.OrgGUIDs(); !slices.Equal(got, []string{"o2", "o1"}) {
		t.Errorf("OrgGUIDs %v", got)
	}
	raw, err := UserSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Entity struct {
			Organizations []struct {
				Metadata struct{ GUID string }
				Entity   struct {
					Status          string
					QuotaDefinition *json.RawMessage `json:"quota_definition"`
					Spaces          []json.RawMessage
				}
			}
			ManagedOrganizations []json.RawMessage `json:"managed_organizations"`
			AuditedSpaces        []struct {
				Entity struct{ Name string }
			} `json:"audited_spaces"`
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	orgs := out.Entity.Organizations
	if len(orgs) != 2 || orgs[0].Metadata.GUID != "o2" || orgs[0].Entity.Status != "suspended" || orgs[1].Metadata.GUID != "o1" {
		t.Fatalf("organizations: %s", raw)
	}
	if orgs[0].Entity.QuotaDefinition != nil || orgs[0].Entity.Spaces == nil || !bytes.Contains(raw, []byte(`"quota_definition":null,"managers":[]`)) {
		t.Errorf("an org without its quota, spaces or managers: %s", raw)
	}
	if out.Entity.ManagedOrganizations == nil || !bytes.Contains(raw, []byte(`"managed_organizations":[]`)) {
		t.Errorf("an empty list is []: %s", raw)
	}
	if len(out.Entity.AuditedSpaces) != 1 || out.Entity.AuditedSpaces[0].Entity.Name != "space" {
		t.Errorf("audited_spaces: %s", raw)
	}
	if bytes.Contains(raw, []byte(`"url"`)) {
		t.Errorf("the summary's metadata has no url: %s", raw)
	}
}
