package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
)

// hashKey addresses one entry in both tiers. It is the SHA-256 of the
// route, the normalised path and query, the caller's class, the Redis epoch
// and the generations of the entry's topics, so it never holds a token or a
// raw path, and a new generation addresses a new entry.
type hashKey [sha256.Size]byte

// errBadTopic is returned for a topic that cannot be a generation name.
var errBadTopic = errors.New("cache: a topic must be 1 to 128 bytes, without spaces or control characters")

// validTopic reports whether t can name a generation: the pub/sub message
// and the Redis key carry it as it is.
func validTopic(t string) bool {
	if len(t) == 0 || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] == 0x7f {
			return false
		}
	}
	return true
}

// normTopics returns topics sorted and without duplicates. A slice that is
// already so (the usual case: a route's fixed list) is returned as it is,
// without allocating.
func normTopics(topics []string) ([]string, error) {
	sorted := true
	for i, t := range topics {
		if !validTopic(t) {
			return nil, errBadTopic
		}
		if i > 0 && topics[i-1] >= t {
			sorted = false
		}
	}
	if sorted {
		return topics, nil
	}
	out := slices.Clone(topics)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// scratch holds the buffers one key is built in.
type scratch struct {
	buf   []byte // the hashed bytes
	part  []byte // the normalised path, then the normalised query
	tmp   []byte // canonical query parameters, before sorting
	pairs []span
}

// span is one query parameter in scratch.tmp: the canonical name is
// tmp[k0:k1], the canonical "=value" (or nothing) tmp[k1:end].
type span struct{ k0, k1, end int }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// sum computes the entry's hash key under the generations in v. Every
// variable field is length-prefixed, so distinct keys cannot frame into the
// same bytes.
func sum(k *Key, topics []string, v *genView) hashKey {
	s := scratchPool.Get().(*scratch)
	b := append(s.buf[:0], "capibridge-cache-v1"...)
	b = appendField(b, k.Route)
	s.part = appendNormalPath(s.part[:0], k.Path)
	b = appendBytesField(b, s.part)
	s.part, s.tmp, s.pairs = appendNormalQuery(s.part[:0], k.Query, s.tmp[:0], s.pairs[:0])
	b = appendBytesField(b, s.part)
	b = appendField(b, k.Who)
	b = appendField(b, v.epoch)
	b = binary.AppendUvarint(b, uint64(len(topics)))
	for _, t := range topics {
		b = appendField(b, t)
		b = binary.BigEndian.AppendUint64(b, v.gens[t])
	}
	h := hashKey(sha256.Sum256(b))
	s.buf = b
	// A huge query should not pin its buffers in the pool.
	if cap(s.buf)+cap(s.part)+cap(s.tmp) <= 256<<10 {
		scratchPool.Put(s)
	}
	return h
}

func appendBytesField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// unreserved reports the characters RFC 3986 §2.3 lets appear bare; their
// percent-encoded forms are equivalent (§6.2.2.2).
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperhex = "0123456789ABCDEF"

// appendNormalPath appends p in the normal form of RFC 3986 §6.2.2: escapes
// of unreserved characters decoded, other escapes with upper-case hex. It
// does not decode "%2F", which would change the path's segments.
func appendNormalPath(b []byte, p string) []byte {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) {
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				d := hi<<4 | lo
				if unreserved(d) {
					b = append(b, d)
				} else {
					b = append(b, '%', upperhex[hi], upperhex[lo])
				}
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return b
}

// appendNormalQuery appends the canonical form of the raw query q: each
// parameter's name and value decoded as an HTML form does (the Cloud
// Controller decodes "+" as a space) and encoded again one way, empty
// parameters dropped, and the parameters stably sorted by name, so the order
// of distinct names and the encoding do not matter while repeated names keep
// their relative order. ";" is not a separator: v2 uses it inside q.
// A part with a malformed escape is kept raw behind "!", a byte the
// canonical encoding never leaves bare, so it cannot meet a valid query.
func appendNormalQuery(b []byte, q string, tmp []byte, pairs []span) ([]byte, []byte, []span) {
	for len(q) > 0 {
		var part string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			part, q = q[:i], q[i+1:]
		} else {
			part, q = q, ""
		}
		if part == "" {
			continue
		}
		name, value, hasValue := cut(part, '=')
		var sp span
		sp.k0 = len(tmp)
		tmp = appendFormCanonical(tmp, name)
		sp.k1 = len(tmp)
		if hasValue {
			tmp = append(tmp, '=')
			tmp = appendFormCanonical(tmp, value)
		}
		sp.end = len(tmp)
		pairs = append(pairs, sp)
	}
	slices.SortStableFunc(pairs, func(x, y span) int {
		return bytes.Compare(tmp[x.k0:x.k1], tmp[y.k0:y.k1])
	})
	for i, sp := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, tmp[sp.k0:sp.end]...)
	}
	return b, tmp, pairs
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// appendFormCanonical decodes s as application/x-www-form-urlencoded and
// appends it encoded canonically: unreserved bytes bare, a space as "+",
// everything else as upper-case "%XX".
func appendFormCanonical(b []byte, s string) []byte {
	if !validEscapes(s) {
		b = append(b, '!')
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			c = hi<<4 | lo
			i += 2
		}
		switch {
		case unreserved(c):
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) {
			return false
		}
		if _, ok := unhex(s[i+1]); !ok {
			return false
		}
		if _, ok := unhex(s[i+2]); !ok {
			return false
		}
		i += 2
	}
	return true
}
