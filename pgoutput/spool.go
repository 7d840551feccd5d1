package pgoutput

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// A spool holds the streamed changes of one in-progress transaction on
// disk until the server commits or aborts it. PostgreSQL streams a
// transaction once its decoded changes outgrow logical_decoding_work_mem,
// block by block and interleaved with other transactions, before it
// knows whether the transaction commits; Kafka must see changes in commit
// order and only committed ones, so they wait here. Memory stays bounded:
// a spool keeps a write buffer of spoolBuffer bytes, and one record at a
// time when it is read back.
//
// A record is the message's WAL position (8 bytes, big-endian), its
// length (4 bytes) and the message as it would have been sent outside a
// stream: the type byte followed by the payload after the xid.
type spool struct {
	xid  uint32
	path string
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes written, the buffered ones included

	// subs lists the subtransactions with changes in the spool in the
	// order of their first change, with the offset of that change; at
	// maps a subtransaction's xid to its index. Subtransactions nest, so
	// aborting one discards everything from its first change on, its
	// later siblings' and children's changes included, as PostgreSQL's
	// own apply worker does.
	subs []spoolSub
	at   map[uint32]int
	last uint32 // the xid of the latest change, to skip the lookup
}

type spoolSub struct {
	xid uint32
	off int64
}

// spoolBuffer is each spool's write buffer and the reader's read buffer.
const spoolBuffer = 64 << 10

// maxKeptBuffer is the capacity above which the read buffer is dropped
// after a record rather than kept, so one huge row does not pin its memory.
const maxKeptBuffer = 1 << 20

// spoolHeader is the size of a record's header.
const spoolHeader = 12

// errSpool marks a failure to write or read a spool file.
var errSpool = errors.New("streamed transaction spool")

// openSpool creates the spool file of transaction xid in dir.
func openSpool(dir string, xid uint32) (*spool, error) {
	path := filepath.Join(dir, strconv.FormatUint(uint64(xid), 10)+".spool")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	return &spool{xid: xid, path: path, f: f, w: bufio.NewWriterSize(f, spoolBuffer), at: map[uint32]int{}, last: xid}, nil
}

// add appends one change of (sub)transaction xid that started at WAL
// position lsn: typ is its type byte, payload what follows the xid.
func (s *spool) add(lsn uint64, xid uint32, typ byte, payload []byte) error {
	if xid != s.last {
		s.last = xid
		if _, ok := s.at[xid]; !ok && xid != s.xid {
			s.at[xid] = len(s.subs)
			s.subs = append(s.subs, spoolSub{xid: xid, off: s.size})
		}
	}
	if len(payload) >= 1<<31 {
		return fmt.Errorf("%w: a message of %d bytes", errSpool, len(payload))
	}
	var h [spoolHeader + 1]byte
	binary.BigEndian.PutUint64(h[0:8], lsn)
	binary.BigEndian.PutUint32(h[8:12], uint32(len(payload)+1))
	h[12] = typ
	if _, err := s.w.Write(h[:]); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if _, err := s.w.Write(payload); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	s.size += int64(len(h) + len(payload))
	return nil
}

// abortSub discards the changes of subtransaction xid and of every
// subtransaction that began after it. A subtransaction with no changes
// in the spool leaves it as it is.
func (s *spool) abortSub(xid uint32) error {
	i, ok := s.at[xid]
	if !ok {
		return nil
	}
	off := s.subs[i].off
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if err := s.f.Truncate(off); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if _, err := s.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	for _, sub := range s.subs[i:] {
		delete(s.at, sub.xid)
	}
	s.subs = s.subs[:i]
	s.size = off
	s.last = s.xid
	return nil
}

// replay hands every record, in the order written, to fn. The message
// passed to fn is valid only during the call.
func (s *spool) replay(fn func(lsn uint64, msg []byte) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	rd := bufio.NewReaderSize(io.LimitReader(s.f, s.size), spoolBuffer)
	var h [spoolHeader]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(rd, h[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%w: read %s: %w", errSpool, s.path, err)
		}
		n := int(binary.BigEndian.Uint32(h[8:12]))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(rd, buf); err != nil {
			return fmt.Errorf("%w: read %s: %w", errSpool, s.path, err)
		}
		if err := fn(binary.BigEndian.Uint64(h[0:8]), buf); err != nil {
			return err
		}
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
	}
}

// remove closes and deletes the spool file.
func (s *spool) remove() error {
	err := s.f.Close()
	if rerr := os.Remove(s.path); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}
