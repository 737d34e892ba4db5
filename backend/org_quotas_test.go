package backend

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// orgQuotaRoleRows are the organization quota rows of the role table, run
// by TestRoleOrgQuotas on a fresh quota ({quota}) that no org has and a
// fresh org ({org}). Every user reads every quota; only admins write.
var orgQuotaRoleRows = []roleRow{
	{"list org quotas", "GET", "/v3/organization_quotas?guids={quota}", nil, roleAll(roleOK(200, roleTotal(1)))},
	{"org quota", "GET", "/v3/organization_quotas/{quota}", nil, roleAll(roleOK(200, roleField("guid", "{quota}")))},
	{"create org quota", "POST", "/v3/organization_quotas", map[string]any{"name": "{name}"},
		rolePer(roleOK(201), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update org quota", "PATCH", "/v3/organization_quotas/{quota}", map[string]any{"name": "{name}"},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"delete org quota", "DELETE", "/v3/organization_quotas/{quota}", nil,
		rolePer(roleOK(202), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"apply org quota", "POST", "/v3/organization_quotas/{quota}/relationships/organizations",
		map[string]any{"data": []map[string]string{{"guid": "{org}"}}},
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
}

func init() { roleFixtureRows = append(roleFixtureRows, orgQuotaRoleRows...) }

func TestRoleOrgQuotas(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var seq atomic.Int64
	for _, row := range orgQuotaRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				n := seq.Add(1)
				st := c.srv.Store()
				now := st.Now()
				quota, org := fmt.Sprintf("quota-%d", n), fmt.Sprintf("quota-org-%d", n)
				if err := st.CreateOrgQuota(t.Context(), store.OrgQuota{GUID: quota, Name: quota, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true}, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
					t.Fatal(err)
				}
				if err := st.CreateOrg(t.Context(), store.Org{GUID: org, Name: org, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				fill := strings.NewReplacer("{quota}", quota, "{org}", org, "{name}", fmt.Sprintf("quota-name-%d", n))
				row.runWrite(t, c, user, fill, "{quota}")
			})
		}
	}
}

// timestamps blanks the RFC 3339 times of a body.
var timestamps = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)

// TestOrgQuotaDefault: the seeded default quota has cf-deployment's limits
// and lists the orgs that have it which the caller sees; a new org gets it.
func TestOrgQuotaDefault(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/organization_quotas/"+DemoQuotaGUID, "developer", nil).body), `"T"`)
	want := `{"guid":"` + DemoQuotaGUID + `","created_at":"T","updated_at":"T","name":"default",` +
		`"apps":{"total_memory_in_mb":102400,"per_process_memory_in_mb":null,"total_instances":null,"per_app_tasks":null,"log_rate_limit_in_bytes_per_second":null},` +
		`"services":{"paid_services_allowed":true,"total_service_instances":null,"total_service_keys":null},` +
		`"routes":{"total_routes":1000,"total_reserved_ports":0},"domains":{"total_domains":null},` +
		`"relationships":{"organizations":{"data":[{"guid":"` + DemoOrgGUID + `"}]}},` +
		`"links":{"self":{"href":"http://api.example.org/v3/organization_quotas/` + DemoQuotaGUID + `"}}}`
	if got != want {
		t.Errorf("default quota\n got %s\nwant %s", got, want)
	}
	var q orgQuotaJSON
	c.must(200, "GET", "/v3/organization_quotas/"+DemoQuotaGUID, "outsider", nil).json(t, &q)
	if len(q.Relationships.Organizations.Data) != 0 {
		t.Errorf("the outsider sees orgs %v", q.Relationships.Organizations.Data)
	}
	var o orgJSON
	c.must(201, "POST", "/v3/organizations", "admin", map[string]string{"name": "fresh"}).json(t, &o)
	c.must(200, "GET", "/v3/organization_quotas/"+DemoQuotaGUID, "admin", nil).json(t, &q)
	if *o.Relationships.Quota.Data.GUID != DemoQuotaGUID || len(q.Relationships.Organizations.Data) != 2 || *q.Relationships.Organizations.Data[1].GUID != o.GUID {
		t.Errorf("new org's quota %v; default quota's orgs %v", *o.Relationships.Quota.Data.GUID, q.Relationships.Organizations.Data)
	}
}

