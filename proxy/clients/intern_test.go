package clients

import (
	"strconv"
	"sync"
	"testing"
)

// TestInternBounded checks that concurrent callers get back their own bytes
// and that the table stops growing at maxInterned.
func TestInternBounded(t *testing.T) {
	t.Parallel()
	var tab internTable
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * maxInterned {
				want := strconv.Itoa(g*10000 + i%(maxInterned/2))
				if got := tab.intern([]byte(want)); got != want {
					t.Errorf("intern(%q) = %q", want, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(*tab.m.Load()); n != maxInterned {
		t.Errorf("table holds %d versions, want %d", n, maxInterned)
	}
	if got := tab.intern([]byte("9.9.9")); got != "9.9.9" {
		t.Errorf("intern on a full table = %q, want %q", got, "9.9.9")
	}
}
