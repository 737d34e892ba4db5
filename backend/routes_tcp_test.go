package backend

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"capibridge/backend/store"
)

// tcpDomain creates a shared TCP domain of the seeded router group as the
// admin and returns its guid.
func (c *cf) tcpDomain(name string) string {
	c.t.Helper()
	var d struct{ GUID string }
	c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": name, "router_group": map[string]string{"guid": TCPRouterGroupGUID}}).json(c.t, &d)
	return d.GUID
}

// tcpRoute creates a route of domain in demo-space as the developer, on
// port when it is not nil, and returns its guid and port.
func (c *cf) tcpRoute(domain string, port any) (string, int64) {
	c.t.Helper()
	body := routeBody("", "", DemoSpaceGUID, domain)
	if port != nil {
		body["port"] = port
	}
	var rt struct {
		GUID string
		Port *int64
	}
	c.must(201, "POST", "/v3/routes", "developer", body).json(c.t, &rt)
	if rt.Port == nil {
		c.t.Fatalf("tcp route %s has no port", rt.GUID)
	}
	return rt.GUID, *rt.Port
}

// TestTCPDomainCreate: a router group makes a shared domain a TCP domain;
// private domains and unknown groups are refused with CC's texts.
func TestTCPDomainCreate(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	r := c.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "tcp.example.com", "router_group": map[string]string{"guid": TCPRouterGroupGUID}})
	for path, want := range map[string]string{"router_group": `{"guid":"` + TCPRouterGroupGUID + `"}`, "supported_protocols": `["tcp"]`,
		"internal": "false", "relationships.organization": `{"data":null}`} {
		if got := rawAt(t, r.body, path); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	guid := rawAt(t, r.body, "guid")
	if got := c.must(200, "GET", "/v3/domains/"+guid[1:len(guid)-1], "developer", nil).body; string(got) != string(r.body) {
		t.Errorf("GET shows\n%s\nthe create answered\n%s", got, r.body)
	}
	cases := []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"unknown router group", "admin", map[string]any{"name": "a.example.com", "router_group": map[string]string{"guid": "7c900000-0000-4000-8000-000000000099"}},
			roleUnprocessable("Router group with guid '7c900000-0000-4000-8000-000000000099' not found.")},
		{"router group guid of another case", "admin", map[string]any{"name": "a.example.com", "router_group": map[string]string{"guid": "7C900000-0000-4000-8000-000000000001"}},
			roleUnprocessable("Router group with guid '7C900000-0000-4000-8000-000000000001' not found.")},
		{"private domain", "admin", map[string]any{"name": "a.example.com", "router_group": map[string]string{"guid": TCPRouterGroupGUID},
			"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}},
			roleUnprocessable("Domains scoped to an organization cannot be associated to a router group.")},
		{"name in use", "admin", map[string]any{"name": "tcp.example.com", "router_group": map[string]string{"guid": TCPRouterGroupGUID}},
			roleUnprocessable(`The domain name "tcp.example.com" is already in use`)},
		{"developer", "developer", map[string]any{"name": "a.example.com", "router_group": map[string]string{"guid": TCPRouterGroupGUID}}, roleNotAuthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.assert(t, roleView(c, t).do("POST", "/v3/domains", tc.user, tc.body))
		})
	}
}

