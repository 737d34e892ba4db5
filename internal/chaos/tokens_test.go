package chaos

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"capibridge/backend/uaa"
)

// badToken is one Authorization header the gateway must refuse.
type badToken struct {
	name, header string
}

// badTokens builds the table: tokens signed with the embedded UAA's own key
// but wrong in one claim, tokens with a wrong or no signature, tokens of
// the wrong kind, and headers that are no bearer token at all.
func badTokens(t *testing.T, s *stack) []badToken {
	t.Helper()
	key, err := uaa.LoadOrCreateKey(s.data)
	if err != nil {
		t.Fatal(err)
	}
	good := s.tokens["developer"]
	parts := strings.Split(good, ".")
	claims := jwt.MapClaims{}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	// with is the developer's claims with some changed (nil removes one),
	// signed with the UAA's active key.
	with := func(change map[string]any) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		for k, v := range change {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		tok, err := key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signWith := func(method jwt.SigningMethod, kid string, k any, c jwt.Claims) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		str, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	admin := with(map[string]any{"scope": []string{"cloud_controller.admin", "cloud_controller.read", "cloud_controller.write"}})
	adminParts := strings.Split(admin, ".")
	refresh, idToken := s.passwordGrant(t)

	table := []badToken{
		{"no Authorization header", ""},
		{"bearer without a token", "bearer"},
		{"basic credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("developer:developer"))},
		{"the token without a scheme", good},
		{"garbage", "bearer garbage"},
		{"three segments of garbage", "bearer a.b.c"},
		{"binary garbage", "bearer " + base64.RawURLEncoding.EncodeToString([]byte{0, 1, 2, 0xff, 0xfe}) + ".." + "x"},
		{"expired", "bearer " + with(map[string]any{"exp": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Hour).Unix()})},
		{"expired long ago", "bearer " + with(map[string]any{"exp": 1, "iat": 0})},
		{"no exp", "bearer " + with(map[string]any{"exp": nil})},
		{"exp as a string", "bearer " + with(map[string]any{"exp": fmt.Sprint(now.Add(time.Hour).Unix())})},
		{"not valid yet (nbf)", "bearer " + with(map[string]any{"nbf": now.Add(time.Hour).Unix()})},
		{"issued in the future (iat)", "bearer " + with(map[string]any{"iat": now.Add(time.Hour).Unix()})},
		{"wrong signature (another key, the same kid)", "bearer " + signWith(jwt.SigningMethodRS256, uaa.KeyID, other, claims)},
		{"wrong signature (another key, no kid)", "bearer " + signWith(jwt.SigningMethodRS256, "", other, claims)},
		{"payload swapped for an admin's", "bearer " + parts[0] + "." + adminParts[1] + "." + parts[2]},
		{"signature truncated", "bearer " + good[:len(good)-12]},
		{"signature removed", "bearer " + parts[0] + "." + parts[1] + "."},
		{"two segments", "bearer " + parts[0] + "." + parts[1]},
		{"alg none", "bearer " + signWith(jwt.SigningMethodNone, "", jwt.UnsafeAllowNoneSignatureType, claims)},
		{"alg none, kid of the UAA", "bearer " + signWith(jwt.SigningMethodNone, uaa.KeyID, jwt.UnsafeAllowNoneSignatureType, claims)},
		{"HS256 keyed with the UAA's public key", "bearer " + signWith(jwt.SigningMethodHS256, uaa.KeyID, publicPEM, claims)},
		{"wrong issuer", "bearer " + with(map[string]any{"iss": "https://uaa.evil.example/oauth/token"})},
		{"no issuer", "bearer " + with(map[string]any{"iss": nil})},
		{"wrong audience", "bearer " + with(map[string]any{"aud": []string{"cf", "routing"}})},
		{"no audience", "bearer " + with(map[string]any{"aud": nil})},
		{"refresh token's jti", "bearer " + with(map[string]any{"jti": "0f1e2d3c4b5a" + uaa.RefreshSuffix})},
		{"no jti", "bearer " + with(map[string]any{"jti": nil})},
		{"neither user_id nor client_id", "bearer " + with(map[string]any{"user_id": nil, "client_id": nil})},
		{"a refresh token from /oauth/token", "bearer " + refresh},
		{"a 48 KiB token", "bearer " + with(map[string]any{"pad": strings.Repeat("x", 48<<10)})[:48<<10]},
	}
	if idToken != "" {
		table = append(table, badToken{"an id token from /oauth/token", "bearer " + idToken})
	}
	return table
}

// passwordGrant logs the developer in at the embedded UAA and returns the
// refresh and id tokens it answers.
func (s *stack) passwordGrant(t *testing.T) (refresh, id string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"developer"}, "password": {"developer"}}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.cfURL + "/oauth/token")
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("cf:")))
	req.SetBodyString(form.Encode())
	if err := s.client.DoTimeout(req, resp, time.Minute); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("password grant: %d %v %s", resp.StatusCode(), err, resp.Body())
	}
	body := resp.Body()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("password grant answered %s", body)
	}
	return tok.RefreshToken, tok.IDToken
}

// testBadTokens: every bad token is refused 401 in the CF shape of its
// path (v2 on /v2, v3 on /v3), with CF-InvalidAuthToken or
// CF-NotAuthenticated, through both gateways.
func testBadTokens(t *testing.T, s *stack, tb *table) {
	var c tally
	table := badTokens(t, s)
	paths := []struct{ path, shape string }{
		{"/v2/apps", "v2"},
		{"/v2/apps/" + s.apps[0].guid + "/env", "v2"},
		{"/v3/apps", "v3"},
		{"/v3/apps/" + s.apps[0].guid + "/environment_variables", "v3"},
	}
	for _, bt := range table {
		for _, p := range paths {
			for _, g := range []*gateway{s.a, s.b} {
				headers := map[string]string{}
				if bt.header != "" {
					headers["Authorization"] = bt.header
				}
				code, body, err := s.do("GET", g.url+p.path, "", nil, headers)
				name := bt.name + " GET " + p.path
				if err != nil {
					c.fail("%s: %v", name, err)
					continue
				}
				problem := shapeProblem(code, body, 401, p.shape)
				if problem == "" {
					if _, ec, _, _ := cfError(body); ec != 1000 && ec != 10002 {
						problem = fmt.Sprintf("error code %d, want 1000 (InvalidAuthToken) or 10002 (NotAuthenticated): %s", ec, snippet(body))
					}
				}
				if problem == "" && strings.Contains(string(body), s.apps[0].secret) {
					problem = "the answer shows an app's secret"
				}
				c.check(name, problem)
			}
		}
	}
	c.report(t, tb, "bad tokens: 401 in CF shape", fmt.Sprintf("%d tokens × %d paths × 2 gateways", len(table), len(paths)))
}
