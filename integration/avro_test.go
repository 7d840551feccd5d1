//go:build integration

package integration

import (
	"bytes"
	"context"
	wire "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluice-cdc/sluice/deploy/local"
	"github.com/sluice-cdc/sluice/schema"
)

// testRegistry is the schema registry an Avro test's sluice talks to over
// loopback HTTP.
type testRegistry interface {
	URL() string
	// Client reads and writes the registry directly.
	Client() *sr.Client
	// Down makes every connection to the registry fail until Up.
	Down(t *testing.T)
	Up(t *testing.T)
}

// newTestRegistry gives a test its registry: the real one deploy/local
// runs (Apicurio Registry's Confluent-compatible API, global compatibility
// BACKWARD), shared by the tests of a run. newFakeRegistry, franz-go's
// srfake in this process with BACKWARD enforced by
// schema.AvroBackwardCompatible, is the in-process alternative; the tests
// use only the testRegistry methods, so either serves.
func newTestRegistry(t *testing.T) testRegistry { return newLocalRegistry(t) }

var (
	sharedRegistryOnce sync.Once
	sharedRegistry     *local.Registry
	sharedRegistryErr  error
)

// localRegistry is the registry process of deploy/local; Down kills it,
// Up restarts it on the same port with the same schemas.
type localRegistry struct {
	reg  *local.Registry
	cl   *sr.Client
	down bool
}

func newLocalRegistry(t *testing.T) testRegistry {
	t.Helper()
	sharedRegistryOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
		defer cancel()
		start := time.Now()
		sharedRegistry, sharedRegistryErr = local.StartRegistry(ctx, local.RegistryOptions{})
		t.Logf("schema registry started in %v", time.Since(start).Round(time.Millisecond))
	})
	if sharedRegistryErr != nil {
		t.Fatalf("start schema registry: %v", sharedRegistryErr)
	}
	cl, err := sharedRegistry.Client()
	if err != nil {
		t.Fatal(err)
	}
	return &localRegistry{reg: sharedRegistry, cl: cl}
}

// stopTestRegistry stops the shared registry, if a test started it.
func stopTestRegistry() {
	if sharedRegistry != nil {
		sharedRegistry.Stop()
	}
}

func (r *localRegistry) URL() string        { return r.reg.URL() }
func (r *localRegistry) Client() *sr.Client { return r.cl }

// Down kills the registry; it comes back at Up, or when the test ends, for
// the tests after it.
func (r *localRegistry) Down(t *testing.T) {
	r.reg.Kill()
	r.down = true
	t.Cleanup(func() {
		if r.down {
			r.Up(t)
		}
	})
}

func (r *localRegistry) Up(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := r.reg.Restart(ctx); err != nil {
		t.Fatalf("restart schema registry: %v", err)
	}
	r.down = false
}

// newAvroFixture is newFixture with format avro and a registry of its own.
func newAvroFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.registry = newTestRegistry(t)
	return f
}

// formatYAML is the format part of the fixture's config: json, or avro
// with the fixture's registry in the fixture's mapping (v1 unless
// avroMapping says otherwise; the v1 tests read v1's string branches).
func (f *fixture) formatYAML() string {
	if f.registry == nil {
		if f.format != "" {
			return "format: " + f.format + "\n"
		}
		return "format: json\n"
	}
	mapping := f.avroMapping
	if mapping == "" {
		mapping = "v1"
	}
	return fmt.Sprintf("format: avro\navro:\n  mapping: %s\nschema_registry:\n  urls: [%q]\n  request_timeout: 2s\n", mapping, f.registry.URL())
}

// fakeRegistry serves srfake on a fixed loopback address that can be taken
// down and brought back.
type fakeRegistry struct {
	reg  *srfake.Registry
	addr string
	cl   *sr.Client

	mu  sync.Mutex
	srv *http.Server
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{reg: srfake.NewRegistry()}
	r.reg.Intercept(r.enforceBackward)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	if r.cl, err = sr.NewClient(sr.URLs(r.URL())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.srv != nil {
			r.srv.Close()
		}
	})
	return r
}

func (r *fakeRegistry) URL() string        { return "http://" + r.addr }
func (r *fakeRegistry) Client() *sr.Client { return r.cl }

func (r *fakeRegistry) serve(ln net.Listener) {
	srv := &http.Server{Handler: r.reg.Handler()}
	go srv.Serve(ln)
	r.srv = srv
}

func (r *fakeRegistry) Down(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		r.srv.Close() // closes the listener and every open connection
		r.srv = nil
	}
}

func (r *fakeRegistry) Up(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return
	}
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			r.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("registry back up on %s: %v", r.addr, err)
}

