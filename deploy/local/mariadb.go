package local

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// MariaDBOptions configures [StartMariaDB]. The zero value starts a server
// with the binary log on, on a free port, in a new temporary directory that
// Stop removes.
type MariaDBOptions struct {
	// Dir holds the data directory (Dir/data), the logs (Dir/mariadbd.err,
	// Dir/mariadbd.out), the pid file and the socket. Empty means a new
	// temporary directory. A data directory that is already initialised is
	// reused as it is.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Args are extra mariadbd options such as "--binlog-format=STATEMENT"
	// or "--skip-log-bin". An option that names one of the defaults
	// (dashes and underscores alike, a "skip-" prefix ignored) replaces it;
	// the others are appended. Args may not set datadir, port, socket,
	// bind-address, pid-file or log-error: use Dir and Port.
	Args []string
	// NoBinlog starts the server without a binary log (log_bin=OFF).
	NoBinlog bool
	// Keep leaves Dir in place on Stop. Without it Stop removes Dir, even
	// one the caller named.
	Keep bool
	// TLS, when set, makes the server speak TLS with the PKI's server
	// certificate (ssl-ca, ssl-cert, ssl-key) and refuse plain-text TCP
	// connections (require_secure_transport=ON). [MariaDB.Conn] then
	// connects over TLS, verifying the server against the PKI's CA, and
	// the server gets the account [MariaDB.X509User], which logs in only
	// with a client certificate the CA signed.
	TLS *TestPKI
}

// MariaDB is a running MariaDB server started by [StartMariaDB]. Its methods
// are safe for concurrent use.
type MariaDB struct {
	port int
	dir  string
	srv  *server
	pki  *TestPKI // the server's certificates; nil for plain text
}

const (
	mariadbUser     = "root"
	mariadbPassword = ""
	// mariadbX509User is the account of [MariaDB.X509User].
	mariadbX509User = "sluice_x509"
)

// mariadbSluiceGrants are the privileges sluice needs: SELECT to read the
// tables, RELOAD for the snapshot's brief global read lock, REPLICATION
// SLAVE to read the binlog and BINLOG MONITOR (MariaDB's name for
// REPLICATION CLIENT) to read the binlog position.
const mariadbSluiceGrants = "SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR"

// x509UserStatements (re)create [MariaDB.X509User]: no password, REQUIRE
// X509 (a client certificate signed by a CA the server trusts), and the
// privileges sluice needs.
func x509UserStatements() []string {
	account := "'" + mariadbX509User + "'@'%'"
	return []string{
		"CREATE OR REPLACE USER " + account + " REQUIRE X509",
		"GRANT " + mariadbSluiceGrants + " ON *.* TO " + account,
	}
}

// InstallMariaDB installs mariadb-server and mariadb-client from Debian's
// packages unless mariadbd and mariadb-install-db are already present. It
// blocks for the install (about 16 s) and serialises with concurrent
// installers; see [StartMariaDB] for how it gains root.
func InstallMariaDB(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, installTimeout)
	defer cancel()
	if _, _, err := mariadbBinaries(); err == nil {
		return nil
	}
	installed := func() bool { _, _, err := mariadbBinaries(); return err == nil }
	if err := aptInstall(ctx, installed, "mariadb-server", "mariadb-client"); err != nil {
		return err
	}
	if _, _, err := mariadbBinaries(); err != nil {
		cache, _ := cacheDir()
		return fmt.Errorf("install mariadb: %w after installing mariadb-server (see apt.log in %s)", err, cache)
	}
	return nil
}

// mariadbBinaries finds mariadbd and mariadb-install-db.
func mariadbBinaries() (server, installDB string, err error) {
	server, err = findBinary("mariadbd", "/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd", "/usr/libexec/mariadbd")
	if err != nil {
		return "", "", err
	}
	installDB, err = findBinary("mariadb-install-db", "/usr/bin/mariadb-install-db", "/usr/local/bin/mariadb-install-db")
	if err != nil {
		return "", "", err
	}
	return server, installDB, nil
}

