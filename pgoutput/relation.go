package pgoutput

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice"
)

// shaper maps Relation messages to table shapes and text values to the Go
// values their kinds name.
type shaper interface {
	// table returns the full shape of rel (every published column, key
	// set from the primary key).
	table(ctx context.Context, rel *relationMsg) (*sluice.Table, error)
	// value converts one text value of col.
	value(col *sluice.Column, text []byte) (any, error)
	// changed says that a known relation announced a new shape: cached
	// catalog facts (types, keys) may be stale.
	changed()
}

// relEntry is what the reader knows of one relation, from its latest
// Relation message.
type relEntry struct {
	msg      *relationMsg
	selected bool
	full     *sluice.Table
	proj     *sluice.Projection
	skip     []bool // full columns not captured: not converted
	captured []int  // full index -> captured index, -1 when not captured
}

// relation records the shape a Relation message announces; every later
// change of the relation is decoded with it (promise 6).
func (r *Reader) relation(ctx context.Context, m *relationMsg) error {
	old := r.rels[m.ID]
	if old != nil {
		// The server re-sends a relation after anything that invalidated
		// it, also when its columns stayed the same (a primary key added
		// under REPLICA IDENTITY FULL): read the catalog again.
		r.shape.changed()
	}
	ent := &relEntry{msg: m}
	r.rels[m.ID] = ent
	if !r.cfg.Selection.Match(m.Namespace, m.Name) {
		return nil
	}
	full, err := r.shape.table(ctx, m)
	if err != nil {
		return fmt.Errorf("pgoutput: table %s.%s: %w", m.Namespace, m.Name, err)
	}
	proj, err := r.cfg.Selection.Project(full)
	if err != nil {
		return fmt.Errorf("pgoutput: %w", err)
	}
	// Keep the previous shape's pointers when nothing that shapes records
	// changed, so per-table caches downstream (topics, schemas) stay warm.
	if old != nil && old.selected && reflect.DeepEqual(old.proj.Table, proj.Table) {
		proj.Table = old.proj.Table
	}
	if len(proj.Table.Key) == 0 && !r.warned[full.FullName()] {
		r.warned[full.FullName()] = true
		r.log.Warn("table has no primary key and no configured key columns: its records get a null key and are not compacted; set tables.keys to key them",
			"table", full.FullName())
	}
	if old != nil && old.proj != nil && proj.Table != old.proj.Table {
		r.log.Info("table shape changed; later changes use the new shape", "table", full.FullName(), "columns", len(m.Columns))
	}
	ent.selected, ent.full, ent.proj = true, full, proj
	ent.captured = make([]int, len(full.Columns))
	for i := range ent.captured {
		ent.captured[i] = i
	}
	if proj.Source != nil {
		ent.skip = make([]bool, len(full.Columns))
		for i := range ent.skip {
			ent.skip[i] = true
			ent.captured[i] = -1
		}
		for j, i := range proj.Source {
			ent.skip[i] = false
			ent.captured[i] = j
		}
	}
	return nil
}

// entry returns the selected relation id, nil when it is not selected, and
// an error when no Relation message announced it.
func (r *Reader) entry(id uint32, at uint64) (*relEntry, error) {
	ent := r.rels[id]
	if ent == nil {
		return nil, fmt.Errorf("pgoutput: at %s: %w: change of relation %d before its Relation message", pglogrepl.LSN(at), errMalformed, id)
	}
	if !ent.selected {
		return nil, nil
	}
	return ent, nil
}

func (r *Reader) insert(ctx context.Context, at uint64, m *insertMsg, h sluice.Handler) error {
	ent, err := r.entry(m.RelationID, at)
	if ent == nil {
		return err
	}
	after, afterNA, err := r.row(ent, m.New)
	if err != nil {
		return err
	}
	ev := &sluice.Event{Op: sluice.OpCreate, Table: ent.proj.Table, Source: r.source(at)}
	ev.After, ev.AfterUnavailable = r.project(ent, after, afterNA)
	return h.Change(ctx, ev)
}

