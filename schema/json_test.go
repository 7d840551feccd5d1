package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// stdString is encoding/json's rendering of s without HTML escaping.
func stdString(t testing.TB, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for c := 0; c < 0x80; c++ {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "\n\r\t\b\f\x00\x01\x1f\x7f",
		"<html> & </html>", "é€😀", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate",
		"\ufffd literal", all.String(),
	} {
		got := string(appendString(nil, s))
		if want := stdString(t, s); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x1f", "é😀", "\u2028", "\xff", "\xc3(", "\xed\xa0\x80", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("appendString(%q) = %q is not valid JSON", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		// Each invalid byte becomes one U+FFFD, as a []rune conversion does.
		if want := string([]rune(s)); back != want {
			t.Fatalf("appendString(%q) decodes to %q, want %q", s, back, want)
		}
	})
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float64{0, 1, -1, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, 123456789, 5e-324, math.MaxFloat64, -math.SmallestNonzeroFloat64, 1e-7, 12345678912345678}
	for i := 0; i < 20000; i++ {
		values = append(values, math.Float64frombits(r.Uint64()))
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f, 64); string(got) != string(want) {
			t.Fatalf("appendFloat(%v, 64) = %s, want %s", f, got, want)
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			continue
		}
		want, _ = json.Marshal(f32)
		if got := appendFloat(nil, float64(f32), 32); string(got) != string(want) {
			t.Fatalf("appendFloat(%v, 32) = %s, want %s", f32, got, want)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	col := &sluice.Column{Name: "c"}
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{int64(-5), "-5"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{true, "true"},
		{false, "false"},
		{float32(0.1), "0.1"},
		{0.1, "0.1"},
		{float32(1e21), "1e+21"},
		{"x\"y", `"x\"y"`},
		{[]byte{0xfb, 0xff}, `"+/8="`},
		{[]byte{}, `""`},
	} {
		got, err := AppendJSON([]byte("prefix:"), col, c.v)
		if err != nil || string(got) != "prefix:"+c.want {
			t.Errorf("AppendJSON(%#v) = %s, %v; want prefix:%s", c.v, got, err, c.want)
		}
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{math.NaN(), `"NaN"`}, {math.Inf(1), `"Infinity"`}, {float32(math.Inf(-1)), `"-Infinity"`}, {float32(math.NaN()), `"NaN"`},
	} {
		if got, err := AppendJSON(nil, col, c.v); err != nil || string(got) != c.want {
			t.Errorf("AppendJSON(%v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	for _, bad := range []any{int32(1), struct{}{}} {
		if _, err := AppendJSON(nil, col, bad); err == nil || !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("AppendJSON(%#v): err = %v, want one naming the column", bad, err)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, `null`},
		{`  `, `null`},
		{`null`, `null`},
		{` {"b" : 1 , "a" : [ ] , "" : {} } `, `{"":{},"a":[],"b":1}`},
		{`[1, -0, 2.0, 2.50, 1e2, -1.5E-7, 123456789012345678901234567890]`, `[1,0,2,2.5,100,-1.5e-7,1.2345678901234568e+29]`},
		{`"\u0041\/\"\\\b\f\n\r\t\u0001"`, `"A/\"\\\b\f\n\r\t\u0001"`},
		{`"\ud83d\ude00 \ud83d x"`, `"😀 � x"`},
		{`{"a":{"c":true,"b":false}}`, `{"a":{"b":false,"c":true}}`},
	} {
		got, err := canonicalJSON([]byte(c.in))
		if err != nil || got != c.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`{`, `[1,]`, `{"a" 1}`, `tru`, `"abc`, `1 2`, `{"a":1,}`, `"\x"`, `nan`, `1e999`, strings.Repeat("[", 600) + strings.Repeat("]", 600)} {
		if got, err := canonicalJSON([]byte(bad)); err == nil {
			t.Errorf("canonicalJSON(%s) = %s, want error", bad, got)
		}
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b": null, "a": [1, 2.5, "x<"]}`, `[]`, `"\ud83d"`, `-0.0e-0`, `{"a":{"a":{}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := canonicalJSON([]byte(in))
		if err != nil {
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("canonicalJSON(%q) = %q is not valid JSON", in, out)
		}
		again, err := canonicalJSON([]byte(out))
		if err != nil || again != out {
			t.Fatalf("canonicalJSON is not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}
