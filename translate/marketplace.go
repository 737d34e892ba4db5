package translate

import (
	"bytes"
	"encoding/json"
	"time"
)

// The v2 marketplace (MAPPING-services §10.7): services, plans and brokers
// are v3 service offerings, plans and brokers.

// V3BrokerCatalog is a v3 offering's or plan's broker_catalog.
type V3BrokerCatalog struct {
	ID                     string          `json:"id"`
	Metadata               json.RawMessage `json:"metadata"`
	MaximumPollingDuration *int            `json:"maximum_polling_duration"`
	Features               struct {
		Bindable             bool  `json:"bindable"`
		PlanUpdateable       *bool `json:"plan_updateable"`
		InstancesRetrievable bool  `json:"instances_retrievable"`
		BindingsRetrievable  bool  `json:"bindings_retrievable"`
		AllowContextUpdates  bool  `json:"allow_context_updates"`
	} `json:"features"`
}

// V3ServiceOffering is GET /v3/service_offerings/:guid.
type V3ServiceOffering struct {
	GUID          string          `json:"guid"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Available     bool            `json:"available"`
	Tags          []string        `json:"tags"`
	Requires      []string        `json:"requires"`
	Shareable     bool            `json:"shareable"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	BrokerCatalog V3BrokerCatalog `json:"broker_catalog"`
	Relationships struct {
		ServiceBroker V3ToOne `json:"service_broker"`
	} `json:"relationships"`
	// BrokerName is the broker's name, from the list's or get's
	// fields[service_broker] (v3 shows it to readers who cannot read the
	// broker itself).
	BrokerName string `json:"-"`
}

// V3ServicePlan is GET /v3/service_plans/:guid.
type V3ServicePlan struct {
	GUID            string          `json:"guid"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	VisibilityType  string          `json:"visibility_type"`
	Available       bool            `json:"available"`
	Free            bool            `json:"free"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	MaintenanceInfo json.RawMessage `json:"maintenance_info"`
	BrokerCatalog   V3BrokerCatalog `json:"broker_catalog"`
	Schemas         json.RawMessage `json:"schemas"`
	Relationships   struct {
		ServiceOffering V3ToOne `json:"service_offering"`
	} `json:"relationships"`
}

// V3ServiceBroker is GET /v3/service_brokers/:guid.
type V3ServiceBroker struct {
	GUID          string    `json:"guid"`
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Relationships struct {
		Space V3ToOne `json:"space"`
	} `json:"relationships"`
}

// catalogExtra is v2's extra: the broker's catalog metadata as a JSON
// string (both cf CLIs and go-cfclient read a string), null when there is
// none (§10.7.1 row 11).
func catalogExtra(meta json.RawMessage) *string {
	var c bytes.Buffer
	if len(meta) == 0 || json.Compact(&c, meta) != nil {
		return nil
	}
	switch c.String() {
	case "null", "{}":
		return nil
	}
	s := c.String()
	return &s
}

// V2ServiceEntity is a v2 service (ServicePresenter, today's order:
// service.current-shape.json).
type V2ServiceEntity struct {
	Label                string          `json:"label"`
	Provider             *string         `json:"provider"`
	URL                  *string         `json:"url"`
	Description          string          `json:"description"`
	LongDescription      *string         `json:"long_description"`
	Version              *string         `json:"version"`
	InfoURL              *string         `json:"info_url"`
	Active               bool            `json:"active"`
	Bindable             bool            `json:"bindable"`
	UniqueID             string          `json:"unique_id"`
	Extra                *string         `json:"extra"`
	Tags                 []string        `json:"tags"`
	Requires             []string        `json:"requires"`
	DocumentationURL     *string         `json:"documentation_url"`
	ServiceBrokerGUID    string          `json:"service_broker_guid"`
	ServiceBrokerName    string          `json:"service_broker_name"`
	PlanUpdateable       bool            `json:"plan_updateable"`
	BindingsRetrievable  bool            `json:"bindings_retrievable"`
	InstancesRetrievable bool            `json:"instances_retrievable"`
	AllowContextUpdates  bool            `json:"allow_context_updates"`
	ServicePlansURL      string          `json:"service_plans_url"`
	ServicePlans         json.RawMessage `json:"service_plans,omitempty"`
}

// AppendServiceResource writes the v2 service of o; plans are its rendered
// plans when they are inlined.
func AppendServiceResource(buf *bytes.Buffer, o V3ServiceOffering, plans json.RawMessage) error {
	tags, requires := o.Tags, o.Requires
	if tags == nil {
		tags = []string{}
	}
	if requires == nil {
		requires = []string{}
	}
	f := o.BrokerCatalog.Features
	e := V2ServiceEntity{Label: o.Name, Description: o.Description, Active: o.Available, Bindable: f.Bindable, UniqueID: o.BrokerCatalog.ID,
		Extra: catalogExtra(o.BrokerCatalog.Metadata), Tags: tags, Requires: requires, ServiceBrokerGUID: o.Relationships.ServiceBroker.GUID(),
		ServiceBrokerName: o.BrokerName, PlanUpdateable: f.PlanUpdateable != nil && *f.PlanUpdateable, BindingsRetrievable: f.BindingsRetrievable,
		InstancesRetrievable: f.InstancesRetrievable, AllowContextUpdates: f.AllowContextUpdates,
		ServicePlansURL: "/v2/services/" + o.GUID + "/service_plans", ServicePlans: plans}
	return encodeJSON(buf, &v2Resource[V2ServiceEntity]{Metadata: v2Metadata("services", o.GUID, o.CreatedAt, o.UpdatedAt), Entity: e})
}

