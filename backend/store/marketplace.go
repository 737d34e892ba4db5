package store

import (
	"context"
	"database/sql"
	"slices"
)

// ServiceBroker is a v3 service broker. The embedded CF has one, built in.
type ServiceBroker struct {
	ID          int64
	GUID        string
	Name        string
	URL         string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// ServiceOffering is a v3 service offering (CC's services table): a
// service of a broker's catalog. Extra is the catalog's metadata, JSON.
type ServiceOffering struct {
	ID                   int64
	GUID                 string
	BrokerGUID           string
	Name                 string
	UniqueID             string
	Description          string
	Active               bool
	Bindable             bool
	PlanUpdateable       bool
	InstancesRetrievable bool
	BindingsRetrievable  bool
	AllowContextUpdates  bool
	Tags                 []string
	Requires             []string
	Extra                *string
	Labels               Metadata
	Annotations          Metadata
	CreatedAt            int64
	UpdatedAt            int64
}

// ServicePlan is a v3 service plan. Bindable and PlanUpdateable are nil
// when the plan leaves them to its offering. HasOrgs says whether the plan
// is visible in some organization (its visibility_type is "organization"
// when it is not public).
type ServicePlan struct {
	ID                     int64
	GUID                   string
	OfferingGUID           string
	Name                   string
	UniqueID               string
	Description            string
	Free                   bool
	Active                 bool
	Public                 bool
	Bindable               *bool
	PlanUpdateable         *bool
	MaximumPollingDuration *int64
	Extra                  *string
	CreateInstanceSchema   *string
	UpdateInstanceSchema   *string
	CreateBindingSchema    *string
	HasOrgs                bool
	Labels                 Metadata
	Annotations            Metadata
	CreatedAt              int64
	UpdatedAt              int64
}

// MarketFilter narrows a list of service offerings or plans. The names and
// guids of offerings apply to plans only. OrgGUIDs and SpaceGUIDs keep the
// public plans and those visible in the organizations (of the spaces) that
// the viewer can see, as CC's BaseServiceListFetcher does.
type MarketFilter struct {
	GUIDs                []string
	Names                []string
	Available            *bool
	BrokerCatalogIDs     []string
	BrokerGUIDs          []string
	BrokerNames          []string
	OfferingGUIDs        []string
	OfferingNames        []string
	ServiceInstanceGUIDs []string
	OrgGUIDs             []string
	SpaceGUIDs           []string
	Labels               []LabelReq
	CreatedAts           []TimeCond
	UpdatedAts           []TimeCond
}

// BrokerFilter narrows a service brokers list.
type BrokerFilter struct {
	GUIDs      []string
	Names      []string
	SpaceGUIDs []string
	Labels     []LabelReq
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

const brokerCols = "id, guid, name, url, labels, annotations, created_at, updated_at"

func scanBroker(r scanner) (ServiceBroker, error) {
	var b ServiceBroker
	err := r.Scan(&b.ID, &b.GUID, &b.Name, &b.URL, &b.Labels, &b.Annotations, &b.CreatedAt, &b.UpdatedAt)
	return b, err
}

// brokerTable is how brokers are read: a global broker is visible to the
// global readers only (CC shows others the space-scoped brokers of their
// spaces, which the embedded CF has none of).
var brokerTable = table[ServiceBroker]{name: "service_brokers", cols: brokerCols, scan: scanBroker, order: orderNamed,
	visible: func(w *where, sc scope) {
		if !sc.all {
			w.add("0")
		}
	}}

func (f BrokerFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	if f.SpaceGUIDs != nil {
		w.add("0") // no broker is space-scoped
	}
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListServiceBrokers returns one page of the brokers v can see.
func (s *Store) ListServiceBrokers(ctx context.Context, v Viewer, f BrokerFilter, p Page) ([]ServiceBroker, int, error) {
	return brokerTable.list(ctx, s, v, f, p)
}

// GetServiceBroker returns the broker guid if v can see it.
func (s *Store) GetServiceBroker(ctx context.Context, v Viewer, guid string) (ServiceBroker, error) {
	return brokerTable.get(ctx, s, v, guid)
}

// ServiceBrokersByGUID returns the named brokers, without visibility checks.
func (s *Store) ServiceBrokersByGUID(ctx context.Context, guids []string) ([]ServiceBroker, error) {
	return brokerTable.byGUID(ctx, s, guids)
}

const offeringCols = `id, guid, broker_guid, name, unique_id, description, active, bindable, plan_updateable, instances_retrievable,
	bindings_retrievable, allow_context_updates, tags, requires, extra, labels, annotations, created_at, updated_at`

func scanOffering(r scanner) (ServiceOffering, error) {
	var o ServiceOffering
	var extra sql.NullString
	err := r.Scan(&o.ID, &o.GUID, &o.BrokerGUID, &o.Name, &o.UniqueID, &o.Description, &o.Active, &o.Bindable, &o.PlanUpdateable,
		&o.InstancesRetrievable, &o.BindingsRetrievable, &o.AllowContextUpdates, jsonColumn{&o.Tags}, jsonColumn{&o.Requires}, &extra,
		&o.Labels, &o.Annotations, &o.CreatedAt, &o.UpdatedAt)
	o.Extra = nullStr(extra)
	o.Tags, o.Requires = nonNilList(o.Tags), nonNilList(o.Requires)
	return o, err
}

const planCols = `id, guid, offering_guid, name, unique_id, description, free, active, public, bindable, plan_updateable,
	maximum_polling_duration, extra, create_instance_schema, update_instance_schema, create_binding_schema,
	EXISTS (SELECT 1 FROM service_plan_visibilities v WHERE v.plan_guid = service_plans.guid), labels, annotations, created_at, updated_at`

func scanPlan(r scanner) (ServicePlan, error) {
	var p ServicePlan
	var bindable, updateable sql.NullBool
	var maxPoll sql.NullInt64
	var extra, create, update, bind sql.NullString
	err := r.Scan(&p.ID, &p.GUID, &p.OfferingGUID, &p.Name, &p.UniqueID, &p.Description, &p.Free, &p.Active, &p.Public, &bindable,
		&updateable, &maxPoll, &extra, &create, &update, &bind, &p.HasOrgs, &p.Labels, &p.Annotations, &p.CreatedAt, &p.UpdatedAt)
	p.Bindable, p.PlanUpdateable, p.MaximumPollingDuration = nullBool(bindable), nullBool(updateable), nullInt(maxPoll)
	p.Extra, p.CreateInstanceSchema, p.UpdateInstanceSchema, p.CreateBindingSchema = nullStr(extra), nullStr(create), nullStr(update), nullStr(bind)
	return p, err
}

func nullBool(n sql.NullBool) *bool {
	if !n.Valid {
		return nil
	}
	v := n.Bool
	return &v
}

// offeringTable and planTable read the marketplace; their lists go through
// marketWhere, which applies visibility with the filter.
var (
	offeringTable = table[ServiceOffering]{name: "service_offerings", cols: offeringCols, scan: scanOffering,
		order: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name"}}
	planTable = table[ServicePlan]{name: "service_plans", cols: planCols, scan: scanPlan, order: orderNamed}
)

// visiblePlans is the condition on a service_plans row that v sees it:
// public, or visible in one of orgs (nil: every plan).
func visiblePlans(w *where, orgs []string) {
	if orgs == nil {
		return
	}
	vis := &where{}
	vis.in("org_guid", orgs)
	w.add("(service_plans.public = 1 OR service_plans.guid IN (SELECT plan_guid FROM service_plan_visibilities"+vis.sql()+"))", vis.args...)
}

// marketPlans builds the conditions on service_plans of f as v sees it.
func (s *Store) marketPlans(ctx context.Context, v Viewer, f MarketFilter, forPlans bool) (*where, error) {
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	var orgs []string // nil: all plans
	if !sc.all {
		orgs = sc.orgs
	}
	// An organization or space filter limits the plans to the public ones
	// and those of the requested organizations the viewer can see, admins
	// included (BaseServiceListFetcher#filter_by_org_guid).
	narrow := func(requested []string) {
		if orgs == nil {
			orgs = requested
			return
		}
		keep := []string{}
		for _, o := range requested {
			if slices.Contains(orgs, o) {
				keep = append(keep, o)
			}
		}
		orgs = keep
	}
	if f.OrgGUIDs != nil {
		narrow(f.OrgGUIDs)
	}
	if f.SpaceGUIDs != nil {
		spaces := f.SpaceGUIDs
		if !sc.all {
			spaces = intersect(spaces, sc.spaces)
		}
		spaceOrgs, err := s.orgsOfSpaces(ctx, spaces)
		if err != nil {
			return nil, err
		}
		narrow(spaceOrgs)
	}
	w := &where{}
	visiblePlans(w, orgs)
	w.inSelect("service_plans.offering_guid", "SELECT guid FROM service_offerings WHERE broker_guid", f.BrokerGUIDs)
	w.inSelect("service_plans.offering_guid", "SELECT o.guid FROM service_offerings o JOIN service_brokers b ON b.guid = o.broker_guid WHERE b.name", f.BrokerNames)
	if forPlans {
		f.own(w, "service_plans.")
		w.in("service_plans.offering_guid", f.OfferingGUIDs)
		w.inSelect("service_plans.offering_guid", "SELECT guid FROM service_offerings WHERE name", f.OfferingNames)
		w.inSelect("service_plans.guid", "SELECT service_plan_guid FROM service_instances WHERE guid", f.ServiceInstanceGUIDs)
	}
	return w, nil
}

// own adds the conditions f puts on the listed rows' own columns, named
// with prefix.
func (f MarketFilter) own(w *where, prefix string) {
	w.in(prefix+"guid", f.GUIDs)
	w.in(prefix+"name", f.Names)
	if f.Available != nil {
		w.add(prefix+"active = ?", *f.Available)
	}
	w.in(prefix+"unique_id", f.BrokerCatalogIDs)
	w.labels(prefix+"labels", f.Labels)
	w.times(prefix+"created_at", f.CreatedAts)
	w.times(prefix+"updated_at", f.UpdatedAts)
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// orgsOfSpaces returns the organizations of spaces.
func (s *Store) orgsOfSpaces(ctx context.Context, spaces []string) ([]string, error) {
	out := []string{}
	if len(spaces) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("guid", spaces)
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT org_guid FROM spaces"+w.sql(), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ListServicePlans returns one page of the plans v can see that f keeps.
func (s *Store) ListServicePlans(ctx context.Context, v Viewer, f MarketFilter, p Page) ([]ServicePlan, int, error) {
	w, err := s.marketPlans(ctx, v, f, true)
	if err != nil {
		return nil, 0, err
	}
	return list(ctx, s.db, planTable.name, planTable.cols, w, p, planTable.order, planTable.scan)
}

// ListServiceOfferings returns one page of the offerings v can see (those
// with a plan v can see) that f keeps.
func (s *Store) ListServiceOfferings(ctx context.Context, v Viewer, f MarketFilter, p Page) ([]ServiceOffering, int, error) {
	plans, err := s.marketPlans(ctx, v, MarketFilter{OrgGUIDs: f.OrgGUIDs, SpaceGUIDs: f.SpaceGUIDs}, false)
	if err != nil {
		return nil, 0, err
	}
	w := &where{}
	w.add("guid IN (SELECT offering_guid FROM service_plans"+plans.sql()+")", plans.args...)
	f.own(w, "")
	w.in("broker_guid", f.BrokerGUIDs)
	w.inSelect("broker_guid", "SELECT guid FROM service_brokers WHERE name", f.BrokerNames)
	return list(ctx, s.db, offeringTable.name, offeringTable.cols, w, p, offeringTable.order, offeringTable.scan)
}

// GetServicePlan returns the plan guid if v can see it.
func (s *Store) GetServicePlan(ctx context.Context, v Viewer, guid string) (ServicePlan, error) {
	return getOne(ctx, s, v, guid, s.ListServicePlans)
}

// GetServiceOffering returns the offering guid if v can see it.
func (s *Store) GetServiceOffering(ctx context.Context, v Viewer, guid string) (ServiceOffering, error) {
	return getOne(ctx, s, v, guid, s.ListServiceOfferings)
}

func getOne[T any](ctx context.Context, _ *Store, v Viewer, guid string, l func(context.Context, Viewer, MarketFilter, Page) ([]T, int, error)) (T, error) {
	items, _, err := l(ctx, v, MarketFilter{GUIDs: []string{guid}}, Page{Page: 1, PerPage: 1})
	if err == nil && len(items) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return items[0], nil
}

// ServicePlansByGUID and ServiceOfferingsByGUID return the named rows,
// without visibility checks.
func (s *Store) ServicePlansByGUID(ctx context.Context, guids []string) ([]ServicePlan, error) {
	return planTable.byGUID(ctx, s, guids)
}

// ServiceOfferingsByGUID returns the named offerings, without visibility checks.
func (s *Store) ServiceOfferingsByGUID(ctx context.Context, guids []string) ([]ServiceOffering, error) {
	return offeringTable.byGUID(ctx, s, guids)
}

// PlanVisibleInOrg says whether plan is public or visible in org
// (ServicePlan#visible_in_space? for a space of org).
func (s *Store) PlanVisibleInOrg(ctx context.Context, plan ServicePlan, org string) (bool, error) {
	if plan.Public {
		return true, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM service_plan_visibilities WHERE plan_guid = ? AND org_guid = ?`, plan.GUID, org).Scan(&n)
	return n > 0, err
}

// PlanOrgs returns the organizations a plan is visible in that v can see,
// in the order they were made (ServicePlanVisibilityFetcher#fetch_orgs).
func (s *Store) PlanOrgs(ctx context.Context, v Viewer, planGUID string) ([]Org, error) {
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.add("guid IN (SELECT org_guid FROM service_plan_visibilities WHERE plan_guid = ?)", planGUID)
	w.visibleOrgs("guid", sc)
	out, _, err := list(ctx, s.db, "organizations", orgCols, w, Page{Page: 1, PerPage: 5000}, nil, scanOrg)
	return out, err
}
