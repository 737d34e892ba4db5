package backend

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"
)

// apiError is a Cloud Controller v3 error: the HTTP status, and the code and
// title from CC's errors/v2.yml and errors/v3.yml tables.
type apiError struct {
	Status int
	Code   int
	Title  string
	Detail string
	cause  error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%d): %s: %v", e.Title, e.Code, e.Detail, e.cause)
	}
	return fmt.Sprintf("%s (%d): %s", e.Title, e.Code, e.Detail)
}

func (e *apiError) Unwrap() error { return e.cause }

func errNotFound(what string) *apiError {
	return &apiError{Status: 404, Code: 10010, Title: "CF-ResourceNotFound", Detail: what + " not found"}
}

func errUnknownRequest() *apiError {
	return &apiError{Status: 404, Code: 10000, Title: "CF-NotFound", Detail: "Unknown request"}
}

func errNotAuthenticated() *apiError {
	return &apiError{Status: 401, Code: 10002, Title: "CF-NotAuthenticated", Detail: "Authentication error"}
}

func errInvalidAuthToken(cause error) *apiError {
	return &apiError{Status: 401, Code: 1000, Title: "CF-InvalidAuthToken", Detail: "Invalid Auth Token", cause: cause}
}

func errNotAuthorized() *apiError {
	return &apiError{Status: 403, Code: 10003, Title: "CF-NotAuthorized", Detail: "You are not authorized to perform the requested action"}
}

// errOrgSuspended is CC v3's suspended!: a writer in a suspended
// organization (cc:app/controllers/v3/application_controller.rb).
func errOrgSuspended() *apiError {
	return &apiError{Status: 403, Code: 10017, Title: "CF-OrgSuspended", Detail: "The organization is suspended"}
}

// errBadQuery is CC's BadQueryParameter, whose errors/v2.yml text wraps the
// joined validation messages: "The query parameter is invalid: %s".
func errBadQuery(detail string) *apiError {
	return &apiError{Status: 400, Code: 10005, Title: "CF-BadQueryParameter", Detail: "The query parameter is invalid: " + detail}
}

func errParse(detail string) *apiError {
	return &apiError{Status: 400, Code: 1001, Title: "CF-MessageParseError", Detail: "Request invalid due to parse error: " + detail}
}

func errUnprocessable(detail string) *apiError {
	return &apiError{Status: 422, Code: 10008, Title: "CF-UnprocessableEntity", Detail: detail}
}

func errUniqueness(detail string) *apiError {
	return &apiError{Status: 422, Code: 10016, Title: "CF-UniquenessError", Detail: detail}
}

func errInternal(cause error) *apiError {
	return &apiError{Status: 500, Code: 10001, Title: "UnknownError", Detail: "An unknown error occurred.", cause: cause}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Detail string `json:"detail"`
	Title  string `json:"title"`
	Code   int    `json:"code"`
}

// writeError renders err in CC's v3 shape (cc:app/presenters/v3_error_hasher.rb).
// Anything that is not an apiError is an internal error whose text the
// client never sees.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal(err)
	}
	b, _ := json.Marshal(errorBody{Errors: []errorEntry{{Detail: ae.Detail, Title: ae.Title, Code: ae.Code}}})
	ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	ctx.SetStatusCode(ae.Status)
	ctx.SetBody(b)
}
