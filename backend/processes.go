package backend

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// processResource is GET /v3/processes and, with appProcesses,
// /v3/apps/:guid/processes. A list always redacts commands (CC's "[PRIVATE
// DATA HIDDEN IN LISTS]"); a get is findProcess's, which reads the roles.
var processResource = &resource[store.Process, store.ProcessFilter, processJSON]{
	name:   "Process",
	path:   "/v3/processes",
	keys:   append(append([]string{}, pageParams...), "guids", "app_guids", "types", "space_guids", "organization_guids", "label_selector", "embed"),
	orders: timeOrders,
	filter: func(q *params) store.ProcessFilter {
		f := store.ProcessFilter{GUIDs: q.list("guids"), AppGUIDs: q.list("app_guids"), Types: q.list("types"),
			SpaceGUIDs: q.list("space_guids"), OrgGUIDs: q.list("organization_guids"), Labels: q.labels()}
		q.embeds("process_instances")
		return f
	},
	list: (*store.Store).ListProcesses,
	get:  (*store.Store).GetProcess,
	// embed=process_instances puts each process's instances in it, before
	// its relationships (cc:app/decorators/embed_process_instances_decorator.rb);
	// the cf CLI 7 and 8 read them for cf apps.
	present: func(s *Server, r *request, items []store.Process) ([]processJSON, error) {
		embed := r.query.has("embed")
		out := make([]processJSON, len(items))
		for i, p := range items {
			out[i] = presentProcess(r.base, p, redactedListMessage)
			if embed {
				inst, err := s.processInstances(r, p)
				if err != nil {
					return nil, err
				}
				out[i].ProcessInstances = &inst
			}
		}
		return out, nil
	},
}

// processInstanceJSON is one entry of process_instances: index, state and
// since, the seconds the instance has been in its state (null while down;
// cc:lib/cloud_controller/diego/reporters/instances_stats_reporter.rb).
type processInstanceJSON struct {
	Index int64  `json:"index"`
	State string `json:"state"`
	Since *int64 `json:"since"`
}

// processInstances are the instances of p as its stats see them.
func (s *Server) processInstances(r *request, p store.Process) ([]processInstanceJSON, error) {
	aa, err := s.findApp(r, p.AppGUID)
	if err != nil {
		return nil, err
	}
	views, err := s.observe(r.ctx, aa.app, aa.space.OrgGUID, p)
	if err != nil {
		return nil, errInternal(err)
	}
	now := s.now().UnixMilli()
	out := make([]processInstanceJSON, len(views))
	for i, v := range views {
		out[i] = processInstanceJSON{Index: v.index, State: v.state}
		if v.state != instanceDown {
			since := (now - v.since) / 1000
			out[i].Since = &since
		}
	}
	return out, nil
}

// processInstancesOf is GET /v3/processes/:guid/process_instances: the
// process's instances as embed=process_instances shows them, under the
// links its process resource names
// (cc:app/controllers/v3/processes_controller.rb#process_instances,
// app/presenters/v3/process_instances_presenter.rb). CC reads no query
// parameter here and refuses none.
func (s *Server) processInstancesOf(r *request) error {
	pa, err := s.findProcess(r)
	if err != nil {
		return err
	}
	inst, err := s.processInstances(r, pa.proc)
	if err != nil {
		return err
	}
	self := r.base + "/v3/processes/" + pa.proc.GUID
	out := struct {
		Resources []processInstanceJSON `json:"resources"`
		Links     struct {
			Self    link `json:"self"`
			Process link `json:"process"`
		} `json:"links"`
	}{Resources: inst}
	out.Links.Self, out.Links.Process = link{Href: self + "/process_instances"}, link{Href: self}
	return r.reply(200, out)
}

// appProcesses is GET /v3/apps/:guid/processes.
var appProcesses = nest[store.ProcessFilter]{keys: append(append([]string{}, pageParams...), "guids", "types", "label_selector"),
	narrow: func(f *store.ProcessFilter, app string) { f.AppGUIDs = []string{app} }}

// processAccess is a process the caller can see, and what it may do.
type processAccess struct {
	proc store.Process
	appAccess
}

// findProcess loads the process a request names: by app and type
// (/v3/apps/:guid/processes/:type...), or by guid (/v3/processes/:guid...).
func (s *Server) findProcess(r *request) (processAccess, error) {
	if len(r.params) == 2 {
		return s.findAppProcess(r, r.params[0], r.params[1])
	}
	return s.findProcessByGUID(r, r.params[0])
}