func (r *Reader) update(ctx context.Context, at uint64, m *updateMsg, h sluice.Handler) error {
	ent, err := r.entry(m.RelationID, at)
	if ent == nil {
		return err
	}
	after, afterNA, err := r.row(ent, m.New)
	if err != nil {
		return err
	}
	var before sluice.Row
	var beforeNA []bool
	switch m.OldKind {
	case 'O': // REPLICA IDENTITY FULL: the whole old row
		if before, beforeNA, err = r.row(ent, m.Old); err != nil {
			return err
		}
		// An unchanged TOASTed value equals its old value, which FULL sent.
		for i := range afterNA {
			if afterNA[i] && !beforeNA[i] {
				after[i], afterNA[i] = before[i], false
			}
		}
	case 'K': // the replica identity changed: its old values
		if before, beforeNA, err = r.row(ent, m.Old); err != nil {
			return err
		}
		r.identityOnly(ent, beforeNA)
	default: // the replica identity did not change: its values are the new ones
		before = make(sluice.Row, len(after))
		beforeNA = make([]bool, len(after))
		for i, c := range ent.msg.Columns {
			if c.Key && !afterNA[i] {
				before[i] = after[i]
			} else {
				beforeNA[i] = true
			}
		}
	}
	// A key column missing from the before-image kept its value: the
	// server sends the old replica identity whenever it changes.
	for _, k := range ent.full.Key {
		if beforeNA[k] && !afterNA[k] {
			before[k], beforeNA[k] = after[k], false
		}
	}
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: ent.proj.Table, Source: r.source(at)}
	ev.Before, ev.BeforeUnavailable = r.project(ent, before, beforeNA)
	ev.After, ev.AfterUnavailable = r.project(ent, after, afterNA)
	return h.Change(ctx, ev)
}

func (r *Reader) delete(ctx context.Context, at uint64, m *deleteMsg, h sluice.Handler) error {
	ent, err := r.entry(m.RelationID, at)
	if ent == nil {
		return err
	}
	before, beforeNA, err := r.row(ent, m.Old)
	if err != nil {
		return err
	}
	if m.OldKind == 'K' {
		r.identityOnly(ent, beforeNA)
	}
	ev := &sluice.Event{Op: sluice.OpDelete, Table: ent.proj.Table, Source: r.source(at)}
	ev.Before, ev.BeforeUnavailable = r.project(ent, before, beforeNA)
	for _, k := range ev.Table.Key {
		if slices.Contains(ev.BeforeUnavailable, k) {
			t := ent.full
			return fmt.Errorf("pgoutput: table %s: a delete came without the value of key column %q (the replica identity does not include it), so its record key cannot be built: "+
				"ALTER TABLE %s REPLICA IDENTITY FULL (or key the table by its replica identity columns)",
				t.FullName(), ev.Table.Columns[k].Name, quoteIdent(t.Database)+"."+quoteIdent(t.Name))
		}
	}
	return h.Change(ctx, ev)
}

func (r *Reader) truncate(ctx context.Context, at uint64, m *truncateMsg, h sluice.Handler) error {
	for _, id := range m.RelationIDs {
		ent, err := r.entry(id, at)
		if err != nil {
			return err
		}
		if ent == nil {
			continue
		}
		if err := h.Change(ctx, &sluice.Event{Op: sluice.OpTruncate, Table: ent.proj.Table, Source: r.source(at)}); err != nil {
			return err
		}
	}
	return nil
}

// identityOnly marks the columns outside the replica identity unavailable:
// a 'K' tuple carries them as nulls.
func (r *Reader) identityOnly(ent *relEntry, na []bool) {
	for i, c := range ent.msg.Columns {
		if !c.Key {
			na[i] = true
		}
	}
}

// row converts a tuple into a full row and flags the values the server did
// not send (unchanged TOASTed values).
func (r *Reader) row(ent *relEntry, tup []tupleValue) (sluice.Row, []bool, error) {
	cols := ent.full.Columns
	if len(tup) != len(cols) {
		return nil, nil, fmt.Errorf("pgoutput: table %s: %w: tuple has %d values for %d columns", ent.full.FullName(), errMalformed, len(tup), len(cols))
	}
	row := make(sluice.Row, len(cols))
	na := make([]bool, len(cols))
	for i := range tup {
		if ent.skip != nil && ent.skip[i] {
			continue
		}
		switch tup[i].Kind {
		case valueNull:
		case valueUnchanged:
			na[i] = true
		case valueText:
			v, err := r.shape.value(&cols[i], tup[i].Data)
			if err != nil {
				return nil, nil, fmt.Errorf("pgoutput: table %s column %s: %w", ent.full.FullName(), cols[i].Name, err)
			}
			row[i] = v
		default:
			return nil, nil, fmt.Errorf("pgoutput: table %s column %s: %w: value kind %q, sluice asks for text", ent.full.FullName(), cols[i].Name, errMalformed, tup[i].Kind)
		}
	}
	return row, na, nil
}

// project returns the captured values of a full row and the captured
// indexes of its unavailable columns (nil when none).
func (r *Reader) project(ent *relEntry, row sluice.Row, na []bool) (sluice.Row, []int) {
	var out []int
	for i, missing := range na {
		if missing && ent.captured[i] >= 0 {
			out = append(out, ent.captured[i])
		}
	}
	return ent.proj.Row(row), out
}
