package tombstone

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/keys"
)

// Encoder renders record keys and values in one wire format (JSON, Avro).
// Key must return bytes that depend only on the table's key columns and
// their values. Both may block (a schema registry call) and honour ctx.
type Encoder interface {
	Key(ctx context.Context, t *sluice.Table, row sluice.Row) ([]byte, error)
	Value(ctx context.Context, ev *sluice.Event) ([]byte, error)
}

// ReplacingEncoder is an Encoder that may write a value its schema's type
// has no form for as null (schema.AvroEncoder with mapping v2); it
// reports each such value, and the Builder names them in the record's
// HeaderReplacedBefore and HeaderReplacedAfter headers.
type ReplacingEncoder interface {
	ValueReplacing(ctx context.Context, ev *sluice.Event, replaced []sluice.Replacement) ([]byte, []sluice.Replacement, error)
}

// TransactionEncoder renders the records of the transaction topic
// (transaction metadata): the key {"id"} and a boundary's value.
type TransactionEncoder interface {
	TransactionKey(ctx context.Context, topic, id string) ([]byte, error)
	TransactionValue(ctx context.Context, topic string, b *sluice.TransactionBoundary) ([]byte, error)
}

// Builder builds the records of events. It is not safe for concurrent use.
type Builder struct {
	prefix string
	enc    Encoder
	renc   ReplacingEncoder // enc, when it replaces values; else nil
	// replaced is reused for each record's replacements.
	replaced []sluice.Replacement
	topics   map[*sluice.Table]string
	// unavailable holds the last header value built for the before- and
	// the after-image: a table's updates usually miss the same columns.
	unavailable [2]headerValue
}

// headerValue is the JSON list of the names of columns cols of table t.
type headerValue struct {
	t     *sluice.Table
	cols  []int
	value []byte
}

// NewBuilder returns a Builder naming topics <prefix>.<database>.<table>.
func NewBuilder(prefix string, enc Encoder) *Builder {
	renc, _ := enc.(ReplacingEncoder)
	return &Builder{prefix: prefix, enc: enc, renc: renc, topics: map[*sluice.Table]string{}}
}

// Topic returns the topic of t's records: t.Topic when the table is
// routed, else <prefix>.<database>.<table>.
func (b *Builder) Topic(t *sluice.Table) string {
	if name, ok := b.topics[t]; ok {
		return name
	}
	name := t.Topic
	if name == "" {
		name = TopicName(b.prefix, t.Database, t.Name)
	}
	if len(b.topics) > 4096 { // shapes come and go with DDL; keep the cache bounded
		clear(b.topics)
	}
	b.topics[t] = name
	return name
}

// TopicName is <prefix>.<database>.<table>, or <database>.<table> without
// a prefix.
func TopicName(prefix, database, table string) string {
	if prefix == "" {
		return database + "." + table
	}
	return strings.Join([]string{prefix, database, table}, ".")
}

// Headers naming the columns whose values the source did not send
// (sluice.Event.BeforeUnavailable, AfterUnavailable): a JSON array of
// column names, e.g. ["body","note"]. A record carries each header only
// when the list is not empty; a null in the envelope's before or after is
// SQL NULL unless the column is named here.
const (
	HeaderUnavailableBefore = "sluice.unavailable.before"
	HeaderUnavailableAfter  = "sluice.unavailable.after"
)

// Header key prefixes naming the values written as null because the
// value's field type has no form for them (Avro mapping v2 and
// connect-json: MySQL zero dates, PostgreSQL infinities and NaN, …): a
// record carries one header per such value, its key the prefix followed by
// the column's name (sluice.replaced.after.shipped), its value the value's
// canonical text as a JSON string ("0000-00-00"). A null in the envelope is
// the value named here, not SQL NULL. (One JSON string per value, rather
// than one JSON object, because Kafka Connect's default header converter
// parses header values, and sinks refuse maps and mixed arrays without a
// schema; a quoted string stays a string.)
const (
	HeaderReplacedBefore = "sluice.replaced.before."
	HeaderReplacedAfter  = "sluice.replaced.after."
)

// TruncateKey is the key of a truncate record on a keyed table: empty but
// not null, because Kafka refuses null keys on compacted topics. All
// truncates of a table share it, so compaction keeps the latest one; it is
// placed by the hash of the empty key, like any other key, so it is
// ordered with the table's other records only within its partition.
var TruncateKey = []byte{}

