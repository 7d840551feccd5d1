package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// connectVersion is the Kafka Connect release connect-pom.xml names,
	// the same as the broker's.
	connectVersion = kafkaVersion
	// connectSinkPlugin and connectConverterPlugin are the plugin
	// folders under the installation's plugins directory, each loaded by
	// a class loader of its own.
	connectSinkPlugin      = "debezium-connector-jdbc"
	connectConverterPlugin = "apicurio-registry-converter"
	// connectSinkJar and connectConverterJar mark a complete
	// installation, next to libs/connect-runtime-VERSION.jar.
	connectSinkJar      = "debezium-connector-jdbc-3.5.0.Final.jar"
	connectConverterJar = "apicurio-registry-utils-converter-2.4.2.Final.jar"
	// connectInstallTimeout bounds an installation when the caller's
	// context has no deadline.
	connectInstallTimeout = 15 * time.Minute
	// connectJDBCSink and connectAvroConverter are the plugin classes a
	// start waits for.
	connectJDBCSink      = "io.debezium.connector.jdbc.JdbcSinkConnector"
	connectAvroConverter = "io.apicurio.registry.utils.converter.AvroConverter"
	// connectMissingGrace is how long WaitRunning takes a connector the
	// worker does not know for one that is still being created.
	connectMissingGrace = 10 * time.Second
)

//go:embed connect-pom.xml
var connectPOM []byte

// connectProfiles are the profiles of connect-pom.xml and the directory,
// relative to the installation, that Maven copies each one's jars into.
var connectProfiles = []struct{ profile, dir string }{
	{"runtime", "libs"},
	{"jdbc-sink", filepath.Join("plugins", connectSinkPlugin)},
	{"apicurio-converter", filepath.Join("plugins", connectConverterPlugin)},
}

// ConnectOptions configures [StartConnect]. Bootstrap is required; the zero
// value of the rest starts a worker with its REST API on a free port, in a
// new temporary directory that Stop removes.
type ConnectOptions struct {
	// Dir holds the worker's configuration (Dir/worker.properties,
	// Dir/log4j2.properties), the source offsets (Dir/connect.offsets)
	// and the logs (Dir/connect.log from the worker, Dir/connect.out for
	// the JVM's own output). Empty means a new temporary directory.
	Dir string
	// Bootstrap is the address of the Kafka cluster the worker reads and
	// writes, such as [Kafka.Bootstrap].
	Bootstrap string
	// Port is the REST API's port on 127.0.0.1; 0 picks a free one.
	Port int
	// Keep leaves Dir in place on Stop. Without it Stop removes Dir, even
	// one the caller named.
	Keep bool
}

// Connect is a running standalone Kafka Connect worker started by
// [StartConnect], managed through its REST API at [Connect.URL]. Its
// methods are safe for concurrent use.
type Connect struct {
	port      int
	clusterID string // the Kafka cluster's id, which GET / must report
	dir       string
	srv       *server
	http      *http.Client
}

// ConnectorStatus is what the worker reports about a connector and its
// tasks (GET /connectors/NAME/status).
type ConnectorStatus struct {
	// State is the connector's state: UNASSIGNED, RUNNING, PAUSED,
	// STOPPED, RESTARTING or FAILED.
	State string
	// Trace is the stack trace of the connector's failure, when State is
	// FAILED.
	Trace string
	// Tasks are the connector's tasks in the order of their ids; a
	// connector that has just started may have none yet.
	Tasks []TaskStatus
}

// TaskStatus is the state of one of a connector's tasks.
type TaskStatus struct {
	ID int
	// State is the task's state, as for [ConnectorStatus.State].
	State string
	// Trace is the stack trace of the task's failure, when State is
	// FAILED.
	Trace string
}

// InstallConnect makes sure a Kafka Connect 4.1.1 worker and its plugins
// are in the cache: the worker's jars (connect-runtime, connect-json,
// connect-api, Log4j 2 behind SLF4J) in one directory, and a plugin
// directory with a folder for the Debezium JDBC sink connector 3.5.0.Final
// (with its JDBC drivers, PostgreSQL's among them) and one for Apicurio
// Registry's 2.4.2.Final converters (AvroConverter). A missing java or mvn
// is installed from Debian's packages first, as [InstallKafka] does. Maven
// copies the jars from Maven Central, as the embedded connect-pom.xml
// describes, into a temporary directory in the cache that is renamed into
// place once complete (about 80 MB).
//
// It blocks for the download (ctx bounds it; fifteen minutes when ctx has
// no deadline) and serialises with concurrent installers, in this process
// or others, through a lock file in the cache.
func InstallConnect(ctx context.Context) error {
	_, err := installConnect(ctx)
	return err
}

