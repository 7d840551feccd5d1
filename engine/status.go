package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Phase is what an engine is doing.
type Phase string

// The phases, in the order a run passes through them.
const (
	// PhaseIdle: Run has not been called yet.
	PhaseIdle Phase = "idle"
	// PhaseStarting: connecting, checking the source, reading the
	// checkpoint.
	PhaseStarting Phase = "starting"
	// PhaseSnapshot: copying the existing rows.
	PhaseSnapshot Phase = "snapshot"
	// PhaseStreaming: following the replication stream.
	PhaseStreaming Phase = "streaming"
	// PhaseStopping: waiting for Kafka to acknowledge what was produced and
	// writing the final checkpoint.
	PhaseStopping Phase = "stopping"
	// PhaseStopped: Run returned after a clean stop.
	PhaseStopped Phase = "stopped"
	// PhaseFailed: Run returned an error; Status.Err holds it.
	PhaseFailed Phase = "failed"
)

// Status is a snapshot of an engine's state, safe to keep and read after
// the call. Its zero positions mean "none yet".
type Status struct {
	// Name is the source name.
	Name string
	// SourceType is mysql or postgresql.
	SourceType string
	Phase      Phase
	// Started is when Run began; zero before.
	Started time.Time
	// Snapshot is the progress of the snapshot this run took, if any.
	Snapshot SnapshotStatus
	// Read is the last transaction boundary the source reached: every
	// change before it was handed to the producer.
	Read sluice.Position
	// Committed is the newest position whose records Kafka acknowledged,
	// all before it included: where a restart would resume. The checkpoint
	// topic has it at most kafka.checkpoint_interval later.
	Committed sluice.Position
	// Events counts the stream's changes handed to the producer (snapshot
	// rows are in Snapshot).
	Events int64
	// LastEventTime is the source's commit time of the last streamed
	// change; zero before the first.
	LastEventTime time.Time
	// Err is the error that stopped the engine, when Phase is PhaseFailed.
	Err error
}

// SnapshotStatus is the progress of a snapshot.
type SnapshotStatus struct {
	// Running is true while the rows are being copied.
	Running bool
	// Resumed is true when this snapshot repeats one that an earlier run
	// began and did not finish.
	Resumed bool
	// Started and Finished bound the copy; Finished is zero while it runs
	// or when it failed.
	Started, Finished time.Time
	// Tables lists each table read so far with its row count, in the order
	// they were started.
	Tables []TableProgress
}

// TableProgress is one table's part of a snapshot.
type TableProgress struct {
	// Table is db.table (schema.table on PostgreSQL).
	Table string
	// Rows counts the rows handed to the producer.
	Rows int64
	// Done is true once the table was read to the end.
	Done bool
}

// tracker holds the live state behind Status. The source's goroutine
// updates it; Status reads it from any goroutine. The per-event updates are
// atomic, so the hot path takes no lock.
type tracker struct {
	name, sourceType string

	mu        sync.Mutex
	phase     Phase
	started   time.Time
	snap      SnapshotStatus
	tables    []*tableProgress
	lastRead  sluice.Position
	err       error
	committed func() (sluice.Position, bool)

	events    atomic.Int64
	lastEvent atomic.Int64 // UnixNano of the last commit time, 0 for none
}

type tableProgress struct {
	name string
	rows atomic.Int64
	done bool // under tracker.mu
}

func newTracker(name, sourceType string) *tracker {
	return &tracker{name: name, sourceType: sourceType, phase: PhaseIdle}
}

func (t *tracker) setPhase(p Phase) {
	t.mu.Lock()
	t.phase = p
	if p == PhaseStarting {
		t.started = time.Now()
	}
	t.mu.Unlock()
}

func (t *tracker) setCommitted(f func() (sluice.Position, bool)) {
	t.mu.Lock()
	t.committed = f
	t.mu.Unlock()
}

func (t *tracker) fail(err error) {
	t.mu.Lock()
	t.phase, t.err = PhaseFailed, err
	t.mu.Unlock()
}

func (t *tracker) snapshotStarted(resumed bool) {
	t.mu.Lock()
	t.snap = SnapshotStatus{Running: true, Resumed: resumed, Started: time.Now()}
	t.tables = nil
	t.mu.Unlock()
}

// snapshotEnded marks the snapshot finished (ok) or stopped.
func (t *tracker) snapshotEnded(ok bool) {
	t.mu.Lock()
	t.snap.Running = false
	if ok {
		t.snap.Finished = time.Now()
		for _, tp := range t.tables {
			tp.done = true
		}
	}
	t.mu.Unlock()
}

// snapshotTable returns the progress of table, starting it when new; the
// tables before it are done, since a snapshot reads one table after the
// other.
func (t *tracker) snapshotTable(table string) *tableProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tp := range t.tables {
		if tp.name == table {
			return tp
		}
	}
	for _, tp := range t.tables {
		tp.done = true
	}
	tp := &tableProgress{name: table}
	t.tables = append(t.tables, tp)
	return tp
}

func (t *tracker) event(commit time.Time) {
	t.events.Add(1)
	if !commit.IsZero() {
		t.lastEvent.Store(commit.UnixNano())
	}
}

func (t *tracker) read(pos sluice.Position) {
	t.mu.Lock()
	t.lastRead = pos
	t.mu.Unlock()
}

func (t *tracker) status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Status{Name: t.name, SourceType: t.sourceType, Phase: t.phase, Started: t.started,
		Snapshot: t.snap, Read: t.lastRead, Err: t.err, Events: t.events.Load()}
	s.Snapshot.Tables = make([]TableProgress, len(t.tables))
	for i, tp := range t.tables {
		s.Snapshot.Tables[i] = TableProgress{Table: tp.name, Rows: tp.rows.Load(), Done: tp.done}
	}
	if ns := t.lastEvent.Load(); ns != 0 {
		s.LastEventTime = time.Unix(0, ns).UTC()
	}
	if t.committed != nil {
		if pos, ok := t.committed(); ok {
			s.Committed = pos
		}
	}
	return s
}
