package backend

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"capibridge/backend/store"
)

// TCP routes (MAPPING-routes §9.16). A TCP domain is a shared domain of a
// tcp router group; its routes have no host or path but a port from the
// group's reservable ports, and no two routes of the group's domains hold
// the same port (cc:app/actions/route_create.rb, lib/cloud_controller/
// route_validator.rb, port_generator.rb).

// tcpGroup is the router group of domain d when d is a TCP domain, nil for
// any other domain. A domain that names a router group the routing API
// does not know, or a TCP domain that names none, takes no route
// (RouteCreate#validate_tcp_route!, checked before anything else).
func (s *Server) tcpGroup(r *request, d store.Domain) (*store.RouterGroup, error) {
	guid := ""
	if d.RouterGroupGUID != nil {
		guid = strings.TrimSpace(*d.RouterGroupGUID)
	}
	if guid == "" && !contains(d.Protocols, "tcp") {
		return nil, nil
	}
	g, err := s.store.GetRouterGroup(r.ctx, guid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnprocessable("Route could not be created because the specified domain does not have a valid router group.")
	case err != nil:
		return nil, errInternal(err)
	case !contains(d.Protocols, "tcp"):
		return nil, nil
	}
	return &g, nil
}

// tcpPort is what CreateGroupRoute checks, in RouteCreate's order, against
// the ports that the routes of group g hold (port → domain guid), for a
// route rt of domain d that asked for a port when requested is set:
//
//   - without a port, rt takes a random free port of the group
//     (PortGenerator), or there are none left;
//   - then the Route model's TCP validations, as RouteCreate words them:
//     no host, no path, a port (0 and null are none), one of the group's
//     reservable ports, not a route of d already (the unique index, whose
//     text comes first), not held by another domain of the group.
func tcpPort(rt *store.Route, d store.Domain, g store.RouterGroup, requested bool) func(held map[int64]string) error {
	return func(held map[int64]string) error {
		ports := reservablePorts(g.ReservablePorts)
		if !requested {
			free := slices.DeleteFunc(slices.Clone(ports), func(p int64) bool { _, taken := held[p]; return taken })
			if len(free) == 0 {
				return errUnprocessable("There are no more ports available for this domain.")
			}
			port := free[rand.IntN(len(free))]
			rt.Port = &port
		}
		switch {
		case rt.Host != "":
			return errUnprocessable("Hosts are not supported for TCP routes.")
		case rt.Path != "":
			return errUnprocessable("Paths are not supported for TCP routes.")
		case rt.Port == nil || *rt.Port == 0:
			return errUnprocessable("Routes with protocol 'tcp' must specify a port.")
		}
		port := *rt.Port
		holder, taken := held[port]
		switch _, reservable := slices.BinarySearch(ports, port); {
		case !reservable:
			return portUnavailable(port)
		case taken && holder == d.GUID:
			return routeTaken(*rt, d)
		case taken:
			return portUnavailable(port)
		}
		return nil
	}
}

// portUnavailable is RouteCreate's text for a port outside the router
// group's reservable ports and for one another domain of the group holds.
func portUnavailable(port int64) error {
	return errUnprocessable("Port '" + strconv.FormatInt(port, 10) + "' is not available. Try a different port or use a different domain.")
}

// reservablePorts reads a router group's reservable ports as CC's
// RoutingApi::RouterGroup#reservable_ports does: single ports and
// "min-max" ranges joined by commas, ascending, each once. A piece that
// is not a port or a range of ports is left out; the routing API refuses
// such a group when it is made.
func reservablePorts(spec string) []int64 {
	var ports []int64
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		low, errLow := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
		high, errHigh := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
		if errLow != nil || errHigh != nil || low < 1 || high > 65535 {
			continue
		}
		for p := low; p <= high; p++ {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}
