package v2api

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

func orgNotFound(guid string) *cferr.Error {
	return &cferr.Error{Status: 404, Code: 30003, Name: "OrganizationNotFound", Description: "The organization could not be found: " + guid}
}

func spaceNotFound(guid string) *cferr.Error {
	return &cferr.Error{Status: 404, Code: 40004, Name: "SpaceNotFound", Description: "The app space could not be found: " + guid}
}

func stackNotFound(guid string) *cferr.Error {
	return &cferr.Error{Status: 404, Code: 250003, Name: "StackNotFound", Description: "The stack could not be found: " + guid}
}

// v2ErrorAs is v2Error with a v3 404 answered as notFound. v3 answers 404
// both for a missing resource and for one the user may not see; CC v2
// answered the second NotAuthorized (find_guid_and_validate_access), which
// the gateway cannot tell apart without more rights than the user's.
func v2ErrorAs(err error, notFound *cferr.Error) error {
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == 404 {
		notFound.Cause = err
		return notFound
	}
	return v2Error(err, "")
}

// v3Order is the v3 order_by of a v2 list: order-by=name maps to v3's name
// ordering; otherwise v2's id order is v3's default, and desc is
// approximated by -created_at, as for apps (MAPPING §3.3).
func v3Order(lp translate.ListParams) string {
	desc := lp.OrderDirection == "desc"
	switch {
	case lp.OrderBy == "name" && desc:
		return "-name"
	case lp.OrderBy == "name":
		return "name"
	case desc:
		return "-created_at"
	}
	return ""
}

// listPage reads the page lp asks for through list. Filters v3 cannot
// express (aq.Local: name with <, >, <=, >=), and names too many for one
// upstream URL (NamesLocal), are applied here, as for apps (MAPPING §3.3).
// So is keep, when set: every match is then read, ordered here (by id, v3's
// default order, or by name) and paged here.
func listPage[T any](g *API, lp translate.ListParams, aq translate.AppQuery, q ccv3.ListQuery,
	list func(ccv3.ListQuery) (ccv3.Page[T], error), name func(T) string, keep func(T) bool) ([]T, int, error) {
	if aq.Empty {
		return nil, 0, nil
	}
	aq.NamesLocal(upstreamNamesBytes)
	q.Names, q.OrderBy = aq.Names, v3Order(lp)
	var order func([]T)
	if keep != nil {
		q.OrderBy, order = "", localOrder(lp, name)
	}
	if aq.OrgGUIDs != nil {
		q.OrgGUIDs = aq.OrgGUIDs
	}
	return scanSorted(lp, aq.Scan() || keep != nil, g.cfg.MaxLocalScan, "resources", "name",
		func(page, perPage int) (ccv3.Page[T], error) {
			q.Page, q.PerPage = page, perPage
			return list(q)
		},
		func(r T) bool { return (keep == nil || keep(r)) && aq.Match(name(r)) }, order)
}

// localOrder puts a scanned list in the order lp asks for: by name
// (case-insensitive, as CC's name columns), or by id, the order v3 listed
// them in (nil for ascending).
func localOrder[T any](lp translate.ListParams, name func(T) string) func([]T) {
	desc := lp.OrderDirection == "desc"
	switch {
	case lp.OrderBy == "name":
		return func(all []T) {
			slices.SortStableFunc(all, func(a, b T) int {
				return strings.Compare(strings.ToLower(name(a)), strings.ToLower(name(b)))
			})
			if desc {
				slices.Reverse(all)
			}
		}
	case desc:
		return slices.Reverse[[]T]
	}
	return nil
}

