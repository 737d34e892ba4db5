package backend

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// manifestWork is one app of an apply_manifest job and its part of the
// manifest.
type manifestWork struct {
	appGUID string
	m       appManifest
}

// applyManifestWork is SpaceApplyManifestActionJob#perform: each app's part
// in turn; the first failure fails the job with its error, prefixed with
// the app's name.
func (s *Server) applyManifestWork(_ context.Context, user *principal, base string, work []manifestWork) error {
	// The job reuses the handlers' helpers, which take a request: this one
	// is the job's own, never served, and reads as context.Background.
	r := &request{ctx: requestCtx{new(fasthttp.RequestCtx)}, user: user, base: base}
	for _, w := range work {
		if err := s.applyAppManifest(r, w); err != nil {
			return prefixApp(w.m.name, err)
		}
	}
	return nil
}

// manifestTriggered is the audit metadata of a change a manifest made
// (AppEventRepository#add_manifest_triggered).
func manifestTriggered(data map[string]any) map[string]any {
	data["manifest_triggered"] = true
	return data
}

// applyAppManifest is AppApplyManifest#apply for one app.
func (s *Server) applyAppManifest(r *request, w manifestWork) error {
	all := store.Viewer{All: true}
	a, err := s.store.GetApp(r.ctx, all, w.appGUID)
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{Status: 404, Code: 10010, Title: "CF-ResourceNotFound", Detail: "App with guid '" + w.appGUID + "' not found"}
	}
	if err != nil {
		return errInternal(err)
	}
	sp, err := s.store.GetSpace(r.ctx, all, a.SpaceGUID)
	if err != nil {
		return errInternal(err)
	}
	m := w.m
	// Process updates, creating the process types the app lacks; the
	// trivial web entry (its type alone) changes nothing.
	for _, mp := range m.processes {
		if mp.typ == "web" && !mp.update {
			continue
		}
		p, err := s.store.GetAppProcess(r.ctx, a.GUID, mp.typ)
		if errors.Is(err, store.ErrNotFound) {
			p, err = s.createManifestProcess(r, a, sp, mp)
		}
		if err != nil {
			return errInternal(err)
		}
		if mp.update {
			if err := s.updateManifestProcess(r, a, sp, p, mp); err != nil {
				return err
			}
		}
	}
	for _, mp := range m.processes {
		if mp.scale {
			if err := s.scaleManifestProcess(r, a, sp, mp); err != nil {
				return err
			}
		}
	}
	if a, err = s.updateManifestApp(r, a, sp, m); err != nil {
		return err
	}
	if err := s.updateManifestRoutes(r, a, sp, m); err != nil {
		return err
	}
	if err := s.patchManifestEnv(r, a, sp, m); err != nil {
		return err
	}
	for _, ms := range m.services {
		if err := s.bindManifestService(r, a, sp, ms); err != nil {
			return err
		}
	}
	return nil
}

// createManifestProcess is ProcessCreate of a type the app lacks, with
// ProcessModel's defaults for a process other than web.
func (s *Server) createManifestProcess(r *request, a store.App, sp store.Space, mp manifestProcess) (store.Process, error) {
	now := s.store.Now()
	p := store.Process{GUID: uuid.NewString(), AppGUID: a.GUID, SpaceGUID: sp.GUID, Type: mp.typ, Command: mp.command,
		MemoryMB: s.cfg.DefaultMemoryMB, DiskMB: s.cfg.DefaultDiskMB, LogRateLimit: s.cfg.DefaultLogRateLimit,
		HealthCheckType: "process", Version: uuid.NewString(), CreatedAt: now, UpdatedAt: now}
	if mp.typ == "web" {
		p.Instances, p.HealthCheckType = 1, "port"
	}
	ev := s.appEvent(r, "audit.app.process.create", a, sp,
		manifestTriggered(map[string]any{"process_guid": p.GUID, "process_type": p.Type}))
	return p, s.store.CreateProcess(r.ctx, p, ev)
}

