package backend

import (
	"capibridge/internal/jsonshape"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shape is the structure of a JSON value (internal/jsonshape).
type shape = jsonshape.Shape

func parseShape(t *testing.T, b []byte) *shape {
	t.Helper()
	s, err := jsonshape.Parse(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", b, err)
	}
	return s
}

// shapeRules relax the comparison where a reference example cannot be
// literal: free-form maps (labels, env vars), fields that are null in one
// state and set in another, and objects to which CC adds keys.
type shapeRules struct {
	freeForm map[string]bool // any object
	nullable map[string]bool // null may stand for the reference's value, or the reverse
	superset map[string]bool // every reference key present, in order, extra keys allowed
	items    map[string]*shape
}

func rules(freeForm, nullable, superset []string) shapeRules {
	set := func(l []string) map[string]bool {
		m := map[string]bool{"metadata.labels": true, "metadata.annotations": true}
		for _, k := range l {
			m[k] = true
		}
		return m
	}
	return shapeRules{freeForm: set(freeForm), nullable: set(nullable), superset: set(superset), items: map[string]*shape{}}
}

// compareShape reports every difference between want (the reference) and
// got. Paths name array items "[]" so rules apply to each element.
func compareShape(want, got *shape, path string, r shapeRules) []string {
	if r.nullable[path] && (want.Kind == "null" || got.Kind == "null") {
		return nil
	}
	if want.Kind != got.Kind {
		return []string{fmt.Sprintf("%s: %s, want %s", orRoot(path), got.Kind, want.Kind)}
	}
	var diffs []string
	switch want.Kind {
	case "object":
		if r.freeForm[path] {
			return nil
		}
		if r.superset[path] {
			last := -1
			for _, k := range want.Keys {
				idx := indexOf(got.Keys, k)
				if idx < 0 {
					diffs = append(diffs, fmt.Sprintf("%s: missing key %q", orRoot(path), k))
					continue
				}
				if idx < last {
					diffs = append(diffs, fmt.Sprintf("%s: key %q out of order", orRoot(path), k))
				}
				last = idx
				diffs = append(diffs, compareShape(want.Kids[k], got.Kids[k], join(path, k), r)...)
			}
			return diffs
		}
		if strings.Join(want.Keys, ",") != strings.Join(got.Keys, ",") {
			return []string{fmt.Sprintf("%s: keys %v, want %v", orRoot(path), got.Keys, want.Keys)}
		}
		for _, k := range want.Keys {
			diffs = append(diffs, compareShape(want.Kids[k], got.Kids[k], join(path, k), r)...)
		}
	case "array":
		ref := r.items[join(path, "[]")]
		if ref == nil && len(want.Items) > 0 {
			ref = want.Items[0]
		}
		if ref == nil {
			return nil
		}
		for _, item := range got.Items {
			diffs = append(diffs, compareShape(ref, item, join(path, "[]"), r)...)
		}
	}
	return diffs
}

func indexOf(l []string, s string) int {
	for i, v := range l {
		if v == s {
			return i
		}
	}
	return -1
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func reference(t *testing.T, name string) *shape {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "v3", name))
	if err != nil {
		t.Fatal(err)
	}
	return parseShape(t, b)
}

