// Package snapshot reads every selected table at one consistent point of the
// source's history and reports that point, so the stream can start exactly
// there (promise 1).
//
// Where it sits: first in the flow, before package binlog. Each row becomes
// a sluice.Event with op "r", handed to a sluice.Handler as it arrives; the
// snapshot never holds more than one row of a table in memory (promise 8):
// rows stream from the server, and a slow Kafka slows the read through TCP
// back-pressure.
//
// MySQL/MariaDB: FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH
// CONSISTENT SNAPSHOT at REPEATABLE READ, read the binlog file, position and
// GTID set, UNLOCK TABLES; then read the tables inside that transaction. The
// global lock lasts as long as those few statements. Without the RELOAD
// privilege it falls back, and logs that it did: on MariaDB to the lock-free
// consistent snapshot whose binlog position the server reports
// (binlog_snapshot_file / binlog_snapshot_position); on MySQL to LOCK TABLES
// … READ on the selected tables, held until the copy is done. A read that
// only compares (sluice verify, Config.LockFree) takes no lock at all.
//
// PostgreSQL: [RunPostgres] imports the snapshot that creating the
// replication slot exported (BEGIN ISOLATION LEVEL REPEATABLE READ, READ
// ONLY; SET TRANSACTION SNAPSHOT), so it sees the database exactly at the
// slot's consistent point, where the pgoutput stream starts; the exporting
// replication connection must stay open and idle until the read is done.
// Inside that transaction it lists the selected tables ([ListPostgresTables]:
// ordinary and partitioned tables; partitions are read through their
// partitioned table, as the stream reports them), takes ACCESS SHARE locks on
// all of them so no ALTER or DROP interleaves, reads their shapes from
// pg_attribute ([LoadPostgresShape], the columns a Relation message lists)
// and streams each with COPY (SELECT …) TO STDOUT in text format, parsing the
// stream line by line into rows without buffering a table. The locks block
// no row writes; ALTER, DROP, TRUNCATE and VACUUM FULL of a selected table
// wait until the read ends. A read of its own (no exported snapshot, sluice
// verify) learns its WAL position inside its transaction through
// PostgresConfig.Position.
//
// Values are converted by package schema, the same mapper the binlog path
// (MySQL) or the pgoutput path (PostgreSQL, text format under
// schema.PostgresSessionSettings on both) uses, so a row renders identically
// from either path (promise 7).
package snapshot
