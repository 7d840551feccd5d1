package schema

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// decodeCase encodes with one format's encoder and decodes with the
// RecordDecoder of that format.
type decodeCase struct {
	format string
	key    func(t *testing.T, tbl *sluice.Table, row sluice.Row) []byte
	value  func(t *testing.T, ev *sluice.Event) []byte
	dec    *RecordDecoder
}

func decodeCases(t *testing.T) []decodeCase {
	t.Helper()
	ctx := context.Background()
	avro, _, cl := newTestAvro(t, AvroOptions{TopicPrefix: "sluice"})
	avroDec, err := NewRecordDecoder("avro", cl)
	if err != nil {
		t.Fatal(err)
	}
	js := NewJSONEncoder("1.0")
	jsDec, err := NewRecordDecoder("json", nil)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := NewConnectJSONEncoder(AvroOptions{TopicPrefix: "sluice", Connector: "mysql"}, false)
	if err != nil {
		t.Fatal(err)
	}
	cjDec, err := NewRecordDecoder("connect-json", nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(t *testing.T, b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []decodeCase{
		{format: "avro", dec: avroDec,
			key: func(t *testing.T, tbl *sluice.Table, row sluice.Row) []byte {
				b, err := avro.Key(ctx, tbl, row)
				return must(t, b, err)
			},
			value: func(t *testing.T, ev *sluice.Event) []byte { b, err := avro.Value(ctx, ev); return must(t, b, err) }},
		{format: "json", dec: jsDec,
			key: func(t *testing.T, tbl *sluice.Table, row sluice.Row) []byte {
				b, err := js.Key(tbl, row)
				return must(t, b, err)
			},
			value: func(t *testing.T, ev *sluice.Event) []byte { b, err := js.Value(ev); return must(t, b, err) }},
		{format: "connect-json", dec: cjDec,
			key: func(t *testing.T, tbl *sluice.Table, row sluice.Row) []byte {
				b, err := cj.Key(tbl, row)
				return must(t, b, err)
			},
			value: func(t *testing.T, ev *sluice.Event) []byte { b, err := cj.Value(ev); return must(t, b, err) }},
	}
}

// TestRecordDecoderCanonical: the same row gives the same key and column
// texts whether it came from the snapshot, an insert or an update; another
// row differs exactly in the columns whose values differ; a deletion's
// before-image record has no after-image; the position is the record's.
func TestRecordDecoderCanonical(t *testing.T) {
	ctx := context.Background()
	tbl := mysqlAvroTable()
	rows := mysqlAvroRows()
	pos := sluice.Position{File: "mysql-bin.000007", Offset: 4321}
	src := sluice.Source{Connector: "mysql", Name: "main", Position: pos}
	for _, c := range decodeCases(t) {
		t.Run(c.format, func(t *testing.T) {
			after := func(b []byte) map[string]string {
				t.Helper()
				m := map[string]string{}
				ok, got, err := c.dec.After(ctx, b, func(name string, text []byte) { m[name] = string(text) })
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					t.Fatal("no after-image")
				}
				if got != pos {
					t.Errorf("position %+v, want %+v", got, pos)
				}
				return m
			}
			read := after(c.value(t, &sluice.Event{Op: sluice.OpRead, Table: tbl, After: rows[0], Source: src}))
			upd := after(c.value(t, &sluice.Event{Op: sluice.OpUpdate, Table: tbl, Before: rows[1], After: rows[0], Source: src}))
			if len(read) != len(tbl.Columns) {
				t.Errorf("%d columns decoded, want %d", len(read), len(tbl.Columns))
			}
			for name, v := range read {
				if upd[name] != v {
					t.Errorf("column %s: %s from the snapshot, %s from an update", name, v, upd[name])
				}
			}
			other := after(c.value(t, &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rows[1], Source: src}))
			differ := 0
			for name, v := range read {
				if other[name] != v {
					differ++
				}
			}
			if differ == 0 {
				t.Error("two different rows decode to the same columns")
			}

			k0, err := c.dec.Key(ctx, c.key(t, tbl, rows[0]))
			if err != nil {
				t.Fatal(err)
			}
			k0again, _ := c.dec.Key(ctx, c.key(t, tbl, rows[0]))
			k1, _ := c.dec.Key(ctx, c.key(t, tbl, rows[1]))
			if k0 != k0again || k0 == k1 || k0 == "" {
				t.Errorf("keys %q, %q, %q: want the first two equal and the third different", k0, k0again, k1)
			}

			del := c.value(t, &sluice.Event{Op: sluice.OpDelete, Table: tbl, Before: rows[0], Source: src})
			ok, got, err := c.dec.After(ctx, del, func(string, []byte) { t.Error("a deletion has no after-image columns") })
			if err != nil || ok || got != pos {
				t.Errorf("deletion: after %v, position %+v, error %v", ok, got, err)
			}
		})
	}
}

func TestRecordDecoderErrors(t *testing.T) {
	if _, err := NewRecordDecoder("avro", nil); err == nil {
		t.Error("avro without a registry accepted")
	}
	if _, err := NewRecordDecoder("protobuf", nil); err == nil {
		t.Error("an unknown format accepted")
	}
	_, _, cl := newTestAvro(t, AvroOptions{TopicPrefix: "sluice"})
	d, _ := NewRecordDecoder("avro", cl)
	if _, err := d.Key(context.Background(), []byte(`{"id":1}`)); err == nil {
		t.Error("a JSON key decoded as avro")
	}
	j, _ := NewRecordDecoder("json", nil)
	if _, _, err := j.After(context.Background(), []byte(`not json`), func(string, []byte) {}); err == nil {
		t.Error("a broken JSON value decoded")
	}
}
