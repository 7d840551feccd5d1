//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/schema"
)

// newPGAvroFixture is newPGFixture with format avro and a registry of its
// own.
func newPGAvroFixture(t *testing.T) *pgFixture {
	t.Helper()
	f := newPGFixture(t)
	f.registry = newTestRegistry(t)
	return f
}

// pgFidelityColumns are a column of every PostgreSQL type sluice maps, and
// the edge values each row gets (one row per value index; NULL where a
// column has fewer values).
var pgFidelityColumns = []struct {
	name, typ string
	values    []string
}{
	{"i2", "smallint", []string{"-32768", "32767", "0"}},
	{"i4", "integer", []string{"-2147483648", "2147483647", "0"}},
	{"i8", "bigint", []string{"-9223372036854775808", "9223372036854775807", "0"}},
	{"n", "numeric(20,5)", []string{"-999999999999999.99999", "123.45000", "0"}},
	{"nu", "numeric", []string{"1e-20", "12345678901234567890.123456789", "'NaN'", "'Infinity'", "'-Infinity'"}},
	{"r", "real", []string{"1.5", "'NaN'", "'Infinity'", "'-Infinity'", "-0"}},
	{"d", "double precision", []string{"3.141592653589793", "'NaN'", "1e308", "-1e-308"}},
	{"b", "boolean", []string{"true", "false"}},
	{"t", "text", []string{"'héllo 😀'", "''", "E'tab\\there'"}},
	{"vc", "varchar(10)", []string{"'abc'"}},
	{"c", "char(3)", []string{"'ab'"}},
	{"by", "bytea", []string{`'\x00ff10'`, `''`}},
	{"dt", "date", []string{"'2024-02-29'", "'0001-01-01 BC'", "'infinity'", "'-infinity'", "'5874897-12-31'"}},
	{"tm", "time(6)", []string{"'00:00:00'", "'23:59:59.999999'", "'24:00:00'"}},
	{"tz", "timetz", []string{"'12:34:56+05:30'", "'00:00:00-12'"}},
	{"ts", "timestamp(6)", []string{"'2024-01-02 03:04:05.123456'", "'4713-01-01 00:00:00 BC'", "'infinity'", "'294276-12-31 23:59:59.999999'"}},
	{"tt", "timestamptz(3)", []string{"'2024-01-02 03:04:05.123+02'", "'-infinity'"}},
	{"iv", "interval", []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-178000000 years'"}},
	{"u", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
	{"j", "json", []string{`'{"b": 1, "a": [1, 2]}'`}},
	{"jb", "jsonb", []string{`'{"b": 1, "a": [1, 2]}'`}},
	{"ai", "integer[]", []string{"'{1,NULL,3}'", "'{{1,2},{3,4}}'", "'[0:1]={5,6}'", "'{}'"}},
	{"at", "text[]", []string{`'{"a,b","c\"d",NULL}'`}},
	{"e", "mood", []string{"'happy'", "'sad'"}},
	{"dm", "posint", []string{"1", "2147483647"}},
	{"ip", "inet", []string{"'192.168.0.1/24'", "'::1'"}},
	{"cd", "cidr", []string{"'10.0.0.0/8'"}},
	{"mc", "macaddr", []string{"'08:00:2b:01:02:03'"}},
	{"mo", "money", []string{"'-92233720368547758.08'", "'12.34'"}},
	{"bt", "bit(8)", []string{"B'10100101'"}},
	{"vb", "varbit(16)", []string{"B'101'", "B''"}},
	{"pt", "point", []string{"'(1.5,-2)'"}},
}

// pgFidelityInsert inserts the edge rows with ids base+1, base+2, ….
func (f *pgFixture) pgFidelityInsert(base int) int {
	rows := 0
	for _, c := range pgFidelityColumns {
		rows = max(rows, len(c.values))
	}
	for i := range rows {
		cols, vals := []string{"id"}, []string{fmt.Sprint(base + i + 1)}
		for _, c := range pgFidelityColumns {
			if i < len(c.values) {
				cols, vals = append(cols, c.name), append(vals, c.values[i])
			}
		}
		f.exec(fmt.Sprintf("INSERT INTO ty (%s) VALUES (%s)", strings.Join(cols, ", "), strings.Join(vals, ", ")))
	}
	// A row of NULLs.
	f.exec(fmt.Sprintf("INSERT INTO ty (id) VALUES (%d)", base+rows+1))
	return rows + 1
}

// pgFidelityRun creates table ty with a column of every type, inserts the
// edge rows (ids 1…n), lets sluice snapshot them, inserts them again (ids
// 101…100+n) while it streams, and stops it once every record arrived.
func (f *pgFixture) pgFidelityRun() (n int, topic string) {
	f.t.Helper()
	var defs []string
	for _, c := range pgFidelityColumns {
		defs = append(defs, c.name+" "+c.typ)
	}
	f.exec("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
		"CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
		"CREATE TABLE ty (id int PRIMARY KEY, "+strings.Join(defs, ", ")+")")
	n = f.pgFidelityInsert(0)
	topic = f.topic("ty")
	p := f.sluice(f.config(""))
	f.waitCount(topic, int64(n))
	f.pgFidelityInsert(100)
	f.waitCount(topic, int64(2*n))
	p.stop()
	return n, topic
}

// TestPostgresAvroFidelity: promise 7 on PostgreSQL in Avro. Every type with
// its edge values, read by the snapshot and again from the stream, decodes
// with a generic Avro decoder, and equal rows are encoded byte for byte the
// same on both paths.
func TestPostgresAvroFidelity(t *testing.T) {
	f := newPGAvroFixture(t)
	n, topic := f.pgFidelityRun()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	byID := map[string]avroRecord{}
	for _, r := range recs {
		byID[fmt.Sprint(unionValue(r.key.native["id"]))] = r
	}
	for i := 1; i <= n; i++ {
		snap, stream := byID[fmt.Sprint(i)], byID[fmt.Sprint(100+i)]
		if snap.value == nil || stream.value == nil {
			t.Fatalf("row %d: snapshot record %v, stream record %v", i, snap.value != nil, stream.value != nil)
		}
		if snap.op() != "r" || stream.op() != "c" {
			t.Errorf("row %d: ops %s and %s, want r and c", i, snap.op(), stream.op())
		}
		if snap.value.id != stream.value.id {
			t.Errorf("row %d: snapshot schema id %d, stream schema id %d", i, snap.value.id, stream.value.id)
		}
		si, ti := snap.image(), stream.image()
		for _, c := range pgFidelityColumns {
			// %v, not reflect.DeepEqual: NaN equals itself here, and
			// decimals compare by value.
			if fmt.Sprintf("%v", si[c.name]) != fmt.Sprintf("%v", ti[c.name]) {
				t.Errorf("row %d column %s (%s): snapshot %#v, stream %#v", i, c.name, c.typ, si[c.name], ti[c.name])
			}
		}
		// The after image's bytes past its union branch and the id match.
		sb, tb := a.fieldBytes(*snap.value, "after"), a.fieldBytes(*stream.value, "after")
		if !bytes.Equal(sb[1+varintLen(i):], tb[1+varintLen(100+i):]) {
			t.Errorf("row %d: the snapshot and the stream encode the row differently", i)
		}
	}

	row := func(id int) map[string]any { return byID[fmt.Sprint(id)].image() }
	for _, c := range []struct {
		id        int
		col, want string
	}{
		{1, "i8", "-9223372036854775808"}, {2, "i8", "9223372036854775807"},
		{1, "i2", "-32768"}, {2, "i4", "2147483647"},
		{1, "t", "héllo 😀"}, {3, "t", "tab\there"},
		{1, "u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{1, "e", "happy"}, {2, "dm", "2147483647"},
		{1, "b", "1"}, {2, "b", "0"},
		{1, "by", "00FF10"},
		{2, "n", "123.45000"},
	} {
		if got := render(row(c.id)[c.col], "", 5); got != c.want {
			t.Errorf("row %d column %s = %q, want %q", c.id, c.col, got, c.want)
		}
	}
	nulls := row(n)
	for _, c := range pgFidelityColumns {
		if v := unionValue(nulls[c.name]); v != nil {
			t.Errorf("NULL row: column %s = %#v, want null", c.name, v)
		}
	}
}

// varintLen is the length of the Avro (zig-zag varint) encoding of an int.
func varintLen(v int) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// TestPostgresAvroSchemaChanges: on PostgreSQL, columns added (with and
// without a default), dropped, widened and renamed while streaming, and
// while sluice is stopped (changes written before an ALTER keep the old
// shape). Each shape is one registered version, BACKWARD compatible with
// the one before; key bytes never change.
func TestPostgresAvroSchemaChanges(t *testing.T) {
	f := newPGAvroFixture(t)
	f.exec("CREATE TABLE s (id INT PRIMARY KEY, a TEXT, gone INT, w SMALLINT, old_name INT)",
		"INSERT INTO s (id, a, gone, w, old_name) VALUES (1, 'one', 11, 1, 100)")
	topic := f.topic("s")
	p := f.sluice(f.config(""))
	f.waitCount(topic, 1)
	steps := []struct {
		ddl, insert string
		has, lacks  []string
	}{
		{"ALTER TABLE s ADD COLUMN nn INT NOT NULL DEFAULT 7", "INSERT INTO s (id, a) VALUES (2, 'two')", []string{"nn", "gone"}, nil},
		{"ALTER TABLE s ADD COLUMN nl TEXT", "INSERT INTO s (id, nl) VALUES (3, 'three')", []string{"nl"}, nil},
		{"ALTER TABLE s DROP COLUMN gone", "INSERT INTO s (id) VALUES (4)", nil, []string{"gone"}},
		{"ALTER TABLE s ALTER COLUMN w TYPE BIGINT", "INSERT INTO s (id, w) VALUES (5, 9223372036854775807)", []string{"w"}, nil},
		{"ALTER TABLE s RENAME COLUMN old_name TO new_name", "INSERT INTO s (id, new_name) VALUES (6, 6)", []string{"new_name"}, []string{"old_name"}},
	}
	for i, st := range steps {
		f.exec(st.ddl, st.insert)
		f.waitCount(topic, int64(i+2))
	}
	// Stopped: a write, an ALTER, a write; on restart the first keeps the
	// shape it was written with.
	p.stop()
	f.exec("UPDATE s SET a = 'lag' WHERE id = 1", "ALTER TABLE s ADD COLUMN late INT DEFAULT 1", "UPDATE s SET a = 'late' WHERE id = 1")
	p = f.sluice(f.config(""))
	f.waitCount(topic, int64(len(steps)+3))
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	versions := registeredVersions(t, f.registry, topic+"-value")
	if len(versions) != len(steps)+2 {
		t.Errorf("%d registered versions of %s-value, want %d (the first shape and one per ALTER)", len(versions), topic, len(steps)+2)
	}
	for i := 1; i < len(versions); i++ {
		if err := schema.AvroBackwardCompatible(versions[i], versions[i-1]); err != nil {
			t.Errorf("version %d is not BACKWARD compatible with version %d: %v", i+1, i, err)
		}
	}
	for i, r := range recs[1 : len(steps)+1] {
		img := r.image()
		for _, c := range steps[i].has {
			if _, ok := img[c]; !ok {
				t.Errorf("record after %q lacks column %s: %v", steps[i].ddl, c, img)
			}
		}
		for _, c := range steps[i].lacks {
			if _, ok := img[c]; ok {
				t.Errorf("record after %q still has column %s", steps[i].ddl, c)
			}
		}
	}
	if got := render(recs[4].image()["w"], "", 0); got != "9223372036854775807" {
		t.Errorf("widened w = %s", got)
	}
	lag, late := recs[len(steps)+1], recs[len(steps)+2]
	if _, ok := lag.image()["late"]; ok || render(lag.image()["a"], "", 0) != "lag" {
		t.Errorf("the update written before ALTER … ADD COLUMN late is encoded with the new shape: %v", lag.image())
	}
	if _, ok := late.image()["late"]; !ok {
		t.Errorf("the update written after ALTER … ADD COLUMN late lacks it: %v", late.image())
	}
	if lag.value.id == late.value.id {
		t.Errorf("updates before and after the ALTER share schema id %d", lag.value.id)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		if fmt.Sprint(unionValue(r.key.native["id"])) == "1" {
			keys[r.Key] = true
		}
	}
	if len(keys) != 1 {
		t.Errorf("row 1 has %d distinct key encodings across the schema changes, want 1", len(keys))
	}
}

// TestPostgresJSONRenderAlike: with format json, every PostgreSQL type and
// edge value (NaN and infinities included) renders to valid JSON, the same
// for the snapshot read and the stream.
func TestPostgresJSONRenderAlike(t *testing.T) {
	f := newPGFixture(t)
	n, topic := f.pgFidelityRun()

	byID := map[string]envelope{}
	for _, r := range f.read(topic) {
		byID[r.Key] = r.env(t)
	}
	for i := 1; i <= n; i++ {
		snap, stream := byID[fmt.Sprintf(`{"id":%d}`, i)], byID[fmt.Sprintf(`{"id":%d}`, 100+i)]
		for _, c := range pgFidelityColumns {
			if string(snap.After[c.name]) != string(stream.After[c.name]) {
				t.Errorf("row %d column %s (%s): snapshot %s, stream %s", i, c.name, c.typ, snap.After[c.name], stream.After[c.name])
			}
		}
	}
	for _, c := range []struct {
		id        int
		col, want string
	}{
		{2, "r", `"NaN"`}, {3, "r", `"Infinity"`}, {4, "r", `"-Infinity"`}, {2, "d", `"NaN"`},
		{3, "nu", `"NaN"`}, {2, "i8", "9223372036854775807"}, {1, "u", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
	} {
		if got := string(byID[fmt.Sprintf(`{"id":%d}`, c.id)].After[c.col]); got != c.want {
			t.Errorf("row %d column %s = %s, want %s", c.id, c.col, got, c.want)
		}
	}
}