// StartMariaDB installs MariaDB if it is missing (see [InstallMariaDB]; as
// root, or through passwordless sudo, otherwise it fails naming the command
// to run), initialises the data directory if it is new, starts mariadbd on
// 127.0.0.1 and blocks until it accepts a connection as root with an empty
// password. A start on a picked port that loses the port to another process
// is retried on a new one.
//
// ctx bounds installation (ten minutes when it has no deadline) and then
// start-up (two minutes when it has no deadline); the server runs until
// [MariaDB.Stop]. The server process dies
// with the calling process. On error nothing is left running and Dir is
// removed unless opt.Keep is set.
func StartMariaDB(ctx context.Context, opt MariaDBOptions) (*MariaDB, error) {
	if err := InstallMariaDB(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	mariadbd, installDB, err := mariadbBinaries()
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	dir, err := prepareDir(opt.Dir, "sluice-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	srv := &server{dir: dir, removeDir: !opt.Keep}
	fail := func(err error) (*MariaDB, error) {
		_ = srv.close()
		return nil, err
	}
	socket := filepath.Join(dir, "mysql.sock")
	if len(socket) >= 100 { // the limit of a unix socket path is 107 bytes
		sockDir, err := os.MkdirTemp("", "sluice-sock-")
		if err != nil {
			return fail(fmt.Errorf("start mariadb: create socket directory: %w", err))
		}
		srv.remove = append(srv.remove, sockDir)
		socket = filepath.Join(sockDir, "mysql.sock")
	}
	if err := initMariaDBDataDir(ctx, installDB, dir); err != nil {
		return fail(err)
	}
	m := &MariaDB{dir: dir, srv: srv, pki: opt.TLS}
	srv.outLog = filepath.Join(dir, "mariadbd.out")
	srv.logs = []string{filepath.Join(dir, "mariadbd.err"), srv.outLog}
	srv.probe = func(ctx context.Context) error {
		c, err := m.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		// Another server on the port would answer too.
		r, err := c.Execute("SELECT @@socket")
		if err != nil {
			return err
		}
		if got, _ := r.GetString(0, 0); got != socket {
			return fmt.Errorf("port %d answers for another server (socket %s)", m.port, got)
		}
		return nil
	}
	for attempt := 1; ; attempt++ {
		m.port = opt.Port
		if m.port != 0 {
			if err := checkPortFree(m.port); err != nil {
				return fail(fmt.Errorf("start mariadb: %w", err))
			}
		} else {
			ports, err := freePorts(1)
			if err != nil {
				return fail(fmt.Errorf("start mariadb: %w", err))
			}
			m.port = ports[0]
		}
		srv.argv, err = mariadbArgs(mariadbd, dir, socket, m.port, os.Geteuid() == 0, opt)
		if err != nil {
			return fail(err)
		}
		err = srv.start(ctx)
		if err == nil {
			if opt.TLS != nil {
				if err := m.Exec(ctx, x509UserStatements()...); err != nil {
					return fail(fmt.Errorf("start mariadb: create user %s: %w", mariadbX509User, err))
				}
			}
			return m, nil
		}
		if opt.Port != 0 || attempt == 3 || !isAddrInUse(err) {
			return fail(fmt.Errorf("start mariadb: %w", err))
		}
	}
}

// initMariaDBDataDir runs mariadb-install-db into dir/data unless that
// directory is already initialised. It works in a temporary directory
// renamed into place, so an interrupted run is never reused. It blocks.
func initMariaDBDataDir(ctx context.Context, installDB, dir string) error {
	data := filepath.Join(dir, "data")
	if exists(filepath.Join(data, "mysql")) {
		return nil
	}
	tmp := filepath.Join(dir, "data.init")
	for _, p := range []string{data, tmp} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("initialise mariadb data directory: %w", err)
		}
	}
	argv := []string{installDB, "--no-defaults", "--datadir=" + tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		argv = append(argv, "--user=root")
	}
	if err := runCommand(ctx, dir, filepath.Join(dir, "install.log"), argv); err != nil {
		return fmt.Errorf("initialise mariadb data directory: %w", err)
	}
	if err := os.Rename(tmp, data); err != nil {
		return fmt.Errorf("initialise mariadb data directory: %w", err)
	}
	return nil
}

// reservedMariaDBOptions are the options only Dir and Port control.
var reservedMariaDBOptions = []string{"no-defaults", "datadir", "port", "socket", "bind-address", "pid-file", "log-error"}

// mariadbArgs builds mariadbd's command line.
func mariadbArgs(mariadbd, dir, socket string, port int, root bool, opt MariaDBOptions) ([]string, error) {
	args := []string{
		"--datadir=" + filepath.Join(dir, "data"),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--socket=" + socket,
		"--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(dir, "mariadbd.err"),
		"--skip-name-resolve",
		"--server-id=1",
		"--log-bin=mysql-bin",
		"--binlog-format=ROW",
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--innodb-buffer-pool-size=256M",
		"--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0",
		"--max-connections=200",
	}
	if root {
		args = append(args, "--user=root")
	}
	if opt.NoBinlog {
		args = removeOption(args, "log-bin")
	}
	if p := opt.TLS; p != nil {
		args = append(args, "--ssl-ca="+p.CAFile, "--ssl-cert="+p.ServerCert, "--ssl-key="+p.ServerKey,
			"--require-secure-transport=ON")
	}
	for _, a := range opt.Args {
		k := optionKey(a)
		if k == "" {
			return nil, fmt.Errorf("start mariadb: option %q does not start with -- (write options as --name=value)", a)
		}
		for _, r := range reservedMariaDBOptions {
			if k == r {
				return nil, fmt.Errorf("start mariadb: option %q is set by the options (use MariaDBOptions.Dir and Port instead)", a)
			}
		}
		replaced := false
		for i, d := range args {
			if optionKey(d) == k {
				args[i] = a
				replaced = true
			}
		}
		if !replaced {
			args = append(args, a)
		}
	}
	return append([]string{mariadbd, "--no-defaults"}, args...), nil
}

