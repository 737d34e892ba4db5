package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// The v2 routes (MAPPING-routes §9.2–§9.10, §9.15): a v2 route is a v3
// route (same guid, host, path and port), and its apps are the apps whose
// web process is one of its destinations.
var (
	// routes: RoutesController declares no sortable_parameters, so any
	// order-by is refused (§9.1).
	routes = &v2Resource[translate.V3Route]{
		path: "/v2/routes", keys: translate.RouteListKeys(),
		page: func(g *Gateway, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Route, int, error) {
			return routesPage(g, c, lp, fs, "")
		},
		get: (*ccv3.Client).GetRoute, prepare: prepareRoutes, notFound: routeNotFound,
		guid:   func(r translate.V3Route) string { return r.GUID },
		create: createRoute, update: updateRoute, remove: removeRoute, async: true,
	}
	// spaceRoutes: the routes a space owns (Space.one_to_many :routes,
	// §9.15), with the route q keys.
	spaceRoutes = &v2Under[translate.V3Route]{
		of: routes, parent: "spaces", name: "routes", find: findSpace, parentNotFound: spaceNotFound,
		page: routesPage,
	}
)

// appRoutes: GET /v2/apps/:guid/routes, the routes with a destination of
// the app's web process (MAPPING §7), inlined as /v2/routes inlines (the
// legacy cf CLI reads them so), filtered and paged here: v3 lists an
// app's routes whole. RoutesController's keys but organization_guid,
// which a v3 route does not carry.
var appRoutes = &v2Under[translate.V3Route]{
	of: routes, parent: "apps", name: "routes", find: findWebProcess, parentNotFound: appNotFound, concurrent: true,
	keys: translate.RouteQueryKeys(),
	page: func(g *Gateway, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, app string) ([]translate.V3Route, int, error) {
		all, err := g.v3.AppRoutes(c, app)
		if err != nil {
			return nil, 0, err
		}
		var kept []translate.V3Route
		for _, r := range translate.WebRoutes(app, all) {
			if translate.RouteMatchAll(fs, r) {
				kept = append(kept, r)
			}
		}
		return pageLocally(lp, kept), len(kept), nil
	},
}

// findWebProcess finds a v2 app: an app with a web process.
func findWebProcess(c *ccv3.Client, call ccv3.Call, guid string) error {
	_, err := c.WebProcess(call, guid)
	return err
}

// routeNotFound is CC's RouteNotFound (210002).
func routeNotFound(guid string) *Error { return withCause(translate.RouteNotFound(guid), nil) }

// routesPage reads a page of routes: every route the user sees, or those
// space owns. Filters v3 cannot apply (port, and host or path compared
// with <, >, <=, >=) make the gateway read every match and page here. v3
// also lists routes shared into a space, which v2 never shows: a scan
// drops them; a plain page keeps them (route sharing is off by default).
func routesPage(g *Gateway, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, space string) ([]translate.V3Route, int, error) {
	rq := translate.RouteQueryFromFilters(fs)
	if rq.Empty {
		return nil, 0, nil
	}
	q := ccv3.RouteQuery{Hosts: rq.Hosts, Paths: rq.Paths, DomainGUIDs: rq.DomainGUIDs, OrgGUIDs: rq.OrgGUIDs}
	if space != "" {
		q.SpaceGUIDs = []string{space}
	}
	local := len(rq.Local) > 0
	if !local && lp.OrderDirection == "desc" {
		q.OrderBy = "-created_at" // v2's default order is by id
	}
	var order func([]translate.V3Route)
	if lp.OrderDirection == "desc" {
		order = slices.Reverse[[]translate.V3Route]
	}
	return scanSorted(lp, local, g.cfg.MaxLocalScan, "routes", "host or domain_guid",
		func(page, perPage int) (ccv3.Page[translate.V3Route], error) {
			q.Page, q.PerPage = page, perPage
			return g.v3.ListRoutes(c, q)
		},
		func(r translate.V3Route) bool {
			return rq.Match(r) && (space == "" || r.Relationships.Space.GUID() == space)
		}, order)
}

