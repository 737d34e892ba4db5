package translate

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The v2 security groups and the running and staging defaults
// (MAPPING-orgs §12.7), from v3's security groups: running_default and
// staging_default are v3's globally_enabled, the bound spaces v3's
// running_spaces and staging_spaces.

// V3SecurityGroup is GET /v3/security_groups/:guid. rules is kept as v3
// stored it, the array as the client sent it.
type V3SecurityGroup struct {
	GUID            string          `json:"guid"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Name            string          `json:"name"`
	Rules           json.RawMessage `json:"rules"`
	GloballyEnabled struct {
		Running bool `json:"running"`
		Staging bool `json:"staging"`
	} `json:"globally_enabled"`
	Relationships struct {
		RunningSpaces V3ToMany `json:"running_spaces"`
		StagingSpaces V3ToMany `json:"staging_spaces"`
	} `json:"relationships"`
}

// V3ToMany is a v3 to-many relationship.
type V3ToMany struct {
	Data []struct {
		GUID string `json:"guid"`
	} `json:"data"`
}

// GUIDs lists the relationship's guids.
func (m V3ToMany) GUIDs() []string {
	out := make([]string, len(m.Data))
	for i, d := range m.Data {
		out[i] = d.GUID
	}
	return out
}

// V2SecurityGroupEntity is SecurityGroupsController's entity
// (security_group.json); Spaces and StagingSpaces are the inlined lists
// of inline-relations-depth=1 (a JSON array), left out otherwise.
type V2SecurityGroupEntity struct {
	Name             string          `json:"name"`
	Rules            json.RawMessage `json:"rules"`
	RunningDefault   bool            `json:"running_default"`
	StagingDefault   bool            `json:"staging_default"`
	SpacesURL        string          `json:"spaces_url"`
	Spaces           json.RawMessage `json:"spaces,omitempty"`
	StagingSpacesURL string          `json:"staging_spaces_url"`
	StagingSpaces    json.RawMessage `json:"staging_spaces,omitempty"`
}

func rulesOf(sg V3SecurityGroup) json.RawMessage {
	if len(bytes.TrimSpace(sg.Rules)) == 0 || isJSONNull(sg.Rules) {
		return json.RawMessage(`[]`)
	}
	return sg.Rules
}

// inlinedList is a JSON array of the resources, nil for nil.
func inlinedList(resources []json.RawMessage) json.RawMessage {
	if resources == nil {
		return nil
	}
	out := json.RawMessage{'['}
	for i, r := range resources {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, r...)
	}
	return append(out, ']')
}

// AppendSecurityGroupResource writes the v2 security group of sg; spaces
// and staging, when not nil, are its inlined spaces (v2 space resources).
func AppendSecurityGroupResource(buf *bytes.Buffer, sg V3SecurityGroup, spaces, staging []json.RawMessage) error {
	base := "/v2/security_groups/" + sg.GUID
	e := V2SecurityGroupEntity{Name: sg.Name, Rules: rulesOf(sg), RunningDefault: sg.GloballyEnabled.Running, StagingDefault: sg.GloballyEnabled.Staging,
		SpacesURL: base + "/spaces", StagingSpacesURL: base + "/staging_spaces", Spaces: inlinedList(spaces), StagingSpaces: inlinedList(staging)}
	return encodeJSON(buf, &v2Resource[V2SecurityGroupEntity]{Metadata: v2Metadata("security_groups", sg.GUID, sg.CreatedAt, sg.UpdatedAt), Entity: e})
}

// V2DefaultSecurityGroupEntity is the entity the running and staging
// default controllers show: no relation urls (running_security_groups_list.json).
type V2DefaultSecurityGroupEntity struct {
	Name           string          `json:"name"`
	Rules          json.RawMessage `json:"rules"`
	RunningDefault bool            `json:"running_default"`
	StagingDefault bool            `json:"staging_default"`
}

// AppendDefaultSecurityGroupResource writes sg as
// /v2/config/<lifecycle>_security_groups shows it: its url is under that
// path.
func AppendDefaultSecurityGroupResource(buf *bytes.Buffer, sg V3SecurityGroup, lifecycle string) error {
	md := v2Metadata("security_groups", sg.GUID, sg.CreatedAt, sg.UpdatedAt)
	md.URL = "/v2/config/" + lifecycle + "_security_groups/" + sg.GUID
	e := V2DefaultSecurityGroupEntity{Name: sg.Name, Rules: rulesOf(sg), RunningDefault: sg.GloballyEnabled.Running, StagingDefault: sg.GloballyEnabled.Staging}
	return encodeJSON(buf, &v2Resource[V2DefaultSecurityGroupEntity]{Metadata: md, Entity: e})
}

// SecurityGroupNotFound is CC's 300002.
func SecurityGroupNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 300002, Name: "SecurityGroupNotFound", Description: "The security group could not be found: " + guid}
}

// SecurityGroupDefaultInvalid is what the running (300004) or staging
// (300003) default controller answers for a group it cannot find: its
// not_found_exception, a 400.
func SecurityGroupDefaultInvalid(lifecycle, guid string) *Error {
	if lifecycle == "staging" {
		return &Error{Status: 400, Code: 300003, Name: "SecurityGroupStagingDefaultInvalid", Description: "The security group could not be found: " + guid}
	}
	return &Error{Status: 400, Code: 300004, Name: "SecurityGroupRunningDefaultInvalid", Description: "The security group could not be found: " + guid}
}

// SecurityGroupInvalid is CC's 300001.
func SecurityGroupInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 300001, Name: "SecurityGroupInvalid", Description: "The security group is invalid: " + detail}
}

// securityGroupFields are SecurityGroupsController's attributes; rules,
// [Hash], is checked apart.
var securityGroupFields = []bodyField{{"name", kindString, true}, {"space_guids", kindStringList, false}, {"staging_space_guids", kindStringList, false}}

// SecurityGroupRequest is a parsed security group body: the values given.
type SecurityGroupRequest struct {
	Name                      *string
	Rules                     json.RawMessage
	SpaceGUIDs, StagingGUIDs  []string
	HasSpaces, HasStagingSpcs bool
}

// ParseSecurityGroupRequest parses a create (name required, rules
// defaulting to []) or update body.
func ParseSecurityGroupRequest(body []byte, create bool) (SecurityGroupRequest, error) {
	m, err := parseMessage(body, securityGroupFields, create)
	if err != nil {
		return SecurityGroupRequest{}, err
	}
	r := SecurityGroupRequest{Name: m.str("name")}
	if v, ok := m["space_guids"]; ok {
		r.SpaceGUIDs, r.HasSpaces = v.strs, true
	}
	if v, ok := m["staging_space_guids"]; ok {
		r.StagingGUIDs, r.HasStagingSpcs = v.strs, true
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(bytes.TrimSpace(body), &raw)
	if rules, ok := raw["rules"]; ok && !isJSONNull(rules) {
		var elems []json.RawMessage
		if rubyClass(rules) != "Array" || json.Unmarshal(rules, &elems) != nil {
			return r, MessageParseError("Field: rules, Error: Expected instance of Array, given instance of " + rubyClass(rules))
		}
		var msgs []string
		for i, e := range elems {
			if c := rubyClass(e); c != "Hash" {
				msgs = append(msgs, "At index "+strconv.Itoa(i)+": Expected instance of Hash, given an instance of "+c)
			}
		}
		if len(msgs) > 0 {
			return r, MessageParseError("Field: rules, Error: " + strings.Join(msgs, ", "))
		}
		r.Rules = rules
	} else if create {
		r.Rules = json.RawMessage(`[]`)
	}
	return r, nil
}

// V3SecurityGroupWrite is the POST (with the spaces to bind) or PATCH
// /v3/security_groups body.
func V3SecurityGroupWrite(r SecurityGroupRequest, create bool) ([]byte, error) {
	body := map[string]any{}
	if r.Name != nil {
		body["name"] = *r.Name
	}
	if r.Rules != nil {
		body["rules"] = r.Rules
	}
	if create {
		rel := map[string]any{}
		for key, guids := range map[string][]string{"running_spaces": r.SpaceGUIDs, "staging_spaces": r.StagingGUIDs} {
			if len(guids) > 0 {
				data := make([]map[string]string, len(guids))
				for i, g := range guids {
					data[i] = map[string]string{"guid": g}
				}
				rel[key] = map[string]any{"data": data}
			}
		}
		if len(rel) > 0 {
			body["relationships"] = rel
		}
	}
	return json.Marshal(body)
}

// SecurityGroupWriteError maps v3's refusal of a security group write: a
// taken name is SecurityGroupNameTaken, an unknown space the to-many
// InvalidRelation, anything else v3 refused SecurityGroupInvalid with v3's
// words (v2's rule messages are not v3's).
func SecurityGroupWriteError(status int, detail, name string) *Error {
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case strings.Contains(detail, "already exists"):
		return &Error{Status: 400, Code: 300005, Name: "SecurityGroupNameTaken", Description: "The security group name is taken: " + name}
	case strings.Contains(detail, "do not exist") || strings.Contains(detail, "does not exist"):
		if g := quotedGUID(detail); g != "" {
			return InvalidRelation("Could not find VCAP::CloudController::Space with guid: " + g)
		}
	}
	if rules, ok := securityGroupRulesDetail(detail); ok {
		return SecurityGroupInvalid(rules)
	}
	return SecurityGroupInvalid(detail)
}

// quotedGUID returns the first guid quoted in a v3 message ('g' or "g").
func quotedGUID(detail string) string {
	for _, q := range []string{`"`, `'`} {
		if _, rest, ok := strings.Cut(detail, q); ok {
			if g, _, ok := strings.Cut(rest, q); ok && len(g) == 36 {
				return g
			}
		}
	}
	return ""
}
