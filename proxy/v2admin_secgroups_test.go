package proxy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
)

// go-cfclient's security group functions through the gateway
// (MAPPING-orgs §12.7, §11.4): create bound to a space, read by guid and
// by name, the inlined spaces of ListSecGroups, staging and running
// bindings from both sides, the running and staging defaults, update as a
// replacement of the bound spaces, delete, and CC's errors.
func TestV2AdminSecurityGroupsGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	running, err := admin.ListRunningSecGroups()
	if err != nil || len(running) == 0 || !running[0].Running {
		t.Fatalf("ListRunningSecGroups: %v %+v", err, running)
	}
	rules := []cfclient.SecGroupRule{{Protocol: "tcp", Destination: "10.0.0.0/8", Ports: "443"}}
	sg, err := admin.CreateSecGroup("web", rules, []string{demoSpace})
	if err != nil || sg.Guid == "" || sg.Name != "web" || len(sg.Rules) != 1 || sg.Rules[0].Ports != "443" || sg.Running {
		t.Fatalf("CreateSecGroup: %v %+v", err, sg)
	}
	r := s.do("GET", s.gwURL+"/v2/security_groups/"+sg.Guid, "admin", nil)
	if keys := entityKeys(t, r.body); r.status != 200 || strings.Join(keys, ",") != "name,rules,running_default,staging_default,spaces_url,staging_spaces_url" ||
		!strings.Contains(string(r.body), `"spaces_url":"/v2/security_groups/`+sg.Guid+`/spaces","staging_spaces_url":"/v2/security_groups/`+sg.Guid+`/staging_spaces"}}`) {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	if got, err := admin.GetSecGroupByName("web"); err != nil || got.Guid != sg.Guid {
		t.Errorf("GetSecGroupByName: %v %+v", err, got)
	}
	if got, err := admin.GetSecGroup(sg.Guid); err != nil || got.Name != "web" {
		t.Errorf("GetSecGroup: %v %+v", err, got)
	}
	all, err := admin.ListSecGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range all {
		if g.Guid == sg.Guid {
			found = len(g.SpacesData) == 1 && g.SpacesData[0].Meta.Guid == demoSpace && g.SpacesData[0].Entity.Name != ""
		}
	}
	if !found {
		t.Errorf("ListSecGroups did not inline the space: %+v", all)
	}
	if err := admin.BindStagingSecGroupToSpace(sg.Guid, demoSpace); err != nil {
		t.Errorf("BindStagingSecGroupToSpace: %v", err)
	}
	for _, rel := range []string{"spaces", "staging_spaces"} {
		r := s.do("GET", s.gwURL+"/v2/security_groups/"+sg.Guid+"/"+rel, "admin", nil)
		if r.status != 200 || listTotal(t, r) != 1 || !strings.Contains(string(r.body), `"url":"/v2/spaces/`+demoSpace+`"`) {
			t.Errorf("%s: %d %s", rel, r.status, r.body)
		}
	}
	spaceGroups := func(rel string) []string {
		t.Helper()
		r := s.do("GET", s.gwURL+"/v2/spaces/"+demoSpace+"/"+rel, "developer", nil)
		var page struct {
			Resources []struct {
				Entity struct{ Name string }
			}
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", rel, r.status, r.body)
		}
		var names []string
		for _, res := range page.Resources {
			names = append(names, res.Entity.Name)
		}
		return names
	}
	if names := spaceGroups("security_groups"); len(names) != len(running)+1 || !slices.Contains(names, "web") {
		t.Errorf("the space's running groups: %v", names)
	}
	if err := admin.UnbindSecGroup(sg.Guid, demoSpace); err != nil {
		t.Errorf("UnbindSecGroup: %v", err)
	}
	if names := spaceGroups("security_groups"); slices.Contains(names, "web") {
		t.Errorf("still bound: %v", names)
	}
	if names := spaceGroups("staging_security_groups"); !slices.Contains(names, "web") {
		t.Errorf("the staging binding went too: %v", names)
	}
	// From the space's side: 201 and the space, then 204.
	r = s.do("PUT", s.gwURL+"/v2/spaces/"+demoSpace+"/security_groups/"+sg.Guid, "admin", nil)
	if r.status != 201 || !strings.HasPrefix(string(r.body), `{"metadata":{"guid":"`+demoSpace+`","url":"/v2/spaces/`+demoSpace+`"`) {
		t.Errorf("PUT space security group: %d %s", r.status, r.body)
	}
	if names := spaceGroups("security_groups"); !slices.Contains(names, "web") {
		t.Errorf("not bound from the space: %v", names)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/spaces/"+demoSpace+"/staging_security_groups/"+sg.Guid, "admin", nil); r.status != 204 {
		t.Errorf("DELETE space staging group: %d %s", r.status, r.body)
	}
	if names := spaceGroups("staging_security_groups"); slices.Contains(names, "web") {
		t.Errorf("still staging: %v", names)
	}
	// The defaults.
	if err := admin.BindRunningSecGroup(sg.Guid); err != nil {
		t.Errorf("BindRunningSecGroup: %v", err)
	}
	r = s.do("GET", s.gwURL+"/v2/config/running_security_groups", "developer", nil)
	if keys := entityKeys(t, r.body); r.status != 200 || !strings.Contains(string(r.body), `"url":"/v2/config/running_security_groups/`+sg.Guid+`"`) ||
		strings.Join(keys, ",") != "name,rules,running_default,staging_default" {
		t.Errorf("running defaults: %d %s", r.status, r.body)
	}
	r = s.do("PUT", s.gwURL+"/v2/config/staging_security_groups/"+sg.Guid, "admin", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"url":"/v2/config/staging_security_groups/`+sg.Guid+`"`) ||
		!strings.Contains(string(r.body), `"running_default":true,"staging_default":true}}`) {
		t.Errorf("PUT staging default: %d %s", r.status, r.body)
	}
	if staging, err := admin.ListStagingSecGroups(); err != nil || !containsGroup(staging, sg.Guid) {
		t.Errorf("ListStagingSecGroups: %v %+v", err, staging)
	}
	if err := admin.UnbindRunningSecGroup(sg.Guid); err != nil {
		t.Errorf("UnbindRunningSecGroup: %v", err)
	}
	if err := admin.UnbindStagingSecGroup(sg.Guid); err != nil {
		t.Errorf("UnbindStagingSecGroup: %v", err)
	}
	if running, err := admin.ListRunningSecGroups(); err != nil || containsGroup(running, sg.Guid) {
		t.Errorf("still a running default: %v", err)
	}
	if err := admin.BindSecGroup(sg.Guid, demoSpace); err != nil {
		t.Errorf("BindSecGroup: %v", err)
	}
	cases := []struct {
		name, method, path, user, body string
		status                         int
		want                           string
	}{
		{"name taken", "POST", "/v2/security_groups", "admin", `{"name":"web"}`, 400,
			`{"description":"The security group name is taken: web","error_code":"CF-SecurityGroupNameTaken","code":300005}`},
		{"unknown group", "GET", "/v2/security_groups/1452e164-0c3e-4a6c-b3c3-c40ad9fd0159", "admin", "", 404,
			`{"description":"The security group could not be found: 1452e164-0c3e-4a6c-b3c3-c40ad9fd0159","error_code":"CF-SecurityGroupNotFound","code":300002}`},
		{"unknown running default", "PUT", "/v2/config/running_security_groups/43e0441d-c9c1-4250-b8d5-7fb624379e02", "admin", "", 400,
			`{"description":"The security group could not be found: 43e0441d-c9c1-4250-b8d5-7fb624379e02","error_code":"CF-SecurityGroupRunningDefaultInvalid","code":300004}`},
		{"unknown staging default", "DELETE", "/v2/config/staging_security_groups/43e0441d-c9c1-4250-b8d5-7fb624379e02", "admin", "", 400,
			`"error_code":"CF-SecurityGroupStagingDefaultInvalid","code":300003}`},
		{"unknown space", "PUT", "/v2/security_groups/" + sg.Guid + "/spaces/3435dd59-f289-4191-83e6-6201d6fb6a22", "admin", "", 400,
			`{"description":"Could not find VCAP::CloudController::Space with guid: 3435dd59-f289-4191-83e6-6201d6fb6a22","error_code":"CF-InvalidRelation","code":1002}`},
		{"unknown group from the space", "PUT", "/v2/spaces/" + demoSpace + "/security_groups/1452e164-0c3e-4a6c-b3c3-c40ad9fd0159", "admin", "", 400,
			`"Could not find VCAP::CloudController::SecurityGroup with guid: 1452e164-0c3e-4a6c-b3c3-c40ad9fd0159"`},
		{"rules not hashes", "POST", "/v2/security_groups", "admin", `{"name":"x","rules":["tcp"]}`, 400,
			`"Request invalid due to parse error: Field: rules, Error: At index 0: Expected instance of Hash, given an instance of String"`},
		{"bad rule", "POST", "/v2/security_groups", "admin", `{"name":"x","rules":[{"protocol":"nope","destination":"1.2.3.4"}]}`, 400,
			`{"description":"The security group is invalid: rules rule number 1 contains an unsupported protocol","error_code":"CF-SecurityGroupInvalid","code":300001}`},
		{"bad ports", "POST", "/v2/security_groups", "admin", `{"name":"x","rules":[{"protocol":"tcp","destination":"1.2.3.4","ports":"x"}]}`, 400,
			`"The security group is invalid: rules rule number 1 contains invalid ports"`},
		{"a developer creates", "POST", "/v2/security_groups", "developer", `{"name":"mine"}`, 403, `"CF-NotAuthorized"`},
		{"a developer sets a default", "PUT", "/v2/config/running_security_groups/" + sg.Guid, "developer", "", 403, `"CF-NotAuthorized"`},
	}
	for _, tc := range cases {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := s.do(tc.method, s.gwURL+tc.path, tc.user, body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	up, err := admin.UpdateSecGroup(sg.Guid, "web2", rules, []string{})
	if err != nil || up.Name != "web2" {
		t.Fatalf("UpdateSecGroup: %v %+v", err, up)
	}
	if r := s.do("GET", s.gwURL+"/v2/security_groups/"+sg.Guid+"/spaces", "admin", nil); listTotal(t, r) != 0 {
		t.Errorf("space_guids [] left a space bound: %s", r.body)
	}
	if err := admin.DeleteSecGroup(sg.Guid); err != nil {
		t.Fatalf("DeleteSecGroup: %v", err)
	}
	if r := s.do("GET", s.gwURL+"/v2/security_groups/"+sg.Guid, "admin", nil); r.status != 404 {
		t.Errorf("after delete: %d %s", r.status, r.body)
	}
}

func containsGroup(groups []cfclient.SecGroup, guid string) bool {
	for _, g := range groups {
		if g.Guid == guid {
			return true
		}
	}
	return false
}
