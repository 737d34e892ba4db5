package backend

import (
	"context"
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

// orgResource is GET /v3/organizations and /v3/organizations/:guid.
var orgResource = &resource[store.Org, store.OrgFilter, orgJSON]{
	name:   "Organization",
	path:   "/v3/organizations",
	keys:   append(append([]string{}, pageParams...), "guids", "names", "label_selector"),
	orders: namedOrders,
	filter: func(q *params) store.OrgFilter {
		return store.OrgFilter{GUIDs: q.list("guids"), Names: q.list("names"), Labels: q.labels()}
	},
	list:    (*store.Store).ListOrgs,
	get:     (*store.Store).GetOrg,
	present: each(func(r *request, o store.Org) orgJSON { return presentOrg(r.base, o) }),
}

// spaceResource is GET /v3/spaces and /v3/spaces/:guid, both with
// include=organization. A space shows whether its org is suspended.
var spaceResource = &resource[store.Space, store.SpaceFilter, spaceJSON]{
	name:   "Space",
	path:   "/v3/spaces",
	keys:   append(append([]string{}, pageParams...), "guids", "names", "organization_guids", "label_selector", "include"),
	orders: namedOrders,
	filter: func(q *params) store.SpaceFilter {
		return store.SpaceFilter{GUIDs: q.list("guids"), Names: q.list("names"), OrgGUIDs: q.list("organization_guids"), Labels: q.labels()}
	},
	list: (*store.Store).ListSpaces,
	get:  (*store.Store).GetSpace,
	present: func(s *Server, r *request, spaces []store.Space) ([]spaceJSON, error) {
		orgs, err := s.orgsOf(r, spaces)
		if err != nil {
			return nil, err
		}
		out := make([]spaceJSON, len(spaces))
		for i, sp := range spaces {
			out[i] = presentSpace(r.base, sp, orgs[sp.OrgGUID].Suspended)
		}
		return out, nil
	},
	includes:     []string{"organization"},
	showIncludes: true,
	included: func(s *Server, r *request, _ map[string]bool, spaces []store.Space) (any, error) {
		orgs, err := s.orgsOf(r, spaces)
		if err != nil {
			return nil, err
		}
		return &includedJSON{Organizations: presentOrgs(r.base, spaces, orgs)}, nil
	},
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

// stackResource is GET /v3/stacks and /v3/stacks/:guid; every user sees every stack.
var stackResource = &resource[store.Stack, store.StackFilter, stackJSON]{
	name:   "Stack",
	path:   "/v3/stacks",
	keys:   append(append([]string{}, pageParams...), "guids", "names", "default", "label_selector"),
	orders: namedOrders,
	filter: func(q *params) store.StackFilter {
		return store.StackFilter{GUIDs: q.list("guids"), Names: q.list("names"), Labels: q.labels(), Default: q.boolean("default")}
	},
	list: func(st *store.Store, ctx context.Context, _ store.Viewer, f store.StackFilter, p store.Page) ([]store.Stack, int, error) {
		return st.ListStacks(ctx, f, p)
	},
	get:     seenByAll((*store.Store).GetStack),
	present: each(func(r *request, st store.Stack) stackJSON { return presentStack(r.base, st) }),
}
