package translate

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// The v2 organization quotas (MAPPING-orgs §12.1): a v3 organization quota
// with v3's null (unlimited) as v2's -1.

// V3Quota is GET /v3/organization_quotas/:guid or /v3/space_quotas/:guid
// (which has no domains, and an owning organization and spaces).
type V3Quota struct {
	GUID      string    `json:"guid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Apps      struct {
		TotalMemoryInMB      *int64 `json:"total_memory_in_mb"`
		PerProcessMemoryInMB *int64 `json:"per_process_memory_in_mb"`
		TotalInstances       *int64 `json:"total_instances"`
		PerAppTasks          *int64 `json:"per_app_tasks"`
		LogRateLimit         *int64 `json:"log_rate_limit_in_bytes_per_second"`
	} `json:"apps"`
	Services struct {
		PaidServicesAllowed   bool   `json:"paid_services_allowed"`
		TotalServiceInstances *int64 `json:"total_service_instances"`
		TotalServiceKeys      *int64 `json:"total_service_keys"`
	} `json:"services"`
	Routes struct {
		TotalRoutes        *int64 `json:"total_routes"`
		TotalReservedPorts *int64 `json:"total_reserved_ports"`
	} `json:"routes"`
	Domains struct {
		TotalDomains *int64 `json:"total_domains"`
	} `json:"domains"`
	Relationships struct {
		Organization V3ToOne `json:"organization"`
		Spaces       struct {
			Data []V3GUIDRef `json:"data"`
		} `json:"spaces"`
	} `json:"relationships"`
}

// V2QuotaEntity is a v2 quota definition (export_attributes order;
// quota_definition.current-shape.json), no relation urls.
type V2QuotaEntity struct {
	Name                    string `json:"name"`
	NonBasicServicesAllowed bool   `json:"non_basic_services_allowed"`
	TotalServices           int64  `json:"total_services"`
	TotalRoutes             int64  `json:"total_routes"`
	TotalPrivateDomains     int64  `json:"total_private_domains"`
	MemoryLimit             int64  `json:"memory_limit"`
	TrialDBAllowed          bool   `json:"trial_db_allowed"`
	InstanceMemoryLimit     int64  `json:"instance_memory_limit"`
	AppInstanceLimit        int64  `json:"app_instance_limit"`
	AppTaskLimit            int64  `json:"app_task_limit"`
	TotalServiceKeys        int64  `json:"total_service_keys"`
	TotalReservedRoutePorts int64  `json:"total_reserved_route_ports"`
	LogRateLimit            int64  `json:"log_rate_limit"`
}

// limit is v3's limit as v2's: null (unlimited) is -1.
func limit(v *int64) int64 {
	if v == nil {
		return -1
	}
	return *v
}

// AppendQuotaResource writes the v2 quota definition of q;
// trial_db_allowed is always false (CC's getter is hard-coded).
func AppendQuotaResource(buf *bytes.Buffer, q V3Quota) error {
	e := V2QuotaEntity{Name: q.Name, NonBasicServicesAllowed: q.Services.PaidServicesAllowed, TotalServices: limit(q.Services.TotalServiceInstances),
		TotalRoutes: limit(q.Routes.TotalRoutes), TotalPrivateDomains: limit(q.Domains.TotalDomains), MemoryLimit: limit(q.Apps.TotalMemoryInMB),
		InstanceMemoryLimit: limit(q.Apps.PerProcessMemoryInMB), AppInstanceLimit: limit(q.Apps.TotalInstances), AppTaskLimit: limit(q.Apps.PerAppTasks),
		TotalServiceKeys: limit(q.Services.TotalServiceKeys), TotalReservedRoutePorts: limit(q.Routes.TotalReservedPorts),
		LogRateLimit: limit(q.Apps.LogRateLimit)}
	return encodeJSON(buf, &v2Resource[V2QuotaEntity]{Metadata: v2Metadata("quota_definitions", q.GUID, q.CreatedAt, q.UpdatedAt), Entity: e})
}

// QuotaDefinitionNotFound is CC's 240001.
func QuotaDefinitionNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 240001, Name: "QuotaDefinitionNotFound", Description: "Quota Definition could not be found: " + guid}
}

// quotaFields are QuotaDefinitionsController's attributes; required on
// create are name, non_basic_services_allowed, total_services,
// total_routes and memory_limit.
var quotaFields = []bodyField{{"name", kindString, true}, {"non_basic_services_allowed", kindBool, true}, {"total_services", kindInteger, true},
	{"total_service_keys", kindInteger, false}, {"total_routes", kindInteger, true}, {"total_private_domains", kindInteger, false},
	{"memory_limit", kindInteger, true}, {"trial_db_allowed", kindBool, false}, {"instance_memory_limit", kindInteger, false},
	{"app_instance_limit", kindInteger, false}, {"app_task_limit", kindInteger, false}, {"total_reserved_route_ports", kindInteger, false}}

// QuotaRequest is a parsed quota definition body: the values given.
type QuotaRequest struct {
	Name   *string
	Paid   *bool
	Limits map[string]int64
	// OrgGUID is a space quota's owning organization.
	OrgGUID *string
}

// ParseQuotaRequest parses a quota body; a create fills v2's defaults
// (-1 for the optional limits, 0 reserved route ports).
func ParseQuotaRequest(body []byte, create bool) (QuotaRequest, error) {
	m, err := parseMessage(body, quotaFields, create)
	if err != nil {
		return QuotaRequest{}, err
	}
	r := QuotaRequest{Name: m.str("name"), Paid: m.boolean("non_basic_services_allowed"), Limits: map[string]int64{}}
	for _, f := range quotaFields {
		if v, ok := m[f.name]; ok && f.kind == kindInteger {
			r.Limits[f.name] = v.i
		}
	}
	if create {
		for _, k := range []string{"total_service_keys", "total_private_domains", "instance_memory_limit", "app_instance_limit", "app_task_limit"} {
			if _, ok := r.Limits[k]; !ok {
				r.Limits[k] = -1
			}
		}
		if _, ok := r.Limits["total_reserved_route_ports"]; !ok {
			r.Limits["total_reserved_route_ports"] = 0
		}
	}
	return r, nil
}

// Check refuses the limits QuotaDefinition#validate refused.
func (r QuotaRequest) Check() *Error {
	if v, ok := r.Limits["memory_limit"]; ok && v < -1 {
		return &Error{Status: 400, Code: 240004, Name: "QuotaDefinitionMemoryLimitInvalid", Description: "Quota Definition memory limit cannot be less than -1"}
	}
	for _, k := range []string{"instance_memory_limit", "app_instance_limit", "app_task_limit", "total_service_keys", "total_private_domains", "total_services", "total_routes"} {
		if v, ok := r.Limits[k]; ok && v < -1 {
			return &Error{Status: 400, Code: 240003, Name: "QuotaDefinitionInvalid", Description: "Quota Definition is invalid: " + k + " invalid_" + k}
		}
	}
	ports, hasPorts := r.Limits["total_reserved_route_ports"]
	routes, hasRoutes := r.Limits["total_routes"]
	if hasPorts && (ports < -1 || hasRoutes && routes >= 0 && ports > routes) {
		return &Error{Status: 400, Code: 240003, Name: "QuotaDefinitionInvalid",
			Description: "Quota Definition is invalid: Total reserved ports must be -1, 0, or a positive integer, and must be less than or equal to total routes."}
	}
	return nil
}

// V3QuotaWrite is the POST (every field) or PATCH (the given ones)
// /v3/organization_quotas body; v2's -1 is v3's null.
func V3QuotaWrite(r QuotaRequest) ([]byte, error) {
	body := v3QuotaBody(r)
	if domains := r.group([2]string{"total_private_domains", "total_domains"}); len(domains) > 0 {
		body["domains"] = domains
	}
	return json.Marshal(body)
}

// group is the v3 object of the v2 limits given, each pair a v2 limit
// and its v3 key; -1 is null.
func (r QuotaRequest) group(pairs ...[2]string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, p := range pairs {
		v, ok := r.Limits[p[0]]
		switch {
		case !ok:
		case v == -1:
			out[p[1]] = json.RawMessage("null")
		default:
			out[p[1]] = json.RawMessage(strconv.FormatInt(v, 10))
		}
	}
	return out
}

// v3QuotaBody is what organization and space quota bodies share: the
// name, and the apps, services and routes limits.
func v3QuotaBody(r QuotaRequest) map[string]any {
	body := map[string]any{}
	if r.Name != nil {
		body["name"] = *r.Name
	}
	if apps := r.group([2]string{"memory_limit", "total_memory_in_mb"}, [2]string{"instance_memory_limit", "per_process_memory_in_mb"},
		[2]string{"app_instance_limit", "total_instances"}, [2]string{"app_task_limit", "per_app_tasks"}); len(apps) > 0 {
		body["apps"] = apps
	}
	services := r.group([2]string{"total_services", "total_service_instances"}, [2]string{"total_service_keys", "total_service_keys"})
	if r.Paid != nil {
		services["paid_services_allowed"] = json.RawMessage(strconv.FormatBool(*r.Paid))
	}
	if len(services) > 0 {
		body["services"] = services
	}
	if routes := r.group([2]string{"total_routes", "total_routes"}, [2]string{"total_reserved_route_ports", "total_reserved_ports"}); len(routes) > 0 {
		body["routes"] = routes
	}
	return body
}

// QuotaWriteError maps v3's refusal of a quota write (§12.1).
func QuotaWriteError(status int, detail string, name string) *Error {
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case bytes.Contains([]byte(detail), []byte("already exists")):
		return &Error{Status: 400, Code: 240002, Name: "QuotaDefinitionNameTaken", Description: "Quota Definition is taken: " + name}
	case bytes.Contains([]byte(detail), []byte("applied to one or more organizations")):
		return AssociationNotEmpty("organization", "quota definition")
	}
	return &Error{Status: 400, Code: 240003, Name: "QuotaDefinitionInvalid", Description: "Quota Definition is invalid: " + detail}
}
