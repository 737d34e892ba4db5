package backend

import (
	"errors"
	"os"

	"capibridge/backend/store"
)

// Staging limits, capi-release's defaults: staging gets at least
// cc.staging.minimum_staging_memory_mb and minimum_staging_disk_mb
// (StagingMemoryCalculator, StagingDiskCalculator). CC also refuses more
// disk than cc.maximum_app_disk_in_mb ("disk limit exceeded"); the
// embedded CF sets no maximum, for processes as for builds.
const (
	minimumStagingMemoryMB = 1024
	minimumStagingDiskMB   = 4096
)

// unprocessablePackage is BuildsController#unprocessable_package!.
func unprocessablePackage() error {
	return errUnprocessable("Unable to use package. Ensure that the package exists and you have access to it.")
}

// positive reads an optional integer field that must be greater than 0
// (ActiveModel's numericality, only_integer, greater_than: 0).
func (o object) positive(key, label string, min int64) (*int64, error) {
	n, err := o.integer(key, label)
	if err != nil || n == nil {
		return n, err
	}
	if *n <= min {
		if min == 0 {
			return nil, errUnprocessable(label + " must be greater than 0")
		}
		return nil, errUnprocessable(label + " must be greater than or equal to -1")
	}
	return n, nil
}

// createBuild is POST /v3/builds: it stages a READY package (BuildsController#create,
// BuildCreate#create_and_stage). The build answers STAGING; its outcome
// and its droplet's bits are made now, and show once the staging time has
// passed.
func (s *Server) createBuild(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "package", "lifecycle", "staging_memory_in_mb", "staging_disk_in_mb",
		"staging_log_rate_limit_bytes_per_second", "environment_variables", "metadata")
	if err != nil {
		return err
	}
	pkg, err := o.sub("package", "Package")
	if err != nil {
		return err
	}
	var pkgGUID *string
	if pkg != nil {
		if pkgGUID, err = pkg.str("guid", "Package guid"); err != nil {
			return err
		}
	}
	switch {
	case pkgGUID == nil:
		return errUnprocessable("Package guid can't be blank, Package guid must be a string")
	case *pkgGUID == "":
		return errUnprocessable("Package guid can't be blank, Package guid must be between 1 and 200 characters")
	}
	memory, err := o.positive("staging_memory_in_mb", "Staging memory in mb", 0)
	if err != nil {
		return err
	}
	disk, err := o.positive("staging_disk_in_mb", "Staging disk in mb", 0)
	if err != nil {
		return err
	}
	logRate, err := o.positive("staging_log_rate_limit_bytes_per_second", "Staging log rate limit bytes per second", -2)
	if err != nil {
		return err
	}
	if _, err := o.envVars("environment_variables", "Environment variables"); err != nil {
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

	// CC answers the same 422 for a package the caller cannot see and for
	// one it cannot stage (can_manage_apps_in_active_space?, is_space_active?).
	p, acc, err := s.packageApp(r, *pkgGUID)
	if isNotFound(err) {
		return unprocessablePackage()
	}
	if err != nil {
		return err
	}
	if acc.roles.writeErr() != nil {
		return unprocessablePackage()
	}
	if p.Type == store.PackageDocker {
		if err := s.requireFlag(r, "diego_docker"); err != nil {
			return err
		}
	}
	a := acc.app
	busy, err := s.store.StagingInProgress(r.ctx, a.GUID)
	if err != nil {
		return errInternal(err)
	}
	if busy {
		return errStagingInProgress()
	}
	if p.State != store.PackageReady {
		return errBadRequest("Cannot stage package whose state is not ready.")
	}

	// Staging limits default to the web process's (BuildCreate#get_staging_details).
	web, err := s.store.GetAppProcess(r.ctx, a.GUID, "web")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return errInternal(err)
	}
	if err != nil {
		web = store.Process{MemoryMB: s.cfg.DefaultMemoryMB, DiskMB: s.cfg.DefaultDiskMB, LogRateLimit: s.cfg.DefaultLogRateLimit}
	}
	b := store.Build{GUID: newGUID(), AppGUID: a.GUID, SpaceGUID: a.SpaceGUID, PackageGUID: p.GUID, State: store.BuildStaging,
		LifecycleType: a.LifecycleType, Buildpacks: []string{}, StagingMemoryMB: web.MemoryMB, StagingDiskMB: web.DiskMB, StagingLogRate: web.LogRateLimit,
		CreatedBy: store.Creator{GUID: r.user.GUID, Name: r.user.Username, Email: r.user.Email}}
	if memory != nil {
		b.StagingMemoryMB = *memory
	}
	if disk != nil {
		b.StagingDiskMB = *disk
	}
	if logRate != nil {
		b.StagingLogRate = *logRate
	}
	if p.Type == store.PackageDocker {
		b.LifecycleType = "docker"
	}
	if lc != nil {
		b.LifecycleType = lc.typ
	}
	if b.LifecycleType == "buildpack" {
		b.Buildpacks, b.Stack = a.Buildpacks, a.Stack
		if lc != nil && lc.setBPs {
			b.Buildpacks = lc.buildpacks
		}
		if lc != nil && lc.setStack {
			if b.Stack, err = s.resolveStack(r, lc.stack); err != nil {
				return err
			}
		}
		if b.Buildpacks == nil {
			b.Buildpacks = []string{}
		}
	}
	// BuildCreate#get_staging_details checks the quotas once the package
	// is stageable and the lifecycle valid.
	if err := s.stagingQuotaErr(r.ctx, acc.space, b.StagingMemoryMB, b.StagingLogRate); err != nil {
		return err
	}
	b.StagingMemoryMB, b.StagingDiskMB = max(b.StagingMemoryMB, minimumStagingMemoryMB), max(b.StagingDiskMB, minimumStagingDiskMB)
	if md != nil {
		b.Labels, b.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	now := s.now()
	b.CreatedAt, b.UpdatedAt = now.Unix(), now.Unix()

	sim, err := s.simulate(p, b, a, acc.space, r.user.actor())
	if err != nil {
		return errInternal(err)
	}
	events := []store.Event{s.appEvent(r, "audit.app.build.create", a, acc.space, map[string]string{"build_guid": b.GUID, "package_guid": p.GUID})}
	if sim.start != nil {
		b.DropletGUID = &sim.start.GUID
		// CC makes a buildpack build's droplet when staging starts
		// (DropletCreate#find_or_create_buildpack_droplet).
		events = append(events, s.appEvent(r, "audit.app.droplet.create", a, acc.space,
			map[string]string{"droplet_guid": sim.start.GUID, "package_guid": p.GUID}))
	}
	if sim.blob != "" {
		if err := s.staging.blobs.commit(sim.blob, blobDroplets, sim.outcome.Droplet.GUID); err != nil {
			os.Remove(sim.blob)
			return errInternal(err)
		}
	}
	finishAt := now.Add(s.cfg.StagingDuration).UnixMilli()
	err = s.store.StageBuild(r.ctx, b, sim.start, finishAt, sim.outcome, events...)
	if err != nil {
		if sim.blob != "" {
			os.Remove(s.staging.blobs.path(blobDroplets, sim.outcome.Droplet.GUID))
		}
		if errors.Is(err, store.ErrStagingInProgress) {
			return errStagingInProgress()
		}
		return errInternal(err)
	}
	s.staging.added(finishAt)
	if sim.start != nil {
		b.DropletState = store.DropletStaging
	}
	return r.reply(201, presentBuild(r.base, b))
}
