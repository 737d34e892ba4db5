package v2api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 app writes (MAPPING §2): POST, PUT and DELETE /v2/apps. CC does
// each in one database transaction; the gateway makes several v3 calls, so
// it undoes the earlier ones when a later one fails (DESIGN, "Writes are
// all-or-nothing") and answers the v2 error of the call that failed.

// v2AppCreate answers POST /v2/apps (MAPPING §2.2): 201 with Location and
// the v2 app. A failure after POST /v3/apps deletes the new app again.
func (g *API) v2AppCreate(ctx *fasthttp.RequestCtx) error {
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	req, err := translate.ParseAppRequest(body, true)
	if err != nil {
		return err
	}
	if req.DockerCredentialsGiven() && req.DockerImage == nil {
		return translate.DockerImageMissing()
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if *req.State == translate.StateStarted && req.DockerImage == nil {
		// A new buildpack app has no bits, which CC's
		// validate_package_is_uploaded! refuses to start.
		return translate.AppPackageInvalid("bits have not been uploaded")
	}
	c := call(ctx)
	spaceGUID := *req.SpaceGUID
	admin := isAdmin(ctx)
	var stackName string
	err = parallel(
		func() error { return g.checkEnableSSH(c, req, spaceGUID, admin) },
		func() (err error) { stackName, err = g.stackName(c, req.StackGUID, spaceGUID); return },
	)
	if err != nil {
		return err
	}
	v3Body, err := translate.AppCreateBody(req, stackName)
	if err != nil {
		return err
	}
	app, err := g.v3.CreateApp(c, v3Body)
	resume := false
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity && strings.HasPrefix(e.Detail(), "Invalid space") {
			// v3 folds a missing and an invisible space into one 422; CC v2
			// answers AppNotFound naming the space (MAPPING §2.2 step 2).
			return withCause(translate.AppNotFound(spaceGUID), err)
		}
		err = v2WriteError(err, spaceGUID, req.StrippedName())
		if asError(err).Name != "AppNameTaken" {
			return err
		}
		// The name may be taken by this very create, made half-way by a
		// gateway that died: its retry finishes it.
		if app, resume = g.halfMade(c, req); !resume {
			return err
		}
		g.log.Info("a retried v2 create finishes the app a failed attempt left half-made", "app", app.GUID)
	}
	g.fault("create:app")
	if err := g.completeCreate(c, app, req, resume); err != nil {
		g.log.Warn("v2 app create failed after POST /v3/apps; deleting the app", "app", app.GUID, "err", err)
		g.undoCreate(c, app)
		return err
	}
	g.clearCreateIntent(c, app)
	// The app exists now: reading it back is tried twice, and an error
	// after that names the app, so that a client does not take its own
	// app for a taken name when it tries again.
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/apps/"+app.GUID)
	err = g.renderApp(ctx, c, app.GUID, fasthttp.StatusCreated)
	if err != nil {
		err = g.renderApp(ctx, c, app.GUID, fasthttp.StatusCreated)
	}
	if err != nil {
		e := asError(err)
		e.Description += " (the app was created: /v2/apps/" + app.GUID + ")"
		return e
	}
	return nil
}

// halfMade finds the app a create with the same request began and did not
// finish (AnnotationCreateIntent), named as req names it in its space.
func (g *API) halfMade(c ccv3.Call, req translate.AppRequest) (translate.V3App, bool) {
	page, err := g.v3.ListApps(c, ccv3.AppsQuery{Names: []string{req.StrippedName()}, SpaceGUIDs: []string{*req.SpaceGUID}})
	if err != nil || len(page.Resources) != 1 {
		return translate.V3App{}, false
	}
	app := page.Resources[0]
	intent, ok := app.Metadata.Annotations[translate.AnnotationCreateIntent]
	return app, ok && translate.SameCreate(intent, req)
}

// clearCreateIntent removes the record of a finished create. Failing to is
// no failure of the create: finishing it again on a later read changes
// nothing (every step of completeCreate is idempotent).
func (g *API) clearCreateIntent(c ccv3.Call, app translate.V3App) {
	if _, ok := app.Metadata.Annotations[translate.AnnotationCreateIntent]; !ok && app.Metadata.Annotations != nil {
		return
	}
	body, err := translate.ClearCreateIntentBody()
	if err == nil {
		_, err = g.v3.UpdateApp(c, app.GUID, body)
	}
	if err != nil {
		g.log.Info("the record of a finished v2 create could not be cleared; a later read clears it", "app", app.GUID, "err", err)
	}
}

// fault is a test's hook into a write at a named step: it may stop the
// write there as a gateway killed at that point would stop it. Nil in
// service.
func (g *API) fault(step string) {
	if g.hooks.Fault != nil {
		g.hooks.Fault(step)
	}
}

