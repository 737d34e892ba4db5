package backend

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// appParams are the query keys of GET /v3/apps (cc:app/messages/apps_list_message.rb).
var appParams = append(append(append([]string{}, pageParams...), "guids", "names", "space_guids", "organization_guids",
	"stacks", "lifecycle_type", "label_selector", "include"), append(timeKeys("created_ats"), timeKeys("updated_ats")...)...)

// appResource is GET /v3/apps and /v3/apps/:guid, both with include=.
var appResource = &resource[store.App, store.AppFilter, appJSON]{
	name:   "App",
	path:   "/v3/apps",
	keys:   appParams,
	orders: []string{"created_at", "updated_at", "name", "state"},
	filter: func(q *params) store.AppFilter {
		return store.AppFilter{GUIDs: q.list("guids"), Names: q.list("names"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), Stacks: q.list("stacks"),
			// BaseMessage::LifecycleTypeParamValidator's text.
			LifecycleTypes: q.oneOf("lifecycle_type", func(v string) string { return "Invalid lifecycle_type: '" + v + "'" },
				"buildpack", "docker", "cnb"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list:         (*store.Store).ListApps,
	get:          (*store.Store).GetApp,
	present:      each(func(r *request, a store.App) appJSON { return presentApp(r.base, a) }),
	includes:     []string{"space", "org", "space.organization"},
	showIncludes: true,
	included: func(s *Server, r *request, include map[string]bool, apps []store.App) (any, error) {
		return s.includeForApps(r, include, apps)
	},
}

// includeForApps loads the spaces and organizations include= asks for.
func (s *Server) includeForApps(r *request, include map[string]bool, apps []store.App) (*includedJSON, error) {
	if len(include) == 0 {
		return nil, nil
	}
	var guids []string
	seen := map[string]bool{}
	for _, a := range apps {
		if !seen[a.SpaceGUID] {
			seen[a.SpaceGUID] = true
			guids = append(guids, a.SpaceGUID)
		}
	}
	spaces, err := s.store.SpacesByGUID(r.ctx, guids)
	if err != nil {
		return nil, errInternal(err)
	}
	orgs, err := s.orgsOf(r, spaces)
	if err != nil {
		return nil, err
	}
	inc := &includedJSON{}
	// IncludeSpaceDecorator matches "space" and "space.organization" alike.
	if include["space"] || include["space.organization"] {
		inc.Spaces = []spaceJSON{}
		for _, sp := range spaces {
			inc.Spaces = append(inc.Spaces, presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended))
		}
	}
	if include["org"] || include["space.organization"] {
		inc.Organizations = presentOrgs(r.base, spaces, orgs)
	}
	return inc, nil
}

// appAccess is an app the caller can see, with what it may do there.
type appAccess struct {
	app   store.App
	space store.Space
	roles spaceRoles
}

// findApp loads an app the caller can see (404 otherwise) and its roles
// there. Every per-app call starts here, so it reads the app, its space, its
// org's suspension and the caller's roles in two queries (one for an admin,
// whose roles rolesIn never reads).
func (s *Server) findApp(r *request, guid string) (appAccess, error) {
	pl, err := s.store.GetAppPlace(r.ctx, r.user.viewer(), guid, !r.user.admin())
	if err != nil {
		return appAccess{}, storeErr(err, "App")
	}
	return appAccess{app: pl.App, space: pl.Space, roles: grant(r.user, pl.Roles, pl.OrgSuspended)}, nil
}

// writableApp is findApp for writes: 403 NotAuthorized without write access.
func (s *Server) writableApp(r *request, guid string) (appAccess, error) {
	acc, err := s.findApp(r, guid)
	if err != nil {
		return acc, err
	}
	if err := acc.roles.writeErr(); err != nil {
		return acc, err
	}
	return acc, nil
}

// event builds an audit event about an app, caused by the caller.
func (s *Server) appEvent(r *request, typ string, a store.App, sp store.Space, data any) store.Event {
	b, err := json.Marshal(data)
	if err != nil || data == nil {
		b = []byte("{}")
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: a.GUID, TargetType: "app",
		TargetName: a.Name, SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: b, CreatedAt: s.store.Now()}
}

// censored is how CC records secrets in audit events.
func censored(o object, keys ...string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(o))
	for k, v := range o {
		out[k] = v
	}
	for _, k := range keys {
		if _, ok := out[k]; ok {
			out[k] = json.RawMessage(`"` + redactedMessage + `"`)
		}
	}
	return out
}

// rubyWhitespace is what Ruby's String#strip removes, as CC's
// strip_attributes does to names.
const rubyWhitespace = " \t\n\v\f\r\x00"

// lifecycle is a parsed lifecycle object of an app create or update.
type lifecycle struct {
	typ        string
	buildpacks []string
	setBPs     bool
	stack      *string
	setStack   bool
}

// parseLifecycle reads {"type", "data"}: buildpack data has "buildpacks"
// (or the experimental API's single "buildpack") and "stack"; docker data
// is empty.
func parseLifecycle(o object) (*lifecycle, error) {
	l, err := o.sub("lifecycle", "Lifecycle")
	if l == nil || err != nil {
		return nil, err
	}
	if err := l.only("type", "data"); err != nil {
		return nil, err
	}
	typ, err := l.str("type", "Lifecycle type")
	if err != nil {
		return nil, err
	}
	if typ == nil {
		return nil, errUnprocessable("Lifecycle type must be a string, Lifecycle type is not included in the list: buildpack, docker")
	}
	if *typ != "buildpack" && *typ != "docker" {
		return nil, errUnprocessable("Lifecycle type is not included in the list: buildpack, docker")
	}
	data, err := l.sub("data", "Lifecycle data")
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, errUnprocessable("Lifecycle data must be an object")
	}
	lc := &lifecycle{typ: *typ}
	if lc.typ == "docker" {
		if len(data) > 0 {
			return nil, data.only()
		}
		return lc, nil
	}
	if err := data.only("buildpacks", "buildpack", "stack"); err != nil {
		return nil, err
	}
	if data.has("buildpacks") {
		lc.setBPs = true
		if !data.isNull("buildpacks") {
			if err := json.Unmarshal(data["buildpacks"], &lc.buildpacks); err != nil {
				return nil, errUnprocessable("Buildpacks must be an array of strings")
			}
		}
	} else if data.has("buildpack") {
		bp, err := data.str("buildpack", "Buildpack")
		if err != nil {
			return nil, err
		}
		lc.setBPs = true
		if bp != nil && *bp != "" {
			lc.buildpacks = []string{*bp}
		}
	}
	for _, bp := range lc.buildpacks {
		if bp == "" || len(bp) > 4096 {
			return nil, errUnprocessable("Buildpacks can only contain non-empty strings of at most 4096 characters")
		}
	}
	if data.has("stack") {
		lc.setStack = true
		if lc.stack, err = data.str("stack", "Stack"); err != nil {
			return nil, err
		}
	}
	return lc, nil
}