// enforceBackward refuses, as a registry with compatibility BACKWARD does,
// a new version that cannot read the subject's latest version. A schema
// the subject already holds passes, as with a real registry.
func (r *fakeRegistry) enforceBackward(w http.ResponseWriter, req *http.Request) bool {
	subject, ok := strings.CutPrefix(req.URL.Path, "/subjects/")
	if req.Method != http.MethodPost || !ok {
		return false
	}
	if subject, ok = strings.CutSuffix(subject, "/versions"); !ok {
		return false
	}
	body, err := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var s sr.Schema
	if json.Unmarshal(body, &s) != nil {
		return false
	}
	var latest string
	for v := 1; ; v++ {
		ss, ok := r.reg.GetSchema(subject, v)
		if !ok {
			break
		}
		if ss.Schema.Schema == s.Schema {
			return false
		}
		latest = ss.Schema.Schema
	}
	if latest == "" {
		return false
	}
	if err := schema.AvroBackwardCompatible(s.Schema, latest); err != nil {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(map[string]any{"error_code": 409,
			"message": fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: [%v]", subject, err)})
		return true
	}
	return false
}

// avroReader decodes Confluent-framed Avro records with the writer schema
// fetched by id from the registry and goavro's generic decoder.
type avroReader struct {
	t       *testing.T
	cl      *sr.Client
	schemas map[int]*writerSchema
}

// writerSchema is one registered schema, ready to decode.
type writerSchema struct {
	id     int
	text   string
	codec  *goavro.Codec
	fields []string        // top-level field names, in order
	prefix []*goavro.Codec // prefix[k] decodes the first k+1 fields
}

// avroValue is one decoded key or value.
type avroValue struct {
	id     int
	schema *writerSchema
	raw    []byte // the Avro body after the 5-byte header
	native map[string]any
}

func (f *fixture) avroReader() *avroReader {
	return &avroReader{t: f.t, cl: f.registry.Client(), schemas: map[int]*writerSchema{}}
}

func (a *avroReader) schema(id int) *writerSchema {
	a.t.Helper()
	if s := a.schemas[id]; s != nil {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := a.cl.SchemaByID(ctx, id)
	if err != nil {
		a.t.Fatalf("fetch schema %d: %v", id, err)
	}
	text := got.Schema
	s := &writerSchema{id: id, text: text}
	if s.codec, err = goavro.NewCodec(text); err != nil {
		a.t.Fatalf("schema %d does not compile: %v\n%s", id, err, text)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		a.t.Fatal(err)
	}
	fields, _ := rec["fields"].([]any)
	for k := range fields {
		name, _ := fields[k].(map[string]any)["name"].(string)
		s.fields = append(s.fields, name)
		part := map[string]any{"type": "record", "name": rec["name"], "fields": fields[:k+1]}
		if ns, ok := rec["namespace"]; ok {
			part["namespace"] = ns
		}
		pj, _ := json.Marshal(part)
		c, err := goavro.NewCodec(string(pj))
		if err != nil {
			a.t.Fatalf("schema %d: first %d fields: %v", id, k+1, err)
		}
		s.prefix = append(s.prefix, c)
	}
	a.schemas[id] = s
	return s
}

// decode reads one framed record; it fails the test on a bad frame, an
// unknown schema id or bytes left over.
func (a *avroReader) decode(b []byte) avroValue {
	a.t.Helper()
	if len(b) < 5 || b[0] != 0 {
		a.t.Fatalf("not the Confluent wire format (magic 0, 4-byte id): % x", b[:min(len(b), 8)])
	}
	id := int(wire.BigEndian.Uint32(b[1:5]))
	s := a.schema(id)
	native, rest, err := s.codec.NativeFromBinary(b[5:])
	if err != nil {
		a.t.Fatalf("decode with schema %d: %v", id, err)
	}
	if len(rest) != 0 {
		a.t.Fatalf("decode with schema %d: %d bytes left over", id, len(rest))
	}
	m, _ := native.(map[string]any)
	return avroValue{id: id, schema: s, raw: b[5:], native: m}
}

// fieldBytes returns the exact bytes of top-level field name in v.
func (a *avroReader) fieldBytes(v avroValue, name string) []byte {
	a.t.Helper()
	start := 0
	for k, n := range v.schema.fields {
		_, rest, err := v.schema.prefix[k].NativeFromBinary(v.raw)
		if err != nil {
			a.t.Fatalf("decode the first %d fields of schema %d: %v", k+1, v.id, err)
		}
		end := len(v.raw) - len(rest)
		if n == name {
			return v.raw[start:end]
		}
		start = end
	}
	a.t.Fatalf("schema %d has no field %s", v.id, name)
	return nil
}

// avroRecord is one Kafka record with its key and value decoded.
type avroRecord struct {
	record
	key   avroValue
	value *avroValue // nil for a tombstone
}

// op is the envelope's op, or "tombstone".
func (r avroRecord) op() string {
	if r.value == nil {
		return "tombstone"
	}
	return fmt.Sprint(r.value.native["op"])
}

// image is the after image, or the before image of a delete; nil for a
// tombstone.
func (r avroRecord) image() map[string]any {
	if r.value == nil {
		return nil
	}
	name := "after"
	if r.op() == "d" {
		name = "before"
	}
	img, _ := unionValue(r.value.native[name]).(map[string]any)
	return img
}

// readAvro reads and decodes every record of topic (see fixture.read).
func (f *fixture) readAvro(a *avroReader, topic string) []avroRecord {
	f.t.Helper()
	var out []avroRecord
	for _, r := range f.read(topic) {
		ar := avroRecord{record: r, key: a.decode([]byte(r.Key))}
		if r.Value != nil {
			v := a.decode(r.Value)
			ar.value = &v
		}
		out = append(out, ar)
	}
	return out
}

// unionValue unwraps goavro's {"branch": value} form of a union value.
// Records are maps too; a branch name is a primitive type name or a
// namespaced full name, which no field name can be.
func unionValue(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for branch, inner := range m {
			if isBranchName(branch) {
				return inner
			}
		}
	}
	return v
}

func isBranchName(s string) bool {
	switch s {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
		return true
	}
	return strings.Contains(s, ".")
}

// unionBranch is the branch name of a union value, "" when v is not one.
func unionBranch(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for branch := range m {
			if isBranchName(branch) {
				return branch
			}
		}
	}
	return ""
}

// render turns a decoded Avro value into the text the database shows for
// the same value (see fidelityCol.db), so the two can be compared:
// integers in decimal, decimals with their scale, floats as the shortest
// text of their width, bytes in upper-case hex (or, for bits, as the
// unsigned number), dates and times as MariaDB prints them with fsp
// fraction digits, NULL as "NULL".
func render(v any, kind string, fsp int) string {
	branch := unionBranch(v)
	v = unionValue(v)
	if branch == "string" && (kind == "datetime" || kind == "timestamp" || kind == "date") {
		// The string fallback for values the logical type cannot hold.
		s := v.(string)
		s = strings.TrimSuffix(strings.Replace(s, "T", " ", 1), "Z")
		return s
	}
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		switch kind {
		case "time":
			return clockText(x, fsp)
		case "datetime":
			return time.UnixMicro(x).UTC().Format(dateTimeLayout(fsp))
		}
		return strconv.FormatInt(x, 10)
	case time.Duration:
		return clockText(x.Microseconds(), fsp)
	case time.Time:
		if kind == "date" {
			return x.UTC().Format("2006-01-02")
		}
		return x.UTC().Format(dateTimeLayout(fsp))
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case *big.Rat:
		return x.FloatString(fsp)
	case []byte:
		if kind == "bits" {
			return new(big.Int).SetBytes(x).String()
		}
		return fmt.Sprintf("%X", x)
	case string:
		return x
	}
	return fmt.Sprintf("unexpected %T %v", v, v)
}

