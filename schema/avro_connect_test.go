package schema

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// v2Options are the options of mapping v2 for a connector.
func v2Options(connector string) AvroOptions {
	return AvroOptions{TopicPrefix: "sluice", Version: "1.2.3", Mapping: AvroMappingV2, Connector: connector, Database: "appdb"}
}

// walkAvroUnions calls fn with every union in schema JSON v.
func walkAvroUnions(v any, fn func([]any)) {
	switch x := v.(type) {
	case []any:
		fn(x)
		for _, e := range x {
			walkAvroUnions(e, fn)
		}
	case map[string]any:
		walkAvroUnions(x["type"], fn)
		walkAvroUnions(x["items"], fn)
		if fields, ok := x["fields"].([]any); ok {
			for _, f := range fields {
				walkAvroUnions(f, fn)
			}
		}
	}
}

// rowFieldTypes returns the Avro type of each field of the Value record
// in value schema text, by field name.
func rowFieldTypes(t *testing.T, value string) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal([]byte(value), &env); err != nil {
		t.Fatal(err)
	}
	before := env["fields"].([]any)[0].(map[string]any)
	row := before["type"].([]any)[1].(map[string]any)
	out := map[string]any{}
	for _, f := range row["fields"].([]any) {
		fm := f.(map[string]any)
		typ := fm["type"]
		if u, ok := typ.([]any); ok {
			typ = u[len(u)-1]
		}
		out[fm["name"].(string)] = typ
	}
	return out
}

func TestAvroV2NoStringUnions(t *testing.T) {
	for _, c := range []struct {
		tbl       *sluice.Table
		connector string
	}{{mysqlAvroTable(), "mysql"}, {postgresAvroTable(), "postgresql"}, {fuzzAvroTable(), "mysql"}} {
		key, value, err := AvroSchemas(c.tbl, v2Options(c.connector))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{key, value} {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				t.Fatal(err)
			}
			walkAvroUnions(v, func(u []any) {
				if len(u) != 2 || u[0] != "null" {
					t.Errorf("%s: union %v is not [\"null\", T]", c.tbl.FullName(), u)
				}
			})
			if !strings.Contains(s, `"sluice.mapping":"v2"`) {
				t.Errorf("%s: schema without the mapping marker", c.tbl.FullName())
			}
		}
		if err := AvroBackwardCompatible(value, value); err != nil {
			t.Error(err)
		}
	}
}

func TestAvroV2ConnectAttributes(t *testing.T) {
	mysql := mysqlAvroTable()
	for i := range mysql.Columns {
		if mysql.Columns[i].Name == "vc" {
			mysql.Columns[i].Length = 64
		}
	}
	_, value, err := AvroSchemas(mysql, v2Options("mysql"))
	if err != nil {
		t.Fatal(err)
	}
	_, pgValue, err := AvroSchemas(postgresAvroTable(), v2Options("postgresql"))
	if err != nil {
		t.Fatal(err)
	}
	my, pg := rowFieldTypes(t, value), rowFieldTypes(t, pgValue)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct {
		types       map[string]any
		field, want string
	}{
		{my, "ti", `"connect.type":"int16"`},
		{my, "siu", `{"connect.parameters":{"__debezium.source.column.type":"SMALLINT UNSIGNED"},"type":"int"}`},
		{my, "biu", `"connect.name":"org.apache.kafka.connect.data.Decimal","connect.parameters":{"__debezium.source.column.type":"BIGINT UNSIGNED","connect.decimal.precision":"20","scale":"0"}`},
		{my, "dec", `"connect.decimal.precision":"10","scale":"2"},"logicalType":"decimal","precision":10,"scale":2`},
		{my, "vc", `"__debezium.source.column.length":"64","__debezium.source.column.type":"VARCHAR"`},
		{my, "e", `"connect.name":"io.debezium.data.Enum","connect.parameters":{"__debezium.source.column.type":"ENUM","allowed":"a,b"}`},
		{my, "j", `"connect.name":"io.debezium.data.Json"`},
		{my, "tm", `"connect.name":"io.debezium.time.MicroTime","connect.parameters":{"__debezium.source.column.scale":"6","__debezium.source.column.type":"TIME"}`},
		{my, "dt", `"connect.name":"io.debezium.time.MicroTimestamp"`},
		{my, "ts", `"connect.name":"io.debezium.time.ZonedTimestamp"`},
		{my, "d", `{"logicalType":"date","type":"int"}`},
		{my, "y", `"connect.name":"io.debezium.time.Year"`},
		{pg, "i2", `"connect.type":"int16"`},
		{pg, "id", `"connect.name":"io.debezium.data.Uuid"`},
		{pg, "jb", `"__debezium.source.column.type":"JSONB"`},
		{pg, "tstz", `"connect.name":"io.debezium.time.ZonedTimestamp","connect.parameters":{"__debezium.source.column.scale":"6","__debezium.source.column.type":"TIMESTAMP"}`},
		{pg, "nu", `"connect.name":"io.debezium.data.VariableScaleDecimal"`},
		{pg, "iv", `"connect.name":"io.debezium.time.Interval"`},
		{pg, "ints", `{"items":["null",{"connect.parameters":{"__debezium.source.column.type":"INTEGER"},"type":"int"}],"type":"array"}`},
	} {
		if got := js(c.types[c.field]); !strings.Contains(got, c.want) {
			t.Errorf("field %s: type %s, want it to contain %s", c.field, got, c.want)
		}
	}
}