// TestOrgQuotaCreateUpdate: what a create leaves out is unlimited, null is
// unlimited, an update changes only what it names, names are unique
// whatever their case.
func TestOrgQuotaCreateUpdate(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var q orgQuotaJSON
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "big",
		"apps":     map[string]any{"total_memory_in_mb": 2048, "per_process_memory_in_mb": 1024, "total_instances": 10, "per_app_tasks": 5, "log_rate_limit_in_bytes_per_second": nil},
		"services": map[string]any{"paid_services_allowed": false, "total_service_instances": 3, "total_service_keys": 4},
		"routes":   map[string]any{"total_routes": 8, "total_reserved_ports": 2},
		"domains":  map[string]any{"total_domains": 1},
	}).json(t, &q)
	if q.Name != "big" || *q.Apps.TotalMemoryInMB != 2048 || *q.Apps.PerProcessMemoryInMB != 1024 || *q.Apps.TotalInstances != 10 ||
		*q.Apps.PerAppTasks != 5 || q.Apps.LogRateLimitBytesPerS != nil || q.Services.PaidServicesAllowed ||
		*q.Services.TotalServiceInstances != 3 || *q.Services.TotalServiceKeys != 4 || *q.Routes.TotalRoutes != 8 ||
		*q.Routes.TotalReservedPorts != 2 || *q.Domains.TotalDomains != 1 || len(q.Relationships.Organizations.Data) != 0 {
		t.Errorf("created %+v", q)
	}
	big := q.GUID

	var bare orgQuotaJSON
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "bare"}).json(t, &bare)
	if bare.Apps.TotalMemoryInMB != nil || bare.Routes.TotalReservedPorts != nil || bare.Domains.TotalDomains != nil || !bare.Services.PaidServicesAllowed {
		t.Errorf("bare quota %+v", bare)
	}

	r := c.must(422, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "BIG"})
	wantDetail(t, r, "Organization Quota 'BIG' already exists.")

	c.must(200, "PATCH", "/v3/organization_quotas/"+big, "admin", map[string]any{
		"apps": map[string]any{"total_memory_in_mb": nil}, "routes": map[string]any{"total_routes": 9}}).json(t, &q)
	if q.Name != "big" || q.Apps.TotalMemoryInMB != nil || *q.Apps.PerProcessMemoryInMB != 1024 || *q.Routes.TotalRoutes != 9 ||
		*q.Routes.TotalReservedPorts != 2 || q.Services.PaidServicesAllowed {
		t.Errorf("updated %+v", q)
	}
	r = c.must(422, "PATCH", "/v3/organization_quotas/"+big, "admin", map[string]any{"name": "Bare"})
	wantDetail(t, r, "Organization Quota 'Bare' already exists.")
	r = c.must(404, "PATCH", "/v3/organization_quotas/"+roleMissingGUID, "admin", map[string]any{"name": "x"})
	wantDetail(t, r, "Organization quota not found")
}

// wantDetail checks the first error's detail.
func wantDetail(t *testing.T, r resp, want string) {
	t.Helper()
	var e errorBody
	r.json(t, &e)
	if len(e.Errors) == 0 || e.Errors[0].Detail != want {
		t.Errorf("detail of %s, want %q", r.body, want)
	}
}

// TestOrgQuotaMessages: CC's texts for bodies its messages refuse.
func TestOrgQuotaMessages(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	cases := []struct {
		name, method, body, want string
	}{
		{"no name", "POST", `{}`, "Name can't be blank"},
		{"name not a string", "POST", `{"name":5}`, "Name must be a string"},
		{"name too long", "POST", `{"name":"` + strings.Repeat("n", 251) + `"}`, "Name is too long (maximum is 250 characters)"},
		{"unknown key", "POST", `{"name":"q","memory":1}`, "Unknown field(s): 'memory'"},
		{"apps not an object", "POST", `{"name":"q","apps":5}`, "Apps must be an object"},
		{"unknown app key", "POST", `{"name":"q","apps":{"memory":1}}`, "Apps Unknown field(s): 'memory'"},
		{"negative", "POST", `{"name":"q","apps":{"total_memory_in_mb":-1}}`, "Apps Total memory in mb must be greater than or equal to 0"},
		{"float", "POST", `{"name":"q","routes":{"total_routes":1.5}}`, "Routes Total routes must be an integer"},
		{"not a number", "POST", `{"name":"q","domains":{"total_domains":"many"}}`, "Domains Total domains is not a number"},
		{"too big", "POST", `{"name":"q","services":{"total_service_keys":2147483648}}`, "Services Total service keys must be less than or equal to 2147483647"},
		{"paid not a boolean", "POST", `{"name":"q","services":{"paid_services_allowed":"yes"}}`, "Services Paid services allowed must be a boolean"},
		{"several", "POST", `{"apps":{"total_instances":-2},"routes":true}`, "Apps Total instances must be greater than or equal to 0, Routes must be an object, Name can't be blank"},
		{"unknown org", "POST", `{"name":"q","relationships":{"organizations":{"data":[{"guid":"nope"}]}}}`,
			`Organizations with guids ["nope"] do not exist, or you do not have access to them.`},
		{"update name blank", "PATCH", `{"name":""}`, "Name is too short (minimum is 1 character)"},
		{"update relationships", "PATCH", `{"relationships":{}}`, "Unknown field(s): 'relationships'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := "/v3/organization_quotas"
			if tc.method == "PATCH" {
				path += "/" + DemoQuotaGUID
			}
			wantDetail(t, c.must(422, tc.method, path, "admin", tc.body), tc.want)
		})
	}
}

