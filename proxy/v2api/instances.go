package v2api

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The running app seen through v2: stats, instances, crashes, killing an
// instance, and mapping routes to the web process (MAPPING §7).

// appStoppedStatsError is CC's AppStoppedStatsError (200003).
func appStoppedStatsError(name string) *cferr.Error {
	return &cferr.Error{Status: 400, Code: 200003, Name: "AppStoppedStatsError", Description: "Could not fetch stats for stopped app: " + name}
}

// stagingFailures are the staging_failed_reason values CC raises under
// their own name from /instances (errors/v2.yml), with their code, status
// and text; %s takes the description.
var stagingFailures = map[string]struct {
	code, status int
	text         string
}{
	"StagingError":           {170001, 400, "Staging error: %s"},
	"NoAppDetectedError":     {170003, 400, "An app was not successfully detected by any available buildpack"},
	"BuildpackCompileFailed": {170004, 400, "App staging failed in the buildpack compile phase"},
	"BuildpackReleaseFailed": {170005, 400, "App staging failed in the buildpack release phase"},
	"NoBuildpacksFound":      {170006, 400, "There are no buildpacks available"},
	"StagingTimeExpired":     {170007, 504, "Staging time expired: %s"},
	"InsufficientResources":  {170008, 400, "Insufficient resources"},
	"NoCompatibleCell":       {170009, 400, "Found no compatible cell"},
}

// stagingFailed is the error /instances answers for an app whose staging
// failed: named after the failure's reason (InstancesController), or
// StagingError when the reason is not one CC names.
func stagingFailed(reason, description *string) *cferr.Error {
	name, desc := "StagingError", ""
	if reason != nil {
		name = *reason
	}
	if description != nil {
		desc = *description
	}
	f, ok := stagingFailures[name]
	if !ok {
		name, f = "StagingError", stagingFailures["StagingError"]
	}
	text := f.text
	if bytes.Contains([]byte(text), []byte("%s")) {
		text = fmt.Sprintf(text, desc)
	}
	return &cferr.Error{Status: f.status, Code: f.code, Name: name, Description: text}
}

// oneApp reads an app's v2 bundle: the app and the stacks, then the
// bundle with the relations in inlines. An app with no web process is no
// v2 app (MAPPING, "Key idea").
func (g *API) oneApp(c ccv3.Call, guid string, in translate.Inline) (translate.AppBundle, error) {
	var app translate.V3App
	var stacks []ccv3.Stack
	err := parallel(
		func() (err error) { app, err = g.v3.GetApp(c, guid); return },
		func() (err error) { stacks, err = g.stacks(c); return },
	)
	if err != nil {
		return translate.AppBundle{}, v2Error(err, guid)
	}
	bundles, err := g.readBundles(c, []translate.V3App{app}, stacks, in)
	if err != nil {
		return translate.AppBundle{}, v2Error(err, guid)
	}
	if len(bundles) == 0 {
		return translate.AppBundle{}, appNotFound(guid)
	}
	return bundles[0], nil
}

// v2AppStats answers GET /v2/apps/:guid/stats.
func (g *API) v2AppStats(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var app translate.V3App
	var web translate.V3Process
	var routes []translate.V3Route
	var domains []translate.V3Domain
	err := parallel(
		func() (err error) { app, err = g.v3.GetApp(c, guid); return },
		func() (err error) { web, err = g.v3.WebProcess(c, guid); return },
		func() (err error) { routes, err = g.v3.AppRoutes(c, guid); return },
		func() (err error) { domains, err = g.v3.Domains(c); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	if app.State != "STARTED" {
		return appStoppedStatsError(app.Name)
	}
	stats, err := g.v3.InstanceStats(c, web.GUID)
	if err != nil {
		return v2Error(err, guid)
	}
	body, err := translate.AppStats(stats, translate.StatsInput{Name: app.Name,
		URIs: translate.RouteURIs(translate.WebRoutes(guid, routes), domainIndex(domains))})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2AppInstances answers GET /v2/apps/:guid/instances: a failed staging,
// a pending one and a stopped app are errors, in CC's order.
func (g *API) v2AppInstances(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	b, err := g.oneApp(c, guid, translate.Inline{})
	if err != nil {
		return err
	}
	e := translate.AppEntity(b)
	switch {
	case e.PackageState == "FAILED":
		return stagingFailed(e.StagingFailedReason, e.StagingFailedDescription)
	case e.PackageState == "PENDING":
		return &cferr.Error{Status: 400, Code: 170002, Name: "NotStaged", Description: "App has not finished staging"}
	case e.State == "STOPPED":
		return &cferr.Error{Status: 400, Code: 220001, Name: "InstancesError",
			Description: "Instances error: Request failed for app: " + b.App.Name + " as the app is in stopped state."}
	}
	stats, err := g.v3.InstanceStats(c, b.Web.GUID)
	if err != nil {
		return v2Error(err, guid)
	}
	body, err := translate.AppInstances(stats, time.Now())
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2AppKillInstance answers DELETE /v2/apps/:guid/instances/:index: 204
// once v3 has restarted the instance.
func (g *API) v2AppKillInstance(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	web, err := g.v3.WebProcess(c, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	if err := g.v3.DeleteInstance(c, web.GUID, pathParam(ctx, 3)); err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == 404 {
			return &cferr.Error{Status: 400, Code: 220001, Name: "InstancesError", Description: "Instances error: " + e.Detail(), Cause: err}
		}
		return v2Error(err, guid)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// v2AppCrashes answers GET /v2/apps/:guid/crashes from the app's crash
// events (v3 has no crash list of its own).
func (g *API) v2AppCrashes(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var page ccv3.Page[translate.V3AuditEvent]
	err := parallel(
		func() error { _, err := g.v3.WebProcess(c, guid); return err },
		func() (err error) {
			page, err = g.v3.AuditEvents(c, ccv3.AuditEventsQuery{Types: []string{"audit.app.process.crash"}, TargetGUIDs: []string{guid},
				PerPage: 5000, OrderBy: "created_at"})
			return
		},
	)
	if err != nil {
		return v2Error(err, guid)
	}
	body, err := translate.AppCrashes(page.Resources)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2AppMapRoute answers PUT /v2/apps/:guid/routes/:route_guid: the
// route gains a destination of the web process, and the app is answered
// 201 (MAPPING §7: mapping a route already mapped is a success).
func (g *API) v2AppMapRoute(ctx *fasthttp.RequestCtx) error {
	guid, routeGUID, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	_, _, err := g.mapWeb(c, routeGUID, guid, false, translate.InvalidRelation(
		"The app cannot be mapped to this route because the route is not in this space. Apps must be mapped to routes in the same space."))
	if err != nil {
		return err
	}
	res, err := g.oneApp(c, guid, translate.Inline{})
	if err != nil {
		return err
	}
	out, err := translate.AppResource(res)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/apps/"+guid)
	writeV2(ctx, fasthttp.StatusCreated, out)
	return nil
}

// v2AppUnmapRoute answers DELETE /v2/apps/:guid/routes/:route_guid: 204.
func (g *API) v2AppUnmapRoute(ctx *fasthttp.RequestCtx) error {
	return g.unmapWeb(ctx, pathParam(ctx, 3), pathParam(ctx, 1), false)
}
