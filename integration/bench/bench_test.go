package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/deploy/local"
)

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (my (odd) cmd) S 17 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 123 456 789\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 4242 || st.Comm != "my (odd) cmd" || st.PPID != 17 {
		t.Errorf("got %+v", st)
	}
	if want := 325 * clockTick; st.CPU != want {
		t.Errorf("cpu = %v, want %v", st.CPU, want)
	}
	for _, bad := range []string{"", "12 no parens", "12 (x) S 1 2"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestReadProcStatSelf(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("got %+v", st)
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("peakRSS = %d, %v", rss, err)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tsluice\nVmPeak:\t  900000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   50000 kB\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil || got != 61234*1024 {
		t.Errorf("VmHWM = %d, %v", got, err)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("missing key: want an error")
	}
	if _, err := parseStatusKB([]byte("VmHWM: lots\n"), "VmHWM"); err == nil {
		t.Error("malformed line: want an error")
	}
}

func TestParseMachineBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 9000 40 3 2 1 0 0\ncpu0 50 2 25 4500 20 1 1 0 0 0\n"
	got, err := parseMachineBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 161 * clockTick; got != want {
		t.Errorf("busy = %v, want %v (idle and iowait excluded)", got, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Error("no cpu line: want an error")
	}
}

func TestShareBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := cpuSample{at: t0, busy: 10 * time.Second, byRole: map[string]time.Duration{"kafka": time.Second}}
	b := cpuSample{at: t0.Add(2 * time.Second), busy: 13 * time.Second, byRole: map[string]time.Duration{
		"sluice": 1500 * time.Millisecond, "kafka": 2 * time.Second, "database": 200 * time.Millisecond}}
	s := shareBetween(a, b)
	near := func(got, want float64) bool { return got > want-1e-9 && got < want+1e-9 }
	if !near(s.Sluice, 0.75) || !near(s.Kafka, 0.5) || !near(s.DB, 0.1) || !near(s.Other, 0.15) {
		t.Errorf("got %+v", s)
	}
	if z := shareBetween(b, b); z != (cpuShare{}) {
		t.Errorf("no time passed: got %+v", z)
	}
}

func TestDescendants(t *testing.T) {
	all := map[int]procStat{1: {PPID: 0}, 10: {PPID: 1}, 11: {PPID: 10}, 12: {PPID: 11}, 20: {PPID: 1}}
	got := descendants(all, 10)
	if len(got) != 3 || !got[10] || !got[11] || !got[12] || got[20] {
		t.Errorf("got %v", got)
	}
}

func TestCPURole(t *testing.T) {
	for comm, want := range map[string]string{"sluice": "sluice", "mariadbd": "database", "postgres": "database", "java": "kafka", "perf": "bench", "bench": "bench"} {
		if got := cpuRole(comm); got != want {
			t.Errorf("cpuRole(%q) = %q, want %q", comm, got, want)
		}
	}
}

