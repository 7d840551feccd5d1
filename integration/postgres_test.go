//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (f *pgFixture) createItems(rows int) {
	// REPLICA IDENTITY FULL: delete before-images carry ver, which
	// checkVersions follows.
	f.exec("CREATE TABLE items (id INT PRIMARY KEY, ver INT NOT NULL, name VARCHAR(64), amount NUMERIC(12,2))",
		"ALTER TABLE items REPLICA IDENTITY FULL",
		fmt.Sprintf("INSERT INTO items SELECT g, 1, 'item-' || g, g + 0.25 FROM generate_series(1, %d) g", rows))
}

func (f *pgFixture) startWriter(existing int) *writer {
	conn := f.newConn()
	return startItemsWriter(f.t, existing, "'upd-' || (ver + 1)", func(q string) error {
		_, err := conn.Exec(f.ctx, q)
		return err
	})
}

// TestPostgresSnapshotWithConcurrentWriters: promises 1 and 2 on
// PostgreSQL. Writers run while the slot's exported snapshot is read; the
// topic then equals the table and every later change appears exactly once,
// in commit order per key.
func TestPostgresSnapshotWithConcurrentWriters(t *testing.T) {
	f := newPGFixture(t)
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
}

// TestPostgresKillDuringSnapshot: promise 5. kill -9 while the snapshot is
// copied, then restart: nothing lost, the topic equals the table.
func TestPostgresKillDuringSnapshot(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(200000)
	w := f.startWriter(200000)
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "first snapshot records", func() (bool, string) {
		n := f.count(f.topic("items"))
		return n > 5000, fmt.Sprintf("%d records", n)
	})
	p.kill()
	first := len(f.read(f.topic("items")))
	if first >= 200000 {
		t.Fatalf("snapshot finished before the kill (%d records); the test needs a bigger table", first)
	}
	p2 := f.sluice(f.config(""))
	time.Sleep(2 * time.Second)
	w.stop()
	recs := f.converge("items", "id", "ver", "name", "amount")
	dups := checkOrder(t, recs)
	t.Logf("killed after %d records; %d records in all, %d repeated (the interrupted snapshot is taken again)", first, len(recs), dups)
	if !strings.Contains(p2.output(), "retaken snapshot: consistent point from a temporary slot") {
		t.Errorf("restart did not take the new snapshot's point from a temporary slot")
	}
	p2.stop()
}

// TestPostgresKillDuringStream: promise 5. kill -9 while streaming under
// load, keep writing, restart: nothing lost, no new snapshot.
func TestPostgresKillDuringStream(t *testing.T) {
	f := newPGFixture(t)
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
	t.Logf("writer made %d changes; %d records, %d repeated after kill -9", w.ops.Load(), len(recs), dups)
	if strings.Contains(p2.output(), "snapshot complete") {
		t.Errorf("restart took a new snapshot instead of resuming")
	}
	p2.stop()
}

