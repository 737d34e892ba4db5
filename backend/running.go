package backend

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Running: the embedded CF's stand-in for Diego. Every process of a
// STARTED app with a current droplet runs its instances. Nothing runs for
// real: an instance's state follows from when it (re)started, the
// configured startup delay and the server's clock, so that it moves on by
// itself, is the same on every read and survives a restart of the embedded
// CF. The stats are CC's (cc:app/presenters/v3/process_stats_presenter.rb,
// lib/cloud_controller/diego/reporters/instances_stats_reporter.rb), with
// made-up but steady figures.

// crashMarker in an instance's start command declares that it crashes:
// the process command, else the command the droplet detected for its type.
const crashMarker = "capibridge-crash"

// crashSweepInterval is how often a background pass records the crashes
// nobody has looked at, so that audit events appear without a stats read.
const crashSweepInterval = time.Second

// fdsQuota is the file descriptor limit of an instance (CC's
// instance_file_descriptor_limit default).
const fdsQuota = 16384

// The instance states of CC's process stats.
const (
	instanceStarting = "STARTING"
	instanceRunning  = "RUNNING"
	instanceCrashed  = "CRASHED"
	instanceDown     = "DOWN"
)

// cellID is the one Diego cell of the embedded CF, as crash events name it.
var cellID = uuid.NewSHA1(uuid.NameSpaceOID, []byte("capibridge/cell/0")).String()

// instanceView is one instance of a process as observed now.
type instanceView struct {
	index     int64
	state     string
	guid      string
	startedAt int64 // unix ms of its last (re)start
	since     int64 // unix ms since which it is in state
}

// runs reports whether the simulated Diego runs the processes of a.
func runs(a store.App) bool { return a.State == "STARTED" && a.DropletGUID != nil }

// instanceGUID names one start of one instance, so it changes on a restart.
func instanceGUID(processGUID string, in store.Instance) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(processGUID+"/"+strconv.FormatInt(in.Index, 10)+"/"+strconv.FormatInt(in.StartedAt, 10))).String()
}

// observe returns the instances of process p of app a now, placing them
// first when needed, and records the crashes it sees for the first time.
// orgGUID is the app's organization, for crash events.
func (s *Server) observe(ctx context.Context, a store.App, orgGUID string, p store.Process) ([]instanceView, error) {
	out := make([]instanceView, 0, max(p.Instances, 0))
	if !runs(a) {
		for i := int64(0); i < p.Instances; i++ {
			out = append(out, instanceView{index: i, state: instanceDown})
		}
		return out, nil
	}
	now := s.now().UnixMilli()
	ins, err := s.store.PlaceInstances(ctx, p, now)
	if err != nil {
		return nil, err
	}
	crashing, err := s.crashes(ctx, *a.DropletGUID, p)
	if err != nil {
		return nil, err
	}
	delay := s.cfg.StartupDuration.Milliseconds()
	for _, in := range ins {
		v := instanceView{index: in.Index, guid: instanceGUID(p.GUID, in), startedAt: in.StartedAt}
		switch {
		case now-in.StartedAt < delay:
			v.state, v.since = instanceStarting, in.StartedAt
		case crashing:
			v.state, v.since = instanceCrashed, in.StartedAt+delay
			if in.CrashEventGUID == nil {
				if err := s.recordCrash(ctx, a, orgGUID, p, v); err != nil {
					return nil, err
				}
			}
		default:
			v.state, v.since = instanceRunning, in.StartedAt+delay
		}
		out = append(out, v)
	}
	return out, nil
}

