package tombstone

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

// fakeEncoder renders keys as "key:" plus the key values and values as the
// op and both rows, and remembers every event it was asked to encode.
type fakeEncoder struct {
	keyErr, valueErr error
	values           []sluice.Event
}

func (e *fakeEncoder) Key(_ context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if e.keyErr != nil {
		return nil, e.keyErr
	}
	var parts []string
	for _, i := range t.Key {
		parts = append(parts, fmt.Sprint(row[i]))
	}
	return []byte("key:" + strings.Join(parts, ",")), nil
}

func (e *fakeEncoder) Value(_ context.Context, ev *sluice.Event) ([]byte, error) {
	if e.valueErr != nil {
		return nil, e.valueErr
	}
	e.values = append(e.values, *ev)
	return []byte(fmt.Sprintf("%s before=%v after=%v", ev.Op, ev.Before, ev.After)), nil
}

var (
	keyed = &sluice.Table{Database: "shop", Name: "orders", PrimaryKey: true, Key: []int{0, 1},
		Columns: []sluice.Column{{Name: "region", Kind: sluice.KindString}, {Name: "no", Kind: sluice.KindInt}, {Name: "qty", Kind: sluice.KindInt}}}
	keyless = &sluice.Table{Database: "shop", Name: "log",
		Columns: []sluice.Column{{Name: "line", Kind: sluice.KindString}}}
	bytesKeyed = &sluice.Table{Database: "shop", Name: "blobs", PrimaryKey: true, Key: []int{0},
		Columns: []sluice.Column{{Name: "id", Kind: sluice.KindBytes}, {Name: "v", Kind: sluice.KindInt}}}
)

// record is what a test expects of one kgo.Record.
type record struct {
	key   string // "<nil>" for a null key
	value string // "<nil>" for a tombstone
}

func show(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   sluice.Event
		want []record
	}{
		{"read", sluice.Event{Op: sluice.OpRead, Table: keyed, After: sluice.Row{"eu", int64(1), int64(5)}},
			[]record{{"key:eu,1", "r before=[] after=[eu 1 5]"}}},
		{"create", sluice.Event{Op: sluice.OpCreate, Table: keyed, After: sluice.Row{"eu", int64(1), int64(5)}},
			[]record{{"key:eu,1", "c before=[] after=[eu 1 5]"}}},
		{"update", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}, After: sluice.Row{"eu", int64(1), int64(6)}},
			[]record{{"key:eu,1", "u before=[eu 1 5] after=[eu 1 6]"}}},
		{"update of bytes key, same bytes", sluice.Event{Op: sluice.OpUpdate, Table: bytesKeyed,
			Before: sluice.Row{[]byte{1, 2}, int64(1)}, After: sluice.Row{[]byte{1, 2}, int64(2)}},
			[]record{{"key:[1 2]", "u before=[[1 2] 1] after=[[1 2] 2]"}}},
		{"delete", sluice.Event{Op: sluice.OpDelete, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}},
			[]record{{"key:eu,1", "d before=[eu 1 5] after=[]"}, {"key:eu,1", "<nil>"}}},
		{"key change", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"us", int64(1), int64(7)}, After: sluice.Row{"ap", int64(9), int64(7)}},
			[]record{
				{"key:us,1", "d before=[us 1 7] after=[]"},
				{"key:us,1", "<nil>"},
				{"key:ap,9", "c before=[] after=[ap 9 7]"},
			}},
		{"key change of bytes key", sluice.Event{Op: sluice.OpUpdate, Table: bytesKeyed,
			Before: sluice.Row{[]byte{1}, int64(1)}, After: sluice.Row{[]byte{2}, int64(1)}},
			[]record{
				{"key:[1]", "d before=[[1] 1] after=[]"},
				{"key:[1]", "<nil>"},
				{"key:[2]", "c before=[] after=[[2] 1]"},
			}},
		{"keyless create", sluice.Event{Op: sluice.OpCreate, Table: keyless, After: sluice.Row{"x"}},
			[]record{{"<nil>", "c before=[] after=[x]"}}},
		{"keyless update", sluice.Event{Op: sluice.OpUpdate, Table: keyless, Before: sluice.Row{"x"}, After: sluice.Row{"y"}},
			[]record{{"<nil>", "u before=[x] after=[y]"}}},
		{"keyless delete", sluice.Event{Op: sluice.OpDelete, Table: keyless, Before: sluice.Row{"x"}},
			[]record{{"<nil>", "d before=[x] after=[]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := &fakeEncoder{}
			b := NewBuilder("", enc)
			prior := &kgo.Record{Topic: "earlier"}
			ev := tc.ev
			recs, err := b.Append(context.Background(), []*kgo.Record{prior}, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1+len(tc.want) || recs[0] != prior {
				t.Fatalf("got %d records (first %v), want the earlier one and %d more", len(recs), recs[0], len(tc.want))
			}
			topic := tc.ev.Table.Database + "." + tc.ev.Table.Name
			for i, want := range tc.want {
				r := recs[1+i]
				if r.Topic != topic || show(r.Key) != want.key || show(r.Value) != want.value {
					t.Errorf("record %d: topic %q key %q value %q; want %q %q %q", i, r.Topic, show(r.Key), show(r.Value), topic, want.key, want.value)
				}
			}
			if ev.Op != tc.ev.Op || len(ev.Before) != len(tc.ev.Before) || len(ev.After) != len(tc.ev.After) {
				t.Errorf("Append modified the event: %+v", ev)
			}
		})
	}
}

