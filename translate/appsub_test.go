package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The v2 resources under /v2/apps/:guid: golden pairs, and key order
// checked against CC's bodies (testdata/reference, copies of
// shared/reference/v2).

func TestRouteGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "routes", func(raw []byte) ([]byte, error) {
		var in struct {
			Route  V3Route
			Domain *V3Domain
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err := AppendRouteResource(&b, in.Route, in.Domain)
		return b.Bytes(), err
	})
}

func TestServiceBindingGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "bindings", func(raw []byte) ([]byte, error) {
		var in struct {
			Binding V3ServiceCredentialBinding
			Details *V3BindingDetails
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err := AppendServiceBindingResource(&b, BindingBundle{Binding: in.Binding, Details: in.Details})
		return b.Bytes(), err
	})
}

func TestAppEnvGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "env", func(raw []byte) ([]byte, error) {
		var in struct {
			Env V3AppEnv
			Web V3Process
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		return AppEnv(in.Env, in.Web)
	})
}

// objectKeys returns the keys, in document order, of the object found by
// following path (object keys, or "0" for an array's first item).
func objectKeys(t *testing.T, raw []byte, path ...string) []string {
	t.Helper()
	var v any = json.RawMessage(raw)
	for _, p := range path {
		r := v.(json.RawMessage)
		if p == "0" {
			var arr []json.RawMessage
			if err := json.Unmarshal(r, &arr); err != nil || len(arr) == 0 {
				t.Fatalf("%v at %s: not a non-empty array", path, p)
			}
			v = arr[0]
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r, &obj); err != nil {
			t.Fatalf("%v at %s: %v", path, p, err)
		}
		v = obj[p]
	}
	dec := json.NewDecoder(bytes.NewReader(v.(json.RawMessage)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%v: not an object", path)
	}
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppSubresourceKeyOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, reference, golden string
		path                    []string
	}{
		{"route metadata", "app_routes.json", "", []string{"resources", "0", "metadata"}},
		{"route entity", "app_routes.json", "routes/http_shared.v2.json", []string{"entity"}},
		{"binding entity", "app_service_bindings.json", "bindings/with_details.v2.json", []string{"entity"}},
		{"binding last_operation", "app_service_bindings.json", "bindings/with_details.v2.json", []string{"entity", "last_operation"}},
		{"env", "app_env.current-shape.json", "env/started.v2.json", nil},
		{"VCAP_APPLICATION", "app_env.current-shape.json", "env/started.v2.json", []string{"application_env_json", "VCAP_APPLICATION"}},
		{"VCAP_APPLICATION limits", "app_env.current-shape.json", "env/started.v2.json", []string{"application_env_json", "VCAP_APPLICATION", "limits"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := readTestdata(t, "reference", tc.reference)
			refPath := tc.path
			if tc.golden != "" && (strings.HasPrefix(tc.reference, "app_routes") || strings.HasPrefix(tc.reference, "app_service")) {
				refPath = append([]string{"resources", "0"}, tc.path...)
			}
			want := objectKeys(t, ref, refPath...)
			if tc.golden == "" {
				if strings.Join(want, ",") != "guid,url,created_at,updated_at" {
					t.Errorf("reference metadata keys %v", want)
				}
				return
			}
			got := objectKeys(t, readTestdata(t, tc.golden), tc.path...)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("keys\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestAppPermissionsMatchesReference(t *testing.T) {
	t.Parallel()
	ref := readTestdata(t, "reference", "app_permissions.json")
	var compact bytes.Buffer
	if err := json.Compact(&compact, ref); err != nil {
		t.Fatal(err)
	}
	if got := AppPermissions(V3AppPermissions{ReadBasicData: true, ReadSensitiveData: true}); !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("got %s, want %s", got, compact.Bytes())
	}
	if got := string(AppPermissions(V3AppPermissions{ReadBasicData: true})); got != `{"read_sensitive_data":false,"read_basic_data":true}` {
		t.Errorf("auditor: %s", got)
	}
}

func TestWebRoutesAndMappings(t *testing.T) {
	t.Parallel()
	port := 8080
	other := 9000
	routes := []V3Route{
		{GUID: "r1", Destinations: []V3Destination{{GUID: "d1", App: V3DestinationApp{GUID: "a", Process: V3ProcessTypeRef{Type: "web"}}, Port: &port},
			{GUID: "d2", App: V3DestinationApp{GUID: "a", Process: V3ProcessTypeRef{Type: "web"}}, Port: &other}}},
		{GUID: "r2", Destinations: []V3Destination{{GUID: "d3", App: V3DestinationApp{GUID: "a", Process: V3ProcessTypeRef{Type: "worker"}}}}},
		{GUID: "r3", Destinations: []V3Destination{{GUID: "d4", App: V3DestinationApp{GUID: "b", Process: V3ProcessTypeRef{Type: "web"}}}}},
	}
	if got := WebRoutes("a", routes); len(got) != 1 || got[0].GUID != "r1" {
		t.Errorf("WebRoutes = %+v", got)
	}
	maps := AppRouteMappings("a", routes)
	if len(maps) != 2 || maps[0].Destination.GUID != "d1" || maps[1].Destination.GUID != "d2" {
		t.Fatalf("AppRouteMappings = %+v", maps)
	}
	var b bytes.Buffer
	if err := AppendRouteMappingResource(&b, maps[1]); err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"guid":"d2","url":"/v2/route_mappings/d2","created_at":"0001-01-01T00:00:00Z","updated_at":null},` +
		`"entity":{"app_port":9000,"app_guid":"a","route_guid":"r1","app_url":"/v2/apps/a","route_url":"/v2/routes/r1"}}`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

func TestFilterMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		f    Filter
		v    string
		want bool
	}{
		{Filter{Key: "host", Op: OpEq, Values: []string{"Web"}}, "web", true},
		{Filter{Key: "host", Op: OpGe, Values: []string{"m"}}, "web", true},
		{Filter{Key: "host", Op: OpLt, Values: []string{"m"}}, "web", false},
		{Filter{Key: "host", Op: OpIn, Values: []string{"a", "web"}}, "web", true},
		{Filter{Key: "domain_guid", Op: OpGt, Values: []string{"d1"}}, "d1", true}, // the operator is ignored
		{Filter{Key: "domain_guid", Op: OpEq, Values: []string{"D1"}}, "d1", false},
	}
	for _, tc := range cases {
		if got := tc.f.Matches(tc.v); got != tc.want {
			t.Errorf("%+v.Matches(%q) = %v, want %v", tc.f, tc.v, got, tc.want)
		}
	}
}
