package store

import (
	"context"
	"database/sql"
)

// RouteBinding is a v3 service route binding: the route RouteGUID bound to
// the service instance ServiceInstanceGUID of its space, SpaceGUID. Its
// last operation is always kept (CC creates one with the binding).
type RouteBinding struct {
	ID                  int64
	GUID                string
	RouteGUID           string
	ServiceInstanceGUID string
	SpaceGUID           string
	RouteServiceURL     *string
	LastOperation       InstanceOperation
	Labels              Metadata
	Annotations         Metadata
	CreatedAt           int64
	UpdatedAt           int64
}

// RouteBindingFilter narrows a service route bindings list
// (cc:app/fetchers/route_binding_list_fetcher.rb).
type RouteBindingFilter struct {
	GUIDs                []string
	RouteGUIDs           []string
	ServiceInstanceGUIDs []string
	ServiceInstanceNames []string
	Labels               []LabelReq
	CreatedAts           []TimeCond
	UpdatedAts           []TimeCond
}

const routeBindingCols = `id, guid, route_guid, service_instance_guid, space_guid, route_service_url, last_operation_type,
	last_operation_state, last_operation_description, last_operation_created_at, last_operation_updated_at, labels, annotations,
	created_at, updated_at`

func scanRouteBinding(r scanner) (RouteBinding, error) {
	var b RouteBinding
	var url, desc sql.NullString
	lo := &b.LastOperation
	err := r.Scan(&b.ID, &b.GUID, &b.RouteGUID, &b.ServiceInstanceGUID, &b.SpaceGUID, &url, &lo.Type, &lo.State, &desc, &lo.CreatedAt,
		&lo.UpdatedAt, &b.Labels, &b.Annotations, &b.CreatedAt, &b.UpdatedAt)
	b.RouteServiceURL, lo.Description = nullStr(url), nullStr(desc)
	return b, err
}

// routeBindingTable is how route bindings are read: a user sees the
// bindings of the spaces it can read (ServiceRouteBindingsController#index).
var routeBindingTable = table[RouteBinding]{name: "route_bindings", cols: routeBindingCols, scan: scanRouteBinding,
	order: orderTimes, visible: inVisibleSpaces("space_guid")}

func (f RouteBindingFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("route_guid", f.RouteGUIDs)
	w.in("service_instance_guid", f.ServiceInstanceGUIDs)
	w.inSelect("service_instance_guid", "SELECT guid FROM service_instances WHERE name", f.ServiceInstanceNames)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListRouteBindings returns one page of the route bindings v can see.
func (s *Store) ListRouteBindings(ctx context.Context, v Viewer, f RouteBindingFilter, p Page) ([]RouteBinding, int, error) {
	return routeBindingTable.list(ctx, s, v, f, p)
}

// GetRouteBinding returns the route binding guid if v can see it.
func (s *Store) GetRouteBinding(ctx context.Context, v Viewer, guid string) (RouteBinding, error) {
	return routeBindingTable.get(ctx, s, v, guid)
}

// RouteBindingOf returns the binding of the route routeGUID, ErrNotFound
// when it has none.
func (s *Store) RouteBindingOf(ctx context.Context, routeGUID string) (RouteBinding, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+routeBindingCols+" FROM route_bindings WHERE route_guid = ?", routeGUID), scanRouteBinding)
}

// CreateRouteBinding inserts a route binding and records events; a route
// that already has a binding is ErrConflict.
func (s *Store) CreateRouteBinding(ctx context.Context, b RouteBinding, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		lo := b.LastOperation
		_, err := tx.ExecContext(ctx, `INSERT INTO route_bindings (guid, route_guid, service_instance_guid, space_guid, route_service_url,
			last_operation_type, last_operation_state, last_operation_description, last_operation_created_at, last_operation_updated_at,
			labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			b.GUID, b.RouteGUID, b.ServiceInstanceGUID, b.SpaceGUID, b.RouteServiceURL, lo.Type, lo.State, lo.Description, lo.CreatedAt,
			lo.UpdatedAt, jsonText(nonNil(b.Labels)), jsonText(nonNil(b.Annotations)), b.CreatedAt, b.UpdatedAt)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// DeleteRouteBinding deletes a route binding and records events.
func (s *Store) DeleteRouteBinding(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := deleteRow(ctx, tx, "route_bindings", guid); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
