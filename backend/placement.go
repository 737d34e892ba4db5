package backend

import (
	"context"
	"encoding/json"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// placementRoutes lists the routes of security groups, isolation segments
// and the organization and space relationships to them, and usage summaries.
func (s *Server) placementRoutes(p func(string) []string) []route {
	get, post, patch, del := fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPatch, fasthttp.MethodDelete
	running, runningNest := spaceSecurityGroups(false)
	staging, stagingNest := spaceSecurityGroups(true)
	return []route{
		{get, p("/v3/security_groups"), false, unprocessableList(securityGroupResource.index(s))},
		{get, p("/v3/security_groups/:guid"), false, securityGroupResource.showOne(s)},
		{post, p("/v3/security_groups"), false, s.createSecurityGroup},
		{patch, p("/v3/security_groups/:guid"), false, s.updateSecurityGroup},
		{del, p("/v3/security_groups/:guid"), false, s.deleteSecurityGroup},
		{post, p("/v3/security_groups/:guid/relationships/running_spaces"), false, s.bindSecurityGroup(false)},
		{post, p("/v3/security_groups/:guid/relationships/staging_spaces"), false, s.bindSecurityGroup(true)},
		{del, p("/v3/security_groups/:guid/relationships/running_spaces/:space_guid"), false, s.unbindSecurityGroup(false)},
		{del, p("/v3/security_groups/:guid/relationships/staging_spaces/:space_guid"), false, s.unbindSecurityGroup(true)},
		{get, p("/v3/spaces/:guid/running_security_groups"), false, unprocessableList(running.under(s, runningNest))},
		{get, p("/v3/spaces/:guid/staging_security_groups"), false, unprocessableList(staging.under(s, stagingNest))},

		{get, p("/v3/isolation_segments"), false, isolationSegmentResource.index(s)},
		{get, p("/v3/isolation_segments/:guid"), false, isolationSegmentResource.showOne(s)},
		{post, p("/v3/isolation_segments"), false, s.createIsolationSegment},
		{patch, p("/v3/isolation_segments/:guid"), false, s.updateIsolationSegment},
		{del, p("/v3/isolation_segments/:guid"), false, s.deleteIsolationSegment},
		{get, p("/v3/isolation_segments/:guid/relationships/organizations"), false, s.segmentOrgs},
		{post, p("/v3/isolation_segments/:guid/relationships/organizations"), false, s.entitleOrgs},
		{del, p("/v3/isolation_segments/:guid/relationships/organizations/:org_guid"), false, s.revokeEntitlement},
		{get, p("/v3/isolation_segments/:guid/relationships/spaces"), false, s.segmentSpaces},
		{get, p("/v3/isolation_segments/:guid/organizations"), false, s.segmentOrgList},
		{get, p("/v3/organizations/:guid/relationships/default_isolation_segment"), false, s.getOrgDefaultSegment},
		{patch, p("/v3/organizations/:guid/relationships/default_isolation_segment"), false, s.patchOrgDefaultSegment},
		{get, p("/v3/spaces/:guid/relationships/isolation_segment"), false, s.getSpaceSegment},
		{patch, p("/v3/spaces/:guid/relationships/isolation_segment"), false, s.patchSpaceSegment},

		{get, p("/v3/organizations/:guid/usage_summary"), false, s.orgUsageSummary},
		{get, p("/v3/spaces/:guid/usage_summary"), false, s.spaceUsageSummary},
	}
}

// Stable guids of the security groups the embedded CF seeds.
const (
	PublicNetworksSecurityGroupGUID = "5ec90000-0000-4000-8000-000000000001"
	DNSSecurityGroupGUID            = "5ec90000-0000-4000-8000-000000000002"
)

// seedPlacement are the seed steps of CC's shared isolation segment
// (Seeds.create_seed_shared_isolation_segment) and of cf-deployment's
// default security groups, public_networks (every address outside the
// private ranges) and dns, both enabled for running and staging, their
// rules as CC's seeds store cf-deployment's security_group_definitions
// (Seeds.create_seed_security_groups; cc:config/bosh-lite.yml).
func seedPlacement(ctx context.Context, st *store.Store, now int64) []func() error {
	groups := []struct{ guid, name, rules string }{
		{PublicNetworksSecurityGroupGUID, "public_networks", `[{"destination":"0.0.0.0-9.255.255.255","protocol":"all"},` +
			`{"destination":"11.0.0.0-169.253.255.255","protocol":"all"},{"destination":"169.255.0.0-172.15.255.255","protocol":"all"},` +
			`{"destination":"172.32.0.0-192.167.255.255","protocol":"all"},{"destination":"192.169.0.0-255.255.255.255","protocol":"all"}]`},
		{DNSSecurityGroupGUID, "dns", `[{"destination":"0.0.0.0/0","ports":"53","protocol":"tcp"},{"destination":"0.0.0.0/0","ports":"53","protocol":"udp"}]`},
	}
	steps := []func() error{func() error {
		return st.CreateIsolationSegment(ctx, store.IsolationSegment{GUID: SharedIsolationSegmentGUID, Name: "shared", CreatedAt: now, UpdatedAt: now})
	}}
	// CC seeds the groups only into a foundation that has none.
	steps = append(steps, func() error {
		_, n, err := st.ListSecurityGroups(ctx, store.Viewer{All: true}, store.SecurityGroupFilter{}, store.Page{Page: 1, PerPage: 1})
		if err != nil || n > 0 {
			return err
		}
		for _, g := range groups {
			if err := st.CreateSecurityGroup(ctx, store.SecurityGroup{GUID: g.guid, Name: g.name, Rules: json.RawMessage(g.rules),
				Running: true, Staging: true, CreatedAt: now, UpdatedAt: now}, nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
	return steps
}
