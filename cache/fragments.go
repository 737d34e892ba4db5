package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// Fragments keep, per resource, the parts of a v2 answer that v3 has no
// batch read for (an app's environment variables, its ssh setting, ...),
// so that a page reads again only what changed. Each fragment is filed
// under its owner (the v3 resource whose updated_at moves when the part
// changes) and a field (the part, and where visibility differs the
// reader's class), with a stamp: what the owner looked like when the part
// was read (its updated_at, as the fresh batch list reports it). A lookup
// names the stamp it sees now and gets the part only if the stamps are
// equal, so a fragment is never served once its owner changed. The
// caller decides what a stamp holds and when a part is safe to keep.
//
// Two tiers, as the pages: in process (bounded in bytes), and Redis (one
// hash per owner, shared by every instance), whose failures only skip it.
// Drop forgets every fragment of owners a write changed: the stamps
// already keep changed parts from being served; this frees them early.
type Fragments struct {
	local  *otter.Cache[string, *owned]
	r      *redisConn // nil without Redis
	prefix string
	ttl    time.Duration
	max    int
}

// owned are the fragments of one owner, by field. Never modified once
// stored: an update stores a copy.
type owned struct {
	fields map[string]fragment
	weight uint32
}

type fragment struct {
	stamp string
	val   []byte
}

const fragmentOverhead = 96

func newFragments(maxBytes int64, ttl time.Duration, maxEntry int, r *redisConn, prefix string) (*Fragments, error) {
	c, err := otter.New(&otter.Options[string, *owned]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          func(k string, o *owned) uint32 { return uint32(len(k)) + o.weight },
		ExpiryCalculator: otter.ExpiryWriting[string, *owned](ttl),
	})
	if err != nil {
		return nil, fmt.Errorf("cache: fragments: %w", err)
	}
	return &Fragments{local: c, r: r, prefix: prefix + "f:", ttl: ttl, max: maxEntry}, nil
}

// Get returns owner's field if it was stored under stamp.
func (f *Fragments) Get(ctx context.Context, owner, field, stamp string) ([]byte, bool) {
	if f == nil {
		return nil, false
	}
	if o, ok := f.local.GetIfPresent(owner); ok {
		if fr, ok := o.fields[field]; ok && fr.stamp == stamp {
			return fr.val, true
		}
	}
	if f.r == nil || f.r.br.open() {
		return nil, false
	}
	var raw []byte
	err := f.r.call(ctx, cmdHGet, func(ctx context.Context) (err error) {
		raw, err = f.r.client.HGet(ctx, f.prefix+owner, field).Bytes()
		return err
	})
	if err != nil {
		return nil, false
	}
	got, val, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok || string(got) != stamp {
		return nil, false
	}
	f.keep(owner, field, stamp, val)
	return val, true
}

// Set stores val as owner's field under stamp, in both tiers.
func (f *Fragments) Set(ctx context.Context, owner, field, stamp string, val []byte) {
	if f == nil || len(val) > f.max {
		return
	}
	f.keep(owner, field, stamp, val)
	if f.r == nil || f.r.br.open() {
		return
	}
	v := make([]byte, 0, len(stamp)+1+len(val))
	v = append(append(append(v, stamp...), '\n'), val...)
	key := f.prefix + owner
	_ = f.r.call(ctx, cmdHSet, func(ctx context.Context) error {
		_, err := f.r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, field, v)
			p.Expire(ctx, key, f.ttl)
			return nil
		})
		return err
	})
}

// keep stores the fragment in process.
func (f *Fragments) keep(owner, field, stamp string, val []byte) {
	next := &owned{fields: map[string]fragment{}}
	if o, ok := f.local.GetIfPresent(owner); ok {
		for k, fr := range o.fields {
			if k != field {
				next.fields[k] = fr
				next.weight += fragmentWeight(k, fr)
			}
		}
	}
	fr := fragment{stamp: stamp, val: val}
	next.fields[field] = fr
	next.weight += fragmentWeight(field, fr)
	f.local.Set(owner, next)
}

func fragmentWeight(field string, fr fragment) uint32 {
	return uint32(fragmentOverhead + len(field) + len(fr.stamp) + len(fr.val))
}

// Drop forgets every fragment of the owners, in both tiers.
func (f *Fragments) Drop(ctx context.Context, owners ...string) error {
	if f == nil || len(owners) == 0 {
		return nil
	}
	keys := make([]string, len(owners))
	for i, o := range owners {
		f.local.Invalidate(o)
		keys[i] = f.prefix + o
	}
	if f.r == nil || f.r.br.open() {
		return nil
	}
	err := f.r.call(ctx, cmdDel, func(ctx context.Context) error {
		// One DEL per key: in a Cluster the owners' hashes live on
		// different slots.
		_, err := f.r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("cache: dropping fragments: %w", err)
	}
	return nil
}
