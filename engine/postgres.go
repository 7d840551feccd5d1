package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pgoutput"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/snapshot"
)

// slotReleaseWait is how long start-up waits for a slot that is still
// marked active to be released.
const slotReleaseWait = 10 * time.Second

// postgresSource is the PostgreSQL source: a publication over the selected
// tables, a logical replication slot whose exported snapshot the snapshot
// reads, and pgoutput from the slot. Prepare opens a connection for the
// checks and keeps it until the slot is created or the stream starts;
// Close closes it. Every connection, the replication ones included, takes
// its settings from snapshot.PostgresConnConfig(scfg).
type postgresSource struct {
	cfg  *config.Config
	log  *slog.Logger
	scfg snapshot.PostgresConfig

	conn *pgx.Conn // from Prepare until the snapshot or the stream
	slot pgoutput.SlotState

	onConn func(error)                    // the reader's OnConnection
	rewind func() (sluice.Position, bool) // the reader's Rewind

	lagMu   sync.Mutex
	lagConn *pgx.Conn // Behind's connection, opened on first use
}

func newPostgresSource(cfg *config.Config, log *slog.Logger, onConn func(error), rewind func() (sluice.Position, bool)) *postgresSource {
	s := &cfg.Source
	return &postgresSource{
		cfg: cfg, log: log, onConn: onConn, rewind: rewind,
		scfg: snapshot.PostgresConfig{Name: cfg.Name, Host: s.Host, Port: s.Port, User: s.User, Password: s.Password.Reveal(),
			Database: s.Database, SSLMode: s.SSLMode, SSLRootCert: postgresRootCert(s),
			SSLCert: s.TLS.CertFile, SSLKey: s.TLS.KeyFile, Selection: selection(cfg),
			ConnectTimeout: s.ConnectTimeout, Logger: log, ProgressInterval: -1},
	}
}

