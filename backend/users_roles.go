package backend

import (
	"errors"
	"strings"
)

// userRoleRoutes lists the routes of users (/v3/users) and roles (/v3/roles).
func (s *Server) userRoleRoutes(p func(string) []string) []route {
	return []route{
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
