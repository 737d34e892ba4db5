package backend

import (
	"encoding/json"
	"time"

	"capibridge/backend/store"
)

// The JSON shapes of the v3 resources, field order as in
// shared/reference/v3 (CC's presenters under app/presenters/v3).

type link struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

type metadataJSON struct {
	Labels      store.Metadata `json:"labels"`
	Annotations store.Metadata `json:"annotations"`
}

type guidJSON struct {
	GUID *string `json:"guid"`
}

type toOne struct {
	Data *guidJSON `json:"data"`
}

func one(guid string) toOne { return toOne{Data: &guidJSON{GUID: &guid}} }

type paginationJSON struct {
	TotalResults int   `json:"total_results"`
	TotalPages   int   `json:"total_pages"`
	First        *link `json:"first"`
	Last         *link `json:"last"`
	Next         *link `json:"next"`
	Previous     *link `json:"previous"`
}

type includedJSON struct {
	// omitzero: a resource asked for is listed even when empty, as CC does.
	Spaces        []spaceJSON `json:"spaces,omitzero"`
	Organizations []orgJSON   `json:"organizations,omitzero"`
}

// timestamp renders unix seconds as CC does: ISO 8601, UTC, whole seconds.
func timestamp(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02T15:04:05Z") }

func meta(labels, annotations store.Metadata) metadataJSON {
	if labels == nil {
		labels = store.Metadata{}
	}
	if annotations == nil {
		annotations = store.Metadata{}
	}
	return metadataJSON{Labels: labels, Annotations: annotations}
}

type appJSON struct {
	GUID          string        `json:"guid"`
	Name          string        `json:"name"`
	State         string        `json:"state"`
	CreatedAt     string        `json:"created_at"`
	UpdatedAt     string        `json:"updated_at"`
	Lifecycle     lifecycleJSON `json:"lifecycle"`
	Relationships struct {
		Space          toOne `json:"space"`
		CurrentDroplet toOne `json:"current_droplet"`
	} `json:"relationships"`
	Links struct {
		Self                 link `json:"self"`
		Space                link `json:"space"`
		Processes            link `json:"processes"`
		Packages             link `json:"packages"`
		EnvironmentVariables link `json:"environment_variables"`
		CurrentDroplet       link `json:"current_droplet"`
		Droplets             link `json:"droplets"`
		Tasks                link `json:"tasks"`
		Start                link `json:"start"`
		Stop                 link `json:"stop"`
		Revisions            link `json:"revisions"`
		DeployedRevisions    link `json:"deployed_revisions"`
		Features             link `json:"features"`
	} `json:"links"`
	Metadata metadataJSON `json:"metadata"`
}

type lifecycleJSON struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

type buildpackData struct {
	Buildpacks []string `json:"buildpacks"`
	Stack      *string  `json:"stack"`
}

type emptyObject struct{}

func presentApp(base string, a store.App) appJSON {
	var j appJSON
	j.GUID, j.Name, j.State = a.GUID, a.Name, a.State
	j.CreatedAt, j.UpdatedAt = timestamp(a.CreatedAt), timestamp(a.UpdatedAt)
	j.Lifecycle.Type = a.LifecycleType
	if a.LifecycleType == "docker" {
		j.Lifecycle.Data = emptyObject{}
	} else {
		j.Lifecycle.Data = buildpackData{Buildpacks: a.Buildpacks, Stack: a.Stack}
	}
	j.Relationships.Space = one(a.SpaceGUID)
	j.Relationships.CurrentDroplet = toOne{Data: &guidJSON{GUID: a.DropletGUID}}
	self := base + "/v3/apps/" + a.GUID
	l := &j.Links
	l.Self = link{Href: self}
	l.Space = link{Href: base + "/v3/spaces/" + a.SpaceGUID}
	l.Processes = link{Href: self + "/processes"}
	l.Packages = link{Href: self + "/packages"}
	l.EnvironmentVariables = link{Href: self + "/environment_variables"}
	l.CurrentDroplet = link{Href: self + "/droplets/current"}
	l.Droplets = link{Href: self + "/droplets"}
	l.Tasks = link{Href: self + "/tasks"}
	l.Start = link{Href: self + "/actions/start", Method: "POST"}
	l.Stop = link{Href: self + "/actions/stop", Method: "POST"}
	l.Revisions = link{Href: self + "/revisions"}
	l.DeployedRevisions = link{Href: self + "/revisions/deployed"}
	l.Features = link{Href: self + "/features"}
	j.Metadata = meta(a.Labels, a.Annotations)
	return j
}

type processJSON struct {
	GUID                 string          `json:"guid"`
	Type                 string          `json:"type"`
	Command              *string         `json:"command"`
	User                 string          `json:"user"`
	Instances            int64           `json:"instances"`
	MemoryInMB           int64           `json:"memory_in_mb"`
	DiskInMB             int64           `json:"disk_in_mb"`
	LogRateLimit         int64           `json:"log_rate_limit_in_bytes_per_second"`
	HealthCheck          healthCheckJSON `json:"health_check"`
	ReadinessHealthCheck struct {
		Type string `json:"type"`
		Data struct {
			InvocationTimeout *int64 `json:"invocation_timeout"`
			Interval          *int64 `json:"interval"`
		} `json:"data"`
	} `json:"readiness_health_check"`
	// ProcessInstances is there with embed=process_instances only.
	ProcessInstances *[]processInstanceJSON `json:"process_instances,omitempty"`
	Relationships    struct {
		App      toOne  `json:"app"`
		Revision *toOne `json:"revision"`
	} `json:"relationships"`
	Metadata  metadataJSON `json:"metadata"`
	CreatedAt string       `json:"created_at"`
	UpdatedAt string       `json:"updated_at"`
	Version   string       `json:"version"`
	Links     struct {
		Self             link `json:"self"`
		Scale            link `json:"scale"`
		App              link `json:"app"`
		Space            link `json:"space"`
		Stats            link `json:"stats"`
		ProcessInstances link `json:"process_instances"`
	} `json:"links"`
}

type healthCheckJSON struct {
	Type string `json:"type"`
	Data struct {
		Timeout           *int64  `json:"timeout"`
		InvocationTimeout *int64  `json:"invocation_timeout"`
		Interval          *int64  `json:"interval"`
		Endpoint          *string `json:"endpoint,omitempty"`
	} `json:"data"`
}

// The texts CC puts in place of secrets (cc:app/presenters/v3/base_presenter.rb).
const (
	redactedMessage     = "[PRIVATE DATA HIDDEN]"
	redactedListMessage = "[PRIVATE DATA HIDDEN IN LISTS]"
)

// presentProcess renders a process. redacted replaces the command (CC shows
// the specified or detected command only to readers of secrets, and never
// in lists); "" shows it.
func presentProcess(base string, p store.Process, redacted string) processJSON {
	var j processJSON
	j.GUID, j.Type, j.User = p.GUID, p.Type, "vcap"
	j.Command = p.Command
	if redacted != "" {
		j.Command = &redacted
	}
	j.Instances, j.MemoryInMB, j.DiskInMB, j.LogRateLimit = p.Instances, p.MemoryMB, p.DiskMB, p.LogRateLimit
	j.HealthCheck.Type = p.HealthCheckType
	j.HealthCheck.Data.Timeout = p.HealthCheckTimeout
	j.HealthCheck.Data.InvocationTimeout = p.HealthCheckInvocationTimeout
	j.HealthCheck.Data.Interval = p.HealthCheckInterval
	if p.HealthCheckType == "http" {
		j.HealthCheck.Data.Endpoint = p.HealthCheckEndpoint
		if j.HealthCheck.Data.Endpoint == nil {
			root := "/"
			j.HealthCheck.Data.Endpoint = &root
		}
	}
	j.ReadinessHealthCheck.Type = "process"
	j.Relationships.App = one(p.AppGUID)
	j.Metadata = meta(p.Labels, p.Annotations)
	j.CreatedAt, j.UpdatedAt, j.Version = timestamp(p.CreatedAt), timestamp(p.UpdatedAt), p.Version
	self := base + "/v3/processes/" + p.GUID
	j.Links.Self = link{Href: self}
	j.Links.Scale = link{Href: self + "/actions/scale", Method: "POST"}
	j.Links.App = link{Href: base + "/v3/apps/" + p.AppGUID}
	j.Links.Space = link{Href: base + "/v3/spaces/" + p.SpaceGUID}
	j.Links.Stats = link{Href: self + "/stats"}
	j.Links.ProcessInstances = link{Href: self + "/process_instances"}
	return j
}

type spaceJSON struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Suspended     bool   `json:"suspended"`
	Relationships struct {
		Organization toOne `json:"organization"`
		Quota        toOne `json:"quota"`
	} `json:"relationships"`
	Links struct {
		Self          link `json:"self"`
		Features      link `json:"features"`
		Organization  link `json:"organization"`
		ApplyManifest link `json:"apply_manifest"`
		// Quota is there when the space has a space quota.
		Quota *link `json:"quota,omitempty"`
	} `json:"links"`
	Metadata metadataJSON `json:"metadata"`
}