// TestTCPRoutes: the ports of a router group are shared by its domains:
// a route without a port takes a random free one, a port outside the
// group or held by another of its domains is refused, and a full group
// takes no more routes (cc:app/actions/route_create.rb).
func TestTCPRoutes(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	a, b := c.tcpDomain("tcp-a.example.com"), c.tcpDomain("tcp-b.example.com")
	first, held := c.tcpRoute(a, nil)
	if held < 1024 || held > 1033 {
		t.Fatalf("generated port %d outside 1024-1033", held)
	}
	if got := rawAt(t, c.must(200, "GET", "/v3/routes/"+first, "developer", nil).body, "url"); got != `"tcp-a.example.com:`+strconv.FormatInt(held, 10)+`"` {
		t.Errorf("url %s", got)
	}
	free := int64(1024)
	if free == held {
		free++
	}
	p := strconv.FormatInt(held, 10)
	cases := []struct {
		name   string
		user   string
		body   map[string]any
		want   roleWant
		extras map[string]any
	}{
		{"outside the group", "developer", routeBody("", "", DemoSpaceGUID, a), roleUnprocessable("Port '2000' is not available. Try a different port or use a different domain."),
			map[string]any{"port": 2000}},
		{"below the group", "developer", routeBody("", "", DemoSpaceGUID, a), roleUnprocessable("Port '1023' is not available. Try a different port or use a different domain."),
			map[string]any{"port": 1023}},
		{"held by the domain", "developer", routeBody("", "", DemoSpaceGUID, a), roleUnprocessable("Route already exists with port '" + p + "' for domain 'tcp-a.example.com'."),
			map[string]any{"port": held}},
		{"held by another domain of the group", "developer", routeBody("", "", DemoSpaceGUID, b),
			roleUnprocessable("Port '" + p + "' is not available. Try a different port or use a different domain."), map[string]any{"port": held}},
		{"port 0", "developer", routeBody("", "", DemoSpaceGUID, a), roleUnprocessable("Routes with protocol 'tcp' must specify a port."), map[string]any{"port": 0}},
		{"port null", "developer", routeBody("", "", DemoSpaceGUID, a), roleUnprocessable("Routes with protocol 'tcp' must specify a port."), map[string]any{"port": nil}},
		{"host, no port", "developer", routeBody("h", "", DemoSpaceGUID, a), roleUnprocessable("Hosts are not supported for TCP routes."), nil},
		{"path", "developer", routeBody("", "/p", DemoSpaceGUID, a), roleUnprocessable("Paths are not supported for TCP routes."), map[string]any{"port": free}},
		{"auditor", "auditor", routeBody("", "", DemoSpaceGUID, a), roleNotAuthorized, map[string]any{"port": free}},
		{"outsider", "outsider", routeBody("", "", DemoSpaceGUID, a), roleNotAuthorized, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.extras {
				tc.body[k] = v
			}
			tc.want.assert(t, roleView(c, t).do("POST", "/v3/routes", tc.user, tc.body))
		})
	}
	t.Run("reservations compare the port", func(t *testing.T) {
		for _, tc := range []struct {
			domain, query, want string
		}{
			{a, "?port=" + p, "true"}, {b, "?port=" + p, "false"}, {a, "?port=2000", "false"}, {a, "", "false"}, {a, "?port=x", "false"},
		} {
			if got := rawAt(t, c.must(200, "GET", "/v3/domains/"+tc.domain+"/route_reservations"+tc.query, "developer", nil).body, "matching_route"); got != tc.want {
				t.Errorf("%s%s: %s, want %s", tc.domain, tc.query, got, tc.want)
			}
		}
	})

	// The group has ten ports; the others go to both domains, none twice.
	ports := []int64{held}
	var last string
	for i := 1; i < 10; i++ {
		domain := []string{a, b}[i%2]
		var port int64
		if i == 1 {
			last, port = c.tcpRoute(domain, free)
		} else {
			last, port = c.tcpRoute(domain, nil)
		}
		ports = append(ports, port)
	}
	slices.Sort(ports)
	if want := []int64{1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031, 1032, 1033}; !slices.Equal(ports, want) {
		t.Fatalf("ports %v, want each of %v", ports, want)
	}
	full := roleUnprocessable("There are no more ports available for this domain.")
	full.assert(t, c.do("POST", "/v3/routes", "developer", routeBody("", "", DemoSpaceGUID, a)))
	full.assert(t, c.do("POST", "/v3/routes", "developer", routeBody("", "", DemoSpaceGUID, b)))
	// A route gone frees its port, which is then the only one to take.
	var gone struct{ Port int64 }
	c.must(200, "GET", "/v3/routes/"+last, "developer", nil).json(t, &gone)
	c.must(202, "DELETE", "/v3/routes/"+last, "developer", nil)
	if _, port := c.tcpRoute(a, nil); port != gone.Port {
		t.Errorf("port %d after deleting the route on %d", port, gone.Port)
	}
}

// TestTCPRouteWithoutRouterGroup: a domain whose router group the routing
// API does not know takes no route (RouteCreate#validate_tcp_route!),
// before any other check.
func TestTCPRouteWithoutRouterGroup(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	ctx, st := context.Background(), c.srv.Store()
	now, gone := st.Now(), "7c900000-0000-4000-8000-0000000000ff"
	for _, d := range []store.Domain{
		{GUID: "d0a10000-0000-4000-8000-0000000000e1", Name: "lost.example.com", RouterGroupGUID: &gone, Protocols: []string{"tcp"}},
		{GUID: "d0a10000-0000-4000-8000-0000000000e2", Name: "none.example.com", Protocols: []string{"tcp"}},
		{GUID: "d0a10000-0000-4000-8000-0000000000e3", Name: "lost-http.example.com", RouterGroupGUID: &gone, Protocols: []string{"http"}},
	} {
		d.CreatedAt, d.UpdatedAt = now, now
		if err := st.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
		body := routeBody("h", "", DemoSpaceGUID, d.GUID)
		body["port"] = 1024
		roleUnprocessable("Route could not be created because the specified domain does not have a valid router group.").
			assert(t, c.do("POST", "/v3/routes", "developer", body))
	}
}

// TestTCPRestart: the router group is stored, not made at each start, and
// a TCP domain's routes still hold their ports after a restart.
func TestTCPRestart(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	first := startCF(t, &cfg)
	domain := first.tcpDomain("tcp.example.com")
	var held []int64
	for range 9 {
		_, port := first.tcpRoute(domain, nil)
		held = append(held, port)
	}
	first.stop()
	second := startCF(t, &cfg)
	roleOK(200, routingBody(seededRouterGroups)).assert(t, second.do("GET", "/routing/v1/router_groups", "admin", nil))
	_, port := second.tcpRoute(domain, nil)
	if slices.Contains(held, port) {
		t.Errorf("port %d taken twice: %v", port, held)
	}
	roleUnprocessable("There are no more ports available for this domain.").
		assert(t, second.do("POST", "/v3/routes", "developer", routeBody("", "", DemoSpaceGUID, domain)))
}

func TestReservablePorts(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string][]int64{
		"1024-1026":          {1024, 1025, 1026},
		"2000":               {2000},
		"1030-1031,1024,999": {999, 1024, 1030, 1031},
		"5-6,6-7":            {5, 6, 7},
		" 10 - 11 ,x,3-":     {10, 11},
		"0,65535-65536,":     nil,
		"":                   nil,
	} {
		if got := reservablePorts(spec); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", spec, got, want)
		}
	}
}
