package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// phase is one measured run of sluice: a fresh process that either
// snapshots a table or drains a backlog of changes from the binary log.
type phase struct {
	Key      string // short name, also the file name of its log
	Title    string
	Source   string // "mysql" or "postgresql"
	Format   string // "json" or "avro"
	Snapshot bool   // a snapshot, else a stream drain
	Topic    string // the topic whose records are counted
	Records  int64  // records the phase adds to Topic

	Start   time.Time // sluice started
	Seen    progress
	CPU     time.Duration // sluice's user+system time when the last record arrived
	PeakRSS int64         // sluice's VmHWM then
	Share   cpuShare      // cores used by each party during the phase
	Took    time.Duration // snapshot only: sluice's own "took" for the table
	Backlog *backlog      // stream only: what was waiting in the binary log
	Profile *profile      // nil without perf
	Busy    string        // set when the machine was busy at the start
	Logs    []string      // sluice's warnings and errors
	// Settle runs after the last record arrived, before sluice stops and
	// outside every figure; nil for none.
	Settle func(context.Context) error
	// ScrapeEvery, when set, makes the bench GET sluice's /metrics at this
	// interval from the moment sluice logs its admin address until the last
	// record arrived; the configuration must set admin.listen. Scrape is
	// what the scraper did.
	ScrapeEvery time.Duration
	Scrape      *scrapeStats
	// Committed makes the phase end on what a read_committed consumer
	// sees (waitOptions.Committed), as exactly-once's transactions need;
	// Seen then holds the records and markers that read counted.
	Committed bool
}

// Startup is the time from sluice's start to the first record in Kafka.
func (p *phase) Startup() time.Duration { return p.Seen.First.Sub(p.Start) }

// Total is the time from sluice's start to the last record in Kafka.
func (p *phase) Total() time.Duration { return p.Seen.Done.Sub(p.Start) }

// Drain is the time from the first record to the last.
func (p *phase) Drain() time.Duration { return p.Seen.Done.Sub(p.Seen.First) }

// Rate is the phase's figure in records per second: a snapshot counts from
// sluice's start, a drain from its first record (start-up is reported
// apart).
func (p *phase) Rate() float64 {
	d := p.Drain()
	if p.Snapshot {
		d = p.Total()
	}
	if d <= 0 {
		return 0
	}
	return float64(p.Records) / d.Seconds()
}

// CPUPerMillion is sluice's CPU time per million records.
func (p *phase) CPUPerMillion() time.Duration {
	if p.Records == 0 {
		return 0
	}
	return time.Duration(float64(p.CPU) * 1e6 / float64(p.Records))
}

// backlog describes changes written while sluice was stopped.
type backlog struct {
	What      string
	Txns      uint64        // transactions, from the GTID sequence
	Bytes     int64         // binary log bytes
	Generated time.Duration // time the server took to write them
	Decode    *decodeRun    // go-mysql alone over the same range
	// DecodeShare is the cores each party used while go-mysql decoded;
	// DecodeProfile is the bench process's profile meanwhile (nil
	// without perf).
	DecodeShare   cpuShare
	DecodeProfile *profile
	// Recv is PostgreSQL's ceiling: pg_recvlogical over the same range
	// (DecodeShare is then its share); nil on MySQL.
	Recv *recvRun
}

// bench holds what every phase shares.
type bench struct {
	work     string          // working directory: configs, logs, perf data
	bin      string          // the sluice binary
	db       *local.MariaDB  // nil when MySQL is not measured
	pg       *local.Postgres // nil when PostgreSQL is not measured
	reg      *local.Registry // nil without Avro
	kafka    *local.Kafka
	offs     *offsets
	profile  bool
	extra    []string // extra sluice flags
	topicCfg [][2]string
	idleWait time.Duration  // longest wait for an idle machine before a phase
	pki      *local.TestPKI // MariaDB's certificates for the tls phase; nil without it
}

// config returns a sluice configuration for the MariaDB source name
// capturing include, in format json.
func (b *bench) config(name string, include ...string) sluiceConfig {
	return sluiceConfig{
		Name:            name,
		DBPort:          b.db.Port(),
		Include:         include,
		Brokers:         b.kafka.Bootstrap(),
		TopicPrefix:     name,
		CheckpointTopic: name + ".checkpoints",
		TopicConfig:     b.topicCfg,
		Format:          "json",
		password:        b.db.Password(),
	}
}

// mysqlConfig returns the configuration of the main MariaDB source in
// format: source "bench" for json (the name earlier reports used),
// "bench-avro" for avro.
func (b *bench) mysqlConfig(format string, include ...string) sluiceConfig {
	c := b.config(mysqlSourceName(format), include...)
	c.Format, c.RegistryURL = format, b.registryURL()
	return c
}

