package backend

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"capibridge/backend/uaa"
)

// usageEventRoleRows are the app usage event rows of the role table, on
// the read fixture's events ({usageEvent} is one of them): admins (and
// the other global readers) see the events, everyone else an empty list
// and not found; only admins purge.
var usageEventRoleRows = []roleRow{
	{"list app usage events", "GET", "/v3/app_usage_events?guids={usageEvent}", nil,
		rolePer(roleOK(200, roleTotal(1)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)), roleOK(200, roleTotal(0)))},
	{"app usage event", "GET", "/v3/app_usage_events/{usageEvent}", nil,
		rolePer(roleOK(200, roleField("guid", "{usageEvent}")), roleNotFound("App usage event"), roleNotFound("App usage event"), roleNotFound("App usage event"))},
	{"purge app usage events", "POST", "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", nil,
		rolePer(roleOK(200), roleNotAuthorized, roleNotAuthorized, roleNotAuthorized)},
}

func init() { roleFixtureRows = append(roleFixtureRows, usageEventRoleRows...) }

// usageEvents lists the events as admin, oldest first.
func usageEvents(t *testing.T, c *cf, query string) []usageEventJSON {
	t.Helper()
	var l struct{ Resources []usageEventJSON }
	c.must(200, "GET", "/v3/app_usage_events?per_page=5000"+query, "admin", nil).json(t, &l)
	return l.Resources
}

// usageSummary is each event as state/previous memory/previous instances/previous.
func usageSummary(events []usageEventJSON) string {
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%v/%v %v/%v %v/%v", e.State.Current, e.State.Previous, e.MemoryInMB.Current, e.MemoryInMB.Previous,
			e.InstanceCount.Current, e.InstanceCount.Previous))
	}
	return strings.Join(out, ", ")
}

func TestRoleAppUsageEvents(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "used", nil)
	c.giveDroplet(app)
	c.must(200, "POST", "/v3/apps/"+app+"/actions/start", "developer", nil)
	events := usageEvents(t, c, "")
	if len(events) != 1 {
		t.Fatalf("events %+v", events)
	}
	fill := strings.NewReplacer("{usageEvent}", events[0].GUID)
	for _, row := range usageEventRoleRows {
		for _, user := range roleUsers {
			t.Run(row.name+"/"+user, func(t *testing.T) {
				want := row.want[user]
				if want.check != nil {
					check := want.check
					want.check = func(t *testing.T, r resp) {
						t.Helper()
						r.body = []byte(strings.ReplaceAll(string(r.body), events[0].GUID, "{usageEvent}"))
						check(t, r)
					}
				}
				path, body := row.filled(t, fill)
				want.assert(t, roleView(c, t).do(row.method, path, user, body))
			})
		}
	}
}

