package backend

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
	"capibridge/configs"
)

// The embedded UAA answers the endpoints Cloud Foundry clients use, in
// UAA's shapes (github.com/cloudfoundry/uaa): the cf CLI reads GET /login
// and posts to /oauth/token, a Cloud Controller or a gateway reads
// /.well-known/openid-configuration and /token_keys.

// uaaVersion is the UAA release /login reports: a current one, so that
// clients checking UAA's version for a feature find it new enough.
const uaaVersion = "77.0.0"

// cfClientID is the client of the cf CLI: public, with an empty secret.
const cfClientID = "cf"

// cfClientScopes are the scopes the cf client may get for a user: those of
// cf-deployment's cf client. A token gets the ones the user also holds.
var cfClientScopes = []string{
	"cloud_controller.read", "cloud_controller.write", "openid", "password.write", "cloud_controller.admin",
	"cloud_controller.admin_read_only", "cloud_controller.global_auditor", "scim.read", "scim.write",
	"doppler.firehose", "uaa.user", "routing.router_groups.read", "routing.router_groups.write",
	"network.admin", "network.write", "clients.read", "cloud_controller.update_build_state",
}

// gatewayAuthorities are what the gateway's client gets for itself: its
// background work reads audit events and finishes the v2 starts nobody
// reads (assigning droplets, starting apps), as an admin; uaa.resource
// lets it read UAA's keys as resource servers do.
var gatewayAuthorities = []string{scopeAdmin, "uaa.resource"}

// oauthClient is a client registered with the embedded UAA.
type oauthClient struct {
	id, secret string
	grants     []string
	// scopes are what the client may get on behalf of a user,
	// authorities what it gets for itself (client_credentials).
	scopes, authorities []string
}

func (s *Server) oauthClients() []oauthClient {
	return []oauthClient{
		{id: cfClientID, grants: []string{uaa.GrantPassword, uaa.GrantRefreshToken}, scopes: cfClientScopes},
		{id: s.cfg.GatewayClientID, secret: s.cfg.GatewayClientSecret, grants: []string{uaa.GrantClientCredentials},
			authorities: gatewayAuthorities},
	}
}

// serveUAA answers the embedded UAA's endpoints and reports whether the
// request was one of them.
func (s *Server) serveUAA(ctx *fasthttp.RequestCtx) bool {
	var handle func(*fasthttp.RequestCtx) error
	methods := []string{fasthttp.MethodGet, fasthttp.MethodHead}
	switch string(ctx.Path()) {
	case "/login", "/info":
		handle = s.uaaLogin
	case "/.well-known/openid-configuration":
		handle = s.uaaOpenIDConfiguration
	case "/token_key":
		handle = s.uaaTokenKey
	case "/token_keys":
		handle = s.uaaTokenKeys
	case "/userinfo":
		handle = s.uaaUserInfo
		methods = append(methods, fasthttp.MethodPost)
	case "/oauth/token":
		handle = s.uaaToken
		methods = []string{fasthttp.MethodPost}
	case "/Users":
		handle, methods = s.scimUsers, []string{fasthttp.MethodGet, fasthttp.MethodPost}
	default:
		if !strings.HasPrefix(string(ctx.Path()), "/Users/") {
			return false
		}
		handle, methods = s.scimUser, []string{fasthttp.MethodGet, fasthttp.MethodDelete}
	}
	var err error = errMethodNotAllowed(string(ctx.Method()))
	if slices.Contains(methods, string(ctx.Method())) {
		err = handle(ctx)
	}
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) || oe.status >= 500 {
			s.log.Error("UAA request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
		}
		writeOAuthError(ctx, err)
	}
	return true
}

// oauthError is an OAuth 2 error response (RFC 6749 §5.2) as UAA words
// it: the status, the error code and its description.
type oauthError struct {
	status      int
	code        string
	description string
	// scope names the scopes that may be had, for invalid_scope and
	// insufficient_scope.
	scope string
	// challenge is the WWW-Authenticate scheme and realm of a 401.
	challenge string
	cause     error
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.code, e.description, e.cause)
	}
	return e.code + ": " + e.description
}

func (e *oauthError) Unwrap() error { return e.cause }

type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Scope       string `json:"scope,omitempty"`
}

