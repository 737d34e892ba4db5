package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"capibridge/backend/store"
)

// object is a decoded JSON object body whose values are still raw, so that
// each field can be type-checked with CC's wording.
type object map[string]json.RawMessage

// decodeObject parses a request body that must be one JSON object whose
// keys are all in allowed. Malformed JSON is 400 MessageParseError; unknown
// keys are 422 "Unknown field(s)", as CC's BaseMessage says.
func decodeObject(body []byte, allowed ...string) (object, error) {
	o, err := decodeAny(body)
	if err != nil {
		return nil, err
	}
	if err := o.only(allowed...); err != nil {
		return nil, err
	}
	return o, nil
}

// decodeAny parses a request body that must be one JSON object, whatever
// its keys, for a message that reports unknown keys among its other errors.
func decodeAny(body []byte) (object, error) {
	var o object
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&o); err != nil || o == nil || dec.More() {
		return nil, errParse("invalid request body")
	}
	return o, nil
}

// decodeMessage parses the body of a message that takes metadata and
// reports every problem at once, and starts its problems in the order of
// CC's messages: the metadata's, then keys outside allowed.
func decodeMessage(body []byte, allowed ...string) (object, *metadataPatch, problems, error) {
	o, err := decodeAny(body)
	if err != nil {
		return nil, nil, nil, err
	}
	var p problems
	md, err := o.metadata()
	p.addErr("", err)
	p.addErr("", o.only(allowed...))
	return o, md, p, nil
}

func (o object) only(allowed ...string) error {
	var unknown []string
	for k := range o {
		if !contains(allowed, k) {
			unknown = append(unknown, "'"+k+"'")
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return errUnprocessable("Unknown field(s): " + strings.Join(unknown, ", "))
}

func (o object) has(key string) bool {
	_, ok := o[key]
	return ok
}

func (o object) isNull(key string) bool {
	v, ok := o[key]
	return ok && string(bytes.TrimSpace(v)) == "null"
}

// str reads an optional string field; nil when absent or null.
func (o object) str(key, label string) (*string, error) {
	v, ok := o[key]
	if !ok || o.isNull(key) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, errUnprocessable(label + " must be a string")
	}
	return &s, nil
}

// integer reads an optional integer field; a float or string is refused.
func (o object) integer(key, label string) (*int64, error) {
	v, ok := o[key]
	if !ok || o.isNull(key) {
		return nil, nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return nil, errUnprocessable(label + " is not a number")
	}
	i, err := n.Int64()
	if err != nil {
		return nil, errUnprocessable(label + " must be an integer")
	}
	return &i, nil
}

func (o object) boolean(key, label string) (*bool, error) {
	v, ok := o[key]
	if !ok || o.isNull(key) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, errUnprocessable(label + " must be a boolean")
	}
	return &b, nil
}

// sub reads a nested object; nil when absent or null.
func (o object) sub(key, label string) (object, error) {
	v, ok := o[key]
	if !ok || o.isNull(key) {
		return nil, nil
	}
	var inner object
	if err := json.Unmarshal(v, &inner); err != nil || inner == nil {
		return nil, errUnprocessable(label + " must be an object")
	}
	return inner, nil
}

// metadataPatch is a metadata update: a nil value deletes the key.
type metadataPatch struct {
	labels, annotations map[string]*string
}

// Label and annotation key and value rules (cc:app/messages/validators/metadata_validator_helper.rb).
var (
	metaBadChar = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)
	metaEnds    = regexp.MustCompile(`^[a-zA-Z0-9](.*[a-zA-Z0-9])?$`)
	metaPrefix  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

func (o object) metadata() (*metadataPatch, error) {
	m, err := o.sub("metadata", "Metadata")
	if m == nil || err != nil {
		return nil, err
	}
	// MetadataValidator's texts: unexpected keys listed with spaces between.
	if err := m.only("labels", "annotations"); err != nil {
		var unexpected []string
		for k := range m {
			if k != "labels" && k != "annotations" {
				unexpected = append(unexpected, "'"+k+"'")
			}
		}
		sort.Strings(unexpected)
		return nil, errUnprocessable("Metadata has unexpected field(s): " + strings.Join(unexpected, " "))
	}
	var p metadataPatch
	for _, kind := range []string{"labels", "annotations"} {
		raw, err := m.sub(kind, "")
		if err != nil {
			return nil, errUnprocessable("Metadata '" + kind + "' is not an object")
		}
		vals := map[string]*string{}
		for k, v := range raw {
			if err := checkMetaKey(strings.TrimSuffix(kind, "s"), k); err != nil {
				return nil, err
			}
			if raw.isNull(k) {
				vals[k] = nil
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, errUnprocessable("Metadata " + kind + " value for '" + k + "' must be a string")
			}
			if kind == "labels" && s != "" {
				if why := metaNameError(s); why != "" {
					return nil, errUnprocessable("Metadata label value error: " + why)
				}
			}
			if r := []rune(s); kind == "annotations" && len(r) > 5000 {
				return nil, errUnprocessable("Metadata annotation value error: '" + string(r[:8]) + "...' is greater than 5000 characters")
			}
			vals[k] = &s
		}
		if kind == "labels" {
			p.labels = vals
		} else {
			p.annotations = vals
		}
	}
	return &p, nil
}

