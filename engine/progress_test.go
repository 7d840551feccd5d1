package engine

import (
	"testing"
	"time"
)

func TestProgressOf(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Second)
	p := ProgressOf(500, 1500, start, now)
	if p.Rows != 500 || p.Estimated != 1500 || p.Rate != 50 || p.ETA != 20*time.Second {
		t.Errorf("ProgressOf(500 of 1500 in 10 s) = %+v, want 50 rows/s and 20 s left", p)
	}
	// An estimate below the rows copied grows to them; nothing is left.
	if p := ProgressOf(2000, 1500, start, now); p.Estimated != 2000 || p.ETA != 0 {
		t.Errorf("ProgressOf(2000 of 1500) = %+v", p)
	}
	if p := ProgressOf(0, 100, time.Time{}, now); p.Rate != 0 || p.ETA != 0 {
		t.Errorf("ProgressOf before the start = %+v", p)
	}
}
