package backend

import "testing"

// TestIsolationSegments: CC's shared segment is seeded; entitling an org
// to it makes it the org's default; the default and a space's segment
// must be entitled to the org; non-admins see the segments of their orgs.
func TestIsolationSegments(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	shared := "http://api.example.org/v3/isolation_segments/" + SharedIsolationSegmentGUID
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/isolation_segments/"+SharedIsolationSegmentGUID, "admin", nil).body), `"T"`)
	want := `{"guid":"` + SharedIsolationSegmentGUID + `","created_at":"T","updated_at":"T","name":"shared","metadata":{"labels":{},"annotations":{}},` +
		`"links":{"self":{"href":"` + shared + `"},"organizations":{"href":"` + shared + `/organizations"}}}`
	if got != want {
		t.Errorf("shared\n got %s\nwant %s", got, want)
	}
	// Not entitled to any org of the developer yet.
	roleNotFound("Isolation segment").assert(t, c.do("GET", "/v3/isolation_segments/"+SharedIsolationSegmentGUID, "developer", nil))
	orgRel := "/v3/organizations/" + DemoOrgGUID + "/relationships/default_isolation_segment"
	c.must(200, "GET", orgRel, "developer", nil).exactly(t, `{"data":null,"links":{"self":{"href":"http://api.example.org`+orgRel+`"}}}`)

	roleUnprocessable("Unable to assign isolation segment with guid '"+SharedIsolationSegmentGUID+"'. Ensure it has been entitled to the organization.").
		assert(t, c.do("PATCH", orgRel, "admin", map[string]any{"data": map[string]string{"guid": SharedIsolationSegmentGUID}}))
	roleUnprocessable("Unable to entitle organizations ['nope', 'gone'] for the isolation segment. Ensure the organizations exist.").
		assert(t, c.do("POST", "/v3/isolation_segments/"+SharedIsolationSegmentGUID+"/relationships/organizations", "admin",
			map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}, {"guid": "nope"}, {"guid": "gone"}}}))
	c.must(200, "POST", "/v3/isolation_segments/"+SharedIsolationSegmentGUID+"/relationships/organizations", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}).
		exactly(t, `{"data":[{"guid":"`+DemoOrgGUID+`"}],"links":{"self":{"href":"`+shared+`/relationships/organizations"},"related":{"href":"`+shared+`/organizations"}}}`)
	defaultShared := `{"data":{"guid":"` + SharedIsolationSegmentGUID + `"},"links":{"self":{"href":"http://api.example.org` + orgRel + `"},"related":{"href":"` + shared + `"}}}`
	c.must(200, "GET", orgRel, "developer", nil).exactly(t, defaultShared)
	var orgs listBody
	c.must(200, "GET", "/v3/isolation_segments/"+SharedIsolationSegmentGUID+"/organizations?names=demo-org", "developer", nil).json(t, &orgs)
	if len(orgs.Resources) != 1 || orgs.Resources[0].GUID != DemoOrgGUID ||
		hrefOf(orgs.Pagination.First) != shared+"/organizations?names=demo-org&page=1&per_page=50" {
		t.Errorf("segment's orgs %+v", orgs)
	}
	c.must(200, "GET", "/v3/isolation_segments/"+SharedIsolationSegmentGUID, "developer", nil)

	// A segment of the admin's making, entitled to nobody yet.
	var seg struct{ GUID string }
	c.must(201, "POST", "/v3/isolation_segments", "admin", map[string]any{"name": "dmz", "metadata": map[string]any{"labels": map[string]string{"zone": "a"}}}).json(t, &seg)
	roleUnprocessable("Isolation Segment names are case insensitive and must be unique").assert(t, c.do("POST", "/v3/isolation_segments", "admin", map[string]any{"name": "DMZ"}))
	roleUnprocessable("Name can't be blank").assert(t, c.do("POST", "/v3/isolation_segments", "admin", map[string]any{}))
	roleUnprocessable("Unknown field(s): 'org'").assert(t, c.do("POST", "/v3/isolation_segments", "admin", map[string]any{"name": "x", "org": 1}))
	var page listBody
	c.must(200, "GET", "/v3/isolation_segments?order_by=name", "admin", nil).json(t, &page)
	if len(page.Resources) != 2 || page.Resources[0].Name != "dmz" {
		t.Errorf("admin list %+v", page.Resources)
	}
	c.must(200, "GET", "/v3/isolation_segments", "developer", nil).json(t, &page)
	if len(page.Resources) != 1 || page.Resources[0].GUID != SharedIsolationSegmentGUID {
		t.Errorf("developer list %+v", page.Resources)
	}
	c.must(200, "GET", "/v3/isolation_segments?organization_guids="+DemoOrgGUID, "admin", nil).json(t, &page)
	if len(page.Resources) != 1 {
		t.Errorf("organization_guids %+v", page.Resources)
	}
	c.must(200, "GET", "/v3/isolation_segments?label_selector=zone=a", "admin", nil).json(t, &page)
	if len(page.Resources) != 1 || page.Resources[0].GUID != seg.GUID {
		t.Errorf("label_selector %+v", page.Resources)
	}

	// The space's segment: org managers and admins set it, not space roles.
	spaceRel := "/v3/spaces/" + DemoSpaceGUID + "/relationships/isolation_segment"
	roleNotAuthorized.assert(t, c.do("PATCH", spaceRel, "developer", map[string]any{"data": map[string]string{"guid": SharedIsolationSegmentGUID}}))
	roleUnprocessable("Unable to assign isolation segment with guid '"+seg.GUID+"'. Ensure it has been entitled to the organization that this space belongs to.").
		assert(t, c.do("PATCH", spaceRel, "admin", map[string]any{"data": map[string]string{"guid": seg.GUID}}))
	roleUnprocessable("Data can only accept one key, Data can only accept key 'guid'").
		assert(t, c.do("PATCH", spaceRel, "admin", map[string]any{"data": map[string]string{"name": "x", "zone": "y"}}))
	roleUnprocessable("Data 5 must be a string").assert(t, c.do("PATCH", spaceRel, "admin", `{"data":{"guid":5}}`))
	roleUnprocessable("Unknown field(s): 'guid'").assert(t, c.do("PATCH", orgRel, "admin", `{"guid":"x"}`))
	c.addManager(DemoOrgGUID)
	spaceShared := `{"data":{"guid":"` + SharedIsolationSegmentGUID + `"},"links":{"self":{"href":"http://api.example.org` + spaceRel + `"},"related":{"href":"` + shared + `"}}}`
	c.must(200, "PATCH", spaceRel, "manager", map[string]any{"data": map[string]string{"guid": SharedIsolationSegmentGUID}}).exactly(t, spaceShared)
	c.must(200, "GET", spaceRel, "auditor", nil).exactly(t, spaceShared)
	c.must(200, "GET", "/v3/isolation_segments/"+SharedIsolationSegmentGUID+"/relationships/spaces", "developer", nil).
		exactly(t, `{"data":[{"guid":"`+DemoSpaceGUID+`"}],"links":{"self":{"href":"`+shared+`/relationships/spaces"}}}`)
	var events listBody
	c.must(200, "GET", "/v3/audit_events?types=audit.space.update&target_guids="+DemoSpaceGUID, "admin", nil).json(t, &events)
	if len(events.Resources) != 1 {
		t.Errorf("audit.space.update events: %d", len(events.Resources))
	}
	// null takes the space out; the org's default is cleared the same way.
	c.must(200, "PATCH", spaceRel, "admin", `{"data":null}`).exactly(t, `{"data":null,"links":{"self":{"href":"http://api.example.org`+spaceRel+`"}}}`)
	roleNotAuthorized.assert(t, c.do("PATCH", orgRel, "developer", `{"data":null}`))
	c.must(200, "PATCH", orgRel, "manager", `{"data":null}`)
	c.must(200, "GET", orgRel, "developer", nil).exactly(t, `{"data":null,"links":{"self":{"href":"http://api.example.org`+orgRel+`"}}}`)
	c.must(200, "PATCH", orgRel, "admin", map[string]any{"data": map[string]string{"guid": SharedIsolationSegmentGUID}}).exactly(t, defaultShared)

	// Updates, revocations and deletes, with IsolationSegmentUpdate's,
	// IsolationSegmentUnassign's and IsolationSegmentDelete's texts.
	sharedPath := "/v3/isolation_segments/" + SharedIsolationSegmentGUID
	roleUnprocessable("Cannot update the shared Isolation Segment").assert(t, c.do("PATCH", sharedPath, "admin", map[string]any{"name": "x"}))
	roleUnprocessable("Cannot delete the shared Isolation Segment").assert(t, c.do("DELETE", sharedPath, "admin", nil))
	roleUnprocessable("Cannot remove the entitlement while this Isolation Segment is assigned as the Default Isolation Segment for the Organization.").
		assert(t, c.do("DELETE", sharedPath+"/relationships/organizations/"+DemoOrgGUID, "admin", nil))
	dmz := "/v3/isolation_segments/" + seg.GUID
	c.must(200, "POST", dmz+"/relationships/organizations", "admin", map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}})
	c.must(200, "PATCH", spaceRel, "admin", map[string]any{"data": map[string]string{"guid": seg.GUID}})
	roleUnprocessable("Cannot remove the entitlement while this Isolation Segment is assigned to any Spaces. Currently assigned to: 'demo-space'").
		assert(t, c.do("DELETE", dmz+"/relationships/organizations/"+DemoOrgGUID, "admin", nil))
	roleUnprocessable("Cannot update Isolation Segments that are assigned as the default for an Organization or Space.").
		assert(t, c.do("PATCH", dmz, "admin", map[string]any{"name": "x"}))
	roleUnprocessable("Revoke the Organization entitlements for your Isolation Segment.").assert(t, c.do("DELETE", dmz, "admin", nil))
	c.must(200, "PATCH", spaceRel, "admin", `{}`).exactly(t, `{"data":null,"links":{"self":{"href":"http://api.example.org`+spaceRel+`"}}}`)
	c.must(204, "DELETE", dmz+"/relationships/organizations/"+DemoOrgGUID, "admin", nil)
	roleNotFound("Org").assert(t, c.do("DELETE", dmz+"/relationships/organizations/nope", "admin", nil))
	roleUnprocessable("Data  not a string, Data 5 not a string").
		assert(t, c.do("POST", dmz+"/relationships/organizations", "admin", `{"data":[{"guid":null},{"guid":5}]}`))
	roleUnprocessable("Isolation Segment names are case insensitive and must be unique").assert(t, c.do("PATCH", dmz, "admin", map[string]any{"name": "Shared"}))
	var renamed struct {
		Name     string
		Metadata struct{ Labels map[string]string }
	}
	c.must(200, "PATCH", dmz, "admin", map[string]any{"name": "dmz-2", "metadata": map[string]any{"labels": map[string]any{"zone": nil, "tier": "1"}}}).json(t, &renamed)
	if renamed.Name != "dmz-2" || len(renamed.Metadata.Labels) != 1 || renamed.Metadata.Labels["tier"] != "1" {
		t.Errorf("renamed %+v", renamed)
	}
	c.must(204, "DELETE", dmz, "admin", nil)
	roleNotFound("Isolation segment").assert(t, c.do("GET", dmz, "admin", nil))
}

// exactly fails t unless the body is want, timestamps blanked to "T".
func (r resp) exactly(t testing.TB, want string) {
	t.Helper()
	if got := timestamps.ReplaceAllString(string(r.body), `"T"`); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}
