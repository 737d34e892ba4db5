package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"capibridge/backend/store"
)

// The v3 read engine. Every index and show action of CC's v3 controllers
// reads the same way (cc:app/controllers/v3/*_controller.rb with
// app/messages/list_message.rb and app/fetchers): refuse unknown query keys,
// read paging and the filters, fetch one page of what the user may see,
// present it, add what include= asks for. A resource here is a declaration
// of those parts; its quirks are the functions it declares.

// handler answers one route.
type handler = func(*request) error

// resource declares a v3 resource: S is the store's row, F the store's
// filter for a list of it, J its JSON.
type resource[S, F, J any] struct {
	// name is what "<name> not found" calls it.
	name string
	// path is the collection, "/v3/packages"; a list under an app is
	// "/v3/apps/:guid" followed by what path has after "/v3".
	path string
	// keys are the query keys the top-level list accepts, paging keys
	// included, in the order CC's message lists them.
	keys []string
	// orders are the order_by values a list accepts.
	orders []string
	// filter reads the filter keys into the store's filter. q keeps the
	// first error, so CC's order of validation is the order of the reads.
	filter func(q *params) F
	// list reads one page of what v may see.
	list func(st *store.Store, ctx context.Context, v store.Viewer, f F, p store.Page) ([]S, int, error)
	// get reads one item by guid if v may see it.
	get func(st *store.Store, ctx context.Context, v store.Viewer, guid string) (S, error)
	// present renders the items of a list page, or the one item of a get
	// when show is nil.
	present func(s *Server, r *request, items []S) ([]J, error)
	// show renders the item of a get, for the resources whose list
	// redacts what a get shows to some users.
	show func(s *Server, r *request, item S) (J, error)
	// includes are the values include= accepts; included renders them.
	// A get takes include= only when showIncludes says so.
	// fields and showFields are what fields[...] may name in a list and
	// in a get (r.fields); included renders them too.
	includes     []string
	showIncludes bool
	fields       []fieldSpec
	showFields   []fieldSpec
	included     func(s *Server, r *request, include map[string]bool, items []S) (any, error)
}

// nest declares a list of a resource under a parent, <parent>/:guid/<path>
// (CC's app_nested_request, and the org's domains).
type nest[F any] struct {
	// parent is what the list is under; nil is an app.
	parent *parent
	// keys are the query keys the nested list accepts.
	keys []string
	// rejected are keys of the top-level message that the nested list
	// refuses with app_nested_request's shorter text.
	rejected []string
	// check validates what CC validates before it looks the parent up.
	check func(q query) error
	// narrow limits the filter to the parent.
	narrow func(f *F, parentGUID string)
}

// parent is a resource that lists hang under.
type parent struct {
	// path is its collection, "/v3/apps".
	path string
	// first says CC finds it before it reads the query
	// (OrganizationsV3Controller#index_org_domains).
	first bool
	// find reads the parent guid names, its not-found error when the
	// caller may not see it.
	find func(s *Server, r *request, guid string) (string, error)
}

// appParent is the parent of the lists under /v3/apps/:guid.
var appParent = &parent{path: "/v3/apps", find: func(s *Server, r *request, guid string) (string, error) {
	acc, err := s.findApp(r, guid)
	return acc.app.GUID, err
}}

// seenByAll lifts a read by guid of a resource every user sees to a
// resource's get.
func seenByAll[S any](get func(*store.Store, context.Context, string) (S, error)) func(*store.Store, context.Context, store.Viewer, string) (S, error) {
	return func(st *store.Store, ctx context.Context, _ store.Viewer, guid string) (S, error) {
		return get(st, ctx, guid)
	}
}

// each lifts a presenter of one item to a presenter of a page.
func each[S, J any](present func(r *request, item S) J) func(*Server, *request, []S) ([]J, error) {
	return func(_ *Server, r *request, items []S) ([]J, error) {
		out := make([]J, len(items))
		for i, item := range items {
			out[i] = present(r, item)
		}
		return out, nil
	}
}

// pageJSON is a v3 list body (cc:app/presenters/v3/paginated_list_presenter.rb).
type pageJSON[J any] struct {
	Pagination paginationJSON `json:"pagination"`
	Resources  []J            `json:"resources"`
	Included   any            `json:"included,omitempty"`
}

// index is the handler of the top-level list, GET <path>.
func (res *resource[S, F, J]) index(s *Server) handler {
	return func(r *request) error {
		if err := r.query.allow(res.keys...); err != nil {
			return err
		}
		return res.serveList(s, r, res.path, nil)
	}
}

