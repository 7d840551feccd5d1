package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/tombstone"
	"github.com/sluice-cdc/sluice/transform"
)

// pipeline is the Handler the sources feed: it applies the column
// transforms, routes, turns each event into records (tombstone), makes
// sure their topic exists, and hands them to the producer; transaction
// boundaries become checkpoint marks. It records
// progress in the engine's status and calls the event hooks. It is used
// from the source's goroutine only, except Acked.
type pipeline struct {
	name    string
	build   *tombstone.Builder
	prod    *sink.Producer
	adm     *kadm.Client
	sinkCfg sink.Config
	log     *slog.Logger
	st      *tracker
	hooks   hooks

	topics map[string]bool // topics known to exist
	recs   []*kgo.Record   // reused between events

	// The snapshot table the last event belonged to, and its progress.
	lastTable *sluice.Table
	lastProg  *tableProgress

	// xf applies the column transforms (transforms.*) to every event,
	// snapshot and stream alike, before routing and encoding; nil when no
	// column is transformed.
	xf *transform.Transformer

	// route sends routed tables' records to their topic; nil without
	// routes.
	route *router

	// tx numbers streamed events within their transactions and writes
	// the transaction topic's records; nil unless transaction metadata
	// is on.
	tx *txTracker

	// gate holds Change and Resumable while the engine is paused.
	gate *gate

	// snapCP is the checkpoint of the running snapshot; an exactly-once
	// producer gets it as a mark every snapMarkEvery rows, so a long
	// snapshot is committed in transactions of bounded length.
	snapCP   sink.Checkpoint
	snapRows int

	// counts are the streamed events per table and operation; the table
	// the last event belonged to and its counters are cached.
	counts    *eventCounts
	lastCount *sluice.Table
	lastOps   *opCounts
}

// txTracker follows the source transaction streamed events belong to.
// A transaction begins with the first streamed event after a boundary
// (Resumable) and ends at the next boundary. Its memory is one counter per
// table the transaction touched.
type txTracker struct {
	topic  string
	open   bool
	block  sluice.Transaction
	commit time.Time
	tables []sluice.TableEvents // per table, in first-seen order
	index  map[*sluice.Table]int
}

// transactionID names the transaction of ev, its first event: the GTID,
// else binlog file:position; PostgreSQL's xid:lsn.
func transactionID(ev *sluice.Event) string {
	src := &ev.Source
	switch {
	case src.Connector == "postgresql":
		return strconv.FormatUint(uint64(src.TxID), 10) + ":" + strconv.FormatUint(src.Position.LSN, 10)
	case src.GTID != "":
		return src.GTID
	}
	return src.Position.File + ":" + strconv.FormatUint(src.Position.Offset, 10)
}

// next places ev in the open transaction, opening one when none is: it
// returns the event to encode (a copy carrying the transaction block) and
// the BEGIN boundary when ev opened the transaction.
func (t *txTracker) next(ev *sluice.Event) (*sluice.Event, *sluice.TransactionBoundary) {
	var begin *sluice.TransactionBoundary
	if !t.open {
		t.open, t.commit = true, ev.Source.CommitTime
		t.block = sluice.Transaction{ID: transactionID(ev)}
		t.tables = t.tables[:0]
		if t.index == nil {
			t.index = map[*sluice.Table]int{}
		}
		clear(t.index)
		begin = &sluice.TransactionBoundary{ID: t.block.ID, CommitTime: t.commit}
	}
	i, ok := t.index[ev.Table]
	if !ok {
		name := ev.Table.FullName()
		i = slices.IndexFunc(t.tables, func(te sluice.TableEvents) bool { return te.Table == name })
		if i < 0 {
			i = len(t.tables)
			t.tables = append(t.tables, sluice.TableEvents{Table: name})
		}
		t.index[ev.Table] = i
	}
	t.tables[i].Events++
	t.block.TotalOrder++
	t.block.TableOrder = t.tables[i].Events
	out := *ev
	block := t.block
	out.Transaction = &block
	return &out, begin
}

// end closes the open transaction and returns its END boundary, or nil
// when none is open.
func (t *txTracker) end() *sluice.TransactionBoundary {
	if !t.open {
		return nil
	}
	t.open = false
	return &sluice.TransactionBoundary{End: true, ID: t.block.ID, Events: t.block.TotalOrder,
		Tables: slices.Clone(t.tables), CommitTime: t.commit}
}

// snapMarkEvery is how many snapshot rows pass between the marks an
// exactly-once producer gets during a snapshot.
const snapMarkEvery = 1024

func newPipeline(name string, b *tombstone.Builder, prod *sink.Producer, adm *kadm.Client, cfg sink.Config,
	log *slog.Logger, st *tracker, h hooks, g *gate, counts *eventCounts) *pipeline {
	return &pipeline{name: name, build: b, prod: prod, adm: adm, sinkCfg: cfg, log: log, st: st, hooks: h,
		topics: map[string]bool{}, gate: g, counts: counts}
}

// rewound forgets the transaction in progress: its records were aborted
// and the source reads it again.
func (p *pipeline) rewound() {
	if p.tx != nil {
		p.tx.open = false
	}
}

