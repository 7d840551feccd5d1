package sluice

import (
	"context"
	"time"
)

// Op is the kind of change an [Event] records. Its value is the byte used in
// the record envelope's "op" field.
type Op byte

// The operations. OpRead is a row read by the snapshot. OpTruncate empties a
// whole table (PostgreSQL TRUNCATE): its event has neither Before nor After.
const (
	OpRead     Op = 'r'
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpTruncate Op = 't'
)

// String returns the one-letter envelope form of the operation.
func (o Op) String() string { return string(rune(o)) }

// Row holds one value per column of a [Table], in column order. A nil element
// is SQL NULL. Non-nil values have the Go type their column's [Kind] names.
type Row []any

// Event is one row change, or one row read by the snapshot.
type Event struct {
	Op    Op
	Table *Table
	// Before is the row before the change: set for OpUpdate and OpDelete,
	// nil for OpRead and OpCreate.
	Before Row
	// After is the row after the change: set for OpRead, OpCreate and
	// OpUpdate, nil for OpDelete.
	After Row
	// BeforeUnavailable and AfterUnavailable list, as indexes into
	// Table.Columns in ascending order, the columns whose values the
	// source did not send: a nil there means "not known", not SQL NULL.
	// PostgreSQL leaves out of the before-image every column that is not
	// part of the replica identity (REPLICA IDENTITY DEFAULT or USING
	// INDEX), and sends no value for an unchanged TOASTed column in the
	// after-image. Both are nil when every value is present (always for
	// MySQL/MariaDB and snapshot reads).
	BeforeUnavailable []int
	AfterUnavailable  []int
	// Source says where the change was read.
	Source Source
	// Transaction places a streamed event in its transaction when
	// transaction metadata is on; nil otherwise and for snapshot reads.
	Transaction *Transaction
}

// Source is the provenance of an event, carried in the record envelope.
type Source struct {
	// Connector names the source kind: "mysql" or "postgresql".
	Connector string
	// Name is the configured source name (also the checkpoint key).
	Name string
	// ServerID is the MySQL/MariaDB server id that wrote the change.
	ServerID uint32
	// Position is where the event was read. For MySQL/MariaDB it is the
	// binlog file and the position of the event carrying the row; GTID is
	// the transaction's global id when the server assigns one. For
	// PostgreSQL it is the WAL position (LSN) of the change's own record.
	Position Position
	// GTID is the global transaction id of the change, when known.
	GTID string
	// CommitTime is the time the source committed the change (the binlog
	// event timestamp; PostgreSQL's commit timestamp); zero for snapshot
	// reads.
	CommitTime time.Time
	// Snapshot is true for events read by the snapshot.
	Snapshot bool
	// Row is the index of the change's row within its binlog rows event
	// (MySQL/MariaDB; 0 otherwise).
	Row int
	// TxID is the PostgreSQL transaction id (xid) of the change; 0 for
	// snapshot reads and MySQL/MariaDB.
	TxID uint32
}

// Position is a point in a source's change history. A restart from a
// position replays every change committed after it.
//
// MySQL/MariaDB positions use File, Offset and GTIDSet; PostgreSQL positions
// use LSN.
type Position struct {
	File    string `json:"file,omitempty"`
	Offset  uint64 `json:"pos,omitempty"`
	GTIDSet string `json:"gtid_set,omitempty"`
	LSN     uint64 `json:"lsn,omitempty"`
}

// IsZero reports whether p names no position.
func (p Position) IsZero() bool { return p == Position{} }

// Handler consumes what a source reads, in source order. Sources call it from
// a single goroutine.
type Handler interface {
	// Change hands over one event. It may block while downstream buffers
	// are full; that is how a source is slowed to the pace of Kafka. The
	// event and its rows must not be modified by the source afterwards.
	Change(ctx context.Context, ev *Event) error
	// Resumable says that every change before pos has been passed to
	// Change and that a restart from pos loses nothing and repeats
	// nothing after it. Sources call it at transaction boundaries.
	Resumable(ctx context.Context, pos Position) error
}

// SnapshotPlanner is implemented by Handlers that want to know, before a
// snapshot's first row, the tables it will copy, for progress reporting.
// Snapshot readers call SnapshotPlan once per snapshot, from the goroutine
// that calls Change, when the handler implements it.
type SnapshotPlanner interface {
	SnapshotPlan(tables []TableEstimate)
}

// TableEstimate is one table a snapshot will copy and the server's
// estimate of its rows (0 when the server has none).
type TableEstimate struct {
	// Table is db.table (schema.table on PostgreSQL), as Table.FullName.
	Table string
	Rows  uint64
}

// A Replacement is a value an encoder wrote as null because the type of
// its field has no form for it: with Avro mapping v2, a MySQL zero or
// invalid date, a PostgreSQL infinity in a date or timestamp column, NaN
// or an infinity in a numeric, an instant beyond a long of microseconds,
// a multi-dimensional array or one whose lower bound is not 1. Records
// name such values in headers (package tombstone).
type Replacement struct {
	// After is set for a value of the after-image, else of the before-image.
	After bool
	// Column is the index of the column in Table.Columns.
	Column int
	// Text is the value's canonical text (its JSON rendering when the
	// value is not a string).
	Text string
}

// Transaction places a streamed event in its source transaction. Events
// carry it only when transaction metadata is on (transactions.metadata).
type Transaction struct {
	// ID names the transaction: the GTID on MySQL/MariaDB when the server
	// assigns one, else the binlog file and position of its first change;
	// on PostgreSQL the transaction id and the LSN of its first change,
	// "xid:lsn".
	ID string
	// TotalOrder is the event's 1-based position among the transaction's
	// events.
	TotalOrder int64
	// TableOrder is its 1-based position among the transaction's events of
	// the same table.
	TableOrder int64
}

// TransactionBoundary is the beginning or the end of a source
// transaction, written to the transaction topic when transaction metadata
// is on.
type TransactionBoundary struct {
	// End is set for the end of the transaction, else it is its beginning.
	End bool
	// ID is the transaction's Transaction.ID.
	ID string
	// Events counts the transaction's events (End only).
	Events int64
	// Tables counts them per table, "database.table", in the order the
	// tables first appeared (End only).
	Tables []TableEvents
	// CommitTime is the source's commit time of the transaction.
	CommitTime time.Time
}

// TableEvents is the number of a transaction's events on one table.
type TableEvents struct {
	Table  string
	Events int64
}
