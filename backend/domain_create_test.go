package backend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"capibridge/backend/store"
)

// managerGUID is a user that the domain tests make an org manager.
const managerGUID = "05e40000-0000-4000-8000-0000000000a1"

// addManager adds the user "manager", an org manager of orgs, with a token.
func (c *cf) addManager(orgs ...string) {
	c.t.Helper()
	ctx, st := context.Background(), c.srv.Store()
	if err := st.CreateUser(ctx, store.User{GUID: managerGUID, Username: "manager", Email: "manager@example.org", Scopes: userScopes}); err != nil {
		c.t.Fatal(err)
	}
	for _, org := range orgs {
		if err := st.AddRole(ctx, store.Role{GUID: "manager-" + org, Type: store.RoleOrgManager, UserGUID: managerGUID, OrgGUID: org}); err != nil {
			c.t.Fatal(err)
		}
	}
	tok, err := c.srv.Token(ctx, "manager")
	if err != nil {
		c.t.Fatal(err)
	}
	c.tokens["manager"] = tok
}

// privateDomainBody is a POST /v3/domains body for a domain of org, shared
// with shared.
func privateDomainBody(name, org string, shared ...string) map[string]any {
	rels := map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org}}}
	if len(shared) > 0 {
		data := []map[string]string{}
		for _, g := range shared {
			data = append(data, map[string]string{"guid": g})
		}
		rels["shared_organizations"] = map[string]any{"data": data}
	}
	return map[string]any{"name": name, "relationships": rels}
}

// TestDomainCreate: a created domain answers 201 with the body GET shows,
// in DomainPresenter's shape.
func TestDomainCreate(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addOtherSpace()
	c.addManager(DemoOrgGUID, otherOrgGUID)
	created := func(user string, body any) []byte {
		t.Helper()
		r := c.must(201, "POST", "/v3/domains", user, body)
		guid := strings.Trim(rawAt(t, r.body, "guid"), `"`)
		if got := c.must(200, "GET", "/v3/domains/"+guid, user, nil).body; string(got) != string(r.body) {
			t.Errorf("201 body\n%s\nGET body\n%s", r.body, got)
		}
		return r.body
	}
	t.Run("shared", func(t *testing.T) {
		body := created("admin", map[string]any{"name": "Shared.Example.com", "internal": true,
			"metadata": map[string]any{"labels": map[string]string{"team": "a"}}})
		if got := keysAt(t, body, ""); strings.Join(got, ",") != "guid,created_at,updated_at,name,internal,router_group,supported_protocols,relationships,metadata,links" {
			t.Errorf("keys %v", got)
		}
		for path, want := range map[string]string{"name": `"Shared.Example.com"`, "internal": "true", "router_group": "null",
			"supported_protocols": `["http"]`, "relationships": `{"organization":{"data":null},"shared_organizations":{"data":[]}}`,
			"metadata.labels": `{"team":"a"}`} {
			if got := rawAt(t, body, path); got != want {
				t.Errorf("%s: %s, want %s", path, got, want)
			}
		}
		if got := keysAt(t, body, "links"); strings.Join(got, ",") != "self,route_reservations" {
			t.Errorf("links %v", got)
		}
	})
	t.Run("route policies", func(t *testing.T) {
		body := created("admin", map[string]any{"name": "identity.example.com", "enforce_route_policies": true, "route_policies_scope": "org"})
		if got := rawAt(t, body, "enforce_route_policies") + " " + rawAt(t, body, "route_policies_scope"); got != `true "org"` {
			t.Errorf("route policies %s", got)
		}
		if got := keysAt(t, body, ""); got[7] != "enforce_route_policies" || got[8] != "route_policies_scope" {
			t.Errorf("keys %v", got)
		}
	})
	t.Run("private", func(t *testing.T) {
		body := created("manager", privateDomainBody("private.example.com", DemoOrgGUID, otherOrgGUID))
		want := `{"organization":{"data":{"guid":"` + DemoOrgGUID + `"}},"shared_organizations":{"data":[{"guid":"` + otherOrgGUID + `"}]}}`
		if got := rawAt(t, body, "relationships"); got != want {
			t.Errorf("relationships %s, want %s", got, want)
		}
		if got := rawAt(t, body, "internal"); got != "false" {
			t.Errorf("internal %s", got)
		}
		// The developer sees the domain, not the org it is shared with.
		guid := strings.Trim(rawAt(t, body, "guid"), `"`)
		dev := c.must(200, "GET", "/v3/domains/"+guid, "developer", nil).body
		if got := rawAt(t, dev, "relationships.shared_organizations"); got != `{"data":[]}` {
			t.Errorf("developer sees shared orgs %s", got)
		}
	})
	t.Run("blank router group guid", func(t *testing.T) {
		body := created("admin", map[string]any{"name": "blank-group.example.com", "router_group": map[string]string{"guid": ""}})
		if got := rawAt(t, body, "router_group"); got != `{"guid":""}` {
			t.Errorf("router_group %s", got)
		}
	})
}

