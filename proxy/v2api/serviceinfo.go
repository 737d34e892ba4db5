package v2api

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The service instance's side reads (MAPPING-services §10.3.8–§10.3.11,
// §10.5.5, §10.6.5), each a quirk of its own.

// v2ServiceInstancePermissions answers GET /v2/service_instances/:guid/permissions:
// {"manage","read"}, compact; v3 answers it alike, and 404 only for an
// instance that does not exist (§10.3.8).
func (g *API) v2ServiceInstancePermissions(ctx *fasthttp.RequestCtx) error {
	guid := pathParam(ctx, 1)
	manage, read, err := g.v3.InstancePermissions(call(ctx), guid)
	if err != nil {
		return v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	body, err := json.Marshal(struct {
		Manage bool `json:"manage"`
		Read   bool `json:"read"`
	}{manage, read})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2ServiceInstanceParameters answers GET /v2/service_instances/:guid/parameters:
// the broker's parameters; a user-provided instance has none to fetch.
func (g *API) v2ServiceInstanceParameters(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	si, err := g.v3.GetServiceInstance(c, guid)
	if err != nil {
		return v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	if si.Type == translate.InstanceUserProvided {
		return serviceError("ServiceFetchInstanceParametersNotSupported", "")
	}
	raw, err := g.v3.InstanceParameters(c, guid)
	return writeParameters(ctx, raw, err, serviceError("ServiceInstanceNotFound", guid))
}

// v2ServiceBindingParameters answers GET /v2/service_bindings/:guid/parameters.
func (g *API) v2ServiceBindingParameters(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	// A key is no ServiceBinding (ServiceBindingsController#parameters
	// finds the guid among app bindings only).
	if _, err := serviceBindings.one(g, c, guid); err != nil {
		return err
	}
	raw, err := g.v3.BindingParameters(c, guid)
	return writeParameters(ctx, raw, err, serviceError("ServiceBindingNotFound", guid))
}

// v2ServiceKeyParameters answers GET /v2/service_keys/:guid/parameters: a
// key the reader may not see is ServiceKeyNotFound.
func (g *API) v2ServiceKeyParameters(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := oneKey(g.v3, c, guid); err != nil {
		return v2ErrorAs(err, serviceError("ServiceKeyNotFound", guid))
	}
	raw, err := g.v3.BindingParameters(c, guid)
	if te := asNamed(err, "ServiceFetchBindingParametersNotSupported"); te != nil {
		return serviceError("ServiceKeyNotSupported", "This service does not support fetching service key parameters.")
	}
	return writeParameters(ctx, raw, err, serviceError("ServiceKeyNotFound", guid))
}

// writeParameters answers a parameters object (compact, {} when none), or
// its error: v3's named refusals are v2's.
func writeParameters(ctx *fasthttp.RequestCtx, raw json.RawMessage, err error, notFound *cferr.Error) error {
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusBadRequest {
			return withCause(translate.ServiceJobError(e.Title(), e.Detail(), e.Code()), err)
		}
		return v2ErrorAs(err, notFound)
	}
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(`{}`)
	}
	writeV2(ctx, fasthttp.StatusOK, raw)
	return nil
}

// asNamed returns err's v3 error when its title names the v2 error name.
func asNamed(err error, name string) *ccv3.Error {
	var e *ccv3.Error
	if errors.As(err, &e) && e.Title() == "CF-"+name {
		return e
	}
	return nil
}

// v2ServiceInstanceSharedFrom answers GET /v2/service_instances/:guid/shared_from:
// 204 when the instance is not shared, 404 with no body when it cannot be
// read, else its owner space and org (§10.3.10).
func (g *API) v2ServiceInstanceSharedFrom(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	si, err := g.v3.GetServiceInstance(c, guid)
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return nil
	}
	if err != nil {
		return v2Error(err, "")
	}
	shared, err := g.v3.SharedSpaces(c, guid)
	if err := notFoundIsNone(err); err != nil {
		return v2Error(err, "")
	}
	if len(shared) == 0 {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	spaces, orgs, err := g.v3.SpacesWithOrgs(c, []string{si.Relationships.Space.GUID()})
	if err != nil || len(spaces) == 0 {
		return v2Error(err, "")
	}
	sp := spaces[0]
	body, err := json.Marshal(struct {
		SpaceGUID string `json:"space_guid"`
		SpaceName string `json:"space_name"`
		OrgName   string `json:"organization_name"`
	}{sp.GUID, sp.Name, orgs[sp.Relationships.Organization.GUID()].Name})
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2ServiceInstanceSharedTo answers GET /v2/service_instances/:guid/shared_to:
// a v2 list of flat {space_guid, space_name, organization_name,
// bound_app_count} entries, the spaces the instance is shared into
// (§10.3.11); an instance the reader cannot see is ServiceInstanceNotFound.
func (g *API) v2ServiceInstanceSharedTo(ctx *fasthttp.RequestCtx) error {
	lp, err := g.listParams(ctx)
	if err != nil {
		return err
	}
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := g.v3.GetServiceInstance(c, guid); err != nil {
		return v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	var shared []ccv3.SharedSpace
	var usage map[string]int
	err = parallel(
		func() (err error) { shared, err = g.v3.SharedSpacesNamed(c, guid); return notFoundIsNone(err) },
		func() (err error) { usage, err = g.v3.SharedSpacesUsage(c, guid); return notFoundIsNone(err) },
	)
	if err != nil {
		return v2Error(err, "")
	}
	type entry struct {
		SpaceGUID     string `json:"space_guid"`
		SpaceName     string `json:"space_name"`
		OrgName       string `json:"organization_name"`
		BoundAppCount int    `json:"bound_app_count"`
	}
	all := make([]entry, len(shared))
	for i, sp := range shared {
		all[i] = entry{sp.GUID, sp.Name, sp.OrgName, usage[sp.GUID]}
	}
	page := pageLocally(lp, all)
	return writeV2List(ctx, lp, "/v2/service_instances/"+guid+"/shared_to", len(all), len(page), func(b *bytes.Buffer, i int) error {
		raw, err := json.Marshal(page[i])
		b.Write(raw)
		return err
	})
}

// v2FeatureFlags answers GET /v2/config/feature_flags: a bare array, in
// v2's order (MAPPING-orgs §12.4); cf service reads it.
func (g *API) v2FeatureFlags(ctx *fasthttp.RequestCtx) error {
	flags, err := g.v3.FeatureFlags(call(ctx))
	if err != nil {
		return v2Error(err, "")
	}
	body, err := translate.FeatureFlagList(flags)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2FeatureFlag answers GET /v2/config/feature_flags/:name.
func (g *API) v2FeatureFlag(ctx *fasthttp.RequestCtx) error {
	name := pathParam(ctx, 2)
	f, err := g.v3.FeatureFlag(call(ctx), name)
	if err != nil {
		return v2ErrorAs(err, withCause(translate.FeatureFlagNotFound(name), nil))
	}
	body, err := json.Marshal(translate.FeatureFlag(f))
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}
