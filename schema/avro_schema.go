package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/sluice-cdc/sluice"
)

// AvroOptions shape the Avro schemas and records of an [AvroEncoder].
type AvroOptions struct {
	// TopicPrefix is the topic prefix; record names and namespaces derive
	// from <prefix>.<database>.<table>, and subjects from the topic.
	TopicPrefix string
	// UnsignedBigint chooses the Avro type of BIGINT UNSIGNED: "decimal"
	// (the default when empty) is bytes with logical type decimal(20,0),
	// exact for every value; "long" is a long holding the value's 64 bits,
	// so values above 9223372036854775807 read back negative (two's
	// complement wrap, as Java's unsigned helpers expect).
	UnsignedBigint string
	// Version is written to source.version (the sluice version).
	Version string
	// Now gives the envelope's ts_ms; time.Now when nil.
	Now func() time.Time
	// Mapping chooses the schema mapping: AvroMappingV2, the one Kafka
	// Connect reads (see avro_connect.go and docs/types.md), or
	// AvroMappingV1, the first one; empty means v1.
	Mapping string
	// Connector is the source's kind, "mysql" or "postgresql"; mapping v2
	// shapes the envelope's source record after it.
	Connector string
	// Database is the PostgreSQL database's name, written to source.db by
	// mapping v2 (MySQL's source.db is the table's database).
	Database string
	// TextColumn, when set, chooses the columns mapping v2 writes as their
	// canonical text (a plain string) rather than as a logical type, so
	// that values no logical type holds (zero dates, infinities, NaN)
	// travel unchanged. Only date, time, datetime, timestamp, decimal and
	// uuid columns may be chosen.
	TextColumn func(t *sluice.Table, col *sluice.Column) bool
}

func (o *AvroOptions) v2() bool { return o.Mapping == AvroMappingV2 }

// The values of AvroOptions.UnsignedBigint.
const (
	UnsignedBigintDecimal = "decimal"
	UnsignedBigintLong    = "long"
)

func (o *AvroOptions) check() error {
	switch o.Mapping {
	case "", AvroMappingV1:
	case AvroMappingV2:
		if o.Connector != "mysql" && o.Connector != "postgresql" {
			return fmt.Errorf("avro mapping v2 needs the source's connector, mysql or postgresql; got %q", o.Connector)
		}
	default:
		return fmt.Errorf("avro mapping %q is not known; fix: use %q or %q", o.Mapping, AvroMappingV2, AvroMappingV1)
	}
	switch o.UnsignedBigint {
	case "", UnsignedBigintDecimal, UnsignedBigintLong:
		return nil
	}
	return fmt.Errorf("avro option unsigned bigint %q is not known; fix: use %q or %q", o.UnsignedBigint, UnsignedBigintDecimal, UnsignedBigintLong)
}

// Avro schema properties sluice adds to fields, for consumers that want
// the source's view of a column.
const (
	// avroPropSourceType holds sluice.Column.SourceType, e.g. "decimal(10,2)".
	avroPropSourceType = "sluice.source.type"
	// avroPropColumn holds the column's name when the field name differs.
	avroPropColumn = "sluice.column"
	// avroPropUnit names the unit of a plain long that is a duration.
	avroPropUnit = "sluice.unit"
)

// avroOp is how one column's values are written.
type avroOp uint8

const (
	avroOpInt             avroOp = iota + 1 // int from int64 or uint64
	avroOpLong                              // long from int64 or uint64 ≤ MaxInt64
	avroOpLongWrap                          // long holding a uint64's bits
	avroOpUnsignedDecimal                   // decimal(20,0) bytes from uint64
	avroOpBool                              // boolean from bool
	avroOpBit1                              // boolean from a BIT(1) []byte
	avroOpFloat                             // float from float32
	avroOpDouble                            // double from float64
	avroOpDecimal                           // decimal bytes from a decimal string
	avroOpString                            // string from string
	avroOpBytes                             // bytes from []byte
	avroOpDate                              // date (int days) or string fallback
	avroOpTime                              // long signed microseconds from a time string
	avroOpDateTime                          // local-timestamp-micros or string fallback
	avroOpTimestamp                         // timestamp-micros or string fallback
	avroOpInterval                          // sluice.Interval record from sluice.Interval
	avroOpArray                             // <field>_array record from sluice.Array
	avroOpVarDecimal                        // v2: VariableScaleDecimal record from a decimal string
	avroOpZoned                             // v2: ZonedTimestamp string from a timestamp string
	avroOpIntervalText                      // v2: ISO 8601 string from sluice.Interval
	avroOpArrayFlat                         // v2: array of nullable elements from a one-dimensional sluice.Array
)

