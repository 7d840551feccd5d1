//go:build integration

package pgoutput

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/deploy/local"
)

// One logical-replication server serves every test but the wal_level one;
// each test works in a database of its own.
var (
	sharedOnce sync.Once
	sharedPG   *local.Postgres
	sharedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPG != nil {
		sharedPG.Stop()
	}
	os.Exit(code)
}

// database starts the shared server when needed and creates a fresh
// database named after the test.
func database(t *testing.T) (*local.Postgres, string) {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		sharedPG, sharedErr = local.StartPostgres(ctx, local.PostgresOptions{})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	db := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if err := sharedPG.Exec(t.Context(), "", "DROP DATABASE IF EXISTS "+quoteIdent(db), "CREATE DATABASE "+quoteIdent(db)); err != nil {
		t.Fatal(err)
	}
	return sharedPG, db
}

// dropSlot drops the test's slot once the server has let go of it.
func dropSlot(t *testing.T, pg *local.Postgres, slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pg.Conn(ctx, "")
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	for {
		err := DropSlot(ctx, conn, slot)
		if err == nil || errors.Is(err, ErrSlotMissing) {
			return
		}
		if !errors.Is(err, ErrSlotActive) || ctx.Err() != nil {
			t.Errorf("drop slot %s: %v", slot, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func exec(t *testing.T, pg *local.Postgres, db string, stmts ...string) {
	t.Helper()
	if err := pg.Exec(t.Context(), db, stmts...); err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, pg *local.Postgres, db string) *pgx.Conn {
	t.Helper()
	c, err := pg.Conn(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// safeRecorder is a sluice.Handler for a reader on another goroutine.
// Acked returns the latest position Resumable was given, as if Kafka
// acknowledged every record at once.
type safeRecorder struct {
	mu        sync.Mutex
	events    []*sluice.Event
	resumable sluice.Position
	acked     bool
}

func (h *safeRecorder) Change(_ context.Context, ev *sluice.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	return nil
}

func (h *safeRecorder) Resumable(_ context.Context, pos sluice.Position) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resumable, h.acked = pos, true
	return nil
}

func (h *safeRecorder) Acked() (sluice.Position, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resumable, h.acked
}

func (h *safeRecorder) shown() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.events))
	for i, ev := range h.events {
		out[i] = show(ev)
	}
	return out
}

// waitEvents waits until n events arrived and returns them rendered.
func (h *safeRecorder) waitEvents(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := h.shown()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d:\n  %s", len(got), n, strings.Join(got, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running is a Reader running on its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func start(t *testing.T, cfg Config, from sluice.Position, h sluice.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	rd := New(cfg)
	go func() { r.done <- rd.Run(ctx, from, h) }()
	t.Cleanup(cancel)
	return r
}

// setup creates tables, the publication and the slot in a new database
// and returns the reader's configuration and the slot's consistent point.
func setup(t *testing.T, tables []TableName, stmts ...string) (*local.Postgres, string, Config, sluice.Position) {
	t.Helper()
	pg, db := database(t)
	exec(t, pg, db, stmts...)
	conn := connect(t, pg, db)
	if _, err := EnsurePublication(t.Context(), conn, "sluice_pub", tables); err != nil {
		t.Fatal(err)
	}
	// Slot names are server-wide: one per test.
	slot, err := CreateSlot(t.Context(), connConf(t, pg.DSN(db)), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := slot.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSlot(t, pg, db) })
	cfg := Config{Name: "pg", Conn: connConf(t, pg.DSN(db)), Slot: db, Publication: "sluice_pub",
		Selection:      &sluice.Selection{Include: []string{"public.*"}},
		StatusInterval: 200 * time.Millisecond, ReconnectBackoff: 100 * time.Millisecond, Logger: quiet()}
	return pg, db, cfg, slot.Consistent
}

// The exported snapshot sees exactly what committed before the slot's
// consistent point; the stream delivers exactly what committed after it.
func TestIntegrationSlotSnapshot(t *testing.T) {
	pg, db := database(t)
	exec(t, pg, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	conn := connect(t, pg, db)
	if _, err := EnsurePublication(t.Context(), conn, "p", []TableName{{"public", "t"}}); err != nil {
		t.Fatal(err)
	}
	slot, err := CreateSlot(t.Context(), connConf(t, pg.DSN(db)), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSlot(t, pg, db) })
	if slot.SnapshotName == "" || slot.Consistent.LSN == 0 {
		t.Fatalf("slot %+v lacks snapshot or consistent point", slot)
	}
	exec(t, pg, db, "INSERT INTO t VALUES (3)")

	reader := connect(t, pg, db)
	tx, err := reader.BeginTx(t.Context(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "SET TRANSACTION SNAPSHOT "+quoteLiteral(slot.SnapshotName)); err != nil {
		t.Fatal(err)
	}
	if err := slot.Close(t.Context()); err != nil { // the imported snapshot lives on
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(t.Context())
	if n != 2 {
		t.Errorf("snapshot sees %d rows, want 2", n)
	}

	if _, err := CreateSlot(t.Context(), connConf(t, pg.DSN(db)), db); !errors.Is(err, ErrSlotExists) {
		t.Errorf("second CreateSlot: %v, want ErrSlotExists", err)
	}
	st, err := LookupSlot(t.Context(), conn, db)
	if err != nil || !st.Exists || st.Plugin != "pgoutput" || st.Database != db || st.ResumeErr(db, db) != nil {
		t.Fatalf("slot state %+v, %v", st, err)
	}

	h := &safeRecorder{}
	run := start(t, Config{Name: "pg", Conn: connConf(t, pg.DSN(db)), Slot: db, Publication: "p", Logger: quiet()}, slot.Consistent, h)
	got := h.waitEvents(t, 1)
	run.stop(t)
	if len(got) != 1 || got[0] != "c public.t after=[3]" {
		t.Errorf("stream after the snapshot: %q, want only the insert of 3", got)
	}
}

// Inserts, updates, deletes and truncates under REPLICA IDENTITY DEFAULT
// and FULL, an unchanged TOASTed column, ALTER TABLE mid-stream, and a
// table outside the selection.
func TestIntegrationStream(t *testing.T) {
	tables := []TableName{{"public", "d"}, {"public", "f"}, {"other", "skip"}}
	pg, db, cfg, from := setup(t, tables,
		"CREATE TABLE d (id int PRIMARY KEY, note text, body text)",
		"CREATE TABLE f (id int PRIMARY KEY, note text, body text)",
		"ALTER TABLE f REPLICA IDENTITY FULL",
		"CREATE SCHEMA other",
		"CREATE TABLE other.skip (id int PRIMARY KEY)")
	h := &safeRecorder{}
	run := start(t, cfg, from, h)

	// Random hex does not compress below the TOAST threshold.
	const big = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i)"
	var bigValue string
	if err := connect(t, pg, db).QueryRow(t.Context(), "SELECT "+big).Scan(&bigValue); err != nil {
		t.Fatal(err)
	}
	exec(t, pg, db,
		"INSERT INTO d VALUES (1, 'a', "+big+")",
		"INSERT INTO other.skip VALUES (1)",
		"UPDATE d SET note = 'b' WHERE id = 1",
		"UPDATE d SET id = 2 WHERE id = 1",
		"DELETE FROM d WHERE id = 2",
		"INSERT INTO f VALUES (1, 'a', "+big+")",
		"UPDATE f SET note = 'b' WHERE id = 1",
		"DELETE FROM f WHERE id = 1",
		"INSERT INTO d VALUES (5, 'x', 'y'), (6, 'x', 'y')",
		"TRUNCATE d, other.skip",
		"ALTER TABLE d ADD COLUMN qty int",
		"INSERT INTO d VALUES (7, 'n', 'b', 42)",
		"ALTER TABLE d DROP COLUMN body",
		"UPDATE d SET qty = 43 WHERE id = 7",
	)
	b := bigValue
	want := []string{
		"c public.d after=[1 a " + b + "]",
		"u public.d before=[1 <nil> <nil>] na=[1 2] after=[1 b <nil>] na=[2]",
		"u public.d before=[1 <nil> <nil>] na=[1 2] after=[2 b <nil>] na=[2]",
		"d public.d before=[2 <nil> <nil>] na=[1 2]",
		"c public.f after=[1 a " + b + "]",
		"u public.f before=[1 a " + b + "] after=[1 b " + b + "]",
		"d public.f before=[1 b " + b + "]",
		"c public.d after=[5 x y]",
		"c public.d after=[6 x y]",
		"t public.d",
		"c public.d after=[7 n b 42]",
		"u public.d before=[7 <nil> <nil>] na=[1 2] after=[7 n 43]",
	}
	got := h.waitEvents(t, len(want))
	run.stop(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		short := func(ss []string) string {
			return strings.ReplaceAll(strings.Join(ss, "\n  "), b, "<big>")
		}
		t.Errorf("events:\n  %s\nwant:\n  %s", short(got), short(want))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var lsn uint64
	for _, ev := range h.events {
		if ev.Source.Connector != "postgresql" || ev.Source.Name != "pg" || ev.Source.CommitTime.IsZero() || ev.Source.Position.LSN <= lsn {
			t.Errorf("event %s: source %+v (previous LSN %d)", ev.Op, ev.Source, lsn)
		}
		lsn = ev.Source.Position.LSN
	}
	if n := len(h.events); n == len(want) && h.events[10].Table == h.events[0].Table {
		t.Error("ADD COLUMN did not give a new table shape")
	}
}

// Changes on a partition are reported under the partitioned table.
func TestIntegrationPartitionRoot(t *testing.T) {
	pg, db, cfg, from := setup(t, []TableName{{"public", "parted"}},
		"CREATE TABLE parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
		"CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
		"CREATE TABLE parted_2027 PARTITION OF parted FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')")
	h := &safeRecorder{}
	run := start(t, cfg, from, h)
	exec(t, pg, db, "INSERT INTO parted VALUES (1, '2026-05-01'), (2, '2027-05-01')", "DELETE FROM parted WHERE id = 2")
	got := h.waitEvents(t, 3)
	run.stop(t)
	want := []string{"c public.parted after=[1 2026-05-01]", "c public.parted after=[2 2027-05-01]", "d public.parted before=[2 2027-05-01]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events %q, want %q", got, want)
	}
}

// Keepalives advance the slot while only a table outside the selection is
// written.
func TestIntegrationKeepaliveAdvancesSlot(t *testing.T) {
	pg, db, cfg, from := setup(t, []TableName{{"public", "sel"}, {"public", "unsel"}},
		"CREATE TABLE sel (id int PRIMARY KEY)", "CREATE TABLE unsel (id int PRIMARY KEY)")
	cfg.Selection = &sluice.Selection{Include: []string{"public.sel"}}
	h := &safeRecorder{}
	cfg.Acked = h.Acked
	run := start(t, cfg, from, h)
	defer run.stop(t)

	conn := connect(t, pg, db)
	exec(t, pg, db, "INSERT INTO unsel SELECT generate_series(1, 1000)")
	var after string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&after); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var reached bool
		err := conn.QueryRow(t.Context(), "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2", after, cfg.Slot).Scan(&reached)
		if err != nil {
			t.Fatal(err)
		}
		if reached {
			break
		}
		if time.Now().After(deadline) {
			st, _ := LookupSlot(t.Context(), conn, cfg.Slot)
			t.Fatalf("confirmed_flush_lsn %d never reached %s (acked %+v)", st.ConfirmedFlush.LSN, after, h.resumable)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := h.shown(); len(got) != 0 {
		t.Errorf("events of an unselected table: %q", got)
	}
}

// The server ends the walsender: the reader reconnects and loses and
// repeats nothing.
func TestIntegrationReconnect(t *testing.T) {
	pg, db, cfg, from := setup(t, []TableName{{"public", "t"}}, "CREATE TABLE t (id int PRIMARY KEY)")
	h := &safeRecorder{}
	cfg.Acked = h.Acked
	run := start(t, cfg, from, h)
	defer run.stop(t)
	conn := connect(t, pg, db)
	for round := 0; round < 3; round++ {
		exec(t, pg, db, fmt.Sprintf("INSERT INTO t SELECT generate_series(%d, %d)", round*100+1, round*100+100))
		h.waitEvents(t, (round+1)*100)
		// Wait for the commit too: a connection lost before it repeats
		// the transaction, by design.
		waitResumable(t, h, conn)
		var killed bool
		err := conn.QueryRow(t.Context(), "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active", cfg.Slot).Scan(&killed)
		if err != nil || !killed {
			t.Fatalf("terminate walsender: %v %v", killed, err)
		}
	}
	exec(t, pg, db, "INSERT INTO t SELECT generate_series(301, 400)")
	got := h.waitEvents(t, 400)
	time.Sleep(500 * time.Millisecond) // duplicates would arrive now
	got = h.shown()
	seen := map[string]int{}
	for _, e := range got {
		seen[e]++
	}
	if len(got) != 400 || len(seen) != 400 {
		t.Errorf("%d events, %d distinct, want 400 of each", len(got), len(seen))
	}
}

// A slot that another connection streams from stops a second reader at
// once, with the cause; Check says the same.
func TestIntegrationSlotActive(t *testing.T) {
	pg, db, cfg, from := setup(t, []TableName{{"public", "t"}}, "CREATE TABLE t (id int PRIMARY KEY)")
	h := &safeRecorder{}
	first := start(t, cfg, from, h)
	defer first.stop(t)
	conn := connect(t, pg, db)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := LookupSlot(t.Context(), conn, cfg.Slot)
		if err != nil {
			t.Fatal(err)
		}
		if st.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first reader never made the slot active")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := New(cfg).Run(ctx, from, &safeRecorder{})
	if !errors.Is(err, ErrSlotActive) || Retryable(err) {
		t.Errorf("second reader: %v, want ErrSlotActive", err)
	}
	ps, err := Check(t.Context(), conn, CheckConfig{Slot: cfg.Slot, Publication: cfg.Publication, Tables: []TableName{{"public", "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(ps, false, "in use by server process") {
		t.Errorf("Check: %+v, want the slot in use", ps)
	}
	if err := DropSlot(t.Context(), conn, cfg.Slot); !errors.Is(err, ErrSlotActive) {
		t.Errorf("DropSlot of an active slot: %v", err)
	}
}

// A missing slot stops Run at once, not after retries.
func TestIntegrationSlotMissing(t *testing.T) {
	pg, db := database(t)
	exec(t, pg, db, "CREATE TABLE t (id int PRIMARY KEY)")
	conn := connect(t, pg, db)
	if _, err := EnsurePublication(t.Context(), conn, "p", []TableName{{"public", "t"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := New(Config{Conn: connConf(t, pg.DSN(db)), Slot: "gone", Publication: "p", Logger: quiet()}).Run(ctx, sluice.Position{LSN: 0x1000000}, &safeRecorder{})
	if !errors.Is(err, ErrSlotMissing) {
		t.Errorf("Run: %v, want ErrSlotMissing", err)
	}
	st, err := LookupSlot(t.Context(), conn, "gone")
	if err != nil || st.Exists {
		t.Fatalf("%+v %v", st, err)
	}
	if err := st.ResumeErr("gone", db); !errors.Is(err, ErrSlotMissing) {
		t.Errorf("ResumeErr: %v", err)
	}
	if err := DropSlot(t.Context(), conn, "gone"); !errors.Is(err, ErrSlotMissing) {
		t.Errorf("DropSlot: %v", err)
	}
}

func TestIntegrationPublication(t *testing.T) {
	pg, db := database(t)
	exec(t, pg, db,
		"CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)",
		`CREATE TABLE "Odd ""name""" (id int PRIMARY KEY)`,
		"CREATE TABLE parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
		"CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
		"CREATE PUBLICATION theirs FOR TABLE a")
	conn := connect(t, pg, db)
	all := []TableName{{"public", "a"}, {"public", "b"}, {"public", `Odd "name"`}, {"public", "parted"}}
	listed, err := SelectedTables(t.Context(), conn, &sluice.Selection{Include: []string{"public.*"}, Exclude: []string{"public.b"}})
	if want := []TableName{{"public", `Odd "name"`}, {"public", "a"}, {"public", "parted"}}; err != nil || !reflect.DeepEqual(listed, want) {
		t.Errorf("SelectedTables: %v %v, want %v", listed, err, want)
	}
	changed, err := EnsurePublication(t.Context(), conn, "Mine", all)
	if err != nil || !changed {
		t.Fatalf("create: %v %v", changed, err)
	}
	pub, err := LookupPublication(t.Context(), conn, "Mine")
	if err != nil || !pub.Exists || !pub.Owned || !pub.ViaRoot || len(pub.Missing(all)) != 0 || len(pub.Tables) != 4 {
		t.Fatalf("created publication %+v, %v", pub, err)
	}
	if changed, err := EnsurePublication(t.Context(), conn, "Mine", all); err != nil || changed {
		t.Errorf("unchanged selection: changed %v, %v", changed, err)
	}
	if changed, err := EnsurePublication(t.Context(), conn, "Mine", all[:2]); err != nil || !changed {
		t.Errorf("smaller selection: changed %v, %v", changed, err)
	}
	if pub, _ := LookupPublication(t.Context(), conn, "Mine"); len(pub.Tables) != 2 {
		t.Errorf("after SET TABLE: %+v", pub.Tables)
	}
	_, err = EnsurePublication(t.Context(), conn, "theirs", all[:2])
	if !errors.Is(err, ErrPublicationMissing) || !strings.Contains(err.Error(), `ALTER PUBLICATION "theirs" ADD TABLE "public"."b"`) {
		t.Errorf("foreign publication without b: %v", err)
	}
	if pub, _ := LookupPublication(t.Context(), conn, "theirs"); len(pub.Tables) != 1 {
		t.Errorf("sluice changed a publication it did not create: %+v", pub.Tables)
	}
	if _, err := EnsurePublication(t.Context(), conn, "theirs", all[:1]); err != nil {
		t.Errorf("foreign publication covering the selection: %v", err)
	}
	exec(t, pg, db, "CREATE PUBLICATION old FOR TABLE a", "COMMENT ON PUBLICATION old IS "+quoteLiteral(publicationMarker))
	if changed, err := EnsurePublication(t.Context(), conn, "old", all[:1]); err != nil || !changed {
		t.Errorf("sluice's publication without publish_via_partition_root: changed %v, %v", changed, err)
	}
	if pub, _ := LookupPublication(t.Context(), conn, "old"); !pub.ViaRoot || len(pub.Tables) != 1 {
		t.Errorf("after the fix: %+v", pub)
	}
}

func TestIntegrationCheck(t *testing.T) {
	pg, db := database(t)
	exec(t, pg, db,
		"CREATE TABLE d (id int PRIMARY KEY)",
		"CREATE TABLE f (id int PRIMARY KEY)", "ALTER TABLE f REPLICA IDENTITY FULL",
		"CREATE TABLE n (id int PRIMARY KEY)", "ALTER TABLE n REPLICA IDENTITY NOTHING",
		"CREATE TABLE nokey (v int)",
		"CREATE PUBLICATION theirs FOR TABLE d")
	conn := connect(t, pg, db)
	ps, err := Check(t.Context(), conn, CheckConfig{Slot: "s", Publication: "p", Tables: []TableName{{"public", "d"}, {"public", "f"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Err() != nil || !hasProblem(ps, true, "REPLICA IDENTITY DEFAULT on public.d:") || hasProblem(ps, true, "public.f") ||
		!hasProblem(ps, true, "max_slot_wal_keep_size is unlimited") {
		t.Errorf("healthy setup: %+v", ps)
	}
	ps, err = Check(t.Context(), conn, CheckConfig{Slot: "s", Publication: "theirs",
		Tables: []TableName{{"public", "d"}, {"public", "n"}, {"public", "nokey"}, {"public", "absent"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"table public.n has REPLICA IDENTITY NOTHING",
		"table public.nokey has no primary key and REPLICA IDENTITY DEFAULT",
		"table public.absent does not exist",
		`publication "theirs" (not created by sluice) does not publish public.n, public.nokey, public.absent`,
	} {
		if !hasProblem(ps, false, want) {
			t.Errorf("no problem %q in %+v", want, ps)
		}
	}

	if err := pg.CreateRole(t.Context(), "plain", "pw"); err != nil {
		t.Fatal(err)
	}
	exec(t, pg, db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO plain")
	plain, err := pgx.Connect(t.Context(), pg.UserDSN("plain", "pw", db))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(context.Background())
	ps, err = Check(t.Context(), plain, CheckConfig{Slot: "s", Publication: "p", Tables: []TableName{{"public", "d"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(ps, false, "lacks the REPLICATION attribute") || !hasProblem(ps, false, `publication "p" does not exist and the user plain cannot create it`) {
		t.Errorf("unprivileged user: %+v", ps)
	}
	if _, err := EnsurePublication(t.Context(), plain, "p", []TableName{{"public", "d"}}); !errors.Is(err, ErrPermission) {
		t.Errorf("EnsurePublication as a non-owner: %v", err)
	}
	if _, err := CreateSlot(t.Context(), connConf(t, pg.UserDSN("plain", "pw", db)), "plain_slot"); !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "REPLICATION") {
		t.Errorf("CreateSlot without REPLICATION: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = New(Config{Conn: connConf(t, pg.UserDSN("plain", "pw", db)), Slot: "s", Publication: "theirs", Logger: quiet()}).Run(ctx, sluice.Position{LSN: 0x1000000}, &safeRecorder{})
	if !errors.Is(err, ErrPermission) || Retryable(err) {
		t.Errorf("Run without REPLICATION: %v, want ErrPermission at once", err)
	}
}

// A slot the server invalidated (max_slot_wal_keep_size) stops Run at
// once; LookupSlot and Check say so.
func TestIntegrationSlotInvalidated(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Args: []string{"max_slot_wal_keep_size=1MB"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	exec(t, pg, "", "CREATE TABLE t (id int PRIMARY KEY)")
	conn, err := pg.Conn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := EnsurePublication(ctx, conn, "p", []TableName{{"public", "t"}}); err != nil {
		t.Fatal(err)
	}
	slot, err := CreateSlot(ctx, connConf(t, pg.DSN("")), "lost")
	if err != nil {
		t.Fatal(err)
	}
	slot.Close(ctx)
	for i := range 4 {
		exec(t, pg, "", fmt.Sprintf("INSERT INTO t VALUES (%d)", i), "SELECT pg_switch_wal()")
	}
	exec(t, pg, "", "CHECKPOINT")
	st, err := LookupSlot(ctx, conn, "lost")
	if err != nil || !st.Invalidated() {
		t.Fatalf("slot after its WAL was removed: %+v %v", st, err)
	}
	if err := st.ResumeErr("lost", "postgres"); !errors.Is(err, ErrSlotInvalidated) {
		t.Errorf("ResumeErr: %v", err)
	}
	ps, err := Check(ctx, conn, CheckConfig{Slot: "lost", Publication: "p", Tables: []TableName{{"public", "t"}}})
	if err != nil || !hasProblem(ps, false, `the server invalidated slot "lost"`) {
		t.Errorf("Check: %+v %v", ps, err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	err = New(Config{Conn: connConf(t, pg.DSN("")), Slot: "lost", Publication: "p", Logger: quiet()}).Run(rctx, slot.Consistent, &safeRecorder{})
	if !errors.Is(err, ErrSlotInvalidated) {
		t.Errorf("Run: %v, want ErrSlotInvalidated", err)
	}
}

// max_replication_slots exhausted before sluice's slot exists.
func TestIntegrationSlotsExhausted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Args: []string{"max_replication_slots=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	exec(t, pg, "", "CREATE TABLE t (id int PRIMARY KEY)", "SELECT pg_create_logical_replication_slot('other', 'pgoutput')")
	conn, err := pg.Conn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cc := CheckConfig{Slot: "mine", Publication: "p", Tables: []TableName{{"public", "t"}}}
	ps, err := Check(ctx, conn, cc)
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(ps, false, "all 1 replication slots are in use (max_replication_slots = 1)") {
		t.Errorf("Check: %+v", ps)
	}
	// The check counts only for a slot still to be created.
	cc.Slot = "other"
	if ps, err := Check(ctx, conn, cc); err != nil || hasProblem(ps, false, "replication slots are in use") {
		t.Errorf("Check with the existing slot: %+v %v", ps, err)
	}
}

// wal_level=replica: Check names the setting, CreateSlot fails with it.
func TestIntegrationWalLevelReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Args: []string{"wal_level=replica"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	conn, err := pg.Conn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec(t, pg, "", "CREATE TABLE t (id int PRIMARY KEY)")
	ps, err := Check(ctx, conn, CheckConfig{Slot: "s", Publication: "p", Tables: []TableName{{"public", "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(ps, false, "wal_level is replica, sluice needs logical") {
		t.Errorf("Check: %+v", ps)
	}
	if _, err := CreateSlot(ctx, connConf(t, pg.DSN("")), "s"); err == nil || !strings.Contains(err.Error(), "wal_level") {
		t.Errorf("CreateSlot: %v, want an error naming wal_level", err)
	}
}

// waitResumable waits until the handler was given a resumable position at
// or past the server's current WAL position.
func waitResumable(t *testing.T, h *safeRecorder, conn *pgx.Conn) {
	t.Helper()
	var now uint64
	if err := conn.QueryRow(t.Context(), "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").Scan(&now); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if pos, _ := h.Acked(); pos.LSN >= now {
			return
		}
		if time.Now().After(deadline) {
			pos, _ := h.Acked()
			t.Fatalf("resumable position %d never reached %d", pos.LSN, now)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasProblem(ps sluice.Problems, warning bool, text string) bool {
	for _, p := range ps {
		if p.Warning == warning && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}
