package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Annotation keys under which the gateway keeps v2-only app state in the v3
// app's metadata (DESIGN, "v2-only state lives in the backing store"). v3 has
// no field for any of them (MAPPING §1.2). Values are strings, as v3
// annotations are.
const (
	// AnnotationProduction holds v2's deprecated production flag: "true"
	// reads back as true, anything else (or no annotation) as false.
	AnnotationProduction = "capibridge.io/production"
	// AnnotationConsole holds v2's console flag ("true" or absent); CC reads
	// it as metadata['console'] == true.
	AnnotationConsole = "capibridge.io/console"
	// AnnotationDebug holds v2's debug mode. CC stores "none" as nil
	// (ProcessModel#debug=), so "none" and "" read back as null.
	AnnotationDebug = "capibridge.io/debug"
	// AnnotationHealthCheckType holds "none" when a v2 client asked for
	// health_check_type none, which v3 rejects and the gateway writes as
	// "process" (MAPPING §1.2 health_check_type).
	AnnotationHealthCheckType = "capibridge.io/health-check-type"
	// AnnotationPendingStart marks a v2 start of an app that had no droplet
	// (MAPPING §2.4): its value is the guid of the build the gateway created
	// for it. While it is set the app reads as STARTED, as CC v2 did, also
	// after the build failed ("sticky STARTED"); a v2 stop clears it.
	AnnotationPendingStart = "capibridge.io/pending-start"
)

// Redaction texts of CC (Presenters::Censorship). v3 puts them in place of a
// process command for readers without secrets access, and in lists.
const (
	privateDataHidden        = "[PRIVATE DATA HIDDEN]"
	privateDataHiddenInLists = "[PRIVATE DATA HIDDEN IN LISTS]"
)

// v2TimeFormat is CC's timestamp format: ISO-8601, UTC, second precision
// (ActiveSupport::JSON::Encoding.time_precision = 0; MAPPING §1.1).
const v2TimeFormat = "2006-01-02T15:04:05Z"

// defaultHTTPPort is ProcessModel::DEFAULT_HTTP_PORT, the port of a web
// process that has none (Diego::Protocol::OpenProcessPorts).
const defaultHTTPPort = 8080

// AppBundle is everything v3 says about one app that its v2 entity needs.
// The caller fetches it (MAPPING §1.2 names the calls); translation only reads it.
type AppBundle struct {
	// App is GET /v3/apps/:guid.
	App V3App
	// Web is the app's web process, GET /v3/apps/:guid/processes/web.
	Web V3Process
	// LatestPackage, LatestBuild and LatestDroplet are the newest of each by
	// created_at (order_by=-created_at&per_page=1), nil when there is none.
	LatestPackage *V3Package
	LatestBuild   *V3Build
	LatestDroplet *V3Droplet
	// CurrentDroplet is GET /v3/apps/:guid/droplets/current, nil on 404. It
	// must come from a single GET: lists redact process_types.
	CurrentDroplet *V3Droplet
	// Env is the var object of GET /v3/apps/:guid/environment_variables. A
	// nil map renders as null, an empty one as {}.
	Env map[string]json.RawMessage
	// EnvRedacted is set when that call answered 403; environment_json is then
	// {"redacted_message":"[PRIVATE DATA HIDDEN]"}.
	EnvRedacted bool
	// SSHEnabled is GET /v3/apps/:guid/features/ssh → enabled.
	SSHEnabled bool
	// StackGUID is resolved by the caller: the guid of the stack named by
	// lifecycle.data.stack, or of the default stack for docker apps and
	// unknown names (MAPPING §1.2 stack_guid).
	StackGUID string
	// DetectedBuildpackGUID is optional: v3 does not expose CC's
	// buildpack_receipt_buildpack_guid. A caller that wants it looks up
	// ReceiptBuildpackName in GET /v3/buildpacks (MAPPING §1.2); "" renders null.
	DetectedBuildpackGUID string
	// Routes is GET /v3/apps/:guid/routes; ports derive from the destinations
	// of the web process. It may be empty.
	Routes []V3Route
	// Inline and Inlined are the relations inlined into the entity
	// (inline-relations-depth; MAPPING §1.3); zero inlines nothing.
	Inline  Inline
	Inlined *AppInlined
}

