package proxy

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
)

// orgFlow is the state one replay carries from step to step: the tokens
// the CLI holds and the guids it learnt from earlier answers.
type orgFlow struct {
	s                    *stack
	admin, dev           string
	org2, sp1, sp3, org3 string
	sq1, sq2, q1         string
	newUser              string
}

// v2Resource is what the cf CLI reads of any v2 resource: its guid and
// the entity it decodes field by field.
type v2Resource struct {
	Metadata struct {
		GUID string `json:"guid"`
		URL  string `json:"url"`
	} `json:"metadata"`
	Entity json.RawMessage `json:"entity"`
}

type v2Page struct {
	TotalResults int          `json:"total_results"`
	NextURL      *string      `json:"next_url"`
	Resources    []v2Resource `json:"resources"`
}

// cliStep is one CLI command's requests, replayed as session c.
type cliStep struct {
	*cliSession
}

func (f *orgFlow) as(t *testing.T, token string) cliStep {
	return cliStep{&cliSession{t: t, s: f.s, token: token}}
}

// getS sends a GET as the CLI does (Authorization and Accept headers)
// and checks its status.
func (c cliStep) getS(path string, status int) reply {
	c.t.Helper()
	return c.send("GET", path, c.token, "", nil, status, "Authorization", c.token)
}

// page reads a v2 list page.
func (c cliStep) page(path string) v2Page {
	c.t.Helper()
	var p v2Page
	if err := json.Unmarshal(c.getS(path, 200).body, &p); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return p
}

// one reads a v2 list page that must hold exactly one resource.
func (c cliStep) one(path string) v2Resource {
	c.t.Helper()
	p := c.page(path)
	if len(p.Resources) != 1 || p.TotalResults != 1 {
		c.t.Fatalf("GET %s: %d resources (total_results %d), want 1", path, len(p.Resources), p.TotalResults)
	}
	return p.Resources[0]
}

// names reads a v2 list page and gives its resources' entity.<key>.
func (c cliStep) names(path, key string) []string {
	c.t.Helper()
	var out []string
	for _, r := range c.page(path).Resources {
		var e map[string]json.RawMessage
		if err := json.Unmarshal(r.Entity, &e); err != nil {
			c.t.Fatalf("GET %s: %v", path, err)
		}
		var v string
		_ = json.Unmarshal(e[key], &v)
		out = append(out, v)
	}
	return out
}

// body sends a body exactly as the CLI wrote it, as JSON.
func (c cliStep) body(method, path, body string, status int) reply {
	c.t.Helper()
	return c.send(method, path, c.token, "application/json", []byte(body), status)
}

// guidOf decodes the resource of a create and gives its guid.
func (c cliStep) guidOf(r reply) string {
	c.t.Helper()
	var res v2Resource
	if err := json.Unmarshal(r.body, &res); err != nil || res.Metadata.GUID == "" {
		c.t.Fatalf("no metadata.guid: %v %s", err, r.body)
	}
	return res.Metadata.GUID
}

func (c cliStep) has(what string, body []byte, want ...string) {
	c.t.Helper()
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			c.t.Errorf("%s: no %s in %.800s", what, w, body)
		}
	}
}

func sameNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: %q, want %q", what, got, want)
	}
}

// TestCFCLIOrgCommands replays, request by request, what cf CLI 6.53.0 and
// 6.37.0 (built from their sources) sent for the org, space, user, role,
// quota and feature flag commands of MAPPING-orgs §11.9 and §12.8,
// recorded on the wire against this gateway in front of the embedded CF,
// one fresh foundation per version. The steps carry the recording's
// names. Where the versions differ (6.37's legacy login, create-org,
// create-space and by-guid role assignments), each replays its own
// requests. cf space is replayed with the security group commands.
func TestCFCLIOrgCommands(t *testing.T) {
	for _, version := range []string{"6.53.0", "6.37.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			replayOrgCommands(t, version == "6.37.0")
		})
	}
}

