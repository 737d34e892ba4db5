package backend

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// Space quotas (cc:app/controllers/v3/space_quotas_controller.rb,
// app/messages/space_quotas_create_message.rb, space_quota_update_message.rb,
// app/actions/space_quotas_create.rb, space_quota_update.rb,
// space_quota_apply.rb, space_quota_unapply.rb, space_quota_delete.rb,
// app/presenters/v3/space_quota_presenter.rb). A user reads the quotas of
// the spaces where it holds a space role and those of the orgs it
// manages; admins and the managers of the owning org write them. The
// limits are enforced by quota_enforce.go.

// spaceQuotaRoutes lists the routes of space quotas (/v3/space_quotas).
func (s *Server) spaceQuotaRoutes(p func(string) []string) []route {
	get, post, patch, del := fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPatch, fasthttp.MethodDelete
	return []route{
		{get, p("/v3/space_quotas"), false, spaceQuotaResource.index(s)},
		{get, p("/v3/space_quotas/:guid"), false, spaceQuotaResource.showOne(s)},
		{post, p("/v3/space_quotas"), false, s.createSpaceQuota},
		{patch, p("/v3/space_quotas/:guid"), false, s.updateSpaceQuota},
		{del, p("/v3/space_quotas/:guid"), false, s.deleteSpaceQuota},
		{post, p("/v3/space_quotas/:guid/relationships/spaces"), false, s.applySpaceQuota},
		{del, p("/v3/space_quotas/:guid/relationships/spaces/:space_guid"), false, s.removeSpaceQuota},
	}
}

