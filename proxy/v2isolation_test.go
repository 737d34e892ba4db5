package proxy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// placement is what a v2 org or space list shows of isolation segments,
// by name.
type placement struct {
	Default, Segment, URL *string
}

func placements(t *testing.T, body []byte) map[string]placement {
	t.Helper()
	var list struct {
		Resources []struct {
			Entity struct {
				Name         string  `json:"name"`
				Default      *string `json:"default_isolation_segment_guid"`
				Segment      *string `json:"isolation_segment_guid"`
				URL          *string `json:"isolation_segment_url"`
				Organization *struct {
					Entity struct {
						Default *string `json:"default_isolation_segment_guid"`
					} `json:"entity"`
				} `json:"organization"`
			} `json:"entity"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := map[string]placement{}
	for _, r := range list.Resources {
		out[r.Entity.Name] = placement{Default: r.Entity.Default, Segment: r.Entity.Segment, URL: r.Entity.URL}
		if o := r.Entity.Organization; o != nil {
			out[r.Entity.Name+"/org"] = placement{Default: o.Entity.Default}
		}
	}
	return out
}

// orNil is *s, or "<nil>".
func orNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Isolation segments in v2 orgs and spaces (MAPPING-orgs §11.1, §11.3):
// the org's default and isolation_segment_url for an entitled org, the
// space's own segment and its url; the spaces' isolation_segment_guid q
// key. Set up through v3 with go-cfclient, as operators do.
func TestV2IsolationSegments(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	iso1, err := admin.CreateIsolationSegment("iso-1")
	if err != nil {
		t.Fatal(err)
	}
	iso2, err := admin.CreateIsolationSegment("iso-2")
	if err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "iso-org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateOrg(cfclient.OrgRequest{Name: "plain-org"}); err != nil {
		t.Fatal(err)
	}
	var spaces []string
	for _, name := range []string{"iso-a", "iso-b", "iso-c"} {
		sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: name, OrganizationGuid: org.Guid, AllowSSH: true})
		if err != nil {
			t.Fatal(err)
		}
		spaces = append(spaces, sp.Guid)
	}
	for i, step := range []func() error{
		func() error { return admin.AddIsolationSegmentToOrg(iso1.GUID, org.Guid) },
		func() error { return admin.AddIsolationSegmentToOrg(iso2.GUID, org.Guid) },
		func() error { return admin.AddIsolationSegmentToOrg(iso1.GUID, backend.DemoOrgGUID) },
		func() error { return admin.DefaultIsolationSegmentForOrg(org.Guid, iso2.GUID) },
		func() error { return admin.IsolationSegmentForSpace(spaces[0], iso1.GUID) },
		func() error { return admin.IsolationSegmentForSpace(spaces[1], iso2.GUID) },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	// One org: the default, then isolation_segment_url, in the presenter's
	// order.
	r := s.do("GET", s.gwURL+"/v2/organizations/"+org.Guid, "admin", nil)
	if want := `"status":"active","default_isolation_segment_guid":"` + iso2.GUID + `","isolation_segment_url":"/v3/isolation_segments?organization_guids=` +
		org.Guid + `","quota_definition_url":`; r.status != 200 || !bytes.Contains(r.body, []byte(want)) {
		t.Errorf("org: %d %s\nwant %s", r.status, r.body, want)
	}
	if o, err := admin.GetOrgByGuid(org.Guid); err != nil || o.DefaultIsolationSegmentGuid != iso2.GUID {
		t.Errorf("GetOrgByGuid: %v %+v", err, o)
	}
	// The list: entitled with a default, entitled without, not entitled.
	r = s.do("GET", s.gwURL+"/v2/organizations?order-by=name", "admin", nil)
	got := placements(t, r.body)
	for name, want := range map[string][2]string{
		"iso-org":   {iso2.GUID, "/v3/isolation_segments?organization_guids=" + org.Guid},
		"demo-org":  {"<nil>", "/v3/isolation_segments?organization_guids=" + backend.DemoOrgGUID},
		"plain-org": {"<nil>", "<nil>"},
	} {
		if p := got[name]; orNil(p.Default) != want[0] || orNil(p.URL) != want[1] {
			t.Errorf("%s: default %s url %s, want %v", name, orNil(p.Default), orNil(p.URL), want)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID, "admin", nil); !bytes.Contains(r.body,
		[]byte(`"default_isolation_segment_guid":null,"isolation_segment_url":"/v3/isolation_segments?organization_guids=`+backend.DemoOrgGUID+`"`)) {
		t.Errorf("demo-org: %s", r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations?q=name:plain-org", "admin", nil); bytes.Contains(r.body, []byte("isolation_segment_url")) ||
		!bytes.Contains(r.body, []byte(`"default_isolation_segment_guid":null,"quota_definition_url"`)) {
		t.Errorf("plain-org: %s", r.body)
	}
	// A member sees the segments of its org.
	r = s.do("GET", s.gwURL+"/v2/organizations", "developer", nil)
	if p := placements(t, r.body)["demo-org"]; orNil(p.URL) != "/v3/isolation_segments?organization_guids="+backend.DemoOrgGUID {
		t.Errorf("developer's demo-org: %s", r.body)
	}

	// One space: its own segment, then isolation_segment_url after
	// allow_ssh; not its org's default.
	r = s.do("GET", s.gwURL+"/v2/spaces/"+spaces[0], "admin", nil)
	if want := `"isolation_segment_guid":"` + iso1.GUID + `","allow_ssh":true,"isolation_segment_url":"/v3/isolation_segments/` + iso1.GUID +
		`","organization_url":`; r.status != 200 || !bytes.Contains(r.body, []byte(want)) {
		t.Errorf("space: %d %s\nwant %s", r.status, r.body, want)
	}
	if r := s.do("GET", s.gwURL+"/v2/spaces/"+spaces[2], "admin", nil); !bytes.Contains(r.body, []byte(`"isolation_segment_guid":null,"allow_ssh":true,"organization_url":`)) {
		t.Errorf("a space without a segment: %s", r.body)
	}
	sp, err := admin.GetSpaceByGuid(spaces[1])
	if err != nil || sp.IsolationSegmentGuid != iso2.GUID {
		t.Errorf("GetSpaceByGuid: %v %+v", err, sp)
	}
	// Lists, top level and nested, with the orgs inlined.
	for _, path := range []string{"/v2/spaces?inline-relations-depth=1", "/v2/organizations/" + org.Guid + "/spaces?inline-relations-depth=1"} {
		got := placements(t, s.do("GET", s.gwURL+path, "admin", nil).body)
		for name, want := range map[string]string{"iso-a": iso1.GUID, "iso-b": iso2.GUID, "iso-c": "<nil>"} {
			if p := got[name]; orNil(p.Segment) != want {
				t.Errorf("%s: %s segment %s, want %s", path, name, orNil(p.Segment), want)
			}
			if p := got[name+"/org"]; orNil(p.Default) != iso2.GUID {
				t.Errorf("%s: %s's org default %s", path, name, orNil(p.Default))
			}
		}
	}

	// q=isolation_segment_guid: a column filter, the operator counts.
	lo, hi := min(iso1.GUID, iso2.GUID), max(iso1.GUID, iso2.GUID)
	byGUID := map[string]string{iso1.GUID: "iso-a", iso2.GUID: "iso-b"}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"isolation_segment_guid:" + iso1.GUID, []string{"iso-a"}},
		{"isolation_segment_guid IN " + iso1.GUID + "," + iso2.GUID, []string{"iso-a", "iso-b"}},
		{"isolation_segment_guid:" + backend.SharedIsolationSegmentGUID, []string{}},
		{"isolation_segment_guid:nope", []string{}},
		{"isolation_segment_guid:", []string{}},
		{"isolation_segment_guid>" + lo, []string{byGUID[hi]}},
		{"isolation_segment_guid>=" + lo, []string{"iso-a", "iso-b"}},
		{"isolation_segment_guid<" + lo, []string{}},
		// IN with no value is IS NULL in CC: the spaces without a segment.
		{"isolation_segment_guid IN ", []string{"demo-space", "iso-c"}},
		{"isolation_segment_guid IN ;organization_guid:" + org.Guid, []string{"iso-c"}},
		// An empty guid names no user, as no segment.
		{"developer_guid:", []string{}},
	} {
		path := "/v2/spaces?order-by=name&q=" + url.QueryEscape(tc.q)
		r := s.do("GET", s.gwURL+path, "admin", nil)
		if r.status != 200 {
			t.Errorf("%s: %d %s", tc.q, r.status, r.body)
			continue
		}
		var names []string
		for name := range placements(t, r.body) {
			names = append(names, name)
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.want) && !(len(names) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: %v, want %v", tc.q, names, tc.want)
		}
	}
	// The user's and the security groups' space lists take the same keys.
	if _, err := admin.AssociateOrgUser(org.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	for _, sp := range spaces {
		if _, err := admin.AssociateSpaceDeveloper(sp, backend.DeveloperGUID); err != nil {
			t.Fatal(err)
		}
	}
	web, err := admin.CreateSecGroup("web", nil, []string{spaces[0], spaces[2]})
	if err != nil {
		t.Fatal(err)
	}
	quota, err := admin.CreateSpaceQuota(cfclient.SpaceQuotaRequest{Name: "iso-quota", OrganizationGuid: org.Guid, MemoryLimit: 1024,
		InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: -1, TotalServices: -1, TotalRoutes: -1, TotalServiceKeys: -1, TotalReservedRoutePorts: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []string{spaces[0], spaces[2]} {
		if err := admin.AssignSpaceQuota(quota.Guid, sp); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.RemoveSpaceDeveloper(spaces[2], backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	quotaSpaces := "/v2/space_quota_definitions/" + quota.Guid + "/spaces?q="
	for path, want := range map[string]string{
		"/v2/users/" + backend.DeveloperGUID + "/spaces?q=isolation_segment_guid:" + iso1.GUID: "iso-a",
		"/v2/security_groups/" + web.Guid + "/spaces?q=isolation_segment_guid%20IN%20":         "iso-c",
		quotaSpaces + "isolation_segment_guid%20IN%20":                                         "iso-c",
		quotaSpaces + "isolation_segment_guid:" + iso1.GUID:                                    "iso-a",
		quotaSpaces + "developer_guid:" + backend.DeveloperGUID:                                "iso-a",
	} {
		r := s.do("GET", s.gwURL+path, "admin", nil)
		got := placements(t, r.body)
		if _, ok := got[want]; r.status != 200 || len(got) != 1 || !ok {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	for _, q := range []string{"developer_guid:", "app_guid:nope", "isolation_segment_guid:" + iso2.GUID} {
		if r := s.do("GET", s.gwURL+quotaSpaces+q, "admin", nil); r.status != 200 || len(placements(t, r.body)) != 0 {
			t.Errorf("the quota's spaces, %s: %d %s", q, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations/"+org.Guid+"/spaces?q=isolation_segment_guid:"+iso2.GUID, "admin", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"name":"iso-b"`) || !strings.Contains(string(r.body), `"total_results":1`) {
		t.Errorf("nested list by segment: %d %s", r.status, r.body)
	}
	if spaces, err := admin.ListSpacesByQuery(url.Values{"q": {"isolation_segment_guid:" + iso1.GUID}}); err != nil || len(spaces) != 1 || spaces[0].Name != "iso-a" {
		t.Errorf("ListSpacesByQuery: %v %+v", err, spaces)
	}
}

// Writes of isolation segments (MAPPING-orgs §11.2.3, §11.4): an org's
// default_isolation_segment_guid on PUT, a space's isolation_segment_guid
// on POST and PUT, with CC's refusals.
func TestV2IsolationSegmentWrites(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	iso1, err := admin.CreateIsolationSegment("iso-1")
	if err != nil {
		t.Fatal(err)
	}
	iso2, err := admin.CreateIsolationSegment("iso-2")
	if err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "iso-org"})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.AddIsolationSegmentToOrg(iso1.GUID, org.Guid); err != nil {
		t.Fatal(err)
	}
	want := func(what string, r reply, status int, body string) {
		t.Helper()
		if r.status != status || !bytes.Contains(r.body, []byte(body)) {
			t.Errorf("%s: %d %s\nwant %d %s", what, r.status, r.body, status, body)
		}
	}

	// The org's default.
	o, err := admin.UpdateOrg(org.Guid, cfclient.OrgRequest{Name: "iso-org", DefaultIsolationSegmentGuid: iso1.GUID})
	if err != nil || o.DefaultIsolationSegmentGuid != iso1.GUID {
		t.Errorf("UpdateOrg: %v %+v", err, o)
	}
	orgURL := s.gwURL + "/v2/organizations/" + org.Guid
	want("an unknown default", s.do("PUT", orgURL, "admin", []byte(`{"default_isolation_segment_guid":"nope"}`)), 404,
		`{"description":"Could not find Isolation Segment to set as the default.","error_code":"CF-ResourceNotFound","code":10010}`)
	want("a default the org is not entitled to", s.do("PUT", orgURL, "admin", []byte(`{"name":"renamed","default_isolation_segment_guid":"`+iso2.GUID+`"}`)), 400,
		`{"description":"Could not find Isolation Segment with guid: `+iso2.GUID+`","error_code":"CF-InvalidRelation","code":1002}`)
	want("the org after the refusals", s.do("GET", orgURL, "admin", nil), 200,
		`"name":"iso-org","billing_enabled":false,"quota_definition_guid":"`+backend.DemoQuotaGUID+`","status":"active","default_isolation_segment_guid":"`+iso1.GUID+`"`)

	// A space's segment on create.
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "placed", OrganizationGuid: org.Guid, AllowSSH: true, IsolationSegmentGuid: iso1.GUID})
	if err != nil || sp.IsolationSegmentGuid != iso1.GUID {
		t.Errorf("CreateSpace: %v %+v", err, sp)
	}
	const notAllowed = `{"description":"Adding the Isolation Segment to the Space could not be completed: Only Isolation Segments in the Organization's allowed list can be used.","error_code":"CF-UnableToPerform","code":10009}`
	want("a segment the org is not entitled to", s.do("POST", s.gwURL+"/v2/spaces", "admin",
		[]byte(`{"name":"misplaced","organization_guid":"`+org.Guid+`","isolation_segment_guid":"`+iso2.GUID+`"}`)), 400, notAllowed)
	if _, err := admin.GetSpaceByName("misplaced", org.Guid); err == nil {
		t.Error("the failed create left its space")
	}

	// On update: org managers only, an unknown segment, one not entitled.
	spaceURL := s.gwURL + "/v2/spaces/" + sp.Guid
	want("an unknown segment", s.do("PUT", spaceURL, "admin", []byte(`{"isolation_segment_guid":"nope"}`)), 404,
		`{"description":"Isolation Segment not found","error_code":"CF-ResourceNotFound","code":10010}`)
	want("a segment not entitled", s.do("PUT", spaceURL, "admin", []byte(`{"isolation_segment_guid":"`+iso2.GUID+`"}`)), 400, notAllowed)
	if _, err := admin.AssociateOrgUser(org.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AssociateSpaceManager(sp.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	want("a space manager sets the segment", s.do("PUT", spaceURL, "developer", []byte(`{"isolation_segment_guid":"`+iso1.GUID+`"}`)), 403,
		`"error_code":"CF-NotAuthorized"`)
	want("a space manager renames", s.do("PUT", spaceURL, "developer", []byte(`{"name":"placed-too"}`)), 201,
		`"name":"placed-too","organization_guid":"`+org.Guid+`","space_quota_definition_guid":null,"isolation_segment_guid":"`+iso1.GUID+`"`)
	if _, err := admin.AssociateOrgManager(org.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	if err := admin.AddIsolationSegmentToOrg(iso2.GUID, org.Guid); err != nil {
		t.Fatal(err)
	}
	want("an org manager moves the space", s.do("PUT", spaceURL, "developer", []byte(`{"isolation_segment_guid":"`+iso2.GUID+`"}`)), 201,
		`"isolation_segment_guid":"`+iso2.GUID+`","allow_ssh":true,"isolation_segment_url":"/v3/isolation_segments/`+iso2.GUID+`"`)
}

// DELETE /v2/organizations/:guid/default_isolation_segment and DELETE
// /v2/spaces/:guid/isolation_segment (MAPPING-orgs §11.2.6,
// OrganizationsController#delete_default_isolation_segment,
// SpacesController#delete_isolation_segment): 200 and the resource
// without its segment; update access to the org (admins, managers of an
// active org) for both.
func TestV2IsolationSegmentRemovals(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	iso, err := admin.CreateIsolationSegment("iso-1")
	if err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "iso-org"})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "placed", OrganizationGuid: org.Guid, AllowSSH: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []func() error{
		func() error { return admin.AddIsolationSegmentToOrg(iso.GUID, org.Guid) },
		func() error { return admin.DefaultIsolationSegmentForOrg(org.Guid, iso.GUID) },
		func() error { return admin.IsolationSegmentForSpace(sp.Guid, iso.GUID) },
		func() error { _, err := admin.AssociateOrgUser(org.Guid, backend.DeveloperGUID); return err },
		func() error { _, err := admin.AssociateSpaceManager(sp.Guid, backend.DeveloperGUID); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := func(what string, r reply, status int, body string) {
		t.Helper()
		if r.status != status || !bytes.Contains(r.body, []byte(body)) {
			t.Errorf("%s: %d %s\nwant %d %s", what, r.status, r.body, status, body)
		}
	}
	orgURL, spaceURL := s.gwURL+"/v2/organizations/"+org.Guid, s.gwURL+"/v2/spaces/"+sp.Guid
	const notAuthorized = `"error_code":"CF-NotAuthorized"`

	// Members who manage no org may do neither, a space manager included.
	want("a member's org", s.do("DELETE", orgURL+"/default_isolation_segment", "developer", nil), 403, notAuthorized)
	want("a space manager's space", s.do("DELETE", spaceURL+"/isolation_segment", "developer", nil), 403, notAuthorized)
	want("unknown org", s.do("DELETE", s.gwURL+"/v2/organizations/nope/default_isolation_segment", "admin", nil), 404,
		`{"description":"The organization could not be found: nope","error_code":"CF-OrganizationNotFound","code":30003}`)
	want("unknown space", s.do("DELETE", s.gwURL+"/v2/spaces/nope/isolation_segment", "admin", nil), 404,
		`{"description":"The app space could not be found: nope","error_code":"CF-SpaceNotFound","code":40004}`)
	want("the org after the refusals", s.do("GET", orgURL, "admin", nil), 200, `"default_isolation_segment_guid":"`+iso.GUID+`"`)
	want("the space after the refusals", s.do("GET", spaceURL, "admin", nil), 200, `"isolation_segment_guid":"`+iso.GUID+`"`)

	// An org manager of a suspended org may not either (v3 alone would
	// let it take the space's segment away).
	if _, err := admin.AssociateOrgManager(org.Guid, backend.DeveloperGUID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UpdateOrg(org.Guid, cfclient.OrgRequest{Name: "iso-org", Status: "suspended"}); err != nil {
		t.Fatal(err)
	}
	want("a suspended org's space", s.do("DELETE", spaceURL+"/isolation_segment", "developer", nil), 403, notAuthorized)
	want("a suspended org", s.do("DELETE", orgURL+"/default_isolation_segment", "developer", nil), 403, notAuthorized)
	if _, err := admin.UpdateOrg(org.Guid, cfclient.OrgRequest{Name: "iso-org", Status: "active"}); err != nil {
		t.Fatal(err)
	}

	// The org manager removes both: 200, the org still entitled, the space
	// in no segment of its own.
	want("the org's default", s.do("DELETE", orgURL+"/default_isolation_segment", "developer", nil), 200,
		`"status":"active","default_isolation_segment_guid":null,"isolation_segment_url":"/v3/isolation_segments?organization_guids=`+org.Guid+`"`)
	want("the space's segment", s.do("DELETE", spaceURL+"/isolation_segment", "developer", nil), 200,
		`"name":"placed","organization_guid":"`+org.Guid+`","space_quota_definition_guid":null,"isolation_segment_guid":null,"allow_ssh":true,"organization_url":`)
	if o, err := admin.GetOrgByGuid(org.Guid); err != nil || o.DefaultIsolationSegmentGuid != "" {
		t.Errorf("GetOrgByGuid: %v %+v", err, o)
	}
	// Again: nothing to remove, still 200; inline-relations-depth honoured.
	want("again", s.do("DELETE", spaceURL+"/isolation_segment?inline-relations-depth=1", "admin", nil), 200,
		`"organization_url":"/v2/organizations/`+org.Guid+`","organization":{"metadata":{"guid":"`+org.Guid+`"`)
}

// Spaces and orgs an app list inlines (inline-relations-depth 1 and 2)
// show their isolation segments as the space and org lists do.
func TestV2IsolationSegmentsInlinedInApps(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	iso, err := admin.CreateIsolationSegment("iso-1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := admin.CreateOrg(cfclient.OrgRequest{Name: "plain-org"})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := admin.CreateSpace(cfclient.SpaceRequest{Name: "plain", OrganizationGuid: other.Guid, AllowSSH: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []func() error{
		func() error { return admin.AddIsolationSegmentToOrg(iso.GUID, backend.DemoOrgGUID) },
		func() error { return admin.DefaultIsolationSegmentForOrg(backend.DemoOrgGUID, iso.GUID) },
		func() error { return admin.IsolationSegmentForSpace(backend.DemoSpaceGUID, iso.GUID) },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	placed := s.createApps(t, "developer", "placed")[0]
	if r := s.do("POST", s.cfURL+"/v3/apps", "admin", []byte(`{"name":"plain","relationships":{"space":{"data":{"guid":"`+plain.Guid+`"}}}}`)); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	type inlined struct {
		Segment, Default, URL, OrgURL *string
	}
	read := func(body []byte) map[string]inlined {
		t.Helper()
		var list struct {
			Resources []struct {
				Entity struct {
					Name  string `json:"name"`
					Space struct {
						Entity struct {
							Segment      *string `json:"isolation_segment_guid"`
							URL          *string `json:"isolation_segment_url"`
							Organization *struct {
								Entity struct {
									Default *string `json:"default_isolation_segment_guid"`
									URL     *string `json:"isolation_segment_url"`
								} `json:"entity"`
							} `json:"organization"`
						} `json:"entity"`
					} `json:"space"`
				} `json:"entity"`
			} `json:"resources"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		out := map[string]inlined{}
		for _, r := range list.Resources {
			sp := r.Entity.Space.Entity
			in := inlined{Segment: sp.Segment, URL: sp.URL}
			if o := sp.Organization; o != nil {
				in.Default, in.OrgURL = o.Entity.Default, o.Entity.URL
			}
			out[r.Entity.Name] = in
		}
		return out
	}
	r := s.do("GET", s.gwURL+"/v2/apps?inline-relations-depth=2", "admin", nil)
	if r.status != 200 {
		t.Fatalf("apps: %d %s", r.status, r.body)
	}
	got := read(r.body)
	if p := got["placed"]; orNil(p.Segment) != iso.GUID || orNil(p.URL) != "/v3/isolation_segments/"+iso.GUID ||
		orNil(p.Default) != iso.GUID || orNil(p.OrgURL) != "/v3/isolation_segments?organization_guids="+backend.DemoOrgGUID {
		t.Errorf("placed: segment %s url %s, org default %s url %s", orNil(p.Segment), orNil(p.URL), orNil(p.Default), orNil(p.OrgURL))
	}
	if p := got["plain"]; p.Segment != nil || p.URL != nil || p.Default != nil || p.OrgURL != nil {
		t.Errorf("plain: segment %s url %s, org default %s url %s", orNil(p.Segment), orNil(p.URL), orNil(p.Default), orNil(p.OrgURL))
	}
	if !bytes.Contains(r.body, []byte(`"default_isolation_segment_guid":null,"quota_definition_url"`)) {
		t.Errorf("the plain org's default: %s", r.body)
	}
	// One app, one space, at depth 1: the space's segment, its org a url.
	r = s.do("GET", s.gwURL+"/v2/apps/"+placed+"?inline-relations-depth=1", "developer", nil)
	if want := `"isolation_segment_guid":"` + iso.GUID + `","allow_ssh":true,"isolation_segment_url":"/v3/isolation_segments/` + iso.GUID + `","organization_url":`; r.status != 200 ||
		!bytes.Contains(r.body, []byte(want)) || bytes.Contains(r.body, []byte(`"organization":`)) {
		t.Errorf("one app: %d %s\nwant %s", r.status, r.body, want)
	}
}