// V2ServicePlanEntity is a v2 service plan (service_plan.current-shape.json).
type V2ServicePlanEntity struct {
	Name                   string          `json:"name"`
	Free                   bool            `json:"free"`
	Description            string          `json:"description"`
	ServiceGUID            string          `json:"service_guid"`
	Extra                  *string         `json:"extra"`
	UniqueID               string          `json:"unique_id"`
	Public                 bool            `json:"public"`
	Bindable               bool            `json:"bindable"`
	PlanUpdateable         *bool           `json:"plan_updateable"`
	Active                 bool            `json:"active"`
	MaximumPollingDuration *int            `json:"maximum_polling_duration"`
	MaintenanceInfo        json.RawMessage `json:"maintenance_info"`
	ServiceURL             string          `json:"service_url"`
	ServiceInstancesURL    string          `json:"service_instances_url"`
	Schemas                json.RawMessage `json:"schemas"`
}

// emptySchemas is the schemas object of a plan without any.
var emptySchemas = json.RawMessage(`{"service_instance":{"create":{"parameters":{}},"update":{"parameters":{}}},"service_binding":{"create":{"parameters":{}}}}`)

// AppendServicePlanResource writes the v2 service plan of p. v3 shows the
// effective plan_updateable where v2 showed the plan's own column (null
// when it inherits): a documented deviation.
func AppendServicePlanResource(buf *bytes.Buffer, p V3ServicePlan) error {
	maint := p.MaintenanceInfo
	if len(maint) == 0 || string(maint) == "null" {
		maint = json.RawMessage(`{}`)
	}
	schemas := p.Schemas
	if len(schemas) == 0 || string(schemas) == "null" {
		schemas = emptySchemas
	}
	svc := p.Relationships.ServiceOffering.GUID()
	e := V2ServicePlanEntity{Name: p.Name, Free: p.Free, Description: p.Description, ServiceGUID: svc, Extra: catalogExtra(p.BrokerCatalog.Metadata),
		UniqueID: p.BrokerCatalog.ID, Public: p.VisibilityType == "public", Bindable: p.BrokerCatalog.Features.Bindable,
		PlanUpdateable: p.BrokerCatalog.Features.PlanUpdateable, Active: p.Available, MaximumPollingDuration: p.BrokerCatalog.MaximumPollingDuration,
		MaintenanceInfo: maint, ServiceURL: "/v2/services/" + svc, ServiceInstancesURL: "/v2/service_plans/" + p.GUID + "/service_instances",
		Schemas: schemas}
	return encodeJSON(buf, &v2Resource[V2ServicePlanEntity]{Metadata: v2Metadata("service_plans", p.GUID, p.CreatedAt, p.UpdatedAt), Entity: e})
}

// V2ServiceBrokerEntity is a v2 broker (DefaultPresenter, no relations).
// v3 does not show auth_username: null (a documented deviation).
type V2ServiceBrokerEntity struct {
	Name         string  `json:"name"`
	BrokerURL    string  `json:"broker_url"`
	AuthUsername *string `json:"auth_username"`
	SpaceGUID    *string `json:"space_guid"`
}

// AppendServiceBrokerResource writes the v2 broker of b.
func AppendServiceBrokerResource(buf *bytes.Buffer, b V3ServiceBroker) error {
	e := V2ServiceBrokerEntity{Name: b.Name, BrokerURL: b.URL}
	if s := b.Relationships.Space.GUID(); s != "" {
		e.SpaceGUID = &s
	}
	return encodeJSON(buf, &v2Resource[V2ServiceBrokerEntity]{Metadata: v2Metadata("service_brokers", b.GUID, b.CreatedAt, b.UpdatedAt), Entity: e})
}

// ServiceQueryKeys are the q keys of /v2/services (§10.1.3).
func ServiceQueryKeys() []string {
	return []string{"active", "label", "provider", "service_broker_guid", "unique_id"}
}

// ServicePlanQueryKeys are the q keys of /v2/service_plans.
func ServicePlanQueryKeys() []string {
	return []string{"active", "service_guid", "service_instance_guid", "service_broker_guid", "unique_id"}
}

// PlanVisibility is a v2 service plan visibility: v3 keeps no such rows
// (a plan's visibility lists its orgs), so each (plan, org) pair is one,
// with a guid derived from the pair and the plan's times (§10.7.5, a
// documented deviation).
type PlanVisibility struct {
	GUID, PlanGUID, OrgGUID string
	CreatedAt, UpdatedAt    time.Time
}

// V2PlanVisibilityEntity is a visibility's entity (DefaultPresenter).
type V2PlanVisibilityEntity struct {
	ServicePlanGUID  string `json:"service_plan_guid"`
	OrganizationGUID string `json:"organization_guid"`
	ServicePlanURL   string `json:"service_plan_url"`
	OrganizationURL  string `json:"organization_url"`
}

// AppendPlanVisibilityResource writes the v2 visibility v.
func AppendPlanVisibilityResource(buf *bytes.Buffer, v PlanVisibility) error {
	e := V2PlanVisibilityEntity{ServicePlanGUID: v.PlanGUID, OrganizationGUID: v.OrgGUID, ServicePlanURL: "/v2/service_plans/" + v.PlanGUID,
		OrganizationURL: "/v2/organizations/" + v.OrgGUID}
	return encodeJSON(buf, &v2Resource[V2PlanVisibilityEntity]{Metadata: v2Metadata("service_plan_visibilities", v.GUID, v.CreatedAt, v.UpdatedAt), Entity: e})
}
