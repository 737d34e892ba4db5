package translate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUsageEventPaging(t *testing.T) {
	lp, err := ParseLargeListParams([][2]string{{"results-per-page", "1"}, {"order-direction", "asc"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	lp.Preserved = [][2]string{{"after_guid", "5a3416b0-cf3c-425a-a14c-45a317c497ed"}}
	// app_usage_event_list.json's next_url.
	if got, want := lp.ListURL("/v2/app_usage_events", 2), "/v2/app_usage_events?after_guid=5a3416b0-cf3c-425a-a14c-45a317c497ed&order-direction=asc&page=2&results-per-page=1"; got != want {
		t.Errorf("ListURL = %s, want %s", got, want)
	}
	cases := []struct {
		name  string
		pairs [][2]string
		rpp   int
		err   string
	}{
		{"10000", [][2]string{{"results-per-page", "10000"}}, 10000, ""},
		{"10001", [][2]string{{"results-per-page", "10001"}}, 0, "results_per_page must be <= 10000"},
		{"zero", [][2]string{{"results-per-page", "0"}}, 0, "An unknown error occurred."},
		{"bad direction", [][2]string{{"order-direction", "up"}}, 0, "order_direction must be 'asc' or 'desc' but was 'up'"},
	}
	for _, tc := range cases {
		lp, err := ParseLargeListParams(tc.pairs, 2)
		switch {
		case tc.err == "" && (err != nil || lp.ResultsPerPage != tc.rpp):
			t.Errorf("%s: %v %d", tc.name, err, lp.ResultsPerPage)
		case tc.err != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err))):
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestUsageEventResource(t *testing.T) {
	s := func(v string) *string { return &v }
	var e V3UsageEvent
	e.GUID, e.CreatedAt = "g", time.Date(2016, 6, 8, 16, 41, 33, 0, time.UTC)
	e.State.Current, e.App.GUID, e.App.Name, e.Buildpack.Name = s("STARTED"), s("app"), s("name"), s("https://u:p@example.com/bp.git")
	// A task event: v3's process guid is null, so v2's app_guid and app_name are "".
	var b bytes.Buffer
	if err := AppendUsageEventResource(&b, e); err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"guid":"g","url":"/v2/app_usage_events/g","created_at":"2016-06-08T16:41:33Z"},"entity":{"state":"STARTED","previous_state":null,` +
		`"memory_in_mb_per_instance":null,"previous_memory_in_mb_per_instance":null,"instance_count":null,"previous_instance_count":null,"app_guid":"","app_name":"",` +
		`"space_guid":null,"space_name":null,"org_guid":null,"buildpack_guid":null,"buildpack_name":"https://***:***@example.com/bp.git","package_state":null,` +
		`"previous_package_state":null,"parent_app_guid":"app","parent_app_name":"name","process_type":null,"task_name":null,"task_guid":null}}`
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "app_usage_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w, g := keysOf(t, ref, "entity"), keysOf(t, b.Bytes(), "entity"); w != g {
		t.Errorf("entity keys\n got %s\nwant %s", g, w)
	}
	if w, g := keysOf(t, ref, "metadata"), keysOf(t, b.Bytes(), "metadata"); w != g {
		t.Errorf("metadata keys\n got %s\nwant %s", g, w)
	}
	if got := strings.TrimSpace(b.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