// resolveStack returns the stack name to store: the named stack (422 when
// unknown), or the default stack when name is nil.
func (s *Server) resolveStack(r *request, name *string) (*string, error) {
	var st store.Stack
	var err error
	if name == nil {
		st, err = s.store.DefaultStack(r.ctx)
	} else {
		st, err = s.store.StackByName(r.ctx, *name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errUnprocessable("Stack must be an existing stack")
		}
	}
	if err != nil {
		return nil, errInternal(err)
	}
	return &st.Name, nil
}

// spaceGUIDOf reads the space relationship in the GA shape
// {"space":{"data":{"guid":…}}} or the experimental {"space":{"guid":…}}.
func spaceGUIDOf(o object) (string, error) {
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return "", err
	}
	if rels == nil {
		return "", errUnprocessable("Relationships must be an object, Relationships Space can't be blank")
	}
	if err := rels.only("space"); err != nil {
		return "", err
	}
	space, err := rels.sub("space", "Relationships Space")
	if err != nil {
		return "", err
	}
	if space == nil {
		return "", errUnprocessable("Relationships Space can't be blank")
	}
	if data, err := space.sub("data", "Relationships Space data"); err != nil {
		return "", err
	} else if data != nil {
		space = data
	}
	guid, err := space.str("guid", "Relationships Space guid")
	if err != nil {
		return "", err
	}
	if guid == nil || *guid == "" {
		return "", errUnprocessable("Relationships Space guid must be a string")
	}
	return *guid, nil
}

