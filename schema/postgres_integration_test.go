//go:build integration

package schema

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/deploy/local"
)

// pgTypesDDL creates a table with a column of every type the mapper knows,
// plus user types and types it carries as text.
var pgTypesDDL = []string{
	`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
	`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
	`CREATE DOMAIN amount AS numeric(8,3)`,
	`CREATE SCHEMA "Other"`,
	`CREATE TYPE "Other"."Shade" AS ENUM ('light', 'dark')`,
	`CREATE TABLE types (
		id bigint PRIMARY KEY,
		i2 smallint, i4 integer, oidc oid,
		f4 real, f8 double precision,
		n numeric(10,2), nfree numeric, nneg numeric(5,-2), m money,
		b boolean,
		t text, vc varchar(5), ch char(3), nm name, qc "char",
		by bytea,
		d date, tm time, tm3 time(3), ttz timetz, ts timestamp, ts0 timestamp(0), tstz timestamptz, tstz3 timestamptz(3),
		iv interval, ivym interval year to month,
		u uuid, j json, jb jsonb,
		ip inet, cd cidr, mac macaddr, mac8 macaddr8,
		bt bit(10), vb varbit(8),
		e mood, sh "Other"."Shade", dom posint, dnum amount,
		ai integer[], at text[], a2 integer[][], an numeric(6,2)[], ae mood[], ad posint[], alb integer[], aby bytea[],
		x xml, pt point, rng int4range,
		gen integer GENERATED ALWAYS AS (i4 / 2) STORED
	)`,
	`ALTER TABLE types DROP COLUMN oidc`,
	`ALTER TABLE types ADD COLUMN oidc oid`,
	`CREATE PUBLICATION types_pub FOR TABLE types`,
	`SELECT pg_create_logical_replication_slot('types_slot', 'pgoutput')`,
}

// pgTypesRows fills the table with edge values; pgWantRows says what they
// convert to.
var pgTypesRows = []string{
	`INSERT INTO types VALUES (1,
		32767, 2147483647,
		'Infinity', 1.7976931348623157e308,
		99999999.99, '123456789012345678901234567890.123456789000', 12345, '92233720368547758.07',
		true,
		E'tab\there\nnew\\line é😀', 'abcde', 'ab', 'name', 'x',
		'\x00ff5c0a09',
		'5874897-12-31', '24:00:00', '23:59:59.9994', '12:34:56.789+05:30', '294276-12-31 23:59:59.999999',
		'2024-02-29 12:00:00.6', '2024-06-01 12:00:00.5+02', 'infinity',
		'1 year 2 months 3 days 04:05:06.789', '5 years 7 months',
		'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"b": 1,  "a": [1, 2]}', '{"b": 1, "a": [1, 2], "aa": null}',
		'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
		B'1000000001', B'001',
		'happy', 'dark', 5, 12.5,
		'{1,NULL,3}', ARRAY['a b', 'c"d', NULL, 'NULL', E'tab\there'], '{{1,2},{3,4}}', '{1.5,NaN}', '{sad,happy}', '{7}', '[0:1]={7,8}', '{"\\x01ff",NULL}',
		'<a>1</a>', '(1,2)', '[1,5)',
		DEFAULT, 4294967295)`,
	`INSERT INTO types VALUES (2,
		-32768, -2147483648,
		'-Infinity', 'NaN',
		-99999999.99, 'NaN', -50, '-92233720368547758.08',
		false,
		'', '', '', '', '',
		'\x',
		'4713-01-01 BC', '00:00:00', '00:00:00', '00:00:00-15:59', '4713-01-01 00:00:00 BC',
		'-infinity', '4713-01-01 00:00:00+00 BC', '1970-01-01 00:00:00+00',
		'-1 year -2 months +3 days -04:05:06.000001', '0',
		'00000000-0000-0000-0000-000000000000', 'null', '[]',
		'::1', '::/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
		B'0000000000', B'',
		'sad', 'light', 1, -0.001,
		'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
		'', '(0,0)', 'empty',
		DEFAULT, 0)`,
	`INSERT INTO types (id) VALUES (3)`,
	`INSERT INTO types (id, f4, f8, n, nfree) VALUES (4, 'NaN', '-0', 'NaN', '-Infinity')`,
}

func TestPostgresAgainstServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pg, err := local.StartPostgres(ctx, local.PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(ctx, "", pgTypesDDL...); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "", pgTypesRows...); err != nil {
		t.Fatal(err)
	}
	cc, err := pgx.ParseConfig(pg.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range PostgresSessionSettings {
		cc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	var relOID uint32
	if err := conn.QueryRow(ctx, `SELECT 'types'::regclass::oid`).Scan(&relOID); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, PostgresAttributesQuery, relOID)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PostgresAttr, error) {
		var a PostgresAttr
		return a, r.Scan(&a.Name, &a.TypeOID, &a.Typmod)
	})
	if err != nil {
		t.Fatal(err)
	}
	cat := NewPostgresCatalog(conn)
	key, err := cat.PrimaryKey(ctx, relOID)
	if err != nil || !reflect.DeepEqual(key, []string{"id"}) {
		t.Fatalf("PrimaryKey = %q, %v", key, err)
	}
	tbl, err := PostgresTable(ctx, cat, "public", "types", attrs, key)
	if err != nil {
		t.Fatal(err)
	}
	checkShapes(t, tbl)

	// The same attributes through a fresh catalog and after Forget give
	// the same shape.
	cat.Forget()
	again, err := PostgresTable(ctx, NewPostgresCatalog(conn), "public", "types", attrs, key)
	if err != nil || !reflect.DeepEqual(tbl, again) {
		t.Errorf("a fresh catalog gave a different shape: %v", err)
	}

	// Read the rows with COPY text, as the snapshot does.
	var buf bytes.Buffer
	var names []string
	for _, c := range tbl.Columns {
		names = append(names, QuotePostgresIdentifier(c.Name))
	}
	if _, err := conn.PgConn().CopyTo(ctx, &buf, "COPY (SELECT "+strings.Join(names, ", ")+" FROM types ORDER BY id) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(pgWantRows) {
		t.Fatalf("%d rows, want %d", len(lines), len(pgWantRows))
	}
	var copyText [][]string
	defer func() {
		if !t.Failed() {
			checkStream(ctx, t, conn, tbl, copyText)
		}
	}()
	for r, line := range lines {
		fields := strings.Split(line, "\t")
		copyText = append(copyText, fields)
		if len(fields) != len(tbl.Columns) {
			t.Fatalf("row %d: %d fields for %d columns", r+1, len(fields), len(tbl.Columns))
		}
		for i, f := range fields {
			col := &tbl.Columns[i]
			want, ok := pgWantRows[r][col.Name]
			if !ok && r < 2 {
				t.Errorf("row %d: no expected value for %s", r+1, col.Name)
				continue
			}
			var got any
			if f != `\N` {
				if got, err = PostgresValue(col, copyUnescape(f)); err != nil {
					t.Errorf("row %d: %v", r+1, err)
					continue
				}
			}
			if !sameValue(got, want) {
				t.Errorf("row %d column %s (%s): text %q gave %#v, want %#v", r+1, col.Name, col.SourceType, f, got, want)
				continue
			}
			if got != nil {
				if _, err := AppendJSON(nil, col, got); err != nil && !isNaNOrInf(got) {
					t.Errorf("row %d column %s: %v", r+1, col.Name, err)
				}
			}
		}
	}
}

