package backend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Organization quotas (cc:app/controllers/v3/organization_quotas_controller.rb,
// app/messages/organization_quotas_*_message.rb, quotas_*_message.rb,
// app/actions/organization_quotas_create.rb, organization_quotas_update.rb,
// organization_quota_apply.rb, organization_quota_delete.rb). Every user
// reads every quota; only admins write them. The limits are kept, not
// enforced.

// orgQuotaResource is GET /v3/organization_quotas and /:guid.
var orgQuotaResource = &resource[store.OrgQuota, store.OrgQuotaFilter, orgQuotaJSON]{
	name: "Organization quota",
	path: "/v3/organization_quotas",
	keys: append(append(append([]string{}, pageParams...), timeKeys("created_ats")...),
		append(timeKeys("updated_ats"), "guids", "names", "organization_guids")...),
	orders: timeOrders,
	filter: func(q *params) store.OrgQuotaFilter {
		return store.OrgQuotaFilter{GUIDs: q.list("guids"), Names: q.list("names"), OrgGUIDs: q.list("organization_guids"),
			CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list:    (*store.Store).ListOrgQuotas,
	get:     seenByAll((*store.Store).GetOrgQuota),
	present: (*Server).presentOrgQuotas,
}

// orgQuotaJSON is OrganizationQuotaPresenter's body.
type orgQuotaJSON struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Name      string `json:"name"`
	quotaLimitsJSON
	Domains struct {
		TotalDomains *int64 `json:"total_domains"`
	} `json:"domains"`
	Relationships struct {
		Organizations sharedOrgsJSON `json:"organizations"`
	} `json:"relationships"`
	Links struct {
		Self link `json:"self"`
	} `json:"links"`
}

// presentOrgQuota renders a quota with the orgs that have it which the
// caller sees (OrganizationQuotaPresenter#filtered_visible_orgs).
func presentOrgQuota(base string, q store.OrgQuota, orgs []string) orgQuotaJSON {
	j := orgQuotaJSON{GUID: q.GUID, Name: q.Name, quotaLimitsJSON: presentQuotaLimits(q.QuotaLimits)}
	j.CreatedAt, j.UpdatedAt = timestamp(q.CreatedAt), timestamp(q.UpdatedAt)
	j.Domains.TotalDomains = q.TotalDomains
	j.Relationships.Organizations = sharedOrgsOf(orgs)
	j.Links.Self = link{Href: base + "/v3/organization_quotas/" + q.GUID}
	return j
}

// presentOrgQuotas renders quotas, each with the orgs the caller sees.
func (s *Server) presentOrgQuotas(r *request, qs []store.OrgQuota) ([]orgQuotaJSON, error) {
	return presentQuotas(r, qs, func(q store.OrgQuota) string { return q.GUID }, s.store.QuotaOrgs, presentOrgQuota)
}

// orgQuotaMessage is a valid organization quota body, with a create's
// organizations.
type orgQuotaMessage struct {
	quotaMessage
	orgs []string
}

// parseOrgQuotaMessage validates a body as OrganizationQuotasUpdateMessage
// does, and OrganizationQuotasCreateMessage when create (its
// relationships only when given).
func parseOrgQuotaMessage(body []byte, create bool) (orgQuotaMessage, error) {
	var orgs []string
	rules := quotaRules{groups: orgQuotaGroups}
	if create {
		rules.relationships = func(raw json.RawMessage, given bool, p *problems) {
			if given {
				orgs = quotaRelationships(raw, p)
			}
		}
	}
	m, err := parseQuotaMessage(body, rules)
	return orgQuotaMessage{quotaMessage: m, orgs: orgs}, err
}

// quotaRelationships is RelationshipValidator with the create message's
// Relationships: organizations, a to-many relationship.
func quotaRelationships(raw json.RawMessage, p *problems) []string {
	var rels object
	switch {
	case jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil:
		p.add("Relationships 'relationships' is not an object")
		return nil
	case len(rels) == 0:
		p.add("Relationships 'relationships' must include one or more valid relationships")
		return nil
	}
	p.addErr("Relationships ", rels.only("organizations"))
	if !rels.has("organizations") || rels.isNull("organizations") {
		return nil
	}
	guids, ok := toManyGUIDs(rels["organizations"])
	if !ok {
		p.add(`Relationships Organizations must be structured like this: "organizations: {"data": [{"guid": "valid-guid"},{"guid": "valid-guid"}]}"`)
	}
	return guids
}

// toManyGUIDs reads {"data": [{"guid": "..."}, ...]}.
func toManyGUIDs(raw json.RawMessage) ([]string, bool) {
	var rel struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &rel) != nil || rel.Data == nil {
		return nil, false
	}
	guids := make([]string, 0, len(rel.Data))
	for _, item := range rel.Data {
		var g string
		if item == nil || jsonKind(item["guid"]) != '"' || json.Unmarshal(item["guid"], &g) != nil {
			return nil, false
		}
		guids = append(guids, g)
	}
	return guids, true
}

// rubyGUIDs is a list of guids as Ruby's Array#to_s writes it, the way
// CC's texts name the organizations it did not find.
func rubyGUIDs(guids []string) string {
	quoted := make([]string, len(guids))
	for i, g := range guids {
		b, _ := json.Marshal(g)
		quoted[i] = string(b)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// missingOrgs returns the guids among guids that name no org, in order.
func (s *Server) missingOrgs(r *request, guids []string) ([]string, error) {
	orgs, err := s.store.OrgsByGUID(r.ctx, guids)
	if err != nil {
		return nil, errInternal(err)
	}
	found := map[string]bool{}
	for _, o := range orgs {
		found[o.GUID] = true
	}
	var missing []string
	for _, g := range guids {
		if !found[g] {
			missing = append(missing, g)
		}
	}
	return missing, nil
}

// orgQuotaEvent is an audit.organization_quota.* event; an apply's names
// the org.
func (s *Server) orgQuotaEvent(actor store.Actor, typ string, q store.OrgQuota, orgGUID string, data json.RawMessage) store.Event {
	ev := s.quotaEvent(actor, typ, "organization_quota", q.GUID, q.Name, data)
	ev.OrgGUID = orgGUID
	return ev
}

// createOrgQuota is POST /v3/organization_quotas: 201, admins only. What
// the message leaves out is unlimited, paid services allowed.
func (s *Server) createOrgQuota(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseOrgQuotaMessage(r.ctx.PostBody(), true)
	if err != nil {
		return err
	}
	now := s.store.Now()
	q := store.OrgQuota{GUID: uuid.NewString(), Name: *m.name, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true}, CreatedAt: now, UpdatedAt: now}
	m.apply(&q.QuotaLimits)
	missing, err := s.missingOrgs(r, m.orgs)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return errUnprocessable("Organizations with guids " + rubyGUIDs(missing) + " do not exist, or you do not have access to them.")
	}
	ev := s.orgQuotaEvent(r.user.actor(), "audit.organization_quota.create", q, "", requestData(m.request))
	switch err := s.store.CreateOrgQuota(r.ctx, q, m.orgs, ev); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Organization Quota '" + q.Name + "' already exists.")
	case err != nil:
		return errInternal(err)
	}
	out, err := s.presentOrgQuotas(r, []store.OrgQuota{q})
	if err != nil {
		return err
	}
	return r.reply(201, out[0])
}

