package sluice

// Kind is the canonical class of a column's type. Every source type maps to
// one Kind, and each Kind fixes the Go type of its non-nil values in a [Row].
type Kind uint8

// The kinds and the Go type of their values.
const (
	KindInvalid Kind = iota
	// KindInt: int64 when the column is signed, uint64 when Unsigned.
	// Covers every integer width (TINYINT … BIGINT, int2 … int8).
	KindInt
	// KindBool: bool.
	KindBool
	// KindFloat: float32 (MySQL FLOAT, PostgreSQL real).
	KindFloat
	// KindDouble: float64.
	KindDouble
	// KindDecimal: string, the exact decimal in plain notation with exactly
	// Scale fractional digits, e.g. "-12.50" for DECIMAL(5,2). A
	// PostgreSQL numeric declared without a scale has Scale -1: its value
	// carries the digits PostgreSQL prints, e.g. "1.500". PostgreSQL
	// numerics may also be "NaN", "Infinity" or "-Infinity".
	KindDecimal
	// KindString: string, UTF-8 (converted from the column's charset).
	KindString
	// KindBytes: []byte (BINARY, VARBINARY, BLOB, bytea).
	KindBytes
	// KindBit: []byte, big-endian, (Length+7)/8 bytes long.
	KindBit
	// KindYear: int64 (0 for the zero year).
	KindYear
	// KindDate: string "YYYY-MM-DD"; MySQL zero dates stay "0000-00-00".
	// PostgreSQL dates outside years 1–9999 use astronomical years (year
	// 0 is 1 BC, "-0043-03-15" is 15 March 44 BC; "10000-01-01" has five
	// digits) and its infinities are "infinity" and "-infinity". The same
	// applies to the date part of KindDateTime and KindTimestamp values.
	KindDate
	// KindTime: string "[-]HH:MM:SS[.ffffff]" with Scale fractional
	// digits; hours may exceed 24 (MySQL TIME spans ±838:59:59).
	KindTime
	// KindDateTime: string "YYYY-MM-DD HH:MM:SS[.ffffff]" with Scale
	// fractional digits, a wall-clock value without time zone.
	KindDateTime
	// KindTimestamp: string "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" with Scale
	// fractional digits, an instant in UTC. The zero timestamp is
	// "0000-00-00T00:00:00Z".
	KindTimestamp
	// KindEnum: string, the member's name ("" for MySQL's invalid member).
	KindEnum
	// KindSet: string, the members' names joined by "," in definition order.
	KindSet
	// KindJSON: string, the JSON text.
	KindJSON
	// KindGeometry: []byte, MySQL's internal form (4-byte SRID + WKB).
	KindGeometry
	// KindUUID: string, the UUID in lower-case hex with hyphens
	// ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").
	KindUUID
	// KindInterval: [Interval], months, days and microseconds kept apart
	// as PostgreSQL keeps them.
	KindInterval
	// KindTimeTZ: string "HH:MM:SS[.ffffff]±HH:MM[:SS]", a time of day with
	// Scale fractional digits and the UTC offset it was written with
	// (PostgreSQL time with time zone).
	KindTimeTZ
	// KindArray: [Array], the elements being canonical values of the
	// column's Elem (PostgreSQL arrays of any number of dimensions).
	KindArray
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindInt: "int", KindBool: "bool", KindFloat: "float",
	KindDouble: "double", KindDecimal: "decimal", KindString: "string",
	KindBytes: "bytes", KindBit: "bit", KindYear: "year", KindDate: "date",
	KindTime: "time", KindDateTime: "datetime", KindTimestamp: "timestamp",
	KindEnum: "enum", KindSet: "set", KindJSON: "json", KindGeometry: "geometry",
	KindUUID: "uuid", KindInterval: "interval", KindTimeTZ: "timetz", KindArray: "array",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Column is the shape of one column.
type Column struct {
	Name string
	Kind Kind
	// SourceType is the type as the source database names it, for
	// example "bigint unsigned", "decimal(10,2)", "datetime(6)".
	SourceType string
	// Unsigned is set for unsigned integers.
	Unsigned bool
	// Nullable is set when the column accepts NULL.
	Nullable bool
	// Precision and Scale describe decimals; Scale is also the number of
	// fractional second digits of time, datetime and timestamp columns.
	Precision, Scale int
	// Length is the bit count of a BIT column, the byte length n of a
	// BINARY(n) column (the binlog drops BINARY's trailing zero bytes;
	// the mapper pads them back to n), and the character length n of a
	// MySQL CHAR(n) or VARCHAR(n) column (both paths derive it from the
	// byte length and the character set).
	Length int
	// Charset names the character set of a string column ("utf8mb4",
	// "latin1", …), empty when unknown or not a string.
	Charset string
	// Members are the names of an ENUM's or SET's members, in order.
	Members []string
	// Elem describes the elements of a KindArray column (its Name is the
	// column's); nil for every other kind.
	Elem *Column
	// Transform names what sluice did to the column's values (package
	// transform, the transforms settings); empty for none. "mask": every
	// non-NULL value is the configured mask text. "sha256": every non-NULL
	// value is the lower-case hex SHA-256 of the salt and the source
	// value's text. Both make the column a KindString column whatever the
	// source type was, with a SourceType describing what it now holds
	// ("varchar(n)" and "char(64)", or PostgreSQL's "character
	// varying(n)" and "character(64)"); the source's type is not kept.
	// "truncate(N)": string values keep at most N Unicode characters; the
	// column keeps its kind and source type. Schemas carry it as the field
	// property sluice.transform.
	Transform string
}

// Interval is the value of a KindInterval column: a PostgreSQL interval,
// whose three parts do not convert into each other (a month has no fixed
// number of days, a day none of hours across a daylight-saving change).
// PostgreSQL's infinite intervals have every part at its maximum
// (infinity) or minimum (-infinity).
type Interval struct {
	Months       int32
	Days         int32
	Microseconds int64
}

// Array is the value of a KindArray column.
type Array struct {
	// Dims holds the length of each dimension, outermost first; an empty
	// array has none.
	Dims []int
	// Lower holds the lower bound of each dimension; nil when every
	// bound is 1, PostgreSQL's default.
	Lower []int
	// Elems holds the product of Dims elements in row-major order, each
	// nil (NULL) or a canonical value of the column's Elem.
	Elems []any
}

// Table is the shape of a table at one point in its history.
type Table struct {
	Database string
	Name     string
	Columns  []Column
	// Key holds the indexes into Columns of the columns that make up
	// record keys: the primary key, or the user-configured key columns.
	// Empty means the table has no key and its records have a null key.
	Key []int
	// PrimaryKey is true when Key is the table's primary key.
	PrimaryKey bool
	// Topic, when set, is the topic the table's records go to instead of
	// <prefix>.<database>.<table>: a routed table (routing.topics), whose
	// schemas are then named and registered after the topic.
	Topic string
}

// ColumnIndex returns the index of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// FullName returns "database.table".
func (t *Table) FullName() string { return t.Database + "." + t.Name }
