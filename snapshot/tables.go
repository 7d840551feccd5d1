package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// TableRef names one table and the server's row estimate for it.
type TableRef struct {
	Database, Name string
	EstRows        uint64
}

// Quoted returns `database`.`table` with backticks escaped.
func (t TableRef) Quoted() string {
	return schema.QuoteMySQLIdentifier(t.Database) + "." + schema.QuoteMySQLIdentifier(t.Name)
}

// ListTables returns the base tables the selection captures. A literal
// include pattern (no glob) that names no table is an error: the user
// expects that table.
func ListTables(conn *client.Conn, sel *sluice.Selection) ([]TableRef, error) {
	res, err := conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
		ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer res.Close()
	var out []TableRef
	seen := map[string]bool{}
	for i := range res.Values {
		db := cell(res.GetString(i, 0))
		name := cell(res.GetString(i, 1))
		est, _ := res.GetUint(i, 2)
		seen[db+"."+name] = true
		if sel.Match(db, name) {
			out = append(out, TableRef{Database: db, Name: name, EstRows: est})
		}
	}
	var missing []string
	for _, lit := range sel.Literal() {
		if !seen[lit] {
			missing = append(missing, lit)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("tables.include names %s, which does not exist (or the user cannot see it): create it, fix the name, or grant SELECT on it", strings.Join(missing, ", "))
	}
	return out, nil
}

// CheckReadable tries a zero-row SELECT on every table and reports those the
// user may not read.
func CheckReadable(conn *client.Conn, tables []TableRef) sluice.Problems {
	var ps sluice.Problems
	for _, t := range tables {
		res, err := conn.Execute("SELECT 1 FROM " + t.Quoted() + " LIMIT 0")
		if err != nil {
			ps = append(ps, sluice.Problem{Message: fmt.Sprintf("cannot read %s.%s (%v): GRANT SELECT ON %s TO the sluice user", t.Database, t.Name, err, t.Quoted())})
			continue
		}
		res.Close()
	}
	return ps
}

// Shape is a table's captured shape and how to read it.
type Shape struct {
	Ref  TableRef
	Full *sluice.Table
	Proj *sluice.Projection
	// selectList is the column list of the read, in full-table order,
	// with FLOAT columns widened so the text protocol keeps every bit.
	selectList string
}

// LoadShapes reads the column definitions and primary keys of tables from
// information_schema and maps them with package schema.
func LoadShapes(conn *client.Conn, sel *sluice.Selection, tables []TableRef, log *slog.Logger) ([]*Shape, error) {
	var out []*Shape
	for _, ref := range tables {
		full, err := LoadTable(conn, ref.Database, ref.Name)
		if err != nil {
			return nil, err
		}
		proj, err := sel.Project(full)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		if len(proj.Table.Key) == 0 {
			log.Warn("table has no primary key and no configured key columns: its records get a null key and are not compacted; set tables.keys to key them",
				"table", full.FullName())
		}
		var cols []string
		for i := range full.Columns {
			cols = append(cols, schema.MySQLSelectExpr(&full.Columns[i]))
		}
		out = append(out, &Shape{Ref: ref, Full: full, Proj: proj, selectList: strings.Join(cols, ", ")})
	}
	return out, nil
}

// LoadTable reads one table's full shape from information_schema.
func LoadTable(conn *client.Conn, db, name string) (*sluice.Table, error) {
	res, err := conn.Execute(schema.MySQLColumnsQuery, db, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", db, name, err)
	}
	defer res.Close()
	var cols []schema.MySQLInfoColumn
	for _, row := range res.Values {
		c, err := schema.ScanMySQLInfoColumn(row)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s has no columns visible to the user: grant SELECT on it", db, name)
	}
	pk, err := conn.Execute(`SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, db, name)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s: %w", db, name, err)
	}
	defer pk.Close()
	var key []string
	for i := range pk.Values {
		c := cell(pk.GetString(i, 0))
		key = append(key, c)
	}
	return schema.MySQLTable(db, name, cols, key)
}

// readTable streams one table's rows to h.
func readTable(ctx context.Context, conn *client.Conn, sh *Shape, src sluice.Source, h sluice.Handler, every time.Duration, log *slog.Logger) error {
	q := "SELECT " + sh.selectList + " FROM " + sh.Ref.Quoted()
	began := time.Now()
	last := began
	var n uint64
	cols := sh.Full.Columns
	var res mysql.Result
	err := conn.ExecuteSelectStreaming(q, &res, func(row []mysql.FieldValue) error {
		full := make(sluice.Row, len(cols))
		for i := range cols {
			v, err := schema.MySQLFieldValue(&cols[i], row[i])
			if err != nil {
				return fmt.Errorf("snapshot: %s column %s: %w", sh.Full.FullName(), cols[i].Name, err)
			}
			full[i] = v
		}
		ev := &sluice.Event{Op: sluice.OpRead, Table: sh.Proj.Table, After: sh.Proj.Row(full), Source: src}
		if err := h.Change(ctx, ev); err != nil {
			return err
		}
		n++
		if every > 0 && n%1024 == 0 {
			if now := time.Now(); now.Sub(last) >= every {
				last = now
				log.Info("snapshot: progress", "table", sh.Full.FullName(), "rows", n, "estimated_rows", sh.Ref.EstRows,
					"rows_per_s", int(float64(n)/now.Sub(began).Seconds()))
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("snapshot: read %s: %w", sh.Full.FullName(), err)
	}
	log.Info("snapshot: table done", "table", sh.Full.FullName(), "rows", n, "took", time.Since(began).Round(time.Millisecond))
	return nil
}
