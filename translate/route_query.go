package translate

import (
	"strconv"
	"strings"
)

// RouteListKeys returns the q keys of /v2/routes and the route lists
// under spaces (RoutesController query_parameters; MAPPING-routes §9.3).
func RouteListKeys() []string {
	return []string{"host", "domain_guid", "organization_guid", "path", "port"}
}

// RouteQuery is a route list's q translated: the filters GET /v3/routes
// applies (nil: none; an empty string is a value, hosts= matching the
// routes without a host), and the ones the gateway applies itself.
type RouteQuery struct {
	Hosts, Paths, DomainGUIDs, OrgGUIDs []string
	// Local are the filters v3 cannot express: host and path compared with
	// <, >, <= or >=, and every port filter (v2 stores http routes with
	// port 0 and compares integers; v3 shows those ports as null).
	Local []Filter
	// Empty is set when no route can match.
	Empty bool
}

// RouteQueryFromFilters translates parsed q filters (§9.3). Filters on the
// same key AND together. domain_guid and organization_guid are foreign
// keys, whose operator CC ignores. CC ORs the first organization_guid: and
// the first organization_guid IN; any further ones are ANDed here, which
// is what CC's association filter does with them.
func RouteQueryFromFilters(fs []Filter) RouteQuery {
	var q RouteQuery
	and := andValues
	var orgEq, orgIn []string
	seenEq, seenIn := false, false
	for _, f := range fs {
		switch {
		case f.Key == "port":
			q.Local = append(q.Local, f)
		case f.Key == "organization_guid" && f.Op == OpIn && !seenIn:
			seenIn, orgIn = true, f.Values
		case f.Key == "organization_guid" && f.Op != OpIn && !seenEq:
			seenEq, orgEq = true, f.Values
		case f.ForeignKey():
			target := &q.DomainGUIDs
			if f.Key == "organization_guid" {
				target = &q.OrgGUIDs
			}
			and(target, f.Values, false)
		case f.Op == OpEq || f.Op == OpIn:
			target := &q.Hosts
			if f.Key == "path" {
				target = &q.Paths
			}
			and(target, f.Values, true)
		default:
			q.Local = append(q.Local, f)
		}
	}
	if seenEq || seenIn {
		and(&q.OrgGUIDs, append(append([]string{}, orgEq...), orgIn...), false)
	}
	for _, set := range [][]string{q.Hosts, q.Paths, q.DomainGUIDs, q.OrgGUIDs} {
		if set != nil && len(set) == 0 {
			q.Empty = true
		}
	}
	return q
}

// Match applies the local filters to a route.
func (q RouteQuery) Match(r V3Route) bool {
	for _, f := range q.Local {
		if f.Key == "port" {
			if !matchPort(f, r.Port) {
				return false
			}
			continue
		}
		if !f.Matches(RouteField(r, f.Key)) {
			return false
		}
	}
	return true
}

// matchPort compares a route's port as CC's integer column: an http route
// is stored with port 0, a value is read with Ruby's to_i ("abc" is 0),
// and an empty value is NULL, which no route has.
func matchPort(f Filter, port *int) bool {
	have := int64(0)
	if port != nil {
		have = int64(*port)
	}
	if f.Op == OpIn {
		for _, v := range f.Values {
			if v != "" && RubyToI(v) == have {
				return true
			}
		}
		return false
	}
	if len(f.Values) != 1 || f.Values[0] == "" {
		return false
	}
	want := RubyToI(f.Values[0])
	switch f.Op {
	case OpEq:
		return have == want
	case OpLt:
		return have < want
	case OpGt:
		return have > want
	case OpLe:
		return have <= want
	case OpGe:
		return have >= want
	}
	return false
}

// RubyToI is Ruby's String#to_i: an optional sign and the leading digits,
// 0 without any.
func RubyToI(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '_' && end > 0) {
		end++
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s[:end], "_", ""), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// RouteMatchAll applies every filter to a route in the gateway, for the
// route lists v3 answers whole (an app's routes).
func RouteMatchAll(fs []Filter, r V3Route) bool { return RouteQuery{Local: fs}.Match(r) }

// andValues narrows a filter's value set to values: the first filter on a
// key sets it, every further one intersects (q on one key ANDs). fold
// compares case-insensitively (CC's case-insensitive columns).
func andValues(set *[]string, values []string, fold bool) {
	if *set == nil {
		*set = append([]string{}, values...)
		return
	}
	var out []string
	for _, v := range values {
		for _, w := range *set {
			if v == w || fold && strings.EqualFold(v, w) {
				out = append(out, w)
				break
			}
		}
	}
	*set = append([]string{}, out...)
}
