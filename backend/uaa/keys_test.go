package uaa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestKeyPersistsInDataDir(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().Equal(k2.Public()) {
		t.Error("the second load made a new key")
	}
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	m1, _ := LoadOrCreateKey(":memory:")
	m2, _ := LoadOrCreateKey(":memory:")
	if m1.Public().Equal(m2.Public()) {
		t.Error("two in-memory keys are the same")
	}
}

func TestKeyFileFormats(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ek)
	cases := []struct {
		name    string
		content []byte
		ok      bool
	}{
		{"pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), true},
		{"not pem", []byte("hello"), false},
		{"ec key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), false},
		{"garbage der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeyFile), tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadOrCreateKey(dir)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !k.Public().Equal(&rk.PublicKey) {
				t.Error("loaded a different key")
			}
		})
	}
}

func TestSignedTokenCarriesUAAClaims(t *testing.T) {
	k, err := LoadOrCreateKey(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	c := UserToken("https://uaa.example.org/oauth/token", "u-1", "dev", "dev@example.org",
		[]string{"cloud_controller.read", "cloud_controller.write", "openid", "uaa.user"}, now, time.Hour)
	signed, err := k.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	var got Claims
	tok, err := jwt.ParseWithClaims(signed, &got, func(*jwt.Token) (any, error) { return k.Public(), nil },
		jwt.WithTimeFunc(func() time.Time { return now.Add(time.Minute) }))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != KeyID || tok.Header["typ"] != "JWT" || tok.Header["alg"] != "RS256" {
		t.Errorf("header %v", tok.Header)
	}
	// UAA's audience: the client, then each scope's resource (up to the last dot).
	if want := []string{"cf", "cloud_controller", "openid", "uaa"}; !slices.Equal(got.Aud, want) {
		t.Errorf("aud %v, want %v", got.Aud, want)
	}
	if got.UserID != "u-1" || got.Sub != "u-1" || got.UserName != "dev" || got.Exp != now.Add(time.Hour).Unix() || got.JTI == "" || got.GrantType != "password" {
		t.Errorf("claims %+v", got)
	}
	_, err = jwt.ParseWithClaims(signed, &Claims{}, func(*jwt.Token) (any, error) { return k.Public(), nil },
		jwt.WithTimeFunc(func() time.Time { return now.Add(2 * time.Hour) }))
	if err == nil {
		t.Error("an expired token verified")
	}
	if pemText := k.PublicPEM(); len(pemText) < 100 {
		t.Errorf("PublicPEM %q", pemText)
	}
}

// Processes that start at once on a fresh data dir must agree on one key:
// the file appears whole, and only the first link wins.
func TestConcurrentFirstStartsAgreeOnOneKey(t *testing.T) {
	dir := t.TempDir()
	keys := make([]*Key, 8)
	errs := make([]error, len(keys))
	done := make(chan int)
	for i := range keys {
		go func() {
			keys[i], errs[i] = LoadOrCreateKey(dir)
			done <- i
		}()
	}
	for range keys {
		<-done
	}
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if !k.Public().Equal(keys[0].Public()) {
			t.Errorf("start %d has another key", i)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, KeyFile+".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
