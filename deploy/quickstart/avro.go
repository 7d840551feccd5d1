package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// avroDecoder turns keys and values in Confluent's wire format (a zero
// byte, the 4-byte big-endian schema id, the Avro binary body) into JSON
// text for printing. It fetches each writer schema by id from the registry
// once and keeps it: the cache holds one entry per schema id, which grows
// with the number of table shapes, not with the records. Not safe for
// concurrent use; the consumer goroutine owns it.
type avroDecoder struct {
	reg     *sr.Client
	schemas map[int]*writerSchema
}

// writerSchema is one registered schema, ready to decode and render.
type writerSchema struct {
	codec *goavro.Codec
	root  any            // the schema JSON, parsed
	names map[string]any // named types (records, enums, fixed) by full name
}

func newAvroDecoder(reg *sr.Client) *avroDecoder {
	return &avroDecoder{reg: reg, schemas: map[int]*writerSchema{}}
}

// isAvro reports whether b looks like Confluent's wire format: the magic
// byte 0 and a schema id. A JSON key or value starts with '{' or '"'.
func isAvro(b []byte) bool { return len(b) >= 5 && b[0] == 0 }

// toJSON decodes b with its writer schema and renders it as compact JSON:
// records as objects in field order, unions unwrapped, decimals as exact
// strings with their scale, dates and times as text, bytes in base64. It
// blocks for the registry request when the schema id is new (ctx bounds
// it).
func (d *avroDecoder) toJSON(ctx context.Context, b []byte) ([]byte, error) {
	if !isAvro(b) {
		return nil, fmt.Errorf("decode avro: not the Confluent wire format (magic byte 0, 4-byte schema id)")
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	s, err := d.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	native, rest, err := s.codec.NativeFromBinary(b[5:])
	if err != nil {
		return nil, fmt.Errorf("decode avro with schema %d: %w", id, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decode avro with schema %d: %d bytes left over; the record was written with another schema", id, len(rest))
	}
	var out bytes.Buffer
	if err := s.render(&out, s.root, "", native, noHint); err != nil {
		return nil, fmt.Errorf("render avro with schema %d: %w", id, err)
	}
	return out.Bytes(), nil
}

// schema returns the writer schema of id, fetching it from the registry
// when it is not cached.
func (d *avroDecoder) schema(ctx context.Context, id int) (*writerSchema, error) {
	if s := d.schemas[id]; s != nil {
		return s, nil
	}
	got, err := d.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("fetch schema %d from the registry: %w", id, err)
	}
	s, err := parseWriterSchema(got.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	d.schemas[id] = s
	return s, nil
}

func parseWriterSchema(text string) (*writerSchema, error) {
	codec, err := goavro.NewCodec(text)
	if err != nil {
		return nil, fmt.Errorf("compile avro schema: %w", err)
	}
	s := &writerSchema{codec: codec, names: map[string]any{}}
	if err := json.Unmarshal([]byte(text), &s.root); err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	s.collect(s.root, "")
	return s, nil
}

// collect records the named types of schema t, whose enclosing namespace
// is ns.
func (s *writerSchema) collect(t any, ns string) {
	switch t := t.(type) {
	case []any:
		for _, b := range t {
			s.collect(b, ns)
		}
	case map[string]any:
		switch t["type"] {
		case "record", "error", "enum", "fixed":
			full := fullName(t, ns)
			s.names[full] = t
			if t["type"] == "record" || t["type"] == "error" {
				inner := namespaceOf(full)
				fields, _ := t["fields"].([]any)
				for _, f := range fields {
					if fm, ok := f.(map[string]any); ok {
						s.collect(fm["type"], inner)
					}
				}
			}
		case "array":
			s.collect(t["items"], ns)
		case "map":
			s.collect(t["values"], ns)
		default:
			if inner, ok := t["type"].(map[string]any); ok {
				s.collect(inner, ns)
			}
		}
	}
}

// fullName is the full name of named type t in namespace ns.
func fullName(t map[string]any, ns string) string {
	name, _ := t["name"].(string)
	if strings.Contains(name, ".") {
		return name
	}
	if n, ok := t["namespace"].(string); ok {
		ns = n
	}
	if ns == "" {
		return name
	}
	return ns + "." + name
}

// namespaceOf is the namespace part of a full name.
func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

var avroPrimitives = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

// resolve turns a reference to a named type into its definition; any
// other schema comes back as it is.
func (s *writerSchema) resolve(t any, ns string) (any, string) {
	name, ok := t.(string)
	if !ok || slices.Contains(avroPrimitives, name) {
		return t, ns
	}
	for _, full := range []string{ns + "." + name, name} {
		if def, ok := s.names[full]; ok {
			return def, namespaceOf(full)
		}
	}
	return t, ns
}

// fspPattern finds the fractional-second digits in a source type such as
// datetime(6) or timestamp(3) with time zone.
var fspPattern = regexp.MustCompile(`\((\d)\)`)

// fieldHint is what a field's sluice.source.type property says about how
// to show its values.
type fieldHint struct {
	fsp     int  // fraction digits of a time value; -1: as many as it has
	integer bool // an integer column carried as a decimal (BIGINT UNSIGNED)
}

// noHint shows values as they come.
var noHint = fieldHint{fsp: -1}

// hintOf reads a field's source type: MySQL's "datetime(6)",
// PostgreSQL's "timestamp(3) with time zone", "bigint unsigned".
func hintOf(sourceType string) fieldHint {
	h := noHint
	if m := fspPattern.FindStringSubmatch(sourceType); m != nil {
		h.fsp, _ = strconv.Atoi(m[1])
	} else if sourceType == "datetime" || sourceType == "timestamp" {
		h.fsp = 0 // MySQL's DATETIME and TIMESTAMP without (fsp)
	}
	h.integer = strings.Contains(sourceType, "int")
	return h
}

// render writes v, a goavro native value of schema t (enclosing namespace
// ns), as JSON, shown as h says.
func (s *writerSchema) render(w *bytes.Buffer, t any, ns string, v any, h fieldHint) error {
	t, ns = s.resolve(t, ns)
	switch t := t.(type) {
	case []any:
		return s.renderUnion(w, t, ns, v, h)
	case map[string]any:
		switch typ := t["type"].(type) {
		case string:
			switch typ {
			case "record", "error":
				return s.renderRecord(w, t, fullName(t, ns), v)
			case "array":
				items, ok := v.([]any)
				if !ok {
					return fmt.Errorf("array holds %T", v)
				}
				w.WriteByte('[')
				for i, item := range items {
					if i > 0 {
						w.WriteByte(',')
					}
					if err := s.render(w, t["items"], ns, item, h); err != nil {
						return err
					}
				}
				w.WriteByte(']')
				return nil
			case "map":
				m, ok := v.(map[string]any)
				if !ok {
					return fmt.Errorf("map holds %T", v)
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				w.WriteByte('{')
				for i, k := range keys {
					if i > 0 {
						w.WriteByte(',')
					}
					writeJSONString(w, k)
					w.WriteByte(':')
					if err := s.render(w, t["values"], ns, m[k], h); err != nil {
						return err
					}
				}
				w.WriteByte('}')
				return nil
			}
			logical, _ := t["logicalType"].(string)
			return renderScalar(w, logical, t, v, h)
		default:
			return s.render(w, typ, ns, v, h)
		}
	}
	return renderScalar(w, "", nil, v, h)
}

// renderRecord writes a record's fields in schema order.
func (s *writerSchema) renderRecord(w *bytes.Buffer, t map[string]any, full string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("record %s holds %T", full, v)
	}
	ns := namespaceOf(full)
	fields, _ := t["fields"].([]any)
	w.WriteByte('{')
	for i, f := range fields {
		fm, _ := f.(map[string]any)
		name, _ := fm["name"].(string)
		if i > 0 {
			w.WriteByte(',')
		}
		// Show the column's own name when the field name had to differ.
		shown := name
		if col, ok := fm["sluice.column"].(string); ok && col != "" {
			shown = col
		}
		writeJSONString(w, shown)
		w.WriteByte(':')
		st, _ := fm["sluice.source.type"].(string)
		if err := s.render(w, fm["type"], ns, m[name], hintOf(st)); err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
	}
	w.WriteByte('}')
	return nil
}

// renderUnion unwraps goavro's {"branch": value} form and renders the value
// with its branch's schema.
func (s *writerSchema) renderUnion(w *bytes.Buffer, branches []any, ns string, v any, h fieldHint) error {
	if v == nil {
		w.WriteString("null")
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return fmt.Errorf("union holds %T", v)
	}
	for key, inner := range m {
		for _, b := range branches {
			if s.branchMatches(b, ns, key) {
				return s.render(w, b, ns, inner, h)
			}
		}
		return fmt.Errorf("union value of branch %q matches no branch of the schema", key)
	}
	return nil
}

// branchMatches reports whether goavro's name key of a union value names
// branch b. goavro names primitives by type, logical types as
// "type.logicalType" (e.g. "bytes.decimal") and named types by full name.
func (s *writerSchema) branchMatches(b any, ns, key string) bool {
	def, defNS := s.resolve(b, ns)
	switch d := def.(type) {
	case string:
		return d == key
	case map[string]any:
		typ, _ := d["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			return fullName(d, defNS) == key
		}
		base, _, _ := strings.Cut(key, ".")
		return typ == key || typ == base
	}
	return false
}

// renderScalar writes a primitive or logical value as sluice's JSON format
// would: decimals as exact strings (integer columns as numbers), timestamps with time zone as
// "…T…Z" in UTC, local date-times as "YYYY-MM-DD HH:MM:SS[.ffffff]",
// dates as "YYYY-MM-DD", bytes in base64.
func renderScalar(w *bytes.Buffer, logical string, t map[string]any, v any, h fieldHint) error {
	fsp := h.fsp
	switch x := v.(type) {
	case nil:
		w.WriteString("null")
	case bool:
		w.WriteString(strconv.FormatBool(x))
	case int32:
		w.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		if logical == "local-timestamp-micros" {
			writeJSONString(w, formatClock(time.UnixMicro(x).UTC(), "2006-01-02 15:04:05", fsp))
			return nil
		}
		if logical == "local-timestamp-millis" {
			writeJSONString(w, formatClock(time.UnixMilli(x).UTC(), "2006-01-02 15:04:05", fsp))
			return nil
		}
		w.WriteString(strconv.FormatInt(x, 10))
	case float32:
		writeFloat(w, float64(x), 32)
	case float64:
		writeFloat(w, x, 64)
	case string:
		writeJSONString(w, x)
	case []byte:
		writeJSONString(w, base64.StdEncoding.EncodeToString(x))
	case *big.Rat:
		scale := 0
		if t != nil {
			if f, ok := t["scale"].(float64); ok {
				scale = int(f)
			}
		}
		if scale == 0 && h.integer && x.IsInt() {
			w.WriteString(x.Num().String()) // BIGINT UNSIGNED: a number, as in sluice's JSON
			return nil
		}
		writeJSONString(w, x.FloatString(scale))
	case time.Time:
		if logical == "date" {
			writeJSONString(w, x.UTC().Format("2006-01-02"))
			return nil
		}
		writeJSONString(w, formatClock(x.UTC(), "2006-01-02T15:04:05", fsp)+"Z")
	case time.Duration:
		w.WriteString(strconv.FormatInt(x.Microseconds(), 10))
	default:
		return fmt.Errorf("unexpected value %T", v)
	}
	return nil
}

// formatClock formats tm with layout and fsp fraction digits (-1: as many
// as it has, none when they are all zero).
func formatClock(tm time.Time, layout string, fsp int) string {
	switch {
	case fsp > 0:
		layout += "." + strings.Repeat("0", min(fsp, 9))
	case fsp < 0:
		layout += ".999999"
	}
	return tm.Format(layout)
}

func writeFloat(w *bytes.Buffer, f float64, bits int) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		writeJSONString(w, strconv.FormatFloat(f, 'g', -1, bits))
		return
	}
	w.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
}

func writeJSONString(w *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	w.Write(b)
}
