package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/packet"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/server"
	pingcap "github.com/pingcap/errors"

	"github.com/sluice-cdc/sluice"
)

// fakeMySQL is a loopback server that speaks enough of the MySQL protocol
// (go-mysql's own server package) for a BinlogSyncer to log in, register as
// a replica and ask for the binlog. What it does on each connection is the
// test's: greet refuses the connection with an ERR packet instead of the
// handshake, closeEarly drops it before the handshake, and dump answers
// COM_BINLOG_DUMP.
type fakeMySQL struct {
	t  *testing.T
	ln net.Listener

	greet      *mysql.MyError
	closeEarly bool
	password   string
	dump       func(n int, pos mysql.Position, raw net.Conn) (*replication.BinlogStreamer, error)

	mu    sync.Mutex
	dumps int // COM_BINLOG_DUMP requests so far
	wg    sync.WaitGroup
}

const fakeUser, fakePassword = "repl", "secret"

func newFakeMySQL(t *testing.T, setup func(f *fakeMySQL)) *fakeMySQL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMySQL{t: t, ln: ln, password: fakePassword}
	if setup != nil {
		setup(f)
	}
	conf := server.NewServer("10.11.6-MariaDB-log", mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer raw.Close()
				f.serve(conf, raw)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeMySQL) serve(conf *server.Server, raw net.Conn) {
	switch {
	case f.closeEarly:
		return
	case f.greet != nil:
		// What a server at its connection limit sends instead of the
		// handshake.
		pc := packet.NewConn(raw)
		data := []byte{0, 0, 0, 0, mysql.ERR_HEADER, byte(f.greet.Code), byte(f.greet.Code >> 8), '#'}
		data = append(data, f.greet.State...)
		data = append(data, f.greet.Message...)
		_ = pc.WritePacket(data)
		return
	}
	p := server.NewInMemoryProvider()
	p.AddUser(fakeUser, f.password)
	h := &fakeHandler{f: f, raw: raw}
	c, err := conf.NewCustomizedConn(raw, p, h)
	if err != nil {
		return
	}
	for !c.Closed() {
		if err := c.HandleCommand(); err != nil {
			return
		}
	}
}

// dumped returns how many times a replica asked for the binlog. (Other
// connections come and go: closing a BinlogSyncer opens one to KILL its
// dump connection.)
func (f *fakeMySQL) dumped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dumps
}

func (f *fakeMySQL) config() Config {
	host, port, _ := net.SplitHostPort(f.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return Config{
		Name: "fake", Host: host, Port: p, User: fakeUser, Password: fakePassword,
		ServerID: 99, Flavor: mysql.MariaDBFlavor, Selection: testSelection(),
		Logger: slog.New(slog.DiscardHandler),
	}
}

type fakeHandler struct {
	server.EmptyReplicationHandler
	f   *fakeMySQL
	raw net.Conn
}

func (h *fakeHandler) UseDB(string) error                        { return nil }
func (h *fakeHandler) HandleQuery(string) (*mysql.Result, error) { return nil, nil }
func (h *fakeHandler) HandleRegisterSlave([]byte) error          { return nil }
func (h *fakeHandler) HandleOtherCommand(cmd byte, _ []byte) error {
	return mysql.NewError(mysql.ER_UNKNOWN_ERROR, "unsupported")
}

func (h *fakeHandler) HandleBinlogDump(pos mysql.Position) (*replication.BinlogStreamer, error) {
	h.f.mu.Lock()
	h.f.dumps++
	n := h.f.dumps
	h.f.mu.Unlock()
	if h.f.dump == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "no binlog")
	}
	return h.f.dump(n, pos, h.raw)
}

// dropConnection is a dump that closes the connection at once: the binlog
// connection is lost right after the replica asked for the binlog.
func dropConnection(_ int, _ mysql.Position, raw net.Conn) (*replication.BinlogStreamer, error) {
	raw.Close()
	return nil, errors.New("connection dropped")
}

