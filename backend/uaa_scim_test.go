package backend

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// scimTimes blanks the UAA's millisecond timestamps of a body.
var scimTimes = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)

// TestSCIMUsers: cf create-user's path through the embedded UAA and CC. The
// admin creates a SCIM user, who logs in with its password at once; CC
// knows it only once POST /v3/users names its id; deleting it from the UAA
// leaves CC's user without a username.
func TestSCIMUsers(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	body := map[string]any{"userName": "alice", "password": "s3cret", "origin": "uaa",
		"name": map[string]string{"givenName": "Alice", "familyName": "Liddell"}, "emails": []map[string]any{{"value": "alice@example.org", "primary": true}}}
	r := c.must(201, "POST", "/Users", "admin", body)
	var u struct {
		ID     string `json:"id"`
		Groups []struct{ Value string }
	}
	r.json(t, &u)
	if r.header["Etag"] != `"0"` {
		t.Errorf("ETag %q", r.header["Etag"])
	}
	got := scimTimes.ReplaceAllString(strings.ReplaceAll(string(r.body), u.ID, "ID"), `"T"`)
	for _, g := range u.Groups {
		got = strings.ReplaceAll(got, g.Value, "G")
	}
	want := `{"id":"ID","meta":{"version":0,"created":"T","lastModified":"T"},"userName":"alice",` +
		`"name":{"familyName":"Liddell","givenName":"Alice"},"emails":[{"value":"alice@example.org","primary":false}],` +
		`"groups":[{"value":"G","display":"cloud_controller.read","type":"DIRECT"},{"value":"G","display":"cloud_controller.write","type":"DIRECT"},` +
		`{"value":"G","display":"openid","type":"DIRECT"},{"value":"G","display":"password.write","type":"DIRECT"},{"value":"G","display":"uaa.user","type":"DIRECT"}],` +
		`"approvals":[],"active":true,"verified":true,"origin":"uaa","zoneId":"uaa","passwordLastModified":"T","schemas":["urn:scim:schemas:core:1.0"]}`
	if got != want {
		t.Errorf("created SCIM user\n got %s\nwant %s", got, want)
	}

	// The same username in another case is taken.
	body["userName"] = "Alice"
	r = c.must(409, "POST", "/Users", "admin", body)
	if want := `{"error_description":"Username already in use: alice","error":"scim_resource_already_exists","message":"Username already in use: alice",` +
		`"active":true,"verified":true,"user_id":"` + u.ID + `"}`; string(r.body) != want {
		t.Errorf("409 body %s", r.body)
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"no username", map[string]any{"password": "p", "emails": []map[string]string{{"value": "x@example.org"}}}, 400,
			`{"error_description":"A username must be provided.","error":"invalid_scim_resource","message":"A username must be provided."}`},
		{"no email", map[string]any{"userName": "bob", "password": "p"}, 400,
			`{"error_description":"Exactly one email must be provided.","error":"invalid_scim_resource","message":"Exactly one email must be provided."}`},
		{"no password", map[string]any{"userName": "bob", "emails": []map[string]string{{"value": "bob@example.org"}}}, 400,
			`{"error_description":"Password must be at least 1 characters in length.","error":"invalid_password","message":"Password must be at least 1 characters in length."}`},
	} {
		if r := c.do("POST", "/Users", "admin", tc.body); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	// Without scim.write: UAA's insufficient_scope.
	r = c.must(403, "POST", "/Users", "developer", body)
	if want := `{"error":"insufficient_scope","error_description":"Insufficient scope for this resource","scope":"uaa.admin scim.write zones.uaa.admin"}`; string(r.body) != want {
		t.Errorf("developer's create: %s", r.body)
	}
	c.must(401, "GET", "/Users", "", nil)

	// cf's lookup: filter=userName Eq "alice", attributes id,userName.
	r = c.must(200, "GET", "/Users?attributes=id,userName&filter="+url.QueryEscape(`userName Eq "ALICE"`), "admin", nil)
	if want := `{"resources":[{"id":"` + u.ID + `","userName":"alice"}],"startIndex":1,"itemsPerPage":100,"totalResults":1,"schemas":["urn:scim:schemas:core:1.0"]}`; string(r.body) != want {
		t.Errorf("lookup %s", r.body)
	}
	r = c.must(200, "GET", "/Users?attributes=id&filter="+url.QueryEscape(`userName eq "alice" and origin eq "uaa" or id eq "`+AdminUserGUID+`"`)+"&count=1&startIndex=2", "admin", nil)
	if want := `{"resources":[{"id":"` + u.ID + `"}],"startIndex":2,"itemsPerPage":1,"totalResults":2,"schemas":["urn:scim:schemas:core:1.0"]}`; string(r.body) != want {
		t.Errorf("paged lookup %s", r.body)
	}
	r = c.must(400, "GET", "/Users?filter="+url.QueryEscape(`userName gt "a"`), "admin", nil)
	if want := `{"error_description":"Invalid filter expression: [userName gt \"a\"] [created]","error":"scim","message":"Invalid filter expression: [userName gt \"a\"] [created]"}`; string(r.body) != want {
		t.Errorf("bad filter %s", r.body)
	}

	// Alice logs in; CC does not know her until a call of hers or the
	// admin's POST /v3/users.
	tok := c.login("alice", "s3cret", nil)
	c.tokens["alice"] = tok.AccessToken
	if r := c.uaa(uaaReqPassword("alice", "alice")); r.status != 401 {
		t.Errorf("a wrong password: %d", r.status)
	}
	c.must(404, "GET", "/v3/users/"+u.ID, "admin", nil)
	r = c.must(201, "POST", "/v3/users", "admin", map[string]string{"guid": u.ID})
	var cu userJSON
	r.json(t, &cu)
	if cu.Username == nil || *cu.Username != "alice" || cu.Origin == nil || *cu.Origin != "uaa" || cu.PresentationName != "alice" {
		t.Errorf("CC's user %s", r.body)
	}
	c.must(200, "GET", "/v3/organizations", "alice", nil)
	c.must(200, "GET", "/v3/users/"+u.ID, "alice", nil)
	// As CC does for every token it accepts, a user's first call makes it
	// a CC user: bob lists orgs, and CC knows him.
	var bob struct {
		ID string `json:"id"`
	}
	c.must(201, "POST", "/Users", "admin", map[string]any{"userName": "bob", "password": "pw", "emails": []map[string]string{{"value": "bob@example.org"}}}).json(t, &bob)
	c.tokens["bob"] = c.login("bob", "pw", nil).AccessToken
	c.must(404, "GET", "/v3/users/"+bob.ID, "admin", nil)
	c.must(200, "GET", "/v3/organizations", "bob", nil)
	c.must(200, "GET", "/v3/users/"+bob.ID, "admin", nil)
	roleWant{status: 422, title: "CF-UnprocessableEntity", code: 10008, detail: "User with guid '" + bob.ID + "' already exists."}.
		assert(t, c.do("POST", "/v3/users", "admin", map[string]string{"guid": bob.ID}))
	var own struct{ Resources []userJSON }
	c.must(200, "GET", "/v3/users", "bob", nil).json(t, &own)
	if len(own.Resources) != 1 || own.Resources[0].PresentationName != "bob" {
		t.Errorf("bob sees %+v", own.Resources)
	}

	// GET and DELETE /Users/:id; CC's user stays, nameless.
	c.must(200, "GET", "/Users/"+u.ID, "admin", nil)
	c.must(200, "DELETE", "/Users/"+u.ID, "admin", nil)
	r = c.must(404, "GET", "/Users/"+u.ID, "admin", nil)
	if want := `{"error_description":"User ` + u.ID + ` does not exist","error":"scim_resource_not_found","message":"User ` + u.ID + ` does not exist"}`; string(r.body) != want {
		t.Errorf("missing user %s", r.body)
	}
	c.must(200, "GET", "/v3/users/"+u.ID, "admin", nil).json(t, &cu)
	if cu.Username != nil || cu.Origin != nil || cu.PresentationName != u.ID {
		t.Errorf("CC's user after the UAA's delete: %+v", cu)
	}
	if r := c.uaa(uaaReqPassword("alice", "s3cret")); r.status != 401 {
		t.Errorf("a deleted user logs in: %d", r.status)
	}
}