// updateManifestProcess is ProcessUpdate with the ManifestStrategy.
func (s *Server) updateManifestProcess(r *request, a store.App, sp store.Space, p store.Process, mp manifestProcess) error {
	req := map[string]any{}
	if mp.setCommand {
		p.Command = mp.command
		req["command"] = hidden
	}
	hc, data := map[string]any{}, map[string]any{}
	if mp.setHCType {
		if *mp.hcType != "http" {
			p.HealthCheckEndpoint = nil
		}
		p.HealthCheckType = *mp.hcType
		hc["type"] = *mp.hcType
	}
	if mp.setEndpoint {
		p.HealthCheckEndpoint = mp.hcEndpoint
		data["endpoint"] = mp.hcEndpoint
	}
	if mp.setTimer {
		p.HealthCheckTimeout = mp.timeout
		data["timeout"] = mp.timeout
	}
	if mp.setInvocation {
		p.HealthCheckInvocationTimeout = mp.invocation
		data["invocation_timeout"] = mp.invocation
	}
	if len(data) > 0 {
		hc["data"] = data
	}
	if len(hc) > 0 {
		req["health_check"] = hc
	}
	if p.HealthCheckType != "http" && p.HealthCheckEndpoint != nil {
		return errUnprocessable(`Health check type must be "http" to set a health check HTTP endpoint`)
	}
	p.UpdatedAt = s.store.Now()
	if a.State == "STARTED" {
		p.Version = uuid.NewString()
	}
	ev := s.appEvent(r, "audit.app.process.update", a, sp,
		manifestTriggered(map[string]any{"process_guid": p.GUID, "process_type": p.Type, "request": req}))
	if err := s.store.UpdateProcess(r.ctx, p, ev); err != nil {
		return storeErr(err, "Process")
	}
	return errInternalOrNil(s.placeProcess(r.ctx, a, p))
}

// scaleManifestProcess is ProcessScale. A manifest's memory does not give
// the process a new version (skip_process_version_update).
func (s *Server) scaleManifestProcess(r *request, a store.App, sp store.Space, mp manifestProcess) error {
	was, err := s.store.GetAppProcess(r.ctx, a.GUID, mp.typ)
	if err != nil {
		return storeErr(err, "Process")
	}
	p := was
	req := map[string]int64{}
	for _, f := range []struct {
		key string
		val *int64
		dst *int64
	}{
		{"instances", mp.instances, &p.Instances},
		{"memory_in_mb", mp.memory, &p.MemoryMB},
		{"disk_in_mb", mp.disk, &p.DiskMB},
		{"log_rate_limit_in_bytes_per_second", mp.logRateLimit, &p.LogRateLimit},
	} {
		if f.val != nil {
			*f.dst, req[f.key] = *f.val, *f.val
		}
	}
	pa := processAccess{proc: was, appAccess: appAccess{app: a, space: sp}}
	if err := s.scaleQuotaErr(r.ctx, pa, p); err != nil {
		return err
	}
	if a.State == "STARTED" && mp.disk != nil {
		p.Version = uuid.NewString()
	}
	p.UpdatedAt = s.store.Now()
	ev := s.appEvent(r, "audit.app.process.scale", a, sp,
		manifestTriggered(map[string]any{"process_guid": p.GUID, "process_type": p.Type, "request": req}))
	if err := s.store.UpdateProcess(r.ctx, p, ev); err != nil {
		return storeErr(err, "Process")
	}
	return errInternalOrNil(s.placeProcess(r.ctx, a, p))
}

func errInternalOrNil(err error) error {
	if err != nil {
		return errInternal(err)
	}
	return nil
}

