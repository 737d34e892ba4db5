package v2api

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// eventNotFound is CC's EventNotFound (errors/v2.yml 230002).
func eventNotFound(guid string) *cferr.Error {
	return &cferr.Error{Status: 404, Code: 230002, Name: "EventNotFound", Description: "Event could not be found: " + guid}
}

// v2EventList answers GET /v2/events from GET /v3/audit_events. CC orders
// events by timestamp whatever order-by says (EventsController#initialize
// overrides it); order-direction is honoured.
func (g *API) v2EventList(ctx *fasthttp.RequestCtx) error {
	return g.eventList(ctx, "/v2/events", nil)
}

// v2SpaceEvents answers GET /v2/spaces/:guid/events: the space's events,
// read as /v2/events with the space's guid for space_guid (SpacesController
// `to_many :events, link_only: true, route_for: :get`; the space's
// events_url).
func (g *API) v2SpaceEvents(ctx *fasthttp.RequestCtx) error {
	space := pathParam(ctx, 1)
	if err := findSpace(g.v3, call(ctx), space); err != nil {
		return v2ErrorAs(err, spaceNotFound(space))
	}
	return g.eventList(ctx, "/v2/spaces/"+space+"/events", &translate.Filter{Key: "space_guid", Op: translate.OpEq, Values: []string{space}})
}

// eventList answers a list of events at path, narrowed by also when set.
func (g *API) eventList(ctx *fasthttp.RequestCtx, path string, also *translate.Filter) error {
	lp, err := g.listParams(ctx)
	if err != nil {
		return err
	}
	if err := translate.CheckOrderBy(lp, "timestamp", "id"); err != nil {
		return err
	}
	filters, err := translate.ParseQ(lp.Q, translate.EventQueryKeys())
	if err != nil {
		return err
	}
	if also != nil {
		filters = append(filters, *also)
	}
	events, total, err := g.eventPage(call(ctx), lp, translate.EventQueryFromFilters(filters), "type:, actee: or timestamp")
	if err != nil {
		return v2Error(err, "")
	}
	return writeV2List(ctx, lp, path, total, len(events), func(b *bytes.Buffer, i int) error {
		return translate.AppendEventResource(b, events[i])
	})
}

// eventPage reads the page lp asks for of the audit events eq selects, in
// timestamp order: v3 filters what it can and the gateway the rest, over
// a bounded scan (narrow names the filters that narrow it).
func (g *API) eventPage(c ccv3.Call, lp translate.ListParams, eq translate.EventQuery, narrow string) ([]translate.V3AuditEvent, int, error) {
	if eq.Empty {
		return nil, 0, nil
	}
	q := ccv3.AuditEventsQuery{Types: eq.Types, TargetGUIDs: eq.TargetGUIDs, SpaceGUIDs: eq.SpaceGUIDs, OrgGUIDs: eq.OrgGUIDs,
		CreatedAts: eq.CreatedAts, OrderBy: "created_at"}
	if lp.OrderDirection == "desc" {
		q.OrderBy = "-created_at"
	}
	return scanPage(lp, len(eq.Local) > 0, g.cfg.MaxLocalScan, "events", narrow,
		func(page, perPage int) (ccv3.Page[translate.V3AuditEvent], error) {
			q.Page, q.PerPage = page, perPage
			return g.v3.AuditEvents(c, q)
		},
		func(e translate.V3AuditEvent) bool {
			return translate.MatchAll(eq.Local, func(key string) string { return translate.EventField(e, key) })
		})
}

// v2Event answers GET /v2/events/:guid.
func (g *API) v2Event(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	e, err := g.v3.GetAuditEvent(call(ctx), guid)
	if err != nil {
		return v2ErrorAs(err, eventNotFound(guid))
	}
	var b bytes.Buffer
	if err := translate.AppendEventResource(&b, e); err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, b.Bytes())
	return nil
}

// v2AppEvents answers GET /v2/apps/:guid/events: v2's app events were the
// crash reports of the app's instances, which v3 keeps as
// audit.app.process.crash events (MAPPING §7).
func (g *API) v2AppEvents(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	return g.crashEvents(ctx, "/v2/apps/"+guid+"/events",
		translate.Filter{Key: "actee", Op: translate.OpEq, Values: []string{guid}},
		func() error {
			_, err := g.v3.WebProcess(c, guid)
			return v2Error(err, guid)
		})
}

// v2ParentAppEvents answers GET /v2/spaces/:guid/app_events and
// /v2/organizations/:guid/app_events: the crash events of the apps of the
// space or org, as an app's events are (SpacesController and
// OrganizationsController `to_many :app_events, link_only: true`, which
// every space's and org's app_events_url names).
func (g *API) v2ParentAppEvents(ctx *fasthttp.RequestCtx) error {
	collection, parent, c := pathParam(ctx, 0), pathParam(ctx, 1), call(ctx)
	key, find, notFound := "space_guid", findSpace, spaceNotFound
	if collection == "organizations" {
		key, find, notFound = "organization_guid", findOrg, orgNotFound
	}
	return g.crashEvents(ctx, "/v2/"+collection+"/"+parent+"/app_events",
		translate.Filter{Key: key, Op: translate.OpEq, Values: []string{parent}},
		func() error { return v2ErrorAs(find(g.v3, c, parent), notFound(parent)) })
}

// crashEvents answers a list of app events at path: the crash events
// narrowed by within and q (timestamp, app_guid), once find, run in the
// same round, says the parent is there.
func (g *API) crashEvents(ctx *fasthttp.RequestCtx, path string, within translate.Filter, find func() error) error {
	lp, err := g.listParams(ctx)
	if err != nil {
		return err
	}
	if err := translate.CheckOrderBy(lp); err != nil {
		return err
	}
	filters, err := translate.ParseQ(lp.Q, []string{"timestamp", "app_guid"})
	if err != nil {
		return err
	}
	// app_guid is a foreign key, equal (or IN) whatever the operator
	// (MAPPING §3.1), so it is the events' actee.
	for i, f := range filters {
		if f.Key == "app_guid" {
			filters[i] = translate.Filter{Key: "actee", Op: translate.OpIn, Values: f.Values}
		}
	}
	filters = append(filters, translate.Filter{Key: "type", Op: translate.OpEq, Values: []string{"audit.app.process.crash"}}, within)
	var events []translate.V3AuditEvent
	total := 0
	var findErr error
	err = parallel(
		func() error { findErr = find(); return nil },
		func() (err error) {
			events, total, err = g.eventPage(call(ctx), lp, translate.EventQueryFromFilters(filters), "timestamp")
			return
		},
	)
	if findErr != nil {
		return findErr
	}
	if err != nil {
		return v2Error(err, "")
	}
	return writeV2List(ctx, lp, path, total, len(events), func(b *bytes.Buffer, i int) error {
		return translate.AppendAppEventResource(b, events[i].Target.GUID, events[i])
	})
}

// v2Job answers GET /v2/jobs/:guid from the v3 job of that guid, or the
// package of that guid. Anything else is CC's NullJob, "finished" (jobs
// are deleted once done).
func (g *API) v2Job(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	j, err := g.v3.Job(c, guid)
	if err != nil {
		return v2Error(err, "")
	}
	if j == nil {
		// The jobs of v2 bits uploads and copies are named after their
		// package, whose state v3 keeps instead of a job (bits.go).
		if p, err := g.v3.GetPackage(c, guid); err == nil {
			body, err := translate.PackageJob(p)
			if err != nil {
				return err
			}
			writeV2(ctx, fasthttp.StatusOK, body)
			return nil
		}
	}
	body, err := translate.Job(j)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}
