package v2api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 service instances (MAPPING-services §10.2–§10.4, §10.8.1): one v3
// collection seen as managed instances (/v2/service_instances lists only
// those, but reads either kind) and user-provided ones, each with its v2
// shape.
var (
	serviceInstances = &v2Resource[translate.V3ServiceInstance]{
		path: "/v2/service_instances", keys: translate.InstanceQueryKeys(),
		preserve: []string{"return_user_provided_service_instances"},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServiceInstance, int, error) {
			return instancesPage(g, c, lp, fs, ccv3.InstanceQuery{Type: translate.InstanceManaged})
		},
		get: (*ccv3.Client).GetServiceInstance, prepare: prepareInstances(true), notFound: notFoundNamed("ServiceInstanceNotFound"),
		guid:   func(si translate.V3ServiceInstance) string { return si.GUID },
		create: createManaged, update: updateManaged,
	}
	userProvided = &v2Resource[translate.V3ServiceInstance]{
		path: "/v2/user_provided_service_instances", keys: translate.UserProvidedQueryKeys(),
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServiceInstance, int, error) {
			return instancesPage(g, c, lp, fs, ccv3.InstanceQuery{Type: translate.InstanceUserProvided})
		},
		get: (*ccv3.Client).GetServiceInstance, keep: func(si translate.V3ServiceInstance) bool { return si.Type == translate.InstanceUserProvided },
		prepare: prepareInstances(false), notFound: notFoundNamed("UserProvidedServiceInstanceNotFound"),
		guid:   func(si translate.V3ServiceInstance) string { return si.GUID },
		create: createUserProvided, update: updateUserProvided, remove: removeUserProvided, async: true,
	}
	// spaceInstances: GET /v2/spaces/:guid/service_instances, the instances
	// owned by or shared into the space, managed ones unless
	// return_user_provided_service_instances is the string "true" (§10.8.1).
	// organization_guid is no key here (the generic Query has no such
	// column: 400 BadQueryParameter).
	spaceInstances = &v2Under[translate.V3ServiceInstance]{
		of: serviceInstances, parent: "spaces", name: "service_instances", find: findSpace, parentNotFound: spaceNotFound,
		keys: slices.DeleteFunc(translate.InstanceQueryKeys(), func(k string) bool { return k == "organization_guid" }),
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, space string) ([]translate.V3ServiceInstance, int, error) {
			q := ccv3.InstanceQuery{Type: translate.InstanceManaged, SpaceGUIDs: []string{space}}
			if slices.Contains(lp.Preserved, [2]string{"return_user_provided_service_instances", "true"}) {
				q.Type = ""
			}
			return instancesPage(g, c, lp, fs, q)
		},
	}
)

// instancesPage reads a page of instances: the q filters v3 has go with
// the base query; binding and key guids become the instances they bind;
// name comparisons and the owner space are applied here.
func instancesPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, q ccv3.InstanceQuery) ([]translate.V3ServiceInstance, int, error) {
	iq := translate.InstanceQueryFromFilters(fs)
	if iq.Empty {
		return nil, 0, nil
	}
	q.Names, q.OrgGUIDs, q.PlanGUIDs = iq.Names, iq.OrgGUIDs, iq.PlanGUIDs
	if iq.SpaceGUIDs != nil {
		q.SpaceGUIDs = iq.SpaceGUIDs
	}
	for kind, guids := range map[string][]string{"app": iq.BindingGUIDs, "key": iq.KeyGUIDs} {
		if guids == nil {
			continue
		}
		page, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: kind, GUIDs: guids, PerPage: 5000})
		if err != nil {
			return nil, 0, err
		}
		var of []string
		for _, b := range page.Resources {
			of = append(of, b.Relationships.ServiceInstance.GUID())
		}
		if q.GUIDs = intersect(q.GUIDs, of); len(q.GUIDs) == 0 {
			return nil, 0, nil
		}
	}
	local := len(iq.Local) > 0 || iq.SpaceGUIDs != nil
	if !local && lp.OrderDirection == "desc" {
		q.OrderBy = "-created_at"
	}
	var order func([]translate.V3ServiceInstance)
	if lp.OrderDirection == "desc" {
		order = slices.Reverse[[]translate.V3ServiceInstance]
	}
	return scanSorted(lp, local, g.cfg.MaxLocalScan, "service instances", "name or space_guid",
		func(page, perPage int) (ccv3.Page[translate.V3ServiceInstance], error) {
			q.Page, q.PerPage = page, perPage
			return g.v3.ListServiceInstances(c, q)
		}, iq.Match, order)
}

