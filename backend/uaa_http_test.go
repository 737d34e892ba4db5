package backend

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"capibridge/backend/uaa"
)

var seededUsers = []string{"admin", "developer", "auditor", "outsider"}

// uaaReq is one request to the embedded UAA: basic is the HTTP Basic
// "id:secret" ("" sends none), form the urlencoded body.
type uaaReq struct {
	method, path string
	basic        string
	bearer       string
	form         url.Values
}

func (c *cf) uaa(r uaaReq) resp {
	c.t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org" + r.path)
	req.Header.SetMethod(r.method)
	req.Header.Set("Accept", "application/json")
	if r.basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.basic)))
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "bearer "+r.bearer)
	}
	if r.form != nil {
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(r.form.Encode())
	}
	if err := c.client.Do(req, res); err != nil {
		c.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	h := map[string]string{}
	for k, v := range res.Header.All() {
		h[string(k)] = string(v)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: h}
}

// tokenJSON is /oauth/token's answer.
type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	JTI          string `json:"jti"`
}

type oauthErrJSON struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Scope       string `json:"scope"`
}

// login runs the password grant as the cf CLI does and fails the test
// unless it succeeds.
func (c *cf) login(user, password string, extra url.Values) tokenJSON {
	c.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	for k, v := range extra {
		form[k] = v
	}
	r := c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: "cf:", form: form})
	if r.status != 200 {
		c.t.Fatalf("password grant for %s: %d %s", user, r.status, r.body)
	}
	var tok tokenJSON
	r.json(c.t, &tok)
	return tok
}

// claimsOf decodes a JWT's header and claims without verifying it.
func claimsOf(t testing.TB, token string, claims jwt.Claims) map[string]any {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		t.Fatalf("decoding %q: %v", token, err)
	}
	return tok.Header
}

// bearerAuth is the raw Authorization value do sends for an unknown user.
func bearerAuth(token string) string { return "bearer " + token }

