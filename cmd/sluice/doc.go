// Command sluice is the daemon's command line: `sluice run` snapshots the
// selected tables and then streams their changes to Kafka, `sluice check`
// verifies every prerequisite and prints each problem with its fix,
// `sluice drop-slot` removes a PostgreSQL source's replication slot, and
// `sluice version` prints the build.
//
// Where it sits: it loads the configuration (file, SLUICE_* environment,
// flags), wires a source (MySQL/MariaDB: snapshot, then binlog; PostgreSQL:
// publication and slot, the snapshot the slot exported, then pgoutput) to
// the record builder (tombstone) with the configured encoder (Avro through
// a schema registry, or JSON) and the producer (sink), and owns their
// goroutines. The PostgreSQL stream learns what Kafka acknowledged from the
// producer, and only that position is confirmed to the server. Signals
// (SIGINT, SIGTERM) cancel the context; sluice then waits for Kafka to
// acknowledge what it produced, writes the final checkpoint and exits 0.
// Only main exits the process.
package main
