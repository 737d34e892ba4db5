package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestV2Events(t *testing.T) {
	s := startStack(t, nil)
	guids := s.createApps(t, "developer", "ev-one", "ev-two")

	r := s.do("GET", s.gwURL+"/v2/events?q=type:audit.app.create", "developer", nil)
	var l v2List
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if l.TotalResults != 2 || len(l.Resources) != 2 || string(l.Resources[0].Entity["actee_type"]) != `"app"` ||
		!strings.Contains(string(r.body), `"actee":"`+guids[0]+`","actee_type":"app","actee_name":"ev-one"`) {
		t.Errorf("type filter: %s", r.body)
	}
	want := "type,actor,actor_type,actor_name,actor_username,actee,actee_type,actee_name,timestamp,metadata,space_guid,organization_guid"
	if len(l.Resources) > 0 {
		if got := strings.Join(keysOf(t, mustMarshalEntity(t, r.body)), ","); got != want {
			t.Errorf("entity keys %s", got)
		}
	}

	// Descending is ascending reversed (events of the same second are
	// ordered by guid both ways).
	last := string(l.Resources[len(l.Resources)-1].Entity["actee"])
	desc := s.do("GET", s.gwURL+"/v2/events?q=type:audit.app.create&order-direction=desc&results-per-page=1", "developer", nil)
	if err := json.Unmarshal(desc.body, &l); err != nil || l.TotalResults != 2 || len(l.Resources) != 1 ||
		string(l.Resources[0].Entity["actee"]) != last || deref(l.NextURL) != "/v2/events?order-direction=desc&page=2&q=type:audit.app.create&results-per-page=1" {
		t.Errorf("desc: %s", desc.body)
	}

	byActee := s.do("GET", s.gwURL+"/v2/events?q=actee:"+guids[1], "developer", nil)
	if err := json.Unmarshal(byActee.body, &l); err != nil || l.TotalResults < 1 {
		t.Fatalf("actee: %s", byActee.body)
	}
	for _, res := range l.Resources {
		if string(res.Entity["actee"]) != `"`+guids[1]+`"` {
			t.Errorf("actee filter let through %s", res.Entity["actee"])
		}
	}

	// A filter v3 cannot express is applied by the gateway.
	local := s.do("GET", s.gwURL+"/v2/events?q=type>=audit.app.d&q=actee:"+guids[0], "developer", nil)
	if err := json.Unmarshal(local.body, &l); err != nil || local.status != 200 {
		t.Fatalf("local: %d %s", local.status, local.body)
	}
	for _, res := range l.Resources {
		if string(res.Entity["type"]) < `"audit.app.d` {
			t.Errorf("type>= let through %s", res.Entity["type"])
		}
	}

	one := s.do("GET", s.gwURL+l.Resources[0].Metadata.URL, "developer", nil)
	if one.status != 200 || !strings.Contains(string(one.body), `"url":"`+l.Resources[0].Metadata.URL+`"`) {
		t.Errorf("one event: %d %s", one.status, one.body)
	}
	missing := s.do("GET", s.gwURL+"/v2/events/no-such-event", "developer", nil)
	if missing.status != 404 || string(missing.body) != `{"description":"Event could not be found: no-such-event","error_code":"CF-EventNotFound","code":230002}`+"\n" {
		t.Errorf("missing: %d %s", missing.status, missing.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/events?q=app_guid:x", "developer", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-BadQueryParameter") {
		t.Errorf("unknown key: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/events", "outsider", nil); r.status != 200 || !strings.HasPrefix(string(r.body), `{"total_results":0,`) {
		t.Errorf("outsider sees events: %s", r.body)
	}

	// The deprecated app events: crash records, none here.
	ae := s.do("GET", s.gwURL+"/v2/apps/"+guids[0]+"/events", "developer", nil)
	if ae.status != 200 || string(ae.body) != `{"total_results":0,"total_pages":1,"prev_url":null,"next_url":null,"resources":[]}` {
		t.Errorf("app events: %d %s", ae.status, ae.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/apps/no-such-app/events", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "CF-AppNotFound") {
		t.Errorf("app events of a missing app: %d %s", r.status, r.body)
	}
}

func mustMarshalEntity(t *testing.T, list []byte) []byte {
	t.Helper()
	var l struct {
		Resources []struct {
			Entity json.RawMessage `json:"entity"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(list, &l); err != nil || len(l.Resources) == 0 {
		t.Fatalf("no resources in %s", list)
	}
	return l.Resources[0].Entity
}

func TestV2Jobs(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "doomed")[0]
	del := s.do("DELETE", s.cfURL+"/v3/apps/"+guid, "developer", nil)
	loc := string(del.header.Peek("Location"))
	if del.status != 202 || !strings.Contains(loc, "/v3/jobs/") {
		t.Fatalf("delete: %d %s", del.status, loc)
	}
	job := loc[strings.LastIndex(loc, "/")+1:]
	var body struct {
		Metadata struct{ GUID, URL string }
		Entity   struct{ GUID, Status string }
	}
	for range 100 {
		r := s.do("GET", s.gwURL+"/v2/jobs/"+job, "developer", nil)
		if err := json.Unmarshal(r.body, &body); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if body.Entity.Status != "running" {
			break
		}
	}
	if body.Entity.Status != "finished" || body.Metadata.GUID != job || body.Metadata.URL != "/v2/jobs/"+job {
		t.Errorf("job %+v", body)
	}
	null := s.do("GET", s.gwURL+"/v2/jobs/no-such-job", "developer", nil)
	if null.status != 200 || string(null.body) != `{"metadata":{"guid":"0","created_at":"1970-01-01T00:00:00Z","url":"/v2/jobs/0"},"entity":{"guid":"0","status":"finished"}}` {
		t.Errorf("unknown job: %d %s", null.status, null.body)
	}
}
