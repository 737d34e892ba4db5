package v2api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// quotaDefinitions: /v2/quota_definitions, v3's organization quotas
// (MAPPING-orgs §12.1). Every reader sees every quota; writes are admins'.
var quotaDefinitions = &v2Resource[translate.V3Quota]{
	path: "/v2/quota_definitions", keys: []string{"name"},
	list: (*ccv3.Client).ListOrgQuotas, get: (*ccv3.Client).GetOrgQuota, name: func(q translate.V3Quota) string { return q.Name },
	render: translate.AppendQuotaResource, notFound: func(guid string) *cferr.Error { return withCause(translate.QuotaDefinitionNotFound(guid), nil) },
	guid: func(q translate.V3Quota) string { return q.GUID },
	create: func(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Quota, error) {
		return writeQuota(g, ctx, "", body)
	},
	update: writeQuota,
	remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		c := call(ctx)
		q, err := g.v3.GetOrgQuota(c, guid)
		if err != nil {
			return "", v2ErrorAs(err, withCause(translate.QuotaDefinitionNotFound(guid), nil))
		}
		job, err := g.v3.DeleteOrgQuota(c, guid)
		return job, quotaWriteError(err, q.Name)
	},
	async: true,
}

// writeQuota creates (guid "") or updates a quota: v2's model checks, then
// v3's write with v2's -1 as null.
func writeQuota(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Quota, error) {
	var q translate.V3Quota
	req, err := translate.ParseQuotaRequest(body, guid == "")
	if err != nil {
		return q, err
	}
	if te := req.Check(); te != nil {
		return q, withCause(te, nil)
	}
	c := call(ctx)
	name := ""
	if req.Name != nil {
		name = *req.Name
	}
	if guid != "" {
		if q, err = g.v3.GetOrgQuota(c, guid); err != nil {
			return q, v2ErrorAs(err, withCause(translate.QuotaDefinitionNotFound(guid), nil))
		}
		if name == "" {
			name = q.Name
		}
	}
	v3body, err := translate.V3QuotaWrite(req)
	if err != nil {
		return q, err
	}
	if guid == "" {
		q, err = g.v3.CreateOrgQuota(c, v3body)
	} else {
		q, err = g.v3.UpdateOrgQuota(c, guid, v3body)
	}
	return q, quotaWriteError(err, name)
}

// quotaWriteError is a failed v3 quota write in v2's words.
func quotaWriteError(err error, name string) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.QuotaWriteError(e.Status, e.Detail(), name); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// quotaRoutes are the routes of organization and space quota definitions
// (MAPPING-orgs §12.1, §12.2).
func quotaRoutes() []Route {
	return []Route{
		{Template: "/v2/quota_definitions", Get: quotaDefinitions.listHandler, Post: quotaDefinitions.createHandler},
		{Template: "/v2/quota_definitions/:guid", Get: quotaDefinitions.getHandler, Put: quotaDefinitions.updateHandler, Del: quotaDefinitions.deleteHandler},
		{Template: "/v2/space_quota_definitions", Get: spaceQuotaDefinitions.listHandler, Post: spaceQuotaDefinitions.createHandler},
		{Template: "/v2/space_quota_definitions/:guid", Get: spaceQuotaDefinitions.getHandler, Put: spaceQuotaDefinitions.updateHandler,
			Del: spaceQuotaDefinitions.deleteHandler},
		{Template: "/v2/space_quota_definitions/:guid/spaces", Get: spaceQuotaSpaces.listHandler},
		{Template: "/v2/space_quota_definitions/:guid/spaces/:space_guid", Put: (*API).v2ApplySpaceQuota, Del: (*API).v2RemoveSpaceQuota},
		{Template: "/v2/organizations/:guid/space_quota_definitions", Get: orgSpaceQuotas.listHandler},
	}
}

func spaceQuotaNotFound(guid string) *cferr.Error {
	return withCause(translate.SpaceQuotaDefinitionNotFound(guid), nil)
}

// spaceQuotaDefinitions: /v2/space_quota_definitions, v3's space quotas
// (§12.2). The controller never reads query_parameters, so any q is
// refused; writes are for admins and managers of the owning org.
var spaceQuotaDefinitions = &v2Resource[translate.V3Quota]{
	path: "/v2/space_quota_definitions",
	list: (*ccv3.Client).ListSpaceQuotas, get: (*ccv3.Client).GetSpaceQuota, name: func(q translate.V3Quota) string { return q.Name },
	render: translate.AppendSpaceQuotaResource, notFound: spaceQuotaNotFound,
	guid: func(q translate.V3Quota) string { return q.GUID },
	create: func(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Quota, error) {
		return writeSpaceQuota(g, ctx, "", body)
	},
	update: writeSpaceQuota,
	// v2 unassigns the quota from its spaces and deletes it (spaces:
	// :nullify); v3 refuses while it is applied, so the spaces go first.
	remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		c := call(ctx)
		q, err := g.v3.GetSpaceQuota(c, guid)
		if err != nil {
			return "", v2ErrorAs(err, spaceQuotaNotFound(guid))
		}
		for _, sp := range q.Relationships.Spaces.Data {
			if err := g.v3.RemoveSpaceQuota(c, guid, sp.GUID); err != nil {
				return "", spaceQuotaWriteError(err, q.Name, "")
			}
		}
		job, err := g.v3.DeleteSpaceQuota(c, guid)
		return job, spaceQuotaWriteError(err, q.Name, "")
	},
	async: true,
}