// UAA's realms: client authentication is HTTP Basic, resources take bearer tokens.
const (
	clientRealm = `Basic realm="UAA/client"`
	bearerRealm = `Bearer realm="UAA/oauth"`
)

// errBadCredentials is UAA's answer to an unknown client, a wrong secret,
// an unknown user or a wrong password alike.
func errBadCredentials() *oauthError {
	return &oauthError{status: 401, code: "unauthorized", description: "Bad credentials", challenge: clientRealm}
}

func errFullAuthentication(realm string) *oauthError {
	return &oauthError{status: 401, code: "unauthorized", description: "Full authentication is required to access this resource", challenge: realm}
}

func errInvalidToken(description string, cause error) *oauthError {
	return &oauthError{status: 401, code: "invalid_token", description: description, challenge: bearerRealm, cause: cause}
}

func errOAuthRequest(code, description string) *oauthError {
	return &oauthError{status: 400, code: code, description: description}
}

func errMethodNotAllowed(method string) *oauthError {
	return &oauthError{status: 405, code: "method_not_allowed", description: "Request method '" + method + "' is not supported"}
}

func errOAuthServer(cause error) *oauthError {
	return &oauthError{status: 500, code: "server_error", description: "Internal Server Error", cause: cause}
}

func writeOAuthError(ctx *fasthttp.RequestCtx, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = errOAuthServer(err)
	}
	if oe.challenge != "" {
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate,
			fmt.Sprintf("%s, error=%q, error_description=%q", oe.challenge, oe.code, oe.description))
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.Response.Header.Set(fasthttp.HeaderPragma, "no-cache")
	writeUAAJSON(ctx, oe.status, oauthErrorBody{Error: oe.code, Description: oe.description, Scope: oe.scope})
}

