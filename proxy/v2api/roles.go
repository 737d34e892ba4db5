package v2api

import (
	"errors"
	"slices"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// roleChange serves the changes of one v2 role relation of an org or a
// space, by user guid and by username, on v3 roles (MAPPING-orgs §11.6).
type roleChange struct{ rel translate.RoleRelation }

func (rc roleChange) org() bool { return rc.rel.Parent == "organizations" }

// parent reads the org or space of the path: its not-found error first.
func (rc roleChange) parent(g *API, c ccv3.Call, guid string) error {
	if rc.org() {
		if err := findOrg(g.v3, c, guid); err != nil {
			return v2ErrorAs(err, orgNotFound(guid))
		}
		return nil
	}
	if err := findSpace(g.v3, c, guid); err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	return nil
}

// answerParent answers the org or space, as v2's role changes do.
func (rc roleChange) answerParent(g *API, ctx *fasthttp.RequestCtx, guid string, status int) error {
	c := call(ctx)
	if rc.org() {
		o, err := orgsRead.one(g, c, guid)
		if err != nil {
			return err
		}
		return orgsRead.answer(g, ctx, o, status)
	}
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	return spaces.answer(g, ctx, sp, status)
}

// addByGUID is PUT /v2/<parent>/:guid/<role>/:user_guid: 201 and the
// parent. A role the user has already is v2's find_or_create: success.
func (rc roleChange) addByGUID(g *API, ctx *fasthttp.RequestCtx) error {
	parent, user, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if err := rc.parent(g, c, parent); err != nil {
		return err
	}
	_, err := g.v3.CreateRole(c, translate.RoleByGUIDBody(rc.rel.Type, user, rc.rel.Parent, parent))
	if err := roleWriteError(err, user); err != nil {
		return err
	}
	return rc.answerParent(g, ctx, parent, fasthttp.StatusCreated)
}

// addByName is PUT /v2/<parent>/:guid/<role> {"username"[,"origin"]}: v3
// asks its UAA for the user and checks set_roles_by_username as v2 did
// (§11.6.3); 201 and the parent.
func (rc roleChange) addByName(g *API, ctx *fasthttp.RequestCtx) error {
	parent, c := pathParam(ctx, 1), call(ctx)
	who, err := rc.byName(g, ctx, "set_roles_by_username")
	if err != nil {
		return err
	}
	// CC asks its UAA for the user before it reads the parent; v3 does
	// the lookup here, after.
	if err := rc.parent(g, c, parent); err != nil {
		return err
	}
	_, err = g.v3.CreateRole(c, translate.RoleByNameBody(rc.rel.Type, who, rc.rel.Parent, parent))
	if err = roleWriteError(err, ""); err != nil {
		var e *cferr.Error
		if errors.As(err, &e) && e.Name == "InvalidRelation" {
			// The description is the user's guid: find it by name.
			if u, lerr := g.userByName(c, who); lerr == nil {
				e.Description = u.GUID
			}
		}
		return err
	}
	return rc.answerParent(g, ctx, parent, fasthttp.StatusCreated)
}

// byName reads a role change by username in CC's order: the feature flag,
// then the body (OrganizationsController and SpacesController
// #add_<role>_by_username, #remove_<role>_by_username); the user and then
// the parent follow.
func (rc roleChange) byName(g *API, ctx *fasthttp.RequestCtx, flag string) (translate.UserByName, error) {
	body, err := g.readBody(ctx)
	if err != nil {
		return translate.UserByName{}, err
	}
	if err := g.flagOn(ctx, flag); err != nil {
		return translate.UserByName{}, err
	}
	return translate.ParseUserByName(body)
}

// flagOn refuses a non-admin when feature flag name is off, as CC's
// FeatureFlag.raise_unless_enabled! (admins skip the by-username flags:
// ADMIN_SKIPPABLE).
func (g *API) flagOn(ctx *fasthttp.RequestCtx, name string) error {
	if isAdmin(ctx) {
		return nil
	}
	f, err := g.v3.FeatureFlag(call(ctx), name)
	if err != nil {
		return v2Error(err, "")
	}
	if f.Enabled {
		return nil
	}
	msg := "Feature Disabled: " + name
	if f.CustomErrorMessage != nil && *f.CustomErrorMessage != "" {
		msg = *f.CustomErrorMessage
	}
	return &cferr.Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: msg}
}

// roleWriteError maps v3's refusal of a role write; nil for success and
// for a role the user had.
func roleWriteError(err error, userGUID string) error {
	if err == nil {
		return nil
	}
	var e *ccv3.Error
	if errors.As(err, &e) {
		te, already := translate.RoleWriteError(e.Status, e.Title(), e.Detail(), userGUID)
		if already {
			return nil
		}
		if te != nil {
			return withCause(te, err)
		}
	}
	return v2Error(err, "")
}