// writeSpaceQuota creates (guid "") or updates a space quota; its org
// cannot change (OrganizationAlreadySet).
func writeSpaceQuota(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Quota, error) {
	var q translate.V3Quota
	req, err := translate.ParseSpaceQuotaRequest(body, guid == "")
	if err != nil {
		return q, err
	}
	if te := req.CheckSpace(); te != nil {
		return q, withCause(te, nil)
	}
	c := call(ctx)
	name, org := deref(req.Name), deref(req.OrgGUID)
	if guid != "" {
		if q, err = g.v3.GetSpaceQuota(c, guid); err != nil {
			return q, v2ErrorAs(err, spaceQuotaNotFound(guid))
		}
		if req.OrgGUID != nil && org != q.Relationships.Organization.GUID() {
			return q, &cferr.Error{Status: 400, Code: 30007, Name: "OrganizationAlreadySet", Description: "Cannot change organization"}
		}
		if name == "" {
			name = q.Name
		}
	}
	v3body, err := translate.V3SpaceQuotaWrite(req, guid == "")
	if err != nil {
		return q, err
	}
	if guid == "" {
		q, err = g.v3.CreateSpaceQuota(c, v3body)
	} else {
		q, err = g.v3.UpdateSpaceQuota(c, guid, v3body)
	}
	return q, spaceQuotaWriteError(err, name, org)
}

// spaceQuotaWriteError is a failed v3 space quota write in v2's words.
func spaceQuotaWriteError(err error, name, org string) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.SpaceQuotaWriteError(e.Status, e.Detail(), name, org); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// spaceQuotaSpaces: GET /v2/space_quota_definitions/:guid/spaces, the
// spaces the quota is applied to, with /v2/spaces' q keys
// (developer_guid, app_guid, isolation_segment_guid too), as CC's
// enumerate_related filters with SpacesController's query_parameters.
var spaceQuotaSpaces = &v2Under[translate.V3Space]{
	of: spaces, parent: "space_quota_definitions", name: "spaces", parentNotFound: spaceQuotaNotFound,
	find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
		_, err := c.GetSpaceQuota(call, guid)
		return err
	},
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, parent string) ([]translate.V3Space, int, error) {
		q, err := g.v3.GetSpaceQuota(c, parent)
		if err != nil {
			return nil, 0, err
		}
		guids := []string{}
		for _, sp := range q.Relationships.Spaces.Data {
			guids = append(guids, sp.GUID)
		}
		return spacesPage(g, c, lp, fs, nil, guids)
	},
}

// orgSpaceQuotas: GET /v2/organizations/:guid/space_quota_definitions.
var orgSpaceQuotas = &v2Under[translate.V3Quota]{
	of: spaceQuotaDefinitions, parent: "organizations", name: "space_quota_definitions", find: findOrg, parentNotFound: orgNotFound,
	list: func(c *ccv3.Client, call ccv3.Call, org string, q ccv3.ListQuery) (ccv3.Page[translate.V3Quota], error) {
		q.OrgGUIDs = []string{org}
		return c.ListSpaceQuotas(call, q)
	},
}

// v2ApplySpaceQuota is PUT /v2/space_quota_definitions/:guid/spaces/:space:
// 201 and the quota; the space's previous quota is replaced.
func (g *API) v2ApplySpaceQuota(ctx *fasthttp.RequestCtx) error {
	guid, space, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	q, err := spaceQuotaDefinitions.one(g, c, guid)
	if err != nil {
		return err
	}
	if err := findSpace(g.v3, c, space); err != nil {
		return v2ErrorAs(err, withCause(translate.InvalidRelation("Could not find VCAP::CloudController::Space with guid: "+space), nil))
	}
	if err := g.v3.ApplySpaceQuota(c, guid, space); err != nil {
		return spaceQuotaWriteError(err, q.Name, "")
	}
	if q, err = spaceQuotaDefinitions.one(g, c, guid); err != nil {
		return err
	}
	return spaceQuotaDefinitions.answer(g, ctx, q, fasthttp.StatusCreated)
}

// v2RemoveSpaceQuota is DELETE /v2/space_quota_definitions/:guid/spaces/:space:
// 204, also when the quota was not the space's.
func (g *API) v2RemoveSpaceQuota(ctx *fasthttp.RequestCtx) error {
	guid, space, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	q, err := spaceQuotaDefinitions.one(g, c, guid)
	if err != nil {
		return err
	}
	err = g.v3.RemoveSpaceQuota(c, guid, space)
	var e *ccv3.Error
	if err != nil && !(errors.As(err, &e) && e.Status == 422) {
		return spaceQuotaWriteError(err, q.Name, "")
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
