package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/engine"
)

type fakeEngine struct {
	st         engine.Status
	ready      bool
	why        string
	paused     bool
	notRunning bool
	healthy    bool
}

func (f *fakeEngine) Status() engine.Status   { return f.st }
func (f *fakeEngine) Ready() (bool, string)   { return f.ready, f.why }
func (f *fakeEngine) Healthy() (bool, string) { return f.healthy, "watch loop stuck" }
func (f *fakeEngine) Pause() (bool, error) {
	if f.notRunning {
		return false, engine.ErrNotRunning
	}
	was := f.paused
	f.paused = true
	return !was, nil
}
func (f *fakeEngine) Resume() (bool, error) {
	was := f.paused
	f.paused = false
	return was, nil
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_test_gauge", Help: "test"})
	reg.MustRegister(g)
	fe := &fakeEngine{why: "phase is snapshot, not streaming", healthy: true, st: engine.Status{
		Name: "orders", SourceType: "mysql", Phase: engine.PhaseSnapshot, Behind: -1, ConfigDigest: "abc",
		Read:     sluice.Position{File: "mysql-bin.000003", Offset: 4},
		Snapshot: engine.SnapshotStatus{Running: true, Started: time.Now(), Tables: []engine.TableProgress{{Table: "shop.a", Rows: 5, EstimatedRows: 10}}},
		Stalls:   []engine.Stall{{Target: "kafka", Since: time.Now().Add(-time.Minute), LastError: "connection refused"}},
	}}
	srv, err := Start("127.0.0.1:0", fe, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr().String()
	do := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/readyz"); code != 503 || !strings.Contains(body, "snapshot") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	fe.ready, fe.why = true, "streaming"
	if code, _ := do("GET", "/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, _ := do("GET", "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	fe.healthy = false
	if code, body := do("GET", "/healthz"); code != 503 || !strings.Contains(body, "stuck") {
		t.Errorf("/healthz when unhealthy = %d %q", code, body)
	}
	if code, body := do("GET", "/metrics"); code != 200 || !strings.Contains(body, "sluice_test_gauge 0") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	code, body := do("GET", "/status")
	var st StatusJSON
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("/status = %d %q: %v", code, body, err)
	}
	if st.Name != "orders" || st.Phase != "snapshot" || st.BehindBytes != nil || st.Snapshot == nil ||
		st.Snapshot.Tables[0].EstimatedRows != 10 || st.Positions.Read.File != "mysql-bin.000003" ||
		len(st.Stalls) != 1 || st.Stalls[0].Seconds < 59 || st.ConfigDigest != "abc" {
		t.Errorf("/status = %s", body)
	}
	if code, body := do("POST", "/pause"); code != 200 || strings.TrimSpace(body) != "paused" {
		t.Errorf("POST /pause = %d %q", code, body)
	}
	if code, body := do("POST", "/pause"); code != 200 || !strings.Contains(body, "already") {
		t.Errorf("second POST /pause = %d %q", code, body)
	}
	if code, body := do("POST", "/resume"); code != 200 || strings.TrimSpace(body) != "resumed" {
		t.Errorf("POST /resume = %d %q", code, body)
	}
	if code, _ := do("GET", "/pause"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /pause = %d, want 405", code)
	}
	fe.notRunning = true
	if code, body := do("POST", "/pause"); code != http.StatusConflict || !strings.Contains(body, "not running") {
		t.Errorf("POST /pause when not running = %d %q", code, body)
	}
}

func TestStartNamesTheSetting(t *testing.T) {
	srv, err := Start("127.0.0.1:0", &fakeEngine{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = Start(srv.Addr().String(), &fakeEngine{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	var op interface{ Error() string }
	if err == nil || !errors.As(err, &op) || !strings.Contains(err.Error(), "admin.listen") {
		t.Errorf("Start on a busy port: %v, want an error naming admin.listen", err)
	}
}

func TestFormatPosition(t *testing.T) {
	for _, c := range []struct {
		p    *sluice.Position
		want string
	}{
		{nil, "-"},
		{&sluice.Position{File: "b.000001", Offset: 42}, "b.000001:42"},
		{&sluice.Position{LSN: 0x16B3748}, "0/16B3748"},
	} {
		if got := FormatPosition(c.p); got != c.want {
			t.Errorf("FormatPosition(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}