// spaceQuotaResource is GET /v3/space_quotas and /:guid.
var spaceQuotaResource = &resource[store.SpaceQuota, store.SpaceQuotaFilter, spaceQuotaJSON]{
	name: "Space quota",
	path: "/v3/space_quotas",
	keys: append(append(append([]string{}, pageParams...), timeKeys("created_ats")...),
		append(timeKeys("updated_ats"), "guids", "names", "organization_guids", "space_guids")...),
	orders: timeOrders,
	filter: func(q *params) store.SpaceQuotaFilter {
		return store.SpaceQuotaFilter{GUIDs: q.list("guids"), Names: q.list("names"), OrgGUIDs: q.list("organization_guids"),
			SpaceGUIDs: q.list("space_guids"), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list: (*store.Store).ListSpaceQuotas,
	get: func(st *store.Store, ctx context.Context, v store.Viewer, guid string) (store.SpaceQuota, error) {
		return st.GetSpaceQuota(ctx, v, guid)
	},
	present: (*Server).presentSpaceQuotas,
}

// spaceQuotaJSON is SpaceQuotaPresenter's body.
type spaceQuotaJSON struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Name      string `json:"name"`
	quotaLimitsJSON
	Relationships struct {
		Organization toOne          `json:"organization"`
		Spaces       sharedOrgsJSON `json:"spaces"`
	} `json:"relationships"`
	Links struct {
		Self         link `json:"self"`
		Organization link `json:"organization"`
	} `json:"links"`
}

// presentSpaceQuota renders a space quota with the spaces that have it
// which the caller sees (SpaceQuotaPresenter#filtered_visible_spaces).
func presentSpaceQuota(base string, q store.SpaceQuota, spaces []string) spaceQuotaJSON {
	j := spaceQuotaJSON{GUID: q.GUID, Name: q.Name, quotaLimitsJSON: presentQuotaLimits(q.QuotaLimits)}
	j.CreatedAt, j.UpdatedAt = timestamp(q.CreatedAt), timestamp(q.UpdatedAt)
	j.Relationships.Organization = one(q.OrgGUID)
	j.Relationships.Spaces = sharedOrgsOf(spaces)
	j.Links.Self = link{Href: base + "/v3/space_quotas/" + q.GUID}
	j.Links.Organization = link{Href: base + "/v3/organizations/" + q.OrgGUID}
	return j
}

// presentSpaceQuotas renders space quotas, each with the spaces the
// caller sees.
func (s *Server) presentSpaceQuotas(r *request, qs []store.SpaceQuota) ([]spaceQuotaJSON, error) {
	return presentQuotas(r, qs, func(q store.SpaceQuota) string { return q.GUID }, s.store.QuotaSpaces, presentSpaceQuota)
}

// spaceQuotaMessage is a valid space quota create body.
type spaceQuotaMessage struct {
	quotaMessage
	org    string
	spaces []string
}

// parseSpaceQuotaCreate validates a body as SpaceQuotasCreateMessage
// does: SpaceQuotaUpdateMessage's rules (a given name must not be blank),
// then relationships, which must name the organization.
func parseSpaceQuotaCreate(body []byte) (spaceQuotaMessage, error) {
	var m spaceQuotaMessage
	rules := quotaRules{groups: spaceQuotaGroups, namePresent: true,
		relationships: func(raw json.RawMessage, _ bool, p *problems) { m.org, m.spaces = spaceQuotaRelationships(raw, p) }}
	var err error
	m.quotaMessage, err = parseQuotaMessage(body, rules)
	return m, err
}

// spaceQuotaRelationships is RelationshipValidator with the create
// message's Relationships: organization (to-one, required) and spaces
// (to-many, optional).
func spaceQuotaRelationships(raw json.RawMessage, p *problems) (string, []string) {
	var rels object
	switch {
	case jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil:
		p.add("Relationships 'relationships' is not an object")
		return "", nil
	case len(rels) == 0:
		p.add("Relationships 'relationships' must include one or more valid relationships")
		return "", nil
	}
	org := toOneProblems(rels["organization"], "organization", p)
	var spaces []string
	if rels.has("spaces") && !rels.isNull("spaces") {
		spaces = toManyProblems(rels["spaces"], "spaces", p)
	}
	return org, spaces
}

// spaceQuotaEvent is an audit.space_quota.* event; a space's events name
// the space.
func (s *Server) spaceQuotaEvent(actor store.Actor, typ string, q store.SpaceQuota, spaceGUID string, data json.RawMessage) store.Event {
	ev := s.quotaEvent(actor, typ, "space_quota", q.GUID, q.Name, data)
	ev.SpaceGUID, ev.OrgGUID = spaceGUID, q.OrgGUID
	return ev
}

// spaceQuotaSpaceData is the metadata of an apply or remove event.
func spaceQuotaSpaceData(sp store.Space) json.RawMessage {
	data, _ := json.Marshal(map[string]string{"space_guid": sp.GUID, "space_name": sp.Name})
	return data
}

// reservedPortsErr is SpaceQuotaDefinition#validate_total_reserved_ports:
// no more reserved ports than routes, nor than the org's quota allows.
func (s *Server) reservedPortsErr(ctx context.Context, q store.SpaceQuota) error {
	ports := q.TotalReservedPorts
	if ports == nil {
		return nil
	}
	org, err := s.store.GetOrg(ctx, store.Viewer{All: true}, q.OrgGUID)
	if err != nil {
		return errInternal(err)
	}
	oq, err := s.store.GetOrgQuota(ctx, org.QuotaGUID)
	if err != nil {
		return errInternal(err)
	}
	if (q.TotalRoutes != nil && *ports > *q.TotalRoutes) || (oq.TotalReservedPorts != nil && *ports > *oq.TotalReservedPorts) {
		return errUnprocessable("Total reserved ports must be -1, 0, or a positive integer, must be less than or equal to total routes, " +
			"and must be less than or equal to total reserved ports for the organization quota.")
	}
	return nil
}

// spaceQuotaTaken is the text of a name the org's quotas already have.
func spaceQuotaTaken(name string) error {
	return errUnprocessable("Space Quota '" + name + "' already exists.")
}

// createSpaceQuota is POST /v3/space_quotas: 201, by admins and the
// managers of the active owning org. What the message leaves out is
// unlimited, paid services allowed.
func (s *Server) createSpaceQuota(r *request) error {
	m, err := parseSpaceQuotaCreate(r.ctx.PostBody())
	if err != nil {
		return err
	}
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, m.org)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUnprocessable("Organization with guid '" + m.org + "' does not exist, or you do not have access to it.")
	case err != nil:
		return errInternal(err)
	}
	if err := s.orgWriteErr(r, org.GUID); err != nil {
		return err
	}
	now := s.store.Now()
	q := store.SpaceQuota{GUID: uuid.NewString(), Name: *m.name, OrgGUID: org.GUID, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true},
		CreatedAt: now, UpdatedAt: now}
	m.apply(&q.QuotaLimits)
	q.TotalDomains = nil
	if err := s.reservedPortsErr(r.ctx, q); err != nil {
		return err
	}
	// CC saves the quota, whose name may be taken, before it looks at the
	// spaces.
	taken, _, err := s.store.ListSpaceQuotas(r.ctx, store.Viewer{All: true},
		store.SpaceQuotaFilter{Names: []string{q.Name}, OrgGUIDs: []string{org.GUID}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return errInternal(err)
	}
	if len(taken) > 0 {
		return spaceQuotaTaken(q.Name)
	}
	if len(m.spaces) > 0 {
		found, _, err := s.store.ListSpaces(r.ctx, store.Viewer{All: true}, store.SpaceFilter{GUIDs: m.spaces, OrgGUIDs: []string{org.GUID}},
			store.Page{Page: 1, PerPage: len(m.spaces)})
		if err != nil {
			return errInternal(err)
		}
		if missing := missingGUIDs(m.spaces, spaceGUIDs(found)); len(missing) > 0 {
			return errUnprocessable("Spaces with guids " + rubyGUIDs(missing) +
				" do not exist within the organization specified, or you do not have access to them.")
		}
	}
	ev := s.spaceQuotaEvent(r.user.actor(), "audit.space_quota.create", q, "", requestData(m.request))
	switch err := s.store.CreateSpaceQuota(r.ctx, q, m.spaces, ev); {
	case errors.Is(err, store.ErrConflict):
		return spaceQuotaTaken(q.Name)
	case err != nil:
		return errInternal(err)
	}
	out, err := s.presentSpaceQuotas(r, []store.SpaceQuota{q})
	if err != nil {
		return err
	}
	return r.reply(201, out[0])
}

