package pgoutput

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// fakeShaper maps int4 (23) to KindInt and every other type to KindString;
// keys holds the primary key of each relation, as the catalog would.
type fakeShaper struct {
	keys    map[uint32][]string
	changes int
}

func (s *fakeShaper) table(_ context.Context, rel *relationMsg) (*sluice.Table, error) {
	t := &sluice.Table{Database: rel.Namespace, Name: rel.Name}
	for _, c := range rel.Columns {
		col := sluice.Column{Name: c.Name, Kind: sluice.KindString, SourceType: "text", Nullable: true}
		if c.TypeOID == 23 {
			col.Kind, col.SourceType = sluice.KindInt, "integer"
		}
		t.Columns = append(t.Columns, col)
	}
	for _, k := range s.keys[rel.ID] {
		i := t.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("no key column %s", k)
		}
		t.Key = append(t.Key, i)
		t.Columns[i].Nullable = false
	}
	t.PrimaryKey = len(t.Key) > 0
	return t, nil
}

func (s *fakeShaper) value(col *sluice.Column, text []byte) (any, error) {
	if col.Kind == sluice.KindInt {
		return strconv.ParseInt(string(text), 10, 64)
	}
	return string(text), nil
}

func (s *fakeShaper) changed() { s.changes++ }

// recorder is a sluice.Handler that keeps what it is given.
type recorder struct {
	events    []*sluice.Event
	resumable []uint64
	failAfter int // Change fails once this many events were recorded (0: never)
}

func (h *recorder) Change(_ context.Context, ev *sluice.Event) error {
	if h.failAfter > 0 && len(h.events) >= h.failAfter {
		return errors.New("downstream refused")
	}
	h.events = append(h.events, ev)
	return nil
}

func (h *recorder) Resumable(_ context.Context, pos sluice.Position) error {
	h.resumable = append(h.resumable, pos.LSN)
	return nil
}

