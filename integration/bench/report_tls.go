package main

import (
	"fmt"
	"strings"
)

// tlsRun is one MariaDB phase measured over TLS or in plain text, for the
// TLS comparison.
type tlsRun struct {
	Kind  string // "snapshot" or "stream"
	TLS   bool
	Phase *phase
}

// addTLS records ph for the TLS comparison.
func (r *results) addTLS(kind string, tls bool, ph *phase) {
	r.TLS = append(r.TLS, tlsRun{Kind: kind, TLS: tls, Phase: ph})
}

// tlsRuns returns the TLS run and the plain-text runs of one kind.
func (r *results) tlsRuns(kind string) (tls *phase, plain []*phase) {
	for _, t := range r.TLS {
		if t.Kind != kind {
			continue
		}
		if t.TLS {
			tls = t.Phase
		} else {
			plain = append(plain, t.Phase)
		}
	}
	return tls, plain
}

// tlsShare is the TLS run's rate over the mean rate of the plain-text
// runs.
func tlsShare(tls *phase, plain []*phase) float64 {
	sum := 0.0
	for _, p := range plain {
		sum += p.Rate()
	}
	return tls.Rate() / (sum / float64(len(plain)))
}

var tlsKinds = []struct{ kind, what string }{{"snapshot", "snapshot"}, {"stream", "multi-row stream"}}

// tlsResultRows are the TLS-against-plain-text rows of the results table.
// There is no target: the figure is the cost a user pays for encryption.
func (r *results) tlsResultRows() string {
	var b strings.Builder
	for _, k := range tlsKinds {
		tls, plain := r.tlsRuns(k.kind)
		if tls == nil || len(plain) == 0 {
			continue
		}
		var rates []string
		for _, p := range plain {
			rates = append(rates, krate(p.Rate())+"/s")
		}
		share := tlsShare(tls, plain)
		fmt.Fprintf(&b, "| TLS against plain text, MariaDB %s (source.tls.mode verify_identity) | plain text %s, TLS %s/s: **TLS at %.0f%%** (costs %.0f%%) | measured | |\n",
			k.what, strings.Join(rates, " and "), krate(tls.Rate()), 100*share, 100*(1-share))
	}
	return b.String()
}

// tlsSection is the TLS comparison in detail.
func (r *results) tlsSection() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	any := false
	for _, k := range tlsKinds {
		if tls, plain := r.tlsRuns(k.kind); tls != nil && len(plain) > 0 {
			any = true
		}
	}
	if !any {
		return ""
	}
	w("## TLS against plain text\n\n")
	w("MariaDB is started with TLS offered but not required (the harness's certificates, `require_secure_transport=OFF`), and\n" +
		"the same phase runs with sluice sources of their own: the main one in plain text (`source.tls.mode: disabled`), then\n" +
		"one with `source.tls.mode: verify_identity` and the CA, then a second plain-text one, so the TLS run sits between two\n" +
		"plain-text runs; its share is against their mean. The snapshot's and the binlog connection are both encrypted. Kafka\n" +
		"stays in plain text in every phase.\n\n")
	w("| phase | plain-text records/s | TLS records/s | TLS / plain | CPU / 1 M, plain / TLS | peak RSS, plain / TLS |\n|---|---:|---:|---:|---|---|\n")
	for _, k := range tlsKinds {
		tls, plain := r.tlsRuns(k.kind)
		if tls == nil || len(plain) == 0 {
			continue
		}
		var rates, cpus, rss []string
		for _, p := range plain {
			rates = append(rates, thousands(int64(p.Rate())))
			cpus = append(cpus, secs(p.CPUPerMillion()))
			rss = append(rss, mb(p.PeakRSS))
		}
		w("| MariaDB %s | %s | %s | %.0f%% | %s / %s | %s / %s |\n", k.what, strings.Join(rates, ", "), thousands(int64(tls.Rate())),
			100*tlsShare(tls, plain), strings.Join(cpus, ", "), secs(tls.CPUPerMillion()), strings.Join(rss, ", "), mb(tls.PeakRSS))
	}
	w("\n")
	return b.String()
}
