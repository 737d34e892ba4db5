package backend

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// The stable guids of what the embedded CF seeds on first start; the README
// lists them.
const (
	DemoOrgGUID      = "0d0e0000-0000-4000-8000-000000000001"
	DemoSpaceGUID    = "5ace0000-0000-4000-8000-000000000001"
	DemoQuotaGUID    = "900a0000-0000-4000-8000-000000000001"
	StackFS4GUID     = "57ac0000-0000-4000-8000-000000000004"
	StackFS3GUID     = "57ac0000-0000-4000-8000-000000000003"
	AdminUserGUID    = "05e40000-0000-4000-8000-000000000001"
	DeveloperGUID    = "05e40000-0000-4000-8000-000000000002"
	AuditorGUID      = "05e40000-0000-4000-8000-000000000003"
	OutsiderGUID     = "05e40000-0000-4000-8000-000000000004"
	DemoOrgName      = "demo-org"
	DemoSpaceName    = "demo-space"
	DefaultStackName = "cflinuxfs4"
	SharedDomainGUID = "d0a10000-0000-4000-8000-000000000001"
	SharedDomainName = "apps.capibridge.local"
	// TCPRouterGroupGUID is the routing API's tcp router group, named
	// TCPRouterGroupName, whose reservable ports are 1024-1033. No TCP
	// domain is seeded: an admin creates one with this router group.
	TCPRouterGroupGUID = "7c900000-0000-4000-8000-000000000001"
	TCPRouterGroupName = "default-tcp"
)

// tcpReservablePorts are the seeded router group's ports: ten, so that a
// group running out of ports is easy to try.
const tcpReservablePorts = "1024-1033"

// userScopes are the scopes of a UAA user in the cloud_controller groups.
var userScopes = []string{"cloud_controller.read", "cloud_controller.write", "openid", "password.write", "uaa.user"}

// adminScopes are the admin's: cf-deployment's admin user is also in the
// routing API's router group groups, which `cf router-groups` and
// `cf create-shared-domain --router-group` need, and in scim.read and
// scim.write, which `cf create-user` needs.
var adminScopes = append([]string{scopeAdmin, scopeRouterGroupsRead, scopeRouterGroupsWrite, scopeSCIMRead, scopeSCIMWrite}, userScopes...)

// DefaultQuotaName is the name of the quota every new org gets.
const DefaultQuotaName = "default"

// defaultOrgQuota is cf-deployment's default quota
// (cf-deployment.yml, cc.quota_definitions.default: memory_limit 102400,
// non_basic_services_allowed true, total_routes 1000, total_services -1)
// with CC's column defaults for the rest: total_reserved_route_ports 0,
// every other limit -1, unlimited.
func defaultOrgQuota(now int64) store.OrgQuota {
	memory, routes, ports := int64(102400), int64(1000), int64(0)
	return store.OrgQuota{GUID: DemoQuotaGUID, Name: DefaultQuotaName, QuotaLimits: store.QuotaLimits{TotalMemoryMB: &memory,
		PaidServicesAllowed: true, TotalRoutes: &routes, TotalReservedPorts: &ports}, CreatedAt: now, UpdatedAt: now}
}

// seed creates the demo foundation. Every step tolerates finding its row
// already there, so a start that was cut off half-way is completed by the
// next one, and a seeded data dir is left as it is.
func seed(ctx context.Context, st *store.Store) error {
	now := st.Now()
	steps := []func() error{
		func() error {
			return st.CreateStack(ctx, store.Stack{GUID: StackFS4GUID, Name: "cflinuxfs4", Description: "Cloud Foundry Linux-based filesystem (Ubuntu 22.04)",
				Default: true, State: "ACTIVE", CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateStack(ctx, store.Stack{GUID: StackFS3GUID, Name: "cflinuxfs3", Description: "Cloud Foundry Linux-based filesystem (Ubuntu 18.04)",
				State: "ACTIVE", CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateOrgQuota(ctx, defaultOrgQuota(now), nil)
		},
		func() error {
			return st.CreateOrg(ctx, store.Org{GUID: DemoOrgGUID, Name: DemoOrgName, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateSpace(ctx, store.Space{GUID: DemoSpaceGUID, Name: DemoSpaceName, OrgGUID: DemoOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateDomain(ctx, store.Domain{GUID: SharedDomainGUID, Name: SharedDomainName, Protocols: []string{"http"}, CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateRouterGroup(ctx, store.RouterGroup{GUID: TCPRouterGroupGUID, Name: TCPRouterGroupName, Type: "tcp", ReservablePorts: tcpReservablePorts})
		},
	}
	steps = append(steps, seedMarketplace(ctx, st, now)...)
	steps = append(steps, seedPlacement(ctx, st, now)...)
	users := []struct {
		guid, name string
		scopes     []string
		roles      []string
	}{
		{AdminUserGUID, "admin", adminScopes, nil},
		{DeveloperGUID, "developer", userScopes, []string{store.RoleOrgUser, store.RoleSpaceDeveloper}},
		{AuditorGUID, "auditor", userScopes, []string{store.RoleOrgUser, store.RoleSpaceAuditor}},
		{OutsiderGUID, "outsider", userScopes, nil},
	}
	for _, u := range users {
		steps = append(steps, func() error {
			return st.CreateUser(ctx, store.User{GUID: u.guid, Username: u.name, Email: u.name + "@example.org", Scopes: u.scopes})
		})
		for _, role := range u.roles {
			space := ""
			if role != store.RoleOrgUser {
				space = DemoSpaceGUID
			}
			// A name-based uuid: stable across starts, distinct per user and role.
			guid := uuid.NewSHA1(uuid.NameSpaceOID, []byte(u.guid+"/"+role)).String()
			steps = append(steps, func() error {
				return st.AddRole(ctx, store.Role{GUID: guid, Type: role, UserGUID: u.guid, OrgGUID: DemoOrgGUID, SpaceGUID: space})
			})
		}
	}
	for _, step := range steps {
		if err := step(); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("backend: seed: %w", err)
		}
	}
	return nil
}
