package local

import (
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settings returns the values of the -c options in argv.
func settings(argv []string) []string {
	var out []string
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "-c" {
			out = append(out, argv[i+1])
		}
	}
	return out
}

func TestPostgresArgsDefaults(t *testing.T) {
	argv, err := postgresArgs("/usr/lib/postgresql/15/bin/postgres", "/d", "/d", 5433, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/d/data", "-p", "5433"}; !slices.Equal(argv[:5], want) {
		t.Errorf("command line starts %q, want %q", argv[:5], want)
	}
	got := settings(argv)
	for _, want := range []string{
		"listen_addresses=127.0.0.1", "unix_socket_directories=/d", "wal_level=logical",
		"max_replication_slots=10", "max_wal_senders=10", "fsync=off", "synchronous_commit=off",
		"full_page_writes=off", "shared_buffers=128MB", "log_min_messages=warning",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing -c %s in %q", want, argv)
		}
	}
	if 2*len(got)+5 != len(argv) {
		t.Errorf("stray arguments in %q", argv)
	}
}

func TestPostgresArgsTLS(t *testing.T) {
	argv, err := postgresArgs("/pg/postgres", "/d", "/d", 5433, PostgresOptions{TLS: &TestPKI{}})
	if err != nil {
		t.Fatal(err)
	}
	got := settings(argv)
	for _, want := range []string{"ssl=on", "ssl_cert_file=/d/server.crt", "ssl_key_file=/d/server.key", "ssl_ca_file=/d/ca.crt"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing -c %s in %q", want, argv)
		}
	}
}

// TestPostgresTLSHBA: with TLS, TCP connections are accepted only over
// TLS, and the certificate user only by its certificate.
func TestPostgresTLSHBA(t *testing.T) {
	var lines []string
	for _, l := range strings.Split(postgresTLSHBA, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "host ") || strings.HasPrefix(l, "hostnossl ") {
			t.Errorf("pg_hba.conf accepts TCP without TLS: %q", l)
		}
	}
	for _, want := range []string{
		`hostssl all "sluice-client" 127.0.0.1/32 cert`,
		`hostssl replication "sluice-client" 127.0.0.1/32 cert`,
		"hostssl all postgres 127.0.0.1/32 trust",
		"hostssl replication all 127.0.0.1/32 scram-sha-256",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("pg_hba.conf lacks %q", want)
		}
	}
	// The first line that matches decides: the certificate user's come
	// before the catch-all password lines.
	if slices.Index(lines, `hostssl all "sluice-client" 127.0.0.1/32 cert`) > slices.Index(lines, "hostssl all all 127.0.0.1/32 scram-sha-256") {
		t.Error("the certificate user's line comes after the password line that would match it first")
	}
}

