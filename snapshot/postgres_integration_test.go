//go:build integration

package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/deploy/local"
)

// recorder is a sluice.Handler that keeps every event.
type recorder struct {
	events    []*sluice.Event
	failAfter int // fail the event after this many; 0 never
}

func (r *recorder) Change(_ context.Context, ev *sluice.Event) error {
	if r.failAfter > 0 && len(r.events) == r.failAfter {
		return fmt.Errorf("recorder full")
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) Resumable(context.Context, sluice.Position) error { return nil }

// rowsOf returns "table: values" for every event, sorted.
func (r *recorder) rowsOf() []string {
	var out []string
	for _, ev := range r.events {
		out = append(out, fmt.Sprintf("%s: %v", ev.Table.FullName(), ev.After))
	}
	slices.Sort(out)
	return out
}

func parseLSN(t *testing.T, s string) uint64 {
	t.Helper()
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("malformed LSN %q", s)
	}
	return h<<32 | l
}

func TestRunPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "shop",
		`CREATE TABLE orders (id int PRIMARY KEY, note text, secret text, total numeric(10,2), at timestamptz)`,
		`CREATE TABLE log (seq int, msg text)`,
		`CREATE SCHEMA "Sales"`,
		`CREATE TABLE "Sales"."Line Items" (id int PRIMARY KEY, "Qty" int, half int GENERATED ALWAYS AS ("Qty" / 2) STORED)`,
		`CREATE TABLE events (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`,
		`CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu')`,
		`CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us')`,
		`CREATE TABLE parent (id int PRIMARY KEY)`,
		`CREATE TABLE child (extra text) INHERITS (parent)`,
		`CREATE TABLE ignored (id int PRIMARY KEY)`,
		`CREATE VIEW order_notes AS SELECT id, note FROM orders`,
		`INSERT INTO orders VALUES (1, E'tab\there', 's1', 10.5, '2024-01-02 03:04:05.123+00'), (2, NULL, 's2', -1, NULL)`,
		`INSERT INTO log VALUES (1, 'first'), (2, 'second')`,
		`INSERT INTO "Sales"."Line Items" VALUES (1, 7)`,
		`INSERT INTO events VALUES (1, 'eu'), (2, 'us')`,
		`INSERT INTO parent VALUES (1)`,
		`INSERT INTO child VALUES (2, 'x')`,
		`INSERT INTO ignored VALUES (1)`,
	); err != nil {
		t.Fatal(err)
	}

	// A replication connection creates the slot and exports its snapshot;
	// it stays open and idle while the snapshot is read.
	repl, err := pgconn.Connect(ctx, pg.DSN("shop")+"&replication=database")
	if err != nil {
		t.Fatal(err)
	}
	defer repl.Close(context.Background())
	res, err := repl.Exec(ctx, `CREATE_REPLICATION_SLOT "sluice_test" LOGICAL pgoutput EXPORT_SNAPSHOT`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := res[0].Rows[0]
	at := sluice.Position{LSN: parseLSN(t, string(row[1]))}
	snapshotName := string(row[2])

	// Changes after the export must not be read.
	if err := pg.Exec(ctx, "shop",
		`INSERT INTO orders VALUES (3, 'late', 's3', 3, NULL)`,
		`UPDATE orders SET note = 'changed' WHERE id = 1`,
		`DELETE FROM log WHERE seq = 2`,
		`INSERT INTO events VALUES (3, 'eu')`,
		`INSERT INTO child VALUES (3, 'late')`,
	); err != nil {
		t.Fatal(err)
	}

	cfg := PostgresConfig{
		Name: "pg1", Host: pg.Host(), Port: pg.Port(), User: pg.User(), Password: pg.Password(), Database: "shop",
		Selection: &sluice.Selection{
			Include:        []string{"public.*", "Sales.Line Items"},
			Exclude:        []string{"public.ignored"},
			ExcludeColumns: []string{"public.orders.secret"},
			Keys:           map[string][]string{"public.log": {"seq"}},
		},
		ProgressInterval: time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	var rec recorder
	if err := RunPostgres(ctx, cfg, snapshotName, at, &rec); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Sales.Line Items: [1 7]",
		"public.child: [2 x]",
		"public.events: [1 eu]",
		"public.events: [2 us]",
		"public.log: [1 first]",
		"public.log: [2 second]",
		"public.orders: [1 tab\there 10.50 2024-01-02T03:04:05.123000Z]",
		"public.orders: [2 <nil> -1.00 <nil>]",
		"public.parent: [1]",
	}
	if got := rec.rowsOf(); !slices.Equal(got, want) {
		t.Errorf("snapshot rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ev := range rec.events {
		if ev.Op != sluice.OpRead || ev.Before != nil || ev.Source != (sluice.Source{Connector: "postgresql", Name: "pg1", Position: at, Snapshot: true}) {
			t.Errorf("event %+v", ev)
		}
		switch ev.Table.FullName() {
		case "public.orders":
			if ev.Table.ColumnIndex("secret") >= 0 || !slices.Equal(ev.Table.Key, []int{0}) || !ev.Table.PrimaryKey {
				t.Errorf("orders shape: %+v", ev.Table)
			}
		case "public.log":
			if !slices.Equal(ev.Table.Key, []int{0}) || ev.Table.PrimaryKey {
				t.Errorf("log shape (configured key): %+v", ev.Table)
			}
		case "Sales.Line Items":
			if len(ev.Table.Columns) != 2 {
				t.Errorf("generated column read: %+v", ev.Table.Columns)
			}
		case "public.events":
			if !slices.Equal(ev.Table.Key, []int{0, 1}) {
				t.Errorf("events key: %+v", ev.Table.Key)
			}
		}
	}

	// Without a snapshot name it reads the current data.
	rec = recorder{}
	if err := RunPostgres(ctx, cfg, "", at, &rec); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.events); got != 9+1+1+1-1 { // + order 3, event 3, child 3; - log 2
		t.Errorf("%d rows without a snapshot, want 11:\n%s", got, strings.Join(rec.rowsOf(), "\n"))
	}

	// Tables, partitions and snapshots that do not exist.
	sel := *cfg.Selection
	cfg.Selection = &sel
	sel.Include = []string{"public.orders", "public.nope"}
	if err := RunPostgres(ctx, cfg, "", at, &recorder{}); err == nil || !strings.Contains(err.Error(), "public.nope") {
		t.Errorf("missing table: err = %v", err)
	}
	sel.Include = []string{"public.events_eu"}
	if err := RunPostgres(ctx, cfg, "", at, &recorder{}); err == nil || !strings.Contains(err.Error(), "partition of public.events") {
		t.Errorf("a partition named: err = %v", err)
	}
	sel.Include = []string{"public.order_notes"}
	if err := RunPostgres(ctx, cfg, "", at, &recorder{}); err == nil || !strings.Contains(err.Error(), "public.order_notes (a view)") {
		t.Errorf("a view named: err = %v", err)
	}
	sel.Include = []string{"public.*"}
	if err := RunPostgres(ctx, cfg, "00000003-00000002-1", at, &recorder{}); err == nil || !strings.Contains(err.Error(), "must stay open") {
		t.Errorf("unknown snapshot: err = %v", err)
	}
	// A handler error stops the read and comes back.
	if err := RunPostgres(ctx, cfg, "", at, &recorder{failAfter: 1}); err == nil || !strings.Contains(err.Error(), "recorder full") {
		t.Errorf("handler error: err = %v", err)
	}

	// Connection errors name the fix and never the password.
	if err := pg.CreateRole(ctx, "reader", "right-password"); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.User, bad.Password = "reader", "wrong-password-123"
	_, err = ConnectPostgres(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("wrong password: err = %v", err)
	}
	bad.Password = "right-password"
	sel.Include = []string{"public.orders"}
	err = RunPostgres(ctx, bad, "", at, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "GRANT SELECT") {
		t.Errorf("no privilege: err = %v", err)
	}
	bad.Database = "nosuchdb"
	if _, err := ConnectPostgres(ctx, bad); err == nil || !strings.Contains(err.Error(), "source.database") {
		t.Errorf("missing database: err = %v", err)
	}
	bad.Port = 1
	if _, err := ConnectPostgres(ctx, bad); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("closed port: err = %v", err)
	}
}

