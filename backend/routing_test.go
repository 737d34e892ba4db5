package backend

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
)

// seededRouterGroups is GET /routing/v1/router_groups on a fresh embedded
// CF, byte for byte: the routing API's key order (models.RouterGroup).
const seededRouterGroups = `[{"guid":"` + TCPRouterGroupGUID + `","name":"default-tcp","type":"tcp","reservable_ports":"1024-1033"}]`

// routingErrorIs checks a routing API error body, {"name","message"} in
// that order; an empty message is not compared.
func routingErrorIs(name, message string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := strings.Join(keysAt(t, r.body, ""), ","); got != "name,message" {
			t.Errorf("error keys %s: %s", got, r.body)
		}
		var e routingErrorJSON
		r.json(t, &e)
		if e.Name != name || message != "" && e.Message != message {
			t.Errorf("error %s %q, want %s %q", e.Name, e.Message, name, message)
		}
	}
}

// routingBody checks a routing API answer's exact body and content type.
func routingBody(want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if string(r.body) != want {
			t.Errorf("body\n%s\nwant\n%s", r.body, want)
		}
		if ct := r.header["Content-Type"]; ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

var (
	// routingUnauthorizedWant is the routing API's 401, whatever the reason.
	routingUnauthorizedWant = roleWant{status: 401, check: routingErrorIs("UnauthorizedError", "")}
	// routingNoScope is its 401 for a valid token without the scope, in the
	// words the cf CLI looks for (cli api/router/wrapper/error_wrapper.go).
	routingNoScope = roleWant{status: 401, check: routingErrorIs("UnauthorizedError", "You are not authorized to perform the requested action")}
)

// routingRoleRows are the routing API's rows of the role table. The admin
// holds cloud_controller.admin and, as cf-deployment's admin does, the
// router group scopes; the others hold neither.
var routingRoleRows = []roleRow{
	{"router groups", "GET", "/routing/v1/router_groups", nil,
		rolePer(roleOK(200, routingBody(seededRouterGroups)), routingNoScope, routingNoScope, routingNoScope)},
	{"router group by name", "GET", "/routing/v1/router_groups?name=" + TCPRouterGroupName, nil,
		rolePer(roleOK(200, routingBody(seededRouterGroups)), routingNoScope, routingNoScope, routingNoScope)},
	{"unknown router group", "GET", "/routing/v1/router_groups?name=nope", nil,
		rolePer(roleWant{status: 404, check: routingErrorIs("ResourceNotFoundError", "router group 'nope' not found")},
			routingNoScope, routingNoScope, routingNoScope)},
}

func init() { roleFixtureRows = append(roleFixtureRows, routingRoleRows...) }

func TestRoleRouting(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	for _, row := range routingRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				row.want[user].assert(t, roleView(c, t).do(row.method, row.path, user, nil))
			})
		}
	}
}

// TestRoutingRouterGroups: the list as the routing API answers it, with
// and without ?name=, to the tokens the cf CLI and the gateway get from
// the embedded UAA.
func TestRoutingRouterGroups(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	admin := c.login("admin", "admin", nil)
	if !strings.Contains(" "+admin.Scope+" ", " "+scopeRouterGroupsRead+" ") {
		t.Errorf("the admin's cf token has scopes %q", admin.Scope)
	}
	var gw tokenJSON
	c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: c.srv.cfg.GatewayClientID + ":" + c.srv.cfg.GatewayClientSecret,
		form: url.Values{"grant_type": {"client_credentials"}}}).json(t, &gw)
	c.tokens["cf admin"], c.tokens["cf developer"] = admin.AccessToken, c.login("developer", "developer", nil).AccessToken
	c.tokens["gateway"] = gw.AccessToken
	cases := []struct {
		name, path, user string
		want             roleWant
	}{
		{"cf CLI admin", "/routing/v1/router_groups", "cf admin", roleOK(200, routingBody(seededRouterGroups))},
		{"cf CLI developer", "/routing/v1/router_groups", "cf developer", routingNoScope},
		{"gateway client", "/routing/v1/router_groups", "gateway", roleOK(200, routingBody(seededRouterGroups))},
		{"by name", "/routing/v1/router_groups?name=default-tcp", "admin", roleOK(200, routingBody(seededRouterGroups))},
		{"empty name lists all", "/routing/v1/router_groups?name=", "admin", roleOK(200, routingBody(seededRouterGroups))},
		{"name is exact", "/routing/v1/router_groups?name=Default-TCP", "admin",
			roleWant{status: 404, check: routingErrorIs("ResourceNotFoundError", "router group 'Default-TCP' not found")}},
		{"other keys ignored", "/routing/v1/router_groups?per_page=1&order_by=name", "admin", roleOK(200, routingBody(seededRouterGroups))},
		{"trailing slash", "/routing/v1/router_groups/", "admin", roleOK(200, routingBody(seededRouterGroups))},
		{"no GET by guid", "/routing/v1/router_groups/" + TCPRouterGroupGUID, "admin", roleNotFoundRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.assert(t, roleView(c, t).do("GET", tc.path, tc.user, nil))
		})
	}
	t.Run("a second group", func(t *testing.T) {
		t.Parallel()
		cc := startCF(t, nil)
		if err := cc.srv.Store().CreateRouterGroup(context.Background(), store.RouterGroup{GUID: "rg-2", Name: "more-tcp", Type: "tcp",
			ReservablePorts: "2000,3000-3001"}); err != nil {
			t.Fatal(err)
		}
		second := `{"guid":"rg-2","name":"more-tcp","type":"tcp","reservable_ports":"2000,3000-3001"}`
		roleOK(200, routingBody(strings.TrimSuffix(seededRouterGroups, "]")+","+second+"]")).assert(t, cc.do("GET", "/routing/v1/router_groups", "admin", nil))
		roleOK(200, routingBody("["+second+"]")).assert(t, cc.do("GET", "/routing/v1/router_groups?name=more-tcp", "admin", nil))
	})
}

