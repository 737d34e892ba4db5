package v2api

// adminRoutes are the routes of the admin resources (MAPPING-orgs §12.3 to
// §12.7): buildpacks, feature flags, environment variable groups, app
// usage events and security groups.
func adminRoutes() []Route {
	return []Route{
		{Template: "/v2/buildpacks", Get: buildpacks.listHandler, Post: buildpacks.createHandler},
		{Template: "/v2/buildpacks/:guid", Get: buildpacks.getHandler, Put: buildpacks.updateHandler, Del: buildpacks.deleteHandler},
		{Template: "/v2/buildpacks/:guid/bits", Put: (*API).v2BuildpackUploadBits},
		{Template: "/v2/app_usage_events", Get: (*API).v2UsageEventList},
		// The purge's path would match :guid: it comes first, and a GET
		// of it reads an event of that guid, as CC's routes do.
		{Template: "/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", Get: usageEvents.getHandler, Post: (*API).v2UsageEventsPurge},
		{Template: "/v2/app_usage_events/:guid", Get: usageEvents.getHandler},
		{Template: "/v2/config/feature_flags", Get: (*API).v2FeatureFlags},
		{Template: "/v2/config/feature_flags/:name", Get: (*API).v2FeatureFlag, Put: (*API).v2SetFeatureFlag},
		{Template: "/v2/config/environment_variable_groups/running", Get: (*API).v2EnvGroup, Put: (*API).v2SetEnvGroup},
		{Template: "/v2/config/environment_variable_groups/staging", Get: (*API).v2EnvGroup, Put: (*API).v2SetEnvGroup},
		{Template: "/v2/security_groups", Get: securityGroups.listHandler, Post: securityGroups.createHandler},
		{Template: "/v2/security_groups/:guid", Get: securityGroups.getHandler, Put: securityGroups.updateHandler, Del: securityGroups.deleteHandler},
		{Template: "/v2/security_groups/:guid/spaces", Get: sgSpaces.listHandler},
		{Template: "/v2/security_groups/:guid/staging_spaces", Get: sgStagingSpaces.listHandler},
		{Template: "/v2/security_groups/:guid/spaces/:space_guid", Put: (*API).v2SecurityGroupBindSpace, Del: (*API).v2SecurityGroupBindSpace},
		{Template: "/v2/security_groups/:guid/staging_spaces/:space_guid", Put: (*API).v2SecurityGroupBindSpace, Del: (*API).v2SecurityGroupBindSpace},
		{Template: "/v2/spaces/:guid/security_groups", Get: spaceSecurityGroups.listHandler},
		{Template: "/v2/spaces/:guid/staging_security_groups", Get: spaceStagingSecurityGroups.listHandler},
		{Template: "/v2/spaces/:guid/security_groups/:sg_guid", Put: (*API).v2SpaceBindSecurityGroup, Del: (*API).v2SpaceBindSecurityGroup},
		{Template: "/v2/spaces/:guid/staging_security_groups/:sg_guid", Put: (*API).v2SpaceBindSecurityGroup, Del: (*API).v2SpaceBindSecurityGroup},
		{Template: "/v2/config/running_security_groups", Get: runningDefaults.listHandler},
		{Template: "/v2/config/running_security_groups/:guid", Put: (*API).v2SetDefaultGroup, Del: (*API).v2SetDefaultGroup},
		{Template: "/v2/config/staging_security_groups", Get: stagingDefaults.listHandler},
		{Template: "/v2/config/staging_security_groups/:guid", Put: (*API).v2SetDefaultGroup, Del: (*API).v2SetDefaultGroup},
	}
}