// TestDomainCreateMessage: DomainCreateMessage's texts, every failing
// validation in one 422, in CC's order.
func TestDomainCreateMessage(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	org := func(v any) map[string]any { return map[string]any{"organization": v} }
	long := strings.Repeat("a", 64) + ".example.com"
	cases := []struct {
		name   string
		body   any
		detail string
	}{
		{"no name", map[string]any{}, `Name can't be blank, Name must be a string, Name is too short (minimum is 3 characters), ` +
			`Name does not comply with RFC 1035 standards, Name must contain at least one "."`},
		{"short, no dot", map[string]any{"name": "ab"}, `Name is too short (minimum is 3 characters), Name does not comply with RFC 1035 standards, ` +
			`Name must contain at least one "."`},
		{"not a string", map[string]any{"name": 12345}, `Name must be a string, Name does not comply with RFC 1035 standards, Name must contain at least one "."`},
		{"long label", map[string]any{"name": long}, "Name does not comply with RFC 1035 standards, Name subdomains must each be at most 63 characters"},
		{"too long", map[string]any{"name": strings.Repeat("abc.", 64) + "com"}, "Name is too long (maximum is 253 characters)"},
		{"underscore", map[string]any{"name": "my_app.example.com"}, "Name does not comply with RFC 1035 standards, " +
			"Name must consist of alphanumeric characters and hyphens"},
		{"leading hyphen", map[string]any{"name": "-a.example.com"}, "Name does not comply with RFC 1035 standards"},
		{"unknown key and metadata", map[string]any{"name": "a.example.com", "zone": 1, "metadata": map[string]any{"labels": "x"}},
			"Metadata 'labels' is not an object, Unknown field(s): 'zone'"},
		{"metadata keys", map[string]any{"name": "a.example.com", "metadata": map[string]any{"labels": map[string]string{}, "x": 1, "b": 2}},
			"Metadata has unexpected field(s): 'b' 'x'"},
		{"relationships not an object", map[string]any{"name": "a.example.com", "relationships": "o"}, "Relationships 'relationships' is not an object"},
		{"relationships empty", map[string]any{"name": "a.example.com", "relationships": map[string]any{}},
			"Relationships 'relationships' must include one or more valid relationships"},
		{"relationships unknown", map[string]any{"name": "a.example.com", "relationships": map[string]any{"space": 1, "organization": map[string]any{"data": nil}}},
			"Relationships Unknown field(s): 'space'"},
		{"organization malformed", map[string]any{"name": "a.example.com", "relationships": org(map[string]any{"guid": "x"})},
			`Relationships Organization must be structured like this: "organization: {"data": {"guid": "valid-guid"}}"`},
		{"organization guid a number", map[string]any{"name": "a.example.com", "relationships": org(map[string]any{"data": map[string]int{"guid": 1}})},
			"Relationships Organization guid must be a string, Relationships Organization guid must be between 1 and 200 characters"},
		{"shared without owner", map[string]any{"name": "a.example.com", "relationships": map[string]any{"shared_organizations": map[string]any{"data": []any{}}}},
			"Relationships cannot contain shared_organizations without an owning organization."},
		{"shared malformed", map[string]any{"name": "a.example.com", "relationships": map[string]any{"organization": map[string]any{"data": nil},
			"shared_organizations": map[string]any{"data": []string{"g"}}}},
			`Relationships Shared organizations must be structured like this: "shared_organizations: {"data": [{"guid": "valid-guid"},{"guid": "valid-guid"}]}"`},
		{"shared guid empty", privateDomainBody("a.example.com", DemoOrgGUID, ""),
			"Relationships Shared organization guids must be between 1 and 200 characters"},
		{"router group not an object", map[string]any{"name": "a.example.com", "router_group": "g"}, "Router group must be an object"},
		{"router group keys", map[string]any{"name": "a.example.com", "router_group": map[string]any{"name": "default-tcp"}},
			"Router group Unknown field(s): 'name', Router group guid must be a string"},
		{"internal with an org", map[string]any{"name": "a.example.com", "internal": true, "relationships": org(map[string]any{"data": nil})},
			"Cannot associate an internal domain with an organization"},
		{"internal with a router group", map[string]any{"name": "a.example.com", "internal": true, "router_group": map[string]string{"guid": "g"}},
			"Internal domains cannot be associated to a router group."},
		{"org and router group", map[string]any{"name": "a.example.com", "router_group": nil, "relationships": org(map[string]any{"data": nil})},
			"Domains scoped to an organization cannot be associated to a router group."},
		{"internal not a boolean", map[string]any{"name": "a.example.com", "internal": "yes"}, "Internal must be a boolean"},
		{"internal enforcing policies", map[string]any{"name": "a.example.com", "internal": true, "enforce_route_policies": true, "route_policies_scope": "any"},
			"Internal domains cannot have route policy enforcement. Internal routes bypass GoRouter."},
		{"router group enforcing policies", map[string]any{"name": "a.example.com", "router_group": map[string]string{"guid": "g"},
			"enforce_route_policies": true, "route_policies_scope": "space"},
			"Domains with a router group cannot have route policy enforcement. TCP routes do not support mTLS policy enforcement."},
		{"enforcement not a boolean", map[string]any{"name": "a.example.com", "enforce_route_policies": 1}, "Enforce route policies must be a boolean"},
		{"scope unknown", map[string]any{"name": "a.example.com", "route_policies_scope": "world"}, "Route policies scope must be one of 'any', 'org', 'space'"},
		{"scope missing", map[string]any{"name": "a.example.com", "enforce_route_policies": true},
			"Route policies scope is required when enforce_route_policies is true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			roleUnprocessable(tc.detail).assert(t, c.forTest(t).do("POST", "/v3/domains", "admin", tc.body))
		})
	}
	t.Run("not json", func(t *testing.T) {
		t.Parallel()
		wantV3Error(t, c.forTest(t).do("POST", "/v3/domains", "admin", "{"), 400, 1001, "CF-MessageParseError",
			"Request invalid due to parse error: invalid request body")
	})
}