func TestIsForeignLoad(t *testing.T) {
	for cmd, want := range map[string]bool{
		"/usr/sbin/mariadbd --no-defaults --datadir=/tmp/x":             true,
		"/usr/bin/java -Xmx512m -cp /c/* kafka.Kafka /tmp/server.props": true,
		"/usr/lib/postgresql/15/bin/postgres -D /tmp/x/data":            true,
		"postgres: 15/main: walwriter":                                  false,
		"go test -race ./...":                                           true,
		"/tmp/go-build1/b001/integration.test -test.v":                  true,
		"go build ./cmd/sluice":                                         false,
		"bash":                                                          false,
		"":                                                              false,
	} {
		if got := isForeignLoad(cmd); got != want {
			t.Errorf("isForeignLoad(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestGTIDSeq(t *testing.T) {
	for pos, want := range map[string]uint64{"": 0, "0-1-42": 42, "0-1-42,1-7-100": 100, "junk": 0} {
		if got := gtidSeq(pos); got != want {
			t.Errorf("gtidSeq(%q) = %d, want %d", pos, got, want)
		}
	}
}

func TestFillStatementsCoverEveryRowOnce(t *testing.T) {
	stmts := fillStatements("orders", 2*loadChunk+7)
	if len(stmts) != 3 {
		t.Fatalf("%d statements, want 3", len(stmts))
	}
	for i, want := range []string{"seq_1_to_500000", "seq_500001_to_1000000", "seq_1000001_to_1000007"} {
		if !strings.Contains(stmts[i], "`bench`."+want) {
			t.Errorf("statement %d does not read %s:\n%s", i, want, stmts[i])
		}
		if strings.Contains(stmts[i], "%!") {
			t.Errorf("statement %d has a formatting error:\n%s", i, stmts[i])
		}
	}
}

func TestSluiceConfigYAML(t *testing.T) {
	c := sluiceConfig{Name: "bench", DBPort: 3307, Include: []string{"bench.orders", "bench.orders_tx"},
		Brokers: "127.0.0.1:9092", TopicPrefix: "bench", CheckpointTopic: "bench.checkpoints",
		TopicConfig: [][2]string{{"segment.bytes", "1073741824"}}}
	var got struct {
		Name   string
		Source struct {
			Type, Host, User string
			Port             int
			TLS              struct {
				Mode   string
				CAFile string `yaml:"ca_file"`
			}
		}
		Tables struct{ Include []string }
		Kafka  struct {
			Brokers         []string
			TopicPrefix     string            `yaml:"topic_prefix"`
			CheckpointTopic string            `yaml:"checkpoint_topic"`
			TopicConfig     map[string]string `yaml:"topic_config"`
			ExactlyOnce     *bool             `yaml:"exactly_once"`
		}
		Format string
		Admin  struct{ Listen *string }
		Log    struct{ Level, Format string }
	}
	dec := yaml.NewDecoder(strings.NewReader(c.yaml()))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, c.yaml())
	}
	if got.Admin.Listen == nil || *got.Admin.Listen != "" {
		t.Errorf("admin.listen must be written, empty (no admin server, not the default port), got %v from\n%s", got.Admin.Listen, c.yaml())
	}
	if got.Kafka.ExactlyOnce == nil || *got.Kafka.ExactlyOnce {
		t.Errorf("kafka.exactly_once must be written, false (at least once), got %v from\n%s", got.Kafka.ExactlyOnce, c.yaml())
	}
	if got.Name != "bench" || got.Source.Port != 3307 || got.Source.Type != "mysql" || len(got.Tables.Include) != 2 ||
		got.Kafka.Brokers[0] != "127.0.0.1:9092" || got.Kafka.CheckpointTopic != "bench.checkpoints" ||
		got.Kafka.TopicConfig["segment.bytes"] != "1073741824" || got.Log.Format != "json" || got.Format != "json" {
		t.Errorf("got %+v from\n%s", got, c.yaml())
	}
	if strings.Contains(strings.ToLower(c.yaml()), "password") {
		t.Error("the config must not carry a password")
	}
	if got.Source.TLS.Mode != "disabled" || got.Source.TLS.CAFile != "" {
		t.Errorf("plain-text phases: source.tls %+v, want mode disabled", got.Source.TLS)
	}
	// The files sluice gets load as its own configuration, the tls
	// phase's included.
	c.TLSMode, c.CAFile = "verify_identity", "/tmp/ca.pem"
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(c.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil, nil)
	if err != nil {
		t.Fatalf("sluice would refuse the bench's configuration: %v\n%s", err, c.yaml())
	}
	if cfg.Source.TLS.Mode != "verify_identity" || cfg.Source.TLS.CAFile != "/tmp/ca.pem" {
		t.Errorf("tls phase: source.tls %+v", cfg.Source.TLS)
	}
	if cfg.Admin.Listen != "" {
		t.Errorf("admin.listen %q, want empty: every phase but the admin phase's on runs serves nothing", cfg.Admin.Listen)
	}
	// The admin phase's "on" runs: a free port, which sluice accepts.
	c.AdminListen = "127.0.0.1:0"
	if err := os.WriteFile(path, []byte(c.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = config.Load(path, nil, nil); err != nil {
		t.Fatalf("sluice would refuse the admin phase's configuration: %v\n%s", err, c.yaml())
	}
	if cfg.Admin.Listen != "127.0.0.1:0" {
		t.Errorf("admin phase: admin.listen %q", cfg.Admin.Listen)
	}
	if cfg.Kafka.ExactlyOnce || cfg.KafkaTransactionalID() != "" {
		t.Errorf("kafka.exactly_once %v, transactional id %q; want off in every phase but the eos phase's on runs",
			cfg.Kafka.ExactlyOnce, cfg.KafkaTransactionalID())
	}
	// The eos phase's "on" runs: transactions, the id derived from the
	// source's name, so each source has its own.
	c.ExactlyOnce = true
	if err := os.WriteFile(path, []byte(c.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = config.Load(path, nil, nil); err != nil {
		t.Fatalf("sluice would refuse the eos phase's configuration: %v\n%s", err, c.yaml())
	}
	if !cfg.Kafka.ExactlyOnce || cfg.KafkaTransactionalID() != "sluice-bench" {
		t.Errorf("eos phase: kafka.exactly_once %v, transactional id %q", cfg.Kafka.ExactlyOnce, cfg.KafkaTransactionalID())
	}
}

func TestSluiceEnv(t *testing.T) {
	env := sluiceEnv([]string{"PATH=/bin", "SLUICE_KAFKA_BROKERS=x:1", "HOME=/root"}, "")
	want := []string{"PATH=/bin", "HOME=/root", "SLUICE_SOURCE_PASSWORD="}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", env, want)
	}
}

func TestSnapshotTook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.log")
	log := `{"time":"x","level":"INFO","msg":"sluice starting"}
not json at all
{"time":"x","level":"INFO","msg":"snapshot: table done","table":"bench.orders","rows":1000000,"took":6543000000}
{"time":"x","level":"INFO","msg":"snapshot: table done","table":"bench.small","rows":10,"took":"1.5s"}
{"time":"x","level":"WARN","msg":"something odd"}
{"time":"x","level":"WARN","msg":"something odd"}
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	took, err := snapshotTook(path)
	if err != nil {
		t.Fatal(err)
	}
	if took["bench.orders"] != 6543*time.Millisecond || took["bench.small"] != 1500*time.Millisecond {
		t.Errorf("got %v", took)
	}
	if w := warnings(path); len(w) != 1 || w[0] != "WARN: something odd" {
		t.Errorf("warnings = %q", w)
	}
}

const perfOutput = `# To display the perf.data header info, please use --header/--header-only options.
#
# Samples: 1K of event 'cpu-clock'
# Samples: 1234  of event 'cpu-clock'
#
# Children      Self  Symbol
# ........  ........  ...........
#
    98.78%     0.00%  [.] runtime.goexit.abi0
    44.66%     2.00%  [.] github.com/go-mysql-org/go-mysql/replication.(*BinlogSyncer).onStream
    25.46%     2.74%  [.] runtime.mallocgc
    13.57%     1.07%  [.] github.com/sluice-cdc/sluice/schema.MySQLBinlogValue
     6.25%     6.25%  [.] github.com/pierrec/lz4/v4/internal/lz4block.(*Compressor).CompressBlock
     5.00%     5.00%  [.] gcWriteBarrier
     4.42%     3.00%  [k] entry_SYSCALL_64_after_hwframe
     1.00%     1.00%  [.] 0x00000000004a1b2c
     0.50%     0.50%  [.] type:.eq.github.com/twmb/franz-go/pkg/kgo.topicPartition
`

func TestParsePerfReport(t *testing.T) {
	p, err := parsePerfReport([]byte(perfOutput))
	if err != nil {
		t.Fatal(err)
	}
	if p.Samples != 1234 || p.Approx || len(p.Entries) != 9 {
		t.Fatalf("samples %d, entries %d", p.Samples, len(p.Entries))
	}
	if e := p.Entries[6]; !e.Kernel || e.Symbol != "entry_SYSCALL_64_after_hwframe" || e.Self != 3 {
		t.Errorf("kernel entry: %+v", e)
	}
	if v, ok := p.inclusiveOf("nope", "runtime.mallocgc"); !ok || v != 25.46 {
		t.Errorf("inclusiveOf = %v, %v", v, ok)
	}
	if _, ok := p.inclusiveOf("runtime.malloc"); ok {
		t.Error("inclusiveOf matches whole symbols only")
	}
	if top := p.self(1); top[0].Symbol != "github.com/pierrec/lz4/v4/internal/lz4block.(*Compressor).CompressBlock" {
		t.Errorf("top self: %+v", top)
	}
	byPkg := map[string]float64{}
	for _, s := range p.selfByPackage() {
		byPkg[s.Name] = s.Percent
	}
	want := map[string]float64{"runtime": 7.74, "go-mysql/replication": 2, "sluice/schema": 1.07,
		"lz4/internal/lz4block": 6.25, "[kernel]": 3, "?": 1, "franz-go/kgo": 0.5}
	for k, v := range want {
		if d := byPkg[k] - v; d > 1e-9 || d < -1e-9 {
			t.Errorf("self of %s = %v, want %v (all: %v)", k, byPkg[k], v, byPkg)
		}
	}
	if q, err := parsePerfReport([]byte("# Samples: 2K of event 'cpu-clock'\n    1.00%  1.00%  [.] main.main\n")); err != nil || q.Samples != 2000 || !q.Approx {
		t.Errorf("abbreviated sample count: %+v, %v", q, err)
	}
	if _, err := parsePerfReport([]byte("# nothing\n")); err == nil {
		t.Error("empty report: want an error")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCountingWriter(t *testing.T) {
	var w countingWriter
	_, _ = w.Write([]byte("a\tb\nc\td\n"))
	_, _ = w.Write([]byte("e\n"))
	if w.lines.Load() != 3 || w.bytes.Load() != 10 {
		t.Errorf("lines %d, bytes %d", w.lines.Load(), w.bytes.Load())
	}
}

func TestPhaseRates(t *testing.T) {
	t0 := time.Unix(0, 0)
	snap := &phase{Snapshot: true, Records: 1_000_000, Start: t0, CPU: 4 * time.Second,
		Seen: progress{First: t0.Add(time.Second), Done: t0.Add(5 * time.Second)}}
	if snap.Rate() != 200_000 {
		t.Errorf("snapshot rate %v: a snapshot counts from the process start", snap.Rate())
	}
	stream := *snap
	stream.Snapshot = false
	if stream.Rate() != 250_000 {
		t.Errorf("stream rate %v: a drain counts from the first record", stream.Rate())
	}
	if snap.CPUPerMillion() != 4*time.Second || snap.Startup() != time.Second {
		t.Errorf("cpu per million %v, start-up %v", snap.CPUPerMillion(), snap.Startup())
	}
}

func TestMarkdown(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title string, snapshot bool, records int64, secs float64, rss int64) *phase {
		return &phase{Title: title, Snapshot: snapshot, Records: records, Start: t0, CPU: 2 * time.Second, PeakRSS: rss,
			Took:    time.Second,
			Seen:    progress{First: t0.Add(300 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second)))},
			Backlog: &backlog{What: "w", Txns: 1, Bytes: 1e6, Decode: &decodeRun{Rows: records, Bytes: 1e6, Elapsed: time.Second}}}
	}
	p, err := parsePerfReport([]byte(perfOutput))
	if err != nil {
		t.Fatal(err)
	}
	r := &results{
		Options:       options{rows: 1_000_000, chunk: 10_000, conns: 4, profile: true, idleWait: time.Minute},
		Began:         t0,
		Elapsed:       5 * time.Minute,
		ClientRead:    &clientRead{Rows: 1_000_000, Bytes: 126_000_000, Elapsed: 2 * time.Second},
		SnapshotSmall: mk("Snapshot of 100,000 rows", true, 100_000, 1, 40e6),
		Snapshot:      mk("Snapshot of 1,000,000 rows", true, 1_000_000, 5, 45e6),
		StreamMulti:   mk("Stream multi", false, 1_000_000, 8.3, 60e6),
		StreamSingle:  mk("Stream single", false, 1_000_000, 20.3, 50e6),
		StreamTx:      mk("Stream tx", false, 1_000_000, 10.3, 200e6),
	}
	r.StreamMulti.Profile = p
	md := r.markdown()
	for _, want := range []string{
		"**200 k rows/s**",         // 1M rows in 5 s
		"| ≥ 150 k rows/s | yes |", // snapshot target met
		"**125 k events/s**",       // 1M in 8 s of drain
		"**50 k events/s** (20.00 s) | ≥ 100 k events/s | **no** |", // single-row missed
		"**40 MB / 45 MB**", // flat snapshot memory
		"**60 MB / 50 MB / 200 MB** | ≤ 150 MB, one huge transaction no bigger (≤ 25%) | **no** |",
		"| 25.5% |", // mallocgc inclusive in the component table
		"126 bytes per row",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("report has a formatting error:\n%s", md)
	}
}

func TestParsePprofTop(t *testing.T) {
	out := `File: bench
Type: cpu
Duration: 7.01s, Total samples = 9.10s (129.80%)
Showing nodes accounting for 9.10s, 100% of 9.10s total
      flat  flat%   sum%        cum   cum%
     0.50s  5.49%  5.49%      0.50s  5.49%  runtime.memmove
      30ms  0.33%  5.82%      6.20s 68.13%  github.com/go-mysql-org/go-mysql/replication.(*BinlogParser).Parse
      20ms  0.22%  6.04%       20ms  0.22%  runtime.acquirem (inline)
`
	p, err := parsePprofTop([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if p.Samples != 910 || len(p.Entries) != 3 {
		t.Fatalf("samples %d, entries %+v", p.Samples, p.Entries)
	}
	if e := p.Entries[0]; e.Symbol != "github.com/go-mysql-org/go-mysql/replication.(*BinlogParser).Parse" || e.Children != 68.13 || e.Self != 0.33 {
		t.Errorf("entries not sorted by inclusive share: %+v", p.Entries)
	}
	if _, ok := p.inclusiveOf("runtime.acquirem"); !ok {
		t.Error("the (inline) mark stays on the symbol")
	}
}

func TestParseChoice(t *testing.T) {
	if got, err := parseChoice("source", "both", "mysql", "postgresql"); err != nil || strings.Join(got, ",") != "mysql,postgresql" {
		t.Errorf("both: %v %v", got, err)
	}
	if got, err := parseChoice("format", "avro", "json", "avro"); err != nil || strings.Join(got, ",") != "avro" {
		t.Errorf("avro: %v %v", got, err)
	}
	if _, err := parseChoice("source", "oracle", "mysql", "postgresql"); err == nil || !strings.Contains(err.Error(), "-source") {
		t.Errorf("unknown value: %v", err)
	}
}

func TestSluiceConfigYAMLPostgresAvro(t *testing.T) {
	c := sluiceConfig{Name: "pg-avro", Type: "postgresql", DBPort: 5433, Database: "bench", Slot: "bench_avro", Publication: "bench_avro",
		Include: []string{"bench.orders"}, Brokers: "127.0.0.1:9092", TopicPrefix: "pg-avro", CheckpointTopic: "pg-avro.checkpoints",
		Format: "avro", RegistryURL: "http://127.0.0.1:8081", password: "secret"}
	var got struct {
		Name   string
		Source struct {
			Type, Host, User, Database, Slot, Publication, SSLMode string
			Port                                                   int
		}
		Tables         struct{ Include []string }
		Kafka          map[string]any
		Format         string
		SchemaRegistry struct{ URLs []string } `yaml:"schema_registry"`
		Admin          struct{ Listen string }
		Log            struct{ Level, Format string }
	}
	dec := yaml.NewDecoder(strings.NewReader(c.yaml()))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, c.yaml())
	}
	if got.Source.Type != "postgresql" || got.Source.User != "postgres" || got.Source.Database != "bench" || got.Source.Slot != "bench_avro" ||
		got.Source.Publication != "bench_avro" || got.Source.Port != 5433 || got.Format != "avro" ||
		len(got.SchemaRegistry.URLs) != 1 || got.SchemaRegistry.URLs[0] != "http://127.0.0.1:8081" {
		t.Errorf("got %+v from\n%s", got, c.yaml())
	}
	if strings.Contains(c.yaml(), "secret") {
		t.Error("the config must not carry the password")
	}
}

func TestPGFillStatementsCoverEveryRowOnce(t *testing.T) {
	stmts := pgFillStatements("orders", 1_200_000)
	if len(stmts) != 3 {
		t.Fatalf("%d statements, want 3", len(stmts))
	}
	for i, want := range []string{"generate_series(1::bigint, 500000::bigint)", "generate_series(500001::bigint, 1000000::bigint)", "generate_series(1000001::bigint, 1200000::bigint)"} {
		if !strings.Contains(stmts[i], want) {
			t.Errorf("statement %d lacks %s:\n%s", i, want, stmts[i])
		}
		if strings.Contains(stmts[i], "%!") || !strings.Contains(stmts[i], `INSERT INTO "bench"."orders"`) {
			t.Errorf("statement %d:\n%s", i, stmts[i])
		}
	}
	if !strings.Contains(pgCreateTable(`we"ird`), `"bench"."we""ird"`) {
		t.Error("table names must be quoted")
	}
}

func TestRecvlogicalArgs(t *testing.T) {
	args := strings.Join(recvlogicalArgs(&local.Postgres{}, "0/1A2B3C"), " ")
	for _, want := range []string{"--slot=bench_ceiling", "--start", "--endpos=0/1A2B3C", "--option=proto_version=1", "--option=publication_names=bench_ceiling", "-f -", "-d bench"} {
		if !strings.Contains(args, want) {
			t.Errorf("pg_recvlogical arguments %q lack %q", args, want)
		}
	}
}

func TestTxnsBetween(t *testing.T) {
	if n := txnsBetween(walState{XID: 100}, walState{XID: 1102}); n != 1001 {
		t.Errorf("got %d, want 1001 (the first read took an id of its own)", n)
	}
	if n := txnsBetween(walState{XID: 100}, walState{XID: 100}); n != 0 {
		t.Errorf("got %d, want 0", n)
	}
}

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/sluice-cdc/sluice/schema
cpu: AMD EPYC
BenchmarkAvroValue-2        	 1000000	      1234 ns/op	 150.12 MB/s	       0 B/op	       0 allocs/op
BenchmarkJSONKey-2          	 5000000	       210.5 ns/op	      16 B/op	       1 allocs/op
BenchmarkGoavroValue        	  200000	      2400 ns/op
PASS
ok  	github.com/sluice-cdc/sluice/schema	5.1s
`

func TestParseBenchOutput(t *testing.T) {
	got, err := parseBenchOutput([]byte(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := []encoderBench{
		{Name: "AvroValue", NsPerOp: 1234, BytesPerOp: 0, AllocsPerOp: 0, MBPerSec: 150.12},
		{Name: "JSONKey", NsPerOp: 210.5, BytesPerOp: 16, AllocsPerOp: 1},
		{Name: "GoavroValue", NsPerOp: 2400, BytesPerOp: -1, AllocsPerOp: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := parseBenchOutput([]byte("FAIL\n")); err == nil {
		t.Error("output without results must fail")
	}
}

func TestMarkdownPostgresAndFormats(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title, format string, snapshot bool, secs float64, recv time.Duration) *phase {
		p := &phase{Title: title, Format: format, Snapshot: snapshot, Records: 1_000_000, Start: t0, CPU: 3 * time.Second, PeakRSS: 60e6,
			Took: 4 * time.Second,
			Seen: progress{First: t0.Add(500 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second)))}}
		if recv > 0 {
			p.Backlog = &backlog{What: "w", Txns: 100, Bytes: 200e6, Recv: &recvRun{Elapsed: recv, CPU: recv / 2},
				DecodeShare: cpuShare{DB: 0.25, Bench: 0.5, Other: 0.75}}
		}
		return p
	}
	r := &results{
		Options: options{rows: 1_000_000, chunk: 10_000, conns: 4, idleWait: time.Minute, sources: []string{"postgresql"}, formats: []string{"json", "avro"}},
		Began:   t0, Elapsed: 5 * time.Minute,
		PG: &pgResults{Version: "PostgreSQL 15", CopyRead: &clientRead{Rows: 1_000_000, Bytes: 128e6, Elapsed: time.Second},
			Snapshot:    mk("PostgreSQL snapshot of 1,000,000 rows, json", "json", true, 4, 0),
			StreamMulti: mk("PostgreSQL stream multi, json", "json", false, 10.5, 9*time.Second), // 10 s total, ceiling 9 s: 90%
			StreamTx:    mk("PostgreSQL stream tx, json", "json", false, 20.5, 10*time.Second),   // ceiling 10 s of 20.5: 49%
		},
		Encoders: []encoderBench{{Name: "AvroValue", NsPerOp: 1500, BytesPerOp: 0, AllocsPerOp: 0}},
	}
	r.addFormat("postgresql", "snapshot", r.PG.Snapshot)
	r.addFormat("postgresql", "snapshot", mk("PostgreSQL snapshot of 1,000,000 rows, avro", "avro", true, 5, 0))
	r.addFormat("postgresql", "stream", r.PG.StreamMulti)
	r.addFormat("postgresql", "stream", mk("PostgreSQL stream multi, avro", "avro", false, 20.5, 9*time.Second))
	md := r.markdown()
	for _, want := range []string{
		"**250 k rows/s** (4.00 s; sluice's own log: 250 k rows/s) | ≥ 200 k rows/s | yes |",
		"pg_recvlogical 111 k rows/s: **86%** of it | ≥ 90% of pg_recvlogical | **no** |", // 9 s against 10.5 s
		"pg_recvlogical 100 k rows/s: **49%** of it",
		"**Avro at 80%** (costs 20%) | Avro costs ≤ 30% | yes |",    // 250 k against 200 k
		"**Avro at 50%** (costs 50%) | Avro costs ≤ 30% | **no** |", // 100 k against 50 k
		"| AvroValue | 1.50 | 0 | 0 |",
		"(9.00 s; the machine busy 1.50 cores in all, pg_recvlogical itself 0.50)",
		"128 bytes per row as COPY text",
		"PostgreSQL 15 (deploy/local",
		"| PostgreSQL stream multi, avro | 1,000,000 |", // the second format's phases are in the detail table
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "%!") || strings.Contains(md, "SEQUENCE engine") {
		t.Errorf("report has a formatting error or MariaDB's method without MariaDB:\n%s", md)
	}
}

func TestMarkdownTLS(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title string, secs float64) *phase {
		return &phase{Title: title, Format: "json", Snapshot: true, Records: 1_000_000, Start: t0, CPU: 3 * time.Second, PeakRSS: 60e6,
			Seen: progress{First: t0.Add(500 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second)))}}
	}
	r := &results{Options: options{rows: 1_000_000, chunk: 10_000, conns: 4, idleWait: time.Minute, sources: []string{"mysql"}, formats: []string{"json"}},
		Began: t0, Elapsed: time.Minute}
	r.Snapshot = mk("Snapshot of 1,000,000 rows, json", 10)
	r.addTLS("snapshot", true, mk("Snapshot of 1,000,000 rows, json, TLS", 12.5)) // 80 k/s
	r.addTLS("snapshot", false, mk("Snapshot of 1,000,000 rows, json, plain text", 10))
	r.addTLS("snapshot", false, r.Snapshot)
	md := r.markdown()
	for _, want := range []string{
		"| TLS against plain text, MariaDB snapshot (source.tls.mode verify_identity) | plain text 100 k/s and 100 k/s, TLS 80 k/s: **TLS at 80%** (costs 20%) | measured | |",
		"## TLS against plain text",
		"| MariaDB snapshot | 100,000, 100,000 | 80,000 | 80% |",
		"| Snapshot of 1,000,000 rows, json, TLS | 1,000,000 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownMapping(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title string, secs float64) *phase {
		return &phase{Title: title, Format: "avro", Snapshot: true, Records: 1_000_000, Start: t0, CPU: 4 * time.Second, PeakRSS: 60e6,
			Seen: progress{First: t0.Add(500 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second)))}}
	}
	r := &results{Options: options{rows: 1_000_000, chunk: 10_000, conns: 4, idleWait: time.Minute, sources: []string{"mysql"}, formats: []string{"avro"}},
		Began: t0, Elapsed: time.Minute}
	r.Snapshot = mk("Snapshot of 1,000,000 rows", 10)
	r.addMapping("snapshot", schemaV1, mk("Snapshot of 1,000,000 rows, avro, mapping v1", 8)) // 125 k/s
	r.addMapping("snapshot", schemaV2, mk("Snapshot of 1,000,000 rows, avro, mapping v2", 10))
	r.addMapping("snapshot", schemaV2, mk("Snapshot of 1,000,000 rows, avro, mapping v2 (2)", 10))
	md := r.markdown()
	for _, want := range []string{
		"| Avro mapping v2 against v1, MariaDB snapshot | v2 at 80% of v1's rate, 100% of its CPU per record | ≥ 95% | **not met** |",
		"## Avro mapping v2 against v1",
		"| MariaDB snapshot | 100,000, 100,000 | 125,000 | 80% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestAdminAddr(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.log")
	if err := os.WriteFile(path, []byte(`{"time":"x","level":"INFO","msg":"sluice starting","addr":"not this one"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if addr, err := adminAddr(path); err != nil || addr != "" {
		t.Errorf("before the line: %q, %v", addr, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"time":"x","level":"INFO","msg":"serving admin endpoints: /metrics /healthz /readyz /status, POST /pause /resume","addr":"127.0.0.1:40123"}` + "\n")
	f.Close()
	if addr, err := adminAddr(path); err != nil || addr != "127.0.0.1:40123" {
		t.Errorf("got %q, %v", addr, err)
	}
	if _, err := adminAddr(filepath.Join(t.TempDir(), "none.log")); err == nil {
		t.Error("missing log: want an error")
	}
}

func TestScraper(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte("# HELP sluice_build_info x\nsluice_build_info{version=\"dev\"} 1\n"))
		_ = zw.Close()
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "sluice.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := startScraper(context.Background(), path, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // sluice starting: no address yet
	line := `{"level":"INFO","msg":"serving admin endpoints: /metrics","addr":"` + strings.TrimPrefix(srv.URL, "http://") + `"}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	// The GETs are sequential: once the fourth began, three were counted.
	for deadline := time.Now().Add(5 * time.Second); hits.Load() < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	st, err := s.stop()
	if err != nil {
		t.Fatal(err)
	}
	if st.Count < 3 || int64(st.Count) > hits.Load() || st.Bytes == 0 || st.Slowest <= 0 || st.Addr != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("got %+v after %d hits", st, hits.Load())
	}

	// An answer that is not sluice's fails the phase, as does a log that
	// never names the address.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("up 1\n")) }))
	defer bad.Close()
	line = `{"level":"INFO","msg":"serving admin endpoints","addr":"` + strings.TrimPrefix(bad.URL, "http://") + `"}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	s = startScraper(context.Background(), path, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if _, err := s.stop(); err == nil || !strings.Contains(err.Error(), scrapeMarker) {
		t.Errorf("foreign answer: %v", err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = startScraper(context.Background(), path, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if _, err := s.stop(); !errors.Is(err, errNoAdminAddr) {
		t.Errorf("no address: %v", err)
	}
}

func TestParseOnlyAdmin(t *testing.T) {
	o, err := parseOnly("admin")
	if err != nil || !o["admin"] {
		t.Fatalf("%v %v", o, err)
	}
	if opts := (options{only: o}); !opts.runs("admin") || opts.runs("multi") {
		t.Errorf("runs: admin %v, multi %v", opts.runs("admin"), opts.runs("multi"))
	}
	if !(options{}).runs("admin") {
		t.Error("a full run includes the admin phase")
	}
}

func TestMarkdownAdmin(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title string, snapshot bool, secs float64, cpu time.Duration, on bool) *phase {
		p := &phase{Title: title, Format: "json", Snapshot: snapshot, Records: 1_000_000, Start: t0, CPU: cpu, PeakRSS: 60e6,
			Seen: progress{First: t0.Add(500 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second)))}}
		if on {
			p.Scrape = &scrapeStats{Every: time.Second, Addr: "127.0.0.1:1", Count: 10, Bytes: 9000, Slowest: 2500 * time.Microsecond}
		}
		return p
	}
	r := &results{Options: options{rows: 1_000_000, chunk: 10_000, conns: 4, idleWait: time.Minute, sources: []string{"mysql"}, formats: []string{"json"}},
		Began: t0, Elapsed: time.Minute}
	r.Snapshot = mk("Snapshot of 1,000,000 rows", true, 10, 4*time.Second, false)
	// Snapshot: off 100 k/s twice, on 100 k/s and 99 k/s (99.5%): met.
	r.Admin.add("snapshot", false, mk("Snapshot, admin server off (1)", true, 10, 4*time.Second, false))
	r.Admin.add("snapshot", true, mk("Snapshot, admin server on (1)", true, 10, 4*time.Second, true))
	r.Admin.add("snapshot", false, mk("Snapshot, admin server off (2)", true, 10, 4*time.Second, false))
	r.Admin.add("snapshot", true, mk("Snapshot, admin server on (2)", true, 1e6/99_000, 4*time.Second, true))
	// Stream (a drain counts from the first record): off 125 k/s and
	// 100 k/s, on 100 k/s twice (88.9% of the mean): not met.
	r.Admin.add("stream", false, mk("Stream, admin server off (1)", false, 8.5, 10*time.Second, false))
	r.Admin.add("stream", true, mk("Stream, admin server on (1)", false, 10.5, 11*time.Second, true))
	r.Admin.add("stream", false, mk("Stream, admin server off (2)", false, 10.5, 10*time.Second, false))
	r.Admin.add("stream", true, mk("Stream, admin server on (2)", false, 10.5, 11*time.Second, true))
	md := r.markdown()
	for _, want := range []string{
		"| Metrics on the hot path: admin server on, /metrics scraped every 1s, against off, MariaDB snapshot, json | on at **99.5%** of off's rate (off 100 k, 100 k, on 100 k, 99 k records/s), 100.0% of its CPU per record | ≥ 98% (costs ≤ 2%) | met |",
		"| Metrics on the hot path: admin server on, /metrics scraped every 1s, against off, MariaDB multi-row stream, json | on at **88.9%** of off's rate (off 125 k, 100 k, on 100 k, 100 k records/s), 110.0% of its CPU per record | ≥ 98% (costs ≤ 2%) | **not met**, within the runs' spread (22%) |",
		"## Admin server and metrics: on against off",
		"| MariaDB snapshot, json | 100,000, 100,000 | 100,000, 99,000 | 99.5% | 0.0% / 1.0% | 4.00 s, 4.00 s / 4.00 s, 4.00 s | 100.0% | 60 MB, 60 MB / 60 MB, 60 MB | —, — / —, — | 0.00, 0.00 / 0.00, 0.00 | 10 × 9 kB, slowest 2.5 ms, 10 × 9 kB, slowest 2.5 ms |",
		"| MariaDB multi-row stream, json | 125,000, 100,000 | 100,000, 100,000 | 88.9% | 22.2% / 0.0% |",
		"`admin.listen` empty: no admin server",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("report has a formatting error:\n%s", md)
	}
	// A shortfall beyond the runs' spread is not met, no excuse.
	r.Admin = nil
	for i, on := range onOffOrder {
		secs := 10.5
		if on {
			secs = 1e6/90_000 + 0.5
		}
		r.Admin.add("stream", on, mk(fmt.Sprintf("Stream (%d)", i), false, secs, 10*time.Second, on))
	}
	if rows := r.adminResultRows(); !strings.Contains(rows, "on at **90.0%** of off's rate") || !strings.HasSuffix(rows, "| **not met** |\n") {
		t.Errorf("got %s", rows)
	}
	// With a profile, the HTTP handler and the kprom hooks are summed,
	// inclusive; what they call is not counted twice.
	p, err := parsePerfReport([]byte(perfOutput + "     1.50%     0.00%  [.] net/http.(*conn).serve\n" +
		"     1.00%     0.10%  [.] github.com/prometheus/client_golang/prometheus/promhttp.HandlerForTransactional.func1\n" +
		"     0.25%     0.00%  [.] github.com/twmb/franz-go/plugin/kprom.(*Metrics).OnBrokerWrite\n" +
		"     0.20%     0.20%  [.] github.com/twmb/franz-go/plugin/kprom.(*Metrics).brokerLabelValues\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := metricsShare(&phase{Profile: p}); !ok || v < 1.75-1e-9 || v > 1.75+1e-9 {
		t.Errorf("metricsShare = %v, %v; want 1.75", v, ok)
	}
}

func TestParseOnlyEOS(t *testing.T) {
	o, err := parseOnly("eos")
	if err != nil || !o["eos"] {
		t.Fatalf("%v %v", o, err)
	}
	if opts := (options{only: o}); !opts.runs("eos") || opts.runs("admin") || opts.runs("multi") {
		t.Errorf("runs: eos %v, admin %v, multi %v", opts.runs("eos"), opts.runs("admin"), opts.runs("multi"))
	}
	if !(options{}).runs("eos") {
		t.Error("a full run includes the eos phase")
	}
}

func TestOnOffConfig(t *testing.T) {
	b := &bench{db: &local.MariaDB{}, kafka: &local.Kafka{}}
	for _, c := range []struct {
		ab       onOffPhase
		on       bool
		i        int
		name     string
		admin    string
		eos, cmt bool
		scrape   bool
	}{
		{adminPhase, false, 0, "bench-admin-off-0", "", false, false, false},
		{adminPhase, true, 1, "bench-admin-on-1", "127.0.0.1:0", false, false, true},
		{eosPhase, false, 2, "bench-eos-off-2", "", false, true, false},
		{eosPhase, true, 3, "bench-eos-on-3", "", true, true, false},
	} {
		cfg := b.onOffConfig(c.ab, c.on, c.i, "json", "bench.orders")
		if cfg.Name != c.name || cfg.TopicPrefix != c.name || cfg.CheckpointTopic != c.name+".checkpoints" ||
			cfg.AdminListen != c.admin || cfg.ExactlyOnce != c.eos || cfg.Format != "json" {
			t.Errorf("%s %v %d: %+v", c.ab.name, c.on, c.i, cfg)
		}
		var ph phase
		c.ab.prepare(&ph, c.on)
		if ph.Committed != c.cmt || (ph.ScrapeEvery > 0) != c.scrape {
			t.Errorf("%s %v: committed %v, scrape every %s", c.ab.name, c.on, ph.Committed, ph.ScrapeEvery)
		}
	}
}

// TestWaitForCommitted checks the eos phase's end detection against a
// transactional producer: the end offsets count uncommitted records and
// every transaction's marker, so a wait on them ends early; the committed
// wait ends only once every record is committed, markers apart.
func TestWaitForCommitted(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := c.ListenAddrs()[0]
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.TransactionalID("bench-test"), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	txn := func(n int, commit bool) {
		t.Helper()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	offs, err := newOffsets(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer offs.close()
	from, err := offs.ends(ctx, "t", true)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		txn(5, true)
	}
	txn(5, false) // open: 20 records written, 15 committed, 3 markers
	opts := func(want int64, committed bool) waitOptions {
		return waitOptions{Topic: "t", Base: sum(from), Want: want, Stall: 500 * time.Millisecond, Total: 10 * time.Second,
			Alive: func() error { return nil }, Committed: committed, From: from}
	}
	// The end offsets (23) already pass 20 records.
	if p, err := offs.waitFor(ctx, time.Now(), opts(20, false)); err != nil || p.Count != 23 {
		t.Errorf("end offsets: %+v, %v; want 23 at once", p, err)
	}
	// The committed wait does not end while 5 of them are uncommitted.
	if p, err := offs.waitFor(ctx, time.Now(), opts(20, true)); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("committed wait with a transaction open: %+v, %v; want it stuck", p, err)
	}
	p, err := offs.waitFor(ctx, time.Now(), opts(15, true))
	if err != nil || p.Committed != 15 || p.Markers != 3 || p.Count != 18 || p.First.IsZero() || p.Done.IsZero() {
		t.Errorf("committed wait for 15: %+v, %v; want 15 records, 3 markers, last stable offset 18", p, err)
	}
	// Committing the last transaction ends the wait for all 20, read on
	// from where the counter stopped.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond)
		if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Error(err)
		}
	}()
	o := opts(20, true)
	o.Stall = 5 * time.Second
	p, err = offs.waitFor(ctx, time.Now(), o)
	<-done
	if err != nil || p.Committed != 20 || p.Markers != 4 || p.Count != 24 {
		t.Errorf("committed wait for 20: %+v, %v; want 20 records, 4 markers", p, err)
	}
}

func TestMarkdownEOS(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(title string, snapshot bool, secs float64, cpu time.Duration, markers int64) *phase {
		return &phase{Title: title, Format: "json", Snapshot: snapshot, Records: 1_000_000, Start: t0, CPU: cpu, PeakRSS: 60e6, Committed: true,
			Seen: progress{First: t0.Add(500 * time.Millisecond), Done: t0.Add(time.Duration(secs * float64(time.Second))),
				Committed: 1_000_000, Markers: markers}}
	}
	r := &results{Options: options{rows: 1_000_000, chunk: 10_000, conns: 4, idleWait: time.Minute, sources: []string{"mysql"}, formats: []string{"json"}},
		Began: t0, Elapsed: time.Minute}
	r.Snapshot = mk("Snapshot of 1,000,000 rows", true, 10, 4*time.Second, 0)
	// Snapshot: off 100 k/s twice, on 90 k/s twice: met.
	// Stream: off 100 k/s twice, on 80 k/s and 100 k/s (90%): met.
	for i, on := range onOffOrder {
		snap, drain, m := 10.0, 10.5, int64(0)
		if on {
			snap, drain, m = 1e6/90_000, 1e6/80_000+0.5, 11
			if i == 3 {
				drain = 10.5
			}
		}
		r.EOS.add("snapshot", on, mk(fmt.Sprintf("Snapshot (%d)", i), true, snap, 4*time.Second, m))
		r.EOS.add("stream", on, mk(fmt.Sprintf("Stream (%d)", i), false, drain, 10*time.Second, m))
	}
	md := r.markdown()
	for _, want := range []string{
		"| Exactly-once: `kafka.exactly_once` on against off, MariaDB snapshot, json | on at **90.0%** of off's rate (off 100 k, 100 k, on 90 k, 90 k records/s), 100.0% of its CPU per record | ≥ 85% (costs ≤ 15%) | met |",
		"| Exactly-once: `kafka.exactly_once` on against off, MariaDB multi-row stream, json | on at **90.0%** of off's rate (off 100 k, 100 k, on 80 k, 100 k records/s)",
		"## Exactly-once delivery: on against off",
		"| phase | off records/s | on records/s | on / off | spread, off / on | CPU / 1 M, off / on | CPU on / off | peak RSS, off / on | perf: transactions, off / on | other work, cores, off / on | markers, off / on |",
		"| MariaDB snapshot, json | 100,000, 100,000 | 90,000, 90,000 | 90.0% | 0.0% / 0.0% | 4.00 s, 4.00 s / 4.00 s, 4.00 s | 100.0% | 60 MB, 60 MB / 60 MB, 60 MB | —, — / —, — | 0.00, 0.00 / 0.00, 0.00 | 0, 0 / 11, 11 |",
		"| MariaDB multi-row stream, json | 100,000, 100,000 | 80,000, 100,000 | 90.0% | 0.0% / 22.2% |",
		"`kafka.exactly_once` false: at least once",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "%!") || strings.Contains(md, "## Admin server") {
		t.Errorf("report has a formatting error or an empty admin section:\n%s", md)
	}
	// Below 85% beyond the runs' spread: not met.
	r.EOS = nil
	for i, on := range onOffOrder {
		secs := 10.5
		if on {
			secs = 1e6/80_000 + 0.5
		}
		r.EOS.add("stream", on, mk(fmt.Sprintf("Stream (%d)", i), false, secs, 10*time.Second, 0))
	}
	if rows := r.eosResultRows(); !strings.Contains(rows, "on at **80.0%** of off's rate") || !strings.HasSuffix(rows, "| **not met** |\n") {
		t.Errorf("got %s", rows)
	}
	// With a profile, sluice's commits and franz-go's AddPartitionsToTxn
	// are summed, inclusive.
	p, err := parsePerfReport([]byte(perfOutput + "     2.00%     0.00%  [.] github.com/sluice-cdc/sluice/sink.(*Producer).commitTxn\n" +
		"     1.00%     0.10%  [.] github.com/twmb/franz-go/pkg/kgo.(*Client).EndTransaction\n" +
		"     0.50%     0.00%  [.] github.com/twmb/franz-go/pkg/kgo.(*sink).doTxnReq\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := txnShare(&phase{Profile: p}); !ok || v < 2.5-1e-9 || v > 2.5+1e-9 {
		t.Errorf("txnShare = %v, %v; want 2.5", v, ok)
	}
}
