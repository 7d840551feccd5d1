package pgoutput

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-cdc/sluice"
)

// fakeWalsender is a loopback server that speaks just enough of the
// replication protocol for one Reader: start-up, START_REPLICATION, then
// whatever the test sends, while it collects the standby status updates.
type fakeWalsender struct {
	t       *testing.T
	ln      net.Listener
	startup chan map[string]string
	query   chan string
	status  chan [3]uint64 // write, flush, apply
	mu      sync.Mutex
	be      *pgproto3.Backend
	conn    net.Conn
}

func newFakeWalsender(t *testing.T) *fakeWalsender {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeWalsender{t: t, ln: ln, startup: make(chan map[string]string, 4), query: make(chan string, 4), status: make(chan [3]uint64, 64)}
}

func (f *fakeWalsender) dsn() string {
	return fmt.Sprintf("postgres://sluice@%s/app?sslmode=disable&connect_timeout=5", f.ln.Addr())
}

// accept serves the next connection up to the start of the stream and
// then reads what the client sends.
func (f *fakeWalsender) accept() {
	conn, err := f.ln.Accept()
	if err != nil {
		f.t.Error(err)
		return
	}
	be := pgproto3.NewBackend(conn, conn)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		f.t.Error(err)
		return
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		f.t.Errorf("start-up message %T", msg)
		return
	}
	f.startup <- sm.Parameters
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "16.4"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		f.t.Error(err)
		return
	}
	msg, err = be.Receive()
	if err != nil {
		f.t.Error(err)
		return
	}
	q, ok := msg.(*pgproto3.Query)
	if !ok {
		f.t.Errorf("query message %T", msg)
		return
	}
	f.query <- q.String
	be.Send(&pgproto3.CopyBothResponse{})
	if err := be.Flush(); err != nil {
		f.t.Error(err)
		return
	}
	f.mu.Lock()
	f.be, f.conn = be, conn
	f.mu.Unlock()
	go func() {
		for {
			msg, err := be.Receive()
			if err != nil {
				return
			}
			if cd, ok := msg.(*pgproto3.CopyData); ok && len(cd.Data) >= 25 && cd.Data[0] == 'r' {
				d := cd.Data[1:]
				f.status <- [3]uint64{binary.BigEndian.Uint64(d), binary.BigEndian.Uint64(d[8:]), binary.BigEndian.Uint64(d[16:])}
			}
		}
	}()
}

func (f *fakeWalsender) send(msgs ...pgproto3.BackendMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		f.be.Send(m)
	}
	if err := f.be.Flush(); err != nil {
		f.t.Error(err)
	}
}

func xlog(at uint64, m wire) *pgproto3.CopyData {
	d := wire{'w'}.u64(at).u64(at).u64(0).raw(m)
	return &pgproto3.CopyData{Data: d}
}

func keepaliveMsg(walEnd uint64, reply bool) *pgproto3.CopyData {
	d := wire{'k'}.u64(walEnd).u64(0)
	if reply {
		return &pgproto3.CopyData{Data: d.u8(1)}
	}
	return &pgproto3.CopyData{Data: d.u8(0)}
}

// nextStatus returns the next status update, skipping periodic ones that
// report want's predecessors.
func (f *fakeWalsender) expectStatus(want uint64) {
	f.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-f.status:
			if s[0] != s[1] || s[1] != s[2] {
				f.t.Fatalf("status %x: write, flush and apply differ", s)
			}
			if s[1] == want {
				return
			}
			if s[1] > want {
				f.t.Fatalf("status reports %x, past the acknowledged %x", s[1], want)
			}
		case <-deadline:
			f.t.Fatalf("no status update reporting %x", want)
		}
	}
}

