package backend

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"capibridge/backend/store"
)

// Service plans and their visibility
// (cc:app/controllers/v3/service_plans_controller.rb,
// service_plan_visibility_controller.rb, app/presenters/v3/service_plan_presenter.rb).

type planJSON struct {
	GUID           string          `json:"guid"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
	Name           string          `json:"name"`
	VisibilityType string          `json:"visibility_type"`
	Available      bool            `json:"available"`
	Free           bool            `json:"free"`
	Costs          []planCost      `json:"costs"`
	Description    string          `json:"description"`
	Maintenance    json.RawMessage `json:"maintenance_info"`
	BrokerCatalog  struct {
		ID                     string          `json:"id"`
		Metadata               json.RawMessage `json:"metadata"`
		MaximumPollingDuration *int64          `json:"maximum_polling_duration"`
		Features               struct {
			Bindable       bool `json:"bindable"`
			PlanUpdateable bool `json:"plan_updateable"`
		} `json:"features"`
	} `json:"broker_catalog"`
	Schemas       planSchemas `json:"schemas"`
	Relationships struct {
		ServiceOffering toOne `json:"service_offering"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self            link `json:"self"`
		ServiceOffering link `json:"service_offering"`
		Visibility      link `json:"visibility"`
	} `json:"links"`
}

type planCost struct {
	Currency string  `json:"currency"`
	Amount   float64 `json:"amount"`
	Unit     string  `json:"unit"`
}

type schemaJSON struct {
	Parameters json.RawMessage `json:"parameters"`
}

type planSchemas struct {
	ServiceInstance struct {
		Create schemaJSON `json:"create"`
		Update schemaJSON `json:"update"`
	} `json:"service_instance"`
	ServiceBinding struct {
		Create schemaJSON `json:"create"`
	} `json:"service_binding"`
}

// visibilityType is ServicePlan#visibility_type (no broker here is
// space-scoped).
func visibilityType(p store.ServicePlan) string {
	switch {
	case p.Public:
		return "public"
	case p.HasOrgs:
		return "organization"
	}
	return "admin"
}

// planCosts reads the catalog's costs as ServicePlanPresenter#costs does:
// one entry per currency, upper-cased; none when they are malformed.
func planCosts(md map[string]any) []planCost {
	out := []planCost{}
	costs, _ := md["costs"].([]any)
	for _, c := range costs {
		cost, _ := c.(map[string]any)
		unit, _ := cost["unit"].(string)
		amounts, _ := cost["amount"].(map[string]any)
		if unit == "" || len(amounts) == 0 {
			return []planCost{}
		}
		currencies := make([]string, 0, len(amounts))
		for currency := range amounts {
			currencies = append(currencies, currency)
		}
		sort.Strings(currencies)
		for _, currency := range currencies {
			amount, ok := amounts[currency].(float64)
			if !ok || currency == "" {
				return []planCost{}
			}
			out = append(out, planCost{Currency: strings.ToUpper(currency), Amount: amount, Unit: unit})
		}
	}
	return out
}

// schema is a stored JSON schema, {} when unset or unreadable.
func schema(s *string) schemaJSON {
	if s == nil || !json.Valid([]byte(*s)) {
		return schemaJSON{json.RawMessage("{}")}
	}
	return schemaJSON{json.RawMessage(*s)}
}

// presentPlan renders a plan; its offering decides the features the plan
// leaves unset.
func presentPlan(base string, p store.ServicePlan, o store.ServiceOffering) planJSON {
	raw, md := catalogMetadata(p.Extra)
	j := planJSON{GUID: p.GUID, CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt), Name: p.Name,
		VisibilityType: visibilityType(p), Available: p.Active, Free: p.Free, Costs: planCosts(md), Description: p.Description,
		Maintenance: json.RawMessage("{}"), Metadata: meta(p.Labels, p.Annotations)}
	j.BrokerCatalog.ID, j.BrokerCatalog.Metadata, j.BrokerCatalog.MaximumPollingDuration = p.UniqueID, raw, p.MaximumPollingDuration
	j.BrokerCatalog.Features.Bindable, j.BrokerCatalog.Features.PlanUpdateable = planBindable(p, o), planUpdateable(p, o)
	j.Schemas.ServiceInstance.Create, j.Schemas.ServiceInstance.Update = schema(p.CreateInstanceSchema), schema(p.UpdateInstanceSchema)
	j.Schemas.ServiceBinding.Create = schema(p.CreateBindingSchema)
	j.Relationships.ServiceOffering = one(p.OfferingGUID)
	j.Links.Self = link{Href: base + "/v3/service_plans/" + p.GUID}
	j.Links.ServiceOffering = link{Href: base + "/v3/service_offerings/" + p.OfferingGUID}
	j.Links.Visibility = link{Href: base + "/v3/service_plans/" + p.GUID + "/visibility"}
	return j
}

