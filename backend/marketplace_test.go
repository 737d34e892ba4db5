package backend

import (
	"slices"
	"testing"
)

// The role table's rows for the marketplace and managed services. The
// marketplace is seeded, so its reads run on the read fixture: the plan
// "large" is visible in demo-org only, so the outsider sees two plans
// where the others see three; the built-in broker is not space-scoped, so
// only global readers see it (ServiceBrokersController#show).
var marketplaceRoleReads = []roleRow{
	{"service offerings", "GET", "/v3/service_offerings", nil, roleAll(roleOK(200, roleTotal(2)))},
	{"service offering", "GET", "/v3/service_offerings/" + DBOfferingGUID, nil, roleAll(roleOK(200, roleField("name", DBOfferingName)))},
	{"service plans", "GET", "/v3/service_plans", nil, rolePer(roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)), roleOK(200, roleTotal(3)),
		roleOK(200, roleTotal(2)))},
	{"org-restricted plan", "GET", "/v3/service_plans/" + DBLargePlanGUID, nil, rolePer(roleOK(200, roleField("visibility_type", "organization")),
		roleOK(200), roleOK(200), roleNotFound("Service plan"))},
	{"plan visibility", "GET", "/v3/service_plans/" + DBLargePlanGUID + "/visibility", nil,
		rolePer(roleOK(200, roleField("type", "organization")), roleOK(200), roleOK(200), roleNotFound("Service plan"))},
	{"service brokers", "GET", "/v3/service_brokers", nil, rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)),
		roleOK(200, roleTotal(0)))},
	{"service broker", "GET", "/v3/service_brokers/" + ServiceBrokerGUID, nil, rolePer(roleOK(200, roleField("name", ServiceBrokerName)),
		roleNotFound("Service broker"), roleNotFound("Service broker"), roleNotFound("Service broker"))},
}

func init() { roleAnonRows = append(roleAnonRows, marketplaceRoleReads...) }