// checkStream decodes the rows from the slot with pgoutput, as the stream
// does, and checks that the Relation message gives the snapshot's shape and
// that each text value equals the one COPY gave and converts to the same
// value.
func checkStream(ctx context.Context, t *testing.T, conn *pgx.Conn, tbl *sluice.Table, copyText [][]string) {
	t.Helper()
	// Logical decoding reads flushed WAL only, and the harness runs with
	// synchronous_commit off: poll until the WAL writer has flushed every
	// insert.
	var msgs [][]byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		rows, err := conn.Query(ctx, `SELECT data FROM pg_logical_slot_get_binary_changes('types_slot', NULL, NULL,
			'proto_version', '1', 'publication_names', 'types_pub')`)
		if err != nil {
			t.Fatal(err)
		}
		more, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, more...)
		n := 0
		for _, m := range msgs {
			if len(m) > 0 && m[0] == 'I' {
				n++
			}
		}
		if n >= len(copyText) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var inserts []*pglogrepl.InsertMessage
	relations := 0
	for _, data := range msgs {
		m, err := pglogrepl.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pglogrepl.RelationMessage:
			relations++
			attrs := make([]PostgresAttr, len(m.Columns))
			for i, c := range m.Columns {
				attrs[i] = PostgresAttr{Name: c.Name, TypeOID: c.DataType, Typmod: c.TypeModifier}
			}
			cat := NewPostgresCatalog(conn)
			key, err := cat.PrimaryKey(ctx, m.RelationID)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := PostgresTable(ctx, cat, m.Namespace, m.RelationName, attrs, key)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(streamed, tbl) {
				t.Errorf("the Relation message gives another shape than pg_attribute:\n%+v\nwant\n%+v", streamed, tbl)
			}
		case *pglogrepl.InsertMessage:
			inserts = append(inserts, m)
		}
	}
	if relations != 1 || len(inserts) != len(copyText) {
		t.Fatalf("%d relation messages and %d inserts, want 1 and %d", relations, len(inserts), len(copyText))
	}
	for r, ins := range inserts {
		if len(ins.Tuple.Columns) != len(tbl.Columns) {
			t.Fatalf("insert %d: %d columns, want %d", r+1, len(ins.Tuple.Columns), len(tbl.Columns))
		}
		for i, c := range ins.Tuple.Columns {
			col := &tbl.Columns[i]
			switch c.DataType {
			case 'n':
				if copyText[r][i] != `\N` {
					t.Errorf("row %d column %s: NULL in the stream, %q in COPY", r+1, col.Name, copyText[r][i])
				}
			case 't':
				if want := string(copyUnescape(copyText[r][i])); string(c.Data) != want {
					t.Errorf("row %d column %s: stream text %q, COPY text %q", r+1, col.Name, c.Data, want)
					continue
				}
				got, err := PostgresValue(col, c.Data)
				if err != nil || !sameValue(got, pgWantRows[r][col.Name]) {
					t.Errorf("row %d column %s: stream value %#v, %v; want %#v", r+1, col.Name, got, err, pgWantRows[r][col.Name])
				}
			default:
				t.Errorf("row %d column %s: tuple data type %q", r+1, col.Name, c.DataType)
			}
		}
	}
}

