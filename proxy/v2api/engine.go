package v2api

import (
	"bytes"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// v2Resource declares a v2 resource served from v3, the way CC's
// ModelController declares one (cc:app/controllers/base/model_controller.rb):
// its path, q keys and sortable parameters, how a page and one resource are
// read, how a resource is rendered with what it inlines, its not-found
// error, and its writes. The engine's handlers serve list, get, create,
// update and delete for every declaration, with CC's paging, q grammar,
// inline-relations-depth and status codes (POST 201 with Location, PUT 201,
// DELETE 204, or 202 and a v2 job with async=true); a resource is a
// declaration plus its quirks.
type v2Resource[T any] struct {
	// path is the collection's v2 path, the base of next_url, prev_url and
	// of Location.
	path string
	// keys are the q keys (query_parameters), sortable the order-by
	// values (sortable_parameters; none refuses every order-by).
	keys     []string
	sortable []string
	// preserve are the parameters its page urls keep when the request
	// had them (preserve_query_parameters).
	preserve []string
	// large: pages of up to 10000, as the large paginated collection
	// renderer allows (app usage events).
	large bool
	// list, name and keep read a page of a v3 collection filterable by
	// name: keep, when set, is a filter v3 cannot apply (a shared domain
	// is a v3 domain without an owner); lists then read every match and
	// page it here (MAPPING §3.3), and a get of another resource is
	// notFound.
	list func(c *ccv3.Client, call ccv3.Call, q ccv3.ListQuery) (ccv3.Page[T], error)
	name func(T) string
	keep func(T) bool
	// page, when set, reads a page from the parsed q itself, for a
	// resource whose q is more than a name (routes).
	page func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]T, int, error)
	get  func(c *ccv3.Client, call ccv3.Call, guid string) (T, error)
	// render writes one resource. prepare, when set, replaces it: it reads
	// what a batch of resources shows from others (a route's domain; what
	// in asks them to inline) in one round, and returns their renderer.
	render   func(b *bytes.Buffer, item T) error
	prepare  func(g *API, c ccv3.Call, items []T, in translate.Inline) (func(*bytes.Buffer, T) error, error)
	notFound func(guid string) *cferr.Error

	// guid names a resource, for Location.
	guid func(T) string
	// create and update answer the resource written from the request's
	// body (read within server.max_request_body_bytes) and parameters;
	// remove starts a delete and returns the v3 job that finishes it (""
	// when it is done).
	create func(g *API, ctx *fasthttp.RequestCtx, body []byte) (T, error)
	update func(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (T, error)
	remove func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error)
	// async: a DELETE with async=true answers 202 and the v2 job at once
	// (BaseController#async?); otherwise the gateway waits for it, as v2
	// deleted synchronously.
	async bool
}

// v2Read is a resource declared for reading only.
type v2Read[T any] = v2Resource[T]

// listHandler answers GET <path>.
func (r *v2Resource[T]) listHandler(g *API, ctx *fasthttp.RequestCtx) error {
	c := call(ctx)
	return r.serveList(g, ctx, r.path, func(lp translate.ListParams, aq translate.AppQuery, fs []translate.Filter) ([]T, int, error) {
		if r.page != nil {
			return r.page(g, c, lp, fs)
		}
		return listPage(g, lp, aq, ccv3.ListQuery{}, func(q ccv3.ListQuery) (ccv3.Page[T], error) { return r.list(g.v3, c, q) }, r.name, r.keep)
	})
}

// pageFunc reads the page of a list request.
type pageFunc[T any] func(lp translate.ListParams, aq translate.AppQuery, fs []translate.Filter) ([]T, int, error)

// serveList answers a list of the resource at path, read through page.
func (r *v2Resource[T]) serveList(g *API, ctx *fasthttp.RequestCtx, path string, page pageFunc[T]) error {
	return r.serveListWith(g, ctx, path, r.keys, page)
}