// TestMarketplace reads the built-in broker's catalog as CC presents it:
// anonymous callers (no token, or one that does not verify) see the
// public plans and their offerings; users see the plans visible in their
// organizations too; filters, include and fields.
func TestMarketplace(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: servicesT0}
	c := startCF(t, nil, WithClock(clk.Now))
	c.addOtherSpace()
	names := func(user, path string) []string {
		t.Helper()
		var l struct{ Resources []struct{ Name string } }
		c.must(200, "GET", path, user, nil).json(t, &l)
		out := []string{}
		for _, r := range l.Resources {
			out = append(out, r.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name, user, path string
		want             []string
	}{
		{"anonymous offerings", "", "/v3/service_offerings", []string{DBOfferingName, CacheOfferingName}},
		{"anonymous plans", "", "/v3/service_plans", []string{"small", "basic"}},
		{"bad token plans", "bearer garbage", "/v3/service_plans", []string{"small", "basic"}},
		{"developer plans", "developer", "/v3/service_plans", []string{"small", "large", "basic"}},
		{"outsider plans", "outsider", "/v3/service_plans", []string{"small", "basic"}},
		{"names", "developer", "/v3/service_plans?names=large,basic", []string{"large", "basic"}},
		{"offering names", "developer", "/v3/service_plans?service_offering_names=" + CacheOfferingName, []string{"basic"}},
		{"offering guids", "developer", "/v3/service_plans?service_offering_guids=" + DBOfferingGUID, []string{"small", "large"}},
		{"catalog ids", "admin", "/v3/service_plans?broker_catalog_ids=capibridge-db-large", []string{"large"}},
		{"broker names", "developer", "/v3/service_plans?service_broker_names=" + ServiceBrokerName, []string{"small", "large", "basic"}},
		{"unknown broker", "developer", "/v3/service_plans?service_broker_guids=nope", []string{}},
		{"unavailable", "developer", "/v3/service_plans?available=false", []string{}},
		// An org filter keeps the public plans and those of the orgs asked
		// for that the caller sees, admins included.
		{"other org", "admin", "/v3/service_plans?organization_guids=" + otherOrgGUID, []string{"small", "basic"}},
		{"demo org", "admin", "/v3/service_plans?organization_guids=" + DemoOrgGUID, []string{"small", "large", "basic"}},
		{"demo space", "developer", "/v3/service_plans?space_guids=" + DemoSpaceGUID, []string{"small", "large", "basic"}},
		{"demo space outsider", "outsider", "/v3/service_plans?space_guids=" + DemoSpaceGUID, []string{"small", "basic"}},
		{"ordered", "admin", "/v3/service_plans?order_by=-name", []string{"small", "large", "basic"}},
		{"offerings by broker", "admin", "/v3/service_offerings?service_broker_guids=" + ServiceBrokerGUID + "&order_by=name",
			[]string{CacheOfferingName, DBOfferingName}},
		{"offerings by name", "outsider", "/v3/service_offerings?names=" + DBOfferingName, []string{DBOfferingName}},
		{"offerings available", "", "/v3/service_offerings?available=true", []string{DBOfferingName, CacheOfferingName}},
		{"offering catalog ids", "", "/v3/service_offerings?broker_catalog_ids=capibridge-cache", []string{CacheOfferingName}},
		{"brokers", "admin", "/v3/service_brokers?names=" + ServiceBrokerName, []string{ServiceBrokerName}},
		{"brokers of a space", "admin", "/v3/service_brokers?space_guids=" + DemoSpaceGUID, []string{}},
		{"brokers for a user", "developer", "/v3/service_brokers", []string{}},
	} {
		if got := names(tc.user, tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	roleNotFound("Service plan").assert(t, c.do("GET", "/v3/service_plans/"+DBLargePlanGUID, "", nil))
	roleNotFound("Service plan").assert(t, c.do("GET", "/v3/service_plans/"+DBLargePlanGUID, "outsider", nil))
	roleNotAuthenticated.assert(t, c.do("GET", "/v3/service_plans/"+DBSmallPlanGUID+"/visibility", "", nil))

	o := c.must(200, "GET", "/v3/service_offerings/"+DBOfferingGUID, "", nil).body
	for path, want := range map[string]string{
		"available": "true", "shareable": "true", "tags": `["postgresql","relational"]`, "requires": "[]",
		"documentation_url":                      `"https://capibridge.local/docs/capibridge-db"`,
		"broker_catalog.id":                      `"capibridge-db"`,
		"broker_catalog.metadata.displayName":    `"Capibridge DB"`,
		"broker_catalog.features":                `{"plan_updateable":true,"bindable":true,"instances_retrievable":true,"bindings_retrievable":true,"allow_context_updates":false}`,
		"relationships.service_broker.data.guid": `"` + ServiceBrokerGUID + `"`,
		"links.service_plans.href":               `"` + v3Base + "/v3/service_plans?service_offering_guids=" + DBOfferingGUID + `"`,
		"links.service_broker.href":              `"` + v3Base + "/v3/service_brokers/" + ServiceBrokerGUID + `"`,
		"created_at":                             `"2025-09-01T08:00:00Z"`,
		"metadata":                               `{"labels":{},"annotations":{}}`,
	} {
		if got := rawAt(t, o, path); got != want {
			t.Errorf("offering %s = %s, want %s", path, got, want)
		}
	}
	if got := rawAt(t, c.must(200, "GET", "/v3/service_offerings/"+CacheOfferingGUID, "", nil).body, "shareable"); got != "false" {
		t.Errorf("cache shareable %s", got)
	}
	large := c.must(200, "GET", "/v3/service_plans/"+DBLargePlanGUID, "developer", nil).body
	basic := c.must(200, "GET", "/v3/service_plans/"+CacheBasicPlanGUID, "developer", nil).body
	for _, tc := range []struct {
		body       []byte
		path, want string
	}{
		{large, "visibility_type", `"organization"`},
		{large, "free", "false"},
		{large, "costs", `[{"currency":"USD","amount":25,"unit":"MONTHLY"}]`},
		{large, "maintenance_info", "{}"},
		{large, "broker_catalog", `{"id":"capibridge-db-large","metadata":{"displayName":"Large","bullets":["100 GB storage","500 connections"],` +
			`"costs":[{"amount":{"usd":25.0},"unit":"MONTHLY"}]},"maximum_polling_duration":null,"features":{"bindable":true,"plan_updateable":true}}`},
		{large, "schemas", `{"service_instance":{"create":{"parameters":{}},"update":{"parameters":{}}},"service_binding":{"create":{"parameters":{}}}}`},
		{large, "links.visibility.href", `"` + v3Base + "/v3/service_plans/" + DBLargePlanGUID + `/visibility"`},
		{basic, "visibility_type", `"public"`},
		{basic, "free", "true"},
		{basic, "costs", "[]"},
		{basic, "broker_catalog.features", `{"bindable":false,"plan_updateable":false}`},
	} {
		if got := rawAt(t, tc.body, tc.path); got != tc.want {
			t.Errorf("plan %s = %s, want %s", tc.path, got, tc.want)
		}
	}

	// include and fields.
	list := c.must(200, "GET", "/v3/service_plans?names=large&include=space.organization,service_offering&fields[service_offering.service_broker]=name",
		"developer", nil).body
	if got := rawAt(t, list, "included.spaces"); got != "[]" {
		t.Errorf("included spaces %s", got)
	}
	if got := rawAt(t, list, "included.service_offerings.0.guid"); got != `"`+DBOfferingGUID+`"` {
		t.Errorf("included offering %s", got)
	}
	if got := rawAt(t, list, "included.service_brokers"); got != `[{"name":"`+ServiceBrokerName+`"}]` {
		t.Errorf("included brokers %s", got)
	}
	shown := c.must(200, "GET", "/v3/service_offerings/"+DBOfferingGUID+"?fields[service_broker]=guid,name", "", nil).body
	if got := rawAt(t, shown, "included"); got != `{"service_brokers":[{"name":"`+ServiceBrokerName+`","guid":"`+ServiceBrokerGUID+`"}]}` {
		t.Errorf("offering with fields: included %s", got)
	}
	for path, detail := range map[string]string{
		"/v3/service_offerings?fields[bogus]=name":         "Fields [bogus] valid resources are: 'service_broker'",
		"/v3/service_offerings?fields[service_broker]=url": "Fields valid keys for 'service_broker' are: 'guid', 'name'",
		"/v3/service_plans?include=space":                  "Invalid included resource: 'space'. Valid included resources are: 'space.organization', 'service_offering'",
		"/v3/service_plans?available=maybe":                "Available must be a boolean",
		"/v3/service_brokers?fields[service_broker]=name":  "Unknown query parameter(s): 'fields'. Valid parameters are: " + quotedKeys(brokerResource.keys),
	} {
		wantBadQuery(t, c.do("GET", path, "admin", nil), "The query parameter is invalid: "+detail)
	}

	// Visibility.
	if got := string(c.must(200, "GET", "/v3/service_plans/"+DBSmallPlanGUID+"/visibility", "developer", nil).body); got != `{"type":"public"}` {
		t.Errorf("public visibility %s", got)
	}
	want := `{"type":"organization","organizations":[{"guid":"` + DemoOrgGUID + `","name":"demo-org"}]}`
	if got := string(c.must(200, "GET", "/v3/service_plans/"+DBLargePlanGUID+"/visibility", "auditor", nil).body); got != want {
		t.Errorf("org visibility %s, want %s", got, want)
	}

	// The broker, for global readers.
	b := string(c.must(200, "GET", "/v3/service_brokers/"+ServiceBrokerGUID, "admin", nil).body)
	wantBroker := `{"guid":"` + ServiceBrokerGUID + `","created_at":"2025-09-01T08:00:00Z","updated_at":"2025-09-01T08:00:00Z","name":"capibridge-broker",` +
		`"url":"https://capibridge-broker.internal","relationships":{},"metadata":{"labels":{},"annotations":{}},"links":{"self":{"href":"` +
		v3Base + `/v3/service_brokers/` + ServiceBrokerGUID + `"},"service_offerings":{"href":"` + v3Base +
		`/v3/service_offerings?service_broker_guids=` + ServiceBrokerGUID + `"}}}`
	if b != wantBroker {
		t.Errorf("broker\n got %s\nwant %s", b, wantBroker)
	}
}

// quotedKeys is keys as CC's unknown-parameter text lists them.
func quotedKeys(keys []string) string {
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += "'" + k + "'"
	}
	return out
}
