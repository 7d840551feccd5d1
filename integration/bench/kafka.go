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
	seeds string
	cl    *kgo.Client
	adm   *kadm.Client
}

func newOffsets(bootstrap string) (*offsets, error) {
	// A topic sluice creates during a phase must show up at the next poll,
	// not after the client's default five-second metadata age.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connect to kafka at %s: %w", bootstrap, err)
	}
	return &offsets{seeds: bootstrap, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (o *offsets) close() { o.cl.Close() }

// count returns the number of records written to topic so far: the sum of
// its partitions' end offsets, 0 for a topic that does not exist yet. It
// blocks for one round trip to the broker.
func (o *offsets) count(ctx context.Context, topic string) (int64, error) {
	ends, err := o.ends(ctx, topic, false)
	return sum(ends), err
}

// ends returns topic's end offsets by partition, none for a topic that
// does not exist yet: the high watermarks, or with committed the last
// stable offsets, short of every transaction still open. Either counts
// the transactions' markers (control records) too. It blocks for one
// round trip to the broker.
func (o *offsets) ends(ctx context.Context, topic string, committed bool) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, what := o.adm.ListEndOffsets, "end"
	if committed {
		list, what = o.adm.ListCommittedOffsets, "committed"
	}
	ls, err := list(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list %s offsets of %s: %w", what, topic, err)
	}
	out := map[int32]int64{}
	ls.Each(func(lo kadm.ListedOffset) {
		if lo.Err == nil {
			out[lo.Partition] = lo.Offset
		}
	})
	return out, nil
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// progress is what watching a topic saw.
type progress struct {
	// First is when the topic first held more than the base count, Done
	// when it reached the target. Both are measured from the same clock as
	// the process start.
	First, Done time.Time
	// Count is the record count seen at Done.
	Count int64
	// With waitOptions.Committed: Committed is the records a
	// read_committed consumer read in the phase's range, Markers the
	// transactions' markers (control records) there, one per transaction
	// that wrote to a partition.
	Committed, Markers int64
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
	// Committed ends the wait on what a read_committed consumer sees, as a
	// transactional producer needs: its records count once committed, and
	// its transactions' markers, which take offsets too, do not. The
	// topic's last stable offsets must reach Base+Want, then a
	// read_committed read from From (the partitions' offsets before the
	// phase, summing to Base) must find Want records. First stays the
	// first record written, committed or not.
	Committed bool
	From      map[int32]int64
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
	var cnt *committedCounter
	defer func() {
		if cnt != nil {
			cnt.close()
		}
	}()
	deadline := time.NewTimer(w.Total)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var n int64
		var ends map[int32]int64
		var err error
		if !w.Committed || p.First.IsZero() {
			n, err = o.count(ctx, w.Topic)
		}
		now := time.Now()
		if err == nil && n > w.Base && p.First.IsZero() {
			p.First = now
		}
		if w.Committed && err == nil {
			ends, err = o.ends(ctx, w.Topic, true)
			n = sum(ends)
		}
		if err != nil {
			lastErr, n = err, lastCount
		}
		if n >= target {
			done := true
			if w.Committed {
				if cnt == nil {
					if cnt, err = o.newCommittedCounter(w.Topic, w.From); err != nil {
						return p, err
					}
				}
				if err := cnt.readTo(ctx, ends); err != nil {
					return p, err
				}
				p.Committed, p.Markers = cnt.records, cnt.markers
				done = cnt.records >= w.Want
			}
			if done {
				p.Done, p.Count = now, n
				return p, nil
			}
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

// committedCounter reads a topic as a read_committed consumer does, from
// given offsets on, and counts its records and, apart, the control records
// (transaction markers), which franz-go hands over only with
// KeepControlRecords. It keeps them because a marker is usually the last
// offset before a last stable offset: seeing it is how the read knows it
// got there (aborted records are dropped, their marker is not).
type committedCounter struct {
	cl               *kgo.Client
	topic            string
	next             map[int32]int64 // the next offset to read, by partition
	records, markers int64
}

func (o *offsets) newCommittedCounter(topic string, from map[int32]int64) (*committedCounter, error) {
	c := &committedCounter{topic: topic, next: map[int32]int64{}}
	at := map[int32]kgo.Offset{}
	for p, off := range from {
		c.next[p], at[p] = off, kgo.NewOffset().At(off)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.seeds), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}))
	if err != nil {
		return nil, fmt.Errorf("count the committed records of %s: %w", topic, err)
	}
	c.cl = cl
	return c, nil
}

// readTo reads on until every partition's next offset reaches its offset
// in ends (last stable offsets, so reachable), at most a minute. A
// partition the counter has not read yet is read from its start.
func (c *committedCounter) readTo(ctx context.Context, ends map[int32]int64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	added := map[int32]kgo.Offset{}
	for p := range ends {
		if _, ok := c.next[p]; !ok {
			c.next[p], added[p] = 0, kgo.NewOffset().AtStart()
		}
	}
	if len(added) > 0 {
		c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: added})
	}
	for {
		behind := false
		for p, end := range ends {
			behind = behind || c.next[p] < end
		}
		if !behind {
			return nil
		}
		fs := c.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("count the committed records of %s: read to offsets %v, at %v: %w", c.topic, ends, c.next, err)
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("count the committed records of %s: %w", c.topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			c.next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				c.markers++
			} else {
				c.records++
			}
		})
	}
}

func (c *committedCounter) close() { c.cl.Close() }