// checkShapes compares the mapped columns with what format_type says and
// with the expected kinds.
func checkShapes(t *testing.T, tbl *sluice.Table) {
	t.Helper()
	want := map[string]struct {
		kind       sluice.Kind
		sourceType string
	}{
		"id": {sluice.KindInt, "bigint"}, "i2": {sluice.KindInt, "smallint"}, "i4": {sluice.KindInt, "integer"},
		"oidc": {sluice.KindInt, "oid"}, "f4": {sluice.KindFloat, "real"}, "f8": {sluice.KindDouble, "double precision"},
		"n": {sluice.KindDecimal, "numeric(10,2)"}, "nfree": {sluice.KindDecimal, "numeric"}, "nneg": {sluice.KindDecimal, "numeric(5,-2)"},
		"m": {sluice.KindDecimal, "money"}, "b": {sluice.KindBool, "boolean"}, "t": {sluice.KindString, "text"},
		"vc": {sluice.KindString, "character varying(5)"}, "ch": {sluice.KindString, "character(3)"}, "nm": {sluice.KindString, "name"},
		"qc": {sluice.KindString, `"char"`}, "by": {sluice.KindBytes, "bytea"}, "d": {sluice.KindDate, "date"},
		"tm": {sluice.KindTime, "time without time zone"}, "tm3": {sluice.KindTime, "time(3) without time zone"},
		"ttz": {sluice.KindTimeTZ, "time with time zone"}, "ts": {sluice.KindDateTime, "timestamp without time zone"},
		"ts0": {sluice.KindDateTime, "timestamp(0) without time zone"}, "tstz": {sluice.KindTimestamp, "timestamp with time zone"},
		"tstz3": {sluice.KindTimestamp, "timestamp(3) with time zone"}, "iv": {sluice.KindInterval, "interval"},
		"ivym": {sluice.KindInterval, "interval year to month"}, "u": {sluice.KindUUID, "uuid"}, "j": {sluice.KindJSON, "json"},
		"jb": {sluice.KindJSON, "jsonb"}, "ip": {sluice.KindString, "inet"}, "cd": {sluice.KindString, "cidr"},
		"mac": {sluice.KindString, "macaddr"}, "mac8": {sluice.KindString, "macaddr8"}, "bt": {sluice.KindBit, "bit(10)"},
		"vb": {sluice.KindString, "bit varying(8)"}, "e": {sluice.KindEnum, "public.mood"}, "sh": {sluice.KindEnum, `"Other"."Shade"`},
		"dom": {sluice.KindInt, "integer"}, "dnum": {sluice.KindDecimal, "numeric(8,3)"},
		"ai": {sluice.KindArray, "integer[]"}, "at": {sluice.KindArray, "text[]"}, "a2": {sluice.KindArray, "integer[]"},
		"an": {sluice.KindArray, "numeric(6,2)[]"}, "ae": {sluice.KindArray, "public.mood[]"}, "ad": {sluice.KindArray, "integer[]"},
		"alb": {sluice.KindArray, "integer[]"}, "aby": {sluice.KindArray, "bytea[]"},
		"x": {sluice.KindString, "xml"}, "pt": {sluice.KindString, "point"}, "rng": {sluice.KindString, "int4range"},
	}
	if len(tbl.Columns) != len(want) {
		t.Errorf("%d columns, want %d (generated and dropped columns left out)", len(tbl.Columns), len(want))
	}
	for _, c := range tbl.Columns {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected column %s", c.Name)
			continue
		}
		if c.Kind != w.kind || c.SourceType != w.sourceType {
			t.Errorf("column %s: %s %q, want %s %q", c.Name, c.Kind, c.SourceType, w.kind, w.sourceType)
		}
		if c.Nullable != (c.Name != "id") {
			t.Errorf("column %s: Nullable = %v", c.Name, c.Nullable)
		}
	}
	if c := tbl.Columns[tbl.ColumnIndex("e")]; !reflect.DeepEqual(c.Members, []string{"sad", "ok", "happy"}) {
		t.Errorf("enum members = %q", c.Members)
	}
	if c := tbl.Columns[tbl.ColumnIndex("ae")]; c.Elem == nil || c.Elem.Kind != sluice.KindEnum || len(c.Elem.Members) != 3 {
		t.Errorf("enum array element = %+v", c.Elem)
	}
	if c := tbl.Columns[tbl.ColumnIndex("dnum")]; c.Precision != 8 || c.Scale != 3 {
		t.Errorf("domain over numeric(8,3): precision %d scale %d", c.Precision, c.Scale)
	}
	if got, want := PostgresFallbackColumns(tbl), []string{"x", "pt", "rng"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PostgresFallbackColumns = %q, want %q", got, want)
	}
}

func ints(v ...int64) []any {
	out := make([]any, len(v))
	for i := range v {
		out[i] = v[i]
	}
	return out
}

