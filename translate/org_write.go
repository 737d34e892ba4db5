package translate

import (
	"encoding/json"
	"regexp"
	"strings"
)

// The v2 organization and space writes (MAPPING-orgs §11.2.2–§11.2.4,
// §11.4): bodies checked as CC's models checked them, the v3 bodies, and
// v3's refusals in v2's words.

// orgFields are OrganizationsController's message in its order (the
// attributes, the to-one, then the to-many relations of
// define_attributes, as for spaces): name, billing_enabled, status and
// default_isolation_segment_guid; the quota; the four role lists.
var orgFields = []bodyField{{"name", kindString, true}, {"billing_enabled", kindBool, false}, {"status", kindString, false},
	{"default_isolation_segment_guid", kindString, false}, {"quota_definition_guid", kindString, false},
	{"user_guids", kindStringList, false}, {"manager_guids", kindStringList, false},
	{"billing_manager_guids", kindStringList, false}, {"auditor_guids", kindStringList, false}}

// OrgRequest is a parsed organization body; nil fields were absent.
type OrgRequest struct {
	Name, Status, QuotaGUID, IsolationSegmentGUID *string
	BillingEnabled                                *bool
	// Roles are the role lists given: v3 role type → user guids.
	Roles map[string][]string
}

// RoleList is a role list of an org or space body: its key and the v3
// role type whose holders it names.
type RoleList struct{ Key, Type string }

// OrgRoleLists and SpaceRoleLists are the role lists of org and space
// bodies in the order CC's update_from_hash sets them, its models'
// import_attributes (cc:app/models/runtime/organization.rb: user_guids,
// manager_guids, billing_manager_guids, auditor_guids; space.rb:
// developer_guids, manager_guids, auditor_guids), so in the order their
// refusals come.
var (
	OrgRoleLists = []RoleList{{"user_guids", "organization_user"}, {"manager_guids", "organization_manager"},
		{"billing_manager_guids", "organization_billing_manager"}, {"auditor_guids", "organization_auditor"}}
	SpaceRoleLists = []RoleList{{"developer_guids", "space_developer"}, {"manager_guids", "space_manager"}, {"auditor_guids", "space_auditor"}}
)

// roleLists reads the role lists of a parsed message: absent lists stay
// out of the map, an empty one is there empty.
func roleLists(m message, lists []RoleList) map[string][]string {
	out := map[string][]string{}
	for _, l := range lists {
		if v, ok := m[l.Key]; ok {
			out[l.Type] = v.strs
		}
	}
	return out
}

// RoleListChange is how a role list given in a body changes the holders
// of one role type.
type RoleListChange struct {
	Type           string
	Added, Removed []string
}

// RoleListChanges diffs the role lists given (requested, by v3 type)
// against the current holders of each type, as CC's "<role>_guids="
// writers do (GUIDsDiff: the lists replace the holders), in the lists'
// order; a type no list names is left alone.
func RoleListChanges(lists []RoleList, requested, current map[string][]string) []RoleListChange {
	var out []RoleListChange
	for _, l := range lists {
		req, ok := requested[l.Type]
		if !ok {
			continue
		}
		added, removed := GUIDsDiff(current[l.Type], req)
		out = append(out, RoleListChange{Type: l.Type, Added: added, Removed: removed})
	}
	return out
}

// UserRelationNotFound is an unknown user guid in a role list: the
// to-many writer names the model undemodulized (add_<role>_by_guid in
// cc:lib/sequel_plugins/vcap_relations.rb). A user who exists but holds
// no role in a space's org is InvalidRelation with just the guid
// (RoleWriteError).
func UserRelationNotFound(guid string) *Error {
	return InvalidRelation("Could not find VCAP::CloudController::User with guid: " + guid)
}

// ParseOrgRequest parses an organization body; a create needs a name.
func ParseOrgRequest(body []byte, create bool) (OrgRequest, error) {
	m, err := parseMessage(body, orgFields, create)
	if err != nil {
		return OrgRequest{}, err
	}
	r := OrgRequest{Name: m.str("name"), Status: m.str("status"), QuotaGUID: m.str("quota_definition_guid"),
		IsolationSegmentGUID: m.str("default_isolation_segment_guid"), BillingEnabled: m.boolean("billing_enabled"),
		Roles: roleLists(m, OrgRoleLists)}
	if r.Name != nil {
		name := strings.TrimSpace(*r.Name)
		r.Name = &name
	}
	return r, nil
}

