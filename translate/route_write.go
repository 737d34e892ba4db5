package translate

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The v2 route writes (MAPPING-routes §9.5–§9.8, §9.11): bodies, the v3
// request each becomes, and the v2 errors of v3's refusals, with the
// names, codes and texts of CC's errors/v2.yml.

// routeFields are RoutesController's writable attributes in its
// define_attributes order (host, path, port, then the to-one guids).
var routeFields = []bodyField{{"host", kindString, false}, {"path", kindString, false}, {"port", kindInteger, false},
	{"domain_guid", kindString, true}, {"space_guid", kindString, true}}

// RouteRequest is a parsed POST /v2/routes or PUT /v2/routes/:guid body; a
// nil field was absent or null.
type RouteRequest struct {
	Host, Path, DomainGUID, SpaceGUID *string
	Port                              *int64
}

// ParseRouteRequest parses a route body as CC's JsonMessage does; on
// create domain_guid and space_guid are required and host defaults to "".
func ParseRouteRequest(body []byte, create bool) (RouteRequest, error) {
	m, err := parseMessage(body, routeFields, create)
	if err != nil {
		return RouteRequest{}, err
	}
	r := RouteRequest{Host: m.str("host"), Path: m.str("path"), Port: m.integer("port"), DomainGUID: m.str("domain_guid"), SpaceGUID: m.str("space_guid")}
	if create && r.Host == nil {
		empty := ""
		r.Host = &empty
	}
	return r, nil
}

// PortGiven reports whether the body asked for a port: 0 is "no port" to
// the model (Route#port), but Ruby's 0 is truthy, so a 0 next to
// generate_port still draws CC's warning (§9.5.2 step 2f).
func (r RouteRequest) PortGiven() bool { return r.Port != nil }

// V3RouteCreate is the POST /v3/routes body of a v2 route create (§9.5.3):
// the path left out when empty, the port when generate_port is off and it
// is not 0 (v3 picks a tcp route's port itself when none is given).
func V3RouteCreate(r RouteRequest, generatePort bool) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	body := struct {
		Host          string `json:"host"`
		Path          string `json:"path,omitempty"`
		Port          *int64 `json:"port,omitempty"`
		Relationships struct {
			Space  guidData `json:"space"`
			Domain guidData `json:"domain"`
		} `json:"relationships"`
	}{}
	if r.Host != nil {
		body.Host = *r.Host
	}
	if r.Path != nil {
		body.Path = *r.Path
	}
	if !generatePort && r.Port != nil && *r.Port != 0 {
		body.Port = r.Port
	}
	body.Relationships.Space.Data.GUID = deref(r.SpaceGUID)
	body.Relationships.Domain.Data.GUID = deref(r.DomainGUID)
	return json.Marshal(body)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// RouteCheck applies the checks v3 would get wrong for a v2 route before
// it is created (§9.5.3 step 2): v3 answers a tcp route without a port by
// picking one, where v2 refuses it, and a port on an http domain, or a
// generated port on anything but a shared tcp domain, is refused in v2's
// words.
func RouteCheck(r RouteRequest, d V3Domain, generatePort bool) *Error {
	tcp := false
	for _, p := range d.SupportedProtocols {
		tcp = tcp || p == "tcp"
	}
	port := r.Port != nil && *r.Port != 0
	switch {
	case generatePort && !(d.Shared() && tcp), !generatePort && !tcp && port:
		return RouteInvalid("Port is supported for domains of TCP router groups only.")
	case !generatePort && tcp && !port:
		return RouteInvalid("For TCP routes you must specify a port or request a random one.")
	}
	return nil
}

