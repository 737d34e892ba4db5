package backend

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Domains, routes and their destinations. Key order is that of CC's
// presenters (cc:app/presenters/v3/domain_presenter.rb, route_presenter.rb,
// route_destination_presenter.rb); CC's docs order some keys differently,
// and shared/reference has no example of these.

type domainJSON struct {
	GUID               string    `json:"guid"`
	CreatedAt          string    `json:"created_at"`
	UpdatedAt          string    `json:"updated_at"`
	Name               string    `json:"name"`
	Internal           bool      `json:"internal"`
	RouterGroup        *guidJSON `json:"router_group"`
	SupportedProtocols []string  `json:"supported_protocols"`
	// EnforceRoutePolicies and RoutePoliciesScope are shown only while
	// enforcement is on.
	EnforceRoutePolicies bool    `json:"enforce_route_policies,omitempty"`
	RoutePoliciesScope   *string `json:"route_policies_scope,omitempty"`
	Relationships        struct {
		Organization        toOne          `json:"organization"`
		SharedOrganizations sharedOrgsJSON `json:"shared_organizations"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self                link  `json:"self"`
		RouteReservations   link  `json:"route_reservations"`
		Organization        *link `json:"organization,omitempty"`
		SharedOrganizations *link `json:"shared_organizations,omitempty"`
	} `json:"links"`
}

// presentDomain renders a domain shared with the orgs sharedWith, those the
// caller sees (DomainPresenter#shared_org_guids).
func presentDomain(base string, d store.Domain, sharedWith []string) domainJSON {
	j := domainJSON{GUID: d.GUID, CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), Name: d.Name, Internal: d.Internal,
		SupportedProtocols: d.Protocols, Metadata: meta(d.Labels, d.Annotations)}
	if d.RouterGroupGUID != nil {
		j.RouterGroup = &guidJSON{GUID: d.RouterGroupGUID}
	}
	if d.EnforceRoutePolicies {
		j.EnforceRoutePolicies, j.RoutePoliciesScope = true, d.RoutePoliciesScope
	}
	j.Relationships.SharedOrganizations = sharedOrgsOf(sharedWith)
	self := base + "/v3/domains/" + d.GUID
	j.Links.Self = link{Href: self}
	j.Links.RouteReservations = link{Href: self + "/route_reservations"}
	if d.OrgGUID != "" {
		j.Relationships.Organization = one(d.OrgGUID)
		j.Links.Organization = &link{Href: base + "/v3/organizations/" + d.OrgGUID}
		j.Links.SharedOrganizations = &link{Href: self + "/relationships/shared_organizations"}
	}
	return j
}

// domainResource is GET /v3/domains and /v3/domains/:guid. Its list
// accepts created_ats and updated_ats but does not filter by them.
var domainResource = &resource[store.Domain, store.DomainFilter, domainJSON]{
	name:   "Domain",
	path:   "/v3/domains",
	keys:   listKeys("guids", "names", "organization_guids"),
	orders: timeOrders,
	filter: func(q *params) store.DomainFilter {
		return store.DomainFilter{GUIDs: q.list("guids"), Names: q.list("names"), OrgGUIDs: q.list("organization_guids"), Labels: q.labels()}
	},
	list:    (*store.Store).ListDomains,
	get:     (*store.Store).GetDomain,
	present: (*Server).presentDomains,
}

type destinationJSON struct {
	GUID string `json:"guid"`
	App  struct {
		GUID    string `json:"guid"`
		Process struct {
			Type string `json:"type"`
		} `json:"process"`
	} `json:"app"`
	Weight    *int64 `json:"weight"`
	Port      int64  `json:"port"`
	Protocol  string `json:"protocol"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func presentDestinations(ds []store.Destination) []destinationJSON {
	out := make([]destinationJSON, len(ds))
	for i, d := range ds {
		j := destinationJSON{GUID: d.GUID, Weight: d.Weight, Port: d.Port, Protocol: d.Protocol,
			CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt)}
		j.App.GUID, j.App.Process.Type = d.AppGUID, d.ProcessType
		out[i] = j
	}
	return out
}

type routeJSON struct {
	GUID          string            `json:"guid"`
	CreatedAt     string            `json:"created_at"`
	UpdatedAt     string            `json:"updated_at"`
	Protocol      string            `json:"protocol"`
	Host          string            `json:"host"`
	Path          string            `json:"path"`
	Port          *int64            `json:"port"`
	URL           string            `json:"url"`
	Destinations  []destinationJSON `json:"destinations"`
	Metadata      metadataJSON      `json:"metadata"`
	Relationships struct {
		Space  toOne `json:"space"`
		Domain toOne `json:"domain"`
	} `json:"relationships"`
	Links struct {
		Self         link `json:"self"`
		Space        link `json:"space"`
		Destinations link `json:"destinations"`
		Domain       link `json:"domain"`
	} `json:"links"`
}

// presentRoute renders a route of domain d. Its protocol is the domain's
// first; its url is host.domain/path, domain/path without a host, or
// domain:port for a tcp route (RoutePresenter#build_url).
func presentRoute(base string, rt store.Route, d store.Domain, ds []store.Destination) routeJSON {
	j := routeJSON{GUID: rt.GUID, CreatedAt: timestamp(rt.CreatedAt), UpdatedAt: timestamp(rt.UpdatedAt), Host: rt.Host, Path: rt.Path,
		Port: rt.Port, Destinations: presentDestinations(ds), Metadata: meta(rt.Labels, rt.Annotations)}
	if len(d.Protocols) > 0 {
		j.Protocol = d.Protocols[0]
	}
	switch {
	case rt.Port != nil && *rt.Port > 0:
		j.URL = d.Name + ":" + strconv.FormatInt(*rt.Port, 10)
	case rt.Host == "":
		j.URL = d.Name + rt.Path
	default:
		j.URL = rt.Host + "." + d.Name + rt.Path
	}
	j.Relationships.Space = one(rt.SpaceGUID)
	j.Relationships.Domain = one(rt.DomainGUID)
	self := base + "/v3/routes/" + rt.GUID
	j.Links.Self = link{Href: self}
	j.Links.Space = link{Href: base + "/v3/spaces/" + rt.SpaceGUID}
	j.Links.Destinations = link{Href: self + "/destinations"}
	j.Links.Domain = link{Href: base + "/v3/domains/" + rt.DomainGUID}
	return j
}

// routeIncluded is the included block of a routes list, in the order CC's
// RoutesController applies its decorators: domains, spaces, organizations.
type routeIncluded struct {
	Domains       []domainJSON `json:"domains,omitzero"`
	Spaces        []spaceJSON  `json:"spaces,omitzero"`
	Organizations []orgJSON    `json:"organizations,omitzero"`
	// RoutePolicies are always empty: route policies are not modelled.
	RoutePolicies []json.RawMessage `json:"route_policies,omitzero"`
}

// routeKeys are RoutesListMessage's keys in CC's order: ListMessage's
// (paging, created_ats, updated_ats, guids), then the message's own.
var routeKeys = append(append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
	"guids", "hosts", "space_guids", "organization_guids", "domain_guids", "paths", "app_guids", "include", "label_selector", "ports"),
	"service_instance_guids")

