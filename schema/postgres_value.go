package schema

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// PostgresSessionSettings are the run-time settings under which
// PostgreSQL's text output of every mapped type is the one [PostgresValue]
// reads. Every connection whose text output sluice converts applies them:
// the snapshot connection and the logical replication connection (pgoutput
// formats values with the walsender session's settings), best as start-up
// parameters (pgconn.Config.RuntimeParams). Treat the map as read-only.
var PostgresSessionSettings = map[string]string{
	"client_encoding":    "UTF8",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"lc_monetary":        "C",
}

// PostgresValue converts one non-NULL value in PostgreSQL's text output
// format (under [PostgresSessionSettings]) to col's canonical Go value, the
// one its Kind documents. That is what pgoutput sends for a 't' tuple column
// and what COPY … TO STDOUT in text format gives once COPY's own backslash
// escapes are undone; both paths therefore agree on every value. NULL is the
// caller's to detect. The result never aliases text.
func PostgresValue(col *sluice.Column, text []byte) (any, error) {
	v, err := postgresValue(col, text)
	if err != nil {
		return nil, valueError(col, err)
	}
	return v, nil
}

func postgresValue(col *sluice.Column, text []byte) (any, error) {
	switch col.Kind {
	case sluice.KindInt:
		if col.Unsigned {
			return strconv.ParseUint(string(text), 10, 64)
		}
		return strconv.ParseInt(string(text), 10, 64)
	case sluice.KindFloat:
		f, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return nil, err
		}
		return noNegZero32(float32(f)), nil
	case sluice.KindDouble:
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return nil, err
		}
		return noNegZero64(f), nil
	case sluice.KindDecimal:
		return postgresDecimal(col, string(text))
	case sluice.KindBool:
		switch string(text) {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, fmt.Errorf("malformed boolean %q", text)
	case sluice.KindString, sluice.KindEnum, sluice.KindJSON:
		return string(text), nil
	case sluice.KindBytes:
		return postgresBytea(text)
	case sluice.KindBit:
		return postgresBit(col, text)
	case sluice.KindUUID:
		return postgresUUID(text)
	case sluice.KindDate:
		return postgresDate(string(text))
	case sluice.KindTime:
		return canonicalTime(string(text), col.Scale)
	case sluice.KindTimeTZ:
		return postgresTimeTZ(string(text), col.Scale)
	case sluice.KindDateTime, sluice.KindTimestamp:
		return postgresTimestamp(col, string(text))
	case sluice.KindInterval:
		return postgresInterval(string(text))
	case sluice.KindArray:
		return postgresArray(col, text)
	}
	return nil, errors.New("kind not produced by PostgreSQL")
}

// postgresDecimal reads numeric and money values.
func postgresDecimal(col *sluice.Column, s string) (string, error) {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return s, nil
	}
	if col.SourceType == "money" {
		// lc_monetary=C prints "$1,234.56" and "-$1,234.56".
		neg := strings.HasPrefix(s, "-")
		body, ok := strings.CutPrefix(strings.TrimPrefix(s, "-"), "$")
		if !ok {
			return "", fmt.Errorf("malformed money %q: set lc_monetary to C on the connection (schema.PostgresSessionSettings)", s)
		}
		body = strings.ReplaceAll(body, ",", "")
		if neg {
			body = "-" + body
		}
		s = body
	}
	if col.Scale < 0 {
		// Unconstrained numeric: keep the digits as printed, checked.
		t := strings.TrimPrefix(s, "-")
		ip, fp, _ := strings.Cut(t, ".")
		if ip == "" || !allDigits(ip) || !allDigits(fp) || strings.HasSuffix(t, ".") {
			return "", fmt.Errorf("malformed numeric %q", s)
		}
		return strings.Clone(s), nil
	}
	return canonicalDecimal(s, col.Scale)
}

