package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

const (
	// registryVersion is the Apicurio Registry release registry-pom.xml
	// names.
	registryVersion = "2.4.2.Final"
	// registryRunner is the name the installed runner jar gets; its
	// manifest finds the libraries in lib/ beside it.
	registryRunner = "registry-runner.jar"
	// registryInstallTimeout bounds an installation when the caller's
	// context has no deadline. A first one downloads about 230 MB into the
	// Maven repository and runs Quarkus's build.
	registryInstallTimeout = 20 * time.Minute
	// registryAPI is the path of the Confluent-compatible API.
	registryAPI = "/apis/ccompat/v7"
	// registryHeader carries a token, random per registry, in every
	// answer, so that a start does not take another server on the same
	// port for its own.
	registryHeader = "X-Sluice-Registry"
)

//go:embed registry-pom.xml
var registryPOM []byte

// RegistryOptions configures [StartRegistry]. The zero value starts a
// registry on a free port in a new temporary directory that Stop removes,
// with BACKWARD as the global compatibility level.
type RegistryOptions struct {
	// Dir holds the registry's database (Dir/data, an H2 file database)
	// and its log (Dir/registry.log). Empty means a new temporary
	// directory. A database that is already there is reused, schemas,
	// ids and compatibility settings included. The path must not contain
	// ';'.
	Dir string
	// Port is the HTTP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Compatibility is the global compatibility level a new database
	// starts with: zero means BACKWARD, the default of Confluent's
	// registry; sr.CompatNone leaves the global level unset, so that
	// only the levels set per subject are checked. A reused database
	// keeps the level it has.
	Compatibility sr.CompatibilityLevel
	// Keep leaves Dir in place on Stop. Without it Stop removes Dir, even
	// one the caller named.
	Keep bool
	// User and Password, when set (both or neither), make the registry
	// demand them with HTTP basic auth, as a Confluent registry
	// configured for it does: a request without them or with others gets
	// 401 and a WWW-Authenticate header. A proxy in this process checks
	// them: it listens on Port and forwards to the registry process on a
	// port of its own. [Registry.Client] sends them.
	User, Password string
}

// Registry is a running Apicurio Registry started by [StartRegistry], a
// schema registry that speaks Confluent's REST API at [Registry.URL]. Its
// methods are safe for concurrent use.
type Registry struct {
	port           int    // the port clients use
	backendPort    int    // the registry process's port; port unless auth is set
	token          string // the value of registryHeader in this registry's answers
	user, password string
	dir            string
	srv            *server
	auth           *basicAuthProxy // nil without User and Password
}

// InstallRegistry makes sure Apicurio Registry 2.4.2.Final is in the cache,
// ready to run. A missing java or mvn is installed from Debian's packages
// first (default-jre-headless, maven) like [InstallKafka] does. Maven
// fetches the registry and its libraries from Maven Central (about 230 MB
// into ~/.m2 on a first install) and runs Quarkus's build over them, as the
// embedded registry-pom.xml describes, in a temporary directory in the cache
// that is renamed into place once complete; the installed registry takes
// about 130 MB.
//
// It blocks for the download and the build (ctx bounds them; twenty minutes
// when ctx has no deadline) and serialises with concurrent installers, in
// this process or others, through a lock file in the cache.
func InstallRegistry(ctx context.Context) error {
	_, err := installRegistry(ctx)
	return err
}

