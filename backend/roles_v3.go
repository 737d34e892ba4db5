package backend

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Roles (cc:app/controllers/v3/roles_controller.rb, app/messages/
// role_create_message.rb, roles_list_message.rb, app/actions/role_create.rb,
// role_delete.rb, app/presenters/v3/role_presenter.rb,
// app/decorators/include_role_*_decorator.rb). A user sees the space roles
// of the spaces it sees and the org roles of the orgs it sees.

// orgRoleTypes and spaceRoleTypes are RoleTypes::ORGANIZATION_ROLES and
// SPACE_ROLES; allRoleTypes is ALL_ROLES, in CC's order.
var (
	orgRoleTypes   = []string{store.RoleOrgAuditor, store.RoleOrgManager, store.RoleOrgBillingManager, store.RoleOrgUser}
	spaceRoleTypes = []string{store.RoleSpaceAuditor, store.RoleSpaceManager, store.RoleSpaceDeveloper, store.RoleSpaceSupporter}
	allRoleTypes   = append(append([]string{}, orgRoleTypes...), spaceRoleTypes...)
)

// roleResource is GET /v3/roles and /v3/roles/:guid. CC's list orders by
// created_at unless told otherwise (RolesListMessage.from_params).
var roleResource = &resource[store.RoleRecord, store.RoleFilter, roleJSON]{
	name: "Role",
	path: "/v3/roles",
	keys: append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
		"guids", "organization_guids", "space_guids", "user_guids", "types", "include"),
	orders: timeOrders,
	filter: func(q *params) store.RoleFilter {
		return store.RoleFilter{GUIDs: q.list("guids"), OrgGUIDs: q.list("organization_guids"), SpaceGUIDs: q.list("space_guids"),
			UserGUIDs: q.list("user_guids"), Types: q.list("types"), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list:         (*store.Store).ListRoles,
	get:          (*store.Store).GetRole,
	present:      each(func(r *request, role store.RoleRecord) roleJSON { return presentRole(r.base, role) }),
	includes:     []string{"user", "organization", "space"},
	showIncludes: true,
	included:     (*Server).includeForRoles,
}

// roleJSON is RolePresenter's body. Its relationships and links name the
// user, then the space of a space role or the organization of an org role.
type roleJSON struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Type          string `json:"type"`
	Relationships any    `json:"relationships"`
	Links         any    `json:"links"`
}

type orgRoleRelationships struct {
	User         toOne `json:"user"`
	Organization toOne `json:"organization"`
	Space        toOne `json:"space"`
}

type spaceRoleRelationships struct {
	User         toOne `json:"user"`
	Space        toOne `json:"space"`
	Organization toOne `json:"organization"`
}

type orgRoleLinks struct {
	Self         link `json:"self"`
	User         link `json:"user"`
	Organization link `json:"organization"`
}

type spaceRoleLinks struct {
	Self  link `json:"self"`
	User  link `json:"user"`
	Space link `json:"space"`
}

func presentRole(base string, role store.RoleRecord) roleJSON {
	at := timestamp(role.CreatedAt)
	j := roleJSON{GUID: role.GUID, CreatedAt: at, UpdatedAt: at, Type: role.Type}
	self, user := link{Href: base + "/v3/roles/" + role.GUID}, link{Href: base + "/v3/users/" + url.QueryEscape(role.UserGUID)}
	if role.ForSpace() {
		j.Relationships = spaceRoleRelationships{User: one(role.UserGUID), Space: one(role.SpaceGUID)}
		j.Links = spaceRoleLinks{Self: self, User: user, Space: link{Href: base + "/v3/spaces/" + role.SpaceGUID}}
	} else {
		j.Relationships = orgRoleRelationships{User: one(role.UserGUID), Organization: one(role.OrgGUID)}
		j.Links = orgRoleLinks{Self: self, User: user, Organization: link{Href: base + "/v3/organizations/" + role.OrgGUID}}
	}
	return j
}

// roleIncludedJSON is what include= adds, in the decorators' order.
type roleIncludedJSON struct {
	Users         []userJSON  `json:"users,omitzero"`
	Organizations []orgJSON   `json:"organizations,omitzero"`
	Spaces        []spaceJSON `json:"spaces,omitzero"`
}

// includeForRoles renders the users, the orgs of the org roles and the
// spaces of the space roles, each once, ordered by created_at then guid.
func (s *Server) includeForRoles(r *request, include map[string]bool, roles []store.RoleRecord) (any, error) {
	var users, orgs, spaces []string
	for _, role := range roles {
		users = appendNew(users, role.UserGUID)
		if role.ForSpace() {
			spaces = appendNew(spaces, role.SpaceGUID)
		} else {
			orgs = appendNew(orgs, role.OrgGUID)
		}
	}
	inc := &roleIncludedJSON{}
	if include["user"] {
		us, err := s.store.CCUsersByGUID(r.ctx, users)
		if err != nil {
			return nil, errInternal(err)
		}
		inc.Users = make([]userJSON, len(us))
		for i, u := range us {
			inc.Users[i] = presentUser(r.base, u)
		}
	}
	if include["organization"] {
		os, err := s.store.OrgsByGUID(r.ctx, orgs)
		if err != nil {
			return nil, errInternal(err)
		}
		sortByCreation(os, func(o store.Org) (int64, string) { return o.CreatedAt, o.GUID })
		inc.Organizations = make([]orgJSON, len(os))
		for i, o := range os {
			inc.Organizations[i] = presentOrg(r.base, o)
		}
	}
	if include["space"] {
		ss, err := s.store.SpacesByGUID(r.ctx, spaces)
		if err != nil {
			return nil, errInternal(err)
		}
		sortByCreation(ss, func(sp store.Space) (int64, string) { return sp.CreatedAt, sp.GUID })
		owners, err := s.orgsOf(r, ss)
		if err != nil {
			return nil, err
		}
		inc.Spaces = make([]spaceJSON, len(ss))
		for i, sp := range ss {
			inc.Spaces[i] = presentSpace(r.base, sp, owners[sp.OrgGUID].Suspended)
		}
	}
	return inc, nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// roleMessage is a valid RoleCreateMessage.
type roleMessage struct {
	typ                string
	userGUID, username string
	origin             *string
	orgGUID, spaceGUID string
	request            json.RawMessage
}

// parseRoleMessage validates a body as RoleCreateMessage does: unknown
// keys, the relationships (RelationshipValidator with its Relationships
// message), then the type; every problem in one 422 joined by ", ".
func parseRoleMessage(body []byte) (roleMessage, error) {
	m := roleMessage{request: json.RawMessage(strings.TrimSpace(string(body)))}
	o, err := decodeAny(body)
	if err != nil {
		return m, err
	}
	var p problems
	p.addErr("", o.only("type", "relationships"))
	if jsonKind(o["type"]) == '"' {
		_ = json.Unmarshal(o["type"], &m.typ)
	}
	m.roleRelationships(o["relationships"], &p)
	if !slices.Contains(allRoleTypes, m.typ) || jsonKind(o["type"]) != '"' {
		p.add("Type must be one of the allowed types " + rubyGUIDs(allRoleTypes))
	}
	return m, p.err()
}

// roleRelationships is RoleCreateMessage::Relationships, each problem
// prefixed with "Relationships ".
func (m *roleMessage) roleRelationships(raw json.RawMessage, out *problems) {
	var rels object
	switch {
	case jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil:
		out.add("Relationships 'relationships' is not an object")
		return
	case len(rels) == 0:
		out.add("Relationships 'relationships' must include one or more valid relationships")
		return
	}
	var p problems
	p.addErr("", rels.only("space", "user", "organization"))
	dataOf := func(key string) (object, bool) {
		var rel, data object
		if jsonKind(rels[key]) != '{' || json.Unmarshal(rels[key], &rel) != nil || jsonKind(rel["data"]) != '{' ||
			json.Unmarshal(rel["data"], &data) != nil {
			return nil, false
		}
		return data, true
	}
	user, _ := dataOf("user")
	hasGUID, hasName, hasOrigin := user.has("guid"), user.has("username"), user.has("origin")
	userErrs := len(p)
	if jsonBlank(rels["user"]) {
		p.add("User can't be blank")
	}
	if hasGUID && hasName {
		p.add("Username cannot be specified when identifying user by guid")
	}
	if hasGUID && hasOrigin {
		p.add("User origin cannot be specified when identifying user by guid")
	}
	if !hasName && hasOrigin {
		p.add("User origin cannot be specified without specifying the username")
	}
	if !hasName && !hasGUID {
		p.add("User must have a username or guid specified")
	}
	userErrs = len(p) - userErrs
	spaceData := rels.has("space") && !rels.isNull("space") && !jsonBlank(subData(rels["space"]))
	orgData := rels.has("organization") && !rels.isNull("organization") && !jsonBlank(subData(rels["organization"]))
	placeErrs := len(p)
	if !spaceData && !orgData {
		p.add("must specify either a space or an organization.")
	}
	if spaceData && slices.Contains(orgRoleTypes, m.typ) {
		p.add("Space cannot be provided with the organization role type: '" + m.typ + "'.")
	}
	if orgData && slices.Contains(spaceRoleTypes, m.typ) {
		p.add("Organization cannot be provided with the space role type: '" + m.typ + "'.")
	}
	if spaceData && orgData {
		p.add("cannot specify both an organization and a space.")
	}
	if len(p) == placeErrs {
		if !rels.has("organization") || rels.isNull("organization") {
			m.spaceGUID = toOneRolePlace(rels["space"], "space", &p)
		}
		if !rels.has("space") || rels.isNull("space") {
			m.orgGUID = toOneRolePlace(rels["organization"], "organization", &p)
		}
	}
	if userErrs == 0 {
		switch {
		case hasGUID:
			m.userGUID = toOneRolePlace(rels["user"], "user", &p)
		case hasName:
			if jsonKind(user["username"]) != '"' || json.Unmarshal(user["username"], &m.username) != nil {
				p.add("Username must be a string")
			}
			if hasOrigin && !user.isNull("origin") {
				var origin string
				if jsonKind(user["origin"]) != '"' || json.Unmarshal(user["origin"], &origin) != nil {
					p.add("User origin must be a string")
				}
				m.origin = &origin
			}
		}
	}
	for _, msg := range p {
		out.add("Relationships " + msg)
	}
}

// subData is relationships.<key>.data, or nothing.
func subData(raw json.RawMessage) json.RawMessage {
	var rel object
	if json.Unmarshal(raw, &rel) != nil {
		return nil
	}
	return rel["data"]
}

// toOneRolePlace is ToOneRelationshipValidator on relationships.<key>
// of the Relationships message, whose texts have no "Relationships"
// prefix of their own.
func toOneRolePlace(raw json.RawMessage, key string, p *problems) string {
	var inner problems
	g := toOneProblems(raw, key, &inner)
	for _, msg := range inner {
		p.add(strings.TrimPrefix(msg, "Relationships "))
	}
	return g
}

// errNoSpaceUser is RolesController's unprocessable_space_user! and
// RoleCreate's check that the user is in the space's org.
func errNoSpaceUser() *apiError {
	return errUnprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")
}

// lookupUsername is RolesController#lookup_user_guid_in_uaa: the id of
// the UAA's user called username, in origin when given, else in its only
// origin. set_roles_by_username must be on, admins excepted.
func (s *Server) lookupUsername(r *request, username string, origin *string, forSpace bool) (string, error) {
	if err := s.requireFlag(r, "set_roles_by_username"); err != nil {
		return "", err
	}
	named := ""
	if origin != nil {
		named = *origin
	}
	users, err := s.store.UAAUsersNamed(r.ctx, username, named)
	if err != nil {
		return "", errInternal(err)
	}
	if origin == nil && len(users) > 1 {
		origins := make([]string, len(users))
		for i, u := range users {
			origins[i] = u.Origin
		}
		return "", errUnprocessable("Ambiguous user. User with username '" + username + "' exists in the following origins: " +
			strings.Join(origins, ", ") + ". Specify an origin to disambiguate.")
	}
	switch {
	case len(users) > 0:
		return users[0].GUID, nil
	case forSpace:
		return "", errNoSpaceUser()
	case origin != nil:
		return "", errUnprocessable("No user exists with the username '" + username + "' and origin '" + *origin + "'.")
	}
	return "", errUnprocessable("No user exists with the username '" + username + "'.")
}

// createRole is POST /v3/roles: 201. Org roles are given by admins and the
// org's managers, space roles also by the space's managers, in an active
// org. A space role needs the user to be an org user of the space's org.
// An org role for a guid CC does not know yet makes it a CC user.
func (s *Server) createRole(r *request) error {
	m, err := parseRoleMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	now := s.store.Now()
	role := store.RoleRecord{Role: store.Role{GUID: uuid.NewString(), Type: m.typ}, CreatedAt: now}
	var newUser *store.CCUser
	var place, placeKind string
	if m.spaceGUID != "" {
		sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, m.spaceGUID)
		if errors.Is(err, store.ErrNotFound) {
			return errUnprocessable("Invalid space. Ensure that the space exists and you have access to it.")
		}
		if err != nil {
			return errInternal(err)
		}
		org, err := s.spaceOrgUpdateErr(r, sp)
		if err != nil {
			return err
		}
		if role.UserGUID = m.userGUID; role.UserGUID == "" {
			if role.UserGUID, err = s.lookupUsername(r, m.username, m.origin, true); err != nil {
				return err
			}
		}
		if _, err := s.store.GetCCUser(r.ctx, r.user.viewer(), role.UserGUID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errNoSpaceUser()
			}
			return errInternal(err)
		}
		types, err := s.store.RolesIn(r.ctx, role.UserGUID, org.GUID, "")
		if err != nil {
			return errInternal(err)
		}
		if !slices.Contains(types, store.RoleOrgUser) {
			return errNoSpaceUser()
		}
		role.OrgGUID, role.SpaceGUID, place, placeKind = org.GUID, sp.GUID, sp.Name, "space"
	} else {
		org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, m.orgGUID)
		if errors.Is(err, store.ErrNotFound) {
			return errUnprocessable("Invalid organization. Ensure that the organization exists and you have access to it.")
		}
		if err != nil {
			return errInternal(err)
		}
		if err := s.orgWriteErr(r, org.GUID); err != nil {
			return err
		}
		if role.UserGUID = m.userGUID; role.UserGUID == "" {
			if role.UserGUID, err = s.lookupUsername(r, m.username, m.origin, false); err != nil {
				return err
			}
		}
		if _, err := s.store.GetCCUser(r.ctx, store.Viewer{All: true}, role.UserGUID); errors.Is(err, store.ErrNotFound) {
			newUser = &store.CCUser{GUID: role.UserGUID, CreatedAt: now, UpdatedAt: now}
		} else if err != nil {
			return errInternal(err)
		}
		role.OrgGUID, place, placeKind = org.GUID, org.Name, "organization"
	}
	owner := s.roleOwnerName(r.ctx, role.UserGUID)
	ev := s.roleChangeEvent(r.user.actor(), role.Role, "_add", owner, requestData(m.request))
	switch err := s.store.InsertRole(r.ctx, role, newUser, ev); {
	case errors.Is(err, store.ErrConflict):
		name := owner
		if name == "" {
			name = role.UserGUID
		}
		return errUnprocessable("User '" + name + "' already has '" + role.Type + "' role in " + placeKind + " '" + place + "'.")
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentRole(r.base, role))
}

