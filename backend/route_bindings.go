package backend

import (
	"capibridge/backend/store"
)

// Route service bindings, read (cc:app/controllers/v3/service_route_bindings_controller.rb
// with app/fetchers/route_binding_list_fetcher.rb and
// app/presenters/v3/service_route_binding_presenter.rb); they are made
// and removed in route_bindings_write.go.

// routeBindingJSON is a service route binding, keys in the presenter's
// order. The parameters link is for managed instances only.
type routeBindingJSON struct {
	GUID            string            `json:"guid"`
	RouteServiceURL *string           `json:"route_service_url"`
	CreatedAt       string            `json:"created_at"`
	UpdatedAt       string            `json:"updated_at"`
	LastOperation   lastOperationJSON `json:"last_operation"`
	Metadata        metadataJSON      `json:"metadata"`
	Relationships   struct {
		ServiceInstance toOne `json:"service_instance"`
		Route           toOne `json:"route"`
	} `json:"relationships"`
	Links struct {
		Self            link  `json:"self"`
		ServiceInstance link  `json:"service_instance"`
		Route           link  `json:"route"`
		Parameters      *link `json:"parameters,omitempty"`
	} `json:"links"`
}

// presentRouteBinding renders a route binding; managed says whether its
// instance is a managed one.
func presentRouteBinding(base string, b store.RouteBinding, managed bool) routeBindingJSON {
	lo := b.LastOperation
	j := routeBindingJSON{GUID: b.GUID, RouteServiceURL: b.RouteServiceURL, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt),
		LastOperation: lastOperationJSON{Type: lo.Type, State: lo.State, Description: lo.Description, UpdatedAt: timestamp(lo.UpdatedAt),
			CreatedAt: timestamp(lo.CreatedAt)},
		Metadata: meta(b.Labels, b.Annotations)}
	j.Relationships.ServiceInstance = one(b.ServiceInstanceGUID)
	j.Relationships.Route = one(b.RouteGUID)
	self := base + "/v3/service_route_bindings/" + b.GUID
	j.Links.Self = link{Href: self}
	j.Links.ServiceInstance = link{Href: base + "/v3/service_instances/" + b.ServiceInstanceGUID}
	j.Links.Route = link{Href: base + "/v3/routes/" + b.RouteGUID}
	if managed {
		j.Links.Parameters = &link{Href: self + "/parameters"}
	}
	return j
}

// routeBindingIncluded is the included block of route bindings, in the
// order of CC's AVAILABLE_DECORATORS.
type routeBindingIncluded struct {
	ServiceInstances []serviceInstanceJSON `json:"service_instances,omitzero"`
	Routes           []routeJSON           `json:"routes,omitzero"`
}

// routeBindingResource is GET /v3/service_route_bindings and
// /v3/service_route_bindings/:guid, read with ServiceRouteBindingsListMessage
// (ListMessage's keys, its own, then label_selector) and
// ServiceRouteBindingShowMessage (include only).
var routeBindingResource = &resource[store.RouteBinding, store.RouteBindingFilter, routeBindingJSON]{
	name: "Service route binding",
	path: "/v3/service_route_bindings",
	keys: append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
		"guids", "service_instance_guids", "service_instance_names", "route_guids", "include", "label_selector"),
	orders: timeOrders,
	filter: func(q *params) store.RouteBindingFilter {
		return store.RouteBindingFilter{GUIDs: q.list("guids"), ServiceInstanceGUIDs: q.list("service_instance_guids"),
			ServiceInstanceNames: q.list("service_instance_names"), RouteGUIDs: q.list("route_guids"),
			CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats"), Labels: q.labels()}
	},
	list: (*store.Store).ListRouteBindings,
	get:  (*store.Store).GetRouteBinding,
	present: func(s *Server, r *request, bindings []store.RouteBinding) ([]routeBindingJSON, error) {
		instances, _, err := s.routeBindingInstances(r, bindings)
		if err != nil {
			return nil, err
		}
		out := make([]routeBindingJSON, len(bindings))
		for i, b := range bindings {
			out[i] = presentRouteBinding(r.base, b, instances[b.ServiceInstanceGUID].Type == store.Managed)
		}
		return out, nil
	},
	includes:     []string{"route", "service_instance"},
	showIncludes: true,
	included: func(s *Server, r *request, include map[string]bool, bindings []store.RouteBinding) (any, error) {
		return s.includeForRouteBindings(r, include, bindings)
	},
}

// routeBindingInstances loads the service instances of route bindings, by
// guid, with their guids in the order of first use.
func (s *Server) routeBindingInstances(r *request, bindings []store.RouteBinding) (map[string]store.ServiceInstance, []string, error) {
	return instancesOf(s, r, bindings, func(b store.RouteBinding) string { return b.ServiceInstanceGUID })
}

// includeForRouteBindings renders the service instances and routes
// include= asks for, each once, in the order of first use.
func (s *Server) includeForRouteBindings(r *request, include map[string]bool, bindings []store.RouteBinding) (*routeBindingIncluded, error) {
	inc := &routeBindingIncluded{}
	if include["service_instance"] {
		instances, order, err := s.routeBindingInstances(r, bindings)
		if err != nil {
			return nil, err
		}
		inc.ServiceInstances = presentInstances(r, instances, order)
	}
	if include["route"] {
		var routes []store.Route
		seen := map[string]bool{}
		for _, b := range bindings {
			if seen[b.RouteGUID] {
				continue
			}
			seen[b.RouteGUID] = true
			rt, err := s.store.GetRoute(r.ctx, store.Viewer{All: true}, b.RouteGUID)
			if err != nil {
				return nil, errInternal(err)
			}
			routes = append(routes, rt)
		}
		out, err := routeResource.present(s, r, routes)
		if err != nil {
			return nil, err
		}
		inc.Routes = append([]routeJSON{}, out...)
	}
	return inc, nil
}