// TestAvroV2Replacements writes values no v2 type holds as null and
// reports them; every other value decodes to its canonical value.
func TestAvroV2Replacements(t *testing.T) {
	for _, c := range []struct {
		tbl       *sluice.Table
		rows      []sluice.Row
		connector string
		replaced  map[string]bool // column names replaced in some row
	}{
		{mysqlAvroTable(), mysqlAvroRows(), "mysql", map[string]bool{"d": true, "dt": true, "ts": true, "dtn": true}},
		{postgresAvroTable(), postgresAvroRows(), "postgresql", map[string]bool{"n": true, "nn": true, "ts": true, "tstz": true, "grid": true, "days": true, "nums": true}},
	} {
		opts := v2Options(c.connector)
		enc, _, cl := newTestAvro(t, opts)
		seen := map[string]bool{}
		for n, row := range c.rows {
			ev := &sluice.Event{Op: sluice.OpCreate, Table: c.tbl, After: row, Source: sluice.Source{
				Connector: c.connector, Name: "main", ServerID: 7, Position: sluice.Position{File: "f.000001", Offset: 99, LSN: 12345},
				GTID: "0-1-2", CommitTime: time.UnixMicro(1699999999123456), Row: 3, TxID: 777}}
			b, reps, err := enc.ValueReplacing(context.Background(), ev, nil)
			if err != nil {
				t.Fatalf("%s row %d: %v", c.connector, n, err)
			}
			got, _ := decodeWire(t, cl, b)
			_, after := unwrap(got["after"])
			m := after.(map[string]any)
			replaced := map[int]string{}
			for _, r := range reps {
				if !r.After {
					t.Errorf("replacement %+v in the before-image of a create", r)
				}
				replaced[r.Column] = r.Text
				seen[c.tbl.Columns[r.Column].Name] = true
			}
			for i, col := range c.tbl.Columns {
				_, v := unwrap(m[col.Name])
				if text, ok := replaced[i]; ok {
					if v != nil {
						t.Errorf("%s row %d: replaced column %s decodes to %#v, want null", c.connector, n, col.Name, v)
					}
					if want := replacementText(&c.tbl.Columns[i], row[i]); text != want {
						t.Errorf("%s row %d: replacement text of %s %q, want %q", c.connector, n, col.Name, text, want)
					}
					continue
				}
				if (row[i] == nil) != (v == nil) {
					t.Errorf("%s row %d: column %s decodes to %#v for %#v", c.connector, n, col.Name, v, row[i])
				}
				checkV2Value(t, &c.tbl.Columns[i], row[i], v)
			}
			src := got["source"].(map[string]any)
			if src["ts_us"] != int64(1699999999123456) || src["ts_ms"] != int64(1699999999123) || src["snapshot"] != "false" {
				t.Errorf("source %v", src)
			}
			if c.connector == "mysql" && (src["row"] != int32(3) || src["db"] != "shop") {
				t.Errorf("mysql source %v", src)
			}
			if c.connector == "postgresql" {
				_, tx := unwrap(src["txId"])
				if tx != int64(777) || src["db"] != "appdb" || src["schema"] != "public" {
					t.Errorf("postgresql source %v", src)
				}
			}
		}
		for name := range c.replaced {
			if !seen[name] {
				t.Errorf("%s: column %s was never replaced", c.connector, name)
			}
		}
		for name := range seen {
			if !c.replaced[name] {
				t.Errorf("%s: column %s was replaced", c.connector, name)
			}
		}
	}
}

