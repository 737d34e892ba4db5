package proxy

import (
	"errors"
	"sync"
	"time"

	"capibridge/metrics"
)

// errShareTaken is a request whose identity had all of its share of the
// upstream in flight for longer than upstream_client.identity_wait.
var errShareTaken = errors.New("proxy: the identity's share of upstream connections stayed taken")

// identityShare bounds the upstream requests each identity has in flight
// (upstream_client.identity_max_conns), so that one user's flood, which
// would take every connection of the pool, leaves the others theirs. A
// request over the bound waits up to upstream_client.identity_wait for one
// of its identity's requests to finish, then is refused with CC's 429
// RateLimitExceeded. Waiting is first come, first served.
//
// Memory is bounded by what is in flight: one entry per identity with a
// request in flight or waiting, removed with its last request; a waiting
// request is one the server is serving anyway, held at most identity_wait.
type identityShare struct {
	max  int
	wait time.Duration
	m    *metrics.Metrics

	mu    sync.Mutex
	users map[string]*slots
}

// slots is one identity's share: a semaphore of max, and how many
// requests hold or wait for it.
type slots struct {
	sem  chan struct{}
	refs int // guarded by identityShare.mu
}

// newIdentityShare bounds each identity to max requests in flight; 0 or
// less bounds nothing.
func newIdentityShare(max int, wait time.Duration, m *metrics.Metrics) *identityShare {
	return &identityShare{max: max, wait: wait, m: m, users: map[string]*slots{}}
}

func noRelease() {}

// acquire takes one of who's slots, waiting up to the share's wait, and
// returns its release; an empty who (no token, or one that does not
// verify) is not bounded. The error is CC's RateLimitExceeded.
func (s *identityShare) acquire(who string) (release func(), err error) {
	if s == nil || s.max <= 0 || who == "" {
		return noRelease, nil
	}
	s.mu.Lock()
	sl := s.users[who]
	if sl == nil {
		sl = &slots{sem: make(chan struct{}, s.max)}
		s.users[who] = sl
	}
	sl.refs++
	s.mu.Unlock()
	release = func() {
		<-sl.sem
		s.leave(who, sl)
	}
	select {
	case sl.sem <- struct{}{}:
		return release, nil
	default:
	}
	if s.wait > 0 {
		s.m.IdentityWaiting.Inc()
		t := time.NewTimer(s.wait)
		select {
		case sl.sem <- struct{}{}:
			t.Stop()
			s.m.IdentityWaiting.Dec()
			s.m.IdentityLimited.WithLabelValues(metrics.LimitQueued).Inc()
			return release, nil
		case <-t.C:
			s.m.IdentityWaiting.Dec()
		}
	}
	s.leave(who, sl)
	s.m.IdentityLimited.WithLabelValues(metrics.LimitRefused).Inc()
	return nil, errRateLimited(errShareTaken)
}

// leave drops one holder or waiter of who's slots, and the entry with the
// last.
func (s *identityShare) leave(who string, sl *slots) {
	s.mu.Lock()
	sl.refs--
	if sl.refs == 0 {
		delete(s.users, who)
	}
	s.mu.Unlock()
}

// identities is how many identities have requests in flight or waiting.
func (s *identityShare) identities() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// identify names the identity whose share an upstream request counts
// against: the user (or client) of its token. The token was verified at
// the door, so this is the verified-token cache's answer. A request
// without a token that verifies is not bounded.
func (g *Gateway) identify(authorization []byte) string {
	if len(authorization) == 0 {
		return ""
	}
	id, err := g.verifier.Verify(authorization)
	if err != nil {
		return ""
	}
	return id.ID()
}