// roleNotFoundRequest is CC's answer to a path no route matches.
var roleNotFoundRequest = roleWant{status: 404, title: "CF-NotFound", code: 10000, detail: "Unknown request"}

// TestRoutingTokens: the routing API's token checks (uaaclient
// TokenValidator): any valid token of the embedded UAA with the read scope,
// whatever its audience; its own 401 texts for the rest, "Token is
// expired" being the one the cf CLI refreshes on.
func TestRoutingTokens(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	otherKey, err := uaa.LoadOrCreateKey(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	routingOnly := []string{scopeRouterGroupsRead}
	// A routing client's audience: no cloud_controller.
	routingAud := func(cl *uaa.Claims) { cl.Aud = []string{"cf", "routing.router_groups"} }
	mint := func(scopes []string, edit func(*uaa.Claims)) string {
		return "bearer " + roleMint(t, c, c.srv.key, scopes, edit)
	}
	unauthorized := func(message string) roleWant {
		return roleWant{status: 401, check: routingErrorIs("UnauthorizedError", message)}
	}
	cases := []struct {
		name, header string
		want         roleWant
	}{
		{"router group scope alone", mint(routingOnly, routingAud), roleOK(200, routingBody(seededRouterGroups))},
		{"admin scope alone", mint([]string{scopeAdmin}, nil), roleOK(200, routingBody(seededRouterGroups))},
		{"Bearer", "Bearer " + roleMint(t, c, c.srv.key, routingOnly, nil), roleOK(200)},
		{"write scope only", mint([]string{scopeRouterGroupsWrite}, nil), routingNoScope},
		{"cloud_controller scopes", mint(userScopes, nil), routingNoScope},
		{"no header", "", unauthorized("invalid token format")},
		{"bearer alone", "bearer", unauthorized("invalid token format")},
		{"two spaces", "bearer  " + roleMint(t, c, c.srv.key, routingOnly, nil), unauthorized("invalid token format")},
		{"basic", "Basic YWRtaW46YWRtaW4=", unauthorized("Invalid token type: Basic")},
		{"garbage", "bearer garbage", unauthorized("Token is invalid")},
		{"wrong key", "bearer " + roleMint(t, c, otherKey, routingOnly, nil), unauthorized("Token is invalid")},
		{"wrong issuer", mint(routingOnly, func(cl *uaa.Claims) { cl.Iss = "https://uaa.elsewhere.example/oauth/token" }), unauthorized("Token is invalid")},
		{"refresh token", mint(routingOnly, func(cl *uaa.Claims) { cl.JTI += uaa.RefreshSuffix }), unauthorized("Token is invalid")},
		{"expired", mint(routingOnly, func(cl *uaa.Claims) { cl.IAT, cl.Exp = cl.IAT-7200, cl.IAT-60 }), unauthorized("Token is expired")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.assert(t, roleView(c, t).do("GET", "/routing/v1/router_groups", tc.header, nil))
		})
	}
}

// TestRootLinksRouting: GET / links the routing API it serves.
func TestRootLinksRouting(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	if got := rawAt(t, c.must(200, "GET", "/", "", nil).body, "links.routing"); got != `{"href":"http://api.example.org/routing"}` {
		t.Errorf("links.routing %s", got)
	}
}