// TestRunPostgresLargeTable reads more rows than fit one COPY buffer and
// checks that none is lost or repeated.
func TestRunPostgresLargeTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	const n = 50000
	if err := pg.Exec(ctx, "",
		`CREATE TABLE big (id int PRIMARY KEY, pad text, arr int[])`,
		fmt.Sprintf(`INSERT INTO big SELECT g, repeat(E'x\t\\', g %% 50), ARRAY[g, NULL] FROM generate_series(1, %d) g`, n),
	); err != nil {
		t.Fatal(err)
	}
	cfg := PostgresConfig{Name: "pg", Host: pg.Host(), Port: pg.Port(), User: pg.User(), Database: "postgres",
		Selection: &sluice.Selection{Include: []string{"public.big"}}}
	var sum, count int64
	h := handlerFunc(func(ev *sluice.Event) error {
		id := ev.After[0].(int64)
		if want := strings.Repeat("x\t\\", int(id%50)); ev.After[1] != want {
			return fmt.Errorf("row %d: pad %q", id, ev.After[1])
		}
		if arr := ev.After[2].(sluice.Array); !reflect.DeepEqual(arr.Elems, []any{id, nil}) {
			return fmt.Errorf("row %d: arr %#v", id, arr)
		}
		sum += id
		count++
		return nil
	})
	if err := RunPostgres(ctx, cfg, "", sluice.Position{}, h); err != nil {
		t.Fatal(err)
	}
	if count != n || sum != n*(n+1)/2 {
		t.Errorf("read %d rows summing to %d, want %d and %d", count, sum, n, n*(n+1)/2)
	}
}

type handlerFunc func(*sluice.Event) error

func (f handlerFunc) Change(_ context.Context, ev *sluice.Event) error { return f(ev) }
func (f handlerFunc) Resumable(context.Context, sluice.Position) error { return nil }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
