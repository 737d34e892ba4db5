package store

import "context"

// QuotaLimits are the limits organization and space quotas share (CC's
// QuotaDefinition and SpaceQuotaDefinition columns). A nil limit is
// unlimited, CC's -1. TotalDomains is an organization quota's only.
type QuotaLimits struct {
	TotalMemoryMB         *int64
	PerProcessMemoryMB    *int64
	TotalInstances        *int64
	PerAppTasks           *int64
	LogRateLimit          *int64
	PaidServicesAllowed   bool
	TotalServiceInstances *int64
	TotalServiceKeys      *int64
	TotalRoutes           *int64
	TotalReservedPorts    *int64
	TotalDomains          *int64
}

// quotaLimitCols are the columns of the limits both quota tables have, in
// the order of quotaLimitDests and quotaLimitArgs.
const quotaLimitCols = `total_memory_in_mb, per_process_memory_in_mb, total_instances, per_app_tasks, log_rate_limit,
	paid_services_allowed, total_service_instances, total_service_keys, total_routes, total_reserved_ports`

// quotaLimitSets is quotaLimitCols as UPDATE assignments.
const quotaLimitSets = `total_memory_in_mb = ?, per_process_memory_in_mb = ?, total_instances = ?, per_app_tasks = ?, log_rate_limit = ?,
	paid_services_allowed = ?, total_service_instances = ?, total_service_keys = ?, total_routes = ?, total_reserved_ports = ?`

// quotaLimitDests are the scan destinations of quotaLimitCols.
func quotaLimitDests(l *QuotaLimits) []any {
	return []any{&l.TotalMemoryMB, &l.PerProcessMemoryMB, &l.TotalInstances, &l.PerAppTasks, &l.LogRateLimit,
		&l.PaidServicesAllowed, &l.TotalServiceInstances, &l.TotalServiceKeys, &l.TotalRoutes, &l.TotalReservedPorts}
}

// quotaLimitArgs are the values of quotaLimitCols.
func quotaLimitArgs(l QuotaLimits) []any {
	return []any{l.TotalMemoryMB, l.PerProcessMemoryMB, l.TotalInstances, l.PerAppTasks, l.LogRateLimit,
		l.PaidServicesAllowed, l.TotalServiceInstances, l.TotalServiceKeys, l.TotalRoutes, l.TotalReservedPorts}
}

// joinArgs joins query arguments.
func joinArgs(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// updateQuota writes the name and limits of the quota guid in table, the
// columns extraSets names ("total_domains = ?, ") with the values extra,
// and updated_at, and records events; a quota that is gone is ErrNotFound.
func (s *Store) updateQuota(ctx context.Context, table, extraSets string, extra []any, guid, name string, l QuotaLimits, updatedAt int64,
	events []Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET name = ?, `+quotaLimitSets+`, `+extraSets+`updated_at = ? WHERE guid = ?`,
			joinArgs([]any{name}, quotaLimitArgs(l), extra, []any{updatedAt, guid})...)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// quotaHolders are the rows a kind of quota is applied to, by their
// quota_guid column: the organizations of organization quotas, the spaces
// of space quotas; visible limits a column of their guids to a scope.
type quotaHolders struct {
	table   string
	visible func(w *where, col string, sc scope)
}

var (
	orgQuotaHolders   = quotaHolders{table: "organizations", visible: (*where).visibleOrgs}
	spaceQuotaHolders = quotaHolders{table: "spaces", visible: (*where).visibleSpaces}
)

// of returns, by quota guid, the guids of the holders v sees that have
// each of quotaGUIDs, in the order the holders were created.
func (h quotaHolders) of(ctx context.Context, s *Store, v Viewer, quotaGUIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(quotaGUIDs))
	if len(quotaGUIDs) == 0 {
		return out, nil
	}
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.in("quota_guid", quotaGUIDs)
	h.visible(w, "guid", sc)
	rows, err := s.db.QueryContext(ctx, "SELECT quota_guid, guid FROM "+h.table+w.sql()+" ORDER BY id", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var q, g string
		if err := rows.Scan(&q, &g); err != nil {
			return nil, err
		}
		out[q] = append(out[q], g)
	}
	return out, rows.Err()
}

// set gives the holders guids the quota quotaGUID, in place of any they
// had.
func (h quotaHolders) set(ctx context.Context, tx *cachedTx, quotaGUID string, guids []string, updatedAt int64) error {
	for _, g := range guids {
		if _, err := tx.ExecContext(ctx, `UPDATE `+h.table+` SET quota_guid = ?, updated_at = ? WHERE guid = ?`, quotaGUID, updatedAt, g); err != nil {
			return err
		}
	}
	return nil
}

// apply gives the holders guids the quota quotaGUID and records events.
func (h quotaHolders) apply(ctx context.Context, s *Store, quotaGUID string, guids []string, updatedAt int64, events []Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := h.set(ctx, tx, quotaGUID, guids, updatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// inUse says whether a holder has the quota quotaGUID.
func (h quotaHolders) inUse(ctx context.Context, s *Store, quotaGUID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+h.table+` WHERE quota_guid = ?`, quotaGUID).Scan(&n)
	return n > 0, err
}