// avroField is one step of a compiled encoding plan: which row value to
// write and how.
type avroField struct {
	col      int    // index into the row
	op       avroOp // how to write the value
	nullable bool   // union ["null", T…]: branch 0 is null
	fallback bool   // T is followed by a "string" branch for values T cannot hold
	scale    int    // decimal scale
	name     string // column name, for errors
	// zero is the field's default when it is not nullable, and the value
	// written for a NOT NULL column whose value the source did not send.
	zero json.RawMessage
	elem *avroField // the elements of an array
	// alwaysNullable makes the field a union with null even for a NOT
	// NULL column.
	alwaysNullable bool
	// replaceable (v2) marks a field whose values may have no form in its
	// type; such a value is written as null and reported as a
	// Replacement, so the field is always nullable.
	replaceable bool
	// unit is the field's sluice.unit property (v1 durations).
	unit string
}

// avroShape is everything the encoder needs for one table shape.
type avroShape struct {
	table      *sluice.Table
	key, value string // schema JSON; key is "" for a table without key columns
	keyPlan    []avroField
	rowPlan    []avroField
	keyID      uint32
	valueID    uint32
	keySubject string
	valSubject string
	// valueHint is the buffer size Value allocates: an estimate from the
	// columns, raised to the largest value rendered so far.
	valueHint atomic.Int64
}

// AvroSchemas returns the key and value schema JSON of table shape t: the
// key record of its key columns (key is "" when t has no key columns) and
// the value envelope. Both are deterministic: the same shape and options
// always give the same text. Each schema is validated by goavro. Columns
// without an Avro mapping are an error naming the column.
func AvroSchemas(t *sluice.Table, opts AvroOptions) (key, value string, err error) {
	s, err := buildAvroShape(t, opts)
	if err != nil {
		return "", "", err
	}
	return s.key, s.value, nil
}

