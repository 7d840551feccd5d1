package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/buildinfo"
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
	// PhaseStandby: another instance with the same name holds the lease;
	// this one waits to take over (Status.Role is standby).
	PhaseStandby Phase = "standby"
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

// Role is what an instance is doing for its name: writing, or waiting to.
type Role string

// The roles.
const (
	RoleActive  Role = "active"
	RoleStandby Role = "standby"
)

// Status is a snapshot of an engine's state, safe to keep and read after
// the call. Its zero positions mean "none yet".
type Status struct {
	// Name is the source name.
	Name string
	// SourceType is mysql or postgresql.
	SourceType string
	Phase      Phase
	// Paused is true between [Engine.Pause] and [Engine.Resume].
	Paused bool
	// Role is active while this instance holds the lease on its name and
	// writes, standby while it waits for the lease, empty before Run
	// asked for it. RoleSince is when the role began; Terms counts the
	// times this Run became active.
	Role      Role
	RoleSince time.Time
	Terms     int
	// Started is when Run began; zero before.
	Started time.Time
	// Version is sluice's version; ConfigDigest is the SHA-256 of the
	// configuration with its secrets redacted, so two instances can be
	// told apart without showing either configuration.
	Version, ConfigDigest string
	// Snapshot is the progress of the snapshot this run took, if any.
	Snapshot SnapshotStatus
	// Read is the last transaction boundary the source reached: every
	// change before it was handed to the producer.
	Read sluice.Position
	// Acknowledged is the newest position whose records Kafka
	// acknowledged, all before it included: where a restart would resume
	// once it is written. AcknowledgedCommitTime is the source's commit
	// time of its last transaction, when known.
	Acknowledged           sluice.Position
	AcknowledgedCommitTime time.Time
	// Committed is the position last written to the checkpoint topic (at
	// most kafka.checkpoint_interval behind Acknowledged), CommittedAt
	// when.
	Committed   sluice.Position
	CommittedAt time.Time
	// ReadLag is how far the source's commit time of the last transaction
	// read was behind the clock when it was read. AcknowledgedLag is how
	// far the newest acknowledged transaction is behind now: 0 while Kafka
	// acknowledged everything read, growing while records wait.
	ReadLag, AcknowledgedLag time.Duration
	// Behind is how many bytes of the server's log lie ahead of sluice:
	// binlog bytes from Read to the server's current position, or WAL
	// bytes from the slot's confirmed_flush_lsn to pg_current_wal_lsn();
	// -1 while unknown. It is measured every 10 s while streaming.
	Behind int64
	// Events counts the stream's changes handed to the producer (snapshot
	// rows are in Snapshot).
	Events int64
	// LastEventTime is the source's commit time of the last streamed
	// change; zero before the first.
	LastEventTime time.Time
	// Stalls lists what is unreachable or not answering right now: Kafka,
	// the schema registry, the source.
	Stalls []Stall
	// Err is the error that stopped the engine, when Phase is PhaseFailed.
	Err error
}

// Stall is a dependency that has not answered for a while.
type Stall struct {
	// Target is kafka, registry or source.
	Target string
	// Since is when it stopped answering.
	Since time.Time
	// LastError is the newest error seen from it, if any.
	LastError string
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
	// Tables lists each table of the snapshot with its progress: every
	// table the snapshot will copy as soon as the source listed them, in
	// the order they are copied.
	Tables []TableProgress
}

// TableProgress is one table's part of a snapshot.
type TableProgress struct {
	// Table is db.table (schema.table on PostgreSQL).
	Table string
	// Rows counts the rows handed to the producer.
	Rows int64
	// EstimatedRows is the server's estimate of the table's rows when the
	// snapshot began (information_schema.TABLES.TABLE_ROWS,
	// pg_class.reltuples): a guide for progress, not a count; 0 when the
	// server has none.
	EstimatedRows int64
	// Started is when its first row arrived; zero before.
	Started time.Time
	// Done is true once the table was read to the end.
	Done bool
}

// tracker holds the live state behind Status. The source's goroutine
// updates it; Status reads it from any goroutine. The per-event updates are
// atomic, so the hot path takes no lock.
type tracker struct {
	name, sourceType, digest string

	mu          sync.Mutex
	phase       Phase
	role        Role
	roleSince   time.Time
	terms       int
	started     time.Time
	snap        SnapshotStatus
	tables      []*tableProgress
	lastRead    sluice.Position
	readCommit  time.Time // commit time of the last transaction read
	firstCommit time.Time // of the first transaction read by this run
	readLag     time.Duration
	err         error
	acked       func() (sluice.Position, time.Time, bool)
	committed   func() (sluice.Position, time.Time)
	stalls      func() []Stall
	behind      int64
	streamingAt time.Time
	paused      atomic.Bool
	events      atomic.Int64
	lastEvent   atomic.Int64 // UnixNano of the last commit time, 0 for none
}

type tableProgress struct {
	name      string
	estimated int64
	rows      atomic.Int64
	started   time.Time // under tracker.mu
	done      bool      // under tracker.mu
}

func newTracker(name, sourceType, digest string) *tracker {
	return &tracker{name: name, sourceType: sourceType, digest: digest, phase: PhaseIdle, behind: -1}
}

