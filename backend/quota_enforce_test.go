package backend

import (
	"maps"
	"testing"
)

// quotaErr is the one error of a refused write.
func quotaErr(t *testing.T, r resp, status int, title string, code int, detail string) {
	t.Helper()
	roleWant{status: status, title: title, code: code, detail: detail}.assert(t, r)
}

// TestQuotaEnforcement: with an org quota of 1024 MB and a space quota of
// 512 MB, starts and scales past either are refused with the texts of
// CC's process validations; routes and managed instances past the space
// quota's totals are refused with RouteCreate's and ServiceInstanceCreate's
// errors; raising the quotas lets every one of them through.
func TestQuotaEnforcement(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var oq orgQuotaJSON
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "one-gig", "apps": map[string]any{"total_memory_in_mb": 1024},
		"relationships": map[string]any{"organizations": map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}}}).json(t, &oq)
	var sq spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "half-gig",
		"apps":     map[string]any{"total_memory_in_mb": 512},
		"routes":   map[string]any{"total_routes": 1},
		"services": map[string]any{"total_service_instances": 1},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}},
			"spaces": map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}}}).json(t, &sq)
	var sp spaceJSON
	c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID, "developer", nil).json(t, &sp)
	if sp.Relationships.Quota.Data == nil || *sp.Relationships.Quota.Data.GUID != sq.GUID || sp.Links.Quota == nil {
		t.Fatalf("space's quota %+v, links %+v", sp.Relationships.Quota, sp.Links.Quota)
	}

	// A space of demo-org without a space quota, for the org's limit.
	var free spaceJSON
	c.must(201, "POST", "/v3/spaces", "admin", map[string]any{"name": "unlimited",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}}).json(t, &free)
	if free.Relationships.Quota.Data != nil {
		t.Errorf("new space's quota %+v", free.Relationships.Quota)
	}

	app := func(space, name string, memory int) string {
		t.Helper()
		guid := c.createAppIn("admin", space, name, nil)
		c.giveDroplet(guid)
		c.must(202, "POST", "/v3/apps/"+guid+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": memory, "instances": 1})
		return guid
	}
	unprocessable := func(r resp, detail string) { t.Helper(); quotaErr(t, r, 422, "CF-UnprocessableEntity", 10008, detail) }

	small := app(DemoSpaceGUID, "small", 256)
	c.must(200, "POST", "/v3/apps/"+small+"/actions/start", "developer", nil)
	// A scale past the space quota: 3 × 256 MB.
	unprocessable(c.do("POST", "/v3/apps/"+small+"/processes/web/actions/scale", "developer", map[string]int{"instances": 3}),
		"memory space_quota_exceeded")
	// Past both.
	var web processJSON
	c.must(200, "GET", "/v3/apps/"+small+"/processes/web", "developer", nil).json(t, &web)
	unprocessable(c.do("POST", "/v3/processes/"+web.GUID+"/actions/scale", "developer", map[string]int{"memory_in_mb": 2048}),
		"memory space_quota_exceeded, memory quota_exceeded")
	// A start past the space quota: 256 + 512 MB.
	big := app(DemoSpaceGUID, "big", 512)
	unprocessable(c.do("POST", "/v3/apps/"+big+"/actions/start", "developer", nil), "memory space_quota_exceeded")

	// In the space without a space quota, only the org's 1024 MB count:
	// 256 + 1024 MB is past it on a start, and on a scale.
	elsewhere := app(free.GUID, "elsewhere", 1024)
	unprocessable(c.do("POST", "/v3/apps/"+elsewhere+"/actions/start", "admin", nil), "memory quota_exceeded")
	c.must(202, "POST", "/v3/apps/"+elsewhere+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 256})
	c.must(200, "POST", "/v3/apps/"+elsewhere+"/actions/start", "admin", nil)
	unprocessable(c.do("POST", "/v3/apps/"+elsewhere+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 1024}),
		"memory quota_exceeded")
	// A stopped app scales as it likes.
	c.must(202, "POST", "/v3/apps/"+big+"/processes/web/actions/scale", "admin", map[string]int{"instances": 4})
	c.must(202, "POST", "/v3/apps/"+big+"/processes/web/actions/scale", "admin", map[string]int{"instances": 1})

	// One route, one managed instance.
	c.must(201, "POST", "/v3/routes", "developer", routeBody("first", "", DemoSpaceGUID, SharedDomainGUID))
	unprocessable(c.do("POST", "/v3/routes", "developer", routeBody("second", "", DemoSpaceGUID, SharedDomainGUID)),
		"Routes quota exceeded for space '"+DemoSpaceName+"'.")
	c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db-one", DemoSpaceGUID, DBSmallPlanGUID, nil))
	quotaErr(t, c.do("POST", "/v3/service_instances", "developer", managedBody("db-two", DemoSpaceGUID, DBSmallPlanGUID, nil)),
		400, "CF-ServiceInstanceSpaceQuotaExceeded", 60012, "You have exceeded your space's services limit.")
	// User-provided instances do not count.
	c.must(201, "POST", "/v3/service_instances", "developer", map[string]any{"type": "user-provided", "name": "ups",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": DemoSpaceGUID}}}})

	// Raised, everything goes through.
	c.must(200, "PATCH", "/v3/space_quotas/"+sq.GUID, "admin", map[string]any{"apps": map[string]any{"total_memory_in_mb": 4096},
		"routes": map[string]any{"total_routes": nil}, "services": map[string]any{"total_service_instances": 5}})
	c.must(200, "PATCH", "/v3/organization_quotas/"+oq.GUID, "admin", map[string]any{"apps": map[string]any{"total_memory_in_mb": 8192}})
	c.must(202, "POST", "/v3/apps/"+small+"/processes/web/actions/scale", "developer", map[string]int{"instances": 3})
	c.must(200, "POST", "/v3/apps/"+big+"/actions/start", "developer", nil)
	c.must(202, "POST", "/v3/apps/"+elsewhere+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 1024})
	c.must(201, "POST", "/v3/routes", "developer", routeBody("second", "", DemoSpaceGUID, SharedDomainGUID))
	c.must(202, "POST", "/v3/service_instances", "developer", managedBody("db-two", DemoSpaceGUID, DBSmallPlanGUID, nil))
}

