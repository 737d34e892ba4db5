package backend

import (
	"strconv"
	"strings"
	"time"

	"capibridge/backend/store"
)

// The embedded Cloud Foundry's log cache: the HTTP API of log-cache that
// cf CLI 6.50 and later read an app's logs from during push, start,
// restart and logs (go-log-cache: GET /api/v1/info, then
// /api/v1/read/<source id>). It runs no apps, so the only logs are the
// Cloud Controller's own: one API line per audit event of the app, as CC
// writes "[API/0] Created app with guid ..." lines to an app's log.

// logCacheVersion is the log-cache version reported: from 2.1 on clients
// read under /api/v1.
const logCacheVersion = "3.0.0"

// Read bounds: log-cache's default and largest limit.
const (
	logCacheDefaultLimit = 100
	logCacheMaxLimit     = 1000
)

// emptyReadWait is how long a read that finds nothing the cf CLI will
// keep waits before it answers: the CLI reads again at once after a batch
// that is empty to it (its walk's OnEmpty never sleeps), which would
// otherwise be hundreds of reads a second. To it a batch is empty also
// when every line is younger than its walk delay (go-log-cache Walk drops
// lines newer than now minus the delay: 2 s for cf logs, 1 s when it looks
// for the newest line), so a batch whose oldest line is younger than
// freshLine waits too.
const (
	emptyReadWait = 250 * time.Millisecond
	freshLine     = 2 * time.Second
)

// logCacheInfo answers GET /api/v1/info.
func (s *Server) logCacheInfo(r *request) error {
	uptime := int64(s.now().Sub(s.started).Seconds())
	return r.reply(200, struct {
		Version  string `json:"version"`
		VMUptime string `json:"vm_uptime"`
	}{logCacheVersion, strconv.FormatInt(uptime, 10)})
}

// logEnvelope is a loggregator v2 LOG envelope as log-cache's JSON
// gateway renders it (protobuf's JSON: int64 as a string, bytes base64).
type logEnvelope struct {
	Timestamp  string            `json:"timestamp"`
	SourceID   string            `json:"source_id"`
	InstanceID string            `json:"instance_id"`
	Tags       map[string]string `json:"tags"`
	Log        struct {
		Payload []byte `json:"payload"`
		Type    string `json:"type"`
	} `json:"log"`
}

// logCacheRead answers GET /api/v1/read/<source id> for an app the caller
// can see: its API log lines from start_time (inclusive, ns) to end_time
// (exclusive), oldest first or, with descending, newest first, at most
// limit. Any other source is 404, as log-cache's auth proxy answers a
// source the token may not read.
func (s *Server) logCacheRead(r *request) error {
	if err := r.query.allow("start_time", "end_time", "envelope_types", "limit", "descending", "name_filter"); err != nil {
		return err
	}
	nums := map[string]int64{"start_time": 0, "end_time": 0, "limit": logCacheDefaultLimit}
	for k := range nums {
		if v := r.query.str(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errBadQuery(k + " must be an integer")
			}
			nums[k] = n
		}
	}
	start, end, limit := nums["start_time"], nums["end_time"], nums["limit"]
	if limit < 1 || limit > logCacheMaxLimit {
		return errBadQuery("limit must be between 1 and " + strconv.Itoa(logCacheMaxLimit))
	}
	if end == 0 {
		end = s.now().UnixNano() + 1
	}
	app, err := s.store.GetApp(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "App")
	}
	descending := r.query.str("descending") == "true"
	batch := []logEnvelope{}
	if types := r.query.str("envelope_types"); types == "" || strings.Contains(types, "LOG") {
		if batch, err = s.appLogs(r, app.GUID, start, end, int(limit), descending); err != nil {
			return err
		}
	}
	if len(batch) == 0 || s.fresh(batch) {
		select {
		case <-time.After(emptyReadWait):
		case <-s.ctx.Done():
		}
	}
	type envelopes struct {
		Batch []logEnvelope `json:"batch"`
	}
	return r.reply(200, struct {
		Envelopes envelopes `json:"envelopes"`
	}{envelopes{batch}})
}

// fresh reports whether every line of batch is younger than freshLine.
func (s *Server) fresh(batch []logEnvelope) bool {
	oldest, err := strconv.ParseInt(batch[0].Timestamp, 10, 64)
	if last, lerr := strconv.ParseInt(batch[len(batch)-1].Timestamp, 10, 64); lerr == nil && last < oldest {
		oldest = last // a descending batch
	}
	return err == nil && s.now().UnixNano()-oldest < int64(freshLine)
}

// appLogs renders the app's audit events in [start, end) as API log lines.
// An event's timestamp is its second plus its id in nanoseconds, so that
// the events of one second keep their order and each has its own time.
func (s *Server) appLogs(r *request, guid string, start, end int64, limit int, descending bool) ([]logEnvelope, error) {
	f := store.EventFilter{TargetGUIDs: []string{guid}, CreatedAts: []store.TimeCond{
		{Op: store.TimeGte, Values: []int64{floorDiv(start, 1e9)}}, {Op: store.TimeLte, Values: []int64{floorDiv(end, 1e9)}}}}
	events, _, err := s.store.ListEvents(r.ctx, store.Viewer{All: true}, f,
		store.Page{Page: 1, PerPage: logCacheMaxLimit, OrderBy: "created_at", Desc: descending})
	if err != nil {
		return nil, errInternal(err)
	}
	out := []logEnvelope{}
	for _, e := range events {
		ts := e.CreatedAt*1e9 + e.ID%1e9
		if ts < start || ts >= end {
			continue
		}
		var env logEnvelope
		env.Timestamp, env.SourceID, env.InstanceID = strconv.FormatInt(ts, 10), guid, "0"
		env.Tags = map[string]string{"source_type": "API"}
		env.Log.Payload, env.Log.Type = []byte(apiLogLine(e)), "OUT"
		out = append(out, env)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// apiLogLines are the Cloud Controller's log lines for an app's audit
// events, by event type, each followed by " with guid <app>".
var apiLogLines = map[string]string{
	"audit.app.create":                     "Created app",
	"audit.app.update":                     "Updated app",
	"audit.app.start":                      "Starting app",
	"audit.app.stop":                       "Stopping app",
	"audit.app.restart":                    "Restarting app",
	"audit.app.build.create":               "Staging app",
	"audit.app.droplet.create":             "Staging complete for app",
	"audit.app.droplet.mapped":             "Assigned droplet for app",
	"audit.app.process.create":             "Created process for app",
	"audit.app.process.update":             "Updated process for app",
	"audit.app.process.scale":              "Scaling app",
	"audit.app.process.crash":              "App instance exited",
	"audit.app.package.create":             "Uploading bits for app",
	"audit.app.package.upload":             "Uploading bits for app",
	"audit.app.process.terminate_instance": "Terminated an instance of app",
}

// apiLogLine is the Cloud Controller's log line for an app's audit event.
func apiLogLine(e store.Event) string {
	line, ok := apiLogLines[e.Type]
	if !ok {
		line = strings.TrimPrefix(e.Type, "audit.") + " for app"
	}
	return line + " with guid " + e.TargetGUID
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
