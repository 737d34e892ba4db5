package ccv3

import (
	"encoding/json"
	"net/url"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// The organization and space quotas share their calls: each is one of
// these on its collection.
const (
	orgQuotas   = "/v3/organization_quotas"
	spaceQuotas = "/v3/space_quotas"
)

func (c *Client) listQuotas(call Call, coll string, q ListQuery) (Page[translate.V3Quota], error) {
	var p Page[translate.V3Quota]
	err := c.get(call, coll, q.encode(), coll, &p)
	return p, err
}

func (c *Client) writeQuota(call Call, method, coll, guid string, body []byte) (translate.V3Quota, error) {
	path, route := coll, coll
	if guid != "" {
		path, route = coll+"/"+url.PathEscape(guid), coll+"/:guid"
	}
	w, err := write[translate.V3Quota](c, call, method, path, route, body)
	return w.Resource, err
}

// OrgQuotaExists answers GET /v3/organization_quotas/:guid's error, nil
// when the quota exists.
func (c *Client) OrgQuotaExists(call Call, guid string) error {
	var v struct{}
	return c.get(call, orgQuotas+"/"+url.PathEscape(guid), "", orgQuotas+"/:guid", &v)
}

// ListOrgQuotas is GET /v3/organization_quotas.
func (c *Client) ListOrgQuotas(call Call, q ListQuery) (Page[translate.V3Quota], error) {
	q.OrgGUIDs = nil
	return c.listQuotas(call, orgQuotas, q)
}

// GetOrgQuota is GET /v3/organization_quotas/:guid.
func (c *Client) GetOrgQuota(call Call, guid string) (translate.V3Quota, error) {
	return getOne[translate.V3Quota](c, call, orgQuotas, guid)
}

// CreateOrgQuota is POST /v3/organization_quotas.
func (c *Client) CreateOrgQuota(call Call, body []byte) (translate.V3Quota, error) {
	return c.writeQuota(call, fasthttp.MethodPost, orgQuotas, "", body)
}

// UpdateOrgQuota is PATCH /v3/organization_quotas/:guid.
func (c *Client) UpdateOrgQuota(call Call, guid string, body []byte) (translate.V3Quota, error) {
	return c.writeQuota(call, fasthttp.MethodPatch, orgQuotas, guid, body)
}

// DeleteOrgQuota is DELETE /v3/organization_quotas/:guid; it returns the job.
func (c *Client) DeleteOrgQuota(call Call, guid string) (string, error) {
	return c.deleteJob(call, orgQuotas+"/"+url.PathEscape(guid), orgQuotas+"/:guid")
}

// ListSpaceQuotas is GET /v3/space_quotas (organization_guids filters).
func (c *Client) ListSpaceQuotas(call Call, q ListQuery) (Page[translate.V3Quota], error) {
	return c.listQuotas(call, spaceQuotas, q)
}

// GetSpaceQuota is GET /v3/space_quotas/:guid.
func (c *Client) GetSpaceQuota(call Call, guid string) (translate.V3Quota, error) {
	return getOne[translate.V3Quota](c, call, spaceQuotas, guid)
}

// CreateSpaceQuota is POST /v3/space_quotas.
func (c *Client) CreateSpaceQuota(call Call, body []byte) (translate.V3Quota, error) {
	return c.writeQuota(call, fasthttp.MethodPost, spaceQuotas, "", body)
}

// UpdateSpaceQuota is PATCH /v3/space_quotas/:guid.
func (c *Client) UpdateSpaceQuota(call Call, guid string, body []byte) (translate.V3Quota, error) {
	return c.writeQuota(call, fasthttp.MethodPatch, spaceQuotas, guid, body)
}

// DeleteSpaceQuota is DELETE /v3/space_quotas/:guid; it returns the job.
func (c *Client) DeleteSpaceQuota(call Call, guid string) (string, error) {
	return c.deleteJob(call, spaceQuotas+"/"+url.PathEscape(guid), spaceQuotas+"/:guid")
}

// AssignOrgQuota is POST /v3/organization_quotas/:guid/relationships/organizations.
func (c *Client) AssignOrgQuota(call Call, quotaGUID, orgGUID string) error {
	return c.applyQuota(call, orgQuotas, "organizations", quotaGUID, orgGUID)
}

// ApplySpaceQuota is POST /v3/space_quotas/:guid/relationships/spaces.
func (c *Client) ApplySpaceQuota(call Call, quotaGUID, spaceGUID string) error {
	return c.applyQuota(call, spaceQuotas, "spaces", quotaGUID, spaceGUID)
}

func (c *Client) applyQuota(call Call, coll, rel, quotaGUID, guid string) error {
	body, err := json.Marshal(map[string][]map[string]string{"data": {{"guid": guid}}})
	if err != nil {
		return err
	}
	_, err = c.send(call, fasthttp.MethodPost, coll+"/"+url.PathEscape(quotaGUID)+"/relationships/"+rel, coll+"/:guid/*", body, nil)
	return err
}

// RemoveSpaceQuota is DELETE /v3/space_quotas/:guid/relationships/spaces/:space_guid.
func (c *Client) RemoveSpaceQuota(call Call, quotaGUID, spaceGUID string) error {
	_, err := c.send(call, fasthttp.MethodDelete, spaceQuotas+"/"+url.PathEscape(quotaGUID)+"/relationships/spaces/"+url.PathEscape(spaceGUID),
		spaceQuotas+"/:guid/*", nil, nil)
	return err
}