// crashes reports whether the instances of p crash: whether their start
// command, the process's own or else the one the droplet detected for the
// process type, holds crashMarker.
func (s *Server) crashes(ctx context.Context, dropletGUID string, p store.Process) (bool, error) {
	if p.Command != nil {
		return strings.Contains(*p.Command, crashMarker), nil
	}
	d, err := s.store.GetDroplet(ctx, store.Viewer{All: true}, dropletGUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return strings.Contains(d.ProcessTypes[p.Type], crashMarker), nil
}

// crashData is the metadata of an audit.app.process.crash event: the crash
// report Diego sends CC (cc:app/controllers/internal/app_crashed_controller.rb,
// ProcessEventRepository.record_crash).
type crashData struct {
	Instance        string `json:"instance"`
	Index           int64  `json:"index"`
	CellID          string `json:"cell_id"`
	ExitStatus      int    `json:"exit_status"`
	ExitDescription string `json:"exit_description"`
	Reason          string `json:"reason"`
	CrashCount      int    `json:"crash_count"`
	CrashTimestamp  int64  `json:"crash_timestamp"`
	Version         string `json:"version"`
}

// recordCrash records the crash of instance v once. The event is dated when
// the instance crashed, whenever it is observed; the process is the actor
// and the app the target, as in CC.
func (s *Server) recordCrash(ctx context.Context, a store.App, orgGUID string, p store.Process, v instanceView) error {
	data, err := json.Marshal(crashData{Instance: v.guid, Index: v.index, CellID: cellID, ExitStatus: 1,
		ExitDescription: "APP/PROC/" + strings.ToUpper(p.Type) + ": Exited with status 1", Reason: instanceCrashed, CrashCount: 1,
		CrashTimestamp: v.since * int64(time.Millisecond), Version: p.Version})
	if err != nil {
		return err
	}
	ev := store.Event{GUID: uuid.NewString(), Type: "audit.app.process.crash", Actor: store.Actor{GUID: p.GUID, Type: "process", Name: p.Type},
		TargetGUID: a.GUID, TargetType: "app", TargetName: a.Name, SpaceGUID: a.SpaceGUID, OrgGUID: orgGUID, Data: data,
		CreatedAt: v.since / 1000}
	_, err = s.store.RecordCrash(ctx, p.GUID, v.index, v.startedAt, ev)
	return err
}

// placeApp brings the placed instances of an app in line with the state
// it was just given: a start places every process's instances now (a
// start or restart gave the processes new versions, so running ones start
// again), a stop removes them.
func (s *Server) placeApp(ctx context.Context, appGUID, state string) error {
	if state != "STARTED" {
		return s.store.RemoveInstances(ctx, appGUID)
	}
	procs, _, err := s.store.ListProcesses(ctx, store.Viewer{All: true}, store.ProcessFilter{AppGUIDs: []string{appGUID}},
		store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	for _, p := range procs {
		if _, err := s.store.PlaceInstances(ctx, p, now); err != nil {
			return err
		}
	}
	return nil
}

// placeProcess places the instances of p after a scale or an update, when
// its app runs: new indexes start, removed ones go, and a new version
// restarts them all.
func (s *Server) placeProcess(ctx context.Context, a store.App, p store.Process) error {
	if !runs(a) {
		return nil
	}
	_, err := s.store.PlaceInstances(ctx, p, s.now().UnixMilli())
	return err
}

// startCrashSweep starts the background pass that records crashes.
func (s *Server) startCrashSweep() {
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		t := time.NewTicker(crashSweepInterval)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				if err := s.sweepCrashes(s.ctx); err != nil && s.ctx.Err() == nil {
					s.log.Error("recording crashes", "err", err)
				}
			}
		}
	}()
}

// sweepCrashes observes every running process whose instances crash, which
// records the crashes not yet recorded.
func (s *Server) sweepCrashes(ctx context.Context) error {
	procs, err := s.store.RunningProcesses(ctx)
	if err != nil {
		return err
	}
	for _, rp := range procs {
		crashing, err := s.crashes(ctx, rp.DropletGUID, rp.Process)
		if err != nil {
			return err
		}
		if !crashing {
			continue
		}
		droplet := rp.DropletGUID
		a := store.App{GUID: rp.Process.AppGUID, Name: rp.AppName, SpaceGUID: rp.Process.SpaceGUID, State: "STARTED", DropletGUID: &droplet}
		if _, err := s.observe(ctx, a, rp.OrgGUID, rp.Process); err != nil {
			return err
		}
	}
	return nil
}

