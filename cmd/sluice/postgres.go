package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pgoutput"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/snapshot"
)

// postgresDSN is the connection URL of the configured PostgreSQL source.
// It holds the password: it is handed to pgx only, which never shows it in
// errors, and is never logged.
func postgresDSN(cfg *Config) string {
	s := &cfg.Source
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + s.Database}
	if s.Password.IsZero() {
		u.User = url.User(s.User)
	} else {
		u.User = url.UserPassword(s.User, s.Password.Reveal())
	}
	q := url.Values{}
	q.Set("sslmode", s.SSLMode)
	if s.SSLRootCert != "" {
		q.Set("sslrootcert", s.SSLRootCert)
	}
	q.Set("connect_timeout", strconv.Itoa(max(1, int(s.ConnectTimeout.Seconds()))))
	q.Set("application_name", "sluice "+cfg.Name)
	u.RawQuery = q.Encode()
	return u.String()
}

func selection(cfg *Config) *sluice.Selection {
	return &sluice.Selection{Include: cfg.Tables.Include, Exclude: cfg.Tables.Exclude,
		ExcludeColumns: cfg.Tables.ExcludeColumns, Keys: cfg.Tables.Keys}
}

func postgresSnapshotConfig(cfg *Config, log *slog.Logger) snapshot.PostgresConfig {
	s := &cfg.Source
	return snapshot.PostgresConfig{Name: cfg.Name, Host: s.Host, Port: s.Port, User: s.User, Password: s.Password.Reveal(),
		Database: s.Database, SSLMode: s.SSLMode, SSLRootCert: s.SSLRootCert, Selection: selection(cfg),
		ConnectTimeout: s.ConnectTimeout, Logger: log}
}

// slotReleaseWait is how long start-up waits for a slot that is still
// marked active to be released.
const slotReleaseWait = 10 * time.Second

// postgresPrepared is what the start-up checks found on a PostgreSQL
// source.
type postgresPrepared struct {
	tables []snapshot.PostgresTableRef
	names  []pgoutput.TableName
	slot   pgoutput.SlotState
}

// preparePostgres checks the server, reports each table's replica identity,
// and makes sure the publication covers the selected tables. resuming says that the source streams on from a checkpoint, so a table
// new to the publication misses the rows written before it joined.
func preparePostgres(ctx context.Context, cfg *Config, conn *pgx.Conn, resuming bool, log *slog.Logger) (*postgresPrepared, error) {
	problems, tables, err := checkPostgres(ctx, cfg, conn)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		if p.Warning {
			log.Warn(p.Message)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, fmt.Errorf("source %s:%d database %s is not ready: %w", cfg.Source.Host, cfg.Source.Port, cfg.Source.Database, err)
	}
	names := tableNames(tables)
	for _, note := range identityNotes(tables) {
		log.Info(note)
	}
	before, err := pgoutput.LookupPublication(ctx, conn, cfg.Source.Publication)
	if err != nil {
		return nil, err
	}
	created, err := pgoutput.EnsurePublication(ctx, conn, cfg.Source.Publication, names)
	if err != nil {
		return nil, err
	}
	if resuming && before.Exists && before.Owned {
		for _, t := range before.Missing(names) {
			// The slot decodes a table only from the moment it joins the
			// publication; rows written earlier come only from a snapshot.
			log.Warn("table joined the publication after the snapshot: its changes are captured from now on, its earlier rows are not; start the source over (docs/operations.md) to copy them",
				"table", t.String(), "publication", cfg.Source.Publication)
		}
	}
	if created {
		log.Info("publication covers the selected tables", "publication", cfg.Source.Publication, "tables", len(names))
	}
	st, err := pgoutput.LookupSlot(ctx, conn, cfg.Source.Slot)
	if err != nil {
		return nil, err
	}
	// Right after a restart the server may still count the previous
	// process's session as the slot's holder for a moment; a slot another
	// sluice really holds stays active and start-up then fails.
	for wait := time.Now().Add(slotReleaseWait); st.Active && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if st, err = pgoutput.LookupSlot(ctx, conn, cfg.Source.Slot); err != nil {
			return nil, err
		}
	}
	return &postgresPrepared{tables: tables, names: names, slot: st}, nil
}

