package schema

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// PostgresAttr is one column as pg_attribute or a pgoutput Relation message
// describes it.
type PostgresAttr struct {
	Name    string
	TypeOID uint32
	Typmod  int32 // atttypmod; -1 when none
}

// PostgresQuerier is what [PostgresCatalog] needs to read the catalog;
// *pgx.Conn satisfies it.
type PostgresQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PostgresCatalog resolves column types and primary keys for
// [PostgresTable]. Built-in types resolve without a query; user enums,
// domains, arrays of them and every other type are read from pg_type once and
// cached, as are primary keys. It holds no connection of its own: each lookup
// that misses the cache runs one or two queries on the querier it was made
// with, blocking until they finish. Not safe for concurrent use.
type PostgresCatalog struct {
	q     PostgresQuerier
	types map[uint32]*pgType
	keys  map[uint32][]string
}

// NewPostgresCatalog returns a catalog that reads through q.
func NewPostgresCatalog(q PostgresQuerier) *PostgresCatalog {
	return &PostgresCatalog{q: q, types: map[uint32]*pgType{}, keys: map[uint32][]string{}}
}

// Forget drops cached type and key information, so the next lookups read
// the catalog again (a pgoutput Relation message announced a new shape; an
// enum may have gained a member).
func (c *PostgresCatalog) Forget() {
	clear(c.types)
	clear(c.keys)
}

// postgresPrimaryKeyQuery lists a relation's primary-key columns in key
// order.
const postgresPrimaryKeyQuery = `SELECT a.attname FROM pg_catalog.pg_index i
	CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
	JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
	WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`

// PrimaryKey returns the primary-key column names of the relation relOID
// (pg_class.oid; a pgoutput Relation message's RelationID), in key order;
// empty when it has none. It queries the catalog on a cache miss.
func (c *PostgresCatalog) PrimaryKey(ctx context.Context, relOID uint32) ([]string, error) {
	if k, ok := c.keys[relOID]; ok {
		return k, nil
	}
	rows, err := c.q.Query(ctx, postgresPrimaryKeyQuery, relOID)
	if err != nil {
		return nil, fmt.Errorf("read primary key of relation %d: %w", relOID, err)
	}
	key, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read primary key of relation %d: %w", relOID, err)
	}
	c.keys[relOID] = key
	return key, nil
}

// pgType is what the mapper knows of one PostgreSQL type.
type pgType struct {
	// name is the type's name as format_type prints it without a typmod:
	// "integer", "character varying", "public.mood".
	name string
	kind sluice.Kind
	// unsigned marks oid, the one unsigned integer type.
	unsigned bool
	// elem is the element type of an array type.
	elem uint32
	// base and baseTypmod are a domain's base type and its typmod.
	base       uint32
	baseTypmod int32
	domain     bool
	// members are an enum's labels in sort order.
	members []string
	// fallback marks types sluice carries as their text (KindString)
	// without knowing them.
	fallback bool
}