// completeCreate makes the v3 calls of a create after POST /v3/apps
// (MAPPING §2.2 steps 6 to 10). Each is idempotent, so a create that a
// dead gateway left half-made (AnnotationCreateIntent) is finished by
// running it again (resume); only a docker package is then looked for
// first, since a second POST would make a second one.
func (g *API) completeCreate(c ccv3.Call, app translate.V3App, req translate.AppRequest, resume bool) error {
	name := req.StrippedName()
	if req.EnableSSH != nil {
		body, err := translate.SSHBody(*req.EnableSSH)
		if err != nil {
			return err
		}
		if err := g.v3.PatchSSH(c, app.GUID, body); err != nil {
			return v2WriteError(err, app.GUID, name)
		}
		g.fault("create:ssh")
	}
	if req.ChangesProcess() || req.ChangesScale() {
		web, err := g.v3.WebProcess(c, app.GUID)
		if err != nil {
			return v2WriteError(err, app.GUID, name)
		}
		pp, err := translate.PlanProcessPatch(req, web, nil)
		if err != nil {
			return err
		}
		if pp.Do != nil {
			if _, err := g.v3.UpdateProcess(c, web.GUID, pp.Do); err != nil {
				return v2WriteError(err, app.GUID, name)
			}
			g.fault("create:process")
		}
		sp, err := translate.PlanScale(req, web)
		if err != nil {
			return err
		}
		if sp.Do != nil {
			if _, err := g.v3.ScaleProcess(c, web.GUID, sp.Do); err != nil {
				return v2WriteError(err, app.GUID, name)
			}
			g.fault("create:scale")
		}
	}
	if req.DockerImage != nil && resume {
		// Finishing a create: a docker package may be there already.
		pkgs, err := g.v3.LatestPackages(c, []string{app.GUID})
		if err != nil {
			return v2WriteError(err, app.GUID, name)
		}
		if p, ok := pkgs[app.GUID]; ok && p.Type == "docker" {
			req.DockerImage = nil
		}
	}
	if req.DockerImage != nil {
		body, err := translate.DockerPackageBody(app.GUID, *req.DockerImage, req)
		if err != nil {
			return err
		}
		if _, err := g.v3.CreatePackage(c, body); err != nil {
			return v2WriteError(err, app.GUID, name)
		}
		g.fault("create:package")
	}
	if *req.State == translate.StateStarted {
		// CC saves the process STARTED on create but neither stages nor
		// starts it; the gateway runs the PUT state=STARTED flow instead
		// (MAPPING §2.2 step 10, the documented deviation).
		return g.startV2(c, app.GUID, nil)
	}
	return nil
}

// undoCreate deletes an app whose create failed half-way, and waits for the
// deletion so that the name is free again when the client retries.
func (g *API) undoCreate(c ccv3.Call, app translate.V3App) {
	job, err := g.v3.DeleteApp(c, app.GUID)
	if err == nil {
		err = g.waitJob(c, job, app)
	}
	if err != nil {
		g.log.Error("deleting a half-created v2 app failed; it is left behind", "app", app.GUID, "name", app.Name, "err", err)
	}
}

// v2AppUpdate answers PUT /v2/apps/:guid (MAPPING §2.3) with 201 and the v2
// app: CC's ModelController answers updates HTTP::CREATED
// (cc:app/controllers/runtime/apps_controller.rb#update; MAPPING §6).
func (g *API) v2AppUpdate(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	// CC parses the body before it looks the app up.
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	req, err := translate.ParseAppRequest(body, false)
	if err != nil {
		return err
	}
	c := call(ctx)
	var app translate.V3App
	var web translate.V3Process
	err = parallel(
		func() (err error) { app, err = g.v3.GetApp(c, guid); return },
		func() (err error) { web, err = g.v3.WebProcess(c, guid); return },
	)
	if err != nil {
		return v2Error(err, guid)
	}
	if req.Ports != nil && len(req.Ports) == 0 {
		req.Ports = nil // AppsController#before_update: ignore_empty_ports!
	}
	spaceGUID := app.Relationships.Space.GUID()
	if err := g.checkEnableSSH(c, req, spaceGUID, isAdmin(ctx)); err != nil {
		return err
	}
	if req.SpaceGUID != nil && *req.SpaceGUID != spaceGUID {
		// v2 moved apps between spaces; v3 has no way to (MAPPING §2.3 step 6).
		return translate.AppInvalid("space_guid cannot be changed")
	}
	if err := translate.CheckLifecycleChange(req, app.Lifecycle.Type); err != nil {
		return err
	}
	starting := req.State != nil && *req.State == translate.StateStarted
	var (
		latest    *translate.V3Package
		current   *translate.V3Droplet
		env       map[string]json.RawMessage
		redacted  bool
		sshOn     bool
		stackName *string
	)
	var fetch []func() error
	if req.DockerImage != nil || req.DockerCredentialsGiven() || starting {
		fetch = append(fetch, func() error {
			pkgs, err := g.v3.LatestPackages(c, []string{guid})
			if p, ok := pkgs[guid]; ok {
				latest = &p
			}
			return err
		})
	}
	if req.Command != nil || starting {
		fetch = append(fetch, func() (err error) { current, err = g.v3.CurrentDroplet(c, guid); return })
	}
	if req.EnvironmentJSON != nil {
		fetch = append(fetch, func() (err error) { env, redacted, err = g.v3.EnvVars(c, guid); return })
	}
	if req.EnableSSH != nil {
		fetch = append(fetch, func() (err error) { sshOn, err = g.v3.SSHEnabled(c, guid); return })
	}
	if req.StackGUID != nil {
		fetch = append(fetch, func() error {
			name, err := g.stackName(c, req.StackGUID, guid)
			stackName = &name
			return err
		})
	}
	if err := parallel(fetch...); err != nil {
		return v2Error(err, guid)
	}
	if redacted {
		// The caller may not read the variables, so may not write them.
		return errNotAuthorized(nil)
	}
	if req.DockerCredentialsGiven() && req.DockerImage == nil && (latest == nil || latest.Type != "docker") {
		return translate.DockerImageMissing()
	}
	// validate_package_exists!: starting an app that is not started needs a
	// droplet or a package ready to stage (MAPPING §2.3 step 9).
	started := translate.AppState(translate.AppBundle{App: app}) == translate.StateStarted
	if starting && !started && current == nil && req.DockerImage == nil && (latest == nil || latest.State != "READY") {
		return translate.AppPackageInvalid("bits have not been uploaded")
	}
	if err := req.Validate(); err != nil {
		return err
	}
	steps, err := g.planUpdate(c, req, app, web, planInputs{current: current, latest: latest, env: env, sshOn: sshOn, stackName: stackName})
	if err != nil {
		return err
	}
	if err := g.runSteps(guid, steps); err != nil {
		return err
	}
	return g.renderApp(ctx, c, guid, fasthttp.StatusCreated)
}

