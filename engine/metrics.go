package engine

import (
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/buildinfo"
	"github.com/sluice-cdc/sluice/sink"
)

// WithMetrics registers the engine's Prometheus metrics on reg (names
// sluice_*, listed in docs/operations.md), and franz-go's client metrics
// (plugin/kprom, named sluice_kafka_*). The engine's metrics are read from
// its state when reg is gathered, so they cost the pipeline nothing
// between scrapes; kprom's are counted per request and batch, never per
// record. Register one engine per registry: the names carry no source
// label. New fails when a name is already registered.
func WithMetrics(reg prometheus.Registerer) Option { return func(e *Engine) { e.reg = reg } }

// kpromHooks registers kprom's metrics once, with the engine's first
// Kafka client, and keeps them for the engine's life: the engine makes
// and closes clients as it goes (the producer of each term as the active
// instance, the lease's and the checkpoint reader's), and kprom would
// otherwise unregister its series with the first client closed and start
// from zero with the next. The per-request hooks of every client count
// (connections, errors, bytes), so the connection counters are the whole
// instance's; produce metrics come from the producer alone.
type kpromHooks struct {
	*kprom.Metrics
	once sync.Once
}

func (k *kpromHooks) OnNewClient(c *kgo.Client) {
	k.once.Do(func() { k.Metrics.OnNewClient(c) })
}

// OnClientClosed keeps the series: see kpromHooks.
func (k *kpromHooks) OnClientClosed(*kgo.Client) {}

// allDescs are the engine's metrics, each added by desc; the collector
// describes them all.
var allDescs []*prometheus.Desc

func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc("sluice_"+name, help, labels, nil)
	allDescs = append(allDescs, d)
	return d
}

// The engine's metrics. docs/operations.md has the table; the dashboard
// and the alert rules in deploy/ use them.
var (
	mBuildInfo         = desc("build_info", "Always 1; the labels name the build.", "version", "commit", "go_version")
	mStartTime         = desc("start_time_seconds", "Unix time the engine started.")
	mPhase             = desc("phase", "1 for the engine's current phase, 0 for the others.", "phase")
	mActive            = desc("active", "1 while this instance holds the lease on its name and writes; 0 while it is a standby or before it asked.")
	mTerms             = desc("terms_total", "Times this instance became the active one (took the lease).")
	mPaused            = desc("paused", "1 while reading from the source is paused (POST /pause).")
	mReady             = desc("ready", "1 when /readyz answers 200: streaming, not paused, nothing stalled, acknowledged lag within admin.ready_max_lag.")
	mSnapshotRunning   = desc("snapshot_running", "1 while a snapshot copies rows.")
	mSnapshotCompleted = desc("snapshot_completed", "1 once this run's snapshot finished.")
	mSnapshotResumed   = desc("snapshot_resumed", "1 when this run's snapshot repeats one an earlier run did not finish.")
	mSnapshotTables    = desc("snapshot_tables", "Tables the snapshot copies.")
	mSnapshotRemaining = desc("snapshot_tables_remaining", "Tables of the snapshot not yet read to the end.")
	mSnapshotRows      = desc("snapshot_rows_scanned_total", "Rows of a table the snapshot handed to the producer.", "table")
	mSnapshotEstimated = desc("snapshot_rows_estimated", "The server's estimate of a table's rows when the snapshot began.", "table")
	mSnapshotDuration  = desc("snapshot_duration_seconds", "How long the snapshot ran, or has run so far.")
	mEvents            = desc("events_total", "Streamed changes handed to the producer, by table and operation (create, update, delete, truncate).", "table", "op")
	mLastEvent         = desc("last_event_timestamp_seconds", "The source's commit time of the last streamed change.")
	mLag               = desc("lag_seconds", "How far sluice is behind the source: stage read is the clock minus the commit time of the last transaction read, when it was read; stage acknowledged is now minus the commit time of the newest transaction Kafka acknowledged, 0 while everything read is acknowledged.", "stage")
	mBehind            = desc("source_behind_bytes", "Bytes of the server's log ahead of sluice: binlog bytes to the server's current position, or WAL bytes from the slot's confirmed_flush_lsn to pg_current_wal_lsn(). Measured every 10 s while streaming.")
	mBufferedRecords   = desc("kafka_buffered_records", "Records produced and not yet acknowledged by Kafka.")
	mBufferedBytes     = desc("kafka_buffered_bytes", "Bytes of the records produced and not yet acknowledged by Kafka.")
	mProduceReqErrors  = desc("kafka_produce_request_errors_total", "Produce requests that failed and were retried.")
	mRecordErrors      = desc("kafka_record_errors_total", "Records Kafka failed for good; the first one stops sluice.")
	mRegistryRequests  = desc("registry_requests_total", "Schema registry requests by answer: the HTTP status, or error for none.", "code")
	mRegistryErrors    = desc("registry_errors_total", "Schema registry requests without an answer or with a 5xx answer.")
	mCheckpointWrites  = desc("checkpoint_writes_total", "Checkpoints written to the checkpoint topic and acknowledged.")
	mCheckpointErrors  = desc("checkpoint_write_errors_total", "Checkpoint writes that failed.")
	mCheckpointLast    = desc("checkpoint_last_write_timestamp_seconds", "Unix time of the last checkpoint write.")
	mCheckpointAge     = desc("checkpoint_age_seconds", "Seconds since the last checkpoint write while a newer position waits to be committed; 0 when the checkpoint is current.")
	mReconnects        = desc("reconnects_total", "Reconnects of the source's replication connection, by cause (refused, reset, timeout, closed, error).", "cause")
	mStall             = desc("stall_seconds", "How long Kafka, the schema registry or the source has not answered; 0 when it does.", "target")
)

