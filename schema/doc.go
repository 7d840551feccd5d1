// Package schema maps database column types to sluice's canonical values and
// renders those values as JSON.
//
// # Where it sits
//
// Both MySQL/MariaDB sources call into this package: the snapshot describes a
// table with [MySQLTable] (from information_schema.COLUMNS, read with
// [MySQLColumnsQuery]) and converts each field of its text-protocol result
// rows with [MySQLFieldValue]; the binlog reader describes a table with
// [MySQLTableFromTableMap] and converts each value go-mysql decoded with
// [MySQLBinlogValue]. Downstream, [JSONEncoder] turns change events into
// record values and keys, and [AppendJSON] renders a single value.
//
// # What it promises
//
// One mapper serves both paths. For every supported type, the column shape
// built from information_schema equals (reflect.DeepEqual) the one built from
// the binlog's table map of the same table, and a value read by the snapshot
// converts to the same Go value as the same value read from the binlog, so
// the same row renders byte for byte the same. Values are exact: decimals as
// strings with exactly Scale fractional digits, unsigned 64-bit integers as
// uint64, fractional seconds kept to the column's precision, TIMESTAMP as
// UTC, strings converted from their column's character set to UTF-8. Types
// or character sets that cannot be carried exactly are refused with an error
// naming the column and the fix, never guessed. docs/types.md lists every
// type, its Kind, canonical value and JSON rendering; docs/records.md
// describes the record envelope.
//
// Nothing here blocks, spawns goroutines or retries. Converted values never
// alias the buffers they were read from.
package schema