// nameFormat is Organization's and Space's name format
// (/\A[[:alnum:][:punct:][:print:]]+\Z/): printable characters.
var nameFormat = regexp.MustCompile(`^[[:print:]\p{L}\p{N}\p{P}\p{S}]+$`)

// Check refuses what Organization#validate refused: an empty or
// unprintable name, a status other than active, suspended or deleting.
func (r OrgRequest) Check() *Error {
	switch {
	case r.Name != nil && *r.Name == "":
		return OrganizationInvalid("name presence")
	case r.Name != nil && !nameFormat.MatchString(*r.Name):
		return OrganizationInvalid("name format")
	case r.Status != nil && *r.Status != "active" && *r.Status != "suspended" && *r.Status != "deleting":
		return OrganizationInvalid("status includes")
	}
	return nil
}

// V3OrgWrite is the POST or PATCH /v3/organizations body: the name and
// whether the org is suspended.
func V3OrgWrite(r OrgRequest) ([]byte, error) {
	body := struct {
		Name      *string `json:"name,omitempty"`
		Suspended *bool   `json:"suspended,omitempty"`
	}{Name: r.Name}
	if r.Status != nil {
		suspended := *r.Status == "suspended"
		body.Suspended = &suspended
	}
	return json.Marshal(body)
}

// OrganizationInvalid is CC's 30001.
func OrganizationInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 30001, Name: "OrganizationInvalid", Description: "The organization info is invalid: " + detail}
}

// OrgWriteError maps v3's refusal of an organization write (§11.8).
func OrgWriteError(status int, title, detail, name string) *Error {
	switch {
	case status == 403 && title == "CF-FeatureDisabled":
		return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail}
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case strings.Contains(detail, "already exists"), strings.Contains(detail, "is already taken"):
		return &Error{Status: 400, Code: 30002, Name: "OrganizationNameTaken", Description: "The organization name is taken: " + name}
	}
	return OrganizationInvalid(detail)
}

// spaceFields are SpacesController's message in its order
// (cc:lib/cloud_controller/rest_controller/messages.rb builds it from the
// attributes, then the to-one, then the to-many relations of
// define_attributes): name, allow_ssh and isolation_segment_guid; the
// organization and the space quota; the role lists and the running and
// staging security groups.
var spaceFields = []bodyField{{"name", kindString, true}, {"allow_ssh", kindBool, false}, {"isolation_segment_guid", kindString, false},
	{"organization_guid", kindString, true}, {"space_quota_definition_guid", kindString, false},
	{"developer_guids", kindStringList, false}, {"manager_guids", kindStringList, false}, {"auditor_guids", kindStringList, false},
	{"security_group_guids", kindStringList, false}, {"staging_security_group_guids", kindStringList, false}}

// SpaceRequest is a parsed space body; nil fields were absent.
type SpaceRequest struct {
	Name, OrgGUID, IsolationSegmentGUID, QuotaGUID *string
	AllowSSH                                       *bool
	// Roles are the role lists given: v3 role type → user guids.
	Roles map[string][]string
	// SecurityGroups and StagingSecurityGroups are security_group_guids
	// and staging_security_group_guids (Space's security_groups and
	// staging_security_groups), nil when absent.
	SecurityGroups, StagingSecurityGroups []string
}

// ParseSpaceRequest parses a space body; a create needs a name and an
// org, and allow_ssh defaults to true.
func ParseSpaceRequest(body []byte, create bool) (SpaceRequest, error) {
	m, err := parseMessage(body, spaceFields, create)
	if err != nil {
		return SpaceRequest{}, err
	}
	r := SpaceRequest{Name: m.str("name"), OrgGUID: m.str("organization_guid"), IsolationSegmentGUID: m.str("isolation_segment_guid"),
		QuotaGUID: m.str("space_quota_definition_guid"), AllowSSH: m.boolean("allow_ssh"), Roles: roleLists(m, SpaceRoleLists)}
	if v, ok := m["security_group_guids"]; ok {
		r.SecurityGroups = v.strs
	}
	if v, ok := m["staging_security_group_guids"]; ok {
		r.StagingSecurityGroups = v.strs
	}
	if r.Name != nil {
		name := strings.TrimSpace(*r.Name)
		r.Name = &name
	}
	if create && r.AllowSSH == nil {
		yes := true
		r.AllowSSH = &yes
	}
	return r, nil
}

