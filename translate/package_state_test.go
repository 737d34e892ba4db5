package translate

import (
	"testing"
	"time"
)

// TestPackageState walks every branch of CC's PackageStateCalculator
// (MAPPING §1.4) and the stack-change rule that ends it.
func TestPackageState(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	pkg := func(guid, state string, s int) *V3Package {
		return &V3Package{GUID: guid, Type: "bits", State: state, CreatedAt: at(s)}
	}
	build := func(state string) *V3Build { return &V3Build{GUID: "build", State: state, CreatedAt: at(5)} }
	droplet := func(guid, state, pkgGUID string, s int) *V3Droplet {
		d := &V3Droplet{GUID: guid, State: state, CreatedAt: at(s), Stack: appStrP("cflinuxfs4")}
		if pkgGUID != "" {
			d.Links.Package = &V3Href{Href: "https://api.example.org/v3/packages/" + pkgGUID}
		}
		return d
	}
	onStack := func(d *V3Droplet, stack *string) *V3Droplet { c := *d; c.Stack = stack; return &c }

	staged := droplet("d1", "STAGED", "p1", 10)
	cases := []struct {
		name             string
		pkg              *V3Package
		build            *V3Build
		latest, current  *V3Droplet
		lifecycle, stack string
		want             string
	}{
		// if latestPkg == nil && latestDroplet == nil → PENDING
		{name: "nothing", want: "PENDING"},
		{name: "build without package or droplet", build: build("FAILED"), want: "PENDING"},

		// packageFailedUpload
		{name: "failed package, no droplet", pkg: pkg("p1", "FAILED", 0), want: "FAILED"},
		{name: "failed package of the latest droplet", pkg: pkg("p1", "FAILED", 0), build: build("STAGED"),
			latest: staged, current: staged, want: "FAILED"},
		{name: "failed package newer than the droplet", pkg: pkg("p2", "FAILED", 20), build: build("STAGED"),
			latest: staged, current: staged, want: "FAILED"},
		{name: "failed package older than a droplet from elsewhere", pkg: pkg("p2", "FAILED", 0),
			latest: droplet("d1", "STAGED", "", 10), current: droplet("d1", "STAGED", "", 10), want: "STAGED"},

		// last build / droplet failed
		{name: "build failed", pkg: pkg("p1", "READY", 0), build: build("FAILED"),
			latest: droplet("d2", "FAILED", "p1", 10), want: "FAILED"},
		{name: "build failed, old droplet still current", pkg: pkg("p1", "READY", 0), build: build("FAILED"),
			latest: staged, current: staged, want: "FAILED"},
		{name: "latest droplet failed without a build", latest: droplet("d2", "FAILED", "", 10), want: "FAILED"},

		// STAGED needs (droplet || build) && buildCompleted && latestDropletIsCurrent
		{name: "staged and current", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: staged, current: staged, want: "STAGED"},
		{name: "uploaded droplet, no package or build", latest: droplet("d1", "STAGED", "", 10),
			current: droplet("d1", "STAGED", "", 10), want: "STAGED"},
		{name: "package only", pkg: pkg("p1", "READY", 0), want: "PENDING"},
		{name: "package and staged build, no droplet", pkg: pkg("p1", "READY", 0), build: build("STAGED"), want: "PENDING"},
		{name: "build staging", pkg: pkg("p1", "READY", 0), build: build("STAGING"),
			latest: staged, current: staged, want: "PENDING"},
		{name: "droplet staged, not assigned", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: staged, want: "PENDING"},
		{name: "latest droplet is not the current one", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: droplet("d2", "STAGED", "p1", 20), current: staged, want: "PENDING"},
		{name: "newer package than the droplet", pkg: pkg("p2", "READY", 20), build: build("STAGED"),
			latest: staged, current: staged, want: "PENDING"},
		{name: "package in the droplet's second counts as newer", pkg: pkg("p2", "READY", 10), build: build("STAGED"),
			latest: staged, current: staged, want: "PENDING"},
		{name: "older package not behind the current droplet", pkg: pkg("p2", "READY", 5), build: build("STAGED"),
			latest: staged, current: staged, want: "STAGED"},
		{name: "newer package that the current droplet came from", pkg: pkg("p1", "READY", 20), build: build("STAGED"),
			latest: staged, current: staged, want: "STAGED"},

		// stack change: v3 keeps the droplet, v2 cleared it
		{name: "stack changed after staging", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: onStack(staged, appStrP("cflinuxfs3")), current: onStack(staged, appStrP("cflinuxfs3")),
			stack: "cflinuxfs4", want: "PENDING"},
		{name: "same stack", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: staged, current: staged, stack: "cflinuxfs4", want: "STAGED"},
		{name: "droplet without a stack", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: onStack(staged, nil), current: onStack(staged, nil), stack: "cflinuxfs4", want: "STAGED"},
		{name: "docker app has no stack", lifecycle: "docker", pkg: pkg("p1", "READY", 0), build: build("STAGED"),
			latest: onStack(staged, nil), current: onStack(staged, nil), want: "STAGED"},
		{name: "stack change does not hide a failure", pkg: pkg("p1", "READY", 0), build: build("FAILED"),
			latest: onStack(staged, appStrP("cflinuxfs3")), current: onStack(staged, appStrP("cflinuxfs3")),
			stack: "cflinuxfs4", want: "FAILED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := AppBundle{
				LatestPackage:  c.pkg,
				LatestBuild:    c.build,
				LatestDroplet:  c.latest,
				CurrentDroplet: c.current,
			}
			b.App.Lifecycle.Type = "buildpack"
			if c.lifecycle != "" {
				b.App.Lifecycle.Type = c.lifecycle
			}
			b.App.Lifecycle.Data.Stack = c.stack
			if got := PackageState(b); got != c.want {
				t.Errorf("PackageState = %s, want %s", got, c.want)
			}
		})
	}
}

func TestDropletPackageGUID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		d    *V3Droplet
		want string
	}{
		{"nil droplet", nil, ""},
		{"no package link", &V3Droplet{}, ""},
		{"link", &V3Droplet{Links: V3DropletLinks{Package: &V3Href{Href: "https://api.example.org/v3/packages/8222f76a"}}}, "8222f76a"},
		{"trailing slash", &V3Droplet{Links: V3DropletLinks{Package: &V3Href{Href: "https://api.example.org/v3/packages/8222f76a/"}}}, "8222f76a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.d.PackageGUID(); got != c.want {
				t.Errorf("PackageGUID = %q, want %q", got, c.want)
			}
		})
	}
}