// TestOrgQuotaApplyDelete: applying a quota moves orgs to it; a quota an
// org has cannot be deleted; an unused one goes by a job.
func TestOrgQuotaApplyDelete(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var q orgQuotaJSON
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "small"}).json(t, &q)
	apply := "/v3/organization_quotas/" + q.GUID + "/relationships/organizations"

	for _, tc := range []struct{ body, want string }{
		{`{}`, "Data can't be blank, Data must be an array"},
		{`{"data":[]}`, "Data can't be blank"},
		{`{"data":[{"guid":1}]}`, "Invalid data type: Data[0] guid should be a string."},
		{`{"data":[{"guid":"` + DemoOrgGUID + `"},{"guid":"a"},{"guid":"b"}]}`, `Organizations with guids ["a", "b"] do not exist`},
	} {
		wantDetail(t, c.must(422, "POST", apply, "admin", tc.body), tc.want)
	}
	wantDetail(t, c.must(404, "POST", "/v3/organization_quotas/"+roleMissingGUID+"/relationships/organizations", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}), "Organization quota not found")

	got := string(c.must(200, "POST", apply, "admin", map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}).body)
	want := `{"data":[{"guid":"` + DemoOrgGUID + `"}],"links":{"self":{"href":"http://api.example.org` + apply + `"}}}`
	if got != want {
		t.Errorf("apply\n got %s\nwant %s", got, want)
	}
	var o orgJSON
	c.must(200, "GET", "/v3/organizations/"+DemoOrgGUID, "developer", nil).json(t, &o)
	if *o.Relationships.Quota.Data.GUID != q.GUID {
		t.Errorf("demo org's quota %s", *o.Relationships.Quota.Data.GUID)
	}
	var events struct{ Resources []struct{ Type string } }
	c.must(200, "GET", "/v3/audit_events?types=audit.organization_quota.apply&target_guids="+q.GUID, "admin", nil).json(t, &events)
	if len(events.Resources) != 1 {
		t.Errorf("apply events %+v", events.Resources)
	}

	r := c.must(422, "DELETE", "/v3/organization_quotas/"+q.GUID, "admin", nil)
	wantDetail(t, r, "This quota is applied to one or more organizations. Apply different quotas to those organizations before deleting.")

	c.must(200, "POST", "/v3/organization_quotas/"+DemoQuotaGUID+"/relationships/organizations", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}})
	loc := c.must(202, "DELETE", "/v3/organization_quotas/"+q.GUID, "admin", nil).header["Location"]
	if state := c.waitJob(loc, "admin"); state != store.JobComplete {
		t.Fatalf("delete job %s", state)
	}
	c.must(404, "GET", "/v3/organization_quotas/"+q.GUID, "admin", nil)
	c.must(200, "GET", "/v3/audit_events?types=audit.organization_quota.delete&target_guids="+q.GUID, "admin", nil).json(t, &events)
	if len(events.Resources) != 1 {
		t.Errorf("delete events %+v", events.Resources)
	}
}

// TestOrgQuotaList: the filters, paging, and organization_guids limited to
// the orgs the caller sees.
func TestOrgQuotaList(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	for _, n := range []string{"a", "b"} {
		c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": n})
	}
	names := func(path, user string) string {
		var l struct {
			Pagination struct {
				TotalResults int   `json:"total_results"`
				Next         *link `json:"next"`
			} `json:"pagination"`
			Resources []orgQuotaJSON `json:"resources"`
		}
		c.must(200, "GET", path, user, nil).json(t, &l)
		out := []string{fmt.Sprint(l.Pagination.TotalResults)}
		for _, q := range l.Resources {
			out = append(out, q.Name)
		}
		if l.Pagination.Next != nil {
			out = append(out, "next="+l.Pagination.Next.Href)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ path, user, want string }{
		{"/v3/organization_quotas", "outsider", "3 default a b"},
		{"/v3/organization_quotas?names=a,default", "developer", "2 default a"},
		{"/v3/organization_quotas?guids=" + DemoQuotaGUID, "auditor", "1 default"},
		{"/v3/organization_quotas?organization_guids=" + DemoOrgGUID, "developer", "1 default"},
		{"/v3/organization_quotas?organization_guids=" + DemoOrgGUID, "outsider", "0"},
		{"/v3/organization_quotas?per_page=1&order_by=-created_at&names=a,b", "developer",
			"2 b next=http://api.example.org/v3/organization_quotas?names=a%2Cb&order_by=-created_at&page=2&per_page=1"},
	} {
		if got := names(tc.path, tc.user); got != tc.want {
			t.Errorf("%s as %s: %s, want %s", tc.path, tc.user, got, tc.want)
		}
	}
	r := c.must(400, "GET", "/v3/organization_quotas?space_guids=x", "admin", nil)
	if !strings.Contains(string(r.body), "Unknown query parameter(s): 'space_guids'.") || !strings.Contains(string(r.body), "'names', 'organization_guids'") {
		t.Errorf("unknown key: %s", r.body)
	}
	c.must(400, "GET", "/v3/organization_quotas?order_by=name", "admin", nil)
	wantDetail(t, c.must(404, "GET", "/v3/organization_quotas/"+roleMissingGUID, "developer", nil), "Organization quota not found")
}
