package translate

import (
	"bytes"
	"testing"
)

func TestEnvGroupSet(t *testing.T) {
	set, err := ParseEnvGroupSet([]byte(`{"abc": 123, "do-re-me": "far-so-la-tee", "gone": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(set.Echo) != `{"abc":123,"do-re-me":"far-so-la-tee","gone":null}` {
		t.Errorf("echo %s", set.Echo)
	}
	patch, err := set.V3Patch(map[string]string{"old": "1", "abc": "x"})
	if err != nil || string(patch) != `{"var":{"abc":"123","do-re-me":"far-so-la-tee","old":null}}` {
		t.Errorf("patch %v %s", err, patch)
	}
	for _, tc := range []struct{ body, want string }{
		{`null`, "The Environment Variable Group is invalid: Cannot be 'null'. You may want to try empty object '{}' to clear the group."},
		{`[]`, `The Environment Variable Group is invalid: environment_json {message: "must be an object"}`},
		{`{"VCAP_A":"1","vmc":"2","":"3"}`, `The Environment Variable Group is invalid: environment_json {message: "cannot start with VCAP_"}, ` +
			`environment_json {message: "cannot start with VMC_"}, environment_json {message: "key must be a minimum length of 1"}`},
		{`{"a":`, "Request invalid due to parse error"},
	} {
		if _, err := ParseEnvGroupSet([]byte(tc.body)); err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: %v", tc.body, err)
		}
	}
}
