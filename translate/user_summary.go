package translate

import (
	"bytes"
	"slices"
	"time"
)

// GET /v2/users/:guid/summary (MAPPING-orgs §11.5): CC's
// UserSummariesController renders UserSummaryPresenter
// (cc:app/presenters/api/user_summary_presenter.rb), which is built from
// the api presenters, not the v2 ones: metadata without url, each org with
// all its spaces, its quota and its managers inlined, and no relation
// urls anywhere.

// UserSummaryBundle is what v3 says about a user that the summary shows.
type UserSummaryBundle struct {
	// User is GET /v3/users/:guid.
	User V3User `json:"user"`
	// Roles are the user's roles (GET /v3/roles?user_guids=…) in v3's
	// order, created_at, which stands for the order of CC's role join
	// tables (User's many_to_many associations have no order of their
	// own).
	Roles []V3Role `json:"roles"`
	// Orgs and Spaces are the roles' organizations and spaces by guid
	// (include=organization,space).
	Orgs   map[string]V3Org   `json:"orgs"`
	Spaces map[string]V3Space `json:"spaces"`
	// OrgSpaces are each org's spaces, in v3's order; Quotas the orgs'
	// quotas by guid; Managers each org's managers, in the order of their
	// roles.
	OrgSpaces map[string][]V3Space `json:"org_spaces"`
	Quotas    map[string]V3Quota   `json:"quotas"`
	Managers  map[string][]V3User  `json:"managers"`
}

