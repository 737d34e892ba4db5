package backend

import (
	"context"
	"encoding/json"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// The marketplace: service offerings, plans and brokers
// (cc:app/controllers/v3/service_offerings_controller.rb,
// service_plans_controller.rb, service_brokers_controller.rb,
// service_plan_visibility_controller.rb and their presenters). Offerings
// and plans are read without a token too (enforce_authentication? is
// false for index and show; hide_marketplace_from_unauthenticated_users is
// off by default): an anonymous caller sees the public plans and the
// offerings that have one.

// maybeUser serves a route to anonymous callers and to users alike: a
// valid token gives the user's view, no token or a bad one the anonymous
// view, and no scope is needed (enforce_read_scope? is false).
func (s *Server) maybeUser(h handler) handler {
	return func(r *request) error {
		if user, err := s.auth.authenticate(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)); err == nil {
			r.user = user
		}
		return h(r)
	}
}

// viewer is whose view of the data a read takes; nil is anonymous, who
// holds no role.
func (r *request) viewer() store.Viewer {
	if r.user == nil {
		return store.Viewer{}
	}
	return r.user.viewer()
}

type offeringJSON struct {
	GUID             string          `json:"guid"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	Available        bool            `json:"available"`
	Tags             []string        `json:"tags"`
	Requires         []string        `json:"requires"`
	Shareable        bool            `json:"shareable"`
	DocumentationURL string          `json:"documentation_url"`
	BrokerCatalog    offeringCatalog `json:"broker_catalog"`
	Relationships    struct {
		ServiceBroker toOne `json:"service_broker"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self          link `json:"self"`
		ServicePlans  link `json:"service_plans"`
		ServiceBroker link `json:"service_broker"`
	} `json:"links"`
}

type offeringCatalog struct {
	ID       string          `json:"id"`
	Metadata json.RawMessage `json:"metadata"`
	Features struct {
		PlanUpdateable       bool `json:"plan_updateable"`
		Bindable             bool `json:"bindable"`
		InstancesRetrievable bool `json:"instances_retrievable"`
		BindingsRetrievable  bool `json:"bindings_retrievable"`
		AllowContextUpdates  bool `json:"allow_context_updates"`
	} `json:"features"`
}

// catalogMetadata is a catalog's metadata (extra), {} when unset or not an
// object (ServiceOfferingPresenter#broker_metadata).
func catalogMetadata(extra *string) (json.RawMessage, map[string]any) {
	var m map[string]any
	if extra == nil || json.Unmarshal([]byte(*extra), &m) != nil || m == nil {
		return json.RawMessage("{}"), map[string]any{}
	}
	return json.RawMessage(*extra), m
}

func presentOffering(base string, o store.ServiceOffering) offeringJSON {
	raw, md := catalogMetadata(o.Extra)
	j := offeringJSON{GUID: o.GUID, CreatedAt: timestamp(o.CreatedAt), UpdatedAt: timestamp(o.UpdatedAt), Name: o.Name,
		Description: o.Description, Available: o.Active, Tags: o.Tags, Requires: o.Requires, Shareable: md["shareable"] == true,
		Metadata: meta(o.Labels, o.Annotations)}
	j.DocumentationURL, _ = md["documentationUrl"].(string)
	j.BrokerCatalog.ID, j.BrokerCatalog.Metadata = o.UniqueID, raw
	f := &j.BrokerCatalog.Features
	f.PlanUpdateable, f.Bindable, f.InstancesRetrievable = o.PlanUpdateable, o.Bindable, o.InstancesRetrievable
	f.BindingsRetrievable, f.AllowContextUpdates = o.BindingsRetrievable, o.AllowContextUpdates
	j.Relationships.ServiceBroker = one(o.BrokerGUID)
	j.Links.Self = link{Href: base + "/v3/service_offerings/" + o.GUID}
	j.Links.ServicePlans = link{Href: base + "/v3/service_plans?service_offering_guids=" + o.GUID}
	j.Links.ServiceBroker = link{Href: base + "/v3/service_brokers/" + o.BrokerGUID}
	return j
}

// marketKeys are ListMessage's keys and label_selector around a marketplace
// list's own.
func marketKeys(keys ...string) []string {
	return append(append(append(append([]string{}, pageParams...), "guids"), keys...), metadataKeys...)
}