// updateManifestApp is AppUpdate with the manifest's lifecycle (buildpacks,
// stack) and metadata; CC records the update whatever it changes.
func (s *Server) updateManifestApp(r *request, a store.App, sp store.Space, m appManifest) (store.App, error) {
	req := map[string]any{}
	if a.LifecycleType == "buildpack" && (m.setBuildpacks || m.stack != nil) {
		data := map[string]any{}
		if m.setBuildpacks {
			a.Buildpacks = append([]string{}, m.buildpacks...)
			data["buildpacks"] = a.Buildpacks
		}
		if m.stack != nil {
			st, err := s.resolveStack(r, m.stack)
			if err != nil {
				return a, err
			}
			a.Stack, data["stack"] = st, *m.stack
		}
		req["lifecycle"] = map[string]any{"data": data}
	}
	if m.md != nil {
		a.Labels, a.Annotations = apply(a.Labels, m.md.labels), apply(a.Annotations, m.md.annotations)
		req["metadata"] = m.mdRequest
	}
	a.UpdatedAt = s.store.Now()
	ev := s.appEvent(r, "audit.app.update", a, sp, manifestTriggered(map[string]any{"request": req}))
	if err := s.store.UpdateApp(r.ctx, a, ev); err != nil {
		return a, storeErr(err, "App")
	}
	return a, nil
}

// patchManifestEnv is AppPatchEnvironmentVariables: the manifest's
// variables are added or replace those of the same name.
func (s *Server) patchManifestEnv(r *request, a store.App, sp store.Space, m appManifest) error {
	if !m.setEnv {
		return nil
	}
	merged := make(map[string]json.RawMessage, len(a.Env)+len(m.env))
	for k, v := range a.Env {
		merged[k] = v
	}
	for k, v := range m.env {
		merged[k], _ = marshalRaw(v)
	}
	a.Env, a.UpdatedAt = merged, s.store.Now()
	ev := s.appEvent(r, "audit.app.update", a, sp,
		manifestTriggered(map[string]any{"request": map[string]string{"environment_variables": hidden}}))
	return storeErrOrNil(s.store.UpdateApp(r.ctx, a, ev), "App")
}

func storeErrOrNil(err error, what string) error {
	if err != nil {
		return storeErr(err, what)
	}
	return nil
}

// updateManifestRoutes is AppApplyManifest#update_routes: no-route unmaps
// every route; routes maps the listed ones (adding to those the app has,
// as ManifestRouteUpdate does); else random-route or default-route give
// an app without routes one.
func (s *Server) updateManifestRoutes(r *request, a store.App, sp store.Space, m appManifest) error {
	existing, err := s.appDestinations(r, a.GUID)
	if err != nil {
		return err
	}
	switch {
	case m.noRoute:
		remove := make([]string, 0, len(existing))
		events := make([]store.Event, 0, len(existing))
		for _, d := range existing {
			remove = append(remove, d.GUID)
			events = append(events, s.manifestDestinationEvent(r, "audit.app.unmap-route", a, sp, d))
		}
		if len(remove) == 0 {
			return nil
		}
		return storeErrOrNil(s.store.UpdateDestinations(r.ctx, nil, remove, events...), "Route")
	case m.setRoutes:
		return s.mapManifestRoutes(r, a, sp, m.routes)
	case len(existing) > 0:
		return nil
	case m.randomRoute:
		domain, err := s.defaultDomain(r, sp.OrgGUID)
		if err != nil {
			return err
		}
		mr, _ := parseManifestRouteURL(a.Name + "-" + randomRouteWords() + "." + domain)
		return s.mapManifestRoutes(r, a, sp, []manifestRoute{mr})
	case m.defaultRoute:
		const prefix = "Failed to create default route from app name:"
		if len(a.Name) > 63 {
			return errUnprocessable(prefix + " Host cannot exceed 63 characters")
		}
		if !dnsLabel.MatchString(a.Name) {
			return errUnprocessable(prefix + ` Host must be either "*" or contain only alphanumeric characters, "_", or "-"`)
		}
		domain, err := s.defaultDomain(r, sp.OrgGUID)
		if err != nil {
			return err
		}
		mr, _ := parseManifestRouteURL(a.Name + "." + domain)
		return s.mapManifestRoutes(r, a, sp, []manifestRoute{mr})
	}
	return nil
}