// routeResource is GET /v3/routes, /v3/routes/:guid (through showRoute)
// and, with appRoutes, /v3/apps/:guid/routes. A route shows its domain's
// protocols and its destinations. Every filter key is read as
// BaseMessage.to_array! reads it; an empty hosts or paths is [""], an
// empty guid list keeps no route (no guid is "").
var routeResource = &resource[store.Route, store.RouteListFilter, routeJSON]{
	name:   "Route",
	path:   "/v3/routes",
	keys:   routeKeys,
	orders: timeOrders,
	filter: func(q *params) store.RouteListFilter {
		f := store.RouteListFilter{RouteFilter: store.RouteFilter{AppGUIDs: q.list("app_guids"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), DomainGUIDs: q.list("domain_guids"), Hosts: q.q.routeTextList("hosts"),
			Paths: q.q.routeTextList("paths"), Labels: q.labels()},
			GUIDs: q.list("guids"), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats"),
			ServiceInstanceGUIDs: q.list("service_instance_guids")}
		if q.has("ports") {
			f.Ports = []int64{}
			for _, v := range q.list("ports") {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					// A port that is not a number matches no route, as in CC's
					// integer column comparison.
					continue
				}
				f.Ports = append(f.Ports, n)
			}
		}
		return f
	},
	list: (*store.Store).ListRoutesBy,
	get:  (*store.Store).GetRoute,
	present: func(s *Server, r *request, routes []store.Route) ([]routeJSON, error) {
		domains, err := s.routeDomains(r, routes)
		if err != nil {
			return nil, err
		}
		guids := make([]string, len(routes))
		for i, rt := range routes {
			guids[i] = rt.GUID
		}
		dests, err := s.store.Destinations(r.ctx, guids, store.DestinationFilter{})
		if err != nil {
			return nil, errInternal(err)
		}
		out := make([]routeJSON, len(routes))
		for i, rt := range routes {
			out[i] = presentRoute(r.base, rt, domains[rt.DomainGUID], dests[rt.GUID])
		}
		return out, nil
	},
	includes:     []string{"domain", "space", "space.organization", "route_policies"},
	showIncludes: true,
	included: func(s *Server, r *request, include map[string]bool, routes []store.Route) (any, error) {
		domains, err := s.routeDomains(r, routes)
		if err != nil {
			return nil, err
		}
		return s.includeForRoutes(r, include, routes, domains)
	},
}

