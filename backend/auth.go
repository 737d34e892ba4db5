package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
)

// The scopes CC's v3 controllers check (cc:app/controllers/v3/application_controller.rb).
const (
	scopeAdmin         = "cloud_controller.admin"
	scopeAdminReadOnly = "cloud_controller.admin_read_only"
	scopeGlobalAuditor = "cloud_controller.global_auditor"
	scopeRead          = "cloud_controller.read"
	scopeWrite         = "cloud_controller.write"
)

// resourceID is the audience CC requires (capi-release uaa.resource_id).
const resourceID = "cloud_controller"

// principal is the verified caller of a request.
type principal struct {
	GUID     string
	Username string
	Email    string
	Scopes   []string
}

func (p *principal) has(scope string) bool { return slices.Contains(p.Scopes, scope) }

func (p *principal) admin() bool { return p.has(scopeAdmin) }

// readsAll is true for the global roles that see every resource.
func (p *principal) readsAll() bool {
	return p.admin() || p.has(scopeAdminReadOnly) || p.has(scopeGlobalAuditor)
}

func (p *principal) canRead() bool { return p.readsAll() || p.has(scopeRead) }

func (p *principal) canWrite() bool { return p.admin() || p.has(scopeWrite) }

func (p *principal) viewer() store.Viewer { return store.Viewer{All: p.readsAll(), UserGUID: p.GUID} }

func (p *principal) actor() store.Actor {
	name := p.Email
	if name == "" {
		name = p.Username
	}
	return store.Actor{GUID: p.GUID, Type: "user", Name: name}
}

// verifier checks bearer tokens as CC does (MAPPING §4): RS256 from one of
// the embedded UAA's keys, the cloud_controller audience, an integer exp in
// the future, a jti that is not a refresh token's, and the configured
// issuer.
type verifier struct {
	key    *uaa.Key
	issuer string
	now    func() time.Time

	// verified remembers tokens that passed, until they expire: clients
	// send one token many times, and an RSA verification is the largest
	// single cost of a small request. Bounded by maxVerified.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p   *principal
	exp int64
}

// maxVerified bounds the verified-token cache; past it the cache starts over.
const maxVerified = 4096

var errNoToken = errors.New("backend: no bearer token")

// bearer returns the JWT of an Authorization header value, or errNoToken
// when there is none (a non-bearer header counts as none).
func bearer(header []byte) (string, error) {
	if len(header) < 6 || !bytes.EqualFold(header[:6], []byte("bearer")) {
		return "", errNoToken
	}
	// Anything that starts with "bearer" is a token (CC's token_format_valid?),
	// and cf-uaa-lib's TokenCoder#decode wants exactly "bearer <jwt>" split
	// on runs of whitespace (Ruby's split(' ')): "bearer" alone or
	// "bearerX <jwt>" is an invalid token, not a missing one.
	parts := strings.Fields(string(header))
	if len(parts) != 2 || !strings.EqualFold(parts[0], "bearer") {
		return "", errors.New("backend: malformed bearer header")
	}
	return parts[1], nil
}

// authenticate returns the principal of an Authorization header value, or
// errNoToken when there is none.
func (v *verifier) authenticate(header []byte) (*principal, error) {
	token, err := bearer(header)
	if err != nil {
		return nil, err
	}
	if p := v.lookup(token); p != nil {
		return p, nil
	}
	var claims uaa.Claims
	if err := v.parseAsCC(token, &claims); err != nil {
		return nil, err
	}
	if !slices.Contains(claims.Aud, resourceID) {
		return nil, errors.New("backend: token audience lacks cloud_controller")
	}
	if claims.JTI == "" || strings.HasSuffix(claims.JTI, uaa.RefreshSuffix) {
		return nil, errors.New("backend: token jti missing or a refresh token")
	}
	// A token with no user_id is an OAuth client's (client_credentials),
	// known by its client_id (cc:lib/cloud_controller/security/security_context_configurer.rb).
	id := claims.UserID
	if id == "" {
		id = claims.ClientID
	}
	if id == "" {
		return nil, errors.New("backend: token has neither user_id nor client_id")
	}
	p := &principal{GUID: id, Username: claims.UserName, Email: claims.Email, Scopes: claims.Scope}
	v.remember(token, p, claims.Exp)
	return p, nil
}

// parseAsCC verifies a token sent to the Cloud Controller's API as CC's
// UaaTokenDecoder does (MAPPING §4; cc:lib/cloud_controller/uaa/uaa_token_decoder.rb,
// uaa_verification_keys.rb): the kid is ignored and every verification
// key is tried, the one the kid names first, which only saves work; when
// none verifies, the keys are read again once (a key `capibridge uaa
// rotate-key` added while this process runs) and tried again. So a valid
// signature is accepted under any kid, as the gateway accepts it
// (proxy/auth), and a signature no key makes is refused under any kid.
func (v *verifier) parseAsCC(token string, claims jwt.Claims) error {
	known := len(v.key.VerificationKeys())
	err := v.parseWith(token, claims, v.everyKey)
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) && v.key.Refresh() == nil && len(v.key.VerificationKeys()) != known {
		err = v.parseWith(token, claims, v.everyKey)
	}
	return err
}

