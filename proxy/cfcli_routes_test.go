package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
)

// v2Route is what the cf CLI reads of a v2 route: the new code its
// fields, the legacy code the inlined domain, space and apps as well.
type v2Route struct {
	Metadata struct{ GUID string } `json:"metadata"`
	Entity   struct {
		Host, Path string
		DomainGUID string `json:"domain_guid"`
		SpaceGUID  string `json:"space_guid"`
		Port       *int
		DomainURL  string `json:"domain_url"`
		Domain     *struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct{ Name string } `json:"entity"`
		} `json:"domain"`
		Space *struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct{ Name string } `json:"entity"`
		} `json:"space"`
		Apps []struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct{ Name string } `json:"entity"`
		} `json:"apps"`
	} `json:"entity"`
}

type v2RouteList struct {
	TotalResults int       `json:"total_results"`
	Resources    []v2Route `json:"resources"`
}

// routeRequests replays, request by request, what cf CLI 6.53.0 and 6.37.0
// (built from their sources) sent for the route and domain commands of
// MAPPING-routes §9.19, recorded on the wire against this gateway in
// front of the embedded CF: push with its default route, create-route,
// check-route, map-route (whose create fails as taken), routes, domains,
// unmap-route, delete-orphaned-routes (6.53's one request; 6.37's list and
// deletes), create-domain, create-route and delete-route on it,
// delete-domain and delete-shared-domain (async, the job polled), and
// delete -r.
func TestCFCLIRouteCommands(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	dev := &cliSession{t: t, s: s, token: "bearer " + s.tokens["developer"]}
	admin := &cliSession{t: t, s: s, token: "bearer " + s.tokens["admin"]}
	org, space, dom := backend.DemoOrgGUID, backend.DemoSpaceGUID, backend.SharedDomainGUID
	name := backend.SharedDomainName
	var routes v2RouteList
	var list struct {
		TotalResults int `json:"total_results"`
		Resources    []struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct {
				Name                   string
				Internal               bool
				OwningOrganizationGUID *string `json:"owning_organization_guid"`
				SharedOrganizationsURL *string `json:"shared_organizations_url"`
				RouterGroupType        *string `json:"router_group_type"`
			} `json:"entity"`
		} `json:"resources"`
	}
	total := func(c *cliSession, path string, want int) {
		t.Helper()
		c.get(path, &list)
		if list.TotalResults != want {
			t.Fatalf("GET %s: %d results, want %d", path, list.TotalResults, want)
		}
	}

	// cf push myapp (6.53, new code): the default domain is the first
	// shared one that is not internal; the route does not exist and is
	// not reserved, so the app and the route are created and mapped.
	dev.get("/v2/apps?q=name%3Amyapp&q=space_guid%3A"+space, &list)
	total(dev, "/v2/shared_domains", 1)
	if list.Resources[0].Metadata.GUID != dom || list.Resources[0].Entity.Internal {
		t.Fatalf("default domain: %+v", list)
	}
	total(dev, "/v2/organizations/"+org+"/private_domains", 0)
	total(dev, "/v2/routes?q=domain_guid%3A"+dom+"&q=host%3Amyapp&q=path%3A", 0)
	dev.send("GET", "/v2/routes/reserved/domain/"+dom+"?host=myapp", dev.token, "", nil, 404, "Authorization", dev.token)
	app := decodeApp(t, dev.json("POST", "/v2/apps", map[string]string{"name": "myapp", "space_guid": space}, 201), 201).Metadata.GUID
	route := cliCreateRoute(dev, "/v2/routes", map[string]any{"domain_guid": dom, "host": "myapp", "port": nil, "space_guid": space}, 201)
	if route.Entity.Host != "myapp" || route.Entity.Path != "" || route.Entity.Port != nil || route.Entity.DomainGUID != dom || route.Entity.SpaceGUID != space {
		t.Fatalf("created route: %+v", route)
	}
	var mapped v2Route
	if err := json.Unmarshal(dev.send("PUT", "/v2/routes/"+route.Metadata.GUID+"/apps/"+app, dev.token, "", nil, 201, "Authorization", dev.token).body, &mapped); err != nil ||
		mapped.Metadata.GUID != route.Metadata.GUID {
		t.Fatalf("map answers the route: %v %+v", err, mapped)
	}
	// The summary of push and of cf app: the app's routes, each domain
	// by its url's kind.
	dev.get("/v2/apps/"+app+"/routes", &routes)
	if routes.TotalResults != 1 || routes.Resources[0].Entity.DomainURL != "/v2/shared_domains/"+dom {
		t.Fatalf("app routes: %+v", routes)
	}
	dev.get(routes.Resources[0].Entity.DomainURL, nil)

	// cf create-route demo-space DOMAIN --hostname second (new code).
	dev.get("/v2/spaces?order-by=name&q=name%3Ademo-space&q=organization_guid%3A"+org, nil)
	total(dev, "/v2/shared_domains?q=name+IN+"+name, 1)
	if list.Resources[0].Entity.RouterGroupType != nil {
		t.Errorf("router_group_type of an http domain: %v", *list.Resources[0].Entity.RouterGroupType)
	}
	total(dev, "/v2/organizations/"+org+"/private_domains?q=name+IN+"+name, 0)
	total(dev, "/v2/routes?q=domain_guid%3A"+dom+"&q=host%3Asecond&q=path%3A", 0)
	dev.send("GET", "/v2/routes/reserved/domain/"+dom+"?host=second", dev.token, "", nil, 404, "Authorization", dev.token)
	second := cliCreateRoute(dev, "/v2/routes", map[string]any{"domain_guid": dom, "host": "second", "port": nil, "space_guid": space}, 201)

	// cf check-route second DOMAIN (legacy): the domain by name, private
	// first, shared when neither owned nor shared with orgs.
	total(dev, "/v2/organizations/"+org+"/private_domains?inline-relations-depth=1&q=name:"+name, 0)
	total(dev, "/v2/shared_domains?inline-relations-depth=1&q=name:"+name, 1)
	if e := list.Resources[0].Entity; e.OwningOrganizationGUID != nil || e.SharedOrganizationsURL != nil {
		t.Errorf("the legacy CLI takes this domain for a private one: %+v", e)
	}
	dev.send("GET", "/v2/routes/reserved/domain/"+dom+"/host/second", dev.token, "", nil, 204, "Authorization", dev.token)

	// cf map-route myapp DOMAIN --hostname second (legacy): the create
	// fails as taken, the route is found in this space and domain, and the
	// app is mapped through the app.
	total(dev, "/v2/spaces/"+space+"/apps?q=name%3Amyapp&inline-relations-depth=1", 1)
	r := dev.json("POST", "/v2/routes?async=true&inline-relations-depth=1", map[string]string{"domain_guid": dom, "host": "second", "space_guid": space}, 400)
	if !strings.Contains(string(r.body), `"code":210003`) {
		t.Fatalf("taken route: %s", r.body)
	}
	found := findRoute(dev, "/v2/routes?inline-relations-depth=1&q=host%3Asecond%3Bdomain_guid%3A"+dom)
	if found.Metadata.GUID != second.Metadata.GUID || found.Entity.Space.Metadata.GUID != space || found.Entity.Domain.Metadata.GUID != dom {
		t.Fatalf("find route: %+v", found)
	}
	dev.send("PUT", "/v2/apps/"+app+"/routes/"+second.Metadata.GUID, dev.token, "", nil, 201, "Authorization", dev.token)

	// cf routes (legacy): the space's routes with their space, domain and
	// app names; cf domains (6.53).
	total(dev, "/v2/organizations/"+org+"/private_domains", 0)
	total(dev, "/v2/shared_domains?inline-relations-depth=1", 1)
	dev.get("/v2/spaces/"+space+"/routes?inline-relations-depth=1", &routes)
	if routes.TotalResults != 2 {
		t.Fatalf("routes: %+v", routes)
	}
	for _, rt := range routes.Resources {
		if rt.Entity.Space.Entity.Name != backend.DemoSpaceName || rt.Entity.Domain.Entity.Name != name || len(rt.Entity.Apps) != 1 ||
			rt.Entity.Apps[0].Entity.Name != "myapp" {
			t.Errorf("cf routes row: %+v", rt.Entity)
		}
	}

	// cf unmap-route myapp DOMAIN --hostname second (legacy).
	found = findRoute(dev, "/v2/routes?inline-relations-depth=1&q=host%3Asecond%3Bdomain_guid%3A"+dom)
	if len(found.Entity.Apps) != 1 || found.Entity.Apps[0].Metadata.GUID != app {
		t.Fatalf("the CLI unmaps only a mapped app: %+v", found.Entity.Apps)
	}
	dev.send("DELETE", "/v2/apps/"+app+"/routes/"+second.Metadata.GUID+"?async=true", dev.token, "", nil, 204, "Authorization", dev.token)

	// cf delete-orphaned-routes -f: 6.53's one request, 204.
	dev.send("DELETE", "/v2/spaces/"+space+"/unmapped_routes", dev.token, "", nil, 204, "Authorization", dev.token)
	dev.get("/v2/spaces/"+space+"/routes?inline-relations-depth=1", &routes)
	if routes.TotalResults != 1 || routes.Resources[0].Metadata.GUID != route.Metadata.GUID {
		t.Fatalf("routes after delete-orphaned-routes: %+v", routes)
	}
	// 6.37's: every route of the space, the apps of each, and a delete of
	// those without (no async).
	orphan := cliCreateRoute(dev, "/v2/routes", map[string]any{"domain_guid": dom, "host": "orphan", "port": nil, "space_guid": space}, 201)
	dev.get("/v2/spaces/"+space+"/routes", &routes)
	for _, rt := range routes.Resources {
		var apps struct {
			TotalResults int `json:"total_results"`
		}
		dev.get("/v2/routes/"+rt.Metadata.GUID+"/apps", &apps)
		if (apps.TotalResults == 0) != (rt.Metadata.GUID == orphan.Metadata.GUID) {
			t.Errorf("route %s has %d apps", rt.Entity.Host, apps.TotalResults)
		}
	}
	dev.send("DELETE", "/v2/routes/"+orphan.Metadata.GUID, dev.token, "", nil, 204, "Authorization", dev.token)

	// cf create-domain demo-org private.example.org (admin, legacy), then
	// create-route on it (new code) and delete-route (6.53 synchronous,
	// 6.37 async with the job polled).
	total(admin, "/v2/organizations?q=name%3Ademo-org&inline-relations-depth=1", 1)
	r = admin.json("POST", "/v2/private_domains?async=true", map[string]any{"name": "private.example.org", "owning_organization_guid": org, "wildcard": true}, 201)
	var pd struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if err := json.Unmarshal(r.body, &pd); err != nil || pd.Metadata.GUID == "" {
		t.Fatalf("create-domain: %v %s", err, r.body)
	}
	total(admin, "/v2/shared_domains?q=name+IN+private.example.org", 0)
	total(admin, "/v2/organizations/"+org+"/private_domains?q=name+IN+private.example.org", 1)
	total(admin, "/v2/routes?q=domain_guid%3A"+pd.Metadata.GUID+"&q=host%3Ap&q=path%3A", 0)
	admin.send("GET", "/v2/routes/reserved/domain/"+pd.Metadata.GUID+"?host=p", admin.token, "", nil, 404, "Authorization", admin.token)
	for _, async := range []bool{false, true} {
		p := cliCreateRoute(admin, "/v2/routes", map[string]any{"domain_guid": pd.Metadata.GUID, "host": "p", "port": nil, "space_guid": space}, 201)
		total(admin, "/v2/organizations/"+org+"/private_domains?inline-relations-depth=1&q=name:private.example.org", 1)
		found = findRoute(admin, "/v2/routes?inline-relations-depth=1&q=host%3Ap%3Bdomain_guid%3A"+pd.Metadata.GUID)
		if found.Metadata.GUID != p.Metadata.GUID || found.Entity.DomainURL != "/v2/private_domains/"+pd.Metadata.GUID {
			t.Fatalf("find route on the private domain: %+v", found)
		}
		if !async {
			admin.send("DELETE", "/v2/routes/"+p.Metadata.GUID, admin.token, "", nil, 204, "Authorization", admin.token)
			continue
		}
		pollJob(admin, admin.send("DELETE", "/v2/routes/"+p.Metadata.GUID+"?async=true", admin.token, "", nil, 202, "Authorization", admin.token))
	}
	// cf delete-domain: async and recursive, the job polled.
	pollJob(admin, admin.send("DELETE", "/v2/private_domains/"+pd.Metadata.GUID+"?async=true&recursive=true", admin.token, "", nil, 202, "Authorization", admin.token))
	total(admin, "/v2/organizations/"+org+"/private_domains", 0)

	// cf create-shared-domain (6.53's body, and 6.37's legacy one), then
	// delete-shared-domain.
	for i, body := range []map[string]any{{"internal": false, "name": "shared2.example.org"}, {"name": "shared3.example.org", "wildcard": true}} {
		r = admin.json("POST", "/v2/shared_domains", body, 201)
		var sd struct {
			Metadata struct{ GUID string } `json:"metadata"`
			Entity   struct{ Name string } `json:"entity"`
		}
		if err := json.Unmarshal(r.body, &sd); err != nil || sd.Entity.Name != body["name"] {
			t.Fatalf("create-shared-domain %d: %v %s", i, err, r.body)
		}
		total(admin, "/v2/organizations/"+org+"/private_domains?inline-relations-depth=1&q=name:"+sd.Entity.Name, 0)
		total(admin, "/v2/shared_domains?inline-relations-depth=1&q=name:"+sd.Entity.Name, 1)
		pollJob(admin, admin.send("DELETE", "/v2/shared_domains/"+sd.Metadata.GUID+"?async=true&recursive=true", admin.token, "", nil, 202, "Authorization", admin.token))
	}
	total(admin, "/v2/shared_domains", 1)

	// cf delete myapp -r -f (legacy): the app with its routes inlined, each
	// route deleted, then the app.
	var apps struct {
		Resources []struct {
			Entity struct {
				Routes []v2Route `json:"routes"`
			} `json:"entity"`
		} `json:"resources"`
	}
	dev.get("/v2/spaces/"+space+"/apps?q=name%3Amyapp&inline-relations-depth=1", &apps)
	if len(apps.Resources) != 1 || len(apps.Resources[0].Entity.Routes) != 1 {
		t.Fatalf("the app with its routes: %+v", apps)
	}
	dev.get("/v2/apps/"+app+"/routes", &routes)
	for _, rt := range routes.Resources {
		dev.send("DELETE", "/v2/routes/"+rt.Metadata.GUID, dev.token, "", nil, 204, "Authorization", dev.token)
	}
	dev.send("DELETE", "/v2/apps/"+app+"?async=true&recursive=true", dev.token, "", nil, 204, "Authorization", dev.token)
	total(dev, "/v2/spaces/"+space+"/routes?inline-relations-depth=1", 0)
}

