package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnknownKidRefetch: a token signed by a key UAA published after the
// last fetch verifies after one synchronous refetch, unless the last fetch
// is younger than keys_min_refetch.
func TestUnknownKidRefetch(t *testing.T) {
	t.Parallel()
	k := testKeys()
	cases := []struct {
		name       string
		minRefetch time.Duration
		want       Reason
		wantHits   int64 // /token_keys fetches caused by the Verify
	}{
		{name: "refetch allowed", minRefetch: time.Nanosecond, want: "", wantHits: 1},
		{name: "refetch rate-limited", minRefetch: time.Hour, want: ReasonSignature, wantHits: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newUAAServer(t)
			srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})
			cfg := authCfg()
			cfg.TokenKeysURL = srv.URL + "/token_keys"
			cfg.KeysMinRefetch = tc.minRefetch
			v := newVerifier(t, cfg, WithClock(fixedClock()))
			waitReady(t, v)
			// UAA rotates in key-2 after the verifier's fetch.
			srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey, "key-2": &k.rsa2.PublicKey})
			before := srv.keyHits.Load()
			id, err := v.Verify(bearer(sign(t, "RS256", "key-2", k.rsa2, baseClaims())))
			if got := reasonOf(t, err); got != tc.want {
				t.Fatalf("reason %q, want %q (%v)", got, tc.want, err)
			}
			if tc.want == "" && id.ID() != "user-guid" {
				t.Fatalf("identity %+v", id)
			}
			if hits := srv.keyHits.Load() - before; hits != tc.wantHits {
				t.Fatalf("%d fetches, want %d", hits, tc.wantHits)
			}
		})
	}
}

// TestRotation: a key removed from /token_keys stops verifying after the
// next refresh, even for a token already in the cache.
func TestRotation(t *testing.T) {
	t.Parallel()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey, "key-2": &k.rsa2.PublicKey})
	cfg := authCfg()
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.KeysRefresh = 5 * time.Millisecond
	v := newVerifier(t, cfg, WithClock(fixedClock()))
	waitReady(t, v)
	old := bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims()))
	current := bearer(sign(t, "RS256", "key-2", k.rsa2, baseClaims()))
	for _, h := range [][]byte{old, current, old} { // the second "old" is a cache hit
		if _, err := v.Verify(h); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
	}
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-2": &k.rsa2.PublicKey})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(old)
		if err != nil {
			if got := reasonOf(t, err); got != ReasonSignature {
				t.Fatalf("old key gives %q, want %q (%v)", got, ReasonSignature, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("old key still verifies 5 s after its removal")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := v.Verify(current); err != nil {
		t.Fatalf("current key after rotation: %v", err)
	}
}

// TestTokenKeysDownAtStart: with UAA down the verifier is not ready and
// answers keys_unavailable; once UAA answers it recovers by itself, sooner
// than keys_refresh.
func TestTokenKeysDownAtStart(t *testing.T) {
	t.Parallel()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})
	srv.down.Store(true)
	cfg := authCfg()
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.KeysRefresh = time.Hour
	cfg.KeysMinRefetch = 5 * time.Millisecond
	v := newVerifier(t, cfg, WithClock(fixedClock()))
	tok := bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims()))

	if err := v.Ready(); err == nil || !strings.HasPrefix(err.Error(), "auth: ") {
		t.Fatalf("Ready with UAA down: %v", err)
	}
	_, err := v.Verify(tok)
	if got := reasonOf(t, err); got != ReasonKeysUnavailable {
		t.Fatalf("reason %q, want %q (%v)", got, ReasonKeysUnavailable, err)
	}
	srv.down.Store(false)
	waitReady(t, v) // only the background retry can make it ready
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("after UAA came back: %v", err)
	}
}

// TestTokenKeysDownLater: UAA going down after a fetch keeps the fetched
// keys (CC keeps its cache).
func TestTokenKeysDownLater(t *testing.T) {
	t.Parallel()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})
	cfg := authCfg()
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.KeysRefresh = 5 * time.Millisecond
	cfg.CacheSize = 0 // every Verify below checks the keys
	v := newVerifier(t, cfg, WithClock(fixedClock()))
	waitReady(t, v)
	srv.down.Store(true)
	before := srv.requests.Load()
	deadline := time.Now().Add(5 * time.Second)
	for srv.requests.Load() < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("no background refresh")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready after a failed refresh: %v", err)
	}
	if _, err := v.Verify(bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims()))); err != nil {
		t.Fatalf("UAA down after a fetch: %v", err)
	}
}

