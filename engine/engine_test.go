package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
)

// memSource is an in-memory Source: a table of rows read by the snapshot
// at position 100, and committed transactions of one change each at
// positions 101, 102, … . It records each call the engine makes.
type memSource struct {
	table   *sluice.Table
	rows    []sluice.Row
	changes []*sluice.Event // change i commits at LSN 101+i

	// failSnapshotAfter stops the snapshot with an error after that many
	// rows (after began), as a crash mid-snapshot would; 0 reads all.
	failSnapshotAfter int
	// streamErr is returned by Stream once every change was handed on.
	streamErr error
	// retakeAt is the consistent point Resnapshot takes (default
	// snapshotLSN): the changes up to it go to its catch-up handler, and
	// rows should hold the table as of it.
	retakeAt uint64

	mu       sync.Mutex
	calls    []string
	streamed chan struct{} // closed once Stream handed on every change
	closeStr sync.Once
	statuses []Status // taken by the snapshot, one per row
	probe    func() Status
}

const snapshotLSN = 100

func newMemSource() *memSource {
	t := &sluice.Table{Database: "shop", Name: "items", PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "name", Kind: sluice.KindString, SourceType: "text", Nullable: true},
	}}
	m := &memSource{table: t, streamed: make(chan struct{})}
	for i := 1; i <= 3; i++ {
		m.rows = append(m.rows, sluice.Row{int64(i), fmt.Sprintf("item %d", i)})
	}
	m.changes = []*sluice.Event{
		{Op: sluice.OpCreate, Table: t, After: sluice.Row{int64(4), "item 4"}},
		{Op: sluice.OpUpdate, Table: t, Before: sluice.Row{int64(1), "item 1"}, After: sluice.Row{int64(1), "item one"}},
		{Op: sluice.OpDelete, Table: t, Before: sluice.Row{int64(2), "item 2"}},
	}
	return m
}

func (m *memSource) call(format string, args ...any) {
	m.mu.Lock()
	m.calls = append(m.calls, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *memSource) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *memSource) Prepare(_ context.Context, resuming bool) error {
	m.call("Prepare(resuming=%v)", resuming)
	return nil
}

func (m *memSource) CanResume(_ context.Context, pos sluice.Position) error {
	m.call("CanResume(%d)", pos.LSN)
	return nil
}

func (m *memSource) read(ctx context.Context, h Handler, at uint64) error {
	for i, r := range m.rows {
		if m.failSnapshotAfter > 0 && i == m.failSnapshotAfter {
			return errors.New("snapshot connection lost")
		}
		ev := &sluice.Event{Op: sluice.OpRead, Table: m.table, After: r,
			Source: sluice.Source{Connector: "mem", Name: "test", Snapshot: true, Position: sluice.Position{LSN: at}}}
		if err := h.Change(ctx, ev); err != nil {
			return err
		}
		if m.probe != nil {
			m.statuses = append(m.statuses, m.probe())
		}
	}
	return nil
}

func (m *memSource) Snapshot(ctx context.Context, h Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error) {
	m.call("Snapshot")
	at := sluice.Position{LSN: snapshotLSN}
	if err := began(ctx, at); err != nil {
		return sluice.Position{}, err
	}
	return at, m.read(ctx, h, snapshotLSN)
}

func (m *memSource) Resnapshot(ctx context.Context, at sluice.Position, catchUp, h Handler) (sluice.Position, error) {
	to := max(m.retakeAt, snapshotLSN)
	m.call("Resnapshot(%d→%d)", at.LSN, to)
	for i, ev := range m.changes {
		lsn := uint64(snapshotLSN + 1 + i)
		if lsn <= at.LSN || lsn > to {
			continue
		}
		ev := *ev
		ev.Source = sluice.Source{Connector: "mem", Name: "test", Position: sluice.Position{LSN: lsn}}
		if err := catchUp.Change(ctx, &ev); err != nil {
			return sluice.Position{}, err
		}
		if err := catchUp.Resumable(ctx, sluice.Position{LSN: lsn}); err != nil {
			return sluice.Position{}, err
		}
	}
	return sluice.Position{LSN: to}, m.read(ctx, h, to)
}

