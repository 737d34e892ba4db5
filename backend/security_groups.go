package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Security groups (cc:app/controllers/v3/security_groups_controller.rb,
// app/messages/security_group_*_message.rb,
// app/messages/validators/security_group_rule_validator.rb,
// app/actions/security_group_*.rb, app/presenters/v3/security_group_presenter.rb,
// SpacesV3Controller#running_security_groups). Admins see every group,
// other users the globally enabled ones and those bound to spaces they see;
// only admins create, update and delete them, and space and org managers
// bind them to their spaces. CC records no audit events for them.

// securityGroupListKeys are SecurityGroupListMessage's keys.
var securityGroupListKeys = append(append(append([]string{}, pageParams...), timeKeys("created_ats")...),
	append(timeKeys("updated_ats"), "guids", "names", "running_space_guids", "staging_space_guids",
		"globally_enabled_running", "globally_enabled_staging")...)

// securityGroupResource is GET /v3/security_groups and /:guid.
var securityGroupResource = &resource[store.SecurityGroup, store.SecurityGroupFilter, securityGroupJSON]{
	name:   "Security group",
	path:   "/v3/security_groups",
	keys:   securityGroupListKeys,
	orders: timeOrders,
	filter: func(q *params) store.SecurityGroupFilter {
		return store.SecurityGroupFilter{GUIDs: q.list("guids"), Names: q.list("names"),
			RunningSpaceGUIDs: q.list("running_space_guids"), StagingSpaceGUIDs: q.list("staging_space_guids"),
			Running: booleanString(q, "globally_enabled_running"), Staging: booleanString(q, "globally_enabled_staging"),
			CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list: (*store.Store).ListSecurityGroups,
	get:  (*store.Store).GetSecurityGroup,
	present: func(s *Server, r *request, groups []store.SecurityGroup) ([]securityGroupJSON, error) {
		return s.presentSecurityGroups(r, r.viewer(), "", groups)
	},
}

// spaceSecurityGroups is GET /v3/spaces/:guid/running_security_groups, or
// staging_security_groups: the groups bound to the space plus the global
// ones, each showing the space alone among its spaces.
func spaceSecurityGroups(staging bool) (*resource[store.SecurityGroup, store.SecurityGroupFilter, securityGroupJSON], nest[store.SecurityGroupFilter]) {
	path := "/v3/running_security_groups"
	if staging {
		path = "/v3/staging_security_groups"
	}
	res := &resource[store.SecurityGroup, store.SecurityGroupFilter, securityGroupJSON]{
		name:   "Security group",
		path:   path,
		orders: timeOrders,
		filter: func(q *params) store.SecurityGroupFilter {
			return store.SecurityGroupFilter{GUIDs: q.list("guids"), Names: q.list("names"),
				CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
		},
		list: func(st *store.Store, ctx context.Context, _ store.Viewer, f store.SecurityGroupFilter, p store.Page) ([]store.SecurityGroup, int, error) {
			return st.ListSpaceSecurityGroups(ctx, f, p)
		},
		present: func(s *Server, r *request, groups []store.SecurityGroup) ([]securityGroupJSON, error) {
			return s.presentSecurityGroups(r, store.Viewer{All: true}, r.params[0], groups)
		},
	}
	n := nest[store.SecurityGroupFilter]{
		parent: spaceParent,
		keys:   append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), append(timeKeys("updated_ats"), "guids", "names")...),
		narrow: func(f *store.SecurityGroupFilter, space string) { f.ForSpace, f.ForStaging = space, staging },
	}
	return res, n
}

// spaceParent is the parent of the lists under /v3/spaces/:guid, found
// after the query is read; a space the caller cannot read is not found.
var spaceParent = &parent{path: "/v3/spaces", find: func(s *Server, r *request, guid string) (string, error) {
	sp, err := s.store.GetSpace(r.ctx, r.viewer(), guid)
	if err != nil {
		return "", storeErr(err, "Space")
	}
	return sp.GUID, nil
}}

// booleanString reads a BooleanStringValidator filter: "true" or "false".
func booleanString(q *params, key string) *bool {
	if !q.has(key) {
		return nil
	}
	switch q.q.str(key) {
	case "true":
		t := true
		return &t
	case "false":
		f := false
		return &f
	}
	q.fail(errBadQuery(humanize(key) + " must be 'true' or 'false'"))
	return nil
}

// unprocessableList answers a list's query errors as 422, as
// SecurityGroupsController#index and the space's security group lists do
// (unprocessable!, not invalid_param!).
func unprocessableList(h handler) handler {
	return func(r *request) error {
		err := h(r)
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == 10005 {
			return unprocessableQuery(err)
		}
		return err
	}
}

// securityGroupJSON is SecurityGroupPresenter's body.
type securityGroupJSON struct {
	GUID            string          `json:"guid"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	Name            string          `json:"name"`
	Rules           json.RawMessage `json:"rules"`
	GloballyEnabled struct {
		Running bool `json:"running"`
		Staging bool `json:"staging"`
	} `json:"globally_enabled"`
	Relationships struct {
		RunningSpaces sharedOrgsJSON `json:"running_spaces"`
		StagingSpaces sharedOrgsJSON `json:"staging_spaces"`
	} `json:"relationships"`
	Links struct {
		Self link `json:"self"`
	} `json:"links"`
}

// presentSecurityGroups renders groups, each with the spaces it is bound
// to that v sees, or only the space only when it is set.
func (s *Server) presentSecurityGroups(r *request, v store.Viewer, only string, groups []store.SecurityGroup) ([]securityGroupJSON, error) {
	guids := make([]string, len(groups))
	for i, g := range groups {
		guids[i] = g.GUID
	}
	bound, err := s.store.SecurityGroupSpacesOf(r.ctx, v, guids)
	if err != nil {
		return nil, errInternal(err)
	}
	keep := func(spaces []string) []string {
		if only == "" {
			return spaces
		}
		var out []string
		for _, sp := range spaces {
			if sp == only {
				out = append(out, sp)
			}
		}
		return out
	}
	out := make([]securityGroupJSON, len(groups))
	for i, g := range groups {
		var j securityGroupJSON
		j.GUID, j.Name, j.Rules = g.GUID, g.Name, g.Rules
		j.CreatedAt, j.UpdatedAt = timestamp(g.CreatedAt), timestamp(g.UpdatedAt)
		j.GloballyEnabled.Running, j.GloballyEnabled.Staging = g.Running, g.Staging
		j.Relationships.RunningSpaces = sharedOrgsOf(keep(bound[g.GUID].Running))
		j.Relationships.StagingSpaces = sharedOrgsOf(keep(bound[g.GUID].Staging))
		j.Links.Self = link{Href: r.base + "/v3/security_groups/" + g.GUID}
		out[i] = j
	}
	return out, nil
}

// maxSecurityGroupName is MAX_SECURITY_GROUP_NAME_LENGTH.
const maxSecurityGroupName = 250

// securityGroupMessage is a valid create or update body: what it names.
type securityGroupMessage struct {
	name             *string
	rules            json.RawMessage
	running, staging *bool
	runningSpaces    []string
	stagingSpaces    []string
}

// parseSecurityGroupMessage validates a body as SecurityGroupCreateMessage
// does, or SecurityGroupUpdateMessage when !create, every problem in one
// 422 in CC's order: unknown keys, a create's relationships, the rules,
// the name, globally_enabled.
func parseSecurityGroupMessage(body []byte, create bool) (securityGroupMessage, error) {
	var m securityGroupMessage
	o, err := decodeAny(body)
	if err != nil {
		return m, err
	}
	keys := []string{"name", "globally_enabled", "rules"}
	if create {
		keys = append(keys, "relationships")
	}
	var p problems
	p.addErr("", o.only(keys...))
	if create && o.has("relationships") {
		m.runningSpaces, m.stagingSpaces = securityGroupRelationships(o["relationships"], &p)
	}
	if o.has("rules") {
		validateRules(o["rules"], &p)
		var compact bytes.Buffer
		if json.Compact(&compact, o["rules"]) == nil {
			m.rules = compact.Bytes()
		}
	}
	if create || o.has("name") {
		m.name = securityGroupName(o["name"], create, &p)
	}
	if jsonKind(o["globally_enabled"]) != 0 && jsonKind(o["globally_enabled"]) != 'n' {
		m.running, m.staging = globallyEnabled(o["globally_enabled"], &p)
	}
	return m, p.err()
}

// securityGroupName is the name's rules: on create present, a string of
// at most 250 characters; on update a string of 1 to 250.
func securityGroupName(raw json.RawMessage, create bool, p *problems) *string {
	if create && jsonBlank(raw) {
		p.add("Name can't be blank")
	}
	var name string
	isString := jsonKind(raw) == '"' && json.Unmarshal(raw, &name) == nil
	if !isString {
		p.add("Name must be a string")
		if k := jsonKind(raw); k != 0 && k != 'n' {
			// Ruby measures what to_s gives.
			name = string(bytes.TrimSpace(raw))
		}
	}
	switch n := utf8.RuneCountInString(name); {
	case n < 1 && !create:
		p.add("Name is too short (minimum is 1 character)")
	case n > maxSecurityGroupName:
		p.add("Name is too long (maximum is 250 characters)")
	}
	if !isString {
		return nil
	}
	return &name
}

// globallyEnabled is validate_globally_enabled: an object of running and
// staging, each a boolean.
func globallyEnabled(raw json.RawMessage, p *problems) (*bool, *bool) {
	var o map[string]json.RawMessage
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &o) != nil {
		p.add("Globally enabled must be an object")
		return nil, nil
	}
	for k := range o {
		if k != "running" && k != "staging" {
			p.add("Globally enabled only allows keys 'running' or 'staging'")
			return nil, nil
		}
	}
	var out [2]*bool
	for i, k := range []string{"running", "staging"} {
		v, ok := o[k]
		if !ok {
			continue
		}
		switch jsonKind(v) {
		case 't', 'f':
			b := jsonKind(v) == 't'
			out[i] = &b
		default:
			p.add("Globally enabled values must be booleans")
			return nil, nil
		}
	}
	return out[0], out[1]
}

// securityGroupRelationships is RelationshipValidator with the create
// message's Relationships, running_spaces and staging_spaces, each a
// to-many relationship or null; other keys are let by.
func securityGroupRelationships(raw json.RawMessage, p *problems) (running, staging []string) {
	var rels object
	switch {
	case jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil:
		p.add("Relationships 'relationships' is not an object")
		return nil, nil
	case len(rels) == 0:
		p.add("Relationships 'relationships' must include one or more valid relationships")
		return nil, nil
	}
	read := func(key string) []string {
		if !rels.has(key) || rels.isNull(key) {
			return nil
		}
		guids, ok := toManyGUIDs(rels[key])
		if !ok {
			p.add("Relationships " + humanize(key) + ` must be structured like this: "` + key +
				`: {"data": [{"guid": "valid-guid"},{"guid": "valid-guid"}]}"`)
		}
		return guids
	}
	return read("running_spaces"), read("staging_spaces")
}

