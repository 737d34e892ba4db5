package proxy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/internal/jsonshape"
)

// The reference bodies the role changes answer with (copies of
// shared/reference/v2 in the translate package's testdata).
const (
	orgShapeRef   = "../translate/testdata/reference/organization_with_isolation_segment.current-shape.json"
	spaceShapeRef = "../translate/testdata/reference/space_with_quota_and_isolation_segment.current-shape.json"
	userShapeRef  = "../translate/testdata/reference/user.json"
)

// The keys that come and go with the state of a resource: a segment, a
// space quota, a default space, a UAA username, the roles of user_roles.
var (
	orgOptional   = []string{"isolation_segment_url"}
	spaceOptional = []string{"isolation_segment_url", "space_quota_definition_url"}
	userOptional  = []string{"default_space_url", "username", "space_roles", "organization_roles"}
)

// sameShape checks that the resource at the dotted path at of body
// ("" or "resources.0") has the keys of the one at refAt of the reference
// body in ref, in their order, in itself, its metadata and its entity; the
// optional keys may be in either.
func sameShape(t *testing.T, what string, body []byte, at, ref, refAt string, optional ...string) {
	t.Helper()
	want, err := os.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonshape.Parse(body)
	if err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	wantShape, err := jsonshape.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(s *jsonshape.Shape, path string) (out string) {
		defer func() {
			if recover() != nil {
				out = "(no " + path + ")"
			}
		}()
		var ks []string
		for _, k := range s.At(path).Keys {
			if !slices.Contains(optional, k) {
				ks = append(ks, k)
			}
		}
		return strings.Join(ks, ",")
	}
	under := func(base, p string) string {
		if base == "" || p == "" {
			return base + p
		}
		return base + "." + p
	}
	for _, p := range []string{"", "metadata", "entity"} {
		if g, w := keys(got, under(at, p)), keys(wantShape, under(refAt, p)); g != w {
			t.Errorf("%s: the keys of %q\n got %s\nwant %s", what, under(at, p), g, w)
		}
	}
}

// roleParent is the v3 roles filter and relationship of a role type's
// parent.
func roleParent(typ string) (filter, relationship string) {
	if strings.HasPrefix(typ, "space_") {
		return "space_guids", "space"
	}
	return "organization_guids", "organization"
}

// holds reports whether the embedded CF gives user the role typ in the
// org or space parent.
func (s *stack) holds(t *testing.T, typ, user, parent string) bool {
	t.Helper()
	filter, _ := roleParent(typ)
	var p struct {
		Pagination struct {
			TotalResults int `json:"total_results"`
		} `json:"pagination"`
	}
	if st := s.v3JSON(t, "/v3/roles?types="+typ+"&user_guids="+user+"&"+filter+"="+parent, &p); st != 200 {
		t.Fatalf("v3 roles: %d", st)
	}
	return p.Pagination.TotalResults > 0
}

// grant gives user the role typ in parent straight at the embedded CF.
func (s *stack) grant(t *testing.T, typ, user, parent string) {
	t.Helper()
	_, rel := roleParent(typ)
	s.v3Create(t, "admin", "/v3/roles", fmt.Sprintf(`{"type":%q,"relationships":{"user":{"data":{"guid":%q}},%q:{"data":{"guid":%q}}}}`,
		typ, user, rel, parent))
}

// roleCase is one role change through the gateway: the role granted
// first when set, the request, and what must follow.
type roleCase struct {
	name, user, method, path, body string
	granted                        string // a v3 role type given to user beforehand
	status                         int
	typ                            string // the role type checked afterwards
	held                           bool
	ref                            string // the reference body of a 200 or 201
	optional                       []string
}

// runRoleCases makes each change as admin on parent and checks its
// answer, its shape, and the role in the embedded CF.
func (s *stack) runRoleCases(t *testing.T, parent string, cases []roleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.granted != "" {
				s.grant(t, tc.granted, tc.user, parent)
			}
			r := s.do(tc.method, s.gwURL+tc.path, "admin", bodyOf(tc.body))
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.ref != "" {
				sameShape(t, tc.name, r.body, "", tc.ref, "", tc.optional...)
				if !strings.Contains(string(r.body), `"guid":"`+parent+`"`) {
					t.Errorf("not the parent: %s", r.body)
				}
			} else if len(r.body) != 0 {
				t.Errorf("a body: %s", r.body)
			}
			if got := s.holds(t, tc.typ, tc.user, parent); got != tc.held {
				t.Errorf("%s held %v, want %v", tc.typ, got, tc.held)
			}
		})
	}
}

