package main

import (
	"fmt"
	"strings"
)

// targetEOSShare is the bound on the cost of exactly-once
// delivery: with kafka.exactly_once on, at most 15% less throughput.
const targetEOSShare = 0.85

// eosPhase is the eos phase: kafka.exactly_once false (off, as every other
// phase) against true (on: records in Kafka transactions, each committed
// with its checkpoint at a source transaction boundary, at most every
// kafka.checkpoint_interval). Both end on what a read_committed consumer
// sees, so that they are timed alike.
var eosPhase = onOffPhase{
	name: "eos", setting: "exactly-once",
	set:     func(c *sluiceConfig, on bool) { c.ExactlyOnce = on },
	prepare: func(ph *phase, _ bool) { ph.Committed = true },
	runs:    func(r *results) *onOffRuns { return &r.EOS },
}

// txnShare is the share of a perf profile's samples in the work of
// transactions that samples can tell apart: sluice's commit
// (`sink.(*Producer).commitTxn`: the flush, the checkpoint record and
// EndTransaction) and franz-go's AddPartitionsToTxn before a produce
// request (`kgo.(*sink).doTxnReq`), both inclusive and not nested in one
// another; and whether there is a profile.
func txnShare(p *phase) (float64, bool) {
	return perfShare(p, func(s string) bool {
		return s == "github.com/sluice-cdc/sluice/sink.(*Producer).commitTxn" || s == "github.com/twmb/franz-go/pkg/kgo.(*sink).doTxnReq"
	})
}

// eosResultRows are the rows of the results table: the rate and CPU with
// exactly-once on against off, target on at ≥ 85% of off's rate.
func (r *results) eosResultRows() string {
	return r.EOS.resultRows(targetEOSShare, func(what string, on []*phase) string {
		return fmt.Sprintf("Exactly-once: `kafka.exactly_once` on against off, MariaDB %s, %s", what, on[0].Format)
	})
}

// eosSection is the exactly-once comparison in detail.
func (r *results) eosSection() string {
	if !r.EOS.complete() {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Exactly-once delivery: on against off\n\n")
	w("After the main phase (at least once, not counted here: a phase's first run is often the slowest), sources of their\n" +
		"own run the same phase with `kafka.exactly_once: false` (off) and `true` (on), alternating off, on, off, on. \"On\"\n" +
		"writes the records in Kafka transactions, each committed together with its checkpoint record at a source transaction\n" +
		"boundary (in the snapshot, a mark every 1,024 rows), at most every `kafka.checkpoint_interval` (1 s). Every run of\n" +
		"this phase is timed on what a read_committed consumer sees: the first record is the first one written, committed or\n" +
		"not; the last is there when the topic's last stable offset has reached the target and a read_committed read of the\n" +
		"phase's range (by the bench, after that moment, so in its cores and Kafka's, not in sluice's figures) finds every\n" +
		"record, the transactions' markers, which take offsets too, apart. Rates are records per second, CPU is sluice's CPU\n" +
		"seconds per 1 M records; the ratios compare the means. *Spread* is how far the two runs of one setting lie apart\n" +
		"(largest minus smallest over their mean): this machine's noise for that phase, against which to read the ratio.\n" +
		"*perf: transactions* is the share of sluice's perf samples (inclusive) in its commits (`sink.(*Producer).commitTxn`:\n" +
		"flush, checkpoint record, EndTransaction) plus franz-go's AddPartitionsToTxn requests (`kgo.(*sink).doTxnReq`); much\n" +
		"of a commit is waiting for the flush, which costs throughput but no samples; perf drops entries under 0.1%%, so such\n" +
		"a share reads 0.0%%. *Markers* are the transactions' control records the read found in the topic: one per committed\n" +
		"transaction that wrote to it. *Other work* is the cores used by everything outside the bench's process tree during the\n" +
		"run, the likeliest cause of a slow one.\n\n")
	markers := perRun("markers", func(p *phase) string { return thousands(p.Seen.Markers) })
	w("%s\n", r.EOS.table(append(onOffRateColumns(), perfShareColumn("transactions", txnShare), otherWorkColumn, markers)))
	return b.String()
}
