package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/buildinfo"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/tombstone"
)

// shutdownTimeout bounds how long a stopping engine waits for Kafka to
// acknowledge what it already produced.
const shutdownTimeout = 30 * time.Second

// Engine runs one source's pipeline: it picks where to start from the
// checkpoint, snapshots, streams, produces to Kafka and commits positions
// once Kafka acknowledged them. Make one with [New], call [Engine.Run] once;
// [Engine.Status] may be called from any goroutine at any time.
type Engine struct {
	cfg  config.Config
	kcfg sink.Config // the Kafka side of cfg, its TLS and SASL built
	log  *slog.Logger
	src  Source
	// newSource makes a fresh source for each term as the active
	// instance; nil for a source given by WithSource, which is reused.
	newSource func() Source
	hooks     hooks
	outage    outage
	st        *tracker
	ran       atomic.Bool

	// What pause, status and the metrics read; see pause.go, watch.go,
	// stall.go and metrics.go.
	reg      prometheus.Registerer // nil without WithMetrics
	gate     *gate
	counts   *eventCounts
	kafka    *kafkaWatch
	regWatch *registryWatch // nil unless the format uses the registry
	srcWatch *sourceWatch
	client   atomic.Pointer[kgo.Client]
	prod     atomic.Pointer[sink.Producer]
	watch    atomic.Pointer[watcher]
	pipe     atomic.Pointer[pipeline]
	// streamFrom is where this run's stream started, under the source's
	// goroutine.
	streamFrom sluice.Position

	noProgressLog bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger for everything the engine and its source and
// sink log. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) {
		if l != nil {
			e.log = l
		}
	}
}

// WithSource replaces the source that cfg.Source.Type names, for tests and
// for programs that read a database of their own. cfg.Source is then only
// used for the name in records and logs.
func WithSource(s Source) Option { return func(e *Engine) { e.src = s } }

// Hook is a value implementing one or more of [PhaseHook], [EventHook] and
// [ResumableHook]; the engine calls the methods a hook implements. Hooks
// serve metrics and the admin surface.
type Hook any

// PhaseHook is told each phase the engine enters, from the goroutine
// running Run.
type PhaseHook interface{ OnPhase(Phase) }

// EventHook is told each event after it was handed to the producer, from
// the source's goroutine, snapshot rows included. It must not block and
// must not modify the event.
type EventHook interface{ OnEvent(*sluice.Event) }

// ResumableHook is told each transaction boundary the source reached, from
// the source's goroutine. It must not block.
type ResumableHook interface{ OnResumable(sluice.Position) }

// WithHooks adds hooks. A hook implementing none of the hook interfaces is
// an error from New.
func WithHooks(hs ...Hook) Option {
	return func(e *Engine) {
		for _, h := range hs {
			e.hooks.add(h)
		}
	}
}

type hooks struct {
	phase     []PhaseHook
	event     []EventHook
	resumable []ResumableHook
	invalid   []Hook
}

func (hs *hooks) add(h Hook) {
	ok := false
	if x, is := h.(PhaseHook); is {
		hs.phase, ok = append(hs.phase, x), true
	}
	if x, is := h.(EventHook); is {
		hs.event, ok = append(hs.event, x), true
	}
	if x, is := h.(ResumableHook); is {
		hs.resumable, ok = append(hs.resumable, x), true
	}
	if !ok {
		hs.invalid = append(hs.invalid, h)
	}
}

