package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice"
)

// ConnectJSONEncoder renders record keys and values as Kafka Connect's
// JsonConverter writes them with schemas.enable=true: one JSON object
// {"schema": …, "payload": …} per key and per value, the schema in
// Connect's JSON schema form. The schemas are those of Avro mapping v2
// (the same types, names and parameters, see [AvroOptions]), so a table
// lands in a Connect sink the same whichever of the two formats carries
// it. Values mapping v2 has no form for are written as null and reported
// (see [ConnectJSONEncoder.ValueReplacing]); so are NaN and infinities of
// PostgreSQL's real and double precision, which JSON numbers cannot hold.
//
// It needs no schema registry and is safe for concurrent use.
type ConnectJSONEncoder struct {
	opts AvroOptions
	// numeric writes decimals as JSON numbers (decimal.format=NUMERIC)
	// instead of base64 bytes (BASE64, Connect's default).
	numeric bool

	shapes     sync.Map // *sluice.Table → *connectShape
	shapeCount atomic.Int64
}

// connectShape is a table shape compiled for Connect JSON.
type connectShape struct {
	table     *sluice.Table
	keyPlan   []avroField
	rowPlan   []avroField
	keyNames  []string // JSON field names of the key record
	rowNames  []string // JSON field names of the row record
	keyPrefix []byte   // {"schema":<key schema>,"payload":
	valPrefix []byte   // {"schema":<value schema>,"payload":
}

// NewConnectJSONEncoder returns an encoder with the types of Avro mapping
// v2 (opts.Mapping is ignored; opts.Connector is required) that writes
// decimals as base64 bytes, or as JSON numbers when numericDecimals is
// set.
func NewConnectJSONEncoder(opts AvroOptions, numericDecimals bool) (*ConnectJSONEncoder, error) {
	opts.Mapping = AvroMappingV2
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("new connect-json encoder: %w", err)
	}
	return &ConnectJSONEncoder{opts: opts, numeric: numericDecimals}, nil
}

func (e *ConnectJSONEncoder) shape(t *sluice.Table) (*connectShape, error) {
	if s, ok := e.shapes.Load(t); ok {
		return s.(*connectShape), nil
	}
	as, err := buildAvroShape(t, e.opts)
	if err != nil {
		return nil, err
	}
	s := &connectShape{table: t, keyPlan: as.keyPlan, rowPlan: as.rowPlan}
	if e.opts.Connector == "postgresql" {
		// JSON numbers hold no NaN or infinity.
		s.rowPlan = connectFloatsReplaceable(s.rowPlan)
		s.keyPlan = connectFloatsReplaceable(s.keyPlan)
	}
	conv := connectConverter{named: map[string]any{}}
	if as.key != "" {
		ks, names, err := conv.record(as.key)
		if err != nil {
			return nil, fmt.Errorf("connect schema of %s key: %w", t.FullName(), err)
		}
		s.keyNames = names
		s.keyPrefix = connectPrefix(ks)
	}
	vs, _, err := conv.record(as.value)
	if err != nil {
		return nil, fmt.Errorf("connect schema of %s value: %w", t.FullName(), err)
	}
	s.rowNames = conv.rowNames
	s.valPrefix = connectPrefix(vs)
	if e.shapeCount.Add(1) > avroShapeCacheLimit {
		e.shapes.Clear()
		e.shapeCount.Store(1)
	}
	e.shapes.Store(t, s)
	return s, nil
}

func connectFloatsReplaceable(plan []avroField) []avroField {
	out := make([]avroField, len(plan))
	copy(out, plan)
	for i := range out {
		if out[i].op == avroOpFloat || out[i].op == avroOpDouble {
			out[i].replaceable = out[i].nullable
		}
	}
	return out
}

func connectPrefix(schema any) []byte {
	b, _ := json.Marshal(schema) // maps of strings, bools and slices always marshal
	out := make([]byte, 0, len(b)+24)
	out = append(out, `{"schema":`...)
	out = append(out, b...)
	return append(out, `,"payload":`...)
}

