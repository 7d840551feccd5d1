package sink

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

func cpAt(n uint64) Checkpoint {
	return Checkpoint{Source: "s", Phase: PhaseStream, Position: sluice.Position{File: "bin.000001", Offset: n}}
}

// TestAcksOutOfOrder: a window completes only when all its records are
// acknowledged and all earlier windows are done, whatever the ack order.
func TestAcksOutOfOrder(t *testing.T) {
	a := newAcks(16, 1, time.Hour)
	rec := &kgo.Record{Topic: "t"}

	w1 := a.add(2) // records 1,2 (say partitions 0 and 1)
	a.mark(cpAt(1))
	w2 := a.add(1) // record 3
	a.mark(cpAt(2))
	w3 := a.add(1) // record 4
	a.mark(cpAt(3))
	if got := a.windows(); got != 4 {
		t.Fatalf("windows = %d, want 4 (3 sealed + open)", got)
	}

	// Later windows finish first: nothing may be committed.
	w3.promise(rec, nil)
	w2.promise(rec, nil)
	w1.promise(rec, nil)
	if _, m := a.acked(); m != 0 {
		t.Fatalf("committed mark %d while window 1 has a record in flight", m)
	}
	// The last record of window 1: everything completes at once.
	w1.promise(rec, nil)
	cp, m := a.acked()
	if m == 0 || cp.Position.Offset != 3 {
		t.Fatalf("acked = %+v (mark %d), want offset 3", cp.Position, m)
	}
	if got := a.windows(); got != 1 {
		t.Fatalf("windows = %d after all acks, want 1", got)
	}
}

func TestAcksFailureStops(t *testing.T) {
	a := newAcks(16, 1, time.Hour)
	rec := &kgo.Record{Topic: "t"}
	w1 := a.add(1)
	a.mark(cpAt(1))
	w2 := a.add(1)
	a.mark(cpAt(2))
	w3 := a.add(1)
	a.mark(cpAt(3))

	w1.promise(rec, nil)
	w2.promise(rec, errors.New("boom"))
	w3.promise(rec, nil)
	cp, _ := a.acked()
	if cp.Position.Offset != 1 {
		t.Fatalf("acked offset = %d, want 1 (window 2 failed)", cp.Position.Offset)
	}
	select {
	case <-a.failed:
	default:
		t.Fatal("failed channel not closed")
	}
	var pe *ProduceError
	if !errors.As(a.failure(), &pe) {
		t.Fatalf("failure = %v, want *ProduceError", a.failure())
	}
}

// TestAcksBounded: however many marks, the number of windows stays within
// the ring, and coalesced windows still commit correctly.
func TestAcksBounded(t *testing.T) {
	a := newAcks(4, 1, 0)
	rec := &kgo.Record{Topic: "t"}
	var ws []*window
	for i := range 1000 {
		ws = append(ws, a.add(1))
		a.mark(cpAt(uint64(i + 1)))
		if n := a.windows(); n > 4 {
			t.Fatalf("windows = %d, ring is 4", n)
		}
	}
	for i := len(ws) - 1; i >= 0; i-- {
		ws[i].promise(rec, nil)
	}
	cp, _ := a.acked()
	if cp.Position.Offset != 1000 {
		t.Fatalf("acked offset = %d, want 1000", cp.Position.Offset)
	}
}

// TestAcksRandomOrder checks safety, monotonicity and completion against an
// oracle for random produce/mark sequences and random ack orders.
func TestAcksRandomOrder(t *testing.T) {
	rec := &kgo.Record{Topic: "t"}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		a := newAcks(1+rng.IntN(8), int64(1+rng.IntN(4)), time.Duration(rng.IntN(2))*time.Hour)

		type pending struct {
			w   *window
			idx int // produce ordinal
		}
		var inflight []pending
		acked := map[int]bool{}
		produced := 0
		// marksAt[k] = records produced before mark k+1.
		var marksAt []int
		var lastMark uint64

		check := func() {
			cp, m := a.acked()
			if m < lastMark {
				t.Fatalf("seed %d: committed mark went back from %d to %d", seed, lastMark, m)
			}
			lastMark = m
			if m == 0 {
				return
			}
			if cp.Position.Offset != m {
				t.Fatalf("seed %d: mark %d carries checkpoint %d", seed, m, cp.Position.Offset)
			}
			for i := range marksAt[m-1] {
				if !acked[i] {
					t.Fatalf("seed %d: mark %d committed but record %d not acknowledged", seed, m, i)
				}
			}
		}
		for range 200 {
			switch op := rng.IntN(10); {
			case op < 4:
				n := 1 + rng.IntN(3)
				w := a.add(n)
				for range n {
					inflight = append(inflight, pending{w, produced})
					produced++
				}
			case op < 7:
				marksAt = append(marksAt, produced)
				a.mark(cpAt(uint64(len(marksAt))))
			default:
				if len(inflight) == 0 {
					continue
				}
				i := rng.IntN(len(inflight))
				p := inflight[i]
				inflight = append(inflight[:i], inflight[i+1:]...)
				acked[p.idx] = true
				p.w.promise(rec, nil)
			}
			check()
		}
		rng.Shuffle(len(inflight), func(i, j int) { inflight[i], inflight[j] = inflight[j], inflight[i] })
		for _, p := range inflight {
			acked[p.idx] = true
			p.w.promise(rec, nil)
			check()
		}
		if len(marksAt) > 0 && lastMark != uint64(len(marksAt)) {
			t.Fatalf("seed %d: all acknowledged but committed mark %d of %d", seed, lastMark, len(marksAt))
		}
	}
}