// prepareRoutes reads, in one round, what a batch of routes shows from
// other resources: every domain (domain_url names the domain's kind), and
// what in inlines: the spaces, and the apps of web destinations as v2 apps
// (§9.2.3; the legacy cf CLI reads entity.domain, entity.space and
// entity.apps at inline-relations-depth=1).
func prepareRoutes(g *Gateway, c ccv3.Call, rs []translate.V3Route, in translate.Inline) (func(*bytes.Buffer, translate.V3Route) error, error) {
	var domains map[string]*translate.V3Domain
	spaces := map[string]*translate.SpaceBundle{}
	apps := map[string]json.RawMessage{}
	round := []func() error{func() error {
		all, err := g.v3.Domains(c)
		domains = make(map[string]*translate.V3Domain, len(all))
		for i := range all {
			domains[all[i].GUID] = &all[i]
		}
		return err
	}}
	if in.Wants("space") && len(rs) > 0 {
		round = append(round, func() error {
			var guids []string
			for _, r := range rs {
				if s := r.Relationships.Space.GUID(); !slices.Contains(guids, s) {
					guids = append(guids, s)
				}
			}
			list, _, err := g.v3.SpacesWithOrgs(c, guids)
			if err != nil {
				return err
			}
			bundles, err := g.spaceBundles(c, list)
			for i := range bundles {
				spaces[bundles[i].Space.GUID] = &bundles[i]
			}
			return err
		})
	}
	var services map[string]translate.RouteService
	if len(rs) > 0 {
		round = append(round, func() (err error) {
			guids := make([]string, len(rs))
			for i, r := range rs {
				guids[i] = r.GUID
			}
			services, err = g.v3.RouteServices(c, guids)
			return err
		})
	}
	wantApps := in.Wants("apps")
	if wantApps {
		round = append(round, func() error { return g.renderWebApps(c, rs, in.Deeper(), apps) })
	}
	if err := parallel(round...); err != nil {
		return nil, err
	}
	return func(b *bytes.Buffer, r translate.V3Route) error {
		x := &translate.RouteInlined{Domain: domains[r.Relationships.Domain.GUID()], Space: spaces[r.Relationships.Space.GUID()], HasApps: wantApps}
		if si, ok := services[r.GUID]; ok {
			x.Service = &si
		}
		for _, guid := range webApps(r) {
			if raw, ok := apps[guid]; ok {
				x.Apps = append(x.Apps, raw)
			}
		}
		return translate.AppendRouteInlined(b, r, in, x)
	}, nil
}

// webApps returns the apps whose web process is a destination of r, each
// once, in destination order: the apps v2 shows for a route.
func webApps(r translate.V3Route) []string {
	var out []string
	for _, d := range r.Destinations {
		if d.App.Process.Type == "web" && !slices.Contains(out, d.App.GUID) {
			out = append(out, d.App.GUID)
		}
	}
	return out
}

// renderWebApps renders, into out by guid, the v2 apps mapped to the web
// processes of routes, inlining what in asks of them.
func (g *Gateway) renderWebApps(c ccv3.Call, rs []translate.V3Route, in translate.Inline, out map[string]json.RawMessage) error {
	var guids []string
	for _, r := range rs {
		for _, guid := range webApps(r) {
			if !slices.Contains(guids, guid) {
				guids = append(guids, guid)
			}
		}
	}
	if len(guids) == 0 {
		return nil
	}
	var list []translate.V3App
	var stacks []ccv3.Stack
	err := parallel(
		func() (err error) { list, err = g.v3.AppsByGUID(c, guids); return },
		func() (err error) { stacks, err = g.v3.Stacks(c); return },
	)
	if err != nil {
		return err
	}
	bundles, err := g.readBundles(c, list, stacks, in)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	for _, b := range bundles {
		var buf bytes.Buffer
		if err := translate.AppendAppResource(&buf, b); err != nil {
			return err
		}
		mu.Lock()
		out[b.App.GUID] = buf.Bytes()
		mu.Unlock()
	}
	return nil
}

