package pgoutput

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// connConf parses dsn into the connection settings Config.Conn and
// CreateSlot take.
func connConf(t testing.TB, dsn string) *pgx.ConnConfig {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// pgServe accepts one connection on a loopback port and, once the client
// sent its start-up message, hands it to serve; it returns the DSN.
func pgServe(t *testing.T, serve func(be *pgproto3.Backend, conn *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		be := pgproto3.NewBackend(conn, conn)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		serve(be, conn.(*net.TCPConn))
	}()
	return fmt.Sprintf("postgres://sluice@%s/app?sslmode=disable&connect_timeout=5", ln.Addr())
}

// pgReady completes the start-up as a server that trusts the client.
func pgReady(be *pgproto3.Backend) error {
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "16.4"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return be.Flush()
}

// pgStreaming completes the start-up and answers START_REPLICATION.
func pgStreaming(be *pgproto3.Backend) error {
	if err := pgReady(be); err != nil {
		return err
	}
	if _, err := be.Receive(); err != nil {
		return err
	}
	be.Send(&pgproto3.CopyBothResponse{})
	return be.Flush()
}

// pgRefuse answers the start-up with a server error.
func pgRefuse(code, msg string) func(be *pgproto3.Backend, conn *net.TCPConn) {
	return func(be *pgproto3.Backend, _ *net.TCPConn) {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
		_ = be.Flush()
	}
}

// connectErr is the error of connecting for replication, as stream
// classifies it.
func connectErr(t *testing.T, dsn string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connectReplication(ctx, connConf(t, dsn), nil)
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected")
	}
	return classify(err, "pgoutput: connect for replication", "s", "p")
}

