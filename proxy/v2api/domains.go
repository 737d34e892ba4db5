package v2api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 domains (MAPPING-routes §9.12–§9.14): one v3 collection seen as
// two v2 ones. v3 has no filter for either kind, so each list reads every
// visible domain and keeps its own; a domain of the other kind is
// DomainNotFound, which the cf CLI relies on to try the other kind
// (§9.19).
var (
	// sharedDomains: only this list takes order-by (its own enumerate
	// skips the sortable_parameters check, and name really sorts; §9.1).
	sharedDomains = &v2Resource[translate.V3Domain]{
		path: "/v2/shared_domains", keys: translate.DomainQueryKeys(), sortable: []string{"id", "name"},
		list: (*ccv3.Client).ListDomains, get: (*ccv3.Client).GetDomain,
		name: domainName, keep: translate.V3Domain.Shared, render: translate.AppendSharedDomainResource, notFound: domainNotFound,
		guid: domainGUID, create: createSharedDomain, update: updateSharedDomain, remove: removeDomain(true), async: true,
	}
	privateDomains = &v2Resource[translate.V3Domain]{
		path: "/v2/private_domains", keys: translate.DomainQueryKeys(),
		list: (*ccv3.Client).ListDomains, get: (*ccv3.Client).GetDomain,
		name: domainName, keep: isPrivate, render: translate.AppendPrivateDomainResource, notFound: domainNotFound,
		guid: domainGUID, create: createPrivateDomain, update: updatePrivateDomain, remove: removeDomain(false), async: true,
	}
	// orgPrivateDomains: the private domains an org owns or is shared
	// with (Organization#private_domains; §9.13.3), from v3's org domain
	// list.
	orgPrivateDomains = &v2Under[translate.V3Domain]{
		of: privateDomains, parent: "organizations", name: "private_domains",
		find: findOrg, parentNotFound: orgNotFound, list: (*ccv3.Client).ListOrgDomains,
	}
	// domainSharedOrgs: the orgs a private domain is shared with, those
	// the user sees (v3 filters them so), as a v2 org list.
	domainSharedOrgs = &v2Under[translate.V3Org]{
		of: orgsRead, parent: "private_domains", name: "shared_organizations", parentNotFound: domainNotFound,
		find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
			d, err := c.GetDomain(call, guid)
			if err == nil && d.Shared() {
				err = &ccv3.Error{Status: fasthttp.StatusNotFound}
			}
			return err
		},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, guid string) ([]translate.V3Org, int, error) {
			d, err := g.v3.GetDomain(c, guid)
			if err != nil || len(d.Relationships.SharedOrganizations.Data) == 0 {
				return nil, 0, err
			}
			var guids []string
			for _, o := range d.Relationships.SharedOrganizations.Data {
				guids = append(guids, o.GUID)
			}
			return orgsPage(g, c, lp, fs, guids)
		},
	}
	// domainsDeprecated is DomainsController (§9.14): both kinds, each by
	// its own presenter with DomainsController's relations.
	domainsDeprecated = &v2Resource[translate.V3Domain]{
		path: "/v2/domains", keys: []string{"name", "owning_organization_guid"},
		list: (*ccv3.Client).ListDomains, get: (*ccv3.Client).GetDomain,
		name: domainName, render: translate.AppendDomainViaDomains, notFound: domainNotFound,
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Domain, int, error) {
			return domainsPage(g, c, lp, fs, "")
		},
	}
	// domainSpaces: GET /v2/domains/:guid/spaces, the owning org's spaces
	// for a private domain, none for a shared one.
	domainSpaces = &v2Under[translate.V3Space]{
		of: spaces, parent: "domains", name: "spaces", parentNotFound: domainNotFound,
		find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
			_, err := c.GetDomain(call, guid)
			return err
		},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, guid string) ([]translate.V3Space, int, error) {
			d, err := g.v3.GetDomain(c, guid)
			if err != nil || d.Shared() {
				return nil, 0, err
			}
			return spacesPage(g, c, lp, fs, []string{d.Relationships.Organization.GUID()}, nil)
		},
	}
	// orgDomains and spaceDomains: the shared domains and those the org
	// owns; domains only shared with it are left out
	// (Domain.shared_or_owned_by).
	orgDomains = &v2Under[translate.V3Domain]{
		of: domainsDeprecated, parent: "organizations", name: "domains", find: findOrg, parentNotFound: orgNotFound,
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, org string) ([]translate.V3Domain, int, error) {
			return domainsPage(g, c, lp, fs, org)
		},
	}
	spaceDomains = &v2Under[translate.V3Domain]{
		of: domainsDeprecated, parent: "spaces", name: "domains", find: findSpace, parentNotFound: spaceNotFound,
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, space string) ([]translate.V3Domain, int, error) {
			sp, err := g.v3.GetSpace(c, space)
			if err != nil {
				return nil, 0, err
			}
			return domainsPage(g, c, lp, fs, sp.Relationships.Organization.GUID())
		},
	}
)