// postgresBuiltins are the built-in types that resolve without a query.
var postgresBuiltins = map[uint32]*pgType{
	pgtype.Int2OID:        {name: "smallint", kind: sluice.KindInt},
	pgtype.Int4OID:        {name: "integer", kind: sluice.KindInt},
	pgtype.Int8OID:        {name: "bigint", kind: sluice.KindInt},
	pgtype.OIDOID:         {name: "oid", kind: sluice.KindInt, unsigned: true},
	pgtype.Float4OID:      {name: "real", kind: sluice.KindFloat},
	pgtype.Float8OID:      {name: "double precision", kind: sluice.KindDouble},
	pgtype.NumericOID:     {name: "numeric", kind: sluice.KindDecimal},
	pgtype.BoolOID:        {name: "boolean", kind: sluice.KindBool},
	pgtype.TextOID:        {name: "text", kind: sluice.KindString},
	pgtype.VarcharOID:     {name: "character varying", kind: sluice.KindString},
	pgtype.BPCharOID:      {name: "character", kind: sluice.KindString},
	pgtype.NameOID:        {name: "name", kind: sluice.KindString},
	pgtype.QCharOID:       {name: `"char"`, kind: sluice.KindString},
	pgtype.ByteaOID:       {name: "bytea", kind: sluice.KindBytes},
	pgtype.DateOID:        {name: "date", kind: sluice.KindDate},
	pgtype.TimeOID:        {name: "time", kind: sluice.KindTime},
	pgtype.TimetzOID:      {name: "time", kind: sluice.KindTimeTZ},
	pgtype.TimestampOID:   {name: "timestamp", kind: sluice.KindDateTime},
	pgtype.TimestamptzOID: {name: "timestamp", kind: sluice.KindTimestamp},
	pgtype.IntervalOID:    {name: "interval", kind: sluice.KindInterval},
	pgtype.UUIDOID:        {name: "uuid", kind: sluice.KindUUID},
	pgtype.JSONOID:        {name: "json", kind: sluice.KindJSON},
	pgtype.JSONBOID:       {name: "jsonb", kind: sluice.KindJSON},
	pgtype.InetOID:        {name: "inet", kind: sluice.KindString},
	pgtype.CIDROID:        {name: "cidr", kind: sluice.KindString},
	pgtype.MacaddrOID:     {name: "macaddr", kind: sluice.KindString},
	pgtype.Macaddr8OID:    {name: "macaddr8", kind: sluice.KindString},
	pgMoneyOID:            {name: "money", kind: sluice.KindDecimal},
	pgtype.BitOID:         {name: "bit", kind: sluice.KindBit},
	pgtype.VarbitOID:      {name: "bit varying", kind: sluice.KindString},
	// Vectors of the system catalogs print as space-separated lists, not
	// as arrays.
	pgInt2VectorOID: {name: "int2vector", kind: sluice.KindString, fallback: true},
	pgOIDVectorOID:  {name: "oidvector", kind: sluice.KindString, fallback: true},
}

const (
	pgMoneyOID         = 790
	pgMoneyArrayOID    = 791
	pgMacaddr8ArrayOID = 775
	pgInt2VectorOID    = 22
	pgOIDVectorOID     = 30
)

// postgresBuiltinArrays maps the built-in array types of the mapped types
// to their element types.
var postgresBuiltinArrays = map[uint32]uint32{
	pgtype.Int2ArrayOID: pgtype.Int2OID, pgtype.Int4ArrayOID: pgtype.Int4OID, pgtype.Int8ArrayOID: pgtype.Int8OID,
	pgtype.OIDArrayOID: pgtype.OIDOID, pgtype.Float4ArrayOID: pgtype.Float4OID, pgtype.Float8ArrayOID: pgtype.Float8OID,
	pgtype.NumericArrayOID: pgtype.NumericOID, pgtype.BoolArrayOID: pgtype.BoolOID, pgtype.TextArrayOID: pgtype.TextOID,
	pgtype.VarcharArrayOID: pgtype.VarcharOID, pgtype.BPCharArrayOID: pgtype.BPCharOID, pgtype.NameArrayOID: pgtype.NameOID,
	pgtype.QCharArrayOID: pgtype.QCharOID, pgtype.ByteaArrayOID: pgtype.ByteaOID, pgtype.DateArrayOID: pgtype.DateOID,
	pgtype.TimeArrayOID: pgtype.TimeOID, pgtype.TimetzArrayOID: pgtype.TimetzOID, pgtype.TimestampArrayOID: pgtype.TimestampOID,
	pgtype.TimestamptzArrayOID: pgtype.TimestamptzOID, pgtype.IntervalArrayOID: pgtype.IntervalOID,
	pgtype.UUIDArrayOID: pgtype.UUIDOID, pgtype.JSONArrayOID: pgtype.JSONOID, pgtype.JSONBArrayOID: pgtype.JSONBOID,
	pgtype.InetArrayOID: pgtype.InetOID, pgtype.CIDRArrayOID: pgtype.CIDROID, pgtype.MacaddrArrayOID: pgtype.MacaddrOID,
	pgMacaddr8ArrayOID: pgtype.Macaddr8OID,
	pgMoneyArrayOID:    pgMoneyOID, pgtype.BitArrayOID: pgtype.BitOID, pgtype.VarbitArrayOID: pgtype.VarbitOID,
}

