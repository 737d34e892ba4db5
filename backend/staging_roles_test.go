package backend

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"capibridge/backend/store"
)

// stagingRoleRow is a staging route of the role table. The writes run on
// objects of their own (stagingRoleSetup) in demo-space and in a suspended
// org. suspended replaces, in the suspended org, the expectations that
// roleSuspended would give (a build create answers 422 there, not 403; a
// resource match does not depend on a space). multipart sends the body as
// an upload. effectless rows change nothing when they succeed.
type stagingRoleRow struct {
	roleRow
	suspended  map[string]roleWant
	multipart  string // the file name of the bits; "" sends JSON
	effectless bool
}

// stagingRoleRows are the staging writes and downloads of the role table.
// Placeholders: {app}; {pkg}, a READY bits package; {newPkg}, one awaiting
// its bits; {droplet}, a STAGED droplet; {newDroplet}, one awaiting its
// bits; {sha1}, a checksum nobody has.
func stagingRoleRows() []stagingRoleRow {
	write := func(name, method, path string, body any, status int, notFound roleWant) stagingRoleRow {
		return stagingRoleRow{roleRow: roleRow{name, method, path, body, rolePer(roleOK(status), roleOK(status), roleNotAuthorized, notFound)}}
	}
	read := func(name, path, notFound string) stagingRoleRow {
		return stagingRoleRow{roleRow: roleRow{name, "GET", path, nil, rolePer(roleOK(302), roleOK(302), roleNotAuthorized, roleNotFound(notFound))}}
	}
	invalidApp := roleUnprocessable("App is invalid. Ensure it exists and you have access to it.")
	unusable := roleUnprocessable("Unable to use package. Ensure that the package exists and you have access to it.")
	bits := map[string]any{"type": "bits", "relationships": appRel("{app}")}
	upload := write("upload package", "POST", "/v3/packages/{newPkg}/upload", nil, 200, roleNotFound("Package"))
	upload.multipart = "app.zip"
	dropletUpload := write("upload droplet", "POST", "/v3/droplets/{newDroplet}/upload", nil, 202, roleNotFound("Droplet"))
	dropletUpload.multipart = "droplet.tgz"
	matches := stagingRoleRow{roleRow: roleRow{"resource matches", "POST", "/v3/resource_matches",
		map[string]any{"resources": []any{map[string]any{"checksum": map[string]string{"value": "{sha1}"}, "size_in_bytes": 70000}}},
		roleAll(roleOK(201))}, effectless: true}
	matches.suspended = matches.want
	build := stagingRoleRow{roleRow: roleRow{"create build", "POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": "{pkg}"}},
		rolePer(roleOK(201), roleOK(201), unusable, unusable)}}
	build.suspended = rolePer(roleOK(201), unusable, unusable, unusable)
	return []stagingRoleRow{
		write("create package", "POST", "/v3/packages", bits, 201, invalidApp),
		write("copy package", "POST", "/v3/packages?source_guid={pkg}", map[string]any{"relationships": appRel("{app}")}, 201, invalidApp),
		upload,
		write("delete package", "DELETE", "/v3/packages/{newPkg}", nil, 202, roleNotFound("Package")),
		read("download package", "/v3/packages/{pkg}/download", "Package"),
		{roleRow: roleRow{"package droplets", "GET", "/v3/packages/{pkg}/droplets", nil,
			rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Package"))}, effectless: true},
		matches,
		build,
		write("create droplet", "POST", "/v3/droplets", map[string]any{"relationships": appRel("{app}")}, 201,
			roleUnprocessable(`App with guid "{app}" does not exist, or you do not have access to it.`)),
		write("copy droplet", "POST", "/v3/droplets?source_guid={droplet}", map[string]any{"relationships": appRel("{app}")}, 201, roleNotFound("Droplet")),
		dropletUpload,
		read("download droplet", "/v3/droplets/{droplet}/download", "Droplet"),
		write("assign current droplet", "PATCH", "/v3/apps/{app}/relationships/current_droplet",
			map[string]any{"data": map[string]string{"guid": "{droplet}"}}, 200, roleNotFound("App")),
	}
}

// The signed blob URLs are anonymous: without a signature they refuse
// everyone alike.
var stagingAnonRows = []roleRow{
	{"package blob without a signature", "GET", "/blobs/packages/" + roleMissingGUID, nil, roleAll(roleWant{status: 403})},
	{"droplet blob without a signature", "GET", "/blobs/droplets/" + roleMissingGUID, nil, roleAll(roleWant{status: 403})},
}

func init() {
	roleAnonRows = append(roleAnonRows, stagingAnonRows...)
	for _, r := range stagingRoleRows() {
		roleFixtureRows = append(roleFixtureRows, r.roleRow)
	}
}

// stagingRoleSetup makes the objects of one run in space: the app through
// the API, the rest straight in the store and the blobstore, which is
// quicker and enough for rows about who may do what.
func stagingRoleSetup(c *cf, space, name string) map[string]string {
	c.t.Helper()
	app := roleAppIn(c, space, name, false)
	ctx, st, blobs := context.Background(), c.srv.Store(), c.srv.staging.blobs
	now := st.Now()
	must := func(err error) {
		c.t.Helper()
		if err != nil {
			c.t.Fatal(err)
		}
	}
	pkg, newPkg, droplet, newDroplet := newGUID(), newGUID(), newGUID(), newGUID()
	must(os.WriteFile(blobs.path(blobPackages, pkg), zipOf(c.t, zipFile{name: "Staticfile"}), 0o600))
	must(os.WriteFile(blobs.path(blobDroplets, droplet), tgzOf(c.t, map[string]string{"./app/x": "x"}), 0o600))
	for _, p := range []store.Package{
		{GUID: pkg, AppGUID: app, SpaceGUID: space, Type: store.PackageBits, State: store.PackageReady, CreatedAt: now, UpdatedAt: now},
		{GUID: newPkg, AppGUID: app, SpaceGUID: space, Type: store.PackageBits, State: store.PackageAwaitingUpload, CreatedAt: now, UpdatedAt: now},
	} {
		must(st.CreatePackage(ctx, p))
	}
	for _, d := range []store.Droplet{
		{GUID: droplet, AppGUID: app, SpaceGUID: space, State: store.DropletStaged, LifecycleType: "buildpack",
			ProcessTypes: map[string]string{"web": "./x"}, Buildpacks: []store.DropletBuildpack{}, CreatedAt: now, UpdatedAt: now},
		{GUID: newDroplet, AppGUID: app, SpaceGUID: space, State: store.DropletAwaitingUpload, LifecycleType: "buildpack",
			ProcessTypes: map[string]string{"web": ""}, Buildpacks: []store.DropletBuildpack{}, CreatedAt: now, UpdatedAt: now},
	} {
		must(st.CreateDroplet(ctx, d))
	}
	return map[string]string{"{app}": app, "{pkg}": pkg, "{newPkg}": newPkg, "{droplet}": droplet, "{newDroplet}": newDroplet, "{sha1}": sha1Hex(name)}
}

// stagingRoleSnapshot is what a staging write can change: the app's
// packages, builds and droplets with their states, its current droplet,
// and its audit events.
func stagingRoleSnapshot(t *testing.T, c *cf, vals map[string]string) string {
	t.Helper()
	ctx, st, all := context.Background(), c.srv.Store(), store.Viewer{All: true}
	app := vals["{app}"]
	page := store.Page{Page: 1, PerPage: 100}
	pkgs, _, err := st.ListPackages(ctx, all, store.PackageFilter{AppGUIDs: []string{app}}, page)
	if err != nil {
		t.Fatal(err)
	}
	builds, _, err := st.ListBuilds(ctx, all, store.BuildFilter{AppGUIDs: []string{app}}, page)
	if err != nil {
		t.Fatal(err)
	}
	droplets, _, err := st.ListDroplets(ctx, all, store.DropletFilter{AppGUIDs: []string{app}}, page)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.GetApp(ctx, all, app)
	if err != nil {
		t.Fatal(err)
	}
	_, events, err := st.ListEvents(ctx, all, store.EventFilter{TargetGUIDs: []string{app}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "package %s %s\n", p.GUID, p.State)
	}
	for _, bd := range builds {
		fmt.Fprintf(&b, "build %s %s\n", bd.GUID, bd.State)
	}
	for _, d := range droplets {
		fmt.Fprintf(&b, "droplet %s %s\n", d.GUID, d.State)
	}
	fmt.Fprintf(&b, "current %v; events %d", a.DropletGUID, events)
	if a.DropletGUID != nil {
		fmt.Fprintf(&b, " (%s)", *a.DropletGUID)
	}
	return b.String()
}

// TestRoleStagingWrites runs the staging rows as every seeded user in
// demo-space and in a suspended org. A refused write leaves no trace, an
// accepted one does; downloads are reads, which a suspension does not stop.
func TestRoleStagingWrites(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	var seq atomic.Int64
	targets := []struct{ name, space string }{{"demo space", DemoSpaceGUID}, {"suspended org", roleSuspendedSpaceGUID}}
	for _, row := range stagingRoleRows() {
		for _, target := range targets {
			for _, user := range roleUsers {
				t.Run(row.name+"/"+target.name+"/"+user, func(t *testing.T) {
					t.Parallel()
					want, ok := row.want[user]
					if !ok {
						t.Fatalf("row has no expectation for %s", user)
					}
					if target.space == roleSuspendedSpaceGUID && row.method != "GET" {
						if w, ok := row.suspended[user]; ok {
							want = w
						} else {
							want = roleSuspended(user, want)
						}
					}
					v := roleView(c, t)
					vals := stagingRoleSetup(v, target.space, fmt.Sprintf("staging-role-%d", seq.Add(1)))
					var pairs []string
					for k, val := range vals {
						pairs = append(pairs, k, val)
					}
					fill := strings.NewReplacer(pairs...)
					want.detail = fill.Replace(want.detail)
					before := stagingRoleSnapshot(t, c, vals)
					var r resp
					switch {
					case row.multipart == "app.zip":
						r = v.uploadBits(user, vals["{newPkg}"], zipOf(t, zipFile{name: "index.php", body: "<?php"}), "")
					case row.multipart != "":
						body, ct := multipartOf(t, nil, row.multipart, tgzOf(t, map[string]string{"./app/y": "y"}))
						r = v.raw(row.method, fill.Replace(row.path), user, ct, body, false)
					default:
						path, body := row.filled(t, fill)
						r = v.do(row.method, path, user, body)
					}
					want.assert(t, r)
					if row.method == "GET" || row.effectless {
						return
					}
					if after := stagingRoleSnapshot(t, c, vals); (want.status >= 400) != (before == after) {
						t.Errorf("refused=%v but the state went from\n%s\nto\n%s", want.status >= 400, before, after)
					}
				})
			}
		}
	}
}