// checkPostgres gathers every problem `sluice check` and start-up report:
// tables that are missing or unreadable, server settings, privileges, slot,
// publication, replica identities, keyless tables and columns carried as
// text.
func checkPostgres(ctx context.Context, cfg *Config, conn *pgx.Conn) (sluice.Problems, []snapshot.PostgresTableRef, error) {
	sel := selection(cfg)
	tables, err := snapshot.ListPostgresTables(ctx, conn, sel)
	if err != nil {
		return nil, nil, err
	}
	problems, err := pgoutput.Check(ctx, conn, pgoutput.CheckConfig{Slot: cfg.Source.Slot, Publication: cfg.Source.Publication, Tables: tableNames(tables)})
	if err != nil {
		return nil, nil, err
	}
	if cfg.Source.Streaming && pgoutput.StreamsInProgress(conn.PgConn().ParameterStatus("server_version")) {
		if err := pgoutput.CheckSpoolDir(cfg.Source.SpoolDir, cfg.Source.Slot); err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
		}
	}
	if len(tables) == 0 {
		problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf("tables.include %v matches no table in database %s: nothing will be captured", sel.Include, cfg.Source.Database)})
	}
	cat := schema.NewPostgresCatalog(conn)
	for _, ref := range tables {
		sh, err := snapshot.LoadPostgresShape(ctx, conn, cat, ref, sel)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		t := sh.Proj.Table
		if len(t.Key) == 0 {
			problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf(
				"table %s has no primary key: its records get a null key and its topic is not compacted; name key columns under tables.keys", t.FullName())})
		}
		if cols := schema.PostgresFallbackColumns(t); len(cols) > 0 {
			problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf(
				"table %s: columns %s have types sluice carries as their text form (the type name is kept in the record schema)", t.FullName(), strings.Join(cols, ", "))})
		}
	}
	return problems, tables, nil
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

