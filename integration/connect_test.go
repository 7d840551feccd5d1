//go:build integration

package integration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// The tests here rebuild tables in a PostgreSQL database with the real
// Kafka Connect runtime and Debezium's JDBC sink, fed from sluice's topics
// unchanged (Avro mapping v2 through Apicurio's converter, and
// connect-json through Connect's JsonConverter), and diff the sink's
// tables with the source's cell by cell, column types included.

// connectWorker is the Kafka Connect worker the tests share, started on
// first use.
var connectWorker = &lazyServer[*local.Connect]{what: "kafka connect", start: func(ctx context.Context) (*local.Connect, error) {
	return local.StartConnect(ctx, local.ConnectOptions{Bootstrap: kafka.Bootstrap()})
}}

// sinkColumn is one column of a type test table.
type sinkColumn struct {
	name, def string
	// values are SQL literals, one per row (cycled); "NULL" is NULL.
	values []string
	// src and sink are SELECT expressions of the column ("%s") on the
	// source and in the sink that give equal text for equal values;
	// empty means CAST(%s AS CHAR) on MariaDB and %s::text on PostgreSQL.
	src, sink string
	// sinkType is the column's type in the sink, as format_type names it.
	sinkType string
	// norm, when set, turns both sides' text into comparable form.
	norm func(string) string
	// lands, when set, gives the sink text a source text lands as, for a
	// documented difference (docs/types.md); ok false means unchanged.
	lands func(format, src string) (string, bool)
}

const sqlNull = "\x00NULL"

// trimFraction drops trailing zeros of a fractional part: PostgreSQL
// prints 12:00:00.5 where MariaDB prints 12:00:00.500000.
func trimFraction(s string) string {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return s
	}
	end := dot + 1
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	frac := strings.TrimRight(s[dot+1:end], "0")
	if frac == "" {
		return s[:dot] + s[end:]
	}
	return s[:dot+1] + frac + s[end:]
}

func asFloat32(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
}