// New checks cfg ([config.Config.Validate], then the TLS files with
// [config.Config.CheckFiles]) and returns an Engine for it.
// It does not connect: every setting that can be wrong without a server is
// reported here, all problems at once. Build cfg with [config.Load], which
// also applies the defaults and reads the password files.
func New(cfg config.Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	kcfg, err := sinkConfig(&cfg)
	if err != nil {
		return nil, err
	}
	if _, err := newTransformer(&cfg); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, kcfg: kcfg, log: slog.Default(), gate: &gate{}, counts: newEventCounts(),
		kafka: &kafkaWatch{}, srcWatch: newSourceWatch()}
	for _, o := range opts {
		o(e)
	}
	if len(e.hooks.invalid) > 0 {
		return nil, fmt.Errorf("engine: hook %T implements none of PhaseHook, EventHook, ResumableHook", e.hooks.invalid[0])
	}
	if cfg.Format == "avro" {
		e.regWatch = newRegistryWatch()
	}
	if e.src == nil {
		switch cfg.Source.Type {
		case "mysql":
			e.src = newMySQLSource(&e.cfg, e.log, e.srcWatch.connection, e.rewind)
		case "postgresql":
			e.src = newPostgresSource(&e.cfg, e.log, e.srcWatch.connection, e.rewind)
		default:
			return nil, fmt.Errorf("source.type %q is not one of mysql, postgresql", cfg.Source.Type)
		}
	}
	e.kcfg.Hooks = append(e.kcfg.Hooks, e.kafka)
	if e.reg != nil {
		if err := e.reg.Register(collector{e}); err != nil {
			return nil, fmt.Errorf("engine: register metrics: %w", err)
		}
		e.kcfg.Hooks = append(e.kcfg.Hooks, &kpromHooks{Metrics: kprom.NewMetrics("sluice", kprom.Registerer(e.reg), kprom.Subsystem("kafka"),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Batches, kprom.Records,
				kprom.CompressedBytes, kprom.UncompressedBytes, kprom.ConsistentNaming))})
	}
	e.st = newTracker(cfg.Name, cfg.Source.Type, configDigest(&e.cfg))
	return e, nil
}

