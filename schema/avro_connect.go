package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// This file holds Avro mapping v2, the mapping Kafka Connect reads: every
// field is its type or ["null", type], never a union with a "string"
// branch, and each type carries the attributes Connect's AvroData turns
// into Connect schemas (connect.name, connect.type, connect.parameters),
// named as Debezium names its semantic types, so that Connect sinks
// (Debezium's JDBC sink first) create the right SQL types. Values a type
// has no form for are written as null and reported as a [sluice.Replacement]
// (the record's sluice.replaced.* headers carry their text), or the column
// is mapped as text up front (AvroOptions.TextColumn).

// The Avro mappings: v1 is the first one (unions with a "string" branch
// for values logical types cannot hold, sluice.* names); v2 is the one
// Kafka Connect reads. Empty in AvroOptions means v1.
const (
	AvroMappingV1 = "v1"
	AvroMappingV2 = "v2"
)

// avroPropMapping marks the Key and Envelope records of mapping v2, so
// that a subject's mapping can be told from its schemas.
const avroPropMapping = "sluice.mapping"

// Connect and Debezium names the v2 mapping writes.
const (
	connectName       = "connect.name"
	connectType       = "connect.type"
	connectParameters = "connect.parameters"

	connectDecimal        = "org.apache.kafka.connect.data.Decimal"
	debeziumVarDecimal    = "io.debezium.data.VariableScaleDecimal"
	debeziumJSON          = "io.debezium.data.Json"
	debeziumUUID          = "io.debezium.data.Uuid"
	debeziumEnum          = "io.debezium.data.Enum"
	debeziumEnumSet       = "io.debezium.data.EnumSet"
	debeziumMicroTime     = "io.debezium.time.MicroTime"
	debeziumMicroTS       = "io.debezium.time.MicroTimestamp"
	debeziumZonedTS       = "io.debezium.time.ZonedTimestamp"
	debeziumZonedTime     = "io.debezium.time.ZonedTime"
	debeziumInterval      = "io.debezium.time.Interval"
	debeziumYear          = "io.debezium.time.Year"
	debeziumParamType     = "__debezium.source.column.type"
	debeziumParamLength   = "__debezium.source.column.length"
	debeziumParamScale    = "__debezium.source.column.scale"
	debeziumParamAllowed  = "allowed"
	connectParamScale     = "scale"
	connectParamPrecision = "connect.decimal.precision"
)

// errAvroReplace is what appendAvroValue returns for a value its field's
// type cannot hold when the field is replaceable: the row writer writes
// null instead and records a sluice.Replacement.
var errAvroReplace = fmt.Errorf("no Avro form for the value")

// avroType is an annotated Avro type: a primitive with its logical type
// and Connect attributes. It marshals with sorted keys.
type avroType map[string]any

