package schema

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/tombstone"
)

// newTestAvro returns an encoder backed by a fake registry.
func newTestAvro(t testing.TB, opts AvroOptions) (*AvroEncoder, *srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.UnixMilli(1700000000123) }
	}
	enc, err := NewAvroEncoder(cl, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc, reg, cl
}

// decodeWire checks the Confluent framing of b, fetches its schema from
// the registry and decodes the rest with goavro.
func decodeWire(t testing.TB, cl *sr.Client, b []byte) (map[string]any, string) {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("not Confluent wire format: % x", b)
	}
	id := binary.BigEndian.Uint32(b[1:5])
	s, err := cl.SchemaByID(context.Background(), int(id))
	if err != nil {
		t.Fatalf("schema id %d: %v", id, err)
	}
	codec, err := goavro.NewCodec(s.Schema)
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(b[5:])
	if err != nil {
		t.Fatalf("goavro cannot decode % x: %v", b[5:], err)
	}
	if len(rest) != 0 {
		t.Fatalf("goavro left %d bytes undecoded", len(rest))
	}
	return native.(map[string]any), s.Schema
}

// unwrap returns the value of a goavro union ({"branch": value}) and its
// branch name; other values come back as they are with branch "".
func unwrap(v any) (string, any) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			if k != "" && !strings.Contains(k, " ") {
				return k, x
			}
		}
	}
	return "", v
}

// want is the expected goavro native of one value and the union branch
// it must arrive in ("" for plain fields and null).
type want struct {
	branch string
	v      any
}

// wantAvro computes, independently of the encoder, what goavro must decode
// for value v of col: through time.Parse, big.Rat and strconv.
func wantAvro(t testing.TB, col *sluice.Column, v any, opts AvroOptions) want {
	t.Helper()
	if v == nil {
		return want{}
	}
	br := func(name string) string {
		if col.Nullable {
			return name
		}
		return ""
	}
	tbr := func(name string) string { return name } // temporal kinds are always unions
	switch col.Kind {
	case sluice.KindInt:
		base := strings.TrimSuffix(col.SourceType, " unsigned")
		var n *big.Int
		switch x := v.(type) {
		case int64:
			n = big.NewInt(x)
		case uint64:
			n = new(big.Int).SetUint64(x)
		}
		switch {
		case base == "tinyint" || base == "smallint" || base == "mediumint" || base == "integer" || (base == "int" && !col.Unsigned):
			return want{br("int"), int32(n.Int64())}
		case !col.Unsigned || base == "int" || base == "oid":
			return want{br("long"), n.Int64()}
		case opts.UnsignedBigint == "long":
			return want{br("long"), int64(n.Uint64())}
		}
		return want{br("bytes.decimal"), new(big.Rat).SetInt(n)}
	case sluice.KindYear:
		return want{br("int"), int32(v.(int64))}
	case sluice.KindBool:
		return want{br("boolean"), v}
	case sluice.KindFloat:
		return want{br("float"), v}
	case sluice.KindDouble:
		return want{br("double"), v}
	case sluice.KindDecimal:
		numeric := strings.HasPrefix(col.SourceType, "numeric")
		if col.Scale < 0 {
			return want{br("string"), v}
		}
		if numeric && (v == "NaN" || v == "Infinity" || v == "-Infinity") {
			return want{"string", v}
		}
		if numeric {
			return want{"bytes.decimal", mustRat(t, v.(string))}
		}
		r, ok := new(big.Rat).SetString(v.(string))
		if !ok {
			t.Fatalf("test decimal %q", v)
		}
		return want{br("bytes.decimal"), r}
	case sluice.KindString, sluice.KindEnum, sluice.KindSet, sluice.KindJSON, sluice.KindTimeTZ:
		return want{br("string"), v}
	case sluice.KindUUID:
		return want{br("*"), v}
	case sluice.KindInterval:
		iv := v.(sluice.Interval)
		return want{br("sluice.Interval"), map[string]any{"months": iv.Months, "days": iv.Days, "microseconds": iv.Microseconds}}
	case sluice.KindBytes, sluice.KindGeometry:
		return want{br("bytes"), v}
	case sluice.KindBit:
		if col.Length == 1 {
			return want{br("boolean"), v.([]byte)[0] == 1}
		}
		return want{br("bytes"), v}
	case sluice.KindTime:
		s := v.(string)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		parts := strings.Split(s, ":")
		h, _ := strconv.Atoi(parts[0])
		m, _ := strconv.Atoi(parts[1])
		secFrac := strings.SplitN(parts[2], ".", 2)
		sec, _ := strconv.Atoi(secFrac[0])
		us := int64(h*3600+m*60+sec) * 1e6
		if len(secFrac) == 2 {
			f, _ := strconv.Atoi((secFrac[1] + "000000")[:6])
			us += int64(f)
		}
		if neg {
			us = -us
		}
		return want{br("long"), us}
	case sluice.KindDate:
		s := v.(string)
		if d, ok := parseTestDate(s); ok {
			return want{tbr("int.date"), d}
		}
		return want{"string", s}
	case sluice.KindDateTime:
		s := v.(string)
		d, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			return want{"string", s}
		}
		return want{tbr("long.local-timestamp-micros"), d.UnixMicro()}
	case sluice.KindTimestamp:
		s := v.(string)
		d, err := time.Parse("2006-01-02T15:04:05.999999Z", s)
		if err != nil {
			return want{"string", s}
		}
		return want{tbr("long.timestamp-micros"), d}
	}
	t.Fatalf("no expectation for %s", col.Kind)
	return want{}
}