func asFloat64(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// nullIf lands the given source texts as NULL.
func nullIf(texts ...string) func(string, string) (string, bool) {
	return func(_ string, s string) (string, bool) {
		if slices.Contains(texts, s) {
			return sqlNull, true
		}
		return "", false
	}
}

// nullInConnectJSON lands the given texts as NULL with connect-json only
// (JSON numbers hold no NaN or infinity).
func nullInConnectJSON(texts ...string) func(string, string) (string, bool) {
	return func(format string, s string) (string, bool) {
		if format == "connect-json" && slices.Contains(texts, s) {
			return sqlNull, true
		}
		return "", false
	}
}

var mariadbSinkColumns = []sinkColumn{
	{name: "ti", def: "TINYINT", values: []string{"-128", "127", "0"}, sinkType: "smallint"},
	{name: "tiu", def: "TINYINT UNSIGNED", values: []string{"255", "0"}, sinkType: "smallint"},
	{name: "si", def: "SMALLINT", values: []string{"-32768", "32767"}, sinkType: "smallint"},
	{name: "siu", def: "SMALLINT UNSIGNED", values: []string{"65535", "1"}, sinkType: "integer"},
	{name: "mi", def: "MEDIUMINT", values: []string{"-8388608", "8388607"}, sinkType: "integer"},
	{name: "miu", def: "MEDIUMINT UNSIGNED", values: []string{"16777215"}, sinkType: "integer"},
	{name: "i", def: "INT", values: []string{"-2147483648", "2147483647"}, sinkType: "integer"},
	{name: "iu", def: "INT UNSIGNED", values: []string{"4294967295", "7"}, sinkType: "bigint"},
	{name: "bi", def: "BIGINT", values: []string{"-9223372036854775808", "9223372036854775807"}, sinkType: "bigint"},
	{name: "biu", def: "BIGINT UNSIGNED", values: []string{"18446744073709551615", "0"}, sinkType: "numeric(20,0)"},
	{name: "f", def: "FLOAT", values: []string{"3.1415927", "-0.5", "16777216"}, src: "CAST(%s AS DOUBLE)", sink: "%s::float8::text", sinkType: "real", norm: asFloat32},
	{name: "d", def: "DOUBLE", values: []string{"0.30000000000000004", "1e300", "-2.5e-300"}, src: "%s", sink: "%s::text", sinkType: "double precision", norm: asFloat64},
	{name: "dec", def: "DECIMAL(12,3)", values: []string{"-123456789.123", "0.000", "1.500"}, sinkType: "numeric(12,3)"},
	// The sink caps precision at 38 (docs/types.md): values fit 38 digits.
	{name: "dec65", def: "DECIMAL(65,30)", values: []string{"-12345678.123456789012345678901234567891", "0.000000000000000000000000000001"}, sinkType: "numeric(38,30)"},
	{name: "c", def: "CHAR(4) CHARACTER SET utf8mb4", values: []string{"'ab'", "''", "'abcd'", "'漢字'"}, sinkType: "character(4)"},
	{name: "vc", def: "VARCHAR(64) CHARACTER SET utf8mb4", values: []string{"'hello'", "''", "'trail '", "'😀 ünï'"}, sinkType: "character varying(64)"},
	{name: "lat", def: "VARCHAR(10) CHARACTER SET latin1", values: []string{"'café'", "'x'"}, sinkType: "character varying(10)"},
	{name: "tx", def: "TEXT", values: []string{"'a longer text'", "''"}, sinkType: "text"},
	{name: "js", def: "JSON", values: []string{`'{"a": [1, 2.50], "b": null}'`, "'[]'"}, sinkType: "text"},
	{name: "bn", def: "BINARY(4)", values: []string{"x'61000000'", "x'00000000'", "x'ffffffff'"}, src: "HEX(%s)", sink: "upper(encode(%s, 'hex'))", sinkType: "bytea"},
	{name: "vb", def: "VARBINARY(16)", values: []string{"x''", "x'00ff'"}, src: "HEX(%s)", sink: "upper(encode(%s, 'hex'))", sinkType: "bytea"},
	{name: "bl", def: "BLOB", values: []string{"x'deadbeef'"}, src: "HEX(%s)", sink: "upper(encode(%s, 'hex'))", sinkType: "bytea"},
	{name: "en", def: "ENUM('small','medium','large')", values: []string{"'small'", "'large'"}, sinkType: "text"},
	{name: "st", def: "SET('red','green','blue')", values: []string{"'red,blue'", "''"}, sinkType: "text"},
	{name: "b1", def: "BIT(1)", values: []string{"b'1'", "b'0'"}, src: "CAST(%s+0 AS CHAR)", sink: "%s::int::text", sinkType: "boolean"},
	{name: "b12", def: "BIT(12)", values: []string{"b'101010101010'", "b'000000000001'"}, src: "LPAD(HEX(%s), 4, '0')", sink: "upper(encode(%s, 'hex'))", sinkType: "bytea"},
	{name: "yr", def: "YEAR", values: []string{"2024", "1901", "2155"}, src: "CAST(%s+0 AS CHAR)", sinkType: "integer"},
	{name: "dt", def: "DATE", values: []string{"'2024-02-29'", "'1000-01-01'", "'9999-12-31'", "'0000-00-00'"}, sinkType: "date", lands: nullIf("0000-00-00")},
	{name: "tm", def: "TIME(6)", values: []string{"'12:34:56.789012'", "'00:00:00'", "'23:59:59.999999'"}, sinkType: "time(6) without time zone", norm: trimFraction},
	{name: "dtm", def: "DATETIME(6)", values: []string{"'2024-01-02 03:04:05.678900'", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'0000-00-00 00:00:00'"}, sinkType: "timestamp(6) without time zone", norm: trimFraction, lands: nullIf("0000-00-00 00:00:00.000000")},
	{name: "ts", def: "TIMESTAMP(6) NULL", values: []string{"'2024-01-02 03:04:05.678900'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'"}, sink: "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", sinkType: "timestamp(6) with time zone", norm: trimFraction},
	{name: "g", def: "POINT", values: []string{"ST_GeomFromText('POINT(1 2)')"}, src: "HEX(%s)", sink: "upper(encode(%s, 'hex'))", sinkType: "bytea"},
}

var postgresSinkColumns = []sinkColumn{
	{name: "i2", def: "smallint", values: []string{"-32768", "32767"}, sinkType: "smallint"},
	{name: "i4", def: "integer", values: []string{"-2147483648", "2147483647"}, sinkType: "integer"},
	{name: "i8", def: "bigint", values: []string{"-9223372036854775808", "9223372036854775807"}, sinkType: "bigint"},
	{name: "r", def: "real", values: []string{"3.1415927", "'NaN'", "'Infinity'", "-0.5"}, sink: "%s::text", sinkType: "real", norm: asFloat32, lands: nullInConnectJSON("NaN", "Infinity", "-Infinity")},
	{name: "dp", def: "double precision", values: []string{"1.7976931348623157e308", "5e-324", "'-Infinity'"}, sinkType: "double precision", norm: asFloat64, lands: nullInConnectJSON("NaN", "Infinity", "-Infinity")},
	{name: "n", def: "numeric(12,3)", values: []string{"1.5", "-99.999", "'NaN'"}, sinkType: "numeric(12,3)", lands: nullIf("NaN")},
	// Exact in Kafka (VariableScaleDecimal); Debezium's sink creates a
	// double precision column for it (docs/types.md).
	{name: "nu", def: "numeric", values: []string{"1.500", "123456789012345678901234567890.123456789", "-7", "'NaN'"}, sinkType: "double precision", norm: asFloat64, lands: nullIf("NaN")},
	{name: "m", def: "money", values: []string{"1.50", "-92233720368547758.08"}, src: "%s::numeric::text", sinkType: "numeric(19,2)"},
	{name: "b", def: "boolean", values: []string{"true", "false"}, sinkType: "boolean"},
	{name: "t", def: "text", values: []string{"'a text'", "''", "'üñï 😀'"}, sinkType: "text"},
	{name: "vc", def: "varchar(64)", values: []string{"'hello'", "'trail '"}, sinkType: "character varying(64)"},
	{name: "c", def: "char(4)", values: []string{"'ab'", "'abcd'"}, sinkType: "character(4)"},
	{name: "ba", def: "bytea", values: []string{`'\x00ff'`, `'\x'`}, src: "encode(%s, 'hex')", sink: "encode(%s, 'hex')", sinkType: "bytea"},
	{name: "u", def: "uuid", values: []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}, sinkType: "uuid"},
	{name: "j", def: "json", values: []string{`'{"b": 1,  "a": [1, 2.50]}'`}, sinkType: "json"},
	{name: "jb", def: "jsonb", values: []string{`'{"b": 1, "a": [1, 2.50]}'`}, sinkType: "jsonb"},
	{name: "d", def: "date", values: []string{"'2024-02-29'", "'1000-01-01'", "'9999-12-31'", "'infinity'"}, sinkType: "date", lands: nullIf("infinity")},
	{name: "tm", def: "time(6)", values: []string{"'12:34:56.789012'", "'00:00:00'", "'23:59:59.999999'"}, sinkType: "time(6) without time zone"},
	{name: "ts", def: "timestamp(6)", values: []string{"'2024-01-02 03:04:05.6789'", "'1970-01-01 00:00:00'", "'infinity'"}, sinkType: "timestamp(6) without time zone", lands: nullIf("infinity")},
	{name: "tstz", def: "timestamptz(6)", values: []string{"'2024-06-01 12:00:00.5+02'", "'infinity'", "'-infinity'", "'1999-12-31 23:00:00+00'"}, sinkType: "timestamp(6) with time zone", lands: nullIf("infinity", "-infinity")},
	{name: "iv", def: "interval", values: []string{"'1 year 2 months 3 days 04:05:06.5'", "'-1 day'", "'0'"}, sinkType: "text"},
	{name: "ip", def: "inet", values: []string{"'192.168.0.1/24'", "'::1'"}, sinkType: "inet"},
	{name: "cid", def: "cidr", values: []string{"'10.0.0.0/8'"}, sinkType: "cidr"},
	{name: "mac", def: "macaddr", values: []string{"'08:00:2b:01:02:03'"}, sinkType: "macaddr"},
	{name: "ia", def: "integer[]", values: []string{"'{1,2,NULL}'", "'{}'"}, sinkType: "integer[]"},
	{name: "ta", def: "text[]", values: []string{`'{a,"b c"}'`}, sinkType: "text[]"},
	{name: "ttz", def: "timetz(6)", values: []string{"'12:34:56.789+05:30'", "'00:00:00-12:00'"}, sinkType: "time(6) with time zone"},
	{name: "bt1", def: "bit(1)", values: []string{"B'1'", "B'0'"}, sink: "%s::int::text", src: "%s::int::text", sinkType: "boolean"},
	{name: "bt", def: "bit(10)", values: []string{"B'1000000001'", "B'0000000000'"}, src: "lpad(to_hex(%s::int), 4, '0')", sink: "encode(%s, 'hex')", sinkType: "bytea"},
	{name: "vbt", def: "bit varying(8)", values: []string{"B'101'", "B''"}, sinkType: "text"},
	{name: "mood", def: "mood", values: []string{"'happy'", "'sad'"}, sinkType: "text"},
	{name: "x", def: "xml", values: []string{"'<a>b</a>'"}, sinkType: "xml"},
	{name: "rg", def: "int4range", values: []string{"'[1,10)'", "'empty'"}, sinkType: "text"},
	{name: "grid", def: "integer[]", values: []string{"'{{1,2},{3,4}}'", "'{5}'"}, sinkType: "integer[]", lands: nullIf("{{1,2},{3,4}}")},
	{name: "days", def: "date[]", values: []string{"'{2024-01-01,infinity}'", "'{2024-01-02}'"}, sinkType: "date[]", lands: nullIf("{2024-01-01,infinity}")},
	{name: "o", def: "oid", values: []string{"4294967295", "0"}, sinkType: "oid"},
}

// sinkRowsFor gives the rows of a type test table: row i holds each
// column's value i (cycled); the last row is all NULL.
func sinkRowsFor(cols []sinkColumn) int {
	n := 0
	for _, c := range cols {
		n = max(n, len(c.values))
	}
	return n + 1
}

func sinkInsert(table string, cols []sinkColumn, id, row int, quoteName func(string) string) string {
	names := []string{quoteName("id")}
	vals := []string{strconv.Itoa(id)}
	for _, c := range cols {
		names = append(names, quoteName(c.name))
		v := "NULL"
		if row >= 0 {
			v = c.values[row%len(c.values)]
		}
		vals = append(vals, v)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteName(table), strings.Join(names, ", "), strings.Join(vals, ", "))
}

// sinkDB is the sink's database: its own on the shared PostgreSQL.
type sinkDB struct {
	t    *testing.T
	srv  *local.Postgres
	name string
	conn *pgx.Conn
}

func newSinkDB(t *testing.T, name string) *sinkDB {
	t.Helper()
	srv := pgServer(t)
	ctx := context.Background()
	if err := srv.Exec(ctx, "", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	conn, err := srv.Conn(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &sinkDB{t: t, srv: srv, name: name, conn: conn}
}

// rows reads the sink table's rows through each column's sink
// expression, by id; nil when the table does not exist yet.
func (s *sinkDB) rows(table string, cols []sinkColumn, extra []string) (map[string][]string, error) {
	sel := []string{"id::text"}
	for _, c := range cols {
		expr := c.sink
		if expr == "" {
			expr = "%s::text"
		}
		sel = append(sel, fmt.Sprintf(expr, pgx.Identifier{c.name}.Sanitize()))
	}
	for _, e := range extra {
		sel = append(sel, pgx.Identifier{e}.Sanitize()+"::text")
	}
	rows, err := s.conn.Query(context.Background(), "SELECT "+strings.Join(sel, ", ")+" FROM "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, err
	}
	return textRows(rows, len(sel))
}

// textRows reads rows of n text columns, the first the id, into id → the
// other columns' texts (sqlNull for NULL), and closes rows.
func textRows(rows pgx.Rows, n int) (map[string][]string, error) {
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		vals := make([]*string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, n-1)
		for i, v := range vals[1:] {
			row[i] = sqlNull
			if v != nil {
				row[i] = *v
			}
		}
		out[*vals[0]] = row
	}
	return out, rows.Err()
}

// columnTypes returns format_type of each column of the sink table.
func (s *sinkDB) columnTypes(table string) map[string]string {
	s.t.Helper()
	rows, err := s.conn.Query(context.Background(),
		"SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
		pgx.Identifier{table}.Sanitize())
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			s.t.Fatal(err)
		}
		out[n] = typ
	}
	return out
}

// diffSink compares source rows with sink rows cell by cell, after each
// column's normalisation and documented difference.
func diffSink(format string, cols []sinkColumn, extra []string, src, sink map[string][]string) (bool, string) {
	var diffs []string
	for id, srow := range src {
		krow, ok := sink[id]
		if !ok {
			diffs = append(diffs, "missing id "+id)
			continue
		}
		for i, sv := range srow {
			var c sinkColumn
			if i < len(cols) {
				c = cols[i]
			} else {
				c = sinkColumn{name: extra[i-len(cols)]}
			}
			want, got := sv, krow[i]
			if c.lands != nil {
				if w, ok := c.lands(format, sv); ok {
					want = w
				}
			}
			if c.norm != nil {
				if want != sqlNull {
					want = c.norm(want)
				}
				if got != sqlNull {
					got = c.norm(got)
				}
			}
			if want != got {
				diffs = append(diffs, fmt.Sprintf("id %s column %s: source %q lands as %q, want %q", id, c.name, sv, krow[i], want))
			}
		}
	}
	for id := range sink {
		if _, ok := src[id]; !ok {
			diffs = append(diffs, "extra id "+id)
		}
	}
	if len(diffs) == 0 {
		return true, ""
	}
	slices.Sort(diffs)
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("… %d more", len(diffs)-20))
	}
	return false, strings.Join(diffs, "\n")
}

