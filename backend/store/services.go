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

// ServiceInstance is a v3 service instance. Only user-provided ones are
// created here; Credentials is their JSON object.
type ServiceInstance struct {
	ID              int64
	GUID            string
	Type            string
	Name            string
	SpaceGUID       string
	Credentials     json.RawMessage
	SyslogDrainURL  *string
	RouteServiceURL *string
	Tags            []string
	Labels          Metadata
	Annotations     Metadata
	CreatedAt       int64
	UpdatedAt       int64
}

// ServiceInstanceFilter narrows a service instances list.
type ServiceInstanceFilter struct {
	GUIDs      []string
	Names      []string
	SpaceGUIDs []string
	OrgGUIDs   []string
	Types      []string
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
	Types                []string
	Labels               []LabelReq
	CreatedAts           []TimeCond
	UpdatedAts           []TimeCond
}

const serviceInstanceCols = `id, guid, type, name, space_guid, credentials, syslog_drain_url, route_service_url, tags, labels,
	annotations, created_at, updated_at`

func scanServiceInstance(r scanner) (ServiceInstance, error) {
	var si ServiceInstance
	var creds string
	var drain, routeService sql.NullString
	err := r.Scan(&si.ID, &si.GUID, &si.Type, &si.Name, &si.SpaceGUID, &creds, &drain, &routeService, jsonColumn{&si.Tags},
		&si.Labels, &si.Annotations, &si.CreatedAt, &si.UpdatedAt)
	si.Credentials = json.RawMessage(creds)
	si.SyslogDrainURL, si.RouteServiceURL = nullStr(drain), nullStr(routeService)
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
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO service_instances (guid, type, name, space_guid, credentials, syslog_drain_url,
			route_service_url, tags, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			si.GUID, si.Type, si.Name, si.SpaceGUID, rawObject(si.Credentials), si.SyslogDrainURL, si.RouteServiceURL,
			jsonText(nonNilList(si.Tags)), jsonText(nonNil(si.Labels)), jsonText(nonNil(si.Annotations)), si.CreatedAt, si.UpdatedAt)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// serviceInstanceTable is how service instances are read.
var serviceInstanceTable = table[ServiceInstance]{name: "service_instances", cols: serviceInstanceCols, scan: scanServiceInstance,
	order: orderNamed, visible: inVisibleSpaces("space_guid")}

func (f ServiceInstanceFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	w.in("type", f.Types)
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
	return s.write(ctx, func(tx *sql.Tx) error {
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
	if b.LastOperation.Type == "" {
		b.LastOperation.Type, b.LastOperation.State = "create", "succeeded"
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO service_credential_bindings (guid, type, name, app_guid, service_instance_guid,
			space_guid, credentials, syslog_drain_url, last_operation_type, last_operation_state, last_operation_description, labels,
			annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			b.GUID, b.Type, b.Name, b.AppGUID, b.ServiceInstanceGUID, b.SpaceGUID, rawObject(b.Credentials), b.SyslogDrainURL,
			b.LastOperation.Type, b.LastOperation.State, b.LastOperation.Description, jsonText(nonNil(b.Labels)),
			jsonText(nonNil(b.Annotations)), b.CreatedAt, b.UpdatedAt)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// DeleteServiceCredentialBinding deletes a binding and records events.
func (s *Store) DeleteServiceCredentialBinding(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *sql.Tx) error {
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
