package store

import (
	"context"
	"database/sql"
)

// Domain is a v3 domain: shared when OrgGUID is "", else private to that
// organization.
type Domain struct {
	ID              int64
	GUID            string
	Name            string
	Internal        bool
	OrgGUID         string
	RouterGroupGUID *string
	Protocols       []string
	// EnforceRoutePolicies and RoutePoliciesScope are set at creation only.
	EnforceRoutePolicies bool
	RoutePoliciesScope   *string
	Labels               Metadata
	Annotations          Metadata
	CreatedAt            int64
	UpdatedAt            int64
}

// DomainFilter narrows a domains list.
type DomainFilter struct {
	GUIDs    []string
	Names    []string
	OrgGUIDs []string
	Labels   []LabelReq
	// InOrg keeps the domains usable in an org: the shared ones and those
	// it owns or is shared with (GET /v3/organizations/:guid/domains).
	InOrg string
	// Under keeps the subdomains of a name: the names ending in "."+Under.
	Under string
	// NotOrg drops the domains an org owns.
	NotOrg string
}

// Route is a v3 route. Port is nil for http routes.
type Route struct {
	ID          int64
	GUID        string
	SpaceGUID   string
	DomainGUID  string
	Host        string
	Path        string
	Port        *int64
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// RouteFilter narrows a routes list. AppGUIDs keeps the routes with a
// destination for one of the apps.
type RouteFilter struct {
	AppGUIDs    []string
	SpaceGUIDs  []string
	OrgGUIDs    []string
	DomainGUIDs []string
	Hosts       []string
	Paths       []string
	Ports       []int64
	Labels      []LabelReq
}

// Destination is where a route sends traffic: a process type of an app on
// a port (CC's route mapping). Weight is nil unless set.
type Destination struct {
	ID          int64
	GUID        string
	RouteGUID   string
	AppGUID     string
	ProcessType string
	Port        int64
	Weight      *int64
	Protocol    string
	CreatedAt   int64
	UpdatedAt   int64
}

// DestinationFilter narrows the destinations of a route.
type DestinationFilter struct {
	GUIDs    []string
	AppGUIDs []string
}

const domainCols = "id, guid, name, internal, org_guid, router_group_guid, protocols, enforce_route_policies, route_policies_scope, " +
	"labels, annotations, created_at, updated_at"

func scanDomain(r scanner) (Domain, error) {
	var d Domain
	var group, scope sql.NullString
	err := r.Scan(&d.ID, &d.GUID, &d.Name, &d.Internal, &d.OrgGUID, &group, jsonColumn{&d.Protocols}, &d.EnforceRoutePolicies, &scope,
		&d.Labels, &d.Annotations, &d.CreatedAt, &d.UpdatedAt)
	d.RouterGroupGUID, d.RoutePoliciesScope = nullStr(group), nullStr(scope)
	if d.Protocols == nil {
		d.Protocols = []string{}
	}
	return d, err
}

// visibleDomains limits a domains query to the shared domains and the
// private domains owned by or shared with the orgs sc sees (CC's
// DomainFetcher.fetch_all_for_orgs).
func visibleDomains(w *where, sc scope) {
	if sc.all {
		return
	}
	orgs := &where{}
	orgs.visibleOrgs("org_guid", sc)
	args := append(append([]any{}, orgs.args...), orgs.args...)
	w.add("(org_guid = '' OR "+orgs.clauses[0]+" OR guid IN (SELECT domain_guid FROM domain_shared_orgs WHERE "+orgs.clauses[0]+"))", args...)
}

// CreateDomain inserts a domain shared with the orgs sharedWith; a name
// already taken is ErrConflict.
func (s *Store) CreateDomain(ctx context.Context, d Domain, sharedWith ...string) error {
	protocols := d.Protocols
	if protocols == nil {
		protocols = []string{"http"}
	}
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (guid, name, internal, org_guid, router_group_guid, protocols,
			enforce_route_policies, route_policies_scope, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			d.GUID, d.Name, d.Internal, d.OrgGUID, d.RouterGroupGUID, jsonText(protocols), d.EnforceRoutePolicies, d.RoutePoliciesScope,
			jsonText(nonNil(d.Labels)), jsonText(nonNil(d.Annotations)), d.CreatedAt, d.UpdatedAt)
		if err != nil {
			return err
		}
		return shareDomain(ctx, tx, d.GUID, sharedWith)
	})
}

// domainTable is how domains are read.
var domainTable = table[Domain]{name: "domains", cols: domainCols, scan: scanDomain, order: orderTimes, visible: visibleDomains}

func (f DomainFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("org_guid", f.OrgGUIDs)
	if f.InOrg != "" {
		w.add("(org_guid = '' OR org_guid = ? OR guid IN (SELECT domain_guid FROM domain_shared_orgs WHERE org_guid = ?))", f.InOrg, f.InOrg)
	}
	if f.Under != "" {
		// LIKE is case-insensitive, as the name column is; a name has no
		// "%" or "_" once DomainCreateMessage has read it.
		w.add("name LIKE ?", "%."+f.Under)
	}
	if f.NotOrg != "" {
		w.add("org_guid != ?", f.NotOrg)
	}
	w.labels("labels", f.Labels)
}

// ListDomains returns one page of the domains v can see.
func (s *Store) ListDomains(ctx context.Context, v Viewer, f DomainFilter, p Page) ([]Domain, int, error) {
	return domainTable.list(ctx, s, v, f, p)
}

// GetDomain returns the domain guid if v can see it.
func (s *Store) GetDomain(ctx context.Context, v Viewer, guid string) (Domain, error) {
	return domainTable.get(ctx, s, v, guid)
}

