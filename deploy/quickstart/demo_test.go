package main

import (
	"strings"
	"testing"
)

func TestPendingStrikesOffInAnyOrder(t *testing.T) {
	c := demoChanges[len(demoChanges)-1] // the primary-key update
	left := pending(c.expectAt("quickstart"))
	recs := []record{
		decodeRecord("quickstart.shop.orders", 0, 1, []byte(`{"id":2}`), []byte(`{"op":"d","before":{"id":2}}`)), // other table
		decodeRecord("quickstart.shop.customers", 0, 2, []byte(`{"id":2}`), []byte(`{"op":"d","before":{"id":2}}`)),
		decodeRecord("quickstart.shop.customers", 0, 4, []byte(`{"id":20}`), []byte(`{"op":"c","after":{"id":20}}`)),
		decodeRecord("quickstart.shop.customers", 0, 3, []byte(`{"id":2}`), nil),
	}
	want := []bool{false, true, true, true}
	for i, r := range recs {
		if got := left.see(r); got != want[i] {
			t.Errorf("record %d: see = %v, want %v", i, got, want[i])
		}
	}
	if len(left) != 0 {
		t.Errorf("left = %v, want none", left)
	}
	if c.want[0].op != "d" {
		t.Errorf("see changed the change's own expectations: %v", c.want)
	}
}

func TestTombstoneIsNotADelete(t *testing.T) {
	e := expect{table: "orders", id: "1001", op: "tombstone", prefix: "quickstart"}
	d := decodeRecord("quickstart.shop.orders", 0, 1, []byte(`{"id":1001}`), []byte(`{"op":"d","before":{"id":1001}}`))
	if e.matches(d) {
		t.Error("a delete record matched the tombstone expectation")
	}
	ts := decodeRecord("quickstart.shop.orders", 0, 2, []byte(`{"id":1001}`), nil)
	if !e.matches(ts) {
		t.Error("the tombstone did not match")
	}
}

func TestEveryDemoChangeIsExpected(t *testing.T) {
	ops := map[string]bool{}
	for _, c := range demoChanges {
		if len(c.want) == 0 {
			t.Errorf("change %q expects no record", c.what)
		}
		if c.mysql == "" || c.postgres == "" {
			t.Errorf("change %q lacks the statement of a source", c.what)
		}
		if strings.Contains(c.postgres, "`") || strings.Contains(c.mysql, `"`) {
			t.Errorf("change %q quotes identifiers the other database's way", c.what)
		}
		for _, e := range c.want {
			ops[e.op] = true
		}
	}
	for _, op := range []string{"c", "u", "d", "tombstone"} {
		if !ops[op] {
			t.Errorf("no demo change produces %s", op)
		}
	}
}

func TestSnapshotRowsMatchesTheInserts(t *testing.T) {
	for name, stmts := range map[string][]string{"schemaStatements": schemaStatements, "pgSchemaStatements": pgSchemaStatements} {
		rows := 0
		for _, s := range stmts {
			if strings.HasPrefix(s, "INSERT") {
				rows += strings.Count(s, "), (") + 1
			}
		}
		if rows != snapshotRows {
			t.Errorf("%s insert %d rows, snapshotRows says %d", name, rows, snapshotRows)
		}
	}
}

func TestPostgresStatements(t *testing.T) {
	admin := pgAdminStatements(`p'w\`)
	if !strings.Contains(admin[len(admin)-1], `PASSWORD 'p''w\'`) || !strings.Contains(admin[len(admin)-1], "LOGIN REPLICATION") ||
		strings.Contains(admin[len(admin)-1], "SUPERUSER") {
		t.Errorf("role: %s", admin[len(admin)-1])
	}
	// The slots go before the database: PostgreSQL refuses to drop a
	// database that a replication slot uses.
	if !strings.Contains(admin[0], "pg_drop_replication_slot") || !strings.HasPrefix(admin[1], "DROP DATABASE") {
		t.Errorf("admin statements: %q", admin)
	}
	all := strings.Join(pgSchemaStatements, "\n")
	for _, want := range []string{
		`CREATE PUBLICATION "sluice_quickstart_pg" FOR TABLE "shop"."customers", "shop"."orders"`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA "shop" TO "sluice"`,
		`GRANT USAGE ON SCHEMA "shop" TO "sluice"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %s in\n%s", want, all)
		}
	}
	if strings.Contains(all, "GRANT ALL") || strings.Contains(all, "OWNER TO") {
		t.Error("the role gets more than it needs")
	}
}

func TestUserStatements(t *testing.T) {
	stmts := userStatements("p'w")
	if !strings.Contains(stmts[0], "IDENTIFIED BY 'p''w'") {
		t.Errorf("password not quoted: %s", stmts[0])
	}
	if stmts[1] != "GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'sluice'@'127.0.0.1'" {
		t.Errorf("grant = %s", stmts[1])
	}
	if got := sqlString(`a\b`); got != `'a\\b'` {
		t.Errorf("sqlString = %s", got)
	}
}

func TestNewPassword(t *testing.T) {
	a, err := newPassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newPassword()
	if len(a) < 20 || a == b || strings.ContainsAny(a, `'"\ `) {
		t.Errorf("passwords %q, %q", a, b)
	}
}