// postgresSource decides where to start on a PostgreSQL source, runs the
// snapshot through the slot's exported snapshot when one is due, then
// streams from the slot.
func postgresSource(ctx context.Context, cfg *Config, cp sink.Checkpoint, found bool,
	prod *sink.Producer, pipe *pipeline, log *slog.Logger) error {
	conn, err := snapshot.ConnectPostgres(ctx, postgresSnapshotConfig(cfg, log))
	if err != nil {
		return err
	}
	// conn serves the checks and, on a first start, dropping a leftover
	// slot; it is closed before the snapshot.
	closeConn := func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
	}
	defer closeConn()
	prep, err := preparePostgres(ctx, cfg, conn, found && cp.Phase == sink.PhaseStream, log)
	if err != nil {
		return err
	}
	slotName, st := cfg.Source.Slot, prep.slot
	scfg := postgresSnapshotConfig(cfg, log)
	dsn := postgresDSN(cfg)

	var from sluice.Position
	switch {
	case found && cp.Phase == sink.PhaseStream:
		if err := st.ResumeErr(slotName, cfg.Source.Database); err != nil {
			return fmt.Errorf("resume source %s: %w", cfg.Name, err)
		}
		from = cp.Position
		log.Info("resuming from checkpoint", "lsn", lsnText(from.LSN), "slot", slotName, "slot_confirmed", lsnText(st.ConfirmedFlush.LSN))
	case found && cp.Phase == sink.PhaseSnapshot:
		// An earlier snapshot stopped part-way. Its records may already be
		// in Kafka, including rows deleted since; the slot has not moved
		// past its consistent point, so take a new snapshot and stream from
		// that point: the changes in between arrive too.
		if err := st.ResumeErr(slotName, cfg.Source.Database); err != nil {
			return fmt.Errorf("repeat the interrupted snapshot of source %s: %w", cfg.Name, err)
		}
		log.Warn("the previous snapshot did not finish; taking it again, then streaming from its original point",
			"lsn", lsnText(cp.SnapshotStart.LSN))
		closeConn()
		if err := snapshot.RunPostgres(ctx, scfg, "", cp.SnapshotStart, pipe); err != nil {
			return err
		}
		from = cp.SnapshotStart
	default:
		if st.Exists {
			if err := st.ResumeErr(slotName, cfg.Source.Database); err != nil {
				return err
			}
			if cfg.Snapshot.Mode == "never" {
				from = st.ConfirmedFlush
				log.Info("snapshot.mode is never: streaming from the slot's confirmed position", "slot", slotName, "lsn", lsnText(from.LSN))
				break
			}
			// Source cfg.Name has no checkpoint, so nothing was delivered
			// through this slot; an existing slot cannot export a snapshot.
			log.Warn("replication slot exists but this source has no checkpoint: nothing was delivered through it; dropping and re-creating it to take the snapshot",
				"slot", slotName)
			if err := pgoutput.DropSlot(ctx, conn, slotName); err != nil {
				return err
			}
		}
		closeConn()
		slot, err := pgoutput.CreateSlot(ctx, dsn, slotName)
		if err != nil {
			return err
		}
		from = slot.Consistent
		log.Info("replication slot created", "slot", slotName, "consistent_point", lsnText(from.LSN))
		if cfg.Snapshot.Mode == "never" {
			slot.Close(ctx)
			log.Info("snapshot.mode is never: streaming from the new slot's consistent point", "lsn", lsnText(from.LSN))
			break
		}
		// Durable before the first snapshot record: a restart must know a
		// snapshot began here.
		if err := prod.Commit(ctx, sink.Checkpoint{Source: cfg.Name, Phase: sink.PhaseSnapshot, Position: from, SnapshotStart: from}); err != nil {
			slot.Close(context.WithoutCancel(ctx))
			return err
		}
		err = snapshot.RunPostgres(ctx, scfg, slot.SnapshotName, from, pipe)
		slot.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		log.Info("snapshot complete; streaming", "lsn", lsnText(from.LSN))
	}
	closeConn()
	if err := pipe.Resumable(ctx, from); err != nil {
		return err
	}
	r := pgoutput.New(pgoutput.Config{
		Name: cfg.Name, DSN: dsn, Slot: slotName, Publication: cfg.Source.Publication,
		Selection: selection(cfg), StatusInterval: cfg.Source.StatusInterval, Logger: log,
		Streaming: cfg.Source.Streaming, SpoolDir: cfg.Source.SpoolDir,
		Acked: func() (sluice.Position, bool) {
			cp, ok := prod.Acked()
			return cp.Position, ok
		},
	})
	return r.Run(ctx, from, pipe)
}

// dropSlot is `sluice drop-slot`: it removes the PostgreSQL replication
// slot, so that the next start takes a new snapshot once the checkpoint is
// deleted too.
func dropSlot(ctx context.Context, cfg *Config, out interface{ Write([]byte) (int, error) }) error {
	if cfg.Source.Type != "postgresql" {
		return fmt.Errorf("drop-slot applies to source.type postgresql, this source is %s", cfg.Source.Type)
	}
	conn, err := snapshot.ConnectPostgres(ctx, postgresSnapshotConfig(cfg, slog.Default()))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := pgoutput.DropSlot(ctx, conn, cfg.Source.Slot); err != nil {
		return err
	}
	fmt.Fprintf(out, "dropped replication slot %s; delete the checkpoint of source %s (see docs/checkpoints.md) before the next start, which then takes a new snapshot\n", cfg.Source.Slot, cfg.Name)
	return nil
}

func lsnText(lsn uint64) string { return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn)) }
