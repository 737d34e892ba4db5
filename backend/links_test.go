package backend

import (
	"capibridge/backend/store"
	"encoding/json"
	"strings"
	"testing"
)

// Every link a resource gives, followed with GET, is a route the embedded
// CF serves: a resource the link names may be missing (a current droplet
// that is not there is CC's 404 too), but no link leads to an unknown
// request (404, code 10000), as the process resource's process_instances
// once did.
func TestEveryLinkAnswers(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "linked", nil)
	c.readyPackage("developer", app, zipFile{name: "Procfile", body: "web: ./run\n"})
	var domains struct{ Resources []struct{ GUID string } }
	c.must(200, "GET", "/v3/domains", "admin", nil).json(t, &domains)
	route := c.must(201, "POST", "/v3/routes", "developer", map[string]any{"host": "linked", "relationships": map[string]any{
		"domain": map[string]any{"data": map[string]any{"guid": domains.Resources[0].GUID}},
		"space":  map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}})
	var rt struct{ GUID string }
	route.json(t, &rt)
	c.must(200, "PATCH", "/v3/routes/"+rt.GUID+"/destinations", "developer", map[string]any{"destinations": []any{
		map[string]any{"app": map[string]any{"guid": app}}}})
	var si struct{ GUID string }
	c.must(201, "POST", "/v3/service_instances", "developer", map[string]any{"type": "user-provided", "name": "linked-ups",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}).json(t, &si)
	c.must(201, "POST", "/v3/service_credential_bindings", "developer", map[string]any{"type": "app", "relationships": map[string]any{
		"app": map[string]any{"data": map[string]any{"guid": app}}, "service_instance": map[string]any{"data": map[string]any{"guid": si.GUID}}}})

	lists := []string{"/v3/apps", "/v3/processes", "/v3/packages", "/v3/droplets", "/v3/builds", "/v3/spaces", "/v3/organizations",
		"/v3/routes", "/v3/domains", "/v3/service_instances", "/v3/service_credential_bindings", "/v3/service_route_bindings",
		"/v3/service_offerings", "/v3/service_plans", "/v3/service_brokers", "/v3/stacks", "/v3/buildpacks", "/v3/users", "/v3/roles",
		"/v3/security_groups", "/v3/isolation_segments", "/v3/organization_quotas", "/v3/space_quotas", "/v3/audit_events",
		"/v3/feature_flags", "/v3/deployments", "/v3/tasks"}
	const base = "http://api.example.org"
	followed := map[string]bool{}
	for _, list := range lists {
		r := c.must(200, "GET", list, "admin", nil)
		var page struct {
			Resources []struct {
				Links map[string]struct {
					Href   string `json:"href"`
					Method string `json:"method"`
				} `json:"links"`
			} `json:"resources"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("%s: %v", list, err)
		}
		if len(page.Resources) == 0 {
			continue
		}
		// One resource of each list: its links are the same routes as
		// the others'.
		for name, l := range page.Resources[0].Links {
			if l.Method != "" && l.Method != "GET" || !strings.HasPrefix(l.Href, base+"/v3/") {
				continue
			}
			path := strings.TrimPrefix(l.Href, base)
			followed[path] = true
			got := c.do("GET", path, "admin", nil)
			if code, _ := got.errCode(); got.status == 404 && code == 10000 {
				t.Errorf("%s links %s to %s: an unknown request", list, name, path)
			}
		}
	}
	if len(followed) < 40 {
		t.Errorf("only %d links followed", len(followed))
	}
}

// An org's default domain is the oldest shared domain that is neither
// internal nor a router group's; without one, the org's first private
// domain; without that, 404 Domain (cc:Organization#default_domain).
func TestOrgDefaultDomain(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	path := "/v3/organizations/" + DemoOrgGUID + "/domains/default"
	var d struct{ Name string }
	c.must(200, "GET", path, "developer", nil).json(t, &d)
	first := d.Name
	c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "later.example.com"})
	c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "internal.example.com", "internal": true})
	if c.must(200, "GET", path, "developer", nil).json(t, &d); d.Name != first {
		t.Errorf("default domain %q after newer shared ones, want the oldest %q", d.Name, first)
	}
	var shared struct {
		Resources []struct {
			GUID, Name string
			Internal   bool
		}
	}
	c.must(200, "GET", "/v3/domains?per_page=100", "admin", nil).json(t, &shared)
	for _, dom := range shared.Resources {
		if !dom.Internal {
			r := c.must(202, "DELETE", "/v3/domains/"+dom.GUID, "admin", nil)
			if state := c.waitJob(r.header["Location"], "admin"); state != store.JobComplete {
				t.Fatalf("deleting %s: %s", dom.Name, state)
			}
		}
	}
	if r := c.do("GET", path, "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "Domain not found") {
		t.Errorf("only an internal shared domain left: %d %s", r.status, r.body)
	}
	c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "private.example.com",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"guid": DemoOrgGUID}}}})
	if c.must(200, "GET", path, "developer", nil).json(t, &d); d.Name != "private.example.com" {
		t.Errorf("default domain %q, want the org's private one", d.Name)
	}
	c.must(404, "GET", "/v3/organizations/missing/domains/default", "developer", nil)
}

// Revisions and tasks: the embedded CF records and runs none, so their
// lists are empty, with CC's query checks (AppRevisionsListMessage,
// TasksListMessage), and a get is 404.
func TestRevisionsAndTasksAreEmpty(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "no-tasks", nil)
	for path, valid := range map[string]string{
		"/v3/apps/" + app + "/revisions":          "versions=1&deployable=true",
		"/v3/apps/" + app + "/revisions/deployed": "per_page=10",
		"/v3/apps/" + app + "/tasks":              "states=RUNNING&sequence_ids=1&names=x",
		"/v3/tasks":                               "app_guids=" + app + "&states=FAILED",
	} {
		r := c.must(200, "GET", path+"?"+valid, "developer", nil)
		if rawAt(t, r.body, "pagination.total_results") != "0" || rawAt(t, r.body, "resources") != "[]" {
			t.Errorf("%s: %s", path, r.body)
		}
		if r := c.must(400, "GET", path+"?bogus=1", "developer", nil); !strings.Contains(string(r.body), "bogus") {
			t.Errorf("%s with an unknown key: %s", path, r.body)
		}
	}
	c.must(400, "GET", "/v3/apps/"+app+"/tasks?app_guids="+app, "developer", nil)
	c.must(404, "GET", "/v3/apps/missing/tasks", "developer", nil)
	c.must(404, "GET", "/v3/tasks/"+app, "developer", nil)
	c.must(404, "GET", "/v3/revisions/"+app, "developer", nil)
}