// serveListWith is serveList with the q keys given.
func (r *v2Resource[T]) serveListWith(g *API, ctx *fasthttp.RequestCtx, path string, keys []string, page pageFunc[T]) error {
	lp, err := g.listParams(ctx)
	if r.large {
		lp, err = translate.ParseLargeListParams(queryPairs(ctx), g.cfg.MaxInlineRelationsDepth)
	}
	if err != nil {
		return err
	}
	for _, name := range r.preserve {
		if v := ctx.QueryArgs().Peek(name); v != nil {
			lp.Preserved = append(lp.Preserved, [2]string{name, string(v)})
		}
	}
	if err := translate.CheckOrderBy(lp, r.sortable...); err != nil {
		return err
	}
	fs, err := translate.ParseQ(lp.Q, keys)
	if err != nil {
		return err
	}
	items, total, err := page(lp, translate.AppQueryFromFilters(fs), fs)
	if err != nil {
		return v2Error(err, "")
	}
	render, err := r.renderer(g, call(ctx), items, lp.Inline())
	if err != nil {
		return v2Error(err, "")
	}
	return writeV2List(ctx, lp, path, total, len(items), func(b *bytes.Buffer, i int) error {
		return render(b, items[i])
	})
}

// renderer returns how items are rendered with what in inlines.
func (r *v2Resource[T]) renderer(g *API, c ccv3.Call, items []T, in translate.Inline) (func(*bytes.Buffer, T) error, error) {
	if r.prepare == nil {
		return r.render, nil
	}
	return r.prepare(g, c, items, in)
}

// getHandler answers GET <path>/:guid.
func (r *v2Resource[T]) getHandler(g *API, ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	item, err := r.one(g, call(ctx), guid)
	if err != nil {
		return err
	}
	return r.answer(g, ctx, item, fasthttp.StatusOK)
}

// one reads the resource of guid, or its v2 error.
func (r *v2Resource[T]) one(g *API, c ccv3.Call, guid string) (T, error) {
	item, err := r.get(g.v3, c, guid)
	if err != nil {
		return item, v2ErrorAs(err, r.notFound(guid))
	}
	if r.keep != nil && !r.keep(item) {
		return item, r.notFound(guid)
	}
	return item, nil
}

// answer writes item with status, inlining what the request asks for.
func (r *v2Resource[T]) answer(g *API, ctx *fasthttp.RequestCtx, item T, status int) error {
	lp, err := g.objectParams(ctx)
	if err != nil {
		return err
	}
	render, err := r.renderer(g, call(ctx), []T{item}, lp.Inline())
	if err != nil {
		return v2Error(err, "")
	}
	var b bytes.Buffer
	if err := render(&b, item); err != nil {
		return err
	}
	writeV2(ctx, status, b.Bytes())
	return nil
}

// createHandler answers POST <path>: 201 with Location and the resource.
func (r *v2Resource[T]) createHandler(g *API, ctx *fasthttp.RequestCtx) error {
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	item, err := r.create(g, ctx, body)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderLocation, r.path+"/"+r.guid(item))
	return r.answer(g, ctx, item, writtenStatus(ctx))
}

// writtenStatus is 201, or the status a write set under statusKey (202
// for an operation still in progress).
func writtenStatus(ctx *fasthttp.RequestCtx) int {
	if s, ok := ctx.UserValue(statusKey).(int); ok {
		return s
	}
	return fasthttp.StatusCreated
}

// updateHandler answers PUT <path>/:guid: 201 with the resource, as every
// v2 update (ModelController#update).
func (r *v2Resource[T]) updateHandler(g *API, ctx *fasthttp.RequestCtx) error {
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	item, err := r.update(g, ctx, pathParam(ctx, 1), body)
	if err != nil {
		return err
	}
	if writtenStatus(ctx) == fasthttp.StatusAccepted {
		ctx.Response.Header.Set(fasthttp.HeaderLocation, r.path+"/"+pathParam(ctx, 1))
	}
	return r.answer(g, ctx, item, writtenStatus(ctx))
}

// deleteHandler answers DELETE <path>/:guid: 204 once v3's job is done, or
// 202 and the v2 job at once when the resource honours async=true (which
// counts only as the exact string "true", BaseController#async?).
func (r *v2Resource[T]) deleteHandler(g *API, ctx *fasthttp.RequestCtx) error {
	job, err := r.remove(g, ctx, pathParam(ctx, 1))
	if err != nil {
		return err
	}
	return g.answerJob(ctx, job, r.async && flagTrue(ctx, "async"))
}

