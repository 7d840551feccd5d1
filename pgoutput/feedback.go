package pgoutput

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// feedback sends the standby status updates of one replication
// connection: every StatusInterval from a goroutine of its own, so that a
// handler blocked on Kafka does not let the server's wal_sender_timeout
// expire, and at once when a keepalive asks for a reply. The goroutine also
// closes the network connection when ctx is done, which is how the
// receiving loop, blocked reading the stream, learns of it.
//
// Only writes happen here, serialised by mu; the receiving loop only reads
// from the connection, and the two use no state of the connection in
// common but the socket.
type feedback struct {
	r    *Reader
	conn *pgconn.PgConn
	from uint64 // where the connection started: already confirmed

	mu  sync.Mutex
	err error // the first failed write

	stop chan struct{}
	done chan struct{}
}

// startFeedback starts the status goroutine for conn; close stops it.
func (r *Reader) startFeedback(ctx context.Context, conn *pgconn.PgConn, from uint64) *feedback {
	f := &feedback{r: r, conn: conn, from: from, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tick := time.NewTicker(r.cfg.StatusInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				conn.Conn().Close()
				return
			case <-f.stop:
				return
			case <-tick.C:
				if f.send() != nil {
					conn.Conn().Close() // ends the receiving loop, which reports the error
					return
				}
			}
		}
	}()
	return f
}

// send reports the acknowledged position as written, flushed and applied;
// the connection's start position when nothing newer is acknowledged.
func (f *feedback) send() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	lsn := f.from
	if f.r.cfg.Acked != nil {
		if pos, ok := f.r.cfg.Acked(); ok && pos.LSN > lsn {
			lsn = pos.LSN
		}
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), f.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(lsn),
		WALFlushPosition: pglogrepl.LSN(lsn),
		WALApplyPosition: pglogrepl.LSN(lsn),
	})
	if err != nil {
		f.err = classify(err, "pgoutput: send status update", f.r.cfg.Slot, f.r.cfg.Publication)
	}
	return f.err
}

// failure returns the error of a failed status update, if any.
func (f *feedback) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// close stops the goroutine and waits for it.
func (f *feedback) close() {
	close(f.stop)
	<-f.done
}
