// Package engine runs sluice's pipeline for one source: it picks where to
// start from the checkpoint, takes the snapshot when one is due, hands over
// to the replication stream at exactly the snapshot's point, produces every
// change to Kafka, commits positions once Kafka acknowledged them, reports
// its state, and stops cleanly. cmd/sluice only parses and calls it; a Go
// program can do the same (see the example).
//
//	cfg, _ := config.Load("sluice.yaml", nil, os.Environ())
//	e, _ := engine.New(*cfg, engine.WithLogger(log))
//	err := e.Run(ctx)          // until ctx ends or a fatal error
//	st := e.Status()           // from any goroutine, at any time
//
// The flow through the engine:
//
//	config.Config ──► engine.New (checks every setting, connects nothing)
//	                       │
//	                   Engine.Run ◄──────────── lease lost: standby again
//	                       │  Kafka client, checkpoint topic            ▲
//	                       │  sink.JoinLease: standby until held        │
//	                       │  (exactly-once: transactional client now)  │
//	                       │  LoadCheckpoint                            │
//	                       │  Source.Prepare (server settings, privileges, tables)
//	                       ▼
//	        ┌──── start mode, from the checkpoint ─────────────────────────┐
//	        │ stream checkpoint    → CanResume(pos)                        │
//	        │   (mode always: as a snapshot checkpoint from pos;           │
//	        │    mode initial_only: stop)                                  │
//	        │ position gone, mode when_needed → Snapshot, as for none      │
//	        │ snapshot checkpoint  → CanResume(start), Resnapshot(start,   │
//	        │                  catchUp: deletions up to the new point)     │
//	        │ none, mode never     → Position()                            │
//	        │ none                 → Snapshot(began: commit the start)     │
//	        └──────────────────────────────┬───────────────────────────────┘
//	                                       ▼
//	                       Source.Stream(from)   (binlog │ pgoutput)
//	                                       │ events, Resumable at commits
//	                                       ▼
//	    pipeline: transform (column transforms, when configured) → routing
//	              → transaction numbering (transactions.metadata)
//	              → tombstone.Builder (keys · schema: Avro/connect-json/JSON)
//	              → sink.Producer
//	                                       │ acks
//	                                       ▼
//	          checkpoint topic ◄── position, once Kafka acknowledged it
//	          (PostgreSQL: the same position confirmed to the slot)
//
//	beside it: the watch loop (stall.go) — every second: is Kafka, the
//	           registry or the source not answering? (logged every 10 s,
//	           and once on recovery); every 10 s while streaming: how far
//	           the source's log runs ahead ([Behinder]); the snapshot's
//	           progress lines (progress.go)
//
// Operations. [Engine.Status] is the whole state: phase, snapshot progress
// per table with the server's row estimates, the positions read,
// acknowledged and committed, lag, stalls. [Engine.Ready] and
// [Engine.Healthy] answer readiness and liveness; [Engine.Pause] and
// [Engine.Resume] hold and release the source's goroutine in the pipeline.
// [WithMetrics] registers the Prometheus metrics (metrics.go), read from
// that state at scrape time; the per-event cost is an atomic counter per
// table and operation, always on. Package admin serves all of it over
// HTTP.
//
// Sources. [Source] is the small interface both databases implement; the
// MySQL/MariaDB source is an adapter over packages snapshot and binlog, the
// PostgreSQL source over snapshot and pgoutput. Optional interfaces add
// what only some sources can do: [Checker] for `sluice check`,
// [SlotDropper] for `sluice drop-slot`, [TableReader] for `sluice verify`,
// io.Closer.
//
// Verification. [Engine.Verify] (verify.go) compares the compacted topics
// with the tables against a live source: it reads the tables at one
// consistent point without a lock or a slot (TableReader), runs each row
// through the same transforms, routing and encoder as Run, waits for the
// stored checkpoint to cover that point, reads the topics read_committed
// leaving out records of later changes, and compares every column of each
// key in a canonical form ([schema.RecordDecoder]). Differences are
// checked again from new reads before they count; keys are split by hash
// into passes so memory stays within VerifyOptions.KeysPerPass.
//
// What it promises:
//   - Positions move forward only after Kafka acknowledged every record
//     before them; a snapshot's start is durable before its first record.
//   - An interrupted snapshot is taken again at a new consistent point:
//     the deletions between the first point and the new one are passed
//     on first (catchUp, each of its boundaries moving the checkpoint so
//     that a retake interrupted in turn passes no deletion on twice),
//     then the rows as of the new point, and the stream starts there; no
//     change is missed and no key's version goes back.
//   - Cancelling Run's context is a clean stop, not an error: Run waits up
//     to 30 s for Kafka's acknowledgements, writes the final checkpoint and
//     returns nil. The first fatal error stops everything and is returned.
//   - Run owns every goroutine it starts (the checkpoint writer, the
//     sources' readers, the watch loop, the pprof server) and has stopped
//     them when it returns. Status, Ready, Healthy, Pause and Resume never
//     block on I/O.
//   - With kafka.exactly_once, records are written in Kafka transactions
//     committed at source transaction boundaries with their checkpoint; a
//     reader that lost its connection rewinds to the last commit (the
//     open transaction aborted), the hand-off from snapshot to stream is
//     committed before the first streamed change, and a standby that
//     takes over fences this instance's transactional id.
//   - One writer per name: Run writes only while it holds the name's lease
//     (sink.Lease, a consumer group over the checkpoint topic); until then
//     it is a standby (PhaseStandby, RoleStandby) that connects to nothing
//     but Kafka. A lease lost while active stops every write at once (the
//     producer's client is closed, no further checkpoint), and Run waits
//     as a standby again, through any Kafka outage; a clean stop gives the
//     lease up after the final checkpoint, so a standby takes over at once.
//   - A pause loses nothing: what was read before it is produced and
//     acknowledged, positions and checkpoints go on, and reading resumes
//     at the event where it stopped.
//   - A stall of Kafka, the registry or the source is logged within about
//     5 s of its start, every 10 s while it lasts, and once when it ends.
//   - With transactions.metadata, a transaction's BEGIN record is produced
//     before its first event's records and its END record before the
//     checkpoint mark of its boundary, so a checkpoint covers both.
//   - A routed table's records go to its route's topic with the key field
//     added to key and rows; unrouted tables are untouched.
//   - Hooks ([WithHooks]) are called synchronously from the engine's
//     goroutines; they must not block.
package engine
