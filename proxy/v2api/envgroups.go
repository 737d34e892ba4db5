package v2api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// envGroupName is the group of /v2/config/environment_variable_groups/:name;
// the route table names only running and staging.
func envGroupName(ctx *fasthttp.RequestCtx) string { return pathParam(ctx, 2) }

// v2EnvGroup answers GET /v2/config/environment_variable_groups/:name: the
// group's variables as a bare object (MAPPING-orgs §12.5).
func (g *API) v2EnvGroup(ctx *fasthttp.RequestCtx) error {
	grp, err := g.v3.EnvGroup(call(ctx), envGroupName(ctx))
	if err != nil {
		return v2Error(err, "")
	}
	body, err := translate.EnvGroupBody(grp)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2SetEnvGroup answers PUT /v2/config/environment_variable_groups/:name:
// the body replaces the group and is echoed with 200. v3 merges, so the
// variables the body drops are sent as null.
func (g *API) v2SetEnvGroup(ctx *fasthttp.RequestCtx) error {
	name := envGroupName(ctx)
	if !isAdmin(ctx) {
		return notAuthorized()
	}
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	set, err := translate.ParseEnvGroupSet(body)
	if err != nil {
		return err
	}
	c := call(ctx)
	cur, err := g.v3.EnvGroup(c, name)
	if err != nil {
		return v2Error(err, "")
	}
	patch, err := set.V3Patch(cur.Var)
	if err != nil {
		return err
	}
	if _, err := g.v3.PatchEnvGroup(c, name, patch); err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusUnprocessableEntity {
			return withCause(translate.EnvironmentVariableGroupInvalid(e.Detail()), err)
		}
		return v2Error(err, "")
	}
	writeV2(ctx, fasthttp.StatusOK, set.Echo)
	return nil
}
