package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

const salt = "pepper-0123456789"

func sum(text string) string {
	s := sha256.Sum256([]byte(salt + text))
	return hex.EncodeToString(s[:])
}

func customers() *sluice.Table {
	return &sluice.Table{Database: "shop", Name: "customers", PrimaryKey: true, Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "email", Kind: sluice.KindString, SourceType: "varchar(100)", Length: 100, Charset: "utf8mb4", Nullable: true},
		{Name: "phone", Kind: sluice.KindString, SourceType: "varchar(20)", Length: 20, Charset: "utf8mb4"},
		{Name: "pin", Kind: sluice.KindInt, SourceType: "int", Nullable: true},
		{Name: "note", Kind: sluice.KindString, SourceType: "text", Charset: "utf8mb4", Nullable: true},
		{Name: "plain", Kind: sluice.KindString, SourceType: "text", Charset: "utf8mb4", Nullable: true},
	}}
}

func newT(t *testing.T, cfg Config) *Transformer {
	t.Helper()
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func standard(t *testing.T) *Transformer {
	return newT(t, Config{Mask: []string{"shop.*.phone", "shop.customers.pin"}, MaskWith: "****",
		Hash: []string{"shop.customers.email"}, Salt: salt, Truncate: map[string]int{"shop.customers.note": 4}, Connector: "mysql"})
}

// TestEachTransform: mask, hash and truncate rewrite their columns' values
// and describe themselves in the derived shape; other columns keep theirs.
func TestEachTransform(t *testing.T) {
	x := standard(t)
	src := customers()
	before := sluice.Row{int64(1), "a@example.com", "+41 79 555 00 00", int64(1234), "héllo wörld", "kept"}
	after := sluice.Row{int64(1), "b@example.com", "+41 79 555 00 01", nil, "日本語のテキスト", "kept too"}
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: src, Before: before, After: after,
		Source: sluice.Source{Connector: "mysql", Name: "n", Position: sluice.Position{File: "b.1", Offset: 4}}}
	out, err := x.Event(ev)
	if err != nil {
		t.Fatal(err)
	}
	wantBefore := sluice.Row{int64(1), sum("a@example.com"), "****", "****", "héll", "kept"}
	wantAfter := sluice.Row{int64(1), sum("b@example.com"), "****", nil, "日本語の", "kept too"}
	if !reflect.DeepEqual(out.Before, wantBefore) || !reflect.DeepEqual(out.After, wantAfter) {
		t.Errorf("before %q\n  want %q\nafter %q\n  want %q", out.Before, wantBefore, out.After, wantAfter)
	}
	if out.Op != ev.Op || out.Source != ev.Source || out.Table == src {
		t.Errorf("event %+v", out)
	}
	want := []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "email", Kind: sluice.KindString, SourceType: "char(64)", Length: 64, Charset: "ascii", Nullable: true, Transform: "sha256"},
		{Name: "phone", Kind: sluice.KindString, SourceType: "varchar(4)", Length: 4, Charset: "utf8mb4", Transform: "mask"},
		{Name: "pin", Kind: sluice.KindString, SourceType: "varchar(4)", Length: 4, Charset: "utf8mb4", Nullable: true, Transform: "mask"},
		{Name: "note", Kind: sluice.KindString, SourceType: "text", Charset: "utf8mb4", Nullable: true, Transform: "truncate(4)"},
		{Name: "plain", Kind: sluice.KindString, SourceType: "text", Charset: "utf8mb4", Nullable: true},
	}
	if !reflect.DeepEqual(out.Table.Columns, want) {
		t.Errorf("derived columns\n %+v\nwant %+v", out.Table.Columns, want)
	}
	if d := out.Table; d.Database != "shop" || d.Name != "customers" || !d.PrimaryKey || !reflect.DeepEqual(d.Key, []int{0}) {
		t.Errorf("derived table %+v", d)
	}
	if !reflect.DeepEqual(src.Columns, customers().Columns) {
		t.Error("the source's table was modified")
	}
}

