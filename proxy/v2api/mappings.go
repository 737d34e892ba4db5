package v2api

import (
	"errors"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 route mappings (MAPPING-routes §9.9, §9.11): a mapping is a v3
// route destination of an app's web process, and its guid is the
// destination's. v3 has no list of destinations nor a lookup by guid, so
// they are read from the routes that hold them.
var routeMappings = &v2Resource[translate.RouteMapping]{
	// RouteMappingsController: q app_guid and route_guid, compared as
	// plain strings (RouteMappingQuery); no sortable_parameters.
	path: "/v2/route_mappings", keys: []string{"app_guid", "route_guid"},
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.RouteMapping, int, error) {
		all, err := g.mappings(c, ccv3.RouteQuery{AppGUIDs: eqValues(fs, "app_guid"), GUIDs: eqValues(fs, "route_guid")}, true)
		if err != nil {
			return nil, 0, err
		}
		kept := filterMappings(all, fs)
		return pageLocally(lp, kept), len(kept), nil
	},
	// A mapping of another process than web is not found (read).
	get: func(c *ccv3.Client, call ccv3.Call, guid string) (translate.RouteMapping, error) {
		return findMapping(c, call, guid, true)
	},
	render: translate.AppendRouteMappingResource, notFound: routeMappingNotFound,
	guid:   func(m translate.RouteMapping) string { return m.Destination.GUID },
	create: createRouteMapping,
	// DELETE /v2/route_mappings/:guid is always synchronous (§9.1).
	remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		c := call(ctx)
		// No web check on delete (§9.11.2).
		m, err := findMapping(g.v3, c, guid, false)
		if err != nil {
			return "", v2ErrorAs(err, routeMappingNotFound(guid))
		}
		if err := g.v3.RemoveDestination(c, m.Route.GUID, guid); err != nil {
			var e *ccv3.Error
			if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
				return "", withCause(translate.RouteInvalid(e.Detail()), err)
			}
			return "", v2ErrorAs(err, routeMappingNotFound(guid))
		}
		return "", nil
	},
}

func routeMappingNotFound(guid string) *cferr.Error {
	return withCause(translate.RouteMappingNotFound(guid), nil)
}

// findMapping finds the destination of guid among the routes the user
// sees (a web one when web), or answers a v3 404.
func findMapping(c *ccv3.Client, call ccv3.Call, guid string, web bool) (translate.RouteMapping, error) {
	rs, err := c.AllRoutes(call, ccv3.RouteQuery{})
	if err != nil {
		return translate.RouteMapping{}, err
	}
	for _, r := range rs {
		for _, d := range r.Destinations {
			if d.GUID == guid && (!web || d.App.Process.Type == "web") {
				return translate.RouteMapping{Route: r, Destination: d}, nil
			}
		}
	}
	return translate.RouteMapping{}, &ccv3.Error{Status: fasthttp.StatusNotFound}
}

// mappings returns the destinations of the routes q lists, web ones only
// when web, in the order of their creation (v2's id order).
func (g *API) mappings(c ccv3.Call, q ccv3.RouteQuery, web bool) ([]translate.RouteMapping, error) {
	if q.AppGUIDs != nil && len(q.AppGUIDs) == 0 || q.GUIDs != nil && len(q.GUIDs) == 0 {
		return nil, nil
	}
	rs, err := g.v3.AllRoutes(c, q)
	if err != nil {
		return nil, err
	}
	var out []translate.RouteMapping
	for _, r := range rs {
		for _, d := range r.Destinations {
			if !web || d.App.Process.Type == "web" {
				out = append(out, translate.RouteMapping{Route: r, Destination: d})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b translate.RouteMapping) int { return a.Destination.CreatedAt.Compare(b.Destination.CreatedAt) })
	return out, nil
}

// eqValues returns the values an equality or IN filter on key allows (the
// intersection of several), or nil when there is none: the v3 filter that
// narrows the read; every filter is applied again locally.
func eqValues(fs []translate.Filter, key string) []string {
	var out []string
	for _, f := range fs {
		if f.Key != key || f.Op != translate.OpEq && f.Op != translate.OpIn {
			continue
		}
		if out == nil {
			out = append([]string{}, f.Values...)
			continue
		}
		out = slices.DeleteFunc(out, func(v string) bool { return !slices.Contains(f.Values, v) })
	}
	return out
}

// filterMappings keeps the mappings every q filter matches.
func filterMappings(all []translate.RouteMapping, fs []translate.Filter) []translate.RouteMapping {
	var out []translate.RouteMapping
	for _, m := range all {
		if translate.MatchAll(fs, func(key string) string {
			if key == "route_guid" {
				return m.Route.GUID
			}
			return m.Destination.App.GUID
		}) {
			out = append(out, m)
		}
	}
	return out
}

// pageLocally returns the page lp asks for of all, reversed for desc.
func pageLocally[T any](lp translate.ListParams, all []T) []T {
	if lp.OrderDirection == "desc" {
		all = slices.Clone(all)
		slices.Reverse(all)
	}
	start := min(lp.Offset(), len(all))
	return all[start:min(start+lp.ResultsPerPage, len(all))]
}

// routeMappingsUnder: GET /v2/routes/:guid/route_mappings, every
// destination of the route, not only the web ones (enumerate_related does
// not apply RouteMappingsController's filter_dataset; §9.9).
var routeMappingsUnder = &v2Under[translate.RouteMapping]{
	of: routeMappings, parent: "routes", name: "route_mappings", parentNotFound: routeNotFound,
	find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
		_, err := c.GetRoute(call, guid)
		return err
	},
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, route string) ([]translate.RouteMapping, int, error) {
		r, err := g.v3.GetRoute(c, route)
		if err != nil {
			return nil, 0, err
		}
		var all []translate.RouteMapping
		for _, d := range r.Destinations {
			all = append(all, translate.RouteMapping{Route: r, Destination: d})
		}
		kept := filterMappings(all, fs)
		return pageLocally(lp, kept), len(kept), nil
	},
}

