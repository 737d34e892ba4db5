package auth

import (
	"crypto"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"capibridge/configs"
)

// maxTokenBytes bounds the JWT Verify will decode. UAA tokens with many
// scopes reach a few KiB; anything far larger is refused before any base64,
// JSON or RSA work is spent on it.
const maxTokenBytes = 32 << 10

// Defaults for a configs.Auth whose durations are zero (configs.Validate
// refuses that; the defaults keep New usable from tests and tools).
const (
	defaultKeysRefresh    = 30 * time.Second
	defaultKeysMinRefetch = 5 * time.Second
)

// Verifier checks bearer tokens as the Cloud Controller does (MAPPING §4).
// It is safe for concurrent use. Close stops its background refresh.
type Verifier struct {
	hmac      [][]byte
	static    []pubKey
	audiences []string
	leeway    time.Duration
	now       func() time.Time
	cache     *tokenCache
	log       *slog.Logger
	// fetched is WithKeysFetched's; nil without it.
	fetched func(time.Time)

	// gen is the key generation: bumped when a key leaves /token_keys or
	// the discovered issuer changes, which retires every cached token.
	gen atomic.Uint64

	// issuer is the configured (or WithIssuer) issuer. When empty, either
	// discoverURL names UAA's openid-configuration and the issuer is
	// discovered, or skipIssuer is set (WithKeys and nothing to discover).
	issuer      string
	skipIssuer  bool
	discoverURL string
	discovered  atomic.Pointer[string]

	keysURL     string
	remote      atomic.Pointer[keySet]
	client      *fasthttp.Client
	keysRefresh time.Duration
	minRefetch  time.Duration

	fetchMu   sync.Mutex
	lastFetch time.Time // guarded by fetchMu

	errMu   sync.Mutex
	lastErr error // guarded by errMu

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type options struct {
	keys      []crypto.PublicKey
	withKeys  bool
	issuer    string
	now       func() time.Time
	tlsConfig *tls.Config
	log       *slog.Logger
	fetched   func(time.Time)
}

// Option changes how New builds a Verifier.
type Option func(*options)

// WithKeys adds in-process verification keys (*rsa.PublicKey, or
// *ecdsa.PublicKey on P-256 or P-384): the embedded Cloud Foundry shares its
// UAA key this way. A verifier built with WithKeys and no issuer configured
// or discoverable skips the iss check, since the caller holds the very key
// that signs the tokens; every other verifier requires an issuer.
func WithKeys(keys ...crypto.PublicKey) Option {
	return func(o *options) {
		o.keys = append(o.keys, keys...)
		o.withKeys = true
	}
}

// WithIssuer sets the issuer every token must carry, overriding
// configs.Auth.Issuer; typically the issuer Discover found. Empty is
// ignored.
func WithIssuer(iss string) Option {
	return func(o *options) {
		if iss != "" {
			o.issuer = iss
		}
	}
}

// WithClock replaces time.Now for the token's exp, nbf and iat and for the
// cache's expiry. Refetch rate limits keep using the real clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithTLSConfig sets the TLS configuration used to reach UAA (a private CA
// for uaa.internal_url, for instance).
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *options) { o.tlsConfig = cfg }
}

// WithLogger receives warnings about failed background key refreshes; by
// default they are dropped.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithKeysFetched is told the time of every successful fetch of
// /token_keys (capibridge_token_keys_last_refresh_timestamp_seconds).
func WithKeysFetched(f func(time.Time)) Option {
	return func(o *options) { o.fetched = f }
}

