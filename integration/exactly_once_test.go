//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// readCommitted reads topic from the start as a consumer with
// isolation.level=read_committed: everything committed, nothing of an
// aborted or open transaction. It stops once no record came for 3 s.
func (f *fixture) readCommitted(topic string) []record {
	f.t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	var recs []record
	for {
		ctx, cancel := context.WithTimeout(f.ctx, 3*time.Second)
		fs := c.PollFetches(ctx)
		idle := ctx.Err() != nil
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, record{Key: string(r.Key), Value: r.Value, Partition: r.Partition, Offset: r.Offset})
		})
		if idle && f.ctx.Err() == nil {
			return recs
		}
		if f.ctx.Err() != nil {
			f.t.Fatalf("read %s: %v", topic, f.ctx.Err())
		}
	}
}

// TestExactlyOnceAcrossKills: with kafka.exactly_once, kill -9 twice while
// streaming under load: a read_committed consumer sees every change once,
// in order per key, and the compacted topic equals the table.
func TestExactlyOnceAcrossKills(t *testing.T) {
	f := newFixture(t)
	f.kafkaYAML = "  exactly_once: true\n"
	f.createItems(2000)
	exactlyOnceAcrossKills(t, f, f.config(""), func() *writer { return f.startWriter(2000) }, f.tableRows)
}

func TestExactlyOnceAcrossKillsPostgres(t *testing.T) {
	f := newPGFixture(t)
	f.kafkaYAML = "  exactly_once: true\n"
	f.createItems(2000)
	exactlyOnceAcrossKills(t, f.fixture, f.config(""), func() *writer { return f.startWriter(2000) }, f.tableRows)
}

func exactlyOnceAcrossKills(t *testing.T, f *fixture, cfg string, startWriter func() *writer,
	tableRows func(table, keyCol string, cols ...string) map[string]map[string]string) {
	p := f.sluice(cfg)
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "streaming after the snapshot"), "not yet"
	})
	if !strings.Contains(p.output(), "exactly-once: records are written in Kafka transactions") {
		t.Errorf("sluice did not say it runs exactly-once")
	}
	w := startWriter()
	for i := 0; i < 2; i++ {
		time.Sleep(2 * time.Second)
		p.kill()
		time.Sleep(500 * time.Millisecond)
		p = f.sluice(cfg)
	}
	time.Sleep(2 * time.Second)
	w.stop()
	t.Logf("writer made %d changes", w.ops.Load())
	var recs []record
	f.eventually(90*time.Second, "the committed topic equals the table", func() (bool, string) {
		recs = f.readCommitted(f.topic("items"))
		return diffRows(tableRows("items", "id", "ver", "name", "amount"), f.topicRows(recs, "ver", "name", "amount"))
	})
	// The snapshot was not interrupted, so every change is exactly once.
	if dups := checkVersions(t, recs, true); dups != 0 {
		t.Errorf("a read_committed consumer saw %d records twice", dups)
	}
	p.stop()
}
