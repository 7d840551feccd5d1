package local

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures [StartPostgres]. The zero value starts a server
// with wal_level=logical, on a free port, in a new temporary directory that
// Stop removes.
type PostgresOptions struct {
	// Dir holds the data directory (Dir/data), the server's log
	// (Dir/postgres.log), initdb's log (Dir/initdb.log) and the unix
	// socket. Empty means a new temporary directory. A data directory that
	// is already initialised is reused as it is.
	//
	// As root the server runs as an unprivileged user (see
	// [StartPostgres]) that is made the owner of Dir and must be able to
	// reach it: a directory on the way to Dir that the user may not
	// search, such as the private parent of t.TempDir(), gets search
	// permission for others (o+x) when it lies under os.TempDir(); anywhere
	// else the start fails naming the directory.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Args are extra server settings written "name=value", such as
	// "wal_level=replica" or "max_replication_slots=1", each passed as
	// "-c name=value". A setting that names one of the defaults (case and
	// dashes aside) replaces it; the others are appended. Args may not set
	// port, listen_addresses, unix_socket_directories, data_directory or
	// config_file: use Dir and Port.
	Args []string
	// Keep leaves Dir in place on Stop. Without it Stop removes Dir, even
	// one the caller named.
	Keep bool
	// TLS, when set, turns ssl on with the PKI's server certificate (for
	// localhost and 127.0.0.1) and writes a pg_hba.conf that accepts TCP
	// connections only over TLS (hostssl lines, no host lines): postgres
	// without a password as before, the role [Postgres.CertUser] by its
	// client certificate only (cert; the PKI's client certificate names
	// it), every other role by password. [Postgres.DSN] and [Postgres.Conn]
	// then connect with sslmode=verify-full against the PKI's CA. The
	// pg_hba.conf is written when the data directory is created: a reused
	// one keeps its own.
	TLS *TestPKI
}

// Postgres is a running PostgreSQL server started by [StartPostgres]. Its
// methods are safe for concurrent use.
type Postgres struct {
	port   int
	dir    string
	binDir string
	srv    *server
	pki    *TestPKI // the server's certificates; nil for plain text
}

const (
	// postgresUser is the superuser initdb creates; loopback trusts it.
	postgresUser     = "postgres"
	postgresPassword = ""
	// postgresCertUser is [Postgres.CertUser]: the common name of a
	// [TestPKI]'s client certificate.
	postgresCertUser = "sluice-client"
	// postgresOSUser is the system user Debian's postgresql package
	// creates; as root the server runs as this user when it exists.
	postgresOSUser = "postgres"
	// postgresFallbackOSUser is the system user created to run the server
	// as root when postgresOSUser does not exist.
	postgresFallbackOSUser = "sluice-pg"
	// noMainClusterConf is a postgresql-common drop-in that keeps
	// `apt-get install postgresql` from creating (and, where services
	// start, running) the system-wide main cluster. It exists only while
	// the harness installs the package.
	noMainClusterConf = "/etc/postgresql-common/createcluster.d/zz-sluice-no-main-cluster.conf"
)

// postgresHBA is the data directory's pg_hba.conf: the superuser postgres
// logs in without a password over the socket and loopback; every other role
// gives its password over loopback. Replication connections follow the same
// rules.
const postgresHBA = `# Throwaway server of sluice's local harness.
# TYPE  DATABASE     USER      ADDRESS         METHOD
local   all          all                       trust
local   replication  all                       trust
host    all          postgres  127.0.0.1/32    trust
host    replication  postgres  127.0.0.1/32    trust
host    all          all       127.0.0.1/32    scram-sha-256
host    replication  all       127.0.0.1/32    scram-sha-256
`

// postgresTLSHBA is pg_hba.conf of a server with [PostgresOptions.TLS]:
// the rules of postgresHBA, over TLS only, and the certificate user.
const postgresTLSHBA = `# Throwaway server of sluice's local harness: TCP over TLS only.
# TYPE   DATABASE     USER             ADDRESS         METHOD
local    all          all                              trust
local    replication  all                              trust
hostssl  all          "sluice-client"  127.0.0.1/32    cert
hostssl  replication  "sluice-client"  127.0.0.1/32    cert
hostssl  all          postgres         127.0.0.1/32    trust
hostssl  replication  postgres         127.0.0.1/32    trust
hostssl  all          all              127.0.0.1/32    scram-sha-256
hostssl  replication  all              127.0.0.1/32    scram-sha-256
`

