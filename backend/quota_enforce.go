package backend

import (
	"context"
	"strconv"
	"strings"

	"capibridge/backend/store"
)

// Enforcing organization and space quotas as CC's models do when a write
// saves a row: ProcessModel#validation_policies on a start or scale
// (AppMaxMemoryPolicy, AppMaxInstanceMemoryPolicy, MaxAppInstancesPolicy;
// cc:app/models/runtime/constraints), Route#validate_total_routes and
// #validate_total_reserved_route_ports, ManagedServiceInstance's
// MaxServiceInstancePolicy and PaidServiceInstancePolicy, and ServiceKey's
// MaxServiceKeysPolicy (cc:app/models/runtime/quota_constraints), and as
// BuildCreate checks a build's staging limits against the space's and the
// org's remaining memory and log rate. Each write calls one function here,
// with the texts and codes of the action that rescues the errors.

// spaceQuotas are the quotas that govern a space: its org's, and its own
// when it has one.
type spaceQuotas struct {
	space   store.Space
	orgName string
	org     store.OrgQuota
	own     *store.SpaceQuota
}

// quotasOf reads the quotas that govern sp.
func (s *Server) quotasOf(ctx context.Context, sp store.Space) (spaceQuotas, error) {
	all := store.Viewer{All: true}
	org, err := s.store.GetOrg(ctx, all, sp.OrgGUID)
	if err != nil {
		return spaceQuotas{}, err
	}
	q := spaceQuotas{space: sp, orgName: org.Name}
	if q.org, err = s.store.GetOrgQuota(ctx, org.QuotaGUID); err != nil {
		return q, err
	}
	if sp.QuotaGUID != "" {
		own, err := s.store.GetSpaceQuota(ctx, all, sp.QuotaGUID)
		if err != nil {
			return q, err
		}
		q.own = &own
	}
	return q, nil
}

// usage reads the quotas that govern sp and what counts against the
// org's quota and the space's, less what except names; its errors are
// 500s.
func (s *Server) usage(ctx context.Context, sp store.Space, except store.QuotaExcept) (q spaceQuotas, org, space store.QuotaUsage, err error) {
	if q, err = s.quotasOf(ctx, sp); err != nil {
		return q, org, space, errInternal(err)
	}
	if org, err = s.store.QuotaUsageOf(ctx, sp.OrgGUID, "", except); err != nil {
		return q, org, space, errInternal(err)
	}
	if space, err = s.store.QuotaUsageOf(ctx, sp.OrgGUID, sp.GUID, except); err != nil {
		return q, org, space, errInternal(err)
	}
	return q, org, space, nil
}

// over says whether n passes limit; nil is unlimited.
func over(limit *int64, n int64) bool { return limit != nil && n > *limit }

// processQuotaErr is the 422 of ProcessScale::InvalidProcess and
// AppStart::InvalidApp: the model's errors as Sequel's full messages,
// "<attribute> <symbol>", joined by ", ".
func processQuotaErr(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errUnprocessable(strings.Join(problems, ", "))
}

// processSave is a process that a start or scale saves started: as it
// will be, and as it was, which counts against the quotas until then
// when it was started.
type processSave struct {
	now, was   store.Process
	wasStarted bool
	// logRate says whether AppMaxLogRateLimitPolicy looks: the state,
	// the instances or the log rate change.
	logRate bool
}

// problems are the quota errors of saving ps where the other started
// processes use orgUsed in the org and spaceUsed in the space, in the
// order of ProcessModel#validation_policies (Sequel groups them by
// attribute: memory, app_instance_limit, log_rate_limit).
func (q spaceQuotas) problems(ps processSave, orgUsed, spaceUsed store.QuotaUsage) []string {
	var p []string
	memory, instances := ps.now.MemoryMB, ps.now.Instances
	total := memory * instances
	if q.own != nil && over(q.own.TotalMemoryMB, spaceUsed.Memory+total) {
		p = append(p, "memory space_quota_exceeded")
	}
	if over(q.org.TotalMemoryMB, orgUsed.Memory+total) {
		p = append(p, "memory quota_exceeded")
	}
	if over(q.org.PerProcessMemoryMB, memory) {
		p = append(p, "memory instance_memory_limit_exceeded")
	}
	if q.own != nil && over(q.own.PerProcessMemoryMB, memory) {
		p = append(p, "memory space_instance_memory_limit_exceeded")
	}
	if over(q.org.TotalInstances, orgUsed.Instances+instances) {
		p = append(p, "app_instance_limit app_instance_limit_exceeded")
	}
	if q.own != nil && over(q.own.TotalInstances, spaceUsed.Instances+instances) {
		p = append(p, "app_instance_limit space_app_instance_limit_exceeded")
	}
	if !ps.logRate {
		return p
	}
	if q.own != nil {
		p = append(p, ps.logRateProblems(q.own.LogRateLimit, spaceUsed.LogRate, "space '"+q.space.Name+"'", "space")...)
	}
	return append(p, ps.logRateProblems(q.org.LogRateLimit, orgUsed.LogRate, "organization '"+q.orgName+"'", "organization")...)
}

