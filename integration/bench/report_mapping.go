package main

import (
	"fmt"
	"strings"
)

// mappingRun is one MariaDB Avro phase in one Avro mapping, for the
// mapping comparison.
type mappingRun struct {
	Kind    string // "snapshot" or "stream"
	Mapping string // "v1" or "v2"
	Phase   *phase
}

// addMapping records ph for the mapping comparison.
func (r *results) addMapping(kind, mapping string, ph *phase) {
	r.Mapping = append(r.Mapping, mappingRun{Kind: kind, Mapping: mapping, Phase: ph})
}

// mappingRuns returns the runs of one kind in each mapping, in run order.
func (r *results) mappingRuns(kind string) (v1, v2 []*phase) {
	for _, m := range r.Mapping {
		if m.Kind != kind {
			continue
		}
		if m.Mapping == schemaV1 {
			v1 = append(v1, m.Phase)
		} else {
			v2 = append(v2, m.Phase)
		}
	}
	return v1, v2
}

func meanRate(ps []*phase) float64 {
	sum := 0.0
	for _, p := range ps {
		sum += p.Rate()
	}
	return sum / float64(len(ps))
}

func meanCPU(ps []*phase) float64 {
	sum := 0.0
	for _, p := range ps {
		sum += p.CPUPerMillion().Seconds()
	}
	return sum / float64(len(ps))
}

var mappingKinds = []struct{ kind, what string }{{"snapshot", "snapshot"}, {"stream", "multi-row stream"}}

// mappingResultRows are the rows of the results table: mapping v2's rate
// and CPU against v1's, target at most 5% slower.
func (r *results) mappingResultRows() string {
	var b strings.Builder
	for _, k := range mappingKinds {
		v1, v2 := r.mappingRuns(k.kind)
		if len(v1) == 0 || len(v2) == 0 {
			continue
		}
		share := meanRate(v2) / meanRate(v1)
		cpu := meanCPU(v2) / meanCPU(v1)
		met := "met"
		if share < 0.95 {
			met = "**not met**"
		}
		fmt.Fprintf(&b, "| Avro mapping v2 against v1, MariaDB %s | v2 at %.0f%% of v1's rate, %.0f%% of its CPU per record | ≥ 95%% | %s |\n",
			k.what, 100*share, 100*cpu, met)
	}
	return b.String()
}

// mappingSection is the mapping comparison in detail.
func (r *results) mappingSection() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	any := false
	for _, k := range mappingKinds {
		if v1, v2 := r.mappingRuns(k.kind); len(v1) > 0 && len(v2) > 0 {
			any = true
		}
	}
	if !any {
		return ""
	}
	w("## Avro mapping v2 against v1\n\n")
	w("After the main Avro phase (mapping v2, the default, not counted here: a phase's first run is often the slowest),\n" +
		"sources of their own run the same phase in mapping v1 (`avro.mapping: v1`) and v2, alternating, twice each. Rates\n" +
		"are records per second, CPU is sluice's CPU seconds per 1 M records; the ratios compare the means.\n\n")
	w("| phase | v2 records/s | v1 records/s | v2 / v1 | CPU / 1 M, v2 / v1 | peak RSS, v2 / v1 |\n|---|---:|---:|---:|---|---|\n")
	for _, k := range mappingKinds {
		v1, v2 := r.mappingRuns(k.kind)
		if len(v1) == 0 || len(v2) == 0 {
			continue
		}
		var r2, r1, c2, c1, m2, m1 []string
		for _, p := range v2 {
			r2, c2, m2 = append(r2, thousands(int64(p.Rate()))), append(c2, secs(p.CPUPerMillion())), append(m2, mb(p.PeakRSS))
		}
		for _, p := range v1 {
			r1, c1, m1 = append(r1, thousands(int64(p.Rate()))), append(c1, secs(p.CPUPerMillion())), append(m1, mb(p.PeakRSS))
		}
		w("| MariaDB %s | %s | %s | %.0f%% | %s / %s | %s / %s |\n", k.what, strings.Join(r2, ", "), strings.Join(r1, ", "),
			100*meanRate(v2)/meanRate(v1), strings.Join(c2, ", "), strings.Join(c1, ", "), strings.Join(m2, ", "), strings.Join(m1, ", "))
	}
	w("\n")
	return b.String()
}