// installRegistry is InstallRegistry; it returns the directory that holds
// the runner jar.
func installRegistry(ctx context.Context) (home string, err error) {
	ctx, cancel := withDefaultTimeout(ctx, registryInstallTimeout)
	defer cancel()
	// The name holds a digest of the pom, so that a changed pom installs
	// anew instead of finding the registry an older one built.
	sum := sha256.Sum256(registryPOM)
	name := "apicurio-registry-" + registryVersion + "-" + hex.EncodeToString(sum[:6])
	return mavenInstall(ctx, "schema registry", name, registryInstalled, func(ctx context.Context, mvn, tmp string) error {
		build := filepath.Join(tmp, "build")
		if err := os.Mkdir(build, 0o755); err != nil {
			return err
		}
		pom := filepath.Join(build, "pom.xml")
		if err := os.WriteFile(pom, registryPOM, 0o644); err != nil {
			return err
		}
		argv := []string{mvn, "-q", "-B", "-f", pom, "package"}
		if err := runCommand(ctx, build, filepath.Join(tmp, "mvn.log"), argv); err != nil {
			return fmt.Errorf("%w (%s)", err, mavenHint)
		}
		target := filepath.Join(build, "target")
		runner := filepath.Join(target, "sluice-local-registry-"+registryVersion+"-runner.jar")
		if !exists(runner) || !exists(filepath.Join(target, "lib")) {
			return fmt.Errorf("mvn finished but %s or %s is missing (remove %s and try again)", runner, filepath.Join(target, "lib"), tmp)
		}
		if err := os.Rename(filepath.Join(target, "lib"), filepath.Join(tmp, "lib")); err != nil {
			return err
		}
		if err := os.Rename(runner, filepath.Join(tmp, registryRunner)); err != nil {
			return err
		}
		for _, p := range []string{build, filepath.Join(tmp, "mvn.log")} {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// registryInstalled reports whether home holds an installed registry.
func registryInstalled(home string) bool {
	return exists(filepath.Join(home, registryRunner))
}

// StartRegistry installs the registry if it is missing (see
// [InstallRegistry]), starts Apicurio Registry on 127.0.0.1 with its
// database in opt.Dir, and blocks until a franz-go sr.Client lists the
// subjects through [Registry.URL]. On a new database it then sets the
// global compatibility level that opt.Compatibility names. A start on a
// picked port that loses the port to another process is retried on a new
// one.
//
// The registry answers Confluent's REST API (subjects, versions, schemas by
// id, compatibility checks and config) and rejects a version that breaks
// the subject's compatibility level with HTTP 409. Differences from
// Confluent's registry that show through that API: the error_code in an
// error's body is 0 rather than the HTTP status; a subject's level NONE
// removes the subject's own level instead of overriding the global one, so
// with a global level set a subject cannot be relaxed below it (set the
// global level to NONE instead, or start with
// [RegistryOptions.Compatibility] sr.CompatNone); GET
// /schemas/ids/{id}/subjects (sr.Client.SubjectsByID) answers 404, while
// GET /schemas/ids/{id}/versions, which sr.Client.CreateSchema uses, works. Credentials are checked only with
// [RegistryOptions.User] and [RegistryOptions.Password], by a proxy in this
// process.
//
// ctx bounds installation (twenty minutes when it has no deadline) and then
// start-up (two minutes when it has no deadline); the registry runs until
// [Registry.Stop]. The registry process dies with the calling process. On
// error nothing is left running and Dir is removed unless opt.Keep is set.
func StartRegistry(ctx context.Context, opt RegistryOptions) (*Registry, error) {
	level := opt.Compatibility
	if level == 0 {
		level = sr.CompatBackward
	}
	if level.String() == "" {
		return nil, fmt.Errorf("start schema registry: unknown compatibility level %d (use one of the sr.Compat constants)", int(level))
	}
	if err := checkCredentials(opt.User, opt.Password); err != nil {
		return nil, fmt.Errorf("start schema registry: %w", err)
	}
	home, err := installRegistry(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	java, err := findBinary("java")
	if err != nil {
		return nil, fmt.Errorf("start schema registry: %w", err)
	}
	dir, err := prepareDir(opt.Dir, "sluice-registry-")
	if err != nil {
		return nil, fmt.Errorf("start schema registry: %w", err)
	}
	srv := &server{dir: dir, removeDir: !opt.Keep}
	// With basic auth, the proxy's port is bound first and held, and the
	// registry process gets a free port of its own.
	var (
		authListener net.Listener
		r            *Registry
	)
	fail := func(err error) (*Registry, error) {
		switch {
		case r != nil && r.auth != nil:
			r.auth.stop()
		case authListener != nil:
			_ = authListener.Close()
		}
		_ = srv.close()
		return nil, fmt.Errorf("start schema registry: %w", err)
	}
	data := filepath.Join(dir, "data")
	if strings.Contains(data, ";") {
		return fail(fmt.Errorf("directory %s contains ';', which the database URL cannot hold (choose another directory)", dir))
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fail(err)
	}
	fresh := !exists(filepath.Join(data, "registry.mv.db"))
	token, err := randomToken()
	if err != nil {
		return fail(err)
	}
	r = &Registry{dir: dir, srv: srv, token: token, user: opt.User, password: opt.Password}
	srv.outLog = filepath.Join(dir, "registry.log")
	srv.logs = []string{srv.outLog}
	srv.probe = r.ready
	if opt.User != "" {
		if opt.Port != 0 {
			if err := checkPortFree(opt.Port); err != nil {
				return fail(err)
			}
		}
		authListener, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.Port)))
		if err != nil {
			return fail(fmt.Errorf("listen for basic auth: %w", err))
		}
		r.port = authListener.Addr().(*net.TCPAddr).Port
	}
	for attempt := 1; ; attempt++ {
		switch {
		case opt.Port != 0 && opt.User == "":
			r.backendPort = opt.Port
			if err := checkPortFree(r.backendPort); err != nil {
				return fail(err)
			}
		default:
			ports, err := freePorts(1)
			if err != nil {
				return fail(err)
			}
			r.backendPort = ports[0]
		}
		if opt.User == "" {
			r.port = r.backendPort
		}
		srv.argv = registryArgv(java, home, data, r.backendPort, token)
		err = srv.start(ctx)
		if err == nil {
			break
		}
		if attempt == 3 || !isAddrInUse(err) {
			return fail(fmt.Errorf("%w%s", err, registryLogCauses(srv.outLog)))
		}
	}
	if authListener != nil {
		r.auth = newBasicAuthProxy(authListener, r.backendPort, opt.User, opt.Password)
	}
	if fresh && level != sr.CompatNone {
		if err := r.setGlobalCompatibility(ctx, level); err != nil {
			return fail(err)
		}
	}
	return r, nil
}

// registryArgv is the command line that runs the registry installed in home
// with its H2 database in data, on 127.0.0.1:port, adding token to every
// answer. WRITE_DELAY=0 makes H2 write each commit before the answer goes
// out, so a SIGKILL loses no acknowledged schema.
func registryArgv(java, home, data string, port int, token string) []string {
	return []string{java,
		"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData", "-Djava.awt.headless=true",
		"-Dquarkus.http.host=127.0.0.1",
		"-Dquarkus.http.port=" + strconv.Itoa(port),
		// The registry's properties set the URL under the prod profile,
		// which outranks an unprofiled setting.
		"-D%prod.quarkus.datasource.jdbc.url=jdbc:h2:file:" + filepath.Join(data, "registry") + ";WRITE_DELAY=0",
		`-Dquarkus.http.header."` + registryHeader + `".value=` + token,
		"-jar", filepath.Join(home, registryRunner),
	}
}

// registryLogCauses returns the last few error and "Caused by:" lines of the
// registry's log, under a header, for an error message: a Java stack trace
// puts the cause far above the log's last lines. It returns "" when there
// are none.
func registryLogCauses(path string) string {
	var causes []string
	for _, l := range tail(path, 2000) {
		if strings.HasPrefix(l, "Caused by:") || strings.Contains(l, " ERROR ") {
			if len(l) > 400 {
				l = l[:400] + "..."
			}
			causes = append(causes, l)
		}
	}
	if len(causes) == 0 {
		return ""
	}
	if len(causes) > 4 {
		causes = causes[len(causes)-4:]
	}
	return "\n--- errors in " + path + " ---\n" + strings.Join(causes, "\n")
}

// randomToken returns 16 random bytes in hex.
func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate registry token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ready succeeds once this registry process, and not another server on its
// port, lists its subjects to a franz-go client.
func (r *Registry) ready(ctx context.Context) error {
	backend := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(r.backendPort)) + registryAPI
	cl, err := sr.NewClient(sr.URLs(backend), sr.HTTPClient(&http.Client{
		Transport: tokenCheck{token: r.token, port: r.backendPort, next: &http.Transport{DisableKeepAlives: true}},
	}))
	if err != nil {
		return err
	}
	_, err = cl.Subjects(ctx)
	return err
}

// tokenCheck is an http.RoundTripper that fails an answer without the
// registry's token.
type tokenCheck struct {
	token string
	port  int
	next  http.RoundTripper
}

func (c tokenCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if got := resp.Header.Get(registryHeader); got != c.token {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("port %d answers for another server (%s header %q)", c.port, registryHeader, got)
	}
	return resp, nil
}

// setGlobalCompatibility sets the global compatibility level through the
// Confluent API, so that the registry stores it as a client's setting
// would be.
func (r *Registry) setGlobalCompatibility(ctx context.Context, level sr.CompatibilityLevel) error {
	cl, err := r.Client()
	if err != nil {
		return err
	}
	res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level})
	if len(res) != 1 {
		return errors.New("set global compatibility: no answer")
	}
	if res[0].Err != nil {
		return fmt.Errorf("set global compatibility %s: %w", level, res[0].Err)
	}
	return nil
}

