package backend

import (
	"errors"

	"capibridge/backend/store"
)

// storeErr maps store.ErrNotFound to CC's 404 for what; other store
// failures are internal.
func storeErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(what)
	}
	return errInternal(err)
}

func (s *Server) listOrgs(r *request) error {
	if err := r.query.allow(append(pageParams, "guids", "names", "label_selector")...); err != nil {
		return err
	}
	p, err := r.query.page("created_at", "updated_at", "name")
	if err != nil {
		return err
	}
	labels, err := r.query.labels()
	if err != nil {
		return err
	}
	f := store.OrgFilter{GUIDs: r.query.list("guids"), Names: r.query.list("names"), Labels: labels}
	orgs, total, err := s.store.ListOrgs(r.ctx, r.user.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	out := newList(r, "/v3/organizations", p, total, orgs, func(o store.Org) orgJSON { return presentOrg(r.base, o) })
	return r.reply(200, out)
}

func (s *Server) getOrg(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	o, err := s.store.GetOrg(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	return r.reply(200, presentOrg(r.base, o))
}

func (s *Server) listSpaces(r *request) error {
	if err := r.query.allow(append(pageParams, "guids", "names", "organization_guids", "label_selector", "include")...); err != nil {
		return err
	}
	p, err := r.query.page("created_at", "updated_at", "name")
	if err != nil {
		return err
	}
	labels, err := r.query.labels()
	if err != nil {
		return err
	}
	include, err := r.include("organization")
	if err != nil {
		return err
	}
	f := store.SpaceFilter{GUIDs: r.query.list("guids"), Names: r.query.list("names"), OrgGUIDs: r.query.list("organization_guids"), Labels: labels}
	spaces, total, err := s.store.ListSpaces(r.ctx, r.user.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	orgs, err := s.orgsOf(r, spaces)
	if err != nil {
		return err
	}
	out := newList(r, "/v3/spaces", p, total, spaces, func(sp store.Space) spaceJSON { return presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended) })
	if include["organization"] {
		out.Included = &includedJSON{Organizations: presentOrgs(r.base, spaces, orgs)}
	}
	return r.reply(200, out)
}

// orgsOf loads the organizations of spaces, by guid.
func (s *Server) orgsOf(r *request, spaces []store.Space) (map[string]store.Org, error) {
	var guids []string
	seen := map[string]bool{}
	for _, sp := range spaces {
		if !seen[sp.OrgGUID] {
			seen[sp.OrgGUID] = true
			guids = append(guids, sp.OrgGUID)
		}
	}
	orgs, err := s.store.OrgsByGUID(r.ctx, guids)
	if err != nil {
		return nil, errInternal(err)
	}
	byGUID := make(map[string]store.Org, len(orgs))
	for _, o := range orgs {
		byGUID[o.GUID] = o
	}
	return byGUID, nil
}

// presentOrgs renders the orgs of spaces once each, in the order of first use.
func presentOrgs(base string, spaces []store.Space, orgs map[string]store.Org) []orgJSON {
	out := []orgJSON{}
	seen := map[string]bool{}
	for _, sp := range spaces {
		if o, ok := orgs[sp.OrgGUID]; ok && !seen[o.GUID] {
			seen[o.GUID] = true
			out = append(out, presentOrg(base, o))
		}
	}
	return out
}

// include parses the include parameter against the values a resource allows
// (cc:app/messages/*_message.rb, IncludeParamValidator).
func (r *request) include(allowed ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, v := range r.query.list("include") {
		if !contains(allowed, v) {
			quoted := make([]string, len(allowed))
			for i, a := range allowed {
				quoted[i] = "'" + a + "'"
			}
			return nil, errBadQuery("Invalid included resource: '" + v + "'. Valid included resources are: " + joinComma(quoted))
		}
		out[v] = true
	}
	return out, nil
}

func joinComma(list []string) string {
	out := ""
	for i, l := range list {
		if i > 0 {
			out += ", "
		}
		out += l
	}
	return out
}

func (s *Server) getSpace(r *request) error {
	if err := r.query.allow("include"); err != nil {
		return err
	}
	include, err := r.include("organization")
	if err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	orgs, err := s.orgsOf(r, []store.Space{sp})
	if err != nil {
		return err
	}
	if !include["organization"] {
		return r.reply(200, presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended))
	}
	return r.reply(200, struct {
		spaceJSON
		Included includedJSON `json:"included"`
	}{presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended), includedJSON{Organizations: presentOrgs(r.base, []store.Space{sp}, orgs)}})
}

// spaceSSHFeature is the one space feature CC has.
func spaceSSHFeature(sp store.Space) featureJSON {
	return featureJSON{Name: "ssh", Description: "Enable SSHing into apps in the space.", Enabled: sp.AllowSSH}
}

func (s *Server) listSpaceFeatures(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	return r.reply(200, map[string][]featureJSON{"resources": {spaceSSHFeature(sp)}})
}

func (s *Server) getSpaceFeature(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	if r.params[1] != "ssh" {
		return errNotFound("Feature")
	}
	return r.reply(200, spaceSSHFeature(sp))
}

func (s *Server) listStacks(r *request) error {
	if err := r.query.allow(append(pageParams, "guids", "names", "default", "label_selector")...); err != nil {
		return err
	}
	p, err := r.query.page("created_at", "updated_at", "name")
	if err != nil {
		return err
	}
	labels, err := r.query.labels()
	if err != nil {
		return err
	}
	def, err := r.query.boolean("default")
	if err != nil {
		return err
	}
	stacks, total, err := s.store.ListStacks(r.ctx, store.StackFilter{GUIDs: r.query.list("guids"), Names: r.query.list("names"), Default: def, Labels: labels}, p)
	if err != nil {
		return errInternal(err)
	}
	out := newList(r, "/v3/stacks", p, total, stacks, func(st store.Stack) stackJSON { return presentStack(r.base, st) })
	return r.reply(200, out)
}

func (s *Server) getStack(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	st, err := s.store.GetStack(r.ctx, r.params[0])
	if err != nil {
		return storeErr(err, "Stack")
	}
	return r.reply(200, presentStack(r.base, st))
}
