package snapshot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// PostgresTableRef names one PostgreSQL table sluice captures.
type PostgresTableRef struct {
	// Schema is the table's namespace, carried as sluice.Table.Database.
	Schema, Name string
	// OID is pg_class.oid, the RelationID of pgoutput Relation messages.
	OID uint32
	// ReplicaIdentity is pg_class.relreplident: 'd' default (the primary
	// key), 'f' full, 'i' an index, 'n' nothing.
	ReplicaIdentity byte
	// Partitioned is set for a partitioned table, whose rows live in its
	// partitions and are read through it.
	Partitioned bool
	// EstRows is the planner's row estimate (summed over the partitions of
	// a partitioned table); 0 when the table was never analysed.
	EstRows uint64
}

// Quoted returns "schema"."table" with double quotes escaped.
func (t PostgresTableRef) Quoted() string {
	return schema.QuotePostgresIdentifier(t.Schema) + "." + schema.QuotePostgresIdentifier(t.Name)
}

// FullName returns schema.table as tables.include patterns name it.
func (t PostgresTableRef) FullName() string { return t.Schema + "." + t.Name }

// postgresTablesQuery lists ordinary and partitioned tables, views,
// materialized views and foreign tables outside the system schemas, with
// the root of each partition.
const postgresTablesQuery = `SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relreplident::text, c.relispartition,
	CASE WHEN c.relkind = 'p' THEN
		(SELECT coalesce(sum(greatest(p.reltuples, 0)), 0) FROM pg_catalog.pg_partition_tree(c.oid) t
		 JOIN pg_catalog.pg_class p ON p.oid = t.relid WHERE t.isleaf)
	ELSE greatest(c.reltuples, 0) END::float8,
	CASE WHEN c.relispartition THEN
		(SELECT rn.nspname || '.' || rc.relname FROM pg_catalog.pg_class rc
		 JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = pg_catalog.pg_partition_root(c.oid))
	ELSE '' END
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_(catalog$|toast|temp_)'
	ORDER BY n.nspname, c.relname`

// ListPostgresTables returns the tables the selection captures, ordered by
// schema and name: ordinary tables and partitioned tables. Partitions are
// not listed: their partitioned table is, its rows are read through it, and
// the stream reports their changes under it (publish_via_partition_root).
// A literal include pattern (no glob) that names no table, or names a
// partition, is an error naming the fix. It blocks for one catalog query.
func ListPostgresTables(ctx context.Context, conn *pgx.Conn, sel *sluice.Selection) ([]PostgresTableRef, error) {
	rows, err := conn.Query(ctx, postgresTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []PostgresTableRef
	seen := map[string]string{} // schema.table -> its partition root, "" when none
	notTables := map[string]string{}
	for rows.Next() {
		var (
			ref               PostgresTableRef
			kind, ident, root string
			isPartition       bool
			est               float64
		)
		if err := rows.Scan(&ref.OID, &ref.Schema, &ref.Name, &kind, &ident, &isPartition, &est, &root); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		seen[ref.FullName()] = root
		if what, ok := relkindNames[kind]; ok {
			notTables[ref.FullName()] = what
			continue
		}
		if isPartition || !sel.Match(ref.Schema, ref.Name) {
			continue
		}
		ref.Partitioned = kind == "p"
		if ident != "" {
			ref.ReplicaIdentity = ident[0]
		}
		ref.EstRows = uint64(min(est, math.MaxInt64))
		out = append(out, ref)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var missing, partitions, others []string
	for _, lit := range sel.Literal() {
		root, ok := seen[lit]
		switch {
		case notTables[lit] != "":
			others = append(others, fmt.Sprintf("%s (a %s)", lit, notTables[lit]))
		case !ok:
			missing = append(missing, lit)
		case root != "":
			partitions = append(partitions, fmt.Sprintf("%s (a partition of %s)", lit, root))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("tables.include names %s, which does not exist: create it or fix the name (patterns are schema.table, e.g. public.orders)", strings.Join(missing, ", "))
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("tables.include names %s: sluice captures tables only (logical replication publishes no other relation); include the tables behind it", strings.Join(others, ", "))
	}
	if len(partitions) > 0 {
		return nil, fmt.Errorf("tables.include names %s: sluice reads partitions through their partitioned table; include that table instead", strings.Join(partitions, ", "))
	}
	return out, nil
}

// relkindNames names the relation kinds that are listed only to explain
// why a literal include pattern naming one of them captures nothing.
var relkindNames = map[string]string{"v": "view", "m": "materialized view", "f": "foreign table"}

// PostgresShape is a table's captured shape and how to read it.
type PostgresShape struct {
	Ref PostgresTableRef
	// Full is the table's shape over the columns the stream publishes
	// (generated columns are not published); Proj is what sluice captures
	// of it.
	Full *sluice.Table
	Proj *sluice.Projection
}

// LoadPostgresShape reads ref's columns from pg_attribute and its primary
// key, maps them with package schema (through cat, the same mapper the
// stream uses) and applies the selection's column exclusions and
// configured keys. It blocks for the catalog queries.
func LoadPostgresShape(ctx context.Context, conn *pgx.Conn, cat *schema.PostgresCatalog, ref PostgresTableRef, sel *sluice.Selection) (*PostgresShape, error) {
	rows, err := conn.Query(ctx, schema.PostgresAttributesQuery, ref.OID)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", ref.FullName(), err)
	}
	attrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (schema.PostgresAttr, error) {
		var a schema.PostgresAttr
		err := r.Scan(&a.Name, &a.TypeOID, &a.Typmod)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", ref.FullName(), err)
	}
	key, err := cat.PrimaryKey(ctx, ref.OID)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", ref.FullName(), err)
	}
	full, err := schema.PostgresTable(ctx, cat, ref.Schema, ref.Name, attrs, key)
	if err != nil {
		return nil, err
	}
	proj, err := sel.Project(full)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &PostgresShape{Ref: ref, Full: full, Proj: proj}, nil
}

// copyQuery is the COPY that reads the captured columns of sh in text
// format. An ordinary table is read with ONLY, so the rows of tables that
// inherit from it (listed and read on their own) are not read twice; a
// partitioned table is read with its partitions.
func (sh *PostgresShape) copyQuery() string {
	var b strings.Builder
	b.WriteString("COPY (SELECT ")
	for i := range sh.Proj.Table.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(schema.QuotePostgresIdentifier(sh.Proj.Table.Columns[i].Name))
	}
	b.WriteString(" FROM ")
	if !sh.Ref.Partitioned {
		b.WriteString("ONLY ")
	}
	b.WriteString(sh.Ref.Quoted())
	b.WriteString(") TO STDOUT")
	return b.String()
}

// withPostgresFix adds the fix to errors whose cause is a missing
// privilege.
func withPostgresFix(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		return fmt.Errorf("%w: GRANT SELECT ON %s (and USAGE on its schema) TO the sluice user, or grant it the pg_read_all_data role", err, what)
	}
	return err
}
