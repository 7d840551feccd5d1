package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// Config says which columns are transformed and how. Patterns are
// path.Match globs over "database.table.column", as the transforms
// settings give them.
type Config struct {
	// Mask names the columns whose values become MaskWith.
	Mask []string
	// MaskWith is the text masked values become; it must not be empty
	// when Mask is set.
	MaskWith string
	// Hash names the columns whose values become the lower-case hex
	// SHA-256 of Salt followed by the value's text.
	Hash []string
	// Salt is put before every hashed value; it must not be empty when
	// Hash is set. It is a secret: nothing in this package shows it.
	Salt string
	// Truncate maps patterns of string columns to the most characters
	// (Unicode code points) their values keep, at least 1.
	Truncate map[string]int
	// Connector is the source's kind, "mysql" or "postgresql": masked and
	// hashed columns are given a source type in its dialect. Anything
	// else is taken as mysql.
	Connector string
}

// IsZero reports whether c transforms no column.
func (c *Config) IsZero() bool { return len(c.Mask) == 0 && len(c.Hash) == 0 && len(c.Truncate) == 0 }

// The Transform values of derived columns.
const (
	Mask   = "mask"
	SHA256 = "sha256"
)

// hashLen is the length of a hashed value: 64 hex digits.
const hashLen = 2 * sha256.Size

// shapeLimit bounds the cache of derived shapes.
const shapeLimit = 4096

// Transformer applies a Config to events. Make one with [New]. It is not
// safe for concurrent use.
type Transformer struct {
	mask, hash []string
	trunc      []truncPattern // sorted by pattern
	maskValue  any            // the mask text, boxed once
	salt       []byte
	// The derived columns of masked and hashed columns.
	maskCol, hashCol sluice.Column

	shapes map[*sluice.Table]*shape
	// The shape of the last event's table: most events follow one of the
	// same table.
	last      *sluice.Table
	lastShape *shape

	buf []byte // salt + value text, reused
}

type truncPattern struct {
	pattern string
	n       int
}

// shape is what the transformer does to one source table shape.
type shape struct {
	table *sluice.Table // the derived table; nil when no column is transformed
	ops   []op
}

type opKind uint8

const (
	opMask opKind = iota + 1
	opHash
	opTruncate
)

// op transforms the values of one column.
type op struct {
	col  int
	kind opKind
	n    int            // opTruncate: characters kept
	src  *sluice.Column // the source's column, for the text of hashed values
}