// rewind is the sources' Rewind: with an exactly-once producer, a source
// that lost its connection discards the open Kafka transaction and reads
// on from the last committed checkpoint, so nothing after it is produced
// twice. Without, it keeps the source's own boundary.
func (e *Engine) rewind() (sluice.Position, bool) {
	p := e.prod.Load()
	if p == nil || !p.Transactional() {
		return sluice.Position{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	cp, ok, err := p.Rewind(ctx)
	if err != nil {
		// The producer has failed; the source stops at its next record.
		e.log.Error("exactly-once: could not abort the open transaction", "error", err)
		return sluice.Position{}, false
	}
	if pipe := e.pipe.Load(); pipe != nil {
		pipe.rewound()
	}
	at := e.streamFrom
	if ok && cp.Phase == sink.PhaseStream {
		at = cp.Position
	}
	e.log.Info("exactly-once: the open transaction was aborted; reading on from the last committed checkpoint", positionAttrs(at)...)
	return at, true
}

// configDigest is the hex SHA-256 of the configuration as YAML with its
// secrets redacted.
func configDigest(cfg *config.Config) string {
	sum := sha256.Sum256([]byte(cfg.Redacted()))
	return hex.EncodeToString(sum[:])
}

// Ready reports whether the engine is streaming, not paused, with nothing
// stalled and the acknowledged position within admin.ready_max_lag of the
// source; otherwise it says why not. It serves /readyz.
func (e *Engine) Ready() (bool, string) {
	st := e.Status()
	switch {
	case len(st.Stalls) > 0:
		s := st.Stalls[0]
		msg := fmt.Sprintf("%s has not answered for %s", s.Target, time.Since(s.Since).Round(time.Second))
		if s.LastError != "" {
			msg += ": " + s.LastError
		}
		return false, msg
	case st.Phase != PhaseStreaming:
		return false, "phase is " + string(st.Phase) + ", not streaming"
	case st.Paused:
		return false, "paused: POST /resume to continue"
	case st.AcknowledgedLag > e.cfg.Admin.ReadyMaxLag:
		return false, fmt.Sprintf("the acknowledged position is %s behind the source, over admin.ready_max_lag %s",
			st.AcknowledgedLag.Round(time.Second), e.cfg.Admin.ReadyMaxLag)
	}
	return true, "streaming"
}

// Healthy reports whether the engine's goroutines are alive: before Run,
// and while the watch loop that runs beside the pipeline ticked within the
// last 15 s. It serves /healthz.
func (e *Engine) Healthy() (bool, string) {
	w := e.watch.Load()
	if w == nil {
		if p := e.st.getPhase(); p == PhaseFailed {
			return false, "failed: " + e.Status().Err.Error()
		}
		return true, "ok"
	}
	if age := time.Since(w.lastBeat()); age > 15*time.Second {
		return false, fmt.Sprintf("the engine's watch loop last ran %s ago", age.Round(time.Second))
	}
	return true, "ok"
}

// Status returns the engine's current state. It does not block on I/O and
// is safe to call from any goroutine, before, during and after Run.
func (e *Engine) Status() Status { return e.st.status() }

func (e *Engine) setPhase(p Phase) {
	e.st.setPhase(p)
	for _, h := range e.hooks.phase {
		h.OnPhase(p)
	}
}

// Run runs the pipeline until ctx ends or a fatal error: it connects to
// Kafka, takes the lease on its name (waiting as a standby while another
// instance holds it), connects to the source, checks it, reads the
// checkpoint, takes the snapshot when one is due, then streams. It blocks,
// and may be called once.
//
// Cancelling ctx is a clean stop: Run waits up to 30 s for Kafka to
// acknowledge what was produced, writes the final checkpoint, gives the
// lease up so a standby takes over at once, and returns nil. The first
// fatal error, of the source, the producer or a checkpoint write, stops
// everything else and is returned. A lease lost while active (the group
// coordinator dropped this instance or stopped answering) is no error:
// writing stops at once, nothing more is committed, and Run waits as a
// standby again. Run owns every goroutine it starts (the checkpoint
// writer, the source's readers, the lease, the pprof server) and has
// stopped them all when it returns.
func (e *Engine) Run(ctx context.Context) (err error) {
	if !e.ran.CompareAndSwap(false, true) {
		return errors.New("engine: Run was already called; make a new Engine")
	}
	defer func() {
		if c, ok := e.src.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			e.st.fail(err)
			for _, h := range e.hooks.phase {
				h.OnPhase(PhaseFailed)
			}
			return
		}
		e.setPhase(PhaseStopped)
	}()
	cfg := &e.cfg
	log := e.log
	e.setPhase(PhaseStarting)
	log.Info("sluice starting", "version", buildinfo.Version(), "name", cfg.Name, "source", cfg.Source.Host, "brokers", cfg.Kafka.Brokers)
	if cfg.Debug.PprofListen != "" {
		stop, err := servePprof(cfg.Debug.PprofListen, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	warnSecurity(cfg, log)
	rejoin := false
	for {
		lost, held, err := e.term(ctx)
		switch {
		case ctx.Err() != nil:
			// Stopped: an error that is only the stop's own (a
			// checkpoint read cut short) is none.
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		case lost != nil:
			log.Warn("lost the lease on the name: stopped writing, committed nothing more; waiting as a standby again",
				"name", cfg.Name, "reason", lost)
			// Until Kafka answers again: a lease is lost to an outage or
			// to another instance, and the next connection tells which.
			e.outage.begin(lost)
			e.st.setSources(nil, nil, e.outage.stalls)
			if e.newSource != nil {
				if c, ok := e.src.(io.Closer); ok {
					c.Close()
				}
				e.src = e.newSource()
			}
			rejoin = true
		case err != nil && rejoin && !held:
			// Kafka is unreachable after a lost lease: a standby keeps
			// trying, with the outage in Status; only the first start
			// fails on it.
			since := e.outage.begin(err)
			e.outage.failed()
			log.Warn("kafka is not answering: this instance gave its lease up and waits as a standby; retrying",
				"name", cfg.Name, "for", time.Since(since).Round(time.Second), "in", rejoinBackoff, "last_error", err)
			e.st.setSources(nil, nil, e.outage.stalls)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(rejoinBackoff):
			}
		default:
			return err
		}
		e.st.setRole(RoleStandby)
		e.setPhase(PhaseStandby)
	}
}

// outage is Kafka's unreachability between terms, while no watcher runs:
// when it began and the last error, for Status and the recovery line.
type outage struct {
	mu      sync.Mutex
	since   time.Time
	lastErr string
	failing bool // a connection failed since it began
}

func (o *outage) failed() {
	o.mu.Lock()
	o.failing = true
	o.mu.Unlock()
}

// begin records err and returns when the outage began.
func (o *outage) begin(err error) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = time.Now()
	}
	o.lastErr = err.Error()
	return o.since
}

