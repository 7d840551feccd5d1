package pgoutput

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// TableName names one table: its schema (namespace) and its name.
type TableName struct {
	Schema, Name string
}

// String returns schema.name, unquoted, for messages.
func (t TableName) String() string { return t.Schema + "." + t.Name }

// quoted returns "schema"."name".
func (t TableName) quoted() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// publicationMarker is the comment sluice puts on the publications it
// creates; a publication with it is sluice's to change.
const publicationMarker = "created by sluice; sluice sets its tables to the selected ones"

// Publication is the state of a publication on the server.
type Publication struct {
	// Exists is false when there is no publication of that name.
	Exists bool
	// Owned is set when sluice created the publication (its comment says
	// so); sluice then keeps its table list equal to the selection.
	Owned bool
	// AllTables is set for FOR ALL TABLES publications.
	AllTables bool
	// Insert, Update, Delete and Truncate say which operations it
	// publishes.
	Insert, Update, Delete, Truncate bool
	// ViaRoot is publish_via_partition_root (PostgreSQL ≥ 13).
	ViaRoot bool
	// Tables are the tables it publishes, as pg_publication_tables lists
	// them.
	Tables []TableName
}

// Missing returns the tables of want the publication does not publish.
func (p *Publication) Missing(want []TableName) []TableName {
	if p.AllTables {
		return nil
	}
	var out []TableName
	for _, t := range want {
		if !slices.Contains(p.Tables, t) {
			out = append(out, t)
		}
	}
	return out
}

// LookupPublication reads publication name from pg_publication and
// pg_publication_tables. It does not fail when the publication is absent;
// Exists is then false.
func LookupPublication(ctx context.Context, conn *pgx.Conn, name string) (*Publication, error) {
	p := &Publication{}
	var comment *string
	err := conn.QueryRow(ctx, `SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate,
		       COALESCE((to_jsonb(p)->>'pubviaroot')::boolean, false),
		       pg_catalog.obj_description(p.oid, 'pg_publication')
		FROM pg_catalog.pg_publication p WHERE p.pubname = $1`, name).
		Scan(&p.AllTables, &p.Insert, &p.Update, &p.Delete, &p.Truncate, &p.ViaRoot, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up publication %q: %w", name, err)
	}
	p.Exists = true
	p.Owned = comment != nil && *comment == publicationMarker
	rows, err := conn.Query(ctx, "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2", name)
	if err != nil {
		return nil, fmt.Errorf("list tables of publication %q: %w", name, err)
	}
	for rows.Next() {
		var t TableName
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables of publication %q: %w", name, err)
		}
		p.Tables = append(p.Tables, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of publication %q: %w", name, err)
	}
	return p, nil
}

// EnsurePublication makes publication name publish exactly tables (the
// selected tables, as the caller lists them):
//
//   - absent: it creates it FOR TABLE those tables WITH
//     (publish_via_partition_root = true) (PostgreSQL ≥ 13), so changes on
//     partitions are reported under their partitioned parent, and marks it
//     as sluice's with a comment;
//   - created by sluice: it sets its table list to tables when it differs,
//     and publish_via_partition_root when it is off;
//   - created by someone else: it changes nothing and fails with
//     ErrPublicationMissing and the fix when a table is not covered or
//     inserts, updates or deletes are not published.
//
// Creating or changing a publication needs ownership of the tables (or
// superuser). It reports whether it created or changed the publication.
func EnsurePublication(ctx context.Context, conn *pgx.Conn, name string, tables []TableName) (changed bool, err error) {
	if name == "" {
		return false, errors.New("publication name is empty: configure one")
	}
	if len(tables) == 0 {
		return false, fmt.Errorf("publication %q: no tables selected: the selection matches no table in the database; check tables.include", name)
	}
	pub, err := LookupPublication(ctx, conn, name)
	if err != nil {
		return false, err
	}
	list := tableList(tables)
	switch {
	case !pub.Exists:
		stmt := "CREATE PUBLICATION " + quoteIdent(name) + " FOR TABLE " + list
		if serverVersion(conn) >= 130000 {
			stmt += " WITH (publish_via_partition_root = true)"
		}
		return true, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return publicationDDLError(err, "create", name, list)
			}
			if _, err := tx.Exec(ctx, "COMMENT ON PUBLICATION "+quoteIdent(name)+" IS "+quoteLiteral(publicationMarker)); err != nil {
				return publicationDDLError(err, "comment on", name, list)
			}
			return nil
		})
	case pub.Owned:
		if !pub.ViaRoot && serverVersion(conn) >= 130000 {
			if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+quoteIdent(name)+" SET (publish_via_partition_root = true)"); err != nil {
				return false, publicationDDLError(err, "alter", name, list)
			}
			changed = true
		}
		if len(pub.Missing(tables)) == 0 && len(pub.Tables) == len(tables) && !pub.AllTables {
			return changed, nil
		}
		if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+quoteIdent(name)+" SET TABLE "+list); err != nil {
			return changed, publicationDDLError(err, "alter", name, list)
		}
		return true, nil
	}
	return false, checkForeignPublication(name, pub, tables)
}

