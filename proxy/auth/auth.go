// Package auth checks bearer tokens at the gateway's door the way the Cloud
// Controller does (MAPPING §4; cc:lib/cloud_controller/uaa/uaa_token_decoder.rb
// and cf-uaa-lib's TokenCoder): it parses the Authorization header, verifies
// the JWT against HMAC secrets, static PEM keys or UAA's /token_keys (with
// rotation), applies UAA's claim rules, caches verified tokens until they
// expire, and answers the v2 scope questions.
//
// The package never authorises by role: the user's token goes upstream and
// the Cloud Controller does that (DESIGN, "The user's token goes upstream").
package auth

import "slices"

// The scopes the Cloud Controller checks (cc:app/controllers/base/base_controller.rb,
// cc:app/controllers/v3/application_controller.rb).
const (
	// ScopeAdmin is the Cloud Controller administrator.
	ScopeAdmin = "cloud_controller.admin"
	// ScopeAdminReadOnly reads everything and its secrets, writes nothing.
	ScopeAdminReadOnly = "cloud_controller.admin_read_only"
	// ScopeGlobalAuditor reads everything but secrets.
	ScopeGlobalAuditor = "cloud_controller.global_auditor"
	// ScopeRead lets a user read what its roles show.
	ScopeRead = "cloud_controller.read"
	// ScopeWrite lets a user write where its roles allow.
	ScopeWrite = "cloud_controller.write"
	// ScopeUser is accepted by v2 /permissions as well as the read scopes
	// (MAPPING §4).
	ScopeUser = "cloud_controller.user"
)

// Identity is the verified caller of a request. An Identity returned by
// Verify may be shared with other requests carrying the same token (it comes
// from the verified-token cache): treat it, and its Scopes, as read-only.
type Identity struct {
	// UserID is the token's user_id; empty for an OAuth client's own token.
	UserID string
	// ClientID is the token's client_id.
	ClientID string
	// UserName is the token's user_name.
	UserName string
	// Email is the token's email.
	Email string
	// Scopes is the token's scope list.
	Scopes []string
	// Expires is the token's exp, in Unix seconds.
	Expires int64
}

// ID is who the Cloud Controller takes the caller to be: the user_id, or
// the client_id when there is none, meaning an OAuth client acting for
// itself (MAPPING §4).
func (id *Identity) ID() string {
	if id.UserID != "" {
		return id.UserID
	}
	return id.ClientID
}

// HasAny reports whether the identity holds at least one of scopes.
func (id *Identity) HasAny(scopes ...string) bool {
	for _, s := range scopes {
		if slices.Contains(id.Scopes, s) {
			return true
		}
	}
	return false
}

// CanRead reports whether the token may call v2 reads (list, read, env,
// summary, stats, instances): CC's read_with_token? (MAPPING §4).
func (id *Identity) CanRead() bool {
	return id.HasAny(ScopeAdmin, ScopeAdminReadOnly, ScopeRead, ScopeGlobalAuditor)
}

// CanWrite reports whether the token may call v2 writes (create, update,
// delete, bits upload, route mapping): CC's write_with_token?.
func (id *Identity) CanWrite() bool {
	return id.HasAny(ScopeAdmin, ScopeWrite)
}

// SeesAll reports whether the identity holds a global role that sees every
// resource regardless of org and space roles (CC's roles.rb: admin,
// admin_read_only, global_auditor).
func (id *Identity) SeesAll() bool {
	return id.HasAny(ScopeAdmin, ScopeAdminReadOnly, ScopeGlobalAuditor)
}

// Reason is why a token was refused. It is the bounded label of
// capibridge_auth_failures_total, so its values are fixed: the Reason*
// constants.
type Reason string

