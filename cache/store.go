package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
)

// store is one tier of the cache. Get returns nil and no error for an
// absent entry; Set keeps r for at most ttl. The cache decides freshness
// itself, from record.stored and its own clock, so a store's expiry is only
// housekeeping and tests can drive the tier logic with a fake clock.
type store interface {
	Get(ctx context.Context, k hashKey) (*record, error)
	Set(ctx context.Context, k hashKey, r *record, ttl time.Duration) error
}

// record is a stored response with the generations it was filled under.
// It is not modified once built: both tiers and every caller share it.
type record struct {
	status      int
	contentType string
	body        []byte
	// gz is body compressed (Gzip), or nil for a body too small to pay.
	// A record read from Redis has gz alone and body nil.
	gz     []byte
	stored time.Time
	epoch  string
	topics []string
	gens   []uint64
}

// recordOverhead approximates a record's memory besides its strings.
const recordOverhead = 160

// weight is the record's approximate size in memory, for the local bound.
func (r *record) weight() uint32 {
	n := recordOverhead + len(r.body) + len(r.gz) + len(r.contentType) + len(r.epoch) + 8*len(r.gens)
	for _, t := range r.topics {
		n += 16 + len(t)
	}
	if n > 1<<31 {
		return 1 << 31
	}
	return uint32(n)
}

// matches reports whether r was filled under the generations of v. The hash
// key already commits to them; this check keeps an entry from an older
// generation from ever being served, whatever a tier returns.
func (r *record) matches(v *genView, topics []string) bool {
	if r.epoch != v.epoch || len(r.topics) != len(topics) || len(r.gens) != len(topics) {
		return false
	}
	for i, t := range topics {
		if r.topics[i] != t || r.gens[i] != v.gens[t] {
			return false
		}
	}
	return true
}

// outdated reports whether a newer generation of one of r's topics, or a
// new epoch, is known: r can then never be served again.
func (r *record) outdated(v *genView) bool {
	if v.epoch != r.epoch {
		return true
	}
	for i, t := range r.topics {
		if g, ok := v.gens[t]; ok && g > r.gens[i] {
			return true
		}
	}
	return false
}

func (r *record) entry() Entry {
	return Entry{Status: r.status, ContentType: r.contentType, Body: r.body, Gzip: r.gz, Stored: r.stored}
}

// recordVersion leads every encoded record, so a format change can never be
// misread by an older instance sharing the Redis.
const recordVersion = 2

var errBadRecord = errors.New("cache: malformed record in Redis")

// marshal encodes r for Redis: version, status, stored time, epoch, topics
// with their generations, content type, then the body to the end.
func (r *record) marshal() []byte {
	n := 32 + len(r.epoch) + len(r.contentType) + len(r.body)
	for _, t := range r.topics {
		n += 12 + len(t)
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(r.status))
	b = binary.AppendVarint(b, r.stored.UnixNano())
	b = appendField(b, r.epoch)
	b = binary.AppendUvarint(b, uint64(len(r.topics)))
	for i, t := range r.topics {
		b = appendField(b, t)
		b = binary.AppendUvarint(b, r.gens[i])
	}
	b = appendField(b, r.contentType)
	if r.gz != nil {
		return append(append(b, bodyGzip), r.gz...)
	}
	return append(append(b, bodyIdentity), r.body...)
}

// How an encoded record holds its body.
const (
	bodyIdentity = 0
	bodyGzip     = 1
)

// unmarshalRecord decodes what marshal encoded. The body aliases b.
func unmarshalRecord(b []byte) (*record, error) {
	if len(b) == 0 || b[0] != recordVersion {
		return nil, errBadRecord
	}
	d := decoder{b: b[1:]}
	r := &record{}
	r.status = int(d.uvarint())
	r.stored = time.Unix(0, d.varint())
	r.epoch = d.field()
	n := d.uvarint()
	if n > 64 {
		return nil, errBadRecord
	}
	r.topics = make([]string, n)
	r.gens = make([]uint64, n)
	for i := range r.topics {
		r.topics[i] = d.field()
		r.gens[i] = d.uvarint()
	}
	r.contentType = d.field()
	if d.bad || r.status < 100 || r.status > 999 || len(d.b) == 0 {
		return nil, errBadRecord
	}
	switch d.b[0] {
	case bodyIdentity:
		r.body = d.b[1:]
	case bodyGzip:
		// Kept compressed: clients that accept gzip get these bytes as
		// they are, the others have them decompressed (Entry.Identity).
		r.gz = d.b[1:]
		if len(r.gz) < 2 || r.gz[0] != 0x1f || r.gz[1] != 0x8b {
			return nil, errBadRecord
		}
	default:
		return nil, errBadRecord
	}
	return r, nil
}

// decoder reads the fields of an encoded record; a short or malformed input
// sets bad and yields zero values from then on.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) field() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// localItem is what the in-process tier holds: the record and how long
// otter keeps it.
type localItem struct {
	rec *record
	ttl time.Duration
}

// localStore is the in-process tier: otter, bounded by the records' weight.
type localStore struct {
	c *otter.Cache[hashKey, localItem]
}

var _ store = (*localStore)(nil)

func newLocalStore(maxBytes int64) (*localStore, error) {
	c, err := otter.New(&otter.Options[hashKey, localItem]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ hashKey, it localItem) uint32 { return it.rec.weight() },
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[hashKey, localItem]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("cache: local tier: %w", err)
	}
	return &localStore{c: c}, nil
}

// Get returns the record under k, or nil.
func (s *localStore) Get(_ context.Context, k hashKey) (*record, error) {
	it, ok := s.c.GetIfPresent(k)
	if !ok {
		return nil, nil
	}
	return it.rec, nil
}

// Set keeps r under k for at most ttl, or until evicted by weight.
func (s *localStore) Set(_ context.Context, k hashKey, r *record, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	s.c.Set(k, localItem{rec: r, ttl: ttl})
	return nil
}

// drop removes every record for which outdated returns true, and returns
// how many it removed.
func (s *localStore) drop(outdated func(*record) bool) int {
	n := 0
	for k, it := range s.c.All() {
		if outdated(it.rec) {
			if _, ok := s.c.Invalidate(k); ok {
				n++
			}
		}
	}
	return n
}

// bytes is the tier's current weight.
func (s *localStore) bytes() uint64 { return s.c.WeightedSize() }

func (s *localStore) close() {
	s.c.StopAllGoroutines()
}