// The reader reports only what Acked returns, answers keepalives that ask
// for a reply at once, reports periodically, and after a lost connection
// restarts from the last resumable position.
func TestStreamFeedbackAndReconnect(t *testing.T) {
	f := newFakeWalsender(t)
	h := &recorder{}
	var mu sync.Mutex
	var acked sluice.Position
	r := New(Config{Name: "pg", Conn: connConf(t, f.dsn()), Slot: "s", Publication: "p", StatusInterval: 100 * time.Millisecond,
		ReconnectBackoff: 10 * time.Millisecond, Logger: quiet(),
		Acked: func() (sluice.Position, bool) {
			mu.Lock()
			defer mu.Unlock()
			return acked, acked.LSN != 0
		}})
	r.newShaper = func(context.Context) (shaper, func(), error) {
		return &fakeShaper{keys: map[uint32][]string{10: {"id"}}}, func() {}, nil
	}
	ack := func(lsn uint64) {
		mu.Lock()
		acked = sluice.Position{LSN: lsn}
		mu.Unlock()
	}
	// The handler runs on the reader's goroutine; the test reads what it
	// recorded only after Run returned.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sluice.Position{LSN: 0x1000}, h) }()

	f.accept()
	params := <-f.startup
	if params["replication"] != "database" || params["TimeZone"] != "UTC" || params["IntervalStyle"] != "iso_8601" {
		t.Errorf("start-up parameters %v lack replication=database or the session settings", params)
	}
	if q := <-f.query; q != `START_REPLICATION SLOT "s" LOGICAL 0/1000 (proto_version '2', publication_names '"p"')` {
		t.Errorf("command %q", q)
	}

	f.send(
		xlog(0x1800, beginWire(0x1f00, commitAt, 9)),
		xlog(0x1800, ordersRel('d', "id")),
		xlog(0x1900, msg('I').u32(10).u8('N').tuple(text("1"), null(), null())),
		xlog(0x1f00, commitWire(0x1f00, 0x2000, commitAt)),
		keepaliveMsg(0x3000, true),
	)
	f.expectStatus(0x1000) // nothing acknowledged yet: where it started
	ack(0x2000)
	f.send(keepaliveMsg(0x3000, true))
	f.expectStatus(0x2000)
	ack(0x3000)
	f.expectStatus(0x3000) // the periodic update

	// The server ends the session: the reader reconnects from 0/3000.
	f.send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: codeAdminShutdown, Message: "terminating connection due to administrator command"})
	f.mu.Lock()
	f.conn.Close()
	f.mu.Unlock()
	f.accept()
	<-f.startup
	if q := <-f.query; !strings.HasPrefix(q, `START_REPLICATION SLOT "s" LOGICAL 0/3000 `) {
		t.Errorf("reconnect command %q, want a start at 0/3000", q)
	}
	f.send(xlog(0x3100, beginWire(0x3200, commitAt, 10)),
		xlog(0x3100, ordersRel('d', "id")),
		xlog(0x3150, msg('I').u32(10).u8('N').tuple(text("2"), null(), null())),
		xlog(0x3200, commitWire(0x3200, 0x3300, commitAt)))
	ack(0x3300)
	f.expectStatus(0x3300)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	checkEvents(t, h, []string{"c shop.orders after=[1 <nil> <nil>]", "c shop.orders after=[2 <nil> <nil>]"})
	if want := []uint64{0x2000, 0x3000, 0x3300}; fmt.Sprint(h.resumable) != fmt.Sprint(want) {
		t.Errorf("resumable %x, want %x", h.resumable, want)
	}
}

// blockingHandler blocks in Change until release is closed.
type blockingHandler struct {
	recorder
	entered chan struct{}
	release chan struct{}
}

func (h *blockingHandler) Change(ctx context.Context, ev *sluice.Event) error {
	close(h.entered)
	select {
	case <-h.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.recorder.Change(ctx, ev)
}

// Status updates go on while the handler blocks (Kafka applying back
// pressure), so the server's wal_sender_timeout does not end the session;
// a cancelled context ends Run even then.
func TestStatusWhileHandlerBlocks(t *testing.T) {
	f := newFakeWalsender(t)
	h := &blockingHandler{entered: make(chan struct{}), release: make(chan struct{})}
	r := New(Config{Name: "pg", Conn: connConf(t, f.dsn()), Slot: "s", Publication: "p", StatusInterval: 20 * time.Millisecond, Logger: quiet(),
		Acked: func() (sluice.Position, bool) { return sluice.Position{LSN: 0x1500}, true }})
	r.newShaper = func(context.Context) (shaper, func(), error) {
		return &fakeShaper{keys: map[uint32][]string{10: {"id"}}}, func() {}, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sluice.Position{LSN: 0x1000}, h) }()
	f.accept()
	<-f.startup
	<-f.query
	f.send(xlog(0x1800, beginWire(0x1f00, commitAt, 9)), xlog(0x1800, ordersRel('d', "id")),
		xlog(0x1900, msg('I').u32(10).u8('N').tuple(text("1"), null(), null())))
	<-h.entered
	for range 3 {
		f.expectStatus(0x1500)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation while the handler blocked")
	}
}
