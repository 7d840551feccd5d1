package schema

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/sluice-cdc/sluice"
)

// This file writes Avro binary straight from sluice's canonical values,
// following a per-shape plan: zig-zag varints, length-prefixed strings and
// bytes, little-endian floats and union branch indexes. It does what
// goavro's BinaryFromNative would do for the same schema, without building
// native maps; the tests decode its output with goavro to prove it.

// appendAvroLong appends v as a zig-zag varint (Avro int and long).
func appendAvroLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// appendAvroBytes appends b with its length (Avro bytes and string).
func appendAvroBytes(dst, b []byte) []byte {
	dst = appendAvroLong(dst, int64(len(b)))
	return append(dst, b...)
}

func appendAvroString(dst []byte, s string) []byte {
	dst = appendAvroLong(dst, int64(len(s)))
	return append(dst, s...)
}

func appendAvroBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendAvroRow appends the fields of row that plan names, in plan order.
// unavailable lists (ascending) the columns whose values the source did
// not send: a NOT NULL one among them gets its field's default. A value
// a replaceable field cannot hold is written as null and appended to
// *replaced (when replaced is not nil) with after as its image.
func appendAvroRow(dst []byte, plan []avroField, row sluice.Row, unavailable []int, replaced *[]sluice.Replacement, after bool) ([]byte, error) {
	var err error
	for i := range plan {
		f := &plan[i]
		v := row[f.col]
		if v == nil {
			if f.nullable {
				dst = append(dst, 0) // union branch 0: null
				continue
			}
			if !slices.Contains(unavailable, f.col) {
				return dst, fmt.Errorf("column %q is NULL but its shape says NOT NULL", f.name)
			}
			dst = appendAvroZero(dst, f)
			continue
		}
		mark := len(dst)
		if dst, err = appendAvroValue(dst, f, v); err != nil {
			if err == errAvroReplace && f.nullable {
				dst = append(dst[:mark], 0)
				if replaced != nil {
					*replaced = append(*replaced, sluice.Replacement{After: after, Column: f.col})
				}
				continue
			}
			return dst, fmt.Errorf("column %q: %w", f.name, err)
		}
	}
	return dst, nil
}

// replacementText is the canonical text of value v of col, written as
// null: the string itself, or the value's JSON rendering.
func replacementText(col *sluice.Column, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := AppendJSON(nil, col, v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var text string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &text) == nil {
		return text // NaN, Infinity: the JSON string's text
	}
	return string(b)
}

// appendAvroZero appends the default of a non-null field (its zero).
func appendAvroZero(dst []byte, f *avroField) []byte {
	if f.fallback {
		dst = append(dst, 0) // union branch 0: the field's own type
	}
	switch f.op {
	case avroOpFloat:
		return append(dst, 0, 0, 0, 0)
	case avroOpDouble:
		return append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	case avroOpDecimal, avroOpUnsignedDecimal:
		return append(dst, 2, 0) // one zero byte
	case avroOpString, avroOpIntervalText, avroOpZoned:
		var s string
		_ = json.Unmarshal(f.zero, &s)
		return appendAvroString(dst, s)
	case avroOpInterval, avroOpArray:
		return append(dst, 0, 0, 0)
	case avroOpVarDecimal:
		return append(dst, 0, 2, 0) // scale 0, one zero byte
	}
	return append(dst, 0) // 0, false, empty bytes
}

