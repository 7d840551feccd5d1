package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// PostgresConfig describes a PostgreSQL source connection and what to read.
type PostgresConfig struct {
	// Name is the source name carried in every event; the connections
	// announce themselves as application "sluice <Name>".
	Name string
	Host string
	Port int
	User string
	// Password is the user's password; empty means none (PGPASSWORD and
	// ~/.pgpass are not read, see PostgresConnConfig).
	Password string
	// Database is the database to connect to.
	Database string
	// SSLMode is libpq's sslmode: disable, allow, prefer (the default),
	// require, verify-ca or verify-full.
	SSLMode string
	// SSLRootCert is the file of the certificate authorities that
	// verify-ca and verify-full check the server against.
	SSLRootCert string
	// SSLCert and SSLKey are the PEM client certificate and its key, for
	// servers that authenticate by certificate (cert in pg_hba.conf).
	SSLCert, SSLKey string
	// Selection picks the tables ("schema.table" patterns) and columns.
	Selection *sluice.Selection
	// ConnectTimeout bounds connecting. Default 10 s.
	ConnectTimeout time.Duration
	// ProgressInterval is how often progress is logged. Default 10 s; a
	// negative interval logs none (the caller reports progress itself).
	ProgressInterval time.Duration
	Logger           *slog.Logger
	// Position, when set, is called inside the snapshot's transaction
	// once its snapshot is taken (after the first query), and the rows
	// carry the position it returns instead of RunPostgres's at: a read
	// of its own (snapshotName "") then knows a WAL position no earlier
	// than what it sees, e.g. pg_current_wal_lsn().
	Position func(ctx context.Context, conn *pgx.Conn) (sluice.Position, error)
}

// RunPostgres copies every selected table inside one transaction that sees
// the database as of snapshotName, a snapshot exported by
// CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT (or pg_export_snapshot()) whose
// exporting session must stay open and idle until RunPostgres returns. With
// snapshotName "" it reads in a REPEATABLE READ transaction of its own.
//
// Inside BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY and SET
// TRANSACTION SNAPSHOT it lists the tables, takes ACCESS SHARE locks on all
// of them (so no ALTER or DROP runs until the copy ends; waiting at most a
// minute for them), reads their shapes and then streams each table with
// COPY (SELECT …) TO STDOUT in text format. Every row becomes an OpRead
// event at position at, handed to h as it arrives; no more than one row is
// held in memory (a slow h slows the COPY through TCP back-pressure).
// Progress is logged every ProgressInterval.
//
// It blocks until every table is read, ctx is done or h fails; h is called
// from the calling goroutine. It opens and closes its own connection.
func RunPostgres(ctx context.Context, cfg PostgresConfig, snapshotName string, at sluice.Position, h sluice.Handler) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = 10 * time.Second
	}
	conn, err := ConnectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return fmt.Errorf("snapshot: begin: %w", err)
	}
	if snapshotName != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quotePostgresLiteral(snapshotName)); err != nil {
			return fmt.Errorf("snapshot: import exported snapshot %q: %w: the session that exported it (the replication connection that created the slot) must stay open and idle until the snapshot is read", snapshotName, err)
		}
	}
	for _, q := range []string{"SET LOCAL statement_timeout = 0", "SET LOCAL idle_in_transaction_session_timeout = 0", "SET LOCAL lock_timeout = '60s'"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("snapshot: %s: %w", q, err)
		}
	}
	tables, err := ListPostgresTables(ctx, conn, cfg.Selection)
	if err != nil {
		return err
	}
	if cfg.Position != nil {
		if at, err = cfg.Position(ctx, conn); err != nil {
			return err
		}
	}
	if len(tables) == 0 {
		log.Warn("snapshot: no table matches tables.include; nothing to copy", "include", cfg.Selection.Include)
	}
	if err := lockPostgresTables(ctx, conn, tables); err != nil {
		return err
	}
	cat := schema.NewPostgresCatalog(conn)
	shapes := make([]*PostgresShape, 0, len(tables))
	for _, ref := range tables {
		sh, err := LoadPostgresShape(ctx, conn, cat, ref, cfg.Selection)
		if err != nil {
			return err
		}
		if len(sh.Proj.Table.Key) == 0 {
			log.Warn("table has no primary key and no configured key columns: its records get a null key and are not compacted; set tables.keys to key them",
				"table", sh.Full.FullName())
		}
		shapes = append(shapes, sh)
	}
	log.Info("snapshot: consistent point", "lsn", pglogrepl.LSN(at.LSN).String(), "exported_snapshot", snapshotName, "tables", len(shapes))
	if p, ok := h.(sluice.SnapshotPlanner); ok {
		plan := make([]sluice.TableEstimate, len(shapes))
		for i, sh := range shapes {
			plan[i] = sluice.TableEstimate{Table: sh.Full.FullName(), Rows: sh.Ref.EstRows}
		}
		p.SnapshotPlan(plan)
	}
	src := sluice.Source{Connector: "postgresql", Name: cfg.Name, Position: at, Snapshot: true}
	for _, sh := range shapes {
		if err := copyPostgresTable(ctx, conn, sh, src, h, cfg.ProgressInterval, log); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("snapshot: commit: %w", err)
	}
	return nil
}