// writeUAAJSON writes v as UAA does: compact JSON, "&", "<" and ">" as they are.
func writeUAAJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.Response.Header.SetContentType("application/json;charset=UTF-8")
		ctx.SetStatusCode(500)
		ctx.SetBodyString(`{"error":"server_error","error_description":"Internal Server Error"}`)
		return
	}
	ctx.Response.Header.SetContentType("application/json;charset=UTF-8")
	ctx.SetStatusCode(status)
	ctx.SetBody(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// uaaBase is the UAA's own base URL: the uaa link of GET /.
func (s *Server) uaaBase(ctx *fasthttp.RequestCtx) string {
	return orDefault(s.cfg.UAAURL, s.baseURL(ctx))
}

// loginInfo is UAA's GET /login (and /info) as JSON (uaa LoginInfoEndpoint).
type loginInfo struct {
	App struct {
		Version string `json:"version"`
	} `json:"app"`
	Links struct {
		UAA      string `json:"uaa"`
		Passwd   string `json:"passwd"`
		Login    string `json:"login"`
		Register string `json:"register"`
	} `json:"links"`
	ZoneName       string            `json:"zone_name"`
	EntityID       string            `json:"entityID"`
	CommitID       string            `json:"commit_id"`
	IdpDefinitions map[string]string `json:"idpDefinitions"`
	Prompts        struct {
		Username []string `json:"username"`
		Password []string `json:"password"`
	} `json:"prompts"`
	Timestamp string `json:"timestamp"`
}

// uaaLogin answers GET /login: cf CLI v6 finds the token endpoint in
// links.uaa and asks for what prompts names at `cf login`.
func (s *Server) uaaLogin(ctx *fasthttp.RequestCtx) error {
	var j loginInfo
	j.App.Version = uaaVersion
	j.Links.UAA = s.uaaBase(ctx)
	j.Links.Login = orDefault(s.cfg.LoginURL, s.baseURL(ctx))
	j.Links.Passwd, j.Links.Register = "/forgot_password", "/create_account"
	j.ZoneName, j.EntityID, j.CommitID = uaa.ZoneID, "cloudfoundry-saml-login", "capibridge"
	j.IdpDefinitions = map[string]string{}
	j.Prompts.Username, j.Prompts.Password = []string{"text", "Email"}, []string{"password", "Password"}
	j.Timestamp = s.now().UTC().Format("2006-01-02T15:04:05-0700")
	writeUAAJSON(ctx, 200, j)
	return nil
}

// openIDConfiguration is UAA's /.well-known/openid-configuration (uaa
// OpenIdConfiguration): CC reads issuer from it.
type openIDConfiguration struct {
	Issuer                       string   `json:"issuer"`
	AuthorizationEndpoint        string   `json:"authorization_endpoint"`
	TokenEndpoint                string   `json:"token_endpoint"`
	TokenEndpointAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	UserinfoEndpoint             string   `json:"userinfo_endpoint"`
	JWKSURI                      string   `json:"jwks_uri"`
	ScopesSupported              []string `json:"scopes_supported"`
	ResponseTypesSupported       []string `json:"response_types_supported"`
	SubjectTypesSupported        []string `json:"subject_types_supported"`
	IDTokenSigningAlgValues      []string `json:"id_token_signing_alg_values_supported"`
	IDTokenEncryptionAlgValues   []string `json:"id_token_encryption_alg_values_supported"`
	ClaimTypesSupported          []string `json:"claim_types_supported"`
	ClaimsSupported              []string `json:"claims_supported"`
	ClaimsParameterSupported     bool     `json:"claims_parameter_supported"`
	ServiceDocumentation         string   `json:"service_documentation"`
	UILocalesSupported           []string `json:"ui_locales_supported"`
}

func (s *Server) uaaOpenIDConfiguration(ctx *fasthttp.RequestCtx) error {
	base := s.uaaBase(ctx)
	writeUAAJSON(ctx, 200, openIDConfiguration{
		Issuer:                       s.cfg.TokenIssuer,
		AuthorizationEndpoint:        base + "/oauth/authorize",
		TokenEndpoint:                base + "/oauth/token",
		TokenEndpointAuthMethods:     []string{"client_secret_basic", "client_secret_post"},
		TokenEndpointAuthSigningAlgs: []string{"RS256", "HS256"},
		UserinfoEndpoint:             base + "/userinfo",
		JWKSURI:                      base + "/token_keys",
		ScopesSupported:              []string{"openid", "profile", "email", "phone", "roles", "user_attributes"},
		ResponseTypesSupported:       []string{"code", "code id_token", "id_token", "token id_token"},
		SubjectTypesSupported:        []string{"public"},
		IDTokenSigningAlgValues:      []string{"RS256", "HS256"},
		IDTokenEncryptionAlgValues:   []string{"none"},
		ClaimTypesSupported:          []string{"normal"},
		ClaimsSupported: []string{"sub", "user_name", "origin", "iss", "auth_time", "amr", "acr", "client_id", "aud", "zid",
			"grant_type", "user_id", "azp", "scope", "exp", "iat", "jti", "rev_sig", "cid", "given_name", "family_name",
			"phone_number", "email"},
		ServiceDocumentation: "http://docs.cloudfoundry.org/api/uaa/",
		UILocalesSupported:   []string{"en-US"},
	})
	return nil
}

// refreshKeys reads keys another process added to the data dir; failing
// that, the keys already known still serve.
func (s *Server) refreshKeys() {
	if err := s.key.Refresh(); err != nil {
		s.log.Warn("reading the UAA signing keys", "err", err)
	}
}

// uaaTokenKey answers GET /token_key: the active verification key.
func (s *Server) uaaTokenKey(ctx *fasthttp.RequestCtx) error {
	s.refreshKeys()
	keys := s.key.VerificationKeys()
	writeUAAJSON(ctx, 200, keys[len(keys)-1].TokenKey())
	return nil
}

// uaaTokenKeys answers GET /token_keys: every key that verifies a token
// still in use, so tokens signed before a rotation verify until they expire.
func (s *Server) uaaTokenKeys(ctx *fasthttp.RequestCtx) error {
	s.refreshKeys()
	keys := s.key.VerificationKeys()
	out := struct {
		Keys []uaa.TokenKey `json:"keys"`
	}{Keys: make([]uaa.TokenKey, len(keys))}
	for i, k := range keys {
		out.Keys[i] = k.TokenKey()
	}
	writeUAAJSON(ctx, 200, out)
	return nil
}

// userInfo is UAA's GET /userinfo (OpenID Connect UserInfo). The seeded
// users have no names or phone, which UAA shows as empty and null.
type userInfo struct {
	UserID            string  `json:"user_id"`
	Sub               string  `json:"sub"`
	UserName          string  `json:"user_name"`
	GivenName         string  `json:"given_name"`
	FamilyName        string  `json:"family_name"`
	Email             string  `json:"email"`
	EmailVerified     bool    `json:"email_verified"`
	PhoneNumber       *string `json:"phone_number"`
	PreviousLogonTime *int64  `json:"previous_logon_time"`
	Name              string  `json:"name"`
}

// uaaAccessToken reads the bearer access token of a request to the UAA's
// own endpoints: 401 without one, or with one that does not verify or is
// a refresh token.
func (s *Server) uaaAccessToken(ctx *fasthttp.RequestCtx) (uaa.Claims, error) {
	var c uaa.Claims
	token, err := bearer(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if errors.Is(err, errNoToken) {
		return c, errFullAuthentication(bearerRealm)
	}
	if err != nil {
		return c, errInvalidToken("Invalid access token", err)
	}
	if err := s.auth.parse(token, &c); err != nil {
		return c, errInvalidToken("Invalid access token", err)
	}
	if strings.HasSuffix(c.JTI, uaa.RefreshSuffix) {
		return c, errInvalidToken("Invalid access token: a refresh token", nil)
	}
	return c, nil
}

// uaaUserInfo answers GET or POST /userinfo for a user's access token
// with the openid scope.
func (s *Server) uaaUserInfo(ctx *fasthttp.RequestCtx) error {
	c, err := s.uaaAccessToken(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Scope, "openid") {
		return &oauthError{status: 403, code: "insufficient_scope", description: "Insufficient scope for this resource", scope: "openid"}
	}
	if c.UserID == "" {
		return errInvalidToken("Invalid access token: no user", nil)
	}
	u, err := s.store.GetUser(requestCtx{ctx}, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken("Invalid access token: the user no longer exists", err)
	}
	if err != nil {
		return errOAuthServer(err)
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	writeUAAJSON(ctx, 200, userInfo{UserID: u.GUID, Sub: u.GUID, UserName: u.Username, Email: u.Email, EmailVerified: true})
	return nil
}

// tokenResponse is /oauth/token's answer (RFC 6749 §5.1, as UAA fills it).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	JTI          string `json:"jti"`
}

// uaaToken answers POST /oauth/token: the client authenticates (HTTP Basic,
// or client_id and client_secret in the form), then the grant runs.
func (s *Server) uaaToken(ctx *fasthttp.RequestCtx) error {
	client, err := s.authenticateClient(ctx)
	if err != nil {
		return err
	}
	args := ctx.PostArgs()
	grant := string(args.Peek("grant_type"))
	switch grant {
	case "":
		return errOAuthRequest("invalid_request", "Missing grant type")
	case uaa.GrantPassword, uaa.GrantRefreshToken, uaa.GrantClientCredentials:
	default:
		return errOAuthRequest("unsupported_grant_type", "Unsupported grant type: "+grant)
	}
	if !slices.Contains(client.grants, grant) {
		return &oauthError{status: 401, code: "invalid_client", description: "Unauthorized grant type: " + grant, challenge: clientRealm}
	}
	requested := strings.FieldsFunc(string(args.Peek("scope")), func(r rune) bool { return r == ' ' || r == ',' })
	s.refreshKeys()
	now := s.now()
	switch grant {
	case uaa.GrantPassword:
		return s.passwordGrant(ctx, client, requested, now)
	case uaa.GrantRefreshToken:
		return s.refreshGrant(ctx, client, requested, now)
	}
	scopes, err := narrow(client.authorities, requested)
	if err != nil {
		return err
	}
	g := uaa.Grant{Issuer: s.cfg.TokenIssuer, ClientID: client.id, GrantType: grant, Scopes: scopes, Now: now}
	return s.issue(ctx, client, g, "")
}

// authenticateClient finds the client the request authenticates as.
func (s *Server) authenticateClient(ctx *fasthttp.RequestCtx) (*oauthClient, error) {
	id, secret, ok := basicAuth(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		args := ctx.PostArgs()
		if !args.Has("client_id") {
			return nil, errFullAuthentication(clientRealm)
		}
		id, secret = string(args.Peek("client_id")), string(args.Peek("client_secret"))
	}
	// Compare with every client, so that the time taken does not tell
	// which client ids exist.
	var found *oauthClient
	for _, c := range s.oauthClients() {
		if equalSecret(id, c.id) && equalSecret(secret, c.secret) && found == nil {
			found = &c
		}
	}
	if found == nil {
		return nil, errBadCredentials()
	}
	return found, nil
}

// basicAuth reads an HTTP Basic Authorization header. RFC 6749 §2.3.1
// form-encodes the id and the secret before Basic encodes them, so they
// are decoded when they decode.
func basicAuth(header []byte) (id, secret string, ok bool) {
	scheme, enc, found := bytes.Cut(bytes.TrimSpace(header), []byte(" "))
	if !found || !bytes.EqualFold(scheme, []byte("basic")) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(enc)))
	if err != nil {
		return "", "", true
	}
	id, secret, _ = strings.Cut(string(raw), ":")
	if d, err := url.QueryUnescape(id); err == nil {
		id = d
	}
	if d, err := url.QueryUnescape(secret); err == nil {
		secret = d
	}
	return id, secret, true
}