func (m *memSource) Position(context.Context) (sluice.Position, string, error) {
	m.call("Position")
	return sluice.Position{LSN: snapshotLSN}, "the memory's current position", nil
}

func (m *memSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	m.call("Stream(%d)", from.LSN)
	for i, ev := range m.changes {
		lsn := uint64(snapshotLSN + 1 + i)
		if lsn <= from.LSN {
			continue
		}
		ev := *ev
		ev.Source = sluice.Source{Connector: "mem", Name: "test", Position: sluice.Position{LSN: lsn},
			CommitTime: time.Date(2026, 12, 3, 12, 0, i, 0, time.UTC)}
		if err := h.Change(ctx, &ev); err != nil {
			return err
		}
		if err := h.Resumable(ctx, sluice.Position{LSN: lsn}); err != nil {
			return err
		}
	}
	m.closeStr.Do(func() { close(m.streamed) })
	if m.streamErr != nil {
		return m.streamErr
	}
	<-ctx.Done()
	return nil
}

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testConfig(t *testing.T, c *kfake.Cluster, extra ...string) config.Config {
	t.Helper()
	args := append([]string{"--name=test", "--source.type=postgresql", "--source.user=sluice", "--source.database=shop",
		"--tables.include=shop.*", "--format=json", "--kafka.brokers=" + strings.Join(c.ListenAddrs(), ","),
		"--kafka.checkpoint_interval=20ms", "--kafka.linger=1ms", "--log.level=debug"}, extra...)
	cfg, err := config.Load("", args, nil)
	if err != nil {
		t.Fatal(err)
	}
	return *cfg
}

var quiet = slog.New(slog.DiscardHandler)

