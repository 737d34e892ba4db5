package logbuf

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer counts the writes that reach it.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) snapshot() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestBatchesAndFlushes(t *testing.T) {
	var out lockedBuffer
	w := New(&out, 64<<10, 20*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				w.Write([]byte(strings.Repeat("x", g+i%7) + "\n"))
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _ := out.snapshot()
		if strings.Count(s, "\n") == 800 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ticker did not flush: %d lines", strings.Count(s, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, writes := out.snapshot(); writes >= 800 {
		t.Errorf("%d writes for 800 lines: nothing was batched", writes)
	}
	w.Write([]byte("last\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.snapshot(); !strings.HasSuffix(s, "last\n") {
		t.Error("Close lost the last line")
	}
	if err := w.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