// equalSecret compares in constant time, whatever the lengths.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// passwordOf is a seeded user's password: from backend.user_passwords, or
// the user's own name.
func passwordOf(cfg configs.Backend, username string) string {
	password := username
	for _, e := range cfg.UserPasswords {
		if name, p, _ := strings.Cut(e, "="); name == username {
			password = p
		}
	}
	return password
}

func (s *Server) passwordGrant(ctx *fasthttp.RequestCtx, client *oauthClient, requested []string, now time.Time) error {
	username, password := string(ctx.PostArgs().Peek("username")), string(ctx.PostArgs().Peek("password"))
	u, err := s.store.UserByName(requestCtx{ctx}, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Compare anyway: an unknown user takes as long as a wrong password.
		equalSecret(password, passwordOf(s.cfg, username))
		return errBadCredentials()
	case err != nil:
		return errOAuthServer(err)
	}
	if username == "" || !s.passwordMatches(requestCtx{ctx}, u, password) {
		return errBadCredentials()
	}
	scopes, err := narrow(intersect(u.Scopes, client.scopes), requested)
	if err != nil {
		return err
	}
	g := uaa.Grant{Issuer: s.cfg.TokenIssuer, ClientID: client.id, GrantType: uaa.GrantPassword,
		User: &uaa.User{ID: u.GUID, Name: u.Username, Email: u.Email}, Scopes: scopes, AuthTime: now, Now: now}
	return s.issue(ctx, client, g, "")
}

