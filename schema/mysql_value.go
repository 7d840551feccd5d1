package schema

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shopspring/decimal"

	"github.com/sluice-cdc/sluice"
)

// MySQLFieldValue converts one field of a text-protocol result row (go-mysql
// client, session set up with SET NAMES utf8mb4 and SET time_zone =
// '+00:00') to the canonical value of col, or nil for SQL NULL. The result
// never aliases fv's buffer, which go-mysql reuses for the next row.
//
// FLOAT columns must have been selected with [MySQLSelectExpr]: go-mysql
// hands over the float as a float64, exact only when the server printed it
// as a double.
func MySQLFieldValue(col *sluice.Column, fv mysql.FieldValue) (any, error) {
	switch fv.Type {
	case mysql.FieldValueTypeNull:
		return nil, nil
	case mysql.FieldValueTypeUnsigned:
		u := fv.AsUint64()
		switch col.Kind {
		case sluice.KindInt:
			if col.Unsigned {
				return u, nil
			}
			if u > math.MaxInt64 {
				return nil, valueError(col, fmt.Errorf("%d overflows a signed column", u))
			}
			return int64(u), nil
		case sluice.KindYear:
			return int64(u), nil
		}
	case mysql.FieldValueTypeSigned:
		i := fv.AsInt64()
		switch col.Kind {
		case sluice.KindInt:
			if col.Unsigned {
				if i < 0 {
					return nil, valueError(col, fmt.Errorf("%d in an unsigned column", i))
				}
				return uint64(i), nil
			}
			return i, nil
		case sluice.KindYear:
			return i, nil
		}
	case mysql.FieldValueTypeFloat:
		f := fv.AsFloat64()
		switch col.Kind {
		case sluice.KindFloat:
			return noNegZero32(float32(f)), nil
		case sluice.KindDouble:
			return noNegZero64(f), nil
		}
	case mysql.FieldValueTypeString:
		return MySQLTextValue(col, fv.AsString())
	}
	return nil, valueError(col, fmt.Errorf("unexpected field value type %d", fv.Type))
}

// MySQLTextValue converts the text-protocol form of one non-NULL value of col
// to its canonical value. raw is the value as the server sent it with SET
// NAMES utf8mb4 and time_zone '+00:00': UTF-8 text for character columns,
// the raw bytes for binary, bit and geometry columns. A nil raw is the empty
// value, not NULL: NULL is the caller's to detect. The result never aliases
// raw.
func MySQLTextValue(col *sluice.Column, raw []byte) (any, error) {
	switch col.Kind {
	case sluice.KindInt:
		if col.Unsigned {
			u, err := strconv.ParseUint(string(raw), 10, 64)
			if err != nil {
				return nil, valueError(col, err)
			}
			return u, nil
		}
		i, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, valueError(col, err)
		}
		return i, nil
	case sluice.KindYear:
		i, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, valueError(col, err)
		}
		return i, nil
	case sluice.KindFloat:
		// Parsing straight to 32 bits is exact for both forms a server
		// may print: the float's shortest form and the double it casts to.
		f, err := strconv.ParseFloat(string(raw), 32)
		if err != nil {
			return nil, valueError(col, err)
		}
		return noNegZero32(float32(f)), nil
	case sluice.KindDouble:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, valueError(col, err)
		}
		return noNegZero64(f), nil
	case sluice.KindDecimal:
		s, err := canonicalDecimal(string(raw), col.Scale)
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	case sluice.KindString, sluice.KindEnum, sluice.KindSet:
		return string(raw), nil
	case sluice.KindBytes, sluice.KindGeometry:
		return padBinary(col, raw), nil
	case sluice.KindBit:
		b, err := canonicalBit(col, raw)
		if err != nil {
			return nil, valueError(col, err)
		}
		return b, nil
	case sluice.KindJSON:
		s, err := canonicalJSON(raw)
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	case sluice.KindDate, sluice.KindTime, sluice.KindDateTime, sluice.KindTimestamp:
		s, err := canonicalTemporal(col, string(raw))
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	}
	return nil, valueError(col, errors.New("kind not produced by MySQL"))
}