// optionKey returns the name of a "--name=value" option in a form where
// dashes and underscores are alike and "skip-", "disable-", "enable-" and
// "loose-" prefixes are dropped. It returns "" for an argument that is not
// a long option.
func optionKey(arg string) string {
	name, ok := strings.CutPrefix(arg, "--")
	if !ok || name == "" {
		return ""
	}
	name, _, _ = strings.Cut(name, "=")
	name = strings.ReplaceAll(name, "_", "-")
	name, _ = strings.CutPrefix(name, "loose-")
	for _, p := range []string{"skip-", "disable-", "enable-"} {
		if n, ok := strings.CutPrefix(name, p); ok {
			return n
		}
	}
	return name
}

// removeOption drops every option named key from args.
func removeOption(args []string, key string) []string {
	out := args[:0:0]
	for _, a := range args {
		if optionKey(a) != key {
			out = append(out, a)
		}
	}
	return out
}

// Host returns the address the server listens on, 127.0.0.1.
func (m *MariaDB) Host() string { return "127.0.0.1" }

// Port returns the server's TCP port.
func (m *MariaDB) Port() int { return m.port }

// Addr returns "127.0.0.1:port", the form go-mysql's client takes.
func (m *MariaDB) Addr() string { return net.JoinHostPort(m.Host(), strconv.Itoa(m.port)) }

// User returns the account with every privilege, "root".
func (m *MariaDB) User() string { return mariadbUser }

// Password returns the password of [MariaDB.User], which is empty.
func (m *MariaDB) Password() string { return mariadbPassword }

// X509User returns, on a server started with [MariaDBOptions.TLS], the
// account created REQUIRE X509 with the privileges sluice needs (SELECT,
// RELOAD, REPLICATION SLAVE, BINLOG MONITOR) and no password: it logs in
// over TLS with the PKI's client certificate (or another its CA signed)
// and is refused without one. It returns "" on a server without TLS.
func (m *MariaDB) X509User() string {
	if m.pki == nil {
		return ""
	}
	return mariadbX509User
}

// Dir returns the directory that holds the data directory and the logs.
func (m *MariaDB) Dir() string { return m.dir }

// Conn opens a new connection as [MariaDB.User], with no default database,
// over TLS verified against the PKI's CA on a server started with
// [MariaDBOptions.TLS]. It blocks until the handshake is done or ctx is
// done; ctx does not govern the returned connection, which the caller
// closes.
func (m *MariaDB) Conn(ctx context.Context) (*client.Conn, error) {
	var stop func() bool
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// The handshake ignores ctx, so ctx's end breaks it through a
		// deadline in the past.
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetDeadline(dl)
		}
		stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		return nc, nil
	}
	var opts []client.Option
	if m.pki != nil {
		tc := m.pki.ClientTLS()
		tc.ServerName = m.Host()
		opts = append(opts, func(c *client.Conn) error { c.SetTLSConfig(tc); return nil })
	}
	c, err := client.ConnectWithDialer(ctx, "tcp", m.Addr(), mariadbUser, mariadbPassword, "", dial, opts...)
	if stop != nil && !stop() && err == nil {
		_ = c.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("connect to mariadb at %s: %w", m.Addr(), err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connect to mariadb at %s: %w", m.Addr(), err)
	}
	// go-mysql asks for a MySQL 8 collation MariaDB does not know, and the
	// session would fall back to latin1 and double-encode non-ASCII text.
	if _, err := c.Execute("SET NAMES utf8mb4"); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connect to mariadb at %s: set names: %w", m.Addr(), err)
	}
	return c, nil
}

// Exec runs each statement in order on one new connection as
// [MariaDB.User] and stops at the first error. It blocks until the
// statements are done or ctx is done.
func (m *MariaDB) Exec(ctx context.Context, stmts ...string) error {
	c, err := m.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for i, s := range stmts {
		if _, err := c.Execute(s); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("exec statement %d (%s): %w", i+1, describeStatement(s), err)
		}
	}
	return nil
}

// describeStatement shortens a statement for an error message and hides it
// when it may carry a password.
func describeStatement(s string) string {
	u := strings.ToUpper(s)
	if strings.Contains(u, "IDENTIFIED") || strings.Contains(u, "PASSWORD") {
		return "statement with credentials"
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}

// Restart stops the server gracefully and starts it again on the same port
// and data directory. It blocks until the server accepts connections again
// or ctx is done. After [MariaDB.Kill] it starts the server after a crash,
// so MariaDB recovers.
func (m *MariaDB) Restart(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	if err := m.srv.restart(ctx); err != nil {
		return fmt.Errorf("restart mariadb: %w", err)
	}
	return nil
}

// Kill sends SIGKILL to the server, as in a crash, and blocks until it has
// exited. It keeps Dir; [MariaDB.Restart] or [MariaDB.Stop] may follow.
func (m *MariaDB) Kill() { m.srv.kill() }

// Stop shuts the server down (SIGTERM; SIGKILL after 30 s) and blocks until
// it has exited, then removes Dir unless [MariaDBOptions.Keep] was set. It is
// safe to call more than once.
func (m *MariaDB) Stop() error {
	if err := m.srv.close(); err != nil {
		return fmt.Errorf("stop mariadb: %w", err)
	}
	return nil
}