// receiveErr is the error of the first receive from the stream, as stream
// classifies it.
func receiveErr(t *testing.T, dsn string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connectReplication(ctx, connConf(t, dsn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pglogrepl.StartReplication(ctx, conn, `"s"`, 0x1000, pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication}); err != nil {
		return classify(err, "pgoutput: start replication", "s", "p")
	}
	msg, err := conn.ReceiveMessage(context.Background())
	if err != nil {
		return classify(err, "pgoutput: receive", "s", "p")
	}
	if er, ok := msg.(*pgproto3.ErrorResponse); ok {
		return classify(pgconn.ErrorResponseToPgError(er), "pgoutput: stream", "s", "p")
	}
	t.Fatalf("received %T, not an error", msg)
	return nil
}

func isCode(code string) func(error) bool {
	return func(err error) bool { return codeOf(err) == code }
}

// TestRetryableReal: each error comes from pgconn and pglogrepl talking to
// a server that fails in one way, classified where stream classifies it.
func TestRetryableReal(t *testing.T) {
	closedPort := func(t *testing.T) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return connectErr(t, "postgres://sluice@"+addr+"/app?sslmode=disable&connect_timeout=5")
	}
	for _, tc := range []struct {
		name  string
		err   func(t *testing.T) error
		check func(error) bool // what the error must be, so the case tests what it says
		want  bool
	}{
		{"connection refused", closedPort,
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, true},
		{"closed during start-up", func(t *testing.T) error {
			return connectErr(t, pgServe(t, func(*pgproto3.Backend, *net.TCPConn) {}))
		}, func(err error) bool {
			var ce *pgconn.ConnectError
			return errors.As(err, &ce) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
		}, true},
		{"too many connections", func(t *testing.T) error {
			return connectErr(t, pgServe(t, pgRefuse(codeTooManyConnections, "sorry, too many clients already")))
		}, isCode(codeTooManyConnections), true},
		{"starting up", func(t *testing.T) error {
			return connectErr(t, pgServe(t, pgRefuse(codeCannotConnectNow, "the database system is starting up")))
		}, isCode(codeCannotConnectNow), true},
		{"lost while streaming", func(t *testing.T) error {
			return receiveErr(t, pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) { _ = pgStreaming(be) }))
		}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) }, true},
		{"reset while streaming", func(t *testing.T) error {
			return receiveErr(t, pgServe(t, func(be *pgproto3.Backend, conn *net.TCPConn) {
				if pgStreaming(be) == nil {
					_ = conn.SetLinger(0) // close with a RST
				}
			}))
		}, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }, true},
		{"admin shutdown while streaming", func(t *testing.T) error {
			return receiveErr(t, pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) {
				if pgStreaming(be) == nil {
					pgRefuse(codeAdminShutdown, "terminating connection due to administrator command")(be, nil)
				}
			}))
		}, isCode(codeAdminShutdown), true},
		{"connection failure while streaming", func(t *testing.T) error {
			return receiveErr(t, pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) {
				if pgStreaming(be) == nil {
					pgRefuse("08006", "connection failure")(be, nil)
				}
			}))
		}, isCode("08006"), true},
		{"closed connection", func(t *testing.T) error {
			dsn := pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) {
				if pgReady(be) == nil {
					_, _ = be.Receive() // until the client goes
				}
			})
			ctx := context.Background()
			conn, err := connectReplication(ctx, connConf(t, dsn), nil)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
			_, err = conn.ReceiveMessage(ctx)
			return classify(err, "pgoutput: receive", "s", "p")
		}, func(err error) bool { return errors.Is(err, pgconn.ErrConnClosed) }, true},
		{"timeout", func(t *testing.T) error {
			dsn := pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) {
				if pgStreaming(be) == nil {
					_, _ = be.Receive() // silent until the client goes
				}
			})
			ctx := context.Background()
			conn, err := connectReplication(ctx, connConf(t, dsn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if err := pglogrepl.StartReplication(ctx, conn, `"s"`, 0x1000, pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication}); err != nil {
				t.Fatal(err)
			}
			tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err = conn.ReceiveMessage(tctx)
			return classify(err, "pgoutput: receive", "s", "p")
		}, pgconn.Timeout, true},
		{"net.Pipe closed mid-read", func(t *testing.T) error {
			cfg, err := pgconn.ParseConfig("host=127.0.0.1 port=1 user=sluice database=app sslmode=disable")
			if err != nil {
				t.Fatal(err)
			}
			cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
			cfg.DialFunc = func(context.Context, string, string) (net.Conn, error) {
				client, server := net.Pipe()
				go func() {
					// Read part of the start-up message, then hang up.
					_, _ = server.Read(make([]byte, 4))
					server.Close()
				}()
				return client, nil
			}
			_, err = pgconn.ConnectConfig(context.Background(), cfg)
			return classify(err, "pgoutput: connect for replication", "s", "p")
		}, func(err error) bool {
			return errors.Is(err, io.ErrClosedPipe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}, true},

		{"invalid password", func(t *testing.T) error {
			return connectErr(t, pgServe(t, pgRefuse(codeInvalidPassword, `password authentication failed for user "sluice"`)))
		}, func(err error) bool { return errors.Is(err, ErrPermission) }, false},
		{"TLS required", func(t *testing.T) error {
			return connectErr(t, pgServe(t, pgRefuse(codeInvalidAuthorization,
				`no pg_hba.conf entry for replication connection from host "127.0.0.1", user "sluice", no encryption`)))
		}, func(err error) bool {
			return errors.Is(err, ErrPermission) && strings.Contains(err.Error(), "set source.sslmode to require, verify-ca or verify-full")
		}, false},
		{"no such database", func(t *testing.T) error {
			return connectErr(t, pgServe(t, pgRefuse("3D000", `database "app" does not exist`)))
		}, isCode("3D000"), false},
		{"slot in use", func(t *testing.T) error {
			return receiveErr(t, pgServe(t, func(be *pgproto3.Backend, _ *net.TCPConn) {
				if pgReady(be) == nil {
					if _, err := be.Receive(); err == nil {
						be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: codeObjectInUse, Message: `replication slot "s" is active for PID 42`})
						be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
						_ = be.Flush()
					}
				}
			}))
		}, func(err error) bool { return errors.Is(err, ErrSlotActive) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			if err == nil || !tc.check(err) {
				t.Fatalf("unexpected error for this case: %v", err)
			}
			if got := Retryable(err); got != tc.want {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tc.want)
			}
			if got := Retryable(fmt.Errorf("pgoutput: %w", err)); got != tc.want {
				t.Errorf("Retryable of the wrapped error = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("pgoutput: the server ended the replication stream: %w", io.EOF), true},
		{&pgconn.PgError{Code: codeAdminShutdown, Message: "terminating connection due to administrator command"}, true},
		{&pgconn.PgError{Code: codeCrashShutdown}, true},
		{&pgconn.PgError{Code: codeCannotConnectNow}, true},
		{&pgconn.PgError{Code: codeTooManyConnections}, true},
		{&pgconn.PgError{Code: codeConfigurationLimit}, true},
		{&pgconn.PgError{Code: codeIdleSessionTimeout}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "08P01"}, true},
		{classify(&pgconn.PgError{Code: codeObjectInUse, Message: `replication slot "s" is active for PID 42`}, "start", "s", "p"), false},
		{classify(&pgconn.PgError{Code: codeUndefinedObject, Message: `replication slot "s" does not exist`}, "start", "s", "p"), false},
		{classify(&pgconn.PgError{Code: codeUndefinedObject, Message: `publication "p" does not exist`}, "stream", "s", "p"), false},
		{classify(&pgconn.PgError{Code: codeNotInPrerequisite, Message: `can no longer get changes from replication slot "s"`, Detail: "This slot has been invalidated because it exceeded the maximum reserved size."}, "stream", "s", "p"), false},
		{classify(&pgconn.PgError{Code: codeInsufficientPrivilege, Message: "permission denied to start WAL sender"}, "connect", "s", "p"), false},
		{&pgconn.PgError{Code: "42601", Message: "syntax error"}, false},
		{fmt.Errorf("tls error: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{fmt.Errorf("tls error: %w", x509.HostnameError{Host: "db"}), false},
		{fmt.Errorf("tls error: %w", x509.CertificateInvalidError{Reason: x509.Expired}), false},
		{fmt.Errorf("x: %w", errMalformed), false},
		{fmt.Errorf("x: %w", errSpool), false},
		// Text is not a classification.
		{errors.New("conn closed: unexpected EOF: connection reset by peer"), false},
		{nil, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	for _, pe := range []*pgconn.PgError{
		{Code: codeNotInPrerequisite, Message: `can no longer get changes from replication slot "s"`, Detail: "This slot has been invalidated because it exceeded the maximum reserved size."},
		{Code: codeNotInPrerequisite, Message: `cannot read from logical replication slot "s"`, Detail: "This slot has been invalidated because it exceeded the maximum reserved size."},
	} {
		if err := classify(pe, "stream", "s", "p"); !errors.Is(err, ErrSlotInvalidated) || !strings.Contains(err.Error(), "max_slot_wal_keep_size") {
			t.Errorf("invalidated slot: %v", err)
		}
	}
	for cause, want := range map[error]string{
		x509.UnknownAuthorityError{}:                       "source.sslrootcert",
		x509.HostnameError{Host: "db"}:                     "verify-ca",
		x509.CertificateInvalidError{Reason: x509.Expired}: "expired",
	} {
		if err := classify(fmt.Errorf("tls error: %w", cause), "connect", "s", "p"); !strings.Contains(err.Error(), want) {
			t.Errorf("classify(%v) = %v, want it to name %s", cause, err, want)
		}
	}
	err := classify(&pgconn.PgError{Code: codeObjectInUse, Message: "active"}, "start", "s", "p")
	if !errors.Is(err, ErrSlotActive) || !strings.Contains(err.Error(), "pg_terminate_backend") {
		t.Errorf("slot active error %q lacks the cause or the fix", err)
	}
	// A busy slot is retried only once this reader has streamed from it.
	if reconnectable(err, false) || !reconnectable(err, true) {
		t.Errorf("busy slot: reconnectable before streaming %v, after %v; want false, true", reconnectable(err, false), reconnectable(err, true))
	}
	if reconnectable(fmt.Errorf("x: %w", errMalformed), true) {
		t.Error("a decoding failure is reconnectable")
	}
}
