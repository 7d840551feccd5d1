//go:build integration

package local

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// setting returns a PostgreSQL setting's value.
func setting(t *testing.T, pg *Postgres, name string) string {
	t.Helper()
	c, err := pg.Conn(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
		t.Fatalf("setting %s: %v", name, err)
	}
	return v
}

// serverPIDs returns the postmaster's pid followed by its children's.
func serverPIDs(t *testing.T, pg *Postgres) []int {
	t.Helper()
	pg.srv.mu.Lock()
	defer pg.srv.mu.Unlock()
	if pg.srv.proc == nil || pg.srv.proc.exited() {
		t.Fatal("postgres is not running")
	}
	return append([]int{pg.srv.proc.pid}, childPIDs(pg.srv.proc.pid)...)
}

// uidOf returns the real uid of process pid.
func uidOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return ""
}

// identifySystem opens a replication connection with dsn and runs
// IDENTIFY_SYSTEM on it.
func identifySystem(ctx context.Context, dsn string) error {
	c, err := pgconn.Connect(ctx, dsn+"&replication=database")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	return err
}

func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()

	for name, want := range map[string]string{
		"wal_level":             "logical",
		"max_replication_slots": "10",
		"max_wal_senders":       "10",
		"listen_addresses":      "127.0.0.1",
		"server_encoding":       "UTF8",
		"lc_collate":            "C",
	} {
		if got := setting(t, pg, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if os.Geteuid() == 0 {
		if uid := uidOf(t, serverPIDs(t, pg)[0]); uid == "0" {
			t.Error("postgres runs as root")
		}
	}

	if err := pg.Exec(ctx, "",
		"CREATE DATABASE shop",
	); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "shop",
		"CREATE TABLE t (id int PRIMARY KEY, v text)",
		"INSERT INTO t VALUES (1, 'one')",
		"CREATE PUBLICATION pub FOR TABLE t",
		"SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
	); err != nil {
		t.Fatal(err)
	}
	c, err := pg.Conn(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var plugin, database string
	err = c.QueryRow(ctx, "SELECT plugin, database FROM pg_replication_slots WHERE slot_name = 's'").Scan(&plugin, &database)
	c.Close(context.Background())
	if err != nil || plugin != "pgoutput" || database != "shop" {
		t.Errorf("slot s: plugin %q database %q, %v", plugin, database, err)
	}
	if err := pg.Exec(ctx, "shop", "SELECT * FROM missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("failing statement: want an error naming it, got %v", err)
	}
	if err := identifySystem(ctx, pg.DSN("shop")); err != nil {
		t.Errorf("replication connection as postgres: %v", err)
	}

	if err := pg.CreateRole(ctx, "app", "s3cret pass", "REPLICATION"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "shop", `GRANT SELECT ON t TO app`); err != nil {
		t.Fatal(err)
	}
	ac, err := pgx.Connect(ctx, pg.UserDSN("app", "s3cret pass", "shop"))
	if err != nil {
		t.Fatalf("connect as app: %v", err)
	}
	var n int
	err = ac.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	ac.Close(context.Background())
	if err != nil || n != 1 {
		t.Errorf("as app: count %d, %v", n, err)
	}
	if err := identifySystem(ctx, pg.UserDSN("app", "s3cret pass", "shop")); err != nil {
		t.Errorf("replication connection as app: %v", err)
	}
	if c, err := pgx.Connect(ctx, pg.UserDSN("app", "wrong", "shop")); err == nil {
		c.Close(context.Background())
		t.Error("a wrong password was accepted")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error reveals the password: %v", err)
	}

	pg.Kill()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c, err = pg.Conn(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var v string
	var slots int
	err = c.QueryRow(ctx, "SELECT v, (SELECT count(*) FROM pg_replication_slots) FROM t WHERE id = 1").Scan(&v, &slots)
	c.Close(context.Background())
	if err != nil || v != "one" || slots != 1 {
		t.Errorf("after a crash and restart: v = %q, slots = %d, %v", v, slots, err)
	}

	// A session holds a backend open across Stop, which must end it.
	held, err := pg.Conn(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())
	pids := serverPIDs(t, pg)
	if len(pids) < 3 {
		t.Errorf("postmaster and children: %v, want several", pids)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d left behind", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left behind: %q", ps)
	}
	if exists(dir) {
		t.Errorf("%s not removed by Stop", dir)
	}
	if err := pg.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestPostgresOverride(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Args: []string{"wal_level=replica", "max_replication_slots=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if got := setting(t, pg, "wal_level"); got != "replica" {
		t.Errorf("wal_level = %s, want replica", got)
	}
	if got := setting(t, pg, "max_replication_slots"); got != "1" {
		t.Errorf("max_replication_slots = %s, want 1", got)
	}
	err = pg.Exec(ctx, "", "SELECT pg_create_logical_replication_slot('s', 'pgoutput')")
	if err == nil || !strings.Contains(err.Error(), "wal_level") {
		t.Errorf("logical slot with wal_level=replica: want an error naming wal_level, got %v", err)
	}
	dir := pg.Dir()
	pids := serverPIDs(t, pg)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(pids, running) {
		t.Errorf("processes left behind among %v", pids)
	}
	if exists(dir) {
		t.Errorf("temporary directory %s not removed by Stop", dir)
	}
}

func TestPostgresReuseDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "", "CREATE DATABASE kept"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	pg, err = StartPostgres(ctx, PostgresOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(ctx, "kept", "SELECT 1"); err != nil {
		t.Errorf("database lost across a kept restart: %v", err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Errorf("%s not removed by Stop without Keep", dir)
	}
}

// TestPostgresTLS: with TLS the server takes TCP connections only over
// TLS; the harness's own connections use it, and the certificate user gets
// in with the PKI's client certificate only.
func TestPostgresTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pki, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pg, err := StartPostgres(ctx, PostgresOptions{TLS: pki})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()

	c, err := pg.Conn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var ssl bool
	err = c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	c.Close(context.Background())
	if err != nil || !ssl {
		t.Errorf("the harness's connection: ssl %v, %v; want TLS", ssl, err)
	}
	if err := identifySystem(ctx, pg.DSN("")); err != nil {
		t.Errorf("replication connection as postgres: %v", err)
	}

	var pe *pgconn.PgError
	plain := "postgres://postgres@" + pg.Addr() + "/postgres?sslmode=disable"
	if c, err := pgx.Connect(ctx, plain); err == nil {
		c.Close(context.Background())
		t.Error("a connection without TLS was accepted")
	} else if !errors.As(err, &pe) || pe.Code != "28000" {
		t.Errorf("without TLS: %v, want SQLSTATE 28000", err)
	}

	base := "postgres://" + pg.CertUser() + "@" + pg.Addr() + "/postgres?" + url.Values{
		"sslmode": {"verify-full"}, "sslrootcert": {pki.CAFile}}.Encode()
	withCert := base + "&" + url.Values{"sslcert": {pki.ClientCert}, "sslkey": {pki.ClientKey}}.Encode()
	cc, err := pgx.Connect(ctx, withCert)
	if err != nil {
		t.Fatalf("certificate user with its certificate: %v", err)
	}
	var super, repl bool
	err = cc.QueryRow(ctx, "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&super, &repl)
	cc.Close(context.Background())
	if err != nil || !super || !repl {
		t.Errorf("certificate user: superuser %v replication %v, %v", super, repl, err)
	}
	if err := identifySystem(ctx, withCert); err != nil {
		t.Errorf("replication connection as the certificate user: %v", err)
	}
	if c, err := pgx.Connect(ctx, base); err == nil {
		c.Close(context.Background())
		t.Error("the certificate user got in without a certificate")
	} else if !errors.As(err, &pe) || pe.Code != "28000" {
		t.Errorf("certificate user without a certificate: %v, want SQLSTATE 28000", err)
	}
}
