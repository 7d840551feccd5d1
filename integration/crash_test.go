//go:build integration

package integration

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The crash suite: for each database and delivery mode, sluice is killed
// with SIGKILL again and again at random moments, across the snapshot and
// the stream, while writers insert, update, change primary keys and
// delete; once in each run the Kafka broker is killed and restarted, and
// once the database is restarted, both under a running sluice. Afterwards
// `sluice verify` finds every topic equal to its table, no key's version
// goes back in the topic, and with kafka.exactly_once a read_committed
// reader sees no record twice.
//
// SLUICE_CRASH_KILLS sets the kills per run (make crash: 20; default 3,
// the short version inside make test), SLUICE_CRASH_RUNS which runs
// (comma-separated of mariadb/at-least-once, mariadb/exactly-once,
// postgresql/at-least-once, postgresql/exactly-once; make crash: all; the
// default is one of each database), SLUICE_CRASH_SEED the random seed;
// SLUICE_CRASH_DEBUG set logs the last lines of each killed process.

// crashRuns are the default runs: each database once, each mode once.
var crashRuns = []string{"mariadb/exactly-once", "postgresql/at-least-once"}

// crashTarget is one database's side of a crash run.
type crashTarget struct {
	f        *fixture
	config   func(extra string) string
	create   func(rows int)
	connect  func(ctx context.Context) (exec func(string) error, closeConn func(), err error)
	nameExpr string
	restart  func(ctx context.Context) error
	rows     func() map[string]map[string]string
}

func mariadbCrashTarget(t *testing.T) *crashTarget {
	f := newFixture(t)
	return &crashTarget{f: f, config: f.config, create: f.createItems, nameExpr: "CONCAT('upd-', ver + 1)",
		connect: func(ctx context.Context) (func(string) error, func(), error) {
			c, err := f.srv.Conn(ctx)
			if err != nil {
				return nil, nil, err
			}
			if err := c.UseDB(f.db); err != nil {
				c.Close()
				return nil, nil, err
			}
			return func(q string) error { _, err := c.Execute(q); return err }, func() { c.Close() }, nil
		},
		restart: func(ctx context.Context) error {
			err := f.srv.Restart(ctx)
			f.qconn = nil // the tests' own connection ended with the server
			return err
		},
		rows: func() map[string]map[string]string { return f.tableRows("items", "id", "ver", "name", "amount") },
	}
}

func postgresCrashTarget(t *testing.T) *crashTarget {
	f := newPGFixture(t)
	return &crashTarget{f: f.fixture, config: f.config, create: f.createItems, nameExpr: "'upd-' || (ver + 1)",
		connect: func(ctx context.Context) (func(string) error, func(), error) {
			c, err := f.srv.Conn(ctx, f.dbname)
			if err != nil {
				return nil, nil, err
			}
			exec := func(q string) error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := c.Exec(ctx, q)
				return err
			}
			return exec, func() { c.Close(context.Background()) }, nil
		},
		restart: func(ctx context.Context) error {
			if err := f.srv.Restart(ctx); err != nil {
				return err
			}
			conn, err := f.srv.Conn(ctx, f.dbname) // the tests' own connection ended with the server
			if err == nil {
				f.conn = conn
				t.Cleanup(func() { conn.Close(context.Background()) })
			}
			return err
		},
		rows: func() map[string]map[string]string { return f.tableRows("items", "id", "ver", "name", "amount") },
	}
}

// crashResult is one run's line of the summary.
type crashResult struct {
	run                     string
	kills, inSnapshot       int
	writes, writeErrors     int64
	records, repeated, back int
	committedRepeats        int // changes (c, u, d) a read_committed reader saw twice
	resnapRepeats           int // snapshot rows a retaken snapshot wrote again
	took                    time.Duration
	verified                string
}

