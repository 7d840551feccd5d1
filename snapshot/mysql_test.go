package snapshot

import (
	"strings"
	"testing"
)

func TestEscapeString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mysql-bin.000001", "mysql-bin.000001"},
		{"it's", "it''s"},
		{`back\slash`, `back\\slash`},
		{`\'`, `\\''`},
		{`'\`, `''\\`},
		{"", ""},
	} {
		if got := escapeString(tc.in); got != tc.want {
			t.Errorf("escapeString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzEscapeString checks that an escaped string, put between single quotes,
// reads back as exactly itself under MariaDB's default string-literal rules
// (backslash escapes on, a doubled quote is a quote), so nothing after it in
// the statement can be reached.
func FuzzEscapeString(f *testing.F) {
	for _, s := range []string{"mysql-bin.000001", "a'b", `a\b`, `\'`, `'\`, `\`, `''`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, rest, ok := readLiteral("'" + escapeString(s) + "', 4)")
		if !ok || got != s || rest != ", 4)" {
			t.Fatalf("escapeString(%q) reads back as %q (ok %v), leaving %q", s, got, ok, rest)
		}
	})
}

// readLiteral reads the single-quoted literal at the start of q and returns
// its value and what follows it.
func readLiteral(q string) (value, rest string, ok bool) {
	if !strings.HasPrefix(q, "'") {
		return "", q, false
	}
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\\' && i+1 < len(q):
			i++
			b.WriteByte(q[i]) // only \\ and \' are produced; both stand for the next byte
		case c == '\'' && i+1 < len(q) && q[i+1] == '\'':
			i++
			b.WriteByte('\'')
		case c == '\'':
			return b.String(), q[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}
