package schema

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The character sets whose strings sluice converts to UTF-8. Every other
// character set is refused when the table shape is built, naming the column.
const (
	charsetBinary  = "binary"
	charsetUTF8MB4 = "utf8mb4"
	charsetUTF8MB3 = "utf8mb3"
	charsetASCII   = "ascii"
	charsetLatin1  = "latin1"
	charsetUCS2    = "ucs2"
	charsetUTF16   = "utf16"
	charsetUTF16LE = "utf16le"
	charsetUTF32   = "utf32"
)

// charsetOfCollation returns the character set of a MySQL/MariaDB collation
// id, or "" when the id is unknown.
func charsetOfCollation(id uint64) string {
	if id < uint64(len(collationCharsets)) {
		return collationCharsets[id]
	}
	// MariaDB 10.10+ numbers its UCA 14.0.0 collations by character set:
	// 2048 + 256*n, see MY_UCA1400_COLLATION_ID in MariaDB's ctype-uca.h.
	switch id >> 8 {
	case 8:
		return charsetUTF8MB3
	case 9:
		return charsetUTF8MB4
	case 10:
		return charsetUCS2
	case 11:
		return charsetUTF16
	case 12:
		return charsetUTF32
	}
	return ""
}

// canonicalCharset normalises a character set name as information_schema
// spells it ("utf8" is MySQL 5.7's and MariaDB 10.5's name for utf8mb3).
func canonicalCharset(name string) string {
	name = strings.ToLower(name)
	if name == "utf8" {
		return charsetUTF8MB3
	}
	return name
}

// charsetMaxBytes is the most bytes one character takes in charset (MySQL's
// mbmaxlen), 0 for a character set sluice does not convert. A CHAR(n) or
// VARCHAR(n) column's byte length, in information_schema and in the
// binlog's table map alike, is n times it.
func charsetMaxBytes(charset string) int {
	switch charset {
	case charsetASCII, charsetLatin1:
		return 1
	case charsetUCS2:
		return 2
	case charsetUTF8MB3:
		return 3
	case charsetUTF8MB4, charsetUTF16, charsetUTF16LE, charsetUTF32:
		return 4
	}
	return 0
}

// checkCharset returns an error when strings in charset cannot be converted
// to UTF-8 exactly.
func checkCharset(charset string) error {
	switch charset {
	case charsetBinary, charsetUTF8MB4, charsetUTF8MB3, charsetASCII, charsetLatin1,
		charsetUCS2, charsetUTF16, charsetUTF16LE, charsetUTF32:
		return nil
	case "":
		return errors.New("character set unknown: the table map carries no collation; fix: SET GLOBAL binlog_row_metadata=FULL")
	}
	return fmt.Errorf("character set %s is not supported (sluice converts utf8mb4, utf8mb3, latin1, ascii, ucs2, utf16, utf16le, utf32 and binary); fix: convert the column to utf8mb4 or leave the table out of the capture", charset)
}

// decodeCharset converts b, a string in charset as the binlog carries it, to
// UTF-8. The result never aliases b.
func decodeCharset(charset string, b []byte) (string, error) {
	switch charset {
	case charsetUTF8MB4, charsetUTF8MB3, charsetASCII, charsetBinary:
		return string(b), nil
	case charsetLatin1:
		return decodeLatin1(b), nil
	case charsetUCS2, charsetUTF16:
		return decodeUTF16(b, false)
	case charsetUTF16LE:
		return decodeUTF16(b, true)
	case charsetUTF32:
		return decodeUTF32(b)
	}
	return "", fmt.Errorf("decode string: character set %q is not supported", charset)
}

// latin1High holds the code points of bytes 0x80–0x9F in MySQL's latin1,
// which is Windows-1252 with its five undefined bytes mapped to the C1
// controls of the same number (as MySQL's own conversion does).
var latin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func decodeLatin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		switch {
		case c < 0x80:
			out = append(out, c)
		case c < 0xA0:
			out = utf8.AppendRune(out, latin1High[c-0x80])
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return string(out)
}

func decodeUTF16(b []byte, little bool) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("decode utf16: odd length %d", len(b))
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); i += 2 {
		r := rune(b[i])<<8 | rune(b[i+1])
		if little {
			r = rune(b[i+1])<<8 | rune(b[i])
		}
		if utf16.IsSurrogate(r) && i+3 < len(b) {
			r2 := rune(b[i+2])<<8 | rune(b[i+3])
			if little {
				r2 = rune(b[i+3])<<8 | rune(b[i+2])
			}
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				out = utf8.AppendRune(out, d)
				i += 2
				continue
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out), nil
}

func decodeUTF32(b []byte) (string, error) {
	if len(b)%4 != 0 {
		return "", fmt.Errorf("decode utf32: length %d is not a multiple of 4", len(b))
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i += 4 {
		r := rune(b[i])<<24 | rune(b[i+1])<<16 | rune(b[i+2])<<8 | rune(b[i+3])
		out = utf8.AppendRune(out, r)
	}
	return string(out), nil
}
