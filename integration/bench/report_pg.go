package main

import (
	"fmt"
	"slices"
	"strings"
)

// Targets of the PostgreSQL and Avro phases.
const (
	targetPGSnapshot = 200_000 // rows/s
	// targetPGCeiling is the share of pg_recvlogical's rate a PostgreSQL
	// stream must reach.
	targetPGCeiling = 0.90
	// targetAvroShare is the share of JSON's throughput Avro must keep:
	// Avro may cost at most 30%.
	targetAvroShare = 0.70
)

// allPhases returns every phase that ran: MariaDB's, then PostgreSQL's,
// each followed by its runs in the second format.
func (r *results) allPhases() []*phase {
	out := r.phases()
	add := func(source string) {
		for _, f := range r.Formats {
			if f.Source == source && !slices.Contains(out, f.Phase) {
				out = append(out, f.Phase)
			}
		}
	}
	add("mysql")
	for _, t := range r.TLS {
		if !slices.Contains(out, t.Phase) {
			out = append(out, t.Phase)
		}
	}
	if r.PG != nil {
		out = append(out, r.PG.phases()...)
	}
	add("postgresql")
	return out
}

// intro is the report's opening paragraph after its first line.
func (r *results) intro() string {
	var b strings.Builder
	o := r.Options
	if c := r.ClientRead; c != nil {
		fmt.Fprintf(&b, "sluice copies a %s-row table (10 mixed columns, %.0f bytes per row as text) from MariaDB into a real Kafka broker,\n"+
			"then drains backlogs of changes from the binary log.", thousands(o.rows), float64(c.Bytes)/float64(o.rows))
	}
	if r.PG != nil {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "On PostgreSQL the same %s-row table", thousands(o.rows))
		if c := r.PG.CopyRead; c != nil {
			fmt.Fprintf(&b, " (%.0f bytes per row as COPY text)", float64(c.Bytes)/float64(c.Rows))
		}
		b.WriteString(" is copied, then backlogs are drained through a pgoutput slot.")
	}
	if len(r.Formats) > 0 && len(o.formats) > 1 {
		b.WriteString("\nThe main snapshot and the multi-row stream run once with `format: json` and once with `format: avro` (schemas in a\n" +
			"real schema registry); the other phases use JSON.")
	} else if len(o.formats) == 1 {
		fmt.Fprintf(&b, "\nEvery phase uses `format: %s`.", o.formats[0])
	}
	b.WriteString(" The databases, Kafka and sluice share the machine below.\n\n")
	return b.String()
}

// pgCeilingShare is the share of pg_recvlogical's rate that a PostgreSQL
// stream reached, both counted from the process start (pg_recvlogical
// connects and starts its slot too), and whether it is known.
func pgCeilingShare(p *phase) (float64, bool) {
	if p == nil || p.Backlog == nil || p.Backlog.Recv == nil || p.Total() <= 0 {
		return 0, false
	}
	return p.Backlog.Recv.Elapsed.Seconds() / p.Total().Seconds(), true
}

// recvRate is pg_recvlogical's rate over a phase's backlog in rows/s.
func recvRate(p *phase) float64 {
	if p.Backlog == nil || p.Backlog.Recv == nil || p.Backlog.Recv.Elapsed <= 0 {
		return 0
	}
	return float64(p.Records) / p.Backlog.Recv.Elapsed.Seconds()
}