// dnsLabel is validate_name_dns_compliant!'s pattern.
var dnsLabel = regexp.MustCompile(`^[\w-]+$`)

// randomRouteWords is RandomRouteGenerator#route: an adjective, a noun and
// two random letters.
func randomRouteWords() string {
	adjectives := []string{"brave", "calm", "daring", "eager", "fierce", "gentle", "happy", "jolly", "kind", "lively", "proud", "quiet", "shy", "wise"}
	nouns := []string{"badger", "cheetah", "dolphin", "eland", "fox", "gecko", "hyena", "impala", "jackal", "koala", "lemur", "okapi", "panda", "wombat"}
	letters := []byte{byte('a' + rand.IntN(26)), byte('a' + rand.IntN(26))}
	return adjectives[rand.IntN(len(adjectives))] + "-" + nouns[rand.IntN(len(nouns))] + "-" + string(letters)
}

// defaultDomain is Organization#default_domain: the oldest shared domain
// that is neither internal nor of a router group, else the org's oldest
// private domain.
func (s *Server) defaultDomain(r *request, orgGUID string) (string, error) {
	ds, _, err := s.store.ListDomains(r.ctx, store.Viewer{All: true}, store.DomainFilter{}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return "", errInternal(err)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	for _, d := range ds {
		if d.OrgGUID == "" && !d.Internal && d.RouterGroupGUID == nil {
			return d.Name, nil
		}
	}
	for _, d := range ds {
		if d.OrgGUID == orgGUID {
			return d.Name, nil
		}
	}
	return "", errUnprocessable("No default domains available")
}

// appDestinations are the destinations of every route mapped to an app.
func (s *Server) appDestinations(r *request, appGUID string) ([]store.Destination, error) {
	routes, _, err := s.store.ListRoutes(r.ctx, store.Viewer{All: true}, store.RouteFilter{AppGUIDs: []string{appGUID}},
		store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return nil, errInternal(err)
	}
	guids := make([]string, len(routes))
	for i, rt := range routes {
		guids[i] = rt.GUID
	}
	byRoute, err := s.store.Destinations(r.ctx, guids, store.DestinationFilter{AppGUIDs: []string{appGUID}})
	if err != nil {
		return nil, errInternal(err)
	}
	var out []store.Destination
	for _, g := range guids {
		out = append(out, byRoute[g]...)
	}
	return out, nil
}

func (s *Server) manifestDestinationEvent(r *request, typ string, a store.App, sp store.Space, d store.Destination) store.Event {
	ev := s.destinationEvent(r, typ, a, sp, d)
	var data map[string]any
	if json.Unmarshal(ev.Data, &data) == nil {
		ev.Data, _ = json.Marshal(manifestTriggered(data))
	}
	return ev
}

// prefixRoute is ManifestRouteUpdate's "For route '<route>': " before
// the text of a client error.
func prefixRoute(route string, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return err
	}
	out := *ae
	out.Detail = "For route '" + route + "': " + ae.Detail
	return &out
}

