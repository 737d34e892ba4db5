package store

import "context"

// RouterGroup is a router group of the routing API (routing-api
// models.RouterGroup). A shared domain names one to be a TCP domain; the
// routes of all the group's domains take their ports from its
// ReservablePorts, and no two of them hold the same port.
type RouterGroup struct {
	GUID string
	Name string
	// Type is "tcp" or "http".
	Type string
	// ReservablePorts are written as the routing API writes them: single
	// ports and ranges joined by commas, "1024-1033,2000".
	ReservablePorts string
}

const routerGroupCols = "guid, name, type, reservable_ports"

func scanRouterGroup(r scanner) (RouterGroup, error) {
	var g RouterGroup
	err := r.Scan(&g.GUID, &g.Name, &g.Type, &g.ReservablePorts)
	return g, err
}

// CreateRouterGroup inserts a router group; a guid or name already taken is
// ErrConflict.
func (s *Store) CreateRouterGroup(ctx context.Context, g RouterGroup) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO router_groups (`+routerGroupCols+`) VALUES (?,?,?,?)`,
			g.GUID, g.Name, g.Type, g.ReservablePorts)
		return err
	})
}

// RouterGroups returns the router groups in the order they were made, or
// only the one called name when name is not "".
func (s *Store) RouterGroups(ctx context.Context, name string) ([]RouterGroup, error) {
	w := &where{}
	if name != "" {
		w.add("name = ?", name)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+routerGroupCols+" FROM router_groups"+w.sql()+" ORDER BY rowid", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RouterGroup{}
	for rows.Next() {
		g, err := scanRouterGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// GetRouterGroup returns the router group guid names, ErrNotFound when
// there is none.
func (s *Store) GetRouterGroup(ctx context.Context, guid string) (RouterGroup, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+routerGroupCols+" FROM router_groups WHERE guid = ?", guid), scanRouterGroup)
}

// CreateGroupRoute inserts a route of a domain of router group group as
// CreateRoute does. In the same transaction it reads the ports the group's
// routes hold (port → the guid of the holding route's domain) and gives
// them to check, which picks rt's port or refuses with an error that comes
// back as it is: two creates cannot take one port of a group.
func (s *Store) CreateGroupRoute(ctx context.Context, rt *Route, group string, check func(held map[int64]string) error, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.port, r.domain_guid FROM routes r JOIN domains d ON d.guid = r.domain_guid
			WHERE d.router_group_guid = ? AND r.port IS NOT NULL`, group)
		if err != nil {
			return err
		}
		held := map[int64]string{}
		for rows.Next() {
			var port int64
			var domain string
			if err := rows.Scan(&port, &domain); err != nil {
				rows.Close()
				return err
			}
			held[port] = domain
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := check(held); err != nil {
			return err
		}
		return insertRoute(ctx, tx, *rt, events)
	})
}