func (s *Server) createApp(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "name", "relationships", "environment_variables", "lifecycle", "metadata")
	if err != nil {
		return err
	}
	name, err := o.str("name", "Name")
	if err != nil {
		return err
	}
	// CC's AppCreateMessage validates name as a string (nil included), and
	// AppModel strips it (strip_attributes :name) before checking presence.
	if name == nil {
		return errUnprocessable("Name must be a string")
	}
	if *name = strings.Trim(*name, rubyWhitespace); *name == "" {
		return errUnprocessable("Name can't be blank")
	}
	if len(*name) > 255 {
		return errUnprocessable("Name is too long (maximum is 255 characters)")
	}
	spaceGUID, err := spaceGUIDOf(o)
	if err != nil {
		return err
	}
	env, err := o.envVars("environment_variables", "Environment variables")
	if err != nil {
		return err
	}
	lc, err := parseLifecycle(o)
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	sp, err := s.spaceToWrite(r, spaceGUID)
	if err != nil {
		return err
	}
	if lc != nil && lc.typ == "docker" {
		if err := s.requireFlag(r, "diego_docker"); err != nil {
			return err
		}
	}
	now := s.store.Now()
	// enable_ssh starts as CC's default_app_ssh_access (true in capi-release),
	// whatever the space allows: ssh_enabled reports the space separately.
	a := store.App{GUID: uuid.NewString(), Name: *name, SpaceGUID: sp.GUID, State: "STOPPED", LifecycleType: "buildpack",
		Buildpacks: []string{}, Env: map[string]json.RawMessage{}, SSHEnabled: true, CreatedAt: now, UpdatedAt: now}
	for k, v := range env {
		if v != nil {
			a.Env[k] = v
		}
	}
	if lc != nil {
		a.LifecycleType = lc.typ
		if lc.buildpacks != nil {
			a.Buildpacks = lc.buildpacks
		}
	}
	if a.LifecycleType == "buildpack" {
		var want *string
		if lc != nil {
			want = lc.stack
		}
		if a.Stack, err = s.resolveStack(r, want); err != nil {
			return err
		}
	}
	if md != nil {
		a.Labels, a.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	if err := s.insertApp(r, a, sp, censored(o, "environment_variables")); err != nil {
		return err
	}
	return r.reply(201, presentApp(r.base, a))
}

// insertApp stores a new app with its web process, and records the events
// of CC's AppCreate with request as the create's audited request.
func (s *Server) insertApp(r *request, a store.App, sp store.Space, request any) error {
	// ProcessCreate: the web process shares the app's guid (cc:app/actions/process_create.rb).
	web := store.Process{GUID: a.GUID, AppGUID: a.GUID, SpaceGUID: sp.GUID, Type: "web", Instances: 1,
		MemoryMB: s.cfg.DefaultMemoryMB, DiskMB: s.cfg.DefaultDiskMB, LogRateLimit: s.cfg.DefaultLogRateLimit,
		HealthCheckType: "port", Version: uuid.NewString(), CreatedAt: a.CreatedAt, UpdatedAt: a.CreatedAt}
	// CC's AppCreate records the web process's creation, then the app's.
	procEv := s.appEvent(r, "audit.app.process.create", a, sp, map[string]string{"process_guid": web.GUID, "process_type": web.Type})
	ev := s.appEvent(r, "audit.app.create", a, sp, map[string]any{"request": request})
	if err := s.store.CreateApp(r.ctx, a, web, procEv, ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUniqueness("App with the name '" + a.Name + "' already exists.")
		}
		return errInternal(err)
	}
	return nil
}

