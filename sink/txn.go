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
// consumer saw. Its fields are under run, which Produce, Mark, Commit,
// Rewind and Close hold, and the checkpoint loop (Run) while it commits a
// mark the source has left idle; committed is under mu too.
type txnState struct {
	run sync.Mutex

	open      bool // a transaction was begun and not yet ended
	dirty     bool // records were produced since the newest mark
	last      Checkpoint
	marks     uint64 // marks so far
	lastMark  uint64
	doneMark  uint64 // mark of the last commit
	lastEnded time.Time

	mu        sync.Mutex
	committed Checkpoint
	hasCommit bool
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

// txnMark records cp as the newest mark and commits when the interval has
// passed since the last commit.
func (p *Producer) txnMark(cp Checkpoint, force bool) error {
	t := p.txn
	t.marks++
	t.last, t.lastMark, t.dirty = cp, t.marks, false
	if !force && time.Since(t.lastEnded) < p.cfg.CheckpointInterval {
		return nil
	}
	return p.commitTxn()
}

// commitTxn waits for every record of the open transaction, adds the
// newest mark's checkpoint record to it and commits it.
func (p *Producer) commitTxn() error {
	t := p.txn
	if t.lastMark == t.doneMark {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DeliveryTimeout)
	defer cancel()
	if err := p.begin(); err != nil {
		return err
	}
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("commit transaction: wait for kafka: %w", err)
	}
	if err := p.acks.failure(); err != nil {
		return err
	}
	cp := t.last
	cp.UpdatedAt = time.Now().UTC()
	rec, err := checkpointRecord(p.cfg.CheckpointTopic, cp)
	if err != nil {
		return err
	}
	if err := p.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		p.countWriteError()
		return p.txnError("write the checkpoint into the transaction", err)
	}
	if err := p.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		p.countWriteError()
		return p.txnError("commit the transaction", err)
	}
	t.open, t.doneMark, t.lastEnded = false, t.lastMark, time.Now()
	t.mu.Lock()
	t.committed, t.hasCommit = cp, true
	t.mu.Unlock()
	p.statsMu.Lock()
	p.stats.Written, p.stats.WrittenAt = cp, cp.UpdatedAt
	p.stats.Writes++
	p.statsMu.Unlock()
	return nil
}

// idleCommit commits the newest mark when the source has produced nothing
// after it: a source that went quiet has its last transactions visible
// within one interval. Run calls it every interval.
func (p *Producer) idleCommit() error {
	t := p.txn
	t.run.Lock()
	defer t.run.Unlock()
	if t.dirty || t.lastMark == t.doneMark || p.closed.Load() || time.Since(t.lastEnded) < p.cfg.CheckpointInterval {
		return nil
	}
	return p.commitTxn()
}

// closeTxn ends the open transaction at Close: committed when nothing was
// produced after the newest mark, else aborted, so the records of a source
// transaction that was cut short are never visible; a restart reads them
// again from the committed checkpoint.
func (p *Producer) closeTxn(ctx context.Context) error {
	t := p.txn
	t.run.Lock()
	defer t.run.Unlock()
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