// planInputs is what an update read before it plans its writes.
type planInputs struct {
	current   *translate.V3Droplet
	latest    *translate.V3Package
	env       map[string]json.RawMessage
	sshOn     bool
	stackName *string
}

// writeStep is one v3 write of an update and the write that undoes it.
type writeStep struct {
	// part names the v2 fields the step writes, for the logs and for the
	// client when the step can no longer be undone.
	part string
	do   func() error
	undo func() error
}

// planUpdate lists the writes of an update in CC's order (MAPPING §2.3): the
// app (name, lifecycle, annotations), its environment, ssh, the web process,
// its scale, a docker package, and last the state change, which needs
// everything else written first (staging uses the new memory and disk).
func (g *API) planUpdate(c ccv3.Call, req translate.AppRequest, app translate.V3App, web translate.V3Process, in planInputs) ([]writeStep, error) {
	guid, name := app.GUID, app.Name
	if req.Name != nil {
		name = req.StrippedName()
	}
	fail := func(err error) error { return v2WriteError(err, guid, name) }
	var steps []writeStep
	stopping := req.State != nil && *req.State == translate.StateStopped
	// newPkg is the docker package the update writes, which a start then
	// stages: it is the newest, whatever v3's timestamps say.
	var newPkg *translate.V3Package

	ap, err := translate.PlanAppPatch(req, app, in.stackName, stopping)
	if err != nil {
		return nil, err
	}
	if ap.Do != nil {
		steps = append(steps, writeStep{
			part: fieldsGiven(map[string]bool{"name": req.Name != nil, "buildpack": req.Buildpack != nil, "stack_guid": req.StackGUID != nil,
				"production": req.Production != nil, "console": req.Console != nil, "debug": req.Debug != nil,
				"health_check_type": req.HealthCheckType != nil, "state": stopping}),
			do:   func() error { _, err := g.v3.UpdateApp(c, guid, ap.Do); return fail(err) },
			undo: func() error { _, err := g.v3.UpdateApp(c, guid, ap.Undo); return err },
		})
	}
	if req.EnvironmentJSON != nil {
		ep, err := translate.PlanEnvPatch(in.env, req.EnvironmentJSON)
		if err != nil {
			return nil, err
		}
		if ep.Do != nil {
			steps = append(steps, writeStep{part: "environment_json",
				do:   func() error { return fail(g.v3.PatchEnvVars(c, guid, ep.Do)) },
				undo: func() error { return g.v3.PatchEnvVars(c, guid, ep.Undo) },
			})
		}
	}
	if req.EnableSSH != nil && *req.EnableSSH != in.sshOn {
		do, err := translate.SSHBody(*req.EnableSSH)
		if err != nil {
			return nil, err
		}
		undo, err := translate.SSHBody(in.sshOn)
		if err != nil {
			return nil, err
		}
		steps = append(steps, writeStep{part: "enable_ssh",
			do:   func() error { return fail(g.v3.PatchSSH(c, guid, do)) },
			undo: func() error { return g.v3.PatchSSH(c, guid, undo) },
		})
	}
	pp, err := translate.PlanProcessPatch(req, web, in.current)
	if err != nil {
		return nil, err
	}
	if pp.Do != nil {
		steps = append(steps, writeStep{
			part: fieldsGiven(map[string]bool{"command": req.Command != nil, "health_check_type": req.HealthCheckType != nil,
				"health_check_timeout": req.HealthCheckTimeout != nil, "health_check_http_endpoint": req.HealthCheckHTTPEndpoint != nil}),
			do:   func() error { _, err := g.v3.UpdateProcess(c, web.GUID, pp.Do); return fail(err) },
			undo: func() error { _, err := g.v3.UpdateProcess(c, web.GUID, pp.Undo); return err },
		})
	}
	sp, err := translate.PlanScale(req, web)
	if err != nil {
		return nil, err
	}
	if sp.Do != nil {
		steps = append(steps, writeStep{
			part: fieldsGiven(map[string]bool{"instances": req.Instances != nil, "memory": req.Memory != nil,
				"disk_quota": req.DiskQuota != nil, "log_rate_limit": req.LogRateLimit != nil}),
			do:   func() error { _, err := g.v3.ScaleProcess(c, web.GUID, sp.Do); return fail(err) },
			undo: func() error { _, err := g.v3.ScaleProcess(c, web.GUID, sp.Undo); return err },
		})
	}
	if image, ok := translate.DockerPackageImage(req, in.latest); ok {
		body, err := translate.DockerPackageBody(guid, image, req)
		if err != nil {
			return nil, err
		}
		steps = append(steps, writeStep{part: "docker_image",
			do: func() error {
				pkg, err := g.v3.CreatePackage(c, body)
				newPkg = &pkg
				return fail(err)
			},
			undo: func() error { return g.v3.DeletePackage(c, newPkg.GUID) },
		})
	}
	switch {
	case req.State == nil:
	case stopping:
		if app.State == translate.StateStarted {
			steps = append(steps, writeStep{part: "state",
				do: func() error { _, err := g.v3.AppAction(c, guid, "stop"); return fail(err) },
			})
		}
	default:
		steps = append(steps, writeStep{part: "state", do: func() error { return g.startV2(c, guid, newPkg) }})
	}
	return steps, nil
}

// fieldsGiven lists, in CC's field order, the v2 fields marked true.
func fieldsGiven(given map[string]bool) string {
	order := []string{"name", "buildpack", "stack_guid", "production", "console", "debug", "command", "health_check_type",
		"health_check_timeout", "health_check_http_endpoint", "instances", "memory", "disk_quota", "log_rate_limit", "state"}
	var out []string
	for _, f := range order {
		if given[f] {
			out = append(out, f)
		}
	}
	return strings.Join(out, ", ")
}

