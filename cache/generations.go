package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"sync"
	"sync/atomic"
)

// genView is the generations of some topics within one epoch, as of one
// read. It is shared and never modified; a topic it does not hold is at
// generation 0.
type genView struct {
	epoch string
	gens  map[string]uint64
}

// generations knows the current generation of each topic.
type generations interface {
	// Read returns the generations of topics as of a moment after Read was
	// called: a bump that completed before the call is always included.
	Read(ctx context.Context, topics []string) (*genView, error)
	// Bump increments the generations of topics.
	Bump(ctx context.Context, topics []string) error
	// Known is the newest generations this instance has seen, to drop local
	// entries that can no longer be served. It is memory housekeeping only.
	Known() *genView
}

// knowledge is the newest generations an instance has seen. Within an epoch
// generations only grow; a new epoch (Redis lost its data) replaces them.
type knowledge struct {
	mu       sync.Mutex
	view     atomic.Pointer[genView]
	onChange func()
}

func newKnowledge(epoch string, onChange func()) *knowledge {
	k := &knowledge{onChange: onChange}
	k.view.Store(&genView{epoch: epoch, gens: map[string]uint64{}})
	return k
}

func (k *knowledge) load() *genView { return k.view.Load() }

// learn merges generations read from epoch. Only an authoritative source (a
// read from Redis, not a pub/sub message that may arrive late) may switch
// the epoch. onChange runs when something grew.
func (k *knowledge) learn(epoch string, topics []string, gens []uint64, authoritative bool) {
	if epoch == "" {
		return
	}
	k.mu.Lock()
	cur := k.view.Load()
	var next *genView
	switch {
	case cur.epoch == epoch:
		for i, t := range topics {
			if g := gens[i]; g > cur.gens[t] {
				if next == nil {
					next = &genView{epoch: epoch, gens: maps.Clone(cur.gens)}
				}
				next.gens[t] = g
			}
		}
	case authoritative:
		next = &genView{epoch: epoch, gens: make(map[string]uint64, len(topics))}
		for i, t := range topics {
			next.gens[t] = gens[i]
		}
	}
	if next != nil {
		k.view.Store(next)
	}
	k.mu.Unlock()
	if next != nil && k.onChange != nil {
		k.onChange()
	}
}

// localGens are the generations of a cache without Redis: process-local,
// so Read is a pointer load and never waits.
type localGens struct {
	k *knowledge
}

var _ generations = (*localGens)(nil)

func newLocalGens(onChange func()) *localGens {
	return &localGens{k: newKnowledge(newEpoch(), onChange)}
}

// Read returns the current generations; they are exact in this process.
func (l *localGens) Read(context.Context, []string) (*genView, error) { return l.k.load(), nil }

// Bump increments the topics' generations atomically: two racing bumps of
// one topic give two generations, so a reader that saw the first one never
// mistakes it for the second.
func (l *localGens) Bump(_ context.Context, topics []string) error {
	l.k.mu.Lock()
	cur := l.k.load()
	next := &genView{epoch: cur.epoch, gens: maps.Clone(cur.gens)}
	for _, t := range topics {
		next.gens[t]++
	}
	l.k.view.Store(next)
	l.k.mu.Unlock()
	if l.k.onChange != nil {
		l.k.onChange()
	}
	return nil
}

// Known is the current generations.
func (l *localGens) Known() *genView { return l.k.load() }

// newEpoch returns a random epoch name.
func newEpoch() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
