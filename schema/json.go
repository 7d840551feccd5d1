package schema

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice"
)

// AppendJSON appends the JSON rendering of v, one canonical value of col
// (nil for NULL), to dst and returns the extended buffer:
//
//   - integers (int64, uint64) as JSON numbers with every digit;
//   - FLOAT and DOUBLE as the shortest number that reads back to the same
//     float32 or float64, in plain notation between 1e-6 and 1e21 and
//     exponent notation outside it; NaN and the infinities, which JSON
//     numbers cannot hold (PostgreSQL real and double precision can), as
//     the JSON strings "NaN", "Infinity" and "-Infinity";
//   - decimals, strings, enums, sets, dates, times and the text of JSON
//     columns as JSON strings;
//   - bytes, bits and geometries as standard base64 in a JSON string;
//   - intervals as a JSON string in ISO 8601 form, exactly as PostgreSQL
//     prints them with IntervalStyle iso_8601 ("P1Y2M3DT4H5M6.5S", each part
//     with its own sign, "PT0S" for zero, "infinity" and "-infinity");
//   - arrays as nested JSON arrays, one level per dimension, elements
//     rendered by these rules with NULL as null; an array whose lower
//     bounds are not all 1 becomes {"lower_bounds":[…],"elements":[…]}.
//
// Strings are escaped as encoding/json escapes them, except that <, > and &
// stay as they are; invalid UTF-8 becomes U+FFFD. It does not retain dst or
// v.
func AppendJSON(dst []byte, col *sluice.Column, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case string:
		return appendString(dst, x), nil
	case []byte:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x)
		return append(dst, '"'), nil
	case float64:
		if special, ok := nonFiniteJSON(x); ok {
			return append(dst, special...), nil
		}
		return appendFloat(dst, x, 64), nil
	case float32:
		if special, ok := nonFiniteJSON(float64(x)); ok {
			return append(dst, special...), nil
		}
		return appendFloat(dst, float64(x), 32), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case sluice.Interval:
		dst = append(dst, '"')
		dst = appendInterval(dst, x)
		return append(dst, '"'), nil
	case sluice.Array:
		return appendArray(dst, col, x)
	}
	return dst, fmt.Errorf("render column %q (%s) as JSON: unexpected Go type %T", col.Name, col.Kind, v)
}

// appendFloat formats f as encoding/json does: shortest round-trip digits
// for the given bit size, exponent notation only below 1e-6 and from 1e21,
// and no zero padding in the exponent.
// nonFiniteJSON returns the JSON string standing for NaN or an infinity.
func nonFiniteJSON(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return `"NaN"`, true
	case math.IsInf(f, 1):
		return `"Infinity"`, true
	case math.IsInf(f, -1):
		return `"-Infinity"`, true
	}
	return "", false
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Turn e-09 into e-9.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	// Skip eight bytes at a time while none needs escaping or is non-ASCII.
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if special8(w) {
			break
		}
	}
	for ; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			return appendStringSlow(dst, s, i)
		}
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in w is below 0x20, a
// quote, a backslash or non-ASCII.
func special8(w uint64) bool {
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return ((w-ones*0x20)&^w|(q-ones)&^q|(b-ones)&^b|w)&highs != 0
}

// jsonSafe marks the bytes a JSON string carries unescaped without further
// checks: printable ASCII other than the quote and the backslash.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendStringSlow continues appendString from s[i], the first byte that
// needs a closer look; dst already holds the opening quote.
func appendStringSlow(dst []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end a line in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendInterval formats iv as PostgreSQL's EncodeInterval does for
// IntervalStyle iso_8601.
func appendInterval(dst []byte, iv sluice.Interval) []byte {
	switch iv {
	case sluice.Interval{Months: math.MaxInt32, Days: math.MaxInt32, Microseconds: math.MaxInt64}:
		return append(dst, "infinity"...)
	case sluice.Interval{Months: math.MinInt32, Days: math.MinInt32, Microseconds: math.MinInt64}:
		return append(dst, "-infinity"...)
	case sluice.Interval{}:
		return append(dst, "PT0S"...)
	}
	year, mon := int64(iv.Months)/12, int64(iv.Months)%12
	t := iv.Microseconds
	hour := t / 3_600_000_000
	t -= hour * 3_600_000_000
	min := t / 60_000_000
	t -= min * 60_000_000
	sec, fsec := t/1_000_000, t%1_000_000
	part := func(n int64, unit byte) {
		if n != 0 {
			dst = strconv.AppendInt(dst, n, 10)
			dst = append(dst, unit)
		}
	}
	dst = append(dst, 'P')
	part(year, 'Y')
	part(mon, 'M')
	part(int64(iv.Days), 'D')
	if hour != 0 || min != 0 || sec != 0 || fsec != 0 {
		dst = append(dst, 'T')
	}
	part(hour, 'H')
	part(min, 'M')
	if sec != 0 || fsec != 0 {
		if sec < 0 || fsec < 0 {
			dst = append(dst, '-')
			sec, fsec = -sec, -fsec
		}
		dst = strconv.AppendInt(dst, sec, 10)
		if fsec != 0 {
			digits := strconv.AppendInt([]byte{'.'}, 1_000_000+fsec, 10)[2:]
			for digits[len(digits)-1] == '0' {
				digits = digits[:len(digits)-1]
			}
			dst = append(dst, '.')
			dst = append(dst, digits...)
		}
		dst = append(dst, 'S')
	}
	return dst
}

// appendArray renders an array value as nested JSON arrays.
func appendArray(dst []byte, col *sluice.Column, a sluice.Array) ([]byte, error) {
	if col.Elem == nil {
		return dst, fmt.Errorf("render column %q as JSON: array column without an element type", col.Name)
	}
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	if len(a.Dims) == 0 {
		n = 0
	}
	if n != len(a.Elems) {
		return dst, fmt.Errorf("render column %q as JSON: array of dimensions %v holds %d elements", col.Name, a.Dims, len(a.Elems))
	}
	if a.Lower != nil {
		dst = append(dst, `{"lower_bounds":[`...)
		for i, l := range a.Lower {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(l), 10)
		}
		dst = append(dst, `],"elements":`...)
	}
	if len(a.Dims) == 0 {
		dst = append(dst, "[]"...)
	} else {
		var err error
		if dst, _, err = appendArrayLevel(dst, col.Elem, a.Dims, a.Elems); err != nil {
			return dst, err
		}
	}
	if a.Lower != nil {
		dst = append(dst, '}')
	}
	return dst, nil
}

// appendArrayLevel renders the first dims[0] sub-arrays (or elements) of
// elems and returns the elements it did not consume.
func appendArrayLevel(dst []byte, elem *sluice.Column, dims []int, elems []any) ([]byte, []any, error) {
	dst = append(dst, '[')
	for i := 0; i < dims[0]; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if len(dims) > 1 {
			dst, elems, err = appendArrayLevel(dst, elem, dims[1:], elems)
		} else {
			dst, err = AppendJSON(dst, elem, elems[0])
			elems = elems[1:]
		}
		if err != nil {
			return dst, elems, err
		}
	}
	return append(dst, ']'), elems, nil
}
