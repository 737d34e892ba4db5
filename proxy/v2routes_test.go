package proxy

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
)

// go-cfclient's last v2 release creates, lists, reads, maps and deletes
// routes and route mappings through the gateway in front of the embedded
// CF (MAPPING-routes §9.19.5).
func TestV2RoutesGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "routed")[0]
	c := s.goCFClient(t, "developer")
	route, err := c.CreateRoute(cfclient.RouteRequest{DomainGuid: backend.SharedDomainGUID, SpaceGuid: backend.DemoSpaceGUID, Host: "web"})
	if err != nil || route.Guid == "" || route.Host != "web" || route.Path != "" || route.Port != 0 || route.DomainGuid != backend.SharedDomainGUID ||
		route.SpaceGuid != backend.DemoSpaceGUID {
		t.Fatalf("CreateRoute: %v %+v", err, route)
	}
	if got, err := c.GetRouteByGuid(route.Guid); err != nil || got.Host != "web" {
		t.Errorf("GetRouteByGuid: %v %+v", err, got)
	}
	// Route.Domain follows domain_url, which must name a working path.
	if d, err := route.Domain(); err != nil || d.Name != backend.SharedDomainName {
		t.Errorf("Route.Domain: %v %+v", err, d)
	}
	if rs, err := c.ListRoutes(); err != nil || len(rs) != 1 || rs[0].Guid != route.Guid {
		t.Errorf("ListRoutes: %v %+v", err, rs)
	}
	if rs, err := c.ListRoutesByQuery(url.Values{"q": {"host:web", "domain_guid:" + backend.SharedDomainGUID}}); err != nil || len(rs) != 1 {
		t.Errorf("ListRoutesByQuery: %v %+v", err, rs)
	}
	if rs, err := c.ListRoutesByQuery(url.Values{"q": {"host:other"}}); err != nil || len(rs) != 0 {
		t.Errorf("ListRoutesByQuery other host: %v %+v", err, rs)
	}
	// A second create of the same route is RouteHostTaken.
	_, err = c.CreateRoute(cfclient.RouteRequest{DomainGuid: backend.SharedDomainGUID, SpaceGuid: backend.DemoSpaceGUID, Host: "web"})
	if err == nil || !strings.Contains(err.Error(), "CF-RouteHostTaken") {
		t.Errorf("duplicate CreateRoute: %v", err)
	}

	// go-cfclient always sends app_port 0, which a buildpack app does not
	// have open (§9.19.5).
	if _, err := c.MappingAppAndRoute(cfclient.RouteMappingRequest{AppGUID: app, RouteGUID: route.Guid}); err == nil ||
		!strings.Contains(err.Error(), "CF-RoutePortNotEnabledOnApp") {
		t.Errorf("MappingAppAndRoute with app_port 0: %v", err)
	}
	m, err := c.MappingAppAndRoute(cfclient.RouteMappingRequest{AppGUID: app, RouteGUID: route.Guid, AppPort: 8080})
	if err != nil || m.Guid == "" || m.AppGUID != app || m.RouteGUID != route.Guid || m.AppPort != 8080 {
		t.Fatalf("MappingAppAndRoute: %v %+v", err, m)
	}
	if _, err := c.MappingAppAndRoute(cfclient.RouteMappingRequest{AppGUID: app, RouteGUID: route.Guid, AppPort: 8080}); err == nil ||
		!strings.Contains(err.Error(), "CF-RouteMappingTaken") {
		t.Errorf("second mapping: %v", err)
	}
	if got, err := c.GetRouteMappingByGuid(m.Guid); err != nil || got.AppGUID != app || got.RouteGUID != route.Guid {
		t.Errorf("GetRouteMappingByGuid: %v %+v", err, got)
	}
	if ms, err := c.ListRouteMappings(); err != nil || len(ms) != 1 || ms[0].Guid != m.Guid {
		t.Errorf("ListRouteMappings: %v %+v", err, ms)
	}
	if ms, err := c.ListRouteMappingsByQuery(url.Values{"q": {"app_guid:" + app}}); err != nil || len(ms) != 1 {
		t.Errorf("ListRouteMappingsByQuery: %v %+v", err, ms)
	}
	if apps, err := c.ListAppsByRoute(route.Guid); err != nil || len(apps) != 1 || apps[0].Guid != app {
		t.Errorf("ListAppsByRoute: %v %+v", err, apps)
	}
	if rs, err := c.GetAppRoutes(app); err != nil || len(rs) != 1 || rs[0].Guid != route.Guid {
		t.Errorf("GetAppRoutes: %v %+v", err, rs)
	}
	if err := c.DeleteRouteMapping(m.Guid); err != nil {
		t.Errorf("DeleteRouteMapping: %v", err)
	}
	if _, err := c.GetRouteMappingByGuid(m.Guid); err == nil || !strings.Contains(err.Error(), "CF-RouteMappingNotFound") {
		t.Errorf("mapping after delete: %v", err)
	}
	// BindRoute is PUT /v2/routes/:guid/apps/:app: 201, also when mapped.
	for range 2 {
		if err := c.BindRoute(route.Guid, app); err != nil {
			t.Errorf("BindRoute: %v", err)
		}
	}
	if ms, err := c.ListRouteMappings(); err != nil || len(ms) != 1 || ms[0].AppPort != 8080 {
		t.Errorf("mappings after BindRoute: %v %+v", err, ms)
	}
	// A mapped route is deleted with its mappings.
	if err := c.DeleteRoute(route.Guid); err != nil {
		t.Errorf("DeleteRoute: %v", err)
	}
	if _, err := c.GetRouteByGuid(route.Guid); err == nil || !strings.Contains(err.Error(), "CF-RouteNotFound") {
		t.Errorf("route after delete: %v", err)
	}
	if rs, err := c.GetAppRoutes(app); err != nil || len(rs) != 0 {
		t.Errorf("app routes after delete: %v %+v", err, rs)
	}
}

