// Command quickstart runs sluice end to end on this machine: `make
// quickstart` runs it.
//
//	go run ./deploy/quickstart                    demo, then keep printing until Ctrl-C
//	go run ./deploy/quickstart -once              demo, then stop and exit (non-zero if it fails)
//	go run ./deploy/quickstart -source mysql      MariaDB only (-source postgresql: PostgreSQL only; default both)
//	go run ./deploy/quickstart -install-only      install MariaDB, PostgreSQL, Kafka, the schema registry and Kafka Connect into the cache, then exit
//
// # What it does
//
// It starts, side by side, a local MariaDB (binlog on, ROW format, FULL row
// image and row metadata, GTIDs), a local PostgreSQL (wal_level=logical), a
// single-node Apache Kafka (KRaft) and a schema registry (Apicurio, with
// Confluent's API) as processes with package deploy/local, under
// .quickstart/ at the root of the repository. They keep their data there,
// so a second run reuses it; installs are cached outside the repository
// (see deploy/local). -source mysql leaves PostgreSQL out, -source
// postgresql MariaDB.
//
// It loads the sample database shop (customers and orders, a few rows
// each) into each database, dropping and recreating it: in MariaDB the
// database shop, in PostgreSQL the schema shop of the database shop, whose
// customers table has REPLICA IDENTITY FULL and whose orders table keeps
// the default. It creates the user sluice on each with the least
// privileges sluice needs and a new random password: on MariaDB SELECT,
// RELOAD, REPLICATION SLAVE and BINLOG MONITOR; on PostgreSQL a role with
// LOGIN REPLICATION and SELECT on the tables, which reads a publication
// the tables' owner creates (its name is in sluice's configuration). The
// previous run's replication slots on shop are dropped with the database.
// Because each database is new, the previous run's topics of that source,
// checkpoint included (every topic named quickstart.mysql.* or
// quickstart.pg.*), are deleted: sluice starts over with a fresh snapshot.
//
// It builds sluice into .quickstart/bin and runs one `sluice run` per
// source as a child, with .quickstart/sluice-mysql.yaml or sluice-pg.yaml
// (format avro, the registry's URL) and its log in .quickstart/sluice-*.log;
// the password reaches it in SLUICE_SOURCE_PASSWORD, never on its command
// line. A consumer of its own reads quickstart.mysql.shop.* and
// quickstart.pg.shop.* from the start and prints every record: topic,
// partition and offset, key, op, the row images, or TOMBSTONE, and the
// record's headers (sluice.unavailable.before and .after name the columns
// PostgreSQL did not send). Avro keys and values are decoded with their
// writer schema, fetched by id from the registry (franz-go pkg/sr) and read
// generically with goavro; rows print as compact JSON in column order,
// values shown as sluice's JSON format shows them.
//
// Once the snapshots' records are printed it makes live changes on each
// source (an insert, an update, a delete, a primary-key update), printing
// each statement and waiting for its records from every source. Then it
// keeps printing until SIGINT or SIGTERM, or with -once it exits. Either
// way it stops the sluices (SIGTERM, waiting for each), then the servers,
// keeping their data.
//
// # Promises
//
//   - No process it starts outlives it: the sluices and the servers get
//     SIGKILL when the quickstart dies.
//   - With -once it exits 0 only when every record of the live changes,
//     tombstones included, has been printed from every source and
//     everything stopped cleanly. When they do not arrive within three
//     minutes of the sluices' start, or a sluice exits, it exits 1 and
//     prints the end of the sluices' logs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

const (
	// topicPrefix starts every topic of a run; each source adds its own
	// part (quickstart.mysql, quickstart.pg).
	topicPrefix = "quickstart"
	// sourceName starts sluice's name of each source (quickstart-mysql,
	// quickstart-pg), the key of its checkpoint.
	sourceName = "quickstart"
	// demoTimeout bounds the time from the sluices' start until the last
	// record of the live changes has arrived.
	demoTimeout = 3 * time.Minute
)

