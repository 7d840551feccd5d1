package retry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	pingcap "github.com/pingcap/errors"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// Real errors of each kind, made the way a lost connection makes them.

func refusedErr(t *testing.T) error {
	_, err := net.Dial("tcp", closedPort(t))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial of a closed port: %v, not ECONNREFUSED", err)
	}
	return err
}

func resetErr(t *testing.T) error {
	c, s := tcpPair(t)
	_ = s.SetLinger(0) // close with a RST
	s.Close()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer's reset: %v, not ECONNRESET", err)
	}
	return err
}

func brokenPipeErr(t *testing.T) error {
	c, s := tcpPair(t)
	s.Close()
	// Once the peer's FIN is in, writing draws its RST, after which the
	// next write fails with EPIPE.
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer's close: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte("x")); err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("write after the peer's close: %v, not EPIPE", err)
			}
			return err
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("writes to a closed peer kept succeeding")
	return nil
}

func closedErr(t *testing.T) error {
	c, _ := tcpPair(t)
	c.Close()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v, not net.ErrClosed", err)
	}
	return err
}

func deadlineErr(t *testing.T) error {
	c, _ := tcpPair(t)
	_ = c.SetReadDeadline(time.Now())
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, not a timeout", err)
	}
	return err
}

// pipeEOF: a net.Pipe whose other end closes while this end reads.
func pipeEOF(t *testing.T) error {
	a, b := net.Pipe()
	defer a.Close()
	go b.Close()
	_, err := a.Read(make([]byte, 1))
	if err != io.EOF {
		t.Fatalf("read from a closed pipe: %v", err)
	}
	return err
}

// pipeUnexpectedEOF: the peer closes inside a message.
func pipeUnexpectedEOF(t *testing.T) error {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		_, _ = b.Write([]byte{1, 2})
		b.Close()
	}()
	_, err := io.ReadFull(a, make([]byte, 4))
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("short read from a closed pipe: %v", err)
	}
	return err
}

// pipeDeadline: net.Pipe reports a deadline without a *net.OpError.
func pipeDeadline(t *testing.T) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_ = a.SetReadDeadline(time.Now())
	_, err := a.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	return err
}

func TestNetwork(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func(t *testing.T) error
		want bool
	}{
		{"connection refused", refusedErr, true},
		{"connection reset", resetErr, true},
		{"broken pipe", brokenPipeErr, true},
		{"use of closed connection", closedErr, true},
		{"read deadline", deadlineErr, true},
		{"EOF", pipeEOF, true},
		{"unexpected EOF", pipeUnexpectedEOF, true},
		{"pipe deadline", pipeDeadline, true},
		// The errnos net reports for an aborted or timed-out TCP
		// connection, in the shape it reports them.
		{"connection aborted", func(*testing.T) error {
			return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNABORTED)}
		}, true},
		{"TCP timeout", func(*testing.T) error {
			return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ETIMEDOUT)}
		}, true},
		{"bare errno", func(*testing.T) error {
			return fmt.Errorf("send: %w", os.NewSyscallError("write", syscall.EPIPE))
		}, true},
		{"context deadline", func(*testing.T) error { return context.DeadlineExceeded }, true},

		{"nil", func(*testing.T) error { return nil }, false},
		{"plain error", func(*testing.T) error { return errors.New("connection refused") }, false},
		{"cancelled", func(*testing.T) error { return context.Canceled }, false},
		// syscall.Errno is a net.Error: a full disk must not pass for a
		// network failure.
		{"disk full", func(*testing.T) error {
			return &os.PathError{Op: "write", Path: "/tmp/spool", Err: syscall.ENOSPC}
		}, false},
		{"missing file", func(*testing.T) error {
			_, err := os.Open("/nonexistent/sluice")
			return err
		}, false},
		{"certificate", func(*testing.T) error { return x509.UnknownAuthorityError{} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			if got := Network(err); got != tc.want {
				t.Errorf("Network(%v) = %v, want %v", err, got, tc.want)
			}
			if err == nil {
				return
			}
			// Wrapping keeps the answer: %w, and the pingcap/errors
			// wrappers go-mysql uses.
			for _, w := range []error{
				fmt.Errorf("op: %w", err),
				pingcap.Trace(err),
				pingcap.Annotate(pingcap.Trace(err), "read"),
				pingcap.Wrapf(err, "io.ReadFull(header) failed"),
			} {
				if got := Network(w); got != tc.want {
					t.Errorf("Network(%v) = %v, want %v", w, got, tc.want)
				}
			}
		})
	}
}

func TestCause(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "none"},
		{refusedErr(t), "refused"},
		{resetErr(t), "reset"},
		{brokenPipeErr(t), "reset"},
		{deadlineErr(t), "timeout"},
		{pipeEOF(t), "closed"},
		{pipeUnexpectedEOF(t), "closed"},
		{closedErr(t), "closed"},
		{fmt.Errorf("wrapped: %w", io.EOF), "closed"},
		{errors.New("access denied"), "error"},
	} {
		if got := Cause(c.err); got != c.want {
			t.Errorf("Cause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
