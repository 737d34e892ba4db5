package v2api

import (
	"errors"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// Organization and space writes (MAPPING-orgs §11.2.2–§11.2.4, §11.4): the
// bodies checked as CC's models checked them, v3's writes, and the
// non-recursive delete refusals v3 does not make (it always deletes
// recursively).

// createOrg is POST /v2/organizations: an unknown quota is InvalidRelation
// before anything is created. v3 makes a non-admin creator an org user and
// manager, as v2 did.
func createOrg(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Org, error) {
	var o translate.V3Org
	req, err := translate.ParseOrgRequest(body, true)
	if err != nil {
		return o, err
	}
	if te := req.Check(); te != nil {
		return o, withCause(te, nil)
	}
	c := call(ctx)
	if req.QuotaGUID != nil {
		if err := g.v3.OrgQuotaExists(c, *req.QuotaGUID); err != nil {
			return o, v2ErrorAs(err, withCause(translate.InvalidRelation("Could not find QuotaDefinition with guid: "+*req.QuotaGUID), nil))
		}
	}
	// The role lists' users are checked before the org exists: CC adds
	// them after the save, but v3 lets only admins delete an org again.
	roles, err := g.planRoleLists(c, false, "", "", req.Roles, true)
	if err != nil {
		return o, err
	}
	v3body, err := translate.V3OrgWrite(req)
	if err != nil {
		return o, err
	}
	o, err = g.v3.CreateOrg(c, v3body)
	if err := orgWriteError(err, *req.Name); err != nil {
		return o, err
	}
	if req.QuotaGUID != nil {
		if err := g.v3.AssignOrgQuota(c, *req.QuotaGUID, o.GUID); err != nil {
			g.deleteOrgAgain(c, o.GUID)
			return o, v2Error(err, "")
		}
	}
	if roles != nil {
		roles.parent = o.GUID
		if err := g.applyRoleLists(c, roles); err != nil {
			g.deleteOrgAgain(c, o.GUID)
			return o, err
		}
	}
	if req.QuotaGUID != nil {
		return g.v3.GetOrg(c, o.GUID)
	}
	return o, nil
}

// deleteOrgAgain undoes a create that failed half way, as CC's create
// transaction rolled back (a non-admin creator cannot: v3 lets only
// admins delete orgs).
func (g *API) deleteOrgAgain(c ccv3.Call, guid string) {
	if job, err := g.v3.DeleteOrg(c, guid); err == nil {
		_ = g.awaitJob(c, job, jobFailed)
	}
}

// updateOrg is PUT /v2/organizations/:guid: 201 with the org. CC's order
// (OrganizationsController#update): before_update's segment check,
// read_for_update?, the role lists (set before the model validates), the
// model's validation, then the writes; the role lists are applied last.
func updateOrg(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Org, error) {
	req, err := translate.ParseOrgRequest(body, false)
	if err != nil {
		return translate.V3Org{}, err
	}
	c := call(ctx)
	o, err := g.v3.GetOrg(c, guid)
	if err != nil {
		return o, v2ErrorAs(err, orgNotFound(guid))
	}
	if iso := req.IsolationSegmentGUID; iso != nil {
		// before_update: a segment that does not exist, before anything
		// else.
		if err := g.segmentExists(c, *iso); err != nil {
			return o, v2ErrorAs(err, withCause(translate.ResourceNotFound("Could not find Isolation Segment to set as the default."), nil))
		}
	}
	if err := g.orgReadForUpdate(ctx, c, o, req); err != nil {
		return o, err
	}
	roles, err := g.planRoleLists(c, false, guid, guid, req.Roles, false)
	if err != nil {
		return o, err
	}
	if te := req.Check(); te != nil {
		return o, withCause(te, nil)
	}
	if err := g.keepsAccess(ctx, c, roles, guid); err != nil {
		return o, err
	}
	if iso := req.IsolationSegmentGUID; iso != nil {
		// A segment the org is not entitled to is Organization#validate's
		// InvalidRelation (v3: 422 "Unable to assign isolation segment"),
		// refused before the org's other attributes change.
		err := g.v3.SetOrgDefaultSegment(c, guid, translate.SegmentRelationshipBody(*iso))
		var e *ccv3.Error
		switch {
		case errors.As(err, &e) && e.Status == 422:
			return o, withCause(translate.InvalidRelation("Could not find Isolation Segment with guid: "+*iso), err)
		case err != nil:
			return o, v2ErrorAs(err, orgNotFound(guid))
		}
	}
	name := o.Name
	if req.Name != nil {
		name = *req.Name
	}
	if req.Name != nil || req.Status != nil {
		v3body, err := translate.V3OrgWrite(req)
		if err != nil {
			return o, err
		}
		if o, err = g.v3.UpdateOrg(c, guid, v3body); orgWriteError(err, name) != nil {
			return o, orgWriteError(err, name)
		}
	}
	if req.QuotaGUID != nil {
		if err := g.v3.AssignOrgQuota(c, *req.QuotaGUID, guid); err != nil {
			return o, v2ErrorAs(err, withCause(translate.InvalidRelation("Could not find QuotaDefinition with guid: "+*req.QuotaGUID), nil))
		}
	}
	if err := g.applyRoleLists(c, roles); err != nil {
		return o, err
	}
	if req.QuotaGUID != nil {
		return g.v3.GetOrg(c, guid)
	}
	return o, nil
}

// segmentExists is nil when the isolation segment guid exists (for the
// caller: v3 hides a segment entitled to none of a non-admin's orgs).
func (g *API) segmentExists(c ccv3.Call, guid string) error {
	if guid == "" {
		// No segment has an empty guid; v3 would read the collection.
		return &ccv3.Error{Status: 404}
	}
	return g.v3.IsolationSegmentExists(c, guid)
}

// setSpaceSegment assigns the space's isolation segment when the body
// named one; one the org is not entitled to is Space#validate's
// UnableToPerform (v3: 422 "Unable to assign isolation segment").
func (g *API) setSpaceSegment(c ccv3.Call, space string, iso *string) error {
	if iso == nil {
		return nil
	}
	err := g.v3.SetSpaceSegment(c, space, translate.SegmentRelationshipBody(*iso))
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == 422 {
		return withCause(translate.SegmentNotAllowed(), err)
	}
	return v2ErrorAs(err, spaceNotFound(space))
}

// orgWriteError is a failed v3 org write in v2's words.
func orgWriteError(err error, name string) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.OrgWriteError(e.Status, e.Title(), e.Detail(), name); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// removeOrg is DELETE /v2/organizations/:guid (§11.2.4): admin only; without
// recursive=true, owned private domains and space quotas, then spaces,
// refuse it.
func removeOrg(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	if _, err := g.v3.GetOrg(c, guid); err != nil {
		return "", v2ErrorAs(err, orgNotFound(guid))
	}
	if !isAdmin(ctx) {
		return "", errNotAuthorized(nil)
	}
	if !flagTrue(ctx, "recursive") {
		domains, err := g.v3.ListOrgDomains(c, guid, ccv3.ListQuery{PerPage: 5000})
		if err != nil {
			return "", v2Error(err, "")
		}
		for _, d := range domains.Resources {
			if d.Relationships.Organization.GUID() == guid {
				return "", withCause(translate.AssociationNotEmpty("owned_private_domains", "organizations"), nil)
			}
		}
		spaces, err := g.v3.ListSpaces(c, ccv3.ListQuery{OrgGUIDs: []string{guid}, PerPage: 1})
		if err != nil {
			return "", v2Error(err, "")
		}
		if spaces.Pagination.TotalResults > 0 {
			return "", withCause(translate.AssociationNotEmpty("spaces", "organizations"), nil)
		}
	}
	job, err := g.v3.DeleteOrg(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, orgNotFound(guid))
	}
	return job, nil
}

