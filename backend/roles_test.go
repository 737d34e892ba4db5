package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
)

// The role table: every route of buildRoutes against the four seeded users
// (admin; developer = space developer in demo-space; auditor = space auditor
// there; outsider = no role), against missing and broken tokens, and against
// tokens that lack the cloud_controller scopes. What each cell should be is
// Cloud Controller v3's answer (MAPPING §4; cc:app/controllers/v3/*,
// cc:lib/cloud_controller/permissions.rb).

// roleUsers are the seeded users, in the argument order of rolePer.
var roleUsers = []string{"admin", "developer", "auditor", "outsider"}

// Guids of the resources the role tests add next to the seeded ones.
const (
	roleOtherOrgGUID       = "0d0e0000-0000-4000-8000-0000000000b1"
	roleOtherSpaceGUID     = "5ace0000-0000-4000-8000-0000000000b1"
	roleSuspendedOrgGUID   = "0d0e0000-0000-4000-8000-0000000000b2"
	roleSuspendedSpaceGUID = "5ace0000-0000-4000-8000-0000000000b2"
	roleMissingGUID        = "00000000-0000-4000-8000-00000000dead"
)

// roleWant is what one caller should get from one request.
type roleWant struct {
	status int
	title  string // the CC error title; "" for a success
	code   int
	detail string
	check  func(t *testing.T, r resp)
}

func roleOK(status int, checks ...func(*testing.T, resp)) roleWant {
	return roleWant{status: status, check: func(t *testing.T, r resp) {
		t.Helper()
		for _, c := range checks {
			c(t, r)
		}
	}}
}

func roleNotFound(what string) roleWant {
	return roleWant{status: 404, title: "CF-ResourceNotFound", code: 10010, detail: what + " not found"}
}

func roleUnprocessable(detail string) roleWant {
	return roleWant{status: 422, title: "CF-UnprocessableEntity", code: 10008, detail: detail}
}

var (
	roleNotAuthorized    = roleWant{status: 403, title: "CF-NotAuthorized", code: 10003, detail: "You are not authorized to perform the requested action"}
	roleOrgSuspended     = roleWant{status: 403, title: "CF-OrgSuspended", code: 10017, detail: "The organization is suspended"}
	roleNotAuthenticated = roleWant{status: 401, title: "CF-NotAuthenticated", code: 10002, detail: "Authentication error"}
	roleInvalidToken     = roleWant{status: 401, title: "CF-InvalidAuthToken", code: 1000, detail: "Invalid Auth Token"}
)

// rolePer gives the expectations of admin, developer, auditor and outsider.
func rolePer(admin, developer, auditor, outsider roleWant) map[string]roleWant {
	return map[string]roleWant{"admin": admin, "developer": developer, "auditor": auditor, "outsider": outsider}
}

// roleAll gives every seeded user the same expectation.
func roleAll(w roleWant) map[string]roleWant { return rolePer(w, w, w, w) }

func (w roleWant) assert(t *testing.T, r resp) {
	t.Helper()
	if r.status != w.status {
		t.Fatalf("status %d, want %d; body %s", r.status, w.status, r.body)
	}
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	switch {
	case w.title == "" && len(e.Errors) > 0:
		t.Fatalf("unexpected errors: %s", r.body)
	case w.title != "":
		if len(e.Errors) != 1 {
			t.Fatalf("want one %s error, got %s", w.title, r.body)
		}
		got := e.Errors[0]
		if got.Title != w.title || got.Code != w.code || got.Detail != w.detail {
			t.Fatalf("error %s %d %q, want %s %d %q", got.Title, got.Code, got.Detail, w.title, w.code, w.detail)
		}
	}
	if w.check != nil {
		w.check(t, r)
	}
}

// roleTotal checks a paginated list holds exactly n resources.
func roleTotal(n int) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var l struct {
			Pagination struct {
				TotalResults int `json:"total_results"`
			} `json:"pagination"`
			Resources []json.RawMessage `json:"resources"`
		}
		r.json(t, &l)
		if l.Pagination.TotalResults != n || len(l.Resources) != n {
			t.Errorf("total_results %d with %d resources, want %d", l.Pagination.TotalResults, len(l.Resources), n)
		}
	}
}

func roleField(key, want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var m map[string]json.RawMessage
		r.json(t, &m)
		var got string
		if err := json.Unmarshal(m[key], &got); err != nil || got != want {
			t.Errorf("%s = %s, want %q", key, m[key], want)
		}
	}
}

// roleCommand checks the command a single process shows.
func roleCommand(want string) func(*testing.T, resp) { return roleField("command", want) }

// roleListCommands checks the command of every process of a list.
func roleListCommands(want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var l struct {
			Resources []struct {
				Command *string `json:"command"`
			} `json:"resources"`
		}
		r.json(t, &l)
		for i, p := range l.Resources {
			if p.Command == nil || *p.Command != want {
				t.Errorf("resource %d: command %v, want %q", i, p.Command, want)
			}
		}
	}
}

func roleVar(object, key, want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var m map[string]map[string]json.RawMessage
		r.json(t, &m)
		if got := string(m[object][key]); got != `"`+want+`"` {
			t.Errorf("%s.%s = %s, want %q", object, key, got, want)
		}
	}
}

func rolePermissions(basic, sensitive bool) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var p struct {
			Basic     *bool `json:"read_basic_data"`
			Sensitive *bool `json:"read_sensitive_data"`
		}
		r.json(t, &p)
		if p.Basic == nil || p.Sensitive == nil || *p.Basic != basic || *p.Sensitive != sensitive {
			t.Errorf("permissions %s, want read_basic_data %v, read_sensitive_data %v", r.body, basic, sensitive)
		}
	}
}

