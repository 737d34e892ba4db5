package proxy

import (
	"encoding/json"
	"fmt"
	"testing"

	"capibridge/backend"
)

// An org's summary, memory and instance usage over a started app, a
// stopped one and a service instance (MAPPING-orgs §11.2.5), with
// go-cfclient's Org.Summary.
func TestV2OrgSummaryAndUsage(t *testing.T) {
	s := startStack(t, nil)
	s.startedApp(t, "running")
	s.createApps(t, "developer", "stopped")
	if r := s.do("POST", s.gwURL+"/v2/user_provided_service_instances", "developer",
		[]byte(fmt.Sprintf(`{"name":"ups","space_guid":%q}`, backend.DemoSpaceGUID))); r.status != 201 {
		t.Fatalf("ups: %d %s", r.status, r.body)
	}
	dev := s.goCFClient(t, "developer")
	org, err := dev.GetOrgByGuid(backend.DemoOrgGUID)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := org.Summary()
	if err != nil || sum.Guid != backend.DemoOrgGUID || sum.Status != "active" || len(sum.Spaces) != 1 {
		t.Fatalf("Summary: %v %+v", err, sum)
	}
	// The started app's web process: one instance of the v3 default 1024 MB.
	if sp := sum.Spaces[0]; sp.Guid != backend.DemoSpaceGUID || sp.AppCount != 2 || sp.ServiceCount != 1 || sp.MemDevTotal != 1024 || sp.MemProdTotal != 0 {
		t.Errorf("space: %+v", sp)
	}
	r := s.do("GET", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/summary", "developer", nil)
	want := fmt.Sprintf(`{"guid":%q,"name":"demo-org","status":"active","spaces":[{"guid":%q,"name":"demo-space","service_count":1,"app_count":2,"mem_dev_total":1024,"mem_prod_total":0}],"mode":"compat"}`,
		backend.DemoOrgGUID, backend.DemoSpaceGUID)
	if r.status != 200 || string(r.body) != want {
		t.Errorf("summary:\n got %d %s\nwant %s", r.status, r.body, want)
	}
	for path, want := range map[string]string{"memory_usage": `{"memory_usage_in_mb":1024}`, "instance_usage": `{"instance_usage":1}`} {
		r := s.do("GET", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/"+path, "developer", nil)
		var v map[string]int
		if r.status != 200 || string(r.body) != want || json.Unmarshal(r.body, &v) != nil {
			t.Errorf("%s: %d %s, want %s", path, r.status, r.body, want)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/summary", "outsider", nil); r.status != 404 {
		t.Errorf("an outsider's summary: %d %s", r.status, r.body)
	}
}
