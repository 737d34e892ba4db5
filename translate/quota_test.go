package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// A quota's keys are CC's, v3's null is v2's -1, and a v2 create sends v3
// every field with v2's defaults (-1 as null, 0 reserved route ports).
func TestQuota(t *testing.T) {
	t.Parallel()
	var q V3Quota
	if err := json.Unmarshal([]byte(`{"guid":"q","name":"default","apps":{"total_memory_in_mb":10240,"per_process_memory_in_mb":null,
		"total_instances":null,"per_app_tasks":null,"log_rate_limit_in_bytes_per_second":null},"services":{"paid_services_allowed":true,
		"total_service_instances":100,"total_service_keys":null},"routes":{"total_routes":1000,"total_reserved_ports":0},"domains":{"total_domains":null}}`), &q); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := AppendQuotaResource(&b, q); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "quota_definition.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w, g := keysOf(t, ref, "entity"), keysOf(t, b.Bytes(), "entity"); w != g {
		t.Errorf("entity keys\n got %s\nwant %s", g, w)
	}
	want := `"entity":{"name":"default","non_basic_services_allowed":true,"total_services":100,"total_routes":1000,"total_private_domains":-1,` +
		`"memory_limit":10240,"trial_db_allowed":false,"instance_memory_limit":-1,"app_instance_limit":-1,"app_task_limit":-1,` +
		`"total_service_keys":-1,"total_reserved_route_ports":0,"log_rate_limit":-1}`
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("quota\n got %s\nwant %s", b.Bytes(), want)
	}
	r, err := ParseQuotaRequest([]byte(`{"name":"q2","non_basic_services_allowed":false,"total_services":-1,"total_routes":10,"memory_limit":2048}`), true)
	if err != nil {
		t.Fatal(err)
	}
	body, err := V3QuotaWrite(r)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := `{"apps":{"per_app_tasks":null,"per_process_memory_in_mb":null,"total_instances":null,"total_memory_in_mb":2048},` +
		`"domains":{"total_domains":null},"name":"q2","routes":{"total_reserved_ports":0,"total_routes":10},` +
		`"services":{"paid_services_allowed":false,"total_service_instances":null,"total_service_keys":null}}`
	if string(body) != wantBody {
		t.Errorf("v3 body\n got %s\nwant %s", body, wantBody)
	}
	if _, err := ParseQuotaRequest([]byte(`{"name":"q3"}`), true); err == nil {
		t.Error("a create without its required limits parsed")
	}
	bad, _ := ParseQuotaRequest([]byte(`{"name":"q","non_basic_services_allowed":true,"total_services":1,"total_routes":1,"memory_limit":-2}`), true)
	if e := bad.Check(); e == nil || e.Name != "QuotaDefinitionMemoryLimitInvalid" {
		t.Errorf("memory -2: %+v", e)
	}
	ports, _ := ParseQuotaRequest([]byte(`{"name":"q","non_basic_services_allowed":true,"total_services":1,"total_routes":1,"memory_limit":1,"total_reserved_route_ports":2}`), true)
	if e := ports.Check(); e == nil || e.Name != "QuotaDefinitionInvalid" {
		t.Errorf("ports over routes: %+v", e)
	}
}