// TestAppendKeyChangeEvents checks the events the encoder sees for a
// key-changing update: a delete without an after-image, then a create
// without a before-image, both with the source of the update.
func TestAppendKeyChangeEvents(t *testing.T) {
	enc := &fakeEncoder{}
	src := sluice.Source{Connector: "mysql", Name: "db1", GTID: "0-1-7", Position: sluice.Position{File: "mysql-bin.000001", Offset: 42}}
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: keyed, Source: src,
		Before: sluice.Row{"us", int64(1), int64(7)}, After: sluice.Row{"ap", int64(9), int64(7)}}
	recs, err := NewBuilder("cdc", enc).Append(context.Background(), nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(enc.values) != 2 {
		t.Fatalf("%d records from %d values, want 3 from 2", len(recs), len(enc.values))
	}
	del, create := enc.values[0], enc.values[1]
	if del.Op != sluice.OpDelete || del.After != nil || fmt.Sprint(del.Before) != "[us 1 7]" || del.Source != src || del.Table != keyed {
		t.Errorf("delete half: %+v", del)
	}
	if create.Op != sluice.OpCreate || create.Before != nil || fmt.Sprint(create.After) != "[ap 9 7]" || create.Source != src || create.Table != keyed {
		t.Errorf("create half: %+v", create)
	}
	if ev.Op != sluice.OpUpdate || ev.Before == nil || ev.After == nil {
		t.Errorf("the update itself was modified: %+v", ev)
	}
	for _, r := range recs {
		if r.Topic != "cdc.shop.orders" {
			t.Errorf("topic %q", r.Topic)
		}
	}
}

func TestTopicName(t *testing.T) {
	for _, tc := range []struct{ prefix, db, table, want string }{
		{"", "shop", "orders", "shop.orders"},
		{"cdc", "shop", "orders", "cdc.shop.orders"},
		{"prod.eu", "shop", "orders", "prod.eu.shop.orders"},
	} {
		if got := TopicName(tc.prefix, tc.db, tc.table); got != tc.want {
			t.Errorf("TopicName(%q, %q, %q) = %q, want %q", tc.prefix, tc.db, tc.table, got, tc.want)
		}
	}
	b := NewBuilder("cdc", &fakeEncoder{})
	if got := b.Topic(keyed); got != "cdc.shop.orders" {
		t.Errorf("Topic = %q", got)
	}
	// A new shape of the same table (after DDL) keeps the topic.
	reshaped := *keyed
	if got := b.Topic(&reshaped); got != "cdc.shop.orders" {
		t.Errorf("Topic of the new shape = %q", got)
	}
	if got := NewBuilder("", &fakeEncoder{}).Topic(keyless); got != "shop.log" {
		t.Errorf("Topic without prefix = %q", got)
	}
}