// postgresTLSFiles are the names, in the server's directory, of the copies
// of the PKI's files the server reads: the key must belong to the user
// the server runs as.
const (
	postgresTLSCert = "server.crt"
	postgresTLSKey  = "server.key"
	postgresTLSCA   = "ca.crt"
)

// InstallPostgres returns the bin directory of the newest PostgreSQL under
// /usr/lib/postgresql (or of postgres and initdb found in PATH), installing
// Debian's postgresql package first when there is none. For the install's
// duration it places a postgresql-common drop-in
// (/etc/postgresql-common/createcluster.d) that keeps the package from
// creating the system-wide main cluster, so no server is left running on
// port 5432; the drop-in is removed afterwards.
//
// It blocks for the install (ctx bounds it; ten minutes when ctx has no
// deadline) and serialises with concurrent installers; it gains root like
// [InstallMariaDB].
func InstallPostgres(ctx context.Context) (binDir string, err error) {
	ctx, cancel := withDefaultTimeout(ctx, installTimeout)
	defer cancel()
	if dir, err := postgresBinDir(); err == nil {
		return dir, nil
	}
	installed := func() bool { _, err := postgresBinDir(); return err == nil }
	if err := aptInstallWith(ctx, installed, noMainClusterHooks(noMainClusterConf), "postgresql"); err != nil {
		return "", err
	}
	dir, err := postgresBinDir()
	if err != nil {
		cache, _ := cacheDir()
		return "", fmt.Errorf("install postgresql: %w after installing postgresql (see apt.log in %s)", err, cache)
	}
	return dir, nil
}

// noMainClusterHooks returns the commands that place the postgresql-common
// drop-in conf, which turns create_main_cluster off, before an installation
// and remove it afterwards. conf must not contain a single quote.
func noMainClusterHooks(conf string) aptHooks {
	return aptHooks{
		before: [][]string{{"sh", "-c", fmt.Sprintf("mkdir -p '%s' && echo 'create_main_cluster = false' > '%s'",
			filepath.Dir(conf), conf)}},
		after: [][]string{{"rm", "-f", conf}},
	}
}

// postgresBinDir finds the directory that holds postgres and initdb: the
// newest /usr/lib/postgresql/VERSION/bin that has both, else the directory
// of postgres in PATH when initdb sits next to it.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range newestPostgresFirst(dirs) {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("find postgres and initdb: %w", errNotFound)
}

// newestPostgresFirst orders bin directories by the PostgreSQL version that
// names their parent (".../15/bin", ".../9.6/bin"), newest first; others
// keep their order after them.
func newestPostgresFirst(dirs []string) []string {
	version := func(d string) []int {
		var v []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil
			}
			v = append(v, n)
		}
		return v
	}
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b string) int {
		return slices.Compare(version(b), version(a))
	})
	return out
}

// isExecutable reports whether path is an executable regular file.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// postgresAccount is the system user initdb and postgres run as.
type postgresAccount struct {
	name     string
	uid, gid uint32
	cred     *syscall.Credential // nil: this process's user
}

