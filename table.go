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
	// Scale fractional digits, e.g. "-12.50" for DECIMAL(5,2).
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
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindInt: "int", KindBool: "bool", KindFloat: "float",
	KindDouble: "double", KindDecimal: "decimal", KindString: "string",
	KindBytes: "bytes", KindBit: "bit", KindYear: "year", KindDate: "date",
	KindTime: "time", KindDateTime: "datetime", KindTimestamp: "timestamp",
	KindEnum: "enum", KindSet: "set", KindJSON: "json", KindGeometry: "geometry",
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
	// Length is the bit count of a BIT column and the byte length n of a
	// BINARY(n) column (the binlog drops BINARY's trailing zero bytes;
	// the mapper pads them back to n).
	Length int
	// Charset names the character set of a string column ("utf8mb4",
	// "latin1", …), empty when unknown or not a string.
	Charset string
	// Members are the names of an ENUM's or SET's members, in order.
	Members []string
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
