//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// Promise 9 on PostgreSQL: each wrong setting stops sluice with the cause
// and the fix, and `sluice check` reports it.

// startPG starts a PostgreSQL of the test's own with extra settings.
func startPG(t *testing.T, args ...string) *local.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := local.StartPostgres(ctx, local.PostgresOptions{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// onServer points a fixture's sluice at another server holding a database
// of the same name.
func (f *pgFixture) onServer(srv *local.Postgres) *pgFixture {
	f.t.Helper()
	if err := srv.Exec(f.ctx, "", "CREATE DATABASE "+quotePG(f.dbname)); err != nil {
		f.t.Fatal(err)
	}
	conn, err := srv.Conn(f.ctx, f.dbname)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close(context.Background()) })
	return &pgFixture{fixture: f.fixture, srv: srv, dbname: f.dbname, conn: conn}
}

func quotePG(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func TestPostgresWalLevelNotLogical(t *testing.T) {
	f := newPGFixture(t).onServer(startPG(t, "wal_level=replica"))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	expectFailure(t, f.fixture, f.config(""), "check", "wal_level", "logical")
	expectFailure(t, f.fixture, f.config(""), "run", "wal_level", "logical")
}

func TestPostgresSlotsExhausted(t *testing.T) {
	f := newPGFixture(t).onServer(startPG(t, "max_replication_slots=1"))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)",
		"SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')")
	expectFailure(t, f.fixture, f.config(""), "check", "max_replication_slots")
	expectFailure(t, f.fixture, f.config(""), "run", "max_replication_slots")
}

func TestPostgresMissingReplicationPrivilege(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	role := "norepl_" + f.dbname[len(f.dbname)-5:]
	f.password = "pw-" + f.dbname // must never appear in sluice's output
	if err := f.srv.CreateRole(f.ctx, role, f.password); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.srv.Exec(context.Background(), f.dbname, "DROP OWNED BY "+quotePG(role))
		f.srv.Exec(context.Background(), "", "DROP ROLE "+quotePG(role))
	})
	f.exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + quotePG(role))
	cfg := strings.Replace(f.config(""), "user: "+f.srv.User(), "user: "+role, 1)
	expectFailure(t, f.fixture, cfg, "check", "REPLICATION", "ALTER ROLE")
	expectFailure(t, f.fixture, cfg, "run", "REPLICATION", "ALTER ROLE")

	// A wrong password names the cause and never echoes the password.
	f.password = "wrong-" + f.dbname
	expectFailure(t, f.fixture, cfg, "check", "password")
}

func TestPostgresPublicationMissesTable(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)",
		"CREATE PUBLICATION theirs FOR TABLE a")
	cfg := strings.Replace(f.config(""), "  type: postgresql\n", "  type: postgresql\n  publication: theirs\n", 1)
	expectFailure(t, f.fixture, cfg, "check", "theirs", "public.b", "ALTER PUBLICATION")
	expectFailure(t, f.fixture, cfg, "run", "theirs", "public.b", "ALTER PUBLICATION")
}

// TestPostgresSpoolDirUnwritable: a spool directory sluice cannot write is
// found before anything is streamed.
func TestPostgresSpoolDirUnwritable(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := strings.Replace(f.config(""), "  type: postgresql\n", "  type: postgresql\n  spool_dir: /proc/sluice-nowhere\n", 1)
	expectFailure(t, f.fixture, cfg, "check", "source.spool_dir", "/proc/sluice-nowhere")
	expectFailure(t, f.fixture, cfg, "run", "source.spool_dir", "/proc/sluice-nowhere")
}

func TestPostgresMissingTable(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := strings.Replace(f.config(""), `include: ["public.*"]`, `include: ["public.t", "public.nope"]`, 1)
	expectFailure(t, f.fixture, cfg, "check", "public.nope")
	expectFailure(t, f.fixture, cfg, "run", "public.nope")
}

// TestPostgresSlotActiveElsewhere: a second sluice configured with the
// same slot under another name (so the lease on the name does not keep it
// waiting as a standby) stops with the cause instead of fighting over the
// slot.
func TestPostgresSlotActiveElsewhere(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	p := f.sluice(f.config(""))
	f.converge("t", "id")
	other := strings.Replace(f.config(""), "name: "+f.name+"\n", "name: "+f.name+"-other\n", 1)
	other = strings.Replace(other, "  type: postgresql\n", "  type: postgresql\n  slot: "+f.slotName()+"\n", 1)
	expectFailure(t, f.fixture, other, "run", f.slotName(), "active")
	p.stop()
}

// TestPostgresSlotDroppedAfterSnapshot: once a snapshot was delivered, a
// missing slot is a loud error with the fix, never a silent new slot that
// skips changes.
func TestPostgresSlotDroppedAfterSnapshot(t *testing.T) {
	f := newPGFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	p := f.sluice(f.config(""))
	f.converge("t", "id")
	p.stop()
	f.exec(fmt.Sprintf("SELECT pg_drop_replication_slot('%s')", f.slotName()))
	f.exec("INSERT INTO t VALUES (2)")
	out := expectFailure(t, f.fixture, f.config(""), "run", f.slotName(), "snapshot")
	if _, ok := f.slot(); ok {
		t.Errorf("sluice re-created the dropped slot:\n%s", out)
	}
}

// TestPostgresConnectionLost: the server ends sluice's replication
// connection mid-stream; sluice reconnects and nothing is lost.
func TestPostgresConnectionLost(t *testing.T) {
	f := newPGFixture(t)
	f.createItems(1000)
	p := f.sluice(f.config(""))
	f.converge("items", "id", "ver", "name", "amount")
	w := f.startWriter(1000)
	for range 3 {
		time.Sleep(time.Second)
		f.exec(fmt.Sprintf("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '%s' AND active_pid IS NOT NULL", f.slotName()))
	}
	time.Sleep(time.Second)
	w.stop()
	recs := f.converge("items", "id", "ver", "name", "amount")
	dups := checkVersions(t, recs, false)
	t.Logf("writer made %d changes; %d records, %d repeated after 3 lost connections", w.ops.Load(), len(recs), dups)
	select {
	case <-p.done:
		t.Fatalf("sluice exited after the connection was lost:\n%s", p.output())
	default:
	}
	p.stop()
}