// postgresBytea decodes bytea in hex ("\x0a0b") or escape format.
func postgresBytea(text []byte) ([]byte, error) {
	if h, ok := bytes.CutPrefix(text, []byte(`\x`)); ok {
		out := make([]byte, hex.DecodedLen(len(h)))
		if _, err := hex.Decode(out, h); err != nil {
			return nil, fmt.Errorf("malformed bytea: %w", err)
		}
		return out, nil
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(text) && text[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(text) && isOctal(text[i+1]) && isOctal(text[i+2]) && isOctal(text[i+3]) && text[i+1] <= '3':
			out = append(out, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
			i += 3
		default:
			return nil, fmt.Errorf("malformed bytea escape at offset %d", i)
		}
	}
	return out, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// postgresBit turns bit(n)'s "0101…" into (n+7)/8 big-endian bytes, the
// last bit in the lowest position.
func postgresBit(col *sluice.Column, text []byte) ([]byte, error) {
	if len(text) != col.Length {
		return nil, fmt.Errorf("bit string of %d bits in a bit(%d) column", len(text), col.Length)
	}
	out := make([]byte, (col.Length+7)/8)
	for i, c := range text {
		bit := len(text) - 1 - i
		switch c {
		case '1':
			out[len(out)-1-bit/8] |= 1 << (bit % 8)
		case '0':
		default:
			return nil, fmt.Errorf("malformed bit string %q", text)
		}
	}
	return out, nil
}

func postgresUUID(text []byte) (string, error) {
	if len(text) != 36 {
		return "", fmt.Errorf("malformed uuid %q", text)
	}
	for i, c := range text {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return "", fmt.Errorf("malformed uuid %q", text)
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("malformed uuid %q", text)
		}
	}
	return string(text), nil
}

// postgresDate converts an ISO date, "YYYY-MM-DD[ BC]" with four or more
// year digits, to astronomical years.
func postgresDate(s string) (string, error) {
	switch s {
	case "infinity", "-infinity":
		return s, nil
	}
	d, bc := strings.CutSuffix(s, " BC")
	out, ok := astronomicalDate(d, bc)
	if !ok {
		return "", fmt.Errorf("malformed date %q: set DateStyle to ISO on the connection (schema.PostgresSessionSettings)", s)
	}
	return out, nil
}

// astronomicalDate rewrites "YYYY[Y…]-MM-DD" of an AD or BC year: year 1 BC
// is 0000, 2 BC is -0001.
func astronomicalDate(d string, bc bool) (string, bool) {
	n := len(d) - 6 // year digits
	if n < 4 || !allDigits(d[:n]) || d[n] != '-' || !isDigits(d, n+1, 2) || d[n+3] != '-' || !isDigits(d, n+4, 2) {
		return "", false
	}
	if !bc {
		return d, true
	}
	y, err := strconv.Atoi(d[:n])
	if err != nil || y < 1 {
		return "", false
	}
	y = 1 - y
	sign := ""
	if y < 0 {
		sign, y = "-", -y
	}
	return fmt.Sprintf("%s%04d%s", sign, y, d[n:]), true
}

// postgresTimeTZ converts "HH:MM:SS[.f]±HH[:MM[:SS]]".
func postgresTimeTZ(s string, scale int) (string, error) {
	i := strings.LastIndexAny(s, "+-")
	if i < 8 {
		return "", fmt.Errorf("malformed time with time zone %q", s)
	}
	t, err := canonicalTime(s[:i], scale)
	if err != nil {
		return "", err
	}
	off, ok := canonicalOffset(s[i:])
	if !ok {
		return "", fmt.Errorf("malformed time zone offset in %q", s)
	}
	return t + off, nil
}

// canonicalOffset turns "+05", "+05:30" or "+05:30:15" into "+05:00",
// "+05:30", "+05:30:15".
func canonicalOffset(o string) (string, bool) {
	switch {
	case len(o) == 3 && isDigits(o, 1, 2):
		return o + ":00", true
	case len(o) == 6 && isDigits(o, 1, 2) && o[3] == ':' && isDigits(o, 4, 2):
		return o, true
	case len(o) == 9 && isDigits(o, 1, 2) && o[3] == ':' && isDigits(o, 4, 2) && o[6] == ':' && isDigits(o, 7, 2):
		return o, true
	}
	return "", false
}

// postgresTimestamp converts "YYYY-MM-DD HH:MM:SS[.f][+00][ BC]" (ISO
// DateStyle, TimeZone UTC) to the KindDateTime or KindTimestamp form.
func postgresTimestamp(col *sluice.Column, s string) (string, error) {
	switch s {
	case "infinity", "-infinity":
		return s, nil
	}
	body, bc := strings.CutSuffix(s, " BC")
	if col.Kind == sluice.KindTimestamp {
		var ok bool
		if body, ok = strings.CutSuffix(body, "+00"); !ok {
			return "", fmt.Errorf("timestamp %q is not in UTC: set TimeZone to UTC on the connection (schema.PostgresSessionSettings)", s)
		}
	}
	d, clock, ok := strings.Cut(body, " ")
	if !ok || len(clock) < 8 || !isClockAt(clock, 0) {
		return "", fmt.Errorf("malformed timestamp %q: set DateStyle to ISO on the connection (schema.PostgresSessionSettings)", s)
	}
	date, ok := astronomicalDate(d, bc)
	if !ok {
		return "", fmt.Errorf("malformed timestamp %q", s)
	}
	frac, err := fraction(clock[8:], col.Scale, s)
	if err != nil {
		return "", err
	}
	if col.Kind == sluice.KindTimestamp {
		return date + "T" + clock[:8] + frac + "Z", nil
	}
	return date + " " + clock[:8] + frac, nil
}

// postgresInterval reads IntervalStyle iso_8601 output:
// "P1Y2M3DT4H5M6.5S", each part with its own sign, "PT0S" for zero.
func postgresInterval(s string) (sluice.Interval, error) {
	switch s {
	case "infinity":
		return sluice.Interval{Months: math.MaxInt32, Days: math.MaxInt32, Microseconds: math.MaxInt64}, nil
	case "-infinity":
		return sluice.Interval{Months: math.MinInt32, Days: math.MinInt32, Microseconds: math.MinInt64}, nil
	}
	bad := func() (sluice.Interval, error) {
		return sluice.Interval{}, fmt.Errorf("malformed interval %q: set IntervalStyle to iso_8601 on the connection (schema.PostgresSessionSettings)", s)
	}
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return bad()
	}
	var months, days, micros int64
	inTime := false
	for rest != "" {
		if rest[0] == 'T' && !inTime {
			inTime, rest = true, rest[1:]
			continue
		}
		i := 0
		if rest[0] == '-' {
			i = 1
		}
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == len(rest) {
			return bad()
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		if unit == 'S' && inTime {
			us, ok := secondsToMicros(num)
			if !ok {
				return bad()
			}
			micros += us
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return bad()
		}
		var mul int64
		switch {
		case !inTime && unit == 'Y':
			months += n * 12
		case !inTime && unit == 'M':
			months += n
		case !inTime && unit == 'D':
			days += n
		case inTime && unit == 'H':
			mul = 3_600_000_000
		case inTime && unit == 'M':
			mul = 60_000_000
		default:
			return bad()
		}
		if mul != 0 {
			if n > math.MaxInt64/mul || n < math.MinInt64/mul {
				return bad()
			}
			micros += n * mul
		}
	}
	if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
		return bad()
	}
	return sluice.Interval{Months: int32(months), Days: int32(days), Microseconds: micros}, nil
}