// createRoute is POST /v2/routes (§9.5): the body, then generate_port,
// then the domain (v3 would pick a tcp route's port where v2 refuses one
// without), then POST /v3/routes with v3's refusals in v2's words.
func createRoute(g *Gateway, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Route, error) {
	var rt translate.V3Route
	req, err := translate.ParseRouteRequest(body, true)
	if err != nil {
		return rt, err
	}
	generate := false
	if gp := ctx.QueryArgs().Peek("generate_port"); gp != nil {
		// convert_flag_to_bool: only true and false.
		switch string(gp) {
		case "true":
			generate = true
		case "false":
		default:
			return rt, withCause(translate.InvalidRequest(), nil)
		}
	}
	c := call(ctx)
	domainGUID := *req.DomainGUID
	d, err := g.v3.GetDomain(c, domainGUID)
	var e *ccv3.Error
	switch {
	case errors.As(err, &e) && e.Status == fasthttp.StatusNotFound && generate:
		return rt, withCause(translate.DomainInvalid("Domain with guid "+domainGUID+" does not exist"), err)
	case errors.As(err, &e) && e.Status == fasthttp.StatusNotFound:
		return rt, withCause(translate.InvalidRelation("Could not find Domain with guid: "+domainGUID), err)
	case err != nil:
		return rt, v2Error(err, "")
	}
	if te := translate.RouteCheck(req, d, generate); te != nil {
		return rt, withCause(te, nil)
	}
	v3body, err := translate.V3RouteCreate(req, generate)
	if err != nil {
		return rt, err
	}
	rt, err = g.v3.CreateRoute(c, v3body)
	if errors.As(err, &e) {
		if te := translate.RouteCreateError(e.Status, e.Title(), e.Detail(), req); te != nil {
			return rt, withCause(te, err)
		}
	}
	if err != nil {
		return rt, v2Error(err, "")
	}
	if generate && req.PortGiven() {
		ctx.Response.Header.Set("X-Cf-Warnings", "Specified+port+ignored.+Random+port+generated.")
	}
	return rt, nil
}

// updateRoute is PUT /v2/routes/:guid (§9.6). v3 can change none of a
// route's host, path, port or domain: an update that asks for the values
// the route has is answered 201, any other change is RouteInvalid (a
// documented deviation; no client of §9.19 sends one).
func updateRoute(g *Gateway, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Route, error) {
	req, err := translate.ParseRouteRequest(body, false)
	if err != nil {
		return translate.V3Route{}, err
	}
	r, err := g.v3.GetRoute(call(ctx), guid)
	if err != nil {
		return r, v2ErrorAs(err, routeNotFound(guid))
	}
	port := int64(0)
	if r.Port != nil {
		port = int64(*r.Port)
	}
	same := func(want *string, have string) bool { return want == nil || *want == have }
	if !same(req.Host, r.Host) || !same(req.Path, r.Path) || req.Port != nil && *req.Port != port ||
		!same(req.DomainGUID, r.Relationships.Domain.GUID()) || !same(req.SpaceGUID, r.Relationships.Space.GUID()) {
		return r, withCause(translate.RouteInvalid("changing host, path, port, domain or space is not supported"), nil)
	}
	return r, nil
}

// removeRoute is DELETE /v2/routes/:guid (§9.7): mapped apps never block
// it (v3 unmaps them and deletes in a job); a route service does, unless
// recursive=true.
func removeRoute(g *Gateway, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	if !flagTrue(ctx, "recursive") {
		bound, err := g.v3.RouteServices(c, []string{guid})
		if err != nil {
			return "", v2Error(err, "")
		}
		if _, ok := bound[guid]; ok {
			return "", withCause(translate.AssociationNotEmpty("service_instance", "routes"), nil)
		}
	}
	job, err := g.v3.DeleteRoute(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, routeNotFound(guid))
	}
	return job, nil
}

