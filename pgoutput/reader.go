package pgoutput

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/retry"
	"github.com/sluice-cdc/sluice/schema"
)

// Config describes the logical replication stream and what to capture.
type Config struct {
	// Name is the source name carried in every event.
	Name string
	// Conn holds the connection settings of the database
	// (snapshot.PostgresConnConfig builds them). The reader never changes
	// it: each connection it opens, the replication connection and the
	// catalog connection, uses a copy, to which it adds
	// schema.PostgresSessionSettings and, for replication,
	// replication=database.
	Conn *pgx.ConnConfig
	// Slot is the replication slot to stream from; it must exist
	// (CreateSlot).
	Slot string
	// Publication names the publication whose tables are streamed
	// (EnsurePublication).
	Publication string
	// Selection picks the captured tables and columns; changes of other
	// tables the publication carries are skipped.
	Selection *sluice.Selection
	// Acked returns the latest position handed to the handler's Resumable
	// whose records Kafka has acknowledged, and false while there is none
	// (the sink producer's Acked). Only that position is reported to the
	// server as written, flushed and applied, so the slot's
	// confirmed_flush_lsn never passes an unacknowledged record. Without
	// it the slot stays where Run started. It is called from a goroutine
	// of the reader's own, concurrently with the handler, and must not
	// block.
	Acked func() (sluice.Position, bool)
	// Streaming asks the server to stream transactions larger than its
	// logical_decoding_work_mem while they are still in progress
	// (pgoutput protocol 2, PostgreSQL 14 and later) instead of decoding
	// them after their commit and spilling them to its own disk. The
	// reader keeps each streamed transaction in a file under SpoolDir
	// until the server commits it, then hands its changes on in commit
	// order like any other transaction's; an aborted transaction, or
	// subtransaction, is discarded there. Ignored before PostgreSQL 14.
	Streaming bool
	// SpoolDir is where streamed transactions wait for their commit, in
	// a directory "sluice-<slot>" the reader empties when it connects.
	// It needs room for the largest transaction's changes in pgoutput's
	// text form. Default os.TempDir().
	SpoolDir string
	// StatusInterval is how often the reader reports its position to the
	// server. Keep it well under the server's wal_sender_timeout
	// (default 60 s). Default 10 s.
	StatusInterval time.Duration
	// Logger receives relation changes and reconnect notices.
	Logger *slog.Logger
	// ReconnectBackoff is the first wait before reconnecting after a lost
	// connection; it doubles up to 30 s, each wait within ±20 % of that
	// (package internal/retry's policy). Default 1 s. MaxReconnects bounds
	// consecutive failed attempts (default 10); a reconnect that got past
	// the last position handed to Resumable starts the count and the waits
	// over.
	ReconnectBackoff time.Duration
	MaxReconnects    int
	// OnConnection, when set, is told the replication connection's state,
	// from Run's goroutine: the error each time the connection is lost and
	// a reconnect follows, nil each time a connection starts streaming. It
	// must not block.
	OnConnection func(err error)
	// Rewind, when set, is called before each reconnect, from Run's
	// goroutine: it returns the position to read on from instead of the
	// last transaction boundary (an exactly-once pipeline rewinds to its
	// last committed checkpoint, having discarded what came after it), or
	// false to keep the boundary.
	Rewind func() (sluice.Position, bool)
	// Until, when its LSN is set, ends the stream there: Run returns nil
	// before the first transaction whose commit record is at or after
	// Until (it is not handed on), or at the server's keepalive once its
	// WAL reached Until between transactions. A retaken snapshot's
	// catch-up reads up to the new snapshot's consistent point this way.
	Until sluice.Position
}

// errUntil ends a stream that reached Config.Until.
var errUntil = errors.New("pgoutput: reached the end position")

// Reader follows one replication slot. It is not safe for concurrent use.
type Reader struct {
	cfg Config
	log *slog.Logger

	// newShaper opens what maps Relation messages to table shapes and
	// text values to Go values for one connection; tests replace it.
	newShaper func(ctx context.Context) (shaper, func(), error)
	shape     shaper

	rels   map[uint32]*relEntry
	warned map[string]bool
	inTxn  bool
	begin  beginMsg
	// The session's streamed transactions: streaming is set when the
	// server was asked to stream, inStream between Stream Start and
	// Stream Stop, streamXid the transaction of that block; spools holds
	// every streamed transaction not yet committed or aborted, in files
	// under spoolDir.
	streaming bool
	inStream  bool
	streamXid uint32
	spools    map[uint32]*spool
	spoolDir  string
	last      uint64 // the latest position handed to Resumable
	// streamed is set once this reader has streamed from the slot.
	streamed bool
}

