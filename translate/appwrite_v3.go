package translate

import (
	"bytes"
	"encoding/json"
	"slices"
)

// The v3 request bodies of v2 app writes (MAPPING §2.2, §2.3, §2.4). v3
// parses only JSON bodies, so the caller sends them as application/json.

// Patch is one v3 write of a v2 update: Do applies the request, Undo puts
// back what Do changed. A nil Do means there is nothing to write.
type Patch struct {
	Do, Undo []byte
}

type v3AppCreateBody struct {
	Name          string `json:"name"`
	Relationships struct {
		Space V3ToOne `json:"space"`
	} `json:"relationships"`
	EnvironmentVariables map[string]json.RawMessage `json:"environment_variables"`
	Lifecycle            v3LifecycleBody            `json:"lifecycle"`
	Metadata             *v3MetadataBody            `json:"metadata,omitempty"`
}

type v3AppPatchBody struct {
	Name      *string          `json:"name,omitempty"`
	Lifecycle *v3LifecycleBody `json:"lifecycle,omitempty"`
	Metadata  *v3MetadataBody  `json:"metadata,omitempty"`
}

type v3LifecycleBody struct {
	Type string `json:"type"`
	// Data is v3BuildpackData, or {} for docker.
	Data json.RawMessage `json:"data"`
}

type v3BuildpackData struct {
	Buildpacks *[]string `json:"buildpacks,omitempty"`
	// Stack is a name, or null for the default stack; absent keeps it.
	Stack json.RawMessage `json:"stack,omitempty"`
}

type v3MetadataBody struct {
	// Annotations maps keys to values; null deletes a key.
	Annotations map[string]*string `json:"annotations"`
}

// AppCreateBody is the POST /v3/apps body of a v2 create (MAPPING §2.2
// step 5): a docker_image makes a docker app (CC checks it before buildpack,
// V2::AppCreate#create_lifecycle); otherwise a buildpack app whose
// buildpack "" or none is autodetect, on stackName, or on the default stack
// when stackName is "" (CC falls back to Stack.default for an unknown
// stack_guid). v2-only fields go to capibridge.io/ annotations.
func AppCreateBody(r AppRequest, stackName string) ([]byte, error) {
	var b v3AppCreateBody
	b.Name = r.StrippedName()
	if r.SpaceGUID != nil {
		b.Relationships.Space.Data = &V3GUIDRef{GUID: *r.SpaceGUID}
	}
	b.EnvironmentVariables = map[string]json.RawMessage{}
	for k, v := range r.EnvironmentJSON {
		if !isJSONNull(v) {
			b.EnvironmentVariables[k] = v
		}
	}
	if r.DockerImage != nil {
		b.Lifecycle = v3LifecycleBody{Type: "docker", Data: json.RawMessage(`{}`)}
	} else {
		bps := buildpackList(r.Buildpack)
		data := v3BuildpackData{Buildpacks: &bps}
		if stackName != "" {
			data.Stack = jsonString(stackName)
		}
		raw, err := marshal(data)
		if err != nil {
			return nil, err
		}
		b.Lifecycle = v3LifecycleBody{Type: "buildpack", Data: raw}
	}
	ann := map[string]*string{}
	for k, v := range annotationChanges(r) {
		if v != nil {
			ann[k] = v
		}
	}
	// The rest of the create is recorded before it is begun, in the app
	// the create makes (intent.go).
	if in := CreateIntent(r); in != "" {
		ann[AnnotationCreateIntent] = &in
	}
	if len(ann) > 0 {
		b.Metadata = &v3MetadataBody{Annotations: ann}
	}
	return marshal(b)
}

// buildpackList is v2's Array(buildpack.presence): "" or none is autodetect.
func buildpackList(bp *string) []string {
	if bp == nil || *bp == "" {
		return []string{}
	}
	return []string{*bp}
}

// annotationChanges maps the v2-only fields the request sets to their
// annotations (DESIGN: v2-only state lives in the backing store): a value
// to write, or nil to delete the key, where absence reads back as v2's
// default (false, null, or the process's own health check type).
func annotationChanges(r AppRequest) map[string]*string {
	out := map[string]*string{}
	flag := func(key string, v *bool) {
		if v == nil {
			return
		}
		if *v {
			t := "true"
			out[key] = &t
		} else {
			out[key] = nil
		}
	}
	flag(AnnotationProduction, r.Production)
	flag(AnnotationConsole, r.Console)
	if r.Debug != nil {
		// ProcessModel#debug= stores "none" as nil.
		if *r.Debug == "" || *r.Debug == "none" {
			out[AnnotationDebug] = nil
		} else {
			d := *r.Debug
			out[AnnotationDebug] = &d
		}
	}
	if r.HealthCheckType != nil {
		if *r.HealthCheckType == "none" {
			n := "none"
			out[AnnotationHealthCheckType] = &n
		} else {
			out[AnnotationHealthCheckType] = nil
		}
	}
	return out
}

