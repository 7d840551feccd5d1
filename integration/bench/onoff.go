package main

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// The admin and eos phases share this machinery: each repeats MariaDB's
// main snapshot and multi-row stream with one setting off and on, in
// sources of their own, alternating, and reports on against off.

// onOffOrder is the order an on/off phase runs its sources in, false
// meaning the setting off, after the main phase (off too; left out of the
// comparison, as the first run of a phase is often slower): alternating,
// so that neither has the machine's slow moments to itself.
var onOffOrder = []bool{false, true, false, true}

// onOffPhases are the on/off phases, in the order they run.
var onOffPhases = []onOffPhase{adminPhase, eosPhase}

// onOffPhase is one setting an on/off phase compares.
type onOffPhase struct {
	name    string // -only's name, and the sources' infix: bench-<name>-off-0, …
	setting string // in the phases' titles: "admin server off (1)"
	// set applies the setting to a source's configuration.
	set func(c *sluiceConfig, on bool)
	// prepare, when set, adjusts a phase before it runs.
	prepare func(ph *phase, on bool)
	// runs is where results keeps the phase's runs.
	runs func(r *results) *onOffRuns
}

// onOffConfig is the configuration of an on/off phase's i-th source,
// "bench-<name>-off-0", "bench-<name>-on-1", …: the main MariaDB source's
// in format with the setting applied, each with a checkpoint of its own,
// so each drains the whole backlog.
func (b *bench) onOffConfig(ab onOffPhase, on bool, i int, format string, include ...string) sluiceConfig {
	c := b.mysqlConfig(format, include...)
	c.Name = fmt.Sprintf("bench-%s-%s-%d", ab.name, onOffLabel(on), i)
	c.TopicPrefix, c.CheckpointTopic = c.Name, c.Name+".checkpoints"
	ab.set(&c, on)
	return c
}

// measureOnOff runs the phase tmpl (its Title, Snapshot, Records and
// Backlog; the rest is filled in) once per onOffOrder entry, each in its
// source of its own, and records the runs in res.
func (b *bench) measureOnOff(ctx context.Context, ab onOffPhase, tmpl phase, format string, res *results, include ...string) error {
	kind, key := "stream", "stream-multi-"
	if tmpl.Snapshot {
		kind, key = "snapshot", "snapshot-"
	}
	for i, on := range onOffOrder {
		cfg := b.onOffConfig(ab, on, i, format, include...)
		ph := tmpl
		ph.Key, ph.Source, ph.Format = key+cfg.Name, "mysql", cfg.Format
		ph.Title = fmt.Sprintf("%s, %s, %s %s (%d)", tmpl.Title, cfg.Format, ab.setting, onOffLabel(on), i/2+1)
		ph.Topic = topicOf(cfg.Name, "orders")
		if ab.prepare != nil {
			ab.prepare(&ph, on)
		}
		if err := b.measure(ctx, &ph, cfg); err != nil {
			return err
		}
		ab.runs(res).add(kind, on, &ph)
	}
	return nil
}

