package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/tombstone"
)

// pipeline is the Handler the sources feed: it turns each event into
// records (tombstone), makes sure their topic exists, and hands them to the
// producer; transaction boundaries become checkpoint marks. It records
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
}

func newPipeline(name string, b *tombstone.Builder, prod *sink.Producer, adm *kadm.Client, cfg sink.Config,
	log *slog.Logger, st *tracker, h hooks) *pipeline {
	return &pipeline{name: name, build: b, prod: prod, adm: adm, sinkCfg: cfg, log: log, st: st, hooks: h,
		topics: map[string]bool{}}
}

// Change implements sluice.Handler. It blocks while the producer's buffer
// is full.
func (p *pipeline) Change(ctx context.Context, ev *sluice.Event) error {
	if err := p.ensureTopic(ctx, ev.Table); err != nil {
		return err
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
	} else {
		p.st.event(ev.Source.CommitTime)
	}
	for _, h := range p.hooks.event {
		h.OnEvent(ev)
	}
	return nil
}

// Resumable implements sluice.Handler: the position becomes the stream
// checkpoint once Kafka acknowledged everything produced before it.
func (p *pipeline) Resumable(ctx context.Context, pos sluice.Position) error {
	p.prod.Mark(sink.Checkpoint{Source: p.name, Phase: sink.PhaseStream, Position: pos})
	p.st.read(pos)
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