// TestRowsNotAliased: the source's rows are never written, and the
// transformed rows share no backing array with them.
func TestRowsNotAliased(t *testing.T) {
	x := standard(t)
	row := sluice.Row{int64(7), "c@example.com", "555", int64(1), "truncate me", "x"}
	orig := append(sluice.Row(nil), row...)
	ev := &sluice.Event{Op: sluice.OpRead, Table: customers(), After: row}
	out, err := x.Event(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(row, orig) || !reflect.DeepEqual(ev.After, orig) || ev.Before != nil {
		t.Errorf("source row modified: %q", row)
	}
	out.After[5] = "changed"
	if row[5] != "x" {
		t.Error("the transformed row aliases the source's")
	}
	if out.Before != nil {
		t.Errorf("before %q, want nil", out.Before)
	}
}

// TestNullAndUnavailable: NULL stays NULL, and columns the source did not
// send stay nil and listed as unavailable.
func TestNullAndUnavailable(t *testing.T) {
	x := standard(t)
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: customers(),
		Before:            sluice.Row{int64(1), nil, nil, nil, nil, nil},
		BeforeUnavailable: []int{1, 2, 3, 4, 5},
		After:             sluice.Row{int64(1), nil, "x", nil, nil, "y"},
		AfterUnavailable:  []int{4},
	}
	out, err := x.Event(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Before, sluice.Row{int64(1), nil, nil, nil, nil, nil}) ||
		!reflect.DeepEqual(out.After, sluice.Row{int64(1), nil, "****", nil, nil, "y"}) {
		t.Errorf("before %q after %q", out.Before, out.After)
	}
	if !reflect.DeepEqual(out.BeforeUnavailable, []int{1, 2, 3, 4, 5}) || !reflect.DeepEqual(out.AfterUnavailable, []int{4}) {
		t.Errorf("unavailable %v %v", out.BeforeUnavailable, out.AfterUnavailable)
	}
	del, err := x.Event(&sluice.Event{Op: sluice.OpDelete, Table: customers(), Before: sluice.Row{int64(2), "d@x", "1", int64(0), "n", "p"}})
	if err != nil || del.After != nil || del.Before[2] != "****" {
		t.Errorf("delete %+v, %v", del, err)
	}
	trunc, err := x.Event(&sluice.Event{Op: sluice.OpTruncate, Table: customers()})
	if err != nil || trunc.Before != nil || trunc.After != nil || trunc.Table.Columns[1].Transform != SHA256 {
		t.Errorf("truncate %+v, %v", trunc, err)
	}
}

