//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-cdc/sluice/admin"
	"github.com/sluice-cdc/sluice/deploy/monitoring"
	"github.com/sluice-cdc/sluice/sink"
)

// opsRows is the size of the table the operations tests snapshot.
const opsRows = 50000

// TestOperationsMariaDB and TestOperationsPostgres run sluice as an
// operator would watch it: the admin server's /metrics, /readyz and
// /status through a snapshot and a stream, pause and resume, a write
// burst's lag; on MariaDB also a Kafka outage.
func TestOperationsMariaDB(t *testing.T) {
	f := newFixture(t)
	testOperations(t, f, f.config(""), f.exec, "ANALYZE TABLE ops", func() { f.converge("ops", "id", "v") }, true)
}

func TestOperationsPostgres(t *testing.T) {
	f := newPGFixture(t)
	testOperations(t, f.fixture, f.config(""), f.exec, "ANALYZE ops", func() { f.converge("ops", "id", "v") }, false)
}

func testOperations(t *testing.T, f *fixture, cfg string, exec func(...string), analyze string, converge func(), killKafka bool) {
	exec("CREATE TABLE ops (id INT PRIMARY KEY, v VARCHAR(40))")
	var stmts []string
	for start := 1; start <= opsRows; start += 1000 {
		var vals []string
		for id := start; id < start+1000; id++ {
			vals = append(vals, fmt.Sprintf("(%d, 'row-%d')", id, id))
		}
		stmts = append(stmts, "INSERT INTO ops VALUES "+strings.Join(vals, ","))
	}
	exec(append(stmts, analyze)...) // the estimate of the rows comes from the statistics
	table := f.db + ".ops"
	topic := f.topic("ops")

	p := f.sluice(cfg)
	addr := adminAddr(t, f, p)

	// Catch the snapshot: pause it as soon as /status shows it running.
	waitPhase(f, addr, "snapshot")
	if code, body := post(t, addr, "/pause"); code != 200 {
		t.Fatalf("POST /pause during the snapshot: %d %s", code, body)
	}
	if code, body := get(t, addr, "/readyz"); code != 503 || !strings.Contains(body, "snapshot") {
		t.Errorf("/readyz during the snapshot: %d %q, want 503 naming the snapshot", code, body)
	}
	m := scrape(t, addr)
	if v := value(m, "sluice_snapshot_running"); v != 1 {
		t.Errorf("sluice_snapshot_running = %v during the snapshot, want 1", v)
	}
	if v := value(m, "sluice_paused"); v != 1 {
		t.Errorf("sluice_paused = %v after POST /pause, want 1", v)
	}
	// The plan of the snapshot arrives right before its first row.
	f.eventually(30*time.Second, "the snapshot's tables", func() (bool, string) {
		m = scrape(t, addr)
		v := value(m, "sluice_snapshot_tables")
		return v == 1, fmt.Sprintf("sluice_snapshot_tables = %v", v)
	})
	if est := value(m, "sluice_snapshot_rows_estimated", "table", table); est <= 0 {
		t.Errorf("sluice_snapshot_rows_estimated{table=%q} = %v, want the server's estimate", table, est)
	}
	// Pause stops at the next event: one the pipeline took before the pause
	// still goes to Kafka. Let it land before measuring.
	time.Sleep(500 * time.Millisecond)
	scanned := value(scrape(t, addr), "sluice_snapshot_rows_scanned_total", "table", table)
	if scanned >= opsRows {
		t.Fatalf("the snapshot ran to its end (%v rows) although paused", scanned)
	}
	time.Sleep(time.Second)
	if again := value(scrape(t, addr), "sluice_snapshot_rows_scanned_total", "table", table); again != scanned {
		t.Errorf("rows scanned went from %v to %v while paused", scanned, again)
	}
	if code, body := post(t, addr, "/resume"); code != 200 {
		t.Fatalf("POST /resume: %d %s", code, body)
	}

	// The snapshot ends; the engine streams and becomes ready.
	f.eventually(120*time.Second, "ready", func() (bool, string) {
		code, body := get(t, addr, "/readyz")
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
	m = scrape(t, addr)
	if v := value(m, "sluice_snapshot_rows_scanned_total", "table", table); v != opsRows {
		t.Errorf("sluice_snapshot_rows_scanned_total = %v at the end of the snapshot, want %d", v, opsRows)
	}
	if value(m, "sluice_snapshot_completed") != 1 || value(m, "sluice_snapshot_tables_remaining") != 0 || value(m, "sluice_snapshot_running") != 0 {
		t.Errorf("after the snapshot: completed %v, tables remaining %v, running %v; want 1, 0, 0",
			value(m, "sluice_snapshot_completed"), value(m, "sluice_snapshot_tables_remaining"), value(m, "sluice_snapshot_running"))
	}
	if value(m, "sluice_phase", "phase", "streaming") != 1 || value(m, "sluice_ready") != 1 {
		t.Errorf("phase streaming %v, ready %v; want 1, 1", value(m, "sluice_phase", "phase", "streaming"), value(m, "sluice_ready"))
	}
	if !strings.Contains(p.output(), "streaming after the snapshot") {
		t.Errorf("no log line of the hand-off to streaming")
	}

	// Stream: a known number of each operation.
	exec("INSERT INTO ops VALUES (100001, 'a'), (100002, 'b'), (100003, 'c')")
	exec("UPDATE ops SET v = 'u' WHERE id IN (1, 2)")
	exec("DELETE FROM ops WHERE id = 3")
	want := map[string]float64{"create": 3, "update": 2, "delete": 1}
	f.eventually(30*time.Second, "events counted", func() (bool, string) {
		m := scrape(t, addr)
		got := map[string]float64{}
		for op := range want {
			got[op] = value(m, "sluice_events_total", "table", table, "op", op)
		}
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("events %v, want %v", got, want)
	})
	f.eventually(30*time.Second, "source_behind_bytes measured", func() (bool, string) {
		v := value(scrape(t, addr), "sluice_source_behind_bytes")
		return v >= 0, fmt.Sprintf("sluice_source_behind_bytes = %v", v)
	})

	// A write burst: lag rises above zero, and falls under 2 s after it.
	ctx, cancel := context.WithCancel(context.Background())
	maxLag := make(chan float64, 1)
	go func() {
		top := 0.0
		for ctx.Err() == nil {
			if m, err := scrapeOnce(addr); err == nil {
				top = max(top, value(m, "sluice_lag_seconds", "stage", "read"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		maxLag <- top
	}()
	for i := 0; i < 40; i++ {
		var vals []string
		for j := 0; j < 250; j++ {
			id := 200000 + i*250 + j
			vals = append(vals, fmt.Sprintf("(%d, 'burst')", id))
		}
		exec("INSERT INTO ops VALUES " + strings.Join(vals, ","))
	}
	f.eventually(60*time.Second, "the burst streamed", func() (bool, string) {
		n := value(scrape(t, addr), "sluice_events_total", "table", table, "op", "create")
		return n == 3+40*250, fmt.Sprintf("%v creates", n)
	})
	time.Sleep(300 * time.Millisecond)
	cancel()
	if top := <-maxLag; top <= 0 {
		t.Errorf("sluice_lag_seconds{stage=read} stayed %v during the burst, want above 0", top)
	}
	f.eventually(30*time.Second, "lag back under 2 s", func() (bool, string) {
		m := scrape(t, addr)
		r, a := value(m, "sluice_lag_seconds", "stage", "read"), value(m, "sluice_lag_seconds", "stage", "acknowledged")
		return r < 2 && a < 2, fmt.Sprintf("read %v s, acknowledged %v s", r, a)
	})

	// Pause: no new records within a second; resume brings the rest.
	if code, body := post(t, addr, "/pause"); code != 200 {
		t.Fatalf("POST /pause: %d %s", code, body)
	}
	if st, err := getStatus(addr); err != nil || !st.Paused {
		t.Errorf("/status after POST /pause: %+v, %v; want paused", st, err)
	}
	if code, _ := get(t, addr, "/readyz"); code != 503 {
		t.Errorf("/readyz while paused: %d, want 503", code)
	}
	time.Sleep(time.Second)
	before := f.count(topic)
	exec("INSERT INTO ops VALUES (300001, 'p1'), (300002, 'p2')", "INSERT INTO ops VALUES (300003, 'p3')")
	time.Sleep(2 * time.Second)
	if n := f.count(topic); n != before {
		t.Errorf("%d records arrived while paused", n-before)
	}
	if code, body := post(t, addr, "/resume"); code != 200 {
		t.Fatalf("POST /resume: %d %s", code, body)
	}
	f.eventually(30*time.Second, "the paused writes", func() (bool, string) {
		n := f.count(topic)
		return n == before+3, fmt.Sprintf("%d of 3", n-before)
	})

	if killKafka {
		kafkaOutage(t, f, p, addr, topic, exec)
		// Every metric the dashboard and the alert rules use is served
		// (after the outage, which gives the error counters their
		// series).
		used, err := monitoring.UsedMetrics("..")
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{"up": true} // Prometheus' own, per target
		for name := range scrape(t, addr) {
			served[name] = true
		}
		for _, name := range monitoring.ExposedBy(served, used) {
			t.Errorf("%s, used by %v, is not in /metrics", name, used[name])
		}
	}
	converge()

	// sluice status: the running instance, then, once it stopped, the
	// stored checkpoint.
	out := statusCommand(t, f, cfg, "--admin.listen="+addr)
	if !out.Running || out.Status == nil || out.Status.Phase != "streaming" || out.Status.Positions.Acknowledged == nil {
		t.Errorf("sluice status --json of the running instance: %+v", out)
	}
	p.stop()
	out = statusCommand(t, f, cfg, "--admin.listen="+addr)
	if out.Running || out.Checkpoint == nil || out.Checkpoint.Phase != "stream" || out.Checkpoint.CommitTime.IsZero() ||
		!strings.Contains(out.Unreached, addr) {
		t.Errorf("sluice status --json with no instance: %+v", out)
	}
}

// statusOutput is `sluice status --json`'s output.
type statusOutput struct {
	Running    bool              `json:"running"`
	Status     *admin.StatusJSON `json:"status"`
	Checkpoint *sink.Checkpoint  `json:"checkpoint"`
	Unreached  string            `json:"unreached"`
}

func statusCommand(t *testing.T, f *fixture, cfg string, args ...string) statusOutput {
	t.Helper()
	p := f.sluice(cfg, append([]string{"status", "--json"}, args...)...)
	if err := p.wait(60 * time.Second); err != nil {
		t.Fatalf("sluice status: %v\n%s", err, p.output())
	}
	text := p.output()
	var out statusOutput
	i := strings.Index(text, "{")
	if i < 0 {
		t.Fatalf("sluice status printed no JSON:\n%s", text)
	}
	if err := json.NewDecoder(strings.NewReader(text[i:])).Decode(&out); err != nil {
		t.Fatalf("sluice status --json: %v\n%s", err, text)
	}
	return out
}

// kafkaOutage kills the broker: within 30 s a warning says Kafka is not
// acknowledging (records wait in the buffer) or not answering (the lease
// on the name lapsed with the group coordinator, so the instance gave it
// up and waits as a standby), and /readyz turns 503; after the restart
// one line tells the outage's length, /readyz is 200 again and nothing
// written meanwhile is lost.
func kafkaOutage(t *testing.T, f *fixture, p *proc, addr, topic string, exec func(...string)) {
	before := f.count(topic)
	kafka.Kill()
	killed := time.Now()
	restarted := false
	defer func() {
		if !restarted {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			kafka.Restart(ctx)
		}
	}()
	exec("INSERT INTO ops VALUES (400001, 'k1')", "INSERT INTO ops VALUES (400002, 'k2')")
	warning := regexp.MustCompile(`kafka is not (acknowledging|answering)[^\n]*`)
	deadline := killed.Add(30 * time.Second)
	var line string
	for line = warning.FindString(p.output()); line == ""; line = warning.FindString(p.output()) {
		if time.Now().After(deadline) {
			t.Fatalf("no stall warning within 30 s of killing Kafka:\n%s", p.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%.1f s after the kill: %s", time.Since(killed).Seconds(), line)
	attrs := []string{"for=", "buffered_records=", "buffered_bytes="}
	if strings.Contains(line, "not answering") {
		attrs = []string{"for=", "last_error="}
	}
	for _, attr := range attrs {
		if !strings.Contains(line, attr) {
			t.Errorf("stall warning %q lacks %s", line, attr)
		}
	}
	f.eventually(15*time.Second, "/readyz naming kafka", func() (bool, string) {
		code, body := get(t, addr, "/readyz")
		return code == 503 && strings.Contains(body, "kafka"), fmt.Sprintf("%d %q", code, body)
	})
	f.eventually(15*time.Second, "sluice_stall_seconds{target=kafka} > 0", func() (bool, string) {
		v := value(scrape(t, addr), "sluice_stall_seconds", "target", "kafka")
		return v > 0, fmt.Sprint(v)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kafka.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	f.eventually(90*time.Second, "the recovery line", func() (bool, string) {
		return regexp.MustCompile(`kafka reachable again.*outage=`).MatchString(p.output()), "not yet"
	})
	f.eventually(60*time.Second, "ready again", func() (bool, string) {
		code, body := get(t, addr, "/readyz")
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
	f.eventually(60*time.Second, "the writes made during the outage", func() (bool, string) {
		n := f.count(topic)
		return n >= before+2, fmt.Sprintf("%d of 2", n-before)
	})
}

var adminLine = regexp.MustCompile(`serving admin endpoints[^\n]*addr=(\S+)`)

// adminAddr waits for sluice to log its admin server's address.
func adminAddr(t *testing.T, f *fixture, p *proc) string {
	var addr string
	f.eventually(30*time.Second, "the admin server", func() (bool, string) {
		m := adminLine.FindStringSubmatch(p.output())
		if m == nil {
			return false, "not logged yet"
		}
		addr = m[1]
		return true, ""
	})
	return addr
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitPhase waits until the instance at addr reports phase in /status.
func waitPhase(f *fixture, addr, phase string) {
	f.t.Helper()
	f.eventually(60*time.Second, "phase "+phase, func() (bool, string) {
		st, err := getStatus(addr)
		if err != nil {
			return false, err.Error()
		}
		return st.Phase == phase, "phase " + st.Phase
	})
}

func getStatus(addr string) (admin.StatusJSON, error) {
	var st admin.StatusJSON
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func scrapeOnce(addr string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	m, err := scrapeOnce(addr)
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	return m
}

// value is the value of the series of name whose labels include the
// given name/value pairs; -1e9 when there is none.
func value(m map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := m[name]
	if mf == nil {
		return -1e9
	}
next:
	for _, s := range mf.Metric {
		have := map[string]string{}
		for _, lp := range s.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Counter != nil:
			return s.Counter.GetValue()
		case s.Untyped != nil:
			return s.Untyped.GetValue()
		}
	}
	return -1e9
}
