package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// connectCheck checks payload p against Connect JSON schema s the way
// JsonConverter reads it: structs have exactly their fields, optional is
// the only way to null, and each value has its type's JSON form.
func connectCheck(t *testing.T, path string, s map[string]any, p any) {
	t.Helper()
	if p == nil {
		if s["optional"] != true {
			t.Errorf("%s: null in a required %v", path, s["type"])
		}
		return
	}
	switch s["type"] {
	case "struct":
		m, ok := p.(map[string]any)
		fields := s["fields"].([]any)
		if !ok || len(m) != len(fields) {
			t.Errorf("%s: %v does not match struct of %d fields", path, p, len(fields))
			return
		}
		for _, f := range fields {
			fm := f.(map[string]any)
			name := fm["field"].(string)
			v, ok := m[name]
			if !ok {
				t.Errorf("%s: payload has no field %s", path, name)
			}
			connectCheck(t, path+"."+name, fm, v)
		}
	case "array":
		a, ok := p.([]any)
		if !ok {
			t.Errorf("%s: %v is not an array", path, p)
			return
		}
		for _, e := range a {
			connectCheck(t, path+"[]", s["items"].(map[string]any), e)
		}
	case "int8", "int16", "int32", "int64":
		n, ok := p.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			t.Errorf("%s: %v is not an integer", path, p)
		}
	case "float", "double":
		if _, ok := p.(json.Number); !ok {
			t.Errorf("%s: %v is not a number", path, p)
		}
	case "boolean":
		if _, ok := p.(bool); !ok {
			t.Errorf("%s: %v is not a boolean", path, p)
		}
	case "string":
		if _, ok := p.(string); !ok {
			t.Errorf("%s: %v is not a string", path, p)
		}
	case "bytes":
		if _, ok := p.(json.Number); ok && s["name"] == connectDecimal {
			return // decimal.format=NUMERIC
		}
		str, ok := p.(string)
		if _, err := base64.StdEncoding.DecodeString(str); !ok || err != nil {
			t.Errorf("%s: %v is not base64", path, p)
		}
	default:
		t.Errorf("%s: unknown type %v", path, s["type"])
	}
}

func decodeConnect(t *testing.T, b []byte) (map[string]any, any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if len(rec) != 2 {
		t.Fatalf("record has members %v, want schema and payload", rec)
	}
	return rec["schema"].(map[string]any), rec["payload"]
}

func TestConnectJSONMatchesItsSchema(t *testing.T) {
	for _, c := range []struct {
		tbl       *sluice.Table
		rows      []sluice.Row
		connector string
	}{{mysqlAvroTable(), mysqlAvroRows(), "mysql"}, {postgresAvroTable(), postgresAvroRows(), "postgresql"}} {
		// PostgreSQL's non-key columns are nullable: the shape the
		// sources build.
		tbl := *c.tbl
		tbl.Columns = append([]sluice.Column(nil), tbl.Columns...)
		for i := range tbl.Columns {
			if c.connector == "postgresql" && i != tbl.Key[0] {
				tbl.Columns[i].Nullable = true
			}
		}
		c.tbl = &tbl
		for _, numeric := range []bool{false, true} {
			opts := v2Options(c.connector)
			opts.Now = func() time.Time { return time.UnixMicro(1700000000123456) }
			enc, err := NewConnectJSONEncoder(opts, numeric)
			if err != nil {
				t.Fatal(err)
			}
			for n, row := range c.rows {
				ev := &sluice.Event{Op: sluice.OpUpdate, Table: c.tbl, Before: row, After: row,
					Source: sluice.Source{Connector: c.connector, Name: "main", CommitTime: time.UnixMilli(1699999999000), TxID: 5}}
				b, reps, err := enc.ValueReplacing(ev, nil)
				if err != nil {
					t.Fatalf("%s row %d: %v", c.connector, n, err)
				}
				s, p := decodeConnect(t, b)
				if s["name"] != "sluice."+c.tbl.Database+"."+c.tbl.Name+".Envelope" {
					t.Errorf("envelope name %v", s["name"])
				}
				connectCheck(t, c.connector, s, p)
				after := p.(map[string]any)["after"].(map[string]any)
				for _, r := range reps {
					if name := c.tbl.Columns[r.Column].Name; after[name] != nil && r.After {
						t.Errorf("replaced %s is %v", name, after[name])
					}
				}
				kb, err := enc.Key(c.tbl, row)
				if err != nil {
					t.Fatal(err)
				}
				ks, kp := decodeConnect(t, kb)
				connectCheck(t, c.connector+" key", ks, kp)
			}
		}
	}
}

