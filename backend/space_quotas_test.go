package backend

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// spaceQuotaRoleRows are the space quota rows of the role table, run by
// TestRoleSpaceQuotas on fresh fixtures in demo-org: {quota} applied to
// {space}, where developer and auditor hold their roles, {free} applied
// to no space, and {other}, a space without a quota. Readers see the
// quotas of their spaces; admins (and org managers) write.
var spaceQuotaRoleRows = []roleRow{
	{"list space quotas", "GET", "/v3/space_quotas?guids={quota},{free}", nil,
		rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
	{"space quota", "GET", "/v3/space_quotas/{quota}", nil,
		rolePer(roleOK(200, roleField("guid", "{quota}")), roleOK(200, roleField("guid", "{quota}")), roleOK(200), roleNotFound("Space quota"))},
	{"create space quota", "POST", "/v3/space_quotas",
		map[string]any{"name": "{name}", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update space quota", "PATCH", "/v3/space_quotas/{quota}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
	{"delete space quota", "DELETE", "/v3/space_quotas/{free}", nil,
		rolePer(roleOK(202), roleNotFound("Space quota"), roleNotFound("Space quota"), roleNotFound("Space quota"))},
	{"apply space quota", "POST", "/v3/space_quotas/{quota}/relationships/spaces", map[string]any{"data": []map[string]string{{"guid": "{other}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
	{"remove space quota", "DELETE", "/v3/space_quotas/{quota}/relationships/spaces/{space}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space quota"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, spaceQuotaRoleRows...) }

// spaceQuotaFixture adds a space quota named name to org with limits, and
// applies it to spaces.
func spaceQuotaFixture(t testing.TB, c *cf, guid, org string, limits store.QuotaLimits, spaces ...string) {
	t.Helper()
	now := c.srv.Store().Now()
	if err := c.srv.Store().CreateSpaceQuota(t.Context(), store.SpaceQuota{GUID: guid, Name: guid, OrgGUID: org, QuotaLimits: limits,
		CreatedAt: now, UpdatedAt: now}, spaces); err != nil {
		t.Fatal(err)
	}
}

// spaceFixture adds a space to demo-org, where developer and auditor
// hold their roles.
func spaceFixture(t testing.TB, c *cf, guid string) {
	t.Helper()
	st := c.srv.Store()
	now := st.Now()
	if err := st.CreateSpace(t.Context(), store.Space{GUID: guid, Name: guid, OrgGUID: DemoOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for user, typ := range map[string]string{DeveloperGUID: store.RoleSpaceDeveloper, AuditorGUID: store.RoleSpaceAuditor} {
		if err := st.AddRole(t.Context(), store.Role{GUID: guid + "-" + typ, Type: typ, UserGUID: user, OrgGUID: DemoOrgGUID, SpaceGUID: guid}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoleSpaceQuotas(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range spaceQuotaRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				n := seq.Add(1)
				quota, free, space, other := fmt.Sprintf("sq-%d", n), fmt.Sprintf("sq-free-%d", n), fmt.Sprintf("sq-space-%d", n), fmt.Sprintf("sq-other-%d", n)
				spaceFixture(t, c, space)
				spaceFixture(t, c, other)
				spaceQuotaFixture(t, c, quota, DemoOrgGUID, store.QuotaLimits{PaidServicesAllowed: true}, space)
				spaceQuotaFixture(t, c, free, DemoOrgGUID, store.QuotaLimits{PaidServicesAllowed: true})
				fill := strings.NewReplacer("{quota}", quota, "{free}", free, "{space}", space, "{other}", other, "{name}", fmt.Sprintf("sq-name-%d", n))
				row.runWrite(t, c, user, fill, "{quota}")
			})
		}
	}
}

// TestSpaceQuotaJSON: a created space quota as SpaceQuotaPresenter shows
// it, to the admin and to a developer of its space; the lists' filters;
// an outsider sees none of it.
func TestSpaceQuotaJSON(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var q spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "gold",
		"apps":     map[string]any{"total_memory_in_mb": 2048, "per_process_memory_in_mb": 1024, "total_instances": 10, "per_app_tasks": 5},
		"services": map[string]any{"paid_services_allowed": false, "total_service_instances": 3, "total_service_keys": 4},
		"routes":   map[string]any{"total_routes": 8, "total_reserved_ports": 0},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}},
			"spaces": map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}}}).json(t, &q)
	want := `{"guid":"` + q.GUID + `","created_at":"T","updated_at":"T","name":"gold",` +
		`"apps":{"total_memory_in_mb":2048,"per_process_memory_in_mb":1024,"total_instances":10,"per_app_tasks":5,"log_rate_limit_in_bytes_per_second":null},` +
		`"services":{"paid_services_allowed":false,"total_service_instances":3,"total_service_keys":4},` +
		`"routes":{"total_routes":8,"total_reserved_ports":0},` +
		`"relationships":{"organization":{"data":{"guid":"` + DemoOrgGUID + `"}},"spaces":{"data":[{"guid":"` + DemoSpaceGUID + `"}]}},` +
		`"links":{"self":{"href":"http://api.example.org/v3/space_quotas/` + q.GUID + `"},` +
		`"organization":{"href":"http://api.example.org/v3/organizations/` + DemoOrgGUID + `"}}}`
	for _, user := range []string{"admin", "developer", "auditor"} {
		got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/space_quotas/"+q.GUID, user, nil).body), `"T"`)
		if got != want {
			t.Errorf("%s reads\n got %s\nwant %s", user, got, want)
		}
	}
	c.must(404, "GET", "/v3/space_quotas/"+q.GUID, "outsider", nil)

	var bare spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "bare",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}}).json(t, &bare)
	if bare.Apps.TotalMemoryInMB != nil || bare.Apps.PerAppTasks != nil || bare.Routes.TotalReservedPorts != nil ||
		!bare.Services.PaidServicesAllowed || len(bare.Relationships.Spaces.Data) != 0 {
		t.Errorf("bare quota %+v", bare)
	}
	for _, tc := range []struct {
		user, query string
		want        int
	}{
		{"admin", "", 2},
		{"admin", "?names=gold", 1},
		{"admin", "?organization_guids=" + DemoOrgGUID, 2},
		{"admin", "?space_guids=" + DemoSpaceGUID, 1},
		{"admin", "?guids=" + bare.GUID, 1},
		{"developer", "", 1},
		{"outsider", "", 0},
	} {
		roleOK(200, roleTotal(tc.want)).assert(t, c.do("GET", "/v3/space_quotas"+tc.query, tc.user, nil))
	}
	roleWant{status: 400, title: "CF-BadQueryParameter", code: 10005, detail: "The query parameter is invalid: Unknown query parameter(s): 'domains'. " +
		"Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', 'created_ats[lt]', 'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', " +
		"'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', 'updated_ats[gte]', 'guids', 'names', 'organization_guids', 'space_guids'"}.
		assert(t, c.do("GET", "/v3/space_quotas?domains=x", "admin", nil))

	// The space shows the quota; removed, it shows none.
	var sp spaceJSON
	c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID, "developer", nil).json(t, &sp)
	if sp.Relationships.Quota.Data == nil || *sp.Relationships.Quota.Data.GUID != q.GUID ||
		sp.Links.Quota == nil || sp.Links.Quota.Href != "http://api.example.org/v3/space_quotas/"+q.GUID {
		t.Errorf("space quota %+v, link %+v", sp.Relationships.Quota.Data, sp.Links.Quota)
	}
	c.must(204, "DELETE", "/v3/space_quotas/"+q.GUID+"/relationships/spaces/"+DemoSpaceGUID, "admin", nil)
	body := string(c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID, "developer", nil).body)
	if !strings.Contains(body, `"quota":{"data":null}`) || strings.Contains(body, "space_quotas") {
		t.Errorf("space without a quota: %s", body)
	}
	c.must(404, "GET", "/v3/space_quotas/"+q.GUID, "developer", nil)

	got := string(c.must(200, "POST", "/v3/space_quotas/"+q.GUID+"/relationships/spaces", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}).body)
	if want := `{"data":[{"guid":"` + DemoSpaceGUID + `"}],"links":{"self":{"href":"http://api.example.org/v3/space_quotas/` + q.GUID +
		`/relationships/spaces"}}}`; got != want {
		t.Errorf("apply\n got %s\nwant %s", got, want)
	}
	var events struct{ Resources []struct{ Type string } }
	c.must(200, "GET", "/v3/audit_events?target_guids="+q.GUID, "admin", nil).json(t, &events)
	var types []string
	for _, e := range events.Resources {
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "audit.space_quota.create,audit.space_quota.remove,audit.space_quota.apply" {
		t.Errorf("events %v", types)
	}
}

