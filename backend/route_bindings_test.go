package backend

import (
	"strings"
	"testing"
)

// TestServiceRouteBindings reads the list before any route is bound: an
// empty page in v3's list shape, reading ServiceRouteBindingsListMessage's
// keys as CC does.
func TestServiceRouteBindings(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	const path = "/v3/service_route_bindings"
	t.Run("empty page", func(t *testing.T) {
		t.Parallel()
		body := c.forTest(t).must(200, "GET", path+"?route_guids="+routesHost+"&per_page=10", "developer", nil).body
		want := `{"pagination":{"total_results":0,"total_pages":1,` +
			`"first":{"href":"` + v3Base + path + `?page=1&per_page=10&route_guids=` + routesHost + `"},` +
			`"last":{"href":"` + v3Base + path + `?page=1&per_page=10&route_guids=` + routesHost + `"},"next":null,"previous":null},"resources":[]}`
		if string(body) != want {
			t.Errorf("body\n%s\nwant\n%s", body, want)
		}
	})
	cases := []struct{ name, query, included string }{
		{"include service_instance", "?route_guids=" + routesHost + "&include=service_instance", `{"service_instances":[]}`},
		{"include both", "?include=route,service_instance", `{"service_instances":[],"routes":[]}`},
		{"every filter", "?service_instance_guids=a&service_instance_names=b&guids=c&label_selector=x%3Dy&created_ats[gt]=2020-01-01T00:00:00Z" +
			"&updated_ats=2020-01-01T00:00:00Z&order_by=-created_at", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := c.forTest(t).must(200, "GET", path+tc.query, "auditor", nil).body
			if got := rawAt(t, body, "resources"); got != "[]" {
				t.Errorf("resources %s", got)
			}
			if tc.included == "" {
				if keys := keysAt(t, body, ""); strings.Join(keys, ",") != "pagination,resources" {
					t.Errorf("keys %v", keys)
				}
				return
			}
			if got := rawAt(t, body, "included"); got != tc.included {
				t.Errorf("included %s, want %s", got, tc.included)
			}
		})
	}
	t.Run("bad queries", func(t *testing.T) {
		t.Parallel()
		cc := c.forTest(t)
		wantBadQuery(t, cc.do("GET", path+"?app_guids=x", "developer", nil), "The query parameter is invalid: Unknown query parameter(s): 'app_guids'. "+
			"Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', 'created_ats[lt]', 'created_ats[lte]', 'created_ats[gt]', 'created_ats[gte]', "+
			"'updated_ats', 'updated_ats[lt]', 'updated_ats[lte]', 'updated_ats[gt]', 'updated_ats[gte]', "+
			"'guids', 'service_instance_guids', 'service_instance_names', 'route_guids', 'include', 'label_selector'")
		wantBadQuery(t, cc.do("GET", path+"?include=app", "developer", nil),
			"The query parameter is invalid: Invalid included resource: 'app'. Valid included resources are: 'route', 'service_instance'")
		wantBadQuery(t, cc.do("GET", path+"?order_by=name", "developer", nil), "The query parameter is invalid: Order by can only be: 'created_at', 'updated_at'")
		wantBadQuery(t, cc.do("GET", path+"/"+routesHost+"?route_guids=x", "developer", nil),
			"The query parameter is invalid: Unknown query parameter(s): 'route_guids'. Valid parameters are: 'include'")
		roleNotFound("Service route binding").assert(t, cc.do("GET", path+"/"+routesHost+"?include=route", "developer", nil))
	})
}
