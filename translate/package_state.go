package translate

// Package states of v2's package_state.
const (
	PackageStatePending = "PENDING"
	PackageStateStaged  = "STAGED"
	PackageStateFailed  = "FAILED"
)

// PackageState computes v2's package_state as CC's PackageStateCalculator
// does (cc:app/models/runtime/helpers/package_state_calculator.rb, MAPPING
// §1.4), from the latest package, build and droplet and the current
// ("desired") droplet, compared by guid.
//
// One rule is added: v3 keeps the current droplet when the app's stack
// changes, where CC v2 cleared it (V2::AppUpdate#update_lifecycle), so a
// current droplet staged on another stack than the app's counts as not
// current, and the app is not STAGED until it is restaged (MAPPING §1.4,
// last paragraph).
func PackageState(b AppBundle) string {
	c := packageStateCalculator{
		pkg:     b.LatestPackage,
		build:   b.LatestBuild,
		droplet: b.LatestDroplet,
		desired: b.CurrentDroplet,
	}
	if c.desired != nil && stackChanged(&b.App, c.desired) {
		c.desired = nil
	}
	return c.calculate()
}

// stackChanged reports whether droplet d was staged on another stack than
// the one the app's buildpack lifecycle names now. Docker droplets and apps
// have no stack and never change.
func stackChanged(app *V3App, d *V3Droplet) bool {
	if app.Lifecycle.Type == "docker" || d.Stack == nil || *d.Stack == "" || app.Lifecycle.Data.Stack == "" {
		return false
	}
	return *d.Stack != app.Lifecycle.Data.Stack
}

type packageStateCalculator struct {
	pkg     *V3Package
	build   *V3Build
	droplet *V3Droplet // latest droplet
	desired *V3Droplet // current droplet
}

func (c *packageStateCalculator) calculate() string {
	if c.pkg != nil || c.droplet != nil {
		if c.packageFailedUpload() || c.lastBuildFailed() || c.lastDropletFailed() {
			return PackageStateFailed
		}
		if (c.droplet != nil || c.build != nil) && c.buildCompleted() && c.latestDropletIsCurrent() {
			return PackageStateStaged
		}
	}
	return PackageStatePending
}

func (c *packageStateCalculator) buildCompleted() bool {
	return c.build == nil || c.build.State == "STAGED"
}

func (c *packageStateCalculator) lastBuildFailed() bool {
	return c.build != nil && c.build.State == "FAILED"
}

func (c *packageStateCalculator) lastDropletFailed() bool {
	return c.droplet != nil && c.droplet.State == "FAILED"
}

// latestDropletIsCurrent is @latest_droplet == @desired_droplet (Sequel
// compares by primary key; guids here, nil == nil) and no newer package.
func (c *packageStateCalculator) latestDropletIsCurrent() bool {
	return dropletGUID(c.droplet) == dropletGUID(c.desired) && !c.newerPackageThanDroplet()
}

// newerPackageThanDroplet is CC's newer_package_than_droplet. v3 times have
// second precision where CC's columns may have more, so a package created in
// the same second as the latest droplet counts as newer (>=, as in CC): the
// app reads PENDING rather than wrongly STAGED.
func (c *packageStateCalculator) newerPackageThanDroplet() bool {
	if c.droplet == nil {
		return true
	}
	return c.pkg != nil &&
		c.desired.PackageGUID() != c.pkg.GUID &&
		!c.pkg.CreatedAt.Before(c.droplet.CreatedAt)
}

// packageFailedUpload is CC's package_failed_upload. In Ruby
// @latest_package == @latest_droplet.try(:package) is true when both are nil;
// the result is the same, since a nil package is never FAILED.
func (c *packageStateCalculator) packageFailedUpload() bool {
	forLatestDroplet := packageGUID(c.pkg) == c.droplet.PackageGUID()
	if !forLatestDroplet && !c.newerPackageThanDroplet() {
		return false
	}
	return c.pkg != nil && c.pkg.State == "FAILED"
}

func dropletGUID(d *V3Droplet) string {
	if d == nil {
		return ""
	}
	return d.GUID
}

func packageGUID(p *V3Package) string {
	if p == nil {
		return ""
	}
	return p.GUID
}