// URL returns the base URL of the Confluent-compatible API,
// "http://127.0.0.1:port/apis/ccompat/v7", the form sr.URLs takes.
func (r *Registry) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) + registryAPI
}

// Client returns a franz-go schema-registry client for [Registry.URL], with
// the registry's user and password when it has them; opts come after those
// and may override them.
func (r *Registry) Client(opts ...sr.ClientOpt) (*sr.Client, error) {
	base := []sr.ClientOpt{sr.URLs(r.URL())}
	if r.user != "" {
		base = append(base, sr.BasicAuth(r.user, r.password))
	}
	cl, err := sr.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return cl, nil
}

// Dir returns the directory that holds the database and the log.
func (r *Registry) Dir() string { return r.dir }

// User returns the user basic auth demands, or "" without auth.
func (r *Registry) User() string { return r.user }

// Password returns the password basic auth demands, or "" without auth.
func (r *Registry) Password() string { return r.password }

// Restart stops the registry gracefully and starts it again on the same
// port and database. It blocks until the registry is ready again or ctx is
// done (two minutes when ctx has no deadline). After [Registry.Kill] it
// starts the registry after a crash; every schema whose registration was
// answered is still there.
func (r *Registry) Restart(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	if r.auth != nil {
		r.auth.stop()
	}
	if err := r.srv.restart(ctx); err != nil {
		return fmt.Errorf("restart schema registry: %w", err)
	}
	if r.auth != nil {
		if err := r.auth.restart(); err != nil {
			return fmt.Errorf("restart schema registry: %w", err)
		}
	}
	return nil
}

// Kill sends SIGKILL to the registry, as in a crash or an outage, and
// blocks until it has exited. Clients then get connection refused. It keeps
// Dir; [Registry.Restart] or [Registry.Stop] may follow.
func (r *Registry) Kill() {
	if r.auth != nil {
		r.auth.stop()
	}
	r.srv.kill()
}

// Stop shuts the registry down (SIGTERM; SIGKILL after 30 s) and blocks
// until it has exited, then removes Dir unless [RegistryOptions.Keep] was
// set. It is safe to call more than once.
func (r *Registry) Stop() error {
	if r.auth != nil {
		r.auth.stop()
	}
	if err := r.srv.close(); err != nil {
		return fmt.Errorf("stop schema registry: %w", err)
	}
	return nil
}