// DomainsByGUID returns the named domains, without visibility checks:
// callers use it for the domains of routes they already showed.
func (s *Store) DomainsByGUID(ctx context.Context, guids []string) ([]Domain, error) {
	return domainTable.byGUID(ctx, s, guids)
}

const routeCols = "id, guid, space_guid, domain_guid, host, path, port, labels, annotations, created_at, updated_at"

func scanRoute(r scanner) (Route, error) {
	var rt Route
	var port sql.NullInt64
	err := r.Scan(&rt.ID, &rt.GUID, &rt.SpaceGUID, &rt.DomainGUID, &rt.Host, &rt.Path, &port, &rt.Labels, &rt.Annotations,
		&rt.CreatedAt, &rt.UpdatedAt)
	rt.Port = nullInt(port)
	return rt, err
}

// CreateRoute inserts a route and records events; the same host, domain,
// path and port twice is ErrConflict.
func (s *Store) CreateRoute(ctx context.Context, rt Route, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error { return insertRoute(ctx, tx, rt, events) })
}

func insertRoute(ctx context.Context, tx *cachedTx, rt Route, events []Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO routes (guid, space_guid, domain_guid, host, path, port, labels, annotations,
		created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		rt.GUID, rt.SpaceGUID, rt.DomainGUID, rt.Host, rt.Path, rt.Port, jsonText(nonNil(rt.Labels)), jsonText(nonNil(rt.Annotations)),
		rt.CreatedAt, rt.UpdatedAt)
	if err != nil {
		return err
	}
	return insertEvents(ctx, tx, events)
}

// DeleteRoute deletes a route with its destinations and records events.
func (s *Store) DeleteRoute(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM route_destinations WHERE route_guid = ?`, guid); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM routes WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// routeTable is how routes are read.
var routeTable = table[Route]{name: "routes", cols: routeCols, scan: scanRoute, order: orderTimes, visible: inVisibleSpaces("space_guid")}

func (f RouteFilter) conds(w *where) {
	w.inSelect("guid", "SELECT route_guid FROM route_destinations WHERE app_guid", f.AppGUIDs)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	w.in("domain_guid", f.DomainGUIDs)
	w.in("host", f.Hosts)
	w.in("path", f.Paths)
	if f.Ports != nil {
		if len(f.Ports) == 0 {
			w.add("0")
		} else {
			args := make([]any, len(f.Ports))
			for i, n := range f.Ports {
				args[i] = n
			}
			w.add("port IN ("+placeholders(len(args))+")", args...)
		}
	}
	w.labels("labels", f.Labels)
}

// ListRoutes returns one page of the routes v can see.
func (s *Store) ListRoutes(ctx context.Context, v Viewer, f RouteFilter, p Page) ([]Route, int, error) {
	return routeTable.list(ctx, s, v, f, p)
}

// GetRoute returns the route guid if v can see it.
func (s *Store) GetRoute(ctx context.Context, v Viewer, guid string) (Route, error) {
	return routeTable.get(ctx, s, v, guid)
}

const destinationCols = "id, guid, route_guid, app_guid, process_type, port, weight, protocol, created_at, updated_at"

func scanDestination(r scanner) (Destination, error) {
	var d Destination
	var weight sql.NullInt64
	err := r.Scan(&d.ID, &d.GUID, &d.RouteGUID, &d.AppGUID, &d.ProcessType, &d.Port, &weight, &d.Protocol, &d.CreatedAt, &d.UpdatedAt)
	d.Weight = nullInt(weight)
	return d, err
}

// AddDestination maps a route to an app's process. Zero values take CC's
// defaults: process type web, port 8080, protocol http1. The same mapping
// twice is ErrConflict.
func (s *Store) AddDestination(ctx context.Context, d Destination) error {
	return s.UpdateDestinations(ctx, []Destination{d}, nil)
}

// UpdateDestinations adds destinations, removes the destinations whose
// guids are in remove, and records events, in one transaction. Zero values
// of an added destination take CC's defaults, as in AddDestination.
func (s *Store) UpdateDestinations(ctx context.Context, add []Destination, remove []string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, guid := range remove {
			res, err := tx.ExecContext(ctx, `DELETE FROM route_destinations WHERE guid = ?`, guid)
			if err != nil {
				return err
			}
			if err := mustAffect(res); err != nil {
				return err
			}
		}
		for _, d := range add {
			if d.ProcessType == "" {
				d.ProcessType = "web"
			}
			if d.Port == 0 {
				d.Port = 8080
			}
			if d.Protocol == "" {
				d.Protocol = "http1"
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO route_destinations (guid, route_guid, app_guid, process_type, port, weight, protocol,
				created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)`,
				d.GUID, d.RouteGUID, d.AppGUID, d.ProcessType, d.Port, d.Weight, d.Protocol, d.CreatedAt, d.UpdatedAt)
			if err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// Destinations returns the destinations of the given routes, by route
// guid, each route's in CC's order (created_at, then guid:
// RouteDestinationsPresenter#presented_destinations). Callers have already
// found the routes.
func (s *Store) Destinations(ctx context.Context, routeGUIDs []string, f DestinationFilter) (map[string][]Destination, error) {
	out := make(map[string][]Destination, len(routeGUIDs))
	if len(routeGUIDs) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("route_guid", routeGUIDs)
	w.in("guid", f.GUIDs)
	w.in("app_guid", f.AppGUIDs)
	rows, err := s.db.QueryContext(ctx, "SELECT "+destinationCols+" FROM route_destinations"+w.sql()+" ORDER BY created_at, guid", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, err
		}
		out[d.RouteGUID] = append(out[d.RouteGUID], d)
	}
	return out, rows.Err()
}
