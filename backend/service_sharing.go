package backend

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"capibridge/backend/store"
)

// What else ServiceInstancesV3Controller serves about an instance: its
// parameters, the caller's permissions, and the spaces it is shared into
// (ServiceInstanceShare, ServiceInstanceUnshare,
// SharedSpacesUsageSummaryPresenter).

// readableInstance loads the instance of the path if the caller can see it
// (in its space or one it is shared into).
func (s *Server) readableInstance(r *request) (store.ServiceInstance, error) {
	return serviceInstanceResource.find(s, r, r.params[0])
}

// sharedSpacesJSON is the to-many relationship of an instance's shared
// spaces (ToManyRelationshipPresenter, build_related: false).
type sharedSpacesJSON struct {
	Data  []guidOnly `json:"data"`
	Links struct {
		Self link `json:"self"`
	} `json:"links"`
}

type guidOnly struct {
	GUID string `json:"guid"`
}

func (s *Server) presentSharedSpaces(r *request, si store.ServiceInstance) (sharedSpacesJSON, []store.Space, error) {
	spaces, err := s.store.SharedSpaces(r.ctx, si.GUID)
	if err != nil {
		return sharedSpacesJSON{}, nil, errInternal(err)
	}
	out := sharedSpacesJSON{Data: make([]guidOnly, len(spaces))}
	for i, sp := range spaces {
		out.Data[i] = guidOnly{sp.GUID}
	}
	out.Links.Self = link{Href: r.base + "/v3/service_instances/" + si.GUID + "/relationships/shared_spaces"}
	return out, spaces, nil
}

// getSharedSpaces is GET /v3/service_instances/:guid/relationships/shared_spaces,
// with fields[space] and fields[space.organization].
func (s *Server) getSharedSpaces(r *request) error {
	si, err := s.readableInstance(r)
	if err != nil {
		return err
	}
	if err := r.query.allow("fields"); err != nil {
		return err
	}
	if r.fields, err = r.query.fields(sharedSpacesFields); err != nil {
		return err
	}
	out, spaces, err := s.presentSharedSpaces(r, si)
	if err != nil {
		return err
	}
	if len(r.fields) == 0 {
		return r.reply(200, out)
	}
	guids := make([]string, len(spaces))
	for i, sp := range spaces {
		guids[i] = sp.GUID
	}
	inc, err := s.spaceFields(r, guids)
	if err != nil {
		return err
	}
	return r.reply(200, withIncluded{out, inc})
}

// writableInstanceAt loads the instance of the path for a change of its
// sharing: seen (404 "Service instance not found"), written in its own
// space (403), in an active organization.
func (s *Server) writableInstanceAt(r *request) (store.ServiceInstance, error) {
	si, err := s.readableInstance(r)
	if err != nil {
		return si, err
	}
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return si, err
	}
	return si, roles.writeErr()
}

// shareServiceInstance is POST /v3/service_instances/:guid/relationships/shared_spaces:
// 200 with every space the instance is now shared into. The embedded CF
// runs with the service_instance_sharing feature flag enabled.
func (s *Server) shareServiceInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if err := s.requireFlag(r, "service_instance_sharing"); err != nil {
		return err
	}
	si, err := s.writableInstanceAt(r)
	if err != nil {
		return err
	}
	guids, err := parseToMany(r.ctx.PostBody())
	if err != nil {
		return err
	}
	targets, err := s.shareTargets(r, si, guids)
	if err != nil {
		return err
	}
	if err := s.checkShare(r, si, targets); err != nil {
		return err
	}
	c := store.ServiceChange{ShareGUID: si.GUID}
	for _, sp := range targets {
		c.Share = append(c.Share, sp.GUID)
	}
	data, _ := json.Marshal(map[string]any{"target_space_guids": c.Share})
	c.Events = []store.Event{s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.share", si.GUID, "service_instance", si.Name,
		si.SpaceGUID, data)}
	if err := s.store.ApplyServices(r.ctx, c); err != nil {
		return errInternal(err)
	}
	out, _, err := s.presentSharedSpaces(r, si)
	if err != nil {
		return err
	}
	return r.reply(200, out)
}

