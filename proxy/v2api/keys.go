package v2api

import (
	"bytes"
	"errors"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// The v2 service keys (MAPPING-services §10.6): v3 credential bindings of
// type key. v2 showed keys to the developers of their space (and global
// readers) only, and answered anything else ServiceKeyNotFound; v3 shows
// them to every space reader but their details to developers only, which
// tells them apart.
var serviceKeys = &v2Resource[translate.BindingBundle]{
	path: "/v2/service_keys", keys: []string{"name", "service_instance_guid"},
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.BindingBundle, int, error) {
		return keysPage(g, c, lp, fs, nil)
	},
	get: func(c *ccv3.Client, call ccv3.Call, guid string) (translate.BindingBundle, error) {
		return oneKey(c, call, guid)
	},
	render: translate.AppendServiceKeyResource, notFound: notFoundNamed("ServiceKeyNotFound"),
	guid:   func(k translate.BindingBundle) string { return k.Binding.GUID },
	create: createKey,
	// Always synchronous: async is ignored (§10.6.4).
	remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		c := call(ctx)
		if _, err := oneKey(g.v3, c, guid); err != nil {
			return "", v2ErrorAs(err, serviceError("ServiceKeyNotFound", guid))
		}
		job, err := g.v3.DeleteBinding(c, guid)
		if err != nil {
			return "", v2ErrorAs(err, serviceError("ServiceKeyNotFound", guid))
		}
		return "", g.serviceJob(c, job, false)
	},
}

// instanceKeys: GET /v2/service_instances/:guid/service_keys.
var instanceKeys = &v2Under[translate.BindingBundle]{
	of: serviceKeys, parent: "service_instances", name: "service_keys",
	find: findInstanceOf(translate.InstanceManaged), parentNotFound: notFoundNamed("ManagedServiceInstanceNotFound"),
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, si string) ([]translate.BindingBundle, int, error) {
		return keysPage(g, c, lp, fs, []string{si})
	},
}

// oneKey reads a key with its details: a key of another type, or one the
// reader may not see the details of (not a developer of its space, nor an
// admin; a global auditor lists keys but reads none), is a v3 404 (v2's
// ServiceKeyAccess#read?).
func oneKey(c *ccv3.Client, call ccv3.Call, guid string) (translate.BindingBundle, error) {
	b, err := c.GetBinding(call, guid)
	if err != nil {
		return translate.BindingBundle{}, err
	}
	d, err := c.BindingDetails(call, guid)
	switch {
	case err != nil:
		return translate.BindingBundle{}, err
	case b.Type != "key", d == nil:
		return translate.BindingBundle{}, &ccv3.Error{Status: fasthttp.StatusNotFound}
	}
	return translate.BindingBundle{Binding: b, Details: d}, nil
}

// keysPage reads the keys the reader sees, with their details: global
// readers all, paged by v3 (only the page's details are read); anyone
// else those of spaces they develop in (whose details v3 shows them),
// which takes every key's details before paging here.
func keysPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, instances []string) ([]translate.BindingBundle, int, error) {
	q := ccv3.BindingQuery{Type: "key", InstanceGUIDs: instances}
	if c.SeesAll {
		page, total, err := bindingsPage(g, c, lp, fs, q)
		if err != nil {
			return nil, 0, err
		}
		keys, err := g.keyBundles(c, page)
		return keys, total, err
	}
	all, _, err := bindingsScan(g, c, translate.ListParams{Page: 1, ResultsPerPage: g.cfg.MaxLocalScan}, fs, q, true)
	if err != nil {
		return nil, 0, err
	}
	kept, err := g.keyBundles(c, all)
	if err != nil {
		return nil, 0, err
	}
	return pageLocally(lp, kept), len(kept), nil
}

// keyBundles reads the details of keys, one GET each, and keeps those
// the reader may see: all for global readers (redacted where v3 shows no
// details), else those whose details v3 shows.
func (g *API) keyBundles(c ccv3.Call, keys []translate.V3ServiceCredentialBinding) ([]translate.BindingBundle, error) {
	bundles := make([]translate.BindingBundle, len(keys))
	var mu sync.Mutex
	calls := make([]func() error, len(keys))
	for i := range keys {
		bundles[i].Binding = keys[i]
		calls[i] = func() error {
			d, err := g.v3.BindingDetails(c, keys[i].GUID)
			mu.Lock()
			bundles[i].Details = d
			mu.Unlock()
			return err
		}
	}
	if err := g.v3.Fan(calls); err != nil {
		return nil, err
	}
	var kept []translate.BindingBundle
	for _, b := range bundles {
		if b.Details != nil || c.SeesAll {
			kept = append(kept, b)
		}
	}
	return kept, nil
}

// createKey is POST /v2/service_keys (§10.6.3): always synchronous, the
// instance first (ServiceInstanceNotFound), then v3's key, waited for.
func createKey(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.BindingBundle, error) {
	var k translate.BindingBundle
	req, err := translate.ParseKeyRequest(body)
	if err != nil {
		return k, err
	}
	c := call(ctx)
	if _, err := g.v3.GetServiceInstance(c, req.InstanceGUID); err != nil {
		return k, v2ErrorAs(err, serviceError("ServiceInstanceNotFound", req.InstanceGUID))
	}
	v3body, err := translate.V3KeyCreate(req)
	if err != nil {
		return k, err
	}
	w, err := g.v3.CreateBinding(c, v3body)
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.KeyCreateError(e.Status, e.Title(), e.Detail(), req.Name, req.InstanceGUID); te != nil {
			return k, withCause(te, err)
		}
	}
	if err != nil {
		return k, v2Error(err, "")
	}
	if w.Job != "" {
		if err := g.serviceJob(c, w.Job, false); err != nil {
			return k, err
		}
	}
	page, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: "key", InstanceGUIDs: []string{req.InstanceGUID}, Names: []string{req.Name}})
	if err != nil || len(page.Resources) == 0 {
		return k, orUnknown(v2Error(err, ""), "the created key is not listed")
	}
	k.Binding = page.Resources[0]
	k.Details, err = g.v3.BindingDetails(c, k.Binding.GUID)
	return k, v2Error(err, "")
}

// v2ServiceKey answers GET /v2/service_keys/:guid: CC's read answers with
// a Location header (ServiceKeysController#read).
func (g *API) v2ServiceKey(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	k, err := serviceKeys.one(g, call(ctx), guid)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/service_keys/"+guid)
	var b bytes.Buffer
	if err := translate.AppendServiceKeyResource(&b, k); err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, b.Bytes())
	return nil
}