// sinkConnector is the JDBC sink's configuration for topic into table of
// db, with the converters of format.
func sinkConnector(db *sinkDB, topic, table, format string, reg testRegistry) map[string]string {
	cfg := map[string]string{
		"connector.class":        "io.debezium.connector.jdbc.JdbcSinkConnector",
		"tasks.max":              "1",
		"topics":                 topic,
		"connection.url":         fmt.Sprintf("jdbc:postgresql://%s/%s", db.srv.Addr(), db.name),
		"connection.username":    db.srv.User(),
		"connection.password":    db.srv.Password(),
		"insert.mode":            "upsert",
		"delete.enabled":         "true",
		"primary.key.mode":       "record_key",
		"schema.evolution":       "basic",
		"collection.name.format": table,
	}
	for _, side := range []string{"key", "value"} {
		p := side + ".converter"
		switch format {
		case "connect-json":
			cfg[p] = "org.apache.kafka.connect.json.JsonConverter"
			cfg[p+".schemas.enable"] = "true"
		case "avro":
			cfg[p] = "io.apicurio.registry.utils.converter.AvroConverter"
			cfg[p+".apicurio.registry.url"] = strings.TrimSuffix(reg.URL(), "/apis/ccompat/v7") + "/apis/registry/v2"
			cfg[p+".apicurio.registry.as-confluent"] = "true"
			cfg[p+".apicurio.registry.use-id"] = "contentId"
			cfg[p+".apicurio.registry.headers.enabled"] = "false"
		}
	}
	return cfg
}

