package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AppRequest is the body of a v2 app create (POST /v2/apps) or update
// (PUT /v2/apps/:guid) after CC's parsing (MAPPING §2.1): a nil field was
// absent or JSON null, which CC treats alike.
type AppRequest struct {
	EnableSSH               *bool
	Buildpack               *string
	Command                 *string
	Console                 *bool
	Diego                   *bool
	DockerImage             *string
	DockerCredentials       map[string]json.RawMessage
	Debug                   *string
	DiskQuota               *int64
	EnvironmentJSON         map[string]json.RawMessage
	HealthCheckHTTPEndpoint *string
	HealthCheckType         *string
	HealthCheckTimeout      *int64
	Instances               *int64
	LogRateLimit            *int64
	Memory                  *int64
	Name                    *string
	Production              *bool
	State                   *string
	// Ports is nil when not given, and non-nil (perhaps empty) when given.
	Ports     []int64
	SpaceGUID *string
	StackGUID *string
}

// v2 app states.
const (
	StateStarted = "STARTED"
	StateStopped = "STOPPED"
)

// membraneKind is the schema of an attribute in AppsController's
// define_attributes (cc:app/controllers/runtime/apps_controller.rb), as
// github.com/cloudfoundry/membrane checks it.
type membraneKind int

const (
	kindBool        membraneKind = iota // Message::Boolean: membrane's bool schema
	kindString                          // String
	kindInteger                         // Integer
	kindHash                            // Hash
	kindIntegerList                     // [Integer]
	kindStringList                      // [String]
)

// appFields are the writable attributes in CC's field order (the
// define_attributes order, then the to-one guids), which is the order of
// the MessageParseError text. required marks the create-only required ones.
var appFields = []struct {
	name     string
	kind     membraneKind
	required bool
	set      func(r *AppRequest, v parsedValue)
}{
	{"enable_ssh", kindBool, false, func(r *AppRequest, v parsedValue) { r.EnableSSH = &v.b }},
	{"buildpack", kindString, false, func(r *AppRequest, v parsedValue) { r.Buildpack = &v.s }},
	{"command", kindString, false, func(r *AppRequest, v parsedValue) { r.Command = &v.s }},
	{"console", kindBool, false, func(r *AppRequest, v parsedValue) { r.Console = &v.b }},
	{"diego", kindBool, false, func(r *AppRequest, v parsedValue) { r.Diego = &v.b }},
	{"docker_image", kindString, false, func(r *AppRequest, v parsedValue) { r.DockerImage = &v.s }},
	{"docker_credentials", kindHash, false, func(r *AppRequest, v parsedValue) { r.DockerCredentials = v.m }},
	{"debug", kindString, false, func(r *AppRequest, v parsedValue) { r.Debug = &v.s }},
	{"disk_quota", kindInteger, false, func(r *AppRequest, v parsedValue) { r.DiskQuota = &v.i }},
	{"environment_json", kindHash, false, func(r *AppRequest, v parsedValue) { r.EnvironmentJSON = v.m }},
	{"health_check_http_endpoint", kindString, false, func(r *AppRequest, v parsedValue) { r.HealthCheckHTTPEndpoint = &v.s }},
	{"health_check_type", kindString, false, func(r *AppRequest, v parsedValue) { r.HealthCheckType = &v.s }},
	{"health_check_timeout", kindInteger, false, func(r *AppRequest, v parsedValue) { r.HealthCheckTimeout = &v.i }},
	{"instances", kindInteger, false, func(r *AppRequest, v parsedValue) { r.Instances = &v.i }},
	{"log_rate_limit", kindInteger, false, func(r *AppRequest, v parsedValue) { r.LogRateLimit = &v.i }},
	{"memory", kindInteger, false, func(r *AppRequest, v parsedValue) { r.Memory = &v.i }},
	{"name", kindString, true, func(r *AppRequest, v parsedValue) { r.Name = &v.s }},
	{"production", kindBool, false, func(r *AppRequest, v parsedValue) { r.Production = &v.b }},
	{"state", kindString, false, func(r *AppRequest, v parsedValue) { r.State = &v.s }},
	{"ports", kindIntegerList, false, func(r *AppRequest, v parsedValue) { r.Ports = v.list }},
	{"space_guid", kindString, true, func(r *AppRequest, v parsedValue) { r.SpaceGUID = &v.s }},
	{"stack_guid", kindString, false, func(r *AppRequest, v parsedValue) { r.StackGUID = &v.s }},
}

