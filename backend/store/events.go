package store

import (
	"context"
	"encoding/json"
)

// Actor is who caused an audit event.
type Actor struct {
	GUID string
	Type string
	Name string
}

// Event is a v3 audit event.
type Event struct {
	ID         int64
	GUID       string
	Type       string
	Actor      Actor
	TargetGUID string
	TargetType string
	TargetName string
	SpaceGUID  string
	OrgGUID    string
	Data       json.RawMessage
	CreatedAt  int64
}

// EventFilter narrows an audit events list.
type EventFilter struct {
	Types       []string
	TargetGUIDs []string
	SpaceGUIDs  []string
	OrgGUIDs    []string
	CreatedAts  []TimeCond
}

// Job is a v3 job.
type Job struct {
	GUID         string
	Operation    string
	State        string
	ResourceGUID string
	UserGUID     string
	Errors       json.RawMessage
	CreatedAt    int64
	UpdatedAt    int64
}

// The v3 job states.
const (
	JobProcessing = "PROCESSING"
	JobPolling    = "POLLING"
	JobComplete   = "COMPLETE"
	JobFailed     = "FAILED"
)

const eventCols = "id, guid, type, actor_guid, actor_type, actor_name, target_guid, target_type, target_name, space_guid, org_guid, data, created_at"

func scanEvent(r scanner) (Event, error) {
	var e Event
	var data string
	err := r.Scan(&e.ID, &e.GUID, &e.Type, &e.Actor.GUID, &e.Actor.Type, &e.Actor.Name, &e.TargetGUID, &e.TargetType, &e.TargetName,
		&e.SpaceGUID, &e.OrgGUID, &data, &e.CreatedAt)
	e.Data = json.RawMessage(data)
	return e, err
}

// eventTable is how audit events are read: a user sees the events in
// spaces it can see, and the organization-level events of orgs where it
// has a role. updated_at orders by created_at: an event never changes.
var eventTable = table[Event]{name: "audit_events", cols: eventCols, scan: scanEvent,
	order: map[string]string{"created_at": "created_at", "updated_at": "created_at"}, visible: visibleEvents}

func (f EventFilter) conds(w *where) {
	w.in("type", f.Types)
	w.in("target_guid", f.TargetGUIDs)
	w.in("space_guid", f.SpaceGUIDs)
	w.in("org_guid", f.OrgGUIDs)
	w.times("created_at", f.CreatedAts)
}

// ListEvents returns one page of the audit events v can see.
func (s *Store) ListEvents(ctx context.Context, v Viewer, f EventFilter, p Page) ([]Event, int, error) {
	return eventTable.list(ctx, s, v, f, p)
}

// GetEvent returns the audit event guid if v can see it.
func (s *Store) GetEvent(ctx context.Context, v Viewer, guid string) (Event, error) {
	return eventTable.get(ctx, s, v, guid)
}

func visibleEvents(w *where, sc scope) {
	if sc.all {
		return
	}
	spaces, orgs := &where{}, &where{}
	spaces.visibleSpaces("space_guid", sc)
	orgs.visibleOrgs("org_guid", sc)
	w.add("(("+spaces.clauses[0]+") OR (space_guid = '' AND "+orgs.clauses[0]+"))", append(spaces.args, orgs.args...)...)
}

// RecordEvents stores audit events on their own.
func (s *Store) RecordEvents(ctx context.Context, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error { return insertEvents(ctx, tx, events) })
}

func insertEvents(ctx context.Context, tx *cachedTx, events []Event) error {
	for _, e := range events {
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (guid, type, actor_guid, actor_type, actor_name, target_guid, target_type,
			target_name, space_guid, org_guid, data, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			e.GUID, e.Type, e.Actor.GUID, e.Actor.Type, e.Actor.Name, e.TargetGUID, e.TargetType, e.TargetName,
			e.SpaceGUID, e.OrgGUID, data, e.CreatedAt)
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateJob inserts a job.
func (s *Store) CreateJob(ctx context.Context, j Job) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (guid, operation, state, resource_guid, user_guid, errors, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, j.GUID, j.Operation, j.State, j.ResourceGUID, j.UserGUID, errorsText(j.Errors), j.CreatedAt, j.UpdatedAt)
		return err
	})
}

// FinishJob sets a job's final state and errors.
func (s *Store) FinishJob(ctx context.Context, guid, state string, errs json.RawMessage) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, errors = ?, updated_at = ? WHERE guid = ?`, state, errorsText(errs), s.Now(), guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// GetJob returns a job.
func (s *Store) GetJob(ctx context.Context, guid string) (Job, error) {
	return one(s.db.QueryRowContext(ctx, `SELECT guid, operation, state, resource_guid, user_guid, errors, created_at, updated_at FROM jobs WHERE guid = ?`, guid), scanJob)
}

func scanJob(r scanner) (Job, error) {
	var j Job
	var errs string
	err := r.Scan(&j.GUID, &j.Operation, &j.State, &j.ResourceGUID, &j.UserGUID, &errs, &j.CreatedAt, &j.UpdatedAt)
	j.Errors = json.RawMessage(errs)
	return j, err
}

func errorsText(e json.RawMessage) string {
	if len(e) == 0 {
		return "[]"
	}
	return string(e)
}

// PendingJobs returns the jobs still PROCESSING, oldest first.
func (s *Store) PendingJobs(ctx context.Context) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT guid, operation, state, resource_guid, user_guid, errors, created_at, updated_at
		FROM jobs WHERE state = ? ORDER BY created_at, rowid`, JobProcessing)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