// V2AppResource is a v2 app as CC renders it: metadata, then entity.
type V2AppResource struct {
	Metadata V2AppMetadata `json:"metadata"`
	Entity   V2AppEntity   `json:"entity"`
}

// V2AppMetadata is the metadata of a v2 app. Its times are the web
// process's, not the app's (BasePresenter#metadata_hash gets the process;
// MAPPING §1.1).
type V2AppMetadata struct {
	GUID      string  `json:"guid"`
	URL       string  `json:"url"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

// V2AppEntity is the entity of a v2 app. Field order is the JSON key order
// of today's CC (ProcessModelPresenter#entity_hash, then RelationsPresenter;
// shared/reference/v2/app.current-shape.json), and every pointer renders
// null when nil, as CC's nils do.
type V2AppEntity struct {
	Name                     string              `json:"name"`
	Production               bool                `json:"production"`
	SpaceGUID                string              `json:"space_guid"`
	StackGUID                string              `json:"stack_guid"`
	Buildpack                *string             `json:"buildpack"`
	DetectedBuildpack        *string             `json:"detected_buildpack"`
	DetectedBuildpackGUID    *string             `json:"detected_buildpack_guid"`
	EnvironmentJSON          V2Environment       `json:"environment_json"`
	Memory                   int64               `json:"memory"`
	Instances                int                 `json:"instances"`
	DiskQuota                int64               `json:"disk_quota"`
	LogRateLimit             int64               `json:"log_rate_limit"`
	State                    string              `json:"state"`
	Version                  string              `json:"version"`
	Command                  *string             `json:"command"`
	Console                  bool                `json:"console"`
	Debug                    *string             `json:"debug"`
	StagingTaskID            *string             `json:"staging_task_id"`
	PackageState             string              `json:"package_state"`
	HealthCheckType          string              `json:"health_check_type"`
	HealthCheckTimeout       *int64              `json:"health_check_timeout"`
	HealthCheckHTTPEndpoint  *string             `json:"health_check_http_endpoint"`
	StagingFailedReason      *string             `json:"staging_failed_reason"`
	StagingFailedDescription *string             `json:"staging_failed_description"`
	Diego                    bool                `json:"diego"`
	DockerImage              *string             `json:"docker_image"`
	DockerCredentials        V2DockerCredentials `json:"docker_credentials"`
	PackageUpdatedAt         *string             `json:"package_updated_at"`
	DetectedStartCommand     string              `json:"detected_start_command"`
	EnableSSH                bool                `json:"enable_ssh"`
	Ports                    []int               `json:"ports"`
	SpaceURL                 string              `json:"space_url"`
	Space                    json.RawMessage     `json:"space,omitempty"`
	StackURL                 string              `json:"stack_url"`
	Stack                    json.RawMessage     `json:"stack,omitempty"`
	RoutesURL                string              `json:"routes_url"`
	Routes                   json.RawMessage     `json:"routes,omitempty"`
	EventsURL                string              `json:"events_url"`
	ServiceBindingsURL       string              `json:"service_bindings_url"`
	ServiceBindings          json.RawMessage     `json:"service_bindings,omitempty"`
	RouteMappingsURL         string              `json:"route_mappings_url"`
}

// V2DockerCredentials is the docker_credentials object. Password is "***"
// exactly when Username is non-null (ProcessModelPresenter; MAPPING §6).
type V2DockerCredentials struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// V2Environment is environment_json: the app's variables, null, or CC's
// redaction object for readers who may not read env.
type V2Environment struct {
	Vars     map[string]json.RawMessage
	Redacted bool
}

var redactedEnvJSON = []byte(`{"redacted_message":"` + privateDataHidden + `"}`)

// MarshalJSON renders the redaction object, null for a nil map, or the
// variables. Keys come out sorted: v3 does not give the stored order to a
// Go map, and JSON objects are unordered.
func (e V2Environment) MarshalJSON() ([]byte, error) {
	switch {
	case e.Redacted:
		return redactedEnvJSON, nil
	case e.Vars == nil:
		return []byte("null"), nil
	}
	var buf bytes.Buffer
	if err := encodeJSON(&buf, e.Vars); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppResource renders the v2 app resource for b as CC does:
// {"metadata":{guid,url,created_at,updated_at},"entity":{…}}, compact, with
// no HTML escaping (ObjectRenderer#render_json uses Oj.dump in compat mode).
func AppResource(b AppBundle) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(2048)
	if err := AppendAppResource(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppendAppResource writes the v2 app resource for b to buf, so that a list
// page can render its resources into one buffer.
func AppendAppResource(buf *bytes.Buffer, b AppBundle) error {
	r := V2AppResource{Metadata: AppMetadata(b), Entity: AppEntity(b)}
	if err := inlineApp(&r.Entity, b.Inline, b.Inlined); err != nil {
		return err
	}
	return encodeJSON(buf, &r)
}

// encodeJSON writes v compactly without HTML escaping and without the
// newline json.Encoder appends.
func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1)
	return nil
}

// AppMetadata returns the v2 metadata for b. The guid is the v3 app guid,
// the url is relative (url_for_guid) and the times are the web process's.
func AppMetadata(b AppBundle) V2AppMetadata {
	return V2AppMetadata{
		GUID:      b.App.GUID,
		URL:       "/v2/apps/" + b.App.GUID,
		CreatedAt: formatTime(b.Web.CreatedAt),
		UpdatedAt: timePtr(b.Web.UpdatedAt),
	}
}

// AppEntity returns the v2 app entity for b, field by field as MAPPING §1.2
// says. Relations are url-only (inline-relations-depth 0).
func AppEntity(b AppBundle) V2AppEntity {
	app := &b.App
	guid := app.GUID
	docker := app.Lifecycle.Type == "docker"
	state := AppState(b)
	pkgState := PackageState(b)
	annotations := app.Metadata.Annotations

	e := V2AppEntity{
		Name:                  app.Name,
		Production:            annotations[AnnotationProduction] == "true",
		SpaceGUID:             app.Relationships.Space.GUID(),
		StackGUID:             b.StackGUID,
		DetectedBuildpack:     detectedBuildpack(b.CurrentDroplet),
		DetectedBuildpackGUID: strPtr(b.DetectedBuildpackGUID),
		EnvironmentJSON:       V2Environment{Vars: b.Env, Redacted: b.EnvRedacted},
		Memory:                b.Web.MemoryInMB,
		Instances:             b.Web.Instances,
		DiskQuota:             b.Web.DiskInMB,
		LogRateLimit:          b.Web.LogRateLimitPerSec,
		State:                 state,
		Version:               b.Web.Version,
		Command:               userCommand(b.Web.Command, b.CurrentDroplet),
		Console:               annotations[AnnotationConsole] == "true",
		Debug:                 debugMode(annotations[AnnotationDebug]),
		StagingTaskID:         stagingTaskID(b.LatestBuild, b.LatestDroplet),
		PackageState:          pkgState,
		HealthCheckType:       healthCheckType(b.Web.HealthCheck.Type, annotations[AnnotationHealthCheckType]),
		HealthCheckTimeout:    b.Web.HealthCheck.Data.Timeout,
		Diego:                 true, // ProcessModel#before_validation; v3 ProcessCreate sets it too
		DetectedStartCommand:  detectedStartCommand(b.CurrentDroplet),
		EnableSSH:             b.SSHEnabled,
		Ports:                 appPorts(b, docker, state, pkgState),
		SpaceURL:              "/v2/spaces/" + app.Relationships.Space.GUID(),
		StackURL:              "/v2/stacks/" + b.StackGUID,
		RoutesURL:             "/v2/apps/" + guid + "/routes",
		EventsURL:             "/v2/apps/" + guid + "/events",
		ServiceBindingsURL:    "/v2/apps/" + guid + "/service_bindings",
		RouteMappingsURL:      "/v2/apps/" + guid + "/route_mappings",
	}
	if !docker && len(app.Lifecycle.Data.Buildpacks) > 0 {
		e.Buildpack = strPtr(app.Lifecycle.Data.Buildpacks[0])
	}
	// v3 shows the endpoint only for http checks; CC v2 showed the column
	// whatever the type, but v3 ProcessUpdate nils it on a change away from
	// http, so null is what CC would hold (MAPPING §1.2).
	if b.Web.HealthCheck.Type == "http" {
		e.HealthCheckHTTPEndpoint = b.Web.HealthCheck.Data.Endpoint
	}
	e.StagingFailedReason, e.StagingFailedDescription = stagingFailure(b.LatestBuild, b.LatestDroplet)
	if p := b.LatestPackage; p != nil {
		e.PackageUpdatedAt = timePtr(p.CreatedAt)
		if p.Type == "docker" {
			e.DockerImage = p.Data.Image
			e.DockerCredentials.Username = p.Data.Username
		}
	}
	if e.DockerCredentials.Username != nil {
		e.DockerCredentials.Password = strPtr("***")
	}
	return e
}

// AppState is the v2 state: the v3 app's state (AppStart and AppStop set the
// app and all its processes together), read as STARTED while a v2 start is
// pending (AnnotationPendingStart; MAPPING §2.4).
func AppState(b AppBundle) string {
	if b.App.Metadata.Annotations[AnnotationPendingStart] != "" {
		return "STARTED"
	}
	return b.App.State
}

// ReceiptBuildpackName returns the name of the buildpack that detected the
// droplet (the entry whose detect_output is set), or "" when there is none or
// it is a URL, whose v2 detected_buildpack_guid is null. A caller resolves it
// with GET /v3/buildpacks?names=<name>&stacks=<droplet stack> to fill
// AppBundle.DetectedBuildpackGUID (MAPPING §1.2 detected_buildpack_guid).
func ReceiptBuildpackName(d *V3Droplet) string {
	bp := receiptBuildpack(d)
	if bp == nil || strings.Contains(bp.Name, "://") {
		return ""
	}
	return bp.Name
}

func receiptBuildpack(d *V3Droplet) *V3DropletBuildpack {
	if d == nil {
		return nil
	}
	for i := range d.Buildpacks {
		if d.Buildpacks[i].DetectOutput != nil {
			return &d.Buildpacks[i]
		}
	}
	return nil
}

// detectedBuildpack is CC's desired_droplet.buildpack_receipt_detect_output,
// which v3 shows only on the receipt buildpack.
func detectedBuildpack(d *V3Droplet) *string {
	if bp := receiptBuildpack(d); bp != nil {
		return bp.DetectOutput
	}
	return nil
}

// detectedStartCommand is CC's desired_droplet.process_start_command("web"):
// "" (never null) without a droplet or a web process type.
func detectedStartCommand(d *V3Droplet) string {
	if d == nil {
		return ""
	}
	return d.ProcessTypes["web"]
}

// userCommand approximates CC's process.command.presence, the command the
// user specified. v3 shows specified_or_detected_command instead
// (ProcessPresenter), so a command equal to the droplet's detected one is
// taken as not specified, and so are v3's redaction texts. This is the cheap
// heuristic of MAPPING §1.2; it is wrong only when a user set the detected
// command explicitly (the exact answer needs GET /v3/apps/:guid/manifest).
func userCommand(cmd *string, current *V3Droplet) *string {
	if cmd == nil {
		return nil
	}
	switch c := *cmd; {
	case c == "", c == privateDataHidden, c == privateDataHiddenInLists:
		return nil
	case current != nil && c == current.ProcessTypes["web"]:
		return nil
	}
	return cmd
}

// debugMode is ProcessModel#debug: "none" is stored as nil.
func debugMode(v string) *string {
	if v == "" || v == "none" {
		return nil
	}
	return &v
}

// healthCheckType echoes a v2 "none" remembered in AnnotationHealthCheckType
// while the process still has the "process" check the gateway wrote for it;
// a later change through v3 wins over a stale annotation.
func healthCheckType(v3Type, annotation string) string {
	if annotation == "none" && v3Type == "process" {
		return "none"
	}
	return v3Type
}

// stagingTaskID is latest_build.guid || latest_droplet.guid.
func stagingTaskID(build *V3Build, droplet *V3Droplet) *string {
	if build != nil {
		return &build.GUID
	}
	if droplet != nil {
		return &droplet.GUID
	}
	return nil
}

// stagingFailure returns staging_failed_reason and _description. CC reads
// each field on its own, latest_build.error_id || latest_droplet.error_id
// (ProcessModel#staging_failed_reason), so each falls back separately.
func stagingFailure(build *V3Build, droplet *V3Droplet) (reason, description *string) {
	if build != nil {
		reason, description = splitStagingError(build.Error)
	}
	if droplet != nil && (reason == nil || description == nil) {
		r, d := splitStagingError(droplet.Error)
		if reason == nil {
			reason = r
		}
		if description == nil {
			description = d
		}
	}
	return reason, description
}

// splitStagingError undoes v3's "<error_id> - <error_description>"
// (BuildPresenter#error, DropletModel#error: compact.join(' - ')). Error ids
// have no " - ", so the first one separates. Without a separator the text
// is taken as the description and the reason is null (MAPPING §1.2).
func splitStagingError(e *string) (reason, description *string) {
	if e == nil || *e == "" {
		return nil, nil
	}
	id, desc, ok := strings.Cut(*e, " - ")
	if !ok {
		return nil, e
	}
	return &id, &desc
}

// appPorts follows Diego::Protocol::OpenProcessPorts, which the v2 presenter
// calls (cc:lib/cloud_controller/diego/protocol/open_process_ports.rb): the
// process's ports column, else for docker apps the exposed ports, else [8080]
// for web. The docker branch never falls through to [8080]. v3 has
// no ports field; it keeps the column from route destinations
// (UpdateRouteDestinations#update_processes), so the destinations of the web
// process stand in for it (MAPPING §1.2 ports).
func appPorts(b AppBundle, docker bool, state, pkgState string) []int {
	var ports []int
	for i := range b.Routes {
		for _, d := range b.Routes[i].Destinations {
			if d.Port == nil || d.App.GUID != b.App.GUID || d.App.Process.Type != "web" {
				continue
			}
			if !containsInt(ports, *d.Port) {
				ports = append(ports, *d.Port)
			}
		}
	}
	if len(ports) > 0 {
		return ports
	}
	if docker {
		// ProcessModel#docker_ports: the current droplet's exposed tcp ports,
		// unless the app needs staging (a package, started, not STAGED). CC
		// answers [] here, not [8080], when the image exposes nothing.
		needsStaging := b.LatestPackage != nil && state == "STARTED" && pkgState != "STAGED"
		if needsStaging || b.CurrentDroplet == nil {
			return []int{}
		}
		return dockerPorts(b.CurrentDroplet.ExecutionMetadata)
	}
	return []int{defaultHTTPPort}
}

// dockerExecutionMetadata is the part of a docker droplet's
// execution_metadata that DropletModel#docker_ports reads.
type dockerExecutionMetadata struct {
	Ports []struct {
		Port     int    `json:"Port"`
		Protocol string `json:"Protocol"`
	} `json:"ports"`
}

// dockerPorts is DropletModel#docker_ports: the tcp ports of the image
// config, and none when the metadata does not parse.
func dockerPorts(meta string) []int {
	ports := []int{}
	if meta == "" {
		return ports
	}
	var m dockerExecutionMetadata
	if json.Unmarshal([]byte(meta), &m) != nil {
		return ports
	}
	for _, p := range m.Ports {
		if p.Protocol == "tcp" {
			ports = append(ports, p.Port)
		}
	}
	return ports
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatTime(t time.Time) string { return t.UTC().Format(v2TimeFormat) }

// timePtr formats t, or returns nil (JSON null) for the zero time.
func timePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}
