package backend

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Binding routes to route services and unbinding them
// (ServiceRouteBindingsController#create, #destroy and #parameters with
// V3::ServiceRouteBindingCreate and V3::ServiceRouteBindingDelete). A
// user-provided instance with a route_service_url binds at once, 201, and
// the binding takes the instance's url (UserProvided::Client#bind). The
// built-in broker offers no service that requires route_forwarding, so no
// managed instance is a route service and none can be bound.

// errRouteBindingExists is CC's ServiceInstanceAlreadyBoundToSameRoute
// (errors/v2.yml 130008), answered with 422 by the v3 controller.
func errRouteBindingExists() error {
	return &apiError{Status: 422, Code: 130008, Title: "CF-ServiceInstanceAlreadyBoundToSameRoute",
		Detail: "The route and service instance are already bound."}
}

// routeBindingCreate is a POST /v3/service_route_bindings body, read
// (ServiceRouteBindingCreateMessage).
type routeBindingCreate struct {
	route, instance string
	params          json.RawMessage
	md              *metadataPatch
	audit           json.RawMessage
}

func parseRouteBindingCreate(body []byte) (routeBindingCreate, error) {
	var bc routeBindingCreate
	o, err := decodeObject(body, "relationships", "parameters", "metadata")
	if err != nil {
		return bc, err
	}
	bc.audit, _ = json.Marshal(o)
	// RelationshipValidator: an object with at least one relationship.
	if !o.has("relationships") || o.isNull("relationships") {
		return bc, errUnprocessable("Relationships 'relationships' is not an object")
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil || rels == nil {
		return bc, errUnprocessable("Relationships 'relationships' is not an object")
	}
	if len(rels) == 0 {
		return bc, errUnprocessable("Relationships 'relationships' must include one or more valid relationships")
	}
	if err := rels.only("service_instance", "route"); err != nil {
		return bc, errUnprocessable("Relationships " + err.(*apiError).Detail)
	}
	if bc.instance, err = toOneGUID(rels, "service_instance", "Service instance"); err != nil {
		return bc, err
	}
	if bc.route, err = toOneGUID(rels, "route", "Route"); err != nil {
		return bc, err
	}
	if bc.params, err = parseParameters(o); err != nil {
		return bc, err
	}
	bc.md, err = o.metadata()
	return bc, err
}

// createServiceRouteBinding is POST /v3/service_route_bindings.
func (s *Server) createServiceRouteBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	bc, err := parseRouteBindingCreate(r.ctx.PostBody())
	if err != nil {
		return err
	}
	si, err := s.bindableInstance(r, bc.instance)
	if err != nil {
		return err
	}
	// fetch_route: a route the caller cannot read is not found either.
	rt, err := s.store.GetRoute(r.ctx, r.user.viewer(), bc.route)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("The route could not be found: " + bc.route)
	}
	if err != nil {
		return errInternal(err)
	}
	if si.Type == store.UserProvided && bc.params != nil {
		return errUnprocessable("Binding parameters are not supported for user-provided service instances")
	}
	if err := s.routeBindable(r, si, rt); err != nil {
		return err
	}
	now := s.store.Now()
	b := store.RouteBinding{GUID: uuid.NewString(), RouteGUID: rt.GUID, ServiceInstanceGUID: si.GUID, SpaceGUID: rt.SpaceGUID,
		RouteServiceURL: si.RouteServiceURL, LastOperation: store.InstanceOperation{Type: "create", State: "succeeded", CreatedAt: now, UpdatedAt: now},
		CreatedAt: now, UpdatedAt: now}
	if bc.md != nil {
		b.Labels, b.Annotations = apply(nil, bc.md.labels), apply(nil, bc.md.annotations)
	}
	event := s.serviceEvent(r.ctx, r.user.actor(), "audit.service_route_binding.create", b.GUID, "service_route_binding", "", b.SpaceGUID,
		auditData(bc.audit))
	if err := s.store.CreateRouteBinding(r.ctx, b, event); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("A route may only be bound to a single service instance")
		}
		return errInternal(err)
	}
	return r.reply(201, presentRouteBinding(r.base, b, false))
}

// bindableInstance is fetch_service_instance: the instance exists and the
// caller reads its own space (422 otherwise), where it may bind (403).
func (s *Server) bindableInstance(r *request, guid string) (store.ServiceInstance, error) {
	notFound := errUnprocessable("The service instance could not be found: " + guid)
	si, err := s.store.GetServiceInstance(r.ctx, store.Viewer{All: true}, guid)
	if errors.Is(err, store.ErrNotFound) {
		return si, notFound
	}
	if err != nil {
		return si, errInternal(err)
	}
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), si.SpaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return si, notFound
	}
	if err != nil {
		return si, errInternal(err)
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return si, errInternal(err)
	}
	return si, roles.writeErr()
}

