package pgoutput

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// streamed returns m as sent inside a block of streamed changes: the
// (sub)transaction's xid after the type byte.
func streamed(xid uint32, m wire) wire { return msg(m[0]).u32(xid).raw(m[1:]) }

func streamStart(xid uint32, first bool) wire {
	f := byte(0)
	if first {
		f = 1
	}
	return msg('S').u32(xid).u8(f)
}

func streamStop() wire { return msg('E') }

func streamCommit(xid uint32, commit, end uint64, at time.Time) wire {
	return msg('c').u32(xid).u8(0).u64(commit).u64(end).ts(at)
}

func streamAbort(xid, sub uint32) wire { return msg('A').u32(xid).u32(sub) }

// streamingReader is testReader with streaming negotiated and its spools
// in a temporary directory.
func streamingReader(t *testing.T) *Reader {
	t.Helper()
	r, _ := testReader(nil, map[uint32][]string{10: {"id"}})
	r.streaming = true
	r.spoolDir = t.TempDir()
	return r
}

func ins(id string) wire { return msg('I').u32(10).u8('N').tuple(text(id), null(), null()) }

// Streamed transactions reach the handler at their commit, in commit
// order, without aborted subtransactions, and aborted ones not at all;
// a plain transaction between their blocks passes straight through.
func TestStreamedTransactions(t *testing.T) {
	r := streamingReader(t)
	h := &recorder{}
	later := commitAt.Add(time.Minute)
	rel := ordersRel('d', "id")
	err := feed(t, r, h,
		streamStart(100, true), streamed(100, rel), streamed(100, ins("1")), streamed(101, ins("2")), streamStop(),
		// A plain transaction, sent whole between the blocks.
		beginWire(0x250, commitAt, 150), rel, ins("9"), commitWire(0x250, 0x300, commitAt),
		streamStart(200, true), streamed(200, rel), streamed(200, ins("20")), streamStop(),
		streamStart(100, false), streamed(102, ins("3")), streamStop(),
		// ROLLBACK TO the savepoint of subtransaction 102.
		streamAbort(100, 102),
		streamStart(100, false), streamed(100, ins("4")), streamStop(),
		streamCommit(200, 0x380, 0x400, later),
		streamCommit(100, 0x480, 0x500, later),
		// A streamed transaction that rolls back.
		streamStart(300, true), streamed(300, rel), streamed(300, ins("30")), streamStop(),
		streamAbort(300, 301), streamAbort(300, 300),
	)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, h, []string{
		"c shop.orders after=[9 <nil> <nil>]",
		"c shop.orders after=[20 <nil> <nil>]",
		"c shop.orders after=[1 <nil> <nil>]",
		"c shop.orders after=[2 <nil> <nil>]",
		"c shop.orders after=[4 <nil> <nil>]",
	})
	if want := []uint64{0x300, 0x400, 0x500}; !reflect.DeepEqual(h.resumable, want) {
		t.Errorf("resumable %x, want %x", h.resumable, want)
	}
	for _, ev := range h.events[1:] {
		if !ev.Source.CommitTime.Equal(later) {
			t.Errorf("streamed event's commit time %v, want the Stream Commit's %v", ev.Source.CommitTime, later)
		}
	}
	// Each event keeps the WAL position its message was sent at: id 4 is
	// the 19th message fed from 0x100.
	if got := h.events[4].Source.Position.LSN; got != 0x100+18 {
		t.Errorf("position of id 4: %#x, want %#x", got, 0x100+18)
	}
	if len(r.spools) != 0 {
		t.Errorf("spools left: %v", r.spools)
	}
	if files, _ := os.ReadDir(r.spoolDir); len(files) != 0 {
		t.Errorf("spool files left: %v", files)
	}
}

// A Relation message inside a streamed transaction shapes the changes
// after it, as in a transaction sent whole (promise 6).
func TestStreamedShapeChange(t *testing.T) {
	r := streamingReader(t)
	h := &recorder{}
	wider := msg('R').u32(10).str("shop").str("orders").u8('d').u16(4).
		col(true, "id", 23, -1).col(false, "note", 25, -1).col(false, "body", 25, -1).col(false, "extra", 25, -1)
	err := feed(t, r, h,
		streamStart(7, true), streamed(7, ordersRel('d', "id")), streamed(7, ins("1")), streamStop(),
		streamStart(7, false), streamed(7, wider), streamed(7, msg('I').u32(10).u8('N').tuple(text("2"), null(), null(), text("x"))), streamStop(),
		streamCommit(7, 0x900, 0x928, commitAt),
	)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, h, []string{
		"c shop.orders after=[1 <nil> <nil>]",
		"c shop.orders after=[2 <nil> <nil> x]",
	})
}

