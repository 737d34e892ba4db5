package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// v3's role refusals as v2 answered them (MAPPING-orgs §11.6, §11.8).
func TestRoleWriteError(t *testing.T) {
	cases := []struct {
		status        int
		title, detail string
		name, desc    string
		already       bool
	}{
		{422, "CF-UnprocessableEntity", "User 'dev' already has 'organization_manager' role in organization 'o'.", "", "", true},
		{422, "CF-UnprocessableEntity", "User 'dev' already has 'space_developer' role in space 's'.", "", "", true},
		{422, "CF-UnprocessableEntity", "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
			"InvalidRelation", "u-1", false},
		{422, "CF-UnprocessableEntity", "No user exists with the username 'bob'.", "UserNotFound", "The user could not be found: bob", false},
		{422, "CF-UnprocessableEntity", "No user exists with the username 'bob' and origin 'ldap'.", "UserWithOriginNotFound",
			"The user could not be found, username: 'bob', origin: 'ldap'", false},
		{422, "CF-UnprocessableEntity", "Ambiguous user. User with username 'bob' exists in the following origins: ldap, uaa. Specify an origin to disambiguate.",
			"UserIsInMultipleOrigins", "The user exists in multiple origins. Specify an origin for the requested user from: 'ldap', 'uaa'", false},
		{422, "CF-UnprocessableEntity", "Cannot delete organization_user role while user has roles in spaces in that organization.",
			"AssociationNotEmpty", "Please delete the user associations for your spaces in the org.", false},
		{403, "CF-FeatureDisabled", "Feature Disabled: set_roles_by_username", "FeatureDisabled", "Feature Disabled: set_roles_by_username", false},
		{403, "CF-NotAuthorized", "You are not authorized to perform the requested action", "NotAuthorized",
			"You are not authorized to perform the requested action", false},
	}
	for _, tc := range cases {
		e, already := RoleWriteError(tc.status, tc.title, tc.detail, "u-1")
		if already != tc.already || (e == nil) != (tc.name == "") || e != nil && (e.Name != tc.name || e.Description != tc.desc) {
			t.Errorf("%s: %+v %v", tc.detail, e, already)
		}
	}
	if e, already := RoleWriteError(422, "CF-UnprocessableEntity", "Something else", "u"); e != nil || already {
		t.Errorf("an unknown refusal is left to the caller: %+v", e)
	}
}

// A v2 user has the key order of the reference bodies (user.json, whose
// user has a default space and no username; org_user_roles.json).
func TestUserResourceKeyOrder(t *testing.T) {
	name := "user@example.com"
	var b bytes.Buffer
	if err := AppendUserResource(&b, V3User{GUID: "uaa-id-245", Username: &name}, &UserRoles{Org: []string{"org_user"}}); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "org_user_roles.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Resources []json.RawMessage }
	if err := json.Unmarshal(ref, &list); err != nil || len(list.Resources) == 0 {
		t.Fatal(err)
	}
	if w, g := keysOf(t, list.Resources[0], "entity"), keysOf(t, b.Bytes(), "entity"); w != g {
		t.Errorf("entity keys\n got %s\nwant %s", g, w)
	}
	want := `"entity":{"admin":false,"active":false,"default_space_guid":null,"username":"user@example.com","organization_roles":["org_user"],` +
		`"spaces_url":"/v2/users/uaa-id-245/spaces","organizations_url":"/v2/users/uaa-id-245/organizations",` +
		`"managed_organizations_url":"/v2/users/uaa-id-245/managed_organizations",` +
		`"billing_managed_organizations_url":"/v2/users/uaa-id-245/billing_managed_organizations",` +
		`"audited_organizations_url":"/v2/users/uaa-id-245/audited_organizations",` +
		`"managed_spaces_url":"/v2/users/uaa-id-245/managed_spaces","audited_spaces_url":"/v2/users/uaa-id-245/audited_spaces"}`
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("user\n got %s\nwant %s", b.Bytes(), want)
	}
	if got := RoleOrder([]string{"billing_manager", "org_user", "org_manager", "org_user"}); strings.Join(got, ",") != "org_user,org_manager,billing_manager" {
		t.Errorf("RoleOrder: %v", got)
	}
}