// appendAvroValue appends one non-nil value, with its union branch index
// when the field is a union.
func appendAvroValue(dst []byte, f *avroField, v any) ([]byte, error) {
	// branch is the index of T in the field's union, when there is one.
	var branch int64
	if f.nullable {
		branch = 1
	}
	union := f.nullable || f.fallback
	switch f.op {
	case avroOpInt:
		n, err := avroInt64(v)
		if err != nil {
			return dst, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return dst, fmt.Errorf("value %d does not fit an Avro int", n)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroLong(dst, n), nil
	case avroOpLong:
		n, err := avroInt64(v)
		if err != nil {
			return dst, err
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroLong(dst, n), nil
	case avroOpLongWrap, avroOpUnsignedDecimal:
		u, err := avroUint64(v)
		if err != nil {
			return dst, err
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		if f.op == avroOpLongWrap {
			return appendAvroLong(dst, int64(u)), nil
		}
		return appendAvroUnsignedDecimal(dst, u), nil
	case avroOpBool:
		b, ok := v.(bool)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want bool", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroBool(dst, b), nil
	case avroOpBit1:
		b, ok := v.([]byte)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want []byte", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroBool(dst, len(b) > 0 && b[len(b)-1]&1 != 0), nil
	case avroOpFloat:
		x, ok := v.(float32)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want float32", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(x)), nil
	case avroOpDouble:
		x, ok := v.(float64)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want float64", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(x)), nil
	case avroOpDecimal:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a decimal string", v)
		}
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			if f.replaceable {
				return dst, errAvroReplace
			}
			if f.fallback {
				dst = append(dst, byte((branch+1)<<1))
				return appendAvroString(dst, s), nil
			}
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroDecimal(dst, s, f.scale)
	case avroOpString:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want string", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroString(dst, s), nil
	case avroOpBytes:
		b, ok := v.([]byte)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want []byte", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroBytes(dst, b), nil
	case avroOpTime:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a time string", v)
		}
		us, ok := parseAvroTime(s)
		if !ok {
			return dst, fmt.Errorf("time value %q is not [-]HH:MM:SS[.ffffff]", s)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroLong(dst, us), nil
	case avroOpDate, avroOpDateTime, avroOpTimestamp:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a date or time string", v)
		}
		n, res := parseAvroTemporal(s, f.op)
		switch res {
		case avroTemporalBad:
			return dst, fmt.Errorf("value %q is not in the canonical form of its kind", s)
		case avroTemporalFallback:
			// Zero dates, dates with zero or impossible parts, infinities
			// and instants out of range have no value of the logical
			// type: write the canonical text in the string branch (v1),
			// or null and a sluice.Replacement (v2).
			if f.replaceable {
				return dst, errAvroReplace
			}
			dst = append(dst, byte((branch+1)<<1))
			return appendAvroString(dst, s), nil
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendAvroLong(dst, n), nil
	case avroOpZoned:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a timestamp string", v)
		}
		if err := checkZoned(s); err != nil {
			return dst, err
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		return appendZoned(dst, s), nil
	case avroOpIntervalText:
		iv, ok := v.(sluice.Interval)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Interval", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		var buf [64]byte
		return appendAvroBytes(dst, appendInterval(buf[:0], iv)), nil
	case avroOpVarDecimal:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a decimal string", v)
		}
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			return dst, errAvroReplace
		}
		scale := decimalTextScale(s)
		if union {
			dst = append(dst, byte(branch<<1))
		}
		dst = appendAvroLong(dst, int64(scale))
		return appendAvroDecimal(dst, s, scale)
	case avroOpArrayFlat:
		a, ok := v.(sluice.Array)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Array", v)
		}
		if len(a.Dims) > 1 || (len(a.Lower) > 0 && a.Lower[0] != 1) {
			return dst, errAvroReplace
		}
		if len(a.Dims) == 1 && a.Dims[0] != len(a.Elems) || len(a.Dims) == 0 && len(a.Elems) > 0 {
			return dst, fmt.Errorf("array of dimensions %v holds %d elements", a.Dims, len(a.Elems))
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		if len(a.Elems) > 0 {
			dst = appendAvroLong(dst, int64(len(a.Elems)))
			for i, e := range a.Elems {
				if e == nil {
					dst = append(dst, 0)
					continue
				}
				var err error
				if dst, err = appendAvroValue(dst, f.elem, e); err != nil {
					if err == errAvroReplace {
						return dst, err
					}
					return dst, fmt.Errorf("element %d: %w", i, err)
				}
			}
		}
		return append(dst, 0), nil
	case avroOpInterval:
		iv, ok := v.(sluice.Interval)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Interval", v)
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		dst = appendAvroLong(dst, int64(iv.Months))
		dst = appendAvroLong(dst, int64(iv.Days))
		return appendAvroLong(dst, iv.Microseconds), nil
	case avroOpArray:
		a, ok := v.(sluice.Array)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Array", v)
		}
		n := 0
		if len(a.Dims) > 0 {
			n = 1
			for _, d := range a.Dims {
				n *= d
			}
		}
		if n != len(a.Elems) || (a.Lower != nil && len(a.Lower) != len(a.Dims)) {
			return dst, fmt.Errorf("array of dimensions %v and lower bounds %v holds %d elements", a.Dims, a.Lower, len(a.Elems))
		}
		if union {
			dst = append(dst, byte(branch<<1))
		}
		if len(a.Elems) > 0 {
			dst = appendAvroLong(dst, int64(len(a.Elems)))
			for i, e := range a.Elems {
				if e == nil {
					dst = append(dst, 0)
					continue
				}
				var err error
				if dst, err = appendAvroValue(dst, f.elem, e); err != nil {
					return dst, fmt.Errorf("element %d: %w", i, err)
				}
			}
		}
		dst = append(dst, 0)
		dst = appendAvroInts(dst, a.Dims)
		return appendAvroInts(dst, a.Lower), nil
	}
	return dst, fmt.Errorf("no Avro encoding for plan step %d", f.op)
}