// postgresRunAs returns the user to run the server as: this process's user
// unless it is root, which PostgreSQL refuses. As root it is the postgres
// user, else sluice-pg, which it creates when missing.
func postgresRunAs(ctx context.Context) (postgresAccount, error) {
	if os.Geteuid() != 0 {
		return postgresAccount{}, nil
	}
	name, create := choosePostgresOSUser(user.Lookup)
	if create {
		if err := createSystemUser(ctx, name); err != nil {
			return postgresAccount{}, err
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return postgresAccount{}, fmt.Errorf("look up user %s to run postgresql: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return postgresAccount{}, fmt.Errorf("look up user %s to run postgresql: uid %q, gid %q are not numbers", name, u.Uid, u.Gid)
	}
	return postgresAccount{
		name: name, uid: uint32(uid), gid: uint32(gid),
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
	}, nil
}

// choosePostgresOSUser picks the system user a root process runs the
// server as: postgres when it exists, else sluice-pg, with create set when
// that one must be created first. A user with uid 0 does not count.
func choosePostgresOSUser(lookup func(string) (*user.User, error)) (name string, create bool) {
	for _, n := range []string{postgresOSUser, postgresFallbackOSUser} {
		if u, err := lookup(n); err == nil && u.Uid != "0" {
			return n, false
		}
	}
	return postgresFallbackOSUser, true
}

// createSystemUser creates a system user and group called name, without a
// home directory or login shell. It blocks, serialised with other callers
// by a lock file in the cache, and succeeds when another process created
// the user meanwhile.
func createSystemUser(ctx context.Context, name string) error {
	cache, err := cacheDir()
	if err != nil {
		return err
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "user.lock"))
	if err != nil {
		return fmt.Errorf("create user %s: %w", name, err)
	}
	defer unlock()
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	useradd, err := findBinary("useradd", "/usr/sbin/useradd", "/sbin/useradd")
	if err != nil {
		return fmt.Errorf("create user %s to run postgresql: %w (create an unprivileged user named %s or %s)",
			name, err, postgresOSUser, postgresFallbackOSUser)
	}
	out, err := exec.CommandContext(ctx, useradd, "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--comment", "throwaway PostgreSQL servers of sluice tests", name).CombinedOutput()
	if err != nil {
		if _, lerr := user.Lookup(name); lerr == nil {
			return nil
		}
		return fmt.Errorf("create user %s to run postgresql: %w: %s (create an unprivileged user named %s or %s)",
			name, err, strings.TrimSpace(string(out)), postgresOSUser, postgresFallbackOSUser)
	}
	return nil
}

// blockedAncestors returns the directories above dir, nearest to the root
// first, that a process with uid and gid (and no supplementary groups) may
// not search.
func blockedAncestors(dir string, uid, gid uint32) ([]string, error) {
	var blocked []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return nil, fmt.Errorf("stat %s: no owner information", p)
		}
		var bit os.FileMode = 0o001
		switch {
		case sys.Uid == uid:
			bit = 0o100
		case sys.Gid == gid:
			bit = 0o010
		}
		if st.Mode().Perm()&bit == 0 {
			blocked = append([]string{p}, blocked...)
		}
		if p == filepath.Dir(p) {
			return blocked, nil
		}
	}
}

// giveDirTo makes dir owned by acct and reachable for it: a directory above
// dir that acct may not search gets o+x when it lies under os.TempDir().
func giveDirTo(dir string, acct postgresAccount) error {
	blocked, err := blockedAncestors(dir, acct.uid, acct.gid)
	if err != nil {
		return fmt.Errorf("check that user %s can reach %s: %w", acct.name, dir, err)
	}
	tmp, err := filepath.Abs(os.TempDir())
	if err != nil {
		return fmt.Errorf("resolve temporary directory: %w", err)
	}
	for _, p := range blocked {
		if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
			return fmt.Errorf("user %s, which runs postgresql, cannot reach %s: %s does not let others search it (choose a Dir under %s, or leave Dir empty)",
				acct.name, dir, p, tmp)
		}
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("open %s to user %s: %w", p, acct.name, err)
		}
		if err := os.Chmod(p, st.Mode().Perm()|0o001); err != nil {
			return fmt.Errorf("open %s to user %s: %w", p, acct.name, err)
		}
	}
	if err := os.Chown(dir, int(acct.uid), int(acct.gid)); err != nil {
		return fmt.Errorf("give %s to user %s: %w", dir, acct.name, err)
	}
	return nil
}

