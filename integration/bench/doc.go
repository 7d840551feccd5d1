// Command bench measures sluice end to end on this machine and writes the
// figures to BENCHMARKS.md; `make bench` runs it.
//
//	go run ./integration/bench -out BENCHMARKS.md
//
// # Where it sits
//
// It is not part of the data flow and not part of `make test`: benchmarks
// are never timed assertions. Like the integration tests it starts a real
// MariaDB, PostgreSQL, Kafka broker and, for Avro, schema registry with
// package deploy/local (throwaway processes on loopback, in a temporary
// directory), builds sluice without the race detector and runs `sluice run`
// as a child process with a generated configuration, exactly as a user
// would.
//
// # What it measures
//
// It loads a table of -rows rows (ten mixed columns, about 110 bytes per
// row) and a table of a tenth of that, then runs these phases, each with a
// fresh sluice process:
//
//   - the snapshot of the small table and of the main table (rows/s from
//     sluice's start until Kafka acknowledged the last row);
//   - three backlogs written to the binary log while sluice is stopped,
//     then drained by sluice from its checkpoint: one change per row in
//     -chunk-row transactions, -single-rows single-row transactions, and
//     one transaction of -rows rows (events/s from the first record to the
//     last, start-up apart);
//   - the snapshot of a table ten times as big (-scale10, on by default).
//
// On PostgreSQL it loads the same table (generate_series, before any slot
// exists, so the load is never decoded) and runs the snapshot and the same
// three backlogs. Its stream ceiling is pg_recvlogical draining each
// backlog through a pgoutput slot of its own; its read ceiling is COPY …
// TO STDOUT.
//
// With -format=both (the default) the main snapshot and the multi-row
// stream of each database run twice, with format json and with format avro
// (a registry from deploy/local), each through a sluice source of its own;
// the encoders' micro-benchmarks (go test -bench 'Avro|JSON' ./schema/) run
// too. The mapping phase repeats MariaDB's Avro snapshot and multi-row
// stream in Avro mapping v1 and again in v2 (the default), so the cost of
// mapping v2 is measured within one run. The admin phase repeats MariaDB's
// snapshot and multi-row stream in the main format with the admin server
// off (admin.listen "", as in every other phase) and on (127.0.0.1:0, the
// port read from sluice's log, /metrics scraped by the bench every second),
// alternating off, on, off, on, so that the cost of metrics on the hot path
// (the bound: at most 2% of throughput) is measured within one run.
// The eos phase does the same with kafka.exactly_once false (as in every
// other phase) and true: records in Kafka transactions, each committed with
// its checkpoint at a source transaction boundary, at most every
// kafka.checkpoint_interval (the bound: at most 15% of throughput).
// Its runs, off and on alike, end on what a read_committed consumer sees:
// the topic's last stable offsets reach the target, and a read_committed
// read of the phase's range finds every record, the transactions' markers
// (control records, which take offsets too) apart; the first record is
// still the first one written, committed or not, so that a drain's rate
// does not start at its first commit.
//
// -source and -format choose databases and formats; -only runs a subset of
// the phases (the main snapshots always run: the streams resume from their
// checkpoints; admin and eos run the multi-row stream's main drain too), for
// profiling one path.
//
// For every phase it records sluice's CPU time and peak RSS from /proc, the
// cores MariaDB, Kafka and anything else used meanwhile, and, when perf is
// available, a CPU profile of sluice. As ceilings it measures the mariadb
// client reading the main table and go-mysql alone decoding each backlog
// with sluice's options, profiled with runtime/pprof, and on PostgreSQL
// COPY and pg_recvlogical.
// Before the run and before each phase it waits for the machine to be idle
// (no other database server, broker or test run), and says in the report
// when it was not.
//
// # Promises
//
//   - Nothing it starts outlives it: the servers, sluice and perf die with
//     it (parent-death signal), and a normal end or Ctrl-C stops them and
//     removes the working directory (-keep keeps it).
//   - Every wait is bounded: a phase fails when its topic does not grow for
//     90 s, when sluice exits, or when -timeout passes; the error quotes
//     the end of sluice's log.
//   - BENCHMARKS.md is written only after every phase succeeded. The
//     analysis in findings.md, next to this file, is copied into it.
package main