// TestSCIMUserCreatesOrg: with user_org_creation on, a user made in the
// UAA alone creates an org on its first call and manages it, CC having
// made it a user when it accepted its token.
func TestSCIMUserCreatesOrg(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil, WithFeatureFlag("user_org_creation", true))
	var carol struct {
		ID string `json:"id"`
	}
	c.must(201, "POST", "/Users", "admin", map[string]any{"userName": "carol", "password": "pw",
		"emails": []map[string]string{{"value": "carol@example.org"}}}).json(t, &carol)
	c.tokens["carol"] = c.login("carol", "pw", nil).AccessToken
	var org struct{ GUID string }
	c.must(201, "POST", "/v3/organizations", "carol", map[string]any{"name": "carols-org"}).json(t, &org)
	var roles struct {
		Resources []struct {
			Type          string
			Relationships struct {
				User struct{ Data struct{ GUID string } }
			}
		}
	}
	c.must(200, "GET", "/v3/roles?organization_guids="+org.GUID+"&order_by=created_at", "admin", nil).json(t, &roles)
	var got []string
	for _, r := range roles.Resources {
		if r.Relationships.User.Data.GUID == carol.ID {
			got = append(got, r.Type)
		}
	}
	if want := []string{"organization_user", "organization_manager"}; !slices.Equal(got, want) {
		t.Errorf("carol's roles in her org %v, want %v", got, want)
	}
	c.must(200, "GET", "/v3/organizations/"+org.GUID, "carol", nil)
}