// New builds a Verifier from cfg and starts refreshing /token_keys in the
// background when cfg.TokenKeysURL is set. It fails when a key cannot be
// read (the error names the entry) or when nothing could verify a token.
//
// The issuer is, in order: WithIssuer, cfg.Issuer, or discovered from the
// UAA whose /token_keys is cfg.TokenKeysURL (its
// /.well-known/openid-configuration, as CC does). With none of these, only
// a verifier built WithKeys is allowed, and it skips the iss check.
//
// cfg.CacheSize 0 disables the verified-token cache.
func New(cfg configs.Auth, opts ...Option) (*Verifier, error) {
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		audiences:   cfg.Audiences,
		leeway:      cfg.Leeway,
		now:         o.now,
		log:         o.log,
		fetched:     o.fetched,
		keysRefresh: cfg.KeysRefresh,
		minRefetch:  cfg.KeysMinRefetch,
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("auth: audiences: must name at least one audience")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: leeway: must not be negative")
	}
	if cfg.CacheSize < 0 {
		return nil, errors.New("auth: cache_size: must not be negative")
	}
	if cfg.KeysRefresh < 0 || cfg.KeysMinRefetch < 0 {
		return nil, errors.New("auth: keys_refresh, keys_min_refetch: must not be negative")
	}
	if v.keysRefresh == 0 {
		v.keysRefresh = defaultKeysRefresh
	}
	if v.minRefetch == 0 {
		v.minRefetch = defaultKeysMinRefetch
	}
	for i, s := range cfg.HMACSecrets {
		if s == "" {
			return nil, fmt.Errorf("auth: hmac_secrets[%d]: empty", i)
		}
		v.hmac = append(v.hmac, []byte(s))
	}
	static, err := loadPublicKeys(cfg.PublicKeys)
	if err != nil {
		return nil, err
	}
	v.static = static
	for i, k := range o.keys {
		pk, err := toPubKey(k, "")
		if err != nil {
			return nil, fmt.Errorf("auth: WithKeys[%d]: %w", i, err)
		}
		v.static = append(v.static, pk)
	}
	if cfg.TokenKeysURL != "" {
		if v.keysURL, err = checkURL(cfg.TokenKeysURL); err != nil {
			return nil, fmt.Errorf("auth: token_keys_url: %w", err)
		}
	}
	if len(v.hmac) == 0 && len(v.static) == 0 && v.keysURL == "" {
		return nil, errors.New("auth: no verification keys: set hmac_secrets, public_keys or token_keys_url")
	}
	v.issuer = cfg.Issuer
	if o.issuer != "" {
		v.issuer = o.issuer
	}
	if v.issuer == "" {
		switch base, ok := strings.CutSuffix(v.keysURL, "/token_keys"); {
		case ok:
			v.discoverURL = base + "/.well-known/openid-configuration"
		case o.withKeys:
			v.skipIssuer = true
		default:
			return nil, errors.New("auth: issuer: not set, and not discoverable (token_keys_url does not end in /token_keys)")
		}
	}
	v.cache = newTokenCache(cfg.CacheSize)
	if v.keysURL != "" || v.discoverURL != "" {
		v.client = newClient(o.tlsConfig)
		v.stop = make(chan struct{})
		v.done = make(chan struct{})
		go v.refreshLoop()
	}
	return v, nil
}

// Ready reports nil once tokens can be verified: some key is available
// (hmac secrets, static keys, or /token_keys fetched once) and the issuer is
// known. It is what /readyz asks.
func (v *Verifier) Ready() error {
	v.errMu.Lock()
	last := v.lastErr
	v.errMu.Unlock()
	suffix := func(what string) error {
		if last == nil {
			return fmt.Errorf("auth: %s not fetched yet", what)
		}
		return fmt.Errorf("auth: %s not fetched yet: %w", what, last)
	}
	if !v.skipIssuer && v.currentIssuer() == "" {
		return suffix("issuer")
	}
	if len(v.hmac) > 0 || len(v.static) > 0 || v.remote.Load() != nil {
		return nil
	}
	return suffix("/token_keys")
}

// Close stops the background refresh and waits for it. It is safe to call
// more than once.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		if v.stop == nil {
			return
		}
		close(v.stop)
		<-v.done
		v.client.CloseIdleConnections()
	})
}

func (v *Verifier) currentIssuer() string {
	if v.issuer != "" {
		return v.issuer
	}
	if p := v.discovered.Load(); p != nil {
		return *p
	}
	return ""
}