// mysqlSourceName is the sluice source name of the main MariaDB phases in
// a format.
func mysqlSourceName(format string) string {
	if format == "json" {
		return "bench"
	}
	return "bench-" + format
}

// registryURL is the schema registry's URL, "" without one.
func (b *bench) registryURL() string {
	if b.reg == nil {
		return ""
	}
	return b.reg.URL()
}

// topic is the topic of a bench table under source name.
func topicOf(name, table string) string { return name + "." + benchDB + "." + table }

// measure runs sluice with cfg until ph.Topic holds ph.Records more records
// than it does now, then stops it, filling in ph. It blocks; sluice is
// stopped on every path.
func (b *bench) measure(ctx context.Context, ph *phase, cfg sluiceConfig) (err error) {
	from, err := b.offs.ends(ctx, ph.Topic, ph.Committed)
	if err != nil {
		return err
	}
	base := sum(from)
	ph.Busy = waitIdle(ctx, b.idleWait)
	path := filepath.Join(b.work, ph.Key+".yaml")
	if err := os.WriteFile(path, []byte(cfg.yaml()), 0o600); err != nil {
		return fmt.Errorf("write sluice config: %w", err)
	}
	logPath := filepath.Join(b.work, ph.Key+".log")
	before, err := sampleCPU()
	if err != nil {
		return err
	}
	proc, err := startSluice(b.bin, path, logPath, b.extra, sluiceEnv(os.Environ(), cfg.password))
	if err != nil {
		return err
	}
	ph.Start = proc.started
	defer func() {
		if err != nil {
			proc.kill()
		}
	}()
	var rec *perfRecording
	if b.profile {
		if rec, err = startPerf(proc.pid, filepath.Join(b.work, ph.Key+".perf")); err != nil {
			return err
		}
		defer func() {
			if rec != nil {
				_ = rec.stop()
			}
		}()
	}
	var scr *scraper
	if ph.ScrapeEvery > 0 {
		if cfg.AdminListen == "" {
			return fmt.Errorf("%s: scraping /metrics needs admin.listen", ph.Title)
		}
		scr = startScraper(ctx, logPath, ph.ScrapeEvery)
		defer func() {
			if scr != nil {
				_, _ = scr.stop()
			}
		}()
	}
	say("%s: sluice started (pid %d), waiting for %d records in %s", ph.Title, proc.pid, ph.Records, ph.Topic)
	ph.Seen, err = b.offs.waitFor(ctx, ph.Start, waitOptions{
		Topic: ph.Topic, Base: base, Want: ph.Records,
		Stall: 90 * time.Second,
		Total: max(3*time.Minute, time.Duration(ph.Records/10_000)*time.Second),
		Alive: func() error {
			if !proc.running() {
				return proc.exitError()
			}
			return nil
		},
		Report: func(n int64, d time.Duration) {
			say("  %d records after %.1fs", n, d.Seconds())
		},
		Committed: ph.Committed, From: from,
	})
	if err != nil {
		return fmt.Errorf("%s: %w; sluice's log %s ends with:\n%s", ph.Title, err, logPath, logTail(logPath, 10))
	}
	if scr != nil {
		st, serr := scr.stop()
		scr = nil
		if serr != nil {
			return fmt.Errorf("%s: %w; sluice's log %s ends with:\n%s", ph.Title, serr, logPath, logTail(logPath, 10))
		}
		ph.Scrape = st
	}
	st, err := readProcStat(proc.pid)
	if err != nil {
		return err
	}
	ph.CPU = st.CPU
	if ph.PeakRSS, err = peakRSS(proc.pid); err != nil {
		return err
	}
	after, err := sampleCPU()
	if err != nil {
		return err
	}
	ph.Share = shareBetween(before, after)
	if rec != nil {
		perr := rec.stop()
		rec = nil
		if perr != nil {
			return perr
		}
	}
	if ph.Settle != nil {
		if err := ph.Settle(ctx); err != nil {
			return fmt.Errorf("%s: %w", ph.Title, err)
		}
	}
	if err := proc.stop(); err != nil {
		return err
	}
	if ph.Snapshot {
		took, err := snapshotTook(logPath)
		if err != nil {
			return err
		}
		ph.Took = took[benchDB+"."+tableOfTopic(ph.Topic)]
	}
	ph.Logs = warnings(logPath)
	if b.profile {
		if ph.Profile, err = readProfile(ctx, filepath.Join(b.work, ph.Key+".perf")); err != nil {
			return err
		}
	}
	say("%s: %d records in %.2fs (start-up %.2fs): %.0f records/s, sluice cpu %.2fs, peak rss %.1f MB",
		ph.Title, ph.Records, ph.Total().Seconds(), ph.Startup().Seconds(), ph.Rate(), ph.CPU.Seconds(), float64(ph.PeakRSS)/(1<<20))
	if ph.Committed {
		say("  read_committed: %d records and %d transaction markers", ph.Seen.Committed, ph.Seen.Markers)
	}
	if s := ph.Scrape; s != nil {
		say("  /metrics at %s scraped %d times, %.0f kB each, slowest %.1f ms", s.Addr, s.Count, float64(s.Bytes)/1e3, float64(s.Slowest)/1e6)
	}
	return nil
}

