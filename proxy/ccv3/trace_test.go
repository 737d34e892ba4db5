package ccv3

import (
	"errors"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"
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

// doerFunc is a Doer of a function.
type doerFunc func(req *fasthttp.Request, resp *fasthttp.Response, route string) error

func (f doerFunc) Do(req *fasthttp.Request, resp *fasthttp.Response, route string) error {
	return f(req, resp, route)
}

// A trace's gate is passed before every call and released after it; its
// error fails the call unsent.
func TestTraceGate(t *testing.T) {
	var events []string
	c := New(doerFunc(func(req *fasthttp.Request, resp *fasthttp.Response, _ string) error {
		events = append(events, "send "+string(req.URI().Path()))
		resp.SetStatusCode(200)
		resp.SetBodyString(`{"guid":"b","name":"bp"}`)
		return nil
	}), "http://cc", 1)
	tr := NewTrace(nil)
	refuse := errors.New("not now")
	var open bool
	tr.SetGate(func() (func(), error) {
		if !open {
			events = append(events, "refused")
			return nil, refuse
		}
		events = append(events, "pass")
		return func() { events = append(events, "release") }, nil
	})
	call := Call{Trace: tr}
	if _, err := c.GetBuildpack(call, "b"); !errors.Is(err, refuse) {
		t.Fatalf("a closed gate: %v", err)
	}
	open = true
	if _, err := c.GetBuildpack(call, "b"); err != nil {
		t.Fatal(err)
	}
	want := []string{"refused", "pass", "send /v3/buildpacks/b", "release"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if tr.Requests() != 1 {
		t.Errorf("%d requests counted, want the one sent", tr.Requests())
	}
}