// presentSpace renders a space; suspended mirrors its organization, as CC's
// space presenter does.
func presentSpace(base string, s store.Space, suspended bool) spaceJSON {
	var j spaceJSON
	j.GUID, j.Name, j.Suspended = s.GUID, s.Name, suspended
	j.CreatedAt, j.UpdatedAt = timestamp(s.CreatedAt), timestamp(s.UpdatedAt)
	j.Relationships.Organization = one(s.OrgGUID)
	if s.QuotaGUID != "" {
		j.Relationships.Quota = one(s.QuotaGUID)
	}
	self := base + "/v3/spaces/" + s.GUID
	j.Links.Self = link{Href: self}
	j.Links.Features = link{Href: self + "/features"}
	j.Links.Organization = link{Href: base + "/v3/organizations/" + s.OrgGUID}
	j.Links.ApplyManifest = link{Href: self + "/actions/apply_manifest", Method: "POST"}
	if s.QuotaGUID != "" {
		j.Links.Quota = &link{Href: base + "/v3/space_quotas/" + s.QuotaGUID}
	}
	j.Metadata = meta(s.Labels, s.Annotations)
	return j
}

type orgJSON struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Suspended     bool   `json:"suspended"`
	Relationships struct {
		Quota toOne `json:"quota"`
	} `json:"relationships"`
	Links struct {
		Self          link `json:"self"`
		Domains       link `json:"domains"`
		DefaultDomain link `json:"default_domain"`
		Quota         link `json:"quota"`
	} `json:"links"`
	Metadata metadataJSON `json:"metadata"`
}

