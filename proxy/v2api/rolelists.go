package v2api

import (
	"slices"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// Role lists in org and space bodies (user_guids, manager_guids,
// billing_manager_guids, auditor_guids; developer_guids, manager_guids,
// auditor_guids; MAPPING-orgs §11.0, §11.2.3, §11.4). CC's update sets
// them through the models' "<role>_guids=" writers inside one
// transaction (cc:lib/sequel_plugins/vcap_relations.rb): each list
// replaces the holders of its role, adding the new users and removing the
// others, list after list in import_attributes order, and any refusal
// rolls everything back. v3 roles are written one by one, so every user
// is checked first, in CC's order, and only then are the missing roles
// created and the extra ones deleted, adds before removals.

// roleListPlan is how the role lists of a body change an org's or a
// space's v3 roles, checked.
type roleListPlan struct {
	space   bool   // the parent is a space
	parent  string // the org's or space's guid
	changes []translate.RoleListChange
	// held are the parent's roles of the listed types: type → user → role.
	held map[string]map[string]translate.V3Role
}

// planRoleLists reads the parent's roles of the types the body lists and
// checks every change, in CC's order, returning the first refusal:
//   - an added user CC does not know is InvalidRelation naming
//     VCAP::CloudController::User (add_<role>_by_guid finds users by guid
//     and, unlike PUT .../<role>/:user_guid, creates none);
//   - for a space, an added user with no role in its org is
//     InvalidRelation whose description is the user's guid
//     (Space#validate_developer, _manager, _auditor);
//   - for an org, a removed org user who has roles in the org's spaces is
//     AssociationNotEmpty (Organization#remove_user).
//
// Removing the last manager is no refusal here: CC checks that only on
// DELETE .../managers/:user_guid (OrganizationAccess#can_remove_related_object?).
// A new parent (create) has no roles yet, so the lists only add. org is
// the space's org, or the org itself.
func (g *API) planRoleLists(c ccv3.Call, space bool, parent, org string, requested map[string][]string, create bool) (*roleListPlan, error) {
	if len(requested) == 0 {
		return nil, nil
	}
	lists := translate.OrgRoleLists
	q := ccv3.RolesQuery{OrgGUIDs: []string{parent}}
	if space {
		lists = translate.SpaceRoleLists
		q = ccv3.RolesQuery{SpaceGUIDs: []string{parent}}
	}
	p := &roleListPlan{space: space, parent: parent, held: map[string]map[string]translate.V3Role{}}
	current := map[string][]string{}
	if !create {
		for typ := range requested {
			q.Types = append(q.Types, typ)
		}
		slices.Sort(q.Types)
		rs, err := g.v3.AllRoles(c, q)
		if err != nil {
			return nil, v2Error(err, "")
		}
		for _, r := range rs.Roles {
			user := r.Relationships.User.GUID()
			if p.held[r.Type] == nil {
				p.held[r.Type] = map[string]translate.V3Role{}
			}
			p.held[r.Type][user] = r
			current[r.Type] = append(current[r.Type], user)
		}
	}
	p.changes = translate.RoleListChanges(lists, requested, current)

	var added, removedUsers []string
	for _, ch := range p.changes {
		added = append(added, ch.Added...)
		if ch.Type == "organization_user" {
			removedUsers = append(removedUsers, ch.Removed...)
		}
	}
	added = distinct(added)
	known, inOrg, busy := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var fns []func() error
	if len(added) > 0 {
		fns = append(fns, func() error {
			users, err := g.v3.UsersByGUID(c, added)
			for _, u := range users {
				known[u.GUID] = true
			}
			return err
		})
		if space {
			fns = append(fns, func() error {
				rs, err := g.v3.RolesOfUsers(c, ccv3.RolesQuery{UserGUIDs: added, OrgGUIDs: []string{org}, Types: []string{"organization_user"}})
				for _, r := range rs {
					inOrg[r.Relationships.User.GUID()] = true
				}
				return err
			})
		}
	}
	if len(removedUsers) > 0 {
		fns = append(fns, func() (err error) { busy, err = g.spaceRoleHolders(c, org, removedUsers); return })
	}
	if err := parallel(fns...); err != nil {
		return nil, v2Error(err, "")
	}
	for _, ch := range p.changes {
		for _, u := range ch.Added {
			switch {
			case space && inOrg[u]:
				// An org user is a CC user, whether or not v3 shows them.
			case !known[u]:
				return nil, withCause(translate.UserRelationNotFound(u), nil)
			case space:
				return nil, withCause(translate.InvalidRelation(u), nil)
			}
		}
		for _, u := range ch.Removed {
			if ch.Type == "organization_user" && busy[u] {
				return nil, withCause(translate.SpaceRolesInOrg(), nil)
			}
		}
	}
	return p, nil
}

// spaceRoleHolders are those of users who have a developer, manager or
// auditor role in a space of org (Organization#remove_user's test).
func (g *API) spaceRoleHolders(c ccv3.Call, org string, users []string) (map[string]bool, error) {
	inOrg := map[string]bool{}
	for page := 1; ; page++ {
		p, err := g.v3.ListSpaces(c, ccv3.ListQuery{OrgGUIDs: []string{org}, Page: page, PerPage: 5000})
		if err != nil {
			return nil, err
		}
		for _, s := range p.Resources {
			inOrg[s.GUID] = true
		}
		if page >= p.Pagination.TotalPages {
			break
		}
	}
	out := map[string]bool{}
	if len(inOrg) == 0 {
		return out, nil
	}
	rs, err := g.v3.RolesOfUsers(c, ccv3.RolesQuery{UserGUIDs: users, Types: []string{"space_developer", "space_manager", "space_auditor"}})
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if inOrg[r.Relationships.Space.GUID()] {
			out[r.Relationships.User.GUID()] = true
		}
	}
	return out, nil
}

