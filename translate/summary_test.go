package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEventGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "events", func(raw []byte) ([]byte, error) {
		var e V3AuditEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err := AppendEventResource(&b, e)
		return b.Bytes(), err
	})
}

func TestEventQueryFromFilters(t *testing.T) {
	t.Parallel()
	fs, err := ParseQ([]string{"type:audit.app.update", "actee IN a,b", "timestamp>2020-01-01T00:00:00Z", "type>=audit", "space_guid:s"}, EventQueryKeys())
	if err != nil {
		t.Fatal(err)
	}
	q := EventQueryFromFilters(fs)
	if strings.Join(q.Types, ",") != "audit.app.update" || strings.Join(q.TargetGUIDs, ",") != "a,b" || strings.Join(q.SpaceGUIDs, ",") != "s" ||
		len(q.CreatedAts) != 1 || q.CreatedAts[0] != [2]string{"gt", "2020-01-01T00:00:00Z"} || len(q.Local) != 1 || q.Local[0].Key != "type" || q.Empty {
		t.Errorf("%+v", q)
	}
	fs, _ = ParseQ([]string{"type:a", "type:b"}, EventQueryKeys())
	if q := EventQueryFromFilters(fs); !q.Empty {
		t.Errorf("type:a AND type:b should match nothing: %+v", q)
	}
	if _, err := ParseQ([]string{"app_guid:x"}, EventQueryKeys()); err == nil {
		t.Error("an unknown key was accepted")
	}
}

func TestAppEvent(t *testing.T) {
	t.Parallel()
	e := V3AuditEvent{GUID: "e1", Type: "audit.app.process.crash", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Data: json.RawMessage(`{"instance":"i-1","index":2,"cell_id":"c","exit_status":137,"exit_description":"out of memory","reason":"CRASHED"}`)}
	var b bytes.Buffer
	if err := AppendAppEventResource(&b, "a1", e); err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"guid":"e1","url":"/v2/app_events/e1","created_at":"2024-01-02T03:04:05Z","updated_at":null},` +
		`"entity":{"app_guid":"a1","instance_guid":"i-1","instance_index":2,"exit_status":137,"exit_description":"out of memory",` +
		`"timestamp":"2024-01-02T03:04:05Z","app_url":"/v2/apps/a1"}}`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

func TestJob(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	failed := &V3Job{GUID: "j1", State: "FAILED", CreatedAt: created}
	failed.Errors = append(failed.Errors, struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
		Code   int    `json:"code"`
	}{"boom", "CF-AppNotFound", 100004})
	cases := []struct {
		name string
		job  *V3Job
		want string
	}{
		{"missing is CC's NullJob", nil, `{"metadata":{"guid":"0","created_at":"1970-01-01T00:00:00Z","url":"/v2/jobs/0"},"entity":{"guid":"0","status":"finished"}}`},
		{"processing", &V3Job{GUID: "j1", State: "PROCESSING", CreatedAt: created},
			`{"metadata":{"guid":"j1","created_at":"2024-01-02T03:04:05Z","url":"/v2/jobs/j1"},"entity":{"guid":"j1","status":"running"}}`},
		{"complete", &V3Job{GUID: "j1", State: "COMPLETE", CreatedAt: created},
			`{"metadata":{"guid":"j1","created_at":"2024-01-02T03:04:05Z","url":"/v2/jobs/j1"},"entity":{"guid":"j1","status":"finished"}}`},
		{"failed", failed, `{"metadata":{"guid":"j1","created_at":"2024-01-02T03:04:05Z","url":"/v2/jobs/j1"},"entity":{"guid":"j1","status":"failed",` +
			`"error":"Use of entity>error is deprecated in favor of entity>error_details.","error_details":{"description":"boom","error_code":"CF-AppNotFound","code":100004}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Job(tc.job)
			if err != nil || string(got) != tc.want {
				t.Errorf("got  %s (%v)\nwant %s", got, err, tc.want)
			}
		})
	}
}

