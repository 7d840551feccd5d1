package local

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaVersion is the Apache Kafka release pom.xml names.
const kafkaVersion = "4.1.1"

//go:embed pom.xml
var kafkaPOM []byte

// KafkaOptions configures [StartKafka]. The zero value starts a broker on a
// free port in a new temporary directory that Stop removes.
type KafkaOptions struct {
	// Dir holds the log directory (Dir/data), server.properties,
	// log4j2.properties and the logs (Dir/kafka.log for the broker's
	// warnings, Dir/kafka.out for the JVM's output). Empty means a new
	// temporary directory. A log directory that is already formatted is
	// reused as it is.
	Dir string
	// Port is the client (PLAINTEXT) port on 127.0.0.1; 0 picks a free one.
	// The controller listener always gets a free port of its own.
	Port int
	// Keep leaves Dir in place on Stop. Without it Stop removes Dir, even
	// one the caller named.
	Keep bool
	// Secure, when set, adds a SASL_SSL and an mTLS listener next to the
	// PLAINTEXT one (see [KafkaSecurity]). Nil means the PLAINTEXT listener
	// only.
	Secure *KafkaSecurity
}

// KafkaSecurity adds two listeners to a broker, each on a free port of its
// own on 127.0.0.1, both serving PKI's server certificate (ServerKeyStore,
// read as ssl.keystore.type=PEM):
//
//   - SASL_SSL ([Kafka.SASLSSLBootstrap]): TLS without client certificates,
//     then SASL with SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN, each knowing
//     every user in ScramUsers with the same password.
//   - MTLS ([Kafka.MTLSBootstrap]), security protocol SSL with
//     ssl.client.auth=required: a client must present a certificate PKI's
//     CA signed (ClientCert; the broker trusts CAFile alone).
//
// The PLAINTEXT listener ([Kafka.Bootstrap]) stays, unauthenticated, and so
// do the PLAINTEXT controller and inter-broker listeners. There is no
// authorizer: any client that authenticates may do anything, create topics
// included.
//
// The SCRAM credentials are stored in the cluster's metadata when the log
// directory is formatted (StorageTool format --add-scram), so a reused
// directory ([KafkaOptions.Keep]) keeps the SCRAM users it was formatted
// with, while the PLAIN users, which live in server.properties, follow
// ScramUsers on every start.
type KafkaSecurity struct {
	// PKI provides the broker's certificate and the CA it trusts for
	// client certificates. Required; see [NewTestPKI].
	PKI *TestPKI
	// ScramUsers maps user names to passwords. A name is made of letters,
	// digits and the characters . _ @ -; a password of printable ASCII
	// characters other than space, double quote, backslash and comma
	// (which Kafka's --add-scram and JAAS syntax cannot carry). Empty
	// means a SASL_SSL listener no one can log in to.
	ScramUsers map[string]string
}

// saslMechanisms are the SASL mechanisms the SASL_SSL listener enables.
var saslMechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"}

// check returns an error naming what is wrong with s and how to fix it.
func (s *KafkaSecurity) check() error {
	if s.PKI == nil {
		return errors.New("KafkaOptions.Secure.PKI is nil (make one with NewTestPKI)")
	}
	for _, f := range []string{s.PKI.ServerKeyStore, s.PKI.CAFile} {
		if !exists(f) {
			return fmt.Errorf("KafkaOptions.Secure.PKI: %s is missing (NewTestPKI writes it; was its directory removed?)", f)
		}
	}
	for name, pw := range s.ScramUsers {
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") != "" {
			return fmt.Errorf("KafkaOptions.Secure.ScramUsers: user name %q: use only letters, digits and . _ @ -", name)
		}
		if pw == "" {
			return fmt.Errorf("KafkaOptions.Secure.ScramUsers: user %s has an empty password", name)
		}
		for _, r := range pw {
			if r <= ' ' || r > '~' || r == '"' || r == '\\' || r == ',' {
				return fmt.Errorf("KafkaOptions.Secure.ScramUsers: the password of user %s holds %q (use printable ASCII other than space, double quote, backslash and comma)", name, r)
			}
		}
	}
	return nil
}

