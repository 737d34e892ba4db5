// Package cferr holds the errors the gateway answers itself, as values
// carrying the Cloud Controller's status, name and code (errors/v2.yml).
// The gateway's one error writer (proxy/errors.go) renders them in the v2
// or v3 shape.
package cferr

import "fmt"

// Error is a failure in the Cloud Controller's terms: the HTTP status, and
// the name and code from CC's errors/v2.yml. Clients see Description; the
// Cause stays in the logs.
type Error struct {
	Status      int
	Code        int
	Name        string
	Description string
	Cause       error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s (%d): %s: %v", e.Name, e.Code, e.Description, e.Cause)
	}
	return fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Description)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// The errors the gateway itself raises (texts from errors/v2.yml).

// NotFound is CC's answer to a path it does not serve.
func NotFound() *Error { return &Error{404, 10000, "NotFound", "Unknown request", nil} }

// NotAuthenticated is a request without a token.
func NotAuthenticated() *Error {
	return &Error{401, 10002, "NotAuthenticated", "Authentication error", nil}
}

// NotAuthorized is a role refusal.
func NotAuthorized(cause error) *Error {
	return &Error{403, 10003, "NotAuthorized", "You are not authorized to perform the requested action", cause}
}

// InvalidAuthToken is a token that does not verify.
func InvalidAuthToken(cause error) *Error {
	return &Error{401, 1000, "InvalidAuthToken", "Invalid Auth Token", cause}
}

// InsufficientScope is a token without the scopes a route needs.
func InsufficientScope() *Error {
	return &Error{403, 10007, "InsufficientScope", "Your token lacks the necessary scopes to access this resource.", nil}
}

// UaaUnavailable is a UAA the gateway cannot reach.
func UaaUnavailable(cause error) *Error {
	return &Error{503, 20004, "UaaUnavailable", "The UAA service is currently unavailable", cause}
}

// BadRequest is CC's 1004 with its detail.
func BadRequest(detail string) *Error {
	return &Error{400, 1004, "BadRequest", "Bad request: " + detail, nil}
}

// Unknown is CC's 500 UnknownError; the cause is only logged.
func Unknown(cause error) *Error {
	return &Error{500, 10001, "UnknownError", "An unknown error occurred.", cause}
}

// Brownout is a v2 request refused during a brownout (migration.brownouts):
// 410 Gone, in the v2 shape with the configured description. The Cloud
// Controller has no such error; its code is the gateway's own, outside
// errors/v2.yml's ranges.
func Brownout(description string) *Error {
	return &Error{410, 10999, "V2Brownout", description, nil}
}
