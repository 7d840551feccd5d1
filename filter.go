package sluice

import (
	"fmt"
	"path"
	"strings"
)

// Selection says which tables and columns a source captures and which
// columns key the records of tables without a primary key. Patterns use
// path.Match globs (*, ?, [...]) over "database.table" and
// "database.table.column".
type Selection struct {
	Include        []string
	Exclude        []string
	ExcludeColumns []string
	// Keys maps "database.table" to the key columns of a table that has no
	// primary key.
	Keys map[string][]string
}

// Validate reports malformed patterns.
func (s *Selection) Validate() error {
	for _, group := range [][]string{s.Include, s.Exclude, s.ExcludeColumns} {
		for _, p := range group {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("bad table pattern %q: %w", p, err)
			}
		}
	}
	return nil
}

// Match reports whether the table database.table is captured.
func (s *Selection) Match(database, table string) bool {
	name := database + "." + table
	if !matchAny(s.Include, name) {
		return false
	}
	return !matchAny(s.Exclude, name)
}

// Literal returns the include patterns that contain no glob characters:
// names of tables the user expects to exist.
func (s *Selection) Literal() []string {
	var out []string
	for _, p := range s.Include {
		if !strings.ContainsAny(p, `*?[\`) {
			out = append(out, p)
		}
	}
	return out
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Projection maps a source table's full column list onto the columns sluice
// captures. Sources build one per table shape and apply it to every row.
type Projection struct {
	// Table is the captured shape: excluded columns removed, Key set.
	Table *Table
	// Source holds, for each captured column, its index in the full row;
	// nil when every column is captured.
	Source []int
}

// Project removes excluded columns from full and sets its key: the primary
// key when full has one (full.Key with full.PrimaryKey set), else the
// configured key columns, else none. It fails when a key column is excluded
// or a configured key column does not exist.
func (s *Selection) Project(full *Table) (*Projection, error) {
	t := &Table{Database: full.Database, Name: full.Name}
	var src []int
	keep := make([]int, len(full.Columns)) // full index -> captured index, -1 if dropped
	for i, c := range full.Columns {
		if matchAny(s.ExcludeColumns, full.Database+"."+full.Name+"."+c.Name) {
			keep[i] = -1
			continue
		}
		keep[i] = len(t.Columns)
		t.Columns = append(t.Columns, c)
		src = append(src, i)
	}
	if len(src) == len(full.Columns) {
		src = nil
	}
	if full.PrimaryKey && len(full.Key) > 0 {
		for _, k := range full.Key {
			if keep[k] < 0 {
				return nil, fmt.Errorf("table %s: primary-key column %q is excluded by tables.exclude_columns: keys need it, remove it from the exclusion", full.FullName(), full.Columns[k].Name)
			}
			t.Key = append(t.Key, keep[k])
		}
		t.PrimaryKey = true
	} else if cols, ok := s.Keys[full.FullName()]; ok {
		for _, name := range cols {
			i := t.ColumnIndex(name)
			if i < 0 {
				return nil, fmt.Errorf("table %s: key column %q from tables.keys does not exist or is excluded: name existing columns", full.FullName(), name)
			}
			t.Key = append(t.Key, i)
		}
	}
	return &Projection{Table: t, Source: src}, nil
}

// Row returns the captured values of a full row. It returns full itself
// when every column is captured.
func (p *Projection) Row(full Row) Row {
	if p.Source == nil || full == nil {
		return full
	}
	out := make(Row, len(p.Source))
	for i, j := range p.Source {
		out[i] = full[j]
	}
	return out
}

// MatchColumn reports whether column database.table.column matches one of
// patterns (path.Match globs over "database.table.column").
func MatchColumn(patterns []string, database, table, column string) bool {
	return matchAny(patterns, database+"."+table+"."+column)
}