// logRateProblems is AppMaxLogRateLimitPolicy against one limit, where
// the other started processes use used (ProcessLogRateLimitCalculator:
// an unlimited process asks for -1; its old rate counts while it was
// started).
func (ps processSave) logRateProblems(limit *int64, used int64, target, kind string) []string {
	if limit == nil {
		return nil
	}
	var p []string
	requested := int64(-1)
	if ps.now.LogRateLimit == -1 {
		p = append(p, "log_rate_limit cannot be unlimited in "+target+".")
	} else {
		requested = ps.now.LogRateLimit * ps.now.Instances
	}
	if ps.wasStarted {
		current := ps.was.LogRateLimit * ps.was.Instances
		used += current
		if requested != -1 && ps.was.LogRateLimit != -1 {
			requested -= current
		}
	}
	if *limit-used < requested {
		p = append(p, "log_rate_limit exceeds "+kind+" log rate quota")
	}
	return p
}

// scaleQuotaErr checks a scale of a process of a started app to p
// (ProcessScale saves the process; a stopped one passes every policy).
func (s *Server) scaleQuotaErr(ctx context.Context, pa processAccess, p store.Process) error {
	if pa.app.State != "STARTED" {
		return nil
	}
	q, orgUsed, spaceUsed, err := s.usage(ctx, pa.space, store.QuotaExcept{Processes: []string{p.GUID}})
	if err != nil {
		return err
	}
	ps := processSave{now: p, was: pa.proc, wasStarted: true,
		logRate: p.Instances != pa.proc.Instances || p.LogRateLimit != pa.proc.LogRateLimit}
	return processQuotaErr(q.problems(ps, orgUsed, spaceUsed))
}

// stateQuotaErr checks a change of an app's state: a start (or restart)
// saves its processes started, a stop passes.
func (s *Server) stateQuotaErr(ctx context.Context, acc appAccess, state string, restart bool) error {
	if state != "STARTED" {
		return nil
	}
	return s.startQuotaErr(ctx, acc, restart)
}

