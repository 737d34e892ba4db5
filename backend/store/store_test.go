package store

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The fixture: org1 holds spaces A and B, org2 holds space C.
const (
	org1   = "org-1"
	org2   = "org-2"
	spaceA = "space-a"
	spaceB = "space-b"
	spaceC = "space-c"
)

// epoch is the fixed store clock, so timestamps written by the store
// itself (job updates) are known.
var epoch = time.Unix(1_700_000_000, 0)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, func() time.Time { return epoch })
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fixture opens an in-memory store holding two orgs and three spaces.
func fixture(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, Memory)
	for _, o := range []Org{{GUID: org1, Name: "org-one", QuotaGUID: "q"}, {GUID: org2, Name: "org-two", QuotaGUID: "q"}} {
		if err := s.CreateOrg(ctx, o); err != nil {
			t.Fatalf("CreateOrg %s: %v", o.GUID, err)
		}
	}
	for _, sp := range []Space{{GUID: spaceA, Name: "a", OrgGUID: org1}, {GUID: spaceB, Name: "b", OrgGUID: org1}, {GUID: spaceC, Name: "c", OrgGUID: org2}} {
		if err := s.CreateSpace(ctx, sp); err != nil {
			t.Fatalf("CreateSpace %s: %v", sp.GUID, err)
		}
	}
	return s
}

// newApp builds an app and its web process the way the API does: the web
// process shares the app's guid.
func newApp(guid, name, space string, labels Metadata) (App, Process) {
	a := App{GUID: guid, Name: name, SpaceGUID: space, State: "STOPPED", LifecycleType: "buildpack", Labels: labels, CreatedAt: 1, UpdatedAt: 1}
	p := Process{GUID: guid, AppGUID: guid, SpaceGUID: space, Type: "web", Instances: 1, MemoryMB: 1024, DiskMB: 1024,
		LogRateLimit: -1, HealthCheckType: "port", Version: "v1", CreatedAt: 1, UpdatedAt: 1}
	return a, p
}

func mustCreateApp(t *testing.T, s *Store, guid, name, space string, labels Metadata) App {
	t.Helper()
	a, p := newApp(guid, name, space, labels)
	if err := s.CreateApp(context.Background(), a, p); err != nil {
		t.Fatalf("CreateApp %s %q: %v", guid, name, err)
	}
	return a
}

func appGUIDs(t *testing.T, s *Store, v Viewer, f AppFilter) []string {
	t.Helper()
	apps, total, err := s.ListApps(context.Background(), v, f, Page{Page: 1, PerPage: 100})
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	// The count query and the page query build their WHERE separately from
	// the same clauses; a mismatch would break pagination.
	if total != len(apps) {
		t.Errorf("ListApps total = %d, page holds %d", total, len(apps))
	}
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.GUID
	}
	slices.Sort(out)
	return out
}

func TestMigrationsAppliedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()

	first, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	if err := first.CreateOrg(ctx, Org{GUID: org1, Name: "kept", QuotaGUID: "q"}); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A second Open re-running 0001 would fail on CREATE TABLE, or, were the
	// schema ever made idempotent, still leave duplicate version rows.
	second := openStore(t, dir)
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(names))
	}
	var rows, distinct int
	if err := second.db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatalf("counting schema_migrations: %v", err)
	}
	if rows != len(names) || distinct != len(names) {
		t.Errorf("schema_migrations has %d rows (%d distinct), want one per migration file (%d)", rows, distinct, len(names))
	}
	o, err := second.GetOrg(ctx, Viewer{All: true}, org1)
	if err != nil || o.Name != "kept" {
		t.Errorf("org written before reopening: %+v, %v", o, err)
	}
}

func TestCreateAppUniqueness(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, app, space string
		conflict         bool
	}{
		{"same name same space", "web", spaceA, true},
		{"differs only in case", "WeB", spaceA, true},
		{"same name other space of the org", "web", spaceB, false},
		{"same name other org", "web", spaceC, false},
		{"other name same space", "worker", spaceA, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := fixture(t)
			mustCreateApp(t, s, "first", "web", spaceA, nil)

			a, p := newApp("second", tc.app, tc.space, nil)
			ev := Event{GUID: "ev-second", Type: "audit.app.create", TargetGUID: "second", SpaceGUID: tc.space, CreatedAt: 1}
			err := s.CreateApp(ctx, a, p, ev)
			if got := errors.Is(err, ErrConflict); got != tc.conflict {
				t.Fatalf("CreateApp(%q in %s) = %v, conflict %v, want conflict %v", tc.app, tc.space, err, got, tc.conflict)
			}
			if !tc.conflict && err != nil {
				t.Fatalf("CreateApp: %v", err)
			}
			// CreateApp is one transaction: a refused app leaves neither its
			// process nor its audit event behind.
			_, perr := s.GetAppProcess(ctx, "second", "web")
			_, eerr := s.GetEvent(ctx, Viewer{All: true}, "ev-second")
			if tc.conflict {
				if !errors.Is(perr, ErrNotFound) || !errors.Is(eerr, ErrNotFound) {
					t.Errorf("after the conflict: process err %v, event err %v; want both ErrNotFound", perr, eerr)
				}
			} else if perr != nil || eerr != nil {
				t.Errorf("after the create: process err %v, event err %v", perr, eerr)
			}
		})
	}
}

func TestCreateAppRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fixture(t)
	stack, droplet := "cflinuxfs4", "droplet-1"
	want := App{GUID: "rt", Name: "round-trip", SpaceGUID: spaceA, State: "STARTED", LifecycleType: "buildpack",
		Buildpacks: []string{"go_buildpack", "https://example.org/bp.zip"}, Stack: &stack,
		// "&", "<" and ">" must come back as sent: the API writes env values
		// out as stored, and CC shows them unescaped.
		Env: map[string]json.RawMessage{"S": json.RawMessage(`"a=b&c<d>"`), "N": json.RawMessage(`{"deep":[1,true,null]}`)}, DropletGUID: &droplet,
		SSHEnabled: true, RevisionsEnabled: true, FileVCAP: true, Labels: Metadata{"env": "prod"}, Annotations: Metadata{"note": "a b"},
		CreatedAt: 10, UpdatedAt: 20}
	_, p := newApp("rt", "round-trip", spaceA, nil)
	if err := s.CreateApp(ctx, want, p); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	got, err := s.GetApp(ctx, Viewer{All: true}, "rt")
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	for k, v := range want.Env {
		if string(got.Env[k]) != string(v) {
			t.Errorf("env %s = %s, want %s", k, got.Env[k], v)
		}
	}
	want.ID, want.Env, got.Env = got.ID, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetApp =\n%+v\nwant\n%+v", got, want)
	}
}

func TestUpdateAppRename(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, to string
		err      error
	}{
		{"onto a taken name", "alpha", ErrConflict},
		{"onto a taken name in another case", "ALPHA", ErrConflict},
		{"to its own name in another case", "BETA", nil},
		{"to a free name", "gamma", nil},
		{"to a name taken only in another space", "elsewhere", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := fixture(t)
			mustCreateApp(t, s, "a", "alpha", spaceA, nil)
			b := mustCreateApp(t, s, "b", "beta", spaceA, nil)
			mustCreateApp(t, s, "c", "elsewhere", spaceB, nil)

			b.Name, b.UpdatedAt = tc.to, 2
			err := s.UpdateApp(ctx, b)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("UpdateApp rename to %q = %v, want %v", tc.to, err, tc.err)
			}
			got, err := s.GetApp(ctx, Viewer{All: true}, "b")
			if err != nil {
				t.Fatalf("GetApp: %v", err)
			}
			wantName := tc.to
			if tc.err != nil {
				wantName = "beta" // the failed update changed nothing
			}
			if got.Name != wantName {
				t.Errorf("name after UpdateApp = %q, want %q", got.Name, wantName)
			}
		})
	}
}

func TestUpdateAppMissing(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	a, _ := newApp("ghost", "ghost", spaceA, nil)
	if err := s.UpdateApp(context.Background(), a); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateApp of a missing app = %v, want ErrNotFound", err)
	}
}

func TestDeleteAppRemovesProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fixture(t)
	mustCreateApp(t, s, "doomed", "doomed", spaceA, nil)
	mustCreateApp(t, s, "kept", "kept", spaceA, nil)

	if err := s.DeleteApp(ctx, "doomed", Event{GUID: "ev-del", Type: "audit.app.delete", TargetGUID: "doomed", SpaceGUID: spaceA}); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	if _, err := s.GetApp(ctx, Viewer{All: true}, "doomed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetApp after delete = %v, want ErrNotFound", err)
	}
	if _, err := s.GetProcess(ctx, Viewer{All: true}, "doomed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetProcess of the deleted app's web process = %v, want ErrNotFound", err)
	}
	procs, total, err := s.ListProcesses(ctx, Viewer{All: true}, ProcessFilter{}, Page{Page: 1, PerPage: 10})
	if err != nil {
		t.Fatalf("ListProcesses: %v", err)
	}
	if total != 1 || len(procs) != 1 || procs[0].AppGUID != "kept" {
		t.Errorf("processes left = %d %+v, want only kept's web process", total, procs)
	}
	if _, err := s.GetEvent(ctx, Viewer{All: true}, "ev-del"); err != nil {
		t.Errorf("the delete's audit event: %v", err)
	}
	if err := s.DeleteApp(ctx, "doomed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting it again = %v, want ErrNotFound", err)
	}
}

