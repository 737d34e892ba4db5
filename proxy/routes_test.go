package proxy

import (
	"testing"
)

func TestRouterTemplates(t *testing.T) {
	r := newRouter([]string{"/v2/service_brokers"}, true, true, true)
	cases := []struct {
		path, template string
		kind           kind
	}{
		{"/", "/", kindRoot},
		{"/v3", "/v3", kindRoot},
		{"/v3/", "/v3", kindRoot},
		{"/v3/info", "/v3/info", kindV3Info},
		{"/v2/info", "/v2/info", kindV2Info},
		{"/v3/apps", "/v3/apps", kindV3},
		{"/v3/apps/abc", "/v3/apps/:guid", kindV3},
		{"/v3/apps/abc/env", "/v3/apps/:guid/*", kindV3},
		{"/v3/spaces/abc/apps", "/v3/spaces/:guid/*", kindV3},
		{"/v3/unheard-of/x", "/v3/_other", kindV3},
		{"/v2/apps", "/v2/apps", kindV2},
		{"/v2/apps/", "/v2/apps", kindV2},
		{"/v2/apps/abc", "/v2/apps/:guid", kindV2},
		{"/v2/apps/abc/unheard-of", "/v2/apps/:guid/*", kindV2Unknown},
		{"/v2/apps//x", "/v2/apps/:guid/*", kindV2Unknown},
		{"/v2/spaces/abc/apps", "/v2/spaces/:guid/apps", kindV2},
		{"/v2/spaces/abc/apps/x", "/v2/spaces/:guid/*", kindV2Unknown},
		{"/v2/organizations/abc/spaces", "/v2/organizations/:guid/spaces", kindV2},
		{"/v2/stacks/abc", "/v2/stacks/:guid", kindV2},
		{"/v2/service_brokers", "/v2/service_brokers", kindV2Forward},
		{"/v2/service_brokers/x/y", "/v2/service_brokers/:guid/*", kindV2Forward},
		{"/v2/unheard-of", "/v2/_other", kindV2Unknown},
		{"/v4/apps", "_other", kindUnknown},
		{"/login", "/login", kindUAA},
		{"/oauth/token", "/oauth/token", kindUAA},
		{"/oauth/token/", "/oauth/token", kindUAA},
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration", kindUAA},
		{"/Users", "/Users", kindUAA},
		{"/Users/abc", "/Users/*", kindUAA},
		{"/Users/abc/password", "/Users/*", kindUAA},
		{"/oauth/unheard-of", "_other", kindUnknown},
		{"/Usersx", "_other", kindUnknown},
		{"/api/v1/info", "/api/v1/info", kindLogCache},
		{"/api/v1/read/abc", "/api/v1/read/*", kindLogCache},
		{"/api/v1/read", "/api/v1/read", kindLogCache},
		{"/api/v1/other", "_other", kindUnknown},
		{"/routing/v1/router_groups", "/routing/v1/*", kindRouting},
		{"/routing/v1/router_groups/abc", "/routing/v1/*", kindRouting},
		{"/routing/v2/x", "_other", kindUnknown},
		{"/v2/routes/reserved/domain/d", "/v2/routes/reserved/domain/:domain_guid", kindV2},
		{"/v2/routes/reserved/domain/d/host/h", "/v2/routes/reserved/domain/:domain_guid/host/:host", kindV2},
		{"/v2/routes/r/apps/a", "/v2/routes/:guid/apps/:app_guid", kindV2},
	}
	for _, tc := range cases {
		got := r.match([]byte(tc.path))
		if got.Template != tc.template || got.kind != tc.kind {
			t.Errorf("%s: %s (kind %d), want %s (kind %d)", tc.path, got.Template, got.kind, tc.template, tc.kind)
		}
	}
	if got := newRouter(nil, false, false, false).match([]byte("/oauth/token")); got.kind != kindUnknown {
		t.Errorf("without a UAA passthrough /oauth/token is %s (kind %d), want unknown", got.Template, got.kind)
	}
	for _, p := range []string{"/v3/apps/abc/env", "/v2/spaces/abc/apps", "/v2/apps/abc/unheard-of", "/oauth/token", "/Users/abc", "/api/v1/read/abc"} {
		if n := testing.AllocsPerRun(100, func() { r.match([]byte(p)) }); n != 0 {
			t.Errorf("match(%s) allocates %v times", p, n)
		}
	}
}
