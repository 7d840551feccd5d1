//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writer changes an items table in its own transactions until stopped and
// remembers, for every key, each version it wrote: rows carry a ver column
// that every update increments, so the records of a key must show the
// versions in order, each exactly once (or at least once after a crash).
type writer struct {
	nextID  atomic.Int64
	stopped chan struct{}
	wg      sync.WaitGroup
	ops     atomic.Int64
}

func (f *fixture) createItems(rows int) {
	f.exec("CREATE TABLE items (id INT PRIMARY KEY, ver INT NOT NULL, name VARCHAR(64), amount DECIMAL(12,2))")
	const batch = 2000
	for start := 1; start <= rows; start += batch {
		var vals []string
		for id := start; id < start+batch && id <= rows; id++ {
			vals = append(vals, fmt.Sprintf("(%d, 1, 'item-%d', %d.25)", id, id, id))
		}
		f.exec("INSERT INTO items VALUES " + strings.Join(vals, ","))
	}
}

func (f *fixture) startWriter(existing int) *writer {
	conn := f.conn()
	return startItemsWriter(f.t, existing, "CONCAT('upd-', ver + 1)", func(q string) error {
		_, err := conn.Execute(q)
		return err
	})
}

// startItemsWriter runs the writer's statements through exec, from a
// goroutine of its own, until stop; nameExpr is the SQL expression of an
// updated row's name ('upd-' and the new version) in the server's dialect.
func startItemsWriter(t *testing.T, existing int, nameExpr string, exec func(q string) error) *writer {
	w := &writer{stopped: make(chan struct{})}
	w.nextID.Store(int64(existing))
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewSource(1))
		for {
			select {
			case <-w.stopped:
				return
			default:
			}
			var q string
			switch n := rng.Intn(10); {
			case n < 6:
				q = fmt.Sprintf("UPDATE items SET ver = ver + 1, name = %s WHERE id = %d", nameExpr, 1+rng.Int63n(w.nextID.Load()))
			case n < 8:
				id := w.nextID.Add(1)
				q = fmt.Sprintf("INSERT INTO items VALUES (%d, 1, 'new-%d', 0.5)", id, id)
			default:
				q = fmt.Sprintf("DELETE FROM items WHERE id = %d", 1+rng.Int63n(w.nextID.Load()))
			}
			if err := exec(q); err != nil {
				t.Errorf("writer: %s: %v", q, err)
				return
			}
			w.ops.Add(1)
		}
	}()
	return w
}

func (w *writer) stop() {
	close(w.stopped)
	w.wg.Wait()
}

// keyOps renders each record as its key and its op, "tombstone" for a
// null value.
func keyOps(t *testing.T, recs []record) []string {
	t.Helper()
	ops := make([]string, 0, len(recs))
	for _, r := range recs {
		op := "tombstone"
		if r.Value != nil {
			op = r.env(t).Op
		}
		ops = append(ops, r.Key+" "+op)
	}
	return ops
}

// itemVersion is the version of the items row a record carries: its ver
// column, plus one for a delete (the version after the last update).
func itemVersion(t *testing.T, r record) (int, envelope) {
	t.Helper()
	e := r.env(t)
	img := e.After
	if e.Op == "d" {
		img = e.Before
	}
	var ver int
	if err := json.Unmarshal(img["ver"], &ver); err != nil {
		t.Fatalf("record %s: ver: %v", r.Key, err)
	}
	if e.Op == "d" {
		ver++
	}
	return ver, e
}

// checkVersions verifies the records of every key: versions never go
// missing; with exact set, no record repeats and versions only move forward.
// It returns the number of repeated records.
func checkVersions(t *testing.T, recs []record, exact bool) int {
	t.Helper()
	type seen struct {
		vers map[int]int
		last int
		min  int
		max  int
	}
	perKey := map[string]*seen{}
	dups := 0
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		ver, e := itemVersion(t, r)
		s := perKey[r.Key]
		if s == nil {
			s = &seen{vers: map[int]int{}, min: ver, max: ver}
			perKey[r.Key] = s
		}
		s.vers[ver]++
		if s.vers[ver] > 1 {
			dups++
		}
		if exact && s.last != 0 && ver != s.last+1 {
			t.Errorf("key %s: version %d follows %d (op %s at offset %d): a change is missing, repeated or out of order", r.Key, ver, s.last, e.Op, r.Offset)
		}
		s.last = ver
		s.min, s.max = min(s.min, ver), max(s.max, ver)
	}
	for k, s := range perKey {
		for v := s.min; v <= s.max; v++ {
			if s.vers[v] == 0 {
				t.Errorf("key %s: version %d never reached Kafka (saw %d..%d)", k, v, s.min, s.max)
			}
		}
	}
	return dups
}