// under is the handler of a list under a parent, GET <parent>/:guid/<path>.
func (res *resource[S, F, J]) under(s *Server, n nest[F]) handler {
	par := n.parent
	if par == nil {
		par = appParent
	}
	return func(r *request) error {
		var guid string
		var err error
		if par.first {
			if guid, err = par.find(s, r, r.params[0]); err != nil {
				return err
			}
		}
		if err := r.query.allowNested(n.keys, n.rejected...); err != nil {
			return err
		}
		if n.check != nil {
			if err := n.check(r.query); err != nil {
				return err
			}
		}
		if !par.first {
			if guid, err = par.find(s, r, r.params[0]); err != nil {
				return err
			}
		}
		path := par.path + "/" + guid + strings.TrimPrefix(res.path, "/v3")
		return res.serveList(s, r, path, func(f *F) { n.narrow(f, guid) })
	}
}

// serveList answers one page of the list at path, the filter narrowed by
// narrow when it is not nil.
func (res *resource[S, F, J]) serveList(s *Server, r *request, path string, narrow func(*F)) error {
	p, err := r.query.page(res.orders...)
	if err != nil {
		return err
	}
	q := &params{q: r.query}
	f := res.filter(q)
	if q.err != nil {
		return q.err
	}
	if narrow != nil {
		narrow(&f)
	}
	include, err := r.include(res.includes...)
	if err != nil {
		return err
	}
	if r.fields, err = r.query.fields(res.fields); err != nil {
		return err
	}
	items, total, err := res.list(s.store, r.ctx, r.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	out := pageJSON[J]{Pagination: pagination(r.base, path, r.query, p, total)}
	if out.Resources, err = res.present(s, r, items); err != nil {
		return err
	}
	if len(include) > 0 || len(r.fields) > 0 {
		if out.Included, err = res.included(s, r, include, items); err != nil {
			return err
		}
	}
	return r.reply(200, out)
}

// find reads the item guid names, 404 when the user may not see it.
func (res *resource[S, F, J]) find(s *Server, r *request, guid string) (S, error) {
	item, err := res.get(s.store, r.ctx, r.viewer(), guid)
	if err != nil {
		return item, storeErr(err, res.name)
	}
	return item, nil
}

// findInApp reads the item guid names of a resource that belongs to an app,
// with the app, its space and the caller's roles there; an item whose app
// the caller cannot see is not found either.
func findInApp[S, F, J any](s *Server, r *request, res *resource[S, F, J], guid string, appOf func(S) string) (S, appAccess, error) {
	item, err := res.find(s, r, guid)
	if err != nil {
		return item, appAccess{}, err
	}
	acc, err := s.findApp(r, appOf(item))
	if isNotFound(err) {
		return item, acc, errNotFound(res.name)
	}
	return item, acc, err
}

// showOne is the handler of GET <path>/:guid.
func (res *resource[S, F, J]) showOne(s *Server) handler {
	return func(r *request) error {
		allowed, includes := []string{}, []string{}
		if res.showIncludes {
			allowed, includes = []string{"include"}, res.includes
		}
		if res.showFields != nil {
			allowed = append(allowed, "fields")
		}
		if err := r.query.allow(allowed...); err != nil {
			return err
		}
		include, err := r.include(includes...)
		if err != nil {
			return err
		}
		if r.fields, err = r.query.fields(res.showFields); err != nil {
			return err
		}
		item, err := res.find(s, r, r.params[0])
		if err != nil {
			return err
		}
		var j J
		if res.show != nil {
			j, err = res.show(s, r, item)
		} else {
			var js []J
			js, err = res.present(s, r, []S{item})
			if err == nil {
				j = js[0]
			}
		}
		if err != nil {
			return err
		}
		if len(include) == 0 && len(r.fields) == 0 {
			return r.reply(200, j)
		}
		inc, err := res.included(s, r, include, []S{item})
		if err != nil {
			return err
		}
		return r.reply(200, withIncluded{j, inc})
	}
}

// withIncluded is a shown resource with the included resources after its
// own keys, as CC's show actions render include=.
type withIncluded struct {
	resource any
	included any
}

// MarshalJSON writes the resource's object with "included" as its last key.
func (w withIncluded) MarshalJSON() ([]byte, error) {
	res, err := marshalRaw(w.resource)
	if err != nil {
		return nil, err
	}
	inc, err := marshalRaw(w.included)
	if err != nil {
		return nil, err
	}
	res = bytes.TrimSuffix(res, []byte("}"))
	if len(res) > 1 {
		res = append(res, ',')
	}
	res = append(append(append(res, `"included":`...), inc...), '}')
	return res, nil
}

// marshalRaw is json.Marshal without HTML escaping, as reply writes.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