// running starts e.Run and returns a function that stops it and returns
// Run's error.
func running(t *testing.T, e *Engine) (stop func() error, done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- e.Run(ctx) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-ch:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of its context being cancelled")
			return nil
		}
	}, ch
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitStreamed(t *testing.T, m *memSource, done <-chan error) {
	t.Helper()
	select {
	case <-m.streamed:
	case err := <-done:
		t.Fatalf("Run returned before streaming: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatalf("the source was not streamed within 15s; calls %v", m.Calls())
	}
}

func checkpoint(t *testing.T, c *kfake.Cluster, name string) (sink.Checkpoint, bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp, ok, err := sink.LoadCheckpoint(ctx, cl, "sluice.checkpoints", name)
	if err != nil {
		t.Fatal(err)
	}
	return cp, ok
}

// topicRecords reads every record of topic: key, value ("" for a
// tombstone) and the op of the value.
func topicRecords(t *testing.T, c *kfake.Cluster, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				out = append(out, string(r.Key)+" tombstone")
				return
			}
			var v struct {
				Op string `json:"op"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("record value %q: %v", r.Value, err)
			}
			out = append(out, string(r.Key)+" "+v.Op)
		})
	}
}

// TestFirstStartSnapshotsThenStreams: without a checkpoint the engine
// stores the snapshot's start before its first record, snapshots, streams
// from the snapshot's point and, when cancelled, stops cleanly with the
// last acknowledged position in the checkpoint topic.
func TestFirstStartSnapshotsThenStreams(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Status(); st.Phase != PhaseIdle || st.Name != "test" || st.SourceType != "postgresql" {
		t.Errorf("before Run: %+v", st)
	}
	src.probe = e.Status
	stop, done := running(t, e)
	waitStreamed(t, src, done)

	// During the snapshot, Status showed the table's rows as they went.
	for i, st := range src.statuses {
		if st.Phase != PhaseSnapshot || !st.Snapshot.Running || len(st.Snapshot.Tables) != 1 ||
			unstarted(st.Snapshot.Tables)[0] != (TableProgress{Table: "shop.items", Rows: int64(i + 1)}) {
			t.Errorf("status after snapshot row %d: %+v", i+1, st)
		}
	}
	if len(src.statuses) != 3 {
		t.Errorf("%d statuses taken during the snapshot, want 3", len(src.statuses))
	}
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	st := e.Status()
	if st.Phase != PhaseStreaming || st.Read.LSN != 103 || st.Events != 3 || st.Snapshot.Running || st.Snapshot.Finished.IsZero() ||
		!slices.Equal(unstarted(st.Snapshot.Tables), []TableProgress{{Table: "shop.items", Rows: 3, Done: true}}) ||
		!st.LastEventTime.Equal(time.Date(2026, 12, 3, 12, 0, 2, 0, time.UTC)) || st.Err != nil {
		t.Errorf("while streaming: %+v", st)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v, want nil (a clean stop)", err)
	}
	if st := e.Status(); st.Phase != PhaseStopped {
		t.Errorf("after Run: phase %s", st.Phase)
	}
	if got, want := src.Calls(), []string{"Prepare(resuming=false)", "Snapshot", "Stream(100)"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	cp, ok := checkpoint(t, c, "test")
	if !ok || cp.Phase != sink.PhaseStream || cp.Position.LSN != 103 {
		t.Errorf("checkpoint after stop: %+v (found %v), want phase stream at 103", cp, ok)
	}
	got := topicRecords(t, c, "sluice.shop.items")
	want := []string{`{"id":1} r`, `{"id":2} r`, `{"id":3} r`, `{"id":4} c`, `{"id":1} u`, `{"id":2} d`, `{"id":2} tombstone`}
	if !slices.Equal(got, want) {
		t.Errorf("topic records:\n got %q\nwant %q", got, want)
	}
	if err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already called") {
		t.Errorf("second Run: %v", err)
	}
}

// TestResumesFromStreamCheckpoint: with a stream checkpoint the engine
// checks that the source can resume there and streams on, no snapshot.
func TestResumesFromStreamCheckpoint(t *testing.T) {
	c := newCluster(t)
	first := newMemSource()
	first.changes = first.changes[:1]
	e, err := New(testConfig(t, c), WithSource(first), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, first, done)
	waitUntil(t, "position 101 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 101 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	second := newMemSource()
	e, err = New(testConfig(t, c), WithSource(second), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done = running(t, e)
	waitStreamed(t, second, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := second.Calls(), []string{"Prepare(resuming=true)", "CanResume(101)", "Stream(101)"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if cp, _ := checkpoint(t, c, "test"); cp.Position.LSN != 103 {
		t.Errorf("checkpoint %+v, want 103", cp)
	}
	if st := e.Status(); !st.Snapshot.Started.IsZero() || st.Events != 2 {
		t.Errorf("resumed run: %+v", st)
	}
}

// TestRetakesInterruptedSnapshot: a run that fails mid-snapshot leaves a
// snapshot checkpoint; the next run takes a new consistent point, passes
// on only the deletions between the two points, copies the tables as of
// the new point and streams from it: no key's version goes back.
func TestRetakesInterruptedSnapshot(t *testing.T) {
	c := newCluster(t)
	first := newMemSource()
	first.failSnapshotAfter = 2
	e, err := New(testConfig(t, c), WithSource(first), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "snapshot connection lost") {
		t.Fatalf("Run: %v, want the snapshot's error", err)
	}
	if st := e.Status(); st.Phase != PhaseFailed || !errors.Is(st.Err, err) || st.Snapshot.Running || !st.Snapshot.Finished.IsZero() ||
		!slices.Equal(unstarted(st.Snapshot.Tables), []TableProgress{{Table: "shop.items", Rows: 2}}) {
		t.Errorf("after the failed snapshot: %+v", st)
	}
	if cp, ok := checkpoint(t, c, "test"); !ok || cp.Phase != sink.PhaseSnapshot || cp.SnapshotStart.LSN != snapshotLSN {
		t.Errorf("checkpoint after the failed snapshot: %+v (found %v)", cp, ok)
	}

	second := newMemSource()
	second.retakeAt = snapshotLSN + 2 // after the create of 4 and the update of 1
	second.rows = []sluice.Row{{int64(1), "item one"}, {int64(2), "item 2"}, {int64(3), "item 3"}, {int64(4), "item 4"}}
	second.changes[2] = &sluice.Event{Op: sluice.OpUpdate, Table: second.table, Before: sluice.Row{int64(2), "item 2"}, After: sluice.Row{int64(2), "item two"}}
	second.changes = append(second.changes, &sluice.Event{Op: sluice.OpDelete, Table: second.table, Before: sluice.Row{int64(3), "item 3"}})
	// A primary-key update before the new point: its old key is deleted.
	second.changes[0] = &sluice.Event{Op: sluice.OpUpdate, Table: second.table, Before: sluice.Row{int64(5), "item 5"}, After: sluice.Row{int64(4), "item 4"}}
	e, err = New(testConfig(t, c), WithSource(second), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, second, done)
	waitUntil(t, "position 104 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 104 })
	if st := e.Status(); !st.Snapshot.Resumed || st.Snapshot.Finished.IsZero() {
		t.Errorf("retaken snapshot: %+v", st.Snapshot)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := second.Calls(), []string{"Prepare(resuming=false)", "CanResume(100)", "Resnapshot(100→102)", "Stream(102)"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	// The first run's two rows; the catch-up's one deletion (the old key
	// 5; the update of 1 is dropped, the new copy has it); the new copy;
	// the stream after 102.
	got := topicRecords(t, c, "sluice.shop.items")
	want := []string{`{"id":1} r`, `{"id":2} r`, `{"id":5} d`, `{"id":5} tombstone`,
		`{"id":1} r`, `{"id":2} r`, `{"id":3} r`, `{"id":4} r`, `{"id":2} u`, `{"id":3} d`, `{"id":3} tombstone`}
	if !slices.Equal(got, want) {
		t.Errorf("topic records:\n got %q\nwant %q", got, want)
	}
}

// TestRetakeInterruptedAgain: a retaken snapshot that is interrupted in
// turn moves the snapshot checkpoint to where its catch-up got, so the
// next retake catches up from there and passes no deletion on twice.
func TestRetakeInterruptedAgain(t *testing.T) {
	c := newCluster(t)
	first := newMemSource()
	first.failSnapshotAfter = 2
	e, err := New(testConfig(t, c), WithSource(first), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err == nil {
		t.Fatal("the first run's snapshot did not fail")
	}

	second := newMemSource()
	second.retakeAt = snapshotLSN + 2
	// A primary-key update before the second run's point: the old key 5
	// is deleted by its catch-up.
	second.changes[0] = &sluice.Event{Op: sluice.OpUpdate, Table: second.table, Before: sluice.Row{int64(5), "item 5"}, After: sluice.Row{int64(4), "item 4"}}
	second.failSnapshotAfter = 1
	if e, err = New(testConfig(t, c), WithSource(second), WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err == nil {
		t.Fatal("the second run's snapshot did not fail")
	}
	if cp, ok := checkpoint(t, c, "test"); !ok || cp.Phase != sink.PhaseSnapshot || cp.SnapshotStart.LSN != snapshotLSN+2 || cp.Position.LSN != snapshotLSN+2 {
		t.Errorf("checkpoint after the interrupted retake: %+v (found %v), want a snapshot checkpoint at the catch-up's last boundary %d", cp, ok, snapshotLSN+2)
	}

	third := newMemSource()
	third.retakeAt = snapshotLSN + 3
	third.changes[0] = second.changes[0]
	third.rows = []sluice.Row{{int64(1), "item one"}, {int64(3), "item 3"}, {int64(4), "item 4"}}
	if e, err = New(testConfig(t, c), WithSource(third), WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, third, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := third.Calls(), []string{"Prepare(resuming=false)", "CanResume(102)", "Resnapshot(102→103)", "Stream(103)"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	deletes := map[string]int{}
	for _, r := range topicRecords(t, c, "sluice.shop.items") {
		if strings.HasSuffix(r, " d") {
			deletes[r]++
		}
	}
	if want := map[string]int{`{"id":5} d`: 1, `{"id":2} d`: 1}; !maps.Equal(deletes, want) {
		t.Errorf("delete records %v, want %v: each deletion once\n%q", deletes, want, topicRecords(t, c, "sluice.shop.items"))
	}
}

// TestSnapshotModeNever: without a checkpoint and with snapshot.mode never
// the engine streams from the source's current position.
func TestSnapshotModeNever(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	e, err := New(testConfig(t, c, "--snapshot.mode=never"), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	waitUntil(t, "position 103 acknowledged", func() bool { return e.Status().Acknowledged.LSN == 103 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := src.Calls(), []string{"Prepare(resuming=false)", "Position", "Stream(100)"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if got := topicRecords(t, c, "sluice.shop.items"); len(got) != 4 || got[0] != `{"id":4} c` {
		t.Errorf("records %q: want the stream's only", got)
	}
}

// TestFatalSourceErrorStopsRun: the source's fatal error stops Run, which
// returns it after committing what Kafka acknowledged.
func TestFatalSourceErrorStopsRun(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	src.streamErr = errors.New("binlog purged")
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background())
	if !errors.Is(err, src.streamErr) {
		t.Fatalf("Run: %v, want the stream's error", err)
	}
	if st := e.Status(); st.Phase != PhaseFailed || !errors.Is(st.Err, src.streamErr) {
		t.Errorf("status %+v", st)
	}
	if cp, _ := checkpoint(t, c, "test"); cp.Phase != sink.PhaseStream || cp.Position.LSN != 103 {
		t.Errorf("checkpoint %+v, want what was acknowledged before the error (103)", cp)
	}
}

// TestNewChecksBeforeConnecting: New reports configuration problems
// without any connection, and Run reports an unreachable Kafka.
func TestNewChecksBeforeConnecting(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(t, c)
	cfg.Kafka.MaxBufferedBytes = 100
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "kafka.max_buffered_bytes") {
		t.Errorf("New with max_buffered_bytes 100: %v", err)
	}
	cfg = testConfig(t, c)
	cfg.Source.Type = "oracle"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "source.type") {
		t.Errorf("New with source.type oracle: %v", err)
	}
	if _, err := New(testConfig(t, c), WithHooks(42)); err == nil || !strings.Contains(err.Error(), "hook int") {
		t.Errorf("New with a hook that is none: %v", err)
	}
}

type recordingHook struct {
	mu         sync.Mutex
	phases     []Phase
	events     int
	resumables []uint64
}

func (h *recordingHook) OnPhase(p Phase) { h.mu.Lock(); h.phases = append(h.phases, p); h.mu.Unlock() }
func (h *recordingHook) OnEvent(*sluice.Event) {
	h.mu.Lock()
	h.events++
	h.mu.Unlock()
}
func (h *recordingHook) OnResumable(p sluice.Position) {
	h.mu.Lock()
	h.resumables = append(h.resumables, p.LSN)
	h.mu.Unlock()
}

// TestHooks: every hook interface a hook implements is called.
func TestHooks(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	h := &recordingHook{}
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet), WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if want := []Phase{PhaseStarting, PhaseStandby, PhaseStarting, PhaseSnapshot, PhaseStreaming, PhaseStopping, PhaseStopped}; !slices.Equal(h.phases, want) {
		t.Errorf("phases %v, want %v", h.phases, want)
	}
	if h.events != 6 || !slices.Equal(h.resumables, []uint64{100, 101, 102, 103}) {
		t.Errorf("events %d (want 6), resumables %v (want 100…103)", h.events, h.resumables)
	}
}

// unstarted returns tables with their start times zeroed, for comparing.
func unstarted(tables []TableProgress) []TableProgress {
	out := slices.Clone(tables)
	for i := range out {
		if out[i].Started.IsZero() {
			panic("table progress without a start time")
		}
		out[i].Started = time.Time{}
	}
	return out
}