// pgResultRows are the PostgreSQL rows of the results table.
func (r *results) pgResultRows() string {
	if r.PG == nil {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	pr := r.PG
	if p := pr.Snapshot; p != nil {
		w("| %s, sluice start to last record acknowledged in Kafka | **%s rows/s** (%s; sluice's own log: %s rows/s) | ≥ 200 k rows/s | %s |\n",
			p.Title, krate(p.Rate()), secs(p.Total()), krate(float64(p.Records)/p.Took.Seconds()), yesNo(p.Rate() >= targetPGSnapshot))
	}
	for _, p := range []*phase{pr.StreamMulti, pr.StreamSingle, pr.StreamTx} {
		if p == nil {
			continue
		}
		share, ok := pgCeilingShare(p)
		if !ok {
			w("| %s, backlog drained | **%s events/s** (%s, start-up %s apart) | ≥ 90%% of pg_recvlogical | no ceiling measured |\n",
				p.Title, krate(p.Rate()), secs(p.Drain()), secs(p.Startup()))
			continue
		}
		w("| %s, backlog drained | **%s events/s** start-up included (%s); %s events/s drain alone; pg_recvlogical %s rows/s: **%.0f%%** of it | ≥ 90%% of pg_recvlogical | %s |\n",
			p.Title, krate(float64(p.Records)/p.Total().Seconds()), secs(p.Total()), krate(p.Rate()), krate(recvRate(p)), 100*share, yesNo(share >= targetPGCeiling))
	}
	var figs, labels []string
	ok := true
	for _, p := range pr.phases() {
		figs = append(figs, mb(p.PeakRSS))
		labels = append(labels, strings.TrimPrefix(p.Title, "PostgreSQL "))
		ok = ok && p.PeakRSS <= targetRSS
	}
	if pr.StreamMulti != nil && pr.StreamTx != nil {
		ok = ok && float64(pr.StreamTx.PeakRSS) <= flatFactor*float64(pr.StreamMulti.PeakRSS)
	}
	if len(figs) > 0 {
		w("| sluice peak RSS, PostgreSQL: %s | **%s** | ≤ 150 MB, one huge transaction no bigger than small ones (≤ %.0f%%) | %s |\n",
			strings.Join(labels, " / "), strings.Join(figs, " / "), (flatFactor-1)*100, yesNo(ok))
	}
	return b.String()
}

// sourceLabel names a source in the report.
func sourceLabel(source string) string {
	if source == "postgresql" {
		return "PostgreSQL"
	}
	return "MariaDB"
}

// avroShare is Avro's throughput as a share of JSON's for one pair.
func avroShare(json, avro *phase) float64 {
	if json == nil || avro == nil || json.Rate() <= 0 {
		return 0
	}
	return avro.Rate() / json.Rate()
}

// formatResultRows are the Avro-against-JSON rows of the results table.
func (r *results) formatResultRows() string {
	var b strings.Builder
	for _, source := range []string{"mysql", "postgresql"} {
		for _, kind := range []string{"snapshot", "stream"} {
			j, a := r.formatPair(source, kind)
			if j == nil || a == nil {
				continue
			}
			what := "snapshot"
			if kind == "stream" {
				what = "multi-row stream"
			}
			share := avroShare(j, a)
			fmt.Fprintf(&b, "| Avro against JSON, %s %s | JSON %s/s, Avro %s/s: **Avro at %.0f%%** (costs %.0f%%) | Avro costs ≤ 30%% | %s |\n",
				sourceLabel(source), what, krate(j.Rate()), krate(a.Rate()), 100*share, 100*(1-share), yesNo(share >= targetAvroShare))
		}
	}
	return b.String()
}

// pgCeilingRows are the PostgreSQL rows of the ceilings table.
func (r *results) pgCeilingRows() string {
	if r.PG == nil {
		return ""
	}
	var b strings.Builder
	if c := r.PG.CopyRead; c != nil {
		fmt.Fprintf(&b, "| `COPY bench.orders TO STDOUT` (text) through pgx over TCP, output counted and dropped | %s rows/s (%s, %.0f bytes/row) |\n",
			krate(float64(c.Rows)/c.Elapsed.Seconds()), secs(c.Elapsed), float64(c.Bytes)/float64(c.Rows))
	}
	for _, p := range []*phase{r.PG.StreamMulti, r.PG.StreamSingle, r.PG.StreamTx} {
		if p == nil || p.Backlog == nil || p.Backlog.Recv == nil {
			continue
		}
		bl := p.Backlog
		share, _ := pgCeilingShare(p)
		fmt.Fprintf(&b, "| `pg_recvlogical` (pgoutput, proto_version 1, a slot of its own, output to /dev/null), backlog \"%s\" (%.0f MB of WAL) | %s rows/s (%s; the machine busy %s cores in all, pg_recvlogical itself %s); sluice reached %.0f%% of it, start-up included |\n",
			bl.What, float64(bl.Bytes)/1e6, krate(recvRate(p)), secs(bl.Recv.Elapsed),
			cores(bl.DecodeShare.total()), cores(bl.Recv.CPU.Seconds()/bl.Recv.Elapsed.Seconds()), 100*share)
	}
	return b.String()
}

// formatSection is the Avro-against-JSON section: every pair in detail
// and the encoders alone.
func (r *results) formatSection() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	var pairs [][2]*phase
	var names []string
	for _, source := range []string{"mysql", "postgresql"} {
		for _, kind := range []string{"snapshot", "stream"} {
			if j, a := r.formatPair(source, kind); j != nil && a != nil {
				pairs = append(pairs, [2]*phase{j, a})
				names = append(names, sourceLabel(source)+" "+map[string]string{"snapshot": "snapshot", "stream": "multi-row stream"}[kind])
			}
		}
	}
	if len(pairs) == 0 && len(r.Encoders) == 0 {
		return ""
	}
	w("## Avro against JSON\n\n")
	if len(pairs) > 0 {
		w("The same phase twice, each with a sluice source of its own (its own topics, checkpoint and, on PostgreSQL, slot): once\n" +
			"`format: json`, once `format: avro` with `schema_registry.urls` pointing at a real registry (Apicurio Registry 2.4.2,\n" +
			"Confluent-compatible API, started by deploy/local). Both streams drain the same backlog. Rates as in the results: a\n" +
			"snapshot from sluice's start, a stream from its first record.\n\n")
		w("| phase | JSON records/s | Avro records/s | Avro / JSON | CPU / 1 M, JSON / Avro | peak RSS, JSON / Avro |\n|---|---:|---:|---:|---|---|\n")
		for i, pr := range pairs {
			j, a := pr[0], pr[1]
			w("| %s | %s | %s | %.0f%% | %s / %s | %s / %s |\n", names[i], thousands(int64(j.Rate())), thousands(int64(a.Rate())),
				100*avroShare(j, a), secs(j.CPUPerMillion()), secs(a.CPUPerMillion()), mb(j.PeakRSS), mb(a.PeakRSS))
		}
		w("\n")
	}
	if len(r.Encoders) > 0 {
		w("The encoders alone, on the 10-column row of the bench table's shape, same machine, same run:\n\n")
		w("```sh\ngo test -run '^$' -bench 'Avro|JSON' -benchmem ./schema/\n```\n\n")
		w("| benchmark | µs per op | B/op | allocs/op |\n|---|---:|---:|---:|\n")
		for _, e := range r.Encoders {
			w("| %s | %.2f | %s | %s |\n", e.Name, e.NsPerOp/1000, countOrDash(e.BytesPerOp), countOrDash(e.AllocsPerOp))
		}
		w("\n*Value* encodes one row's record value (envelope with the after-image), *Key* its key; *Alloc* variants return a fresh\n" +
			"slice per call the way the pipeline's `Value` does, the others append to a reused buffer; *GoavroValue* is goavro's\n" +
			"`BinaryFromNative` on the same schema, for scale.\n\n")
	}
	return b.String()
}