func TestListAppsLabelSelectors(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	mustCreateApp(t, s, "a1", "a1", spaceA, Metadata{"env": "prod", "tier": "web", "example.com/team": "core"})
	mustCreateApp(t, s, "a2", "a2", spaceA, Metadata{"env": "staging"})
	mustCreateApp(t, s, "a3", "a3", spaceA, Metadata{"tier": "worker"})
	mustCreateApp(t, s, "a4", "a4", spaceA, nil)

	cases := []struct {
		name string
		reqs []LabelReq
		want []string
	}{
		{"exists", []LabelReq{{Key: "env", Op: LabelExists}}, []string{"a1", "a2"}},
		{"not exists", []LabelReq{{Key: "env", Op: LabelNotExists}}, []string{"a3", "a4"}},
		{"equals", []LabelReq{{Key: "env", Op: LabelIn, Values: []string{"prod"}}}, []string{"a1"}},
		{"in set", []LabelReq{{Key: "env", Op: LabelIn, Values: []string{"prod", "staging"}}}, []string{"a1", "a2"}},
		{"value of another key does not match", []LabelReq{{Key: "tier", Op: LabelIn, Values: []string{"prod"}}}, []string{}},
		// CC: != and notin also match resources that lack the key.
		{"not equals", []LabelReq{{Key: "env", Op: LabelNotIn, Values: []string{"prod"}}}, []string{"a2", "a3", "a4"}},
		{"notin set", []LabelReq{{Key: "env", Op: LabelNotIn, Values: []string{"prod", "staging"}}}, []string{"a3", "a4"}},
		{"prefixed key", []LabelReq{{Key: "example.com/team", Op: LabelIn, Values: []string{"core"}}}, []string{"a1"}},
		{"requirements are ANDed", []LabelReq{{Key: "tier", Op: LabelExists}, {Key: "env", Op: LabelNotIn, Values: []string{"prod"}}}, []string{"a3"}},
		{"no requirement", nil, []string{"a1", "a2", "a3", "a4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := appGUIDs(t, s, Viewer{All: true}, AppFilter{Labels: tc.reqs})
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListApps(%+v) = %v, want %v", tc.reqs, got, tc.want)
			}
		})
	}
}

func TestViewerVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fixture(t)
	mustCreateApp(t, s, "app-a", "a", spaceA, nil)
	mustCreateApp(t, s, "app-b", "b", spaceB, nil)
	mustCreateApp(t, s, "app-c", "c", spaceC, nil)

	grants := map[string][]Role{
		"dev":      {{Type: RoleOrgUser, OrgGUID: org1}, {Type: RoleSpaceDeveloper, OrgGUID: org1, SpaceGUID: spaceA}},
		"auditor":  {{Type: RoleSpaceAuditor, OrgGUID: org1, SpaceGUID: spaceB}},
		"manager":  {{Type: RoleOrgManager, OrgGUID: org1}},
		"orguser":  {{Type: RoleOrgUser, OrgGUID: org1}},
		"orgaudit": {{Type: RoleOrgAuditor, OrgGUID: org2}},
		"nobody":   nil,
	}
	for user, roles := range grants {
		if err := s.CreateUser(ctx, User{GUID: user, Username: user, Scopes: []string{}}); err != nil {
			t.Fatalf("CreateUser %s: %v", user, err)
		}
		for i, r := range roles {
			r.GUID, r.UserGUID = user+"-"+string(rune('0'+i)), user
			if err := s.AddRole(ctx, r); err != nil {
				t.Fatalf("AddRole %+v: %v", r, err)
			}
		}
	}

	cases := []struct {
		name   string
		viewer Viewer
		apps   []string
		spaces []string
	}{
		{"global reader", Viewer{All: true}, []string{"app-a", "app-b", "app-c"}, []string{spaceA, spaceB, spaceC}},
		{"space developer sees only its space", Viewer{UserGUID: "dev"}, []string{"app-a"}, []string{spaceA}},
		{"space auditor sees only its space", Viewer{UserGUID: "auditor"}, []string{"app-b"}, []string{spaceB}},
		{"org manager sees every space of the org", Viewer{UserGUID: "manager"}, []string{"app-a", "app-b"}, []string{spaceA, spaceB}},
		// CC's Space.user_visibility_filter: only managers see into spaces
		// by an org role.
		{"org user sees no space", Viewer{UserGUID: "orguser"}, []string{}, []string{}},
		{"org auditor sees no space", Viewer{UserGUID: "orgaudit"}, []string{}, []string{}},
		{"no roles", Viewer{UserGUID: "nobody"}, []string{}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := appGUIDs(t, s, tc.viewer, AppFilter{}); !slices.Equal(got, tc.apps) {
				t.Errorf("ListApps = %v, want %v", got, tc.apps)
			}
			for _, guid := range []string{"app-a", "app-b", "app-c"} {
				_, err := s.GetApp(ctx, tc.viewer, guid)
				if visible := slices.Contains(tc.apps, guid); visible != (err == nil) || (!visible && !errors.Is(err, ErrNotFound)) {
					t.Errorf("GetApp(%s) = %v, visible in the list: %v", guid, err, visible)
				}
			}
			spaces, _, err := s.ListSpaces(ctx, tc.viewer, SpaceFilter{}, Page{Page: 1, PerPage: 10})
			if err != nil {
				t.Fatalf("ListSpaces: %v", err)
			}
			got := []string{}
			for _, sp := range spaces {
				got = append(got, sp.GUID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.spaces) {
				t.Errorf("ListSpaces = %v, want %v", got, tc.spaces)
			}
		})
	}
}

func TestJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fixture(t)
	jobs := []Job{
		{GUID: "late", Operation: "app.delete", State: JobProcessing, ResourceGUID: "x", UserGUID: "u", CreatedAt: 200, UpdatedAt: 200},
		{GUID: "done", Operation: "app.delete", State: JobComplete, CreatedAt: 50, UpdatedAt: 50},
		{GUID: "early", Operation: "app.delete", State: JobProcessing, ResourceGUID: "y", UserGUID: "u", CreatedAt: 100, UpdatedAt: 100},
	}
	for _, j := range jobs {
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatalf("CreateJob %s: %v", j.GUID, err)
		}
	}
	if err := s.CreateJob(ctx, jobs[0]); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateJob with a used guid = %v, want ErrConflict", err)
	}

	pending := func() []string {
		t.Helper()
		js, err := s.PendingJobs(ctx)
		if err != nil {
			t.Fatalf("PendingJobs: %v", err)
		}
		out := []string{}
		for _, j := range js {
			out = append(out, j.GUID)
		}
		return out
	}
	// Oldest first, so a restart resumes them in the order they were asked for.
	if got := pending(); !slices.Equal(got, []string{"early", "late"}) {
		t.Errorf("PendingJobs = %v, want [early late]", got)
	}

	if err := s.FinishJob(ctx, "early", JobComplete, nil); err != nil {
		t.Fatalf("FinishJob early: %v", err)
	}
	failure := json.RawMessage(`[{"detail":"An unknown error occurred.","title":"UnknownError","code":10001}]`)
	if err := s.FinishJob(ctx, "late", JobFailed, failure); err != nil {
		t.Fatalf("FinishJob late: %v", err)
	}
	if got := pending(); len(got) != 0 {
		t.Errorf("PendingJobs after finishing both = %v, want none", got)
	}

	cases := []struct {
		guid, state, errs string
	}{
		{"early", JobComplete, "[]"},
		{"late", JobFailed, string(failure)},
	}
	for _, tc := range cases {
		j, err := s.GetJob(ctx, tc.guid)
		if err != nil {
			t.Fatalf("GetJob %s: %v", tc.guid, err)
		}
		if j.State != tc.state || string(j.Errors) != tc.errs || j.UpdatedAt != epoch.Unix() || j.CreatedAt == j.UpdatedAt {
			t.Errorf("job %s = state %s errors %s updated_at %d created_at %d; want %s, %s, updated at the store clock %d",
				tc.guid, j.State, j.Errors, j.UpdatedAt, j.CreatedAt, tc.state, tc.errs, epoch.Unix())
		}
	}
	if err := s.FinishJob(ctx, "missing", JobComplete, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishJob of a missing job = %v, want ErrNotFound", err)
	}
	if _, err := s.GetJob(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetJob of a missing job = %v, want ErrNotFound", err)
	}
}
