package v2api

import (
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"capibridge/translate"
)

// The v2 endpoints under /v2/apps/:guid (MAPPING §7). Each first resolves
// the app's web process, which v2 calls the app: a v3 404 is AppNotFound.
// The lookups of one request run at once, so each costs one upstream round.

// parallel runs fns at once and returns the first error.
func parallel(fns ...func() error) error {
	var g errgroup.Group
	for _, f := range fns {
		g.Go(f)
	}
	return g.Wait()
}

// v2AppEnv answers GET /v2/apps/:guid/env from v3's env and the web process.
// v3 checks the env permissions (403 NotAuthorized for auditors), as v2 did.
func (g *API) v2AppEnv(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var web translate.V3Process
	var env translate.V3AppEnv
	err := parallel(
		func() (err error) { web, err = g.v3.WebProcess(c, guid); return },
		func() (err error) { env, err = g.v3.AppEnv(c, guid); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	// An upstream at an internal address (the embedded CF) names itself in
	// VCAP_APPLICATION's cf_api: the app's clients reach the gateway.
	if va := env.ApplicationEnvJSON.VCAPApplication; va != nil && va.CFAPI != nil {
		api, _ := g.hooks.Public(ctx, *va.CFAPI)
		va.CFAPI = &api
	}
	body, err := translate.AppEnv(env, web)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2AppPermissions answers GET /v2/apps/:guid/permissions.
func (g *API) v2AppPermissions(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var perms translate.V3AppPermissions
	err := parallel(
		func() error { _, err := g.v3.WebProcess(c, guid); return err },
		func() (err error) { perms, err = g.v3.AppPermissions(c, guid); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	writeV2(ctx, fasthttp.StatusOK, translate.AppPermissions(perms))
	return nil
}
