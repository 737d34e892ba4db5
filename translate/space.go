package translate

import (
	"bytes"
	"encoding/json"
	"time"
)

// V3Space is a v3 space (GET /v3/spaces/:guid).
type V3Space struct {
	GUID          string    `json:"guid"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Relationships struct {
		Organization V3ToOne `json:"organization"`
		// Quota is the space quota; v3 shows {"data":null} without one.
		Quota V3ToOne `json:"quota"`
	} `json:"relationships"`
}

// SpaceBundle is what v3 says about one space that its v2 entity needs.
type SpaceBundle struct {
	// Space is GET /v3/spaces/:guid (or an entry of GET /v3/spaces).
	Space V3Space
	// AllowSSH is GET /v3/spaces/:guid/features/ssh → enabled.
	AllowSSH bool
	// IsolationSegmentGUID is the space's own segment, not its org's
	// default: GET /v3/spaces/:guid/relationships/isolation_segment →
	// data.guid, "" for none (v3's space does not carry it).
	IsolationSegmentGUID string
}

// V2SpaceEntity is the entity of a v2 space, in the key order of
// cc:app/presenters/v2/space_presenter.rb#entity_hash, then the
// RelationsPresenter urls: to-one relations first (organization, and
// space_quota_definition only when the space has one), then to-many, in
// the order of SpacesController's define_attributes.
type V2SpaceEntity struct {
	Name                     string  `json:"name"`
	OrganizationGUID         string  `json:"organization_guid"`
	SpaceQuotaDefinitionGUID *string `json:"space_quota_definition_guid"`
	IsolationSegmentGUID     *string `json:"isolation_segment_guid"`
	AllowSSH                 bool    `json:"allow_ssh"`
	// IsolationSegmentURL follows allow_ssh, and only for a space with a
	// segment (cc:app/presenters/v2/space_presenter.rb).
	IsolationSegmentURL *string `json:"isolation_segment_url,omitempty"`
	OrganizationURL     string  `json:"organization_url"`
	// Organization is the inlined organization (inline-relations-depth).
	Organization             json.RawMessage `json:"organization,omitempty"`
	SpaceQuotaDefinitionURL  *string         `json:"space_quota_definition_url,omitempty"`
	DevelopersURL            string          `json:"developers_url"`
	ManagersURL              string          `json:"managers_url"`
	AuditorsURL              string          `json:"auditors_url"`
	AppsURL                  string          `json:"apps_url"`
	RoutesURL                string          `json:"routes_url"`
	DomainsURL               string          `json:"domains_url"`
	ServiceInstancesURL      string          `json:"service_instances_url"`
	AppEventsURL             string          `json:"app_events_url"`
	EventsURL                string          `json:"events_url"`
	SecurityGroupsURL        string          `json:"security_groups_url"`
	StagingSecurityGroupsURL string          `json:"staging_security_groups_url"`
}

// V2SpaceResource is a v2 space as CC renders it.
type V2SpaceResource struct {
	Metadata V2Metadata    `json:"metadata"`
	Entity   V2SpaceEntity `json:"entity"`
}

// SpaceEntity returns the v2 entity of b.
func SpaceEntity(b SpaceBundle) V2SpaceEntity {
	sp := &b.Space
	base := "/v2/spaces/" + sp.GUID
	org := sp.Relationships.Organization.GUID()
	e := V2SpaceEntity{
		Name:                     sp.Name,
		OrganizationGUID:         org,
		SpaceQuotaDefinitionGUID: strPtr(sp.Relationships.Quota.GUID()),
		IsolationSegmentGUID:     strPtr(b.IsolationSegmentGUID),
		AllowSSH:                 b.AllowSSH,
		OrganizationURL:          "/v2/organizations/" + org,
		DevelopersURL:            base + "/developers",
		ManagersURL:              base + "/managers",
		AuditorsURL:              base + "/auditors",
		AppsURL:                  base + "/apps",
		RoutesURL:                base + "/routes",
		DomainsURL:               base + "/domains",
		ServiceInstancesURL:      base + "/service_instances",
		AppEventsURL:             base + "/app_events",
		EventsURL:                base + "/events",
		SecurityGroupsURL:        base + "/security_groups",
		StagingSecurityGroupsURL: base + "/staging_security_groups",
	}
	if q := e.SpaceQuotaDefinitionGUID; q != nil {
		e.SpaceQuotaDefinitionURL = strPtr("/v2/space_quota_definitions/" + *q)
	}
	if iso := e.IsolationSegmentGUID; iso != nil {
		e.IsolationSegmentURL = strPtr("/v3/isolation_segments/" + *iso)
	}
	return e
}

// SpaceResource renders the v2 space resource of b.
func SpaceResource(b SpaceBundle) ([]byte, error) {
	var buf bytes.Buffer
	if err := AppendSpaceResource(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppendSpaceResource writes the v2 space resource of b to buf.
func AppendSpaceResource(buf *bytes.Buffer, b SpaceBundle) error {
	return appendSpaceResource(buf, b, nil)
}

// appendSpaceResource writes the v2 space resource of b, with org inlined
// when it is not nil.
func appendSpaceResource(buf *bytes.Buffer, b SpaceBundle, org *OrgBundle) error {
	r := V2SpaceResource{Metadata: v2Metadata("spaces", b.Space.GUID, b.Space.CreatedAt, b.Space.UpdatedAt), Entity: SpaceEntity(b)}
	if org != nil {
		var err error
		if r.Entity.Organization, err = renderJSON(func(buf *bytes.Buffer) error { return AppendOrgBundle(buf, *org) }); err != nil {
			return err
		}
	}
	return encodeJSON(buf, &r)
}

// SpaceQueryKeys returns /v2/spaces' q keys, SpacesController's
// query_parameters (MAPPING-orgs §11.4): developer_guid and app_guid are
// read through v3 roles and apps, isolation_segment_guid through the
// segments' spaces. isolation_segment_guid is a column, not an
// association (Space's association is isolation_segment_model, which
// query.rb's foreign_key_association does not find), so its operator
// counts (ColumnMatches).
func SpaceQueryKeys() []string {
	return []string{"name", "organization_guid", "developer_guid", "app_guid", "isolation_segment_guid"}
}