// Append appends the records of ev to dst: one for a read, create or update;
// two for a delete (before-image, tombstone); three for an update that
// changes the key (delete and tombstone of the old key, create of the new);
// one for a truncate (op "t", key [TruncateKey], or null on a table without
// key columns, whose topic is not compacted).
func (b *Builder) Append(ctx context.Context, dst []*kgo.Record, ev *sluice.Event) ([]*kgo.Record, error) {
	t := ev.Table
	topic := b.Topic(t)
	switch ev.Op {
	case sluice.OpRead, sluice.OpCreate:
		return b.one(ctx, dst, topic, ev, ev.After)
	case sluice.OpUpdate:
		if keys.None(t) || keys.Equal(t, ev.Before, ev.After) {
			return b.one(ctx, dst, topic, ev, ev.After)
		}
		del := *ev
		del.Op, del.After, del.AfterUnavailable = sluice.OpDelete, nil, nil
		dst, err := b.deletion(ctx, dst, topic, &del)
		if err != nil {
			return dst, err
		}
		create := *ev
		create.Op, create.Before, create.BeforeUnavailable = sluice.OpCreate, nil, nil
		return b.one(ctx, dst, topic, &create, create.After)
	case sluice.OpDelete:
		return b.deletion(ctx, dst, topic, ev)
	case sluice.OpTruncate:
		var key []byte
		if !keys.None(t) {
			key = TruncateKey
		}
		val, err := b.enc.Value(ctx, ev)
		if err != nil {
			return dst, fmt.Errorf("encode value for %s: %w", topic, err)
		}
		return append(dst, &kgo.Record{Topic: topic, Key: key, Value: val}), nil
	}
	return dst, fmt.Errorf("tombstone: unknown op %q", ev.Op)
}

// Transaction returns the record of a transaction boundary for topic,
// keyed by the transaction id. The encoder must be a TransactionEncoder.
func (b *Builder) Transaction(ctx context.Context, topic string, tb *sluice.TransactionBoundary) (*kgo.Record, error) {
	te, ok := b.enc.(TransactionEncoder)
	if !ok {
		return nil, fmt.Errorf("tombstone: the encoder writes no transaction records")
	}
	key, err := te.TransactionKey(ctx, topic, tb.ID)
	if err != nil {
		return nil, fmt.Errorf("encode transaction key for %s: %w", topic, err)
	}
	val, err := te.TransactionValue(ctx, topic, tb)
	if err != nil {
		return nil, fmt.Errorf("encode transaction value for %s: %w", topic, err)
	}
	return &kgo.Record{Topic: topic, Key: key, Value: val}, nil
}

func (b *Builder) one(ctx context.Context, dst []*kgo.Record, topic string, ev *sluice.Event, keyRow sluice.Row) ([]*kgo.Record, error) {
	key, err := b.key(ctx, ev.Table, keyRow)
	if err != nil {
		return dst, err
	}
	var val []byte
	if b.renc != nil {
		val, b.replaced, err = b.renc.ValueReplacing(ctx, ev, b.replaced[:0])
	} else {
		val, err = b.enc.Value(ctx, ev)
	}
	if err != nil {
		return dst, fmt.Errorf("encode value for %s: %w", topic, err)
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: val}
	rec.Headers = b.unavailableHeader(rec.Headers, 0, HeaderUnavailableBefore, ev.Table, ev.BeforeUnavailable)
	rec.Headers = b.unavailableHeader(rec.Headers, 1, HeaderUnavailableAfter, ev.Table, ev.AfterUnavailable)
	if len(b.replaced) > 0 {
		rec.Headers = replacedHeaders(rec.Headers, ev.Table, b.replaced)
	}
	return append(dst, rec), nil
}

// replacedHeaders appends a header per replaced value.
func replacedHeaders(hs []kgo.RecordHeader, t *sluice.Table, replaced []sluice.Replacement) []kgo.RecordHeader {
	for _, r := range replaced {
		if r.Column < 0 || r.Column >= len(t.Columns) {
			continue
		}
		prefix := HeaderReplacedBefore
		if r.After {
			prefix = HeaderReplacedAfter
		}
		v, _ := json.Marshal(r.Text) // a string always marshals
		hs = append(hs, kgo.RecordHeader{Key: prefix + t.Columns[r.Column].Name, Value: v})
	}
	return hs
}

// unavailableHeader appends a header naming the columns cols of t, when
// there are any. The value is built once for a run of records with the
// same table shape and columns, and shared by their headers.
func (b *Builder) unavailableHeader(hs []kgo.RecordHeader, which int, name string, t *sluice.Table, cols []int) []kgo.RecordHeader {
	if len(cols) == 0 {
		return hs
	}
	c := &b.unavailable[which]
	if c.t != t || !slices.Equal(c.cols, cols) {
		names := make([]string, 0, len(cols))
		for _, i := range cols {
			if i >= 0 && i < len(t.Columns) {
				names = append(names, t.Columns[i].Name)
			}
		}
		v, _ := json.Marshal(names) // a []string always marshals
		*c = headerValue{t: t, cols: slices.Clone(cols), value: v}
	}
	return append(hs, kgo.RecordHeader{Key: name, Value: c.value})
}

func (b *Builder) deletion(ctx context.Context, dst []*kgo.Record, topic string, ev *sluice.Event) ([]*kgo.Record, error) {
	dst, err := b.one(ctx, dst, topic, ev, ev.Before)
	if err != nil {
		return dst, err
	}
	if keys.None(ev.Table) {
		// Without a key, a tombstone deletes nothing and compaction cannot
		// act on it; the before-image alone records the delete.
		return dst, nil
	}
	before := dst[len(dst)-1]
	return append(dst, &kgo.Record{Topic: topic, Key: before.Key, Value: nil}), nil
}

func (b *Builder) key(ctx context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if keys.None(t) {
		return nil, nil
	}
	k, err := b.enc.Key(ctx, t, row)
	if err != nil {
		return nil, fmt.Errorf("encode key for %s: %w", t.FullName(), err)
	}
	return k, nil
}
