package v2api

import (
	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"
)

// SweepPendingStarts finishes the pending v2 starts whose build has
// staged, and the writes gateways that died left half-made, among every
// app (v3 cannot filter on annotations).
func (g *API) SweepPendingStarts(c ccv3.Call) error {
	var pending []translate.V3App
	for page := 1; ; page++ {
		p, err := g.v3.ListApps(c, ccv3.AppsQuery{Page: page, PerPage: 5000})
		if err != nil {
			return err
		}
		for _, a := range p.Resources {
			_, creating := a.Metadata.Annotations[translate.AnnotationCreateIntent]
			if creating || a.Metadata.Annotations[translate.AnnotationPendingStart] != "" {
				pending = append(pending, a)
			}
		}
		if page >= p.Pagination.TotalPages {
			break
		}
	}
	if len(pending) == 0 {
		return nil
	}
	stacks, err := g.stacks(c)
	if err != nil {
		return err
	}
	_, err = g.readBundles(c, pending, stacks, translate.Inline{})
	return err
}

// notFoundOrHidden tells, as CC v2's find_guid_and_validate_access did, a
// resource that does not exist (404) from one the user may not see (403
// NotAuthorized). v3 answers 404 for both; the gateway asks again as its
// own client, when it has one, for the resource the path names.
func (g *API) notFoundOrHidden(ctx *fasthttp.RequestCtx, err error) error {
	var e *cferr.Error
	if g.hooks.Background == nil || !errors.As(err, &e) || e.Status != fasthttp.StatusNotFound {
		return err
	}
	collection := map[string]string{"AppNotFound": "apps", "SpaceNotFound": "spaces", "OrganizationNotFound": "organizations"}[e.Name]
	guid := pathParam(ctx, 1)
	if collection == "" || guid == "" || pathParam(ctx, 0) != collection || !strings.HasSuffix(e.Description, ": "+guid) {
		return err
	}
	c, ok, terr := g.hooks.Background()
	if !ok {
		return err
	}
	if terr != nil {
		g.log.Warn("telling a hidden resource from a missing one", "err", terr)
		return err
	}
	// The gateway's own read counts as the request's, and passes its
	// trace's gate (shadow mode's comparisons).
	c.Trace = call(ctx).Trace
	// Hidden means the gateway sees it and the user does not: an app the
	// user sees without a web process is not a v2 app, so still 404.
	var exists, visible bool
	_ = parallel(
		func() error { exists, _ = g.v3.Exists(c, collection, guid); return nil },
		func() error { visible, _ = g.v3.Exists(call(ctx), collection, guid); return nil },
	)
	if exists && !visible {
		return errNotAuthorized(err)
	}
	return err
}

// noStoreIfPending marks the response not to be cached when one of the
// apps still waits for its staging.
func noStoreIfPending(ctx *fasthttp.RequestCtx, bundles []translate.AppBundle) {
	for _, b := range bundles {
		// A FAILED build is final: the app reads STARTED and FAILED until
		// a write changes it.
		failed := b.LatestBuild != nil && b.LatestBuild.State == "FAILED"
		if b.App.Metadata.Annotations[translate.AnnotationPendingStart] != "" && !failed {
			ctx.SetUserValue(NoStoreKey, true)
			return
		}
	}
}