// prepareInstances reads what a batch of instances shows from other
// resources, in one round: a user-provided instance's credentials (v3
// answers 403 to those who may not read them: redacted), whether the
// reader may see a managed one's credentials, the offering of each plan,
// and what in inlines (the space, the bindings and the keys, which the
// legacy cf CLI reads). viaServiceInstances renders through
// ServiceInstancesController, else UserProvidedServiceInstancesController.
func prepareInstances(viaServiceInstances bool) func(*API, ccv3.Call, []translate.V3ServiceInstance, translate.Inline) (func(*bytes.Buffer, translate.V3ServiceInstance) error, error) {
	return func(g *API, c ccv3.Call, items []translate.V3ServiceInstance, in translate.Inline) (func(*bytes.Buffer, translate.V3ServiceInstance) error, error) {
		var mu sync.Mutex
		bundles := make(map[string]*translate.InstanceBundle, len(items))
		inlined := make(map[string]*translate.InstanceInlined, len(items))
		var guids, spaces []string
		var calls []func() error
		for _, si := range items {
			b := &translate.InstanceBundle{Instance: si}
			bundles[si.GUID] = b
			inlined[si.GUID] = &translate.InstanceInlined{}
			guids = append(guids, si.GUID)
			if s := si.Relationships.Space.GUID(); !slices.Contains(spaces, s) {
				spaces = append(spaces, s)
			}
			guid := si.GUID
			if si.Type == translate.InstanceUserProvided {
				calls = append(calls, func() error {
					creds, err := g.v3.InstanceCredentials(c, guid)
					mu.Lock()
					b.Credentials = creds
					mu.Unlock()
					return err
				})
				continue
			}
			calls = append(calls, func() error {
				manage, _, err := g.v3.InstancePermissions(c, guid)
				mu.Lock()
				b.SecretsReader = manage
				mu.Unlock()
				return notFoundIsNone(err)
			})
		}
		calls = append(calls, func() error { return g.planOfferings(c, items, bundles, inlined, &mu) })
		depth := in.Depth >= 1
		if depth && in.Wants("space") && len(spaces) > 0 {
			calls = append(calls, func() error {
				list, _, err := g.v3.SpacesWithOrgs(c, spaces)
				if err != nil {
					return err
				}
				sb, err := g.spaceBundles(c, list)
				mu.Lock()
				for i := range sb {
					for _, si := range items {
						if si.Relationships.Space.GUID() == sb[i].Space.GUID {
							inlined[si.GUID].Space = &sb[i]
						}
					}
				}
				mu.Unlock()
				return err
			})
		}
		for _, kind := range []string{"app", "key"} {
			name := map[string]string{"app": "service_bindings", "key": "service_keys"}[kind]
			if !depth || !in.Wants(name) || len(guids) == 0 {
				continue
			}
			calls = append(calls, func() error {
				raw, err := g.renderBindingsOf(c, kind, guids, in.Deeper())
				mu.Lock()
				defer mu.Unlock()
				for _, si := range items {
					x := inlined[si.GUID]
					if kind == "app" {
						x.Bindings, x.HasBindings = raw[si.GUID], true
					} else {
						x.Keys, x.HasKeys = raw[si.GUID], true
					}
				}
				return err
			})
		}
		if err := g.v3.Fan(calls); err != nil {
			return nil, err
		}
		return func(buf *bytes.Buffer, si translate.V3ServiceInstance) error {
			if viaServiceInstances {
				return translate.AppendServiceInstance(buf, *bundles[si.GUID], in, inlined[si.GUID])
			}
			return translate.AppendUserProvided(buf, *bundles[si.GUID], in, inlined[si.GUID])
		}, nil
	}
}

// notFoundIsNone reads a v3 404 (an endpoint or resource the Cloud
// Controller does not have) as nothing to show.
func notFoundIsNone(err error) error {
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
		return nil
	}
	return err
}

