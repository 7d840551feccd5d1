package engine

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Two engines with one name: the second waits as a standby while the first
// streams, and takes over from the committed checkpoint when the first stops.
func TestStandbyTakesOverOnStop(t *testing.T) {
	c := newCluster(t)
	srcA, srcB := newMemSource(), newMemSource()
	a, err := New(testConfig(t, c), WithSource(srcA), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stopA, doneA := running(t, a)
	waitStreamed(t, srcA, doneA)
	// The checkpoint covers the last change before the standby takes over.
	waitUntil(t, "the last change committed", func() bool {
		cp, ok := checkpoint(t, c, "test")
		return ok && cp.Position.LSN == snapshotLSN+uint64(len(srcA.changes))
	})

	b, err := New(testConfig(t, c), WithSource(srcB), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stopB, doneB := running(t, b)
	waitUntil(t, "b a standby", func() bool { st := b.Status(); return st.Role == RoleStandby && st.Phase == PhaseStandby })
	time.Sleep(2 * time.Second) // a rebalance for b's join must not move the lease
	if st := b.Status(); st.Role != RoleStandby || len(srcB.Calls()) != 0 {
		t.Fatalf("b is %s in phase %s with source calls %v while a is active", st.Role, st.Phase, srcB.Calls())
	}
	if st := a.Status(); st.Role != RoleActive || st.Terms != 1 || st.Phase != PhaseStreaming {
		t.Fatalf("a is %s (%d terms) in phase %s, want active streaming", st.Role, st.Terms, st.Phase)
	}
	if ok, why := b.Ready(); ok || !strings.Contains(why, "standby") {
		t.Errorf("standby Ready = %v, %q; want not ready", ok, why)
	}

	stopped := time.Now()
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	waitStreamed(t, srcB, doneB)
	took := time.Since(stopped)
	if st := b.Status(); st.Role != RoleActive || st.Terms != 1 {
		t.Errorf("b after the take-over: %s, %d terms", st.Role, st.Terms)
	}
	// A clean stop leaves the group: the standby need not wait for a
	// session to expire.
	if took > 5*time.Second {
		t.Errorf("the standby took over %s after a clean stop; leaving the group should hand over at once", took)
	}
	want := []string{"Prepare(resuming=true)", "CanResume(103)", "Stream(103)"}
	if got := srcB.Calls(); !slices.Equal(got, want) {
		t.Errorf("standby's source calls %v, want %v (resume from a's checkpoint)", got, want)
	}
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
}

// When the coordinator drops the active member, the engine stops writing,
// waits as a standby again and, with nobody else in the group, takes the
// lease back and resumes from its checkpoint: Run does not fail.
func TestLostLeaseBecomesStandbyAgain(t *testing.T) {
	c := newCluster(t)
	src := newMemSource()
	e, err := New(testConfig(t, c), WithSource(src), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := running(t, e)
	waitStreamed(t, src, done)
	// The next heartbeat is answered with UNKNOWN_MEMBER_ID, as after the
	// member's session expired on the broker.
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.HeartbeatRequest)
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp, nil, true
	})
	waitUntil(t, "a second term", func() bool { st := e.Status(); return st.Terms == 2 && st.Phase == PhaseStreaming })
	calls := src.Calls()
	if n := len(calls); n < 2 || calls[n-1] != "Stream(103)" || calls[n-2] != "CanResume(103)" {
		t.Errorf("source calls %v: the second term should resume from the checkpoint", calls)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