func dateTimeLayout(fsp int) string {
	if fsp == 0 {
		return "2006-01-02 15:04:05"
	}
	return "2006-01-02 15:04:05." + strings.Repeat("0", fsp)
}

// clockText renders signed microseconds as MariaDB prints a TIME(fsp).
func clockText(us int64, fsp int) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
	if fsp > 0 {
		frac := fmt.Sprintf("%06d", us%1_000_000)
		s += "." + frac[:fsp]
	}
	return s
}

// registeredVersions returns the schema text of every version of subject,
// oldest first.
func registeredVersions(t *testing.T, reg testRegistry, subject string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schemas, err := reg.Client().Schemas(ctx, subject)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil
		}
		t.Fatalf("versions of %s: %v", subject, err)
	}
	var out []string
	for _, s := range schemas {
		out = append(out, s.Schema.Schema)
	}
	return out
}

// fidelityCol is one column of the fidelity matrix: its DDL, how to read
// its Avro value (see render), the SQL that gives the database's own text
// of the value, and one literal per row.
type fidelityCol struct {
	name, ddl string
	kind      string // "" plain, "bits", "date", "time", "datetime", "timestamp", "float", "double"
	fsp       int    // fraction digits of times; scale of decimals
	db        string // SQL for the database's text, %s is the column; "" is CAST(%s AS CHAR)
	vals      []string
}

// fidelityRows is the number of rows of the matrix: extremes, the other
// extremes and zeros, NULLs, and special values.
const fidelityRows = 4