func countOrDash(n int64) string {
	if n < 0 {
		return "—"
	}
	return thousands(n)
}

// pgMethod is the PostgreSQL part of the method section.
func (r *results) pgMethod() string {
	if r.PG == nil {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	w("### The PostgreSQL table and server\n\n")
	w("- %s (deploy/local: wal_level=logical, fsync=off, synchronous_commit=off, full_page_writes=off, shared_buffers=128MB).\n", r.PG.Version)
	w("- `bench.orders` in database `bench`, schema `bench`: the MariaDB columns mapped to PostgreSQL's types: `id bigint` primary key,\n" +
		"  `customer_id integer`, `sku varchar(24)`, `qty smallint`, `price numeric(10,2)`, `status` a 5-member enum type,\n" +
		"  `created_at timestamp(6)`, `updated_at timestamptz(3)`, `note varchar(40)` (10%% NULL), `flags smallint`; default replica\n" +
		"  identity (the primary key). The same values, generated by the server with `generate_series`.\n")
	w("- Loaded (%s rows in %s, then `VACUUM ANALYZE`) before any replication slot exists, so no slot decodes or streams the load.\n",
		thousands(o.rows), secs(r.PG.LoadTime))
	w("- Each format has a sluice source of its own (`pg-json`, `pg-avro`) with its own slot and publication (`bench_json`,\n" +
		"  `bench_avro`), created by sluice in its snapshot phase; later phases resume from the checkpoint and the slot.\n")
	w("- Backlogs are written while sluice is stopped, like MariaDB's: UPDATEs of %s rows in autocommit; single-row UPDATEs from\n"+
		"  a procedure that COMMITs after each row (`CALL bench.touch_orders(lo, hi)` from %d connections); one `INSERT … SELECT`.\n", thousands(o.chunk), o.conns)
	for _, p := range []*phase{r.PG.StreamMulti, r.PG.StreamSingle, r.PG.StreamTx} {
		if p != nil && p.Backlog != nil {
			w("  - %s: %s; %s (transaction ids taken, `txid_current()`), %.0f MB of WAL, written in %s.\n",
				p.Title, p.Backlog.What, plural(int64(p.Backlog.Txns), "transaction"), float64(p.Backlog.Bytes)/1e6, secs(p.Backlog.Generated))
		}
	}
	w("- **Ceiling**: before each backlog the bench creates a pgoutput slot of its own (`bench_ceiling`, with the publication\n" +
		"  `bench_ceiling` over both tables), so it holds exactly that backlog; afterwards it runs\n" +
		"  `pg_recvlogical --start --endpos=<LSN after the backlog> --option=proto_version=1 --option=publication_names=bench_ceiling -f - >/dev/null`\n" +
		"  from the server's bin directory, times it from start to exit and drops the slot. That is the server\n" +
		"  decoding the WAL with pgoutput and a client receiving it, with nothing done to the changes. sluice's share of it\n" +
		"  compares both from process start to the last change (sluice: to the last record acknowledged by Kafka), because the\n" +
		"  server decodes a transaction before it sends any of it, which a drain timed from the first record would leave out.\n" +
		"  After each PostgreSQL phase, while its sluice still runs idle, the bench issues `CHECKPOINT` and waits until that\n" +
		"  sluice's slot has moved its `restart_lsn` past the phase's WAL (at most a minute, outside every figure). Otherwise\n" +
		"  the next phase's walsender would decode the tail of the previous backlog again before reaching its own, which the\n" +
		"  ceiling's fresh slot never does.\n")
	w("- The snapshot's second figure is sluice's own `snapshot: table done` log line, as for MariaDB.\n\n")
	return b.String()
}
