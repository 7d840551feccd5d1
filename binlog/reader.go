package binlog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/retry"
	"github.com/sluice-cdc/sluice/schema"
)

// Config describes the replication connection and what to capture.
type Config struct {
	// Name is the source name carried in every event.
	Name     string
	Host     string
	Port     int
	User     string
	Password string
	// ServerID identifies this replica to the server; it must differ from
	// every other replica's.
	ServerID uint32
	// Flavor is "mysql" or "mariadb".
	Flavor string
	// Selection picks the captured tables and columns.
	Selection *sluice.Selection
	// EventCache bounds how many decoded binlog events wait between the
	// network reader and the handler. Default 128.
	EventCache int
	// Logger receives DDL statements and reconnect notices.
	Logger *slog.Logger
	// TLS, when set, encrypts the replication connection with it; nil
	// connects in plain text.
	TLS *tls.Config
	// ReconnectBackoff is the first wait before reconnecting after a lost
	// connection; it doubles up to 30 s, each wait within ±20 % of that
	// (package internal/retry's policy). Default 1 s. MaxReconnects bounds
	// consecutive failed attempts (default 10); a reconnect that reached a
	// new transaction boundary starts the count and the waits over.
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
	// Until, when its File is set, ends the stream there: Run returns nil
	// once every transaction before Until is handed on, without handing on
	// any event at or after it. A retaken snapshot's catch-up reads up to
	// the new snapshot's consistent point this way. The server's heartbeat
	// (every 10 s) ends a catch-up whose last transaction is not the one
	// right before Until.
	Until sluice.Position
}

// errUntil ends a stream that reached Config.Until.
var errUntil = errors.New("binlog: reached the end position")

// Reader follows one server's binlog.
type Reader struct {
	cfg    Config
	log    *slog.Logger
	tables map[uint64]*tableEntry
	warned map[string]bool

	// Position of the next event to read, as of the last transaction
	// boundary handed to Resumable.
	file    string
	gtids   mysql.GTIDSet
	pending string // GTID of the open transaction, applied at its commit
	inTxn   bool   // inside a multi-statement transaction: no boundary before its end
}

type tableEntry struct {
	fingerprint []byte
	selected    bool
	full        *sluice.Table
	proj        *sluice.Projection
	skip        []bool // columns excluded from capture: not converted
}