func mustRat(t testing.TB, s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("test decimal %q", s)
	}
	return r
}

// parseTestDate reads [-]Y…Y-MM-DD with time.Date, which handles any year;
// ok is false when time.Date would normalise the date (no such day).
func parseTestDate(s string) (time.Time, bool) {
	neg := strings.HasPrefix(s, "-")
	parts := strings.Split(strings.TrimPrefix(s, "-"), "-")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	y, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	d, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return time.Time{}, false
	}
	if neg {
		y = -y
	}
	tm := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if tm.Year() != y || int(tm.Month()) != m || tm.Day() != d {
		return time.Time{}, false
	}
	return tm, true
}

// sameNative compares a goavro native with an expectation.
func sameNative(got, exp any) bool {
	switch e := exp.(type) {
	case *big.Rat:
		g, ok := got.(*big.Rat)
		return ok && g.Cmp(e) == 0
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(e)
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, e)
	case float32:
		g, ok := got.(float32)
		return ok && math.Float32bits(g) == math.Float32bits(e)
	case float64:
		g, ok := got.(float64)
		return ok && math.Float64bits(g) == math.Float64bits(e)
	}
	return reflect.DeepEqual(got, exp)
}

// checkRow compares a decoded row record with row, field by field.
func checkRow(t testing.TB, tbl *sluice.Table, fieldNames []string, got map[string]any, row sluice.Row, opts AvroOptions) {
	t.Helper()
	for i := range tbl.Columns {
		checkAvroValue(t, "column "+tbl.Columns[i].Name, &tbl.Columns[i], got[fieldNames[i]], row[i], opts)
	}
}

// checkAvroValue compares one decoded field (or array element) with the
// value it was encoded from.
func checkAvroValue(t testing.TB, label string, col *sluice.Column, got, v any, opts AvroOptions) {
	t.Helper()
	if v == nil {
		if got != nil {
			t.Errorf("%s: got %#v, want null", label, got)
		}
		return
	}
	if col.Kind == sluice.KindArray {
		_, rec := unwrap(got)
		m, ok := rec.(map[string]any)
		a := v.(sluice.Array)
		if !ok {
			t.Errorf("%s: got %#v, want an array record", label, got)
			return
		}
		ints := func(x []int) []any {
			out := []any{}
			for _, n := range x {
				out = append(out, int32(n))
			}
			return out
		}
		if !reflect.DeepEqual(m["dims"], ints(a.Dims)) || !reflect.DeepEqual(m["lower"], ints(a.Lower)) {
			t.Errorf("%s: dims %v lower %v, want %v %v", label, m["dims"], m["lower"], a.Dims, a.Lower)
		}
		elems, _ := m["elements"].([]any)
		if len(elems) != len(a.Elems) {
			t.Errorf("%s: %d elements, want %d", label, len(elems), len(a.Elems))
			return
		}
		for i := range elems {
			checkAvroValue(t, fmt.Sprintf("%s[%d]", label, i), col.Elem, elems[i], a.Elems[i], opts)
		}
		return
	}
	w := wantAvro(t, col, v, opts)
	gb, gv := unwrap(got)
	if gb != w.branch && w.branch != "*" {
		// goavro names local-timestamp-micros branches "long" (it does
		// not know the logical type); accept that spelling.
		if !(w.branch == "long.local-timestamp-micros" && gb == "long") {
			t.Errorf("%s value %#v: branch %q, want %q", label, v, gb, w.branch)
			return
		}
	}
	if !sameNative(gv, w.v) {
		t.Errorf("%s value %#v: goavro decoded %#v (%T), want %#v", label, v, gv, gv, w.v)
	}
}

