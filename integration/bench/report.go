package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// Targets from the issue that asked for `make bench`.
const (
	targetSnapshot = 150_000     // rows/s
	targetStream   = 100_000     // events/s
	targetRSS      = 150_000_000 // bytes
	// flatFactor is how much peak RSS may grow with 10× the rows (or one
	// huge transaction instead of many small ones) and still count as flat.
	flatFactor = 1.25
)

// findings is the analysis written after profiling runs of this bench; it
// is copied into the report under its own heading.
//
//go:embed findings.md
var findings string

// results is everything the report shows.
type results struct {
	Options   options
	Began     time.Time
	Elapsed   time.Duration
	LoadStart string // load average before the run
	LoadEnd   string
	StartBusy string // what kept the machine busy at the start, if anything
	NoProfile string // why there are no profiles, if there are none
	LoadTime  time.Duration

	Machine  []string // "key: value" lines
	Versions []string

	ClientRead *clientRead

	SnapshotSmall, Snapshot, Snapshot10 *phase
	StreamMulti, StreamSingle, StreamTx *phase

	PG       *pgResults     // nil when PostgreSQL was not measured
	Formats  []formatRun    // the phases run in more than one format
	TLS      []tlsRun       // MariaDB's phases over TLS and plain text (report_tls.go)
	Mapping  []mappingRun   // MariaDB's Avro phases in mappings v1 and v2 (report_mapping.go)
	Admin    onOffRuns      // MariaDB's phases with the admin server off and on (report_admin.go)
	EOS      onOffRuns      // MariaDB's phases with kafka.exactly_once off and on (report_eos.go)
	Encoders []encoderBench // the schema package's micro-benchmarks, nil when not run
}

// formatRun is one phase measured in one format, for the JSON/Avro
// comparison.
type formatRun struct {
	Source string // "mysql" or "postgresql"
	Kind   string // "snapshot" or "stream"
	Phase  *phase
}

// addFormat records ph for the format comparison.
func (r *results) addFormat(source, kind string, ph *phase) {
	r.Formats = append(r.Formats, formatRun{Source: source, Kind: kind, Phase: ph})
}

// formatPair returns the json and the avro run of one source and kind,
// nil for a format that did not run.
func (r *results) formatPair(source, kind string) (json, avro *phase) {
	for _, f := range r.Formats {
		if f.Source != source || f.Kind != kind {
			continue
		}
		switch f.Phase.Format {
		case "json":
			json = f.Phase
		case "avro":
			avro = f.Phase
		}
	}
	return json, avro
}

// phases returns the phases that ran, in order.
func (r *results) phases() []*phase {
	var out []*phase
	for _, p := range []*phase{r.SnapshotSmall, r.Snapshot, r.Snapshot10, r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// describeMachine fills in the machine and the versions of everything the
// bench ran.
func describeMachine(ctx context.Context, r *results, db *local.MariaDB, root string) error {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v, err := parseStatusKB(b, "MemTotal"); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(v)/(1<<30))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r.Machine = []string{
		fmt.Sprintf("CPU: %d × %s (`nproc` = %d)", runtime.NumCPU(), model, runtime.NumCPU()),
		"Memory: " + mem,
		"OS: " + osName() + ", kernel " + strings.TrimSpace(string(kernel)),
		"Disk: the system's temporary directory (" + os.TempDir() + ")",
	}

	mariadb := "not measured"
	if db != nil {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		v, err := conn.Execute("SELECT VERSION()")
		if err != nil {
			return fmt.Errorf("read mariadb version: %w", err)
		}
		mariadb, _ = v.GetString(0, 0)
	}
	kafka := "unknown"
	if libs, err := local.InstallKafka(ctx); err == nil {
		if jars, _ := filepath.Glob(filepath.Join(libs, "kafka_*.jar")); len(jars) > 0 {
			kafka = strings.TrimSuffix(filepath.Base(jars[0]), ".jar")
		}
	}
	java := "unknown"
	if out, err := exec.CommandContext(ctx, "java", "-version").CombinedOutput(); err == nil {
		java = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	}
	r.Versions = []string{
		"sluice: " + commit(ctx, root),
		"Go: " + runtime.Version() + " (sluice built with `go build`, no race detector)",
		"MariaDB: " + mariadb + " (deploy/local: binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL, innodb_buffer_pool_size=256M, innodb_flush_log_at_trx_commit=2, sync_binlog=0)",
		"Kafka: " + kafka + ", one KRaft node (deploy/local, heap 512 MB), " + java,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var mods []string
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/go-mysql-org/go-mysql", "github.com/twmb/franz-go", "github.com/pierrec/lz4/v4":
				mods = append(mods, d.Path+" "+d.Version)
			}
		}
		r.Versions = append(r.Versions, "Modules: "+strings.Join(mods, ", "))
	}
	return nil
}