// roleView is c reporting to t, for a subtest: Fatal must run on the
// goroutine of the test that fails.
func roleView(c *cf, t testing.TB) *cf {
	v := *c
	v.t = t
	return &v
}

// roleMint signs a developer token with scopes, edited by edit, with key.
func roleMint(t testing.TB, c *cf, key *uaa.Key, scopes []string, edit func(*uaa.Claims)) string {
	t.Helper()
	claims := uaa.UserToken(c.srv.cfg.TokenIssuer, DeveloperGUID, "developer", "developer@example.org", scopes, c.srv.now(), c.srv.cfg.TokenTTL)
	if edit != nil {
		edit(&claims)
	}
	tok, err := key.Sign(claims)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// roleRow is one request of the role table, run as every seeded user.
// Placeholders in braces in path are fixture guids.
type roleRow struct {
	name   string
	method string
	path   string
	body   any
	want   map[string]roleWant
}

// filled is the row's path and body with the placeholders replaced; the
// body is sent as the JSON text of row.body.
func (row roleRow) filled(t testing.TB, fill *strings.Replacer) (string, any) {
	t.Helper()
	if row.body == nil {
		return fill.Replace(row.path), nil
	}
	b, err := json.Marshal(row.body)
	if err != nil {
		t.Fatal(err)
	}
	return fill.Replace(row.path), fill.Replace(string(b))
}

// runWrite does the row as user, its placeholders filled by fill; a
// check sees the body with the values of the placeholders unfill put
// back. A 202's job must complete, after which the path is gone.
func (row roleRow) runWrite(t *testing.T, c *cf, user string, fill *strings.Replacer, unfill ...string) {
	t.Helper()
	want := row.want[user]
	if want.check != nil && len(unfill) > 0 {
		check := want.check
		want.check = func(t *testing.T, r resp) {
			t.Helper()
			for _, k := range unfill {
				r.body = []byte(strings.ReplaceAll(string(r.body), fill.Replace(k), k))
			}
			check(t, r)
		}
	}
	path, body := row.filled(t, fill)
	r := roleView(c, t).do(row.method, path, user, body)
	want.assert(t, r)
	if r.status == 202 {
		if state := c.waitJob(r.header["Location"], user); state != store.JobComplete {
			t.Fatalf("job %s", state)
		}
		c.must(404, "GET", path, user, nil)
	}
}

// runRoleRowsInTurn does each of rows, which need no fixture, as every
// user, one after the other: the rows change what the next ones see.
func runRoleRowsInTurn(t *testing.T, c *cf, rows []roleRow) {
	t.Helper()
	for _, row := range rows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				path, body := row.filled(t, strings.NewReplacer())
				row.want[user].assert(t, roleView(c, t).do(row.method, path, user, body))
			})
		}
	}
}

// roleAnonRows are the routes CC serves without a token (RootController and
// ApplicationController::ANONYMOUSLY_AVAILABLE).
var roleAnonRows = []roleRow{
	{"root", "GET", "/", nil, roleAll(roleOK(200))},
	{"v3 root", "GET", "/v3", nil, roleAll(roleOK(200))},
	{"v3 info", "GET", "/v3/info", nil, roleAll(roleOK(200))},
	{"log-cache info", "GET", "/api/v1/info", nil, roleAll(roleOK(200))},
}