// buildAvroShape maps t's columns, writes its schemas, compiles the plans
// and validates the schemas with goavro.
func buildAvroShape(t *sluice.Table, opts AvroOptions) (*avroShape, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("build avro schema: no table")
	}
	ns := avroNamespace(opts.TopicPrefix, t.Database, t.Name)
	if t.Topic != "" {
		// A routed table: every table of the topic shares its names.
		ns = avroTopicNamespace(t.Topic)
	}
	names := make([]string, len(t.Columns))
	for i := range t.Columns {
		names[i] = t.Columns[i].Name
	}
	fieldNames := avroFieldNames(names)

	s := &avroShape{table: t}
	hint := int64(64)
	rowDefined := map[string]bool{}
	rowFields := make([]avroFieldJSON, len(t.Columns))
	s.rowPlan = make([]avroField, len(t.Columns))
	for i := range t.Columns {
		col := &t.Columns[i]
		f, typ, err := mapAvroColumn(t, col, opts, &avroNamed{ns: ns, field: fieldNames[i], defined: rowDefined})
		if err != nil {
			return nil, fmt.Errorf("build avro schema of %s: %w", t.FullName(), err)
		}
		f.col = i
		f.nullable = col.Nullable || f.alwaysNullable || f.replaceable
		s.rowPlan[i] = f
		rowFields[i] = avroFieldSchema(fieldNames[i], col, f, typ, true)
		hint += int64(avroValueSizeHint(f.op))
	}
	if len(t.Key) > 0 {
		keyNames := make([]string, len(t.Key))
		for n, i := range t.Key {
			if i < 0 || i >= len(t.Columns) {
				return nil, fmt.Errorf("build avro schema of %s: key column %d out of range", t.FullName(), i)
			}
			keyNames[n] = t.Columns[i].Name
		}
		keyFieldNames := avroFieldNames(keyNames)
		keyFields := make([]avroFieldJSON, len(t.Key))
		s.keyPlan = make([]avroField, len(t.Key))
		keyDefined := map[string]bool{}
		for n, i := range t.Key {
			col := &t.Columns[i]
			// mapped above without error
			f, typ, _ := mapAvroColumn(t, col, opts, &avroNamed{ns: ns, field: keyFieldNames[n], defined: keyDefined})
			f.col = i
			f.nullable = col.Nullable || f.alwaysNullable || f.replaceable
			s.keyPlan[n] = f
			keyFields[n] = avroFieldSchema(keyFieldNames[n], col, f, typ, false)
		}
		keyRec := avroRecordJSON{Type: "record", Name: "Key", Namespace: ns, Fields: keyFields}
		if opts.v2() {
			keyRec.Mapping = AvroMappingV2
		}
		key, err := json.Marshal(keyRec)
		if err != nil {
			return nil, fmt.Errorf("build avro key schema of %s: %w", t.FullName(), err)
		}
		s.key = string(key)
	}
	s.valueHint.Store(hint)
	row := avroRecordJSON{Type: "record", Name: "Value", Namespace: ns, Fields: rowFields}
	env := avroRecordJSON{Type: "record", Name: "Envelope", Namespace: ns, Fields: []avroFieldJSON{
		{Name: "before", Type: []any{"null", row}, Default: jsonNull},
		{Name: "after", Type: []any{"null", ns + ".Value"}, Default: jsonNull},
		{Name: "source", Type: avroSourceRecord},
		{Name: "op", Type: "string"},
		{Name: "ts_ms", Type: "long"},
	}}
	if opts.v2() {
		src, err := avroSourceV2(opts.Connector)
		if err != nil {
			return nil, err
		}
		env.Mapping, env.ConnectName = AvroMappingV2, ns+".Envelope"
		env.Fields = []avroFieldJSON{
			env.Fields[0], env.Fields[1],
			{Name: "source", Type: src},
			{Name: "transaction", Type: []any{"null", avroTransactionV2}, Default: jsonNull},
			{Name: "op", Type: "string"},
			{Name: "ts_ms", Type: []any{"null", "long"}, Default: jsonNull},
			{Name: "ts_us", Type: []any{"null", "long"}, Default: jsonNull},
		}
	}
	value, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("build avro value schema of %s: %w", t.FullName(), err)
	}
	s.value = string(value)
	if s.key != "" {
		if _, err := goavro.NewCodec(s.key); err != nil {
			return nil, fmt.Errorf("build avro key schema of %s: the schema is not valid Avro: %w", t.FullName(), err)
		}
	}
	if _, err := goavro.NewCodec(s.value); err != nil {
		return nil, fmt.Errorf("build avro value schema of %s: the schema is not valid Avro: %w", t.FullName(), err)
	}
	return s, nil
}

var jsonNull = json.RawMessage("null")

// avroRecordJSON and avroFieldJSON marshal to Avro schema JSON with a fixed
// member order, so the same shape always gives the same text.
type avroRecordJSON struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Namespace   string          `json:"namespace,omitempty"`
	Fields      []avroFieldJSON `json:"fields"`
	ConnectName string          `json:"connect.name,omitempty"`
	Mapping     string          `json:"sluice.mapping,omitempty"`
}

type avroFieldJSON struct {
	Name       string          `json:"name"`
	Type       any             `json:"type"`
	Default    json.RawMessage `json:"default,omitempty"`
	SourceType string          `json:"sluice.source.type,omitempty"`
	Column     string          `json:"sluice.column,omitempty"`
	Unit       string          `json:"sluice.unit,omitempty"`
	Transform  string          `json:"sluice.transform,omitempty"`
}

// avroSourceRecord is the envelope's source record, shared by every table.
var avroSourceRecord = avroRecordJSON{Type: "record", Name: "Source", Namespace: "sluice", Fields: []avroFieldJSON{
	{Name: "version", Type: "string"},
	{Name: "connector", Type: "string"},
	{Name: "name", Type: "string"},
	{Name: "server_id", Type: "long"},
	{Name: "file", Type: "string"},
	{Name: "pos", Type: "long"},
	{Name: "lsn", Type: []any{"null", "long"}, Default: jsonNull},
	{Name: "gtid", Type: []any{"null", "string"}, Default: jsonNull},
	{Name: "db", Type: "string"},
	{Name: "table", Type: "string"},
	{Name: "ts_ms", Type: "long"},
	{Name: "snapshot", Type: "boolean"},
}}

