package translate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// The v2 environment variable groups (MAPPING-orgs §12.5): the group's
// raw object, no envelope. v2 stored any JSON; v3 keeps strings only, so
// a value that is not a string is stored as its JSON text (a later GET
// shows "123" for 123) and a null value is left out.

// V3EnvGroup is GET /v3/environment_variable_groups/:name.
type V3EnvGroup struct {
	Name string            `json:"name"`
	Var  map[string]string `json:"var"`
}

// EnvGroupBody is the v2 GET body: the variables as an object, {} when
// there are none.
func EnvGroupBody(g V3EnvGroup) ([]byte, error) {
	if g.Var == nil {
		return []byte(`{}`), nil
	}
	return json.Marshal(g.Var)
}

// EnvironmentVariableGroupInvalid is CC's 380001.
func EnvironmentVariableGroupInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 380001, Name: "EnvironmentVariableGroupInvalid", Description: "The Environment Variable Group is invalid: " + detail}
}

var (
	envKeyVCAP = regexp.MustCompile(`(?i)^VCAP_`)
	envKeyVMC  = regexp.MustCompile(`(?i)^VMC`)
	envKeyPORT = regexp.MustCompile(`(?i)^PORT$`)
)

// EnvGroupSet is a parsed PUT body: echo is what v2 answers (the body as
// sent, compact), patch the PATCH /v3/environment_variable_groups/:name
// body that makes the group equal to it given the current variables.
type EnvGroupSet struct {
	Echo  []byte
	patch map[string]*string
}

// ParseEnvGroupSet parses a PUT body as EnvironmentVariableGroupsController
// does: Oj's parse failure is MessageParseError, null has its own text,
// and the model's EnvironmentVariablesValidator checks the keys. Its
// messages are added as hashes to a Sequel model, so full_messages
// renders them as Ruby hashes ("environment_json {message: ...}";
// cc:app/messages/validators.rb).
func ParseEnvGroupSet(body []byte) (EnvGroupSet, error) {
	trimmed := bytes.TrimSpace(body)
	var doc json.RawMessage
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return EnvGroupSet{}, MessageParseError(syntaxMessage(trimmed, err))
	}
	if isJSONNull(doc) {
		return EnvGroupSet{}, EnvironmentVariableGroupInvalid("Cannot be 'null'. You may want to try empty object '{}' to clear the group.")
	}
	invalid := func(msg string) error {
		return EnvironmentVariableGroupInvalid(`environment_json {message: "` + msg + `"}`)
	}
	if rubyClass(doc) != "Hash" {
		return EnvGroupSet{}, invalid("must be an object")
	}
	keys, err := jsonObjectKeys(doc)
	if err != nil {
		return EnvGroupSet{}, MessageParseError(err.Error())
	}
	var vars map[string]json.RawMessage
	if err := json.Unmarshal(doc, &vars); err != nil {
		return EnvGroupSet{}, MessageParseError(err.Error())
	}
	var msgs []string
	patch := make(map[string]*string, len(vars))
	for _, k := range keys {
		switch {
		case k == "":
			msgs = append(msgs, "key must be a minimum length of 1")
		case envKeyVCAP.MatchString(k):
			msgs = append(msgs, "cannot start with VCAP_")
		case envKeyVMC.MatchString(k):
			msgs = append(msgs, "cannot start with VMC_")
		case envKeyPORT.MatchString(k):
			msgs = append(msgs, "cannot set PORT")
		}
		v := vars[k]
		if isJSONNull(v) {
			continue
		}
		s := string(v)
		if rubyClass(v) == "String" {
			_ = json.Unmarshal(v, &s)
		} else {
			var c bytes.Buffer
			_ = json.Compact(&c, v)
			s = c.String()
		}
		patch[k] = &s
	}
	if len(msgs) > 0 {
		parts := make([]string, len(msgs))
		for i, m := range msgs {
			parts[i] = `environment_json {message: "` + m + `"}`
		}
		return EnvGroupSet{}, EnvironmentVariableGroupInvalid(strings.Join(parts, ", "))
	}
	var echo bytes.Buffer
	_ = json.Compact(&echo, doc)
	return EnvGroupSet{Echo: echo.Bytes(), patch: patch}, nil
}

// V3Patch is the PATCH body that replaces current with the set: its
// variables, and null for every current one it drops (v3 merges).
func (s EnvGroupSet) V3Patch(current map[string]string) ([]byte, error) {
	vars := make(map[string]*string, len(s.patch)+len(current))
	for k := range current {
		vars[k] = nil
	}
	for k, v := range s.patch {
		vars[k] = v
	}
	return json.Marshal(map[string]any{"var": vars})
}

// jsonObjectKeys lists a JSON object's keys in document order, each once.
func jsonObjectKeys(doc json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
