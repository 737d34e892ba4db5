package v2api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// usageEvents: /v2/app_usage_events, v3's app usage events (MAPPING-orgs
// §12.6). No q keys; after_guid is kept in the page urls; pages of up to
// 10000 (the large renderer), read from v3 in pages of up to 5000.
var usageEvents = &v2Resource[translate.V3UsageEvent]{
	path: "/v2/app_usage_events", preserve: []string{"after_guid"}, large: true,
	get: (*ccv3.Client).GetUsageEvent, page: usageEventPage,
	render:   translate.AppendUsageEventResource,
	notFound: func(guid string) *cferr.Error { return withCause(translate.EventNotFound(guid), nil) },
}

// usageEventsReader reports whether the caller may list the events:
// AppUsageEventAccess#index_with_token? takes admins and read-only admins
// only, and v3 answers others an empty list, so the gateway refuses them
// with InsufficientScope, as CC does (global auditors too).
func usageEventsReader(ctx *fasthttp.RequestCtx) bool {
	id := identityOf(ctx)
	return id != nil && id.HasAny(auth.ScopeAdmin, auth.ScopeAdminReadOnly)
}

// v2UsageEventList answers GET /v2/app_usage_events.
func (g *API) v2UsageEventList(ctx *fasthttp.RequestCtx) error {
	if !usageEventsReader(ctx) {
		return cferr.InsufficientScope()
	}
	return usageEvents.listHandler(g, ctx)
}

// usageEventPage reads the page lp asks for after after_guid; an unknown
// after_guid is BadQueryParameter naming it
// (AppUsageEventsController#get_filtered_dataset_for_enumeration).
func usageEventPage(g *API, c ccv3.Call, lp translate.ListParams, _ []translate.Filter) ([]translate.V3UsageEvent, int, error) {
	q := ccv3.UsageEventsQuery{}
	for _, p := range lp.Preserved {
		if p[0] == "after_guid" {
			q.AfterGUID = p[1]
		}
	}
	if lp.OrderDirection == "desc" {
		q.OrderBy = "-created_at"
	}
	const v3Max = 5000
	offset, n := lp.Offset(), lp.ResultsPerPage
	q.PerPage = min(n, v3Max)
	q.Page = offset/q.PerPage + 1
	skip := offset % q.PerPage
	var out []translate.V3UsageEvent
	total := 0
	for {
		p, err := g.v3.ListUsageEvents(c, q)
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity && q.AfterGUID != "" {
			return nil, 0, withCause(translate.BadQueryParameter(q.AfterGUID), nil)
		}
		if err != nil {
			return nil, 0, err
		}
		total = p.Pagination.TotalResults
		rs := p.Resources[min(skip, len(p.Resources)):]
		skip = 0
		out = append(out, rs[:min(len(rs), n-len(out))]...)
		if len(out) >= n || q.Page >= p.Pagination.TotalPages || len(p.Resources) == 0 {
			return out, total, nil
		}
		q.Page++
	}
}

// v2UsageEventsPurge answers POST
// /v2/app_usage_events/destructively_purge_all_and_reseed_started_apps:
// admins only (reset_with_token?, else InsufficientScope), 204.
func (g *API) v2UsageEventsPurge(ctx *fasthttp.RequestCtx) error {
	if !isAdmin(ctx) {
		return cferr.InsufficientScope()
	}
	if err := g.v3.PurgeUsageEvents(call(ctx)); err != nil {
		return v2Error(err, "")
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