func orgName(o translate.V3Org) string       { return o.Name }
func domainName(d translate.V3Domain) string { return d.Name }
func domainGUID(d translate.V3Domain) string { return d.GUID }
func isPrivate(d translate.V3Domain) bool    { return !d.Shared() }

func domainNotFound(guid string) *cferr.Error { return withCause(translate.DomainNotFound(guid), nil) }

// oneDomain reads a domain of the kind keep accepts, or DomainNotFound.
// (The declarations' writes read through it: a declaration cannot refer
// to itself.)
func oneDomain(g *API, c ccv3.Call, guid string, keep func(translate.V3Domain) bool) (translate.V3Domain, error) {
	d, err := g.v3.GetDomain(c, guid)
	if err != nil {
		return d, v2ErrorAs(err, domainNotFound(guid))
	}
	if !keep(d) {
		return d, domainNotFound(guid)
	}
	return d, nil
}

func findOrg(c *ccv3.Client, call ccv3.Call, guid string) error {
	_, err := c.GetOrg(call, guid)
	return err
}

func findSpace(c *ccv3.Client, call ccv3.Call, guid string) error {
	_, err := c.GetSpace(call, guid)
	return err
}

// domainsPage reads a page of the deprecated domain views: every domain
// the user sees, or, for org, the shared ones and those it owns. q
// owning_organization_guid (a foreign key: any operator is equality) is
// kept here with name, as the views read every domain anyway.
func domainsPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, org string) ([]translate.V3Domain, int, error) {
	aq := translate.AppQueryFromFilters(nameFilters(fs))
	keep := func(d translate.V3Domain) bool {
		owner := d.Relationships.Organization.GUID()
		if org != "" && owner != "" && owner != org {
			return false
		}
		for _, f := range fs {
			if f.Key == "owning_organization_guid" && !f.Matches(owner) {
				return false
			}
		}
		return true
	}
	list := func(q ccv3.ListQuery) (ccv3.Page[translate.V3Domain], error) { return g.v3.ListDomains(c, q) }
	if org != "" {
		list = func(q ccv3.ListQuery) (ccv3.Page[translate.V3Domain], error) { return g.v3.ListOrgDomains(c, org, q) }
	}
	return listPage(g, lp, aq, ccv3.ListQuery{}, list, domainName, keep)
}

// nameFilters returns the name filters of fs.
func nameFilters(fs []translate.Filter) []translate.Filter {
	var out []translate.Filter
	for _, f := range fs {
		if f.Key == "name" {
			out = append(out, f)
		}
	}
	return out
}

// deprecatedWarning marks the answers of DomainsController's endpoints
// (deprecated_endpoint; §9.14).
func deprecatedWarning(h Handler) Handler {
	return func(g *API, ctx *fasthttp.RequestCtx) error {
		ctx.Response.Header.Set("X-Cf-Warnings", "Endpoint+deprecated")
		return h(g, ctx)
	}
}

