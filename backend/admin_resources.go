package backend

import "github.com/valyala/fasthttp"

// adminRoutes lists the routes of the admin resources: buildpacks, feature flag updates, environment variable groups and app usage events.
func (s *Server) adminRoutes(p func(string) []string) []route {
	get, post, patch, del := fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPatch, fasthttp.MethodDelete
	return []route{
		{get, p("/v3/buildpacks"), false, buildpackResource.index(s)},
		{get, p("/v3/buildpacks/:guid"), false, buildpackResource.showOne(s)},
		{post, p("/v3/buildpacks"), false, s.createBuildpack},
		{patch, p("/v3/buildpacks/:guid"), false, s.updateBuildpack},
		{del, p("/v3/buildpacks/:guid"), false, s.deleteBuildpack},
		{post, p("/v3/buildpacks/:guid/upload"), false, s.uploadBuildpack},
		{patch, p("/v3/feature_flags/:name"), false, s.updateFeatureFlag},
		{get, p("/v3/environment_variable_groups/:name"), false, s.getEnvGroup},
		{patch, p("/v3/environment_variable_groups/:name"), false, s.updateEnvGroup},
		{get, p("/v3/app_usage_events"), false, s.listUsageEvents},
		{get, p("/v3/app_usage_events/:guid"), false, s.getUsageEvent},
		{post, p("/v3/app_usage_events/actions/destructively_purge_all_and_reseed"), false, s.purgeUsageEvents},
	}
}