func presentOrg(base string, o store.Org) orgJSON {
	var j orgJSON
	j.GUID, j.Name, j.Suspended = o.GUID, o.Name, o.Suspended
	j.CreatedAt, j.UpdatedAt = timestamp(o.CreatedAt), timestamp(o.UpdatedAt)
	j.Relationships.Quota = one(o.QuotaGUID)
	self := base + "/v3/organizations/" + o.GUID
	j.Links.Self = link{Href: self}
	j.Links.Domains = link{Href: self + "/domains"}
	j.Links.DefaultDomain = link{Href: self + "/domains/default"}
	j.Links.Quota = link{Href: base + "/v3/organization_quotas/" + o.QuotaGUID}
	j.Metadata = meta(o.Labels, o.Annotations)
	return j
}

type stackJSON struct {
	GUID             string       `json:"guid"`
	CreatedAt        string       `json:"created_at"`
	UpdatedAt        string       `json:"updated_at"`
	Name             string       `json:"name"`
	Description      string       `json:"description"`
	State            string       `json:"state"`
	StateReason      *string      `json:"state_reason"`
	BuildRootfsImage string       `json:"build_rootfs_image"`
	RunRootfsImage   string       `json:"run_rootfs_image"`
	Default          bool         `json:"default"`
	Metadata         metadataJSON `json:"metadata"`
	Links            struct {
		Self link `json:"self"`
	} `json:"links"`
}

