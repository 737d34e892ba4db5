package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// orgGoldenInput is a testdata/orgs/<case>.v3.json file: the v3
// organization, and beside its keys the two bodies the gateway reads for
// its isolation segments, when the case has them.
type orgGoldenInput struct {
	// DefaultIsolationSegment is GET
	// /v3/organizations/:guid/relationships/default_isolation_segment.
	DefaultIsolationSegment V3ToOne `json:"default_isolation_segment"`
	// IsolationSegments is GET /v3/isolation_segments?organization_guids=:guid.
	IsolationSegments struct {
		Resources []V3IsolationSegment `json:"resources"`
	} `json:"isolation_segments"`
}

func TestOrgGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "orgs", func(raw []byte) ([]byte, error) {
		var o V3Org
		var in orgGoldenInput
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err := AppendOrgBundle(&buf, OrgBundle{Org: o, DefaultIsolationSegmentGUID: in.DefaultIsolationSegment.GUID(),
			Entitled: len(in.IsolationSegments.Resources) > 0})
		return buf.Bytes(), err
	})
}

// An org and a space with isolation segments have the key order of
// today's CC bodies (organization_with_isolation_segment.current-shape.json,
// space_with_quota_and_isolation_segment.current-shape.json).
func TestIsolationSegmentKeyOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ reference, golden string }{
		{"organization_with_isolation_segment.current-shape.json", "orgs/entitled_default.v2.json"},
		{"space_with_quota_and_isolation_segment.current-shape.json", "spaces/quota_segment.v2.json"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			want := objectKeys(t, readTestdata(t, "reference", tc.reference), "entity")
			got := objectKeys(t, readTestdata(t, tc.golden), "entity")
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("keys\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestOrgStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		suspended bool
		want      string
	}{{"active", false, "active"}, {"suspended", true, "suspended"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := OrgEntity(V3Org{Suspended: tc.suspended}).Status; got != tc.want {
				t.Errorf("status %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOrgWithoutQuota checks that quota_definition_url is left out, as
// RelationsPresenter leaves out a to-one url with no associated row.
func TestOrgWithoutQuota(t *testing.T) {
	t.Parallel()
	got, err := OrgResource(V3Org{GUID: "o", Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"quota_definition_guid":null`) || strings.Contains(string(got), "quota_definition_url") {
		t.Errorf("got %s", got)
	}
}

// A space at inline-relations-depth 1 carries its organization's v2
// resource right after organization_url (the RelationsPresenter puts each
// inlined to-one relation after its url); the rest is the space's golden
// rendering.
func TestSpaceInOrg(t *testing.T) {
	t.Parallel()
	read := func(path string, v any) []byte {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("testdata", path))
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatal(err)
			}
		}
		return raw
	}
	var in spaceGoldenInput
	var org V3Org
	read("spaces/no_quota.v3.json", &in)
	read("orgs/active.v3.json", &org)
	var buf bytes.Buffer
	if err := AppendSpaceResourceInOrg(&buf, SpaceBundle{Space: in.Space, AllowSSH: in.FeatureSSH.Enabled}, OrgBundle{Org: org}); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if i, j, k := strings.Index(got, `"organization_url"`), strings.Index(got, `"organization":{`), strings.Index(got, `"developers_url"`); i < 0 || !(i < j && j < k) {
		t.Errorf("organization is not inlined after organization_url: %s", got)
	}
	var res struct {
		Metadata json.RawMessage
		Entity   map[string]json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	same := func(what string, a, b []byte) {
		t.Helper()
		var x, y any
		if err := json.Unmarshal(a, &x); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &y); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s:\n%s\nwant\n%s", what, a, b)
		}
	}
	same("inlined organization", res.Entity["organization"], read("orgs/active.v2.json", nil))
	delete(res.Entity, "organization")
	space, err := json.Marshal(map[string]any{"metadata": res.Metadata, "entity": res.Entity})
	if err != nil {
		t.Fatal(err)
	}
	same("space", space, read("spaces/no_quota.v2.json", nil))
}

// status is a column filter: exact values, the operator honoured, and an
// org v3 shows is never "deleting".
func TestOrgStatusMatches(t *testing.T) {
	t.Parallel()
	f := func(op Op, vals ...string) Filter { return Filter{Key: "status", Op: op, Values: vals} }
	for _, tc := range []struct {
		name      string
		fs        []Filter
		suspended bool
		want      bool
	}{
		{"eq", []Filter{f(OpEq, "active")}, false, true},
		{"eq other", []Filter{f(OpEq, "active")}, true, false},
		{"case counts", []Filter{f(OpEq, "Active")}, false, false},
		{"deleting", []Filter{f(OpEq, "deleting")}, false, false},
		{"in", []Filter{f(OpIn, "deleting", "suspended")}, true, true},
		{"empty in", []Filter{f(OpIn)}, false, false},
		{"gt", []Filter{f(OpGt, "b")}, true, true},
		{"gt active", []Filter{f(OpGt, "b")}, false, false},
		{"le", []Filter{f(OpLe, "active")}, false, true},
		{"lt", []Filter{f(OpLt, "active")}, false, false},
		{"ge empty", []Filter{f(OpGe, "")}, false, true},
		{"anded", []Filter{f(OpGe, "a"), f(OpEq, "suspended")}, false, false},
		{"other keys ignored", []Filter{{Key: "name", Op: OpEq, Values: []string{"x"}}}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := OrgStatusMatches(tc.fs, V3Org{Suspended: tc.suspended}); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A to-many guids writer adds what is new and removes what is gone, each
// once.
func TestGUIDsDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		current, requested     []string
		wantAdded, wantRemoved []string
	}{
		{"both", []string{"a", "b"}, []string{"b", "c"}, []string{"c"}, []string{"a"}},
		{"same", []string{"a"}, []string{"a"}, nil, nil},
		{"clear", []string{"a", "b"}, []string{}, nil, []string{"a", "b"}},
		{"repeats", []string{"a", "a"}, []string{"c", "c"}, []string{"c"}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			added, removed := GUIDsDiff(tc.current, tc.requested)
			if !slices.Equal(added, tc.wantAdded) || !slices.Equal(removed, tc.wantRemoved) {
				t.Errorf("added %v removed %v", added, removed)
			}
		})
	}
}

// A space body's security group lists: absent is nil, [] clears, and a
// wrong type is a MessageParseError in the message's field order.
func TestParseSpaceSecurityGroups(t *testing.T) {
	t.Parallel()
	r, err := ParseSpaceRequest([]byte(`{"name":"s","organization_guid":"o","security_group_guids":["a","b"],"staging_security_group_guids":[]}`), true)
	if err != nil || !slices.Equal(r.SecurityGroups, []string{"a", "b"}) || r.StagingSecurityGroups == nil || len(r.StagingSecurityGroups) != 0 {
		t.Errorf("parsed %+v %v", r, err)
	}
	if r, err := ParseSpaceRequest([]byte(`{"name":"s"}`), false); err != nil || r.SecurityGroups != nil || r.StagingSecurityGroups != nil {
		t.Errorf("absent lists: %+v %v", r, err)
	}
	_, err = ParseSpaceRequest([]byte(`{"staging_security_group_guids":"a","security_group_guids":[1]}`), true)
	want := "Request invalid due to parse error: Field: name, Error: Missing field name, Field: organization_guid, Error: Missing field organization_guid, " +
		"Field: security_group_guids, Error: At index 0: Expected instance of String, given an instance of Integer, " +
		"Field: staging_security_group_guids, Error: Expected instance of Array, given instance of String"
	var e *Error
	if !errors.As(err, &e) || e.Description != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestSegmentRelationshipBody(t *testing.T) {
	t.Parallel()
	if got := string(SegmentRelationshipBody("iso")); got != `{"data":{"guid":"iso"}}` {
		t.Errorf("got %s", got)
	}
}

// An org body's role lists: absent lists stay out, [] clears, and a wrong
// type is a MessageParseError in the message's field order (attributes,
// the quota, then the lists).
func TestParseOrgRoleLists(t *testing.T) {
	t.Parallel()
	r, err := ParseOrgRequest([]byte(`{"user_guids":["u1","u2"],"manager_guids":[],"auditor_guids":null}`), false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"organization_user": {"u1", "u2"}, "organization_manager": {}}
	if !reflect.DeepEqual(r.Roles, want) {
		t.Errorf("roles %v, want %v", r.Roles, want)
	}
	if r, err := ParseOrgRequest([]byte(`{"name":"o"}`), true); err != nil || len(r.Roles) != 0 {
		t.Errorf("no lists: %+v %v", r, err)
	}
	_, err = ParseOrgRequest([]byte(`{"auditor_guids":"a","user_guids":[1],"status":true,"billing_enabled":"no"}`), true)
	wantErr := "Request invalid due to parse error: Field: name, Error: Missing field name, " +
		"Field: billing_enabled, Error: Expected instance of true or false, given no, " +
		"Field: status, Error: Expected instance of String, given an instance of TrueClass, " +
		"Field: user_guids, Error: At index 0: Expected instance of String, given an instance of Integer, " +
		"Field: auditor_guids, Error: Expected instance of Array, given instance of String"
	var e *Error
	if !errors.As(err, &e) || e.Description != wantErr {
		t.Errorf("got %v\nwant %s", err, wantErr)
	}
	sp, err := ParseSpaceRequest([]byte(`{"developer_guids":["d"],"auditor_guids":[]}`), false)
	if err != nil || !reflect.DeepEqual(sp.Roles, map[string][]string{"space_developer": {"d"}, "space_auditor": {}}) {
		t.Errorf("space roles %v %v", sp.Roles, err)
	}
}

// Role lists replace the holders of their types, in CC's import order;
// a type no list names is left alone.
func TestRoleListChanges(t *testing.T) {
	t.Parallel()
	current := map[string][]string{
		"organization_user":    {"a", "b"},
		"organization_manager": {"a"},
		"organization_auditor": {"c"},
	}
	requested := map[string][]string{
		"organization_auditor": {},
		"organization_manager": {"a", "b", "b"},
		"organization_user":    {"b", "d"},
	}
	got := RoleListChanges(OrgRoleLists, requested, current)
	want := []RoleListChange{
		{Type: "organization_user", Added: []string{"d"}, Removed: []string{"a"}},
		{Type: "organization_manager", Added: []string{"b"}},
		{Type: "organization_auditor", Removed: []string{"c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := RoleListChanges(SpaceRoleLists, map[string][]string{}, current); got != nil {
		t.Errorf("no lists: %+v", got)
	}
	if got := string(NoSegmentBody()); got != `{"data":null}` {
		t.Errorf("no segment: %s", got)
	}
	if e := UserRelationNotFound("u"); e.Code != 1002 || e.Description != "Could not find VCAP::CloudController::User with guid: u" {
		t.Errorf("unknown user: %+v", e)
	}
}