type usageJSON struct {
	Time           string  `json:"time"`
	CPU            float64 `json:"cpu"`
	CPUEntitlement float64 `json:"cpu_entitlement"`
	Mem            int64   `json:"mem"`
	Disk           int64   `json:"disk"`
	LogRate        int64   `json:"log_rate"`
}

type instancePortJSON struct {
	External             int64  `json:"external"`
	Internal             int64  `json:"internal"`
	ExternalTLSProxyPort *int64 `json:"external_tls_proxy_port"`
	InternalTLSProxyPort *int64 `json:"internal_tls_proxy_port"`
}

// instanceStatsJSON is a placed instance, key order as in
// shared/reference/v3/process_stats.json.
type instanceStatsJSON struct {
	Type               string             `json:"type"`
	Index              int64              `json:"index"`
	InstanceGUID       string             `json:"instance_guid"`
	State              string             `json:"state"`
	Routable           bool               `json:"routable"`
	Usage              usageJSON          `json:"usage"`
	Host               string             `json:"host"`
	InstanceInternalIP string             `json:"instance_internal_ip"`
	InstancePorts      []instancePortJSON `json:"instance_ports"`
	Uptime             int64              `json:"uptime"`
	MemQuota           *int64             `json:"mem_quota"`
	DiskQuota          *int64             `json:"disk_quota"`
	FDSQuota           int64              `json:"fds_quota"`
	IsolationSegment   *string            `json:"isolation_segment"`
	LogRateLimit       *int64             `json:"log_rate_limit"`
	Details            *string            `json:"details"`
}

// downStatsJSON is an instance that does not run, which CC presents with
// fewer keys (ProcessStatsPresenter#down_instance_stats_hash).
type downStatsJSON struct {
	Type             string  `json:"type"`
	Index            int64   `json:"index"`
	State            string  `json:"state"`
	Uptime           int64   `json:"uptime"`
	IsolationSegment *string `json:"isolation_segment"`
	Details          *string `json:"details"`
}

// presentStats renders the instances of p observed at now (unix ms).
// A running instance shows its address, ports, quotas and usage; one that
// is starting or crashed has no address or container metrics yet, so CC
// shows empty ones (InstancesStatsReporter#build_info).
func presentStats(p store.Process, views []instanceView, now int64) []any {
	out := make([]any, 0, len(views))
	at := time.UnixMilli(now).UTC().Format(time.RFC3339)
	for _, v := range views {
		if v.state == instanceDown {
			out = append(out, downStatsJSON{Type: p.Type, Index: v.index, State: v.state})
			continue
		}
		j := instanceStatsJSON{Type: p.Type, Index: v.index, InstanceGUID: v.guid, State: v.state, Usage: usageJSON{Time: at},
			InstancePorts: []instancePortJSON{}, Uptime: max(now-v.since, 0) / 1000, FDSQuota: fdsQuota}
		if v.state == instanceRunning {
			fillRunning(&j, p)
		}
		out = append(out, j)
	}
	return out
}

