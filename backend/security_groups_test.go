package backend

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// placementRoleRows are the security group, isolation segment and usage
// summary rows of the role table, run by TestRolePlacement on a fresh org
// ({org}) and space ({space}) where developer is space developer and
// auditor space auditor, a fresh security group ({sg}) bound to the space
// for running and staging, and a fresh isolation segment ({seg}) entitled
// to the org.
var placementRoleRows = []roleRow{
	{"list security groups", "GET", "/v3/security_groups?guids={sg}", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
	{"security group", "GET", "/v3/security_groups/{sg}", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Security group"))},
	{"create security group", "POST", "/v3/security_groups", map[string]any{"name": "{name}"},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update security group", "PATCH", "/v3/security_groups/{sg}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"delete security group", "DELETE", "/v3/security_groups/{sg}", nil,
		rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"bind running", "POST", "/v3/security_groups/{sg}/relationships/running_spaces", map[string]any{"data": []map[string]string{{"guid": "{space}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"bind staging", "POST", "/v3/security_groups/{sg}/relationships/staging_spaces", map[string]any{"data": []map[string]string{{"guid": "{space}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"unbind running", "DELETE", "/v3/security_groups/{sg}/relationships/running_spaces/{space}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"unbind staging", "DELETE", "/v3/security_groups/{sg}/relationships/staging_spaces/{space}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotFound("Security group"))},
	{"space running security groups", "GET", "/v3/spaces/{space}/running_security_groups", nil,
		rolePer(roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)), roleNotFound("Space"))},
	{"space staging security groups", "GET", "/v3/spaces/{space}/staging_security_groups", nil,
		rolePer(roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)), roleNotFound("Space"))},

	{"list isolation segments", "GET", "/v3/isolation_segments?guids={seg}", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
	{"isolation segment", "GET", "/v3/isolation_segments/{seg}", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Isolation segment"))},
	{"create isolation segment", "POST", "/v3/isolation_segments", map[string]any{"name": "{name}"},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update isolation segment", "PATCH", "/v3/isolation_segments/{seg}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"delete isolation segment", "DELETE", "/v3/isolation_segments/{seg}", nil,
		rolePer(roleUnprocessable("Revoke the Organization entitlements for your Isolation Segment."), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"revoke entitlement", "DELETE", "/v3/isolation_segments/{seg}/relationships/organizations/{org}", nil,
		rolePer(roleOK(204), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"segment organizations", "GET", "/v3/isolation_segments/{seg}/relationships/organizations", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Isolation segment"))},
	{"entitle organizations", "POST", "/v3/isolation_segments/{seg}/relationships/organizations", map[string]any{"data": []map[string]string{{"guid": "{org}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"segment organization list", "GET", "/v3/isolation_segments/{seg}/organizations", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleNotFound("Isolation segment"))},
	{"segment spaces", "GET", "/v3/isolation_segments/{seg}/relationships/spaces", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Isolation segment"))},
	{"org default segment", "GET", "/v3/organizations/{org}/relationships/default_isolation_segment", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Organization"))},
	{"set org default segment", "PATCH", "/v3/organizations/{org}/relationships/default_isolation_segment", map[string]any{"data": map[string]string{"guid": "{seg}"}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Organization"))},
	{"space segment", "GET", "/v3/spaces/{space}/relationships/isolation_segment", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Space"))},
	{"set space segment", "PATCH", "/v3/spaces/{space}/relationships/isolation_segment", map[string]any{"data": map[string]string{"guid": "{seg}"}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotFound("Space"))},

	{"org usage summary", "GET", "/v3/organizations/{org}/usage_summary", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Organization"))},
	{"space usage summary", "GET", "/v3/spaces/{space}/usage_summary", nil,
		rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Space"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, placementRoleRows...) }

// placementFixture makes a fresh org and space named after n, where the
// developer is space developer and the auditor space auditor, a security
// group bound to the space for running and staging, and an isolation
// segment entitled to the org.
func placementFixture(t *testing.T, c *cf, n int64) (org, space, sg, seg string) {
	t.Helper()
	st := c.srv.Store()
	ctx := t.Context()
	now := st.Now()
	org, space = fmt.Sprintf("0d0e0000-0000-4000-8000-5ec%09d", n), fmt.Sprintf("5ace0000-0000-4000-8000-5ec%09d", n)
	sg, seg = fmt.Sprintf("5ec90000-0000-4000-8000-5ec%09d", n), fmt.Sprintf("15e90000-0000-4000-8000-5ec%09d", n)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateOrg(ctx, store.Org{GUID: org, Name: "placement-org-" + org, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}))
	must(st.CreateSpace(ctx, store.Space{GUID: space, Name: "placement-space", OrgGUID: org, AllowSSH: true, CreatedAt: now, UpdatedAt: now}))
	for _, r := range []store.Role{
		{Type: store.RoleOrgUser, UserGUID: DeveloperGUID, OrgGUID: org},
		{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, OrgGUID: org, SpaceGUID: space},
		{Type: store.RoleOrgUser, UserGUID: AuditorGUID, OrgGUID: org},
		{Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID, OrgGUID: org, SpaceGUID: space},
	} {
		r.GUID = fmt.Sprintf("%s-%s-%s", r.Type, r.UserGUID[len(r.UserGUID)-4:], org)
		must(st.AddRole(ctx, r))
	}
	must(st.CreateSecurityGroup(ctx, store.SecurityGroup{GUID: sg, Name: "placement-sg-" + sg, Rules: json.RawMessage("[]"), CreatedAt: now, UpdatedAt: now},
		[]string{space}, []string{space}))
	must(st.CreateIsolationSegment(ctx, store.IsolationSegment{GUID: seg, Name: "placement-seg-" + seg, CreatedAt: now, UpdatedAt: now}))
	must(st.EntitleOrgs(ctx, seg, SharedIsolationSegmentGUID, []string{org}))
	return org, space, sg, seg
}

func TestRolePlacement(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range placementRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				n := seq.Add(1)
				org, space, sg, seg := placementFixture(t, c, n)
				fill := strings.NewReplacer("{org}", org, "{space}", space, "{sg}", sg, "{seg}", seg, "{name}", fmt.Sprintf("placement-name-%d", n))
				row.runWrite(t, c, user, fill)
			})
		}
	}
}

// TestSecurityGroupShapes: the seeded groups are cf-deployment's, shown as
// SecurityGroupPresenter shows them; a space's running list is the global
// groups plus its own, each naming that space alone.
func TestSecurityGroupShapes(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/security_groups/"+DNSSecurityGroupGUID, "outsider", nil).body), `"T"`)
	want := `{"guid":"` + DNSSecurityGroupGUID + `","created_at":"T","updated_at":"T","name":"dns",` +
		`"rules":[{"destination":"0.0.0.0/0","ports":"53","protocol":"tcp"},{"destination":"0.0.0.0/0","ports":"53","protocol":"udp"}],` +
		`"globally_enabled":{"running":true,"staging":true},"relationships":{"running_spaces":{"data":[]},"staging_spaces":{"data":[]}},` +
		`"links":{"self":{"href":"http://api.example.org/v3/security_groups/` + DNSSecurityGroupGUID + `"}}}`
	if got != want {
		t.Errorf("dns\n got %s\nwant %s", got, want)
	}

	var sg struct{ GUID string }
	rules := `[{"protocol":"tcp","destination":"10.0.11.0/24","ports":"80,443","log":true,"description":"web"},{"protocol":"icmp","destination":"10.0.0.1-10.0.0.9","type":0,"code":-1}]`
	c.must(201, "POST", "/v3/security_groups", "admin", `{"name":"backends","rules":`+rules+`,"relationships":{"running_spaces":{"data":[{"guid":"`+DemoSpaceGUID+`"}]}}}`).json(t, &sg)
	c.addOtherSpace()
	c.must(200, "POST", "/v3/security_groups/"+sg.GUID+"/relationships/running_spaces", "admin", map[string]any{"data": []map[string]string{{"guid": otherSpaceGUID}}})

	got = timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID+"/running_security_groups?names=backends", "developer", nil).body), `"T"`)
	base := "http://api.example.org/v3/spaces/" + DemoSpaceGUID + "/running_security_groups?names=backends&page=1&per_page=50"
	want = `{"pagination":{"total_results":1,"total_pages":1,"first":{"href":"` + base + `"},"last":{"href":"` + base + `"},"next":null,"previous":null},` +
		`"resources":[{"guid":"` + sg.GUID + `","created_at":"T","updated_at":"T","name":"backends","rules":` + rules + `,` +
		`"globally_enabled":{"running":false,"staging":false},"relationships":{"running_spaces":{"data":[{"guid":"` + DemoSpaceGUID + `"}]},` +
		`"staging_spaces":{"data":[]}},"links":{"self":{"href":"http://api.example.org/v3/security_groups/` + sg.GUID + `"}}}]}`
	if got != want {
		t.Errorf("running security groups\n got %s\nwant %s", got, want)
	}
	var page struct {
		Resources []struct{ Name string } `json:"resources"`
	}
	c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID+"/running_security_groups", "auditor", nil).json(t, &page)
	if len(page.Resources) != 3 || page.Resources[0].Name != "public_networks" || page.Resources[1].Name != "dns" || page.Resources[2].Name != "backends" {
		t.Errorf("running security groups %+v", page.Resources)
	}
	c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID+"/staging_security_groups", "auditor", nil).json(t, &page)
	if len(page.Resources) != 2 {
		t.Errorf("staging security groups %+v", page.Resources)
	}

	// The admin sees both spaces; the developer only the one it has a role in.
	var shown struct {
		Relationships struct {
			RunningSpaces struct {
				Data []struct{ GUID string }
			} `json:"running_spaces"`
		}
	}
	c.must(200, "GET", "/v3/security_groups/"+sg.GUID, "admin", nil).json(t, &shown)
	if d := shown.Relationships.RunningSpaces.Data; len(d) != 2 || d[0].GUID != DemoSpaceGUID || d[1].GUID != otherSpaceGUID {
		t.Errorf("admin sees running spaces %+v", d)
	}
	c.must(200, "GET", "/v3/security_groups/"+sg.GUID, "developer", nil).json(t, &shown)
	if d := shown.Relationships.RunningSpaces.Data; len(d) != 1 || d[0].GUID != DemoSpaceGUID {
		t.Errorf("developer sees running spaces %+v", d)
	}

	for _, tc := range []struct{ query, want string }{
		{"globally_enabled_running=true", "public_networks,dns"},
		{"globally_enabled_staging=false", "backends"},
		{"running_space_guids=" + otherSpaceGUID, "backends"},
		{"staging_space_guids=" + otherSpaceGUID, ""},
		{"names=dns,backends", "dns,backends"},
		{"guids=" + PublicNetworksSecurityGroupGUID, "public_networks"},
	} {
		c.must(200, "GET", "/v3/security_groups?"+tc.query, "admin", nil).json(t, &page)
		var names []string
		for _, r := range page.Resources {
			names = append(names, r.Name)
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("%s: %v, want %s", tc.query, names, tc.want)
		}
	}
}

// TestSecurityGroupWrites: CC's texts for bad messages, taken names,
// missing spaces and bindings, and what PATCH and DELETE do.
func TestSecurityGroupWrites(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	unprocessable := func(method, path, user string, body any, detail string) {
		t.Helper()
		roleUnprocessable(detail).assert(t, c.do(method, path, user, body))
	}
	for _, tc := range []struct {
		name, body, detail string
	}{
		{"no name", `{}`, "Name can't be blank, Name must be a string"},
		{"unknown key", `{"name":"x","bogus":1}`, "Unknown field(s): 'bogus'"},
		{"rules not an array", `{"name":"x","rules":{}}`, "Rules must be an array"},
		{"rule not an object", `{"name":"x","rules":[1]}`, "Rules[0]: must be an object"},
		{"rule problems", `{"name":"x","rules":[{"protocol":"tcp","destination":"10.0.0.01","ports":"0","foo":1},{"protocol":"icmp","destination":"1.2.3.4-1.2.3.1"}]}`,
			`Rules[0]: unknown field(s): ["foo"], Rules[0]: destination octets cannot contain leading zeros, ` +
				`Rules[0]: ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string, ` +
				`Rules[1]: beginning of IP address range is numerically greater than the end of its range (range endpoints are inverted), ` +
				`Rules[1]: code is required for protocols of type ICMP, Rules[1]: code must be an integer between -1 and 255 (inclusive), ` +
				`Rules[1]: type is required for protocols of type ICMP, Rules[1]: type must be an integer between -1 and 255 (inclusive)`},
		{"bad protocol and destination", `{"name":"x","rules":[{"protocol":"sctp","destination":"10.0.0.0/8, 10.1.0.0/16"},{"protocol":"all","ports":"80"}]}`,
			`Rules[0]: protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all', Rules[0]: destination must not contain whitespace, ` +
				`Rules[1]: destination must be a valid CIDR, IP address, or IP address range, Rules[1]: ports are not allowed for protocols of type all`},
		{"icmpv6", `{"name":"x","rules":[{"protocol":"icmpv6","destination":"10.0.0.1","type":1,"code":1}]}`,
			`Rules[0]: for protocol "icmpv6" you cannot use IPv4 addresses, Rules[0]: icmpv6 cannot be used if enable_ipv6 is false`},
		{"model rules", `{"name":"x","rules":[{"protocol":"tcp","destination":"10.0.0.1","ports":"80","type":1}]}`,
			"rules rule number 1 contains the invalid field 'type'"},
		{"globally_enabled", `{"name":"x","globally_enabled":{"running":"yes"}}`, "Globally enabled values must be booleans"},
		{"globally_enabled keys", `{"name":"x","globally_enabled":{"always":true}}`, "Globally enabled only allows keys 'running' or 'staging'"},
		{"relationships", `{"name":"x","relationships":{"running_spaces":{"data":"x"}}}`,
			`Relationships Running spaces must be structured like this: "running_spaces: {"data": [{"guid": "valid-guid"},{"guid": "valid-guid"}]}"`},
		{"taken", `{"name":"dns"}`, "Security group with name 'dns' already exists."},
		{"missing spaces", `{"name":"x","relationships":{"staging_spaces":{"data":[{"guid":"nope"}]}}}`, `Spaces with guids ["nope"] do not exist.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unprocessable("POST", "/v3/security_groups", "admin", tc.body, tc.detail)
		})
	}

	var sg struct{ GUID string }
	c.must(201, "POST", "/v3/security_groups", "admin", map[string]any{"name": "edge", "rules": []any{}}).json(t, &sg)
	path := "/v3/security_groups/" + sg.GUID
	unprocessable("PATCH", path, "admin", `{"name":""}`, "Name is too short (minimum is 1 character)")
	unprocessable("PATCH", path, "admin", `{"name":"dns"}`, "Security group with name 'dns' already exists.")
	var updated struct {
		Name            string
		Rules           json.RawMessage
		GloballyEnabled struct{ Running, Staging bool } `json:"globally_enabled"`
	}
	c.must(200, "PATCH", path, "admin", `{"globally_enabled":{"staging":true},"rules":[{"protocol":"udp","destination":"10.0.0.0/8","ports":"1000-2000"}]}`).json(t, &updated)
	if updated.Name != "edge" || !updated.GloballyEnabled.Staging || updated.GloballyEnabled.Running ||
		string(updated.Rules) != `[{"protocol":"udp","destination":"10.0.0.0/8","ports":"1000-2000"}]` {
		t.Errorf("updated %+v %s", updated, updated.Rules)
	}
	// A global group is visible to the outsider, who still may not bind it
	// to a space it cannot see.
	unprocessable("POST", path+"/relationships/running_spaces", "admin", map[string]any{"data": []map[string]string{{"guid": "nope"}}},
		`Spaces with guids ["nope"] do not exist, or you do not have access to them.`)
	roleNotAuthorized.assert(t, c.do("POST", path+"/relationships/running_spaces", "outsider", map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}))
	unprocessable("DELETE", path+"/relationships/running_spaces/"+DemoSpaceGUID, "admin", nil,
		"Unable to unbind security group from space with guid '"+DemoSpaceGUID+"'. Ensure the space is bound to this security group.")
	unprocessable("DELETE", path+"/relationships/staging_spaces/nope", "admin", nil,
		"Unable to unbind security group from space with guid 'nope'. Ensure the space is bound to this security group.")
	unprocessable("GET", "/v3/security_groups?globally_enabled_running=yes", "admin", nil, "Globally enabled running must be 'true' or 'false'")
	unprocessable("GET", "/v3/spaces/"+DemoSpaceGUID+"/running_security_groups?running_space_guids=x", "admin", nil,
		"Unknown query parameter(s): 'running_space_guids'. Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', 'created_ats[lt]', "+
			"'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', 'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', "+
			"'updated_ats[gte]', 'guids', 'names'")

	// A space manager binds and unbinds its space; a space developer may not.
	if err := c.srv.Store().AddRole(t.Context(), store.Role{GUID: "placement-manager", Type: store.RoleSpaceManager, UserGUID: AuditorGUID,
		OrgGUID: DemoOrgGUID, SpaceGUID: DemoSpaceGUID}); err != nil {
		t.Fatal(err)
	}
	var rel struct {
		Data  []struct{ GUID string }
		Links struct{ Self struct{ Href string } }
	}
	c.must(200, "POST", path+"/relationships/staging_spaces", "auditor", map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}).json(t, &rel)
	if len(rel.Data) != 1 || rel.Data[0].GUID != DemoSpaceGUID || rel.Links.Self.Href != "http://api.example.org"+path+"/relationships/staging_spaces" {
		t.Errorf("bind: %+v", rel)
	}
	roleNotAuthorized.assert(t, c.do("DELETE", path+"/relationships/staging_spaces/"+DemoSpaceGUID, "developer", nil))
	c.must(204, "DELETE", path+"/relationships/staging_spaces/"+DemoSpaceGUID, "auditor", nil)

	loc := c.must(202, "DELETE", path, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("delete job %s", state)
	}
	roleNotFound("Security group").assert(t, c.do("GET", path, "admin", nil))
}
