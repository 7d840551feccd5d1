package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice"
)

const testTopic = "db.orders"

// newCluster starts a one-broker kfake cluster; seed lists topics to create
// with two partitions and kfake's defaults (not compacted).
func newCluster(t testing.TB, seed ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(seed) > 0 {
		opts = append(opts, kfake.SeedTopics(2, seed...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testConfig(c *kfake.Cluster) Config {
	return Config{
		Brokers:            c.ListenAddrs(),
		TopicPartitions:    2,
		CheckpointInterval: 20 * time.Millisecond,
		ProducerLinger:     time.Millisecond,
	}
}

func newTestClient(t testing.TB, cfg Config) *kgo.Client {
	t.Helper()
	cl, err := NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ensure(t testing.TB, cl *kgo.Client, cfg Config, topics ...string) {
	t.Helper()
	if err := EnsureTopics(context.Background(), kadm.NewClient(cl), topics, cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

// keyFor returns a key that murmur2 sends to partition p of n.
func keyFor(p, n int) []byte {
	part := kgo.StickyKeyPartitioner(nil).ForTopic(testTopic)
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		if part.Partition(&kgo.Record{Key: k}, n) == p {
			return k
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runProducer starts p.Run and returns a function that stops it and
// returns its error.
func runProducer(p *Producer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return sync.OnceValue(func() error { cancel(); return <-done })
}

func loaded(t testing.TB, cl *kgo.Client, cfg Config, name string) (Checkpoint, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp, ok, err := LoadCheckpoint(ctx, cl, cfg.withDefaults().CheckpointTopic, name)
	if err != nil {
		t.Fatal(err)
	}
	return cp, ok
}

func TestNewClientUnreachable(t *testing.T) {
	start := time.Now()
	_, err := NewClient(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}})
	if err == nil {
		t.Fatal("NewClient succeeded against 127.0.0.1:1")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("NewClient took %s to fail", d)
	}
	for _, want := range []string{"kafka unreachable at 127.0.0.1:1", "refused", "check kafka.brokers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestNewClientBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Brokers: []string{"x:1"}, Compression: "brotli"},
		{Brokers: []string{"x:1"}, TopicConfigs: map[string]string{"cleanup.policy": "delete"}},
		{Brokers: []string{"x:1"}, MaxBufferedBytes: 1000, MaxMessageBytes: 2000},
	} {
		if _, err := NewClient(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "kafka.") {
			t.Errorf("config %+v: error %v, want one naming the kafka setting", cfg, err)
		}
	}
}

func TestEnsureTopics(t *testing.T) {
	c := newCluster(t, "legacy")
	cfg := testConfig(c)
	cfg.TopicPartitions = 3
	cfg.TopicConfigs = map[string]string{"min.cleanable.dirty.ratio": "0.1"}
	cl := newTestClient(t, cfg)
	adm := kadm.NewClient(cl)

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	if err := EnsureTopics(ctx, adm, []string{"db.a", "db.b", "legacy"}, cfg, logger); err != nil {
		t.Fatal(err)
	}
	// Again: everything exists now, nothing fails.
	if err := EnsureTopics(ctx, adm, []string{"db.a", "db.b", "legacy"}, cfg, logger); err != nil {
		t.Fatal(err)
	}

	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for topic, parts := range map[string]int{"db.a": 3, "db.b": 3, DefaultCheckpointTopic: 1} {
		if n := len(details[topic].Partitions); n != parts {
			t.Errorf("%s has %d partitions, want %d", topic, n, parts)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "db.a", DefaultCheckpointTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if got["cleanup.policy"] != "compact" {
			t.Errorf("%s cleanup.policy = %q, want compact", rc.Name, got["cleanup.policy"])
		}
		if got["min.cleanable.dirty.ratio"] != "0.1" {
			t.Errorf("%s min.cleanable.dirty.ratio = %q, want 0.1 from TopicConfigs", rc.Name, got["min.cleanable.dirty.ratio"])
		}
	}
	if !strings.Contains(logs.String(), "topic=legacy") || !strings.Contains(logs.String(), "will not remove deleted rows") {
		t.Errorf("no compaction warning for the existing delete-policy topic; log:\n%s", logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "not compacted") && !strings.Contains(line, "topic=legacy") {
			t.Errorf("warned about a topic sluice created compacted: %s", line)
		}
	}
}

// TestCheckpointWaitsForAcks holds back acknowledgements of partition 1
// while partition 0 acknowledges later records: the committed checkpoint
// must not pass the window that has a record in flight.
func TestCheckpointWaitsForAcks(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	p.acks.sealRecords = 1 // one window per mark
	stop := runProducer(p)
	defer stop()

	hold := c.Fault(kfake.Fault{
		Keys:       []kmsg.Key{kmsg.Produce},
		Topic:      testTopic,
		Partitions: []int32{1},
		Err:        kerr.NotEnoughReplicas, // retriable: franz-go keeps retrying
		Count:      -1,
	})
	ctx := context.Background()
	k0, k1 := keyFor(0, 2), keyFor(1, 2)
	mustProduce := func(key []byte) {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: key, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}

	mustProduce(k0)
	p.Mark(cpAt(1))
	waitFor(t, "first window acknowledged", func() bool { cp, ok := p.Acked(); return ok && cp.Position.Offset == 1 })
	waitFor(t, "first checkpoint written", func() bool { cp, ok := loaded(t, cl, cfg, "s"); return ok && cp.Position.Offset == 1 })

	mustProduce(k1) // held back
	p.Mark(cpAt(2))
	for i := uint64(3); i <= 5; i++ {
		mustProduce(k0) // acknowledged, out of order with the k1 record
		p.Mark(cpAt(i))
	}
	if err := hold.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Wait until partition 0 has the three later records.
	waitFor(t, "partition 0 acknowledged", func() bool {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, testTopic)
		return err == nil && ends[testTopic][0].Offset == 4
	})
	time.Sleep(5 * cfg.CheckpointInterval) // several checkpoint ticks
	if cp, _ := p.Acked(); cp.Position.Offset != 1 {
		t.Fatalf("acked checkpoint %d passed the unacknowledged window 2", cp.Position.Offset)
	}
	if cp, _ := loaded(t, cl, cfg, "s"); cp.Position.Offset != 1 {
		t.Fatalf("written checkpoint %d passed the unacknowledged window 2", cp.Position.Offset)
	}

	hold.Remove()
	waitFor(t, "all windows acknowledged", func() bool { cp, _ := p.Acked(); return cp.Position.Offset == 5 })
	waitFor(t, "last checkpoint written", func() bool { cp, _ := loaded(t, cl, cfg, "s"); return cp.Position.Offset == 5 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFatalProduceError: a record Kafka refuses for good stops the producer
// and the checkpoint stays at the last fully acknowledged window.
func TestFatalProduceError(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	p.acks.sealRecords = 1
	ctx := context.Background()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	k0, k1 := keyFor(0, 2), keyFor(1, 2)
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: k0, Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(1))
	waitFor(t, "first checkpoint written", func() bool { cp, ok := loaded(t, cl, cfg, "s"); return ok && cp.Position.Offset == 1 })

	c.Fault(kfake.Fault{
		Keys:       []kmsg.Key{kmsg.Produce},
		Topic:      testTopic,
		Partitions: []int32{1},
		Err:        kerr.TopicAuthorizationFailed,
	})
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: k1, Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(2))
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: k0, Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(3))

	var err error
	select {
	case err = <-runErr:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop on a fatal produce error")
	}
	var pe *ProduceError
	if !errors.As(err, &pe) || !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), "grant") {
		t.Fatalf("Run error = %v, want a *ProduceError for TOPIC_AUTHORIZATION_FAILED with a fix", err)
	}
	if !errors.Is(p.Err(), kerr.TopicAuthorizationFailed) {
		t.Fatalf("Err() = %v", p.Err())
	}
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: k0, Value: []byte("d")}); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Produce after failure = %v, want the failure", err)
	}
	if err := p.Close(ctx); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Close = %v, want the failure", err)
	}
	if cp, _ := p.Acked(); cp.Position.Offset != 1 {
		t.Fatalf("acked checkpoint %d, want 1", cp.Position.Offset)
	}
	if cp, _ := loaded(t, cl, cfg, "s"); cp.Position.Offset != 1 {
		t.Fatalf("written checkpoint %d, want 1", cp.Position.Offset)
	}
}

func TestRecordTooLarge(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.MaxMessageBytes = 1024
	cfg.MaxBufferedBytes = 4096
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	ctx := context.Background()
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte("k"), Value: make([]byte, 2000)}); err != nil {
		t.Fatal(err)
	}
	p.Mark(cpAt(1))
	err := p.Close(ctx)
	if !errors.Is(err, kerr.MessageTooLarge) || !strings.Contains(err.Error(), "raise kafka.max_message_bytes") {
		t.Fatalf("Close = %v, want MESSAGE_TOO_LARGE naming kafka.max_message_bytes", err)
	}
	if _, ok := p.Acked(); ok {
		t.Fatal("a checkpoint was acknowledged past a failed record")
	}
}