// parsedValue is one attribute's value once its schema accepted it.
type parsedValue struct {
	b    bool
	s    string
	i    int64
	m    map[string]json.RawMessage
	list []int64
	strs []string
}

// ParseAppRequest parses a v2 app body as CC's JsonMessage does
// (cc:lib/vcap/json_message.rb, MAPPING §2.1): the bytes are JSON whatever
// the Content-Type; a duplicate key's last value wins; keys whose value is
// null are dropped; unknown keys are ignored; every attribute is checked
// against its membrane schema, and all failures are reported at once, in
// CC's field order, as one MessageParseError. On create, name and
// space_guid are required and CC's defaults are filled in.
func ParseAppRequest(body []byte, create bool) (AppRequest, error) {
	var r AppRequest
	m, err := parseMessage(body, appBodyFields, create)
	if err != nil {
		return r, err
	}
	for _, f := range appFields {
		if v, ok := m[f.name]; ok {
			f.set(&r, v)
		}
	}
	if create {
		r.applyCreateDefaults()
	}
	return r, nil
}

var appBodyFields = func() []bodyField {
	out := make([]bodyField, len(appFields))
	for i, f := range appFields {
		out[i] = bodyField{f.name, f.kind, f.required}
	}
	return out
}()

// applyCreateDefaults fills in define_attributes' defaults, which apply on
// create only.
func (r *AppRequest) applyCreateDefaults() {
	f, port, one, stopped := false, "port", int64(1), StateStopped
	if r.Console == nil {
		r.Console = &f
	}
	if r.DockerCredentials == nil {
		r.DockerCredentials = map[string]json.RawMessage{}
	}
	if r.EnvironmentJSON == nil {
		r.EnvironmentJSON = map[string]json.RawMessage{}
	}
	if r.HealthCheckType == nil {
		r.HealthCheckType = &port
	}
	if r.Instances == nil {
		r.Instances = &one
	}
	if r.Production == nil {
		p := false
		r.Production = &p
	}
	if r.State == nil {
		r.State = &stopped
	}
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// syntaxMessage describes bad JSON with its position, as CC's parser
// message does.
func syntaxMessage(body []byte, err error) string {
	// A syntax error's offset counts the bytes read up to and including the
	// bad one; at the end of the input the position is just past the end.
	offset := int64(len(body)) + 1
	var se *json.SyntaxError
	if errors.As(err, &se) && !strings.HasPrefix(se.Error(), "unexpected end") {
		offset = se.Offset
	}
	line, col := 1, 1
	for i := int64(0); i < offset-1 && i < int64(len(body)); i++ {
		if body[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%s at line %d, column %d", err.Error(), line, col)
}

// rubyClass names the Ruby class CC's JSON parser gives a value: decimals
// are BigDecimal (Oj in :rails mode, MAPPING §2.1), so 1024.0 is no Integer.
func rubyClass(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "NilClass"
	}
	switch raw[0] {
	case '"':
		return "String"
	case '{':
		return "Hash"
	case '[':
		return "Array"
	case 't':
		return "TrueClass"
	case 'f':
		return "FalseClass"
	case 'n':
		return "NilClass"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "BigDecimal"
	}
	return "Integer"
}

// checkSchema validates raw against a membrane schema and returns the
// value, or membrane's message (membrane lib/membrane/schemas/class.rb,
// bool.rb, list.rb).
func checkSchema(kind membraneKind, raw json.RawMessage) (parsedValue, string) {
	var v parsedValue
	class := rubyClass(raw)
	switch kind {
	case kindBool:
		if class != "TrueClass" && class != "FalseClass" {
			// "given #{object}": Ruby's to_s, so a string comes unquoted.
			return v, "Expected instance of true or false, given " + rubyToS(raw)
		}
		v.b = class == "TrueClass"
	case kindString:
		if class != "String" {
			return v, "Expected instance of String, given an instance of " + class
		}
		if err := json.Unmarshal(raw, &v.s); err != nil {
			return v, "Expected instance of String, given an instance of " + class
		}
	case kindInteger:
		if class != "Integer" {
			return v, "Expected instance of Integer, given an instance of " + class
		}
		v.i = parseInteger(raw)
	case kindHash:
		if class != "Hash" {
			return v, "Expected instance of Hash, given an instance of " + class
		}
		if err := json.Unmarshal(raw, &v.m); err != nil {
			return v, "Expected instance of Hash, given an instance of " + class
		}
	case kindStringList:
		if class != "Array" {
			return v, "Expected instance of Array, given instance of " + class
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return v, "Expected instance of Array, given instance of " + class
		}
		v.strs = make([]string, 0, len(elems))
		var msgs []string
		for i, e := range elems {
			var str string
			if c := rubyClass(e); c != "String" || json.Unmarshal(e, &str) != nil {
				msgs = append(msgs, "At index "+strconv.Itoa(i)+": Expected instance of String, given an instance of "+c)
				continue
			}
			v.strs = append(v.strs, str)
		}
		if len(msgs) > 0 {
			return v, strings.Join(msgs, ", ")
		}
	case kindIntegerList:
		if class != "Array" {
			return v, "Expected instance of Array, given instance of " + class
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return v, "Expected instance of Array, given instance of " + class
		}
		v.list = make([]int64, 0, len(elems))
		var msgs []string
		for i, e := range elems {
			if c := rubyClass(e); c != "Integer" {
				msgs = append(msgs, "At index "+strconv.Itoa(i)+": Expected instance of Integer, given an instance of "+c)
				continue
			}
			v.list = append(v.list, parseInteger(e))
		}
		if len(msgs) > 0 {
			return v, strings.Join(msgs, ", ")
		}
	}
	return v, ""
}

// parseInteger reads a JSON integer. Ruby integers have no bound; one past
// int64 saturates, which every v3 limit refuses in turn.
func parseInteger(raw json.RawMessage) int64 {
	s := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return n
}

// rubyToS renders a parsed JSON value as Ruby's to_s does: strings as they
// are, everything else as inspect (Ruby 3.4's `{"k" => v}` for hashes).
func rubyToS(raw json.RawMessage) string {
	if rubyClass(raw) == "String" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	s, err := rubyInspect(dec)
	if err != nil {
		return string(raw)
	}
	return s
}

// rubyInspect renders the next JSON value of dec as Ruby's inspect would
// render what the parser made of it. A duplicate key keeps its first
// place and its last value, as a Ruby Hash does.
func rubyInspect(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var parts []string
			for dec.More() {
				p, err := rubyInspect(dec)
				if err != nil {
					return "", err
				}
				parts = append(parts, p)
			}
			if _, err := dec.Token(); err != nil {
				return "", err
			}
			return "[" + strings.Join(parts, ", ") + "]", nil
		}
		var keys []string
		vals := map[string]string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", err
			}
			k, _ := kt.(string)
			v, err := rubyInspect(dec)
			if err != nil {
				return "", err
			}
			if _, seen := vals[k]; !seen {
				keys = append(keys, k)
			}
			vals[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return "", err
		}
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = rubyStringInspect(k) + " => " + vals[k]
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	case string:
		return rubyStringInspect(t), nil
	case json.Number:
		return rubyNumber(string(t)), nil
	case bool:
		return strconv.FormatBool(t), nil
	case nil:
		return "nil", nil
	}
	return "", fmt.Errorf("translate: unexpected JSON token %v", tok)
}

