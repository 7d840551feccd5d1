package pgoutput

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice"
)

// ErrSlotExists is wrapped by CreateSlot's error when a slot of that name
// already exists.
var ErrSlotExists = errors.New("replication slot already exists")

var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// ValidateSlotName reports a name PostgreSQL would refuse for a
// replication slot: only lower-case letters, digits and underscores, at
// most 63 characters.
func ValidateSlotName(name string) error {
	if !slotName.MatchString(name) {
		return fmt.Errorf("replication slot name %q is invalid: use 1 to 63 lower-case letters, digits and underscores", name)
	}
	return nil
}

// Slot is a replication slot sluice just created, with the snapshot it
// exported. The snapshot lives only as long as the connection that created
// the slot stays open and idle: keep the Slot until every snapshot reader
// has run SET TRANSACTION SNAPSHOT with SnapshotName, then Close it.
type Slot struct {
	// Name is the slot's name.
	Name string
	// SnapshotName names the exported snapshot for SET TRANSACTION
	// SNAPSHOT.
	SnapshotName string
	// Consistent is the slot's consistent point: the snapshot sees every
	// transaction that commits before it, and the stream started from it
	// delivers every transaction that commits after it.
	Consistent sluice.Position

	conn *pgconn.PgConn
}

// CreateSlot opens a replication connection with a copy of conn's settings
// (it does not change conn) and creates the logical
// replication slot name for the pgoutput plugin, exporting a snapshot
// (CREATE_REPLICATION_SLOT "name" LOGICAL pgoutput EXPORT_SNAPSHOT). It
// blocks until the server has found a consistent point, which waits for
// transactions running at the time to end. The returned Slot holds the
// connection open; call Close when the snapshot has been imported.
//
// The slot is permanent: it survives restarts of sluice and of the server
// and retains WAL until sluice confirms it, so a slot nobody reads fills
// the server's disk. DropSlot removes it.
func CreateSlot(ctx context.Context, conn *pgx.ConnConfig, name string) (*Slot, error) {
	return createSlot(ctx, conn, name, false)
}

// CreateTemporarySlot is CreateSlot for a slot that lives only as long as
// the returned Slot's connection (CREATE_REPLICATION_SLOT … TEMPORARY):
// its exported snapshot and consistent point serve a retaken snapshot,
// while the stream goes on through the permanent slot. It occupies one of
// max_replication_slots and one of max_wal_senders until Close.
func CreateTemporarySlot(ctx context.Context, conn *pgx.ConnConfig, name string) (*Slot, error) {
	return createSlot(ctx, conn, name, true)
}

func createSlot(ctx context.Context, conn *pgx.ConnConfig, name string, temporary bool) (*Slot, error) {
	if err := ValidateSlotName(name); err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, fmt.Errorf("create replication slot %q: no connection settings", name)
	}
	repl, err := connectReplication(ctx, conn, nil)
	if err != nil {
		return nil, classify(err, "create replication slot: connect", name, "")
	}
	kind := ""
	if temporary {
		kind = " TEMPORARY"
	}
	cmd := fmt.Sprintf("CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput EXPORT_SNAPSHOT", quoteIdent(name), kind)
	res, err := pglogrepl.ParseCreateReplicationSlot(repl.Exec(ctx, cmd))
	if err != nil {
		repl.Close(context.Background())
		if codeOf(err) == "42710" {
			return nil, fmt.Errorf("%w: create replication slot %q: %w: sluice resumes from an existing slot only with its checkpoint; "+
				"drop the slot (sluice --drop-slot) to start over, or name another slot", ErrSlotExists, name, err)
		}
		return nil, classify(err, fmt.Sprintf("create replication slot %q", name), name, "")
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		repl.Close(context.Background())
		return nil, fmt.Errorf("create replication slot %q: server returned consistent point %q: %w", name, res.ConsistentPoint, err)
	}
	return &Slot{Name: name, SnapshotName: res.SnapshotName, Consistent: sluice.Position{LSN: uint64(lsn)}, conn: repl}, nil
}

// Close ends the connection that created the slot, which ends its
// exported snapshot. The slot itself stays. Close is safe to call more
// than once.
func (s *Slot) Close(ctx context.Context) error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(ctx)
	s.conn = nil
	return err
}

// DropSlot removes the replication slot name, releasing the WAL it
// retains. It fails with ErrSlotMissing when there is no such slot and
// with ErrSlotActive while a connection streams from it. Run it only when
// the user asks: the next start takes a new snapshot.
func DropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	st, err := LookupSlot(ctx, conn, name)
	if err != nil {
		return err
	}
	if !st.Exists {
		return fmt.Errorf("%w: drop replication slot %q: there is no slot of that name", ErrSlotMissing, name)
	}
	if st.Active {
		return slotActiveError(name, st.ActivePID, nil)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", name); err != nil {
		if codeOf(err) == codeObjectInUse {
			return slotActiveError(name, 0, err)
		}
		return classify(err, fmt.Sprintf("drop replication slot %q", name), name, "")
	}
	return nil
}

