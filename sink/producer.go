package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Window coalescing limits; see acks.
const (
	// maxWindows bounds the windows of records awaiting acknowledgement.
	maxWindows = 256
	// sealFraction: a mark seals the open window once it holds
	// MaxBufferedRecords/sealFraction records...
	sealFraction = 32
	// sealIntervals: ...or is older than CheckpointInterval/sealIntervals.
	sealIntervals = 8
)

// Producer produces one source's records to Kafka and commits the source's
// checkpoint once Kafka has acknowledged every record before it.
//
// Use one Producer per source. Call [Producer.Produce] and [Producer.Mark]
// from the goroutine that reads the source, in source order; run
// [Producer.Run] in a goroutine of its own; call [Producer.Close] when the
// source has stopped.
type Producer struct {
	client *kgo.Client
	cfg    Config
	log    *slog.Logger
	acks   *acks
	closed atomic.Bool

	writeMu sync.Mutex
	written uint64 // mark ordinal of the last checkpoint written

	statsMu sync.Mutex
	stats   Stats // the checkpoint part of Stats

	// txn is set when the producer is exactly-once (Config.TransactionalID);
	// see txn.go.
	txn *txnState
}

// Stats is what a Producer has done so far, for metrics and status.
type Stats struct {
	// Written is the last checkpoint written to the checkpoint topic and
	// acknowledged there, WrittenAt when; both zero before the first.
	Written   Checkpoint
	WrittenAt time.Time
	// Writes and WriteErrors count the checkpoint writes that Kafka
	// acknowledged and those that failed.
	Writes, WriteErrors int64
	// RecordErrors counts records that failed for good (the first one
	// stops the producer; later ones are records that were in flight).
	RecordErrors int64
}

// Stats returns the producer's counters. It does not block on I/O.
func (p *Producer) Stats() Stats {
	p.statsMu.Lock()
	s := p.stats
	p.statsMu.Unlock()
	s.RecordErrors = p.acks.errorCount()
	return s
}

// New returns a Producer that sends records through client, a client made
// by [NewClient] from the same cfg. The caller keeps owning client. A nil
// logger means slog.Default.
func New(client *kgo.Client, cfg Config, logger *slog.Logger) *Producer {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	p := &Producer{
		client: client,
		cfg:    cfg,
		log:    logger,
		acks:   newAcks(maxWindows, int64(cfg.MaxBufferedRecords/sealFraction), cfg.CheckpointInterval/sealIntervals),
	}
	if cfg.TransactionalID != "" {
		p.txn = &txnState{lastEnded: time.Now()}
		p.acks.transactional = true
	}
	return p
}

// Transactional reports whether the producer is exactly-once.
func (p *Producer) Transactional() bool { return p.txn != nil }

// Produce hands recs to the Kafka client, which batches, sends and retries
// them in the background, and returns once they are buffered. It blocks
// while cfg.MaxBufferedRecords records or cfg.MaxBufferedBytes bytes are
// unacknowledged, until room frees up or ctx ends; that is how a source is
// slowed to Kafka's pace. ctx bounds that wait, and one more: a buffered
// record is delivered even if ctx ends afterwards, unless the record
// carries a Context of its own or its topic is still unknown to the client
// (just created, its metadata not loaded yet; franz-go waits for it under
// ctx). Such a record fails with ctx's error, and, as for any failed
// record, no checkpoint marked after it is committed: a restart sends it
// again.
//
// Records of one partition are written in the order given. Kafka's answer
// comes later: the first record that fails for good makes the producer
// fail, and from then on Produce, [Producer.Err] and [Producer.Run] return
// that error (a *ProduceError naming the cause and the fix), and no
// checkpoint marked after that record is ever committed. A nil return thus
// means "buffered", not "acknowledged". The records belong to the client
// after the call and must not be modified.
func (p *Producer) Produce(ctx context.Context, recs ...*kgo.Record) error {
	if err := p.acks.failure(); err != nil {
		return err
	}
	if p.closed.Load() {
		return ErrClosed
	}
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		if r.Context == nil {
			r.Context = context.Background()
		}
	}
	if p.txn != nil {
		p.txn.run.Lock()
		defer p.txn.run.Unlock()
		if err := p.txnProduce(ctx, p.acks.add(len(recs)), recs); err != nil {
			return err
		}
	} else {
		w := p.acks.add(len(recs))
		for _, r := range recs {
			p.client.Produce(ctx, r, w.promise)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// Mark says that every record passed to Produce so far comes before cp.Position:
// once Kafka has acknowledged all of them, a restart from cp loses nothing.
// Sources call it at transaction boundaries (it is the producer's half of
// sluice.Handler's Resumable). Mark does not block; marks are cheap and
// coalesce, so calling it after every transaction is fine. The producer
// keeps the newest marked checkpoint whose records are all acknowledged;
// see [Producer.Acked].
//
// An exactly-once producer commits its open Kafka transaction at a mark,
// with cp's checkpoint record inside it, once CheckpointInterval has passed
// since the last commit. The commit runs in the background; records
// produced meanwhile wait in the producer, within MaxBufferedRecords and
// MaxBufferedBytes of their own, and go out in the next transaction once
// Kafka confirmed the commit. A source that goes quiet has its newest
// mark committed by Run within two ticks of a tenth of the interval (at
// most 100 ms each), so its last changes become visible to read_committed
// consumers without waiting for the interval. A failed commit is the
// producer's failure (Err).
func (p *Producer) Mark(cp Checkpoint) {
	if p.closed.Load() {
		return
	}
	if p.txn != nil {
		p.txn.run.Lock()
		defer p.txn.run.Unlock()
		if err := p.txnMark(cp, false); err != nil {
			p.acks.failWith(err)
		}
		return
	}
	p.acks.mark(cp)
}

// Commit marks cp and makes it durable before it returns: it waits until
// Kafka has acknowledged every record produced so far (client.Flush) and
// then writes cp to the checkpoint topic. Use it where a restart must find a
// checkpoint, such as the start of a snapshot before its first record; at
// transaction boundaries use Mark, which does not block. Commit blocks until
// then or until ctx ends, and returns the producer's failure if a record
// failed.
func (p *Producer) Commit(ctx context.Context, cp Checkpoint) error {
	if err := p.Err(); err != nil {
		return err
	}
	if p.closed.Load() {
		return ErrClosed
	}
	if p.txn != nil {
		p.txn.run.Lock()
		defer p.txn.run.Unlock()
		if err := p.txnMark(cp, true); err != nil {
			p.acks.failWith(err)
			return err
		}
		return nil
	}
	p.acks.mark(cp)
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("commit checkpoint: wait for kafka: %w", err)
	}
	if err := p.Err(); err != nil {
		return err
	}
	return p.writeCheckpoint(ctx)
}

// Acked returns the newest marked checkpoint whose records, and all records
// produced before them, Kafka has acknowledged, and false when there is none
// yet. It is what Run and Close write.
//
// For an exactly-once producer it is the checkpoint of the last committed
// transaction: records acknowledged inside a transaction still open may
// be aborted.
func (p *Producer) Acked() (Checkpoint, bool) {
	if t := p.txn; t != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.committed, t.hasCommit
	}
	cp, mark := p.acks.acked()
	return cp, mark != 0
}

