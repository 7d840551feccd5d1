package schema

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice"
)

// JSONEncoder renders change events as the JSON record envelope documented
// in docs/records.md, and record keys as JSON objects of the key columns.
// It keeps no state between calls: one encoder may serve many goroutines as
// long as its fields are not changed.
type JSONEncoder struct {
	// Version is written to source.version (the sluice version; may be
	// empty).
	Version string
	// Now gives the envelope's ts_ms, the time the record was rendered;
	// time.Now when nil.
	Now func() time.Time
}

// NewJSONEncoder returns an encoder that writes version to source.version
// and the current time to ts_ms.
func NewJSONEncoder(version string) *JSONEncoder {
	return &JSONEncoder{Version: version}
}

// Value renders ev as a JSON envelope in a newly allocated buffer:
//
//	{"before":{…}|null,"after":{…}|null,"source":{"version":…,"connector":…,
//	"name":…,"server_id":…,"file":…,"pos":…,"gtid":…|null,"db":…,"table":…,
//	"ts_ms":…,"snapshot":…},"op":"r|c|u|d|t","ts_ms":…}
//
// Rows are objects with the column names as keys, in column order. Events
// of connector "postgresql" carry "lsn" (the WAL position) after "pos". A
// truncate (op "t") has null before and after.
func (e *JSONEncoder) Value(ev *sluice.Event) ([]byte, error) {
	n := 256
	if ev.Table != nil {
		n += 48 * len(ev.Table.Columns)
	}
	return e.AppendValue(make([]byte, 0, n), ev)
}

// AppendValue is [JSONEncoder.Value] appending to dst, for callers that
// reuse buffers.
func (e *JSONEncoder) AppendValue(dst []byte, ev *sluice.Event) ([]byte, error) {
	t := ev.Table
	if t == nil {
		return dst, fmt.Errorf("render event as JSON: event has no table")
	}
	switch ev.Op {
	case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate, sluice.OpDelete:
	case sluice.OpTruncate:
		// A truncate names a table, not a row: both images are null.
		trunc := *ev
		trunc.Before, trunc.After = nil, nil
		ev = &trunc
	default:
		return dst, fmt.Errorf("render event on %s as JSON: unknown op %q", t.FullName(), byte(ev.Op))
	}
	var err error
	dst = append(dst, `{"before":`...)
	if dst, err = appendRow(dst, t, ev.Before); err != nil {
		return dst, err
	}
	dst = append(dst, `,"after":`...)
	if dst, err = appendRow(dst, t, ev.After); err != nil {
		return dst, err
	}
	s := &ev.Source
	dst = append(dst, `,"source":{"version":`...)
	dst = appendString(dst, e.Version)
	dst = append(dst, `,"connector":`...)
	dst = appendString(dst, s.Connector)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, s.Name)
	dst = append(dst, `,"server_id":`...)
	dst = strconv.AppendUint(dst, uint64(s.ServerID), 10)
	dst = append(dst, `,"file":`...)
	dst = appendString(dst, s.Position.File)
	dst = append(dst, `,"pos":`...)
	dst = strconv.AppendUint(dst, s.Position.Offset, 10)
	if s.Connector == "postgresql" {
		dst = append(dst, `,"lsn":`...)
		dst = strconv.AppendUint(dst, s.Position.LSN, 10)
	}
	dst = append(dst, `,"gtid":`...)
	if s.GTID == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, s.GTID)
	}
	dst = append(dst, `,"db":`...)
	dst = appendString(dst, t.Database)
	dst = append(dst, `,"table":`...)
	dst = appendString(dst, t.Name)
	dst = append(dst, `,"ts_ms":`...)
	var commit int64
	if !s.CommitTime.IsZero() {
		commit = s.CommitTime.UnixMilli()
	}
	dst = strconv.AppendInt(dst, commit, 10)
	dst = append(dst, `,"snapshot":`...)
	dst = strconv.AppendBool(dst, s.Snapshot)
	dst = append(dst, '}')
	if tx := ev.Transaction; tx != nil {
		dst = appendTransactionJSON(append(dst, `,"transaction":`...), tx)
	}
	dst = append(dst, `,"op":"`...)
	dst = append(dst, byte(ev.Op))
	dst = append(dst, `","ts_ms":`...)
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	dst = strconv.AppendInt(dst, now().UnixMilli(), 10)
	return append(dst, '}'), nil
}

// Key renders the record key of row: a JSON object of t's key columns in key
// order, e.g. {"id":1}. The bytes depend only on the key columns' names and
// values. It returns nil (a null key) when t has no key columns.
func (e *JSONEncoder) Key(t *sluice.Table, row sluice.Row) ([]byte, error) {
	if len(t.Key) == 0 {
		return nil, nil
	}
	return e.AppendKey(make([]byte, 0, 16+24*len(t.Key)), t, row)
}

// AppendKey is [JSONEncoder.Key] appending to dst; it appends nothing for a
// table without key columns.
func (e *JSONEncoder) AppendKey(dst []byte, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if len(t.Key) == 0 {
		return dst, nil
	}
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("render key of %s as JSON: row has %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst = append(dst, '{')
	for n, i := range t.Key {
		if i < 0 || i >= len(t.Columns) {
			return dst, fmt.Errorf("render key of %s as JSON: key column %d out of range", t.FullName(), i)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		col := &t.Columns[i]
		dst = appendString(dst, col.Name)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendJSON(dst, col, row[i]); err != nil {
			return dst, fmt.Errorf("render key of %s: %w", t.FullName(), err)
		}
	}
	return append(dst, '}'), nil
}

// appendRow appends row as a JSON object, or null for a nil row.
func appendRow(dst []byte, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if row == nil {
		return append(dst, "null"...), nil
	}
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("render row of %s as JSON: %d values for %d columns", t.FullName(), len(row), len(t.Columns))
	}
	dst = append(dst, '{')
	for i := range t.Columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		col := &t.Columns[i]
		dst = appendString(dst, col.Name)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendJSON(dst, col, row[i]); err != nil {
			return dst, fmt.Errorf("render row of %s: %w", t.FullName(), err)
		}
	}
	return append(dst, '}'), nil
}

// appendTransactionJSON appends an event's transaction block,
// {"id","total_order","data_collection_order"}, as JSON and Connect JSON
// write it.
func appendTransactionJSON(dst []byte, tx *sluice.Transaction) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, tx.ID)
	dst = append(dst, `,"total_order":`...)
	dst = strconv.AppendInt(dst, tx.TotalOrder, 10)
	dst = append(dst, `,"data_collection_order":`...)
	dst = strconv.AppendInt(dst, tx.TableOrder, 10)
	return append(dst, '}')
}
