package backend

import (
	"encoding/json"
	"strings"
	"testing"
)

// featureFlagRoleRows are the feature flag rows of the role table: every
// user reads the flags; only admins set them, once the flag is found.
var featureFlagRoleRows = []roleRow{
	{"update feature flag", "PATCH", "/v3/feature_flags/resource_matching", map[string]any{"enabled": true},
		rolePer(roleOK(200, roleField("name", "resource_matching")), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
	{"update unknown feature flag", "PATCH", "/v3/feature_flags/nope", map[string]any{"enabled": true}, roleAll(roleNotFound("Feature flag"))},
}

func init() { roleFixtureRows = append(roleFixtureRows, featureFlagRoleRows...) }

func TestRoleFeatureFlags(t *testing.T) {
	t.Parallel()
	runRoleRowsInTurn(t, startCF(t, nil), featureFlagRoleRows)
}

// TestFeatureFlagUpdate: a set flag shows its updated_at and message, the
// message stays until it is sent again, CC's message texts.
func TestFeatureFlagUpdate(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := string(c.must(200, "GET", "/v3/feature_flags/user_org_creation", "developer", nil).body)
	want := `{"name":"user_org_creation","enabled":false,"updated_at":null,"custom_error_message":null,` +
		`"links":{"self":{"href":"http://api.example.org/v3/feature_flags/user_org_creation"}}}`
	if got != want {
		t.Errorf("default flag\n got %s\nwant %s", got, want)
	}
	got = timestamps.ReplaceAllString(string(c.must(200, "PATCH", "/v3/feature_flags/user_org_creation", "admin",
		map[string]any{"enabled": true, "custom_error_message": "ask the operators"}).body), `"T"`)
	want = `{"name":"user_org_creation","enabled":true,"updated_at":"T","custom_error_message":"ask the operators",` +
		`"links":{"self":{"href":"http://api.example.org/v3/feature_flags/user_org_creation"}}}`
	if got != want {
		t.Errorf("set flag\n got %s\nwant %s", got, want)
	}
	var f featureFlagJSON
	c.must(200, "PATCH", "/v3/feature_flags/user_org_creation", "admin", map[string]any{"enabled": false}).json(t, &f)
	if f.Enabled || f.CustomErrorMessage == nil || *f.CustomErrorMessage != "ask the operators" {
		t.Errorf("enabled only: %+v", f)
	}
	c.must(200, "PATCH", "/v3/feature_flags/user_org_creation", "admin", map[string]any{"custom_error_message": nil}).json(t, &f)
	if f.Enabled || f.CustomErrorMessage != nil {
		t.Errorf("message cleared: %+v", f)
	}
	var l struct {
		Resources []featureFlagJSON `json:"resources"`
	}
	c.must(200, "GET", "/v3/feature_flags?per_page=50", "auditor", nil).json(t, &l)
	if len(l.Resources) != 19 {
		t.Errorf("%d flags, want CC's 19", len(l.Resources))
	}
	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"unknown key", map[string]any{"enabled": true, "name": "x"}, "Unknown field(s): 'name'"},
		{"enabled not a boolean", map[string]any{"enabled": "yes"}, "Enabled must be a boolean"},
		{"message not a string", map[string]any{"custom_error_message": 3}, "Custom error message must be a string"},
		{"message empty", map[string]any{"custom_error_message": ""}, "Custom error message is too short (minimum is 1 character)"},
		{"message too long", map[string]any{"custom_error_message": strings.Repeat("m", 251)}, "Custom error message is too long (maximum is 250 characters)"},
		{"both", map[string]any{"enabled": 1, "custom_error_message": ""}, "Enabled must be a boolean, Custom error message is too short (minimum is 1 character)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roleUnprocessable(tc.want).assert(t, roleView(c, t).do("PATCH", "/v3/feature_flags/task_creation", "admin", tc.body))
		})
	}
	r := c.do("PATCH", "/v3/feature_flags/task_creation", "admin", "[1]")
	if code, title := r.errCode(); r.status != 400 || code != 1001 || title != "CF-MessageParseError" {
		t.Errorf("array body: %d %s", r.status, r.body)
	}
}

// TestFeatureFlagsEnforced: each flag that CC checks stops the same
// request here with FeatureDisabled, naming the flag or saying its
// custom message; admins skip app_scaling and app_bits_upload, and
// route_creation.
func TestFeatureFlagsEnforced(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "flagged", nil)
	disable := func(name, msg string) {
		body := map[string]any{"enabled": false}
		if msg != "" {
			body["custom_error_message"] = msg
		}
		c.must(200, "PATCH", "/v3/feature_flags/"+name, "admin", body)
	}
	disabled := func(t *testing.T, r resp, what string) {
		t.Helper()
		roleWant{status: 403, title: "CF-FeatureDisabled", code: 330002, detail: "Feature Disabled: " + what}.assert(t, r)
	}
	disable("app_scaling", "")
	disabled(t, c.do("POST", "/v3/apps/"+app+"/processes/web/actions/scale", "developer", map[string]any{"instances": 2}), "app_scaling")
	disabled(t, c.do("POST", "/v3/processes/"+app+"/actions/scale", "developer", map[string]any{"instances": 2}), "app_scaling")
	c.must(202, "POST", "/v3/processes/"+app+"/actions/scale", "admin", map[string]any{"instances": 2})

	disable("app_bits_upload", "no uploads today")
	var pkg struct{ GUID string }
	c.must(201, "POST", "/v3/packages", "developer", map[string]any{"type": "bits",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}}}).json(t, &pkg)
	disabled(t, c.do("POST", "/v3/packages/"+pkg.GUID+"/upload", "developer", nil), "no uploads today")
	disabled(t, c.do("POST", "/v3/resource_matches", "developer", map[string]any{"resources": []any{}}), "no uploads today")

	disable("route_creation", "")
	route := map[string]any{"host": "flagged", "relationships": map[string]any{
		"space":  map[string]any{"data": map[string]string{"guid": DemoSpaceGUID}},
		"domain": map[string]any{"data": map[string]string{"guid": SharedDomainGUID}}}}
	disabled(t, c.do("POST", "/v3/routes", "developer", route), "route_creation")
	c.must(201, "POST", "/v3/routes", "admin", route)

	disable("diego_docker", "")
	docker := map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}}
	body := map[string]any{"name": "docker", "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}
	for k, v := range docker {
		body[k] = v
	}
	disabled(t, c.do("POST", "/v3/apps", "developer", body), "diego_docker")
	disabled(t, c.do("POST", "/v3/apps", "admin", body), "diego_docker")

	disable("service_instance_sharing", "")
	disabled(t, c.do("POST", "/v3/service_instances/"+roleMissingGUID+"/relationships/shared_spaces", "admin",
		map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}), "service_instance_sharing")

	var orgs json.RawMessage
	c.must(403, "POST", "/v3/organizations", "developer", map[string]string{"name": "mine"}).json(t, &orgs)
	c.must(200, "PATCH", "/v3/feature_flags/user_org_creation", "admin", map[string]any{"enabled": true})
	c.must(201, "POST", "/v3/organizations", "developer", map[string]string{"name": "mine"})
}