// TestQuotaEnforcementLimits: per-process memory and instance totals of
// both quotas, the org's routes, paid plans and service keys.
func TestQuotaEnforcementLimits(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil, WithBrokerDuration(0))
	var oq orgQuotaJSON
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "tight",
		"apps":          map[string]any{"per_process_memory_in_mb": 1024, "total_instances": 4},
		"routes":        map[string]any{"total_routes": 1},
		"services":      map[string]any{"paid_services_allowed": false, "total_service_keys": 1},
		"relationships": map[string]any{"organizations": map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}}}).json(t, &oq)
	var sq spaceQuotaJSON
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "tighter",
		"apps": map[string]any{"per_process_memory_in_mb": 512, "total_instances": 2},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}},
			"spaces": map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}}}).json(t, &sq)
	unprocessable := func(r resp, detail string) { t.Helper(); quotaErr(t, r, 422, "CF-UnprocessableEntity", 10008, detail) }

	a := c.createAppIn("admin", DemoSpaceGUID, "a", nil)
	c.giveDroplet(a)
	c.must(202, "POST", "/v3/apps/"+a+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 2048, "instances": 5})
	unprocessable(c.do("POST", "/v3/apps/"+a+"/actions/start", "developer", nil),
		"memory instance_memory_limit_exceeded, memory space_instance_memory_limit_exceeded, "+
			"app_instance_limit app_instance_limit_exceeded, app_instance_limit space_app_instance_limit_exceeded")
	c.must(202, "POST", "/v3/apps/"+a+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 768, "instances": 3})
	unprocessable(c.do("POST", "/v3/apps/"+a+"/actions/start", "developer", nil),
		"memory space_instance_memory_limit_exceeded, app_instance_limit space_app_instance_limit_exceeded")
	c.must(202, "POST", "/v3/apps/"+a+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": 512, "instances": 2})
	c.must(200, "POST", "/v3/apps/"+a+"/actions/start", "developer", nil)
	c.must(200, "POST", "/v3/apps/"+a+"/actions/restart", "developer", nil)

	// The org's one route; the space quota leaves routes unlimited.
	c.must(201, "POST", "/v3/routes", "developer", routeBody("first", "", DemoSpaceGUID, SharedDomainGUID))
	unprocessable(c.do("POST", "/v3/routes", "developer", routeBody("second", "", DemoSpaceGUID, SharedDomainGUID)),
		"Routes quota exceeded for organization '"+DemoOrgName+"'.")

	// Paid plans, and one key for the org.
	quotaErr(t, c.do("POST", "/v3/service_instances", "developer", managedBody("paid", DemoSpaceGUID, DBLargePlanGUID, nil)),
		400, "CF-ServiceInstanceServicePlanNotAllowed", 60007, "The service instance cannot be created because paid service plans are not allowed.")
	c.must(200, "PATCH", "/v3/space_quotas/"+sq.GUID, "admin", map[string]any{"services": map[string]any{"paid_services_allowed": false}})
	quotaErr(t, c.do("POST", "/v3/service_instances", "developer", managedBody("paid", DemoSpaceGUID, DBLargePlanGUID, nil)),
		400, "CF-ServiceInstanceServicePlanNotAllowedBySpaceQuota", 60013,
		"The service instance cannot be created because paid service plans are not allowed for your space.")
	r := c.must(202, "POST", "/v3/service_instances", "developer", managedBody("free", DemoSpaceGUID, DBSmallPlanGUID, nil))
	si := c.created(r, "developer")
	c.waitJob(r.header["Location"], "developer")
	key := func(name string) map[string]any {
		return map[string]any{"type": "key", "name": name,
			"relationships": map[string]any{"service_instance": map[string]any{"data": map[string]string{"guid": si}}}}
	}
	c.must(202, "POST", "/v3/service_credential_bindings", "developer", key("k1"))
	unprocessable(c.do("POST", "/v3/service_credential_bindings", "developer", key("k2")),
		"You have exceeded your organization's limit for service binding of type key.")
	c.must(200, "PATCH", "/v3/space_quotas/"+sq.GUID, "admin", map[string]any{"services": map[string]any{"total_service_keys": 0}})
	unprocessable(c.do("POST", "/v3/service_credential_bindings", "developer", key("k2")),
		"You have exceeded your space's limit for service binding of type key.")
	c.must(200, "PATCH", "/v3/space_quotas/"+sq.GUID, "admin", map[string]any{"services": map[string]any{"total_service_keys": nil}})
	c.must(200, "PATCH", "/v3/organization_quotas/"+oq.GUID, "admin", map[string]any{"services": map[string]any{"total_service_keys": nil}})
	c.must(202, "POST", "/v3/service_credential_bindings", "developer", key("k2"))

	// A log rate quota: no unlimited process, and no more than it allows.
	var logs spaceJSON
	c.must(201, "POST", "/v3/spaces", "admin", map[string]any{"name": "logs",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}}).json(t, &logs)
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "quiet", "apps": map[string]any{"log_rate_limit_in_bytes_per_second": 1000},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}},
			"spaces": map[string]any{"data": []map[string]string{{"guid": logs.GUID}}}}})
	loud := c.createAppIn("admin", logs.GUID, "loud", nil)
	c.giveDroplet(loud)
	unprocessable(c.do("POST", "/v3/apps/"+loud+"/actions/start", "admin", nil), "log_rate_limit cannot be unlimited in space 'logs'.")
	c.must(202, "POST", "/v3/apps/"+loud+"/processes/web/actions/scale", "admin", map[string]int{"log_rate_limit_in_bytes_per_second": 600, "instances": 2,
		"memory_in_mb": 256})
	unprocessable(c.do("POST", "/v3/apps/"+loud+"/actions/start", "admin", nil), "log_rate_limit exceeds space log rate quota")
	c.must(202, "POST", "/v3/apps/"+loud+"/processes/web/actions/scale", "admin", map[string]int{"instances": 1})
	c.must(200, "POST", "/v3/apps/"+loud+"/actions/start", "admin", nil)
	unprocessable(c.do("POST", "/v3/apps/"+loud+"/processes/web/actions/scale", "admin", map[string]int{"log_rate_limit_in_bytes_per_second": 1001}),
		"log_rate_limit exceeds space log rate quota")
}

