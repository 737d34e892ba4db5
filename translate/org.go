package translate

import (
	"bytes"
	"slices"
	"strings"
	"time"
)

// V3Org is a v3 organization (GET /v3/organizations/:guid).
type V3Org struct {
	GUID          string    `json:"guid"`
	Name          string    `json:"name"`
	Suspended     bool      `json:"suspended"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Relationships struct {
		Quota V3ToOne `json:"quota"`
	} `json:"relationships"`
}

// V2OrgEntity is the entity of a v2 organization, in the key order of
// cc:app/presenters/v2/organization_presenter.rb#entity_hash, then the
// RelationsPresenter urls: to-one relations first (quota_definition, only
// when the org has one), then to-many, in the order of
// OrganizationsController's define_attributes.
type V2OrgEntity struct {
	Name            string  `json:"name"`
	BillingEnabled  bool    `json:"billing_enabled"`
	QuotaDefinition *string `json:"quota_definition_guid"`
	Status          string  `json:"status"`
	// DefaultIsolationSegmentGUID is always null: v3 keeps it behind
	// GET /v3/organizations/:guid/relationships/default_isolation_segment,
	// which the translation does not read yet. For the same reason
	// isolation_segment_url (present only for orgs entitled to a segment)
	// never appears.
	DefaultIsolationSegmentGUID *string `json:"default_isolation_segment_guid"`
	QuotaDefinitionURL          *string `json:"quota_definition_url,omitempty"`
	SpacesURL                   string  `json:"spaces_url"`
	DomainsURL                  string  `json:"domains_url"`
	PrivateDomainsURL           string  `json:"private_domains_url"`
	UsersURL                    string  `json:"users_url"`
	ManagersURL                 string  `json:"managers_url"`
	BillingManagersURL          string  `json:"billing_managers_url"`
	AuditorsURL                 string  `json:"auditors_url"`
	AppEventsURL                string  `json:"app_events_url"`
	SpaceQuotaDefinitionsURL    string  `json:"space_quota_definitions_url"`
}

// V2OrgResource is a v2 organization as CC renders it.
type V2OrgResource struct {
	Metadata V2Metadata  `json:"metadata"`
	Entity   V2OrgEntity `json:"entity"`
}

// OrgEntity returns the v2 entity of o. billing_enabled has no v3
// counterpart and is always false, CC's default (define_attributes,
// "default: false"); status is "suspended" for a suspended org, else
// "active" (v3 OrganizationPresenter shows status == 'suspended').
func OrgEntity(o V3Org) V2OrgEntity {
	base := "/v2/organizations/" + o.GUID
	e := V2OrgEntity{
		Name:                     o.Name,
		QuotaDefinition:          strPtr(o.Relationships.Quota.GUID()),
		Status:                   "active",
		SpacesURL:                base + "/spaces",
		DomainsURL:               base + "/domains",
		PrivateDomainsURL:        base + "/private_domains",
		UsersURL:                 base + "/users",
		ManagersURL:              base + "/managers",
		BillingManagersURL:       base + "/billing_managers",
		AuditorsURL:              base + "/auditors",
		AppEventsURL:             base + "/app_events",
		SpaceQuotaDefinitionsURL: base + "/space_quota_definitions",
	}
	if o.Suspended {
		e.Status = "suspended"
	}
	if q := e.QuotaDefinition; q != nil {
		e.QuotaDefinitionURL = strPtr("/v2/quota_definitions/" + *q)
	}
	return e
}

// OrgResource renders the v2 organization resource of o.
func OrgResource(o V3Org) ([]byte, error) {
	var buf bytes.Buffer
	if err := AppendOrgResource(&buf, o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppendOrgResource writes the v2 organization resource of o to buf.
func AppendOrgResource(buf *bytes.Buffer, o V3Org) error {
	r := V2OrgResource{Metadata: v2Metadata("organizations", o.GUID, o.CreatedAt, o.UpdatedAt), Entity: OrgEntity(o)}
	return encodeJSON(buf, &r)
}

// AppendSpaceResourceInOrg writes the v2 space resource of b with its
// organization org inlined, as CC renders a space at
// inline-relations-depth 1 or more (the org is a to-one relation of the
// space, MAPPING §1.3). The space's to-many relations stay urls, as for
// the space an app inlines.
func AppendSpaceResourceInOrg(buf *bytes.Buffer, b SpaceBundle, org V3Org) error {
	return appendSpaceResource(buf, b, &org)
}

// OrgQueryKeys returns /v2/organizations' q keys, OrganizationsController's
// query_parameters (MAPPING-orgs §11.2.1): name; space_guid and the role
// keys of OrgRoleKeys, association filters read through v3 spaces and
// roles; and status, a column v3 has no filter for.
func OrgQueryKeys() []string {
	return []string{"name", "space_guid", "user_guid", "manager_guid", "billing_manager_guid", "auditor_guid", "status"}
}

// OrgRoleKeys are the q keys of /v2/organizations that name an org role
// (Organization's users, managers, billing_managers and auditors), each
// with the v3 role type whose holders' orgs it lists.
var OrgRoleKeys = map[string]string{
	"user_guid":            "organization_user",
	"manager_guid":         "organization_manager",
	"billing_manager_guid": "organization_billing_manager",
	"auditor_guid":         "organization_auditor",
}

// OrgStatusMatches reports whether the org o passes every status filter
// of fs. status is a plain string column in CC, so unlike the *_guid keys
// the operator counts, and values compare exactly (query.rb's
// Sequel.lit("status <op> ?")): status:active, status IN active,suspended,
// even status>a. v3 knows only suspended or not, so "deleting" never
// matches (MAPPING-orgs §11.2.1).
func OrgStatusMatches(fs []Filter, o V3Org) bool {
	status := OrgEntity(o).Status
	for _, f := range fs {
		if f.Key != "status" {
			continue
		}
		if f.Op == OpIn {
			if !slices.Contains(f.Values, status) {
				return false
			}
			continue
		}
		if len(f.Values) != 1 {
			return false
		}
		c := strings.Compare(status, f.Values[0])
		ok := map[Op]bool{OpEq: c == 0, OpLt: c < 0, OpGt: c > 0, OpLe: c <= 0, OpGe: c >= 0}[f.Op]
		if !ok {
			return false
		}
	}
	return true
}