// StartPostgres installs PostgreSQL if it is missing (see
// [InstallPostgres]), initialises Dir/data with initdb if it is new
// (superuser postgres, UTF8, locale C), starts postgres on 127.0.0.1 with
// wal_level=logical and blocks until it accepts a connection as postgres. A
// start on a picked port that loses the port to another process is retried
// on a new one.
//
// PostgreSQL refuses to run as root: as root, initdb and postgres run as the
// system user postgres that Debian's package creates or, when it does not
// exist, as sluice-pg, created on first use (useradd --system, no home, no
// shell). Otherwise they run as the calling user.
//
// ctx bounds installation (ten minutes when it has no deadline) and then
// start-up (two minutes when it has no deadline); the server runs until
// [Postgres.Stop]. The server process dies with the calling process. On
// error nothing is left running and Dir is removed unless opt.Keep is set.
func StartPostgres(ctx context.Context, opt PostgresOptions) (*Postgres, error) {
	binDir, err := InstallPostgres(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	acct, err := postgresRunAs(ctx)
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	dir, err := prepareDir(opt.Dir, "sluice-postgres-")
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	// SIGINT is PostgreSQL's fast shutdown: the postmaster ends its
	// sessions and children itself.
	srv := &server{dir: dir, removeDir: !opt.Keep, cred: acct.cred, stopSignal: syscall.SIGINT, killTree: true}
	fail := func(err error) (*Postgres, error) {
		_ = srv.close()
		return nil, err
	}
	if acct.cred != nil {
		if err := giveDirTo(dir, acct); err != nil {
			return fail(fmt.Errorf("start postgresql: %w", err))
		}
	}
	socketDir := dir
	if len(filepath.Join(dir, ".s.PGSQL.65535.lock")) >= 100 { // a unix socket path has at most 107 bytes
		socketDir, err = os.MkdirTemp("", "sluice-sock-")
		if err != nil {
			return fail(fmt.Errorf("start postgresql: create socket directory: %w", err))
		}
		srv.remove = append(srv.remove, socketDir)
		if acct.cred != nil {
			if err := os.Chown(socketDir, int(acct.uid), int(acct.gid)); err != nil {
				return fail(fmt.Errorf("start postgresql: give socket directory to user %s: %w", acct.name, err))
			}
		}
	}
	hba := postgresHBA
	if opt.TLS != nil {
		hba = postgresTLSHBA
		if err := copyPostgresTLSFiles(opt.TLS, dir, acct); err != nil {
			return fail(err)
		}
	}
	if err := initPostgresDataDir(ctx, binDir, dir, hba, acct); err != nil {
		return fail(err)
	}
	p := &Postgres{dir: dir, binDir: binDir, srv: srv, pki: opt.TLS}
	data := filepath.Join(dir, "data")
	srv.outLog = filepath.Join(dir, "postgres.log")
	srv.logs = []string{srv.outLog}
	srv.probe = func(ctx context.Context) error {
		c, err := p.Conn(ctx, "")
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		// Another server on the port would answer too.
		var got string
		if err := c.QueryRow(ctx, "SHOW data_directory").Scan(&got); err != nil {
			return err
		}
		if filepath.Clean(got) != data {
			return fmt.Errorf("port %d answers for another server (data directory %s)", p.port, got)
		}
		return nil
	}
	for attempt := 1; ; attempt++ {
		p.port = opt.Port
		if p.port != 0 {
			if err := checkPortFree(p.port); err != nil {
				return fail(fmt.Errorf("start postgresql: %w", err))
			}
		} else {
			ports, err := freePorts(1)
			if err != nil {
				return fail(fmt.Errorf("start postgresql: %w", err))
			}
			p.port = ports[0]
		}
		srv.argv, err = postgresArgs(filepath.Join(binDir, "postgres"), dir, socketDir, p.port, opt)
		if err != nil {
			return fail(err)
		}
		err = srv.start(ctx)
		if err == nil {
			if opt.TLS != nil {
				if err := p.Exec(ctx, "", certUserStatement); err != nil {
					return fail(fmt.Errorf("start postgresql: create role %s: %w", postgresCertUser, err))
				}
			}
			return p, nil
		}
		if opt.Port != 0 || attempt == 3 || !isAddrInUse(err) {
			return fail(fmt.Errorf("start postgresql: %w", err))
		}
	}
}

// certUserStatement creates [Postgres.CertUser] unless it exists (a reused
// data directory): no password, since pg_hba.conf lets it in by its
// certificate only, and the rights of postgres, which the other tests run
// sluice as (creating publications over tables postgres owns needs them).
const certUserStatement = `DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sluice-client') THEN
    CREATE ROLE "sluice-client" LOGIN SUPERUSER REPLICATION;
  END IF;
END$$`

// copyPostgresTLSFiles copies the PKI's server certificate, key and CA into
// dir, owned by acct, the key readable by it alone, as the server demands.
func copyPostgresTLSFiles(pki *TestPKI, dir string, acct postgresAccount) error {
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{{pki.ServerCert, postgresTLSCert, 0o644}, {pki.ServerKey, postgresTLSKey, 0o600}, {pki.CAFile, postgresTLSCA, 0o644}} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			return fmt.Errorf("start postgresql: TLS files: %w", err)
		}
		to := filepath.Join(dir, f.to)
		if err := writeFileMode(to, data, f.mode); err != nil {
			return fmt.Errorf("start postgresql: TLS files: %w", err)
		}
		if acct.cred != nil {
			if err := os.Chown(to, int(acct.uid), int(acct.gid)); err != nil {
				return fmt.Errorf("start postgresql: TLS files: %w", err)
			}
		}
	}
	return nil
}