// appendAvroInts appends an Avro array of ints: one block and the end.
func appendAvroInts(dst []byte, v []int) []byte {
	if len(v) > 0 {
		dst = appendAvroLong(dst, int64(len(v)))
		for _, x := range v {
			dst = appendAvroLong(dst, int64(x))
		}
	}
	return append(dst, 0)
}

// avroInt64 reads a signed or unsigned integer value; uint64 values above
// MaxInt64 are an error (their fields are never plain longs).
// avroUint64 returns the value of an unsigned column: a uint64, or a
// non-negative int64.
func avroUint64(v any) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("negative value %d in an unsigned column", x)
		}
		return uint64(x), nil
	}
	return 0, fmt.Errorf("value of type %T, want uint64", v)
}

func avroInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("value %d does not fit an Avro long", x)
		}
		return int64(x), nil
	}
	return 0, fmt.Errorf("value of type %T, want int64 or uint64", v)
}

// appendAvroUnsignedDecimal appends u as decimal(20,0) bytes: the minimal
// big-endian two's complement of u (a leading zero byte when the top bit
// is set).
func appendAvroUnsignedDecimal(dst []byte, u uint64) []byte {
	n := 1
	for n < 8 && u>>(8*n-1) != 0 {
		n++
	}
	if n == 8 && u>>63 != 0 {
		dst = appendAvroLong(dst, 9)
		dst = append(dst, 0)
		return binary.BigEndian.AppendUint64(dst, u)
	}
	dst = appendAvroLong(dst, int64(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*i)))
	}
	return dst
}

