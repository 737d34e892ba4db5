package v2api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
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
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Route, int, error) {
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
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, app string) ([]translate.V3Route, int, error) {
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
func routeNotFound(guid string) *cferr.Error { return withCause(translate.RouteNotFound(guid), nil) }

// routesPage reads a page of routes: every route the user sees, or those
// space owns. Filters v3 cannot apply (port, and host or path compared
// with <, >, <=, >=) make the gateway read every match and page here. v3
// also lists routes shared into a space, which v2 never shows: a scan
// drops them; a plain page keeps them (route sharing is off by default).
func routesPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, space string) ([]translate.V3Route, int, error) {
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
func prepareRoutes(g *API, c ccv3.Call, rs []translate.V3Route, in translate.Inline) (func(*bytes.Buffer, translate.V3Route) error, error) {
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
func (g *API) renderWebApps(c ccv3.Call, rs []translate.V3Route, in translate.Inline, out map[string]json.RawMessage) error {
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
		func() (err error) { stacks, err = g.stacks(c); return },
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
func createRoute(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Route, error) {
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
		te := translate.RouteCreateError(e.Status, e.Title(), e.Detail(), req)
		if te != nil && te.Name == "RoutePortTaken" && req.Port != nil {
			// v3 words a port outside the router group's reservable ports
			// as it words a taken one; v2 told them apart (§9.5.3): a port
			// no route holds was not reservable.
			if taken, rerr := g.reserved(c, d, "", nil, int(*req.Port)); rerr == nil && !taken {
				te = translate.RouteInvalid("The requested port is not available for reservation. Try a different port or request a random one be generated for you.")
			}
		}
		if te != nil {
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
func updateRoute(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Route, error) {
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
func removeRoute(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
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
func (g *API) v2RouteApps(ctx *fasthttp.RequestCtx) error {
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

// v2SpaceDeleteUnmappedRoutes answers DELETE /v2/spaces/:guid/unmapped_routes
// (§9.15): the space's routes without apps (and without a route service)
// are deleted, synchronously as in v2; 204.
func (g *API) v2SpaceDeleteUnmappedRoutes(ctx *fasthttp.RequestCtx) error {
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
