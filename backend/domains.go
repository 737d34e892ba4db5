package backend

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"capibridge/backend/store"
)

// The org's domains, route reservations and the sharing of private domains
// with other orgs (cc:app/controllers/v3/domains_controller.rb,
// organizations_controller.rb#index_org_domains).

// orgParent is the parent of the lists under /v3/organizations/:guid. CC
// finds the org before it reads the query.
var orgParent = &parent{path: "/v3/organizations", first: true, find: func(s *Server, r *request, guid string) (string, error) {
	org, err := orgResource.find(s, r, guid)
	return org.GUID, err
}}

// orgDomains is GET /v3/organizations/:guid/domains: the shared domains and
// the private ones the org owns or is shared with, read with the same
// DomainsListMessage as /v3/domains.
var orgDomains = nest[store.DomainFilter]{parent: orgParent, keys: domainResource.keys,
	narrow: func(f *store.DomainFilter, org string) { f.InOrg = org }}

// orgDefaultDomain is GET /v3/organizations/:guid/domains/default: the
// oldest shared domain that is neither internal nor a router group's,
// else the org's first private domain; 404 Domain when there is none or
// the caller may not see it (cc:Organization#default_domain,
// OrganizationsV3Controller#show_default_domain).
func (s *Server) orgDefaultDomain(r *request) error {
	org, err := orgResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	ds, _, err := s.store.ListDomains(r.ctx, store.Viewer{All: true}, store.DomainFilter{InOrg: org.GUID}, store.Page{Page: 1, PerPage: 5000})
	if err != nil {
		return errInternal(err)
	}
	slices.SortFunc(ds, func(a, b store.Domain) int { return int(a.ID - b.ID) })
	pick := slices.IndexFunc(ds, func(d store.Domain) bool { return d.OrgGUID == "" && !d.Internal && d.RouterGroupGUID == nil })
	if pick < 0 {
		pick = slices.IndexFunc(ds, func(d store.Domain) bool { return d.OrgGUID == org.GUID })
	}
	if pick < 0 {
		return errNotFound("Domain")
	}
	d, err := domainResource.find(s, r, ds[pick].GUID)
	if err != nil {
		return err
	}
	out, err := s.presentDomains(r, []store.Domain{d})
	if err != nil {
		return err
	}
	return r.reply(200, out[0])
}

type matchingRouteJSON struct {
	MatchingRoute bool `json:"matching_route"`
}

// routeReservations is GET /v3/domains/:guid/route_reservations: whether
// any route, visible or not, has the domain with exactly host, path and
// port (DomainsController#check_routes). Other query keys are ignored; a
// port that is not a number matches no route.
func (s *Server) routeReservations(r *request) error {
	d, err := domainResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	host, path, port := r.query.str("host"), r.query.str("path"), int64(0)
	if r.query.has("port") {
		if port, err = strconv.ParseInt(r.query.str("port"), 10, 64); err != nil {
			return r.reply(200, matchingRouteJSON{})
		}
	}
	found, err := s.store.RouteReserved(r.ctx, d.GUID, host, path, port)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, matchingRouteJSON{MatchingRoute: found})
}

// orgAccess is what the caller may do in an org: write is CC's
// can_write_to_active_org? (admin or org manager), active its
// writable_org_state (admins write to suspended orgs too).
type orgAccess struct {
	org           store.Org
	write, active bool
}

// orgAccessOf reads the org guid names with the caller's access to it;
// an org that does not exist is store.ErrNotFound.
func (s *Server) orgAccessOf(r *request, guid string) (orgAccess, error) {
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, guid)
	if err != nil {
		return orgAccess{}, err
	}
	if r.user.admin() {
		return orgAccess{org: org, write: true, active: true}, nil
	}
	roles, err := s.store.RolesIn(r.ctx, r.user.GUID, guid, "")
	if err != nil {
		return orgAccess{}, err
	}
	return orgAccess{org: org, write: slices.Contains(roles, store.RoleOrgManager), active: !org.Suspended}, nil
}

