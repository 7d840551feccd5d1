// Package tombstone turns change events into Kafka records, so that a
// compacted topic read from the beginning equals the table.
//
// Where it sits: after the sources and before package sink. It knows Kafka
// records but no database.
//
// What it promises:
//   - one topic per table, <prefix>.<database>.<table>;
//   - every record of a row carries the same key (package keys), so all of
//     them land in one partition in commit order (promises 2 and 3);
//   - a delete becomes the row's before-image (op "d") followed by a
//     tombstone: same key, null value (promise 4);
//   - an update that changes the key becomes a delete and tombstone of the
//     old key followed by a create under the new key;
//   - a truncate (PostgreSQL) becomes one record of op "t" with an empty,
//     non-null key (TruncateKey); columns the source did not send are
//     named in the record headers HeaderUnavailableBefore and
//     HeaderUnavailableAfter.
package tombstone