// postgresTypeQuery reads what the mapper needs of one type.
const postgresTypeQuery = `SELECT n.nspname, t.typname, t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype, t.typtypmod
	FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1`

const postgresEnumQuery = `SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`

// lookupType resolves a type OID, from the built-ins or the catalog.
func (c *PostgresCatalog) lookupType(ctx context.Context, oid uint32) (*pgType, error) {
	if t, ok := postgresBuiltins[oid]; ok {
		return t, nil
	}
	if elem, ok := postgresBuiltinArrays[oid]; ok {
		return &pgType{kind: sluice.KindArray, elem: elem}, nil
	}
	if t, ok := c.types[oid]; ok {
		return t, nil
	}
	if c.q == nil {
		return nil, fmt.Errorf("type %d is not built in and the catalog has no connection to look it up", oid)
	}
	var (
		nsp, name, typtype, category string
		elem, base                   uint32
		typmod                       int32
	)
	rows, err := c.q.Query(ctx, postgresTypeQuery, oid)
	if err != nil {
		return nil, fmt.Errorf("look up type %d in pg_type: %w", oid, err)
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(&nsp, &name, &typtype, &category, &elem, &base, &typmod); err != nil {
			rows.Close()
			return nil, fmt.Errorf("look up type %d in pg_type: %w", oid, err)
		}
		found = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up type %d in pg_type: %w", oid, err)
	}
	if !found {
		return nil, fmt.Errorf("type %d does not exist in pg_type (dropped while sluice was reading?)", oid)
	}
	t := &pgType{name: qualifiedTypeName(nsp, name)}
	switch {
	case typtype == "d":
		t.domain, t.base, t.baseTypmod = true, base, typmod
	case typtype == "e":
		t.kind = sluice.KindEnum
		rows, err := c.q.Query(ctx, postgresEnumQuery, oid)
		if err != nil {
			return nil, fmt.Errorf("read the labels of enum %s: %w", t.name, err)
		}
		if t.members, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, fmt.Errorf("read the labels of enum %s: %w", t.name, err)
		}
	case category == "A" && elem != 0 && typtype == "b":
		t.kind, t.elem = sluice.KindArray, elem
	default:
		t.kind, t.fallback = sluice.KindString, true
	}
	c.types[oid] = t
	return t, nil
}

// maxTypeDepth bounds domain and array nesting while resolving a type.
const maxTypeDepth = 32

// column maps one attribute to its column shape (Nullable aside).
func (c *PostgresCatalog) column(ctx context.Context, name string, oid uint32, typmod int32, depth int) (sluice.Column, error) {
	if depth > maxTypeDepth {
		return sluice.Column{}, fmt.Errorf("type %d nests domains or arrays more than %d deep", oid, maxTypeDepth)
	}
	t, err := c.lookupType(ctx, oid)
	if err != nil {
		return sluice.Column{}, err
	}
	if t.domain {
		if typmod < 0 {
			typmod = t.baseTypmod
		}
		return c.column(ctx, name, t.base, typmod, depth+1)
	}
	col := sluice.Column{Name: name, Kind: t.kind, SourceType: t.name}
	switch t.kind {
	case sluice.KindArray:
		// An array attribute's typmod is its element's.
		elem, err := c.column(ctx, name, t.elem, typmod, depth+1)
		if err != nil {
			return sluice.Column{}, err
		}
		if elem.Kind == sluice.KindArray {
			return sluice.Column{}, fmt.Errorf("type %d is an array of arrays, which PostgreSQL does not make", oid)
		}
		elem.Nullable = true
		col.SourceType = elem.SourceType + "[]"
		col.Elem = &elem
	case sluice.KindInt:
		col.Unsigned = t.unsigned
	case sluice.KindEnum:
		col.Members = t.members
	default:
		setPostgresTypmod(&col, oid, typmod)
	}
	return col, nil
}

