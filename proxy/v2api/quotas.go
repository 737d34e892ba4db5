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
var quotaDefinitions = &v2Resource[translate.V3OrgQuota]{
	path: "/v2/quota_definitions", keys: []string{"name"},
	list: (*ccv3.Client).ListOrgQuotas, get: (*ccv3.Client).GetOrgQuota, name: func(q translate.V3OrgQuota) string { return q.Name },
	render: translate.AppendQuotaResource, notFound: func(guid string) *cferr.Error { return withCause(translate.QuotaDefinitionNotFound(guid), nil) },
	guid: func(q translate.V3OrgQuota) string { return q.GUID },
	create: func(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3OrgQuota, error) {
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
func writeQuota(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3OrgQuota, error) {
	var q translate.V3OrgQuota
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
