package proxy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
)

// TestGoCFClientReadsApps is the judge nobody here wrote: go-cfclient's last
// v2 release reads apps through the gateway in front of the embedded CF,
// discovering it through /v2/info and walking next_url page by page.
func TestGoCFClientReadsApps(t *testing.T) {
	s := startStack(t, nil)
	var names []string
	for i := range 7 {
		names = append(names, fmt.Sprintf("cf-app-%02d", i))
	}
	guids := s.createApps(t, "developer", names...)
	dev := s.goCFClient(t, "developer")

	// All pages: three pages of three, walked through next_url.
	apps, err := dev.ListAppsByQuery(url.Values{"results-per-page": {"3"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		got = append(got, a.Name)
		if a.SpaceGuid != "5ace0000-0000-4000-8000-000000000001" || a.Memory != 1024 || a.Instances != 1 || a.State != "STOPPED" ||
			a.PackageState != "PENDING" || !a.Diego || a.HealthCheckType != "port" {
			t.Errorf("app %s: %+v", a.Name, a)
		}
	}
	if !slices.Equal(got, names) {
		t.Errorf("listed %v, want %v", got, names)
	}

	// By query, as go-cfclient's AppByName builds it.
	byName, err := dev.AppByName("cf-app-03", "5ace0000-0000-4000-8000-000000000001", "0d0e0000-0000-4000-8000-000000000001")
	if err != nil || byName.Guid != guids[3] {
		t.Errorf("AppByName: %v %+v", err, byName)
	}

	// One app with its space and org inlined (inline-relations-depth=2),
	// and the same without inlining, which makes go-cfclient read the
	// space and the org itself.
	for name, get := range map[string]func(string) (cfclient.App, error){"GetAppByGuid": dev.GetAppByGuid, "GetAppByGuidNoInlineCall": dev.GetAppByGuidNoInlineCall} {
		app, err := get(guids[4])
		if err != nil || app.Name != "cf-app-04" || app.SpaceData.Entity.Name != "demo-space" || app.SpaceData.Entity.OrgData.Entity.Name != "demo-org" ||
			app.SpaceData.Entity.OrganizationGuid != "0d0e0000-0000-4000-8000-000000000001" {
			t.Errorf("%s: %v, space %+v", name, err, app.SpaceData.Entity)
		}
	}
	// ListApps asks for depth 2 too: every app carries its space and org.
	all, err := dev.ListApps()
	if err != nil || len(all) != 7 {
		t.Fatalf("ListApps: %v, %d apps", err, len(all))
	}
	for _, a := range all {
		if a.SpaceData.Entity.Name != "demo-space" || a.SpaceData.Entity.OrgData.Entity.Name != "demo-org" {
			t.Errorf("ListApps %s: space %+v", a.Name, a.SpaceData.Entity)
		}
	}

	// One app, as go-cfclient decodes it.
	one := s.do("GET", s.gwURL+"/v2/apps/"+guids[5], "developer", nil)
	var res cfclient.AppResource
	if err := json.Unmarshal(one.body, &res); err != nil || res.Entity.Name != "cf-app-05" || res.Entity.Environment["K"] != "v" ||
		res.Meta.Guid != guids[5] {
		t.Errorf("GET /v2/apps/:guid decoded by go-cfclient's types: %v %+v", err, res)
	}

	// The same reads by other users.
	for user, want := range map[string]int{"auditor": 7, "outsider": 0, "admin": 7} {
		apps, err := s.goCFClient(t, user).ListAppsByQuery(url.Values{})
		if err != nil || len(apps) != want {
			t.Errorf("%s lists %d apps (%v), want %d", user, len(apps), err, want)
		}
	}
	if _, err := s.goCFClient(t, "outsider").AppByName("cf-app-00", "5ace0000-0000-4000-8000-000000000001", "0d0e0000-0000-4000-8000-000000000001"); err == nil {
		t.Error("the outsider found an app it cannot see")
	}
}

// TestGoCFClientReadsAppDetails: go-cfclient reads an app's summary, env,
// routes, bindings and events, the space and org it lives in, as the
// developer who owns it and as users with less access.
func TestGoCFClientReadsAppDetails(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "detailed")[0]
	routeGUID, instanceGUID := s.serviceFixture(t, guid, "detailed", "detailed-db")
	dev := s.goCFClient(t, "developer")
	app, err := dev.GetAppByGuid(guid)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := app.Summary()
	if err != nil || sum.Guid != guid || sum.Name != "detailed" || sum.Memory != 1024 || sum.State != "STOPPED" || sum.Environment["K"] != "v" ||
		sum.RunningInstances != 0 || sum.SpaceGuid != "5ace0000-0000-4000-8000-000000000001" {
		t.Errorf("Summary: %v %+v", err, sum)
	}
	env, err := dev.GetAppEnv(guid)
	if err != nil || env.Environment["K"] != "v" || env.ApplicationEnv["VCAP_APPLICATION"].(map[string]any)["application_id"] != guid {
		t.Errorf("GetAppEnv: %v %+v", err, env)
	}
	routes, err := dev.GetAppRoutes(guid)
	if err != nil || len(routes) != 1 || routes[0].Guid != routeGUID || routes[0].Host != "detailed" {
		t.Errorf("GetAppRoutes: %v %+v", err, routes)
	}
	created, err := dev.ListAppEventsByQuery(cfclient.AppCreate, []cfclient.AppEventQuery{{Filter: cfclient.FilterActee, Operator: ":", Value: guid}})
	if err != nil || len(created) != 1 || created[0].Actee != guid || created[0].ActeeName != "detailed" {
		t.Errorf("ListAppEventsByQuery: %v %+v", err, created)
	}
	events, err := dev.ListEventsByQuery(url.Values{"q": {"actee:" + guid}})
	if err != nil || len(events) < 1 {
		t.Errorf("ListEventsByQuery: %v %d", err, len(events))
	}
	// The binding through go-cfclient's own resource type.
	var bindings struct {
		Resources []cfclient.ServiceBindingResource `json:"resources"`
	}
	r := s.do("GET", s.gwURL+"/v2/apps/"+guid+"/service_bindings", "developer", nil)
	if err := json.Unmarshal(r.body, &bindings); err != nil || len(bindings.Resources) != 1 ||
		bindings.Resources[0].Entity.ServiceInstanceGuid != instanceGUID || bindings.Resources[0].Entity.AppGuid != guid {
		t.Errorf("bindings: %v %s", err, r.body)
	}

	// An auditor reads the summary but not the env; an outsider nothing.
	if _, err := s.goCFClient(t, "auditor").GetAppEnv(guid); err == nil {
		t.Error("the auditor read the env")
	}
	aud, err := s.goCFClient(t, "auditor").GetAppByGuid(guid)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := aud.Summary(); err != nil || sum.Guid != guid {
		t.Errorf("auditor Summary: %v %+v", err, sum)
	}
	if _, err := s.goCFClient(t, "outsider").GetAppByGuid(guid); err == nil {
		t.Error("the outsider read the app")
	}
}
