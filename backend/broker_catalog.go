package backend

import (
	"context"
	"encoding/json"

	"capibridge/backend/store"
)

// The built-in broker's catalog, and the marketplace the embedded CF
// makes of it on first start.

// The built-in broker's name, its offerings and plans, with the stable
// guids the embedded CF gives them on first start.
const (
	ServiceBrokerGUID  = "b40c0000-0000-4000-8000-000000000001"
	ServiceBrokerName  = "capibridge-broker"
	DBOfferingGUID     = "0ffe0000-0000-4000-8000-000000000001"
	DBOfferingName     = "capibridge-db"
	DBSmallPlanGUID    = "91a40000-0000-4000-8000-000000000001"
	DBLargePlanGUID    = "91a40000-0000-4000-8000-000000000002"
	CacheOfferingGUID  = "0ffe0000-0000-4000-8000-000000000002"
	CacheOfferingName  = "capibridge-cache"
	CacheBasicPlanGUID = "91a40000-0000-4000-8000-000000000003"
	serviceBrokerURL   = "https://capibridge-broker.internal"
)

// osbService and osbPlan are a catalog's services and plans (OSB
// "Catalog Management"); guid is what the platform calls them.
type osbService struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	Tags                 []string        `json:"tags"`
	Requires             []string        `json:"requires"`
	Bindable             bool            `json:"bindable"`
	InstancesRetrievable bool            `json:"instances_retrievable"`
	BindingsRetrievable  bool            `json:"bindings_retrievable"`
	AllowContextUpdates  bool            `json:"allow_context_updates"`
	PlanUpdateable       bool            `json:"plan_updateable"`
	Metadata             json.RawMessage `json:"metadata"`
	Plans                []osbPlan       `json:"plans"`
	guid                 string
}

type osbPlan struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Free        bool            `json:"free"`
	Bindable    *bool           `json:"bindable,omitempty"`
	Metadata    json.RawMessage `json:"metadata"`
	guid        string
	// orgs limits the plan to these organizations (a platform visibility,
	// not the broker's): none means public.
	orgs []string
}

// brokerCatalog is what GET /v2/catalog of the built-in broker returns.
func brokerCatalog() []osbService {
	notBindable := false
	return []osbService{{
		ID: "capibridge-db", Name: DBOfferingName, guid: DBOfferingGUID,
		Description: "A PostgreSQL-compatible database, simulated by capibridge's built-in broker",
		Tags:        []string{"postgresql", "relational"}, Requires: []string{},
		Bindable: true, InstancesRetrievable: true, BindingsRetrievable: true, PlanUpdateable: true,
		Metadata: json.RawMessage(`{"displayName":"Capibridge DB","longDescription":"A database that exists only in the embedded Cloud Foundry",` +
			`"providerDisplayName":"capibridge","documentationUrl":"https://capibridge.local/docs/capibridge-db","supportUrl":"https://capibridge.local/support","shareable":true}`),
		Plans: []osbPlan{
			{ID: "capibridge-db-small", Name: "small", guid: DBSmallPlanGUID, Description: "One shared database, 1 GB", Free: true,
				Metadata: json.RawMessage(`{"displayName":"Small","bullets":["1 GB storage","10 connections"]}`)},
			{ID: "capibridge-db-large", Name: "large", guid: DBLargePlanGUID, Description: "A dedicated database, 100 GB", Free: false,
				Metadata: json.RawMessage(`{"displayName":"Large","bullets":["100 GB storage","500 connections"],` +
					`"costs":[{"amount":{"usd":25.0},"unit":"MONTHLY"}]}`),
				orgs: []string{DemoOrgGUID}},
		},
	}, {
		ID: "capibridge-cache", Name: CacheOfferingName, guid: CacheOfferingGUID,
		Description: "A key-value cache, simulated by capibridge's built-in broker",
		Tags:        []string{"cache", "key-value"}, Requires: []string{},
		Bindable: true, InstancesRetrievable: true, BindingsRetrievable: true,
		Metadata: json.RawMessage(`{"displayName":"Capibridge Cache","providerDisplayName":"capibridge","shareable":false}`),
		Plans: []osbPlan{{ID: "capibridge-cache-basic", Name: "basic", guid: CacheBasicPlanGUID, Description: "A cache no app can bind to",
			Free: true, Bindable: &notBindable, Metadata: json.RawMessage(`{"displayName":"Basic"}`)}},
	}}
}

// seedMarketplace registers the built-in broker and its catalog, as CC's
// catalog synchronisation would (ServiceBrokerCatalogUpdater).
func seedMarketplace(ctx context.Context, st *store.Store, now int64) []func() error {
	steps := []func() error{func() error {
		return st.CreateServiceBroker(ctx, store.ServiceBroker{GUID: ServiceBrokerGUID, Name: ServiceBrokerName, URL: serviceBrokerURL,
			CreatedAt: now, UpdatedAt: now})
	}}
	for _, svc := range brokerCatalog() {
		extra := string(svc.Metadata)
		steps = append(steps, func() error {
			return st.CreateServiceOffering(ctx, store.ServiceOffering{GUID: svc.guid, BrokerGUID: ServiceBrokerGUID, Name: svc.Name,
				UniqueID: svc.ID, Description: svc.Description, Active: true, Bindable: svc.Bindable, PlanUpdateable: svc.PlanUpdateable,
				InstancesRetrievable: svc.InstancesRetrievable, BindingsRetrievable: svc.BindingsRetrievable,
				AllowContextUpdates: svc.AllowContextUpdates, Tags: svc.Tags, Requires: svc.Requires, Extra: &extra, CreatedAt: now, UpdatedAt: now})
		})
		for _, p := range svc.Plans {
			extra := string(p.Metadata)
			steps = append(steps, func() error {
				return st.CreateServicePlan(ctx, store.ServicePlan{GUID: p.guid, OfferingGUID: svc.guid, Name: p.Name, UniqueID: p.ID,
					Description: p.Description, Free: p.Free, Active: true, Public: len(p.orgs) == 0, Bindable: p.Bindable, Extra: &extra,
					CreatedAt: now, UpdatedAt: now}, p.orgs...)
			})
		}
	}
	return steps
}