// roleOwnerName is the UAA's username of the user guid, "" when the UAA
// has none (UsernamePopulator).
func (s *Server) roleOwnerName(ctx context.Context, guid string) string {
	u, err := s.store.GetUAAUser(ctx, guid)
	if err != nil {
		return ""
	}
	return u.Username
}

// roleChangeEvent is UserEventRepository's audit.user.<type>_add or
// _remove event (suffix): about the role's user, in its space (with the
// space's org) or its org.
func (s *Server) roleChangeEvent(actor store.Actor, role store.Role, suffix, ownerName string, data json.RawMessage) store.Event {
	if data == nil {
		data = requestData(nil)
	}
	ev := store.Event{GUID: uuid.NewString(), Type: "audit.user." + role.Type + suffix, Actor: actor, TargetGUID: role.UserGUID,
		TargetType: "user", TargetName: ownerName, OrgGUID: role.OrgGUID, Data: data, CreatedAt: s.store.Now()}
	if role.ForSpace() {
		ev.SpaceGUID = role.SpaceGUID
	}
	return ev
}

// deleteRole is DELETE /v3/roles/:guid: 202 with a role.delete job. A
// space role is removed by whoever may update the space, an org role by
// whoever may write to the org; an organization_user role stays while the
// user has roles in the org's spaces.
func (s *Server) deleteRole(r *request) error {
	role, err := roleResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if role.ForSpace() {
		sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, role.SpaceGUID)
		if err != nil {
			return errInternal(err)
		}
		if _, err := s.spaceOrgUpdateErr(r, sp); err != nil {
			return err
		}
	} else {
		if err := s.orgWriteErr(r, role.OrgGUID); err != nil {
			return err
		}
		if role.Type == store.RoleOrgUser {
			busy, err := s.store.HasSpaceRolesIn(r.ctx, role.UserGUID, role.OrgGUID)
			if err != nil {
				return errInternal(err)
			}
			if busy {
				return errUnprocessable("Cannot delete organization_user role while user has roles in spaces in that organization.")
			}
		}
	}
	return s.startJob(r, "role.delete", role.GUID)
}

// roleDeleteWork is a role.delete job's work: the role goes, with its
// audit.user.<type>_remove event.
func (s *Server) roleDeleteWork(ctx context.Context, j store.Job) error {
	role, err := s.store.GetRole(ctx, store.Viewer{All: true}, j.ResourceGUID)
	if err != nil {
		return err
	}
	ev := s.roleChangeEvent(s.jobActor(ctx, j), role.Role, "_remove", s.roleOwnerName(ctx, role.UserGUID), nil)
	return s.store.DeleteRole(ctx, role.GUID, ev)
}
