package translate

import (
	"strings"
	"testing"
)

func TestCreateIntentRoundTrip(t *testing.T) {
	cases := []struct {
		name, body  string
		needsSecret bool
	}{
		{"buildpack", `{"name":" web ","space_guid":"s1","memory":256,"instances":3,"disk_quota":512,"command":"./run","health_check_type":"http",` +
			`"health_check_http_endpoint":"/health","health_check_timeout":30,"enable_ssh":false,"state":"STARTED","environment_json":{"SECRET":"x"}}`, false},
		{"defaults", `{"name":"bare","space_guid":"s1"}`, false},
		{"docker with a password", `{"name":"d","space_guid":"s1","docker_image":"repo/img:1","docker_credentials":{"username":"u","password":"p4ss"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseAppRequest([]byte(tc.body), true)
			if err != nil {
				t.Fatal(err)
			}
			intent := CreateIntent(req)
			if intent == "" {
				t.Fatal("no intent")
			}
			// The record is shown to every reader of the app: no secrets.
			if strings.Contains(intent, "p4ss") || strings.Contains(intent, "SECRET") {
				t.Errorf("the record keeps a secret: %s", intent)
			}
			back, needsSecret, err := ParseCreateIntent(intent)
			if err != nil {
				t.Fatal(err)
			}
			if needsSecret != tc.needsSecret {
				t.Errorf("needsSecret = %v", needsSecret)
			}
			// What the record gives back records the same intent (but for
			// the password it never had), and is the same create as the
			// original request.
			if again := CreateIntent(back); again != intent && !tc.needsSecret {
				t.Errorf("round trip:\n%s\n%s", intent, again)
			}
			if !SameCreate(intent, req) {
				t.Error("the request is not the create it recorded")
			}
			if back.StrippedName() != req.StrippedName() || *back.State != *req.State || back.ChangesScale() != req.ChangesScale() ||
				back.ChangesProcess() != req.ChangesProcess() {
				t.Errorf("read back %+v from %+v", back, req)
			}
		})
	}
	a, _ := ParseAppRequest([]byte(`{"name":"x","space_guid":"s1","memory":256}`), true)
	b, _ := ParseAppRequest([]byte(`{"name":"x","space_guid":"s1","memory":512}`), true)
	if SameCreate(CreateIntent(a), b) {
		t.Error("creates that differ in memory are the same create")
	}
	huge, _ := ParseAppRequest([]byte(`{"name":"x","space_guid":"s1","command":"`+strings.Repeat("a", 6000)+`"}`), true)
	if CreateIntent(huge) != "" {
		t.Error("an intent larger than an annotation may be was recorded")
	}
}
