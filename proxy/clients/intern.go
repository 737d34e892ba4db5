package clients

import (
	"maps"
	"sync"
	"sync/atomic"
)

// maxInterned bounds the version table. Real traffic has a few dozen client
// versions; the bound keeps headers chosen to be unique from growing it.
const maxInterned = 512

// versions holds the Version strings Parse has returned, so a version seen
// before costs no allocation.
var versions internTable

// internTable maps version bytes to a shared string. Readers load an
// immutable map without locking; a writer copies it, which happens at most
// maxInterned times in the life of the process. Once full, new versions are
// still returned, just allocated on each call.
type internTable struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]string]
}

// intern returns b as a string, shared with earlier calls for the same bytes.
func (t *internTable) intern(b []byte) string {
	if m := t.m.Load(); m != nil {
		// The compiler does not allocate for string(b) in a map index.
		if s, ok := (*m)[string(b)]; ok {
			return s
		}
	}
	s := string(b)
	t.add(s)
	return s
}

func (t *internTable) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	var n int
	if old != nil {
		if _, ok := (*old)[s]; ok {
			return
		}
		n = len(*old)
	}
	if n >= maxInterned {
		return
	}
	next := make(map[string]string, n+1)
	if old != nil {
		maps.Copy(next, *old)
	}
	next[s] = s
	t.m.Store(&next)
}
