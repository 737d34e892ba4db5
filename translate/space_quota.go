package translate

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The v2 space quota definitions (MAPPING-orgs §12.2): a v3 space quota
// with v3's null (unlimited) as v2's -1.

// V2SpaceQuotaEntity is a v2 space quota definition
// (space_quota_definition.current-shape.json): the attributes, then the
// organization and spaces urls.
type V2SpaceQuotaEntity struct {
	Name                    string `json:"name"`
	OrganizationGUID        string `json:"organization_guid"`
	NonBasicServicesAllowed bool   `json:"non_basic_services_allowed"`
	TotalServices           int64  `json:"total_services"`
	TotalRoutes             int64  `json:"total_routes"`
	MemoryLimit             int64  `json:"memory_limit"`
	InstanceMemoryLimit     int64  `json:"instance_memory_limit"`
	AppInstanceLimit        int64  `json:"app_instance_limit"`
	AppTaskLimit            int64  `json:"app_task_limit"`
	TotalServiceKeys        int64  `json:"total_service_keys"`
	TotalReservedRoutePorts int64  `json:"total_reserved_route_ports"`
	LogRateLimit            int64  `json:"log_rate_limit"`
	OrganizationURL         string `json:"organization_url"`
	SpacesURL               string `json:"spaces_url"`
}

// AppendSpaceQuotaResource writes the v2 space quota definition of q.
func AppendSpaceQuotaResource(buf *bytes.Buffer, q V3Quota) error {
	org := q.Relationships.Organization.GUID()
	e := V2SpaceQuotaEntity{Name: q.Name, OrganizationGUID: org, NonBasicServicesAllowed: q.Services.PaidServicesAllowed,
		TotalServices: limit(q.Services.TotalServiceInstances), TotalRoutes: limit(q.Routes.TotalRoutes), MemoryLimit: limit(q.Apps.TotalMemoryInMB),
		InstanceMemoryLimit: limit(q.Apps.PerProcessMemoryInMB), AppInstanceLimit: limit(q.Apps.TotalInstances), AppTaskLimit: limit(q.Apps.PerAppTasks),
		TotalServiceKeys: limit(q.Services.TotalServiceKeys), TotalReservedRoutePorts: limit(q.Routes.TotalReservedPorts),
		LogRateLimit: limit(q.Apps.LogRateLimit), OrganizationURL: "/v2/organizations/" + org,
		SpacesURL: "/v2/space_quota_definitions/" + q.GUID + "/spaces"}
	return encodeJSON(buf, &v2Resource[V2SpaceQuotaEntity]{Metadata: v2Metadata("space_quota_definitions", q.GUID, q.CreatedAt, q.UpdatedAt), Entity: e})
}

// SpaceQuotaDefinitionNotFound is CC's 310007.
func SpaceQuotaDefinitionNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 310007, Name: "SpaceQuotaDefinitionNotFound", Description: "Space Quota Definition could not be found: " + guid}
}

// SpaceQuotaDefinitionInvalid is CC's 310001.
func SpaceQuotaDefinitionInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 310001, Name: "SpaceQuotaDefinitionInvalid", Description: "Space Quota Definition is invalid: " + detail}
}

// spaceQuotaFields are SpaceQuotaDefinitionsController's attributes, then
// its to-one organization.
var spaceQuotaFields = []bodyField{{"name", kindString, true}, {"non_basic_services_allowed", kindBool, true},
	{"total_services", kindInteger, true}, {"total_service_keys", kindInteger, false}, {"total_routes", kindInteger, true},
	{"memory_limit", kindInteger, true}, {"instance_memory_limit", kindInteger, false}, {"app_instance_limit", kindInteger, false},
	{"app_task_limit", kindInteger, false}, {"total_reserved_route_ports", kindInteger, false}, {"organization_guid", kindString, true}}

// ParseSpaceQuotaRequest parses a space quota body; a create fills v2's
// defaults: -1 for the optional limits but app_task_limit, 5 (the model's
// column defaults; v3's default is unlimited, so 5 is sent).
func ParseSpaceQuotaRequest(body []byte, create bool) (QuotaRequest, error) {
	m, err := parseMessage(body, spaceQuotaFields, create)
	if err != nil {
		return QuotaRequest{}, err
	}
	r := QuotaRequest{Name: m.str("name"), Paid: m.boolean("non_basic_services_allowed"), OrgGUID: m.str("organization_guid"), Limits: map[string]int64{}}
	for _, f := range spaceQuotaFields {
		if v, ok := m[f.name]; ok && f.kind == kindInteger {
			r.Limits[f.name] = v.i
		}
	}
	if create {
		for k, v := range map[string]int64{"total_service_keys": -1, "instance_memory_limit": -1, "app_instance_limit": -1, "app_task_limit": 5,
			"total_reserved_route_ports": -1} {
			if _, ok := r.Limits[k]; !ok {
				r.Limits[k] = v
			}
		}
	}
	return r, nil
}

// CheckSpace refuses the limits SpaceQuotaDefinition#validate refused:
// each below -1 (memory included, no special error here), and reserved
// ports over the routes.
func (r QuotaRequest) CheckSpace() *Error {
	for _, k := range []string{"memory_limit", "instance_memory_limit", "app_instance_limit", "app_task_limit", "total_service_keys", "total_services", "total_routes"} {
		if v, ok := r.Limits[k]; ok && v < -1 {
			return SpaceQuotaDefinitionInvalid(k + " invalid_" + k)
		}
	}
	ports, hasPorts := r.Limits["total_reserved_route_ports"]
	routes, hasRoutes := r.Limits["total_routes"]
	if hasPorts && (ports < -1 || hasRoutes && routes >= 0 && ports > routes) {
		return SpaceQuotaDefinitionInvalid("Total reserved ports must be -1, 0, or a positive integer, must be less than or equal to total routes, " +
			"and must be less than or equal to total reserved ports for the organization quota.")
	}
	return nil
}

// V3SpaceQuotaWrite is the POST (every field, the owning organization) or
// PATCH (the given ones) /v3/space_quotas body.
func V3SpaceQuotaWrite(r QuotaRequest, create bool) ([]byte, error) {
	body := v3QuotaBody(r)
	if create && r.OrgGUID != nil {
		body["relationships"] = map[string]any{"organization": map[string]any{"data": map[string]string{"guid": *r.OrgGUID}}}
	}
	return json.Marshal(body)
}

// SpaceQuotaWriteError maps v3's refusal of a space quota write (§12.2).
func SpaceQuotaWriteError(status int, detail, name, org string) *Error {
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case strings.Contains(detail, "already exists"):
		return &Error{Status: 400, Code: 310002, Name: "SpaceQuotaDefinitionNameTaken", Description: "The space quota definition name is taken: " + name}
	case strings.Contains(detail, "does not exist, or you do not have access to it"), strings.Contains(detail, "does not exist or you do not have access to it"):
		return InvalidRelation("Could not find Organization with guid: " + org)
	case strings.Contains(detail, "cannot be applied outside of their owning organization"):
		return SpaceQuotaDefinitionInvalid("space_quota_definition invalid_organization")
	case strings.Contains(detail, "unlimited log rate limit"):
		return &Error{Status: 422, Code: 10008, Name: "UnprocessableEntity",
			Description: "Current usage exceeds new quota values. This space currently contains apps running with an unlimited log rate limit."}
	}
	return SpaceQuotaDefinitionInvalid(detail)
}
