package auth

import (
	"crypto/rsa"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCacheExpiry: a cached token is answered from the cache until its exp,
// and refused from its exp on.
func TestCacheExpiry(t *testing.T) {
	t.Parallel()
	k := testKeys()
	var clock atomic.Int64
	clock.Store(testNow.Unix())
	cfg := authCfg()
	v := newVerifier(t, cfg, WithKeys(&k.rsa1.PublicKey), WithClock(func() time.Time { return time.Unix(clock.Load(), 0) }))
	exp := testNow.Add(time.Minute).Unix()
	tok := bearer(sign(t, "RS256", "key-1", k.rsa1, with(map[string]any{"exp": exp})))

	first, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		at     int64
		want   Reason
		cached bool
	}{
		{name: "just verified", at: testNow.Unix(), cached: true},
		{name: "a second before exp", at: exp - 1, cached: true},
		{name: "at exp", at: exp, want: ReasonExpired},
		{name: "after exp", at: exp + 3600, want: ReasonExpired},
	}
	for _, tc := range cases { // sequential: they move one clock
		clock.Store(tc.at)
		id, err := v.Verify(tok)
		if got := reasonOf(t, err); got != tc.want {
			t.Fatalf("%s: reason %q, want %q (%v)", tc.name, got, tc.want, err)
		}
		if tc.cached && id != first {
			t.Fatalf("%s: not answered from the cache", tc.name)
		}
	}
}

// TestCacheNeverHitsAnotherToken: tokens that share everything but their
// last bytes never get each other's entry.
func TestCacheNeverHitsAnotherToken(t *testing.T) {
	t.Parallel()
	k := testKeys()
	v := newVerifier(t, authCfg(), WithKeys(&k.rsa1.PublicKey), WithClock(fixedClock()))
	alice := sign(t, "RS256", "key-1", k.rsa1, baseClaims())
	if _, err := v.Verify(bearer(alice)); err != nil {
		t.Fatal(err)
	}
	// Change one base64 character in the middle of the signature: same
	// prefix, same length, another token.
	flipped := []byte(alice)
	mid := len(flipped) - 20
	if flipped[mid] == 'A' {
		flipped[mid] = 'B'
	} else {
		flipped[mid] = 'A'
	}
	// A different last character: with trailing bits set it is not
	// canonical base64, which strict decoding refuses.
	lastFlipped := []byte(alice)
	if lastFlipped[len(lastFlipped)-1] == 'A' {
		lastFlipped[len(lastFlipped)-1] = 'B'
	} else {
		lastFlipped[len(lastFlipped)-1] = 'A'
	}
	cases := []struct {
		name   string
		token  string
		wantID string // "" means refused
	}{
		{name: "same prefix, one byte changed", token: string(flipped)},
		{name: "same prefix, other last byte", token: string(lastFlipped)},
		{name: "prefix only", token: alice[:len(alice)-1]},
		{name: "longer", token: alice + "A"},
		{name: "other user", token: sign(t, "RS256", "key-1", k.rsa1, with(map[string]any{"user_id": "bob-guid"})), wantID: "bob-guid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := v.Verify(bearer(tc.token))
			if tc.wantID == "" {
				if err == nil || id != nil {
					t.Fatalf("token verified as %+v", id)
				}
				reasonOf(t, err)
				return
			}
			if err != nil || id.ID() != tc.wantID {
				t.Fatalf("identity %+v (%v), want %q", id, err, tc.wantID)
			}
		})
	}
}

