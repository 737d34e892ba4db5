package auth

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// tokenCache remembers verified tokens until they expire, so that a client
// sending one token many times pays for one signature check: an RSA verify
// is the largest single cost of a small request.
//
// It is a set-associative table of cacheWays slots per set, bounded by the
// configured size. Reads take no lock (a few atomic loads), so a token sent
// by many requests at once does not make cores fight over a lock's cache
// line, as an RWMutex's reader count would. Writers lock a stripe.
//
// A slot is found by a seeded 64-bit hash and then compared on the whole
// token, so no other token can ever hit an entry: a hash collision is a
// miss, never someone else's identity. The seed is random per process, so
// collisions cannot be planned.
//
// A full set evicts a dead entry (expired, or verified with keys since
// rotated) if it has one, else the entry that expires soonest.
type tokenCache struct {
	seed  maphash.Seed
	sets  uint64
	ways  uint64
	tags  []atomic.Uint64 // each slot's hash: a hint that spares loading the entry
	slots []atomic.Pointer[cacheEntry]
	locks []sync.Mutex
}

type cacheEntry struct {
	hash  uint64
	token string
	id    *Identity
	exp   int64
	// gen is the key generation the token was verified under; a key removed
	// from /token_keys bumps the generation and so retires every entry.
	gen uint64
}

const (
	// cacheWays is the slots per set: enough that hot tokens rarely push
	// each other out, few enough that a lookup stays a handful of loads.
	cacheWays = 8
	// cacheLockStripes spreads writers over several locks.
	cacheLockStripes = 64
)

// newTokenCache returns a cache of at most size entries, or nil for size 0.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	ways := min(cacheWays, size)
	sets := size / ways
	n := sets * ways
	return &tokenCache{
		seed:  maphash.MakeSeed(),
		sets:  uint64(sets),
		ways:  uint64(ways),
		tags:  make([]atomic.Uint64, n),
		slots: make([]atomic.Pointer[cacheEntry], n),
		locks: make([]sync.Mutex, min(cacheLockStripes, sets)),
	}
}

// get returns the identity of a cached token that is still valid at now
// (Unix seconds) under key generation gen, or nil. It does not allocate.
func (c *tokenCache) get(token []byte, now int64, gen uint64) *Identity {
	h := maphash.Bytes(c.seed, token)
	base := (h % c.sets) * c.ways
	for i := base; i < base+c.ways; i++ {
		if c.tags[i].Load() != h {
			continue
		}
		e := c.slots[i].Load()
		// The comparison of string(token) does not allocate (the compiler
		// compares the bytes in place).
		if e != nil && e.hash == h && e.token == string(token) {
			if e.exp > now && e.gen == gen {
				return e.id
			}
		}
	}
	return nil
}

// put remembers a verified token until exp.
func (c *tokenCache) put(token []byte, id *Identity, exp, now int64, gen uint64) {
	if exp <= now {
		return
	}
	h := maphash.Bytes(c.seed, token)
	e := &cacheEntry{hash: h, token: string(token), id: id, exp: exp, gen: gen}
	set := h % c.sets
	base := set * c.ways
	mu := &c.locks[set%uint64(len(c.locks))]
	mu.Lock()
	defer mu.Unlock()
	victim := c.victim(base, e, now, gen)
	// Entry first, then tag: a reader that sees the new tag finds the new
	// entry; one that sees the old tag skips the slot, a harmless miss.
	c.slots[victim].Store(e)
	c.tags[victim].Store(h)
}

// victim picks the slot for e in the set at base: the slot of the same
// token, else an empty or dead one, else the one that expires soonest.
func (c *tokenCache) victim(base uint64, e *cacheEntry, now int64, gen uint64) uint64 {
	free, soonest := base+c.ways, base
	for i := base; i < base+c.ways; i++ {
		old := c.slots[i].Load()
		switch {
		case old == nil || old.exp <= now || old.gen != gen:
			if free == base+c.ways {
				free = i
			}
		case old.hash == e.hash && old.token == e.token:
			return i
		case old.exp < c.slots[soonest].Load().exp:
			soonest = i
		}
	}
	if free < base+c.ways {
		return free
	}
	return soonest
}

// len counts the entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}