// SlotState is what the server says about a replication slot.
type SlotState struct {
	// Exists is false when there is no slot of that name; the other
	// fields are then zero.
	Exists bool
	// Plugin is the output plugin ("pgoutput"); Database the database the
	// slot decodes.
	Plugin, Database string
	// Temporary slots vanish with their connection.
	Temporary bool
	// Active is set while a connection streams from the slot; ActivePID is
	// that server process.
	Active    bool
	ActivePID int
	// WALStatus is "reserved", "extended", "unreserved" or "lost"
	// (PostgreSQL ≥ 13). "lost" means the slot is invalidated.
	WALStatus string
	// Conflicting is set when the slot was invalidated by a recovery
	// conflict on a standby (PostgreSQL ≥ 16); InvalidationReason is the
	// server's reason (PostgreSQL ≥ 17).
	Conflicting        bool
	InvalidationReason string
	// ConfirmedFlush is the position the slot has confirmed: a restart
	// streams the transactions that commit after it.
	ConfirmedFlush sluice.Position
	// Restart is the oldest WAL position the slot retains.
	Restart sluice.Position
}

// Invalidated reports whether the server gave up the slot.
func (s SlotState) Invalidated() bool {
	return s.WALStatus == "lost" || s.Conflicting || s.InvalidationReason != ""
}

// ResumeErr returns the error to stop with when sluice resumes streaming
// from slot name with a stored checkpoint (it delivered a snapshot
// through this slot before): a missing, invalidated or foreign slot, or
// one another connection holds. It returns nil when the slot can be
// streamed from.
func (s SlotState) ResumeErr(name, database string) error {
	switch {
	case !s.Exists:
		return SlotMissingError(name)
	case s.Invalidated():
		reason := s.InvalidationReason
		if reason == "" {
			reason = "wal_status " + s.WALStatus
			if s.Conflicting {
				reason = "conflict with recovery"
			}
		}
		return SlotInvalidatedError(name, reason)
	case s.Plugin != "pgoutput":
		return fmt.Errorf("replication slot %q uses output plugin %q, sluice needs pgoutput: name another slot for sluice", name, s.Plugin)
	case database != "" && s.Database != database:
		return fmt.Errorf("replication slot %q decodes database %q, not %q: slots belong to one database; name another slot for this source", name, s.Database, database)
	case s.Active:
		return slotActiveError(name, s.ActivePID, nil)
	}
	return nil
}

// LookupSlot reads the state of replication slot name from
// pg_replication_slots. It works on every supported server version: the
// columns newer versions add are read when present.
func LookupSlot(ctx context.Context, conn *pgx.Conn, name string) (SlotState, error) {
	var raw []byte
	err := conn.QueryRow(ctx, "SELECT to_jsonb(s) FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1", name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return SlotState{}, nil
	}
	if err != nil {
		return SlotState{}, fmt.Errorf("look up replication slot %q: %w", name, err)
	}
	return parseSlotState(raw)
}

func parseSlotState(raw []byte) (SlotState, error) {
	var row struct {
		Plugin             *string `json:"plugin"`
		Database           *string `json:"database"`
		Temporary          bool    `json:"temporary"`
		Active             bool    `json:"active"`
		ActivePID          *int    `json:"active_pid"`
		WALStatus          *string `json:"wal_status"`
		Conflicting        *bool   `json:"conflicting"`
		InvalidationReason *string `json:"invalidation_reason"`
		ConfirmedFlush     *string `json:"confirmed_flush_lsn"`
		Restart            *string `json:"restart_lsn"`
	}
	if err := json.Unmarshal(raw, &row); err != nil {
		return SlotState{}, fmt.Errorf("read pg_replication_slots row: %w", err)
	}
	st := SlotState{Exists: true, Temporary: row.Temporary, Active: row.Active}
	st.Plugin = deref(row.Plugin)
	st.Database = deref(row.Database)
	st.WALStatus = deref(row.WALStatus)
	st.InvalidationReason = deref(row.InvalidationReason)
	if row.ActivePID != nil {
		st.ActivePID = *row.ActivePID
	}
	if row.Conflicting != nil {
		st.Conflicting = *row.Conflicting
	}
	for _, f := range []struct {
		s   *string
		dst *sluice.Position
	}{{row.ConfirmedFlush, &st.ConfirmedFlush}, {row.Restart, &st.Restart}} {
		if f.s == nil {
			continue
		}
		lsn, err := pglogrepl.ParseLSN(*f.s)
		if err != nil {
			return st, fmt.Errorf("read pg_replication_slots row: LSN %q: %w", *f.s, err)
		}
		f.dst.LSN = uint64(lsn)
	}
	return st, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// connectReplication opens a replication connection (replication=database)
// with a copy of conn's settings and the given extra run-time parameters.
func connectReplication(ctx context.Context, conn *pgx.ConnConfig, params map[string]string) (*pgconn.PgConn, error) {
	cfg := conn.Config.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["replication"] = "database"
	return pgconn.ConnectConfig(ctx, cfg)
}

// quoteIdent quotes a SQL identifier: "name" with inner quotes doubled.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteLiteral quotes a SQL string literal: 'text' with inner quotes
// doubled. Used only in replication commands, which take no parameters.
func quoteLiteral(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		if s[i] == 0 {
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