// show renders an event compactly for comparisons.
func show(ev *sluice.Event) string {
	s := fmt.Sprintf("%s %s", ev.Op, ev.Table.FullName())
	if ev.Before != nil {
		s += fmt.Sprintf(" before=%v", ev.Before)
	}
	if ev.BeforeUnavailable != nil {
		s += fmt.Sprintf(" na=%v", ev.BeforeUnavailable)
	}
	if ev.After != nil {
		s += fmt.Sprintf(" after=%v", ev.After)
	}
	if ev.AfterUnavailable != nil {
		s += fmt.Sprintf(" na=%v", ev.AfterUnavailable)
	}
	return s
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testReader(sel *sluice.Selection, keys map[uint32][]string) (*Reader, *fakeShaper) {
	sh := &fakeShaper{keys: keys}
	r := New(Config{Name: "pg", Slot: "s", Publication: "p", Selection: sel,
		Logger: quiet()})
	r.shape = sh
	return r, sh
}

// feed applies messages at increasing WAL positions starting at 0x100.
func feed(t *testing.T, r *Reader, h sluice.Handler, msgs ...wire) error {
	t.Helper()
	for i, m := range msgs {
		if err := r.apply(context.Background(), uint64(0x100+i), m, h); err != nil {
			return err
		}
	}
	return nil
}

// ordersRel: id int4 (primary key), note text, body text. identity says
// which columns the Relation message flags (the replica identity).
func ordersRel(ident byte, identity ...string) wire {
	w := msg('R').u32(10).str("shop").str("orders").u8(ident).u16(3)
	for _, c := range []struct {
		name string
		oid  uint32
	}{{"id", 23}, {"note", 25}, {"body", 25}} {
		w = w.col(strings.Contains(strings.Join(identity, ","), c.name), c.name, c.oid, -1)
	}
	return w
}

func TestApplyDefaultIdentity(t *testing.T) {
	r, _ := testReader(nil, map[uint32][]string{10: {"id"}})
	h := &recorder{}
	err := feed(t, r, h,
		beginWire(0x500, commitAt, 1),
		ordersRel('d', "id"),
		msg('I').u32(10).u8('N').tuple(text("1"), text("a"), text("big")),
		// note changed, body (TOASTed) untouched, key unchanged: no old tuple.
		msg('U').u32(10).u8('N').tuple(text("1"), text("b"), unchanged()),
		// key changed: the old key tuple, other columns null.
		msg('U').u32(10).u8('K').tuple(text("1"), null(), null()).u8('N').tuple(text("2"), text("b"), unchanged()),
		msg('D').u32(10).u8('K').tuple(text("2"), null(), null()),
		commitWire(0x500, 0x528, commitAt),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"c shop.orders after=[1 a big]",
		"u shop.orders before=[1 <nil> <nil>] na=[1 2] after=[1 b <nil>] na=[2]",
		"u shop.orders before=[1 <nil> <nil>] na=[1 2] after=[2 b <nil>] na=[2]",
		"d shop.orders before=[2 <nil> <nil>] na=[1 2]",
	}
	checkEvents(t, h, want)
	if !reflect.DeepEqual(h.resumable, []uint64{0x528}) {
		t.Errorf("resumable %x, want [528]", h.resumable)
	}
	ev := h.events[1]
	if ev.Source.Connector != "postgresql" || ev.Source.Name != "pg" || ev.Source.Position.LSN != 0x103 || !ev.Source.CommitTime.Equal(commitAt) {
		t.Errorf("source %+v", ev.Source)
	}
}

func TestApplyFullIdentity(t *testing.T) {
	r, _ := testReader(nil, map[uint32][]string{10: {"id"}})
	h := &recorder{}
	err := feed(t, r, h,
		beginWire(0x500, commitAt, 1),
		// FULL flags every column; the key still comes from the catalog.
		ordersRel('f', "id", "note", "body"),
		msg('U').u32(10).u8('O').tuple(text("1"), text("a"), text("big")).u8('N').tuple(text("1"), null(), unchanged()),
		msg('D').u32(10).u8('O').tuple(text("1"), null(), text("big")),
		msg('T').u32(1).u8(0).u32(10),
		commitWire(0x500, 0x528, commitAt),
	)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, h, []string{
		"u shop.orders before=[1 a big] after=[1 <nil> big]",
		"d shop.orders before=[1 <nil> big]",
		"t shop.orders",
	})
	if got := h.events[0].Table.Key; !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("key %v, want [0] (the primary key, not the identity flags)", got)
	}
}

func TestApplySelectionAndProjection(t *testing.T) {
	sel := &sluice.Selection{Include: []string{"shop.*"}, ExcludeColumns: []string{"shop.orders.note"}}
	r, _ := testReader(sel, map[uint32][]string{10: {"id"}})
	h := &recorder{}
	err := feed(t, r, h,
		beginWire(0x500, commitAt, 1),
		ordersRel('d', "id"),
		msg('R').u32(11).str("audit").str("log").u8('d').u16(1).col(true, "id", 23, -1),
		msg('I').u32(11).u8('N').tuple(text("9")),
		msg('U').u32(10).u8('N').tuple(text("1"), text("not converted"), unchanged()),
		msg('T').u32(2).u8(0).u32(11).u32(10),
		commitWire(0x500, 0x528, commitAt),
	)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, h, []string{
		"u shop.orders before=[1 <nil>] na=[1] after=[1 <nil>] na=[1]",
		"t shop.orders",
	})
	if n := len(h.events[0].Table.Columns); n != 2 {
		t.Errorf("captured %d columns, want 2", n)
	}
}

