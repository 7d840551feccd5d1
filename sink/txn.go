package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TransactionTimeout is how long one Kafka transaction of an exactly-once
// producer may stay open: the records between two commits. A source
// transaction is never split, so one that takes longer to read and produce
// fails the producer. Brokers cap it at transaction.max.timeout.ms
// (default 15 min).
const TransactionTimeout = 5 * time.Minute

// txnState is the exactly-once side of a Producer (Config.TransactionalID
// set). Records go out inside Kafka transactions; a transaction is
// committed only at a mark, together with the checkpoint record of that
// mark, so the checkpoint topic and the data topics agree exactly: a
// restart from the committed checkpoint repeats nothing a read_committed
// consumer saw.
//
// A commit at a Mark runs in the background: the source reads on while
// Kafka acknowledges the transaction's records and ends it. Records
// produced meanwhile belong to the next transaction; they wait in pending,
// bounded by the same limits as the client's buffer, and go to the client
// in order once the commit has ended. Its fields are under run, which
// Produce, Mark, Commit, Rewind and Close hold, and the commit goroutine
// and the checkpoint loop (Run) while they change them; committed is under
// mu too.
type txnState struct {
	run sync.Mutex

	open      bool // a transaction was begun and not yet ended
	dirty     bool // records were produced since the newest mark
	last      Checkpoint
	marks     uint64 // marks so far
	lastMark  uint64
	doneMark  uint64 // mark of the last commit
	lastEnded time.Time
	seenMarks uint64 // marks at the previous idleCommit

	// committing is set while a background commit runs; done is closed
	// when it has ended. pending holds the records produced meanwhile,
	// with their windows' promises, and their bytes.
	committing   bool
	done         chan struct{}
	pending      []pendingRecord
	pendingBytes int

	mu        sync.Mutex
	committed Checkpoint
	hasCommit bool
}

// pendingRecord is a record produced while a commit ran.
type pendingRecord struct {
	rec     *kgo.Record
	promise func(*kgo.Record, error)
}

// begin opens a transaction when none is.
func (p *Producer) begin() error {
	if p.txn.open {
		return nil
	}
	if err := p.client.BeginTransaction(); err != nil {
		return p.txnError("begin a transaction", err)
	}
	p.txn.open = true
	return nil
}

// txnProduce produces recs, counted into window w, into the open
// transaction, or holds them in pending while a commit runs. It blocks
// while pending is full, until the commit has ended or ctx ends. The
// caller holds run.
func (p *Producer) txnProduce(ctx context.Context, w *window, recs []*kgo.Record) error {
	t := p.txn
	for t.committing && (len(t.pending) >= p.cfg.MaxBufferedRecords || t.pendingBytes >= p.cfg.MaxBufferedBytes) {
		done := t.done
		t.run.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		t.run.Lock()
		if err := ctx.Err(); err != nil {
			// Counted into w but never produced: the producer cannot go on.
			err = fmt.Errorf("produce: %w", err)
			p.acks.failWith(err)
			return err
		}
	}
	t.dirty = true
	if t.committing {
		for _, r := range recs {
			t.pending = append(t.pending, pendingRecord{r, w.promise})
			t.pendingBytes += recordBytes(r)
		}
		return nil
	}
	if err := p.begin(); err != nil {
		p.acks.failWith(err)
		return err
	}
	for _, r := range recs {
		p.client.Produce(ctx, r, w.promise)
	}
	return nil
}

// recordBytes is what a record counts against MaxBufferedBytes.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// txnMark records cp as the newest mark. Once the interval has passed
// since the last commit it starts committing the transaction in the
// background, or, forced, commits it before it returns. The caller holds
// run.
func (p *Producer) txnMark(cp Checkpoint, force bool) error {
	t := p.txn
	if force {
		p.waitCommit()
		if err := p.acks.failure(); err != nil {
			return err
		}
	}
	t.marks++
	t.last, t.lastMark, t.dirty = cp, t.marks, false
	if force {
		return p.commitTxn()
	}
	if t.committing || time.Since(t.lastEnded) < p.cfg.CheckpointInterval {
		return nil
	}
	return p.startCommit()
}

