package v2api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The v2 security groups (MAPPING-orgs §12.7, §11.4): v3's security
// groups, their running and staging spaces, and the running and staging
// defaults, v3's globally enabled groups.
var (
	securityGroups = &v2Resource[translate.V3SecurityGroup]{
		path: "/v2/security_groups", keys: []string{"name"},
		list: func(c *ccv3.Client, call ccv3.Call, q ccv3.ListQuery) (ccv3.Page[translate.V3SecurityGroup], error) {
			return c.ListSecurityGroups(call, ccv3.SecurityGroupsQuery{ListQuery: q})
		},
		get: (*ccv3.Client).GetSecurityGroup, name: sgName, prepare: prepareSecurityGroups, notFound: sgNotFound,
		guid: func(sg translate.V3SecurityGroup) string { return sg.GUID },
		create: func(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3SecurityGroup, error) {
			return writeSecurityGroup(g, ctx, "", body)
		},
		update: writeSecurityGroup,
		remove: func(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
			c := call(ctx)
			if _, err := g.v3.GetSecurityGroup(c, guid); err != nil {
				return "", v2ErrorAs(err, sgNotFound(guid))
			}
			job, err := g.v3.DeleteSecurityGroup(c, guid)
			return job, sgWriteError(err, "")
		},
		async: true,
	}
	// sgSpaces and sgStagingSpaces: GET /v2/security_groups/:guid/spaces
	// and /staging_spaces, the bound spaces v3 shows the caller, as v2
	// spaces.
	sgSpaces        = sgSpaceList(false)
	sgStagingSpaces = sgSpaceList(true)
	// spaceSecurityGroups and spaceStagingSecurityGroups: GET
	// /v2/spaces/:guid/security_groups and /staging_security_groups, the
	// groups bound to the space and the globally enabled ones (v3's
	// running_security_groups and staging_security_groups).
	spaceSecurityGroups        = spaceSGList(false)
	spaceStagingSecurityGroups = spaceSGList(true)
	// runningDefaults and stagingDefaults: /v2/config/running_security_groups
	// and /v2/config/staging_security_groups, the globally enabled groups,
	// each with its url under that path and no relation urls. No q keys.
	runningDefaults = defaultGroups("running")
	stagingDefaults = defaultGroups("staging")
)

func sgName(sg translate.V3SecurityGroup) string { return sg.Name }

func sgNotFound(guid string) *cferr.Error {
	return withCause(translate.SecurityGroupNotFound(guid), nil)
}

// inlineLimit is the most members a to-many relation inlines
// (RelationsPresenter: larger ones show only their url).
const inlineLimit = 50

// prepareSecurityGroups renders security groups; with
// inline-relations-depth=1 (go-cfclient's ListSecGroups asks for it) each
// shows its spaces and staging spaces as v2 spaces.
func prepareSecurityGroups(g *API, c ccv3.Call, items []translate.V3SecurityGroup, in translate.Inline) (func(*bytes.Buffer, translate.V3SecurityGroup) error, error) {
	running, staging := in.Wants("spaces"), in.Wants("staging_spaces")
	if !running && !staging {
		return func(b *bytes.Buffer, sg translate.V3SecurityGroup) error {
			return translate.AppendSecurityGroupResource(b, sg, nil, nil)
		}, nil
	}
	var guids []string
	for _, sg := range items {
		for _, rel := range []translate.V3ToMany{sg.Relationships.RunningSpaces, sg.Relationships.StagingSpaces} {
			for _, s := range rel.GUIDs() {
				if !slices.Contains(guids, s) {
					guids = append(guids, s)
				}
			}
		}
	}
	found, _, err := g.v3.SpacesWithOrgs(c, guids)
	if err != nil {
		return nil, err
	}
	render, err := spaces.prepare(g, c, found, in.Deeper())
	if err != nil {
		return nil, err
	}
	bodies := make(map[string]json.RawMessage, len(found))
	for _, sp := range found {
		var b bytes.Buffer
		if err := render(&b, sp); err != nil {
			return nil, err
		}
		bodies[sp.GUID] = bytes.TrimSpace(b.Bytes())
	}
	inline := func(want bool, rel translate.V3ToMany) []json.RawMessage {
		if !want || len(rel.Data) > inlineLimit {
			return nil
		}
		out := []json.RawMessage{}
		for _, s := range rel.GUIDs() {
			if body, ok := bodies[s]; ok {
				out = append(out, body)
			}
		}
		return out
	}
	return func(b *bytes.Buffer, sg translate.V3SecurityGroup) error {
		return translate.AppendSecurityGroupResource(b, sg, inline(running, sg.Relationships.RunningSpaces), inline(staging, sg.Relationships.StagingSpaces))
	}, nil
}