// avroFieldSchema writes the field of one column. Nullable columns are
// unions with null first and default null; in the value record
// (withDefault) every other field gets the zero of its type as default so
// that adding a NOT NULL column keeps the schema BACKWARD compatible.
func avroFieldSchema(name string, col *sluice.Column, f avroField, typ any, withDefault bool) avroFieldJSON {
	fj := avroFieldJSON{Name: name, SourceType: col.SourceType, Transform: col.Transform}
	if name != col.Name {
		fj.Column = col.Name
	}
	fj.Unit = f.unit
	fj.Type = avroUnion(f, typ)
	if f.nullable {
		fj.Default = jsonNull
	} else if withDefault {
		fj.Default = f.zero
	}
	return fj
}

// avroUnion is the type of field f whose value type is typ: typ itself,
// or a union with "null" first (nullable) and "string" last (fallback).
func avroUnion(f avroField, typ any) any {
	if !f.nullable && !f.fallback {
		return typ
	}
	var branches []any
	if f.nullable {
		branches = append(branches, "null")
	}
	branches = append(branches, typ)
	if f.fallback {
		branches = append(branches, "string")
	}
	return branches
}

// mapAvroColumn maps column col of t with the options' mapping.
func mapAvroColumn(t *sluice.Table, col *sluice.Column, opts AvroOptions, named *avroNamed) (avroField, any, error) {
	if !opts.v2() {
		return avroColumn(col, opts, named)
	}
	text := opts.TextColumn != nil && opts.TextColumn(t, col)
	return avroColumnV2(col, opts, text, named)
}

// avroValueSizeHint estimates the encoded size of one value of op.
func avroValueSizeHint(op avroOp) int {
	switch op {
	case avroOpString, avroOpBytes, avroOpArray:
		return 24
	case avroOpDecimal, avroOpUnsignedDecimal:
		return 10
	}
	return 6
}

// avroNamed tracks the named types (records) of one schema: Avro defines a
// name once per schema and refers to it by name afterwards.
type avroNamed struct {
	ns      string          // the table's namespace
	field   string          // the Avro field name of the column being mapped
	defined map[string]bool // full names already defined in this schema
}

// define returns rec on the first use of its full name in the schema and
// the full name (a reference) afterwards.
func (n *avroNamed) define(rec avroRecordJSON) any {
	full := rec.Namespace + "." + rec.Name
	if n.defined[full] {
		return full
	}
	n.defined[full] = true
	return rec
}

// The defaults (zero values) of non-null fields, by type.
var (
	avroZeroNumber   = json.RawMessage("0")
	avroZeroBool     = json.RawMessage("false")
	avroZeroString   = json.RawMessage(`""`)
	avroZeroDecimal  = json.RawMessage(`"\u0000"`) // one zero byte: the unscaled value 0
	avroZeroUUID     = json.RawMessage(`"00000000-0000-0000-0000-000000000000"`)
	avroZeroInterval = json.RawMessage(`{"months":0,"days":0,"microseconds":0}`)
	avroZeroArray    = json.RawMessage(`{"elements":[],"dims":[],"lower":[]}`)
)