// osName returns PRETTY_NAME from /etc/os-release.
func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

// commit names the repository's checked-out commit, and says when the
// working tree differs from it.
func commit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	c := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += " with uncommitted changes"
	}
	return c
}

// components are the parts of sluice's work the profile section names,
// each the inclusive share of one function (the first found).
var components = []struct {
	label   string
	symbols []string
}{
	{"snapshot: reading rows (go-mysql client, with everything done per row)", []string{"github.com/go-mysql-org/go-mysql/client.(*Conn).ExecuteSelectStreaming"}},
	{"&nbsp;&nbsp;per-row work (`snapshot.readTable` callback)", []string{"github.com/sluice-cdc/sluice/snapshot.readTable.func1"}},
	{"&nbsp;&nbsp;&nbsp;&nbsp;text values → Go values (`schema.MySQLFieldValue`)", []string{"github.com/sluice-cdc/sluice/schema.MySQLFieldValue"}},
	{"binlog: fetch and parse events (go-mysql `BinlogSyncer`, its own goroutine)", []string{"github.com/go-mysql-org/go-mysql/replication.(*BinlogSyncer).onStream"}},
	{"&nbsp;&nbsp;row images decoded (`RowsEvent.DecodeData`)", []string{"github.com/go-mysql-org/go-mysql/replication.(*RowsEvent).DecodeData"}},
	{"binlog: events → changes (`binlog.Reader.handle`)", []string{"github.com/sluice-cdc/sluice/binlog.(*Reader).handle"}},
	{"&nbsp;&nbsp;binlog values → Go values (`schema.MySQLBinlogValue`)", []string{"github.com/sluice-cdc/sluice/schema.MySQLBinlogValue"}},
	{"snapshot (PostgreSQL): COPY text read (`copyPostgresTable`)", []string{"github.com/sluice-cdc/sluice/snapshot.copyPostgresTable"}},
	{"&nbsp;&nbsp;COPY lines → rows (`copyRows.line`)", []string{"github.com/sluice-cdc/sluice/snapshot.(*copyRows).line"}},
	{"pgoutput: stream loop (`pgoutput.Reader.stream`)", []string{"github.com/sluice-cdc/sluice/pgoutput.(*Reader).stream"}},
	{"&nbsp;&nbsp;messages → changes (`pgoutput.Reader.apply`)", []string{"github.com/sluice-cdc/sluice/pgoutput.(*Reader).apply"}},
	{"&nbsp;&nbsp;&nbsp;&nbsp;text values → Go values (`schema.postgresValue`)", []string{"github.com/sluice-cdc/sluice/schema.postgresValue"}},
	{"change → records (`pipeline.Change`)", []string{"main.(*pipeline).Change"}},
	{"&nbsp;&nbsp;JSON values (`schema.JSONEncoder.Value`)", []string{"github.com/sluice-cdc/sluice/schema.(*JSONEncoder).Value"}},
	{"&nbsp;&nbsp;Avro values (`schema.AvroEncoder.AppendValue`)", []string{"github.com/sluice-cdc/sluice/schema.(*AvroEncoder).AppendValue", "github.com/sluice-cdc/sluice/schema.(*AvroEncoder).Value"}},
	{"&nbsp;&nbsp;Avro keys (`schema.AvroEncoder.Key`)", []string{"github.com/sluice-cdc/sluice/schema.(*AvroEncoder).Key"}},
	{"&nbsp;&nbsp;JSON keys (`schema.JSONEncoder.Key`)", []string{"github.com/sluice-cdc/sluice/schema.(*JSONEncoder).Key"}},
	{"&nbsp;&nbsp;hand-off to the Kafka client (`sink.Producer.Produce`)", []string{"github.com/sluice-cdc/sluice/sink.(*Producer).Produce"}},
	{"Kafka client: batches written to the broker (franz-go broker loop)", []string{"github.com/twmb/franz-go/pkg/kgo.(*broker).handleReqs"}},
	{"&nbsp;&nbsp;lz4 compression", []string{"github.com/pierrec/lz4/v4/internal/lz4block.CompressBlock"}},
	{"Kafka client: acknowledgements (franz-go `handleResps`)", []string{"github.com/twmb/franz-go/pkg/kgo.(*broker).handleResps"}},
	{"memory allocation (`runtime.mallocgc`, everywhere)", []string{"runtime.mallocgc"}},
	{"garbage collector background marking (`runtime.gcBgMarkWorker`)", []string{"runtime.gcBgMarkWorker"}},
	{"kernel: system calls", []string{"entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64"}},
	{"kernel: page faults", []string{"asm_exc_page_fault"}},
}