// RouteCreateError maps a v3 refusal of POST /v3/routes to CC's v2 error
// (§9.5.3's table, in its order). r is the request, domain the domain's
// name when known.
func RouteCreateError(status int, title, detail string, r RouteRequest) *Error {
	host, path := deref(r.Host), deref(r.Path)
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403 && title == "CF-FeatureDisabled":
		return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail}
	case status == 403, has("sufficient permissions to create a route with a wildcard host"):
		return NotAuthorized()
	case status != 422:
		return nil
	case has("Invalid space."):
		return InvalidRelation("Could not find Space with guid: " + deref(r.SpaceGUID))
	case has("is not available in organization"):
		name := detail
		if i := strings.Index(detail, "Domain '"); i >= 0 {
			name = detail[i+len("Domain '"):]
			name = name[:max(strings.Index(name, "'"), 0)]
		}
		return InvalidRelation("Organization cannot use domain " + name)
	case has("Invalid domain."):
		return InvalidRelation("Could not find Domain with guid: " + deref(r.DomainGUID))
	case has("Route already exists with port"), has("is not available. Try a different port"):
		return RoutePortTaken(r.Port)
	case has("Route already exists with host") && has("and path"), has("Route already exists with path"):
		return &Error{Status: 400, Code: 210004, Name: "RoutePathTaken", Description: "The path is taken: " + path}
	case has("Route already exists"):
		return &Error{Status: 400, Code: 210003, Name: "RouteHostTaken", Description: "The host is taken: " + host}
	case has("conflicts with a reserved system route"):
		return &Error{Status: 400, Code: 210003, Name: "RouteHostTaken", Description: "The host is taken: " + host + " is a system domain"}
	case has("host_and_domain_taken_different_space"):
		return RouteInvalid("Routes for this host and domain have been reserved for another space.")
	case has("do not support ports"):
		return RouteInvalid("Port is supported for domains of TCP router groups only.")
	case has("must specify a port"):
		return RouteInvalid("For TCP routes you must specify a port or request a random one.")
	case has("Hosts are not supported for TCP"), has("Paths are not supported for TCP"):
		return RouteInvalid("Host and path are not supported, as domain belongs to a TCP router group.")
	case has("Paths are not supported for internal domains"):
		return RouteInvalid("Path is not supported for internal domains.")
	case has("Wildcard hosts are not supported for internal domains"):
		return RouteInvalid("Wild card host names are not supported for internal domains.")
	case has("Path cannot be exactly /"), has("Path cannot be a single"):
		return PathInvalid("the path cannot be a single slash")
	case has("Path must begin with /"), has("missing the beginning"):
		return PathInvalid(`the path must start with a "/"`)
	case has("Path cannot contain ?"), has("Path cannot contain '?'"):
		return PathInvalid(`illegal "?" character`)
	case has("Path is too long"), has("Path exceeds 128"):
		return PathInvalid("the path exceeds 128 characters")
	case has("Path is invalid"):
		return PathInvalid(path)
	case has("Host must be either"), has("Host format is invalid"):
		return RouteInvalid("host format")
	case has("Host is too long"):
		return RouteInvalid("host must be no more than 63 characters")
	case has("Missing host"):
		return RouteInvalid("host is required for shared-domains")
	case has("Host combined with domain name"):
		return RouteInvalid("host combined with domain name must be no more than 253 characters")
	case has("Route conflicts with domain"):
		return RouteInvalid("host domain_conflict")
	case has("Reserved route ports quota exceeded for space"):
		return &Error{Status: 400, Code: 310010, Name: "SpaceQuotaTotalReservedRoutePortsExceeded",
			Description: "You have exceeded the total reserved route ports for your space's quota."}
	case has("Reserved route ports quota exceeded"):
		return &Error{Status: 400, Code: 310009, Name: "OrgQuotaTotalReservedRoutePortsExceeded",
			Description: "You have exceeded the total reserved route ports for your organization's quota."}
	case has("Routes quota exceeded for space"):
		return &Error{Status: 400, Code: 310005, Name: "SpaceQuotaTotalRoutesExceeded", Description: "You have exceeded the total routes for your space's quota."}
	case has("Routes quota exceeded"):
		return &Error{Status: 400, Code: 310006, Name: "OrgQuotaTotalRoutesExceeded", Description: "You have exceeded the total routes for your organization's quota."}
	case has("no more ports available"):
		// The router group's name is the routing API's; v3 does not show it.
		return &Error{Status: 403, Code: 21008, Name: "OutOfRouterGroupPorts",
			Description: "There are no more ports available for router group: . Please contact your administrator for more information."}
	}
	return RouteInvalid(detail)
}

// RouteInvalid is CC's 210001: "The route is invalid: %s".
func RouteInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 210001, Name: "RouteInvalid", Description: "The route is invalid: " + detail}
}

// RoutePortTaken is CC's 210005, with port_taken_error_message (and its
// "request an random port" typo).
func RoutePortTaken(port *int64) *Error {
	p := ""
	if port != nil {
		p = strconv.FormatInt(*port, 10)
	}
	return &Error{Status: 400, Code: 210005, Name: "RoutePortTaken", Description: "The port is taken: Port " + p +
		" is not available on this domain's router group. Try a different port, request an random port, or use a domain of a different router group."}
}

// PathInvalid is CC's 130004: "The path is invalid: %s".
func PathInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 130004, Name: "PathInvalid", Description: "The path is invalid: " + detail}
}

// InvalidRelation is CC's 1002, whose message is its argument.
func InvalidRelation(detail string) *Error {
	return &Error{Status: 400, Code: 1002, Name: "InvalidRelation", Description: detail}
}

// RouteNotFound is CC's 210002.
func RouteNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 210002, Name: "RouteNotFound", Description: "The route could not be found: " + guid}
}

// RouteMappingNotFound is CC's 210007.
func RouteMappingNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 210007, Name: "RouteMappingNotFound", Description: "The route mapping could not be found: " + guid}
}

// DomainInvalid is CC's 130001: "The domain is invalid: %s".
func DomainInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 130001, Name: "DomainInvalid", Description: "The domain is invalid: " + detail}
}

// RouteMappingTaken is CC's 210006 with RouteMappingsController's
// message: the port part only when there is a port.
func RouteMappingTaken(routeGUID, appGUID string, port *int) *Error {
	msg := "Route " + routeGUID + " is mapped to "
	if port != nil {
		msg += "port " + strconv.Itoa(*port) + " of "
	}
	return &Error{Status: 400, Code: 210006, Name: "RouteMappingTaken", Description: "The route mapping is taken: " + msg + "app " + appGUID}
}

// RoutePortNotEnabledOnApp is CC's 60023.
func RoutePortNotEnabledOnApp() *Error {
	return &Error{Status: 400, Code: 60023, Name: "RoutePortNotEnabledOnApp",
		Description: "Routes can only be mapped to ports already enabled for the application."}
}

// routeMappingFields are RouteMappingsController's attributes (app, route,
// app_port), in the order CC reports their parse errors.
var routeMappingFields = []bodyField{{"app_port", kindInteger, false}, {"app_guid", kindString, true}, {"route_guid", kindString, true}}

// RouteMappingRequest is a parsed POST /v2/route_mappings body.
type RouteMappingRequest struct {
	AppGUID, RouteGUID string
	AppPort            *int64
}

// ParseRouteMappingRequest parses a route mapping body.
func ParseRouteMappingRequest(body []byte) (RouteMappingRequest, error) {
	m, err := parseMessage(body, routeMappingFields, true)
	if err != nil {
		return RouteMappingRequest{}, err
	}
	return RouteMappingRequest{AppGUID: deref(m.str("app_guid")), RouteGUID: deref(m.str("route_guid")), AppPort: m.integer("app_port")}, nil
}