// PlanAppPatch plans the PATCH /v3/apps/:guid of a v2 update (MAPPING §2.3
// steps 6 and 7): the name, the buildpack lifecycle, and the annotations of
// v2-only fields, each only where it differs from cur. stackName is nil
// when the request has no stack_guid, and "" when its stack_guid names no
// stack, which v2 stores as nil: the default stack. clearPendingStart
// removes the record of a pending start (a v2 stop, MAPPING §2.4). Undo
// puts back cur's values of what Do changes.
func PlanAppPatch(r AppRequest, cur V3App, stackName *string, clearPendingStart bool) (Patch, error) {
	var do, undo v3AppPatchBody
	changed := false
	if r.Name != nil && r.StrippedName() != cur.Name {
		name, old := r.StrippedName(), cur.Name
		do.Name, undo.Name = &name, &old
		changed = true
	}
	if cur.Lifecycle.Type != "docker" && (r.Buildpack != nil || stackName != nil) {
		var d, u v3BuildpackData
		if r.Buildpack != nil {
			want := buildpackList(r.Buildpack)
			if !slices.Equal(want, cur.Lifecycle.Data.Buildpacks) {
				old := slices.Clone(cur.Lifecycle.Data.Buildpacks)
				if old == nil {
					old = []string{}
				}
				d.Buildpacks, u.Buildpacks = &want, &old
			}
		}
		if stackName != nil && *stackName != cur.Lifecycle.Data.Stack {
			d.Stack = json.RawMessage("null")
			if *stackName != "" {
				d.Stack = jsonString(*stackName)
			}
			u.Stack = json.RawMessage("null")
			if cur.Lifecycle.Data.Stack != "" {
				u.Stack = jsonString(cur.Lifecycle.Data.Stack)
			}
		}
		if d.Buildpacks != nil || d.Stack != nil {
			dr, err := marshal(d)
			if err != nil {
				return Patch{}, err
			}
			ur, err := marshal(u)
			if err != nil {
				return Patch{}, err
			}
			do.Lifecycle = &v3LifecycleBody{Type: "buildpack", Data: dr}
			undo.Lifecycle = &v3LifecycleBody{Type: "buildpack", Data: ur}
			changed = true
		}
	}
	ann := annotationChanges(r)
	if clearPendingStart {
		ann[AnnotationPendingStart] = nil
	}
	doAnn, undoAnn := map[string]*string{}, map[string]*string{}
	for k, v := range ann {
		old, had := cur.Metadata.Annotations[k]
		if v == nil && !had || v != nil && had && *v == old {
			continue
		}
		doAnn[k] = v
		if had {
			undoAnn[k] = &old
		} else {
			undoAnn[k] = nil
		}
	}
	if len(doAnn) > 0 {
		do.Metadata, undo.Metadata = &v3MetadataBody{Annotations: doAnn}, &v3MetadataBody{Annotations: undoAnn}
		changed = true
	}
	if !changed {
		return Patch{}, nil
	}
	return marshalPatch(do, undo)
}

// PlanEnvPatch plans the PATCH /v3/apps/:guid/environment_variables that
// makes cur into want. v2's environment_json replaces the whole map while
// v3 merges (MAPPING §2.3 step 6), so keys that disappear are sent as null.
// Only keys that change are sent. v3 takes only string values in this PATCH
// (UpdateEnvironmentVariablesMessage), where v2 took any JSON value, so a
// non-string value is sent as its JSON text: what the app sees in its
// environment either way. Undo restores cur's values of the changed keys.
func PlanEnvPatch(cur, want map[string]json.RawMessage) (Patch, error) {
	do, undo := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	null := json.RawMessage("null")
	for k, v := range want {
		if isJSONNull(v) {
			continue // v3 keeps no null values: a null reads as absent
		}
		old, had := cur[k]
		if had && equalJSON(old, v) {
			continue
		}
		do[k] = stringValue(v)
		undo[k] = null
		if had {
			undo[k] = stringValue(old)
		}
	}
	for k, old := range cur {
		if v, keep := want[k]; keep && !isJSONNull(v) {
			continue
		}
		do[k] = null
		undo[k] = stringValue(old)
	}
	if len(do) == 0 {
		return Patch{}, nil
	}
	type envBody struct {
		Var map[string]json.RawMessage `json:"var"`
	}
	return marshalPatch(envBody{do}, envBody{undo})
}