// rubyNumber renders a JSON number as Ruby does: an Integer in decimal, a
// BigDecimal in its scientific to_s ("0.1024e4" for 1024.0).
func rubyNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if lit == "-0" {
			return "0"
		}
		return lit
	}
	sign := ""
	if strings.HasPrefix(lit, "-") {
		sign, lit = "-", lit[1:]
	}
	mant, expPart, _ := strings.Cut(strings.ToLower(lit), "e")
	exp := 0
	if expPart != "" {
		n, err := strconv.Atoi(expPart)
		if err != nil {
			return sign + lit
		}
		exp = n
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits, point = digits[1:], point-1
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return sign + "0.0"
	}
	return sign + "0." + digits + "e" + strconv.Itoa(point)
}

// rubyStringInspect is String#inspect for a UTF-8 string.
func rubyStringInspect(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\v':
			b.WriteString(`\v`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case 0x1b:
			b.WriteString(`\e`)
		case '#':
			// "#{", "#$" and "#@" would interpolate in a Ruby literal.
			if next := s[i+1:]; next != "" && strings.ContainsAny(next[:1], "{$@") {
				b.WriteString(`\#`)
			} else {
				b.WriteByte('#')
			}
		default:
			switch {
			case r == utf8.RuneError:
				b.WriteString(`\uFFFD`)
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04X`, r)
			case r == 0x7f:
				b.WriteString(`\x7F`)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// rubyWhitespace is what Ruby's String#strip removes; CC strips app names
// (AppModel strip_attributes :name).
const rubyWhitespace = " \t\n\v\f\r\x00"

// StrippedName returns the requested name as CC stores it, or "" when
// the request has none.
func (r AppRequest) StrippedName() string {
	if r.Name == nil {
		return ""
	}
	return strings.Trim(*r.Name, rubyWhitespace)
}

// DockerCredentialsGiven reports whether the request carries docker
// credentials: CC's default {} does not count (Ruby's present?).
func (r AppRequest) DockerCredentialsGiven() bool { return len(r.DockerCredentials) > 0 }

// ChangesProcess reports whether the request sets a field of the web
// process's command or health check.
func (r AppRequest) ChangesProcess() bool {
	return r.Command != nil || r.HealthCheckType != nil || r.HealthCheckTimeout != nil || r.HealthCheckHTTPEndpoint != nil
}

// ChangesScale reports whether the request sets a scaling field.
func (r AppRequest) ChangesScale() bool {
	return r.Instances != nil || r.Memory != nil || r.DiskQuota != nil || r.LogRateLimit != nil
}

// Validate applies the v2 model validations the gateway makes itself, so
// that their errors come out with v2's names and words (MAPPING §5.3). The
// order is CC's: the app's own validations first (V2::AppCreate saves the
// AppModel before the process), with Sequel's full messages; then the
// process's, in the precedence of AppsController.translate_validation_exception
// (memory, instances, state, then the rest).
func (r AppRequest) Validate() error {
	var msgs []string
	if r.Name != nil && r.StrippedName() == "" {
		msgs = append(msgs, "name is not present")
	}
	if r.EnvironmentJSON != nil {
		keys := make([]string, 0, len(r.EnvironmentJSON))
		for k := range r.EnvironmentJSON {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// AppModel#validate_environment_variables runs v3's
			// EnvironmentVariablesValidator (cc:app/messages/validators.rb).
			upper := strings.ToUpper(k)
			switch {
			case k == "":
				msgs = append(msgs, "environment_variables key must be a minimum length of 1")
			case strings.HasPrefix(upper, "VCAP_"):
				msgs = append(msgs, "environment_variables cannot start with VCAP_")
			case strings.HasPrefix(upper, "VMC"):
				msgs = append(msgs, "environment_variables cannot start with VMC_")
			case upper == "PORT":
				msgs = append(msgs, "environment_variables cannot set PORT")
			}
		}
	}
	if len(msgs) > 0 {
		return AppInvalid(strings.Join(msgs, ", "))
	}
	if r.Memory != nil && *r.Memory <= 0 {
		return AppMemoryInvalid()
	}
	if r.Instances != nil && *r.Instances < 0 {
		return AppInvalid("Number of instances less than 0")
	}
	if r.State != nil && *r.State != StateStarted && *r.State != StateStopped {
		return AppInvalid("Invalid app state provided")
	}
	for _, p := range r.Ports {
		if p < 1024 || p > 65535 {
			return AppInvalid("Ports must be in the 1024-65535 range.")
		}
	}
	return nil
}

// CheckLifecycleChange is V2::AppUpdate's validate_not_changing_lifecycle_type!:
// buildpack or stack_guid on a docker app, or docker_image on a buildpack
// app, is refused (MAPPING §2.3 step 4).
func CheckLifecycleChange(r AppRequest, lifecycleType string) error {
	docker := lifecycleType == "docker"
	if docker && (r.Buildpack != nil || r.StackGUID != nil) || !docker && r.DockerImage != nil {
		return AppInvalid("Lifecycle type cannot be changed")
	}
	return nil
}

// V3HealthCheckType is the v3 type of a v2 health check type: v3 refuses
// "none", which v2 documented as the old name of "process"
// (cc:app/messages/process_update_message.rb; MAPPING §1.2).
func V3HealthCheckType(v2Type string) string {
	if v2Type == "none" {
		return "process"
	}
	return v2Type
}

// DockerPackageImage decides whether an update writes a new docker package
// (MAPPING §2.3 step 7): an image that differs from the latest package's
// (compared case-insensitively, as CC does), or credentials, whose password
// cannot be compared. It returns the image of the new package.
func DockerPackageImage(r AppRequest, latest *V3Package) (string, bool) {
	current := ""
	if latest != nil && latest.Type == "docker" && latest.Data.Image != nil {
		current = *latest.Data.Image
	}
	switch {
	case r.DockerImage != nil && !strings.EqualFold(*r.DockerImage, current):
		return *r.DockerImage, true
	case r.DockerCredentialsGiven():
		if r.DockerImage != nil {
			return *r.DockerImage, true
		}
		return current, current != ""
	}
	return "", false
}