var pgWantRows = []map[string]any{
	{
		"id": int64(1), "i2": int64(32767), "i4": int64(2147483647), "oidc": uint64(4294967295),
		"f4": float32(math.Inf(1)), "f8": math.MaxFloat64,
		"n": "99999999.99", "nfree": "123456789012345678901234567890.123456789000", "nneg": "12300", "m": "92233720368547758.07",
		"b": true, "t": "tab\there\nnew\\line é😀", "vc": "abcde", "ch": "ab ", "nm": "name", "qc": "x",
		"by": []byte{0, 0xff, 0x5c, 0x0a, 0x09},
		"d":  "5874897-12-31", "tm": "24:00:00.000000", "tm3": "23:59:59.999", "ttz": "12:34:56.789000+05:30",
		"ts": "294276-12-31 23:59:59.999999", "ts0": "2024-02-29 12:00:01", "tstz": "2024-06-01T10:00:00.500000Z", "tstz3": "infinity",
		"iv": sluice.Interval{Months: 14, Days: 3, Microseconds: 14706789000}, "ivym": sluice.Interval{Months: 67},
		"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": `{"b": 1,  "a": [1, 2]}`, "jb": `{"a": [1, 2], "b": 1, "aa": null}`,
		"ip": "192.168.0.1/24", "cd": "10.0.0.0/8", "mac": "08:00:2b:01:02:03", "mac8": "08:00:2b:01:02:03:04:05",
		"bt": []byte{0x02, 0x01}, "vb": "001",
		"e": "happy", "sh": "dark", "dom": int64(5), "dnum": "12.500",
		"ai":  sluice.Array{Dims: []int{3}, Elems: []any{int64(1), nil, int64(3)}},
		"at":  sluice.Array{Dims: []int{5}, Elems: []any{"a b", `c"d`, nil, "NULL", "tab\there"}},
		"a2":  sluice.Array{Dims: []int{2, 2}, Elems: ints(1, 2, 3, 4)},
		"an":  sluice.Array{Dims: []int{2}, Elems: []any{"1.50", "NaN"}},
		"ae":  sluice.Array{Dims: []int{2}, Elems: []any{"sad", "happy"}},
		"ad":  sluice.Array{Dims: []int{1}, Elems: ints(7)},
		"alb": sluice.Array{Dims: []int{2}, Lower: []int{0}, Elems: ints(7, 8)},
		"aby": sluice.Array{Dims: []int{2}, Elems: []any{[]byte{1, 0xff}, nil}},
		"x":   "<a>1</a>", "pt": "(1,2)", "rng": "[1,5)",
	},
	{
		"id": int64(2), "i2": int64(-32768), "i4": int64(-2147483648), "oidc": uint64(0),
		"f4": float32(math.Inf(-1)), "f8": math.NaN(),
		"n": "-99999999.99", "nfree": "NaN", "nneg": "-100", "m": "-92233720368547758.08",
		"b": false, "t": "", "vc": "", "ch": "   ", "nm": "", "qc": "",
		"by": []byte{},
		"d":  "-4712-01-01", "tm": "00:00:00.000000", "tm3": "00:00:00.000", "ttz": "00:00:00.000000-15:59",
		"ts": "-4712-01-01 00:00:00.000000", "ts0": "-infinity", "tstz": "-4712-01-01T00:00:00.000000Z", "tstz3": "1970-01-01T00:00:00.000Z",
		"iv": sluice.Interval{Months: -14, Days: 3, Microseconds: -14706000001}, "ivym": sluice.Interval{},
		"u": "00000000-0000-0000-0000-000000000000", "j": "null", "jb": "[]",
		"ip": "::1", "cd": "::/0", "mac": "00:00:00:00:00:00", "mac8": "00:00:00:00:00:00:00:00",
		"bt": []byte{0, 0}, "vb": "",
		"e": "sad", "sh": "light", "dom": int64(1), "dnum": "-0.001",
		"ai": sluice.Array{Elems: []any{}}, "at": sluice.Array{Elems: []any{}}, "a2": sluice.Array{Elems: []any{}},
		"an": sluice.Array{Elems: []any{}}, "ae": sluice.Array{Elems: []any{}}, "ad": sluice.Array{Elems: []any{}},
		"alb": sluice.Array{Elems: []any{}}, "aby": sluice.Array{Elems: []any{}},
		"x": "", "pt": "(0,0)", "rng": "empty",
	},
	{"id": int64(3)},
	{"id": int64(4), "f4": float32(math.NaN()), "f8": float64(0), "n": "NaN", "nfree": "-Infinity"},
}

// sameValue is reflect.DeepEqual that holds NaN equal to NaN.
func sameValue(a, b any) bool {
	return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func isNaNOrInf(v any) bool {
	switch f := v.(type) {
	case float32:
		return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0)
	case float64:
		return math.IsNaN(f) || math.IsInf(f, 0)
	}
	return false
}

// copyUnescape undoes the escapes COPY TO writes in text format.
func copyUnescape(f string) []byte {
	var out []byte
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == '\\' && i+1 < len(f) {
			i++
			switch f[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'v':
				c = '\v'
			default:
				c = f[i]
			}
		}
		out = append(out, c)
	}
	return out
}
