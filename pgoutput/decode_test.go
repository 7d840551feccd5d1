package pgoutput

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"
)

// wire builds pgoutput messages by hand, as the server encodes them.
type wire []byte

func msg(typ byte) wire              { return wire{typ} }
func (w wire) u8(v byte) wire        { return append(w, v) }
func (w wire) u16(v uint16) wire     { return binary.BigEndian.AppendUint16(w, v) }
func (w wire) u32(v uint32) wire     { return binary.BigEndian.AppendUint32(w, v) }
func (w wire) u64(v uint64) wire     { return binary.BigEndian.AppendUint64(w, v) }
func (w wire) str(s string) wire     { return append(append(w, s...), 0) }
func (w wire) raw(b []byte) wire     { return append(w, b...) }
func (w wire) ts(t time.Time) wire   { return w.u64(uint64(t.Sub(pgEpoch).Microseconds())) }
func (w wire) tuple(vals ...tv) wire { return w.u16(uint16(len(vals))).raw(tupleBytes(vals)) }
func text(s string) tv               { return tv{valueText, s} }
func null() tv                       { return tv{kind: valueNull} }
func unchanged() tv                  { return tv{kind: valueUnchanged} }
func (w wire) col(key bool, name string, oid uint32, typmod int32) wire {
	var f byte
	if key {
		f = 1
	}
	return w.u8(f).str(name).u32(oid).u32(uint32(typmod))
}

// tv is a tuple value for the builder.
type tv struct {
	kind byte
	s    string
}

func tupleBytes(vals []tv) []byte {
	var b wire
	for _, v := range vals {
		b = b.u8(v.kind)
		if v.kind == valueText || v.kind == valueBinary {
			b = b.u32(uint32(len(v.s))).raw([]byte(v.s))
		}
	}
	return b
}

func beginWire(final uint64, at time.Time, xid uint32) wire {
	return msg('B').u64(final).ts(at).u32(xid)
}

func commitWire(commit, end uint64, at time.Time) wire {
	return msg('C').u8(0).u64(commit).u64(end).ts(at)
}

var commitAt = time.Date(2026, 11, 30, 12, 34, 56, 789012000, time.UTC)