func TestUAAPasswordGrantForEachSeededUser(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	for _, user := range seededUsers {
		t.Run(user, func(t *testing.T) {
			c := c.forTest(t)
			tok := c.login(user, user, nil)
			if tok.TokenType != "bearer" || tok.RefreshToken == "" || tok.IDToken == "" || tok.JTI == "" ||
				tok.ExpiresIn != int64(c.srv.cfg.TokenTTL.Seconds()) {
				t.Errorf("token response %+v", tok)
			}
			c.must(200, "GET", "/v3/apps", bearerAuth(tok.AccessToken), nil)

			// The same claims as `capibridge token` mints, bar the times and the jti.
			var got, minted uaa.Claims
			header := claimsOf(t, tok.AccessToken, &got)
			claimsOf(t, c.tokens[user], &minted)
			if header["kid"] != uaa.KeyID || header["alg"] != "RS256" || header["typ"] != "JWT" {
				t.Errorf("header %v", header)
			}
			if got.JTI != tok.JTI || strings.Join(got.Scope, " ") != tok.Scope {
				t.Errorf("response jti %q scope %q, token jti %q scope %v", tok.JTI, tok.Scope, got.JTI, got.Scope)
			}
			got.JTI, got.IAT, got.Exp, got.AuthTime = minted.JTI, minted.IAT, minted.Exp, minted.AuthTime
			if a, b := mustJSON(t, got), mustJSON(t, minted); a != b {
				t.Errorf("password grant claims\n%s\ndiffer from MintToken's\n%s", a, b)
			}

			var id uaa.IDClaims
			claimsOf(t, tok.IDToken, &id)
			if id.Sub != got.UserID || id.UserName != user || !slices.Equal(id.Aud, []string{"cf"}) {
				t.Errorf("id token %+v", id)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUAATokenErrors(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	pw := func(user, password string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	gw := c.srv.cfg.GatewayClientID + ":" + c.srv.cfg.GatewayClientSecret
	cases := []struct {
		name   string
		req    uaaReq
		status int
		err    oauthErrJSON
	}{
		{"wrong password", uaaReq{basic: "cf:", form: pw("developer", "admin")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"empty password", uaaReq{basic: "cf:", form: pw("developer", "")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"unknown user", uaaReq{basic: "cf:", form: pw("nobody", "nobody")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"unknown client", uaaReq{basic: "stranger:", form: pw("admin", "admin")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"cf with a secret", uaaReq{basic: "cf:secret", form: pw("admin", "admin")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"gateway with a wrong secret", uaaReq{basic: c.srv.cfg.GatewayClientID + ":nope", form: cc}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"unknown client in the form", uaaReq{form: url.Values{"client_id": {"stranger"}, "client_secret": {""}, "grant_type": {"password"}}}, 401, oauthErrJSON{Error: "unauthorized", Description: "Bad credentials"}},
		{"no client", uaaReq{form: pw("admin", "admin")}, 401, oauthErrJSON{Error: "unauthorized", Description: "Full authentication is required to access this resource"}},
		{"no grant type", uaaReq{basic: "cf:", form: url.Values{"username": {"admin"}}}, 400, oauthErrJSON{Error: "invalid_request", Description: "Missing grant type"}},
		{"unsupported grant", uaaReq{basic: "cf:", form: url.Values{"grant_type": {"implicit"}}}, 400, oauthErrJSON{Error: "unsupported_grant_type", Description: "Unsupported grant type: implicit"}},
		{"cf may not use client_credentials", uaaReq{basic: "cf:", form: cc}, 401, oauthErrJSON{Error: "invalid_client", Description: "Unauthorized grant type: client_credentials"}},
		{"gateway may not use password", uaaReq{basic: gw, form: pw("admin", "admin")}, 401, oauthErrJSON{Error: "invalid_client", Description: "Unauthorized grant type: password"}},
		{"scope the user lacks", uaaReq{basic: "cf:", form: func() url.Values {
			f := pw("developer", "developer")
			f.Set("scope", "cloud_controller.admin")
			return f
		}()},
			400, oauthErrJSON{Error: "invalid_scope", Description: "Invalid scopes: cloud_controller.admin. Did you know that you can get default scopes by simply sending no value?",
				Scope: "cloud_controller.read cloud_controller.write openid password.write uaa.user"}},
		{"empty refresh token", uaaReq{basic: "cf:", form: url.Values{"grant_type": {"refresh_token"}}}, 401, oauthErrJSON{Error: "invalid_token", Description: "Invalid refresh token (empty token)"}},
		{"garbage refresh token", uaaReq{basic: "cf:", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a.b.c"}}}, 401, oauthErrJSON{Error: "invalid_token", Description: "Invalid refresh token."}},
		{"an access token as refresh token", uaaReq{basic: "cf:", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.tokens["admin"]}}}, 401, oauthErrJSON{Error: "invalid_token", Description: "Invalid refresh token."}},
		{"GET", uaaReq{method: "GET", basic: "cf:"}, 405, oauthErrJSON{Error: "method_not_allowed", Description: "Request method 'GET' is not supported"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			tc.req.path = "/oauth/token"
			if tc.req.method == "" {
				tc.req.method = "POST"
			}
			r := c.uaa(tc.req)
			var got oauthErrJSON
			r.json(t, &got)
			if r.status != tc.status || got != tc.err {
				t.Errorf("got %d %+v, want %d %+v", r.status, got, tc.status, tc.err)
			}
			if r.status == 401 && r.header["Www-Authenticate"] == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if ct := r.header["Content-Type"]; ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestUAAClientAuthentication(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	form := url.Values{"grant_type": {"password"}, "username": {"auditor"}, "password": {"auditor"}, "client_id": {"cf"}, "client_secret": {""}}
	r := c.uaa(uaaReq{method: "POST", path: "/oauth/token", form: form})
	if r.status != 200 {
		t.Fatalf("client in the form: %d %s", r.status, r.body)
	}
	// Form-encoded Basic credentials (RFC 6749 §2.3.1), as golang.org/x/oauth2 sends them.
	cfg := testConfig()
	cfg.GatewayClientID, cfg.GatewayClientSecret = "gate way", "s3cr+t:&"
	c2 := startCF(t, &cfg)
	basic := url.QueryEscape(cfg.GatewayClientID) + ":" + url.QueryEscape(cfg.GatewayClientSecret)
	if r := c2.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: basic, form: url.Values{"grant_type": {"client_credentials"}}}); r.status != 200 {
		t.Errorf("encoded Basic credentials: %d %s", r.status, r.body)
	}
}

func TestUAAConfiguredPasswords(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.UserPasswords = []string{"admin=s3cret=x", "auditor="}
	c := startCF(t, &cfg)
	cases := []struct {
		user, password string
		ok             bool
	}{
		{"admin", "s3cret=x", true},
		{"admin", "admin", false},
		{"auditor", "", true},
		{"auditor", "auditor", false},
		{"developer", "developer", true},
	}
	for _, tc := range cases {
		form := url.Values{"grant_type": {"password"}, "username": {tc.user}, "password": {tc.password}}
		r := c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: "cf:", form: form})
		if (r.status == 200) != tc.ok {
			t.Errorf("%s/%q: status %d, want ok=%v", tc.user, tc.password, r.status, tc.ok)
		}
	}
}

func TestUAAScopeNarrowing(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	tok := c.login("developer", "developer", url.Values{"scope": {"cloud_controller.read"}})
	if tok.Scope != "cloud_controller.read" || tok.IDToken != "" {
		t.Errorf("narrowed token %+v: want only cloud_controller.read and no id token", tok)
	}
	c.must(200, "GET", "/v3/apps", bearerAuth(tok.AccessToken), nil)
	if code, _ := c.must(403, "POST", "/v3/apps", bearerAuth(tok.AccessToken), map[string]any{"name": "x"}).errCode(); code != 10003 {
		t.Errorf("write with a read-only token: code %d", code)
	}
}

func TestUAARefreshGrant(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	c := startCF(t, nil, WithClock(clock.Now))
	first := c.login("developer", "developer", nil)

	var rc uaa.RefreshClaims
	header := claimsOf(t, first.RefreshToken, &rc)
	if header["kid"] != uaa.KeyID || !strings.HasSuffix(rc.JTI, "-r") || rc.GrantType != "password" || rc.CID != "cf" ||
		rc.UserID != DeveloperGUID || rc.Exp != clock.Now().Add(c.srv.cfg.RefreshTokenTTL).Unix() ||
		!slices.Contains(rc.Aud, "cloud_controller") || strings.Join(rc.GrantedScopes, " ") != first.Scope {
		t.Errorf("refresh token %v %+v", header, rc)
	}
	// CC refuses a refresh token as a bearer token.
	if code, _ := c.must(401, "GET", "/v3/apps", bearerAuth(first.RefreshToken), nil).errCode(); code != 1000 {
		t.Errorf("refresh token as bearer: code %d", code)
	}

	clock.Advance(time.Hour)
	refresh := func(rt string, extra url.Values) resp {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"cf"}, "client_secret": {""}}
		for k, v := range extra {
			form[k] = v
		}
		return c.uaa(uaaReq{method: "POST", path: "/oauth/token", form: form})
	}
	r := refresh(first.RefreshToken, url.Values{"scope": {""}})
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	var second tokenJSON
	r.json(t, &second)
	if second.RefreshToken != first.RefreshToken || second.Scope != first.Scope || second.AccessToken == first.AccessToken || second.IDToken == "" {
		t.Errorf("refreshed %+v", second)
	}
	var a1, a2 uaa.Claims
	claimsOf(t, first.AccessToken, &a1)
	claimsOf(t, second.AccessToken, &a2)
	if a2.GrantType != "password" || a2.AuthTime != a1.AuthTime || a2.IAT != a1.IAT+3600 || a2.UserID != DeveloperGUID {
		t.Errorf("refreshed access token %+v", a2)
	}
	c.must(200, "GET", "/v3/apps", bearerAuth(second.AccessToken), nil)

	r = refresh(first.RefreshToken, url.Values{"scope": {"cloud_controller.read openid"}})
	var narrow tokenJSON
	r.json(t, &narrow)
	if r.status != 200 || narrow.Scope != "cloud_controller.read openid" {
		t.Errorf("narrowing refresh: %d %s", r.status, r.body)
	}
	r = refresh(first.RefreshToken, url.Values{"scope": {"cloud_controller.admin"}})
	var e oauthErrJSON
	r.json(t, &e)
	if r.status != 400 || e.Error != "invalid_scope" {
		t.Errorf("widening refresh: %d %s", r.status, r.body)
	}

	// A refresh token for a user who is not the one it names any more, or
	// for no user at all, is refused; so is one past its exp.
	forged := func(edit func(*uaa.RefreshClaims)) string {
		g := uaa.Grant{Issuer: c.srv.cfg.TokenIssuer, ClientID: "cf", GrantType: "password",
			User:   &uaa.User{ID: DeveloperGUID, Name: "developer", Email: "developer@example.org"},
			Scopes: []string{"cloud_controller.read"}, AuthTime: clock.Now(), Now: clock.Now()}
		claims := g.Refresh(time.Hour)
		edit(&claims)
		tok, err := c.srv.key.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for name, tc := range map[string]struct {
		token string
		desc  string
	}{
		"renamed user": {forged(func(rc *uaa.RefreshClaims) { rc.RevSig = uaa.RevSig("cf", DeveloperGUID, "dev", "dev@example.org") }),
			"Invalid refresh token: revocable signature mismatch"},
		"missing user": {forged(func(rc *uaa.RefreshClaims) { rc.UserID = "05e40000-0000-4000-8000-0000000000ff" }),
			"Invalid refresh token: the user no longer exists"},
		"expired": {forged(func(rc *uaa.RefreshClaims) { rc.Exp = clock.Now().Add(-time.Second).Unix() }), ""},
	} {
		r := refresh(tc.token, nil)
		var e oauthErrJSON
		r.json(t, &e)
		if r.status != 401 || e.Error != "invalid_token" || tc.desc != "" && e.Description != tc.desc ||
			name == "expired" && !strings.HasPrefix(e.Description, "Invalid refresh token expired at ") {
			t.Errorf("%s: %d %+v", name, r.status, e)
		}
	}
}

func TestUAAClientCredentials(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.createApp("developer", "dev-app", nil)
	c.createApp("admin", "admin-app", nil)
	basic := c.srv.cfg.GatewayClientID + ":" + c.srv.cfg.GatewayClientSecret
	r := c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: basic, form: url.Values{"grant_type": {"client_credentials"}}})
	if r.status != 200 {
		t.Fatalf("client_credentials: %d %s", r.status, r.body)
	}
	var tok tokenJSON
	r.json(t, &tok)
	if tok.RefreshToken != "" || tok.IDToken != "" || tok.Scope != "cloud_controller.admin uaa.resource" {
		t.Errorf("client token response %+v", tok)
	}
	var claims uaa.Claims
	claimsOf(t, tok.AccessToken, &claims)
	if claims.Sub != c.srv.cfg.GatewayClientID || claims.ClientID != claims.Sub || claims.UserID != "" || claims.UserName != "" ||
		claims.GrantType != "client_credentials" || !slices.Equal(claims.Authorities, claims.Scope) || !slices.Contains(claims.Aud, "cloud_controller") {
		t.Errorf("client token claims %+v", claims)
	}
	auth := bearerAuth(tok.AccessToken)
	all := c.listPage("admin", "/v3/apps").Pagination.TotalResults
	if got := c.listPage(auth, "/v3/apps").Pagination.TotalResults; got != all || all < 2 {
		t.Errorf("the gateway client sees %d apps, admin %d", got, all)
	}
	// It writes as an admin: its background work starts apps.
	c.must(201, "POST", "/v3/apps", auth, map[string]any{"name": "by-the-gateway",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": DemoSpaceGUID}}}})
	// Narrowing works; widening does not.
	r = c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: basic, form: url.Values{"grant_type": {"client_credentials"}, "scope": {"scim.write"}}})
	if r.status != 400 {
		t.Errorf("client_credentials with a scope it lacks: %d %s", r.status, r.body)
	}
}

func TestUAATokenKeysVerifyIssuedTokens(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	if _, err := c.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Keys []uaa.TokenKey `json:"keys"`
	}
	c.must(200, "GET", "/token_keys", "", nil).json(t, &keys)
	if len(keys.Keys) != 2 || keys.Keys[0].Kid != "key-1" || keys.Keys[1].Kid != "key-2" {
		t.Fatalf("token_keys %+v", keys)
	}
	var active uaa.TokenKey
	c.must(200, "GET", "/token_key", "", nil).json(t, &active)
	if active != keys.Keys[1] {
		t.Errorf("token_key %+v is not the newest of token_keys", active)
	}
	tokens := map[string]string{"key-1": c.tokens["admin"], "key-2": c.login("admin", "admin", nil).AccessToken}
	for _, k := range keys.Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" {
			t.Errorf("key %+v", k)
		}
		block, _ := pem.Decode([]byte(k.Value))
		if block == nil {
			t.Fatalf("key %s: value %q is no PEM", k.Kid, k.Value)
		}
		fromPEM, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil {
			t.Fatalf("key %s: n/e not base64url: %v %v", k.Kid, errN, errE)
		}
		fromNE := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		for name, pub := range map[string]any{"pem": fromPEM, "n/e": fromNE} {
			tok, err := jwt.Parse(tokens[k.Kid], func(*jwt.Token) (any, error) { return pub, nil })
			if err != nil || tok.Header["kid"] != k.Kid {
				t.Errorf("key %s (%s) does not verify its token: %v", k.Kid, name, err)
			}
		}
	}
}

func TestUAALoginAndDiscovery(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	var login struct {
		App struct {
			Version string `json:"version"`
		} `json:"app"`
		Links          map[string]string   `json:"links"`
		ZoneName       string              `json:"zone_name"`
		EntityID       string              `json:"entityID"`
		CommitID       string              `json:"commit_id"`
		IdpDefinitions map[string]any      `json:"idpDefinitions"`
		Prompts        map[string][]string `json:"prompts"`
		Timestamp      string              `json:"timestamp"`
	}
	r := c.uaa(uaaReq{method: "GET", path: "/login"})
	if r.status != 200 {
		t.Fatalf("/login: %d %s", r.status, r.body)
	}
	r.json(t, &login)
	base := "http://api.example.org"
	if login.App.Version == "" || login.Links["uaa"] != base || login.Links["login"] != base || login.Links["passwd"] != "/forgot_password" ||
		login.Links["register"] != "/create_account" || login.ZoneName != "uaa" || login.EntityID == "" || login.CommitID == "" ||
		login.IdpDefinitions == nil || !slices.Equal(login.Prompts["username"], []string{"text", "Email"}) ||
		!slices.Equal(login.Prompts["password"], []string{"password", "Password"}) {
		t.Errorf("/login %s", r.body)
	}
	if _, err := time.Parse("2006-01-02T15:04:05-0700", login.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", login.Timestamp, err)
	}
	// The root document sends clients to the same UAA.
	var root rootJSON
	c.must(200, "GET", "/", "", nil).json(t, &root)
	if root.Links.UAA.Href != login.Links["uaa"] || root.Links.Login.Href != login.Links["login"] {
		t.Errorf("root links uaa %q login %q", root.Links.UAA.Href, root.Links.Login.Href)
	}

	var oidc map[string]any
	c.must(200, "GET", "/.well-known/openid-configuration", "", nil).json(t, &oidc)
	want := map[string]any{"issuer": c.srv.cfg.TokenIssuer, "token_endpoint": base + "/oauth/token", "jwks_uri": base + "/token_keys",
		"userinfo_endpoint": base + "/userinfo", "authorization_endpoint": base + "/oauth/authorize"}
	for k, v := range want {
		if oidc[k] != v {
			t.Errorf("openid-configuration %s = %v, want %v", k, oidc[k], v)
		}
	}
	for _, k := range []string{"claims_supported", "scopes_supported", "id_token_signing_alg_values_supported", "response_types_supported"} {
		if _, ok := oidc[k].([]any); !ok {
			t.Errorf("openid-configuration lacks %s", k)
		}
	}

	if r := c.uaa(uaaReq{method: "POST", path: "/token_keys"}); r.status != 405 {
		t.Errorf("POST /token_keys: %d", r.status)
	}

	// Configured UAA and login URLs win over the request's host.
	cfg := testConfig()
	cfg.UAAURL, cfg.LoginURL = "https://uaa.example.org", "https://login.example.org/"
	c2 := startCF(t, &cfg)
	c2.uaa(uaaReq{method: "GET", path: "/login"}).json(t, &login)
	c2.must(200, "GET", "/.well-known/openid-configuration", "", nil).json(t, &oidc)
	if login.Links["uaa"] != cfg.UAAURL || login.Links["login"] != "https://login.example.org" || oidc["token_endpoint"] != cfg.UAAURL+"/oauth/token" {
		t.Errorf("configured URLs: links %v, token_endpoint %v", login.Links, oidc["token_endpoint"])
	}
}

func TestUAAUserInfo(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	tok := c.login("auditor", "auditor", nil)
	for _, method := range []string{"GET", "POST"} {
		r := c.uaa(uaaReq{method: method, path: "/userinfo", bearer: tok.AccessToken})
		if r.status != 200 {
			t.Fatalf("%s /userinfo: %d %s", method, r.status, r.body)
		}
		var info map[string]any
		r.json(t, &info)
		want := map[string]any{"user_id": AuditorGUID, "sub": AuditorGUID, "user_name": "auditor", "email": "auditor@example.org",
			"email_verified": true, "given_name": "", "family_name": "", "phone_number": nil, "previous_logon_time": nil, "name": ""}
		for k, v := range want {
			if got, ok := info[k]; !ok || got != v {
				t.Errorf("userinfo %s = %v (present %v), want %v", k, got, ok, v)
			}
		}
	}

	noOpenID := c.login("auditor", "auditor", url.Values{"scope": {"cloud_controller.read"}})
	gateway := c.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: c.srv.cfg.GatewayClientID + ":" + c.srv.cfg.GatewayClientSecret,
		form: url.Values{"grant_type": {"client_credentials"}}})
	var gw tokenJSON
	gateway.json(t, &gw)
	cases := []struct {
		name   string
		bearer string
		status int
		err    string
	}{
		{"no token", "", 401, "unauthorized"},
		{"garbage", "x.y.z", 401, "invalid_token"},
		{"refresh token", tok.RefreshToken, 401, "invalid_token"},
		{"no openid scope", noOpenID.AccessToken, 403, "insufficient_scope"},
		{"client token", gw.AccessToken, 403, "insufficient_scope"},
	}
	for _, tc := range cases {
		r := c.uaa(uaaReq{method: "GET", path: "/userinfo", bearer: tc.bearer})
		var e oauthErrJSON
		r.json(t, &e)
		if r.status != tc.status || e.Error != tc.err {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.err)
		}
	}
}

// Rotation: tokens signed before stay valid, after a restart too, and a
// key rotated by another process (capibridge uaa rotate-key) is picked up
// by a running embedded CF.
func TestUAAKeyRotation(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t.TempDir())
	first := startCF(t, &cfg)
	tokenA := first.login("developer", "developer", nil)
	kid, err := first.srv.RotateKey()
	if err != nil || kid != "key-2" {
		t.Fatalf("RotateKey = %q, %v", kid, err)
	}
	tokenB := first.login("developer", "developer", nil)
	for name, tok := range map[string]tokenJSON{"key-1": tokenA, "key-2": tokenB} {
		if h := claimsOf(t, tok.AccessToken, &uaa.Claims{}); h["kid"] != name {
			t.Errorf("token kid %v, want %s", h["kid"], name)
		}
		first.must(200, "GET", "/v3/apps", bearerAuth(tok.AccessToken), nil)
	}
	if n := len(first.srv.VerificationKeys()); n != 2 {
		t.Errorf("VerificationKeys: %d keys", n)
	}
	if !first.srv.VerificationKeys()[1].(*rsa.PublicKey).Equal(first.srv.VerificationKey()) {
		t.Error("VerificationKey is not the active key")
	}
	first.stop()

	second := startCF(t, &cfg)
	for name, tok := range map[string]tokenJSON{"A": tokenA, "B": tokenB} {
		second.must(200, "GET", "/v3/apps", bearerAuth(tok.AccessToken), nil)
		// The refresh token signed by the old key still refreshes.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		if r := second.uaa(uaaReq{method: "POST", path: "/oauth/token", basic: "cf:", form: form}); r.status != 200 {
			t.Errorf("refresh token %s after restart: %d %s", name, r.status, r.body)
		}
	}
	var keys struct {
		Keys []uaa.TokenKey `json:"keys"`
	}
	second.must(200, "GET", "/token_keys", "", nil).json(t, &keys)
	if len(keys.Keys) != 2 {
		t.Errorf("token_keys after restart: %d keys", len(keys.Keys))
	}
	if h := claimsOf(t, second.tokens["admin"], &uaa.Claims{}); h["kid"] != "key-2" {
		t.Errorf("after restart tokens are signed by %v, want key-2", h["kid"])
	}

	// Another process rotates; `capibridge token` then signs with key-3,
	// which the running embedded CF has never seen.
	kid, err = RotateKey(cfg)
	if err != nil || kid != "key-3" {
		t.Fatalf("RotateKey(cfg) = %q, %v", kid, err)
	}
	minted, err := IssueToken(context.Background(), cfg, "auditor")
	if err != nil {
		t.Fatal(err)
	}
	if h := claimsOf(t, minted, &uaa.Claims{}); h["kid"] != "key-3" {
		t.Errorf("capibridge token signed with %v, want key-3", h["kid"])
	}
	second.must(200, "GET", "/v3/apps", bearerAuth(minted), nil)
	if h := claimsOf(t, second.login("admin", "admin", nil).AccessToken, &uaa.Claims{}); h["kid"] != "key-3" {
		t.Errorf("the running embedded CF still signs with %v", h["kid"])
	}
	if _, err := RotateKey(testConfig()); err == nil {
		t.Error("RotateKey on an in-memory store succeeded")
	}
}

