package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/engine"
)

// steppedStatus is a snapshot that moves on at each Status call.
type steppedStatus struct {
	mu    sync.Mutex
	calls int
	start time.Time
}

func (s *steppedStatus) Status() engine.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	n := int64(s.calls) * 100
	st := engine.Status{Phase: engine.PhaseSnapshot}
	st.Snapshot = engine.SnapshotStatus{Running: true, Started: s.start, Tables: []engine.TableProgress{
		{Table: "shop.orders", Rows: min(n, 1000), EstimatedRows: 1000, Started: s.start, Done: n >= 1000},
		{Table: "shop.items", Rows: max(n-1000, 0), EstimatedRows: 500, Started: s.start},
	}}
	if n >= 1500 {
		st.Phase = engine.PhaseStreaming
		st.Snapshot.Running = false
		st.Snapshot.Finished = time.Now()
		st.Snapshot.Tables[1].Rows, st.Snapshot.Tables[1].Done = 500, true
	}
	return st
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressBars(t *testing.T) {
	var term lockedBuffer
	logw := &switchWriter{w: &term}
	src := &steppedStatus{start: time.Now().Add(-time.Second)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); showProgress(ctx, src, &term, logw) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		src.mu.Lock()
		n := src.calls
		src.mu.Unlock()
		if n >= 4 {
			logw.Write([]byte("a log line during the snapshot\n"))
		}
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bars did not poll the status")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	out := term.String()
	for _, want := range []string{"shop.orders", "shop.items", "all tables", "rows/s", "/ ~1000 rows", "a log line during the snapshot"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal output lacks %q:\n%s", want, out)
		}
	}
	if logw.w != &term {
		t.Errorf("the log writer was not given back to the terminal after the snapshot")
	}
}