// appendAvroSignedBytes appends v as Avro decimal bytes: its minimal
// big-endian two's complement.
func appendAvroSignedBytes(dst []byte, v int64) []byte {
	n := 1
	for n < 8 {
		// v fits n bytes when sign-extending its low 8n bits gives v.
		shift := 64 - 8*n
		if (v<<shift)>>shift == v {
			break
		}
		n++
	}
	dst = appendAvroLong(dst, int64(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendAvroDecimal appends the decimal string s (plain notation, an
// optional '-', at most scale fractional digits) as the unscaled integer
// s×10^scale in Avro decimal bytes.
func appendAvroDecimal(dst []byte, s string, scale int) ([]byte, error) {
	neg := false
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	intPart, frac := digits, ""
	for i := 0; i < len(digits); i++ {
		if digits[i] == '.' {
			intPart, frac = digits[:i], digits[i+1:]
			break
		}
	}
	if intPart == "" && frac == "" || len(frac) > scale || !allDigits(intPart) || !allDigits(frac) {
		return dst, fmt.Errorf("decimal value %q is not plain notation with at most %d fractional digits", s, scale)
	}
	pad := scale - len(frac)
	if len(intPart)+scale <= 18 {
		var n int64
		for i := 0; i < len(intPart); i++ {
			n = n*10 + int64(intPart[i]-'0')
		}
		for i := 0; i < len(frac); i++ {
			n = n*10 + int64(frac[i]-'0')
		}
		for i := 0; i < pad; i++ {
			n *= 10
		}
		if neg {
			n = -n
		}
		return appendAvroSignedBytes(dst, n), nil
	}
	// Beyond 18 digits: big.Int, allocating; MySQL's DECIMAL reaches 65.
	text := make([]byte, 0, 1+len(intPart)+scale)
	if neg {
		text = append(text, '-')
	}
	text = append(text, intPart...)
	text = append(text, frac...)
	for i := 0; i < pad; i++ {
		text = append(text, '0')
	}
	var n big.Int
	if _, ok := n.SetString(string(text), 10); !ok {
		return dst, fmt.Errorf("decimal value %q is not a number", s)
	}
	return appendAvroBigInt(dst, &n), nil
}

// appendAvroBigInt appends n as its minimal big-endian two's complement.
func appendAvroBigInt(dst []byte, n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			dst = appendAvroLong(dst, int64(len(b)+1))
			dst = append(dst, 0)
			return append(dst, b...)
		}
		return appendAvroBytes(dst, b)
	}
	// -n-1 has the complement bits of n's two's complement.
	var m big.Int
	m.Neg(n)
	m.Sub(&m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		dst = appendAvroLong(dst, int64(len(b)+1))
		dst = append(dst, 0xff)
		return append(dst, b...)
	}
	return appendAvroBytes(dst, b)
}

// atoiFixed reads s[i:i+n] as a decimal number; ok is false when those
// bytes are not all digits or s is too short.
func atoiFixed(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// The outcomes of parsing a date, date and time, or timestamp value.
const (
	avroTemporalOK       = iota // a calendar day (and time): n is valid
	avroTemporalFallback        // well-formed, but no value of the logical type: write the text
	avroTemporalBad             // not the canonical form of its kind
)

// parseAvroTemporal reads a KindDate ("YYYY-MM-DD"), KindDateTime
// ("YYYY-MM-DD HH:MM:SS[.f…]") or KindTimestamp ("YYYY-MM-DDTHH:MM:SS[.f…]Z")
// value as days (date) or microseconds (the others) since 1970-01-01
// 00:00:00. Years may carry a sign and more than four digits (PostgreSQL's
// astronomical years). Zero dates, zero months or days, days past the
// month's end, "infinity", "-infinity" and instants beyond a long's range
// of microseconds are avroTemporalFallback.
func parseAvroTemporal(s string, op avroOp) (int64, int) {
	if s == "infinity" || s == "-infinity" {
		return 0, avroTemporalFallback
	}
	neg := len(s) > 0 && s[0] == '-'
	rest := s
	if neg {
		rest = s[1:]
	}
	dash := 0
	for dash < len(rest) && rest[dash] != '-' {
		dash++
	}
	if dash < 4 || dash > 7 || len(rest) < dash+6 || rest[dash+3] != '-' {
		return 0, avroTemporalBad
	}
	y, ok1 := atoiFixed(rest, 0, dash)
	m, ok2 := atoiFixed(rest, dash+1, 2)
	d, ok3 := atoiFixed(rest, dash+4, 2)
	if !ok1 || !ok2 || !ok3 {
		return 0, avroTemporalBad
	}
	if neg {
		y = -y
	}
	clock := rest[dash+6:]
	var us int64
	switch op {
	case avroOpDate:
		if clock != "" {
			return 0, avroTemporalBad
		}
	case avroOpDateTime, avroOpTimestamp:
		sep := byte(' ')
		if op == avroOpTimestamp {
			sep = 'T'
			if len(clock) == 0 || clock[len(clock)-1] != 'Z' {
				return 0, avroTemporalBad
			}
			clock = clock[:len(clock)-1]
		}
		if len(clock) < 9 || clock[0] != sep {
			return 0, avroTemporalBad
		}
		var ok bool
		if us, ok = parseAvroClock(clock[1:], false); !ok || us >= 86400*1e6 {
			return 0, avroTemporalBad
		}
	default:
		return 0, avroTemporalBad
	}
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, avroTemporalFallback
	}
	days := daysFromCivil(y, m, d)
	if op == avroOpDate {
		if days < math.MinInt32 || days > math.MaxInt32 {
			return 0, avroTemporalFallback
		}
		return days, avroTemporalOK
	}
	const dayMicros int64 = 86400 * 1e6
	if days > (math.MaxInt64-dayMicros)/dayMicros || days < math.MinInt64/dayMicros+1 {
		return 0, avroTemporalFallback
	}
	return days*dayMicros + us, avroTemporalOK
}

// parseAvroTime reads a KindTime value "[-]H…H:MM:SS[.f…]" as signed
// microseconds.
func parseAvroTime(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	us, ok := parseAvroClock(s, true)
	if neg {
		us = -us
	}
	return us, ok
}

// parseAvroClock reads "HH:MM:SS[.f…]" (hours of any length when
// longHours) as microseconds; fractions beyond 6 digits are refused.
func parseAvroClock(s string, longHours bool) (int64, bool) {
	colon := 0
	for colon < len(s) && s[colon] != ':' {
		colon++
	}
	if colon == 0 || colon > 9 || (!longHours && colon != 2) {
		return 0, false
	}
	h, ok := atoiFixed(s, 0, colon)
	if !ok || len(s) < colon+6 || s[colon+3] != ':' {
		return 0, false
	}
	m, ok1 := atoiFixed(s, colon+1, 2)
	sec, ok2 := atoiFixed(s, colon+4, 2)
	if !ok1 || !ok2 || m > 59 || sec > 59 {
		return 0, false
	}
	us := (int64(h)*3600 + int64(m)*60 + int64(sec)) * 1e6
	rest := s[colon+6:]
	if rest == "" {
		return us, true
	}
	if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
		return 0, false
	}
	frac, ok := atoiFixed(rest, 1, len(rest)-1)
	if !ok {
		return 0, false
	}
	for i := len(rest) - 1; i < 6; i++ {
		frac *= 10
	}
	return us + int64(frac), true
}

func daysInMonth(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