func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   wire
		want any
	}{
		{"begin", beginWire(0x1_0000_0010, commitAt, 77), &beginMsg{FinalLSN: 0x1_0000_0010, CommitTime: commitAt, Xid: 77}},
		{"commit", commitWire(0x20, 0x48, commitAt), &commitMsg{CommitLSN: 0x20, EndLSN: 0x48, CommitTime: commitAt}},
		{"origin", msg('O').u64(9).str("up"), &originMsg{LSN: 9, Name: "up"}},
		{"relation", msg('R').u32(16384).str("shop").str("orders").u8('d').u16(2).
			col(true, "id", 23, -1).col(false, "note", 1043, 36),
			&relationMsg{ID: 16384, Namespace: "shop", Name: "orders", ReplicaIdentity: 'd', Columns: []relationColumn{
				{Key: true, Name: "id", TypeOID: 23, Typmod: -1}, {Name: "note", TypeOID: 1043, Typmod: 36}}}},
		{"relation without columns", msg('R').u32(1).str("s").str("t").u8('f').u16(0),
			&relationMsg{ID: 1, Namespace: "s", Name: "t", ReplicaIdentity: 'f', Columns: []relationColumn{}}},
		{"type", msg('Y').u32(90000).str("shop").str("mood"), &typeMsg{OID: 90000, Namespace: "shop", Name: "mood"}},
		{"insert", msg('I').u32(5).u8('N').tuple(text("1"), null(), text("")),
			&insertMsg{RelationID: 5, New: []tupleValue{{valueText, []byte("1")}, {Kind: valueNull}, {valueText, []byte{}}}}},
		{"update without old", msg('U').u32(5).u8('N').tuple(text("1"), unchanged()),
			&updateMsg{RelationID: 5, New: []tupleValue{{valueText, []byte("1")}, {Kind: valueUnchanged}}}},
		{"update with key", msg('U').u32(5).u8('K').tuple(text("1"), null()).u8('N').tuple(text("2"), text("x")),
			&updateMsg{RelationID: 5, OldKind: 'K', Old: []tupleValue{{valueText, []byte("1")}, {Kind: valueNull}},
				New: []tupleValue{{valueText, []byte("2")}, {valueText, []byte("x")}}}},
		{"update with old row", msg('U').u32(5).u8('O').tuple(text("1"), text("a")).u8('N').tuple(text("1"), text("b")),
			&updateMsg{RelationID: 5, OldKind: 'O', Old: []tupleValue{{valueText, []byte("1")}, {valueText, []byte("a")}},
				New: []tupleValue{{valueText, []byte("1")}, {valueText, []byte("b")}}}},
		{"delete", msg('D').u32(5).u8('K').tuple(text("1")),
			&deleteMsg{RelationID: 5, OldKind: 'K', Old: []tupleValue{{valueText, []byte("1")}}}},
		{"truncate", msg('T').u32(2).u8(3).u32(5).u32(6), &truncateMsg{Options: 3, RelationIDs: []uint32{5, 6}}},
		{"logical message", msg('M').u8(1).u64(7).str("p").u32(2).raw([]byte("hi")),
			&logicalMsg{Transactional: true, LSN: 7, Prefix: "p", Content: []byte("hi")}},
		{"stream start", msg('S').u32(1).u8(1), &streamStartMsg{Xid: 1, First: true}},
		{"stream start, later block", msg('S').u32(9).u8(0), &streamStartMsg{Xid: 9}},
		{"stream stop", msg('E'), &streamStopMsg{}},
		{"stream commit", msg('c').u32(9).u8(0).u64(100).u64(148).u64(1_000_000),
			&streamCommitMsg{Xid: 9, CommitLSN: 100, EndLSN: 148, CommitTime: pgEpoch.Add(time.Second)}},
		{"stream abort", msg('A').u32(9).u32(12), &streamAbortMsg{Xid: 9, SubXid: 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeMessage(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   wire
	}{
		{"empty", wire{}},
		{"unknown type", msg('Z')},
		{"short begin", msg('B').u64(1)},
		{"commit with trailing bytes", commitWire(1, 2, commitAt).u8(0)},
		{"unterminated string", msg('O').u64(1).raw([]byte("abc"))},
		{"relation claims many columns", msg('R').u32(1).str("s").str("t").u8('d').u16(60000)},
		{"insert without N", msg('I').u32(1).u8('X').tuple(text("1"))},
		{"tuple claims many values", msg('I').u32(1).u8('N').u16(500).u8('n')},
		{"value longer than message", msg('I').u32(1).u8('N').u16(1).u8('t').u32(1 << 30).raw([]byte("ab"))},
		{"unknown value kind", msg('I').u32(1).u8('N').tuple(tv{kind: 'q'})},
		{"update with two old tuples", msg('U').u32(1).u8('K').tuple(text("1")).u8('O').tuple(text("1"))},
		{"delete without old tuple", msg('D').u32(1).u8('N').tuple(text("1"))},
		{"truncate claims many relations", msg('T').u32(1 << 30).u8(0).u32(1)},
		{"logical message content too long", msg('M').u8(0).u64(1).str("p").u32(99).raw([]byte("x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeMessage(tc.in)
			if err == nil {
				t.Fatalf("decoded %#v, want an error", m)
			}
			if !errors.Is(err, errMalformed) {
				t.Errorf("error %v does not wrap errMalformed", err)
			}
		})
	}
}

// FuzzDecodeMessage feeds arbitrary bytes to the decoder: it must never
// panic, and whatever it accepts it must account for byte by byte (no
// allocation beyond what the input can fill).
func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range []wire{
		beginWire(1, commitAt, 2),
		commitWire(1, 2, commitAt),
		msg('R').u32(16384).str("shop").str("orders").u8('d').u16(2).col(true, "id", 23, -1).col(false, "note", 25, -1),
		msg('I').u32(5).u8('N').tuple(text("1"), null(), unchanged()),
		msg('U').u32(5).u8('O').tuple(text("1"), text("a")).u8('N').tuple(text("1"), text("b")),
		msg('D').u32(5).u8('K').tuple(text("1")),
		msg('T').u32(2).u8(3).u32(5).u32(6),
		msg('M').u8(1).u64(7).str("p").u32(2).raw([]byte("hi")),
		msg('Y').u32(1).str("a").str("b"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		var values int
		switch m := m.(type) {
		case *insertMsg:
			values = len(m.New)
		case *updateMsg:
			values = len(m.Old) + len(m.New)
		case *deleteMsg:
			values = len(m.Old)
		case *relationMsg:
			values = len(m.Columns)
		case *truncateMsg:
			values = len(m.RelationIDs)
		}
		if values > len(data) {
			t.Fatalf("%d values decoded from %d bytes", values, len(data))
		}
	})
}