// checkV2Value checks the decoded value of the kinds whose v2 form
// differs from v1.
func checkV2Value(t *testing.T, col *sluice.Column, v, got any) {
	t.Helper()
	if v == nil {
		return
	}
	switch col.Kind {
	case sluice.KindTimestamp:
		s := v.(string)
		if strings.IndexByte(s, '-') > 4 && s[0] != '-' {
			s = "+" + s
		}
		if got != s {
			t.Errorf("%s: %#v, want %q", col.Name, got, s)
		}
	case sluice.KindInterval:
		want := string(appendInterval(nil, v.(sluice.Interval)))
		if got != want {
			t.Errorf("%s: %#v, want %q", col.Name, got, want)
		}
	case sluice.KindDecimal:
		if col.Scale >= 0 {
			return // as v1
		}
		rec := got.(map[string]any)
		s := v.(string)
		scale := 0
		if i := strings.IndexByte(s, '.'); i >= 0 {
			scale = len(s) - i - 1
		}
		unscaled := new(big.Int).SetBytes(rec["value"].([]byte))
		if b := rec["value"].([]byte); len(b) > 0 && b[0]&0x80 != 0 {
			unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		want, _ := new(big.Int).SetString(strings.Replace(s, ".", "", 1), 10)
		if rec["scale"] != int32(scale) || want == nil || unscaled.Cmp(want) != 0 {
			t.Errorf("%s: %#v, want %q", col.Name, rec, s)
		}
	case sluice.KindArray:
		a := v.(sluice.Array)
		elems, ok := got.([]any)
		if !ok || len(elems) != len(a.Elems) {
			t.Errorf("%s: %#v, want %d elements", col.Name, got, len(a.Elems))
		}
	}
}

func TestAvroV2TextColumns(t *testing.T) {
	opts := v2Options("mysql")
	opts.TextColumn = func(_ *sluice.Table, col *sluice.Column) bool { return col.Name == "d" || col.Name == "ts" }
	enc, _, cl := newTestAvro(t, opts)
	tbl := mysqlAvroTable()
	row := mysqlAvroRows()[0]
	b, reps, err := enc.ValueReplacing(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row,
		Source: sluice.Source{Connector: "mysql"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, schemaText := decodeWire(t, cl, b)
	_, after := unwrap(got["after"])
	m := after.(map[string]any)
	if m["d"] != "0000-00-00" || m["ts"] != "0000-00-00T00:00:00Z" {
		t.Errorf("text columns: d %#v ts %#v", m["d"], m["ts"])
	}
	for _, r := range reps {
		if name := tbl.Columns[r.Column].Name; name == "d" || name == "ts" {
			t.Errorf("text column %s replaced", name)
		}
	}
	if types := rowFieldTypes(t, schemaText); types["d"].(map[string]any)["type"] != "string" {
		t.Errorf("d is %v", types["d"])
	}

	opts.TextColumn = func(_ *sluice.Table, col *sluice.Column) bool { return col.Name == "id" }
	if _, _, err := AvroSchemas(tbl, opts); err == nil || !strings.Contains(err.Error(), "avro.text_columns") {
		t.Errorf("text column of kind int: %v", err)
	}
}

func TestAvroV2NeedsConnector(t *testing.T) {
	_, _, err := AvroSchemas(mysqlAvroTable(), AvroOptions{Mapping: AvroMappingV2})
	if err == nil || !strings.Contains(err.Error(), "connector") {
		t.Errorf("v2 without connector: %v", err)
	}
	_, _, err = AvroSchemas(mysqlAvroTable(), AvroOptions{Mapping: "v3"})
	if err == nil || !strings.Contains(err.Error(), `"v3"`) {
		t.Errorf("mapping v3: %v", err)
	}
}

// TestAvroV2RefusesV1Subjects: a subject holding v1 schemas is never given
// a v2 schema (nor the reverse); the error names both mappings and the fix.
func TestAvroV2RefusesV1Subjects(t *testing.T) {
	enc1, reg, cl := newTestAvro(t, AvroOptions{TopicPrefix: "sluice"})
	tbl := mysqlAvroTable()
	row := mysqlAvroRows()[2]
	ev := &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row, Source: sluice.Source{Connector: "mysql"}}
	if _, err := enc1.Value(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	_ = reg
	enc2, err := NewAvroEncoder(cl, v2Options("mysql"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = enc2.Value(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "mapping v1") || !strings.Contains(err.Error(), "avro.mapping: v1") {
		t.Fatalf("v2 over v1 subject: %v", err)
	}
	if _, err := enc2.Key(context.Background(), tbl, row); err == nil {
		t.Fatal("v2 key registered over a v1 key subject")
	}
	// A fresh topic prefix takes v2.
	opts := v2Options("mysql")
	opts.TopicPrefix = "fresh"
	enc3, err := NewAvroEncoder(cl, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc3.Value(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	enc4, err := NewAvroEncoder(cl, AvroOptions{TopicPrefix: "fresh"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc4.Value(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "mapping v2") {
		t.Fatalf("v1 over v2 subject: %v", err)
	}
}

// TestAvroRoutedTable: a routed table's schemas are named after its topic
// and registered under the topic's subjects, so that every table routed to
// the topic shares them.
func TestAvroRoutedTable(t *testing.T) {
	enc, reg, _ := newTestAvro(t, v2Options("mysql"))
	tbl := mysqlAvroTable()
	tbl.Topic = "all.shop-orders"
	key, _, err := AvroSchemas(tbl, v2Options("mysql"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(key, `"name":"Key","namespace":"all.shop_orders"`) {
		t.Errorf("key schema %s", key)
	}
	if _, err := enc.Key(context.Background(), tbl, mysqlAvroRows()[0]); err != nil {
		t.Fatal(err)
	}
	if !reg.SubjectExists("all.shop-orders-key") || !reg.SubjectExists("all.shop-orders-value") {
		t.Error("routed subjects not registered")
	}
}

// TestPlainZoned: the quick check accepts exactly the texts the full parse
// calls real days of four-digit years.
func TestPlainZoned(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"2024-01-02T03:04:05Z", true}, {"2024-02-29T23:59:59.999999Z", true}, {"1970-01-01T00:00:01.5Z", true},
		{"0000-00-00T00:00:00Z", false}, {"2023-02-29T00:00:00Z", false}, {"2024-13-01T00:00:00Z", false},
		{"2024-01-02T24:00:00Z", false}, {"10000-01-01T00:00:00Z", false}, {"-0001-01-01T00:00:00Z", false},
		{"2024-01-02T03:04:05.Z", false}, {"2024-01-02T03:04:05.1234567Z", false}, {"2024-01-02 03:04:05Z", false},
		{"infinity", false}, {"", false},
	} {
		if got := plainZoned(c.s); got != c.want {
			t.Errorf("plainZoned(%q) = %v, want %v", c.s, got, c.want)
		}
		if c.want {
			if _, res := parseAvroTemporal(c.s, avroOpTimestamp); res != avroTemporalOK {
				t.Errorf("%q passes the quick check but not the parse", c.s)
			}
		}
	}
}
