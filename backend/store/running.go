package store

import (
	"context"
	"database/sql"
)

// Instance is one placed instance of a process: its index, the process
// version it runs and when it last (re)started, in unix milliseconds.
// CrashEventGUID is set once the crash of this start has been recorded.
type Instance struct {
	ProcessGUID    string
	Index          int64
	Version        string
	StartedAt      int64
	CrashEventGUID *string
}

// RunningProcess is a process of a started app with a current droplet and
// at least one instance: one the simulated Diego runs.
type RunningProcess struct {
	Process     Process
	AppName     string
	DropletGUID string
	OrgGUID     string
}

const instanceCols = "process_guid, idx, version, started_at, crash_event_guid"

func scanInstance(r scanner) (Instance, error) {
	var in Instance
	var crash sql.NullString
	err := r.Scan(&in.ProcessGUID, &in.Index, &in.Version, &in.StartedAt, &crash)
	in.CrashEventGUID = nullStr(crash)
	return in, err
}

func queryInstances(ctx context.Context, q queryer, processGUID string) ([]Instance, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+instanceCols+" FROM process_instances WHERE process_guid = ? ORDER BY idx", processGUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Instance{}
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Instances returns the placed instances of a process, by index.
func (s *Store) Instances(ctx context.Context, processGUID string) ([]Instance, error) {
	return queryInstances(ctx, s.db, processGUID)
}

// placed reports whether ins are exactly indexes 0..count-1 of version.
func placed(ins []Instance, version string, count int64) bool {
	if int64(len(ins)) != count {
		return false
	}
	for i, in := range ins {
		if in.Index != int64(i) || in.Version != version {
			return false
		}
	}
	return true
}

// PlaceInstances makes the placed instances of p match it: indexes from
// p.Instances up are removed, missing ones start at at (unix ms), and those
// of another version restart at at. It returns the instances, and does not
// write when they already match.
func (s *Store) PlaceInstances(ctx context.Context, p Process, at int64) ([]Instance, error) {
	ins, err := queryInstances(ctx, s.db, p.GUID)
	if err != nil || placed(ins, p.Version, p.Instances) {
		return ins, err
	}
	err = s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM process_instances WHERE process_guid = ? AND idx >= ?`, p.GUID, p.Instances); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE process_instances SET version = ?, started_at = ?, crash_event_guid = NULL
			WHERE process_guid = ? AND version != ?`, p.Version, at, p.GUID, p.Version); err != nil {
			return err
		}
		for i := int64(0); i < p.Instances; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO process_instances (process_guid, idx, version, started_at)
				VALUES (?,?,?,?)`, p.GUID, i, p.Version, at); err != nil {
				return err
			}
		}
		ins, err = queryInstances(ctx, tx, p.GUID)
		return err
	})
	return ins, err
}

// RemoveInstances removes every placed instance of an app's processes, as
// a stop does.
func (s *Store) RemoveInstances(ctx context.Context, appGUID string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM process_instances WHERE process_guid IN (SELECT guid FROM processes WHERE app_guid = ?)`, appGUID)
		return err
	})
}

// RestartInstance restarts one placed instance at at (unix ms), when it is
// placed, and records events either way.
func (s *Store) RestartInstance(ctx context.Context, processGUID string, index, at int64, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE process_instances SET started_at = ?, crash_event_guid = NULL WHERE process_guid = ? AND idx = ?`,
			at, processGUID, index); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// RecordCrash records ev as the crash of the start of an instance that
// began at startedAt, once: it reports false, and records nothing, when
// that crash is already recorded or the instance has restarted since.
func (s *Store) RecordCrash(ctx context.Context, processGUID string, index, startedAt int64, ev Event) (bool, error) {
	recorded := false
	err := s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE process_instances SET crash_event_guid = ?
			WHERE process_guid = ? AND idx = ? AND started_at = ? AND crash_event_guid IS NULL`, ev.GUID, processGUID, index, startedAt)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		recorded = true
		return insertEvents(ctx, tx, []Event{ev})
	})
	return recorded, err
}

// RunningProcesses returns the processes the simulated Diego runs: those
// of started apps with a current droplet, with at least one instance.
func (s *Store) RunningProcesses(ctx context.Context) ([]RunningProcess, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+qualify("p", processCols)+`, a.name, a.droplet_guid, sp.org_guid
		FROM processes p JOIN apps a ON a.guid = p.app_guid JOIN spaces sp ON sp.guid = a.space_guid
		WHERE a.state = 'STARTED' AND a.droplet_guid IS NOT NULL AND p.instances > 0 ORDER BY p.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunningProcess
	for rows.Next() {
		var rp RunningProcess
		p, err := scanProcess(tailScanner{rows, []any{&rp.AppName, &rp.DropletGUID, &rp.OrgGUID}})
		if err != nil {
			return nil, err
		}
		rp.Process = p
		out = append(out, rp)
	}
	return out, rows.Err()
}
