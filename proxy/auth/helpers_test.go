package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"capibridge/configs"
)

// testNow is the fixed clock of most tests.
var testNow = time.Unix(1_700_000_000, 0)

const testIssuer = "https://uaa.example.org/oauth/token"

func fixedClock() func() time.Time { return func() time.Time { return testNow } }

// testKeys are generated once: RSA key generation is slow.
type testKeySet struct {
	rsa1, rsa2 *rsa.PrivateKey
	ec256      *ecdsa.PrivateKey
	ec256b     *ecdsa.PrivateKey
	ec384      *ecdsa.PrivateKey
	ec521      *ecdsa.PrivateKey
}

var testKeys = sync.OnceValue(func() testKeySet {
	must := func(k *rsa.PrivateKey, err error) *rsa.PrivateKey {
		if err != nil {
			panic(err)
		}
		return k
	}
	mustEC := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	return testKeySet{
		rsa1:   must(rsa.GenerateKey(rand.Reader, 2048)),
		rsa2:   must(rsa.GenerateKey(rand.Reader, 2048)),
		ec256:  mustEC(elliptic.P256()),
		ec256b: mustEC(elliptic.P256()),
		ec384:  mustEC(elliptic.P384()),
		ec521:  mustEC(elliptic.P521()),
	}
})

func publicPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// baseClaims are a UAA user token's claims, valid at testNow.
func baseClaims() map[string]any {
	return map[string]any{
		"jti": "0f1e2d3c4b5a", "sub": "user-guid", "scope": []string{"cloud_controller.read", "openid"},
		"client_id": "cf", "cid": "cf", "azp": "cf", "grant_type": "password", "user_id": "user-guid",
		"origin": "uaa", "user_name": "alice", "email": "alice@example.org", "rev_sig": "a1b2c3d4",
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(), "iss": testIssuer, "zid": "uaa",
		"aud": []string{"cf", "cloud_controller", "openid"},
	}
}

// with returns baseClaims changed by set; a nil value deletes the claim.
func with(set map[string]any) map[string]any {
	c := baseClaims()
	maps.Copy(c, set)
	for k, v := range set {
		if v == nil {
			delete(c, k)
		}
	}
	return c
}

// sign builds a JWT by hand, so that tests control every byte of the
// header and claims (a float exp, alg none, a PEM used as HMAC secret).
func sign(t testing.TB, alg, kid string, key any, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	if alg == "none" {
		return input + "."
	}
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		t.Fatalf("no method %s", alg)
	}
	sig, err := m.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// uaaServer is a fake UAA: /token_keys and /.well-known/openid-configuration
// from values the test changes, with hit counters and an off switch.
type uaaServer struct {
	*httptest.Server
	keys      atomic.Value // []byte
	issuer    atomic.Value // string
	down      atomic.Bool
	keyHits   atomic.Int64
	issuerHit atomic.Int64
	requests  atomic.Int64 // every request, answered or not
}

func newUAAServer(t testing.TB) *uaaServer {
	t.Helper()
	u := &uaaServer{}
	u.keys.Store([]byte(`{"keys":[]}`))
	u.issuer.Store(testIssuer)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		if u.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/token_keys":
			u.keyHits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write(u.keys.Load().([]byte))
		case "/.well-known/openid-configuration":
			u.issuerHit.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":"https://uaa.example.org/token_keys"}`, u.issuer.Load().(string))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// setKeys publishes RSA keys as UAA does: kid, alg, value (PEM), n and e.
func (u *uaaServer) setKeys(t testing.TB, keys map[string]*rsa.PublicKey) {
	t.Helper()
	type jwkOut struct {
		Kty   string `json:"kty"`
		E     string `json:"e"`
		Use   string `json:"use"`
		Kid   string `json:"kid"`
		Alg   string `json:"alg"`
		Value string `json:"value"`
		N     string `json:"n"`
	}
	// A MAC key as UAA lists it for privileged clients: always ignored.
	out := []any{map[string]string{"kty": "MAC", "alg": "HS256", "value": "mac-secret", "kid": "legacy"}}
	for kid, k := range keys {
		out = append(out, jwkOut{Kty: "RSA", E: "AQAB", Use: "sig", Kid: kid, Alg: "RS256", Value: publicPEM(t, k),
			N: base64.RawURLEncoding.EncodeToString(k.N.Bytes())})
	}
	b, err := json.Marshal(map[string]any{"keys": out})
	if err != nil {
		t.Fatal(err)
	}
	u.keys.Store(b)
}

type configsAuth = configs.Auth

func authCfg() configs.Auth {
	return configs.Auth{
		Audiences:      []string{"cloud_controller", "cloud_controller_service_permissions"},
		CacheSize:      1000,
		KeysRefresh:    time.Hour,
		KeysMinRefetch: time.Hour,
		Issuer:         testIssuer,
	}
}

func newVerifier(t testing.TB, cfg configs.Auth, opts ...Option) *Verifier {
	t.Helper()
	v, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

func waitReady(t testing.TB, v *Verifier) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for v.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", v.Ready())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reasonOf returns the Reason of a Verify error, "" for nil; it fails the
// test when err is not an *Error.
func reasonOf(t testing.TB, err error) Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	return e.Reason
}

func bearer(tok string) []byte { return []byte("bearer " + tok) }