// Malformed streams stop the reader with errMalformed.
func TestStreamedMalformed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		streaming bool
		msgs      []wire
	}{
		{"not asked for", false, []wire{streamStart(1, true)}},
		{"later block of an unknown transaction", true, []wire{streamStart(1, false)}},
		{"begin inside a block", true, []wire{streamStart(1, true), beginWire(1, commitAt, 2)}},
		{"nested start", true, []wire{streamStart(1, true), streamStart(2, true)}},
		{"stop outside a block", true, []wire{streamStop()}},
		{"commit inside a block", true, []wire{streamStart(1, true), streamCommit(1, 2, 3, commitAt)}},
		{"abort inside a block", true, []wire{streamStart(1, true), streamAbort(1, 1)}},
		{"change without its xid", true, []wire{streamStart(1, true), msg('I').u8(0)}},
		{"start inside a transaction", true, []wire{beginWire(1, commitAt, 2), streamStart(1, true)}},
		{"streamed begin replayed", true, []wire{streamStart(1, true), streamed(1, ordersRel('d', "id")), streamStop(),
			// A corrupt change inside the spool fails at the commit.
			streamStart(1, false), streamed(1, msg('I').u32(10).u8('X')), streamStop(), streamCommit(1, 2, 3, commitAt)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := streamingReader(t)
			r.streaming = tc.streaming
			err := feed(t, r, &recorder{}, tc.msgs...)
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v, want a malformed-message error", err)
			}
		})
	}
}

// The spool keeps records across its buffer, truncates at an aborted
// subtransaction's first change and reads back what is left in order.
func TestSpool(t *testing.T) {
	sp, err := openSpool(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 3*spoolBuffer)
	add := func(lsn uint64, xid uint32, payload string) {
		t.Helper()
		if err := sp.add(lsn, xid, 'I', []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	add(1, 5, "top")
	add(2, 6, "sub6")
	add(3, 7, "sub7, child of 6")
	if err := sp.add(4, 7, 'I', big); err != nil {
		t.Fatal(err)
	}
	add(5, 6, "sub6 again")
	if err := sp.abortSub(99); err != nil { // no changes: nothing to do
		t.Fatal(err)
	}
	// ROLLBACK TO 6's savepoint aborts 7 (released into 6) and 6.
	for _, x := range []uint32{7, 6} {
		if err := sp.abortSub(x); err != nil {
			t.Fatal(err)
		}
	}
	add(6, 5, "top again")
	add(7, 8, "sub8")
	if err := sp.add(8, 8, 'U', big[:spoolBuffer+1]); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = sp.replay(func(lsn uint64, m []byte) error {
		s := string(m)
		if len(s) > 20 {
			s = s[:1] + "…"
		}
		got = append(got, string(rune('0'+lsn))+":"+s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1:Itop", "6:Itop again", "7:Isub8", "8:U…"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replayed %q, want %q", got, want)
	}
	st, err := sp.f.Stat()
	if err != nil || st.Size() != sp.size {
		t.Errorf("file size %v (%v), want %d", st.Size(), err, sp.size)
	}
	path := sp.path
	if err := sp.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spool file still there: %v", err)
	}
}

// A spool that cannot be written names the directory and the setting.
func TestSpoolErrors(t *testing.T) {
	r := streamingReader(t)
	r.spoolDir = "/proc/sluice-no-such-dir"
	err := feed(t, r, &recorder{}, streamStart(1, true))
	if err == nil || !errors.Is(err, errSpool) || !strings.Contains(err.Error(), "source.spool_dir") || Retryable(err) {
		t.Fatalf("error %v, want a spool error naming source.spool_dir that is not retried", err)
	}
	r.cfg.SpoolDir = "/proc/sluice-no-such-dir"
	if err := r.openSpoolDir(); err == nil || !strings.Contains(err.Error(), "source.spool_dir") {
		t.Fatalf("openSpoolDir: %v", err)
	}
}

func TestCheckSpoolDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckSpoolDir(dir, "s1"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir + "/sluice-s1"); err != nil || len(entries) != 0 {
		t.Errorf("check left %v (%v)", entries, err)
	}
	err := CheckSpoolDir("/proc/sluice-no-such-dir", "s1")
	if err == nil || !strings.Contains(err.Error(), "source.spool_dir") || !strings.Contains(err.Error(), "/proc/sluice-no-such-dir/sluice-s1") {
		t.Errorf("unwritable directory: %v", err)
	}
	if !StreamsInProgress("14.1") || !StreamsInProgress("15.4 (Debian 15.4-1)") || StreamsInProgress("13.9") {
		t.Error("StreamsInProgress")
	}
}

// A replay longer than the batches between its two goroutines keeps the
// order; a handler that fails stops it with the handler's error.
func TestStreamedReplayBatches(t *testing.T) {
	const n = 5*replayBatch*replayBatches + 7
	msgs := []wire{streamStart(3, true), streamed(3, ordersRel('d', "id"))}
	for i := 1; i <= n; i++ {
		msgs = append(msgs, streamed(3, ins(strconv.Itoa(i))))
	}
	msgs = append(msgs, streamStop(), streamCommit(3, 0x900, 0x928, commitAt))

	r := streamingReader(t)
	h := &recorder{}
	if err := feed(t, r, h, msgs...); err != nil {
		t.Fatal(err)
	}
	if len(h.events) != n || !reflect.DeepEqual(h.resumable, []uint64{0x928}) {
		t.Fatalf("%d events, resumable %x; want %d and [928]", len(h.events), h.resumable, n)
	}
	for i, ev := range h.events {
		if want := strconv.Itoa(i + 1); fmt.Sprint(ev.After[0]) != want {
			t.Fatalf("event %d holds id %v, want %s", i, ev.After[0], want)
		}
	}

	r = streamingReader(t)
	h = &recorder{failAfter: replayBatch + 3}
	err := feed(t, r, h, msgs...)
	if err == nil || err.Error() != "downstream refused" {
		t.Fatalf("error %v, want the handler's", err)
	}
	if len(h.resumable) != 0 {
		t.Errorf("resumable %x after a failed replay", h.resumable)
	}
}