// Verify checks the raw Authorization header value and returns who the
// caller is. Every error is an *Error whose Reason says why.
//
// A token seen before and still valid is answered from the cache without
// allocating; other tokens are verified in full, which may wait up to ~2 s
// for one refetch of /token_keys (MAPPING §4: CC refreshes its keys once
// when a token fails them).
func (v *Verifier) Verify(authorization []byte) (*Identity, error) {
	token, e := bearerToken(authorization)
	if e != nil {
		return nil, e
	}
	// Read the generation before any key: see fetchLocked.
	gen := v.gen.Load()
	now := v.now()
	if v.cache != nil {
		if id := v.cache.get(token, now.Unix(), gen); id != nil {
			return id, nil
		}
	}
	id, e := v.verify(token, now)
	if e != nil {
		return nil, e
	}
	if v.cache != nil {
		v.cache.put(token, id, id.Expires, now.Unix(), gen)
	}
	return id, nil
}

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}

// isSpace is Ruby's whitespace for String#split(' '), which cf-uaa-lib's
// TokenCoder#decode uses on the header.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func equalFoldBearer(b []byte) bool {
	const want = "bearer"
	if len(b) != len(want) {
		return false
	}
	for i := range len(want) {
		if b[i]|0x20 != want[i] {
			return false
		}
	}
	return true
}

// bearerToken extracts the JWT of "bearer <jwt>" without allocating.
// A header that does not start with "bearer" (any case) is no token at all
// (CC's token_format_valid?); one that does must split on runs of
// whitespace into exactly "bearer" and the token (cf-uaa-lib
// TokenCoder#decode), so "bearer" alone or "bearerX t" is invalid, not
// missing.
func bearerToken(h []byte) ([]byte, *Error) {
	if len(h) < 6 || !equalFoldBearer(h[:6]) {
		return nil, &Error{Reason: ReasonMissing, Err: errors.New("no bearer token")}
	}
	// Fast path, the common "Bearer <jwt>": whitespace after the scheme,
	// none inside the token (checked eight bytes at a time), some maybe
	// at the end. Anything else takes the general split below.
	if len(h) > 6 && isSpace(h[6]) {
		i := 7
		for i < len(h) && isSpace(h[i]) {
			i++
		}
		j := len(h)
		for j > i && isSpace(h[j-1]) {
			j--
		}
		if j > i && !hasByteBelow0x21(h[i:j]) {
			return h[i:j], nil
		}
	}
	var fields [2][]byte
	n := 0
	for i := 0; i < len(h); {
		for i < len(h) && isSpace(h[i]) {
			i++
		}
		if i == len(h) {
			break
		}
		j := i
		for j < len(h) && !isSpace(h[j]) {
			j++
		}
		if n < len(fields) {
			fields[n] = h[i:j]
		}
		n++
		i = j
	}
	if n != 2 || !equalFoldBearer(fields[0]) {
		return nil, &Error{Reason: ReasonMalformed, Err: errors.New(`not "bearer <token>"`)}
	}
	return fields[1], nil
}

// hasByteBelow0x21 reports whether b holds a byte below '!', which covers
// every whitespace byte isSpace knows. It tests eight bytes per step with
// the "haszero"-style word trick (x - 0x21…21) & ^x & 0x80…80, exact for
// thresholds up to 0x80; a 4 KiB token is checked in well under 1 µs.
func hasByteBelow0x21(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-ones*0x21)&^x&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x21 {
			return true
		}
	}
	return false
}