// runSteps runs the steps in order. When one fails it undoes those before
// it, newest first, and returns the failed step's error; a step that could
// not be undone is named in that error, so that no change the client is
// not told about stays behind.
func (g *API) runSteps(guid string, steps []writeStep) error {
	for i, s := range steps {
		err := s.do()
		if err == nil {
			continue
		}
		var stuck []string
		for j := i - 1; j >= 0; j-- {
			if steps[j].undo == nil {
				continue
			}
			if uerr := steps[j].undo(); uerr != nil {
				g.log.Error("undoing a v2 app update step failed", "app", guid, "part", steps[j].part, "err", uerr)
				stuck = append(stuck, steps[j].part)
			}
		}
		var left *leftBehind
		if errors.As(err, &left) {
			stuck = append([]string{s.part + ": " + left.what}, stuck...)
		}
		g.log.Warn("v2 app update failed; the steps before it were undone", "app", guid, "part", s.part, "undone", i-len(stuck), "err", err)
		if len(stuck) == 0 {
			return err
		}
		e := asError(err)
		e.Description += " (these changes were applied and could not be undone: " + strings.Join(stuck, "; ") + ")"
		return e
	}
	return nil
}

// leftBehind is the error of a step that failed after it had made a change
// it cannot take back (v3 cannot cancel a build); runSteps names the
// change beside those it could not undo.
type leftBehind struct {
	err  error
	what string
}

func (l *leftBehind) Error() string { return l.err.Error() + " (left behind: " + l.what + ")" }
func (l *leftBehind) Unwrap() error { return l.err }

// clearPendingStart clears the record of a pending start that has been
// carried out. Failing to is no failure of the start: a stale record
// names a build that is no longer waiting, which finishPendingStarts
// clears on a later read.
func (g *API) clearPendingStart(c ccv3.Call, guid string) {
	if err := g.setPendingStart(c, guid, ""); err != nil {
		g.log.Warn("clearing a finished v2 start's record failed; a later read clears it", "app", guid, "err", err)
	}
}

// startV2 realises state STARTED (MAPPING §2.4): it starts an app whose
// package is staged; otherwise it stages the latest ready package and
// records the pending start (AnnotationPendingStart), which a later read
// finishes (finishPendingStarts), and the app reads STARTED meanwhile, as
// CC v2 answered before its staging ended.
//
// newPkg, when not nil, is a package the same request just wrote: the one
// to stage. v3 orders by created_at, in whole seconds, so a package made
// in the same second as the previous one need not list as the latest.
func (g *API) startV2(c ccv3.Call, guid string, newPkg *translate.V3Package) error {
	app, err := g.v3.GetApp(c, guid)
	if err != nil {
		return v2WriteError(err, guid, "")
	}
	bundles, err := g.appBundles(c, []translate.V3App{app}, nil, translate.Inline{})
	if err != nil {
		return v2WriteError(err, guid, app.Name)
	}
	if len(bundles) == 0 {
		return appNotFound(guid)
	}
	b := bundles[0]
	if newPkg != nil && (b.LatestPackage == nil || b.LatestPackage.GUID != newPkg.GUID) {
		b.LatestPackage = newPkg
	}
	fail := func(err error) error { return v2WriteError(err, guid, app.Name) }
	if b.CurrentDroplet, err = g.currentDroplet(c, b); err != nil {
		return fail(err)
	}
	pending := app.Metadata.Annotations[translate.AnnotationPendingStart]
	switch {
	case translate.PackageState(b) == translate.PackageStateStaged || b.LatestPackage == nil && b.CurrentDroplet != nil:
		if app.State != translate.StateStarted {
			if err := g.appAction(c, guid, "start"); err != nil {
				return fail(err)
			}
		}
		if pending != "" {
			g.clearPendingStart(c, guid)
		}
		return nil
	case b.LatestPackage != nil && b.LatestPackage.State == "READY":
	case b.CurrentDroplet != nil:
		// The latest package is still being uploaded: run what is staged.
		if app.State != translate.StateStarted {
			return fail(g.appAction(c, guid, "start"))
		}
		return nil
	default:
		return translate.AppPackageInvalid("bits have not been uploaded")
	}
	if app.State != translate.StateStarted && pending == "" {
		// A start not yet accepted: CC v2 refused it over quota at once.
		if err := g.startQuotaErr(c, b); err != nil {
			return err
		}
	}
	if lb := b.LatestBuild; lb != nil && lb.State == "STAGED" {
		// A build of this package has staged, its droplet not yet assigned
		// (a pending start nobody has read since): finish it now.
		build, err := g.v3.GetBuild(c, lb.GUID)
		if err != nil {
			return fail(err)
		}
		if build.PackageGUID() == b.LatestPackage.GUID && build.DropletGUID() != "" {
			return fail(g.finishStart(c, b, build))
		}
	}
	buildGUID, recorded := "", false
	if lb := b.LatestBuild; lb != nil && lb.State == "STAGING" {
		buildGUID = lb.GUID
	} else {
		body, err := translate.BuildBody(b.LatestPackage.GUID, b.Web.MemoryInMB, b.Web.DiskInMB)
		if err != nil {
			return err
		}
		// The start is recorded before its build is made: a gateway that
		// dies between the two leaves a record that any read or sweep
		// finishes (finishWrites), not a build nobody starts the app with.
		if pending != translate.PendingStartRequested {
			if err := g.setPendingStart(c, guid, translate.PendingStartRequested); err != nil {
				return fail(err)
			}
		}
		recorded = true
		build, err := g.v3.CreateBuild(c, body)
		var e *ccv3.Error
		if errors.As(err, &e) && e.Title() == "CF-StagingInProgress" {
			// One build stages at a time: the one under way stages this app.
			staging, lerr := g.v3.StagingBuilds(c, guid)
			if lerr == nil && len(staging) > 0 {
				build, err = staging[0], nil
			}
		}
		if err != nil {
			// Nothing was begun: the record goes back to what it was.
			if pending != translate.PendingStartRequested {
				if rerr := g.setPendingStart(c, guid, pending); rerr != nil {
					g.log.Info("the record of a start that made no build could not be restored; a later read settles it", "app", guid, "err", rerr)
				}
			}
			return fail(err)
		}
		buildGUID = build.GUID
		g.fault("start:build")
	}
	if pending == buildGUID {
		return nil
	}
	if err := g.setPendingStart(c, guid, buildGUID); err != nil {
		if recorded {
			// The start is on record as requested: whoever reads the app
			// next finds the build and carries the start on.
			g.log.Info("a v2 start's build could not be recorded; the requested start is finished by a later read", "app", guid, "err", err)
			return nil
		}
		return &leftBehind{fail(err), "staging began"}
	}
	return nil
}