// The reasons Verify refuses a token for.
const (
	// ReasonMissing: no Authorization header, or one that does not start
	// with "bearer" (CC's token_format_valid?: a Basic header is no token).
	ReasonMissing Reason = "missing"
	// ReasonMalformed: not "bearer <jwt>", not a JWT, bad base64 or JSON, an
	// exp that is not an integer, or a token over the size limit.
	ReasonMalformed Reason = "malformed"
	// ReasonAlgorithm: alg is not accepted, or no configured key can verify
	// it (an HS256 token without hmac_secrets: algorithm confusion).
	ReasonAlgorithm Reason = "algorithm"
	// ReasonSignature: the signature fails every key, after one refetch.
	ReasonSignature Reason = "signature"
	// ReasonExpired: exp is past (beyond the leeway).
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: nbf or iat is in the future beyond the leeway.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonAudience: aud names none of the configured audiences.
	ReasonAudience Reason = "audience"
	// ReasonIssuer: iss is not the issuer.
	ReasonIssuer Reason = "issuer"
	// ReasonJTI: jti is missing, or ends in "-r" (a refresh token).
	ReasonJTI Reason = "jti"
	// ReasonIdentity: the token has neither user_id nor client_id.
	ReasonIdentity Reason = "identity"
	// ReasonKeysUnavailable: the keys (or the issuer) must come from UAA and
	// UAA has not answered yet; CC answers UaaUnavailable.
	ReasonKeysUnavailable Reason = "keys_unavailable"
)

// Reasons lists every Reason, so that a metric can start each label at 0.
func Reasons() []Reason {
	return []Reason{ReasonMissing, ReasonMalformed, ReasonAlgorithm, ReasonSignature, ReasonExpired,
		ReasonNotYetValid, ReasonAudience, ReasonIssuer, ReasonJTI, ReasonIdentity, ReasonKeysUnavailable}
}

// Error is a refused token: every error Verify returns is an *Error.
//
// Callers answer: Missing → 401 NotAuthenticated (10002); Unavailable → 503
// UaaUnavailable (20004); anything else → 401 InvalidAuthToken (1000)
// (MAPPING §4, errors-v2.yml).
type Error struct {
	// Reason is the bounded cause, for metrics and for choosing the answer.
	Reason Reason
	// Err is the detail, for logs; never show it to clients.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err == nil {
		return "auth: " + string(e.Reason)
	}
	return "auth: " + string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

// Missing reports whether there was no bearer token at all, which CC
// answers with NotAuthenticated rather than InvalidAuthToken.
func (e *Error) Missing() bool { return e.Reason == ReasonMissing }

// Unavailable reports whether the token could not be checked because UAA
// has not given the keys or the issuer (CC's UaaUnavailable).
func (e *Error) Unavailable() bool { return e.Reason == ReasonKeysUnavailable }

// Class is the class of callers who get the same answers from the Cloud
// Controller: everything that changes what it shows a read, and nothing
// else (never the token itself). That is the user, whose roles decide
// visibility and which secrets show, and the scopes that widen it
// (cc:lib/cloud_controller/permissions.rb):
//   - admin and admin_read_only read everything, secrets included
//     (can_read_globally?, can_read_secrets_globally?): one class for all
//     of them, whoever they are;
//   - global_auditor sees every resource, and the secrets of the spaces
//     where the user is a developer: a class per user, apart from the
//     same user's tokens without it, which see only the user's spaces.
//
// cloud_controller.read and .write do not matter: a token with neither
// and no global scope is refused before any read (InsufficientScope), and
// CC checks .write only for verbs other than GET and HEAD
// (cc:app/controllers/v3/application_controller.rb,
// check_write_permissions!), so a read shows the same with or without it.
func Class(id *Identity) string {
	switch {
	case id == nil:
		return "anonymous"
	case id.HasAny(ScopeAdmin, ScopeAdminReadOnly):
		return "admin"
	case id.HasAny(ScopeGlobalAuditor):
		return "global_auditor:" + id.ID()
	}
	return "user:" + id.ID()
}