// algFamily maps the accepted algs to their method and key family
// (MAPPING §4: HS256/384/512 and RS256/384/512 as CC; ES256/384 for static
// EC keys). Anything else, "none" included, has no family.
func algFamily(alg string) (family, jwt.SigningMethod) {
	switch alg {
	case "HS256":
		return familyHMAC, jwt.SigningMethodHS256
	case "HS384":
		return familyHMAC, jwt.SigningMethodHS384
	case "HS512":
		return familyHMAC, jwt.SigningMethodHS512
	case "RS256":
		return familyRSA, jwt.SigningMethodRS256
	case "RS384":
		return familyRSA, jwt.SigningMethodRS384
	case "RS512":
		return familyRSA, jwt.SigningMethodRS512
	case "ES256":
		return familyP256, jwt.SigningMethodES256
	case "ES384":
		return familyP384, jwt.SigningMethodES384
	}
	return familyNone, nil
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// claims are the claims CC uses (MAPPING §4). The times stay raw so that
// their JSON type can be checked: CC wants exp to be an Integer.
type claims struct {
	JTI      string          `json:"jti"`
	Scope    []string        `json:"scope"`
	ClientID string          `json:"client_id"`
	UserID   string          `json:"user_id"`
	UserName string          `json:"user_name"`
	Email    string          `json:"email"`
	Iss      string          `json:"iss"`
	Aud      audience        `json:"aud"`
	Exp      json.RawMessage `json:"exp"`
	Nbf      json.RawMessage `json:"nbf"`
	Iat      json.RawMessage `json:"iat"`
}

// audience is aud, which RFC 7519 §4.1.3 allows as one string or a list.
type audience []string

// UnmarshalJSON accepts a string or a list of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// verify checks a token in full: signature, then claims, in CC's order of
// concern.
func (v *Verifier) verify(token []byte, now time.Time) (*Identity, *Error) {
	if len(token) > maxTokenBytes {
		return nil, fail(ReasonMalformed, "token of %d bytes exceeds %d", len(token), maxTokenBytes)
	}
	tok := string(token)
	// A JWT has 3 segments; cf-uaa-lib also takes 2 (no signature), which
	// then fails the signature check of any accepted alg.
	first := strings.IndexByte(tok, '.')
	if first < 0 {
		return nil, fail(ReasonMalformed, "not a JWT: no '.'")
	}
	last := strings.LastIndexByte(tok, '.')
	signingInput, sigSeg := tok, ""
	if last != first {
		if strings.IndexByte(tok[first+1:last], '.') >= 0 {
			return nil, fail(ReasonMalformed, "not a JWT: more than 3 segments")
		}
		signingInput, sigSeg = tok[:last], tok[last+1:]
	}
	payloadSeg := signingInput[first+1:]

	var h header
	if err := decodeSegment(tok[:first], &h); err != nil {
		return nil, fail(ReasonMalformed, "header: %w", err)
	}
	fam, method := algFamily(h.Alg)
	if method == nil {
		return nil, fail(ReasonAlgorithm, "alg %q is not accepted", h.Alg)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigSeg)
	if err != nil {
		return nil, fail(ReasonMalformed, "signature: %w", err)
	}
	if e := v.checkSignature(method, fam, signingInput, sig, h.Kid); e != nil {
		return nil, e
	}

	var c claims
	if err := decodeSegment(payloadSeg, &c); err != nil {
		return nil, fail(ReasonMalformed, "claims: %w", err)
	}
	return v.checkClaims(&c, now)
}

func decodeSegment(seg string, into any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// checkSignature tries the keys of the alg's family. UAA keys come from
// /token_keys: when none verifies (an unknown kid, a new key, or a forgery)
// the keys are fetched once more, rate-limited, and tried again, as CC's
// UaaTokenDecoder does with its two passes.
func (v *Verifier) checkSignature(m jwt.SigningMethod, fam family, input string, sig []byte, kid string) *Error {
	if fam == familyHMAC {
		if len(v.hmac) == 0 {
			return fail(ReasonAlgorithm, "%s needs an hmac secret and none is configured", m.Alg())
		}
		// uaa.symmetric_secret, then symmetric_secret2 (MAPPING §4).
		for _, s := range v.hmac {
			if m.Verify(input, sig, s) == nil {
				return nil
			}
		}
		return fail(ReasonSignature, "%s signature fails every hmac secret", m.Alg())
	}
	ks := v.remote.Load()
	tried, ok := v.tryKeys(m, fam, input, sig, kid, ks)
	if ok {
		return nil
	}
	if v.keysURL != "" {
		v.refetch()
		if ks2 := v.remote.Load(); ks2 != ks {
			ks = ks2
			tried, ok = v.tryKeys(m, fam, input, sig, kid, ks)
			if ok {
				return nil
			}
		}
	}
	if tried > 0 {
		return fail(ReasonSignature, "%s signature fails every key (kid %q)", m.Alg(), kid)
	}
	if v.keysURL != "" && ks == nil {
		return fail(ReasonKeysUnavailable, "/token_keys not fetched: %w", v.lastError())
	}
	return fail(ReasonAlgorithm, "no key for %s is configured", m.Alg())
}

// tryKeys tries the key the token names first, then every other key of the
// family: CC ignores kid and tries each key (MAPPING §4), and the kid only
// saves work when there are several.
func (v *Verifier) tryKeys(m jwt.SigningMethod, fam family, input string, sig []byte, kid string, ks *keySet) (tried int, ok bool) {
	if ks != nil && kid != "" {
		for _, k := range ks.keys {
			if k.kid == kid && k.family == fam {
				tried++
				if m.Verify(input, sig, k.key) == nil {
					return tried, true
				}
			}
		}
	}
	for _, k := range v.static {
		if k.family == fam {
			tried++
			if m.Verify(input, sig, k.key) == nil {
				return tried, true
			}
		}
	}
	if ks != nil {
		for _, k := range ks.keys {
			if k.family == fam && (kid == "" || k.kid != kid) {
				tried++
				if m.Verify(input, sig, k.key) == nil {
					return tried, true
				}
			}
		}
	}
	return tried, false
}

func (v *Verifier) lastError() error {
	v.errMu.Lock()
	defer v.errMu.Unlock()
	if v.lastErr == nil {
		return errors.New("no answer yet")
	}
	return v.lastErr
}

// checkClaims applies UAA's claim rules (MAPPING §4, verification 5-8) and
// builds the identity.
func (v *Verifier) checkClaims(c *claims, now time.Time) (*Identity, *Error) {
	// CC: exp must be an Integer (a JSON 1.7e9 or 1700000000.0 is a Float
	// in Ruby, and refused); ParseInt refuses fractions and exponents.
	if len(c.Exp) == 0 || string(c.Exp) == "null" {
		return nil, fail(ReasonMalformed, "no exp")
	}
	exp, err := strconv.ParseInt(string(c.Exp), 10, 64)
	if err != nil {
		return nil, fail(ReasonMalformed, "exp %s is not an integer", c.Exp)
	}
	if !now.Before(time.Unix(exp, 0).Add(v.leeway)) {
		return nil, fail(ReasonExpired, "expired at %d", exp)
	}
	nowSec := float64(now.UnixNano())/1e9 + v.leeway.Seconds()
	for _, t := range []struct {
		name string
		raw  json.RawMessage
	}{{"nbf", c.Nbf}, {"iat", c.Iat}} {
		if len(t.raw) == 0 || string(t.raw) == "null" {
			continue
		}
		sec, err := strconv.ParseFloat(string(t.raw), 64)
		if err != nil {
			return nil, fail(ReasonMalformed, "%s %s is not a number", t.name, t.raw)
		}
		if sec > nowSec {
			return nil, fail(ReasonNotYetValid, "%s %s is in the future", t.name, t.raw)
		}
	}
	if !intersects(c.Aud, v.audiences) {
		return nil, fail(ReasonAudience, "aud %q names none of %q", []string(c.Aud), v.audiences)
	}
	if e := v.checkIssuer(c.Iss); e != nil {
		return nil, e
	}
	if c.JTI == "" {
		return nil, fail(ReasonJTI, "no jti")
	}
	if strings.HasSuffix(c.JTI, "-r") {
		// UAA marks refresh tokens so; they must never open the API.
		return nil, fail(ReasonJTI, "jti %q is a refresh token's", c.JTI)
	}
	if c.UserID == "" && c.ClientID == "" {
		return nil, fail(ReasonIdentity, "neither user_id nor client_id")
	}
	return &Identity{UserID: c.UserID, ClientID: c.ClientID, UserName: c.UserName, Email: c.Email,
		Scopes: c.Scope, Expires: exp}, nil
}

// checkIssuer compares iss with the issuer; a discovered issuer is fetched
// again once on a mismatch (CC refetches its openid-configuration so).
func (v *Verifier) checkIssuer(iss string) *Error {
	if v.skipIssuer {
		return nil
	}
	want := v.currentIssuer()
	if want != "" && iss == want {
		return nil
	}
	if v.discoverURL != "" {
		v.refetch()
		want = v.currentIssuer()
		if want == "" {
			return fail(ReasonKeysUnavailable, "issuer not discovered: %w", v.lastError())
		}
		if iss == want {
			return nil
		}
	}
	return fail(ReasonIssuer, "iss %q is not %q", iss, want)
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