// initPostgresDataDir runs initdb into dir/data unless that directory is
// already initialised, and writes hba as its pg_hba.conf. It works in a
// temporary directory renamed into place, so an interrupted run is never
// reused. It blocks.
func initPostgresDataDir(ctx context.Context, binDir, dir, hba string, acct postgresAccount) error {
	data := filepath.Join(dir, "data")
	if exists(filepath.Join(data, "PG_VERSION")) {
		return nil
	}
	tmp := filepath.Join(dir, "data.init")
	for _, p := range []string{data, tmp} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("initialise postgresql data directory: %w", err)
		}
	}
	argv := initdbArgs(filepath.Join(binDir, "initdb"), tmp)
	if err := runCommandAs(ctx, dir, filepath.Join(dir, "initdb.log"), argv, acct.cred); err != nil {
		return fmt.Errorf("initialise postgresql data directory: %w", err)
	}
	hbaFile := filepath.Join(tmp, "pg_hba.conf")
	if err := os.WriteFile(hbaFile, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("initialise postgresql data directory: %w", err)
	}
	if acct.cred != nil {
		if err := os.Chown(hbaFile, int(acct.uid), int(acct.gid)); err != nil {
			return fmt.Errorf("initialise postgresql data directory: %w", err)
		}
	}
	if err := os.Rename(tmp, data); err != nil {
		return fmt.Errorf("initialise postgresql data directory: %w", err)
	}
	return nil
}