// cliCreateRoute posts a route body and decodes the route answered.
func cliCreateRoute(c *cliSession, path string, body map[string]any, status int) v2Route {
	c.t.Helper()
	var rt v2Route
	r := c.json("POST", path, body, status)
	if err := json.Unmarshal(r.body, &rt); err != nil || rt.Metadata.GUID == "" {
		c.t.Fatalf("POST %s: %v %s", path, err, r.body)
	}
	return rt
}

// findRoute is the legacy CLI's RouteRepository.Find: the first route of
// the list.
func findRoute(c *cliSession, path string) v2Route {
	c.t.Helper()
	var rs v2RouteList
	c.get(path, &rs)
	if len(rs.Resources) == 0 {
		c.t.Fatalf("GET %s: no route", path)
	}
	return rs.Resources[0]
}

// pollJob follows a 202's v2 job as the legacy CLI does until it is
// finished.
func pollJob(c *cliSession, r reply) {
	c.t.Helper()
	var job struct {
		Metadata struct{ URL string }    `json:"metadata"`
		Entity   struct{ Status string } `json:"entity"`
	}
	if err := json.Unmarshal(r.body, &job); err != nil || job.Entity.Status != "queued" {
		c.t.Fatalf("202 job: %v %s", err, r.body)
	}
	for range 100 {
		c.get(job.Metadata.URL, &job)
		switch job.Entity.Status {
		case "finished":
			return
		case "failed":
			c.t.Fatalf("job %s failed", job.Metadata.URL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("job %s did not finish", job.Metadata.URL)
}