// Private and shared domain writes through go-cfclient (§9.12, §9.13).
func TestV2DomainWritesGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	d, err := admin.CreateDomain("private.example.org", backend.DemoOrgGUID)
	if err != nil || d.Guid == "" || d.Name != "private.example.org" || d.OwningOrganizationGuid != backend.DemoOrgGUID {
		t.Fatalf("CreateDomain: %v %+v", err, d)
	}
	if _, err := admin.CreateDomain("private.example.org", backend.DemoOrgGUID); err == nil || !strings.Contains(err.Error(), "CF-DomainNameTaken") {
		t.Errorf("CreateDomain twice: %v", err)
	}
	if got, err := admin.GetDomainByGuid(d.Guid); err != nil || got.Name != d.Name {
		t.Errorf("GetDomainByGuid: %v %+v", err, got)
	}
	sd, err := admin.CreateSharedDomain("shared.example.org", false, "")
	if err != nil || sd.Guid == "" || sd.Name != "shared.example.org" || sd.Internal {
		t.Fatalf("CreateSharedDomain: %v %+v", err, sd)
	}
	if ds, err := admin.ListSharedDomains(); err != nil || len(ds) != 2 {
		t.Errorf("ListSharedDomains: %v %+v", err, ds)
	}
	// A developer may not create shared domains.
	dev := s.goCFClient(t, "developer")
	if _, err := dev.CreateSharedDomain("dev.example.org", false, ""); err == nil || !strings.Contains(err.Error(), "CF-NotAuthorized") {
		t.Errorf("developer CreateSharedDomain: %v", err)
	}
	// A domain with routes is refused without recursive.
	r := s.do("POST", s.gwURL+"/v2/routes", "developer", []byte(`{"host":"x","domain_guid":"`+d.Guid+`","space_guid":"`+backend.DemoSpaceGUID+`"}`))
	if r.status != 201 {
		t.Fatalf("route on the private domain: %d %s", r.status, r.body)
	}
	if err := admin.DeleteDomain(d.Guid); err == nil || !strings.Contains(err.Error(), "CF-AssociationNotEmpty") {
		t.Errorf("DeleteDomain with routes: %v", err)
	}
	r = s.do("DELETE", s.gwURL+"/v2/private_domains/"+d.Guid+"?recursive=true&async=true", "admin", nil)
	var job struct {
		Entity struct{ GUID, Status string } `json:"entity"`
	}
	if r.status != 202 || json.Unmarshal(r.body, &job) != nil || job.Entity.Status != "queued" {
		t.Fatalf("async recursive delete: %d %s", r.status, r.body)
	}
	s.waitV2Job(t, job.Entity.GUID)
	if _, err := admin.GetDomainByGuid(d.Guid); err == nil || !strings.Contains(err.Error(), "CF-DomainNotFound") {
		t.Errorf("domain after delete: %v", err)
	}
	if err := admin.DeleteSharedDomain(sd.Guid, false); err != nil {
		t.Errorf("DeleteSharedDomain: %v", err)
	}
}

