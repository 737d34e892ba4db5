package v2api

import (
	"strings"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// startQuotaErr is CC v2's quota check of a start, for a start that must
// stage first. CC v2 saved the process with state STARTED and its model
// refused the save at once (cc:app/models/runtime/process_model.rb
// validate: AppMaxMemoryPolicy space then org, AppMaxInstanceMemoryPolicy,
// MaxAppInstancesPolicy), so the PUT or POST answered the quota error. v3
// stages first and refuses only the start, after staging, when no v2 answer
// is waiting any more: the app would read STARTED and never start. So the
// gateway checks before it stages, from the quotas and the usage v3
// reports, and answers the error CC v2 did (unprocessable maps the model's
// words). v3's own start checks again. What the caller may not read (a
// quota it cannot see) or an upstream failure leaves the decision to v3:
// the check is a courtesy, never a reason to refuse.
func (g *API) startQuotaErr(c ccv3.Call, b translate.AppBundle) error {
	spaces, orgs, err := g.v3.SpacesWithOrgs(c, []string{b.App.Relationships.Space.GUID()})
	if err != nil || len(spaces) == 0 {
		return nil
	}
	sp := spaces[0]
	var space, org quotaUse
	var reads []func() error
	if guid := sp.Relationships.Quota.GUID(); guid != "" {
		reads = append(reads, space.read(guid, func(guid string) (translate.V3Quota, error) { return g.v3.GetSpaceQuota(c, guid) },
			func() (translate.V3UsageSummary, error) { return g.v3.SpaceUsageSummary(c, sp.GUID) })...)
	}
	orgGUID := sp.Relationships.Organization.GUID()
	if guid := orgs[orgGUID].Relationships.Quota.GUID(); guid != "" {
		reads = append(reads, org.read(guid, func(guid string) (translate.V3Quota, error) { return g.v3.GetOrgQuota(c, guid) },
			func() (translate.V3UsageSummary, error) { return g.v3.OrgUsageSummary(c, orgGUID) })...)
	}
	if err := parallel(reads...); err != nil {
		g.log.Info("a v2 start's quotas could not be read; the v3 start checks them", "app", b.App.GUID, "err", err)
		return nil
	}
	web := b.Web
	memory, instances := web.MemoryInMB*int64(web.Instances), int64(web.Instances)
	// The model's messages in its order of validation, as v3 words them;
	// unprocessable picks the one CC v2 answered.
	var problems []string
	add := func(cond bool, msg string) {
		if cond {
			problems = append(problems, msg)
		}
	}
	add(space.over(space.q.Apps.TotalMemoryInMB, space.use.MemoryInMB+memory), "memory space_quota_exceeded")
	add(org.over(org.q.Apps.TotalMemoryInMB, org.use.MemoryInMB+memory), "memory quota_exceeded")
	add(org.over(org.q.Apps.PerProcessMemoryInMB, web.MemoryInMB), "memory instance_memory_limit_exceeded")
	add(space.over(space.q.Apps.PerProcessMemoryInMB, web.MemoryInMB), "memory space_instance_memory_limit_exceeded")
	add(org.over(org.q.Apps.TotalInstances, org.use.StartedInstances+instances), "app_instance_limit app_instance_limit_exceeded")
	add(space.over(space.q.Apps.TotalInstances, space.use.StartedInstances+instances), "app_instance_limit space_app_instance_limit_exceeded")
	if len(problems) == 0 {
		return nil
	}
	return unprocessable("CF-UnprocessableEntity", strings.Join(problems, ", "), b.App.Name)
}

// quotaUse is a quota and what its holder uses; set is false for a
// holder without a quota, which bounds nothing.
type quotaUse struct {
	set bool
	q   translate.V3Quota
	use translate.V3UsageSummary
}

// read returns the two reads that fill u.
func (u *quotaUse) read(guid string, quota func(string) (translate.V3Quota, error), usage func() (translate.V3UsageSummary, error)) []func() error {
	u.set = true
	return []func() error{
		func() (err error) { u.q, err = quota(guid); return },
		func() (err error) { u.use, err = usage(); return },
	}
}

// over reports whether n passes the limit; v3's null is unlimited.
func (u *quotaUse) over(limit *int64, n int64) bool {
	return u.set && limit != nil && n > *limit
}
