package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Creating, updating and deleting organizations
// (cc:app/controllers/v3/organizations_controller.rb #create, #update,
// #destroy; app/actions/organization_create.rb, organization_update.rb,
// organization_delete.rb). Like CC, none of them reads the query.

// nameMessage is a valid organization or space create/update body: what
// was asked for, nil when absent.
type nameMessage struct {
	name      *string
	suspended *bool
	md        *metadataPatch
	org       string // relationships.organization of a space create
	request   json.RawMessage
}

// nameRules are the differences between the four messages.
type nameRules struct {
	keys []string
	// required is the create messages' presence check: the org's runs after
	// the name's other rules (OrganizationCreateMessage adds it to its
	// parent's), the space's before them.
	required, requiredFirst bool
	minLength               bool // length minimum 1 (not SpaceCreateMessage)
	relationships           bool // SpaceCreateMessage's organization
}

var (
	orgCreateRules   = nameRules{keys: []string{"name", "suspended", "metadata"}, required: true, minLength: true}
	orgUpdateRules   = nameRules{keys: []string{"name", "suspended", "metadata"}, minLength: true}
	spaceCreateRules = nameRules{keys: []string{"name", "relationships", "metadata"}, required: true, requiredFirst: true, relationships: true}
	spaceUpdateRules = nameRules{keys: []string{"name", "metadata"}, minLength: true}
)

// parseNameMessage validates a body as CC's Organization*Message and
// Space*Message do, in their order: metadata, unknown keys, relationships,
// the name, suspended; every problem in one 422 joined by ", ". The
// embedded CF's spaces cannot be suspended, so the space messages do not
// take suspended.
func parseNameMessage(body []byte, rules nameRules) (nameMessage, error) {
	var m nameMessage
	m.request = bytes.TrimSpace(body)
	o, md, p, err := decodeMessage(body, rules.keys...)
	if err != nil {
		return m, err
	}
	m.md = md
	if rules.relationships {
		m.org = spaceRelationships(o, &p)
	}
	blank := rules.required && jsonBlank(o["name"])
	if blank && rules.requiredFirst {
		p.add("Name can't be blank")
	}
	if o.has("name") && !o.isNull("name") {
		m.name = nameProblems(o["name"], rules.minLength, &p)
	}
	if blank && !rules.requiredFirst {
		p.add("Name can't be blank")
	}
	if contains(rules.keys, "suspended") {
		b, err := o.boolean("suspended", "Suspended")
		p.addErr("", err)
		m.suspended = b
	}
	return m, p.err()
}

// nameProblems applies the name's string, length (1 to 255, or at most 255)
// and format rules and returns the name as Ruby's to_s gives it.
func nameProblems(raw json.RawMessage, minLength bool, p *problems) *string {
	var name string
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &name) != nil {
		p.add("Name must be a string")
		name = string(bytes.TrimSpace(raw))
	}
	switch n := utf8.RuneCountInString(name); {
	case minLength && n < 1:
		p.add("Name is too short (minimum is 1 character)")
	case n > 255:
		p.add("Name is too long (maximum is 255 characters)")
	}
	if !printableName(name) {
		p.add("Name must not contain escaped characters")
	}
	return &name
}

// printableName is CC's ORG_NAME_REGEX and SPACE_NAME_REGEX,
// /\A[[:alnum:][:punct:][:print:]]+\Z/: printable characters (spaces
// included), at least one, and \Z lets one final newline through.
func printableName(s string) bool {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

// spaceRelationships is RelationshipValidator with
// SpaceCreateMessage::Relationships: an organization, and nothing else.
func spaceRelationships(o object, p *problems) string {
	raw := o["relationships"]
	var rels object
	switch {
	case jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil:
		p.add("Relationships 'relationships' is not an object")
		return ""
	case len(rels) == 0:
		p.add("Relationships 'relationships' must include one or more valid relationships")
		return ""
	}
	p.addErr("Relationships ", rels.only("organization"))
	if !rels.has("organization") || rels.isNull("organization") {
		p.add("Relationships Organization can't be blank")
		p.add(`Relationships Organization must be structured like this: "organization: {"data": {"guid": "valid-guid"}}"`)
		return ""
	}
	return toOneProblems(rels["organization"], "organization", p)
}

// orgEvent is an audit event about an organization.
func (s *Server) orgEvent(r *request, typ string, o store.Org, data json.RawMessage) store.Event {
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: o.GUID, TargetType: "organization",
		TargetName: o.Name, OrgGUID: o.GUID, Data: data, CreatedAt: s.store.Now()}
}

