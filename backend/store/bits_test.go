package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func sp(s string) *string { return &s }

func ip(n int64) *int64 { return &n }

// bitsFixture adds to the fixture an app in space A and one in space C, a
// shared and a private domain, and a user "dev" who is developer in A.
func bitsFixture(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := fixture(t)
	mustCreateApp(t, s, "app-a", "a", spaceA, nil)
	mustCreateApp(t, s, "app-c", "c", spaceC, nil)
	if err := s.CreateUser(ctx, User{GUID: "dev", Username: "dev", Scopes: []string{}}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []Role{{Type: RoleOrgUser, OrgGUID: org1}, {Type: RoleSpaceDeveloper, OrgGUID: org1, SpaceGUID: spaceA}} {
		r.GUID, r.UserGUID = "dev-role-"+string(rune('0'+i)), "dev"
		if err := s.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []Domain{{GUID: "shared", Name: "apps.example.org"}, {GUID: "private-2", Name: "two.example.org", OrgGUID: org2}} {
		if err := s.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestBitsRoundTrip writes every column of a package, build and droplet and
// reads them back unchanged; a droplet keeps {} apart from null process
// types and [] apart from null buildpacks.
func TestBitsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	all := Viewer{All: true}
	pkg := Package{GUID: "pkg", AppGUID: "app-a", SpaceGUID: spaceA, Type: PackageDocker, State: PackageReady, SHA256Checksum: sp("256"),
		SHA1Checksum: sp("1"), Error: sp("bad"), DockerImage: sp("img"), DockerUsername: sp("u"), DockerPassword: sp("p"),
		Labels: Metadata{"l": "1"}, Annotations: Metadata{"a": "2"}, CreatedAt: 10, UpdatedAt: 11}
	if err := s.CreatePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	gotPkg, err := s.GetPackage(ctx, all, "pkg")
	if err != nil {
		t.Fatal(err)
	}
	gotPkg.ID = 0
	if !reflect.DeepEqual(gotPkg, pkg) {
		t.Errorf("package\n got %+v\nwant %+v", gotPkg, pkg)
	}

	droplets := []Droplet{
		{GUID: "d-full", AppGUID: "app-a", SpaceGUID: spaceA, PackageGUID: sp("pkg"), State: DropletStaged, ErrorID: sp("E"), ErrorDescription: sp("D"),
			LifecycleType: "buildpack", ExecutionMetadata: "meta", ProcessTypes: map[string]string{"web": "run"}, SHA256Checksum: sp("256"),
			SHA1Checksum: sp("1"), Buildpacks: []DropletBuildpack{{Name: "ruby", DetectOutput: sp("ruby 3"), Version: sp("1.0"), BuildpackName: sp("ruby")}},
			Stack: sp("cflinuxfs4"), Image: sp("img"), Labels: Metadata{"l": "1"}, Annotations: Metadata{}, CreatedAt: 20, UpdatedAt: 21},
		{GUID: "d-empty", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletStaged, LifecycleType: "buildpack", ProcessTypes: map[string]string{},
			Buildpacks: []DropletBuildpack{}, Labels: Metadata{}, Annotations: Metadata{}, CreatedAt: 22, UpdatedAt: 22},
		{GUID: "d-null", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletAwaitingUpload, LifecycleType: "docker", Labels: Metadata{},
			Annotations: Metadata{}, CreatedAt: 23, UpdatedAt: 23},
	}
	for _, d := range droplets {
		if err := s.CreateDroplet(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDroplet(ctx, all, d.GUID)
		if err != nil {
			t.Fatal(err)
		}
		got.ID = 0
		if !reflect.DeepEqual(got, d) {
			t.Errorf("droplet %s\n got %+v\nwant %+v", d.GUID, got, d)
		}
	}

	b := Build{GUID: "b", AppGUID: "app-a", SpaceGUID: spaceA, PackageGUID: "pkg", DropletGUID: sp("d-full"), State: BuildStaged, ErrorID: sp("E"),
		ErrorDescription: sp("D"), LifecycleType: "buildpack", Buildpacks: []string{"ruby", "go"}, Stack: sp("cflinuxfs4"), StagingMemoryMB: 1,
		StagingDiskMB: 2, StagingLogRate: 3, CreatedBy: Creator{GUID: "u", Name: "n", Email: "e"}, Labels: Metadata{}, Annotations: Metadata{"a": "b"},
		CreatedAt: 30, UpdatedAt: 31}
	if err := s.CreateBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBuild(ctx, all, "b")
	if err != nil {
		t.Fatal(err)
	}
	got.ID = 0
	b.DropletState = DropletStaged // read from the droplet
	if !reflect.DeepEqual(got, b) {
		t.Errorf("build\n got %+v\nwant %+v", got, b)
	}
}

func TestBitsNeedTheirApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	errs := map[string]error{
		"package": s.CreatePackage(ctx, Package{GUID: "p", AppGUID: "no-app", SpaceGUID: spaceA, Type: PackageBits, State: PackageReady}),
		"build":   s.CreateBuild(ctx, Build{GUID: "b", AppGUID: "no-app", SpaceGUID: spaceA, PackageGUID: "p", State: BuildStaging, LifecycleType: "buildpack"}),
		"droplet": s.CreateDroplet(ctx, Droplet{GUID: "d", AppGUID: "no-app", SpaceGUID: spaceA, State: DropletStaged, LifecycleType: "buildpack"}),
	}
	for what, err := range errs {
		if err == nil {
			t.Errorf("a %s of a missing app was stored", what)
		}
	}
	if err := s.CreatePackage(ctx, Package{GUID: "p", AppGUID: "app-a", SpaceGUID: spaceA, Type: PackageBits, State: PackageReady}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePackage(ctx, Package{GUID: "p", AppGUID: "app-a", SpaceGUID: spaceA, Type: PackageBits, State: PackageReady}); !errors.Is(err, ErrConflict) {
		t.Errorf("a package guid twice = %v, want ErrConflict", err)
	}
}

func TestListBitsFiltersAndVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	for _, d := range []Droplet{
		{GUID: "d-a1", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletStaged, LifecycleType: "buildpack", CreatedAt: 3},
		{GUID: "d-a2", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletFailed, LifecycleType: "buildpack", CreatedAt: 1},
		{GUID: "d-c", AppGUID: "app-c", SpaceGUID: spaceC, State: DropletStaged, LifecycleType: "buildpack", CreatedAt: 2},
	} {
		if err := s.CreateDroplet(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for app, droplet := range map[string]string{"app-a": "d-a1", "app-c": "d-c"} {
		a, err := s.GetApp(ctx, Viewer{All: true}, app)
		if err != nil {
			t.Fatal(err)
		}
		a.DropletGUID = &droplet
		if err := s.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		v    Viewer
		f    DropletFilter
		p    Page
		want []string
	}{
		{"all", Viewer{All: true}, DropletFilter{}, Page{}, []string{"d-a1", "d-a2", "d-c"}},
		{"developer of A", Viewer{UserGUID: "dev"}, DropletFilter{}, Page{}, []string{"d-a1", "d-a2"}},
		{"no roles", Viewer{UserGUID: "nobody"}, DropletFilter{}, Page{}, []string{}},
		{"current", Viewer{All: true}, DropletFilter{Current: true}, Page{}, []string{"d-a1", "d-c"}},
		{"current of A", Viewer{All: true}, DropletFilter{Current: true, AppGUIDs: []string{"app-a"}}, Page{}, []string{"d-a1"}},
		{"states", Viewer{All: true}, DropletFilter{States: []string{DropletFailed}}, Page{}, []string{"d-a2"}},
		{"org of C", Viewer{All: true}, DropletFilter{OrgGUIDs: []string{org2}}, Page{}, []string{"d-c"}},
		{"no org", Viewer{All: true}, DropletFilter{OrgGUIDs: []string{}}, Page{}, []string{}},
		{"newest first", Viewer{All: true}, DropletFilter{}, Page{OrderBy: "created_at", Desc: true}, []string{"d-a1", "d-c", "d-a2"}},
		{"newest of A", Viewer{All: true}, DropletFilter{AppGUIDs: []string{"app-a"}}, Page{OrderBy: "created_at", Desc: true, PerPage: 1}, []string{"d-a1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			p.Page = 1
			if p.PerPage == 0 {
				p.PerPage = 10
			}
			ds, _, err := s.ListDroplets(ctx, tc.v, tc.f, p)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, d := range ds {
				got = append(got, d.GUID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := s.GetDroplet(ctx, Viewer{UserGUID: "dev"}, "d-c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a droplet of another space = %v, want ErrNotFound", err)
	}
}

func TestRoutesAndDestinations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	if err := s.CreateRoute(ctx, Route{GUID: "r", SpaceGUID: spaceA, DomainGUID: "shared", Host: "www", CreatedAt: 1, UpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	// CC: one route per host, domain, path and port; hosts compare
	// case-insensitively and a NULL port is still one port.
	conflicts := []Route{
		{GUID: "r2", SpaceGUID: spaceA, DomainGUID: "shared", Host: "www"},
		{GUID: "r3", SpaceGUID: spaceB, DomainGUID: "shared", Host: "WWW"},
		{GUID: "r", SpaceGUID: spaceA, DomainGUID: "shared", Host: "other"},
	}
	for _, rt := range conflicts {
		if err := s.CreateRoute(ctx, rt); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateRoute %+v = %v, want ErrConflict", rt, err)
		}
	}
	for _, rt := range []Route{
		{GUID: "r-path", SpaceGUID: spaceA, DomainGUID: "shared", Host: "www", Path: "/x"},
		{GUID: "r-port", SpaceGUID: spaceA, DomainGUID: "shared", Host: "www", Port: ip(1024)},
		{GUID: "r-c", SpaceGUID: spaceC, DomainGUID: "private-2", Host: "www"},
	} {
		if err := s.CreateRoute(ctx, rt); err != nil {
			t.Errorf("CreateRoute %s: %v", rt.GUID, err)
		}
	}
	if err := s.CreateRoute(ctx, Route{GUID: "r-x", SpaceGUID: spaceA, DomainGUID: "no-domain"}); err == nil {
		t.Error("a route of a missing domain was stored")
	}

	// Zero values take CC's defaults; the order is created_at, then guid.
	for _, d := range []Destination{
		{GUID: "dest-2", RouteGUID: "r", AppGUID: "app-a", CreatedAt: 5},
		{GUID: "dest-1", RouteGUID: "r", AppGUID: "app-a", ProcessType: "worker", Port: 9000, Weight: ip(3), Protocol: "http2", CreatedAt: 5},
		{GUID: "dest-0", RouteGUID: "r", AppGUID: "app-c", CreatedAt: 6},
	} {
		if err := s.AddDestination(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDestination(ctx, Destination{GUID: "dest-dup", RouteGUID: "r", AppGUID: "app-a"}); !errors.Is(err, ErrConflict) {
		t.Errorf("the same destination twice = %v, want ErrConflict", err)
	}
	got, err := s.Destinations(ctx, []string{"r", "r-path"}, DestinationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got["r"] {
		got["r"][i].ID = 0
	}
	want := []Destination{
		{GUID: "dest-1", RouteGUID: "r", AppGUID: "app-a", ProcessType: "worker", Port: 9000, Weight: ip(3), Protocol: "http2", CreatedAt: 5},
		{GUID: "dest-2", RouteGUID: "r", AppGUID: "app-a", ProcessType: "web", Port: 8080, Protocol: "http1", CreatedAt: 5},
		{GUID: "dest-0", RouteGUID: "r", AppGUID: "app-c", ProcessType: "web", Port: 8080, Protocol: "http1", CreatedAt: 6},
	}
	if !reflect.DeepEqual(got["r"], want) || len(got["r-path"]) != 0 {
		t.Errorf("destinations\n got %+v\nwant %+v", got, want)
	}
	filtered, err := s.Destinations(ctx, []string{"r"}, DestinationFilter{AppGUIDs: []string{"app-c"}})
	if err != nil || len(filtered["r"]) != 1 || filtered["r"][0].GUID != "dest-0" {
		t.Errorf("destinations of app-c: %+v, %v", filtered, err)
	}

	list := func(v Viewer, f RouteFilter) []string {
		t.Helper()
		rts, total, err := s.ListRoutes(ctx, v, f, Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, rt := range rts {
			out = append(out, rt.GUID)
		}
		if total != len(out) {
			t.Errorf("total %d for %d routes", total, len(out))
		}
		return out
	}
	routeCases := []struct {
		name string
		v    Viewer
		f    RouteFilter
		want []string
	}{
		{"all", Viewer{All: true}, RouteFilter{}, []string{"r", "r-path", "r-port", "r-c"}},
		{"developer of A", Viewer{UserGUID: "dev"}, RouteFilter{}, []string{"r", "r-path", "r-port"}},
		{"app-c", Viewer{All: true}, RouteFilter{AppGUIDs: []string{"app-c"}}, []string{"r"}},
		{"no apps", Viewer{All: true}, RouteFilter{AppGUIDs: []string{}}, []string{}},
		{"ports", Viewer{All: true}, RouteFilter{Ports: []int64{1024}}, []string{"r-port"}},
		{"paths", Viewer{All: true}, RouteFilter{Paths: []string{""}, Hosts: []string{"www"}}, []string{"r", "r-port", "r-c"}},
		{"domain", Viewer{All: true}, RouteFilter{DomainGUIDs: []string{"private-2"}}, []string{"r-c"}},
		{"org", Viewer{All: true}, RouteFilter{OrgGUIDs: []string{org2}}, []string{"r-c"}},
	}
	for _, tc := range routeCases {
		if got := list(tc.v, tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: routes %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDomainVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	cases := []struct {
		v    Viewer
		want []string
	}{
		{Viewer{All: true}, []string{"shared", "private-2"}},
		{Viewer{UserGUID: "dev"}, []string{"shared"}}, // roles in org1 only
		{Viewer{UserGUID: "nobody"}, []string{"shared"}},
	}
	for _, tc := range cases {
		ds, _, err := s.ListDomains(ctx, tc.v, DomainFilter{}, Page{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, d := range ds {
			got = append(got, d.GUID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v sees %v, want %v", tc.v, got, tc.want)
		}
		_, err = s.GetDomain(ctx, tc.v, "private-2")
		if visible := slices.Contains(tc.want, "private-2"); visible != (err == nil) {
			t.Errorf("%+v GetDomain(private-2) = %v", tc.v, err)
		}
	}
	d, err := s.GetDomain(ctx, Viewer{UserGUID: "nobody"}, "shared")
	if err != nil || !slices.Equal(d.Protocols, []string{"http"}) || d.OrgGUID != "" {
		t.Errorf("shared domain %+v, %v; want protocols [http] and no org", d, err)
	}
	if err := s.CreateDomain(ctx, Domain{GUID: "again", Name: "APPS.example.org"}); !errors.Is(err, ErrConflict) {
		t.Errorf("a domain name twice = %v, want ErrConflict", err)
	}
}

// TestDeleteAppRemovesItsBits: DeleteApp takes the app's packages, builds,
// droplets, destinations and bindings with it, and leaves another app's and
// the routes alone.
func TestDeleteAppRemovesItsBits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	mustCreateApp(t, s, "app-a2", "a2", spaceA, nil)
	if err := s.CreateRoute(ctx, Route{GUID: "r", SpaceGUID: spaceA, DomainGUID: "shared", Host: "www"}); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"app-a", "app-a2"} {
		steps := []error{
			s.CreatePackage(ctx, Package{GUID: "p-" + app, AppGUID: app, SpaceGUID: spaceA, Type: PackageBits, State: PackageReady}),
			s.CreateDroplet(ctx, Droplet{GUID: "d-" + app, AppGUID: app, SpaceGUID: spaceA, State: DropletStaged, LifecycleType: "buildpack"}),
			s.CreateBuild(ctx, Build{GUID: "b-" + app, AppGUID: app, SpaceGUID: spaceA, PackageGUID: "p-" + app, DropletGUID: sp("d-" + app),
				State: BuildStaged, LifecycleType: "buildpack"}),
			s.AddDestination(ctx, Destination{GUID: "dest-" + app, RouteGUID: "r", AppGUID: app}),
			s.CreateServiceCredentialBinding(ctx, ServiceCredentialBinding{GUID: "sb-" + app, Type: "app", AppGUID: sp(app), ServiceInstanceGUID: "si",
				SpaceGUID: spaceA}),
		}
		for _, err := range steps {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteApp(ctx, "app-a"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	all := Viewer{All: true}
	gets := map[string]func(string) error{
		"package": func(g string) error { _, err := s.GetPackage(ctx, all, g); return err },
		"build":   func(g string) error { _, err := s.GetBuild(ctx, all, g); return err },
		"droplet": func(g string) error { _, err := s.GetDroplet(ctx, all, g); return err },
		"binding": func(g string) error { _, err := s.GetServiceCredentialBinding(ctx, all, g); return err },
	}
	prefixes := map[string]string{"package": "p-", "build": "b-", "droplet": "d-", "binding": "sb-"}
	for what, get := range gets {
		if err := get(prefixes[what] + "app-a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the deleted app's %s: %v, want ErrNotFound", what, err)
		}
		if err := get(prefixes[what] + "app-a2"); err != nil {
			t.Errorf("the other app's %s: %v", what, err)
		}
	}
	dests, err := s.Destinations(ctx, []string{"r"}, DestinationFilter{})
	if err != nil || len(dests["r"]) != 1 || dests["r"][0].AppGUID != "app-a2" {
		t.Errorf("destinations left %+v (%v), want app-a2's only", dests["r"], err)
	}
	if _, err := s.GetRoute(ctx, all, "r"); err != nil {
		t.Errorf("the route went with the app: %v", err)
	}
}

// TestStageAndFinishBuilds: a STAGING build holds its outcome until its
// finish time, only one build of an app stages at a time, and finishing
// applies the outcome to the build, its droplet and the events.
func TestStageAndFinishBuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	all := Viewer{All: true}
	if err := s.CreatePackage(ctx, Package{GUID: "pkg", AppGUID: "app-a", SpaceGUID: spaceA, Type: PackageBits, State: PackageReady},
		Event{GUID: "ev-pkg", Type: "audit.app.package.create", TargetGUID: "app-a", SpaceGUID: spaceA}); err != nil {
		t.Fatal(err)
	}
	build := func(guid, app, droplet string) Build {
		b := Build{GUID: guid, AppGUID: app, SpaceGUID: spaceA, PackageGUID: "pkg", State: BuildStaging, LifecycleType: "buildpack",
			StagingMemoryMB: 1024, StagingDiskMB: 4096, StagingLogRate: -1, CreatedAt: 100, UpdatedAt: 100}
		if droplet != "" {
			b.DropletGUID = &droplet
		}
		return b
	}
	start := Droplet{GUID: "d1", AppGUID: "app-a", SpaceGUID: spaceA, PackageGUID: sp("pkg"), State: DropletStaging, LifecycleType: "buildpack",
		Buildpacks: []DropletBuildpack{}, CreatedAt: 100, UpdatedAt: 100}
	final := start
	final.State, final.ProcessTypes, final.SHA256Checksum = DropletStaged, map[string]string{"web": "./run"}, sp("abc")
	outcome := StagingOutcome{State: BuildStaged, Droplet: final,
		Events: []Event{{GUID: "ev-done", Type: "audit.app.droplet.create", TargetGUID: "app-a", SpaceGUID: spaceA}}}
	if err := s.StageBuild(ctx, build("b1", "app-a", "d1"), &start, 101_500, outcome); err != nil {
		t.Fatal(err)
	}
	if busy, err := s.StagingInProgress(ctx, "app-a"); err != nil || !busy {
		t.Fatalf("StagingInProgress = %v, %v", busy, err)
	}
	if err := s.StageBuild(ctx, build("b2", "app-a", ""), nil, 102_000, StagingOutcome{State: BuildStaged}); !errors.Is(err, ErrStagingInProgress) {
		t.Fatalf("a second build: %v, want ErrStagingInProgress", err)
	}
	// Another app stages meanwhile, with a docker outcome that makes its droplet.
	docker := Droplet{GUID: "d-docker", AppGUID: "app-c", SpaceGUID: spaceC, State: DropletStaged, LifecycleType: "docker", Image: sp("nginx")}
	if err := s.StageBuild(ctx, build("b3", "app-c", ""), nil, 105_000, StagingOutcome{State: BuildStaged, Droplet: docker, NewDroplet: true}); err != nil {
		t.Fatal(err)
	}
	if next, err := s.NextBuildFinish(ctx); err != nil || next != 101_500 {
		t.Fatalf("NextBuildFinish = %d, %v", next, err)
	}
	if next, err := s.FinishBuilds(ctx, 101_499); err != nil || next != 101_500 {
		t.Fatalf("FinishBuilds before the time = %d, %v", next, err)
	}
	if b, _ := s.GetBuild(ctx, all, "b1"); b.State != BuildStaging || b.DropletState != DropletStaging {
		t.Fatalf("build %s with droplet %s before its time", b.State, b.DropletState)
	}
	next, err := s.FinishBuilds(ctx, 101_500)
	if err != nil || next != 105_000 {
		t.Fatalf("FinishBuilds = %d, %v", next, err)
	}
	b, err := s.GetBuild(ctx, all, "b1")
	if err != nil || b.State != BuildStaged || b.UpdatedAt != 101 || b.DropletState != DropletStaged {
		t.Fatalf("finished build %+v (%v)", b, err)
	}
	d, err := s.GetDroplet(ctx, all, "d1")
	if err != nil || d.State != DropletStaged || d.ProcessTypes["web"] != "./run" || *d.SHA256Checksum != "abc" || d.UpdatedAt != 101 {
		t.Fatalf("finished droplet %+v (%v)", d, err)
	}
	if e, err := s.GetEvent(ctx, all, "ev-done"); err != nil || e.CreatedAt != 101 {
		t.Errorf("event of the end %+v (%v)", e, err)
	}
	if busy, _ := s.StagingInProgress(ctx, "app-a"); busy {
		t.Error("app-a still staging")
	}
	if next, err := s.FinishBuilds(ctx, 200_000); err != nil || next != 0 {
		t.Fatalf("FinishBuilds of the last = %d, %v", next, err)
	}
	b, _ = s.GetBuild(ctx, all, "b3")
	if b.DropletGUID == nil || *b.DropletGUID != "d-docker" || b.DropletState != DropletStaged {
		t.Errorf("docker build %+v", b)
	}
	if d, err := s.GetDroplet(ctx, all, "d-docker"); err != nil || d.CreatedAt != 105 || *d.Image != "nginx" {
		t.Errorf("docker droplet %+v (%v)", d, err)
	}
}

// TestStateChanges: package and droplet state changes start from a given
// state, and assigning a droplet needs it STAGED and the app's.
func TestStateChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := bitsFixture(t)
	p := Package{GUID: "pkg", AppGUID: "app-a", SpaceGUID: spaceA, Type: PackageBits, State: PackageAwaitingUpload}
	if err := s.CreatePackage(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.State = PackageProcessingUpload
	if err := s.SetPackageState(ctx, PackageAwaitingUpload, p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPackageState(ctx, PackageAwaitingUpload, p); !errors.Is(err, ErrWrongState) {
		t.Errorf("a second upload: %v, want ErrWrongState", err)
	}
	p.GUID = "missing"
	if err := s.SetPackageState(ctx, PackageAwaitingUpload, p); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing package: %v, want ErrNotFound", err)
	}
	for _, d := range []Droplet{
		{GUID: "staged", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletStaged, LifecycleType: "buildpack", ProcessTypes: map[string]string{"web": "w", "worker": "k"}},
		{GUID: "waiting", AppGUID: "app-a", SpaceGUID: spaceA, State: DropletAwaitingUpload, LifecycleType: "buildpack"},
		{GUID: "foreign", AppGUID: "app-c", SpaceGUID: spaceC, State: DropletStaged, LifecycleType: "buildpack"},
	} {
		if err := s.CreateDroplet(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	made := 0
	newProcess := func(typ string) (Process, Event) {
		made++
		_, proc := newApp("app-a", "a", spaceA, nil)
		proc.GUID, proc.Type, proc.Instances = "proc-"+typ, typ, 0
		return proc, Event{GUID: "ev-" + typ, Type: "audit.app.process.create", TargetGUID: "app-a", SpaceGUID: spaceA}
	}
	if err := s.AssignDroplet(ctx, "app-a", "waiting", 5, newProcess); !errors.Is(err, ErrWrongState) {
		t.Errorf("assigning a droplet awaiting upload: %v", err)
	}
	if err := s.AssignDroplet(ctx, "app-a", "foreign", 5, newProcess); !errors.Is(err, ErrNotFound) {
		t.Errorf("assigning another app's droplet: %v", err)
	}
	if err := s.AssignDroplet(ctx, "app-a", "staged", 5, newProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := s.GetApp(ctx, Viewer{All: true}, "app-a")
	if a.DropletGUID == nil || *a.DropletGUID != "staged" || a.UpdatedAt != 5 {
		t.Errorf("app %+v", a)
	}
	if made != 1 {
		t.Errorf("%d processes made, want the worker only", made)
	}
	if w, err := s.GetAppProcess(ctx, "app-a", "worker"); err != nil || w.Instances != 0 {
		t.Errorf("worker %+v (%v)", w, err)
	}
	pkgs, droplets, err := s.BlobOwners(ctx)
	if err != nil || !pkgs["pkg"] || !droplets["staged"] || len(droplets) != 3 {
		t.Errorf("BlobOwners = %v, %v, %v", pkgs, droplets, err)
	}
}