// tableOfTopic returns the table part of <prefix>.<db>.<table>.
func tableOfTopic(topic string) string {
	for i := len(topic) - 1; i >= 0; i-- {
		if topic[i] == '.' {
			return topic[i+1:]
		}
	}
	return topic
}

// prepareBacklog runs gen while sluice is stopped and records what it
// wrote to the binary log, then times go-mysql alone over the same range.
// It blocks.
func (b *bench) prepareBacklog(ctx context.Context, what string, rows int64, gen func(context.Context) error) (*backlog, error) {
	from, err := readBinlogState(ctx, b.db)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := gen(ctx); err != nil {
		return nil, err
	}
	bl := &backlog{What: what, Generated: time.Since(began)}
	to, err := readBinlogState(ctx, b.db)
	if err != nil {
		return nil, err
	}
	bl.Txns = to.Seq - from.Seq
	bl.Bytes = to.Bytes - from.Bytes
	say("  backlog written in %.1fs: %d transactions, %.0f MB of binary log", bl.Generated.Seconds(), bl.Txns, float64(bl.Bytes)/1e6)
	_ = waitIdle(ctx, b.idleWait)
	profPath := filepath.Join(b.work, fmt.Sprintf("decode-%d.pprof", from.Seq))
	prof, err := os.Create(profPath)
	if err != nil {
		return nil, fmt.Errorf("create decode profile: %w", err)
	}
	defer prof.Close()
	before, err := sampleCPU()
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(prof); err != nil {
		return nil, fmt.Errorf("profile decode: %w", err)
	}
	dec, err := decodeBinlog(ctx, b.db, from, to, 5*time.Minute)
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	after, err := sampleCPU()
	if err != nil {
		return nil, err
	}
	bl.DecodeShare = shareBetween(before, after)
	if bl.DecodeProfile, err = readPprofTop(ctx, profPath); err != nil {
		return nil, err
	}
	if dec.Rows != rows {
		return nil, fmt.Errorf("%s: the binary log holds %d changed rows, want %d", what, dec.Rows, rows)
	}
	bl.Decode = &dec
	say("  go-mysql alone decodes it in %.2fs: %.0f rows/s", dec.Elapsed.Seconds(), float64(dec.Rows)/dec.Elapsed.Seconds())
	return bl, nil
}

// waitIdle waits, at most maxWait, until no other server or test run is
// on the machine and other processes use less than a quarter of a core.
// It returns "" when the machine is idle, else what kept it busy.
func waitIdle(ctx context.Context, maxWait time.Duration) string {
	deadline := time.Now().Add(maxWait)
	for {
		busy := busyReason(ctx)
		if busy == "" {
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			say("  machine still busy after waiting %s (%s); measuring anyway, BENCHMARKS.md notes it", maxWait, busy)
			return busy
		}
		say("  machine busy (%s); waiting for it to settle", busy)
		select {
		case <-ctx.Done():
		case <-time.After(15 * time.Second):
		}
	}
}

// busyReason samples the machine for two seconds and says what other work
// runs on it, or "" when nothing does.
func busyReason(ctx context.Context) string {
	if procs := foreignServers(); len(procs) > 0 {
		return fmt.Sprintf("other processes: %v", procs)
	}
	a, err := sampleCPU()
	if err != nil {
		return err.Error()
	}
	select {
	case <-ctx.Done():
		return ctx.Err().Error()
	case <-time.After(2 * time.Second):
	}
	b, err := sampleCPU()
	if err != nil {
		return err.Error()
	}
	if other := shareBetween(a, b).Other; other > 0.25 {
		return fmt.Sprintf("other processes use %.2f cores", other)
	}
	return ""
}

// errInterrupted marks a run stopped by a signal.
var errInterrupted = errors.New("interrupted")