// findAppProcess loads the process of type typ of an app the caller can
// see: 404 App, then 404 Process.
func (s *Server) findAppProcess(r *request, appGUID, typ string) (processAccess, error) {
	var pa processAccess
	var err error
	if pa.appAccess, err = s.findApp(r, appGUID); err != nil {
		return pa, err
	}
	if pa.proc, err = s.store.GetAppProcess(r.ctx, pa.app.GUID, typ); err != nil {
		return pa, storeErr(err, "Process")
	}
	return pa, nil
}

// findProcessByGUID loads a process the caller can see (404 Process).
func (s *Server) findProcessByGUID(r *request, guid string) (processAccess, error) {
	var pa processAccess
	var err error
	if pa.proc, err = processResource.find(s, r, guid); err != nil {
		return pa, err
	}
	if pa.appAccess, err = s.findApp(r, pa.proc.AppGUID); err != nil {
		return pa, err
	}
	return pa, nil
}

func (s *Server) presentOne(r *request, pa processAccess) processJSON {
	redacted := ""
	if !pa.roles.secrets {
		redacted = redactedMessage
	}
	return presentProcess(r.base, pa.proc, redacted)
}

func (s *Server) getProcess(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	pa, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return r.reply(200, s.presentOne(r, pa))
}

func (s *Server) getAppProcess(r *request) error { return s.getProcess(r) }

func (s *Server) patchAppProcess(r *request) error { return s.patchProcess(r) }

func (s *Server) scaleAppProcess(r *request) error { return s.scaleProcess(r) }

func (s *Server) appProcessStats(r *request) error { return s.processStats(r) }

// terminateProcessInstance is DELETE /v3/processes/:guid/instances/:index.
func (s *Server) terminateProcessInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	pa, err := s.findProcessByGUID(r, r.params[0])
	if err != nil {
		return err
	}
	return s.terminateInstance(r, pa, r.params[1])
}

// terminateAppProcessInstance is DELETE
// /v3/apps/:guid/processes/:type/instances/:index.
func (s *Server) terminateAppProcessInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	pa, err := s.findAppProcess(r, r.params[0], r.params[1])
	if err != nil {
		return err
	}
	return s.terminateInstance(r, pa, r.params[2])
}

// patchProcess updates command, health check and metadata
// (cc:app/messages/process_update_message.rb, app/actions/process_update.rb).
func (s *Server) patchProcess(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "command", "health_check", "readiness_health_check", "metadata")
	if err != nil {
		return err
	}
	cmd, err := o.str("command", "Command")
	if err != nil {
		return err
	}
	if cmd != nil && (len(*cmd) < 1 || len(*cmd) > 4096) {
		return errUnprocessable("Command must be between 1 and 4096 characters")
	}
	hc, err := parseHealthCheck(o)
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	pa, err := s.findProcess(r)
	if err != nil {
		return err
	}
	if err := pa.roles.writeErr(); err != nil {
		return err
	}
	p := pa.proc
	if o.has("command") {
		p.Command = cmd // null resets to the detected command
	}
	if hc != nil {
		if hc.typ != nil {
			if *hc.typ != "http" {
				p.HealthCheckEndpoint = nil
			}
			p.HealthCheckType = *hc.typ
		}
		if hc.setTimeout {
			p.HealthCheckTimeout = hc.timeout
		}
		if hc.setInvocation {
			p.HealthCheckInvocationTimeout = hc.invocation
		}
		if hc.setInterval {
			p.HealthCheckInterval = hc.interval
		}
		if hc.setEndpoint {
			p.HealthCheckEndpoint = hc.endpoint
		}
		if p.HealthCheckType != "http" && p.HealthCheckEndpoint != nil {
			return errUnprocessable(`Health check type must be "http" to set a health check HTTP endpoint`)
		}
	}
	if md != nil {
		p.Labels, p.Annotations = apply(p.Labels, md.labels), apply(p.Annotations, md.annotations)
	}
	p.UpdatedAt = s.store.Now()
	// The version changes when what a running instance does changes.
	if pa.app.State == "STARTED" && (o.has("command") || hc != nil) {
		p.Version = uuid.NewString()
	}
	ev := s.appEvent(r, "audit.app.process.update", pa.app, pa.space,
		map[string]any{"process_guid": p.GUID, "process_type": p.Type, "request": censored(o, "command")})
	if err := s.store.UpdateProcess(r.ctx, p, ev); err != nil {
		return storeErr(err, "Process")
	}
	if err := s.placeProcess(r.ctx, pa.app, p); err != nil {
		return errInternal(err)
	}
	pa.proc = p
	return r.reply(200, s.presentOne(r, pa))
}

type healthCheck struct {
	typ                                                 *string
	timeout, invocation, interval                       *int64
	endpoint                                            *string
	setTimeout, setInvocation, setInterval, setEndpoint bool
}