// createSpace is POST /v2/spaces: v3's create, then allow_ssh (default
// true, as v2's column) when it differs from v3's default, the space quota
// and the role lists (MAPPING-orgs §11.4); a failure after the create
// deletes the space again.
func createSpace(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Space, error) {
	var sp translate.V3Space
	req, err := translate.ParseSpaceRequest(body, true)
	if err != nil {
		return sp, err
	}
	if te := req.Check(); te != nil {
		return sp, withCause(te, nil)
	}
	c := call(ctx)
	v3body, err := translate.V3SpaceWrite(req, true)
	if err != nil {
		return sp, err
	}
	sp, err = g.v3.CreateSpace(c, v3body)
	if err := spaceWriteError(err, req); err != nil {
		return sp, err
	}
	if err := g.completeSpace(c, sp.GUID, req); err != nil {
		if job, derr := g.v3.DeleteSpace(c, sp.GUID); derr == nil {
			_ = g.awaitJob(c, job, jobFailed)
		}
		return sp, err
	}
	// The quota shows in the space's relationships.
	if req.QuotaGUID != nil {
		if again, err := g.v3.GetSpace(c, sp.GUID); err == nil {
			sp = again
		}
	}
	return sp, nil
}

// completeSpace gives a new space what v3's create does not: allow_ssh,
// the isolation segment, the space quota, the role lists and the security
// groups.
func (g *API) completeSpace(c ccv3.Call, guid string, req translate.SpaceRequest) error {
	if err := g.setSpaceSSH(c, guid, req.AllowSSH); err != nil {
		return err
	}
	// Space#validate refuses the segment before the quota's org is
	// checked.
	if err := g.setSpaceSegment(c, guid, req.IsolationSegmentGUID); err != nil {
		return err
	}
	if q := req.QuotaGUID; q != nil {
		err := g.v3.ApplySpaceQuota(c, *q, guid)
		var e *ccv3.Error
		switch {
		case errors.As(err, &e) && e.Status == 404:
			return withCause(translate.InvalidRelation("Could not find SpaceQuotaDefinition with guid: "+*q), err)
		case errors.As(err, &e) && strings.Contains(e.Detail(), "outside of their owning organization"):
			return withCause(translate.SpaceInvalid("space_quota_definition invalid_organization"), err)
		case err != nil:
			return v2Error(err, "")
		}
	}
	roles, err := g.planRoleLists(c, true, guid, deref(req.OrgGUID), req.Roles, true)
	if err != nil {
		return err
	}
	if err := g.applyRoleLists(c, roles); err != nil {
		return err
	}
	for _, staging := range []bool{false, true} {
		groups := req.SecurityGroups
		if staging {
			groups = req.StagingSecurityGroups
		}
		for _, sg := range distinct(groups) {
			if err := g.bindSpaceGroup(c, sg, staging, guid); err != nil {
				return err
			}
		}
	}
	return nil
}