// mapManifestRoutes is ManifestRouteUpdate.update: every route is found or
// created first, then each one the app is not mapped to gets a destination
// for its web process; a mapping whose protocol differs is replaced.
func (s *Server) mapManifestRoutes(r *request, a store.App, sp store.Space, routes []manifestRoute) error {
	type target struct {
		rt store.Route
		d  store.Domain
		mr manifestRoute
	}
	var targets []target
	for _, mr := range routes {
		rt, d, err := s.findOrCreateManifestRoute(r, sp, mr)
		if err != nil {
			return err
		}
		targets = append(targets, target{rt: rt, d: d, mr: mr})
	}
	for _, t := range targets {
		dests, err := s.store.Destinations(r.ctx, []string{t.rt.GUID}, store.DestinationFilter{AppGUIDs: []string{a.GUID}})
		if err != nil {
			return errInternal(err)
		}
		tcp := contains(t.d.Protocols, "tcp")
		protocol := t.mr.protocol
		switch {
		case tcp && protocol != "" && protocol != "tcp":
			return prefixRoute(t.mr.full, errUnprocessable("Destination protocol must be 'tcp' if route protocol is 'tcp'"))
		case !tcp && protocol == "tcp":
			return prefixRoute(t.mr.full, errUnprocessable("Destination protocol must be 'http1' or 'http2' if route protocol is 'http'"))
		}
		var remove []string
		var events []store.Event
		current := slices.IndexFunc(dests[t.rt.GUID], func(d store.Destination) bool { return d.ProcessType == "web" })
		if current >= 0 {
			old := dests[t.rt.GUID][current]
			if protocol == "" || protocol == old.Protocol {
				continue
			}
			remove = append(remove, old.GUID)
			events = append(events, s.manifestDestinationEvent(r, "audit.app.unmap-route", a, sp, old))
		}
		if protocol == "" {
			protocol = "http1"
			if tcp {
				protocol = "tcp"
			}
		}
		now := s.store.Now()
		d := store.Destination{GUID: uuid.NewString(), RouteGUID: t.rt.GUID, AppGUID: a.GUID, ProcessType: "web", Port: 8080,
			Protocol: protocol, CreatedAt: now, UpdatedAt: now}
		events = append(events, s.manifestDestinationEvent(r, "audit.app.map-route", a, sp, d))
		if err := s.store.UpdateDestinations(r.ctx, []store.Destination{d}, remove, events...); err != nil {
			return errInternal(err)
		}
	}
	return nil
}

// findOrCreateManifestRoute is find_or_create_valid_route: the whole host
// as a domain first (unless it is a wildcard), then its first label as
// the host of the rest; a route missing on an existing domain is created
// in the app's space, as RouteCreate does.
func (s *Server) findOrCreateManifestRoute(r *request, sp store.Space, mr manifestRoute) (store.Route, store.Domain, error) {
	all := store.Viewer{All: true}
	type pair struct{ host, domain string }
	var pairs []pair
	if len(mr.host) == 0 || mr.host[0] != '*' {
		pairs = append(pairs, pair{"", mr.host})
	}
	if host, domain, ok := cutDot(mr.host); ok {
		pairs = append(pairs, pair{host, domain})
	}
	for _, c := range pairs {
		ds, _, err := s.store.ListDomains(r.ctx, all, store.DomainFilter{Names: []string{c.domain}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			return store.Route{}, store.Domain{}, errInternal(err)
		}
		if len(ds) == 0 {
			continue
		}
		d := ds[0]
		f := store.RouteFilter{DomainGUIDs: []string{d.GUID}, Hosts: []string{c.host}, Paths: []string{mr.path}}
		if mr.port != nil {
			f.Ports = []int64{*mr.port}
		}
		found, _, err := s.store.ListRoutes(r.ctx, all, f, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			return store.Route{}, d, errInternal(err)
		}
		if len(found) > 0 {
			if found[0].SpaceGUID != sp.GUID {
				return store.Route{}, d, prefixRoute(mr.full, errUnprocessable("Routes cannot be mapped to destinations in different spaces"))
			}
			return found[0], d, nil
		}
		if !r.user.admin() {
			if err := s.requireFlag(r, "route_creation"); err != nil {
				return store.Route{}, d, err
			}
		}
		if c.host == "*" && d.OrgGUID == "" && !r.user.admin() {
			return store.Route{}, d, errNotAuthorized()
		}
		rt, err := s.createManifestRoute(r, sp, d, c.host, mr)
		if err != nil {
			return rt, d, prefixRoute(mr.full, err)
		}
		return rt, d, nil
	}
	return store.Route{}, store.Domain{}, errUnprocessable("No domains exist for route " + mr.full)
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// createManifestRoute is RouteCreate of a manifest's route, with the
// checks and texts of POST /v3/routes (parseRouteCreate, checkRoute).
func (s *Server) createManifestRoute(r *request, sp store.Space, d store.Domain, host string, mr manifestRoute) (store.Route, error) {
	body := map[string]any{"host": host, "path": mr.path,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": sp.GUID}},
			"domain": map[string]any{"data": map[string]string{"guid": d.GUID}}}}
	if mr.port != nil {
		body["port"] = *mr.port
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return store.Route{}, errInternal(err)
	}
	o, err := decodeAny(raw)
	if err != nil {
		return store.Route{}, err
	}
	rt, err := parseRouteCreate(o)
	if err != nil {
		return rt, err
	}
	group, err := s.tcpGroup(r, d)
	if err != nil {
		return rt, err
	}
	if err := s.checkRoute(r, &rt, sp, d); err != nil {
		return rt, err
	}
	if err := s.routeQuotaErr(r.ctx, sp, group != nil); err != nil {
		return rt, err
	}
	now := s.store.Now()
	rt.GUID, rt.CreatedAt, rt.UpdatedAt = uuid.NewString(), now, now
	audit := map[string]any{"host": host, "path": mr.path, "port": mr.port}
	ev := s.routeEvent(r, "audit.route.create", rt, sp, manifestTriggered(map[string]any{"request": audit}))
	if group != nil {
		err = s.store.CreateGroupRoute(r.ctx, &rt, group.GUID, tcpPort(&rt, d, *group, mr.port != nil), ev)
	} else {
		err = s.store.CreateRoute(r.ctx, rt, ev)
	}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return rt, err
	case errors.Is(err, store.ErrConflict):
		return rt, routeTaken(rt, d)
	case err != nil:
		return rt, errInternal(err)
	}
	return rt, nil
}

