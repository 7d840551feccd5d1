package retry

import (
	"context"
	"math"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// The policy's shape, the same for every user: each wait is Multiplier
// times the one before, and is drawn at random within ±Jitter of it.
const (
	Multiplier = 2.0
	Jitter     = 0.2
)

// MaxReconnectWait caps the wait between two attempts to reconnect a
// replication stream.
const MaxReconnectWait = 30 * time.Second

// Policy is what a user of the retry policy chooses: how long the first
// wait is, how long a wait may grow, and how many consecutive retries are
// allowed.
type Policy struct {
	// Initial is the first wait before jitter; the first wait lies within
	// ±Jitter of it. Zero means retrying at once, every time.
	Initial time.Duration
	// Max caps every wait, jitter included: once the interval reaches
	// Max, waits lie between Max less Jitter of it and Max. A Max below
	// Initial is raised to Initial.
	Max time.Duration
	// Attempts bounds the consecutive retries between two Resets; zero
	// means no bound (the caller's context ends the retrying).
	Attempts int
}

// Backoff hands out the waits of one Policy. It is not safe for concurrent
// use; each retry loop has its own.
type Backoff struct {
	max      time.Duration
	attempts int
	retries  int
	exp      backoff.ExponentialBackOff
}

// longest is the longest interval handed to ExponentialBackOff, far
// beyond any real wait, so that adding jitter to it cannot overflow.
const longest = time.Duration(math.MaxInt64 / 2)

// New returns a Backoff whose next wait is the policy's first.
func New(p Policy) *Backoff {
	initial := min(max(p.Initial, 0), longest)
	ceiling := max(p.Max, initial)
	b := &Backoff{
		max:      ceiling,
		attempts: max(p.Attempts, 0),
		exp: backoff.ExponentialBackOff{
			InitialInterval:     initial,
			RandomizationFactor: Jitter,
			Multiplier:          Multiplier,
			MaxInterval:         min(ceiling, longest),
		},
	}
	b.Reset()
	return b
}

// Next counts one more retry and returns how long to wait before it. It
// returns false, and no wait, once the policy's Attempts consecutive
// retries have been handed out since the last Reset; the caller then gives
// up. It does not block.
func (b *Backoff) Next() (time.Duration, bool) {
	if b.attempts > 0 && b.retries >= b.attempts {
		return 0, false
	}
	b.retries++
	// ExponentialBackOff caps the interval before jitter; the cap here
	// holds for the wait itself.
	return min(b.exp.NextBackOff(), b.max), true
}

// Retries returns how many waits Next has handed out since the last Reset:
// the number of the retry about to be made, or, once Next returned false,
// how many were made.
func (b *Backoff) Retries() int { return b.retries }

// Reset starts over: the next wait is the policy's first again and the
// retry count is zero. Call it when the work made progress since the last
// failure, so that only consecutive failures count against Attempts.
func (b *Backoff) Reset() {
	b.retries = 0
	b.exp.Reset()
}

// Wait blocks until d has passed or ctx is done, whichever comes first. It
// returns nil after the full wait and ctx's error when ctx ended it (also
// when ctx was already done). It starts no goroutine.
func Wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