// checkMetaKey checks a label or annotation key in the order of CC's
// MetadataValidatorHelper#key_error and with its words: "Metadata label key
// error: 'na me' contains invalid characters". kind is "label" or
// "annotation"; the key's name part, without its prefix, is what is quoted.
func checkMetaKey(kind, key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	bad := func(why string) error {
		return errUnprocessable("Metadata " + kind + " key error: " + why)
	}
	switch {
	case key == "":
		return bad("key cannot be empty string")
	case strings.Count(key, "/") > 1:
		return bad("key has more than one '/'")
	case hasPrefix && !metaPrefix.MatchString(prefix):
		return bad("prefix '" + prefix + "' must be in valid dns format")
	case hasPrefix && len(prefix) > 253:
		return bad("prefix '" + prefix[:8] + "...' is greater than 253 characters")
	case hasPrefix && strings.HasSuffix(prefix, "cloudfoundry.org"):
		return bad("prefix 'cloudfoundry.org' is reserved")
	case name == "":
		return bad("key cannot be empty string")
	}
	if why := metaNameError(name); why != "" {
		return bad(why)
	}
	return nil
}

// metaNameError is why a key name or label value is refused, or "".
func metaNameError(s string) string {
	switch {
	case metaBadChar.MatchString(s):
		return "'" + s + "' contains invalid characters"
	case !metaEnds.MatchString(s):
		return "'" + s + "' starts or ends with invalid characters"
	case len(s) > 63:
		return "'" + s[:8] + "...' is greater than 63 characters"
	}
	return ""
}

// apply merges the patch into current metadata; nil values delete.
func apply(current store.Metadata, patch map[string]*string) store.Metadata {
	out := store.Metadata{}
	for k, v := range current {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

// envVars reads an environment variables object; a null value is kept as
// nil (a deletion in a PATCH). Keys follow CC's EnvironmentVariablesValidator.
func (o object) envVars(key, label string) (map[string]json.RawMessage, error) {
	if !o.has(key) {
		return nil, nil
	}
	vars, err := o.sub(key, label)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(vars))
	for k, v := range vars {
		switch {
		case k == "":
			return nil, errUnprocessable(label + " key must be a minimum length of 1")
		case strings.HasPrefix(strings.ToUpper(k), "VCAP_"):
			return nil, errUnprocessable(label + " cannot start with VCAP_")
		case strings.HasPrefix(strings.ToUpper(k), "VMC"):
			return nil, errUnprocessable(label + " cannot start with VMC_")
		case strings.ToUpper(k) == "PORT":
			return nil, errUnprocessable(label + " cannot set PORT")
		}
		if vars.isNull(k) {
			out[k] = nil
			continue
		}
		out[k] = append(json.RawMessage(nil), bytes.TrimSpace(v)...)
	}
	return out, nil
}

// parseToManyMessage validates a body as ToManyRelationshipMessage does:
// only data, present, an array, each guid a string.
func parseToManyMessage(body []byte) ([]string, error) {
	return parseGUIDsData(body, func(i int, _ json.RawMessage) string {
		return fmt.Sprintf("Invalid data type: Data[%d] guid should be a string.", i)
	})
}

// parseGUIDsData validates a body whose only key is data, a non-blank
// array of {"guid": "..."}: every problem in one 422, an item whose guid
// is not a string worded by itemProblem from its index and its guid.
func parseGUIDsData(body []byte, itemProblem func(i int, guid json.RawMessage) string) ([]string, error) {
	o, err := decodeAny(body)
	if err != nil {
		return nil, err
	}
	var p problems
	p.addErr("", o.only("data"))
	raw := o["data"]
	var items []json.RawMessage
	isArray := jsonKind(raw) == '[' && json.Unmarshal(raw, &items) == nil
	if jsonBlank(raw) {
		p.add("Data can't be blank")
	}
	if !isArray {
		p.add("Data must be an array")
	}
	guids := make([]string, 0, len(items))
	for i, item := range items {
		// An item that is not an object leaves ref nil, without a guid.
		var ref map[string]json.RawMessage
		var g string
		_ = json.Unmarshal(item, &ref)
		if jsonKind(ref["guid"]) != '"' || json.Unmarshal(ref["guid"], &g) != nil {
			p.add(itemProblem(i, ref["guid"]))
			continue
		}
		guids = append(guids, g)
	}
	return guids, p.err()
}