// waitV2Job polls GET /v2/jobs/:guid until the job is finished.
func (s *stack) waitV2Job(t *testing.T, guid string) {
	t.Helper()
	for range 100 {
		r := s.do("GET", s.gwURL+"/v2/jobs/"+guid, "admin", nil)
		if strings.Contains(string(r.body), `"status":"finished"`) {
			return
		}
		if r.status != 200 || strings.Contains(string(r.body), `"status":"failed"`) {
			t.Fatalf("job %s: %d %s", guid, r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", guid)
}

// Route and domain pages are cached, and every write that changes what
// they show (a route create, a mapping through the app, a route delete, a
// domain create) is seen by the next read.
func TestCacheRouteAndDomainPages(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "cached-routes")[0]
	g := s.cachedGateway(t, s.cfURL, "", nil)
	list := func(path string, want int) reply {
		t.Helper()
		r := s.do("GET", g.url+path, "developer", nil)
		if n := listTotal(t, r); n != want {
			t.Fatalf("%s: %d, want %d", path, n, want)
		}
		return r
	}
	list("/v2/routes?inline-relations-depth=1", 0)
	if r := list("/v2/routes?inline-relations-depth=1", 0); !strings.Contains(cacheStatus(r), "hit") {
		t.Errorf("second read not a hit: %q", cacheStatus(r))
	}
	r := s.do("POST", g.url+"/v2/routes", "developer", []byte(`{"host":"c","domain_guid":"`+backend.SharedDomainGUID+`","space_guid":"`+backend.DemoSpaceGUID+`"}`))
	var route struct {
		Metadata struct{ GUID string } `json:"metadata"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &route) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	list("/v2/routes?inline-relations-depth=1", 1)
	list("/v2/spaces/"+backend.DemoSpaceGUID+"/routes?inline-relations-depth=1", 1)
	if r := s.do("PUT", g.url+"/v2/apps/"+app+"/routes/"+route.Metadata.GUID, "developer", nil); r.status != 201 {
		t.Fatalf("map: %d %s", r.status, r.body)
	}
	if r := list("/v2/routes?inline-relations-depth=1", 1); !strings.Contains(string(r.body), `"name":"cached-routes"`) {
		t.Errorf("the mapped app is not inlined after the map: %s", r.body)
	}
	if r := s.do("DELETE", g.url+"/v2/routes/"+route.Metadata.GUID, "developer", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	list("/v2/routes?inline-relations-depth=1", 0)
	list("/v2/spaces/"+backend.DemoSpaceGUID+"/routes?inline-relations-depth=1", 0)

	list("/v2/shared_domains", 1)
	if r := s.do("POST", g.url+"/v2/shared_domains", "admin", []byte(`{"name":"cached.example.org"}`)); r.status != 201 {
		t.Fatalf("domain: %d %s", r.status, r.body)
	}
	list("/v2/shared_domains", 2)
}

// TCP routes on a router group's domain (MAPPING-routes §9.16): the
// router group through the gateway's routing API, a TCP shared domain,
// go-cfclient's CreateTcpRoute with its port 0 (a generated port and
// CC's warning), the port checks, and the reserved check by port.
func TestV2TCPRoutes(t *testing.T) {
	s := startStack(t, nil)
	r := s.do("GET", s.gwURL+"/routing/v1/router_groups?name=default-tcp", "admin", nil)
	var groups []struct{ GUID, Name, Type string }
	if r.status != 200 || json.Unmarshal(r.body, &groups) != nil || len(groups) != 1 || groups[0].GUID != backend.TCPRouterGroupGUID || groups[0].Type != "tcp" {
		t.Fatalf("router groups through the gateway: %d %s", r.status, r.body)
	}
	admin := s.goCFClient(t, "admin")
	tcp, err := admin.CreateSharedDomain("tcp.example.org", false, backend.TCPRouterGroupGUID)
	if err != nil || tcp.RouterGroupGuid != backend.TCPRouterGroupGUID || tcp.RouterGroupType != "tcp" {
		t.Fatalf("CreateSharedDomain with a router group: %v %+v", err, tcp)
	}
	if d, err := admin.GetSharedDomainByGuid(tcp.Guid); err != nil || d.RouterGroupType != "tcp" {
		t.Errorf("GetSharedDomainByGuid: %v %+v", err, d)
	}
	dev := s.goCFClient(t, "developer")
	route, err := dev.CreateTcpRoute(cfclient.RouteRequest{DomainGuid: tcp.Guid, SpaceGuid: backend.DemoSpaceGUID})
	if err != nil || route.Port < 1024 || route.Port > 1033 || route.Host != "" {
		t.Fatalf("CreateTcpRoute: %v %+v", err, route)
	}
	post := func(query, body string) reply {
		t.Helper()
		return s.do("POST", s.gwURL+"/v2/routes"+query, "developer", []byte(body))
	}
	base := `"domain_guid":"` + tcp.Guid + `","space_guid":"` + backend.DemoSpaceGUID + `"`
	r = post("?generate_port=true", `{"port":0,`+base+`}`)
	if r.status != 201 || string(r.header.Peek("X-Cf-Warnings")) != "Specified+port+ignored.+Random+port+generated." {
		t.Errorf("generate_port with a port: %d %q %s", r.status, r.header.Peek("X-Cf-Warnings"), r.body)
	}
	port := itoa(route.Port)
	cases := []struct{ name, body, want string }{
		{"taken", `{"port":` + port + `,` + base + `}`, "CF-RoutePortTaken"},
		{"not reservable", `{"port":5000,` + base + `}`, "The requested port is not available for reservation"},
		{"no port", `{` + base + `}`, "For TCP routes you must specify a port or request a random one."},
		{"host", `{"host":"x","port":1030,` + base + `}`, "Host and path are not supported, as domain belongs to a TCP router group."},
	}
	for _, tc := range cases {
		if r := post("", tc.body); r.status != 400 || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/routes/reserved/domain/"+tcp.Guid+"?port="+port, "developer", nil); r.status != 204 {
		t.Errorf("reserved by port: %d %s", r.status, r.body)
	}
	if rs, err := dev.ListRoutesByQuery(url.Values{"q": {"port:" + port}}); err != nil || len(rs) != 1 || rs[0].Guid != route.Guid {
		t.Errorf("routes by port: %v %+v", err, rs)
	}
	// generate_port on an unknown domain is DomainInvalid, not InvalidRelation.
	if r := post("?generate_port=true", `{"domain_guid":"nope","space_guid":"`+backend.DemoSpaceGUID+`"}`); r.status != 400 || !strings.Contains(string(r.body), "CF-DomainInvalid") {
		t.Errorf("generate_port, unknown domain: %d %s", r.status, r.body)
	}
}
