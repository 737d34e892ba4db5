package backend

import (
	"errors"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"capibridge/backend/uaa"
)

// The routing API of the embedded Cloud Foundry, at the /routing that the
// routing link of GET / names: its router groups, in the routing API's
// shapes and words (github.com/cloudfoundry/routing-api routes.go,
// handlers/router_groups_handler.go, handlers/errors.go, errors.go). The cf
// CLI reads them to make TCP domains (`cf create-shared-domain
// --router-group`, `cf router-groups`: cli@v6.53.0 api/router/router_group.go,
// cf/api/routing_api.go). The routing API has no GET of one router group,
// and its writes (create, update, delete) are an operator's, so the
// embedded CF has the seeded group only.

// The routing API's router group scopes (routing-api handlers/scopes.go).
const (
	scopeRouterGroupsRead  = "routing.router_groups.read"
	scopeRouterGroupsWrite = "routing.router_groups.write"
)

// routerGroupJSON is a router group as the routing API renders it
// (routing-api models.RouterGroup; its Model's fields are not shown).
type routerGroupJSON struct {
	GUID            string `json:"guid"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	ReservablePorts string `json:"reservable_ports"`
}

// routingErrorJSON is the routing API's error body (routing-api errors.go).
type routingErrorJSON struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// routingError is a routing API error: its status and body.
type routingError struct {
	status  int
	name    string
	message string
	cause   error
}

func (e *routingError) Error() string { return e.name + ": " + e.message }

func (e *routingError) Unwrap() error { return e.cause }

// routingUnauthorized is handleUnauthorizedError: a token that fails is
// 401 with the reason; one that lacks the scope says so in the words the
// cf CLI looks for (cli api/router/wrapper/error_wrapper.go).
func routingUnauthorized(message string, cause error) *routingError {
	return &routingError{status: 401, name: "UnauthorizedError", message: message, cause: cause}
}

// routingAPI wraps a handler of the routing API: it checks the token as
// the routing API does, then writes what the handler returns, errors in the
// routing API's body. To the Cloud Controller's gate in serve these routes
// are anonymous.
func (s *Server) routingAPI(h func(*request) error) handler {
	return func(r *request) error {
		err := s.routingToken(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
		if err == nil {
			err = h(r)
		}
		var re *routingError
		if err != nil && !errors.As(err, &re) {
			// handleDBCommunicationError, without the store's words.
			s.log.Error("routing API request failed", "path", string(r.ctx.Path()), "err", err)
			re = &routingError{status: 503, name: "DBCommunicationError", message: "database is unavailable", cause: err}
		}
		if re != nil {
			return writeRouting(r, re.status, routingErrorJSON{Name: re.name, Message: re.message})
		}
		return nil
	}
}

// writeRouting writes v as the routing API's JSON.
func writeRouting(r *request, status int, v any) error {
	b, err := marshalRaw(v)
	if err != nil {
		return errInternal(err)
	}
	r.ctx.Response.Header.SetContentType("application/json")
	r.ctx.SetStatusCode(status)
	r.ctx.SetBody(b)
	return nil
}

// routingToken checks an Authorization header as the routing API's
// uaaclient.TokenValidator does: "bearer <jwt>" (any case), signed by a key
// of the embedded UAA, from its issuer, not expired; the audience is not
// read. The token needs routing.router_groups.read, or, unlike the
// routing API, cloud_controller.admin: a data dir seeded before the admin
// had the routing scopes, and the gateway's own client, hold only that.
func (s *Server) routingToken(header []byte) error {
	kind, token, ok := strings.Cut(string(header), " ")
	switch {
	case !ok || strings.Contains(token, " "):
		return routingUnauthorized("invalid token format", nil)
	case !strings.EqualFold(kind, "bearer"):
		return routingUnauthorized("Invalid token type: "+kind, nil)
	}
	var claims uaa.Claims
	if err := s.auth.parseAsCC(token, &claims); err != nil {
		// The cf CLI refreshes its token on exactly this text (jwt-go v4's).
		if errors.Is(err, jwt.ErrTokenExpired) {
			return routingUnauthorized("Token is expired", err)
		}
		return routingUnauthorized("Token is invalid", err)
	}
	if strings.HasSuffix(claims.JTI, uaa.RefreshSuffix) {
		return routingUnauthorized("Token is invalid", nil)
	}
	if !slices.Contains(claims.Scope, scopeRouterGroupsRead) && !slices.Contains(claims.Scope, scopeAdmin) {
		// handleUnauthorizedError's rewrite of "Token does not have '…' scope".
		return routingUnauthorized("You are not authorized to perform the requested action", nil)
	}
	return nil
}

// listRouterGroups is GET /routing/v1/router_groups: every router group, or
// with ?name= the one of that name, 404 ResourceNotFoundError when there is
// none (which the cf CLI reports as "Router group <name> not found"). An
// empty name lists them all; other query keys are ignored.
func (s *Server) listRouterGroups(r *request) error {
	name := r.query.str("name")
	groups, err := s.store.RouterGroups(r.ctx, name)
	if err != nil {
		return err
	}
	if name != "" && len(groups) == 0 {
		return &routingError{status: 404, name: "ResourceNotFoundError", message: "router group '" + name + "' not found"}
	}
	out := make([]routerGroupJSON, len(groups))
	for i, g := range groups {
		out[i] = routerGroupJSON{GUID: g.GUID, Name: g.Name, Type: g.Type, ReservablePorts: g.ReservablePorts}
	}
	return writeRouting(r, 200, out)
}