var fidelityCols = []fidelityCol{
	{name: "ti", ddl: "TINYINT", vals: []string{"127", "-128", "NULL", "0"}},
	{name: "tu", ddl: "TINYINT UNSIGNED", vals: []string{"255", "0", "NULL", "1"}},
	{name: "si", ddl: "SMALLINT", vals: []string{"32767", "-32768", "NULL", "0"}},
	{name: "su", ddl: "SMALLINT UNSIGNED", vals: []string{"65535", "0", "NULL", "1"}},
	{name: "mi", ddl: "MEDIUMINT", vals: []string{"8388607", "-8388608", "NULL", "-1"}},
	{name: "mu", ddl: "MEDIUMINT UNSIGNED", vals: []string{"16777215", "0", "NULL", "8388608"}},
	{name: "i", ddl: "INT", vals: []string{"2147483647", "-2147483648", "NULL", "0"}},
	{name: "iu", ddl: "INT UNSIGNED", vals: []string{"4294967295", "0", "NULL", "2147483648"}},
	{name: "bi", ddl: "BIGINT", vals: []string{"9223372036854775807", "-9223372036854775808", "NULL", "0"}},
	{name: "bu", ddl: "BIGINT UNSIGNED", vals: []string{"18446744073709551615", "0", "NULL", "9223372036854775808"}},
	{name: "bo", ddl: "BOOL", vals: []string{"1", "0", "NULL", "-1"}},
	{name: "d", ddl: "DECIMAL(65,30)", fsp: 30, vals: []string{
		"99999999999999999999999999999999999.999999999999999999999999999999",
		"-99999999999999999999999999999999999.999999999999999999999999999999", "NULL", "0.000000000000000000000000000001"}},
	{name: "d2", ddl: "DECIMAL(10,2) UNSIGNED", fsp: 2, vals: []string{"99999999.99", "0", "NULL", "0.01"}},
	{name: "d0", ddl: "DECIMAL(5,0)", fsp: 0, vals: []string{"99999", "-99999", "NULL", "0"}},
	{name: "f", ddl: "FLOAT", kind: "float", db: "CAST(%s AS DOUBLE)", vals: []string{"3.4028235e38", "-3.4028235e38", "NULL", "1.17549435e-38"}},
	{name: "db", ddl: "DOUBLE", kind: "double", vals: []string{"1.7976931348623157e308", "-2.2250738585072014e-308", "NULL", "0.30000000000000004"}},
	{name: "bt", ddl: "BIT(1)", kind: "bits", db: "CAST(%s+0 AS CHAR)", vals: []string{"b'1'", "b'0'", "NULL", "b'1'"}},
	{name: "b64", ddl: "BIT(64)", kind: "bits", db: "CAST(%s+0 AS CHAR)", vals: []string{"b'" + strings.Repeat("1", 64) + "'", "b'0'", "NULL", "b'1" + strings.Repeat("0", 63) + "'"}},
	{name: "b12", ddl: "BIT(12)", kind: "bits", db: "CAST(%s+0 AS CHAR)", vals: []string{"b'111111111111'", "b'0'", "NULL", "b'101010101010'"}},
	{name: "yr", ddl: "YEAR", db: "CAST(%s+0 AS CHAR)", vals: []string{"2155", "1901", "NULL", "0"}},
	{name: "dt", ddl: "DATE", kind: "date", db: "DATE_FORMAT(%s, '%%Y-%%m-%%d')", vals: []string{"'9999-12-31'", "'1000-01-01'", "NULL", "'0000-00-00'"}},
	{name: "dtz", ddl: "DATE", kind: "date", db: "DATE_FORMAT(%s, '%%Y-%%m-%%d')", vals: []string{"'2024-02-29'", "'1970-01-01'", "NULL", "'2024-00-15'"}},
	{name: "tm", ddl: "TIME(6)", kind: "time", fsp: 6, vals: []string{"'838:59:59.000000'", "'-838:59:59.000000'", "NULL", "'-00:00:00.000001'"}},
	{name: "tm0", ddl: "TIME", kind: "time", vals: []string{"'25:00:00'", "'00:00:00'", "NULL", "'-01:02:03'"}},
	{name: "tm3", ddl: "TIME(3)", kind: "time", fsp: 3, vals: []string{"'100:00:00.999'", "'-100:00:00.5'", "NULL", "'12:34:56.001'"}},
	{name: "dtm", ddl: "DATETIME(6)", kind: "datetime", fsp: 6, vals: []string{"'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00.000000'", "NULL", "'0000-00-00 00:00:00.000000'"}},
	{name: "dt0", ddl: "DATETIME", kind: "datetime", vals: []string{"'2024-02-29 12:00:00'", "'1970-01-01 00:00:00'", "NULL", "'1969-12-31 23:59:59'"}},
	{name: "ts", ddl: "TIMESTAMP(6) NULL", kind: "timestamp", fsp: 6, vals: []string{"'2038-01-19 03:14:07.999999'", "'1970-01-01 00:00:01.000000'", "NULL", "'0000-00-00 00:00:00'"}},
	{name: "ts0", ddl: "TIMESTAMP NULL", kind: "timestamp", vals: []string{"'2038-01-19 03:14:07'", "'1970-01-01 00:00:01'", "NULL", "'2000-02-29 23:59:59'"}},
	{name: "c", ddl: "CHAR(5)", vals: []string{"'abcde'", "''", "NULL", "' a  '"}},
	{name: "vc", ddl: "VARCHAR(50)", vals: []string{"'emoji 😀 ü 中文'", "''", "NULL", "'trailing  '"}},
	{name: "lat", ddl: "VARCHAR(20) CHARACTER SET latin1", vals: []string{"'café €'", "''", "NULL", "x'81ff'"}},
	{name: "tx", ddl: "TEXT", vals: []string{"'long text\\nwith lines'", "''", "NULL", "'\\\\'"}},
	{name: "bn", ddl: "BINARY(4)", db: "HEX(%s)", vals: []string{"x'ffffffff'", "x''", "NULL", "x'61'"}},
	{name: "vb", ddl: "VARBINARY(10)", db: "HEX(%s)", vals: []string{"x'00ff00'", "x''", "NULL", "x'00'"}},
	{name: "bl", ddl: "BLOB", db: "HEX(%s)", vals: []string{"x'deadbeef'", "x''", "NULL", "x'0000'"}},
	{name: "e", ddl: "ENUM('a','b','c d')", vals: []string{"'c d'", "'a'", "NULL", "'zzz'"}},
	{name: "st", ddl: "SET('x','y','z')", vals: []string{"'x,y,z'", "''", "NULL", "'z,x'"}},
	{name: "js", ddl: "JSON", vals: []string{`'{"k": [1, 2.5, "s", null, true], "e": "😀"}'`, "'[]'", "NULL", "'null'"}},
	{name: "zf", ddl: "INT(5) UNSIGNED ZEROFILL", db: "CAST(%s+0 AS CHAR)", vals: []string{"99999", "0", "NULL", "1"}},
	{name: "fmd", ddl: "FLOAT(7,3)", kind: "float", db: "CAST(%s AS DOUBLE)", vals: []string{"9999.999", "-9999.999", "NULL", "0.001"}},
	{name: "du", ddl: "DECIMAL(5,0) UNSIGNED", vals: []string{"99999", "0", "NULL", "1"}},
	{name: "tm1", ddl: "TIME(1)", kind: "time", fsp: 1, vals: []string{"'-838:59:58.9'", "'838:59:58.9'", "NULL", "'00:00:00.1'"}},
	{name: "tsm", ddl: "TIMESTAMP(3) NULL", kind: "timestamp", fsp: 3, vals: []string{"'2038-01-19 03:14:07.999'", "'1970-01-01 00:00:01.001'", "NULL", "'2024-02-29 12:00:00.5'"}},
	{name: "ttx", ddl: "TINYTEXT", vals: []string{"'tiny'", "''", "NULL", "' '"}},
	{name: "mtx", ddl: "MEDIUMTEXT", vals: []string{"REPEAT('m', 70000)", "''", "NULL", "'x'"}},
	{name: "ltx", ddl: "LONGTEXT", vals: []string{"REPEAT('😀', 1000)", "''", "NULL", "'x'"}},
	{name: "mbl", ddl: "MEDIUMBLOB", db: "HEX(%s)", vals: []string{"REPEAT(x'00ff', 1000)", "x''", "NULL", "x'01'"}},
	{name: "asc", ddl: "VARCHAR(10) CHARACTER SET ascii", vals: []string{"'abc~'", "''", "NULL", "' '"}},
	{name: "u16", ddl: "VARCHAR(10) CHARACTER SET utf16", vals: []string{"'ü😀中'", "''", "NULL", "'a'"}},
	{name: "u16le", ddl: "VARCHAR(10) CHARACTER SET utf16le", vals: []string{"'ü😀中'", "''", "NULL", "'a'"}},
	{name: "u32", ddl: "VARCHAR(10) CHARACTER SET utf32", vals: []string{"'ü😀中'", "''", "NULL", "'a'"}},
	{name: "ucs", ddl: "VARCHAR(10) CHARACTER SET ucs2", vals: []string{"'üé中'", "''", "NULL", "'a'"}},
	{name: "u8", ddl: "VARCHAR(10) CHARACTER SET utf8mb3", vals: []string{"'üé中'", "''", "NULL", "'a'"}},
	{name: "el", ddl: "ENUM('é','ü') CHARACTER SET latin1", vals: []string{"'ü'", "'é'", "NULL", "''"}},
	{name: "pt", ddl: "POINT", db: "HEX(%s)", vals: []string{"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POINT(-1.5 1e300)')", "NULL", "ST_GeomFromText('POINT(0 0)')"}},
	{name: "g", ddl: "GEOMETRY", db: "HEX(%s)", vals: []string{"ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)')", "ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')", "NULL", "ST_GeomFromText('POINT(3 4)')"}},
}

// fidelityInsert writes the matrix's rows with ids from base.
func (f *fixture) fidelityInsert(table string, base int) {
	f.t.Helper()
	var rows []string
	for r := range fidelityRows {
		vals := []string{strconv.Itoa(base + r)}
		for _, c := range fidelityCols {
			vals = append(vals, c.vals[r])
		}
		rows = append(rows, "("+strings.Join(vals, ", ")+")")
	}
	// sql_mode '' admits zero dates and the invalid enum value; UTC makes
	// the TIMESTAMP literals the instants they spell.
	f.exec("SET SESSION sql_mode = ''", "SET time_zone = '+00:00'",
		"INSERT INTO "+quote(table)+" VALUES "+strings.Join(rows, ", "))
}

