package proxy

import (
	"bytes"
	"sync"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"capibridge/proxy/ccv3"
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
func (g *Gateway) v2AppEnv(ctx *fasthttp.RequestCtx) error {
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
		api, _ := relink(*va.CFAPI, g.upstream.URL(), g.publicBase(ctx))
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
func (g *Gateway) v2AppPermissions(ctx *fasthttp.RequestCtx) error {
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

// subList parses the list parameters and q of a list under an app, which
// the gateway pages itself: an app has few routes and bindings, and v3
// returns them all at once.
func (g *Gateway) subList(ctx *fasthttp.RequestCtx, keys []string) (translate.ListParams, []translate.Filter, error) {
	lp, err := g.listParams(ctx)
	if err != nil {
		return lp, nil, err
	}
	if err := translate.CheckOrderBy(lp); err != nil {
		return lp, nil, err
	}
	filters, err := translate.ParseQ(lp.Q, keys)
	return lp, filters, err
}

// writeSubList filters all, takes the requested page and writes it.
func writeSubList[T any](ctx *fasthttp.RequestCtx, lp translate.ListParams, filters []translate.Filter, all []T,
	field func(T, string) string, render func(*bytes.Buffer, T) error) error {
	var kept []T
	for _, r := range all {
		if translate.MatchAll(filters, func(key string) string { return field(r, key) }) {
			kept = append(kept, r)
		}
	}
	if lp.OrderDirection == "desc" {
		for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
			kept[i], kept[j] = kept[j], kept[i]
		}
	}
	start := min(lp.Offset(), len(kept))
	page := kept[start:min(start+lp.ResultsPerPage, len(kept))]
	path := string(bytes.TrimSuffix(ctx.Path(), []byte("/")))
	return writeV2List(ctx, lp, path, len(kept), len(page), func(b *bytes.Buffer, i int) error { return render(b, page[i]) })
}

// v2AppServiceBindings answers GET /v2/apps/:guid/service_bindings: the
// app's bindings, each with its details (credentials), read per binding
// under the fan-out bound.
func (g *Gateway) v2AppServiceBindings(ctx *fasthttp.RequestCtx) error {
	lp, filters, err := g.subList(ctx, translate.ServiceBindingQueryKeys())
	if err != nil {
		return err
	}
	guid, c := pathParam(ctx, 1), call(ctx)
	bundles, err := g.appBindings(c, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	field := func(b translate.BindingBundle, key string) string {
		return translate.ServiceBindingField(b.Binding, key)
	}
	return writeSubList(ctx, lp, filters, bundles, field, translate.AppendServiceBindingResource)
}

// appBindings reads an app's bindings with their details: two rounds, the
// list (with the web process check), then the details at once.
func (g *Gateway) appBindings(c ccv3.Call, guid string) ([]translate.BindingBundle, error) {
	var bindings []translate.V3ServiceCredentialBinding
	err := parallel(
		func() error { _, err := g.v3.WebProcess(c, guid); return err },
		func() (err error) { bindings, err = g.v3.AppBindings(c, []string{guid}); return },
	)
	if err != nil {
		return nil, err
	}
	out := make([]translate.BindingBundle, len(bindings))
	guids := make([]string, len(bindings))
	index := make(map[string]int, len(bindings))
	for i, b := range bindings {
		out[i].Binding, guids[i], index[b.GUID] = b, b.GUID, i
	}
	var mu sync.Mutex
	err = g.v3.PerApp(guids, func(bg string) error {
		d, err := g.v3.BindingDetails(c, bg)
		if err != nil {
			return err
		}
		mu.Lock()
		out[index[bg]].Details = d
		mu.Unlock()
		return nil
	})
	return out, err
}
