package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// record is one Kafka record sluice wrote, decoded far enough to print it and
// to tell which change it belongs to.
type record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Tombstone bool            // null value: the row's key is gone
	Op        string          // r, c, u or d; empty for a tombstone or an undecodable value
	Before    json.RawMessage // nil when the envelope's before is null
	After     json.RawMessage // nil when the envelope's after is null
	Raw       []byte          // the value, when it is not an envelope
	Headers   []kgo.RecordHeader
	Problem   string // why the key or value could not be decoded, if so
}

// envelope is the part of a record value (docs/records.md) the quickstart
// shows.
type envelope struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Op     string          `json:"op"`
}

// decodeKafkaRecord decodes a record sluice wrote: key and value in Avro
// (Confluent's wire format, writer schema fetched by id through dec) or in
// JSON. A value or key that cannot be decoded is kept as it is, with the
// reason in Problem. It blocks for the registry when a schema id is new.
func decodeKafkaRecord(ctx context.Context, dec *avroDecoder, kr *kgo.Record) record {
	key, value := kr.Key, kr.Value
	var problems []string
	if isAvro(key) {
		if k, err := dec.toJSON(ctx, key); err == nil {
			key = k
		} else {
			problems = append(problems, "key not decodable: "+err.Error())
		}
	}
	if isAvro(value) {
		if v, err := dec.toJSON(ctx, value); err == nil {
			value = v
		} else {
			problems = append(problems, "value not decodable: "+err.Error())
			value = []byte{}
		}
	}
	r := decodeRecord(kr.Topic, kr.Partition, kr.Offset, key, value)
	r.Headers = kr.Headers
	r.Problem = strings.Join(problems, "; ")
	return r
}

// decodeRecord decodes a record's value. A value that is not an envelope
// is kept as it is in Raw, so it still prints.
func decodeRecord(topic string, partition int32, offset int64, key, value []byte) record {
	r := record{Topic: topic, Partition: partition, Offset: offset, Key: key}
	if value == nil {
		r.Tombstone = true
		return r
	}
	var env envelope
	if err := json.Unmarshal(value, &env); err != nil || env.Op == "" {
		r.Raw = value
		return r
	}
	r.Op = env.Op
	r.Before = nonNull(env.Before)
	r.After = nonNull(env.After)
	return r
}

func nonNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// opNames says in words what each op means.
var opNames = map[string]string{
	"r": "read by the snapshot",
	"c": "insert",
	"u": "update",
	"d": "delete",
}

// format renders r as a header line (topic, partition and offset, key, op)
// followed by one indented line per row image, each row as compact JSON.
func (r record) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [partition %d, offset %d] key %s  ", r.Topic, r.Partition, r.Offset, compact(r.Key))
	switch {
	case r.Tombstone:
		b.WriteString("TOMBSTONE (null value)")
	case r.Op == "" && r.Problem != "":
		b.WriteString(r.Problem)
	case r.Op == "":
		fmt.Fprintf(&b, "value %s", compact(r.Raw))
	default:
		fmt.Fprintf(&b, "op %s", r.Op)
		if name, ok := opNames[r.Op]; ok {
			fmt.Fprintf(&b, " (%s)", name)
		}
	}
	if r.Before != nil {
		fmt.Fprintf(&b, "\n    before %s", compact(r.Before))
	}
	if r.After != nil {
		fmt.Fprintf(&b, "\n    after  %s", compact(r.After))
	}
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "\n    header %s: %s", h.Key, h.Value)
	}
	if r.Problem != "" && r.Op != "" {
		fmt.Fprintf(&b, "\n    %s", r.Problem)
	}
	return b.String()
}

// compact returns JSON without insignificant whitespace, with its numbers
// as written (no float rounding); anything else is quoted. A nil key is
// "null", as a table without key columns gets.
func compact(data []byte) string {
	if data == nil {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return fmt.Sprintf("%q", data)
	}
	return b.String()
}

// keyID returns the value of the "id" member of a JSON key as text
// (numbers exactly as written), or "" when the key has none.
func keyID(key []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(key, &m); err != nil {
		return ""
	}
	raw, ok := m["id"]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}