func (s *Server) updateApp(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "name", "lifecycle", "metadata")
	if err != nil {
		return err
	}
	name, err := o.str("name", "Name")
	if err != nil {
		return err
	}
	if name != nil {
		*name = strings.Trim(*name, rubyWhitespace) // strip_attributes :name, as on create
	}
	if name != nil && (*name == "" || len(*name) > 255) {
		return errUnprocessable("Name must be between 1 and 255 characters")
	}
	lc, err := parseLifecycle(o)
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	acc, err := s.writableApp(r, r.params[0])
	if err != nil {
		return err
	}
	a := acc.app
	if name != nil {
		a.Name = *name
	}
	if lc != nil {
		if lc.typ != a.LifecycleType {
			return errUnprocessable("Lifecycle type cannot be changed")
		}
		if lc.setBPs {
			a.Buildpacks = lc.buildpacks
		}
		if lc.setStack && a.LifecycleType == "buildpack" {
			if a.Stack, err = s.resolveStack(r, lc.stack); err != nil {
				return err
			}
		}
	}
	if md != nil {
		a.Labels, a.Annotations = apply(a.Labels, md.labels), apply(a.Annotations, md.annotations)
	}
	a.UpdatedAt = s.store.Now()
	ev := s.appEvent(r, "audit.app.update", a, acc.space, map[string]any{"request": o})
	if err := s.store.UpdateApp(r.ctx, a, ev); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return errUniqueness("App with the name '" + a.Name + "' already exists.")
		case errors.Is(err, store.ErrNotFound):
			return errNotFound("App")
		}
		return errInternal(err)
	}
	return r.reply(200, presentApp(r.base, a))
}

// deleteApp answers 202 with a job, then deletes the app and everything
// that hangs off it in the background, as CC's AppDelete job does.
func (s *Server) deleteApp(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.writableApp(r, r.params[0])
	if err != nil {
		return err
	}
	now := s.store.Now()
	job := store.Job{GUID: uuid.NewString(), Operation: "app.delete", State: store.JobProcessing, ResourceGUID: acc.app.GUID,
		UserGUID: r.user.GUID, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateJob(r.ctx, job); err != nil {
		return errInternal(err)
	}
	ev := s.appEvent(r, "audit.app.delete-request", acc.app, acc.space, map[string]any{"request": map[string]bool{"recursive": true}})
	if err := s.store.RecordEvents(r.ctx, ev); err != nil {
		return errInternal(err)
	}
	s.runJob(job)
	return r.accepted(job.GUID)
}

type envVarsJSON struct {
	Var   map[string]json.RawMessage `json:"var"`
	Links struct {
		Self link `json:"self"`
		App  link `json:"app"`
	} `json:"links"`
}

func presentEnvVars(base string, a store.App) envVarsJSON {
	j := envVarsJSON{Var: a.Env}
	if j.Var == nil {
		j.Var = map[string]json.RawMessage{}
	}
	j.Links.Self = link{Href: base + "/v3/apps/" + a.GUID + "/environment_variables"}
	j.Links.App = link{Href: base + "/v3/apps/" + a.GUID}
	return j
}

func (s *Server) getEnvVars(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	if !acc.roles.secrets {
		return errNotAuthorized()
	}
	return r.reply(200, presentEnvVars(r.base, acc.app))
}

// patchEnvVars merges var into the app's variables; a null value deletes
// the key (cc:app/actions/app_update_environment_variables.rb).
func (s *Server) patchEnvVars(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	// Unlike an app create, an update takes only string (or null) values
	// (cc:app/messages/update_environment_variables_message.rb).
	vars, err := parseEnvVarsMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	acc, err := s.writableApp(r, r.params[0])
	if err != nil {
		return err
	}
	a := acc.app
	merged := make(map[string]json.RawMessage, len(a.Env)+len(vars))
	for k, v := range a.Env {
		merged[k] = v
	}
	for k, v := range vars {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k], _ = marshalRaw(*v)
		}
	}
	a.Env, a.UpdatedAt = merged, s.store.Now()
	ev := s.appEvent(r, "audit.app.update", a, acc.space, map[string]any{"request": map[string]string{"environment_variables": redactedMessage}})
	if err := s.store.UpdateApp(r.ctx, a, ev); err != nil {
		return storeErr(err, "App")
	}
	return r.reply(200, presentEnvVars(r.base, a))
}