// createSharedDomain is POST /v2/shared_domains (§9.12.2).
func createSharedDomain(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Domain, error) {
	req, err := translate.ParseSharedDomainRequest(body)
	if err != nil {
		return translate.V3Domain{}, err
	}
	return g.createDomain(ctx, req)
}

// createPrivateDomain is POST /v2/private_domains (§9.13.2).
func createPrivateDomain(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Domain, error) {
	req, err := translate.ParsePrivateDomainRequest(body, true)
	if err != nil {
		return translate.V3Domain{}, err
	}
	return g.createDomain(ctx, req)
}

func (g *API) createDomain(ctx *fasthttp.RequestCtx, req translate.DomainRequest) (translate.V3Domain, error) {
	body, err := translate.V3DomainCreate(req)
	if err != nil {
		return translate.V3Domain{}, err
	}
	d, err := g.v3.CreateDomain(call(ctx), body)
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.DomainCreateError(e.Status, e.Title(), e.Detail(), req); te != nil {
			return d, withCause(te, err)
		}
	}
	if err != nil {
		return d, v2Error(err, "")
	}
	return d, nil
}

// updateSharedDomain is PUT /v2/shared_domains/:guid: every attribute is
// exclude_in: :update, so the body is ignored and the domain answered
// unchanged, to admins only (§9.12.2). The scope decides, which spares a
// v3 write to probe the role.
func updateSharedDomain(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Domain, error) {
	d, err := oneDomain(g, call(ctx), guid, translate.V3Domain.Shared)
	if err != nil {
		return d, err
	}
	if !isAdmin(ctx) {
		return d, errNotAuthorized(nil)
	}
	return d, nil
}

// updatePrivateDomain is PUT /v2/private_domains/:guid, for admins and
// managers of the owning org. v3 cannot rename a domain nor move it: an
// update that asks for either is DomainInvalid (a documented deviation),
// one that asks for neither is answered 201.
func updatePrivateDomain(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Domain, error) {
	req, err := translate.ParsePrivateDomainRequest(body, false)
	if err != nil {
		return translate.V3Domain{}, err
	}
	c := call(ctx)
	d, err := oneDomain(g, c, guid, isPrivate)
	if err != nil {
		return d, err
	}
	// Admins and the owning org's managers, asked before the body's
	// checks (PrivateDomainAccess#read_for_update?): v3 has no write to
	// refuse a change that changes nothing.
	if err := g.managerOf(ctx, c, d.Relationships.Organization.GUID(), ""); err != nil {
		return d, err
	}
	if te := translate.DomainUpdateError(req, d); te != nil {
		return d, withCause(te, nil)
	}
	return d, nil
}

// removeDomain deletes a shared or private domain (§9.12.2, §9.13.2):
// without recursive=true a domain with routes is AssociationNotEmpty. v3
// refuses to delete a private domain still shared with other orgs, which
// v2 nullified: it is unshared from each first.
func removeDomain(shared bool) func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	return func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		c := call(ctx)
		kind := isPrivate
		if shared {
			kind = translate.V3Domain.Shared
		}
		d, err := oneDomain(g, c, guid, kind)
		if err != nil {
			return "", err
		}
		if !flagTrue(ctx, "recursive") {
			routes, err := g.v3.ListRoutes(c, ccv3.RouteQuery{DomainGUIDs: []string{guid}, PerPage: 1})
			if err != nil {
				return "", v2Error(err, "")
			}
			if routes.Pagination.TotalResults > 0 {
				return "", withCause(translate.AssociationNotEmpty("routes", "domains"), nil)
			}
		}
		for _, o := range d.Relationships.SharedOrganizations.Data {
			if err := g.v3.UnshareDomain(c, guid, o.GUID); err != nil {
				return "", v2Error(err, "")
			}
		}
		job, err := g.v3.DeleteDomain(c, guid)
		if err != nil {
			return "", v2ErrorAs(err, domainNotFound(guid))
		}
		return job, nil
	}
}

