package translate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
)

// PUT /v2/config/feature_flags/:name (MAPPING-orgs §12.4): CC loads the
// body raw and sets both enabled and error_message from it, so a body
// without error_message clears the message
// (cc:app/controllers/runtime/feature_flags_controller.rb#update_feature_flag).

// ffMessage is FeatureFlag::FF_ERROR_MESSAGE_REGEX: one or more printable
// characters (Ruby's \Z also takes one trailing newline).
var ffMessage = regexp.MustCompile(`^[^\p{Cc}]+\n?$`)

// FeatureFlagInvalid is CC's 330001.
func FeatureFlagInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 330001, Name: "FeatureFlagInvalid", Description: "The feature flag is invalid: " + detail}
}

// V3FeatureFlagSet parses a v2 flag body into the PATCH
// /v3/feature_flags/:name body, which always carries both keys. enabled is
// typecast as Sequel types a boolean column (a string "false", "f", "no",
// "n" or "0" is false, any other string true, "" nothing); a missing one
// is "enabled presence". A body that is not a JSON object fails in CC
// outside its rescue, an unknown error.
func V3FeatureFlagSet(body []byte) ([]byte, error) {
	var raw map[string]json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &raw) != nil {
		return nil, UnknownError()
	}
	enabled, ok := sequelBoolean(raw["enabled"])
	if !ok {
		return nil, FeatureFlagInvalid("enabled presence")
	}
	var msg *string
	if v, given := raw["error_message"]; given && !isJSONNull(v) {
		s, isString := jsonScalarText(v)
		if !isString && s == "" {
			return nil, UnknownError()
		}
		if !ffMessage.MatchString(s) {
			return nil, FeatureFlagInvalid("error_message format")
		}
		msg = &s
	}
	return json.Marshal(struct {
		Enabled            bool    `json:"enabled"`
		CustomErrorMessage *string `json:"custom_error_message"`
	}{enabled, msg})
}

// sequelBoolean typecasts a JSON value as Sequel does for a boolean
// column; ok is false for a value that leaves the column empty.
func sequelBoolean(v json.RawMessage) (value, ok bool) {
	switch rubyClass(v) {
	case "TrueClass":
		return true, true
	case "FalseClass":
		return false, true
	case "String":
		var s string
		_ = json.Unmarshal(v, &s)
		switch s {
		case "":
			return false, false
		case "false", "f", "no", "n", "0":
			return false, true
		}
		return true, true
	case "Integer", "BigDecimal":
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		return err == nil && f != 0, true
	}
	return false, false
}

// jsonScalarText is a string's value, or a number's or boolean's text (as
// Sequel typecasts it into a string column); "" for anything else.
func jsonScalarText(v json.RawMessage) (string, bool) {
	switch rubyClass(v) {
	case "String":
		var s string
		_ = json.Unmarshal(v, &s)
		return s, true
	case "Integer", "BigDecimal", "TrueClass", "FalseClass":
		return string(bytes.TrimSpace(v)), false
	}
	return "", false
}

// FeatureFlagWriteError maps v3's refusal of a flag update: 404 is the
// unknown flag, 403 NotAuthorized, a 422 v3's message limits (1 to 250
// characters) as v2's invalid flag.
func FeatureFlagWriteError(status int, detail, name string) *Error {
	switch status {
	case 404:
		return FeatureFlagNotFound(name)
	case 403:
		return NotAuthorized()
	case 422:
		return FeatureFlagInvalid(detail)
	}
	return nil
}