// end clears the outage and returns how long it lasted, and whether a
// connection failed meanwhile (a lease lost to another instance has none).
func (o *outage) end() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return 0, false
	}
	d, failed := time.Since(o.since), o.failing
	o.since, o.lastErr, o.failing = time.Time{}, "", false
	return d, failed
}

func (o *outage) stalls() []Stall {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return nil
	}
	return []Stall{{Target: "kafka", Since: o.since, LastError: o.lastErr}}
}

// rejoinBackoff is how long a standby whose lease was lost waits before
// it connects to Kafka again, when Kafka did not answer.
const rejoinBackoff = 5 * time.Second

// term is one turn of Run: the Kafka clients, the lease (as a standby
// until it is held), then, as the active instance, the source and the
// pipeline until ctx ends, a fatal error, or the lease is lost. lost is
// why the lease was lost while held; held whether it was held at all;
// err is the term's error otherwise.
func (e *Engine) term(ctx context.Context) (lost error, held bool, err error) {
	cfg := &e.cfg
	log := e.log
	kcfg := e.kcfg
	// The admin requests and the checkpoint reader use a plain client.
	// An exactly-once producer has a transactional client of its own,
	// which then carries the hooks (metrics, the watch of the brokers).
	mainCfg := kcfg
	if kcfg.TransactionalID != "" {
		mainCfg = kcfg.Plain()
	}
	client, err := sink.NewClient(ctx, mainCfg)
	if err != nil {
		return nil, false, err
	}
	if d, failed := e.outage.end(); failed {
		log.Info("kafka reachable again", "outage", d.Round(time.Second))
	}
	closeClient := sync.OnceFunc(client.Close)
	defer closeClient()
	adm := kadm.NewClient(client)
	if err := sink.EnsureTopics(ctx, adm, []string{kcfg.CheckpointTopic}, kcfg, log); err != nil {
		return nil, false, fmt.Errorf("create checkpoint topic: %w", err)
	}

	lease, err := e.acquire(ctx)
	if lease == nil || err != nil {
		return nil, false, err
	}
	// Given up last, after the final checkpoint: a standby then takes
	// over at once.
	defer lease.Close()
	// The transactional client is made only now: its producer id fences
	// the previous holder's.
	pclient, closeP := client, closeClient
	if kcfg.TransactionalID != "" {
		if pclient, err = sink.NewClient(ctx, kcfg); err != nil {
			return nil, true, err
		}
		closeP = sync.OnceFunc(pclient.Close)
		defer closeP()
		log.Info("exactly-once: records are written in Kafka transactions committed with their checkpoint", "transactional_id", kcfg.TransactionalID)
	}
	e.client.Store(pclient)

	// A lost lease stops every write at once: the producer's client is
	// closed, failing what it buffered and cutting what is in flight,
	// and the term ends without a final checkpoint.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	termDone := make(chan struct{})
	defer close(termDone)
	go func() {
		select {
		case <-lease.Lost():
			cancel(lease.Err())
			closeP()
			closeClient()
		case <-termDone:
		}
	}()
	isLost := func() error {
		if cause := context.Cause(ctx); errors.Is(cause, sink.ErrLeaseLost) {
			return cause
		}
		return nil
	}

	cp, found, err := sink.LoadCheckpoint(ctx, client, kcfg.CheckpointTopic, cfg.Name)
	if err != nil {
		return isLost(), true, err
	}
	if err := e.src.Prepare(ctx, found && cp.Phase == sink.PhaseStream); err != nil {
		return isLost(), true, err
	}

	prod := sink.New(pclient, kcfg, log)
	e.prod.Store(prod)
	enc, err := newEncoder(cfg, log, e.regWatch)
	if err != nil {
		return nil, true, err
	}
	builder := tombstone.NewBuilder(cfg.Kafka.TopicPrefix, enc)
	pipe := newPipeline(cfg.Name, builder, prod, adm, kcfg, log, e.st, e.hooks, e.gate, e.counts)
	if cfg.Transactions.Metadata {
		pipe.tx = &txTracker{topic: cfg.TransactionTopic()}
	}
	if pipe.route, err = newRouter(cfg.Routing); err != nil {
		return nil, true, err
	}
	if pipe.xf, err = newTransformer(cfg); err != nil {
		return nil, true, err
	}
	e.pipe.Store(pipe)
	behind, _ := e.src.(Behinder)
	w := newWatcher(log, pclient, e.kafka, e.regWatch, e.srcWatch, e.st, behind)
	e.st.setSources(pipe.ackedCheckpoint, func() (sluice.Position, time.Time) {
		s := prod.Stats()
		return s.Written.Position, s.WrittenAt
	}, w.stalled)

	// The producer's checkpoint loop runs beside the source; the first of
	// the two to fail stops the other. The watch loop runs until the
	// producer stopped.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var wg sync.WaitGroup
		if !e.noProgressLog {
			wg.Go(func() { logProgress(watchCtx, log, e.st) })
		}
		w.run(watchCtx)
		wg.Wait()
	}()
	e.watch.Store(w)
	defer func() {
		stopWatch()
		<-watchDone
		e.watch.Store(nil)
	}()
	prodDone := make(chan error, 1)
	go func() {
		err := prod.Run(ctx)
		if err != nil {
			cancel(err)
		}
		prodDone <- err
	}()

	srcErr := e.source(ctx, cp, found, prod, pipe)
	if lost := isLost(); lost != nil {
		<-prodDone
		return lost, true, nil
	}

	// Stop: let Kafka acknowledge what was produced and write the final
	// checkpoint, then stop the checkpoint loop.
	e.setPhase(PhaseStopping)
	closeCtx, closeCancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	closeErr := prod.Close(closeCtx)
	closeCancel()
	cancel(nil)
	runErr := <-prodDone
	if lost := isLost(); lost != nil {
		// Lost while stopping: the final checkpoint may be missing; the
		// next holder resumes from the last one written.
		return lost, true, nil
	}

	if cause := context.Cause(ctx); srcErr != nil && !errors.Is(srcErr, context.Canceled) {
		return nil, true, srcErr
	} else if cause != nil && !errors.Is(cause, context.Canceled) {
		return nil, true, cause
	}
	if runErr != nil {
		return nil, true, runErr
	}
	if closeErr != nil {
		return nil, true, fmt.Errorf("stop: %w", closeErr)
	}
	log.Info("sluice stopped")
	return nil, true, nil
}