func main() {
	installOnly := flag.Bool("install-only", false, "install MariaDB, PostgreSQL, Kafka, the schema registry and Kafka Connect (into the cache) if missing, then exit")
	once := flag.Bool("once", false, "exit after the live changes' records have been printed; exit 1 if they do not arrive within "+demoTimeout.String())
	which := flag.String("source", sourceBoth, "the database(s) to capture: mysql (MariaDB), postgresql or both")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./deploy/quickstart [-source mysql|postgresql|both] [-once | -install-only]\n\n"+
			"Runs MariaDB and PostgreSQL, Kafka, a schema registry and sluice under .quickstart/ and prints the records sluice writes.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	kinds, err := sourceKinds(*which)
	if flag.NArg() > 0 || err != nil {
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
		}
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if *installOnly {
		err = install(ctx)
	} else {
		err = run(ctx, kinds, *once)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// say prints one step of the quickstart.
func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

// install installs MariaDB, PostgreSQL, Kafka, the schema registry and
// Kafka Connect unless they are there already. It blocks for the downloads and the
// registry's build.
func install(ctx context.Context) error {
	say("Installing MariaDB (Debian packages) unless present")
	if err := local.InstallMariaDB(ctx); err != nil {
		return err
	}
	say("Installing PostgreSQL (Debian packages) unless present")
	pgBin, err := local.InstallPostgres(ctx)
	if err != nil {
		return err
	}
	say("Installing Apache Kafka (jars from Maven Central, cached) unless present")
	libs, err := local.InstallKafka(ctx)
	if err != nil {
		return err
	}
	say("Installing the schema registry (Apicurio Registry, built with Maven, cached) unless present")
	if err := local.InstallRegistry(ctx); err != nil {
		return err
	}
	say("Installing Kafka Connect with Debezium's JDBC sink (jars from Maven Central, cached; the integration tests use it) unless present")
	if err := local.InstallConnect(ctx); err != nil {
		return err
	}
	say("Ready: MariaDB installed, PostgreSQL in %s, Kafka in %s, schema registry and Kafka Connect installed", pgBin, libs)
	return nil
}

// run is the quickstart. Cancellation of ctx (Ctrl-C) is a normal end
// unless once is set; a stop that is not clean is an error either way.
func run(ctx context.Context, kinds []string, once bool) error {
	var stopErrs []error
	err := runSteps(ctx, kinds, once, &stopErrs)
	if err != nil && ctx.Err() != nil {
		if once {
			err = errors.New("interrupted before the demo finished")
		} else {
			err = nil
		}
	}
	return errors.Join(append([]error{err}, stopErrs...)...)
}

// runSteps brings everything up, runs the demo and stops everything again,
// appending the errors of the stops to stopErrs.
func runSteps(ctx context.Context, kinds []string, once bool, stopErrs *[]error) error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, ".quickstart")
	bin := filepath.Join(dir, "bin", "sluice")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}

	say("Building sluice into %s", rel(bin))
	if err := local.BuildSluice(ctx, root, bin); err != nil {
		return err
	}

	sources := make([]*source, len(kinds))
	names := []string{}
	for i, k := range kinds {
		sources[i] = &source{kind: k}
		names = append(names, sources[i].label())
	}
	say("Starting %s, Kafka and the schema registry under %s (a first run installs them, which takes a few minutes)",
		strings.Join(names, ", "), rel(dir))
	srv, err := startServers(ctx, dir, kinds)
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the servers (their data stays in %s)", rel(dir))
		if err := srv.stop(); err != nil {
			*stopErrs = append(*stopErrs, err)
		}
	}()
	for _, src := range sources {
		if src.kind == sourcePostgres {
			src.postgres = srv.postgres
		} else {
			src.mariadb = srv.mariadb
		}
		say("%s listens on 127.0.0.1:%d", src.label(), src.port())
	}
	say("Kafka listens on %s, the schema registry (Confluent API) on %s", srv.kafka.Bootstrap(), srv.registry.URL())

	passwords := make([]string, len(sources))
	for i, src := range sources {
		if passwords[i], err = newPassword(); err != nil {
			return err
		}
		say("Loading the sample database shop (customers and orders, %d rows; dropped and recreated) and the user %s with a new random password into %s",
			snapshotRows, sluiceUser, src.describeLoad())
		if err := src.load(ctx, passwords[i]); err != nil {
			return err
		}
		deleted, err := deleteTopics(ctx, srv.kafka.Bootstrap(), src.prefix())
		if err != nil {
			return err
		}
		if len(deleted) > 0 {
			say("Deleted the previous run's topics of %s, checkpoint included (%s): shop is new, so sluice starts over with a snapshot",
				src.label(), strings.Join(deleted, ", "))
		}
	}

	exited := make(chan *sluiceProcess, len(sources))
	for i, src := range sources {
		config, logPath := src.files(dir)
		settings := src.settings(srv.kafka.Bootstrap(), srv.registry.URL())
		if err := os.WriteFile(config, []byte(settings.configYAML()), 0o644); err != nil {
			return fmt.Errorf("write sluice's configuration: %w", err)
		}
		say("Starting sluice for %s: %s run --config %s (format avro; password in SLUICE_SOURCE_PASSWORD), log in %s",
			src.label(), rel(bin), rel(config), rel(logPath))
		proc, err := startSluice(root, bin, config, logPath, sluiceEnv(os.Environ(), passwords[i]), exited)
		if err != nil {
			return err
		}
		src.proc = proc
		defer func() {
			if proc.running() {
				say("Stopping sluice for %s", src.label())
			}
			if err := proc.stop(); err != nil {
				*stopErrs = append(*stopErrs, err)
			}
		}()
	}

	reg, err := srv.registry.Client()
	if err != nil {
		return err
	}
	s := startSession(ctx, srv.kafka.Bootstrap(), reg, sources, exited)
	defer s.close()
	return s.demo(ctx, once)
}

// findRoot returns the repository's root: the nearest directory, from the
// working directory up, that holds go.mod.
func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	return rootFrom(wd)
}

func rootFrom(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find the repository root: no go.mod in %s or above; run the quickstart inside the sluice repository", dir)
		}
		d = parent
	}
}

// rel returns path relative to the working directory when it lies below
// it, else path itself.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	r, err := filepath.Rel(wd, path)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return path
	}
	return r
}