// planBindable and planUpdateable are ServicePlan#bindable? and
// #plan_updateable?: the plan's own, else its offering's.
func planBindable(p store.ServicePlan, o store.ServiceOffering) bool {
	if p.Bindable != nil {
		return *p.Bindable
	}
	return o.Bindable
}

func planUpdateable(p store.ServicePlan, o store.ServiceOffering) bool {
	if p.PlanUpdateable != nil {
		return *p.PlanUpdateable
	}
	return o.PlanUpdateable
}

// offeringsOf loads the offerings of plans, by guid.
func (s *Server) offeringsOf(ctx context.Context, plans []store.ServicePlan) (map[string]store.ServiceOffering, []store.ServiceOffering, error) {
	guids := make([]string, len(plans))
	for i, p := range plans {
		guids[i] = p.OfferingGUID
	}
	list, err := s.store.ServiceOfferingsByGUID(ctx, uniq(guids))
	if err != nil {
		return nil, nil, errInternal(err)
	}
	out := map[string]store.ServiceOffering{}
	for _, o := range list {
		out[o.GUID] = o
	}
	return out, list, nil
}

// planResource is GET /v3/service_plans and /v3/service_plans/:guid.
var planResource = &resource[store.ServicePlan, store.MarketFilter, planJSON]{
	name: "Service plan",
	path: "/v3/service_plans",
	keys: marketKeys("names", "available", "broker_catalog_ids", "service_broker_guids", "service_broker_names", "service_offering_guids",
		"service_offering_names", "service_instance_guids", "space_guids", "organization_guids", "include", "fields"),
	orders: namedOrders,
	filter: func(q *params) store.MarketFilter {
		f := marketFilter(q)
		f.OfferingGUIDs, f.OfferingNames, f.ServiceInstanceGUIDs = q.list("service_offering_guids"), q.list("service_offering_names"),
			q.list("service_instance_guids")
		return f
	},
	list: (*store.Store).ListServicePlans,
	get:  (*store.Store).GetServicePlan,
	present: func(s *Server, r *request, plans []store.ServicePlan) ([]planJSON, error) {
		offerings, _, err := s.offeringsOf(r.ctx, plans)
		if err != nil {
			return nil, err
		}
		out := make([]planJSON, len(plans))
		for i, p := range plans {
			out[i] = presentPlan(r.base, p, offerings[p.OfferingGUID])
		}
		return out, nil
	},
	includes:     []string{"space.organization", "service_offering"},
	showIncludes: true,
	fields:       []fieldSpec{{"service_offering.service_broker", []string{"guid", "name"}}},
	showFields:   []fieldSpec{{"service_offering.service_broker", []string{"guid", "name"}}},
	included: func(s *Server, r *request, include map[string]bool, plans []store.ServicePlan) (any, error) {
		// In the order of the controller's decorators: no plan here is of
		// a space-scoped broker, so space.organization adds empty lists.
		out := ordered{}
		if include["space.organization"] {
			out = append(out, field{key: "spaces", val: []spaceJSON{}}, field{key: "organizations", val: []orgJSON{}})
		}
		_, offerings, err := s.offeringsOf(r.ctx, plans)
		if err != nil {
			return nil, err
		}
		if include["service_offering"] {
			views := make([]offeringJSON, len(offerings))
			for i, o := range offerings {
				views[i] = presentOffering(r.base, o)
			}
			out = append(out, field{key: "service_offerings", val: views})
		}
		if keys, ok := r.fields["service_offering.service_broker"]; ok {
			brokers, err := s.brokersOf(r.ctx, offerings, keys)
			if err != nil {
				return nil, err
			}
			out = append(out, brokers)
		}
		return out, nil
	},
}

// getPlanVisibility is GET /v3/service_plans/:guid/visibility: the type,
// and for an org-restricted plan the organizations the caller can see.
func (s *Server) getPlanVisibility(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	p, err := planResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	type orgView struct {
		GUID string `json:"guid"`
		Name string `json:"name"`
	}
	out := struct {
		Type          string     `json:"type"`
		Organizations *[]orgView `json:"organizations,omitempty"`
	}{Type: visibilityType(p)}
	if out.Type == "organization" {
		orgs, err := s.store.PlanOrgs(r.ctx, r.viewer(), p.GUID)
		if err != nil {
			return errInternal(err)
		}
		views := make([]orgView, len(orgs))
		for i, o := range orgs {
			views[i] = orgView{o.GUID, o.Name}
		}
		out.Organizations = &views
	}
	return r.reply(200, out)
}
