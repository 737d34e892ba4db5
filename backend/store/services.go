package store

import (
	"context"
	"database/sql"
	"encoding/json"
)

// The service instance types of CC v3.
const (
	UserProvided = "user-provided"
	Managed      = "managed"
)

// ServiceInstance is a v3 service instance: user-provided, with its
// Credentials (a JSON object), or managed, of the plan PlanGUID.
// LastOperation is nil on a user-provided instance made before instances
// kept one.
type ServiceInstance struct {
	ID              int64
	GUID            string
	Type            string
	Name            string
	SpaceGUID       string
	Credentials     json.RawMessage
	SyslogDrainURL  *string
	RouteServiceURL *string
	PlanGUID        string
	DashboardURL    *string
	Tags            []string
	LastOperation   *InstanceOperation
	Labels          Metadata
	Annotations     Metadata
	CreatedAt       int64
	UpdatedAt       int64
}

// InstanceOperation is the last operation on a service instance (CC's
// service_instance_operations): type create, update or delete; state
// initial, in progress, succeeded or failed.
type InstanceOperation struct {
	Type        string
	State       string
	Description *string
	CreatedAt   int64
	UpdatedAt   int64
}

// InProgress says whether the operation has not ended
// (ServiceInstance#operation_in_progress?).
func (o *InstanceOperation) InProgress() bool {
	return o != nil && (o.State == "initial" || o.State == "in progress")
}

// ServiceInstanceFilter narrows a service instances list.
// SpaceGUIDs and OrgGUIDs also keep the instances shared into those spaces
// (ServiceInstanceListFetcher).
type ServiceInstanceFilter struct {
	GUIDs      []string
	Names      []string
	SpaceGUIDs []string
	OrgGUIDs   []string
	Types      []string
	PlanGUIDs  []string
	PlanNames  []string
	Labels     []LabelReq
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

// ServiceCredentialBinding is a v3 service credential binding: of an app
// (Type "app", AppGUID set) or a service key (Type "key"). Credentials and
// SyslogDrainURL are what its details show.
type ServiceCredentialBinding struct {
	ID                  int64
	GUID                string
	Type                string
	Name                *string
	AppGUID             *string
	ServiceInstanceGUID string
	SpaceGUID           string
	Credentials         json.RawMessage
	SyslogDrainURL      *string
	LastOperation       LastOperation
	Labels              Metadata
	Annotations         Metadata
	CreatedAt           int64
	UpdatedAt           int64
}

// LastOperation is the last broker operation on a binding.
type LastOperation struct {
	Type        string
	State       string
	Description string
}

// BindingFilter narrows a service credential bindings list.
type BindingFilter struct {
	GUIDs                []string
	Names                []string
	AppGUIDs             []string
	AppNames             []string
	ServiceInstanceGUIDs []string
	ServiceInstanceNames []string
	PlanGUIDs            []string
	PlanNames            []string
	OfferingGUIDs        []string
	OfferingNames        []string
	Types                []string
	Labels               []LabelReq
	CreatedAts           []TimeCond
	UpdatedAts           []TimeCond
}

const serviceInstanceCols = `id, guid, type, name, space_guid, credentials, syslog_drain_url, route_service_url, service_plan_guid,
	dashboard_url, tags, last_operation_type, last_operation_state, last_operation_description, last_operation_created_at,
	last_operation_updated_at, labels, annotations, created_at, updated_at`

func scanServiceInstance(r scanner) (ServiceInstance, error) {
	var si ServiceInstance
	var creds string
	var drain, routeService, plan, dashboard, loType, loState, loDesc sql.NullString
	var loCreated, loUpdated sql.NullInt64
	err := r.Scan(&si.ID, &si.GUID, &si.Type, &si.Name, &si.SpaceGUID, &creds, &drain, &routeService, &plan, &dashboard,
		jsonColumn{&si.Tags}, &loType, &loState, &loDesc, &loCreated, &loUpdated, &si.Labels, &si.Annotations,
		&si.CreatedAt, &si.UpdatedAt)
	si.Credentials = json.RawMessage(creds)
	si.SyslogDrainURL, si.RouteServiceURL, si.DashboardURL = nullStr(drain), nullStr(routeService), nullStr(dashboard)
	si.PlanGUID = plan.String
	if loType.Valid {
		si.LastOperation = &InstanceOperation{Type: loType.String, State: loState.String, Description: nullStr(loDesc),
			CreatedAt: loCreated.Int64, UpdatedAt: loUpdated.Int64}
	}
	if si.Tags == nil {
		si.Tags = []string{}
	}
	return si, err
}

// rawObject is v as stored in a JSON object column: "{}" when empty.
func rawObject(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "{}"
	}
	return string(v)
}

// CreateServiceInstance inserts a service instance and records events; a
// name already taken in the space is ErrConflict.
func (s *Store) CreateServiceInstance(ctx context.Context, si ServiceInstance, events ...Event) error {
	return s.ApplyServices(ctx, ServiceChange{Instance: &si, Events: events})
}

