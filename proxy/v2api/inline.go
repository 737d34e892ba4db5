package v2api

import (
	"sync"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// inlines is what the apps of one response inline, fetched in the same
// round as their bundles (MAPPING §1.3 names the v3 sources).
type inlines struct {
	in       translate.Inline
	spaces   map[string]translate.SpaceBundle
	orgs     map[string]translate.OrgBundle
	stacks   map[string]translate.V3Stack // by guid
	domains  map[string]*translate.V3Domain
	bindings map[string][]translate.BindingBundle // by app guid
}

// fetchInlines reads what in asks the apps to inline: their spaces with
// organizations and ssh flags, the stacks, the domains of their routes,
// and their service bindings with details. Each kind is one batch call,
// all at once; a second round reads what v3's spaces and orgs do not
// carry, the spaces' own isolation segments and, when the orgs are
// inlined too, the orgs' (as the space and org lists read them:
// spaceSegments, orgBundles), and the binding details, one GET per
// binding under the fan-out bound, for apps that have bindings.
func (g *API) fetchInlines(c ccv3.Call, apps []translate.V3App, in translate.Inline) (*inlines, error) {
	x := &inlines{in: in}
	if in.Depth < 1 || len(apps) == 0 {
		return x, nil
	}
	var spaceGUIDs, appGUIDs []string
	seen := map[string]bool{}
	for _, a := range apps {
		appGUIDs = append(appGUIDs, a.GUID)
		if sp := a.Relationships.Space.GUID(); !seen[sp] {
			seen[sp] = true
			spaceGUIDs = append(spaceGUIDs, sp)
		}
	}
	var fns []func() error
	if in.Wants("space") {
		var mu sync.Mutex
		ssh := map[string]bool{}
		var spaces []translate.V3Space
		var segments map[string]string
		fns = append(fns,
			func() error {
				var orgs map[string]translate.V3Org
				var err error
				if spaces, orgs, err = g.v3.SpacesWithOrgs(c, spaceGUIDs); err != nil {
					return err
				}
				return parallel(
					func() (err error) { segments, err = g.spaceSegments(c, spaces); return },
					func() (err error) {
						if !in.Deeper().Wants("organization") {
							return nil
						}
						list := make([]translate.V3Org, 0, len(orgs))
						for _, o := range orgs {
							list = append(list, o)
						}
						x.orgs, err = g.orgBundles(c, list)
						return err
					})
			},
			func() error {
				return g.v3.PerApp(spaceGUIDs, func(guid string) error {
					on, err := g.v3.SpaceSSHEnabled(c, guid)
					mu.Lock()
					ssh[guid] = on
					mu.Unlock()
					return err
				})
			})
		defer func() {
			x.spaces = make(map[string]translate.SpaceBundle, len(spaces))
			for _, sp := range spaces {
				x.spaces[sp.GUID] = translate.SpaceBundle{Space: sp, AllowSSH: ssh[sp.GUID], IsolationSegmentGUID: segments[sp.GUID]}
			}
		}()
	}
	if in.Wants("stack") {
		fns = append(fns, func() error {
			page, err := g.v3.ListStacks(c, ccv3.ListQuery{PerPage: 5000})
			x.stacks = make(map[string]translate.V3Stack, len(page.Resources))
			for _, s := range page.Resources {
				x.stacks[s.GUID] = s
			}
			return err
		})
	}
	if in.Wants("routes") {
		fns = append(fns, func() error {
			domains, err := g.v3.Domains(c)
			x.domains = make(map[string]*translate.V3Domain, len(domains))
			for i := range domains {
				x.domains[domains[i].GUID] = &domains[i]
			}
			return err
		})
	}
	if in.Wants("service_bindings") {
		fns = append(fns, func() (err error) { x.bindings, err = g.bindingsOf(c, appGUIDs); return })
	}
	return x, parallel(fns...)
}

// bindingsOf lists the apps' service bindings and reads the details of
// each, by app guid.
func (g *API) bindingsOf(c ccv3.Call, appGUIDs []string) (map[string][]translate.BindingBundle, error) {
	bindings, err := g.v3.AppBindings(c, appGUIDs)
	if err != nil {
		return nil, err
	}
	bundles, err := g.bindingBundles(c, bindings)
	if err != nil {
		return nil, err
	}
	out := map[string][]translate.BindingBundle{}
	for _, b := range bundles {
		app := b.Binding.Relationships.App.GUID()
		out[app] = append(out[app], b)
	}
	return out, nil
}

// of returns what app a inlines, given its bundle.
func (x *inlines) of(b *translate.AppBundle) *translate.AppInlined {
	if x == nil || x.in.Depth < 1 {
		return nil
	}
	out := &translate.AppInlined{Domains: x.domains}
	if sp, ok := x.spaces[b.App.Relationships.Space.GUID()]; ok {
		out.Space = &sp
		if o, ok := x.orgs[sp.Space.Relationships.Organization.GUID()]; ok {
			out.SpaceOrg = &o
		}
	}
	if s, ok := x.stacks[b.StackGUID]; ok {
		out.Stack = &s
	}
	if x.domains != nil {
		out.HasRoutes, out.Routes = true, translate.WebRoutes(b.App.GUID, b.Routes)
	}
	if x.bindings != nil {
		out.HasBindings, out.Bindings = true, x.bindings[b.App.GUID]
	}
	return out
}
