package store

import (
	"context"
	"fmt"
)

// Usage is what an org or a space uses of its quota
// (cc:lib/cloud_controller/organization_quota_usage.rb and
// SpaceUsageSummaryPresenter). The embedded CF has no tasks, so no task
// counts or task memory.
type Usage struct {
	StartedInstances int64
	MemoryInMB       int64
	Routes           int64
	ServiceInstances int64
	ReservedPorts    int64
	Domains          int64
	PerAppTasks      int64
	ServiceKeys      int64
}

// OrgUsage returns the usage of the org guid: the instances and memory
// of the processes of started apps, the routes, managed service
// instances, reserved route ports (routes with a port on a domain with a
// router group), the private domains it owns and the service keys of
// its instances.
func (s *Store) OrgUsage(ctx context.Context, guid string) (Usage, error) {
	return s.usage(ctx, "SELECT guid FROM spaces WHERE org_guid = ?", guid, guid)
}

// SpaceUsage returns the usage of the space guid, as OrgUsage does; its
// domains are the private domains its org owns.
func (s *Store) SpaceUsage(ctx context.Context, guid string) (Usage, error) {
	var org string
	if err := s.db.QueryRowContext(ctx, `SELECT org_guid FROM spaces WHERE guid = ?`, guid).Scan(&org); err != nil {
		return Usage{}, fmt.Errorf("store: space usage: %w", err)
	}
	return s.usage(ctx, "SELECT ?", guid, org)
}

// usage counts over the spaces that spaces (a select of space guids with
// one argument, spacesArg) names; domains are those org owns.
func (s *Store) usage(ctx context.Context, spaces, spacesArg, org string) (Usage, error) {
	var u Usage
	in := " IN (" + spaces + ")"
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(SUM(p.instances), 0) FROM processes p JOIN apps a ON a.guid = p.app_guid
			WHERE a.state = 'STARTED' AND p.space_guid`+in+`),
		(SELECT COALESCE(SUM(p.instances * p.memory_in_mb), 0) FROM processes p JOIN apps a ON a.guid = p.app_guid
			WHERE a.state = 'STARTED' AND p.space_guid`+in+`),
		(SELECT COUNT(*) FROM routes WHERE space_guid`+in+`),
		(SELECT COUNT(*) FROM service_instances WHERE type = ? AND space_guid`+in+`),
		(SELECT COUNT(*) FROM routes r JOIN domains d ON d.guid = r.domain_guid
			WHERE d.router_group_guid IS NOT NULL AND r.port IS NOT NULL AND r.space_guid`+in+`),
		(SELECT COUNT(*) FROM domains WHERE org_guid = ?),
		(SELECT COUNT(*) FROM service_credential_bindings b JOIN service_instances i ON i.guid = b.service_instance_guid
			WHERE b.type = 'key' AND i.space_guid`+in+`)`,
		spacesArg, spacesArg, spacesArg, Managed, spacesArg, spacesArg, org, spacesArg).
		Scan(&u.StartedInstances, &u.MemoryInMB, &u.Routes, &u.ServiceInstances, &u.ReservedPorts, &u.Domains, &u.ServiceKeys)
	return u, err
}