// fillRunning gives a running instance steady, plausible figures: derived
// from its guid, so the same instance shows the same address and ports
// and about the same usage on every read.
func fillRunning(j *instanceStatsJSON, p store.Process) {
	h := fnv.New32a()
	h.Write([]byte(j.InstanceGUID))
	n := int64(h.Sum32())
	memQuota, diskQuota := p.MemoryMB<<20, p.DiskMB<<20
	logLimit := p.LogRateLimit
	j.Routable = true
	j.Host = "127.0.0.1"
	j.InstanceInternalIP = "10.255." + strconv.FormatInt(n>>8%256, 10) + "." + strconv.FormatInt(n%254+1, 10)
	external := 40000 + n%20000
	externalTLS, internalTLS := external+1, int64(61001)
	j.InstancePorts = []instancePortJSON{{External: external, Internal: 8080, ExternalTLSProxyPort: &externalTLS, InternalTLSProxyPort: &internalTLS}}
	j.MemQuota, j.DiskQuota, j.LogRateLimit = &memQuota, &diskQuota, &logLimit
	// A small app: about a fifth of its memory, the size of a droplet on
	// disk, a few thousandths of a CPU that breathe with the uptime.
	cpu := (10 + float64(n%40)) / 10000 * (1 + 0.2*math.Sin(float64(j.Uptime)/7))
	j.Usage.CPU = math.Round(cpu*1e6) / 1e6
	j.Usage.CPUEntitlement = math.Round(cpu*4*1e6) / 1e6
	j.Usage.Mem = min(memQuota*(18+n%12)/100+j.Uptime%60*4096, memQuota)
	j.Usage.Disk = min((64+n%32)<<20, diskQuota)
	j.Usage.LogRate = n % 5 * 64
}

// processStats answers GET /v3/processes/:guid/stats and
// /v3/apps/:guid/processes/:type/stats: any reader of the process.
func (s *Server) processStats(r *request) error {
	// CC reads no query parameter here and refuses none
	// (ProcessesController#stats has no message).
	pa, err := s.findProcess(r)
	if err != nil {
		return err
	}
	views, err := s.observe(r.ctx, pa.app, pa.space.OrgGUID, pa.proc)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, struct {
		Resources []any `json:"resources"`
	}{presentStats(pa.proc, views, s.now().UnixMilli())})
}

// rubyInt reads an integer the way Ruby's String#to_i does: leading digits
// with an optional sign, 0 when there are none, as CC reads :index.
func rubyInt(s string) int64 {
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// terminateInstance restarts one instance (ProcessesController#terminate):
// 204, or 404 Instance past the process's instances. The instance starts
// again at once, as Diego replaces a stopped one.
func (s *Server) terminateInstance(r *request, pa processAccess, index string) error {
	if err := pa.roles.writeErr(); err != nil {
		return err
	}
	idx := rubyInt(index)
	if idx < 0 || idx >= pa.proc.Instances {
		return errNotFound("Instance")
	}
	if err := s.placeProcess(r.ctx, pa.app, pa.proc); err != nil {
		return errInternal(err)
	}
	ev := s.appEvent(r, "audit.app.process.terminate_instance", pa.app, pa.space,
		map[string]any{"process_guid": pa.proc.GUID, "process_type": pa.proc.Type, "process_index": idx})
	if err := s.store.RestartInstance(r.ctx, pa.proc.GUID, idx, s.now().UnixMilli(), ev); err != nil {
		return errInternal(err)
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// deploymentParams are the query keys of GET /v3/deployments
// (cc:app/messages/deployments_list_message.rb).
var deploymentParams = listKeys("app_guids", "states", "status_reasons", "status_values")

// deploymentResource answers GET /v3/deployments and /v3/deployments/:guid.
// The embedded CF starts apps in place and never creates a deployment, so
// the list is empty and every get is 404.
var deploymentResource = &resource[json.RawMessage, struct{}, json.RawMessage]{
	name:   "Deployment",
	path:   "/v3/deployments",
	keys:   deploymentParams,
	orders: timeOrders,
	filter: func(q *params) struct{} {
		q.labels()
		q.times("created_ats")
		q.times("updated_ats")
		return struct{}{}
	},
	list: func(*store.Store, context.Context, store.Viewer, struct{}, store.Page) ([]json.RawMessage, int, error) {
		return nil, 0, nil
	},
	get: func(*store.Store, context.Context, store.Viewer, string) (json.RawMessage, error) {
		return nil, store.ErrNotFound
	},
	present: each(func(_ *request, d json.RawMessage) json.RawMessage { return d }),
}