// secondsToMicros reads "[-]S[.ffffff]" as microseconds.
func secondsToMicros(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" || !allDigits(ip) || !allDigits(fp) || len(fp) > 6 {
		return 0, false
	}
	sec, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || sec > math.MaxInt64/1_000_000-1 {
		return 0, false
	}
	us := sec * 1_000_000
	if fp != "" {
		f, _ := strconv.ParseInt(fp+strings.Repeat("0", 6-len(fp)), 10, 64)
		us += f
	}
	if neg {
		us = -us
	}
	return us, true
}

// postgresArray parses array_out's form: an optional "[lo:hi]…=" bounds
// prefix (present when a lower bound is not 1), then nested braces whose
// elements are separated by commas (semicolons for box), double-quoted
// when they hold special characters, with NULL unquoted.
func postgresArray(col *sluice.Column, text []byte) (sluice.Array, error) {
	if col.Elem == nil {
		return sluice.Array{}, errors.New("array column without an element type")
	}
	p := arrayParser{in: text, elem: col.Elem, delim: ','}
	if col.Elem.SourceType == "box" {
		p.delim = ';'
	}
	var arr sluice.Array
	var lower []int
	if len(text) > 0 && text[0] == '[' {
		for p.pos < len(text) && text[p.pos] == '[' {
			end := bytes.IndexByte(text[p.pos:], ']')
			if end < 0 {
				return arr, fmt.Errorf("malformed array bounds in %q", text)
			}
			lo, hi, ok := strings.Cut(string(text[p.pos+1:p.pos+end]), ":")
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if !ok || err1 != nil || err2 != nil || h < l-1 {
				return arr, fmt.Errorf("malformed array bounds in %q", text)
			}
			lower = append(lower, l)
			p.wantDims = append(p.wantDims, h-l+1)
			p.pos += end + 1
		}
		if p.pos >= len(text) || text[p.pos] != '=' {
			return arr, fmt.Errorf("malformed array bounds in %q", text)
		}
		p.pos++
	}
	if err := p.parse(); err != nil {
		return arr, fmt.Errorf("malformed array %q: %w", text, err)
	}
	if lower != nil {
		if len(lower) != len(p.dims) {
			return arr, fmt.Errorf("malformed array %q: %d bounds for %d dimensions", text, len(lower), len(p.dims))
		}
		for i := range lower {
			if p.wantDims[i] != p.dims[i] {
				return arr, fmt.Errorf("malformed array %q: bounds do not match the elements", text)
			}
		}
	}
	arr.Dims, arr.Elems = p.dims, p.elems
	if arr.Elems == nil {
		arr.Elems = []any{}
	}
	for _, l := range lower {
		if l != 1 {
			arr.Lower = lower
			break
		}
	}
	return arr, nil
}

