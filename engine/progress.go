package engine

import (
	"context"
	"log/slog"
	"time"
)

// progressEvery is how often the snapshot's progress is logged.
const progressEvery = 10 * time.Second

// WithoutProgressLog turns off the snapshot's periodic progress lines, for
// a program that shows progress itself (the progress bar of `sluice run`
// on a terminal) from [Engine.Status].
func WithoutProgressLog() Option { return func(e *Engine) { e.noProgressLog = true } }

// Progress is a snapshot's progress figures, as logged and shown by the
// progress bar: per table and overall.
type Progress struct {
	// Rows and Estimated are the rows copied and the server's estimate;
	// Estimated is at least Rows.
	Rows, Estimated int64
	// Rate is rows per second since the start; ETA the time left at that
	// rate, 0 when unknown or done.
	Rate float64
	ETA  time.Duration
}

// ProgressOf computes the figures of rows copied of estimated since
// started.
func ProgressOf(rows, estimated int64, started, now time.Time) Progress {
	p := Progress{Rows: rows, Estimated: max(estimated, rows)}
	if el := now.Sub(started).Seconds(); el > 0 && !started.IsZero() {
		p.Rate = float64(rows) / el
	}
	if p.Rate > 0 && p.Estimated > rows {
		p.ETA = time.Duration(float64(p.Estimated-rows) / p.Rate * float64(time.Second))
	}
	return p
}

// logProgress logs, every progressEvery while a snapshot runs, a line per
// table being copied and one overall line.
func logProgress(ctx context.Context, log *slog.Logger, st *tracker) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := st.status().Snapshot
			if !s.Running {
				continue
			}
			var rows, est int64
			done := 0
			for _, tp := range s.Tables {
				rows += tp.Rows
				est += max(tp.EstimatedRows, tp.Rows)
				if tp.Done {
					done++
					continue
				}
				if tp.Started.IsZero() {
					continue
				}
				p := ProgressOf(tp.Rows, tp.EstimatedRows, tp.Started, now)
				log.Info("snapshot: progress", "table", tp.Table, "rows", p.Rows, "estimated_rows", tp.EstimatedRows,
					"rows_per_s", int64(p.Rate), "eta", p.ETA.Round(time.Second))
			}
			p := ProgressOf(rows, est, s.Started, now)
			log.Info("snapshot: overall progress", "tables_done", done, "tables", len(s.Tables), "rows", p.Rows,
				"estimated_rows", est, "rows_per_s", int64(p.Rate), "eta", p.ETA.Round(time.Second),
				"elapsed", now.Sub(s.Started).Round(time.Second))
		}
	}
}
