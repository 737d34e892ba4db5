package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// go-cfclient's org quota functions through the gateway (MAPPING-orgs
// §12.1): list (the seeded default), create, the name taken, update, read
// by name, assign to an org, delete refused while assigned, delete.
func TestV2QuotaDefinitionsGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	quotas, err := admin.ListOrgQuotas()
	if err != nil || len(quotas) == 0 {
		t.Fatalf("ListOrgQuotas: %v %+v", err, quotas)
	}
	q, err := admin.CreateOrgQuota(cfclient.OrgQuotaRequest{Name: "small", TotalServices: 5, TotalRoutes: 10, MemoryLimit: 2048,
		InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: -1, TotalServiceKeys: -1, TotalPrivateDomains: -1})
	if err != nil || q.Guid == "" || q.MemoryLimit != 2048 || q.InstanceMemoryLimit != -1 {
		t.Fatalf("CreateOrgQuota: %v %+v", err, q)
	}
	if _, err := admin.CreateOrgQuota(cfclient.OrgQuotaRequest{Name: "small", MemoryLimit: 1}); err == nil {
		t.Error("a taken quota name was created")
	}
	r := s.do("POST", s.gwURL+"/v2/quota_definitions", "admin",
		[]byte(`{"name":"small","non_basic_services_allowed":true,"total_services":1,"total_routes":1,"memory_limit":1}`))
	if r.status != 400 || !strings.Contains(string(r.body), `"description":"Quota Definition is taken: small","error_code":"CF-QuotaDefinitionNameTaken"`) {
		t.Errorf("name taken: %d %s", r.status, r.body)
	}
	up, err := admin.UpdateOrgQuota(q.Guid, cfclient.OrgQuotaRequest{Name: "small", TotalServices: 5, TotalRoutes: 10, MemoryLimit: 4096,
		InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: -1, TotalServiceKeys: -1, TotalPrivateDomains: -1})
	if err != nil || up.MemoryLimit != 4096 {
		t.Errorf("UpdateOrgQuota: %v %+v", err, up)
	}
	if got, err := admin.GetOrgQuotaByName("small"); err != nil || got.Guid != q.Guid {
		t.Errorf("GetOrgQuotaByName: %v %+v", err, got)
	}
	org, err := admin.CreateOrg(cfclient.OrgRequest{Name: "quoted", QuotaDefinitionGuid: q.Guid})
	if err != nil || org.QuotaDefinitionGuid != q.Guid {
		t.Fatalf("CreateOrg with the quota: %v %+v", err, org)
	}
	r = s.do("DELETE", s.gwURL+"/v2/quota_definitions/"+q.Guid, "admin", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "Please delete the organization associations for your quota definition.") {
		t.Errorf("delete an assigned quota: %d %s", r.status, r.body)
	}
	if err := admin.DeleteOrg(org.Guid, true, false); err != nil {
		t.Fatalf("DeleteOrg: %v", err)
	}
	if err := admin.DeleteOrgQuota(q.Guid, false); err != nil {
		t.Errorf("DeleteOrgQuota: %v", err)
	}
	if r := s.do("GET", s.gwURL+"/v2/quota_definitions/"+q.Guid, "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-QuotaDefinitionNotFound") {
		t.Errorf("after delete: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.gwURL+"/v2/quota_definitions", "developer",
		[]byte(`{"name":"mine","non_basic_services_allowed":true,"total_services":1,"total_routes":1,"memory_limit":1}`)); r.status != 403 {
		t.Errorf("a developer creates a quota: %d %s", r.status, r.body)
	}
}

