package pgoutput

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice"
)

// Streamed transactions. With Config.Streaming the server sends a large
// transaction while it runs, in blocks (Stream Start … Stream Stop) that
// interleave with other transactions, and ends it with Stream Commit or
// Stream Abort. The reader writes each block's messages to the
// transaction's spool and, at Stream Commit, reads them back through the
// same path as a transaction the server sent whole: Relation messages
// among them set the shapes of the changes that follow, as they would
// have. So the stream's order stays the commit order and only committed
// changes reach the handler.

// streamControl handles Stream Start, Stop, Commit and Abort.
func (r *Reader) streamControl(ctx context.Context, at uint64, m any, h sluice.Handler) error {
	if !r.streaming {
		return fmt.Errorf("pgoutput: at %s: %w: a streamed transaction, but streaming was not asked for", pglogrepl.LSN(at), errMalformed)
	}
	switch m := m.(type) {
	case *streamStartMsg:
		if r.inStream || r.inTxn {
			return fmt.Errorf("pgoutput: at %s: %w: Stream Start inside a transaction", pglogrepl.LSN(at), errMalformed)
		}
		sp := r.spools[m.Xid]
		if sp == nil {
			if !m.First {
				return fmt.Errorf("pgoutput: at %s: %w: transaction %d streamed on without its first block", pglogrepl.LSN(at), errMalformed, m.Xid)
			}
			var err error
			if sp, err = openSpool(r.spoolDir, m.Xid); err != nil {
				return r.streamError(at, err)
			}
			r.spools[m.Xid] = sp
			r.log.Debug("streaming an in-progress transaction", "xid", m.Xid, "lsn", pglogrepl.LSN(at).String())
		}
		r.inStream, r.streamXid = true, m.Xid
	case *streamStopMsg:
		if !r.inStream {
			return fmt.Errorf("pgoutput: at %s: %w: Stream Stop outside a block", pglogrepl.LSN(at), errMalformed)
		}
		r.inStream = false
	case *streamAbortMsg:
		if r.inStream {
			return fmt.Errorf("pgoutput: at %s: %w: Stream Abort inside a block", pglogrepl.LSN(at), errMalformed)
		}
		sp := r.spools[m.Xid]
		if sp == nil {
			return nil // nothing of it was streamed in this session
		}
		if m.SubXid != m.Xid {
			if err := sp.abortSub(m.SubXid); err != nil {
				return r.streamError(at, err)
			}
			return nil
		}
		delete(r.spools, m.Xid)
		r.log.Debug("streamed transaction aborted", "xid", m.Xid, "spooled_bytes", sp.size)
		if err := sp.remove(); err != nil {
			return r.streamError(at, err)
		}
	case *streamCommitMsg:
		if r.inStream {
			return fmt.Errorf("pgoutput: at %s: %w: Stream Commit inside a block", pglogrepl.LSN(at), errMalformed)
		}
		return r.streamCommit(ctx, m, h)
	}
	return nil
}

// streamCommit hands a committed streamed transaction's changes on, then
// its end as a resumable position.
func (r *Reader) streamCommit(ctx context.Context, m *streamCommitMsg, h sluice.Handler) error {
	if r.reached(m.CommitLSN) {
		return errUntil
	}
	r.inTxn, r.begin = true, beginMsg{FinalLSN: m.CommitLSN, CommitTime: m.CommitTime, Xid: m.Xid}
	if sp := r.spools[m.Xid]; sp != nil {
		delete(r.spools, m.Xid)
		began := time.Now()
		err := r.replay(ctx, sp, m.Xid, h)
		if rerr := sp.remove(); err == nil {
			err = rerr
		}
		if errors.Is(err, errSpool) {
			return r.streamError(m.CommitLSN, err)
		}
		if err != nil {
			return err
		}
		r.log.Info("streamed transaction committed", "xid", m.Xid, "commit_lsn", pglogrepl.LSN(m.CommitLSN).String(),
			"spooled_bytes", sp.size, "replay", time.Since(began).Round(time.Millisecond))
	}
	return r.dispatch(ctx, m.CommitLSN, &commitMsg{Flags: m.Flags, CommitLSN: m.CommitLSN, EndLSN: m.EndLSN, CommitTime: m.CommitTime}, h)
}

// replayBatch is how many events the spool's reader hands over at once,
// and replayBatches how many batches may wait: together they bound the
// events held between the two goroutines of a replay.
const (
	replayBatch   = 128
	replayBatches = 4
)

