package v2api

import (
	"bytes"
	"errors"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// userRoutes are the routes of users and roles: /v2/users and the role
// lists and changes of organizations and spaces (MAPPING-orgs §11.5, §11.6).
func userRoutes() []Route {
	var rs []Route
	for _, rel := range translate.RoleRelations {
		base := "/v2/" + rel.Parent + "/:guid/" + rel.Name
		rc := roleChange{rel}
		// "remove" is declared before ":user_guid", which it would match.
		rs = append(rs,
			Route{Template: base, Get: roleList(rel).listHandler, Put: rc.addByName, Del: rc.removeByName},
			Route{Template: base + "/remove", Post: rc.removeByName},
			Route{Template: base + "/:user_guid", Put: rc.addByGUID, Del: rc.removeByGUID},
		)
	}
	rs = append(rs,
		Route{Template: "/v2/organizations/:guid/user_roles", Get: userRoles("organizations").handler},
		Route{Template: "/v2/spaces/:guid/user_roles", Get: userRoles("spaces").handler},
		Route{Template: "/v2/users", Get: (*API).v2UserList, Post: users.createHandler},
		Route{Template: "/v2/users/:guid", Get: (*API).v2User, Put: (*API).v2UserUpdate, Del: users.deleteHandler},
		Route{Template: "/v2/users/:guid/summary", Get: (*API).v2UserSummary},
	)
	for _, rel := range translate.UserRelations {
		uc := userRoleChange{}
		for _, r := range translate.RoleRelations {
			if r.Type == rel.Type {
				uc.rc = roleChange{r}
			}
		}
		rs = append(rs, Route{Template: "/v2/users/:guid/" + rel.Name, Get: userRelation(rel.Type).handler},
			Route{Template: "/v2/users/:guid/" + rel.Name + "/:other_guid", Put: uc.add, Del: uc.remove})
	}
	return rs
}

func userNotFound(guid string) *cferr.Error { return withCause(translate.UserNotFound(guid), nil) }

// users: UsersController declares no sortable parameters.
var users = &v2Resource[translate.V3User]{
	path: "/v2/users", keys: translate.UserQueryKeyList(),
	get: (*ccv3.Client).GetUser, notFound: userNotFound,
	render: func(b *bytes.Buffer, u translate.V3User) error { return translate.AppendUserResource(b, u, nil) },
	guid:   func(u translate.V3User) string { return u.GUID },
	create: createUser, remove: removeUser, async: true,
}

// roleFilter names the holders of a role: a v3 role type in an org or a
// space.
type roleFilter struct{ typ, guid string }

// filtersOf are the role filters of a /v2/users q: each key names a role
// (UsersController query_parameters), and as every key is a foreign key
// its operator is ignored (MAPPING §3.1).
func filtersOf(fs []translate.Filter) []roleFilter {
	var out []roleFilter
	for _, f := range fs {
		for _, v := range f.Values {
			out = append(out, roleFilter{translate.UserQueryKeys[f.Key], v})
		}
	}
	return out
}

// holders reads the users who hold every role of fs, in v2's users.id
// order, approximated by the user's created_at then guid (§13).
func (g *API) holders(c ccv3.Call, fs []roleFilter) ([]translate.V3User, error) {
	var keep map[string]translate.V3User
	for _, f := range fs {
		q := ccv3.RolesQuery{Types: []string{f.typ}, Include: []string{"user"}}
		if translate.IsSpaceRole(f.typ) {
			q.SpaceGUIDs = []string{f.guid}
		} else {
			q.OrgGUIDs = []string{f.guid}
		}
		rs, err := g.v3.AllRoles(c, q)
		if err != nil {
			return nil, err
		}
		next := map[string]translate.V3User{}
		for _, r := range rs.Roles {
			u, ok := rs.Users[r.Relationships.User.GUID()]
			if _, kept := keep[u.GUID]; ok && (keep == nil || kept) {
				next[u.GUID] = u
			}
		}
		keep = next
	}
	return userOrder(keep), nil
}

func userOrder(m map[string]translate.V3User) []translate.V3User {
	out := make([]translate.V3User, 0, len(m))
	for _, u := range m {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b translate.V3User) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.GUID, b.GUID)
	})
	return out
}

// pageLocal is the page lp asks for of all, read and ordered here.
func pageLocal[T any](lp translate.ListParams, all []T) ([]T, int) {
	if lp.OrderDirection == "desc" {
		slices.Reverse(all)
	}
	start := min(lp.Offset(), len(all))
	return all[start:min(start+lp.ResultsPerPage, len(all))], len(all)
}