// bindSpaceGroup binds the security group sg to space for running apps, or
// for staging (MAPPING-orgs §12.7). v3 answers 404 for a group that does
// not exist and for one the caller cannot see; v2 found any group by its
// guid, so a non-admin who names a group bound to none of their spaces is
// refused here where CC bound it.
func (g *API) bindSpaceGroup(c ccv3.Call, sg string, staging bool, space string) error {
	err := g.v3.BindSecurityGroup(c, sg, staging, []string{space})
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == 404 {
		return withCause(translate.SecurityGroupRelationNotFound(sg), err)
	}
	return v2Error(err, "")
}

// spaceGroupChange is how security_group_guids (staging:
// staging_security_group_guids) change a space's groups.
type spaceGroupChange struct {
	staging        bool
	added, removed []string
	current        map[string]translate.V3SecurityGroup
}

// planSpaceGroups diffs security_group_guids (staging:
// staging_security_group_guids) of a space update against the space's
// groups, as CC's guids writer does: it diffs the request against Space's
// security_groups, which is the groups bound to the space and every
// globally enabled one (cc:app/models/runtime/space.rb, the same union as
// v3's /v3/spaces/:guid/running_security_groups), adds the new ones and
// removes the others. So a globally enabled group named in the request
// is not bound to the space, and one left out is not unbound globally:
// its removal deletes no row in CC. The groups to add are looked up here,
// before anything changes, as CC's update fails whole in its transaction.
func (g *API) planSpaceGroups(c ccv3.Call, space string, req translate.SpaceRequest) ([]spaceGroupChange, error) {
	var changes []spaceGroupChange
	for _, staging := range []bool{false, true} {
		requested := req.SecurityGroups
		if staging {
			requested = req.StagingSecurityGroups
		}
		if requested == nil {
			continue
		}
		current := map[string]translate.V3SecurityGroup{}
		var guids []string
		for page := 1; ; page++ {
			p, err := g.v3.SpaceSecurityGroups(c, space, staging, ccv3.ListQuery{Page: page, PerPage: 5000})
			if err != nil {
				return nil, v2ErrorAs(err, spaceNotFound(space))
			}
			for _, sg := range p.Resources {
				current[sg.GUID] = sg
				guids = append(guids, sg.GUID)
			}
			if page >= p.Pagination.TotalPages {
				break
			}
		}
		ch := spaceGroupChange{staging: staging, current: current}
		ch.added, ch.removed = translate.GUIDsDiff(guids, requested)
		for _, sg := range ch.added {
			if _, err := g.v3.GetSecurityGroup(c, sg); err != nil {
				return nil, v2ErrorAs(err, withCause(translate.SecurityGroupRelationNotFound(sg), nil))
			}
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// applySpaceGroups binds the planned groups to the space and unbinds the
// others that were bound to it.
func (g *API) applySpaceGroups(c ccv3.Call, space string, changes []spaceGroupChange) error {
	for _, ch := range changes {
		for _, sg := range ch.added {
			if err := g.bindSpaceGroup(c, sg, ch.staging, space); err != nil {
				return err
			}
		}
		for _, guid := range ch.removed {
			bound := ch.current[guid].Relationships.RunningSpaces
			if ch.staging {
				bound = ch.current[guid].Relationships.StagingSpaces
			}
			if !slices.Contains(bound.GUIDs(), space) {
				continue
			}
			if err := g.v3.UnbindSecurityGroup(c, guid, ch.staging, space); err != nil {
				return v2ErrorAs(err, withCause(translate.SecurityGroupRelationNotFound(guid), nil))
			}
		}
	}
	return nil
}

// setSpaceSSH sets the space's ssh feature when the body asked.
func (g *API) setSpaceSSH(c ccv3.Call, guid string, allow *bool) error {
	if allow == nil {
		return nil
	}
	if on, err := g.v3.SpaceSSHEnabled(c, guid); err == nil && on == *allow {
		return nil
	}
	return v2Error(g.v3.SetSpaceSSH(c, guid, *allow), "")
}

// updateSpace is PUT /v2/spaces/:guid: another organization is
// OrganizationAlreadySet; space_quota_definition_guid is ignored, as v2's
// update message left it out. CC's order (SpacesController#update):
// before_update's segment checks, read_for_update?, the attributes in
// import_attributes order (the organization, the role lists, the
// security groups), the model's validation, then the writes: the
// segment, the name, allow_ssh, the role lists and the groups.
func updateSpace(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Space, error) {
	req, err := translate.ParseSpaceRequest(body, false)
	if err != nil {
		return translate.V3Space{}, err
	}
	c := call(ctx)
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return sp, v2ErrorAs(err, spaceNotFound(guid))
	}
	if iso := req.IsolationSegmentGUID; iso != nil {
		// before_update: org managers only (check_org_update_access!), then
		// a segment that does not exist; both before read_for_update.
		if err := g.managerOf(ctx, c, sp.Relationships.Organization.GUID(), ""); err != nil {
			return sp, err
		}
		if err := g.segmentExists(c, *iso); err != nil {
			return sp, v2ErrorAs(err, withCause(translate.ResourceNotFound("Isolation Segment not found"), nil))
		}
	}
	if err := g.managerOf(ctx, c, sp.Relationships.Organization.GUID(), sp.GUID); err != nil {
		return sp, err
	}
	if req.OrgGUID != nil && *req.OrgGUID == "" {
		// The org is looked up by its guid before anything else (go-cfclient
		// sends "" when the caller left it out; MAPPING-orgs §11.9).
		return sp, withCause(translate.InvalidRelation("Could not find Organization with guid: "), nil)
	}
	if req.OrgGUID != nil && *req.OrgGUID != sp.Relationships.Organization.GUID() {
		return sp, &cferr.Error{Status: 400, Code: 30007, Name: "OrganizationAlreadySet", Description: "Cannot change organization"}
	}
	roles, err := g.planRoleLists(c, true, guid, sp.Relationships.Organization.GUID(), req.Roles, false)
	if err != nil {
		return sp, err
	}
	groups, err := g.planSpaceGroups(c, guid, req)
	if err != nil {
		return sp, err
	}
	if te := req.Check(); te != nil {
		return sp, withCause(te, nil)
	}
	if err := g.keepsAccess(ctx, c, roles, sp.Relationships.Organization.GUID()); err != nil {
		return sp, err
	}
	// Space#validate refuses the segment before the name's uniqueness is
	// checked on save.
	if err := g.setSpaceSegment(c, guid, req.IsolationSegmentGUID); err != nil {
		return sp, err
	}
	if req.Name != nil {
		v3body, err := translate.V3SpaceWrite(req, false)
		if err != nil {
			return sp, err
		}
		if sp, err = g.v3.UpdateSpace(c, guid, v3body); spaceWriteError(err, req) != nil {
			return sp, spaceWriteError(err, req)
		}
	}
	if err := g.setSpaceSSH(c, guid, req.AllowSSH); err != nil {
		return sp, err
	}
	if err := g.applyRoleLists(c, roles); err != nil {
		return sp, err
	}
	return sp, g.applySpaceGroups(c, guid, groups)
}

// managerOf is nil for admins and for managers of the org, or of the
// space when space is not "": SpaceAccess#read_for_update?, which CC's
// SpacesController#update checks before it applies any attribute, or
// with no space OrganizationAccess#update?, which it checks first for an
// isolation segment. v3 checks as much on each write, but an update whose
// lists change nothing writes nothing, so the caller's roles are read
// here (for non-admins only); v3 still refuses writes in a suspended org.
func (g *API) managerOf(ctx *fasthttp.RequestCtx, c ccv3.Call, org, space string) error {
	if isAdmin(ctx) {
		return nil
	}
	id := identityOf(ctx)
	if id == nil || id.ID() == "" {
		return errNotAuthorized(nil)
	}
	rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: []string{id.ID()}, Types: []string{"organization_manager", "space_manager"}})
	if err != nil {
		return v2Error(err, "")
	}
	for _, r := range rs.Roles {
		if r.Type == "organization_manager" && r.Relationships.Organization.GUID() == org ||
			space != "" && r.Type == "space_manager" && r.Relationships.Space.GUID() == space {
			return nil
		}
	}
	return errNotAuthorized(nil)
}

