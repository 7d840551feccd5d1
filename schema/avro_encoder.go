package schema

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice"
)

// avroShapeCacheLimit bounds the number of table shapes an AvroEncoder
// remembers. Shapes come and go with DDL; when the limit is reached the
// cache is emptied and shapes in use register again (the registry answers
// with the ids it already gave).
const avroShapeCacheLimit = 4096

// AvroEncoder renders record keys and values in the Confluent wire format:
// the magic byte 0, the 4-byte big-endian schema id, then the Avro binary
// encoding. On the first use of a table shape (one *sluice.Table) it builds
// the shape's key and value schemas, validates them with goavro, compiles
// an encoding plan and registers the schemas under the subjects
// <topic>-key and <topic>-value; later records of the shape reuse all of
// it. No record is produced without its registered schema.
//
// It implements tombstone.Encoder and is safe for concurrent use.
type AvroEncoder struct {
	reg  *registry
	opts AvroOptions
	log  *slog.Logger

	shapes     sync.Map // *sluice.Table → *avroShape
	shapeCount atomic.Int64
	shapeLimit int64 // avroShapeCacheLimit; tests lower it
}

// NewAvroEncoder returns an encoder that registers schemas with reg. It
// checks opts and does not contact the registry. log receives registry
// retries and schema-evolution warnings; nil discards them.
func NewAvroEncoder(reg *sr.Client, opts AvroOptions, log *slog.Logger) (*AvroEncoder, error) {
	if reg == nil {
		return nil, fmt.Errorf("new avro encoder: no schema registry client; fix: configure the schema registry URL")
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("new avro encoder: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AvroEncoder{reg: newRegistry(reg, log), opts: opts, log: log, shapeLimit: avroShapeCacheLimit}, nil
}

// Key renders the record key of row: the Confluent wire format of t's key
// record (the key columns, in key order). The bytes depend only on the key
// columns' names, types and values: the key schema holds nothing else, so
// it keeps its registry id while non-key columns change. It returns nil (a
// null key) when t has no key columns.
//
// On the first use of t it registers t's schemas, which blocks and retries
// while the registry is unreachable or failing, until ctx ends.
func (e *AvroEncoder) Key(ctx context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if len(t.Key) == 0 {
		return nil, nil
	}
	s, err := e.shape(ctx, t)
	if err != nil {
		return nil, err
	}
	if len(row) != len(t.Columns) {
		return nil, fmt.Errorf("render key of %s as Avro: row has %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst := make([]byte, 5, 5+8*len(s.keyPlan))
	binary.BigEndian.PutUint32(dst[1:], s.keyID)
	if dst, err = appendAvroRow(dst, s.keyPlan, row, nil, nil, false); err != nil {
		return nil, fmt.Errorf("render key of %s as Avro: %w", t.FullName(), err)
	}
	return dst, nil
}

// Value renders ev as the Confluent wire format of its table's envelope
// record (before, after, source, op, ts_ms) in a newly allocated buffer.
//
// On the first use of ev.Table it registers the table's schemas, which
// blocks and retries while the registry is unreachable or failing, until
// ctx ends.
func (e *AvroEncoder) Value(ctx context.Context, ev *sluice.Event) ([]byte, error) {
	if ev.Table == nil {
		return nil, fmt.Errorf("render event as Avro: event has no table")
	}
	s, err := e.shape(ctx, ev.Table)
	if err != nil {
		return nil, err
	}
	b, err := e.appendValue(make([]byte, 0, s.valueHint.Load()), s, ev, nil)
	if n := int64(len(b)); err == nil && n > s.valueHint.Load() {
		s.valueHint.Store(n) // the largest record so far; races only lose a raise
	}
	return b, err
}

// ValueReplacing is [AvroEncoder.Value] that also appends to replaced the
// values mapping v2 wrote as null because their field's type has no form
// for them (see [sluice.Replacement]), with their canonical text. Mapping v1
// never replaces a value.
func (e *AvroEncoder) ValueReplacing(ctx context.Context, ev *sluice.Event, replaced []sluice.Replacement) ([]byte, []sluice.Replacement, error) {
	if ev.Table == nil {
		return nil, replaced, fmt.Errorf("render event as Avro: event has no table")
	}
	s, err := e.shape(ctx, ev.Table)
	if err != nil {
		return nil, replaced, err
	}
	n := len(replaced)
	b, err := e.appendValue(make([]byte, 0, s.valueHint.Load()), s, ev, &replaced)
	if err != nil {
		return nil, replaced[:n], err
	}
	if l := int64(len(b)); l > s.valueHint.Load() {
		s.valueHint.Store(l)
	}
	for i := n; i < len(replaced); i++ {
		r := &replaced[i]
		row := ev.Before
		if r.After {
			row = ev.After
		}
		r.Text = replacementText(&s.table.Columns[r.Column], row[r.Column])
	}
	return b, replaced, nil
}

// AppendValue is [AvroEncoder.Value] appending to dst, for callers that
// reuse buffers. It blocks like Value on the first use of a shape.
func (e *AvroEncoder) AppendValue(ctx context.Context, dst []byte, ev *sluice.Event) ([]byte, error) {
	if ev.Table == nil {
		return dst, fmt.Errorf("render event as Avro: event has no table")
	}
	s, err := e.shape(ctx, ev.Table)
	if err != nil {
		return dst, err
	}
	return e.appendValue(dst, s, ev, nil)
}

func (e *AvroEncoder) appendValue(dst []byte, s *avroShape, ev *sluice.Event, replaced *[]sluice.Replacement) ([]byte, error) {
	t := s.table
	switch ev.Op {
	case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate, sluice.OpDelete, sluice.OpTruncate:
	default:
		return dst, fmt.Errorf("render event on %s as Avro: unknown op %q", t.FullName(), byte(ev.Op))
	}
	dst = append(dst, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], s.valueID)
	before, after := ev.Before, ev.After
	if ev.Op == sluice.OpTruncate {
		before, after = nil, nil // a truncate names a table, not a row
	}
	var err error
	if dst, err = appendAvroImage(dst, s, before, ev.BeforeUnavailable, replaced, false); err != nil {
		return dst, err
	}
	if dst, err = appendAvroImage(dst, s, after, ev.AfterUnavailable, replaced, true); err != nil {
		return dst, err
	}
	now := time.Now
	if e.opts.Now != nil {
		now = e.opts.Now
	}
	if e.opts.v2() {
		return e.appendEnvelopeV2(dst, ev, now()), nil
	}
	src := &ev.Source
	dst = appendAvroString(dst, e.opts.Version)
	dst = appendAvroString(dst, src.Connector)
	dst = appendAvroString(dst, src.Name)
	dst = appendAvroLong(dst, int64(src.ServerID))
	dst = appendAvroString(dst, src.Position.File)
	dst = appendAvroLong(dst, int64(src.Position.Offset))
	if src.Connector == "postgresql" {
		dst = append(dst, 2)
		dst = appendAvroLong(dst, int64(src.Position.LSN))
	} else {
		dst = append(dst, 0)
	}
	if src.GTID == "" {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 2)
		dst = appendAvroString(dst, src.GTID)
	}
	dst = appendAvroString(dst, t.Database)
	dst = appendAvroString(dst, t.Name)
	var commit int64
	if !src.CommitTime.IsZero() {
		commit = src.CommitTime.UnixMilli()
	}
	dst = appendAvroLong(dst, commit)
	dst = appendAvroBool(dst, src.Snapshot)
	dst = append(dst, 2, byte(ev.Op)) // op: a one-byte string
	return appendAvroLong(dst, now().UnixMilli()), nil
}

// appendEnvelopeV2 appends what follows the images in a v2 envelope: the
// source record of the connector, the transaction block, op, ts_ms and
// ts_us.
func (e *AvroEncoder) appendEnvelopeV2(dst []byte, ev *sluice.Event, now time.Time) []byte {
	t, src := ev.Table, &ev.Source
	var commitUS int64
	if !src.CommitTime.IsZero() {
		commitUS = src.CommitTime.UnixMicro()
	}
	dst = appendAvroString(dst, e.opts.Version)
	dst = appendAvroString(dst, src.Connector)
	dst = appendAvroString(dst, src.Name)
	dst = appendAvroLong(dst, floorDiv(commitUS, 1000))
	dst = appendAvroLong(dst, commitUS)
	if src.Snapshot {
		dst = appendAvroString(dst, "true")
	} else {
		dst = appendAvroString(dst, "false")
	}
	if e.opts.Connector == "postgresql" {
		dst = appendAvroString(dst, e.opts.Database)
		dst = appendAvroString(dst, t.Database)
		dst = appendAvroString(dst, t.Name)
		if src.TxID == 0 {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 2)
			dst = appendAvroLong(dst, int64(src.TxID))
		}
		dst = append(dst, 2)
		dst = appendAvroLong(dst, int64(src.Position.LSN))
		dst = append(dst, 0) // xmin
	} else {
		dst = appendAvroString(dst, t.Database)
		dst = append(dst, 2)
		dst = appendAvroString(dst, t.Name)
		dst = appendAvroLong(dst, int64(src.ServerID))
		if src.GTID == "" {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 2)
			dst = appendAvroString(dst, src.GTID)
		}
		dst = appendAvroString(dst, src.Position.File)
		dst = appendAvroLong(dst, int64(src.Position.Offset))
		dst = appendAvroLong(dst, int64(src.Row))
		dst = append(dst, 0, 0) // thread, query
	}
	if tx := ev.Transaction; tx == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 2)
		dst = appendAvroString(dst, tx.ID)
		dst = appendAvroLong(dst, tx.TotalOrder)
		dst = appendAvroLong(dst, tx.TableOrder)
	}
	dst = append(dst, 2, byte(ev.Op)) // op: a one-byte string
	dst = append(dst, 2)
	dst = appendAvroLong(dst, now.UnixMilli())
	dst = append(dst, 2)
	return appendAvroLong(dst, now.UnixMicro())
}