// waitCommit waits until no background commit runs. The caller holds run;
// it is released while waiting.
func (p *Producer) waitCommit() {
	t := p.txn
	for t.committing {
		done := t.done
		t.run.Unlock()
		<-done
		t.run.Lock()
	}
}

// startCommit commits the newest mark in the background: from now on
// records wait in pending until the commit has ended. The caller holds run
// and nothing was produced after the mark.
func (p *Producer) startCommit() error {
	t := p.txn
	if t.lastMark == t.doneMark {
		return nil
	}
	if err := p.begin(); err != nil {
		return err
	}
	t.committing, t.done = true, make(chan struct{})
	cp, mark := t.last, t.lastMark
	go func() {
		cp, err := p.endTxn(cp)
		t.run.Lock()
		defer t.run.Unlock()
		if err == nil {
			p.committedTxn(cp, mark)
			err = p.releasePending()
		}
		if err != nil {
			p.acks.failWith(err)
		}
		t.committing = false
		close(t.done)
	}()
	return nil
}

// releasePending produces the records held while a commit ran into a new
// transaction, in order. The caller holds run.
func (p *Producer) releasePending() error {
	t := p.txn
	if len(t.pending) == 0 {
		return nil
	}
	if err := p.begin(); err != nil {
		return err
	}
	for i, pr := range t.pending {
		p.client.Produce(context.Background(), pr.rec, pr.promise)
		t.pending[i] = pendingRecord{}
	}
	t.pending, t.pendingBytes = t.pending[:0], 0
	return nil
}

// commitTxn commits the newest mark before it returns. The caller holds
// run and no background commit runs.
func (p *Producer) commitTxn() error {
	t := p.txn
	if t.lastMark == t.doneMark {
		return nil
	}
	if err := p.begin(); err != nil {
		return err
	}
	cp, err := p.endTxn(t.last)
	if err != nil {
		return err
	}
	p.committedTxn(cp, t.lastMark)
	return nil
}

// endTxn adds cp's checkpoint record to the open transaction, waits for
// Kafka to acknowledge every record of it and commits it. Nothing may be
// produced into the client meanwhile.
func (p *Producer) endTxn(cp Checkpoint) (Checkpoint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DeliveryTimeout)
	defer cancel()
	cp.UpdatedAt = time.Now().UTC()
	rec, err := checkpointRecord(p.cfg.CheckpointTopic, cp)
	if err != nil {
		return cp, err
	}
	// The checkpoint record goes out with the transaction's last batches
	// rather than after them.
	var cpErr error
	p.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { cpErr = err })
	if err := p.client.Flush(ctx); err != nil {
		return cp, fmt.Errorf("commit transaction: wait for kafka: %w", err)
	}
	if err := p.acks.failure(); err != nil {
		return cp, err
	}
	if cpErr != nil {
		p.countWriteError()
		return cp, p.txnError("write the checkpoint into the transaction", cpErr)
	}
	if err := p.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		p.countWriteError()
		return cp, p.txnError("commit the transaction", err)
	}
	return cp, nil
}

// committedTxn records the commit of mark with checkpoint cp (its
// UpdatedAt set by endTxn). The caller holds run.
func (p *Producer) committedTxn(cp Checkpoint, mark uint64) {
	t := p.txn
	t.open, t.doneMark, t.lastEnded = false, mark, time.Now()
	t.mu.Lock()
	t.committed, t.hasCommit = cp, true
	t.mu.Unlock()
	p.statsMu.Lock()
	p.stats.Written, p.stats.WrittenAt = cp, cp.UpdatedAt
	p.stats.Writes++
	p.statsMu.Unlock()
}

