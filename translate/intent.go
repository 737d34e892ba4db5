package translate

import (
	"encoding/json"
	"strings"
)

// The intents of v2 writes that take several v3 calls. A gateway killed
// between two of them leaves the change half made, so each write first
// records, in the v3 app itself, what it is about to do; whichever gateway
// meets the record finishes the write (DESIGN, "Every write path survives
// kill -9").
const (
	// AnnotationCreateIntent holds, on an app made by a v2 create, the part
	// of the create applied after POST /v3/apps (ssh, the web process's
	// command, health check and scale, a docker package, the start) as
	// CreateIntent writes it. The create clears it when done.
	AnnotationCreateIntent = "capibridge.io/create-intent"
	// PendingStartRequested is AnnotationPendingStart's value between a v2
	// start's decision to stage and the build it creates: the start is
	// asked for, its build not yet recorded.
	PendingStartRequested = "requested"
)

// maxAnnotationValue is v3's bound on an annotation value
// (cc:app/messages/validators/metadata_validator_helper.rb, 5000).
const maxAnnotationValue = 5000

// createIntent is the part of a v2 create that the writes after POST
// /v3/apps carry out, with the create's defaults applied. A docker
// password is never kept in it (annotations are shown to every reader of
// the app): DockerPassword says one was given.
type createIntent struct {
	Name                    string  `json:"name"`
	SpaceGUID               string  `json:"space_guid"`
	EnableSSH               *bool   `json:"enable_ssh,omitempty"`
	Command                 *string `json:"command,omitempty"`
	HealthCheckType         *string `json:"health_check_type,omitempty"`
	HealthCheckTimeout      *int64  `json:"health_check_timeout,omitempty"`
	HealthCheckHTTPEndpoint *string `json:"health_check_http_endpoint,omitempty"`
	Instances               *int64  `json:"instances,omitempty"`
	Memory                  *int64  `json:"memory,omitempty"`
	DiskQuota               *int64  `json:"disk_quota,omitempty"`
	LogRateLimit            *int64  `json:"log_rate_limit,omitempty"`
	DockerImage             *string `json:"docker_image,omitempty"`
	DockerUsername          *string `json:"docker_username,omitempty"`
	DockerPassword          bool    `json:"docker_password,omitempty"`
	State                   string  `json:"state"`
}

func intentOf(r AppRequest) createIntent {
	in := createIntent{Name: r.StrippedName(), EnableSSH: r.EnableSSH, Command: r.Command, HealthCheckType: r.HealthCheckType,
		HealthCheckTimeout: r.HealthCheckTimeout, HealthCheckHTTPEndpoint: r.HealthCheckHTTPEndpoint, Instances: r.Instances,
		Memory: r.Memory, DiskQuota: r.DiskQuota, LogRateLimit: r.LogRateLimit, DockerImage: r.DockerImage, State: StateStopped}
	if r.SpaceGUID != nil {
		in.SpaceGUID = *r.SpaceGUID
	}
	if r.State != nil {
		in.State = *r.State
	}
	if raw, ok := r.DockerCredentials["username"]; ok && !isJSONNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			in.DockerUsername = &s
		}
	}
	if raw, ok := r.DockerCredentials["password"]; ok && !isJSONNull(raw) {
		in.DockerPassword = true
	}
	return in
}

// CreateIntent is the AnnotationCreateIntent value of a parsed v2 create,
// or "" when it is larger than an annotation may be (the create then runs
// without a record, as before).
func CreateIntent(r AppRequest) string {
	b, err := marshal(intentOf(r))
	if err != nil || len(b) > maxAnnotationValue {
		return ""
	}
	return string(b)
}

// SameCreate reports whether the recorded intent is the one the create r
// would record: the client's retry of a create whose gateway died.
func SameCreate(intent string, r AppRequest) bool {
	want := CreateIntent(r)
	return want != "" && strings.TrimSpace(intent) == want
}

// ParseCreateIntent reads an AnnotationCreateIntent value back into the
// request whose post-create writes it records. needsSecret is true when the
// create gave a docker password, which the record does not keep: such a
// create cannot be finished from the record alone.
func ParseCreateIntent(intent string) (r AppRequest, needsSecret bool, err error) {
	var in createIntent
	if err := json.Unmarshal([]byte(intent), &in); err != nil {
		return AppRequest{}, false, err
	}
	r = AppRequest{Name: &in.Name, SpaceGUID: &in.SpaceGUID, EnableSSH: in.EnableSSH, Command: in.Command,
		HealthCheckType: in.HealthCheckType, HealthCheckTimeout: in.HealthCheckTimeout, HealthCheckHTTPEndpoint: in.HealthCheckHTTPEndpoint,
		Instances: in.Instances, Memory: in.Memory, DiskQuota: in.DiskQuota, LogRateLimit: in.LogRateLimit, DockerImage: in.DockerImage,
		State: &in.State, DockerCredentials: map[string]json.RawMessage{}}
	if in.DockerUsername != nil {
		u, _ := marshal(*in.DockerUsername)
		r.DockerCredentials["username"] = u
	}
	return r, in.DockerPassword, nil
}

// ClearCreateIntentBody is the PATCH /v3/apps/:guid body that removes the
// record of a finished create.
func ClearCreateIntentBody() ([]byte, error) {
	return marshal(v3AppPatchBody{Metadata: &v3MetadataBody{Annotations: map[string]*string{AnnotationCreateIntent: nil}}})
}
