package store

import (
	"context"
	"strings"
)

// What counts against a quota (cc:app/models/runtime/organization.rb and
// space.rb #memory_used, app/models/runtime/constraints/*,
// app/models/runtime/quota_constraints/*, organization_routes.rb,
// space_routes.rb, space_reserved_route_ports.rb).

// QuotaUsage is what counts against the quotas of a space or an org.
type QuotaUsage struct {
	// Memory is the MB of the instances of started apps' processes,
	// Instances their count, LogRate the sum of their log rate limits
	// times their instances (an unlimited -1 taken as it is, as CC's
	// started_app_log_rate_limit does).
	Memory, Instances, LogRate int64
	// Routes are all routes; ReservedPorts the routes with a port on a
	// domain of a router group.
	Routes, ReservedPorts int64
	// ServiceInstances are the managed instances, ServiceKeys the keys of
	// the instances there.
	ServiceInstances, ServiceKeys int64
}

// QuotaExcept leaves rows out of a QuotaUsage: the rows a write is about to
// replace.
type QuotaExcept struct {
	Processes, ServiceInstances, Bindings []string
}

// QuotaUsageOf returns what counts against the quota of the space spaceGUID,
// or of the org orgGUID when spaceGUID is "".
func (s *Store) QuotaUsageOf(ctx context.Context, orgGUID, spaceGUID string, except QuotaExcept) (QuotaUsage, error) {
	in, arg := "(SELECT guid FROM spaces WHERE org_guid = ?)", orgGUID
	if spaceGUID != "" {
		in, arg = "(?)", spaceGUID
	}
	var u QuotaUsage
	queries := []struct {
		sql    string
		except []string
		col    string
		dests  []any
	}{
		{`SELECT COALESCE(SUM(p.memory_in_mb * p.instances), 0), COALESCE(SUM(p.instances), 0), COALESCE(SUM(p.log_rate_limit * p.instances), 0)
			FROM processes p JOIN apps a ON a.guid = p.app_guid WHERE a.state = 'STARTED' AND p.space_guid IN ` + in, except.Processes, "p.guid",
			[]any{&u.Memory, &u.Instances, &u.LogRate}},
		{`SELECT COUNT(*), COALESCE(SUM(r.port IS NOT NULL AND COALESCE(d.router_group_guid, '') != ''), 0) FROM routes r
			JOIN domains d ON d.guid = r.domain_guid WHERE r.space_guid IN ` + in, nil, "", []any{&u.Routes, &u.ReservedPorts}},
		{`SELECT COUNT(*) FROM service_instances si WHERE si.type = 'managed' AND si.space_guid IN ` + in, except.ServiceInstances, "si.guid",
			[]any{&u.ServiceInstances}},
		{`SELECT COUNT(*) FROM service_credential_bindings b JOIN service_instances si ON si.guid = b.service_instance_guid
			WHERE b.type = 'key' AND si.space_guid IN ` + in, except.Bindings, "b.guid", []any{&u.ServiceKeys}},
	}
	for _, q := range queries {
		sql, args := q.sql, []any{arg}
		if len(q.except) > 0 {
			sql += " AND " + q.col + " NOT IN (?" + strings.Repeat(",?", len(q.except)-1) + ")"
			for _, g := range q.except {
				args = append(args, g)
			}
		}
		if err := s.db.QueryRowContext(ctx, sql, args...).Scan(q.dests...); err != nil {
			return u, err
		}
	}
	return u, nil
}

// UnlimitedLogRateSpaces returns the names, sorted, of the spaces that
// have the space quota quotaGUID (or, when it is "", of spaceGUIDs) with
// an app whose process has an unlimited log rate.
func (s *Store) UnlimitedLogRateSpaces(ctx context.Context, quotaGUID string, spaceGUIDs []string) ([]string, error) {
	w := &where{}
	if quotaGUID != "" {
		w.add("s.quota_guid = ?", quotaGUID)
	} else {
		w.in("s.guid", spaceGUIDs)
	}
	w.add("p.log_rate_limit = -1")
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT s.name FROM spaces s JOIN processes p ON p.space_guid = s.guid`+w.sql()+` ORDER BY s.name`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
