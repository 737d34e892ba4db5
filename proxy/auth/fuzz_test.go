package auth

import (
	"errors"
	"testing"
)

// FuzzVerify feeds arbitrary Authorization headers: Verify must never
// panic, must return either an identity or an *Error, and must never accept
// a token the keys did not sign.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	good := sign(f, "HS256", "", []byte("fuzz-secret"), baseClaims())
	seeds := []string{
		"", "bearer", "Bearer ", "basic x", "bearer a.b", "bearer a.b.c", "bearer ..", "bearer a.b.c.d",
		"bearer " + good, "bearer " + good[:len(good)-3],
		"bearer " + sign(f, "none", "", nil, baseClaims()),
		"bearer " + sign(f, "RS256", "key-1", k.rsa1, baseClaims()),
		"bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEuNWU5fQ.x",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cfg := authCfg()
	cfg.HMACSecrets = []string{"fuzz-secret"}
	v, err := New(cfg, WithKeys(&k.ec256.PublicKey), WithClock(fixedClock()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Fuzz(func(t *testing.T, header []byte) {
		id, err := v.Verify(header)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || id != nil {
				t.Fatalf("Verify = %+v, %v (%T)", id, err, err)
			}
			return
		}
		if id == nil || id.ID() == "" {
			t.Fatalf("accepted token without identity: %q", header)
		}
	})
}