// Check refuses what Space#validate refused of a name.
func (r SpaceRequest) Check() *Error {
	switch {
	case r.Name != nil && *r.Name == "":
		return SpaceInvalid("name presence")
	case r.Name != nil && !nameFormat.MatchString(*r.Name):
		return SpaceInvalid("name format")
	}
	return nil
}

// V3SpaceWrite is the POST (create: with its org) or PATCH /v3/spaces body.
func V3SpaceWrite(r SpaceRequest, create bool) ([]byte, error) {
	type guidData struct {
		Data V3GUIDRef `json:"data"`
	}
	body := struct {
		Name          *string `json:"name,omitempty"`
		Relationships *struct {
			Organization guidData `json:"organization"`
		} `json:"relationships,omitempty"`
	}{Name: r.Name}
	if create {
		body.Relationships = &struct {
			Organization guidData `json:"organization"`
		}{Organization: guidData{V3GUIDRef{deref(r.OrgGUID)}}}
	}
	return json.Marshal(body)
}

// SpaceInvalid is CC's 40001.
func SpaceInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 40001, Name: "SpaceInvalid", Description: "The app space info is invalid: " + detail}
}

// SpaceWriteError maps v3's refusal of a space write (§11.4, §11.8).
func SpaceWriteError(status int, title, detail string, r SpaceRequest) *Error {
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case strings.Contains(detail, "Name must be unique"), strings.Contains(detail, "already contains a space with name"), strings.Contains(detail, "already exists"):
		return &Error{Status: 400, Code: 40002, Name: "SpaceNameTaken", Description: "The app space name is taken: " + deref(r.Name)}
	case strings.Contains(detail, "Invalid organization"):
		return InvalidRelation("Could not find Organization with guid: " + deref(r.OrgGUID))
	}
	return SpaceInvalid(detail)
}

// GUIDsDiff is how a to-many guids writer changes a relation
// (vcap_relations' "<name>_guids=", MAPPING-orgs §11.0): the requested
// guids not in current are added, the current ones not requested are
// removed, each once, in the order given.
func GUIDsDiff(current, requested []string) (added, removed []string) {
	cur := make(map[string]bool, len(current))
	for _, g := range current {
		cur[g] = true
	}
	req := make(map[string]bool, len(requested))
	for _, g := range requested {
		if !req[g] && !cur[g] {
			added = append(added, g)
		}
		req[g] = true
	}
	for _, g := range current {
		if !req[g] {
			removed = append(removed, g)
			req[g] = true
		}
	}
	return added, removed
}

// SecurityGroupRelationNotFound is an unknown guid in a space's
// security_group_guids or staging_security_group_guids: the to-many
// writer names the model undemodulized (add_<name>_by_guid in
// cc:lib/sequel_plugins/vcap_relations.rb).
func SecurityGroupRelationNotFound(guid string) *Error {
	return InvalidRelation("Could not find VCAP::CloudController::SecurityGroup with guid: " + guid)
}

// ResourceNotFound is CC's 10010 with its detail: an isolation segment
// that does not exist, named by an org's default_isolation_segment_guid
// ("Could not find Isolation Segment to set as the default.") or a
// space's isolation_segment_guid ("Isolation Segment not found") on
// update (the controllers' before_update).
func ResourceNotFound(detail string) *Error {
	return &Error{Status: 404, Code: 10010, Name: "ResourceNotFound", Description: detail}
}

// SegmentNotAllowed is Space#validate_isolation_segment_set's refusal of
// a segment the space's org is not entitled to.
func SegmentNotAllowed() *Error {
	return &Error{Status: 400, Code: 10009, Name: "UnableToPerform",
		Description: "Adding the Isolation Segment to the Space could not be completed: Only Isolation Segments in the Organization's allowed list can be used."}
}

// SegmentRelationshipBody is the PATCH body of an org's default or a
// space's isolation segment: {"data":{"guid":…}}.
func SegmentRelationshipBody(guid string) []byte {
	b, _ := json.Marshal(map[string]V3GUIDRef{"data": {GUID: guid}})
	return b
}

// NoSegmentBody is the PATCH body that takes an org's default or a
// space's isolation segment away: {"data":null}.
func NoSegmentBody() []byte {
	return []byte(`{"data":null}`)
}
