package backend

import (
	"errors"
	"strings"
)

// userRoleRoutes lists the routes of users (/v3/users) and roles (/v3/roles).
func (s *Server) userRoleRoutes(p func(string) []string) []route {
	routes := []route{
		{"GET", p("/v3/users"), false, queryUnprocessable(userResource.index(s))},
		{"GET", p("/v3/users/:guid"), false, userResource.showOne(s)},
		{"POST", p("/v3/users"), false, s.createUser},
		{"PATCH", p("/v3/users/:guid"), false, s.updateUser},
		{"DELETE", p("/v3/users/:guid"), false, s.deleteUser},
		{"GET", p("/v3/roles"), false, queryUnprocessable(roleResource.index(s))},
		{"GET", p("/v3/roles/:guid"), false, queryUnprocessable(roleResource.showOne(s))},
		{"POST", p("/v3/roles"), false, s.createRole},
		{"DELETE", p("/v3/roles/:guid"), false, s.deleteRole},
	}
	for i := range routes {
		routes[i].handle = s.knownCaller(routes[i].handle)
	}
	return routes
}

// knownCaller makes the caller a user CC knows before h runs: CC creates
// the user of every token it accepts (SecurityContextConfigurer), so that
// a user created in the UAA sees itself in /v3/users after its first call.
// The embedded CF does it where it matters, on these routes.
func (s *Server) knownCaller(h handler) handler {
	return func(r *request) error {
		if r.user != nil {
			if err := s.store.EnsureCCUser(r.ctx, r.user.GUID, s.store.Now()); err != nil {
				return errInternal(err)
			}
		}
		return h(r)
	}
}

// queryUnprocessable answers a query CC's message refuses with 422
// UnprocessableEntity instead of 400 BadQueryParameter: UsersController
// and RolesController call unprocessable! where the other controllers
// call invalid_param!.
func queryUnprocessable(h handler) handler {
	return func(r *request) error {
		err := h(r)
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == errBadQuery("").Code {
			return errUnprocessable(strings.TrimPrefix(ae.Detail, errBadQuery("").Detail))
		}
		return err
	}
}