type arrayParser struct {
	in       []byte
	pos      int
	elem     *sluice.Column
	delim    byte
	ndims    int
	dims     []int
	wantDims []int
	elems    []any
	buf      []byte
}

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

func (p *arrayParser) parse() error {
	if p.pos >= len(p.in) || p.in[p.pos] != '{' {
		return errors.New("no opening brace")
	}
	if string(p.in[p.pos:]) == "{}" {
		p.pos += 2
		return nil
	}
	if err := p.level(0); err != nil {
		return err
	}
	if p.pos != len(p.in) {
		return fmt.Errorf("trailing data at offset %d", p.pos)
	}
	return nil
}

// level parses one brace-enclosed level at depth, p.pos on its '{'.
func (p *arrayParser) level(depth int) error {
	if depth >= maxArrayDims {
		return errors.New("more than 6 dimensions")
	}
	p.pos++ // '{'
	n := 0
	for {
		if p.pos >= len(p.in) {
			return errors.New("unexpected end")
		}
		if p.in[p.pos] == '{' {
			if p.ndims > 0 && depth+1 >= p.ndims {
				return errors.New("sub-array where an element belongs")
			}
			if err := p.level(depth + 1); err != nil {
				return err
			}
		} else {
			if p.ndims == 0 {
				p.ndims = depth + 1
			} else if p.ndims != depth+1 {
				return errors.New("element where a sub-array belongs")
			}
			if err := p.element(); err != nil {
				return err
			}
		}
		n++
		if p.pos >= len(p.in) {
			return errors.New("unexpected end")
		}
		c := p.in[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != p.delim {
			return fmt.Errorf("unexpected %q at offset %d", c, p.pos-1)
		}
	}
	for len(p.dims) <= depth {
		p.dims = append(p.dims, -1)
	}
	if p.dims[depth] < 0 {
		p.dims[depth] = n
	} else if p.dims[depth] != n {
		return errors.New("sub-arrays of different lengths")
	}
	return nil
}

// element parses one element at p.pos and appends its value.
func (p *arrayParser) element() error {
	if p.in[p.pos] == '"' {
		p.buf = p.buf[:0]
		p.pos++
		for {
			if p.pos >= len(p.in) {
				return errors.New("unterminated quoted element")
			}
			c := p.in[p.pos]
			p.pos++
			if c == '"' {
				break
			}
			if c == '\\' {
				if p.pos >= len(p.in) {
					return errors.New("unterminated quoted element")
				}
				c = p.in[p.pos]
				p.pos++
			}
			p.buf = append(p.buf, c)
		}
		return p.value(p.buf)
	}
	start := p.pos
	for p.pos < len(p.in) && p.in[p.pos] != p.delim && p.in[p.pos] != '}' {
		if c := p.in[p.pos]; c == '{' || c == '"' || c == '\\' {
			return fmt.Errorf("unexpected %q in an unquoted element", c)
		}
		p.pos++
	}
	raw := p.in[start:p.pos]
	if len(raw) == 0 {
		return errors.New("empty unquoted element")
	}
	if len(raw) == 4 && strings.EqualFold(string(raw), "null") {
		p.elems = append(p.elems, nil)
		return nil
	}
	return p.value(raw)
}

func (p *arrayParser) value(text []byte) error {
	v, err := postgresValue(p.elem, text)
	if err != nil {
		return fmt.Errorf("element %d: %w", len(p.elems)+1, err)
	}
	p.elems = append(p.elems, v)
	return nil
}
