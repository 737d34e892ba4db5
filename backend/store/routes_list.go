package store

import "context"

// RouteListFilter is what GET /v3/routes filters by: a RouteFilter and the
// keys every v3 list has (ListMessage: guids, created_ats, updated_ats),
// plus service_instance_guids (cc:app/messages/routes_list_message.rb).
type RouteListFilter struct {
	RouteFilter
	GUIDs      []string
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
	// ServiceInstanceGUIDs keeps the routes bound to one of the service
	// instances (route_bindings).
	ServiceInstanceGUIDs []string
}

func (f RouteListFilter) conds(w *where) {
	f.RouteFilter.conds(w)
	w.in("guid", f.GUIDs)
	w.times("created_at", f.CreatedAts)
	w.times("updated_at", f.UpdatedAts)
	w.inSelect("guid", "SELECT route_guid FROM route_bindings WHERE service_instance_guid", f.ServiceInstanceGUIDs)
}

// ListRoutesBy returns one page of the routes v can see that f keeps.
func (s *Store) ListRoutesBy(ctx context.Context, v Viewer, f RouteListFilter, p Page) ([]Route, int, error) {
	return routeTable.list(ctx, s, v, f, p)
}

// DeleteUnmappedRoutes deletes the routes owned by a space that have no
// destination nor route service binding, and returns how many went
// (cc:app/actions/space_delete_unmapped_routes.rb). Like CC's dataset
// destroy, it records no audit events.
func (s *Store) DeleteUnmappedRoutes(ctx context.Context, spaceGUID string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM routes WHERE space_guid = ?
			AND guid NOT IN (SELECT route_guid FROM route_destinations) AND guid NOT IN (SELECT route_guid FROM route_bindings)`, spaceGUID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
