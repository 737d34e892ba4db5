package backend

import (
	"context"

	"capibridge/backend/store"
)

// Route service bindings (cc:app/controllers/v3/service_route_bindings_controller.rb).
// The embedded CF does not bind route services (POST
// /v3/service_route_bindings is not served), so no binding exists; the list
// and the get still read their query as CC does, so that a client asking
// for a route's bindings (MAPPING-routes §9.3) gets an empty page, not 404.

// routeBinding is a binding that cannot exist: the list is always empty.
type routeBinding struct{}

// routeBindingIncluded is the included block of an empty list, in the
// order of CC's AVAILABLE_DECORATORS.
type routeBindingIncluded struct {
	ServiceInstances []serviceInstanceJSON `json:"service_instances,omitzero"`
	Routes           []routeJSON           `json:"routes,omitzero"`
}

// routeBindingResource is GET /v3/service_route_bindings and
// /v3/service_route_bindings/:guid, read with ServiceRouteBindingsListMessage
// (ListMessage's keys, its own, then label_selector) and
// ServiceRouteBindingShowMessage (include only).
var routeBindingResource = &resource[routeBinding, struct{}, routeBinding]{
	name: "Service route binding",
	path: "/v3/service_route_bindings",
	keys: append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
		"guids", "service_instance_guids", "service_instance_names", "route_guids", "include", "label_selector"),
	orders: timeOrders,
	filter: func(q *params) struct{} {
		q.times("created_ats")
		q.times("updated_ats")
		q.labels()
		return struct{}{}
	},
	list: func(*store.Store, context.Context, store.Viewer, struct{}, store.Page) ([]routeBinding, int, error) {
		return []routeBinding{}, 0, nil
	},
	get: func(*store.Store, context.Context, store.Viewer, string) (routeBinding, error) {
		return routeBinding{}, store.ErrNotFound
	},
	present:      each(func(*request, routeBinding) routeBinding { return routeBinding{} }),
	includes:     []string{"route", "service_instance"},
	showIncludes: true,
	included: func(_ *Server, _ *request, include map[string]bool, _ []routeBinding) (any, error) {
		inc := routeBindingIncluded{}
		if include["service_instance"] {
			inc.ServiceInstances = []serviceInstanceJSON{}
		}
		if include["route"] {
			inc.Routes = []routeJSON{}
		}
		return inc, nil
	},
}
