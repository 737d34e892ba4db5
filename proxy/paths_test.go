package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestDotSegmentsRefused: a path with a dot segment or an encoded slash,
// in any spelling, is an unknown request (404 CF-NotFound, in the shape of
// the path as sent), never the route its resolved form names: the
// gateway would route one path and forward another. Sent over raw
// sockets, so that no client library resolves the dots first.
func TestDotSegmentsRefused(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	s.createApps(t, "developer", "dots-one")
	for _, tc := range []struct {
		name, target string
	}{
		{"encoded dot-dot segments", "/v2/apps/%2e%2e/%2e%2e/v3/apps"},
		{"upper-case encoded dot-dot", "/v2/apps/%2E%2E/%2E%2E/v3/apps"},
		{"half-encoded dot-dot", "/v2/apps/.%2e/%2E./v3/apps"},
		{"literal dot-dot", "/v2/apps/../../v3/apps"},
		{"dot segment", "/v2/./v3/apps"},
		{"encoded dot segment", "/v2/%2e/v3/apps"},
		{"upper-case encoded dot segment", "/v2/%2E/v3/apps"},
		{"encoded slashes around dots", "/v2/apps%2f..%2f..%2fv3%2fapps"},
		{"encoded slashes and dots", "/v2/apps/%2e%2e%2f%2e%2e%2fv3/apps"},
		{"upper-case encoded slashes and dots", "/v2/apps/%2E%2E%2F%2E%2E%2Fv3/apps"},
		{"trailing dot-dot", "/v2/apps/x/.."},
		{"trailing dot", "/v2/apps/."},
		{"v2 under v3", "/v3/apps/%2e%2e/%2e%2e/v2/apps"},
		{"v3 dot segment", "/v3/./apps"},
		{"v3 encoded slash", "/v3/apps%2Fx"},
		{"out of the root", "/../v3/apps"},
		{"absolute form", "http://capibridge.example/v2/%2e%2e/v3/apps"},
		{"with a query", "/v2/apps/%2e%2e/%2e%2e/v3/apps?per_page=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: bearer %s\r\n\r\n", tc.target, s.gwHost(), s.tokens["developer"])
			resp := rawExchange(t, s.gwHost(), raw)
			if code := statusOf(t, resp); code != 404 {
				t.Fatalf("status %d, want 404: %.300s", code, resp.body)
			}
			path := tc.target
			if i := strings.Index(path, "://"); i >= 0 {
				path = path[i+3:]
				path = path[strings.IndexByte(path, '/'):]
			}
			if c := cfErrorCode(t, strings.HasPrefix(path, "/v2/"), resp.body); c != 10000 {
				t.Errorf("error code %d, want 10000 (NotFound): %s", c, resp.body)
			}
		})
	}
}

// TestPathsRouteAsTheyForward: what the gateway accepts it routes and
// forwards by the same segments. Escapes of ordinary characters and doubled
// slashes name the same resource to the router, to a v2 handler's path
// parameters and to the Cloud Controller, which decodes the forwarded path
// once, as the gateway does.
func TestPathsRouteAsTheyForward(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "paths-one")[0]
	// The guid with its first character percent-encoded.
	enc := fmt.Sprintf("%%%02X", guid[0]) + guid[1:]
	for _, tc := range []struct {
		name, target, want string
	}{
		{"v2 app, encoded guid", "/v2/apps/" + enc, `"guid":"` + guid + `"`},
		{"v2 summary, encoded segment", "/v2/apps/" + guid + "/%73ummary", `"name":"paths-one"`},
		{"v2 app, doubled slash", "/v2//apps/" + guid, `"guid":"` + guid + `"`},
		{"v3 app, encoded guid", "/v3/apps/" + enc, `"guid":"` + guid + `"`},
		{"v3 app, doubled slash", "/v3//apps/" + guid, `"guid":"` + guid + `"`},
		{"dots in the query", "/v3/apps?names=paths-one,a/../b,%2e%2e", `"name":"paths-one"`},
		{"dots inside a segment", "/v2/apps/" + guid + "/...", `"code":10000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: bearer %s\r\n\r\n", tc.target, s.gwHost(), s.tokens["developer"])
			resp := rawExchange(t, s.gwHost(), raw)
			if code := statusOf(t, resp); code != 200 && code != 404 || !strings.Contains(string(resp.body), tc.want) {
				t.Fatalf("%d %.300s, want %s", code, resp.body, tc.want)
			}
			if !json.Valid(resp.body) {
				t.Errorf("not JSON: %s", resp.body)
			}
		})
	}
}

func TestAmbiguousPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		uri       string
		ambiguous bool
	}{
		{"/v2/apps", false},
		{"/v2/apps/", false},
		{"/", false},
		{"*", false},
		{"/v2/apps/abc?q=name:../x&a=%2e%2e", false},
		{"/v2/apps/...", false},
		{"/v2/apps/.x", false},
		{"/v2/apps/x.", false},
		{"/v2/apps/%2e%2e%2e", false},
		{"/v2/apps/%252e%252e", false},
		{"/v2//apps", false},
		{"/v2/apps/a%20b", false},
		{"/v2/apps/%zz", false},
		{"http://h/v2/apps", false},
		{"/v2/apps/..", true},
		{"/v2/apps/.", true},
		{"/v2/apps/./x", true},
		{"/v2/apps/%2e", true},
		{"/v2/apps/%2E%2e", true},
		{"/v2/apps/.%2E/x", true},
		{"/v2/apps/a%2fb", true},
		{"/v2/apps/a%2Fb", true},
		{"/..", true},
		{"/v2/apps/..?x=1", true},
		{"/v2/apps/..#frag", true},
		{"http://h/v2/../v3", true},
		{"HTTPS://h/v2/%2e%2e/v3", true},
		{"http://h/v2/a%2fb", true},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			t.Parallel()
			if got := ambiguousPath([]byte(tc.uri)); got != tc.ambiguous {
				t.Errorf("ambiguousPath(%q) = %v, want %v", tc.uri, got, tc.ambiguous)
			}
		})
	}
}
