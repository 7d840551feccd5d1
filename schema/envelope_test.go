package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

func ordersTable() *sluice.Table {
	return &sluice.Table{
		Database: "shop",
		Name:     "orders",
		Columns: []sluice.Column{
			{Name: "id", Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true},
			{Name: "note", Kind: sluice.KindString, SourceType: "varchar", Charset: "utf8mb4", Nullable: true},
			{Name: "total", Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2},
		},
		Key:        []int{0},
		PrimaryKey: true,
	}
}

func fixedEncoder() *JSONEncoder {
	return &JSONEncoder{Version: "1.2.3", Now: func() time.Time { return time.UnixMilli(1700000000123) }}
}

func TestEnvelope(t *testing.T) {
	tab := ordersTable()
	before := sluice.Row{uint64(7), nil, "1.50"}
	after := sluice.Row{uint64(7), "gift \"wrapped\"", "-2.00"}
	stream := sluice.Source{
		Connector:  "mysql",
		Name:       "main",
		ServerID:   42,
		Position:   sluice.Position{File: "mysql-bin.000003", Offset: 1234},
		GTID:       "0-1-99",
		CommitTime: time.UnixMilli(1699999999000),
	}
	snap := sluice.Source{Connector: "mysql", Name: "main", ServerID: 42, Position: sluice.Position{File: "mysql-bin.000003", Offset: 4}, Snapshot: true}
	const (
		rowBefore = `{"id":7,"note":null,"total":"1.50"}`
		rowAfter  = `{"id":7,"note":"gift \"wrapped\"","total":"-2.00"}`
		srcStream = `{"version":"1.2.3","connector":"mysql","name":"main","server_id":42,"file":"mysql-bin.000003","pos":1234,"gtid":"0-1-99","db":"shop","table":"orders","ts_ms":1699999999000,"snapshot":false}`
		srcSnap   = `{"version":"1.2.3","connector":"mysql","name":"main","server_id":42,"file":"mysql-bin.000003","pos":4,"gtid":null,"db":"shop","table":"orders","ts_ms":0,"snapshot":true}`
	)
	for _, c := range []struct {
		ev   sluice.Event
		want string
	}{
		{sluice.Event{Op: sluice.OpRead, Table: tab, After: before, Source: snap},
			`{"before":null,"after":` + rowBefore + `,"source":` + srcSnap + `,"op":"r","ts_ms":1700000000123}`},
		{sluice.Event{Op: sluice.OpCreate, Table: tab, After: after, Source: stream},
			`{"before":null,"after":` + rowAfter + `,"source":` + srcStream + `,"op":"c","ts_ms":1700000000123}`},
		{sluice.Event{Op: sluice.OpUpdate, Table: tab, Before: before, After: after, Source: stream},
			`{"before":` + rowBefore + `,"after":` + rowAfter + `,"source":` + srcStream + `,"op":"u","ts_ms":1700000000123}`},
		{sluice.Event{Op: sluice.OpDelete, Table: tab, Before: after, Source: stream},
			`{"before":` + rowAfter + `,"after":null,"source":` + srcStream + `,"op":"d","ts_ms":1700000000123}`},
	} {
		got, err := fixedEncoder().Value(&c.ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("op %s:\n got %s\nwant %s", c.ev.Op, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("op %s: invalid JSON %s", c.ev.Op, got)
		}
	}
}

func TestEnvelopeErrors(t *testing.T) {
	tab := ordersTable()
	e := fixedEncoder()
	for name, ev := range map[string]*sluice.Event{
		"no table":   {Op: sluice.OpRead, After: sluice.Row{uint64(1), nil, "1.00"}},
		"unknown op": {Op: 'x', Table: tab, After: sluice.Row{uint64(1), nil, "1.00"}},
		"short row":  {Op: sluice.OpRead, Table: tab, After: sluice.Row{uint64(1)}},
		"bad value":  {Op: sluice.OpRead, Table: tab, After: sluice.Row{uint64(1), nil, 1.5i}},
	} {
		if _, err := e.Value(ev); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestKey(t *testing.T) {
	e := fixedEncoder()
	tab := ordersTable()
	k, err := e.Key(tab, sluice.Row{uint64(7), "x", "1.00"})
	if err != nil || string(k) != `{"id":7}` {
		t.Fatalf("key = %s, %v", k, err)
	}

	// Composite keys follow key order, not column order, and depend on
	// nothing but the key columns' names and values.
	wide := &sluice.Table{
		Database: "shop", Name: "lines",
		Columns: []sluice.Column{
			{Name: "qty", Kind: sluice.KindInt},
			{Name: "order_id", Kind: sluice.KindInt, Unsigned: true},
			{Name: "sku", Kind: sluice.KindString, Charset: "utf8mb4"},
		},
		Key: []int{1, 2}, PrimaryKey: true,
	}
	k1, err := e.Key(wide, sluice.Row{int64(3), uint64(7), "A-1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != `{"order_id":7,"sku":"A-1"}` {
		t.Errorf("composite key = %s", k1)
	}
	reshaped := &sluice.Table{
		Database: "shop", Name: "lines",
		Columns: []sluice.Column{
			{Name: "sku", Kind: sluice.KindString, Charset: "utf8mb4"},
			{Name: "note", Kind: sluice.KindString, Charset: "utf8mb4"},
			{Name: "order_id", Kind: sluice.KindInt, Unsigned: true},
			{Name: "qty", Kind: sluice.KindDecimal, Scale: 2},
		},
		Key: []int{2, 0}, PrimaryKey: true,
	}
	k2, err := e.Key(reshaped, sluice.Row{"A-1", "new column", uint64(7), "3.00"})
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) {
		t.Errorf("key changed with non-key columns: %s vs %s", k1, k2)
	}

	keyless := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{{Name: "a", Kind: sluice.KindInt}}}
	if k, err := e.Key(keyless, sluice.Row{int64(1)}); k != nil || err != nil {
		t.Errorf("keyless key = %s, %v; want nil", k, err)
	}
	if _, err := e.Key(tab, sluice.Row{uint64(1)}); err == nil {
		t.Error("short row accepted")
	}
}

func TestValueDefaultsToNow(t *testing.T) {
	e := NewJSONEncoder("")
	before := time.Now().UnixMilli()
	b, err := e.Value(&sluice.Event{Op: sluice.OpRead, Table: ordersTable(), After: sluice.Row{uint64(1), nil, "0.00"}})
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		TsMs int64 `json:"ts_ms"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if env.TsMs < before || env.TsMs > time.Now().UnixMilli() {
		t.Errorf("ts_ms %d not now", env.TsMs)
	}
	if !strings.Contains(string(b), `"version":""`) {
		t.Errorf("empty version not rendered: %s", b)
	}
}

// benchEvent is a typical 10-column row.
func benchEvent() *sluice.Event {
	tab := &sluice.Table{
		Database: "shop", Name: "orders",
		Columns: []sluice.Column{
			{Name: "id", Kind: sluice.KindInt, Unsigned: true},
			{Name: "customer_id", Kind: sluice.KindInt},
			{Name: "status", Kind: sluice.KindEnum, Members: []string{"new", "paid", "shipped"}},
			{Name: "note", Kind: sluice.KindString, Charset: "utf8mb4", Nullable: true},
			{Name: "city", Kind: sluice.KindString, Charset: "utf8mb4"},
			{Name: "total", Kind: sluice.KindDecimal, Precision: 10, Scale: 2},
			{Name: "weight", Kind: sluice.KindDouble},
			{Name: "created_at", Kind: sluice.KindDateTime, Scale: 6},
			{Name: "updated_at", Kind: sluice.KindTimestamp, Nullable: true},
			{Name: "token", Kind: sluice.KindBytes},
		},
		Key: []int{0}, PrimaryKey: true,
	}
	return &sluice.Event{
		Op:    sluice.OpCreate,
		Table: tab,
		After: sluice.Row{uint64(123456789), int64(42), "paid", nil, "Zürich", "1234.50", 2.75,
			"2024-01-02 03:04:05.123456", "2024-01-02T03:04:05Z", []byte("0123456789abcdef")},
		Source: sluice.Source{Connector: "mysql", Name: "main", ServerID: 1,
			Position: sluice.Position{File: "mysql-bin.000001", Offset: 123456}, GTID: "0-1-1234",
			CommitTime: time.UnixMilli(1700000000000)},
	}
}

func BenchmarkJSONValue(b *testing.B) {
	e := &JSONEncoder{Version: "1.0.0"}
	ev := benchEvent()
	buf, err := e.AppendValue(nil, ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendValue(buf[:0], ev)
	}
}

func BenchmarkJSONValueAlloc(b *testing.B) {
	e := &JSONEncoder{Version: "1.0.0"}
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Value(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONKey(b *testing.B) {
	e := &JSONEncoder{}
	ev := benchEvent()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendKey(buf[:0], ev.Table, ev.After)
	}
}

func TestEnvelopePostgres(t *testing.T) {
	tab := &sluice.Table{Database: "public", Name: "orders", Key: []int{0}, PrimaryKey: true,
		Columns: []sluice.Column{{Name: "id", Kind: sluice.KindInt, SourceType: "integer"}, {Name: "note", Kind: sluice.KindString, SourceType: "text", Nullable: true}}}
	src := sluice.Source{Connector: "postgresql", Name: "pg", Position: sluice.Position{LSN: 0x16B3748}, CommitTime: time.UnixMilli(1699999999000)}
	const srcJSON = `{"version":"1.2.3","connector":"postgresql","name":"pg","server_id":0,"file":"","pos":0,"lsn":23803720,"gtid":null,"db":"public","table":"orders","ts_ms":1699999999000,"snapshot":false}`
	for _, c := range []struct {
		ev   sluice.Event
		want string
	}{
		{sluice.Event{Op: sluice.OpUpdate, Table: tab, Before: sluice.Row{int64(1), nil}, BeforeUnavailable: []int{1}, After: sluice.Row{int64(1), "x"}, Source: src},
			`{"before":{"id":1,"note":null},"after":{"id":1,"note":"x"},"source":` + srcJSON + `,"op":"u","ts_ms":1700000000123}`},
		{sluice.Event{Op: sluice.OpTruncate, Table: tab, Source: src},
			`{"before":null,"after":null,"source":` + srcJSON + `,"op":"t","ts_ms":1700000000123}`},
		// Rows on a truncate are ignored, not rendered.
		{sluice.Event{Op: sluice.OpTruncate, Table: tab, After: sluice.Row{int64(1), "x"}, Source: src},
			`{"before":null,"after":null,"source":` + srcJSON + `,"op":"t","ts_ms":1700000000123}`},
	} {
		got, err := fixedEncoder().Value(&c.ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("op %s:\n got %s\nwant %s", c.ev.Op, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("op %s: invalid JSON %s", c.ev.Op, got)
		}
	}
}
