package proxy

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/cache"
	"capibridge/configs"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/proxy/v2api"
)

// Topics of the list-page cache: the generations a cached page depends
// on, bumped by every write through any gateway instance.
const (
	topicApps   = "apps"
	topicSpaces = "spaces"
	topicOrgs   = "orgs"
	topicStacks = "stacks"
	// topicRoutes: routes, route mappings and domains.
	topicRoutes = "routes"
)

// cachedRoutes are the v2 reads the gateway caches, with the topics each
// page depends on. An app page inlines its space, org and stack, so it
// depends on all four; summaries show routes and services, which any
// write under apps or spaces may change.
var cachedRoutes = map[string][]string{
	"/v2/apps":                       {topicApps, topicSpaces, topicOrgs, topicStacks},
	"/v2/apps/:guid":                 {topicApps, topicSpaces, topicOrgs, topicStacks},
	"/v2/spaces/:guid/apps":          {topicApps, topicSpaces, topicOrgs, topicStacks},
	"/v2/apps/:guid/summary":         {topicApps, topicSpaces},
	"/v2/spaces/:guid/summary":       {topicApps, topicSpaces},
	"/v2/organizations":              {topicOrgs},
	"/v2/organizations/:guid/spaces": {topicSpaces, topicOrgs},
	"/v2/spaces":                     {topicSpaces, topicOrgs},
	"/v2/stacks":                     {topicStacks},
	// A route page inlines its domain, space and apps at depth 1, which
	// the legacy cf CLI always asks for.
	"/v2/routes":                              {topicRoutes, topicApps, topicSpaces, topicOrgs, topicStacks},
	"/v2/spaces/:guid/routes":                 {topicRoutes, topicApps, topicSpaces, topicOrgs, topicStacks},
	"/v2/shared_domains":                      {topicRoutes},
	"/v2/private_domains":                     {topicRoutes, topicOrgs},
	"/v2/organizations/:guid/private_domains": {topicRoutes, topicOrgs},
}

// writeTopics says what a write to a collection invalidates. Collections
// not named here (apps, processes, packages, builds, droplets, routes,
// service bindings and instances, domains, ...) change what app pages,
// summaries and route pages show.
func writeTopics(collection []byte) []string {
	switch string(collection) {
	case "organizations", "roles", "users", "organization_quotas", "space_quotas", "isolation_segments", "feature_flags":
		// Who sees which org, and what orgs and spaces show.
		return []string{topicOrgs, topicSpaces, topicApps, topicStacks, topicRoutes}
	case "spaces":
		return []string{topicSpaces, topicApps, topicRoutes}
	case "stacks":
		return []string{topicStacks, topicApps, topicRoutes}
	}
	return []string{topicApps, topicSpaces, topicRoutes}
}

// cachePolicies builds the policy of each cached route from the config:
// cache.ttl for every route, unless cache.routes overrides it (0 turns a
// route off).
func cachePolicies(r *router, cfg configs.Cache) map[*Route]cache.Policy {
	ttl := map[string]time.Duration{}
	for tmpl := range cachedRoutes {
		ttl[tmpl] = cfg.TTL
	}
	for _, e := range cfg.Routes {
		if tmpl, d, err := configs.ParseRouteTTL(e); err == nil {
			ttl[tmpl] = d
		}
	}
	out := map[*Route]cache.Policy{}
	for _, routes := range r.translated {
		for _, rt := range routes {
			topics, ok := cachedRoutes[rt.Template]
			if ok && ttl[rt.Template] > 0 {
				out[rt] = cache.Policy{TTL: ttl[rt.Template], StaleIfError: cfg.StaleIfError, Topics: topics}
			}
		}
	}
	return out
}

// cached serves the cacheable v2 reads from the list-page cache and
// invalidates it after every write (DESIGN, "Cache correctness before
// speed"): the write's answer leaves only once its generations are bumped,
// so no instance serves an older page to a client that saw the answer.
func (g *Gateway) cached(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		rt := routeOf(ctx)
		if !ctx.IsGet() && !ctx.IsHead() {
			next(ctx)
			g.invalidateAfter(ctx, rt)
			return
		}
		pol, ok := g.cachePolicy[rt]
		if !ok {
			next(ctx)
			return
		}
		key := cache.Key{Route: rt.Template, Path: string(ctx.Path()), Query: string(ctx.URI().QueryString()), Who: auth.Class(identityOf(ctx))}
		// Cache-Control: no-cache asks for a fresh answer, which then
		// refreshes the entry (RFC 9111 §5.2.1.4). Concurrent ones share a
		// fill that started after they arrived.
		bypass := bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderCacheControl), []byte("no-cache"))
		// The fill runs the handler on this request. The cache runs at
		// most one fill per key at a time, with the function of a caller
		// that waits for it, and Get returns only when that fill is done
		// (the context never ends first), so ctx outlives it.
		fill := func(context.Context) (cache.Entry, error) {
			next(ctx)
			noStore, _ := ctx.UserValue(v2api.NoStoreKey).(bool)
			return cache.Entry{Status: ctx.Response.StatusCode(), ContentType: string(ctx.Response.Header.ContentType()),
				Body: append([]byte(nil), ctx.Response.Body()...), NoStore: noStore}, nil
		}
		e, o, err := g.cache.Get(context.Background(), key, pol, bypass, fill)
		if err != nil {
			// A fill that panicked: the cache turned it into this error.
			g.log.Error("serving a cached route failed", "route", rt.Template, "err", err)
			writeError(ctx, cferr.Unknown(err), rt.v2)
			return
		}
		ctx.Response.Header.SetContentType(e.ContentType)
		ctx.SetStatusCode(e.Status)
		// The cache never changes a body it handed out, so the response
		// can point at it instead of copying 50 apps' worth per hit.
		if err := setBody(ctx, e); err != nil {
			g.log.Error("serving a cached route failed", "route", rt.Template, "err", err)
			writeError(ctx, cferr.Unknown(err), rt.v2)
			return
		}
		ctx.Response.Header.Set("Cache-Status", o.CacheStatus())
		if o.Tier != "" || o.Fwd == "stale" {
			ctx.Response.Header.Set(fasthttp.HeaderAge, strconv.Itoa(int(time.Since(e.Stored).Seconds())))
		}
	}
}

