// Package schema maps database column types to sluice's canonical values and
// renders those values as JSON or as Avro in the Confluent wire format, with
// the Avro schemas registered in a schema registry.
//
// # Where it sits
//
// Both MySQL/MariaDB sources call into this package: the snapshot describes a
// table with [MySQLTable] (from information_schema.COLUMNS, read with
// [MySQLColumnsQuery]) and converts each field of its text-protocol result
// rows with [MySQLFieldValue]; the binlog reader describes a table with
// [MySQLTableFromTableMap] and converts each value go-mysql decoded with
// [MySQLBinlogValue]. Both PostgreSQL sources describe a table with
// [PostgresTable] from its attributes (name, type OID, typmod: pg_attribute
// read with [PostgresAttributesQuery] for the snapshot, the Relation message
// for pgoutput), resolving types and primary keys through a
// [PostgresCatalog], and convert every value from PostgreSQL's text output
// (COPY text for the snapshot, pgoutput's text tuples for the stream, both
// under [PostgresSessionSettings]) with [PostgresValue]; the same attributes
// give the same shape and the same text the same value. Downstream, package tombstone turns change events into
// record keys and values through one of two encoders: [JSONEncoder] (and
// [AppendJSON] for a single value), or [AvroEncoder], which derives each
// table shape's key and value schemas ([AvroSchemas]), registers them under
// <topic>-key and <topic>-value with a *sr.Client, and writes Avro binary
// with a plan compiled once per shape. [RecordDecoder] reads those
// records back (sluice verify): a key as one canonical text, a value's
// after-image column by column, so the record sluice would write for a row
// now compares equal to the one it wrote then, whichever schema id or
// field order it carries.
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
// type, its Kind, canonical value and its JSON and Avro renderings;
// docs/records.md describes the record envelope, the Avro wire format,
// subjects and the schema evolution policy.
//
// The Avro encoding keeps the same promises: every value decodes (with any
// Avro reader, goavro in the tests) to exactly the canonical value (decimals
// as Avro decimals of the column's precision and scale, BIGINT UNSIGNED as
// decimal(20,0) unless configured otherwise, microseconds kept); values no
// logical type can hold, such as MySQL's zero dates, never become a real
// date: mapping v1 writes them to a string branch, mapping v2 (the one
// Kafka Connect reads, with Connect and Debezium attributes on each type)
// writes null and reports a sluice.Replacement, which becomes a record
// header. [ConnectJSONEncoder] writes the same v2 types in Kafka Connect's
// JSON form, {"schema", "payload"}. The registry client never registers a
// schema of one mapping under a subject holding the other. A key's bytes, schema id included,
// depend only on the key columns. No record is produced without its schema
// registered. Successive schemas of a table are BACKWARD compatible wherever
// the table change allows it; [AvroBackwardCompatible] checks that.
//
// The mappers and the JSON encoder do not block, spawn goroutines or retry.
// [AvroEncoder] blocks and retries (with backoff, until its context ends)
// while it registers a table shape's schemas and the registry is
// unreachable; once a shape is registered, encoding its records does not
// block. Its caches are bounded (table shapes and registered schemas).
// Converted values never alias the buffers they were read from.
package schema