// TestUAAVerifierKids: the Cloud Controller ignores a token's kid and
// tries every verification key, reading the keys again once when none
// verifies (MAPPING §4; cc:lib/cloud_controller/uaa/uaa_token_decoder.rb,
// uaa_verification_keys.rb): a valid signature is accepted under any kid,
// an unknown one included, and a signature no key makes is refused under
// any kid. The embedded UAA's own endpoints keep theirs: the kid names the
// key.
func TestUAAVerifierKids(t *testing.T) {
	t.Parallel()
	// A data dir whose signing key the test holds.
	dir := t.TempDir()
	writeKey := func(name string) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return k
	}
	mine := writeKey(uaa.KeyFile)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fileConfig(dir)
	c := startCF(t, &cfg)
	claims := uaa.UserToken(c.srv.cfg.TokenIssuer, DeveloperGUID, "developer", "developer@example.org",
		[]string{"cloud_controller.read", "openid"}, c.srv.now(), time.Hour)
	sign := func(kid string, key *rsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"no kid, the active key", sign("", mine), 200},
		{"its own kid", sign("key-1", mine), 200},
		{"an unknown kid, a known key", sign("key-7", mine), 200},
		{"a kid that is not a key's name", sign("../../etc/passwd", mine), 200},
		{"a known kid, an unknown key", sign("key-1", other), 401},
		{"an unknown kid, an unknown key", sign("key-7", other), 401},
		{"no kid, an unknown key", sign("", other), 401},
	} {
		if r := c.do("GET", "/v3/apps", bearerAuth(tc.token), nil); r.status != tc.status {
			t.Errorf("%s: GET /v3/apps %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		}
	}

	// A key rotated by another process, under a kid that names no key:
	// tried once the keys are read again.
	rotated := writeKey("uaa-signing-key-2.pem")
	if r := c.do("GET", "/v3/apps", bearerAuth(sign("key-9", rotated)), nil); r.status != 200 {
		t.Errorf("a rotated key under an unknown kid: %d %s", r.status, r.body)
	}
	// A key that was never published stays refused.
	if r := c.do("GET", "/v3/apps", bearerAuth(sign("key-2", other)), nil); r.status != 401 {
		t.Errorf("an unpublished key under a known kid: %d %s", r.status, r.body)
	}

	// The embedded UAA's /userinfo looks the key up by kid.
	if r := c.uaa(uaaReq{method: "GET", path: "/userinfo", bearer: sign("key-1", mine)}); r.status != 200 {
		t.Errorf("/userinfo, its own kid: %d %s", r.status, r.body)
	}
	if r := c.uaa(uaaReq{method: "GET", path: "/userinfo", bearer: sign("key-7", mine)}); r.status != 401 {
		t.Errorf("/userinfo, an unknown kid: %d %s", r.status, r.body)
	}
}

// FuzzUAAToken: any Authorization header and form body sent to
// /oauth/token gets an OAuth answer in JSON (a token, or a 400 or 401
// error), never a panic or a 500.
func FuzzUAAToken(f *testing.F) {
	srv, err := New(context.Background(), testConfig(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	handler := srv.Handler()
	basicCF := "Basic " + base64.StdEncoding.EncodeToString([]byte("cf:"))
	for _, seed := range [][2]string{
		{basicCF, "grant_type=password&username=admin&password=admin"},
		{basicCF, "grant_type=password&username=admin&password=admin&scope=openid,cloud_controller.read"},
		{basicCF, "grant_type=refresh_token&refresh_token=a.b.c"},
		{basicCF, "grant_type=client_credentials"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("capibridge_gateway:capibridge_gateway")), "grant_type=client_credentials&scope=uaa.resource"},
		{"", "client_id=cf&client_secret=&grant_type=password&username=auditor&password=auditor"},
		{"Basic !!!", "grant_type=password"}, {"Basic", ""}, {"bearer x", "grant_type=%zz"}, {"basic Y2Y=", "scope=,,"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, auth, body string) {
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI("/oauth/token")
		req.Header.Set("Authorization", auth)
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(body)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		handler(&ctx)
		status, out := ctx.Response.StatusCode(), ctx.Response.Body()
		if status != 200 && status != 400 && status != 401 {
			t.Fatalf("auth %q body %q: status %d %s", auth, body, status, out)
		}
		var answer map[string]any
		if err := json.Unmarshal(out, &answer); err != nil {
			t.Fatalf("auth %q body %q: not JSON: %s", auth, body, out)
		}
		if _, ok := answer["access_token"]; status == 200 && !ok {
			t.Fatalf("200 without a token: %s", out)
		}
		if _, ok := answer["error"]; status != 200 && !ok {
			t.Fatalf("%d without an error: %s", status, out)
		}
	})
}
