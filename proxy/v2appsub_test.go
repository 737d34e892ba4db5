package proxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
	"capibridge/backend/store"
)

// mapRoute gives the app a route on the seeded shared domain with a web
// destination, and a user-provided binding, through the embedded CF's
// store (its v3 API does not create them yet).
func (s *stack) mapRoute(t *testing.T, appGUID, host, routeGUID, destGUID string) {
	t.Helper()
	ctx, now := context.Background(), time.Now().Unix()
	st := s.cf.Store()
	if err := st.CreateRoute(ctx, store.Route{GUID: routeGUID, SpaceGUID: backend.DemoSpaceGUID, DomainGUID: backend.SharedDomainGUID,
		Host: host, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDestination(ctx, store.Destination{GUID: destGUID, RouteGUID: routeGUID, AppGUID: appGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func TestV2AppSubresources(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "subby")[0]
	s.mapRoute(t, guid, "subby", "7a000000-0000-4000-8000-000000000001", "de000000-0000-4000-8000-000000000001")
	name := "db"
	if err := s.cf.Store().CreateServiceCredentialBinding(context.Background(), store.ServiceCredentialBinding{
		GUID: "b1000000-0000-4000-8000-000000000001", Type: "app", Name: &name, AppGUID: &guid,
		ServiceInstanceGUID: "51000000-0000-4000-8000-000000000001", SpaceGUID: backend.DemoSpaceGUID,
		CreatedAt: time.Now().Unix(), UpdatedAt: time.Now().Unix()}); err != nil {
		t.Fatal(err)
	}
	base := s.gwURL + "/v2/apps/" + guid

	t.Run("env", func(t *testing.T) {
		r := s.do("GET", base+"/env", "developer", nil)
		var env struct {
			EnvironmentJSON    map[string]string `json:"environment_json"`
			ApplicationEnvJSON struct {
				VCAP map[string]any `json:"VCAP_APPLICATION"`
			} `json:"application_env_json"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if env.EnvironmentJSON["K"] != "v" {
			t.Errorf("environment_json %v", env.EnvironmentJSON)
		}
		v := env.ApplicationEnvJSON.VCAP
		if v["process_type"] != "web" || v["application_id"] != guid || v["name"] != "subby" || v["version"] == nil ||
			v["version"] != v["application_version"] || v["limits"].(map[string]any)["mem"] != 1024.0 {
			t.Errorf("VCAP_APPLICATION %v", v)
		}
		if got := strings.Join(keysOf(t, r.body), ","); got != "staging_env_json,running_env_json,environment_json,system_env_json,application_env_json" {
			t.Errorf("keys %s", got)
		}
		// v3 refuses env to auditors; v2 did too (NotAuthorized).
		if r := s.do("GET", base+"/env", "auditor", nil); r.status != 403 || !strings.Contains(string(r.body), `"error_code":"CF-NotAuthorized"`) {
			t.Errorf("auditor: %d %s", r.status, r.body)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		for user, want := range map[string]string{
			"developer": `{"read_sensitive_data":true,"read_basic_data":true}`,
			"auditor":   `{"read_sensitive_data":false,"read_basic_data":true}`,
		} {
			if r := s.do("GET", base+"/permissions", user, nil); r.status != 200 || string(r.body) != want {
				t.Errorf("%s: %d %s, want %s", user, r.status, r.body, want)
			}
		}
	})

	t.Run("routes", func(t *testing.T) {
		r := s.do("GET", base+"/routes", "developer", nil)
		var l v2List
		if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 || l.TotalResults != 1 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		e := l.Resources[0].Entity
		if string(e["host"]) != `"subby"` || string(e["domain_url"]) != `"/v2/shared_domains/`+backend.SharedDomainGUID+`"` ||
			string(e["port"]) != "null" || l.Resources[0].Metadata.URL != "/v2/routes/7a000000-0000-4000-8000-000000000001" {
			t.Errorf("route %s", r.body)
		}
		if r := s.do("GET", base+"/routes?q=host:other", "developer", nil); !strings.HasPrefix(string(r.body), `{"total_results":0,`) {
			t.Errorf("q=host:other: %s", r.body)
		}
		if r := s.do("GET", base+"/routes?q=space_guid:x", "developer", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-BadQueryParameter") {
			t.Errorf("unknown q key: %d %s", r.status, r.body)
		}
	})

	t.Run("route_mappings", func(t *testing.T) {
		r := s.do("GET", base+"/route_mappings", "developer", nil)
		var l v2List
		if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 || l.TotalResults != 1 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		e := l.Resources[0].Entity
		if string(e["app_port"]) != "8080" || string(e["app_guid"]) != `"`+guid+`"` ||
			l.Resources[0].Metadata.URL != "/v2/route_mappings/de000000-0000-4000-8000-000000000001" {
			t.Errorf("mapping %s", r.body)
		}
	})

	t.Run("service_bindings", func(t *testing.T) {
		r := s.do("GET", base+"/service_bindings", "developer", nil)
		var l v2List
		if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 || l.TotalResults != 1 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		e := l.Resources[0].Entity
		if string(e["name"]) != `"db"` || string(e["app_guid"]) != `"`+guid+`"` ||
			string(e["last_operation"]) == "null" || string(e["service_instance_url"]) != `"/v2/service_instances/51000000-0000-4000-8000-000000000001"` {
			t.Errorf("binding %s", r.body)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, sub := range []string{"env", "permissions", "routes", "route_mappings", "service_bindings"} {
			for _, user := range []string{"developer", "outsider"} {
				target := base
				if user == "developer" {
					target = s.gwURL + "/v2/apps/no-such-app"
				}
				r := s.do("GET", target+"/"+sub, user, nil)
				if r.status != 404 || !strings.Contains(string(r.body), `"error_code":"CF-AppNotFound","code":100004`) {
					t.Errorf("%s as %s: %d %s", sub, user, r.status, r.body)
				}
			}
		}
	})
}