// stringValue is v as a JSON string: itself when it is one, else its
// compact JSON text.
func stringValue(v json.RawMessage) json.RawMessage {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		return v
	}
	var c bytes.Buffer
	if json.Compact(&c, v) != nil {
		c.Reset()
		c.Write(v)
	}
	return jsonString(c.String())
}

func equalJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

type v3ProcessBody struct {
	// Command is a string, or null to go back to the detected command.
	Command     json.RawMessage    `json:"command,omitempty"`
	HealthCheck *v3HealthCheckBody `json:"health_check,omitempty"`
}

type v3HealthCheckBody struct {
	Type string                 `json:"type"`
	Data *v3HealthCheckDataBody `json:"data,omitempty"`
}

type v3HealthCheckDataBody struct {
	Timeout  json.RawMessage `json:"timeout,omitempty"`
	Endpoint json.RawMessage `json:"endpoint,omitempty"`
}

// PlanProcessPatch plans the PATCH /v3/processes/:guid of the web process
// (MAPPING §2.2 step 7): command ("" resets it to the detected one, as v2's
// command.presence did) and the health check (v2 "none" is v3 "process"),
// each only where it differs from cur. current is the app's current droplet,
// which tells a specified command from the detected one v3 shows. v3 holds
// an http endpoint only on an http check, so an endpoint for another type is
// not written. Undo restores cur.
func PlanProcessPatch(r AppRequest, cur V3Process, current *V3Droplet) (Patch, error) {
	var do, undo v3ProcessBody
	changed := false
	if r.Command != nil {
		oldCmd := userCommand(cur.Command, current)
		if *r.Command == "" && oldCmd != nil || *r.Command != "" && (oldCmd == nil || *oldCmd != *r.Command) {
			do.Command = json.RawMessage("null")
			if *r.Command != "" {
				do.Command = jsonString(*r.Command)
			}
			undo.Command = json.RawMessage("null")
			if oldCmd != nil {
				undo.Command = jsonString(*oldCmd)
			}
			changed = true
		}
	}
	curType := cur.HealthCheck.Type
	newType := curType
	if r.HealthCheckType != nil {
		newType = V3HealthCheckType(*r.HealthCheckType)
	}
	var data v3HealthCheckDataBody
	if r.HealthCheckTimeout != nil && (cur.HealthCheck.Data.Timeout == nil || *cur.HealthCheck.Data.Timeout != *r.HealthCheckTimeout) {
		data.Timeout = json.RawMessage(jsonInt(*r.HealthCheckTimeout))
	}
	if newType == "http" && r.HealthCheckHTTPEndpoint != nil {
		curEndpoint := cur.HealthCheck.Data.Endpoint
		if curType != "http" || curEndpoint == nil || *curEndpoint != *r.HealthCheckHTTPEndpoint {
			data.Endpoint = jsonString(*r.HealthCheckHTTPEndpoint)
		}
	}
	if newType != curType || data.Timeout != nil || data.Endpoint != nil {
		do.HealthCheck = &v3HealthCheckBody{Type: newType}
		if data.Timeout != nil || data.Endpoint != nil {
			do.HealthCheck.Data = &data
		}
		var old v3HealthCheckDataBody
		if data.Timeout != nil {
			old.Timeout = json.RawMessage("null")
			if t := cur.HealthCheck.Data.Timeout; t != nil {
				old.Timeout = json.RawMessage(jsonInt(*t))
			}
		}
		if curType == "http" && (data.Endpoint != nil || newType != "http") {
			old.Endpoint = json.RawMessage("null")
			if e := cur.HealthCheck.Data.Endpoint; e != nil {
				old.Endpoint = jsonString(*e)
			}
		}
		undo.HealthCheck = &v3HealthCheckBody{Type: curType}
		if old.Timeout != nil || old.Endpoint != nil {
			undo.HealthCheck.Data = &old
		}
		changed = true
	}
	if !changed {
		return Patch{}, nil
	}
	return marshalPatch(do, undo)
}

