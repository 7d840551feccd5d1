package schema

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// pgCol builds a column from a built-in type without a catalog connection.
func pgCol(t *testing.T, oid uint32, typmod int32) *sluice.Column {
	t.Helper()
	c, err := NewPostgresCatalog(nil).column(t.Context(), "c", oid, typmod, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// numericTypmod is the typmod of numeric(p,s).
func numericTypmod(p, s int) int32 { return int32(p<<16|(s&0x7FF)) + 4 }

func TestPostgresValue(t *testing.T) {
	iv := func(m, d int32, us int64) sluice.Interval {
		return sluice.Interval{Months: m, Days: d, Microseconds: us}
	}
	for _, c := range []struct {
		oid    uint32
		typmod int32
		in     string
		want   any
	}{
		{pgtype.Int2OID, -1, "-32768", int64(-32768)},
		{pgtype.Int4OID, -1, "2147483647", int64(2147483647)},
		{pgtype.Int8OID, -1, "-9223372036854775808", int64(math.MinInt64)},
		{pgtype.OIDOID, -1, "4294967295", uint64(4294967295)},
		{pgtype.Float4OID, -1, "3.4028235e+38", float32(math.MaxFloat32)},
		{pgtype.Float4OID, -1, "1.175494e-38", float32(1.175494e-38)},
		{pgtype.Float4OID, -1, "-0", float32(0)},
		{pgtype.Float4OID, -1, "Infinity", float32(math.Inf(1))},
		{pgtype.Float8OID, -1, "-Infinity", math.Inf(-1)},
		{pgtype.Float8OID, -1, "0.1", 0.1},
		{pgtype.Float8OID, -1, "1.7976931348623157e+308", math.MaxFloat64},
		{pgtype.Float8OID, -1, "5e-324", 5e-324},
		{pgtype.NumericOID, numericTypmod(10, 2), "-12.50", "-12.50"},
		{pgtype.NumericOID, numericTypmod(10, 2), "NaN", "NaN"},
		{pgtype.NumericOID, numericTypmod(5, -2), "12300", "12300"},
		{pgtype.NumericOID, -1, "1.500", "1.500"},
		{pgtype.NumericOID, -1, "-0.000000000000000000000000000001", "-0.000000000000000000000000000001"},
		{pgtype.NumericOID, -1, "123456789012345678901234567890123456789", "123456789012345678901234567890123456789"},
		{pgtype.NumericOID, -1, "Infinity", "Infinity"},
		{pgtype.NumericOID, -1, "-Infinity", "-Infinity"},
		{pgMoneyOID, -1, "$1,234.56", "1234.56"},
		{pgMoneyOID, -1, "-$92,233,720,368,547,758.08", "-92233720368547758.08"},
		{pgMoneyOID, -1, "$0.00", "0.00"},
		{pgtype.BoolOID, -1, "t", true},
		{pgtype.BoolOID, -1, "f", false},
		{pgtype.TextOID, -1, "tab\there \\ é😀", "tab\there \\ é😀"},
		{pgtype.BPCharOID, 9, "ab   ", "ab   "},
		{pgtype.QCharOID, -1, "x", "x"},
		{pgtype.ByteaOID, -1, `\x00ff10`, []byte{0, 0xff, 0x10}},
		{pgtype.ByteaOID, -1, `\x`, []byte{}},
		{pgtype.ByteaOID, -1, `a\\b\000\377`, []byte{'a', '\\', 'b', 0, 0xff}},
		{pgtype.BitOID, 1, "1", []byte{1}},
		{pgtype.BitOID, 10, "1000000001", []byte{0x02, 0x01}},
		{pgtype.BitOID, 16, "1111111100000000", []byte{0xff, 0x00}},
		{pgtype.VarbitOID, 8, "001", "001"},
		{pgtype.UUIDOID, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{pgtype.JSONOID, -1, `{"b": 1, "a": [1,  2]}`, `{"b": 1, "a": [1,  2]}`},
		{pgtype.JSONBOID, -1, `{"a": [1, 2], "b": 1}`, `{"a": [1, 2], "b": 1}`},
		{pgtype.InetOID, -1, "192.168.0.1/24", "192.168.0.1/24"},
		{pgtype.MacaddrOID, -1, "08:00:2b:01:02:03", "08:00:2b:01:02:03"},
		{pgtype.DateOID, -1, "2024-02-29", "2024-02-29"},
		{pgtype.DateOID, -1, "0001-01-01 BC", "0000-01-01"},
		{pgtype.DateOID, -1, "4713-11-24 BC", "-4712-11-24"},
		{pgtype.DateOID, -1, "5874897-12-31", "5874897-12-31"},
		{pgtype.DateOID, -1, "infinity", "infinity"},
		{pgtype.DateOID, -1, "-infinity", "-infinity"},
		{pgtype.TimeOID, -1, "00:00:00", "00:00:00.000000"},
		{pgtype.TimeOID, -1, "24:00:00", "24:00:00.000000"},
		{pgtype.TimeOID, 3, "12:34:56.5", "12:34:56.500"},
		{pgtype.TimeOID, 0, "23:59:59", "23:59:59"},
		{pgtype.TimetzOID, -1, "12:34:56.789+05:30", "12:34:56.789000+05:30"},
		{pgtype.TimetzOID, 0, "00:00:00-12", "00:00:00-12:00"},
		{pgtype.TimetzOID, 2, "01:02:03.1+00", "01:02:03.10+00:00"},
		{pgtype.TimetzOID, -1, "01:02:03+05:30:15", "01:02:03.000000+05:30:15"},
		{pgtype.TimestampOID, -1, "2024-01-02 03:04:05.123456", "2024-01-02 03:04:05.123456"},
		{pgtype.TimestampOID, 0, "2024-01-02 03:04:05", "2024-01-02 03:04:05"},
		{pgtype.TimestampOID, 3, "2024-01-02 03:04:05.1", "2024-01-02 03:04:05.100"},
		{pgtype.TimestampOID, -1, "0044-03-15 12:00:00 BC", "-0043-03-15 12:00:00.000000"},
		{pgtype.TimestampOID, -1, "294276-12-31 23:59:59.999999", "294276-12-31 23:59:59.999999"},
		{pgtype.TimestampOID, -1, "infinity", "infinity"},
		{pgtype.TimestamptzOID, -1, "2024-01-02 03:04:05.5+00", "2024-01-02T03:04:05.500000Z"},
		{pgtype.TimestamptzOID, 0, "1970-01-01 00:00:00+00", "1970-01-01T00:00:00Z"},
		{pgtype.TimestamptzOID, 0, "4713-01-01 00:00:00+00 BC", "-4712-01-01T00:00:00Z"},
		{pgtype.TimestamptzOID, -1, "-infinity", "-infinity"},
		{pgtype.IntervalOID, -1, "PT0S", iv(0, 0, 0)},
		{pgtype.IntervalOID, -1, "P1Y2M3DT4H5M6.789S", iv(14, 3, 4*3600e6+5*60e6+6789000)},
		{pgtype.IntervalOID, -1, "P-1Y-2M3DT-4H-5M-6.000001S", iv(-14, 3, -(4*3600e6 + 5*60e6 + 6000001))},
		{pgtype.IntervalOID, -1, "PT-0.5S", iv(0, 0, -500000)},
		{pgtype.IntervalOID, -1, "P178956970Y7M", iv(math.MaxInt32, 0, 0)},
		{pgtype.IntervalOID, -1, "P-178956970Y-8M", iv(math.MinInt32, 0, 0)},
		{pgtype.IntervalOID, -1, "PT2562047788H54.775807S", iv(0, 0, math.MaxInt64)},
		{pgtype.IntervalOID, -1, "PT-2562047788H-54.775808S", iv(0, 0, math.MinInt64)},
		{pgtype.IntervalOID, -1, "infinity", iv(math.MaxInt32, math.MaxInt32, math.MaxInt64)},
		{pgtype.Int4ArrayOID, -1, "{}", sluice.Array{Elems: []any{}}},
		{pgtype.Int4ArrayOID, -1, "{1,NULL,-3}", sluice.Array{Dims: []int{3}, Elems: []any{int64(1), nil, int64(-3)}}},
		{pgtype.Int4ArrayOID, -1, "{{1,2,3},{4,5,6}}", sluice.Array{Dims: []int{2, 3}, Elems: []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6)}}},
		{pgtype.Int4ArrayOID, -1, "[0:1]={7,8}", sluice.Array{Dims: []int{2}, Lower: []int{0}, Elems: []any{int64(7), int64(8)}}},
		{pgtype.Int4ArrayOID, -1, "[1:1][-2:-1]={{7,8}}", sluice.Array{Dims: []int{1, 2}, Lower: []int{1, -2}, Elems: []any{int64(7), int64(8)}}},
		{pgtype.TextArrayOID, -1, `{"a b","c\"d","e\\f",NULL,"NULL",null,"",x}`, sluice.Array{Dims: []int{8}, Elems: []any{"a b", `c"d`, `e\f`, nil, "NULL", nil, "", "x"}}},
		{pgtype.TextArrayOID, -1, `{"{","}",",","é"}`, sluice.Array{Dims: []int{4}, Elems: []any{"{", "}", ",", "é"}}},
		{pgtype.ByteaArrayOID, -1, `{"\\x01ff",NULL}`, sluice.Array{Dims: []int{2}, Elems: []any{[]byte{1, 0xff}, nil}}},
		{pgtype.NumericArrayOID, numericTypmod(6, 2), `{1.50,NaN}`, sluice.Array{Dims: []int{2}, Elems: []any{"1.50", "NaN"}}},
		{pgtype.TimestamptzArrayOID, 0, `{"2024-01-02 03:04:05+00",infinity}`, sluice.Array{Dims: []int{2}, Elems: []any{"2024-01-02T03:04:05Z", "infinity"}}},
		{pgtype.BoolArrayOID, -1, `{{{t}},{{f}}}`, sluice.Array{Dims: []int{2, 1, 1}, Elems: []any{true, false}}},
	} {
		col := pgCol(t, c.oid, c.typmod)
		text := []byte(c.in)
		got, err := PostgresValue(col, text)
		if err != nil {
			t.Errorf("%s %q: %v", col.SourceType, c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q = %#v, want %#v", col.SourceType, c.in, got, c.want)
		}
		// The result must not alias the input.
		for i := range text {
			text[i] = '#'
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q: the value aliases its input", col.SourceType, c.in)
		}
	}
}

func TestPostgresValueRejects(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		in     string
		want   string // part of the error
	}{
		{pgtype.Int2OID, -1, "1.5", "invalid syntax"},
		{pgtype.BoolOID, -1, "true", "malformed boolean"},
		{pgtype.NumericOID, numericTypmod(10, 2), "1.234", "more than 2"},
		{pgtype.NumericOID, -1, "1e5", "malformed numeric"},
		{pgMoneyOID, -1, "1,234.56 €", "lc_monetary"},
		{pgtype.ByteaOID, -1, `\xZZ`, "malformed bytea"},
		{pgtype.ByteaOID, -1, `a\b`, "malformed bytea"},
		{pgtype.BitOID, 4, "101", "bit(4)"},
		{pgtype.BitOID, 3, "102", "malformed bit"},
		{pgtype.UUIDOID, -1, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "malformed uuid"},
		{pgtype.DateOID, -1, "01/02/2024", "DateStyle"},
		{pgtype.TimestamptzOID, -1, "2024-01-02 03:04:05+02", "TimeZone"},
		{pgtype.TimestampOID, -1, "2024-01-02T03:04:05", "DateStyle"},
		{pgtype.TimetzOID, -1, "12:00:00+5", "offset"},
		{pgtype.IntervalOID, -1, "1 year 2 mons", "IntervalStyle"},
		{pgtype.IntervalOID, -1, "P1H", "IntervalStyle"},
		{pgtype.IntervalOID, -1, "PT1.1234567S", "IntervalStyle"},
		{pgtype.IntervalOID, -1, "P3000000000D", "IntervalStyle"},
		{pgtype.Int4ArrayOID, -1, "{1,2", "unexpected end"},
		{pgtype.Int4ArrayOID, -1, "{{1,2},{3}}", "different lengths"},
		{pgtype.Int4ArrayOID, -1, "{{1},2}", "sub-array"},
		{pgtype.Int4ArrayOID, -1, "{1,{2}}", "sub-array"},
		{pgtype.Int4ArrayOID, -1, "{1,,2}", "empty"},
		{pgtype.Int4ArrayOID, -1, "[0:2]={1,2}", "bounds"},
		{pgtype.Int4ArrayOID, -1, "{1,x}", "element 2"},
		{pgtype.Int4ArrayOID, -1, "{{{{{{{1}}}}}}}", "dimensions"},
		{pgtype.TextArrayOID, -1, `{"a}`, "unterminated"},
	} {
		col := pgCol(t, c.oid, c.typmod)
		got, err := PostgresValue(col, []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("%s %q = %#v, %v; want an error naming the column and containing %q", col.SourceType, c.in, got, err, c.want)
		}
	}
}

// FuzzPostgresArray checks that the array parser never panics and that
// what it accepts renders as JSON.
func FuzzPostgresArray(f *testing.F) {
	for _, s := range []string{"{}", "{1,NULL}", `{"a\"b",c}`, "[0:1]={1,2}", "{{1},{2}}", "{{{t}}}", `{"\\x00"}`} {
		f.Add(s)
	}
	cols := []*sluice.Column{}
	for _, oid := range []uint32{pgtype.Int4ArrayOID, pgtype.TextArrayOID, pgtype.BoolArrayOID, pgtype.ByteaArrayOID} {
		c, err := NewPostgresCatalog(nil).column(f.Context(), "c", oid, -1, 0)
		if err != nil {
			f.Fatal(err)
		}
		cols = append(cols, &c)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, col := range cols {
			v, err := PostgresValue(col, []byte(in))
			if err != nil {
				continue
			}
			if _, err := AppendJSON(nil, col, v); err != nil {
				t.Fatalf("%s %q parsed to %#v, which does not render: %v", col.SourceType, in, v, err)
			}
		}
	})
}