// setPostgresTypmod fills the precision, scale, length and SourceType that a
// built-in type's typmod gives, the way format_type prints them.
func setPostgresTypmod(col *sluice.Column, oid uint32, typmod int32) {
	switch oid {
	case pgtype.NumericOID:
		if typmod < 4 {
			col.Scale = -1
			return
		}
		p := int((typmod - 4) >> 16 & 0xFFFF)
		s := int(((typmod-4)&0x7FF)^1024) - 1024 // PostgreSQL 15 allows negative scales
		col.Precision, col.Scale = p, max(s, 0)
		col.SourceType = "numeric(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")"
	case pgMoneyOID:
		col.Precision, col.Scale = 19, 2
	case pgtype.VarcharOID, pgtype.BPCharOID:
		if typmod >= 4 {
			col.SourceType += "(" + strconv.Itoa(int(typmod-4)) + ")"
		} else if oid == pgtype.BPCharOID {
			col.SourceType = "bpchar"
		}
	case pgtype.BitOID:
		if typmod > 0 {
			col.Length = int(typmod)
			col.SourceType = "bit(" + strconv.Itoa(col.Length) + ")"
		} else {
			// Only expressions have a bit without a length; its values
			// vary in length like bit varying's.
			col.Kind = sluice.KindString
		}
	case pgtype.VarbitOID:
		if typmod > 0 {
			col.SourceType += "(" + strconv.Itoa(int(typmod)) + ")"
		}
	case pgtype.TimeOID, pgtype.TimetzOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		col.Scale = 6
		if typmod >= 0 {
			col.Scale = int(typmod)
			col.SourceType += "(" + strconv.Itoa(col.Scale) + ")"
		}
		if oid == pgtype.TimetzOID || oid == pgtype.TimestamptzOID {
			col.SourceType += " with time zone"
		} else {
			col.SourceType += " without time zone"
		}
	case pgtype.IntervalOID:
		col.Scale = 6
		if typmod < 0 {
			return
		}
		col.SourceType += intervalFields[typmod>>16&0x7FFF]
		if p := int(typmod & 0xFFFF); p != 0xFFFF {
			col.Scale = p
			col.SourceType += "(" + strconv.Itoa(p) + ")"
		}
	}
}

// intervalFields names an interval typmod's field range as format_type
// does (datetime.h: MONTH 1, YEAR 2, DAY 3, HOUR 10, MINUTE 11, SECOND 12).
var intervalFields = map[int32]string{
	1 << 2: " year", 1 << 1: " month", 1 << 3: " day", 1 << 10: " hour", 1 << 11: " minute", 1 << 12: " second",
	1<<2 | 1<<1: " year to month", 1<<3 | 1<<10: " day to hour", 1<<3 | 1<<10 | 1<<11: " day to minute",
	1<<3 | 1<<10 | 1<<11 | 1<<12: " day to second", 1<<10 | 1<<11: " hour to minute",
	1<<10 | 1<<11 | 1<<12: " hour to second", 1<<11 | 1<<12: " minute to second", 0x7FFF: "",
}

// qualifiedTypeName names a type: unqualified in pg_catalog, else
// "schema.name", each part quoted when format_type would quote it.
func qualifiedTypeName(nsp, name string) string {
	if nsp == "pg_catalog" {
		return quoteIfNeeded(name)
	}
	return quoteIfNeeded(nsp) + "." + quoteIfNeeded(name)
}

// quoteIfNeeded double-quotes an identifier unless it is a plain lower-case
// one (letters, digits, underscores, not starting with a digit).
func quoteIfNeeded(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')
	}
	if plain {
		return s
	}
	return QuotePostgresIdentifier(s)
}