// TestHashText: every kind of value hashes as the salt followed by its
// documented text, deterministically; another salt gives other hashes.
func TestHashText(t *testing.T) {
	arrCol := sluice.Column{Name: "a", Kind: sluice.KindArray, SourceType: "integer[]", Elem: &sluice.Column{Name: "a", Kind: sluice.KindInt, SourceType: "integer"}}
	tests := []struct {
		col  sluice.Column
		v    any
		text string
	}{
		{sluice.Column{Kind: sluice.KindString}, "ünïcode \"quoted\"", "ünïcode \"quoted\""},
		{sluice.Column{Kind: sluice.KindInt}, int64(-42), "-42"},
		{sluice.Column{Kind: sluice.KindInt, Unsigned: true}, uint64(math.MaxUint64), "18446744073709551615"},
		{sluice.Column{Kind: sluice.KindDouble}, 1.5, "1.5"},
		{sluice.Column{Kind: sluice.KindDouble}, math.Inf(-1), "-Infinity"},
		{sluice.Column{Kind: sluice.KindFloat}, float32(0.1), "0.1"},
		{sluice.Column{Kind: sluice.KindBool}, true, "true"},
		{sluice.Column{Kind: sluice.KindDecimal, Precision: 5, Scale: 2}, "-12.50", "-12.50"},
		{sluice.Column{Kind: sluice.KindDate}, "2024-02-29", "2024-02-29"},
		{sluice.Column{Kind: sluice.KindBytes}, []byte{0, 1, 0xff}, "\x00\x01\xff"},
		{sluice.Column{Kind: sluice.KindBit, Length: 9}, []byte{1, 0x80}, "\x01\x80"},
		{sluice.Column{Kind: sluice.KindInterval}, sluice.Interval{Months: 14, Days: 3}, "P1Y2M3D"},
		{arrCol, sluice.Array{Dims: []int{3}, Elems: []any{int64(1), nil, int64(3)}}, "[1,null,3]"},
	}
	for _, tt := range tests {
		tbl := &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{tt.col}}
		tbl.Columns[0].Name = "c"
		x := newT(t, Config{Hash: []string{"d.t.c"}, Salt: salt})
		out, err := x.Event(&sluice.Event{Op: sluice.OpCreate, Table: tbl, After: sluice.Row{tt.v}})
		if err != nil {
			t.Errorf("%s %v: %v", tt.col.Kind, tt.v, err)
			continue
		}
		if got := out.After[0]; got != sum(tt.text) {
			t.Errorf("%s %v: hash %v, want that of %q", tt.col.Kind, tt.v, got, tt.text)
		}
		text, err := AppendText(nil, &tbl.Columns[0], tt.v)
		if err != nil || string(text) != tt.text {
			t.Errorf("%s %v: text %q, %v", tt.col.Kind, tt.v, text, err)
		}
		again, _ := newT(t, Config{Hash: []string{"d.t.c"}, Salt: salt}).Event(&sluice.Event{Op: sluice.OpRead, Table: tbl, After: sluice.Row{tt.v}})
		other, _ := newT(t, Config{Hash: []string{"d.t.c"}, Salt: salt + "!"}).Event(&sluice.Event{Op: sluice.OpRead, Table: tbl, After: sluice.Row{tt.v}})
		if again.After[0] != out.After[0] || other.After[0] == out.After[0] {
			t.Errorf("%s %v: not deterministic per salt", tt.col.Kind, tt.v)
		}
		if h := out.After[0].(string); len(h) != 64 || strings.ToLower(h) != h {
			t.Errorf("hash %q is not 64 lower-case hex digits", h)
		}
	}
}

func TestTruncateUnicode(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"abc", 3, "abc"},
		{"héllo", 2, "hé"},
		{"héllo", 4, "héll"},
		{"日本語", 2, "日本"},
		{"日本語", 3, "日本語"},
		{"👍🏽👍", 1, "👍"},
		{"👍🏽👍", 2, "👍🏽"},
		{"a\xffb\xfe", 2, "a\xff"},
		{"", 1, ""},
	} {
		if got := Truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// TestKeys: a hashed key column is allowed and keeps keys distinct and
// stable; masking or truncating one is an error naming the column and the
// fix, as is truncating a column that is not a string.
func TestKeys(t *testing.T) {
	x := newT(t, Config{Hash: []string{"shop.customers.id"}, Salt: salt})
	out, err := x.Event(&sluice.Event{Op: sluice.OpRead, Table: customers(), After: sluice.Row{int64(5), "e", "p", nil, nil, nil}})
	if err != nil {
		t.Fatal(err)
	}
	if out.After[0] != sum("5") || !reflect.DeepEqual(out.Table.Key, []int{0}) || out.Table.Columns[0].Kind != sluice.KindString {
		t.Errorf("hashed key: %q, %+v", out.After, out.Table)
	}
	for _, tt := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Mask: []string{"shop.customers.id"}, MaskWith: "x"}, []string{
			"table shop.customers: column shop.customers.id is a key column and transforms.mask (\"shop.customers.id\") matches it",
			"hash it instead (transforms.hash) or narrow the pattern"}},
		{Config{Truncate: map[string]int{"shop.customers.*": 3}}, []string{
			"column shop.customers.id is int (bigint) and transforms.truncate", // not a string, said before it is a key
			"column shop.customers.pin is int (int) and transforms.truncate (\"shop.customers.*\") matches it: only string columns can be truncated; narrow the pattern"}},
		{Config{Truncate: map[string]int{"shop.keyed.code": 3}}, []string{
			"column shop.keyed.code is a key column and transforms.truncate (\"shop.keyed.code\") matches it: keys that share a prefix would collide"}},
	} {
		tbl := customers()
		if strings.Contains(tt.want[0], "keyed") {
			tbl = &sluice.Table{Database: "shop", Name: "keyed", Key: []int{0}, Columns: []sluice.Column{{Name: "code", Kind: sluice.KindString, SourceType: "varchar(10)"}}}
		}
		_, err := newT(t, tt.cfg).Event(&sluice.Event{Op: sluice.OpRead, Table: tbl, After: make(sluice.Row, len(tbl.Columns))})
		if err == nil {
			t.Errorf("%+v: want an error", tt.cfg)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q:\n%v", w, err)
			}
		}
	}
}