// SnapshotPlan implements sluice.SnapshotPlanner: the tables and their
// estimates become the snapshot's progress in Status.
func (p *pipeline) SnapshotPlan(tables []sluice.TableEstimate) { p.st.snapshotPlan(tables) }

// Change implements sluice.Handler. It blocks while the producer's buffer
// is full, and while the engine is paused.
func (p *pipeline) Change(ctx context.Context, ev *sluice.Event) error {
	return p.change(ctx, ev, true)
}

// change is Change; inTx says whether a streamed event counts in the
// transaction metadata (a retaken snapshot's catch-up passes on only some
// events of each transaction and gives none).
func (p *pipeline) change(ctx context.Context, ev *sluice.Event, inTx bool) error {
	if err := p.hold(ctx); err != nil {
		return err
	}
	if p.xf != nil {
		var err error
		if ev, err = p.xf.Event(ev); err != nil {
			return err
		}
	}
	if p.route != nil {
		var err error
		if ev, err = p.route.event(ev); err != nil {
			return err
		}
	}
	if err := p.ensureTopic(ctx, ev.Table); err != nil {
		return err
	}
	if p.tx != nil && inTx && !ev.Source.Snapshot {
		var begin *sluice.TransactionBoundary
		ev, begin = p.tx.next(ev)
		if begin != nil {
			if err := p.transaction(ctx, begin); err != nil {
				return err
			}
		}
	}
	recs, err := p.build.Append(ctx, p.recs[:0], ev)
	if err != nil {
		return err
	}
	err = p.prod.Produce(ctx, recs...)
	clear(recs)
	p.recs = recs[:0]
	if err != nil {
		return err
	}
	if ev.Source.Snapshot {
		if ev.Table != p.lastTable {
			p.lastTable, p.lastProg = ev.Table, p.st.snapshotTable(ev.Table.FullName())
		}
		p.lastProg.rows.Add(1)
		if p.snapCP.Source != "" && p.prod.Transactional() {
			if p.snapRows++; p.snapRows%snapMarkEvery == 0 {
				p.prod.Mark(p.snapCP)
				if err := p.prod.Err(); err != nil {
					return err
				}
			}
		}
	} else {
		p.st.event(ev.Source.CommitTime)
		if ev.Table != p.lastCount {
			p.lastCount, p.lastOps = ev.Table, p.counts.table(ev.Table.FullName())
		}
		p.lastOps.add(ev.Op)
	}
	for _, h := range p.hooks.event {
		h.OnEvent(ev)
	}
	return nil
}

// hold waits while the engine is paused; unpaused it costs one atomic
// load.
func (p *pipeline) hold(ctx context.Context) error {
	if p.gate.closed() {
		return p.gate.wait(ctx)
	}
	return nil
}

// Resumable implements sluice.Handler: the position becomes the stream
// checkpoint once Kafka acknowledged everything produced before it.
func (p *pipeline) Resumable(ctx context.Context, pos sluice.Position) error {
	if err := p.hold(ctx); err != nil {
		return err
	}
	if p.tx != nil {
		if end := p.tx.end(); end != nil {
			if err := p.transaction(ctx, end); err != nil {
				return err
			}
		}
	}
	commit := p.st.read(pos)
	p.prod.Mark(sink.Checkpoint{Source: p.name, Phase: sink.PhaseStream, Position: pos, CommitTime: commit})
	for _, h := range p.hooks.resumable {
		h.OnResumable(pos)
	}
	return p.prod.Err()
}

// Acked implements Handler.
func (p *pipeline) Acked() (sluice.Position, bool) {
	cp, ok := p.prod.Acked()
	return cp.Position, ok
}

// ackedCheckpoint is Acked with the commit time of the position.
func (p *pipeline) ackedCheckpoint() (sluice.Position, time.Time, bool) {
	cp, ok := p.prod.Acked()
	return cp.Position, cp.CommitTime, ok
}

// transaction produces the record of a transaction boundary to the
// transaction topic, creating the topic on first use.
func (p *pipeline) transaction(ctx context.Context, b *sluice.TransactionBoundary) error {
	if !p.topics[p.tx.topic] {
		if err := sink.EnsureTopics(ctx, p.adm, []string{p.tx.topic}, p.sinkCfg, p.log); err != nil {
			return fmt.Errorf("create transaction topic %s: %w", p.tx.topic, err)
		}
		p.topics[p.tx.topic] = true
	}
	rec, err := p.build.Transaction(ctx, p.tx.topic, b)
	if err != nil {
		return err
	}
	return p.prod.Produce(ctx, rec)
}

func (p *pipeline) ensureTopic(ctx context.Context, t *sluice.Table) error {
	topic := p.build.Topic(t)
	if p.topics[topic] {
		return nil
	}
	cfg := p.sinkCfg
	if len(t.Key) == 0 {
		// Kafka refuses records without a key on compacted topics.
		cfg = cfg.WithoutCompaction()
		p.log.Warn("topic of a table without key columns is created with cleanup.policy=delete: compaction needs keys",
			"topic", topic, "table", t.FullName())
	}
	if err := sink.EnsureTopics(ctx, p.adm, []string{topic}, cfg, p.log); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	p.topics[topic] = true
	return nil
}