// everyKey is the key function of parseAsCC: every verification key, the
// one the token's kid names first.
func (v *verifier) everyKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	keys := v.key.VerificationKeys()
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, 0, len(keys))}
	for _, k := range keys {
		if k.KID == kid {
			set.Keys = append(set.Keys, k.Key)
		}
	}
	for _, k := range keys {
		if k.KID != kid {
			set.Keys = append(set.Keys, k.Key)
		}
	}
	return set, nil
}

// parse verifies a JWT sent to the embedded UAA's own endpoints (a refresh
// token, /userinfo) into claims: RS256 by the key its kid names (the
// active key when it names none). A kid this process does not
// know makes it read the data dir again, for a key that `capibridge uaa
// rotate-key` added while it runs.
func (v *verifier) parse(token string, claims jwt.Claims) error {
	return v.parseWith(token, claims, v.namedKey)
}

// parseWith verifies token into claims with the keys keyFunc gives: RS256,
// RS384 or RS512, an exp in the future and the configured issuer.
func (v *verifier) parseWith(token string, claims jwt.Claims, keyFunc jwt.Keyfunc) error {
	_, err := jwt.ParseWithClaims(token, claims, keyFunc, jwt.WithValidMethods([]string{"RS256", "RS384", "RS512"}),
		jwt.WithTimeFunc(v.now), jwt.WithExpirationRequired(), jwt.WithIssuer(v.issuer))
	if err != nil {
		return fmt.Errorf("backend: token: %w", err)
	}
	return nil
}

// namedKey is the key function of parse: the key the kid names.
func (v *verifier) namedKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return v.key.Public(), nil
	}
	if k := v.key.Lookup(kid); k != nil {
		return k, nil
	}
	if err := v.key.Refresh(); err != nil {
		return nil, err
	}
	if k := v.key.Lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("backend: unknown kid %q", kid)
}

func (v *verifier) lookup(token string) *principal {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.verified[token]
	if !ok {
		return nil
	}
	if t.exp <= v.now().Unix() {
		delete(v.verified, token)
		return nil
	}
	return t.p
}

func (v *verifier) remember(token string, p *principal, exp int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verified == nil || len(v.verified) >= maxVerified {
		v.verified = make(map[string]verifiedToken)
	}
	v.verified[token] = verifiedToken{p: p, exp: exp}
}

// spaceRoles tells what a principal may do in one space. suspended is set
// for a non-admin writer whose organization is suspended.
type spaceRoles struct {
	read, write, secrets, suspended bool
}

// writeErr is CC v3's unauthorized!/suspended! pair, in that order: no
// write role is NotAuthorized, a writer in a suspended org OrgSuspended.
func (r spaceRoles) writeErr() error {
	switch {
	case !r.write:
		return errNotAuthorized()
	case r.suspended:
		return errOrgSuspended()
	}
	return nil
}

// rolesIn computes CC's permission checks for a space the caller can already
// see: writes need admin or space developer (can_write_to_active_space?) in
// an active org, admins excepted (is_space_active?); secrets need admin,
// admin_read_only or space developer (can_read_secrets_in_space?).
func (s *Server) rolesIn(ctx context.Context, p *principal, orgGUID, spaceGUID string) (spaceRoles, error) {
	if p.admin() {
		return grant(p, nil, false), nil
	}
	roles, err := s.store.RolesIn(ctx, p.GUID, orgGUID, spaceGUID)
	if err != nil {
		return spaceRoles{}, err
	}
	r := grant(p, roles, false)
	if r.write {
		org, err := s.store.GetOrg(ctx, store.Viewer{All: true}, orgGUID)
		if err != nil {
			return spaceRoles{}, err
		}
		r.suspended = org.Suspended
	}
	return r, nil
}

// grant is rolesIn's rule over what is already read: roles are the types p
// holds in the org and the space (store.RolesIn), and a writer's org is
// suspended when orgSuspended is set.
func grant(p *principal, roles []string, orgSuspended bool) spaceRoles {
	if p.admin() {
		return spaceRoles{read: true, write: true, secrets: true}
	}
	dev := slices.Contains(roles, store.RoleSpaceDeveloper)
	return spaceRoles{
		read:      p.readsAll() || len(roles) > 0,
		write:     dev,
		secrets:   dev || p.has(scopeAdminReadOnly),
		suspended: dev && orgSuspended,
	}
}