// parseToMany reads a to-many relationship body (ToManyRelationshipMessage).
func parseToMany(body []byte) ([]string, error) {
	o, err := decodeObject(body, "data")
	if err != nil {
		return nil, err
	}
	if !o.has("data") || o.isNull("data") {
		return nil, errUnprocessable("Data can't be blank, Data must be an array")
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(o["data"], &items); err != nil {
		return nil, errUnprocessable("Data must be an array")
	}
	if len(items) == 0 {
		return nil, errUnprocessable("Data can't be blank")
	}
	guids := make([]string, len(items))
	for i, item := range items {
		if json.Unmarshal(item["guid"], &guids[i]) != nil {
			return nil, errUnprocessable(fmt.Sprintf("Invalid data type: Data[%d] guid should be a string.", i))
		}
	}
	return guids, nil
}

// shareTargets finds the spaces to share into, with
// check_spaces_exist_and_are_writeable!'s texts for those that are not
// there or not the caller's to write.
func (s *Server) shareTargets(r *request, si store.ServiceInstance, guids []string) ([]store.Space, error) {
	var unreadable, unwritable []string
	var out []store.Space
	for _, g := range guids {
		sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), g)
		if err != nil {
			unreadable = append(unreadable, "'"+g+"'")
			continue
		}
		roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
		if err != nil {
			return nil, errInternal(err)
		}
		if !roles.write || roles.suspended {
			unwritable = append(unwritable, "'"+g+"'")
			continue
		}
		out = append(out, sp)
	}
	var problems []string
	if len(unreadable) > 0 {
		problems = append(problems, "Unable to share service instance "+si.Name+" with spaces ["+strings.Join(unreadable, ", ")+
			"]. Ensure the spaces exist and that you have access to them.")
	}
	if len(unwritable) > 0 {
		problems = append(problems, "Unable to share service instance "+si.Name+" with spaces ["+strings.Join(unwritable, ", ")+
			"]. Write permission is required in order to share a service instance with a space.")
	}
	if len(problems) > 0 {
		return nil, errUnprocessable(strings.Join(problems, "\n"))
	}
	return out, nil
}

// checkShare is ServiceInstanceShare#create's validation, in its order.
func (s *Server) checkShare(r *request, si store.ServiceInstance, targets []store.Space) error {
	if si.Type != store.Managed {
		return errUnprocessable("User-provided services cannot be shared.")
	}
	plan, offerings, err := s.planOf(r.ctx, si)
	if err != nil {
		return err
	}
	offering := offerings[plan.OfferingGUID]
	if _, md := catalogMetadata(offering.Extra); md["shareable"] != true {
		return errUnprocessable("The " + offering.Name + " service does not support service instance sharing.")
	}
	for _, sp := range targets {
		if sp.GUID == si.SpaceGUID {
			return errUnprocessable("Unable to share service instance '" + si.Name + "' with space '" + si.SpaceGUID + "'. " +
				"Service instances cannot be shared into the space where they were created.")
		}
	}
	for _, sp := range targets {
		visible, err := s.store.PlanVisibleInOrg(r.ctx, plan, sp.OrgGUID)
		if err != nil {
			return errInternal(err)
		}
		org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, sp.OrgGUID)
		if err != nil {
			return errInternal(err)
		}
		if !visible {
			return errUnprocessable("Access to service " + offering.Name + " and plan " + plan.Name + " is not enabled in " + org.Name + "/" + sp.Name + ".")
		}
		there, _, err := s.store.ListServiceInstances(r.ctx, store.Viewer{All: true}, store.ServiceInstanceFilter{Names: []string{si.Name},
			SpaceGUIDs: []string{sp.GUID}}, store.Page{Page: 1, PerPage: 5})
		if err != nil {
			return errInternal(err)
		}
		for _, other := range there {
			switch {
			case other.GUID == si.GUID:
			case other.SpaceGUID == sp.GUID:
				return errUnprocessable("A service instance called " + si.Name + " already exists in " + sp.Name + ".")
			default:
				return errUnprocessable("A service instance called " + si.Name + " has already been shared with " + sp.Name + ".")
			}
		}
	}
	switch lo := si.LastOperation; {
	case lo == nil:
	case lo.Type == "create" && lo.State == "failed":
		return errInstanceGone(si.Name)
	case lo.Type == "create" && lo.InProgress():
		return errUnprocessable("Service instance is currently being created. It can be shared after its creation succeeded.")
	case lo.Type == "delete" && lo.InProgress():
		return errUnprocessable("The service instance is getting deleted.")
	}
	return nil
}