// marketFilter reads the filters offerings and plans share.
func marketFilter(q *params) store.MarketFilter {
	return store.MarketFilter{GUIDs: q.list("guids"), Names: q.list("names"), Available: q.boolean("available"),
		BrokerCatalogIDs: q.list("broker_catalog_ids"), BrokerGUIDs: q.list("service_broker_guids"), BrokerNames: q.list("service_broker_names"),
		OrgGUIDs: q.list("organization_guids"), SpaceGUIDs: q.list("space_guids"), Labels: q.labels(),
		CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
}

// brokerField is what fields[...] may ask of a marketplace resource's broker.
var brokerField = []fieldSpec{{"service_broker", []string{"guid", "name"}}}

// offeringResource is GET /v3/service_offerings and /v3/service_offerings/:guid.
var offeringResource = &resource[store.ServiceOffering, store.MarketFilter, offeringJSON]{
	name: "Service offering",
	path: "/v3/service_offerings",
	keys: marketKeys("names", "available", "broker_catalog_ids", "service_broker_guids", "service_broker_names", "space_guids",
		"organization_guids", "fields"),
	orders:     namedOrders,
	filter:     marketFilter,
	list:       (*store.Store).ListServiceOfferings,
	get:        (*store.Store).GetServiceOffering,
	present:    each(func(r *request, o store.ServiceOffering) offeringJSON { return presentOffering(r.base, o) }),
	fields:     brokerField,
	showFields: brokerField,
	included: func(s *Server, r *request, _ map[string]bool, items []store.ServiceOffering) (any, error) {
		brokers, err := s.brokersOf(r.ctx, items, r.fields["service_broker"])
		return ordered{brokers}, err
	},
}

// brokersOf is the included service_brokers of offerings as
// fields[...service_broker] shows them (FieldServiceOfferingServiceBrokerDecorator,
// FieldServicePlanServiceBrokerDecorator, FieldServiceInstanceBrokerDecorator).
func (s *Server) brokersOf(ctx context.Context, offerings []store.ServiceOffering, keys []string) (field, error) {
	guids := make([]string, len(offerings))
	for i, o := range offerings {
		guids[i] = o.BrokerGUID
	}
	brokers, err := s.store.ServiceBrokersByGUID(ctx, uniq(guids))
	if err != nil {
		return field{}, errInternal(err)
	}
	views := make([]ordered, len(brokers))
	for i, b := range brokers {
		views[i] = pick(keys, field{"name", "name", b.Name}, field{"guid", "guid", b.GUID})
	}
	return field{key: "service_brokers", val: views}, nil
}

// uniq is list without repeats, in first-seen order.
func uniq(list []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range list {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

type brokerJSON struct {
	GUID          string       `json:"guid"`
	CreatedAt     string       `json:"created_at"`
	UpdatedAt     string       `json:"updated_at"`
	Name          string       `json:"name"`
	URL           string       `json:"url"`
	Relationships struct{}     `json:"relationships"`
	Metadata      metadataJSON `json:"metadata"`
	Links         struct {
		Self             link `json:"self"`
		ServiceOfferings link `json:"service_offerings"`
	} `json:"links"`
}

// brokerResource is GET /v3/service_brokers and /v3/service_brokers/:guid:
// the global readers see the built-in broker, as they see any broker that
// is not space-scoped.
var brokerResource = &resource[store.ServiceBroker, store.BrokerFilter, brokerJSON]{
	name:   "Service broker",
	path:   "/v3/service_brokers",
	keys:   marketKeys("names", "space_guids"),
	orders: namedOrders,
	filter: func(q *params) store.BrokerFilter {
		return store.BrokerFilter{GUIDs: q.list("guids"), Names: q.list("names"), SpaceGUIDs: q.list("space_guids"), Labels: q.labels(),
			CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list: (*store.Store).ListServiceBrokers,
	get:  (*store.Store).GetServiceBroker,
	present: each(func(r *request, b store.ServiceBroker) brokerJSON {
		j := brokerJSON{GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), Name: b.Name, URL: b.URL,
			Metadata: meta(b.Labels, b.Annotations)}
		j.Links.Self = link{Href: r.base + "/v3/service_brokers/" + b.GUID}
		j.Links.ServiceOfferings = link{Href: r.base + "/v3/service_offerings?service_broker_guids=" + b.GUID}
		return j
	}),
}
