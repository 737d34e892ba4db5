package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/translate"
)

type v2List struct {
	TotalResults int     `json:"total_results"`
	TotalPages   int     `json:"total_pages"`
	PrevURL      *string `json:"prev_url"`
	NextURL      *string `json:"next_url"`
	Resources    []struct {
		Metadata struct {
			GUID string `json:"guid"`
			URL  string `json:"url"`
		} `json:"metadata"`
		Entity map[string]json.RawMessage `json:"entity"`
	} `json:"resources"`
}

func (s *stack) createApps(t *testing.T, user string, names ...string) []string {
	t.Helper()
	var guids []string
	for _, n := range names {
		body := fmt.Sprintf(`{"name":%q,"relationships":{"space":{"data":{"guid":"5ace0000-0000-4000-8000-000000000001"}}},"environment_variables":{"K":"v"}}`, n)
		r := s.do("POST", s.cfURL+"/v3/apps", user, []byte(body))
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", n, r.status, r.body)
		}
		var a struct{ GUID string }
		_ = json.Unmarshal(r.body, &a)
		guids = append(guids, a.GUID)
	}
	return guids
}

func TestV2AppList(t *testing.T) {
	s := startStack(t, nil)
	guids := s.createApps(t, "developer", "alpha", "beta", "gamma")
	cases := []struct {
		name, query, user string
		total, pages, n   int
		next, prev        string // "" = null
		names             []string
	}{
		{"all", "", "developer", 3, 1, 3, "", "", []string{"alpha", "beta", "gamma"}},
		{"page 1 of 2", "?results-per-page=2", "developer", 3, 2, 2,
			"/v2/apps?order-direction=asc&page=2&results-per-page=2", "", []string{"alpha", "beta"}},
		{"page 2 of 2", "?results-per-page=2&page=2", "developer", 3, 2, 1,
			"", "/v2/apps?order-direction=asc&page=1&results-per-page=2", []string{"gamma"}},
		{"past the last page", "?results-per-page=2&page=5", "developer", 3, 2, 0,
			"", "/v2/apps?order-direction=asc&page=4&results-per-page=2", nil},
		{"by name", "?q=name:beta", "developer", 1, 1, 1, "", "", []string{"beta"}},
		{"name IN", "?q=name%20IN%20alpha,gamma", "developer", 2, 1, 2, "", "", []string{"alpha", "gamma"}},
		{"name >= (applied by the gateway)", "?q=name>=b", "developer", 2, 1, 2, "", "", []string{"beta", "gamma"}},
		{"by space", "?q=space_guid:5ace0000-0000-4000-8000-000000000001", "developer", 3, 1, 3, "", "", nil},
		{"diego false matches nothing", "?q=diego:false", "developer", 0, 1, 0, "", "", nil},
		// desc is v3's -created_at (MAPPING §3.3, approximate): apps made in
		// one second tie, so only the count is certain here.
		{"desc", "?order-direction=desc", "developer", 3, 1, 3, "", "", nil},
		{"auditor sees them", "", "auditor", 3, 1, 3, "", "", nil},
		{"outsider sees none", "", "outsider", 0, 1, 0, "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", s.gwURL+"/v2/apps"+tc.query, tc.user, nil)
			if r.status != 200 || string(r.header.ContentType()) != contentTypeV2 {
				t.Fatalf("%d %s %s", r.status, r.header.ContentType(), r.body)
			}
			var l v2List
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			if l.TotalResults != tc.total || l.TotalPages != tc.pages || len(l.Resources) != tc.n {
				t.Errorf("total %d pages %d resources %d, want %d %d %d", l.TotalResults, l.TotalPages, len(l.Resources), tc.total, tc.pages, tc.n)
			}
			if got := deref(l.NextURL); got != tc.next {
				t.Errorf("next_url %q, want %q", got, tc.next)
			}
			if got := deref(l.PrevURL); got != tc.prev {
				t.Errorf("prev_url %q, want %q", got, tc.prev)
			}
			if tc.names != nil {
				var got []string
				for _, res := range l.Resources {
					var n string
					_ = json.Unmarshal(res.Entity["name"], &n)
					got = append(got, n)
				}
				if strings.Join(got, ",") != strings.Join(tc.names, ",") {
					t.Errorf("names %v, want %v", got, tc.names)
				}
			}
		})
	}
	// Key order of the list envelope is CC's.
	r := s.do("GET", s.gwURL+"/v2/apps", "developer", nil)
	if got := strings.Join(keysOf(t, r.body), ","); got != "total_results,total_pages,prev_url,next_url,resources" {
		t.Errorf("envelope keys %s", got)
	}
	// Environment: the developer reads it, the auditor gets it redacted.
	for user, want := range map[string]string{"developer": `{"K":"v"}`, "auditor": `{"redacted_message":"[PRIVATE DATA HIDDEN]"}`} {
		r := s.do("GET", s.gwURL+"/v2/apps/"+guids[0], user, nil)
		var res struct{ Entity map[string]json.RawMessage }
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatalf("%s: %s", user, r.body)
		}
		if got := string(res.Entity["environment_json"]); got != want {
			t.Errorf("%s sees environment_json %s, want %s", user, got, want)
		}
	}
}

