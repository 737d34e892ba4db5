package v2api

import (
	"errors"
	"io"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// buildpacks: /v2/buildpacks, v3's buildpacks (MAPPING-orgs §12.3). v2
// lists them by id, not position; every reader sees every buildpack;
// writes are admins'. An unknown guid is NotFound, "Unknown request"
// (not_found_exception_name). No sortable_parameters: any order-by is
// refused.
var buildpacks = &v2Resource[translate.V3Buildpack]{
	path: "/v2/buildpacks", keys: []string{"name", "stack", "lifecycle"},
	get: (*ccv3.Client).GetBuildpack, name: func(b translate.V3Buildpack) string { return b.Name },
	page:   buildpackPage,
	render: translate.AppendBuildpackResource, notFound: buildpackNotFound,
	guid: func(b translate.V3Buildpack) string { return b.GUID },
	create: func(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Buildpack, error) {
		return writeBuildpack(g, ctx, "", body)
	},
	update: writeBuildpack,
	remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
		job, err := g.v3.DeleteBuildpack(call(ctx), guid)
		return job, buildpackWriteError(err, translate.BuildpackRequest{})
	},
	async: true,
}

func buildpackNotFound(string) *cferr.Error { return withCause(translate.BuildpackNotFound(), nil) }

// buildpackPage reads a page of buildpacks: names and a single stack or
// lifecycle go to v3; the stack and lifecycle filters are also applied
// here, where v3 cannot apply them (operators, several lifecycles).
func buildpackPage(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter) ([]translate.V3Buildpack, int, error) {
	var q ccv3.BuildpacksQuery
	var local []translate.Filter
	for _, f := range fs {
		if f.Key != "stack" && f.Key != "lifecycle" {
			continue
		}
		local = append(local, f)
		if f.Op != translate.OpEq || len(f.Values) != 1 {
			continue
		}
		if f.Key == "stack" {
			q.Stacks = f.Values
		} else {
			q.Lifecycles = f.Values
		}
	}
	var keep func(translate.V3Buildpack) bool
	if len(local) > 0 {
		keep = func(b translate.V3Buildpack) bool {
			return translate.MatchAll(local, func(key string) string {
				if key == "lifecycle" {
					return b.Lifecycle
				}
				if b.Stack == nil {
					return ""
				}
				return *b.Stack
			})
		}
	}
	return listPage(g, lp, translate.AppQueryFromFilters(fs), ccv3.ListQuery{}, func(lq ccv3.ListQuery) (ccv3.Page[translate.V3Buildpack], error) {
		q.ListQuery = lq
		return g.v3.ListBuildpacks(c, q)
	}, func(b translate.V3Buildpack) string { return b.Name }, keep)
}

// writeBuildpack creates (guid "") or updates a buildpack.
func writeBuildpack(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Buildpack, error) {
	var b translate.V3Buildpack
	req, err := translate.ParseBuildpackRequest(body, guid == "")
	if err != nil {
		return b, err
	}
	v3body, err := translate.V3BuildpackWrite(req)
	if err != nil {
		return b, err
	}
	c := call(ctx)
	if guid == "" {
		b, err = g.v3.CreateBuildpack(c, v3body)
	} else {
		b, err = g.v3.UpdateBuildpack(c, guid, v3body)
	}
	return b, buildpackWriteError(err, req)
}

// buildpackWriteError is a failed v3 buildpack write in v2's words.
func buildpackWriteError(err error, req translate.BuildpackRequest) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.BuildpackWriteError(e.Status, e.Detail(), req); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// v2BuildpackUploadBits answers PUT /v2/buildpacks/:guid/bits (multipart
// "buildpack"): v3 takes the file as "bits" and processes it in a job;
// v2 answered 201 with the buildpack once it was stored
// (cc:app/controllers/runtime/buildpack_bits_controller.rb).
func (g *API) v2BuildpackUploadBits(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := g.v3.GetBuildpack(c, guid); err != nil {
		return v2ErrorAs(err, buildpackNotFound(guid))
	}
	var job string
	err := g.pipeUpload(ctx, "buildpack", func(ct string, body io.Reader) (err error) {
		job, err = g.v3.UploadBuildpack(c, guid, ct, body)
		return err
	})
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
			if te := translate.BuildpackWriteError(e.Status, e.Detail(), translate.BuildpackRequest{}); te != nil && te.Code == translate.BuildpackLocked().Code {
				return withCause(te, err)
			}
			return &cferr.Error{Status: 400, Code: 290002, Name: "BuildpackBitsUploadInvalid", Description: "The buildpack upload is invalid: " + e.Detail(), Cause: err}
		}
		return buildpackWriteError(err, translate.BuildpackRequest{})
	}
	if err := g.awaitJob(c, job, jobFailed); err != nil {
		return err
	}
	b, err := g.v3.GetBuildpack(c, guid)
	if err != nil {
		return v2ErrorAs(err, buildpackNotFound(guid))
	}
	return buildpacks.answer(g, ctx, b, fasthttp.StatusCreated)
}
