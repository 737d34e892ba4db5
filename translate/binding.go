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
	Description *string   `json:"description"`
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
	// UserProvided: the bound instance is user-provided, whose v2 url is
	// under /v2/user_provided_service_instances.
	UserProvided bool
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
	Description *string `json:"description"`
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
		ServiceInstanceURL:          instanceURL(si, b.UserProvided),
		ServiceBindingParametersURL: "/v2/service_bindings/" + bind.GUID + "/parameters",
	}
	if d := b.Details; d != nil {
		e.Credentials = d.Credentials
		if len(e.Credentials) == 0 {
			e.Credentials = json.RawMessage("{}")
		}
		e.SyslogDrainURL = d.SyslogDrainURL
		if d.VolumeMounts != nil {
			e.VolumeMounts = censorMounts(d.VolumeMounts)
		}
	}
	// A binding always shows an operation: its own, or a succeeded create
	// at its own times (ServiceBindingPresenter); "initial" is v3's name
	// for one not started yet (§10.5.1 row 10).
	op := V3LastOperation{Type: "create", State: "succeeded", CreatedAt: bind.CreatedAt, UpdatedAt: bind.UpdatedAt}
	if o := bind.LastOperation; o != nil && o.Type != "" {
		op = *o
	}
	if op.State == "initial" {
		op.State = "in progress"
	}
	if op.Description == nil {
		empty := ""
		op.Description = &empty
	}
	e.LastOperation = &V2LastOperation{Type: op.Type, State: op.State, Description: op.Description,
		UpdatedAt: timePtr(op.UpdatedAt), CreatedAt: timePtr(op.CreatedAt)}
	return e
}

// instanceURL is a service instance's v2 url: user-provided ones have
// their own collection (ServiceInstancesController.url_for_guid).
func instanceURL(guid string, userProvided bool) string {
	if userProvided {
		return "/v2/user_provided_service_instances/" + guid
	}
	return "/v2/service_instances/" + guid
}

// censorMounts keeps of each volume mount only container_dir, mode and
// device_type, as v2 showed them (censor_volume_mounts).
func censorMounts(mounts []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(mounts))
	for _, m := range mounts {
		var full struct {
			ContainerDir json.RawMessage `json:"container_dir,omitempty"`
			Mode         json.RawMessage `json:"mode,omitempty"`
			DeviceType   json.RawMessage `json:"device_type,omitempty"`
		}
		if json.Unmarshal(m, &full) != nil {
			continue
		}
		raw, err := json.Marshal(full)
		if err == nil {
			out = append(out, raw)
		}
	}
	return out
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

// V2ServiceKeyEntity is a service key's entity (ServiceKeyPresenter, a
// DefaultPresenter; §10.6.1).
type V2ServiceKeyEntity struct {
	Name                    string          `json:"name"`
	ServiceInstanceGUID     string          `json:"service_instance_guid"`
	Credentials             json.RawMessage `json:"credentials"`
	ServiceInstanceURL      string          `json:"service_instance_url"`
	ServiceKeyParametersURL string          `json:"service_key_parameters_url"`
}

// AppendServiceKeyResource writes the v2 service key of k (a v3 credential
// binding of type key): its credentials from its details, redacted when
// the reader may not see them.
func AppendServiceKeyResource(buf *bytes.Buffer, k BindingBundle) error {
	b := k.Binding
	si := b.Relationships.ServiceInstance.GUID()
	e := V2ServiceKeyEntity{ServiceInstanceGUID: si, Credentials: redactedCredentials, ServiceInstanceURL: "/v2/service_instances/" + si,
		ServiceKeyParametersURL: "/v2/service_keys/" + b.GUID + "/parameters"}
	if b.Name != nil {
		e.Name = *b.Name
	}
	if k.Details != nil && len(k.Details.Credentials) > 0 {
		e.Credentials = k.Details.Credentials
	}
	return encodeJSON(buf, &v2Resource[V2ServiceKeyEntity]{Metadata: v2Metadata("service_keys", b.GUID, b.CreatedAt, b.UpdatedAt), Entity: e})
}