// appRoutes is GET /v3/apps/:guid/routes: the routes with a destination
// for the app. CC reads it with the same RoutesListMessage as /v3/routes;
// an app_guids filter without the app keeps no route.
var appRoutes = nest[store.RouteListFilter]{keys: routeKeys,
	narrow: func(f *store.RouteListFilter, app string) {
		if f.AppGUIDs != nil && !contains(f.AppGUIDs, app) {
			f.AppGUIDs = []string{}
			return
		}
		f.AppGUIDs = []string{app}
	}}

// routeTextList reads hosts or paths: CC turns an empty value into [""]
// (the routes without a host, or without a path), not an empty list
// (RoutesListMessage.from_params).
func (q query) routeTextList(key string) []string {
	l := q.list(key)
	if l != nil && len(l) == 0 {
		return []string{""}
	}
	return l
}

// routeDomains loads the domains of routes, by guid.
func (s *Server) routeDomains(r *request, routes []store.Route) (map[string]store.Domain, error) {
	var guids []string
	seen := map[string]bool{}
	for _, rt := range routes {
		if !seen[rt.DomainGUID] {
			seen[rt.DomainGUID] = true
			guids = append(guids, rt.DomainGUID)
		}
	}
	ds, err := s.store.DomainsByGUID(r.ctx, guids)
	if err != nil {
		return nil, errInternal(err)
	}
	domains := make(map[string]store.Domain, len(ds))
	for _, d := range ds {
		domains[d.GUID] = d
	}
	return domains, nil
}

// includeForRoutes renders the domains, spaces, organizations and route
// policies include= asks for, each once, in the order of first use.
func (s *Server) includeForRoutes(r *request, include map[string]bool, routes []store.Route, domains map[string]store.Domain) (*routeIncluded, error) {
	inc := &routeIncluded{}
	var spaceGUIDs []string
	seenDomain, seenSpace := map[string]bool{}, map[string]bool{}
	for _, rt := range routes {
		if include["domain"] && !seenDomain[rt.DomainGUID] {
			seenDomain[rt.DomainGUID] = true
			// IncludeRouteDomainDecorator gives DomainPresenter no visible
			// orgs, so it shows none of the orgs a domain is shared with.
			inc.Domains = append(inc.Domains, presentDomain(r.base, domains[rt.DomainGUID], nil))
		}
		if !seenSpace[rt.SpaceGUID] {
			seenSpace[rt.SpaceGUID] = true
			spaceGUIDs = append(spaceGUIDs, rt.SpaceGUID)
		}
	}
	if include["domain"] && inc.Domains == nil {
		inc.Domains = []domainJSON{}
	}
	if include["route_policies"] {
		inc.RoutePolicies = []json.RawMessage{}
	}
	if !include["space"] && !include["space.organization"] {
		return inc, nil
	}
	spaces, err := s.store.SpacesByGUID(r.ctx, spaceGUIDs)
	if err != nil {
		return nil, errInternal(err)
	}
	orgs, err := s.orgsOf(r, spaces)
	if err != nil {
		return nil, err
	}
	// IncludeSpaceDecorator matches "space" and "space.organization" alike.
	inc.Spaces = make([]spaceJSON, 0, len(spaces))
	for _, sp := range spaces {
		inc.Spaces = append(inc.Spaces, presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended))
	}
	if include["space.organization"] {
		inc.Organizations = presentOrgs(r.base, spaces, orgs)
	}
	return inc, nil
}

