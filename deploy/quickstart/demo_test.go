package main

import (
	"slices"
	"strings"
	"testing"
)

func TestPendingStrikesOffInAnyOrder(t *testing.T) {
	c := demoChanges[len(demoChanges)-1] // the primary-key update
	left := pending(slices.Clone(c.want))
	recs := []record{
		decodeRecord("quickstart.shop.orders", 0, 1, []byte(`{"id":2}`), []byte(`{"op":"d","before":{"id":2}}`)), // other table
		decodeRecord("quickstart.shop.customers", 0, 2, []byte(`{"id":2}`), []byte(`{"op":"d","before":{"id":2}}`)),
		decodeRecord("quickstart.shop.customers", 0, 4, []byte(`{"id":20}`), []byte(`{"op":"c","after":{"id":20}}`)),
		decodeRecord("quickstart.shop.customers", 0, 3, []byte(`{"id":2}`), nil),
	}
	want := []bool{false, true, true, true}
	for i, r := range recs {
		if got := left.see("quickstart", r); got != want[i] {
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
	e := expect{"orders", "1001", "tombstone"}
	d := decodeRecord("quickstart.shop.orders", 0, 1, []byte(`{"id":1001}`), []byte(`{"op":"d","before":{"id":1001}}`))
	if e.matches("quickstart", d) {
		t.Error("a delete record matched the tombstone expectation")
	}
	ts := decodeRecord("quickstart.shop.orders", 0, 2, []byte(`{"id":1001}`), nil)
	if !e.matches("quickstart", ts) {
		t.Error("the tombstone did not match")
	}
}

func TestEveryDemoChangeIsExpected(t *testing.T) {
	ops := map[string]bool{}
	for _, c := range demoChanges {
		if len(c.want) == 0 {
			t.Errorf("change %q expects no record", c.sql)
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
	rows := 0
	for _, s := range schemaStatements {
		if strings.HasPrefix(s, "INSERT") {
			rows += strings.Count(s, "), (") + 1
		}
	}
	if rows != snapshotRows {
		t.Errorf("schemaStatements insert %d rows, snapshotRows says %d", rows, snapshotRows)
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
