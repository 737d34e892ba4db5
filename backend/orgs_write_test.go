package backend

import (
	"strings"
	"testing"
)

// orgCreated is what the org writes answer.
type orgCreated struct {
	GUID          string
	Name          string
	Suspended     bool
	Relationships struct {
		Quota struct {
			Data struct{ GUID string }
		}
	}
	Metadata struct {
		Labels map[string]string
	}
}

// countEvents counts the audit events of type about target.
func countEvents(c *cf, typ, target string) int {
	c.t.Helper()
	var l struct{ Resources []struct{ GUID string } }
	c.must(200, "GET", "/v3/audit_events?types="+typ+"&target_guids="+target, "admin", nil).json(c.t, &l)
	return len(l.Resources)
}

// roleTypesOf lists the role types user holds in org.
func roleTypesOf(c *cf, user, org string) []string {
	c.t.Helper()
	types, err := c.srv.Store().RolesIn(c.t.Context(), user, org, "")
	if err != nil {
		c.t.Fatal(err)
	}
	return types
}

func TestCreateOrg(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var o orgCreated
	c.must(201, "POST", "/v3/organizations", "admin", map[string]any{"name": "made", "metadata": map[string]any{"labels": map[string]string{"env": "x"}}}).json(t, &o)
	if o.Name != "made" || o.Suspended || o.Relationships.Quota.Data.GUID != DemoQuotaGUID || o.Metadata.Labels["env"] != "x" {
		t.Errorf("created %+v", o)
	}
	c.must(200, "GET", "/v3/organizations/"+o.GUID, "admin", nil)
	if n := countEvents(c, "audit.organization.create", o.GUID); n != 1 {
		t.Errorf("%d create events", n)
	}
	// An admin creator gets no role.
	if roles := roleTypesOf(c, AdminUserGUID, o.GUID); len(roles) != 0 {
		t.Errorf("admin roles %v", roles)
	}
	var sus orgCreated
	c.must(201, "POST", "/v3/organizations", "admin", map[string]any{"name": "frozen", "suspended": true}).json(t, &sus)
	if !sus.Suspended {
		t.Error("suspended org created active")
	}
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		name, user string
		body       any
		want       roleWant
	}{
		{"developer, flag off", "developer", map[string]any{"name": "mine"}, roleNotAuthorized},
		{"developer, bad body, flag off", "developer", map[string]any{"nope": 1}, roleNotAuthorized},
		{"name taken", "admin", map[string]any{"name": "MADE"}, roleUnprocessable("Organization 'MADE' already exists.")},
		{"no name", "admin", map[string]any{}, roleUnprocessable("Name can't be blank")},
		{"empty name", "admin", map[string]any{"name": ""},
			roleUnprocessable("Name is too short (minimum is 1 character), Name must not contain escaped characters, Name can't be blank")},
		{"long name", "admin", map[string]any{"name": long}, roleUnprocessable("Name is too long (maximum is 255 characters)")},
		{"escaped name", "admin", map[string]any{"name": "a\tb"}, roleUnprocessable("Name must not contain escaped characters")},
		{"number name", "admin", map[string]any{"name": 5}, roleUnprocessable("Name must be a string")},
		{"suspended not boolean", "admin", map[string]any{"name": "x", "suspended": "yes"}, roleUnprocessable("Suspended must be a boolean")},
		{"unknown key", "admin", map[string]any{"name": "x", "quota": 1}, roleUnprocessable("Unknown field(s): 'quota'")},
		{"bad label", "admin", map[string]any{"name": "x", "metadata": map[string]any{"labels": map[string]string{"a b": "c"}}},
			roleUnprocessable("Metadata label key error: 'a b' contains invalid characters")},
		{"not json", "admin", "{", roleWant{status: 400, title: "CF-MessageParseError", code: 1001, detail: "Request invalid due to parse error: invalid request body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, roleView(c, t).do("POST", "/v3/organizations", tc.user, tc.body))
		})
	}
}