func connectParams(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// sourceParams are Debezium's propagated column attributes
// (column.propagate.source.type): the source type's name in upper case,
// its length and its scale, where they exist.
func sourceParams(col *sluice.Column) map[string]string {
	base := col.SourceType
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimSpace(base)
	length, scale := "", ""
	switch col.Kind {
	case sluice.KindString:
		switch base {
		case "character varying":
			base = "varchar"
		case "character":
			base = "bpchar"
		}
		if col.Length > 0 {
			length = strconv.Itoa(col.Length)
		} else if n, ok := typmodArg(col.SourceType); ok {
			length = n
		}
	case sluice.KindBytes:
		if col.Length > 0 {
			length = strconv.Itoa(col.Length)
		}
	case sluice.KindDecimal:
		if col.Scale >= 0 && col.Precision > 0 {
			length, scale = strconv.Itoa(col.Precision), strconv.Itoa(col.Scale)
		}
	case sluice.KindTime, sluice.KindDateTime, sluice.KindTimestamp, sluice.KindTimeTZ:
		if i := strings.Index(base, " with"); i >= 0 {
			base = base[:i]
		}
		scale = strconv.Itoa(col.Scale)
	}
	return connectParams(debeziumParamType, strings.ToUpper(base), debeziumParamLength, length, debeziumParamScale, scale)
}

// typmodArg returns n from a source type "name(n)".
func typmodArg(sourceType string) (string, bool) {
	i := strings.IndexByte(sourceType, '(')
	j := strings.IndexByte(sourceType, ')')
	if i < 0 || j < i+2 {
		return "", false
	}
	n := sourceType[i+1 : j]
	if _, err := strconv.Atoi(n); err != nil {
		return "", false
	}
	return n, true
}

// avroPGTypedStrings are the PostgreSQL types mapped to strings whose
// source type Debezium's JDBC sink recognises and binds from text, so the
// source type is passed on; other string-mapped types (bit varying, ranges,
// geometric types) would be bound as something else, so theirs is not.
var avroPGTypedStrings = map[string]bool{
	"inet": true, "cidr": true, "macaddr": true, "macaddr8": true, "xml": true,
}

// avroColumnV2 maps one column the v2 way: its plan step and its Avro type
// (without the null branch). Named types it needs are defined through
// named.
func avroColumnV2(col *sluice.Column, opts AvroOptions, text bool, named *avroNamed) (avroField, any, error) {
	f := avroField{name: col.Name, zero: avroZeroNumber}
	params := sourceParams(col)
	typed := func(typ string, extra ...any) avroType {
		t := avroType{"type": typ}
		for i := 0; i+1 < len(extra); i += 2 {
			t[extra[i].(string)] = extra[i+1]
		}
		if len(params) > 0 {
			t[connectParameters] = params
		}
		return t
	}
	if text {
		switch col.Kind {
		case sluice.KindDate, sluice.KindTime, sluice.KindDateTime, sluice.KindTimestamp,
			sluice.KindTimeTZ, sluice.KindDecimal, sluice.KindUUID:
		default:
			return f, nil, fmt.Errorf("column %q (%s) is named in avro.text_columns, but only date, time, datetime, timestamp and decimal columns can be written as text; fix: remove it from avro.text_columns", col.Name, col.SourceType)
		}
		params = nil // the sink must not bind the text as the source type
		f.op, f.zero = avroOpString, avroZeroString
		return f, typed("string"), nil
	}
	switch col.Kind {
	case sluice.KindInt:
		base := strings.TrimSuffix(col.SourceType, " unsigned")
		switch {
		case base == "tinyint" || (base == "smallint" && !col.Unsigned):
			f.op = avroOpInt
			return f, typed("int", connectType, "int16"), nil
		case base == "smallint" || base == "mediumint" || base == "integer" || (base == "int" && !col.Unsigned):
			f.op = avroOpInt
			return f, typed("int"), nil
		case !col.Unsigned || base == "int" || base == "oid":
			f.op = avroOpLong
			return f, typed("long"), nil
		case opts.UnsignedBigint == UnsignedBigintLong:
			f.op = avroOpLongWrap
			return f, typed("long"), nil
		default:
			f.op, f.zero, f.scale = avroOpUnsignedDecimal, avroZeroDecimal, 0
			params = mergeParams(params, connectParamScale, "0", connectParamPrecision, "20")
			return f, typed("bytes", "logicalType", "decimal", "precision", 20, "scale", 0, connectName, connectDecimal), nil
		}
	case sluice.KindBool:
		f.op, f.zero = avroOpBool, avroZeroBool
		return f, typed("boolean"), nil
	case sluice.KindFloat:
		f.op = avroOpFloat
		return f, typed("float"), nil
	case sluice.KindDouble:
		f.op = avroOpDouble
		return f, typed("double"), nil
	case sluice.KindDecimal:
		pg := strings.HasPrefix(col.SourceType, "numeric")
		if col.Scale < 0 {
			// numeric without precision: each value has its own scale.
			f.op, f.replaceable = avroOpVarDecimal, true
			rec := avroRecordJSON{Type: "record", Name: "VariableScaleDecimal", Namespace: "io.debezium.data",
				ConnectName: debeziumVarDecimal, Fields: []avroFieldJSON{
					{Name: "scale", Type: "int"},
					{Name: "value", Type: "bytes"},
				}}
			return f, named.define(rec), nil
		}
		if col.Precision < 1 || col.Scale > col.Precision {
			return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s): decimal precision %d and scale %d do not fit Avro's decimal; fix: give the column a precision and scale, or leave the table out", col.Kind, col.Name, col.SourceType, col.Precision, col.Scale)
		}
		f.op, f.scale, f.zero = avroOpDecimal, col.Scale, avroZeroDecimal
		f.replaceable = pg // NaN and ±Infinity
		params = mergeParams(params, connectParamScale, strconv.Itoa(col.Scale), connectParamPrecision, strconv.Itoa(col.Precision))
		return f, typed("bytes", "logicalType", "decimal", "precision", col.Precision, "scale", col.Scale, connectName, connectDecimal), nil
	case sluice.KindString:
		f.op, f.zero = avroOpString, avroZeroString
		if col.Charset == "" && !avroPGString(col.SourceType) {
			params = nil // a PostgreSQL type a sink would not bind from text
		}
		return f, typed("string"), nil
	case sluice.KindEnum:
		f.op, f.zero = avroOpString, avroZeroString
		params = mergeParams(params, debeziumParamAllowed, strings.Join(col.Members, ","))
		return f, typed("string", connectName, debeziumEnum), nil
	case sluice.KindSet:
		f.op, f.zero = avroOpString, avroZeroString
		params = mergeParams(params, debeziumParamAllowed, strings.Join(col.Members, ","))
		return f, typed("string", connectName, debeziumEnumSet), nil
	case sluice.KindJSON:
		f.op, f.zero = avroOpString, json.RawMessage(`"null"`)
		return f, typed("string", connectName, debeziumJSON), nil
	case sluice.KindTimeTZ:
		f.op, f.zero = avroOpString, json.RawMessage(`"00:00:00Z"`)
		return f, typed("string", connectName, debeziumZonedTime), nil
	case sluice.KindUUID:
		f.op, f.zero = avroOpString, avroZeroUUID
		return f, typed("string", "logicalType", "uuid", connectName, debeziumUUID), nil
	case sluice.KindBytes, sluice.KindGeometry:
		f.op, f.zero = avroOpBytes, avroZeroString
		return f, typed("bytes"), nil
	case sluice.KindBit:
		params = nil // Debezium's sink binds a BIT source type as a signed number
		if col.Length == 1 {
			f.op, f.zero = avroOpBit1, avroZeroBool
			return f, typed("boolean"), nil
		}
		f.op, f.zero = avroOpBytes, avroZeroString
		return f, typed("bytes"), nil
	case sluice.KindYear:
		f.op = avroOpInt
		return f, typed("int", connectName, debeziumYear), nil
	case sluice.KindDate:
		f.op, f.replaceable = avroOpDate, true
		params = nil // a Connect Date names its type already
		return f, typed("int", "logicalType", "date"), nil
	case sluice.KindTime:
		f.op = avroOpTime
		return f, typed("long", connectName, debeziumMicroTime), nil
	case sluice.KindDateTime:
		f.op, f.replaceable = avroOpDateTime, true
		return f, typed("long", "logicalType", "local-timestamp-micros", connectName, debeziumMicroTS), nil
	case sluice.KindTimestamp:
		f.op, f.replaceable = avroOpZoned, true
		return f, typed("string", connectName, debeziumZonedTS), nil
	case sluice.KindInterval:
		f.op, f.zero = avroOpIntervalText, json.RawMessage(`"PT0S"`)
		return f, typed("string", connectName, debeziumInterval), nil
	case sluice.KindArray:
		if col.Elem == nil || col.Elem.Kind == sluice.KindArray {
			return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s): no element type or an array of arrays", col.Kind, col.Name, col.SourceType)
		}
		elemCol := *col.Elem
		elem, elemTyp, err := avroColumnV2(&elemCol, opts, false, named)
		if err != nil {
			return f, nil, err
		}
		elem.nullable = true // PostgreSQL array elements may always be NULL
		f.op, f.zero, f.elem, f.replaceable = avroOpArrayFlat, json.RawMessage("[]"), &elem, true
		return f, avroType{"type": "array", "items": avroUnion(elem, elemTyp)}, nil
	}
	return f, nil, fmt.Errorf("no Avro mapping for %s column %q (%s); fix: leave the table out or exclude the column until sluice maps it", col.Kind, col.Name, col.SourceType)
}

