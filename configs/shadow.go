package configs

import (
	"errors"
	"time"
)

// Shadow configures shadow mode: in front of a Cloud Controller that
// still serves v2, every v2 request goes to its native v2 API, which
// answers the client; for a sample of the reads the gateway also builds
// its own translation from v3 in the background and compares the two.
type Shadow struct {
	// Enabled turns shadow mode on. The v2 list-page cache is not used
	// while it is (the client's answers are the native ones).
	Enabled bool `koanf:"enabled"`
	// SampleRate is the share of v2 reads compared, 0 to 1.
	SampleRate float64 `koanf:"sample_rate"`
	// MaxConcurrency bounds the translations running at once, and the
	// upstream calls they have in flight between them.
	MaxConcurrency int `koanf:"max_concurrency"`
	// MaxPendingBytes bounds the native answers held for comparisons
	// waiting or running; a sampled read past it is counted as skipped.
	MaxPendingBytes int64 `koanf:"max_pending_bytes"`
	// MaxDelay is how long after its native answer a comparison may
	// still start or go on waiting for its turn; later, it is counted as
	// skipped (the longer the wait, the more the state may have moved).
	MaxDelay time.Duration `koanf:"max_delay"`
	// YieldAbove: comparisons wait, before they start and before each of
	// their upstream calls, while more than this many client requests are
	// in flight. 0 runs them only while the gateway is idle; -1 never
	// waits.
	YieldAbove int `koanf:"yield_above"`
	// Keep is how many differing samples (both bodies) each route keeps.
	Keep int `koanf:"keep"`
	// TimeSkew is how far apart two times may be and count as equal: the
	// two answers are read a moment apart.
	TimeSkew time.Duration `koanf:"time_skew"`
	// Ignore are JSON paths not compared ("resources[].entity.x", "[]"
	// for any index): deviations documented as deliberate.
	Ignore []string `koanf:"ignore"`
}

// DefaultShadow returns shadow mode's defaults: off.
func DefaultShadow() Shadow {
	return Shadow{SampleRate: 1, MaxConcurrency: 1, MaxPendingBytes: 64 << 20, MaxDelay: 5 * time.Second, Keep: 10, TimeSkew: 2 * time.Second, Ignore: []string{}}
}

// Validate reports the shadow settings that cannot work, by their keys.
func (s Shadow) Validate() error {
	var errs []error
	if s.SampleRate < 0 || s.SampleRate > 1 {
		errs = append(errs, errors.New("configs: shadow.sample_rate: must be between 0 and 1"))
	}
	if s.MaxConcurrency < 1 {
		errs = append(errs, errors.New("configs: shadow.max_concurrency: must be positive"))
	}
	if s.MaxPendingBytes < 1 {
		errs = append(errs, errors.New("configs: shadow.max_pending_bytes: must be positive"))
	}
	if s.MaxDelay <= 0 {
		errs = append(errs, errors.New("configs: shadow.max_delay: must be positive"))
	}
	if s.YieldAbove < -1 {
		errs = append(errs, errors.New("configs: shadow.yield_above: must be -1 (never wait) or more"))
	}
	if s.Keep < 1 {
		errs = append(errs, errors.New("configs: shadow.keep: must be positive"))
	}
	if s.TimeSkew < 0 {
		errs = append(errs, errors.New("configs: shadow.time_skew: must not be negative"))
	}
	return errors.Join(errs...)
}