// listRouteDestinations is GET /v3/routes/:guid/destinations: every
// destination of the route, unpaged (RouteDestinationsPresenter), filtered
// by guids and app_guids (RouteDestinationsListMessage). Any other key is
// 422, checked before the route (RoutesController#index_destinations
// calls unprocessable!).
func (s *Server) listRouteDestinations(r *request) error {
	if err := unprocessableQuery(r.query.allow("guids", "app_guids")); err != nil {
		return err
	}
	rt, err := routeResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	dests, err := s.store.Destinations(r.ctx, []string{rt.GUID}, store.DestinationFilter{GUIDs: r.query.list("guids"), AppGUIDs: r.query.list("app_guids")})
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, presentDestinationList(r.base, rt, dests[rt.GUID]))
}

type destinationListJSON struct {
	Destinations []destinationJSON `json:"destinations"`
	Links        struct {
		Self  link `json:"self"`
		Route link `json:"route"`
	} `json:"links"`
}

func presentDestinationList(base string, rt store.Route, dests []store.Destination) destinationListJSON {
	out := destinationListJSON{Destinations: presentDestinations(dests)}
	self := base + "/v3/routes/" + rt.GUID
	out.Links.Self = link{Href: self + "/destinations"}
	out.Links.Route = link{Href: self}
	return out
}

// routeEvent builds an audit event about a route, caused by the caller
// (cc:app/repositories/route_event_repository.rb: the target's name is the
// route's host).
func (s *Server) routeEvent(r *request, typ string, rt store.Route, sp store.Space, data any) store.Event {
	b, err := json.Marshal(data)
	if err != nil || data == nil {
		b = []byte("{}")
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: rt.GUID, TargetType: "route",
		TargetName: rt.Host, SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: b, CreatedAt: s.store.Now()}
}

// toOneGUID reads relationships.<key>.data.guid, with the text of CC's
// ToOneRelationshipValidator when it is missing or malformed.
func toOneGUID(rels object, key, label string) (string, error) {
	bad := errUnprocessable("Relationships " + label + " must be structured like this: \"" + key + `: {"data": {"guid": "valid-guid"}}"`)
	rel, err := rels.sub(key, "Relationships "+label)
	if err != nil || rel == nil {
		return "", bad
	}
	data, err := rel.sub("data", "Relationships "+label+" data")
	if err != nil || data == nil {
		return "", bad
	}
	guid, err := data.str("guid", "Relationships "+label+" guid")
	if err != nil || guid == nil || *guid == "" {
		return "", bad
	}
	return *guid, nil
}

// routeHost is RouteCreateMessage's host format: a DNS label or "*".
var routeHost = regexp.MustCompile(`^([\w\-]+|\*)?$`)

// parseRouteCreate reads a route create body (RouteCreateMessage) into a
// route and the guids of its space and domain.
func parseRouteCreate(o object) (store.Route, error) {
	var rt store.Route
	host, err := o.str("host", "Host")
	if err != nil {
		return rt, err
	}
	if host != nil {
		if len(*host) > 63 {
			return rt, errUnprocessable("Host is too long (maximum is 63 characters)")
		}
		if !routeHost.MatchString(*host) {
			return rt, errUnprocessable(`Host must be either "*" or contain only alphanumeric characters, "_", or "-"`)
		}
		rt.Host = *host
	}
	path, err := o.str("path", "Path")
	if err != nil {
		return rt, err
	}
	if path != nil {
		switch {
		case len(*path) > 128:
			return rt, errUnprocessable("Path is too long (maximum is 128 characters)")
		case *path != "" && !strings.HasPrefix(*path, "/"):
			return rt, errUnprocessable("Path must begin with /")
		case strings.Contains(*path, "?"):
			return rt, errUnprocessable("Path cannot contain ?")
		case *path == "/":
			return rt, errUnprocessable("Path cannot be exactly /")
		}
		rt.Path = *path
	}
	if rt.Port, err = o.integer("port", "Port"); err != nil {
		return rt, err
	}
	if rt.Port != nil && *rt.Port < 0 {
		return rt, errUnprocessable("Port must be greater than or equal to 0")
	}
	if rt.Port != nil && *rt.Port > 65535 {
		return rt, errUnprocessable("Port must be less than or equal to 65535")
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return rt, err
	}
	if rels == nil {
		return rt, errUnprocessable("Relationships can't be blank")
	}
	if err := rels.only("space", "domain"); err != nil {
		return rt, err
	}
	if rt.SpaceGUID, err = toOneGUID(rels, "space", "Space"); err != nil {
		return rt, err
	}
	rt.DomainGUID, err = toOneGUID(rels, "domain", "Domain")
	return rt, err
}

