package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

// The stall loop's timing.
const (
	// stallAfter: Kafka is stalled when records have waited this long
	// without any batch being acknowledged, or a ping failed; the
	// registry when a request has waited this long.
	stallAfter = 5 * time.Second
	// stallRepeat is how often a stall is logged again while it lasts.
	stallRepeat = 10 * time.Second
	// pingEvery is how often an idle Kafka client is pinged.
	pingEvery = 5 * time.Second
	// behindEvery is how often the source is asked how far its log runs
	// ahead.
	behindEvery = 10 * time.Second
)

// Behinder is implemented by sources that can tell how many bytes of the
// server's log lie ahead of sluice: binlog bytes from read to the server's
// current position (MySQL/MariaDB), WAL bytes from the slot's
// confirmed_flush_lsn to pg_current_wal_lsn() (PostgreSQL). The engine
// asks every 10 s while streaming, from a goroutine of its own, with a
// deadline; it may keep a connection open between calls (closed by the
// source's Close).
type Behinder interface {
	Behind(ctx context.Context, read sluice.Position) (int64, error)
}

// watcher runs beside the pipeline: every second it decides what is
// stalled (Kafka, the registry, the source) and logs each stall when it
// begins, every 10 s while it lasts with how long, what is buffered and
// the last error, and once when it ends with the outage's length. It also
// measures how far the source's log runs ahead, and beats for /healthz.
type watcher struct {
	log    *slog.Logger
	client *kgo.Client
	kafka  *kafkaWatch
	reg    *registryWatch // nil without a registry
	src    *sourceWatch
	st     *tracker
	behind Behinder // nil when the source cannot tell

	mu     sync.Mutex
	stalls map[string]*stallState
	beat   time.Time

	// Kafka state between ticks.
	bufferedSince time.Time // since when records have been buffered
	lastPing      time.Time
	pingFailed    time.Time // first failed ping of the current run; zero when the last one answered
	pingErr       string
	lastBehind    time.Time
	behindBusy    bool
	wg            sync.WaitGroup // the Behind measurements
}

type stallState struct {
	since, logged time.Time
	lastError     string
}

func newWatcher(log *slog.Logger, client *kgo.Client, kw *kafkaWatch, rw *registryWatch, sw *sourceWatch, st *tracker, b Behinder) *watcher {
	return &watcher{log: log, client: client, kafka: kw, reg: rw, src: sw, st: st, behind: b,
		stalls: map[string]*stallState{}, beat: time.Now()}
}

// run ticks every second until ctx ends.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	defer w.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.tick(ctx, now)
		}
	}
}

func (w *watcher) tick(ctx context.Context, now time.Time) {
	phase := w.st.getPhase()
	running := phase == PhaseSnapshot || phase == PhaseStreaming
	since, lastErr := w.kafkaStall(ctx, now, running)
	w.update("kafka", since, lastErr, now)
	if w.reg != nil {
		since, lastErr = w.reg.state(now, stallAfter)
		w.update("registry", since, lastErr, now)
	}
	since, lastErr = w.src.state()
	w.update("source", since, lastErr, now)
	w.mu.Lock()
	measure := phase == PhaseStreaming && w.behind != nil && !w.behindBusy && now.Sub(w.lastBehind) >= behindEvery
	if measure {
		w.lastBehind, w.behindBusy = now, true
	}
	w.mu.Unlock()
	if measure {
		read := w.st.status().Read
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			n, err := w.behind.Behind(bctx, read)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					w.log.Debug("could not measure how far the source's log runs ahead", "error", err)
				}
				n = -1
			}
			w.st.setBehind(n)
			w.mu.Lock()
			w.behindBusy = false
			w.mu.Unlock()
		}()
	}
	w.mu.Lock()
	w.beat = now
	w.mu.Unlock()
}

// kafkaStall decides whether Kafka is stalled: records buffered for
// stallAfter with no batch acknowledged meanwhile, or, with nothing
// buffered, a failed ping (every pingEvery while running).
func (w *watcher) kafkaStall(ctx context.Context, now time.Time, running bool) (time.Time, string) {
	buffered := w.client.BufferedProduceRecords()
	if buffered == 0 {
		w.bufferedSince = time.Time{}
		if running && now.Sub(w.lastPing) >= pingEvery {
			w.lastPing = now
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := w.client.Ping(pctx)
			cancel()
			switch {
			case err == nil:
				w.pingFailed, w.pingErr = time.Time{}, ""
			case ctx.Err() == nil:
				if w.pingFailed.IsZero() {
					w.pingFailed = now
				}
				w.pingErr = err.Error()
			}
		}
		if !w.pingFailed.IsZero() {
			msg := w.kafka.last.get()
			if msg == "" {
				msg = w.pingErr
			}
			return w.pingFailed, msg
		}
		return time.Time{}, ""
	}
	if w.bufferedSince.IsZero() {
		w.bufferedSince = now
	}
	progress := w.bufferedSince
	if ns := w.kafka.lastBatch.Load(); ns != 0 {
		if t := time.Unix(0, ns); t.After(progress) {
			progress = t
		}
	}
	if now.Sub(progress) < stallAfter {
		w.pingFailed = time.Time{}
		return time.Time{}, ""
	}
	return progress, w.kafka.last.get()
}

// update logs a stall's start, its repeats and its end.
func (w *watcher) update(target string, since time.Time, lastErr string, now time.Time) {
	w.mu.Lock()
	s := w.stalls[target]
	switch {
	case since.IsZero() && s == nil:
		w.mu.Unlock()
		return
	case since.IsZero():
		delete(w.stalls, target)
		w.mu.Unlock()
		w.log.Info(target+" reachable again", "outage", now.Sub(s.since).Round(time.Second))
		return
	case s == nil:
		s = &stallState{since: since}
		w.stalls[target] = s
	}
	s.lastError = lastErr
	due := s.logged.IsZero() || now.Sub(s.logged) >= stallRepeat
	if due {
		s.logged = now
	}
	w.mu.Unlock()
	if !due {
		return
	}
	attrs := []any{"for", now.Sub(s.since).Round(time.Second),
		"buffered_records", w.client.BufferedProduceRecords(), "buffered_bytes", w.client.BufferedProduceBytes()}
	if lastErr != "" {
		attrs = append(attrs, "last_error", lastErr)
	}
	switch target {
	case "kafka":
		w.log.Warn("kafka is not acknowledging: records wait in the buffer and the source is slowed once it is full; retrying", attrs...)
	case "registry":
		w.log.Warn("schema registry is not answering: a new table shape waits for its schema; retrying", attrs...)
	default:
		w.log.Warn("source is unreachable: reconnecting", attrs...)
	}
}

// stalled lists the current stalls, for Status.
func (w *watcher) stalled() []Stall {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Stall
	for _, target := range []string{"kafka", "registry", "source"} {
		if s := w.stalls[target]; s != nil {
			out = append(out, Stall{Target: target, Since: s.since, LastError: s.lastError})
		}
	}
	return out
}

// lastBeat is when the loop last ticked.
func (w *watcher) lastBeat() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.beat
}
