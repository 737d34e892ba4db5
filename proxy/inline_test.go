package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/configs"
)

func TestV2AppListOrphansAndDepthLimit(t *testing.T) {
	s := startStack(t, func(c *configs.Config) { c.MaxInlineRelationsDepth = 1 })
	guid := s.createApps(t, "developer", "orphaned")[0]
	route, _ := s.serviceFixture(t, guid, "orphaned", "orphan-db")
	r := s.do("GET", s.gwURL+"/v2/apps?inline-relations-depth=1&orphan-relations=1", "developer", nil)
	var l struct {
		Resources []struct {
			Entity map[string]json.RawMessage `json:"entity"`
		} `json:"resources"`
		Orphans map[string]struct {
			Metadata struct{ URL string } `json:"metadata"`
		} `json:"orphans"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 || len(l.Resources) != 1 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	e := l.Resources[0].Entity
	if _, ok := e["space"]; ok || string(e["routes"]) != `["`+route+`"]` || len(l.Orphans) != 4 ||
		l.Orphans[backend.DemoSpaceGUID].Metadata.URL != "/v2/spaces/"+backend.DemoSpaceGUID || l.Orphans[route].Metadata.URL != "/v2/routes/"+route {
		t.Errorf("orphans: %s", r.body)
	}
	if !strings.HasSuffix(string(r.body), `}}`) || !strings.Contains(string(r.body), `],"orphans":{`) {
		t.Errorf("orphans must follow resources: %s", r.body)
	}
	// Without orphan-relations there is no orphans key; above the
	// configured depth, CC's 400.
	if r := s.do("GET", s.gwURL+"/v2/apps?inline-relations-depth=1", "developer", nil); strings.Contains(string(r.body), `"orphans"`) {
		t.Errorf("orphans without orphan-relations: %s", r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/apps?inline-relations-depth=2", "developer", nil); r.status != 400 ||
		!strings.Contains(string(r.body), "inline_relations_depth must be <= 1") {
		t.Errorf("depth above the limit: %d %s", r.status, r.body)
	}
}

// TestV2LocalScanBound: a filter the gateway applies itself reads at most
// max_local_scan v3 resources, then asks for a narrower query.
func TestV2LocalScanBound(t *testing.T) {
	s := startStack(t, func(c *configs.Config) { c.MaxLocalScan = 2 })
	s.createApps(t, "developer", "a-one", "b-two", "c-three")
	for _, path := range []string{"/v2/apps?q=name>=a", "/v2/events?q=type>=audit"} {
		r := s.do("GET", s.gwURL+path, "developer", nil)
		if r.status != 400 || !strings.Contains(string(r.body), "the filter needs more than 2") {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/apps?q=name:a-one", "developer", nil); r.status != 200 {
		t.Errorf("a filter v3 applies is not bounded: %d %s", r.status, r.body)
	}
}