// v2RouteApps answers GET /v2/routes/:guid/apps: the apps whose web
// process the route maps, as an app list with the apps' q keys (§9.8).
func (g *Gateway) v2RouteApps(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	r, err := g.v3.GetRoute(call(ctx), guid)
	if err != nil {
		return v2ErrorAs(err, routeNotFound(guid))
	}
	guids := webApps(r)
	if guids == nil {
		guids = []string{}
	}
	return g.appList(ctx, appScope{path: "/v2/routes/" + guid + "/apps", guids: guids})
}

// v2RouteMapApp answers PUT /v2/routes/:guid/apps/:app_guid (§9.8): 201
// with the route; mapping an app already mapped is a success.
func (g *Gateway) v2RouteMapApp(ctx *fasthttp.RequestCtx) error {
	routeGUID, appGUID, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	r, _, err := g.mapWeb(c, routeGUID, appGUID, true,
		translate.InvalidRelation("The requested app relation is invalid: the app and route must belong to the same space"))
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/routes/"+routeGUID)
	return routes.answer(g, ctx, r, fasthttp.StatusCreated)
}

// v2RouteUnmapApp answers DELETE /v2/routes/:guid/apps/:app_guid: 204,
// also when nothing was mapped (§9.8).
func (g *Gateway) v2RouteUnmapApp(ctx *fasthttp.RequestCtx) error {
	return g.unmapWeb(ctx, pathParam(ctx, 1), pathParam(ctx, 3), true)
}

// mapWeb maps the app's web process to the route, on the app's first port
// (8080 unless it has others). The route's and the app's lookups run at
// once; routeFirst says whose not-found wins. An app in another space
// than the route's is spaceErr. It returns the route as it is now.
func (g *Gateway) mapWeb(c ccv3.Call, routeGUID, appGUID string, routeFirst bool, spaceErr *translate.Error) (translate.V3Route, translate.AppBundle, error) {
	var r translate.V3Route
	var b translate.AppBundle
	var routeErr, appErr error
	_ = parallel(
		func() error { r, routeErr = g.v3.GetRoute(c, routeGUID); return nil },
		func() error { b, appErr = g.oneApp(c, appGUID, translate.Inline{}); return nil },
	)
	if routeErr != nil {
		routeErr = v2ErrorAs(routeErr, routeNotFound(routeGUID))
	}
	for _, err := range orderedErrs(routeFirst, routeErr, appErr) {
		if err != nil {
			return r, b, err
		}
	}
	if r.Relationships.Space.GUID() != b.App.Relationships.Space.GUID() {
		return r, b, withCause(spaceErr, nil)
	}
	port := 8080
	if ports := translate.AppEntity(b).Ports; len(ports) > 0 {
		port = ports[0]
	}
	dests, err := g.v3.AddDestination(c, routeGUID, appGUID, &port)
	if err != nil {
		return r, b, v2Error(err, appGUID)
	}
	r.Destinations = dests
	return r, b, nil
}

// orderedErrs returns a and b, b first unless aFirst.
func orderedErrs(aFirst bool, a, b error) []error {
	if aFirst {
		return []error{a, b}
	}
	return []error{b, a}
}