// routeBindable is ServiceRouteBindingCreate#validate_service_instance!
// and #validate_binding!, in their order.
func (s *Server) routeBindable(r *request, si store.ServiceInstance, rt store.Route) error {
	if si.Type == store.UserProvided {
		if si.RouteServiceURL == nil || *si.RouteServiceURL == "" {
			return errUnprocessable("This service instance does not support route binding")
		}
	} else {
		// ServiceInstance#route_service?: the offering requires route_forwarding.
		plan, offerings, err := s.planOf(r.ctx, si)
		if err != nil {
			return err
		}
		o := offerings[plan.OfferingGUID]
		switch {
		case !slices.Contains(o.Requires, "route_forwarding"):
			return errUnprocessable("This service instance does not support route binding")
		case !planBindable(plan, o):
			return errUnprocessable("This service instance does not support binding")
		}
	}
	d, err := s.store.GetDomain(r.ctx, store.Viewer{All: true}, rt.DomainGUID)
	if err != nil {
		return errInternal(err)
	}
	if d.Internal {
		return errUnprocessable("Route services cannot be bound to internal routes")
	}
	if rt.SpaceGUID != si.SpaceGUID {
		return errUnprocessable("The service instance and the route are in different spaces")
	}
	existing, err := s.store.RouteBindingOf(r.ctx, rt.GUID)
	if errors.Is(err, store.ErrNotFound) {
		if si.Type == store.Managed {
			// No broker of the embedded CF binds routes (see above).
			return errUnprocessable("This service instance does not support route binding")
		}
		return nil
	}
	if err != nil {
		return errInternal(err)
	}
	if existing.ServiceInstanceGUID != si.GUID {
		return errUnprocessable("A route may only be bound to a single service instance")
	}
	return errRouteBindingExists()
}

// readableRouteBinding loads the route binding of the path that the caller
// can read (404 otherwise), with its instance.
func (s *Server) readableRouteBinding(r *request) (store.RouteBinding, store.ServiceInstance, error) {
	b, err := routeBindingResource.find(s, r, r.params[0])
	if err != nil {
		return b, store.ServiceInstance{}, err
	}
	si, err := s.store.GetServiceInstance(r.ctx, store.Viewer{All: true}, b.ServiceInstanceGUID)
	if err != nil {
		return b, si, errInternal(err)
	}
	return b, si, nil
}

// deleteServiceRouteBinding is DELETE /v3/service_route_bindings/:guid: a
// user-provided instance's binding goes at once, 204.
func (s *Server) deleteServiceRouteBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, _, err := s.readableRouteBinding(r)
	if err != nil {
		return err
	}
	roles, err := s.spaceRoles(r, b.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	if err := s.store.DeleteRouteBinding(r.ctx, b.GUID, s.routeBindingDeleteEvent(r, b)); err != nil {
		return storeErr(err, "Service route binding")
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// routeBindingDeleteEvent is ServiceGenericBindingEventRepository#record_delete
// for a route binding.
func (s *Server) routeBindingDeleteEvent(r *request, b store.RouteBinding) store.Event {
	data, _ := json.Marshal(map[string]any{"request": map[string]any{"app_guid": nil, "route_guid": b.RouteGUID,
		"service_instance_guid": b.ServiceInstanceGUID}})
	return s.serviceEvent(r.ctx, r.user.actor(), "audit.service_route_binding.delete", b.GUID, "service_route_binding", "", b.SpaceGUID, data)
}

// routeBindingDeleteEvents are the delete events of the route bindings of
// an instance that is deleted with them (ServiceInstanceDelete and
// ServiceInstancePurge record one per binding).
func (s *Server) routeBindingDeleteEvents(r *request, instanceGUID string) ([]store.Event, error) {
	bindings, _, err := s.store.ListRouteBindings(r.ctx, store.Viewer{All: true},
		store.RouteBindingFilter{ServiceInstanceGUIDs: []string{instanceGUID}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return nil, errInternal(err)
	}
	events := make([]store.Event, len(bindings))
	for i, b := range bindings {
		events[i] = s.routeBindingDeleteEvent(r, b)
	}
	return events, nil
}

// getServiceRouteBindingParameters is GET
// /v3/service_route_bindings/:guid/parameters: for writers of the route's
// space; a user-provided instance's binding has none to fetch, 400.
func (s *Server) getServiceRouteBindingParameters(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, si, err := s.readableRouteBinding(r)
	if err != nil {
		return err
	}
	if lo := b.LastOperation; lo.Type != "create" || lo.State != "succeeded" {
		return errOperationNotFound("route binding", lo.Type, lo.State)
	}
	roles, err := s.spaceRoles(r, b.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	detail := "this service does not support fetching route bindings parameters."
	if si.Type == store.UserProvided {
		detail = "user provided service instances do not support fetching route bindings parameters."
	}
	return &apiError{Status: 400, Code: 1004, Title: "CF-BadRequest", Detail: "Bad request: " + detail}
}
