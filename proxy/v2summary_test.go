package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"capibridge/backend"
)

// v3Create POSTs body to the embedded CF as user and returns the new guid.
func (s *stack) v3Create(t *testing.T, user, path, body string) string {
	t.Helper()
	r := s.do("POST", s.cfURL+path, user, []byte(body))
	if r.status != 201 && r.status != 200 {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	var res struct{ GUID string }
	_ = json.Unmarshal(r.body, &res)
	return res.GUID
}

// serviceFixture gives the app a route on the shared domain and binds a
// user-provided service instance to it, through the embedded CF's v3 API.
func (s *stack) serviceFixture(t *testing.T, appGUID, host, service string) (routeGUID, instanceGUID string) {
	t.Helper()
	space := backend.DemoSpaceGUID
	routeGUID = s.v3Create(t, "developer", "/v3/routes", fmt.Sprintf(`{"host":%q,"relationships":{"space":{"data":{"guid":%q}},"domain":{"data":{"guid":%q}}}}`,
		host, space, backend.SharedDomainGUID))
	s.v3Create(t, "developer", "/v3/routes/"+routeGUID+"/destinations", fmt.Sprintf(`{"destinations":[{"app":{"guid":%q}}]}`, appGUID))
	instanceGUID = s.v3Create(t, "developer", "/v3/service_instances", fmt.Sprintf(`{"type":"user-provided","name":%q,"credentials":{"password":"s3cret"},"relationships":{"space":{"data":{"guid":%q}}}}`,
		service, space))
	s.v3Create(t, "developer", "/v3/service_credential_bindings", fmt.Sprintf(`{"type":"app","relationships":{"service_instance":{"data":{"guid":%q}},"app":{"data":{"guid":%q}}}}`,
		instanceGUID, appGUID))
	return routeGUID, instanceGUID
}

func TestV2AppSummary(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "summed")[0]
	routeGUID, instanceGUID := s.serviceFixture(t, guid, "summed", "summed-db")

	r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/summary", "developer", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	ref, err := os.ReadFile("../translate/testdata/reference/app_summary.current-shape.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keysOf(t, r.body), ","), strings.Join(keysOf(t, ref), ","); got != want {
		t.Errorf("keys\n got %s\nwant %s", got, want)
	}
	var sum struct {
		GUID             string `json:"guid"`
		Name             string `json:"name"`
		RunningInstances int    `json:"running_instances"`
		Routes           []struct {
			GUID, Host string
			Domain     struct{ GUID, Name string }
		}
		Services []struct {
			GUID          string `json:"guid"`
			Name          string `json:"name"`
			BoundAppCount int    `json:"bound_app_count"`
			Type          string `json:"type"`
		}
		AvailableDomains []struct{ GUID, Name string } `json:"available_domains"`
		Env              map[string]string             `json:"environment_json"`
		Ports            *[]int                        `json:"ports"`
	}
	if err := json.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.GUID != guid || sum.Name != "summed" || sum.RunningInstances != 0 || len(sum.Routes) != 1 || sum.Routes[0].GUID != routeGUID ||
		sum.Routes[0].Domain.Name != backend.SharedDomainName || len(sum.Services) != 1 || sum.Services[0].GUID != instanceGUID ||
		sum.Services[0].BoundAppCount != 1 || sum.Services[0].Type != "user_provided_service_instance" || sum.Env["K"] != "v" || sum.Ports != nil {
		t.Errorf("summary %s", r.body)
	}
	if len(sum.AvailableDomains) != 1 || sum.AvailableDomains[0].GUID != backend.SharedDomainGUID {
		t.Errorf("available_domains %+v", sum.AvailableDomains)
	}
	// Readers without env access get it redacted (a documented deviation
	// from CC's summary, which showed it to every reader).
	if r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/summary", "auditor", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"environment_json":{"redacted_message":"[PRIVATE DATA HIDDEN]"}`) {
		t.Errorf("auditor: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/summary", "outsider", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-AppNotFound") {
		t.Errorf("outsider: %d %s", r.status, r.body)
	}

	// The binding's credentials: shown to a developer, redacted for an auditor.
	for user, want := range map[string]string{"developer": `"credentials":{"password":"s3cret"}`,
		"auditor": `"credentials":{"redacted_message":"[PRIVATE DATA HIDDEN]"}`} {
		if r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/service_bindings", user, nil); !strings.Contains(string(r.body), want) {
			t.Errorf("%s bindings: %s", user, r.body)
		}
	}
}

func TestV2SpaceSummary(t *testing.T) {
	s := startStack(t, nil)
	guids := s.createApps(t, "developer", "s-one", "s-two")
	s.serviceFixture(t, guids[0], "s-one", "space-db")
	space := backend.DemoSpaceGUID
	r := s.do("GET", s.gwURL+"/v2/spaces/"+space+"/summary", "developer", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var sum struct {
		GUID, Name string
		Apps       []struct {
			GUID             string   `json:"guid"`
			Name             string   `json:"name"`
			URLs             []string `json:"urls"`
			ServiceCount     int      `json:"service_count"`
			ServiceNames     []string `json:"service_names"`
			RunningInstances int      `json:"running_instances"`
			State            string   `json:"state"`
		}
		Services []struct {
			Name          string `json:"name"`
			BoundAppCount int    `json:"bound_app_count"`
		}
	}
	if err := json.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.GUID != space || sum.Name != backend.DemoSpaceName || len(sum.Apps) != 2 || len(sum.Services) != 1 ||
		sum.Services[0].Name != "space-db" || sum.Services[0].BoundAppCount != 1 {
		t.Fatalf("summary %s", r.body)
	}
	for _, a := range sum.Apps {
		switch a.Name {
		case "s-one":
			if len(a.URLs) != 1 || a.URLs[0] != "s-one."+backend.SharedDomainName || a.ServiceCount != 1 || a.ServiceNames[0] != "space-db" || a.State != "STOPPED" {
				t.Errorf("s-one %+v", a)
			}
		case "s-two":
			if len(a.URLs) != 0 || a.ServiceCount != 0 || a.ServiceNames == nil {
				t.Errorf("s-two %+v", a)
			}
		default:
			t.Errorf("unexpected app %+v", a)
		}
	}
	for user, status := range map[string]int{"auditor": 200, "outsider": 404} {
		if r := s.do("GET", s.gwURL+"/v2/spaces/"+space+"/summary", user, nil); r.status != status {
			t.Errorf("%s: %d %s", user, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/spaces/no-such-space/summary", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-SpaceNotFound") {
		t.Errorf("missing space: %d %s", r.status, r.body)
	}
}
