package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/engine"
)

// root is the repository, seen from this package.
const root = "../.."

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sluice_ready`, []string{"sluice_ready"}},
		{`sum by (table, op) (rate(sluice_events_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))`,
			[]string{"sluice_events_total"}},
		{`histogram_quantile(0.99, sum by (le, node_id) (rate(sluice_kafka_request_duration_e2e_seconds_bucket[5m])))`,
			[]string{"sluice_kafka_request_duration_e2e_seconds_bucket"}},
		{`up == 0 and on(instance, job) max_over_time(sluice_build_info[1d])`, []string{"up", "sluice_build_info"}},
		{`sluice_ready == 0 unless on(instance, job) (sluice_snapshot_running == 1 or sluice_paused == 1)`,
			[]string{"sluice_ready", "sluice_snapshot_running", "sluice_paused"}},
		{`rate(x_errors_total[5m]) / ignoring(code) group_left rate(x_requests_total[5m])`,
			[]string{"x_errors_total", "x_requests_total"}},
		{`a * on (instance) group_right (version, commit) b`, []string{"a", "b"}},
		// Label names in matchers and lists, however they are named.
		{`sum by (count, sum, rate) (sluice_stall_seconds{target="kafka", le!="1", job!~"x|y"})`, []string{"sluice_stall_seconds"}},
		{`sum(sluice_events_total) by (table) / count without (op) (sluice_events_total)`, []string{"sluice_events_total"}},
		// Strings, escapes and every quote.
		{`label_replace(sluice_phase, "dst", "sluice_fake $1", "phase", "(.*)")`, []string{"sluice_phase"}},
		{`sluice_phase{phase="a\"b sluice_x", x='it\'s sluice_y', y=` + "`raw sluice_z`" + `}`, []string{"sluice_phase"}},
		{`count_values("version", sluice_build_info)`, []string{"sluice_build_info"}},
		// Numbers, durations, offsets and @.
		{`topk(5, sluice_stall_seconds offset 1h30m)`, []string{"sluice_stall_seconds"}},
		{`sluice_lag_seconds offset -5m > bool 300`, []string{"sluice_lag_seconds"}},
		{`sluice_lag_seconds @ start() - sluice_lag_seconds @ 1609746000.5`, []string{"sluice_lag_seconds"}},
		{`1e-3 * sluice_lag_seconds + 0x1f - Inf * NaN + .5 + 2.5E+3`, []string{"sluice_lag_seconds"}},
		{`max_over_time((sluice_start_time_seconds > 0)[30m:1m]) and changes(sluice_start_time_seconds[30m:])`,
			[]string{"sluice_start_time_seconds"}},
		// Names in matchers.
		{`{__name__="sluice_ready", job="x"}`, []string{"sluice_ready"}},
		{`{__name__=~"sluice_.*"}`, nil},
		{`{"sluice.dotted", job="x"} + sluice_x{"quoted label"="1"}`, []string{"sluice.dotted", "sluice_x"}},
		// Keywords in any case, spaces before parentheses, recording rules.
		{`SUM BY (job) (RATE (sluice_events_total [5m])) AND sluice_up OR sluice_down UNLESS sluice_gone`,
			[]string{"sluice_events_total", "sluice_up", "sluice_down", "sluice_gone"}},
		{`job:sluice_events:rate5m > 0`, []string{"job:sluice_events:rate5m"}},
		// Comments and Grafana variables.
		{"sluice_ready # sluice_paused is a comment\n + sluice_phase", []string{"sluice_ready", "sluice_phase"}},
		{`sluice_lag_seconds > $threshold and sluice_lag_seconds{instance=~"${instance:regex}"} < ${max}`,
			[]string{"sluice_lag_seconds"}},
		{`rate(sluice_events_total[[interval]])`, []string{"sluice_events_total"}},
		// Functions, with and without their parentheses' operands.
		{`vector(0) + time() + pi() + absent(sluice_build_info{job="sluice"})`, []string{"sluice_build_info"}},
		{`clamp_min(irate(a[1m]), 0) + deriv(b[5m]) + delta(c[5m]) + my_function_like_word(d)`, []string{"a", "b", "c", "d"}},
		// Each name once, in order of first use.
		{`sluice_ready + sluice_paused + sluice_ready`, []string{"sluice_ready", "sluice_paused"}},
		{``, nil},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestGrafanaQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`label_values(sluice_build_info, instance)`, []string{"sluice_build_info"}},
		{`label_values(sluice_build_info{job=~"$job", x="a,b"}, instance)`, []string{"sluice_build_info"}},
		{`label_values(job)`, nil},
		{`label_names(sluice_build_info)`, []string{"sluice_build_info"}},
		{`label_names()`, nil},
		{`query_result(max by (instance) (sluice_lag_seconds))`, []string{"sluice_lag_seconds"}},
		{`metrics(sluice_.*)`, nil},
		{`up{job="sluice"}`, []string{"up"}},
	} {
		if got := metricNames(grafanaQuery(tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(grafanaQuery(%q)) = %q, want %q", tc.query, got, tc.want)
		}
	}
}

func TestExposedBy(t *testing.T) {
	names := map[string]bool{"a": true, "h": true}
	used := map[string][]string{"a": nil, "h_bucket": nil, "h_sum": nil, "h_count": nil, "b_total": nil, "c_count": nil}
	if got, want := ExposedBy(names, used), []string{"b_total", "c_count"}; !slices.Equal(got, want) {
		t.Errorf("ExposedBy = %q, want %q", got, want)
	}
	if got := ExposedBy(names, nil); got != nil {
		t.Errorf("ExposedBy(names, nil) = %q, want none", got)
	}
}

// TestUsedMetricsPlaces reads a dashboard and a rule file of every shape
// UsedMetrics knows.
func TestUsedMetricsPlaces(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("deploy/grafana/d.json", `{
	  "annotations": {"list": [{"name": "Paused", "expr": "m_paused == 1"}, {"name": "builtin"}]},
	  "templating": {"list": [
	    {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
	    {"name": "job", "type": "query", "query": "label_values(m_info, job)"},
	    {"name": "instance", "type": "query", "query": {"query": "label_values(m_info{job=~\"$job\"}, instance)", "refId": "X"}},
	    {"name": "interval", "type": "interval", "query": "1m,5m"}
	  ]},
	  "panels": [
	    {"id": 1, "type": "row", "title": "Collapsed", "collapsed": true, "panels": [
	      {"id": 2, "type": "timeseries", "title": "Nested", "targets": [{"refId": "A", "expr": "rate(m_total[5m])"}]}
	    ]},
	    {"id": 3, "type": "stat", "title": "Two", "targets": [{"refId": "A", "expr": "m_info"}, {"refId": "B", "expr": "m_total"}]},
	    {"id": 4, "type": "text", "title": "Notes"},
	    {"id": 5, "type": "stat", "targets": [{"refId": "A", "expr": "m_untitled"}]}
	  ]
	}`)
	write("deploy/prometheus/r.yaml", `
groups:
  - name: g
    rules:
      - record: job:m:rate5m
        expr: sum by (job) (rate(m_total[5m]))
      - alert: MHigh
        expr: job:m:rate5m > 1
`)
	write("deploy/prometheus/notes.txt", "m_ignored")
	used, err := UsedMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	const d, r = "deploy/grafana/d.json: ", "deploy/prometheus/r.yaml: "
	want := map[string][]string{
		"m_paused":     {d + `annotation "Paused"`},
		"m_info":       {d + `variable "job"`, d + `variable "instance"`, d + `panel "Two"`},
		"m_total":      {d + `panel "Nested"`, d + `panel "Two"`, r + "record job:m:rate5m"},
		"m_untitled":   {d + "panel id 5"},
		"job:m:rate5m": {r + "alert MHigh"},
	}
	if fmt.Sprint(used) != fmt.Sprint(want) {
		t.Errorf("UsedMetrics =\n%v\nwant\n%v", used, want)
	}

	write("deploy/grafana/broken.json", `{"panels": [`)
	if _, err := UsedMetrics(dir); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("UsedMetrics with a broken dashboard: error %v, want one naming broken.json", err)
	}
}

// kpromServed are the client metrics franz-go's kprom plugin (v1.5.0)
// serves with the options the engine gives it (engine/engine.go: namespace
// sluice, subsystem kafka, FetchAndProduceDetail with every detail and
// ConsistentNaming): connection, request and buffer metrics by broker
// (label node_id), and produce and fetch counts by node_id and topic.
// kprom also registers request histograms (*_seconds), which stay empty
// unless its Histograms option enables them, so they are not listed: a
// panel or rule using one would show nothing. TestRunningEngineServes
// checks this list against a live client.
var kpromServed = []string{
	"sluice_kafka_connects_total",
	"sluice_kafka_connect_errors_total",
	"sluice_kafka_disconnects_total",
	"sluice_kafka_write_bytes_total",
	"sluice_kafka_write_errors_total",
	"sluice_kafka_read_bytes_total",
	"sluice_kafka_read_errors_total",
	"sluice_kafka_produce_compressed_bytes_total",
	"sluice_kafka_produce_uncompressed_bytes_total",
	"sluice_kafka_produce_batches_total",
	"sluice_kafka_produce_records_total",
	"sluice_kafka_fetch_compressed_bytes_total",
	"sluice_kafka_fetch_uncompressed_bytes_total",
	"sluice_kafka_fetch_batches_total",
	"sluice_kafka_fetch_records_total",
	"sluice_kafka_buffered_produce_records_total",
	"sluice_kafka_buffered_produce_bytes",
	"sluice_kafka_buffered_fetch_records_total",
	"sluice_kafka_buffered_fetch_bytes",
}

// kpromOnTrouble are the kprom names that have no series until something
// goes wrong, or until the client fetches.
var kpromOnTrouble = []string{
	"sluice_kafka_connect_errors_total",
	"sluice_kafka_disconnects_total",
	"sluice_kafka_write_errors_total",
	"sluice_kafka_read_errors_total",
	"sluice_kafka_fetch_compressed_bytes_total",
	"sluice_kafka_fetch_uncompressed_bytes_total",
	"sluice_kafka_fetch_batches_total",
	"sluice_kafka_fetch_records_total",
}

// prometheusOwn are series Prometheus writes itself for every target.
var prometheusOwn = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// engineDefined returns the names engine/metrics.go defines with desc(...).
func engineDefined(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "engine", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bdesc\("([a-zA-Z0-9_:]+)",`).FindAllSubmatch(src, -1) {
		names["sluice_"+string(m[1])] = true
	}
	if len(names) < 20 {
		t.Fatalf("found only %d desc(...) metrics in engine/metrics.go: has its form changed?", len(names))
	}
	return names
}

func gathered(t *testing.T, g prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

func set2(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, n := range l {
			m[n] = true
		}
	}
	return m
}

func used(t *testing.T) map[string][]string {
	t.Helper()
	u, err := UsedMetrics(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(u) < 20 {
		t.Fatalf("UsedMetrics(%q) found only %d names: %v", root, len(u), u)
	}
	return u
}

// TestUsedMetricsAreServed holds the dashboard and the rules to what a
// `sluice run` process serves: the engine's metrics (gathered before Run,
// and, for the labelled ones without series yet, as engine/metrics.go
// defines them), kprom's, and the Go and process collectors cmd/sluice
// registers.
func TestUsedMetricsAreServed(t *testing.T) {
	cfg, err := config.Load("", []string{"--kafka.brokers=127.0.0.1:1", "--source.type=mysql", "--format=json",
		"--source.user=sluice", "--tables.include=shop.*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, err := engine.New(*cfg, engine.WithMetrics(reg), engine.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	served := gathered(t, reg)
	defined := engineDefined(t)
	for name := range served {
		if strings.HasPrefix(name, "sluice_") && !defined[name] {
			t.Errorf("the engine serves %s, which engine/metrics.go does not define with desc(...)", name)
		}
	}
	for name := range defined {
		served[name] = true
	}
	u := used(t)
	for _, name := range ExposedBy(set2(kpromServed, prometheusOwn, keys(served)), u) {
		t.Errorf("%s is not served by sluice; used by %s", name, strings.Join(u[name], ", "))
	}
	var unused []string
	for name := range defined {
		if len(u[name]) == 0 {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	t.Logf("engine metrics neither the dashboard nor the rules use: %v", unused)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// memSource is a Source without a database: a snapshot of one row, then
// one streamed insert, then nothing until stopped.
type memSource struct{ streamed chan struct{} }

var memTable = &sluice.Table{Database: "shop", Name: "items", PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
	{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
	{Name: "name", Kind: sluice.KindString, SourceType: "text", Nullable: true},
}}

func (m *memSource) Prepare(context.Context, bool) error              { return nil }
func (m *memSource) CanResume(context.Context, sluice.Position) error { return nil }
func (m *memSource) Resnapshot(context.Context, sluice.Position, engine.Handler, engine.Handler) (sluice.Position, error) {
	return sluice.Position{}, nil
}
func (m *memSource) Position(context.Context) (sluice.Position, string, error) {
	return sluice.Position{LSN: 100}, "memory", nil
}

func (m *memSource) Snapshot(ctx context.Context, h engine.Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error) {
	at := sluice.Position{LSN: 100}
	if err := began(ctx, at); err != nil {
		return at, err
	}
	if p, ok := h.(sluice.SnapshotPlanner); ok {
		p.SnapshotPlan([]sluice.TableEstimate{{Table: memTable.FullName(), Rows: 1}})
	}
	ev := &sluice.Event{Op: sluice.OpRead, Table: memTable, After: sluice.Row{int64(1), "one"},
		Source: sluice.Source{Connector: "mem", Name: "test", Snapshot: true, Position: at}}
	return at, h.Change(ctx, ev)
}

func (m *memSource) Stream(ctx context.Context, from sluice.Position, h engine.Handler) error {
	pos := sluice.Position{LSN: from.LSN + 1}
	ev := &sluice.Event{Op: sluice.OpCreate, Table: memTable, After: sluice.Row{int64(2), "two"},
		Source: sluice.Source{Connector: "mem", Name: "test", Position: pos, CommitTime: time.Now()}}
	if err := h.Change(ctx, ev); err != nil {
		return err
	}
	if err := h.Resumable(ctx, pos); err != nil {
		return err
	}
	close(m.streamed)
	<-ctx.Done()
	return nil
}

// TestRunningEngineServes runs an engine against an in-process Kafka
// (kfake) through a snapshot into streaming, and checks that every name
// the dashboard and the rules use has series then, but for the few that
// only trouble fills, and that kpromServed is what kprom serves.
func TestRunningEngineServes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an engine against kfake")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg, err := config.Load("", []string{"--name=test", "--source.type=postgresql", "--source.user=sluice",
		"--source.database=shop", "--tables.include=shop.*", "--format=json",
		"--kafka.brokers=" + strings.Join(c.ListenAddrs(), ","), "--kafka.checkpoint_interval=20ms", "--kafka.linger=1ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	src := &memSource{streamed: make(chan struct{})}
	e, err := engine.New(*cfg, engine.WithSource(src), engine.WithMetrics(reg), engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30 s of its context ending")
		}
	}()
	select {
	case <-src.streamed:
	case err := <-done:
		t.Fatalf("Run returned before streaming: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("not streaming after 20 s; status %+v", e.Status())
	}
	deadline := time.Now().Add(20 * time.Second)
	for st := e.Status(); st.Committed != st.Read || st.Read.IsZero(); st = e.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the streamed change was not committed within 20 s; status %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	served := gathered(t, reg)
	u := used(t)
	for _, name := range ExposedBy(set2(keys(served), kpromOnTrouble, prometheusOwn), u) {
		t.Errorf("%s has no series on a streaming engine; used by %s", name, strings.Join(u[name], ", "))
	}
	defined := engineDefined(t)
	for _, name := range kpromServed {
		if !served[name] && !slices.Contains(kpromOnTrouble, name) {
			t.Errorf("kpromServed lists %s, which a producing client does not serve", name)
		}
	}
	for name := range served {
		if strings.HasPrefix(name, "sluice_kafka_") && !defined[name] && !slices.Contains(kpromServed, name) {
			t.Errorf("kprom serves %s, missing from kpromServed", name)
		}
	}
}

// rulesFile is the alert rule file the package describes.
const rulesFile = "deploy/prometheus/sluice-alerts.yaml"

// TestAlertRules checks the rule file's structure, as promtool would the
// parts it can: known fields only, every alert with an expr, a for (but
// those meant to fire at once), a severity, a summary, a description and a
// runbook link to its own section of docs/operations.md.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f ruleFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	anchors := docAnchors(t)
	fireAtOnce := set("SluiceRecordErrors", "SluiceCheckpointWriteErrors", "SluiceReconnecting", "SluiceFailed", "SluiceRestarting")
	duration := regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	seen := map[string]bool{}
	groups := map[string]bool{}
	if len(f.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesFile)
	}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q is empty or repeated", g.Name)
		}
		groups[g.Name] = true
		for _, r := range g.Rules {
			name := r.Alert
			switch {
			case r.Record != "":
				t.Errorf("rule %s: the file holds alerts only", r.name())
				continue
			case name == "":
				t.Errorf("a rule of group %s has no alert name", g.Name)
				continue
			case seen[name]:
				t.Errorf("alert %s is defined twice", name)
			}
			seen[name] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("alert %s has no expr", name)
			} else if err := balanced(r.Expr); err != nil {
				t.Errorf("alert %s: expr %q: %v", name, r.Expr, err)
			}
			switch {
			case r.For == "" && !fireAtOnce[name]:
				t.Errorf("alert %s has no for", name)
			case r.For != "" && fireAtOnce[name]:
				t.Errorf("alert %s is meant to fire at once but has for: %s", name, r.For)
			case r.For != "" && !duration.MatchString(r.For):
				t.Errorf("alert %s: for %q is no duration", name, r.For)
			}
			if r.KeepFiringFor != "" && !duration.MatchString(r.KeepFiringFor) {
				t.Errorf("alert %s: keep_firing_for %q is no duration", name, r.KeepFiringFor)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("alert %s: labels.severity %q is not one of critical, warning, info", name, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no annotations.%s", name, a)
				}
			}
			anchor := strings.ToLower(name)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/operations.md#"+anchor) {
				t.Errorf("alert %s: runbook_url %q does not point at docs/operations.md#%s", name, r.Annotations["runbook_url"], anchor)
			}
			if !anchors[anchor] {
				t.Errorf("alert %s: docs/operations.md has no heading %q", name, name)
			}
		}
	}
	for _, want := range []string{"SluiceLagHigh", "SluiceNotReady", "SluiceStalled", "SluiceNoCheckpoint",
		"SluiceProduceErrors", "SluiceRecordErrors", "SluiceRegistryErrors", "SluiceCheckpointWriteErrors",
		"SluiceReconnecting", "SluicePaused", "SluiceFailed"} {
		if !seen[want] {
			t.Errorf("%s has no alert %s", rulesFile, want)
		}
	}
}

