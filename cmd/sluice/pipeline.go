package main

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

// pipeline is the sluice.Handler the sources feed: it turns each event into
// records (tombstone), makes sure their topic exists, and hands them to the
// producer; transaction boundaries become checkpoint marks. It is used from
// the source's goroutine only.
type pipeline struct {
	name    string
	build   *tombstone.Builder
	prod    *sink.Producer
	adm     *kadm.Client
	sinkCfg sink.Config
	log     *slog.Logger

	topics map[string]bool // topics known to exist
	recs   []*kgo.Record   // reused between events
}

func newPipeline(name string, b *tombstone.Builder, prod *sink.Producer, adm *kadm.Client, cfg sink.Config, log *slog.Logger) *pipeline {
	return &pipeline{name: name, build: b, prod: prod, adm: adm, sinkCfg: cfg, log: log, topics: map[string]bool{}}
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
	return err
}

// Resumable implements sluice.Handler: the position becomes the stream
// checkpoint once Kafka acknowledged everything produced before it.
func (p *pipeline) Resumable(ctx context.Context, pos sluice.Position) error {
	p.prod.Mark(sink.Checkpoint{Source: p.name, Phase: sink.PhaseStream, Position: pos})
	return p.prod.Err()
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