// sgSpaceList declares /v2/security_groups/:guid/spaces (staging:
// staging_spaces).
func sgSpaceList(staging bool) *v2Under[translate.V3Space] {
	name := "spaces"
	if staging {
		name = "staging_spaces"
	}
	return &v2Under[translate.V3Space]{
		of: spaces, parent: "security_groups", name: name, parentNotFound: sgNotFound,
		find: func(c *ccv3.Client, call ccv3.Call, guid string) error {
			_, err := c.GetSecurityGroup(call, guid)
			return err
		},
		page: func(g *API, c ccv3.Call, lp translate.ListParams, fs []translate.Filter, guid string) ([]translate.V3Space, int, error) {
			sg, err := g.v3.GetSecurityGroup(c, guid)
			if err != nil {
				return nil, 0, err
			}
			guids := sg.Relationships.RunningSpaces.GUIDs()
			if staging {
				guids = sg.Relationships.StagingSpaces.GUIDs()
			}
			if len(guids) == 0 {
				return nil, 0, nil
			}
			return spacesPage(g, c, lp, fs, nil, guids)
		},
	}
}

// spaceSGList declares /v2/spaces/:guid/security_groups (staging:
// staging_security_groups).
func spaceSGList(staging bool) *v2Under[translate.V3SecurityGroup] {
	name := "security_groups"
	if staging {
		name = "staging_security_groups"
	}
	return &v2Under[translate.V3SecurityGroup]{
		of: securityGroups, parent: "spaces", name: name, find: findSpace, parentNotFound: spaceNotFound,
		list: func(c *ccv3.Client, call ccv3.Call, space string, q ccv3.ListQuery) (ccv3.Page[translate.V3SecurityGroup], error) {
			return c.SpaceSecurityGroups(call, space, staging, q)
		},
	}
}

// defaultGroups declares /v2/config/<lifecycle>_security_groups.
func defaultGroups(lifecycle string) *v2Resource[translate.V3SecurityGroup] {
	on := true
	return &v2Resource[translate.V3SecurityGroup]{
		path: "/v2/config/" + lifecycle + "_security_groups", name: sgName,
		list: func(c *ccv3.Client, call ccv3.Call, q ccv3.ListQuery) (ccv3.Page[translate.V3SecurityGroup], error) {
			sq := ccv3.SecurityGroupsQuery{ListQuery: q}
			if lifecycle == "staging" {
				sq.Staging = &on
			} else {
				sq.Running = &on
			}
			return c.ListSecurityGroups(call, sq)
		},
		render: func(b *bytes.Buffer, sg translate.V3SecurityGroup) error {
			return translate.AppendDefaultSecurityGroupResource(b, sg, lifecycle)
		},
	}
}

// writeSecurityGroup creates (guid "") or updates a security group. On
// update, space_guids and staging_space_guids replace the bound spaces
// (MAPPING-orgs §11.0): v3 is told the difference.
func writeSecurityGroup(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3SecurityGroup, error) {
	var sg translate.V3SecurityGroup
	req, err := translate.ParseSecurityGroupRequest(body, guid == "")
	if err != nil {
		return sg, err
	}
	name := ""
	if req.Name != nil {
		name = *req.Name
	}
	v3body, err := translate.V3SecurityGroupWrite(req, guid == "")
	if err != nil {
		return sg, err
	}
	c := call(ctx)
	if guid == "" {
		sg, err = g.v3.CreateSecurityGroup(c, v3body)
		return sg, sgWriteError(err, name)
	}
	if sg, err = g.v3.GetSecurityGroup(c, guid); err != nil {
		return sg, v2ErrorAs(err, sgNotFound(guid))
	}
	if req.Name != nil || req.Rules != nil {
		if sg, err = g.v3.UpdateSecurityGroup(c, guid, v3body); err != nil {
			return sg, sgWriteError(err, name)
		}
	}
	for _, set := range []struct {
		given   bool
		want    []string
		current translate.V3ToMany
		staging bool
	}{
		{req.HasSpaces, req.SpaceGUIDs, sg.Relationships.RunningSpaces, false},
		{req.HasStagingSpcs, req.StagingGUIDs, sg.Relationships.StagingSpaces, true},
	} {
		if !set.given {
			continue
		}
		have := set.current.GUIDs()
		var add []string
		for _, s := range set.want {
			if !slices.Contains(have, s) && !slices.Contains(add, s) {
				add = append(add, s)
			}
		}
		if len(add) > 0 {
			if err := g.v3.BindSecurityGroup(c, guid, set.staging, add); err != nil {
				return sg, sgWriteError(err, name)
			}
		}
		for _, s := range have {
			if !slices.Contains(set.want, s) {
				if err := g.v3.UnbindSecurityGroup(c, guid, set.staging, s); err != nil {
					return sg, sgWriteError(err, name)
				}
			}
		}
	}
	sg, err = g.v3.GetSecurityGroup(c, guid)
	return sg, v2ErrorAs(err, sgNotFound(guid))
}

