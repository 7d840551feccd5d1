package schema

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

func TestAppendJSONPostgresKinds(t *testing.T) {
	intArr := pgCol(t, pgtype.Int4ArrayOID, -1)
	textArr := pgCol(t, pgtype.TextArrayOID, -1)
	byteaArr := pgCol(t, pgtype.ByteaArrayOID, -1)
	interval := pgCol(t, pgtype.IntervalOID, -1)
	uuid := pgCol(t, pgtype.UUIDOID, -1)
	timetz := pgCol(t, pgtype.TimetzOID, -1)
	iv := func(m, d int32, us int64) sluice.Interval {
		return sluice.Interval{Months: m, Days: d, Microseconds: us}
	}
	for _, c := range []struct {
		col  *sluice.Column
		v    any
		want string
	}{
		{uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{timetz, "12:34:56.789000+05:30", `"12:34:56.789000+05:30"`},
		{interval, iv(0, 0, 0), `"PT0S"`},
		{interval, iv(14, 3, 4*3600e6+5*60e6+6789000), `"P1Y2M3DT4H5M6.789S"`},
		{interval, iv(-14, 3, -(4*3600e6 + 5*60e6 + 6000001)), `"P-1Y-2M3DT-4H-5M-6.000001S"`},
		{interval, iv(0, 0, -500000), `"PT-0.5S"`},
		{interval, iv(1, 0, 0), `"P1M"`},
		{interval, iv(0, 1, 0), `"P1D"`},
		{interval, iv(0, 0, 3600e6), `"PT1H"`},
		{interval, iv(0, 0, 60e6+1), `"PT1M0.000001S"`},
		{interval, iv(0, 0, math.MaxInt64), `"PT2562047788H54.775807S"`},
		{interval, iv(0, 0, math.MinInt64), `"PT-2562047788H-54.775808S"`},
		{interval, iv(math.MinInt32, 0, 0), `"P-178956970Y-8M"`},
		{interval, iv(math.MaxInt32, math.MaxInt32, math.MaxInt64), `"infinity"`},
		{interval, iv(math.MinInt32, math.MinInt32, math.MinInt64), `"-infinity"`},
		{intArr, sluice.Array{Elems: []any{}}, `[]`},
		{intArr, sluice.Array{Dims: []int{3}, Elems: []any{int64(1), nil, int64(-3)}}, `[1,null,-3]`},
		{intArr, sluice.Array{Dims: []int{2, 3}, Elems: []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6)}}, `[[1,2,3],[4,5,6]]`},
		{intArr, sluice.Array{Dims: []int{2, 1, 1}, Elems: []any{int64(1), int64(2)}}, `[[[1]],[[2]]]`},
		{intArr, sluice.Array{Dims: []int{1, 2}, Lower: []int{1, -2}, Elems: []any{int64(7), int64(8)}}, `{"lower_bounds":[1,-2],"elements":[[7,8]]}`},
		{textArr, sluice.Array{Dims: []int{2}, Elems: []any{`a"b`, nil}}, `["a\"b",null]`},
		{byteaArr, sluice.Array{Dims: []int{1}, Elems: []any{[]byte{0xfb, 0xff}}}, `["+/8="]`},
	} {
		got, err := AppendJSON([]byte("x"), c.col, c.v)
		if err != nil || string(got) != "x"+c.want {
			t.Errorf("AppendJSON(%s, %#v) = %s, %v; want x%s", c.col.SourceType, c.v, got, err, c.want)
			continue
		}
		if !json.Valid(got[1:]) {
			t.Errorf("AppendJSON(%s, %#v) = %s is not valid JSON", c.col.SourceType, c.v, got[1:])
		}
	}
	for _, bad := range []sluice.Array{
		{Dims: []int{2}, Elems: []any{int64(1)}},
		{Dims: []int{1}, Elems: []any{int32(1)}},
	} {
		if got, err := AppendJSON(nil, intArr, bad); err == nil {
			t.Errorf("AppendJSON(%#v) = %s, want an error", bad, got)
		}
	}
	if _, err := AppendJSON(nil, &sluice.Column{Name: "c", Kind: sluice.KindArray}, sluice.Array{}); err == nil {
		t.Error("an array column without Elem: want an error")
	}
}

// TestIntervalRoundTrip checks that rendering an interval and reading the
// rendering back as PostgreSQL's iso_8601 output gives the same interval.
func TestIntervalRoundTrip(t *testing.T) {
	for _, v := range []sluice.Interval{
		{}, {Months: 1}, {Months: -13, Days: 40, Microseconds: 1}, {Microseconds: -1}, {Days: -1, Microseconds: 86400e6},
		{Months: math.MaxInt32, Microseconds: math.MinInt64}, {Months: 25, Days: math.MinInt32, Microseconds: 59999999},
	} {
		s := appendInterval(nil, v)
		back, err := postgresInterval(string(s))
		if err != nil || back != v {
			t.Errorf("%#v -> %s -> %#v, %v", v, s, back, err)
		}
	}
}