// TestSpaceQuotaErrors: CC's texts for the writes' failures, and an org
// manager's rights.
func TestSpaceQuotaErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addOtherSpace()
	c.addManager(DemoOrgGUID)
	org := func(guid string) map[string]any {
		return map[string]any{"organization": map[string]any{"data": map[string]string{"guid": guid}}}
	}
	withSpaces := func(guid string, spaces ...string) map[string]any {
		rels := org(guid)
		data := []map[string]string{}
		for _, s := range spaces {
			data = append(data, map[string]string{"guid": s})
		}
		rels["spaces"] = map[string]any{"data": data}
		return rels
	}
	var q spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "manager", map[string]any{"name": "silver", "relationships": withSpaces(DemoOrgGUID, DemoSpaceGUID)}).json(t, &q)
	c.must(200, "PATCH", "/v3/space_quotas/"+q.GUID, "manager", map[string]any{"routes": map[string]any{"total_routes": 4},
		"domains": map[string]any{"total_domains": 2}})

	for _, tc := range []struct {
		name, method, path, user string
		body                     any
		want                     roleWant
	}{
		{"no body", "POST", "/v3/space_quotas", "admin", map[string]any{},
			roleUnprocessable("Relationships 'relationships' is not an object, Name can't be blank")},
		{"no organization", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "x", "relationships": map[string]any{"spaces": map[string]any{"data": []any{}}}},
			roleUnprocessable(`Relationships Organization must be structured like this: "organization: {"data": {"guid": "valid-guid"}}"`)},
		{"bad limits", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "x", "domains": map[string]any{}, "apps": map[string]any{"total_memory_in_mb": -1},
			"relationships": org(DemoOrgGUID)},
			roleUnprocessable("Unknown field(s): 'domains', Apps Total memory in mb must be greater than or equal to 0")},
		{"unknown org", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "x", "relationships": org(roleMissingGUID)},
			roleUnprocessable("Organization with guid '" + roleMissingGUID + "' does not exist, or you do not have access to it.")},
		{"manager of another org", "POST", "/v3/space_quotas", "manager", map[string]any{"name": "x", "relationships": org(otherOrgGUID)}, roleNotAuthorized},
		{"name taken", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "SILVER", "relationships": org(DemoOrgGUID)},
			roleUnprocessable("Space Quota 'SILVER' already exists.")},
		{"space of another org", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "x", "relationships": withSpaces(DemoOrgGUID, otherSpaceGUID)},
			roleUnprocessable(`Spaces with guids ["` + otherSpaceGUID + `"] do not exist within the organization specified, or you do not have access to them.`)},
		{"reserved ports past the org's", "POST", "/v3/space_quotas", "admin", map[string]any{"name": "x", "routes": map[string]any{"total_reserved_ports": 1},
			"relationships": org(DemoOrgGUID)},
			roleUnprocessable("Total reserved ports must be -1, 0, or a positive integer, must be less than or equal to total routes, " +
				"and must be less than or equal to total reserved ports for the organization quota.")},
		{"update name blank", "PATCH", "/v3/space_quotas/" + q.GUID, "admin", map[string]any{"name": ""},
			roleUnprocessable("Name is too short (minimum is 1 character)")},
		{"apply to another org", "POST", "/v3/space_quotas/" + q.GUID + "/relationships/spaces", "admin",
			map[string]any{"data": []map[string]string{{"guid": otherSpaceGUID}}},
			roleUnprocessable("Space quotas cannot be applied outside of their owning organization.")},
		{"apply to nothing", "POST", "/v3/space_quotas/" + q.GUID + "/relationships/spaces", "admin",
			map[string]any{"data": []map[string]string{{"guid": "nope"}}},
			roleUnprocessable(`Spaces with guids ["nope"] do not exist, or you do not have access to them.`)},
		{"remove where not applied", "DELETE", "/v3/space_quotas/" + q.GUID + "/relationships/spaces/" + otherSpaceGUID, "admin", nil,
			roleUnprocessable("Unable to remove quota from space with guid '" + otherSpaceGUID + "'. Ensure the space quota is applied to this space.")},
		{"delete while applied", "DELETE", "/v3/space_quotas/" + q.GUID, "manager", nil,
			roleUnprocessable("This quota is applied to one or more spaces. Remove this quota from all spaces before deleting.")},
		{"missing", "GET", "/v3/space_quotas/" + roleMissingGUID, "admin", nil, roleNotFound("Space quota")},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.want.assert(t, roleView(c, t).do(tc.method, tc.path, tc.user, tc.body)) })
	}

	// A limited log rate is refused while a space of the quota runs an
	// unlimited one (the default).
	c.createAppIn("developer", DemoSpaceGUID, "loud", nil)
	roleUnprocessable("Current usage exceeds new quota values. This quota is applied to space '"+DemoSpaceName+
		"' which contains apps running with an unlimited log rate limit.").
		assert(t, c.do("PATCH", "/v3/space_quotas/"+q.GUID, "admin", map[string]any{"apps": map[string]any{"log_rate_limit_in_bytes_per_second": 100}}))

	// Removed, it can go; the manager's delete is a job.
	c.must(204, "DELETE", "/v3/space_quotas/"+q.GUID+"/relationships/spaces/"+DemoSpaceGUID, "manager", nil)
	r := c.must(202, "DELETE", "/v3/space_quotas/"+q.GUID, "manager", nil)
	if state := c.waitJob(r.header["Location"], "manager"); state != store.JobComplete {
		t.Fatalf("delete job %s", state)
	}
	c.must(404, "GET", "/v3/space_quotas/"+q.GUID, "admin", nil)

	// An org's space quotas go with it.
	var other spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "doomed", "relationships": withSpaces(otherOrgGUID, otherSpaceGUID)}).json(t, &other)
	r = c.must(202, "DELETE", "/v3/organizations/"+otherOrgGUID, "admin", nil)
	if state := c.waitJob(r.header["Location"], "admin"); state != store.JobComplete {
		t.Fatalf("org delete job %s", state)
	}
	c.must(404, "GET", "/v3/space_quotas/"+other.GUID, "admin", nil)
}
