package schema

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/sluice-cdc/sluice"
)

// postgresAvroTable has a column for each PostgreSQL kind, as the
// PostgreSQL mapper describes them.
func postgresAvroTable() *sluice.Table {
	intElem := sluice.Column{Name: "ints", Kind: sluice.KindInt, SourceType: "integer", Nullable: true}
	textElem := sluice.Column{Name: "grid", Kind: sluice.KindString, SourceType: "text", Nullable: true}
	dateElem := sluice.Column{Name: "days", Kind: sluice.KindDate, SourceType: "date", Nullable: true}
	numElem := sluice.Column{Name: "nums", Kind: sluice.KindDecimal, SourceType: "numeric(6,2)", Precision: 6, Scale: 2, Nullable: true}
	ivElem := sluice.Column{Name: "ivs", Kind: sluice.KindInterval, SourceType: "interval", Scale: 6, Nullable: true}
	cols := []sluice.Column{
		{Name: "id", Kind: sluice.KindUUID, SourceType: "uuid"},
		{Name: "i2", Kind: sluice.KindInt, SourceType: "smallint"},
		{Name: "i4", Kind: sluice.KindInt, SourceType: "integer", Nullable: true},
		{Name: "i8", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "o", Kind: sluice.KindInt, SourceType: "oid", Unsigned: true},
		{Name: "b", Kind: sluice.KindBool, SourceType: "boolean", Nullable: true},
		{Name: "r", Kind: sluice.KindFloat, SourceType: "real"},
		{Name: "dp", Kind: sluice.KindDouble, SourceType: "double precision"},
		{Name: "n", Kind: sluice.KindDecimal, SourceType: "numeric(10,2)", Precision: 10, Scale: 2},
		{Name: "nn", Kind: sluice.KindDecimal, SourceType: "numeric(10,2)", Precision: 10, Scale: 2, Nullable: true},
		{Name: "nu", Kind: sluice.KindDecimal, SourceType: "numeric", Scale: -1, Nullable: true},
		{Name: "m", Kind: sluice.KindDecimal, SourceType: "money", Precision: 19, Scale: 2},
		{Name: "t", Kind: sluice.KindString, SourceType: "text"},
		{Name: "ba", Kind: sluice.KindBytes, SourceType: "bytea", Nullable: true},
		{Name: "bit1", Kind: sluice.KindBit, SourceType: "bit(1)", Length: 1},
		{Name: "d", Kind: sluice.KindDate, SourceType: "date"},
		{Name: "tm", Kind: sluice.KindTime, SourceType: "time without time zone", Scale: 6},
		{Name: "ttz", Kind: sluice.KindTimeTZ, SourceType: "time with time zone", Scale: 6},
		{Name: "ts", Kind: sluice.KindDateTime, SourceType: "timestamp without time zone", Scale: 6, Nullable: true},
		{Name: "tstz", Kind: sluice.KindTimestamp, SourceType: "timestamp with time zone", Scale: 6},
		{Name: "iv", Kind: sluice.KindInterval, SourceType: "interval", Scale: 6},
		{Name: "iv2", Kind: sluice.KindInterval, SourceType: "interval", Scale: 6, Nullable: true},
		{Name: "jb", Kind: sluice.KindJSON, SourceType: "jsonb"},
		{Name: "ints", Kind: sluice.KindArray, SourceType: "integer[]", Elem: &intElem},
		{Name: "grid", Kind: sluice.KindArray, SourceType: "text[]", Elem: &textElem, Nullable: true},
		{Name: "days", Kind: sluice.KindArray, SourceType: "date[]", Elem: &dateElem, Nullable: true},
		{Name: "nums", Kind: sluice.KindArray, SourceType: "numeric(6,2)[]", Elem: &numElem, Nullable: true},
		{Name: "ivs", Kind: sluice.KindArray, SourceType: "interval[]", Elem: &ivElem, Nullable: true},
	}
	return &sluice.Table{Database: "public", Name: "pg_types", Columns: cols, Key: []int{0}, PrimaryKey: true}
}

func postgresAvroRows() []sluice.Row {
	inf := sluice.Interval{Months: math.MaxInt32, Days: math.MaxInt32, Microseconds: math.MaxInt64}
	return []sluice.Row{
		{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", int64(-32768), int64(math.MaxInt32), int64(math.MinInt64), uint64(math.MaxUint32),
			true, float32(math.Inf(1)), math.NaN(), "NaN", "Infinity", "1.500", "-92233720368547758.08",
			"", []byte{0, 1}, []byte{1},
			"-0043-03-15", "24:00:00.000000", "12:00:00.000000+05:30", "infinity", "-infinity",
			sluice.Interval{Months: -14, Days: 3, Microseconds: -1}, inf, `{"a":1}`,
			sluice.Array{Dims: []int{3}, Elems: []any{int64(1), nil, int64(-3)}},
			sluice.Array{Dims: []int{2, 2}, Elems: []any{"a", nil, "", "d"}},
			sluice.Array{Dims: []int{3}, Elems: []any{"2024-01-01", "infinity", "10000-01-01"}},
			sluice.Array{Dims: []int{2}, Lower: []int{0}, Elems: []any{"1.50", "NaN"}},
			sluice.Array{Dims: []int{1}, Elems: []any{sluice.Interval{Days: 1}}}},
		{"00000000-0000-0000-0000-000000000000", int64(0), nil, int64(0), uint64(0),
			nil, float32(0), 0.0, "-Infinity", nil, "0", "0.00",
			"x", nil, []byte{0},
			"2000-02-29", "00:00:00.000000", "00:00:00.000000-12:00", "2000-01-01 00:00:00.000000", "1999-12-31T23:00:00.000000Z",
			sluice.Interval{}, nil, "null",
			sluice.Array{}, nil, sluice.Array{}, nil, nil},
	}
}

