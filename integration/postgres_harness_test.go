//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// pg is the PostgreSQL shared by the PostgreSQL tests (MySQL-only runs
// never start it).
var pg = &lazyServer[*local.Postgres]{what: "postgresql", start: func(ctx context.Context) (*local.Postgres, error) {
	return local.StartPostgres(ctx, local.PostgresOptions{Args: []string{
		"max_replication_slots=40", "max_wal_senders=40", "wal_sender_timeout=20s",
	}})
}}

func pgServer(t *testing.T) *local.Postgres { return pg.get(t) }

// pgFixture is one PostgreSQL test's private corner: a database of its own
// on the shared server, its own topics, checkpoint topic, slot and
// publication. The embedded fixture gives the Kafka side (read, count,
// eventually, converge helpers) and runs the sluice binary.
type pgFixture struct {
	*fixture
	srv    *local.Postgres
	dbname string
	conn   *pgx.Conn
}

func newPGFixture(t *testing.T) *pgFixture {
	t.Helper()
	return newPGFixtureOn(t, pgServer(t))
}

// newPGFixtureOn is newPGFixture on another PostgreSQL server.
func newPGFixtureOn(t *testing.T, srv *local.Postgres) *pgFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	base := strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_"))
	if len(base) > 40 {
		base = base[:40]
	}
	base = fmt.Sprintf("%s_%d", base, time.Now().UnixNano()%100000)
	f := &fixture{t: t, ctx: ctx, db: "public", name: strings.ReplaceAll(base, "_", "-"), prefix: "t." + base, cp: "cp." + base}
	kc, err := kgo.NewClient(kgo.SeedBrokers(kafka.Bootstrap()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	f.kc, f.adm = kc, kadm.NewClient(kc)
	if err := srv.Exec(ctx, "", "CREATE DATABASE "+pgx.Identifier{base}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	pf := &pgFixture{fixture: f, srv: srv, dbname: base}
	conn, err := srv.Conn(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	pf.conn = conn
	t.Cleanup(func() {
		conn.Close(context.Background())
		// Slots hold WAL and count against max_replication_slots: drop the
		// test's slots once its sluice processes are gone (cleanups run in
		// reverse order, so the processes were killed already).
		c, err := srv.Conn(context.Background(), "postgres")
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for range 20 {
			_, err := c.Exec(context.Background(),
				"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", base)
			if err == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	return pf
}

// exec runs statements in the test's database, each in its own transaction.
func (f *pgFixture) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.conn.Exec(f.ctx, s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// newConn opens another connection to the test's database, closed at
// cleanup.
func (f *pgFixture) newConn() *pgx.Conn {
	f.t.Helper()
	c, err := f.srv.Conn(f.ctx, f.dbname)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// slotName is the slot sluice derives from the source name.
func (f *pgFixture) slotName() string {
	return "sluice_" + strings.ReplaceAll(f.name, "-", "_")
}

// config is a sluice configuration reading the test's database; extra
// YAML is appended.
func (f *pgFixture) config(extra string) string {
	return fmt.Sprintf(`name: %s
source:
  type: postgresql
  host: 127.0.0.1
  port: %d
  user: %s
  database: %s
tables:
  include: ["public.*"]
kafka:
  brokers: ["%s"]
  topic_prefix: %s
  checkpoint_topic: %s
  checkpoint_interval: 200ms
  topic_config:
    min.compaction.lag.ms: "3600000"   # tests read every record, superseded ones too
%s%sadmin:
  listen: 127.0.0.1:0
log:
  level: debug
%s`, f.name, f.srv.Port(), f.srv.User(), f.dbname, kafka.Bootstrap(), f.prefix, f.cp, f.kafkaYAML, f.formatYAML(), extra)
}

// tableRows returns the rows of table as key JSON → column → text, like
// fixture.tableRows; keyCol must be an integer column.
func (f *pgFixture) tableRows(table, keyCol string, cols ...string) map[string]map[string]string {
	f.t.Helper()
	var sel []string
	for _, c := range cols {
		sel = append(sel, pgx.Identifier{c}.Sanitize()+"::text")
	}
	q := "SELECT " + strings.Join(append([]string{pgx.Identifier{keyCol}.Sanitize() + "::text"}, sel...), ", ") + " FROM " + pgx.Identifier{table}.Sanitize()
	rows, err := f.conn.Query(f.ctx, q)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		vals := make([]*string, len(cols)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		row := map[string]string{}
		for j, c := range cols {
			if vals[j+1] == nil {
				row[c] = "NULL"
			} else {
				row[c] = *vals[j+1]
			}
		}
		out[fmt.Sprintf(`{"%s":%s}`, keyCol, *vals[0])] = row
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// converge waits until the compacted topic equals the table.
func (f *pgFixture) converge(table, keyCol string, cols ...string) []record {
	f.t.Helper()
	var recs []record
	f.eventually(90*time.Second, "topic "+f.topic(table)+" equals table "+table, func() (bool, string) {
		recs = f.read(f.topic(table))
		want := f.tableRows(table, keyCol, cols...)
		got := f.topicRows(recs, cols...)
		return diffRows(want, got)
	})
	return recs
}

// slot returns the slot's confirmed_flush_lsn and whether it exists.
func (f *pgFixture) slot() (confirmed uint64, ok bool) {
	f.t.Helper()
	var lsn *string
	err := f.conn.QueryRow(f.ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", f.slotName()).Scan(&lsn)
	if err == pgx.ErrNoRows {
		return 0, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if lsn == nil {
		return 0, true
	}
	var hi, lo uint64
	if _, err := fmt.Sscanf(*lsn, "%X/%X", &hi, &lo); err != nil {
		f.t.Fatalf("parse lsn %q: %v", *lsn, err)
	}
	return hi<<32 | lo, true
}