// Key renders the record key of row: the key columns as a Connect struct
// with its schema, or nil (a null key) when t has no key columns.
func (e *ConnectJSONEncoder) Key(t *sluice.Table, row sluice.Row) ([]byte, error) {
	if len(t.Key) == 0 {
		return nil, nil
	}
	s, err := e.shape(t)
	if err != nil {
		return nil, err
	}
	if len(row) != len(t.Columns) {
		return nil, fmt.Errorf("render key of %s as connect-json: row has %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst := append(make([]byte, 0, len(s.keyPrefix)+16*len(s.keyPlan)+2), s.keyPrefix...)
	if dst, err = e.appendRow(dst, s.keyPlan, s.keyNames, row, nil, false); err != nil {
		return nil, fmt.Errorf("render key of %s as connect-json: %w", t.FullName(), err)
	}
	return append(dst, '}'), nil
}

// Value renders ev as a Connect struct of the envelope with its schema.
func (e *ConnectJSONEncoder) Value(ev *sluice.Event) ([]byte, error) {
	b, _, err := e.ValueReplacing(ev, nil)
	return b, err
}

// ValueReplacing is [ConnectJSONEncoder.Value] that also appends to
// replaced the values written as null because their type has no form for
// them, with their canonical text.
func (e *ConnectJSONEncoder) ValueReplacing(ev *sluice.Event, replaced []sluice.Replacement) ([]byte, []sluice.Replacement, error) {
	t := ev.Table
	if t == nil {
		return nil, replaced, fmt.Errorf("render event as connect-json: event has no table")
	}
	s, err := e.shape(t)
	if err != nil {
		return nil, replaced, err
	}
	switch ev.Op {
	case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate, sluice.OpDelete, sluice.OpTruncate:
	default:
		return nil, replaced, fmt.Errorf("render event on %s as connect-json: unknown op %q", t.FullName(), byte(ev.Op))
	}
	before, after := ev.Before, ev.After
	if ev.Op == sluice.OpTruncate {
		before, after = nil, nil
	}
	n := len(replaced)
	dst := append(make([]byte, 0, len(s.valPrefix)+256+48*len(t.Columns)), s.valPrefix...)
	dst = append(dst, `{"before":`...)
	if dst, err = e.appendImage(dst, s, before, &replaced, false); err != nil {
		return nil, replaced[:n], err
	}
	dst = append(dst, `,"after":`...)
	if dst, err = e.appendImage(dst, s, after, &replaced, true); err != nil {
		return nil, replaced[:n], err
	}
	now := time.Now
	if e.opts.Now != nil {
		now = e.opts.Now
	}
	dst = e.appendEnvelope(dst, ev, now())
	for i := n; i < len(replaced); i++ {
		r := &replaced[i]
		row := ev.Before
		if r.After {
			row = ev.After
		}
		r.Text = replacementText(&t.Columns[r.Column], row[r.Column])
	}
	return append(dst, "}}"...), replaced, nil
}

func (e *ConnectJSONEncoder) appendImage(dst []byte, s *connectShape, row sluice.Row, replaced *[]sluice.Replacement, after bool) ([]byte, error) {
	if row == nil {
		return append(dst, "null"...), nil
	}
	t := s.table
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("render row of %s as connect-json: %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst, err := e.appendRow(dst, s.rowPlan, s.rowNames, row, replaced, after)
	if err != nil {
		return dst, fmt.Errorf("render row of %s as connect-json: %w", t.FullName(), err)
	}
	return dst, nil
}

// appendRow appends the fields of row that plan names as a JSON object
// with the given field names. Values the source did not send are null in
// a nullable field and the field's default otherwise.
func (e *ConnectJSONEncoder) appendRow(dst []byte, plan []avroField, names []string, row sluice.Row, replaced *[]sluice.Replacement, after bool) ([]byte, error) {
	dst = append(dst, '{')
	for i := range plan {
		f := &plan[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, names[i])
		dst = append(dst, ':')
		v := row[f.col]
		if v == nil {
			if f.nullable {
				dst = append(dst, "null"...)
				continue
			}
			dst = e.appendZero(dst, f) // not sent by the source: the default
			continue
		}
		mark := len(dst)
		var err error
		if dst, err = e.appendValue(dst, f, v); err != nil {
			if err == errAvroReplace && f.nullable {
				dst = append(dst[:mark], "null"...)
				if replaced != nil {
					*replaced = append(*replaced, sluice.Replacement{After: after, Column: f.col})
				}
				continue
			}
			return dst, fmt.Errorf("column %q: %w", f.name, err)
		}
	}
	return append(dst, '}'), nil
}

// appendZero appends the default of a non-null field.
func (e *ConnectJSONEncoder) appendZero(dst []byte, f *avroField) []byte {
	switch f.op {
	case avroOpDecimal, avroOpUnsignedDecimal:
		if e.numeric {
			return append(dst, '0')
		}
		return append(dst, `"AA=="`...)
	case avroOpBytes:
		return append(dst, `""`...)
	}
	return append(dst, f.zero...)
}

// appendValue appends one non-nil value as Connect's JsonConverter writes
// the value of the field's Connect type.
func (e *ConnectJSONEncoder) appendValue(dst []byte, f *avroField, v any) ([]byte, error) {
	switch f.op {
	case avroOpInt, avroOpLong:
		n, err := avroInt64(v)
		if err != nil {
			return dst, err
		}
		if f.op == avroOpInt && (n < math.MinInt32 || n > math.MaxInt32) {
			return dst, fmt.Errorf("value %d does not fit an int32", n)
		}
		return strconv.AppendInt(dst, n, 10), nil
	case avroOpLongWrap, avroOpUnsignedDecimal:
		u, err := avroUint64(v)
		if err != nil {
			return dst, err
		}
		if f.op == avroOpLongWrap {
			return strconv.AppendInt(dst, int64(u), 10), nil
		}
		if e.numeric {
			return strconv.AppendUint(dst, u, 10), nil
		}
		return appendConnectBytes(dst, avroPayload(appendAvroUnsignedDecimal(nil, u))), nil
	case avroOpBool:
		b, ok := v.(bool)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want bool", v)
		}
		return strconv.AppendBool(dst, b), nil
	case avroOpBit1:
		b, ok := v.([]byte)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want []byte", v)
		}
		return strconv.AppendBool(dst, len(b) > 0 && b[len(b)-1]&1 != 0), nil
	case avroOpFloat, avroOpDouble:
		var x float64
		bits := 64
		switch y := v.(type) {
		case float32:
			x, bits = float64(y), 32
		case float64:
			x = y
		default:
			return dst, fmt.Errorf("value of type %T, want a float", v)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if f.replaceable {
				return dst, errAvroReplace
			}
			return dst, fmt.Errorf("value %v has no JSON number", x)
		}
		return appendFloat(dst, x, bits), nil
	case avroOpDecimal:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a decimal string", v)
		}
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			return dst, errAvroReplace
		}
		if e.numeric {
			if _, err := appendAvroDecimal(nil, s, f.scale); err != nil {
				return dst, err
			}
			return append(dst, s...), nil
		}
		b, err := appendAvroDecimal(nil, s, f.scale)
		if err != nil {
			return dst, err
		}
		return appendConnectBytes(dst, avroPayload(b)), nil
	case avroOpVarDecimal:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a decimal string", v)
		}
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			return dst, errAvroReplace
		}
		scale := decimalTextScale(s)
		b, err := appendAvroDecimal(nil, s, scale)
		if err != nil {
			return dst, err
		}
		dst = append(dst, `{"scale":`...)
		dst = strconv.AppendInt(dst, int64(scale), 10)
		dst = append(dst, `,"value":`...)
		dst = appendConnectBytes(dst, avroPayload(b))
		return append(dst, '}'), nil
	case avroOpString:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want string", v)
		}
		return appendString(dst, s), nil
	case avroOpBytes:
		b, ok := v.([]byte)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want []byte", v)
		}
		return appendConnectBytes(dst, b), nil
	case avroOpTime:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a time string", v)
		}
		us, ok := parseAvroTime(s)
		if !ok {
			return dst, fmt.Errorf("time value %q is not [-]HH:MM:SS[.ffffff]", s)
		}
		return strconv.AppendInt(dst, us, 10), nil
	case avroOpDate, avroOpDateTime:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a date or time string", v)
		}
		n, res := parseAvroTemporal(s, f.op)
		switch res {
		case avroTemporalBad:
			return dst, fmt.Errorf("value %q is not in the canonical form of its kind", s)
		case avroTemporalFallback:
			return dst, errAvroReplace
		}
		return strconv.AppendInt(dst, n, 10), nil
	case avroOpZoned:
		s, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want a timestamp string", v)
		}
		if err := checkZoned(s); err != nil {
			return dst, err
		}
		dst = append(dst, '"')
		if zonedNeedsPlus(s) {
			dst = append(dst, '+')
		}
		return append(append(dst, s...), '"'), nil // canonical timestamps need no escapes
	case avroOpIntervalText:
		iv, ok := v.(sluice.Interval)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Interval", v)
		}
		var buf [64]byte
		return appendString(dst, string(appendInterval(buf[:0], iv))), nil
	case avroOpArrayFlat:
		a, ok := v.(sluice.Array)
		if !ok {
			return dst, fmt.Errorf("value of type %T, want sluice.Array", v)
		}
		if len(a.Dims) > 1 || (len(a.Lower) > 0 && a.Lower[0] != 1) {
			return dst, errAvroReplace
		}
		dst = append(dst, '[')
		for i, el := range a.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if el == nil {
				dst = append(dst, "null"...)
				continue
			}
			var err error
			if dst, err = e.appendValue(dst, f.elem, el); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return dst, fmt.Errorf("no connect-json encoding for plan step %d", f.op)
}

