// Package local installs and runs real MariaDB, PostgreSQL and Apache Kafka
// servers, and a schema registry, as throwaway processes on the loopback
// interface, for the integration tests and for `make quickstart`.
//
// # Where it sits
//
// Nothing in the data flow imports this package. It stands up the two ends of
// the flow (a MariaDB or PostgreSQL source with replication switched on, a
// single-node Kafka broker in KRaft mode) so that package integration and the
// quickstart program can point sluice at real servers:
//
//	db, err := local.StartMariaDB(ctx, local.MariaDBOptions{Dir: t.TempDir()})
//	...
//	defer db.Stop()
//	kafka, err := local.StartKafka(ctx, local.KafkaOptions{Dir: t.TempDir()})
//	...
//	defer kafka.Stop()
//	// db.Addr(), db.User(), db.Password(), kafka.Bootstrap()
//	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Dir: t.TempDir()})
//	...
//	defer pg.Stop()
//	// pg.DSN("postgres"), pg.Conn(ctx, "postgres")
//
// # Installing
//
// [StartMariaDB], [StartPostgres], [StartKafka] and [StartRegistry] install
// what is missing first; [InstallMariaDB], [InstallPostgres], [InstallKafka]
// and [InstallRegistry] do only that, for a warm-up step (`make deps`).
// MariaDB and PostgreSQL come from Debian's packages (apt-get, as root or
// through passwordless sudo); PostgreSQL's newest installed major version
// (/usr/lib/postgresql/VERSION/bin) is used, and while the harness installs
// the package a postgresql-common drop-in keeps it from creating and starting
// the system-wide main cluster. Kafka 4.1.1 comes from Maven Central: Maven
// copies the broker's jars, described by the embedded pom.xml, into a cache
// outside the repository: $SLUICE_CACHE if set, else $XDG_CACHE_HOME/sluice,
// else ~/.cache/sluice. Java and Maven themselves come from Debian's packages
// when missing. A download is written to a temporary directory and renamed
// into place, so an interrupted one is never taken for a complete one, and a
// lock file serialises concurrent installers (two test processes).
//
// # Servers
//
// Each server runs in a directory the caller names (or a new temporary one),
// listens on 127.0.0.1 only, on a free port unless the caller fixes one, and
// writes its logs there. A start waits until the server answers a real client
// (go-mysql for MariaDB; pgx for PostgreSQL; franz-go metadata plus a
// validate-only topic creation for Kafka; a franz-go sr.Client listing the
// subjects for the registry) and fails with the tail of the server's logs when
// it does not. A directory that already holds an initialised data directory is
// reused, so a second start with [MariaDBOptions.Keep], [PostgresOptions.Keep],
// [KafkaOptions.Keep] or [RegistryOptions.Keep] continues where the first
// stopped.
//
// MariaDB runs with binlog_format=ROW, binlog_row_image=FULL,
// binlog_row_metadata=FULL and server_id=1 unless the options say otherwise
// ([MariaDBOptions.Args], [MariaDBOptions.NoBinlog]); GTIDs are always on in
// MariaDB. Tests connect as [MariaDB.User] with [MariaDB.Password] at
// [MariaDB.Addr], or use [MariaDB.Exec] and [MariaDB.Conn].
//
// PostgreSQL is initialised with initdb (superuser postgres, UTF8, locale C)
// and runs with wal_level=logical, max_replication_slots=10 and
// max_wal_senders=10, fsync off, unless [PostgresOptions.Args] says
// otherwise. PostgreSQL refuses to run as root, so a root caller's server
// runs as the system user postgres that Debian's package creates, or as
// sluice-pg, created with useradd --system when postgres does not exist;
// that user owns the server's directory. [Postgres.User] (postgres) logs in
// over loopback, replication included, without a password; roles made with
// [Postgres.CreateRole] log in with their password (scram-sha-256), through
// [Postgres.UserDSN]. With [PostgresOptions.TLS] the server takes TCP
// connections only over TLS (hostssl), the harness's own included, and
// lets [Postgres.CertUser] in by the PKI's client certificate.
//
// Kafka runs one node that is both broker and controller, with replication
// factors of 1, auto.create.topics.enable=false and a log cleaner that wakes
// every second; clients use [Kafka.Bootstrap].
//
// For tests of secure connections, [NewTestPKI] writes a throwaway CA, a
// server certificate for localhost and 127.0.0.1, a client certificate and
// an unrelated CA as PEM files (ECDSA P-256 keys in PKCS#8, which Java
// reads too), and [TestPKI.ClientTLS] makes a Go client configuration from
// them. With [KafkaOptions.Secure] the broker adds, next to its PLAINTEXT
// listener, a SASL_SSL listener taking SCRAM-SHA-512, SCRAM-SHA-256 and
// PLAIN for [KafkaSecurity.ScramUsers] ([Kafka.SASLSSLBootstrap]) and a
// listener that demands a client certificate ([Kafka.MTLSBootstrap]):
//
//	pki, err := local.NewTestPKI(t.TempDir())
//	...
//	kafka, err := local.StartKafka(ctx, local.KafkaOptions{Secure: &local.KafkaSecurity{
//		PKI: pki, ScramUsers: map[string]string{"alice": "alice-secret"},
//	}})
//	// kgo.SeedBrokers(kafka.SASLSSLBootstrap()), kgo.DialTLSConfig(pki.ClientTLS()),
//	// kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())
//
// With [MariaDBOptions.TLS] MariaDB serves the PKI's server certificate and
// refuses plain-text TCP logins (require_secure_transport=ON; MariaDB
// answers them "access denied", error 1045); [MariaDB.Conn] and
// [MariaDB.Exec] connect over TLS, verified against the CA, and
// [MariaDB.X509User] is an account created REQUIRE X509 with the privileges
// sluice needs, which logs in with the client certificate only.
//
// # Schema registry
//
// [StartRegistry] runs Apicurio Registry 2.4.2.Final, a schema registry
// that answers Confluent's REST API at [Registry.URL]
// (http://127.0.0.1:PORT/apis/ccompat/v7, the form sr.URLs takes):
// register a version, fetch a schema by id or a subject's versions, check
// compatibility, read and set the global and per-subject compatibility
// level. It enforces that level for real: a version that breaks it is
// refused with HTTP 409.
//
//	reg, err := local.StartRegistry(ctx, local.RegistryOptions{Dir: t.TempDir()})
//	...
//	defer reg.Stop()
//	cl, err := reg.Client() // a franz-go *sr.Client for reg.URL()
//
// Maven Central carries the registry only as a library, so [InstallRegistry]
// runs Quarkus's build over it with Maven (the embedded registry-pom.xml
// says how) and caches the result next to Kafka's jars; a first install
// downloads about 230 MB into ~/.m2 and then takes about 130 MB in the
// cache (about a minute and a half on a 2-core machine; with ~/.m2 warm,
// under a minute). The registry runs on the same Java as Kafka and starts
// in about 5 seconds, using about 160 MB of memory.
//
// Schemas live in an H2 database file under the registry's directory, each
// registration written before it is answered: [Registry.Kill] followed by
// [Registry.Restart] (an outage: clients get connection refused meanwhile)
// keeps every schema, id and compatibility level, and a directory started
// again with [RegistryOptions.Keep] continues where it stopped. A new
// database starts with the global level BACKWARD, Confluent's default, or
// what [RegistryOptions.Compatibility] names. With [RegistryOptions.User]
// and [RegistryOptions.Password], a proxy in this process demands them with
// HTTP basic auth (401 otherwise) in front of the registry process. Where
// the registry differs from Confluent's, [StartRegistry] says how.
//
// Restart (graceful) and Kill (SIGKILL, as in a crash) let tests exercise
// recovery on every server; Restart after Kill is a crash recovery.
//
// # Kafka Connect
//
// [StartConnect] runs a standalone Kafka Connect 4.1.1 worker against a
// broker ([ConnectOptions.Bootstrap]), its REST API at [Connect.URL], with
// two plugins: Debezium's JDBC sink connector 3.5.0.Final (with its JDBC
// drivers, PostgreSQL's included) and Apicurio Registry's 2.4.2.Final
// converters (io.apicurio.registry.utils.converter.AvroConverter, which
// reads Confluent's wire format from [Registry] with
// apicurio.registry.as-confluent=true and apicurio.registry.use-id=contentId).
// Tests create connectors over REST ([Connect.CreateConnector]) and wait
// for them with [Connect.WaitRunning], which fails with the trace of a
// FAILED task. [InstallConnect] copies the jars from Maven Central as the
// embedded connect-pom.xml says, each plugin in a folder of its own that
// holds no second copy of the worker's Jackson or Kafka jars.
//
// # Guarantees
//
//   - Children never outlive the process that started them: each one runs in
//     its own process group and receives SIGKILL when its parent dies, even
//     when the test binary panics or is killed (PostgreSQL's children end
//     themselves when they see their postmaster die).
//   - Stop sends SIGTERM to the process group (PostgreSQL: SIGINT, its fast
//     shutdown, to the postmaster, whose children each have a process group
//     of their own), waits a bounded time, then sends SIGKILL (to the
//     postmaster's children too); it removes the directory unless Keep is
//     set. Stop is safe to call more than once and after Kill.
//   - The context given to a Start function bounds installation (ten minutes
//     when it has no deadline; twenty for the registry, which Maven builds)
//     and then start-up (two minutes when it has no deadline) only; the
//     server keeps running until Stop.
package local