func TestConnectJSONValues(t *testing.T) {
	opts := v2Options("mysql")
	enc, err := NewConnectJSONEncoder(opts, false)
	if err != nil {
		t.Fatal(err)
	}
	tbl := mysqlAvroTable()
	row := mysqlAvroRows()[2]
	b, err := enc.Value(&sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row, Source: sluice.Source{Connector: "mysql"}})
	if err != nil {
		t.Fatal(err)
	}
	s, p := decodeConnect(t, b)
	after := p.(map[string]any)["after"].(map[string]any)
	fields := map[string]map[string]any{}
	for _, f := range s["fields"].([]any) {
		fm := f.(map[string]any)
		if fm["field"] == "after" {
			for _, g := range fm["fields"].([]any) {
				gm := g.(map[string]any)
				fields[gm["field"].(string)] = gm
			}
		}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct{ field, schema, value string }{
		{"ti", `"type":"int16"`, `0`},
		{"dec", `"name":"org.apache.kafka.connect.data.Decimal","optional":false,"parameters":{"__debezium.source.column.length":"10","__debezium.source.column.scale":"2","__debezium.source.column.type":"DECIMAL","connect.decimal.precision":"10","scale":"2"},"type":"bytes","version":1`, `"AlQL4/8="`},
		{"d", `"name":"org.apache.kafka.connect.data.Date","optional":true,"type":"int32","version":1`, `-354285`},
		{"tm", `"name":"io.debezium.time.MicroTime"`, `-1`},
		{"ts", `"name":"io.debezium.time.ZonedTimestamp"`, `"2038-01-19T03:14:07.999Z"`},
		{"dt", `"name":"io.debezium.time.MicroTimestamp"`, `-30610224000000000`},
		{"e", `"name":"io.debezium.data.Enum"`, `"a"`},
	} {
		if got := js(fields[c.field]); !strings.Contains(got, c.schema) {
			t.Errorf("%s schema %s, want %s", c.field, got, c.schema)
		}
		if got := js(after[c.field]); got != c.value {
			t.Errorf("%s value %s, want %s", c.field, got, c.value)
		}
	}
	raw, _ := base64.StdEncoding.DecodeString("AlQL4/8=")
	if new(big.Int).SetBytes(raw).String() != "9999999999" {
		t.Errorf("decimal bytes %x", raw)
	}

	num, err := NewConnectJSONEncoder(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err = num.Value(&sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row, Source: sluice.Source{Connector: "mysql"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"dec":99999999.99,`)) || !bytes.Contains(b, []byte(`"biu":9223372036854775807,`)) {
		t.Errorf("numeric decimals: %s", b)
	}
}

func TestConnectJSONReplacesNonFiniteFloats(t *testing.T) {
	tbl := &sluice.Table{Database: "public", Name: "f", Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "integer"},
		{Name: "r", Kind: sluice.KindFloat, SourceType: "real", Nullable: true},
		{Name: "d", Kind: sluice.KindDouble, SourceType: "double precision", Nullable: true},
	}}
	enc, err := NewConnectJSONEncoder(v2Options("postgresql"), false)
	if err != nil {
		t.Fatal(err)
	}
	b, reps, err := enc.ValueReplacing(&sluice.Event{Op: sluice.OpCreate, Table: tbl,
		After: sluice.Row{int64(1), float32(math.Inf(-1)), math.NaN()}, Source: sluice.Source{Connector: "postgresql"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"after":{"id":1,"r":null,"d":null}`)) {
		t.Errorf("value %s", b)
	}
	if len(reps) != 2 || reps[0].Text != "-Infinity" || reps[1].Text != "NaN" {
		t.Errorf("replacements %+v", reps)
	}
}
