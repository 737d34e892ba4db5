package backend

import (
	"strings"
	"testing"
)

// envGroupRoleRows are the environment variable group rows of the role
// table: every user reads the groups; only admins change them.
var envGroupRoleRows = []roleRow{
	{"running env group", "GET", "/v3/environment_variable_groups/running", nil, roleAll(roleOK(200, roleField("name", "running")))},
	{"update staging env group", "PATCH", "/v3/environment_variable_groups/staging", map[string]any{"var": map[string]any{"A": "b"}},
		rolePer(roleOK(200, roleField("name", "staging")), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
}

func init() { roleFixtureRows = append(roleFixtureRows, envGroupRoleRows...) }

func TestRoleEnvGroups(t *testing.T) {
	t.Parallel()
	runRoleRowsInTurn(t, startCF(t, nil), envGroupRoleRows)
}

// TestEnvGroups: PATCH merges, null deletes, {} changes nothing; CC's
// texts; the running and staging groups show in an app's env.
func TestEnvGroups(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	got := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/environment_variable_groups/running", "auditor", nil).body), `"T"`)
	want := `{"updated_at":"T","name":"running","var":{},"links":{"self":{"href":"http://api.example.org/v3/environment_variable_groups/running"}}}`
	if got != want {
		t.Errorf("empty group\n got %s\nwant %s", got, want)
	}
	c.must(200, "PATCH", "/v3/environment_variable_groups/running", "admin", map[string]any{"var": map[string]any{"A": "1", "B": "<b&>"}})
	got = timestamps.ReplaceAllString(string(c.must(200, "PATCH", "/v3/environment_variable_groups/running", "admin",
		map[string]any{"var": map[string]any{"A": nil, "C": "3"}}).body), `"T"`)
	want = `{"updated_at":"T","name":"running","var":{"B":"<b&>","C":"3"},"links":{"self":{"href":"http://api.example.org/v3/environment_variable_groups/running"}}}`
	if got != want {
		t.Errorf("merged group\n got %s\nwant %s", got, want)
	}
	if got := string(c.must(200, "PATCH", "/v3/environment_variable_groups/running", "admin", "{}").body); !strings.Contains(got, `"var":{"B":"<b&>","C":"3"}`) {
		t.Errorf("{} changed the group: %s", got)
	}
	c.must(200, "PATCH", "/v3/environment_variable_groups/staging", "admin", map[string]any{"var": map[string]any{"S": "s"}})
	app := c.createApp("developer", "grouped", nil)
	env := string(c.must(200, "GET", "/v3/apps/"+app+"/env", "developer", nil).body)
	if !strings.HasPrefix(env, `{"staging_env_json":{"S":"s"},"running_env_json":{"B":"<b&>","C":"3"},`) {
		t.Errorf("app env %s", env)
	}
	c.must(404, "GET", "/v3/environment_variable_groups/other", "admin", nil)
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"var not an object", `{"var":"x"}`, "Var must be an object"},
		{"var null", `{"var":null}`, "Var must be an object"},
		{"unknown key", `{"vars":{}}`, "Unknown field(s): 'vars', Var must be an object"},
		{"keys", `{"var":{"":"x","vcap_x":"x","VMC1":"x","port":"x","n":1,"o":{"a":[1, 2]}}}`,
			"Var key must be a minimum length of 1, Var cannot start with VCAP_, Var cannot start with VMC_, Var cannot set PORT, " +
				"Non-string value in environment variable for key 'n', value '1', Non-string value in environment variable for key 'o', value '{\"a\":[1,2]}'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roleUnprocessable(tc.want).assert(t, roleView(c, t).do("PATCH", "/v3/environment_variable_groups/running", "admin", tc.body))
		})
	}
	// The message is checked before the role.
	roleUnprocessable("Var must be an object").assert(t, c.do("PATCH", "/v3/environment_variable_groups/running", "developer", `{"var":1}`))
}