// TestPostgresKillDuringStreamedTransaction: promise 5 with a transaction
// the server streams while it runs. kill -9 while sluice spools it, commit
// it, restart: the transaction arrives whole and once, and the leftover
// spool is cleared.
func TestPostgresKillDuringStreamedTransaction(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(2000)
	// The walsender reads the database's settings when it starts: stream
	// every transaction past 64 kB of decoded changes.
	f.exec("ALTER DATABASE " + quotePG(f.dbname) + " SET logical_decoding_work_mem = '64kB'")
	spool := t.TempDir()
	cfg := strings.Replace(f.config(""), "  type: postgresql\n", "  type: postgresql\n  spool_dir: "+spool+"\n", 1)
	p := f.sluice(cfg)
	f.converge("items", "id", "ver", "name", "amount")
	dir := filepath.Join(spool, "sluice-"+f.slotName())
	spooled := func() (bool, string) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
		var size int64
		for _, file := range files {
			if st, err := os.Stat(file); err == nil {
				size += st.Size()
			}
		}
		return size > 0, fmt.Sprintf("%d spool files, %d bytes in %s", len(files), size, dir)
	}
	tx := f.newConn()
	update := "UPDATE items SET ver = ver + 1, name = 'upd-' || (ver + 1)"
	for _, q := range []string{"BEGIN", update, update, update} {
		if _, err := tx.Exec(f.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	f.eventually(30*time.Second, "the open transaction spooled", spooled)
	before := f.count(f.topic("items"))
	p.kill()
	if ok, what := spooled(); !ok {
		t.Fatalf("no spool left after kill -9: %s", what)
	}
	for _, q := range []string{update, "COMMIT"} {
		if _, err := tx.Exec(f.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(f.topic("items")); n != before {
		t.Errorf("%d records of an uncommitted transaction reached Kafka", n-before)
	}
	p2 := f.sluice(cfg)
	recs := f.converge("items", "id", "ver", "name", "amount")
	if dups := checkVersions(t, recs, true); dups != 0 {
		t.Errorf("%d records repeated", dups)
	}
	if want := int64(2000 + 4*2000); int64(len(recs)) != want {
		t.Errorf("%d records, want %d: the snapshot's and four versions per row", len(recs), want)
	}
	f.eventually(10*time.Second, "the spool cleared", func() (bool, string) {
		ok, what := spooled()
		return !ok, what
	})
	if !strings.Contains(p2.output(), "streamed transaction committed") {
		t.Error("the restarted sluice did not receive the transaction streamed")
	}
	p2.stop()
}

// TestPostgresDeleteAndKeys: promises 3 and 4. Key bytes are identical for
// the snapshot read, update and delete; a delete is the before-image then a
// tombstone; a primary-key update is delete, tombstone, create.
func TestPostgresDeleteAndKeys(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO t VALUES (9223372036854775807, 'a'), (2, 'b')")
	p := f.sluice(f.config(""))
	f.converge("t", "id", "v")
	f.exec("UPDATE t SET v = 'c' WHERE id = 9223372036854775807",
		"DELETE FROM t WHERE id = 9223372036854775807",
		"UPDATE t SET id = 3 WHERE id = 2")
	recs := f.converge("t", "id", "v")
	p.stop()

	ops := keyOps(t, recs)
	want := []string{
		`{"id":9223372036854775807} r`, `{"id":2} r`,
		`{"id":9223372036854775807} u`, `{"id":9223372036854775807} d`, `{"id":9223372036854775807} tombstone`,
		`{"id":2} d`, `{"id":2} tombstone`, `{"id":3} c`,
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	del := recs[3].env(t)
	if del.After != nil {
		t.Errorf("delete after-image = %v, want null", del.After)
	}
	if jsonText(del.Before["id"]) != "9223372036854775807" {
		t.Errorf("delete before-image = %v, want the key", del.Before)
	}
}

// TestPostgresReplicaIdentity: with REPLICA IDENTITY DEFAULT the
// before-image of an update or delete holds the key columns only and the
// record says which columns are unavailable; with FULL it is complete.
// sluice reports each table's identity at start.
func TestPostgresReplicaIdentity(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE def (id INT PRIMARY KEY, v TEXT)", "INSERT INTO def VALUES (1, 'a')",
		"CREATE TABLE full_id (id INT PRIMARY KEY, v TEXT)", "ALTER TABLE full_id REPLICA IDENTITY FULL",
		"INSERT INTO full_id VALUES (1, 'a')")
	p := f.sluice(f.config(""))
	f.converge("def", "id", "v")
	f.converge("full_id", "id", "v")
	f.exec("UPDATE def SET v = 'b'", "DELETE FROM def", "UPDATE full_id SET v = 'b'", "DELETE FROM full_id")
	def := f.converge("def", "id", "v")
	full := f.converge("full_id", "id", "v")
	p.stop()

	before := func(recs []record, op string) map[string]string {
		for _, r := range recs {
			if r.Value != nil && r.env(t).Op == op {
				out := map[string]string{}
				for k, v := range r.env(t).Before {
					out[k] = jsonText(v)
				}
				return out
			}
		}
		t.Fatalf("no %q record", op)
		return nil
	}
	if b := before(full, "d"); b["v"] != "b" || b["id"] != "1" {
		t.Errorf("REPLICA IDENTITY FULL delete before-image = %v, want id 1, v b", b)
	}
	if b := before(full, "u"); b["v"] != "a" {
		t.Errorf("REPLICA IDENTITY FULL update before-image = %v, want v a", b)
	}
	if b := before(def, "d"); b["id"] != "1" || b["v"] != "NULL" {
		t.Errorf("REPLICA IDENTITY DEFAULT delete before-image = %v, want id 1 and v unavailable (null)", b)
	}
	out := p.output()
	// check names the identities too, and a FULL table is no problem.
	c := f.sluice(f.config(""), "check")
	if err := c.wait(90 * time.Second); err != nil {
		t.Fatalf("sluice check failed: %v\n%s", err, c.output())
	}
	if co := c.output(); !strings.Contains(co, "INFO  REPLICA IDENTITY FULL on public.full_id") || !strings.Contains(co, "REPLICA IDENTITY DEFAULT on public.def") {
		t.Errorf("sluice check does not report both tables' replica identity:\n%s", co)
	}
	for _, want := range []string{"public.def", "public.full_id"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up report does not name %s", want)
		}
	}
	if !strings.Contains(strings.ToLower(out), "replica identity") {
		t.Errorf("start-up report does not mention replica identity:\n%s", out)
	}
}

// TestPostgresUnchangedToast: a large value PostgreSQL does not resend
// (unchanged TOAST) is never replaced by a made-up value: the column is
// null and the record names it as unavailable.
func TestPostgresUnchangedToast(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE docs (id INT PRIMARY KEY, n INT, body TEXT)",
		"ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL")
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	big := strings.Repeat("x", 100000)
	f.exec("INSERT INTO docs VALUES (1, 1, '"+big+"')", "UPDATE docs SET n = 2 WHERE id = 1")
	var recs []record
	f.eventually(60*time.Second, "two records", func() (bool, string) {
		recs = f.read(f.topic("docs"))
		return len(recs) >= 2, fmt.Sprintf("%d records", len(recs))
	})
	p.stop()
	ins, upd := recs[0], recs[1]
	if e := ins.env(t); e.Op != "c" || jsonText(e.After["body"]) != big {
		t.Fatalf("insert record op %q, body of %d bytes", e.Op, len(jsonText(e.After["body"])))
	}
	e := upd.env(t)
	if e.Op != "u" || jsonText(e.After["n"]) != "2" {
		t.Fatalf("update record = %s", upd.Value)
	}
	if got := jsonText(e.After["body"]); got != "NULL" {
		t.Errorf("unchanged TOAST column body = %.40q…, want null", got)
	}
	if got := upd.headers["sluice.unavailable.after"]; got != `["body"]` {
		t.Errorf("update record headers %v do not name body as unavailable", upd.headers)
	}
}

// TestPostgresTruncate: TRUNCATE becomes a record of its own (op t).
func TestPostgresTruncate(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	p := f.sluice(f.config(""))
	f.converge("t", "id")
	f.exec("TRUNCATE t", "INSERT INTO t VALUES (3)")
	var recs []record
	f.eventually(60*time.Second, "truncate and insert", func() (bool, string) {
		recs = f.read(f.topic("t"))
		return len(recs) >= 4, fmt.Sprintf("%d records", len(recs))
	})
	p.stop()
	if e := recs[2].env(t); e.Op != "t" || e.Before != nil || e.After != nil {
		t.Errorf("third record = key %q value %s, want the truncate (op t)", recs[2].Key, recs[2].Value)
	}
	if e := recs[3].env(t); e.Op != "c" || recs[3].Key != `{"id":3}` {
		t.Errorf("fourth record = key %q value %s, want the insert of 3", recs[3].Key, recs[3].Value)
	}
}

// TestPostgresTableWithoutPrimaryKey: records of a keyless table get a null
// key and a warning names the table; configured key columns key another.
func TestPostgresTableWithoutPrimaryKey(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE nokey (a INT, b TEXT)", "ALTER TABLE nokey REPLICA IDENTITY FULL",
		"INSERT INTO nokey VALUES (1, 'x')",
		"CREATE TABLE keyed (code TEXT NOT NULL, n INT)", "CREATE UNIQUE INDEX keyed_code ON keyed (code)",
		"ALTER TABLE keyed REPLICA IDENTITY USING INDEX keyed_code", "INSERT INTO keyed VALUES ('k1', 1)")
	cfg := strings.Replace(f.config(""), "tables:\n", "tables:\n  keys:\n    public.keyed: [code]\n", 1)
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
	if !strings.Contains(p.output(), "public.nokey") || !strings.Contains(p.output(), "no primary key") {
		t.Errorf("no warning names the keyless table")
	}
	p.stop()
}

