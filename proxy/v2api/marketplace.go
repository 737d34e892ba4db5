package v2api

import (
	"bytes"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// The v2 marketplace (MAPPING-services §10.7): services, plans and brokers
// are v3 offerings, plans and brokers; each q key maps to a v3 filter.

// v3Filters maps the q keys of a v2 list to the v3 list filters: a key
// with "" is refused (BadQueryParameter, a column CC dropped), a key
// missing from the map is compared here.
type v3Filters map[string]string

// filteredPage reads a page of a v3 list whose filters the q keys map to
// (: and IN; active is v3's available, "t" or "true" being true); other
// comparisons are applied here to field's value.
func filteredPage[T any](g *API, lp translate.ListParams, fs []translate.Filter, keys v3Filters, base url.Values,
	list func(url.Values) (ccv3.Page[T], error), field func(T, string) string) ([]T, int, error) {
	v := url.Values{}
	for k, vals := range base {
		v[k] = vals
	}
	var local []translate.Filter
	for _, f := range fs {
		param, ok := keys[f.Key]
		switch {
		case ok && param == "":
			return nil, 0, translate.BadQueryParameter(f.Key)
		case f.Key == "active":
			val := "false"
			if len(f.Values) == 1 && (f.Values[0] == "t" || f.Values[0] == "true") {
				val = "true"
			}
			v.Set("available", val)
		case ok && (f.Op == translate.OpEq || f.Op == translate.OpIn || f.ForeignKey()):
			vals := f.Values
			if prev, had := v[param]; had {
				vals = slices.DeleteFunc(slices.Clone(vals), func(x string) bool { return !slices.Contains(strings.Split(prev[0], ","), x) })
			}
			if len(vals) == 0 {
				return nil, 0, nil
			}
			escaped := make([]string, len(vals))
			for i, x := range vals {
				escaped[i] = strings.ReplaceAll(x, ",", "%2C") // a comma inside a value (MAPPING §3.3)
			}
			v.Set(param, strings.Join(escaped, ","))
		default:
			local = append(local, f)
		}
	}
	return scanSorted(lp, len(local) > 0, g.cfg.MaxLocalScan, "resources", "an equality filter",
		func(page, perPage int) (ccv3.Page[T], error) {
			w := url.Values{}
			for k, vals := range v {
				w[k] = vals
			}
			w.Set("page", strconv.Itoa(page))
			w.Set("per_page", strconv.Itoa(perPage))
			return list(w)
		},
		func(item T) bool {
			return translate.MatchAll(local, func(key string) string { return field(item, key) })
		}, nil)
}

var (
	// services: q active, label, service_broker_guid, unique_id; provider
	// was dropped from CC's table, so filtering by it fails as there.
	offeringKeys = v3Filters{"label": "names", "provider": "", "service_broker_guid": "service_broker_guids", "unique_id": "broker_catalog_ids"}
	services     = &v2Resource[translate.V3ServiceOffering]{
		path: "/v2/services", keys: translate.ServiceQueryKeys(),
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServiceOffering, int, error) {
			return filteredPage(g, lp, fs, offeringKeys, nil, func(v url.Values) (ccv3.Page[translate.V3ServiceOffering], error) { return g.v3.ListOfferings(c, v) }, offeringField)
		},
		get: (*ccv3.Client).GetOffering, notFound: notFoundNamed("ServiceNotFound"),
		render: func(b *bytes.Buffer, o translate.V3ServiceOffering) error {
			return translate.AppendServiceResource(b, o, nil)
		},
	}
	// servicePlans: non-admins see available plans only (v3 lists the
	// others too; §10.7.2).
	planKeys     = v3Filters{"service_guid": "service_offering_guids", "service_instance_guid": "service_instance_guids", "service_broker_guid": "service_broker_guids", "unique_id": "broker_catalog_ids"}
	servicePlans = &v2Resource[translate.V3ServicePlan]{
		path: "/v2/service_plans", keys: translate.ServicePlanQueryKeys(),
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServicePlan, int, error) {
			return plansPage(g, c, lp, fs, nil)
		},
		get: (*ccv3.Client).GetPlan, render: translate.AppendServicePlanResource, notFound: notFoundNamed("ServicePlanNotFound"),
	}
	brokers = &v2Resource[translate.V3ServiceBroker]{
		path: "/v2/service_brokers", keys: []string{"name", "space_guid"},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3ServiceBroker, int, error) {
			return filteredPage(g, lp, fs, v3Filters{"name": "names", "space_guid": "space_guids"}, nil,
				func(v url.Values) (ccv3.Page[translate.V3ServiceBroker], error) { return g.v3.ListBrokers(c, v) },
				func(b translate.V3ServiceBroker, key string) string { return b.Name })
		},
		get: (*ccv3.Client).GetBroker, render: translate.AppendServiceBrokerResource, notFound: notFoundNamed("ServiceBrokerNotFound"),
	}
	// serviceServicePlans, spaceServices, orgServices and planInstances:
	// the lists under a service, a space, an org and a plan (§10.7.2,
	// §10.7.3, §10.7.6).
	serviceServicePlans = &v2Under[translate.V3ServicePlan]{
		of: servicePlans, parent: "services", name: "service_plans", parentNotFound: notFoundNamed("ServiceNotFound"),
		find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
			_, err := c.GetOffering(call, guid)
			return err
		},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, svc string) ([]translate.V3ServicePlan, int, error) {
			return plansPage(g, c, lp, fs, url.Values{"service_offering_guids": {svc}})
		},
	}
	spaceServices = &v2Under[translate.V3ServiceOffering]{
		of: services, parent: "spaces", name: "services", find: findSpace, parentNotFound: spaceNotFound,
		page: offeringsOf("space_guids"),
	}
	orgServices = &v2Under[translate.V3ServiceOffering]{
		of: services, parent: "organizations", name: "services", find: findOrg, parentNotFound: orgNotFound,
		page: offeringsOf("organization_guids"),
	}
	planInstances = &v2Under[translate.V3ServiceInstance]{
		of: serviceInstances, parent: "service_plans", name: "service_instances", parentNotFound: notFoundNamed("ServicePlanNotFound"),
		find: func(c *ccv3.Client, call ccv3.Call, guid string) error { _, err := c.GetPlan(call, guid); return err },
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, plan string) ([]translate.V3ServiceInstance, int, error) {
			return instancesPage(g, c, lp, fs, ccv3.InstanceQuery{Type: translate.InstanceManaged, PlanGUIDs: []string{plan}})
		},
	}
)