func TestPostgresArgsOverride(t *testing.T) {
	argv, err := postgresArgs("postgres", "/d", "/s", 1, PostgresOptions{
		Args: []string{"wal_level=replica", "Max_Replication_Slots=1", "max-wal-senders=2", "max_connections=20", "auto_explain.log_min_duration=0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := settings(argv)
	for _, want := range []string{"wal_level=replica", "Max_Replication_Slots=1", "max-wal-senders=2", "max_connections=20", "auto_explain.log_min_duration=0"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %q", want, got)
		}
	}
	for _, gone := range []string{"wal_level=logical", "max_replication_slots=10", "max_wal_senders=10"} {
		if slices.Contains(got, gone) {
			t.Errorf("%s should have been replaced: %q", gone, got)
		}
	}
	if i := slices.Index(got, "wal_level=replica"); i != 2 {
		t.Errorf("an override should take the default's place: %q", got)
	}
}

func TestPostgresArgsRejects(t *testing.T) {
	for _, a := range []string{
		"port=1", "listen_addresses=*", "Listen-Addresses=*", "unix_socket_directories=/x",
		"data_directory=/x", "config_file=/x", "wal_level", "-c wal_level=replica", "--wal_level=replica", "=x",
	} {
		if _, err := postgresArgs("postgres", "/d", "/d", 1, PostgresOptions{Args: []string{a}}); err == nil {
			t.Errorf("%s: want an error", a)
		}
	}
}

func TestSettingName(t *testing.T) {
	for arg, want := range map[string]string{
		"wal_level=logical":          "wal_level",
		"WAL-Level=logical":          "wal_level",
		"search_path=a,b":            "search_path",
		"x.y=1":                      "x.y",
		"shared_preload_libraries=":  "shared_preload_libraries",
		"wal_level":                  "",
		"1abc=2":                     "",
		"a b=c":                      "",
		"unix_socket_directories=/x": "unix_socket_directories",
	} {
		if got := settingName(arg); got != want {
			t.Errorf("settingName(%q) = %q, want %q", arg, got, want)
		}
	}
}

func TestQuoteDirList(t *testing.T) {
	for dir, want := range map[string]string{
		"/tmp/TestX1/001":    "/tmp/TestX1/001",
		"/tmp/Test a,b/001":  `"/tmp/Test a,b/001"`,
		`/tmp/Test"q"/001`:   `"/tmp/Test""q""/001"`,
		"/tmp/with space/01": `"/tmp/with space/01"`,
	} {
		if got := quoteDirList(dir); got != want {
			t.Errorf("quoteDirList(%q) = %s, want %s", dir, got, want)
		}
	}
	argv, err := postgresArgs("postgres", "/d", "/tmp/a,b", 1, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(argv, `unix_socket_directories="/tmp/a,b"`) {
		t.Errorf("socket directory with a comma not quoted: %q", argv)
	}
}

func TestInitdbArgs(t *testing.T) {
	got := initdbArgs("/b/initdb", "/d/data.init")
	for _, want := range []string{"-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %q", want, got)
		}
	}
	if got[0] != "/b/initdb" || !slices.Contains(got, "/d/data.init") {
		t.Errorf("initdb command line %q", got)
	}
}

func TestPostgresHBA(t *testing.T) {
	lines := map[string]bool{}
	for _, l := range strings.Split(postgresHBA, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" && !strings.HasPrefix(l, "#") {
			lines[l] = true
		}
	}
	for _, want := range []string{
		"host all postgres 127.0.0.1/32 trust",
		"host replication postgres 127.0.0.1/32 trust",
		"host all all 127.0.0.1/32 scram-sha-256",
		"host replication all 127.0.0.1/32 scram-sha-256",
	} {
		if !lines[want] {
			t.Errorf("pg_hba.conf lacks %q", want)
		}
	}
}

func TestChoosePostgresOSUser(t *testing.T) {
	lookup := func(users map[string]string) func(string) (*user.User, error) {
		return func(name string) (*user.User, error) {
			if uid, ok := users[name]; ok {
				return &user.User{Username: name, Uid: uid, Gid: uid}, nil
			}
			return nil, user.UnknownUserError(name)
		}
	}
	for _, c := range []struct {
		users  map[string]string
		name   string
		create bool
	}{
		{map[string]string{"postgres": "101", "sluice-pg": "998"}, "postgres", false},
		{map[string]string{"sluice-pg": "998"}, "sluice-pg", false},
		{map[string]string{}, "sluice-pg", true},
		{map[string]string{"postgres": "0"}, "sluice-pg", true},
	} {
		name, create := choosePostgresOSUser(lookup(c.users))
		if name != c.name || create != c.create {
			t.Errorf("users %v: got %s (create %v), want %s (create %v)", c.users, name, create, c.name, c.create)
		}
	}
}