// replay reads a committed transaction's spool back and hands its events
// to h in order. Reading the spool, decoding the messages and converting
// their values run on a goroutine of their own while this one calls h
// (encoding and producing, downstream), so the two overlap; the server has
// nothing to decode meanwhile, so a second core is usually idle. The
// reader's state (shapes, the catalog connection) is used by that
// goroutine alone until replay returns.
func (r *Reader) replay(ctx context.Context, sp *spool, xid uint32, h sluice.Handler) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*sluice.Event, replayBatches)
	done := make(chan error, 1)
	go func() {
		c := &batcher{ctx: rctx, out: batches}
		err := sp.replay(func(at uint64, msg []byte) error {
			dm, err := decodeMessage(msg)
			if err != nil {
				return fmt.Errorf("pgoutput: streamed transaction %d at %s: %w", xid, pglogrepl.LSN(at), err)
			}
			switch dm.(type) {
			case *beginMsg, *commitMsg:
				return fmt.Errorf("pgoutput: streamed transaction %d at %s: %w: %q message in a streamed block", xid, pglogrepl.LSN(at), errMalformed, msg[0])
			}
			return r.dispatch(rctx, at, dm, c)
		})
		if err == nil {
			err = c.flush()
		}
		close(batches)
		done <- err
	}()
	var herr error
	for b := range batches {
		for _, ev := range b {
			if herr != nil {
				break
			}
			if herr = h.Change(ctx, ev); herr != nil {
				cancel() // stop the reading side; drain what it sent
			}
		}
	}
	err := <-done
	if herr != nil {
		return herr
	}
	return err
}

// batcher is the handler of a replay's reading side: it collects events
// into batches for the goroutine that calls the real handler.
type batcher struct {
	ctx   context.Context
	out   chan<- []*sluice.Event
	batch []*sluice.Event
}

func (b *batcher) Change(_ context.Context, ev *sluice.Event) error {
	b.batch = append(b.batch, ev)
	if len(b.batch) < replayBatch {
		return nil
	}
	return b.flush()
}

// Resumable is never called inside a transaction.
func (b *batcher) Resumable(context.Context, sluice.Position) error {
	return fmt.Errorf("pgoutput: %w: a resumable position inside a streamed transaction", errMalformed)
}

func (b *batcher) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	select {
	case b.out <- b.batch:
		b.batch = make([]*sluice.Event, 0, replayBatch)
		return nil
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
}

// streamError wraps a spool failure with its fix.
func (r *Reader) streamError(at uint64, err error) error {
	if !errors.Is(err, errSpool) {
		return fmt.Errorf("pgoutput: at %s: %w", pglogrepl.LSN(at), err)
	}
	return fmt.Errorf("pgoutput: at %s: %w: sluice keeps transactions larger than the server's logical_decoding_work_mem in %s until they commit; free space there, point source.spool_dir at a larger disk, or set source.streaming to false to have the server keep them instead",
		pglogrepl.LSN(at), err, r.spoolDir)
}

// openSpoolDir empties (or creates) this slot's spool directory; what an
// earlier session left there is of no use, since the server streams every
// open transaction again.
func (r *Reader) openSpoolDir() error {
	dir := filepath.Join(r.cfg.SpoolDir, "sluice-"+r.cfg.Slot)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pgoutput: %w: empty %s: %w: check source.spool_dir", errSpool, dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgoutput: %w: create %s: %w: source.spool_dir must be a writable directory", errSpool, dir, err)
	}
	r.spoolDir = dir
	return nil
}

// dropSpools deletes the session's spools and their directory.
func (r *Reader) dropSpools() {
	for xid, sp := range r.spools {
		if err := sp.remove(); err != nil {
			r.log.Warn("remove streamed transaction spool", "xid", xid, "error", err)
		}
		delete(r.spools, xid)
	}
	if r.spoolDir != "" {
		if err := os.Remove(r.spoolDir); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("remove spool directory", "dir", r.spoolDir, "error", err)
		}
		r.spoolDir = ""
	}
}

// CheckSpoolDir reports whether the reader of slot can keep streamed
// transactions under dir (Config.SpoolDir; "" means os.TempDir()): it
// creates the directory the reader uses there and writes a file in it.
// The error names the directory and the setting to change.
func CheckSpoolDir(dir, slot string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	sub := filepath.Join(dir, "sluice-"+slot)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return fmt.Errorf("source.spool_dir: cannot create %s (%w): point source.spool_dir at a writable directory with room for the largest transaction, or set source.streaming to false", sub, err)
	}
	f, err := os.CreateTemp(sub, "check-*")
	if err == nil {
		err = f.Close()
		if rerr := os.Remove(f.Name()); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("source.spool_dir: cannot write in %s (%w): point source.spool_dir at a writable directory with room for the largest transaction, or set source.streaming to false", sub, err)
	}
	return nil
}

// StreamsInProgress reports whether a server of version serverVersion
// (the server_version parameter) streams in-progress transactions to a
// reader with Config.Streaming set.
func StreamsInProgress(serverVersion string) bool { return versionNum(serverVersion) >= 140000 }
