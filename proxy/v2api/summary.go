package v2api

import (
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// v2AppSummary answers GET /v2/apps/:guid/summary (MAPPING §7) in two
// rounds: the app, its web process, routes, domains and bindings at once;
// then its bundle, space, instance stats and bound service instances.
func (g *API) v2AppSummary(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var (
		app      translate.V3App
		web      translate.V3Process
		stacks   []ccv3.Stack
		routes   []translate.V3Route
		domains  []translate.V3Domain
		bindings []translate.V3ServiceCredentialBinding
	)
	err := parallel(
		func() (err error) { app, err = g.v3.GetApp(c, guid); return },
		func() (err error) { web, err = g.v3.WebProcess(c, guid); return },
		func() (err error) { stacks, err = g.stacks(c); return },
		func() (err error) { routes, err = g.v3.AppRoutes(c, guid); return },
		func() (err error) { domains, err = g.v3.Domains(c); return },
		func() (err error) { bindings, err = g.v3.AppBindings(c, []string{guid}); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	var (
		bundles  []translate.AppBundle
		space    translate.V3Space
		running  = 0
		services []translate.ServiceSummary
	)
	err = parallel(
		func() (err error) {
			bundles, err = g.readBundles(c, []translate.V3App{app}, stacks, translate.Inline{})
			return
		},
		func() (err error) { space, err = g.v3.GetSpace(c, app.Relationships.Space.GUID()); return },
		func() error {
			if app.State == "STARTED" {
				running = g.runningInstances(c, web)
			}
			return nil
		},
		func() (err error) { services, err = g.serviceSummaries(c, instancesOf(bindings)); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	if len(bundles) == 0 {
		return appNotFound(guid)
	}
	noStoreIfPending(ctx, bundles)
	byGUID := domainIndex(domains)
	// available_domains: the org's private domains, then the shared ones
	// (AppSummariesController: space.organization.private_domains + SharedDomain.all).
	org := space.Relationships.Organization.GUID()
	var available []translate.V3Domain
	for _, owned := range []bool{true, false} {
		for _, d := range domains {
			owner := d.Relationships.Organization.GUID()
			if owned && owner == org || !owned && owner == "" {
				available = append(available, d)
			}
		}
	}
	body, err := translate.AppSummary(bundles[0], translate.AppSummaryInput{Routes: translate.WebRoutes(guid, routes), Domains: byGUID,
		AvailableDomains: available, RunningInstances: running, Services: services})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// runningInstances counts the web process's starting and running
// instances, or -1 when its stats cannot be read, as CC answers when Diego
// cannot be reached.
func (g *API) runningInstances(c ccv3.Call, web translate.V3Process) int {
	stats, err := g.v3.ProcessStats(c, web.GUID)
	if err != nil {
		return -1
	}
	return translate.RunningInstances(stats, web.Instances)
}

func domainIndex(domains []translate.V3Domain) map[string]*translate.V3Domain {
	m := make(map[string]*translate.V3Domain, len(domains))
	for i := range domains {
		m[domains[i].GUID] = &domains[i]
	}
	return m
}

// instancesOf returns the distinct service instances of bindings, in order.
func instancesOf(bindings []translate.V3ServiceCredentialBinding) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, b := range bindings {
		if si := b.Relationships.ServiceInstance.GUID(); !seen[si] {
			seen[si] = true
			out = append(out, si)
		}
	}
	return out
}

// serviceSummaries reads the service instances and how many apps each is
// bound to, in one round.
func (g *API) serviceSummaries(c ccv3.Call, instanceGUIDs []string) ([]translate.ServiceSummary, error) {
	if len(instanceGUIDs) == 0 {
		return nil, nil
	}
	var instances []translate.V3ServiceInstance
	var bindings []translate.V3ServiceCredentialBinding
	err := parallel(
		func() (err error) {
			instances, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{GUIDs: instanceGUIDs})
			return
		},
		func() (err error) { bindings, err = g.v3.InstanceBindings(c, instanceGUIDs); return },
	)
	if err != nil {
		return nil, err
	}
	out := summarize(instances, bindings)
	return out, g.marketplaceOf(c, out)
}

// summarize pairs instances with the number of their app bindings.
func summarize(instances []translate.V3ServiceInstance, bindings []translate.V3ServiceCredentialBinding) []translate.ServiceSummary {
	count := map[string]int{}
	for _, b := range bindings {
		count[b.Relationships.ServiceInstance.GUID()]++
	}
	out := make([]translate.ServiceSummary, len(instances))
	for i, in := range instances {
		out[i] = translate.ServiceSummary{Instance: in, BoundAppCount: count[in.GUID]}
	}
	return out
}

// v2SpaceSummary answers GET /v2/spaces/:guid/summary: the space, its apps
// with their routes, bound service names and running instances, and its
// service instances. Three rounds: the space's apps with the space
// included, its instances; the app bundles and bindings; the stats of
// started apps. A space without apps is read on its own after the first
// round (and answers 404 when it is not there or not visible).
func (g *API) v2SpaceSummary(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	var (
		space     *translate.V3Space
		apps      []translate.V3App
		stacks    []ccv3.Stack
		instances []translate.V3ServiceInstance
	)
	err := parallel(
		func() (err error) { apps, space, err = g.v3.AppsInSpace(c, guid); return },
		func() (err error) { stacks, err = g.stacks(c); return },
		func() (err error) {
			instances, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{SpaceGUIDs: []string{guid}})
			return
		},
	)
	if err == nil && space == nil {
		var sp translate.V3Space
		sp, err = g.v3.GetSpace(c, guid)
		space = &sp
	}
	if err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	appGUIDs := make([]string, len(apps))
	for i, a := range apps {
		appGUIDs[i] = a.GUID
	}
	instanceGUIDs := make([]string, len(instances))
	for i, in := range instances {
		instanceGUIDs[i] = in.GUID
	}
	var (
		bundles      []translate.AppBundle
		appBindings  []translate.V3ServiceCredentialBinding
		instBindings []translate.V3ServiceCredentialBinding
		otherInsts   []translate.V3ServiceInstance
	)
	err = parallel(
		func() (err error) {
			bundles, err = g.readBundles(c, apps, stacks, translate.Inline{})
			return
		},
		func() (err error) { appBindings, err = g.v3.AppBindings(c, appGUIDs); return },
		func() (err error) { instBindings, err = g.v3.InstanceBindings(c, instanceGUIDs); return },
	)
	if err != nil {
		return v2Error(err, "")
	}
	// Names of instances bound here but living in another space (shared).
	names := map[string]string{}
	for _, in := range instances {
		names[in.GUID] = in.Name
	}
	var missing []string
	for _, si := range instancesOf(appBindings) {
		if _, ok := names[si]; !ok {
			missing = append(missing, si)
		}
	}
	noStoreIfPending(ctx, bundles)
	running := make(map[string]int, len(bundles))
	var mu sync.Mutex
	var started []string
	web := map[string]translate.V3Process{}
	for _, b := range bundles {
		if b.App.State == "STARTED" {
			started = append(started, b.App.GUID)
			web[b.App.GUID] = b.Web
		}
	}
	err = parallel(
		func() error {
			return g.v3.PerApp(started, func(app string) error {
				n := g.runningInstances(c, web[app])
				mu.Lock()
				running[app] = n
				mu.Unlock()
				return nil
			})
		},
		func() (err error) {
			if len(missing) > 0 {
				otherInsts, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{GUIDs: missing})
			}
			return
		},
	)
	if err != nil {
		return v2Error(err, "")
	}
	for _, in := range otherInsts {
		names[in.GUID] = in.Name
	}
	bound := map[string][]string{}
	for _, b := range appBindings {
		app := b.Relationships.App.GUID()
		if n, ok := names[b.Relationships.ServiceInstance.GUID()]; ok {
			bound[app] = append(bound[app], n)
		}
	}
	out := make([]translate.SpaceSummaryApp, len(bundles))
	for i, b := range bundles {
		out[i] = translate.SpaceSummaryApp{Bundle: b, Routes: translate.WebRoutes(b.App.GUID, b.Routes), RunningInstances: running[b.App.GUID],
			ServiceNames: bound[b.App.GUID]}
	}
	summaries := summarize(instances, instBindings)
	if err := g.marketplaceOf(c, summaries); err != nil {
		return v2Error(err, "")
	}
	// The routes came with their domains (include=domain): no domain list.
	domains := map[string]*translate.V3Domain{}
	for _, b := range bundles {
		for _, r := range b.Routes {
			if r.Domain != nil {
				domains[r.Domain.GUID] = r.Domain
			}
		}
	}
	body, err := translate.SpaceSummary(*space, out, domains, summaries)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// marketplaceOf names the plan, offering and broker of each managed
// instance summarised: plans, then their offerings with their brokers'
// names, in two rounds. A Cloud Controller without them (404) leaves them unnamed.
func (g *API) marketplaceOf(c ccv3.Call, summaries []translate.ServiceSummary) error {
	var plans []string
	for _, s := range summaries {
		if p := s.Instance.Relationships.ServicePlan.GUID(); p != "" && !slices.Contains(plans, p) {
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil
	}
	planPage, err := g.v3.ListPlans(c, url.Values{"guids": {strings.Join(plans, ",")}, "per_page": {"5000"}})
	if err != nil {
		return notFoundIsNone(err)
	}
	var offerings []string
	byPlan := map[string]*translate.V3ServicePlan{}
	for i, p := range planPage.Resources {
		byPlan[p.GUID] = &planPage.Resources[i]
		if o := p.Relationships.ServiceOffering.GUID(); !slices.Contains(offerings, o) {
			offerings = append(offerings, o)
		}
	}
	offPage, err := g.v3.ListOfferings(c, url.Values{"guids": {strings.Join(offerings, ",")}, "per_page": {"5000"}})
	if err := notFoundIsNone(err); err != nil {
		return err
	}
	byOffering := map[string]*translate.V3ServiceOffering{}
	for i, o := range offPage.Resources {
		byOffering[o.GUID] = &offPage.Resources[i]
	}
	for i := range summaries {
		p := byPlan[summaries[i].Instance.Relationships.ServicePlan.GUID()]
		if p == nil {
			continue
		}
		summaries[i].Plan = p
		if o := byOffering[p.Relationships.ServiceOffering.GUID()]; o != nil {
			summaries[i].Offering, summaries[i].BrokerName = o, o.BrokerName
		}
	}
	return nil
}
