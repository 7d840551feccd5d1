package sink

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func joinLease(t *testing.T, cfg Config, session time.Duration) *Lease {
	t.Helper()
	l, err := JoinLease(context.Background(), cfg, LeaseConfig{Group: "sluice-test", Topic: cfg.CheckpointTopic, SessionTimeout: session}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func held(l *Lease) bool {
	select {
	case <-l.Held():
		return true
	default:
		return false
	}
}

func isLost(l *Lease) bool {
	select {
	case <-l.Lost():
		return true
	default:
		return false
	}
}

// One member of two holds the lease; a member joining does not move it;
// the holder leaving hands it over.
func TestLeaseOneHolder(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.CheckpointTopic = DefaultCheckpointTopic
	ensure(t, newTestClient(t, cfg), cfg, cfg.CheckpointTopic)
	a := joinLease(t, cfg, 6*time.Second)
	waitFor(t, "a holds the lease", func() bool { return held(a) })
	b := joinLease(t, cfg, 6*time.Second)
	time.Sleep(2 * time.Second) // b joined; the group rebalanced
	if held(b) || isLost(a) {
		t.Fatalf("after b joined: b held %v, a lost %v (%v)", held(b), isLost(a), a.Err())
	}
	a.Close()
	waitFor(t, "b holds the lease", func() bool { return held(b) })
	if isLost(b) {
		t.Fatal(b.Err())
	}
}

// A holder whose group requests go unanswered gives the lease up before
// the coordinator could hand it on: after three quarters of the session.
func TestLeaseLapses(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.CheckpointTopic = DefaultCheckpointTopic
	ensure(t, newTestClient(t, cfg), cfg, cfg.CheckpointTopic)
	l := joinLease(t, cfg, 6*time.Second)
	waitFor(t, "the lease held", func() bool { return held(l) })
	// The clock moves past the unconfirmed share of the session: the
	// newest answered request is now 5 s old.
	l.skew.Store(int64(5 * time.Second))
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease was not given up")
	}
	if err := l.Err(); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "answered no request") {
		t.Errorf("Err = %v", err)
	}
}
