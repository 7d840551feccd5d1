// Package pgoutput follows a PostgreSQL database through logical
// replication with the built-in pgoutput plugin and turns what it reads
// into change events.
//
// # Where it sits
//
// It is the PostgreSQL stream of the data flow, beside package binlog:
//
//	EnsurePublication ─► CreateSlot ─► (snapshot reads with Slot.SnapshotName) ─► Slot.Close
//	                                          │
//	                Reader.Run(from = Slot.Consistent or the checkpoint) ─► sluice.Handler
//
// SelectedTables lists the tables a selection captures, for
// EnsurePublication and Check. The publication says which tables the
// server decodes; the slot keeps
// the server's WAL until sluice confirms it and exported the snapshot the
// snapshot package reads; the Reader streams every change committed after
// the slot's consistent point. Check verifies the server settings and
// privileges first. Sources know nothing of Kafka: the Reader learns what
// Kafka acknowledged only through Config.Acked.
//
// # What it promises
//
//   - Consistent hand-off (promise 1): the snapshot exported by CreateSlot
//     sees exactly the transactions committed before Slot.Consistent, and
//     Run from that position delivers exactly those committed after it.
//   - Order (promise 2): events reach the handler in commit order, each
//     transaction whole; Resumable follows each commit with the commit's
//     end LSN, so a restart from it repeats nothing and loses nothing.
//   - With Config.Until, Run ends before the first transaction whose
//     commit is at or after it, having handed on every one before it; a
//     temporary slot (CreateTemporarySlot) supplies such a point and its
//     snapshot for a retaken snapshot while the permanent slot stays put.
//   - Durable progress (promise 5): the standby status updates report as
//     written, flushed and applied only the position Config.Acked returns,
//     so the slot's confirmed_flush_lsn (where the server restarts the
//     stream) never passes a record Kafka has not acknowledged. While no
//     transaction is open, a keepalive's WAL position is handed to
//     Resumable too, so the slot advances while only tables outside the
//     selection are written and the server can recycle its WAL.
//   - Schema as of the event (promise 6): every change is decoded with the
//     shape the latest Relation message gave its table, also after ALTER
//     TABLE. The key is the table's primary key from the catalog (or the
//     configured tables.keys), never the Relation message's identity
//     flags, which mark every column under REPLICA IDENTITY FULL. The
//     catalog is read when the Relation message arrives, so a primary key
//     changed since the change was written is seen as it is then.
//   - Bounded memory (promise 8): the reader holds one message at a time
//     and one shape per relation. With Config.Streaming the server sends
//     transactions larger than its logical_decoding_work_mem while they
//     run; the reader writes each to a spool file under Config.SpoolDir
//     (64 kB of write buffer per open transaction) and reads it back, one
//     record at a time, at its commit. Without streaming the server decodes
//     such a transaction after its commit and spills it to its own disk.
//   - Only committed changes, in commit order: a streamed transaction's
//     changes reach the handler at its Stream Commit, after every
//     transaction committed before it; a streamed transaction that aborts
//     is dropped, and a subtransaction that aborts (ROLLBACK TO SAVEPOINT)
//     is cut from the spool from its first change on.
//   - Loud failure (promise 9): a missing or invalidated slot, a slot
//     another connection holds (SQLSTATE 55006), a missing publication and
//     missing privileges stop Run with a one-line cause and fix, and so do
//     a server that accepts only TLS from a client without it, a server
//     certificate the client does not accept and a missing client
//     certificate; lost
//     connections and server restarts are retried from the last position
//     handed to Resumable. The waits between attempts are sluice's one
//     retry policy (package internal/retry: exponential backoff with
//     jitter, Config.ReconnectBackoff doubling to 30 s, at most
//     Config.MaxReconnects consecutive failures); what is retried is
//     decided in one place, Retryable, from error types and SQLSTATE codes,
//     never from error text. A slot is never re-created silently and never
//     dropped except by DropSlot.
//
// # Events
//
// Inserts, updates and deletes become events of ops c, u and d; a TRUNCATE
// becomes one event of op t (sluice.OpTruncate) per truncated selected
// table. Source.Connector is "postgresql", Source.Position.LSN the WAL
// position of the change's own record (unique per row change, increasing
// within a transaction), Source.CommitTime the transaction's commit time.
// Resumable positions are commit end LSNs and keepalive WAL positions.
//
// What the before-image holds depends on the table's REPLICA IDENTITY:
// FULL sends the whole old row; DEFAULT (the primary key) and USING INDEX
// send only the identity columns, and only when they changed. Columns the
// server did not send are listed in Event.BeforeUnavailable and hold nil.
// The key columns are always present: when the identity did not change
// they are taken from the new row. An unchanged TOASTed value (a large
// value stored out of line that the update did not touch) is not sent
// either: under FULL it is taken from the old row, otherwise it is listed
// in Event.AfterUnavailable. REPLICA IDENTITY NOTHING makes the server
// refuse updates and deletes on a published table; Check reports it.
//
// # Goroutines
//
// Run calls the handler from the calling goroutine. For each replication
// connection it starts one goroutine that sends the status updates every
// Config.StatusInterval (so a handler blocked on Kafka does not let the
// server's wal_sender_timeout end the session) and closes the connection
// when the context is done; Run stops it and waits for it before it
// reconnects or returns. Config.Acked is called from that goroutine. While
// a committed streamed transaction is read back from its spool, one more
// goroutine reads, decodes and converts it, handing the events over in
// batches (at most replayBatch × replayBatches waiting) to the calling
// goroutine, which calls the handler; the replay ends before Run goes on.
//
// Values arrive in text form and are converted by package schema's
// PostgreSQL mapper under schema.PostgresSessionSettings, which the reader
// applies to its replication connection, so the snapshot and the stream
// render every value the same way (promise 7). The connection settings,
// TLS included, are the snapshot's (Config.Conn, CreateSlot's conn, both
// from snapshot.PostgresConnConfig), so both paths reach the server alike.
package pgoutput