// sinkCase is one source's part of the test: how to run statements on
// the source and read its rows back.
type sinkCase struct {
	f       *fixture
	exec    func(stmts ...string)
	rows    func(cols []sinkColumn, extra []string) map[string][]string
	quote   func(string) string
	addCol  string // ALTER TABLE adding column "extra"
	config  func() string
	cols    []sinkColumn
	connect *local.Connect
	sink    *sinkDB
	format  string
	reg     testRegistry
}

// run is the whole test for one source and format: snapshot, then a
// stream of inserts, updates, a key change, deletes and a column added,
// each time waiting until the sink equals the source.
func (c *sinkCase) run(t *testing.T) {
	ctx := context.Background()
	n := sinkRowsFor(c.cols)
	for r := 0; r < n; r++ {
		row := r
		if r == n-1 {
			row = -1
		}
		c.exec(sinkInsert("types", c.cols, r+1, row, c.quote))
	}
	p := c.f.sluice(c.config())
	name := "sink-" + c.f.name
	if err := c.connect.CreateConnector(ctx, name, sinkConnector(c.sink, c.f.topic("types"), "types", c.format, c.reg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.connect.DeleteConnector(context.Background(), name) })
	if err := c.connect.WaitRunning(ctx, name); err != nil {
		t.Fatal(err)
	}
	c.converge(t, name, nil, "the snapshot")

	// The stream: new rows, updates, a key change, deletes.
	for r := 0; r < n-1; r++ {
		c.exec(sinkInsert("types", c.cols, 100+r, r+1, c.quote))
	}
	first, second := c.cols[0].name, c.cols[len(c.cols)/2].name
	c.exec(
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE id = 1", c.quote("types"), c.quote(first), c.cols[0].values[len(c.cols[0].values)-1]),
		fmt.Sprintf("UPDATE %s SET %s = NULL WHERE id = 2", c.quote("types"), c.quote(second)),
		fmt.Sprintf("UPDATE %s SET id = 1000 WHERE id = 3", c.quote("types")),
		fmt.Sprintf("DELETE FROM %s WHERE id = 100", c.quote("types")),
		fmt.Sprintf("DELETE FROM %s WHERE id = %d", c.quote("types"), n),
	)
	c.converge(t, name, nil, "inserts, updates, a key change and deletes")

	// A column added while streaming reaches the sink's table.
	c.exec(c.addCol, fmt.Sprintf("UPDATE %s SET %s = 'added' WHERE id = 1", c.quote("types"), c.quote("extra")))
	c.converge(t, name, []string{"extra"}, "an added column")

	types := c.sink.columnTypes("types")
	for _, col := range c.cols {
		if types[col.name] != col.sinkType {
			t.Errorf("sink column %s (%s) is %q, want %q", col.name, col.def, types[col.name], col.sinkType)
		}
	}
	if types["extra"] == "" {
		t.Error("the added column is missing from the sink table")
	}
	p.stop()
}

