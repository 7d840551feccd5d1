//go:build integration

package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRetakenSnapshotMariaDB: a snapshot interrupted twice by kill -9,
// with rows of the first attempt deleted and updated in between and no
// writer running at the restarts. Each retake passes on the deletions
// since the point the last catch-up reached (the first snapshot's, the
// first time) before copying the tables at a new point; the topic ends
// equal to the table, every deleted row has its tombstone after its copy
// and exactly one delete record, and no key's version goes back.
func TestRetakenSnapshotMariaDB(t *testing.T) {
	f := newFixture(t)
	f.createItems(150000)
	retakenSnapshot(t, f, f.config(""), f.exec, f.converge)
}

func TestRetakenSnapshotPostgres(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(200000)
	retakenSnapshot(t, f.fixture, f.config(""), f.exec, f.converge)
	if _, ok := f.slot(); !ok {
		t.Errorf("the permanent slot %s is gone", f.slotName())
	}
	var temp int
	if err := f.newConn().QueryRow(f.ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", f.slotName()+"_retake").Scan(&temp); err != nil {
		t.Fatal(err)
	}
	if temp != 0 {
		t.Errorf("the temporary slot %s_retake outlived its snapshot", f.slotName())
	}
}

func retakenSnapshot(t *testing.T, f *fixture, cfg string, exec func(...string), converge func(string, string, ...string) []record) {
	topic := f.topic("items")
	// killAfter pauses p's snapshot once it copied more than rows rows
	// (the copy is too fast to catch otherwise), lets Kafka acknowledge
	// what was read, and kills p.
	killAfter := func(p *proc, rows int64) int64 {
		addr := adminAddr(t, f, p)
		waitPhase(f, addr, "snapshot")
		for {
			if code, body := post(t, addr, "/pause"); code != 200 {
				t.Fatalf("POST /pause: %d %s", code, body)
			}
			st, err := getStatus(addr)
			if err != nil {
				t.Fatal(err)
			}
			if st.Phase != "snapshot" || st.Snapshot == nil {
				t.Fatalf("the snapshot ended before %d rows: phase %s", rows, st.Phase)
			}
			var n int64
			for _, tb := range st.Snapshot.Tables {
				n += tb.Rows
			}
			if n > rows {
				break
			}
			post(t, addr, "/resume")
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second)
		p.kill()
		return f.count(topic)
	}
	first := killAfter(f.sluice(cfg), 5000)
	// Rows of the first attempt (the copy goes in key order) change while
	// sluice is down.
	exec("DELETE FROM items WHERE id <= 100", "UPDATE items SET ver = ver + 1, name = 'retake' WHERE id BETWEEN 101 AND 200")
	p := f.sluice(cfg)
	second := killAfter(p, 5000)
	if !strings.Contains(p.output(), "previous snapshot did not finish") {
		t.Errorf("the first restart did not say it takes the snapshot again")
	}
	exec("DELETE FROM items WHERE id BETWEEN 201 AND 300")
	p = f.sluice(cfg)
	recs := converge("items", "id", "ver", "name", "amount")
	dups := checkOrder(t, recs)
	p.stop()

	// Every deleted key's last record is its tombstone, after its copy.
	last := map[string]record{}
	for _, r := range recs {
		last[r.Key] = r
	}
	for id := 1; id <= 300; id++ {
		if id > 100 && id <= 200 {
			continue
		}
		k := fmt.Sprintf(`{"id":%d}`, id)
		if r, ok := last[k]; !ok || r.Value != nil {
			t.Errorf("key %s: deleted while sluice was down, its last record is not a tombstone (found %v)", k, ok)
		}
	}
	out := p.output()
	m := regexp.MustCompile(`catch_up_deletions=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the second restart did not report its catch-up:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 100 {
		t.Errorf("the second restart passed on %d deletions, want at least the 100 made since the first restart's catch-up", n)
	}
	// The first restart's catch-up reached Kafka before the kill, so the
	// second one does not pass its deletions on again.
	deletes := map[string]int{}
	for _, r := range recs {
		if r.Value != nil && r.env(t).Op == "d" {
			deletes[r.Key]++
		}
	}
	for id := 1; id <= 300; id++ {
		if id > 100 && id <= 200 {
			continue
		}
		if k := fmt.Sprintf(`{"id":%d}`, id); deletes[k] != 1 {
			t.Errorf("key %s: %d delete records, want 1", k, deletes[k])
		}
	}
	t.Logf("killed after %d and %d records; %d records in all, %d repeated; the last catch-up passed on %d deletions", first, second, len(recs), dups, n)
}