// createSecurityGroup is POST /v3/security_groups: 201, admins only.
func (s *Server) createSecurityGroup(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseSecurityGroupMessage(r.ctx.PostBody(), true)
	if err != nil {
		return err
	}
	now := s.store.Now()
	g := store.SecurityGroup{GUID: uuid.NewString(), Name: *m.name, Rules: m.rules, CreatedAt: now, UpdatedAt: now}
	if g.Rules == nil {
		g.Rules = json.RawMessage("[]")
	}
	g.Running, g.Staging = m.running != nil && *m.running, m.staging != nil && *m.staging
	if err := securityGroupModelErr(g); err != nil {
		return err
	}
	taken, _, err := s.store.ListSecurityGroups(r.ctx, store.Viewer{All: true}, store.SecurityGroupFilter{Names: []string{g.Name}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return errInternal(err)
	}
	if len(taken) > 0 {
		return errUnprocessable("Security group with name '" + g.Name + "' already exists.")
	}
	// SecurityGroupCreate looks the staging spaces up before the running ones.
	for _, guids := range [][]string{m.stagingSpaces, m.runningSpaces} {
		missing, err := s.missingSpaces(r, guids, store.Viewer{All: true})
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return errUnprocessable("Spaces with guids " + rubyGUIDs(missing) + " do not exist.")
		}
	}
	switch err := s.store.CreateSecurityGroup(r.ctx, g, m.runningSpaces, m.stagingSpaces); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Security group with name '" + g.Name + "' already exists.")
	case err != nil:
		return errInternal(err)
	}
	out, err := s.presentSecurityGroups(r, r.viewer(), "", []store.SecurityGroup{g})
	if err != nil {
		return err
	}
	return r.reply(201, out[0])
}