// New returns a Reader. It does not connect.
func New(cfg Config) *Reader {
	if cfg.EventCache <= 0 {
		cfg.EventCache = 128
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
	return &Reader{cfg: cfg, log: cfg.Logger, tables: map[uint64]*tableEntry{}, warned: map[string]bool{}}
}

// Run streams changes from position from until ctx is cancelled or a fatal
// error occurs. It blocks; it calls h from its own goroutine only. A
// cancelled ctx returns nil. A lost connection (see Retryable) is retried
// from the last transaction boundary, after a wait of package
// internal/retry's backoff with jitter, logged with the cause and the wait;
// events after that boundary are handed to h again. After MaxReconnects
// consecutive failed attempts Run returns the last error.
func (r *Reader) Run(ctx context.Context, from sluice.Position, h sluice.Handler) error {
	if from.File == "" {
		return errors.New("binlog: no start position: the snapshot or a stored checkpoint must supply one")
	}
	gset, err := mysql.ParseGTIDSet(r.cfg.Flavor, from.GTIDSet)
	if err != nil {
		return fmt.Errorf("binlog: parse stored GTID set %q: %w", from.GTIDSet, err)
	}
	r.gtids = gset
	pos := from
	backoff := retry.New(retry.Policy{Initial: r.cfg.ReconnectBackoff, Max: retry.MaxReconnectWait, Attempts: r.cfg.MaxReconnects})
	for {
		next, progressed, err := r.stream(ctx, pos, h)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || errors.Is(err, errUntil) {
			return nil
		}
		if !Retryable(err) {
			return err
		}
		if progressed {
			backoff.Reset()
		}
		wait, ok := backoff.Next()
		if !ok {
			return fmt.Errorf("binlog: giving up after %d reconnect attempts: %w", backoff.Retries(), err)
		}
		if r.cfg.OnConnection != nil {
			r.cfg.OnConnection(err)
		}
		r.log.Warn("binlog connection lost; reconnecting from the last transaction boundary",
			"error", err, "file", next.File, "pos", next.Offset, "wait", wait)
		if retry.Wait(ctx, wait) != nil {
			return nil
		}
		pos = next
		if r.cfg.Rewind != nil {
			if at, ok := r.cfg.Rewind(); ok {
				gset, err := mysql.ParseGTIDSet(r.cfg.Flavor, at.GTIDSet)
				if err != nil {
					return fmt.Errorf("binlog: parse GTID set %q to rewind to: %w", at.GTIDSet, err)
				}
				pos, r.gtids = at, gset
			}
		}
	}
}

// stream runs one replication connection. It returns the last transaction
// boundary reached and whether any was reached.
func (r *Reader) stream(ctx context.Context, from sluice.Position, h sluice.Handler) (sluice.Position, bool, error) {
	last := from
	progressed := false
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                r.cfg.ServerID,
		Flavor:                  r.cfg.Flavor,
		Host:                    r.cfg.Host,
		Port:                    uint16(r.cfg.Port),
		User:                    r.cfg.User,
		Password:                r.cfg.Password,
		UseDecimal:              true,
		ParseTime:               false,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         10 * time.Second,
		ReadTimeout:             60 * time.Second,
		DisableRetrySync:        true,
		VerifyChecksum:          true,
		EventCacheCount:         r.cfg.EventCache,
		Logger:                  quietLogger(r.log),
		RowsEventDecodeFunc:     r.decodeRows,
		TLSConfig:               r.cfg.TLS,
	})
	defer syncer.Close()
	r.file = from.File
	streamer, err := syncer.StartSync(mysql.Position{Name: from.File, Pos: uint32(from.Offset)})
	if err != nil {
		return last, false, classify(err, from)
	}
	if r.cfg.OnConnection != nil {
		r.cfg.OnConnection(nil)
	}
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return last, progressed, nil
			}
			return last, progressed, classify(err, last)
		}
		if r.cfg.Until.File != "" && !r.inTxn && r.startsAtUntil(ev) {
			return last, progressed, errUntil
		}
		boundary, err := r.handle(ctx, ev, h)
		if err != nil {
			return last, progressed, err
		}
		if boundary {
			last = sluice.Position{File: r.file, Offset: uint64(ev.Header.LogPos), GTIDSet: r.gtids.String()}
			progressed = true
			if err := h.Resumable(ctx, last); err != nil {
				return last, progressed, err
			}
		}
		if r.cfg.Until.File != "" && !r.inTxn && r.endsAtUntil(ev) {
			return last, progressed, errUntil
		}
	}
}

// startsAtUntil reports whether event ev, read outside a transaction,
// begins at or after Config.Until: it and all after it are not handed on.
func (r *Reader) startsAtUntil(ev *replication.BinlogEvent) bool {
	h := ev.Header
	if _, rotate := ev.Event.(*replication.RotateEvent); rotate || h.LogPos == 0 ||
		h.EventType == replication.HEARTBEAT_EVENT || h.EventType == replication.HEARTBEAT_LOG_EVENT_V2 {
		return false
	}
	return !Before(sluice.Position{File: r.file, Offset: uint64(h.LogPos - h.EventSize)}, r.cfg.Until)
}

// endsAtUntil reports whether the stream, after event ev and outside a
// transaction, stands at or after Config.Until: for a rotation, the start
// of the next file; for a heartbeat, the server's current position; else
// the end of ev.
func (r *Reader) endsAtUntil(ev *replication.BinlogEvent) bool {
	if e, ok := ev.Event.(*replication.RotateEvent); ok {
		return !Before(sluice.Position{File: string(e.NextLogName), Offset: e.Position}, r.cfg.Until)
	}
	if ev.Header.LogPos == 0 {
		return false
	}
	return !Before(sluice.Position{File: r.file, Offset: uint64(ev.Header.LogPos)}, r.cfg.Until)
}

