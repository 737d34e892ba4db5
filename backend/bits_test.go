package backend

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
)

// bitsRoleRows give the role table a row for each read route of packages,
// builds, droplets, domains, routes and service credential bindings, with
// what each seeded user gets in roleReadFixture (which has none of them
// but the seeded domain). roleAnonRows is the one row list of the role
// table that a file other than roles_test.go can extend: TestRoleTableReads
// runs these rows per user like the others, and
// TestRoleTableCoversEveryRoute counts them. They are not anonymous.
var bitsRoleRows = []roleRow{
	{"app packages", "GET", "/v3/apps/{app}/packages", nil, rolePer(roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
	{"other app packages", "GET", "/v3/apps/{otherApp}/packages", nil, rolePer(roleOK(200, roleTotal(0)), roleNotFound("App"), roleNotFound("App"), roleNotFound("App"))},
	{"list packages", "GET", "/v3/packages", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing package", "GET", "/v3/packages/" + roleMissingGUID, nil, roleAll(roleNotFound("Package"))},
	{"app builds", "GET", "/v3/apps/{app}/builds", nil, rolePer(roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
	{"list builds", "GET", "/v3/builds", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing build", "GET", "/v3/builds/" + roleMissingGUID, nil, roleAll(roleNotFound("Build"))},
	{"app droplets", "GET", "/v3/apps/{app}/droplets", nil, rolePer(roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
	{"list droplets", "GET", "/v3/droplets", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing droplet", "GET", "/v3/droplets/" + roleMissingGUID, nil, roleAll(roleNotFound("Droplet"))},
	{"app current droplet", "GET", "/v3/apps/{app}/droplets/current", nil, rolePer(roleNotFound("Droplet"), roleNotFound("Droplet"), roleNotFound("Droplet"), roleNotFound("App"))},
	{"other app current droplet", "GET", "/v3/apps/{otherApp}/droplets/current", nil, rolePer(roleNotFound("Droplet"), roleNotFound("App"), roleNotFound("App"), roleNotFound("App"))},
	{"app current droplet relationship", "GET", "/v3/apps/{app}/relationships/current_droplet", nil,
		rolePer(roleNotFound("Droplet"), roleNotFound("Droplet"), roleNotFound("Droplet"), roleNotFound("App"))},
	{"app routes", "GET", "/v3/apps/{app}/routes", nil, rolePer(roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
	// The seeded domain is shared: everyone sees it.
	{"list domains", "GET", "/v3/domains", nil, roleAll(roleOK(200, roleTotal(1)))},
	{"shared domain", "GET", "/v3/domains/" + SharedDomainGUID, nil, roleAll(roleOK(200, roleField("name", SharedDomainName)))},
	{"list routes", "GET", "/v3/routes", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing route", "GET", "/v3/routes/" + roleMissingGUID, nil, roleAll(roleNotFound("Route"))},
	{"missing route destinations", "GET", "/v3/routes/" + roleMissingGUID + "/destinations", nil, roleAll(roleNotFound("Route"))},
	{"list service credential bindings", "GET", "/v3/service_credential_bindings", nil, roleAll(roleOK(200, roleTotal(0)))},
	{"missing service credential binding", "GET", "/v3/service_credential_bindings/" + roleMissingGUID, nil, roleAll(roleNotFound("Service credential binding"))},
}

func init() { roleAnonRows = append(roleAnonRows, bitsRoleRows...) }

// bitsT0 is the fixture clock; created_at values are offsets from it.
var bitsT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func bitsAt(seconds int64) int64 { return bitsT0.Unix() + seconds }

// bitsWorld is the bits fixture: the developer's app in demo-space with
// three packages, two builds and two droplets, and an app of the admin in
// the other org with one of each. Rows go in out of created_at order, so
// that id order and created_at order differ.
type bitsWorld struct {
	c                                  *cf
	app, other                         string
	pkgNewest, pkgBits, pkgDocker      string
	buildStaging, buildStaged          string
	dropletStaged, dropletFailed       string
	otherPkg, otherBuild, otherDroplet string
}

// The fixture's guids; the prefix tells the kind apart in failures.
const (
	bitsPkgNewest     = "9ac00000-0000-4000-8000-000000000001"
	bitsPkgBits       = "9ac00000-0000-4000-8000-000000000002"
	bitsPkgDocker     = "9ac00000-0000-4000-8000-000000000003"
	bitsOtherPkg      = "9ac00000-0000-4000-8000-0000000000f1"
	bitsBuildStaging  = "b1d00000-0000-4000-8000-000000000001"
	bitsBuildStaged   = "b1d00000-0000-4000-8000-000000000002"
	bitsOtherBuild    = "b1d00000-0000-4000-8000-0000000000f1"
	bitsDropletStaged = "d7000000-0000-4000-8000-000000000001"
	bitsDropletFailed = "d7000000-0000-4000-8000-000000000002"
	bitsOtherDroplet  = "d7000000-0000-4000-8000-0000000000f1"
)

var bitsProcessTypes = map[string]string{"web": "bundle exec rackup config.ru -p $PORT", "rake": "bundle exec rake"}

func str(s string) *string { return &s }

func newBitsWorld(t *testing.T) *bitsWorld {
	t.Helper()
	clk := &fakeClock{now: bitsT0}
	c := startCF(t, nil, WithClock(clk.Now))
	c.addOtherSpace()
	w := &bitsWorld{c: c, app: c.createApp("developer", "bits-app", nil), other: c.createAppIn("admin", otherSpaceGUID, "other-app", nil),
		pkgNewest: bitsPkgNewest, pkgBits: bitsPkgBits, pkgDocker: bitsPkgDocker, buildStaging: bitsBuildStaging, buildStaged: bitsBuildStaged,
		dropletStaged: bitsDropletStaged, dropletFailed: bitsDropletFailed, otherPkg: bitsOtherPkg, otherBuild: bitsOtherBuild, otherDroplet: bitsOtherDroplet}
	ctx, st := context.Background(), c.srv.Store()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pkg := func(guid, app, space, typ, state string, at int64, edit func(*store.Package)) {
		p := store.Package{GUID: guid, AppGUID: app, SpaceGUID: space, Type: typ, State: state, CreatedAt: at, UpdatedAt: at + 1}
		if edit != nil {
			edit(&p)
		}
		must(st.CreatePackage(ctx, p))
	}
	pkg(w.pkgNewest, w.app, DemoSpaceGUID, store.PackageBits, store.PackageReady, bitsAt(30), func(p *store.Package) {
		p.SHA256Checksum = str("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	})
	pkg(w.pkgBits, w.app, DemoSpaceGUID, store.PackageBits, store.PackageProcessingUpload, bitsAt(10), nil)
	pkg(w.pkgDocker, w.app, DemoSpaceGUID, store.PackageDocker, store.PackageReady, bitsAt(20), func(p *store.Package) {
		p.DockerImage, p.DockerUsername, p.DockerPassword = str("registry/image:latest"), str("username"), str("s3cret-pass")
		p.Labels = store.Metadata{"env": "prod"}
	})
	pkg(w.otherPkg, w.other, otherSpaceGUID, store.PackageBits, store.PackageReady, bitsAt(5), nil)

	droplet := func(guid, app, space, state string, at int64, edit func(*store.Droplet)) {
		d := store.Droplet{GUID: guid, AppGUID: app, SpaceGUID: space, State: state, LifecycleType: "buildpack", CreatedAt: at, UpdatedAt: at + 2}
		if edit != nil {
			edit(&d)
		}
		must(st.CreateDroplet(ctx, d))
	}
	droplet(w.dropletStaged, w.app, DemoSpaceGUID, store.DropletStaged, bitsAt(45), func(d *store.Droplet) {
		d.PackageGUID, d.ProcessTypes, d.ExecutionMetadata = &w.pkgBits, bitsProcessTypes, "exec-meta"
		d.SHA256Checksum, d.Stack = str("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), str("cflinuxfs4")
		d.Buildpacks = []store.DropletBuildpack{{Name: "ruby_buildpack", DetectOutput: str("ruby 1.6.14"), Version: str("1.1.1."), BuildpackName: str("ruby")}}
	})
	// An uploaded droplet that failed: no package, CC's two-part error.
	droplet(w.dropletFailed, w.app, DemoSpaceGUID, store.DropletFailed, bitsAt(15), func(d *store.Droplet) {
		d.ErrorID, d.ErrorDescription = str("StagingError"), str("boom")
	})
	droplet(w.otherDroplet, w.other, otherSpaceGUID, store.DropletStaged, bitsAt(6), func(d *store.Droplet) { d.ProcessTypes = map[string]string{} })

	build := func(guid, app, space, pkgGUID, state string, droplet *string, at int64) {
		must(st.CreateBuild(ctx, store.Build{GUID: guid, AppGUID: app, SpaceGUID: space, PackageGUID: pkgGUID, DropletGUID: droplet, State: state,
			LifecycleType: "buildpack", Buildpacks: []string{"ruby_buildpack"}, Stack: str("cflinuxfs4"), StagingMemoryMB: 1024, StagingDiskMB: 1024,
			StagingLogRate: 1024, CreatedBy: store.Creator{GUID: DeveloperGUID, Name: "developer", Email: "developer@example.org"},
			CreatedAt: at, UpdatedAt: at + 3}))
	}
	build(w.buildStaging, w.app, DemoSpaceGUID, w.pkgNewest, store.BuildStaging, nil, bitsAt(50))
	build(w.buildStaged, w.app, DemoSpaceGUID, w.pkgBits, store.BuildStaged, &w.dropletStaged, bitsAt(40))
	build(w.otherBuild, w.other, otherSpaceGUID, w.otherPkg, store.BuildStaged, &w.otherDroplet, bitsAt(6))

	c.editApp(w.app, func(a *store.App) { a.DropletGUID = &w.dropletStaged })
	c.editApp(w.other, func(a *store.App) { a.DropletGUID = &w.otherDroplet })
	return w
}

func TestBitsShapesMatchReference(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	pkgBits, pkgDocker := reference(t, "package_bits.json"), reference(t, "package_docker.json")
	staged, droplet := reference(t, "build_staged.json"), reference(t, "droplet.json")
	listOf := func(item *shape, nullable ...string) shapeRules {
		r := rules([]string{"resources.[].process_types", "resources.[].metadata.labels", "resources.[].metadata.annotations"},
			append(nullable, "pagination.next", "pagination.previous"), nil)
		r.items["resources.[]"] = item
		return r
	}
	cases := []struct {
		name, path string
		want       *shape
		rules      shapeRules
	}{
		{"bits package", "/v3/packages/" + w.pkgBits, pkgBits, rules(nil, nil, nil)},
		{"docker package", "/v3/packages/" + w.pkgDocker, pkgDocker, rules(nil, nil, nil)},
		{"staged build", "/v3/builds/" + w.buildStaged, staged, rules(nil, nil, nil)},
		{"staging build", "/v3/builds/" + w.buildStaging, reference(t, "build_staging.json"), rules(nil, nil, nil)},
		{"droplet", "/v3/droplets/" + w.dropletStaged, droplet, rules([]string{"process_types"}, nil, nil)},
		{"current droplet", "/v3/apps/" + w.app + "/droplets/current", droplet, rules([]string{"process_types"}, nil, nil)},
		{"current droplet relationship", "/v3/apps/" + w.app + "/relationships/current_droplet", reference(t, "app_current_droplet_relationship.json"), rules(nil, nil, nil)},
		// Lists: the app list example gives the envelope.
		{"bits packages", "/v3/apps/" + w.app + "/packages?types=bits", reference(t, "app_list.json"), listOf(pkgBits, "resources.[].data.checksum.value")},
		{"packages", "/v3/packages?types=docker", reference(t, "app_list.json"), listOf(pkgDocker)},
		{"staged builds", "/v3/builds?states=STAGED", reference(t, "app_list.json"), listOf(staged)},
		{"staged droplets", "/v3/apps/" + w.app + "/droplets?states=STAGED", reference(t, "app_list.json"), listOf(droplet)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := w.c.forTest(t).must(200, "GET", tc.path, "developer", nil)
			if diffs := compareShape(tc.want, parseShape(t, r.body), "", tc.rules); len(diffs) > 0 {
				t.Errorf("shape differs from the reference:\n  %s\nbody: %s", strings.Join(diffs, "\n  "), r.body)
			}
		})
	}
}

// TestBitsValues checks what the shapes leave out: links, relationships,
// data and errors, value for value.
func TestBitsValues(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	app := v3Base + "/v3/apps/" + w.app
	cases := []struct {
		name, path, at, want string
	}{
		{"bits package data", "/v3/packages/" + w.pkgBits, "data", `{"checksum":{"type":"sha256","value":null},"error":null}`},
		{"bits package links", "/v3/packages/" + w.pkgBits, "links", `{"self":{"href":"` + v3Base + `/v3/packages/` + w.pkgBits + `"},` +
			`"upload":{"href":"` + v3Base + `/v3/packages/` + w.pkgBits + `/upload","method":"POST"},` +
			`"download":{"href":"` + v3Base + `/v3/packages/` + w.pkgBits + `/download","method":"GET"},"app":{"href":"` + app + `"}}`},
		{"package times", "/v3/packages/" + w.pkgBits, "created_at", `"2025-06-01T12:00:10Z"`},
		{"package relationship", "/v3/packages/" + w.pkgBits, "relationships", `{"app":{"data":{"guid":"` + w.app + `"}}}`},
		{"checksum", "/v3/packages/" + w.pkgNewest, "data.checksum", `{"type":"sha256","value":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`},
		// The password is never shown: "***" since a username is set.
		{"docker data", "/v3/packages/" + w.pkgDocker, "data", `{"image":"registry/image:latest","username":"username","password":"***"}`},
		{"docker links", "/v3/packages/" + w.pkgDocker, "links", `{"self":{"href":"` + v3Base + `/v3/packages/` + w.pkgDocker + `"},"app":{"href":"` + app + `"}}`},
		{"docker labels", "/v3/packages/" + w.pkgDocker, "metadata", `{"labels":{"env":"prod"},"annotations":{}}`},
		{"staged build droplet", "/v3/builds/" + w.buildStaged, "droplet", `{"guid":"` + w.dropletStaged + `"}`},
		{"staged build links", "/v3/builds/" + w.buildStaged, "links", `{"self":{"href":"` + v3Base + `/v3/builds/` + w.buildStaged + `"},` +
			`"app":{"href":"` + app + `"},"droplet":{"href":"` + v3Base + `/v3/droplets/` + w.dropletStaged + `"}}`},
		{"build package", "/v3/builds/" + w.buildStaged, "package", `{"guid":"` + w.pkgBits + `"}`},
		{"build lifecycle", "/v3/builds/" + w.buildStaged, "lifecycle", `{"type":"buildpack","data":{"buildpacks":["ruby_buildpack"],"stack":"cflinuxfs4"}}`},
		{"build creator", "/v3/builds/" + w.buildStaged, "created_by", `{"guid":"` + DeveloperGUID + `","name":"developer","email":"developer@example.org"}`},
		{"staging build droplet", "/v3/builds/" + w.buildStaging, "droplet", `null`},
		{"droplet links", "/v3/droplets/" + w.dropletStaged, "links", `{"self":{"href":"` + v3Base + `/v3/droplets/` + w.dropletStaged + `"},` +
			`"package":{"href":"` + v3Base + `/v3/packages/` + w.pkgBits + `"},"app":{"href":"` + app + `"},` +
			`"assign_current_droplet":{"href":"` + app + `/relationships/current_droplet","method":"PATCH"},` +
			`"download":{"href":"` + v3Base + `/v3/droplets/` + w.dropletStaged + `/download"}}`},
		{"droplet buildpacks", "/v3/droplets/" + w.dropletStaged, "buildpacks",
			`[{"name":"ruby_buildpack","detect_output":"ruby 1.6.14","version":"1.1.1.","buildpack_name":"ruby"}]`},
		{"droplet lifecycle", "/v3/droplets/" + w.dropletStaged, "lifecycle", `{"type":"buildpack","data":{}}`},
		// A failed, uploaded droplet: no package, nothing to download.
		{"failed droplet error", "/v3/droplets/" + w.dropletFailed, "error", `"StagingError - boom"`},
		{"failed droplet links", "/v3/droplets/" + w.dropletFailed, "links", `{"self":{"href":"` + v3Base + `/v3/droplets/` + w.dropletFailed + `"},` +
			`"app":{"href":"` + app + `"},"assign_current_droplet":{"href":"` + app + `/relationships/current_droplet","method":"PATCH"}}`},
		{"failed droplet checksum", "/v3/droplets/" + w.dropletFailed, "checksum", `null`},
		{"empty process types", "/v3/droplets/" + w.otherDroplet, "process_types", `{}`},
		{"process types before staging", "/v3/droplets/" + w.dropletFailed, "process_types", `null`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := w.c.forTest(t).must(200, "GET", tc.path, "admin", nil)
			if got := rawAt(t, r.body, tc.at); got != compactJSON(t, tc.want) {
				t.Errorf("%s = %s\nwant %s", tc.at, got, tc.want)
			}
		})
	}
	t.Run("stored docker password never leaves", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v3/packages/" + w.pkgDocker, "/v3/packages", "/v3/apps/" + w.app + "/packages"} {
			if r := w.c.forTest(t).must(200, "GET", path, "admin", nil); strings.Contains(string(r.body), "s3cret-pass") {
				t.Errorf("%s shows the docker password: %s", path, r.body)
			}
		}
	})
}

// TestBitsLatestFirst: the gateway finds an app's latest package, build and
// droplet with order_by=-created_at&per_page=1 (MAPPING §1.2). The fixture
// inserts rows out of created_at order, so id order would give another answer.
func TestBitsLatestFirst(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	cases := []struct {
		name, path string
		want       []string
		total      int
	}{
		{"latest package", "/v3/apps/" + w.app + "/packages?order_by=-created_at&per_page=1", []string{w.pkgNewest}, 3},
		{"packages by created_at", "/v3/apps/" + w.app + "/packages?order_by=created_at", []string{w.pkgBits, w.pkgDocker, w.pkgNewest}, 3},
		{"packages newest first", "/v3/apps/" + w.app + "/packages?order_by=-created_at", []string{w.pkgNewest, w.pkgDocker, w.pkgBits}, 3},
		{"packages by default in insertion order", "/v3/apps/" + w.app + "/packages", []string{w.pkgNewest, w.pkgBits, w.pkgDocker}, 3},
		{"packages by updated_at", "/v3/apps/" + w.app + "/packages?order_by=%2Bupdated_at", []string{w.pkgBits, w.pkgDocker, w.pkgNewest}, 3},
		{"second page of the newest", "/v3/apps/" + w.app + "/packages?order_by=-created_at&per_page=1&page=2", []string{w.pkgDocker}, 3},
		{"latest build", "/v3/apps/" + w.app + "/builds?order_by=-created_at&per_page=1", []string{w.buildStaging}, 2},
		{"builds oldest first", "/v3/apps/" + w.app + "/builds?order_by=created_at", []string{w.buildStaged, w.buildStaging}, 2},
		{"latest droplet", "/v3/apps/" + w.app + "/droplets?order_by=-created_at&per_page=1", []string{w.dropletStaged}, 2},
		{"droplets oldest first", "/v3/apps/" + w.app + "/droplets?order_by=created_at", []string{w.dropletFailed, w.dropletStaged}, 2},
		{"all packages newest first", "/v3/packages?order_by=-created_at", []string{w.pkgNewest, w.pkgDocker, w.pkgBits, w.otherPkg}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := w.c.forTest(t).listPage("admin", tc.path)
			if got := guidsOf(b.Resources); !slices.Equal(got, tc.want) || b.Pagination.TotalResults != tc.total {
				t.Errorf("got %v of %d, want %v of %d", got, b.Pagination.TotalResults, tc.want, tc.total)
			}
		})
	}
}

func TestBitsListFilters(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	cases := []struct {
		name, path string
		want       []string // in the default (insertion) order
	}{
		{"packages", "/v3/packages", []string{w.pkgNewest, w.pkgBits, w.pkgDocker, w.otherPkg}},
		{"package states", "/v3/packages?states=READY", []string{w.pkgNewest, w.pkgDocker, w.otherPkg}},
		{"package states, two", "/v3/packages?states=PROCESSING_UPLOAD,FAILED", []string{w.pkgBits}},
		{"package state empty", "/v3/packages?states=", []string{}},
		{"package types", "/v3/packages?types=docker", []string{w.pkgDocker}},
		{"package guids", "/v3/packages?guids=" + w.pkgBits + "," + w.otherPkg, []string{w.pkgBits, w.otherPkg}},
		{"package app_guids", "/v3/packages?app_guids=" + w.other, []string{w.otherPkg}},
		{"package space_guids", "/v3/packages?space_guids=" + DemoSpaceGUID, []string{w.pkgNewest, w.pkgBits, w.pkgDocker}},
		{"package organization_guids", "/v3/packages?organization_guids=" + otherOrgGUID, []string{w.otherPkg}},
		{"package labels", "/v3/packages?label_selector=env%3Dprod", []string{w.pkgDocker}},
		{"package created after", "/v3/packages?created_ats%5Bgt%5D=2025-06-01T12:00:15Z", []string{w.pkgNewest, w.pkgDocker}},
		{"app package types", "/v3/apps/" + w.app + "/packages?types=bits", []string{w.pkgNewest, w.pkgBits}},
		{"app package states", "/v3/apps/" + w.app + "/packages?states=PROCESSING_UPLOAD", []string{w.pkgBits}},
		{"app package guids", "/v3/apps/" + w.app + "/packages?guids=" + w.pkgDocker + "," + w.otherPkg, []string{w.pkgDocker}},

		{"builds", "/v3/builds", []string{w.buildStaging, w.buildStaged, w.otherBuild}},
		{"build app_guids", "/v3/builds?app_guids=" + w.app, []string{w.buildStaging, w.buildStaged}},
		{"build package_guids", "/v3/builds?package_guids=" + w.pkgBits + "," + w.otherPkg, []string{w.buildStaged, w.otherBuild}},
		{"build states", "/v3/builds?states=STAGING", []string{w.buildStaging}},
		{"app build states", "/v3/apps/" + w.app + "/builds?states=STAGED", []string{w.buildStaged}},

		{"droplets", "/v3/droplets", []string{w.dropletStaged, w.dropletFailed, w.otherDroplet}},
		{"droplet states", "/v3/droplets?states=FAILED", []string{w.dropletFailed}},
		{"droplet guids", "/v3/droplets?guids=" + w.otherDroplet, []string{w.otherDroplet}},
		{"droplet space_guids", "/v3/droplets?space_guids=" + otherSpaceGUID, []string{w.otherDroplet}},
		{"current droplets", "/v3/droplets?current=true", []string{w.dropletStaged, w.otherDroplet}},
		{"current droplet of an app", "/v3/droplets?app_guids=" + w.app + "&current=true", []string{w.dropletStaged}},
		{"app current droplet", "/v3/apps/" + w.app + "/droplets?current=true", []string{w.dropletStaged}},
		{"app droplet states", "/v3/apps/" + w.app + "/droplets?states=FAILED,EXPIRED", []string{w.dropletFailed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := w.c.forTest(t).listPage("admin", tc.path)
			if got := guidsOf(b.Resources); !slices.Equal(got, tc.want) || b.Pagination.TotalResults != len(tc.want) {
				t.Errorf("got %v (total %d), want %v", got, b.Pagination.TotalResults, tc.want)
			}
		})
	}
}

func TestBitsQueryErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "query-errors", nil)
	const prefix = "The query parameter is invalid: "
	cases := []struct {
		name, path, detail string
		start              bool // detail is a prefix
	}{
		{"unknown parameter", "/v3/packages?foo=1", prefix + "Unknown query parameter(s): 'foo'. Valid parameters are: 'page', ", true},
		// Under an app, CC's message knows app_guids & co., then refuses
		// them in app_nested_request's words.
		{"app_guids under an app", "/v3/apps/" + app + "/packages?app_guids=x", prefix + "Unknown query parameter(s): 'app_guids'", false},
		{"two of them", "/v3/apps/" + app + "/droplets?space_guids=x&organization_guids=y",
			prefix + "Unknown query parameter(s): 'space_guids', 'organization_guids'", false},
		{"still unknown first", "/v3/apps/" + app + "/packages?app_guids=x&foo=1", prefix + "Unknown query parameter(s): 'foo'. Valid parameters are: ", true},
		// AppBuildsListMessage has no app_guids at all.
		{"app_guids of app builds", "/v3/apps/" + app + "/builds?app_guids=x", prefix + "Unknown query parameter(s): 'app_guids'. Valid parameters are: ", true},
		{"current false", "/v3/apps/" + app + "/droplets?current=false", prefix + "Current only accepts the value 'true'", false},
		{"current yes", "/v3/droplets?current=yes", prefix + "Current only accepts the value 'true'", false},
		{"order by name", "/v3/packages?order_by=name", prefix + "Order by can only be: 'created_at', 'updated_at'", false},
		{"order by state", "/v3/apps/" + app + "/droplets?order_by=-state", prefix + "Order by can only be: 'created_at', 'updated_at'", false},
		{"per_page 0", "/v3/builds?per_page=0", prefix + "Per page must be a positive integer", false},
		{"bad timestamp", "/v3/droplets?created_ats=yesterday",
			prefix + "Created ats has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'", false},
		{"bad label selector", "/v3/builds?label_selector=a%20in%20b", prefix + "Invalid label_selector value", false},
		{"a single package takes none", "/v3/packages/x?include=app", prefix + "Unknown query parameter(s): 'include'. Valid parameters are: ", false},
		// CC validates the query before it looks for the app.
		{"before the app lookup", "/v3/apps/no-such-app/packages?app_guids=x", prefix + "Unknown query parameter(s): 'app_guids'", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := c.forTest(t).do("GET", tc.path, "developer", nil)
			if !tc.start {
				wantV3Error(t, r, 400, 10005, "CF-BadQueryParameter", tc.detail)
				return
			}
			wantBadQuery(t, r, "")
			var e errorBody
			r.json(t, &e)
			if !strings.HasPrefix(e.Errors[0].Detail, tc.detail) {
				t.Errorf("detail %q, want it to start %q", e.Errors[0].Detail, tc.detail)
			}
		})
	}
}

// TestDropletRedaction: lists always hide process_types and
// execution_metadata; a single GET shows them to readers of secrets
// (admin, admin_read_only, space developer: DropletsController#show);
// /droplets/current shows them to every reader, because CC presents it with
// show_secrets' default.
func TestDropletRedaction(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	c := w.c
	aro, ga := "cloud_controller.admin_read_only", "cloud_controller.global_auditor"
	for _, scope := range []string{aro, ga} {
		c.tokens[scope] = roleMint(t, c, c.srv.key, []string{scope, "openid"}, func(cl *uaa.Claims) {
			cl.Sub, cl.UserID, cl.UserName, cl.Email = "bits-"+scope, "bits-"+scope, scope, scope+"@example.org"
		})
	}
	types := compactJSON(t, `{"rake":"bundle exec rake","web":"bundle exec rackup config.ru -p $PORT"}`)
	shown := func(t *testing.T, body []byte, at string) {
		t.Helper()
		if got := rawAt(t, body, at+"process_types"); !sameJSON(t, got, types) {
			t.Errorf("process_types %s, want %s", got, types)
		}
		if got := rawAt(t, body, at+"execution_metadata"); got != `"exec-meta"` {
			t.Errorf("execution_metadata %s, want the stored one", got)
		}
	}
	hidden := func(msg string) func(*testing.T, []byte, string) {
		return func(t *testing.T, body []byte, at string) {
			t.Helper()
			if got := rawAt(t, body, at+"process_types"); got != `{"redacted_message":"`+msg+`"}` {
				t.Errorf("process_types %s, want redacted with %q", got, msg)
			}
			if got := rawAt(t, body, at+"execution_metadata"); got != `"`+msg+`"` {
				t.Errorf("execution_metadata %s, want %q", got, msg)
			}
		}
	}
	single, list := hidden(redactedMessage), hidden(redactedListMessage)
	type check func(*testing.T, []byte, string)
	cases := []struct {
		name, path, at string
		want           map[string]check // a user missing from the map gets 404
		notFound       string
	}{
		{"droplet", "/v3/droplets/" + w.dropletStaged, "", map[string]check{"admin": shown, "developer": shown, aro: shown, "auditor": single, ga: single}, "Droplet"},
		{"current droplet", "/v3/apps/" + w.app + "/droplets/current", "", map[string]check{"admin": shown, "developer": shown, aro: shown, "auditor": shown, ga: shown}, "App"},
		{"app droplets", "/v3/apps/" + w.app + "/droplets?states=STAGED", "resources.0.",
			map[string]check{"admin": list, "developer": list, aro: list, "auditor": list, ga: list}, "App"},
		{"droplets", "/v3/droplets?guids=" + w.dropletStaged, "resources.0.", map[string]check{"admin": list, "developer": list, aro: list, "auditor": list, ga: list}, ""},
	}
	for _, tc := range cases {
		for _, user := range []string{"admin", "developer", "auditor", "outsider", aro, ga} {
			t.Run(tc.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				r := c.forTest(t).do("GET", tc.path, user, nil)
				want, ok := tc.want[user]
				switch {
				case ok:
					if r.status != 200 {
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					want(t, r.body, tc.at)
				case tc.notFound == "":
					// A list: the outsider sees none of it.
					roleOK(200, roleTotal(0)).assert(t, r)
				default:
					roleNotFound(tc.notFound).assert(t, r)
				}
			})
		}
	}
}

// TestBitsVisibility: a package, build or droplet is visible exactly when
// its app is (404 otherwise), in lists and single GETs.
func TestBitsVisibility(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	mine := map[string][]string{
		"packages": {w.pkgNewest, w.pkgBits, w.pkgDocker},
		"builds":   {w.buildStaging, w.buildStaged},
		"droplets": {w.dropletStaged, w.dropletFailed},
	}
	others := map[string]string{"packages": w.otherPkg, "builds": w.otherBuild, "droplets": w.otherDroplet}
	what := map[string]string{"packages": "Package", "builds": "Build", "droplets": "Droplet"}
	for kind := range mine {
		for _, user := range roleUsers {
			t.Run(kind+"/"+user, func(t *testing.T) {
				t.Parallel()
				c := w.c.forTest(t)
				var want []string
				switch user {
				case "admin":
					want = append(slices.Clone(mine[kind]), others[kind])
				case "developer", "auditor":
					want = mine[kind]
				}
				b := c.listPage(user, "/v3/"+kind)
				if got := guidsOf(b.Resources); !slices.Equal(sortedCopy(got), sortedCopy(want)) || b.Pagination.TotalResults != len(want) {
					t.Errorf("list %v (total %d), want %v", got, b.Pagination.TotalResults, want)
				}
				for _, guid := range append(slices.Clone(mine[kind]), others[kind]) {
					r := c.do("GET", "/v3/"+kind+"/"+guid, user, nil)
					if slices.Contains(want, guid) {
						roleOK(200, roleField("guid", guid)).assert(t, r)
					} else {
						roleNotFound(what[kind]).assert(t, r)
					}
				}
				// Under the other org's app: 404 App unless admin.
				r := c.do("GET", "/v3/apps/"+w.other+"/"+kind, user, nil)
				if user == "admin" {
					roleOK(200, roleTotal(1)).assert(t, r)
				} else {
					roleNotFound("App").assert(t, r)
				}
			})
		}
	}
}

func TestCurrentDropletEndpoints(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	c := w.c
	bare := c.createApp("developer", "no-droplet", nil)
	dangling := c.createApp("developer", "dangling-droplet", nil)
	c.editApp(dangling, func(a *store.App) { a.DropletGUID = str("d7000000-0000-4000-8000-00000000dead") })
	for _, path := range []string{"/droplets/current", "/relationships/current_droplet"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			// CC's droplet_not_found!, whether the app has no droplet or
			// names one that is gone.
			wantV3Error(t, c.do("GET", "/v3/apps/"+bare+path, "developer", nil), 404, 10010, "CF-ResourceNotFound", "Droplet not found")
			wantV3Error(t, c.do("GET", "/v3/apps/"+dangling+path, "developer", nil), 404, 10010, "CF-ResourceNotFound", "Droplet not found")
			wantV3Error(t, c.do("GET", "/v3/apps/"+w.app+path, "outsider", nil), 404, 10010, "CF-ResourceNotFound", "App not found")
			wantV3Error(t, c.do("GET", "/v3/apps/"+w.other+path, "developer", nil), 404, 10010, "CF-ResourceNotFound", "App not found")
			if got := rawAt(t, c.must(200, "GET", "/v3/apps/"+w.other+path, "admin", nil).body, ""); !strings.Contains(got, w.otherDroplet) {
				t.Errorf("the other app's current droplet: %s", got)
			}
		})
	}
	t.Run("relationship body", func(t *testing.T) {
		t.Parallel()
		app := v3Base + "/v3/apps/" + w.app
		want := `{"data":{"guid":"` + w.dropletStaged + `"},"links":{"self":{"href":"` + app + `/relationships/current_droplet"},` +
			`"related":{"href":"` + app + `/droplets/current"}}}`
		if got := string(c.forTest(t).must(200, "GET", "/v3/apps/"+w.app+"/relationships/current_droplet", "auditor", nil).body); got != want {
			t.Errorf("body\n got %s\nwant %s", got, want)
		}
	})
	t.Run("current droplet is the app's", func(t *testing.T) {
		t.Parallel()
		c := c.forTest(t)
		current := rawAt(t, c.must(200, "GET", "/v3/apps/"+w.app+"/droplets/current", "developer", nil).body, "guid")
		related := rawAt(t, c.must(200, "GET", "/v3/apps/"+w.app, "developer", nil).body, "relationships.current_droplet.data.guid")
		if current != `"`+w.dropletStaged+`"` || related != current {
			t.Errorf("droplets/current %s, app's current_droplet %s, want %s", current, related, w.dropletStaged)
		}
	})
}

// TestDeleteAppDeletesBits: the app delete job removes the app's packages,
// builds, droplets, route destinations and bindings, and nothing of
// another app; the route itself stays (CC's AppDelete).
func TestDeleteAppDeletesBits(t *testing.T) {
	t.Parallel()
	w := newBitsWorld(t)
	c := w.c
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	if err := st.CreateRoute(ctx, store.Route{GUID: "f0de0000-0000-4000-8000-000000000001", SpaceGUID: DemoSpaceGUID, DomainGUID: SharedDomainGUID,
		Host: "doomed", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sibling := c.createApp("developer", "sibling", nil)
	for guid, app := range map[string]string{"de500000-0000-4000-8000-000000000001": w.app, "de500000-0000-4000-8000-000000000002": sibling} {
		if err := st.AddDestination(ctx, store.Destination{GUID: guid, RouteGUID: "f0de0000-0000-4000-8000-000000000001", AppGUID: app,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateServiceCredentialBinding(ctx, store.ServiceCredentialBinding{GUID: "b1a00000-0000-4000-8000-000000000001", Type: "app",
		AppGUID: &w.app, ServiceInstanceGUID: "5e1a0000-0000-4000-8000-000000000001", SpaceGUID: DemoSpaceGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	loc := c.must(202, "DELETE", "/v3/apps/"+w.app, "developer", nil).header["Location"]
	if state := c.waitJob(loc, "developer"); state != store.JobComplete {
		t.Fatalf("delete job: %s", state)
	}
	for _, tc := range []struct{ path, what string }{
		{"/v3/packages/" + w.pkgBits, "Package"}, {"/v3/builds/" + w.buildStaged, "Build"}, {"/v3/droplets/" + w.dropletStaged, "Droplet"},
		{"/v3/service_credential_bindings/b1a00000-0000-4000-8000-000000000001", "Service credential binding"},
	} {
		roleNotFound(tc.what).assert(t, c.do("GET", tc.path, "admin", nil))
	}
	for path, want := range map[string][]string{
		"/v3/packages":                    {w.otherPkg},
		"/v3/builds":                      {w.otherBuild},
		"/v3/droplets":                    {w.otherDroplet},
		"/v3/service_credential_bindings": {},
	} {
		if got := guidsOf(c.listPage("admin", path).Resources); !slices.Equal(got, want) {
			t.Errorf("%s after the delete: %v, want %v", path, got, want)
		}
	}
	var dests struct {
		Destinations []struct {
			App struct{ GUID string } `json:"app"`
		} `json:"destinations"`
	}
	c.must(200, "GET", "/v3/routes/f0de0000-0000-4000-8000-000000000001/destinations", "admin", nil).json(t, &dests)
	if len(dests.Destinations) != 1 || dests.Destinations[0].App.GUID != sibling {
		t.Errorf("destinations left %+v, want only the sibling's", dests.Destinations)
	}
}

func TestCCError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		id, desc *string
		want     string // "" for null
	}{
		{"both", str("StagingError"), str("boom"), "StagingError - boom"},
		{"id only", str("StagingError"), nil, "StagingError"},
		{"description only", nil, str("boom"), "boom"},
		{"neither", nil, nil, ""},
		{"blank", str(""), nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ccError(tc.id, tc.desc)
			if (got == nil) != (tc.want == "") || got != nil && *got != tc.want {
				t.Errorf("ccError = %v, want %q", got, tc.want)
			}
		})
	}
}

// TestPresentersEdgeCases covers states the fixture lacks: a docker
// package without credentials, a sha1-only package, a build whose droplet
// is still staging, a docker droplet and a droplet awaiting upload.
func TestPresentersEdgeCases(t *testing.T) {
	t.Parallel()
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		body []byte
		at   string
		want string
	}{
		{"anonymous docker package", enc(presentPackage(v3Base, store.Package{GUID: "p", AppGUID: "a", Type: store.PackageDocker, DockerImage: str("nginx")})),
			"data", `{"image":"nginx","username":null,"password":null}`},
		{"sha1-only package", enc(presentPackage(v3Base, store.Package{GUID: "p", AppGUID: "a", Type: store.PackageBits, SHA1Checksum: str("da39")})),
			"data.checksum", `{"type":"sha1","value":"da39"}`},
		{"build with a staging droplet", enc(presentBuild(v3Base, store.Build{GUID: "b", AppGUID: "a", DropletGUID: str("d"), DropletState: store.DropletStaging})),
			"droplet", `null`},
		{"build with a failed droplet", enc(presentBuild(v3Base, store.Build{GUID: "b", AppGUID: "a", DropletGUID: str("d"), DropletState: store.DropletFailed})),
			"droplet", `{"guid":"d"}`},
		{"docker build lifecycle", enc(presentBuild(v3Base, store.Build{GUID: "b", AppGUID: "a", LifecycleType: "docker"})),
			"lifecycle", `{"type":"docker","data":{}}`},
		{"docker droplet buildpacks", enc(presentDroplet(v3Base, store.Droplet{GUID: "d", AppGUID: "a", LifecycleType: "docker", State: store.DropletStaged,
			Image: str("nginx:1")}, "")), "buildpacks", `null`},
		{"docker droplet image", enc(presentDroplet(v3Base, store.Droplet{GUID: "d", AppGUID: "a", LifecycleType: "docker", State: store.DropletStaged,
			Image: str("nginx:1")}, "")), "image", `"nginx:1"`},
		{"docker droplet cannot be downloaded", enc(presentDroplet(v3Base, store.Droplet{GUID: "d", AppGUID: "a", LifecycleType: "docker",
			State: store.DropletStaged}, "")), "links", `{"self":{"href":"` + v3Base + `/v3/droplets/d"},"app":{"href":"` + v3Base + `/v3/apps/a"},` +
			`"assign_current_droplet":{"href":"` + v3Base + `/v3/apps/a/relationships/current_droplet","method":"PATCH"}}`},
		{"droplet awaiting upload", enc(presentDroplet(v3Base, store.Droplet{GUID: "d", AppGUID: "a", LifecycleType: "buildpack",
			State: store.DropletAwaitingUpload}, "")), "links.upload", `{"href":"` + v3Base + `/v3/droplets/d/upload","method":"POST"}`},
		{"buildpack droplet without buildpacks", enc(presentDroplet(v3Base, store.Droplet{GUID: "d", AppGUID: "a", LifecycleType: "buildpack",
			State: store.DropletAwaitingUpload}, "")), "buildpacks", `[]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawAt(t, tc.body, tc.at); got != compactJSON(t, tc.want) {
				t.Errorf("%s = %s, want %s", tc.at, got, tc.want)
			}
		})
	}
}
