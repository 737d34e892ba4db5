package backend

import (
	"strconv"

	"capibridge/backend/store"
)

// Domains, routes with their destinations, and service credential
// bindings. Key order is that of CC's presenters
// (cc:app/presenters/v3/domain_presenter.rb, route_presenter.rb,
// route_destination_presenter.rb, service_credential_binding_presenter.rb);
// CC's docs order some keys differently, and shared/reference has no
// example of these.

type domainJSON struct {
	GUID               string    `json:"guid"`
	CreatedAt          string    `json:"created_at"`
	UpdatedAt          string    `json:"updated_at"`
	Name               string    `json:"name"`
	Internal           bool      `json:"internal"`
	RouterGroup        *guidJSON `json:"router_group"`
	SupportedProtocols []string  `json:"supported_protocols"`
	Relationships      struct {
		Organization        toOne `json:"organization"`
		SharedOrganizations struct {
			Data []guidJSON `json:"data"`
		} `json:"shared_organizations"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self                link  `json:"self"`
		RouteReservations   link  `json:"route_reservations"`
		Organization        *link `json:"organization,omitempty"`
		SharedOrganizations *link `json:"shared_organizations,omitempty"`
	} `json:"links"`
}

// presentDomain renders a domain. Sharing a private domain with other orgs
// is not modelled, so shared_organizations is always empty.
func presentDomain(base string, d store.Domain) domainJSON {
	j := domainJSON{GUID: d.GUID, CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), Name: d.Name, Internal: d.Internal,
		SupportedProtocols: d.Protocols, Metadata: meta(d.Labels, d.Annotations)}
	if d.RouterGroupGUID != nil {
		j.RouterGroup = &guidJSON{GUID: d.RouterGroupGUID}
	}
	j.Relationships.SharedOrganizations.Data = []guidJSON{}
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

func (s *Server) listDomains(r *request) error {
	if err := r.query.allow(listKeys("guids", "names", "organization_guids")...); err != nil {
		return err
	}
	p, err := r.query.page("created_at", "updated_at")
	if err != nil {
		return err
	}
	labels, err := r.query.labels()
	if err != nil {
		return err
	}
	f := store.DomainFilter{GUIDs: r.query.list("guids"), Names: r.query.list("names"), OrgGUIDs: r.query.list("organization_guids"), Labels: labels}
	domains, total, err := s.store.ListDomains(r.ctx, r.user.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	out := newList(r, "/v3/domains", p, total, domains, func(d store.Domain) domainJSON { return presentDomain(r.base, d) })
	return r.reply(200, out)
}

func (s *Server) getDomain(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	d, err := s.store.GetDomain(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Domain")
	}
	return r.reply(200, presentDomain(r.base, d))
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
}

var routeKeys = append(append([]string{}, pageParams...), "app_guids", "space_guids", "organization_guids", "domain_guids",
	"hosts", "paths", "ports", "include", "label_selector")

func (s *Server) listRoutes(r *request) error {
	if err := r.query.allow(routeKeys...); err != nil {
		return err
	}
	return s.routeList(r, "/v3/routes", nil)
}

// listAppRoutes is GET /v3/apps/:guid/routes: the routes with a destination
// for the app. CC reads it with the same RoutesListMessage as /v3/routes.
func (s *Server) listAppRoutes(r *request) error {
	if err := r.query.allow(routeKeys...); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	return s.routeList(r, "/v3/apps/"+acc.app.GUID+"/routes", []string{acc.app.GUID})
}

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

func (s *Server) routeList(r *request, path string, appGUIDs []string) error {
	p, err := r.query.page("created_at", "updated_at")
	if err != nil {
		return err
	}
	include, err := r.include("domain", "space", "space.organization")
	if err != nil {
		return err
	}
	labels, err := r.query.labels()
	if err != nil {
		return err
	}
	f := store.RouteFilter{AppGUIDs: r.query.list("app_guids"), SpaceGUIDs: r.query.list("space_guids"), OrgGUIDs: r.query.list("organization_guids"),
		DomainGUIDs: r.query.list("domain_guids"), Hosts: r.query.routeTextList("hosts"), Paths: r.query.routeTextList("paths"), Labels: labels}
	if r.query.has("ports") {
		f.Ports = []int64{}
		for _, v := range r.query.list("ports") {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				// A port that is not a number matches no route, as in CC's
				// integer column comparison.
				continue
			}
			f.Ports = append(f.Ports, n)
		}
	}
	if appGUIDs != nil {
		if f.AppGUIDs != nil && !contains(f.AppGUIDs, appGUIDs[0]) {
			appGUIDs = []string{}
		}
		f.AppGUIDs = appGUIDs
	}
	routes, total, err := s.store.ListRoutes(r.ctx, r.user.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	domains, dests, err := s.routeParts(r, routes)
	if err != nil {
		return err
	}
	out := struct {
		listJSON[routeJSON]
		Included *routeIncluded `json:"included,omitempty"`
	}{listJSON: listJSON[routeJSON]{Pagination: pagination(r.base, path, r.query, p, total), Resources: make([]routeJSON, len(routes))}}
	for i, rt := range routes {
		out.Resources[i] = presentRoute(r.base, rt, domains[rt.DomainGUID], dests[rt.GUID])
	}
	if len(include) > 0 {
		if out.Included, err = s.includeForRoutes(r, include, routes, domains); err != nil {
			return err
		}
	}
	return r.reply(200, out)
}

// routeParts loads the domains and destinations of routes.
func (s *Server) routeParts(r *request, routes []store.Route) (map[string]store.Domain, map[string][]store.Destination, error) {
	var domainGUIDs, routeGUIDs []string
	seen := map[string]bool{}
	for _, rt := range routes {
		routeGUIDs = append(routeGUIDs, rt.GUID)
		if !seen[rt.DomainGUID] {
			seen[rt.DomainGUID] = true
			domainGUIDs = append(domainGUIDs, rt.DomainGUID)
		}
	}
	ds, err := s.store.DomainsByGUID(r.ctx, domainGUIDs)
	if err != nil {
		return nil, nil, errInternal(err)
	}
	domains := make(map[string]store.Domain, len(ds))
	for _, d := range ds {
		domains[d.GUID] = d
	}
	dests, err := s.store.Destinations(r.ctx, routeGUIDs, store.DestinationFilter{})
	if err != nil {
		return nil, nil, errInternal(err)
	}
	return domains, dests, nil
}

// includeForRoutes renders the domains, spaces and organizations include=
// asks for, each once, in the order of first use.
func (s *Server) includeForRoutes(r *request, include map[string]bool, routes []store.Route, domains map[string]store.Domain) (*routeIncluded, error) {
	inc := &routeIncluded{}
	var spaceGUIDs []string
	seenDomain, seenSpace := map[string]bool{}, map[string]bool{}
	for _, rt := range routes {
		if include["domain"] && !seenDomain[rt.DomainGUID] {
			seenDomain[rt.DomainGUID] = true
			inc.Domains = append(inc.Domains, presentDomain(r.base, domains[rt.DomainGUID]))
		}
		if !seenSpace[rt.SpaceGUID] {
			seenSpace[rt.SpaceGUID] = true
			spaceGUIDs = append(spaceGUIDs, rt.SpaceGUID)
		}
	}
	if include["domain"] && inc.Domains == nil {
		inc.Domains = []domainJSON{}
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

// findRoute loads a route the caller can see, with its domain and
// destinations (404 Route otherwise).
func (s *Server) findRoute(r *request, f store.DestinationFilter) (store.Route, store.Domain, []store.Destination, error) {
	rt, err := s.store.GetRoute(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return rt, store.Domain{}, nil, storeErr(err, "Route")
	}
	ds, err := s.store.DomainsByGUID(r.ctx, []string{rt.DomainGUID})
	if err != nil || len(ds) != 1 {
		return rt, store.Domain{}, nil, errInternal(err)
	}
	dests, err := s.store.Destinations(r.ctx, []string{rt.GUID}, f)
	if err != nil {
		return rt, store.Domain{}, nil, errInternal(err)
	}
	return rt, ds[0], dests[rt.GUID], nil
}

func (s *Server) getRoute(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	rt, d, dests, err := s.findRoute(r, store.DestinationFilter{})
	if err != nil {
		return err
	}
	return r.reply(200, presentRoute(r.base, rt, d, dests))
}

// listRouteDestinations is GET /v3/routes/:guid/destinations: every
// destination of the route, unpaged (RouteDestinationsPresenter), filtered
// by guids and app_guids (RouteDestinationsListMessage).
func (s *Server) listRouteDestinations(r *request) error {
	if err := r.query.allow("guids", "app_guids"); err != nil {
		return err
	}
	rt, _, dests, err := s.findRoute(r, store.DestinationFilter{GUIDs: r.query.list("guids"), AppGUIDs: r.query.list("app_guids")})
	if err != nil {
		return err
	}
	out := struct {
		Destinations []destinationJSON `json:"destinations"`
		Links        struct {
			Self  link `json:"self"`
			Route link `json:"route"`
		} `json:"links"`
	}{Destinations: presentDestinations(dests)}
	self := r.base + "/v3/routes/" + rt.GUID
	out.Links.Self = link{Href: self + "/destinations"}
	out.Links.Route = link{Href: self}
	return r.reply(200, out)
}

type bindingJSON struct {
	GUID          string  `json:"guid"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	Name          *string `json:"name"`
	Type          string  `json:"type"`
	LastOperation struct {
		Type        string `json:"type"`
		State       string `json:"state"`
		Description string `json:"description"`
		CreatedAt   string `json:"created_at"`
		UpdatedAt   string `json:"updated_at"`
	} `json:"last_operation"`
	Metadata      metadataJSON `json:"metadata"`
	Relationships struct {
		ServiceInstance toOne  `json:"service_instance"`
		App             *toOne `json:"app,omitempty"`
	} `json:"relationships"`
	Links struct {
		Self            link  `json:"self"`
		Details         link  `json:"details"`
		ServiceInstance link  `json:"service_instance"`
		Parameters      *link `json:"parameters,omitempty"`
		App             *link `json:"app,omitempty"`
	} `json:"links"`
}

// presentBinding renders a binding. The parameters link is for managed
// service instances only; without service instances in the store, it is
// always shown.
func presentBinding(base string, b store.ServiceCredentialBinding) bindingJSON {
	j := bindingJSON{GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), Name: b.Name, Type: b.Type,
		Metadata: meta(b.Labels, b.Annotations)}
	// A binding's last operation carries the binding's own times when CC
	// has no operation row (LastOperationHelper).
	lo := &j.LastOperation
	lo.Type, lo.State, lo.Description = b.LastOperation.Type, b.LastOperation.State, b.LastOperation.Description
	lo.CreatedAt, lo.UpdatedAt = j.CreatedAt, j.UpdatedAt
	j.Relationships.ServiceInstance = one(b.ServiceInstanceGUID)
	self := base + "/v3/service_credential_bindings/" + b.GUID
	j.Links.Self = link{Href: self}
	j.Links.Details = link{Href: self + "/details"}
	j.Links.ServiceInstance = link{Href: base + "/v3/service_instances/" + b.ServiceInstanceGUID}
	j.Links.Parameters = &link{Href: self + "/parameters"}
	if b.AppGUID != nil && *b.AppGUID != "" {
		app := one(*b.AppGUID)
		j.Relationships.App = &app
		j.Links.App = &link{Href: base + "/v3/apps/" + *b.AppGUID}
	}
	return j
}

