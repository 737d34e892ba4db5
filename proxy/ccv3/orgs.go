package ccv3

import (
	"encoding/json"
	"net/url"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// ListQuery is a GET /v3/organizations, /v3/spaces or /v3/stacks request.
// nil filters are left out; OrgGUIDs applies to spaces only.
type ListQuery struct {
	Names, OrgGUIDs, GUIDs []string
	Page, PerPage          int
	OrderBy                string
}

func (q ListQuery) encode() string {
	return encodeList(map[string][]string{"names": q.Names, "organization_guids": q.OrgGUIDs, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
}

// ListOrgs is GET /v3/organizations: the organizations the user can see.
func (c *Client) ListOrgs(call Call, q ListQuery) (Page[translate.V3Org], error) {
	var p Page[translate.V3Org]
	err := c.get(call, "/v3/organizations", q.encode(), "/v3/organizations", &p)
	return p, err
}

// GetOrg is GET /v3/organizations/:guid.
func (c *Client) GetOrg(call Call, guid string) (translate.V3Org, error) {
	var o translate.V3Org
	err := c.get(call, "/v3/organizations/"+url.PathEscape(guid), "", "/v3/organizations/:guid", &o)
	return o, err
}

// ListSpaces is GET /v3/spaces: the spaces the user can see.
func (c *Client) ListSpaces(call Call, q ListQuery) (Page[translate.V3Space], error) {
	var p Page[translate.V3Space]
	err := c.get(call, "/v3/spaces", q.encode(), "/v3/spaces", &p)
	return p, err
}

// GetSpace is GET /v3/spaces/:guid.
func (c *Client) GetSpace(call Call, guid string) (translate.V3Space, error) {
	var s translate.V3Space
	err := c.get(call, "/v3/spaces/"+url.PathEscape(guid), "", "/v3/spaces/:guid", &s)
	return s, err
}

// SpaceSSHEnabled is GET /v3/spaces/:guid/features/ssh.
func (c *Client) SpaceSSHEnabled(call Call, guid string) (bool, error) {
	var f translate.V3AppFeature
	err := c.get(call, "/v3/spaces/"+url.PathEscape(guid)+"/features/ssh", "", "/v3/spaces/:guid/*", &f)
	return f.Enabled, err
}

// ListStacks is GET /v3/stacks with v3's full stack resources (Stacks
// returns only what the app translation needs).
func (c *Client) ListStacks(call Call, q ListQuery) (Page[translate.V3Stack], error) {
	var p Page[translate.V3Stack]
	q.OrgGUIDs = nil
	err := c.get(call, "/v3/stacks", q.encode(), "/v3/stacks", &p)
	return p, err
}

// GetStack is GET /v3/stacks/:guid.
func (c *Client) GetStack(call Call, guid string) (translate.V3Stack, error) {
	var s translate.V3Stack
	err := c.get(call, "/v3/stacks/"+url.PathEscape(guid), "", "/v3/stacks/:guid", &s)
	return s, err
}

// spacesPage is a page of spaces with their organizations included.
type spacesPage struct {
	Page[translate.V3Space]
	Included struct {
		Organizations []translate.V3Org `json:"organizations"`
	} `json:"included"`
}

// SpacesWithOrgs is GET /v3/spaces?guids=…&include=organization: the
// spaces of the guids the user can see, and their organizations by guid.
func (c *Client) SpacesWithOrgs(call Call, guids []string) ([]translate.V3Space, map[string]translate.V3Org, error) {
	if len(guids) == 0 {
		return nil, nil, nil
	}
	type part struct {
		spaces []translate.V3Space
		orgs   []translate.V3Org
	}
	parts, err := inChunks(c, guids, func(chunk []string) (part, error) {
		var out part
		err := eachPage[spacesPage](c, call, "/v3/spaces", "/v3/spaces", filtered(url.Values{"include": {"organization"}}, "guids", chunk),
			func(p *spacesPage) bool {
				out.spaces = append(out.spaces, p.Resources...)
				out.orgs = append(out.orgs, p.Included.Organizations...)
				return true
			})
		return out, err
	})
	if err != nil {
		return nil, nil, err
	}
	var spaces []translate.V3Space
	orgs := map[string]translate.V3Org{}
	for _, p := range parts {
		spaces = append(spaces, p.spaces...)
		for _, o := range p.orgs {
			orgs[o.GUID] = o
		}
	}
	return spaces, orgs, nil
}

// SpacesOfOrgs is GET /v3/spaces?organization_guids=…, every page, the
// orgs chunk by chunk: the spaces of the orgs that the user can see, in
// v3's order within each org.
func (c *Client) SpacesOfOrgs(call Call, orgGUIDs []string) ([]translate.V3Space, error) {
	return listBy[translate.V3Space](c, call, "/v3/spaces", "/v3/spaces", "organization_guids", orgGUIDs, nil)
}

// OrgQuotasByGUID is GET /v3/organization_quotas?guids=…, every page.
func (c *Client) OrgQuotasByGUID(call Call, guids []string) ([]translate.V3Quota, error) {
	return listBy[translate.V3Quota](c, call, "/v3/organization_quotas", "/v3/organization_quotas", "guids", guids, nil)
}

// ListDomains is GET /v3/domains: the domains the user can see.
func (c *Client) ListDomains(call Call, q ListQuery) (Page[translate.V3Domain], error) {
	var p Page[translate.V3Domain]
	q.OrgGUIDs = nil
	err := c.get(call, "/v3/domains", q.encode(), "/v3/domains", &p)
	return p, err
}

// ListOrgDomains is GET /v3/organizations/:guid/domains: the shared
// domains and those the org owns or is shared with.
func (c *Client) ListOrgDomains(call Call, org string, q ListQuery) (Page[translate.V3Domain], error) {
	var p Page[translate.V3Domain]
	q.OrgGUIDs = nil
	err := c.get(call, "/v3/organizations/"+url.PathEscape(org)+"/domains", q.encode(), "/v3/organizations/:guid/*", &p)
	return p, err
}

// GetDomain is GET /v3/domains/:guid.
func (c *Client) GetDomain(call Call, guid string) (translate.V3Domain, error) {
	var d translate.V3Domain
	err := c.get(call, "/v3/domains/"+url.PathEscape(guid), "", "/v3/domains/:guid", &d)
	return d, err
}

// CreateOrg is POST /v3/organizations.
func (c *Client) CreateOrg(call Call, body []byte) (translate.V3Org, error) {
	w, err := write[translate.V3Org](c, call, fasthttp.MethodPost, "/v3/organizations", "/v3/organizations", body)
	return w.Resource, err
}

// UpdateOrg is PATCH /v3/organizations/:guid.
func (c *Client) UpdateOrg(call Call, guid string, body []byte) (translate.V3Org, error) {
	w, err := write[translate.V3Org](c, call, fasthttp.MethodPatch, "/v3/organizations/"+url.PathEscape(guid), "/v3/organizations/:guid", body)
	return w.Resource, err
}

// DeleteOrg is DELETE /v3/organizations/:guid; it returns the job.
func (c *Client) DeleteOrg(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/organizations/"+url.PathEscape(guid), "/v3/organizations/:guid")
}

// CreateSpace is POST /v3/spaces.
func (c *Client) CreateSpace(call Call, body []byte) (translate.V3Space, error) {
	w, err := write[translate.V3Space](c, call, fasthttp.MethodPost, "/v3/spaces", "/v3/spaces", body)
	return w.Resource, err
}

// UpdateSpace is PATCH /v3/spaces/:guid.
func (c *Client) UpdateSpace(call Call, guid string, body []byte) (translate.V3Space, error) {
	w, err := write[translate.V3Space](c, call, fasthttp.MethodPatch, "/v3/spaces/"+url.PathEscape(guid), "/v3/spaces/:guid", body)
	return w.Resource, err
}

// DeleteSpace is DELETE /v3/spaces/:guid; it returns the job.
func (c *Client) DeleteSpace(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/spaces/"+url.PathEscape(guid), "/v3/spaces/:guid")
}

// SetSpaceSSH is PATCH /v3/spaces/:guid/features/ssh.
func (c *Client) SetSpaceSSH(call Call, guid string, enabled bool) error {
	body, err := json.Marshal(map[string]bool{"enabled": enabled})
	if err != nil {
		return err
	}
	_, err = c.send(call, fasthttp.MethodPatch, "/v3/spaces/"+url.PathEscape(guid)+"/features/ssh", "/v3/spaces/:guid/*", body, nil)
	return err
}

// OrgUsageSummary is GET /v3/organizations/:guid/usage_summary.
func (c *Client) OrgUsageSummary(call Call, guid string) (translate.V3UsageSummary, error) {
	return c.usageSummary(call, "/v3/organizations", guid)
}

// SpaceUsageSummary is GET /v3/spaces/:guid/usage_summary: what the
// space's started processes hold, which its space quota bounds.
func (c *Client) SpaceUsageSummary(call Call, guid string) (translate.V3UsageSummary, error) {
	return c.usageSummary(call, "/v3/spaces", guid)
}

// usageSummary is GET <coll>/:guid/usage_summary.
func (c *Client) usageSummary(call Call, coll, guid string) (translate.V3UsageSummary, error) {
	var v struct {
		UsageSummary translate.V3UsageSummary `json:"usage_summary"`
	}
	err := c.get(call, coll+"/"+url.PathEscape(guid)+"/usage_summary", "", coll+"/:guid/*", &v)
	return v.UsageSummary, err
}