// MySQLBinlogValue converts one value of a binlog row, as go-mysql's
// RowsEvent decodes it with UseDecimal set and ParseTime unset, to the
// canonical value of col (built by [MySQLTableFromTableMap]); nil stays nil.
// Integers arrive signed whatever the column's signedness and are
// reinterpreted with the column's width; strings arrive in the column's
// character set and are converted to UTF-8. The result never aliases v,
// which may point into the binlog event's buffer.
func MySQLBinlogValue(col *sluice.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch col.Kind {
	case sluice.KindInt:
		return binlogInt(col, v)
	case sluice.KindFloat:
		if f, ok := v.(float32); ok {
			return noNegZero32(f), nil
		}
	case sluice.KindDouble:
		if f, ok := v.(float64); ok {
			return noNegZero64(f), nil
		}
	case sluice.KindDecimal:
		var s string
		switch d := v.(type) {
		case decimal.Decimal:
			s = d.String()
		case string:
			s = d
		default:
			return nil, unexpectedType(col, v)
		}
		s, err := canonicalDecimal(s, col.Scale)
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	case sluice.KindString:
		var s string
		var err error
		switch b := v.(type) {
		case string:
			if isUTF8Charset(col.Charset) {
				return strings.Clone(b), nil
			}
			s, err = decodeCharset(col.Charset, []byte(b))
		case []byte:
			s, err = decodeCharset(col.Charset, b)
		default:
			return nil, unexpectedType(col, v)
		}
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	case sluice.KindBytes, sluice.KindGeometry:
		switch b := v.(type) {
		case []byte:
			return padBinary(col, b), nil
		case string:
			return padBinary(col, []byte(b)), nil
		}
	case sluice.KindBit:
		switch b := v.(type) {
		case int64:
			n := (col.Length + 7) / 8
			out := make([]byte, n)
			u := uint64(b)
			for i := n - 1; i >= 0; i-- {
				out[i] = byte(u)
				u >>= 8
			}
			return out, nil
		case []byte:
			out, err := canonicalBit(col, b)
			if err != nil {
				return nil, valueError(col, err)
			}
			return out, nil
		}
	case sluice.KindYear:
		switch y := v.(type) {
		case int:
			return int64(y), nil
		case int64:
			return y, nil
		}
	case sluice.KindEnum:
		if i, ok := v.(int64); ok {
			if i == 0 {
				return "", nil
			}
			if i < 0 || i > int64(len(col.Members)) {
				return nil, valueError(col, fmt.Errorf("enum index %d outside its %d members", i, len(col.Members)))
			}
			return col.Members[i-1], nil
		}
	case sluice.KindSet:
		if i, ok := v.(int64); ok {
			return setMembers(col, uint64(i))
		}
	case sluice.KindJSON:
		var s string
		var err error
		switch j := v.(type) {
		case string:
			s, err = canonicalJSON([]byte(j))
		case []byte:
			s, err = canonicalJSON(j)
		default:
			return nil, unexpectedType(col, v)
		}
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	case sluice.KindDate, sluice.KindTime, sluice.KindDateTime, sluice.KindTimestamp:
		var s string
		switch t := v.(type) {
		case string:
			s = t
		case time.Time:
			// A parser set up with ParseTime hands DATETIME as UTC wall
			// clock and TIMESTAMP as an instant.
			if col.Kind != sluice.KindDateTime && col.Kind != sluice.KindTimestamp {
				return nil, unexpectedType(col, v)
			}
			layout := "2006-01-02 15:04:05"
			if col.Scale > 0 && col.Scale <= 6 {
				layout += ".000000"[:1+col.Scale]
			}
			s = t.UTC().Format(layout)
		default:
			return nil, unexpectedType(col, v)
		}
		s, err := canonicalTemporal(col, s)
		if err != nil {
			return nil, valueError(col, err)
		}
		return s, nil
	default:
		return nil, valueError(col, errors.New("kind not produced by MySQL"))
	}
	return nil, unexpectedType(col, v)
}

