package pgoutput

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// CheckConfig names what Check verifies.
type CheckConfig struct {
	// Slot and Publication are the configured names.
	Slot, Publication string
	// Tables are the selected tables.
	Tables []TableName
}

// replicationRoles are the roles managed services grant instead of the
// REPLICATION attribute.
var replicationRoles = []string{"rds_replication", "rds_superuser", "cloudsqlsuperuser", "alloydbsuperuser", "azure_pg_admin"}

// Check verifies the server settings, privileges, the slot, the
// publication and the tables' replica identities that the stream needs.
// Each problem names the cause and the fix; problems that let sluice run
// (before-images limited by REPLICA IDENTITY DEFAULT, for example) are
// warnings. It runs a few read-only queries on conn, a regular (not
// replication) connection to the source database, and blocks until they
// finish.
func Check(ctx context.Context, conn *pgx.Conn, cc CheckConfig) (sluice.Problems, error) {
	var ps sluice.Problems
	add := func(warn bool, format string, args ...any) {
		ps = append(ps, sluice.Problem{Warning: warn, Message: fmt.Sprintf(format, args...)})
	}

	var walLevel string
	var maxSlots, maxSenders, slotsUsed, sendersUsed int
	err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
		current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
		(SELECT count(*) FROM pg_catalog.pg_replication_slots)::int,
		(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')::int`).
		Scan(&walLevel, &maxSlots, &maxSenders, &slotsUsed, &sendersUsed)
	if err != nil {
		return nil, fmt.Errorf("read replication settings: %w", err)
	}
	if v := serverVersion(conn); v > 0 && v < 100000 {
		add(false, "the server runs PostgreSQL %s; logical replication with pgoutput needs PostgreSQL 10 or newer (14 or newer recommended): upgrade the server",
			conn.PgConn().ParameterStatus("server_version"))
	}
	var keep string
	if conn.QueryRow(ctx, "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'").Scan(&keep) == nil && keep == "-1" {
		add(true, "max_slot_wal_keep_size is unlimited: while sluice is stopped or stalled its slot keeps all WAL and can fill the server's disk; set a limit (a slot past it is invalidated and sluice then stops and asks for a new snapshot) and monitor pg_replication_slots")
	}
	if walLevel != "logical" {
		add(false, "wal_level is %s, sluice needs logical: ALTER SYSTEM SET wal_level = logical (rds.logical_replication = 1 on RDS, cloudsql.logical_decoding = on on Cloud SQL) and restart the server", walLevel)
	}

	var super, repl, managed bool
	var user string
	err = conn.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolreplication,
		EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = ANY($1) AND pg_catalog.pg_has_role(current_user, g.oid, 'member'))
		FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`, replicationRoles).Scan(&user, &super, &repl, &managed)
	if err != nil {
		return nil, fmt.Errorf("read the user's role attributes: %w", err)
	}
	if !super && !repl && !managed {
		add(false, "the user %s lacks the REPLICATION attribute (needed to create and read the replication slot): ALTER ROLE %s WITH REPLICATION (GRANT rds_replication TO %s on RDS)",
			user, quoteIdent(user), quoteIdent(user))
	}

	slot, err := LookupSlot(ctx, conn, cc.Slot)
	if err != nil {
		return nil, err
	}
	switch {
	case !slot.Exists:
		if slotsUsed >= maxSlots {
			add(false, "all %d replication slots are in use (max_replication_slots = %d), so sluice cannot create slot %q: drop unused slots (pg_drop_replication_slot) or raise max_replication_slots and restart the server",
				slotsUsed, maxSlots, cc.Slot)
		}
		if sendersUsed >= maxSenders {
			add(false, "all %d WAL senders are in use (max_wal_senders = %d): stop an unused replication client or raise max_wal_senders and restart the server", sendersUsed, maxSenders)
		}
	case slot.Invalidated():
		add(false, "%s", slot.ResumeErr(cc.Slot, "").Error())
	case slot.Plugin != "pgoutput":
		add(false, "replication slot %q uses output plugin %q, sluice needs pgoutput: name another slot for sluice", cc.Slot, slot.Plugin)
	case slot.Active:
		add(false, "%s", slotActiveError(cc.Slot, slot.ActivePID, nil).Error())
	}

	if len(cc.Tables) == 0 {
		add(false, "no table matches the selection: check tables.include")
		return ps, nil
	}
	tables, err := lookupTables(ctx, conn, cc.Tables)
	if err != nil {
		return nil, err
	}
	var notOwned []string
	var byIdentity = map[string][]string{}
	for _, want := range cc.Tables {
		t, ok := tables[want]
		if !ok {
			add(false, "table %s does not exist or the user cannot see it: check tables.include and GRANT USAGE ON SCHEMA %s and SELECT on the table to %s", want, quoteIdent(want.Schema), quoteIdent(user))
			continue
		}
		if !t.owned {
			notOwned = append(notOwned, want.String())
		}
		ident := want.quoted()
		switch {
		case t.identity == 'n' || (t.identity == 'd' && !t.primaryKey):
			why := "REPLICA IDENTITY NOTHING"
			if t.identity == 'd' {
				why = "no primary key and REPLICA IDENTITY DEFAULT"
			}
			add(false, "table %s has %s: the server refuses its updates and deletes once it is published, and sluice cannot capture them: ALTER TABLE %s REPLICA IDENTITY FULL (or add a primary key)",
				want, why, ident)
		case t.identity == 'd' && !t.partitioned:
			byIdentity["DEFAULT"] = append(byIdentity["DEFAULT"], want.String())
		case t.identity == 'i':
			byIdentity["USING INDEX"] = append(byIdentity["USING INDEX"], want.String())
		}
	}
	if ts := byIdentity["DEFAULT"]; len(ts) > 0 {
		add(true, "REPLICA IDENTITY DEFAULT on %s: before-images of updates and deletes carry the key columns only (the others are listed as unavailable); ALTER TABLE … REPLICA IDENTITY FULL for complete before-images",
			strings.Join(ts, ", "))
	}
	if ts := byIdentity["USING INDEX"]; len(ts) > 0 {
		add(true, "REPLICA IDENTITY USING INDEX on %s: before-images carry the index columns only, and a change of primary-key columns outside that index is not seen as a key change; ALTER TABLE … REPLICA IDENTITY FULL or DEFAULT",
			strings.Join(ts, ", "))
	}

	pub, err := LookupPublication(ctx, conn, cc.Publication)
	if err != nil {
		return nil, err
	}
	switch {
	case !pub.Exists && len(notOwned) > 0 && !super:
		add(false, "publication %q does not exist and the user %s cannot create it: a publication can name only tables its creator owns and %s belong to others; "+
			"have their owner run CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true)",
			cc.Publication, user, strings.Join(notOwned, ", "), quoteIdent(cc.Publication), tableList(cc.Tables))
	case pub.Exists && !pub.Owned:
		if err := checkForeignPublication(cc.Publication, pub, cc.Tables); err != nil {
			add(false, "%s", err.Error())
		} else if !pub.Truncate {
			add(true, "publication %q does not publish truncate: TRUNCATE of its tables will not reach Kafka; ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')",
				cc.Publication, quoteIdent(cc.Publication))
		}
	case pub.Exists && pub.Owned && len(notOwned) > 0 && !super && len(pub.Missing(cc.Tables)) > 0:
		add(false, "publication %q lacks tables that the user %s cannot add (it does not own %s): have their owner run ALTER PUBLICATION %s SET TABLE %s",
			cc.Publication, user, strings.Join(notOwned, ", "), quoteIdent(cc.Publication), tableList(cc.Tables))
	}
	return ps, nil
}

type tableFacts struct {
	identity    byte // relreplident: d, n, f, i
	primaryKey  bool
	owned       bool
	partitioned bool
}

// lookupTables reads replica identity, primary key and ownership of the
// named tables; absent ones are missing from the map.
func lookupTables(ctx context.Context, conn *pgx.Conn, names []TableName) (map[TableName]tableFacts, error) {
	schemas := make([]string, len(names))
	rels := make([]string, len(names))
	for i, t := range names {
		schemas[i], rels[i] = t.Schema, t.Name
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, c.relreplident::text, c.relkind::text,
		EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
		pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
		FROM unnest($1::text[], $2::text[]) AS w(nsp, rel)
		JOIN pg_catalog.pg_namespace n ON n.nspname = w.nsp
		JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel
		WHERE c.relkind IN ('r', 'p')`, schemas, rels)
	if err != nil {
		return nil, fmt.Errorf("read replica identities of the selected tables: %w", err)
	}
	defer rows.Close()
	out := map[TableName]tableFacts{}
	for rows.Next() {
		var t TableName
		var ident, kind string
		var f tableFacts
		if err := rows.Scan(&t.Schema, &t.Name, &ident, &kind, &f.primaryKey, &f.owned); err != nil {
			return nil, fmt.Errorf("read replica identities of the selected tables: %w", err)
		}
		if ident != "" {
			f.identity = ident[0]
		}
		f.partitioned = kind == "p"
		out[t] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read replica identities of the selected tables: %w", err)
	}
	return out, nil
}