// avroPGString reports whether a PostgreSQL string-mapped source type's
// name is passed on to sinks.
func avroPGString(sourceType string) bool {
	if i := strings.IndexByte(sourceType, '('); i >= 0 {
		sourceType = sourceType[:i]
	}
	switch sourceType {
	case "character varying", "character", "bpchar", "text":
		return true
	}
	return avroPGTypedStrings[sourceType]
}

func mergeParams(m map[string]string, kv ...string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// avroSourceV2 returns the envelope's source record of mapping v2 for a
// connector, with Debezium's field names and record name.
func avroSourceV2(connector string) (avroRecordJSON, error) {
	snapshot := avroType{"type": "string", connectName: debeziumEnum,
		connectParameters: map[string]string{debeziumParamAllowed: "true,false"}}
	common := []avroFieldJSON{
		{Name: "version", Type: "string"},
		{Name: "connector", Type: "string"},
		{Name: "name", Type: "string"},
		{Name: "ts_ms", Type: "long"},
		{Name: "ts_us", Type: "long"},
		{Name: "snapshot", Type: snapshot, Default: json.RawMessage(`"false"`)},
		{Name: "db", Type: "string"},
	}
	nullable := func(name, typ string) avroFieldJSON {
		return avroFieldJSON{Name: name, Type: []any{"null", typ}, Default: jsonNull}
	}
	switch connector {
	case "mysql":
		return avroRecordJSON{Type: "record", Name: "Source", Namespace: "io.debezium.connector.mysql",
			Fields: append(common,
				nullable("table", "string"),
				avroFieldJSON{Name: "server_id", Type: "long"},
				nullable("gtid", "string"),
				avroFieldJSON{Name: "file", Type: "string"},
				avroFieldJSON{Name: "pos", Type: "long"},
				avroFieldJSON{Name: "row", Type: "int"},
				nullable("thread", "long"),
				nullable("query", "string"),
			)}, nil
	case "postgresql":
		return avroRecordJSON{Type: "record", Name: "Source", Namespace: "io.debezium.connector.postgresql",
			Fields: append(common,
				avroFieldJSON{Name: "schema", Type: "string"},
				avroFieldJSON{Name: "table", Type: "string"},
				nullable("txId", "long"),
				nullable("lsn", "long"),
				nullable("xmin", "long"),
			)}, nil
	}
	return avroRecordJSON{}, fmt.Errorf("avro mapping v2 needs the source's connector (mysql or postgresql), got %q", connector)
}

// avroTransactionV2 is the envelope's transaction block (Debezium's
// event.block), null unless transaction metadata is on.
var avroTransactionV2 = avroRecordJSON{Type: "record", Name: "block", Namespace: "event", Fields: []avroFieldJSON{
	{Name: "id", Type: "string"},
	{Name: "total_order", Type: "long"},
	{Name: "data_collection_order", Type: "long"},
}}

// validZoned reports whether timestamp text s (canonical, "…Z") names a
// calendar day, though perhaps one beyond a long of microseconds.
func validZoned(s string) bool {
	t := strings.IndexByte(s, 'T')
	if t < 0 {
		return false
	}
	_, res := parseAvroTemporal(s[:t], avroOpDate)
	return res == avroTemporalOK
}

// checkZoned returns nil when canonical timestamp text s has a
// ZonedTimestamp form, errAvroReplace when it names no instant (a zero or
// invalid date, an infinity), and an error for text not in canonical form.
func checkZoned(s string) error {
	if s == "infinity" || s == "-infinity" {
		// Debezium's sink binds these only in some batches: like every
		// other value without a timestamp, null and a header.
		return errAvroReplace
	}
	if plainZoned(s) {
		return nil
	}
	_, res := parseAvroTemporal(s, avroOpTimestamp)
	switch res {
	case avroTemporalBad:
		return fmt.Errorf("value %q is not in the canonical form of its kind", s)
	case avroTemporalFallback:
		if !validZoned(s) {
			return errAvroReplace
		}
	}
	return nil
}

// zonedNeedsPlus reports whether the ZonedTimestamp text of canonical
// timestamp s gets ISO 8601's "+" before a year of more than four digits.
func zonedNeedsPlus(s string) bool {
	return len(s) > 0 && s[0] != '-' && strings.IndexByte(s, '-') > 4
}

// decimalTextScale is the scale of a decimal's canonical text: the digits
// after its point.
func decimalTextScale(s string) int {
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		return len(s) - dot - 1
	}
	return 0
}

// appendZoned appends the ZonedTimestamp text of canonical timestamp s:
// s itself, with ISO 8601's "+" before a year of more than four digits.
func appendZoned(dst []byte, s string) []byte {
	if zonedNeedsPlus(s) {
		dst = appendAvroLong(dst, int64(len(s)+1))
		dst = append(dst, '+')
		return append(dst, s...)
	}
	return appendAvroString(dst, s)
}

// plainZoned reports whether canonical timestamp text s is the common
// case, a real day of a four-digit year ("2024-01-02T03:04:05[.fff]Z"),
// which the ZonedTimestamp text is as it is: a check without the full
// parse. Other texts take parseAvroTemporal.
func plainZoned(s string) bool {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return false
	}
	y, ok1 := atoiFixed(s, 0, 4)
	m, ok2 := atoiFixed(s, 5, 2)
	d, ok3 := atoiFixed(s, 8, 2)
	h, ok4 := atoiFixed(s, 11, 2)
	mi, ok5 := atoiFixed(s, 14, 2)
	sec, ok6 := atoiFixed(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) || h > 23 || mi > 59 || sec > 59 {
		return false
	}
	rest := s[19 : len(s)-1]
	if rest == "" {
		return true
	}
	if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}
