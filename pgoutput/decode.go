package pgoutput

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The pgoutput message decoder. It reads the logical replication protocol
// (protocol versions 1 and 2, streamed transactions included) from a byte
// slice, with no network and no state, so that it can be tested and fuzzed
// offline. It never panics on malformed input and never allocates more than
// a small multiple of the input's length: every count read from the message
// is checked against the bytes that remain before anything is allocated.
//
// Decoded tuple values alias the input; callers that keep them past the
// next message must copy them.

// errMalformed is wrapped by every error the decoder returns.
var errMalformed = errors.New("malformed pgoutput message")

// pgEpoch is PostgreSQL's timestamp origin, 2000-01-01 UTC.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// beginMsg opens a transaction ('B').
type beginMsg struct {
	FinalLSN   uint64 // the commit record's LSN
	CommitTime time.Time
	Xid        uint32
}

// commitMsg ends a transaction ('C').
type commitMsg struct {
	Flags      uint8
	CommitLSN  uint64 // the commit record's LSN
	EndLSN     uint64 // the end of the commit record: where a restart resumes
	CommitTime time.Time
}

// originMsg names the origin of a replicated transaction ('O').
type originMsg struct {
	LSN  uint64
	Name string
}

// relationColumn is one column of a relationMsg.
type relationColumn struct {
	// Key is set for the columns of the replica identity (flag 1).
	Key     bool
	Name    string
	TypeOID uint32
	Typmod  int32
}

// relationMsg describes a table's shape ('R'); it precedes the first
// change of a table in a session and follows every change of its shape.
type relationMsg struct {
	ID              uint32
	Namespace       string
	Name            string
	ReplicaIdentity byte // 'd' default, 'n' nothing, 'f' full, 'i' index
	Columns         []relationColumn
}

// typeMsg describes a non-built-in data type ('Y').
type typeMsg struct {
	OID       uint32
	Namespace string
	Name      string
}

// The kinds of a tuple value.
const (
	valueNull      = 'n'
	valueUnchanged = 'u' // unchanged TOASTed value: not sent
	valueText      = 't'
	valueBinary    = 'b'
)

// tupleValue is one column value of a tuple.
type tupleValue struct {
	Kind byte
	Data []byte // for valueText and valueBinary; aliases the message
}

// insertMsg is an inserted row ('I').
type insertMsg struct {
	RelationID uint32
	New        []tupleValue
}

// updateMsg is an updated row ('U'). OldKind is 'K' (replica identity
// columns only), 'O' (the whole old row, REPLICA IDENTITY FULL) or 0 (no
// old row sent: the replica identity did not change).
type updateMsg struct {
	RelationID uint32
	OldKind    byte
	Old        []tupleValue
	New        []tupleValue
}

// deleteMsg is a deleted row ('D'). OldKind is 'K' or 'O' as for updates.
type deleteMsg struct {
	RelationID uint32
	OldKind    byte
	Old        []tupleValue
}

// truncateMsg empties tables ('T').
type truncateMsg struct {
	Options     uint8 // 1 CASCADE, 2 RESTART IDENTITY
	RelationIDs []uint32
}

// logicalMsg is a pg_logical_emit_message payload ('M'); sluice ignores it.
type logicalMsg struct {
	Transactional bool
	LSN           uint64
	Prefix        string
	Content       []byte
}

// streamStartMsg opens a block of changes of an in-progress transaction
// ('S'). Until the matching streamStopMsg, every Relation, Type, Insert,
// Update, Delete, Truncate and Message message carries the xid of the
// (sub)transaction it belongs to after its type byte (see streamedXid).
type streamStartMsg struct {
	Xid   uint32 // the top-level transaction
	First bool   // the transaction's first block
}

// streamStopMsg closes a block of streamed changes ('E').
type streamStopMsg struct{}

// streamCommitMsg commits a streamed transaction ('c'); no Begin message
// precedes a streamed transaction.
type streamCommitMsg struct {
	Xid        uint32
	Flags      uint8
	CommitLSN  uint64
	EndLSN     uint64
	CommitTime time.Time
}

// streamAbortMsg aborts a streamed transaction ('A'), or only one of its
// subtransactions when SubXid differs from Xid.
type streamAbortMsg struct {
	Xid    uint32
	SubXid uint32
}

// carriesXid reports whether a message of type typ carries the
// (sub)transaction's xid after its type byte when it is sent inside a
// block of streamed changes.
func carriesXid(typ byte) bool {
	switch typ {
	case 'R', 'Y', 'I', 'U', 'D', 'T', 'M':
		return true
	}
	return false
}

// streamedXid splits a message sent inside a block of streamed changes
// into the xid it carries and its payload: the bytes after the xid, which
// with the type byte in front form the same message as outside a stream.
func streamedXid(data []byte) (uint32, []byte, error) {
	if len(data) < 5 {
		return 0, nil, fmt.Errorf("%w: streamed %q message of %d bytes has no xid", errMalformed, data[0], len(data))
	}
	return binary.BigEndian.Uint32(data[1:5]), data[5:], nil
}

