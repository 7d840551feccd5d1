package sink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committedValues reads topic with read_committed isolation and returns
// its values in order.
func committedValues(t *testing.T, cfg Config, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
}

// txnSetup makes a one-partition cluster with the test topic and the
// checkpoint topic, and returns the plain configuration, the
// transactional one and a plain client.
func txnSetup(t *testing.T, interval time.Duration) (cfg, tcfg Config, plain *kgo.Client) {
	t.Helper()
	cfg = testConfig(newCluster(t))
	cfg.TopicPartitions = 1
	cfg.CheckpointInterval = interval
	plain = newTestClient(t, cfg)
	ensure(t, plain, cfg, testTopic, cfg.withDefaults().CheckpointTopic)
	tcfg = cfg
	tcfg.TransactionalID = "sluice-s"
	return cfg, tcfg, plain
}

func TestExactlyOnceCommitsWithTheCheckpoint(t *testing.T) {
	cfg, tcfg, _ := txnSetup(t, time.Hour) // commits only where the test asks
	cl := newTestClient(t, tcfg)
	p := New(cl, tcfg, nil)
	if !p.Transactional() {
		t.Fatal("a producer with a transactional id is not transactional")
	}
	ctx := context.Background()
	produce := func(v string) {
		t.Helper()
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte(v), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	produce("a")
	produce("b")
	if err := p.Commit(ctx, cpAt(2)); err != nil { // a forced commit
		t.Fatal(err)
	}
	if cp, ok := p.Acked(); !ok || cp.Position.Offset != 2 {
		t.Errorf("Acked after the commit = %+v, %v", cp, ok)
	}
	produce("c")
	p.Mark(cpAt(3)) // within the interval: no commit
	produce("d")    // part of the next source transaction
	if cp, _ := p.Acked(); cp.Position.Offset != 2 {
		t.Errorf("Acked before the next commit = %+v, want offset 2", cp)
	}
	// A crash now: the open transaction is never committed.
	if got := committedValues(t, cfg, testTopic); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("read_committed sees %v, want [a b]", got)
	}
	if cp, ok := loaded(t, newTestClient(t, cfg), cfg, "s"); !ok || cp.Position.Offset != 2 {
		t.Errorf("stored checkpoint %+v, %v; want offset 2", cp, ok)
	}

	// A second producer with the same id fences the first; its start
	// aborts the open transaction.
	cl2 := newTestClient(t, tcfg)
	p2 := New(cl2, tcfg, nil)
	if err := p2.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte("c"), Value: []byte("c2")}); err != nil {
		t.Fatal(err)
	}
	if err := p2.Commit(ctx, cpAt(3)); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(4))
	if err := p.Commit(ctx, cpAt(4)); !errors.Is(err, ErrFenced) {
		t.Errorf("the fenced producer's commit = %v, want ErrFenced", err)
	}
	if got := committedValues(t, cfg, testTopic); len(got) != 3 || got[2] != "c2" {
		t.Errorf("read_committed sees %v, want [a b c2]", got)
	}
	if cp, ok := loaded(t, newTestClient(t, cfg), cfg, "s"); !ok || cp.Position.Offset != 3 {
		t.Errorf("stored checkpoint %+v, %v; want offset 3", cp, ok)
	}
	if err := p2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExactlyOnceCloseAbortsACutTransaction(t *testing.T) {
	cfg, tcfg, _ := txnSetup(t, time.Hour)
	p := New(newTestClient(t, tcfg), tcfg, nil)
	ctx := context.Background()
	for i, v := range []string{"a", "b"} {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
		p.Mark(cpAt(uint64(i + 1)))
	}
	// A source transaction cut short by the stop.
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte("half")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committedValues(t, cfg, testTopic); len(got) != 0 {
		t.Errorf("read_committed sees %v after a stop inside a source transaction, want nothing", got)
	}

	// A stop at a boundary commits the newest mark.
	p = New(newTestClient(t, tcfg), tcfg, nil)
	for i, v := range []string{"a", "b"} {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
		p.Mark(cpAt(uint64(i + 1)))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committedValues(t, cfg, testTopic); len(got) != 2 {
		t.Errorf("read_committed sees %v after a stop at a boundary, want [a b]", got)
	}
	if cp, ok := loaded(t, newTestClient(t, cfg), cfg, "s"); !ok || cp.Position.Offset != 2 {
		t.Errorf("stored checkpoint %+v, %v; want offset 2", cp, ok)
	}
}

func TestExactlyOnceRewind(t *testing.T) {
	cfg, tcfg, plain := txnSetup(t, time.Hour)
	p := New(newTestClient(t, tcfg), tcfg, nil)
	ctx := context.Background()
	produce := func(v string) {
		t.Helper()
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	produce("a")
	if err := p.Commit(ctx, cpAt(1)); err != nil {
		t.Fatal(err)
	}
	produce("b")
	p.Mark(cpAt(2)) // not committed yet
	produce("c")    // a source transaction cut by a lost connection
	cp, ok, err := p.Rewind(ctx)
	if err != nil || !ok || cp.Position.Offset != 1 {
		t.Fatalf("Rewind = %+v, %v, %v; want the commit at offset 1", cp, ok, err)
	}
	// The source reads b and c again.
	produce("b")
	p.Mark(cpAt(2))
	produce("c")
	if err := p.Commit(ctx, cpAt(3)); err != nil {
		t.Fatal(err)
	}
	if got := committedValues(t, cfg, testTopic); len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("read_committed sees %v, want [a b c] once each", got)
	}
	if err := p.Err(); err != nil {
		t.Errorf("the aborted records failed the producer: %v", err)
	}
	if _, _, err := New(plain, cfg, nil).Rewind(ctx); err == nil {
		t.Errorf("Rewind of an at-least-once producer succeeded")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestExactlyOnceIdleCommit: the last mark of a source that went quiet is
// committed soon, not one checkpoint interval (an hour here) later.
func TestExactlyOnceIdleCommit(t *testing.T) {
	_, tcfg, _ := txnSetup(t, time.Hour)
	p := New(newTestClient(t, tcfg), tcfg, nil)
	stop := runProducer(p)
	ctx := context.Background()
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(1)) // the source goes quiet after its first transaction
	waitFor(t, "the idle mark committed", func() bool { cp, ok := p.Acked(); return ok && cp.Position.Offset == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestExactlyOnceCommitInBackground: a commit at a mark does not stop the
// source. While Kafka has not confirmed it, records wait in the producer,
// within MaxBufferedRecords, and they reach Kafka in order in the next
// transaction.
func TestExactlyOnceCommitInBackground(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.TopicPartitions = 1
	cfg.CheckpointInterval = time.Millisecond
	ensure(t, newTestClient(t, cfg), cfg, testTopic, cfg.withDefaults().CheckpointTopic)
	tcfg := cfg
	tcfg.TransactionalID = "sluice-s"
	tcfg.MaxBufferedRecords = 2

	// The first commit's EndTxn waits until released.
	release := make(chan struct{})
	var held sync.Once
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		held.Do(func() { c.SleepControl(func() { <-release }) })
		return nil, nil, false
	})

	p := New(newTestClient(t, tcfg), tcfg, nil)
	ctx := context.Background()
	produce := func(v string) error {
		return p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte(v)})
	}
	if err := produce("a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // past the interval
	marked := make(chan struct{})
	go func() { p.Mark(cpAt(1)); close(marked) }()
	select {
	case <-marked:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Mark waited for the commit")
	}
	for _, v := range []string{"b", "c"} {
		if err := produce(v); err != nil {
			t.Fatal(err)
		}
	}
	p.Mark(cpAt(3)) // the commit still runs: kept for the next one
	if cp, ok := p.Acked(); ok {
		t.Errorf("Acked = %+v before Kafka confirmed the commit", cp)
	}
	// A third record exceeds MaxBufferedRecords held: it waits.
	third := make(chan error, 1)
	go func() { third <- produce("d") }()
	select {
	case err := <-third:
		t.Fatalf("a record beyond MaxBufferedRecords did not wait for the commit (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first commit", func() bool { cp, ok := p.Acked(); return ok && cp.Position.Offset == 1 })
	if err := p.Commit(ctx, cpAt(4)); err != nil {
		t.Fatal(err)
	}
	if got := committedValues(t, cfg, testTopic); strings.Join(got, ",") != "a,b,c,d" {
		t.Errorf("read_committed sees %v, want [a b c d] once each, in order", got)
	}
	if cp, ok := loaded(t, newTestClient(t, cfg), cfg, "s"); !ok || cp.Position.Offset != 4 {
		t.Errorf("stored checkpoint %+v, %v; want offset 4", cp, ok)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
