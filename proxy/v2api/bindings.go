package v2api

import (
	"bytes"
	"errors"
	"slices"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 service bindings (MAPPING-services §10.5): a v2 binding is a v3
// credential binding of type app, its credentials from its details, which
// v3 shows only to those who may read them (the rest get CC's redaction).
var serviceBindings = &v2Resource[translate.V3ServiceCredentialBinding]{
	path: "/v2/service_bindings", keys: translate.ServiceBindingQueryKeys(),
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServiceCredentialBinding, int, error) {
		return bindingsPage(g, c, lp, fs, ccv3.BindingQuery{Type: "app"})
	},
	get: (*ccv3.Client).GetBinding, keep: func(b translate.V3ServiceCredentialBinding) bool { return b.Type == "app" },
	prepare: prepareBindings, notFound: func(guid string) *cferr.Error { return serviceError("ServiceBindingNotFound", guid) },
	guid:   func(b translate.V3ServiceCredentialBinding) string { return b.GUID },
	create: createBinding,
}

// serviceError is a named service error of the v2 table.
func serviceError(name, arg string) *cferr.Error {
	return withCause(translate.ServiceError(name, arg), nil)
}

// bindingsPage reads a page of bindings: q app_guid, service_instance_guid
// and name go to v3 for : and IN; name comparisons are applied here.
func bindingsPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, q ccv3.BindingQuery) ([]translate.V3ServiceCredentialBinding, int, error) {
	return bindingsScan(g, c, lp, fs, q, false)
}

// bindingsScan is bindingsPage that reads every match when all is set.
func bindingsScan(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, q ccv3.BindingQuery, all bool) ([]translate.V3ServiceCredentialBinding, int, error) {
	var local []translate.Filter
	for _, f := range fs {
		var set *[]string
		switch f.Key {
		case "app_guid":
			set = &q.AppGUIDs
		case "service_instance_guid":
			set = &q.InstanceGUIDs
		case "name":
			if f.Op != translate.OpEq && f.Op != translate.OpIn {
				local = append(local, f)
				continue
			}
			set = &q.Names
		}
		if *set == nil {
			*set = append([]string{}, f.Values...)
		} else {
			*set = slices.DeleteFunc(*set, func(v string) bool { return !slices.Contains(f.Values, v) })
		}
		if len(*set) == 0 {
			return nil, 0, nil
		}
	}
	var order func([]translate.V3ServiceCredentialBinding)
	if lp.OrderDirection == "desc" {
		order = slices.Reverse[[]translate.V3ServiceCredentialBinding]
	}
	return scanSorted(lp, all || len(local) > 0 || lp.OrderDirection == "desc", g.cfg.MaxLocalScan, "service bindings", "app_guid or service_instance_guid",
		func(page, perPage int) (ccv3.Page[translate.V3ServiceCredentialBinding], error) {
			q.Page, q.PerPage = page, perPage
			return g.v3.ListBindings(c, q)
		},
		func(b translate.V3ServiceCredentialBinding) bool {
			return translate.MatchAll(local, func(key string) string { return translate.ServiceBindingField(b, key) })
		}, order)
}

// prepareBindings reads, for a batch of bindings, the details of each (one
// GET each: v3 has no batch) and the kind of each bound instance.
func prepareBindings(g *API, c ccv3.Call, items []translate.V3ServiceCredentialBinding, _ translate.Inline) (func(*bytes.Buffer, translate.V3ServiceCredentialBinding) error, error) {
	bundles, err := g.bindingBundles(c, items)
	if err != nil {
		return nil, err
	}
	byGUID := make(map[string]translate.BindingBundle, len(bundles))
	for _, b := range bundles {
		byGUID[b.Binding.GUID] = b
	}
	return func(buf *bytes.Buffer, b translate.V3ServiceCredentialBinding) error {
		return translate.AppendServiceBindingResource(buf, byGUID[b.GUID])
	}, nil
}

