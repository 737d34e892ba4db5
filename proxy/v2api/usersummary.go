package v2api

import (
	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// v2UserSummary is GET /v2/users/:guid/summary (UserSummariesController,
// MAPPING-orgs §11.5): UserNotFound first, then the user itself, admins
// and read-only admins only (find_guid_and_validate_access(:read),
// UserAccess#read?; a global auditor is refused). The user's roles bring
// their orgs and spaces; then, in one round for all the orgs, their
// spaces, quotas and managers.
//
// CC's OrganizationPresenter lists every space of an org
// (Organization#spaces); v3 lists only the spaces the caller sees, so a
// user reading their own summary sees the spaces of an org they do not
// manage only where they hold a space role. An admin sees them all, as in
// CC.
func (g *API) v2UserSummary(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	u, err := users.one(g, c, guid)
	if err != nil {
		return err
	}
	if !readsUser(ctx, guid) {
		return errNotAuthorized(nil)
	}
	rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: []string{guid}, Types: translate.UserSummaryRoleTypes,
		Include: []string{"organization", "space"}})
	if err != nil {
		return v2Error(err, "")
	}
	b := translate.UserSummaryBundle{User: u, Roles: rs.Roles, Orgs: rs.Orgs, Spaces: rs.Spaces,
		OrgSpaces: map[string][]translate.V3Space{}, Quotas: map[string]translate.V3Quota{}, Managers: map[string][]translate.V3User{}}
	if orgs := b.OrgGUIDs(); len(orgs) > 0 {
		if err := g.summaryOrgs(c, &b, orgs); err != nil {
			return v2Error(err, "")
		}
	}
	body, err := translate.UserSummary(b)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// summaryOrgs reads what the summary shows of each org: its spaces, its
// quota and its managers, each kind one batch for all the orgs.
func (g *API) summaryOrgs(c ccv3.Call, b *translate.UserSummaryBundle, orgs []string) error {
	var quotaGUIDs []string
	for _, o := range orgs {
		if q := b.Orgs[o].Relationships.Quota.GUID(); q != "" {
			quotaGUIDs = append(quotaGUIDs, q)
		}
	}
	var spaces []translate.V3Space
	var quotas []translate.V3Quota
	var managers ccv3.Roles
	err := parallel(
		func() (err error) { spaces, err = g.v3.SpacesOfOrgs(c, orgs); return },
		func() (err error) { quotas, err = g.v3.OrgQuotasByGUID(c, quotaGUIDs); return },
		func() (err error) { managers, err = g.v3.OrgRoles(c, orgs, []string{"organization_manager"}); return },
	)
	if err != nil {
		return err
	}
	for _, sp := range spaces {
		o := sp.Relationships.Organization.GUID()
		b.OrgSpaces[o] = append(b.OrgSpaces[o], sp)
	}
	for _, q := range quotas {
		b.Quotas[q.GUID] = q
	}
	for _, r := range managers.Roles {
		if u, ok := managers.Users[r.Relationships.User.GUID()]; ok {
			o := r.Relationships.Organization.GUID()
			b.Managers[o] = append(b.Managers[o], u)
		}
	}
	return nil
}
