package ccv3

import (
	"encoding/json"
	"net/url"
	"strconv"

	"capibridge/translate"
)

// ProcessStats is GET /v3/processes/:guid/stats.
func (c *Client) ProcessStats(call Call, processGUID string) ([]translate.V3ProcessStats, error) {
	var p struct {
		Resources []translate.V3ProcessStats `json:"resources"`
	}
	err := c.get(call, "/v3/processes/"+url.PathEscape(processGUID)+"/stats", "", "/v3/processes/:guid/*", &p)
	return p.Resources, err
}

// ServiceInstancesQuery is a GET /v3/service_instances request.
type ServiceInstancesQuery struct {
	GUIDs, SpaceGUIDs []string
}

// ServiceInstances lists the service instances of the query, every page.
// The guid list that filters it is read in chunks: the instance guids,
// with the space guids as a filter of each chunk, or else the space guids.
func (c *Client) ServiceInstances(call Call, q ServiceInstancesQuery) ([]translate.V3ServiceInstance, error) {
	if q.GUIDs != nil && len(q.GUIDs) == 0 || q.SpaceGUIDs != nil && len(q.SpaceGUIDs) == 0 {
		return nil, nil
	}
	const path = "/v3/service_instances"
	extra := url.Values{}
	switch {
	case q.GUIDs != nil:
		if q.SpaceGUIDs != nil {
			extra.Set("space_guids", listValue(q.SpaceGUIDs))
		}
		return listBy[translate.V3ServiceInstance](c, call, path, path, "guids", q.GUIDs, extra)
	case q.SpaceGUIDs != nil:
		return listBy[translate.V3ServiceInstance](c, call, path, path, "space_guids", q.SpaceGUIDs, extra)
	}
	extra.Set("per_page", strconv.Itoa(maxPerPage))
	return allPages[translate.V3ServiceInstance](c, call, path, path, extra)
}

// InstanceBindings lists the app bindings of the service instances.
func (c *Client) InstanceBindings(call Call, instanceGUIDs []string) ([]translate.V3ServiceCredentialBinding, error) {
	return listBy[translate.V3ServiceCredentialBinding](c, call, "/v3/service_credential_bindings", "/v3/service_credential_bindings",
		"service_instance_guids", instanceGUIDs, url.Values{"type": {"app"}})
}

// Job is GET /v3/jobs/:guid; nil when there is no such job.
func (c *Client) Job(call Call, guid string) (*translate.V3Job, error) {
	var j translate.V3Job
	err := c.get(call, "/v3/jobs/"+url.PathEscape(guid), "", "/v3/jobs/:guid", &j)
	if e, ok := err.(*Error); ok && e.Status == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// AuditEventsQuery is a GET /v3/audit_events request.
type AuditEventsQuery struct {
	Types, TargetGUIDs, SpaceGUIDs, OrgGUIDs []string
	// CreatedAts are [operator, timestamp] pairs: lt, gt, lte, gte, or ""
	// for equality.
	CreatedAts    [][2]string
	Page, PerPage int
	OrderBy       string
}

// AuditEvents is GET /v3/audit_events.
func (c *Client) AuditEvents(call Call, q AuditEventsQuery) (Page[translate.V3AuditEvent], error) {
	query := encodeList(map[string][]string{"types": q.Types, "target_guids": q.TargetGUIDs, "space_guids": q.SpaceGUIDs,
		"organization_guids": q.OrgGUIDs}, q.Page, q.PerPage, q.OrderBy)
	for _, ca := range q.CreatedAts {
		key := "created_ats"
		if ca[0] != "" {
			key += "[" + ca[0] + "]"
		}
		if query != "" {
			query += "&"
		}
		query += url.QueryEscape(key) + "=" + url.QueryEscape(ca[1])
	}
	var p Page[translate.V3AuditEvent]
	err := c.get(call, "/v3/audit_events", query, "/v3/audit_events", &p)
	return p, err
}

// GetAuditEvent is GET /v3/audit_events/:guid.
func (c *Client) GetAuditEvent(call Call, guid string) (translate.V3AuditEvent, error) {
	var e translate.V3AuditEvent
	err := c.get(call, "/v3/audit_events/"+url.PathEscape(guid), "", "/v3/audit_events/:guid", &e)
	return e, err
}

// Exists reports whether GET /v3/<collection>/<guid> finds the resource.
func (c *Client) Exists(call Call, collection, guid string) (bool, error) {
	var raw json.RawMessage
	err := c.get(call, "/v3/"+collection+"/"+url.PathEscape(guid), "", "/v3/"+collection+"/:guid", &raw)
	if e, ok := err.(*Error); ok && e.Status == 404 {
		return false, nil
	}
	return err == nil, err
}
