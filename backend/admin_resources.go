package backend

import "github.com/valyala/fasthttp"

// adminRoutes lists the routes of the admin resources: buildpacks, feature flag updates, environment variable groups and app usage events.
func (s *Server) adminRoutes(p func(string) []string) []route {
	patch := fasthttp.MethodPatch
	return []route{
		{patch, p("/v3/feature_flags/:name"), false, s.updateFeatureFlag},
	}
}
