package main

import (
	"fmt"
	"math"
	"strings"
)

// targetAdminShare is the bound on the cost of metrics on the hot
// path: with the admin server on and scraped, at most 2% less throughput.
const targetAdminShare = 0.98

// adminRun is one MariaDB phase with the admin server off or on, for the
// metrics comparison.
type adminRun struct {
	Kind  string // "snapshot" or "stream"
	On    bool
	Phase *phase
}

// addAdmin records ph for the metrics comparison.
func (r *results) addAdmin(kind string, on bool, ph *phase) {
	r.Admin = append(r.Admin, adminRun{Kind: kind, On: on, Phase: ph})
}

// adminRuns returns the runs of one kind with the admin server off and
// on, in run order.
func (r *results) adminRuns(kind string) (off, on []*phase) {
	for _, a := range r.Admin {
		if a.Kind != kind {
			continue
		}
		if a.On {
			on = append(on, a.Phase)
		} else {
			off = append(off, a.Phase)
		}
	}
	return off, on
}

var adminKinds = []struct{ kind, what string }{{"snapshot", "snapshot"}, {"stream", "multi-row stream"}}

// spread is how far the rates of runs of one setting lie apart: the
// largest minus the smallest over their mean; 0 for fewer than two.
func spread(ps []*phase) float64 {
	if len(ps) < 2 {
		return 0
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		lo, hi = min(lo, p.Rate()), max(hi, p.Rate())
	}
	return (hi - lo) / meanRate(ps)
}

// metricsShare is the share of a perf profile's samples in the metrics'
// work that samples can tell apart: the admin server's HTTP handling
// (`net/http.(*conn).serve`: /metrics is all it serves here) and franz-go's
// kprom hooks (`kprom.(*Metrics).On…`, called per request and batch, not
// nested in one another), both inclusive; and whether there is a profile.
// Entries under perf's 0.1% limit are not in the profile, so a share
// below that reads as 0.
func metricsShare(p *phase) (float64, bool) {
	if p.Profile == nil {
		return 0, false
	}
	sum := 0.0
	for _, e := range p.Profile.Entries {
		if e.Symbol == "net/http.(*conn).serve" || strings.HasPrefix(e.Symbol, "github.com/twmb/franz-go/plugin/kprom.(*Metrics).On") {
			sum += e.Children
		}
	}
	return sum, true
}

// adminResultRows are the rows of the results table: the rate and CPU
// with the admin server on and scraped against off, target on at ≥ 98%
// of off's rate.
func (r *results) adminResultRows() string {
	var b strings.Builder
	for _, k := range adminKinds {
		off, on := r.adminRuns(k.kind)
		if len(off) == 0 || len(on) == 0 {
			continue
		}
		share := meanRate(on) / meanRate(off)
		cpu := meanCPU(on) / meanCPU(off)
		met := "met"
		if share < targetAdminShare {
			met = "**not met**"
			// A shortfall smaller than the gap between two runs of one
			// setting is this machine's noise as much as sluice's cost.
			if noise := max(spread(off), spread(on)); 1-share < noise {
				met += fmt.Sprintf(", within the runs' spread (%.0f%%)", 100*noise)
			}
		}
		fmt.Fprintf(&b, "| Metrics on the hot path: admin server on, /metrics scraped every %s, against off, MariaDB %s, %s | on at **%.1f%%** of off's rate (off %s, on %s records/s), %.1f%% of its CPU per record | ≥ %.0f%% (costs ≤ %.0f%%) | %s |\n",
			on[0].scrapeEvery(), k.what, on[0].Format, 100*share, rateList(off), rateList(on), 100*cpu,
			100*targetAdminShare, 100*(1-targetAdminShare), met)
	}
	return b.String()
}

// scrapeEvery is the scrape interval of an "on" run, as text.
func (p *phase) scrapeEvery() string {
	if p.Scrape == nil {
		return "?"
	}
	return p.Scrape.Every.String()
}

