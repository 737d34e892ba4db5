package translate

import (
	"encoding/json"
	"strings"
	"time"
)

// The v3 structs below hold only what the v2 translation reads. They decode
// the Cloud Controller v3 bodies with encoding/json and ignore every other
// field; shapes are those of shared/reference/v3/.

// V3App is a v3 app resource (GET /v3/apps/:guid).
type V3App struct {
	GUID          string           `json:"guid"`
	Name          string           `json:"name"`
	State         string           `json:"state"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	Lifecycle     V3Lifecycle      `json:"lifecycle"`
	Relationships V3AppRelations   `json:"relationships"`
	Metadata      V3ObjectMetadata `json:"metadata"`
}

// V3Lifecycle is an app's lifecycle: type "buildpack", "cnb" or "docker".
// Docker apps carry an empty data object.
type V3Lifecycle struct {
	Type string          `json:"type"`
	Data V3LifecycleData `json:"data"`
}

// V3LifecycleData is the buildpack (or cnb) lifecycle data of an app.
// Buildpack URLs are already obfuscated by v3 (user:pass becomes ***:***,
// BuildpackLifecycleDataModel#to_hash), as v2 did.
type V3LifecycleData struct {
	Buildpacks []string `json:"buildpacks"`
	Stack      string   `json:"stack"`
}

// V3AppRelations holds the to-one relationships of an app.
type V3AppRelations struct {
	Space          V3ToOne `json:"space"`
	CurrentDroplet V3ToOne `json:"current_droplet"`
	// DropletNamed says whether the app resource has current_droplet at
	// all: today's Cloud Controller always shows it (null data without a
	// droplet, cc:app/presenters/v3/app_presenter.rb), older ones did not.
	DropletNamed bool `json:"-"`
}

// UnmarshalJSON reads the relationships and whether current_droplet is
// among them.
func (r *V3AppRelations) UnmarshalJSON(b []byte) error {
	var raw struct {
		Space          V3ToOne  `json:"space"`
		CurrentDroplet *V3ToOne `json:"current_droplet"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = V3AppRelations{Space: raw.Space, DropletNamed: raw.CurrentDroplet != nil}
	if raw.CurrentDroplet != nil {
		r.CurrentDroplet = *raw.CurrentDroplet
	}
	return nil
}

// V3ToOne is a v3 to-one relationship: {"data":{"guid":…}} or {"data":null}.
type V3ToOne struct {
	Data *V3GUIDRef `json:"data"`
}

// GUID returns the related guid, or "" when the relationship is empty.
func (r V3ToOne) GUID() string {
	if r.Data == nil {
		return ""
	}
	return r.Data.GUID
}

// V3GUIDRef is the {"guid": …} object v3 uses for references.
type V3GUIDRef struct {
	GUID string `json:"guid"`
}

// V3ObjectMetadata is a resource's annotations. The gateway keeps
// v2-only state in annotations with the capibridge.io/ prefix (DESIGN,
// "v2-only state lives in the backing store").
type V3ObjectMetadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// V3Process is a v3 process (GET /v3/apps/:guid/processes/web). In today's
// CC a v2 app is the newest web process of a v3 app (MAPPING, "Key idea").
type V3Process struct {
	GUID string `json:"guid"`
	Type string `json:"type"`
	// Command is v3's specified_or_detected_command; v3 redacts it for
	// readers without secrets access (MAPPING §1.2 command). It may be null.
	Command            *string       `json:"command"`
	Instances          int           `json:"instances"`
	MemoryInMB         int64         `json:"memory_in_mb"`
	DiskInMB           int64         `json:"disk_in_mb"`
	LogRateLimitPerSec int64         `json:"log_rate_limit_in_bytes_per_second"`
	HealthCheck        V3HealthCheck `json:"health_check"`
	Version            string        `json:"version"`
	CreatedAt          time.Time     `json:"created_at"`
	UpdatedAt          time.Time     `json:"updated_at"`
	// Relationships names the app the resource belongs to.
	Relationships V3AppOwner `json:"relationships"`
}

// V3HealthCheck is a process's liveness health check.
type V3HealthCheck struct {
	Type string            `json:"type"`
	Data V3HealthCheckData `json:"data"`
}

// V3HealthCheckData holds the health check settings. Endpoint is present
// only when the type is http.
type V3HealthCheckData struct {
	Timeout  *int64  `json:"timeout"`
	Endpoint *string `json:"endpoint"`
}

// V3Package is a v3 package (GET /v3/apps/:guid/packages, newest first).
type V3Package struct {
	GUID      string        `json:"guid"`
	Type      string        `json:"type"`
	State     string        `json:"state"`
	Data      V3PackageData `json:"data"`
	CreatedAt time.Time     `json:"created_at"`
	// Relationships names the app the resource belongs to.
	Relationships V3AppOwner `json:"relationships"`
}

// V3PackageData is the union of the bits and docker package data; only the
// docker fields are read. v3 already shows the password as "***".
type V3PackageData struct {
	Image    *string `json:"image"`
	Username *string `json:"username"`
}

