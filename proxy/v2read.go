package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// v2Read declares a v2 resource read from one v3 collection, the way CC's
// ModelController declares one: its path, q keys, sortable parameters,
// the v3 list and get, its renderer and its not-found error. Its list and
// get handlers are the engine's; a resource is a declaration.
type v2Read[T any] struct {
	// path is the collection's v2 path, the base of next_url and prev_url.
	path string
	// keys are the q keys (query_parameters), sortable the order-by
	// values (sortable_parameters; none refuses every order-by).
	keys     []string
	sortable []string
	list     func(c *ccv3.Client, call ccv3.Call, q ccv3.ListQuery) (ccv3.Page[T], error)
	get      func(c *ccv3.Client, call ccv3.Call, guid string) (T, error)
	// name is what q=name filters match.
	name func(T) string
	// keep, when set, is a filter v3 cannot apply (a shared domain is a
	// v3 domain without an owner): lists then read every match and page
	// them here (MAPPING §3.3), and a get of another resource is notFound.
	keep     func(T) bool
	render   func(b *bytes.Buffer, item T) error
	notFound func(guid string) *Error
}

// listHandler answers GET <path>.
func (r *v2Read[T]) listHandler(g *Gateway, ctx *fasthttp.RequestCtx) error {
	c := call(ctx)
	return r.serveList(g, ctx, r.path, func(q ccv3.ListQuery) (ccv3.Page[T], error) { return r.list(g.v3, c, q) })
}

// serveList answers a list of the resource at path, read through list.
func (r *v2Read[T]) serveList(g *Gateway, ctx *fasthttp.RequestCtx, path string, list func(ccv3.ListQuery) (ccv3.Page[T], error)) error {
	lp, aq, err := g.listRequest(ctx, r.keys, r.sortable...)
	if err != nil {
		return err
	}
	items, total, err := listPage(g, lp, aq, ccv3.ListQuery{}, list, r.name, r.keep)
	if err != nil {
		return v2Error(err, "")
	}
	return writeV2List(ctx, lp, path, total, len(items), func(b *bytes.Buffer, i int) error {
		return r.render(b, items[i])
	})
}

// v2Under declares the list of a resource under another, GET
// /v2/<parent>/:guid/<name> (ModelController#enumerate_related): the
// parent must be visible (find_guid_and_validate_access), then its
// members are listed as the resource's own list is, under the nested path.
type v2Under[T any] struct {
	of             *v2Read[T]
	parent, name   string // "organizations", "private_domains"
	find           func(c *ccv3.Client, call ccv3.Call, guid string) error
	parentNotFound func(guid string) *Error
	list           func(c *ccv3.Client, call ccv3.Call, parent string, q ccv3.ListQuery) (ccv3.Page[T], error)
}

// listHandler answers GET /v2/<parent>/:guid/<name>.
func (u *v2Under[T]) listHandler(g *Gateway, ctx *fasthttp.RequestCtx) error {
	parent, c := pathParam(ctx, 1), call(ctx)
	if err := u.find(g.v3, c, parent); err != nil {
		return v2ErrorAs(err, u.parentNotFound(parent))
	}
	return u.of.serveList(g, ctx, "/v2/"+u.parent+"/"+parent+"/"+u.name,
		func(q ccv3.ListQuery) (ccv3.Page[T], error) { return u.list(g.v3, c, parent, q) })
}

// getHandler answers GET <path>/:guid.
func (r *v2Read[T]) getHandler(g *Gateway, ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	item, err := r.get(g.v3, call(ctx), guid)
	if err != nil {
		return v2ErrorAs(err, r.notFound(guid))
	}
	if r.keep != nil && !r.keep(item) {
		return r.notFound(guid)
	}
	var b bytes.Buffer
	if err := r.render(&b, item); err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, b.Bytes())
	return nil
}

// The v2 resources read through the engine.
var (
	// orgsRead: OrganizationsController's sortable_parameters are id and
	// name.
	orgsRead = &v2Read[translate.V3Org]{
		path: "/v2/organizations", keys: translate.OrgQueryKeys(), sortable: []string{"id", "name"},
		list: (*ccv3.Client).ListOrgs, get: (*ccv3.Client).GetOrg,
		name: func(o translate.V3Org) string { return o.Name }, render: translate.AppendOrgResource, notFound: orgNotFound,
	}
	// stacksRead: StacksController declares no sortable_parameters, so any
	// order-by is refused.
	stacksRead = &v2Read[translate.V3Stack]{
		path: "/v2/stacks", keys: translate.StackQueryKeys(),
		list: (*ccv3.Client).ListStacks, get: (*ccv3.Client).GetStack,
		name: func(s translate.V3Stack) string { return s.Name }, render: translate.AppendStackResource, notFound: stackNotFound,
	}
	// sharedDomainsRead and privateDomainsRead are the two kinds of v3
	// domain (MAPPING-routes §9.12, §9.13): v3 has no filter for either, so
	// each list reads every visible domain and keeps its own; a domain of
	// the other kind is DomainNotFound, which the cf CLI relies on to try
	// the other kind (§9.19).
	//
	// Only the shared domain list takes order-by (its own enumerate skips
	// the sortable_parameters check, and name really sorts; §9.1).
	sharedDomainsRead = &v2Read[translate.V3Domain]{
		path: "/v2/shared_domains", keys: translate.DomainQueryKeys(), sortable: []string{"id", "name"},
		list: (*ccv3.Client).ListDomains, get: (*ccv3.Client).GetDomain,
		name: domainName, keep: translate.V3Domain.Shared, render: translate.AppendSharedDomainResource, notFound: domainNotFound,
	}
	privateDomainsRead = &v2Read[translate.V3Domain]{
		path: "/v2/private_domains", keys: translate.DomainQueryKeys(),
		list: (*ccv3.Client).ListDomains, get: (*ccv3.Client).GetDomain,
		name: domainName, keep: func(d translate.V3Domain) bool { return !d.Shared() },
		render: translate.AppendPrivateDomainResource, notFound: domainNotFound,
	}
)

// orgPrivateDomains: the private domains an org owns or is shared with
// (Organization#private_domains; MAPPING-routes §9.13.3), from v3's org
// domain list.
var orgPrivateDomains = &v2Under[translate.V3Domain]{
	of: privateDomainsRead, parent: "organizations", name: "private_domains",
	find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
		_, err := c.GetOrg(call, guid)
		return err
	},
	parentNotFound: orgNotFound, list: (*ccv3.Client).ListOrgDomains,
}

func domainName(d translate.V3Domain) string { return d.Name }

func domainNotFound(guid string) *Error { return withCause(translate.DomainNotFound(guid), nil) }
