package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollInterval is how often the end offsets are read while a phase runs;
// it is the resolution of every time the bench measures.
const pollInterval = 100 * time.Millisecond

// offsets reads topic end offsets from the broker.
type offsets struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newOffsets(bootstrap string) (*offsets, error) {
	// A topic sluice creates during a phase must show up at the next poll,
	// not after the client's default five-second metadata age.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connect to kafka at %s: %w", bootstrap, err)
	}
	return &offsets{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (o *offsets) close() { o.cl.Close() }

// count returns the number of records written to topic so far: the sum of
// its partitions' end offsets, 0 for a topic that does not exist yet. It
// blocks for one round trip to the broker.
func (o *offsets) count(ctx context.Context, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := o.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Err == nil {
			n += lo.Offset
		}
	})
	return n, nil
}

// progress is what watching a topic saw.
type progress struct {
	// First is when the topic first held more than the base count, Done
	// when it reached the target. Both are measured from the same clock as
	// the process start.
	First, Done time.Time
	// Count is the record count seen at Done.
	Count int64
}

// waitOptions bound a wait for records.
type waitOptions struct {
	Topic  string
	Base   int64 // records in the topic before the phase
	Want   int64 // records the phase adds
	Stall  time.Duration
	Total  time.Duration
	Alive  func() error // non-nil when the producer died
	Report func(n int64, elapsed time.Duration)
}

// waitFor polls the topic's record count every pollInterval until it
// reaches Base+Want. It fails when the count does not move for Stall, when
// Total passes, when Alive reports an error, or when ctx ends. A failed
// poll counts as no progress: only the stall bound ends the wait then. It
// blocks.
func (o *offsets) waitFor(ctx context.Context, began time.Time, w waitOptions) (progress, error) {
	var p progress
	target := w.Base + w.Want
	lastCount, lastMove := int64(-1), time.Now()
	lastReport := time.Now()
	var lastErr error
	deadline := time.NewTimer(w.Total)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		n, err := o.count(ctx, w.Topic)
		now := time.Now()
		if err != nil {
			lastErr, n = err, lastCount
		}
		if n > w.Base && p.First.IsZero() {
			p.First = now
		}
		if n >= target {
			p.Done, p.Count = now, n
			return p, nil
		}
		if n != lastCount {
			lastCount, lastMove = n, now
		}
		if w.Report != nil && now.Sub(lastReport) >= 2*time.Second {
			lastReport = now
			w.Report(n-w.Base, now.Sub(began))
		}
		if err := w.Alive(); err != nil {
			return p, err
		}
		if now.Sub(lastMove) > w.Stall {
			if lastErr != nil {
				return p, fmt.Errorf("topic %s stuck at %d of %d records for %s (last poll error: %w)", w.Topic, n-w.Base, w.Want, w.Stall, lastErr)
			}
			return p, fmt.Errorf("topic %s stuck at %d of %d records for %s", w.Topic, n-w.Base, w.Want, w.Stall)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-deadline.C:
			return p, fmt.Errorf("topic %s has %d of %d records after %s", w.Topic, n-w.Base, w.Want, w.Total)
		case <-tick.C:
		}
	}
}