// mysqlAvroTable has a column for every MySQL kind and width, nullable and
// not.
func mysqlAvroTable() *sluice.Table {
	cols := []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "ti", Kind: sluice.KindInt, SourceType: "tinyint"},
		{Name: "tiu", Kind: sluice.KindInt, SourceType: "tinyint unsigned", Unsigned: true},
		{Name: "si", Kind: sluice.KindInt, SourceType: "smallint", Nullable: true},
		{Name: "siu", Kind: sluice.KindInt, SourceType: "smallint unsigned", Unsigned: true},
		{Name: "mi", Kind: sluice.KindInt, SourceType: "mediumint"},
		{Name: "miu", Kind: sluice.KindInt, SourceType: "mediumint unsigned", Unsigned: true},
		{Name: "i", Kind: sluice.KindInt, SourceType: "int", Nullable: true},
		{Name: "iu", Kind: sluice.KindInt, SourceType: "int unsigned", Unsigned: true},
		{Name: "bi", Kind: sluice.KindInt, SourceType: "bigint", Nullable: true},
		{Name: "biu", Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true, Nullable: true},
		{Name: "f", Kind: sluice.KindFloat, SourceType: "float"},
		{Name: "dbl", Kind: sluice.KindDouble, SourceType: "double", Nullable: true},
		{Name: "dec", Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2},
		{Name: "dec65", Kind: sluice.KindDecimal, SourceType: "decimal(65,30)", Precision: 65, Scale: 30, Nullable: true},
		{Name: "dec0", Kind: sluice.KindDecimal, SourceType: "decimal(5,0) unsigned", Precision: 5},
		{Name: "c", Kind: sluice.KindString, SourceType: "char", Charset: "utf8mb4"},
		{Name: "vc", Kind: sluice.KindString, SourceType: "varchar", Charset: "utf8mb4", Nullable: true},
		{Name: "bin", Kind: sluice.KindBytes, SourceType: "binary(4)", Length: 4},
		{Name: "blb", Kind: sluice.KindBytes, SourceType: "blob", Nullable: true},
		{Name: "e", Kind: sluice.KindEnum, SourceType: "enum", Members: []string{"a", "b"}},
		{Name: "st", Kind: sluice.KindSet, SourceType: "set", Members: []string{"x", "y", "z"}, Nullable: true},
		{Name: "b1", Kind: sluice.KindBit, SourceType: "bit(1)", Length: 1},
		{Name: "b12", Kind: sluice.KindBit, SourceType: "bit(12)", Length: 12, Nullable: true},
		{Name: "y", Kind: sluice.KindYear, SourceType: "year"},
		{Name: "d", Kind: sluice.KindDate, SourceType: "date"},
		{Name: "dn", Kind: sluice.KindDate, SourceType: "date", Nullable: true},
		{Name: "tm", Kind: sluice.KindTime, SourceType: "time(6)", Scale: 6},
		{Name: "dt", Kind: sluice.KindDateTime, SourceType: "datetime(6)", Scale: 6},
		{Name: "dtn", Kind: sluice.KindDateTime, SourceType: "datetime", Nullable: true},
		{Name: "ts", Kind: sluice.KindTimestamp, SourceType: "timestamp(3)", Scale: 3},
		{Name: "tsn", Kind: sluice.KindTimestamp, SourceType: "timestamp", Nullable: true},
		{Name: "j", Kind: sluice.KindJSON, SourceType: "json", Nullable: true},
		{Name: "g", Kind: sluice.KindGeometry, SourceType: "point", Nullable: true},
	}
	return &sluice.Table{Database: "shop", Name: "all_types", Columns: cols, Key: []int{0}, PrimaryKey: true}
}

