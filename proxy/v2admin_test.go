package proxy

import (
	"reflect"
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
)

// PUT /v2/config/feature_flags/:name through the gateway (MAPPING-orgs
// §12.4; go-cfclient has no flag functions): 200 and the flag, the
// message cleared by a body without it, CC's errors.
func TestV2AdminFeatureFlagSet(t *testing.T) {
	s := startStack(t, nil)
	url := s.gwURL + "/v2/config/feature_flags/user_org_creation"
	r := s.do("PUT", url, "admin", []byte(`{"enabled":true,"error_message":"ask an admin"}`))
	if want := `{"name":"user_org_creation","enabled":true,"error_message":"ask an admin","url":"/v2/config/feature_flags/user_org_creation"}`; r.status != 200 || string(r.body) != want {
		t.Errorf("set with a message: %d %s", r.status, r.body)
	}
	// feature_flag_set_request.json and _response.json: no error_message clears it.
	r = s.do("PUT", url, "admin", []byte(`{"enabled":true}`))
	if want := `{"name":"user_org_creation","enabled":true,"error_message":null,"url":"/v2/config/feature_flags/user_org_creation"}`; r.status != 200 || string(r.body) != want {
		t.Errorf("set without a message: %d %s", r.status, r.body)
	}
	if r := s.do("GET", url, "developer", nil); r.status != 200 || !strings.Contains(string(r.body), `"enabled":true,"error_message":null`) {
		t.Errorf("read back: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, user, url, body string
		status                int
		want                  string
	}{
		{"enabled missing", "admin", url, `{"error_message":"x"}`, 400,
			`{"description":"The feature flag is invalid: enabled presence","error_code":"CF-FeatureFlagInvalid","code":330001}`},
		{"unknown flag", "admin", s.gwURL + "/v2/config/feature_flags/no_such_flag", `{"enabled":true}`, 404,
			`{"description":"The feature flag could not be found: no_such_flag","error_code":"CF-FeatureFlagNotFound","code":330000}`},
		{"not an admin", "developer", url, `{"enabled":false}`, 403,
			`{"description":"You are not authorized to perform the requested action","error_code":"CF-NotAuthorized","code":10003}`},
		{"not an admin, unknown flag", "developer", s.gwURL + "/v2/config/feature_flags/no_such_flag", `{"enabled":false}`, 403, `"CF-NotAuthorized"`},
	}
	for _, tc := range cases {
		r := s.do("PUT", tc.url, tc.user, []byte(tc.body))
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if r := s.do("GET", url, "developer", nil); r.status != 200 || !strings.Contains(string(r.body), `"enabled":true`) {
		t.Errorf("a refused write changed the flag: %d %s", r.status, r.body)
	}
}

// go-cfclient's environment variable group functions through the gateway
// (MAPPING-orgs §12.5): a PUT replaces the group (v3 merges), the body
// comes back as sent, CC's errors; a number is stored as its text.
func TestV2AdminEnvGroupsGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	if g, err := admin.GetRunningEnvironmentVariableGroup(); err != nil || len(g) != 0 {
		t.Fatalf("GetRunningEnvironmentVariableGroup: %v %v", err, g)
	}
	if err := admin.SetRunningEnvironmentVariableGroup(cfclient.EnvironmentVariableGroup{"A": "1", "B": "two"}); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetRunningEnvironmentVariableGroup(cfclient.EnvironmentVariableGroup{"B": "three", "C": "x"}); err != nil {
		t.Fatal(err)
	}
	if g, err := admin.GetRunningEnvironmentVariableGroup(); err != nil || !reflect.DeepEqual(g, cfclient.EnvironmentVariableGroup{"B": "three", "C": "x"}) {
		t.Errorf("running after a replace: %v %v", err, g)
	}
	if g, err := admin.GetStagingEnvironmentVariableGroup(); err != nil || len(g) != 0 {
		t.Errorf("staging untouched: %v %v", err, g)
	}
	// environment_variable_group_update_request.json: echoed as sent.
	url := s.gwURL + "/v2/config/environment_variable_groups/staging"
	r := s.do("PUT", url, "admin", []byte(`{"abc": 123, "do-re-me": "far-so-la-tee"}`))
	if r.status != 200 || string(r.body) != `{"abc":123,"do-re-me":"far-so-la-tee"}` {
		t.Errorf("PUT staging: %d %s", r.status, r.body)
	}
	if g, err := admin.GetStagingEnvironmentVariableGroup(); err != nil || !reflect.DeepEqual(g, cfclient.EnvironmentVariableGroup{"abc": "123", "do-re-me": "far-so-la-tee"}) {
		t.Errorf("staging after the PUT: %v %v", err, g)
	}
	if r := s.do("GET", url, "developer", nil); r.status != 200 || string(r.body) != `{"abc":"123","do-re-me":"far-so-la-tee"}` {
		t.Errorf("a developer reads staging: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, user, body string
		status           int
		want             string
	}{
		{"null", "admin", `null`, 400,
			`{"description":"The Environment Variable Group is invalid: Cannot be 'null'. You may want to try empty object '{}' to clear the group.","error_code":"CF-EnvironmentVariableGroupInvalid","code":380001}`},
		{"VCAP_ key", "admin", `{"VCAP_X":"1"}`, 400, `"The Environment Variable Group is invalid: environment_json {message: \"cannot start with VCAP_\"}"`},
		{"PORT", "admin", `{"port":"1"}`, 400, `cannot set PORT`},
		{"not JSON", "admin", `{`, 400, `"CF-MessageParseError"`},
		{"not an admin", "developer", `{}`, 403, `"CF-NotAuthorized"`},
	}
	for _, tc := range cases {
		r := s.do("PUT", url, tc.user, []byte(tc.body))
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if r := s.do("PUT", url, "admin", []byte(`{}`)); r.status != 200 || string(r.body) != `{}` {
		t.Errorf("clear: %d %s", r.status, r.body)
	}
	if g, err := admin.GetStagingEnvironmentVariableGroup(); err != nil || len(g) != 0 {
		t.Errorf("staging after {}: %v %v", err, g)
	}
}
