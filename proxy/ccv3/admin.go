package ccv3

import (
	"encoding/json"
	"io"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// The v3 calls of the admin resources (MAPPING-orgs §12.3 to §12.7):
// buildpacks, feature flags, environment variable groups, app usage events
// and security groups.

// BuildpacksQuery is a GET /v3/buildpacks request.
type BuildpacksQuery struct {
	ListQuery
	Stacks, Lifecycles []string
}

// ListBuildpacks is GET /v3/buildpacks. v2 lists buildpacks by id, so the
// order is created_at unless another is asked for (v3's default is
// position).
func (c *Client) ListBuildpacks(call Call, q BuildpacksQuery) (Page[translate.V3Buildpack], error) {
	var p Page[translate.V3Buildpack]
	if q.OrderBy == "" {
		q.OrderBy = "created_at"
	}
	v := encodeList(map[string][]string{"names": q.Names, "stacks": q.Stacks, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
	if len(q.Lifecycles) == 1 {
		// v3 filters by one lifecycle.
		v += "&lifecycle=" + url.QueryEscape(q.Lifecycles[0])
	}
	err := c.get(call, "/v3/buildpacks", v, "/v3/buildpacks", &p)
	return p, err
}

// GetBuildpack is GET /v3/buildpacks/:guid.
func (c *Client) GetBuildpack(call Call, guid string) (translate.V3Buildpack, error) {
	return getOne[translate.V3Buildpack](c, call, "/v3/buildpacks", guid)
}

// CreateBuildpack is POST /v3/buildpacks.
func (c *Client) CreateBuildpack(call Call, body []byte) (translate.V3Buildpack, error) {
	w, err := write[translate.V3Buildpack](c, call, fasthttp.MethodPost, "/v3/buildpacks", "/v3/buildpacks", body)
	return w.Resource, err
}

// UpdateBuildpack is PATCH /v3/buildpacks/:guid.
func (c *Client) UpdateBuildpack(call Call, guid string, body []byte) (translate.V3Buildpack, error) {
	w, err := write[translate.V3Buildpack](c, call, fasthttp.MethodPatch, "/v3/buildpacks/"+url.PathEscape(guid), "/v3/buildpacks/:guid", body)
	return w.Resource, err
}

// DeleteBuildpack is DELETE /v3/buildpacks/:guid; it returns the job.
func (c *Client) DeleteBuildpack(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/buildpacks/"+url.PathEscape(guid), "/v3/buildpacks/:guid")
}

// UploadBuildpack is POST /v3/buildpacks/:guid/upload with a multipart
// body (bits) streamed from body; it returns the job that processes it.
func (c *Client) UploadBuildpack(call Call, guid, contentType string, body io.Reader) (string, error) {
	loc, err := c.upload(call, "/v3/buildpacks/"+url.PathEscape(guid)+"/upload", "/v3/buildpacks/:guid/*", contentType, body, nil)
	return lastPathSegment(loc), err
}

// SetFeatureFlag is PATCH /v3/feature_flags/:name.
func (c *Client) SetFeatureFlag(call Call, name string, body []byte) (translate.V3FeatureFlag, error) {
	w, err := write[translate.V3FeatureFlag](c, call, fasthttp.MethodPatch, "/v3/feature_flags/"+url.PathEscape(name), "/v3/feature_flags/:guid", body)
	return w.Resource, err
}

// EnvGroup is GET /v3/environment_variable_groups/:name.
func (c *Client) EnvGroup(call Call, name string) (translate.V3EnvGroup, error) {
	return getOne[translate.V3EnvGroup](c, call, "/v3/environment_variable_groups", name)
}

// PatchEnvGroup is PATCH /v3/environment_variable_groups/:name.
func (c *Client) PatchEnvGroup(call Call, name string, body []byte) (translate.V3EnvGroup, error) {
	w, err := write[translate.V3EnvGroup](c, call, fasthttp.MethodPatch, "/v3/environment_variable_groups/"+url.PathEscape(name),
		"/v3/environment_variable_groups/:guid", body)
	return w.Resource, err
}

// UsageEventsQuery is a GET /v3/app_usage_events request.
type UsageEventsQuery struct {
	AfterGUID     string
	Page, PerPage int
	OrderBy       string
}

// ListUsageEvents is GET /v3/app_usage_events.
func (c *Client) ListUsageEvents(call Call, q UsageEventsQuery) (Page[translate.V3UsageEvent], error) {
	var p Page[translate.V3UsageEvent]
	v := url.Values{}
	if q.AfterGUID != "" {
		v.Set("after_guid", q.AfterGUID)
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	if q.OrderBy != "" {
		v.Set("order_by", q.OrderBy)
	}
	err := c.get(call, "/v3/app_usage_events", v.Encode(), "/v3/app_usage_events", &p)
	return p, err
}

// GetUsageEvent is GET /v3/app_usage_events/:guid.
func (c *Client) GetUsageEvent(call Call, guid string) (translate.V3UsageEvent, error) {
	return getOne[translate.V3UsageEvent](c, call, "/v3/app_usage_events", guid)
}

// PurgeUsageEvents is POST
// /v3/app_usage_events/actions/destructively_purge_all_and_reseed.
func (c *Client) PurgeUsageEvents(call Call) error {
	_, err := c.send(call, fasthttp.MethodPost, "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", "/v3/app_usage_events/*", nil, nil)
	return err
}

// SecurityGroupsQuery is a GET /v3/security_groups request; Running and
// Staging, when set, filter by globally_enabled_running or _staging.
type SecurityGroupsQuery struct {
	ListQuery
	Running, Staging *bool
}

func (q SecurityGroupsQuery) encode() string {
	v := encodeList(map[string][]string{"names": q.Names, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
	for key, b := range map[string]*bool{"globally_enabled_running": q.Running, "globally_enabled_staging": q.Staging} {
		if b != nil {
			if v != "" {
				v += "&"
			}
			v += key + "=" + strconv.FormatBool(*b)
		}
	}
	return v
}

// ListSecurityGroups is GET /v3/security_groups.
func (c *Client) ListSecurityGroups(call Call, q SecurityGroupsQuery) (Page[translate.V3SecurityGroup], error) {
	var p Page[translate.V3SecurityGroup]
	err := c.get(call, "/v3/security_groups", q.encode(), "/v3/security_groups", &p)
	return p, err
}

// SpaceSecurityGroups is GET /v3/spaces/:guid/running_security_groups
// (staging: staging_security_groups): the groups bound to the space and
// the globally enabled ones.
func (c *Client) SpaceSecurityGroups(call Call, space string, staging bool, q ListQuery) (Page[translate.V3SecurityGroup], error) {
	var p Page[translate.V3SecurityGroup]
	which := "/running_security_groups"
	if staging {
		which = "/staging_security_groups"
	}
	q.OrgGUIDs = nil
	err := c.get(call, "/v3/spaces/"+url.PathEscape(space)+which, q.encode(), "/v3/spaces/:guid/*", &p)
	return p, err
}

// GetSecurityGroup is GET /v3/security_groups/:guid.
func (c *Client) GetSecurityGroup(call Call, guid string) (translate.V3SecurityGroup, error) {
	return getOne[translate.V3SecurityGroup](c, call, "/v3/security_groups", guid)
}

// CreateSecurityGroup is POST /v3/security_groups.
func (c *Client) CreateSecurityGroup(call Call, body []byte) (translate.V3SecurityGroup, error) {
	w, err := write[translate.V3SecurityGroup](c, call, fasthttp.MethodPost, "/v3/security_groups", "/v3/security_groups", body)
	return w.Resource, err
}

// UpdateSecurityGroup is PATCH /v3/security_groups/:guid.
func (c *Client) UpdateSecurityGroup(call Call, guid string, body []byte) (translate.V3SecurityGroup, error) {
	w, err := write[translate.V3SecurityGroup](c, call, fasthttp.MethodPatch, "/v3/security_groups/"+url.PathEscape(guid), "/v3/security_groups/:guid", body)
	return w.Resource, err
}

// DeleteSecurityGroup is DELETE /v3/security_groups/:guid; it returns the job.
func (c *Client) DeleteSecurityGroup(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/security_groups/"+url.PathEscape(guid), "/v3/security_groups/:guid")
}

// BindSecurityGroup is POST /v3/security_groups/:guid/relationships/running_spaces
// (staging: staging_spaces).
func (c *Client) BindSecurityGroup(call Call, guid string, staging bool, spaces []string) error {
	data := make([]map[string]string, len(spaces))
	for i, s := range spaces {
		data[i] = map[string]string{"guid": s}
	}
	body, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	_, err = c.send(call, fasthttp.MethodPost, sgRelationship(guid, staging), "/v3/security_groups/:guid/*", body, nil)
	return err
}

// UnbindSecurityGroup is DELETE
// /v3/security_groups/:guid/relationships/running_spaces/:space (staging:
// staging_spaces).
func (c *Client) UnbindSecurityGroup(call Call, guid string, staging bool, space string) error {
	_, err := c.send(call, fasthttp.MethodDelete, sgRelationship(guid, staging)+"/"+url.PathEscape(space), "/v3/security_groups/:guid/*", nil, nil)
	return err
}

func sgRelationship(guid string, staging bool) string {
	if staging {
		return "/v3/security_groups/" + url.PathEscape(guid) + "/relationships/staging_spaces"
	}
	return "/v3/security_groups/" + url.PathEscape(guid) + "/relationships/running_spaces"
}