// Before reports whether binlog position a comes before b on the same
// server: by file (the numbered suffix of the binlog's base name), then
// offset. GTID sets are not compared.
func Before(a, b sluice.Position) bool {
	if a.File != b.File {
		return fileBefore(a.File, b.File)
	}
	return a.Offset < b.Offset
}

// fileBefore orders binlog file names: names of one base differ in their
// numbered extension, which grows past its zero-padded width after
// 999999.
func fileBefore(a, b string) bool {
	ai, bi := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
	if ai >= 0 && bi >= 0 && a[:ai] == b[:bi] {
		an, aerr := strconv.ParseUint(a[ai+1:], 10, 64)
		bn, berr := strconv.ParseUint(b[bi+1:], 10, 64)
		if aerr == nil && berr == nil {
			return an < bn
		}
	}
	return a < b
}

// decodeRows decodes only rows events of captured tables; the others are
// skipped after their header, which saves most of the decoding cost of busy
// tables nobody asked for. go-mysql calls it on its own parsing goroutine,
// ahead of the events the handler has seen, so it decides from the table
// map the parser attached and the read-only selection, nothing else.
func (r *Reader) decodeRows(e *replication.RowsEvent, data []byte) (err error) {
	// A corrupt event must stop the stream with an error, not crash the
	// process from go-mysql's goroutine.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode rows event: malformed event: %v", p)
		}
	}()
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table != nil && !r.cfg.Selection.Match(string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	return e.DecodeData(pos, data)
}

// handle processes one event and reports whether it ends a transaction.
func (r *Reader) handle(ctx context.Context, ev *replication.BinlogEvent, h sluice.Handler) (bool, error) {
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		// MariaDB has no BEGIN event: a GTID event that is not standalone
		// opens a transaction that ends with XID or COMMIT.
		r.pending = e.GTID.String()
		r.inTxn = !e.IsStandalone()
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err == nil {
			r.pending = next.String()
		}
	case *replication.TableMapEvent:
		return false, r.tableMap(e)
	case *replication.RowsEvent:
		return false, r.rows(ctx, ev, e, h)
	case *replication.XIDEvent:
		r.inTxn = false
		return true, r.commit()
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			r.inTxn = true
			return false, nil
		case strings.EqualFold(q, "COMMIT"), strings.EqualFold(q, "ROLLBACK"):
			r.inTxn = false
			return true, r.commit()
		case r.inTxn:
			// SAVEPOINT, ROLLBACK TO and statements logged inside a
			// transaction: a restart here would begin mid-transaction.
			return false, nil
		}
		r.log.Info("ddl in binlog; the next table map carries the new shape",
			"schema", string(e.Schema), "statement", truncate(q, 300), "file", r.file, "pos", ev.Header.LogPos)
		return true, r.commit()
	}
	return false, nil
}

func (r *Reader) commit() error {
	if r.pending == "" {
		return nil
	}
	err := r.gtids.Update(r.pending)
	r.pending = ""
	if err != nil {
		return fmt.Errorf("binlog: track gtid: %w", err)
	}
	return nil
}