// mysqlAvroRows are edge values for mysqlAvroTable, one row per case.
func mysqlAvroRows() []sluice.Row {
	return []sluice.Row{
		{int64(1), int64(-128), uint64(255), int64(-32768), uint64(65535), int64(-8388608), uint64(16777215),
			int64(math.MinInt32), uint64(math.MaxUint32), int64(math.MinInt64), uint64(math.MaxUint64),
			float32(3.1415927), 1e300, "-12.50", "-12345678901234567890123456789012345.123456789012345678901234567891", "99999",
			"héllo", "", []byte{'a', 0, 0, 0}, []byte{}, "", "x,z", []byte{1}, []byte{0x0a, 0xaa},
			int64(0), "0000-00-00", "2024-02-29", "-838:59:59.000000", "0000-00-00 00:00:00.000000", "9999-12-31 23:59:59",
			"0000-00-00T00:00:00Z", "1970-01-01T00:00:01Z", `{"a":[1,2.5],"b":null}`, []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}},
		{int64(math.MaxInt64), int64(127), uint64(0), nil, uint64(0), int64(8388607), uint64(0),
			int64(math.MaxInt32), uint64(0), int64(math.MaxInt64), uint64(1 << 63),
			float32(-0.0), math.Copysign(0, -1), "0.00", "0.000000000000000000000000000000", "0",
			"a", nil, []byte{0, 0, 0, 0}, nil, "b", nil, []byte{0}, nil,
			int64(2155), "2024-00-15", nil, "838:59:59.000000", "2024-02-30 12:00:00.000001", nil,
			"1970-01-01T00:00:00.000Z", nil, nil, nil},
		{int64(-1), int64(0), uint64(1), int64(32767), uint64(1), int64(0), uint64(1),
			int64(0), uint64(1), nil, uint64(math.MaxInt64),
			float32(math.MaxFloat32), 5e-324, "99999999.99", nil, "1",
			"", "漢字", []byte{0xff, 0xfe, 0xfd, 0xfc}, []byte{0, 1, 2}, "a", "", []byte{0}, []byte{0x0f, 0xff},
			int64(1901), "1000-01-01", "0001-01-01", "-00:00:00.000001", "1000-01-01 00:00:00.000000", "2038-01-19 03:14:07",
			"2038-01-19T03:14:07.999Z", "2024-06-30T23:59:59Z", "[]", []byte{}},
		{int64(0), int64(1), uint64(200), int64(-1), uint64(40000), int64(-1), uint64(9000000),
			int64(-1), uint64(2147483648), int64(-1), uint64(0),
			float32(1e-45), -1.5, "-0.01", "-0.000000000000000000000000000001", "12345",
			" lead", "trail ", []byte{1, 2, 3, 4}, []byte("blob"), "b", "y", []byte{1}, []byte{0, 0},
			int64(1970), "2023-02-29", "0000-01-01", "00:00:00.000000", "2024-01-02 03:04:05.678900", "0000-01-00 00:00:00",
			"2024-01-02T03:04:05.678Z", "2001-09-09T01:46:40Z", "null", nil},
	}
}

func TestAvroValueRoundTripMySQL(t *testing.T) {
	for _, ub := range []string{"", UnsignedBigintLong} {
		t.Run("unsigned_bigint="+ub, func(t *testing.T) {
			opts := AvroOptions{TopicPrefix: "sluice", UnsignedBigint: ub, Version: "1.2.3"}
			enc, _, cl := newTestAvro(t, opts)
			tbl := mysqlAvroTable()
			names := make([]string, len(tbl.Columns))
			for i := range tbl.Columns {
				names[i] = tbl.Columns[i].Name
			}
			for n, row := range mysqlAvroRows() {
				if len(row) != len(tbl.Columns) {
					t.Fatalf("row %d has %d values for %d columns", n, len(row), len(tbl.Columns))
				}
				ev := &sluice.Event{Op: sluice.OpUpdate, Table: tbl, Before: row, After: row, Source: sluice.Source{
					Connector: "mysql", Name: "main", ServerID: 42, Position: sluice.Position{File: "mysql-bin.000003", Offset: 1234},
					GTID: "0-1-99", CommitTime: time.UnixMilli(1699999999000)}}
				b, err := enc.Value(context.Background(), ev)
				if err != nil {
					t.Fatalf("row %d: %v", n, err)
				}
				got, _ := decodeWire(t, cl, b)
				for _, side := range []string{"before", "after"} {
					_, rec := unwrap(got[side])
					m, ok := rec.(map[string]any)
					if !ok {
						t.Fatalf("row %d %s: %#v", n, side, got[side])
					}
					checkRow(t, tbl, names, m, row, opts)
				}
				if got["op"] != "u" || got["ts_ms"] != int64(1700000000123) {
					t.Errorf("op %v ts_ms %v", got["op"], got["ts_ms"])
				}
				src := got["source"].(map[string]any)
				wantSrc := map[string]any{"version": "1.2.3", "connector": "mysql", "name": "main", "server_id": int64(42),
					"file": "mysql-bin.000003", "pos": int64(1234), "db": "shop", "table": "all_types",
					"ts_ms": int64(1699999999000), "snapshot": false}
				for k, v := range wantSrc {
					if src[k] != v {
						t.Errorf("source.%s = %#v, want %#v", k, src[k], v)
					}
				}
				if _, g := unwrap(src["gtid"]); g != "0-1-99" {
					t.Errorf("source.gtid = %#v", src["gtid"])
				}

				kb, err := enc.Key(context.Background(), tbl, row)
				if err != nil {
					t.Fatal(err)
				}
				key, _ := decodeWire(t, cl, kb)
				if len(key) != 1 || key["id"] != row[0] {
					t.Errorf("key %#v, want id %v", key, row[0])
				}
			}
		})
	}
}

