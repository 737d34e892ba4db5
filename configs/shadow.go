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
	// MaxConcurrency bounds the translations running at once; a read
	// past it is counted as skipped, never waited for.
	MaxConcurrency int `koanf:"max_concurrency"`
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
	return Shadow{SampleRate: 1, MaxConcurrency: 4, Keep: 10, TimeSkew: 2 * time.Second, Ignore: []string{}}
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
	if s.Keep < 1 {
		errs = append(errs, errors.New("configs: shadow.keep: must be positive"))
	}
	if s.TimeSkew < 0 {
		errs = append(errs, errors.New("configs: shadow.time_skew: must not be negative"))
	}
	return errors.Join(errs...)
}