func TestNewestPostgresFirst(t *testing.T) {
	got := newestPostgresFirst([]string{
		"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin",
		"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/10/bin",
	})
	want := []string{
		"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/9.6/bin", "/usr/local/bin",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBlockedAncestors(t *testing.T) {
	base := t.TempDir()
	closed := filepath.Join(base, "closed")
	dir := filepath.Join(closed, "open", "server")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	me, mygid := uint32(os.Getuid()), uint32(os.Getgid())
	other := me + 54321
	blocked, err := blockedAncestors(dir, other, other)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(blocked, closed) || slices.Contains(blocked, filepath.Dir(dir)) {
		t.Errorf("for another user: blocked = %q, want %s and not its open child", blocked, closed)
	}
	if !slices.IsSortedFunc(blocked, func(a, b string) int { return len(a) - len(b) }) {
		t.Errorf("blocked %q: want the nearest to the root first", blocked)
	}
	blocked, err = blockedAncestors(dir, me, mygid)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(blocked, closed) {
		t.Errorf("the owner is blocked by its own directory: %q", blocked)
	}
	if err := os.Chmod(closed, 0o750); err != nil {
		t.Fatal(err)
	}
	if blocked, _ := blockedAncestors(dir, other, mygid); slices.Contains(blocked, closed) {
		t.Errorf("group member blocked by a group-searchable directory: %q", blocked)
	}
}

func TestGiveDirTo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change owners")
	}
	base := t.TempDir()
	closed := filepath.Join(base, "closed")
	dir := filepath.Join(closed, "server")
	elsewhere := filepath.Join(base, "elsewhere")
	for _, d := range []string{dir, elsewhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	acct := postgresAccount{name: "nobody", uid: 65534, gid: 65534}
	tmp := os.TempDir()

	t.Setenv("TMPDIR", elsewhere)
	err := giveDirTo(dir, acct)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "choose a Dir") {
		t.Fatalf("outside the temporary directory: want an error naming %s and the fix, got %v", dir, err)
	}

	t.Setenv("TMPDIR", tmp)
	if err := giveDirTo(dir, acct); err != nil {
		t.Fatal(err)
	}
	if blocked, err := blockedAncestors(dir, acct.uid, acct.gid); err != nil || len(blocked) != 0 {
		t.Errorf("after giveDirTo: blocked %q, %v", blocked, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != acct.uid || sys.Gid != acct.gid {
		t.Errorf("owner %d:%d, want %d:%d", sys.Uid, sys.Gid, acct.uid, acct.gid)
	}
	if st, _ := os.Stat(closed); st.Mode().Perm() != 0o701 {
		t.Errorf("%s has mode %v, want o+x added only", closed, st.Mode().Perm())
	}
}

func TestCreateRoleStatement(t *testing.T) {
	got, err := createRoleStatement(`app"1`, "it's", []string{"replication", " CreateDB "})
	if err != nil {
		t.Fatal(err)
	}
	if want := `CREATE ROLE "app""1" LOGIN PASSWORD 'it''s' REPLICATION CREATEDB`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, c := range []struct {
		name, password string
		attrs          []string
	}{
		{"", "pw", nil},
		{"app", "", nil},
		{"app", "a\x00b", nil},
		{"app", "pw", []string{"LOGIN; DROP TABLE t"}},
		{"app", "pw", []string{"PASSWORD 'x'"}},
	} {
		_, err := createRoleStatement(c.name, c.password, c.attrs)
		if err == nil {
			t.Errorf("%q %q %q: want an error", c.name, c.password, c.attrs)
		} else if c.password != "" && strings.Contains(err.Error(), c.password) {
			t.Errorf("error reveals the password: %v", err)
		}
	}
	if d := describeStatement(got); strings.Contains(d, "it''s") {
		t.Errorf("describeStatement reveals the password: %s", d)
	}
}

func TestPostgresDSN(t *testing.T) {
	p := &Postgres{port: 5433}
	if got, want := p.DSN("shop"), "postgres://postgres@127.0.0.1:5433/shop?sslmode=disable"; got != want {
		t.Errorf("DSN = %s, want %s", got, want)
	}
	if got, want := p.DSN(""), "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable"; got != want {
		t.Errorf("DSN = %s, want %s", got, want)
	}
	u, err := url.Parse(p.UserDSN("app", "p@ss:/w?#", "my db"))
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); u.User.Username() != "app" || pw != "p@ss:/w?#" || u.Path != "/my db" || u.Query().Get("sslmode") != "disable" {
		t.Errorf("UserDSN does not round-trip: %s", u)
	}
	if p.Addr() != "127.0.0.1:5433" || p.User() != "postgres" || p.Password() != "" {
		t.Errorf("Addr %s User %s Password %q", p.Addr(), p.User(), p.Password())
	}
	p.pki = &TestPKI{CAFile: "/tmp/pki dir/ca.pem"}
	u, err = url.Parse(p.DSN("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") != "/tmp/pki dir/ca.pem" || u.User.Username() != "postgres" {
		t.Errorf("TLS DSN = %s, want sslmode verify-full with the PKI's CA", u)
	}
}

// TestKillTree starts a shell whose children leave its process group, as
// PostgreSQL's do, and checks that killTree leaves none of them running.
func TestKillTree(t *testing.T) {
	if _, err := findBinary("setsid", "/usr/bin/setsid"); err != nil {
		t.Skip("setsid not installed")
	}
	dir := t.TempDir()
	p, err := startProcess(dir, filepath.Join(dir, "out"), []string{"sh", "-c", "setsid sleep 60 & setsid sleep 60 & wait"})
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) < 2; kids = childPIDs(p.pid) {
		if time.Now().After(deadline) {
			p.killTree()
			t.Fatalf("children %v: want two", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range kids {
		if pgid, _ := syscall.Getpgid(k); pgid == p.pid {
			t.Errorf("child %d stayed in the group", k)
		}
	}
	p.killTree()
	if !p.exited() {
		t.Error("leader survived killTree")
	}
	for _, k := range kids {
		if running(k) {
			_ = syscall.Kill(k, syscall.SIGKILL)
			t.Errorf("child %d survived killTree", k)
		}
	}
	p.killTree() // a no-op once the child is gone
}

func TestProcStat(t *testing.T) {
	state, ppid, ok := procStat(os.Getpid())
	if !ok || ppid != os.Getppid() || state == 'Z' {
		t.Errorf("procStat(self) = %c %d %v, want ppid %d", state, ppid, ok, os.Getppid())
	}
	if _, _, ok := procStat(1 << 30); ok {
		t.Error("procStat of a missing pid: want !ok")
	}
	if running(1<<30) || !running(os.Getpid()) {
		t.Error("running is wrong")
	}
	if !slices.Contains(childPIDs(os.Getppid()), os.Getpid()) {
		t.Error("childPIDs of the parent lacks this process")
	}
}

// TestNoMainClusterHooks runs the install hooks against a copy of
// postgresql-common's createcluster.conf whose drop-in directory is
// redirected, and asks pg_conftool, as the package's scripts do, whether a
// main cluster would be created.
func TestNoMainClusterHooks(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "createcluster.d", "zz-sluice-no-main-cluster.conf")
	hooks := noMainClusterHooks(conf)
	log := filepath.Join(dir, "log")
	for _, argv := range hooks.before {
		if err := runCommand(t.Context(), dir, log, argv); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(conf); err != nil || string(b) != "create_main_cluster = false\n" {
		t.Fatalf("drop-in holds %q, %v", b, err)
	}
	if conftool, err := findBinary("pg_conftool"); err == nil && exists("/etc/postgresql-common/createcluster.conf") {
		orig, err := os.ReadFile("/etc/postgresql-common/createcluster.conf")
		if err != nil {
			t.Fatal(err)
		}
		redirected := strings.ReplaceAll(string(orig), "/etc/postgresql-common/createcluster.d", filepath.Dir(conf))
		copyPath := filepath.Join(dir, "createcluster.conf")
		if err := os.WriteFile(copyPath, []byte(redirected), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(conftool, copyPath, "show", "-bs", "create_main_cluster").Output()
		if err != nil || strings.TrimSpace(string(out)) != "off" {
			t.Errorf("pg_conftool says create_main_cluster = %q (%v), want off", out, err)
		}
	}
	for _, argv := range hooks.after {
		if err := runCommand(t.Context(), dir, log, argv); err != nil {
			t.Fatal(err)
		}
	}
	if exists(conf) {
		t.Error("drop-in left in place after the installation")
	}
}

func TestAsRoot(t *testing.T) {
	cmds := [][]string{{"rm", "-f", "/x"}}
	if got := asRoot(cmds, false); !slices.Equal(got[0], cmds[0]) {
		t.Errorf("as root: %q", got)
	}
	got := asRoot(cmds, true)
	if !slices.Equal(got[0], []string{"sudo", "-n", "rm", "-f", "/x"}) || cmds[0][0] != "rm" {
		t.Errorf("with sudo: %q (input now %q)", got, cmds)
	}
}
