package schema

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice"
)

// RecordDecoder reads the records sluice wrote back: a key as one
// canonical text, a value's after-image column by column, each column's
// value as canonical text. Two records that carry the same key, or the
// same column value, give the same text, whichever encoder run wrote them
// (the schema id of an Avro record does not count); that is what `sluice
// verify` compares. It is not safe for concurrent use.
type RecordDecoder struct {
	format string
	reg    *sr.Client
	codecs map[uint32]*goavro.Codec // by schema id; schemas are few
	buf    []byte
}

// NewRecordDecoder returns the decoder of format (avro, json,
// connect-json). Avro needs the registry the schemas were registered in.
func NewRecordDecoder(format string, reg *sr.Client) (*RecordDecoder, error) {
	switch format {
	case "json", "connect-json":
	case "avro":
		if reg == nil {
			return nil, errors.New("record decoder: avro needs a schema registry client")
		}
	default:
		return nil, fmt.Errorf("record decoder: format %q is not one of avro, json, connect-json", format)
	}
	return &RecordDecoder{format: format, reg: reg, codecs: map[uint32]*goavro.Codec{}}, nil
}

// Key returns the canonical text of a record key.
func (d *RecordDecoder) Key(ctx context.Context, b []byte) (string, error) {
	switch d.format {
	case "json":
		return string(b), nil
	case "connect-json":
		var env struct {
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return "", fmt.Errorf("decode connect-json key: %w", err)
		}
		return string(env.Payload), nil
	}
	native, err := d.avro(ctx, b)
	if err != nil {
		return "", fmt.Errorf("decode avro key: %w", err)
	}
	d.buf = appendCanonical(d.buf[:0], native)
	return string(d.buf), nil
}

// After calls fn with the name and canonical text of every column of the
// value's after-image, in no fixed order; text is valid during the call
// only. It returns the source position the record carries (source.file
// and pos, or lsn), and false, without calling fn, for a value without
// an after-image (a deletion's before-image record).
func (d *RecordDecoder) After(ctx context.Context, b []byte, fn func(name string, text []byte)) (bool, sluice.Position, error) {
	switch d.format {
	case "json", "connect-json":
		var env jsonEnvelope
		if d.format == "json" {
			if err := json.Unmarshal(b, &env); err != nil {
				return false, sluice.Position{}, fmt.Errorf("decode json value: %w", err)
			}
		} else {
			var outer struct {
				Payload jsonEnvelope `json:"payload"`
			}
			if err := json.Unmarshal(b, &outer); err != nil {
				return false, sluice.Position{}, fmt.Errorf("decode connect-json value: %w", err)
			}
			env = outer.Payload
		}
		pos := sluice.Position{File: env.Source.File, Offset: env.Source.Pos}
		if env.Source.LSN != nil {
			pos = sluice.Position{LSN: *env.Source.LSN}
		}
		if env.After == nil {
			return false, pos, nil
		}
		for name, raw := range env.After {
			fn(name, raw)
		}
		return true, pos, nil
	}
	native, err := d.avro(ctx, b)
	if err != nil {
		return false, sluice.Position{}, fmt.Errorf("decode avro value: %w", err)
	}
	env, ok := native.(map[string]any)
	if !ok {
		return false, sluice.Position{}, fmt.Errorf("decode avro value: the value is a %T, not the envelope record", native)
	}
	var pos sluice.Position
	if src, ok := unwrapUnion(env["source"]).(map[string]any); ok {
		if lsn, ok := unwrapScalar(src["lsn"]).(int64); ok {
			pos.LSN = uint64(lsn)
		} else {
			pos.File, _ = unwrapScalar(src["file"]).(string)
			if off, ok := unwrapScalar(src["pos"]).(int64); ok {
				pos.Offset = uint64(off)
			}
		}
	}
	row := unwrapUnion(env["after"])
	if row == nil {
		return false, pos, nil
	}
	fields, ok := row.(map[string]any)
	if !ok {
		return false, pos, fmt.Errorf("decode avro value: after is a %T, not a record", row)
	}
	for name, v := range fields {
		d.buf = appendCanonical(d.buf[:0], v)
		fn(name, d.buf)
	}
	return true, pos, nil
}

// jsonEnvelope is what After reads of a JSON value.
type jsonEnvelope struct {
	After  map[string]json.RawMessage `json:"after"`
	Source struct {
		File string  `json:"file"`
		Pos  uint64  `json:"pos"`
		LSN  *uint64 `json:"lsn"`
	} `json:"source"`
}

// unwrapScalar returns the value of a goavro union of a scalar
// ({"long": 5}), or v itself.
func unwrapScalar(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, inner := range m {
			return inner
		}
	}
	return v
}

// avro decodes a Confluent-framed Avro datum (magic byte 0, the schema id,
// the binary datum) with its schema from the registry.
func (d *RecordDecoder) avro(ctx context.Context, b []byte) (any, error) {
	if len(b) < 5 || b[0] != 0 {
		return nil, errors.New("not in the schema registry's wire format (magic byte 0 and a schema id)")
	}
	id := binary.BigEndian.Uint32(b[1:5])
	codec, ok := d.codecs[id]
	if !ok {
		s, err := d.reg.SchemaByID(ctx, int(id))
		if err != nil {
			return nil, fmt.Errorf("schema id %d: %w", id, err)
		}
		if codec, err = goavro.NewCodec(s.Schema); err != nil {
			return nil, fmt.Errorf("schema id %d: %w", id, err)
		}
		d.codecs[id] = codec
	}
	native, rest, err := codec.NativeFromBinary(b[5:])
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("schema id %d: %d bytes after the datum", id, len(rest))
	}
	return native, nil
}

// unwrapUnion returns the value of a goavro union ({"type": value}), or v
// itself when it is none.
func unwrapUnion(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, inner := range m {
			if _, rec := inner.(map[string]any); rec {
				return inner
			}
		}
	}
	return v
}

// appendCanonical appends a goavro native value as text: maps with their
// keys sorted, so the text depends on the value alone.
func appendCanonical(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case map[string]any:
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		dst = append(dst, '{')
		for i, k := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = fmt.Appendf(dst, "%q:", k)
			dst = appendCanonical(dst, v[k])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, e)
		}
		return append(dst, ']')
	case []byte:
		return fmt.Appendf(dst, "0x%x", v)
	case string:
		return fmt.Appendf(dst, "%q", v)
	}
	return fmt.Appendf(dst, "%v", v)
}
