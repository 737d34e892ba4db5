package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// App is a v3 app. Stack and DropletGUID are nil when unset.
type App struct {
	ID               int64
	GUID             string
	Name             string
	SpaceGUID        string
	State            string
	LifecycleType    string
	Buildpacks       []string
	Stack            *string
	Env              map[string]json.RawMessage
	DropletGUID      *string
	SSHEnabled       bool
	RevisionsEnabled bool
	K8sBindings      bool
	FileVCAP         bool
	Labels           Metadata
	Annotations      Metadata
	CreatedAt        int64
	UpdatedAt        int64
}

// AppFilter narrows an apps list; nil slices do not filter.
type AppFilter struct {
	GUIDs          []string
	Names          []string
	SpaceGUIDs     []string
	OrgGUIDs       []string
	Stacks         []string
	LifecycleTypes []string
	Labels         []LabelReq
	CreatedAts     []TimeCond
	UpdatedAts     []TimeCond
}

// Process is a v3 process. Nil pointers are unset (JSON null).
type Process struct {
	ID                           int64
	GUID                         string
	AppGUID                      string
	SpaceGUID                    string
	Type                         string
	Command                      *string
	Instances                    int64
	MemoryMB                     int64
	DiskMB                       int64
	LogRateLimit                 int64
	HealthCheckType              string
	HealthCheckTimeout           *int64
	HealthCheckInvocationTimeout *int64
	HealthCheckInterval          *int64
	HealthCheckEndpoint          *string
	Version                      string
	Labels                       Metadata
	Annotations                  Metadata
	CreatedAt                    int64
	UpdatedAt                    int64
}

// ProcessFilter narrows a processes list.
type ProcessFilter struct {
	GUIDs      []string
	AppGUIDs   []string
	Types      []string
	SpaceGUIDs []string
	OrgGUIDs   []string
	Labels     []LabelReq
}

var appOrder = map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name", "state": "state"}

const appCols = "id, guid, name, space_guid, state, lifecycle_type, buildpacks, stack, env, droplet_guid, ssh_enabled, revisions_enabled, k8s_bindings, file_vcap, labels, annotations, created_at, updated_at"

func scanApp(r scanner) (App, error) {
	var a App
	var stack, droplet sql.NullString
	a.Env = map[string]json.RawMessage{}
	err := r.Scan(&a.ID, &a.GUID, &a.Name, &a.SpaceGUID, &a.State, &a.LifecycleType, jsonColumn{&a.Buildpacks}, &stack,
		jsonColumn{&a.Env}, &droplet, &a.SSHEnabled, &a.RevisionsEnabled, &a.K8sBindings, &a.FileVCAP,
		&a.Labels, &a.Annotations, &a.CreatedAt, &a.UpdatedAt)
	a.Stack, a.DropletGUID = nullStr(stack), nullStr(droplet)
	if a.Buildpacks == nil {
		a.Buildpacks = []string{}
	}
	return a, err
}

// appTable is how apps are read.
var appTable = table[App]{name: "apps", cols: appCols, scan: scanApp, order: appOrder, visible: inVisibleSpaces("space_guid")}

