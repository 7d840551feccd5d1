// Package transform rewrites the values of chosen columns before they leave
// sluice: mask (every value becomes a fixed text), hash (the lower-case hex
// SHA-256 of a secret salt and the value's text) and truncate (strings keep
// at most N characters), the column transforms Debezium users reach for
// first (column.mask.with, column.mask.hash, column.truncate.to).
//
// Where it sits: between the sources and the records. The engine's pipeline
// hands every event, snapshot read or streamed change alike, to
// [Transformer.Event] before it makes the event's records (package
// tombstone), so both paths carry the same transformed values and the same
// schemas. The engine makes a Transformer only when the transforms settings
// name a column; without one nothing is done and nothing is spent.
//
//	source event ──► Transformer.Event ──► tombstone.Builder (keys · schema) ──► sink
//	                 (derived table shape, new rows)
//
// What it promises:
//   - The source's event, table and rows are never modified: a transformed
//     event is a new Event with a derived [sluice.Table] and new rows.
//     Events of tables without transformed columns are returned as they
//     are.
//   - The derived table says what was done: each transformed column's
//     Transform ("mask", "sha256", "truncate(N)"), which the schemas carry
//     as sluice.transform. Masked and hashed columns become strings
//     (KindString) with a source type that describes the new values, so
//     sinks create string columns for them.
//   - One derived table per source table shape, the same pointer every
//     time while cached, so the encoders' per-shape caches keep working;
//     the cache is bounded (cleared at 4096 shapes, as shapes come and go
//     with DDL).
//   - NULL stays NULL; a column whose value the source did not send
//     (Event.BeforeUnavailable, AfterUnavailable) stays nil and unavailable.
//   - Hashing is deterministic for one salt: the same value always gives
//     the same hash, in the snapshot and in the stream, before and after a
//     restart. That keeps hashed key columns stable (compaction works) and
//     lets consumers join on hashed columns; it also means equal values are
//     visible as equal.
//   - What cannot work is an error, naming the column, the setting and the
//     fix, when a table shape is first met: a masked or truncated key column
//     (keys would collide), a truncated column that is not a string, a
//     column two transforms match. The salt never appears in errors.
//
// A Transformer is used from one goroutine (the source's, like the Handler
// it serves); it neither blocks nor starts goroutines.
package transform
