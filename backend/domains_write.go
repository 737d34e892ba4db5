package backend

import (
	"errors"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Creating and deleting domains (cc:app/controllers/v3/domains_controller.rb
// #create and #destroy, app/actions/domain_create.rb, domain_delete.rb).
// CC records no audit event for either. Like CC, neither reads the query.

// createDomain is POST /v3/domains: 201 with the domain as GET shows it. A
// shared domain is the admin's to create; a private one (relationships
// given) also its org's managers', who may share it at once with other
// orgs they manage. CC's private_domain_creation feature flag is on by
// default and the embedded CF has no feature flags, so it is always on.
func (s *Server) createDomain(r *request) error {
	m, err := parseDomainCreate(r.ctx.PostBody())
	if err != nil {
		return err
	}
	d := store.Domain{Name: m.name, Internal: m.internal && !m.private, RouterGroupGUID: m.routerGroup,
		EnforceRoutePolicies: m.enforce, RoutePoliciesScope: m.scope, Protocols: []string{"http"}}
	if m.private {
		// CC looks the org up whoever asks (Organization.find).
		err := s.orgWriteErr(r, m.orgGUID)
		if errors.Is(err, store.ErrNotFound) {
			return errUnprocessable("Organization with guid '" + m.orgGUID + "' does not exist or you do not have access to it.")
		}
		if err != nil {
			return err
		}
		if err := s.verifySharedOrgs(r, m.sharedOrgs, m.orgGUID); err != nil {
			return err
		}
		d.OrgGUID = m.orgGUID
	} else if !r.user.admin() {
		return errNotAuthorized()
	}
	// CC asks the routing API for the router group (routing.go); a blank
	// guid is not looked up. A shared domain of a tcp group is a TCP
	// domain (SharedDomain#protocols); private domains never have a group
	// (parseDomainCreate).
	if m.routerGroup != nil && strings.TrimSpace(*m.routerGroup) != "" {
		g, err := s.store.GetRouterGroup(r.ctx, *m.routerGroup)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errUnprocessable("Router group with guid '" + *m.routerGroup + "' not found.")
		case err != nil:
			return errInternal(err)
		case g.Type == "tcp":
			d.Protocols = []string{"tcp"}
		}
	}
	if err := s.checkDomainName(r, d); err != nil {
		return err
	}
	now := s.store.Now()
	d.GUID, d.CreatedAt, d.UpdatedAt = uuid.NewString(), now, now
	if m.md != nil {
		d.Labels, d.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	switch err := s.store.CreateDomain(r.ctx, d, m.sharedOrgs...); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable(`The domain name "` + d.Name + `" is already in use`)
	case err != nil:
		return errInternal(err)
	}
	out, err := s.presentDomains(r, []store.Domain{d})
	if err != nil {
		return err
	}
	return r.reply(201, out[0])
}

// parentDomains are the names a domain name sits under, nearest the root
// first, and the name itself: "a.b.c" gives "c", "b.c", "a.b.c" (CC's
// DomainDecorator#intermediate_domains, less the top-level label, which
// the name's own lookups need too).
func parentDomains(name string) []string {
	labels := strings.Split(name, ".")
	out := make([]string, 0, len(labels))
	for i := len(labels) - 1; i >= 0; i-- {
		out = append(out, strings.Join(labels[i:], "."))
	}
	return out
}

// checkDomainName applies the name validations of CC's Domain and
// PrivateDomain models, in their order, with DomainCreate's texts: a name
// in use; a parent domain private to another org; a parent address taken
// by a route; for a private domain, a subdomain that is shared or another
// org's. The public suffix list, the system domain and the private domain
// quota are not modelled.
func (s *Server) checkDomainName(r *request, d store.Domain) error {
	all := store.Viewer{All: true}
	names := parentDomains(d.Name)
	found, _, err := s.store.ListDomains(r.ctx, all, store.DomainFilter{Names: names}, store.Page{Page: 1, PerPage: len(names)})
	if err != nil {
		return errInternal(err)
	}
	byName := make(map[string]store.Domain, len(found))
	for _, f := range found {
		byName[strings.ToLower(f.Name)] = f
	}
	if _, ok := byName[strings.ToLower(d.Name)]; ok {
		return errUnprocessable(`The domain name "` + d.Name + `" is already in use`)
	}
	var p problems
	reserved := func(by, what string) {
		p.add(`The domain name "` + d.Name + `" cannot be created because "` + by + `" is already reserved by ` + what)
	}
	for _, n := range names[1:] {
		if f, ok := byName[strings.ToLower(n)]; ok && f.OrgGUID != "" && f.OrgGUID != d.OrgGUID {
			reserved(f.Name, "another domain")
			break
		}
	}
	for _, n := range names[1:] {
		host, parent, _ := strings.Cut(n, ".")
		f, ok := byName[strings.ToLower(parent)]
		if !ok || !domainPattern.MatchString(n) {
			continue
		}
		_, taken, err := s.store.ListRoutes(r.ctx, all, store.RouteFilter{DomainGUIDs: []string{f.GUID}, Hosts: []string{host}}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			return errInternal(err)
		}
		if taken > 0 {
			reserved(n, "a route")
			break
		}
	}
	if d.OrgGUID != "" {
		under, _, err := s.store.ListDomains(r.ctx, all, store.DomainFilter{Under: d.Name, NotOrg: d.OrgGUID}, store.Page{Page: 1, PerPage: 1})
		if err != nil {
			return errInternal(err)
		}
		if len(under) > 0 {
			reserved(under[0].Name, "another domain")
		}
	}
	return p.err()
}

// orgWriteErr is why the caller may not write to the org guid names:
// can_write_to_active_org? (403), then require_writable_org_id! (suspended);
// store.ErrNotFound when there is no such org.
func (s *Server) orgWriteErr(r *request, guid string) error {
	owner, err := s.orgAccessOf(r, guid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return err
	case err != nil:
		return errInternal(err)
	case !owner.write:
		return errNotAuthorized()
	case !owner.active:
		return errOrgSuspended()
	}
	return nil
}

// domainWriteErr is why the caller may not change domain d: orgWriteErr
// on its owning org. A shared domain has none, so only an admin may.
func (s *Server) domainWriteErr(r *request, d store.Domain) error {
	if d.OrgGUID != "" {
		return s.orgWriteErr(r, d.OrgGUID)
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	return nil
}

// deleteDomain is DELETE /v3/domains/:guid: 202 with a domain.delete job,
// which deletes the domain with its routes and their destinations when it
// runs (DeleteActionJob with DomainDelete). A domain the caller cannot see
// is 404; a private domain still shared with other orgs is refused.
func (s *Server) deleteDomain(r *request) error {
	d, err := domainResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if err := s.domainWriteErr(r, d); err != nil {
		return err
	}
	shared, err := s.store.SharedOrgs(r.ctx, store.Viewer{All: true}, []string{d.GUID})
	if err != nil {
		return errInternal(err)
	}
	if len(shared[d.GUID]) > 0 {
		return errUnprocessable("This domain is shared with other organizations. Unshare before deleting.")
	}
	return s.startJob(r, "domain.delete", d.GUID)
}
