package translate

import (
	"bytes"
	"encoding/json"
)

// V3AppEnv is GET /v3/apps/:guid/env. Groups other than the
// application's are kept raw.
type V3AppEnv struct {
	StagingEnvJSON       json.RawMessage `json:"staging_env_json"`
	RunningEnvJSON       json.RawMessage `json:"running_env_json"`
	EnvironmentVariables json.RawMessage `json:"environment_variables"`
	SystemEnvJSON        json.RawMessage `json:"system_env_json"`
	ApplicationEnvJSON   struct {
		VCAPApplication *V3VCAPApplication `json:"VCAP_APPLICATION"`
	} `json:"application_env_json"`
}

// V3VCAPApplication is the VCAP_APPLICATION v3 builds from the app.
type V3VCAPApplication struct {
	CFAPI  *string `json:"cf_api"`
	Limits struct {
		FDs *int64 `json:"fds"`
	} `json:"limits"`
	ApplicationName  string          `json:"application_name"`
	ApplicationURIs  []string        `json:"application_uris"`
	Name             string          `json:"name"`
	SpaceName        string          `json:"space_name"`
	SpaceID          string          `json:"space_id"`
	OrganizationID   *string         `json:"organization_id"`
	OrganizationName *string         `json:"organization_name"`
	URIs             []string        `json:"uris"`
	Users            json.RawMessage `json:"users"`
	ApplicationID    string          `json:"application_id"`
}

// V2AppEnv is GET /v2/apps/:guid/env, keys in CC's order (MAPPING §6).
type V2AppEnv struct {
	StagingEnvJSON     json.RawMessage `json:"staging_env_json"`
	RunningEnvJSON     json.RawMessage `json:"running_env_json"`
	EnvironmentJSON    json.RawMessage `json:"environment_json"`
	SystemEnvJSON      json.RawMessage `json:"system_env_json"`
	ApplicationEnvJSON struct {
		VCAPApplication *V2VCAPApplication `json:"VCAP_APPLICATION"`
	} `json:"application_env_json"`
}

// V2VCAPApplication is VCAP_APPLICATION as v2 built it from the web
// process (cc:lib/vcap/vars_builder.rb; shared/reference/v2/app_env.current-shape.json).
type V2VCAPApplication struct {
	CFAPI  *string `json:"cf_api,omitempty"`
	Limits struct {
		FDs  *int64 `json:"fds,omitempty"`
		Mem  int64  `json:"mem"`
		Disk int64  `json:"disk"`
	} `json:"limits"`
	ApplicationName    string          `json:"application_name"`
	ApplicationURIs    []string        `json:"application_uris"`
	Name               string          `json:"name"`
	SpaceName          string          `json:"space_name"`
	SpaceID            string          `json:"space_id"`
	OrganizationID     *string         `json:"organization_id,omitempty"`
	OrganizationName   *string         `json:"organization_name,omitempty"`
	URIs               []string        `json:"uris"`
	Users              json.RawMessage `json:"users"`
	ProcessID          string          `json:"process_id"`
	ProcessType        string          `json:"process_type"`
	ApplicationID      string          `json:"application_id"`
	Version            string          `json:"version"`
	ApplicationVersion string          `json:"application_version"`
}

// AppEnv renders GET /v2/apps/:guid/env from v3's env of the app and its
// web process: VCAP_APPLICATION gains what v2 took from the process
// (limits.mem and .disk, process_id, process_type, version and
// application_version, the web process's version). The uris are v3's, the
// app's routes, where v2 named the web process's.
func AppEnv(env V3AppEnv, web V3Process) ([]byte, error) {
	out := V2AppEnv{
		StagingEnvJSON:  orNull(env.StagingEnvJSON),
		RunningEnvJSON:  orNull(env.RunningEnvJSON),
		EnvironmentJSON: orNull(env.EnvironmentVariables),
		SystemEnvJSON:   orNull(env.SystemEnvJSON),
	}
	if va := env.ApplicationEnvJSON.VCAPApplication; va != nil {
		v := &V2VCAPApplication{
			CFAPI:              va.CFAPI,
			ApplicationName:    va.ApplicationName,
			ApplicationURIs:    nonNil(va.ApplicationURIs),
			Name:               va.Name,
			SpaceName:          va.SpaceName,
			SpaceID:            va.SpaceID,
			OrganizationID:     va.OrganizationID,
			OrganizationName:   va.OrganizationName,
			URIs:               nonNil(va.URIs),
			Users:              orNull(va.Users),
			ProcessID:          web.GUID,
			ProcessType:        "web",
			ApplicationID:      va.ApplicationID,
			Version:            web.Version,
			ApplicationVersion: web.Version,
		}
		v.Limits.FDs, v.Limits.Mem, v.Limits.Disk = va.Limits.FDs, web.MemoryInMB, web.DiskInMB
		out.ApplicationEnvJSON.VCAPApplication = v
	}
	var buf bytes.Buffer
	if err := encodeJSON(&buf, &out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// V3AppPermissions is GET /v3/apps/:guid/permissions.
type V3AppPermissions struct {
	ReadBasicData     bool `json:"read_basic_data"`
	ReadSensitiveData bool `json:"read_sensitive_data"`
}

// AppPermissions renders GET /v2/apps/:guid/permissions: the same two
// flags in v2's order, sensitive first (MAPPING §7).
func AppPermissions(p V3AppPermissions) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"read_sensitive_data":`)
	buf.WriteString(boolText(p.ReadSensitiveData))
	buf.WriteString(`,"read_basic_data":`)
	buf.WriteString(boolText(p.ReadBasicData))
	buf.WriteByte('}')
	return buf.Bytes()
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func orNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
