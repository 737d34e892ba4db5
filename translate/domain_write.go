package translate

import (
	"encoding/json"
	"strings"
)

// The v2 domain writes (MAPPING-routes §9.12.2, §9.13.2): bodies, the
// POST /v3/domains request each becomes, and the v2 errors of v3's
// refusals.

// sharedDomainFields and privateDomainFields are the writable attributes
// of SharedDomainsController and PrivateDomainsController.
var (
	sharedDomainFields  = []bodyField{{"name", kindString, true}, {"internal", kindBool, false}, {"router_group_guid", kindString, false}}
	privateDomainFields = []bodyField{{"name", kindString, true}, {"owning_organization_guid", kindString, true}}
)

// DomainRequest is a parsed domain body; a nil field was absent or null.
type DomainRequest struct {
	Name, RouterGroupGUID, OwningOrgGUID *string
	Internal                             *bool
}

// ParseSharedDomainRequest parses a POST /v2/shared_domains body.
func ParseSharedDomainRequest(body []byte) (DomainRequest, error) {
	m, err := parseMessage(body, sharedDomainFields, true)
	if err != nil {
		return DomainRequest{}, err
	}
	return DomainRequest{Name: m.str("name"), Internal: m.boolean("internal"), RouterGroupGUID: m.str("router_group_guid")}, nil
}

// ParsePrivateDomainRequest parses a private domain body; on create both
// attributes are required.
func ParsePrivateDomainRequest(body []byte, create bool) (DomainRequest, error) {
	m, err := parseMessage(body, privateDomainFields, create)
	if err != nil {
		return DomainRequest{}, err
	}
	return DomainRequest{Name: m.str("name"), OwningOrgGUID: m.str("owning_organization_guid")}, nil
}

// V3DomainCreate is the POST /v3/domains body of a v2 domain create: the
// name whitespace-stripped as the v2 model stripped it, and the owning
// org as a relationship for a private domain.
func V3DomainCreate(r DomainRequest) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	body := struct {
		Name          string     `json:"name"`
		Internal      *bool      `json:"internal,omitempty"`
		RouterGroup   *V3GUIDRef `json:"router_group,omitempty"`
		Relationships *struct {
			Organization guidData `json:"organization"`
		} `json:"relationships,omitempty"`
	}{Name: strings.TrimSpace(deref(r.Name)), Internal: r.Internal}
	if r.RouterGroupGUID != nil {
		body.RouterGroup = &V3GUIDRef{GUID: *r.RouterGroupGUID}
	}
	if r.OwningOrgGUID != nil {
		body.Relationships = &struct {
			Organization guidData `json:"organization"`
		}{Organization: guidData{Data: V3GUIDRef{GUID: *r.OwningOrgGUID}}}
	}
	return json.Marshal(body)
}

// DomainCreateError maps a v3 refusal of POST /v3/domains to CC's v2
// error (§9.12.2 and §9.13.2 tables); nil for errors mapped elsewhere.
func DomainCreateError(status int, title, detail string, r DomainRequest) *Error {
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403 && title == "CF-FeatureDisabled":
		return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail}
	case status == 403:
		return NotAuthorized()
	case status == 503 && has("Routing API is disabled"):
		return &Error{Status: 403, Code: 370003, Name: "RoutingApiDisabled", Description: "Routing API is disabled"}
	case status != 422:
		return nil
	case has("is already in use"):
		return &Error{Status: 400, Code: 130003, Name: "DomainNameTaken", Description: "The domain name is taken: " + strings.TrimSpace(deref(r.Name))}
	case has("Router group with guid"):
		return DomainInvalid("router group guid '" + deref(r.RouterGroupGUID) + "' not found")
	case has("Internal domains cannot be associated to a router group"):
		return DomainInvalid("router_group_guid cannot be specified for internal domains")
	case has("does not exist or you do not have access to it") && has("Organization"):
		return InvalidRelation("Could not find Organization with guid: " + deref(r.OwningOrgGUID))
	case has("is reserved and cannot be used for org-scoped domains"):
		return DomainInvalid("name reserved")
	case has("number of private domains exceeds the quota"):
		org := detail
		if i := strings.Index(detail, `organization "`); i >= 0 {
			org = strings.TrimSuffix(detail[i+len(`organization "`):], `"`)
		}
		return &Error{Status: 400, Code: 130005, Name: "TotalPrivateDomainsExceeded", Description: "The number of private domains exceeds the quota for organization: " + org}
	}
	return DomainInvalid(detail)
}

// DomainUpdateError refuses what a private domain update asks for that
// v3 cannot do: v3 cannot rename a domain nor change its owner
// (§9.13.2, a documented deviation: such updates are DomainInvalid).
func DomainUpdateError(r DomainRequest, d V3Domain) *Error {
	switch {
	case r.OwningOrgGUID != nil && *r.OwningOrgGUID != d.Relationships.Organization.GUID():
		return DomainInvalid("the owning organization cannot be changed")
	case r.Name != nil && !strings.EqualFold(strings.TrimSpace(*r.Name), d.Name):
		return DomainInvalid("the domain cannot be renamed through this gateway")
	}
	return nil
}