// avroPayload strips the zig-zag length in front of Avro bytes or a string.
func avroPayload(b []byte) []byte {
	i := 0
	for i < len(b) && b[i]&0x80 != 0 {
		i++
	}
	if i < len(b) {
		i++
	}
	return b[i:]
}

func appendConnectBytes(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendEnvelope appends the envelope's members after the images, as
// appendEnvelopeV2 writes them in Avro.
func (e *ConnectJSONEncoder) appendEnvelope(dst []byte, ev *sluice.Event, now time.Time) []byte {
	t, src := ev.Table, &ev.Source
	var commitUS int64
	if !src.CommitTime.IsZero() {
		commitUS = src.CommitTime.UnixMicro()
	}
	dst = append(dst, `,"source":{"version":`...)
	dst = appendString(dst, e.opts.Version)
	dst = append(dst, `,"connector":`...)
	dst = appendString(dst, src.Connector)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, src.Name)
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, floorDiv(commitUS, 1000), 10)
	dst = append(dst, `,"ts_us":`...)
	dst = strconv.AppendInt(dst, commitUS, 10)
	dst = append(dst, `,"snapshot":`...)
	dst = appendString(dst, strconv.FormatBool(src.Snapshot))
	dst = append(dst, `,"db":`...)
	if e.opts.Connector == "postgresql" {
		dst = appendString(dst, e.opts.Database)
		dst = append(dst, `,"schema":`...)
		dst = appendString(dst, t.Database)
		dst = append(dst, `,"table":`...)
		dst = appendString(dst, t.Name)
		dst = append(dst, `,"txId":`...)
		if src.TxID == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendUint(dst, uint64(src.TxID), 10)
		}
		dst = append(dst, `,"lsn":`...)
		dst = strconv.AppendUint(dst, src.Position.LSN, 10)
		dst = append(dst, `,"xmin":null}`...)
	} else {
		dst = appendString(dst, t.Database)
		dst = append(dst, `,"table":`...)
		dst = appendString(dst, t.Name)
		dst = append(dst, `,"server_id":`...)
		dst = strconv.AppendUint(dst, uint64(src.ServerID), 10)
		dst = append(dst, `,"gtid":`...)
		if src.GTID == "" {
			dst = append(dst, "null"...)
		} else {
			dst = appendString(dst, src.GTID)
		}
		dst = append(dst, `,"file":`...)
		dst = appendString(dst, src.Position.File)
		dst = append(dst, `,"pos":`...)
		dst = strconv.AppendUint(dst, src.Position.Offset, 10)
		dst = append(dst, `,"row":`...)
		dst = strconv.AppendInt(dst, int64(src.Row), 10)
		dst = append(dst, `,"thread":null,"query":null}`...)
	}
	if tx := ev.Transaction; tx == nil {
		dst = append(dst, `,"transaction":null`...)
	} else {
		dst = appendTransactionJSON(append(dst, `,"transaction":`...), tx)
	}
	dst = append(dst, `,"op":"`...)
	dst = append(dst, byte(ev.Op))
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	dst = append(dst, `,"ts_us":`...)
	return strconv.AppendInt(dst, now.UnixMicro(), 10)
}