// TestAvroValueMatchesGoavro encodes with goavro's BinaryFromNative from
// the natives goavro itself decoded, and requires the same bytes: the plan
// writes exactly what goavro writes.
func TestAvroValueMatchesGoavro(t *testing.T) {
	enc, _, cl := newTestAvro(t, AvroOptions{TopicPrefix: "p"})
	tbl := mysqlAvroTable()
	for n, row := range mysqlAvroRows() {
		b, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row})
		if err != nil {
			t.Fatal(err)
		}
		native, schema := decodeWire(t, cl, b)
		codec, err := goavro.NewCodec(schema)
		if err != nil {
			t.Fatal(err)
		}
		again, err := codec.BinaryFromNative(nil, native)
		if err != nil {
			t.Fatalf("row %d: goavro cannot re-encode: %v", n, err)
		}
		if !bytes.Equal(again, b[5:]) {
			t.Errorf("row %d: sluice wrote\n% x\ngoavro writes\n% x", n, b[5:], again)
		}
	}
}

func TestAvroOps(t *testing.T) {
	enc, _, cl := newTestAvro(t, AvroOptions{})
	tbl := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{{Name: "id", Kind: sluice.KindInt, SourceType: "int"}}, Key: []int{0}}
	row := sluice.Row{int64(7)}
	for _, tc := range []struct {
		ev            sluice.Event
		before, after bool
	}{
		{sluice.Event{Op: sluice.OpRead, After: row, Source: sluice.Source{Snapshot: true}}, false, true},
		{sluice.Event{Op: sluice.OpCreate, After: row}, false, true},
		{sluice.Event{Op: sluice.OpUpdate, Before: row, After: row}, true, true},
		{sluice.Event{Op: sluice.OpDelete, Before: row}, true, false},
		{sluice.Event{Op: sluice.OpTruncate}, false, false},
	} {
		ev := tc.ev
		ev.Table = tbl
		b, err := enc.Value(context.Background(), &ev)
		if err != nil {
			t.Fatalf("op %s: %v", ev.Op, err)
		}
		got, _ := decodeWire(t, cl, b)
		if got["op"] != ev.Op.String() || (got["before"] != nil) != tc.before || (got["after"] != nil) != tc.after {
			t.Errorf("op %s: decoded %#v", ev.Op, got)
		}
		src := got["source"].(map[string]any)
		if src["snapshot"] != ev.Source.Snapshot || src["gtid"] != nil || src["ts_ms"] != int64(0) {
			t.Errorf("op %s: source %#v", ev.Op, src)
		}
	}
	if _, err := enc.Value(context.Background(), &sluice.Event{Op: 'x', Table: tbl}); err == nil {
		t.Error("unknown op accepted")
	}
}