// summaryMetadata is ApiPresenter#metadata_hash: guid, created_at and
// updated_at (updated_at.try(:iso8601), null when unset), no url.
type summaryMetadata struct {
	GUID      string  `json:"guid"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

func newSummaryMetadata(guid string, created, updated time.Time) summaryMetadata {
	return summaryMetadata{GUID: guid, CreatedAt: formatTime(created), UpdatedAt: timePtr(updated)}
}

// summaryItem is ApiPresenter#to_hash: metadata, then entity.
type summaryItem[E any] struct {
	Metadata summaryMetadata `json:"metadata"`
	Entity   E               `json:"entity"`
}

// summarySpace is the api SpacePresenter's entity: the name alone.
type summarySpace struct {
	Name string `json:"name"`
}

// summaryQuota is the api QuotaDefinitionPresenter's entity, in its order;
// trial_db_allowed is the literal false there.
type summaryQuota struct {
	Name                    string `json:"name"`
	NonBasicServicesAllowed bool   `json:"non_basic_services_allowed"`
	TotalServices           int64  `json:"total_services"`
	MemoryLimit             int64  `json:"memory_limit"`
	TrialDBAllowed          bool   `json:"trial_db_allowed"`
	TotalRoutes             int64  `json:"total_routes"`
	InstanceMemoryLimit     int64  `json:"instance_memory_limit"`
	TotalPrivateDomains     int64  `json:"total_private_domains"`
	AppInstanceLimit        int64  `json:"app_instance_limit"`
	AppTaskLimit            int64  `json:"app_task_limit"`
}

// summaryUser is the api UserPresenter's entity: admin and active (v2
// columns with no v3 source, false as in V2UserEntity) and
// default_space_guid (no v3 concept, null).
type summaryUser struct {
	Admin            bool    `json:"admin"`
	Active           bool    `json:"active"`
	DefaultSpaceGUID *string `json:"default_space_guid"`
}

// summaryOrg is the api OrganizationPresenter's entity: billing_enabled
// and status as in V2OrgEntity, then every space of the org, its quota
// and its managers.
type summaryOrg struct {
	Name            string                      `json:"name"`
	BillingEnabled  bool                        `json:"billing_enabled"`
	Status          string                      `json:"status"`
	Spaces          []summaryItem[summarySpace] `json:"spaces"`
	QuotaDefinition *summaryItem[summaryQuota]  `json:"quota_definition"`
	Managers        []summaryItem[summaryUser]  `json:"managers"`
}

// userSummaryEntity is UserSummaryPresenter#entity_hash, in its order.
type userSummaryEntity struct {
	Organizations               []summaryItem[summaryOrg]   `json:"organizations"`
	ManagedOrganizations        []summaryItem[summaryOrg]   `json:"managed_organizations"`
	BillingManagedOrganizations []summaryItem[summaryOrg]   `json:"billing_managed_organizations"`
	AuditedOrganizations        []summaryItem[summaryOrg]   `json:"audited_organizations"`
	Spaces                      []summaryItem[summarySpace] `json:"spaces"`
	ManagedSpaces               []summaryItem[summarySpace] `json:"managed_spaces"`
	AuditedSpaces               []summaryItem[summarySpace] `json:"audited_spaces"`
}

// UserSummaryRoleTypes are the v3 role types of the summary's lists: the
// user's organizations (organization_user), managed, billing managed and
// audited organizations, spaces (space_developer), managed and audited
// spaces (User's associations; space_supporter has no v2 list).
var UserSummaryRoleTypes = []string{"organization_user", "organization_manager", "organization_billing_manager",
	"organization_auditor", "space_developer", "space_manager", "space_auditor"}

// UserSummary renders GET /v2/users/:guid/summary from b. An org or space
// that b does not hold (the caller cannot see it) is left out; an org
// whose quota it does not hold shows a null quota_definition.
func UserSummary(b UserSummaryBundle) ([]byte, error) {
	orgsOf := func(typ string) []summaryItem[summaryOrg] {
		out := []summaryItem[summaryOrg]{}
		for _, guid := range b.roleTargets(typ) {
			if o, ok := b.Orgs[guid]; ok {
				out = append(out, b.org(o))
			}
		}
		return out
	}
	spacesOf := func(typ string) []summaryItem[summarySpace] {
		out := []summaryItem[summarySpace]{}
		for _, guid := range b.roleTargets(typ) {
			if sp, ok := b.Spaces[guid]; ok {
				out = append(out, summarySpaceItem(sp))
			}
		}
		return out
	}
	var buf bytes.Buffer
	err := encodeJSON(&buf, summaryItem[userSummaryEntity]{
		Metadata: newSummaryMetadata(b.User.GUID, b.User.CreatedAt, b.User.UpdatedAt),
		Entity: userSummaryEntity{
			Organizations:               orgsOf("organization_user"),
			ManagedOrganizations:        orgsOf("organization_manager"),
			BillingManagedOrganizations: orgsOf("organization_billing_manager"),
			AuditedOrganizations:        orgsOf("organization_auditor"),
			Spaces:                      spacesOf("space_developer"),
			ManagedSpaces:               spacesOf("space_manager"),
			AuditedSpaces:               spacesOf("space_auditor"),
		},
	})
	return buf.Bytes(), err
}

// roleTargets are the guids of the orgs (or spaces) where the user holds
// a role of typ, each once, in the roles' order.
func (b UserSummaryBundle) roleTargets(typ string) []string {
	var out []string
	for _, r := range b.Roles {
		if r.Type != typ {
			continue
		}
		guid := r.Relationships.Organization.GUID()
		if IsSpaceRole(typ) {
			guid = r.Relationships.Space.GUID()
		}
		if guid != "" && !slices.Contains(out, guid) {
			out = append(out, guid)
		}
	}
	return out
}

// OrgGUIDs are the guids of the orgs the summary renders, each once, in
// the roles' order: the orgs whose spaces, quotas and managers it needs.
func (b UserSummaryBundle) OrgGUIDs() []string {
	var out []string
	for _, typ := range []string{"organization_user", "organization_manager", "organization_billing_manager", "organization_auditor"} {
		for _, guid := range b.roleTargets(typ) {
			if _, ok := b.Orgs[guid]; ok && !slices.Contains(out, guid) {
				out = append(out, guid)
			}
		}
	}
	return out
}

func (b UserSummaryBundle) org(o V3Org) summaryItem[summaryOrg] {
	e := summaryOrg{Name: o.Name, Status: OrgEntity(o).Status, Spaces: []summaryItem[summarySpace]{}, Managers: []summaryItem[summaryUser]{}}
	for _, sp := range b.OrgSpaces[o.GUID] {
		e.Spaces = append(e.Spaces, summarySpaceItem(sp))
	}
	if q, ok := b.Quotas[o.Relationships.Quota.GUID()]; ok {
		e.QuotaDefinition = &summaryItem[summaryQuota]{Metadata: newSummaryMetadata(q.GUID, q.CreatedAt, q.UpdatedAt), Entity: summaryQuota{
			Name: q.Name, NonBasicServicesAllowed: q.Services.PaidServicesAllowed, TotalServices: limit(q.Services.TotalServiceInstances),
			MemoryLimit: limit(q.Apps.TotalMemoryInMB), TotalRoutes: limit(q.Routes.TotalRoutes), InstanceMemoryLimit: limit(q.Apps.PerProcessMemoryInMB),
			TotalPrivateDomains: limit(q.Domains.TotalDomains), AppInstanceLimit: limit(q.Apps.TotalInstances), AppTaskLimit: limit(q.Apps.PerAppTasks)}}
	}
	for _, u := range b.Managers[o.GUID] {
		e.Managers = append(e.Managers, summaryItem[summaryUser]{Metadata: newSummaryMetadata(u.GUID, u.CreatedAt, u.UpdatedAt)})
	}
	return summaryItem[summaryOrg]{Metadata: newSummaryMetadata(o.GUID, o.CreatedAt, o.UpdatedAt), Entity: e}
}

func summarySpaceItem(sp V3Space) summaryItem[summarySpace] {
	return summaryItem[summarySpace]{Metadata: newSummaryMetadata(sp.GUID, sp.CreatedAt, sp.UpdatedAt), Entity: summarySpace{Name: sp.Name}}
}
