package main

import (
	"fmt"
	"strings"
)

// targetAdminShare is the bound on the cost of metrics on the hot
// path: with the admin server on and scraped, at most 2% less throughput.
const targetAdminShare = 0.98

// adminPhase is the admin phase: admin.listen "" (off, as every other
// phase) against 127.0.0.1:0 (on, a free port, which the bench reads from
// sluice's log to scrape /metrics every scrapeEvery).
var adminPhase = onOffPhase{
	name: "admin", setting: "admin server",
	set: func(c *sluiceConfig, on bool) {
		if on {
			c.AdminListen = "127.0.0.1:0"
		}
	},
	prepare: func(ph *phase, on bool) {
		if on {
			ph.ScrapeEvery = scrapeEvery
		}
	},
	runs: func(r *results) *onOffRuns { return &r.Admin },
}

// metricsShare is the share of a perf profile's samples in the metrics'
// work that samples can tell apart: the admin server's HTTP handling
// (`net/http.(*conn).serve`: /metrics is all it serves here) and franz-go's
// kprom hooks (`kprom.(*Metrics).On…`, called per request and batch, not
// nested in one another), both inclusive; and whether there is a profile.
func metricsShare(p *phase) (float64, bool) {
	return perfShare(p, func(s string) bool {
		return s == "net/http.(*conn).serve" || strings.HasPrefix(s, "github.com/twmb/franz-go/plugin/kprom.(*Metrics).On")
	})
}

// adminResultRows are the rows of the results table: the rate and CPU
// with the admin server on and scraped against off, target on at ≥ 98%
// of off's rate.
func (r *results) adminResultRows() string {
	return r.Admin.resultRows(targetAdminShare, func(what string, on []*phase) string {
		return fmt.Sprintf("Metrics on the hot path: admin server on, /metrics scraped every %s, against off, MariaDB %s, %s",
			on[0].scrapeEvery(), what, on[0].Format)
	})
}

// scrapeEvery is the scrape interval of an "on" run, as text.
func (p *phase) scrapeEvery() string {
	if p.Scrape == nil {
		return "?"
	}
	return p.Scrape.Every.String()
}

// adminSection is the metrics comparison in detail.
func (r *results) adminSection() string {
	if !r.Admin.complete() {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
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
	scrapes := onOffColumn{"scrapes per on run", "---", func(_, on []*phase) string {
		return joinRuns(on, func(p *phase) string {
			s := p.Scrape
			if s == nil {
				return "—"
			}
			return fmt.Sprintf("%d × %.0f kB, slowest %.1f ms", s.Count, float64(s.Bytes)/1e3, float64(s.Slowest)/1e6)
		})
	}}
	w("%s\n", r.Admin.table(append(onOffRateColumns(), perfShareColumn("metrics", metricsShare), otherWorkColumn, scrapes)))
	return b.String()
}
