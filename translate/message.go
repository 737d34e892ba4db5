package translate

import (
	"bytes"
	"encoding/json"
	"strings"
)

// bodyField is one attribute of a v2 request body as its controller's
// define_attributes declares it: its name, its membrane schema, and
// whether a create must give it.
type bodyField struct {
	name     string
	kind     membraneKind
	required bool
}

// message is a parsed v2 body: the values of the attributes given, by
// name; absent and null ones are missing.
type message map[string]parsedValue

// parseMessage parses a v2 body as CC's JsonMessage does
// (cc:lib/vcap/json_message.rb, MAPPING §2.1): the bytes are JSON whatever
// the Content-Type; a duplicate key's last value wins; keys whose value is
// null are dropped; unknown keys are ignored; every attribute is checked
// against its membrane schema, and all failures are reported at once, in
// the fields' order, as one MessageParseError. On create the required
// fields must be there.
func parseMessage(body []byte, fields []bodyField, create bool) (message, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, MessageParseError("Decoded JSON cannot be nil")
	}
	var top json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, MessageParseError(syntaxMessage(trimmed, err))
	}
	switch trimmed[0] {
	case '{':
	case 'n', 'f':
		// null and false are both falsy to `raise ParseError unless dec_json`.
		return nil, MessageParseError("Decoded JSON cannot be nil")
	default:
		// Any other document fails in CC on delete_if or key? with a
		// NoMethodError, which it answers as an unknown error.
		return nil, UnknownError()
	}
	var raw map[string]json.RawMessage // a later duplicate overwrites, as in a Ruby Hash
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, MessageParseError(syntaxMessage(trimmed, err))
	}
	m := message{}
	var errs []string
	for _, f := range fields {
		v, ok := raw[f.name]
		if ok && isJSONNull(v) {
			ok = false // dec_json.delete_if { |_k, v| v.nil? }
		}
		if !ok {
			if create && f.required {
				errs = append(errs, "Field: "+f.name+", Error: Missing field "+f.name)
			}
			continue
		}
		pv, msg := checkSchema(f.kind, v)
		if msg != "" {
			errs = append(errs, "Field: "+f.name+", Error: "+msg)
			continue
		}
		m[f.name] = pv
	}
	if len(errs) > 0 {
		return nil, MessageParseError(strings.Join(errs, ", "))
	}
	return m, nil
}

// str returns the string attribute name, or nil when it was not given.
func (m message) str(name string) *string {
	if v, ok := m[name]; ok {
		return &v.s
	}
	return nil
}

// integer returns the integer attribute name, or nil.
func (m message) integer(name string) *int64 {
	if v, ok := m[name]; ok {
		return &v.i
	}
	return nil
}

// boolean returns the boolean attribute name, or nil.
func (m message) boolean(name string) *bool {
	if v, ok := m[name]; ok {
		return &v.b
	}
	return nil
}