// fidelityDB returns the database's own text of every value: id → column
// → text ("NULL" for NULL).
func (f *fixture) fidelityDB(table string) map[int64]map[string]string {
	f.t.Helper()
	conn := f.conn()
	for _, s := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"} {
		if _, err := conn.Execute(s); err != nil {
			f.t.Fatal(err)
		}
	}
	sel := []string{"id"}
	for _, c := range fidelityCols {
		expr := c.db
		if expr == "" {
			expr = "CAST(%s AS CHAR)"
		}
		sel = append(sel, fmt.Sprintf(expr, quote(c.name)))
	}
	res, err := conn.Execute("SELECT " + strings.Join(sel, ", ") + " FROM " + quote(table))
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Close()
	out := map[int64]map[string]string{}
	for i := range res.Values {
		id, _ := res.GetInt(i, 0)
		row := map[string]string{}
		for j, c := range fidelityCols {
			if res.Values[i][j+1].Type == 0 {
				row[c.name] = "NULL"
				continue
			}
			s, _ := res.GetString(i, j+1)
			switch c.kind {
			case "float":
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					f.t.Fatalf("%s: %q: %v", c.name, s, err)
				}
				s = strconv.FormatFloat(float64(float32(v)), 'g', -1, 32)
			case "double":
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					f.t.Fatalf("%s: %q: %v", c.name, s, err)
				}
				s = strconv.FormatFloat(v, 'g', -1, 64)
			}
			row[c.name] = s
		}
		out[id] = row
	}
	return out
}

// TestAvroFidelity: promise 7 in Avro. Every MySQL/MariaDB type with its
// edge values, written before the snapshot and again while streaming, reads
// back from Kafka (decoded generically with the registered writer schema)
// equal to what the database itself shows; the snapshot and the stream
// encode equal rows byte for byte, under one registered schema.
func TestAvroFidelity(t *testing.T) {
	f := newAvroFixture(t)
	var ddl []string
	for _, c := range fidelityCols {
		ddl = append(ddl, quote(c.name)+" "+c.ddl)
	}
	f.exec("CREATE TABLE fid (id INT PRIMARY KEY, " + strings.Join(ddl, ", ") + ") DEFAULT CHARSET utf8mb4")
	f.fidelityInsert("fid", 1)
	p := f.sluice(f.config(""))
	topic := f.topic("fid")
	f.eventually(90*time.Second, "snapshot", func() (bool, string) {
		n := f.count(topic)
		return n == fidelityRows, fmt.Sprintf("%d records", n)
	})
	// The same rows again, now through the binlog: delete them (before
	// image and tombstone) and insert them under the same ids.
	f.exec("DELETE FROM fid")
	f.fidelityInsert("fid", 1)
	f.eventually(90*time.Second, "stream", func() (bool, string) {
		n := f.count(topic)
		return n == 4*fidelityRows, fmt.Sprintf("%d records", n)
	})
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	db := f.fidelityDB("fid")
	byID := map[int64][]avroRecord{}
	for _, r := range recs {
		id, ok := r.key.native["id"].(int32)
		if !ok {
			t.Fatalf("key %v has no int id", r.key.native)
		}
		byID[int64(id)] = append(byID[int64(id)], r)
	}
	if len(byID) != fidelityRows {
		t.Fatalf("%d keys, want %d", len(byID), fidelityRows)
	}
	compared, shown := 0, map[int64][]string{}
	for id, rs := range byID {
		var ops []string
		for _, r := range rs {
			ops = append(ops, r.op())
		}
		if strings.Join(ops, " ") != "r d tombstone c" {
			t.Fatalf("id %d: records %v, want r d tombstone c", id, ops)
		}
		snap, del, tomb, create := rs[0], rs[1], rs[2], rs[3]
		for _, r := range rs[1:] {
			if r.Key != snap.Key {
				t.Errorf("id %d: key of %s % x differs from the snapshot's % x", id, r.op(), r.Key, snap.Key)
			}
		}
		_ = tomb
		if snap.value.id != create.value.id || snap.value.id != del.value.id {
			t.Errorf("id %d: value schema ids snapshot %d, delete %d, create %d: the snapshot and the stream map the table differently",
				id, snap.value.id, del.value.id, create.value.id)
		}
		snapAfter, createAfter := a.fieldBytes(*snap.value, "after"), a.fieldBytes(*create.value, "after")
		if !bytes.Equal(snapAfter, createAfter) {
			t.Errorf("id %d: after image differs\nsnapshot % x\nstream   % x", id, snapAfter, createAfter)
		}
		if delBefore := a.fieldBytes(*del.value, "before"); !bytes.Equal(snapAfter, delBefore) {
			t.Errorf("id %d: the delete's before image differs from the snapshot's after image\nsnapshot % x\ndelete   % x", id, snapAfter, delBefore)
		}
		want := db[id]
		for _, r := range []avroRecord{snap, create} {
			img := r.image()
			for _, c := range fidelityCols {
				got := render(img[c.name], c.kind, c.fsp)
				compared++
				if r.op() == "r" {
					short := got
					if len(short) > 40 {
						short = fmt.Sprintf("%s…(%d bytes)", short[:40], len(short))
					}
					shown[id] = append(shown[id], c.name+"="+short)
				}
				if got != want[c.name] {
					t.Errorf("id %d %s column %s (%s): Avro %.200q (%.200v), database %.200q", id, r.op(), c.name, c.ddl, got, img[c.name], want[c.name])
				}
			}
		}
	}
	if compared != 2*fidelityRows*len(fidelityCols) {
		t.Errorf("compared %d values, want %d", compared, 2*fidelityRows*len(fidelityCols))
	}
	for id := range int64(fidelityRows) {
		t.Logf("row %d as read back: %s", id+1, strings.Join(shown[id+1], " "))
	}
	if t.Failed() {
		t.Logf("value schema:\n%s", recs[0].value.schema.text)
	}
}

// waitCount waits until topic holds n records.
func (f *fixture) waitCount(topic string, n int64) {
	f.t.Helper()
	f.eventually(90*time.Second, fmt.Sprintf("%d records in %s", n, topic), func() (bool, string) {
		got := f.count(topic)
		return got == n, fmt.Sprintf("%d records", got)
	})
}

