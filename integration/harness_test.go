//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// servers shared by every test of the run.
var (
	mariadb *local.MariaDB
	kafka   *local.Kafka
	// pki holds the certificates of kafka's SASL_SSL and mTLS listeners
	// (secure_test.go); the other tests use its PLAINTEXT listener.
	pki    *local.TestPKI
	binary string // the sluice binary under test
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var err error
	if mariadb, err = local.StartMariaDB(ctx, local.MariaDBOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "start mariadb:", err)
		return 1
	}
	defer mariadb.Stop()
	dir, err := os.MkdirTemp("", "sluice-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if pki, err = local.NewTestPKI(filepath.Join(dir, "pki")); err != nil {
		fmt.Fprintln(os.Stderr, "certificates:", err)
		return 1
	}
	secure := &local.KafkaSecurity{PKI: pki, ScramUsers: map[string]string{saslUser: saslPassword}}
	if kafka, err = local.StartKafka(ctx, local.KafkaOptions{Secure: secure}); err != nil {
		fmt.Fprintln(os.Stderr, "start kafka:", err)
		return 1
	}
	defer kafka.Stop()
	binary = filepath.Join(dir, "sluice")
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", binary, "github.com/sluice-cdc/sluice/cmd/sluice")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		return 1
	}
	code := m.Run()
	aux.stop()
	tlsDB.stop()
	stopTestRegistry()
	pg.stop()
	pgTLS.stop()
	connectWorker.stop()
	return code
}

// fixture is one test's private corner of the shared servers.
type fixture struct {
	t      *testing.T
	srv    *local.MariaDB // the server the test's database lives on
	ctx    context.Context
	db     string // database the test owns
	name   string // sluice source name
	prefix string // topic prefix
	cp     string // checkpoint topic
	kc     *kgo.Client
	adm    *kadm.Client
	qconn  *client.Conn
	// password, when set, replaces the server's for sluice's connection.
	password string
	// registry, when set, makes config choose format avro with this
	// schema registry (avro_test.go); otherwise the format is json.
	registry testRegistry
	// avroMapping is avro.mapping for an Avro fixture; empty means v1.
	avroMapping string
	// format, when set and registry is not, is the format in config
	// (connect-json); otherwise json.
	format string
	// brokers, when set, replaces kafka's PLAINTEXT listener in config,
	// and kafkaYAML adds settings under kafka: (secure_test.go).
	brokers, kafkaYAML string
}

// lazyServer is a server that tests share, started on first use (a run
// that needs none never pays for it) and stopped by TestMain. A failed
// start fails every test that asks for it, with the start's error.
type lazyServer[S interface{ Stop() error }] struct {
	what  string // for the error: "second mariadb"
	start func(context.Context) (S, error)

	once    sync.Once
	srv     S
	err     error
	started bool
}

// get returns the server, starting it on the first call; it blocks for at
// most ten minutes then.
func (l *lazyServer[S]) get(t *testing.T) S {
	t.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		l.srv, l.err = l.start(ctx)
		l.started = l.err == nil
	})
	if l.err != nil {
		t.Fatalf("start %s: %v", l.what, l.err)
	}
	return l.srv
}

// stop stops the server if it was started.
func (l *lazyServer[S]) stop() {
	if l.started {
		l.srv.Stop()
	}
}

// aux is a second MariaDB for tests that change global settings or purge
// binlogs.
var aux = &lazyServer[*local.MariaDB]{what: "second mariadb", start: func(ctx context.Context) (*local.MariaDB, error) {
	return local.StartMariaDB(ctx, local.MariaDBOptions{Args: []string{"--server-id=7"}})
}}

func auxServer(t *testing.T) *local.MariaDB { return aux.get(t) }

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, mariadb)
}

// newFixtureOn is newFixture on another MariaDB server.
func newFixtureOn(t *testing.T, srv *local.MariaDB) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	base := strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_"))
	if len(base) > 40 {
		base = base[:40]
	}
	base = fmt.Sprintf("%s_%d", base, time.Now().UnixNano()%100000)
	f := &fixture{t: t, srv: srv, ctx: ctx, db: base, name: strings.ReplaceAll(base, "_", "-"), prefix: "t." + base, cp: "cp." + base}
	kc, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	f.kc, f.adm = kc, kadm.NewClient(kc)
	f.exec("CREATE DATABASE " + quote(f.db))
	return f
}

func quote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// exec runs statements in the fixture's database on the shared server.
func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	if err := execOn(f.ctx, f.srv, f.db, stmts...); err != nil {
		f.t.Fatal(err)
	}
}

