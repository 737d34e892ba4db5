package uaa

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func kids(k *Key) []string {
	var out []string
	for _, pk := range k.VerificationKeys() {
		out = append(out, pk.KID)
	}
	return out
}

func verify(t *testing.T, k *Key, token string) {
	t.Helper()
	_, err := jwt.ParseWithClaims(token, &Claims{}, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if pk := k.Lookup(kid); pk != nil {
			return pk, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	})
	if err != nil {
		t.Errorf("token does not verify: %v", err)
	}
}

func TestRotationPersistsAndKeepsOldKeys(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old, err := k.Sign(UserToken("iss", "u", "dev", "dev@example.org", []string{"openid"}, now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kid, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if kid != "key-2" || k.KID() != "key-2" {
		t.Fatalf("rotated to %q, active %q; want key-2", kid, k.KID())
	}
	if _, err := os.Stat(filepath.Join(dir, "uaa-signing-key-2.pem")); err != nil {
		t.Fatalf("rotated key not written: %v", err)
	}
	fresh, _ := k.Sign(UserToken("iss", "u", "dev", "dev@example.org", []string{"openid"}, now, time.Hour))
	tok, _, _ := jwt.NewParser().ParseUnverified(fresh, &Claims{})
	if tok.Header["kid"] != "key-2" {
		t.Errorf("new token kid %v, want key-2", tok.Header["kid"])
	}

	// A restart on the same data dir: both keys, the rotated one active.
	again, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(again); !slices.Equal(got, []string{"key-1", "key-2"}) || again.KID() != "key-2" {
		t.Fatalf("after restart kids %v active %q", got, again.KID())
	}
	verify(t, again, old)
	verify(t, again, fresh)
	if !again.Lookup("key-1").Equal(k.Lookup("key-1")) || !again.Public().Equal(k.Public()) {
		t.Error("restart loaded different keys")
	}
	if again.Lookup("key-9") != nil {
		t.Error("Lookup of an unknown kid found a key")
	}
}

func TestRotationInMemoryWritesNothing(t *testing.T) {
	k, err := LoadOrCreateKey(memory)
	if err != nil {
		t.Fatal(err)
	}
	if k.KID() != KeyID {
		t.Errorf("first in-memory kid %q, want %q", k.KID(), KeyID)
	}
	first := k.Public()
	if kid, err := k.Rotate(); err != nil || kid != "key-2" {
		t.Fatalf("Rotate = %q, %v", kid, err)
	}
	if k.Public().Equal(first) || !k.Lookup(KeyID).Equal(first) {
		t.Error("rotation did not keep the old key beside a new active one")
	}
	if err := k.Refresh(); err != nil {
		t.Errorf("Refresh in memory: %v", err)
	}
}

// A rotation by another process (capibridge uaa rotate-key) reaches a
// running process through Refresh, and two rotators never share a number.
func TestRefreshSeesAnotherProcessRotation(t *testing.T) {
	dir := t.TempDir()
	running, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Rotate(); err != nil {
		t.Fatal(err)
	}
	// running has not read the dir since; its own rotation must skip key-2.
	kid, err := running.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if kid != "key-3" {
		t.Errorf("second rotator got %q, want key-3", kid)
	}
	if got := kids(running); !slices.Equal(got, []string{"key-1", "key-2", "key-3"}) {
		t.Errorf("running kids %v", got)
	}
	if err := cli.Refresh(); err != nil {
		t.Fatal(err)
	}
	if cli.KID() != "key-3" || !cli.Public().Equal(running.Public()) {
		t.Errorf("after Refresh the CLI's active key is %q", cli.KID())
	}
	// Temporary files are gone, and unrelated files are ignored.
	if err := os.WriteFile(filepath.Join(dir, "uaa-signing-key-x.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(dir); err != nil {
		t.Errorf("an unrelated file broke loading: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.pem.*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestBrokenRotatedKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateKey(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "uaa-signing-key-2.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Error("a broken rotated key file loaded")
	}
}

func TestNumberOf(t *testing.T) {
	cases := map[string]int{
		"uaa-signing-key-2.pem": 2, "uaa-signing-key-17.pem": 17, KeyFile: 0, "uaa-signing-key-1.pem": 0,
		"uaa-signing-key-02.pem": 0, "uaa-signing-key-2.pem.123": 0, "uaa-signing-key--2.pem": 0, "other.pem": 0,
	}
	for name, want := range cases {
		if got := numberOf(name); got != want {
			t.Errorf("numberOf(%q) = %d, want %d", name, got, want)
		}
	}
}

// The /token_keys shape: the PEM and n/e describe the same key.
func TestTokenKeyShape(t *testing.T) {
	k, err := LoadOrCreateKey(memory)
	if err != nil {
		t.Fatal(err)
	}
	pk := k.VerificationKeys()[0]
	tk := pk.TokenKey()
	b, _ := json.Marshal(tk)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, f := range []string{"kty", "e", "use", "kid", "alg", "value", "n"} {
		if _, ok := m[f]; !ok {
			t.Errorf("no %q in %s", f, b)
		}
	}
	if tk.Kty != "RSA" || tk.Use != "sig" || tk.Alg != "RS256" || tk.Kid != KeyID || tk.E != "AQAB" {
		t.Errorf("token key %+v", tk)
	}
	block, rest := pem.Decode([]byte(tk.Value))
	if block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 || tk.Value[len(tk.Value)-1] == '\n' {
		t.Fatalf("value %q", tk.Value)
	}
	fromPEM, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	n, err := base64.RawURLEncoding.DecodeString(tk.N)
	if err != nil {
		t.Fatal(err)
	}
	fromNE := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if !fromNE.Equal(pk.Key) || !fromNE.Equal(fromPEM) {
		t.Error("n/e and the PEM are not the key")
	}
}

func TestGrantTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	user := &User{ID: "u-1", Name: "dev", Email: "dev@example.org"}
	scopes := []string{"cloud_controller.read", "openid"}
	g := Grant{Issuer: "https://uaa/oauth/token", ClientID: "cf", GrantType: GrantPassword, User: user, Scopes: scopes,
		AuthTime: now.Add(-time.Minute), Now: now}

	at := g.Access(time.Hour)
	if at.Sub != "u-1" || at.UserID != "u-1" || at.Authorities != nil || at.AuthTime != now.Add(-time.Minute).Unix() ||
		at.RevSig != RevSig("cf", "u-1", "dev", "dev@example.org") || at.Origin != Origin || at.ZID != ZoneID {
		t.Errorf("access %+v", at)
	}
	// UserToken is the password grant of the cf client.
	ut := UserToken(g.Issuer, "u-1", "dev", "dev@example.org", scopes, now, time.Hour)
	ut.JTI, ut.AuthTime = at.JTI, at.AuthTime
	if b1, b2 := mustJSON(t, ut), mustJSON(t, at); b1 != b2 {
		t.Errorf("UserToken %s\n!= Grant.Access %s", b1, b2)
	}

	rt := g.Refresh(24 * time.Hour)
	if len(rt.JTI) < 3 || rt.JTI[len(rt.JTI)-2:] != RefreshSuffix || rt.GrantType != GrantPassword || rt.UserID != "u-1" ||
		!slices.Equal(rt.Scopes(), scopes) || rt.Exp != now.Add(24*time.Hour).Unix() || !slices.Contains(rt.Aud, "cloud_controller") {
		t.Errorf("refresh %+v", rt)
	}
	if old := (RefreshClaims{Scope: []string{"a"}}); !slices.Equal(old.Scopes(), []string{"a"}) {
		t.Error("an older UAA's refresh token scope claim is not read")
	}

	id := g.ID(time.Hour)
	if id.Sub != "u-1" || !slices.Equal(id.Aud, []string{"cf"}) || !slices.Equal(id.Scope, []string{"openid"}) || !id.EmailVerified {
		t.Errorf("id %+v", id)
	}

	cc := Grant{Issuer: g.Issuer, ClientID: "gw", GrantType: GrantClientCredentials, Scopes: []string{"cloud_controller.admin_read_only"}, Now: now}.Access(time.Hour)
	if cc.Sub != "gw" || cc.UserID != "" || cc.UserName != "" || cc.AuthTime != 0 ||
		!slices.Equal(cc.Authorities, cc.Scope) || !slices.Equal(cc.Aud, []string{"gw", "cloud_controller"}) {
		t.Errorf("client token %+v", cc)
	}
	raw := mustJSON(t, cc)
	for _, absent := range []string{"user_id", "user_name", "email", "origin", "auth_time"} {
		if containsKey(raw, absent) {
			t.Errorf("client token has %s: %s", absent, raw)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func containsKey(raw, key string) bool {
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	_, ok := m[key]
	return ok
}