// bodyOf is a request body, nil for none.
func bodyOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// postV2 creates a v2 resource through the gateway as user and returns
// its guid.
func (s *stack) postV2(t *testing.T, user, path, body string) string {
	t.Helper()
	r := s.do("POST", s.gwURL+path, user, []byte(body))
	if r.status != 201 {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	return guidIn(t, r.body)
}

// The org role changes of MAPPING-orgs §11.2.6: by username, PUT answers
// 201 and the org, DELETE and POST …/remove 204 with no body
// (OrganizationsController#remove_<role>_by_username); by guid DELETE
// answers 204.
func TestV2CoverageOrgRoles(t *testing.T) {
	s := startStack(t, nil)
	org := s.postV2(t, "admin", "/v2/organizations", `{"name":"cov-roles"}`)
	base := "/v2/organizations/" + org
	out, dev := backend.OutsiderGUID, backend.DeveloperGUID
	s.runRoleCases(t, org, []roleCase{
		{name: "users DELETE by name", user: out, granted: "organization_user", method: "DELETE", path: base + "/users",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_user"},
		{name: "users remove", user: out, granted: "organization_user", method: "POST", path: base + "/users/remove",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_user"},
		{name: "managers remove", user: dev, granted: "organization_manager", method: "POST", path: base + "/managers/remove",
			body: `{"username":"developer"}`, status: 204, typ: "organization_manager"},
		{name: "auditors DELETE by name", user: out, granted: "organization_auditor", method: "DELETE", path: base + "/auditors",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_auditor"},
		{name: "auditors remove", user: out, granted: "organization_auditor", method: "POST", path: base + "/auditors/remove",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_auditor"},
		{name: "billing_managers PUT by name", user: out, method: "PUT", path: base + "/billing_managers",
			body: `{"username":"outsider"}`, status: 201, typ: "organization_billing_manager", held: true, ref: orgShapeRef, optional: orgOptional},
		{name: "billing_managers PUT by name again", user: out, method: "PUT", path: base + "/billing_managers",
			body: `{"username":"outsider"}`, status: 201, typ: "organization_billing_manager", held: true, ref: orgShapeRef, optional: orgOptional},
		{name: "billing_managers DELETE by name", user: out, method: "DELETE", path: base + "/billing_managers",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_billing_manager"},
		{name: "billing_managers remove", user: out, granted: "organization_billing_manager", method: "POST", path: base + "/billing_managers/remove",
			body: `{"username":"outsider"}`, status: 204, typ: "organization_billing_manager"},
		{name: "billing_managers DELETE by guid", user: out, granted: "organization_billing_manager", method: "DELETE",
			path: base + "/billing_managers/" + out, status: 204, typ: "organization_billing_manager"},
	})

	// Refusals, in CC's words, change nothing: an unknown org; a user CC
	// does not know, looked up before the org
	// (OrganizationsController#remove_<role>_by_username); a member who
	// manages nothing (OrganizationAccess#update?), also when the user
	// has no such role to remove.
	s.grant(t, "organization_auditor", out, backend.DemoOrgGUID)
	wantError(t, s.do("POST", s.gwURL+"/v2/organizations/nope/managers/remove", "admin", []byte(`{"username":"developer"}`)), 404,
		`{"description":"The organization could not be found: nope","error_code":"CF-OrganizationNotFound","code":30003}`)
	wantError(t, s.do("DELETE", s.gwURL+"/v2/organizations/nope/users", "admin", []byte(`{"username":"nobody"}`)), 404,
		`{"description":"The user could not be found: nobody","error_code":"CF-UserNotFound","code":20003}`)
	demo := "/v2/organizations/" + backend.DemoOrgGUID
	for _, req := range []struct{ method, path, body string }{
		{"POST", demo + "/auditors/remove", `{"username":"outsider"}`},
		{"POST", demo + "/billing_managers/remove", `{"username":"outsider"}`},
		{"DELETE", demo + "/billing_managers", `{"username":"outsider"}`},
		{"DELETE", demo + "/billing_managers/" + out, ""},
	} {
		r := s.do(req.method, s.gwURL+req.path, "developer", bodyOf(req.body))
		if r.status != 403 || !strings.Contains(string(r.body), `"error_code":"CF-NotAuthorized"`) {
			t.Errorf("a member %s %s: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	if !s.holds(t, "organization_auditor", out, backend.DemoOrgGUID) {
		t.Error("a refused removal removed the role")
	}
}

// The space role changes of MAPPING-orgs §11.4 and §11.6: by username,
// DELETE and POST …/remove answer 200 and the space
// (SpacesController#remove_<role>_by_username); by guid DELETE answers
// 204; user_roles lists the members with their roles in CC's order.
func TestV2CoverageSpaceRoles(t *testing.T) {
	s := startStack(t, nil)
	space := s.postV2(t, "admin", "/v2/spaces", `{"name":"cov-space","organization_guid":"`+backend.DemoOrgGUID+`"}`)
	base := "/v2/spaces/" + space
	dev, aud := backend.DeveloperGUID, backend.AuditorGUID
	s.runRoleCases(t, space, []roleCase{
		{name: "developers remove", user: dev, granted: "space_developer", method: "POST", path: base + "/developers/remove",
			body: `{"username":"developer"}`, status: 200, typ: "space_developer", ref: spaceShapeRef, optional: spaceOptional},
		{name: "managers DELETE by name", user: dev, granted: "space_manager", method: "DELETE", path: base + "/managers",
			body: `{"username":"developer"}`, status: 200, typ: "space_manager", ref: spaceShapeRef, optional: spaceOptional},
		{name: "managers remove", user: dev, granted: "space_manager", method: "POST", path: base + "/managers/remove",
			body: `{"username":"developer"}`, status: 200, typ: "space_manager", ref: spaceShapeRef, optional: spaceOptional},
		{name: "managers DELETE by guid", user: dev, granted: "space_manager", method: "DELETE", path: base + "/managers/" + dev,
			status: 204, typ: "space_manager"},
		{name: "auditors remove", user: aud, granted: "space_auditor", method: "POST", path: base + "/auditors/remove",
			body: `{"username":"auditor"}`, status: 200, typ: "space_auditor", ref: spaceShapeRef, optional: spaceOptional},
		{name: "auditors DELETE by guid", user: aud, granted: "space_auditor", method: "DELETE", path: base + "/auditors/" + aud,
			status: 204, typ: "space_auditor"},
	})

	// user_roles: every member once, its roles in the order
	// space_developer, space_manager, space_auditor, whatever the order
	// they were given in.
	s.grant(t, "space_auditor", dev, space)
	s.grant(t, "space_developer", dev, space)
	s.grant(t, "space_manager", aud, space)
	r := s.do("GET", s.gwURL+base+"/user_roles", "auditor", nil)
	if r.status != 200 {
		t.Fatalf("user_roles: %d %s", r.status, r.body)
	}
	sameShape(t, "user_roles", r.body, "resources.0", userShapeRef, "", userOptional...)
	for _, want := range []string{`"total_results":2`, `"username":"developer","space_roles":["space_developer","space_auditor"]`,
		`"username":"auditor","space_roles":["space_manager"]`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("user_roles without %s: %s", want, r.body)
		}
	}

	// Refusals: an unknown space; a space developer and auditor, no
	// manager, removes a manager, or a role its holder lacks
	// (SpaceAccess#update?). The role stays.
	wantError(t, s.do("DELETE", s.gwURL+"/v2/spaces/nope/managers/"+dev, "admin", nil), 404,
		`{"description":"The app space could not be found: nope","error_code":"CF-SpaceNotFound","code":40004}`)
	wantError(t, s.do("GET", s.gwURL+"/v2/spaces/nope/user_roles", "admin", nil), 404,
		`{"description":"The app space could not be found: nope","error_code":"CF-SpaceNotFound","code":40004}`)
	for _, req := range []struct{ method, path, body string }{
		{"DELETE", base + "/managers/" + aud, ""},
		{"POST", base + "/managers/remove", `{"username":"auditor"}`},
		{"DELETE", base + "/auditors/" + aud, ""},
		{"POST", base + "/developers/remove", `{"username":"auditor"}`},
	} {
		r := s.do(req.method, s.gwURL+req.path, "developer", bodyOf(req.body))
		if r.status != 403 || !strings.Contains(string(r.body), `"error_code":"CF-NotAuthorized"`) {
			t.Errorf("a developer %s %s: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	if !s.holds(t, "space_manager", aud, space) {
		t.Error("a refused removal removed the role")
	}
}

// The user's side of roles (MAPPING-orgs §11.5): PUT
// /v2/users/:guid/<relation>/:other answers 201 and the user
// (UsersController#add_organization_role, #add_space_role), DELETE 204
// (the parent's remove_related); the relation lists read the orgs and
// spaces; PUT /v2/users/:guid answers 201 and the user. Admins only add;
// the user itself reads.
func TestV2CoverageUserRoles(t *testing.T) {
	s := startStack(t, nil)
	org := s.postV2(t, "admin", "/v2/organizations", `{"name":"cov-users"}`)
	space := s.postV2(t, "admin", "/v2/spaces", `{"name":"cov-users-space","organization_guid":"`+org+`"}`)
	out := backend.OutsiderGUID
	users := "/v2/users/" + out
	type relation struct {
		name, typ, parent string
		ref               string
		optional          []string
	}
	// The org user role first: the space roles need it.
	relations := []relation{
		{"organizations", "organization_user", org, orgShapeRef, orgOptional},
		{"managed_organizations", "organization_manager", org, orgShapeRef, orgOptional},
		{"billing_managed_organizations", "organization_billing_manager", org, orgShapeRef, orgOptional},
		{"spaces", "space_developer", space, spaceShapeRef, spaceOptional},
		{"managed_spaces", "space_manager", space, spaceShapeRef, spaceOptional},
		{"audited_spaces", "space_auditor", space, spaceShapeRef, spaceOptional},
	}
	for _, rel := range relations {
		r := s.do("PUT", s.gwURL+users+"/"+rel.name+"/"+rel.parent, "admin", nil)
		if r.status != 201 || !strings.Contains(string(r.body), `"username":"outsider"`) {
			t.Fatalf("PUT %s: %d %s", rel.name, r.status, r.body)
		}
		sameShape(t, "PUT "+rel.name, r.body, "", userShapeRef, "", userOptional...)
		if !s.holds(t, rel.typ, out, rel.parent) {
			t.Errorf("PUT %s: no %s role", rel.name, rel.typ)
		}
	}
	// The relation lists, read by the user itself.
	for _, rel := range relations {
		r := s.do("GET", s.gwURL+users+"/"+rel.name, "outsider", nil)
		if got := listGUIDs(t, r); !slices.Equal(got, []string{rel.parent}) {
			t.Errorf("GET %s: %v", rel.name, got)
		}
		sameShape(t, "GET "+rel.name, r.body, "resources.0", rel.ref, "", rel.optional...)
	}
	r := s.do("PUT", s.gwURL+users, "admin", []byte(`{"admin":false}`))
	if r.status != 201 || !strings.Contains(string(r.body), `"guid":"`+out+`"`) {
		t.Errorf("PUT the user: %d %s", r.status, r.body)
	}
	sameShape(t, "PUT the user", r.body, "", userShapeRef, "", userOptional...)

	// Refusals: a non-admin adds (also one v3 hides the user from);
	// another user reads; an org member who manages nothing removes. The
	// roles stay.
	for _, req := range []struct{ method, path, user, body string }{
		{"PUT", users + "/managed_spaces/" + space, "developer", ""},
		{"PUT", "/v2/users/" + backend.AuditorGUID + "/managed_organizations/" + backend.DemoOrgGUID, "developer", ""},
		{"PUT", users, "outsider", "{}"},
		{"GET", "/v2/users/" + backend.AuditorGUID + "/managed_organizations", "developer", ""},
		{"GET", "/v2/users/" + backend.DeveloperGUID + "/audited_spaces", "auditor", ""},
		{"DELETE", "/v2/users/" + backend.DeveloperGUID + "/organizations/" + backend.DemoOrgGUID, "auditor", ""},
	} {
		r := s.do(req.method, s.gwURL+req.path, req.user, bodyOf(req.body))
		if r.status != 403 || !strings.Contains(string(r.body), `"error_code":"CF-NotAuthorized"`) {
			t.Errorf("%s %s as %s: %d %s", req.method, req.path, req.user, r.status, r.body)
		}
	}
	for _, method := range []string{"GET", "PUT"} {
		wantError(t, s.do(method, s.gwURL+"/v2/users/nope/managed_organizations"+map[string]string{"PUT": "/" + org}[method], "admin", nil), 404,
			`{"description":"The user could not be found: nope","error_code":"CF-UserNotFound","code":20003}`)
	}
	if !s.holds(t, "organization_user", backend.DeveloperGUID, backend.DemoOrgGUID) {
		t.Error("a refused removal removed the role")
	}

	// Removals, the space roles before the org user role that v3 keeps
	// while they exist.
	for _, rel := range slices.Backward(relations) {
		if r := s.do("DELETE", s.gwURL+users+"/"+rel.name+"/"+rel.parent, "admin", nil); r.status != 204 || len(r.body) != 0 {
			t.Errorf("DELETE %s: %d %s", rel.name, r.status, r.body)
		}
		if s.holds(t, rel.typ, out, rel.parent) {
			t.Errorf("DELETE %s: the %s role is left", rel.name, rel.typ)
		}
	}
}