// V3Build is a v3 build (GET /v3/apps/:guid/builds, newest first).
type V3Build struct {
	GUID  string `json:"guid"`
	State string `json:"state"`
	// Error is "<error_id> - <error_description>" (BuildPresenter#error).
	Error     *string   `json:"error"`
	CreatedAt time.Time `json:"created_at"`
	// Relationships names the app the resource belongs to.
	Relationships V3AppOwner `json:"relationships"`
}

// V3Droplet is a v3 droplet (GET /v3/apps/:guid/droplets/current, or the
// newest of GET /v3/apps/:guid/droplets).
type V3Droplet struct {
	GUID  string `json:"guid"`
	State string `json:"state"`
	// Error is "<error_id> - <error_description>" (DropletModel#error).
	Error *string `json:"error"`
	// ExecutionMetadata is the docker image config for docker droplets
	// (a JSON string) and usually "" for buildpack droplets.
	ExecutionMetadata string `json:"execution_metadata"`
	// ProcessTypes is redacted in lists ({"redacted_message": …}), so a
	// current droplet must come from a single GET.
	ProcessTypes map[string]string    `json:"process_types"`
	Buildpacks   []V3DropletBuildpack `json:"buildpacks"`
	Stack        *string              `json:"stack"`
	CreatedAt    time.Time            `json:"created_at"`
	UpdatedAt    time.Time            `json:"updated_at"`
	Links        V3DropletLinks       `json:"links"`
	// Relationships names the app the resource belongs to.
	Relationships V3AppOwner `json:"relationships"`
}

// V3DropletBuildpack is one entry of a droplet's buildpacks. DetectOutput is
// set only on the buildpack that detected (DropletPresenter#droplet_buildpack_info).
type V3DropletBuildpack struct {
	Name         string  `json:"name"`
	DetectOutput *string `json:"detect_output"`
}

// V3DropletLinks holds the droplet links the translation reads.
type V3DropletLinks struct {
	Package *V3Href `json:"package"`
}

// V3Href is a v3 link.
type V3Href struct {
	Href string `json:"href"`
}

// PackageGUID returns the guid of the package the droplet was staged from,
// taken from links.package.href (MAPPING §1.4), or "" when there is none
// (an uploaded droplet).
func (d *V3Droplet) PackageGUID() string {
	if d == nil || d.Links.Package == nil {
		return ""
	}
	h := strings.TrimRight(d.Links.Package.Href, "/")
	return h[strings.LastIndexByte(h, '/')+1:]
}

// V3AppOwner is the relationships object of a resource that belongs to an
// app (a process, package, build or droplet).
type V3AppOwner struct {
	App V3ToOne `json:"app"`
}

// V3Route is a v3 route (GET /v3/routes/:guid) with its destinations.
type V3Route struct {
	GUID string `json:"guid"`
	Host string `json:"host"`
	Path string `json:"path"`
	// Port is set for tcp routes only.
	Port          *int            `json:"port"`
	URL           string          `json:"url"`
	Destinations  []V3Destination `json:"destinations"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Relationships struct {
		Space  V3ToOne `json:"space"`
		Domain V3ToOne `json:"domain"`
	} `json:"relationships"`
	// Domain is the route's domain when the list included it
	// (include=domain), nil otherwise.
	Domain *V3Domain `json:"-"`
}

// V3Domain is a v3 domain (GET /v3/domains/:guid). A domain with an
// owning organization is private, else shared.
type V3Domain struct {
	GUID        string     `json:"guid"`
	Name        string     `json:"name"`
	Internal    bool       `json:"internal"`
	RouterGroup *V3GUIDRef `json:"router_group"`
	// SupportedProtocols is ["http"] or ["tcp"] (v3 asks the routing API).
	SupportedProtocols []string  `json:"supported_protocols"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Relationships      struct {
		Organization V3ToOne `json:"organization"`
		// SharedOrganizations are the orgs a private domain is shared
		// with, those the reader can see.
		SharedOrganizations struct {
			Data []V3GUIDRef `json:"data"`
		} `json:"shared_organizations"`
	} `json:"relationships"`
}

// V3Destination is one destination of a route: an app's process on a port.
type V3Destination struct {
	GUID string           `json:"guid"`
	App  V3DestinationApp `json:"app"`
	Port *int             `json:"port"`
	// CreatedAt and UpdatedAt are the route mapping's own times (zero
	// when the Cloud Controller does not show them).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// V3DestinationApp names the app and process a destination points at.
type V3DestinationApp struct {
	GUID    string           `json:"guid"`
	Process V3ProcessTypeRef `json:"process"`
}

// V3ProcessTypeRef is the {"type": …} object of a destination.
type V3ProcessTypeRef struct {
	Type string `json:"type"`
}

// V3AppFeature is an app feature (GET /v3/apps/:guid/features/ssh).
type V3AppFeature struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// V3EnvironmentVariables is GET /v3/apps/:guid/environment_variables. Values
// are kept raw: v2 accepted any JSON value in environment_json.
type V3EnvironmentVariables struct {
	Var map[string]json.RawMessage `json:"var"`
}
