package v2api

import (
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// Organization and space writes (MAPPING-orgs §11.2.2–§11.2.4, §11.4): the
// bodies checked as CC's models checked them, v3's writes, and the
// non-recursive delete refusals v3 does not make (it always deletes
// recursively).

// createOrg is POST /v2/organizations: an unknown quota is InvalidRelation
// before anything is created. v3 makes a non-admin creator an org user and
// manager, as v2 did.
func createOrg(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Org, error) {
	var o translate.V3Org
	req, err := translate.ParseOrgRequest(body, true)
	if err != nil {
		return o, err
	}
	if te := req.Check(); te != nil {
		return o, withCause(te, nil)
	}
	c := call(ctx)
	if req.QuotaGUID != nil {
		if err := g.v3.OrgQuotaExists(c, *req.QuotaGUID); err != nil {
			return o, v2ErrorAs(err, withCause(translate.InvalidRelation("Could not find QuotaDefinition with guid: "+*req.QuotaGUID), nil))
		}
	}
	v3body, err := translate.V3OrgWrite(req)
	if err != nil {
		return o, err
	}
	o, err = g.v3.CreateOrg(c, v3body)
	if err := orgWriteError(err, *req.Name); err != nil {
		return o, err
	}
	if req.QuotaGUID != nil {
		if err := g.v3.AssignOrgQuota(c, *req.QuotaGUID, o.GUID); err != nil {
			return o, v2Error(err, "")
		}
		return g.v3.GetOrg(c, o.GUID)
	}
	return o, nil
}

// updateOrg is PUT /v2/organizations/:guid: 201 with the org.
func updateOrg(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Org, error) {
	req, err := translate.ParseOrgRequest(body, false)
	if err != nil {
		return translate.V3Org{}, err
	}
	c := call(ctx)
	o, err := g.v3.GetOrg(c, guid)
	if err != nil {
		return o, v2ErrorAs(err, orgNotFound(guid))
	}
	if te := req.Check(); te != nil {
		return o, withCause(te, nil)
	}
	name := o.Name
	if req.Name != nil {
		name = *req.Name
	}
	if req.Name != nil || req.Status != nil {
		v3body, err := translate.V3OrgWrite(req)
		if err != nil {
			return o, err
		}
		if o, err = g.v3.UpdateOrg(c, guid, v3body); orgWriteError(err, name) != nil {
			return o, orgWriteError(err, name)
		}
	}
	if req.QuotaGUID != nil {
		if err := g.v3.AssignOrgQuota(c, *req.QuotaGUID, guid); err != nil {
			return o, v2ErrorAs(err, withCause(translate.InvalidRelation("Could not find QuotaDefinition with guid: "+*req.QuotaGUID), nil))
		}
		return g.v3.GetOrg(c, guid)
	}
	return o, nil
}

// orgWriteError is a failed v3 org write in v2's words.
func orgWriteError(err error, name string) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.OrgWriteError(e.Status, e.Title(), e.Detail(), name); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// removeOrg is DELETE /v2/organizations/:guid (§11.2.4): admin only; without
// recursive=true, owned private domains and space quotas, then spaces,
// refuse it.
func removeOrg(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	if _, err := g.v3.GetOrg(c, guid); err != nil {
		return "", v2ErrorAs(err, orgNotFound(guid))
	}
	if !isAdmin(ctx) {
		return "", errNotAuthorized(nil)
	}
	if !flagTrue(ctx, "recursive") {
		domains, err := g.v3.ListOrgDomains(c, guid, ccv3.ListQuery{PerPage: 5000})
		if err != nil {
			return "", v2Error(err, "")
		}
		for _, d := range domains.Resources {
			if d.Relationships.Organization.GUID() == guid {
				return "", withCause(translate.AssociationNotEmpty("owned_private_domains", "organizations"), nil)
			}
		}
		spaces, err := g.v3.ListSpaces(c, ccv3.ListQuery{OrgGUIDs: []string{guid}, PerPage: 1})
		if err != nil {
			return "", v2Error(err, "")
		}
		if spaces.Pagination.TotalResults > 0 {
			return "", withCause(translate.AssociationNotEmpty("spaces", "organizations"), nil)
		}
	}
	job, err := g.v3.DeleteOrg(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, orgNotFound(guid))
	}
	return job, nil
}

// createSpace is POST /v2/spaces: v3's create, then allow_ssh (default
// true, as v2's column) when it differs from v3's default, the space quota
// and the role lists (MAPPING-orgs §11.4); a failure after the create
// deletes the space again.
func createSpace(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3Space, error) {
	var sp translate.V3Space
	req, err := translate.ParseSpaceRequest(body, true)
	if err != nil {
		return sp, err
	}
	if te := req.Check(); te != nil {
		return sp, withCause(te, nil)
	}
	c := call(ctx)
	v3body, err := translate.V3SpaceWrite(req, true)
	if err != nil {
		return sp, err
	}
	sp, err = g.v3.CreateSpace(c, v3body)
	if err := spaceWriteError(err, req); err != nil {
		return sp, err
	}
	if err := g.completeSpace(c, sp.GUID, req); err != nil {
		if job, derr := g.v3.DeleteSpace(c, sp.GUID); derr == nil {
			_ = g.awaitJob(c, job, jobFailed)
		}
		return sp, err
	}
	// The quota shows in the space's relationships.
	if req.QuotaGUID != nil {
		if again, err := g.v3.GetSpace(c, sp.GUID); err == nil {
			sp = again
		}
	}
	return sp, nil
}