func TestAvroValueRoundTripPostgres(t *testing.T) {
	opts := AvroOptions{TopicPrefix: "pg"}
	enc, _, cl := newTestAvro(t, opts)
	tbl := postgresAvroTable()
	names := make([]string, len(tbl.Columns))
	for i := range tbl.Columns {
		names[i] = tbl.Columns[i].Name
	}
	for n, row := range postgresAvroRows() {
		if len(row) != len(tbl.Columns) {
			t.Fatalf("row %d has %d values for %d columns", n, len(row), len(tbl.Columns))
		}
		ev := &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row,
			Source: sluice.Source{Connector: "postgresql", Position: sluice.Position{LSN: 0x16B3748}}}
		b, err := enc.Value(context.Background(), ev)
		if err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		got, schema := decodeWire(t, cl, b)
		_, rec := unwrap(got["after"])
		checkRow(t, tbl, names, rec.(map[string]any), row, opts)
		if _, lsn := unwrap(got["source"].(map[string]any)["lsn"]); lsn != int64(0x16B3748) {
			t.Errorf("source.lsn = %#v", lsn)
		}
		// byte-equal to goavro's own encoding of what it decoded
		codec, _ := goavro.NewCodec(schema)
		again, err := codec.BinaryFromNative(nil, got)
		if err != nil {
			t.Fatalf("row %d: goavro cannot re-encode: %v", n, err)
		}
		if !bytes.Equal(again, b[5:]) {
			t.Errorf("row %d: sluice wrote\n% x\ngoavro writes\n% x", n, b[5:], again)
		}
		kb, err := enc.Key(context.Background(), tbl, row)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := decodeWire(t, cl, kb)
		if key["id"] != row[0] {
			t.Errorf("key %#v", key)
		}
	}
	_, value, _ := AvroSchemas(tbl, opts)
	for _, frag := range []string{
		`{"name":"iv2","type":["null","sluice.Interval"],"default":null`,
		`{"name":"n","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2},"string"],"default":null`,
		`{"name":"m","type":{"type":"bytes","logicalType":"decimal","precision":19,"scale":2},"default":"\u0000"`,
		`{"name":"nu","type":["null","string"]`,
		`{"name":"o","type":"long"`,
		`{"name":"id","type":{"type":"string","logicalType":"uuid"},"default":"00000000-0000-0000-0000-000000000000"`,
		`"items":["null","sluice.Interval"]`,
	} {
		if !strings.Contains(value, frag) {
			t.Errorf("value schema lacks %s:\n%s", frag, value)
		}
	}
}

// TestAvroUnavailableColumns: a NOT NULL column whose value the source did
// not send gets its field's default; a nullable one null.
func TestAvroUnavailableColumns(t *testing.T) {
	enc, _, cl := newTestAvro(t, AvroOptions{})
	tbl := postgresAvroTable()
	full := postgresAvroRows()[0]
	before := make(sluice.Row, len(full))
	before[0] = full[0]
	var unavailable []int
	for i := 1; i < len(full); i++ {
		unavailable = append(unavailable, i)
	}
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: tbl, Before: before, After: full, BeforeUnavailable: unavailable}
	b, err := enc.Value(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	got, schema := decodeWire(t, cl, b)
	_, rec := unwrap(got["before"])
	m := rec.(map[string]any)
	// Every unavailable field must equal the default the schema states:
	// decode the schema's defaults by reading a record written with none
	// of the fields (goavro fills defaults on missing fields when encoding).
	codec, _ := goavro.NewCodec(schema)
	defaults, err := codec.BinaryFromNative(nil, map[string]any{"before": map[string]any{"public.pg_types.Value": map[string]any{"id": full[0]}},
		"after": nil, "source": got["source"], "op": "u", "ts_ms": got["ts_ms"]})
	if err != nil {
		t.Fatalf("goavro cannot fill the defaults: %v", err)
	}
	want, _, err := codec.NativeFromBinary(defaults)
	if err != nil {
		t.Fatal(err)
	}
	_, wrec := unwrap(want.(map[string]any)["before"])
	for i := 1; i < len(tbl.Columns); i++ {
		name := tbl.Columns[i].Name
		if !sameNative(m[name], wrec.(map[string]any)[name]) {
			t.Errorf("unavailable %s: %#v, want the default %#v", name, m[name], wrec.(map[string]any)[name])
		}
	}
	// A NULL in a NOT NULL column that is not listed is still an error.
	ev.BeforeUnavailable = unavailable[1:]
	if _, err := enc.Value(context.Background(), ev); err == nil || !strings.Contains(err.Error(), `"i2" is NULL`) {
		t.Errorf("error %v", err)
	}
}

// TestAvroSchemasParseElsewhere: a second Avro implementation (hamba/avro,
// which validates defaults and names) parses every schema sluice writes.
func TestAvroSchemasParseElsewhere(t *testing.T) {
	for _, tbl := range []*sluice.Table{mysqlAvroTable(), postgresAvroTable(), fuzzAvroTable()} {
		for _, ub := range []string{"", UnsignedBigintLong} {
			key, value, err := AvroSchemas(tbl, AvroOptions{TopicPrefix: "a.b", UnsignedBigint: ub})
			if err != nil {
				t.Fatal(err)
			}
			if err := AvroBackwardCompatible(value, value); err != nil {
				t.Errorf("%s value: %v", tbl.FullName(), err)
			}
			if err := AvroBackwardCompatible(key, key); err != nil {
				t.Errorf("%s key: %v", tbl.FullName(), err)
			}
		}
	}
}
