package ccv3

import (
	"slices"
	"testing"
)

func TestTraceKeepsCalls(t *testing.T) {
	tr := NewTrace(nil)
	tr.keepCall([]byte("GET"), []byte("/v3/apps"))
	if tr.Calls() != nil {
		t.Fatalf("calls kept without KeepCalls: %q", tr.Calls())
	}
	tr.KeepCalls()
	for _, c := range [][2]string{
		{"GET", "/v3/apps"},
		{"GET", "/v3/apps/0b5a6d3c-7c47-4b8e-9a2f-5f3a1c2d4e6f/environment_variables"},
		{"GET", "/v3/apps/AB5A6D3C-7C47-4B8E-9A2F-5F3A1C2D4E6F/environment_variables"},
		{"DELETE", "/v3/processes/0b5a6d3c-7c47-4b8e-9a2f-5f3a1c2d4e6f/instances/3"},
		{"GET", "/v3/isolation_segments/shared"},
		{"GET", "/v3/apps/missing"},
		{"GET", "/v3/apps/0b5a6d3c-7c47-4b8e-9a2f-5f3a1c2d4e6f/processes/web"},
		{"GET", "/v3/apps"},
	} {
		tr.keepCall([]byte(c[0]), []byte(c[1]))
	}
	want := []string{"DELETE /v3/processes/:guid/instances/:n", "GET /v3/apps", "GET /v3/apps/:guid", "GET /v3/apps/:guid/environment_variables",
		"GET /v3/apps/:guid/processes/web", "GET /v3/isolation_segments/:guid"}
	if got := tr.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls() = %q, want %q", got, want)
	}
	var none *Trace
	if none.Calls() != nil {
		t.Error("a nil trace has calls")
	}
}