// TestProduceBlocksWhenFull: with MaxBufferedRecords unacknowledged records,
// Produce blocks until ctx ends, and nothing is committed past them.
func TestProduceBlocksWhenFull(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.MaxBufferedRecords = 2
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: testTopic, Err: kerr.NotEnoughReplicas, Count: -1})

	ctx := context.Background()
	for i := range 2 {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte{byte(i)}, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		p.Mark(cpAt(uint64(i + 1)))
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Produce(short, &kgo.Record{Topic: testTopic, Key: []byte{2}, Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Produce on a full buffer = %v, want it to block until the deadline", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("Produce returned after %s, before its context ended", d)
	}
	if _, ok := p.Acked(); ok {
		t.Fatal("checkpoint acknowledged while every record is held back")
	}
}

// TestCloseWritesFinal: Close flushes and writes the last checkpoint even
// though Run never ticked.
func TestCloseWritesFinal(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.CheckpointInterval = time.Hour
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	ctx := context.Background()
	for i := range 100 {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte{byte(i)}, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		p.Mark(cpAt(uint64(i + 1)))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp, ok := loaded(t, cl, cfg, "s")
	if !ok || cp.Position.Offset != 100 || cp.Phase != PhaseStream || cp.UpdatedAt.IsZero() {
		t.Fatalf("loaded %+v, %v; want offset 100 in phase stream with updated_at", cp, ok)
	}
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Value: []byte("v")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Produce after Close = %v, want ErrClosed", err)
	}
}

func TestLoadCheckpoint(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cl := newTestClient(t, cfg)
	ctx := context.Background()

	if _, ok := loaded(t, cl, cfg, "s"); ok {
		t.Fatal("checkpoint found in a topic that does not exist")
	}
	ensure(t, cl, cfg)
	if _, ok := loaded(t, cl, cfg, "s"); ok {
		t.Fatal("checkpoint found in an empty topic")
	}

	put := func(key string, cp *Checkpoint) {
		t.Helper()
		r := &kgo.Record{Topic: DefaultCheckpointTopic, Key: []byte(key)}
		if cp != nil {
			rec, err := checkpointRecord(DefaultCheckpointTopic, *cp)
			if err != nil {
				t.Fatal(err)
			}
			r = rec
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	snap := Checkpoint{Source: "s", Phase: PhaseSnapshot, Position: sluice.Position{File: "bin.000001", Offset: 4},
		SnapshotStart: sluice.Position{File: "bin.000001", Offset: 4, GTIDSet: "0-1-10"}, UpdatedAt: time.Now().UTC()}
	put("s", &snap)
	other := cpAt(99)
	other.Source = "other"
	put("other", &other)
	stream := cpAt(500)
	stream.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	put("s", &stream)
	put("other", &other)

	cp, ok := loaded(t, cl, cfg, "s")
	if !ok || cp.Position != stream.Position || cp.Phase != PhaseStream || !cp.SnapshotStart.IsZero() || !cp.UpdatedAt.Equal(stream.UpdatedAt) {
		t.Fatalf("loaded %+v, %v; want %+v", cp, ok, stream)
	}
	if _, ok := loaded(t, cl, cfg, "missing"); ok {
		t.Fatal("checkpoint found for a source that never wrote one")
	}

	// A tombstone resets the source.
	put("s", nil)
	if cp, ok := loaded(t, cl, cfg, "s"); ok {
		t.Fatalf("checkpoint %+v found after a tombstone", cp)
	}

	// Garbage is an error that names the way out.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: DefaultCheckpointTopic, Key: []byte("s"), Value: []byte("{")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCheckpoint(ctx, cl, DefaultCheckpointTopic, "s"); err == nil || !strings.Contains(err.Error(), "tombstone") {
		t.Fatalf("LoadCheckpoint of invalid JSON = %v, want an error naming the fix", err)
	}
}

func TestCheckpointValueFormat(t *testing.T) {
	cp := Checkpoint{Source: "s", Phase: PhaseSnapshot, Position: sluice.Position{File: "mysql-bin.000003", Offset: 154, GTIDSet: "0-1-100"},
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r, err := checkpointRecord("t", cp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"s","phase":"snapshot","position":{"file":"mysql-bin.000003","pos":154,"gtid_set":"0-1-100"},"updated_at":"2026-01-02T03:04:05Z"}`
	if string(r.Key) != "s" || string(r.Value) != want {
		t.Fatalf("record key %q value\n%s\nwant\n%s", r.Key, r.Value, want)
	}
	if _, err := checkpointRecord("t", Checkpoint{}); err == nil {
		t.Fatal("checkpoint without a source name encoded")
	}
}

func TestProduceFix(t *testing.T) {
	for err, want := range map[error]string{
		kerr.MessageTooLarge:            "kafka.max_message_bytes",
		kerr.TopicAuthorizationFailed:   "WRITE",
		kerr.ClusterAuthorizationFailed: "IDEMPOTENT_WRITE",
		kerr.InvalidTopicException:      "249 characters",
		kerr.UnknownTopicOrPartition:    "does not exist",
		kerr.InvalidRecord:              "primary key",
		kerr.CorruptMessage:             "primary key",
		kgo.ErrRecordTimeout:            "kafka.delivery_timeout",
		kerr.UnsupportedCompressionType: "kafka.compression",
		kerr.OutOfOrderSequenceNumber:   "replay",
		errors.New("something"):         "broker log",
	} {
		if got := produceFix("t", fmt.Errorf("wrapped: %w", err)); !strings.Contains(got, want) {
			t.Errorf("fix for %v = %q, want it to mention %q", err, got, want)
		}
	}
	if !Retriable(kerr.NotEnoughReplicas) || !Retriable(kerr.NotLeaderForPartition) {
		t.Error("retriable Kafka errors not classified as retriable")
	}
	if Retriable(kerr.CorruptMessage) || Retriable(kerr.MessageTooLarge) || Retriable(kgo.ErrRecordTimeout) {
		t.Error("final errors classified as retriable")
	}
}

// TestCommit: Commit returns only once the checkpoint is in Kafka, even with
// no checkpoint loop running.
func TestCommit(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.CheckpointInterval = time.Hour
	cl := newTestClient(t, cfg)
	ensure(t, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	ctx := context.Background()

	start := Checkpoint{Source: "s", Phase: PhaseSnapshot, Position: sluice.Position{File: "bin.000002", Offset: 4},
		SnapshotStart: sluice.Position{File: "bin.000002", Offset: 4}}
	if err := p.Commit(ctx, start); err != nil {
		t.Fatal(err)
	}
	if cp, ok := loaded(t, cl, cfg, "s"); !ok || cp.Phase != PhaseSnapshot || cp.SnapshotStart != start.SnapshotStart {
		t.Fatalf("after Commit loaded %+v, %v; want the snapshot start", cp, ok)
	}
	if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, cpAt(7)); err != nil {
		t.Fatal(err)
	}
	if cp, _ := loaded(t, cl, cfg, "s"); cp.Position.Offset != 7 {
		t.Fatalf("after second Commit loaded offset %d, want 7", cp.Position.Offset)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWithoutCompaction(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cl := newTestClient(t, cfg)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if err := EnsureTopics(ctx, adm, []string{"db.keyless"}, cfg.WithoutCompaction(), logger); err != nil {
		t.Fatal(err)
	}
	// The same topic ensured again, and a compacted one ensured as keyless.
	ensure(t, cl, cfg, "db.keyed")
	for _, topic := range []string{"db.keyless", "db.keyed"} {
		if err := EnsureTopics(ctx, adm, []string{topic}, cfg.WithoutCompaction(), logger); err != nil {
			t.Fatal(err)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "db.keyless", DefaultCheckpointTopic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db.keyless": "delete", DefaultCheckpointTopic: "compact"}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.MaybeValue() != want[rc.Name] {
				t.Errorf("%s cleanup.policy = %q, want %q", rc.Name, c.MaybeValue(), want[rc.Name])
			}
		}
	}
	out := logs.String()
	if strings.Contains(out, "topic=db.keyless") && strings.Contains(out, "not compacted") {
		t.Errorf("warned that a keyless topic is not compacted:\n%s", out)
	}
	if !strings.Contains(out, "refuses records without a key") || !strings.Contains(out, "topic=db.keyed") {
		t.Errorf("no warning for a compacted topic used by a keyless table:\n%s", out)
	}
}