// Err returns the first record failure, or nil.
func (p *Producer) Err() error { return p.acks.failure() }

// Run writes the acknowledged checkpoint to cfg.CheckpointTopic every
// cfg.CheckpointInterval when it moved, each write waiting for Kafka's
// acknowledgement. It blocks until ctx ends, returning nil, or until the
// producer fails or a checkpoint write fails, returning that error. Run
// starts no goroutines; the caller runs it in one it owns, cancels ctx to
// stop it, and then calls Close, which writes the final checkpoint.
//
// An exactly-once producer's Run writes no checkpoints of its own (its
// commits carry them); it commits the newest mark of a source that went
// quiet, one that produced and marked nothing for a tick of a tenth of
// CheckpointInterval (at most 100 ms).
func (p *Producer) Run(ctx context.Context) error {
	tick := p.cfg.CheckpointInterval
	if p.txn != nil {
		tick = quietTick(tick)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.acks.failed:
			if ctx.Err() != nil {
				return nil
			}
			return p.Err()
		case <-t.C:
			if p.txn != nil {
				// Commits write the checkpoints; the last mark of a
				// source that went quiet is committed here.
				if err := p.idleCommit(); err != nil {
					p.acks.failWith(err)
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				continue
			}
			if err := p.writeCheckpoint(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// Close stops accepting records, waits for every buffered record to be
// acknowledged or failed (client.Flush), and writes the newest acknowledged
// checkpoint. It blocks until then or until ctx ends; give it a context of
// its own with a deadline, not one that is already cancelled.
//
// What Close promises: the checkpoint it leaves in Kafka covers exactly the
// records Kafka acknowledged, in order, up to the newest mark they complete.
// What it does not: that everything was delivered. If ctx ends first, or the
// producer has failed, records after the last acknowledged window are
// abandoned and nothing past it is committed; a restart replays them. Close
// returns the producer's failure, the flush error and the checkpoint write
// error, whichever happened. It does not close client.
func (p *Producer) Close(ctx context.Context) error {
	p.closed.Store(true)
	var errs []error
	if err := p.client.Flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush kafka records: %w", err))
	}
	if p.txn != nil {
		if err := p.closeTxn(ctx); err != nil {
			errs = append(errs, err)
		}
	} else if err := p.writeCheckpoint(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := p.Err(); err != nil && !isCancel(err) {
		errs = append([]error{err}, errs...)
	}
	return errors.Join(errs...)
}

// writeCheckpoint writes the acknowledged checkpoint when it moved since the
// last write, and waits for Kafka to acknowledge it.
func (p *Producer) writeCheckpoint(ctx context.Context) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	cp, mark := p.acks.acked()
	if mark == 0 || mark == p.written {
		return nil
	}
	cp.UpdatedAt = time.Now().UTC()
	rec, err := checkpointRecord(p.cfg.CheckpointTopic, cp)
	if err != nil {
		return err
	}
	if err := p.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		p.statsMu.Lock()
		p.stats.WriteErrors++
		p.statsMu.Unlock()
		if isCancel(err) {
			return fmt.Errorf("write checkpoint of source %q: %w", cp.Source, err)
		}
		return fmt.Errorf("write checkpoint of source %q: %w", cp.Source, produceError(rec, err))
	}
	p.written = mark
	p.statsMu.Lock()
	p.stats.Written, p.stats.WrittenAt = cp, cp.UpdatedAt
	p.stats.Writes++
	p.statsMu.Unlock()
	p.log.Debug("checkpoint written", "source", cp.Source, "phase", cp.Phase, "position", cp.Position)
	return nil
}