// Kafka is a running single-node Kafka broker (KRaft, combined broker and
// controller) started by [StartKafka]. Its methods are safe for concurrent
// use.
type Kafka struct {
	port      int
	saslPort  int      // SASL_SSL listener; 0 without KafkaOptions.Secure
	mtlsPort  int      // MTLS listener; 0 without KafkaOptions.Secure
	pki       *TestPKI // KafkaOptions.Secure.PKI, for ready's TLS handshakes
	clusterID string   // from meta.properties, tells this broker from others
	dir       string
	srv       *server
}

// InstallKafka makes sure the jars of Kafka 4.1.1 are in the cache and
// returns the directory that holds them. A missing java or mvn is installed
// from Debian's packages first (default-jre-headless, maven) like
// [InstallMariaDB] does. The jars are fetched from Maven Central with
// `mvn dependency:copy-dependencies` (about 43 MB) into a temporary
// directory that is renamed into place once complete.
//
// It blocks for the download (ctx bounds it; ten minutes when ctx has no
// deadline) and serialises with concurrent installers, in this process or
// others, through a lock file in the cache.
func InstallKafka(ctx context.Context) (libDir string, err error) {
	ctx, cancel := withDefaultTimeout(ctx, installTimeout)
	defer cancel()
	installed := func(home string) bool { return kafkaInstalled(filepath.Join(home, "libs")) }
	home, err := mavenInstall(ctx, "kafka", "kafka-"+kafkaVersion, installed, func(ctx context.Context, mvn, tmp string) error {
		pom := filepath.Join(tmp, "pom.xml")
		if err := os.WriteFile(pom, kafkaPOM, 0o644); err != nil {
			return err
		}
		argv := []string{mvn, "-q", "-B", "-f", pom, "dependency:copy-dependencies",
			"-DoutputDirectory=" + filepath.Join(tmp, "libs")}
		if err := runCommand(ctx, tmp, filepath.Join(tmp, "mvn.log"), argv); err != nil {
			return fmt.Errorf("%w (%s)", err, mavenHint)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "libs"), nil
}

// kafkaInstalled reports whether libs holds the broker's jar.
func kafkaInstalled(libs string) bool {
	return exists(filepath.Join(libs, "kafka_2.13-"+kafkaVersion+".jar"))
}

// installJavaAndMaven installs java and mvn from Debian's packages when
// either is missing. It blocks.
func installJavaAndMaven(ctx context.Context) error {
	var pkgs []string
	if _, err := findBinary("java"); err != nil {
		pkgs = append(pkgs, "default-jre-headless")
	}
	if _, err := findBinary("mvn"); err != nil {
		pkgs = append(pkgs, "maven")
	}
	if len(pkgs) == 0 {
		return nil
	}
	installed := func() bool {
		_, errJava := findBinary("java")
		_, errMvn := findBinary("mvn")
		return errJava == nil && errMvn == nil
	}
	if err := aptInstall(ctx, installed, pkgs...); err != nil {
		return fmt.Errorf("install kafka: %w", err)
	}
	return nil
}

// StartKafka installs Kafka if it is missing (see [InstallKafka]), formats
// the log directory if it is new, starts a single-node KRaft broker on
// 127.0.0.1 and blocks until a franz-go client sees the broker in the
// metadata and the controller accepts a (validate-only) topic creation. A
// start on picked ports that loses a port to another process is retried on
// new ones. With [KafkaOptions.Secure] it also adds the SASL_SSL and MTLS
// listeners [KafkaSecurity] describes, and the readiness check includes a
// TLS handshake with each of them; a Secure that cannot work (no PKI, a
// user name or password Kafka's syntax cannot carry) is refused before
// anything starts.
//
// ctx bounds installation (ten minutes when it has no deadline) and then
// start-up (two minutes when it has no deadline); the broker runs until
// [Kafka.Stop]. The broker process dies with the calling process. On error
// nothing is left running and Dir is removed unless opt.Keep is set.
func StartKafka(ctx context.Context, opt KafkaOptions) (*Kafka, error) {
	if opt.Secure != nil {
		if err := opt.Secure.check(); err != nil {
			return nil, fmt.Errorf("start kafka: %w", err)
		}
	}
	libs, err := InstallKafka(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	java, err := findBinary("java")
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	dir, err := prepareDir(opt.Dir, "sluice-kafka-")
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	srv := &server{dir: dir, removeDir: !opt.Keep}
	fail := func(err error) (*Kafka, error) {
		_ = srv.close()
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	k := &Kafka{dir: dir, srv: srv}
	var scramUsers map[string]string
	if opt.Secure != nil {
		k.pki = opt.Secure.PKI
		scramUsers = opt.Secure.ScramUsers
	}
	srv.outLog = filepath.Join(dir, "kafka.out")
	srv.logs = []string{filepath.Join(dir, "kafka.log"), srv.outLog}
	srv.probe = k.ready
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(log4j, []byte(kafkaLog4j(filepath.Join(dir, "kafka.log"))), 0o644); err != nil {
		return fail(err)
	}
	jvm := func(heap ...string) []string {
		return append(append([]string{java}, heap...),
			"-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData",
			"-Djava.awt.headless=true", "-Dlog4j2.configurationFile="+log4j,
			"-cp", filepath.Join(libs, "*"))
	}
	for attempt := 1; ; attempt++ {
		n := 2
		if k.pki != nil {
			n = 4
		}
		ports, err := freePorts(n)
		if err != nil {
			return fail(err)
		}
		k.port = ports[0]
		if opt.Port != 0 {
			k.port = opt.Port
			if err := checkPortFree(k.port); err != nil {
				return fail(err)
			}
		}
		cfg := kafkaConfig{Port: k.port, ControllerPort: ports[1], LogDir: filepath.Join(dir, "data")}
		if k.pki != nil {
			k.saslPort, k.mtlsPort = ports[2], ports[3]
			cfg.SASLSSLPort, cfg.MTLSPort = k.saslPort, k.mtlsPort
			cfg.KeyStore, cfg.TrustStore = k.pki.ServerKeyStore, k.pki.CAFile
			cfg.Users = scramUsers
		}
		if attempt == 1 {
			if err := formatKafkaStorage(ctx, dir, cfg, jvm("-Xmx256m")); err != nil {
				return fail(err)
			}
			if k.clusterID, err = readClusterID(cfg.LogDir); err != nil {
				return fail(err)
			}
		}
		props := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(props, []byte(cfg.render()), 0o644); err != nil {
			return fail(err)
		}
		srv.argv = append(jvm("-Xms256m", "-Xmx512m"), "kafka.Kafka", props)
		err = srv.start(ctx)
		if err == nil {
			return k, nil
		}
		if attempt == 3 || !isAddrInUse(err) {
			return fail(err)
		}
	}
}

// formatKafkaStorage formats cfg.LogDir for a new cluster unless it is
// formatted already, storing SCRAM credentials for cfg.Users when the
// secure listeners are on. It formats a temporary directory and renames it
// into place, so an interrupted run is never reused. It blocks.
func formatKafkaStorage(ctx context.Context, dir string, cfg kafkaConfig, jvm []string) error {
	if exists(filepath.Join(cfg.LogDir, "meta.properties")) {
		return nil
	}
	tmp := cfg.LogDir + ".format"
	for _, p := range []string{cfg.LogDir, tmp} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("format storage: %w", err)
		}
	}
	fcfg := cfg
	fcfg.LogDir = tmp
	props := filepath.Join(dir, "format.properties")
	if err := os.WriteFile(props, []byte(fcfg.render()), 0o644); err != nil {
		return fmt.Errorf("format storage: %w", err)
	}
	id, err := newClusterID()
	if err != nil {
		return fmt.Errorf("format storage: %w", err)
	}
	argv := append(jvm, "kafka.tools.StorageTool", "format", "-t", id, "-c", props)
	if cfg.SASLSSLPort != 0 {
		argv = append(argv, scramFormatArgs(cfg.Users)...)
	}
	if err := runCommand(ctx, dir, filepath.Join(dir, "format.log"), argv); err != nil {
		return fmt.Errorf("format storage: %w", err)
	}
	if err := os.Rename(tmp, cfg.LogDir); err != nil {
		return fmt.Errorf("format storage: %w", err)
	}
	return os.Remove(props)
}

// readClusterID returns the cluster.id of a formatted log directory.
func readClusterID(logDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(logDir, "meta.properties"))
	if err != nil {
		return "", fmt.Errorf("read cluster id: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "cluster.id="); ok && v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("read cluster id: no cluster.id in %s (remove %s to format it anew)", filepath.Join(logDir, "meta.properties"), logDir)
}

// newClusterID returns a random cluster id in the form Kafka's
// `StorageTool random-uuid` prints: a version-4 UUID in unpadded URL-safe
// base64 that does not start with a dash.
func newClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generate cluster id: %w", err)
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if !strings.HasPrefix(id, "-") {
			return id, nil
		}
	}
}

// scramFormatArgs returns the StorageTool format arguments that store a
// SCRAM-SHA-512 and a SCRAM-SHA-256 credential for each user, in the order
// of the names. The values are passed without a shell, so they need no
// quoting; [KafkaSecurity.check] keeps out what --add-scram cannot parse.
func scramFormatArgs(users map[string]string) []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(users)) {
		for _, mech := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, name, users[name]))
		}
	}
	return args
}

