// Package backend is the embedded Cloud Foundry: a Cloud Controller v3 API
// over SQLite that capibridge runs against on a laptop and in its tests.
// It is reached over HTTP like a real Cloud Controller and shares no code
// with the gateway.
package backend

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
	"capibridge/configs"
)

// The API versions the embedded CF reports, those of the Cloud Controller
// that shared/reference documents.
const (
	V2Version = "2.293.0"
	V3Version = "3.228.0"
)

// Server is the embedded Cloud Foundry.
type Server struct {
	cfg    configs.Backend
	store  *store.Store
	key    *uaa.Key
	auth   *verifier
	log    *slog.Logger
	now    func() time.Time
	routes []route
	http   *fasthttp.Server
	// started is when New ran: the log cache's uptime.
	started time.Time

	// staging keeps the bits on disk and finishes builds (staging.go).
	staging *staging
	// broker is the built-in service broker (broker.go), whose operations
	// take brokerDuration; services finishes them (service_ops.go).
	broker         *broker
	brokerDuration time.Duration
	services       *timeline
	// flags are the feature flags set away from CC's defaults (featureFlags).
	flags map[string]bool
	// known are the callers CC knows as users (knowCaller); knownMu orders
	// making a user known against deleting it.
	known   sync.Map
	knownMu sync.Mutex

	// jobs tracks background work (app deletes) so Close waits for it.
	jobs   sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Option changes how New builds a Server.
type Option func(*Server)

// WithClock replaces the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithFeatureFlag changes the default of the feature flag name to enabled,
// as a BOSH manifest's cc.feature_flag_overrides would: the flag shows no
// updated_at nor custom error message, and an admin's
// PATCH /v3/feature_flags/:name still overrides it.
func WithFeatureFlag(name string, enabled bool) Option {
	return func(s *Server) {
		if s.flags == nil {
			s.flags = map[string]bool{}
		}
		s.flags[name] = enabled
	}
}

// New opens (or creates and seeds) the embedded Cloud Foundry's state.
func New(ctx context.Context, cfg configs.Backend, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, now: time.Now, brokerDuration: DefaultBrokerDuration}
	for _, o := range opts {
		o(s)
	}
	s.started = s.now()
	st, err := store.Open(ctx, cfg.Data, s.now)
	if err != nil {
		return nil, err
	}
	key, err := uaa.LoadOrCreateKey(cfg.Data)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.store, s.key = st, key
	s.broker = &broker{store: st, now: s.now, duration: s.brokerDuration}
	s.auth = &verifier{key: key, issuer: cfg.TokenIssuer, now: s.now}
	if err := seed(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.resumeJobs(ctx); err != nil {
		s.cancel()
		st.Close()
		return nil, err
	}
	if s.staging, err = s.openStaging(ctx); err != nil {
		s.cancel()
		s.jobs.Wait()
		st.Close()
		return nil, err
	}
	if err := s.openServices(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.startCrashSweep()
	s.routes = s.buildRoutes()
	s.http = &fasthttp.Server{
		Handler:               s.Handler(),
		Name:                  "capibridge-backend",
		ReadTimeout:           time.Minute,
		WriteTimeout:          time.Minute,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: true,
		// The request line and headers may take 64 KiB: UAA tokens with
		// many scopes or groups are several KiB, and gorouter in front of a
		// Cloud Controller takes 1 MiB (fasthttp's default is 4 KiB).
		ReadBufferSize: 64 << 10,
		// Package and droplet uploads stream to disk (staging_bits.go);
		// readBody reads every other body whole, up to maxJSONBody.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           maxUploadBytes,
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting requests, waits for those in flight and for
// background jobs, then closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.ShutdownWithContext(ctx)
	return errors.Join(err, s.Close())
}

// Close waits for background jobs and closes the store.
func (s *Server) Close() error {
	s.cancel()
	s.jobs.Wait()
	s.services.close()
	stagingErr := s.staging.close()
	return errors.Join(s.store.Close(), stagingErr)
}

// VerificationKey is the public key of the embedded UAA: a gateway in the
// same process verifies tokens with it.
func (s *Server) VerificationKey() crypto.PublicKey { return s.key.Public() }

// Issuer is the iss of the embedded UAA's tokens.
func (s *Server) Issuer() string { return s.cfg.TokenIssuer }

// Store exposes the state, for tests and seeding tools.
func (s *Server) Store() *store.Store { return s.store }

// Token mints an access token for a seeded user, as `capibridge token` does.
// scopes, when given, replace the user's scopes (to try scope checks).
func (s *Server) Token(ctx context.Context, username string, scopes ...string) (string, error) {
	return MintToken(ctx, s.store, s.key, s.cfg, username, s.now(), scopes...)
}

// IssueToken mints an access token for a seeded user straight from a data
// dir, without serving: what `capibridge token` prints. It seeds a fresh
// data dir first, so the token works once the embedded CF starts on it.
func IssueToken(ctx context.Context, cfg configs.Backend, username string, scopes ...string) (string, error) {
	if cfg.Data == store.Memory {
		return "", errors.New("backend: a token for an in-memory store is useless: name a data dir")
	}
	st, err := store.Open(ctx, cfg.Data, nil)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if err := seed(ctx, st); err != nil {
		return "", err
	}
	key, err := uaa.LoadOrCreateKey(cfg.Data)
	if err != nil {
		return "", err
	}
	return MintToken(ctx, st, key, cfg, username, time.Now(), scopes...)
}

// MintToken signs an access token for the user called username, with its
// own scopes or, when given, scopes.
func MintToken(ctx context.Context, st *store.Store, key *uaa.Key, cfg configs.Backend, username string, now time.Time, scopes ...string) (string, error) {
	u, err := st.UserByName(ctx, username)
	if err != nil {
		return "", fmt.Errorf("backend: user %q: %w", username, err)
	}
	if len(scopes) == 0 {
		scopes = u.Scopes
	}
	return key.Sign(uaa.UserToken(cfg.TokenIssuer, u.GUID, u.Username, u.Email, scopes, now, cfg.TokenTTL))
}

// request is one call being served.
type request struct {
	ctx    requestCtx
	user   *principal
	base   string
	params []string
	query  query
	// fields is what fields[...] asks of a resource that takes it (fields.go).
	fields map[string][]string
}

// requestCtx is the fasthttp request as handlers pass it to the store: its
// context.Context methods are those of context.Background. A bare
// *fasthttp.RequestCtx has a Done channel (closed at server shutdown), so
// database/sql and the driver start goroutines per query that watch it and
// read the RequestCtx after fasthttp has recycled it for another request
// (a data race). In-flight requests finish on a graceful shutdown anyway.
type requestCtx struct{ *fasthttp.RequestCtx }

func (requestCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (requestCtx) Done() <-chan struct{}       { return nil }
func (requestCtx) Err() error                  { return nil }
func (requestCtx) Value(any) any               { return nil }

// route maps a method and a path pattern (":" marks a parameter) to a handler.
type route struct {
	method  string
	pattern []string
	anon    bool
	handle  func(*request) error
}

// Handler returns the fasthttp handler of the whole API: it recovers panics,
// authenticates, checks scopes as CC v3 does and dispatches.
func (s *Server) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "path", string(ctx.Path()), "panic", fmt.Sprint(v))
				writeError(ctx, errInternal(fmt.Errorf("panic: %v", v)))
			}
		}()
		// The UAA's paths do not clash with the Cloud Controller's: both are
		// served here, as on a laptop there is one listener (uaa_http.go).
		if s.serveUAA(ctx) {
			return
		}
		if err := s.serve(ctx); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status >= 500 {
				s.log.Error("request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
			}
			writeError(ctx, err)
		}
	}
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) error {
	path := strings.TrimSuffix(string(ctx.Path()), "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "" {
		segs = nil
	}
	method := string(ctx.Method())
	if method == fasthttp.MethodHead {
		method = fasthttp.MethodGet
	}
	var rt *route
	var params []string
	for i := range s.routes {
		if p, ok := match(s.routes[i].pattern, segs); ok && s.routes[i].method == method {
			rt, params = &s.routes[i], p
			break
		}
	}
	if rt == nil {
		return errUnknownRequest()
	}
	if readBody(ctx, rt) {
		return nil
	}
	r := &request{ctx: requestCtx{ctx}, base: s.baseURL(ctx), params: params, query: parseQuery(ctx.URI().QueryString())}
	if !rt.anon {
		user, err := s.auth.authenticate(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
		switch {
		case errors.Is(err, errNoToken):
			return errNotAuthenticated()
		case err != nil:
			return errInvalidAuthToken(err)
		}
		if err := s.knowCaller(r.ctx, user.GUID); err != nil {
			return errInternal(err)
		}
		// CC v3: reads need a read scope, everything else a write scope;
		// a missing scope is NotAuthorized (MAPPING §4).
		if method == fasthttp.MethodGet && !user.canRead() || method != fasthttp.MethodGet && !user.canWrite() {
			return errNotAuthorized()
		}
		r.user = user
	}
	// Builds whose staging time has passed, and broker operations whose
	// polling time has come, finish before anything is read.
	s.staging.settle(r.ctx)
	s.services.settle(r.ctx)
	return rt.handle(r)
}

func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pattern {
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// baseURL is the origin of absolute links: the configured external URL, or
// the scheme and host the client used, which a gateway in front says in
// X-Forwarded-Proto and X-Forwarded-Host.
func (s *Server) baseURL(ctx *fasthttp.RequestCtx) string {
	if s.cfg.ExternalURL != "" {
		return strings.TrimSuffix(s.cfg.ExternalURL, "/")
	}
	scheme := "http"
	if ctx.IsTLS() || string(ctx.Request.Header.Peek("X-Forwarded-Proto")) == "https" {
		scheme = "https"
	}
	host := ctx.Host()
	if fh := ctx.Request.Header.Peek("X-Forwarded-Host"); len(fh) > 0 {
		host = fh
	}
	return scheme + "://" + string(host)
}

// reply writes v as the JSON body with the given status. Like CC it leaves
// "&", "<" and ">" unescaped, so links read as they are.
func (r *request) reply(status int, v any) error {
	r.ctx.Response.ResetBody()
	enc := json.NewEncoder(r.ctx.Response.BodyWriter())
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return errInternal(err)
	}
	// Encode ends the document with a newline; CC's bodies have none.
	body := r.ctx.Response.Body()
	r.ctx.Response.SetBodyRaw(body[:len(body)-1])
	r.ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	r.ctx.SetStatusCode(status)
	return nil
}

// accepted answers 202 with the job's Location and no body, as CC's
// asynchronous deletes do.
func (r *request) accepted(jobGUID string) error {
	r.ctx.Response.Header.Set(fasthttp.HeaderLocation, r.base+"/v3/jobs/"+jobGUID)
	r.ctx.SetStatusCode(fasthttp.StatusAccepted)
	return nil
}

func (s *Server) buildRoutes() []route {
	p := func(path string) []string {
		if path == "/" {
			return nil
		}
		return strings.Split(strings.TrimPrefix(path, "/"), "/")
	}
	get, post, patch, del := fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPatch, fasthttp.MethodDelete
	routes := []route{
		{get, p("/"), true, s.root},
		{get, p("/v3"), true, s.v3Root},
		{get, p("/v3/info"), true, s.info},
		{get, p("/api/v1/info"), true, s.logCacheInfo},
		{get, p("/api/v1/read/:source_id"), false, s.logCacheRead},
		// The routing API checks tokens its own way (routing.go).
		{get, p("/routing/v1/router_groups"), true, s.routingAPI(s.listRouterGroups)},

		{get, p("/v3/organizations"), false, orgResource.index(s)},
		{get, p("/v3/organizations/:guid"), false, orgResource.showOne(s)},
		{post, p("/v3/organizations"), false, s.createOrg},
		{patch, p("/v3/organizations/:guid"), false, s.updateOrg},
		{del, p("/v3/organizations/:guid"), false, s.deleteOrg},
		{get, p("/v3/spaces"), false, spaceResource.index(s)},
		{get, p("/v3/spaces/:guid"), false, spaceResource.showOne(s)},
		{post, p("/v3/spaces"), false, s.createSpace},
		{patch, p("/v3/spaces/:guid"), false, s.updateSpace},
		{del, p("/v3/spaces/:guid"), false, s.deleteSpace},
		{get, p("/v3/spaces/:guid/features"), false, s.listSpaceFeatures},
		{get, p("/v3/spaces/:guid/features/:name"), false, s.getSpaceFeature},
		{patch, p("/v3/spaces/:guid/features/:name"), false, s.updateSpaceFeature},
		{post, p("/v3/spaces/:guid/actions/apply_manifest"), false, s.applyManifest},
		{get, p("/v3/organization_quotas"), false, orgQuotaResource.index(s)},
		{get, p("/v3/organization_quotas/:guid"), false, orgQuotaResource.showOne(s)},
		{post, p("/v3/organization_quotas"), false, s.createOrgQuota},
		{patch, p("/v3/organization_quotas/:guid"), false, s.updateOrgQuota},
		{del, p("/v3/organization_quotas/:guid"), false, s.deleteOrgQuota},
		{post, p("/v3/organization_quotas/:guid/relationships/organizations"), false, s.applyOrgQuota},
		{get, p("/v3/stacks"), false, stackResource.index(s)},
		{get, p("/v3/stacks/:guid"), false, stackResource.showOne(s)},

		{get, p("/v3/apps"), false, appResource.index(s)},
		{post, p("/v3/apps"), false, s.createApp},
		{get, p("/v3/apps/:guid"), false, appResource.showOne(s)},
		{patch, p("/v3/apps/:guid"), false, s.updateApp},
		{del, p("/v3/apps/:guid"), false, s.deleteApp},
		{get, p("/v3/apps/:guid/environment_variables"), false, s.getEnvVars},
		{patch, p("/v3/apps/:guid/environment_variables"), false, s.patchEnvVars},
		{get, p("/v3/apps/:guid/env"), false, s.getAppEnv},
		{get, p("/v3/apps/:guid/permissions"), false, s.getAppPermissions},
		{get, p("/v3/apps/:guid/ssh_enabled"), false, s.getSSHEnabled},
		{get, p("/v3/apps/:guid/features"), false, s.listAppFeatures},
		{get, p("/v3/apps/:guid/features/:name"), false, s.getAppFeature},
		{patch, p("/v3/apps/:guid/features/:name"), false, s.patchAppFeature},
		{post, p("/v3/apps/:guid/actions/start"), false, s.startApp},
		{post, p("/v3/apps/:guid/actions/stop"), false, s.stopApp},
		{post, p("/v3/apps/:guid/actions/restart"), false, s.restartApp},
		{get, p("/v3/apps/:guid/processes"), false, processResource.under(s, appProcesses)},
		{get, p("/v3/apps/:guid/sidecars"), false, sidecarResource.under(s, appSidecars)},
		{get, p("/v3/processes/:guid/sidecars"), false, sidecarResource.under(s, processSidecars)},
		{get, p("/v3/sidecars/:guid"), false, sidecarResource.showOne(s)},
		{get, p("/v3/apps/:guid/revisions"), false, revisionResource.under(s, appRevisions)},
		{get, p("/v3/apps/:guid/revisions/deployed"), false, revisionResource.under(s, appDeployedRevisions)},
		{get, p("/v3/revisions/:guid"), false, revisionResource.showOne(s)},
		{get, p("/v3/tasks"), false, taskResource.index(s)},
		{get, p("/v3/apps/:guid/tasks"), false, taskResource.under(s, appTasks)},
		{get, p("/v3/tasks/:guid"), false, taskResource.showOne(s)},
		{get, p("/v3/apps/:guid/processes/:type"), false, s.getAppProcess},
		{patch, p("/v3/apps/:guid/processes/:type"), false, s.patchAppProcess},
		{post, p("/v3/apps/:guid/processes/:type/actions/scale"), false, s.scaleAppProcess},
		{get, p("/v3/apps/:guid/processes/:type/stats"), false, s.appProcessStats},
		{del, p("/v3/apps/:guid/processes/:type/instances/:index"), false, s.terminateAppProcessInstance},

		{get, p("/v3/apps/:guid/packages"), false, packageResource.under(s, appPackages)},
		{get, p("/v3/apps/:guid/builds"), false, buildResource.under(s, appBuilds)},
		{get, p("/v3/apps/:guid/droplets"), false, dropletResource.under(s, appDroplets)},
		{get, p("/v3/apps/:guid/droplets/current"), false, s.getAppCurrentDroplet},
		{get, p("/v3/apps/:guid/relationships/current_droplet"), false, s.getAppCurrentDropletRelationship},
		{patch, p("/v3/apps/:guid/relationships/current_droplet"), false, s.patchAppCurrentDroplet},
		{get, p("/v3/apps/:guid/routes"), false, routeResource.under(s, appRoutes)},

		{get, p("/v3/packages"), false, packageResource.index(s)},
		{post, p("/v3/packages"), false, s.createPackage},
		{get, p("/v3/packages/:guid"), false, packageResource.showOne(s)},
		{post, p("/v3/packages/:guid/upload"), false, s.uploadPackage},
		{get, p("/v3/packages/:guid/droplets"), false, dropletResource.under(s, packageDroplets)},
		{del, p("/v3/packages/:guid"), false, s.deletePackage},
		{get, p("/v3/packages/:guid/download"), false, s.downloadPackage},
		{post, p("/v3/resource_matches"), false, s.resourceMatches},
		{get, p("/v3/builds"), false, buildResource.index(s)},
		{post, p("/v3/builds"), false, s.createBuild},
		{get, p("/v3/builds/:guid"), false, buildResource.showOne(s)},
		{get, p("/v3/droplets"), false, dropletResource.index(s)},
		{post, p("/v3/droplets"), false, s.createDroplet},
		{get, p("/v3/droplets/:guid"), false, dropletResource.showOne(s)},
		{post, p("/v3/droplets/:guid/upload"), false, s.uploadDroplet},
		{get, p("/v3/droplets/:guid/download"), false, s.downloadDroplet},
		// The signed URLs of the blobstore (blobs.go): the signature, not a
		// token, lets the caller in.
		{get, p("/blobs/packages/:guid"), true, s.serveBlobPackage},
		{get, p("/blobs/droplets/:guid"), true, s.serveBlobDroplet},

		{get, p("/v3/domains"), false, domainResource.index(s)},
		{post, p("/v3/domains"), false, s.createDomain},
		{get, p("/v3/domains/:guid"), false, domainResource.showOne(s)},
		{del, p("/v3/domains/:guid"), false, s.deleteDomain},
		{get, p("/v3/domains/:guid/route_reservations"), false, s.routeReservations},
		{post, p("/v3/domains/:guid/relationships/shared_organizations"), false, s.shareDomain},
		{del, p("/v3/domains/:guid/relationships/shared_organizations/:org_guid"), false, s.unshareDomain},
		{get, p("/v3/organizations/:guid/domains"), false, domainResource.under(s, orgDomains)},
		{get, p("/v3/organizations/:guid/domains/default"), false, s.orgDefaultDomain},
		{get, p("/v3/routes"), false, routeResource.index(s)},
		{get, p("/v3/routes/:guid"), false, s.showRoute},
		{del, p("/v3/spaces/:guid/routes"), false, s.deleteUnmappedRoutes},
		{post, p("/v3/routes"), false, s.createRoute},
		{del, p("/v3/routes/:guid"), false, s.deleteRoute},
		{get, p("/v3/routes/:guid/destinations"), false, s.listRouteDestinations},
		{post, p("/v3/routes/:guid/destinations"), false, s.insertRouteDestinations},
		{patch, p("/v3/routes/:guid/destinations"), false, s.replaceRouteDestinations},
		{del, p("/v3/routes/:guid/destinations/:destination_guid"), false, s.deleteRouteDestination},

		// The marketplace reads serve anonymous callers too (marketplace.go).
		{get, p("/v3/service_offerings"), true, s.maybeUser(offeringResource.index(s))},
		{get, p("/v3/service_offerings/:guid"), true, s.maybeUser(offeringResource.showOne(s))},
		{get, p("/v3/service_plans"), true, s.maybeUser(planResource.index(s))},
		{get, p("/v3/service_plans/:guid"), true, s.maybeUser(planResource.showOne(s))},
		{get, p("/v3/service_plans/:guid/visibility"), false, s.getPlanVisibility},
		{get, p("/v3/service_brokers"), false, brokerResource.index(s)},
		{get, p("/v3/service_brokers/:guid"), false, brokerResource.showOne(s)},
		{get, p("/v3/feature_flags"), false, s.listFeatureFlags},
		{get, p("/v3/feature_flags/:name"), false, s.getFeatureFlag},
		{get, p("/v3/service_instances"), false, serviceInstanceResource.index(s)},
		{post, p("/v3/service_instances"), false, s.createServiceInstance},
		{get, p("/v3/service_instances/:guid"), false, serviceInstanceResource.showOne(s)},
		{patch, p("/v3/service_instances/:guid"), false, s.updateServiceInstance},
		{del, p("/v3/service_instances/:guid"), false, s.deleteServiceInstance},
		{get, p("/v3/service_instances/:guid/credentials"), false, s.getServiceInstanceCredentials},
		{get, p("/v3/service_instances/:guid/parameters"), false, s.getServiceInstanceParameters},
		{get, p("/v3/service_instances/:guid/permissions"), false, s.getServiceInstancePermissions},
		{get, p("/v3/service_instances/:guid/relationships/shared_spaces"), false, s.getSharedSpaces},
		{post, p("/v3/service_instances/:guid/relationships/shared_spaces"), false, s.shareServiceInstance},
		{del, p("/v3/service_instances/:guid/relationships/shared_spaces/:space_guid"), false, s.unshareServiceInstance},
		{get, p("/v3/service_instances/:guid/relationships/shared_spaces/usage_summary"), false, s.getSharedSpacesUsage},
		{get, p("/v3/service_credential_bindings"), false, bindingResource.index(s)},
		{post, p("/v3/service_credential_bindings"), false, s.createServiceCredentialBinding},
		{get, p("/v3/service_credential_bindings/:guid"), false, bindingResource.showOne(s)},
		{del, p("/v3/service_credential_bindings/:guid"), false, s.deleteServiceCredentialBinding},
		{get, p("/v3/service_route_bindings"), false, routeBindingResource.index(s)},
		{get, p("/v3/service_route_bindings/:guid"), false, routeBindingResource.showOne(s)},
		{post, p("/v3/service_route_bindings"), false, s.createServiceRouteBinding},
		{del, p("/v3/service_route_bindings/:guid"), false, s.deleteServiceRouteBinding},
		{get, p("/v3/service_route_bindings/:guid/parameters"), false, s.getServiceRouteBindingParameters},
		{get, p("/v3/service_credential_bindings/:guid/details"), false, s.getServiceCredentialBindingDetails},
		{get, p("/v3/service_credential_bindings/:guid/parameters"), false, s.getServiceCredentialBindingParameters},

		{get, p("/v3/processes"), false, processResource.index(s)},
		{get, p("/v3/processes/:guid"), false, s.getProcess},
		{patch, p("/v3/processes/:guid"), false, s.patchProcess},
		{post, p("/v3/processes/:guid/actions/scale"), false, s.scaleProcess},
		{get, p("/v3/processes/:guid/stats"), false, s.processStats},
		{get, p("/v3/processes/:guid/process_instances"), false, s.processInstancesOf},
		{del, p("/v3/processes/:guid/instances/:index"), false, s.terminateProcessInstance},
		{get, p("/v3/deployments"), false, deploymentResource.index(s)},
		{get, p("/v3/deployments/:guid"), false, deploymentResource.showOne(s)},

		{get, p("/v3/jobs/:guid"), false, s.getJob},
		{get, p("/v3/audit_events"), false, eventResource.index(s)},
		{get, p("/v3/audit_events/:guid"), false, eventResource.showOne(s)},
	}
	// Families declare their routes beside their handlers.
	routes = append(routes, s.userRoleRoutes(p)...)
	routes = append(routes, s.spaceQuotaRoutes(p)...)
	routes = append(routes, s.adminRoutes(p)...)
	routes = append(routes, s.placementRoutes(p)...)
	return routes
}