// checkForeignPublication checks a publication sluice did not create.
func checkForeignPublication(name string, pub *Publication, tables []TableName) error {
	if missing := pub.Missing(tables); len(missing) > 0 {
		names := make([]string, len(missing))
		for i, t := range missing {
			names[i] = t.String()
		}
		return fmt.Errorf("%w: publication %q (not created by sluice) does not publish %s: ALTER PUBLICATION %s ADD TABLE %s; or configure a publication name that does not exist yet and sluice creates it",
			ErrPublicationMissing, name, strings.Join(names, ", "), quoteIdent(name), tableList(missing))
	}
	var ops []string
	for _, o := range []struct {
		on   bool
		name string
	}{{pub.Insert, "insert"}, {pub.Update, "update"}, {pub.Delete, "delete"}} {
		if !o.on {
			ops = append(ops, o.name)
		}
	}
	if len(ops) > 0 {
		return fmt.Errorf("%w: publication %q does not publish %s: ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')",
			ErrPublicationMissing, name, strings.Join(ops, ", "), quoteIdent(name))
	}
	return nil
}

func publicationDDLError(err error, verb, name, list string) error {
	if codeOf(err) == codeInsufficientPrivilege {
		return fmt.Errorf("%w: %s publication %q: %w: a publication can name only tables its creator owns; "+
			"have the tables' owner run CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true) and configure that name",
			ErrPermission, verb, name, err, quoteIdent(name), list)
	}
	return fmt.Errorf("%s publication %q: %w", verb, name, err)
}

// tableList renders "s"."t", "s"."u".
func tableList(tables []TableName) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = t.quoted()
	}
	return strings.Join(parts, ", ")
}

// serverVersion returns server_version_num (e.g. 160004), or 0 when the
// server did not report it.
func serverVersion(conn *pgx.Conn) int {
	return versionNum(conn.PgConn().ParameterStatus("server_version"))
}

// versionNum turns a server_version parameter ("16.4", "14.11 (Debian…)",
// "17beta1", "9.6.24") into the server_version_num form.
func versionNum(s string) int {
	var major, minor int
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		major = major*10 + int(s[i]-'0')
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			minor = minor*10 + int(s[i]-'0')
		}
	}
	if major >= 10 {
		return major*10000 + minor
	}
	return major*10000 + minor*100
}

// SelectedTables lists the tables of the database that sel captures:
// ordinary and partitioned tables outside the system schemas, partitions
// excluded (their changes are published under their root), sorted by
// schema and name. It runs one catalog query and blocks until it is done.
func SelectedTables(ctx context.Context, conn *pgx.Conn, sel *sluice.Selection) ([]TableName, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []TableName
	for rows.Next() {
		var t TableName
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if sel == nil || sel.Match(t.Schema, t.Name) {
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}