func (f AppFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	if f.Stacks != nil {
		// CC matches stacks against buildpack lifecycle data only.
		w.add("lifecycle_type = 'buildpack'")
		w.in("stack", f.Stacks)
	}
	w.in("lifecycle_type", f.LifecycleTypes)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListApps returns one page of the apps v can see.
func (s *Store) ListApps(ctx context.Context, v Viewer, f AppFilter, p Page) ([]App, int, error) {
	return appTable.list(ctx, s, v, f, p)
}

// GetApp returns the app guid if v can see it.
func (s *Store) GetApp(ctx context.Context, v Viewer, guid string) (App, error) {
	return appTable.get(ctx, s, v, guid)
}

// CreateApp inserts an app, its web process and its audit events in one
// transaction. A name already taken in the space is ErrConflict.
func (s *Store) CreateApp(ctx context.Context, a App, web Process, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (guid, name, space_guid, state, lifecycle_type, buildpacks, stack, env,
			droplet_guid, ssh_enabled, revisions_enabled, k8s_bindings, file_vcap, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			a.GUID, a.Name, a.SpaceGUID, a.State, a.LifecycleType, jsonText(nonNilList(a.Buildpacks)), a.Stack, jsonText(nonNilEnv(a.Env)),
			a.DropletGUID, a.SSHEnabled, a.RevisionsEnabled, a.K8sBindings, a.FileVCAP, jsonText(nonNil(a.Labels)), jsonText(nonNil(a.Annotations)),
			a.CreatedAt, a.UpdatedAt)
		if err != nil {
			return err
		}
		if err := insertProcess(ctx, tx, web); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateApp writes every mutable column of a and records events, in one
// transaction. A rename onto a taken name is ErrConflict.
func (s *Store) UpdateApp(ctx context.Context, a App, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE apps SET name = ?, state = ?, lifecycle_type = ?, buildpacks = ?, stack = ?, env = ?,
			droplet_guid = ?, ssh_enabled = ?, revisions_enabled = ?, k8s_bindings = ?, file_vcap = ?, labels = ?, annotations = ?, updated_at = ?
			WHERE guid = ?`,
			a.Name, a.State, a.LifecycleType, jsonText(nonNilList(a.Buildpacks)), a.Stack, jsonText(nonNilEnv(a.Env)),
			a.DropletGUID, a.SSHEnabled, a.RevisionsEnabled, a.K8sBindings, a.FileVCAP, jsonText(nonNil(a.Labels)), jsonText(nonNil(a.Annotations)),
			a.UpdatedAt, a.GUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// SetAppState sets the desired state of an app, as v3 start and stop do, and
// records events. newVersions gives every process of the app a new version,
// as a start does.
func (s *Store) SetAppState(ctx context.Context, guid, state string, at int64, newVersions bool, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE apps SET state = ?, updated_at = ? WHERE guid = ?`, state, at, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		if newVersions {
			rows, err := tx.QueryContext(ctx, `SELECT guid FROM processes WHERE app_guid = ?`, guid)
			if err != nil {
				return err
			}
			var guids []string
			for rows.Next() {
				var g string
				if err := rows.Scan(&g); err != nil {
					rows.Close()
					return err
				}
				guids = append(guids, g)
			}
			rows.Close()
			for _, g := range guids {
				if _, err := tx.ExecContext(ctx, `UPDATE processes SET version = ?, updated_at = ? WHERE guid = ?`, uuid.NewString(), at, g); err != nil {
					return err
				}
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// DeleteApp deletes an app and everything that hangs off it.
func (s *Store) DeleteApp(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := deleteAppChildren(ctx, tx, guid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM processes WHERE app_guid = ?`, guid); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

const processCols = `id, guid, app_guid, space_guid, type, command, instances, memory_in_mb, disk_in_mb, log_rate_limit,
	health_check_type, health_check_timeout, health_check_invocation_timeout, health_check_interval, health_check_endpoint,
	version, labels, annotations, created_at, updated_at`

func scanProcess(r scanner) (Process, error) {
	var p Process
	var cmd, endpoint sql.NullString
	var timeout, invocation, interval sql.NullInt64
	err := r.Scan(&p.ID, &p.GUID, &p.AppGUID, &p.SpaceGUID, &p.Type, &cmd, &p.Instances, &p.MemoryMB, &p.DiskMB, &p.LogRateLimit,
		&p.HealthCheckType, &timeout, &invocation, &interval, &endpoint, &p.Version, &p.Labels, &p.Annotations, &p.CreatedAt, &p.UpdatedAt)
	p.Command, p.HealthCheckEndpoint = nullStr(cmd), nullStr(endpoint)
	p.HealthCheckTimeout, p.HealthCheckInvocationTimeout, p.HealthCheckInterval = nullInt(timeout), nullInt(invocation), nullInt(interval)
	return p, err
}

// processTable is how processes are read.
var processTable = table[Process]{name: "processes", cols: processCols, scan: scanProcess, order: orderNamed, visible: inVisibleSpaces("space_guid")}

func (f ProcessFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("app_guid", f.AppGUIDs)
	w.in("type", f.Types)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	w.labels("labels", f.Labels)
}

// ListProcesses returns one page of the processes v can see.
func (s *Store) ListProcesses(ctx context.Context, v Viewer, f ProcessFilter, p Page) ([]Process, int, error) {
	return processTable.list(ctx, s, v, f, p)
}

// GetProcess returns the process guid if v can see it.
func (s *Store) GetProcess(ctx context.Context, v Viewer, guid string) (Process, error) {
	return processTable.get(ctx, s, v, guid)
}

// GetAppProcess returns the process of the given type of an app, without a
// visibility check: callers have already found the app.
func (s *Store) GetAppProcess(ctx context.Context, appGUID, typ string) (Process, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+processCols+" FROM processes WHERE app_guid = ? AND type = ?", appGUID, typ), scanProcess)
}

// UpdateProcess writes every mutable column of p and records events.
func (s *Store) UpdateProcess(ctx context.Context, p Process, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE processes SET command = ?, instances = ?, memory_in_mb = ?, disk_in_mb = ?, log_rate_limit = ?,
			health_check_type = ?, health_check_timeout = ?, health_check_invocation_timeout = ?, health_check_interval = ?,
			health_check_endpoint = ?, version = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`,
			p.Command, p.Instances, p.MemoryMB, p.DiskMB, p.LogRateLimit, p.HealthCheckType, p.HealthCheckTimeout,
			p.HealthCheckInvocationTimeout, p.HealthCheckInterval, p.HealthCheckEndpoint, p.Version,
			jsonText(nonNil(p.Labels)), jsonText(nonNil(p.Annotations)), p.UpdatedAt, p.GUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

func insertProcess(ctx context.Context, tx *cachedTx, p Process) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO processes (guid, app_guid, space_guid, type, command, instances, memory_in_mb, disk_in_mb,
		log_rate_limit, health_check_type, health_check_timeout, health_check_invocation_timeout, health_check_interval,
		health_check_endpoint, version, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		p.GUID, p.AppGUID, p.SpaceGUID, p.Type, p.Command, p.Instances, p.MemoryMB, p.DiskMB, p.LogRateLimit, p.HealthCheckType,
		p.HealthCheckTimeout, p.HealthCheckInvocationTimeout, p.HealthCheckInterval, p.HealthCheckEndpoint, p.Version,
		jsonText(nonNil(p.Labels)), jsonText(nonNil(p.Annotations)), p.CreatedAt, p.UpdatedAt)
	return err
}

func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w", ErrNotFound)
	}
	return nil
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nonNilEnv(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}
