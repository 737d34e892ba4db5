package store

import (
	"context"
	"database/sql"
)

// AppUsageEvent is an app usage event (CC's AppUsageEvent). ProcessGUID
// is "" for a task or build event; AppGUID and AppName are CC's
// parent_app_guid and parent_app_name.
type AppUsageEvent struct {
	ID                    int64
	GUID                  string
	State                 string
	PreviousState         *string
	InstanceCount         int64
	PreviousInstanceCount *int64
	MemoryMB              int64
	PreviousMemoryMB      *int64
	ProcessGUID           string
	ProcessType           *string
	AppGUID               string
	AppName               string
	SpaceGUID             string
	SpaceName             string
	OrgGUID               string
	BuildpackGUID         *string
	BuildpackName         *string
	TaskGUID              *string
	TaskName              *string
	CreatedAt             int64
}

// AppUsageEventFilter narrows an app usage events list. AfterID keeps the
// events recorded after the event of that id.
type AppUsageEventFilter struct {
	GUIDs      []string
	AfterID    *int64
	CreatedAts []TimeCond
}

const usageEventCols = `id, guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb, previous_memory_in_mb,
	process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid, buildpack_guid, buildpack_name, task_guid, task_name, created_at`

func scanUsageEvent(r scanner) (AppUsageEvent, error) {
	var e AppUsageEvent
	var prev, typ, bpGUID, bpName, taskGUID, taskName sql.NullString
	var prevCount, prevMem sql.NullInt64
	err := r.Scan(&e.ID, &e.GUID, &e.State, &prev, &e.InstanceCount, &prevCount, &e.MemoryMB, &prevMem, &e.ProcessGUID, &typ,
		&e.AppGUID, &e.AppName, &e.SpaceGUID, &e.SpaceName, &e.OrgGUID, &bpGUID, &bpName, &taskGUID, &taskName, &e.CreatedAt)
	e.PreviousState, e.ProcessType = nullStr(prev), nullStr(typ)
	e.PreviousInstanceCount, e.PreviousMemoryMB = nullInt(prevCount), nullInt(prevMem)
	e.BuildpackGUID, e.BuildpackName, e.TaskGUID, e.TaskName = nullStr(bpGUID), nullStr(bpName), nullStr(taskGUID), nullStr(taskName)
	return e, err
}

// usageEventTable is how app usage events are read; the caller decides
// who may (AppUsageEventsController reads them for global readers only).
// Events of one second keep the order they were recorded in.
var usageEventTable = table[AppUsageEvent]{name: "app_usage_events", cols: usageEventCols, scan: scanUsageEvent,
	order: map[string]string{"created_at": "created_at"}}

func (f AppUsageEventFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	if f.AfterID != nil {
		w.add("id > ?", *f.AfterID)
	}
	w.times("created_at", f.CreatedAts)
}

// ListAppUsageEvents returns one page of app usage events.
func (s *Store) ListAppUsageEvents(ctx context.Context, _ Viewer, f AppUsageEventFilter, p Page) ([]AppUsageEvent, int, error) {
	return usageEventTable.list(ctx, s, Viewer{All: true}, f, p)
}

// GetAppUsageEvent returns the app usage event guid.
func (s *Store) GetAppUsageEvent(ctx context.Context, guid string) (AppUsageEvent, error) {
	return usageEventTable.get(ctx, s, Viewer{All: true}, guid)
}

// PurgeAndReseedAppUsageEvents deletes every app usage event and records
// one STARTED event for each process of a started app, whose guid is the
// process's (AppUsageEventRepository#purge_and_reseed_started_apps!).
func (s *Store) PurgeAndReseedAppUsageEvents(ctx context.Context, at int64) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_usage_events`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count,
			memory_in_mb, previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
			buildpack_guid, buildpack_name, created_at)
			SELECT r.process_guid, 'STARTED', 'STARTED', r.instances, r.instances, r.memory_in_mb, r.memory_in_mb, r.process_guid,
				r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid, r.buildpack_guid, r.buildpack_name, ?
			FROM app_usage_process_rows r JOIN processes p ON p.guid = r.process_guid
			WHERE r.app_state = 'STARTED' ORDER BY p.id`, at)
		return err
	})
}

// UsageEventID returns the id of the app usage event guid.
func (s *Store) UsageEventID(ctx context.Context, guid string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM app_usage_events WHERE guid = ?`, guid).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, ErrNotFound
	}
	return id, err
}

// RecordRestartUsage records what a restart of the started app appGUID
// does to its usage, which no state change shows: every process stops,
// then starts again (AppRestart).
func (s *Store) RecordRestartUsage(ctx context.Context, appGUID string, at int64) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, states := range [][2]string{{"STOPPED", "STARTED"}, {"STARTED", "STOPPED"}} {
			_, err := tx.ExecContext(ctx, `INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count,
				memory_in_mb, previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
				buildpack_guid, buildpack_name, created_at)
				SELECT `+newGUIDSQL+`, ?, ?, r.instances, r.instances, r.memory_in_mb, r.memory_in_mb, r.process_guid,
					r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid, r.buildpack_guid, r.buildpack_name, ?
				FROM app_usage_process_rows r WHERE r.app_guid = ? ORDER BY r.process_type`, states[0], states[1], at, appGUID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// newGUIDSQL is a random version 4 UUID in SQL, as the migration's
// triggers make the guids of the events they record.
const newGUIDSQL = `lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
	substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))`