func execOn(ctx context.Context, m *local.MariaDB, db string, stmts ...string) error {
	conn, err := m.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if db != "" {
		if err := conn.UseDB(db); err != nil && !strings.Contains(err.Error(), "Unknown database") {
			return err
		}
	}
	for _, s := range stmts {
		if _, err := conn.Execute(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// query runs one statement on the fixture's own connection, opened on first
// use and closed at cleanup.
func (f *fixture) query(q string) *mysql.Result {
	f.t.Helper()
	if f.qconn == nil {
		f.qconn = f.conn()
	}
	res, err := f.qconn.Execute(q)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return res
}

// conn returns a new connection to the fixture's database, closed at
// cleanup.
func (f *fixture) conn() *client.Conn {
	f.t.Helper()
	c, err := f.srv.Conn(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.UseDB(f.db); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// topic is the topic of one of the fixture's tables.
func (f *fixture) topic(table string) string { return f.prefix + "." + f.db + "." + table }

// config is a sluice configuration for the fixture; extra YAML is appended.
func (f *fixture) config(extra string) string {
	return fmt.Sprintf(`name: %s
source:
  type: mysql
  host: 127.0.0.1
  port: %d
  user: %s
tables:
  include: ["%s.*"]
kafka:
  brokers: ["%s"]
  topic_prefix: %s
  checkpoint_topic: %s
  checkpoint_interval: 200ms
  topic_config:
    min.compaction.lag.ms: "3600000"   # tests read every record, superseded ones too
%s%sadmin:
  listen: 127.0.0.1:0
log:
  level: debug
%s`, f.name, f.srv.Port(), f.srv.User(), f.db, f.brokerList(), f.prefix, f.cp, f.kafkaYAML, f.formatYAML(), extra)
}

// brokerList is the bootstrap address sluice is configured with.
func (f *fixture) brokerList() string {
	if f.brokers != "" {
		return f.brokers
	}
	return kafka.Bootstrap()
}

// proc is a running sluice process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
	err  error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// sluice starts the binary with args; the process is killed at cleanup and
// its output shown when the test failed.
func (f *fixture) sluice(config string, args ...string) *proc {
	f.t.Helper()
	path := filepath.Join(f.t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		f.t.Fatal(err)
	}
	if len(args) == 0 {
		args = []string{"run"}
	}
	args = append(args, "--config", path)
	p := &proc{t: f.t, log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout = lockedWriter{p.mu, p.log}
	p.cmd.Stderr = lockedWriter{p.mu, p.log}
	var pw string
	if f.srv != nil {
		pw = f.srv.Password()
	}
	if f.password != "" {
		pw = f.password
	}
	p.cmd.Env = append(os.Environ(), "SLUICE_SOURCE_PASSWORD="+pw)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	f.t.Cleanup(func() {
		p.kill()
		if f.t.Failed() {
			f.t.Logf("sluice output:\n%s", p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and requires a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.kill()
		p.t.Fatalf("sluice did not stop within 60s after SIGTERM\n%s", p.output())
	}
	if p.err != nil {
		p.t.Fatalf("sluice exited with %v after SIGTERM\n%s", p.err, p.output())
	}
}

// wait waits for the process to exit by itself and returns its error.
func (p *proc) wait(d time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.t.Fatalf("sluice still running after %v\n%s", d, p.output())
		return nil
	}
}

// record is one Kafka record as the tests look at it.
type record struct {
	Key       string
	Value     []byte // nil for a tombstone
	Partition int32
	Offset    int64
	headers   map[string]string
	control   bool // a transaction marker, kept only while reading
}

// envelope is the decoded JSON value.
type envelope struct {
	Before map[string]json.RawMessage `json:"before"`
	After  map[string]json.RawMessage `json:"after"`
	Op     string                     `json:"op"`
	Source map[string]any             `json:"source"`
}

func (r record) env(t *testing.T) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(r.Value, &e); err != nil {
		t.Fatalf("record %s@%d: %v: %s", r.Key, r.Offset, err, r.Value)
	}
	return e
}

// read returns every record of topic up to its current end, per partition in
// offset order, partitions in order.
func (f *fixture) read(topic string) []record {
	f.t.Helper()
	ends, err := f.adm.ListEndOffsets(f.ctx, topic)
	if err != nil {
		f.t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	parts := map[int32]kgo.Offset{}
	for p := range want {
		parts[p] = kgo.NewOffset().AtStart()
	}
	// Control records (the commit and abort markers of transactions) are
	// kept so that the read reaches the end offset exactly; they are not
	// returned.
	c, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	byPart := map[int32][]record{}
	ctx, cancel := context.WithTimeout(f.ctx, 60*time.Second)
	defer cancel()
	for {
		doneAll := true
		for p, end := range want {
			if n := len(byPart[p]); n == 0 || byPart[p][n-1].Offset+1 < end {
				doneAll = false
			}
		}
		if doneAll {
			break
		}
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			f.t.Fatalf("read %s: timed out", topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { f.t.Fatalf("read %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], record{Partition: r.Partition, Offset: r.Offset, control: true})
				return
			}
			if r.Offset < want[r.Partition] {
				rec := record{Key: string(r.Key), Value: r.Value, Partition: r.Partition, Offset: r.Offset}
				for _, h := range r.Headers {
					if rec.headers == nil {
						rec.headers = map[string]string{}
					}
					rec.headers[h.Key] = string(h.Value)
				}
				byPart[r.Partition] = append(byPart[r.Partition], rec)
			}
		})
	}
	var ps []int32
	for p := range byPart {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	var out []record
	for _, p := range ps {
		for _, r := range byPart[p] {
			if !r.control {
				out = append(out, r)
			}
		}
	}
	return out
}

// count returns the number of records in topic (0 when it does not exist).
//
// It asks through a client of its own: a client that has looked the topic
// up before it existed keeps it unknown until its next metadata refresh,
// seconds later, which is too late for the tests that poll for a count.
func (f *fixture) count(topic string) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()))
	if err != nil {
		return 0
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(f.ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// compacted is what a consumer of the compacted topic ends up with: the
// last value of every key, deleted keys removed.
func compacted(recs []record) map[string][]byte {
	m := map[string][]byte{}
	for _, r := range recs {
		if r.Value == nil {
			delete(m, r.Key)
		} else {
			m[r.Key] = r.Value
		}
	}
	return m
}

// tableRows returns the rows of table as key JSON → column → text, with the
// key rendered as sluice renders a single integer or string key.
func (f *fixture) tableRows(table, keyCol string, cols ...string) map[string]map[string]string {
	f.t.Helper()
	var sel []string
	for _, c := range cols {
		sel = append(sel, "CAST("+quote(c)+" AS CHAR)")
	}
	res := f.query("SELECT " + quote(keyCol) + ", " + strings.Join(sel, ", ") + " FROM " + quote(table))
	defer res.Close()
	out := map[string]map[string]string{}
	for i := range res.Values {
		k, _ := res.GetString(i, 0)
		row := map[string]string{}
		for j, c := range cols {
			if res.Values[i][j+1].Type == 0 {
				row[c] = "NULL"
				continue
			}
			row[c], _ = res.GetString(i, j+1)
		}
		out[fmt.Sprintf(`{"%s":%s}`, keyCol, k)] = row
	}
	return out
}

// topicRows renders the compacted topic like tableRows.
func (f *fixture) topicRows(recs []record, cols ...string) map[string]map[string]string {
	f.t.Helper()
	out := map[string]map[string]string{}
	for k, v := range compacted(recs) {
		e := record{Key: k, Value: v}.env(f.t)
		row := map[string]string{}
		for _, c := range cols {
			row[c] = jsonText(e.After[c])
		}
		out[k] = row
	}
	return out
}

func jsonText(raw json.RawMessage) string {
	if raw == nil || string(raw) == "null" {
		return "NULL"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// eventually polls cond until it holds or the timeout passes.
func (f *fixture) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(250 * time.Millisecond)
	}
	f.t.Fatalf("%s: not reached in %v: %s", what, timeout, last)
}

// converge waits until the compacted topic equals the table.
func (f *fixture) converge(table, keyCol string, cols ...string) []record {
	f.t.Helper()
	var recs []record
	f.eventually(90*time.Second, "topic "+f.topic(table)+" equals table "+table, func() (bool, string) {
		recs = f.read(f.topic(table))
		want := f.tableRows(table, keyCol, cols...)
		got := f.topicRows(recs, cols...)
		return diffRows(want, got)
	})
	return recs
}

func diffRows(want, got map[string]map[string]string) (bool, string) {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			diffs = append(diffs, "missing "+k)
			continue
		}
		for c, v := range w {
			if g[c] != v {
				diffs = append(diffs, fmt.Sprintf("%s.%s: table %q, topic %q", k, c, v, g[c]))
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) == 0 {
		return true, ""
	}
	sort.Strings(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("… %d more", len(diffs)-5))
	}
	return false, fmt.Sprintf("%d differences: %s", len(diffs), strings.Join(diffs, "; "))
}
