package store

import (
	"context"
	"database/sql"
	"encoding/json"
)

// ServiceOperation is a broker operation the platform is polling, kept
// with the job that reports it (CC's reoccurring service jobs). The job is
// PROCESSING until PollAt, then POLLING; the broker is asked next at
// NextPollAt (both unix milliseconds). Request is what the operation
// applies once it succeeds, as its owner wrote it.
type ServiceOperation struct {
	JobGUID         string
	ResourceType    string
	ResourceGUID    string
	Type            string
	BrokerOperation string
	PollAt          int64
	NextPollAt      int64
	Request         json.RawMessage
}

// ServiceChange is one transaction of service writes, applied in the order
// of its fields: rows deleted and put (inserted, or replaced by guid),
// shares, a job started or moved on, an operation ended or put, events.
type ServiceChange struct {
	DeleteBindings []string
	DeleteInstance string
	Instance       *ServiceInstance
	// CopyCredentials gives the bindings of Instance its credentials and
	// syslog drain (a user-provided instance's update).
	CopyCredentials bool
	// CopyRouteServiceURL gives the route bindings of Instance its route
	// service url (ServiceInstanceUpdateUserProvided#update_route_bindings).
	CopyRouteServiceURL bool
	Binding             *ServiceCredentialBinding
	Share               []string // spaces the instance of ShareGUID is shared into
	Unshare             []string // spaces it is no longer shared into
	ShareGUID           string
	Job                 *Job // inserted
	SetJob              *Job // its state, errors and updated_at set
	Operation           *ServiceOperation
	EndOperation        string // the job guid of an operation that is over
	Events              []Event
}

// ApplyServices writes c in one transaction, deletes first (a failed key
// or instance gives way to a new one of its name). A name taken (instance in
// its space, key of its instance, app binding) is ErrConflict; a row to
// delete that is gone is ErrNotFound.
func (s *Store) ApplyServices(ctx context.Context, c ServiceChange) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, guid := range c.DeleteBindings {
			if err := deleteRow(ctx, tx, "service_credential_bindings", guid); err != nil {
				return err
			}
		}
		if c.DeleteInstance != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM service_credential_bindings WHERE service_instance_guid = ?`, c.DeleteInstance); err != nil {
				return err
			}
			if err := deleteRow(ctx, tx, "service_instances", c.DeleteInstance); err != nil {
				return err
			}
		}
		if c.Instance != nil {
			if err := putInstance(ctx, tx, *c.Instance); err != nil {
				return err
			}
		}
		if c.CopyCredentials {
			// Each binding is saved (sb.save), so its updated_at moves, as
			// clients that keep what a binding showed rely on.
			if _, err := tx.ExecContext(ctx, `UPDATE service_credential_bindings SET credentials = ?, syslog_drain_url = ?, updated_at = ?
				WHERE service_instance_guid = ?`, rawObject(c.Instance.Credentials), c.Instance.SyslogDrainURL, c.Instance.UpdatedAt, c.Instance.GUID); err != nil {
				return err
			}
		}
		if c.CopyRouteServiceURL {
			// route_binding.update: the row is saved, updated_at moving,
			// only when the url changes.
			if _, err := tx.ExecContext(ctx, `UPDATE route_bindings SET route_service_url = ?, updated_at = ?
				WHERE service_instance_guid = ? AND route_service_url IS NOT ?`,
				c.Instance.RouteServiceURL, c.Instance.UpdatedAt, c.Instance.GUID, c.Instance.RouteServiceURL); err != nil {
				return err
			}
		}
		if c.Binding != nil {
			if err := putBinding(ctx, tx, *c.Binding); err != nil {
				return err
			}
		}
		for _, space := range c.Share {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO service_instance_shares (service_instance_guid, space_guid) VALUES (?,?)`,
				c.ShareGUID, space); err != nil {
				return err
			}
		}
		for _, space := range c.Unshare {
			if _, err := tx.ExecContext(ctx, `DELETE FROM service_instance_shares WHERE service_instance_guid = ? AND space_guid = ?`,
				c.ShareGUID, space); err != nil {
				return err
			}
		}
		if j := c.Job; j != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (guid, operation, state, resource_guid, user_guid, errors, created_at, updated_at)
				VALUES (?,?,?,?,?,?,?,?)`, j.GUID, j.Operation, j.State, j.ResourceGUID, j.UserGUID, errorsText(j.Errors), j.CreatedAt, j.UpdatedAt); err != nil {
				return err
			}
		}
		if j := c.SetJob; j != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, errors = ?, updated_at = ? WHERE guid = ?`,
				j.State, errorsText(j.Errors), j.UpdatedAt, j.GUID); err != nil {
				return err
			}
		}
		if c.EndOperation != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM service_operations WHERE job_guid = ?`, c.EndOperation); err != nil {
				return err
			}
		}
		if op := c.Operation; op != nil {
			req := string(op.Request)
			if req == "" {
				req = "{}"
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO service_operations (job_guid, resource_type, resource_guid, type,
				broker_operation, poll_at, next_poll_at, request) VALUES (?,?,?,?,?,?,?,?)`, op.JobGUID, op.ResourceType, op.ResourceGUID,
				op.Type, op.BrokerOperation, op.PollAt, op.NextPollAt, req); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, c.Events)
	})
}