// roleReadFixture builds the world the read rows look at: the seeded
// demo-org/demo-space with one app of the developer (an env var, a custom
// command), another org and space with an app of the admin, and one
// finished delete job by each of developer and admin. It returns the
// replacer of the path placeholders.
func roleReadFixture(t *testing.T) (*cf, *strings.Replacer) {
	t.Helper()
	c := startCF(t, nil)
	ctx := context.Background()
	st := c.srv.Store()
	now := st.Now()
	if err := st.CreateOrg(ctx, store.Org{GUID: roleOtherOrgGUID, Name: "other-org", QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSpace(ctx, store.Space{GUID: roleOtherSpaceGUID, Name: "other-space", OrgGUID: roleOtherOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	app := c.createApp("developer", "fixture", map[string]any{"environment_variables": map[string]string{"SECRET": "s3cret"}})
	c.must(200, "PATCH", "/v3/processes/"+app, "developer", map[string]string{"command": "bundle exec rackup"})
	inOther := func(name string) string {
		var a struct{ GUID string }
		c.must(201, "POST", "/v3/apps", "admin", map[string]any{"name": name,
			"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": roleOtherSpaceGUID}}}}).json(t, &a)
		return a.GUID
	}
	other := inOther("elsewhere")
	deleted := func(guid, user string) string {
		loc := c.must(202, "DELETE", "/v3/apps/"+guid, user, nil).header["Location"]
		if state := c.waitJob(loc, user); state != store.JobComplete {
			t.Fatalf("delete job %s: %s", loc, state)
		}
		return loc[strings.LastIndex(loc, "/")+1:]
	}
	devJob := deleted(c.createApp("developer", "doomed", nil), "developer")
	adminJob := deleted(inOther("doomed-elsewhere"), "admin")
	createEvent := func(target string) string {
		var l struct{ Resources []struct{ GUID string } }
		c.must(200, "GET", "/v3/audit_events?types=audit.app.create&target_guids="+target, "admin", nil).json(t, &l)
		if len(l.Resources) != 1 {
			t.Fatalf("create events of %s: %d", target, len(l.Resources))
		}
		return l.Resources[0].GUID
	}
	return c, strings.NewReplacer("{app}", app, "{otherApp}", other, "{org}", DemoOrgGUID, "{otherOrg}", roleOtherOrgGUID,
		"{space}", DemoSpaceGUID, "{otherSpace}", roleOtherSpaceGUID, "{stack}", StackFS4GUID,
		"{event}", createEvent(app), "{otherEvent}", createEvent(other), "{devJob}", devJob, "{adminJob}", adminJob)
}

// roleEventTypes are the audit events the read fixture records. Lists filter
// on them, so that events recorded by reads (CC records some, such as
// audit.app.environment_variables.show) leave the counts alone.
const roleEventTypes = "types=audit.app.create,audit.app.process.update,audit.app.delete-request"

// roleReadRows are the GET rows. In the fixture the admin sees two orgs,
// spaces, apps and processes and seven events; the developer and the auditor
// see the demo ones (one each, four events); the outsider sees nothing.
func roleReadRows() []roleRow {
	seen := roleOK(200)
	hidden := "[PRIVATE DATA HIDDEN]"
	return []roleRow{
		{"list orgs", "GET", "/v3/organizations", nil, rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
		{"demo org", "GET", "/v3/organizations/{org}", nil, rolePer(seen, roleOK(200, roleField("name", DemoOrgName)), seen, roleNotFound("Organization"))},
		{"other org", "GET", "/v3/organizations/{otherOrg}", nil, rolePer(roleOK(200, roleField("name", "other-org")), roleNotFound("Organization"), roleNotFound("Organization"), roleNotFound("Organization"))},
		{"demo org's default domain", "GET", "/v3/organizations/{org}/domains/default", nil, rolePer(
			roleOK(200, roleField("name", "apps.capibridge.local")), roleOK(200, roleField("name", "apps.capibridge.local")), roleOK(200, roleField("name", "apps.capibridge.local")), roleNotFound("Organization"))},
		{"list spaces", "GET", "/v3/spaces", nil, rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
		{"demo space", "GET", "/v3/spaces/{space}", nil, rolePer(seen, roleOK(200, roleField("name", DemoSpaceName)), seen, roleNotFound("Space"))},
		{"other space", "GET", "/v3/spaces/{otherSpace}", nil, rolePer(seen, roleNotFound("Space"), roleNotFound("Space"), roleNotFound("Space"))},
		{"space features", "GET", "/v3/spaces/{space}/features", nil, rolePer(seen, seen, seen, roleNotFound("Space"))},
		{"space feature", "GET", "/v3/spaces/{space}/features/ssh", nil, rolePer(seen, seen, roleOK(200, roleField("name", "ssh")), roleNotFound("Space"))},
		{"list stacks", "GET", "/v3/stacks", nil, roleAll(roleOK(200, roleTotal(2)))},
		{"stack", "GET", "/v3/stacks/{stack}", nil, roleAll(roleOK(200, roleField("name", DefaultStackName)))},

		{"list apps", "GET", "/v3/apps", nil, rolePer(roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
		{"app", "GET", "/v3/apps/{app}", nil, rolePer(seen, roleOK(200, roleField("name", "fixture")), seen, roleNotFound("App"))},
		{"other app", "GET", "/v3/apps/{otherApp}", nil, rolePer(roleOK(200, roleField("name", "elsewhere")), roleNotFound("App"), roleNotFound("App"), roleNotFound("App"))},
		// Env vars are secrets: admin, admin_read_only and space developers
		// only (can_read_app_environment_variables?).
		{"environment variables", "GET", "/v3/apps/{app}/environment_variables", nil, rolePer(
			roleOK(200, roleVar("var", "SECRET", "s3cret")), roleOK(200, roleVar("var", "SECRET", "s3cret")), roleNotAuthorized, roleNotFound("App"))},
		{"env", "GET", "/v3/apps/{app}/env", nil, rolePer(
			roleOK(200, roleVar("environment_variables", "SECRET", "s3cret")), roleOK(200, roleVar("environment_variables", "SECRET", "s3cret")),
			roleNotAuthorized, roleNotFound("App"))},
		{"permissions", "GET", "/v3/apps/{app}/permissions", nil, rolePer(
			roleOK(200, rolePermissions(true, true)), roleOK(200, rolePermissions(true, true)), roleOK(200, rolePermissions(true, false)), roleNotFound("App"))},
		{"other app permissions", "GET", "/v3/apps/{otherApp}/permissions", nil, rolePer(
			roleOK(200, rolePermissions(true, true)), roleNotFound("App"), roleNotFound("App"), roleNotFound("App"))},
		{"ssh enabled", "GET", "/v3/apps/{app}/ssh_enabled", nil, rolePer(seen, seen, seen, roleNotFound("App"))},
		// log-cache reads: whoever sees the app (its auth proxy asks CC).
		{"log-cache read", "GET", "/api/v1/read/{app}?start_time=0", nil, rolePer(seen, seen, seen, roleNotFound("App"))},
		{"log-cache read other app", "GET", "/api/v1/read/{otherApp}", nil, rolePer(seen, roleNotFound("App"), roleNotFound("App"), roleNotFound("App"))},
		// CC's four app features: ssh, revisions, service-binding-k8s and
		// file-based-vcap-services.
		{"app features", "GET", "/v3/apps/{app}/features", nil, rolePer(roleOK(200, roleTotal(4)), roleOK(200, roleTotal(4)), roleOK(200, roleTotal(4)), roleNotFound("App"))},
		{"app feature", "GET", "/v3/apps/{app}/features/ssh", nil, rolePer(seen, seen, seen, roleNotFound("App"))},
		// Lists never show a command, whoever asks.
		{"app processes", "GET", "/v3/apps/{app}/processes", nil, rolePer(
			roleOK(200, roleTotal(1), roleListCommands(redactedListMessage)), roleOK(200, roleTotal(1), roleListCommands(redactedListMessage)),
			roleOK(200, roleTotal(1), roleListCommands(redactedListMessage)), roleNotFound("App"))},
		{"app process", "GET", "/v3/apps/{app}/processes/web", nil, rolePer(
			roleOK(200, roleCommand("bundle exec rackup")), roleOK(200, roleCommand("bundle exec rackup")), roleOK(200, roleCommand(hidden)), roleNotFound("App"))},
		{"list processes", "GET", "/v3/processes", nil, rolePer(
			roleOK(200, roleTotal(2), roleListCommands(redactedListMessage)), roleOK(200, roleTotal(1), roleListCommands(redactedListMessage)),
			roleOK(200, roleTotal(1), roleListCommands(redactedListMessage)), roleOK(200, roleTotal(0)))},
		{"process", "GET", "/v3/processes/{app}", nil, rolePer(
			roleOK(200, roleCommand("bundle exec rackup")), roleOK(200, roleCommand("bundle exec rackup")), roleOK(200, roleCommand(hidden)), roleNotFound("Process"))},
		{"other process", "GET", "/v3/processes/{otherApp}", nil, rolePer(seen, roleNotFound("Process"), roleNotFound("Process"), roleNotFound("Process"))},
		{"list processes with instances", "GET", "/v3/processes?embed=process_instances", nil, rolePer(
			roleOK(200, roleTotal(2)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
		{"process instances", "GET", "/v3/processes/{app}/process_instances", nil, rolePer(
			roleOK(200), roleOK(200), roleOK(200), roleNotFound("Process"))},
		{"other process instances", "GET", "/v3/processes/{otherApp}/process_instances", nil, rolePer(
			roleOK(200), roleNotFound("Process"), roleNotFound("Process"), roleNotFound("Process"))},
		// The embedded CF runs no sidecars: empty lists for readers.
		{"app sidecars", "GET", "/v3/apps/{app}/sidecars", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
		{"process sidecars", "GET", "/v3/processes/{app}/sidecars", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("Process"))},
		{"sidecar", "GET", "/v3/sidecars/{app}", nil, rolePer(
			roleNotFound("Sidecar"), roleNotFound("Sidecar"), roleNotFound("Sidecar"), roleNotFound("Sidecar"))},
		// Nor revisions, nor tasks.
		{"app revisions", "GET", "/v3/apps/{app}/revisions", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
		{"app deployed revisions", "GET", "/v3/apps/{app}/revisions/deployed", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
		{"revision", "GET", "/v3/revisions/{app}", nil, rolePer(
			roleNotFound("Revision"), roleNotFound("Revision"), roleNotFound("Revision"), roleNotFound("Revision"))},
		{"list tasks", "GET", "/v3/tasks", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)))},
		{"app tasks", "GET", "/v3/apps/{app}/tasks", nil, rolePer(
			roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleNotFound("App"))},
		{"task", "GET", "/v3/tasks/{app}", nil, rolePer(
			roleNotFound("Task"), roleNotFound("Task"), roleNotFound("Task"), roleNotFound("Task"))},

		{"list events", "GET", "/v3/audit_events?" + roleEventTypes, nil, rolePer(
			roleOK(200, roleTotal(7)), roleOK(200, roleTotal(4)), roleOK(200, roleTotal(4)), roleOK(200, roleTotal(0)))},
		{"event", "GET", "/v3/audit_events/{event}", nil, rolePer(seen, seen, roleOK(200, roleField("type", "audit.app.create")), roleNotFound("Event"))},
		{"other event", "GET", "/v3/audit_events/{otherEvent}", nil, rolePer(seen, roleNotFound("Event"), roleNotFound("Event"), roleNotFound("Event"))},
		// A job shows to the user who started it and to global readers.
		{"developer's job", "GET", "/v3/jobs/{devJob}", nil, rolePer(
			roleOK(200, roleField("state", store.JobComplete)), roleOK(200, roleField("operation", "app.delete")), roleNotFound("Job"), roleNotFound("Job"))},
		{"admin's job", "GET", "/v3/jobs/{adminJob}", nil, rolePer(seen, roleNotFound("Job"), roleNotFound("Job"), roleNotFound("Job"))},
		{"missing job", "GET", "/v3/jobs/" + roleMissingGUID, nil, roleAll(roleNotFound("Job"))},
		// An app's guid names neither a route nor a route service binding:
		// an empty list for everyone, and no binding to find
		// (route_bindings_roles_test.go has real ones).
		{"service route bindings", "GET", "/v3/service_route_bindings?route_guids={app}&include=service_instance", nil, roleAll(roleOK(200, roleTotal(0)))},
		{"service route binding", "GET", "/v3/service_route_bindings/{app}", nil, roleAll(roleNotFound("Service route binding"))},
	}
}

func TestRoleTableReads(t *testing.T) {
	t.Parallel()
	c, fill := roleReadFixture(t)
	for _, row := range append(roleReadRows(), roleAnonRows...) {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				want, ok := row.want[user]
				if !ok {
					t.Fatalf("row has no expectation for %s", user)
				}
				want.assert(t, roleView(c, t).do(row.method, fill.Replace(row.path), user, row.body))
			})
		}
	}
}

// roleFixtureRows are writes that other files run against fixtures of
// their own (they need more than a fresh app: a route, a service instance);
// TestRoleTableCoversEveryRoute counts them.
var roleFixtureRows []roleRow

// roleWriteRow is a write of the role table. It runs on a fresh app of its
// own ({app}) in demo-space and in a space of a suspended org ({space}),
// once per seeded user.
type roleWriteRow struct {
	roleRow
	droplet bool // give the app a current droplet first
}

// roleWriteRows give the expectations in demo-space. Writes need admin or
// space developer (can_write_to_active_space?); the auditor can see the app,
// so it gets 403; the outsider cannot, so 404.
func roleWriteRows() []roleWriteRow {
	write := func(name, method, path string, body any, status int, notFound string) roleRow {
		return roleRow{name, method, path, body, rolePer(roleOK(status), roleOK(status), roleNotAuthorized, roleNotFound(notFound))}
	}
	// CC's create answers 422 for a space the user cannot see
	// (AppsV3Controller#create, unprocessable_space!).
	create := roleRow{"create app", "POST", "/v3/apps", nil, rolePer(roleOK(201), roleOK(201), roleNotAuthorized,
		roleUnprocessable("Invalid space. Ensure that the space exists and you have access to it."))}
	noDroplet := roleUnprocessable("Assign a droplet before starting this app.")
	return []roleWriteRow{
		{create, false},
		{write("update app", "PATCH", "/v3/apps/{app}", map[string]string{"name": "{name}-renamed"}, 200, "App"), false},
		{write("delete app", "DELETE", "/v3/apps/{app}", nil, 202, "App"), false},
		{write("patch environment variables", "PATCH", "/v3/apps/{app}/environment_variables", map[string]any{"var": map[string]string{"ADDED": "1"}}, 200, "App"), false},
		{write("patch app feature", "PATCH", "/v3/apps/{app}/features/ssh", map[string]bool{"enabled": false}, 200, "App"), false},
		{write("start", "POST", "/v3/apps/{app}/actions/start", nil, 200, "App"), true},
		{write("stop", "POST", "/v3/apps/{app}/actions/stop", nil, 200, "App"), false},
		{write("restart", "POST", "/v3/apps/{app}/actions/restart", nil, 200, "App"), true},
		// CC checks for a droplet before the role, so even the auditor
		// gets 422 (AppsV3Controller#start).
		{roleRow{"start without droplet", "POST", "/v3/apps/{app}/actions/start", nil, rolePer(noDroplet, noDroplet, noDroplet, roleNotFound("App"))}, false},
		{write("patch app process", "PATCH", "/v3/apps/{app}/processes/web", map[string]string{"command": "./run"}, 200, "App"), false},
		{write("scale app process", "POST", "/v3/apps/{app}/processes/web/actions/scale", map[string]int{"instances": 2}, 202, "App"), false},
		{write("patch process", "PATCH", "/v3/processes/{app}", map[string]string{"command": "./run"}, 200, "Process"), false},
		{write("scale process", "POST", "/v3/processes/{app}/actions/scale", map[string]int{"instances": 3}, 202, "Process"), false},
		// A restarted instance is recorded as audit.app.process.terminate_instance.
		{write("restart instance", "DELETE", "/v3/processes/{app}/instances/0", nil, 204, "Process"), true},
		{write("restart app process instance", "DELETE", "/v3/apps/{app}/processes/web/instances/0", nil, 204, "App"), true},
	}
}

// roleSuspended turns a demo-space expectation into the one in a suspended
// org: what the developer could do becomes OrgSuspended, which CC checks
// after the role (suspended! after unauthorized!); admins may still write
// (is_space_active?), and the others' answers do not change.
func roleSuspended(user string, w roleWant) roleWant {
	if user == "developer" && w.status < 300 {
		return roleOrgSuspended
	}
	return w
}

// roleWriteFixture starts a CF (with opts) with a suspended org next to the
// seeded one, where developer and auditor hold the same roles as in
// demo-space.
func roleWriteFixture(t *testing.T, opts ...Option) *cf {
	t.Helper()
	c := startCF(t, nil, opts...)
	ctx := context.Background()
	st := c.srv.Store()
	now := st.Now()
	if err := st.CreateOrg(ctx, store.Org{GUID: roleSuspendedOrgGUID, Name: "suspended-org", Suspended: true, QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSpace(ctx, store.Space{GUID: roleSuspendedSpaceGUID, Name: "suspended-space", OrgGUID: roleSuspendedOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []store.Role{
		{Type: store.RoleOrgUser, UserGUID: DeveloperGUID},
		{Type: store.RoleSpaceDeveloper, UserGUID: DeveloperGUID, SpaceGUID: roleSuspendedSpaceGUID},
		{Type: store.RoleOrgUser, UserGUID: AuditorGUID},
		{Type: store.RoleSpaceAuditor, UserGUID: AuditorGUID, SpaceGUID: roleSuspendedSpaceGUID},
	} {
		r.GUID, r.OrgGUID = fmt.Sprintf("role-suspended-%d", i), roleSuspendedOrgGUID
		if err := st.AddRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// roleAppIn creates an app in space as admin, with a current droplet when
// asked (there is no droplet API, so it goes through the store).
func roleAppIn(c *cf, space, name string, droplet bool) string {
	c.t.Helper()
	var a struct{ GUID string }
	c.must(201, "POST", "/v3/apps", "admin", map[string]any{"name": name,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}).json(c.t, &a)
	if droplet {
		ctx := context.Background()
		app, err := c.srv.Store().GetApp(ctx, store.Viewer{All: true}, a.GUID)
		if err != nil {
			c.t.Fatal(err)
		}
		d := "role-droplet"
		app.DropletGUID = &d
		if err := c.srv.Store().UpdateApp(ctx, app); err != nil {
			c.t.Fatal(err)
		}
	}
	return a.GUID
}

// roleSnapshot is everything a write can change about an app: the app, its
// web process and the number of audit events about it.
func roleSnapshot(t *testing.T, c *cf, guid string) string {
	t.Helper()
	ctx := context.Background()
	st := c.srv.Store()
	app, err := st.GetApp(ctx, store.Viewer{All: true}, guid)
	if err != nil {
		return "app: " + err.Error()
	}
	web, err := st.GetAppProcess(ctx, guid, "web")
	if err != nil {
		// A delete job may be removing the app right now.
		return "web process: " + err.Error()
	}
	_, events, err := st.ListEvents(ctx, store.Viewer{All: true}, store.EventFilter{TargetGUIDs: []string{guid}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(web)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s\n%s\nevents %d", a, p, events)
}

func TestRoleTableWrites(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	var seq atomic.Int64
	targets := []struct{ name, space string }{{"demo space", DemoSpaceGUID}, {"suspended org", roleSuspendedSpaceGUID}}
	for _, row := range roleWriteRows() {
		for _, target := range targets {
			for _, user := range roleUsers {
				t.Run(row.name+"/"+target.name+"/"+user, func(t *testing.T) {
					t.Parallel()
					want, ok := row.want[user]
					if !ok {
						t.Fatalf("row has no expectation for %s", user)
					}
					if target.space == roleSuspendedSpaceGUID {
						want = roleSuspended(user, want)
					}
					v := roleView(c, t)
					name := fmt.Sprintf("role-app-%d", seq.Add(1))
					if row.path == "/v3/apps" {
						// Create: the effect is an app of that name, or none.
						body := map[string]any{"name": name, "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": target.space}}}}
						want.assert(t, v.do(row.method, row.path, user, body))
						_, n, err := c.srv.Store().ListApps(context.Background(), store.Viewer{All: true}, store.AppFilter{Names: []string{name}}, store.Page{Page: 1, PerPage: 1})
						if err != nil {
							t.Fatal(err)
						}
						if created := want.status == 201; (n == 1) != created {
							t.Errorf("%d apps named %s after the create, want created=%v", n, name, created)
						}
						return
					}
					app := roleAppIn(v, target.space, name, row.droplet)
					var body any
					if row.body != nil {
						// Names are unique in a space: a rename takes the app's own.
						b, err := json.Marshal(row.body)
						if err != nil {
							t.Fatal(err)
						}
						body = strings.ReplaceAll(string(b), "{name}", name)
					}
					before := roleSnapshot(t, c, app)
					want.assert(t, v.do(row.method, strings.ReplaceAll(row.path, "{app}", app), user, body))
					// A refused write leaves no trace; an accepted one does
					// (every accepted write here changes the app or records
					// an event).
					after := roleSnapshot(t, c, app)
					if refused := want.status >= 400; refused != (before == after) {
						t.Errorf("refused=%v but the app went from\n%s\nto\n%s", refused, before, after)
					}
				})
			}
		}
	}
}

// TestRoleSuspendedOrgReads: suspension stops writes only; reading, secrets
// included, goes on (can_read_secrets_in_space? ignores it).
func TestRoleSuspendedOrgReads(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	app := roleAppIn(c, roleSuspendedSpaceGUID, "frozen", false)
	c.must(200, "PATCH", "/v3/apps/"+app+"/environment_variables", "admin", map[string]any{"var": map[string]string{"SECRET": "s3cret"}})
	rows := []roleRow{
		{"app", "GET", "/v3/apps/{app}", nil, rolePer(roleOK(200), roleOK(200, roleField("name", "frozen")), roleOK(200), roleNotFound("App"))},
		{"environment variables", "GET", "/v3/apps/{app}/environment_variables", nil, rolePer(
			roleOK(200), roleOK(200, roleVar("var", "SECRET", "s3cret")), roleNotAuthorized, roleNotFound("App"))},
		{"permissions", "GET", "/v3/apps/{app}/permissions", nil, rolePer(
			roleOK(200, rolePermissions(true, true)), roleOK(200, rolePermissions(true, true)), roleOK(200, rolePermissions(true, false)), roleNotFound("App"))},
		{"list apps", "GET", "/v3/apps?space_guids=" + roleSuspendedSpaceGUID, nil, rolePer(
			roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)))},
		{"space", "GET", "/v3/spaces/" + roleSuspendedSpaceGUID, nil, rolePer(roleOK(200), roleOK(200), roleOK(200), roleNotFound("Space"))},
	}
	for _, row := range rows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				row.want[user].assert(t, roleView(c, t).do(row.method, strings.ReplaceAll(row.path, "{app}", app), user, nil))
			})
		}
	}
}

// TestRoleTableCoversEveryRoute keeps the role table complete: a route
// added to buildRoutes without a row fails here.
func TestRoleTableCoversEveryRoute(t *testing.T) {
	var rows []roleRow
	rows = append(rows, roleAnonRows...)
	rows = append(rows, roleReadRows()...)
	for _, w := range roleWriteRows() {
		rows = append(rows, w.roleRow)
	}
	rows = append(rows, roleFixtureRows...)
	placeholder := strings.NewReplacer("{app}", "x", "{otherApp}", "x", "{org}", "x", "{otherOrg}", "x", "{space}", "x",
		"{otherSpace}", "x", "{stack}", "x", "{event}", "x", "{otherEvent}", "x", "{devJob}", "x", "{adminJob}", "x")
	routes := (&Server{}).buildRoutes()
	covered := make([]bool, len(routes))
	for _, row := range rows {
		path, _, _ := strings.Cut(placeholder.Replace(row.path), "?")
		found := false
		for i, rt := range routes {
			if _, ok := match(rt.pattern, roleSegments(path)); ok && rt.method == row.method {
				covered[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("row %q (%s %s) matches no route", row.name, row.method, row.path)
		}
	}
	for i, rt := range routes {
		if !covered[i] {
			t.Errorf("route %s /%s has no row in the role table", rt.method, strings.Join(rt.pattern, "/"))
		}
	}
}

// roleAnonAnswer is what a route outside CC's token gate answers to a
// valid token with scopes (nil for a token that fails verification): 200
// (404 for a marketplace show of a guid that is not there),
// but 403 from the blobstore's signed URLs (blobs.go), which rolePathOf
// calls without the signature that is their credential, and from the
// routing API, which checks tokens itself (routing.go), 401 unless the
// token has a router group scope or the admin's.
func roleAnonAnswer(rt route, scopes []string) roleWant {
	path := "/" + strings.Join(rt.pattern, "/")
	switch {
	// The marketplace reads answer whoever asks; a guid that is not there
	// is not found (rolePathOf names none that is).
	case path == "/v3/service_offerings/:guid":
		return roleNotFound("Service offering")
	case path == "/v3/service_plans/:guid":
		return roleNotFound("Service plan")
	case len(rt.pattern) > 0 && rt.pattern[0] == "blobs":
		return roleWant{status: 403}
	case len(rt.pattern) > 0 && rt.pattern[0] == "routing" &&
		!slices.Contains(scopes, scopeRouterGroupsRead) && !slices.Contains(scopes, scopeAdmin):
		return routingUnauthorizedWant
	}
	return roleOK(200)
}

func roleSegments(path string) []string {
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

// rolePathOf is a request path for a route pattern; the guids need not
// exist, because authentication and scopes are checked before any lookup.
func rolePathOf(pattern []string) string {
	segs := make([]string, len(pattern))
	for i, p := range pattern {
		switch p {
		case ":type":
			segs[i] = "web"
		case ":name":
			segs[i] = "ssh"
		default:
			if strings.HasPrefix(p, ":") {
				segs[i] = roleMissingGUID
			} else {
				segs[i] = p
			}
		}
	}
	return "/" + strings.Join(segs, "/")
}

// roleRefusesFirst says whether the route refuses a user who is not an
// admin before it reads anything: CC's OrganizationsV3Controller#create
// checks can_write_globally? (or user_org_creation, off) first, and so do
// OrganizationQuotasController's writes, UsersController#create,
// BuildpacksController#create, AppUsageEventsController's purge,
// SecurityGroupsController#create and IsolationSegmentsController's
// writes.
func roleRefusesFirst(method, path string) bool {
	return method == "POST" && (path == "/v3/organizations" || path == "/v3/security_groups") ||
		method != "GET" && strings.HasPrefix(path, "/v3/isolation_segments") ||
		method != "GET" && strings.HasPrefix(path, "/v3/organization_quotas") ||
		method == "POST" && path == "/v3/users" ||
		method == "POST" && (path == "/v3/buildpacks" || path == "/v3/app_usage_events/actions/destructively_purge_all_and_reseed")
}

// TestAuthTokens sends every route of the table without a token and with
// each kind of bad one. Anonymous routes answer 200 whatever the header;
// the others 401: NotAuthenticated when there is no bearer token at all,
// InvalidAuthToken when there is one that fails verification (MAPPING §4,
// cf-uaa-lib TokenCoder#decode).
func TestAuthTokens(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	otherKey, err := uaa.LoadOrCreateKey(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	scopes := append([]string{}, userScopes...)
	mint := func(edit func(*uaa.Claims)) string { return roleMint(t, c, c.srv.key, scopes, edit) }
	good := mint(nil)
	claims := uaa.UserToken(c.srv.cfg.TokenIssuer, DeveloperGUID, "developer", "developer@example.org", scopes, c.srv.now(), time.Hour)
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("cloud_controller"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string // the raw Authorization header; "" sends none
		want   roleWant
	}{
		{"no header", "", roleNotAuthenticated},
		// A header that does not start with "bearer" counts as missing.
		{"basic auth", "Basic YWRtaW46YWRtaW4=", roleNotAuthenticated},
		{"bearer alone", "bearer", roleInvalidToken},
		{"bearer glued to a word", "bearerx " + good, roleInvalidToken},
		{"garbage", "bearer garbage", roleInvalidToken},
		{"three parts", "bearer " + good + " extra", roleInvalidToken},
		{"wrong signature", "bearer " + roleMint(t, c, otherKey, scopes, nil), roleInvalidToken},
		{"expired", "bearer " + mint(func(cl *uaa.Claims) { cl.IAT, cl.Exp = cl.IAT-7200, cl.IAT-60 }), roleInvalidToken},
		{"wrong issuer", "bearer " + mint(func(cl *uaa.Claims) { cl.Iss = "https://uaa.elsewhere.example/oauth/token" }), roleInvalidToken},
		{"wrong audience", "bearer " + mint(func(cl *uaa.Claims) { cl.Aud = []string{"cf", "openid", "uaa"} }), roleInvalidToken},
		{"refresh token", "bearer " + mint(func(cl *uaa.Claims) { cl.JTI += "-r" }), roleInvalidToken},
		{"no jti", "bearer " + mint(func(cl *uaa.Claims) { cl.JTI = "" }), roleInvalidToken},
		{"neither user_id nor client_id", "bearer " + mint(func(cl *uaa.Claims) { cl.UserID, cl.ClientID = "", "" }), roleInvalidToken},
		{"hs256", "bearer " + hs256, roleInvalidToken},
		{"alg none", "bearer " + none, roleInvalidToken},
		// Controls: a good token passes in the spellings CC accepts
		// (case-insensitive scheme, Ruby's whitespace split).
		{"good token", "bearer " + good, roleWant{}},
		{"good token, Bearer", "Bearer " + good, roleWant{}},
		{"good token, two spaces", "bearer  " + good, roleWant{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, rt := range c.srv.routes {
				path := rolePathOf(rt.pattern)
				t.Run(rt.method+" "+path, func(t *testing.T) {
					r := roleView(c, t).do(rt.method, path, tc.header, nil)
					switch {
					case rt.anon:
						// No token of this table has a router group scope.
						roleAnonAnswer(rt, nil).assert(t, r)
					case tc.want.status == 0 && roleRefusesFirst(rt.method, path):
						roleNotAuthorized.assert(t, r)
					case tc.want.status == 0:
						if r.status == 401 || r.status == 403 {
							t.Fatalf("a good token got %d: %s", r.status, r.body)
						}
					default:
						tc.want.assert(t, r)
					}
				})
			}
		})
	}
}

// TestScopes: a valid token without cloud_controller.read is refused every
// GET, one without cloud_controller.write every other method, with 403
// NotAuthorized, before anything is looked up (CC v3's
// check_read_permissions! and check_write_permissions!; MAPPING §4).
// admin, admin_read_only and global_auditor read without the read scope.
func TestScopes(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	ccAudience := func(cl *uaa.Claims) { cl.Aud = []string{"cf", "cloud_controller", "openid"} }
	cases := []struct {
		name        string
		scopes      []string
		read, write bool
	}{
		{"no cloud_controller scope", []string{"openid", "uaa.user"}, false, false},
		{"read only", []string{"cloud_controller.read", "openid"}, true, false},
		{"write only", []string{"cloud_controller.write", "openid"}, false, true},
		{"admin alone", []string{"cloud_controller.admin"}, true, true},
		{"admin_read_only alone", []string{"cloud_controller.admin_read_only"}, true, false},
		{"global_auditor alone", []string{"cloud_controller.global_auditor"}, true, false},
	}
	for _, tc := range cases {
		header := "bearer " + roleMint(t, c, c.srv.key, tc.scopes, ccAudience)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, rt := range c.srv.routes {
				path := rolePathOf(rt.pattern)
				t.Run(rt.method+" "+path, func(t *testing.T) {
					r := roleView(c, t).do(rt.method, path, header, nil)
					allowed := tc.read
					if rt.method != "GET" {
						allowed = tc.write
					}
					switch {
					case rt.anon:
						roleAnonAnswer(rt, tc.scopes).assert(t, r)
					case !allowed, roleRefusesFirst(rt.method, path) && !slices.Contains(tc.scopes, scopeAdmin):
						roleNotAuthorized.assert(t, r)
					case r.status == 401 || r.status == 403:
						t.Fatalf("scopes %v got %d: %s", tc.scopes, r.status, r.body)
					}
				})
			}
		})
	}
}

// TestVisibilityGlobalRoles: admin_read_only and global_auditor see every
// app without a role anywhere; only admin_read_only reads secrets
// (can_read_secrets_globally?); neither writes.
func TestVisibilityGlobalRoles(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "watched", map[string]any{"environment_variables": map[string]string{"SECRET": "s3cret"}})
	c.must(200, "PATCH", "/v3/processes/"+app, "developer", map[string]string{"command": "./watched"})
	// A user CC has never seen: no roles, only the global scope.
	stranger := func(scope string) func(*uaa.Claims) {
		return func(cl *uaa.Claims) {
			cl.Sub, cl.UserID, cl.UserName, cl.Email = "role-global-"+scope, "role-global-"+scope, scope, scope+"@example.org"
		}
	}
	for _, scope := range []string{"cloud_controller.admin_read_only", "cloud_controller.global_auditor"} {
		c.tokens[scope] = roleMint(t, c, c.srv.key, []string{scope, "openid"}, stranger(scope))
	}
	aro, ga := "cloud_controller.admin_read_only", "cloud_controller.global_auditor"
	rows := []struct {
		name, method, path string
		body               any
		want               map[string]roleWant
	}{
		{"list apps", "GET", "/v3/apps", nil, map[string]roleWant{aro: roleOK(200, roleTotal(1)), ga: roleOK(200, roleTotal(1))}},
		{"list orgs", "GET", "/v3/organizations", nil, map[string]roleWant{aro: roleOK(200, roleTotal(1)), ga: roleOK(200, roleTotal(1))}},
		{"environment variables", "GET", "/v3/apps/{app}/environment_variables", nil, map[string]roleWant{aro: roleOK(200, roleVar("var", "SECRET", "s3cret")), ga: roleNotAuthorized}},
		{"permissions", "GET", "/v3/apps/{app}/permissions", nil, map[string]roleWant{aro: roleOK(200, rolePermissions(true, true)), ga: roleOK(200, rolePermissions(true, false))}},
		{"process", "GET", "/v3/processes/{app}", nil, map[string]roleWant{aro: roleOK(200, roleCommand("./watched")), ga: roleOK(200, roleCommand(redactedMessage))}},
		{"update app", "PATCH", "/v3/apps/{app}", map[string]string{"name": "renamed"}, map[string]roleWant{aro: roleNotAuthorized, ga: roleNotAuthorized}},
	}
	for _, row := range rows {
		for _, user := range []string{aro, ga} {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				t.Parallel()
				row.want[user].assert(t, roleView(c, t).do(row.method, strings.ReplaceAll(row.path, "{app}", app), user, row.body))
			})
		}
	}
}
