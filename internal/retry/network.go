package retry

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// lostConnection lists the error values, anywhere in a chain, that mean the
// connection to the peer could not be made or broke off.
var lostConnection = []error{
	syscall.ECONNREFUSED, // nothing listens (yet): the server is down or restarting
	syscall.ECONNRESET,   // the peer reset the connection
	syscall.EPIPE,        // written to after the peer closed its end
	syscall.ECONNABORTED, // the connection was aborted on this host
	syscall.ETIMEDOUT,    // TCP gave up on the peer (connect or keepalive)
	net.ErrClosed,        // read or written after the connection was closed
	io.EOF,               // the peer closed the connection
	io.ErrUnexpectedEOF,  // the peer closed the connection inside a message
	os.ErrDeadlineExceeded,
}

// Network reports whether err is a failure of the network connection
// itself, which a new connection may not meet: a refused, reset, aborted,
// timed-out or closed connection, end of file from the peer, a failed
// network operation (*net.OpError: dial, read or write) or any net.Error
// that reports a timeout. It decides from error types and values only
// (errors.Is, errors.As), never from error text, so it sees through every
// wrapper that unwraps (fmt.Errorf with %w, github.com/pingcap/errors,
// pgconn's errors).
//
// It knows nothing of protocols: each source adds its driver's own
// lost-connection errors and server error codes in its errors.go. A
// context.DeadlineExceeded counts as a timeout; callers check their own
// context before asking, since cancellation is not a failure.
func Network(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range lostConnection {
		if errors.Is(err, target) {
			return true
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	// Not every net.Error: syscall.Errno is one, and a full disk is not a
	// network failure.
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Cause names the kind of a lost connection in a word, for the label of a
// reconnect metric: refused, reset, timeout, closed (the peer closed it,
// or it was closed here) or, for any other error, error. Like Network it
// decides from error types and values only.
func Cause(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return "reset"
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}