// offeringsOf lists the offerings visible in a space or org.
func offeringsOf(param string) func(*API, ccv3.Call, translate.ListParams, []translate.Filter, string) ([]translate.V3ServiceOffering, int, error) {
	return func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, parent string) ([]translate.V3ServiceOffering, int, error) {
		return filteredPage(g, lp, fs, offeringKeys, url.Values{param: {parent}},
			func(v url.Values) (ccv3.Page[translate.V3ServiceOffering], error) { return g.v3.ListOfferings(c, v) }, offeringField)
	}
}

// plansPage reads a page of plans: v3 lists plans no longer available
// too, which v2 showed only to global readers (§10.7.2).
func plansPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, base url.Values) ([]translate.V3ServicePlan, int, error) {
	if base == nil {
		base = url.Values{}
	}
	if !c.SeesAll {
		base.Set("available", "true")
	}
	return filteredPage(g, lp, fs, planKeys, base,
		func(v url.Values) (ccv3.Page[translate.V3ServicePlan], error) { return g.v3.ListPlans(c, v) },
		func(p translate.V3ServicePlan, key string) string { return p.Name })
}

func offeringField(o translate.V3ServiceOffering, key string) string {
	if key == "label" {
		return o.Name
	}
	return ""
}

// planVisibilities: v3 has no visibility rows; the gateway makes one per
// plan and org an organization-visible plan names, with a guid derived
// from the pair. Only global readers see any (the model had no visibility
// filter for others: an empty list, NotAuthorized on one; §10.7.5).
var planVisibilities = &v2Resource[translate.PlanVisibility]{
	path: "/v2/service_plan_visibilities", keys: []string{"organization_guid", "service_plan_guid"},
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.PlanVisibility, int, error) {
		all, err := g.visibilities(c)
		if err != nil {
			return nil, 0, err
		}
		kept := slices.DeleteFunc(all, func(v translate.PlanVisibility) bool {
			return !translate.MatchAll(fs, func(key string) string {
				if key == "organization_guid" {
					return v.OrgGUID
				}
				return v.PlanGUID
			})
		})
		return pageLocally(lp, kept), len(kept), nil
	},
	render: translate.AppendPlanVisibilityResource, notFound: notFoundNamed("ServicePlanVisibilityNotFound"),
}

// v2PlanVisibility answers GET /v2/service_plan_visibilities/:guid.
func (g *API) v2PlanVisibility(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	all, err := g.visibilities(c)
	if err != nil {
		return v2Error(err, "")
	}
	for _, v := range all {
		if v.GUID == guid {
			if !c.SeesAll {
				return errNotAuthorized(nil)
			}
			return planVisibilities.answer(g, ctx, v, fasthttp.StatusOK)
		}
	}
	return serviceError("ServicePlanVisibilityNotFound", guid)
}

// visibilityNamespace derives the visibilities' guids (UUID v5).
var visibilityNamespace = uuid.MustParse("6f2c1a1e-7d1b-4f57-9a39-5b1f3e0c9a11")

// visibilities makes the visibility rows of every organization-visible
// plan, for global readers; none for anyone else.
func (g *API) visibilities(c ccv3.Call) ([]translate.PlanVisibility, error) {
	if !c.SeesAll {
		return nil, nil
	}
	page, err := g.v3.ListPlans(c, url.Values{"per_page": {"5000"}})
	if err != nil {
		return nil, notFoundIsNone(err)
	}
	var plans []translate.V3ServicePlan
	for _, p := range page.Resources {
		if p.VisibilityType == "organization" {
			plans = append(plans, p)
		}
	}
	orgs := make([][]string, len(plans))
	calls := make([]func() error, len(plans))
	for i, p := range plans {
		calls[i] = func() (err error) { orgs[i], err = g.v3.PlanVisibilityOrgs(c, p.GUID); return }
	}
	if err := g.v3.Fan(calls); err != nil {
		return nil, err
	}
	var out []translate.PlanVisibility
	for i, p := range plans {
		for _, o := range orgs[i] {
			out = append(out, translate.PlanVisibility{GUID: uuid.NewSHA1(visibilityNamespace, []byte(p.GUID+"/"+o)).String(),
				PlanGUID: p.GUID, OrgGUID: o, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt})
		}
	}
	return out, nil
}
