package translate

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// V3User is a v3 user (cc:app/presenters/v3/user_presenter.rb). Username
// and Origin are null for an OAuth client.
type V3User struct {
	GUID      string    `json:"guid"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Username  *string   `json:"username"`
	Origin    *string   `json:"origin"`
}

// V3Role is a v3 role (cc:app/presenters/v3/role_presenter.rb).
type V3Role struct {
	GUID          string    `json:"guid"`
	Type          string    `json:"type"`
	CreatedAt     time.Time `json:"created_at"`
	Relationships struct {
		User         V3ToOne `json:"user"`
		Organization V3ToOne `json:"organization"`
		Space        V3ToOne `json:"space"`
	} `json:"relationships"`
}

// RoleRelation is a v2 role relation: the v2 path segment of a parent's
// role list and the v3 role type behind it.
type RoleRelation struct {
	// Parent is "organizations" or "spaces"; Name the list under it
	// ("managers"); Type the v3 role type; V2Name the role in user_roles.
	Parent, Name, Type, V2Name string
}

// RoleRelations are v2's org and space role lists (MAPPING-orgs §11.2.6,
// §11.4), in the fixed order of user_roles (OrganizationUserRolesPresenter:
// org_user, org_manager, org_auditor, billing_manager; SpaceUserRoles:
// space_developer, space_manager, space_auditor).
var RoleRelations = []RoleRelation{
	{"organizations", "users", "organization_user", "org_user"},
	{"organizations", "managers", "organization_manager", "org_manager"},
	{"organizations", "auditors", "organization_auditor", "org_auditor"},
	{"organizations", "billing_managers", "organization_billing_manager", "billing_manager"},
	{"spaces", "developers", "space_developer", "space_developer"},
	{"spaces", "managers", "space_manager", "space_manager"},
	{"spaces", "auditors", "space_auditor", "space_auditor"},
}

// UserRelations are the role lists of a v2 user (/v2/users/:g/<name>)
// and the v3 role type of each.
var UserRelations = []struct{ Name, Type string }{
	{"spaces", "space_developer"},
	{"organizations", "organization_user"},
	{"managed_organizations", "organization_manager"},
	{"billing_managed_organizations", "organization_billing_manager"},
	{"audited_organizations", "organization_auditor"},
	{"managed_spaces", "space_manager"},
	{"audited_spaces", "space_auditor"},
}

// UserQueryKeys are /v2/users' q keys (UsersController query_parameters),
// each naming the role whose holders it lists; the value is the org or
// space guid.
var UserQueryKeys = map[string]string{
	"space_guid":                        "space_developer",
	"organization_guid":                 "organization_user",
	"managed_organization_guid":         "organization_manager",
	"billing_managed_organization_guid": "organization_billing_manager",
	"audited_organization_guid":         "organization_auditor",
	"managed_space_guid":                "space_manager",
	"audited_space_guid":                "space_auditor",
}

// UserQueryKeyList returns the keys of UserQueryKeys, sorted.
func UserQueryKeyList() []string {
	keys := make([]string, 0, len(UserQueryKeys))
	for k := range UserQueryKeys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// IsSpaceRole reports whether a v3 role type is a space role.
func IsSpaceRole(t string) bool { return strings.HasPrefix(t, "space_") }

// V2UserEntity is a v2 user's entity (cc:app/presenters/v2/user_presenter.rb,
// User#export_attrs): admin and active have no v3 source and are false,
// default_space_guid has no v3 concept and is null; username only when the
// UAA knows one; organization_roles or space_roles only in user_roles.
type V2UserEntity struct {
	Admin                          bool     `json:"admin"`
	Active                         bool     `json:"active"`
	DefaultSpaceGUID               *string  `json:"default_space_guid"`
	Username                       *string  `json:"username,omitempty"`
	OrganizationRoles              []string `json:"organization_roles,omitempty"`
	SpaceRoles                     []string `json:"space_roles,omitempty"`
	SpacesURL                      string   `json:"spaces_url"`
	OrganizationsURL               string   `json:"organizations_url"`
	ManagedOrganizationsURL        string   `json:"managed_organizations_url"`
	BillingManagedOrganizationsURL string   `json:"billing_managed_organizations_url"`
	AuditedOrganizationsURL        string   `json:"audited_organizations_url"`
	ManagedSpacesURL               string   `json:"managed_spaces_url"`
	AuditedSpacesURL               string   `json:"audited_spaces_url"`
}

// V2UserResource is a v2 user.
type V2UserResource struct {
	Metadata V2Metadata   `json:"metadata"`
	Entity   V2UserEntity `json:"entity"`
}

// UserRoles are the roles a user_roles list shows for a user.
type UserRoles struct {
	Org, Space []string
}

// AppendUserResource appends the v2 user u; roles, when set, adds its
// organization_roles or space_roles.
func AppendUserResource(buf *bytes.Buffer, u V3User, roles *UserRoles) error {
	base := "/v2/users/" + u.GUID + "/"
	e := V2UserEntity{Username: u.Username,
		SpacesURL: base + "spaces", OrganizationsURL: base + "organizations", ManagedOrganizationsURL: base + "managed_organizations",
		BillingManagedOrganizationsURL: base + "billing_managed_organizations", AuditedOrganizationsURL: base + "audited_organizations",
		ManagedSpacesURL: base + "managed_spaces", AuditedSpacesURL: base + "audited_spaces"}
	if roles != nil {
		e.OrganizationRoles, e.SpaceRoles = roles.Org, roles.Space
	}
	return encodeJSON(buf, &V2UserResource{Metadata: v2Metadata("users", u.GUID, u.CreatedAt, u.UpdatedAt), Entity: e})
}

// RoleOrder sorts v2 role names into user_roles' fixed order.
func RoleOrder(names []string) []string {
	rank := func(n string) int {
		return slices.IndexFunc(RoleRelations, func(r RoleRelation) bool { return r.V2Name == n })
	}
	slices.SortFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return slices.Compact(names)
}

// UserByName is the body of a v2 role change by username: username and,
// optionally, origin.
type UserByName struct {
	Username string
	Origin   string
}

// ParseUserByName parses the body of PUT|DELETE
// /v2/<parent>/:g/<role> and POST .../<role>/remove. CC reads it with
// MultiJson and fetches "username" and "origin" from the hash
// (cc:app/controllers/runtime/mixins/...#parse_and_validate_json): a body
// that is not a JSON object is MessageParseError "invalid request body".
func ParseUserByName(body []byte) (UserByName, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(body), &m); err != nil || m == nil {
		return UserByName{}, MessageParseError("invalid request body")
	}
	var u UserByName
	str := func(key string) string {
		var s string
		if raw, ok := m[key]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	u.Username, u.Origin = str("username"), str("origin")
	return u, nil
}

// RoleByGUIDBody is POST /v3/roles for user guid in the org or space
// guid: parent "organizations" or "spaces".
func RoleByGUIDBody(roleType, userGUID, parent, guid string) []byte {
	return roleBody(roleType, map[string]string{"guid": userGUID}, parent, guid)
}

// RoleByNameBody is POST /v3/roles for a user named by username and,
// when given, origin; v3 CC then asks its UAA as v2 did (§11.6.3).
func RoleByNameBody(roleType string, u UserByName, parent, guid string) []byte {
	ref := map[string]string{"username": u.Username}
	if u.Origin != "" {
		ref["origin"] = u.Origin
	}
	return roleBody(roleType, ref, parent, guid)
}

func roleBody(roleType string, user map[string]string, parent, guid string) []byte {
	scope := "organization"
	if parent == "spaces" {
		scope = "space"
	}
	b, _ := json.Marshal(map[string]any{"type": roleType, "relationships": map[string]any{
		"user": map[string]any{"data": user},
		scope:  map[string]any{"data": map[string]string{"guid": guid}},
	}})
	return b
}

// UserCreateBody is v2's POST /v2/users: guid is required.
type UserCreateBody struct {
	GUID string
}

var userFields = []bodyField{
	{name: "guid", kind: kindString, required: true},
	{name: "admin", kind: kindBool},
	{name: "default_space_guid", kind: kindString},
}

// ParseUserCreate parses POST /v2/users (UsersController define_attributes).
func ParseUserCreate(body []byte) (UserCreateBody, error) {
	m, err := parseMessage(body, userFields, true)
	if err != nil {
		return UserCreateBody{}, err
	}
	return UserCreateBody{GUID: *m.str("guid")}, nil
}

// UserNotFound is CC's 20003.
func UserNotFound(name string) *Error {
	return &Error{Status: 404, Code: 20003, Name: "UserNotFound", Description: "The user could not be found: " + name}
}

// UserWithOriginNotFound is CC's 20007.
func UserWithOriginNotFound(username, origin string) *Error {
	return &Error{Status: 404, Code: 20007, Name: "UserWithOriginNotFound",
		Description: "The user could not be found, username: '" + username + "', origin: '" + origin + "'"}
}

// UserIsInMultipleOrigins is CC's 20006: the origins each quoted, joined
// by ", ".
func UserIsInMultipleOrigins(origins []string) *Error {
	quoted := make([]string, len(origins))
	for i, o := range origins {
		quoted[i] = "'" + o + "'"
	}
	return &Error{Status: 400, Code: 20006, Name: "UserIsInMultipleOrigins",
		Description: "The user exists in multiple origins. Specify an origin for the requested user from: " + strings.Join(quoted, ", ")}
}

// UaaIDTaken is CC's 20002.
func UaaIDTaken(guid string) *Error {
	return &Error{Status: 400, Code: 20002, Name: "UaaIdTaken", Description: "The UAA ID is taken: " + guid}
}

// The last-member errors of an org role removal (§11.6.2).
var (
	LastManagerInOrg        = &Error{Status: 403, Code: 30004, Name: "LastManagerInOrg", Description: "Cannot remove last Org Manager in org"}
	LastBillingManagerInOrg = &Error{Status: 403, Code: 30005, Name: "LastBillingManagerInOrg",
		Description: "Cannot remove last Billing Manager in org"}
	LastUserInOrg = &Error{Status: 403, Code: 30006, Name: "LastUserInOrg", Description: "Cannot remove last User in org"}
)

// SpaceRolesInOrg is v2's refusal to remove an org user who still has
// space roles in the org (Organization#remove_user).
func SpaceRolesInOrg() *Error {
	return &Error{Status: 400, Code: 10006, Name: "AssociationNotEmpty", Description: "Please delete the user associations for your spaces in the org."}
}

// RoleWriteError maps v3's refusal of a role write (§11.6, §11.8);
// userGUID names the user of a by-guid write. already reports a role the
// user has: v2's find_or_create succeeds. nil and false: not a role
// refusal, mapped the usual way.
func RoleWriteError(status int, title, detail, userGUID string) (e *Error, already bool) {
	switch {
	case status == 403 && title == "CF-FeatureDisabled":
		return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail}, false
	case status == 403:
		return NotAuthorized(), false
	case status != 422:
		return nil, false
	case strings.Contains(detail, "' role in ") && strings.Contains(detail, "already has '"):
		return nil, true
	case strings.HasPrefix(detail, "Users cannot be assigned roles in a space"):
		// InvalidDeveloperRelation.new(user.guid): the description is the
		// user's guid.
		return &Error{Status: 400, Code: 1002, Name: "InvalidRelation", Description: userGUID}, false
	case strings.HasPrefix(detail, "Cannot delete organization_user role while user has roles in spaces"):
		return SpaceRolesInOrg(), false
	}
	if u, o, ok := noUserWithOrigin(detail); ok {
		return UserWithOriginNotFound(u, o), false
	}
	if u, ok := between(detail, "No user exists with the username '", "'."); ok {
		return UserNotFound(u), false
	}
	if list, ok := between(detail, "exists in the following origins: ", ". Specify an origin to disambiguate."); ok {
		return UserIsInMultipleOrigins(strings.Split(list, ", ")), false
	}
	return nil, false
}

// noUserWithOrigin reads v3's "No user exists with the username '<u>'
// and origin '<o>'."
func noUserWithOrigin(detail string) (username, origin string, ok bool) {
	rest, ok := strings.CutPrefix(detail, "No user exists with the username '")
	if !ok {
		return "", "", false
	}
	username, rest, ok = strings.Cut(rest, "' and origin '")
	if !ok {
		return "", "", false
	}
	origin, ok = strings.CutSuffix(rest, "'.")
	return username, origin, ok
}

// between returns the text of s between prefix and the suffix it ends
// with.
func between(s, prefix, suffix string) (string, bool) {
	i := strings.Index(s, prefix)
	if i < 0 || !strings.HasSuffix(s, suffix) || i+len(prefix) > len(s)-len(suffix) {
		return "", false
	}
	return s[i+len(prefix) : len(s)-len(suffix)], true
}

// ParseUserUpdate parses PUT /v2/users/:guid: admin and
// default_space_guid, which have no v3 home (§11.5).
func ParseUserUpdate(body []byte) (UserCreateBody, error) {
	m, err := parseMessage(body, userFields, false)
	if err != nil {
		return UserCreateBody{}, err
	}
	var u UserCreateBody
	if g := m.str("guid"); g != nil {
		u.GUID = *g
	}
	return u, nil
}

// UserV3Body is POST /v3/users for the UAA id guid.
func UserV3Body(guid string) []byte {
	b, _ := json.Marshal(map[string]string{"guid": guid})
	return b
}