// checkOrder verifies that no key's version goes back: every record is
// either a version of its key seen before (a repeat, which a restart
// without exactly-once sends again from its checkpoint) or newer than
// every version seen so far. Versions may be skipped: an interrupted
// snapshot is taken again at a newer point. It returns the number of
// repeated records.
func checkOrder(t *testing.T, recs []record) int {
	t.Helper()
	dups, _ := orderCounts(t, recs)
	return dups
}

// orderCounts is checkOrder, also returning how many records went back.
func orderCounts(t *testing.T, recs []record) (dups, back int) {
	t.Helper()
	type seen struct {
		vers map[int]bool
		max  int
	}
	perKey := map[string]*seen{}
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		ver, e := itemVersion(t, r)
		s := perKey[r.Key]
		if s == nil {
			s = &seen{vers: map[int]bool{}}
			perKey[r.Key] = s
		}
		switch {
		case s.vers[ver]:
			dups++
		case ver < s.max:
			if back++; back <= 5 {
				t.Errorf("key %s: version %d (op %s at offset %d) arrives after version %d: the key went back in time", r.Key, ver, e.Op, r.Offset, s.max)
			}
		}
		s.vers[ver] = true
		s.max = max(s.max, ver)
	}
	if back > 0 {
		t.Errorf("%d records carry an older version of their key than one before them", back)
	}
	return dups, back
}

// TestSnapshotWithConcurrentWriters: promise 1 and 2. Writers run while the
// snapshot is taken; afterwards the topic equals the table and every change
// after the snapshot point appears exactly once, in commit order per key.
func TestSnapshotWithConcurrentWriters(t *testing.T) {
	f := newFixture(t)
	f.createItems(30000)
	w := f.startWriter(30000)
	p := f.sluice(f.config(""))
	time.Sleep(3 * time.Second)
	w.stop()
	t.Logf("writer made %d changes", w.ops.Load())
	recs := f.converge("items", "id", "ver", "name", "amount")
	if dups := checkVersions(t, recs, true); dups != 0 {
		t.Errorf("%d records repeated", dups)
	}
	p.stop()
	if !strings.Contains(p.output(), "global read lock released") {
		t.Errorf("snapshot did not report its global read lock")
	}
}

// TestKillDuringSnapshot: promise 5. kill -9 while the snapshot is being
// copied, then restart: nothing lost, the topic equals the table.
func TestKillDuringSnapshot(t *testing.T) {
	f := newFixture(t)
	f.createItems(150000)
	w := f.startWriter(150000)
	p := f.sluice(f.config(""))
	// A tight poll: the snapshot copies tens of thousands of rows a
	// second, so the kill must follow the first records closely.
	for deadline := time.Now().Add(60 * time.Second); f.count(f.topic("items")) <= 5000; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot records within 60 s:\n%s", p.output())
		}
	}
	p.kill()
	first := len(f.read(f.topic("items")))
	if first >= 150000 {
		t.Fatalf("snapshot finished before the kill (%d records); the test needs a bigger table", first)
	}
	p2 := f.sluice(f.config(""))
	time.Sleep(2 * time.Second)
	w.stop()
	recs := f.converge("items", "id", "ver", "name", "amount")
	dups := checkOrder(t, recs)
	t.Logf("killed after %d records; %d records in all, %d repeated (the interrupted snapshot is taken again)", first, len(recs), dups)
	if !strings.Contains(p2.output(), "previous snapshot did not finish") {
		t.Errorf("restart did not say it repeats the interrupted snapshot")
	}
	if !strings.Contains(p2.output(), "retaken snapshot: reading the binlog") {
		t.Errorf("restart did not read the binlog between the two snapshots' points")
	}
	p2.stop()
}

