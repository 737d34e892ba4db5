package v2api

import (
	"errors"
	"sync"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// Where orgs and spaces run: an org's default isolation segment and
// entitlements, a space's segment (MAPPING-orgs §11.1, §11.3). v3's
// organization and space lists carry none of them, so a page costs one
// list of the segments entitled to its orgs and, only when there are
// some, one call per segment and one per entitled org; a page of orgs
// entitled to nothing, the common case, costs that one list.

// orgBundles reads the isolation segments of orgs: which are entitled to
// one (one call per segment, unless there is a single org), and the
// default of each entitled org (an org's default must be entitled to it,
// SetDefaultIsolationSegment and Organization#validate, so the others
// have none).
func (g *API) orgBundles(c ccv3.Call, orgs []translate.V3Org) (map[string]translate.OrgBundle, error) {
	out := make(map[string]translate.OrgBundle, len(orgs))
	guids := make([]string, 0, len(orgs))
	for _, o := range orgs {
		if _, ok := out[o.GUID]; !ok {
			out[o.GUID] = translate.OrgBundle{Org: o}
			guids = append(guids, o.GUID)
		}
	}
	if len(guids) == 0 {
		return out, nil
	}
	segs, err := g.v3.IsolationSegmentsOfOrgs(c, guids)
	if err != nil || len(segs) == 0 {
		return out, err
	}
	var mu sync.Mutex
	entitled := map[string]bool{}
	if len(guids) == 1 {
		entitled[guids[0]] = true
	} else {
		calls := make([]func() error, 0, len(segs))
		for _, s := range distinctSegments(segs) {
			calls = append(calls, func() error {
				orgs, err := g.v3.SegmentOrgs(c, s)
				mu.Lock()
				defer mu.Unlock()
				for _, o := range orgs {
					if _, ok := out[o]; ok {
						entitled[o] = true
					}
				}
				return err
			})
		}
		if err := g.v3.Fan(calls); err != nil {
			return nil, err
		}
	}
	calls := make([]func() error, 0, len(entitled))
	for o := range entitled {
		calls = append(calls, func() error {
			iso, err := g.v3.OrgDefaultSegment(c, o)
			mu.Lock()
			defer mu.Unlock()
			b := out[o]
			b.Entitled, b.DefaultIsolationSegmentGUID = true, iso
			out[o] = b
			return err
		})
	}
	return out, g.v3.Fan(calls)
}

// spaceSegments reads each space's own isolation segment, by space guid
// ("" for none): for one space its relationship; for more, the segments
// entitled to their orgs (a space's segment must be entitled to its org,
// Space#validate_isolation_segment) and the spaces of each.
func (g *API) spaceSegments(c ccv3.Call, spaces []translate.V3Space) (map[string]string, error) {
	out := make(map[string]string, len(spaces))
	switch len(spaces) {
	case 0:
		return out, nil
	case 1:
		iso, err := g.v3.SpaceSegment(c, spaces[0].GUID)
		out[spaces[0].GUID] = iso
		return out, err
	}
	var orgs []string
	for _, sp := range spaces {
		out[sp.GUID] = ""
		orgs = append(orgs, sp.Relationships.Organization.GUID())
	}
	segs, err := g.v3.IsolationSegmentsOfOrgs(c, distinct(orgs))
	if err != nil || len(segs) == 0 {
		return out, err
	}
	var mu sync.Mutex
	calls := make([]func() error, 0, len(segs))
	for _, s := range distinctSegments(segs) {
		calls = append(calls, func() error {
			assigned, err := g.v3.SegmentSpaces(c, s)
			mu.Lock()
			defer mu.Unlock()
			for _, sp := range assigned {
				if _, ok := out[sp]; ok {
					out[sp] = s
				}
			}
			return err
		})
	}
	return out, g.v3.Fan(calls)
}

// distinctSegments are the guids of segs, each once.
func distinctSegments(segs []translate.V3IsolationSegment) []string {
	guids := make([]string, len(segs))
	for i, s := range segs {
		guids[i] = s.GUID
	}
	return distinct(guids)
}

// spacesInSegments are the guids of the spaces an isolation_segment_guid
// filter selects (MAPPING-orgs §11.4): a column filter, so the operator
// counts. ":" and IN name the segments; <, >, <= and >= compare every
// segment the user sees; a space without a segment never matches those.
// IN with no value is "isolation_segment_guid IS NULL" in CC (query.rb
// casts no value to nil): then the spaces of every segment are returned
// with none set, to be excluded.
func (g *API) spacesInSegments(c ccv3.Call, f translate.Filter) (guids []string, none bool, err error) {
	var segs []string
	if f.Op == translate.OpEq || f.Op == translate.OpIn && len(f.Values) > 0 {
		segs = distinct(nonEmpty(f.Values))
	} else {
		none = f.Op == translate.OpIn
		all, err := g.v3.AllIsolationSegments(c)
		if err != nil {
			return nil, false, err
		}
		for _, s := range all {
			if none || translate.ColumnMatches(f, s.GUID) {
				segs = append(segs, s.GUID)
			}
		}
	}
	var mu sync.Mutex
	guids = []string{}
	calls := make([]func() error, 0, len(segs))
	for _, s := range segs {
		calls = append(calls, func() error {
			spaces, err := g.v3.SegmentSpaces(c, s)
			var e *ccv3.Error
			if errors.As(err, &e) && e.Status == 404 {
				// A segment that does not exist holds no space.
				return nil
			}
			mu.Lock()
			guids = append(guids, spaces...)
			mu.Unlock()
			return err
		})
	}
	if err := g.v3.Fan(calls); err != nil {
		return nil, false, err
	}
	return distinct(guids), none, nil
}

// v2OrgRemoveDefaultSegment is DELETE
// /v2/organizations/:guid/default_isolation_segment: 200 and the org
// without a default (OrganizationsController#delete_default_isolation_segment).
// CC needs update access to the org (admins, managers of an active org);
// v3's PATCH of the relationship to null checks the same.
func (g *API) v2OrgRemoveDefaultSegment(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	if err := g.v3.SetOrgDefaultSegment(c, guid, translate.NoSegmentBody()); err != nil {
		return v2ErrorAs(err, orgNotFound(guid))
	}
	o, err := orgsRead.one(g, c, guid)
	if err != nil {
		return err
	}
	return orgsRead.answer(g, ctx, o, fasthttp.StatusOK)
}

// v2SpaceRemoveSegment is DELETE /v2/spaces/:guid/isolation_segment: 200
// and the space without its own segment
// (SpacesController#delete_isolation_segment). CC checks update access
// to the space's org (check_org_update_access!: admins, managers of an
// active org). v3's PATCH of the relationship to null checks the
// manager but not the org's status, so a non-admin's org is read first.
func (g *API) v2SpaceRemoveSegment(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := g.objectParams(ctx); err != nil {
		return err
	}
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	if !isAdmin(ctx) {
		o, err := g.v3.GetOrg(c, sp.Relationships.Organization.GUID())
		if err != nil {
			return v2Error(err, "")
		}
		if o.Suspended {
			return errNotAuthorized(nil)
		}
	}
	if err := g.v3.SetSpaceSegment(c, guid, translate.NoSegmentBody()); err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	if sp, err = g.v3.GetSpace(c, guid); err != nil {
		return v2ErrorAs(err, spaceNotFound(guid))
	}
	return spaces.answer(g, ctx, sp, fasthttp.StatusOK)
}
