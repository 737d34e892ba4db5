package auth

import (
	"testing"
	"time"

	"capibridge/backend/uaa"
)

// benchToken is a token as the embedded UAA mints it (RS256, key-1, a
// realistic claim set), and a verifier that trusts its key.
func benchToken(b *testing.B, cacheSize int) (*Verifier, []byte) {
	b.Helper()
	key, err := uaa.LoadOrCreateKey(":memory:")
	if err != nil {
		b.Fatal(err)
	}
	const iss = "http://localhost/uaa/oauth/token"
	cfg := authCfg()
	cfg.Issuer = iss
	cfg.CacheSize = cacheSize
	v := newVerifier(b, cfg, WithKeys(key.Public()))
	tok, err := key.Sign(uaa.UserToken(iss, "user-guid", "alice", "alice@example.org",
		[]string{"cloud_controller.read", "cloud_controller.write", "openid", "uaa.user"}, time.Now(), time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return v, []byte("bearer " + tok)
}

// BenchmarkVerifyCached is the common case: a client sending the token it
// sent before. It must stay under 1 µs and allocate nothing.
func BenchmarkVerifyCached(b *testing.B) {
	v, h := benchToken(b, 10000)
	if _, err := v.Verify(h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(h)))
	for b.Loop() {
		if _, err := v.Verify(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel measures cache contention across cores.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, h := benchToken(b, 10000)
	if _, err := v.Verify(h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyColdRS256 is a full verification: the cache is disabled.
func BenchmarkVerifyColdRS256(b *testing.B) {
	v, h := benchToken(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h); err != nil {
			b.Fatal(err)
		}
	}
}
