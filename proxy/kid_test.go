package proxy

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"capibridge/backend"
	"capibridge/backend/uaa"
	"capibridge/configs"
)

// TestKidRuleBothSides: the gateway (on /v2, and at the door of /v3) and
// the embedded CF behind it (on /v3) follow one rule, the Cloud
// Controller's: the kid is ignored and every verification key is tried
// (MAPPING §4). A valid signature under a kid that names no key is
// accepted on both sides; a signature no published key makes is refused
// on both, whatever kid it names. The gateway reads the keys from the
// embedded UAA's /token_keys, as in front of a real foundation.
func TestKidRuleBothSides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newKey := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	signing, other := newKey(), newKey()
	der, _ := x509.MarshalPKCS8PrivateKey(signing)
	if err := os.WriteFile(filepath.Join(dir, uaa.KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var issuer string
	s := startStackWith(t, func(b *configs.Backend) { b.Data, issuer = dir, b.TokenIssuer }, func(c *configs.Config) {
		c.Auth.TokenKeysURL = c.Upstream + "/token_keys"
	})
	claims := uaa.UserToken(issuer, backend.DeveloperGUID, "developer", "developer@example.org",
		[]string{"cloud_controller.read", "cloud_controller.write"}, time.Now(), time.Hour)
	sign := func(kid string, key *rsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		raw, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "bearer " + raw
	}
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"the key's own kid", sign(uaa.KeyID, signing), 200},
		{"no kid", sign("", signing), 200},
		{"a kid that names no key", sign("key-7", signing), 200},
		{"a known kid, a key never published", sign(uaa.KeyID, other), 401},
		{"an unknown kid, a key never published", sign("key-7", other), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v2/apps", "/v3/apps"} {
				if r := s.do("GET", s.gwURL+path, tc.token, nil); r.status != tc.status {
					t.Errorf("GET %s: %d, want %d: %s", path, r.status, tc.status, r.body)
				}
			}
		})
	}
}