// Promise 6: each change is decoded with the latest Relation message.
func TestApplyShapeChange(t *testing.T) {
	r, sh := testReader(nil, map[uint32][]string{10: {"id"}})
	h := &recorder{}
	rel2 := msg('R').u32(10).str("shop").str("orders").u8('d').u16(2).col(true, "id", 23, -1).col(false, "qty", 23, -1)
	err := feed(t, r, h,
		beginWire(0x500, commitAt, 1),
		ordersRel('d', "id"),
		msg('I').u32(10).u8('N').tuple(text("1"), text("a"), text("b")),
		ordersRel('d', "id"), // the same shape again: the same table
		msg('I').u32(10).u8('N').tuple(text("2"), text("a"), text("b")),
		rel2,
		msg('I').u32(10).u8('N').tuple(text("3"), text("7")),
		commitWire(0x500, 0x528, commitAt),
	)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, h, []string{
		"c shop.orders after=[1 a b]",
		"c shop.orders after=[2 a b]",
		"c shop.orders after=[3 7]",
	})
	if h.events[0].Table != h.events[1].Table {
		t.Error("an unchanged Relation message replaced the table shape")
	}
	if h.events[2].Table.Columns[1].Kind != sluice.KindInt || sh.changes != 2 {
		t.Errorf("new shape %+v after %d catalog refreshes, want qty as int after 2", h.events[2].Table.Columns, sh.changes)
	}
	// A tuple of the old shape under the new one is an error, not a guess.
	err = feed(t, r, h, msg('I').u32(10).u8('N').tuple(text("4"), text("a"), text("b")))
	if err == nil || !errors.Is(err, errMalformed) {
		t.Errorf("old-shaped tuple: %v, want a malformed error", err)
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		msgs []wire
		want string
	}{
		{"change before relation", []string{"id"}, []wire{msg('I').u32(10).u8('N').tuple(text("1"))}, "before its Relation message"},
		{"bad value", []string{"id"}, []wire{ordersRel('d', "id"), msg('I').u32(10).u8('N').tuple(text("x"), null(), null())}, "column id"},
		{"binary value", []string{"id"}, []wire{ordersRel('d', "id"), msg('I').u32(10).u8('N').tuple(tv{valueBinary, "\x00"}, null(), null())}, "sluice asks for text"},
		{"streamed transaction", []string{"id"}, []wire{msg('S').u32(1).u8(1)}, "streaming"},
		// A table keyed by tables.keys on note under REPLICA IDENTITY
		// USING INDEX (id): a delete cannot name its key.
		{"delete without key value", nil, []wire{ordersRel('i', "id"), msg('D').u32(10).u8('K').tuple(text("1"), null(), null())}, "REPLICA IDENTITY FULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := &sluice.Selection{Include: []string{"*"}, Keys: map[string][]string{"shop.orders": {"note"}}}
			r, _ := testReader(sel, map[uint32][]string{10: tc.keys})
			err := feed(t, r, &recorder{}, tc.msgs...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestApplyHandlerErrorStops(t *testing.T) {
	r, _ := testReader(nil, map[uint32][]string{10: {"id"}})
	h := &recorder{failAfter: 1}
	err := feed(t, r, h,
		ordersRel('d', "id"),
		msg('I').u32(10).u8('N').tuple(text("1"), null(), null()),
		msg('I').u32(10).u8('N').tuple(text("2"), null(), null()),
	)
	if err == nil || err.Error() != "downstream refused" {
		t.Errorf("error %v, want the handler's", err)
	}
}

// Keepalives are resumable points only outside transactions, and only
// forward.
func TestKeepalive(t *testing.T) {
	r, _ := testReader(nil, nil)
	r.last = 0x100
	h := &recorder{}
	ctx := context.Background()
	steps := []func() error{
		func() error { return r.keepalive(ctx, 0x200, h) },
		func() error { return r.keepalive(ctx, 0x180, h) }, // behind: ignored
		func() error { return r.apply(ctx, 0x210, beginWire(0x300, commitAt, 5), h) },
		func() error { return r.keepalive(ctx, 0x400, h) }, // inside a transaction: ignored
		func() error { return r.apply(ctx, 0x300, commitWire(0x300, 0x328, commitAt), h) },
		func() error { return r.keepalive(ctx, 0x500, h) },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if want := []uint64{0x200, 0x328, 0x500}; !reflect.DeepEqual(h.resumable, want) {
		t.Errorf("resumable %x, want %x", h.resumable, want)
	}
}

func TestVersionNum(t *testing.T) {
	for in, want := range map[string]int{"16.4": 160004, "14.11 (Debian 14.11-1)": 140011, "17beta1": 170000, "9.6.24": 90600, "": 0} {
		if got := versionNum(in); got != want {
			t.Errorf("versionNum(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestQuoting(t *testing.T) {
	if got := quoteIdent(`we"ird`); got != `"we""ird"` {
		t.Errorf("quoteIdent = %s", got)
	}
	if got := quoteLiteral(quoteIdent("it's")); got != `'"it''s"'` {
		t.Errorf("quoteLiteral = %s", got)
	}
	if got := tableList([]TableName{{"a", "b"}, {"S", "t.x"}}); got != `"a"."b", "S"."t.x"` {
		t.Errorf("tableList = %s", got)
	}
	for _, bad := range []string{"", "Upper", "has-dash", strings.Repeat("a", 64), `x"y`} {
		if ValidateSlotName(bad) == nil {
			t.Errorf("slot name %q accepted", bad)
		}
	}
}

func TestParseSlotState(t *testing.T) {
	st, err := parseSlotState([]byte(`{"slot_name":"s","plugin":"pgoutput","database":"app","temporary":false,"active":true,"active_pid":4242,
		"wal_status":"lost","conflicting":null,"restart_lsn":"0/1500000","confirmed_flush_lsn":"1/2A"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := SlotState{Exists: true, Plugin: "pgoutput", Database: "app", Active: true, ActivePID: 4242, WALStatus: "lost",
		ConfirmedFlush: sluice.Position{LSN: 1<<32 | 0x2A}, Restart: sluice.Position{LSN: 0x1500000}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got %+v\nwant %+v", st, want)
	}
	if err := st.ResumeErr("s", "app"); !errors.Is(err, ErrSlotInvalidated) {
		t.Errorf("lost slot: %v", err)
	}
	st.WALStatus = "reserved"
	if err := st.ResumeErr("s", "app"); !errors.Is(err, ErrSlotActive) || !strings.Contains(err.Error(), "4242") {
		t.Errorf("active slot: %v", err)
	}
	st.Active = false
	if err := st.ResumeErr("s", "app"); err != nil {
		t.Errorf("usable slot: %v", err)
	}
	if err := st.ResumeErr("s", "other"); err == nil {
		t.Error("slot of another database accepted")
	}
	if err := (SlotState{}).ResumeErr("s", "app"); !errors.Is(err, ErrSlotMissing) || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("missing slot: %v", err)
	}
}

func checkEvents(t *testing.T, h *recorder, want []string) {
	t.Helper()
	var got []string
	for _, ev := range h.events {
		got = append(got, show(ev))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// FuzzApply feeds arbitrary message sequences (each prefixed by a
// two-byte length) to a reader: it must return errors, never panic, and
// every event it hands over must fit its table.
func FuzzApply(f *testing.F) {
	frame := func(msgs ...wire) []byte {
		var b wire
		for _, m := range msgs {
			b = b.u16(uint16(len(m))).raw(m)
		}
		return b
	}
	f.Add(frame(beginWire(1, commitAt, 1), ordersRel('d', "id"),
		msg('I').u32(10).u8('N').tuple(text("1"), text("a"), unchanged()),
		msg('U').u32(10).u8('K').tuple(text("1"), null(), null()).u8('N').tuple(text("2"), null(), unchanged()),
		msg('D').u32(10).u8('O').tuple(text("2"), null(), text("b")),
		msg('T').u32(1).u8(0).u32(10), commitWire(1, 2, commitAt)))
	f.Add(frame(ordersRel('f', "id", "note", "body"), msg('U').u32(10).u8('O').tuple(text("1"), unchanged(), text("x")).u8('N').tuple(text("1"), unchanged(), unchanged())))
	f.Add(frame(streamStart(5, true), streamed(5, ordersRel('d', "id")), streamed(6, ins("1")), streamStop(),
		streamAbort(5, 6), streamStart(5, false), streamed(5, ins("2")), streamStop(), streamCommit(5, 1, 2, commitAt)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sel := &sluice.Selection{Include: []string{"*"}, ExcludeColumns: []string{"*.*.body"}, Keys: map[string][]string{"shop.log": {"note"}}}
		r, _ := testReader(sel, map[uint32][]string{10: {"id"}})
		r.streaming, r.spoolDir = true, t.TempDir()
		defer r.dropSpools()
		h := &recorder{}
		for len(data) >= 2 {
			n := int(data[0])<<8 | int(data[1])
			data = data[2:]
			if n > len(data) {
				return
			}
			if err := r.apply(context.Background(), 1, data[:n], h); err != nil {
				return
			}
			data = data[n:]
		}
		for _, ev := range h.events {
			for _, row := range []sluice.Row{ev.Before, ev.After} {
				if row != nil && len(row) != len(ev.Table.Columns) {
					t.Fatalf("%s event row of %d values for %d columns", ev.Op, len(row), len(ev.Table.Columns))
				}
			}
			for _, i := range append(append([]int{}, ev.BeforeUnavailable...), ev.AfterUnavailable...) {
				if i < 0 || i >= len(ev.Table.Columns) {
					t.Fatalf("unavailable column %d of %d", i, len(ev.Table.Columns))
				}
			}
		}
	})
}

// A Relation message that repeats the columns still re-reads the key: a
// primary key added under REPLICA IDENTITY FULL changes no column flag.
func TestApplyKeyFromCatalogOnRepeatedRelation(t *testing.T) {
	r, sh := testReader(nil, map[uint32][]string{})
	h := &recorder{}
	full := ordersRel('f', "id", "note", "body")
	if err := feed(t, r, h, full, msg('I').u32(10).u8('N').tuple(text("1"), null(), null())); err != nil {
		t.Fatal(err)
	}
	sh.keys[10] = []string{"id"}
	if err := feed(t, r, h, full, msg('I').u32(10).u8('N').tuple(text("2"), null(), null())); err != nil {
		t.Fatal(err)
	}
	if k0, k1 := h.events[0].Table.Key, h.events[1].Table.Key; len(k0) != 0 || !reflect.DeepEqual(k1, []int{0}) {
		t.Errorf("keys %v then %v, want none then [0]", k0, k1)
	}
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestRunGivesUp: with nothing listening, Run retries MaxReconnects times
// with the retry policy's growing waits, logging each, and then returns
// the last error.
func TestRunGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const first = 20 * time.Millisecond
	logs := &lockedBuffer{}
	r := New(Config{Name: "pg", Conn: connConf(t, "postgres://sluice@"+addr+"/app?sslmode=disable&connect_timeout=5"), Slot: "s", Publication: "p",
		ReconnectBackoff: first, MaxReconnects: 3, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	r.newShaper = func(context.Context) (shaper, func(), error) { return &fakeShaper{}, func() {}, nil }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = r.Run(ctx, sluice.Position{LSN: 0x1000}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "pgoutput: giving up after 3 reconnect attempts") || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Run returned %v; want it to give up after 3 reconnect attempts on the refused connection", err)
	}
	var waits []time.Duration
	for _, line := range bytes.Split(logs.b.Bytes(), []byte("\n")) {
		var rec struct {
			Msg  string        `json:"msg"`
			LSN  string        `json:"lsn"`
			Wait time.Duration `json:"wait"`
		}
		if len(line) == 0 || json.Unmarshal(line, &rec) != nil || rec.Msg != "replication connection lost; reconnecting from the last transaction boundary" {
			continue
		}
		if rec.LSN != "0/1000" {
			t.Errorf("reconnect logged lsn %q, want 0/1000", rec.LSN)
		}
		waits = append(waits, rec.Wait)
	}
	if len(waits) != 3 {
		t.Fatalf("%d reconnect log lines, want 3:\n%s", len(waits), logs.b.String())
	}
	for i, mid := range []time.Duration{first, 2 * first, 4 * first} {
		if d := waits[i]; d < mid*8/10 || d > mid*12/10 {
			t.Errorf("wait %d = %v, want within ±20%% of %v", i+1, d, mid)
		}
	}
}
