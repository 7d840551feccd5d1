package binlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/retry"
)

// ErrPurged is wrapped by the error Run returns when the server no longer
// has the binlog file a start position names.
var ErrPurged = errors.New("binlog position no longer on the server")

// classify turns a replication error into one that names the cause and fix.
func classify(err error, at sluice.Position) error {
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return fmt.Errorf("%w: the server cannot send %s position %d (%s): the changes since then are gone from the server and sluice will not skip them; "+
			"keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days) and, to start over, delete this source's checkpoint so sluice takes a new snapshot, or set snapshot.mode: when_needed to take one by itself",
			ErrPurged, at.File, at.Offset, me.Message)
	}
	if errors.As(err, &me) && (me.Code == mysql.ER_ACCESS_DENIED_ERROR || me.Code == mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR) {
		return fmt.Errorf("binlog: %s: grant the user REPLICATION SLAVE and REPLICATION CLIENT", me.Message)
	}
	return fmt.Errorf("binlog: read at %s:%d: %w", at.File, at.Offset, err)
}

// Retryable reports whether err may go away by reconnecting: a connection
// that could not be made or broke off, a server shutting down, a server or
// user at its connection limit. A purged binlog, missing privileges,
// decoding failures and every other server error are not retryable. It
// decides from error types, values and MySQL error numbers only, and sees
// through go-mysql's github.com/pingcap/errors wrapping.
//
// go-mysql reports a connection lost while streaming, or while connecting
// after the dial, as mysql.ErrBadConn, with the network error only in its
// text (packet.Conn formats it with %v), so ErrBadConn itself marks a lost
// connection. A failed dial keeps its *net.OpError (retry.Network).
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrPurged) {
		return false
	}
	var me *mysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case mysql.ER_SERVER_SHUTDOWN, mysql.ER_CON_COUNT_ERROR, mysql.ER_TOO_MANY_USER_CONNECTIONS:
			return true
		}
		return false
	}
	return errors.Is(err, mysql.ErrBadConn) || retry.Network(err)
}

// quietLogger keeps go-mysql's own chatter at debug level.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelShift{l.Handler()})
}

type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, lvl slog.Level) bool {
	return h.Handler.Enabled(ctx, min(lvl, slog.LevelDebug))
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}