// getAppEnv answers GET /v3/apps/:guid/env, for readers of secrets only.
func (s *Server) getAppEnv(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	if !acc.roles.secrets {
		return errNotAuthorized()
	}
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, acc.space.OrgGUID)
	if err != nil {
		return errInternal(err)
	}
	a := acc.app
	// VCAP_APPLICATION as CC's VarsBuilder builds it for a v3 app: the
	// limits of an app carry fds only (v2 added the web process's mem and
	// disk, MAPPING §6).
	vcapApp := struct {
		CFAPI            string           `json:"cf_api"`
		Limits           map[string]int64 `json:"limits"`
		ApplicationName  string           `json:"application_name"`
		ApplicationURIs  []string         `json:"application_uris"`
		Name             string           `json:"name"`
		SpaceName        string           `json:"space_name"`
		SpaceID          string           `json:"space_id"`
		OrganizationID   string           `json:"organization_id"`
		OrganizationName string           `json:"organization_name"`
		URIs             []string         `json:"uris"`
		Users            *string          `json:"users"`
		ApplicationID    string           `json:"application_id"`
	}{r.base, map[string]int64{"fds": 16384}, a.Name, []string{}, a.Name, acc.space.Name, acc.space.GUID, org.GUID, org.Name, []string{}, nil, a.GUID}
	env := a.Env
	if env == nil {
		env = map[string]json.RawMessage{}
	}
	services, err := s.vcapServices(r, a.GUID)
	if err != nil {
		return err
	}
	staging, err := s.envGroupVars(r, "staging")
	if err != nil {
		return err
	}
	running, err := s.envGroupVars(r, "running")
	if err != nil {
		return err
	}
	return r.reply(200, struct {
		StagingEnv  map[string]string          `json:"staging_env_json"`
		RunningEnv  map[string]string          `json:"running_env_json"`
		EnvVars     map[string]json.RawMessage `json:"environment_variables"`
		SystemEnv   map[string]any             `json:"system_env_json"`
		Application map[string]any             `json:"application_env_json"`
	}{staging, running, env, map[string]any{"VCAP_SERVICES": services}, map[string]any{"VCAP_APPLICATION": vcapApp}})
}

func (s *Server) getAppPermissions(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	return r.reply(200, struct {
		ReadBasic     bool `json:"read_basic_data"`
		ReadSensitive bool `json:"read_sensitive_data"`
	}{acc.roles.read, acc.roles.secrets})
}

// getSSHEnabled answers GET /v3/apps/:guid/ssh_enabled with the first
// reason that turns ssh off (cc:app/presenters/v3/app_ssh_status_presenter.rb).
func (s *Server) getSSHEnabled(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	out := struct {
		Enabled bool   `json:"enabled"`
		Reason  string `json:"reason"`
	}{Enabled: acc.app.SSHEnabled && acc.space.AllowSSH}
	switch {
	case !acc.space.AllowSSH:
		out.Reason = "Disabled for space " + acc.space.Name
	case !acc.app.SSHEnabled:
		out.Reason = "Disabled for this app"
	}
	return r.reply(200, out)
}

func (s *Server) listAppFeatures(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	out := struct {
		Resources  []featureJSON `json:"resources"`
		Pagination struct {
			TotalResults int   `json:"total_results"`
			TotalPages   int   `json:"total_pages"`
			First        link  `json:"first"`
			Last         link  `json:"last"`
			Next         *link `json:"next"`
			Previous     *link `json:"previous"`
		} `json:"pagination"`
	}{}
	for _, f := range appFeatures {
		out.Resources = append(out.Resources, featureJSON{Name: f.name, Description: f.description, Enabled: *featureFlag(&acc.app, f.name)})
	}
	// CC's features list has a fixed one-page pagination with relative hrefs.
	self := "/v3/apps/" + acc.app.GUID + "/features"
	out.Pagination.TotalResults, out.Pagination.TotalPages = len(out.Resources), 1
	out.Pagination.First, out.Pagination.Last = link{Href: self}, link{Href: self}
	return r.reply(200, out)
}