// v2ShareOrgPrivateDomain answers PUT /v2/organizations/:guid/private_domains/:domain_guid
// (OrganizationsController share_domain; §9.13.3): 201 with the org.
// Sharing a domain with its owner, or sharing a shared domain, is
// InvalidRequest. An unknown domain is DomainNotFound (CC's
// PrivateDomainNotFound has no entry in its error table: a 500 there).
func (g *API) v2ShareOrgPrivateDomain(ctx *fasthttp.RequestCtx) error {
	org, guid, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	var o translate.V3Org
	var d translate.V3Domain
	var orgErr, domErr error
	_ = parallel(
		func() error { o, orgErr = g.v3.GetOrg(c, org); return nil },
		func() error { d, domErr = g.v3.GetDomain(c, guid); return nil },
	)
	switch {
	case orgErr != nil:
		return v2ErrorAs(orgErr, orgNotFound(org))
	case domErr != nil:
		return v2ErrorAs(domErr, domainNotFound(guid))
	case d.Shared() || d.Relationships.Organization.GUID() == org:
		return withCause(translate.InvalidRequest(), nil)
	}
	if err := g.v3.ShareDomain(c, guid, org); err != nil {
		return v2ErrorAs(err, domainNotFound(guid))
	}
	return orgsRead.answer(g, ctx, o, fasthttp.StatusCreated)
}

// v2UnshareOrgPrivateDomain answers DELETE /v2/organizations/:guid/private_domains/:domain_guid:
// the owner cannot unshare its own domain (InvalidRequest); otherwise the
// domain's routes in the org's spaces go first, as v2's after_remove
// destroyed them and v3 refuses to unshare while they exist; 204.
func (g *API) v2UnshareOrgPrivateDomain(ctx *fasthttp.RequestCtx) error {
	org, guid, c := pathParam(ctx, 1), pathParam(ctx, 3), call(ctx)
	if err := findOrg(g.v3, c, org); err != nil {
		return v2ErrorAs(err, orgNotFound(org))
	}
	d, err := g.v3.GetDomain(c, guid)
	if err != nil {
		return v2ErrorAs(err, domainNotFound(guid))
	}
	// The owner cannot unshare its own domain; a shared domain, or one not
	// shared with the org, has nothing to unshare (and its routes stay).
	sharedWith := false
	for _, o := range d.Relationships.SharedOrganizations.Data {
		sharedWith = sharedWith || o.GUID == org
	}
	if d.Shared() || d.Relationships.Organization.GUID() == org || !sharedWith {
		return withCause(translate.InvalidRequest(), nil)
	}
	routes, err := g.v3.AllRoutes(c, ccv3.RouteQuery{DomainGUIDs: []string{guid}, OrgGUIDs: []string{org}})
	if err != nil {
		return v2Error(err, "")
	}
	for _, r := range routes {
		job, err := g.v3.DeleteRoute(c, r.GUID)
		if err == nil {
			err = g.awaitJob(c, job, jobFailed)
		}
		if err != nil {
			return v2ErrorAs(err, routeNotFound(r.GUID))
		}
	}
	if err := g.v3.UnshareDomain(c, guid, org); err != nil {
		return v2ErrorAs(err, domainNotFound(guid))
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// v2OrgDomainDelete answers DELETE /v2/organizations/:guid/domains/:domain_guid
// as CC does since it removed the endpoint: 301 to the literal
// placeholder, with a text body and the Endpoint removed warning (§9.14).
func (g *API) v2OrgDomainDelete(ctx *fasthttp.RequestCtx) error {
	ctx.Response.Header.Set("X-Cf-Warnings", "Endpoint+removed")
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/private_domains/:domain_guid")
	ctx.Response.Header.SetContentType("text/html;charset=utf-8")
	ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
	ctx.SetBodyString("Use DELETE /v2/private_domains/:domain_guid")
	return nil
}