// initdbArgs builds initdb's command line for a throwaway cluster in data.
func initdbArgs(initdb, data string) []string {
	return []string{initdb, "-D", data, "-U", postgresUser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"}
}

// reservedPostgresSettings are the settings only Dir and Port control.
var reservedPostgresSettings = []string{"port", "listen_addresses", "unix_socket_directories", "data_directory", "config_file"}

// settingNameRE matches a PostgreSQL setting name, custom ones
// ("auto_explain.log_min_duration") included, after settingName folds it.
var settingNameRE = regexp.MustCompile(`^[a-z][a-z0-9_$]*(\.[a-z][a-z0-9_$]*)?$`)

// postgresArgs builds postgres's command line.
func postgresArgs(postgres, dir, socketDir string, port int, opt PostgresOptions) ([]string, error) {
	settings := []string{
		"listen_addresses=127.0.0.1",
		"unix_socket_directories=" + quoteDirList(socketDir),
		"wal_level=logical",
		"max_replication_slots=10",
		"max_wal_senders=10",
		"fsync=off",
		"synchronous_commit=off",
		"full_page_writes=off",
		"shared_buffers=128MB",
		"log_min_messages=warning",
	}
	if opt.TLS != nil {
		settings = append(settings, "ssl=on",
			"ssl_cert_file="+filepath.Join(dir, postgresTLSCert),
			"ssl_key_file="+filepath.Join(dir, postgresTLSKey),
			"ssl_ca_file="+filepath.Join(dir, postgresTLSCA))
	}
	for _, a := range opt.Args {
		k := settingName(a)
		if k == "" {
			return nil, fmt.Errorf("start postgresql: setting %q is not name=value (write settings as \"wal_level=replica\")", a)
		}
		if slices.Contains(reservedPostgresSettings, k) {
			return nil, fmt.Errorf("start postgresql: setting %q is set by the options (use PostgresOptions.Dir and Port instead)", a)
		}
		replaced := false
		for i, d := range settings {
			if settingName(d) == k {
				settings[i] = a
				replaced = true
			}
		}
		if !replaced {
			settings = append(settings, a)
		}
	}
	argv := []string{postgres, "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port)}
	for _, s := range settings {
		argv = append(argv, "-c", s)
	}
	return argv, nil
}

// settingName returns the name of a "name=value" setting, lower-cased and
// with dashes as underscores the way postgres reads -c, or "" when arg is
// not of that form.
func settingName(arg string) string {
	name, _, ok := strings.Cut(arg, "=")
	if !ok {
		return ""
	}
	name = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	if !settingNameRE.MatchString(name) {
		return ""
	}
	return name
}

// quoteDirList writes dir as a one-element list for a setting such as
// unix_socket_directories, double-quoting it when it holds a comma, a blank
// or a double quote.
func quoteDirList(dir string) string {
	if !strings.ContainsAny(dir, ", \t\"") {
		return dir
	}
	return `"` + strings.ReplaceAll(dir, `"`, `""`) + `"`
}

// Host returns the address the server listens on, 127.0.0.1.
func (p *Postgres) Host() string { return "127.0.0.1" }

// Port returns the server's TCP port.
func (p *Postgres) Port() int { return p.port }

// Addr returns "127.0.0.1:port".
func (p *Postgres) Addr() string { return net.JoinHostPort(p.Host(), strconv.Itoa(p.port)) }

// User returns the superuser, "postgres", which logs in over loopback
// without a password and may open replication connections.
func (p *Postgres) User() string { return postgresUser }

// CertUser returns the role that a server with [PostgresOptions.TLS] lets
// in by client certificate only, "sluice-client" (the common name of the
// PKI's client certificate): a superuser with REPLICATION and no password.
// It exists only on such a server.
func (p *Postgres) CertUser() string { return postgresCertUser }

// Password returns the password of [Postgres.User], which is empty.
func (p *Postgres) Password() string { return postgresPassword }

// Dir returns the directory that holds the data directory and the logs.
func (p *Postgres) Dir() string { return p.dir }

// BinDir returns the directory of the server's programs (postgres, psql,
// pg_recvlogical, ...).
func (p *Postgres) BinDir() string { return p.binDir }

// DSN returns the URL that connects as [Postgres.User] to database
// ("postgres" when empty) without TLS:
// "postgres://postgres@127.0.0.1:PORT/database?sslmode=disable"; with
// [PostgresOptions.TLS] over TLS, the server verified against the PKI's
// CA: "…?sslmode=verify-full&sslrootcert=CAFILE".
func (p *Postgres) DSN(database string) string {
	return p.UserDSN(postgresUser, postgresPassword, database)
}

// UserDSN is [Postgres.DSN] for another role, such as one made with
// [Postgres.CreateRole]; the URL holds the password.
func (p *Postgres) UserDSN(role, password, database string) string {
	if database == "" {
		database = "postgres"
	}
	u := &url.URL{Scheme: "postgres", User: url.User(role), Host: p.Addr(), Path: "/" + database, RawQuery: "sslmode=disable"}
	if p.pki != nil {
		u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {p.pki.CAFile}}.Encode()
	}
	if password != "" {
		u.User = url.UserPassword(role, password)
	}
	return u.String()
}

// Conn opens a new connection as [Postgres.User] to database ("postgres"
// when empty). It blocks until the connection is ready or ctx is done; ctx
// does not govern the returned connection, which the caller closes.
func (p *Postgres) Conn(ctx context.Context, database string) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, p.DSN(database))
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql at %s: %w", p.Addr(), err)
	}
	return c, nil
}