// connectConverter turns mapping v2's Avro schema JSON into Connect's JSON
// schema form, as Connect's AvroData reads the same schema: records become
// structs (named after the record, or its connect.name), ["null", T]
// optional T, int with connect.type int16 an int16, logical date Connect's
// Date, bytes with logical decimal Connect's Decimal, connect.name and
// connect.parameters the name and parameters.
type connectConverter struct {
	named    map[string]any // full name of a record → its Connect schema
	rowNames []string       // field names of the <ns>.Value record, once met
}

// record converts the top-level record of schema text and returns its
// Connect schema and field names.
func (c *connectConverter) record(text string) (map[string]any, []string, error) {
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, nil, err
	}
	s, err := c.convert(v, "")
	if err != nil {
		return nil, nil, err
	}
	m := s.(map[string]any)
	var names []string
	for _, f := range v["fields"].([]any) {
		names = append(names, f.(map[string]any)["name"].(string))
	}
	return m, names, nil
}

// convert returns the Connect schema of Avro type t; ns is the enclosing
// namespace for names without one.
func (c *connectConverter) convert(t any, ns string) (any, error) {
	switch x := t.(type) {
	case string:
		switch x {
		case "int":
			return map[string]any{"type": "int32", "optional": false}, nil
		case "long":
			return map[string]any{"type": "int64", "optional": false}, nil
		case "float":
			return map[string]any{"type": "float", "optional": false}, nil
		case "double":
			return map[string]any{"type": "double", "optional": false}, nil
		case "boolean", "string", "bytes":
			return map[string]any{"type": x, "optional": false}, nil
		}
		full := x
		if !strings.Contains(x, ".") && ns != "" {
			full = ns + "." + x
		}
		if s, ok := c.named[full]; ok {
			return copyConnect(s), nil
		}
		return nil, fmt.Errorf("Avro type %q has no Connect form", x)
	case []any:
		if len(x) != 2 || x[0] != "null" {
			return nil, fmt.Errorf("union %v is not [\"null\", T]", x)
		}
		s, err := c.convert(x[1], ns)
		if err != nil {
			return nil, err
		}
		m := s.(map[string]any)
		m["optional"] = true
		return m, nil
	case map[string]any:
		typ, _ := x["type"].(string)
		var out map[string]any
		switch typ {
		case "record":
			name, _ := x["name"].(string)
			rns, _ := x["namespace"].(string)
			if rns == "" {
				rns = ns
			}
			full := name
			if rns != "" {
				full = rns + "." + name
			}
			var fields []any
			var names []string
			for _, f := range x["fields"].([]any) {
				fm := f.(map[string]any)
				fs, err := c.convert(fm["type"], rns)
				if err != nil {
					return nil, fmt.Errorf("field %v: %w", fm["name"], err)
				}
				m := fs.(map[string]any)
				m["field"] = fm["name"]
				fields = append(fields, m)
				names = append(names, fm["name"].(string))
			}
			out = map[string]any{"type": "struct", "fields": fields, "optional": false, "name": full}
			if cn, ok := x[connectName].(string); ok {
				out["name"] = cn
			}
			if name == "Value" {
				c.rowNames = names
			}
			c.named[full] = out
			return copyConnect(out), nil
		case "array":
			items, err := c.convert(x["items"], ns)
			if err != nil {
				return nil, err
			}
			out = map[string]any{"type": "array", "items": items, "optional": false}
		default:
			base, err := c.convert(typ, ns)
			if err != nil {
				return nil, err
			}
			out = base.(map[string]any)
			params := map[string]any{}
			if p, ok := x[connectParameters].(map[string]any); ok {
				for k, v := range p {
					params[k] = v
				}
			}
			switch lt, _ := x["logicalType"].(string); {
			case lt == "date" && typ == "int":
				out["name"], out["version"] = "org.apache.kafka.connect.data.Date", 1
			case lt == "decimal" && typ == "bytes":
				out["name"], out["version"] = connectDecimal, 1
				params[connectParamScale] = strconv.Itoa(int(x["scale"].(float64)))
				params[connectParamPrecision] = strconv.Itoa(int(x["precision"].(float64)))
			}
			if ct, ok := x[connectType].(string); ok && typ == "int" {
				out["type"] = ct
			}
			if cn, ok := x[connectName].(string); ok {
				out["name"] = cn
			}
			if len(params) > 0 {
				out["parameters"] = params
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("Avro type %v has no Connect form", t)
}

// copyConnect copies the top level of a Connect schema, so that a named
// schema used twice can be optional in one place and not in another.
func copyConnect(s any) map[string]any {
	m := s.(map[string]any)
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