// spaceGUIDs are the guids of spaces.
func spaceGUIDs(spaces []store.Space) []string {
	out := make([]string, len(spaces))
	for i, sp := range spaces {
		out[i] = sp.GUID
	}
	return out
}

// missingGUIDs are the guids of want not in have, in order (Ruby's
// Array#-).
func missingGUIDs(want, have []string) []string {
	seen := map[string]bool{}
	for _, g := range have {
		seen[g] = true
	}
	var out []string
	for _, g := range want {
		if !seen[g] {
			out = append(out, g)
		}
	}
	return out
}

// writableSpaceQuota reads the space quota of the path as the writes do:
// 404 unless the caller reads it, 403 unless admin or manager of its org,
// and its org must be active.
func (s *Server) writableSpaceQuota(r *request) (store.SpaceQuota, error) {
	q, err := spaceQuotaResource.find(s, r, r.params[0])
	if err != nil {
		return q, err
	}
	return q, s.orgWriteErr(r, q.OrgGUID)
}

// updateSpaceQuota is PATCH /v3/space_quotas/:guid: 200. CC reads the
// body as OrganizationQuotasUpdateMessage (so domains are taken, and
// dropped) and changes only what it names; a limited log rate is refused
// while a space with the quota runs a process with an unlimited one.
func (s *Server) updateSpaceQuota(r *request) error {
	q, err := s.writableSpaceQuota(r)
	if err != nil {
		return err
	}
	m, err := parseQuotaMessage(r.ctx.PostBody(), quotaRules{groups: orgQuotaGroups})
	if err != nil {
		return err
	}
	if m.name != nil {
		q.Name = *m.name
	}
	m.apply(&q.QuotaLimits)
	q.TotalDomains = nil
	if q.LogRateLimit != nil {
		names, err := s.store.UnlimitedLogRateSpaces(r.ctx, q.GUID, nil)
		if err != nil {
			return errInternal(err)
		}
		if len(names) > 0 {
			return errUnprocessable("Current usage exceeds new quota values. " + unlimitedLogRateText(names))
		}
	}
	if err := s.reservedPortsErr(r.ctx, q); err != nil {
		return err
	}
	q.UpdatedAt = s.store.Now()
	ev := s.spaceQuotaEvent(r.user.actor(), "audit.space_quota.update", q, "", requestData(m.request))
	switch err := s.store.UpdateSpaceQuota(r.ctx, q, ev); {
	case errors.Is(err, store.ErrConflict):
		return spaceQuotaTaken(q.Name)
	case err != nil:
		return storeErr(err, spaceQuotaResource.name)
	}
	out, err := s.presentSpaceQuotas(r, []store.SpaceQuota{q})
	if err != nil {
		return err
	}
	return r.reply(200, out[0])
}

// unlimitedLogRateText is SpaceQuotaUpdate#unlimited_processes_exist_error!
// naming at most two of the spaces.
func unlimitedLogRateText(names []string) string {
	const most = 2
	shown := names
	if len(shown) > most {
		shown = shown[:most]
	}
	named := strings.Join(shown, "', '")
	text := "This quota is applied to "
	switch {
	case len(names) == 1:
		text += "space '" + named + "' which contains"
	case len(names) > most:
		text += "spaces '" + named + "' and " + strconv.Itoa(len(names)-most) + " other spaces which contain"
	default:
		text += "spaces '" + named + "' which contain"
	}
	return text + " apps running with an unlimited log rate limit."
}