// Behind implements Behinder: the WAL bytes from the slot's
// confirmed_flush_lsn to the server's current WAL position, on a
// connection of its own kept until Close.
func (p *postgresSource) Behind(ctx context.Context, _ sluice.Position) (int64, error) {
	p.lagMu.Lock()
	defer p.lagMu.Unlock()
	if p.lagConn == nil {
		conn, err := snapshot.ConnectPostgres(ctx, p.scfg)
		if err != nil {
			return 0, err
		}
		p.lagConn = conn
	}
	var n int64
	err := p.lagConn.QueryRow(ctx, `SELECT COALESCE(pg_wal_lsn_diff(
			CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
			confirmed_flush_lsn), 0)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, p.cfg.Source.Slot).Scan(&n)
	if err != nil {
		p.lagConn.Close(context.Background())
		p.lagConn = nil
		return 0, fmt.Errorf("measure WAL behind slot %s: %w", p.cfg.Source.Slot, err)
	}
	return max(n, 0), nil
}

// postgresRootCert is the CA file: source.sslrootcert, or source.tls.ca_file
// (config allows only one of them).
func postgresRootCert(s *config.SourceConfig) string {
	if s.SSLRootCert != "" {
		return s.SSLRootCert
	}
	return s.TLS.CAFile
}

// Close closes the connection Prepare opened, if it is still open, and
// Behind's.
func (p *postgresSource) Close() error {
	if p.conn != nil {
		p.conn.Close(context.Background())
		p.conn = nil
	}
	p.lagMu.Lock()
	if p.lagConn != nil {
		p.lagConn.Close(context.Background())
		p.lagConn = nil
	}
	p.lagMu.Unlock()
	return nil
}

// Prepare checks the server, reports each table's replica identity, makes
// sure the publication covers the selected tables and looks up the slot.
// resuming says that the source streams on from a checkpoint, so a table
// new to the publication misses the rows written before it joined.
func (p *postgresSource) Prepare(ctx context.Context, resuming bool) error {
	conn, err := snapshot.ConnectPostgres(ctx, p.scfg)
	if err != nil {
		return err
	}
	p.conn = conn
	s := &p.cfg.Source
	problems, tables, err := p.check(ctx, conn)
	if err != nil {
		return err
	}
	if err := warnOrFail(p.log, problems); err != nil {
		return fmt.Errorf("source %s:%d database %s is not ready: %w", s.Host, s.Port, s.Database, err)
	}
	names := tableNames(tables)
	for _, note := range identityNotes(tables) {
		p.log.Info(note)
	}
	before, err := pgoutput.LookupPublication(ctx, conn, s.Publication)
	if err != nil {
		return err
	}
	created, err := pgoutput.EnsurePublication(ctx, conn, s.Publication, names)
	if err != nil {
		return err
	}
	if resuming && before.Exists && before.Owned {
		for _, t := range before.Missing(names) {
			// The slot decodes a table only from the moment it joins the
			// publication; rows written earlier come only from a snapshot.
			p.log.Warn("table joined the publication after the snapshot: its changes are captured from now on, its earlier rows are not; start the source over (docs/operations.md) to copy them",
				"table", t.String(), "publication", s.Publication)
		}
	}
	if created {
		p.log.Info("publication covers the selected tables", "publication", s.Publication, "tables", len(names))
	}
	st, err := pgoutput.LookupSlot(ctx, conn, s.Slot)
	if err != nil {
		return err
	}
	// Right after a restart the server may still count the previous
	// process's session as the slot's holder for a moment; a slot another
	// sluice really holds stays active and start-up then fails.
	if st, err = waitSlotReleased(ctx, conn, st, s.Slot); err != nil {
		return err
	}
	if st.Active && st.ActivePID != 0 {
		// Prepare runs only while this instance holds the lease on the
		// name: the slot's holder is a previous active instance that
		// stopped answering (host lost, network cut) and whose session the
		// server has not yet timed out (wal_sender_timeout). It can no
		// longer write, so its session is ended.
		p.log.Warn("the replication slot is still held by a previous instance's session; this instance holds the lease, so that session is terminated",
			"slot", s.Slot, "pid", st.ActivePID)
		if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_terminate_backend($1)", st.ActivePID); err != nil {
			p.log.Warn("could not terminate the slot's holder; grant the user pg_signal_backend, or wait for wal_sender_timeout", "slot", s.Slot, "pid", st.ActivePID, "error", err)
		}
		if st, err = waitSlotReleased(ctx, conn, st, s.Slot); err != nil {
			return err
		}
	}
	p.slot = st
	return nil
}

// waitSlotReleased looks the slot up again until it is no longer active,
// for up to slotReleaseWait, and returns its last state.
func waitSlotReleased(ctx context.Context, conn *pgx.Conn, st pgoutput.SlotState, slot string) (pgoutput.SlotState, error) {
	var err error
	for wait := time.Now().Add(slotReleaseWait); st.Active && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if st, err = pgoutput.LookupSlot(ctx, conn, slot); err != nil {
			return st, err
		}
	}
	return st, nil
}

// CanResume checks the slot: it must exist, belong to this database and
// not be invalidated or held by another process.
func (p *postgresSource) CanResume(_ context.Context, pos sluice.Position) error {
	if err := p.slot.ResumeErr(p.cfg.Source.Slot, p.cfg.Source.Database); err != nil {
		err = fmt.Errorf("resume source %s: %w", p.cfg.Name, err)
		if errors.Is(err, pgoutput.ErrSlotMissing) || errors.Is(err, pgoutput.ErrSlotInvalidated) {
			return positionGone{err}
		}
		return err
	}
	p.log.Info("replication slot can resume", "slot", p.cfg.Source.Slot, "lsn", lsnText(pos.LSN),
		"slot_confirmed", lsnText(p.slot.ConfirmedFlush.LSN))
	return nil
}

// Snapshot creates the slot (dropping one that this source, having no
// checkpoint, never delivered from), reads the tables in the snapshot the
// slot exported, and returns the slot's consistent point.
func (p *postgresSource) Snapshot(ctx context.Context, h Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error) {
	slot, err := p.createSlot(ctx)
	if err != nil {
		return sluice.Position{}, err
	}
	defer slot.Close(context.WithoutCancel(ctx))
	from := slot.Consistent
	// Durable before the first snapshot record: a restart must know a
	// snapshot began here.
	if err := began(ctx, from); err != nil {
		return sluice.Position{}, err
	}
	if err := snapshot.RunPostgres(ctx, p.scfg, slot.SnapshotName, from, h); err != nil {
		return sluice.Position{}, err
	}
	return from, nil
}

// createSlot makes a new slot with an exported snapshot. A slot left from
// an earlier attempt is dropped first: this source has no checkpoint, so
// nothing was delivered through it, and an existing slot cannot export a
// snapshot.
func (p *postgresSource) createSlot(ctx context.Context) (*pgoutput.Slot, error) {
	name := p.cfg.Source.Slot
	if p.slot.Exists {
		if p.slot.Invalidated() && p.slot.Plugin == "pgoutput" && p.slot.Database == p.cfg.Source.Database {
			// This source's slot, its changes gone; the engine takes this
			// snapshot to start over (no checkpoint, or snapshot.mode
			// when_needed). A slot of another plugin or database is not
			// sluice's to drop.
			p.log.Warn("replication slot was invalidated by the server; dropping and re-creating it to take the snapshot", "slot", name)
		} else if err := p.slot.ResumeErr(name, p.cfg.Source.Database); err != nil {
			return nil, err
		} else {
			p.log.Warn("replication slot exists but this source has no checkpoint: nothing was delivered through it; dropping and re-creating it to take the snapshot",
				"slot", name)
		}
		if err := pgoutput.DropSlot(ctx, p.conn, name); err != nil {
			return nil, err
		}
	}
	p.Close()
	cc, err := snapshot.PostgresConnConfig(p.scfg)
	if err != nil {
		return nil, err
	}
	slot, err := pgoutput.CreateSlot(ctx, cc, name)
	if err != nil {
		return nil, err
	}
	p.log.Info("replication slot created", "slot", name, "consistent_point", lsnText(slot.Consistent.LSN))
	return slot, nil
}

// Resnapshot takes the new consistent point and its exported snapshot
// from a temporary slot, streams the permanent slot (which has not moved
// past at) up to that point into catchUp, then reads the tables in the
// exported snapshot. The stream goes on through the permanent slot from
// the new point; the temporary one ends with its connection.
func (p *postgresSource) Resnapshot(ctx context.Context, at sluice.Position, catchUp, h Handler) (sluice.Position, error) {
	p.Close()
	cc, err := snapshot.PostgresConnConfig(p.scfg)
	if err != nil {
		return sluice.Position{}, err
	}
	name := retakeSlot(p.cfg.Source.Slot)
	tmp, err := pgoutput.CreateTemporarySlot(ctx, cc, name)
	if err != nil {
		return sluice.Position{}, err
	}
	defer tmp.Close(context.WithoutCancel(ctx))
	to := tmp.Consistent
	p.log.Info("retaken snapshot: consistent point from a temporary slot", "slot", name, "consistent_point", lsnText(to.LSN))
	if at.LSN < to.LSN {
		p.log.Info("retaken snapshot: reading the slot from the snapshot checkpoint's point to the new one; only deletions are passed on",
			"slot", p.cfg.Source.Slot, "from", lsnText(at.LSN), "to", lsnText(to.LSN))
		r, err := p.reader(catchUp, to)
		if err != nil {
			return sluice.Position{}, err
		}
		if err := r.Run(ctx, at, catchUp); err != nil {
			return sluice.Position{}, err
		}
		if err := ctx.Err(); err != nil {
			return sluice.Position{}, err
		}
	}
	if err := snapshot.RunPostgres(ctx, p.scfg, tmp.SnapshotName, to, h); err != nil {
		return sluice.Position{}, err
	}
	return to, nil
}

// retakeSlot names the temporary slot of a retaken snapshot after the
// source's slot, within PostgreSQL's 63 bytes.
func retakeSlot(slot string) string {
	const suffix = "_retake"
	if len(slot) > 63-len(suffix) {
		slot = slot[:63-len(suffix)]
	}
	return slot + suffix
}

// Position streams from the slot's confirmed position when the slot
// exists, else from a new slot's consistent point.
func (p *postgresSource) Position(ctx context.Context) (sluice.Position, string, error) {
	if p.slot.Exists {
		if err := p.slot.ResumeErr(p.cfg.Source.Slot, p.cfg.Source.Database); err != nil {
			return sluice.Position{}, "", err
		}
		return p.slot.ConfirmedFlush, "the slot's confirmed position " + lsnText(p.slot.ConfirmedFlush.LSN), nil
	}
	p.Close()
	cc, err := snapshot.PostgresConnConfig(p.scfg)
	if err != nil {
		return sluice.Position{}, "", err
	}
	slot, err := pgoutput.CreateSlot(ctx, cc, p.cfg.Source.Slot)
	if err != nil {
		return sluice.Position{}, "", err
	}
	slot.Close(ctx)
	p.log.Info("replication slot created", "slot", p.cfg.Source.Slot, "consistent_point", lsnText(slot.Consistent.LSN))
	return slot.Consistent, "the new slot's consistent point " + lsnText(slot.Consistent.LSN), nil
}

// Stream follows the slot. Only what Kafka acknowledged (h.Acked) is
// confirmed to the server.
func (p *postgresSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	r, err := p.reader(h, sluice.Position{})
	if err != nil {
		return err
	}
	return r.Run(ctx, from, h)
}

// reader is a reader of the source's slot for h, ending at until when its
// LSN is set.
func (p *postgresSource) reader(h Handler, until sluice.Position) (*pgoutput.Reader, error) {
	if p.conn != nil {
		p.conn.Close(context.Background())
		p.conn = nil
	}
	s := &p.cfg.Source
	cc, err := snapshot.PostgresConnConfig(p.scfg)
	if err != nil {
		return nil, err
	}
	return pgoutput.New(pgoutput.Config{
		Name: p.cfg.Name, Conn: cc, Slot: s.Slot, Publication: s.Publication,
		Selection: p.scfg.Selection, StatusInterval: s.StatusInterval, Logger: p.log,
		Streaming: s.Streaming, SpoolDir: s.SpoolDir, Acked: h.Acked, OnConnection: p.onConn, Rewind: p.rewind,
		Until: until,
	}), nil
}

// Check lists every problem `sluice check` reports for the server and the
// tables, and notes the tables with complete before-images.
func (p *postgresSource) Check(ctx context.Context) (sluice.Problems, []string) {
	conn, err := snapshot.ConnectPostgres(ctx, p.scfg)
	if err != nil {
		return sluice.Problems{{Message: err.Error()}}, nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	problems, tables, err := p.check(ctx, conn)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()}), nil
	}
	return problems, identityNotes(tables)
}

// check gathers every problem `sluice check` and start-up report: tables
// that are missing or unreadable, server settings, privileges, slot,
// publication, replica identities, keyless tables and columns carried as
// text.
func (p *postgresSource) check(ctx context.Context, conn *pgx.Conn) (sluice.Problems, []snapshot.PostgresTableRef, error) {
	s := &p.cfg.Source
	sel := p.scfg.Selection
	tables, err := snapshot.ListPostgresTables(ctx, conn, sel)
	if err != nil {
		return nil, nil, err
	}
	problems, err := pgoutput.Check(ctx, conn, pgoutput.CheckConfig{Slot: s.Slot, Publication: s.Publication, Tables: tableNames(tables)})
	if err != nil {
		return nil, nil, err
	}
	if s.Streaming && pgoutput.StreamsInProgress(conn.PgConn().ParameterStatus("server_version")) {
		if err := pgoutput.CheckSpoolDir(s.SpoolDir, s.Slot); err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
		}
	}
	if len(tables) == 0 {
		problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf("tables.include %v matches no table in database %s: nothing will be captured", sel.Include, s.Database)})
	}
	cat := schema.NewPostgresCatalog(conn)
	var shapes []*sluice.Table
	for _, ref := range tables {
		sh, err := snapshot.LoadPostgresShape(ctx, conn, cat, ref, sel)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		t := sh.Proj.Table
		shapes = append(shapes, t)
		if len(t.Key) == 0 {
			problems = append(problems, keylessWarning(t.FullName()))
		}
		if cols := schema.PostgresFallbackColumns(t); len(cols) > 0 {
			problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf(
				"table %s: columns %s have types sluice carries as their text form (the type name is kept in the record schema)", t.FullName(), strings.Join(cols, ", "))})
		}
	}
	_, xp := transformTables(p.cfg, shapes)
	problems = append(problems, xp...)
	return problems, tables, nil
}

// DropSlot removes the replication slot.
func (p *postgresSource) DropSlot(ctx context.Context) (string, error) {
	conn, err := snapshot.ConnectPostgres(ctx, p.scfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return p.cfg.Source.Slot, pgoutput.DropSlot(ctx, conn, p.cfg.Source.Slot)
}

func tableNames(tables []snapshot.PostgresTableRef) []pgoutput.TableName {
	names := make([]pgoutput.TableName, len(tables))
	for i, t := range tables {
		names[i] = pgoutput.TableName{Schema: t.Schema, Name: t.Name}
	}
	return names
}

// identityNotes reports the tables whose before-images are complete
// (REPLICA IDENTITY FULL). pgoutput.Check reports every other identity, as a
// warning (DEFAULT, USING INDEX) or an error (NOTHING), so each table's
// identity is said once.
func identityNotes(tables []snapshot.PostgresTableRef) []string {
	var notes []string
	for _, t := range tables {
		if t.ReplicaIdentity == 'f' {
			notes = append(notes, fmt.Sprintf("REPLICA IDENTITY FULL on %s: before-images of updates and deletes are complete", t.FullName()))
		}
	}
	return notes
}

func lsnText(lsn uint64) string { return pglogrepl.LSN(lsn).String() }

// ReadTables implements TableReader: the tables sel selects, read in a
// REPEATABLE READ, READ ONLY transaction of its own, without a slot. The
// position is pg_current_wal_lsn() read inside the transaction once its
// snapshot is taken: every transaction the read sees committed before it.
func (p *postgresSource) ReadTables(ctx context.Context, sel *sluice.Selection, h sluice.Handler) (sluice.Position, error) {
	scfg := p.scfg
	scfg.Selection = sel
	var at sluice.Position
	scfg.Position = func(ctx context.Context, conn *pgx.Conn) (sluice.Position, error) {
		var text string
		if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_lsn()::text").Scan(&text); err != nil {
			return sluice.Position{}, fmt.Errorf("verify: read pg_current_wal_lsn(): %w", err)
		}
		lsn, err := pglogrepl.ParseLSN(text)
		if err != nil {
			return sluice.Position{}, fmt.Errorf("verify: pg_current_wal_lsn() %q: %w", text, err)
		}
		at = sluice.Position{LSN: uint64(lsn)}
		return at, nil
	}
	if err := snapshot.RunPostgres(ctx, scfg, "", sluice.Position{}, h); err != nil {
		return sluice.Position{}, err
	}
	return at, nil
}
