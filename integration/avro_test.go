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

// newTestRegistry starts the registry of one test. It is franz-go's
// srfake served in this process, with BACKWARD compatibility enforced by
// schema.AvroBackwardCompatible (srfake itself accepts any schema). To run
// the Avro tests against a real registry process, return one started by
// deploy/local instead; the tests use only the testRegistry methods.
func newTestRegistry(t *testing.T) testRegistry { return newFakeRegistry(t) }

// newAvroFixture is newFixture with format avro and a registry of its own.
func newAvroFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.registry = newTestRegistry(t)
	return f
}

// formatYAML is the format part of the fixture's config: json, or avro
// with the fixture's registry.
func (f *fixture) formatYAML() string {
	if f.registry == nil {
		return "format: json\n"
	}
	return fmt.Sprintf("format: avro\nschema_registry:\n  urls: [%q]\n  request_timeout: 2s\n", f.registry.URL())
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
	text, err := a.cl.SchemaTextByID(ctx, id)
	if err != nil {
		a.t.Fatalf("fetch schema %d: %v", id, err)
	}
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
