package backend

import (
	"sort"

	"capibridge/backend/store"
)

// fields[...] of service instances, their shared spaces and their
// decorators (cc:app/decorators/field_service_instance_*_decorator.rb):
// spaces and organizations of the resources, named only to readers who
// can see them; the plans, offerings and brokers of the managed ones.

// instanceListFields and instanceShowFields are what fields[...] may ask
// of a list of instances and of one (ServiceInstancesListMessage,
// ServiceInstanceShowMessage).
var (
	instanceListFields = []fieldSpec{
		{"space", []string{"guid", "name", "relationships.organization"}},
		{"space.organization", []string{"name", "guid"}},
		{"service_plan", []string{"guid", "name", "relationships.service_offering"}},
		{"service_plan.service_offering", []string{"name", "guid", "description", "documentation_url", "tags", "relationships.service_broker"}},
		{"service_plan.service_offering.service_broker", []string{"name", "guid"}},
	}
	instanceShowFields = []fieldSpec{
		{"space", []string{"name", "guid"}},
		{"space.organization", []string{"name", "guid"}},
		{"service_plan", []string{"name", "guid"}},
		{"service_plan.service_offering", []string{"name", "guid", "description", "tags", "documentation_url"}},
		{"service_plan.service_offering.service_broker", []string{"name", "guid"}},
	}
	// sharedSpacesFields are SharedSpacesShowMessage's.
	sharedSpacesFields = []fieldSpec{
		{"space", []string{"name", "guid", "relationships.organization"}},
		{"space.organization", []string{"name", "guid"}},
	}
)

// instanceFields is the included block fields[...] asks of instances.
func (s *Server) instanceFields(r *request, items []store.ServiceInstance) (ordered, error) {
	spaces := make([]string, len(items))
	var plans []string
	for i, si := range items {
		spaces[i] = si.SpaceGUID
		if si.Type == store.Managed {
			plans = append(plans, si.PlanGUID)
		}
	}
	out, err := s.spaceFields(r, spaces)
	if err != nil || len(plans) == 0 {
		return out, err
	}
	planRows, err := s.store.ServicePlansByGUID(r.ctx, uniq(plans))
	if err != nil {
		return nil, errInternal(err)
	}
	sortByCreation(planRows, func(p store.ServicePlan) (int64, string) { return p.CreatedAt, p.GUID })
	if keys, ok := r.fields["service_plan"]; ok {
		views := make([]ordered, len(planRows))
		for i, p := range planRows {
			views[i] = pick(keys, field{"guid", "guid", p.GUID}, field{"name", "name", p.Name},
				field{"relationships.service_offering", "relationships", rel("service_offering", p.OfferingGUID)})
		}
		out = append(out, field{key: "service_plans", val: views})
	}
	_, offerings, err := s.offeringsOf(r.ctx, planRows)
	if err != nil {
		return nil, err
	}
	sortByCreation(offerings, func(o store.ServiceOffering) (int64, string) { return o.CreatedAt, o.GUID })
	if keys, ok := r.fields["service_plan.service_offering"]; ok {
		views := make([]ordered, len(offerings))
		for i, o := range offerings {
			_, md := catalogMetadata(o.Extra)
			doc := md["documentationUrl"] // null when the catalog has none
			views[i] = pick(keys, field{"name", "name", o.Name}, field{"guid", "guid", o.GUID}, field{"description", "description", o.Description},
				field{"tags", "tags", o.Tags}, field{"documentation_url", "documentation_url", doc},
				field{"relationships.service_broker", "relationships", rel("service_broker", o.BrokerGUID)})
		}
		out = append(out, field{key: "service_offerings", val: views})
	}
	if keys, ok := r.fields["service_plan.service_offering.service_broker"]; ok {
		brokers, err := s.brokersOf(r.ctx, offerings, keys)
		if err != nil {
			return nil, err
		}
		out = append(out, brokers)
	}
	return out, nil
}

// spaceFields is the spaces and organizations part of an included block:
// the spaces of guids, then their organizations, each in the order they
// were made.
func (s *Server) spaceFields(r *request, guids []string) (ordered, error) {
	out := ordered{}
	spaceKeys, withSpaces := r.fields["space"]
	orgKeys, withOrgs := r.fields["space.organization"]
	if !withSpaces && !withOrgs {
		return out, nil
	}
	spaces, err := s.store.SpacesByGUID(r.ctx, uniq(guids))
	if err != nil {
		return nil, errInternal(err)
	}
	sortByCreation(spaces, func(sp store.Space) (int64, string) { return sp.CreatedAt, sp.GUID })
	if withSpaces {
		views := make([]ordered, len(spaces))
		for i, sp := range spaces {
			f := []field{{"guid", "guid", sp.GUID}}
			if _, err := s.store.GetSpace(r.ctx, r.viewer(), sp.GUID); err == nil {
				f = append(f, field{"name", "name", sp.Name})
			}
			f = append(f, field{"relationships.organization", "relationships", rel("organization", sp.OrgGUID)})
			views[i] = pick(spaceKeys, f...)
		}
		out = append(out, field{key: "spaces", val: views})
	}
	if withOrgs {
		orgGUIDs := make([]string, len(spaces))
		for i, sp := range spaces {
			orgGUIDs[i] = sp.OrgGUID
		}
		views := []ordered{}
		var orgs []store.Org
		for _, g := range uniq(orgGUIDs) {
			o, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, g)
			if err != nil {
				return nil, errInternal(err)
			}
			orgs = append(orgs, o)
		}
		sortByCreation(orgs, func(o store.Org) (int64, string) { return o.CreatedAt, o.GUID })
		for _, o := range orgs {
			f := []field{{"guid", "guid", o.GUID}}
			if _, err := s.store.GetOrg(r.ctx, r.viewer(), o.GUID); err == nil {
				f = append(f, field{"name", "name", o.Name})
			}
			views = append(views, pick(orgKeys, f...))
		}
		out = append(out, field{key: "organizations", val: views})
	}
	return out, nil
}

// sortByCreation orders rows by creation time, then guid, as the
// decorators do.
func sortByCreation[T any](rows []T, key func(T) (int64, string)) {
	sort.SliceStable(rows, func(i, j int) bool {
		ti, gi := key(rows[i])
		tj, gj := key(rows[j])
		if ti != tj {
			return ti < tj
		}
		return gi < gj
	})
}

// rel is a to-one relationship as a fields view shows it.
func rel(name, guid string) map[string]toOne {
	return map[string]toOne{name: one(guid)}
}