// planOfferings fills the offering of each managed instance's plan, and
// whether the reader's plan list shows it (§10.2.1 rows 11 and 13); the
// plan is there to inline too.
func (g *API) planOfferings(c ccv3.Call, items []translate.V3ServiceInstance, bundles map[string]*translate.InstanceBundle,
	inlined map[string]*translate.InstanceInlined, mu *sync.Mutex) error {
	var plans []string
	for _, si := range items {
		if p := si.Relationships.ServicePlan.GUID(); p != "" && !slices.Contains(plans, p) {
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil
	}
	page, err := g.v3.ListPlans(c, url.Values{"guids": {strings.Join(plans, ",")}, "per_page": {"5000"}})
	if err != nil {
		return notFoundIsNone(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range page.Resources {
		for _, si := range items {
			if si.Relationships.ServicePlan.GUID() == p.GUID {
				bundles[si.GUID].ServiceGUID, bundles[si.GUID].PlanVisible = p.Relationships.ServiceOffering.GUID(), true
				inlined[si.GUID].Plan = &page.Resources[i]
			}
		}
	}
	return nil
}

// renderBindingsOf renders the bindings (kind app) or keys (kind key) of
// instances as v2 resources, by instance.
func (g *API) renderBindingsOf(c ccv3.Call, kind string, instances []string, _ translate.Inline) (map[string][]json.RawMessage, error) {
	page, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: kind, InstanceGUIDs: instances, PerPage: 5000})
	if err != nil {
		return nil, err
	}
	out := map[string][]json.RawMessage{}
	if kind == "key" {
		// Inlined keys pass the keys' visibility too (§10.1.4): those the
		// reader may read the details of, all for global readers.
		keys, err := g.keyBundles(c, page.Resources)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			var buf bytes.Buffer
			if err := translate.AppendServiceKeyResource(&buf, k); err != nil {
				return nil, err
			}
			si := k.Binding.Relationships.ServiceInstance.GUID()
			out[si] = append(out[si], buf.Bytes())
		}
		return out, nil
	}
	bundles, err := g.bindingBundles(c, page.Resources)
	if err != nil {
		return nil, err
	}
	for _, b := range bundles {
		var buf bytes.Buffer
		if err := translate.AppendServiceBindingResource(&buf, b); err != nil {
			return nil, err
		}
		si := b.Binding.Relationships.ServiceInstance.GUID()
		out[si] = append(out[si], buf.Bytes())
	}
	return out, nil
}

// createUserProvided is POST /v2/user_provided_service_instances (§10.4.2):
// CC's model checks first (v3 words them otherwise), then v3's create
// with the v2 defaults, so the instance reads back as v2 shows it.
func createUserProvided(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3ServiceInstance, error) {
	var si translate.V3ServiceInstance
	req, err := translate.ParseUserProvidedRequest(body, true)
	if err != nil {
		return si, err
	}
	if te := req.Check(); te != nil {
		return si, withCause(te, nil)
	}
	v3body, err := translate.V3UserProvidedWrite(req, true)
	if err != nil {
		return si, err
	}
	w, err := g.v3.CreateServiceInstance(call(ctx), v3body)
	return w.Resource, instanceWriteError(err, *req.Name, nil)
}

// updateUserProvided is PUT /v2/user_provided_service_instances/:guid
// (§10.4.3): a space_guid other than the instance's (go-cfclient sends
// "" when unset) is ServiceInstanceInvalid.
func updateUserProvided(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3ServiceInstance, error) {
	req, err := translate.ParseUserProvidedRequest(body, false)
	if err != nil {
		return translate.V3ServiceInstance{}, err
	}
	c := call(ctx)
	si, err := oneUserProvided(g, c, guid)
	if err != nil {
		return si, err
	}
	if req.SpaceGUID != nil && *req.SpaceGUID != si.Relationships.Space.GUID() {
		return si, serviceError("ServiceInstanceInvalid", "cannot change space for service instance")
	}
	if te := req.Check(); te != nil {
		return si, withCause(te, nil)
	}
	v3body, err := translate.V3UserProvidedWrite(req, false)
	if err != nil {
		return si, err
	}
	name := si.Name
	if req.Name != nil {
		name = *req.Name
	}
	w, err := g.v3.UpdateServiceInstance(c, guid, v3body)
	return w.Resource, instanceWriteError(err, name, serviceError("UserProvidedServiceInstanceNotFound", guid))
}

// removeUserProvided is DELETE /v2/user_provided_service_instances/:guid
// (§10.4.4): without recursive=true, an instance with bindings, labels or
// annotations is AssociationNotEmpty naming them.
func removeUserProvided(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	si, err := oneUserProvided(g, c, guid)
	if err != nil {
		return "", err
	}
	if !flagTrue(ctx, "recursive") {
		page, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: "app", InstanceGUIDs: []string{guid}, PerPage: 1})
		if err != nil {
			return "", v2Error(err, "")
		}
		var deps []string
		if page.Pagination.TotalResults > 0 {
			deps = append(deps, "service_bindings")
		}
		if len(si.Metadata.Labels) > 0 {
			deps = append(deps, "labels")
		}
		if len(si.Metadata.Annotations) > 0 {
			deps = append(deps, "annotations")
		}
		if len(deps) > 0 {
			return "", withCause(translate.AssociationNotEmpty(joinList(deps), "service_instances"), nil)
		}
	}
	job, err := g.v3.DeleteServiceInstance(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, serviceError("UserProvidedServiceInstanceNotFound", guid))
	}
	return job, nil
}