// TestAppUsageEvents: staging, start, scale, stop, a start again, a
// restart and a delete record CC's events in order, with CC's shape; global auditors
// read them; after_guid pages on; a purge reseeds the started processes.
func TestAppUsageEvents(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	app := c.createApp("developer", "metered", nil)
	pkg := c.readyPackage("developer", app, zipFile{name: "Gemfile", body: "source 'https://rubygems.org'\n"},
		zipFile{name: "config.ru", body: "run ->(env) { [200, {}, ['ok']] }\n"})
	build := c.newBuild("developer", pkg)
	clk.Advance(2 * time.Second)
	var b struct {
		State   string
		Droplet struct{ GUID string }
	}
	c.must(200, "GET", "/v3/builds/"+build, "developer", nil).json(t, &b)
	if b.State != "STAGED" {
		t.Fatalf("build %s", b.State)
	}
	c.must(200, "PATCH", "/v3/apps/"+app+"/relationships/current_droplet", "developer", map[string]any{"data": map[string]string{"guid": b.Droplet.GUID}})
	c.must(200, "POST", "/v3/apps/"+app+"/actions/start", "developer", nil)
	c.must(202, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", "developer", map[string]any{"instances": 3, "memory_in_mb": 256})
	c.must(202, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", "developer", map[string]any{"disk_in_mb": 512})
	c.must(200, "POST", "/v3/apps/"+app+"/actions/stop", "developer", nil)
	c.must(202, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", "developer", map[string]any{"instances": 2})
	c.must(200, "POST", "/v3/apps/"+app+"/actions/start", "developer", nil)
	c.must(200, "POST", "/v3/apps/"+app+"/actions/restart", "developer", nil)
	c.waitJob(c.must(202, "DELETE", "/v3/apps/"+app, "developer", nil).header["Location"], "developer")

	events := usageEvents(t, c, "")
	got := usageSummary(events)
	want := "STAGING_STARTED/STAGING 1024/1024 1/1, STAGING_STOPPED/STAGING 1024/1024 1/1, BUILDPACK_SET/STAGED 1024/1024 1/1, " +
		"STARTED/STOPPED 1024/1024 1/1, STARTED/STARTED 256/1024 3/1, STOPPED/STARTED 256/256 3/3, " +
		"STARTED/STOPPED 256/256 2/2, STOPPED/STARTED 256/256 2/2, STARTED/STOPPED 256/256 2/2, STOPPED/STARTED 256/256 2/2"
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	if len(events) != 10 {
		t.FailNow()
	}
	started := timestamps.ReplaceAllString(string(c.must(200, "GET", "/v3/app_usage_events/"+events[3].GUID, "admin", nil).body), `"T"`)
	want = `{"guid":"` + events[3].GUID + `","created_at":"T","updated_at":"T","state":{"current":"STARTED","previous":"STOPPED"},` +
		`"app":{"guid":"` + app + `","name":"metered"},"process":{"guid":"` + app + `","type":"web"},` +
		`"space":{"guid":"` + DemoSpaceGUID + `","name":"` + DemoSpaceName + `"},"organization":{"guid":"` + DemoOrgGUID + `"},` +
		`"buildpack":{"guid":"b0000000-0000-4000-8000-000000000003","name":"ruby_buildpack"},"task":{"guid":null,"name":null},` +
		`"memory_in_mb_per_instance":{"current":1024,"previous":1024},"instance_count":{"current":1,"previous":1},` +
		`"links":{"self":{"href":"http://api.example.org/v3/app_usage_events/` + events[3].GUID + `"}}}`
	if started != want {
		t.Errorf("STARTED event\n got %s\nwant %s", started, want)
	}
	staging := events[0]
	if staging.Process.GUID != nil || staging.Process.Type != nil || staging.App.GUID != app || staging.Buildpack.Name != nil {
		t.Errorf("STAGING_STARTED %+v", staging)
	}
	if set := events[2]; set.Buildpack.Name == nil || *set.Buildpack.Name != "ruby_buildpack" {
		t.Errorf("BUILDPACK_SET %+v", set)
	}

	if got := usageEvents(t, c, "&after_guid="+events[5].GUID); len(got) != 4 || got[0].GUID != events[6].GUID {
		t.Errorf("after_guid: %d events", len(got))
	}
	for _, tc := range []struct{ query, want string }{
		{"?after_guid=" + roleMissingGUID, "After guid filter must be a valid app usage event guid."},
		{"?after_guid=a,b", "After guid filter accepts only one guid"},
		{"?updated_ats=2020-01-01T00:00:00Z", "Filtering by 'updated_ats' is not allowed on this resource."},
		{"?order_by=updated_at", "Order by can only be: 'created_at'"},
		{"?per_page=5001", "Per page must be between 1 and 5000"},
	} {
		roleUnprocessable(tc.want).assert(t, c.do("GET", "/v3/app_usage_events"+tc.query, "admin", nil))
	}
	ga := "cloud_controller.global_auditor"
	c.tokens[ga] = roleMint(t, c, c.srv.key, []string{ga, "openid"}, func(cl *uaa.Claims) {
		cl.Sub, cl.UserID, cl.UserName, cl.Email = "usage-auditor", "usage-auditor", "usage-auditor", "usage-auditor@example.org"
	})
	var l struct{ Resources []usageEventJSON }
	c.must(200, "GET", "/v3/app_usage_events", ga, nil).json(t, &l)
	if len(l.Resources) != 10 {
		t.Errorf("global auditor sees %d events", len(l.Resources))
	}
	c.must(200, "GET", "/v3/app_usage_events/"+events[0].GUID, ga, nil)

	// A purge leaves one STARTED event per process of a started app, whose
	// guid is the process's.
	running := c.createApp("developer", "running", nil)
	c.giveDroplet(running)
	c.must(200, "POST", "/v3/apps/"+running+"/actions/start", "developer", nil)
	c.createApp("developer", "idle", nil)
	if got := string(c.must(200, "POST", "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", "admin", nil).body); got != "{}" {
		t.Errorf("purge answered %s", got)
	}
	reseeded := usageEvents(t, c, "")
	if len(reseeded) != 1 || reseeded[0].GUID != running || usageSummary(reseeded) != "STARTED/STARTED 1024/1024 1/1" {
		t.Errorf("reseeded %+v", reseeded)
	}
}

// TestAppUsageEventsSpaceDelete: a started app that goes with its space
// records one STOPPED event per process.
func TestAppUsageEventsSpaceDelete(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var sp struct{ GUID string }
	c.must(201, "POST", "/v3/spaces", "admin", map[string]any{"name": "doomed",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}}).json(t, &sp)
	app := c.createAppIn("admin", sp.GUID, "goner", nil)
	c.giveDroplet(app)
	c.must(200, "POST", "/v3/apps/"+app+"/actions/start", "admin", nil)
	c.waitJob(c.must(202, "DELETE", "/v3/spaces/"+sp.GUID, "admin", nil).header["Location"], "admin")
	if got := usageSummary(usageEvents(t, c, "")); got != "STARTED/STOPPED 1024/1024 1/1, STOPPED/STARTED 1024/1024 1/1" {
		t.Errorf("events %s", got)
	}
}