// writeV2List answers a v2 list page of n resources, rendered by each.
func writeV2List(ctx *fasthttp.RequestCtx, lp translate.ListParams, path string, total, n int, each func(b *bytes.Buffer, i int) error) error {
	page := translate.Paginate(lp, path, total)
	var b bytes.Buffer
	b.WriteString(`{"total_results":`)
	b.WriteString(strconv.Itoa(page.TotalResults))
	b.WriteString(`,"total_pages":`)
	b.WriteString(strconv.Itoa(page.TotalPages))
	b.WriteString(`,"prev_url":`)
	writeJSONString(&b, page.PrevURL)
	b.WriteString(`,"next_url":`)
	writeJSONString(&b, page.NextURL)
	b.WriteString(`,"resources":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := each(&b, i); err != nil {
			return err
		}
	}
	b.WriteString("]}")
	writeV2(ctx, fasthttp.StatusOK, b.Bytes())
	return nil
}

// The org and stack reads are declarations on the engine.
var (
	// orgsRead: OrganizationsController's sortable_parameters are id and
	// name.
	orgsRead = &v2Read[translate.V3Org]{
		path: "/v2/organizations", keys: translate.OrgQueryKeys(), sortable: []string{"id", "name"},
		list: (*ccv3.Client).ListOrgs, get: (*ccv3.Client).GetOrg,
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Org, int, error) {
			return orgsPage(g, c, lp, fs, nil)
		},
		name: func(o translate.V3Org) string { return o.Name }, notFound: orgNotFound,
		prepare: func(g *API, c ccv3.Call, items []translate.V3Org, _ translate.Inline) (func(*bytes.Buffer, translate.V3Org) error, error) {
			bundles, err := g.orgBundles(c, items)
			if err != nil {
				return nil, err
			}
			return func(b *bytes.Buffer, o translate.V3Org) error { return translate.AppendOrgBundle(b, bundles[o.GUID]) }, nil
		},
		guid: func(o translate.V3Org) string { return o.GUID }, create: createOrg, update: updateOrg, remove: removeOrg, async: true,
	}
	// stacksRead: StacksController declares no sortable_parameters, so any
	// order-by is refused.
	stacksRead = &v2Read[translate.V3Stack]{
		path: "/v2/stacks", keys: translate.StackQueryKeys(),
		list: (*ccv3.Client).ListStacks, get: (*ccv3.Client).GetStack,
		name: func(s translate.V3Stack) string { return s.Name }, render: translate.AppendStackResource, notFound: stackNotFound,
	}
)

// orgsPage reads a page of orgs for lp and its q (MAPPING-orgs §11.2.1).
// space_guid and the role keys (user_guid, manager_guid,
// billing_manager_guid, auditor_guid) are association filters, whose
// operator CC ignores (MAPPING §3.1): they become the guids of the orgs of
// those spaces (v3 spaces the caller sees) and of those users' roles (v3
// roles the caller sees). status has no v3 filter and is matched here on
// each org, which reads every match and pages here. guids, when not nil,
// bounds the orgs (a nested list).
func orgsPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, guids []string) ([]translate.V3Org, int, error) {
	var keep func(translate.V3Org) bool
	for _, f := range fs {
		var found []string
		switch typ, role := translate.OrgRoleKeys[f.Key]; {
		case f.Key == "status":
			keep = func(o translate.V3Org) bool { return translate.OrgStatusMatches(fs, o) }
			continue
		case f.Key == "space_guid":
			spaces, _, err := g.v3.SpacesWithOrgs(c, nonEmpty(f.Values))
			if err != nil {
				return nil, 0, err
			}
			found = []string{}
			for _, sp := range spaces {
				found = append(found, sp.Relationships.Organization.GUID())
			}
		case role:
			found = []string{}
			if users := nonEmpty(f.Values); len(users) > 0 {
				rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: users, Types: []string{typ}})
				if err != nil {
					return nil, 0, err
				}
				for _, r := range rs.Roles {
					found = append(found, r.Relationships.Organization.GUID())
				}
			}
		default:
			continue
		}
		guids = intersect(guids, distinct(found))
	}
	if guids != nil && len(guids) == 0 {
		return nil, 0, nil
	}
	return listPage(g, lp, translate.AppQueryFromFilters(fs), ccv3.ListQuery{GUIDs: guids}, func(q ccv3.ListQuery) (ccv3.Page[translate.V3Org], error) {
		return g.v3.ListOrgs(c, q)
	}, orgName, keep)
}

// nonEmpty drops the empty values of a guid filter: no row has an empty
// guid, and v3 would read an empty list as no filter at all.
func nonEmpty(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// distinct drops repeated guids, keeping the first of each.
func distinct(guids []string) []string {
	seen := make(map[string]bool, len(guids))
	out := make([]string, 0, len(guids))
	for _, g := range guids {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// spaces: SpacesController's sortable_parameters are id and name. Each
// space's allow_ssh is one more GET (v3 has no batch for features), read
// for a page at once. GET /v2/spaces/:guid is v2Space, which reads the
// space and its ssh flag in one round.
var spaces = &v2Resource[translate.V3Space]{
	path: "/v2/spaces", keys: translate.SpaceQueryKeys(), sortable: []string{"id", "name"},
	guid: func(sp translate.V3Space) string { return sp.GUID }, create: createSpace, update: updateSpace, remove: removeSpace, async: true,
	name: func(s translate.V3Space) string { return s.Name },
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Space, int, error) {
		return spacesPage(g, c, lp, fs, nil, nil)
	},
	prepare: func(g *API, c ccv3.Call, items []translate.V3Space, in translate.Inline) (func(*bytes.Buffer, translate.V3Space) error, error) {
		var bundles []translate.SpaceBundle
		var orgs map[string]translate.OrgBundle
		err := parallel(
			func() (err error) { bundles, err = g.spaceBundles(c, items); return },
			func() (err error) { orgs, err = g.spaceOrgs(c, items, in); return },
		)
		if err != nil {
			return nil, err
		}
		byGUID := make(map[string]translate.SpaceBundle, len(bundles))
		for _, b := range bundles {
			byGUID[b.Space.GUID] = b
		}
		return func(b *bytes.Buffer, sp translate.V3Space) error {
			bundle := byGUID[sp.GUID]
			bundle.Space = sp
			if org, ok := orgs[sp.Relationships.Organization.GUID()]; ok {
				return translate.AppendSpaceResourceInOrg(b, bundle, org)
			}
			return translate.AppendSpaceResource(b, bundle)
		}, nil
	},
}

// spaceOrgs reads the organizations a page of spaces inlines: at
// inline-relations-depth 1 or more CC inlines each space's organization,
// which the cf CLI's legacy commands read (cf security-group prints
// entity.organization.entity.name of the group's spaces). With
// orphan-relations the spaces keep their urls, as before. The orgs show
// their isolation segments, as at the top level.
func (g *API) spaceOrgs(c ccv3.Call, items []translate.V3Space, in translate.Inline) (map[string]translate.OrgBundle, error) {
	if !in.Wants("organization") || in.Orphans != nil || len(items) == 0 {
		return nil, nil
	}
	guids := make([]string, len(items))
	for i, sp := range items {
		guids[i] = sp.GUID
	}
	_, orgs, err := g.v3.SpacesWithOrgs(c, guids)
	if err != nil {
		return nil, err
	}
	list := make([]translate.V3Org, 0, len(orgs))
	for _, o := range orgs {
		list = append(list, o)
	}
	return g.orgBundles(c, list)
}

// spacesPage reads a page of spaces for lp and its q (MAPPING-orgs
// §11.4): developer_guid, app_guid and isolation_segment_guid become the
// guids of the spaces where those users develop, those apps live and
// those segments apply; orgs, when set, bounds the organization_guid
// filter, and guids, when set, the spaces (nested lists).
func spacesPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, orgs, guids []string) ([]translate.V3Space, int, error) {
	var keep func(translate.V3Space) bool
	for _, f := range fs {
		var found []string
		switch f.Key {
		case "developer_guid":
			found = []string{}
			if users := nonEmpty(f.Values); len(users) > 0 {
				rs, err := g.v3.AllRoles(c, ccv3.RolesQuery{UserGUIDs: users, Types: []string{"space_developer"}})
				if err != nil {
					return nil, 0, err
				}
				for _, r := range rs.Roles {
					found = append(found, r.Relationships.Space.GUID())
				}
			}
		case "app_guid":
			apps, err := g.v3.AppsByGUID(c, nonEmpty(f.Values))
			if err != nil {
				return nil, 0, err
			}
			found = []string{}
			for _, a := range apps {
				found = append(found, a.Relationships.Space.GUID())
			}
		case "isolation_segment_guid":
			in, none, err := g.spacesInSegments(c, f)
			if err != nil {
				return nil, 0, err
			}
			if none {
				// "isolation_segment_guid IS NULL": the spaces outside
				// every segment, kept here.
				assigned := make(map[string]bool, len(in))
				for _, sp := range in {
					assigned[sp] = true
				}
				prev := keep
				keep = func(sp translate.V3Space) bool { return !assigned[sp.GUID] && (prev == nil || prev(sp)) }
				continue
			}
			found = in
		default:
			continue
		}
		guids = intersect(guids, distinct(found))
	}
	aq := translate.AppQueryFromFilters(fs)
	if orgs != nil {
		if aq.OrgGUIDs = intersect(aq.OrgGUIDs, orgs); len(aq.OrgGUIDs) == 0 {
			return nil, 0, nil
		}
	}
	if guids != nil && len(guids) == 0 {
		return nil, 0, nil
	}
	return listPage(g, lp, aq, ccv3.ListQuery{GUIDs: guids}, func(q ccv3.ListQuery) (ccv3.Page[translate.V3Space], error) {
		return g.v3.ListSpaces(c, q)
	}, func(s translate.V3Space) string { return s.Name }, keep)
}

// orgSpaces: GET /v2/organizations/:guid/spaces, the org's spaces under
// the nested path (ModelController#enumerate_related).
var orgSpaces = &v2Under[translate.V3Space]{
	of: spaces, parent: "organizations", name: "spaces", find: findOrg, parentNotFound: orgNotFound,
	page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, org string) ([]translate.V3Space, int, error) {
		return spacesPage(g, c, lp, fs, []string{org}, nil)
	},
}

// intersect ANDs two guid filters; nil means no filter.
func intersect(a, b []string) []string {
	if a == nil {
		return b
	}
	out := []string{}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// spaceBundles reads allow_ssh for each space, one GET per space (v3 has
// no batch for features) under the fan-out bound, and in the same round
// the spaces' isolation segments (spaceSegments).
func (g *API) spaceBundles(c ccv3.Call, spaces []translate.V3Space) ([]translate.SpaceBundle, error) {
	guids := make([]string, len(spaces))
	for i, s := range spaces {
		guids[i] = s.GUID
	}
	var mu sync.Mutex
	ssh := make(map[string]bool, len(spaces))
	var segments map[string]string
	bySpace := make(map[string]translate.V3Space, len(spaces))
	for _, s := range spaces {
		bySpace[s.GUID] = s
	}
	err := parallel(
		func() error {
			return g.v3.PerApp(guids, func(guid string) error {
				on, err := g.spaceSSH(c, bySpace[guid])
				if err != nil {
					return err
				}
				mu.Lock()
				ssh[guid] = on
				mu.Unlock()
				return nil
			})
		},
		func() (err error) { segments, err = g.spaceSegments(c, spaces); return },
	)
	if err != nil {
		return nil, err
	}
	out := make([]translate.SpaceBundle, len(spaces))
	for i, s := range spaces {
		out[i] = translate.SpaceBundle{Space: s, AllowSSH: ssh[s.GUID], IsolationSegmentGUID: segments[s.GUID]}
	}
	return out, nil
}

// v2Space answers GET /v2/spaces/:guid: the space, its ssh flag and its
// isolation segment in one round.
func (g *API) v2Space(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	c := call(ctx)
	var sp translate.V3Space
	var ssh bool
	var iso string
	var spErr, sshErr, isoErr error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); sp, spErr = g.v3.GetSpace(c, guid) }()
	go func() { defer wg.Done(); ssh, sshErr = g.v3.SpaceSSHEnabled(c, guid) }()
	go func() { defer wg.Done(); iso, isoErr = g.v3.SpaceSegment(c, guid) }()
	wg.Wait()
	for _, err := range []error{spErr, sshErr, isoErr} {
		if err != nil {
			return v2ErrorAs(err, spaceNotFound(guid))
		}
	}
	body, err := translate.SpaceResource(translate.SpaceBundle{Space: sp, AllowSSH: ssh, IsolationSegmentGUID: iso})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}
