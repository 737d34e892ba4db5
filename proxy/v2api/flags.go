package v2api

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The writes of the config resources: feature flags (MAPPING-orgs §12.4)
// and environment variable groups (§12.5). Neither is a v2 resource with
// metadata, so they are handlers of their own.

// notAuthorized is CC's 10003.
func notAuthorized() *cferr.Error { return withCause(translate.NotAuthorized(), nil) }

// v2SetFeatureFlag answers PUT /v2/config/feature_flags/:name: 200 and the
// flag. CC sets enabled and error_message from the body, so a body
// without error_message clears it: v3 is sent both.
func (g *API) v2SetFeatureFlag(ctx *fasthttp.RequestCtx) error {
	name := pathParam(ctx, 2)
	// validate_access comes before the name is looked at.
	if !isAdmin(ctx) {
		return notAuthorized()
	}
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	c := call(ctx)
	if _, err := g.v3.FeatureFlag(c, name); err != nil {
		return v2ErrorAs(err, withCause(translate.FeatureFlagNotFound(name), nil))
	}
	patch, err := translate.V3FeatureFlagSet(body)
	if err != nil {
		return err
	}
	f, err := g.v3.SetFeatureFlag(c, name, patch)
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) {
			if te := translate.FeatureFlagWriteError(e.Status, e.Detail(), name); te != nil {
				return withCause(te, err)
			}
		}
		return v2Error(err, "")
	}
	g.invalidate([]byte("feature_flags"))
	out, err := json.Marshal(translate.FeatureFlag(f))
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, out)
	return nil
}