// securityGroupModelErr is SecurityGroup#validate on what the message
// let by: the name's format and the rules, in one 422.
func securityGroupModelErr(g store.SecurityGroup) error {
	var p problems
	if !printableName(g.Name) {
		p.add("name format")
	}
	for _, e := range modelRuleErrors(g.Rules) {
		p.add(e)
	}
	return p.err()
}

// missingSpaces returns the guids among guids that name no space that v
// sees, in order.
func (s *Server) missingSpaces(r *request, guids []string, v store.Viewer) ([]string, error) {
	var missing []string
	for _, g := range guids {
		_, err := s.store.GetSpace(r.ctx, v, g)
		switch {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, g)
		case err != nil:
			return nil, errInternal(err)
		}
	}
	return missing, nil
}

// updateSecurityGroup is PATCH /v3/security_groups/:guid: a group the
// caller cannot see is not found, then only admins may.
func (s *Server) updateSecurityGroup(r *request) error {
	g, err := securityGroupResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseSecurityGroupMessage(r.ctx.PostBody(), false)
	if err != nil {
		return err
	}
	if m.name != nil {
		g.Name = *m.name
	}
	if m.rules != nil {
		g.Rules = m.rules
	}
	if m.running != nil {
		g.Running = *m.running
	}
	if m.staging != nil {
		g.Staging = *m.staging
	}
	if err := securityGroupModelErr(g); err != nil {
		return err
	}
	g.UpdatedAt = s.store.Now()
	switch err := s.store.UpdateSecurityGroup(r.ctx, g); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Security group with name '" + g.Name + "' already exists.")
	case err != nil:
		return storeErr(err, securityGroupResource.name)
	}
	out, err := s.presentSecurityGroups(r, r.viewer(), "", []store.SecurityGroup{g})
	if err != nil {
		return err
	}
	return r.reply(200, out[0])
}

