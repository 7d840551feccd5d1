package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// options are the command-line settings.
type options struct {
	out        string
	rows       int64
	singleRows int64
	chunk      int64
	conns      int
	scale10    bool
	profile    bool
	keep       bool
	idleWait   time.Duration
	timeout    time.Duration
	sluiceArgs []string
	brokerCfg  bool
	only       map[string]bool // phases to run; nil runs all
	sources    []string        // "mysql", "postgresql", in that order
	formats    []string        // "json", "avro"; the first is the main format
}

// mysql and postgres report whether the source runs.
func (o options) mysql() bool    { return slices.Contains(o.sources, "mysql") }
func (o options) postgres() bool { return slices.Contains(o.sources, "postgresql") }

// avro reports whether any phase uses Avro (and so the registry).
func (o options) avro() bool { return slices.Contains(o.formats, "avro") }

// parseChoice reads a value of -source or -format: one of choices, or
// "both" for all of them in their order.
func parseChoice(flagName, s string, choices ...string) ([]string, error) {
	if s == "both" {
		return choices, nil
	}
	if slices.Contains(choices, s) {
		return []string{s}, nil
	}
	return nil, fmt.Errorf("-%s: unknown value %q (choose %s or both)", flagName, s, strings.Join(choices, ", "))
}

// phaseNames are the phases -only may name; the snapshot of the main
// table always runs, because the streams resume from its checkpoint.
// small and 10x are MariaDB's alone; multi, single and tx run on every
// -source; encoders is the schema package's micro-benchmarks; tls repeats
// MariaDB's main snapshot and, with multi, its multi-row stream over TLS,
// beside a second plain-text run; mapping repeats the Avro ones in Avro
// mappings v1 and v2, after the main (v2) run; admin repeats MariaDB's
// main snapshot and multi-row stream in the main format with the admin
// server off and on (its /metrics scraped every second), after the main
// (off) runs, and so runs the multi-row stream's main drain without multi;
// eos does the same with kafka.exactly_once off and on, each run ending on
// what a read_committed consumer sees (both share onoff.go).
var phaseNames = []string{"small", "multi", "single", "tx", "10x", "encoders", "tls", "mapping", "admin", "eos"}

// runs reports whether the phase named name runs.
func (o options) runs(name string) bool {
	if o.only == nil {
		return name != "10x" || o.scale10
	}
	return o.only[name]
}