// decodeMessage decodes one pgoutput message. It returns one of the *Msg
// types above.
func decodeMessage(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", errMalformed)
	}
	d := &decoder{b: data[1:], typ: data[0]}
	var m any
	switch data[0] {
	case 'B':
		m = &beginMsg{FinalLSN: d.u64(), CommitTime: d.time(), Xid: d.u32()}
	case 'C':
		m = &commitMsg{Flags: d.u8(), CommitLSN: d.u64(), EndLSN: d.u64(), CommitTime: d.time()}
	case 'O':
		m = &originMsg{LSN: d.u64(), Name: d.str()}
	case 'R':
		r := &relationMsg{ID: d.u32(), Namespace: d.str(), Name: d.str(), ReplicaIdentity: d.u8()}
		n := int(d.u16())
		// Each column takes at least 10 bytes: flags, an empty name's
		// terminator, type OID and typmod.
		if d.err == nil && n*10 > len(d.b) {
			d.fail("relation declares %d columns in %d bytes", n, len(d.b))
		}
		if d.err == nil {
			r.Columns = make([]relationColumn, n)
			for i := range r.Columns {
				c := &r.Columns[i]
				c.Key = d.u8()&1 != 0
				c.Name = d.str()
				c.TypeOID = d.u32()
				c.Typmod = int32(d.u32())
			}
		}
		m = r
	case 'Y':
		m = &typeMsg{OID: d.u32(), Namespace: d.str(), Name: d.str()}
	case 'I':
		ins := &insertMsg{RelationID: d.u32()}
		if k := d.u8(); d.err == nil && k != 'N' {
			d.fail("insert tuple marker %q, want 'N'", k)
		}
		ins.New = d.tuple()
		m = ins
	case 'U':
		up := &updateMsg{RelationID: d.u32()}
		k := d.u8()
		if k == 'K' || k == 'O' {
			up.OldKind = k
			up.Old = d.tuple()
			k = d.u8()
		}
		if d.err == nil && k != 'N' {
			d.fail("update tuple marker %q, want 'K', 'O' or 'N'", k)
		}
		up.New = d.tuple()
		m = up
	case 'D':
		del := &deleteMsg{RelationID: d.u32(), OldKind: d.u8()}
		if d.err == nil && del.OldKind != 'K' && del.OldKind != 'O' {
			d.fail("delete tuple marker %q, want 'K' or 'O'", del.OldKind)
		}
		del.Old = d.tuple()
		m = del
	case 'T':
		n := int(d.u32())
		t := &truncateMsg{Options: d.u8()}
		if d.err == nil && n > len(d.b)/4 {
			d.fail("truncate names %d relations in %d bytes", n, len(d.b))
		}
		if d.err == nil {
			t.RelationIDs = make([]uint32, n)
			for i := range t.RelationIDs {
				t.RelationIDs[i] = d.u32()
			}
		}
		m = t
	case 'M':
		lm := &logicalMsg{Transactional: d.u8()&1 != 0, LSN: d.u64(), Prefix: d.str()}
		lm.Content = d.bytes(int(d.u32()))
		m = lm
	case 'S':
		m = &streamStartMsg{Xid: d.u32(), First: d.u8() == 1}
	case 'E':
		m = &streamStopMsg{}
	case 'c':
		m = &streamCommitMsg{Xid: d.u32(), Flags: d.u8(), CommitLSN: d.u64(), EndLSN: d.u64(), CommitTime: d.time()}
	case 'A':
		m = &streamAbortMsg{Xid: d.u32(), SubXid: d.u32()}
	default:
		return nil, fmt.Errorf("%w: unknown message type %q", errMalformed, data[0])
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %q message has %d trailing bytes", errMalformed, data[0], len(d.b))
	}
	return m, nil
}

// decoder reads big-endian fields; after the first error every read
// returns zero values and the error stays.
type decoder struct {
	b   []byte
	typ byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %q message: %s", errMalformed, d.typ, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated: need %d bytes, have %d", n, len(d.b))
		return false
	}
	return true
}

func (d *decoder) u8() byte {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// time reads a PostgreSQL timestamp: microseconds since 2000-01-01 UTC.
func (d *decoder) time() time.Time {
	us := int64(d.u64())
	if d.err != nil {
		return time.Time{}
	}
	return pgEpoch.Add(time.Duration(us/1e6) * time.Second).Add(time.Duration(us%1e6) * time.Microsecond)
}

// str reads a NUL-terminated string.
func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	for i, c := range d.b {
		if c == 0 {
			s := string(d.b[:i])
			d.b = d.b[i+1:]
			return s
		}
	}
	d.fail("unterminated string")
	return ""
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// tuple reads TupleData: a column count, then per column a kind byte and,
// for text and binary values, a length and the bytes.
func (d *decoder) tuple() []tupleValue {
	n := int(d.u16())
	if d.err == nil && n > len(d.b) { // every value takes at least its kind byte
		d.fail("tuple declares %d values in %d bytes", n, len(d.b))
	}
	if d.err != nil {
		return nil
	}
	vals := make([]tupleValue, n)
	for i := range vals {
		k := d.u8()
		vals[i].Kind = k
		switch k {
		case valueNull, valueUnchanged:
		case valueText, valueBinary:
			l := d.u32()
			if d.err == nil && uint64(l) > uint64(len(d.b)) {
				d.fail("value %d declares %d bytes, %d remain", i, l, len(d.b))
			}
			vals[i].Data = d.bytes(int(l))
		default:
			if d.err == nil {
				d.fail("value %d has unknown kind %q", i, k)
			}
		}
		if d.err != nil {
			return nil
		}
	}
	return vals
}
