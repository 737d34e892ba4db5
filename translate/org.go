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
	// DefaultIsolationSegmentGUID and IsolationSegmentURL are not in v3's
	// organization: see OrgBundle. CC's presenter adds
	// isolation_segment_url right after the default, and only when the
	// org is entitled to a segment (MAPPING-orgs §11.1).
	DefaultIsolationSegmentGUID *string `json:"default_isolation_segment_guid"`
	IsolationSegmentURL         *string `json:"isolation_segment_url,omitempty"`
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

// OrgBundle is what v3 says about one organization that its v2 entity
// needs beyond the organization itself, which carries neither its default
// isolation segment nor its entitlements (cc:app/presenters/v3/
// organization_presenter.rb has the quota alone in relationships).
type OrgBundle struct {
	// Org is GET /v3/organizations/:guid (or an entry of the list).
	Org V3Org
	// DefaultIsolationSegmentGUID is GET /v3/organizations/:guid/
	// relationships/default_isolation_segment → data.guid, "" for none
	// (Organization#default_isolation_segment_model).
	DefaultIsolationSegmentGUID string
	// Entitled: the org is entitled to an isolation segment (GET
	// /v3/isolation_segments?organization_guids=… is not empty), which the
	// v2 presenter shows as isolation_segment_url
	// ("unless org.isolation_segment_models.empty?").
	Entitled bool
}

// OrgBundleEntity returns the v2 entity of b: OrgEntity with the default
// isolation segment and, for an entitled org, isolation_segment_url, the
// v3 list of the org's segments, as cc:app/presenters/v2/
// organization_presenter.rb writes it.
func OrgBundleEntity(b OrgBundle) V2OrgEntity {
	e := OrgEntity(b.Org)
	e.DefaultIsolationSegmentGUID = strPtr(b.DefaultIsolationSegmentGUID)
	if b.Entitled {
		e.IsolationSegmentURL = strPtr("/v3/isolation_segments?organization_guids=" + b.Org.GUID)
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

// AppendOrgResource writes the v2 organization resource of o to buf, with
// no isolation segment read.
func AppendOrgResource(buf *bytes.Buffer, o V3Org) error {
	return AppendOrgBundle(buf, OrgBundle{Org: o})
}

// AppendOrgBundle writes the v2 organization resource of b to buf.
func AppendOrgBundle(buf *bytes.Buffer, b OrgBundle) error {
	o := &b.Org
	r := V2OrgResource{Metadata: v2Metadata("organizations", o.GUID, o.CreatedAt, o.UpdatedAt), Entity: OrgBundleEntity(b)}
	return encodeJSON(buf, &r)
}

// AppendSpaceResourceInOrg writes the v2 space resource of b with its
// organization org inlined, as CC renders a space at
// inline-relations-depth 1 or more (the org is a to-one relation of the
// space, MAPPING §1.3). The space's to-many relations stay urls, as for
// the space an app inlines.
func AppendSpaceResourceInOrg(buf *bytes.Buffer, b SpaceBundle, org OrgBundle) error {
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
// the operator counts (ColumnMatches): status:active, status IN
// active,suspended, even status>a. v3 knows only suspended or not, so
// "deleting" never matches (MAPPING-orgs §11.2.1).
func OrgStatusMatches(fs []Filter, o V3Org) bool {
	status := OrgEntity(o).Status
	for _, f := range fs {
		if f.Key == "status" && !ColumnMatches(f, status) {
			return false
		}
	}
	return true
}

// ColumnMatches applies f to the value v of a string column as CC's
// query.rb does (Sequel.lit("<key> <op> ?", values)): the operator as
// written, values compared exactly, byte by byte (the C collation; a
// database with another collation may order some strings otherwise).
// IN with no values is "<key> IS NULL" there, which a non-empty v never
// is.
func ColumnMatches(f Filter, v string) bool {
	if f.Op == OpIn {
		return slices.Contains(f.Values, v)
	}
	if len(f.Values) != 1 {
		return false
	}
	return holds(f.Op, strings.Compare(v, f.Values[0]))
}

// V3IsolationSegment is a v3 isolation segment (GET
// /v3/isolation_segments).
type V3IsolationSegment struct {
	GUID string `json:"guid"`
	Name string `json:"name"`
}