// sgWriteError is a failed v3 security group write in v2's words.
func sgWriteError(err error, name string) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.SecurityGroupWriteError(e.Status, e.Detail(), name); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// relationError is v2's InvalidRelation for a to-many member v3 refused
// (vcap_relations: the model's name is not demodulized).
func relationError(err error, model, guid string) error {
	var e *ccv3.Error
	if errors.As(err, &e) && (e.Status == fasthttp.StatusUnprocessableEntity || e.Status == fasthttp.StatusNotFound) {
		return withCause(translate.InvalidRelation("Could not find VCAP::CloudController::"+model+" with guid: "+guid), err)
	}
	return v2Error(err, "")
}

// v2SecurityGroupBindSpace answers PUT and DELETE
// /v2/security_groups/:guid/spaces/:space_guid (and staging_spaces): 201
// and the group, or 204.
func (g *API) v2SecurityGroupBindSpace(ctx *fasthttp.RequestCtx) error {
	guid, staging, space, c := pathParam(ctx, 1), pathParam(ctx, 2) == "staging_spaces", pathParam(ctx, 3), call(ctx)
	if _, err := g.v3.GetSecurityGroup(c, guid); err != nil {
		return v2ErrorAs(err, sgNotFound(guid))
	}
	if ctx.IsDelete() {
		if err := g.v3.UnbindSecurityGroup(c, guid, staging, space); err != nil {
			return relationError(err, "Space", space)
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	if err := g.v3.BindSecurityGroup(c, guid, staging, []string{space}); err != nil {
		return relationError(err, "Space", space)
	}
	sg, err := g.v3.GetSecurityGroup(c, guid)
	if err != nil {
		return v2ErrorAs(err, sgNotFound(guid))
	}
	return securityGroups.answer(g, ctx, sg, fasthttp.StatusCreated)
}

// v2SpaceBindSecurityGroup answers PUT and DELETE
// /v2/spaces/:guid/security_groups/:sg (and staging_security_groups): 201
// and the space, or 204. v3 lets space and org managers bind, as v2's
// read_related_object_for_update? does.
func (g *API) v2SpaceBindSecurityGroup(ctx *fasthttp.RequestCtx) error {
	space, staging, guid, c := pathParam(ctx, 1), pathParam(ctx, 2) == "staging_security_groups", pathParam(ctx, 3), call(ctx)
	sp, err := g.v3.GetSpace(c, space)
	if err != nil {
		return v2ErrorAs(err, spaceNotFound(space))
	}
	if ctx.IsDelete() {
		if err := g.v3.UnbindSecurityGroup(c, guid, staging, space); err != nil {
			return relationError(err, "SecurityGroup", guid)
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	if err := g.v3.BindSecurityGroup(c, guid, staging, []string{space}); err != nil {
		return relationError(err, "SecurityGroup", guid)
	}
	return spaces.answer(g, ctx, sp, fasthttp.StatusCreated)
}

// v2SetDefaultGroup answers PUT and DELETE
// /v2/config/<lifecycle>_security_groups/:guid: the group becomes (or
// stops being) globally enabled for the lifecycle; 200 and the group, or
// 204. An unknown guid is the controller's not_found_exception, a 400.
func (g *API) v2SetDefaultGroup(ctx *fasthttp.RequestCtx) error {
	lifecycle := "running"
	res := runningDefaults
	if pathParam(ctx, 1) == "staging_security_groups" {
		lifecycle, res = "staging", stagingDefaults
	}
	guid, c := pathParam(ctx, 2), call(ctx)
	if _, err := g.v3.GetSecurityGroup(c, guid); err != nil {
		return v2ErrorAs(err, withCause(translate.SecurityGroupDefaultInvalid(lifecycle, guid), nil))
	}
	on := !ctx.IsDelete()
	body, err := json.Marshal(map[string]map[string]bool{"globally_enabled": {lifecycle: on}})
	if err != nil {
		return err
	}
	sg, err := g.v3.UpdateSecurityGroup(c, guid, body)
	if err != nil {
		return sgWriteError(err, "")
	}
	if !on {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	return res.answer(g, ctx, sg, fasthttp.StatusOK)
}
