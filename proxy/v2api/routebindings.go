package v2api

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// Route services (MAPPING-services §10.3.7, §10.4.5): binding an instance
// to a route is a v3 service route binding. PUT answers 201 with the
// instance, DELETE 204; a user-provided instance takes no parameters.

// routeBindingSide is the v2 collection an instance is bound through: its
// kind, its not-found error, and whether a body's parameters count.
type routeBindingSide struct {
	kind, notFound string
	parameters     bool
	answer         *v2Resource[translate.V3ServiceInstance]
}

var (
	managedRouteSide      = routeBindingSide{translate.InstanceManaged, "ServiceInstanceNotFound", true, serviceInstances}
	userProvidedRouteSide = routeBindingSide{translate.InstanceUserProvided, "UserProvidedServiceInstanceNotFound", false, userProvided}
)

// bindRoute answers PUT /v2/<instances>/:guid/routes/:route_guid: the
// route (RouteNotFound) and the instance first, then v3's bind, waited
// for, and the instance.
func (side routeBindingSide) bindRoute(g *API, ctx *fasthttp.RequestCtx) error {
	guid, routeGUID, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	var params map[string]json.RawMessage
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	if side.parameters && len(body) > 0 {
		p, err := translate.ParseRouteBindingRequest(body)
		if err != nil {
			return err
		}
		params = p
	}
	if _, err := g.v3.GetRoute(c, routeGUID); err != nil {
		return v2ErrorAs(err, routeNotFound(routeGUID))
	}
	si, err := g.v3.GetServiceInstance(c, guid)
	if err != nil || si.Type != side.kind && side.kind == translate.InstanceUserProvided {
		return v2ErrorAs(orNotFound(err), serviceError(side.notFound, guid))
	}
	v3body, err := translate.V3RouteBindingCreate(guid, routeGUID, params)
	if err != nil {
		return err
	}
	job, err := g.v3.CreateRouteBinding(c, v3body)
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.RouteBindingError(e.Status, e.Detail()); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	if job != "" {
		if err := g.serviceJob(c, job, false); err != nil {
			return err
		}
	}
	if si, err = g.v3.GetServiceInstance(c, guid); err != nil {
		return v2ErrorAs(err, serviceError(side.notFound, guid))
	}
	return side.answer.answer(g, ctx, si, fasthttp.StatusCreated)
}

// unbindRoute answers DELETE /v2/<instances>/:guid/routes/:route_guid:
// 204, or InvalidRelation when the route is not bound to the instance.
func (side routeBindingSide) unbindRoute(g *API, ctx *fasthttp.RequestCtx) error {
	guid, routeGUID, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if _, err := g.v3.GetRoute(c, routeGUID); err != nil {
		return v2ErrorAs(err, routeNotFound(routeGUID))
	}
	if _, err := g.v3.GetServiceInstance(c, guid); err != nil {
		return v2ErrorAs(err, serviceError(side.notFound, guid))
	}
	binding, err := g.v3.RouteBindingOf(c, guid, routeGUID)
	if err != nil {
		return v2Error(err, "")
	}
	if binding == "" {
		return withCause(translate.InvalidRelation("Route "+routeGUID+" is not bound to service instance "+guid+"."), nil)
	}
	job, err := g.v3.DeleteRouteBinding(c, binding)
	if err != nil {
		return v2Error(err, "")
	}
	return g.answerJob(ctx, job, false)
}

// v2RouteBindingParameters answers GET /v2/service_instances/:guid/routes/:route_guid/parameters.
// The instance and the route are read first, in CC's order
// (ServiceInstancesController#route_binding_parameters); a binding whose
// parameters cannot be fetched, a user-provided instance's included, is
// ServiceFetchBindingParametersNotSupported (ServiceBindingRead), where v3
// says BadRequest.
func (g *API) v2RouteBindingParameters(ctx *fasthttp.RequestCtx) error {
	guid, routeGUID, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if _, err := g.v3.GetServiceInstance(c, guid); err != nil {
		return v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	if _, err := g.v3.GetRoute(c, routeGUID); err != nil {
		return v2ErrorAs(err, routeNotFound(routeGUID))
	}
	binding, err := g.v3.RouteBindingOf(c, guid, routeGUID)
	if err != nil {
		return v2Error(err, "")
	}
	if binding == "" {
		return withCause(translate.InvalidRelation("Route "+routeGUID+" is not bound to service instance "+guid+"."), nil)
	}
	raw, err := g.v3.RouteBindingParameters(c, binding)
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusBadRequest && strings.Contains(e.Detail(), "support fetching route bindings parameters") {
		return withCause(translate.ServiceError("ServiceFetchBindingParametersNotSupported", ""), err)
	}
	return writeParameters(ctx, raw, err, serviceError("ServiceInstanceNotFound", guid))
}

// orNotFound is err, or a v3 404 when there is none (a resource of the
// other kind).
func orNotFound(err error) error {
	if err == nil {
		return &ccv3.Error{Status: fasthttp.StatusNotFound}
	}
	return err
}