// bindingBundles gathers each binding's details and whether its instance
// is user-provided, in one round.
func (g *API) bindingBundles(c ccv3.Call, items []translate.V3ServiceCredentialBinding) ([]translate.BindingBundle, error) {
	out := make([]translate.BindingBundle, len(items))
	var instances []string
	for i, b := range items {
		out[i].Binding = b
		if si := b.Relationships.ServiceInstance.GUID(); !slices.Contains(instances, si) {
			instances = append(instances, si)
		}
	}
	var mu sync.Mutex
	upsi := map[string]bool{}
	calls := []func() error{func() error {
		list, err := g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{GUIDs: instances})
		for _, si := range list {
			upsi[si.GUID] = si.Type == translate.InstanceUserProvided
		}
		return err
	}}
	for i := range out {
		calls = append(calls, func() error {
			d, err := g.bindingDetails(c, out[i].Binding)
			mu.Lock()
			out[i].Details = d
			mu.Unlock()
			return err
		})
	}
	if err := g.v3.Fan(calls); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].UserProvided = upsi[out[i].Binding.Relationships.ServiceInstance.GUID()]
	}
	return out, nil
}

// instanceBindings: GET /v2/service_instances/:guid/service_bindings,
// userProvidedBindings the same under /v2/user_provided_service_instances
// and appBindingsList under /v2/apps (§10.3.6, §10.4.5, §10.5.6): the
// parent's own bindings, with the bindings' q keys.
var (
	instanceBindings = &v2Under[translate.V3ServiceCredentialBinding]{
		of: serviceBindings, parent: "service_instances", name: "service_bindings",
		find: findInstanceOf(translate.InstanceManaged), parentNotFound: notFoundNamed("ManagedServiceInstanceNotFound"),
		page: bindingsOf(func(q *ccv3.BindingQuery, guid string) { q.InstanceGUIDs = []string{guid} }),
	}
	userProvidedBindings = &v2Under[translate.V3ServiceCredentialBinding]{
		of: serviceBindings, parent: "user_provided_service_instances", name: "service_bindings",
		find: findInstanceOf(translate.InstanceUserProvided), parentNotFound: notFoundNamed("UserProvidedServiceInstanceNotFound"),
		page: bindingsOf(func(q *ccv3.BindingQuery, guid string) { q.InstanceGUIDs = []string{guid} }),
	}
	appBindingsList = &v2Under[translate.V3ServiceCredentialBinding]{
		of: serviceBindings, parent: "apps", name: "service_bindings", find: findWebProcess, parentNotFound: appNotFound, concurrent: true,
		page: bindingsOf(func(q *ccv3.BindingQuery, guid string) { q.AppGUIDs = []string{guid} }),
	}
)

// bindingsOf reads a parent's bindings, narrowed by scope.
func bindingsOf(scope func(q *ccv3.BindingQuery, parent string)) func(*API, ccv3.Call, translate.ListParams, []translate.Filter, string) ([]translate.V3ServiceCredentialBinding, int, error) {
	return func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, parent string) ([]translate.V3ServiceCredentialBinding, int, error) {
		q := ccv3.BindingQuery{Type: "app"}
		scope(&q, parent)
		return bindingsPage(g, c, lp, fs, q)
	}
}

// notFoundNamed returns the not-found error of the v2 table by name.
func notFoundNamed(name string) func(guid string) *cferr.Error {
	return func(guid string) *cferr.Error { return serviceError(name, guid) }
}

// findInstanceOf finds an instance of one kind: the other kind is a v3
// 404, so the parent's not-found answers it.
func findInstanceOf(kind string) func(c *ccv3.Client, call ccv3.Call, guid string) error {
	return func(c *ccv3.Client, call ccv3.Call, guid string) error {
		si, err := c.GetServiceInstance(call, guid)
		if err == nil && si.Type != kind {
			err = &ccv3.Error{Status: fasthttp.StatusNotFound}
		}
		return err
	}
}

