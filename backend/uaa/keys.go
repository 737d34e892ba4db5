// Package uaa is the embedded UAA: the signing keys kept in the data dir,
// and the access, refresh and id tokens with the claims a real UAA puts in
// them (MAPPING §4).
package uaa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// KeyFile is the name of the first signing key inside the data dir. Keys
// added by rotation sit beside it as uaa-signing-key-<n>.pem.
const KeyFile = "uaa-signing-key.pem"

// KeyID is the kid of the first signing key, as UAA's default "key-1". A
// key added by rotation is "key-<n>", n counting up from 2.
const KeyID = "key-1"

// memory is the data dir that keeps the keys in memory only (store.Memory).
const memory = ":memory:"

// Key is the embedded UAA's token key: the active RSA key that signs new
// tokens, and the keys it replaced, which still verify the tokens they
// signed until those expire. Rotation adds a key and makes it active; no
// key is ever dropped. Safe for concurrent use.
type Key struct {
	dir string // "" when the keys live in memory only

	mu   sync.RWMutex
	keys []signingKey // by number, oldest first; the last is active
}

// signingKey is one key of the ring: its number n gives its kid and file.
type signingKey struct {
	n       int
	kid     string
	private *rsa.PrivateKey
}

// PublicKey is one verification key and its kid.
type PublicKey struct {
	KID string
	Key *rsa.PublicKey
}

func kidOf(n int) string { return "key-" + strconv.Itoa(n) }

func fileOf(n int) string {
	if n == 1 {
		return KeyFile
	}
	return "uaa-signing-key-" + strconv.Itoa(n) + ".pem"
}

// numberOf is the key number of a rotated key file's name, or 0.
func numberOf(name string) int {
	rest, ok := strings.CutPrefix(name, "uaa-signing-key-")
	if !ok {
		return 0
	}
	digits, ok := strings.CutSuffix(rest, ".pem")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 2 || strconv.Itoa(n) != digits {
		return 0
	}
	return n
}

// LoadOrCreateKey reads the signing keys from dir, creating the first one
// on first use; the key with the highest number is active. With dir ==
// ":memory:" a fresh key lives only in memory.
func LoadOrCreateKey(dir string) (*Key, error) {
	if dir == memory {
		pk, err := generate()
		if err != nil {
			return nil, err
		}
		return &Key{keys: []signingKey{{n: 1, kid: KeyID, private: pk}}}, nil
	}
	first, err := loadOrCreateFirst(dir)
	if err != nil {
		return nil, err
	}
	k := &Key{dir: dir, keys: []signingKey{{n: 1, kid: KeyID, private: first}}}
	if err := k.scan(); err != nil {
		return nil, err
	}
	return k, nil
}

// loadOrCreateFirst reads KeyFile, or creates it when it is missing.
func loadOrCreateFirst(dir string) (*rsa.PrivateKey, error) {
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
	pk, err := generate()
	if err != nil {
		return nil, err
	}
	if err := writeNew(dir, KeyFile, pk); err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process created it first: use that one.
			return loadOrCreateFirst(dir)
		}
		return nil, err
	}
	return pk, nil
}

