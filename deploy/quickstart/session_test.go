package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// offlineSession is a session fed by the test instead of Kafka and sluice.
func offlineSession(t *testing.T) (*session, chan time.Time, chan *sluiceProcess) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "sluice.log")
	if err := os.WriteFile(logPath, []byte("level=ERROR msg=\"something broke\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := make(chan time.Time, 1)
	exited := make(chan *sluiceProcess, 1)
	s := &session{
		sources:  []*source{{kind: sourceMySQL, proc: &sluiceProcess{logPath: logPath, done: make(chan struct{})}}},
		exited:   exited,
		records:  make(chan record, 8),
		errs:     make(chan error, 1),
		deadline: deadline,
	}
	return s, deadline, exited
}

func TestUntilStopsAtTheMatchingRecord(t *testing.T) {
	s, _, _ := offlineSession(t)
	s.records <- decodeRecord("quickstart.shop.orders", 0, 0, []byte(`{"id":1}`), []byte(`{"op":"r","after":{"id":1}}`))
	s.records <- decodeRecord("quickstart.shop.orders", 0, 1, []byte(`{"id":1}`), nil)
	s.records <- decodeRecord("quickstart.shop.orders", 0, 2, []byte(`{"id":9}`), nil)
	seen := 0
	err := s.until(context.Background(), func() string { return "" }, func(r record) bool {
		seen++
		return r.Tombstone
	})
	if err != nil || seen != 2 || len(s.records) != 1 {
		t.Errorf("until = %v after %d records, %d left", err, seen, len(s.records))
	}
}

func TestUntilDeadlineNamesWhatIsMissing(t *testing.T) {
	s, deadline, _ := offlineSession(t)
	deadline <- time.Now()
	err := s.until(context.Background(), func() string { return "the tombstone of shop.orders id 1001" }, func(record) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "still waiting for the tombstone of shop.orders id 1001") ||
		!strings.Contains(err.Error(), "something broke") {
		t.Errorf("until = %v", err)
	}
}

func TestUntilSluiceExit(t *testing.T) {
	s, _, exited := offlineSession(t)
	p := s.sources[0].proc
	close(p.done)
	exited <- p
	err := s.until(context.Background(), func() string { return "" }, func(record) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "sluice stopped on its own") || !strings.Contains(err.Error(), "something broke") {
		t.Errorf("until = %v", err)
	}
}

func TestUntilContextDone(t *testing.T) {
	s, _, _ := offlineSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.until(ctx, func() string { return "" }, func(record) bool { return false }); err != context.Canceled {
		t.Errorf("until = %v, want context.Canceled", err)
	}
}