// canSee says whether the caller can read the org (can_read_from_org?).
func (s *Server) canSee(r *request, orgGUID string) (bool, error) {
	_, err := s.store.GetOrg(r.ctx, r.user.viewer(), orgGUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

type sharedOrgsJSON struct {
	Data []guidJSON `json:"data"`
}

// sharedOrgsOf renders the guids of the orgs a domain is shared with.
func sharedOrgsOf(guids []string) sharedOrgsJSON {
	out := sharedOrgsJSON{Data: make([]guidJSON, len(guids))}
	for i := range guids {
		out.Data[i] = guidJSON{GUID: &guids[i]}
	}
	return out
}

// sharedOrgsData is the data of DomainSharedOrgsPresenter: the orgs the
// domain is shared with that the caller sees.
func (s *Server) sharedOrgsData(r *request, domainGUID string) (sharedOrgsJSON, error) {
	shared, err := s.store.SharedOrgs(r.ctx, r.user.viewer(), []string{domainGUID})
	if err != nil {
		return sharedOrgsJSON{}, errInternal(err)
	}
	return sharedOrgsOf(shared[domainGUID]), nil
}

// presentDomains renders a page of domains, each with the orgs it is shared
// with that the caller sees (DomainsController#presenter_args).
func (s *Server) presentDomains(r *request, ds []store.Domain) ([]domainJSON, error) {
	guids := make([]string, len(ds))
	for i, d := range ds {
		guids[i] = d.GUID
	}
	shared, err := s.store.SharedOrgs(r.ctx, r.user.viewer(), guids)
	if err != nil {
		return nil, errInternal(err)
	}
	out := make([]domainJSON, len(ds))
	for i, d := range ds {
		out[i] = presentDomain(r.base, d, shared[d.GUID])
	}
	return out, nil
}

// sharedOrgsShape is DomainUpdateSharedOrgsMessage's error for any body
// but a list of guid objects.
const sharedOrgsShape = `Data must have the structure "data": [{"guid": shared_org_guid_1}, {"guid": shared_org_guid_2}]`

// parseSharedOrgs reads {"data": [{"guid": ...}, ...]}.
func parseSharedOrgs(body []byte) ([]string, error) {
	o, err := decodeObject(body, "data")
	if err != nil {
		return nil, err
	}
	var items []map[string]json.RawMessage
	if !o.has("data") || o.isNull("data") || json.Unmarshal(o["data"], &items) != nil {
		return nil, errUnprocessable(sharedOrgsShape)
	}
	guids := make([]string, 0, len(items))
	for _, item := range items {
		var g string
		if item == nil || json.Unmarshal(item["guid"], &g) != nil || len(g) < 1 || len(g) > 200 {
			return nil, errUnprocessable(sharedOrgsShape)
		}
		guids = append(guids, g)
	}
	return guids, nil
}

// shareDomain is POST /v3/domains/:guid/relationships/shared_organizations:
// 200 with the orgs the domain is now shared with
// (DomainsController#update_shared_orgs, in its order of checks).
func (s *Server) shareDomain(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	guids, err := parseSharedOrgs(r.ctx.PostBody())
	if err != nil {
		return err
	}
	d, err := domainResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if err := s.domainWriteErr(r, d); err != nil {
		return err
	}
	if err := s.verifySharedOrgs(r, guids, d.OrgGUID); err != nil {
		return err
	}
	if d.OrgGUID == "" {
		return errUnprocessable("Domains cannot be shared with other organizations unless they are scoped to an organization.")
	}
	if err := s.store.ShareDomain(r.ctx, d.GUID, guids); err != nil {
		return errInternal(err)
	}
	out, err := s.sharedOrgsData(r, d.GUID)
	if err != nil {
		return err
	}
	return r.reply(200, out)
}

// verifySharedOrgs checks the orgs a domain of the org owner ("" for a
// shared domain) is to be shared with, in the order and with the texts of
// DomainsController#verify_shared_organizations_guids!.
func (s *Server) verifySharedOrgs(r *request, guids []string, owner string) error {
	orgs := make([]orgAccess, 0, len(guids))
	for _, g := range guids {
		acc, err := s.orgAccessOf(r, g)
		if errors.Is(err, store.ErrNotFound) {
			return errUnprocessable("Organization with guid '" + g + "' does not exist, or you do not have access to it.")
		}
		if err != nil {
			return errInternal(err)
		}
		orgs = append(orgs, acc)
	}
	for _, acc := range orgs {
		seen, err := s.canSee(r, acc.org.GUID)
		if err != nil {
			return errInternal(err)
		}
		switch {
		case !seen:
			return errUnprocessable("Organization with guid '" + acc.org.GUID + "' either does not exist, or you do not have access to it.")
		case !acc.write:
			return errUnprocessable("You do not have sufficient permissions for organization '" + acc.org.Name + "' to share domain.")
		case !acc.active:
			return errUnprocessable("Organization '" + acc.org.Name + "' is suspended.")
		}
	}
	if owner != "" && slices.Contains(guids, owner) {
		return errUnprocessable("Domain cannot be shared with owning organization.")
	}
	return nil
}

// unshareDomain is DELETE /v3/domains/:guid/relationships/shared_organizations/:org_guid:
// 204 (DomainsController#delete_shared_org). A manager of either the owning
// or the shared org may unshare.
func (s *Server) unshareDomain(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	d, err := domainResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	orgGUID := r.params[1]
	unknownOrg := errUnprocessable("Organization with guid '" + orgGUID + "' does not exist or you do not have access to it.")
	shared, err := s.orgAccessOf(r, orgGUID)
	if errors.Is(err, store.ErrNotFound) {
		return unknownOrg
	}
	if err != nil {
		return errInternal(err)
	}
	var owner orgAccess
	if d.OrgGUID != "" {
		if owner, err = s.orgAccessOf(r, d.OrgGUID); err != nil {
			return errInternal(err)
		}
	} else if r.user.admin() {
		owner = orgAccess{write: true, active: true}
	}
	// check_unshare_domain_permissions!: either org's manager, in an
	// active org; a manager whose orgs are suspended gets OrgSuspended.
	if !(owner.write && owner.active) && !(shared.write && shared.active) {
		if !owner.write && !shared.write {
			return errNotAuthorized()
		}
		return errOrgSuspended()
	}
	seen, err := s.canSee(r, orgGUID)
	if err != nil {
		return errInternal(err)
	}
	if !seen {
		return unknownOrg
	}
	notShared := errUnprocessable("Unable to unshare domain from organization with name '" + shared.org.Name +
		"'. Ensure the domain is shared to this organization.")
	if d.OrgGUID == "" || d.OrgGUID == orgGUID {
		return notShared
	}
	switch err := s.store.RemoveDomainShare(r.ctx, d.GUID, orgGUID); {
	case errors.Is(err, store.ErrNotShared):
		return notShared
	case errors.Is(err, store.ErrDomainRoutes):
		return errUnprocessable("This domain has associated routes in this organization. Delete the routes before unsharing.")
	case err != nil:
		return errInternal(err)
	}
	r.ctx.SetStatusCode(204)
	return nil
}
