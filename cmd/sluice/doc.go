// Command sluice is the daemon's command line: `sluice run` snapshots the
// selected tables and then streams their changes to Kafka, `sluice check`
// verifies every prerequisite and prints each problem with its fix,
// `sluice verify` compares the compacted topics with the tables (exit 0
// when equal, 1 when a key differs, 2 when the comparison could not be
// made), `sluice drop-slot` removes a PostgreSQL source's replication
// slot, `sluice status` prints a running instance's state, and `sluice
// version` prints the build.
//
// Where it sits: at the top, and it is thin. It loads the configuration
// (package config: file, SLUICE_* environment, flags), logs the
// configuration's warnings, and hands it to package engine, which runs the
// pipeline. Signals (SIGINT, SIGTERM) cancel the context; the engine then
// waits for Kafka to acknowledge what it produced, writes the final
// checkpoint and returns, and sluice exits 0. Only main exits the process.
package main
