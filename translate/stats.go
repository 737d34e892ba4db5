package translate

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// V3InstanceStats is one instance of GET /v3/processes/:guid/stats, with
// what the v2 stats and instances endpoints read of it. A DOWN instance
// carries no usage.
type V3InstanceStats struct {
	Type             string           `json:"type"`
	Index            int              `json:"index"`
	InstanceGUID     string           `json:"instance_guid"`
	State            string           `json:"state"`
	Routable         *bool            `json:"routable"`
	Usage            *V3Usage         `json:"usage"`
	Host             string           `json:"host"`
	InstancePorts    []V3InstancePort `json:"instance_ports"`
	Uptime           int64            `json:"uptime"`
	MemQuota         *int64           `json:"mem_quota"`
	DiskQuota        *int64           `json:"disk_quota"`
	FDsQuota         *int64           `json:"fds_quota"`
	IsolationSegment *string          `json:"isolation_segment"`
	LogRateLimit     *int64           `json:"log_rate_limit"`
	Details          *string          `json:"details"`
}

// V3Usage is an instance's resource usage.
type V3Usage struct {
	Time           json.RawMessage `json:"time"`
	CPU            json.RawMessage `json:"cpu"`
	CPUEntitlement json.RawMessage `json:"cpu_entitlement"`
	Mem            json.RawMessage `json:"mem"`
	Disk           json.RawMessage `json:"disk"`
	LogRate        json.RawMessage `json:"log_rate"`
}

// V3InstancePort is one port mapping of an instance.
type V3InstancePort struct {
	External int `json:"external"`
	Internal int `json:"internal"`
}

// StatsInput is what GET /v2/apps/:guid/stats reads besides the stats:
// the app's name and its web routes' uris.
type StatsInput struct {
	Name string
	URIs []string
}

// v2InstanceStats is one entry of the v2 stats map, keys in the order of
// cc:lib/cloud_controller/diego/reporters/instances_stats_reporter.rb
// (MAPPING §7; net_info is gone).
type v2InstanceStats struct {
	State            string         `json:"state"`
	IsolationSegment *string        `json:"isolation_segment,omitempty"`
	Details          *string        `json:"details,omitempty"`
	Routable         *bool          `json:"routable,omitempty"`
	Stats            *v2StatsDetail `json:"stats,omitempty"`
	Uptime           *int64         `json:"uptime,omitempty"`
}

type v2StatsDetail struct {
	Name         string   `json:"name"`
	URIs         []string `json:"uris"`
	Host         string   `json:"host"`
	InstanceGUID string   `json:"instance_guid"`
	Port         int      `json:"port"`
	Uptime       int64    `json:"uptime"`
	FDsQuota     *int64   `json:"fds_quota"`
	MemQuota     *int64   `json:"mem_quota"`
	DiskQuota    *int64   `json:"disk_quota"`
	LogRateLimit *int64   `json:"log_rate_limit"`
	Usage        v2Usage  `json:"usage"`
}

type v2Usage struct {
	Time           json.RawMessage `json:"time"`
	CPU            json.RawMessage `json:"cpu"`
	CPUEntitlement json.RawMessage `json:"cpu_entitlement"`
	Mem            json.RawMessage `json:"mem"`
	Disk           json.RawMessage `json:"disk"`
	LogRate        json.RawMessage `json:"log_rate"`
}

// AppStats renders GET /v2/apps/:guid/stats from the web process's v3
// stats: one entry per instance index. The port is the external port
// mapped to the app's 8080, else 0; an instance without usage (DOWN) has
// only its state and uptime.
func AppStats(stats []V3InstanceStats, in StatsInput) ([]byte, error) {
	uris := in.URIs
	if uris == nil {
		uris = []string{}
	}
	return indexed(stats, func(s V3InstanceStats) any {
		e := v2InstanceStats{State: s.State, IsolationSegment: s.IsolationSegment, Details: s.Details, Routable: s.Routable}
		if s.Usage == nil {
			up := s.Uptime
			e.Uptime = &up
			return e
		}
		port := 0
		for _, p := range s.InstancePorts {
			if p.Internal == defaultHTTPPort {
				port = p.External
			}
		}
		u := s.Usage
		e.Stats = &v2StatsDetail{Name: in.Name, URIs: uris, Host: s.Host, InstanceGUID: s.InstanceGUID, Port: port, Uptime: s.Uptime,
			FDsQuota: s.FDsQuota, MemQuota: s.MemQuota, DiskQuota: s.DiskQuota, LogRateLimit: s.LogRateLimit,
			Usage: v2Usage{Time: orNull(u.Time), CPU: orNull(u.CPU), CPUEntitlement: orNull(u.CPUEntitlement), Mem: orNull(u.Mem),
				Disk: orNull(u.Disk), LogRate: orNull(u.LogRate)}}
		return e
	})
}

// v2Instance is one entry of GET /v2/apps/:guid/instances (MAPPING §7).
type v2Instance struct {
	State    string   `json:"state"`
	Routable *bool    `json:"routable,omitempty"`
	Uptime   int64    `json:"uptime"`
	Since    *float64 `json:"since,omitempty"`
	Details  *string  `json:"details,omitempty"`
}

// AppInstances renders GET /v2/apps/:guid/instances: state, uptime and
// since (now - uptime, in seconds) per index; a DOWN instance has no since.
func AppInstances(stats []V3InstanceStats, now time.Time) ([]byte, error) {
	return indexed(stats, func(s V3InstanceStats) any {
		e := v2Instance{State: s.State, Routable: s.Routable, Uptime: s.Uptime, Details: s.Details}
		if s.State != "DOWN" {
			since := float64(now.Add(-time.Duration(s.Uptime)*time.Second).UnixNano()) / 1e9
			e.Since = &since
		}
		return e
	})
}

// indexed writes {"<index>": entry, ...} in index order.
func indexed(stats []V3InstanceStats, entry func(V3InstanceStats) any) ([]byte, error) {
	sorted := append([]V3InstanceStats(nil), stats...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, s := range sorted {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('"')
		buf.WriteString(strconv.Itoa(s.Index))
		buf.WriteString(`":`)
		if err := encodeJSON(&buf, entry(s)); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// AppCrashes renders GET /v2/apps/:guid/crashes from the app's v3 crash
// events: [{"instance", "uptime": 0, "since"}], oldest first.
func AppCrashes(events []V3AuditEvent) ([]byte, error) {
	type crash struct {
		Instance string  `json:"instance"`
		Uptime   int     `json:"uptime"`
		Since    float64 `json:"since"`
	}
	out := make([]crash, 0, len(events))
	for _, e := range events {
		var d crashData
		_ = json.Unmarshal(e.Data, &d)
		out = append(out, crash{Instance: d.Instance, Since: float64(e.CreatedAt.UnixNano()) / 1e9})
	}
	var buf bytes.Buffer
	err := encodeJSON(&buf, out)
	return buf.Bytes(), err
}

// RouteURIs returns the uris of routes as v2 names them: host.domain/path
// (:port for tcp routes), the domain's name taken from domains.
func RouteURIs(routes []V3Route, domains map[string]*V3Domain) []string {
	var out []string
	for _, s := range routeSummaries(routes, domains) {
		out = append(out, routeURI(s))
	}
	return out
}