// deleteSpaceQuota is DELETE /v3/space_quotas/:guid: refused while a space
// has the quota, else 202 with a space_quota.delete job.
func (s *Server) deleteSpaceQuota(r *request) error {
	q, err := s.writableSpaceQuota(r)
	if err != nil {
		return err
	}
	inUse, err := s.store.SpaceQuotaInUse(r.ctx, q.GUID)
	if err != nil {
		return errInternal(err)
	}
	if inUse {
		return errUnprocessable("This quota is applied to one or more spaces. Remove this quota from all spaces before deleting.")
	}
	return s.startJob(r, "space_quota.delete", q.GUID)
}

// spaceQuotaDeleteWork deletes the quota of a space_quota.delete job with
// its audit event (SpaceQuotaDeleteAction); spaces given it since are
// left without one.
func (s *Server) spaceQuotaDeleteWork(ctx context.Context, j store.Job) error {
	q, err := s.store.GetSpaceQuota(ctx, store.Viewer{All: true}, j.ResourceGUID)
	if err != nil {
		return err
	}
	ev := s.spaceQuotaEvent(s.jobActor(ctx, j), "audit.space_quota.delete", q, "", nil)
	return s.store.DeleteSpaceQuota(ctx, q.GUID, s.store.Now(), ev)
}

// applySpaceQuota is POST /v3/space_quotas/:guid/relationships/spaces:
// it gives the spaces the quota and answers 200 with every space that has
// it. The spaces must exist, be readable and be in the quota's org.
func (s *Server) applySpaceQuota(r *request) error {
	q, err := s.writableSpaceQuota(r)
	if err != nil {
		return err
	}
	guids, err := parseToManyMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	page := store.Page{Page: 1, PerPage: max(len(guids), 1)}
	existing, _, err := s.store.ListSpaces(r.ctx, store.Viewer{All: true}, store.SpaceFilter{GUIDs: guids}, page)
	if err != nil {
		return errInternal(err)
	}
	readable, _, err := s.store.ListSpaces(r.ctx, r.viewer(), store.SpaceFilter{GUIDs: guids}, page)
	if err != nil {
		return errInternal(err)
	}
	invalid := append(missingGUIDs(guids, spaceGUIDs(existing)), missingGUIDs(spaceGUIDs(existing), spaceGUIDs(readable))...)
	if len(invalid) > 0 {
		return errUnprocessable("Spaces with guids " + rubyGUIDs(invalid) + " do not exist, or you do not have access to them.")
	}
	for _, sp := range existing {
		if sp.OrgGUID != q.OrgGUID {
			return errUnprocessable("Space quotas cannot be applied outside of their owning organization.")
		}
	}
	if q.LogRateLimit != nil {
		names, err := s.store.UnlimitedLogRateSpaces(r.ctx, "", spaceGUIDs(existing))
		if err != nil {
			return errInternal(err)
		}
		if len(names) > 0 {
			return errUnprocessable("Current usage exceeds new quota values. " +
				"The space(s) being assigned this quota contain apps running with an unlimited log rate limit.")
		}
	}
	events := make([]store.Event, 0, len(existing))
	for _, sp := range existing {
		events = append(events, s.spaceQuotaEvent(r.user.actor(), "audit.space_quota.apply", q, sp.GUID, spaceQuotaSpaceData(sp)))
	}
	if err := s.store.ApplySpaceQuota(r.ctx, q.GUID, spaceGUIDs(existing), s.store.Now(), events...); err != nil {
		return errInternal(err)
	}
	all, err := s.store.QuotaSpaces(r.ctx, store.Viewer{All: true}, []string{q.GUID})
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, toMany(r.base, "/v3/space_quotas/"+q.GUID, "spaces", all[q.GUID], false))
}

// removeSpaceQuota is DELETE /v3/space_quotas/:guid/relationships/spaces/:space_guid:
// 204 once the space no longer has the quota; a space that does not have
// it is refused.
func (s *Server) removeSpaceQuota(r *request) error {
	q, err := s.writableSpaceQuota(r)
	if err != nil {
		return err
	}
	guid := r.params[1]
	refused := errUnprocessable("Unable to remove quota from space with guid '" + guid + "'. Ensure the space quota is applied to this space.")
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, guid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refused
	case err != nil:
		return errInternal(err)
	case sp.QuotaGUID != q.GUID:
		return refused
	}
	ev := s.spaceQuotaEvent(r.user.actor(), "audit.space_quota.remove", q, sp.GUID, spaceQuotaSpaceData(sp))
	switch err := s.store.RemoveSpaceQuota(r.ctx, q.GUID, sp.GUID, s.store.Now(), ev); {
	case errors.Is(err, store.ErrNotFound):
		return refused
	case err != nil:
		return errInternal(err)
	}
	r.ctx.SetStatusCode(204)
	return nil
}
