// Command sluice is the daemon's command line: `sluice run` snapshots the
// selected tables and then streams their changes to Kafka, `sluice check`
// verifies every prerequisite and prints each problem with its fix, and
// `sluice version` prints the build.
//
// Where it sits: it loads the configuration (file, SLUICE_* environment,
// flags), wires a source (snapshot, then binlog) to the record builder
// (tombstone) and the producer (sink), and owns their goroutines. Signals
// (SIGINT, SIGTERM) cancel the context; sluice then waits for Kafka to
// acknowledge what it produced, writes the final checkpoint and exits 0.
// Only main exits the process.
package main
