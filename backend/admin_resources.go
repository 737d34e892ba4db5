package backend

import "github.com/valyala/fasthttp"

// adminRoutes lists the routes of the admin resources: buildpacks, feature flag updates, environment variable groups and app usage events.
func (s *Server) adminRoutes(p func(string) []string) []route {
	get, patch := fasthttp.MethodGet, fasthttp.MethodPatch
	return []route{
		{patch, p("/v3/feature_flags/:name"), false, s.updateFeatureFlag},
		{get, p("/v3/environment_variable_groups/:name"), false, s.getEnvGroup},
		{patch, p("/v3/environment_variable_groups/:name"), false, s.updateEnvGroup},
	}
}