// decodeComponents are the parts of go-mysql's work the profile of the
// reference decode names.
var decodeComponents = []struct {
	label   string
	symbols []string
}{
	{"reading packets (`packet.Conn.ReadPacketReuseMem`)", []string{"github.com/go-mysql-org/go-mysql/packet.(*Conn).ReadPacketReuseMem"}},
	{"&nbsp;&nbsp;socket reads (`internal/poll.FD.Read`)", []string{"internal/poll.(*FD).Read"}},
	{"&nbsp;&nbsp;read deadline set per packet (`net.conn.SetReadDeadline`)", []string{"net.(*conn).SetReadDeadline"}},
	{"parsing events (`BinlogParser.Parse`)", []string{"github.com/go-mysql-org/go-mysql/replication.(*BinlogParser).Parse"}},
	{"&nbsp;&nbsp;table maps (`TableMapEvent.Decode`)", []string{"github.com/go-mysql-org/go-mysql/replication.(*TableMapEvent).Decode"}},
	{"&nbsp;&nbsp;row images (`RowsEvent.DecodeData`)", []string{"github.com/go-mysql-org/go-mysql/replication.(*RowsEvent).DecodeData"}},
	{"&nbsp;&nbsp;&nbsp;&nbsp;DECIMAL (`decodeDecimal`, via `decimal.NewFromString`)", []string{"github.com/go-mysql-org/go-mysql/replication.decodeDecimal"}},
	{"&nbsp;&nbsp;&nbsp;&nbsp;DATETIME/TIMESTAMP to strings (`decodeDatetime2`, `decodeTimestamp2`)", []string{"github.com/go-mysql-org/go-mysql/replication.decodeDatetime2"}},
	{"&nbsp;&nbsp;&nbsp;&nbsp;`fmt.Sprintf` (inside the above)", []string{"fmt.Sprintf"}},
	{"handing events over (`BinlogStreamer` channel)", []string{"github.com/go-mysql-org/go-mysql/replication.(*BinlogStreamer).GetEvent"}},
	{"memory allocation (`runtime.mallocgc`)", []string{"runtime.mallocgc"}},
	{"garbage collector background marking", []string{"runtime.gcBgMarkWorker"}},
	{"kernel: system calls", []string{"entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64"}},
}

// Formatting.

func krate(v float64) string { return fmt.Sprintf("%.0f k", v/1000) }

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func cores(v float64) string { return fmt.Sprintf("%.2f", v) }

