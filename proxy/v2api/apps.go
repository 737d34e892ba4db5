package v2api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// listParams parses a v2 request's list parameters, with the largest
// inline-relations-depth configured (2 in production CC: capi-release
// renderer.max_inline_relations_depth, MAPPING §1.3).
func (g *API) listParams(ctx *fasthttp.RequestCtx) (translate.ListParams, error) {
	return translate.ParseListParams(queryPairs(ctx), g.cfg.MaxInlineRelationsDepth)
}

// objectParams reads the parameters of a single resource's GET.
func (g *API) objectParams(ctx *fasthttp.RequestCtx) (translate.ListParams, error) {
	return translate.ParseObjectParams(queryPairs(ctx), g.cfg.MaxInlineRelationsDepth)
}

// call is who asks, as the v3 client sends it upstream.
func call(ctx *fasthttp.RequestCtx) ccv3.Call {
	id := identityOf(ctx)
	tr, _ := ctx.UserValue(TraceKey).(*ccv3.Trace)
	class := ""
	if id != nil {
		class = auth.Class(id)
	}
	return ccv3.Call{Authorization: string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)),
		RequestID: string(ctx.Request.Header.Peek("X-Vcap-Request-Id")), SeesAll: id != nil && id.SeesAll(), Trace: tr, Class: class}
}

// queryPairs returns the decoded query parameters in order, repeated keys
// kept ("+" is a space, as CC's CGI.parse reads it; MAPPING §3.1).
func queryPairs(ctx *fasthttp.RequestCtx) [][2]string {
	var pairs [][2]string
	for k, v := range ctx.QueryArgs().All() {
		pairs = append(pairs, [2]string{string(k), string(v)})
	}
	return pairs
}

// upstreamNamesBytes bounds the names= filter of one upstream request
// (translate.AppQuery.NamesLocal): a Cloud Controller behind nginx takes a
// request line of up to 8 KiB (large_client_header_buffers' default), and
// the path, the other filters and the paging need room beside it.
const upstreamNamesBytes = 4 << 10

// v2AppList answers GET /v2/apps, and appList GET /v2/spaces/:guid/apps: the v2 list of the newest web process of each v3 app,
// in at most three sequential upstream rounds (stacks and the space, apps,
// then everything per app at once under the fan-out bound).
func (g *API) v2AppList(ctx *fasthttp.RequestCtx) error {
	return g.appList(ctx, appScope{path: "/v2/apps"})
}

// v2SpaceApps answers GET /v2/spaces/:guid/apps.
func (g *API) v2SpaceApps(ctx *fasthttp.RequestCtx) error {
	space := pathParam(ctx, 1)
	return g.appList(ctx, appScope{path: "/v2/spaces/" + space + "/apps", space: space})
}

// appScope is what an app list lists: all the user sees, one space's
// apps, or the apps of guids (when not nil), under path.
type appScope struct {
	path, space string
	guids       []string
}