func TestCrashSuite(t *testing.T) {
	kills := 3
	if s := os.Getenv("SLUICE_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SLUICE_CRASH_KILLS=%q is not a positive number", s)
		}
		kills = n
	}
	runs := crashRuns
	if s := os.Getenv("SLUICE_CRASH_RUNS"); s == "all" {
		runs = []string{"mariadb/at-least-once", "mariadb/exactly-once", "postgresql/at-least-once", "postgresql/exactly-once"}
	} else if s != "" {
		runs = strings.Split(s, ",")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("SLUICE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("crash suite: %d kills per run, seed %d (SLUICE_CRASH_SEED repeats it)", kills, seed)
	var results []crashResult
	for i, run := range runs {
		t.Run(strings.ReplaceAll(run, "/", "_"), func(t *testing.T) {
			res := crashRun(t, run, kills, rand.New(rand.NewSource(seed+int64(i))))
			results = append(results, res)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-26s %6s %9s %10s %9s %8s %9s %6s %36s %8s  %s\n", "RUN", "KILLS", "SNAPSHOT", "STATEMENTS", "S.ERRORS", "RECORDS", "REPEATED", "BACK", "RC.REPEATS (CHANGES / RETAKEN ROWS)", "TOOK", "VERIFY")
	for _, r := range results {
		rc := "-"
		if strings.HasSuffix(r.run, "exactly-once") {
			rc = fmt.Sprintf("%d / %d", r.committedRepeats, r.resnapRepeats)
		}
		fmt.Fprintf(&b, "%-26s %6d %9d %10d %9d %8d %9d %6d %36s %8s  %s\n", r.run, r.kills, r.inSnapshot, r.writes, r.writeErrors,
			r.records, r.repeated, r.back, rc, r.took.Round(time.Second), r.verified)
	}
	t.Log(b.String())
}

func crashRun(t *testing.T, run string, kills int, rng *rand.Rand) crashResult {
	started := time.Now()
	db, mode, _ := strings.Cut(run, "/")
	var c *crashTarget
	switch db {
	case "mariadb":
		c = mariadbCrashTarget(t)
	case "postgresql":
		c = postgresCrashTarget(t)
	default:
		t.Fatalf("crash run %q: the database is not mariadb or postgresql", run)
	}
	f := c.f
	switch mode {
	case "exactly-once":
		f.kafkaYAML = "  exactly_once: true\n"
	case "at-least-once":
	default:
		t.Fatalf("crash run %q: the mode is not at-least-once or exactly-once", run)
	}
	const rows = 30000
	c.create(rows)
	cfg := strings.Replace(c.config(""), "log:\n  level: debug\n", "log:\n  level: info\n", 1)
	w := startCrashWriter(t, c, rows, rng.Int63())
	res := crashResult{run: run, kills: kills}

	// The first quarter of the kills land in the snapshot (or its
	// retake): once the process has started its snapshot (or, resuming,
	// its stream), a short random moment later. The others land at any
	// moment after the start. The broker kill and the database restart
	// come after the first quarter, under a streaming process.
	early := max(1, kills/4)
	kafkaAt, dbAt := max(early, kills/2)%kills, max(early+1, 3*kills/4)%kills
	for i := range kills {
		p := f.sluice(cfg)
		d := time.Duration(200+rng.Intn(2800)) * time.Millisecond
		if i < early {
			waitStarted(t, p)
			d = time.Duration(50+rng.Intn(650)) * time.Millisecond
		}
		if i == kafkaAt || i == dbAt {
			waitStreaming(t, p)
		}
		if i == kafkaAt {
			kafka.Kill()
			time.Sleep(time.Duration(1+rng.Intn(3)) * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			if err := kafka.Restart(ctx); err != nil {
				t.Fatalf("restart kafka: %v", err)
			}
			cancel()
			t.Logf("kill %d: the broker was killed and restarted under a running sluice", i+1)
		}
		if i == dbAt {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			if err := c.restart(ctx); err != nil {
				t.Fatalf("restart %s: %v", db, err)
			}
			cancel()
			t.Logf("kill %d: %s was restarted under a running sluice", i+1, db)
		}
		time.Sleep(d)
		out := p.output()
		where := "in the stream"
		switch {
		case strings.Contains(out, "snapshot: consistent point") && !strings.Contains(out, "snapshot complete"):
			res.inSnapshot++
			where = "in the snapshot"
		case !engineStreams(out):
			where = "before the snapshot or the stream began"
		}
		p.kill()
		t.Logf("kill %d, %s after the start: %s", i+1, d, where)
		if os.Getenv("SLUICE_CRASH_DEBUG") != "" {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			t.Logf("last lines:\n%s", strings.Join(lines[max(0, len(lines)-6):], "\n"))
		}
	}

	p := f.sluice(cfg)
	waitStreaming(t, p)
	time.Sleep(2 * time.Second)
	w.stop()
	res.writes, res.writeErrors = w.ops.Load(), w.errors.Load()

	// The topic equals the table: first as the tests see it, then as
	// sluice verify does.
	topic := f.topic("items")
	f.eventually(3*time.Minute, "topic "+topic+" equals table items", func() (bool, string) {
		return diffRows(c.rows(), f.topicRows(f.read(topic), "ver", "name", "amount"))
	})
	r, code, out := verifyRun(t, f, cfg)
	if code != 0 || r.Differences() != 0 {
		t.Errorf("sluice verify after the crashes: exit %d\n%s", code, out)
		res.verified = "FAILED"
	} else {
		tv := topicReport(t, r, topic)
		res.verified = fmt.Sprintf("equal (%d rows)", tv.Rows)
	}
	// Order as a consumer sees it: with exactly-once, read_committed
	// (aborted records are never delivered to such a consumer).
	var recs []record
	if mode == "exactly-once" {
		recs = f.readCommitted(topic)
		res.committedRepeats, res.resnapRepeats = repeatsByKind(t, recs)
		if res.committedRepeats != 0 {
			t.Errorf("a read_committed consumer saw %d changes twice", res.committedRepeats)
		}
	} else {
		recs = f.read(topic)
	}
	res.records = len(recs)
	res.repeated, res.back = orderCounts(t, recs)
	p.stop()
	res.took = time.Since(started)
	t.Logf("%s: %d kills (%d in the snapshot), %d statements (%d failed while the database restarted), %d records, %d repeated, %d went back",
		run, res.kills, res.inSnapshot, res.writes, res.writeErrors, res.records, res.repeated, res.back)
	return res
}

// repeatsByKind counts the records that repeat a version their key had
// already seen: changes (op c, u, d), which exactly-once never repeats,
// and snapshot rows (op r), which a snapshot taken again after an
// interruption writes again once the first attempt had committed them.
func repeatsByKind(t *testing.T, recs []record) (changes, snapshotRows int) {
	t.Helper()
	seen := map[string]map[int]bool{}
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		ver, e := itemVersion(t, r)
		if seen[r.Key] == nil {
			seen[r.Key] = map[int]bool{}
		}
		if seen[r.Key][ver] {
			if e.Op == "r" {
				snapshotRows++
			} else {
				changes++
			}
		}
		seen[r.Key][ver] = true
	}
	return changes, snapshotRows
}

// engineStreams reports whether the log says the engine streams (its
// "streaming after the snapshot…" or "streaming from the stored
// checkpoint" line, not the catch-up's reading of the slot).
func engineStreams(out string) bool {
	return strings.Contains(out, `msg="streaming after `) || strings.Contains(out, `msg="streaming from the stored checkpoint"`)
}

// waitStarted waits for p's log to say it began a snapshot or a stream.
func waitStarted(t *testing.T, p *proc) {
	t.Helper()
	waitLog(t, p, "began neither a snapshot nor a stream", func(out string) bool {
		return strings.Contains(out, "snapshot: consistent point") || engineStreams(out)
	})
}

// waitStreaming waits for p's log to say it streams.
func waitStreaming(t *testing.T, p *proc) {
	t.Helper()
	waitLog(t, p, "did not reach streaming", engineStreams)
}

// waitLog polls p's log until done holds, for up to 2 minutes.
func waitLog(t *testing.T, p *proc, failure string, done func(out string) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for out := p.output(); !done(out); out = p.output() {
		if time.Now().After(deadline) {
			t.Fatalf("sluice %s within 2 minutes:\n%s", failure, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashWriter writes to items until stopped: updates, inserts, primary-key
// changes and deletes, one statement at a time, reconnecting while the
// database restarts (a statement cut off then may or may not have
// committed; the table is what the topic is compared with).
type crashWriter struct {
	stopped chan struct{}
	wg      sync.WaitGroup
	ops     atomic.Int64
	errors  atomic.Int64
}

func startCrashWriter(t *testing.T, c *crashTarget, existing int, seed int64) *crashWriter {
	w := &crashWriter{stopped: make(chan struct{})}
	next := int64(existing)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewSource(seed))
		var exec func(string) error
		closeConn := func() {}
		defer func() { closeConn() }()
		for {
			select {
			case <-w.stopped:
				return
			default:
			}
			if exec == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				var err error
				exec, closeConn, err = c.connect(ctx)
				cancel()
				if err != nil {
					exec, closeConn = nil, func() {}
					time.Sleep(200 * time.Millisecond)
					continue
				}
			}
			var q string
			switch n := rng.Intn(20); {
			case n < 10:
				q = fmt.Sprintf("UPDATE items SET ver = ver + 1, name = %s WHERE id = %d", c.nameExpr, 1+rng.Int63n(next))
			case n < 14:
				next++
				q = fmt.Sprintf("INSERT INTO items VALUES (%d, 1, 'new-%d', 0.5)", next, next)
			case n < 17:
				next++
				q = fmt.Sprintf("UPDATE items SET id = %d, ver = ver + 1, name = %s WHERE id = %d", next, c.nameExpr, 1+rng.Int63n(next-1))
			default:
				q = fmt.Sprintf("DELETE FROM items WHERE id = %d", 1+rng.Int63n(next))
			}
			if err := exec(q); err != nil {
				w.errors.Add(1)
				closeConn()
				exec, closeConn = nil, func() {}
				continue
			}
			w.ops.Add(1)
			// A steady pace rather than the server's limit: the suite is
			// about crashes, not throughput.
			if w.ops.Load()%50 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	return w
}

func (w *crashWriter) stop() {
	close(w.stopped)
	w.wg.Wait()
}