// markdown renders the report.
func (r *results) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	w("# Benchmarks\n\n")
	w("Written by `make bench` (`go run ./integration/bench -out BENCHMARKS.md`) on %s; the run took %s.\n",
		r.Began.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	w("%s", r.intro())

	w("## Results\n\n")
	w("| metric | figure | target | met? |\n|---|---|---|---|\n")
	if p := r.Snapshot; p != nil {
		w("| Snapshot of %s rows, sluice start to last record acknowledged in Kafka | **%s rows/s** (%s; sluice's own log: %s rows/s) | ≥ 150 k rows/s | %s |\n",
			thousands(p.Records), krate(p.Rate()), secs(p.Total()), krate(float64(p.Records)/p.Took.Seconds()), yesNo(p.Rate() >= targetSnapshot))
	}
	for _, p := range []*phase{r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p == nil {
			continue
		}
		w("| %s, backlog drained (start-up %s apart) | **%s events/s** (%s) | ≥ 100 k events/s | %s |\n",
			p.Title, secs(p.Startup()), krate(p.Rate()), secs(p.Drain()), yesNo(p.Rate() >= targetStream))
	}
	if r.SnapshotSmall != nil && r.Snapshot != nil {
		snaps := []*phase{r.SnapshotSmall, r.Snapshot}
		if r.Snapshot10 != nil {
			snaps = append(snaps, r.Snapshot10)
		}
		var figs, labels []string
		ok := true
		for i, p := range snaps {
			figs = append(figs, mb(p.PeakRSS))
			labels = append(labels, thousands(p.Records))
			ok = ok && p.PeakRSS <= targetRSS
			if i > 0 && float64(p.PeakRSS) > flatFactor*float64(snaps[i-1].PeakRSS) {
				ok = false
			}
		}
		w("| sluice peak RSS, snapshot of %s rows | **%s** | ≤ 150 MB and flat (≤ %.0f%% growth per 10× rows) | %s |\n",
			strings.Join(labels, " / "), strings.Join(figs, " / "), (flatFactor-1)*100, yesNo(ok))
	}
	if r.StreamMulti != nil && r.StreamTx != nil {
		ps := []*phase{r.StreamMulti, r.StreamSingle, r.StreamTx}
		var figs []string
		ok := true
		for _, p := range ps {
			if p == nil {
				continue
			}
			figs = append(figs, mb(p.PeakRSS))
			ok = ok && p.PeakRSS <= targetRSS
		}
		ok = ok && float64(r.StreamTx.PeakRSS) <= flatFactor*float64(r.StreamMulti.PeakRSS)
		w("| sluice peak RSS, streams: %s-row transactions / single-row / one %s-row transaction | **%s** | ≤ 150 MB, one huge transaction no bigger (≤ %.0f%%) | %s |\n",
			thousands(o.chunk), thousands(o.rows), strings.Join(figs, " / "), (flatFactor-1)*100, yesNo(ok))
	}
	w("%s", r.pgResultRows())
	w("%s", r.formatResultRows())
	w("%s", r.tlsResultRows())
	w("%s", r.mappingResultRows())
	w("%s", r.adminResultRows())
	w("%s", r.eosResultRows())
	for _, p := range r.allPhases() {
		w("| sluice CPU per 1 M records, %s | %.2f s | — | |\n", lowerFirst(p.Title), p.CPUPerMillion().Seconds())
	}
	w("\n")
	if r.StartBusy != "" {
		w("**The machine was not idle when the run began** (%s); the figures may be low.\n\n", r.StartBusy)
	}

	w("## Phases in detail\n\n")
	w("Each phase is a fresh `sluice run` process. *Start-up* is from starting it to the first new record in Kafka; *drain* from\n" +
		"there to the last; *CPU* is sluice's user+system time at that moment (start-up included); *cores* is the average number of\n" +
		"cores each party used over the whole phase (*bench* is this program and perf; *other* is everything else on the machine).\n\n")
	w("| phase | records | start-up | drain | total | records/s | sluice CPU | CPU / 1 M | peak RSS | cores: sluice / database / Kafka (and registry) / bench / other |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range r.allPhases() {
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s / %s / %s |\n",
			p.Title, thousands(p.Records), secs(p.Startup()), secs(p.Drain()), secs(p.Total()), thousands(int64(p.Rate())),
			secs(p.CPU), secs(p.CPUPerMillion()), mb(p.PeakRSS),
			cores(p.Share.Sluice), cores(p.Share.DB), cores(p.Share.Kafka), cores(p.Share.Bench), cores(p.Share.Other))
	}
	w("\n")
	var logs []string // each distinct message once, in order
	logPhases := map[string][]string{}
	for _, p := range r.allPhases() {
		if p.Busy != "" {
			w("- %s: the machine was busy when it began (%s).\n", p.Title, p.Busy)
		}
		for _, l := range p.Logs {
			if logPhases[l] == nil {
				logs = append(logs, l)
			}
			logPhases[l] = append(logPhases[l], p.Title)
		}
	}
	for _, l := range logs {
		w("- sluice logged `%s` in: %s.\n", l, strings.Join(logPhases[l], "; "))
	}

	w("\n## Ceilings on this machine, same run\n\n")
	w("| path | figure |\n|---|---|\n")
	if c := r.ClientRead; c != nil {
		w("| `mariadb --quick --batch -e 'SELECT * FROM orders'` over TCP, output counted and dropped | %s rows/s (%s, %.0f bytes/row) |\n",
			krate(float64(c.Rows)/c.Elapsed.Seconds()), secs(c.Elapsed), float64(c.Bytes)/float64(c.Rows))
	}
	for _, p := range []*phase{r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p == nil || p.Backlog == nil || p.Backlog.Decode == nil {
			continue
		}
		d := p.Backlog.Decode
		w("| go-mysql alone (sluice's decoder options, rows counted and dropped), backlog \"%s\" (%.0f MB of binary log) | %s rows/s (%s, %s cores; other work on the machine %s cores); sluice reached %.0f%% of it |\n",
			p.Backlog.What, float64(d.Bytes)/1e6, krate(float64(d.Rows)/d.Elapsed.Seconds()), secs(d.Elapsed),
			cores(p.Backlog.DecodeShare.Bench), cores(p.Backlog.DecodeShare.Other),
			100*p.Rate()/(float64(d.Rows)/d.Elapsed.Seconds()))
	}
	w("%s", r.pgCeilingRows())
	w("\n")
	w("%s", r.formatSection())
	w("%s", r.tlsSection())
	w("%s", r.mappingSection())
	w("%s", r.adminSection())
	w("%s", r.eosSection())

	w("## Method\n\n")
	w("### Machine and versions\n\n")
	for _, l := range r.Machine {
		w("- %s\n", l)
	}
	for _, l := range r.Versions {
		w("- %s\n", l)
	}
	w("- Load average (1, 5, 15 min) before the run: %s; after: %s.\n\n", r.LoadStart, r.LoadEnd)

	w("### sluice settings\n\n")
	w("Defaults except where named: `kafka.linger` 5ms, `kafka.compression` lz4, `kafka.max_buffered_records` 10000, `kafka.partitions` 1,\n" +
		"`kafka.checkpoint_interval` 1s, `format` json (avro where a phase says so), `log.level` info, `log.format` json,\n" +
		"`admin.listen` empty: no admin server (only the admin phase's \"on\" runs serve one, on `127.0.0.1:0`),\n" +
		"`kafka.exactly_once` false: at least once (only the eos phase's \"on\" runs write in transactions).\n")
	if len(o.sluiceArgs) > 0 {
		w("Extra flags: `%s`.\n", strings.Join(o.sluiceArgs, " "))
	}
	if o.brokerCfg {
		w("Topics keep the test broker's settings: 1 MB segments, compaction of anything 1%% dirty every second.\n")
	} else {
		w("`kafka.topic_config` gives the bench topics Kafka's own defaults (`segment.bytes` 1 GiB, `segment.ms` 7 days,\n" +
			"`min.cleanable.dirty.ratio` 0.5) instead of the test broker's 1 MB segments and 1%% dirty ratio, so the broker does not\n" +
			"compact continuously during the measurement (`-test-broker-topics` keeps the test settings).\n")
	}
	if r.ClientRead != nil {
		w("\n### The table\n\n")
		w("`bench.orders`: `id BIGINT` primary key, `customer_id INT`, `sku VARCHAR(24)`, `qty SMALLINT`, `price DECIMAL(10,2)`,\n"+
			"`status ENUM(5 values)`, `created_at DATETIME(6)`, `updated_at TIMESTAMP(3)`, `note VARCHAR(40)` (10%% NULL, else 20–40 characters),\n"+
			"`flags TINYINT UNSIGNED`; utf8mb4, InnoDB. Rows are generated by the server from the SEQUENCE engine\n"+
			"(`INSERT … SELECT … FROM seq_1_to_N`, %s per statement) with the binary log off for the session, so loading is\n"+
			"neither measured nor streamed (%s rows loaded in %s).\n\n", thousands(loadChunk), thousands(o.rows), secs(r.LoadTime))
	}
	w("%s", r.pgMethod())

	w("### How each figure is taken\n\n")
	w("- **Snapshot rows/s**: sluice starts with no checkpoint; the bench polls the topic's end offsets (kadm `ListEndOffsets`)\n" +
		"  every 100 ms and stops the clock when they sum to the row count, i.e. when Kafka has acknowledged every row. The figure\n" +
		"  counts from the process start, start-up included. The second figure is sluice's own `snapshot: table done` log line\n" +
		"  (`took`: the table read alone, without connecting, locking or the final acknowledgements).\n")
	w("- **Stream events/s**: the changes are written while sluice is stopped, so the binary log holds a backlog and the rate\n" +
		"  measures sluice, not the load generator. Then sluice starts, resumes from its checkpoint and the clock runs from the\n" +
		"  first new record in the topic to the last (every change of a row with a key is one record). Start-up (process start\n" +
		"  to first record: configuration, connections, checkpoint read, binlog dump start) is shown apart.\n")
	for _, p := range []*phase{r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p != nil && p.Backlog != nil {
			w("  - %s: %s; %s, %.0f MB of binary log, written by the server in %s.\n",
				p.Title, p.Backlog.What, plural(int64(p.Backlog.Txns), "transaction"), float64(p.Backlog.Bytes)/1e6, secs(p.Backlog.Generated))
		}
	}
	w("  The single-row changes come from a stored procedure that loops over ids (`UPDATE … WHERE id = i` in autocommit),\n"+
		"  called from %d connections in parallel; the GTID sequence confirms one transaction per row.\n", o.conns)
	w("- **CPU seconds per 1 M records**: utime+stime of the sluice process from `/proc/<pid>/stat`, read the moment the last\n" +
		"  record arrived, scaled to 1 M records. It includes start-up.\n")
	w("- **Peak RSS**: `VmHWM` from `/proc/<pid>/status` at the same moment. Each phase is a fresh process, so each figure is the\n" +
		"  peak of that phase alone.\n")
	w("- **Cores**: CPU time of the bench's process tree by role (sluice, the database server: mariadbd or postgres and its\n" +
		"  backends, java: Kafka and the schema registry, the rest) and of the whole machine\n" +
		"  (`/proc/stat`) between the phase's start and its end.\n")
	w("- **Idle machine**: before the run and before each phase the bench waits (up to %s) until no other `mariadbd`, `postgres`, Kafka broker,\n"+
		"  `go test` or test binary runs and other processes use under a quarter of a core.\n", o.idleWait)
	if r.NoProfile != "" {
		w("- **Profiles**: none in this run: %s.\n", r.NoProfile)
	} else if o.profile {
		w("- **Profiles**: `perf record -e cpu-clock -F %d --call-graph fp -p <sluice>` during each phase (Go keeps frame pointers, so\n"+
			"  stacks are whole); the sampling costs sluice well under 1%%.\n", perfFrequency)
	}
	w("\n")

	w("## Where the CPU time goes\n\n")
	switch {
	case r.NoProfile != "":
		w("No perf profiles of sluice in this run: %s.\n\n", r.NoProfile)
	case !o.profile:
		w("No perf profiles of sluice in this run (`-profile=false`).\n\n")
	}
	if o.profile && r.NoProfile == "" {
		w("From perf, per phase. Percentages are of sluice's samples in that phase (all its threads). *Inclusive* is the share of\n" +
			"samples with the named function anywhere on the stack, so nested parts overlap (an indented part is inside the one\n" +
			"above it); *self* is time in a function's or a package's own code.\n\n")
		for _, p := range r.allPhases() {
			if p.Profile == nil {
				continue
			}
			about := ""
			if p.Profile.Approx {
				about = "about "
			}
			w("### %s (%s%s samples)\n\n", p.Title, about, thousands(int64(p.Profile.Samples)))
			var pk []string
			for _, s := range p.Profile.selfByPackage()[:min(10, len(p.Profile.selfByPackage()))] {
				pk = append(pk, fmt.Sprintf("%s %.1f%%", s.Name, s.Percent))
			}
			w("Self time by package: %s.\n\n", strings.Join(pk, ", "))
			w("| part of the work | inclusive |\n|---|---:|\n")
			for _, c := range components {
				if v, ok := p.Profile.inclusiveOf(c.symbols...); ok {
					w("| %s | %.1f%% |\n", c.label, v)
				}
			}
			w("\n| self | function |\n|---:|---|\n")
			for _, e := range p.Profile.self(12) {
				w("| %.1f%% | `%s` |\n", e.Self, shortName(e.Symbol))
			}
			w("\n")
		}
	}

	for _, p := range []*phase{r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p == nil || p.Backlog == nil || p.Backlog.DecodeProfile == nil {
			continue
		}
		dp := p.Backlog.DecodeProfile
		w("### go-mysql alone, backlog \"%s\" (%s samples)\n\n", p.Backlog.What, thousands(int64(dp.Samples)))
		w("The bench process while it did nothing but fetch and decode the backlog (the ceiling above), profiled with\n" +
			"runtime/pprof at 100 Hz. Percentages are of that process's samples.\n\n")
		w("| part of the work | inclusive |\n|---|---:|\n")
		for _, c := range decodeComponents {
			if v, ok := dp.inclusiveOf(c.symbols...); ok {
				w("| %s | %.1f%% |\n", c.label, v)
			}
		}
		w("\n| self | function |\n|---:|---|\n")
		for _, e := range dp.self(10) {
			w("| %.1f%% | `%s` |\n", e.Self, shortName(e.Symbol))
		}
		w("\n")
	}

	if f := strings.TrimSpace(findings); f != "" {
		w("## Findings\n\n%s\n\n", f)
	}

	w("## Reproduce\n\n")
	w("```sh\nmake bench                                     # this report\ngo run ./integration/bench -scale10=false      # without the 10× snapshot (about 2.5 minutes less)\ngo run ./integration/bench -only single -keep  # the main snapshot and one stream, perf data kept\ngo run ./integration/bench -source=postgresql -format=json  # PostgreSQL alone, JSON alone\ngo run ./integration/bench -source=mysql -only multi,encoders  # MariaDB: snapshot and multi-row stream in both formats, encoders\ngo run ./integration/bench -source=mysql -format=json -only admin  # the cost of metrics: admin server off against on, scraped\ngo run ./integration/bench -source=mysql -format=json -only eos    # the cost of exactly-once: kafka.exactly_once off against on\ngo run ./integration/bench -help               # every option\n```\n\n")
	w("The bench needs what `make test` needs (MariaDB from Debian's packages, Kafka from Maven Central, both installed and cached\n"+
		"on first use) and, for the profiles, `perf` (Debian: `linux-perf`) run as root. It takes about %s here and removes everything\n"+
		"it started; `-keep` keeps the configurations, sluice's logs and the perf data.\n", r.Elapsed.Round(time.Minute))
	return b.String()
}

// thousands formats n with comma separators: 1,000,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	return strings.Join(parts, ",")
}

// plural writes n and noun, adding an s unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "PostgreSQL") {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return out
}