// With user_org_creation on, anyone may create an org, and becomes its
// user and manager; only an admin may create it suspended.
func TestCreateOrgByUser(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil, WithFeatureFlag("user_org_creation", true))
	c.must(200, "GET", "/v3/feature_flags/user_org_creation", "developer", nil)
	var o orgCreated
	c.must(201, "POST", "/v3/organizations", "developer", map[string]any{"name": "devs"}).json(t, &o)
	got := strings.Join(roleTypesOf(c, DeveloperGUID, o.GUID), ",")
	if !strings.Contains(got, "organization_user") || !strings.Contains(got, "organization_manager") || len(roleTypesOf(c, DeveloperGUID, o.GUID)) != 2 {
		t.Errorf("creator's roles %s", got)
	}
	if n := countEvents(c, "audit.user.organization_manager_add", DeveloperGUID); n != 1 {
		t.Errorf("%d manager role events", n)
	}
	// The creator sees the org and, as its manager, may rename it.
	c.must(200, "GET", "/v3/organizations/"+o.GUID, "developer", nil)
	c.must(200, "PATCH", "/v3/organizations/"+o.GUID, "developer", map[string]any{"name": "devs2"})
	roleNotAuthorized.assert(t, c.do("POST", "/v3/organizations", "auditor", map[string]any{"name": "cold", "suspended": true}))
	c.must(201, "POST", "/v3/organizations", "auditor", map[string]any{"name": "warm", "suspended": false})
}

func TestUpdateOrg(t *testing.T) {
	t.Parallel()
	c := roleWriteFixture(t)
	c.addManager(DemoOrgGUID, roleSuspendedOrgGUID)
	c.must(201, "POST", "/v3/organizations", "admin", map[string]any{"name": "taken"})
	path := "/v3/organizations/" + DemoOrgGUID
	var o orgCreated
	c.must(200, "PATCH", path, "manager", map[string]any{"name": "renamed", "metadata": map[string]any{"labels": map[string]string{"a": "b"}}}).json(t, &o)
	if o.Name != "renamed" || o.Metadata.Labels["a"] != "b" {
		t.Errorf("updated %+v", o)
	}
	if n := countEvents(c, "audit.organization.update", DemoOrgGUID); n != 1 {
		t.Errorf("%d update events", n)
	}
	var cleared orgCreated
	c.must(200, "PATCH", path, "manager", map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": nil}}}).json(t, &cleared)
	if len(cleared.Metadata.Labels) != 0 || cleared.Name != "renamed" {
		t.Errorf("after removing the label %+v", cleared)
	}
	// A manager may say suspended: false, not true.
	c.must(200, "PATCH", path, "manager", map[string]any{"suspended": false})
	for _, tc := range []struct {
		name, user, path string
		body             any
		want             roleWant
	}{
		{"manager suspends", "manager", path, map[string]any{"suspended": true}, roleNotAuthorized},
		{"name taken", "admin", path, map[string]any{"name": "TAKEN"}, roleUnprocessable("Organization name 'TAKEN' is already taken.")},
		{"empty name", "admin", path, map[string]any{"name": ""},
			roleUnprocessable("Name is too short (minimum is 1 character), Name must not contain escaped characters")},
		{"unknown key", "admin", path, map[string]any{"quota": "x"}, roleUnprocessable("Unknown field(s): 'quota'")},
		{"developer", "developer", path, map[string]any{"name": "x"}, roleNotAuthorized},
		{"outsider", "outsider", path, map[string]any{"name": "x"}, roleNotFound("Organization")},
		{"missing", "admin", "/v3/organizations/" + roleMissingGUID, map[string]any{}, roleNotFound("Organization")},
		{"manager of a suspended org", "manager", "/v3/organizations/" + roleSuspendedOrgGUID, map[string]any{"name": "x"}, roleOrgSuspended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.assert(t, roleView(c, t).do("PATCH", tc.path, tc.user, tc.body))
		})
	}
	// The admin may unsuspend, and suspend.
	c.must(200, "PATCH", "/v3/organizations/"+roleSuspendedOrgGUID, "admin", map[string]any{"suspended": false}).json(t, &o)
	if o.Suspended {
		t.Error("still suspended")
	}
	c.must(200, "PATCH", "/v3/organizations/"+roleSuspendedOrgGUID, "manager", map[string]any{"name": "thawed"})
}
