package v2api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// orgUsageRoutes are an org's summary and usage (MAPPING-orgs §11.2.5).
func orgUsageRoutes() []Route {
	return []Route{
		{Template: "/v2/organizations/:guid/summary", Get: (*API).v2OrgSummary},
		{Template: "/v2/organizations/:guid/memory_usage", Get: usageOf("memory_usage_in_mb").handler},
		{Template: "/v2/organizations/:guid/instance_usage", Get: usageOf("instance_usage").handler},
	}
}

// usageOf answers one figure of the org's v3 usage summary under its v2
// key: memory_usage_in_mb (Organization#memory_used, the same function v3
// reports) or instance_usage (started instances).
type usageOf string

func (key usageOf) handler(g *API, ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	u, err := g.v3.OrgUsageSummary(c, guid)
	if err != nil {
		return v2ErrorAs(err, orgNotFound(guid))
	}
	v := u.MemoryInMB
	if key == "instance_usage" {
		v = u.StartedInstances
	}
	body, err := json.Marshal(map[string]int64{string(key): v})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2OrgSummary is GET /v2/organizations/:guid/summary over the spaces the
// caller sees: each space's service instances, apps, and the memory of
// its started apps' web processes, all counted as development
// (mem_prod_total 0: v3 has no production flag).
func (g *API) v2OrgSummary(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	org, err := orgsRead.one(g, c, guid)
	if err != nil {
		return err
	}
	var spaces []translate.V3Space
	for page := 1; ; page++ {
		p, err := g.v3.ListSpaces(c, ccv3.ListQuery{OrgGUIDs: []string{guid}, Page: page, PerPage: 5000, OrderBy: "name"})
		if err != nil {
			return v2Error(err, "")
		}
		spaces = append(spaces, p.Resources...)
		if page >= p.Pagination.TotalPages {
			break
		}
	}
	out := make([]translate.OrgSummarySpace, len(spaces))
	index := map[string]int{}
	spaceGUIDs := make([]string, len(spaces))
	for i, sp := range spaces {
		out[i] = translate.OrgSummarySpace{GUID: sp.GUID, Name: sp.Name}
		index[sp.GUID], spaceGUIDs[i] = i, sp.GUID
	}
	if len(spaces) > 0 {
		if err := g.countSpaces(c, spaceGUIDs, index, out); err != nil {
			return v2Error(err, "")
		}
	}
	body, err := translate.OrgSummary(org, out)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// countSpaces fills the app, memory and service counts of the spaces.
func (g *API) countSpaces(c ccv3.Call, spaceGUIDs []string, index map[string]int, out []translate.OrgSummarySpace) error {
	var apps []translate.V3App
	var instances []translate.V3ServiceInstance
	err := parallel(
		func() error {
			for page := 1; ; page++ {
				p, err := g.v3.ListApps(c, ccv3.AppsQuery{SpaceGUIDs: spaceGUIDs, Page: page, PerPage: 5000})
				if err != nil {
					return err
				}
				apps = append(apps, p.Resources...)
				if page >= p.Pagination.TotalPages {
					return nil
				}
			}
		},
		func() (err error) {
			instances, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{SpaceGUIDs: spaceGUIDs})
			return err
		})
	if err != nil {
		return err
	}
	var started []string
	for _, a := range apps {
		if i, ok := index[a.Relationships.Space.GUID()]; ok {
			out[i].AppCount++
			if a.State == "STARTED" {
				started = append(started, a.GUID)
			}
		}
	}
	web, err := g.v3.WebProcesses(c, started)
	if err != nil {
		return err
	}
	for _, a := range apps {
		if p, ok := web[a.GUID]; ok {
			out[index[a.Relationships.Space.GUID()]].MemDevTotal += int64(p.Instances) * p.MemoryInMB
		}
	}
	// Instances shared into a space count only in their own.
	for _, si := range instances {
		if i, ok := index[si.Relationships.Space.GUID()]; ok {
			out[i].ServiceCount++
		}
	}
	return nil
}
