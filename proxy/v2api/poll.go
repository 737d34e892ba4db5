package v2api

import "time"

// poll calls step with pauses that double from 5 ms up to maxWait, until
// step says it is done (or fails) or the deadline passes. It reports
// whether step finished in time.
func poll(deadline time.Time, maxWait time.Duration, step func() (done bool, err error)) (bool, error) {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, maxWait) {
		done, err := step()
		if done || err != nil {
			return done, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(wait)
	}
}