// invalidateAfter bumps the generations a write touched once it has been
// answered upstream, before the client has the answer.
func (g *Gateway) invalidateAfter(ctx *fasthttp.RequestCtx, rt *Route) {
	if ctx.IsOptions() {
		return
	}
	switch rt.kind {
	case kindV3, kindV2, kindV2Forward:
	default:
		return
	}
	// A write refused at the door changed nothing. Any other answer may
	// follow a change, also a 4xx: a v2 write that failed half-way and
	// could not be fully undone says so with an error.
	if s := ctx.Response.StatusCode(); s == fasthttp.StatusUnauthorized || s == fasthttp.StatusForbidden {
		return
	}
	collection := collectionOf(ctx.Path())
	g.invalidate(collection)
	g.dropFragments(ctx.Path())
	// An accepted write (202 and a v3 job: an app or route delete) takes
	// effect when its job finishes: invalidate again then.
	if loc := ctx.Response.Header.Peek(fasthttp.HeaderLocation); ctx.Response.StatusCode() == fasthttp.StatusAccepted &&
		bytes.Contains(loc, []byte("/v3/jobs/")) {
		job := string(loc[bytes.LastIndexByte(loc, '/')+1:])
		go g.invalidateWhenDone(v2api.CallOf(ctx), job, append([]byte(nil), collection...))
	}
}

// jobWatch bounds how long the gateway follows a job to invalidate after
// it; past it the cache TTL bounds staleness.
const jobWatch = 2 * time.Minute

// invalidateWhenDone polls a v3 job with the writer's token until it is
// done, then invalidates what the write touched.
func (g *Gateway) invalidateWhenDone(c ccv3.Call, job string, collection []byte) {
	_, err := v2api.Poll(time.Now().Add(jobWatch), time.Second, func() (bool, error) {
		j, err := g.v3.Job(c, job)
		return err == nil && (j == nil || j.State == "COMPLETE" || j.State == "FAILED"), err
	})
	if err != nil {
		g.log.Warn("following a job to invalidate the cache", "job", job, "err", err)
	}
	// Done, failed or past the watch: invalidate anyway, at worst once
	// more than needed.
	g.invalidate(collection)
}

// invalidate bumps the topics a write to collection touches. The cache
// never fails a request: when Redis does not take the bump, Invalidate
// waits a moment for it (cache.Config.InvalidateWait), and past that the
// bump lands when Redis comes back; until then other instances may serve
// pages older than this write, which the log says.
func (g *Gateway) invalidate(collection []byte) {
	if g.cache == nil {
		return
	}
	if err := g.cache.Invalidate(context.Background(), writeTopics(collection)...); err != nil {
		g.log.Warn("cache invalidation deferred: until Redis takes it, other instances may serve pages older than this write", "err", err)
	}
}

// collectionOf returns the collection of a /v2 or /v3 path.
func collectionOf(path []byte) []byte {
	if len(path) < 4 {
		return nil
	}
	return firstSegment(path[4:])
}

// dropFragments forgets the fragments of the app a write names in its
// path (/v2/apps/:guid/..., /v3/apps/:guid/...). Their stamps already
// keep changed parts from being served; this frees them at once.
func (g *Gateway) dropFragments(path []byte) {
	if g.cache == nil || len(path) < 4 || !bytes.Equal(firstSegment(path[4:]), []byte("apps")) {
		return
	}
	if len(path) <= len("/v2/apps/") {
		return
	}
	guid := firstSegment(path[len("/v2/apps/"):])
	if len(guid) == 0 {
		return
	}
	if err := g.cache.Fragments().Drop(context.Background(), string(guid)); err != nil {
		g.log.Info("dropping an app's fragments failed; their stamps keep them from being served", "err", err)
	}
}

// shared keeps a v3 answer every reader sees alike (v2api's Hooks.Shared)
// in the list-page cache under its route, as pages are kept.
func (g *Gateway) shared(route string, topics []string, fill func() ([]byte, error)) ([]byte, error) {
	key := cache.Key{Route: route, Path: route, Who: "all"}
	pol := cache.Policy{TTL: g.cfg.Cache.TTL, StaleIfError: g.cfg.Cache.StaleIfError, Topics: topics}
	e, _, err := g.cache.Get(context.Background(), key, pol, false, func(context.Context) (cache.Entry, error) {
		b, err := fill()
		if err != nil {
			return cache.Entry{}, err
		}
		return cache.Entry{Status: fasthttp.StatusOK, ContentType: "application/json", Body: b}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.Identity()
}
