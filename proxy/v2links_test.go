package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"capibridge/backend"
)

// Every v2 URL a translated resource gives (metadata.url and the entity's
// *_url) leads somewhere the gateway answers: whatever the answer, it is
// not an unknown request (404, code 10000) nor a failure, as the spaces'
// events_url and app_events_url and the orgs' app_events_url once were.
func TestV2LinksAnswer(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "linked")[0]
	var domains struct{ Resources []struct{ GUID string } }
	s.v3JSON(t, "/v3/domains", &domains)
	route := s.v3Create(t, "developer", "/v3/routes", `{"host":"linked","relationships":{"domain":{"data":{"guid":"`+domains.Resources[0].GUID+
		`"}},"space":{"data":{"guid":"`+backend.DemoSpaceGUID+`"}}}}`)
	if r := s.do("POST", s.cfURL+"/v3/routes/"+route+"/destinations", "developer", []byte(`{"destinations":[{"app":{"guid":"`+app+`"}}]}`)); r.status != 200 {
		t.Fatalf("mapping the route: %d %s", r.status, r.body)
	}
	ups := s.v3Create(t, "developer", "/v3/service_instances", `{"type":"user-provided","name":"linked-ups","relationships":{"space":{"data":{"guid":"`+backend.DemoSpaceGUID+`"}}}}`)
	s.v3Create(t, "developer", "/v3/service_credential_bindings", `{"type":"app","relationships":{"app":{"data":{"guid":"`+app+`"}},"service_instance":{"data":{"guid":"`+ups+`"}}}}`)
	s.v3Create(t, "admin", "/v3/domains", `{"name":"linked.example.com","relationships":{"organization":{"data":{"guid":"`+backend.DemoOrgGUID+`"}}}}`)
	s.v3Create(t, "admin", "/v3/space_quotas", `{"name":"linked-quota","relationships":{"organization":{"data":{"guid":"`+backend.DemoOrgGUID+`"}}}}`)

	lists := []string{"/v2/apps", "/v2/spaces", "/v2/organizations", "/v2/routes", "/v2/shared_domains", "/v2/private_domains", "/v2/domains",
		"/v2/stacks", "/v2/users", "/v2/quota_definitions", "/v2/space_quota_definitions", "/v2/service_instances",
		"/v2/user_provided_service_instances", "/v2/services", "/v2/service_plans", "/v2/service_brokers", "/v2/service_bindings",
		"/v2/security_groups", "/v2/buildpacks", "/v2/events", "/v2/route_mappings", "/v2/app_usage_events", "/v2/service_plan_visibilities"}
	followed := map[string]bool{}
	for _, list := range lists {
		r := s.do("GET", s.gwURL+list, "admin", nil)
		var page struct {
			Resources []struct {
				Metadata map[string]any
				Entity   map[string]any
			}
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", list, r.status, r.body)
		}
		if len(page.Resources) == 0 {
			continue
		}
		urls := []string{}
		if u, ok := page.Resources[0].Metadata["url"].(string); ok {
			urls = append(urls, u)
		}
		for k, v := range page.Resources[0].Entity {
			if u, ok := v.(string); ok && strings.HasSuffix(k, "_url") && strings.HasPrefix(u, "/v2/") {
				urls = append(urls, u)
			}
		}
		for _, u := range urls {
			followed[u] = true
			got := s.do("GET", s.gwURL+u, "admin", nil)
			if got.status == 404 && strings.Contains(string(got.body), `"code":10000`) || got.status >= 500 {
				t.Errorf("%s links %s: %d %.200s", list, u, got.status, got.body)
			}
		}
	}
	if len(followed) < 60 {
		t.Errorf("only %d URLs followed", len(followed))
	}
}