// New checks cfg and returns a Transformer for it. Its errors name the
// setting and never show the salt.
func New(cfg Config) (*Transformer, error) {
	var errs []error
	check := func(key string, pats ...string) {
		for _, p := range pats {
			if _, err := path.Match(p, ""); err != nil {
				errs = append(errs, fmt.Errorf("transforms.%s: %q is not a valid pattern (%v); use * and ? globs over db.table.column", key, p, err))
			}
		}
	}
	check("mask", cfg.Mask...)
	check("hash", cfg.Hash...)
	x := &Transformer{mask: slices.Clone(cfg.Mask), hash: slices.Clone(cfg.Hash), maskValue: cfg.MaskWith,
		salt: []byte(cfg.Salt), shapes: map[*sluice.Table]*shape{}}
	for p, n := range cfg.Truncate {
		check("truncate", p)
		if n < 1 {
			errs = append(errs, fmt.Errorf("transforms.truncate: %q: %d is not a length; give the most characters to keep, at least 1", p, n))
		}
		x.trunc = append(x.trunc, truncPattern{p, n})
	}
	slices.SortFunc(x.trunc, func(a, b truncPattern) int {
		if a.pattern < b.pattern {
			return -1
		}
		if a.pattern > b.pattern {
			return 1
		}
		return 0
	})
	if len(cfg.Mask) > 0 && cfg.MaskWith == "" {
		errs = append(errs, errors.New("transforms.mask_with: must not be empty when transforms.mask is set; give the text masked values become, e.g. ****"))
	}
	if len(cfg.Hash) > 0 && cfg.Salt == "" {
		errs = append(errs, errors.New("transforms.hash_salt: required when transforms.hash is set; set transforms.hash_salt_file to a long random secret"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	maskLen := utf8.RuneCountInString(cfg.MaskWith)
	if cfg.Connector == "postgresql" {
		x.maskCol = sluice.Column{Kind: sluice.KindString, SourceType: "character varying(" + strconv.Itoa(maskLen) + ")", Length: maskLen, Transform: Mask}
		x.hashCol = sluice.Column{Kind: sluice.KindString, SourceType: "character(64)", Length: hashLen, Transform: SHA256}
	} else {
		x.maskCol = sluice.Column{Kind: sluice.KindString, SourceType: "varchar(" + strconv.Itoa(maskLen) + ")", Length: maskLen, Charset: "utf8mb4", Transform: Mask}
		x.hashCol = sluice.Column{Kind: sluice.KindString, SourceType: "char(64)", Length: hashLen, Charset: "ascii", Transform: SHA256}
	}
	return x, nil
}

// Event returns ev with its table's transforms applied: ev itself when no
// column of its table is transformed, else a new Event on the derived
// table (see [Transformer.Table]) with new Before and After rows. ev, its
// table and its rows are not modified. The error is the derived table's,
// or a value whose Go type does not fit its column's kind.
func (x *Transformer) Event(ev *sluice.Event) (*sluice.Event, error) {
	s, err := x.shape(ev.Table)
	if err != nil {
		return nil, err
	}
	if s.table == nil {
		return ev, nil
	}
	out := *ev
	out.Table = s.table
	if out.Before, err = x.row(s, ev.Table, ev.Before); err != nil {
		return nil, err
	}
	if out.After, err = x.row(s, ev.Table, ev.After); err != nil {
		return nil, err
	}
	return &out, nil
}

// Table returns the shape t's rows have once transformed: t itself when no
// column is transformed, else a derived table whose transformed columns
// say what was done (Column.Transform) and, for mask and hash, are string
// columns. The same t gives the same derived table while it is cached.
// It fails for a masked or truncated key column, a truncated column that
// is not a string, and a column two transforms match.
func (x *Transformer) Table(t *sluice.Table) (*sluice.Table, error) {
	s, err := x.shape(t)
	if err != nil {
		return nil, err
	}
	if s.table == nil {
		return t, nil
	}
	return s.table, nil
}

func (x *Transformer) shape(t *sluice.Table) (*shape, error) {
	if t == x.last && t != nil {
		return x.lastShape, nil
	}
	s, ok := x.shapes[t]
	if !ok {
		if t == nil {
			return nil, errors.New("transform event: event has no table")
		}
		var err error
		if s, err = x.derive(t); err != nil {
			return nil, err
		}
		if len(x.shapes) >= shapeLimit {
			clear(x.shapes)
		}
		x.shapes[t] = s
	}
	x.last, x.lastShape = t, s
	return s, nil
}

// match is the transform a pattern gives a column, with the setting and
// the pattern, for errors.
type match struct {
	kind    opKind
	n       int
	setting string
	pattern string
}

// match returns the transform of column name (the zero match for none),
// or an error when two transforms, or two truncate patterns with different
// lengths, match it.
func (x *Transformer) match(name string) (match, error) {
	var ms []match
	for _, p := range x.mask {
		if ok, _ := path.Match(p, name); ok {
			ms = append(ms, match{kind: opMask, setting: "transforms.mask", pattern: p})
			break
		}
	}
	for _, p := range x.hash {
		if ok, _ := path.Match(p, name); ok {
			ms = append(ms, match{kind: opHash, setting: "transforms.hash", pattern: p})
			break
		}
	}
	var trunc *match
	for _, tp := range x.trunc {
		if ok, _ := path.Match(tp.pattern, name); !ok {
			continue
		}
		if trunc == nil {
			ms = append(ms, match{kind: opTruncate, n: tp.n, setting: "transforms.truncate", pattern: tp.pattern})
			trunc = &ms[len(ms)-1]
		} else if trunc.n != tp.n {
			return match{}, fmt.Errorf("column %s: transforms.truncate patterns %q and %q both match it with different lengths (%d and %d); narrow one of the patterns", name, trunc.pattern, tp.pattern, trunc.n, tp.n)
		}
	}
	switch len(ms) {
	case 0:
		return match{}, nil
	case 1:
		return ms[0], nil
	}
	a, b := ms[0], ms[1]
	return match{}, fmt.Errorf("column %s: %s (%q) and %s (%q) both match it; a column takes one transform: narrow one of the patterns", name, a.setting, a.pattern, b.setting, b.pattern)
}

// derive builds the shape of table t.
func (x *Transformer) derive(t *sluice.Table) (*shape, error) {
	s := &shape{}
	var cols []sluice.Column
	var errs []error
	for i := range t.Columns {
		c := &t.Columns[i]
		name := t.Database + "." + t.Name + "." + c.Name
		m, err := x.match(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if m.kind == 0 {
			continue
		}
		key := slices.Contains(t.Key, i)
		var dc sluice.Column
		switch m.kind {
		case opMask:
			if key {
				errs = append(errs, fmt.Errorf("column %s is a key column and transforms.mask (%q) matches it: every row's key would be the mask and compaction would keep one row; hash it instead (transforms.hash) or narrow the pattern", name, m.pattern))
				continue
			}
			dc = x.maskCol
		case opHash:
			dc = x.hashCol
		case opTruncate:
			if c.Kind != sluice.KindString {
				errs = append(errs, fmt.Errorf("column %s is %s (%s) and transforms.truncate (%q) matches it: only string columns can be truncated; narrow the pattern", name, c.Kind, c.SourceType, m.pattern))
				continue
			}
			if key {
				errs = append(errs, fmt.Errorf("column %s is a key column and transforms.truncate (%q) matches it: keys that share a prefix would collide; hash it instead (transforms.hash) or narrow the pattern", name, m.pattern))
				continue
			}
			dc = *c
			dc.Transform = "truncate(" + strconv.Itoa(m.n) + ")"
		}
		if m.kind != opTruncate {
			dc.Name, dc.Nullable = c.Name, c.Nullable
		}
		if cols == nil {
			cols = slices.Clone(t.Columns)
		}
		cols[i] = dc
		s.ops = append(s.ops, op{col: i, kind: m.kind, n: m.n, src: c})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.FullName(), err)
	}
	if cols != nil {
		d := *t
		d.Columns = cols
		s.table = &d
	}
	return s, nil
}

// row returns a new row holding row's values transformed; nil for nil.
func (x *Transformer) row(s *shape, t *sluice.Table, row sluice.Row) (sluice.Row, error) {
	if row == nil {
		return nil, nil
	}
	out := make(sluice.Row, len(row))
	copy(out, row)
	for _, o := range s.ops {
		if o.col >= len(out) {
			return nil, fmt.Errorf("transform %s: row of %d values for %d columns", t.FullName(), len(row), len(t.Columns))
		}
		v := out[o.col]
		if v == nil {
			continue // NULL, or not sent by the source
		}
		switch o.kind {
		case opMask:
			out[o.col] = x.maskValue
		case opHash:
			h, err := x.hashValue(o.src, v)
			if err != nil {
				return nil, fmt.Errorf("transform %s: %w", t.FullName(), err)
			}
			out[o.col] = h
		case opTruncate:
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("transform %s: column %q holds a %T, not a string", t.FullName(), o.src.Name, v)
			}
			out[o.col] = Truncate(str, o.n)
		}
	}
	return out, nil
}

// hashValue returns the lower-case hex SHA-256 of the salt followed by
// Text(v).
func (x *Transformer) hashValue(col *sluice.Column, v any) (string, error) {
	b := append(x.buf[:0], x.salt...)
	b, err := AppendText(b, col, v)
	x.buf = b
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	var text [hashLen]byte
	hex.Encode(text[:], sum[:])
	return string(text[:]), nil
}

// AppendText appends the text of value v of column col that hashing uses:
// a string value (strings, decimals, dates, times, enums, sets, JSON,
// UUIDs, …) as it is, the bytes of a []byte value (bytes, bits,
// geometries) as they are, and every other value as [schema.AppendJSON]
// renders it, a JSON string without its quotes: integers and floats as
// JSON numbers ("42", "1.5"), booleans as "true" and "false", intervals
// in ISO 8601 ("P1Y2M"), non-finite floats as "NaN", "Infinity" and
// "-Infinity", arrays as JSON arrays.
func AppendText(dst []byte, col *sluice.Column, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return append(dst, v...), nil
	case []byte:
		return append(dst, v...), nil
	}
	start := len(dst)
	dst, err := schema.AppendJSON(dst, col, v)
	if err != nil {
		return dst, err
	}
	if n := len(dst); n-start >= 2 && dst[start] == '"' {
		// An interval or a non-finite float: plain text without escapes.
		copy(dst[start:], dst[start+1:n-1])
		dst = dst[:n-2]
	}
	return dst, nil
}

// Truncate returns s cut to at most n Unicode characters (code points; an
// invalid byte counts as one).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s // n bytes hold at most n characters
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// Unmatched returns, for `sluice check`, each configured pattern that
// matches no column of tables, as "transforms.mask \"shop.c.x\"".
func (x *Transformer) Unmatched(tables []*sluice.Table) []string {
	used := map[string]bool{}
	for _, t := range tables {
		for i := range t.Columns {
			name := t.Database + "." + t.Name + "." + t.Columns[i].Name
			for _, m := range x.matchesAll(name) {
				used[m] = true
			}
		}
	}
	var out []string
	add := func(setting, p string) {
		if !used[setting+" "+p] {
			out = append(out, fmt.Sprintf("%s %q", setting, p))
		}
	}
	for _, p := range x.mask {
		add("transforms.mask", p)
	}
	for _, p := range x.hash {
		add("transforms.hash", p)
	}
	for _, tp := range x.trunc {
		add("transforms.truncate", tp.pattern)
	}
	return out
}

// matchesAll returns every "setting pattern" that matches name.
func (x *Transformer) matchesAll(name string) []string {
	var out []string
	for _, group := range []struct {
		setting string
		pats    []string
	}{{"transforms.mask", x.mask}, {"transforms.hash", x.hash}} {
		for _, p := range group.pats {
			if ok, _ := path.Match(p, name); ok {
				out = append(out, group.setting+" "+p)
			}
		}
	}
	for _, tp := range x.trunc {
		if ok, _ := path.Match(tp.pattern, name); ok {
			out = append(out, "transforms.truncate "+tp.pattern)
		}
	}
	return out
}
