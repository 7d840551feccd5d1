package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/sluice-cdc/sluice/engine"
)

// switchWriter is the log's output: stderr, or the progress bars' writer
// while they are drawn, which prints log lines above the bars.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// statusSource is what the bars read; *engine.Engine implements it.
type statusSource interface{ Status() engine.Status }

// showProgress draws the snapshot's progress on term (a terminal) until ctx
// ends: a bar per table (rows of the server's estimate, rate, ETA) and an
// overall one, redrawn from the engine's Status five times a second. While
// the bars are up, log lines written to logw appear above them.
func showProgress(ctx context.Context, e statusSource, term io.Writer, logw *switchWriter) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var bars *snapshotBars
	for {
		select {
		case <-ctx.Done():
			if bars != nil {
				bars.finish(false)
				logw.set(term)
			}
			return
		case <-t.C:
		}
		st := e.Status()
		switch {
		case bars == nil && st.Snapshot.Running:
			bars = newSnapshotBars(term)
			logw.set(bars.p)
			bars.update(st.Snapshot, time.Now())
		case bars != nil && st.Snapshot.Running:
			bars.update(st.Snapshot, time.Now())
		case bars != nil:
			bars.update(st.Snapshot, time.Now())
			bars.finish(!st.Snapshot.Finished.IsZero())
			logw.set(term)
			bars = nil
		}
	}
}

type snapshotBars struct {
	p       *mpb.Progress
	tables  map[string]*tableBar
	order   []string
	overall *tableBar
}

// tableBar is one bar and the figures its decorators show.
type tableBar struct {
	bar *mpb.Bar
	mu  sync.Mutex
	fig engine.Progress
}

func (tb *tableBar) figures() engine.Progress {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.fig
}

func newSnapshotBars(term io.Writer) *snapshotBars {
	return &snapshotBars{p: mpb.New(mpb.WithOutput(term), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh()),
		tables: map[string]*tableBar{}}
}

func (b *snapshotBars) add(name string, priority int) *tableBar {
	tb := &tableBar{}
	tb.bar = b.p.AddBar(1,
		mpb.BarPriority(priority),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			f := tb.figures()
			s := fmt.Sprintf("%d / ~%d rows  %.0f rows/s", f.Rows, f.Estimated, f.Rate)
			if f.ETA > 0 {
				s += "  ETA " + f.ETA.Round(time.Second).String()
			}
			return s
		})),
	)
	return tb
}

func (b *snapshotBars) set(tb *tableBar, f engine.Progress, done bool) {
	tb.mu.Lock()
	tb.fig = f
	tb.mu.Unlock()
	total := max(f.Estimated, 1)
	tb.bar.SetTotal(total, false)
	tb.bar.SetCurrent(min(f.Rows, total))
	if done {
		tb.bar.SetTotal(max(f.Rows, 1), true)
	}
}

func (b *snapshotBars) update(s engine.SnapshotStatus, now time.Time) {
	if b.overall == nil {
		b.overall = b.add("all tables", 1<<30)
	}
	var rows, est int64
	for i, tp := range s.Tables {
		rows += tp.Rows
		est += max(tp.EstimatedRows, tp.Rows)
		if tp.Started.IsZero() {
			continue
		}
		tb := b.tables[tp.Table]
		if tb == nil {
			tb = b.add(tp.Table, i)
			b.tables[tp.Table] = tb
			b.order = append(b.order, tp.Table)
		}
		f := engine.ProgressOf(tp.Rows, tp.EstimatedRows, tp.Started, now)
		if tp.Done {
			f.Estimated, f.ETA = tp.Rows, 0
		}
		b.set(tb, f, tp.Done)
	}
	b.set(b.overall, engine.ProgressOf(rows, est, s.Started, now), false)
}

// finish completes the bars (ok) or drops them, and waits for the last
// draw.
func (b *snapshotBars) finish(ok bool) {
	for _, name := range b.order {
		tb := b.tables[name]
		if ok {
			f := tb.figures()
			tb.bar.SetTotal(max(f.Rows, 1), true)
		} else {
			tb.bar.Abort(false)
		}
	}
	if b.overall != nil {
		if ok {
			b.overall.bar.SetTotal(max(b.overall.figures().Rows, 1), true)
		} else {
			b.overall.bar.Abort(false)
		}
	}
	b.p.Wait()
}