// bindingIncluded is the included block of a bindings list. There is no
// service instance in the store yet, so service_instances is empty.
type bindingIncluded struct {
	Apps             []appJSON  `json:"apps,omitzero"`
	ServiceInstances []struct{} `json:"service_instances,omitzero"`
}

// listServiceCredentialBindings is GET /v3/service_credential_bindings
// (ServiceCredentialBindingsListMessage), less the filters on service
// plans, offerings and instance names, which need tables not yet here.
func (s *Server) listServiceCredentialBindings(r *request) error {
	if err := r.query.allow(listKeys("guids", "names", "app_guids", "app_names", "service_instance_guids", "type", "include")...); err != nil {
		return err
	}
	p, err := r.query.page("created_at", "updated_at", "name")
	if err != nil {
		return err
	}
	m, err := r.query.metadataFilters()
	if err != nil {
		return err
	}
	include, err := r.include("app", "service_instance")
	if err != nil {
		return err
	}
	f := store.BindingFilter{GUIDs: r.query.list("guids"), Names: r.query.list("names"), AppGUIDs: r.query.list("app_guids"),
		AppNames: r.query.list("app_names"), ServiceInstanceGUIDs: r.query.list("service_instance_guids"),
		Labels: m.labels, CreatedAts: m.created, UpdatedAts: m.updated}
	if r.query.has("type") {
		typ := r.query.str("type")
		if typ != "app" && typ != "key" {
			return errBadQuery("Type must be one of 'app', 'key'")
		}
		f.Types = []string{typ}
	}
	bindings, total, err := s.store.ListServiceCredentialBindings(r.ctx, r.user.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	out := struct {
		listJSON[bindingJSON]
		Included *bindingIncluded `json:"included,omitempty"`
	}{listJSON: listJSON[bindingJSON]{Pagination: pagination(r.base, "/v3/service_credential_bindings", r.query, p, total),
		Resources: make([]bindingJSON, len(bindings))}}
	for i, b := range bindings {
		out.Resources[i] = presentBinding(r.base, b)
	}
	if len(include) > 0 {
		out.Included = &bindingIncluded{}
		if include["service_instance"] {
			out.Included.ServiceInstances = []struct{}{}
		}
		if include["app"] {
			out.Included.Apps = []appJSON{}
			seen := map[string]bool{}
			for _, b := range bindings {
				if b.AppGUID == nil || seen[*b.AppGUID] {
					continue
				}
				seen[*b.AppGUID] = true
				a, err := s.store.GetApp(r.ctx, store.Viewer{All: true}, *b.AppGUID)
				if err != nil {
					return errInternal(err)
				}
				out.Included.Apps = append(out.Included.Apps, presentApp(r.base, a))
			}
		}
	}
	return r.reply(200, out)
}

func (s *Server) getServiceCredentialBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, err := s.store.GetServiceCredentialBinding(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Service credential binding")
	}
	return r.reply(200, presentBinding(r.base, b))
}