// kafkaConfig is what varies between the server.properties files this
// package writes.
type kafkaConfig struct {
	Port           int    // client (PLAINTEXT) listener
	ControllerPort int    // KRaft controller listener
	LogDir         string // log.dirs

	// SASLSSLPort and MTLSPort, when SASLSSLPort is not 0, add the
	// SASL_SSL and MTLS listeners of KafkaSecurity.
	SASLSSLPort, MTLSPort int
	KeyStore              string            // PEM file with the key and certificate chain
	TrustStore            string            // PEM file with the CA certificates trusted for clients
	Users                 map[string]string // PLAIN users (the SCRAM ones are formatted in)
}

// render returns server.properties for a single node that is both broker
// and controller, with replication settings a single node can satisfy and a
// log cleaner that wakes often enough for tests to watch compaction.
func (c kafkaConfig) render() string {
	listen := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", c.Port, c.ControllerPort)
	protocols := "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	if c.SASLSSLPort != 0 {
		listen += fmt.Sprintf(",SASL_SSL://127.0.0.1:%d,MTLS://127.0.0.1:%d", c.SASLSSLPort, c.MTLSPort)
		protocols += ",SASL_SSL:SASL_SSL,MTLS:SSL"
	}
	lines := []string{
		"process.roles=broker,controller",
		"node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@127.0.0.1:%d", c.ControllerPort),
		"listeners=" + listen,
		"advertised.listeners=" + listen,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=" + protocols,
		"log.dirs=" + escapeProperty(c.LogDir),
		"num.partitions=1",
		"default.replication.factor=1",
		"min.insync.replicas=1",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"transaction.state.log.num.partitions=1",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=false",
		"log.segment.bytes=1048576",
		"log.roll.ms=60000",
		"log.cleaner.enable=true",
		"log.cleaner.backoff.ms=1000",
		"log.cleaner.min.cleanable.ratio=0.01",
		"log.cleaner.dedupe.buffer.size=16777216",
		"log.retention.check.interval.ms=10000",
		"num.network.threads=2",
		"num.io.threads=4",
	}
	if c.SASLSSLPort != 0 {
		lines = append(lines, c.secureLines()...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// secureLines returns the server.properties lines of the SASL_SSL and MTLS
// listeners: both serve KeyStore; MTLS demands a client certificate that
// TrustStore's CA signed; SASL_SSL takes SCRAM (credentials from the
// metadata) and PLAIN (users listed in its JAAS configuration).
func (c kafkaConfig) secureLines() []string {
	const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
	plain := "org.apache.kafka.common.security.plain.PlainLoginModule required"
	for _, name := range slices.Sorted(maps.Keys(c.Users)) {
		plain += fmt.Sprintf(` user_%s="%s"`, name, c.Users[name])
	}
	plain += ";"
	return []string{
		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + escapeProperty(c.KeyStore),
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + escapeProperty(c.TrustStore),
		"listener.name.mtls.ssl.client.auth=required",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms=" + strings.Join(saslMechanisms, ","),
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=" + scram,
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=" + scram,
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + escapeProperty(plain),
	}
}

// kafkaLog4j returns a log4j2 configuration that writes warnings and errors,
// plus the broker's start and stop messages, to logFile.
func kafkaLog4j(logFile string) string {
	return strings.Join([]string{
		"status = warn",
		"appender.file.type = File",
		"appender.file.name = file",
		"appender.file.fileName = " + escapeProperty(logFile),
		"appender.file.layout.type = PatternLayout",
		"appender.file.layout.pattern = [%d] %p %m (%c)%n",
		"rootLogger.level = warn",
		"rootLogger.appenderRef.file.ref = file",
		"logger.server.name = kafka.server.KafkaRaftServer",
		"logger.server.level = info",
	}, "\n") + "\n"
}

// escapeProperty escapes a value for a Java properties file.
func escapeProperty(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	if strings.HasPrefix(v, " ") {
		v = `\` + v
	}
	return v
}

// ready succeeds once the broker is in the metadata and the controller
// accepts a validate-only topic creation, and, with the secure listeners,
// once each of them completes a TLS handshake with the PKI's client
// configuration.
func (k *Kafka) ready(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Bootstrap()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if md.Cluster != k.clusterID {
		return fmt.Errorf("port %d answers for another cluster (%s)", k.port, md.Cluster)
	}
	if len(md.Brokers) == 0 {
		return errors.New("no broker in the metadata yet")
	}
	resp, err := adm.ValidateCreateTopics(ctx, 1, 1, nil, "sluice-local-ready")
	if err != nil {
		return err
	}
	if err := resp.Error(); err != nil {
		return err
	}
	if k.pki == nil {
		return nil
	}
	for _, addr := range []string{k.SASLSSLBootstrap(), k.MTLSBootstrap()} {
		d := tls.Dialer{Config: k.pki.ClientTLS()}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c.Close()
	}
	return nil
}

// Bootstrap returns the broker's client address, "127.0.0.1:port", the form
// kgo.SeedBrokers takes.
func (k *Kafka) Bootstrap() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port)) }

// SASLSSLBootstrap returns the address of the SASL_SSL listener,
// "127.0.0.1:port", or "" when [KafkaOptions.Secure] was nil. Clients
// connect with TLS trusting [TestPKI.CAFile] and authenticate with SASL
// (SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN) as one of
// [KafkaSecurity.ScramUsers].
func (k *Kafka) SASLSSLBootstrap() string { return loopbackAddr(k.saslPort) }

// MTLSBootstrap returns the address of the listener that demands a client
// certificate, "127.0.0.1:port", or "" when [KafkaOptions.Secure] was nil.
// Clients connect with TLS trusting [TestPKI.CAFile] and presenting
// [TestPKI.ClientCert], as [TestPKI.ClientTLS] does; the broker closes the
// connection of one without a certificate during the handshake.
func (k *Kafka) MTLSBootstrap() string { return loopbackAddr(k.mtlsPort) }

// loopbackAddr returns "127.0.0.1:port", or "" for port 0.
func loopbackAddr(port int) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Dir returns the directory that holds the log directory, the configuration
// and the logs.
func (k *Kafka) Dir() string { return k.dir }

// Restart stops the broker gracefully and starts it again on the same ports
// and log directory. It blocks until the broker is ready again or ctx is
// done. After [Kafka.Kill] it starts the broker after a crash.
func (k *Kafka) Restart(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx)
	defer cancel()
	if err := k.srv.restart(ctx); err != nil {
		return fmt.Errorf("restart kafka: %w", err)
	}
	return nil
}

// Kill sends SIGKILL to the broker, as in a crash, and blocks until it has
// exited. It keeps Dir; [Kafka.Restart] or [Kafka.Stop] may follow.
func (k *Kafka) Kill() { k.srv.kill() }

// Stop shuts the broker down (SIGTERM; SIGKILL after 30 s) and blocks until
// it has exited, then removes Dir unless [KafkaOptions.Keep] was set. It is
// safe to call more than once.
func (k *Kafka) Stop() error {
	if err := k.srv.close(); err != nil {
		return fmt.Errorf("stop kafka: %w", err)
	}
	return nil
}