// TestAvroKeysAcrossSchemaChange: promise 3 in Avro. A row's key bytes,
// and the key schema id in them, are the same for the snapshot read, an
// update before and after ALTER TABLE ... ADD COLUMN, across a restart,
// for the delete and its tombstone, while the value schema changes.
func TestAvroKeysAcrossSchemaChange(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE k (id INT, sub VARCHAR(10), v INT, PRIMARY KEY (id, sub))", "INSERT INTO k VALUES (1, 'a', 1), (2, 'b', 2)")
	topic := f.topic("k")
	p := f.sluice(f.config(""))
	f.waitCount(topic, 2)
	f.exec("UPDATE k SET v = 10 WHERE id = 1",
		"ALTER TABLE k ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x'",
		"UPDATE k SET v = 11, extra = 'y' WHERE id = 1")
	f.waitCount(topic, 4)
	p.stop()
	p = f.sluice(f.config(""))
	f.exec("UPDATE k SET v = 20 WHERE id = 2", "DELETE FROM k WHERE id = 1")
	f.waitCount(topic, 7)
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	byKey := map[string][]avroRecord{}
	var order []string
	for _, r := range recs {
		if _, ok := byKey[r.Key]; !ok {
			order = append(order, r.Key)
		}
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	if len(byKey) != 2 {
		for _, r := range recs {
			t.Logf("%s key % x (%v)", r.op(), r.Key, r.key.native)
		}
		t.Fatalf("%d distinct keys, want 2: a key changed its bytes", len(byKey))
	}
	one, two := byKey[order[0]], byKey[order[1]]
	var ops1, ops2 []string
	for _, r := range one {
		ops1 = append(ops1, r.op())
	}
	for _, r := range two {
		ops2 = append(ops2, r.op())
	}
	if strings.Join(ops1, " ") != "r u u d tombstone" || strings.Join(ops2, " ") != "r u" {
		t.Fatalf("records of id 1: %v (want r u u d tombstone), of id 2: %v (want r u)", ops1, ops2)
	}
	keyIDs := map[int]bool{}
	for _, r := range recs {
		keyIDs[r.key.id] = true
	}
	if len(keyIDs) != 1 {
		t.Errorf("keys use %d schema ids, want 1", len(keyIDs))
	}
	before, after := one[0].value.id, one[2].value.id
	if one[1].value.id != before || after == before || one[3].value.id != after || two[0].value.id != before || two[1].value.id != after {
		t.Errorf("value schema ids: id 1 %d %d %d %d, id 2 %d %d; want the update before the ALTER under the snapshot's schema and everything after it under a new one",
			one[0].value.id, one[1].value.id, one[2].value.id, one[3].value.id, two[0].value.id, two[1].value.id)
	}
	if got := render(one[2].image()["extra"], "", 0); got != "y" {
		t.Errorf("extra after the ALTER = %q, want y", got)
	}
	if n := len(registeredVersions(t, f.registry, topic+"-key")); n != 1 {
		t.Errorf("key subject has %d versions, want 1", n)
	}
}

// TestAvroSchemaChanges: while sluice streams, columns are added (NOT NULL
// with and without a default, nullable), dropped, widened and renamed, a
// table matching the include pattern is created and one is dropped. Every
// change is encoded with the shape it was written with; each shape is one
// new registered version, and each version is BACKWARD compatible with the
// one before (checked by the test registry on registration, and here).
func TestAvroSchemaChanges(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE s (id INT PRIMARY KEY, a VARCHAR(10), gone INT, w SMALLINT, old_name INT)",
		"INSERT INTO s (id, a, gone, w, old_name) VALUES (1, 'one', 11, 1, 100)")
	topic := f.topic("s")
	p := f.sluice(f.config(""))
	f.waitCount(topic, 1)
	steps := []struct {
		ddl, insert string
		has, lacks  []string
	}{
		{"ALTER TABLE s ADD COLUMN nn INT NOT NULL DEFAULT 7", "INSERT INTO s (id, a) VALUES (2, 'two')", []string{"nn", "gone"}, nil},
		{"ALTER TABLE s ADD COLUMN nn0 INT NOT NULL", "INSERT INTO s (id, a) VALUES (3, 'three')", []string{"nn0"}, nil},
		{"ALTER TABLE s ADD COLUMN nl VARCHAR(5)", "INSERT INTO s (id, nl) VALUES (4, 'four')", []string{"nl"}, nil},
		{"ALTER TABLE s DROP COLUMN gone", "INSERT INTO s (id) VALUES (5)", nil, []string{"gone"}},
		{"ALTER TABLE s MODIFY w INT", "INSERT INTO s (id, w) VALUES (6, 2147483647)", []string{"w"}, nil},
		{"ALTER TABLE s MODIFY w BIGINT", "INSERT INTO s (id, w) VALUES (7, 9223372036854775807)", []string{"w"}, nil},
		{"ALTER TABLE s RENAME COLUMN old_name TO new_name", "INSERT INTO s (id, new_name) VALUES (8, 8)", []string{"new_name"}, []string{"old_name"}},
	}
	for i, st := range steps {
		// sql_mode '' lets inserts leave NOT NULL columns without a
		// default to their implicit default.
		f.exec("SET SESSION sql_mode = ''", st.ddl, st.insert)
		f.waitCount(topic, int64(i+2))
	}
	// A new table matching tables.include, then a dropped one.
	f.exec("CREATE TABLE s2 (id INT PRIMARY KEY, v INT)", "INSERT INTO s2 VALUES (1, 1)")
	f.waitCount(f.topic("s2"), 1)
	f.exec("DROP TABLE s2", "SET SESSION sql_mode = ''", "INSERT INTO s (id) VALUES (100)")
	f.waitCount(topic, int64(len(steps)+2))
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	versions := registeredVersions(t, f.registry, topic+"-value")
	if len(versions) != len(steps)+1 {
		t.Errorf("%d registered versions of %s-value, want %d (the first shape and one per ALTER)", len(versions), topic, len(steps)+1)
	}
	for i := 1; i < len(versions); i++ {
		if err := schema.AvroBackwardCompatible(versions[i], versions[i-1]); err != nil {
			t.Errorf("version %d is not BACKWARD compatible with version %d (after %q): %v", i+1, i, steps[i-1].ddl, err)
		}
	}
	seen := map[int]bool{}
	for i, r := range recs[:len(steps)+1] {
		if seen[r.value.id] {
			t.Errorf("record %d reuses schema id %d of an earlier shape", i, r.value.id)
		}
		seen[r.value.id] = true
		if i < len(versions) && r.value.schema.text != versions[i] {
			t.Errorf("record %d is written with schema id %d, not with version %d of the subject", i, r.value.id, i+1)
		}
		if i == 0 {
			continue
		}
		img := r.image()
		for _, c := range steps[i-1].has {
			if _, ok := img[c]; !ok {
				t.Errorf("record after %q lacks column %s: %v", steps[i-1].ddl, c, img)
			}
		}
		for _, c := range steps[i-1].lacks {
			if _, ok := img[c]; ok {
				t.Errorf("record after %q still has column %s", steps[i-1].ddl, c)
			}
		}
	}
	if got := render(recs[6].image()["w"], "", 0); got != "9223372036854775807" {
		t.Errorf("widened w = %s", got)
	}
	if got := render(recs[2].image()["nn0"], "", 0); got != "0" {
		t.Errorf("nn0 (NOT NULL without a default) = %s, want 0", got)
	}
	if last := recs[len(recs)-1]; render(last.key.native["id"], "", 0) != "100" || last.value.id != recs[len(steps)].value.id {
		t.Errorf("the insert after DROP TABLE s2: key %v, schema %d", last.key.native, last.value.id)
	}
	if n := len(registeredVersions(t, f.registry, f.topic("s2")+"-value")); n != 1 {
		t.Errorf("s2: %d registered versions, want 1", n)
	}
}

