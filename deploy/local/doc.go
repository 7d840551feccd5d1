// Package local installs and runs real MariaDB and Apache Kafka servers as
// throwaway processes on the loopback interface, for the integration tests
// and for `make quickstart`.
//
// # Where it sits
//
// Nothing in the data flow imports this package. It stands up the two ends of
// the flow (a MariaDB source with replication switched on, a single-node
// Kafka broker in KRaft mode) so that package integration and the quickstart
// program can point sluice at real servers:
//
//	db, err := local.StartMariaDB(ctx, local.MariaDBOptions{Dir: t.TempDir()})
//	...
//	defer db.Stop()
//	kafka, err := local.StartKafka(ctx, local.KafkaOptions{Dir: t.TempDir()})
//	...
//	defer kafka.Stop()
//	// db.Addr(), db.User(), db.Password(), kafka.Bootstrap()
//
// # Installing
//
// [StartMariaDB] and [StartKafka] install what is missing first;
// [InstallMariaDB] and [InstallKafka] do only that, for a warm-up step.
// MariaDB comes from Debian's packages (apt-get, as root or through
// passwordless sudo). Kafka 4.1.1 comes from Maven Central: Maven copies the
// broker's jars, described by the embedded pom.xml, into a cache outside the
// repository: $SLUICE_CACHE if set, else $XDG_CACHE_HOME/sluice, else
// ~/.cache/sluice. Java and Maven themselves come from Debian's packages when
// missing. A download is written to a temporary directory and renamed into
// place, so an interrupted one is never taken for a complete one, and a lock
// file serialises concurrent installers (two test processes).
//
// # Servers
//
// Each server runs in a directory the caller names (or a new temporary one),
// listens on 127.0.0.1 only, on a free port unless the caller fixes one, and
// writes its logs there. A start waits until the server answers a real client
// (go-mysql for MariaDB; franz-go metadata plus a validate-only topic creation
// for Kafka) and fails with the tail of the server's logs when it does not.
// A directory that already holds an initialised data directory is reused, so
// a second start with [MariaDBOptions.Keep] or [KafkaOptions.Keep] continues
// where the first stopped.
//
// MariaDB runs with binlog_format=ROW, binlog_row_image=FULL,
// binlog_row_metadata=FULL and server_id=1 unless the options say otherwise
// ([MariaDBOptions.Args], [MariaDBOptions.NoBinlog]); GTIDs are always on in
// MariaDB. Tests connect as [MariaDB.User] with [MariaDB.Password] at
// [MariaDB.Addr], or use [MariaDB.Exec] and [MariaDB.Conn].
//
// Kafka runs one node that is both broker and controller, with replication
// factors of 1, auto.create.topics.enable=false and a log cleaner that wakes
// every second; clients use [Kafka.Bootstrap].
//
// Restart (graceful) and Kill (SIGKILL, as in a crash) let tests exercise
// recovery on both servers; Restart after Kill is a crash recovery.
//
// # Guarantees
//
//   - Children never outlive the process that started them: each one runs in
//     its own process group and receives SIGKILL when its parent dies, even
//     when the test binary panics or is killed.
//   - Stop sends SIGTERM to the process group, waits a bounded time, then
//     sends SIGKILL; it removes the directory unless Keep is set. Stop is safe
//     to call more than once and after Kill.
//   - The context given to a Start function bounds installation (ten minutes
//     when it has no deadline) and then start-up (two minutes when it has no
//     deadline) only; the server keeps running until Stop.
package local