// TestTopicCacheBounded builds topics for many table shapes, as a long run
// with DDL does, and checks that names stay right across cache resets.
func TestTopicCacheBounded(t *testing.T) {
	b := NewBuilder("p", &fakeEncoder{})
	for i := 0; i < 10000; i++ {
		tab := &sluice.Table{Database: "d", Name: fmt.Sprint("t", i%10)}
		if got, want := b.Topic(tab), fmt.Sprint("p.d.t", i%10); got != want {
			t.Fatalf("shape %d: topic %q, want %q", i, got, want)
		}
	}
	if n := len(b.topics); n > 4097 {
		t.Errorf("topic cache holds %d shapes", n)
	}
}

func TestAppendEncoderErrors(t *testing.T) {
	boom := errors.New("registry unreachable")
	for _, tc := range []struct {
		name  string
		enc   *fakeEncoder
		ev    sluice.Event
		names string // the error must name this table or topic
	}{
		{"value of create", &fakeEncoder{valueErr: boom},
			sluice.Event{Op: sluice.OpCreate, Table: keyed, After: sluice.Row{"eu", int64(1), int64(5)}}, "cdc.shop.orders"},
		{"value of delete", &fakeEncoder{valueErr: boom},
			sluice.Event{Op: sluice.OpDelete, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}}, "cdc.shop.orders"},
		{"value of key change", &fakeEncoder{valueErr: boom},
			sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}, After: sluice.Row{"eu", int64(2), int64(5)}}, "cdc.shop.orders"},
		{"value of keyless", &fakeEncoder{valueErr: boom},
			sluice.Event{Op: sluice.OpCreate, Table: keyless, After: sluice.Row{"x"}}, "cdc.shop.log"},
		{"key of update", &fakeEncoder{keyErr: boom},
			sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}, After: sluice.Row{"eu", int64(1), int64(6)}}, "shop.orders"},
		{"key of delete", &fakeEncoder{keyErr: boom},
			sluice.Event{Op: sluice.OpDelete, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(5)}}, "shop.orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBuilder("cdc", tc.enc).Append(context.Background(), nil, &tc.ev)
			if !errors.Is(err, boom) {
				t.Fatalf("error %v does not wrap the encoder's", err)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Errorf("error %q does not name %s", err, tc.names)
			}
		})
	}
	// A keyless table never asks for a key, so a failing Key does not matter.
	recs, err := NewBuilder("", &fakeEncoder{keyErr: boom}).Append(context.Background(), nil,
		&sluice.Event{Op: sluice.OpDelete, Table: keyless, Before: sluice.Row{"x"}})
	if err != nil || len(recs) != 1 {
		t.Errorf("keyless delete with failing Key: %d records, %v", len(recs), err)
	}
}

func TestAppendUnknownOp(t *testing.T) {
	_, err := NewBuilder("", &fakeEncoder{}).Append(context.Background(), nil, &sluice.Event{Op: 'x', Table: keyed, After: sluice.Row{"eu", int64(1), int64(5)}})
	if err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Errorf("err = %v", err)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		table *sluice.Table
		key   []byte
	}{{keyed, TruncateKey}, {keyless, nil}} {
		enc := &fakeEncoder{}
		recs, err := NewBuilder("p", enc).Append(context.Background(), nil, &sluice.Event{Op: sluice.OpTruncate, Table: tc.table})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("%s: %d records, want 1", tc.table.Name, len(recs))
		}
		r := recs[0]
		if r.Topic != "p.shop."+tc.table.Name || show(r.Value) != "t before=[] after=[]" || len(r.Headers) != 0 {
			t.Errorf("%s: record %+v", tc.table.Name, r)
		}
		if (r.Key == nil) != (tc.key == nil) || len(r.Key) != 0 {
			t.Errorf("%s: key %#v, want %#v (empty but non-null on a keyed table)", tc.table.Name, r.Key, tc.key)
		}
	}
}