// TestIssuerDiscovery: with no issuer configured it is read from UAA's
// openid-configuration, next to /token_keys, and fetched again once on a
// mismatch.
func TestIssuerDiscovery(t *testing.T) {
	t.Parallel()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})
	srv.issuer.Store("https://uaa.sys.example/oauth/token")
	cfg := authCfg()
	cfg.Issuer = ""
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.KeysMinRefetch = time.Nanosecond
	v := newVerifier(t, cfg, WithClock(fixedClock()))
	waitReady(t, v)

	cases := []struct {
		iss  string
		want Reason
	}{
		{"https://uaa.sys.example/oauth/token", ""},
		{testIssuer, ReasonIssuer},
	}
	for _, tc := range cases {
		_, err := v.Verify(bearer(sign(t, "RS256", "key-1", k.rsa1, with(map[string]any{"iss": tc.iss}))))
		if got := reasonOf(t, err); got != tc.want {
			t.Fatalf("iss %q: reason %q, want %q (%v)", tc.iss, got, tc.want, err)
		}
	}
	// UAA's issuer changes: the first token of the new issuer triggers a
	// refetch and verifies.
	srv.issuer.Store(testIssuer)
	before := srv.issuerHit.Load()
	if _, err := v.Verify(bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims()))); err != nil {
		t.Fatalf("new issuer: %v", err)
	}
	if srv.issuerHit.Load() == before {
		t.Fatal("openid-configuration was not fetched again")
	}

	down := newUAAServer(t)
	down.down.Store(true)
	cfg.TokenKeysURL = down.URL + "/token_keys"
	dv := newVerifier(t, cfg, WithKeys(&k.rsa1.PublicKey), WithClock(fixedClock()))
	if err := dv.Ready(); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("Ready without issuer: %v", err)
	}
	_, err := dv.Verify(bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims())))
	if got := reasonOf(t, err); got != ReasonKeysUnavailable {
		t.Fatalf("undiscovered issuer: reason %q (%v)", got, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	k := testKeys()
	dir := t.TempDir()
	goodFile := filepath.Join(dir, "uaa.pem")
	if err := os.WriteFile(goodFile, []byte(publicPEM(t, &k.rsa1.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa2.PublicKey)}))
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(c *configsAuth)
		opts    []Option
		wantErr string // substring; "" means New succeeds
	}{
		{name: "pem text", edit: func(c *configsAuth) { c.PublicKeys = []string{publicPEM(t, &k.rsa1.PublicKey)} }},
		{name: "pem file", edit: func(c *configsAuth) { c.PublicKeys = []string{goodFile} }},
		{name: "pkcs1 and certificate", edit: func(c *configsAuth) { c.PublicKeys = []string{pkcs1, certFile} }},
		{name: "bad pem text", edit: func(c *configsAuth) {
			c.PublicKeys = []string{publicPEM(t, &k.rsa1.PublicKey), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}
		}, wantErr: "auth: public_keys[1]"},
		{name: "missing file", edit: func(c *configsAuth) { c.PublicKeys = []string{filepath.Join(dir, "nope.pem")} }, wantErr: "public_keys[0] (" + filepath.Join(dir, "nope.pem") + ")"},
		{name: "file without pem", edit: func(c *configsAuth) { c.PublicKeys = []string{filepath.Join(dir)} }, wantErr: "public_keys[0]"},
		{name: "private key block", edit: func(c *configsAuth) {
			c.PublicKeys = []string{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}
		}, wantErr: `"PRIVATE KEY"`},
		{name: "P-521 key", edit: func(c *configsAuth) { c.PublicKeys = []string{publicPEM(t, &k.ec521.PublicKey)} }, wantErr: "P-521"},
		{name: "ed25519 key", edit: func(c *configsAuth) { c.PublicKeys = []string{publicPEM(t, edPub)} }, wantErr: "public_keys[0]"},
		{name: "WithKeys ed25519", opts: []Option{WithKeys(edPub)}, edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"} }, wantErr: "auth: WithKeys[0]"},
		{name: "no keys", edit: func(c *configsAuth) {}, wantErr: "no verification keys"},
		{name: "empty secret", edit: func(c *configsAuth) { c.HMACSecrets = []string{"a", ""} }, wantErr: "hmac_secrets[1]"},
		{name: "no issuer", edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"}; c.Issuer = "" }, wantErr: "auth: issuer"},
		{name: "issuer from option", opts: []Option{WithIssuer(testIssuer)}, edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"}; c.Issuer = "" }},
		{name: "undiscoverable issuer", edit: func(c *configsAuth) { c.TokenKeysURL = "http://127.0.0.1:1/keys"; c.Issuer = "" }, wantErr: "auth: issuer"},
		{name: "bad url", edit: func(c *configsAuth) { c.TokenKeysURL = "uaa/token_keys" }, wantErr: "auth: token_keys_url"},
		{name: "no audience", edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"}; c.Audiences = nil }, wantErr: "auth: audiences"},
		{name: "negative leeway", edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"}; c.Leeway = -1 }, wantErr: "auth: leeway"},
		{name: "negative cache", edit: func(c *configsAuth) { c.HMACSecrets = []string{"s"}; c.CacheSize = -1 }, wantErr: "auth: cache_size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := authCfg()
			tc.edit(&cfg)
			v, err := New(cfg, tc.opts...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				v.Close()
				v.Close() // twice is fine
				return
			}
			if err == nil {
				v.Close()
				t.Fatalf("New succeeded, want error with %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "auth: ") {
				t.Fatalf("error %q, want one with %q", err, tc.wantErr)
			}
		})
	}
}

func selfSigned(t *testing.T) []byte {
	t.Helper()
	k := testKeys()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.ec256.PublicKey, k.ec256)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestParseTokenKeys(t *testing.T) {
	t.Parallel()
	k := testKeys()
	b64 := base64.RawURLEncoding.EncodeToString
	n := b64(k.rsa1.N.Bytes())
	x, y := b64(k.ec384.X.FillBytes(make([]byte, 48))), b64(k.ec384.Y.FillBytes(make([]byte, 48)))
	cases := []struct {
		name     string
		body     string
		wantKeys int
		wantErr  string
		exact    bool // wantErr is the whole message
	}{
		{name: "pem value", body: `{"keys":[{"kty":"RSA","kid":"key-1","alg":"RS256","value":` + quote(publicPEM(t, &k.rsa1.PublicKey)) + `}]}`, wantKeys: 1},
		{name: "n and e only", body: `{"keys":[{"kty":"RSA","kid":"key-1","e":"AQAB","n":"` + n + `"}]}`, wantKeys: 1},
		{name: "EC coordinates", body: `{"keys":[{"kty":"EC","kid":"ec","crv":"P-384","x":"` + x + `","y":"` + y + `"}]}`, wantKeys: 1},
		{name: "MAC and enc keys skipped", body: `{"keys":[{"kty":"MAC","value":"s"},{"kty":"RSA","use":"enc","e":"AQAB","n":"` + n + `"},{"kty":"RSA","e":"AQAB","n":"` + n + `"}]}`, wantKeys: 1},
		{name: "bad key skipped", body: `{"keys":[{"kty":"RSA","e":"AQAB","n":"@@"},{"kty":"RSA","e":"AQAB","n":"` + n + `"}]}`, wantKeys: 1},
		{name: "alg does not fit", body: `{"keys":[{"kty":"RSA","alg":"ES256","e":"AQAB","n":"` + n + `"}]}`, wantErr: "does not fit"},
		{name: "only MAC", body: `{"keys":[{"kty":"MAC","value":"s"}]}`, wantErr: "token_keys: no usable signing key", exact: true},
		{name: "empty", body: `{"keys":[]}`, wantErr: "no usable signing key"},
		{name: "not JSON", body: `<html>`, wantErr: "token_keys"},
		{name: "bad curve", body: `{"keys":[{"kty":"EC","crv":"P-521","x":"` + x + `","y":"` + y + `"}]}`, wantErr: "P-521"},
		{name: "point off curve", body: `{"keys":[{"kty":"EC","crv":"P-384","x":"` + x + `","y":"` + x + `"}]}`, wantErr: "key"},
		{name: "tiny exponent", body: `{"keys":[{"kty":"RSA","e":"AQ","n":"` + n + `"}]}`, wantErr: "e: out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks, err := parseTokenKeys([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.exact && err.Error() != tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ks.keys) != tc.wantKeys {
				t.Fatalf("%d keys, want %d", len(ks.keys), tc.wantKeys)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	srv := newUAAServer(t)
	srv.issuer.Store("https://uaa.sys.example/oauth/token")
	down := newUAAServer(t)
	down.down.Store(true)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name              string
		ctx               context.Context
		url               string
		wantKeys, wantIss string
		wantErr           string
	}{
		{name: "uaa", ctx: context.Background(), url: srv.URL, wantKeys: srv.URL + "/token_keys", wantIss: "https://uaa.sys.example/oauth/token"},
		{name: "trailing slash", ctx: context.Background(), url: srv.URL + "/", wantKeys: srv.URL + "/token_keys", wantIss: "https://uaa.sys.example/oauth/token"},
		{name: "uaa down", ctx: context.Background(), url: down.URL, wantErr: "status 503"},
		{name: "no openid configuration", ctx: context.Background(), url: srv.URL + "/elsewhere", wantErr: "status 404"},
		{name: "not a url", ctx: context.Background(), url: "uaa.example", wantErr: "not an http(s) URL"},
		{name: "cancelled", ctx: cancelled, url: srv.URL, wantErr: "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, iss, err := Discover(tc.ctx, tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "auth: discover") {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || keys != tc.wantKeys || iss != tc.wantIss {
				t.Fatalf("Discover = %q, %q, %v; want %q, %q", keys, iss, err, tc.wantKeys, tc.wantIss)
			}
		})
	}
}
