package translate

import (
	"bytes"
	"encoding/json"
	"time"
)

// V3ServiceCredentialBinding is a v3 service credential binding of type app
// (GET /v3/service_credential_bindings/:guid).
type V3ServiceCredentialBinding struct {
	GUID          string           `json:"guid"`
	Name          *string          `json:"name"`
	Type          string           `json:"type"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	LastOperation *V3LastOperation `json:"last_operation"`
	Relationships struct {
		App             V3ToOne `json:"app"`
		ServiceInstance V3ToOne `json:"service_instance"`
	} `json:"relationships"`
}

// V3LastOperation is the last_operation of a v3 service resource.
type V3LastOperation struct {
	Type        string    `json:"type"`
	State       string    `json:"state"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// V3BindingDetails is GET /v3/service_credential_bindings/:guid/details.
type V3BindingDetails struct {
	Credentials    json.RawMessage   `json:"credentials"`
	SyslogDrainURL *string           `json:"syslog_drain_url"`
	VolumeMounts   []json.RawMessage `json:"volume_mounts"`
}

// BindingBundle is one app binding with its details; Details is nil when
// the reader may not see them (v3 answers 403 or 404), and the credentials
// are then redacted.
type BindingBundle struct {
	Binding V3ServiceCredentialBinding
	Details *V3BindingDetails
}

// V2ServiceBindingEntity is the entity of a v2 service binding, in the key
// order of cc:app/presenters/v2/service_binding_presenter.rb
// (shared/reference/v2/app_service_bindings.json).
type V2ServiceBindingEntity struct {
	AppGUID             string          `json:"app_guid"`
	ServiceInstanceGUID string          `json:"service_instance_guid"`
	Credentials         json.RawMessage `json:"credentials"`
	// BindingOptions, GatewayData and GatewayName are v1 broker leftovers
	// CC still renders with fixed values.
	BindingOptions              struct{}          `json:"binding_options"`
	GatewayData                 *string           `json:"gateway_data"`
	GatewayName                 string            `json:"gateway_name"`
	SyslogDrainURL              *string           `json:"syslog_drain_url"`
	VolumeMounts                []json.RawMessage `json:"volume_mounts"`
	Name                        *string           `json:"name"`
	LastOperation               *V2LastOperation  `json:"last_operation"`
	AppURL                      string            `json:"app_url"`
	ServiceInstanceURL          string            `json:"service_instance_url"`
	ServiceBindingParametersURL string            `json:"service_binding_parameters_url"`
}

// V2LastOperation is a v2 last_operation: updated_at comes before
// created_at, as CC's presenter writes them.
type V2LastOperation struct {
	Type        string  `json:"type"`
	State       string  `json:"state"`
	Description string  `json:"description"`
	UpdatedAt   *string `json:"updated_at"`
	CreatedAt   *string `json:"created_at"`
}

// V2ServiceBindingResource is a v2 service binding as CC renders it.
type V2ServiceBindingResource struct {
	Metadata V2Metadata             `json:"metadata"`
	Entity   V2ServiceBindingEntity `json:"entity"`
}

// redactedCredentials is what CC shows a reader without access to a
// binding's credentials (Presenters::Censorship, MAPPING §1.2 notes).
var redactedCredentials = json.RawMessage(`{"redacted_message":"` + privateDataHidden + `"}`)

// ServiceBindingEntity returns the v2 entity of b.
func ServiceBindingEntity(b BindingBundle) V2ServiceBindingEntity {
	bind := b.Binding
	app, si := bind.Relationships.App.GUID(), bind.Relationships.ServiceInstance.GUID()
	e := V2ServiceBindingEntity{
		AppGUID:                     app,
		ServiceInstanceGUID:         si,
		Credentials:                 redactedCredentials,
		VolumeMounts:                []json.RawMessage{},
		Name:                        bind.Name,
		AppURL:                      "/v2/apps/" + app,
		ServiceInstanceURL:          "/v2/service_instances/" + si,
		ServiceBindingParametersURL: "/v2/service_bindings/" + bind.GUID + "/parameters",
	}
	if d := b.Details; d != nil {
		e.Credentials = d.Credentials
		if len(e.Credentials) == 0 {
			e.Credentials = json.RawMessage("{}")
		}
		e.SyslogDrainURL = d.SyslogDrainURL
		if d.VolumeMounts != nil {
			e.VolumeMounts = d.VolumeMounts
		}
	}
	if op := bind.LastOperation; op != nil {
		e.LastOperation = &V2LastOperation{Type: op.Type, State: op.State, Description: op.Description,
			UpdatedAt: timePtr(op.UpdatedAt), CreatedAt: timePtr(op.CreatedAt)}
	}
	return e
}

// AppendServiceBindingResource writes the v2 service binding resource of b.
func AppendServiceBindingResource(buf *bytes.Buffer, b BindingBundle) error {
	r := V2ServiceBindingResource{
		Metadata: v2Metadata("service_bindings", b.Binding.GUID, b.Binding.CreatedAt, b.Binding.UpdatedAt),
		Entity:   ServiceBindingEntity(b),
	}
	return encodeJSON(buf, &r)
}

// ServiceBindingQueryKeys returns the q keys of /v2/apps/:guid/service_bindings
// (ServiceBindingsController query_parameters).
func ServiceBindingQueryKeys() []string {
	return []string{"app_guid", "service_instance_guid", "name"}
}

// ServiceBindingField returns the value a binding q filter compares.
func ServiceBindingField(b V3ServiceCredentialBinding, key string) string {
	switch key {
	case "app_guid":
		return b.Relationships.App.GUID()
	case "service_instance_guid":
		return b.Relationships.ServiceInstance.GUID()
	case "name":
		if b.Name != nil {
			return *b.Name
		}
	}
	return ""
}