// answerJob answers a write that v3 finishes in job: at once with 202 and
// the v2 job when async, else 204 once the job is done (failed: its error).
func (g *API) answerJob(ctx *fasthttp.RequestCtx, job string, async bool) error {
	c := call(ctx)
	if async && job != "" {
		body, err := translate.QueuedJob(job, time.Now())
		if err != nil {
			return err
		}
		// The write takes effect when its job finishes: invalidate then too.
		go g.invalidateWhenDone(c, job, []byte(pathParam(ctx, 0)))
		writeV2(ctx, fasthttp.StatusAccepted, body)
		return nil
	}
	if err := g.awaitJob(c, job, jobFailed); err != nil {
		return err
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// jobFailed is the v2 error of a failed v3 job: its first error, as v2
// stored a failed job's error (ErrorPresenter).
func jobFailed(j *translate.V3Job) error {
	if len(j.Errors) == 0 {
		return cferr.Unknown(nil)
	}
	e := j.Errors[0]
	return &cferr.Error{Status: fasthttp.StatusBadRequest, Code: e.Code, Name: strings.TrimPrefix(e.Title, "CF-"), Description: e.Detail}
}

// flagTrue reports whether query parameter name is the string "true".
func flagTrue(ctx *fasthttp.RequestCtx, name string) bool {
	return string(ctx.QueryArgs().Peek(name)) == "true"
}

// v2Under declares the list of a resource under another, GET
// /v2/<parent>/:guid/<name> (ModelController#enumerate_related): the
// parent must be visible (find_guid_and_validate_access), then its
// members are listed as the resource's own list is, under the nested path.
type v2Under[T any] struct {
	of             *v2Resource[T]
	parent, name   string // "organizations", "private_domains"
	find           func(c *ccv3.Client, call ccv3.Call, guid string) error
	parentNotFound func(guid string) *cferr.Error
	// list reads the members from a v3 list under the parent; page, when
	// set, reads a page from the parsed q itself.
	list func(c *ccv3.Client, call ccv3.Call, parent string, q ccv3.ListQuery) (ccv3.Page[T], error)
	page func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, parent string) ([]T, int, error)
	// keys, when set, are the q keys instead of the resource's own.
	keys []string
	// concurrent: the parent is looked up in the same round as the
	// members are read (its not-found still wins), for lists whose read
	// does not depend on the lookup.
	concurrent bool
}

// listHandler answers GET /v2/<parent>/:guid/<name>.
func (u *v2Under[T]) listHandler(g *API, ctx *fasthttp.RequestCtx) error {
	parent, c := pathParam(ctx, 1), call(ctx)
	find := func() error {
		if err := u.find(g.v3, c, parent); err != nil {
			return v2ErrorAs(err, u.parentNotFound(parent))
		}
		return nil
	}
	if !u.concurrent {
		if err := find(); err != nil {
			return err
		}
	}
	r := u.of
	keys := u.keys
	if keys == nil {
		keys = r.keys
	}
	return r.serveListWith(g, ctx, "/v2/"+u.parent+"/"+parent+"/"+u.name, keys, func(lp translate.ListParams, aq translate.AppQuery, fs []translate.Filter) ([]T, int, error) {
		var items []T
		var total int
		read := func() (err error) {
			if u.page != nil {
				items, total, err = u.page(g, c, lp, fs, parent)
				return err
			}
			items, total, err = listPage(g, lp, aq, ccv3.ListQuery{}, func(q ccv3.ListQuery) (ccv3.Page[T], error) { return u.list(g.v3, c, parent, q) }, r.name, r.keep)
			return err
		}
		if !u.concurrent {
			return items, total, read()
		}
		var findErr error
		err := parallel(func() error { findErr = find(); return nil }, read)
		if findErr != nil {
			return nil, 0, findErr
		}
		return items, total, err
	})
}

// awaitJob polls a v3 job until it completes, within the upstream request
// timeout; failed makes the v2 error of a job that failed.
func (g *API) awaitJob(c ccv3.Call, jobGUID string, failed func(*translate.V3Job) error) error {
	if jobGUID == "" {
		return nil
	}
	limit := g.cfg.UpstreamClient.RequestTimeout
	if limit <= 0 {
		limit = time.Minute
	}
	var out error
	done, err := poll(time.Now().Add(limit), jobPollMax, func() (bool, error) {
		j, err := g.v3.Job(c, jobGUID)
		switch {
		case err != nil:
			return false, v2Error(err, "")
		case j == nil || j.State == "COMPLETE":
			return true, nil
		case j.State == "FAILED":
			out = failed(j)
			return true, nil
		}
		return false, nil
	})
	switch {
	case err != nil:
		return err
	case !done:
		return &cferr.Error{Status: fasthttp.StatusGatewayTimeout, Code: 10015, Name: "ServiceUnavailable",
			Description: "The Cloud Controller did not finish the request in time"}
	}
	return out
}
