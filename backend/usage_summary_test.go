package backend

import "testing"

// TestUsageSummary: the org's and the space's usage count the instances
// and memory of started apps only, routes, reserved ports, the org's own
// domains and managed instances only (no tasks in the embedded CF).
func TestUsageSummary(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	started := c.createApp("developer", "counted", nil)
	c.giveDroplet(started)
	c.must(202, "POST", "/v3/apps/"+started+"/processes/web/actions/scale", "developer", map[string]any{"instances": 2, "memory_in_mb": 256})
	c.must(200, "POST", "/v3/apps/"+started+"/actions/start", "developer", nil)
	c.createApp("developer", "stopped", nil)
	c.tcpRoute(c.tcpDomain("tcp.example.org"), nil)
	c.must(201, "POST", "/v3/routes", "developer", routeBody("www", "", DemoSpaceGUID, SharedDomainGUID))
	c.must(201, "POST", "/v3/domains", "admin", privateDomainBody("corp.example.org", DemoOrgGUID))
	c.must(201, "POST", "/v3/service_instances", "developer", upsiBody("ups", DemoSpaceGUID, nil))

	org := "http://api.example.org/v3/organizations/" + DemoOrgGUID
	usage := `{"usage_summary":{"started_instances":2,"memory_in_mb":512,"routes":2,"service_instances":0,"reserved_ports":1,"domains":1,` +
		`"per_app_tasks":0,"service_keys":0},"links":`
	c.must(200, "GET", "/v3/organizations/"+DemoOrgGUID+"/usage_summary", "auditor", nil).
		exactly(t, usage+`{"self":{"href":"`+org+`/usage_summary"},"organization":{"href":"`+org+`"}}}`)
	space := "http://api.example.org/v3/spaces/" + DemoSpaceGUID
	c.must(200, "GET", "/v3/spaces/"+DemoSpaceGUID+"/usage_summary", "developer", nil).
		exactly(t, usage+`{"self":{"href":"`+space+`/usage_summary"},"space":{"href":"`+space+`"}}}`)

	c.addOtherSpace()
	other := "http://api.example.org/v3/spaces/" + otherSpaceGUID
	c.must(200, "GET", "/v3/spaces/"+otherSpaceGUID+"/usage_summary", "admin", nil).
		exactly(t, `{"usage_summary":{"started_instances":0,"memory_in_mb":0,"routes":0,"service_instances":0,"reserved_ports":0,"domains":0,`+
			`"per_app_tasks":0,"service_keys":0},"links":{"self":{"href":"`+other+`/usage_summary"},"space":{"href":"`+other+`"}}}`)
	roleNotFound("Space").assert(t, c.do("GET", "/v3/spaces/"+otherSpaceGUID+"/usage_summary", "developer", nil))
}
