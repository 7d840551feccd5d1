package local

import (
	"slices"
	"strings"
	"testing"
)

func TestMariaDBArgsDefaults(t *testing.T) {
	args, err := mariadbArgs("/usr/sbin/mariadbd", "/d", "/d/mysql.sock", 3307, true, MariaDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "/usr/sbin/mariadbd" || args[1] != "--no-defaults" {
		t.Errorf("command line must start with the binary and --no-defaults: %q", args[:2])
	}
	for _, want := range []string{
		"--datadir=/d/data", "--port=3307", "--bind-address=127.0.0.1", "--socket=/d/mysql.sock",
		"--log-error=/d/mariadbd.err", "--log-bin=mysql-bin", "--binlog-format=ROW",
		"--binlog-row-image=FULL", "--binlog-row-metadata=FULL", "--server-id=1", "--user=root",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("missing %s in %q", want, args)
		}
	}
	args, _ = mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{})
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--user") }) {
		t.Errorf("not root: want no --user, got %q", args)
	}
}

func TestMariaDBArgsNoBinlog(t *testing.T) {
	args, err := mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{NoBinlog: true})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--log-bin") }) {
		t.Errorf("NoBinlog: want no --log-bin, got %q", args)
	}
}

func TestMariaDBArgsOverride(t *testing.T) {
	args, err := mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{
		Args: []string{"--binlog_format=STATEMENT", "--skip-log-bin", "--server-id=7", "--gtid-strict-mode=ON"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--binlog_format=STATEMENT", "--skip-log-bin", "--server-id=7", "--gtid-strict-mode=ON"} {
		if !slices.Contains(args, want) {
			t.Errorf("missing %s in %q", want, args)
		}
	}
	for _, gone := range []string{"--binlog-format=ROW", "--log-bin=mysql-bin", "--server-id=1"} {
		if slices.Contains(args, gone) {
			t.Errorf("%s should have been replaced: %q", gone, args)
		}
	}
}

func TestMariaDBArgsRejects(t *testing.T) {
	for _, a := range []string{"--port=1", "--datadir=/x", "--socket=/s", "--bind_address=0.0.0.0", "binlog-format=ROW"} {
		if _, err := mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{Args: []string{a}}); err == nil {
			t.Errorf("%s: want an error", a)
		}
	}
}

func TestOptionKey(t *testing.T) {
	for arg, want := range map[string]string{
		"--log-bin=mysql-bin":       "log-bin",
		"--log_bin":                 "log-bin",
		"--skip-log-bin":            "log-bin",
		"--disable-log-bin":         "log-bin",
		"--loose-binlog_row_image=": "binlog-row-image",
		"--skip-name-resolve":       "name-resolve",
		"-P":                        "",
		"--":                        "",
	} {
		if got := optionKey(arg); got != want {
			t.Errorf("optionKey(%q) = %q, want %q", arg, got, want)
		}
	}
}

func TestDescribeStatementHidesCredentials(t *testing.T) {
	for _, s := range []string{
		"CREATE USER 'sluice'@'%' IDENTIFIED BY 'secret'",
		"SET PASSWORD FOR root = PASSWORD('secret')",
	} {
		if got := describeStatement(s); strings.Contains(got, "secret") {
			t.Errorf("describeStatement(%q) = %q reveals the password", s, got)
		}
	}
	long := "INSERT INTO t VALUES " + strings.Repeat("(1),", 100)
	if got := describeStatement(long); len(got) > 90 {
		t.Errorf("long statement not shortened: %d bytes", len(got))
	}
}

func TestMariaDBArgsTLS(t *testing.T) {
	pki := &TestPKI{CAFile: "/p/ca.pem", ServerCert: "/p/server.pem", ServerKey: "/p/server-key.pem"}
	args, err := mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{TLS: pki})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--ssl-ca=/p/ca.pem", "--ssl-cert=/p/server.pem", "--ssl-key=/p/server-key.pem", "--require-secure-transport=ON"} {
		if !slices.Contains(args, want) {
			t.Errorf("missing %s in %q", want, args)
		}
	}
	// Args may still let plain text in.
	args, _ = mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{TLS: pki, Args: []string{"--require_secure_transport=OFF"}})
	if slices.Contains(args, "--require-secure-transport=ON") || !slices.Contains(args, "--require_secure_transport=OFF") {
		t.Errorf("require_secure_transport not replaced: %q", args)
	}
	args, _ = mariadbArgs("mariadbd", "/d", "/d/s", 1, false, MariaDBOptions{})
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--ssl") || strings.HasPrefix(a, "--require") }) {
		t.Errorf("no TLS: want no ssl options, got %q", args)
	}
}

func TestX509UserStatements(t *testing.T) {
	got := x509UserStatements()
	want := []string{
		"CREATE OR REPLACE USER 'sluice_x509'@'%' REQUIRE X509",
		"GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'sluice_x509'@'%'",
	}
	if !slices.Equal(got, want) {
		t.Errorf("x509UserStatements() = %q, want %q", got, want)
	}
}