func valueError(col *sluice.Column, err error) error {
	return fmt.Errorf("convert value of column %q (%s): %w", col.Name, col.SourceType, err)
}

func unexpectedType(col *sluice.Column, v any) error {
	return valueError(col, fmt.Errorf("unexpected Go type %T", v))
}

func isUTF8Charset(cs string) bool {
	return cs == charsetUTF8MB4 || cs == charsetUTF8MB3 || cs == charsetASCII
}

func noNegZero32(f float32) float32 {
	if f == 0 {
		return 0
	}
	return f
}

func noNegZero64(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

// binlogInt reinterprets go-mysql's always-signed integers with the column's
// width when the column is unsigned.
func binlogInt(col *sluice.Column, v any) (any, error) {
	if !col.Unsigned {
		switch i := v.(type) {
		case int8:
			return int64(i), nil
		case int16:
			return int64(i), nil
		case int32:
			return int64(i), nil
		case int64:
			return i, nil
		case int:
			return int64(i), nil
		}
		return nil, unexpectedType(col, v)
	}
	switch i := v.(type) {
	case int8:
		return uint64(uint8(i)), nil
	case int16:
		return uint64(uint16(i)), nil
	case int32:
		// MEDIUMINT arrives sign-extended from 24 bits.
		if strings.HasPrefix(col.SourceType, "mediumint") {
			return uint64(uint32(i) & 0xFFFFFF), nil
		}
		return uint64(uint32(i)), nil
	case int64:
		return uint64(i), nil
	case uint64:
		return i, nil
	}
	return nil, unexpectedType(col, v)
}

func setMembers(col *sluice.Column, mask uint64) (string, error) {
	if len(col.Members) < 64 && mask>>uint(len(col.Members)) != 0 {
		return "", valueError(col, fmt.Errorf("set bitmask %#x has bits beyond its %d members", mask, len(col.Members)))
	}
	var b strings.Builder
	for i, m := range col.Members {
		if mask&(1<<uint(i)) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m)
	}
	return b.String(), nil
}