// completeSpace gives a new space what v3's create does not: allow_ssh,
// the space quota and the role lists.
func (g *API) completeSpace(c ccv3.Call, guid string, req translate.SpaceRequest) error {
	if err := g.setSpaceSSH(c, guid, req.AllowSSH); err != nil {
		return err
	}
	if q := req.QuotaGUID; q != nil {
		err := g.v3.ApplySpaceQuota(c, *q, guid)
		var e *ccv3.Error
		switch {
		case errors.As(err, &e) && e.Status == 404:
			return withCause(translate.InvalidRelation("Could not find SpaceQuotaDefinition with guid: "+*q), err)
		case errors.As(err, &e) && strings.Contains(e.Detail(), "outside of their owning organization"):
			return withCause(translate.SpaceInvalid("space_quota_definition invalid_organization"), err)
		case err != nil:
			return v2Error(err, "")
		}
	}
	for _, typ := range []string{"space_developer", "space_manager", "space_auditor"} {
		for _, user := range req.Roles[typ] {
			_, err := g.v3.CreateRole(c, translate.RoleByGUIDBody(typ, user, "spaces", guid))
			if err := roleWriteError(err, user); err != nil {
				return err
			}
		}
	}
	return nil
}

// setSpaceSSH sets the space's ssh feature when the body asked.
func (g *API) setSpaceSSH(c ccv3.Call, guid string, allow *bool) error {
	if allow == nil {
		return nil
	}
	if on, err := g.v3.SpaceSSHEnabled(c, guid); err == nil && on == *allow {
		return nil
	}
	return v2Error(g.v3.SetSpaceSSH(c, guid, *allow), "")
}

// updateSpace is PUT /v2/spaces/:guid: another organization is
// OrganizationAlreadySet; space_quota_definition_guid is ignored, as v2's
// update message left it out.
func updateSpace(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3Space, error) {
	req, err := translate.ParseSpaceRequest(body, false)
	if err != nil {
		return translate.V3Space{}, err
	}
	c := call(ctx)
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return sp, v2ErrorAs(err, spaceNotFound(guid))
	}
	if req.OrgGUID != nil && *req.OrgGUID == "" {
		// The org is looked up by its guid before anything else (go-cfclient
		// sends "" when the caller left it out; MAPPING-orgs §11.9).
		return sp, withCause(translate.InvalidRelation("Could not find Organization with guid: "), nil)
	}
	if req.OrgGUID != nil && *req.OrgGUID != sp.Relationships.Organization.GUID() {
		return sp, &cferr.Error{Status: 400, Code: 30007, Name: "OrganizationAlreadySet", Description: "Cannot change organization"}
	}
	if te := req.Check(); te != nil {
		return sp, withCause(te, nil)
	}
	if req.Name != nil {
		v3body, err := translate.V3SpaceWrite(req, false)
		if err != nil {
			return sp, err
		}
		if sp, err = g.v3.UpdateSpace(c, guid, v3body); spaceWriteError(err, req) != nil {
			return sp, spaceWriteError(err, req)
		}
	}
	return sp, g.setSpaceSSH(c, guid, req.AllowSSH)
}

// spaceWriteError is a failed v3 space write in v2's words.
func spaceWriteError(err error, req translate.SpaceRequest) error {
	var e *ccv3.Error
	if errors.As(err, &e) {
		if te := translate.SpaceWriteError(e.Status, e.Title(), e.Detail(), req); te != nil {
			return withCause(te, err)
		}
	}
	if err != nil {
		return v2Error(err, "")
	}
	return nil
}

// removeSpace is DELETE /v2/spaces/:guid (§11.4): without recursive=true,
// processes or routes are AssociationNotEmpty, then apps or service
// instances NonrecursiveSpaceDeletionFailed.
func removeSpace(g *API, ctx *fasthttp.RequestCtx, guid string) (string, error) {
	c := call(ctx)
	sp, err := g.v3.GetSpace(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, spaceNotFound(guid))
	}
	if !flagTrue(ctx, "recursive") {
		var apps ccv3.Page[translate.V3App]
		var routes ccv3.Page[translate.V3Route]
		var instances []translate.V3ServiceInstance
		err := parallel(
			func() (err error) {
				apps, err = g.v3.ListApps(c, ccv3.AppsQuery{SpaceGUIDs: []string{guid}, PerPage: 1})
				return
			},
			func() (err error) {
				routes, err = g.v3.ListRoutes(c, ccv3.RouteQuery{SpaceGUIDs: []string{guid}, PerPage: 1})
				return
			},
			func() (err error) {
				instances, err = g.v3.ServiceInstances(c, ccv3.ServiceInstancesQuery{SpaceGUIDs: []string{guid}})
				return
			},
		)
		if err != nil {
			return "", v2Error(err, "")
		}
		var deps []string
		if apps.Pagination.TotalResults > 0 {
			deps = append(deps, "processes")
		}
		if routes.Pagination.TotalResults > 0 {
			deps = append(deps, "routes")
		}
		if len(deps) > 0 {
			return "", withCause(translate.AssociationNotEmpty(joinList(deps), "spaces"), nil)
		}
		for _, si := range instances {
			if si.Relationships.Space.GUID() == guid {
				return "", &cferr.Error{Status: 400, Code: 290011, Name: "NonrecursiveSpaceDeletionFailed",
					Description: "Resource inside space " + sp.Name + " must first be deleted, or specify recursive delete."}
			}
		}
	}
	job, err := g.v3.DeleteSpace(c, guid)
	if err != nil {
		return "", v2ErrorAs(err, spaceNotFound(guid))
	}
	return job, nil
}