func parseHealthCheck(o object) (*healthCheck, error) {
	h, err := o.sub("health_check", "Health check")
	if h == nil || err != nil {
		return nil, err
	}
	if err := h.only("type", "data"); err != nil {
		return nil, err
	}
	hc := &healthCheck{}
	if hc.typ, err = h.str("type", "Health check type"); err != nil {
		return nil, err
	}
	if hc.typ != nil && *hc.typ != "port" && *hc.typ != "process" && *hc.typ != "http" {
		return nil, errUnprocessable(`Health check type must be "port", "process", or "http"`)
	}
	data, err := h.sub("data", "Health check data")
	if err != nil || data == nil {
		return hc, err
	}
	if err := data.only("timeout", "invocation_timeout", "interval", "endpoint"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key, label string
		dst        **int64
		set        *bool
	}{
		// CC names them after the message's attributes (health_check_timeout, …).
		{"timeout", "Health check timeout", &hc.timeout, &hc.setTimeout},
		{"invocation_timeout", "Health check invocation timeout", &hc.invocation, &hc.setInvocation},
		{"interval", "Health check interval", &hc.interval, &hc.setInterval},
	} {
		if !data.has(f.key) {
			continue
		}
		*f.set = true
		n, err := data.integer(f.key, f.label)
		if err != nil {
			return nil, err
		}
		if n != nil && *n < 1 {
			return nil, errUnprocessable(f.label + " must be greater than or equal to 1")
		}
		if n != nil && *n > 1<<31-1 {
			return nil, errUnprocessable(f.label + " must be less than or equal to 2147483647")
		}
		*f.dst = n
	}
	if data.has("endpoint") {
		hc.setEndpoint = true
		if hc.endpoint, err = data.str("endpoint", "Health check endpoint"); err != nil {
			return nil, err
		}
		if hc.endpoint != nil {
			u, err := url.Parse(*hc.endpoint)
			if err != nil || !strings.HasPrefix(*hc.endpoint, "/") || u.Host != "" {
				return nil, errUnprocessable("Health check endpoint must be a valid URI path")
			}
		}
	}
	return hc, nil
}

// scaleProcess is POST .../actions/scale; CC answers 202 with the process.
func (s *Server) scaleProcess(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "instances", "memory_in_mb", "disk_in_mb", "log_rate_limit_in_bytes_per_second")
	if err != nil {
		return err
	}
	fields := []struct {
		key, label string
		min        int64
		why        string
		val        *int64
	}{
		{key: "instances", label: "Instances", min: 0, why: "must be greater than or equal to 0"},
		{key: "memory_in_mb", label: "Memory in mb", min: 1, why: "must be greater than 0"},
		{key: "disk_in_mb", label: "Disk in mb", min: 1, why: "must be greater than 0"},
		{key: "log_rate_limit_in_bytes_per_second", label: "Log rate limit in bytes per second", min: -1, why: "must be greater than or equal to -1"},
	}
	for i := range fields {
		f := &fields[i]
		n, err := o.integer(f.key, f.label)
		if err != nil {
			return err
		}
		if n != nil && *n < f.min {
			return errUnprocessable(f.label + " " + f.why)
		}
		if n != nil && *n > 1<<31-1 {
			return errUnprocessable(f.label + " must be less than or equal to 2147483647")
		}
		f.val = n
	}
	pa, err := s.findProcess(r)
	if err != nil {
		return err
	}
	if err := pa.roles.writeErr(); err != nil {
		return err
	}
	if err := s.requireFlag(r, "app_scaling"); err != nil {
		return err
	}
	p := pa.proc
	targets := []*int64{&p.Instances, &p.MemoryMB, &p.DiskMB, &p.LogRateLimit}
	req := map[string]int64{}
	for i, f := range fields {
		if f.val != nil {
			*targets[i] = *f.val
			req[f.key] = *f.val
		}
	}
	if err := s.scaleQuotaErr(r.ctx, pa, p); err != nil {
		return err
	}
	if pa.app.State == "STARTED" && (fields[1].val != nil || fields[2].val != nil) {
		p.Version = uuid.NewString()
	}
	p.UpdatedAt = s.store.Now()
	data, _ := json.Marshal(req)
	ev := s.appEvent(r, "audit.app.process.scale", pa.app, pa.space,
		map[string]any{"process_guid": p.GUID, "process_type": p.Type, "request": json.RawMessage(data)})
	if err := s.store.UpdateProcess(r.ctx, p, ev); err != nil {
		return storeErr(err, "Process")
	}
	// Diego starts the new instances and stops the extra ones at once.
	if err := s.placeProcess(r.ctx, pa.app, p); err != nil {
		return errInternal(err)
	}
	pa.proc = p
	return r.reply(202, s.presentOne(r, pa))
}
