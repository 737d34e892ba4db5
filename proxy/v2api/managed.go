package v2api

import (
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// The managed service instance writes (MAPPING-services §10.3.3–§10.3.5):
// v3 runs each as a job; v2 was synchronous unless the client accepted
// incomplete operations, which then answer 202 with the instance in
// progress (§10.9.2).

// createManaged is POST /v2/service_instances.
func createManaged(g *API, ctx *fasthttp.RequestCtx, body []byte) (translate.V3ServiceInstance, error) {
	var si translate.V3ServiceInstance
	req, err := translate.ParseManagedRequest(body, true)
	if err != nil {
		return si, err
	}
	acceptsIncomplete, err := strictFlag(ctx, "accepts_incomplete")
	if err != nil {
		return si, err
	}
	c := call(ctx)
	var planErr, spaceErr error
	_ = parallel(
		func() error { _, planErr = g.v3.GetPlan(c, *req.PlanGUID); return nil },
		func() error { _, spaceErr = g.v3.GetSpace(c, *req.SpaceGUID); return nil },
	)
	if planErr != nil {
		return si, v2ErrorAs(planErr, serviceError("ServiceInstanceInvalid", "not a valid service plan"))
	}
	if spaceErr != nil {
		return si, v2ErrorAs(spaceErr, serviceError("ServiceInstanceInvalid", "not a valid space"))
	}
	// The model's checks come after the plan and space are found.
	if te := req.Check(); te != nil {
		return si, withCause(te, nil)
	}
	v3body, err := translate.V3ManagedWrite(req, true)
	if err != nil {
		return si, err
	}
	w, err := g.v3.CreateServiceInstance(c, v3body)
	if err != nil {
		return si, instanceWriteError(err, *req.Name, nil)
	}
	if w.Job != "" {
		if err := g.serviceJob(c, w.Job, acceptsIncomplete); err != nil {
			return si, err
		}
	}
	page, err := g.v3.ListServiceInstances(c, ccv3.InstanceQuery{Type: translate.InstanceManaged, Names: []string{*req.Name}, SpaceGUIDs: []string{*req.SpaceGUID}})
	if err != nil || len(page.Resources) == 0 {
		return si, orUnknown(v2Error(err, ""), "the created instance is not listed")
	}
	si = page.Resources[0]
	markInProgress(ctx, si.LastOperation)
	return si, nil
}

// markInProgress makes a write answer 202 while its operation runs.
func markInProgress(ctx *fasthttp.RequestCtx, op *translate.V3LastOperation) {
	if op != nil && (op.State == "in progress" || op.State == "initial") {
		ctx.SetUserValue(statusKey, fasthttp.StatusAccepted)
	}
}

// updateManaged is PUT /v2/service_instances/:guid: a user-provided
// instance is for the other API, a space change is refused here (v3 has no
// such key), the rest is v3's PATCH: 200 at once, or a job.
func updateManaged(g *API, ctx *fasthttp.RequestCtx, guid string, body []byte) (translate.V3ServiceInstance, error) {
	req, err := translate.ParseManagedRequest(body, false)
	if err != nil {
		return translate.V3ServiceInstance{}, err
	}
	acceptsIncomplete, err := strictFlag(ctx, "accepts_incomplete")
	if err != nil {
		return translate.V3ServiceInstance{}, err
	}
	c := call(ctx)
	si, err := g.v3.GetServiceInstance(c, guid)
	switch {
	case err != nil:
		return si, v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	case si.Type == translate.InstanceUserProvided:
		return si, serviceError("UserProvidedServiceInstanceHandlerNeeded", "")
	case req.SpaceGUID != nil && *req.SpaceGUID != si.Relationships.Space.GUID():
		return si, serviceError("ServiceInstanceSpaceChangeNotAllowed", "")
	}
	if te := req.Check(); te != nil {
		return si, withCause(te, nil)
	}
	v3body, err := translate.V3ManagedWrite(req, false)
	if err != nil {
		return si, err
	}
	w, err := g.v3.UpdateServiceInstance(c, guid, v3body)
	if err != nil {
		return si, instanceWriteError(err, si.Name, serviceError("ServiceInstanceNotFound", guid))
	}
	if w.Job == "" {
		return w.Resource, nil
	}
	if err := g.serviceJob(c, w.Job, acceptsIncomplete); err != nil {
		return si, err
	}
	if si, err = g.v3.GetServiceInstance(c, guid); err != nil {
		return si, v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	markInProgress(ctx, si.LastOperation)
	return si, nil
}

// v2ServiceInstanceDelete answers DELETE /v2/service_instances/:guid
// (§10.3.5): its flags are strict and checked first; without
// recursive=true an instance shared into other spaces, or with bindings,
// keys or route bindings, is refused (v3 deletes those along). A
// user-provided instance goes at once; a managed one is a job: async=true
// answers the v2 job, accepts_incomplete=true waits a grace period and
// answers 202 with the instance while it runs, else the delete is waited
// for.
func (g *API) v2ServiceInstanceDelete(ctx *fasthttp.RequestCtx) error {
	var flags [3]bool
	for i, name := range []string{"accepts_incomplete", "async", "purge"} {
		v, err := strictFlag(ctx, name)
		if err != nil {
			return err
		}
		flags[i] = v
	}
	acceptsIncomplete, async, purge := flags[0], flags[1], flags[2]
	guid, c := pathParam(ctx, 1), call(ctx)
	si, err := g.v3.GetServiceInstance(c, guid)
	if err != nil {
		return v2ErrorAs(err, serviceError("ServiceInstanceNotFound", guid))
	}
	if purge {
		// Purge deletes the rows only, whatever they hold (§10.3.5 step 2).
		if err := g.v3.PurgeServiceInstance(c, guid); err != nil {
			return instanceWriteError(err, si.Name, serviceError("ServiceInstanceNotFound", guid))
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}
	if !flagTrue(ctx, "recursive") {
		if err := g.instanceInUse(c, si); err != nil {
			return err
		}
	}
	job, err := g.v3.DeleteServiceInstance(c, guid)
	if err != nil {
		return instanceWriteError(err, si.Name, serviceError("ServiceInstanceNotFound", guid))
	}
	switch {
	case job == "":
	case async && !acceptsIncomplete:
		body, err := translate.QueuedJob(job, time.Now())
		if err != nil {
			return err
		}
		go g.invalidateWhenDone(c, job, []byte("service_instances"))
		ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/jobs/"+job)
		writeV2(ctx, fasthttp.StatusAccepted, body)
		return nil
	default:
		if err := g.serviceJob(c, job, acceptsIncomplete); err != nil {
			return err
		}
		return answerDeleting(g, ctx, serviceInstances, guid, func() (translate.V3ServiceInstance, error) { return g.v3.GetServiceInstance(c, guid) })
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// instanceInUse refuses a non-recursive delete of an instance still shared
// into spaces (ServiceInstanceDeletionSharesExists) or bound to apps,
// keys or routes (AssociationNotEmpty, CC's fixed text).
func (g *API) instanceInUse(c ccv3.Call, si translate.V3ServiceInstance) error {
	shared, err := g.v3.SharedSpaces(c, si.GUID)
	if err := notFoundIsNone(err); err != nil {
		return v2Error(err, "")
	}
	if len(shared) > 0 {
		return &cferr.Error{Status: 422, Code: 390002, Name: "ServiceInstanceDeletionSharesExists",
			Description: "Service instances must be unshared before they can be deleted. Unsharing " + si.Name +
				" will automatically delete any bindings that have been made to applications in other spaces."}
	}
	var inUse bool
	var mu sync.Mutex
	mark := func(n int, err error) error {
		mu.Lock()
		inUse = inUse || n > 0
		mu.Unlock()
		return notFoundIsNone(err)
	}
	err = parallel(
		func() error {
			p, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: "app", InstanceGUIDs: []string{si.GUID}, PerPage: 1})
			return mark(p.Pagination.TotalResults, err)
		},
		func() error {
			p, err := g.v3.ListBindings(c, ccv3.BindingQuery{Type: "key", InstanceGUIDs: []string{si.GUID}, PerPage: 1})
			return mark(p.Pagination.TotalResults, err)
		},
		func() error {
			bound, err := g.v3.InstanceRoutes(c, si.GUID)
			return mark(len(bound), err)
		},
	)
	if err != nil {
		return v2Error(err, "")
	}
	if inUse {
		return withCause(translate.AssociationNotEmpty("service_bindings, service_keys, and routes", "service_instances"), nil)
	}
	return nil
}

// orUnknown is err, or an unknown error saying what when there is none (a
// write that succeeded but whose result cannot be read back).
func orUnknown(err error, what string) error {
	if err != nil {
		return err
	}
	return cferr.Unknown(errors.New(what))
}
