package proxy

import (
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
)

// go-cfclient's org quota functions through the gateway (MAPPING-orgs
// §12.1): list (the seeded default), create, the name taken, update, read
// by name, assign to an org, delete refused while assigned, delete.
func TestV2QuotaDefinitionsGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin, err := cfclient.NewClient(&cfclient.Config{ApiAddress: s.gwURL, Token: s.tokens["admin"]})
	if err != nil {
		t.Fatal(err)
	}
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