// TestKillDuringStream: promise 5. kill -9 while streaming under load, keep
// writing, restart: nothing lost; repeats only from the unacknowledged tail.
func TestKillDuringStream(t *testing.T) {
	f := newFixture(t)
	f.createItems(2000)
	p := f.sluice(f.config(""))
	f.converge("items", "id", "ver", "name", "amount")
	w := f.startWriter(2000)
	time.Sleep(2 * time.Second)
	p.kill()
	time.Sleep(time.Second)
	p2 := f.sluice(f.config(""))
	time.Sleep(2 * time.Second)
	w.stop()
	recs := f.converge("items", "id", "ver", "name", "amount")
	dups := checkVersions(t, recs, false)
	checkOrder(t, recs)
	t.Logf("writer made %d changes; %d records, %d repeated after kill -9", w.ops.Load(), len(recs), dups)
	if strings.Contains(p2.output(), "snapshot: consistent point") {
		t.Errorf("restart took a new snapshot instead of resuming")
	}
	p2.stop()
}

// TestDeleteAndKeys: promises 3 and 4. A row's key bytes are identical for
// its snapshot read, update and delete; a delete is the before-image then a
// tombstone; a primary-key update is delete, tombstone, create.
func TestDeleteAndKeys(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO t VALUES (18446744073709551615, 'a'), (2, 'b')")
	p := f.sluice(f.config(""))
	f.converge("t", "id", "v")
	f.exec("UPDATE t SET v = 'c' WHERE id = 18446744073709551615",
		"DELETE FROM t WHERE id = 18446744073709551615",
		"UPDATE t SET id = 3 WHERE id = 2")
	recs := f.converge("t", "id", "v")
	p.stop()

	ops := keyOps(t, recs)
	want := []string{
		`{"id":2} r`, `{"id":18446744073709551615} r`,
		`{"id":18446744073709551615} u`, `{"id":18446744073709551615} d`, `{"id":18446744073709551615} tombstone`,
		`{"id":2} d`, `{"id":2} tombstone`, `{"id":3} c`,
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	del := recs[3].env(t)
	if jsonText(del.Before["v"]) != "c" || del.After != nil {
		t.Errorf("delete before-image = %v, after = %v", del.Before, del.After)
	}
}

// TestTableWithoutPrimaryKey: records of a keyless table get a null key and a
// warning names the table; configured key columns key another table.
func TestTableWithoutPrimaryKey(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE nokey (a INT, b VARCHAR(10))", "INSERT INTO nokey VALUES (1, 'x')",
		"CREATE TABLE keyed (code VARCHAR(10) NOT NULL, n INT)", "INSERT INTO keyed VALUES ('k1', 1)")
	cfg := f.config("")
	cfg = strings.Replace(cfg, "tables:\n", fmt.Sprintf("tables:\n  keys:\n    %s.keyed: [code]\n", f.db), 1)
	p := f.sluice(cfg)
	f.eventually(60*time.Second, "snapshot of both tables", func() (bool, string) {
		a, b := f.count(f.topic("nokey")), f.count(f.topic("keyed"))
		return a == 1 && b == 1, fmt.Sprintf("%d nokey, %d keyed", a, b)
	})
	f.exec("INSERT INTO nokey VALUES (2, 'y')", "UPDATE keyed SET n = 2")
	f.eventually(60*time.Second, "records of both tables", func() (bool, string) {
		a, b := f.read(f.topic("nokey")), f.read(f.topic("keyed"))
		return len(a) == 2 && len(b) == 2, fmt.Sprintf("%d nokey, %d keyed", len(a), len(b))
	})
	for _, r := range f.read(f.topic("nokey")) {
		if r.Key != "" {
			t.Errorf("keyless table record has key %q", r.Key)
		}
	}
	for _, r := range f.read(f.topic("keyed")) {
		if r.Key != `{"code":"k1"}` {
			t.Errorf("configured key = %q", r.Key)
		}
	}
	if !strings.Contains(p.output(), f.db+".nokey") || !strings.Contains(p.output(), "no primary key") {
		t.Errorf("no warning names the keyless table")
	}
	p.stop()
}