func TestAvroEncodeErrors(t *testing.T) {
	enc, _, _ := newTestAvro(t, AvroOptions{})
	tbl := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "d", Kind: sluice.KindDate, SourceType: "date"},
	}, Key: []int{0}}
	for _, tc := range []struct {
		row  sluice.Row
		want string
	}{
		{sluice.Row{nil, "2024-01-01"}, `column "id" is NULL`},
		{sluice.Row{"7", "2024-01-01"}, "want int64"},
		{sluice.Row{int64(1) << 40, "2024-01-01"}, "does not fit an Avro int"},
		{sluice.Row{int64(1), "2024/01/01"}, "not in the canonical form"},
		{sluice.Row{int64(1)}, "1 values for 2 columns"},
	} {
		_, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: tc.row})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("row %#v: error %v, want %q", tc.row, err, tc.want)
		}
	}
}

// TestAvroKeyStable: the key bytes depend only on the key columns; a new
// shape with different non-key columns gives byte-identical keys.
func TestAvroKeyStable(t *testing.T) {
	enc, _, _ := newTestAvro(t, AvroOptions{TopicPrefix: "p"})
	v1 := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "a", Kind: sluice.KindString, SourceType: "varchar"},
		{Name: "id", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "sku", Kind: sluice.KindString, SourceType: "varchar"},
	}, Key: []int{1, 2}}
	v2 := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "b", Kind: sluice.KindDouble, SourceType: "double", Nullable: true},
		{Name: "sku", Kind: sluice.KindString, SourceType: "varchar"},
		{Name: "c", Kind: sluice.KindInt, SourceType: "bigint", Nullable: true},
	}, Key: []int{0, 2}}
	k1, err := enc.Key(context.Background(), v1, sluice.Row{"x", int64(7), "A-1"})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := enc.Key(context.Background(), v2, sluice.Row{int64(7), 1.5, "A-1", nil})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Errorf("keys differ across shapes:\n% x\n% x", k1, k2)
	}
	want := []byte{0, 0, 0, 0, 0, 14, 6, 'A', '-', '1'}
	copy(want[1:5], k1[1:5])
	if !bytes.Equal(k1, want) {
		t.Errorf("key % x, want % x", k1, want)
	}
	keyless := &sluice.Table{Database: "d", Name: "nokey", Columns: v1.Columns}
	if k, err := enc.Key(context.Background(), keyless, sluice.Row{"x", int64(1), "y"}); k != nil || err != nil {
		t.Errorf("keyless table: key %v, error %v", k, err)
	}
}

func TestAvroSchemaNames(t *testing.T) {
	tbl := &sluice.Table{Database: "my-db", Name: "2024.orders", Columns: []sluice.Column{
		{Name: "a-b", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "a_b", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "a b", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "1st", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "größe", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "", Kind: sluice.KindInt, SourceType: "int"},
	}}
	_, value, err := AvroSchemas(tbl, AvroOptions{TopicPrefix: "cdc.prod-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`"namespace":"cdc.prod_1.my_db._2024_orders"`,
		`{"name":"a_b_2","type":"int","default":0,"sluice.source.type":"int","sluice.column":"a-b"}`,
		`{"name":"a_b","type":"int","default":0,"sluice.source.type":"int"}`,
		`{"name":"a_b_3","type":"int","default":0,"sluice.source.type":"int","sluice.column":"a b"}`,
		`"name":"_1st"`, `"name":"gr__e"`, `{"name":"_","type":"int"`,
	} {
		if !strings.Contains(value, frag) {
			t.Errorf("value schema lacks %s:\n%s", frag, value)
		}
	}
	if got := avroTopicName("p", "d", "t"); got != tombstone.TopicName("p", "d", "t") {
		t.Errorf("topic %q differs from tombstone's", got)
	}
	if got := avroTopicName("", "d", "t"); got != tombstone.TopicName("", "d", "t") {
		t.Errorf("topic %q differs from tombstone's", got)
	}
}

func TestAvroSchemaDeterministic(t *testing.T) {
	a1, b1, err := AvroSchemas(mysqlAvroTable(), AvroOptions{TopicPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		a2, b2, _ := AvroSchemas(mysqlAvroTable(), AvroOptions{TopicPrefix: "p"})
		if a1 != a2 || b1 != b2 {
			t.Fatal("schemas differ between calls")
		}
	}
	if !strings.Contains(b1, `{"name":"dec65","type":["null",{"type":"bytes","logicalType":"decimal","precision":65,"scale":30}],"default":null,"sluice.source.type":"decimal(65,30)"}`) {
		t.Errorf("decimal(65,30) field:\n%s", b1)
	}
	if !strings.Contains(b1, `{"name":"d","type":[{"type":"int","logicalType":"date"},"string"],"default":0,"sluice.source.type":"date"}`) {
		t.Errorf("date field:\n%s", b1)
	}
	if !strings.Contains(b1, `{"name":"tm","type":"long","default":0,"sluice.source.type":"time(6)","sluice.unit":"microseconds"}`) {
		t.Errorf("time field:\n%s", b1)
	}
}

func TestAvroNoMapping(t *testing.T) {
	tbl := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "weird", Kind: sluice.Kind(200), SourceType: "mystery"},
	}}
	_, _, err := AvroSchemas(tbl, AvroOptions{})
	if err == nil || !strings.Contains(err.Error(), `no Avro mapping for invalid column "weird" (mystery)`) {
		t.Errorf("error %v", err)
	}
	if _, _, err := AvroSchemas(tbl, AvroOptions{UnsignedBigint: "string"}); err == nil || !strings.Contains(err.Error(), `unsigned bigint "string"`) {
		t.Errorf("bad option: %v", err)
	}
}