// TestCacheCollision plants an entry under another token's hash, as a
// 64-bit collision would: the full comparison must refuse it.
func TestCacheCollision(t *testing.T) {
	t.Parallel()
	c := newTokenCache(16)
	alice := &Identity{UserID: "alice"}
	c.put([]byte("token-a"), alice, 100, 0, 0)
	// Plant token-a's entry in token-b's set under token-b's hash.
	hb := maphash.Bytes(c.seed, []byte("token-b"))
	slot := (hb%c.sets)*c.ways + c.ways - 1
	c.slots[slot].Store(&cacheEntry{hash: hb, token: "token-a", id: alice, exp: 100})
	c.tags[slot].Store(hb)
	cases := []struct {
		name  string
		token string
		now   int64
		gen   uint64
		want  *Identity
	}{
		{name: "own token", token: "token-a", now: 50, want: alice},
		{name: "colliding token", token: "token-b", now: 50},
		{name: "own token expired", token: "token-a", now: 100},
		{name: "own token, keys rotated", token: "token-a", now: 50, gen: 1},
	}
	for _, tc := range cases {
		if got := c.get([]byte(tc.token), tc.now, tc.gen); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestCacheBound(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		size int
	}{{"one", 1}, {"small", 16}, {"sharded", 1000}, {"odd", 777}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(tc.size)
			id := &Identity{UserID: "u"}
			for i := range 5 * tc.size {
				c.put(fmt.Appendf(nil, "token-%d", i), id, int64(100+i), 0, 0)
				if n := c.len(); n > tc.size {
					t.Fatalf("%d entries after %d puts, bound %d", n, i+1, tc.size)
				}
			}
			// The newest entry is always kept.
			last := fmt.Appendf(nil, "token-%d", 5*tc.size-1)
			if c.get(last, 0, 0) != id {
				t.Fatal("newest entry evicted")
			}
		})
	}
	if newTokenCache(0) != nil {
		t.Fatal("size 0 must disable the cache")
	}
}

// TestCacheEviction: a full set drops a dead entry (expired, or from an
// older key generation) before a live one, and otherwise the live entry
// that expires soonest.
func TestCacheEviction(t *testing.T) {
	t.Parallel()
	id := &Identity{UserID: "u"}
	cases := []struct {
		name    string
		exps    []int64 // entries e0…e7
		gens    []uint64
		now     int64
		gen     uint64
		evicted int // index into exps
	}{
		{name: "expired first", exps: []int64{500, 500, 10, 500, 500, 500, 500, 500}, gens: make([]uint64, 8), now: 20, evicted: 2},
		{name: "old generation first", exps: []int64{500, 500, 500, 500, 500, 900, 500, 500}, gens: []uint64{1, 1, 1, 1, 1, 0, 1, 1}, now: 20, gen: 1, evicted: 5},
		{name: "soonest expiry", exps: []int64{500, 600, 700, 300, 800, 900, 400, 550}, gens: make([]uint64, 8), now: 20, evicted: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(8) // one set of eight
			// Fill the slots directly: a put under a newer generation would
			// already evict the older entries this case needs.
			for i, exp := range tc.exps {
				key := fmt.Appendf(nil, "e%d", i)
				h := maphash.Bytes(c.seed, key)
				c.slots[i].Store(&cacheEntry{hash: h, token: string(key), id: id, exp: exp, gen: tc.gens[i]})
				c.tags[i].Store(h)
			}
			c.put([]byte("new"), id, 1000, tc.now, tc.gen)
			for i, exp := range tc.exps {
				key := fmt.Appendf(nil, "e%d", i)
				h := maphash.Bytes(c.seed, key)
				present := false
				for j := range c.slots {
					if e := c.slots[j].Load(); e != nil && e.hash == h {
						present = true
					}
				}
				if present == (i == tc.evicted) {
					t.Errorf("e%d (exp %d): present %v", i, exp, present)
				}
			}
			if c.get([]byte("new"), tc.now, tc.gen) == nil || c.len() != 8 {
				t.Fatalf("new entry missing or size %d", c.len())
			}
		})
	}
}

// TestConcurrentVerify runs verifications, cache hits and key refreshes
// together, for the race detector.
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	k := testKeys()
	srv := newUAAServer(t)
	srv.setKeys(t, map[string]*rsa.PublicKey{"key-1": &k.rsa1.PublicKey})
	cfg := authCfg()
	cfg.TokenKeysURL = srv.URL + "/token_keys"
	cfg.KeysRefresh = time.Millisecond
	cfg.KeysMinRefetch = time.Millisecond
	cfg.CacheSize = 64
	v := newVerifier(t, cfg, WithClock(fixedClock()))
	waitReady(t, v)
	tokens := make([][]byte, 8)
	for i := range tokens {
		tokens[i] = bearer(sign(t, "RS256", "key-1", k.rsa1, with(map[string]any{"user_id": fmt.Sprint("u", i)})))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				tok := tokens[(g+i)%len(tokens)]
				id, err := v.Verify(tok)
				if err != nil {
					t.Errorf("verify: %v", err)
					return
				}
				if want := fmt.Sprint("u", (g+i)%len(tokens)); id.ID() != want {
					t.Errorf("identity %q, want %q", id.ID(), want)
					return
				}
			}
		})
	}
	wg.Wait()
}