// setPendingStart records the build of a pending start, or clears the
// record for "".
func (g *API) setPendingStart(c ccv3.Call, guid, buildGUID string) error {
	body, err := translate.PendingStartBody(buildGUID)
	if err != nil {
		return err
	}
	_, err = g.v3.UpdateApp(c, guid, body)
	return err
}

// finishStart assigns a staged build's droplet and runs the app, which a
// v2 start asked for (MAPPING §2.4): a restart when the app was running
// another droplet, a start when it was stopped. It is safe to run twice,
// as two gateways may: the second finds the droplet assigned and the app
// started, and only clears the record.
func (g *API) finishStart(c ccv3.Call, b translate.AppBundle, build ccv3.Build) error {
	guid, droplet := b.App.GUID, build.DropletGUID()
	cur, err := g.currentDroplet(c, b)
	if err != nil {
		return err
	}
	current := ""
	if cur != nil {
		current = cur.GUID
	}
	running := b.App.State == translate.StateStarted
	if current != droplet {
		body, err := translate.CurrentDropletBody(droplet)
		if err != nil {
			return err
		}
		if err := g.v3.SetCurrentDroplet(c, guid, body); err != nil {
			return err
		}
		action := "start"
		if running {
			action = "restart"
		}
		if err := g.appAction(c, guid, action); err != nil {
			return &leftBehind{err, "the staged droplet became current"}
		}
	} else if !running {
		if err := g.appAction(c, guid, "start"); err != nil {
			return err
		}
	}
	if b.App.Metadata.Annotations[translate.AnnotationPendingStart] != "" {
		g.clearPendingStart(c, guid)
	}
	return nil
}

// currentDroplet is the bundle's current droplet, read with a GET when the
// bundle has none: appBundles reads it only for apps whose v3 resource
// names one, which a Cloud Controller's app resource does not.
func (g *API) currentDroplet(c ccv3.Call, b translate.AppBundle) (*translate.V3Droplet, error) {
	if b.CurrentDroplet != nil {
		return b.CurrentDroplet, nil
	}
	return g.v3.CurrentDroplet(c, b.App.GUID)
}

// appAction starts, restarts or stops an app. A start that v3 refuses
// while the app is started anyway (another gateway got there first)
// counts as done.
func (g *API) appAction(c ccv3.Call, guid, action string) error {
	_, err := g.v3.AppAction(c, guid, action)
	if err == nil || action == "stop" {
		return err
	}
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
		if app, gerr := g.v3.GetApp(c, guid); gerr == nil && app.State == translate.StateStarted {
			return nil
		}
	}
	return err
}

