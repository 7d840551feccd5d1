package engine

import (
	"context"

	"github.com/sluice-cdc/sluice"
)

// Source is one database's side of the pipeline: it finds a consistent
// point, copies the selected tables as of that point, and follows the
// replication stream from a position. The engine drives every source
// through these methods, in this order: Prepare once; then CanResume and
// Resnapshot, or Position, or Snapshot, depending on the checkpoint; then
// Stream. It calls them from the goroutine running [Engine.Run], one at a
// time.
//
// A Source may also implement [Checker] (for `sluice check`),
// [SlotDropper] and io.Closer (called once when Run ends). The MySQL and
// PostgreSQL sources are adapters over packages snapshot, binlog and
// pgoutput; a test or an embedding program can pass its own with
// [WithSource].
type Source interface {
	// Prepare connects, checks the server and the selected tables, and
	// logs what is worth a warning; a problem that stops the source is its
	// error. resuming says that a stream checkpoint exists, so the stream
	// goes on from it.
	Prepare(ctx context.Context, resuming bool) error
	// CanResume reports, as an error naming the cause and the fix, why the
	// source cannot stream from pos (a purged binlog, a lost slot).
	CanResume(ctx context.Context, pos sluice.Position) error
	// Snapshot takes a new consistent point, calls began with it before
	// the first row reaches h (the engine stores it durably there), hands
	// h every row of every selected table as an OpRead event and returns
	// the point, where the stream then starts.
	Snapshot(ctx context.Context, h Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error)
	// Resnapshot takes the snapshot again for one that began at at and did
	// not finish. It takes a new consistent point, hands catchUp every
	// change between at and that point (the engine passes only deletions
	// on: rows the unfinished snapshot wrote and that were deleted since
	// are deleted downstream, before any row of the new copy), then hands
	// h every row as of the new point, which it returns; the stream starts
	// there, so no key's version goes back.
	Resnapshot(ctx context.Context, at sluice.Position, catchUp, h Handler) (sluice.Position, error)
	// Position returns where streaming starts when no snapshot is taken
	// (snapshot.mode never), and how it was chosen, for the log ("the
	// current binlog position").
	Position(ctx context.Context) (pos sluice.Position, how string, err error)
	// Stream hands h every change from from on, in commit order, with a
	// Resumable call at each transaction boundary, until ctx ends (then
	// it returns nil) or a fatal error. It may reconnect on its own.
	Stream(ctx context.Context, from sluice.Position, h Handler) error
}

// Handler is what sources feed: sluice.Handler, plus what Kafka has
// acknowledged so far, which a source that confirms positions to its server
// (PostgreSQL's slot) reports there. Its methods are called from the
// source's goroutine, except Acked, which may be called from any and does
// not block.
type Handler interface {
	sluice.Handler
	// Acked returns the newest position passed to Resumable whose records,
	// and all before them, Kafka acknowledged; false while there is none.
	Acked() (sluice.Position, bool)
}

// Checker is implemented by sources that can list every problem that
// would stop them, without starting: `sluice check`. Notes are facts worth
// showing that are neither errors nor warnings.
type Checker interface {
	Check(ctx context.Context) (problems sluice.Problems, notes []string)
}

// SlotDropper is implemented by sources that keep a replication slot on
// the server (PostgreSQL): DropSlot removes it, and the next start then
// needs a new snapshot.
type SlotDropper interface {
	DropSlot(ctx context.Context) (slot string, err error)
}