// TestPostgresPartitionedTable: changes on partitions are reported under
// the partitioned parent's topic, snapshot and stream alike.
func TestPostgresPartitionedTable(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE m (id INT, region TEXT, v INT, PRIMARY KEY (id, region)) PARTITION BY LIST (region)",
		"CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu')",
		"CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us')",
		"INSERT INTO m VALUES (1, 'eu', 1), (2, 'us', 1)")
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "snapshot of the parent", func() (bool, string) {
		n := f.count(f.topic("m"))
		return n == 2, fmt.Sprintf("%d records", n)
	})
	f.exec("INSERT INTO m VALUES (3, 'us', 1)", "UPDATE m SET v = 2 WHERE id = 1", "DELETE FROM m WHERE id = 2")
	f.eventually(60*time.Second, "stream on the parent", func() (bool, string) {
		n := f.count(f.topic("m"))
		return n == 2+1+1+2, fmt.Sprintf("%d records", n)
	})
	for _, part := range []string{"m_eu", "m_us"} {
		if n := f.count(f.topic(part)); n != 0 {
			t.Errorf("partition %s has a topic of its own with %d records", part, n)
		}
	}
	p.stop()
}

// TestPostgresHeartbeat: while only unselected tables are written, the
// slot's confirmed_flush_lsn still advances, so the server does not keep
// WAL for sluice.
func TestPostgresHeartbeat(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE watched (id INT PRIMARY KEY)", "CREATE TABLE busy (id SERIAL PRIMARY KEY, pad TEXT)")
	cfg := strings.Replace(f.config(""), `include: ["public.*"]`, `include: ["public.watched"]`, 1)
	cfg = strings.Replace(cfg, "  type: postgresql\n", "  type: postgresql\n  status_interval: 1s\n", 1)
	p := f.sluice(cfg)
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	start, ok := f.slot()
	if !ok {
		t.Fatalf("slot %s does not exist", f.slotName())
	}
	f.exec("INSERT INTO busy (pad) SELECT repeat('p', 200) FROM generate_series(1, 20000)")
	var end uint64
	f.eventually(60*time.Second, "confirmed_flush_lsn advancing", func() (bool, string) {
		end, _ = f.slot()
		var wal uint64
		var s string
		if err := f.conn.QueryRow(f.ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s); err == nil {
			var hi, lo uint64
			fmt.Sscanf(s, "%X/%X", &hi, &lo)
			wal = hi<<32 | lo
		}
		// Past the bulk insert's WAL (20000 rows of 200 bytes ≈ 4 MB).
		return end > start+3_000_000, fmt.Sprintf("confirmed %X, was %X, server at %X", end, start, wal)
	})
	p.stop()
}

