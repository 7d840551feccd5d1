package schema

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/sluice-cdc/sluice"
)

// fuzzAvroTable covers the kinds whose encoding does arithmetic or
// parsing: integers of each width, decimals, floats, strings, bytes and
// the temporal kinds.
func fuzzAvroTable() *sluice.Table {
	return &sluice.Table{Database: "f", Name: "z", Key: []int{0}, Columns: []sluice.Column{
		{Name: "l", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "i", Kind: sluice.KindInt, SourceType: "int", Nullable: true},
		{Name: "u", Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true},
		{Name: "dec", Kind: sluice.KindDecimal, SourceType: "decimal(30,4)", Precision: 30, Scale: 4},
		{Name: "f", Kind: sluice.KindFloat, SourceType: "float"},
		{Name: "d", Kind: sluice.KindDouble, SourceType: "double"},
		{Name: "s", Kind: sluice.KindString, SourceType: "text"},
		{Name: "b", Kind: sluice.KindBytes, SourceType: "blob", Nullable: true},
		{Name: "date", Kind: sluice.KindDate, SourceType: "date", Nullable: true},
		{Name: "time", Kind: sluice.KindTime, SourceType: "time(6)", Scale: 6},
		{Name: "dt", Kind: sluice.KindDateTime, SourceType: "datetime(6)", Scale: 6},
		{Name: "ts", Kind: sluice.KindTimestamp, SourceType: "timestamp(6)", Scale: 6, Nullable: true},
		{Name: "raw", Kind: sluice.KindDate, SourceType: "date"},
	}}
}

// FuzzAvroValue builds canonical values from the fuzzer's numbers (dates
// with any parts, zero and impossible ones included) and requires goavro to
// decode the encoder's bytes to the same values. The last column gets the
// fuzzer's raw string: the encoder must refuse it or write bytes goavro
// reads, never panic.
func FuzzAvroValue(f *testing.F) {
	f.Add(int64(0), uint64(0), "", []byte{}, 0.0, int16(0), int8(0), int8(0), int64(0), "0000-00-00")
	f.Add(int64(math.MinInt64), uint64(math.MaxUint64), "héllo", []byte{0xff}, math.Inf(-1), int16(9999), int8(12), int8(31), int64(-3020399000000), "2024-02-30")
	f.Add(int64(-1), uint64(1<<63), "\x00", []byte(nil), -0.0, int16(2024), int8(2), int8(29), int64(86399999999), "infinity")
	enc, _, cl := newTestAvro(f, AvroOptions{})
	tbl := fuzzAvroTable()
	names := make([]string, len(tbl.Columns))
	for i := range tbl.Columns {
		names[i] = tbl.Columns[i].Name
	}
	// The codec of each schema id, fetched once: registry round trips per
	// input would slow the fuzzer to a crawl.
	codecs := map[uint32]*goavro.Codec{}
	codecFor := func(t *testing.T, wire []byte) *goavro.Codec {
		id := binary.BigEndian.Uint32(wire[1:5])
		if c := codecs[id]; c != nil {
			return c
		}
		s, err := cl.SchemaByID(context.Background(), int(id))
		if err != nil {
			t.Fatal(err)
		}
		c, err := goavro.NewCodec(s.Schema)
		if err != nil {
			t.Fatal(err)
		}
		codecs[id] = c
		return c
	}
	f.Fuzz(func(t *testing.T, l int64, u uint64, s string, b []byte, x float64, y int16, m, d int8, us int64, raw string) {
		if y < 0 {
			y = -y
		}
		date := fmt.Sprintf("%04d-%02d-%02d", y%10000, uint8(m)%16, uint8(d)%40)
		neg := ""
		if us < 0 {
			neg, us = "-", -us
			if us < 0 {
				us = math.MaxInt64
			}
		}
		us %= 839 * 3600 * 1e6
		clock := fmt.Sprintf("%s%02d:%02d:%02d.%06d", neg, us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
		day := fmt.Sprintf("%02d:%02d:%02d.%06d", us/3600e6%24, us/60e6%60, us/1e6%60, us%1e6)
		dec := fmt.Sprintf("%d.%04d", l/10000, abs64(l%10000))
		if l < 0 && l/10000 == 0 {
			dec = "-" + dec
		}
		var i any = l % math.MaxInt32
		if l%7 == 0 {
			i = nil
		}
		var bb any = b
		if b == nil {
			bb = nil
		}
		row := sluice.Row{l, i, u, dec, float32(x), x, strings.ToValidUTF8(s, "?"), bb, date,
			clock, date + " " + day, date + "T" + day + "Z", "2000-01-01"}
		wire, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row})
		if err != nil {
			t.Fatalf("row %#v: %v", row, err)
		}
		native, rest, err := codecFor(t, wire).NativeFromBinary(wire[5:])
		if err != nil || len(rest) != 0 {
			t.Fatalf("row %#v: goavro cannot decode % x: %v", row, wire, err)
		}
		got := native.(map[string]any)
		_, rec := unwrap(got["after"])
		checkRow(t, tbl, names, rec.(map[string]any), row, AvroOptions{})

		// raw input in a date column: an error, or bytes goavro decodes
		row[len(row)-1] = raw
		wire, err = enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row})
		if err != nil {
			return
		}
		if _, _, err := codecFor(t, wire).NativeFromBinary(wire[5:]); err != nil {
			t.Fatalf("raw %q: goavro cannot decode: %v", raw, err)
		}
	})
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
