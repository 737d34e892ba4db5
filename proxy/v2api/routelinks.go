package v2api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// The route quirks that are no resource of their own (MAPPING-routes
// §9.8, §9.10): mapping and unmapping an app's web process, on the
// route's side and on the app's, and the reserved-route checks.

// v2RouteMapApp answers PUT /v2/routes/:guid/apps/:app_guid (§9.8): 201
// with the route; mapping an app already mapped is a success.
func (g *API) v2RouteMapApp(ctx *fasthttp.RequestCtx) error {
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
func (g *API) v2RouteUnmapApp(ctx *fasthttp.RequestCtx) error {
	return g.unmapWeb(ctx, pathParam(ctx, 1), pathParam(ctx, 3), true)
}

// mapWeb maps the app's web process to the route. The route's and the
// app's lookups run at once; routeFirst says whose not-found wins. An app in another space
// than the route's is spaceErr. It returns the route as it is now.
func (g *API) mapWeb(c ccv3.Call, routeGUID, appGUID string, routeFirst bool, spaceErr *translate.Error) (translate.V3Route, translate.AppBundle, error) {
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
	// The port: the app's first, else 8080 for a buildpack app and none
	// (v3's "unspecified") for a docker one (§9.8 step 6).
	var port *int
	switch e := translate.AppEntity(b); {
	case len(e.Ports) > 0:
		port = &e.Ports[0]
	case e.DockerImage == nil:
		p := 8080
		port = &p
	}
	dests, err := g.v3.AddDestination(c, routeGUID, appGUID, port)
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
		// "Destinations cannot be inserted when there are weighted
		// destinations already configured." (§9.8).
		return r, b, withCause(translate.RouteInvalid(e.Detail()), err)
	}
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
func (g *API) unmapWeb(ctx *fasthttp.RequestCtx, routeGUID, appGUID string, routeFirst bool) error {
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
func (g *API) v2RouteReserved(ctx *fasthttp.RequestCtx) error {
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
func (g *API) v2RouteReservedHost(ctx *fasthttp.RequestCtx) error {
	return g.routeReserved(ctx, pathParam(ctx, 5), 0)
}

// routeReserved answers a reserved-route check of host and port, with
// the query's path when it has one.
func (g *API) routeReserved(ctx *fasthttp.RequestCtx, host string, port int) error {
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
	found, err := g.reserved(c, d, host, path, port)
	if err != nil {
		return v2Error(err, "")
	}
	if found {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	writeV2(ctx, fasthttp.StatusNotFound, sinatraNotFound)
	return nil
}

// reserved reports whether a route with host, path (when given) and port
// exists on d or, for a domain of a router group, on any domain of the
// group: a tcp port is reserved across the whole group.
func (g *API) reserved(c ccv3.Call, d translate.V3Domain, host string, path *string, port int) (bool, error) {
	candidates := []string{d.GUID}
	if d.RouterGroup != nil && d.RouterGroup.GUID != "" {
		all, err := g.v3.Domains(c)
		if err != nil {
			return false, err
		}
		for _, o := range all {
			if o.GUID != d.GUID && o.RouterGroup != nil && o.RouterGroup.GUID == d.RouterGroup.GUID {
				candidates = append(candidates, o.GUID)
			}
		}
	}
	for _, guid := range candidates {
		found, err := g.v3.RouteReserved(c, guid, host, path, port)
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}