// TestStagingQuota: POST /v3/builds checks the staging memory and log rate
// against the space's and the org's remaining, as BuildCreate does: the
// web process's memory or the requested one, unchecked below the minimum
// staging memory, with BuildsController#create's texts.
func TestStagingQuota(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	unprocessable := func(r resp, detail string) { t.Helper(); quotaErr(t, r, 422, "CF-UnprocessableEntity", 10008, detail) }
	c.must(201, "POST", "/v3/space_quotas", "admin", map[string]any{"name": "half-gig",
		"apps": map[string]any{"total_memory_in_mb": 512, "log_rate_limit_in_bytes_per_second": 1000},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}},
			"spaces": map[string]any{"data": []map[string]string{{"guid": DemoSpaceGUID}}}}})
	var free spaceJSON
	c.must(201, "POST", "/v3/spaces", "admin", map[string]any{"name": "unlimited",
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": DemoOrgGUID}}}}).json(t, &free)
	app := func(space, name string, memory int) (string, string) {
		t.Helper()
		guid := c.createAppIn("admin", space, name, nil)
		c.must(202, "POST", "/v3/apps/"+guid+"/processes/web/actions/scale", "admin", map[string]int{"memory_in_mb": memory})
		return guid, c.readyPackage("admin", guid, zipFile{name: "index.html", body: "hi"})
	}
	build := func(user, pkg string, extra map[string]any) resp {
		body := map[string]any{"package": map[string]string{"guid": pkg}}
		maps.Copy(body, extra)
		return c.do("POST", "/v3/builds", user, body)
	}

	// The web process's 2048 MB, past the space's 512 MB (and the org's
	// default quota has room); the same asked for in the body.
	_, bigPkg := app(DemoSpaceGUID, "big", 2048)
	unprocessable(build("developer", bigPkg, nil), "space's memory limit exceeded: staging requires 2048M memory")
	_, smallPkg := app(DemoSpaceGUID, "small", 256)
	unprocessable(build("developer", smallPkg, map[string]any{"staging_memory_in_mb": 1024}), "space's memory limit exceeded: staging requires 1024M memory")
	// Below the minimum: 1024 MB, unchecked.
	r := c.mustStatus(201, build("developer", smallPkg, nil))
	if got := rawAt(t, r.body, "staging_memory_in_mb"); got != "1024" {
		t.Errorf("staging_memory_in_mb %s, want 1024", got)
	}
	// The space's log rate: the web process's unlimited rate asks for -1,
	// which any remaining allows; more than 1000 bytes per second does not.
	_, pkg := app(DemoSpaceGUID, "loud", 256)
	unprocessable(build("developer", pkg, map[string]any{"staging_log_rate_limit_bytes_per_second": 1001}),
		"space's log rate limit exceeded: staging requires 1001 bytes per second")

	// The org's 2048 MB less a started 512 MB app leave 1536 MB.
	c.must(201, "POST", "/v3/organization_quotas", "admin", map[string]any{"name": "two-gig",
		"apps":          map[string]any{"total_memory_in_mb": 2048, "log_rate_limit_in_bytes_per_second": 500},
		"relationships": map[string]any{"organizations": map[string]any{"data": []map[string]string{{"guid": DemoOrgGUID}}}}})
	running := c.createAppIn("admin", free.GUID, "running", nil)
	c.giveDroplet(running)
	c.must(202, "POST", "/v3/apps/"+running+"/processes/web/actions/scale", "admin",
		map[string]int{"memory_in_mb": 512, "log_rate_limit_in_bytes_per_second": 100})
	c.must(200, "POST", "/v3/apps/"+running+"/actions/start", "admin", nil)
	_, orgPkg := app(free.GUID, "org-bound", 2048)
	unprocessable(build("admin", orgPkg, nil), "organization's memory limit exceeded: staging requires 2048M memory")
	unprocessable(build("admin", orgPkg, map[string]any{"staging_memory_in_mb": 1537}), "organization's memory limit exceeded: staging requires 1537M memory")
	// The org's 500 bytes per second less the started app's 100.
	unprocessable(build("admin", orgPkg, map[string]any{"staging_memory_in_mb": 1536, "staging_log_rate_limit_bytes_per_second": 401}),
		"organization's log rate limit exceeded: staging requires 401 bytes per second")
	r = c.mustStatus(201, build("admin", orgPkg, map[string]any{"staging_memory_in_mb": 1536, "staging_log_rate_limit_bytes_per_second": 400}))
	if got := rawAt(t, r.body, "staging_memory_in_mb"); got != "1536" {
		t.Errorf("staging_memory_in_mb %s, want 1536", got)
	}
}