// oneUserProvided reads a user-provided instance, or its v2 not-found (a
// declaration's writes cannot name the declaration).
func oneUserProvided(g *API, c ccv3.Call, guid string) (translate.V3ServiceInstance, error) {
	if err := findInstanceOf(translate.InstanceUserProvided)(g.v3, c, guid); err != nil {
		return translate.V3ServiceInstance{}, v2ErrorAs(err, serviceError("UserProvidedServiceInstanceNotFound", guid))
	}
	return g.v3.GetServiceInstance(c, guid)
}

// joinList joins names as CC's AssociationNotEmpty lists them.
func joinList(names []string) string {
	var b bytes.Buffer
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// instanceWriteError maps a failed v3 instance write to v2 (§10.10); a
// v3 404 is notFound.
func instanceWriteError(err error, name string, notFound *cferr.Error) error {
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound && notFound != nil {
		return v2ErrorAs(err, notFound)
	}
	if errors.As(err, &e) {
		if te := translate.InstanceWriteError(e.Status, e.Title(), e.Detail(), name); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// strictFlag reads a v2 flag that must be true, false or absent
// (convert_flag_to_bool; anything else is InvalidRequest).
func strictFlag(ctx *fasthttp.RequestCtx, name string) (bool, error) {
	switch v := ctx.QueryArgs().Peek(name); {
	case v == nil, string(v) == "false":
		return false, nil
	case string(v) == "true":
		return true, nil
	}
	return false, withCause(translate.InvalidRequest(), nil)
}

// statusKey lets a write answer another status than the engine's (202
// for an operation still in progress).
const statusKey = "capibridge.status"

// serviceGrace is how long a write with accepts_incomplete=true waits for
// its job before it answers 202 in progress (§10.9.2).
const serviceGrace = 2 * time.Second

// serviceJob waits for a v3 service job. When the client accepts
// incomplete operations it waits until the broker has answered: an
// asynchronous answer (v3's POLLING) is the 202 v2 gave, within a short
// grace period; otherwise until the job ends, bounded by the upstream
// request timeout (past either the operation reads in progress). A failed
// job is its v2 error (§10.10).
func (g *API) serviceJob(c ccv3.Call, job string, acceptsIncomplete bool) error {
	limit := serviceGrace
	if !acceptsIncomplete {
		if limit = g.cfg.UpstreamClient.RequestTimeout; limit <= 0 {
			limit = time.Minute
		}
	}
	var failed error
	_, err := poll(time.Now().Add(limit), jobPollMax, func() (bool, error) {
		j, err := g.v3.Job(c, job)
		switch {
		case err != nil:
			return false, v2Error(err, "")
		case j == nil || j.State == "COMPLETE":
			return true, nil
		case j.State == "POLLING" && acceptsIncomplete:
			// The broker answered asynchronously, which v2 answered 202
			// at once when the client accepted it.
			return true, nil
		case j.State == "FAILED":
			failed = cferr.Unknown(nil)
			if len(j.Errors) > 0 {
				failed = withCause(translate.ServiceJobError(j.Errors[0].Title, j.Errors[0].Detail, j.Errors[0].Code), nil)
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return failed
}

// instanceRoutesOf lists the routes an instance of kind is bound to as
// their route service (§10.3.6, §10.4.5).
func instanceRoutesOf(parent, kind, notFound string) *v2Under[translate.V3Route] {
	return &v2Under[translate.V3Route]{
		of: routes, parent: parent, name: "routes", find: findInstanceOf(kind), parentNotFound: notFoundNamed(notFound),
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, si string) ([]translate.V3Route, int, error) {
			guids, err := g.v3.InstanceRoutes(c, si)
			if err := notFoundIsNone(err); err != nil || len(guids) == 0 {
				return nil, 0, err
			}
			rq := translate.RouteQueryFromFilters(fs)
			all, err := g.v3.AllRoutes(c, ccv3.RouteQuery{GUIDs: guids, Hosts: rq.Hosts, Paths: rq.Paths, DomainGUIDs: rq.DomainGUIDs, OrgGUIDs: rq.OrgGUIDs})
			if err != nil {
				return nil, 0, err
			}
			kept := slices.DeleteFunc(all, func(r translate.V3Route) bool { return !rq.Match(r) })
			return pageLocally(lp, kept), len(kept), nil
		},
	}
}

var (
	instanceRoutes     = instanceRoutesOf("service_instances", translate.InstanceManaged, "ManagedServiceInstanceNotFound")
	userProvidedRoutes = instanceRoutesOf("user_provided_service_instances", translate.InstanceUserProvided, "UserProvidedServiceInstanceNotFound")
)