// bindManifestService is create_service_bindings for one service: the
// instance of that name visible in the app's space (its own first, then
// those shared with it), skipped when already bound, else bound as
// POST /v3/service_credential_bindings does. A managed instance's binding
// is left to its broker job rather than polled here.
func (s *Server) bindManifestService(r *request, a store.App, sp store.Space, ms manifestService) error {
	all := store.Viewer{All: true}
	found, _, err := s.store.ListServiceInstances(r.ctx, all, store.ServiceInstanceFilter{Names: []string{ms.name}, SpaceGUIDs: []string{sp.GUID}},
		store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	if len(found) == 0 {
		return &apiError{Status: 404, Code: 10010, Title: "CF-ResourceNotFound", Detail: "Service instance '" + ms.name + "' not found"}
	}
	si := found[0]
	for _, f := range found {
		if f.SpaceGUID == sp.GUID {
			si = f
			break
		}
	}
	forService := func(msg string) error {
		return errUnprocessable("For service '" + si.Name + "': " + msg)
	}
	bound, _, err := s.store.ListServiceCredentialBindings(r.ctx, all,
		store.BindingFilter{AppGUIDs: []string{a.GUID}, ServiceInstanceGUIDs: []string{si.GUID}, Types: []string{"app"}},
		store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return errInternal(err)
	}
	if len(bound) > 0 {
		lo := bound[0].LastOperation
		switch {
		case lo.Type == "create" && lo.State == "succeeded":
			return nil
		case inProgress(bound[0]):
			return forService("A binding is being " + lo.Type + "d. Retry this operation later.")
		case lo.Type == "delete" && lo.State == "failed":
			return forService("A binding failed to be deleted. Resolve the issue with this binding before retrying this operation.")
		}
	}
	body := map[string]any{"type": "app", "relationships": map[string]any{
		"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}},
		"app":              map[string]any{"data": map[string]string{"guid": a.GUID}}}}
	if ms.bindingName != nil {
		body["name"] = *ms.bindingName
	}
	if len(ms.params) > 0 && si.Type != store.UserProvided {
		body["parameters"] = json.RawMessage(ms.params)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return errInternal(err)
	}
	bc, err := parseBindingCreate(raw)
	if err == nil {
		err = s.createBinding(r, bc)
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 {
		return forService(ae.Detail)
	}
	return err
}