// appList answers the app lists.
func (g *API) appList(ctx *fasthttp.RequestCtx, scope appScope) error {
	spaceGUID := scope.space
	lp, err := g.listParams(ctx)
	if err != nil {
		return err
	}
	// AppsController allows no order-by at all (MAPPING §3.1).
	if err := translate.CheckOrderBy(lp); err != nil {
		return err
	}
	filters, err := translate.ParseQ(lp.Q, translate.AppQueryKeys())
	if err != nil {
		return err
	}
	path := scope.path
	if spaceGUID != "" {
		// The nested list is the list filtered to the space; its URLs keep
		// the nested path (cc:app/controllers/base/model_controller.rb#enumerate_related).
		filters = append(filters, translate.Filter{Key: "space_guid", Op: translate.OpEq, Values: []string{spaceGUID}})
	}
	aq := translate.AppQueryFromFilters(filters)
	aq.NamesLocal(upstreamNamesBytes)
	c := call(ctx)
	q := ccv3.AppsQuery{Names: aq.Names, SpaceGUIDs: aq.SpaceGUIDs, OrgGUIDs: aq.OrgGUIDs, GUIDs: scope.guids}
	if scope.guids != nil && len(scope.guids) == 0 {
		aq.Empty = true
	}
	if lp.OrderDirection == "desc" {
		q.OrderBy = "-created_at" // v2's default order is by id; v3 breaks created_at ties by guid
	}
	var (
		stacks []ccv3.Stack
		apps   []translate.V3App
		total  int
	)
	listApps := func() (err error) {
		if aq.Empty {
			return nil
		}
		apps, total, err = scanPage(lp, aq.Scan(), g.cfg.MaxLocalScan, "apps", "space_guid or name",
			func(page, perPage int) (ccv3.Page[translate.V3App], error) {
				q.Page, q.PerPage = page, perPage
				return g.v3.ListApps(c, q)
			},
			func(a translate.V3App) bool { return aq.Match(a.Name) })
		return err
	}
	// The stacks, the space and the apps are one round; only a stack_guid
	// filter, which v3 takes as stack names, makes the apps wait for the
	// stacks.
	round := []func() error{func() (err error) { stacks, err = g.stacks(c); return }}
	var spaceErr error
	if spaceGUID != "" {
		round = append(round, func() error { _, spaceErr = g.v3.GetSpace(c, spaceGUID); return nil })
	}
	if aq.StackGUIDs == nil {
		round = append(round, listApps)
	}
	err = parallel(round...)
	if spaceErr != nil {
		var e *ccv3.Error
		if errors.As(spaceErr, &e) && e.Status == 404 {
			return &cferr.Error{Status: 404, Code: 40004, Name: "SpaceNotFound", Description: "The app space could not be found: " + spaceGUID}
		}
		return v2Error(spaceErr, "")
	}
	if err == nil && aq.StackGUIDs != nil {
		if q.Stacks = stackNames(stacks, aq.StackGUIDs); len(q.Stacks) == 0 {
			aq.Empty = true // no such stack: nothing matches (MAPPING §3.3)
		}
		err = listApps()
	}
	if err != nil {
		return v2Error(err, "")
	}
	in := lp.Inline()
	if lp.Orphans() {
		in.Orphans = translate.NewOrphans()
	}
	bundles, err := g.readBundles(c, apps, stacks, in)
	if err != nil {
		return v2Error(err, "")
	}
	noStoreIfPending(ctx, bundles)
	page := translate.Paginate(lp, path, total)
	var b bytes.Buffer
	b.WriteString(`{"total_results":`)
	b.WriteString(strconv.Itoa(page.TotalResults))
	b.WriteString(`,"total_pages":`)
	b.WriteString(strconv.Itoa(page.TotalPages))
	b.WriteString(`,"prev_url":`)
	writeJSONString(&b, page.PrevURL)
	b.WriteString(`,"next_url":`)
	writeJSONString(&b, page.NextURL)
	b.WriteString(`,"resources":[`)
	for i, bundle := range bundles {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := translate.AppendAppResource(&b, bundle); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	if in.Orphans != nil {
		b.WriteString(`,"orphans":`)
		in.Orphans.AppendJSON(&b)
	}
	b.WriteByte('}')
	writeV2(ctx, fasthttp.StatusOK, b.Bytes())
	return nil
}

// v2App answers GET /v2/apps/:guid.
func (g *API) v2App(ctx *fasthttp.RequestCtx) error {
	lp, err := g.objectParams(ctx)
	if err != nil {
		return err
	}
	b, err := g.oneApp(call(ctx), pathParam(ctx, 1), lp.Inline())
	if err != nil {
		return err
	}
	noStoreIfPending(ctx, []translate.AppBundle{b})
	body, err := translate.AppResource(b)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// readBundles is appBundles for the v2 reads: a pending v2 start whose
// build has staged is finished on the way (MAPPING §2.4), so that every
// read through any gateway moves it on.
func (g *API) readBundles(c ccv3.Call, apps []translate.V3App, stacks []ccv3.Stack, in translate.Inline) ([]translate.AppBundle, error) {
	bundles, err := g.appBundles(c, apps, stacks, in)
	if err != nil {
		return nil, err
	}
	return g.finishPendingStarts(c, bundles), nil
}

// appBundles gathers what v3 says about each app in one round: the batch
// lists (web processes, latest packages, builds and droplets, routes) and
// the per-app GETs v3 offers no batch for (current droplet, environment
// variables, ssh, and the web process's command, which lists redact;
// MAPPING §1.2), all at once under the fan-out bound. Apps without a web
// process are left out.
func (g *API) appBundles(c ccv3.Call, apps []translate.V3App, stacks []ccv3.Stack, in translate.Inline) ([]translate.AppBundle, error) {
	if len(apps) == 0 {
		return nil, nil
	}
	var x *inlines
	guids := make([]string, len(apps))
	for i, a := range apps {
		guids[i] = a.GUID
	}
	var (
		web      map[string]translate.V3Process
		pkgs     map[string]translate.V3Package
		builds   map[string]translate.V3Build
		droplets map[string]translate.V3Droplet
		routes   []translate.V3Route
		mu       sync.Mutex
		current  = map[string]*translate.V3Droplet{}
		env      = map[string]map[string]json.RawMessage{}
		redacted = map[string]bool{}
		ssh      = map[string]bool{}
		// gone are the apps deleted between the list and their own GETs
		// (404): a v2 list leaves them out, as it would have listed the
		// page a moment later, instead of failing whole.
		gone = map[string]bool{}
	)
	vanished := func(guid string, err error) error {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
			mu.Lock()
			gone[guid] = true
			mu.Unlock()
			return nil
		}
		return err
	}
	batch := []func() error{
		func() (err error) {
			if len(apps) > 1 {
				web, err = g.v3.WebProcesses(c, guids)
				return
			}
			// One app: its own GET shows the command, which lists hide
			// ([PRIVATE DATA HIDDEN IN LISTS]); a 404 is no web process.
			p, err := g.v3.WebProcess(c, guids[0])
			var e *ccv3.Error
			if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
				return nil
			}
			web = map[string]translate.V3Process{guids[0]: p}
			return err
		},
		func() (err error) { pkgs, err = g.v3.LatestPackages(c, guids); return },
		func() (err error) { builds, err = g.v3.LatestBuilds(c, guids); return },
		func() (err error) { droplets, err = g.v3.LatestDroplets(c, guids); return },
		func() (err error) { routes, err = g.v3.Routes(c, guids); return },
		func() (err error) { x, err = g.fetchInlines(c, apps, in); return },
	}
	// The parts owned by the app itself (environment variables, ssh) go
	// with the batch lists: the app list's updated_at stamps them.
	perApp := make([]func() error, 0, 2*len(apps))
	for _, a := range apps {
		perApp = append(perApp,
			func() error {
				e, err := g.appEnv(c, a)
				mu.Lock()
				env[a.GUID], redacted[a.GUID] = e.Var, e.Redacted
				mu.Unlock()
				return vanished(a.GUID, err)
			},
			func() error {
				on, err := g.appSSH(c, a)
				mu.Lock()
				ssh[a.GUID] = on
				mu.Unlock()
				return vanished(a.GUID, err)
			})
	}
	batch = append(batch, func() error { return g.v3.Fan(perApp) })
	if err := parallel(batch...); err != nil {
		return nil, err
	}
	// The parts stamped by what the batch lists say (the web process's
	// command, the current droplet) follow them.
	perApp = perApp[:0]
	latest := func(guid string) *translate.V3Droplet {
		if d, ok := droplets[guid]; ok {
			return &d
		}
		return nil
	}
	for _, a := range apps {
		w, ok := web[a.GUID]
		if !ok {
			continue
		}
		if len(apps) > 1 {
			// Lists redact the command: the process's own GET shows it.
			perApp = append(perApp, func() error {
				cmd, err := g.webCommand(c, a, w)
				if errors.Is(err, errGone) {
					mu.Lock()
					gone[a.GUID] = true
					mu.Unlock()
					return nil
				}
				mu.Lock()
				w.Command = cmd
				web[a.GUID] = w
				mu.Unlock()
				return err
			})
		}
		if a.Relationships.CurrentDroplet.GUID() != "" {
			// Only an app with a current droplet needs its single GET (lists
			// redact process_types); the others have none to read.
			perApp = append(perApp, func() error {
				d, err := g.appCurrentDroplet(c, a, latest(a.GUID))
				mu.Lock()
				current[a.GUID] = d
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.v3.Fan(perApp); err != nil {
		return nil, err
	}
	defaultStack := ""
	stackGUID := map[string]string{}
	for _, s := range stacks {
		stackGUID[s.Name] = s.GUID
		if s.Default {
			defaultStack = s.GUID
		}
	}
	out := make([]translate.AppBundle, 0, len(apps))
	for _, a := range apps {
		w, ok := web[a.GUID]
		if !ok || gone[a.GUID] {
			continue
		}
		b := translate.AppBundle{App: a, Web: w, CurrentDroplet: current[a.GUID], EnvRedacted: redacted[a.GUID], SSHEnabled: ssh[a.GUID]}
		if p, ok := pkgs[a.GUID]; ok {
			b.LatestPackage = &p
		}
		if bl, ok := builds[a.GUID]; ok {
			b.LatestBuild = &bl
		}
		if d, ok := droplets[a.GUID]; ok {
			b.LatestDroplet = &d
		}
		b.Env = env[a.GUID]
		// stack_guid: the buildpack lifecycle's stack, else the default
		// stack (docker, or a name no stack has; MAPPING §1.2).
		b.StackGUID = defaultStack
		if a.Lifecycle.Type != "docker" {
			if guid, ok := stackGUID[a.Lifecycle.Data.Stack]; ok {
				b.StackGUID = guid
			}
		}
		for _, r := range routes {
			for _, d := range r.Destinations {
				if d.App.GUID == a.GUID {
					b.Routes = append(b.Routes, r)
					break
				}
			}
		}
		b.Inline, b.Inlined = in, x.of(&b)
		out = append(out, b)
	}
	return out, nil
}

// stackNames maps stack guids to the names v3 filters on.
func stackNames(stacks []ccv3.Stack, guids []string) []string {
	var out []string
	for _, s := range stacks {
		for _, g := range guids {
			if s.GUID == g {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

func writeJSONString(b *bytes.Buffer, s *string) {
	if s == nil {
		b.WriteString("null")
		return
	}
	b.WriteByte('"')
	b.WriteString(*s) // v2 list URLs are percent-encoded: nothing to escape
	b.WriteByte('"')
}

// writeV2 answers a v2 body with CC's v2 content type.
func writeV2(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.Header.SetContentType("application/json;charset=utf-8") // v2 (Sinatra) spelling
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}

func appNotFound(guid string) *cferr.Error {
	return &cferr.Error{Status: 404, Code: 100004, Name: "AppNotFound", Description: "The app could not be found: " + guid}
}

// v2Error maps an upstream failure to v2 (MAPPING §5.2): a v3 404 is
// AppNotFound for the app asked for, 401s and 403s keep their meaning,
// v3 query errors stay BadQueryParameter, anything else is UnknownError.
func v2Error(err error, guid string) error {
	var e *ccv3.Error
	if !errors.As(err, &e) {
		return err // a gateway or transport error already in CC's terms
	}
	switch {
	case e.Status == 404:
		return appNotFound(guid)
	case e.Title() == "CF-InvalidAuthToken":
		return cferr.InvalidAuthToken(err)
	case e.Status == 401:
		return cferr.NotAuthenticated()
	case e.Status == 403:
		return &cferr.Error{Status: 403, Code: 10003, Name: "NotAuthorized", Description: "You are not authorized to perform the requested action", Cause: err}
	case e.Title() == "CF-BadQueryParameter":
		return &cferr.Error{Status: 400, Code: 10005, Name: "BadQueryParameter", Description: e.Errors[0].Detail, Cause: err}
	}
	return cferr.Unknown(err)
}