// createBinding is POST /v2/service_bindings (§10.5.3): the app and the
// instance first (their v2 not-found errors), then v3's bind; parameters
// go to managed instances only (v3 refuses any for a user-provided one,
// where v2 ignored them with a warning). A managed bind is a job, waited
// for unless accepts_incomplete=true.
func createBinding(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3ServiceCredentialBinding, error) {
	var b translate.V3ServiceCredentialBinding
	acceptsIncomplete, err := strictFlag(ctx, "accepts_incomplete")
	if err != nil {
		return b, err
	}
	req, err := translate.ParseBindingRequest(body)
	if err != nil {
		return b, err
	}
	c := call(ctx)
	var si translate.V3ServiceInstance
	var appErr, siErr error
	_ = parallel(
		func() error { _, appErr = g.v3.GetApp(c, req.AppGUID); return nil },
		func() error { si, siErr = g.v3.GetServiceInstance(c, req.InstanceGUID); return nil },
	)
	if appErr != nil {
		return b, v2ErrorAs(appErr, appNotFound(req.AppGUID))
	}
	if siErr != nil {
		return b, v2ErrorAs(siErr, serviceError("ServiceInstanceNotFound", req.InstanceGUID))
	}
	userProvided := si.Type == translate.InstanceUserProvided
	v3body, err := translate.V3BindingCreate(req, userProvided)
	if err != nil {
		return b, err
	}
	w, err := g.v3.CreateBinding(c, v3body)
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.BindingCreateError(e.Status, e.Title(), e.Detail(), req.AppGUID, req.InstanceGUID); te != nil {
			return b, withCause(te, err)
		}
	}
	if err != nil {
		return b, v2Error(err, "")
	}
	if userProvided && len(req.Parameters) > 0 {
		ctx.Response.Header.Set("X-Cf-Warnings", "Configuration+parameters+are+ignored+for+bindings+to+user-provided+service+instances.")
	}
	if w.Job == "" {
		return w.Resource, nil
	}
	if err := g.serviceJob(c, w.Job, acceptsIncomplete); err != nil {
		return b, err
	}
	page, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: "app", AppGUIDs: []string{req.AppGUID}, InstanceGUIDs: []string{req.InstanceGUID}})
	if err != nil || len(page.Resources) == 0 {
		return b, orUnknown(v2Error(err, ""), "the created binding is not listed")
	}
	b = page.Resources[0]
	if b.LastOperation != nil && (b.LastOperation.State == "in progress" || b.LastOperation.State == "initial") {
		ctx.SetUserValue(statusKey, fasthttp.StatusAccepted)
	}
	return b, nil
}

// v2ServiceBindingDelete answers DELETE /v2/service_bindings/:guid
// (§10.5.4): async=true (without accepts_incomplete) answers the v2 job at
// once, with no Location; accepts_incomplete=true answers 202 with the
// binding while the broker still unbinds; else the unbind is waited for.
func (g *API) v2ServiceBindingDelete(ctx *fasthttp.RequestCtx) error {
	acceptsIncomplete, err := strictFlag(ctx, "accepts_incomplete")
	if err != nil {
		return err
	}
	guid, c := pathParam(ctx, 1), call(ctx)
	// A key is no binding: serviceBindings keeps app bindings only.
	if _, err := serviceBindings.one(g, c, guid); err != nil {
		return err
	}
	job, err := g.v3.DeleteBinding(c, guid)
	if err != nil {
		return v2ErrorAs(err, serviceError("ServiceBindingNotFound", guid))
	}
	if job == "" || !acceptsIncomplete {
		return g.answerJob(ctx, job, flagTrue(ctx, "async"))
	}
	if err := g.serviceJob(c, job, true); err != nil {
		return err
	}
	return answerDeleting(g, ctx, serviceBindings, guid, func() (translate.V3ServiceCredentialBinding, error) { return g.v3.GetBinding(c, guid) })
}

// answerDeleting answers a delete once its job had its grace period: 202
// with the resource, and Location, while it is still there (the broker
// still works), else 204.
func answerDeleting[T any](g *API, ctx *fasthttp.RequestCtx, r *v2Resource[T], guid string, still func() (T, error)) error {
	if left, err := still(); err == nil {
		ctx.Response.Header.Set(fasthttp.HeaderLocation, r.path+"/"+guid)
		return r.answer(g, ctx, left, fasthttp.StatusAccepted)
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