// TestAppSummaryKeyOrder renders a summary with a route, a service and a
// domain and compares its keys with CC's (testdata/reference).
func TestAppSummaryKeyOrder(t *testing.T) {
	t.Parallel()
	b := AppBundle{App: V3App{GUID: "a1", Name: "woo", State: "STOPPED"}}
	r := V3Route{GUID: "r1", Host: "woo", Path: "/p"}
	r.Relationships.Domain.Data = &V3GUIDRef{GUID: "d1"}
	shared := V3Domain{GUID: "d1", Name: "example.com"}
	private := V3Domain{GUID: "d2", Name: "corp.example.com"}
	private.Relationships.Organization.Data = &V3GUIDRef{GUID: "o1"}
	upsi := ServiceSummary{Instance: V3ServiceInstance{GUID: "s1", Name: "db", Type: "user-provided"}, BoundAppCount: 2}
	got, err := AppSummary(b, AppSummaryInput{Routes: []V3Route{r}, Domains: map[string]*V3Domain{"d1": &shared},
		AvailableDomains: []V3Domain{private, shared}, Services: []ServiceSummary{upsi}})
	if err != nil {
		t.Fatal(err)
	}
	want := objectKeys(t, readTestdata(t, "reference", "app_summary.current-shape.json"))
	if g := objectKeys(t, got); strings.Join(g, ",") != strings.Join(want, ",") {
		t.Errorf("keys\n got %v\nwant %v", g, want)
	}
	var s struct {
		Routes           []json.RawMessage
		Services         []json.RawMessage
		AvailableDomains []json.RawMessage `json:"available_domains"`
		Ports            *[]int
	}
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]string{
		"route":          {string(s.Routes[0]), `{"guid":"r1","host":"woo","port":null,"path":"/p","domain":{"guid":"d1","name":"example.com"}}`},
		"service":        {string(s.Services[0]), `{"guid":"s1","name":"db","bound_app_count":2,"type":"user_provided_service_instance"}`},
		"private domain": {string(s.AvailableDomains[0]), `{"guid":"d2","name":"corp.example.com","owning_organization_guid":"o1"}`},
		"shared domain":  {string(s.AvailableDomains[1]), `{"guid":"d1","name":"example.com","internal":false,"router_group_guid":null,"router_group_type":null}`},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: got %s, want %s", name, c[0], c[1])
		}
	}
	if s.Ports != nil {
		t.Errorf("ports %v, want null", *s.Ports)
	}
	// The shared domain's entry in the reference has the same keys.
	ref := readTestdata(t, "reference", "app_summary.current-shape.json")
	if a, b := strings.Join(objectKeys(t, ref, "available_domains", "0"), ","), strings.Join(objectKeys(t, s.AvailableDomains[1]), ","); a != b {
		t.Errorf("shared domain keys %s, want %s", b, a)
	}
}

func TestSpaceSummary(t *testing.T) {
	t.Parallel()
	b := AppBundle{App: V3App{GUID: "a1", Name: "web", State: "STARTED"}}
	r := V3Route{GUID: "r1", Host: "web", Path: "/p"}
	r.Relationships.Domain.Data = &V3GUIDRef{GUID: "d1"}
	port := 1034
	tcp := V3Route{GUID: "r2", Port: &port}
	tcp.Relationships.Domain.Data = &V3GUIDRef{GUID: "d1"}
	got, err := SpaceSummary(V3Space{GUID: "s1", Name: "dev"},
		[]SpaceSummaryApp{{Bundle: b, Routes: []V3Route{r, tcp}, RunningInstances: 1, ServiceNames: []string{"db"}}},
		map[string]*V3Domain{"d1": {GUID: "d1", Name: "example.com"}},
		[]ServiceSummary{{Instance: V3ServiceInstance{GUID: "si", Name: "db", Type: "user-provided"}, BoundAppCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if k := strings.Join(objectKeys(t, got), ","); k != "guid,name,apps,services" {
		t.Errorf("keys %s", k)
	}
	app := strings.Join(objectKeys(t, got, "apps", "0"), ",")
	if !strings.HasPrefix(app, "guid,urls,routes,service_count,service_names,running_instances,name,production,space_guid,") ||
		!strings.HasSuffix(app, ",enable_ssh,ports") || strings.Contains(app, "docker_credentials") {
		t.Errorf("app keys %s", app)
	}
	var s struct {
		Apps []struct {
			URLs         []string `json:"urls"`
			ServiceCount int      `json:"service_count"`
		}
		Services []json.RawMessage
	}
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Apps[0].URLs, " ") != "web.example.com/p example.com:1034" || s.Apps[0].ServiceCount != 1 {
		t.Errorf("app %+v", s.Apps[0])
	}
	if string(s.Services[0]) != `{"guid":"si","name":"db","bound_app_count":1,"type":"user_provided_service_instance","shared_to":[]}` {
		t.Errorf("service %s", s.Services[0])
	}
}

func TestRunningInstances(t *testing.T) {
	t.Parallel()
	stats := []V3ProcessStats{{Index: 0, State: "RUNNING"}, {Index: 1, State: "STARTING"}, {Index: 2, State: "CRASHED"}, {Index: 3, State: "RUNNING"}}
	if n := RunningInstances(stats, 3); n != 2 {
		t.Errorf("got %d, want 2 (index 3 is beyond the desired count)", n)
	}
}
