package ccv3

import (
	"net/url"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// Isolation segments and where they apply: v3's organization and space
// resources carry neither the org's default segment, nor its
// entitlements, nor the space's segment, so the v2 entities read them
// from these calls.

// IsolationSegmentsOfOrgs is GET /v3/isolation_segments?organization_guids=…,
// every page, the orgs chunk by chunk: the segments entitled to any of
// the orgs, of those the user sees. A segment entitled to orgs of two
// chunks comes back twice.
func (c *Client) IsolationSegmentsOfOrgs(call Call, orgGUIDs []string) ([]translate.V3IsolationSegment, error) {
	return listBy[translate.V3IsolationSegment](c, call, "/v3/isolation_segments", "/v3/isolation_segments", "organization_guids", orgGUIDs, nil)
}

// AllIsolationSegments is GET /v3/isolation_segments, every page: the
// segments the user sees.
func (c *Client) AllIsolationSegments(call Call) ([]translate.V3IsolationSegment, error) {
	return allPages[translate.V3IsolationSegment](c, call, "/v3/isolation_segments", "/v3/isolation_segments", url.Values{"per_page": {"5000"}})
}

// SegmentOrgs is GET /v3/isolation_segments/:guid/relationships/organizations:
// the orgs entitled to the segment.
func (c *Client) SegmentOrgs(call Call, guid string) ([]string, error) {
	return c.segmentRelation(call, guid, "organizations")
}

// SegmentSpaces is GET /v3/isolation_segments/:guid/relationships/spaces:
// the spaces assigned to the segment, of those the user sees.
func (c *Client) SegmentSpaces(call Call, guid string) ([]string, error) {
	return c.segmentRelation(call, guid, "spaces")
}

func (c *Client) segmentRelation(call Call, guid, rel string) ([]string, error) {
	var m translate.V3ToMany
	err := c.get(call, "/v3/isolation_segments/"+url.PathEscape(guid)+"/relationships/"+rel, "", "/v3/isolation_segments/:guid/*", &m)
	return m.GUIDs(), err
}

// OrgDefaultSegment is GET
// /v3/organizations/:guid/relationships/default_isolation_segment: the
// segment's guid, "" for none.
func (c *Client) OrgDefaultSegment(call Call, org string) (string, error) {
	var r translate.V3ToOne
	err := c.get(call, "/v3/organizations/"+url.PathEscape(org)+"/relationships/default_isolation_segment", "", "/v3/organizations/:guid/*", &r)
	return r.GUID(), err
}

// SpaceSegment is GET /v3/spaces/:guid/relationships/isolation_segment:
// the space's own segment's guid, "" for none.
func (c *Client) SpaceSegment(call Call, space string) (string, error) {
	var r translate.V3ToOne
	err := c.get(call, "/v3/spaces/"+url.PathEscape(space)+"/relationships/isolation_segment", "", "/v3/spaces/:guid/*", &r)
	return r.GUID(), err
}

// IsolationSegmentExists answers GET /v3/isolation_segments/:guid's
// error, nil when the user sees the segment.
func (c *Client) IsolationSegmentExists(call Call, guid string) error {
	var v struct{}
	return c.get(call, "/v3/isolation_segments/"+url.PathEscape(guid), "", "/v3/isolation_segments/:guid", &v)
}

// SetOrgDefaultSegment is PATCH
// /v3/organizations/:guid/relationships/default_isolation_segment.
func (c *Client) SetOrgDefaultSegment(call Call, org string, body []byte) error {
	_, err := c.send(call, fasthttp.MethodPatch, "/v3/organizations/"+url.PathEscape(org)+"/relationships/default_isolation_segment",
		"/v3/organizations/:guid/*", body, nil)
	return err
}

// SetSpaceSegment is PATCH /v3/spaces/:guid/relationships/isolation_segment.
func (c *Client) SetSpaceSegment(call Call, space string, body []byte) error {
	_, err := c.send(call, fasthttp.MethodPatch, "/v3/spaces/"+url.PathEscape(space)+"/relationships/isolation_segment", "/v3/spaces/:guid/*", body, nil)
	return err
}