// TestShapesMatchReference checks every endpoint's body against the Cloud
// Controller's documented example in testdata/v3 (copied from
// shared/reference/v3): the same keys in the same order, the same JSON
// types, at every depth.
func TestShapesMatchReference(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "shape-app", map[string]any{
		"environment_variables": map[string]string{"RAILS_ENV": "production"},
		"lifecycle":             map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"java_buildpack"}, "stack": "cflinuxfs4"}},
	})
	c.must(200, "PATCH", "/v3/processes/"+guid, "developer", map[string]any{"command": "rackup"})
	del := c.must(202, "DELETE", "/v3/apps/"+c.createApp("developer", "doomed", nil), "developer", nil)
	c.waitJob(del.header["Location"], "developer")
	jobPath := del.header["Location"][strings.Index(del.header["Location"], "/v3/"):]

	app := reference(t, "app.json")
	process := reference(t, "process_list.json").At("resources.0")
	stack := reference(t, "stack.json")
	appRules := rules(nil, []string{"relationships.current_droplet.data.guid"}, nil)
	// The single-process example predates invocation_timeout and interval;
	// the list example has today's health_check data, so both compare to it.
	procRules := rules(nil, []string{"command", "relationships.revision"}, nil)
	listRules := func(item *shape, nullable ...string) shapeRules {
		r := rules(nil, nullable, nil)
		r.items["resources.[]"] = item
		return r
	}

	cases := []struct {
		name  string
		path  string
		user  string
		want  *shape
		rules shapeRules
	}{
		// The components the embedded CF does not run are null, as CC
		// renders a component it is not configured with; the routing API
		// it runs (routing.go).
		{"root", "/", "", reference(t, "root.json"), rules(nil, []string{"links.logging", "links.log_stream",
			"links.app_ssh.href", "links.app_ssh.meta.host_key_fingerprint", "links.app_ssh.meta.oauth_client"}, nil)},
		{"info", "/v3/info", "", reference(t, "info.json"), rules([]string{"custom"}, nil, nil)},
		{"app", "/v3/apps/" + guid, "developer", app, appRules},
		{"app list", "/v3/apps?per_page=1", "developer", reference(t, "app_list.json"),
			listRules(app, "resources.[].relationships.current_droplet.data.guid", "pagination.next")},
		{"process", "/v3/processes/" + guid, "developer", process, procRules},
		{"app web process", "/v3/apps/" + guid + "/processes/web", "developer", process, procRules},
		{"process list", "/v3/processes", "developer", reference(t, "process_list.json"),
			listRules(process, "resources.[].relationships.revision", "pagination.next")},
		{"space", "/v3/spaces/" + DemoSpaceGUID, "developer", reference(t, "space.json"), rules(nil, nil, nil)},
		{"stack", "/v3/stacks/" + StackFS4GUID, "developer", stack, rules(nil, nil, nil)},
		// The list example orders stack keys differently in each of its own
		// resources; the single-stack order is the presenter's.
		{"stack list", "/v3/stacks?per_page=1", "developer", reference(t, "stack_list.json"), listRules(stack)},
		{"job", jobPath, "developer", reference(t, "job_complete.json"), rules(nil, nil, nil)},
		{"environment variables", "/v3/apps/" + guid + "/environment_variables", "developer", reference(t, "environment_variables.json"), rules([]string{"var"}, nil, nil)},
		{"app env", "/v3/apps/" + guid + "/env", "developer", reference(t, "app_env.json"),
			rules([]string{"staging_env_json", "running_env_json", "environment_variables", "system_env_json.VCAP_SERVICES"}, nil,
				[]string{"application_env_json.VCAP_APPLICATION"})},
		{"features", "/v3/apps/" + guid + "/features", "developer", reference(t, "features_list.json"), rules(nil, nil, nil)},
		{"feature", "/v3/apps/" + guid + "/features/ssh", "developer", reference(t, "feature_ssh.json"), rules(nil, nil, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.must(200, "GET", tc.path, tc.user, nil)
			if diffs := compareShape(tc.want, parseShape(t, r.body), "", tc.rules); len(diffs) > 0 {
				t.Errorf("shape differs from the reference:\n  %s\nbody: %s", strings.Join(diffs, "\n  "), r.body)
			}
		})
	}
}

// TestErrorBodiesMatchReference compares error bodies byte for byte with
// CC's, which are compact and keyed detail, title, code.
func TestErrorBodiesMatchReference(t *testing.T) {
	c := startCF(t, nil)
	c.createApp("developer", "my_app", nil)
	cases := []struct {
		name, file, method, path, user string
		body                           any
		status                         int
	}{
		{"not authenticated", "error_not_authenticated.json", "GET", "/v3/apps", "", nil, 401},
		{"invalid token", "error_invalid_auth_token.json", "GET", "/v3/apps", "bearer not-a-jwt", nil, 401},
		{"app not found", "error_app_not_found.json", "GET", "/v3/apps/no-such-app", "developer", nil, 404},
		{"name taken", "error_app_name_taken.json", "POST", "/v3/apps", "developer",
			map[string]any{"name": "my_app", "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}, 422},
		{"invalid space", "error_invalid_space.json", "POST", "/v3/apps", "developer",
			map[string]any{"name": "x", "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": "nope"}}}}, 422},
		{"not authorized", "error_not_authorized.json", "POST", "/v3/apps", "auditor",
			map[string]any{"name": "x", "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "v3", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			r := c.must(tc.status, tc.method, tc.path, tc.user, tc.body)
			if got := string(r.body); got != strings.TrimSpace(string(want)) {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			if ct := r.header["Content-Type"]; ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestCompareShapeFindsDifferences(t *testing.T) {
	want := parseShape(t, []byte(`{"a":1,"b":{"c":"x"},"d":[{"e":true}]}`))
	cases := []struct {
		name, got string
		diffs     int
	}{
		{"same", `{"a":2,"b":{"c":"y"},"d":[{"e":false},{"e":true}]}`, 0},
		{"reordered", `{"b":{"c":"y"},"a":2,"d":[]}`, 1},
		{"wrong type", `{"a":"2","b":{"c":"y"},"d":[]}`, 1},
		{"missing nested key", `{"a":2,"b":{},"d":[]}`, 1},
		{"bad item", `{"a":2,"b":{"c":"y"},"d":[{"e":1}]}`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := compareShape(want, parseShape(t, []byte(tc.got)), "", rules(nil, nil, nil)); len(d) != tc.diffs {
				t.Errorf("got %d diffs %v, want %d", len(d), d, tc.diffs)
			}
		})
	}
}