// FuzzPostgresValue feeds arbitrary text to every built-in type: no panic,
// and every accepted value renders as JSON unless it is a float NaN or
// infinity.
func FuzzPostgresValue(f *testing.F) {
	for _, s := range []string{"1", "-0", "NaN", "t", `\x00`, "2024-01-02", "0044-03-15 BC", "12:00:00+05:30",
		"2024-01-02 03:04:05.5+00", "P1Y-2M3DT4H5M6.5S", "$1,234.56", "101", "{1,NULL}", "infinity"} {
		f.Add(s)
	}
	var cols []*sluice.Column
	for oid := range postgresBuiltins {
		c, err := NewPostgresCatalog(nil).column(f.Context(), "c", oid, 6, 0)
		if err != nil {
			f.Fatal(err)
		}
		cols = append(cols, &c)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, col := range cols {
			v, err := PostgresValue(col, []byte(in))
			if err != nil {
				continue
			}
			if _, err := AppendJSON(nil, col, v); err != nil {
				switch x := v.(type) {
				case float32:
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						continue
					}
				case float64:
					if math.IsNaN(x) || math.IsInf(x, 0) {
						continue
					}
				}
				t.Fatalf("%s %q parsed to %#v, which does not render: %v", col.SourceType, in, v, err)
			}
		}
	})
}