// TestAvroSchemaAsOfEvent: promise 6 in Avro. sluice is stopped while rows
// are written before and after an ALTER TABLE; on restart the changes
// written before the ALTER are encoded with the old shape, under the old
// shape's schema id, and the later ones with the new shape's.
func TestAvroSchemaAsOfEvent(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE s (id INT PRIMARY KEY, a VARCHAR(10), gone INT)", "INSERT INTO s VALUES (1, 'one', 11)")
	topic := f.topic("s")
	p := f.sluice(f.config(""))
	f.waitCount(topic, 1)
	p.stop()
	f.exec("INSERT INTO s VALUES (2, 'two', 22)",
		"ALTER TABLE s ADD COLUMN added INT NOT NULL DEFAULT 7, DROP COLUMN gone",
		"INSERT INTO s VALUES (3, 'three', 33)",
		"UPDATE s SET a = 'uno' WHERE id = 1")
	p = f.sluice(f.config(""))
	f.waitCount(topic, 4)
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	oldID, newID := recs[0].value.id, recs[2].value.id
	if recs[1].value.id != oldID {
		t.Errorf("the insert written before the ALTER has schema id %d, want the old shape's %d", recs[1].value.id, oldID)
	}
	if newID == oldID || recs[3].value.id != newID {
		t.Errorf("changes after the ALTER have schema ids %d and %d, want one new id other than %d", newID, recs[3].value.id, oldID)
	}
	if img := recs[1].image(); img["gone"] == nil || img["added"] != nil {
		t.Errorf("the insert before the ALTER decoded with today's shape: %v", img)
	}
	for _, r := range recs[2:] {
		if img := r.image(); img["added"] == nil || img["gone"] != nil {
			t.Errorf("a change after the ALTER lacks the new shape: %v", img)
		}
	}
	if got := render(recs[1].image()["gone"], "", 0); got != "22" {
		t.Errorf("gone of row 2 = %s, want 22", got)
	}
	if n := len(registeredVersions(t, f.registry, topic+"-value")); n != 2 {
		t.Errorf("%d registered versions, want 2", n)
	}
}

// TestAvroRegistryDown: no record is produced without its registered
// schema. With the registry down at start, the snapshot waits and sluice
// keeps retrying; mid-stream, shapes already registered keep flowing while
// a new shape (an ALTER TABLE) waits. When the registry is back, every
// change arrives, each key's changes in order.
func TestAvroRegistryDown(t *testing.T) {
	f := newAvroFixture(t)
	reg := f.registry
	var vals []string
	for id := 1; id <= 20; id++ {
		vals = append(vals, fmt.Sprintf("(%d, 1)", id))
	}
	f.exec("CREATE TABLE o (id INT PRIMARY KEY, ver INT NOT NULL)", "INSERT INTO o VALUES "+strings.Join(vals, ", "))
	topic := f.topic("o")
	alive := func(p *proc) {
		t.Helper()
		select {
		case <-p.done:
			t.Fatalf("sluice exited while the registry was down: %v\n%s", p.err, p.output())
		default:
		}
	}

	reg.Down(t)
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "snapshot started", func() (bool, string) {
		return strings.Contains(p.output(), "consistent point"), "no consistent point yet"
	})
	f.exec("UPDATE o SET ver = ver + 1 WHERE id <= 10", "INSERT INTO o VALUES (21, 1)")
	f.eventually(60*time.Second, "a logged registry retry", func() (bool, string) {
		return strings.Contains(p.output(), "schema registry unavailable, retrying"), "no retry logged"
	})
	time.Sleep(3 * time.Second)
	if n := f.count(topic); n != 0 {
		t.Fatalf("%d records produced while the registry was down", n)
	}
	alive(p)
	reg.Up(t)
	f.waitCount(topic, 20+11)

	reg.Down(t)
	// The shape is registered: its changes need no registry.
	f.exec("UPDATE o SET ver = ver + 1 WHERE id <= 5")
	f.waitCount(topic, 31+5)
	// A new shape must wait for the registry.
	f.exec("ALTER TABLE o ADD COLUMN note VARCHAR(10)",
		"UPDATE o SET ver = ver + 1, note = 'n' WHERE id <= 10",
		"INSERT INTO o (id, ver) VALUES (22, 1)")
	time.Sleep(6 * time.Second)
	if n := f.count(topic); n != 36 {
		t.Fatalf("%d records, want 36: a change of the unregistered shape was produced while the registry was down", n)
	}
	alive(p)
	reg.Up(t)
	f.waitCount(topic, 36+11)
	p.stop()

	a := f.avroReader()
	recs := f.readAvro(a, topic)
	last := map[string]int64{}
	for i, r := range recs {
		ver, err := strconv.ParseInt(render(r.image()["ver"], "", 0), 10, 64)
		if err != nil {
			t.Fatalf("record %d: ver: %v", i, err)
		}
		if prev, ok := last[r.Key]; ok && ver != prev+1 {
			t.Errorf("key %v: version %d follows %d: a change is missing, repeated or out of order", r.key.native, ver, prev)
		}
		last[r.Key] = ver
		if _, hasNote := r.image()["note"]; hasNote != (i >= 36) {
			t.Errorf("record %d: has note %v, want %v", i, hasNote, i >= 36)
		}
	}
	rows := f.query("SELECT COUNT(*), SUM(ver) FROM o")
	n, _ := rows.GetInt(0, 0)
	sum, _ := rows.GetInt(0, 1)
	var gotSum int64
	for _, v := range last {
		gotSum += v
	}
	if int64(len(last)) != n || gotSum != sum {
		t.Errorf("topic has %d keys with versions summing to %d, table %d rows summing to %d", len(last), gotSum, n, sum)
	}
}