type v3ScaleBody struct {
	Instances    *int64 `json:"instances,omitempty"`
	MemoryInMB   *int64 `json:"memory_in_mb,omitempty"`
	DiskInMB     *int64 `json:"disk_in_mb,omitempty"`
	LogRateLimit *int64 `json:"log_rate_limit_in_bytes_per_second,omitempty"`
}

// PlanScale plans the POST /v3/processes/:guid/actions/scale of the web
// process: instances, memory, disk_quota and log_rate_limit where they
// differ from cur. Undo scales back to cur.
func PlanScale(r AppRequest, cur V3Process) (Patch, error) {
	var do, undo v3ScaleBody
	instances := int64(cur.Instances)
	changed := false
	for _, f := range []struct {
		want     *int64
		have     *int64
		dst, old **int64
	}{
		{r.Instances, &instances, &do.Instances, &undo.Instances},
		{r.Memory, &cur.MemoryInMB, &do.MemoryInMB, &undo.MemoryInMB},
		{r.DiskQuota, &cur.DiskInMB, &do.DiskInMB, &undo.DiskInMB},
		{r.LogRateLimit, &cur.LogRateLimitPerSec, &do.LogRateLimit, &undo.LogRateLimit},
	} {
		if f.want != nil && *f.want != *f.have {
			w, h := *f.want, *f.have
			*f.dst, *f.old = &w, &h
			changed = true
		}
	}
	if !changed {
		return Patch{}, nil
	}
	return marshalPatch(do, undo)
}

type v3PackageBody struct {
	Type          string `json:"type"`
	Relationships struct {
		App V3ToOne `json:"app"`
	} `json:"relationships"`
	Data struct {
		Image    string          `json:"image"`
		Username json.RawMessage `json:"username,omitempty"`
		Password json.RawMessage `json:"password,omitempty"`
	} `json:"data"`
}

// DockerPackageBody is the POST /v3/packages body of a docker image with the
// request's credentials, as V2::AppCreate writes it (MAPPING §2.2 step 8).
func DockerPackageBody(appGUID, image string, r AppRequest) ([]byte, error) {
	var b v3PackageBody
	b.Type = "docker"
	b.Relationships.App.Data = &V3GUIDRef{GUID: appGUID}
	b.Data.Image = image
	for key, dst := range map[string]*json.RawMessage{"username": &b.Data.Username, "password": &b.Data.Password} {
		if v, ok := r.DockerCredentials[key]; ok && !isJSONNull(v) {
			*dst = v
		}
	}
	return marshal(b)
}

// BuildBody is the POST /v3/builds body that stages a package with the web
// process's memory and disk, as V2::AppStage does (MAPPING §2.4).
func BuildBody(packageGUID string, memoryMB, diskMB int64) ([]byte, error) {
	return marshal(struct {
		Package         V3GUIDRef `json:"package"`
		StagingMemoryMB int64     `json:"staging_memory_in_mb"`
		StagingDiskInMB int64     `json:"staging_disk_in_mb"`
	}{V3GUIDRef{GUID: packageGUID}, memoryMB, diskMB})
}

// PendingStartBody is the PATCH /v3/apps/:guid body that records a pending
// v2 start as the build's guid (AnnotationPendingStart), or, for "",
// removes the record.
func PendingStartBody(buildGUID string) ([]byte, error) {
	var v *string
	if buildGUID != "" {
		v = &buildGUID
	}
	return marshal(v3AppPatchBody{Metadata: &v3MetadataBody{Annotations: map[string]*string{AnnotationPendingStart: v}}})
}

// CurrentDropletBody is the PATCH /v3/apps/:guid/relationships/current_droplet body.
func CurrentDropletBody(dropletGUID string) ([]byte, error) {
	return marshal(V3ToOne{Data: &V3GUIDRef{GUID: dropletGUID}})
}

// SSHBody is the PATCH /v3/apps/:guid/features/ssh body.
func SSHBody(enabled bool) ([]byte, error) {
	return marshal(struct {
		Enabled bool `json:"enabled"`
	}{enabled})
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func marshalPatch(do, undo any) (Patch, error) {
	d, err := marshal(do)
	if err != nil {
		return Patch{}, err
	}
	u, err := marshal(undo)
	if err != nil {
		return Patch{}, err
	}
	return Patch{Do: d, Undo: u}, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := marshal(s)
	return b
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