func rateList(ps []*phase) string {
	var out []string
	for _, p := range ps {
		out = append(out, krate(p.Rate()))
	}
	return strings.Join(out, ", ")
}

// adminSection is the metrics comparison in detail.
func (r *results) adminSection() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	any := false
	for _, k := range adminKinds {
		if off, on := r.adminRuns(k.kind); len(off) > 0 && len(on) > 0 {
			any = true
		}
	}
	if !any {
		return ""
	}
	w("## Admin server and metrics: on against off\n\n")
	w("After the main phase (admin server off, not counted here: a phase's first run is often the slowest), sources of their\n" +
		"own run the same phase with `admin.listen: \"\"` (off) and `admin.listen: 127.0.0.1:0` (on), alternating off, on, off,\n" +
		"on. In the \"on\" runs the bench reads the admin server's address from sluice's log and GETs `/metrics` (gzip accepted,\n" +
		"as Prometheus asks) at once and then at the interval shown, far more often than Prometheus' usual 15 s, from sluice's\n" +
		"start to the last record; the scraper's own CPU is the bench's, not sluice's. Rates are records per second, CPU is\n" +
		"sluice's CPU seconds per 1 M records; the ratios compare the means. *Spread* is how far the two runs of one setting\n" +
		"lie apart (largest minus smallest over their mean): this machine's noise for that phase, against which to read the\n" +
		"ratio. *perf: metrics* is the share of sluice's perf samples (inclusive) in the admin server's HTTP handling\n" +
		"(`net/http.(*conn).serve`: gathering, encoding and gzipping /metrics) plus franz-go's kprom hooks (`kprom.(*Metrics).On…`,\n" +
		"per request and batch, there with the server off too); perf drops entries under 0.1%%, so such a share reads 0.0%%.\n" +
		"*Other work* is the cores used by everything outside the bench's process tree during the run, the likeliest cause of\n" +
		"a slow one.\n\n")
	w("| phase | off records/s | on records/s | on / off | spread, off / on | CPU / 1 M, off / on | CPU on / off | peak RSS, off / on | perf: metrics, off / on | other work, cores, off / on | scrapes per on run |\n")
	w("|---|---:|---:|---:|---|---|---:|---|---|---|---|\n")
	for _, k := range adminKinds {
		off, on := r.adminRuns(k.kind)
		if len(off) == 0 || len(on) == 0 {
			continue
		}
		col := func(ps []*phase, f func(*phase) string) string {
			var out []string
			for _, p := range ps {
				out = append(out, f(p))
			}
			return strings.Join(out, ", ")
		}
		rate := func(p *phase) string { return thousands(int64(p.Rate())) }
		cpu := func(p *phase) string { return secs(p.CPUPerMillion()) }
		rss := func(p *phase) string { return mb(p.PeakRSS) }
		prof := func(p *phase) string {
			if v, ok := metricsShare(p); ok {
				return fmt.Sprintf("%.1f%%", v)
			}
			return "—"
		}
		other := func(p *phase) string { return cores(p.Share.Other) }
		scr := func(p *phase) string {
			s := p.Scrape
			if s == nil {
				return "—"
			}
			return fmt.Sprintf("%d × %.0f kB, slowest %.1f ms", s.Count, float64(s.Bytes)/1e3, float64(s.Slowest)/1e6)
		}
		w("| MariaDB %s, %s | %s | %s | %.1f%% | %.1f%% / %.1f%% | %s / %s | %.1f%% | %s / %s | %s / %s | %s / %s | %s |\n",
			k.what, on[0].Format, col(off, rate), col(on, rate), 100*meanRate(on)/meanRate(off),
			100*spread(off), 100*spread(on), col(off, cpu), col(on, cpu), 100*meanCPU(on)/meanCPU(off),
			col(off, rss), col(on, rss), col(off, prof), col(on, prof), col(off, other), col(on, other), col(on, scr))
	}
	w("\n")
	return b.String()
}
