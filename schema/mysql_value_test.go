package schema

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shopspring/decimal"

	"github.com/sluice-cdc/sluice"
)

// testColumn returns the shape columnCases gives the named column.
func testColumn(t testing.TB, name string) *sluice.Column {
	t.Helper()
	for _, c := range columnCases {
		if c.info.Name == name {
			col := c.want
			col.Name = name
			return &col
		}
	}
	t.Fatalf("no column case %q", name)
	return nil
}

// textField decodes raw the way go-mysql's text protocol does for a result
// column of col's type, so the test exercises MySQLFieldValue on what the
// snapshot really receives.
func textField(t testing.TB, col *sluice.Column, raw string) mysql.FieldValue {
	t.Helper()
	f := &mysql.Field{Type: mysql.MYSQL_TYPE_VAR_STRING}
	switch col.Kind {
	case sluice.KindInt:
		f.Type = mysql.MYSQL_TYPE_LONGLONG
		if col.Unsigned {
			f.Flag = mysql.UNSIGNED_FLAG
		}
	case sluice.KindYear:
		f.Type, f.Flag = mysql.MYSQL_TYPE_YEAR, mysql.UNSIGNED_FLAG|mysql.ZEROFILL_FLAG
	case sluice.KindFloat, sluice.KindDouble:
		f.Type = mysql.MYSQL_TYPE_DOUBLE // FLOAT is selected as CAST(… AS DOUBLE)
	case sluice.KindDecimal:
		f.Type = mysql.MYSQL_TYPE_NEWDECIMAL
	}
	vals, err := mysql.RowData(mysql.PutLengthEncodedString([]byte(raw))).ParseText([]*mysql.Field{f}, nil)
	if err != nil {
		t.Fatalf("%s: go-mysql text decode of %q: %v", col.Name, raw, err)
	}
	return vals[0]
}

type valueCase struct {
	column string
	text   string // as the server sends it (SET NAMES utf8mb4, time_zone +00:00)
	binlog any    // as go-mysql's RowsEvent decodes it (UseDecimal, !ParseTime)
	want   any
	json   string
}

func negZero32() float32 { return float32(math.Copysign(0, -1)) }