func (r *Reader) tableMap(e *replication.TableMapEvent) error {
	fp := fingerprint(e)
	if ent := r.tables[e.TableID]; ent != nil && bytes.Equal(ent.fingerprint, fp) {
		return nil
	}
	ent := &tableEntry{fingerprint: fp}
	r.tables[e.TableID] = ent
	db, name := string(e.Schema), string(e.Table)
	if !r.cfg.Selection.Match(db, name) {
		return nil
	}
	full, err := schema.MySQLTableFromTableMap(e)
	if err != nil {
		return fmt.Errorf("binlog: table %s.%s: %w", db, name, err)
	}
	proj, err := r.cfg.Selection.Project(full)
	if err != nil {
		return fmt.Errorf("binlog: %w", err)
	}
	if len(proj.Table.Key) == 0 && !r.warned[full.FullName()] {
		r.warned[full.FullName()] = true
		r.log.Warn("table has no primary key and no configured key columns: its records get a null key and are not compacted; set tables.keys to key them",
			"table", full.FullName())
	}
	ent.selected, ent.full, ent.proj = true, full, proj
	if proj.Source != nil {
		ent.skip = make([]bool, len(full.Columns))
		for i := range ent.skip {
			ent.skip[i] = true
		}
		for _, j := range proj.Source {
			ent.skip[j] = false
		}
	}
	return nil
}

func (r *Reader) rows(ctx context.Context, ev *replication.BinlogEvent, e *replication.RowsEvent, h sluice.Handler) error {
	ent := r.tables[e.TableID]
	if ent == nil || !ent.selected {
		return nil
	}
	src := sluice.Source{
		Connector:  "mysql",
		Name:       r.cfg.Name,
		ServerID:   ev.Header.ServerID,
		Position:   sluice.Position{File: r.file, Offset: uint64(ev.Header.LogPos - ev.Header.EventSize)},
		GTID:       r.pending,
		CommitTime: time.Unix(int64(ev.Header.Timestamp), 0).UTC(),
	}
	var op sluice.Op
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = sluice.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = sluice.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = sluice.OpDelete
	default:
		return nil
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		first, err := r.row(ent, e.Rows[i])
		if err != nil {
			return err
		}
		ce := &sluice.Event{Op: op, Table: ent.proj.Table, Source: src}
		ce.Source.Row = i / step
		switch op {
		case sluice.OpCreate:
			ce.After = first
		case sluice.OpDelete:
			ce.Before = first
		case sluice.OpUpdate:
			ce.Before = first
			if ce.After, err = r.row(ent, e.Rows[i+1]); err != nil {
				return err
			}
		}
		if err := h.Change(ctx, ce); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) row(ent *tableEntry, raw []any) (sluice.Row, error) {
	cols := ent.full.Columns
	if len(raw) != len(cols) {
		return nil, fmt.Errorf("binlog: table %s: row has %d values for %d columns", ent.full.FullName(), len(raw), len(cols))
	}
	full := make(sluice.Row, len(cols))
	for i := range cols {
		if raw[i] == nil || (ent.skip != nil && ent.skip[i]) {
			continue
		}
		v, err := schema.MySQLBinlogValue(&cols[i], raw[i])
		if err != nil {
			return nil, fmt.Errorf("binlog: table %s column %s: %w", ent.full.FullName(), cols[i].Name, err)
		}
		full[i] = v
	}
	return ent.proj.Row(full), nil
}

// fingerprint captures everything in a TABLE_MAP event that shapes decoding.
func fingerprint(e *replication.TableMapEvent) []byte {
	var b bytes.Buffer
	b.Write(e.Schema)
	b.WriteByte(0)
	b.Write(e.Table)
	b.WriteByte(0)
	b.Write(e.ColumnType)
	for _, m := range e.ColumnMeta {
		b.WriteByte(byte(m))
		b.WriteByte(byte(m >> 8))
	}
	b.Write(e.NullBitmap)
	b.Write(e.SignednessBitmap)
	for _, n := range e.ColumnName {
		b.Write(n)
		b.WriteByte(0)
	}
	for _, k := range e.PrimaryKey {
		b.WriteByte(byte(k))
	}
	for _, c := range e.DefaultCharset {
		b.WriteByte(byte(c))
	}
	for _, c := range e.ColumnCharset {
		b.WriteByte(byte(c))
	}
	for _, vals := range [][][][]byte{e.EnumStrValue, e.SetStrValue} {
		for _, col := range vals {
			for _, v := range col {
				b.Write(v)
				b.WriteByte(0)
			}
			b.WriteByte(1)
		}
	}
	return b.Bytes()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