// standbyNotice is how long a fresh member waits for the lease before it
// logs that it is a standby: joining an empty group takes less.
const standbyNotice = 3 * time.Second

// acquire joins the name's group and waits, as a standby, until this
// instance holds the lease. It returns nil and no error when ctx ends
// first.
func (e *Engine) acquire(ctx context.Context) (*sink.Lease, error) {
	cfg := &e.cfg
	lease, err := sink.JoinLease(ctx, e.kcfg, sink.LeaseConfig{
		Group: cfg.LeaseGroup(), Topic: e.kcfg.CheckpointTopic, SessionTimeout: cfg.Leadership.SessionTimeout,
	}, e.log)
	if err != nil {
		return nil, err
	}
	e.st.setRole(RoleStandby)
	e.setPhase(PhaseStandby)
	notice := time.NewTimer(standbyNotice)
	defer notice.Stop()
	for {
		select {
		case <-lease.Held():
			e.st.setRole(RoleActive)
			e.setPhase(PhaseStarting)
			e.log.Info("active: this instance holds the lease on the name and writes", "name", cfg.Name, "group", lease.Group())
			return lease, nil
		case <-lease.Lost():
			lease.Close()
			return nil, lease.Err()
		case <-notice.C:
			e.log.Info("standby: another instance with this name holds the lease; this one takes over when it stops or stops answering",
				"name", cfg.Name, "group", lease.Group(), "session_timeout", cfg.Leadership.SessionTimeout)
		case <-ctx.Done():
			lease.Close()
			return nil, nil
		}
	}
}