// userByName finds the CC user of a username and origin (§11.6.3): none is
// UserNotFound (UserWithOriginNotFound with an origin), several without an
// origin UserIsInMultipleOrigins.
func (g *API) userByName(c ccv3.Call, who translate.UserByName) (translate.V3User, error) {
	q := ccv3.UsersQuery{Usernames: []string{who.Username}, PerPage: 50}
	if who.Origin != "" {
		q.Origins = []string{who.Origin}
	}
	p, err := g.v3.ListUsers(c, q)
	if err != nil {
		return translate.V3User{}, v2Error(err, "")
	}
	switch {
	case len(p.Resources) == 0 && who.Origin != "":
		return translate.V3User{}, withCause(translate.UserWithOriginNotFound(who.Username, who.Origin), nil)
	case len(p.Resources) == 0:
		return translate.V3User{}, withCause(translate.UserNotFound(who.Username), nil)
	case len(p.Resources) > 1:
		var origins []string
		for _, u := range p.Resources {
			if u.Origin != nil {
				origins = append(origins, *u.Origin)
			}
		}
		slices.Sort(origins)
		return translate.V3User{}, withCause(translate.UserIsInMultipleOrigins(origins), nil)
	}
	return p.Resources[0], nil
}

// removeByGUID is DELETE /v2/<parent>/:guid/<role>/:user_guid: 204 once
// the role is gone, synchronously as v2 (v3 deletes in a job). A role the
// user lacks is a no-op; non-admins meet the last-member checks of org
// roles (§11.6.2); ?recursive=true on an org's users removes the user from
// the org's spaces and every org role.
func (rc roleChange) removeByGUID(g *API, ctx *fasthttp.RequestCtx) error {
	parent, user, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if err := rc.parent(g, c, parent); err != nil {
		return err
	}
	if err := rc.mayRemove(g, ctx, parent, user); err != nil {
		return err
	}
	if err := rc.remove(g, ctx, parent, user, true); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// removeByName is DELETE /v2/<parent>/:guid/<role> and POST
// .../<role>/remove with {"username"[,"origin"]}: unset_roles_by_username,
// the user found by name, then removed without the last-member checks.
// Orgs answer 204, spaces 200 and the space (§11.6.3).
func (rc roleChange) removeByName(g *API, ctx *fasthttp.RequestCtx) error {
	parent, c := pathParam(ctx, 1), call(ctx)
	who, err := rc.byName(g, ctx, "unset_roles_by_username")
	if err != nil {
		return err
	}
	u, err := g.userByName(c, who)
	if err != nil {
		return err
	}
	if err := rc.parent(g, c, parent); err != nil {
		return err
	}
	if err := rc.mayChange(g, ctx, parent, u.GUID, false); err != nil {
		return err
	}
	if err := rc.remove(g, ctx, parent, u.GUID, false); err != nil {
		return err
	}
	if rc.org() {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	return rc.answerParent(g, ctx, parent, fasthttp.StatusOK)
}

// remove deletes the user's role in parent and waits for v3's jobs; with
// ?recursive=true on an org's users, the user's space roles in the org
// and its other org roles go first (Organization#remove_user_recursive).
func (rc roleChange) remove(g *API, ctx *fasthttp.RequestCtx, parent, user string, byGUID bool) error {
	c := call(ctx)
	q := ccv3.RolesQuery{UserGUIDs: []string{user}, Types: []string{rc.rel.Type}}
	if rc.org() {
		q.OrgGUIDs = []string{parent}
	} else {
		q.SpaceGUIDs = []string{parent}
	}
	if rc.rel.Type == "organization_user" && flagTrue(ctx, "recursive") {
		q.Types = nil // every org role
		spaceRoles, err := g.spaceRolesIn(c, parent, user)
		if err != nil {
			return err
		}
		if err := g.deleteRoles(c, spaceRoles); err != nil {
			return err
		}
	}
	rs, err := g.v3.AllRoles(c, q)
	if err != nil {
		return v2Error(err, "")
	}
	if len(rs.Roles) == 0 && byGUID {
		// An unknown user is InvalidRelation, in the texts of CC's
		// OrganizationsController and SpacesController.
		if _, err := g.v3.GetUser(c, user); err != nil {
			var e *ccv3.Error
			if errors.As(err, &e) && e.Status == 404 {
				desc := "User with guid " + user + " not found"
				if rc.org() {
					desc = "Could not find VCAP::CloudController::User with guid: " + user
				}
				return &cferr.Error{Status: 400, Code: 1002, Name: "InvalidRelation", Description: desc, Cause: err}
			}
		}
	}
	// The org user role goes last: v3 refuses it while others remain.
	slices.SortStableFunc(rs.Roles, func(a, b translate.V3Role) int {
		return boolInt(a.Type == "organization_user") - boolInt(b.Type == "organization_user")
	})
	return g.deleteRoles(c, rs.Roles)
}

// mayRemove is CC's access check of a removal by guid for a non-admin:
// the manager's (or the user's own) first, then, in an org, the
// last-member checks (OrganizationAccess#can_remove_related_object?).
func (rc roleChange) mayRemove(g *API, ctx *fasthttp.RequestCtx, parent, user string) error {
	if isAdmin(ctx) {
		return nil
	}
	if err := rc.mayChange(g, ctx, parent, user, true); err != nil {
		return err
	}
	if rc.org() {
		return rc.lastMember(g, call(ctx), parent, user)
	}
	return nil
}

// mayChange refuses a non-admin who may not change the roles of parent:
// one who manages neither the org nor, for a space, the space
// (OrganizationAccess#update?, SpaceAccess#update?). v3 would refuse the
// role's delete too, but not when the user lacks the role and there is
// nothing to delete. Removing one's own role by guid needs neither
// (OrganizationAccess#can_remove_related_object?,
// SpacesController#remove_<role>_by_user_id).
func (rc roleChange) mayChange(g *API, ctx *fasthttp.RequestCtx, parent, user string, byGUID bool) error {
	if isAdmin(ctx) {
		return nil
	}
	if id := identityOf(ctx); byGUID && id != nil && id.ID() == user {
		return nil
	}
	c := call(ctx)
	org, space := parent, ""
	if !rc.org() {
		sp, err := g.v3.GetSpace(c, parent)
		if err != nil {
			return v2ErrorAs(err, spaceNotFound(parent))
		}
		org, space = sp.Relationships.Organization.GUID(), parent
	}
	return g.managerOf(ctx, c, org, space)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// spaceRolesIn are the user's roles in the spaces of org.
func (g *API) spaceRolesIn(c ccv3.Call, org, user string) ([]translate.V3Role, error) {
	var spaceGUIDs []string
	for page := 1; ; page++ {
		p, err := g.v3.ListSpaces(c, ccv3.ListQuery{OrgGUIDs: []string{org}, Page: page, PerPage: 5000})
		if err != nil {
			return nil, v2Error(err, "")
		}
		for _, s := range p.Resources {
			spaceGUIDs = append(spaceGUIDs, s.GUID)
		}
		if page >= p.Pagination.TotalPages {
			break
		}
	}
	if len(spaceGUIDs) == 0 {
		return nil, nil
	}
	rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: []string{user}, SpaceGUIDs: spaceGUIDs})
	if err != nil {
		return nil, v2Error(err, "")
	}
	return rs.Roles, nil
}

// deleteRoles deletes roles one after the other, each to its job's end.
func (g *API) deleteRoles(c ccv3.Call, roles []translate.V3Role) error {
	for _, r := range roles {
		job, err := g.v3.DeleteRole(c, r.GUID)
		if err != nil {
			var e *ccv3.Error
			if errors.As(err, &e) && e.Status == 404 {
				continue // gone meanwhile
			}
			return roleWriteError(err, r.Relationships.User.GUID())
		}
		if err := g.awaitJob(c, job, func(j *translate.V3Job) error {
			if len(j.Errors) > 0 {
				if te, _ := translate.RoleWriteError(422, j.Errors[0].Title, j.Errors[0].Detail, ""); te != nil {
					return withCause(te, nil)
				}
			}
			return jobFailed(j)
		}); err != nil {
			return err
		}
	}
	return nil
}

// lastMember applies CC's last-member checks to a non-admin's removal of
// an org role by guid (OrganizationAccess#can_remove_related_object?,
// §11.6.2): the last manager or billing manager stays, and so does the
// last user of an org with at most one of each.
func (rc roleChange) lastMember(g *API, c ccv3.Call, org, user string) error {
	types := []string{"organization_manager", "organization_billing_manager", "organization_user"}
	rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{OrgGUIDs: []string{org}, Types: types})
	if err != nil {
		return v2Error(err, "")
	}
	holders := map[string][]string{}
	for _, r := range rs.Roles {
		holders[r.Type] = append(holders[r.Type], r.Relationships.User.GUID())
	}
	only := func(typ string) bool { h := holders[typ]; return len(h) == 1 && h[0] == user }
	managers, billing := holders["organization_manager"], holders["organization_billing_manager"]
	switch rc.rel.Type {
	case "organization_manager":
		if len(managers) <= 1 {
			return withCause(translate.LastManagerInOrg, nil)
		}
	case "organization_billing_manager":
		if len(billing) <= 1 {
			return withCause(translate.LastBillingManagerInOrg, nil)
		}
	case "organization_user":
		switch {
		case only("organization_manager"):
			return withCause(translate.LastManagerInOrg, nil)
		case only("organization_billing_manager"):
			return withCause(translate.LastBillingManagerInOrg, nil)
		case only("organization_user") && len(managers) <= 1 && len(billing) <= 1:
			return withCause(translate.LastUserInOrg, nil)
		}
	}
	return nil
}