func (t *tracker) setPhase(p Phase) {
	t.mu.Lock()
	t.phase = p
	switch p {
	case PhaseStarting:
		t.started = time.Now()
	case PhaseStreaming:
		t.streamingAt = time.Now()
	}
	t.mu.Unlock()
}

// setSources sets where Status reads the acknowledged and committed
// positions and the stalls from.
func (t *tracker) setSources(acked func() (sluice.Position, time.Time, bool), committed func() (sluice.Position, time.Time), stalls func() []Stall) {
	t.mu.Lock()
	t.acked, t.committed, t.stalls = acked, committed, stalls
	t.mu.Unlock()
}

// setRole records the instance's role; each move to active is a term.
func (t *tracker) setRole(r Role) {
	t.mu.Lock()
	if t.role != r {
		t.role, t.roleSince = r, time.Now()
		if r == RoleActive {
			t.terms++
		}
	}
	t.mu.Unlock()
}

func (t *tracker) getPhase() Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.phase
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

// snapshotPlan lists the tables the snapshot will copy, with the server's
// row estimates, before the first row.
func (t *tracker) snapshotPlan(tables []sluice.TableEstimate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, te := range tables {
		if t.find(te.Table) == nil {
			t.tables = append(t.tables, &tableProgress{name: te.Table, estimated: int64(min(te.Rows, 1<<62))})
		}
	}
}

func (t *tracker) find(table string) *tableProgress {
	for _, tp := range t.tables {
		if tp.name == table {
			return tp
		}
	}
	return nil
}

// snapshotTable returns the progress of table, starting it; the tables
// started before it are done, since a snapshot reads one table after the
// other.
func (t *tracker) snapshotTable(table string) *tableProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	tp := t.find(table)
	if tp != nil && !tp.started.IsZero() {
		return tp
	}
	for _, o := range t.tables {
		if !o.started.IsZero() {
			o.done = true
		}
	}
	if tp == nil {
		tp = &tableProgress{name: table}
		t.tables = append(t.tables, tp)
	}
	tp.started = time.Now()
	return tp
}

func (t *tracker) event(commit time.Time) {
	t.events.Add(1)
	if !commit.IsZero() {
		t.lastEvent.Store(commit.UnixNano())
	}
}

// read records a transaction boundary the source reached, and returns the
// commit time of the transaction it ends (zero when no streamed event came
// since the last boundary... or ever).
func (t *tracker) read(pos sluice.Position) time.Time {
	var commit time.Time
	if ns := t.lastEvent.Load(); ns != 0 {
		commit = time.Unix(0, ns)
	}
	t.mu.Lock()
	t.lastRead = pos
	if !commit.IsZero() && !commit.Equal(t.readCommit) {
		t.readCommit = commit
		t.readLag = max(time.Since(commit), 0)
		if t.firstCommit.IsZero() {
			t.firstCommit = commit
		}
	}
	t.mu.Unlock()
	return commit
}

func (t *tracker) setBehind(n int64) {
	t.mu.Lock()
	t.behind = n
	t.mu.Unlock()
}

func (t *tracker) status() Status {
	t.mu.Lock()
	s := Status{Name: t.name, SourceType: t.sourceType, Phase: t.phase, Paused: t.paused.Load(), Started: t.started,
		Role: t.role, RoleSince: t.roleSince, Terms: t.terms,
		Version: buildinfo.Version(), ConfigDigest: t.digest,
		Snapshot: t.snap, Read: t.lastRead, ReadLag: t.readLag, Behind: t.behind, Err: t.err, Events: t.events.Load()}
	s.Snapshot.Tables = make([]TableProgress, len(t.tables))
	for i, tp := range t.tables {
		s.Snapshot.Tables[i] = TableProgress{Table: tp.name, Rows: tp.rows.Load(), EstimatedRows: tp.estimated,
			Started: tp.started, Done: tp.done}
	}
	acked, committed, stalls := t.acked, t.committed, t.stalls
	firstCommit, streamingAt := t.firstCommit, t.streamingAt
	t.mu.Unlock()
	if ns := t.lastEvent.Load(); ns != 0 {
		s.LastEventTime = time.Unix(0, ns).UTC()
	}
	if acked != nil {
		if pos, commit, ok := acked(); ok {
			s.Acknowledged, s.AcknowledgedCommitTime = pos, commit
		}
		s.AcknowledgedLag = ackedLag(s.Read, s.Acknowledged, s.AcknowledgedCommitTime, firstCommit, streamingAt, time.Now())
	}
	if committed != nil {
		s.Committed, s.CommittedAt = committed()
	}
	if stalls != nil {
		s.Stalls = stalls()
	}
	return s
}

// ackedLag is how far the newest acknowledged transaction is behind now:
// 0 while everything read is acknowledged; otherwise from the commit time
// of the acknowledged transaction, or, when it has none (nothing streamed
// was acknowledged yet), of the first transaction read, or the start of
// streaming.
func ackedLag(read, acked sluice.Position, ackedCommit, firstCommit, streamingAt, now time.Time) time.Duration {
	if read == acked || read == (sluice.Position{}) {
		return 0
	}
	from := ackedCommit
	if from.IsZero() {
		from = firstCommit
	}
	if from.IsZero() {
		from = streamingAt
	}
	if from.IsZero() {
		return 0
	}
	return max(now.Sub(from), 0)
}
