package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// Error is a failure the gateway answers itself (package cferr).
type Error = cferr.Error

// retryLater is an Error the client may try again after a while: the
// writer sends the wait in Retry-After (RFC 9110 §10.2.3), as the Cloud
// Controller's rate limiter does with its 429s.
type retryLater struct {
	err   *Error
	after int // seconds
}

func (r *retryLater) Error() string { return r.err.Error() }

// Unwrap returns the Error.
func (r *retryLater) Unwrap() error { return r.err }

// errRateLimited is CC's RateLimitExceeded (errors/v2.yml 10013), the
// answer to a request over its share of the upstream.
func errRateLimited(cause error) error {
	return &retryLater{err: &Error{Status: 429, Code: 10013, Name: "RateLimitExceeded", Description: "Rate Limit Exceeded", Cause: cause}, after: 1}
}

// v2ErrorBody is CC's V2ErrorHasher shape: keys in this order.
type v2ErrorBody struct {
	Description string `json:"description"`
	ErrorCode   string `json:"error_code"`
	Code        int    `json:"code"`
}

// v2UnknownBody is V2ErrorHasher::UNKNOWN_ERROR_HASH: no CF- prefix and
// another key order.
type v2UnknownBody struct {
	ErrorCode   string `json:"error_code"`
	Description string `json:"description"`
	Code        int    `json:"code"`
}

type v3ErrorBody struct {
	Errors []v3ErrorEntry `json:"errors"`
}

type v3ErrorEntry struct {
	Detail string `json:"detail"`
	Title  string `json:"title"`
	Code   int    `json:"code"`
}

// Content types of CC's answers: v2 (Sinatra) and v3 (Rails) spell them
// differently.
const (
	contentTypeV2 = "application/json;charset=utf-8"
	contentTypeV3 = "application/json; charset=utf-8"
)

// writeError is the one writer of gateway-made errors: the v2 shape
// (cc:app/presenters/v2_error_hasher.rb, a compact body ending in "\n") on
// /v2 paths, the v3 shape (v3_error_hasher.rb) elsewhere. Anything that is
// not an *Error is an unknown error.
func writeError(ctx *fasthttp.RequestCtx, err error, v2 bool) {
	var e *Error
	var te *translate.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &te):
		e = &Error{Status: te.Status, Code: te.Code, Name: te.Name, Description: te.Description, Cause: err}
	default:
		e = cferr.Unknown(err)
	}
	ctx.Response.ResetBody()
	ctx.SetStatusCode(e.Status)
	if rl := (*retryLater)(nil); errors.As(err, &rl) {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(rl.after))
	}
	if v2 {
		// Oj's compat mode, which renders v2, does not escape <, > and &.
		var b bytes.Buffer
		enc := json.NewEncoder(&b) // Encode ends with the "\n" CC's Sinatra adds
		enc.SetEscapeHTML(false)
		if e.Name == "UnknownError" {
			_ = enc.Encode(v2UnknownBody{ErrorCode: "UnknownError", Description: e.Description, Code: e.Code})
		} else {
			_ = enc.Encode(v2ErrorBody{Description: e.Description, ErrorCode: "CF-" + e.Name, Code: e.Code})
		}
		ctx.Response.Header.SetContentType(contentTypeV2)
		ctx.SetBody(b.Bytes())
		return
	}
	title := "CF-" + e.Name
	if e.Name == "UnknownError" {
		title = e.Name
	}
	b, _ := json.Marshal(v3ErrorBody{Errors: []v3ErrorEntry{{Detail: e.Description, Title: title, Code: e.Code}}})
	ctx.Response.Header.SetContentType(contentTypeV3)
	ctx.SetBody(b)
}