// spaceWriteError is a failed v3 space write in v2's words.
func spaceWriteError(err error, req translate.SpaceRequest) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.SpaceWriteError(e.Status, e.Title(), e.Detail(), req); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// removeSpace is DELETE /v2/spaces/:guid (§11.4): without recursive=true,
// processes or routes are AssociationNotEmpty, then apps or service
// instances NonrecursiveSpaceDeletionFailed.
func removeSpace(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, spaceNotFound(guid))
	}
	if !flagTrue(ctx, "recursive") {
		var apps ccv3.Page[translate.V3App]
		var routes ccv3.Page[translate.V3Route]
		var instances []translate.V3ServiceInstance
		err := parallel(
			func() (err error) {
				apps, err = g.v3.ListApps(c, ccv3.AppsQuery{SpaceGUIDs: []string{guid}, PerPage: 1})
				return
			},
			func() (err error) {
				routes, err = g.v3.ListRoutes(c, ccv3.RouteQuery{SpaceGUIDs: []string{guid}, PerPage: 1})
				return
			},
			func() (err error) {
				instances, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{SpaceGUIDs: []string{guid}})
				return
			},
		)
		if err != nil {
			return "", v2Error(err, "")
		}
		var deps []string
		if apps.Pagination.TotalResults > 0 {
			deps = append(deps, "processes")
		}
		if routes.Pagination.TotalResults > 0 {
			deps = append(deps, "routes")
		}
		if len(deps) > 0 {
			return "", withCause(translate.AssociationNotEmpty(joinList(deps), "spaces"), nil)
		}
		for _, si := range instances {
			if si.Relationships.Space.GUID() == guid {
				return "", &cferr.Error{Status: 400, Code: 290011, Name: "NonrecursiveSpaceDeletionFailed",
					Description: "Resource inside space " + sp.Name + " must first be deleted, or specify recursive delete."}
			}
		}
	}
	job, err := g.v3.DeleteSpace(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, spaceNotFound(guid))
	}
	return job, nil
}