// updateOrgQuota is PATCH /v3/organization_quotas/:guid: 200, admins
// only; it changes only what the message names.
func (s *Server) updateOrgQuota(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseOrgQuotaMessage(r.ctx.PostBody(), false)
	if err != nil {
		return err
	}
	q, err := orgQuotaResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if m.name != nil {
		q.Name = *m.name
	}
	m.apply(&q.QuotaLimits)
	q.UpdatedAt = s.store.Now()
	ev := s.orgQuotaEvent(r.user.actor(), "audit.organization_quota.update", q, "", requestData(m.request))
	switch err := s.store.UpdateOrgQuota(r.ctx, q, ev); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Organization Quota '" + q.Name + "' already exists.")
	case err != nil:
		return storeErr(err, orgQuotaResource.name)
	}
	out, err := s.presentOrgQuotas(r, []store.OrgQuota{q})
	if err != nil {
		return err
	}
	return r.reply(200, out[0])
}

// deleteOrgQuota is DELETE /v3/organization_quotas/:guid: admins only,
// refused while an org has the quota, else 202 with an
// organization_quota.delete job.
func (s *Server) deleteOrgQuota(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	q, err := orgQuotaResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	inUse, err := s.store.OrgQuotaInUse(r.ctx, q.GUID)
	if err != nil {
		return errInternal(err)
	}
	if inUse {
		return errUnprocessable("This quota is applied to one or more organizations. Apply different quotas to those organizations before deleting.")
	}
	return s.startJob(r, "organization_quota.delete", q.GUID)
}

// orgQuotaDeleteWork deletes the quota of an organization_quota.delete
// job, with its audit event; an org given the quota since the job was
// asked for fails it as QuotaDefinition#before_destroy does.
func (s *Server) orgQuotaDeleteWork(ctx context.Context, j store.Job) error {
	q, err := s.store.GetOrgQuota(ctx, j.ResourceGUID)
	if err != nil {
		return err
	}
	ev := s.orgQuotaEvent(s.jobActor(ctx, j), "audit.organization_quota.delete", q, "", nil)
	err = s.store.DeleteOrgQuota(ctx, q.GUID, ev)
	if errors.Is(err, store.ErrQuotaInUse) {
		return &apiError{Status: 400, Code: 10006, Title: "CF-AssociationNotEmpty",
			Detail: "Please delete the organization associations for your quota definition."}
	}
	return err
}

// applyOrgQuota is POST /v3/organization_quotas/:guid/relationships/organizations:
// admins only; it gives the orgs the quota and answers 200 with every org
// that has it.
func (s *Server) applyOrgQuota(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	guids, err := parseToManyMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	q, err := orgQuotaResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	missing, err := s.missingOrgs(r, guids)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return errUnprocessable("Organizations with guids " + rubyGUIDs(missing) + " do not exist")
	}
	orgs, err := s.store.OrgsByGUID(r.ctx, guids)
	if err != nil {
		return errInternal(err)
	}
	events := make([]store.Event, 0, len(orgs))
	for _, o := range orgs {
		data, _ := json.Marshal(map[string]string{"organization_guid": o.GUID, "organization_name": o.Name})
		events = append(events, s.orgQuotaEvent(r.user.actor(), "audit.organization_quota.apply", q, o.GUID, data))
	}
	if err := s.store.ApplyOrgQuota(r.ctx, q.GUID, guids, s.store.Now(), events...); err != nil {
		return errInternal(err)
	}
	all, err := s.store.QuotaOrgs(r.ctx, store.Viewer{All: true}, []string{q.GUID})
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, toMany(r.base, "/v3/organization_quotas/"+q.GUID, "organizations", all[q.GUID], false))
}