// go-cfclient's space quota functions through the gateway (MAPPING-orgs
// §12.2): create (v2's app_task_limit default), the name taken, update,
// assign to a space (the space names it), the quota's spaces, the org's
// quotas, any q refused, and delete, which unassigns first.
func TestV2SpaceQuotaDefinitionsGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	q, err := admin.CreateSpaceQuota(cfclient.SpaceQuotaRequest{Name: "sq", OrganizationGuid: backend.DemoOrgGUID, TotalServices: 5,
		TotalRoutes: 10, MemoryLimit: 512, InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: 5, TotalServiceKeys: -1,
		TotalReservedRoutePorts: -1})
	if err != nil || q.Guid == "" || q.MemoryLimit != 512 || q.OrganizationGuid != backend.DemoOrgGUID || q.AppTaskLimit != 5 {
		t.Fatalf("CreateSpaceQuota: %v %+v", err, q)
	}
	// A body without the optional limits gets v2's defaults.
	r := s.do("POST", s.gwURL+"/v2/space_quota_definitions", "admin", []byte(`{"name":"sq2","organization_guid":"`+backend.DemoOrgGUID+
		`","non_basic_services_allowed":false,"total_services":1,"total_routes":1,"memory_limit":128}`))
	if r.status != 201 || !strings.Contains(string(r.body), `"instance_memory_limit":-1,"app_instance_limit":-1,"app_task_limit":5,"total_service_keys":-1,"total_reserved_route_ports":-1,"log_rate_limit":-1,"organization_url":"/v2/organizations/`+backend.DemoOrgGUID+`"`) {
		t.Errorf("defaults: %d %s", r.status, r.body)
	}
	if _, err := admin.CreateSpaceQuota(cfclient.SpaceQuotaRequest{Name: "sq", OrganizationGuid: backend.DemoOrgGUID, MemoryLimit: 1}); err == nil ||
		!strings.Contains(err.Error(), "CF-SpaceQuotaDefinitionNameTaken") {
		t.Errorf("a taken name: %v", err)
	}
	if up, err := admin.UpdateSpaceQuota(q.Guid, cfclient.SpaceQuotaRequest{Name: "sq", OrganizationGuid: backend.DemoOrgGUID, MemoryLimit: 1024,
		TotalServices: 5, TotalRoutes: 10, InstanceMemoryLimit: -1, AppInstanceLimit: -1, AppTaskLimit: 5, TotalServiceKeys: -1,
		TotalReservedRoutePorts: -1}); err != nil || up.MemoryLimit != 1024 {
		t.Errorf("UpdateSpaceQuota: %v %+v", err, up)
	}
	if err := admin.AssignSpaceQuota(q.Guid, backend.DemoSpaceGUID); err != nil {
		t.Fatalf("AssignSpaceQuota: %v", err)
	}
	sp, err := admin.GetSpaceByGuid(backend.DemoSpaceGUID)
	if err != nil || sp.QuotaDefinitionGuid != q.Guid {
		t.Errorf("the space's quota: %v %q", err, sp.QuotaDefinitionGuid)
	}
	if got, err := sp.Quota(); err != nil || got.Guid != q.Guid || got.Name != "sq" {
		t.Errorf("Space.Quota: %v %+v", err, got)
	}
	if r := s.do("GET", s.gwURL+"/v2/space_quota_definitions/"+q.Guid+"/spaces", "admin", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"total_results":1`) || !strings.Contains(string(r.body), `"name":"demo-space"`) {
		t.Errorf("the quota's spaces: %d %s", r.status, r.body)
	}
	if qs, err := admin.ListOrgSpaceQuotas(backend.DemoOrgGUID); err != nil || len(qs) != 2 {
		t.Errorf("ListOrgSpaceQuotas: %v %d", err, len(qs))
	}
	if r := s.do("GET", s.gwURL+"/v2/space_quota_definitions?q=name:sq", "admin", nil); r.status != 400 || !strings.Contains(string(r.body), `"code":10005`) {
		t.Errorf("q on space quotas: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/space_quota_definitions/nope", "admin", nil); r.status != 404 ||
		!strings.Contains(string(r.body), `"description":"Space Quota Definition could not be found: nope","error_code":"CF-SpaceQuotaDefinitionNotFound","code":310007`) {
		t.Errorf("an unknown quota: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", s.gwURL+"/v2/space_quota_definitions/"+q.Guid+"/spaces/nope", "admin", nil); r.status != 400 ||
		!strings.Contains(string(r.body), "Could not find VCAP::CloudController::Space with guid: nope") {
		t.Errorf("an unknown space: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/space_quota_definitions/"+q.Guid, "admin", nil); r.status != 204 {
		t.Errorf("delete an assigned space quota: %d %s", r.status, r.body)
	}
	if sp, err := admin.GetSpaceByGuid(backend.DemoSpaceGUID); err != nil || sp.QuotaDefinitionGuid != "" {
		t.Errorf("the space's quota after the delete: %v %q", err, sp.QuotaDefinitionGuid)
	}
}

// A push past the space's memory quota fails with CC's error, through v2
// and v3 (MAPPING-orgs §12; CC v2 refused the state change at once, as
// ProcessModel validated the quotas on save, so the gateway checks before
// it stages): nothing stages, the app stays stopped; what fits starts, and
// a scale or a start past what is left is refused, on v2 and on v3.
func TestQuotaEnforcedOnPush(t *testing.T) {
	s := startStackStaging(t, 50*time.Millisecond)
	r := s.do("POST", s.gwURL+"/v2/space_quota_definitions", "admin", []byte(`{"name":"small","organization_guid":"`+backend.DemoOrgGUID+
		`","non_basic_services_allowed":true,"total_services":5,"total_routes":5,"memory_limit":512}`))
	if r.status != 201 {
		t.Fatalf("create the space quota: %d %s", r.status, r.body)
	}
	var q v2Resource
	if err := json.Unmarshal(r.body, &q); err != nil {
		t.Fatal(err)
	}
	if r := s.do("PUT", s.gwURL+"/v2/space_quota_definitions/"+q.Metadata.GUID+"/spaces/"+demoSpace, "admin", nil); r.status != 201 {
		t.Fatalf("apply it: %d %s", r.status, r.body)
	}
	const spaceMemory = `{"description":"You have exceeded your space's memory limit: app requested more memory than available","error_code":"CF-SpaceQuotaMemoryLimitExceeded","code":310003}`
	builds := func(guid string) int {
		var p struct {
			Pagination struct {
				TotalResults int `json:"total_results"`
			}
		}
		s.v3JSON(t, "/v3/apps/"+guid+"/builds", &p)
		return p.Pagination.TotalResults
	}
	stoppedAndUnstaged := func(t *testing.T, guid string) {
		t.Helper()
		if st, pending := v3State(t, s, guid); st != "STOPPED" || pending != "" {
			t.Errorf("v3 state %s, pending start %q: want STOPPED and none", st, pending)
		}
		if n := builds(guid); n != 0 {
			t.Errorf("%d builds staged for a refused start", n)
		}
	}

	t.Run("v2: a 1 GB app in a 512 MB space", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"big","space_guid":%q,"memory":1024}`, demoSpace))
		s.uploadBits(t, guid, map[string]string{"Staticfile": "", "index.html": "hi"})
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 400, spaceMemory)
		stoppedAndUnstaged(t, guid)
		a := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil), 200)
		if a.Entity.State != "STOPPED" || a.Entity.PackageState != "PENDING" {
			t.Errorf("after the refusal: %+v", a.Entity)
		}
	})
	t.Run("v2: created started, three 256 MB instances", func(t *testing.T) {
		wantError(t, s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(fmt.Sprintf(
			`{"name":"wide","space_guid":%q,"docker_image":"nginx:1","memory":256,"instances":3,"state":"STARTED"}`, demoSpace))), 400, spaceMemory)
		if n := s.appsNamed(t, "wide"); n != 0 {
			t.Errorf("%d apps called wide were left behind", n)
		}
	})

	// 256 MB fits and starts; then 256 MB are left.
	small := s.createV2(t, fmt.Sprintf(`{"name":"small","space_guid":%q,"memory":256}`, demoSpace))
	s.uploadBits(t, small, map[string]string{"Staticfile": "", "index.html": "hi"})
	if a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+small, "developer", []byte(`{"state":"STARTED"}`)), 201); a.Entity.State != "STARTED" {
		t.Fatalf("start within the quota: %+v", a.Entity)
	}
	s.eventually(t, s.gwURL, small, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
	waitFor(t, "the small app to start", func() bool { st, _ := v3State(t, s, small); return st == "STARTED" })

	t.Run("v2: the next app does not fit beside the first", func(t *testing.T) {
		guid := s.createV2(t, fmt.Sprintf(`{"name":"next","space_guid":%q,"memory":300}`, demoSpace))
		s.uploadBits(t, guid, map[string]string{"Staticfile": "", "index.html": "hi"})
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)), 400, spaceMemory)
		stoppedAndUnstaged(t, guid)
	})
	t.Run("v2: scaling the started app past the quota", func(t *testing.T) {
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+small, "developer", []byte(`{"instances":3}`)), 400, spaceMemory)
		if a := decodeApp(t, s.do("PUT", s.gwURL+"/v2/apps/"+small, "developer", []byte(`{"instances":2}`)), 201); a.Entity.Instances != 2 {
			t.Errorf("scaling to exactly the quota: %+v", a.Entity)
		}
	})
	t.Run("v3: a start past the quota", func(t *testing.T) {
		if r := s.do("POST", s.gwURL+"/v3/apps/"+small+"/actions/stop", "developer", nil); r.status != 200 {
			t.Fatalf("stop: %d %s", r.status, r.body)
		}
		var web struct{ GUID string }
		s.v3JSON(t, "/v3/apps/"+small+"/processes/web", &web)
		if r := s.do("POST", s.gwURL+"/v3/processes/"+web.GUID+"/actions/scale", "developer", []byte(`{"memory_in_mb":1024,"instances":1}`)); r.status != 202 {
			t.Fatalf("scale the stopped app: %d %s", r.status, r.body)
		}
		r := s.do("POST", s.gwURL+"/v3/apps/"+small+"/actions/start", "developer", nil)
		if r.status != 422 || !strings.Contains(string(r.body), `"detail":"memory space_quota_exceeded"`) ||
			!strings.Contains(string(r.body), `"title":"CF-UnprocessableEntity","code":10008`) {
			t.Errorf("v3 start: %d %s", r.status, r.body)
		}
		// The same app through v2: staged, so v3's own refusal answers.
		wantError(t, s.do("PUT", s.gwURL+"/v2/apps/"+small, "developer", []byte(`{"state":"STARTED"}`)), 400, spaceMemory)
	})
}
