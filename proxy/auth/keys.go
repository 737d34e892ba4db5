package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// family is the kind of key an alg needs. Keys are chosen per family, never
// from the token's say-so alone: that is what refuses algorithm confusion
// (an HS256 token "signed" with the RSA public key's PEM as the secret finds
// no HMAC secret to be checked against).
type family uint8

const (
	familyNone family = iota
	familyHMAC
	familyRSA
	familyP256
	familyP384
)

// pubKey is one asymmetric verification key.
type pubKey struct {
	// kid is the key's id in /token_keys; empty for static keys.
	kid    string
	family family
	key    crypto.PublicKey
}

// keySet is one successful fetch of /token_keys. It is replaced whole,
// never changed, so readers need no lock.
type keySet struct {
	keys []pubKey
}

// toPubKey checks that k is a key type and curve an accepted alg can use
// (RS256/384/512, ES256, ES384; MAPPING §4).
func toPubKey(k crypto.PublicKey, kid string) (pubKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return pubKey{}, errors.New("nil RSA key")
		}
		return pubKey{kid: kid, family: familyRSA, key: k}, nil
	case *ecdsa.PublicKey:
		if k == nil {
			return pubKey{}, errors.New("nil ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256():
			return pubKey{kid: kid, family: familyP256, key: k}, nil
		case elliptic.P384():
			return pubKey{kid: kid, family: familyP384, key: k}, nil
		}
		return pubKey{}, fmt.Errorf("ECDSA curve %s: only P-256 (ES256) and P-384 (ES384) are accepted", k.Curve.Params().Name)
	}
	return pubKey{}, fmt.Errorf("key type %T: only RSA and ECDSA public keys are accepted", k)
}

// parsePEMKeys reads every PEM block of b: PKIX "PUBLIC KEY", PKCS#1 "RSA
// PUBLIC KEY" (older UAAs), or a "CERTIFICATE" whose key is taken.
func parsePEMKeys(b []byte) ([]pubKey, error) {
	var out []pubKey
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		b = rest
		var k crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				k = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		pk, err := toPubKey(k, "")
		if err != nil {
			return nil, err
		}
		out = append(out, pk)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return out, nil
}

// loadPublicKeys reads configs.Auth.PublicKeys: each entry is PEM text, or
// the path of a PEM file. Errors name the entry.
func loadPublicKeys(entries []string) ([]pubKey, error) {
	var out []pubKey
	for i, entry := range entries {
		name := fmt.Sprintf("public_keys[%d]", i)
		data := []byte(entry)
		if !strings.Contains(entry, "-----BEGIN") {
			name = fmt.Sprintf("public_keys[%d] (%s)", i, entry)
			b, err := os.ReadFile(entry)
			if err != nil {
				return nil, fmt.Errorf("auth: %s: %w", name, err)
			}
			data = b
		}
		keys, err := parsePEMKeys(data)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", name, err)
		}
		out = append(out, keys...)
	}
	return out, nil
}

// tokenKeys is UAA's GET /token_keys answer:
// {"keys":[{"kty":"RSA","e":"AQAB","use":"sig","kid":"key-1","alg":"RS256","value":"-----BEGIN PUBLIC KEY-----…","n":"…"}]}.
type tokenKeys struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty   string `json:"kty"`
	Kid   string `json:"kid"`
	Alg   string `json:"alg"`
	Use   string `json:"use"`
	Value string `json:"value"`
	N     string `json:"n"`
	E     string `json:"e"`
	Crv   string `json:"crv"`
	X     string `json:"x"`
	Y     string `json:"y"`
}

// parseTokenKeys turns a /token_keys body into a key set. MAC keys are
// skipped on purpose: UAA lists its symmetric key there only for clients
// allowed to see it, and a secret that travels over the network is no
// better than the configured hmac_secrets, which are the only HMAC keys.
// Keys for encryption (use "enc") are skipped too. A body with no usable
// key is an error, so that a broken UAA answer keeps the previous keys.
func parseTokenKeys(body []byte) (*keySet, error) {
	var tk tokenKeys
	if err := json.Unmarshal(body, &tk); err != nil {
		return nil, fmt.Errorf("token_keys: %w", err)
	}
	var ks keySet
	var errs []error
	for _, k := range tk.Keys {
		if k.Kty == "MAC" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			errs = append(errs, fmt.Errorf("token_keys: key %q: %w", k.Kid, err))
			continue
		}
		ks.keys = append(ks.keys, pk)
	}
	if len(ks.keys) == 0 {
		errs = append(errs, errors.New("token_keys: no usable signing key"))
		return nil, errors.Join(errs...)
	}
	return &ks, nil
}

func (k jwk) publicKey() (pubKey, error) {
	var pk pubKey
	switch {
	case k.Value != "":
		// CC uses "value" (the PEM) and nothing else.
		keys, err := parsePEMKeys([]byte(k.Value))
		if err != nil {
			return pubKey{}, err
		}
		pk = keys[0]
		pk.kid = k.Kid
	case k.Kty == "RSA":
		n, err := b64Int(k.N)
		if err != nil {
			return pubKey{}, fmt.Errorf("n: %w", err)
		}
		e, err := b64Int(k.E)
		if err != nil {
			return pubKey{}, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 2 || e.Int64() > 1<<31-1 {
			return pubKey{}, errors.New("e: out of range")
		}
		if pk, err = toPubKey(&rsa.PublicKey{N: n, E: int(e.Int64())}, k.Kid); err != nil {
			return pubKey{}, err
		}
	case k.Kty == "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return pubKey{}, fmt.Errorf("crv %q: only P-256 and P-384 are accepted", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if err := errors.Join(errX, errY); err != nil || len(x) != size || len(y) != size {
			return pubKey{}, errors.New("x, y: not coordinates of the curve's size")
		}
		point := append(append([]byte{4}, x...), y...)
		ek, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return pubKey{}, err
		}
		if pk, err = toPubKey(ek, k.Kid); err != nil {
			return pubKey{}, err
		}
	default:
		return pubKey{}, fmt.Errorf("kty %q without a PEM value", k.Kty)
	}
	// A key that says which alg it is for is not used for another family.
	if fam, _ := algFamily(k.Alg); k.Alg != "" && fam != pk.family {
		return pubKey{}, fmt.Errorf("alg %q does not fit the key", k.Alg)
	}
	return pk, nil
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return new(big.Int).SetBytes(b), nil
}

// removedFrom reports whether some key of old is not in next: a rotation
// that must retire the tokens the old key verified.
func removedFrom(old, next *keySet) bool {
	if old == nil {
		return false
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, o := range old.keys {
		found := false
		for _, n := range next.keys {
			if eq, ok := o.key.(equaler); ok && eq.Equal(n.key) {
				found = true
				break
			}
		}
		if !found {
			return true
		}
	}
	return false
}