// quietTick is how often an exactly-once producer's Run looks for a source
// that went quiet: a tenth of the checkpoint interval, at most 100 ms.
func quietTick(interval time.Duration) time.Duration {
	return max(min(interval/10, 100*time.Millisecond), time.Millisecond)
}

// idleCommit commits the newest mark when the source has done nothing
// since the previous call (no record, no mark): a source that went quiet
// has its last transactions visible within two quiet ticks, not one
// checkpoint interval later. The interval bounds the commits of a busy
// source only. The commit runs in the background, as at a Mark. Run calls
// it every quietTick.
func (p *Producer) idleCommit() error {
	t := p.txn
	t.run.Lock()
	defer t.run.Unlock()
	seen := t.seenMarks
	t.seenMarks = t.marks
	if t.committing || t.dirty || t.marks != seen || t.lastMark == t.doneMark || p.closed.Load() {
		return nil
	}
	return p.startCommit()
}

// closeTxn ends the open transaction at Close: committed when nothing was
// produced after the newest mark, else aborted, so the records of a source
// transaction that was cut short are never visible; a restart reads them
// again from the committed checkpoint.
func (p *Producer) closeTxn(ctx context.Context) error {
	t := p.txn
	t.run.Lock()
	defer t.run.Unlock()
	p.waitCommit()
	if !t.dirty && p.acks.failure() == nil {
		if err := p.commitTxn(); err != nil {
			return err
		}
		if !t.open {
			return nil
		}
	}
	if !t.open {
		return nil
	}
	if err := p.client.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("abort the open transaction: %w", err)
	}
	if err := p.client.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return p.txnError("abort the open transaction", err)
	}
	t.open = false
	return nil
}

func (p *Producer) countWriteError() {
	p.statsMu.Lock()
	p.stats.WriteErrors++
	p.statsMu.Unlock()
}

// ErrFenced is wrapped by the error of an exactly-once producer that
// another producer with the same transactional id replaced.
var ErrFenced = errors.New("fenced by a newer producer with the same transactional id")

// txnError names the cause and the fix of a failed transaction step.
func (p *Producer) txnError(what string, err error) error {
	switch {
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch):
		return fmt.Errorf("%s: %w: another sluice instance with transactional id %q started and took over (kafka: %v); "+
			"only one instance of a source writes, so this one stops. Run one instance per name, or give each source its own name",
			what, ErrFenced, p.cfg.TransactionalID, err)
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("%s: kafka refuses transactional id %q (%v): grant the principal WRITE and DESCRIBE on TransactionalId %q, or turn kafka.exactly_once off",
			what, p.cfg.TransactionalID, err, p.cfg.TransactionalID)
	}
	return fmt.Errorf("%s (transactional id %q): %w", what, p.cfg.TransactionalID, err)
}

// Rewind discards the open transaction of an exactly-once producer and
// returns the checkpoint of its last commit, false when nothing was
// committed yet. A source that lost its connection reads on from there,
// so the changes after the commit are produced once, in the next
// transaction. It is an error for a producer that is not exactly-once.
func (p *Producer) Rewind(ctx context.Context) (Checkpoint, bool, error) {
	t := p.txn
	if t == nil {
		return Checkpoint{}, false, errors.New("rewind: the producer is not exactly-once")
	}
	t.run.Lock()
	defer t.run.Unlock()
	p.waitCommit()
	if err := p.acks.failure(); err != nil {
		return Checkpoint{}, false, err
	}
	if t.open {
		p.acks.discard(true)
		err := p.client.AbortBufferedRecords(ctx)
		if err == nil {
			err = p.client.EndTransaction(ctx, kgo.TryAbort)
		}
		p.acks.discard(false)
		if err != nil {
			err = p.txnError("rewind: abort the open transaction", err)
			p.acks.failWith(err)
			return Checkpoint{}, false, err
		}
		t.open = false
	}
	t.dirty, t.lastMark = false, t.doneMark
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed, t.hasCommit, nil
}