// finishPendingStarts finishes the v2 writes a read meets unfinished, then
// returns the bundles read again: the starts that waited for staging
// (MAPPING §2.4), for each app whose recorded build (AnnotationPendingStart)
// has STAGED: it assigns the droplet, starts the app and clears the
// record; and the writes a gateway that died left half-made (a create's
// AnnotationCreateIntent, a start recorded as PendingStartRequested before
// its build). The records live in the backing store, so whichever gateway
// reads the app first does this, and a gateway that dies half-way leaves
// it for the next read. A FAILED build keeps the record: the app reads
// STARTED with package_state FAILED until the client stops it or starts it
// again, as in CC v2. Reads never fail because of it: a write that cannot
// be finished now (a reader without write access, an upstream error) is
// logged and left for later.
func (g *API) finishPendingStarts(c ccv3.Call, bundles []translate.AppBundle) []translate.AppBundle {
	due := map[string]int{}
	var guids []string
	for i, b := range bundles {
		ann, lb := b.App.Metadata.Annotations, b.LatestBuild
		p := ann[translate.AnnotationPendingStart]
		_, creating := ann[translate.AnnotationCreateIntent]
		// The recorded build is finished when it is the latest and STAGED.
		// Another build that is the latest and not staging came after it
		// (every v2 start records the build it makes): a v3 client has
		// deployed since, and the pending start only needs forgetting.
		if creating || p == translate.PendingStartRequested ||
			p != "" && lb != nil && (lb.GUID == p && lb.State == "STAGED" || lb.GUID != p && lb.State != "STAGING") {
			due[b.App.GUID] = i
			guids = append(guids, b.App.GUID)
		}
	}
	if len(guids) == 0 {
		return bundles
	}
	var mu sync.Mutex
	var done []string
	removed := map[string]bool{}
	_ = g.v3.PerApp(guids, func(guid string) error {
		outcome, err := g.finishWrite(c, bundles[due[guid]])
		if err != nil {
			g.log.Info("an unfinished v2 write could not be finished on this read", "app", guid, "err", err)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		switch outcome {
		case writeFinished:
			done = append(done, guid)
		case writeRemoved:
			removed[guid] = true
		}
		return nil
	})
	if len(done) == 0 && len(removed) == 0 {
		return bundles
	}
	g.invalidate([]byte("apps"))
	out := make([]translate.AppBundle, 0, len(bundles))
	for _, b := range bundles {
		if !removed[b.App.GUID] {
			out = append(out, b)
		}
	}
	if len(done) == 0 {
		return out
	}
	apps := make([]translate.V3App, len(done))
	var stacks []ccv3.Stack
	err := parallel(
		func() (err error) { stacks, err = g.stacks(c); return },
		func() error {
			return g.v3.PerApp(done, func(guid string) error {
				a, err := g.v3.GetApp(c, guid)
				mu.Lock()
				defer mu.Unlock()
				for i, d := range done {
					if d == guid {
						apps[i] = a
					}
				}
				return err
			})
		},
	)
	var fresh []translate.AppBundle
	if err == nil {
		fresh, err = g.appBundles(c, apps, stacks, bundles[due[done[0]]].Inline)
	}
	if err != nil {
		g.log.Info("reading apps again after finishing their writes failed", "err", err)
		return out
	}
	byGUID := map[string]translate.AppBundle{}
	for _, f := range fresh {
		byGUID[f.App.GUID] = f
	}
	for i, b := range out {
		if f, ok := byGUID[b.App.GUID]; ok {
			out[i] = f
		}
	}
	return out
}

// What finishWrite did with an app's unfinished write.
type writeOutcome int

const (
	writeWaiting  writeOutcome = iota // nothing yet: its build still stages
	writeFinished                     // done: the app reads differently now
	writeRemoved                      // a create that cannot be finished was undone
)

// finishWrite carries an app's unfinished v2 write on (finishPendingStarts).
func (g *API) finishWrite(c ccv3.Call, b translate.AppBundle) (writeOutcome, error) {
	guid, ann := b.App.GUID, b.App.Metadata.Annotations
	if intent, ok := ann[translate.AnnotationCreateIntent]; ok {
		return g.finishCreate(c, b.App, intent)
	}
	pending := ann[translate.AnnotationPendingStart]
	if pending == translate.PendingStartRequested {
		// The start was recorded and its build perhaps never made: startV2
		// picks up from whatever it finds (a staged, staging or no build).
		if err := g.startV2(c, guid, nil); err != nil {
			return writeWaiting, err
		}
		g.log.Info("finished a v2 start a failed attempt left recorded", "app", guid)
		return writeFinished, nil
	}
	if b.LatestBuild.GUID != pending {
		// Superseded: assigning the older droplet would undo the newer
		// deploy.
		if err := g.setPendingStart(c, guid, ""); err != nil {
			return writeWaiting, err
		}
		return writeFinished, nil
	}
	build, err := g.v3.GetBuild(c, pending)
	if err != nil {
		return writeWaiting, err
	}
	if build.State != "STAGED" || build.DropletGUID() == "" {
		return writeWaiting, nil
	}
	if err := g.finishStart(c, b, build); err != nil {
		return writeWaiting, err
	}
	g.log.Info("finished a pending v2 start", "app", guid, "build", build.GUID, "droplet", build.DropletGUID())
	return writeFinished, nil
}

// finishCreate finishes a create that a gateway left half-made from its
// record (AnnotationCreateIntent). One that gave a docker password, which
// the record does not keep, cannot be finished from it: the client's retry
// finishes it (v2AppCreate), and once no retry can be under way any more
// (twice the upstream request timeout after the app was made) it is
// undone instead, so that nothing the client was never told of stays.
func (g *API) finishCreate(c ccv3.Call, app translate.V3App, intent string) (writeOutcome, error) {
	req, needsSecret, err := translate.ParseCreateIntent(intent)
	if err != nil {
		g.clearCreateIntent(c, app)
		return writeWaiting, fmt.Errorf("proxy: an unreadable create record on app %s: %w", app.GUID, err)
	}
	if needsSecret {
		if time.Since(app.CreatedAt) < 2*g.cfg.UpstreamClient.RequestTimeout {
			return writeWaiting, nil
		}
		g.log.Warn("undoing a v2 create a failed attempt left half-made; its docker password was not kept", "app", app.GUID)
		g.undoCreate(c, app)
		return writeRemoved, nil
	}
	if err := g.completeCreate(c, app, req, true); err != nil {
		return writeWaiting, err
	}
	g.clearCreateIntent(c, app)
	g.log.Info("finished a v2 create a failed attempt left half-made", "app", app.GUID)
	return writeFinished, nil
}

// v2AppDelete answers DELETE /v2/apps/:guid (MAPPING §2.5): 204 once v3's
// delete job has completed. Unless recursive=true, an app with service
// bindings is refused; async is accepted and ignored, as CC ignores it for
// apps.
func (g *API) v2AppDelete(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	recursive := string(ctx.QueryArgs().Peek("recursive")) == "true"
	c := call(ctx)
	var app translate.V3App
	var bindings []translate.V3ServiceCredentialBinding
	fns := []func() error{
		func() (err error) { app, err = g.v3.GetApp(c, guid); return },
		func() error { _, err := g.v3.WebProcess(c, guid); return err }, // no web process, no v2 app
	}
	if !recursive {
		fns = append(fns, func() (err error) { bindings, err = g.v3.AppBindings(c, []string{guid}); return })
	}
	if err := parallel(fns...); err != nil {
		return v2Error(err, guid)
	}
	if len(bindings) > 0 {
		// AssociationNotEmpty names the association and the table of
		// ProcessModel, the v2 app's model.
		return translate.AssociationNotEmpty("service_bindings", "processes")
	}
	job, err := g.v3.DeleteApp(c, guid)
	if err != nil {
		return v2WriteError(err, guid, app.Name)
	}
	if err := g.waitJob(c, job, app); err != nil {
		return err
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// jobPollMax bounds the wait between two reads of a v3 job.
const jobPollMax = 250 * time.Millisecond

// waitJob waits for a v3 app delete job: CC v2 deletes apps
// synchronously, and a failed recursive delete names the app.
func (g *API) waitJob(c ccv3.Call, jobGUID string, app translate.V3App) error {
	return g.awaitJob(c, jobGUID, func(j *translate.V3Job) error {
		var details []string
		for _, e := range j.Errors {
			details = append(details, e.Detail)
		}
		return translate.AppRecursiveDeleteFailed(app.Name, strings.Join(details, "\n"))
	})
}

// renderApp answers the v2 app as a GET of it would, with status.
func (g *API) renderApp(ctx *fasthttp.RequestCtx, c ccv3.Call, guid string, status int) error {
	b, err := g.oneApp(c, guid, translate.Inline{})
	if err != nil {
		return err
	}
	body, err := translate.AppResource(b)
	if err != nil {
		return err
	}
	writeV2(ctx, status, body)
	return nil
}

// v2AppRestage answers POST /v2/apps/:guid/restage
// (cc:app/controllers/runtime/restages_controller.rb; MAPPING §2.4): the
// app is stopped and its latest package staged again, and it starts when
// the build has staged, as a pending v2 start. 201 with the app, which
// reads STARTED and PENDING meanwhile.
func (g *API) v2AppRestage(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	b, err := g.oneApp(c, guid, translate.Inline{})
	if err != nil {
		return err
	}
	switch {
	case b.Web.Instances < 1:
		return translate.StagingError("App must have at least 1 instance to stage.")
	case translate.PackageState(b) == translate.PackageStatePending:
		return translate.NotStaged()
	case b.LatestPackage == nil:
		return translate.AppPackageInvalid("bits have not been uploaded")
	}
	fail := func(err error) error { return v2WriteError(err, guid, b.App.Name) }
	if err := g.appAction(c, guid, "stop"); err != nil {
		return fail(err)
	}
	body, err := translate.BuildBody(b.LatestPackage.GUID, b.Web.MemoryInMB, b.Web.DiskInMB)
	if err != nil {
		return err
	}
	build, err := g.v3.CreateBuild(c, body)
	if err != nil {
		return fail(err)
	}
	if err := g.setPendingStart(c, guid, build.GUID); err != nil {
		return fail(err)
	}
	after, err := g.oneApp(c, guid, translate.Inline{})
	if err != nil {
		return err
	}
	// v3 orders builds by created_at in whole seconds: one made in the
	// same second as the last need not list as the latest. This one is.
	if after.LatestBuild == nil || after.LatestBuild.GUID != build.GUID {
		after.LatestBuild = &build.V3Build
	}
	out, err := translate.AppResource(after)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/apps/"+guid)
	writeV2(ctx, fasthttp.StatusCreated, out)
	return nil
}

// checkEnableSSH is AppsController#verify_enable_ssh: enable_ssh true needs
// the space to allow ssh, unless the caller is an admin, and the
// deployment's allow_app_ssh_access (configured: v3 does not expose it). The
// refusal is InvalidRequest, whose text hides CC's reason (MAPPING §2.2
// step 3).
func (g *API) checkEnableSSH(c ccv3.Call, req translate.AppRequest, spaceGUID string, admin bool) error {
	if req.EnableSSH == nil || !*req.EnableSSH {
		return nil
	}
	if !g.cfg.AllowAppSSHAccess {
		return translate.InvalidRequest()
	}
	if admin {
		return nil
	}
	on, err := g.v3.SpaceSSHEnabled(c, spaceGUID)
	if err != nil {
		return v2Error(err, spaceGUID)
	}
	if !on {
		return translate.InvalidRequest()
	}
	return nil
}

// stackName resolves a v2 stack_guid to the name v3 lifecycles use; an
// unknown guid gives "", which v2 stores as nil, the default stack
// (V2::AppCreate#get_stack_name; MAPPING §2.2 step 5). notFound names the
// guid a 404 of anything else reports.
func (g *API) stackName(c ccv3.Call, stackGUID *string, notFound string) (string, error) {
	if stackGUID == nil {
		return "", nil
	}
	s, err := g.v3.GetStack(c, *stackGUID)
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", v2Error(err, notFound)
	}
	return s.Name, nil
}

func isAdmin(ctx *fasthttp.RequestCtx) bool {
	id := identityOf(ctx)
	return id != nil && id.HasAny(auth.ScopeAdmin)
}

func errNotAuthorized(cause error) *cferr.Error {
	return &cferr.Error{Status: 403, Code: 10003, Name: "NotAuthorized", Description: "You are not authorized to perform the requested action", Cause: cause}
}

// withCause is a translate error as the proxy's, keeping the upstream
// failure behind it for the logs.
func withCause(te *translate.Error, cause error) *cferr.Error {
	return &cferr.Error{Status: te.Status, Code: te.Code, Name: te.Name, Description: te.Description, Cause: cause}
}

// asError returns err as a copy of the proxy's *cferr.Error, so that its
// description can be extended.
func asError(err error) *cferr.Error {
	var e *cferr.Error
	var te *translate.Error
	switch {
	case errors.As(err, &e):
		cp := *e
		return &cp
	case errors.As(err, &te):
		return withCause(te, err)
	}
	return cferr.Unknown(err)
}

// v2WriteError maps a failed v3 write to v2 (MAPPING §5.2): guid is the
// app (or, on create, the space) a 404 names, name the app's name. nil
// stays nil.
func v2WriteError(err error, guid, name string) error {
	if err == nil {
		return nil
	}
	var left *leftBehind
	if errors.As(err, &left) {
		return &leftBehind{v2WriteError(left.err, guid, name), left.what}
	}
	var e *ccv3.Error
	if !errors.As(err, &e) {
		return err
	}
	detail := e.Detail()
	switch {
	case e.Status == fasthttp.StatusNotFound:
		return withCause(translate.AppNotFound(guid), err)
	case strings.Contains(detail, "Custom buildpacks are disabled"):
		// v3's lifecycle validation; v2 named it (MAPPING §5.3).
		return &cferr.Error{Status: 400, Code: 290004, Name: "CustomBuildpacksDisabled", Description: "Custom buildpacks are disabled", Cause: err}
	case e.Status == fasthttp.StatusUnprocessableEntity:
		return withCause(unprocessable(e.Title(), detail, name), err)
	case e.Title() == "CF-FeatureDisabled" && strings.Contains(detail, "diego_docker"):
		// v2 named the docker flag's refusal itself (MAPPING §5.3).
		return &cferr.Error{Status: 400, Code: 320003, Name: "DockerDisabled", Description: "Docker support has not been enabled.", Cause: err}
	case e.Title() == "CF-FeatureDisabled":
		return &cferr.Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail, Cause: err}

	case e.Title() == "CF-OrgSuspended", e.Title() == "CF-SpaceSuspended":
		// v2 access is false in a suspended org or space.
		return errNotAuthorized(err)
	case e.Title() == "CF-MessageParseError":
		return withCause(translate.MessageParseError(strings.TrimPrefix(detail, "Request invalid due to parse error: ")), err)
	case e.Status == fasthttp.StatusBadRequest && e.Title() != "CF-BadQueryParameter":
		return withCause(translate.AppInvalid(detail), err)
	case e.Status == fasthttp.StatusTooManyRequests:
		return &cferr.Error{Status: 429, Code: 10013, Name: "RateLimitExceeded", Description: detail, Cause: err}
	case e.Status == fasthttp.StatusServiceUnavailable && e.Title() == "CF-ServiceUnavailable":
		return &cferr.Error{Status: 503, Code: 10015, Name: "ServiceUnavailable", Description: detail, Cause: err}
	}
	return v2Error(err, guid)
}

// unprocessable maps a v3 422 to the v2 error CC raised for the same
// failure (AppsController.translate_validation_exception and
// V2::AppStage; MAPPING §5.2 and §2.4). v3 words quota failures as
// "<attribute> <policy symbol>" (Sequel's full messages) on processes, and
// as "... limit exceeded" on builds.
func unprocessable(title, detail, name string) *translate.Error {
	d := strings.ToLower(detail)
	const moreMemory = "app requested more memory than available"
	const moreLogRate = "app requested more log rate than available"
	switch {
	case title == "CF-UniquenessError":
		return translate.AppNameTaken(name)
	// The memory problems in the precedence of CC v2's
	// translate_memory_validation_exception, then the instance limits.
	case strings.Contains(d, "memory space_quota_exceeded"), strings.Contains(d, "space's memory limit exceeded"):
		return translate.SpaceQuotaMemoryLimitExceeded(moreMemory)
	case strings.Contains(d, "space_instance_memory_limit_exceeded"):
		return translate.SpaceQuotaInstanceMemoryLimitExceeded()
	case strings.Contains(d, "memory quota_exceeded"), strings.Contains(d, "organization's memory limit exceeded"):
		return translate.AppMemoryQuotaExceeded(moreMemory)
	case strings.Contains(d, "memory zero_or_less"), strings.Contains(d, "memory in mb must be greater than 0"):
		return translate.AppMemoryInvalid()
	case strings.Contains(d, "memory instance_memory_limit_exceeded"):
		return translate.QuotaInstanceMemoryLimitExceeded()
	case strings.Contains(d, "space_app_instance_limit_exceeded"):
		return translate.SpaceQuotaInstanceLimitExceeded()
	case strings.Contains(d, "app_instance_limit_exceeded"):
		return translate.QuotaInstanceLimitExceeded()
	case strings.Contains(d, "log_rate_limit space_quota_exceeded"), strings.Contains(d, "space's log rate limit exceeded"):
		return translate.SpaceQuotaLogRateLimitExceeded(moreLogRate)
	case strings.Contains(d, "log_rate_limit quota_exceeded"), strings.Contains(d, "organization's log rate limit exceeded"):
		return translate.OrgQuotaLogRateLimitExceeded(moreLogRate)
	case strings.Contains(d, "sidecar"):
		return translate.AppMemoryInsufficientForSidecars()
	case strings.Contains(d, "cannot scale this process while a deployment is in flight"):
		return translate.ScaleDisabledDuringDeployment()
	case strings.Contains(d, "cannot update this process while a deployment is in flight"):
		return translate.ProcessUpdateDisabledDuringDeployment()
	case strings.Contains(d, "cannot stop the app while it is deploying"):
		return translate.StopDisabledDuringDeployment()
	case strings.Contains(d, "stack"):
		// v3 refuses a stack in the lifecycle ("Lifecycle Stack must be an
		// existing stack", a disabled or restricted one); v2 raised
		// StackValidationFailed with the message (MAPPING §5.3).
		return translate.StackValidationFailed(strings.TrimPrefix(detail, "Lifecycle "))
	case strings.Contains(d, "disk limit exceeded"):
		// V2::AppStage answers a build's disk failure so.
		return translate.AppInvalid("too much disk requested")
	}
	return translate.AppInvalid(detail)
}