// docAnchors returns the GitHub anchors of docs/operations.md's headings.
func docAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return anchors
}

// balanced reports parentheses, brackets and braces that do not pair up
// outside strings.
func balanced(expr string) error {
	var stack []byte
	pair := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '"', '\'', '`':
			i = skipString(expr, i) - 1
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return fmt.Errorf("unpaired %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

const dashboardFile = "deploy/grafana/sluice.json"

// TestDashboard checks the dashboard's structure: it parses, takes its
// data source from the DS_PROMETHEUS variable, filters by the job and
// instance variables, and every panel but rows and text has a title and
// queries.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []json.RawMessage
		Templating    struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if raw.UID == "" || raw.Title == "" || raw.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and schema 36 or later", raw.UID, raw.Title, raw.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range raw.Templating.List {
		vars[v.Name] = v.Type
	}
	for name, typ := range map[string]string{"DS_PROMETHEUS": "datasource", "job": "query", "instance": "query"} {
		if vars[name] != typ {
			t.Errorf("templating variable %s is %q, want one of type %s", name, vars[name], typ)
		}
	}
	// Every data source reference is the variable's.
	var walk func(any, string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			if ds, ok := v["datasource"].(map[string]any); ok && ds["type"] == "prometheus" && ds["uid"] != "${DS_PROMETHEUS}" {
				t.Errorf("%s: datasource %v, want uid ${DS_PROMETHEUS}", path, ds)
			}
			for k, x := range v {
				walk(x, path+"."+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	var all any
	json.Unmarshal(b, &all)
	walk(all, "dashboard")

	d, err := readDashboard(filepath.Join(root, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, p := range d.allPanels() {
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("panel %q: id %d is missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel id %d has no title", p.ID)
		}
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: target %s has no expr", p.Title, tg.RefID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q is missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if err := balanced(tg.Expr); err != nil {
				t.Errorf("panel %q: expr %q: %v", p.Title, tg.Expr, err)
			}
			if !strings.Contains(tg.Expr, `job=~"$job", instance=~"$instance"`) {
				t.Errorf("panel %q: expr %q does not filter by $job and $instance", p.Title, tg.Expr)
			}
		}
	}

	// The panels an operator looks for, by the metrics they show.
	u := used(t)
	for _, name := range []string{"sluice_phase", "sluice_ready", "sluice_paused", "sluice_lag_seconds",
		"sluice_events_total", "sluice_snapshot_rows_scanned_total", "sluice_snapshot_rows_estimated",
		"sluice_snapshot_tables_remaining", "sluice_kafka_buffered_records", "sluice_kafka_buffered_bytes",
		"sluice_kafka_produce_records_total", "sluice_kafka_produce_uncompressed_bytes_total",
		"sluice_kafka_produce_request_errors_total", "sluice_kafka_record_errors_total",
		"sluice_registry_errors_total", "sluice_checkpoint_write_errors_total", "sluice_reconnects_total",
		"sluice_stall_seconds", "sluice_checkpoint_age_seconds", "sluice_source_behind_bytes", "sluice_build_info"} {
		if !slices.ContainsFunc(u[name], func(place string) bool { return strings.HasPrefix(place, dashboardFile+": panel") }) {
			t.Errorf("no panel of %s shows %s", dashboardFile, name)
		}
	}
}
