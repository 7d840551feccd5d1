// Package binlog follows a MySQL or MariaDB binary log over the replication
// protocol (go-mysql's replication package) and turns row events into
// sluice change events.
//
// Where it sits: after the snapshot, from exactly the position the snapshot
// read under its lock (or from the stored checkpoint on a restart). It hands
// events to a sluice.Handler, which encodes and produces them; the Handler's
// Resumable is called at every transaction boundary, so checkpoints only
// ever name positions a restart can begin at.
//
// What it promises:
//   - Rows are decoded with the table shape carried by the binlog's own
//     TABLE_MAP events (binlog_row_metadata=FULL), never with today's table
//     definition (promise 6). A DDL statement is logged; the next TABLE_MAP
//     event carries the new shape.
//   - Events reach the handler in binlog order, which is commit order
//     (promise 2). Multi-row events become one event per row; transactions
//     are never buffered whole, so memory does not grow with a transaction
//     (promise 8): at most EventCache binlog events wait between the
//     network and the handler.
//   - With Config.Until, Run ends before the first event at or after it,
//     having handed on every transaction before it (a retaken snapshot's
//     catch-up to its new consistent point); positions compare with
//     Before.
//   - A position that the server no longer has (purged binlog) is a loud
//     error naming the file and the fix; nothing is skipped (promise 9).
//   - A lost connection is re-established from the last transaction
//     boundary; changes after it are delivered again, never lost. The waits
//     between attempts are sluice's one retry policy (package
//     internal/retry: exponential backoff with jitter, Config.ReconnectBackoff
//     doubling to 30 s, at most Config.MaxReconnects consecutive failures),
//     and what counts as a lost connection is decided in one place,
//     Retryable, from error types and MySQL error numbers, never from error
//     text.
package binlog