// startQuotaErr checks a start (or restart) of an app: AppStart saves its
// processes started one by one, each seeing those saved before it, and
// stops at the first that fails. A restart stops them first; a start of
// a started app finds them started already, and changes no state.
func (s *Server) startQuotaErr(ctx context.Context, acc appAccess, restart bool) error {
	procs, _, err := s.store.ListProcesses(ctx, store.Viewer{All: true}, store.ProcessFilter{AppGUIDs: []string{acc.app.GUID}},
		store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	guids := make([]string, len(procs))
	for i, p := range procs {
		guids[i] = p.GUID
	}
	q, orgBase, spaceBase, err := s.usage(ctx, acc.space, store.QuotaExcept{Processes: guids})
	if err != nil {
		return err
	}
	running := acc.app.State == "STARTED" && !restart
	add := func(u *store.QuotaUsage, p store.Process) {
		u.Memory, u.Instances, u.LogRate = u.Memory+p.MemoryMB*p.Instances, u.Instances+p.Instances, u.LogRate+p.LogRateLimit*p.Instances
	}
	for i, p := range procs {
		orgUsed, spaceUsed := orgBase, spaceBase
		for j, o := range procs {
			if j < i || (j > i && running) {
				add(&orgUsed, o)
				add(&spaceUsed, o)
			}
		}
		ps := processSave{now: p, was: p, wasStarted: running, logRate: !running}
		if err := processQuotaErr(q.problems(ps, orgUsed, spaceUsed)); err != nil {
			return err
		}
	}
	return nil
}

// stagingQuotaErr checks the staging memory and log rate of a new build in
// sp as BuildCreate#get_memory_limit and #get_log_rate_limit do
// (QuotaValidatingStagingMemoryCalculator and
// QuotaValidatingStagingLogRateLimitCalculator), with BuildsController#create's
// texts: memory, then log rate, each against the space and then the org
// (Space and Organization #has_remaining_memory, #has_remaining_log_rate_limit).
// Memory below the minimum staging memory is raised to it unchecked; a
// space without a space quota has room; the remaining is the limit less
// what started processes use. An unlimited log rate asks for -1.
func (s *Server) stagingQuotaErr(ctx context.Context, sp store.Space, memory, logRate int64) error {
	q, orgUsed, spaceUsed, err := s.usage(ctx, sp, store.QuotaExcept{})
	if err != nil {
		return err
	}
	var spaceMemory, spaceLogRate *int64
	if q.own != nil {
		spaceMemory, spaceLogRate = q.own.TotalMemoryMB, q.own.LogRateLimit
	}
	requires := "staging requires " + strconv.FormatInt(memory, 10) + "M memory"
	switch {
	case memory < minimumStagingMemoryMB:
	case over(spaceMemory, spaceUsed.Memory+memory):
		return errUnprocessable("space's memory limit exceeded: " + requires)
	case over(q.org.TotalMemoryMB, orgUsed.Memory+memory):
		return errUnprocessable("organization's memory limit exceeded: " + requires)
	}
	requires = "staging requires " + strconv.FormatInt(logRate, 10) + " bytes per second"
	switch {
	case over(spaceLogRate, spaceUsed.LogRate+logRate):
		return errUnprocessable("space's log rate limit exceeded: " + requires)
	case over(q.org.LogRateLimit, orgUsed.LogRate+logRate):
		return errUnprocessable("organization's log rate limit exceeded: " + requires)
	}
	return nil
}

// routeQuotaErr checks a new route in sp (Route#validate_total_routes, and
// #validate_total_reserved_route_ports for a route with a port), with
// RouteCreate's texts. CC computes the org's reserved ports but never
// refuses on them.
func (s *Server) routeQuotaErr(ctx context.Context, sp store.Space, withPort bool) error {
	q, orgUsed, spaceUsed, err := s.usage(ctx, sp, store.QuotaExcept{})
	if err != nil {
		return err
	}
	switch {
	case q.own != nil && over(q.own.TotalRoutes, spaceUsed.Routes+1):
		return errUnprocessable("Routes quota exceeded for space '" + sp.Name + "'.")
	case withPort && q.own != nil && !morePortsAllowed(q.own.QuotaLimits, spaceUsed.ReservedPorts):
		return errUnprocessable("Reserved route ports quota exceeded for space '" + sp.Name + "'.")
	case over(q.org.TotalRoutes, orgUsed.Routes+1):
		return errUnprocessable("Routes quota exceeded for organization '" + q.orgName + "'.")
	}
	return nil
}

// morePortsAllowed is MaxReservedRoutePortsPolicy#allow_more_route_ports?:
// with unlimited reserved ports, the route limit bounds the ports.
func morePortsAllowed(l store.QuotaLimits, ports int64) bool {
	if l.TotalReservedPorts == nil {
		return l.TotalRoutes == nil || *l.TotalRoutes > ports
	}
	return ports < *l.TotalReservedPorts
}

// serviceInstanceQuotaErr checks a new managed instance of plan in sp,
// replacing the failed instance replaced ("" for none), with
// ServiceInstanceCreateMixin#validate_quotas!'s errors in its order.
func (s *Server) serviceInstanceQuotaErr(ctx context.Context, sp store.Space, plan store.ServicePlan, replaced string) error {
	var except store.QuotaExcept
	if replaced != "" {
		except.ServiceInstances = []string{replaced}
	}
	q, orgUsed, spaceUsed, err := s.usage(ctx, sp, except)
	if err != nil {
		return err
	}
	switch {
	case q.own != nil && over(q.own.TotalServiceInstances, spaceUsed.ServiceInstances+1):
		return &apiError{Status: 400, Code: 60012, Title: "CF-ServiceInstanceSpaceQuotaExceeded", Detail: "You have exceeded your space's services limit."}
	case over(q.org.TotalServiceInstances, orgUsed.ServiceInstances+1):
		return &apiError{Status: 400, Code: 60005, Title: "CF-ServiceInstanceQuotaExceeded", Detail: "You have exceeded your organization's services limit."}
	case plan.Free:
		return nil
	case q.own != nil && !q.own.PaidServicesAllowed:
		return &apiError{Status: 400, Code: 60013, Title: "CF-ServiceInstanceServicePlanNotAllowedBySpaceQuota",
			Detail: "The service instance cannot be created because paid service plans are not allowed for your space."}
	case !q.org.PaidServicesAllowed:
		return &apiError{Status: 400, Code: 60007, Title: "CF-ServiceInstanceServicePlanNotAllowed",
			Detail: "The service instance cannot be created because paid service plans are not allowed."}
	}
	return nil
}

// keyQuotaErr checks a new service key of an instance in the space
// spaceGUID, replacing the failed keys replaced, with
// ServiceCredentialBindingCreateMixin's texts.
func (s *Server) keyQuotaErr(ctx context.Context, spaceGUID string, replaced []string) error {
	sp, err := s.store.GetSpace(ctx, store.Viewer{All: true}, spaceGUID)
	if err != nil {
		return errInternal(err)
	}
	q, orgUsed, spaceUsed, err := s.usage(ctx, sp, store.QuotaExcept{Bindings: replaced})
	if err != nil {
		return err
	}
	switch {
	case q.own != nil && over(q.own.TotalServiceKeys, spaceUsed.ServiceKeys+1):
		return errUnprocessable("You have exceeded your space's limit for service binding of type key.")
	case over(q.org.TotalServiceKeys, orgUsed.ServiceKeys+1):
		return errUnprocessable("You have exceeded your organization's limit for service binding of type key.")
	}
	return nil
}