// unmapWeb removes one mapping of the app's web process from the route:
// CC's RemoveApp finds the first and deletes it, even when the app is
// mapped on several ports; none is a success too. 204.
func (g *Gateway) unmapWeb(ctx *fasthttp.RequestCtx, routeGUID, appGUID string, routeFirst bool) error {
	c := call(ctx)
	var r translate.V3Route
	var routeErr, appErr error
	_ = parallel(
		func() error { _, appErr = g.v3.WebProcess(c, appGUID); return nil },
		func() error { r, routeErr = g.v3.GetRoute(c, routeGUID); return nil },
	)
	if appErr != nil {
		appErr = v2Error(appErr, appGUID)
	}
	if routeErr != nil {
		routeErr = v2ErrorAs(routeErr, routeNotFound(routeGUID))
	}
	for _, err := range orderedErrs(routeFirst, routeErr, appErr) {
		if err != nil {
			return err
		}
	}
	for _, d := range r.Destinations {
		if d.App.GUID == appGUID && d.App.Process.Type == "web" {
			if err := g.v3.RemoveDestination(c, routeGUID, d.GUID); err != nil {
				return v2Error(err, appGUID)
			}
			break
		}
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// sinatraNotFound is the body of a 404 that CC answers without an error
// (Sinatra's not_found block): no trailing newline (§9.1).
var sinatraNotFound = []byte(`{"description":"Unknown request","error_code":"CF-NotFound","code":10000}`)

// v2RouteReserved answers GET /v2/routes/reserved/domain/:domain_guid and
// .../host/:host (§9.10): 204 when a route with that host (and the path
// and port asked for) exists on the domain, else, and for an unknown
// domain, Sinatra's 404. v3's route_reservations sees every org, as v2's
// check did. Its path defaults to "" where v2's absent path matched any:
// the clients send a path only when they have one (§9.19).
func (g *Gateway) v2RouteReserved(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	// host is params['host'] || '' and port params['port'] || 0: both
	// always compared.
	port := 0
	if p := args.Peek("port"); p != nil {
		port = int(translate.RubyToI(string(p)))
	}
	return g.routeReserved(ctx, string(args.Peek("host")), port)
}

// v2RouteReservedHost answers GET /v2/routes/reserved/domain/:domain_guid/host/:host:
// the port is not compared.
func (g *Gateway) v2RouteReservedHost(ctx *fasthttp.RequestCtx) error {
	return g.routeReserved(ctx, pathParam(ctx, 5), 0)
}

// routeReserved answers a reserved-route check of host and port, with
// the query's path when it has one.
func (g *Gateway) routeReserved(ctx *fasthttp.RequestCtx, host string, port int) error {
	domainGUID, c := pathParam(ctx, 3), call(ctx)
	var path *string
	if args := ctx.QueryArgs(); args.Has("path") {
		p := string(args.Peek("path"))
		path = &p
	}
	d, err := g.v3.GetDomain(c, domainGUID)
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
		writeV2(ctx, fasthttp.StatusNotFound, sinatraNotFound)
		return nil
	}
	if err != nil {
		return v2Error(err, "")
	}
	// A tcp port is reserved across the domain's router group.
	candidates := []string{d.GUID}
	if d.RouterGroup != nil && d.RouterGroup.GUID != "" {
		all, err := g.v3.Domains(c)
		if err != nil {
			return v2Error(err, "")
		}
		for _, o := range all {
			if o.GUID != d.GUID && o.RouterGroup != nil && o.RouterGroup.GUID == d.RouterGroup.GUID {
				candidates = append(candidates, o.GUID)
			}
		}
	}
	for _, guid := range candidates {
		found, err := g.v3.RouteReserved(c, guid, host, path, port)
		if err != nil {
			return v2Error(err, "")
		}
		if found {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return nil
		}
	}
	writeV2(ctx, fasthttp.StatusNotFound, sinatraNotFound)
	return nil
}

// v2SpaceDeleteUnmappedRoutes answers DELETE /v2/spaces/:guid/unmapped_routes
// (§9.15): the space's routes without apps (and without a route service)
// are deleted, synchronously as in v2; 204.
func (g *Gateway) v2SpaceDeleteUnmappedRoutes(ctx *fasthttp.RequestCtx) error {
	space, c := pathParam(ctx, 1), call(ctx)
	if err := findSpace(g.v3, c, space); err != nil {
		return v2ErrorAs(err, spaceNotFound(space))
	}
	job, err := g.v3.DeleteUnmappedRoutes(c, space)
	if err != nil {
		return v2ErrorAs(err, spaceNotFound(space))
	}
	return g.answerJob(ctx, job, false)
}