// createRoute is POST /v3/routes (RoutesController#create, RouteCreate):
// 201 with the route. The space and the domain need only exist; writing
// needs admin or space developer in an active org.
func (s *Server) createRoute(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if !r.user.admin() {
		if err := s.requireFlag(r, "route_creation"); err != nil {
			return err
		}
	}
	o, err := decodeObject(r.ctx.PostBody(), "host", "path", "port", "relationships", "metadata")
	if err != nil {
		return err
	}
	rt, err := parseRouteCreate(o)
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	all := store.Viewer{All: true}
	sp, err := s.store.GetSpace(r.ctx, all, rt.SpaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("Invalid space. Ensure that the space exists and you have access to it.")
	}
	if err != nil {
		return errInternal(err)
	}
	d, err := s.store.GetDomain(r.ctx, all, rt.DomainGUID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("Invalid domain. Ensure that the domain exists and you have access to it.")
	}
	if err != nil {
		return errInternal(err)
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return errInternal(err)
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	if d.OrgGUID == "" && rt.Host == "*" && !r.user.admin() {
		return errUnprocessable("You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization.")
	}
	group, err := s.tcpGroup(r, d)
	if err != nil {
		return err
	}
	if err := s.checkRoute(r, &rt, sp, d); err != nil {
		return err
	}
	if err := s.routeQuotaErr(r.ctx, sp, group != nil); err != nil {
		return err
	}
	now := s.store.Now()
	rt.GUID, rt.CreatedAt, rt.UpdatedAt = uuid.NewString(), now, now
	if md != nil {
		rt.Labels, rt.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	ev := s.routeEvent(r, "audit.route.create", rt, sp, map[string]any{"request": o})
	if group != nil {
		err = s.store.CreateGroupRoute(r.ctx, &rt, group.GUID, tcpPort(&rt, d, *group, o.has("port")), ev)
	} else {
		err = s.store.CreateRoute(r.ctx, rt, ev)
	}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrConflict):
		return routeTaken(rt, d)
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentRoute(r.base, rt, d, nil))
}

// checkRoute applies the Route model's validations, with RouteCreate's
// texts; those of a TCP domain need the ports its router group holds, so
// tcpPort applies them as the route is written.
func (s *Server) checkRoute(r *request, rt *store.Route, sp store.Space, d store.Domain) error {
	if err := s.domainUsableIn(r, d, sp.OrgGUID); err != nil {
		return err
	}
	if contains(d.Protocols, "tcp") {
		return nil
	}
	if rt.Port != nil && *rt.Port > 0 {
		return errUnprocessable("Routes with protocol 'http' do not support ports.")
	}
	rt.Port = nil
	switch {
	case d.Internal && rt.Host == "*":
		return errUnprocessable("Wildcard hosts are not supported for internal domains.")
	case d.Internal && rt.Path != "":
		return errUnprocessable("Paths are not supported for internal domains.")
	case d.OrgGUID == "" && rt.Host == "":
		return errUnprocessable("Missing host. Routes in shared domains must have a host defined.")
	case len(rt.Host)+1+len(d.Name) > 253:
		return errUnprocessable("Host combined with domain name must be no more than 253 characters.")
	}
	return nil
}

// domainUsableIn refuses a private domain that the org neither owns nor
// is shared with (Domain#usable_by_organization?), with RouteCreate's text.
func (s *Server) domainUsableIn(r *request, d store.Domain, orgGUID string) error {
	if d.OrgGUID == "" || d.OrgGUID == orgGUID {
		return nil
	}
	all := store.Viewer{All: true}
	shared, err := s.store.SharedOrgs(r.ctx, all, []string{d.GUID})
	if err != nil {
		return errInternal(err)
	}
	if contains(shared[d.GUID], orgGUID) {
		return nil
	}
	org, err := s.store.GetOrg(r.ctx, all, orgGUID)
	if err != nil {
		return errInternal(err)
	}
	return errUnprocessable("Invalid domain. Domain '" + d.Name + "' is not available in organization '" + org.Name + "'.")
}

