package backend

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

type logRead struct {
	Envelopes struct {
		Batch []struct {
			Timestamp  string            `json:"timestamp"`
			SourceID   string            `json:"source_id"`
			InstanceID string            `json:"instance_id"`
			Tags       map[string]string `json:"tags"`
			Log        struct {
				Payload []byte `json:"payload"`
				Type    string `json:"type"`
			} `json:"log"`
		} `json:"batch"`
	} `json:"envelopes"`
}

// The log cache answers as log-cache does, with the app's API log lines:
// the cf CLI's probe for the newest (descending, limit 1, from the zero
// time), its walk from a start time, and its filters.
func TestLogCacheReads(t *testing.T) {
	c := startCF(t, nil)
	app := c.createApp("developer", "chatty", nil)
	c.must(200, "PATCH", "/v3/apps/"+app, "developer", map[string]any{"name": "chattier"})

	var info struct{ Version string }
	c.must(200, "GET", "/api/v1/info", "", nil).json(t, &info)
	if info.Version != logCacheVersion {
		t.Errorf("version %q", info.Version)
	}

	var newest logRead
	c.must(200, "GET", "/api/v1/read/"+app+"?descending=true&limit=1&start_time=-6795364578871345152", "developer", nil).json(t, &newest)
	if b := newest.Envelopes.Batch; len(b) != 1 || string(b[0].Log.Payload) != "Updated app with guid "+app ||
		b[0].SourceID != app || b[0].InstanceID != "0" || b[0].Tags["source_type"] != "API" || b[0].Log.Type != "OUT" {
		t.Fatalf("newest: %+v", newest)
	}

	var all logRead
	c.must(200, "GET", "/api/v1/read/"+app+"?start_time=0&envelope_types=LOG", "developer", nil).json(t, &all)
	b := all.Envelopes.Batch
	created := false
	for _, e := range b {
		created = created || string(e.Log.Payload) == "Created app with guid "+app
	}
	if len(b) < 3 || !created {
		t.Fatalf("from the start: %+v", all)
	}
	var last int64
	for _, e := range b {
		ts, err := strconv.ParseInt(e.Timestamp, 10, 64)
		if err != nil || ts <= last {
			t.Fatalf("timestamps not rising: %+v", b)
		}
		last = ts
	}
	if b[len(b)-1].Timestamp != newest.Envelopes.Batch[0].Timestamp {
		t.Errorf("the newest is not the last")
	}

	// A walk past the newest finds nothing; so do other envelope types and
	// a window that ends before the first line.
	first, _ := strconv.ParseInt(b[0].Timestamp, 10, 64)
	for _, q := range []string{"start_time=" + strconv.FormatInt(last+1, 10), "start_time=0&envelope_types=COUNTER",
		"start_time=0&end_time=" + strconv.FormatInt(first, 10)} {
		var none logRead
		c.must(200, "GET", "/api/v1/read/"+app+"?"+q, "developer", nil).json(t, &none)
		if len(none.Envelopes.Batch) != 0 {
			t.Errorf("%s: %+v", q, none)
		}
	}
	var two logRead
	c.must(200, "GET", "/api/v1/read/"+app+"?start_time=0&limit=1", "developer", nil).json(t, &two)
	if len(two.Envelopes.Batch) != 1 || two.Envelopes.Batch[0].Timestamp != b[0].Timestamp {
		t.Errorf("limit 1: %+v", two)
	}

	if r := c.do("GET", "/api/v1/read/"+app, "outsider", nil); r.status != 404 {
		t.Errorf("outsider: %d %s", r.status, r.body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "start_time=yesterday"} {
		if r := c.do("GET", "/api/v1/read/"+app+"?"+q, "developer", nil); r.status != 400 || !strings.Contains(string(r.body), "CF-BadQueryParameter") {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

// A batch whose lines are all younger than the CLI's walk delay is empty to
// the CLI, so it is held like an empty one.
func TestLogCacheFreshBatch(t *testing.T) {
	now := time.Unix(1000, 0)
	s := &Server{now: func() time.Time { return now }}
	at := func(ago time.Duration) logEnvelope {
		return logEnvelope{Timestamp: strconv.FormatInt(now.Add(-ago).UnixNano(), 10)}
	}
	cases := []struct {
		name  string
		batch []logEnvelope
		fresh bool
	}{
		{"one new line", []logEnvelope{at(time.Second)}, true},
		{"one old line", []logEnvelope{at(3 * time.Second)}, false},
		{"ascending, oldest old", []logEnvelope{at(5 * time.Second), at(time.Second)}, false},
		{"descending, oldest old", []logEnvelope{at(time.Second), at(5 * time.Second)}, false},
		{"all new", []logEnvelope{at(1500 * time.Millisecond), at(100 * time.Millisecond)}, true},
	}
	for _, tc := range cases {
		if got := s.fresh(tc.batch); got != tc.fresh {
			t.Errorf("%s: fresh = %v", tc.name, got)
		}
	}
}
