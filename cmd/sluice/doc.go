// Command sluice is the daemon's command line: `sluice run` snapshots the
// selected tables and then streams their changes to Kafka, `sluice check`
// verifies every prerequisite and prints each problem with its fix,
// `sluice drop-slot` removes a PostgreSQL source's replication slot, and
// `sluice version` prints the build.
//
// Where it sits: at the top, and it is thin. It loads the configuration
// (package config: file, SLUICE_* environment, flags), logs the
// configuration's warnings, and hands it to package engine, which runs the
// pipeline. Signals (SIGINT, SIGTERM) cancel the context; the engine then
// waits for Kafka to acknowledge what it produced, writes the final
// checkpoint and returns, and sluice exits 0. Only main exits the process.
package main