func (s *Server) getAppFeature(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	for _, f := range appFeatures {
		if f.name == r.params[1] {
			return r.reply(200, featureJSON{Name: f.name, Description: f.description, Enabled: *featureFlag(&acc.app, f.name)})
		}
	}
	return errNotFound("Feature")
}

func (s *Server) patchAppFeature(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "enabled")
	if err != nil {
		return err
	}
	enabled, err := o.boolean("enabled", "Enabled")
	if err != nil {
		return err
	}
	if enabled == nil {
		return errUnprocessable("Enabled must be a boolean")
	}
	acc, err := s.writableApp(r, r.params[0])
	if err != nil {
		return err
	}
	for _, f := range appFeatures {
		if f.name != r.params[1] {
			continue
		}
		a := acc.app
		*featureFlag(&a, f.name) = *enabled
		a.UpdatedAt = s.store.Now()
		if err := s.store.UpdateApp(r.ctx, a); err != nil {
			return storeErr(err, "App")
		}
		return r.reply(200, featureJSON{Name: f.name, Description: f.description, Enabled: *enabled})
	}
	return errNotFound("Feature")
}

// startApp is POST /v3/apps/:guid/actions/start. v3 refuses an app with no
// current droplet (cc:app/controllers/v3/apps_controller.rb#start).
func (s *Server) startApp(r *request) error { return s.setState(r, "STARTED", "audit.app.start") }

func (s *Server) stopApp(r *request) error { return s.setState(r, "STOPPED", "audit.app.stop") }

func (s *Server) restartApp(r *request) error { return s.setState(r, "STARTED", "audit.app.restart") }

func (s *Server) setState(r *request, state, eventType string) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	// CC looks for the droplet before it checks the role, so a reader
	// starting an app without one gets 422, not 403 (AppsV3Controller#start).
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	if state == "STARTED" && acc.app.DropletGUID == nil {
		return errUnprocessable("Assign a droplet before starting this app.")
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	if state == "STARTED" && acc.app.LifecycleType == "docker" {
		if err := s.requireFlag(r, "diego_docker"); err != nil {
			return err
		}
	}
	if err := s.stateQuotaErr(r.ctx, acc, state, eventType == "audit.app.restart"); err != nil {
		return err
	}
	a := acc.app
	// A start gives every process a new version, as CC's AppStart does.
	bump := state == "STARTED" && (a.State != "STARTED" || eventType == "audit.app.restart")
	a.State, a.UpdatedAt = state, s.store.Now()
	if err := s.store.SetAppState(r.ctx, a.GUID, state, a.UpdatedAt, bump, s.appEvent(r, eventType, a, acc.space, nil)); err != nil {
		return storeErr(err, "App")
	}
	if err := s.restartUsage(r, acc.app, eventType); err != nil {
		return err
	}
	// The instances start (or restart) now, or go down (running.go).
	if err := s.placeApp(r.ctx, a.GUID, state); err != nil {
		return errInternal(err)
	}
	return r.reply(200, presentApp(r.base, a))
}

// spaceToWrite returns the space a create writes into, as CC checks it: a
// space the user cannot see reads as missing (422 "Invalid space"), one it
// can see but not write to is 403.
func (s *Server) spaceToWrite(r *request, guid string) (store.Space, error) {
	sp, err := s.writableSpace(r, guid)
	if isNotFound(err) {
		return sp, errUnprocessable("Invalid space. Ensure that the space exists and you have access to it.")
	}
	return sp, err
}

// writableSpace reads the space guid names: 404 Space when the caller
// cannot see it, 403 when it can but may not write to it.
func (s *Server) writableSpace(r *request, guid string) (store.Space, error) {
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), guid)
	if err != nil {
		return sp, storeErr(err, "Space")
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return sp, errInternal(err)
	}
	return sp, roles.writeErr()
}
