package engine

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/retry"
)

// The watches observe what the pipeline talks to — Kafka, the schema
// registry, the source — from the callbacks of their clients, at the cost
// of a lock or an atomic per request, connection or batch, never per
// record. The stall loop (stall.go) and the metrics read them.

// kafkaWatch is a franz-go hook: it counts failed requests and keeps the
// last error and when a batch was last acknowledged.
type kafkaWatch struct {
	produceRequestErrors atomic.Int64 // failed produce requests; franz-go retries them
	connectErrors        atomic.Int64
	lastBatch            atomic.Int64 // UnixNano of the last acknowledged batch
	last                 lastError
}

var (
	_ kgo.HookBrokerConnect       = (*kafkaWatch)(nil)
	_ kgo.HookBrokerE2E           = (*kafkaWatch)(nil)
	_ kgo.HookProduceBatchWritten = (*kafkaWatch)(nil)
)

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (w *kafkaWatch) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		w.connectErrors.Add(1)
		w.last.set("connect to broker " + net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port))) + ": " + err.Error())
	}
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (w *kafkaWatch) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	err := e2e.Err()
	if err == nil {
		return
	}
	if key == 0 { // Produce
		w.produceRequestErrors.Add(1)
	}
	w.last.set("broker " + net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port))) + ": " + err.Error())
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (w *kafkaWatch) OnProduceBatchWritten(kgo.BrokerMetadata, string, int32, kgo.ProduceBatchMetrics) {
	w.lastBatch.Store(time.Now().UnixNano())
}

// registryWatch wraps the schema registry client's transport: it counts
// requests by answer and keeps the last failure and how long the oldest
// request in flight has waited.
type registryWatch struct {
	next http.RoundTripper

	mu       sync.Mutex
	byCode   map[string]int64 // HTTP status, or "error" for no answer
	errors   int64            // no answer, or a 5xx
	inflight map[uint64]time.Time
	seq      uint64
	last     lastError
	failing  time.Time // first failure of the current run of failures; zero when the last request succeeded
}

func newRegistryWatch() *registryWatch {
	return &registryWatch{byCode: map[string]int64{}, inflight: map[uint64]time.Time{}}
}

// RoundTrip implements http.RoundTripper.
func (w *registryWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.seq++
	id := w.seq
	w.inflight[id] = time.Now()
	next := w.next
	w.mu.Unlock()
	resp, err := next.RoundTrip(req)
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, id)
	switch {
	case err != nil:
		w.byCode["error"]++
		w.errors++
		w.last.set(req.Method + " " + req.URL.Redacted() + ": " + err.Error())
		if w.failing.IsZero() {
			w.failing = time.Now()
		}
	case resp.StatusCode >= 500:
		w.byCode[strconv.Itoa(resp.StatusCode)]++
		w.errors++
		w.last.set(req.Method + " " + req.URL.Redacted() + ": " + resp.Status)
		if w.failing.IsZero() {
			w.failing = time.Now()
		}
	default:
		w.byCode[strconv.Itoa(resp.StatusCode)]++
		w.failing = time.Time{}
	}
	return resp, err
}

// state returns since when the registry has been failing or a request has
// been waiting (zero when neither), and the last error.
func (w *registryWatch) state(now time.Time, slow time.Duration) (time.Time, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	since := w.failing
	for _, t := range w.inflight {
		if now.Sub(t) >= slow && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	if since.IsZero() {
		return since, ""
	}
	return since, w.last.get()
}

func (w *registryWatch) counts() (map[string]int64, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[string]int64, len(w.byCode))
	for k, v := range w.byCode {
		m[k] = v
	}
	return m, w.errors
}

// sourceWatch follows the source's replication connection through the
// readers' OnConnection callback.
type sourceWatch struct {
	mu         sync.Mutex
	down       time.Time // when the connection was lost; zero while connected
	last       string
	reconnects map[string]int64 // by retry.Cause
}

func newSourceWatch() *sourceWatch { return &sourceWatch{reconnects: map[string]int64{}} }

// connection is the readers' OnConnection.
func (w *sourceWatch) connection(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.down = time.Time{}
		return
	}
	w.reconnects[retry.Cause(err)]++
	w.last = err.Error()
	if w.down.IsZero() {
		w.down = time.Now()
	}
}

func (w *sourceWatch) state() (time.Time, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.down, w.last
}

func (w *sourceWatch) counts() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[string]int64, len(w.reconnects))
	for k, v := range w.reconnects {
		m[k] = v
	}
	return m
}

// lastError is the newest error text of a watch.
type lastError struct {
	mu  sync.Mutex
	msg string
}

func (l *lastError) set(msg string) {
	l.mu.Lock()
	l.msg = msg
	l.mu.Unlock()
}

func (l *lastError) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}