// TestAvroIncompatibleSchema: when the registry rejects a table's schema as
// incompatible with the subject's earlier versions, sluice stops with an
// error naming the subject and the fix, having produced nothing.
func TestAvroIncompatibleSchema(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE x (id INT PRIMARY KEY, v INT)", "INSERT INTO x VALUES (1, 1)")
	subject := f.topic("x") + "-value"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other := `{"type":"record","name":"Other","namespace":"elsewhere","fields":[{"name":"must","type":"string"}]}`
	if _, err := f.registry.Client().CreateSchema(ctx, subject, sr.Schema{Schema: other}); err != nil {
		t.Fatal(err)
	}
	p := f.sluice(f.config(""))
	if err := p.wait(90 * time.Second); err == nil {
		t.Fatalf("sluice exited cleanly\n%s", p.output())
	}
	out := p.output()
	for _, want := range []string{subject, "incompatible", "fix:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := f.count(f.topic("x")); n != 0 {
		t.Errorf("%d records produced", n)
	}
	t.Logf("sluice stopped with: %s", out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:])
	if n := len(registeredVersions(t, f.registry, subject)); n != 1 {
		t.Errorf("subject has %d versions, want only the one registered by the test", n)
	}
}

// TestAvroCheck: `sluice check` tells whether the registry is reachable.
func TestAvroCheck(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE c (id INT PRIMARY KEY, v INT)")
	p := f.sluice(f.config(""), "check")
	if err := p.wait(60 * time.Second); err != nil || !strings.Contains(p.output(), "OK: source, Kafka and the schema registry are ready") {
		t.Fatalf("check with the registry up: %v\n%s", err, p.output())
	}
	f.registry.Down(t)
	p = f.sluice(f.config(""), "check")
	if err := p.wait(60 * time.Second); err == nil || !strings.Contains(p.output(), "ERROR schema registry not reachable") {
		t.Fatalf("check with the registry down: %v\n%s", err, p.output())
	}
}

// TestAvroNarrowingStops: a column narrowed while streaming (BIGINT to INT)
// gives a value schema that cannot read the earlier records. sluice warns,
// the registry (BACKWARD) rejects it, and sluice stops naming the subject
// and the fix; the records before the change stay, none after it is
// produced.
func TestAvroNarrowingStops(t *testing.T) {
	f := newAvroFixture(t)
	f.exec("CREATE TABLE nw (id INT PRIMARY KEY, n BIGINT)", "INSERT INTO nw VALUES (1, 1)")
	topic := f.topic("nw")
	p := f.sluice(f.config(""))
	f.waitCount(topic, 1)
	f.exec("INSERT INTO nw VALUES (2, 2)", "ALTER TABLE nw MODIFY n INT", "INSERT INTO nw VALUES (3, 3)")
	if err := p.wait(90 * time.Second); err == nil {
		t.Fatalf("sluice went on after an incompatible schema change\n%s", p.output())
	}
	out := p.output()
	for _, want := range []string{"schema change is not backward compatible", topic + "-value", "incompatible", "fix:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := f.count(topic); n != 2 {
		t.Errorf("%d records, want 2 (the snapshot row and the insert before the ALTER)", n)
	}
}

// TestAvroRegistryAuth: against a registry that demands basic auth,
// `sluice check` and `sluice run` name missing and refused credentials,
// accepted ones work, and the password shows in no output.
func TestAvroRegistryAuth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const user = "sluice-reg"
	pw := fmt.Sprintf("Reg-%d-pw", time.Now().UnixNano()%1_000_000)
	reg, err := local.StartRegistry(ctx, local.RegistryOptions{User: user, Password: pw})
	if err != nil {
		t.Fatalf("start schema registry with basic auth: %v", err)
	}
	defer reg.Stop()
	cl, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.registry = &localRegistry{reg: reg, cl: cl}
	f.exec("CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a VALUES (1, 1)")
	var outputs []string
	expect := func(args, want string, ok bool) {
		t.Helper()
		p := f.sluice(f.config(""), args)
		err := p.wait(90 * time.Second)
		outputs = append(outputs, p.output())
		if (err == nil) != ok || !strings.Contains(p.output(), want) {
			t.Errorf("sluice %s: exit %v, want success %v and output with %q:\n%s", args, err, ok, want, p.output())
		}
	}

	expect("check", "requires authentication (401): set schema_registry.username and schema_registry.password", false)
	t.Setenv("SLUICE_SCHEMA_REGISTRY_USERNAME", user)
	t.Setenv("SLUICE_SCHEMA_REGISTRY_PASSWORD", "not-the-password")
	expect("check", `refused the credentials of user "sluice-reg" (401)`, false)
	expect("run", "refused the credentials", false)
	if n := f.count(f.topic("a")); n != 0 {
		t.Errorf("%d records produced without a registered schema", n)
	}

	t.Setenv("SLUICE_SCHEMA_REGISTRY_PASSWORD", pw)
	expect("check", "OK: source, Kafka and the schema registry are ready", true)
	p := f.sluice(f.config(""))
	f.waitCount(f.topic("a"), 1)
	p.stop()
	outputs = append(outputs, p.output())
	recs := f.readAvro(f.avroReader(), f.topic("a"))
	if got := render(recs[0].image()["v"], "", 0); got != "1" {
		t.Errorf("v = %s", got)
	}
	for _, out := range outputs {
		if strings.Contains(out, pw) {
			t.Fatalf("the registry password appears in sluice's output:\n%s", out)
		}
	}
}
