package backend

import (
	"errors"
	"strings"
)

// showRoute is GET /v3/routes/:guid. RouteShowMessage's errors are 422,
// not the list's 400 (RoutesController#show calls unprocessable! with
// every message, joined), and it takes guid, which the path's overrides.
func (s *Server) showRoute(r *request) error {
	_, incErr := r.include(routeResource.includes...)
	if err := unprocessableQuery(r.query.allow("guid", "include"), incErr); err != nil {
		return err
	}
	r.query = r.query.without("guid")
	return routeResource.showOne(s)(r)
}

// unprocessableQuery turns the query errors of an action that validates its
// query with unprocessable! into one 422 with every message, joined; nil
// when errs are all nil.
func unprocessableQuery(errs ...error) error {
	var problems []string
	for _, err := range errs {
		var ae *apiError
		if errors.As(err, &ae) {
			problems = append(problems, strings.TrimPrefix(ae.Detail, "The query parameter is invalid: "))
		}
	}
	if len(problems) > 0 {
		return errUnprocessable(strings.Join(problems, ", "))
	}
	return nil
}

// without returns q less key.
func (q query) without(key string) query {
	if !q.has(key) {
		return q
	}
	out := query{raw: make(map[string]string, len(q.raw))}
	for _, k := range q.order {
		if k != key {
			out.order = append(out.order, k)
			out.raw[k] = q.raw[k]
		}
	}
	return out
}

// unmappedQuery validates the query of DELETE /v3/spaces/:guid/routes as
// SpaceDeleteUnmappedRoutesMessage does, every message in its order.
func unmappedQuery(q query) error {
	var problems []string
	var extra []string
	for _, k := range q.order {
		if k != "unmapped" {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		problems = append(problems, "Unknown field(s): '"+strings.Join(extra, "', '")+"'")
	}
	v := q.str("unmapped")
	if strings.TrimSpace(v) == "" {
		problems = append(problems, "Unmapped can't be blank")
	}
	if !q.has("unmapped") {
		problems = append(problems, "Mass delete not supported for routes. Use 'unmapped=true' parameter to delete all unmapped routes.")
	}
	switch v {
	case "true":
	case "false":
		problems = append(problems, "Mass delete not supported for mapped routes. Use 'unmapped=true' parameter to delete all unmapped routes.")
	default:
		problems = append(problems, "Unmapped must be a boolean")
	}
	if len(problems) > 0 {
		return errUnprocessable(strings.Join(problems, ", "))
	}
	return nil
}

// deleteUnmappedRoutes is DELETE /v3/spaces/:guid/routes?unmapped=true:
// 202 with a job that deletes the space's routes without destinations
// (SpacesV3Controller#delete_unmapped_routes, SpaceDeleteUnmappedRoutesJob,
// whose operation is space.delete_unmapped_routes). The query is checked
// before the space; a space the caller cannot see is 404, one it may not
// write to 403. The job deletes when it runs, as CC's does.
func (s *Server) deleteUnmappedRoutes(r *request) error {
	if err := unmappedQuery(r.query); err != nil {
		return err
	}
	sp, err := s.writableSpace(r, r.params[0])
	if err != nil {
		return err
	}
	return s.startJob(r, "space.delete_unmapped_routes", sp.GUID)
}
