package workers

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// retryDelay is the wait before the given delivery (1-based) of a task that
// failed: exponential from initial, with the interval capped at max before
// ±50% jitter is applied, so that the retries of many tasks that failed
// together spread out (a delay can reach 1.5 × max).
func retryDelay(attempt int, initial, max time.Duration) time.Duration {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = max
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxElapsedTime = 0
	b.Reset()
	d := b.NextBackOff()
	for i := 1; i < attempt; i++ {
		d = b.NextBackOff()
	}
	return d
}