// refreshGrant mints a new access token from a refresh token, which is
// answered back unchanged (UAA does not rotate refresh tokens by default).
// The user must still exist, be who the token was issued to (rev_sig), and
// still hold the scopes.
func (s *Server) refreshGrant(ctx *fasthttp.RequestCtx, client *oauthClient, requested []string, now time.Time) error {
	raw := string(ctx.PostArgs().Peek("refresh_token"))
	if raw == "" {
		return errInvalidToken("Invalid refresh token (empty token)", nil)
	}
	var rc uaa.RefreshClaims
	if err := s.auth.parse(raw, &rc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return errInvalidToken("Invalid refresh token expired at "+time.Unix(rc.Exp, 0).UTC().Format(time.UnixDate), err)
		}
		return errInvalidToken("Invalid refresh token.", err)
	}
	if !strings.HasSuffix(rc.JTI, uaa.RefreshSuffix) || rc.UserID == "" {
		return errInvalidToken("Invalid refresh token.", nil)
	}
	if rc.CID != client.id {
		return errOAuthRequest("invalid_grant", "Wrong client for this refresh token: "+rc.CID)
	}
	u, err := s.store.GetUser(requestCtx{ctx}, rc.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken("Invalid refresh token: the user no longer exists", err)
	}
	if err != nil {
		return errOAuthServer(err)
	}
	if uaa.RevSig(client.id, u.GUID, u.Username, u.Email) != rc.RevSig {
		return errInvalidToken("Invalid refresh token: revocable signature mismatch", nil)
	}
	granted := rc.Scopes()
	if len(requested) > 0 && !containsAll(granted, requested) {
		return &oauthError{status: 400, code: "invalid_scope",
			description: "Unable to narrow the scope of the client authentication to [" + strings.Join(requested, ", ") + "].",
			scope:       strings.Join(granted, " ")}
	}
	scopes := granted
	if len(requested) > 0 {
		scopes = requested
	}
	// A scope the user has lost since is not given back.
	scopes = intersect(scopes, intersect(u.Scopes, client.scopes))
	if len(scopes) == 0 {
		return errInvalidToken("Invalid refresh token: no scopes left to grant", nil)
	}
	g := uaa.Grant{Issuer: s.cfg.TokenIssuer, ClientID: client.id, GrantType: rc.GrantType,
		User: &uaa.User{ID: u.GUID, Name: u.Username, Email: u.Email}, Scopes: scopes,
		AuthTime: time.Unix(rc.AuthTime, 0), Now: now}
	return s.issue(ctx, client, g, raw)
}