// appRouteMappings: GET /v2/apps/:guid/route_mappings, one mapping per
// destination of the app's web process.
var appRouteMappings = &v2Under[translate.RouteMapping]{
	of: routeMappings, parent: "apps", name: "route_mappings", find: findWebProcess, parentNotFound: appNotFound, concurrent: true,
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, app string) ([]translate.RouteMapping, int, error) {
		all, err := g.v3.AppRoutes(c, app)
		if err != nil {
			return nil, 0, err
		}
		kept := filterMappings(translate.AppRouteMappings(app, all), fs)
		return pageLocally(lp, kept), len(kept), nil
	},
}

// createRouteMapping is POST /v2/route_mappings (§9.11.2): the route, the
// app's web process, the same space, the port the app has open (docker
// apps skip the check), and a mapping that exists is RouteMappingTaken,
// unlike PUT /v2/routes/:guid/apps/:app_guid.
func createRouteMapping(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.RouteMapping, error) {
	var m translate.RouteMapping
	req, err := translate.ParseRouteMappingRequest(body)
	if err != nil {
		return m, err
	}
	c := call(ctx)
	var r translate.V3Route
	var b translate.AppBundle
	var routeErr, appErr error
	_ = parallel(
		func() error { r, routeErr = g.v3.GetRoute(c, req.RouteGUID); return nil },
		func() error { b, appErr = g.oneApp(c, req.AppGUID, translate.Inline{}); return nil },
	)
	if routeErr != nil {
		return m, v2ErrorAs(routeErr, routeNotFound(req.RouteGUID))
	}
	if appErr != nil {
		return m, appErr
	}
	if r.Relationships.Space.GUID() != b.App.Relationships.Space.GUID() {
		return m, withCause(translate.InvalidRelation("the app and route must belong to the same space"), nil)
	}
	entity := translate.AppEntity(b)
	docker := entity.DockerImage != nil
	open := entity.Ports
	if len(open) == 0 && !docker {
		open = []int{8080}
	}
	var port *int
	switch {
	case req.AppPort != nil:
		p := int(*req.AppPort)
		if !docker && !slices.Contains(open, p) {
			return m, withCause(translate.RoutePortNotEnabledOnApp(), nil)
		}
		port = &p
	case len(open) > 0:
		port = &open[0]
	}
	for _, d := range r.Destinations {
		if d.App.GUID == req.AppGUID && d.App.Process.Type == "web" && (port == nil || d.Port != nil && *d.Port == *port) {
			return m, withCause(translate.RouteMappingTaken(r.GUID, req.AppGUID, port), nil)
		}
	}
	dests, err := g.v3.AddDestination(c, r.GUID, req.AppGUID, port)
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
			// v3 takes ports 1024-65535 only, where v2 took any the app
			// exposes (§9.11.2 step 6).
			return m, withCause(translate.RoutePortNotEnabledOnApp(), err)
		}
		return m, v2Error(err, req.AppGUID)
	}
	for _, d := range dests {
		if d.App.GUID == req.AppGUID && d.App.Process.Type == "web" && (port == nil || d.Port != nil && *d.Port == *port) &&
			!slices.ContainsFunc(r.Destinations, func(o translate.V3Destination) bool { return o.GUID == d.GUID }) {
			m = translate.RouteMapping{Route: r, Destination: d}
		}
	}
	if m.Destination.GUID == "" {
		return m, cferr.Unknown(errors.New("the new destination is not in the route's destinations"))
	}
	if req.AppPort == nil && len(entity.Ports) > 0 {
		ctx.Response.Header.Set("X-Cf-Warnings", "Route+has+been+mapped+to+app+port+"+strconv.Itoa(*port)+".")
	}
	return m, nil
}

// v2RouteMappingUpdate answers PUT /v2/route_mappings/:guid as CC does:
// its update returns [404], which Sinatra renders as an unknown request.
func (g *API) v2RouteMappingUpdate(ctx *fasthttp.RequestCtx) error {
	writeV2(ctx, fasthttp.StatusNotFound, sinatraNotFound)
	return nil
}