// collector is the engine's prometheus.Collector: every value is read from
// the engine's state at scrape time.
type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// checkpointAge is how long a position read has waited to be committed:
// since the last checkpoint write (or the start) while the committed
// position is not the one read; 0 when it is, and during the snapshot.
func checkpointAge(st Status, writtenAt, now time.Time) time.Duration {
	if st.Read == (sluice.Position{}) || st.Read == st.Committed {
		return 0
	}
	from := writtenAt
	if from.IsZero() {
		from = st.Started
	}
	return max(now.Sub(from), 0)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	st := e.Status()
	now := time.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	bi := buildinfo.Read()
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	gauge(mBuildInfo, 1, bi.Version, bi.Commit, goVersion)
	gauge(mStartTime, unix(st.Started))
	for _, p := range []Phase{PhaseIdle, PhaseStarting, PhaseStandby, PhaseSnapshot, PhaseStreaming, PhaseStopping, PhaseStopped, PhaseFailed} {
		gauge(mPhase, b2f(st.Phase == p), string(p))
	}
	gauge(mActive, b2f(st.Role == RoleActive))
	counter(mTerms, float64(st.Terms))
	gauge(mPaused, b2f(st.Paused))
	ready, _ := e.Ready()
	gauge(mReady, b2f(ready))

	snap := &st.Snapshot
	gauge(mSnapshotRunning, b2f(snap.Running))
	gauge(mSnapshotCompleted, b2f(!snap.Finished.IsZero()))
	gauge(mSnapshotResumed, b2f(snap.Resumed))
	remaining := 0
	for _, tp := range snap.Tables {
		if !tp.Done {
			remaining++
		}
		counter(mSnapshotRows, float64(tp.Rows), tp.Table)
		gauge(mSnapshotEstimated, float64(tp.EstimatedRows), tp.Table)
	}
	gauge(mSnapshotTables, float64(len(snap.Tables)))
	gauge(mSnapshotRemaining, float64(remaining))
	var took time.Duration
	switch {
	case !snap.Finished.IsZero():
		took = snap.Finished.Sub(snap.Started)
	case snap.Running:
		took = now.Sub(snap.Started)
	}
	gauge(mSnapshotDuration, took.Seconds())

	e.counts.each(func(table string, oc *opCounts) {
		counter(mEvents, float64(oc.create.Load()), table, "create")
		counter(mEvents, float64(oc.update.Load()), table, "update")
		counter(mEvents, float64(oc.delete.Load()), table, "delete")
		counter(mEvents, float64(oc.truncate.Load()), table, "truncate")
	})
	gauge(mLastEvent, unix(st.LastEventTime))
	gauge(mLag, st.ReadLag.Seconds(), "read")
	gauge(mLag, st.AcknowledgedLag.Seconds(), "acknowledged")
	gauge(mBehind, float64(st.Behind))

	if cl := e.client.Load(); cl != nil {
		gauge(mBufferedRecords, float64(cl.BufferedProduceRecords()))
		gauge(mBufferedBytes, float64(cl.BufferedProduceBytes()))
	} else {
		gauge(mBufferedRecords, 0)
		gauge(mBufferedBytes, 0)
	}
	counter(mProduceReqErrors, float64(e.kafka.produceRequestErrors.Load()))
	var ps sink.Stats
	if p := e.prod.Load(); p != nil {
		ps = p.Stats()
	}
	counter(mRecordErrors, float64(ps.RecordErrors))
	if e.regWatch != nil {
		codes, errs := e.regWatch.counts()
		for code, n := range codes {
			counter(mRegistryRequests, float64(n), code)
		}
		counter(mRegistryErrors, float64(errs))
	} else {
		counter(mRegistryErrors, 0)
	}
	counter(mCheckpointWrites, float64(ps.Writes))
	counter(mCheckpointErrors, float64(ps.WriteErrors))
	gauge(mCheckpointLast, unix(ps.WrittenAt))
	gauge(mCheckpointAge, checkpointAge(st, ps.WrittenAt, now).Seconds())
	reconnects := e.srcWatch.counts()
	for _, cause := range []string{"refused", "reset", "timeout", "closed", "error"} {
		counter(mReconnects, float64(reconnects[cause]), cause)
	}
	stalls := map[string]time.Time{}
	for _, s := range st.Stalls {
		stalls[s.Target] = s.Since
	}
	for _, target := range []string{"kafka", "registry", "source"} {
		v := 0.0
		if since, ok := stalls[target]; ok {
			v = now.Sub(since).Seconds()
		}
		gauge(mStall, v, target)
	}
}