func onOffLabel(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// onOffRun is one MariaDB phase with a setting off or on.
type onOffRun struct {
	Kind  string // "snapshot" or "stream"
	On    bool
	Phase *phase
}

// onOffRuns are an on/off phase's runs, in run order.
type onOffRuns []onOffRun

// add records a run.
func (rs *onOffRuns) add(kind string, on bool, ph *phase) {
	*rs = append(*rs, onOffRun{Kind: kind, On: on, Phase: ph})
}

// split returns the runs of one kind with the setting off and on, in run
// order.
func (rs onOffRuns) split(kind string) (off, on []*phase) {
	for _, a := range rs {
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

// complete reports whether some kind has runs both off and on.
func (rs onOffRuns) complete() bool {
	for _, k := range onOffKinds {
		if off, on := rs.split(k.kind); len(off) > 0 && len(on) > 0 {
			return true
		}
	}
	return false
}

var onOffKinds = []struct{ kind, what string }{{"snapshot", "snapshot"}, {"stream", "multi-row stream"}}

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

// resultRows are an on/off phase's rows of the results table: the
// rate and CPU with the setting on against off, the target on at ≥ target
// of off's rate. title is a row's first cell.
func (rs onOffRuns) resultRows(target float64, title func(what string, on []*phase) string) string {
	var b strings.Builder
	for _, k := range onOffKinds {
		off, on := rs.split(k.kind)
		if len(off) == 0 || len(on) == 0 {
			continue
		}
		share := meanRate(on) / meanRate(off)
		cpu := meanCPU(on) / meanCPU(off)
		met := "met"
		if share < target {
			met = "**not met**"
			// A shortfall smaller than the gap between two runs of one
			// setting is this machine's noise as much as sluice's cost.
			if noise := max(spread(off), spread(on)); 1-share < noise {
				met += fmt.Sprintf(", within the runs' spread (%.0f%%)", 100*noise)
			}
		}
		fmt.Fprintf(&b, "| %s | on at **%.1f%%** of off's rate (off %s, on %s records/s), %.1f%% of its CPU per record | ≥ %.0f%% (costs ≤ %.0f%%) | %s |\n",
			title(k.what, on), 100*share, rateList(off), rateList(on), 100*cpu, 100*target, 100*(1-target), met)
	}
	return b.String()
}

// onOffColumn is a column of an on/off phase's detail table: its heading,
// its alignment ("---" or "---:") and its cell for one kind's runs.
type onOffColumn struct {
	head, align string
	cell        func(off, on []*phase) string
}

// perRun is a column with one figure per run: off's, then on's.
func perRun(head string, f func(*phase) string) onOffColumn {
	return onOffColumn{head: head + ", off / on", align: "---", cell: func(off, on []*phase) string {
		return joinRuns(off, f) + " / " + joinRuns(on, f)
	}}
}

func joinRuns(ps []*phase, f func(*phase) string) string {
	var out []string
	for _, p := range ps {
		out = append(out, f(p))
	}
	return strings.Join(out, ", ")
}

// onOffRateColumns are the columns every on/off table begins with: rates,
// their ratio and spread, CPU per record and its ratio, peak RSS.
func onOffRateColumns() []onOffColumn {
	rate := func(p *phase) string { return thousands(int64(p.Rate())) }
	return []onOffColumn{
		{"off records/s", "---:", func(off, _ []*phase) string { return joinRuns(off, rate) }},
		{"on records/s", "---:", func(_, on []*phase) string { return joinRuns(on, rate) }},
		{"on / off", "---:", func(off, on []*phase) string { return fmt.Sprintf("%.1f%%", 100*meanRate(on)/meanRate(off)) }},
		{"spread, off / on", "---", func(off, on []*phase) string {
			return fmt.Sprintf("%.1f%% / %.1f%%", 100*spread(off), 100*spread(on))
		}},
		perRun("CPU / 1 M", func(p *phase) string { return secs(p.CPUPerMillion()) }),
		{"CPU on / off", "---:", func(off, on []*phase) string { return fmt.Sprintf("%.1f%%", 100*meanCPU(on)/meanCPU(off)) }},
		perRun("peak RSS", func(p *phase) string { return mb(p.PeakRSS) }),
	}
}

// perfShareColumn shows, per run, the share of sluice's perf samples a
// function of the profile finds, "—" without a profile.
func perfShareColumn(what string, share func(*phase) (float64, bool)) onOffColumn {
	return perRun("perf: "+what, func(p *phase) string {
		if v, ok := share(p); ok {
			return fmt.Sprintf("%.1f%%", v)
		}
		return "—"
	})
}

// otherWorkColumn is the cores used outside the bench's process tree.
var otherWorkColumn = perRun("other work, cores", func(p *phase) string { return cores(p.Share.Other) })

// perfShare sums the inclusive shares of the profile's entries that match,
// and reports whether there is a profile. Entries under perf's 0.1% limit
// are not in the profile, so a share below that reads as 0.
func perfShare(p *phase, match func(symbol string) bool) (float64, bool) {
	if p.Profile == nil {
		return 0, false
	}
	sum := 0.0
	for _, e := range p.Profile.Entries {
		if match(e.Symbol) {
			sum += e.Children
		}
	}
	return sum, true
}

// table renders the detail table: a row per kind with runs off and on.
func (rs onOffRuns) table(cols []onOffColumn) string {
	var b strings.Builder
	b.WriteString("| phase")
	for _, c := range cols {
		b.WriteString(" | " + c.head)
	}
	b.WriteString(" |\n|---")
	for _, c := range cols {
		b.WriteString("|" + c.align)
	}
	b.WriteString("|\n")
	for _, k := range onOffKinds {
		off, on := rs.split(k.kind)
		if len(off) == 0 || len(on) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| MariaDB %s, %s", k.what, on[0].Format)
		for _, c := range cols {
			b.WriteString(" | " + c.cell(off, on))
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

func rateList(ps []*phase) string {
	var out []string
	for _, p := range ps {
		out = append(out, krate(p.Rate()))
	}
	return strings.Join(out, ", ")
}
