package schema

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// PostgresAttributesQuery lists the columns of one relation (its single
// placeholder is pg_class.oid) the way a pgoutput Relation message lists
// them: in attnum order, without dropped and without generated columns
// (PostgreSQL does not publish generated columns by default), each as name,
// type OID and typmod. Scan each row into a [PostgresAttr].
const PostgresAttributesQuery = `SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
	WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`

// PostgresTable builds the shape of table schemaName.table from its
// attributes, in order, with key the names of the primary-key columns in key
// order (from [PostgresCatalog.PrimaryKey]; empty when there is none; keys
// configured for keyless tables are applied afterwards by
// sluice.Selection.Project). Table.Database holds the schema (namespace)
// name.
//
// The replication stream does not say which columns are NOT NULL, so key
// columns are Nullable=false and every other column Nullable=true, on both
// paths. The same attributes give a reflect.DeepEqual shape whether they
// came from pg_attribute ([PostgresAttributesQuery], the snapshot) or from a
// Relation message (the stream). Types sluice does not know map to KindString
// carrying the type's text output; [PostgresFallbackColumns] names them.
//
// It queries the catalog through cat for types that are not built in, and
// blocks while it does.
func PostgresTable(ctx context.Context, cat *PostgresCatalog, schemaName, table string, attrs []PostgresAttr, key []string) (*sluice.Table, error) {
	t := &sluice.Table{Database: schemaName, Name: table, Columns: make([]sluice.Column, len(attrs))}
	for i, a := range attrs {
		col, err := cat.column(ctx, a.Name, a.TypeOID, a.Typmod, 0)
		if err != nil {
			return nil, fmt.Errorf("map table %s column %q: %w", t.FullName(), a.Name, err)
		}
		col.Nullable = true
		t.Columns[i] = col
	}
	for _, k := range key {
		i := t.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("map table %s: primary-key column %q is not among its published columns (a generated column cannot be a key sluice reads)", t.FullName(), k)
		}
		t.Columns[i].Nullable = false
		t.Key = append(t.Key, i)
	}
	t.PrimaryKey = len(t.Key) > 0
	return t, nil
}

// PostgresFallbackColumns returns the names of t's columns whose type sluice
// does not know (xml, geometric types, ranges, composite types, extension
// types, …) and carries as KindString holding PostgreSQL's text output, or
// arrays of such types. Column.SourceType names each type.
func PostgresFallbackColumns(t *sluice.Table) []string {
	var out []string
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Elem != nil {
			c = c.Elem
		}
		if c.Kind == sluice.KindString && !isKnownPostgresText(c.SourceType) {
			out = append(out, t.Columns[i].Name)
		}
	}
	return out
}

// isKnownPostgresText reports whether a KindString column's source type is
// one sluice maps to a string on purpose.
func isKnownPostgresText(sourceType string) bool {
	name, _, _ := strings.Cut(sourceType, "(")
	switch name {
	case "text", "character varying", "character", "bpchar", "name", `"char"`,
		"inet", "cidr", "macaddr", "macaddr8", "bit varying", "bit":
		return true
	}
	return false
}

// QuotePostgresIdentifier quotes an identifier for PostgreSQL: wrapped in
// double quotes, inner double quotes doubled.
func QuotePostgresIdentifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