// floorDiv is a/b rounded towards negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendAvroImage appends a before or after image: the null branch for a
// nil row, else the row record.
func appendAvroImage(dst []byte, s *avroShape, row sluice.Row, unavailable []int, replaced *[]sluice.Replacement, after bool) ([]byte, error) {
	if row == nil {
		return append(dst, 0), nil
	}
	t := s.table
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("render row of %s as Avro: %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst = append(dst, 2) // union branch 1: the row record
	dst, err := appendAvroRow(dst, s.rowPlan, row, unavailable, replaced, after)
	if err != nil {
		return dst, fmt.Errorf("render row of %s as Avro: %w", t.FullName(), err)
	}
	return dst, nil
}

// shape returns t's compiled shape, building and registering it on first
// use. Concurrent first uses may both build it; the registry gives both the
// same ids.
func (e *AvroEncoder) shape(ctx context.Context, t *sluice.Table) (*avroShape, error) {
	if s, ok := e.shapes.Load(t); ok {
		return s.(*avroShape), nil
	}
	s, err := buildAvroShape(t, e.opts)
	if err != nil {
		return nil, err
	}
	topic := t.Topic
	if topic == "" {
		topic = avroTopicName(e.opts.TopicPrefix, t.Database, t.Name)
	}
	s.keySubject, s.valSubject = topic+"-key", topic+"-value"
	if s.key != "" {
		if s.keyID, err = e.reg.register(ctx, s.keySubject, s.key); err != nil {
			return nil, fmt.Errorf("register avro key schema of %s: %w", t.FullName(), err)
		}
	}
	if s.valueID, err = e.reg.register(ctx, s.valSubject, s.value); err != nil {
		return nil, fmt.Errorf("register avro value schema of %s: %w", t.FullName(), err)
	}
	if e.shapeCount.Add(1) > e.shapeLimit {
		e.shapes.Clear()
		e.shapeCount.Store(1)
	}
	e.shapes.Store(t, s)
	return s, nil
}

// avroTopicName is tombstone.TopicName: <prefix>.<database>.<table>, or
// <database>.<table> without a prefix. (tombstone sits downstream of this
// package, so it is not imported here; a test keeps the two equal.)
func avroTopicName(prefix, database, table string) string {
	if prefix == "" {
		return database + "." + table
	}
	return prefix + "." + database + "." + table
}