func presentStack(base string, s store.Stack) stackJSON {
	j := stackJSON{GUID: s.GUID, CreatedAt: timestamp(s.CreatedAt), UpdatedAt: timestamp(s.UpdatedAt), Name: s.Name,
		Description: s.Description, State: s.State, BuildRootfsImage: s.Name, RunRootfsImage: s.Name, Default: s.Default,
		Metadata: meta(s.Labels, s.Annotations)}
	j.Links.Self = link{Href: base + "/v3/stacks/" + s.GUID}
	return j
}

type jobJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Operation string          `json:"operation"`
	State     string          `json:"state"`
	Links     jobLinks        `json:"links"`
	Errors    json.RawMessage `json:"errors"`
	Warnings  []string        `json:"warnings"`
}

func presentJob(base string, j store.Job) jobJSON {
	out := jobJSON{GUID: j.GUID, CreatedAt: timestamp(j.CreatedAt), UpdatedAt: timestamp(j.UpdatedAt),
		Operation: j.Operation, State: j.State, Errors: j.Errors, Warnings: []string{}}
	if len(out.Errors) == 0 {
		out.Errors = json.RawMessage("[]")
	}
	out.Links.Self = link{Href: base + "/v3/jobs/" + j.GUID}
	return out
}

type eventJSON struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Type      string `json:"type"`
	Actor     struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"actor"`
	Target struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"target"`
	Data         json.RawMessage `json:"data"`
	Space        *guidJSON       `json:"space"`
	Organization *guidJSON       `json:"organization"`
	Links        struct {
		Self link `json:"self"`
	} `json:"links"`
}

func presentEvent(base string, e store.Event) eventJSON {
	j := eventJSON{GUID: e.GUID, CreatedAt: timestamp(e.CreatedAt), UpdatedAt: timestamp(e.CreatedAt), Type: e.Type, Data: e.Data}
	j.Actor.GUID, j.Actor.Type, j.Actor.Name = e.Actor.GUID, e.Actor.Type, e.Actor.Name
	j.Target.GUID, j.Target.Type, j.Target.Name = e.TargetGUID, e.TargetType, e.TargetName
	if e.SpaceGUID != "" {
		g := e.SpaceGUID
		j.Space = &guidJSON{GUID: &g}
	}
	if e.OrgGUID != "" {
		g := e.OrgGUID
		j.Organization = &guidJSON{GUID: &g}
	}
	j.Links.Self = link{Href: base + "/v3/audit_events/" + e.GUID}
	return j
}

type featureJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// appFeatures are the app features CC knows, in its order
// (cc:app/controllers/v3/app_features_controller.rb).
var appFeatures = []struct{ name, description string }{
	{"ssh", "Enable SSHing into the app."},
	{"revisions", "Enable versioning of an application"},
	{"service-binding-k8s", "Enable k8s service bindings for the app"},
	{"file-based-vcap-services", "Enable file-based VCAP service bindings for the app"},
}

func featureFlag(a *store.App, name string) *bool {
	switch name {
	case "ssh":
		return &a.SSHEnabled
	case "revisions":
		return &a.RevisionsEnabled
	case "service-binding-k8s":
		return &a.K8sBindings
	case "file-based-vcap-services":
		return &a.FileVCAP
	}
	return nil
}