func (c *sinkCase) converge(t *testing.T, connector string, extra []string, what string) {
	t.Helper()
	ctx := context.Background()
	c.f.eventually(3*time.Minute, "the sink equals the source after "+what, func() (bool, string) {
		if st, err := c.connect.ConnectorStatus(ctx, connector); err == nil {
			if ferr := st.Failure(); ferr != nil {
				t.Fatalf("the sink failed after %s: %v", what, ferr)
			}
		}
		sink, err := c.sink.rows("types", c.cols, extra)
		if err != nil {
			return false, err.Error()
		}
		return diffSink(c.format, c.cols, extra, c.rows(c.cols, extra), sink)
	})
}

func TestConnectSinkMariaDB(t *testing.T) {
	connect := connectWorker.get(t)
	for _, format := range []string{"avro", "connect-json"} {
		t.Run(format, func(t *testing.T) {
			f := newFixture(t)
			var reg testRegistry
			if format == "avro" {
				reg = newTestRegistry(t)
				f.registry, f.avroMapping = reg, "v2"
			} else {
				f.format = format
			}
			defs := []string{"id INT PRIMARY KEY"}
			for _, c := range mariadbSinkColumns {
				defs = append(defs, quote(c.name)+" "+c.def)
			}
			f.exec("CREATE TABLE types (" + strings.Join(defs, ", ") + ")")
			f.query("SET time_zone = '+00:00'").Close()
			c := &sinkCase{f: f, cols: mariadbSinkColumns, connect: connect, format: format, reg: reg,
				sink:  newSinkDB(t, "sink_"+f.db),
				quote: quote,
				exec: func(stmts ...string) {
					f.exec(append([]string{"SET SESSION sql_mode = ''", "SET time_zone = '+00:00'"}, stmts...)...)
				},
				addCol: "ALTER TABLE types ADD COLUMN extra VARCHAR(16)",
				config: func() string { return f.config("") },
			}
			c.rows = func(cols []sinkColumn, extra []string) map[string][]string {
				sel := []string{"CAST(id AS CHAR)"}
				for _, col := range cols {
					expr := col.src
					if expr == "" {
						expr = "CAST(%s AS CHAR)"
					}
					sel = append(sel, fmt.Sprintf(expr, quote(col.name)))
				}
				for _, e := range extra {
					sel = append(sel, quote(e))
				}
				res := f.query("SELECT " + strings.Join(sel, ", ") + " FROM types")
				defer res.Close()
				out := map[string][]string{}
				for i := range res.Values {
					id, _ := res.GetString(i, 0)
					row := make([]string, len(sel)-1)
					for j := range row {
						row[j] = sqlNull
						if res.Values[i][j+1].Type != 0 {
							row[j], _ = res.GetString(i, j+1)
						}
					}
					out[id] = row
				}
				return out
			}
			c.run(t)
		})
	}
}