// Exec runs each statement in order on one new connection as
// [Postgres.User] to database ("postgres" when empty), outside any explicit
// transaction, and stops at the first error. It blocks until the statements
// are done or ctx is done.
func (p *Postgres) Exec(ctx context.Context, database string, stmts ...string) error {
	c, err := p.Conn(ctx, database)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for i, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("exec statement %d (%s): %w", i+1, describeStatement(s), err)
		}
	}
	return nil
}

// roleOptions are the role attributes [Postgres.CreateRole] accepts.
var roleOptions = []string{
	"SUPERUSER", "NOSUPERUSER", "CREATEDB", "NOCREATEDB", "CREATEROLE", "NOCREATEROLE",
	"INHERIT", "NOINHERIT", "REPLICATION", "NOREPLICATION", "BYPASSRLS", "NOBYPASSRLS",
}

// CreateRole creates a role that logs in with password, which it must give
// over loopback (scram-sha-256), with extra attributes among SUPERUSER,
// CREATEDB, CREATEROLE, INHERIT, REPLICATION, BYPASSRLS and their NO forms;
// privileges on objects are granted with [Postgres.Exec]. Connect as the
// role with [Postgres.UserDSN]. It blocks until the role exists or ctx is
// done.
func (p *Postgres) CreateRole(ctx context.Context, name, password string, attrs ...string) error {
	stmt, err := createRoleStatement(name, password, attrs)
	if err != nil {
		return err
	}
	if err := p.Exec(ctx, "", stmt); err != nil {
		return fmt.Errorf("create role %s: %w", pgx.Identifier{name}.Sanitize(), err)
	}
	return nil
}

// createRoleStatement builds the CREATE ROLE statement of
// [Postgres.CreateRole], with the name and password quoted.
func createRoleStatement(name, password string, attrs []string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("create role: empty name")
	}
	if password == "" || strings.ContainsRune(password, 0) {
		return "", fmt.Errorf("create role %s: the password is empty or holds a NUL byte (roles other than postgres log in with a password)", pgx.Identifier{name}.Sanitize())
	}
	var b strings.Builder
	b.WriteString("CREATE ROLE ")
	b.WriteString(pgx.Identifier{name}.Sanitize())
	b.WriteString(" LOGIN PASSWORD '")
	b.WriteString(strings.ReplaceAll(password, "'", "''"))
	b.WriteString("'")
	for _, a := range attrs {
		u := strings.ToUpper(strings.TrimSpace(a))
		if !slices.Contains(roleOptions, u) {
			return "", fmt.Errorf("create role %s: unknown attribute %q (use one of %s, or ALTER ROLE through Exec)",
				pgx.Identifier{name}.Sanitize(), a, strings.Join(roleOptions, ", "))
		}
		b.WriteString(" ")
		b.WriteString(u)
	}
	return b.String(), nil
}

// Restart stops the server (fast shutdown) and starts it again on the same
// port and data directory. It blocks until the server accepts connections
// again or ctx is done. After [Postgres.Kill] it starts the server after a
// crash, so PostgreSQL replays its WAL.
func (p *Postgres) Restart(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	if err := p.srv.restart(ctx); err != nil {
		return fmt.Errorf("restart postgresql: %w", err)
	}
	return nil
}

// Kill sends SIGKILL to the server and all its processes, as in a crash,
// and blocks until it has exited. It keeps Dir; [Postgres.Restart] or
// [Postgres.Stop] may follow.
func (p *Postgres) Kill() { p.srv.kill() }

// Stop shuts the server down (fast shutdown: SIGINT to the postmaster,
// which ends its sessions; SIGKILL to all its processes after 30 s) and
// blocks until it has exited, then removes Dir unless [PostgresOptions.Keep]
// was set. It is safe to call more than once.
func (p *Postgres) Stop() error {
	if err := p.srv.close(); err != nil {
		return fmt.Errorf("stop postgresql: %w", err)
	}
	return nil
}
