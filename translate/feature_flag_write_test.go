package translate

import (
	"bytes"
	"testing"
)

func TestFeatureFlagSet(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"enabled":true}`, `{"enabled":true,"custom_error_message":null}`},
		{`{"enabled":"false","error_message":"no"}`, `{"enabled":false,"custom_error_message":"no"}`},
		{`{"enabled":1,"error_message":null}`, `{"enabled":true,"custom_error_message":null}`},
		{`{"error_message":"x"}`, "FeatureFlagInvalid (330001): The feature flag is invalid: enabled presence"},
		{`{"enabled":""}`, "enabled presence"},
		{`{"enabled":true,"error_message":""}`, "The feature flag is invalid: error_message format"},
		{`[]`, "UnknownError"},
	} {
		body, err := V3FeatureFlagSet([]byte(tc.body))
		got := string(body)
		if err != nil {
			got = err.Error()
		}
		if !bytes.Contains([]byte(got), []byte(tc.want)) {
			t.Errorf("%s: %s", tc.body, got)
		}
	}
}
