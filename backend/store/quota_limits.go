package store

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