// avroColumn maps one column: its plan step (without col and nullable,
// with its zero default) and its Avro type (without the null and string
// union branches). Named types it needs are defined through named.
func avroColumn(col *sluice.Column, opts AvroOptions, named *avroNamed) (avroField, any, error) {
	f := avroField{name: col.Name, zero: avroZeroNumber}
	switch col.Kind {
	case sluice.KindInt:
		base := strings.TrimSuffix(col.SourceType, " unsigned")
		switch {
		case base == "tinyint" || base == "smallint" || base == "mediumint" ||
			base == "integer" || (base == "int" && !col.Unsigned):
			f.op = avroOpInt
			return f, "int", nil
		case !col.Unsigned || base == "int" || base == "oid":
			f.op = avroOpLong
			return f, "long", nil
		case opts.UnsignedBigint == UnsignedBigintLong:
			f.op = avroOpLongWrap
			return f, "long", nil
		default:
			f.op, f.zero = avroOpUnsignedDecimal, avroZeroDecimal
			return f, avroDecimalType(20, 0), nil
		}
	case sluice.KindBool:
		f.op, f.zero = avroOpBool, avroZeroBool
		return f, "boolean", nil
	case sluice.KindFloat:
		f.op = avroOpFloat
		return f, "float", nil
	case sluice.KindDouble:
		f.op = avroOpDouble
		return f, "double", nil
	case sluice.KindDecimal:
		if col.Scale < 0 {
			// PostgreSQL numeric without precision and scale: each value
			// has its own scale, which Avro's decimal cannot carry.
			f.op, f.zero = avroOpString, json.RawMessage(`"0"`)
			return f, "string", nil
		}
		if col.Precision < 1 || col.Scale > col.Precision {
			return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s): decimal precision %d and scale %d do not fit Avro's decimal; fix: give the column a precision and scale, or leave the table out", col.Kind, col.Name, col.SourceType, col.Precision, col.Scale)
		}
		f.op, f.scale, f.zero = avroOpDecimal, col.Scale, avroZeroDecimal
		if strings.HasPrefix(col.SourceType, "numeric") {
			// PostgreSQL numerics may be NaN or ±Infinity: their text goes
			// to a string branch. The union always starts with null, NOT
			// NULL columns included: goavro cannot give a union whose first
			// branch is a decimal a default, and a default is what keeps
			// an added column BACKWARD compatible.
			f.fallback, f.alwaysNullable = true, true
		}
		return f, avroDecimalType(col.Precision, col.Scale), nil
	case sluice.KindString, sluice.KindEnum, sluice.KindSet, sluice.KindJSON, sluice.KindTimeTZ:
		f.op, f.zero = avroOpString, avroZeroString
		return f, "string", nil
	case sluice.KindUUID:
		f.op, f.zero = avroOpString, avroZeroUUID
		return f, avroLogicalJSON{Type: "string", LogicalType: "uuid"}, nil
	case sluice.KindBytes, sluice.KindGeometry:
		f.op, f.zero = avroOpBytes, avroZeroString
		return f, "bytes", nil
	case sluice.KindBit:
		if col.Length == 1 {
			f.op, f.zero = avroOpBit1, avroZeroBool
			return f, "boolean", nil
		}
		f.op, f.zero = avroOpBytes, avroZeroString
		return f, "bytes", nil
	case sluice.KindYear:
		f.op = avroOpInt
		return f, "int", nil
	case sluice.KindDate:
		f.op, f.fallback = avroOpDate, true
		return f, avroLogicalJSON{Type: "int", LogicalType: "date"}, nil
	case sluice.KindTime:
		f.op, f.unit = avroOpTime, "microseconds"
		return f, "long", nil
	case sluice.KindDateTime:
		f.op, f.fallback = avroOpDateTime, true
		return f, avroLogicalJSON{Type: "long", LogicalType: "local-timestamp-micros"}, nil
	case sluice.KindTimestamp:
		f.op, f.fallback = avroOpTimestamp, true
		return f, avroLogicalJSON{Type: "long", LogicalType: "timestamp-micros"}, nil
	case sluice.KindInterval:
		f.op, f.zero = avroOpInterval, avroZeroInterval
		return f, named.define(avroRecordJSON{Type: "record", Name: "Interval", Namespace: "sluice", Fields: []avroFieldJSON{
			{Name: "months", Type: "int"},
			{Name: "days", Type: "int"},
			{Name: "microseconds", Type: "long"},
		}}), nil
	case sluice.KindArray:
		if col.Elem == nil || col.Elem.Kind == sluice.KindArray {
			return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s): no element type or an array of arrays", col.Kind, col.Name, col.SourceType)
		}
		elemCol := *col.Elem
		elem, elemTyp, err := avroColumn(&elemCol, opts, named)
		if err != nil {
			return f, nil, err
		}
		elem.nullable = true // PostgreSQL array elements may always be NULL
		f.op, f.zero, f.elem = avroOpArray, avroZeroArray, &elem
		ints := map[string]any{"type": "array", "items": "int"}
		return f, named.define(avroRecordJSON{Type: "record", Name: named.field + "_array", Namespace: named.ns, Fields: []avroFieldJSON{
			{Name: "elements", Type: map[string]any{"type": "array", "items": avroUnion(elem, elemTyp)}, SourceType: elemCol.SourceType},
			{Name: "dims", Type: ints},
			{Name: "lower", Type: ints},
		}}), nil
	}
	return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s); fix: leave the table out or exclude the column until sluice maps it", col.Kind, col.Name, col.SourceType)
}

func avroDecimalType(precision, scale int) avroLogicalJSON {
	return avroLogicalJSON{Type: "bytes", LogicalType: "decimal", Precision: precision, Scale: &scale}
}

// avroLogicalJSON is a primitive type with a logical type.
type avroLogicalJSON struct {
	Type        string `json:"type"`
	LogicalType string `json:"logicalType"`
	Precision   int    `json:"precision,omitempty"`
	Scale       *int   `json:"scale,omitempty"`
}