// issue signs g's tokens and answers them: the access token, and for a
// user a refresh token (refresh, when given, is answered back instead of a
// new one) and, with the openid scope, an id token (uaa IdTokenGranter).
func (s *Server) issue(ctx *fasthttp.RequestCtx, client *oauthClient, g uaa.Grant, refresh string) error {
	access := g.Access(s.cfg.TokenTTL)
	at, err := s.key.Sign(access)
	if err != nil {
		return errOAuthServer(err)
	}
	res := tokenResponse{AccessToken: at, TokenType: "bearer", ExpiresIn: access.Exp - g.Now.Unix(),
		Scope: strings.Join(g.Scopes, " "), JTI: access.JTI}
	if g.User != nil {
		if refresh == "" && slices.Contains(client.grants, uaa.GrantRefreshToken) {
			if refresh, err = s.key.Sign(g.Refresh(s.cfg.RefreshTokenTTL)); err != nil {
				return errOAuthServer(err)
			}
		}
		res.RefreshToken = refresh
		if slices.Contains(g.Scopes, "openid") && slices.Contains(client.scopes, "openid") {
			if res.IDToken, err = s.key.Sign(g.ID(s.cfg.TokenTTL)); err != nil {
				return errOAuthServer(err)
			}
		}
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.Response.Header.Set(fasthttp.HeaderPragma, "no-cache")
	writeUAAJSON(ctx, 200, res)
	return nil
}

// narrow returns the scopes a token gets: all of allowed when none are
// requested, else the requested ones, which must all be allowed.
func narrow(allowed, requested []string) ([]string, error) {
	if len(requested) == 0 {
		if len(allowed) == 0 {
			return nil, errOAuthRequest("invalid_scope", "No scopes were granted")
		}
		return allowed, nil
	}
	var invalid []string
	for _, r := range requested {
		if !slices.Contains(allowed, r) {
			invalid = append(invalid, r)
		}
	}
	if len(invalid) > 0 {
		e := errOAuthRequest("invalid_scope", "Invalid scopes: "+strings.Join(invalid, ",")+
			". Did you know that you can get default scopes by simply sending no value?")
		e.scope = strings.Join(allowed, " ")
		return nil, e
	}
	return slices.Compact(slices.Clone(requested)), nil
}

// intersect returns the members of a that b holds too, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// RotateKey adds a signing key to the embedded UAA and makes it active; it
// returns the new key's kid. The key is kept in the data dir, so a restart
// keeps it; tokens signed by the older keys verify until they expire.
func (s *Server) RotateKey() (string, error) { return s.key.Rotate() }

// VerificationKeys are the public keys of every signing key of the embedded
// UAA, the active one last: a gateway in the same process verifies tokens
// signed before a rotation with them. /token_keys lists them with their kids.
func (s *Server) VerificationKeys() []crypto.PublicKey {
	keys := s.key.VerificationKeys()
	out := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out
}

// RotateKey adds a signing key to the embedded UAA's data dir and makes it
// active, without serving: what `capibridge uaa rotate-key` does. An
// embedded CF running on that dir picks the key up at its next /oauth/token
// or key request, or its first token with the new kid; tokens signed by the
// older keys stay valid until they expire.
func RotateKey(cfg configs.Backend) (string, error) {
	if cfg.Data == store.Memory {
		return "", errors.New("backend: an in-memory store keeps its keys in memory: name a data dir")
	}
	key, err := uaa.LoadOrCreateKey(cfg.Data)
	if err != nil {
		return "", err
	}
	return key.Rotate()
}
