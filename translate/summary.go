package translate

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// V3ServiceInstance is a v3 service instance (GET /v3/service_instances/:guid).
type V3ServiceInstance struct {
	GUID            string           `json:"guid"`
	Name            string           `json:"name"`
	Type            string           `json:"type"` // "managed" or "user-provided"
	DashboardURL    *string          `json:"dashboard_url"`
	LastOperation   *V3LastOperation `json:"last_operation"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
	Tags            []string         `json:"tags"`
	SyslogDrainURL  *string          `json:"syslog_drain_url"`
	RouteServiceURL *string          `json:"route_service_url"`
	MaintenanceInfo json.RawMessage  `json:"maintenance_info"`
	Metadata        V3ObjectMetadata `json:"metadata"`
	Relationships   struct {
		ServicePlan V3ToOne `json:"service_plan"`
		Space       V3ToOne `json:"space"`
	} `json:"relationships"`
}

// ServiceSummary is a service instance with the number of apps bound to it.
type ServiceSummary struct {
	Instance      V3ServiceInstance
	BoundAppCount int
	// Plan, Offering and BrokerName name a managed instance's plan, its
	// offering and broker (nil and "" when v3 did not show them).
	Plan       *V3ServicePlan
	Offering   *V3ServiceOffering
	BrokerName string
}

// V2ProcessHash is ProcessModel#to_hash as the summaries merge it, from
// production to ports (cc:app/models/runtime/process_model.rb
// export_attributes; shared/reference/v2/app_summary.current-shape.json).
// It differs from the app entity: no docker_credentials, and ports is the
// raw column, null for apps v3 made.
type V2ProcessHash struct {
	Production               bool          `json:"production"`
	SpaceGUID                string        `json:"space_guid"`
	StackGUID                string        `json:"stack_guid"`
	Buildpack                *string       `json:"buildpack"`
	DetectedBuildpack        *string       `json:"detected_buildpack"`
	DetectedBuildpackGUID    *string       `json:"detected_buildpack_guid"`
	EnvironmentJSON          V2Environment `json:"environment_json"`
	Memory                   int64         `json:"memory"`
	Instances                int           `json:"instances"`
	DiskQuota                int64         `json:"disk_quota"`
	LogRateLimit             int64         `json:"log_rate_limit"`
	State                    string        `json:"state"`
	Version                  string        `json:"version"`
	Command                  *string       `json:"command"`
	Console                  bool          `json:"console"`
	Debug                    *string       `json:"debug"`
	StagingTaskID            *string       `json:"staging_task_id"`
	PackageState             string        `json:"package_state"`
	HealthCheckType          string        `json:"health_check_type"`
	HealthCheckTimeout       *int64        `json:"health_check_timeout"`
	HealthCheckHTTPEndpoint  *string       `json:"health_check_http_endpoint"`
	StagingFailedReason      *string       `json:"staging_failed_reason"`
	StagingFailedDescription *string       `json:"staging_failed_description"`
	Diego                    bool          `json:"diego"`
	DockerImage              *string       `json:"docker_image"`
	PackageUpdatedAt         *string       `json:"package_updated_at"`
	DetectedStartCommand     string        `json:"detected_start_command"`
	EnableSSH                bool          `json:"enable_ssh"`
	Ports                    *[]int        `json:"ports"`
}

// processHash takes the summary fields from the app entity. environment_json
// follows v3's permissions (redacted for readers without env access),
// where CC's app summary showed it to any reader: a deliberate deviation
// (MAPPING §6, "Summary specifics").
func processHash(b AppBundle) V2ProcessHash {
	e := AppEntity(b)
	return V2ProcessHash{
		Production: e.Production, SpaceGUID: e.SpaceGUID, StackGUID: e.StackGUID, Buildpack: e.Buildpack,
		DetectedBuildpack: e.DetectedBuildpack, DetectedBuildpackGUID: e.DetectedBuildpackGUID, EnvironmentJSON: e.EnvironmentJSON,
		Memory: e.Memory, Instances: e.Instances, DiskQuota: e.DiskQuota, LogRateLimit: e.LogRateLimit, State: e.State,
		Version: e.Version, Command: e.Command, Console: e.Console, Debug: e.Debug, StagingTaskID: e.StagingTaskID,
		PackageState: e.PackageState, HealthCheckType: e.HealthCheckType, HealthCheckTimeout: e.HealthCheckTimeout,
		HealthCheckHTTPEndpoint: e.HealthCheckHTTPEndpoint, StagingFailedReason: e.StagingFailedReason,
		StagingFailedDescription: e.StagingFailedDescription, Diego: e.Diego, DockerImage: e.DockerImage,
		PackageUpdatedAt: e.PackageUpdatedAt, DetectedStartCommand: e.DetectedStartCommand, EnableSSH: e.EnableSSH,
	}
}

// V2RouteSummary is Route#as_summary_json.
type V2RouteSummary struct {
	GUID   string `json:"guid"`
	Host   string `json:"host"`
	Port   *int   `json:"port"`
	Path   string `json:"path"`
	Domain struct {
		GUID string `json:"guid"`
		Name string `json:"name"`
	} `json:"domain"`
}

func routeSummaries(routes []V3Route, domains map[string]*V3Domain) []V2RouteSummary {
	out := make([]V2RouteSummary, 0, len(routes))
	for _, r := range routes {
		s := V2RouteSummary{GUID: r.GUID, Host: r.Host, Port: r.Port, Path: r.Path}
		s.Domain.GUID = r.Relationships.Domain.GUID()
		if d := domains[s.Domain.GUID]; d != nil {
			s.Domain.Name = d.Name
		}
		out = append(out, s)
	}
	return out
}

// routeURI is Route#uri: host.domain, then the path, then ":port".
func routeURI(s V2RouteSummary) string {
	uri := s.Domain.Name
	if s.Host != "" {
		uri = s.Host + "." + uri
	}
	uri += s.Path
	if s.Port != nil {
		uri += ":" + strconv.Itoa(*s.Port)
	}
	return uri
}

// serviceSummaryJSON is ServiceInstance#as_summary_json: a user-provided
// instance has guid, name, bound_app_count and type; a managed one adds
// its operation, dashboard, sharing, broker, maintenance info and plan.
// The plan, offering and broker are read along (v3 does not name them on
// the instance). sharedTo adds shared_to to user-provided instances, as the
// space summary does.
func serviceSummaryJSON(s ServiceSummary, sharedTo bool) (json.RawMessage, error) {
	in := s.Instance
	var buf bytes.Buffer
	if in.Type != "managed" {
		v := struct {
			GUID          string    `json:"guid"`
			Name          string    `json:"name"`
			BoundAppCount int       `json:"bound_app_count"`
			Type          string    `json:"type"`
			SharedTo      *[]string `json:"shared_to,omitempty"`
		}{GUID: in.GUID, Name: in.Name, BoundAppCount: s.BoundAppCount, Type: "user_provided_service_instance"}
		if sharedTo {
			v.SharedTo = &[]string{}
		}
		err := encodeJSON(&buf, &v)
		return buf.Bytes(), err
	}
	type plan struct {
		GUID            string          `json:"guid"`
		Name            string          `json:"name"`
		MaintenanceInfo json.RawMessage `json:"maintenance_info"`
		Service         struct {
			GUID     string  `json:"guid"`
			Label    string  `json:"label"`
			Provider *string `json:"provider"`
			Version  *string `json:"version"`
		} `json:"service"`
	}
	v := struct {
		GUID              string           `json:"guid"`
		Name              string           `json:"name"`
		BoundAppCount     int              `json:"bound_app_count"`
		Type              string           `json:"type"`
		LastOperation     *V2LastOperation `json:"last_operation"`
		DashboardURL      *string          `json:"dashboard_url"`
		SharedFrom        *string          `json:"shared_from"`
		SharedTo          []string         `json:"shared_to"`
		ServiceBrokerName string           `json:"service_broker_name"`
		MaintenanceInfo   json.RawMessage  `json:"maintenance_info"`
		ServicePlan       plan             `json:"service_plan"`
	}{GUID: in.GUID, Name: in.Name, BoundAppCount: s.BoundAppCount, Type: "managed_service_instance", DashboardURL: in.DashboardURL,
		SharedTo: []string{}, ServiceBrokerName: s.BrokerName, MaintenanceInfo: orEmptyObject(in.MaintenanceInfo)}
	v.ServicePlan.GUID = in.Relationships.ServicePlan.GUID()
	v.ServicePlan.MaintenanceInfo = json.RawMessage(`{}`)
	if p := s.Plan; p != nil {
		v.ServicePlan.Name, v.ServicePlan.MaintenanceInfo = p.Name, orEmptyObject(p.MaintenanceInfo)
		v.ServicePlan.Service.GUID = p.Relationships.ServiceOffering.GUID()
	}
	if o := s.Offering; o != nil {
		v.ServicePlan.Service.Label = o.Name
	}
	v.LastOperation = instanceLastOperation(in.LastOperation)
	err := encodeJSON(&buf, &v)
	return buf.Bytes(), err
}

// domainSummaryJSON is a domain of available_domains: a private one shows
// its owning org, a shared one its internal flag and router group.
func domainSummaryJSON(d V3Domain) (json.RawMessage, error) {
	var buf bytes.Buffer
	if org := d.Relationships.Organization.GUID(); org != "" {
		v := struct {
			GUID                   string `json:"guid"`
			Name                   string `json:"name"`
			OwningOrganizationGUID string `json:"owning_organization_guid"`
		}{d.GUID, d.Name, org}
		err := encodeJSON(&buf, &v)
		return buf.Bytes(), err
	}
	v := struct {
		GUID            string  `json:"guid"`
		Name            string  `json:"name"`
		Internal        bool    `json:"internal"`
		RouterGroupGUID *string `json:"router_group_guid"`
		RouterGroupType *string `json:"router_group_type"`
	}{GUID: d.GUID, Name: d.Name, Internal: d.Internal}
	if d.RouterGroup != nil {
		v.RouterGroupGUID = &d.RouterGroup.GUID
		// The type lives in the routing API, which v3 does not proxy; tcp
		// is the only kind of router group CF has.
		v.RouterGroupType = strPtr("tcp")
	}
	err := encodeJSON(&buf, &v)
	return buf.Bytes(), err
}

// AppSummaryInput is what GET /v2/apps/:guid/summary needs beyond the app.
type AppSummaryInput struct {
	// Routes are the app's web routes; Domains every domain it may use, by
	// guid, and AvailableDomains those of its org (private ones first, then
	// shared ones).
	Routes           []V3Route
	Domains          map[string]*V3Domain
	AvailableDomains []V3Domain
	// RunningInstances counts RUNNING and STARTING instances: 0 for a
	// stopped app, -1 when the stats could not be read.
	RunningInstances int
	Services         []ServiceSummary
}

// AppSummary renders GET /v2/apps/:guid/summary: a flat object, guid, name,
// routes, running_instances, services and available_domains first, then
// the process hash (cc:app/controllers/runtime/app_summaries_controller.rb).
func AppSummary(b AppBundle, in AppSummaryInput) ([]byte, error) {
	v := struct {
		GUID             string            `json:"guid"`
		Name             string            `json:"name"`
		Routes           []V2RouteSummary  `json:"routes"`
		RunningInstances int               `json:"running_instances"`
		Services         []json.RawMessage `json:"services"`
		AvailableDomains []json.RawMessage `json:"available_domains"`
		V2ProcessHash
	}{GUID: b.App.GUID, Name: b.App.Name, Routes: routeSummaries(in.Routes, in.Domains), RunningInstances: in.RunningInstances,
		Services: []json.RawMessage{}, AvailableDomains: []json.RawMessage{}, V2ProcessHash: processHash(b)}
	for _, s := range in.Services {
		raw, err := serviceSummaryJSON(s, false)
		if err != nil {
			return nil, err
		}
		v.Services = append(v.Services, raw)
	}
	for _, d := range in.AvailableDomains {
		raw, err := domainSummaryJSON(d)
		if err != nil {
			return nil, err
		}
		v.AvailableDomains = append(v.AvailableDomains, raw)
	}
	var buf bytes.Buffer
	err := encodeJSON(&buf, &v)
	return buf.Bytes(), err
}

// SpaceSummaryApp is one app of a space summary.
type SpaceSummaryApp struct {
	Bundle           AppBundle
	Routes           []V3Route
	RunningInstances int
	// ServiceNames are the names of the instances bound to the app.
	ServiceNames []string
}

// SpaceSummary renders GET /v2/spaces/:guid/summary: the space's guid and
// name, its apps (guid, urls, routes, service_count, service_names,
// running_instances, then the process hash with the name) and its service
// instances (cc:app/controllers/runtime/space_summaries_controller.rb). CC
// pretty-prints this body; the gateway writes it compact, the same JSON.
func SpaceSummary(space V3Space, apps []SpaceSummaryApp, domains map[string]*V3Domain, services []ServiceSummary) ([]byte, error) {
	type app struct {
		GUID             string           `json:"guid"`
		URLs             []string         `json:"urls"`
		Routes           []V2RouteSummary `json:"routes"`
		ServiceCount     int              `json:"service_count"`
		ServiceNames     []string         `json:"service_names"`
		RunningInstances int              `json:"running_instances"`
		Name             string           `json:"name"`
		V2ProcessHash
	}
	v := struct {
		GUID     string            `json:"guid"`
		Name     string            `json:"name"`
		Apps     []app             `json:"apps"`
		Services []json.RawMessage `json:"services"`
	}{GUID: space.GUID, Name: space.Name, Apps: []app{}, Services: []json.RawMessage{}}
	for _, a := range apps {
		routes := routeSummaries(a.Routes, domains)
		urls := make([]string, len(routes))
		for i, r := range routes {
			urls[i] = routeURI(r)
		}
		names := a.ServiceNames
		if names == nil {
			names = []string{}
		}
		v.Apps = append(v.Apps, app{GUID: a.Bundle.App.GUID, URLs: urls, Routes: routes, ServiceCount: len(names), ServiceNames: names,
			RunningInstances: a.RunningInstances, Name: a.Bundle.App.Name, V2ProcessHash: processHash(a.Bundle)})
	}
	for _, s := range services {
		raw, err := serviceSummaryJSON(s, true)
		if err != nil {
			return nil, err
		}
		v.Services = append(v.Services, raw)
	}
	var buf bytes.Buffer
	err := encodeJSON(&buf, &v)
	return buf.Bytes(), err
}

// V3ProcessStats is one instance of GET /v3/processes/:guid/stats.
type V3ProcessStats struct {
	Type   string  `json:"type"`
	Index  int     `json:"index"`
	State  string  `json:"state"`
	Uptime float64 `json:"uptime"`
}

// RunningInstances is the instances reporter's count of starting and
// running instances with an index below the desired count.
func RunningInstances(stats []V3ProcessStats, instances int) int {
	n := 0
	for _, s := range stats {
		if (s.State == "RUNNING" || s.State == "STARTING") && s.Index < instances {
			n++
		}
	}
	return n
}

// orEmptyObject is raw, or {} when it is empty or null.
func orEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	return raw
}