// New returns a Reader. It does not connect.
func New(cfg Config) *Reader {
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.ReconnectBackoff <= 0 {
		cfg.ReconnectBackoff = time.Second
	}
	if cfg.MaxReconnects <= 0 {
		cfg.MaxReconnects = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Selection == nil {
		cfg.Selection = &sluice.Selection{Include: []string{"*"}}
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	r := &Reader{cfg: cfg, log: cfg.Logger, rels: map[uint32]*relEntry{}, warned: map[string]bool{}, spools: map[uint32]*spool{}}
	r.newShaper = r.catalogShaper
	return r
}

// Run streams changes from position from (the slot's consistent point
// after a snapshot, or a stored checkpoint) until ctx is cancelled or a
// fatal error occurs. It blocks; it calls h from the calling goroutine only,
// after each commit with the commit's end LSN, and while no transaction is
// open with the server's WAL position from its keepalives. A cancelled ctx
// returns nil.
//
// It reports the position Config.Acked returns to the server every
// StatusInterval and whenever the server asks. A lost connection is retried
// from the last position handed to Resumable, after a wait of package
// internal/retry's backoff with jitter, logged with the cause and the
// wait: changes after it are handed to h again, none before it. After
// MaxReconnects consecutive failed attempts Run returns the last error. A
// missing, invalidated or busy slot, a missing publication and missing
// privileges stop Run with an error that names the fix (see Retryable); a
// slot found busy when reconnecting after a lost connection is retried,
// since the server may still count the lost session as its holder for a
// moment.
//
// The handler may block (it is how Kafka slows the stream): status updates
// go on from a goroutine Run starts and stops with each connection, so the
// server does not drop the connection meanwhile (wal_sender_timeout).
func (r *Reader) Run(ctx context.Context, from sluice.Position, h sluice.Handler) error {
	if from.LSN == 0 {
		return errors.New("pgoutput: no start position: the slot's consistent point or a stored checkpoint must supply one")
	}
	if err := ValidateSlotName(r.cfg.Slot); err != nil {
		return fmt.Errorf("pgoutput: %w", err)
	}
	if r.cfg.Publication == "" {
		return errors.New("pgoutput: no publication configured: name the publication to stream")
	}
	if r.cfg.Conn == nil {
		return errors.New("pgoutput: no connection settings (Config.Conn)")
	}
	r.last = from.LSN
	backoff := retry.New(retry.Policy{Initial: r.cfg.ReconnectBackoff, Max: retry.MaxReconnectWait, Attempts: r.cfg.MaxReconnects})
	for {
		start := r.last
		err := r.stream(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || errors.Is(err, errUntil) {
			return nil
		}
		if !reconnectable(err, r.streamed) {
			return err
		}
		if r.last != start {
			backoff.Reset()
		}
		wait, ok := backoff.Next()
		if !ok {
			return fmt.Errorf("pgoutput: giving up after %d reconnect attempts: %w", backoff.Retries(), err)
		}
		if r.cfg.OnConnection != nil {
			r.cfg.OnConnection(err)
		}
		r.log.Warn("replication connection lost; reconnecting from the last transaction boundary",
			"error", err, "lsn", pglogrepl.LSN(r.last).String(), "wait", wait)
		if retry.Wait(ctx, wait) != nil {
			return nil
		}
		if r.cfg.Rewind != nil {
			if at, ok := r.cfg.Rewind(); ok {
				r.last = at.LSN
			}
		}
	}
}

// stream runs one replication connection from r.last.
func (r *Reader) stream(ctx context.Context, h sluice.Handler) error {
	clear(r.rels) // a new session sends every Relation message again
	r.inTxn, r.inStream, r.streaming = false, false, false
	// A new session streams every transaction still open again.
	defer r.dropSpools()
	sh, closeShaper, err := r.newShaper(ctx)
	if err != nil {
		return err
	}
	defer closeShaper()
	r.shape = sh

	conn, err := connectReplication(ctx, r.cfg.Conn, schema.PostgresSessionSettings)
	if err != nil {
		return classify(err, "pgoutput: connect for replication", r.cfg.Slot, r.cfg.Publication)
	}
	defer conn.Close(context.Background())

	proto := "1"
	if StreamsInProgress(conn.ParameterStatus("server_version")) {
		proto = "2"
	}
	args := []string{
		"proto_version " + quoteLiteral(proto),
		"publication_names " + quoteLiteral(quoteIdent(r.cfg.Publication)),
	}
	if r.cfg.Streaming && proto == "2" {
		if err := r.openSpoolDir(); err != nil {
			return err
		}
		args = append(args, "streaming 'on'")
		r.streaming = true
	}
	from := r.last
	err = pglogrepl.StartReplication(ctx, conn, quoteIdent(r.cfg.Slot), pglogrepl.LSN(from),
		pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args})
	if err != nil {
		return classify(err, "pgoutput: start replication", r.cfg.Slot, r.cfg.Publication)
	}
	if r.cfg.OnConnection != nil {
		r.cfg.OnConnection(nil)
	}
	r.streamed = true
	r.log.Info("streaming from replication slot", "slot", r.cfg.Slot, "publication", r.cfg.Publication,
		"lsn", pglogrepl.LSN(from).String(), "proto_version", proto, "streaming", r.streaming)

	fb := r.startFeedback(ctx, conn, from)
	defer fb.close()
	for {
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ferr := fb.failure(); ferr != nil {
				return ferr
			}
			return classify(err, "pgoutput: receive", r.cfg.Slot, r.cfg.Publication)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("pgoutput: %w: keepalive: %w", errMalformed, err)
				}
				if err := r.keepalive(ctx, uint64(ka.ServerWALEnd), h); err != nil {
					return err
				}
				if ka.ReplyRequested {
					if err := fb.send(); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("pgoutput: %w: %w", errMalformed, err)
				}
				if err := r.apply(ctx, uint64(xld.WALStart), xld.WALData, h); err != nil {
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return classify(pgconn.ErrorResponseToPgError(msg), "pgoutput: stream", r.cfg.Slot, r.cfg.Publication)
		case *pgproto3.CopyDone:
			return fmt.Errorf("pgoutput: the server ended the replication stream: %w", io.EOF)
		case *pgproto3.NoticeResponse:
			r.log.Info("server notice", "message", msg.Message)
		}
	}
}

// keepalive treats the server's WAL position as resumable while no
// transaction is open: every transaction that commits before it has been
// sent, so once Kafka acknowledged everything before it the slot may
// confirm it, and confirmed_flush_lsn advances even while only unselected
// tables are written.
func (r *Reader) keepalive(ctx context.Context, walEnd uint64, h sluice.Handler) error {
	if r.inTxn || walEnd <= r.last {
		return nil
	}
	if r.reached(walEnd) {
		return errUntil
	}
	r.last = walEnd
	return h.Resumable(ctx, sluice.Position{LSN: walEnd})
}

// apply decodes one pgoutput message that started at WAL position at and
// hands its events to h.
func (r *Reader) apply(ctx context.Context, at uint64, data []byte, h sluice.Handler) error {
	if r.inStream && len(data) > 0 && carriesXid(data[0]) {
		xid, payload, err := streamedXid(data)
		if err == nil {
			err = r.spools[r.streamXid].add(at, xid, data[0], payload)
		}
		if err != nil {
			return r.streamError(at, err)
		}
		return nil
	}
	m, err := decodeMessage(data)
	if err != nil {
		return fmt.Errorf("pgoutput: at %s: %w", pglogrepl.LSN(at), err)
	}
	switch m := m.(type) {
	case *streamStartMsg, *streamStopMsg, *streamCommitMsg, *streamAbortMsg:
		return r.streamControl(ctx, at, m, h)
	}
	if r.inStream {
		return fmt.Errorf("pgoutput: at %s: %w: %q message inside a block of streamed changes", pglogrepl.LSN(at), errMalformed, data[0])
	}
	return r.dispatch(ctx, at, m, h)
}

// dispatch hands one decoded message of a transaction, streamed or not,
// on.
func (r *Reader) dispatch(ctx context.Context, at uint64, m any, h sluice.Handler) error {
	switch m := m.(type) {
	case *beginMsg:
		if r.reached(m.FinalLSN) {
			return errUntil
		}
		r.inTxn, r.begin = true, *m
	case *commitMsg:
		r.inTxn = false
		if m.EndLSN > r.last {
			r.last = m.EndLSN
			return h.Resumable(ctx, sluice.Position{LSN: m.EndLSN})
		}
	case *relationMsg:
		return r.relation(ctx, m)
	case *insertMsg:
		return r.insert(ctx, at, m, h)
	case *updateMsg:
		return r.update(ctx, at, m, h)
	case *deleteMsg:
		return r.delete(ctx, at, m, h)
	case *truncateMsg:
		return r.truncate(ctx, at, m, h)
	}
	return nil
}

// reached reports whether WAL position lsn is at or after Config.Until.
func (r *Reader) reached(lsn uint64) bool {
	return r.cfg.Until.LSN != 0 && lsn >= r.cfg.Until.LSN
}

func (r *Reader) source(at uint64) sluice.Source {
	return sluice.Source{
		Connector:  "postgresql",
		Name:       r.cfg.Name,
		Position:   sluice.Position{LSN: at},
		CommitTime: r.begin.CommitTime,
		TxID:       r.begin.Xid,
	}
}
