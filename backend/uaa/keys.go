// Package uaa is the embedded UAA: the signing key kept in the data dir, and
// access tokens with the claims a real UAA puts in them (MAPPING §4).
package uaa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// KeyFile is the name of the signing key inside the data dir.
const KeyFile = "uaa-signing-key.pem"

// KeyID is the kid of the signing key, as UAA's default "key-1".
const KeyID = "key-1"

// Key is the RSA key the embedded UAA signs tokens with.
type Key struct {
	private *rsa.PrivateKey
}

// LoadOrCreateKey reads the signing key from dir, creating it on first use.
// With dir == ":memory:" a fresh key lives only in memory.
func LoadOrCreateKey(dir string) (*Key, error) {
	if dir == ":memory:" {
		return generate()
	}
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return parse(b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("uaa: read key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uaa: data dir: %w", err)
	}
	k, err := generate()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("uaa: marshal key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// Write a private temporary file, then link it into place: the key file
	// appears whole or not at all, and when two processes start on one fresh
	// data dir, the first link wins and the other process reads that key.
	tmp, err := os.CreateTemp(dir, KeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("uaa: write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("uaa: write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("uaa: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("uaa: write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKey(dir)
		}
		return nil, fmt.Errorf("uaa: write key: %w", err)
	}
	return k, nil
}

func generate() (*Key, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("uaa: generate key: %w", err)
	}
	return &Key{private: pk}, nil
}

func parse(b []byte) (*Key, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("uaa: key file holds no PEM block")
	}
	var pk any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		pk, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		pk, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("uaa: parse key: %w", err)
	}
	rk, ok := pk.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("uaa: signing key is not RSA")
	}
	return &Key{private: rk}, nil
}

// Public returns the verification key.
func (k *Key) Public() *rsa.PublicKey { return &k.private.PublicKey }

// PublicPEM returns the verification key as UAA's /token_keys "value" shows it.
func (k *Key) PublicPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(&k.private.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Claims are the claims of a UAA access token (MAPPING §4, CC's
// spec/support/user_header_helpers.rb). Field order is UAA's.
type Claims struct {
	JTI       string   `json:"jti"`
	Sub       string   `json:"sub"`
	Scope     []string `json:"scope"`
	ClientID  string   `json:"client_id"`
	CID       string   `json:"cid"`
	AZP       string   `json:"azp"`
	GrantType string   `json:"grant_type"`
	UserID    string   `json:"user_id,omitempty"`
	Origin    string   `json:"origin,omitempty"`
	UserName  string   `json:"user_name,omitempty"`
	Email     string   `json:"email,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	RevSig    string   `json:"rev_sig"`
	IAT       int64    `json:"iat"`
	Exp       int64    `json:"exp"`
	Iss       string   `json:"iss"`
	ZID       string   `json:"zid"`
	Aud       []string `json:"aud"`
}

// GetExpirationTime and the other methods make Claims a jwt.Claims.
func (c Claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}

// GetIssuedAt implements jwt.Claims.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IAT, 0)), nil
}

// GetNotBefore implements jwt.Claims; UAA sets no nbf.
func (c Claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c Claims) GetIssuer() (string, error) { return c.Iss, nil }

// GetSubject implements jwt.Claims.
func (c Claims) GetSubject() (string, error) { return c.Sub, nil }

// GetAudience implements jwt.Claims.
func (c Claims) GetAudience() (jwt.ClaimStrings, error) { return c.Aud, nil }

// UserToken returns the claims UAA gives a user who logged in with the cf
// client and the password grant. The audience is derived from the scopes,
// as UAA does (each scope up to its last dot, or the whole scope).
func UserToken(issuer, userGUID, username, email string, scopes []string, now time.Time, ttl time.Duration) Claims {
	jti := strings.ReplaceAll(uuid.NewString(), "-", "")
	return Claims{
		JTI: jti, Sub: userGUID, Scope: scopes, ClientID: "cf", CID: "cf", AZP: "cf", GrantType: "password",
		UserID: userGUID, Origin: "uaa", UserName: username, Email: email, AuthTime: now.Unix(),
		RevSig: "a1b2c3d4", IAT: now.Unix(), Exp: now.Add(ttl).Unix(), Iss: issuer, ZID: "uaa",
		Aud: audience("cf", scopes),
	}
}

func audience(client string, scopes []string) []string {
	seen := map[string]bool{client: true}
	out := []string{client}
	for _, s := range scopes {
		r := s
		if i := strings.LastIndexByte(s, '.'); i > 0 {
			r = s[:i]
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// Sign returns the signed JWT of claims, with UAA's header
// {"alg":"RS256","kid":"key-1","typ":"JWT"}.
func (k *Key) Sign(c Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = KeyID
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("uaa: sign: %w", err)
	}
	return s, nil
}
