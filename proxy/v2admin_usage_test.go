package proxy

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// go-cfclient's app usage event functions through the gateway
// (MAPPING-orgs §12.6): every event to the end of history, after_guid kept
// in the page urls, pages beyond v3's 5000, the scope rules, the purge.
func TestV2AdminUsageEventsGoCFClient(t *testing.T) {
	s := quickStack(t)
	s.startedApp(t, "used-1")
	s.startedApp(t, "used-2")
	s.startedApp(t, "used-3")
	admin := s.goCFClient(t, "admin")
	r := s.do("POST", s.gwURL+"/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", "admin", nil)
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("purge: %d %s", r.status, r.body)
	}
	var v3 struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		} `json:"pagination"`
		Resources []struct {
			GUID string `json:"guid"`
		} `json:"resources"`
	}
	r = s.do("GET", s.cfURL+"/v3/app_usage_events?per_page=5000", "admin", nil)
	if err := json.Unmarshal(r.body, &v3); err != nil || v3.Pagination.TotalResults < 3 {
		t.Fatalf("v3 events: %v %s", err, r.body)
	}
	events, err := admin.ListAppUsageEvents()
	if err != nil || len(events) != v3.Pagination.TotalResults || events[0].GUID != v3.Resources[0].GUID {
		t.Fatalf("ListAppUsageEvents: %v %d events, v3 has %d", err, len(events), v3.Pagination.TotalResults)
	}
	first := v3.Resources[0].GUID
	if e := events[0]; e.State != "STARTED" || e.AppGUID == "" || e.ParentAppName == "" || e.SpaceGUID == "" || e.ProcessType != "web" {
		t.Errorf("a reseeded event: %+v", e)
	}
	after, err := admin.ListAppUsageEventsByQuery(url.Values{"after_guid": {first}})
	if err != nil || len(after) != len(events)-1 || after[0].GUID != events[1].GUID {
		t.Errorf("after_guid: %v %d", err, len(after))
	}
	r = s.do("GET", s.gwURL+"/v2/app_usage_events?after_guid="+first+"&results-per-page=1", "admin", nil)
	total := strconv.Itoa(len(events) - 1)
	if r.status != 200 || !strings.HasPrefix(string(r.body), `{"total_results":`+total+`,"total_pages":`+total+`,"prev_url":null,"next_url":"/v2/app_usage_events?after_guid=`+first+`&order-direction=asc&page=2&results-per-page=1","resources":[{"metadata":{"guid":"`+events[1].GUID+`","url":"/v2/app_usage_events/`+events[1].GUID+`","created_at":"`) {
		t.Errorf("a page after a guid: %d %s", r.status, r.body)
	}
	if keys := entityKeys(t, r.body); strings.Join(keys, ",") != "state,previous_state,memory_in_mb_per_instance,previous_memory_in_mb_per_instance,instance_count,previous_instance_count,app_guid,app_name,space_guid,space_name,org_guid,buildpack_guid,buildpack_name,package_state,previous_package_state,parent_app_guid,parent_app_name,process_type,task_name,task_guid" {
		t.Errorf("entity keys %v", keys)
	}
	if r := s.do("GET", s.gwURL+"/v2/app_usage_events?results-per-page=10000&page=2", "admin", nil); r.status != 200 ||
		!strings.Contains(string(r.body), `"total_pages":1,`) || !strings.HasSuffix(string(r.body), `"resources":[]}`) {
		t.Errorf("a large page: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/app_usage_events/"+first, "admin", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"package_state":null,"previous_package_state":null`) || strings.Contains(string(r.body), "updated_at") {
		t.Errorf("GET one: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, method, path, user string
		status                   int
		want                     string
	}{
		{"unknown guid", "GET", "/v2/app_usage_events/20822a88-759b-4c64-8001-eb8a77db106b", "admin", 404,
			`{"description":"Event could not be found: 20822a88-759b-4c64-8001-eb8a77db106b","error_code":"CF-EventNotFound","code":230002}`},
		{"unknown after_guid", "GET", "/v2/app_usage_events?after_guid=nope", "admin", 400,
			`{"description":"The query parameter is invalid: nope","error_code":"CF-BadQueryParameter","code":10005}`},
		{"a page too large", "GET", "/v2/app_usage_events?results-per-page=10001", "admin", 400, `invalid: results_per_page must be <= 10000"`},
		{"a q", "GET", "/v2/app_usage_events?q=app_guid:x", "admin", 400, `"CF-BadQueryParameter"`},
		{"a developer lists", "GET", "/v2/app_usage_events", "developer", 403, `"CF-InsufficientScope"`},
		{"an auditor lists", "GET", "/v2/app_usage_events", "auditor", 403, `"CF-InsufficientScope"`},
		{"a developer purges", "POST", "/v2/app_usage_events/destructively_purge_all_and_reseed_started_apps", "developer", 403, `"CF-InsufficientScope"`},
	}
	for _, tc := range cases {
		r := s.do(tc.method, s.gwURL+tc.path, tc.user, nil)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	ro := s.mintToken(t, []string{"cloud_controller.admin_read_only"})
	if r := s.do("GET", s.gwURL+"/v2/app_usage_events?results-per-page=1", ro, nil); r.status != 200 || !strings.Contains(string(r.body), `"total_results":`+strconv.Itoa(len(events))) {
		t.Errorf("a read-only admin lists: %d %s", r.status, r.body)
	}
}