// streamError is what one stream of the Reader returns against f, as Run
// sees it.
func streamError(t *testing.T, cfg Config) error {
	t.Helper()
	r := New(cfg)
	r.gtids, _ = mysql.ParseGTIDSet(cfg.Flavor, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := r.stream(ctx, sluice.Position{File: "mysql-bin.000001", Offset: 4}, &recorder{})
	if err == nil {
		t.Fatal("stream ended without an error")
	}
	if ctx.Err() != nil {
		t.Fatal("stream timed out")
	}
	return err
}

// TestRetryableReal: each error comes from go-mysql's real BinlogSyncer and
// BinlogStreamer against a server that fails in one way.
func TestRetryableReal(t *testing.T) {
	closedPort := func() Config {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := (&fakeMySQL{ln: ln}).config()
		ln.Close()
		return cfg
	}
	for _, tc := range []struct {
		name  string
		cfg   func() Config
		check func(error) bool // what the error must be, so the case tests what it says
		want  bool
	}{
		{"connection refused", closedPort,
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, true},
		{"closed before the handshake", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) { f.closeEarly = true }).config()
		}, func(err error) bool { return errors.Is(err, mysql.ErrBadConn) }, true},
		{"too many connections", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) {
				f.greet = mysql.NewError(mysql.ER_CON_COUNT_ERROR, "Too many connections")
			}).config()
		}, isCode(mysql.ER_CON_COUNT_ERROR), true},
		{"too many user connections", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) {
				f.greet = mysql.NewError(mysql.ER_TOO_MANY_USER_CONNECTIONS, "User repl already has more than 'max_user_connections' active connections")
			}).config()
		}, isCode(mysql.ER_TOO_MANY_USER_CONNECTIONS), true},
		{"lost while streaming", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) { f.dump = dropConnection }).config()
		}, func(err error) bool { return errors.Is(err, mysql.ErrBadConn) }, true},
		{"server shutdown", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) {
				f.dump = func(int, mysql.Position, net.Conn) (*replication.BinlogStreamer, error) {
					return nil, mysql.NewError(mysql.ER_SERVER_SHUTDOWN, "Server shutdown in progress")
				}
			}).config()
		}, isCode(mysql.ER_SERVER_SHUTDOWN), true},

		{"purged binlog", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) {
				f.dump = func(int, mysql.Position, net.Conn) (*replication.BinlogStreamer, error) {
					return nil, mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "Could not find first log file name in binary log index file")
				}
			}).config()
		}, func(err error) bool { return errors.Is(err, ErrPurged) }, false},
		{"access denied", func() Config {
			return newFakeMySQL(t, func(f *fakeMySQL) { f.password = "other" }).config()
		}, func(err error) bool { return strings.Contains(err.Error(), "grant the user REPLICATION SLAVE") }, false},
		{"other server error", func() Config {
			return newFakeMySQL(t, nil).config() // dump answers ER_UNKNOWN_ERROR
		}, isCode(mysql.ER_UNKNOWN_ERROR), false},
		{"corrupt event", func() Config {
			evs := testEvents(t, 3)
			evs[2].RawData[len(evs[2].RawData)/2] ^= 0xff
			return newFakeMySQL(t, func(f *fakeMySQL) {
				f.dump = func(_ int, _ mysql.Position, raw net.Conn) (*replication.BinlogStreamer, error) {
					_ = writeEvents(raw, evs)
					return dropConnection(0, mysql.Position{}, raw)
				}
			}).config()
		}, func(err error) bool { return errors.Is(err, replication.ErrChecksumMismatch) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := streamError(t, tc.cfg())
			if !tc.check(err) {
				t.Fatalf("unexpected error for this case: %v", err)
			}
			if got := Retryable(err); got != tc.want {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

func isCode(code uint16) func(error) bool {
	return func(err error) bool {
		var me *mysql.MyError
		return errors.As(err, &me) && me.Code == code
	}
}

// testEvents returns the first n events of the first test binlog file, as
// the server sends them.
func testEvents(t *testing.T, n int) []*replication.BinlogEvent {
	t.Helper()
	var evs []*replication.BinlogEvent
	stop := errors.New("enough")
	err := replication.NewBinlogParser().ParseFile(filepath.Join("testdata", binlogFiles[0]), 4, func(ev *replication.BinlogEvent) error {
		if n >= 0 && len(evs) == n {
			return stop
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		t.Fatal(err)
	}
	return evs
}

// writeEvents writes evs to raw as the answer to COM_BINLOG_DUMP, the way
// a server streams the binlog.
func writeEvents(raw net.Conn, evs []*replication.BinlogEvent) error {
	pc := packet.NewConn(raw)
	pc.Sequence = 1 // the command was packet 0
	for _, ev := range evs {
		data := append([]byte{0, 0, 0, 0, mysql.OK_HEADER}, ev.RawData...)
		if err := pc.WritePacket(data); err != nil {
			return err
		}
	}
	return nil
}

// TestRetryableWrapped: the errors go-mysql returns, wrapped the way its
// packet, client and replication packages wrap them with
// github.com/pingcap/errors, and then by classify.
func TestRetryableWrapped(t *testing.T) {
	at := sluice.Position{File: "mysql-bin.000001", Offset: 4}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		// packet.Conn.ReadPacketTo, through client.Conn and onStream.
		{"read header", pingcap.Trace(pingcap.Wrapf(mysql.ErrBadConn, "io.ReadFull(header) failed. err %v", io.EOF)), true},
		{"read body", pingcap.Trace(pingcap.Wrapf(mysql.ErrBadConn, "io.CopyN failed. err %v, copied %v, expected %v", io.ErrUnexpectedEOF, 3, 9)), true},
		{"write", pingcap.Trace(pingcap.Wrapf(mysql.ErrBadConn, "Write failed. err %v", syscall.EPIPE)), true},
		{"handshake", pingcap.Trace(fmt.Errorf("readInitialHandshake: %w", pingcap.Trace(pingcap.Wrapf(mysql.ErrBadConn, "io.ReadFull(header) failed. err %v", syscall.ECONNRESET)))), true},
		// client.ConnectWithDialer, through registerSlave and prepare.
		{"dial", pingcap.Trace(pingcap.Trace(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})), true},
		// client.readInitialHandshake's ERR packet.
		{"connection limit", pingcap.Trace(fmt.Errorf("readInitialHandshake: %w", pingcap.Annotate(mysql.NewError(mysql.ER_CON_COUNT_ERROR, "Too many connections"), "read initial handshake error"))), true},
		{"shutdown", pingcap.Trace(mysql.NewError(mysql.ER_SERVER_SHUTDOWN, "Server shutdown in progress")), true},
		{"plain EOF", fmt.Errorf("read: %w", io.EOF), true},

		{"purged", mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "could not find next log"), false},
		{"syntax", pingcap.Trace(mysql.NewError(mysql.ER_PARSE_ERROR, "syntax")), false},
		{"checksum", pingcap.Trace(replication.ErrChecksumMismatch), false},
		{"malformed", pingcap.Trace(mysql.ErrMalformPacket), false},
		// ErrSyncClosed comes only from closing the syncer ourselves.
		{"sync closed", pingcap.Trace(replication.ErrSyncClosed), false},
		{"text alone", errors.New("read tcp: connection reset by peer; broken pipe; EOF"), false},
	} {
		for _, err := range []error{tc.err, classify(tc.err, at)} {
			if got := Retryable(err); got != tc.want {
				t.Errorf("%s: Retryable(%v) = %v, want %v", tc.name, err, got, tc.want)
			}
		}
	}
	if Retryable(nil) {
		t.Error("Retryable(nil)")
	}
}
