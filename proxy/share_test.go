package proxy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"capibridge/metrics"
)

func TestIdentityShare(t *testing.T) {
	t.Parallel()
	t.Run("bounds each identity alone", func(t *testing.T) {
		t.Parallel()
		m := metrics.New(prometheus.NewRegistry(), "test")
		s := newIdentityShare(2, 0, m)
		var releases []func()
		for _, who := range []string{"alice", "alice", "bob", "bob", ""} {
			r, err := s.acquire(who)
			if err != nil {
				t.Fatalf("%q within the share: %v", who, err)
			}
			releases = append(releases, r)
		}
		for _, who := range []string{"alice", "bob"} {
			_, err := s.acquire(who)
			var rl *retryLater
			if !errors.As(err, &rl) || rl.err.Status != 429 || rl.err.Code != 10013 || rl.after != 1 {
				t.Errorf("%q over the share: %v, want 429 RateLimitExceeded after 1 s", who, err)
			}
		}
		if got := testutil.ToFloat64(m.IdentityLimited.WithLabelValues(metrics.LimitRefused)); got != 2 {
			t.Errorf("refused = %v, want 2", got)
		}
		releases[0]()
		if r, err := s.acquire("alice"); err != nil {
			t.Errorf("alice after a release: %v", err)
		} else {
			r()
		}
		for _, r := range releases[1:] {
			r()
		}
		if n := s.identities(); n != 0 {
			t.Errorf("%d identities kept after every release, want 0", n)
		}
	})
	t.Run("a request over the share waits for a release", func(t *testing.T) {
		t.Parallel()
		m := metrics.New(prometheus.NewRegistry(), "test")
		s := newIdentityShare(1, time.Minute, m)
		first, err := s.acquire("alice")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			r, err := s.acquire("alice")
			if err == nil {
				r()
			}
			got <- err
		}()
		for testutil.ToFloat64(m.IdentityWaiting) != 1 {
			time.Sleep(time.Millisecond)
		}
		first()
		if err := <-got; err != nil {
			t.Errorf("the waiting request: %v", err)
		}
		if q := testutil.ToFloat64(m.IdentityLimited.WithLabelValues(metrics.LimitQueued)); q != 1 {
			t.Errorf("queued = %v, want 1", q)
		}
		if w := testutil.ToFloat64(m.IdentityWaiting); w != 0 {
			t.Errorf("waiting = %v after the wait, want 0", w)
		}
		if n := s.identities(); n != 0 {
			t.Errorf("%d identities kept, want 0", n)
		}
	})
	t.Run("memory follows what is in flight", func(t *testing.T) {
		t.Parallel()
		s := newIdentityShare(4, 0, metrics.New(prometheus.NewRegistry(), "test"))
		for i := range 10000 {
			r, err := s.acquire(fmt.Sprintf("user-%d", i))
			if err != nil {
				t.Fatal(err)
			}
			r()
		}
		if n := s.identities(); n != 0 {
			t.Errorf("%d identities kept after 10000 finished requests, want 0", n)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		s := newIdentityShare(0, 0, metrics.New(prometheus.NewRegistry(), "test"))
		for range 100 {
			if _, err := s.acquire("alice"); err != nil {
				t.Fatalf("with no bound: %v", err)
			}
		}
	})
}