// TestAvroDecimalBytes checks the two's complement of decimal edges
// against big.Int's own arithmetic.
func TestAvroDecimalBytes(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "127", "128", "-128", "-129", "255", "256", "-32768", "-32769",
		"9223372036854775807", "-9223372036854775808", "999999999999999999", "-999999999999999999",
		"18446744073709551615", "99999999999999999999999999999999999999999999999999999999999999999",
		"-99999999999999999999999999999999999999999999999999999999999999999"} {
		got, err := appendAvroDecimal(nil, s, 0)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		n, _ := new(big.Int).SetString(s, 10)
		if d := decodeTwos(t, got); d.Cmp(n) != 0 {
			t.Errorf("%s: encoded % x decodes to %s", s, got, d)
		}
		// minimal: dropping the first byte must change the value's sign
		// or value.
		if l := len(got) - 1; l > 1 {
			if d := decodeTwos(t, append([]byte{byte((l - 1) << 1)}, got[2:]...)); d.Cmp(n) == 0 {
				t.Errorf("%s: % x is not minimal", s, got)
			}
		}
	}
	for _, u := range []uint64{0, 1, 127, 128, 255, 256, math.MaxInt64, 1 << 63, math.MaxUint64} {
		got := appendAvroUnsignedDecimal(nil, u)
		if d := decodeTwos(t, got); d.Cmp(new(big.Int).SetUint64(u)) != 0 {
			t.Errorf("%d: encoded % x decodes to %s", u, got, d)
		}
	}
}

// decodeTwos reads Avro bytes (zig-zag length + big-endian two's
// complement) into a big.Int.
func decodeTwos(t testing.TB, b []byte) *big.Int {
	t.Helper()
	l := int(b[0] >> 1)
	if b[0]&1 != 0 || len(b) != 1+l {
		t.Fatalf("bad length prefix in % x", b)
	}
	n := new(big.Int).SetBytes(b[1:])
	if l > 0 && b[1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*l)))
	}
	return n
}