// routeTaken is RouteCreate's text for an address already in use.
func routeTaken(rt store.Route, d store.Domain) error {
	switch {
	case rt.Port != nil:
		return errUnprocessable("Route already exists with port '" + strconv.FormatInt(*rt.Port, 10) + "' for domain '" + d.Name + "'.")
	case rt.Path == "" && rt.Host == "":
		return errUnprocessable("Route already exists for domain '" + d.Name + "'.")
	case rt.Path == "":
		return errUnprocessable("Route already exists with host '" + rt.Host + "' for domain '" + d.Name + "'.")
	case rt.Host == "":
		return errUnprocessable("Route already exists with path '" + rt.Path + "' for domain '" + d.Name + "'.")
	}
	return errUnprocessable("Route already exists with host '" + rt.Host + "' and path '" + rt.Path + "' for domain '" + d.Name + "'.")
}

// writableRoute loads a route the caller can see (404 Route) in a space it
// may write to (403, as can_manage_apps_in_active_space? and suspended!).
func (s *Server) writableRoute(r *request) (store.Route, store.Space, error) {
	rt, err := s.store.GetRoute(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return rt, store.Space{}, storeErr(err, "Route")
	}
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, rt.SpaceGUID)
	if err != nil {
		return rt, sp, errInternal(err)
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return rt, sp, errInternal(err)
	}
	return rt, sp, roles.writeErr()
}

// deleteRoute is DELETE /v3/routes/:guid: 202 with a job, as CC's
// RoutesController#destroy. The route and its destinations go at once; the
// job finishes after the configured delay, so clients see it PROCESSING.
func (s *Server) deleteRoute(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	rt, sp, err := s.writableRoute(r)
	if err != nil {
		return err
	}
	ev := s.routeEvent(r, "audit.route.delete-request", rt, sp, map[string]any{"request": map[string]bool{"recursive": true}})
	if err := s.store.DeleteRoute(r.ctx, rt.GUID, ev); err != nil {
		return storeErr(err, "Route")
	}
	return s.startJob(r, "route.delete", rt.GUID)
}

// destinationReq is one destination of an insert or a replace.
type destinationReq struct {
	appGUID, processType, protocol string
	port, weight                   *int64
}

// parseDestinations reads {"destinations": [...]} as CC's
// RouteUpdateDestinationsMessage does; replace allows an empty list and
// weights.
func parseDestinations(body []byte, replace bool) ([]destinationReq, error) {
	o, err := decodeObject(body, "destinations")
	if err != nil {
		return nil, err
	}
	minimum := 1
	if replace {
		minimum = 0
	}
	var items []json.RawMessage
	if err := json.Unmarshal(o["destinations"], &items); err != nil || o.isNull("destinations") || len(items) < minimum || len(items) > 100 {
		return nil, errUnprocessable("Destinations must be an array containing between " + strconv.Itoa(minimum) + " and 100 destination objects.")
	}
	out := make([]destinationReq, 0, len(items))
	weighted := 0
	var sum int64
	for i, item := range items {
		bad := func(why string) error { return errUnprocessable("Destinations[" + strconv.Itoa(i) + "]: " + why) }
		var d object
		if err := json.Unmarshal(item, &d); err != nil || d == nil {
			return nil, bad("must be an object.")
		}
		if !d.has("app") {
			return nil, bad(`must have an "app".`)
		}
		if d.only("app", "weight", "port", "protocol") != nil {
			return nil, bad(`must have only "app" and optionally "weight", "port" or "protocol".`)
		}
		var req destinationReq
		app, err := d.sub("app", "App")
		structure := bad(`app must have the structure {"guid": "app_guid"}`)
		if err != nil || app == nil {
			return nil, structure
		}
		guid, err := app.str("guid", "Guid")
		if err != nil || guid == nil || len(*guid) < 1 || len(*guid) >= 200 {
			return nil, structure
		}
		req.appGUID, req.processType = *guid, "web"
		if app.has("process") {
			proc, err := app.sub("process", "Process")
			typ, terr := proc.str("type", "Type")
			if err != nil || proc == nil || proc.only("type") != nil || terr != nil || typ == nil || *typ == "" {
				return nil, bad(`process must have the structure {"type": "process_type"}`)
			}
			req.processType = *typ
		}
		if d.has("weight") && !d.isNull("weight") {
			if !replace {
				return nil, bad("weighted destinations can only be used when replacing all destinations.")
			}
			w, err := d.integer("weight", "Weight")
			if err != nil || *w < 1 || *w > 100 {
				return nil, bad("weight must be a positive integer between 1 and 100.")
			}
			req.weight = w
			weighted++
			sum += *w
		}
		if d.has("port") && !d.isNull("port") {
			p, err := d.integer("port", "Port")
			if err != nil || *p < 1024 || *p > 65535 {
				return nil, bad("port must be a positive integer between 1024 and 65535 inclusive.")
			}
			req.port = p
		}
		if d.has("protocol") && !d.isNull("protocol") {
			p, err := d.str("protocol", "Protocol")
			if err != nil || !contains([]string{"http1", "http2", "tcp"}, *p) {
				return nil, bad("protocol must be 'http1', 'http2' or 'tcp'.")
			}
			req.protocol = *p
		}
		out = append(out, req)
	}
	if weighted > 0 && weighted < len(out) {
		return nil, errUnprocessable("Destinations cannot contain both weighted and unweighted destinations.")
	}
	if weighted > 0 && sum != 100 {
		return nil, errUnprocessable("Destinations must have weights that sum to 100.")
	}
	return out, nil
}