// keepsAccess refuses, for a non-admin, lists that would take the caller's
// own right to update the parent away: CC checks update? again after the
// lists are applied, inside the transaction (ModelController-style
// update in OrganizationsController#update and SpacesController#update),
// so an org manager who leaves themselves out of manager_guids, or a space
// manager who is not an org manager, is NotAuthorized and nothing changes.
// CC makes that check after the save, so a refused name or segment would
// have come first; here it comes before any write.
func (g *API) keepsAccess(ctx *fasthttp.RequestCtx, c ccv3.Call, p *roleListPlan, org string) error {
	if p == nil || isAdmin(ctx) {
		return nil
	}
	id := identityOf(ctx)
	if id == nil || id.ID() == "" {
		return errNotAuthorized(nil)
	}
	manager := "organization_manager"
	if p.space {
		manager = "space_manager"
	}
	for _, ch := range p.changes {
		if ch.Type != manager {
			continue
		}
		_, holds := p.held[manager][id.ID()]
		if holds && !slices.Contains(ch.Removed, id.ID()) || slices.Contains(ch.Added, id.ID()) {
			return nil
		}
		if !p.space {
			return errNotAuthorized(nil)
		}
		// A space manager may go when an org manager.
		rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: []string{id.ID()}, OrgGUIDs: []string{org}, Types: []string{"organization_manager"}})
		if err != nil {
			return v2Error(err, "")
		}
		if len(rs.Roles) == 0 {
			return errNotAuthorized(nil)
		}
	}
	return nil
}

// applyRoleLists makes the planned changes: every missing role is
// created, then every extra one deleted (an org user role last, which v3
// refuses while the user holds others in the org's spaces), each job
// waited for, as v2 answered once its transaction was done.
func (g *API) applyRoleLists(c ccv3.Call, p *roleListPlan) error {
	if p == nil {
		return nil
	}
	scope := "organizations"
	if p.space {
		scope = "spaces"
	}
	for _, ch := range p.changes {
		for _, u := range ch.Added {
			_, err := g.v3.CreateRole(c, translate.RoleByGUIDBody(ch.Type, u, scope, p.parent))
			if err := roleWriteError(err, u); err != nil {
				return err
			}
		}
	}
	var gone []translate.V3Role
	for _, ch := range p.changes {
		for _, u := range ch.Removed {
			gone = append(gone, p.held[ch.Type][u])
		}
	}
	slices.SortStableFunc(gone, func(a, b translate.V3Role) int {
		return boolInt(a.Type == "organization_user") - boolInt(b.Type == "organization_user")
	})
	return g.deleteRoles(c, gone)
}

// orgReadForUpdate is OrganizationAccess#read_for_update? for a
// non-admin, which CC's update checks before it sets any attribute: an
// active org the caller manages, and a body without quota_definition_guid
// or billing_enabled (the key at all) and not suspending the org.
func (g *API) orgReadForUpdate(ctx *fasthttp.RequestCtx, c ccv3.Call, o translate.V3Org, req translate.OrgRequest) error {
	if isAdmin(ctx) {
		return nil
	}
	if o.Suspended || req.QuotaGUID != nil || req.BillingEnabled != nil || req.Status != nil && *req.Status == "suspended" {
		return errNotAuthorized(nil)
	}
	return g.managerOf(ctx, c, o.GUID, "")
}