func TestAvroTemporalParse(t *testing.T) {
	for _, tc := range []struct {
		s    string
		op   avroOp
		n    int64
		res  int
		desc string
	}{
		{"1970-01-01", avroOpDate, 0, avroTemporalOK, ""},
		{"2024-02-29", avroOpDate, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, ""},
		{"0000-01-01", avroOpDate, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, "year 0 is 1 BC"},
		{"-0043-03-15", avroOpDate, time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, ""},
		{"10000-01-01", avroOpDate, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, ""},
		{"5874897-12-31", avroOpDate, time.Date(5874897, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, "PostgreSQL's last date"},
		{"-4713-11-24", avroOpDate, time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).Unix() / 86400, avroTemporalOK, "PostgreSQL's first date"},
		{"12345678-01-01", avroOpDate, 0, avroTemporalBad, "8-digit year"},
		{"0000-00-00", avroOpDate, 0, avroTemporalFallback, ""},
		{"2023-02-29", avroOpDate, 0, avroTemporalFallback, ""},
		{"2024-13-01", avroOpDate, 0, avroTemporalFallback, ""},
		{"infinity", avroOpDate, 0, avroTemporalFallback, ""},
		{"-infinity", avroOpTimestamp, 0, avroTemporalFallback, ""},
		{"2024-1-01", avroOpDate, 0, avroTemporalBad, ""},
		{"2024-01-01 ", avroOpDate, 0, avroTemporalBad, ""},
		{"2024-01-01 24:00:00", avroOpDateTime, 0, avroTemporalBad, ""},
		{"2024-01-01 23:59:59.9999999", avroOpDateTime, 0, avroTemporalBad, ""},
		{"2024-01-01T00:00:00", avroOpTimestamp, 0, avroTemporalBad, "no Z"},
		{"1969-12-31 23:59:59.999999", avroOpDateTime, -1, avroTemporalOK, ""},
		{"1970-01-01T00:00:00.5Z", avroOpTimestamp, 500000, avroTemporalOK, ""},
		{"294276-12-31T23:59:59.999999Z", avroOpTimestamp, 0, avroTemporalFallback, "beyond a long"},
	} {
		n, res := parseAvroTemporal(tc.s, tc.op)
		if res != tc.res || (res == avroTemporalOK && n != tc.n) {
			t.Errorf("%q: got %d (outcome %d), want %d (outcome %d) %s", tc.s, n, res, tc.n, tc.res, tc.desc)
		}
	}
	for _, tc := range []struct {
		s  string
		us int64
		ok bool
	}{
		{"00:00:00", 0, true}, {"-838:59:59", -(838*3600 + 59*60 + 59) * 1e6, true},
		{"838:59:59.999999", (838*3600+59*60+59)*1e6 + 999999, true}, {"-00:00:00.000001", -1, true},
		{"12:60:00", 0, false}, {"12:00", 0, false}, {"x:00:00", 0, false}, {"01:02:03.", 0, false},
	} {
		us, ok := parseAvroTime(tc.s)
		if ok != tc.ok || (ok && us != tc.us) {
			t.Errorf("time %q: %d %v, want %d %v", tc.s, us, ok, tc.us, tc.ok)
		}
	}
}

func ExampleAvroSchemas() {
	tbl := &sluice.Table{Database: "shop", Name: "orders", Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "total", Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2, Nullable: true},
	}, Key: []int{0}}
	key, _, err := AvroSchemas(tbl, AvroOptions{TopicPrefix: "sluice"})
	if err != nil {
		panic(err)
	}
	fmt.Println(key)
	// Output:
	// {"type":"record","name":"Key","namespace":"sluice.shop.orders","fields":[{"name":"id","type":"long","sluice.source.type":"bigint"}]}
}

// TestAvroNullableKeyColumn: a nullable column configured as a key column
// is a union in the key, and a NULL there encodes.
func TestAvroNullableKeyColumn(t *testing.T) {
	enc, _, cl := newTestAvro(t, AvroOptions{})
	tbl := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "email", Kind: sluice.KindString, SourceType: "varchar", Nullable: true},
		{Name: "n", Kind: sluice.KindInt, SourceType: "int"},
	}, Key: []int{0}}
	key, _, err := AvroSchemas(tbl, AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(key, `{"name":"email","type":["null","string"],"default":null`) {
		t.Errorf("key schema %s", key)
	}
	for _, v := range []any{nil, "a@b.c"} {
		kb, err := enc.Key(context.Background(), tbl, sluice.Row{v, int64(1)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := decodeWire(t, cl, kb)
		if _, g := unwrap(got["email"]); g != v {
			t.Errorf("key %#v, want email %v", got, v)
		}
	}
}

func ExampleAvroEncoder() {
	reg := srfake.New() // a real registry in production
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		panic(err)
	}
	enc, err := NewAvroEncoder(cl, AvroOptions{TopicPrefix: "sluice", Version: "1.0.0"}, nil)
	if err != nil {
		panic(err)
	}
	tbl := &sluice.Table{Database: "shop", Name: "orders", Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
	}, Key: []int{0}}
	key, err := enc.Key(context.Background(), tbl, sluice.Row{int64(7)})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", key) // magic 0, schema id 1, then the long 7 (zig-zag 14)
	fmt.Println(reg.SubjectExists("sluice.shop.orders-key"), reg.SubjectExists("sluice.shop.orders-value"))
	// Output:
	// 00 00 00 00 01 0e
	// true true
}

// AvroEncoder is a tombstone.Encoder.
var _ tombstone.Encoder = (*AvroEncoder)(nil)
