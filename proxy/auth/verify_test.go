package auth

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"capibridge/backend/uaa"
)

// tableVerifiers are the verifiers the token table runs against.
type tableVerifiers struct {
	jwks, hmac, down *Verifier
}

func setupTable(t *testing.T) tableVerifiers {
	t.Helper()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})

	cfg := authCfg()
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.PublicKeys = []string{publicPEM(t, &k.ec256.PublicKey)}
	cfg.Leeway = 30 * time.Second
	jwks := newVerifier(t, cfg, WithClock(fixedClock()))
	deadline := time.Now().Add(5 * time.Second)
	for jwks.remote.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("token keys never fetched")
		}
		time.Sleep(2 * time.Millisecond)
	}

	cfg = authCfg()
	cfg.HMACSecrets = []string{"first-secret", "second-secret"}
	hmac := newVerifier(t, cfg, WithClock(fixedClock()))

	downSrv := newUAAServer(t)
	downSrv.down.Store(true)
	cfg = authCfg()
	cfg.TokenKeysURL = downSrv.URL + "/token_keys"
	down := newVerifier(t, cfg, WithClock(fixedClock()))
	return tableVerifiers{jwks: jwks, hmac: hmac, down: down}
}

func TestVerifyTokens(t *testing.T) {
	k := testKeys()
	vs := setupTable(t)
	rs := func(c map[string]any) string { return sign(t, "RS256", "key-1", k.rsa1, c) }
	good := rs(baseClaims())
	dot1 := strings.IndexByte(good, '.')
	dot2 := strings.LastIndexByte(good, '.')
	tamperedClaims := with(map[string]any{"scope": []string{"cloud_controller.admin"}})
	tampered := good[:dot1+1] + strings.Split(rs(tamperedClaims), ".")[1] + good[dot2:]
	rsaPEM := []byte(publicPEM(t, &k.rsa1.PublicKey))
	huge := rs(with(map[string]any{"pad": strings.Repeat("x", 64<<10)}))

	cases := []struct {
		name   string
		v      *Verifier
		header string
		want   Reason // "" means the token verifies
		wantID string
	}{
		{name: "no header", v: vs.jwks, header: "", want: ReasonMissing},
		{name: "basic header", v: vs.jwks, header: "Basic dXNlcjpwYXNz", want: ReasonMissing},
		{name: "token without scheme", v: vs.jwks, header: good, want: ReasonMissing},
		{name: "leading space counts as missing", v: vs.jwks, header: " bearer " + good, want: ReasonMissing},
		{name: "valid RS256 from token_keys", v: vs.jwks, header: "bearer " + good, wantID: "user-guid"},
		{name: "scheme in capitals", v: vs.jwks, header: "BEARER " + good, wantID: "user-guid"},
		{name: "two spaces split on runs of whitespace", v: vs.jwks, header: "bearer  " + good, wantID: "user-guid"},
		{name: "tab and trailing space", v: vs.jwks, header: "Bearer\t" + good + " ", wantID: "user-guid"},
		{name: "bearer alone", v: vs.jwks, header: "bearer", want: ReasonMalformed},
		{name: "newline inside the token", v: vs.jwks, header: "bearer " + good[:len(good)-5] + "\n" + good[len(good)-5:], want: ReasonMalformed},
		{name: "bearer and two words", v: vs.jwks, header: "bearer " + good + " extra", want: ReasonMalformed},
		{name: "bearerX scheme", v: vs.jwks, header: "bearerX " + good, want: ReasonMalformed},
		{name: "not a JWT", v: vs.jwks, header: "bearer notajwt", want: ReasonMalformed},
		{name: "four segments", v: vs.jwks, header: "bearer " + good + ".x", want: ReasonMalformed},
		{name: "header not base64", v: vs.jwks, header: "bearer !!!." + good[dot1+1:], want: ReasonMalformed},
		{name: "header not JSON", v: vs.jwks, header: "bearer " + base64.RawURLEncoding.EncodeToString([]byte("nope")) + good[dot1:], want: ReasonMalformed},
		{name: "signature not base64", v: vs.jwks, header: "bearer " + good[:dot2] + ".***", want: ReasonMalformed},
		{name: "64 KiB token", v: vs.jwks, header: "bearer " + huge, want: ReasonMalformed},
		{name: "alg none", v: vs.jwks, header: "bearer " + sign(t, "none", "", nil, baseClaims()), want: ReasonAlgorithm},
		{name: "alg none two segments", v: vs.jwks, header: "bearer " + strings.TrimSuffix(sign(t, "none", "", nil, baseClaims()), "."), want: ReasonAlgorithm},
		{name: "alg PS256 not accepted", v: vs.jwks, header: "bearer " + sign(t, "PS256", "key-1", k.rsa1, baseClaims()), want: ReasonAlgorithm},
		{name: "HS256 signed with the RSA public key PEM", v: vs.jwks, header: "bearer " + sign(t, "HS256", "key-1", rsaPEM, baseClaims()), want: ReasonAlgorithm},
		{name: "HS256 signed with the PEM against hmac secrets", v: vs.hmac, header: "bearer " + sign(t, "HS256", "", rsaPEM, baseClaims()), want: ReasonSignature},
		{name: "RS256 without any RSA key", v: vs.hmac, header: "bearer " + good, want: ReasonAlgorithm},
		{name: "tampered payload", v: vs.jwks, header: "bearer " + tampered, want: ReasonSignature},
		{name: "truncated signature", v: vs.jwks, header: "bearer " + good[:len(good)-10], want: ReasonSignature},
		{name: "truncated to two segments", v: vs.jwks, header: "bearer " + good[:dot2], want: ReasonSignature},
		{name: "signed by an unknown RSA key", v: vs.jwks, header: "bearer " + sign(t, "RS256", "key-1", k.rsa2, baseClaims()), want: ReasonSignature},
		{name: "RS512 with the same key", v: vs.jwks, header: "bearer " + sign(t, "RS512", "key-1", k.rsa1, baseClaims()), wantID: "user-guid"},
		{name: "no kid tries every key", v: vs.jwks, header: "bearer " + sign(t, "RS256", "", k.rsa1, baseClaims()), wantID: "user-guid"},
		{name: "a kid that names no key tries every key", v: vs.jwks, header: "bearer " + sign(t, "RS256", "key-7", k.rsa1, baseClaims()), wantID: "user-guid"},
		{name: "ES256 static key", v: vs.jwks, header: "bearer " + sign(t, "ES256", "", k.ec256, baseClaims()), wantID: "user-guid"},
		{name: "ES256 other key", v: vs.jwks, header: "bearer " + sign(t, "ES256", "", k.ec256b, baseClaims()), want: ReasonSignature},
		{name: "ES384 without a P-384 key", v: vs.jwks, header: "bearer " + sign(t, "ES384", "", k.ec384, baseClaims()), want: ReasonAlgorithm},
		{name: "HMAC first secret", v: vs.hmac, header: "bearer " + sign(t, "HS256", "", []byte("first-secret"), baseClaims()), wantID: "user-guid"},
		{name: "HMAC second secret", v: vs.hmac, header: "bearer " + sign(t, "HS512", "", []byte("second-secret"), baseClaims()), wantID: "user-guid"},
		{name: "HMAC unknown secret", v: vs.hmac, header: "bearer " + sign(t, "HS384", "", []byte("third-secret"), baseClaims()), want: ReasonSignature},
		{name: "expired", v: vs.hmac, header: "bearer " + sign(t, "HS256", "", []byte("first-secret"), with(map[string]any{"exp": testNow.Unix()})), want: ReasonExpired},
		{name: "expired within leeway", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": testNow.Add(-20 * time.Second).Unix()})), wantID: "user-guid"},
		{name: "expired beyond leeway", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": testNow.Add(-31 * time.Second).Unix()})), want: ReasonExpired},
		{name: "float exp", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": json.Number("1700003600.0")})), want: ReasonMalformed},
		{name: "exponent exp", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": json.Number("1.7000036e9")})), want: ReasonMalformed},
		{name: "string exp", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": "1700003600"})), want: ReasonMalformed},
		{name: "no exp", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"exp": nil})), want: ReasonMalformed},
		{name: "nbf in the future", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"nbf": testNow.Add(time.Minute).Unix()})), want: ReasonNotYetValid},
		{name: "iat in the future", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"iat": testNow.Add(time.Minute).Unix()})), want: ReasonNotYetValid},
		{name: "nbf within leeway", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"nbf": testNow.Add(20 * time.Second).Unix()})), wantID: "user-guid"},
		{name: "iat in the future without leeway", v: vs.hmac, header: "bearer " + sign(t, "HS256", "", []byte("first-secret"), with(map[string]any{"iat": testNow.Unix() + 1})), want: ReasonNotYetValid},
		{name: "wrong audience", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"aud": []string{"cf", "routing"}})), want: ReasonAudience},
		{name: "no audience", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"aud": nil})), want: ReasonAudience},
		{name: "audience as one string", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"aud": "cloud_controller_service_permissions"})), wantID: "user-guid"},
		{name: "wrong issuer", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"iss": "https://uaa.evil.example/oauth/token"})), want: ReasonIssuer},
		{name: "no issuer", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"iss": nil})), want: ReasonIssuer},
		{name: "no jti", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"jti": nil})), want: ReasonJTI},
		{name: "refresh token jti", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"jti": "0f1e2d3c4b5a-r"})), want: ReasonJTI},
		{name: "neither user_id nor client_id", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"user_id": nil, "client_id": nil})), want: ReasonIdentity},
		{name: "client token", v: vs.jwks, header: "bearer " + rs(with(map[string]any{"user_id": nil, "client_id": "admin"})), wantID: "admin"},
		{name: "token_keys down", v: vs.down, header: "bearer " + good, want: ReasonKeysUnavailable},
		{name: "token_keys down, HS256 has no key", v: vs.down, header: "bearer " + sign(t, "HS256", "", []byte("x"), baseClaims()), want: ReasonAlgorithm},
	}

	var mu sync.Mutex
	seen := map[Reason]bool{}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				id, err := tc.v.Verify([]byte(tc.header))
				got := reasonOf(t, err)
				mu.Lock()
				seen[got] = true
				mu.Unlock()
				if got != tc.want {
					t.Fatalf("reason %q, want %q (err %v)", got, tc.want, err)
				}
				if tc.want != "" {
					if id != nil {
						t.Fatalf("refused token returned identity %+v", id)
					}
					return
				}
				if id == nil || id.ID() != tc.wantID {
					t.Fatalf("identity %+v, want id %q", id, tc.wantID)
				}
			})
		}
	})
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no case reaches reason %q", r)
		}
	}
}