var valueCases = []valueCase{
	{"ti", "-128", int8(-128), int64(-128), "-128"},
	{"ti", "127", int8(127), int64(127), "127"},
	{"t1", "1", int8(1), int64(1), "1"},
	{"tiu", "255", int8(-1), uint64(255), "255"},
	{"tiu", "128", int8(-128), uint64(128), "128"},
	{"si", "-32768", int16(-32768), int64(-32768), "-32768"},
	{"siu", "65535", int16(-1), uint64(65535), "65535"},
	{"mi", "-8388608", int32(-8388608), int64(-8388608), "-8388608"},
	{"miu", "16777215", int32(-1), uint64(16777215), "16777215"},
	{"miu", "8388608", int32(-8388608), uint64(8388608), "8388608"},
	{"i", "-2147483648", int32(math.MinInt32), int64(math.MinInt32), "-2147483648"},
	{"iu", "4294967295", int32(-1), uint64(4294967295), "4294967295"},
	{"iu", "2147483648", int32(math.MinInt32), uint64(2147483648), "2147483648"},
	{"bi", "-9223372036854775808", int64(math.MinInt64), int64(math.MinInt64), "-9223372036854775808"},
	{"bi", "9223372036854775807", int64(math.MaxInt64), int64(math.MaxInt64), "9223372036854775807"},
	{"biu", "18446744073709551615", int64(-1), uint64(math.MaxUint64), "18446744073709551615"},
	{"biu", "9223372036854775808", int64(math.MinInt64), uint64(1 << 63), "9223372036854775808"},
	{"biz", "00000000000000000001", int64(1), uint64(1), "1"},

	// FLOAT: the snapshot reads CAST(f AS DOUBLE), the exact double of the float.
	{"f", "3.1415927410125732", float32(3.1415927), float32(3.1415927), "3.1415927"},
	{"f", "16777216", float32(16777216), float32(16777216), "16777216"},
	{"f", "1.1754943508222875e-38", float32(1.1754944e-38), float32(1.1754944e-38), "1.1754944e-38"},
	{"f", "3.4028234663852886e38", float32(math.MaxFloat32), float32(math.MaxFloat32), "3.4028235e+38"},
	{"f", "1.401298464324817e-45", float32(1e-45), float32(1e-45), "1e-45"},
	{"f", "-0", negZero32(), float32(0), "0"},
	{"fu", "1.5", float32(1.5), float32(1.5), "1.5"},
	{"f73", "1234.5679931640625", float32(1234.568), float32(1234.568), "1234.568"},
	{"d", "0.1", 0.1, 0.1, "0.1"},
	{"d", "0.30000000000000004", 0.30000000000000004, 0.30000000000000004, "0.30000000000000004"},
	{"d", "1e300", 1e300, 1e300, "1e+300"},
	{"d", "5e-324", 5e-324, 5e-324, "5e-324"},
	{"d", "-1.7976931348623157e308", -math.MaxFloat64, -math.MaxFloat64, "-1.7976931348623157e+308"},
	{"d", "123456789", 123456789.0, 123456789.0, "123456789"},
	{"d", "1.2345678901234568e17", 1.2345678901234568e17, 1.2345678901234568e17, "123456789012345680"},
	{"d", "-0", math.Copysign(0, -1), 0.0, "0"},

	{"dec", "0.00", decimal.RequireFromString("0"), "0.00", `"0.00"`},
	{"dec", "-0.00", decimal.RequireFromString("-0.00"), "0.00", `"0.00"`},
	{"dec", "-12.50", decimal.RequireFromString("-12.5"), "-12.50", `"-12.50"`},
	{"dec", "99999999.99", decimal.RequireFromString("99999999.99"), "99999999.99", `"99999999.99"`},
	{"dec", "0.01", "0.01", "0.01", `"0.01"`}, // a parser without UseDecimal hands strings
	{"dec65", "-12345678901234567890123456789012345.123456789012345678901234567891",
		decimal.RequireFromString("-12345678901234567890123456789012345.123456789012345678901234567891"),
		"-12345678901234567890123456789012345.123456789012345678901234567891",
		`"-12345678901234567890123456789012345.123456789012345678901234567891"`},
	{"dec65", "99999999999999999999999999999999999.999999999999999999999999999999",
		decimal.RequireFromString("99999999999999999999999999999999999.999999999999999999999999999999"),
		"99999999999999999999999999999999999.999999999999999999999999999999",
		`"99999999999999999999999999999999999.999999999999999999999999999999"`},
	{"dec65", "0.000000000000000000000000000001", decimal.RequireFromString("0.000000000000000000000000000001"),
		"0.000000000000000000000000000001", `"0.000000000000000000000000000001"`},
	{"decu", "99999", decimal.RequireFromString("99999"), "99999", `"99999"`},
	{"decu", "0", decimal.RequireFromString("0"), "0", `"0"`},

	// CHAR: both paths drop the trailing spaces, keep the leading ones.
	{"c", "ab", "ab", "ab", `"ab"`},
	{"c", " a", " a", " a", `" a"`},
	{"c", "", "", "", `""`},
	{"c255", "yy", "yy", "yy", `"yy"`},
	{"cl", "é€", "\xe9\x80", "é€", `"é€"`},
	{"cu", "a", "\x00a", "a", `"a"`},
	{"vc", "x y  ", "x y  ", "x y  ", `"x y  "`},
	{"vc", "line\n\"q\"\t\\ \u2028", "line\n\"q\"\t\\ \u2028", "line\n\"q\"\t\\ \u2028", `"line\n\"q\"\t\\ \u2028"`},
	{"vc", "😀", "😀", "😀", `"😀"`},
	{"vc3", "üñí", "üñí", "üñí", `"üñí"`},
	{"vc57", "ü", "ü", "ü", `"ü"`},
	{"vuca", "Straße", "Straße", "Straße", `"Straße"`},
	{"vl", "café€", "caf\xe9\x80", "café€", `"café€"`},
	// MySQL's latin1 maps the bytes Windows-1252 leaves undefined to C1 controls.
	{"vl", "\u0081\u008d\u008f\u0090\u009d\u0178ÿ", "\x81\x8d\x8f\x90\x9d\x9f\xff", "\u0081\u008d\u008f\u0090\u009d\u0178ÿ", "\"\u0081\u008d\u008f\u0090\u009d\u0178ÿ\""},
	{"va", "asc", "asc", "asc", `"asc"`},
	{"v16", "ü😀", "\x00\xfc\xd8=\xde\x00", "ü😀", `"ü😀"`},
	{"v16le", "ü😀", "\xfc\x00=\xd8\x00\xde", "ü😀", `"ü😀"`},
	{"v32", "ü😀", "\x00\x00\x00\xfc\x00\x01\xf6\x00", "ü😀", `"ü😀"`},
	{"tt", "tiny", []byte("tiny"), "tiny", `"tiny"`},
	{"tx", "naïve", []byte("na\xefve"), "naïve", `"naïve"`},
	{"lt", "long 😀", []byte("long 😀"), "long 😀", `"long 😀"`},
	{"mj", `{"a": [1, 2.50, "x"], "b": null}`, []byte(`{"a": [1, 2.50, "x"], "b": null}`),
		`{"a": [1, 2.50, "x"], "b": null}`, `"{\"a\": [1, 2.50, \"x\"], \"b\": null}"`},

	// BINARY(n): the binlog drops trailing zero bytes, a SELECT keeps them.
	{"bn", "a\x00\x00\x00", "a", []byte("a\x00\x00\x00"), `"YQAAAA=="`},
	{"bn", "\x00\x00\x00\x00", "", []byte{0, 0, 0, 0}, `"AAAAAA=="`},
	{"bn", " \x00\x00\x00", " ", []byte(" \x00\x00\x00"), `"IAAAAA=="`},
	{"bn", "\x00\x01\x02\x03", "\x00\x01\x02\x03", []byte{0, 1, 2, 3}, `"AAECAw=="`},
	{"vb", "\x00\xff\x00", "\x00\xff\x00", []byte{0, 0xff, 0}, `"AP8A"`},
	{"vb", "", "", []byte{}, `""`},
	{"tb", "\x00", []byte{0}, []byte{0}, `"AA=="`},
	{"bb", "\x01\x02", []byte{1, 2}, []byte{1, 2}, `"AQI="`},
	{"lb", "\x04", []byte{4}, []byte{4}, `"BA=="`},

	{"e", "b", int64(2), "b", `"b"`},
	{"e", "", int64(0), "", `""`},
	{"el", "é", int64(1), "é", `"é"`},
	{"el", "c,d", int64(3), "c,d", `"c,d"`},
	{"s", "x,z", int64(5), "x,z", `"x,z"`},
	{"s", "x,y,z", int64(7), "x,y,z", `"x,y,z"`},
	{"s", "", int64(0), "", `""`},

	{"b1", "\x01", int64(1), []byte{1}, `"AQ=="`},
	{"b1", "\x00", int64(0), []byte{0}, `"AA=="`},
	{"b12", "\x0a\xaa", int64(0xAAA), []byte{0x0a, 0xaa}, `"Cqo="`},
	{"b64", "\xff\xff\xff\xff\xff\xff\xff\xff", int64(-1), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `"//////////8="`},

	{"y", "2024", 2024, int64(2024), "2024"},
	{"y", "1901", 1901, int64(1901), "1901"},
	{"y", "0000", 0, int64(0), "0"},

	{"dt", "2024-02-29", "2024-02-29", "2024-02-29", `"2024-02-29"`},
	{"dt", "0000-00-00", "0000-00-00", "0000-00-00", `"0000-00-00"`},
	{"dt", "9999-12-31", "9999-12-31", "9999-12-31", `"9999-12-31"`},
	{"tm", "-838:59:59", "-838:59:59", "-838:59:59", `"-838:59:59"`},
	{"tm", "838:59:59", "838:59:59", "838:59:59", `"838:59:59"`},
	{"tm", "00:00:00", "00:00:00", "00:00:00", `"00:00:00"`},
	{"tm", "-00:00:01", "-00:00:01", "-00:00:01", `"-00:00:01"`},
	{"tm3", "123:04:05.123", "123:04:05.123", "123:04:05.123", `"123:04:05.123"`},
	{"tm3", "-01:02:03.004", "-01:02:03.004", "-01:02:03.004", `"-01:02:03.004"`},
	// go-mysql leaves out an all-zero fraction; the server prints it.
	{"tm3", "00:00:00.000", "00:00:00", "00:00:00.000", `"00:00:00.000"`},
	{"tm3", "838:59:59.000", "838:59:59", "838:59:59.000", `"838:59:59.000"`},
	{"tm3", "-00:00:00.001", "-00:00:00.001", "-00:00:00.001", `"-00:00:00.001"`},
	{"dtm", "2024-01-02 03:04:05", "2024-01-02 03:04:05", "2024-01-02 03:04:05", `"2024-01-02 03:04:05"`},
	{"dtm", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", `"0000-00-00 00:00:00"`},
	{"dtmold", "1000-01-01 00:00:00", "1000-01-01 00:00:00", "1000-01-01 00:00:00", `"1000-01-01 00:00:00"`},
	{"dtm6", "2024-01-02 03:04:05.123456", "2024-01-02 03:04:05.123456", "2024-01-02 03:04:05.123456", `"2024-01-02 03:04:05.123456"`},
	{"dtm6", "2024-01-02 03:04:05.000000", "2024-01-02 03:04:05.000000", "2024-01-02 03:04:05.000000", `"2024-01-02 03:04:05.000000"`},
	{"dtm6", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000", `"0000-00-00 00:00:00.000000"`},
	{"dtm6", "9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999", `"9999-12-31 23:59:59.999999"`},
	{"ts", "2038-01-19 03:14:07", "2038-01-19 03:14:07", "2038-01-19T03:14:07Z", `"2038-01-19T03:14:07Z"`},
	{"ts", "1970-01-01 00:00:01", "1970-01-01 00:00:01", "1970-01-01T00:00:01Z", `"1970-01-01T00:00:01Z"`},
	{"ts", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "0000-00-00T00:00:00Z", `"0000-00-00T00:00:00Z"`},
	{"ts3", "1970-01-01 00:00:01.500", "1970-01-01 00:00:01.500", "1970-01-01T00:00:01.500Z", `"1970-01-01T00:00:01.500Z"`},
	{"ts3", "0000-00-00 00:00:00.000", "0000-00-00 00:00:00.000", "0000-00-00T00:00:00.000Z", `"0000-00-00T00:00:00.000Z"`},

	// MySQL prints JSON with spaces and keys by length; go-mysql compactly,
	// keys in byte order, HTML characters escaped.
	{"j", `{"b": null, "aa": [1, 2.5, "x<&>", true, -3, 1.0e2, 18446744073709551615], "a": {"é": "\u00e9\ud83d\ude00"}}`,
		`{"a":{"é":"é😀"},"aa":[1,2.5,"x\u003c\u0026\u003e",true,-3,100,18446744073709551615],"b":null}`,
		`{"a":{"é":"é😀"},"aa":[1,2.5,"x<&>",true,-3,100,18446744073709551615],"b":null}`,
		`"{\"a\":{\"é\":\"é😀\"},\"aa\":[1,2.5,\"x<&>\",true,-3,100,18446744073709551615],\"b\":null}"`},
	{"j", `[]`, `[]`, `[]`, `"[]"`},
	{"j", `"str"`, `"str"`, `"str"`, `"\"str\""`},
	{"j", `null`, []byte{}, `null`, `"null"`},
	{"j", `{"k": "v\u2028"}`, `{"k":"v\u2028"}`, `{"k":"v\u2028"}`, `"{\"k\":\"v\\u2028\"}"`},

	{"g", "\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40",
		[]byte("\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40"),
		[]byte("\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40"),
		`"AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA=="`},
}

// TestValuesAgree converts each value from its text-protocol form and from
// its binlog form and checks both give the same canonical value and JSON.
func TestValuesAgree(t *testing.T) {
	for _, c := range valueCases {
		col := testColumn(t, c.column)
		fromText, err := MySQLTextValue(col, []byte(c.text))
		if err != nil {
			t.Errorf("%s text %q: %v", c.column, c.text, err)
			continue
		}
		fromField, err := MySQLFieldValue(col, textField(t, col, c.text))
		if err != nil {
			t.Errorf("%s field %q: %v", c.column, c.text, err)
			continue
		}
		fromBinlog, err := MySQLBinlogValue(col, c.binlog)
		if err != nil {
			t.Errorf("%s binlog %#v: %v", c.column, c.binlog, err)
			continue
		}
		for _, got := range []struct {
			path string
			v    any
		}{{"text", fromText}, {"field", fromField}, {"binlog", fromBinlog}} {
			if !reflect.DeepEqual(got.v, c.want) {
				t.Errorf("%s %s %q: got %#v, want %#v", c.column, got.path, c.text, got.v, c.want)
			}
			js, err := AppendJSON(nil, col, got.v)
			if err != nil {
				t.Errorf("%s %s %q: json: %v", c.column, got.path, c.text, err)
			} else if string(js) != c.json {
				t.Errorf("%s %s %q: json %s, want %s", c.column, got.path, c.text, js, c.json)
			}
		}
	}
}

func TestKindsCovered(t *testing.T) {
	seen := map[sluice.Kind]bool{}
	for _, c := range valueCases {
		seen[testColumn(t, c.column).Kind] = true
	}
	for _, c := range columnCases {
		if !seen[c.want.Kind] {
			t.Errorf("no value case for kind %s", c.want.Kind)
		}
	}
}

func TestNull(t *testing.T) {
	for _, c := range columnCases {
		col := testColumn(t, c.info.Name)
		if v, err := MySQLBinlogValue(col, nil); v != nil || err != nil {
			t.Errorf("%s: binlog nil = %#v, %v", col.Name, v, err)
		}
		if v, err := MySQLFieldValue(col, mysql.NewFieldValue(mysql.FieldValueTypeNull, 0, nil)); v != nil || err != nil {
			t.Errorf("%s: field NULL = %#v, %v", col.Name, v, err)
		}
	}
}

// TestNoAliasing checks converted values survive the reuse of the buffers
// they were read from (go-mysql reuses both).
func TestNoAliasing(t *testing.T) {
	buf := []byte("hello")
	col := testColumn(t, "vc")
	fromBinlog, _ := MySQLBinlogValue(col, buf)
	fromText, _ := MySQLTextValue(col, buf)
	bcol := testColumn(t, "vb")
	bytesBinlog, _ := MySQLBinlogValue(bcol, buf)
	bytesText, _ := MySQLTextValue(bcol, buf)
	copy(buf, "XXXXX")
	if fromBinlog != "hello" || fromText != "hello" || string(bytesBinlog.([]byte)) != "hello" || string(bytesText.([]byte)) != "hello" {
		t.Errorf("values alias the input buffer: %q %q %q %q", fromBinlog, fromText, bytesBinlog, bytesText)
	}
}

func TestBinlogParseTime(t *testing.T) {
	// A parser set up with ParseTime hands time.Time values; they convert
	// to the same canonical strings.
	at := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	got, err := MySQLBinlogValue(testColumn(t, "dtm6"), at)
	if err != nil || got != "2024-01-02 03:04:05.123456" {
		t.Errorf("datetime(6) = %v, %v", got, err)
	}
	got, err = MySQLBinlogValue(testColumn(t, "ts3"), at.In(time.FixedZone("x", 3600)))
	if err != nil || got != "2024-01-02T03:04:05.123Z" {
		t.Errorf("timestamp(3) = %v, %v", got, err)
	}
}

func TestValueErrors(t *testing.T) {
	for _, c := range []struct {
		column string
		binlog any
		want   string
	}{
		{"e", int64(4), "enum index 4"},
		{"s", int64(8), "bitmask"},
		{"i", "12", "unexpected Go type string"},
		{"dec", "1.234", "more than 2 fractional digits"},
		{"dec", "1e5", "malformed decimal"},
		{"dt", "2024-1-2", "malformed date"},
		{"tm3", "12:00", "malformed time"},
		{"tm3", "12:00:00.1234", "more than 3 fractional digits"},
		{"dtm6", "2024-01-02T03:04:05", "malformed datetime"},
		{"j", `{"a":}`, "canonicalize json"},
		{"v16", "\x00", "odd length"},
	} {
		_, err := MySQLBinlogValue(testColumn(t, c.column), c.binlog)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"`+c.column+`"`) {
			t.Errorf("%s %#v: err = %v, want one naming the column and %q", c.column, c.binlog, err, c.want)
		}
	}
	for _, c := range []struct {
		column, text string
	}{
		{"i", "x"}, {"iu", "-1"}, {"f", "nope"}, {"dec", "1.2.3"}, {"ts", "2024-01-02"}, {"b12", "\x01\x02\x03"},
	} {
		if _, err := MySQLTextValue(testColumn(t, c.column), []byte(c.text)); err == nil {
			t.Errorf("%s text %q accepted", c.column, c.text)
		}
	}
	neg := mysql.NewFieldValue(mysql.FieldValueTypeSigned, uint64(1<<63), nil)
	if _, err := MySQLFieldValue(testColumn(t, "biu"), neg); err == nil {
		t.Error("negative value for an unsigned column accepted")
	}
	big := mysql.NewFieldValue(mysql.FieldValueTypeUnsigned, math.MaxUint64, nil)
	if _, err := MySQLFieldValue(testColumn(t, "bi"), big); err == nil {
		t.Error("overflowing value for a signed column accepted")
	}
}

func TestCanonicalDecimal(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int
		want  string
	}{
		{"0", 2, "0.00"}, {"-0", 2, "0.00"}, {"-0.000", 2, "0.00"}, {"+1.5", 2, "1.50"},
		{"007.5", 1, "7.5"}, {".5", 1, "0.5"}, {"5.", 0, "5"}, {"12.3400", 2, "12.34"},
		{"-12.30", 2, "-12.30"}, {"123", 0, "123"}, {"-0", 0, "0"},
	} {
		got, err := canonicalDecimal(c.in, c.scale)
		if err != nil || got != c.want {
			t.Errorf("canonicalDecimal(%q, %d) = %q, %v; want %q", c.in, c.scale, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "1e5", "0x10", "1,5"} {
		if got, err := canonicalDecimal(bad, 2); err == nil {
			t.Errorf("canonicalDecimal(%q) = %q, want error", bad, got)
		}
	}
}