// padBinary copies b and pads a BINARY(n) value (Length n) with zero bytes
// to its full length: the binlog drops the trailing zeros a SELECT returns.
func padBinary(col *sluice.Column, b []byte) []byte {
	n := len(b)
	if col.Kind == sluice.KindBytes && col.Length > n {
		n = col.Length
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// canonicalBit copies a big-endian BIT value to exactly (Length+7)/8 bytes.
func canonicalBit(col *sluice.Column, b []byte) ([]byte, error) {
	n := (col.Length + 7) / 8
	for len(b) > n {
		if b[0] != 0 {
			return nil, fmt.Errorf("bit value of %d bytes exceeds bit(%d)", len(b), col.Length)
		}
		b = b[1:]
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out, nil
}

// canonicalDecimal returns s in plain notation with exactly scale fractional
// digits, without leading zeros and without a minus sign on zero.
func canonicalDecimal(s string, scale int) (string, error) {
	in := s
	neg, plus := false, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, plus = s[0] == '-', s[0] == '+'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", fmt.Errorf("malformed decimal %q", in)
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return "", fmt.Errorf("decimal %q has more than %d fractional digits", in, scale)
		}
		frac = frac[:scale]
	}
	trimmed := strings.TrimLeft(intPart, "0")
	zero := trimmed == "" && strings.Trim(frac, "0") == ""
	if trimmed == "" {
		trimmed = "0"
	}
	if !plus && !(neg && zero) && trimmed == intPart && len(frac) == scale && hasDot == (scale > 0) &&
		len(in) == boolInt(neg)+len(intPart)+boolInt(hasDot)+len(frac) {
		return in, nil
	}
	var b strings.Builder
	b.Grow(len(trimmed) + scale + 2)
	if neg && !zero {
		b.WriteByte('-')
	}
	b.WriteString(trimmed)
	if scale > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
		for i := len(frac); i < scale; i++ {
			b.WriteByte('0')
		}
	}
	return b.String(), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalTemporal normalises a DATE, TIME, DATETIME or TIMESTAMP value as
// MySQL prints it (and go-mysql formats it) to the column's canonical form:
// exactly Scale fractional digits; a TIMESTAMP in RFC 3339 form with a "T"
// and a "Z".
func canonicalTemporal(col *sluice.Column, s string) (string, error) {
	switch col.Kind {
	case sluice.KindDate:
		if len(s) != 10 || !isDateAt(s, 0) {
			return "", fmt.Errorf("malformed date %q", s)
		}
		return s, nil
	case sluice.KindTime:
		return canonicalTime(s, col.Scale)
	}
	// DATETIME and TIMESTAMP: "YYYY-MM-DD HH:MM:SS[.ffffff]".
	if len(s) < 19 || !isDateAt(s, 0) || s[10] != ' ' || !isClockAt(s, 11) {
		return "", fmt.Errorf("malformed %s %q", col.Kind, s)
	}
	frac, err := fraction(s[19:], col.Scale, s)
	if err != nil {
		return "", err
	}
	if col.Kind == sluice.KindDateTime {
		if len(frac) == len(s)-19 {
			return s, nil
		}
		return s[:19] + frac, nil
	}
	return s[:10] + "T" + s[11:19] + frac + "Z", nil
}

// canonicalTime normalises "[-]H…H:MM:SS[.f…]" to exactly scale fractional
// digits.
func canonicalTime(s string, scale int) (string, error) {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j-i < 2 || len(s) < j+6 || s[j] != ':' || !isDigits(s, j+1, 2) || s[j+3] != ':' || !isDigits(s, j+4, 2) {
		return "", fmt.Errorf("malformed time %q", s)
	}
	frac, err := fraction(s[j+6:], scale, s)
	if err != nil {
		return "", err
	}
	if len(frac) == len(s)-(j+6) {
		return s, nil
	}
	return s[:j+6] + frac, nil
}

// fraction turns the fractional part of a temporal value (".123" or "") into
// exactly scale digits with their dot, or "" when scale is 0.
func fraction(f string, scale int, whole string) (string, error) {
	if f != "" && (f[0] != '.' || !allDigits(f[1:]) || len(f) == 1) {
		return "", fmt.Errorf("malformed fractional seconds in %q", whole)
	}
	digits := ""
	if f != "" {
		digits = f[1:]
	}
	if len(digits) > scale {
		if strings.Trim(digits[scale:], "0") != "" {
			return "", fmt.Errorf("%q has more than %d fractional digits", whole, scale)
		}
		digits = digits[:scale]
	}
	if scale == 0 {
		return "", nil
	}
	if len(digits) == scale {
		return f[:1+scale], nil
	}
	return "." + digits + strings.Repeat("0", scale-len(digits)), nil
}

func isDigits(s string, at, n int) bool {
	if at+n > len(s) {
		return false
	}
	return allDigits(s[at : at+n])
}

// isDateAt reports whether s holds "YYYY-MM-DD" at index at.
func isDateAt(s string, at int) bool {
	return isDigits(s, at, 4) && s[at+4] == '-' && isDigits(s, at+5, 2) && s[at+7] == '-' && isDigits(s, at+8, 2)
}

// isClockAt reports whether s holds "HH:MM:SS" at index at.
func isClockAt(s string, at int) bool {
	return isDigits(s, at, 2) && s[at+2] == ':' && isDigits(s, at+3, 2) && s[at+5] == ':' && isDigits(s, at+6, 2)
}