// requestData is an event's {"request": <the body>} (the Repositories'
// request_attrs, CC's message audit_hash).
func requestData(body json.RawMessage) json.RawMessage {
	if len(body) == 0 {
		body = json.RawMessage("{}")
	}
	return json.RawMessage(`{"request":` + string(body) + `}`)
}

// createOrg is POST /v3/organizations: 201. Only an admin may, unless the
// user_org_creation feature flag is on; a creator who is not an admin
// becomes the org's user and manager, and may not create it suspended.
// Every new org gets the default quota (Organization#add_default_quota).
func (s *Server) createOrg(r *request) error {
	if !r.user.admin() && !s.flag("user_org_creation") {
		return errNotAuthorized()
	}
	m, err := parseNameMessage(r.ctx.PostBody(), orgCreateRules)
	if err != nil {
		return err
	}
	if m.suspended != nil && *m.suspended && !r.user.admin() {
		return errNotAuthorized()
	}
	now := s.store.Now()
	o := store.Org{GUID: uuid.NewString(), Name: *m.name, Suspended: m.suspended != nil && *m.suspended, QuotaGUID: DemoQuotaGUID,
		CreatedAt: now, UpdatedAt: now}
	if m.md != nil {
		o.Labels, o.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	events := []store.Event{s.orgEvent(r, "audit.organization.create", o, requestData(m.request))}
	var roles []store.Role
	if !r.user.admin() {
		for _, typ := range []string{store.RoleOrgUser, store.RoleOrgManager} {
			role := store.Role{GUID: uuid.NewString(), Type: typ, UserGUID: r.user.GUID, OrgGUID: o.GUID}
			roles = append(roles, role)
			events = append(events, s.roleChangeEvent(r.user.actor(), role, "_add", r.user.Username, creatorRoleData(role)))
		}
	}
	switch err := s.store.InsertOrg(r.ctx, o, roles, events...); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Organization '" + o.Name + "' already exists.")
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentOrg(r.base, o))
}

// creatorRoleData is the data of the audit.user.organization_<role>_add
// event of a role OrganizationCreate gives the org's creator: the body
// RoleCreate would have read.
func creatorRoleData(role store.Role) json.RawMessage {
	data, _ := json.Marshal(map[string]any{"request": map[string]any{"type": role.Type,
		"relationships": map[string]any{"user": map[string]any{"data": map[string]string{"guid": role.UserGUID}},
			"organization": map[string]any{"data": map[string]string{"guid": role.OrgGUID}}}}})
	return data
}

// updateOrg is PATCH /v3/organizations/:guid: 200. Admins and the org's
// managers may, the managers only in an active org and not to suspend it.
func (s *Server) updateOrg(r *request) error {
	o, err := s.store.GetOrg(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	if err := s.orgWriteErr(r, o.GUID); err != nil {
		return err
	}
	m, err := parseNameMessage(r.ctx.PostBody(), orgUpdateRules)
	if err != nil {
		return err
	}
	if m.suspended != nil && *m.suspended && !r.user.admin() {
		return errNotAuthorized()
	}
	if m.name != nil {
		o.Name = *m.name
	}
	if m.suspended != nil {
		o.Suspended = *m.suspended
	}
	if m.md != nil {
		o.Labels, o.Annotations = apply(o.Labels, m.md.labels), apply(o.Annotations, m.md.annotations)
	}
	o.UpdatedAt = s.store.Now()
	switch err := s.store.UpdateOrg(r.ctx, o, s.orgEvent(r, "audit.organization.update", o, requestData(m.request))); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Organization name '" + o.Name + "' is already taken.")
	case err != nil:
		return storeErr(err, "Organization")
	}
	return r.reply(200, presentOrg(r.base, o))
}

// deleteOrg is DELETE /v3/organizations/:guid: the admin's alone, 202
// with an organization.delete job (orgDeleteWork).
func (s *Server) deleteOrg(r *request) error {
	o, err := s.store.GetOrg(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	return s.startJob(r, "organization.delete", o.GUID)
}