func TestUnavailableHeaders(t *testing.T) {
	b := NewBuilder("", &fakeEncoder{})
	header := func(r *kgo.Record) string {
		var parts []string
		for _, h := range r.Headers {
			parts = append(parts, h.Key+"="+string(h.Value))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		ev   sluice.Event
		want []string // headers of each record
	}{
		{"update", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), nil}, BeforeUnavailable: []int{2},
			After: sluice.Row{"eu", int64(1), nil}, AfterUnavailable: []int{2}},
			[]string{`sluice.unavailable.before=["qty"] sluice.unavailable.after=["qty"]`}},
		{"complete update", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), int64(2)}, After: sluice.Row{"eu", int64(1), int64(3)}},
			[]string{""}},
		{"delete", sluice.Event{Op: sluice.OpDelete, Table: keyed, Before: sluice.Row{"eu", int64(1), nil}, BeforeUnavailable: []int{2}},
			[]string{`sluice.unavailable.before=["qty"]`, ""}},
		{"key change", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), nil}, BeforeUnavailable: []int{2},
			After: sluice.Row{"us", int64(1), nil}, AfterUnavailable: []int{2}},
			[]string{`sluice.unavailable.before=["qty"]`, "", `sluice.unavailable.after=["qty"]`}},
		{"other columns", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), nil}, BeforeUnavailable: []int{1, 2},
			After: sluice.Row{"eu", int64(1), nil}, AfterUnavailable: []int{2}},
			[]string{fmt.Sprintf(`sluice.unavailable.before=["%s","qty"] sluice.unavailable.after=["qty"]`, keyed.Columns[1].Name)}},
		{"update again", sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: sluice.Row{"eu", int64(1), nil}, BeforeUnavailable: []int{2},
			After: sluice.Row{"eu", int64(1), nil}, AfterUnavailable: []int{2}},
			[]string{`sluice.unavailable.before=["qty"] sluice.unavailable.after=["qty"]`}},
	} {
		// One builder for every case, in order: the header values it
		// keeps between records must follow the columns of each.
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			recs, err := b.Append(context.Background(), nil, &ev)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, header(r))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("headers %q, want %q", got, tc.want)
			}
		})
	}
}

// replacingEncoder reports the column "qty" of each image as replaced.
type replacingEncoder struct{ fakeEncoder }

func (e *replacingEncoder) ValueReplacing(ctx context.Context, ev *sluice.Event, dst []sluice.Replacement) ([]byte, []sluice.Replacement, error) {
	v, err := e.Value(ctx, ev)
	if ev.Before != nil {
		dst = append(dst, sluice.Replacement{Column: 2, Text: "0000-00-00"})
	}
	if ev.After != nil {
		dst = append(dst, sluice.Replacement{After: true, Column: 2, Text: `say "no"`}, sluice.Replacement{After: true, Column: 0, Text: "x"})
	}
	return v, dst, err
}

func TestReplacedHeaders(t *testing.T) {
	b := NewBuilder("p", &replacingEncoder{})
	row := sluice.Row{"eu", int64(1), nil}
	recs, err := b.Append(context.Background(), nil, &sluice.Event{Op: sluice.OpUpdate, Table: keyed, Before: row, After: row})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range recs[0].Headers {
		got = append(got, h.Key+"="+string(h.Value))
	}
	want := []string{`sluice.replaced.before.qty="0000-00-00"`, `sluice.replaced.after.qty="say \"no\""`, `sluice.replaced.after.region="x"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("headers %q, want %q", got, want)
	}
	// The next record of the same builder carries only its own.
	recs, err = b.Append(context.Background(), nil, &sluice.Event{Op: sluice.OpDelete, Table: keyed, Before: row})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != HeaderReplacedBefore+"qty" {
		t.Errorf("delete headers %v", recs[0].Headers)
	}
	if len(recs[1].Headers) != 0 {
		t.Errorf("tombstone headers %v", recs[1].Headers)
	}
}