func TestConnectSinkPostgres(t *testing.T) {
	connect := connectWorker.get(t)
	for _, format := range []string{"avro", "connect-json"} {
		t.Run(format, func(t *testing.T) {
			f := newPGFixture(t)
			var reg testRegistry
			if format == "avro" {
				reg = newTestRegistry(t)
				f.registry, f.avroMapping = reg, "v2"
			} else {
				f.format = format
			}
			pq := func(s string) string { return pgx.Identifier{s}.Sanitize() }
			defs := []string{"id integer PRIMARY KEY"}
			for _, c := range postgresSinkColumns {
				defs = append(defs, pq(c.name)+" "+c.def)
			}
			f.exec("CREATE TYPE mood AS ENUM ('sad', 'happy')", "CREATE TABLE types ("+strings.Join(defs, ", ")+")")
			if _, err := f.conn.Exec(f.ctx, "SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3"); err != nil {
				t.Fatal(err)
			}
			c := &sinkCase{f: f.fixture, cols: postgresSinkColumns, connect: connect, format: format, reg: reg,
				sink:   newSinkDB(t, "sink_"+f.dbname),
				quote:  pq,
				exec:   f.exec,
				addCol: "ALTER TABLE types ADD COLUMN extra varchar(16)",
				config: func() string { return f.config("") },
			}
			c.rows = func(cols []sinkColumn, extra []string) map[string][]string {
				sel := []string{"id::text"}
				for _, col := range cols {
					expr := col.src
					if expr == "" {
						expr = "%s::text"
					}
					sel = append(sel, fmt.Sprintf(expr, pq(col.name)))
				}
				for _, e := range extra {
					sel = append(sel, pq(e)+"::text")
				}
				rows, err := f.conn.Query(f.ctx, "SELECT "+strings.Join(sel, ", ")+" FROM types")
				if err != nil {
					t.Fatal(err)
				}
				out, err := textRows(rows, len(sel))
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			c.run(t)
		})
	}
}
