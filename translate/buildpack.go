package translate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// The v2 buildpacks (MAPPING-orgs §12.3), from v3's buildpacks, which have
// the same fields.

// V3Buildpack is GET /v3/buildpacks/:guid.
type V3Buildpack struct {
	GUID      string    `json:"guid"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Filename  *string   `json:"filename"`
	Stack     *string   `json:"stack"`
	Position  int       `json:"position"`
	Lifecycle string    `json:"lifecycle"`
	Enabled   bool      `json:"enabled"`
	Locked    bool      `json:"locked"`
}

// V2BuildpackEntity is Buildpack's export_attributes in their order
// (buildpack.current-shape.json); BuildpacksController has no relations.
type V2BuildpackEntity struct {
	Name      string  `json:"name"`
	Stack     *string `json:"stack"`
	Position  int     `json:"position"`
	Enabled   bool    `json:"enabled"`
	Locked    bool    `json:"locked"`
	Filename  *string `json:"filename"`
	Lifecycle string  `json:"lifecycle"`
}

// AppendBuildpackResource writes the v2 buildpack of b.
func AppendBuildpackResource(buf *bytes.Buffer, b V3Buildpack) error {
	e := V2BuildpackEntity{Name: b.Name, Stack: b.Stack, Position: b.Position, Enabled: b.Enabled, Locked: b.Locked,
		Filename: b.Filename, Lifecycle: b.Lifecycle}
	return encodeJSON(buf, &v2Resource[V2BuildpackEntity]{Metadata: v2Metadata("buildpacks", b.GUID, b.CreatedAt, b.UpdatedAt), Entity: e})
}

// BuildpackNotFound is what BuildpacksController answers for a guid it
// cannot find: not_found_exception_name is 'NotFound', whose message has
// no argument.
func BuildpackNotFound() *Error {
	return &Error{Status: 404, Code: 10000, Name: "NotFound", Description: "Unknown request"}
}

// BuildpackInvalid is CC's 290003.
func BuildpackInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 290003, Name: "BuildpackInvalid", Description: "Buildpack is invalid: " + detail}
}

// BuildpackLocked is CC's 290005.
func BuildpackLocked() *Error {
	return &Error{Status: 409, Code: 290005, Name: "BuildpackLocked", Description: "The buildpack is locked"}
}

// buildpackFields are BuildpacksController's attributes; lifecycle is
// excluded from updates.
var buildpackFields = []bodyField{{"name", kindString, true}, {"stack", kindString, false}, {"lifecycle", kindString, false},
	{"position", kindInteger, false}, {"enabled", kindBool, false}, {"locked", kindBool, false}}

// BuildpackRequest is a parsed buildpack body: the values given.
type BuildpackRequest struct {
	Name, Stack, Lifecycle *string
	Position               *int64
	Enabled, Locked        *bool
}

// buildpackName is the model's name format, /\A(\w|-)+\z/ (Ruby's \w is ASCII).
var buildpackName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseBuildpackRequest parses a create (name required) or update body
// (lifecycle ignored), then checks the name's format as the model does.
func ParseBuildpackRequest(body []byte, create bool) (BuildpackRequest, error) {
	fields := buildpackFields
	if !create {
		fields = []bodyField{fields[0], fields[1], fields[3], fields[4], fields[5]}
	}
	m, err := parseMessage(body, fields, create)
	if err != nil {
		return BuildpackRequest{}, err
	}
	r := BuildpackRequest{Name: m.str("name"), Stack: m.str("stack"), Lifecycle: m.str("lifecycle"), Position: m.integer("position"),
		Enabled: m.boolean("enabled"), Locked: m.boolean("locked")}
	if r.Name != nil && !buildpackName.MatchString(*r.Name) {
		return r, BuildpackInvalid("name can only contain alphanumeric characters")
	}
	return r, nil
}

// V3BuildpackWrite is the POST or PATCH /v3/buildpacks body. v2's
// position 0 (its default) and below move the buildpack to the top, as
// the list plugin's move_to clamps it; v3 takes 1 and up.
func V3BuildpackWrite(r BuildpackRequest) ([]byte, error) {
	body := map[string]any{}
	if r.Name != nil {
		body["name"] = *r.Name
	}
	if r.Stack != nil {
		body["stack"] = *r.Stack
	}
	if r.Lifecycle != nil {
		body["lifecycle"] = *r.Lifecycle
	}
	if r.Position != nil {
		body["position"] = max(*r.Position, 1)
	}
	if r.Enabled != nil {
		body["enabled"] = *r.Enabled
	}
	if r.Locked != nil {
		body["locked"] = *r.Locked
	}
	return json.Marshal(body)
}

// BuildpackWriteError maps v3's refusal of a buildpack write to v2's
// (cc:app/actions/buildpack_create.rb and buildpack_update.rb give v3's
// texts); the taken error names the request's stack and lifecycle, blank
// when it had none (translate_validation_exception reads the attributes).
func BuildpackWriteError(status int, detail string, r BuildpackRequest) *Error {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch {
	case status == 403:
		return NotAuthorized()
	case status == 404:
		return BuildpackNotFound()
	case status != 422:
		return nil
	case strings.HasPrefix(detail, "Stack '") && strings.HasSuffix(detail, "' does not exist"):
		return BuildpackInvalid("stack buildpack_stack_does_not_exist")
	case strings.Contains(detail, "an unassigned stack already exists"):
		return BuildpackInvalid("stack unique")
	case strings.HasPrefix(detail, "Buildpack with name '") && strings.HasSuffix(detail, "already exists"):
		return &Error{Status: 422, Code: 290000, Name: "BuildpackNameStackLifecycleTaken",
			Description: "The buildpack name " + str(r.Name) + " is already in use for the stack " + str(r.Stack) + " and the lifecycle " + str(r.Lifecycle)}
	case detail == "Buildpack stack cannot be changed":
		return BuildpackInvalid("stack buildpack_cant_change_stacks")
	case strings.Contains(detail, "is locked"):
		return BuildpackLocked()
	}
	return BuildpackInvalid(detail)
}