// source decides where to start, runs the snapshot when one is due, and
// streams. The choice, from the checkpoint and snapshot.mode:
//
//   - a stream checkpoint: stream on from its position; with mode
//     initial_only stop at once (the snapshot was taken); with mode always
//     take the snapshot again as below, from the checkpoint's position;
//   - a snapshot checkpoint (a snapshot began and did not finish): its
//     records may already be in Kafka, including rows deleted since, so
//     take a new consistent point, pass on the deletions since the first
//     point (catchUp), copy the tables at the new point and stream from
//     it: no key's version goes back;
//   - either, with the position gone from the server (purged binlog, lost
//     slot): an error, or with mode when_needed a new snapshot;
//   - none, snapshot.mode never: stream from the source's current position;
//   - none: take the snapshot, its start stored durably before the first
//     record, then stream from its consistent point.
//
// With mode initial_only it returns once the snapshot's end is committed.
func (e *Engine) source(ctx context.Context, cp sink.Checkpoint, found bool, prod *sink.Producer, pipe *pipeline) error {
	log, src, mode := e.log, e.src, e.cfg.Snapshot.Mode
	var from sluice.Position
	var how string
	var err error
	switch {
	case found && cp.Phase == sink.PhaseStream && mode == config.SnapshotInitialOnly:
		log.Info("snapshot.mode initial_only: the snapshot was taken on an earlier start; nothing to do, stopping", positionAttrs(cp.Position)...)
		return nil
	case found && cp.Phase == sink.PhaseStream && mode != config.SnapshotAlways:
		from, how = cp.Position, "from the stored checkpoint"
		log.Info("resuming from checkpoint", positionAttrs(from)...)
		if err := src.CanResume(ctx, from); err != nil {
			if from, err = e.snapshotWhenGone(ctx, err, prod, pipe); err != nil {
				return err
			}
			how = whenNeeded
		}
	case found:
		at := cp.SnapshotStart
		if cp.Phase == sink.PhaseStream {
			at = cp.Position
			log.Info("snapshot.mode always: taking the snapshot again at a new consistent point, after passing on the deletions since the checkpoint", positionAttrs(at)...)
		} else {
			log.Warn("the previous snapshot did not finish; taking it again at a new consistent point, after passing on the deletions since its point (or since where an interrupted catch-up got)", positionAttrs(at)...)
		}
		if err := src.CanResume(ctx, at); err != nil {
			if from, err = e.snapshotWhenGone(ctx, err, prod, pipe); err != nil {
				return err
			}
			how = whenNeeded
			break
		}
		e.setPhase(PhaseSnapshot)
		e.st.snapshotStarted(true)
		if cp.Phase == sink.PhaseSnapshot {
			pipe.snapCP = cp
		} else {
			// Durable before the first record of the new copy: a restart
			// during it retakes it from the same point.
			pipe.snapCP = sink.Checkpoint{Source: e.cfg.Name, Phase: sink.PhaseSnapshot, Position: at, SnapshotStart: at}
			if err := prod.Commit(ctx, pipe.snapCP); err != nil {
				return err
			}
		}
		cu := &catchUp{p: pipe}
		pos, err := src.Resnapshot(ctx, at, cu, pipe)
		e.st.snapshotEnded(err == nil)
		if err != nil {
			return err
		}
		from, how = pos, "after the retaken snapshot, from its consistent point"
		log.Info("snapshot complete", append(snapshotAttrs(e.Status().Snapshot), "catch_up_deletions", cu.deleted)...)
	case mode == config.SnapshotNever:
		pos, at, err := src.Position(ctx)
		if err != nil {
			return err
		}
		from = pos
		how = "from " + at + " (snapshot.mode never)"

	default:
		if from, err = e.snapshot(ctx, prod, pipe); err != nil {
			return err
		}
		how = "after the snapshot, from its consistent point"
	}
	if err := pipe.Resumable(ctx, from); err != nil {
		return err
	}
	if prod.Transactional() || mode == config.SnapshotInitialOnly {
		// The snapshot's last rows and the stream's start commit
		// together: a rewind never goes back before the hand-off.
		if err := prod.Commit(ctx, sink.Checkpoint{Source: e.cfg.Name, Phase: sink.PhaseStream, Position: from}); err != nil {
			return err
		}
	}
	e.streamFrom = from
	if mode == config.SnapshotInitialOnly {
		log.Info("snapshot.mode initial_only: the snapshot is in Kafka and its end is checkpointed; stopping without streaming", positionAttrs(from)...)
		return nil
	}
	e.setPhase(PhaseStreaming)
	log.Info("streaming "+how, positionAttrs(from)...)
	return src.Stream(ctx, from, pipe)
}