// TestPostgresLargeTransaction: one transaction of 1,000,000 rows streams
// through with sluice's memory bounded: its peak RSS after the big
// transaction is not much above its peak after a 100,000-row one.
func TestPostgresLargeTransaction(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE big (id INT PRIMARY KEY, v TEXT, n BIGINT)")
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	load := func(from, to int) {
		f.exec(fmt.Sprintf("INSERT INTO big SELECT g, 'row-' || g, g * 7 FROM generate_series(%d, %d) g", from, to))
		f.eventually(5*time.Minute, "records of the transaction", func() (bool, string) {
			n := f.count(f.topic("big"))
			return n >= int64(to), fmt.Sprintf("%d of %d records", n, to)
		})
	}
	load(1, 100000)
	small := peakRSS(t, p.cmd.Process.Pid)
	load(100001, 1100000)
	large := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("sluice peak RSS (race-enabled build): %d MB after 100,000 rows, %d MB after a further 1,000,000-row transaction", small>>20, large>>20)
	if large > small*3/2+32<<20 {
		t.Errorf("peak RSS grew from %d MB to %d MB with a 10x larger transaction: memory is not bounded", small>>20, large>>20)
	}
	// The big transaction outgrew logical_decoding_work_mem (64MB), so the
	// server streamed it while it ran and sluice spooled it to disk.
	var streamed int64
	if err := f.conn.QueryRow(f.ctx, "SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = $1", f.slotName()).Scan(&streamed); err != nil {
		t.Fatal(err)
	}
	if streamed == 0 || !strings.Contains(p.output(), "streamed transaction committed") {
		t.Errorf("the 1,000,000-row transaction was not streamed (stream_txns %d)", streamed)
	}
	p.stop()
}

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestPostgresNewTable: a table created after the snapshot that matches
// tables.include joins the publication at the next start; its changes from
// then on are captured and a warning says its earlier rows are not.
func TestPostgresNewTable(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE a (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1)")
	p := f.sluice(f.config(""))
	f.converge("a", "id")
	f.exec("CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO b VALUES (1)")
	p.stop()
	p = f.sluice(f.config(""))
	f.eventually(60*time.Second, "streaming again", func() (bool, string) {
		return strings.Contains(p.output(), "streaming from replication slot"), "not streaming yet"
	})
	f.exec("INSERT INTO b VALUES (2)", "INSERT INTO a VALUES (2)")
	f.converge("a", "id")
	var recs []record
	f.eventually(60*time.Second, "the insert into b", func() (bool, string) {
		recs = f.read(f.topic("b"))
		return len(recs) == 1, fmt.Sprintf("%d records", len(recs))
	})
	p.stop()
	if recs[0].Key != `{"id":2}` {
		t.Errorf("b's record has key %s, want the row inserted after the restart", recs[0].Key)
	}
	if out := p.output(); !strings.Contains(out, "joined the publication after the snapshot") || !strings.Contains(out, "public.b") {
		t.Errorf("no warning names public.b as joining after the snapshot:\n%s", out)
	}
}

// TestPostgresLeftoverSlot: a slot of sluice's name that exists before the
// source has any checkpoint (a first start that died after creating it) is
// dropped and created again, so that it can export the snapshot.
func TestPostgresLeftoverSlot(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)",
		fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", f.slotName()))
	p := f.sluice(f.config(""))
	f.converge("t", "id")
	f.exec("INSERT INTO t VALUES (3)")
	f.converge("t", "id")
	p.stop()
	if !strings.Contains(p.output(), "dropping and re-creating it") {
		t.Errorf("no warning about the leftover slot:\n%s", p.output())
	}
}