func deleteRow(ctx context.Context, tx *cachedTx, table, guid string) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE guid = ?", guid)
	if err != nil {
		return err
	}
	return mustAffect(res)
}

const operationCols = "job_guid, resource_type, resource_guid, type, broker_operation, poll_at, next_poll_at, request"

func scanOperation(r scanner) (ServiceOperation, error) {
	var op ServiceOperation
	var req string
	err := r.Scan(&op.JobGUID, &op.ResourceType, &op.ResourceGUID, &op.Type, &op.BrokerOperation, &op.PollAt, &op.NextPollAt, &req)
	op.Request = json.RawMessage(req)
	return op, err
}

// ServiceOperations returns the operations due at nowMs (all of them when
// nowMs is 0), in the order they were started.
func (s *Store) ServiceOperations(ctx context.Context, nowMs int64) ([]ServiceOperation, error) {
	w := &where{}
	if nowMs > 0 {
		w.add("next_poll_at <= ?", nowMs)
	}
	out, _, err := list(ctx, s.db, "service_operations", operationCols, w, Page{Page: 1, PerPage: 1 << 20}, nil, scanOperation)
	return out, err
}

// NextServiceOperation is the earliest next_poll_at, 0 when no operation
// is in flight.
func (s *Store) NextServiceOperation(ctx context.Context) (int64, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(next_poll_at) FROM service_operations`).Scan(&next)
	return next.Int64, err
}

// ServiceOperationOf returns the operation a job reports.
func (s *Store) ServiceOperationOf(ctx context.Context, jobGUID string) (ServiceOperation, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+operationCols+" FROM service_operations WHERE job_guid = ?", jobGUID), scanOperation)
}

// ResourceOperations returns the operations in flight on resources.
func (s *Store) ResourceOperations(ctx context.Context, guids []string) ([]ServiceOperation, error) {
	w := &where{}
	w.in("resource_guid", guids)
	out, _, err := list(ctx, s.db, "service_operations", operationCols, w, Page{Page: 1, PerPage: 1 << 20}, nil, scanOperation)
	return out, err
}

// SharedSpaces returns the spaces an instance is shared into, in the
// order it was shared.
func (s *Store) SharedSpaces(ctx context.Context, instanceGUID string) ([]Space, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT space_guid FROM service_instance_shares WHERE service_instance_guid = ? ORDER BY id`, instanceGUID)
	if err != nil {
		return nil, err
	}
	var guids []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return nil, err
		}
		guids = append(guids, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	spaces, err := s.SpacesByGUID(ctx, guids)
	if err != nil {
		return nil, err
	}
	byGUID := map[string]Space{}
	for _, sp := range spaces {
		byGUID[sp.GUID] = sp
	}
	out := make([]Space, 0, len(guids))
	for _, g := range guids {
		if sp, ok := byGUID[g]; ok {
			out = append(out, sp)
		}
	}
	return out, nil
}

// BrokerRecord is what the built-in broker keeps about an instance (Kind
// "instance") or a binding ("binding", of InstanceID).
type BrokerRecord struct {
	ID          string
	Kind        string
	Name        string
	InstanceID  string
	ServiceID   string
	PlanID      string
	Parameters  json.RawMessage
	Pending     json.RawMessage
	Credentials json.RawMessage
}

// GetBrokerRecord returns the broker's record id.
func (s *Store) GetBrokerRecord(ctx context.Context, id string) (BrokerRecord, error) {
	return one(s.db.QueryRowContext(ctx, `SELECT id, kind, name, instance_id, service_id, plan_id, parameters, pending, credentials
		FROM broker_records WHERE id = ?`, id), func(r scanner) (BrokerRecord, error) {
		var b BrokerRecord
		var params, creds string
		var pending sql.NullString
		err := r.Scan(&b.ID, &b.Kind, &b.Name, &b.InstanceID, &b.ServiceID, &b.PlanID, &params, &pending, &creds)
		b.Parameters, b.Credentials = json.RawMessage(params), json.RawMessage(creds)
		if pending.Valid {
			b.Pending = json.RawMessage(pending.String)
		}
		return b, err
	})
}

// PutBrokerRecord inserts or replaces a broker record.
func (s *Store) PutBrokerRecord(ctx context.Context, b BrokerRecord) error {
	var pending *string
	if len(b.Pending) > 0 {
		p := string(b.Pending)
		pending = &p
	}
	return s.exec(ctx, `INSERT OR REPLACE INTO broker_records (id, kind, name, instance_id, service_id, plan_id, parameters, pending,
		credentials) VALUES (?,?,?,?,?,?,?,?,?)`, b.ID, b.Kind, b.Name, b.InstanceID, b.ServiceID, b.PlanID, rawObject(b.Parameters), pending, rawObject(b.Credentials))
}

// DeleteBrokerRecord removes a broker record, and an instance's bindings.
func (s *Store) DeleteBrokerRecord(ctx context.Context, id string) error {
	return s.exec(ctx, `DELETE FROM broker_records WHERE id = ? OR instance_id = ?`, id, id)
}