// snapshot takes a new snapshot, its start stored durably before the
// first record, and returns its consistent point.
func (e *Engine) snapshot(ctx context.Context, prod *sink.Producer, pipe *pipeline) (sluice.Position, error) {
	e.setPhase(PhaseSnapshot)
	e.st.snapshotStarted(false)
	pos, err := e.src.Snapshot(ctx, pipe, func(ctx context.Context, pos sluice.Position) error {
		// Durable before the first snapshot record: a restart must know
		// a snapshot began here.
		pipe.snapCP = sink.Checkpoint{Source: e.cfg.Name, Phase: sink.PhaseSnapshot, Position: pos, SnapshotStart: pos}
		return prod.Commit(ctx, pipe.snapCP)
	})
	e.st.snapshotEnded(err == nil)
	if err != nil {
		return sluice.Position{}, err
	}
	e.log.Info("snapshot complete", snapshotAttrs(e.Status().Snapshot)...)
	return pos, nil
}

// whenNeeded is how the stream's start is logged after a snapshot taken
// for a position gone from the server.
const whenNeeded = "after a new snapshot (snapshot.mode when_needed), from its consistent point"

// snapshotWhenGone answers CanResume's err: with the position gone and
// snapshot.mode when_needed it logs the choice and takes a new snapshot,
// returning its point; otherwise it returns err.
func (e *Engine) snapshotWhenGone(ctx context.Context, err error, prod *sink.Producer, pipe *pipeline) (sluice.Position, error) {
	if !errors.Is(err, ErrPositionGone) || e.cfg.Snapshot.Mode != config.SnapshotWhenNeeded {
		return sluice.Position{}, err
	}
	e.log.Warn("the checkpoint's position is no longer on the server; snapshot.mode when_needed: taking a new snapshot. "+
		"Rows deleted while their changes could not be read stay in the topics until deleted again (sluice verify lists them as extra keys)",
		"cause", err.Error())
	return e.snapshot(ctx, prod, pipe)
}

// ErrPositionGone is wrapped by a [Source.CanResume] error that says the
// server no longer has the position (a purged binlog, a lost or
// invalidated slot): the changes since it cannot be read. With
// snapshot.mode when_needed the engine then takes a new snapshot instead of
// stopping.
var ErrPositionGone = errors.New("the source position is gone from the server")

// positionGone marks err as [ErrPositionGone] without changing its text.
type positionGone struct{ error }

func (g positionGone) Unwrap() error        { return g.error }
func (g positionGone) Is(target error) bool { return target == ErrPositionGone }

// snapshotAttrs are a finished snapshot's log attributes: tables, rows,
// duration.
func snapshotAttrs(s SnapshotStatus) []any {
	var rows int64
	for _, t := range s.Tables {
		rows += t.Rows
	}
	return []any{"tables", len(s.Tables), "rows", rows, "took", s.Finished.Sub(s.Started).Round(time.Millisecond)}
}

// positionAttrs are a position's log attributes: file, pos and gtid_set on
// MySQL/MariaDB, lsn on PostgreSQL.
func positionAttrs(p sluice.Position) []any {
	if p.LSN != 0 || p.File == "" {
		return []any{"lsn", lsnText(p.LSN)}
	}
	attrs := []any{"file", p.File, "pos", p.Offset}
	if p.GTIDSet != "" {
		attrs = append(attrs, "gtid_set", p.GTIDSet)
	}
	return attrs
}
