// Package translate maps between the retired Cloud Controller v2 API and
// v3: v2 request parameters to v3 queries, v3 resources to exact v2
// bodies, v3 errors to v2 errors. It is pure: bytes and typed structs in,
// bytes and typed structs out; no I/O, no fasthttp, no globals.
package translate

import "fmt"

// Error is a Cloud Controller error in v2's terms: the HTTP status and
// the name and code of CC's errors/v2.yml. Description is the rendered
// message clients see.
type Error struct {
	Status      int
	Code        int
	Name        string
	Description string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Description) }

// BadQueryParameter is CC's 10005: "The query parameter is invalid: %s".
func BadQueryParameter(detail string) *Error {
	return &Error{Status: 400, Code: 10005, Name: "BadQueryParameter", Description: "The query parameter is invalid: " + detail}
}

// OrderByParameterInvalid is CC's 10012, which it answers with HTTP 500.
func OrderByParameterInvalid(value string) *Error {
	return &Error{Status: 500, Code: 10012, Name: "OrderByParameterInvalid", Description: "Cannot order by: " + value}
}

// UnknownError is CC's catch-all 10001 (500).
func UnknownError() *Error {
	return &Error{Status: 500, Code: 10001, Name: "UnknownError", Description: "An unknown error occurred."}
}