// roleList is GET /v2/<parent>/:guid/<role>: the holders of the role, with
// /v2/users' q keys (§11.2.6).
func roleList(rel translate.RoleRelation) *v2Under[translate.V3User] {
	find, notFound := findOrg, orgNotFound
	if rel.Parent == "spaces" {
		find, notFound = findSpace, spaceNotFound
	}
	return &v2Under[translate.V3User]{of: users, parent: rel.Parent, name: rel.Name, find: find, parentNotFound: notFound,
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, parent string) ([]translate.V3User, int, error) {
			all, err := g.holders(c, append([]roleFilter{{rel.Type, parent}}, filtersOf(fs)...))
			if err != nil {
				return nil, 0, err
			}
			page, total := pageLocal(lp, all)
			return page, total, nil
		}}
}

// v2UserList is GET /v2/users: admins and read-only admins only
// (UserAccess#index?); v3 would answer others a filtered list instead.
func (g *API) v2UserList(ctx *fasthttp.RequestCtx) error {
	if id := identityOf(ctx); id == nil || !id.HasAny(auth.ScopeAdmin, auth.ScopeAdminReadOnly) {
		return errNotAuthorized(nil)
	}
	c := call(ctx)
	return users.serveList(g, ctx, users.path, func(lp translate.ListParams, _ translate.AppQuery, fs []translate.Filter) ([]translate.V3User, int, error) {
		if len(fs) == 0 {
			p, err := g.v3.ListUsers(c, ccv3.UsersQuery{Page: lp.Page, PerPage: lp.ResultsPerPage})
			return p.Resources, p.Pagination.TotalResults, err
		}
		all, err := g.holders(c, filtersOf(fs))
		if err != nil {
			return nil, 0, err
		}
		page, total := pageLocal(lp, all)
		return page, total, nil
	})
}

// readsUser reports whether the caller may read user guid: admins,
// read-only admins and the user itself (UserAccess#read?).
func readsUser(ctx *fasthttp.RequestCtx, guid string) bool {
	id := identityOf(ctx)
	return id != nil && (id.HasAny(auth.ScopeAdmin, auth.ScopeAdminReadOnly) || id.UserID == guid)
}

// v2User is GET /v2/users/:guid: UserNotFound first, then read access.
func (g *API) v2User(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	u, err := users.one(g, call(ctx), guid)
	if err != nil {
		return err
	}
	if !readsUser(ctx, guid) {
		return errNotAuthorized(nil)
	}
	return users.answer(g, ctx, u, fasthttp.StatusOK)
}

// v2UserUpdate is PUT /v2/users/:guid: admins only. admin and
// default_space_guid have no v3 home (§11.5), so the user is answered as
// it is.
func (g *API) v2UserUpdate(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	if _, err := translate.ParseUserUpdate(body); err != nil {
		return err
	}
	u, err := users.one(g, call(ctx), guid)
	if err != nil {
		return err
	}
	if !isAdmin(ctx) {
		return errNotAuthorized(nil)
	}
	return users.answer(g, ctx, u, fasthttp.StatusCreated)
}

// createUser is POST /v2/users: the CC user of a UAA id (§11.5).
func createUser(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3User, error) {
	req, err := translate.ParseUserCreate(body)
	if err != nil {
		return translate.V3User{}, err
	}
	u, err := g.v3.CreateUser(call(ctx), translate.UserV3Body(req.GUID))
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == 422 && strings.Contains(e.Detail(), "already exists") {
		return u, withCause(translate.UaaIDTaken(req.GUID), err)
	}
	if err != nil {
		return u, v2Error(err, "")
	}
	return u, nil
}

// removeUser is DELETE /v2/users/:guid, a v3 job.
func removeUser(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	job, err := g.v3.DeleteUser(call(ctx), guid)
	if err != nil {
		return "", v2ErrorAs(err, userNotFound(guid))
	}
	return job, nil
}

// userRelation is GET /v2/users/:guid/<relation>: the orgs or spaces in
// which the user holds a role, for the user itself and admins.
type userRelation string

func (typ userRelation) spaces() bool { return translate.IsSpaceRole(string(typ)) }