// sameDestination compares destinations as UpdateRouteDestinations does:
// app, process type, port and weight.
func sameDestination(a, b store.Destination) bool {
	return a.AppGUID == b.AppGUID && a.ProcessType == b.ProcessType && a.Port == b.Port &&
		(a.Weight == nil) == (b.Weight == nil) && (a.Weight == nil || *a.Weight == *b.Weight)
}

// destinationEvent is audit.app.map-route or unmap-route about d's app
// (AppEventRepository#record_map_route).
func (s *Server) destinationEvent(r *request, typ string, a store.App, sp store.Space, d store.Destination) store.Event {
	return s.appEvent(r, typ, a, sp, map[string]any{"route_guid": d.RouteGUID, "app_port": d.Port, "route_mapping_guid": d.GUID,
		"destination_guid": d.GUID, "process_type": d.ProcessType, "weight": d.Weight, "protocol": d.Protocol})
}

func (s *Server) insertRouteDestinations(r *request) error {
	return s.updateRouteDestinations(r, false)
}

func (s *Server) replaceRouteDestinations(r *request) error {
	return s.updateRouteDestinations(r, true)
}

// updateRouteDestinations is POST (insert) and PATCH (replace)
// /v3/routes/:guid/destinations: 200 with every destination of the route
// (RoutesController#insert_destinations, #replace_destinations).
func (s *Server) updateRouteDestinations(r *request, replace bool) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	reqs, err := parseDestinations(r.ctx.PostBody(), replace)
	if err != nil {
		return err
	}
	rt, sp, err := s.writableRoute(r)
	if err != nil {
		return err
	}
	ds, err := s.store.DomainsByGUID(r.ctx, []string{rt.DomainGUID})
	if err != nil || len(ds) != 1 {
		return errInternal(err)
	}
	apps, err := s.destinationApps(r, rt, reqs)
	if err != nil {
		return err
	}
	tcp := contains(ds[0].Protocols, "tcp")
	now := s.store.Now()
	wanted := make([]store.Destination, 0, len(reqs))
	for _, q := range reqs {
		d := store.Destination{GUID: uuid.NewString(), RouteGUID: rt.GUID, AppGUID: q.appGUID, ProcessType: q.processType, Port: 8080,
			Weight: q.weight, Protocol: q.protocol, CreatedAt: now, UpdatedAt: now}
		if q.port != nil {
			d.Port = *q.port
		}
		switch {
		case tcp && d.Protocol == "":
			d.Protocol = "tcp"
		case d.Protocol == "":
			d.Protocol = "http1"
		case tcp && d.Protocol != "tcp":
			return errUnprocessable("Destination protocol must be 'tcp' if route protocol is 'tcp'")
		case !tcp && d.Protocol == "tcp":
			return errUnprocessable("Destination protocol must be 'http1' or 'http2' if route protocol is 'http'")
		}
		for _, w := range wanted {
			if sameDestination(w, d) {
				return errUnprocessable("Destinations cannot contain duplicate entries")
			}
		}
		wanted = append(wanted, d)
	}
	existing, err := s.store.Destinations(r.ctx, []string{rt.GUID}, store.DestinationFilter{})
	if err != nil {
		return errInternal(err)
	}
	current := existing[rt.GUID]
	if !replace {
		for _, d := range current {
			if d.Weight != nil {
				return errUnprocessable("Destinations cannot be inserted when there are weighted destinations already configured.")
			}
		}
	}
	var add []store.Destination
	var remove []string
	var events []store.Event
	if replace {
		for _, d := range current {
			if slices.ContainsFunc(wanted, func(w store.Destination) bool { return sameDestination(w, d) }) {
				continue
			}
			a, ok := apps[d.AppGUID]
			if !ok {
				if a, err = s.store.GetApp(r.ctx, store.Viewer{All: true}, d.AppGUID); err != nil {
					return errInternal(err)
				}
			}
			remove = append(remove, d.GUID)
			events = append(events, s.destinationEvent(r, "audit.app.unmap-route", a, sp, d))
		}
	}
	for _, d := range wanted {
		if slices.ContainsFunc(current, func(c store.Destination) bool { return sameDestination(c, d) }) {
			continue
		}
		add = append(add, d)
		events = append(events, s.destinationEvent(r, "audit.app.map-route", apps[d.AppGUID], sp, d))
	}
	if err := s.store.UpdateDestinations(r.ctx, add, remove, events...); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("Destinations cannot contain duplicate entries")
		}
		return errInternal(err)
	}
	after, err := s.store.Destinations(r.ctx, []string{rt.GUID}, store.DestinationFilter{})
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, presentDestinationList(r.base, rt, after[rt.GUID]))
}