// unshareServiceInstance is DELETE
// /v3/service_instances/:guid/relationships/shared_spaces/:space_guid, 204:
// the app bindings in that space go with it. The built-in broker unbinds
// them at once here, where CC would run an unbind for each.
func (s *Server) unshareServiceInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.writableInstanceAt(r)
	if err != nil {
		return err
	}
	target := r.params[1]
	if _, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, target); err != nil {
		return errUnprocessable("Unable to unshare service instance from space " + target + ". Ensure the space exists.")
	}
	bindings, err := s.instanceBindings(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	data, _ := json.Marshal(map[string]string{"target_space_guid": target})
	c := store.ServiceChange{ShareGUID: si.GUID, Unshare: []string{target}}
	for _, b := range bindings {
		if b.Type != "app" || b.SpaceGUID != target {
			continue
		}
		if inProgress(b) {
			return &apiError{Status: 502, Code: 390001, Title: "CF-ServiceInstanceUnshareFailed", Detail: "Unshare of service instance failed: \n\n" +
				"Unshare of service instance failed because one or more bindings could not be deleted.\n\n \tThe binding between an application and " +
				"service instance " + si.Name + " in space " + target + " is being deleted asynchronously."}
		}
		if err := s.store.DeleteBrokerRecord(r.ctx, b.GUID); err != nil {
			return errInternal(err)
		}
		c.DeleteBindings = append(c.DeleteBindings, b.GUID)
		c.Events = append(c.Events, s.serviceEvent(r.ctx, r.user.actor(), "audit.service_binding.delete", b.GUID, "service_binding", deref(b.Name),
			b.SpaceGUID, auditData(nil)))
	}
	c.Events = append(c.Events, s.serviceEvent(r.ctx, r.user.actor(), "audit.service_instance.unshare", si.GUID, "service_instance", si.Name,
		si.SpaceGUID, data))
	if err := s.store.ApplyServices(r.ctx, c); err != nil {
		return errInternal(err)
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// getSharedSpacesUsage is GET
// /v3/service_instances/:guid/relationships/shared_spaces/usage_summary:
// per shared space, in the order the spaces were made, how many app
// bindings the instance has there.
func (s *Server) getSharedSpacesUsage(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.readableInstance(r)
	if err != nil {
		return err
	}
	spaces, err := s.store.SharedSpaces(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	bindings, err := s.instanceBindings(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	count := map[string]int{}
	for _, b := range bindings {
		if b.Type == "app" {
			count[b.SpaceGUID]++
		}
	}
	sort.SliceStable(spaces, func(i, j int) bool { return spaces[i].ID < spaces[j].ID })
	type usage struct {
		Space         guidOnly `json:"space"`
		BoundAppCount int      `json:"bound_app_count"`
	}
	out := struct {
		UsageSummary []usage `json:"usage_summary"`
		Links        struct {
			Self            link `json:"self"`
			SharedSpaces    link `json:"shared_spaces"`
			ServiceInstance link `json:"service_instance"`
		} `json:"links"`
	}{UsageSummary: make([]usage, len(spaces))}
	for i, sp := range spaces {
		out.UsageSummary[i] = usage{guidOnly{sp.GUID}, count[sp.GUID]}
	}
	self := r.base + "/v3/service_instances/" + si.GUID
	out.Links.Self = link{Href: self + "/relationships/shared_spaces/usage_summary"}
	out.Links.SharedSpaces = link{Href: self + "/relationships/shared_spaces"}
	out.Links.ServiceInstance = link{Href: self}
	return r.reply(200, out)
}