func replayOrgCommands(t *testing.T, legacy bool) {
	f := &orgFlow{s: startStack(t, nil)}
	seeded := time.Now()
	demoOrg, demoSpace := backend.DemoOrgGUID, backend.DemoSpaceGUID
	step := func(name string, run func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, run) {
			t.FailNow()
		}
	}
	login := func(t *testing.T, user string) string {
		c := f.as(t, "")
		c.send("GET", "/v2/info", "", "", nil, 200)
		c.grant(f.s.gwURL, url.Values{"grant_type": {"password"}, "username": {user}, "password": {user}})
		return c.token
	}

	step("01-api", func(t *testing.T) {
		c := f.as(t, "")
		c.has("info", c.send("GET", "/v2/info", "", "", nil, 200).body, `"api_version":"2.`)
	})
	step("02-login-nomenu", func(t *testing.T) {
		f.admin = login(t, "admin")
		c := f.as(t, f.admin)
		if legacy {
			// One org and one space: both targeted without a menu.
			org := c.one("/v2/organizations?order-by=name")
			if org.Metadata.GUID != demoOrg {
				t.Fatalf("org %s", org.Metadata.GUID)
			}
			sp := c.one("/v2/organizations/" + demoOrg + "/spaces?order-by=name&inline-relations-depth=1")
			c.has("space", sp.Entity, `"name":"demo-space"`, `"allow_ssh":true`)
			return
		}
		c.getS("/v3", 200)
		c.has("v3 orgs", c.getS("/v3/organizations?order_by=name", 200).body, `"total_results":1`, `"guid":"`+demoOrg+`"`)
		c.has("v3 spaces", c.getS("/v3/spaces?organization_guids="+demoOrg, 200).body, `"total_results":1`, `"guid":"`+demoSpace+`"`)
	})
	step("03-login-os", func(t *testing.T) {
		f.admin = login(t, "admin")
		c := f.as(t, f.admin)
		if legacy {
			org := c.one("/v2/organizations?q=name%3Ademo-org&inline-relations-depth=1")
			c.has("org", org.Entity, `"name":"demo-org"`)
			c.one("/v2/organizations/" + demoOrg + "/spaces?q=name%3Ademo-space&inline-relations-depth=1")
			return
		}
		c.has("v3 org", c.getS("/v3/organizations?names=demo-org", 200).body, `"guid":"`+demoOrg+`"`)
		c.has("v3 space", c.getS("/v3/spaces?names=demo-space&organization_guids="+demoOrg, 200).body, `"guid":"`+demoSpace+`"`)
	})
	step("04-target", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.getS("/v2/info", 200)
		c.one("/v2/organizations?order-by=name&q=name%3Ademo-org")
		sp := c.one("/v2/spaces?order-by=name&q=name%3Ademo-space&q=organization_guid%3A" + demoOrg)
		c.has("space", sp.Entity, `"name":"demo-space"`, `"allow_ssh":true`)
	})
	step("05-orgs", func(t *testing.T) {
		sameNames(t, "orgs", f.as(t, f.admin).names("/v2/organizations?order-by=name", "name"), "demo-org")
	})
	step("06-org", func(t *testing.T) {
		c := f.as(t, f.admin)
		org := c.one("/v2/organizations?order-by=name&q=name%3Ademo-org")
		c.has("org", org.Entity, `"quota_definition_guid":"`+backend.DemoQuotaGUID+`"`)
		sameNames(t, "shared domains", c.names("/v2/shared_domains", "name"), backend.SharedDomainName)
		sameNames(t, "private domains", c.names("/v2/organizations/"+demoOrg+"/private_domains", "name"))
		c.has("quota", c.getS("/v2/quota_definitions/"+backend.DemoQuotaGUID, 200).body, `"name":"default"`)
		sameNames(t, "spaces", c.names("/v2/spaces?order-by=name&q=organization_guid%3A"+demoOrg, "name"), "demo-space")
		c.getS("/v3", 200)
		c.has("isolation segments", c.getS("/v3/isolation_segments?organization_guids="+demoOrg, 200).body, `"total_results":0`)
	})
	step("07-create-org", func(t *testing.T) {
		c := f.as(t, f.admin)
		r := c.body("POST", "/v2/organizations", `{"name":"org1"}`, 201)
		c.has("create-org", r.body, `"name":"org1"`, `"status":"active"`, `"quota_definition_guid":"`+backend.DemoQuotaGUID+`"`)
		f.org2 = c.guidOf(r)
		if legacy {
			c.has("flag", c.getS("/v2/config/feature_flags/set_roles_by_username", 200).body, `"enabled":true`)
			if org := c.one("/v2/organizations?q=name%3Aorg1&inline-relations-depth=1"); org.Metadata.GUID != f.org2 {
				t.Fatalf("org1 is %s, created %s", org.Metadata.GUID, f.org2)
			}
			c.body("PUT", "/v2/organizations/"+f.org2+"/managers", `{"username": "admin"}`, 201)
			c.body("PUT", "/v2/organizations/"+f.org2+"/users", `{"username": "admin"}`, 201)
			return
		}
		c.has("managers", c.body("PUT", "/v2/organizations/"+f.org2+"/managers", `{"username":"admin"}`, 201).body, `"name":"org1"`)
	})
	step("08-create-org-again", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("taken", c.body("POST", "/v2/organizations", `{"name":"org1"}`, 400).body,
			`"description":"The organization name is taken: org1","error_code":"CF-OrganizationNameTaken","code":30002`)
	})
	step("09-rename-org", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?q=name%3Aorg1&inline-relations-depth=1")
		c.has("rename", c.body("PUT", "/v2/organizations/"+f.org2, `{"name":"org2"}`, 201).body, `"name":"org2"`)
	})
	step("10-org", func(t *testing.T) {
		c := f.as(t, f.admin)
		if org := c.one("/v2/organizations?order-by=name&q=name%3Aorg2"); org.Metadata.GUID != f.org2 {
			t.Fatalf("org2: %s", org.Metadata.GUID)
		}
		c.getS("/v2/shared_domains", 200)
		c.getS("/v2/organizations/"+f.org2+"/private_domains", 200)
		c.getS("/v2/quota_definitions/"+backend.DemoQuotaGUID, 200)
		sameNames(t, "spaces", c.names("/v2/spaces?order-by=name&q=organization_guid%3A"+f.org2, "name"))
		c.getS("/v3/isolation_segments?organization_guids="+f.org2, 200)
	})
	// createSpace replays create-space S -o org2 [-q Q]: the create, then
	// the roles the CLI gives its user (6.53 by name, 6.37 by guid).
	createSpace := func(t *testing.T, name, quota string) string {
		c := f.as(t, f.admin)
		var sp string
		if legacy {
			c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
			body := `{"name":"` + name + `","organization_guid":"` + f.org2 + `"}`
			if quota != "" {
				c.page("/v2/organizations/" + f.org2 + "/space_quota_definitions")
				body = `{"name":"` + name + `","organization_guid":"` + f.org2 + `","space_quota_definition_guid":"` + quota + `"}`
			}
			r := c.body("POST", "/v2/spaces?async=true&inline-relations-depth=1", body, 201)
			c.has("create-space", r.body, `"name":"`+name+`"`, `"organization_guid":"`+f.org2+`"`, `"space_quota_definition_guid":`)
			sp = c.guidOf(r)
			for _, path := range []string{"/v2/organizations/" + f.org2 + "/users/", "/v2/spaces/" + sp + "/managers/",
				"/v2/organizations/" + f.org2 + "/users/", "/v2/spaces/" + sp + "/developers/"} {
				c.send("PUT", path+backend.AdminUserGUID, c.token, "", nil, 201, "Authorization", c.token)
			}
		} else {
			c.one("/v2/organizations?order-by=name&q=name%3Aorg2")
			if quota != "" {
				c.page("/v2/organizations/" + f.org2 + "/space_quota_definitions")
			}
			r := c.body("POST", "/v2/spaces", `{"name":"`+name+`","organization_guid":"`+f.org2+`"}`, 201)
			c.has("create-space", r.body, `"name":"`+name+`"`, `"organization_guid":"`+f.org2+`"`)
			sp = c.guidOf(r)
			if quota != "" {
				c.has("apply quota", c.send("PUT", "/v2/space_quota_definitions/"+quota+"/spaces/"+sp, c.token, "", nil, 201, "Authorization", c.token).body,
					`"guid":"`+quota+`"`)
			}
			c.body("PUT", "/v2/organizations/"+f.org2+"/users", `{"username":"admin"}`, 201)
			c.body("PUT", "/v2/spaces/"+sp+"/managers", `{"username":"admin"}`, 201)
			c.body("PUT", "/v2/spaces/"+sp+"/developers", `{"username":"admin"}`, 201)
		}
		return sp
	}
	step("11-create-space", func(t *testing.T) {
		f.sp1 = createSpace(t, "sp1", "")
	})
	step("12-target-org2", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?order-by=name&q=name%3Aorg2")
		if sp := c.one("/v2/spaces?order-by=name&q=organization_guid%3A" + f.org2); sp.Metadata.GUID != f.sp1 {
			t.Fatalf("the only space is %s, not sp1", sp.Metadata.GUID)
		}
	})
	step("13-create-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		r := c.body("POST", "/v2/space_quota_definitions", `{"name":"sq1","memory_limit":512,"instance_memory_limit":-1,"total_routes":5,"total_services":2,`+
			`"non_basic_services_allowed":false,"organization_guid":"`+f.org2+`","app_instance_limit":-1}`, 201)
		// CC's defaults for what the CLI left out.
		c.has("create-space-quota", r.body, `"name":"sq1"`, `"total_reserved_route_ports":-1`, `"app_task_limit":5`, `"total_service_keys":-1`)
		f.sq1 = c.guidOf(r)
	})
	step("14-create-space-q", func(t *testing.T) {
		f.sp3 = createSpace(t, "sp2", f.sq1)
		c := f.as(t, f.admin)
		c.has("space quota", c.getS("/v2/spaces/"+f.sp3, 200).body, `"space_quota_definition_guid":"`+f.sq1+`"`)
	})
	step("16-spaces", func(t *testing.T) {
		sameNames(t, "spaces", f.as(t, f.admin).names("/v2/spaces?order-by=name&q=organization_guid%3A"+f.org2, "name"), "sp1", "sp2")
	})
	step("17-rename-space", func(t *testing.T) {
		c := f.as(t, f.admin)
		// At depth 1 CC inlines the space's organization.
		c.has("space", c.one("/v2/organizations/"+f.org2+"/spaces?q=name%3Asp2&inline-relations-depth=1").Entity,
			`"organization":{"metadata":{"guid":"`+f.org2+`"`, `"name":"org2"`)
		c.has("rename", c.body("PUT", "/v2/spaces/"+f.sp3, `{"name":"sp3"}`, 201).body, `"name":"sp3"`)
	})
	orgUsers := func(t *testing.T, managers, billing, auditors []string) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		sameNames(t, "managers", c.names("/v2/organizations/"+f.org2+"/managers", "username"), managers...)
		sameNames(t, "billing managers", c.names("/v2/organizations/"+f.org2+"/billing_managers", "username"), billing...)
		sameNames(t, "auditors", c.names("/v2/organizations/"+f.org2+"/auditors", "username"), auditors...)
	}
	spaceUsers := func(t *testing.T, token string, managers, developers, auditors []string) {
		c := f.as(t, token)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
		sameNames(t, "space managers", c.names("/v2/spaces/"+f.sp3+"/managers", "username"), managers...)
		sameNames(t, "space developers", c.names("/v2/spaces/"+f.sp3+"/developers", "username"), developers...)
		sameNames(t, "space auditors", c.names("/v2/spaces/"+f.sp3+"/auditors", "username"), auditors...)
	}
	step("18-org-users", func(t *testing.T) { orgUsers(t, []string{"admin"}, nil, nil) })
	step("19-org-users-a", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		sameNames(t, "users", c.names("/v2/organizations/"+f.org2+"/users", "username"), "admin")
	})
	step("20-space-users", func(t *testing.T) { spaceUsers(t, f.admin, []string{"admin"}, []string{"admin"}, nil) })
	step("21-set-org-role", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("flag", c.getS("/v2/config/feature_flags/set_roles_by_username", 200).body, `"enabled":true`)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		c.body("PUT", "/v2/organizations/"+f.org2+"/managers", `{"username": "developer"}`, 201)
		c.body("PUT", "/v2/organizations/"+f.org2+"/users", `{"username": "developer"}`, 201)
	})
	setSpaceRole := func(t *testing.T, user, role string) {
		c := f.as(t, f.admin)
		c.getS("/v2/config/feature_flags/set_roles_by_username", 200)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
		c.body("PUT", "/v2/organizations/"+f.org2+"/users", `{"username": "`+user+`"}`, 201)
		c.has("space role", c.body("PUT", "/v2/spaces/"+f.sp3+"/"+role, `{"username": "`+user+`"}`, 201).body, `"name":"sp3"`)
	}
	step("22-set-space-role", func(t *testing.T) { setSpaceRole(t, "developer", "developers") })
	step("23-set-space-role-outsider", func(t *testing.T) { setSpaceRole(t, "outsider", "auditors") })
	step("24-space-users", func(t *testing.T) {
		spaceUsers(t, f.admin, []string{"admin"}, []string{"admin", "developer"}, []string{"outsider"})
	})
	step("25-org-users", func(t *testing.T) { orgUsers(t, []string{"admin", "developer"}, nil, nil) })
	scimUser := `{"userName":"newuser","password":"newpass","origin":"","name":{"familyName":"newuser","givenName":"newuser"},` +
		`"emails":[{"value":"newuser","primary":true}]}`
	step("26-create-user", func(t *testing.T) {
		// v2 lists users in users.id order, which the gateway approximates
		// by created_at (whole seconds) then guid, as v3 orders them
		// (MAPPING-orgs §13): a user created in the seed's second could list
		// before the seeded ones. On a foundation users are not made so
		// quickly; here the new user waits for the next second.
		time.Sleep(time.Until(seeded.Truncate(time.Second).Add(time.Second)))
		c := f.as(t, f.admin)
		c.getS("/v2/info", 200)
		var u struct{ ID string }
		if err := json.Unmarshal(c.body("POST", "/Users", scimUser, 201).body, &u); err != nil || u.ID == "" {
			t.Fatalf("SCIM user: %v", err)
		}
		f.newUser = u.ID
		c.has("v2 user", c.body("POST", "/v2/users", `{"guid":"`+u.ID+`"}`, 201).body, `"guid":"`+u.ID+`"`)
	})
	step("27-create-user-again", func(t *testing.T) {
		c := f.as(t, f.admin)
		// UAA's conflict, which the CLI reads as "already exists".
		c.body("POST", "/Users", scimUser, 409)
	})
	step("28-disable-ff", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("disable", c.body("PUT", "/v2/config/feature_flags/set_roles_by_username", `{"enabled": false}`, 200).body, `"enabled":false`)
	})
	step("29-feature-flag", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("flag", c.getS("/v2/config/feature_flags/set_roles_by_username", 200).body, `"name":"set_roles_by_username","enabled":false`)
	})
	// uaaLookup is the CLI's own UAA query when set_roles_by_username is
	// off, through the gateway's UAA address.
	uaaLookup := "/Users?attributes=id,userName&filter=userName+Eq+%22"
	step("30-set-space-role-ffoff", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("flag", c.getS("/v2/config/feature_flags/set_roles_by_username", 200).body, `"enabled":false`)
		var users struct {
			Resources []struct{ ID, UserName string }
		}
		if err := json.Unmarshal(c.getS(uaaLookup+"newuser%22", 200).body, &users); err != nil || len(users.Resources) != 1 ||
			users.Resources[0].ID != f.newUser {
			t.Fatalf("UAA lookup: %v %+v", err, users)
		}
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
		c.send("PUT", "/v2/organizations/"+f.org2+"/users/"+f.newUser, c.token, "", nil, 201, "Authorization", c.token)
		c.send("PUT", "/v2/spaces/"+f.sp3+"/developers/"+f.newUser, c.token, "", nil, 201, "Authorization", c.token)
	})
	step("31-login-dev", func(t *testing.T) {
		f.dev = login(t, "developer")
		c := f.as(t, f.dev)
		if legacy {
			c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
			c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
			return
		}
		c.has("v3 org", c.getS("/v3/organizations?names=org2", 200).body, `"guid":"`+f.org2+`"`)
		c.has("v3 space", c.getS("/v3/spaces?names=sp3&organization_guids="+f.org2, 200).body, `"guid":"`+f.sp3+`"`)
	})
	// An org manager without scim.read: the flag is off, so the CLI asks
	// UAA itself, and UAA refuses as it does on CF.
	for _, name := range []string{"32-set-space-role-dev", "33-set-org-role-dev"} {
		step(name, func(t *testing.T) {
			c := f.as(t, f.dev)
			c.has("flag", c.getS("/v2/config/feature_flags/set_roles_by_username", 200).body, `"enabled":false`)
			c.has("UAA", c.getS(uaaLookup+"auditor%22", 403).body, `"error":"insufficient_scope"`)
		})
	}
	step("34-space-users-dev", func(t *testing.T) {
		spaceUsers(t, f.dev, []string{"admin"}, []string{"admin", "developer", "newuser"}, []string{"outsider"})
	})
	step("35-login-menu", func(t *testing.T) {
		f.admin = login(t, "admin")
		c := f.as(t, f.admin)
		if legacy {
			sameNames(t, "org menu", c.names("/v2/organizations?order-by=name", "name"), "demo-org", "org2")
			return
		}
		c.has("org menu", c.getS("/v3/organizations?order_by=name", 200).body, `"total_results":2`, `"name":"demo-org"`, `"name":"org2"`)
	})
	step("36-login-os", func(t *testing.T) {
		f.admin = login(t, "admin")
		c := f.as(t, f.admin)
		if legacy {
			c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
			c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
			return
		}
		c.getS("/v3/organizations?names=org2", 200)
		c.getS("/v3/spaces?names=sp3&organization_guids="+f.org2, 200)
	})
	step("37-enable-ff", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("enable", c.body("PUT", "/v2/config/feature_flags/set_roles_by_username", `{"enabled": true}`, 200).body, `"enabled":true`)
	})
	unsetSpaceRole := func(t *testing.T, user, role string) {
		c := f.as(t, f.admin)
		c.has("flag", c.getS("/v2/config/feature_flags/unset_roles_by_username", 200).body, `"enabled":true`)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp3&inline-relations-depth=1")
		// CC answers 200 and the space.
		c.has("unset", c.body("DELETE", "/v2/spaces/"+f.sp3+"/"+role, `{"username": "`+user+`"}`, 200).body, `"name":"sp3"`)
	}
	step("38-unset-space-role", func(t *testing.T) { unsetSpaceRole(t, "outsider", "auditors") })
	step("39-unset-space-role-dev", func(t *testing.T) { unsetSpaceRole(t, "developer", "developers") })
	step("40-unset-org-role", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.getS("/v2/config/feature_flags/unset_roles_by_username", 200)
		c.one("/v2/organizations?q=name%3Aorg2&inline-relations-depth=1")
		// CC answers 204 for an org role.
		c.body("DELETE", "/v2/organizations/"+f.org2+"/managers", `{"username": "developer"}`, 204)
	})
	step("41-org-users", func(t *testing.T) { orgUsers(t, []string{"admin"}, nil, nil) })
	step("42-space-users", func(t *testing.T) {
		spaceUsers(t, f.admin, []string{"admin"}, []string{"admin", "newuser"}, nil)
	})
	spaceQuotas := func(c cliStep) []v2Resource {
		return c.page("/v2/organizations/" + f.org2 + "/space_quota_definitions").Resources
	}
	step("43-space-quotas", func(t *testing.T) {
		c := f.as(t, f.admin)
		qs := spaceQuotas(c)
		if len(qs) != 1 {
			t.Fatalf("space quotas: %d", len(qs))
		}
		c.has("sq1", qs[0].Entity, `"name":"sq1"`, `"non_basic_services_allowed":false`, `"total_services":2`, `"total_routes":5`,
			`"memory_limit":512`, `"instance_memory_limit":-1`, `"app_instance_limit":-1`, `"total_reserved_route_ports":-1`)
	})
	step("44-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		if qs := spaceQuotas(c); len(qs) != 1 || qs[0].Metadata.GUID != f.sq1 {
			t.Fatalf("space quotas: %+v", qs)
		}
	})
	step("45-create-space-quota2-ports", func(t *testing.T) {
		c := f.as(t, f.admin)
		r := c.body("POST", "/v2/space_quota_definitions", `{"name":"sq2","memory_limit":1024,"instance_memory_limit":256,"total_routes":0,"total_services":0,`+
			`"non_basic_services_allowed":true,"organization_guid":"`+f.org2+`","app_instance_limit":4,"total_reserved_route_ports":1}`, 400)
		c.has("reserved ports", r.body, `"description":"Space Quota Definition is invalid: Total reserved ports must be -1, 0, or a positive integer, `+
			`must be less than or equal to total routes, and must be less than or equal to total reserved ports for the organization quota.",`+
			`"error_code":"CF-SpaceQuotaDefinitionInvalid","code":310001`)
	})
	step("45b-create-space-quota2", func(t *testing.T) {
		c := f.as(t, f.admin)
		f.sq2 = c.guidOf(c.body("POST", "/v2/space_quota_definitions", `{"name":"sq2","memory_limit":1024,"instance_memory_limit":256,"total_routes":10,`+
			`"total_services":3,"non_basic_services_allowed":true,"organization_guid":"`+f.org2+`","app_instance_limit":4}`, 201))
	})
	step("46-set-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp1&inline-relations-depth=1")
		spaceQuotas(c)
		c.has("set", c.send("PUT", "/v2/space_quota_definitions/"+f.sq2+"/spaces/"+f.sp1, c.token, "", nil, 201, "Authorization", c.token).body,
			`"name":"sq2"`)
		c.has("space", c.getS("/v2/spaces/"+f.sp1, 200).body, `"space_quota_definition_guid":"`+f.sq2+`"`)
	})
	step("48-unset-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations/" + f.org2 + "/spaces?q=name%3Asp1&inline-relations-depth=1")
		spaceQuotas(c)
		c.send("DELETE", "/v2/space_quota_definitions/"+f.sq2+"/spaces/"+f.sp1+"?async=true", c.token, "", nil, 204, "Authorization", c.token)
		c.has("space", c.getS("/v2/spaces/"+f.sp1, 200).body, `"space_quota_definition_guid":null`)
	})
	step("49-update-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		spaceQuotas(c)
		r := c.body("PUT", "/v2/space_quota_definitions/"+f.sq2, `{"guid":"`+f.sq2+`","name":"sq3","memory_limit":2048,"instance_memory_limit":256,`+
			`"total_routes":10,"total_services":3,"non_basic_services_allowed":true,"organization_guid":"`+f.org2+`","app_instance_limit":4,`+
			`"total_reserved_route_ports":-1}`, 201)
		c.has("update", r.body, `"name":"sq3"`, `"memory_limit":2048`)
	})
	step("50-delete-space-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		spaceQuotas(c)
		pollJob(c.cliSession, c.send("DELETE", "/v2/space_quota_definitions/"+f.sq2+"?async=true", c.token, "", nil, 202, "Authorization", c.token))
	})
	step("51-space-quotas", func(t *testing.T) {
		c := f.as(t, f.admin)
		if qs := spaceQuotas(c); len(qs) != 1 || qs[0].Metadata.GUID != f.sq1 {
			t.Fatalf("space quotas: %+v", qs)
		}
	})
	step("52-quotas", func(t *testing.T) {
		c := f.as(t, f.admin)
		q := c.one("/v2/quota_definitions")
		c.has("default", q.Entity, `"name":"default"`, `"non_basic_services_allowed":true`, `"total_services":-1`, `"total_routes":1000`,
			`"memory_limit":102400`, `"instance_memory_limit":-1`, `"app_instance_limit":-1`, `"total_reserved_route_ports":0`)
	})
	step("53-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("default", c.one("/v2/quota_definitions?q=name%3Adefault").Entity, `"name":"default"`)
	})
	step("54-create-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		r := c.body("POST", "/v2/quota_definitions", `{"name":"q1","memory_limit":1024,"instance_memory_limit":256,"total_routes":10,"total_services":5,`+
			`"non_basic_services_allowed":true,"app_instance_limit":10,"total_reserved_route_ports":2}`, 201)
		c.has("create-quota", r.body, `"name":"q1"`, `"total_reserved_route_ports":2`)
		f.q1 = c.guidOf(r)
	})
	step("55-create-quota-again", func(t *testing.T) {
		c := f.as(t, f.admin)
		r := c.body("POST", "/v2/quota_definitions", `{"name":"q1","memory_limit":0,"instance_memory_limit":-1,"total_routes":0,"total_services":0,`+
			`"non_basic_services_allowed":false,"app_instance_limit":-1}`, 400)
		c.has("taken", r.body, `"error_code":"CF-QuotaDefinitionNameTaken","code":240002`)
	})
	step("56-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("q1", c.one("/v2/quota_definitions?q=name%3Aq1").Entity, `"memory_limit":1024`, `"instance_memory_limit":256`, `"total_routes":10`,
			`"total_services":5`, `"non_basic_services_allowed":true`, `"app_instance_limit":10`, `"total_reserved_route_ports":2`)
	})
	step("57-update-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/quota_definitions?q=name%3Aq1")
		r := c.body("PUT", "/v2/quota_definitions/"+f.q1, `{"guid":"`+f.q1+`","name":"q2","memory_limit":2048,"instance_memory_limit":256,"total_routes":10,`+
			`"total_services":5,"non_basic_services_allowed":false,"app_instance_limit":10,"total_reserved_route_ports":2}`, 201)
		c.has("update-quota", r.body, `"name":"q2"`, `"memory_limit":2048`, `"non_basic_services_allowed":false`)
	})
	step("58-quotas", func(t *testing.T) {
		sameNames(t, "quotas", f.as(t, f.admin).names("/v2/quota_definitions", "name"), "default", "q2")
	})
	step("59-create-org-q", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/quota_definitions?q=name%3Aq2")
		body := `{"name":"org3","quota_definition_guid":"` + f.q1 + `"}`
		if legacy {
			body = `{"name":"org3", "quota_definition_guid":"` + f.q1 + `"}`
		}
		r := c.body("POST", "/v2/organizations", body, 201)
		c.has("create-org -q", r.body, `"quota_definition_guid":"`+f.q1+`"`)
		f.org3 = c.guidOf(r)
		if legacy {
			c.getS("/v2/config/feature_flags/set_roles_by_username", 200)
			c.one("/v2/organizations?q=name%3Aorg3&inline-relations-depth=1")
			c.body("PUT", "/v2/organizations/"+f.org3+"/managers", `{"username": "admin"}`, 201)
			c.body("PUT", "/v2/organizations/"+f.org3+"/users", `{"username": "admin"}`, 201)
			return
		}
		c.body("PUT", "/v2/organizations/"+f.org3+"/managers", `{"username":"admin"}`, 201)
	})
	step("60-org", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?order-by=name&q=name%3Aorg3")
		c.has("quota", c.getS("/v2/quota_definitions/"+f.q1, 200).body, `"name":"q2"`)
	})
	step("61-set-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?q=name%3Aorg3&inline-relations-depth=1")
		c.one("/v2/quota_definitions?q=name%3Adefault")
		c.has("set-quota", c.body("PUT", "/v2/organizations/"+f.org3, `{"quota_definition_guid":"`+backend.DemoQuotaGUID+`"}`, 201).body,
			`"quota_definition_guid":"`+backend.DemoQuotaGUID+`"`)
	})
	step("62-delete-quota", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/quota_definitions?q=name%3Aq2")
		pollJob(c.cliSession, c.send("DELETE", "/v2/quota_definitions/"+f.q1+"?async=true", c.token, "", nil, 202, "Authorization", c.token))
	})
	step("63-delete-quota-again", func(t *testing.T) {
		if n := f.as(t, f.admin).page("/v2/quota_definitions?q=name%3Aq2").TotalResults; n != 0 {
			t.Fatalf("q2 is still there: %d", n)
		}
	})
	step("64-delete-space", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?order-by=name&q=name%3Aorg2")
		c.one("/v2/spaces?order-by=name&q=name%3Asp3&q=organization_guid%3A" + f.org2)
		pollJob(c.cliSession, c.send("DELETE", "/v2/spaces/"+f.sp3+"?async=true&recursive=true", c.token, "", nil, 202, "Authorization", c.token))
	})
	step("65-delete-space-again", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?order-by=name&q=name%3Aorg2")
		if n := c.page("/v2/spaces?order-by=name&q=name%3Asp3&q=organization_guid%3A" + f.org2).TotalResults; n != 0 {
			t.Fatalf("sp3 is still there: %d", n)
		}
	})
	deleteOrg := func(t *testing.T, name, guid string) {
		c := f.as(t, f.admin)
		c.one("/v2/organizations?order-by=name&q=name%3A" + name)
		pollJob(c.cliSession, c.send("DELETE", "/v2/organizations/"+guid+"?async=true&recursive=true", c.token, "", nil, 202, "Authorization", c.token))
	}
	step("66-delete-org", func(t *testing.T) { deleteOrg(t, "org2", f.org2) })
	step("67-delete-org-again", func(t *testing.T) {
		if n := f.as(t, f.admin).page("/v2/organizations?order-by=name&q=name%3Aorg2").TotalResults; n != 0 {
			t.Fatalf("org2 is still there: %d", n)
		}
	})
	step("68-delete-org3", func(t *testing.T) { deleteOrg(t, "org3", f.org3) })
	step("69-orgs", func(t *testing.T) {
		sameNames(t, "orgs", f.as(t, f.admin).names("/v2/organizations?order-by=name", "name"), "demo-org")
	})
	step("70-feature-flags", func(t *testing.T) {
		c := f.as(t, f.admin)
		// A bare array of {name, enabled}, in CC's order.
		var flags []struct {
			Name    string `json:"name"`
			Enabled *bool  `json:"enabled"`
		}
		r := c.getS("/v2/config/feature_flags", 200)
		if err := json.Unmarshal(r.body, &flags); err != nil || len(flags) == 0 || flags[0].Name != "user_org_creation" || flags[0].Enabled == nil {
			t.Fatalf("feature flags: %v %.300s", err, r.body)
		}
	})
	step("71-feature-flag", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("flag", c.getS("/v2/config/feature_flags/user_org_creation", 200).body, `"name":"user_org_creation","enabled":false`)
	})
	step("72-enable-ff", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("enable", c.body("PUT", "/v2/config/feature_flags/user_org_creation", `{"enabled": true}`, 200).body, `"enabled":true`)
	})
	step("73-disable-ff", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("disable", c.body("PUT", "/v2/config/feature_flags/user_org_creation", `{"enabled": false}`, 200).body, `"enabled":false`)
	})
	step("74-feature-flag-bad", func(t *testing.T) {
		c := f.as(t, f.admin)
		c.has("unknown flag", c.getS("/v2/config/feature_flags/no_such_flag", 404).body,
			`"description":"The feature flag could not be found: no_such_flag","error_code":"CF-FeatureFlagNotFound","code":330000`)
	})
	var outsider string
	step("75-login-outsider", func(t *testing.T) {
		outsider = login(t, "outsider")
		c := f.as(t, outsider)
		if legacy {
			if n := c.page("/v2/organizations?order-by=name").TotalResults; n != 0 {
				t.Fatalf("outsider sees %d orgs", n)
			}
			return
		}
		c.has("no orgs", c.getS("/v3/organizations?order_by=name", 200).body, `"total_results":0`)
	})
	step("76-orgs-outsider", func(t *testing.T) {
		if n := f.as(t, outsider).page("/v2/organizations?order-by=name").TotalResults; n != 0 {
			t.Fatalf("outsider sees %d orgs", n)
		}
	})
	step("77-create-org-outsider", func(t *testing.T) {
		c := f.as(t, outsider)
		// user_org_creation is off: CC's access check says no.
		c.has("not authorized", c.body("POST", "/v2/organizations", `{"name":"org4"}`, 403).body,
			`"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003`)
	})
}

