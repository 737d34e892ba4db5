package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"capibridge/configs"
	"capibridge/proxy/auth"
)

// A gateway whose token keys come from the UAA the upstream names (no keys
// configured) may start while the upstream is down: it serves, answers
// what needs a token 503 UaaUnavailable as the Cloud Controller does
// without its UAA, reports not ready, and asks the upstream again in the
// background until it can build its verifier (DiscoverUAA, SetVerifier).

// errNoVerifierYet is the reason for 503s and /readyz until the verifier is set.
var errNoVerifierYet = errors.New("proxy: no token keys yet: the UAA is not discovered from the Cloud Controller's GET /")

// lateVerifier is the gateway's verifier, which may be set after start.
type lateVerifier struct {
	v atomic.Pointer[auth.Verifier]

	mu  sync.Mutex
	why error // guarded by mu: why there is no verifier yet
}

func newLateVerifier(v *auth.Verifier) *lateVerifier {
	l := &lateVerifier{why: errNoVerifierYet}
	if v != nil {
		l.v.Store(v)
	}
	return l
}

// Verify is the verifier's Verify. Without one a token cannot be checked
// (auth.ReasonKeysUnavailable: 503 UaaUnavailable); a request without a
// bearer token is still just that (auth.ReasonMissing: 401).
func (l *lateVerifier) Verify(authorization []byte) (*auth.Identity, error) {
	if v := l.v.Load(); v != nil {
		return v.Verify(authorization)
	}
	if !hasBearer(authorization) {
		return nil, &auth.Error{Reason: auth.ReasonMissing, Err: errors.New("no bearer token")}
	}
	return nil, &auth.Error{Reason: auth.ReasonKeysUnavailable, Err: l.reason()}
}

// hasBearer reports whether h starts with "bearer", in any case: what
// auth counts as a token at all (CC's token_format_valid?).
func hasBearer(h []byte) bool {
	const want = "bearer"
	if len(h) < len(want) {
		return false
	}
	for i := range len(want) {
		if h[i]|0x20 != want[i] {
			return false
		}
	}
	return true
}

// Ready is the verifier's readiness, or why there is no verifier.
func (l *lateVerifier) Ready() error {
	if v := l.v.Load(); v != nil {
		return v.Ready()
	}
	return l.reason()
}

func (l *lateVerifier) reason() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.why
}

func (l *lateVerifier) setReason(err error) {
	l.mu.Lock()
	l.why = err
	l.mu.Unlock()
}

// SetVerifier gives the gateway its verifier when it was built without
// one (Deps.Verifier nil); bg, with a client and token URL, starts the
// gateway's own UAA client as well (configs.Background). The caller keeps
// closing v.
func (g *Gateway) SetVerifier(v *auth.Verifier, bg configs.Background) {
	if t := newClientToken(bg, g.upstream); t != nil {
		g.bg.Store(t)
	}
	g.verifier.v.Store(v)
}

// VerifierFailed keeps the gateway unready with err, for a verifier that
// could not be built from what discovery found.
func (g *Gateway) VerifierFailed(err error) { g.verifier.setReason(err) }

// DiscoverUAA reads the UAA's URL from the upstream's GET /, as the Cloud
// Controller's clients find it, asking again after retry, then twice as
// long each time up to maxRetry, until it answers or ctx ends. Each
// failure is logged, counted, and given as the reason /readyz fails.
func (g *Gateway) DiscoverUAA(ctx context.Context, retry, maxRetry time.Duration) (string, error) {
	wait := retry
	for {
		url, err := g.upstream.UAAURL()
		if err == nil {
			return url, nil
		}
		g.m.UAADiscoveryFailures.Inc()
		g.verifier.setReason(fmt.Errorf("%w: %w", errNoVerifierYet, err))
		g.log.Warn("discovering the UAA from the Cloud Controller failed; serving without token keys", "upstream", g.upstream.URL(),
			"retry_in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxRetry)
	}
}
