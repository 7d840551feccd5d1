//go:build integration

package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshotReads counts the snapshot (op "r") records among recs.
func snapshotReads(t *testing.T, recs []record) int {
	t.Helper()
	n := 0
	for _, r := range recs {
		if r.Value != nil && r.env(t).Op == "r" {
			n++
		}
	}
	return n
}

// TestSnapshotModeInitialOnly: initial_only copies the table, checkpoints
// the end of the copy and exits 0 without streaming; a second start finds
// the checkpoint and exits at once, writing nothing.
func TestSnapshotModeInitialOnly(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	for i := range 50 {
		f.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", i, i))
	}
	cfg := f.config("snapshot:\n  mode: initial_only\n")
	p := f.sluice(cfg)
	if err := p.wait(90 * time.Second); err != nil {
		t.Fatalf("sluice with snapshot.mode initial_only exited with %v\n%s", err, p.output())
	}
	if out := p.output(); !strings.Contains(out, "stopping without streaming") {
		t.Errorf("no log line says the snapshot ended the run:\n%s", out)
	}
	recs := f.converge("t", "id", "v")
	if n := snapshotReads(t, recs); n != 50 {
		t.Errorf("%d snapshot records, want 50", n)
	}
	f.exec("INSERT INTO t VALUES (100, 100)")
	p = f.sluice(cfg)
	if err := p.wait(90 * time.Second); err != nil {
		t.Fatalf("second start exited with %v\n%s", err, p.output())
	}
	if out := p.output(); !strings.Contains(out, "nothing to do") {
		t.Errorf("the second start did not say it had nothing to do:\n%s", out)
	}
	if got := len(f.read(f.topic("t"))); got != len(recs) {
		t.Errorf("the second start wrote %d records; want none", got-len(recs))
	}
	// Streaming from the checkpoint the snapshot left: the row inserted
	// after it arrives, and no row is copied again.
	p = f.sluice(f.config(""))
	recs = f.converge("t", "id", "v")
	p.stop()
	if n := snapshotReads(t, recs); n != 50 {
		t.Errorf("%d snapshot records after streaming on, want 50", n)
	}
}

// TestSnapshotModeAlways: every start copies the tables again at a new
// point, after passing on the deletions made while sluice was stopped, so
// the topic equals the table and the deleted row's tombstone comes first.
func TestSnapshotModeAlways(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)")
	cfg := f.config("snapshot:\n  mode: always\n")
	p := f.sluice(cfg)
	f.converge("t", "id", "v")
	p.stop()
	f.exec("DELETE FROM t WHERE id = 2", "UPDATE t SET v = 30 WHERE id = 3", "INSERT INTO t VALUES (4, 4)")
	p = f.sluice(cfg)
	recs := f.converge("t", "id", "v")
	out := p.output()
	p.stop()
	if !strings.Contains(out, "snapshot.mode always") {
		t.Errorf("the second start did not say it took the snapshot again:\n%s", out)
	}
	// 3 rows copied first, 3 rows copied again.
	if n := snapshotReads(t, recs); n != 6 {
		t.Errorf("%d snapshot records, want 6 (3 + 3)", n)
	}
	checkVersionsByKey(t, recs)
}

// checkVersionsByKey checks that no key's v goes back within recs (v only
// grows in these tests), across the snapshots and the stream.
func checkVersionsByKey(t *testing.T, recs []record) {
	t.Helper()
	last := map[string]int{}
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		e := r.env(t)
		if e.After == nil {
			continue
		}
		v, err := strconv.Atoi(jsonText(e.After["v"]))
		if err != nil {
			t.Fatalf("key %s: v %s: %v", r.Key, e.After["v"], err)
		}
		if prev, ok := last[r.Key]; ok && v < prev {
			t.Errorf("key %s: v %d follows %d at offset %d", r.Key, v, prev, r.Offset)
		}
		last[r.Key] = v
	}
}

// TestSnapshotModeWhenNeeded: with snapshot.mode when_needed a purged
// binlog is answered with a new snapshot instead of an error.
func TestSnapshotModeWhenNeeded(t *testing.T) {
	srv := auxServer(t)
	f := newFixtureOn(t, srv)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1), (2, 2)")
	cfg := f.config("snapshot:\n  mode: when_needed\n")
	p := f.sluice(cfg)
	f.converge("t", "id", "v")
	p.stop()
	f.exec("UPDATE t SET v = 20 WHERE id = 2", "FLUSH BINARY LOGS", "INSERT INTO t VALUES (3, 3)", "FLUSH BINARY LOGS")
	f.purgeBinlogs()
	p = f.sluice(cfg)
	recs := f.converge("t", "id", "v")
	f.exec("INSERT INTO t VALUES (4, 4)")
	recs = f.converge("t", "id", "v")
	out := p.output()
	p.stop()
	if !strings.Contains(out, "snapshot.mode when_needed: taking a new snapshot") {
		t.Errorf("no log line says a new snapshot was taken for the purged binlog:\n%s", out)
	}
	if n := snapshotReads(t, recs); n != 5 {
		t.Errorf("%d snapshot records, want 5 (2 + 3)", n)
	}
	checkVersionsByKey(t, recs)
}

// TestPostgresSnapshotModeWhenNeeded: with snapshot.mode when_needed a
// dropped slot is re-created with a new snapshot instead of an error.
func TestPostgresSnapshotModeWhenNeeded(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	cfg := f.config("snapshot:\n  mode: when_needed\n")
	p := f.sluice(cfg)
	f.converge("t", "id")
	p.stop()
	f.exec(fmt.Sprintf("SELECT pg_drop_replication_slot('%s')", f.slotName()))
	f.exec("INSERT INTO t VALUES (2)")
	p = f.sluice(cfg)
	f.converge("t", "id")
	f.exec("INSERT INTO t VALUES (3)")
	recs := f.converge("t", "id")
	out := p.output()
	p.stop()
	if !strings.Contains(out, "snapshot.mode when_needed: taking a new snapshot") {
		t.Errorf("no log line says a new snapshot was taken for the dropped slot:\n%s", out)
	}
	if _, ok := f.slot(); !ok {
		t.Errorf("the slot was not created again")
	}
	if n := snapshotReads(t, recs); n != 3 {
		t.Errorf("%d snapshot records, want 3 (1 + 2)", n)
	}
}