// TestCFCLIAdminResourceCommands replays, request by request, what cf CLI
// 6.53.0 and 6.37.0 sent as admin for the environment variable group and
// buildpack commands of MAPPING-orgs §12.8, recorded on the wire against
// this gateway in front of the embedded CF: running- and
// staging-environment-variable-group, their set- commands (a number
// value, text that is not JSON, and {} to clear), buildpacks,
// create-buildpack (twice: CC's "stack unique"), update-buildpack
// (position and disable, lock, new bits while locked, unlock) and
// delete-buildpack with its job; security-groups, security-group,
// running- and staging-security-groups, create-security-group,
// bind-security-group (running and staging), space, unbind-security-group
// and delete-security-group.
func TestCFCLIAdminResourceCommands(t *testing.T) {
	for _, version := range []string{"6.53.0", "6.37.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			replayAdminResourceCommands(t, version == "6.37.0")
		})
	}
}

func replayAdminResourceCommands(t *testing.T, legacy bool) {
	f := &orgFlow{s: startStack(t, nil)}
	f.admin = "bearer " + f.s.tokens["admin"]
	step := func(name string, run func(c cliStep)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { run(f.as(t, f.admin)) }) {
			t.FailNow()
		}
	}
	group := func(c cliStep, name, want string) {
		c.t.Helper()
		if got := string(c.getS("/v2/config/environment_variable_groups/"+name, 200).body); got != want {
			c.t.Errorf("%s group: %s, want %s", name, got, want)
		}
	}
	step("b03-renvg", func(c cliStep) { group(c, "running", `{}`) })
	step("b04-senvg", func(c cliStep) { group(c, "staging", `{}`) })
	step("b05-set-renvg", func(c cliStep) {
		c.body("PUT", "/v2/config/environment_variable_groups/running", `{"FOO":"bar","N":1}`, 200)
	})
	step("b06-renvg", func(c cliStep) {
		// The CLI prints a number as an integer and a string as it is:
		// either way N reads 1.
		var vars map[string]any
		if err := json.Unmarshal(c.getS("/v2/config/environment_variable_groups/running", 200).body, &vars); err != nil ||
			vars["FOO"] != "bar" || (vars["N"] != 1.0 && vars["N"] != "1") || len(vars) != 2 {
			t.Errorf("running group: %v %v", err, vars)
		}
	})
	step("b07-set-senvg", func(c cliStep) {
		c.body("PUT", "/v2/config/environment_variable_groups/staging", `{"BAR":"baz"}`, 200)
	})
	step("b08-senvg", func(c cliStep) { group(c, "staging", `{"BAR":"baz"}`) })
	step("b09-set-renvg-bad", func(c cliStep) {
		c.has("not JSON", c.body("PUT", "/v2/config/environment_variable_groups/running", `not json`, 400).body,
			`"error_code":"CF-MessageParseError","code":1001`)
	})
	step("b10-set-renvg-empty", func(c cliStep) {
		c.body("PUT", "/v2/config/environment_variable_groups/running", `{}`, 200)
		group(c, "running", `{}`)
	})
	type buildpack struct {
		Name     string  `json:"name"`
		Position int     `json:"position"`
		Enabled  bool    `json:"enabled"`
		Locked   bool    `json:"locked"`
		Filename *string `json:"filename"`
		Stack    *string `json:"stack"`
	}
	buildpacks := func(c cliStep, path string) (guids []string, bps []buildpack) {
		c.t.Helper()
		for _, r := range c.page(path).Resources {
			var bp buildpack
			if err := json.Unmarshal(r.Entity, &bp); err != nil {
				c.t.Fatalf("GET %s: %v", path, err)
			}
			guids, bps = append(guids, r.Metadata.GUID), append(bps, bp)
		}
		return guids, bps
	}
	byName := func(c cliStep) (string, buildpack) {
		c.t.Helper()
		guids, bps := buildpacks(c, "/v2/buildpacks?q=name%3Abp1")
		if len(bps) != 1 {
			c.t.Fatalf("bp1: %d found", len(bps))
		}
		return guids[0], bps[0]
	}
	zip := zipFiles(t, map[string]string{"bin/detect": "#!/bin/sh\nexit 1\n", "bin/compile": "#!/bin/sh\nexit 1\n", "bin/release": "#!/bin/sh\nexit 1\n"})
	upload := func(c cliStep, guid string, status int) reply {
		c.t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="buildpack"; filename="bp.zip"`},
			"Content-Type": {"application/octet-stream"}})
		w.Write(zip)
		mw.Close()
		return c.send("PUT", "/v2/buildpacks/"+guid+"/bits", c.token, mw.FormDataContentType(), body.Bytes(), status)
	}
	var bp1 string
	step("b11-buildpacks", func(c cliStep) {
		_, bps := buildpacks(c, "/v2/buildpacks")
		if len(bps) == 0 || bps[0].Position != 1 || bps[0].Filename == nil || bps[0].Stack == nil {
			t.Fatalf("buildpacks: %+v", bps)
		}
	})
	create, createBody := "/v2/buildpacks", `{"enabled":true,"name":"bp1","position":1}`
	if legacy {
		create, createBody = "/v2/buildpacks?async=true", `{"name":"bp1","position":1}`
	}
	step("b12-create-bp", func(c cliStep) {
		r := c.body("POST", create, createBody, 201)
		c.has("create-buildpack", r.body, `"name":"bp1"`, `"position":1`, `"enabled":true`, `"locked":false`, `"stack":null`)
		bp1 = c.guidOf(r)
		c.has("bits", upload(c, bp1, 201).body, `"filename":"bp.zip"`)
	})
	step("b13-create-bp-again", func(c cliStep) {
		// A second buildpack without a stack: the CLI reads CC's
		// "stack unique" as "already exists without a stack".
		c.has("again", c.body("POST", create, createBody, 400).body,
			`"description":"Buildpack is invalid: stack unique","error_code":"CF-BuildpackInvalid","code":290003`)
	})
	step("b14-buildpacks", func(c cliStep) {
		guids, bps := buildpacks(c, "/v2/buildpacks")
		last := len(bps) - 1
		if guids[last] != bp1 || bps[last].Position != 1 || bps[0].Position != 2 {
			t.Errorf("bp1 first in position, last in the list: %+v", bps)
		}
	})
	update := func(c cliStep, v2, v637 string) reply {
		c.t.Helper()
		guid, _ := byName(c)
		if legacy {
			return c.body("PUT", "/v2/buildpacks/"+guid+"?async=true", v637, 201)
		}
		return c.body("PUT", "/v2/buildpacks/"+guid, v2, 201)
	}
	step("b15-update-bp", func(c cliStep) {
		c.has("update", update(c, `{"enabled":false,"name":"bp1","position":2}`,
			`{"name":"bp1","position":2,"enabled":false,"locked":false}`).body, `"position":2`, `"enabled":false`)
	})
	step("b16-update-bp-lock", func(c cliStep) {
		c.has("lock", update(c, `{"locked":true,"name":"bp1"}`, `{"name":"bp1","position":2,"enabled":false,"locked":true}`).body, `"locked":true`)
	})
	step("b17-update-bp-locked", func(c cliStep) {
		guid, _ := byName(c)
		if !legacy {
			c.body("PUT", "/v2/buildpacks/"+guid, `{"name":"bp1"}`, 201)
		}
		c.has("locked", upload(c, guid, 409).body, `"description":"The buildpack is locked","error_code":"CF-BuildpackLocked","code":290005`)
	})
	step("b18-update-bp-unlock", func(c cliStep) {
		c.has("unlock", update(c, `{"locked":false,"enabled":true,"name":"bp1"}`, `{"name":"bp1","position":2,"enabled":true,"locked":false}`).body,
			`"locked":false`, `"enabled":true`)
	})
	step("b19-buildpacks", func(c cliStep) {
		_, bps := buildpacks(c, "/v2/buildpacks")
		last := len(bps) - 1
		if bps[0].Position != 1 || bps[last].Name != "bp1" || bps[last].Position != 2 || !bps[last].Enabled || bps[last].Locked {
			t.Errorf("after the updates: %+v", bps)
		}
	})
	step("b20-delete-bp", func(c cliStep) {
		guid, _ := byName(c)
		pollJob(c.cliSession, c.send("DELETE", "/v2/buildpacks/"+guid+"?async=true", c.token, "", nil, 202, "Authorization", c.token))
	})
	step("b21-delete-bp-again", func(c cliStep) {
		if n := c.page("/v2/buildpacks?q=name%3Abp1").TotalResults; n != 0 {
			t.Errorf("bp1 is still there: %d", n)
		}
	})
	demoOrg, demoSpace := backend.DemoOrgGUID, backend.DemoSpaceGUID
	public := backend.PublicNetworksSecurityGroupGUID
	// securityGroups replays cf security-groups: the list, then each
	// group's running and staging spaces, then the org of each space.
	securityGroups := func(c cliStep, want ...string) {
		c.t.Helper()
		guids, orgs := []string{}, map[string]bool{}
		for _, r := range c.page("/v2/security_groups").Resources {
			guids = append(guids, r.Metadata.GUID)
		}
		sameNames(c.t, "security groups", c.names("/v2/security_groups", "name"), want...)
		for _, g := range guids {
			for _, rel := range []string{"/spaces", "/staging_spaces"} {
				for _, sp := range c.page("/v2/security_groups/" + g + rel).Resources {
					var e struct {
						OrganizationGUID string `json:"organization_guid"`
					}
					_ = json.Unmarshal(sp.Entity, &e)
					orgs[e.OrganizationGUID] = true
				}
			}
		}
		for org := range orgs {
			c.has("org", c.getS("/v2/organizations/"+org, 200).body, `"name":"demo-org"`)
		}
	}
	var sg1 string
	sgByName := func(c cliStep, name string) string {
		c.t.Helper()
		return c.one("/v2/security_groups?q=name%3A" + name).Metadata.GUID
	}
	// orgAndSpace is the new code's lookup of ORG and SPACE.
	orgAndSpace := func(c cliStep) {
		c.t.Helper()
		c.one("/v2/organizations?order-by=name&q=name%3Ademo-org")
		c.one("/v2/spaces?order-by=name&q=name%3Ademo-space&q=organization_guid%3A" + demoOrg)
	}
	step("b22-security-groups", func(c cliStep) { securityGroups(c, "public_networks", "dns") })
	step("b23-security-group", func(c cliStep) {
		r := c.one("/v2/security_groups?q=name%3Apublic_networks")
		c.has("rules", r.Entity, `"name":"public_networks"`, `"rules":[{"destination":"0.0.0.0-9.255.255.255","protocol":"all"}`)
		if n := c.page("/v2/security_groups/" + public + "/spaces?inline-relations-depth=1").TotalResults; n != 0 {
			t.Errorf("public_networks is bound to %d spaces", n)
		}
	})
	step("b24-running-sgs", func(c cliStep) {
		sameNames(t, "running defaults", c.names("/v2/config/running_security_groups", "name"), "public_networks", "dns")
	})
	step("b25-staging-sgs", func(c cliStep) {
		sameNames(t, "staging defaults", c.names("/v2/config/staging_security_groups", "name"), "public_networks", "dns")
	})
	step("b26-create-sg", func(c cliStep) {
		r := c.body("POST", "/v2/security_groups", `{"name":"sg1","rules":[{"description":"internal tls","destination":"10.0.0.0/8","ports":"443","protocol":"tcp"}]}`, 201)
		c.has("create-security-group", r.body, `"name":"sg1"`, `"running_default":false`, `"staging_default":false`)
		sg1 = c.guidOf(r)
	})
	step("b27-bind-sg", func(c cliStep) {
		sgByName(c, "sg1")
		orgAndSpace(c)
		c.send("PUT", "/v2/security_groups/"+sg1+"/spaces/"+demoSpace, c.token, "", nil, 201, "Authorization", c.token)
	})
	step("b28-bind-sg-staging", func(c cliStep) {
		sgByName(c, "sg1")
		orgAndSpace(c)
		c.send("PUT", "/v2/security_groups/"+sg1+"/staging_spaces/"+demoSpace, c.token, "", nil, 201, "Authorization", c.token)
	})
	step("b29-security-group", func(c cliStep) {
		sgByName(c, "sg1")
		// The legacy command prints each space's inlined organization.
		sp := c.one("/v2/security_groups/" + sg1 + "/spaces?inline-relations-depth=1")
		c.has("bound space", sp.Entity, `"name":"demo-space"`, `"organization":{"metadata":{"guid":"`+demoOrg+`"`, `"entity":{"name":"demo-org"`)
	})
	step("b30-security-groups", func(c cliStep) { securityGroups(c, "public_networks", "dns", "sg1") })
	step("b31-space", func(c cliStep) {
		c.has("org", c.getS("/v2/organizations/"+demoOrg, 200).body, `"name":"demo-org"`)
		c.one("/v2/spaces?order-by=name&q=name%3Ademo-space&q=organization_guid%3A" + demoOrg)
		c.getS("/v2/apps?q=space_guid%3A"+demoSpace, 200)
		c.getS("/v2/spaces/"+demoSpace+"/service_instances?return_user_provided_service_instances=true", 200)
		sameNames(t, "running", c.names("/v2/spaces/"+demoSpace+"/security_groups", "name"), "public_networks", "dns", "sg1")
		sameNames(t, "staging", c.names("/v2/spaces/"+demoSpace+"/staging_security_groups", "name"), "public_networks", "dns", "sg1")
		c.has("isolation segment", c.getS("/v3/spaces/"+demoSpace+"/relationships/isolation_segment", 200).body, `"data":null`)
	})
	for _, lc := range []struct{ step, list, rel string }{
		{"b32-unbind-sg", "security_groups", "spaces"},
		{"b33-unbind-sg-staging", "staging_security_groups", "staging_spaces"},
	} {
		step(lc.step, func(c cliStep) {
			sgByName(c, "sg1")
			orgAndSpace(c)
			c.one("/v2/spaces/" + demoSpace + "/" + lc.list + "?q=name%3Asg1")
			c.send("DELETE", "/v2/security_groups/"+sg1+"/"+lc.rel+"/"+demoSpace, c.token, "", nil, 204, "Authorization", c.token)
		})
	}
	step("b34-delete-sg", func(c cliStep) {
		sgByName(c, "sg1")
		if n := c.page("/v2/security_groups/" + sg1 + "/spaces?inline-relations-depth=1").TotalResults; n != 0 {
			t.Errorf("sg1 is still bound to %d spaces", n)
		}
		pollJob(c.cliSession, c.send("DELETE", "/v2/security_groups/"+sg1+"?async=true", c.token, "", nil, 202, "Authorization", c.token))
	})
	step("b35-security-groups", func(c cliStep) { securityGroups(c, "public_networks", "dns") })
}
