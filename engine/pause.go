package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice"
)

// ErrNotRunning is returned by [Engine.Pause] and [Engine.Resume] outside
// the snapshot and streaming phases.
var ErrNotRunning = errors.New("engine: not running: pause and resume apply during the snapshot and while streaming")

// Pause stops reading from the source at the next event: the source's
// goroutine waits in the pipeline, so the binlog or replication stream is
// no longer consumed (its position stays; the PostgreSQL slot keeps its
// place and still gets the acknowledged position confirmed), while Kafka
// gets and acknowledges every record already read and checkpoints go on.
// It returns at once and reports whether the engine was running unpaused;
// pausing a paused engine is no error. On MySQL/MariaDB a pause longer than
// the server's net_write_timeout makes the server drop the binlog
// connection; after Resume the reader reconnects from the last
// transaction boundary, as after any lost connection.
func (e *Engine) Pause() (bool, error) {
	switch e.st.getPhase() {
	case PhaseSnapshot, PhaseStreaming:
	default:
		return false, ErrNotRunning
	}
	if !e.gate.pause() {
		return false, nil
	}
	e.st.paused.Store(true)
	st := e.Status()
	e.log.Warn("paused: reading from the source stopped; what was read goes on to Kafka. POST /resume (or Engine.Resume) continues",
		append([]any{"phase", st.Phase}, positionAttrs(st.Read)...)...)
	return true, nil
}

// Resume undoes [Engine.Pause] and reports whether the engine was paused.
func (e *Engine) Resume() (bool, error) {
	took, ok := e.gate.resume()
	if !ok {
		return false, nil
	}
	e.st.paused.Store(false)
	e.log.Info("resumed: reading from the source again", "paused_for", took.Round(time.Millisecond))
	return true, nil
}

// gate is where the pipeline waits while paused: closed() is one atomic
// load on the hot path.
type gate struct {
	paused atomic.Bool
	mu     sync.Mutex
	open   chan struct{} // closed by resume
	since  time.Time
}

func (g *gate) closed() bool { return g.paused.Load() }

func (g *gate) pause() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused.Load() {
		return false
	}
	g.open, g.since = make(chan struct{}), time.Now()
	g.paused.Store(true)
	return true
}

func (g *gate) resume() (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused.Load() {
		return 0, false
	}
	g.paused.Store(false)
	close(g.open)
	return time.Since(g.since), true
}

// wait blocks while the gate is closed, until resume or ctx ends.
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	open, paused := g.open, g.paused.Load()
	g.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// opCounts counts one table's streamed events by operation.
type opCounts struct {
	create, update, delete, truncate atomic.Int64
}

func (c *opCounts) add(op sluice.Op) {
	switch op {
	case sluice.OpCreate:
		c.create.Add(1)
	case sluice.OpUpdate:
		c.update.Add(1)
	case sluice.OpDelete:
		c.delete.Add(1)
	case sluice.OpTruncate:
		c.truncate.Add(1)
	}
}

// eventCounts holds the opCounts of every table that had streamed events.
// Its memory grows with the number of captured tables only.
type eventCounts struct {
	mu     sync.Mutex
	tables map[string]*opCounts
}

func newEventCounts() *eventCounts { return &eventCounts{tables: map[string]*opCounts{}} }

func (e *eventCounts) table(name string) *opCounts {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.tables[name]
	if c == nil {
		c = &opCounts{}
		e.tables[name] = c
	}
	return c
}

func (e *eventCounts) each(f func(table string, c *opCounts)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, c := range e.tables {
		f(name, c)
	}
}