// installConnect is InstallConnect; it returns the installation's
// directory, which holds libs and plugins.
func installConnect(ctx context.Context) (home string, err error) {
	ctx, cancel := withDefaultTimeout(ctx, connectInstallTimeout)
	defer cancel()
	// The name holds a digest of the pom, so that a changed pom installs
	// anew instead of finding the jars an older one copied.
	sum := sha256.Sum256(connectPOM)
	name := "kafka-connect-" + connectVersion + "-" + hex.EncodeToString(sum[:6])
	return mavenInstall(ctx, "kafka connect", name, connectInstalled, func(ctx context.Context, mvn, tmp string) error {
		pom := filepath.Join(tmp, "pom.xml")
		if err := os.WriteFile(pom, connectPOM, 0o644); err != nil {
			return err
		}
		mvnLog := filepath.Join(tmp, "mvn.log")
		for _, p := range connectProfiles {
			argv := []string{mvn, "-q", "-B", "-f", pom, "-P", p.profile, "dependency:copy-dependencies",
				"-DoutputDirectory=" + filepath.Join(tmp, p.dir)}
			if err := runCommand(ctx, tmp, mvnLog, argv); err != nil {
				return fmt.Errorf("%s: %w (%s)", p.profile, err, mavenHint)
			}
		}
		if err := checkConnectPlugins(filepath.Join(tmp, "plugins")); err != nil {
			return err
		}
		for _, p := range []string{pom, mvnLog} {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// connectInstalled reports whether home holds the worker's jars and both
// plugins.
func connectInstalled(home string) bool {
	return exists(filepath.Join(home, "libs", "connect-runtime-"+connectVersion+".jar")) &&
		exists(filepath.Join(home, "plugins", connectSinkPlugin, connectSinkJar)) &&
		exists(filepath.Join(home, "plugins", connectConverterPlugin, connectConverterJar))
}

// connectWorkerOnly are the jars a plugin folder must not hold a copy of:
// the worker provides them, and a second Jackson next to the worker's
// breaks the JDBC sink's Hibernate.
var connectWorkerOnly = []string{"jackson-core-", "jackson-databind-", "jackson-annotations-", "kafka-clients-", "connect-api-", "slf4j-api-"}

// checkConnectPlugins returns an error naming a jar in a plugin folder
// that only the worker may hold.
func checkConnectPlugins(plugins string) error {
	jars, _ := filepath.Glob(filepath.Join(plugins, "*", "*.jar"))
	for _, j := range jars {
		for _, prefix := range connectWorkerOnly {
			if strings.HasPrefix(filepath.Base(j), prefix) {
				return fmt.Errorf("plugin jar %s duplicates one of the worker's (exclude it in connect-pom.xml)", j)
			}
		}
	}
	return nil
}

// StartConnect installs Kafka Connect if it is missing (see
// [InstallConnect]) and starts a standalone worker
// (org.apache.kafka.connect.cli.ConnectStandalone) against the Kafka
// cluster at opt.Bootstrap, with its REST API on 127.0.0.1. It blocks until
// the REST API answers for that cluster and lists the Debezium JDBC sink
// connector (io.debezium.connector.jdbc.JdbcSinkConnector) and Apicurio's
// converter (io.apicurio.registry.utils.converter.AvroConverter) among its
// plugins. A start on a picked port that loses the port to another process
// is retried on a new one.
//
// The worker's key and value converters default to
// org.apache.kafka.connect.json.JsonConverter with schemas.enable=true (the
// {"schema":…,"payload":…} envelope); a connector's configuration may name
// others (key.converter, value.converter and their settings). Source
// offsets go to Dir/connect.offsets. Connectors are created over REST
// ([Connect.CreateConnector]); a standalone worker keeps them in memory
// only, so a new worker starts with none.
//
// ctx bounds installation (fifteen minutes when it has no deadline) and
// then start-up (two minutes when it has no deadline); the worker runs
// until [Connect.Stop]. The worker process dies with the calling process.
// On error nothing is left running and Dir is removed unless opt.Keep is
// set.
func StartConnect(ctx context.Context, opt ConnectOptions) (*Connect, error) {
	if opt.Bootstrap == "" {
		return nil, errors.New("start kafka connect: ConnectOptions.Bootstrap is empty (pass the Kafka cluster's address, such as Kafka.Bootstrap())")
	}
	home, err := installConnect(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	java, err := findBinary("java")
	if err != nil {
		return nil, fmt.Errorf("start kafka connect: %w", err)
	}
	clusterID, err := kafkaClusterID(ctx, opt.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("start kafka connect: %w", err)
	}
	dir, err := prepareDir(opt.Dir, "sluice-connect-")
	if err != nil {
		return nil, fmt.Errorf("start kafka connect: %w", err)
	}
	srv := &server{dir: dir, removeDir: !opt.Keep}
	c := &Connect{clusterID: clusterID, dir: dir, srv: srv, http: &http.Client{Transport: &http.Transport{}}}
	fail := func(err error) (*Connect, error) {
		_ = srv.close()
		c.http.CloseIdleConnections()
		return nil, fmt.Errorf("start kafka connect: %w", err)
	}
	logFile := filepath.Join(dir, "connect.log")
	srv.outLog = filepath.Join(dir, "connect.out")
	srv.logs = []string{logFile, srv.outLog}
	srv.probe = c.ready
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(log4j, []byte(connectLog4j(logFile)), 0o644); err != nil {
		return fail(err)
	}
	props := filepath.Join(dir, "worker.properties")
	for attempt := 1; ; attempt++ {
		c.port = opt.Port
		if c.port != 0 {
			if err := checkPortFree(c.port); err != nil {
				return fail(err)
			}
		} else {
			ports, err := freePorts(1)
			if err != nil {
				return fail(err)
			}
			c.port = ports[0]
		}
		cfg := connectConfig{
			Bootstrap:  opt.Bootstrap,
			Port:       c.port,
			Offsets:    filepath.Join(dir, "connect.offsets"),
			PluginPath: filepath.Join(home, "plugins"),
		}
		if err := os.WriteFile(props, []byte(cfg.render()), 0o644); err != nil {
			return fail(err)
		}
		srv.argv = []string{java,
			"-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData", "-Djava.awt.headless=true",
			"-Dlog4j2.configurationFile=" + log4j,
			"-cp", filepath.Join(home, "libs", "*"),
			"org.apache.kafka.connect.cli.ConnectStandalone", props,
		}
		err = srv.start(ctx)
		if err == nil {
			return c, nil
		}
		if attempt == 3 || !isAddrInUse(err) {
			return fail(fmt.Errorf("%w%s", err, registryLogCauses(logFile)))
		}
	}
}

// kafkaClusterID returns the id of the Kafka cluster at bootstrap.
func kafkaClusterID(ctx context.Context, bootstrap string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return "", fmt.Errorf("kafka at %s: %w", bootstrap, err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("kafka at %s does not answer (start it first, e.g. with StartKafka): %w", bootstrap, err)
	}
	return md.Cluster, nil
}

// connectConfig is what varies between the worker.properties files this
// package writes.
type connectConfig struct {
	Bootstrap  string
	Port       int    // REST listener on 127.0.0.1
	Offsets    string // offset.storage.file.filename
	PluginPath string
}

// render returns worker.properties for a standalone worker.
func (c connectConfig) render() string {
	return strings.Join([]string{
		"bootstrap.servers=" + escapeProperty(c.Bootstrap),
		"key.converter=org.apache.kafka.connect.json.JsonConverter",
		"value.converter=org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable=true",
		"value.converter.schemas.enable=true",
		"offset.storage.file.filename=" + escapeProperty(c.Offsets),
		"offset.flush.interval.ms=1000",
		"plugin.path=" + escapeProperty(c.PluginPath),
		// Apicurio's converter has no ServiceLoader manifest, so the
		// plugin folders are scanned as well.
		"plugin.discovery=hybrid_warn",
		fmt.Sprintf("listeners=http://127.0.0.1:%d", c.Port),
		"rest.advertised.host.name=127.0.0.1",
		fmt.Sprintf("rest.advertised.port=%d", c.Port),
		"task.shutdown.graceful.timeout.ms=5000",
	}, "\n") + "\n"
}

// connectLog4j returns a log4j2 configuration that writes the worker's
// messages to logFile: Connect's own at INFO (connector and task
// lifecycle, failures with their traces), the clients' and the plugins'
// libraries at WARN.
func connectLog4j(logFile string) string {
	lines := []string{
		"status = warn",
		"appender.file.type = File",
		"appender.file.name = file",
		"appender.file.fileName = " + escapeProperty(logFile),
		"appender.file.layout.type = PatternLayout",
		"appender.file.layout.pattern = [%d] %p %m (%c)%n",
		"rootLogger.level = info",
		"rootLogger.appenderRef.file.ref = file",
	}
	for i, name := range []string{"org.apache.kafka.clients", "org.apache.kafka.common", "org.reflections", "org.hibernate", "com.mchange", "org.eclipse.jetty", "org.glassfish", "org.apache.kafka.connect.runtime.rest.RestServer"} {
		lines = append(lines,
			fmt.Sprintf("logger.quiet%d.name = %s", i, name),
			fmt.Sprintf("logger.quiet%d.level = warn", i))
	}
	return strings.Join(lines, "\n") + "\n"
}

// ready succeeds once the worker on c.port, and not another server,
// answers for the Kafka cluster it was given and lists the JDBC sink and
// the Avro converter among its plugins.
func (c *Connect) ready(ctx context.Context) error {
	var info struct {
		ClusterID string `json:"kafka_cluster_id"`
	}
	if err := c.do(ctx, http.MethodGet, "/", nil, &info); err != nil {
		return err
	}
	if info.ClusterID != c.clusterID {
		return fmt.Errorf("port %d answers for another Kafka cluster (%q, not %q)", c.port, info.ClusterID, c.clusterID)
	}
	var plugins []struct {
		Class string `json:"class"`
	}
	if err := c.do(ctx, http.MethodGet, "/connector-plugins?connectorsOnly=false", nil, &plugins); err != nil {
		return err
	}
	loaded := make(map[string]bool, len(plugins))
	for _, p := range plugins {
		loaded[p.Class] = true
	}
	for _, want := range []string{connectJDBCSink, connectAvroConverter} {
		if !loaded[want] {
			return fmt.Errorf("the worker lists no plugin %s (yet)", want)
		}
	}
	return nil
}

// connectError is an answer of the REST API other than 2xx.
type connectError struct {
	method, path string
	status       int
	message      string
}

func (e *connectError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.method, e.path, e.status, e.message)
}

// do sends a request with body (JSON-encoded unless nil) to the REST API
// and decodes a 2xx answer's body into out unless out is nil. Another
// answer is a *connectError with the worker's message.
func (c *Connect) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL()+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return &connectError{method: method, path: path, status: resp.StatusCode, message: msg}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// URL returns the base URL of the worker's REST API,
// "http://127.0.0.1:port".
func (c *Connect) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
}

// Dir returns the directory that holds the worker's configuration, offsets
// and logs.
func (c *Connect) Dir() string { return c.dir }

// CreateConnector creates the connector name with config (POST
// /connectors; "name" in config may be left out). The worker validates the
// configuration first and refuses an invalid one, naming what is wrong; a
// connector that exists already is refused too. It blocks until the worker
// has answered; the connector and its tasks start in the background (see
// [Connect.WaitRunning]).
func (c *Connect) CreateConnector(ctx context.Context, name string, config map[string]string) error {
	if name == "" {
		return errors.New("create connector: empty name")
	}
	if n, ok := config["name"]; ok && n != name {
		return fmt.Errorf("create connector %s: config names it %q", name, n)
	}
	body := struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}{name, config}
	if err := c.do(ctx, http.MethodPost, "/connectors", body, nil); err != nil {
		return fmt.Errorf("create connector %s: %w", name, err)
	}
	return nil
}

// DeleteConnector stops and removes the connector name (DELETE
// /connectors/NAME). It blocks until the worker has answered.
func (c *Connect) DeleteConnector(ctx context.Context, name string) error {
	if err := c.do(ctx, http.MethodDelete, "/connectors/"+url.PathEscape(name), nil, nil); err != nil {
		return fmt.Errorf("delete connector %s: %w", name, err)
	}
	return nil
}

// ConnectorStatus returns the state of the connector name and of its tasks
// (GET /connectors/NAME/status). A name the worker does not know is an
// error (HTTP 404).
func (c *Connect) ConnectorStatus(ctx context.Context, name string) (ConnectorStatus, error) {
	var st struct {
		Connector struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"connector"`
		Tasks []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"tasks"`
	}
	if err := c.do(ctx, http.MethodGet, "/connectors/"+url.PathEscape(name)+"/status", nil, &st); err != nil {
		return ConnectorStatus{}, fmt.Errorf("status of connector %s: %w", name, err)
	}
	out := ConnectorStatus{State: st.Connector.State, Trace: st.Connector.Trace}
	for _, t := range st.Tasks {
		out.Tasks = append(out.Tasks, TaskStatus{ID: t.ID, State: t.State, Trace: t.Trace})
	}
	slices.SortFunc(out.Tasks, func(a, b TaskStatus) int { return a.ID - b.ID })
	return out, nil
}

// Failure returns an error naming the connector or the first task that is
// FAILED, with a summary of its trace, or nil when none is.
func (s ConnectorStatus) Failure() error {
	if s.State == "FAILED" {
		return fmt.Errorf("connector FAILED: %s", traceSummary(s.Trace))
	}
	for _, t := range s.Tasks {
		if t.State == "FAILED" {
			return fmt.Errorf("task %d FAILED: %s", t.ID, traceSummary(t.Trace))
		}
	}
	return nil
}

// running reports whether the connector and at least one task run, and
// every task does.
func (s ConnectorStatus) running() bool {
	if s.State != "RUNNING" || len(s.Tasks) == 0 {
		return false
	}
	for _, t := range s.Tasks {
		if t.State != "RUNNING" {
			return false
		}
	}
	return true
}

// String describes the connector's and its tasks' states, such as
// "RUNNING, tasks [0 RUNNING]".
func (s ConnectorStatus) String() string {
	tasks := make([]string, len(s.Tasks))
	for i, t := range s.Tasks {
		tasks[i] = fmt.Sprintf("%d %s", t.ID, t.State)
	}
	return fmt.Sprintf("%s, tasks [%s]", s.State, strings.Join(tasks, ", "))
}

// WaitRunning blocks until the connector name is RUNNING with at least one
// task and every task RUNNING. It fails as soon as the connector or a task
// is FAILED, with that failure's trace (its message and causes; the whole
// trace is in ConnectorStatus and Dir/connect.log), when the worker has
// not known the connector for ten seconds, or when ctx is done (two
// minutes when it has no deadline).
func (c *Connect) WaitRunning(ctx context.Context, name string) error {
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	var (
		missingSince time.Time
		last         string
	)
	for {
		st, err := c.ConnectorStatus(ctx, name)
		var ce *connectError
		switch {
		case err == nil:
			missingSince = time.Time{}
			if err := st.Failure(); err != nil {
				return fmt.Errorf("connector %s: %w (see %s)", name, err, filepath.Join(c.dir, "connect.log"))
			}
			if st.running() {
				return nil
			}
			last = st.String()
		case errors.As(err, &ce) && ce.status == http.StatusNotFound:
			if missingSince.IsZero() {
				missingSince = time.Now()
			} else if time.Since(missingSince) > connectMissingGrace {
				return fmt.Errorf("connector %s: the worker does not know it (create it with CreateConnector): %w", name, err)
			}
			last = err.Error()
		case ctx.Err() == nil:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connector %s is not running: %w (last status: %s)%s", name, ctx.Err(), last, registryLogCauses(filepath.Join(c.dir, "connect.log")))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// traceSummary shortens a Java stack trace to its message and its causes,
// each with the first two frames under it.
func traceSummary(trace string) string {
	trace = strings.TrimSpace(trace)
	if trace == "" {
		return "(no trace)"
	}
	var out []string
	frames := 0
	for _, l := range strings.Split(trace, "\n") {
		l = strings.TrimRight(l, "\r")
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "at "):
			if frames < 2 {
				out = append(out, "\t"+t)
			}
			frames++
		case strings.HasPrefix(t, "..."):
		case t == "":
		default:
			out = append(out, l)
			frames = 0
		}
	}
	return strings.Join(out, "\n")
}

// Stop shuts the worker down (SIGTERM; SIGKILL after 30 s), stopping its
// connectors, and blocks until it has exited, then removes Dir unless
// [ConnectOptions.Keep] was set. It is safe to call more than once.
func (c *Connect) Stop() error {
	err := c.srv.close()
	c.http.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("stop kafka connect: %w", err)
	}
	return nil
}