func TestVerifyIdentity(t *testing.T) {
	t.Parallel()
	k := testKeys()
	cfg := authCfg()
	v := newVerifier(t, cfg, WithKeys(&k.rsa1.PublicKey), WithClock(fixedClock()))
	id, err := v.Verify(bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims())))
	if err != nil {
		t.Fatal(err)
	}
	want := &Identity{UserID: "user-guid", ClientID: "cf", UserName: "alice", Email: "alice@example.org",
		Scopes: []string{"cloud_controller.read", "openid"}, Expires: testNow.Add(time.Hour).Unix()}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
}

// TestEmbeddedUAA verifies tokens the embedded UAA mints, with its key
// shared in process as cmd wires it.
func TestEmbeddedUAA(t *testing.T) {
	t.Parallel()
	key, err := uaa.LoadOrCreateKey(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	const iss = "http://localhost/uaa/oauth/token"
	now := time.Now()
	tok, err := key.Sign(uaa.UserToken(iss, "admin-guid", "admin", "admin@example.org",
		[]string{"cloud_controller.admin", "openid"}, now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		opts   []Option
		want   Reason
		wantID string
	}{
		{name: "shared key and issuer", opts: []Option{WithKeys(key.Public()), WithIssuer(iss)}, wantID: "admin-guid"},
		{name: "shared key, no issuer skips the check", opts: []Option{WithKeys(key.Public())}, wantID: "admin-guid"},
		{name: "shared key, other issuer", opts: []Option{WithKeys(key.Public()), WithIssuer("https://uaa.other/oauth/token")}, want: ReasonIssuer},
		{name: "other key", opts: []Option{WithKeys(&testKeys().rsa1.PublicKey), WithIssuer(iss)}, want: ReasonSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := authCfg()
			cfg.Issuer = ""
			v := newVerifier(t, cfg, tc.opts...)
			id, err := v.Verify(bearer(tok))
			if got := reasonOf(t, err); got != tc.want {
				t.Fatalf("reason %q, want %q (%v)", got, tc.want, err)
			}
			if tc.want == "" && (id.ID() != tc.wantID || !id.CanWrite()) {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestErrorShape(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, authCfg(), WithKeys(&testKeys().rsa1.PublicKey))
	cases := []struct {
		name        string
		header      string
		missing     bool
		unavailable bool
	}{
		{name: "missing", header: "", missing: true},
		{name: "invalid", header: "bearer x.y.z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify([]byte(tc.header))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
			if e.Missing() != tc.missing || e.Unavailable() != tc.unavailable {
				t.Fatalf("Missing %v Unavailable %v for %v", e.Missing(), e.Unavailable(), err)
			}
			if !strings.HasPrefix(err.Error(), "auth: "+string(e.Reason)) {
				t.Fatalf("message %q lacks the prefix", err)
			}
			if errors.Unwrap(err) == nil || errors.Unwrap(err) != e.Err {
				t.Fatalf("Unwrap gives %v", errors.Unwrap(err))
			}
		})
	}
	e := &Error{Reason: ReasonKeysUnavailable}
	if !e.Unavailable() || e.Missing() || e.Error() != "auth: keys_unavailable" {
		t.Fatalf("bare error %q", e)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		scopes                   []string
		read, write, all, anyUsr bool
	}{
		{name: "admin", scopes: []string{"openid", ScopeAdmin}, read: true, write: true, all: true},
		{name: "admin read only", scopes: []string{ScopeAdminReadOnly}, read: true, all: true},
		{name: "global auditor", scopes: []string{ScopeGlobalAuditor}, read: true, all: true},
		{name: "read", scopes: []string{ScopeRead}, read: true},
		{name: "write", scopes: []string{ScopeWrite}, write: true},
		{name: "read and write", scopes: []string{ScopeRead, ScopeWrite}, read: true, write: true},
		{name: "user only", scopes: []string{ScopeUser}, anyUsr: true},
		{name: "none", scopes: nil},
		{name: "look-alike", scopes: []string{"cloud_controller.admin_x", "cloud_controller"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := &Identity{Scopes: tc.scopes}
			if id.CanRead() != tc.read || id.CanWrite() != tc.write || id.SeesAll() != tc.all {
				t.Fatalf("CanRead %v CanWrite %v SeesAll %v", id.CanRead(), id.CanWrite(), id.SeesAll())
			}
			if got := id.HasAny(ScopeUser, "unrelated"); got != tc.anyUsr {
				t.Fatalf("HasAny(user) = %v", got)
			}
			if id.HasAny() {
				t.Fatal("HasAny() with no scopes is true")
			}
		})
	}
	ids := []struct {
		id   Identity
		want string
	}{
		{Identity{UserID: "u", ClientID: "c"}, "u"},
		{Identity{ClientID: "c"}, "c"},
	}
	for _, tc := range ids {
		if got := tc.id.ID(); got != tc.want {
			t.Errorf("ID() of %+v = %q, want %q", tc.id, got, tc.want)
		}
	}
}

// TestHotPathAllocs: the scope helpers and a cached Verify run on every
// request and must not allocate. Not parallel: AllocsPerRun forbids it.
func TestHotPathAllocs(t *testing.T) {
	k := testKeys()
	v := newVerifier(t, authCfg(), WithKeys(&k.rsa1.PublicKey), WithClock(fixedClock()))
	h := bearer(sign(t, "RS256", "key-1", k.rsa1, baseClaims()))
	id, err := v.Verify(h)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    func()
	}{
		{"scope helpers", func() { _ = id.CanRead() || id.CanWrite() || id.SeesAll() || id.HasAny(ScopeUser) }},
		{"cached verify", func() {
			if got, err := v.Verify(h); err != nil || got != id {
				t.Fatalf("cached verify: %v", err)
			}
		}},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per run", tc.name, n)
		}
	}
}
