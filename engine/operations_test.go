package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice"
)

func gathered(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// series returns the value of name's series carrying the label pairs; ok
// false when there is none.
func series(m map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, s := range mf.Metric {
		have := map[string]string{}
		for _, lp := range s.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case s.Gauge != nil:
			return s.Gauge.GetValue(), true
		case s.Counter != nil:
			return s.Counter.GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsReadyAndHealthy(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	reg := prometheus.NewRegistry()
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet), WithMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := e.Ready(); ok || !strings.Contains(why, "idle") {
		t.Errorf("Ready before Run = %v, %q; want false naming the phase", ok, why)
	}
	if _, err := e.Pause(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Pause before Run: %v, want ErrNotRunning", err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	waitUntil(t, "ready", func() bool { ok, _ := e.Ready(); return ok })
	if ok, why := e.Healthy(); !ok {
		t.Errorf("Healthy while streaming: %s", why)
	}
	m := gathered(t, reg)
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sluice_events_total", []string{"table", "shop.items", "op", "create"}, 1},
		{"sluice_events_total", []string{"table", "shop.items", "op", "update"}, 1},
		{"sluice_events_total", []string{"table", "shop.items", "op", "delete"}, 1},
		{"sluice_snapshot_rows_scanned_total", []string{"table", "shop.items"}, 3},
		{"sluice_snapshot_tables", nil, 1},
		{"sluice_snapshot_tables_remaining", nil, 0},
		{"sluice_snapshot_completed", nil, 1},
		{"sluice_phase", []string{"phase", "streaming"}, 1},
		{"sluice_phase", []string{"phase", "snapshot"}, 0},
		{"sluice_ready", nil, 1},
		{"sluice_paused", nil, 0},
		{"sluice_lag_seconds", []string{"stage", "acknowledged"}, 0},
		{"sluice_stall_seconds", []string{"target", "kafka"}, 0},
		{"sluice_last_event_timestamp_seconds", nil, float64(time.Date(2026, 12, 3, 12, 0, 2, 0, time.UTC).Unix())},
	} {
		if got, ok := series(m, w.name, w.labels...); !ok || got != w.want {
			t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, got, ok, w.want)
		}
	}
	// The commit times are in the past: the read lag is their age.
	if lag, _ := series(m, "sluice_lag_seconds", "stage", "read"); lag < 60 {
		t.Errorf("read lag %v s, want the age of the fixed commit times", lag)
	}
	waitUntil(t, "a checkpoint write", func() bool {
		n, _ := series(gathered(t, reg), "sluice_checkpoint_writes_total")
		return n > 0
	})
	for _, name := range []string{"sluice_kafka_produce_records_total", "sluice_kafka_connects_total", "sluice_build_info"} {
		if _, ok := m[name]; !ok {
			var names []string
			for n := range m {
				names = append(names, n)
			}
			t.Errorf("%s is not gathered; gathered: %v", name, names)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.Ready(); ok {
		t.Errorf("Ready after the stop")
	}
}

// gatedSource streams the events sent on feed, each its own transaction.
type gatedSource struct {
	*memSource
	feed chan *sluice.Event
}

func (g *gatedSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	lsn := from.LSN
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-g.feed:
			lsn++
			ev.Source = sluice.Source{Connector: "mem", Name: "test", Position: sluice.Position{LSN: lsn}, CommitTime: time.Now()}
			if err := h.Change(ctx, ev); err != nil {
				return err
			}
			if err := h.Resumable(ctx, sluice.Position{LSN: lsn}); err != nil {
				return err
			}
		}
	}
}

func TestPauseHoldsTheSource(t *testing.T) {
	c := newCluster(t)
	src := &gatedSource{memSource: newMemSource(), feed: make(chan *sluice.Event)}
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := running(t, e)
	waitUntil(t, "streaming", func() bool { return e.Status().Phase == PhaseStreaming })
	ev := func(id int64) *sluice.Event {
		return &sluice.Event{Op: sluice.OpCreate, Table: src.table, After: sluice.Row{id, "x"}}
	}
	src.feed <- ev(10)
	waitUntil(t, "the first event", func() bool { return e.Status().Events == 1 })

	if changed, err := e.Pause(); !changed || err != nil {
		t.Fatalf("Pause = %v, %v", changed, err)
	}
	if changed, err := e.Pause(); changed || err != nil {
		t.Errorf("second Pause = %v, %v; want no change, no error", changed, err)
	}
	if st := e.Status(); !st.Paused {
		t.Errorf("Status after Pause: not paused")
	}
	if ok, why := e.Ready(); ok || !strings.Contains(why, "paused") {
		t.Errorf("Ready while paused = %v, %q", ok, why)
	}
	sent := make(chan struct{})
	go func() { src.feed <- ev(11); close(sent) }()
	<-sent // the source handed it over and now waits in the pipeline
	time.Sleep(200 * time.Millisecond)
	if n := e.Status().Events; n != 1 {
		t.Errorf("%d events while paused, want 1", n)
	}
	if changed, err := e.Resume(); !changed || err != nil {
		t.Fatalf("Resume = %v, %v", changed, err)
	}
	waitUntil(t, "the held event", func() bool { return e.Status().Events == 2 })
	if changed, _ := e.Resume(); changed {
		t.Errorf("second Resume changed something")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestKafkaOutageIsLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the stall detection")
	}
	c := newCluster(t)
	src := &gatedSource{memSource: newMemSource(), feed: make(chan *sluice.Event)}
	var logs syncBuffer
	e, err := New(testConfig(t, c, "--kafka.delivery_timeout=10m"), WithSource(src), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	// Stopping waits up to 30 s for the unacknowledged records; the test
	// does not.
	running(t, e)
	waitUntil(t, "ready", func() bool { ok, _ := e.Ready(); return ok })
	// The brokers stop answering produce requests while the group
	// coordinator answers: the lease holds, the records wait.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	src.feed <- &sluice.Event{Op: sluice.OpCreate, Table: src.table, After: sluice.Row{int64(9), "item 9"}}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "kafka is not acknowledging") {
		if time.Now().After(deadline) {
			t.Fatalf("no stall warning within 20 s of the brokers refusing records:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok, why := e.Ready(); ok || !strings.Contains(why, "kafka") {
		t.Errorf("Ready with Kafka refusing records = %v, %q", ok, why)
	}
	if st := e.Status(); len(st.Stalls) != 1 || st.Stalls[0].Target != "kafka" || st.Role != RoleActive {
		t.Errorf("stalls %+v, role %s; want kafka, active", st.Stalls, st.Role)
	}
}

// With the brokers gone, the group coordinator is gone too: the active
// instance gives the lease up within seconds, stops writing and waits as a
// standby, retrying Kafka, instead of failing.
func TestKafkaGoneEndsTheTerm(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	var logs syncBuffer
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "kafka is not answering: this instance gave its lease up") {
		if time.Now().After(deadline) {
			t.Fatalf("no standby retry within 20 s of closing the cluster:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok, why := e.Ready(); ok || !strings.Contains(why, "kafka has not answered") {
		t.Errorf("Ready with Kafka gone = %v, %q; want not ready, naming kafka", ok, why)
	}
	if st := e.Status(); st.Role != RoleStandby || len(st.Stalls) != 1 || st.Stalls[0].Target != "kafka" {
		t.Errorf("role %s, stalls %+v; want standby with a kafka stall", st.Role, st.Stalls)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned with Kafka gone: %v", err)
	default:
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestExactlyOnceRewindsToTheCommit(t *testing.T) {
	c := newCluster(t)
	src := &gatedSource{memSource: newMemSource(), feed: make(chan *sluice.Event)}
	e, err := New(testConfig(t, c, "--kafka.exactly_once=true", "--kafka.checkpoint_interval=1h"), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := running(t, e)
	waitUntil(t, "streaming", func() bool { return e.Status().Phase == PhaseStreaming })
	// The hand-off to streaming committed the snapshot with the stream's
	// start.
	if st := e.Status(); st.Acknowledged.LSN != snapshotLSN {
		t.Errorf("acknowledged %+v after the hand-off, want the snapshot's LSN", st.Acknowledged)
	}
	src.feed <- &sluice.Event{Op: sluice.OpCreate, Table: src.table, After: sluice.Row{int64(10), "x"}}
	waitUntil(t, "the event", func() bool { return e.Status().Events == 1 })
	// A reader that lost its connection asks where to read on: from the
	// last commit, its transaction aborted.
	at, ok := e.rewind()
	if !ok || at.LSN != snapshotLSN {
		t.Errorf("rewind = %+v, %v; want the committed snapshot LSN", at, ok)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// What a read_committed consumer sees: the snapshot's three rows, not
	// the aborted event.
	if recs := committedTopic(t, c, "sluice.shop.items"); len(recs) != 3 {
		t.Errorf("read_committed sees %d records, want the 3 snapshot rows: %v", len(recs), recs)
	}
}

func committedTopic(t *testing.T, c interface{ ListenAddrs() []string }, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}
