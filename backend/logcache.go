package backend

import (
	"strconv"
)

// The embedded Cloud Foundry's log cache: the HTTP API of log-cache that
// cf CLI 6.50 and later read an app's logs from during push, start,
// restart and logs (go-log-cache: GET /api/v1/info, then
// /api/v1/read/<source id>). It keeps no logs: every read is an empty
// batch, as log-cache answers for an app that has not logged, so the CLI
// shows no log lines and no warning.

// logCacheVersion is the log-cache version reported: from 2.1 on clients
// read under /api/v1.
const logCacheVersion = "3.0.0"

// logCacheInfo answers GET /api/v1/info.
func (s *Server) logCacheInfo(r *request) error {
	uptime := int64(s.now().Sub(s.started).Seconds())
	return r.reply(200, struct {
		Version  string `json:"version"`
		VMUptime string `json:"vm_uptime"`
	}{logCacheVersion, strconv.FormatInt(uptime, 10)})
}

// logCacheRead answers GET /api/v1/read/<source id>: an app the caller can
// see has an empty batch; any other source is 404, as log-cache's auth
// proxy answers a source the token may not read.
func (s *Server) logCacheRead(r *request) error {
	if err := r.query.allow("start_time", "end_time", "envelope_types", "limit", "descending", "name_filter"); err != nil {
		return err
	}
	for _, k := range []string{"start_time", "end_time", "limit"} {
		if v := r.query.str(k); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return errBadQuery(k + " must be an integer")
			}
		}
	}
	if _, err := s.store.GetApp(r.ctx, r.user.viewer(), r.params[0]); err != nil {
		return storeErr(err, "App")
	}
	type batch struct {
		Batch []struct{} `json:"batch"`
	}
	return r.reply(200, struct {
		Envelopes batch `json:"envelopes"`
	}{batch{Batch: []struct{}{}}})
}