func TestV2AppListErrors(t *testing.T) {
	s := startStack(t, nil)
	cases := []struct {
		name, query string
		status      int
		body        string
	}{
		{"too many per page", "?results-per-page=101", 400,
			`{"description":"The query parameter is invalid: results_per_page must be <= 100","error_code":"CF-BadQueryParameter","code":10005}`},
		{"unknown q key", "?q=bogus:1", 400,
			`{"description":"The query parameter is invalid: bogus","error_code":"CF-BadQueryParameter","code":10005}`},
		{"order-by is refused on apps (HTTP 500, as CC)", "?order-by=name", 500,
			`{"description":"Cannot order by: name","error_code":"CF-OrderByParameterInvalid","code":10012}`},
		{"bad direction", "?order-direction=up", 400,
			`{"description":"The query parameter is invalid: order_direction must be 'asc' or 'desc' but was 'up'","error_code":"CF-BadQueryParameter","code":10005}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", s.gwURL+"/v2/apps"+tc.query, "developer", nil)
			if r.status != tc.status || string(r.body) != tc.body+"\n" {
				t.Errorf("got %d %s\nwant %d %s", r.status, r.body, tc.status, tc.body)
			}
		})
	}
	missing := s.do("GET", s.gwURL+"/v2/apps/no-such-app", "developer", nil)
	if missing.status != 404 || string(missing.body) != `{"description":"The app could not be found: no-such-app","error_code":"CF-AppNotFound","code":100004}`+"\n" {
		t.Errorf("missing app: %d %s", missing.status, missing.body)
	}
	guid := s.createApps(t, "developer", "hidden")[0]
	if r := s.do("GET", s.gwURL+"/v2/apps/"+guid, "outsider", nil); r.status != 404 {
		t.Errorf("outsider GET: %d %s", r.status, r.body)
	}
	if r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(`{}`)); r.status != 400 {
		t.Errorf("POST /v2/apps without name and space: %d %s", r.status, r.body)
	}
}

// A v2 app read through the gateway has exactly the entity keys of the
// translate package's reference shape.
func TestV2AppShape(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "shaped")[0]
	r := s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var got, want struct {
		Metadata json.RawMessage
		Entity   json.RawMessage
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	ref, err := json.Marshal(translate.AppEntity(translate.AppBundle{}))
	if err != nil {
		t.Fatal(err)
	}
	want.Entity = ref
	if a, b := strings.Join(keysOf(t, got.Entity), ","), strings.Join(keysOf(t, want.Entity), ","); a != b {
		t.Errorf("entity keys\n got %s\nwant %s", a, b)
	}
	var e map[string]any
	_ = json.Unmarshal(got.Entity, &e)
	for k, v := range map[string]any{"name": "shaped", "state": "STOPPED", "package_state": "PENDING", "memory": 1024.0, "instances": 1.0,
		"space_guid": "5ace0000-0000-4000-8000-000000000001", "stack_guid": "57ac0000-0000-4000-8000-000000000004", "diego": true,
		"health_check_type": "port", "detected_start_command": "", "enable_ssh": true} {
		if e[k] != v {
			t.Errorf("%s = %v, want %v", k, e[k], v)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestV2SpaceApps(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "one", "two", "three")
	space := "5ace0000-0000-4000-8000-000000000001"
	r := s.do("GET", s.gwURL+"/v2/spaces/"+space+"/apps?results-per-page=2", "developer", nil)
	var l v2List
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if l.TotalResults != 3 || len(l.Resources) != 2 || deref(l.NextURL) != "/v2/spaces/"+space+"/apps?order-direction=asc&page=2&results-per-page=2" {
		t.Errorf("total %d, %d resources, next %q", l.TotalResults, len(l.Resources), deref(l.NextURL))
	}
	missing := s.do("GET", s.gwURL+"/v2/spaces/no-such-space/apps", "developer", nil)
	if missing.status != 404 || string(missing.body) != `{"description":"The app space could not be found: no-such-space","error_code":"CF-SpaceNotFound","code":40004}`+"\n" {
		t.Errorf("missing space: %d %s", missing.status, missing.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/spaces/"+space+"/apps", "outsider", nil); r.status != 404 {
		t.Errorf("outsider: %d %s", r.status, r.body)
	}
}

// A single resource's GET takes the list-only parameters without a word,
// as CC's ObjectRenderer does; the inline depth is still checked.
func TestSingleGetIgnoresListParams(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "single")[0]
	for _, path := range []string{"/v2/apps/" + guid, "/v2/spaces/" + backend.DemoSpaceGUID, "/v2/organizations/" + backend.DemoOrgGUID} {
		if r := s.do("GET", s.gwURL+path+"?results-per-page=101&page=0&order-direction=up", "developer", nil); r.status != 200 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
		if r := s.do("GET", s.gwURL+path+"?inline-relations-depth=3", "developer", nil); r.status != 400 ||
			!strings.Contains(string(r.body), "inline_relations_depth must be <= 2") {
			t.Errorf("%s depth 3: %d %s", path, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/apps?results-per-page=101", "developer", nil); r.status != 400 {
		t.Errorf("the list: %d %s", r.status, r.body)
	}
}
