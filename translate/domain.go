package translate

import "bytes"

// The v2 domains (MAPPING-routes §9.12, §9.13): one v3 domain is a v2
// shared domain when it has no owning organization, else a private one.

// Shared reports whether d is a shared domain: v3 has no filter for it,
// so the lists keep these themselves (§9.12.2).
func (d V3Domain) Shared() bool { return d.Relationships.Organization.GUID() == "" }

// V2SharedDomainEntity is a shared domain's entity in SharedDomainPresenter's
// key order (cc:app/presenters/v2/shared_domain_presenter.rb), with no
// relation keys.
type V2SharedDomainEntity struct {
	Name            string  `json:"name"`
	Internal        bool    `json:"internal"`
	RouterGroupGUID *string `json:"router_group_guid"`
	RouterGroupType *string `json:"router_group_type"`
}

// V2PrivateDomainEntity is a private domain's entity under
// /v2/private_domains (PrivateDomainPresenter, §9.13.1).
type V2PrivateDomainEntity struct {
	Name                   string `json:"name"`
	OwningOrganizationGUID string `json:"owning_organization_guid"`
	OwningOrganizationURL  string `json:"owning_organization_url"`
	SharedOrganizationsURL string `json:"shared_organizations_url"`
}

type v2Resource[E any] struct {
	Metadata V2Metadata `json:"metadata"`
	Entity   E          `json:"entity"`
}

// AppendSharedDomainResource writes the v2 shared domain of d.
// router_group_type is filled on the shared domain list and get only
// (§9.12.1): null without a router group, "tcp" for a TCP domain, else
// "http".
func AppendSharedDomainResource(buf *bytes.Buffer, d V3Domain) error {
	e := V2SharedDomainEntity{Name: d.Name, Internal: d.Internal}
	if d.RouterGroup != nil && d.RouterGroup.GUID != "" {
		guid, kind := d.RouterGroup.GUID, "http"
		if len(d.SupportedProtocols) == 1 && d.SupportedProtocols[0] == "tcp" {
			kind = "tcp"
		}
		e.RouterGroupGUID, e.RouterGroupType = &guid, &kind
	}
	return encodeJSON(buf, &v2Resource[V2SharedDomainEntity]{Metadata: v2Metadata("shared_domains", d.GUID, d.CreatedAt, d.UpdatedAt), Entity: e})
}

// AppendPrivateDomainResource writes the v2 private domain of d.
func AppendPrivateDomainResource(buf *bytes.Buffer, d V3Domain) error {
	org := d.Relationships.Organization.GUID()
	e := V2PrivateDomainEntity{Name: d.Name, OwningOrganizationGUID: org, OwningOrganizationURL: "/v2/organizations/" + org,
		SharedOrganizationsURL: "/v2/private_domains/" + d.GUID + "/shared_organizations"}
	return encodeJSON(buf, &v2Resource[V2PrivateDomainEntity]{Metadata: v2Metadata("private_domains", d.GUID, d.CreatedAt, d.UpdatedAt), Entity: e})
}

// DomainQueryKeys returns the q keys of the shared and private domain
// lists (query_parameters :name).
func DomainQueryKeys() []string { return []string{"name"} }

// DomainNotFound is CC's 130002: an absent domain, or one of the other
// kind (a private domain under /v2/shared_domains, §9.12.2).
func DomainNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 130002, Name: "DomainNotFound", Description: "The domain could not be found: " + guid}
}

// V2DomainsControllerPrivateEntity is a private domain as DomainsController
// renders it (the deprecated /v2/domains, org and space domains, and a
// route's inlined domain; §9.13.1): its spaces instead of its shared
// organizations.
type V2DomainsControllerPrivateEntity struct {
	Name                   string `json:"name"`
	OwningOrganizationGUID string `json:"owning_organization_guid"`
	OwningOrganizationURL  string `json:"owning_organization_url"`
	SpacesURL              string `json:"spaces_url"`
}

// AppendDomainViaDomains writes d as DomainsController renders it: by the
// presenter of its kind, with metadata.url under that kind's collection,
// but with DomainsController's relations, and router_group_type null
// (only the shared domain endpoints fill it; §9.12.1).
func AppendDomainViaDomains(buf *bytes.Buffer, d V3Domain) error {
	if d.Shared() {
		e := V2SharedDomainEntity{Name: d.Name, Internal: d.Internal}
		if d.RouterGroup != nil && d.RouterGroup.GUID != "" {
			guid := d.RouterGroup.GUID
			e.RouterGroupGUID = &guid
		}
		return encodeJSON(buf, &v2Resource[V2SharedDomainEntity]{Metadata: v2Metadata("shared_domains", d.GUID, d.CreatedAt, d.UpdatedAt), Entity: e})
	}
	org := d.Relationships.Organization.GUID()
	e := V2DomainsControllerPrivateEntity{Name: d.Name, OwningOrganizationGUID: org, OwningOrganizationURL: "/v2/organizations/" + org,
		SpacesURL: "/v2/domains/" + d.GUID + "/spaces"}
	return encodeJSON(buf, &v2Resource[V2DomainsControllerPrivateEntity]{Metadata: v2Metadata("private_domains", d.GUID, d.CreatedAt, d.UpdatedAt), Entity: e})
}
