package retry

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// within reports whether d lies within ±Jitter of mid. The delay is a
// whole number of nanoseconds, so the bounds are rounded outwards.
func within(d, mid time.Duration) bool {
	lo := time.Duration(math.Floor(float64(mid) * (1 - Jitter)))
	hi := time.Duration(math.Ceil(float64(mid) * (1 + Jitter)))
	return d >= lo && d <= hi
}

func TestBackoffGrowsWithJitterUpToMax(t *testing.T) {
	p := Policy{Initial: time.Second, Max: 30 * time.Second}
	// The interval before jitter: 1 s, 2 s, 4 s, 8 s, 16 s, then the cap.
	mids := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30, 30}
	for run := 0; run < 200; run++ {
		b := New(p)
		for i, mid := range mids {
			mid *= time.Second
			d, ok := b.Next()
			if !ok {
				t.Fatalf("wait %d: no wait from an unbounded policy", i+1)
			}
			if d > p.Max {
				t.Fatalf("wait %d: %v above the cap %v", i+1, d, p.Max)
			}
			if !within(d, mid) {
				t.Fatalf("wait %d: %v not within ±%v of %v", i+1, d, Jitter, mid)
			}
			if b.Retries() != i+1 {
				t.Fatalf("wait %d: Retries %d", i+1, b.Retries())
			}
		}
	}
}

// TestBackoffJitters: waits are spread, not all at the interval. Each of
// the 200 first waits lies below or above 1 s with even odds, so all of
// them on one side has probability 2⁻¹⁹⁹: the test does not flake.
func TestBackoffJitters(t *testing.T) {
	var below, above int
	for i := 0; i < 200; i++ {
		d, _ := New(Policy{Initial: time.Second, Max: time.Minute}).Next()
		switch {
		case d < time.Second:
			below++
		case d > time.Second:
			above++
		}
	}
	if below == 0 || above == 0 {
		t.Errorf("first waits not spread around 1s: %d below, %d above", below, above)
	}
}

func TestBackoffAttemptsAndReset(t *testing.T) {
	b := New(Policy{Initial: 10 * time.Millisecond, Max: time.Second, Attempts: 3})
	for i := 1; i <= 3; i++ {
		if _, ok := b.Next(); !ok {
			t.Fatalf("retry %d refused with Attempts 3", i)
		}
	}
	if d, ok := b.Next(); ok || d != 0 {
		t.Fatalf("fourth retry: %v, %v; want 0, false", d, ok)
	}
	if b.Retries() != 3 {
		t.Errorf("Retries after giving up = %d, want 3", b.Retries())
	}
	b.Reset()
	if b.Retries() != 0 {
		t.Errorf("Retries after Reset = %d", b.Retries())
	}
	// The count and the waits start over: the first wait is the policy's
	// first again, not the fourth.
	d, ok := b.Next()
	if !ok || !within(d, 10*time.Millisecond) {
		t.Errorf("first wait after Reset: %v, %v; want within ±%v of 10ms", d, ok, Jitter)
	}
}

func TestBackoffResetMidway(t *testing.T) {
	b := New(Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second})
	for i := 0; i < 6; i++ {
		b.Next()
	}
	b.Reset()
	if d, _ := b.Next(); !within(d, 100*time.Millisecond) {
		t.Errorf("first wait after Reset %v, want within ±%v of 100ms", d, Jitter)
	}
	if d, _ := b.Next(); !within(d, 200*time.Millisecond) {
		t.Errorf("second wait after Reset %v, want within ±%v of 200ms", d, Jitter)
	}
}

func TestBackoffEdges(t *testing.T) {
	// Max below Initial: every wait is capped at Initial.
	b := New(Policy{Initial: time.Second, Max: time.Millisecond})
	for i := 0; i < 20; i++ {
		if d, _ := b.Next(); d > time.Second || !within(d, time.Second) {
			t.Fatalf("wait %d: %v with Initial 1s above Max", i+1, d)
		}
	}
	// Zero Initial: retry at once.
	b = New(Policy{})
	for i := 0; i < 5; i++ {
		if d, ok := b.Next(); d != 0 || !ok {
			t.Fatalf("zero policy wait %d: %v, %v", i+1, d, ok)
		}
	}
	// A huge cap does not overflow into a negative or shrinking wait.
	b = New(Policy{Initial: time.Hour, Max: math.MaxInt64})
	prev := time.Duration(0)
	for i := 0; i < 100; i++ {
		d, _ := b.Next()
		if d < time.Hour*8/10 || d < prev/2 {
			t.Fatalf("wait %d: %v after %v, growing from 1h", i+1, d, prev)
		}
		prev = d
	}
}

func TestWait(t *testing.T) {
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("full wait: %v", err)
	}
	if err := Wait(context.Background(), 0); err != nil {
		t.Errorf("no wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
	if err := Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context, no wait: %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Minute {
		t.Error("Wait on a cancelled context waited")
	}
	// Cancelled while waiting.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, time.Hour) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during the wait: %v, want context.Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer dcancel()
	if err := Wait(dctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline during the wait: %v, want context.DeadlineExceeded", err)
	}
}