// TestTwoTransforms: a column two transforms match is an error naming both
// settings and patterns; two truncate patterns agreeing on the length are
// fine.
func TestTwoTransforms(t *testing.T) {
	_, err := newT(t, Config{Mask: []string{"shop.*.email"}, MaskWith: "x", Hash: []string{"*.customers.*"}, Salt: salt}).Table(customers())
	if err == nil || !strings.Contains(err.Error(), `column shop.customers.email: transforms.mask ("shop.*.email") and transforms.hash ("*.customers.*") both match it; a column takes one transform: narrow one of the patterns`) {
		t.Errorf("mask and hash: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), salt) {
		t.Errorf("salt in error: %v", err)
	}
	_, err = newT(t, Config{Truncate: map[string]int{"shop.customers.note": 3, "shop.*.note": 4}}).Table(customers())
	if err == nil || !strings.Contains(err.Error(), `transforms.truncate patterns "shop.*.note" and "shop.customers.note" both match it with different lengths (4 and 3)`) {
		t.Errorf("two lengths: %v", err)
	}
	d, err := newT(t, Config{Truncate: map[string]int{"shop.customers.note": 3, "shop.*.note": 3}}).Table(customers())
	if err != nil || d.Columns[4].Transform != "truncate(3)" {
		t.Errorf("same length: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(Config{Mask: []string{"a.[b.c"}, Hash: []string{"a.b.c"}, Truncate: map[string]int{"a.b.d": 0, "a.[.e": 2}})
	for _, w := range []string{
		`transforms.mask: "a.[b.c" is not a valid pattern`,
		`transforms.truncate: "a.b.d": 0 is not a length`,
		`transforms.truncate: "a.[.e" is not a valid pattern`,
		"transforms.mask_with: must not be empty",
		"transforms.hash_salt: required when transforms.hash is set",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// TestShapeCachedAndBounded: the derived table is made once per source
// table shape; a table without transformed columns keeps its events; the
// cache does not outgrow its limit.
func TestShapeCachedAndBounded(t *testing.T) {
	x := standard(t)
	a, b := customers(), customers()
	ev := func(t *sluice.Table) *sluice.Event {
		return &sluice.Event{Op: sluice.OpRead, Table: t, After: sluice.Row{int64(1), "e", "p", nil, "n", "x"}}
	}
	e1, _ := x.Event(ev(a))
	e2, _ := x.Event(ev(b))
	e3, _ := x.Event(ev(a))
	d, _ := x.Table(a)
	if e1.Table != e3.Table || e1.Table == e2.Table || d != e1.Table {
		t.Error("derived tables not one per source table")
	}
	other := &sluice.Table{Database: "shop", Name: "orders", Columns: []sluice.Column{{Name: "id", Kind: sluice.KindInt, SourceType: "int"}}}
	plain := ev(other)
	plain.After = sluice.Row{int64(3)}
	if got, err := x.Event(plain); got != plain || err != nil {
		t.Errorf("untransformed table: %+v, %v", got, err)
	}
	if got, _ := x.Table(other); got != other {
		t.Error("Table of an untransformed table is not the table")
	}
	for i := range 3 * shapeLimit {
		tbl := customers()
		tbl.Name = fmt.Sprintf("c%d", i)
		if _, err := x.Table(tbl); err != nil {
			t.Fatal(err)
		}
		if len(x.shapes) > shapeLimit {
			t.Fatalf("%d cached shapes, limit %d", len(x.shapes), shapeLimit)
		}
	}
	if _, err := x.Event(ev(a)); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresDialect: on PostgreSQL, masked and hashed columns take
// PostgreSQL's names for their new types.
func TestPostgresDialect(t *testing.T) {
	x := newT(t, Config{Mask: []string{"public.t.m"}, MaskWith: "•••", Hash: []string{"public.t.h"}, Salt: salt, Connector: "postgresql"})
	d, err := x.Table(&sluice.Table{Database: "public", Name: "t", Columns: []sluice.Column{
		{Name: "m", Kind: sluice.KindJSON, SourceType: "jsonb"}, {Name: "h", Kind: sluice.KindUUID, SourceType: "uuid"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Columns[0]; c.SourceType != "character varying(3)" || c.Length != 3 || c.Charset != "" || c.Kind != sluice.KindString {
		t.Errorf("masked %+v", c)
	}
	if c := d.Columns[1]; c.SourceType != "character(64)" || c.Length != 64 || c.Kind != sluice.KindString {
		t.Errorf("hashed %+v", c)
	}
}

// TestSchemasSayTransformed: the Avro schemas of a derived table carry
// sluice.transform, and mapping v2 gives sinks string types of the right
// length for masked and hashed columns.
func TestSchemasSayTransformed(t *testing.T) {
	d, err := standard(t).Table(customers())
	if err != nil {
		t.Fatal(err)
	}
	_, v1, err := schema.AvroSchemas(d, schema.AvroOptions{TopicPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	key, v2, err := schema.AvroSchemas(d, schema.AvroOptions{TopicPrefix: "p", Mapping: schema.AvroMappingV2, Connector: "mysql"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"name":"email"`, `"sluice.transform":"sha256"`, `"sluice.transform":"mask"`, `"sluice.transform":"truncate(4)"`} {
		if !strings.Contains(v1, w) || !strings.Contains(v2, w) {
			t.Errorf("value schemas lack %s:\n%s\n%s", w, v1, v2)
		}
	}
	for _, w := range []string{
		`{"connect.parameters":{"__debezium.source.column.length":"64","__debezium.source.column.type":"CHAR"},"type":"string"}`,
		`{"connect.parameters":{"__debezium.source.column.length":"4","__debezium.source.column.type":"VARCHAR"},"type":"string"}`,
	} {
		if !strings.Contains(v2, w) {
			t.Errorf("v2 value schema lacks %s:\n%s", w, v2)
		}
	}
	if strings.Contains(key, "sluice.transform") {
		t.Errorf("key schema of an untransformed key: %s", key)
	}
}

// benchRow is a ten-column row like the reference figures' ~110 B rows.
func benchTable() (*sluice.Table, sluice.Row) {
	t := &sluice.Table{Database: "shop", Name: "items", PrimaryKey: true, Key: []int{0}}
	row := sluice.Row{}
	for i := range 10 {
		c := sluice.Column{Name: fmt.Sprintf("c%d", i), Kind: sluice.KindString, SourceType: "varchar(40)", Charset: "utf8mb4", Nullable: true}
		var v any = fmt.Sprintf("value number %d of the row", i)
		if i%2 == 0 {
			c.Kind, c.SourceType = sluice.KindInt, "bigint"
			v = int64(i * 1000)
		}
		t.Columns = append(t.Columns, c)
		row = append(row, v)
	}
	return t, row
}

// BenchmarkEvent measures the per-event cost: a table none of whose
// columns is transformed (the event passes as it is), and one with one
// column masked, hashed or truncated.
func BenchmarkEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"untransformed", Config{Mask: []string{"other.t.c"}, MaskWith: "****"}},
		{"mask", Config{Mask: []string{"shop.items.c1"}, MaskWith: "****"}},
		{"hash", Config{Hash: []string{"shop.items.c1"}, Salt: salt}},
		{"hash_int", Config{Hash: []string{"shop.items.c2"}, Salt: salt}},
		{"truncate", Config{Truncate: map[string]int{"shop.items.c1": 8}}},
		{"all_three", Config{Mask: []string{"shop.items.c3"}, MaskWith: "****", Hash: []string{"shop.items.c1"}, Salt: salt, Truncate: map[string]int{"shop.items.c5": 8}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			x, err := New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			tbl, row := benchTable()
			ev := &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: row}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Event(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
