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

// Promise 9: each wrong setting stops sluice with the cause and the fix, and
// `sluice check` reports it.

func TestWrongBinlogSettings(t *testing.T) {
	srv := auxServer(t)
	f := newFixtureOn(t, srv)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	for _, c := range []struct{ variable, bad, good, want string }{
		{"binlog_format", "STATEMENT", "ROW", "binlog_format is STATEMENT, sluice needs ROW"},
		{"binlog_format", "MIXED", "ROW", "binlog_format is MIXED, sluice needs ROW"},
		{"binlog_row_image", "MINIMAL", "FULL", "binlog_row_image is MINIMAL, sluice needs FULL"},
		{"binlog_row_metadata", "MINIMAL", "FULL", "binlog_row_metadata is MINIMAL, sluice needs FULL"},
	} {
		t.Run(c.variable+"="+c.bad, func(t *testing.T) {
			f.exec(fmt.Sprintf("SET GLOBAL %s = '%s'", c.variable, c.bad))
			defer f.exec(fmt.Sprintf("SET GLOBAL %s = '%s'", c.variable, c.good))
			expectFailure(t, f, f.config(""), "check", c.want, "SET GLOBAL "+c.variable)
			expectFailure(t, f, f.config(""), "run", c.want, "SET GLOBAL "+c.variable)
		})
	}
}

func TestBinlogOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := local.StartMariaDB(ctx, local.MariaDBOptions{NoBinlog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	f := newFixtureOn(t, srv)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	expectFailure(t, f, f.config(""), "check", "log_bin is OFF", "--log-bin")
	expectFailure(t, f, f.config(""), "run", "log_bin is OFF", "--log-bin")
}

func TestMissingPrivileges(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)")
	user := "np" + f.db[len(f.db)-5:]
	f.password = "pw-" + f.db // must never appear in sluice's output
	f.exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, f.password),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", quote(f.db), user))
	defer f.exec(fmt.Sprintf("DROP USER '%s'@'%%'", user))
	cfg := strings.Replace(f.config(""), "user: "+f.srv.User(), "user: "+user, 1)
	// A wrong password: access denied, and the password is not echoed.
	right := f.password
	f.password = "wrong-" + right
	expectFailure(t, f, cfg, "run", "access denied for user", "source.password")
	f.password = right

	out := expectFailure(t, f, cfg, "check", "lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE")
	for _, want := range []string{"lacks REPLICATION CLIENT", "WARN  the user lacks RELOAD"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	expectFailure(t, f, cfg, "run", "lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE")

	// Without RELOAD only: a warning, and the lock-free MariaDB snapshot.
	f.exec(fmt.Sprintf("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%s'@'%%'", user))
	p := f.sluice(cfg)
	f.converge("t", "id", "v")
	f.exec("UPDATE t SET v = 2")
	f.converge("t", "id", "v")
	p.stop()
	if !strings.Contains(p.output(), "lock-free consistent snapshot") {
		t.Errorf("no log line says the snapshot fell back to the lock-free read")
	}
	for _, o := range []string{p.output(), out} {
		if strings.Contains(o, f.password) {
			t.Errorf("the password appears in sluice's output:\n%s", o)
		}
	}
}

func TestMissingTable(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := strings.Replace(f.config(""), fmt.Sprintf(`include: ["%s.*"]`, f.db), fmt.Sprintf(`include: ["%s.t", "%s.nope"]`, f.db, f.db), 1)
	expectFailure(t, f, cfg, "check", f.db+".nope, which does not exist", "fix the name")
	expectFailure(t, f, cfg, "run", f.db+".nope, which does not exist", "fix the name")
}

func TestKafkaUnreachable(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := strings.Replace(f.config(""), kafka.Bootstrap(), "127.0.0.1:1", 1)
	began := time.Now()
	expectFailure(t, f, cfg, "run", "kafka unreachable", "kafka.brokers")
	if d := time.Since(began); d > 60*time.Second {
		t.Errorf("took %v to report an unreachable broker", d)
	}
	expectFailure(t, f, cfg, "check", "kafka unreachable", "kafka.brokers")
}

func TestPurgedBinlog(t *testing.T) {
	srv := auxServer(t)
	f := newFixtureOn(t, srv)
	f.exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)")
	p := f.sluice(f.config(""))
	f.converge("t", "id", "v")
	p.stop()
	// Changes sluice has not seen, then their binlog is purged.
	f.exec("UPDATE t SET v = 2", "FLUSH BINARY LOGS", "UPDATE t SET v = 3", "FLUSH BINARY LOGS")
	f.purgeBinlogs()
	out := expectFailure(t, f, f.config(""), "run", "gone", "delete this source's checkpoint")
	if strings.Contains(out, "snapshot: consistent point") {
		t.Errorf("sluice took a new snapshot instead of failing:\n%s", out)
	}
}

// purgeBinlogs purges every binlog file but the current one.
func (f *fixture) purgeBinlogs() {
	f.t.Helper()
	res := f.query("SHOW MASTER STATUS")
	current, _ := res.GetString(0, 0)
	current = strings.Clone(current)
	// The server keeps a file a replication connection still reads; the
	// stopped sluice's connection may take a moment to go.
	f.eventually(30*time.Second, "binlogs purged", func() (bool, string) {
		f.exec(fmt.Sprintf("PURGE BINARY LOGS TO '%s'", current))
		logs := f.query("SHOW BINARY LOGS")
		first, _ := logs.GetString(0, 0)
		return first == current, "oldest binlog is " + first
	})
}

func TestMalformedConfig(t *testing.T) {
	f := newFixture(t)
	cfg := f.config("") + "kafka:\n  brokers: [\n"
	expectFailure(t, f, cfg, "run", "line", "sluice.yaml")
	cfg = strings.Replace(f.config(""), "  port:", "  prot:", 1)
	expectFailure(t, f, cfg, "run", "line 5", "prot")
}

// expectFailure runs sluice and requires a non-zero exit whose output
// contains every one of wants. It returns the output.
func expectFailure(t *testing.T, f *fixture, config, cmd string, wants ...string) string {
	t.Helper()
	p := f.sluice(config, cmd)
	err := p.wait(90 * time.Second)
	out := p.output()
	if f.password != "" && strings.Contains(out, f.password) {
		t.Errorf("the password appears in sluice's output:\n%s", out)
	}
	if err == nil {
		t.Fatalf("sluice %s succeeded; want a failure mentioning %q\n%s", cmd, wants, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("sluice %s output lacks %q:\n%s", cmd, w, out)
		}
	}
	return out
}