// deleteSecurityGroup is DELETE /v3/security_groups/:guid: admins only,
// 202 with a security_group.delete job.
func (s *Server) deleteSecurityGroup(r *request) error {
	g, err := securityGroupResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	return s.startJob(r, "security_group.delete", g.GUID)
}

// securityGroupDeleteWork deletes the group of a security_group.delete job.
func (s *Server) securityGroupDeleteWork(ctx context.Context, j store.Job) error {
	return s.store.DeleteSecurityGroup(ctx, j.ResourceGUID)
}

// lifecycleName is the relationship a binding route names.
func lifecycleName(staging bool) string {
	if staging {
		return "staging_spaces"
	}
	return "running_spaces"
}

// bindSecurityGroup is POST /v3/security_groups/:guid/relationships/running_spaces
// (staging_spaces when staging): a group the caller cannot see is not
// found; every space given that exists must be one the caller may update
// (admin, space or org manager of an active org); spaces that do not
// exist or that the caller cannot see are 422. It answers 200 with every
// space the group is bound to that way.
func (s *Server) bindSecurityGroup(staging bool) handler {
	return func(r *request) error {
		g, err := securityGroupResource.find(s, r, r.params[0])
		if err != nil {
			return err
		}
		guids, err := parseToManyMessage(r.ctx.PostBody())
		if err != nil {
			return err
		}
		for _, guid := range guids {
			sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, guid)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return errInternal(err)
			}
			if _, err := s.spaceOrgUpdateErr(r, sp); err != nil {
				return err
			}
		}
		missing, err := s.missingSpaces(r, guids, r.viewer())
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return errUnprocessable("Spaces with guids " + rubyGUIDs(missing) + " do not exist, or you do not have access to them.")
		}
		if err := s.store.BindSecurityGroup(r.ctx, g.GUID, staging, guids); err != nil {
			return errInternal(err)
		}
		bound, err := s.store.SecurityGroupSpacesOf(r.ctx, store.Viewer{All: true}, []string{g.GUID})
		if err != nil {
			return errInternal(err)
		}
		spaces := bound[g.GUID].Running
		if staging {
			spaces = bound[g.GUID].Staging
		}
		return r.reply(200, toMany(r.base, "/v3/security_groups/"+g.GUID, lifecycleName(staging), spaces, false))
	}
}

// unbindSecurityGroup is DELETE /v3/security_groups/:guid/relationships/running_spaces/:space_guid
// (staging_spaces when staging): 204. A space that does not exist or is
// not bound that way is 422; the caller must be able to update the space.
func (s *Server) unbindSecurityGroup(staging bool) handler {
	return func(r *request) error {
		g, err := securityGroupResource.find(s, r, r.params[0])
		if err != nil {
			return err
		}
		notBound := errUnprocessable("Unable to unbind security group from space with guid '" + r.params[1] +
			"'. Ensure the space is bound to this security group.")
		sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, r.params[1])
		switch {
		case errors.Is(err, store.ErrNotFound):
			return notBound
		case err != nil:
			return errInternal(err)
		}
		if _, err := s.spaceOrgUpdateErr(r, sp); err != nil {
			return err
		}
		switch err := s.store.UnbindSecurityGroup(r.ctx, g.GUID, staging, sp.GUID); {
		case errors.Is(err, store.ErrNotFound):
			return notBound
		case err != nil:
			return errInternal(err)
		}
		r.ctx.SetStatusCode(204)
		return nil
	}
}