// TestDomainCreateRefusals: the controller's checks after the message, in
// its order (org, role, suspension, shared orgs, router group), then the
// model's name validations with DomainCreate's texts.
func TestDomainCreateRefusals(t *testing.T) {
	t.Parallel()
	w := newRoutesWorld(t)
	c := w.c
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	if err := st.CreateOrg(ctx, store.Org{GUID: roleSuspendedOrgGUID, Name: "suspended-org", Suspended: true, QuotaGUID: DemoQuotaGUID,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	c.addManager(DemoOrgGUID, roleSuspendedOrgGUID)
	suspendedOrgName := "suspended-org"
	cases := []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"unknown org", "manager", privateDomainBody("a.example.com", roleMissingGUID),
			roleUnprocessable("Organization with guid '" + roleMissingGUID + "' does not exist or you do not have access to it.")},
		{"null org", "admin", map[string]any{"name": "a.example.com", "relationships": map[string]any{"organization": map[string]any{"data": nil}}},
			roleUnprocessable("Organization with guid '' does not exist or you do not have access to it.")},
		{"developer, private", "developer", privateDomainBody("a.example.com", DemoOrgGUID), roleNotAuthorized},
		{"manager of another org", "manager", privateDomainBody("a.example.com", otherOrgGUID), roleNotAuthorized},
		{"manager, shared", "manager", map[string]any{"name": "a.example.com"}, roleNotAuthorized},
		{"manager of a suspended org", "manager", privateDomainBody("a.example.com", roleSuspendedOrgGUID), roleOrgSuspended},
		{"share with an unknown org", "manager", privateDomainBody("a.example.com", DemoOrgGUID, roleMissingGUID),
			roleUnprocessable("Organization with guid '" + roleMissingGUID + "' does not exist, or you do not have access to it.")},
		{"share with an unseen org", "manager", privateDomainBody("a.example.com", DemoOrgGUID, otherOrgGUID),
			roleUnprocessable("Organization with guid '" + otherOrgGUID + "' either does not exist, or you do not have access to it.")},
		{"share with a suspended org", "manager", privateDomainBody("a.example.com", DemoOrgGUID, roleSuspendedOrgGUID),
			roleUnprocessable("Organization '" + suspendedOrgName + "' is suspended.")},
		{"share with the owner", "admin", privateDomainBody("a.example.com", DemoOrgGUID, DemoOrgGUID),
			roleUnprocessable("Domain cannot be shared with owning organization.")},
		{"router group", "admin", map[string]any{"name": "tcp.example.com", "router_group": map[string]string{"guid": "rg-1"}},
			roleUnprocessable("Router group with guid 'rg-1' not found.")},
		{"name in use", "admin", map[string]any{"name": "APPS.capibridge.local"},
			roleUnprocessable(`The domain name "APPS.capibridge.local" is already in use`)},
		{"private name in use", "admin", privateDomainBody("demo.example.org", otherOrgGUID),
			roleUnprocessable(`The domain name "demo.example.org" is already in use`)},
		{"under another org's domain", "admin", map[string]any{"name": "x.private.example.org"},
			roleUnprocessable(`The domain name "x.private.example.org" cannot be created because "private.example.org" is already reserved by another domain`)},
		{"private under another org's domain", "admin", privateDomainBody("x.demo.example.org", otherOrgGUID),
			roleUnprocessable(`The domain name "x.demo.example.org" cannot be created because "demo.example.org" is already reserved by another domain`)},
		{"a route's address", "admin", map[string]any{"name": "myapp.apps.capibridge.local"},
			roleUnprocessable(`The domain name "myapp.apps.capibridge.local" cannot be created because "myapp.apps.capibridge.local" is already reserved by a route`)},
		{"under a route's address", "admin", privateDomainBody("deep.myapp.apps.capibridge.local", DemoOrgGUID),
			roleUnprocessable(`The domain name "deep.myapp.apps.capibridge.local" cannot be created because "myapp.apps.capibridge.local" is already reserved by a route`)},
		{"private over other orgs' domains", "admin", privateDomainBody("example.org", DemoOrgGUID),
			roleUnprocessable(`The domain name "example.org" cannot be created because "private.example.org" is already reserved by another domain`)},
		{"private over a shared domain", "admin", privateDomainBody("capibridge.local", DemoOrgGUID),
			roleUnprocessable(`The domain name "capibridge.local" cannot be created because "apps.capibridge.local" is already reserved by another domain`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.assert(t, c.forTest(t).do("POST", "/v3/domains", tc.user, tc.body))
		})
	}
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		cc := c.forTest(t)
		// Under its own org's domain, a private domain is fine; a shared
		// domain may sit above others' domains.
		cc.must(201, "POST", "/v3/domains", "manager", privateDomainBody("y.demo.example.org", DemoOrgGUID))
		cc.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "other.example.org"})
		cc.must(201, "POST", "/v3/domains", "admin", map[string]any{"name": "host.myapp.example.net"})
	})
	t.Run("no domain was made by a refusal", func(t *testing.T) {
		t.Parallel()
		var b listBody
		c.forTest(t).must(200, "GET", "/v3/domains?names=a.example.com,tcp.example.com,example.org,capibridge.local", "admin", nil).json(t, &b)
		if b.Pagination.TotalResults != 0 {
			raw, _ := json.Marshal(b.Resources)
			t.Errorf("refused creates made %s", raw)
		}
	})
}

// FuzzDomainCreateMessage: any body is a domain that passes CC's name
// rules, a 400 MessageParseError or a 422, and never a panic.
func FuzzDomainCreateMessage(f *testing.F) {
	for _, seed := range []string{`{"name":"a.example.com"}`, `{"name":"a.example.com","internal":true,"router_group":{"guid":"g"}}`,
		`{"name":5,"relationships":{"organization":{"data":{"guid":"o"}},"shared_organizations":{"data":[{"guid":"s"}]}}}`,
		`{"relationships":[],"metadata":{"labels":{"a":"b"},"x":1},"route_policies_scope":7,"enforce_route_policies":true}`, `[]`, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseDomainCreate(body)
		var ae *apiError
		switch {
		case err == nil:
			if !domainPattern.MatchString(m.name) || domainBadChar.MatchString(m.name) || len(m.name) > 253 {
				t.Fatalf("accepted name %q", m.name)
			}
		case !errors.As(err, &ae) || ae.Status != 400 && ae.Status != 422:
			t.Fatalf("error %v", err)
		}
	})
}