// writeNew writes pk to dir/name, which must not exist yet: it writes a
// private temporary file, then links it into place, so the key file
// appears whole or not at all, and when two processes race for one name
// the first link wins and the other gets an error wrapping os.ErrExist.
func writeNew(dir, name string, pk *rsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return fmt.Errorf("uaa: marshal key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return fmt.Errorf("uaa: write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return fmt.Errorf("uaa: write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("uaa: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("uaa: write key: %w", err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("uaa: write key: %w", err)
	}
	return nil
}

// scan adds the rotated keys of k.dir that k does not hold yet; k.mu is
// held for writing (or k is not shared yet).
func (k *Key) scan() error {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return fmt.Errorf("uaa: read keys: %w", err)
	}
	added := false
	for _, e := range k.unknown(entries) {
		n := numberOf(e.Name())
		b, err := os.ReadFile(filepath.Join(k.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("uaa: read key: %w", err)
		}
		pk, err := parse(b)
		if err != nil {
			return fmt.Errorf("uaa: %s: %w", e.Name(), err)
		}
		k.keys = append(k.keys, signingKey{n: n, kid: kidOf(n), private: pk})
		added = true
	}
	if added {
		slices.SortFunc(k.keys, func(a, b signingKey) int { return a.n - b.n })
	}
	return nil
}

// unknown returns the rotated key files among entries that k does not
// hold; k.mu is held.
func (k *Key) unknown(entries []os.DirEntry) []os.DirEntry {
	var out []os.DirEntry
	for _, e := range entries {
		n := numberOf(e.Name())
		if n == 0 || !e.Type().IsRegular() || slices.ContainsFunc(k.keys, func(sk signingKey) bool { return sk.n == n }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func generate() (*rsa.PrivateKey, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("uaa: generate key: %w", err)
	}
	return pk, nil
}

func parse(b []byte) (*rsa.PrivateKey, error) {
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
	return rk, nil
}

// Rotate adds a new key and makes it active, and returns its kid. In a
// data dir the key is written before it is used, so a restart keeps it;
// keys that another process added meanwhile are read first, and the new
// key takes the next free number.
func (k *Key) Rotate() (string, error) {
	pk, err := generate()
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dir == "" {
		n := k.keys[len(k.keys)-1].n + 1
		k.keys = append(k.keys, signingKey{n: n, kid: kidOf(n), private: pk})
		return kidOf(n), nil
	}
	if err := k.scan(); err != nil {
		return "", err
	}
	for n := k.keys[len(k.keys)-1].n + 1; ; n++ {
		err := writeNew(k.dir, fileOf(n), pk)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		k.keys = append(k.keys, signingKey{n: n, kid: kidOf(n), private: pk})
		// A key another process linked in just before ours sorts below it.
		if err := k.scan(); err != nil {
			return "", err
		}
		return kidOf(n), nil
	}
}

// Refresh reads the keys that another process added to the data dir
// since (`capibridge uaa rotate-key` while the embedded CF runs); the
// newest becomes active. It lists the directory, a few microseconds, and
// reads only new key files. It does nothing for keys in memory.
func (k *Key) Refresh() error {
	if k.dir == "" {
		return nil
	}
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return fmt.Errorf("uaa: read keys: %w", err)
	}
	k.mu.RLock()
	news := len(k.unknown(entries))
	k.mu.RUnlock()
	if news == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.scan()
}

func (k *Key) active() signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[len(k.keys)-1]
}

// KID returns the kid of the active key.
func (k *Key) KID() string { return k.active().kid }

// Public returns the active verification key.
func (k *Key) Public() *rsa.PublicKey { return &k.active().private.PublicKey }

// Lookup returns the verification key whose kid is kid, or nil.
func (k *Key) Lookup(kid string) *rsa.PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, sk := range k.keys {
		if sk.kid == kid {
			return &sk.private.PublicKey
		}
	}
	return nil
}

// VerificationKeys returns every verification key, oldest first: the
// last one is active.
func (k *Key) VerificationKeys() []PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]PublicKey, len(k.keys))
	for i, sk := range k.keys {
		out[i] = PublicKey{KID: sk.kid, Key: &sk.private.PublicKey}
	}
	return out
}

// PublicPEM returns the active verification key as UAA's /token_keys
// "value" shows it.
func (k *Key) PublicPEM() string { return publicPEM(k.Public()) }

// publicPEM is UAA's JsonWebKey.pemEncodePublicKey: a PKIX "PUBLIC KEY"
// block with no newline after its end line.
func publicPEM(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n")
}

// TokenKey is one verification key as UAA's GET /token_key and
// /token_keys show it (uaa KeyInfo#getJwkMap): the JWK members, n and e
// unpadded base64url, plus the PEM in "value", which CC reads.
type TokenKey struct {
	Kty   string `json:"kty"`
	E     string `json:"e"`
	Use   string `json:"use"`
	Kid   string `json:"kid"`
	Alg   string `json:"alg"`
	Value string `json:"value"`
	N     string `json:"n"`
}

// TokenKey returns pk as UAA's key endpoints show it.
func (pk PublicKey) TokenKey() TokenKey {
	return TokenKey{
		Kty:   "RSA",
		E:     base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pk.Key.E)).Bytes()),
		Use:   "sig",
		Kid:   pk.KID,
		Alg:   jwt.SigningMethodRS256.Alg(),
		Value: publicPEM(pk.Key),
		N:     base64.RawURLEncoding.EncodeToString(pk.Key.N.Bytes()),
	}
}

// Sign returns the signed JWT of claims (an access, refresh or id token),
// with UAA's header {"alg":"RS256","kid":…,"typ":"JWT"} naming the active
// key.
func (k *Key) Sign(c jwt.Claims) (string, error) {
	sk := k.active()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = sk.kid
	s, err := t.SignedString(sk.private)
	if err != nil {
		return "", fmt.Errorf("uaa: sign: %w", err)
	}
	return s, nil
}