// putInstance inserts si or replaces the row of its guid.
func putInstance(ctx context.Context, tx *cachedTx, si ServiceInstance) error {
	var lo InstanceOperation
	var loType, loState *string
	if si.LastOperation != nil {
		lo, loType, loState = *si.LastOperation, &si.LastOperation.Type, &si.LastOperation.State
	}
	var plan *string
	if si.PlanGUID != "" {
		plan = &si.PlanGUID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO service_instances (guid, type, name, space_guid, credentials, syslog_drain_url,
		route_service_url, service_plan_guid, dashboard_url, tags, last_operation_type, last_operation_state, last_operation_description,
		last_operation_created_at, last_operation_updated_at, labels, annotations, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (guid) DO UPDATE SET name = excluded.name, credentials = excluded.credentials, syslog_drain_url = excluded.syslog_drain_url,
		route_service_url = excluded.route_service_url, service_plan_guid = excluded.service_plan_guid, dashboard_url = excluded.dashboard_url,
		tags = excluded.tags, last_operation_type = excluded.last_operation_type, last_operation_state = excluded.last_operation_state,
		last_operation_description = excluded.last_operation_description, last_operation_created_at = excluded.last_operation_created_at,
		last_operation_updated_at = excluded.last_operation_updated_at, labels = excluded.labels, annotations = excluded.annotations, updated_at = excluded.updated_at`,
		si.GUID, si.Type, si.Name, si.SpaceGUID, rawObject(si.Credentials), si.SyslogDrainURL, si.RouteServiceURL, plan, si.DashboardURL,
		jsonText(nonNilList(si.Tags)), loType, loState, lo.Description, nullTime(lo.CreatedAt, loType), nullTime(lo.UpdatedAt, loType),
		jsonText(nonNil(si.Labels)), jsonText(nonNil(si.Annotations)), si.CreatedAt, si.UpdatedAt)
	return err
}

// nullTime is t, or NULL when the operation it belongs to is absent.
func nullTime(t int64, present *string) *int64 {
	if present == nil {
		return nil
	}
	return &t
}

// serviceInstanceTable is how service instances are read.
// A user sees the instances of the spaces it can see and those shared
// into them (ServiceInstancesV3Controller#can_read_service_instance?).
var serviceInstanceTable = table[ServiceInstance]{name: "service_instances", cols: serviceInstanceCols, scan: scanServiceInstance,
	order: orderNamed, visible: func(w *where, sc scope) {
		if !sc.all {
			inSpaceOrShared(w, sc.spaces)
		}
	}}

// inSpaceOrShared keeps the instances in spaces or shared into them.
func inSpaceOrShared(w *where, spaces []string) {
	own, shared := &where{}, &where{}
	own.in("space_guid", spaces)
	shared.in("space_guid", spaces)
	w.add("("+own.clauses[0]+" OR guid IN (SELECT service_instance_guid FROM service_instance_shares"+shared.sql()+"))",
		append(own.args, shared.args...)...)
}

func (f ServiceInstanceFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	if f.SpaceGUIDs != nil {
		inSpaceOrShared(w, f.SpaceGUIDs)
	}
	if f.OrgGUIDs != nil {
		spaces := &where{}
		spaces.in("org_guid", f.OrgGUIDs)
		w.add("(space_guid IN (SELECT guid FROM spaces"+spaces.sql()+") OR guid IN (SELECT service_instance_guid FROM service_instance_shares "+
			"WHERE space_guid IN (SELECT guid FROM spaces"+spaces.sql()+")))", append(spaces.args, spaces.args...)...)
	}
	w.in("type", f.Types)
	w.in("service_plan_guid", f.PlanGUIDs)
	w.inSelect("service_plan_guid", "SELECT guid FROM service_plans WHERE name", f.PlanNames)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListServiceInstances returns one page of the service instances v can see.
func (s *Store) ListServiceInstances(ctx context.Context, v Viewer, f ServiceInstanceFilter, p Page) ([]ServiceInstance, int, error) {
	return serviceInstanceTable.list(ctx, s, v, f, p)
}

// GetServiceInstance returns the service instance guid if v can see it.
func (s *Store) GetServiceInstance(ctx context.Context, v Viewer, guid string) (ServiceInstance, error) {
	return serviceInstanceTable.get(ctx, s, v, guid)
}

// ServiceInstancesByGUID returns the named service instances that exist,
// without visibility checks: callers use it for the instances of bindings
// they already showed.
func (s *Store) ServiceInstancesByGUID(ctx context.Context, guids []string) ([]ServiceInstance, error) {
	return serviceInstanceTable.byGUID(ctx, s, guids)
}

// DeleteServiceInstance deletes a service instance and its bindings, and
// records events.
func (s *Store) DeleteServiceInstance(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM service_credential_bindings WHERE service_instance_guid = ?`, guid); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM service_instances WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

const bindingCols = `id, guid, type, name, app_guid, service_instance_guid, space_guid, credentials, syslog_drain_url,
	last_operation_type, last_operation_state, last_operation_description, labels, annotations, created_at, updated_at`

func scanBinding(r scanner) (ServiceCredentialBinding, error) {
	var b ServiceCredentialBinding
	var name, app, drain sql.NullString
	var creds string
	err := r.Scan(&b.ID, &b.GUID, &b.Type, &name, &app, &b.ServiceInstanceGUID, &b.SpaceGUID, &creds, &drain, &b.LastOperation.Type,
		&b.LastOperation.State, &b.LastOperation.Description, &b.Labels, &b.Annotations, &b.CreatedAt, &b.UpdatedAt)
	b.Name, b.AppGUID, b.SyslogDrainURL = nullStr(name), nullStr(app), nullStr(drain)
	b.Credentials = json.RawMessage(creds)
	return b, err
}

// CreateServiceCredentialBinding inserts a binding and records events. An
// empty last operation is a succeeded create, CC's default for bindings
// without one (LastOperationHelper). A second binding of an app to the same
// instance, or a binding name the app already uses, is ErrConflict.
func (s *Store) CreateServiceCredentialBinding(ctx context.Context, b ServiceCredentialBinding, events ...Event) error {
	return s.ApplyServices(ctx, ServiceChange{Binding: &b, Events: events})
}

// putBinding inserts b or replaces the row of its guid.
func putBinding(ctx context.Context, tx *cachedTx, b ServiceCredentialBinding) error {
	if b.LastOperation.Type == "" {
		b.LastOperation.Type, b.LastOperation.State = "create", "succeeded"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO service_credential_bindings (guid, type, name, app_guid, service_instance_guid,
		space_guid, credentials, syslog_drain_url, last_operation_type, last_operation_state, last_operation_description,
		labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (guid) DO UPDATE SET credentials = excluded.credentials, syslog_drain_url = excluded.syslog_drain_url,
		last_operation_type = excluded.last_operation_type, last_operation_state = excluded.last_operation_state,
		last_operation_description = excluded.last_operation_description, labels = excluded.labels, annotations = excluded.annotations, updated_at = excluded.updated_at`,
		b.GUID, b.Type, b.Name, b.AppGUID, b.ServiceInstanceGUID, b.SpaceGUID, rawObject(b.Credentials), b.SyslogDrainURL,
		b.LastOperation.Type, b.LastOperation.State, b.LastOperation.Description, jsonText(nonNil(b.Labels)),
		jsonText(nonNil(b.Annotations)), b.CreatedAt, b.UpdatedAt)
	return err
}

// DeleteServiceCredentialBinding deletes a binding and records events.
func (s *Store) DeleteServiceCredentialBinding(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM service_credential_bindings WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// bindingTable is how service credential bindings are read.
var bindingTable = table[ServiceCredentialBinding]{name: "service_credential_bindings", cols: bindingCols, scan: scanBinding,
	order: orderNamed, visible: inVisibleSpaces("space_guid")}

func (f BindingFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("app_guid", f.AppGUIDs)
	w.inSelect("app_guid", "SELECT guid FROM apps WHERE name", f.AppNames)
	w.in("service_instance_guid", f.ServiceInstanceGUIDs)
	w.inSelect("service_instance_guid", "SELECT guid FROM service_instances WHERE name", f.ServiceInstanceNames)
	w.inSelect("service_instance_guid", "SELECT guid FROM service_instances WHERE service_plan_guid", f.PlanGUIDs)
	w.inSelect("service_instance_guid", "SELECT i.guid FROM service_instances i JOIN service_plans p ON p.guid = i.service_plan_guid WHERE p.name",
		f.PlanNames)
	w.inSelect("service_instance_guid", "SELECT i.guid FROM service_instances i JOIN service_plans p ON p.guid = i.service_plan_guid "+
		"WHERE p.offering_guid", f.OfferingGUIDs)
	w.inSelect("service_instance_guid", "SELECT i.guid FROM service_instances i JOIN service_plans p ON p.guid = i.service_plan_guid "+
		"JOIN service_offerings o ON o.guid = p.offering_guid WHERE o.name", f.OfferingNames)
	w.in("type", f.Types)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListServiceCredentialBindings returns one page of the bindings v can see.
func (s *Store) ListServiceCredentialBindings(ctx context.Context, v Viewer, f BindingFilter, p Page) ([]ServiceCredentialBinding, int, error) {
	return bindingTable.list(ctx, s, v, f, p)
}

// GetServiceCredentialBinding returns the binding guid if v can see it.
func (s *Store) GetServiceCredentialBinding(ctx context.Context, v Viewer, guid string) (ServiceCredentialBinding, error) {
	return bindingTable.get(ctx, s, v, guid)
}
