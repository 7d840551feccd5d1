package sink

import (
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// acks tracks which marked checkpoints Kafka has fully acknowledged.
//
// Records are counted into windows. A window holds the records produced
// between two seals and the newest checkpoint marked while it was open. A
// window is done when every record in it is acknowledged; its checkpoint is
// committed only when it and every earlier window are done. Records of one
// partition are acknowledged in order, but partitions are independent, so
// acknowledgements arrive in any order across windows; counting per window
// and committing from the front makes the result right for every order.
//
// Marks coalesce: a mark seals the open window only when it holds enough
// records or is old enough, and never when the ring of windows is full, so
// the number of windows is fixed no matter how many transactions there are
// or how long Kafka stalls. Coalescing only ever delays a commit; it never
// commits a checkpoint whose records are not all acknowledged.
type acks struct {
	mu sync.Mutex
	// ring holds the live windows ring[head%len] ... ring[tail%len];
	// ring[tail%len] is the open one. Window structs are reused once
	// every record in them is acknowledged.
	ring       []*window
	head, tail uint64

	sealRecords int64
	sealAge     time.Duration
	now         func() time.Time

	marks         uint64 // marks so far; a window's mark is its ordinal
	committed     Checkpoint
	committedMark uint64 // 0: nothing committed yet

	err           error         // first record failure
	failed        chan struct{} // closed when err is set
	recordErrors  int64         // records that failed for good
	discarding    bool          // records are being aborted on purpose: their failures count as done
	transactional bool          // the producer is exactly-once: an epoch error means it was fenced
}

type window struct {
	records int64 // produced into this window
	pending int64 // of those, not yet acknowledged
	opened  time.Time
	cp      Checkpoint
	mark    uint64 // 0: no checkpoint marked in this window
	failed  bool   // a record of this window will never be acknowledged
	promise func(*kgo.Record, error)
}

func newAcks(maxWindows int, sealRecords int64, sealAge time.Duration) *acks {
	a := &acks{
		ring:        make([]*window, maxWindows),
		sealRecords: max(sealRecords, 1),
		sealAge:     sealAge,
		now:         time.Now,
		failed:      make(chan struct{}),
	}
	a.open(0)
	return a
}

// open makes ring slot i the open window, reusing its struct.
func (a *acks) open(i uint64) {
	w := a.ring[i%uint64(len(a.ring))]
	if w == nil {
		w = &window{}
		w.promise = func(r *kgo.Record, err error) { a.ack(w, r, err) }
		a.ring[i%uint64(len(a.ring))] = w
	}
	w.records, w.pending, w.mark, w.failed = 0, 0, 0, false
	w.cp = Checkpoint{}
	w.opened = a.now()
}

func (a *acks) at(i uint64) *window { return a.ring[i%uint64(len(a.ring))] }

// add counts n records into the open window and returns it; the caller
// produces them with the window's promise.
func (a *acks) add(n int) *window {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.at(a.tail)
	w.records += int64(n)
	w.pending += int64(n)
	return w
}

// mark records cp as the checkpoint of everything counted so far.
func (a *acks) mark(cp Checkpoint) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.marks++
	w := a.at(a.tail)
	w.cp, w.mark = cp, a.marks
	full := a.tail-a.head+1 >= uint64(len(a.ring))
	if w.records > 0 && !full && (w.records >= a.sealRecords || a.now().Sub(w.opened) >= a.sealAge) {
		a.tail++
		a.open(a.tail)
	}
	a.advance()
}

// ack is the promise of every record counted into w.
func (a *acks) ack(w *window, r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil && a.discarding {
		w.pending--
		return
	}
	if err != nil {
		w.failed = true
		a.recordErrors++
		pe := produceError(r, err)
		if a.transactional && (errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced)) {
			pe.Fix = fencedFix
		}
		a.fail(pe)
		return
	}
	w.pending--
	a.advance()
}

// discard makes the failures of the records in flight count as done (on)
// and, when turned off, starts the account over with empty windows: an
// exactly-once producer aborting its open transaction.
func (a *acks) discard(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.discarding = on
	if !on {
		a.head, a.tail = 0, 0
		a.open(0)
	}
}

// failWith makes err the producer's failure unless it has one.
func (a *acks) failWith(err error) {
	a.mu.Lock()
	a.fail(err)
	a.mu.Unlock()
}

func (a *acks) fail(err error) {
	if a.err == nil {
		a.err = err
		close(a.failed)
	}
}

// advance commits the checkpoints of done windows from the front and
// retires them. The open window is committed when done but stays open.
func (a *acks) advance() {
	for {
		w := a.at(a.head)
		if w.failed || w.pending > 0 {
			return
		}
		if w.mark > a.committedMark {
			a.committed, a.committedMark = w.cp, w.mark
		}
		if a.head == a.tail {
			return
		}
		a.head++
	}
}

// acked returns the newest committed checkpoint and its mark ordinal (0
// when nothing is committed yet).
func (a *acks) acked() (Checkpoint, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.committed, a.committedMark
}

// errorCount returns how many records failed for good.
func (a *acks) errorCount() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recordErrors
}

func (a *acks) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// windows returns how many windows are live, for tests.
func (a *acks) windows() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.tail - a.head + 1)
}