func (typ userRelation) handler(g *API, ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := users.one(g, c, guid); err != nil {
		return err
	}
	if !readsUser(ctx, guid) {
		return errNotAuthorized(nil)
	}
	rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: []string{guid}, Types: []string{string(typ)}})
	if err != nil {
		return v2Error(err, "")
	}
	guids := []string{}
	for _, r := range rs.Roles {
		if typ.spaces() {
			guids = append(guids, r.Relationships.Space.GUID())
		} else {
			guids = append(guids, r.Relationships.Organization.GUID())
		}
	}
	path := "/v2/users/" + guid + "/" + pathParam(ctx, 2)
	// The user's orgs and spaces take OrganizationsController's and
	// SpacesController's q keys, as CC's enumerate_related filters with
	// the associated controller's.
	if typ.spaces() {
		return spaces.serveList(g, ctx, path, func(lp translate.ListParams, _ translate.AppQuery, fs []translate.Filter) ([]translate.V3Space, int, error) {
			return spacesPage(g, c, lp, fs, nil, guids)
		})
	}
	return orgsRead.serveList(g, ctx, path, func(lp translate.ListParams, _ translate.AppQuery, fs []translate.Filter) ([]translate.V3Org, int, error) {
		return orgsPage(g, c, lp, fs, guids)
	})
}

// userRoles is GET /v2/<parent>/:guid/user_roles: the parent's members,
// each with its roles there in the fixed order (§11.2.5). Only the first
// q is read, and what follows its first ":" is a user guid whatever the
// key (user_guid_parameter).
type userRoles string

func (parent userRoles) handler(g *API, ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	find, notFound := findOrg, orgNotFound
	q := ccv3.RolesQuery{OrgGUIDs: []string{guid}, Types: []string{"organization_user", "organization_manager", "organization_auditor", "organization_billing_manager"}, Include: []string{"user"}}
	if parent == "spaces" {
		find, notFound = findSpace, spaceNotFound
		q = ccv3.RolesQuery{SpaceGUIDs: []string{guid}, Types: []string{"space_developer", "space_manager", "space_auditor"}, Include: []string{"user"}}
	}
	if err := find(g.v3, c, guid); err != nil {
		return v2ErrorAs(err, notFound(guid))
	}
	lp, err := g.listParams(ctx)
	if err != nil {
		return err
	}
	if len(lp.Q) > 0 {
		if _, user, ok := strings.Cut(lp.Q[0], ":"); ok {
			q.UserGUIDs = []string{user}
		}
	}
	rs, err := g.v3.AllRoles(c, q)
	if err != nil {
		return v2Error(err, "")
	}
	roles := map[string][]string{}
	members := map[string]translate.V3User{}
	for _, r := range rs.Roles {
		u, ok := rs.Users[r.Relationships.User.GUID()]
		if !ok {
			continue
		}
		members[u.GUID] = u
		for _, rel := range translate.RoleRelations {
			if rel.Parent == string(parent) && rel.Type == r.Type {
				roles[u.GUID] = append(roles[u.GUID], rel.V2Name)
			}
		}
	}
	page, total := pageLocal(lp, userOrder(members))
	return writeV2List(ctx, lp, "/v2/"+string(parent)+"/"+guid+"/user_roles", total, len(page), func(b *bytes.Buffer, i int) error {
		ur := &translate.UserRoles{}
		if parent == "spaces" {
			ur.Space = translate.RoleOrder(roles[page[i].GUID])
		} else {
			ur.Org = translate.RoleOrder(roles[page[i].GUID])
		}
		return translate.AppendUserResource(b, page[i], ur)
	})
}

// userRoleChange serves PUT and DELETE /v2/users/:guid/<relation>/:other:
// the user's role of a v3 type in the org or space other (§11.5). Adding
// is for admins (find_or_create, 201 and the user); removing follows the
// parent's rules, as the role lists' removals do (204).
type userRoleChange struct{ rc roleChange }

func (uc userRoleChange) add(g *API, ctx *fasthttp.RequestCtx) error {
	user, other, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	// Admins only (UserAccess#read_related_object_for_update?), asked
	// first: v3 hides the user from most others, whom CC refused with
	// NotAuthorized (add_space_role, add_organization_role).
	if !isAdmin(ctx) {
		return errNotAuthorized(nil)
	}
	u, err := users.one(g, c, user)
	if err != nil {
		return err
	}
	rc := uc.rc
	if err := rc.parent(g, c, other); err != nil {
		return err
	}
	_, err = g.v3.CreateRole(c, translate.RoleByGUIDBody(rc.rel.Type, user, rc.rel.Parent, other))
	if err := roleWriteError(err, user); err != nil {
		return err
	}
	return users.answer(g, ctx, u, fasthttp.StatusCreated)
}

func (uc userRoleChange) remove(g *API, ctx *fasthttp.RequestCtx) error {
	user, other, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if _, err := users.one(g, c, user); err != nil {
		return err
	}
	rc := uc.rc
	if err := rc.parent(g, c, other); err != nil {
		return err
	}
	if err := rc.mayRemove(g, ctx, other, user); err != nil {
		return err
	}
	if err := rc.remove(g, ctx, other, user, true); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
