package v2api

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Handler serves one method of a translated v2 route. Path parameters are
// read with pathParam.
type Handler func(g *API, ctx *fasthttp.RequestCtx) error

// Route declares a translated v2 route: its template (":name" matches any
// one segment) and its handlers by method, nil where v2 has none.
type Route struct {
	Template            string
	Get, Put, Post, Del Handler
	// OptionalAuth routes are answered without a token too.
	OptionalAuth bool
}

// Routes are the v2 routes the gateway translates, one file per v2
// resource (apps.go, orgs.go, ...).
func Routes() []Route {
	routes := []Route{
		{Template: "/v2/apps", Get: (*API).v2AppList, Post: (*API).v2AppCreate},
		{Template: "/v2/apps/:guid", Get: (*API).v2App, Put: (*API).v2AppUpdate, Del: (*API).v2AppDelete},
		{Template: "/v2/apps/:guid/summary", Get: (*API).v2AppSummary},
		{Template: "/v2/apps/:guid/env", Get: (*API).v2AppEnv},
		{Template: "/v2/apps/:guid/permissions", Get: (*API).v2AppPermissions},
		{Template: "/v2/apps/:guid/routes", Get: appRoutes.listHandler},
		{Template: "/v2/apps/:guid/route_mappings", Get: appRouteMappings.listHandler},
		{Template: "/v2/apps/:guid/service_bindings", Get: appBindingsList.listHandler},
		{Template: "/v2/apps/:guid/events", Get: (*API).v2AppEvents},
		{Template: "/v2/apps/:guid/stats", Get: (*API).v2AppStats},
		{Template: "/v2/apps/:guid/instances", Get: (*API).v2AppInstances},
		{Template: "/v2/apps/:guid/instances/:index", Del: (*API).v2AppKillInstance},
		{Template: "/v2/apps/:guid/crashes", Get: (*API).v2AppCrashes},
		{Template: "/v2/apps/:guid/routes/:route_guid", Put: (*API).v2AppMapRoute, Del: (*API).v2AppUnmapRoute},
		{Template: "/v2/apps/:guid/bits", Put: (*API).v2AppUploadBits},
		{Template: "/v2/apps/:guid/copy_bits", Post: (*API).v2AppCopyBits},
		{Template: "/v2/apps/:guid/restage", Post: (*API).v2AppRestage},
		{Template: "/v2/apps/:guid/download", Get: (*API).v2AppDownload},
		{Template: "/v2/apps/:guid/droplet/download", Get: (*API).v2AppDropletDownload},
		{Template: "/v2/apps/:guid/droplet/upload", Put: (*API).v2AppDropletUpload},
		{Template: "/v2/resource_match", Put: (*API).v2ResourceMatch},
		{Template: "/v2/events", Get: (*API).v2EventList},
		{Template: "/v2/events/:guid", Get: (*API).v2Event},
		{Template: "/v2/jobs/:guid", Get: (*API).v2Job},
		{Template: "/v2/organizations", Get: orgsRead.listHandler, Post: orgsRead.createHandler},
		{Template: "/v2/organizations/:guid", Get: orgsRead.getHandler, Put: orgsRead.updateHandler, Del: orgsRead.deleteHandler},
		{Template: "/v2/organizations/:guid/spaces", Get: orgSpaces.listHandler},
		{Template: "/v2/organizations/:guid/app_events", Get: (*API).v2ParentAppEvents},
		{Template: "/v2/organizations/:guid/default_isolation_segment", Del: (*API).v2OrgRemoveDefaultSegment},
		{Template: "/v2/spaces", Get: spaces.listHandler, Post: spaces.createHandler},
		{Template: "/v2/spaces/:guid", Get: (*API).v2Space, Put: spaces.updateHandler, Del: spaces.deleteHandler},
		{Template: "/v2/spaces/:guid/apps", Get: (*API).v2SpaceApps},
		{Template: "/v2/spaces/:guid/summary", Get: (*API).v2SpaceSummary},
		{Template: "/v2/spaces/:guid/events", Get: (*API).v2SpaceEvents},
		{Template: "/v2/spaces/:guid/app_events", Get: (*API).v2ParentAppEvents},
		{Template: "/v2/spaces/:guid/isolation_segment", Del: (*API).v2SpaceRemoveSegment},
		{Template: "/v2/stacks", Get: stacksRead.listHandler},
		{Template: "/v2/stacks/:guid", Get: stacksRead.getHandler},
		{Template: "/v2/routes/reserved/domain/:domain_guid", Get: (*API).v2RouteReserved},
		{Template: "/v2/routes/reserved/domain/:domain_guid/host/:host", Get: (*API).v2RouteReservedHost},
		{Template: "/v2/routes", Get: routes.listHandler, Post: routes.createHandler},
		{Template: "/v2/routes/:guid", Get: routes.getHandler, Put: routes.updateHandler, Del: routes.deleteHandler},
		{Template: "/v2/routes/:guid/apps", Get: (*API).v2RouteApps},
		{Template: "/v2/routes/:guid/apps/:app_guid", Put: (*API).v2RouteMapApp, Del: (*API).v2RouteUnmapApp},
		{Template: "/v2/routes/:guid/route_mappings", Get: routeMappingsUnder.listHandler},
		{Template: "/v2/route_mappings", Get: routeMappings.listHandler, Post: routeMappings.createHandler},
		{Template: "/v2/route_mappings/:guid", Get: routeMappings.getHandler, Put: (*API).v2RouteMappingUpdate, Del: routeMappings.deleteHandler},
		{Template: "/v2/spaces/:guid/routes", Get: spaceRoutes.listHandler},
		{Template: "/v2/spaces/:guid/unmapped_routes", Del: (*API).v2SpaceDeleteUnmappedRoutes},
		{Template: "/v2/service_instances", Get: serviceInstances.listHandler, Post: serviceInstances.createHandler},
		{Template: "/v2/service_instances/:guid", Get: serviceInstances.getHandler, Put: serviceInstances.updateHandler, Del: (*API).v2ServiceInstanceDelete},
		{Template: "/v2/service_instances/:guid/routes", Get: instanceRoutes.listHandler},
		{Template: "/v2/user_provided_service_instances/:guid/routes", Get: userProvidedRoutes.listHandler},
		{Template: "/v2/service_instances/:guid/routes/:route_guid", Put: managedRouteSide.bindRoute, Del: managedRouteSide.unbindRoute},
		{Template: "/v2/service_instances/:guid/routes/:route_guid/parameters", Get: (*API).v2RouteBindingParameters},
		{Template: "/v2/user_provided_service_instances/:guid/routes/:route_guid", Put: userProvidedRouteSide.bindRoute, Del: userProvidedRouteSide.unbindRoute},
		{Template: "/v2/service_instances/:guid/permissions", Get: (*API).v2ServiceInstancePermissions},
		{Template: "/v2/service_instances/:guid/parameters", Get: (*API).v2ServiceInstanceParameters},
		{Template: "/v2/service_instances/:guid/shared_from", Get: (*API).v2ServiceInstanceSharedFrom},
		{Template: "/v2/service_instances/:guid/shared_to", Get: (*API).v2ServiceInstanceSharedTo},
		{Template: "/v2/service_bindings/:guid/parameters", Get: (*API).v2ServiceBindingParameters},
		{Template: "/v2/service_keys/:guid/parameters", Get: (*API).v2ServiceKeyParameters},
		{Template: "/v2/service_instances/:guid/service_bindings", Get: instanceBindings.listHandler},
		{Template: "/v2/user_provided_service_instances", Get: userProvided.listHandler, Post: userProvided.createHandler},
		{Template: "/v2/user_provided_service_instances/:guid", Get: userProvided.getHandler, Put: userProvided.updateHandler, Del: userProvided.deleteHandler},
		{Template: "/v2/user_provided_service_instances/:guid/service_bindings", Get: userProvidedBindings.listHandler},
		{Template: "/v2/service_bindings", Get: serviceBindings.listHandler, Post: serviceBindings.createHandler},
		{Template: "/v2/service_bindings/:guid", Get: serviceBindings.getHandler, Del: (*API).v2ServiceBindingDelete},
		{Template: "/v2/spaces/:guid/service_instances", Get: spaceInstances.listHandler},
		{Template: "/v2/spaces/:guid/services", Get: spaceServices.listHandler},
		{Template: "/v2/organizations/:guid/services", Get: orgServices.listHandler},
		// The marketplace lists are read without a token too (§10.7.1).
		{Template: "/v2/services", Get: services.listHandler, OptionalAuth: true},
		{Template: "/v2/services/:guid", Get: services.getHandler},
		{Template: "/v2/services/:guid/service_plans", Get: serviceServicePlans.listHandler},
		{Template: "/v2/service_plans", Get: servicePlans.listHandler, OptionalAuth: true},
		{Template: "/v2/service_plans/:guid", Get: servicePlans.getHandler},
		{Template: "/v2/service_plans/:guid/service_instances", Get: planInstances.listHandler},
		{Template: "/v2/service_keys", Get: serviceKeys.listHandler, Post: serviceKeys.createHandler},
		{Template: "/v2/service_keys/:guid", Get: (*API).v2ServiceKey, Del: serviceKeys.deleteHandler},
		{Template: "/v2/service_instances/:guid/service_keys", Get: instanceKeys.listHandler},
		{Template: "/v2/service_plan_visibilities", Get: planVisibilities.listHandler},
		{Template: "/v2/service_plan_visibilities/:guid", Get: (*API).v2PlanVisibility},
		{Template: "/v2/service_brokers", Get: brokers.listHandler},
		{Template: "/v2/service_brokers/:guid", Get: brokers.getHandler},
		{Template: "/v2/shared_domains", Get: sharedDomains.listHandler, Post: sharedDomains.createHandler},
		{Template: "/v2/shared_domains/:guid", Get: sharedDomains.getHandler, Put: sharedDomains.updateHandler, Del: sharedDomains.deleteHandler},
		{Template: "/v2/private_domains", Get: privateDomains.listHandler, Post: privateDomains.createHandler},
		{Template: "/v2/private_domains/:guid", Get: privateDomains.getHandler, Put: privateDomains.updateHandler, Del: privateDomains.deleteHandler},
		{Template: "/v2/private_domains/:guid/shared_organizations", Get: domainSharedOrgs.listHandler},
		{Template: "/v2/organizations/:guid/private_domains", Get: orgPrivateDomains.listHandler},
		{Template: "/v2/organizations/:guid/private_domains/:domain_guid", Put: (*API).v2ShareOrgPrivateDomain, Del: (*API).v2UnshareOrgPrivateDomain},
		{Template: "/v2/domains", Get: deprecatedWarning(domainsDeprecated.listHandler)},
		{Template: "/v2/domains/:guid", Get: deprecatedWarning(domainsDeprecated.getHandler)},
		{Template: "/v2/domains/:guid/spaces", Get: deprecatedWarning(domainSpaces.listHandler)},
		{Template: "/v2/organizations/:guid/domains", Get: deprecatedWarning(orgDomains.listHandler)},
		{Template: "/v2/organizations/:guid/domains/:domain_guid", Del: (*API).v2OrgDomainDelete},
		{Template: "/v2/spaces/:guid/domains", Get: deprecatedWarning(spaceDomains.listHandler)},
	}
	// Families declare their routes beside their handlers.
	routes = append(routes, userRoutes()...)
	routes = append(routes, quotaRoutes()...)
	routes = append(routes, orgUsageRoutes()...)
	routes = append(routes, adminRoutes()...)
	return routes
}

// pathParam returns segment i of the request path after "/v2/" or "/v3/"
// (0 is the collection): the guid of "/v2/apps/:guid/summary" is
// pathParam(ctx, 1).
func pathParam(ctx *fasthttp.RequestCtx, i int) string {
	p := bytes.TrimSuffix(ctx.Path(), []byte("/"))
	if len(p) < 4 {
		return ""
	}
	p = p[4:]
	for ; i > 0; i-- {
		_, p, _ = bytes.Cut(p, []byte("/"))
	}
	if i := bytes.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return string(p)
}
