//go:build integration

package integration

import (
	le "encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLargeTransactionsAndRotation: one transaction of 60k rows written by
// multi-row statements, a binlog rotation, a single UPDATE and DELETE that
// touch tens of thousands of rows: everything arrives, the topic equals the
// table.
func TestLargeTransactionsAndRotation(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT)")
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	stmts := []string{"BEGIN"}
	for start := 1; start <= 60000; start += 3000 {
		var vals []string
		for id := start; id < start+3000; id++ {
			vals = append(vals, fmt.Sprintf("(%d, 'row-%d', %d)", id, id, id*7))
		}
		stmts = append(stmts, "INSERT INTO big VALUES "+strings.Join(vals, ","))
	}
	stmts = append(stmts, "COMMIT", "FLUSH BINARY LOGS",
		"UPDATE big SET v = CONCAT(v, '-u'), n = n + 1 WHERE id % 3 = 0",
		"FLUSH BINARY LOGS",
		"DELETE FROM big WHERE id % 5 = 0")
	f.exec(stmts...)
	recs := f.converge("big", "id", "v", "n")
	// Topics are created with min.compaction.lag.ms of an hour in these
	// tests, so no record has been compacted away yet.
	var creates, updates, deletes, tombstones int
	for _, r := range recs {
		if r.Value == nil {
			tombstones++
			continue
		}
		switch r.env(t).Op {
		case "c":
			creates++
		case "u":
			updates++
		case "d":
			deletes++
		}
	}
	if creates != 60000 || updates != 20000 || deletes != 12000 || tombstones != 12000 {
		t.Errorf("creates %d (want 60000), updates %d (want 20000), deletes %d and tombstones %d (want 12000)", creates, updates, deletes, tombstones)
	}
	p.stop()
}

// TestSchemaAsOfEvent: promise 6. Changes written before an ALTER TABLE are
// decoded with the shape they were written with, even when sluice reads
// them after the ALTER (it was stopped meanwhile).
func TestSchemaAsOfEvent(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE s (id INT PRIMARY KEY, a VARCHAR(10), gone INT)", "INSERT INTO s VALUES (1, 'one', 11)")
	p := f.sluice(f.config(""))
	f.converge("s", "id", "a")
	p.stop()
	f.exec("INSERT INTO s VALUES (2, 'two', 22)",
		"ALTER TABLE s ADD COLUMN added INT NOT NULL DEFAULT 7, DROP COLUMN gone",
		"INSERT INTO s VALUES (3, 'three', 33)",
		"UPDATE s SET a = 'uno' WHERE id = 1")
	p = f.sluice(f.config(""))
	// Row 2 was written before the ALTER: its record has no "added"
	// column although the table now shows the default there.
	recs := f.converge("s", "id", "a")
	p.stop()
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4 (snapshot, insert before ALTER, insert after, update)", len(recs))
	}
	old := recs[1].env(t)
	if _, ok := old.After["gone"]; !ok || old.After["added"] != nil {
		t.Errorf("insert written before the ALTER decoded with today's shape: %s", recs[1].Value)
	}
	for _, r := range recs[2:] {
		e := r.env(t)
		if _, ok := e.After["added"]; !ok || e.After["gone"] != nil {
			t.Errorf("change written after the ALTER lacks the new shape: %s", r.Value)
		}
	}
	if strings.Count(p.output(), "ddl in binlog") != 1 {
		t.Errorf("the ALTER was not logged once:\n%s", p.output())
	}
}

// TestKeyPartitioning: promise 2. With several partitions every record of a
// row lands in the partition Kafka's own murmur2 key hash picks, so
// consumers in any language agree on placement.
func TestKeyPartitioning(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE k (id INT PRIMARY KEY, v INT)")
	var vals []string
	for i := 1; i <= 200; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 0)", i))
	}
	f.exec("INSERT INTO k VALUES " + strings.Join(vals, ","))
	p := f.sluice(strings.Replace(f.config(""), "  checkpoint_interval: 200ms\n", "  checkpoint_interval: 200ms\n  partitions: 4\n", 1))
	f.exec("UPDATE k SET v = 1", "DELETE FROM k WHERE id <= 50")
	recs := f.converge("k", "id", "v")
	p.stop()
	parts := map[int32]int{}
	for _, r := range recs {
		want := int32(murmur2([]byte(r.Key))&0x7fffffff) % 4
		if r.Partition != want {
			t.Fatalf("key %s in partition %d, murmur2 says %d", r.Key, r.Partition, want)
		}
		parts[r.Partition]++
	}
	if len(parts) != 4 {
		t.Errorf("records spread over %d of 4 partitions: %v", len(parts), parts)
	}
}

// murmur2 is Kafka's key hash (org.apache.kafka.common.utils.Utils.murmur2),
// written out here so the test does not trust the producer's copy.
func murmur2(data []byte) uint32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	h := seed ^ uint32(len(data))
	n := len(data) / 4
	for i := 0; i < n; i++ {
		k := le.LittleEndian.Uint32(data[i*4:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// TestSnapshotModeNever: with snapshot.mode never, existing rows are not
// copied; changes from the current binlog position on are.
func TestSnapshotModeNever(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE n (id INT PRIMARY KEY, v INT)", "INSERT INTO n VALUES (1, 1), (2, 2)")
	p := f.sluice(f.config("snapshot:\n  mode: never\n"))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "streaming from the current binlog position"), "not streaming yet"
	})
	f.exec("UPDATE n SET v = 20 WHERE id = 2", "INSERT INTO n VALUES (3, 3)")
	f.eventually(60*time.Second, "two change records", func() (bool, string) {
		n := f.count(f.topic("n"))
		return n == 2, fmt.Sprintf("%d records", n)
	})
	p.stop()
	var ops []string
	for _, r := range f.read(f.topic("n")) {
		ops = append(ops, r.Key+" "+r.env(t).Op)
	}
	if got := strings.Join(ops, ", "); got != `{"id":2} u, {"id":3} c` {
		t.Errorf("records: %s", got)
	}
}