// lockPostgresTables takes ACCESS SHARE locks on every table at once.
func lockPostgresTables(ctx context.Context, conn *pgx.Conn, tables []PostgresTableRef) error {
	if len(tables) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("LOCK TABLE ")
	for i, t := range tables {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.Quoted())
	}
	b.WriteString(" IN ACCESS SHARE MODE")
	if _, err := conn.Exec(ctx, b.String()); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55P03" {
			return fmt.Errorf("snapshot: lock the selected tables: %w: a schema change (ALTER, DROP, VACUUM FULL) holds one of them; retry when it is done", err)
		}
		return fmt.Errorf("snapshot: lock the selected tables: %w", withPostgresFix(err, "each selected table"))
	}
	return nil
}

// copyPostgresTable streams one table's rows to h.
func copyPostgresTable(ctx context.Context, conn *pgx.Conn, sh *PostgresShape, src sluice.Source, h sluice.Handler, every time.Duration, log *slog.Logger) error {
	began := time.Now()
	last := began
	var n uint64
	table := sh.Proj.Table
	w := &copyRows{cols: table.Columns, row: func(row sluice.Row) error {
		ev := &sluice.Event{Op: sluice.OpRead, Table: table, After: row, Source: src}
		if err := h.Change(ctx, ev); err != nil {
			return err
		}
		n++
		if every > 0 && n%1024 == 0 {
			if now := time.Now(); now.Sub(last) >= every {
				last = now
				log.Info("snapshot: progress", "table", table.FullName(), "rows", n, "estimated_rows", sh.Ref.EstRows,
					"rows_per_s", int(float64(n)/now.Sub(began).Seconds()))
			}
		}
		return nil
	}}
	if _, err := conn.PgConn().CopyTo(ctx, w, sh.copyQuery()); err != nil {
		if w.err != nil {
			err = w.err
		}
		return fmt.Errorf("snapshot: read %s: %w", table.FullName(), withPostgresFix(err, sh.Ref.Quoted()))
	}
	if len(w.partial) > 0 {
		return fmt.Errorf("snapshot: read %s: COPY output ends inside a row", table.FullName())
	}
	log.Info("snapshot: table done", "table", table.FullName(), "rows", n, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// copyRows is the io.Writer COPY … TO STDOUT (text format) writes into: it
// cuts the stream into lines, one row each, splits each line at tabs, undoes
// COPY's backslash escapes and converts each field with
// schema.PostgresValue. It keeps at most one incomplete line between
// writes.
type copyRows struct {
	cols    []sluice.Column
	row     func(sluice.Row) error
	partial []byte // an incomplete line carried to the next Write
	field   []byte // scratch for de-escaped fields
	err     error  // the first error, kept because pgconn may wrap it
}

// maxKeptBuffer is the capacity above which a scratch buffer is dropped
// after use rather than kept, so one huge row does not pin its memory.
const maxKeptBuffer = 1 << 20

func (w *copyRows) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		w.partial = append(w.partial, p[:i]...)
		if err := w.line(w.partial); err != nil {
			return 0, err
		}
		w.partial = w.partial[:0]
		if cap(w.partial) > maxKeptBuffer {
			w.partial = nil
		}
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		if err := w.line(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// line converts one COPY text line into a row and hands it on.
func (w *copyRows) line(l []byte) error {
	row := make(sluice.Row, len(w.cols))
	for i := range w.cols {
		var f []byte
		if j := bytes.IndexByte(l, '\t'); j >= 0 {
			f, l = l[:j], l[j+1:]
			if i == len(w.cols)-1 {
				return w.fail(fmt.Errorf("COPY row has more than %d fields", len(w.cols)))
			}
		} else {
			if i != len(w.cols)-1 {
				return w.fail(fmt.Errorf("COPY row has %d fields, want %d", i+1, len(w.cols)))
			}
			f, l = l, nil
		}
		if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
			continue // NULL
		}
		if bytes.IndexByte(f, '\\') >= 0 {
			var err error
			if w.field, err = unescapeCopy(w.field[:0], f); err != nil {
				return w.fail(fmt.Errorf("column %q: %w", w.cols[i].Name, err))
			}
			f = w.field
		}
		v, err := schema.PostgresValue(&w.cols[i], f)
		if err != nil {
			return w.fail(err)
		}
		row[i] = v
	}
	if cap(w.field) > maxKeptBuffer {
		w.field = nil
	}
	if err := w.row(row); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *copyRows) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// unescapeCopy undoes COPY's text-format escapes: \b \f \n \r \t \v, \\,
// octal \d[d[d]], hex \xh[h], and a backslash before any other character
// standing for that character.
func unescapeCopy(dst, f []byte) ([]byte, error) {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(f) {
			return dst, errors.New("COPY field ends in a lone backslash")
		}
		switch c = f[i]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := c - '0'
			for k := 0; k < 2 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; k++ {
				i++
				v = v<<3 | (f[i] - '0')
			}
			dst = append(dst, v)
		case 'x':
			v, k := byte(0), 0
			for ; k < 2 && i+1 < len(f) && isHex(f[i+1]); k++ {
				i++
				v = v<<4 | hexValue(f[i])
			}
			if k == 0 {
				dst = append(dst, 'x')
			} else {
				dst = append(dst, v)
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// quotePostgresLiteral quotes s as an SQL string literal.
func quotePostgresLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