// destinationApps loads the apps of the destinations, with the texts of
// RoutesController#validate_app_guids! and #validate_app_spaces!.
func (s *Server) destinationApps(r *request, rt store.Route, reqs []destinationReq) (map[string]store.App, error) {
	apps := map[string]store.App{}
	var missing, hidden []string
	for _, q := range reqs {
		if _, ok := apps[q.appGUID]; ok || contains(missing, q.appGUID) {
			continue
		}
		a, err := s.store.GetApp(r.ctx, store.Viewer{All: true}, q.appGUID)
		if errors.Is(err, store.ErrNotFound) {
			missing = append(missing, q.appGUID)
			continue
		}
		if err != nil {
			return nil, errInternal(err)
		}
		apps[a.GUID] = a
	}
	if len(missing) > 0 {
		return nil, errUnprocessable(`App(s) with guid(s) "` + strings.Join(missing, `", "`) + `" do not exist.`)
	}
	checked := map[string]bool{}
	for _, q := range reqs {
		if checked[q.appGUID] {
			continue
		}
		checked[q.appGUID] = true
		if _, err := s.store.GetApp(r.ctx, r.user.viewer(), q.appGUID); errors.Is(err, store.ErrNotFound) {
			hidden = append(hidden, q.appGUID)
		} else if err != nil {
			return nil, errInternal(err)
		}
	}
	if len(hidden) > 0 {
		return nil, errUnprocessable(`App(s) with guid(s) "` + strings.Join(hidden, `", "`) + `" you do not have access.`)
	}
	for _, a := range apps {
		if a.SpaceGUID != rt.SpaceGUID {
			return nil, errUnprocessable("Routes destinations must be in either the route's space or the route's shared spaces")
		}
	}
	return apps, nil
}

// deleteRouteDestination is DELETE /v3/routes/:guid/destinations/:guid:
// 204 (RoutesController#destroy_destination).
func (s *Server) deleteRouteDestination(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	rt, sp, err := s.writableRoute(r)
	if err != nil {
		return err
	}
	dests, err := s.store.Destinations(r.ctx, []string{rt.GUID}, store.DestinationFilter{GUIDs: []string{r.params[1]}})
	if err != nil {
		return errInternal(err)
	}
	if len(dests[rt.GUID]) == 0 {
		return errUnprocessable("Unable to unmap route from destination. Ensure the route has a destination with this guid.")
	}
	d := dests[rt.GUID][0]
	if d.Weight != nil {
		return errUnprocessable("Weighted destinations cannot be deleted individually.")
	}
	a, err := s.store.GetApp(r.ctx, store.Viewer{All: true}, d.AppGUID)
	if err != nil {
		return errInternal(err)
	}
	if err := s.store.UpdateDestinations(r.ctx, nil, []string{d.GUID}, s.destinationEvent(r, "audit.app.unmap-route", a, sp, d)); err != nil {
		return storeErr(err, "Route")
	}
	r.ctx.SetStatusCode(204)
	return nil
}