// parseOnly reads the value of -only.
func parseOnly(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(phaseNames, n) {
			return nil, fmt.Errorf("-only: unknown phase %q (choose from %s)", n, strings.Join(phaseNames, ", "))
		}
		out[n] = true
	}
	return out, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var o options
	var args listFlag
	var only, source, format string
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file the results are written to")
	flag.Int64Var(&o.rows, "rows", 1_000_000, "rows of the main table: the snapshot, the multi-row and the one-transaction backlogs")
	flag.Int64Var(&o.singleRows, "single-rows", 1_000_000, "single-row transactions in the single-row backlog")
	flag.Int64Var(&o.chunk, "chunk", 10_000, "rows per transaction in the multi-row backlog")
	flag.IntVar(&o.conns, "conns", 4, "connections that write the single-row backlog in parallel")
	flag.BoolVar(&o.scale10, "scale10", true, "also snapshot a table of 10×rows, for the memory comparison (loading it takes a minute or two)")
	flag.BoolVar(&o.profile, "profile", true, "sample sluice with perf during every phase (skipped when perf is missing)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (configs, sluice logs, perf data) and print its path")
	flag.DurationVar(&o.idleWait, "wait-idle", 5*time.Minute, "longest wait for other work on the machine to stop before a measurement")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	flag.Var(&args, "sluice-flag", "extra flag for `sluice run`, e.g. --kafka.linger=10ms (repeatable)")
	flag.StringVar(&only, "only", "", "run only these phases besides the main snapshots, comma-separated: "+strings.Join(phaseNames, ",")+" (small, 10x, tls, mapping, admin and eos are MariaDB's; multi, single and tx run on every -source; for profiling one path, the report then lacks the others)")
	flag.StringVar(&source, "source", "both", "source databases to measure: mysql (MariaDB), postgresql or both")
	flag.StringVar(&format, "format", "both", "record formats: json, avro or both; with both, the main snapshot and the multi-row stream run in each and the other phases in json")
	flag.BoolVar(&o.brokerCfg, "test-broker-topics", false, "keep the test broker's topic settings (1 MB segments, compaction every second) instead of Kafka's defaults")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./integration/bench [flags]\n\n"+
			"Measures sluice end to end against a local MariaDB and PostgreSQL, Kafka and a schema registry, and writes\n"+
			"the figures to -out.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || o.rows < 1000 || o.singleRows < 1 || o.chunk < 1 || o.conns < 1 {
		flag.Usage()
		os.Exit(2)
	}
	o.sluiceArgs = args
	var err error
	if o.only, err = parseOnly(only); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if o.sources, err = parseChoice("source", source, "mysql", "postgresql"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if o.formats, err = parseChoice("format", format, "json", "avro"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if interrupted {
			err = fmt.Errorf("%w: %w", errInterrupted, err)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// say prints one step of the bench.
func say(format string, args ...any) {
	fmt.Printf("%s ==> "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// run is the whole bench. It blocks for its duration, and stops every
// process it started before it returns.
func run(ctx context.Context, o options) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	began := time.Now()
	root, err := findRoot()
	if err != nil {
		return err
	}
	res := &results{Options: o, Began: began, LoadStart: loadAverage()}

	if o.profile {
		if ok, why := perfAvailable(ctx); !ok {
			say("no profiles: %s", why)
			o.profile = false
			res.NoProfile = why
		}
	}
	say("Checking that the machine is idle (load average %s)", res.LoadStart)
	res.StartBusy = waitIdle(ctx, o.idleWait)

	work, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return fmt.Errorf("create working directory: %w", err)
	}
	if o.keep {
		defer say("Working directory kept: %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	if err := checkDisk(work, o); err != nil {
		return err
	}

	bin := filepath.Join(work, "sluice")
	say("Building sluice (no race detector) into %s", bin)
	if err := local.BuildSluice(ctx, root, bin); err != nil {
		return err
	}

	b := &bench{work: work, bin: bin, profile: o.profile, extra: o.sluiceArgs, idleWait: o.idleWait}
	if !o.brokerCfg {
		b.topicCfg = kafkaDefaultTopicConfig
	}
	if err := b.startServers(ctx, o); err != nil {
		return err
	}
	defer b.stopServers()
	if err := describeMachine(ctx, res, b.db, root); err != nil {
		return err
	}
	if o.runs("encoders") {
		say("Encoders alone: go test -run '^$' -bench 'Avro|JSON' -benchmem ./schema/")
		_ = waitIdle(ctx, b.idleWait)
		if res.Encoders, err = runEncoderBenchmarks(ctx, root); err != nil {
			return err
		}
	}

	if o.mysql() {
		if err := b.runPhases(ctx, o, res); err != nil {
			return err
		}
	}
	if o.postgres() {
		if err := b.runPostgres(ctx, o, res); err != nil {
			return err
		}
	}
	res.Elapsed = time.Since(began)
	res.LoadEnd = loadAverage()
	out := o.out
	if !filepath.IsAbs(out) {
		if wd, err := os.Getwd(); err == nil {
			out = filepath.Join(wd, out)
		}
	}
	if err := os.WriteFile(out, []byte(res.markdown()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	say("Wrote %s (the run took %s)", o.out, res.Elapsed.Round(time.Second))
	return nil
}

// kafkaDefaultTopicConfig gives the bench topics Kafka's own defaults for
// segment size and compaction, in place of the test broker's settings (1 MB
// segments, compaction of anything 1% dirty every second), which make the
// broker compact continuously and would charge that to sluice's figures.
var kafkaDefaultTopicConfig = [][2]string{
	{"segment.bytes", "1073741824"},
	{"segment.ms", "604800000"},
	{"min.cleanable.dirty.ratio", "0.5"},
}

// runPhases loads the tables and runs every measured phase in order.
func (b *bench) runPhases(ctx context.Context, o options, res *results) error {
	small := max(o.rows/10, 1)
	say("Loading %s.orders (%d rows), %s.small (%d rows) and the empty %s.orders_tx, without binary logging",
		benchDB, o.rows, benchDB, small, benchDB)
	if err := b.db.Exec(ctx, "CREATE DATABASE "+quote(benchDB)); err != nil {
		return err
	}
	t0 := time.Now()
	if err := loadTable(ctx, b.db, "orders", o.rows); err != nil {
		return err
	}
	res.LoadTime = time.Since(t0)
	if err := loadTable(ctx, b.db, "small", small); err != nil {
		return err
	}
	if err := b.db.Exec(ctx, createTable("orders_tx")); err != nil {
		return err
	}
	if err := createTouchProcedure(ctx, b.db, "orders"); err != nil {
		return err
	}

	say("Reference: the mariadb client reads %s.orders to a counter (twice; the faster counts)", benchDB)
	_ = waitIdle(ctx, b.idleWait)
	for range 2 {
		r, err := readWithClient(ctx, b.db, "orders")
		if err != nil {
			return err
		}
		if r.Rows != o.rows {
			return fmt.Errorf("reference read: the client printed %d rows, want %d", r.Rows, o.rows)
		}
		if res.ClientRead == nil || r.Elapsed < res.ClientRead.Elapsed {
			res.ClientRead = &r
		}
	}
	say("  %.0f rows/s, %.0f bytes per row as text", float64(o.rows)/res.ClientRead.Elapsed.Seconds(), float64(res.ClientRead.Bytes)/float64(o.rows))

	if o.runs("small") {
		smallName := "bench-small"
		res.SnapshotSmall = &phase{Key: "snapshot-small", Source: "mysql", Format: "json", Title: "Snapshot of " + thousands(small) + " rows", Snapshot: true,
			Topic: topicOf(smallName, "small"), Records: small}
		if err := b.measure(ctx, res.SnapshotSmall, b.config(smallName, benchDB+".small")); err != nil {
			return err
		}
	}

	include := []string{benchDB + ".orders", benchDB + ".orders_tx"}
	for i, f := range o.formats {
		ph := &phase{Key: "snapshot-" + f, Source: "mysql", Format: f, Title: "Snapshot of " + thousands(o.rows) + " rows", Snapshot: true,
			Topic: topicOf(mysqlSourceName(f), "orders"), Records: o.rows}
		if len(o.formats) > 1 {
			ph.Title += ", " + f
		}
		if err := b.measure(ctx, ph, b.mysqlConfig(f, include...)); err != nil {
			return err
		}
		if i == 0 {
			res.Snapshot = ph
		}
		res.addFormat("mysql", "snapshot", ph)
	}
	mainCfg := b.mysqlConfig(o.formats[0], include...)
	if o.runs("mapping") && o.avro() {
		for i, m := range mappingOrder {
			cfg := b.mappingConfig(m, i, include...)
			ph := &phase{Key: "snapshot-" + cfg.Name, Source: "mysql", Format: "avro", Title: fmt.Sprintf("Snapshot of %s rows, avro, mapping %s (%d)", thousands(o.rows), m, i/2+1),
				Snapshot: true, Topic: topicOf(cfg.Name, "orders"), Records: o.rows}
			if err := b.measure(ctx, ph, cfg); err != nil {
				return err
			}
			res.addMapping("snapshot", m, ph)
		}
	}
	if o.runs("tls") {
		for _, tls := range []bool{true, false} {
			cfg := b.tlsConfig(tls, include...)
			ph := &phase{Key: "snapshot-" + cfg.Name, Source: "mysql", Format: "json", Title: "Snapshot of " + thousands(o.rows) + " rows, json, " + tlsLabel(tls),
				Snapshot: true, Topic: topicOf(cfg.Name, "orders"), Records: o.rows}
			if err := b.measure(ctx, ph, cfg); err != nil {
				return err
			}
			res.addTLS("snapshot", tls, ph)
		}
		if res.Snapshot != nil && res.Snapshot.Format == "json" {
			res.addTLS("snapshot", false, res.Snapshot)
		}
	}
	for _, ab := range onOffPhases {
		if o.runs(ab.name) {
			tmpl := phase{Title: "Snapshot of " + thousands(o.rows) + " rows", Snapshot: true, Records: o.rows}
			if err := b.measureOnOff(ctx, ab, tmpl, o.formats[0], res, include...); err != nil {
				return err
			}
		}
	}

	if o.runs("multi") || o.runs("admin") || o.runs("eos") {
		if err := b.streamMulti(ctx, o, res, include); err != nil {
			return err
		}
	}
	if o.runs("single") {
		if err := b.streamSingle(ctx, o, res, mainCfg); err != nil {
			return err
		}
	}
	if o.runs("tx") {
		if err := b.streamTx(ctx, o, res, mainCfg); err != nil {
			return err
		}
	}
	if o.runs("10x") {
		big := o.rows * 10
		say("Loading %s.orders_10x (%d rows) for the 10× snapshot", benchDB, big)
		if err := loadTable(ctx, b.db, "orders_10x", big); err != nil {
			return err
		}
		name := "bench-10x"
		res.Snapshot10 = &phase{Key: "snapshot-10x", Source: "mysql", Format: "json", Title: "Snapshot of " + thousands(big) + " rows", Snapshot: true,
			Topic: topicOf(name, "orders_10x"), Records: big}
		if err := b.measure(ctx, res.Snapshot10, b.config(name, benchDB+".orders_10x")); err != nil {
			return err
		}
	}
	return nil
}

// streamMulti measures the drain of one change per row in transactions of
// o.chunk rows, once per format: each format's source drains the same
// backlog from its own checkpoint.
func (b *bench) streamMulti(ctx context.Context, o options, res *results, include []string) error {
	stmts := (o.rows + o.chunk - 1) / o.chunk
	say("Multi-row backlog: %d UPDATEs of %d rows each, written while sluice is stopped", stmts, o.chunk)
	bl, err := b.prepareBacklog(ctx, fmt.Sprintf("%s UPDATE statements of %s rows, one transaction each", thousands(stmts), thousands(o.chunk)), o.rows,
		func(ctx context.Context) error { return multiRowUpdates(ctx, b.db, "orders", o.rows, o.chunk) })
	if err != nil {
		return err
	}
	for i, f := range o.formats {
		ph := &phase{Key: "stream-multi-" + f, Source: "mysql", Format: f,
			Title: fmt.Sprintf("Stream of %s changes in %s-row transactions", thousands(o.rows), thousands(o.chunk)),
			Topic: topicOf(mysqlSourceName(f), "orders"), Records: o.rows, Backlog: bl}
		if len(o.formats) > 1 {
			ph.Title += ", " + f
		}
		if err := b.measure(ctx, ph, b.mysqlConfig(f, include...)); err != nil {
			return err
		}
		if i == 0 {
			res.StreamMulti = ph
		}
		res.addFormat("mysql", "stream", ph)
		if f == "json" && o.runs("tls") {
			res.addTLS("stream", false, ph)
		}
	}
	if o.runs("mapping") && o.avro() {
		for i, m := range mappingOrder {
			cfg := b.mappingConfig(m, i, include...)
			ph := &phase{Key: "stream-multi-" + cfg.Name, Source: "mysql", Format: "avro",
				Title: fmt.Sprintf("Stream of %s changes in %s-row transactions, avro, mapping %s (%d)", thousands(o.rows), thousands(o.chunk), m, i/2+1),
				Topic: topicOf(cfg.Name, "orders"), Records: o.rows, Backlog: bl}
			if err := b.measure(ctx, ph, cfg); err != nil {
				return err
			}
			res.addMapping("stream", m, ph)
		}
	}
	for _, ab := range onOffPhases {
		if o.runs(ab.name) {
			tmpl := phase{Title: fmt.Sprintf("Stream of %s changes in %s-row transactions", thousands(o.rows), thousands(o.chunk)),
				Records: o.rows, Backlog: bl}
			if err := b.measureOnOff(ctx, ab, tmpl, o.formats[0], res, include...); err != nil {
				return err
			}
		}
	}
	if o.runs("tls") {
		for _, tls := range []bool{true, false} {
			cfg := b.tlsConfig(tls, include...)
			ph := &phase{Key: "stream-multi-" + cfg.Name, Source: "mysql", Format: "json",
				Title: fmt.Sprintf("Stream of %s changes in %s-row transactions, json, %s", thousands(o.rows), thousands(o.chunk), tlsLabel(tls)),
				Topic: topicOf(cfg.Name, "orders"), Records: o.rows, Backlog: bl}
			if err := b.measure(ctx, ph, cfg); err != nil {
				return err
			}
			res.addTLS("stream", tls, ph)
		}
	}
	return nil
}

// The Avro mappings the mapping phase compares.
const (
	schemaV1 = "v1"
	schemaV2 = "v2"
)

// mappingOrder is the order the mapping phase runs the mappings in after
// the main Avro phase (mapping v2, the default; left out of the
// comparison, as the first run of a phase is often slower):
// alternating, so that neither mapping has the machine's slow moments to
// itself.
var mappingOrder = []string{schemaV1, schemaV2, schemaV1, schemaV2}

// mappingConfig is the configuration of the mapping phase's i-th source,
// "bench-avro-v1-0", "bench-avro-v2-1", …: format avro in mapping m, each
// with a checkpoint of its own, so each drains the whole backlog.
func (b *bench) mappingConfig(m string, i int, include ...string) sluiceConfig {
	c := b.mysqlConfig("avro", include...)
	c.Name = fmt.Sprintf("bench-avro-%s-%d", m, i)
	c.TopicPrefix, c.CheckpointTopic = c.Name, c.Name+".checkpoints"
	c.AvroMapping = m
	return c
}

// tlsConfig is the configuration of the tls phase's sources: "bench-tls"
// with source.tls.mode verify_identity against the bench's CA, and
// "bench-plain", a second plain-text source, so the TLS run sits between
// two plain-text runs of the same phase.
func (b *bench) tlsConfig(tls bool, include ...string) sluiceConfig {
	if !tls {
		return b.config("bench-plain", include...)
	}
	c := b.config("bench-tls", include...)
	c.TLSMode, c.CAFile = "verify_identity", b.pki.CAFile
	return c
}

func tlsLabel(tls bool) string {
	if tls {
		return "TLS"
	}
	return "plain text"
}

// streamSingle measures the drain of single-row transactions.
func (b *bench) streamSingle(ctx context.Context, o options, res *results, cfg sluiceConfig) error {
	n := min(o.singleRows, o.rows)
	say("Single-row backlog: %d single-row UPDATEs in autocommit from %d connections, written while sluice is stopped", n, o.conns)
	bl, err := b.prepareBacklog(ctx, fmt.Sprintf("%s single-row UPDATEs, one transaction each, from %d connections", thousands(n), o.conns), n,
		func(ctx context.Context) error { return singleRowUpdates(ctx, b.db, "orders", n, o.conns) })
	if err != nil {
		return err
	}
	if bl.Txns != uint64(n) {
		return fmt.Errorf("single-row backlog: %d transactions in the binary log, want %d", bl.Txns, n)
	}
	res.StreamSingle = &phase{Key: "stream-single", Title: fmt.Sprintf("Stream of %s single-row transactions", thousands(n)),
		Topic: topicOf(cfg.Name, "orders"), Records: n, Backlog: bl, Source: "mysql", Format: cfg.Format}
	return b.measure(ctx, res.StreamSingle, cfg)
}

// streamTx measures the drain of one transaction that inserts o.rows rows.
func (b *bench) streamTx(ctx context.Context, o options, res *results, cfg sluiceConfig) error {
	say("One-transaction backlog: INSERT INTO orders_tx SELECT * FROM orders (%d rows), written while sluice is stopped", o.rows)
	bl, err := b.prepareBacklog(ctx, fmt.Sprintf("one INSERT … SELECT of %s rows: a single transaction", thousands(o.rows)), o.rows,
		func(ctx context.Context) error { return copyInOneTransaction(ctx, b.db, "orders", "orders_tx") })
	if err != nil {
		return err
	}
	res.StreamTx = &phase{Key: "stream-tx", Title: fmt.Sprintf("Stream of one %s-row transaction", thousands(o.rows)),
		Topic: topicOf(cfg.Name, "orders_tx"), Records: o.rows, Backlog: bl, Source: "mysql", Format: cfg.Format}
	return b.measure(ctx, res.StreamTx, cfg)
}

// checkDisk fails when the working directory's file system has too little
// room for the tables, the binary log and the topics.
func checkDisk(dir string, o options) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check free disk space: %w", err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	rows := o.rows
	if o.runs("10x") {
		rows += 10 * o.rows
	}
	need := rows*2_000 + 1<<30 // tables, binary log and topics, generously
	if free < need {
		return fmt.Errorf("check free disk space: %s has %.1f GB free, the bench needs about %.1f GB (free space there, point TMPDIR elsewhere, or lower -rows)",
			dir, float64(free)/1e9, float64(need)/1e9)
	}
	return nil
}

// findRoot returns the repository's root: the nearest directory, from the
// working directory up, that holds go.mod.
func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find the repository root: no go.mod in %s or above; run the bench inside the sluice repository", wd)
		}
		d = parent
	}
}
