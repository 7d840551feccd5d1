package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// MySQLColumnsQuery reads the columns of one table from
// information_schema.COLUMNS in the order [ScanMySQLInfoColumn] expects. Its
// two placeholders are the database and the table name.
const MySQLColumnsQuery = "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, " +
	"NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH " +
	"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"

// MySQLInfoColumn is one column as information_schema.COLUMNS describes it.
// Numeric fields are zero where information_schema has NULL.
type MySQLInfoColumn struct {
	Name         string // COLUMN_NAME
	DataType     string // DATA_TYPE, e.g. "int", "varchar", "datetime"
	ColumnType   string // COLUMN_TYPE, e.g. "int(10) unsigned", "enum('a','b')"
	CharacterSet string // CHARACTER_SET_NAME, "" when NULL
	IsNullable   string // IS_NULLABLE: "YES" or "NO"

	NumericPrecision     int   // NUMERIC_PRECISION: decimal digits, bit count of BIT
	NumericScale         int   // NUMERIC_SCALE
	DatetimePrecision    int   // DATETIME_PRECISION: fractional second digits
	CharacterOctetLength int64 // CHARACTER_OCTET_LENGTH: byte length of BINARY(n)
}

// ScanMySQLInfoColumn fills a MySQLInfoColumn from one result row of
// [MySQLColumnsQuery].
func ScanMySQLInfoColumn(row []mysql.FieldValue) (MySQLInfoColumn, error) {
	if len(row) != 9 {
		return MySQLInfoColumn{}, fmt.Errorf("scan information_schema column: got %d fields, want 9", len(row))
	}
	str := func(i int) string { return string(row[i].AsString()) }
	num := func(i int) (int64, error) {
		switch row[i].Type {
		case mysql.FieldValueTypeNull:
			return 0, nil
		case mysql.FieldValueTypeUnsigned:
			return int64(row[i].AsUint64()), nil
		case mysql.FieldValueTypeSigned:
			return row[i].AsInt64(), nil
		}
		return strconv.ParseInt(string(row[i].AsString()), 10, 64)
	}
	c := MySQLInfoColumn{Name: str(0), DataType: str(1), ColumnType: str(2), CharacterSet: str(3), IsNullable: str(4)}
	var nums [4]int64
	for i := range nums {
		n, err := num(5 + i)
		if err != nil {
			return MySQLInfoColumn{}, fmt.Errorf("scan information_schema column %q: %w", c.Name, err)
		}
		nums[i] = n
	}
	c.NumericPrecision, c.NumericScale, c.DatetimePrecision = int(nums[0]), int(nums[1]), int(nums[2])
	c.CharacterOctetLength = nums[3]
	return c, nil
}

// MySQLColumn maps a column described by information_schema to its
// canonical shape. The result equals, field for field, what
// [MySQLTableFromTableMap] builds for the same column from the binlog, so
// snapshot and stream agree on every value. Types sluice cannot carry exactly
// (MariaDB's UUID, INET4, INET6, vectors, character sets it does not convert)
// are an error that names the column and the fix.
func MySQLColumn(c MySQLInfoColumn) (sluice.Column, error) {
	col := sluice.Column{Name: c.Name, Nullable: strings.EqualFold(c.IsNullable, "YES")}
	dt := strings.ToLower(c.DataType)
	colType := strings.ToLower(c.ColumnType)
	suffix := ""
	if strings.Contains(colType, " unsigned") {
		suffix = " unsigned"
	}
	switch dt {
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		col.Kind, col.SourceType, col.Unsigned = sluice.KindInt, dt+suffix, suffix != ""
	case "float":
		col.Kind, col.SourceType = sluice.KindFloat, dt+suffix
	case "double":
		col.Kind, col.SourceType = sluice.KindDouble, dt+suffix
	case "decimal":
		setDecimal(&col, c.NumericPrecision, c.NumericScale, suffix)
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		col.Kind, col.SourceType, col.Charset = sluice.KindString, dt, canonicalCharset(c.CharacterSet)
		if err := checkCharset(col.Charset); err != nil {
			return sluice.Column{}, fmt.Errorf("map column %q: %w", c.Name, err)
		}
		if dt == "char" || dt == "varchar" {
			col.Length = charLength(int(c.CharacterOctetLength), col.Charset)
		}
	case "binary":
		col.Kind, col.Length = sluice.KindBytes, int(c.CharacterOctetLength)
		col.SourceType = "binary(" + strconv.Itoa(col.Length) + ")"
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		col.Kind, col.SourceType = sluice.KindBytes, dt
	case "enum", "set":
		col.Kind, col.SourceType, col.Charset = sluice.KindEnum, dt, canonicalCharset(c.CharacterSet)
		if dt == "set" {
			col.Kind = sluice.KindSet
		}
		if err := checkCharset(col.Charset); err != nil {
			return sluice.Column{}, fmt.Errorf("map column %q: %w", c.Name, err)
		}
		members, err := parseMembers(c.ColumnType)
		if err != nil {
			return sluice.Column{}, fmt.Errorf("map column %q: %w", c.Name, err)
		}
		col.Members = members
	case "bit":
		setBit(&col, c.NumericPrecision)
	case "year":
		col.Kind, col.SourceType = sluice.KindYear, dt
	case "date":
		col.Kind, col.SourceType = sluice.KindDate, dt
	case "time", "datetime", "timestamp":
		setTemporal(&col, dt, c.DatetimePrecision)
	case "json":
		col.Kind, col.SourceType = sluice.KindJSON, dt
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection":
		col.Kind, col.SourceType = sluice.KindGeometry, dt
	default:
		return sluice.Column{}, fmt.Errorf("map column %q: %w", c.Name, unsupportedType(dt))
	}
	return col, nil
}

// MySQLTable builds a table shape from its information_schema columns, in
// ordinal order, and the names of its primary-key columns in key order
// (empty when the table has none).
func MySQLTable(database, name string, columns []MySQLInfoColumn, primaryKey []string) (*sluice.Table, error) {
	t := &sluice.Table{Database: database, Name: name, Columns: make([]sluice.Column, len(columns))}
	for i := range columns {
		col, err := MySQLColumn(columns[i])
		if err != nil {
			return nil, fmt.Errorf("map table %s: %w", t.FullName(), err)
		}
		t.Columns[i] = col
	}
	for _, k := range primaryKey {
		i := t.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("map table %s: primary-key column %q is not among its columns", t.FullName(), k)
		}
		t.Key = append(t.Key, i)
	}
	t.PrimaryKey = len(t.Key) > 0
	return t, nil
}

// MySQLTableFromTableMap builds a table shape from a binlog TABLE_MAP event.
// It needs the optional metadata the server writes with
// binlog_row_metadata=FULL (column names, primary key, enum and set members,
// character sets) and fails loudly, naming that fix, when it is missing.
// Every column equals what [MySQLColumn] builds from information_schema.
//
// MariaDB lists geometry columns among the character columns of the table
// map; the event must come from a parser whose flavor is "mariadb" (go-mysql
// sets it from BinlogSyncerConfig.Flavor) or the collations of the columns
// after a geometry column are misread.
func MySQLTableFromTableMap(tme *replication.TableMapEvent) (_ *sluice.Table, err error) {
	t := &sluice.Table{Database: string(tme.Schema), Name: string(tme.Table)}
	// go-mysql's metadata helpers index without bounds checks; a corrupt
	// or truncated table map must be an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("map table %s from the binlog: malformed table map event: %v", t.FullName(), r)
		}
	}()
	n := int(tme.ColumnCount)
	if n == 0 {
		return nil, fmt.Errorf("map table %s from the binlog: malformed table map event: no columns", t.FullName())
	}
	if len(tme.ColumnName) != n {
		return nil, fmt.Errorf("map table %s from the binlog: the table map carries no column names, so the server runs with binlog_row_metadata=MINIMAL; fix: SET GLOBAL binlog_row_metadata=FULL (and binlog_row_metadata=FULL in the server's configuration), then restart sluice", t.FullName())
	}
	if len(tme.ColumnType) != n || len(tme.ColumnMeta) != n {
		return nil, fmt.Errorf("map table %s from the binlog: table map has %d types and %d metadata entries for %d columns", t.FullName(), len(tme.ColumnType), len(tme.ColumnMeta), n)
	}
	names := tme.ColumnNameString()
	unsigned := unsignedColumns(tme)
	collations := tme.CollationMap()
	enumSetCollations := tme.EnumSetCollationMap()
	enums := tme.EnumStrValueMap()
	sets := tme.SetStrValueMap()
	geometries := tme.GeometryTypeMap()

	t.Columns = make([]sluice.Column, n)
	for i := 0; i < n; i++ {
		col := &t.Columns[i]
		col.Name = names[i]
		_, col.Nullable = tme.Nullable(i)
		suffix := ""
		if unsigned[i] {
			suffix = " unsigned"
		}
		typ, meta := tme.ColumnType[i], tme.ColumnMeta[i]
		var err error
		switch typ {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24,
			mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
			col.Kind, col.SourceType, col.Unsigned = sluice.KindInt, intTypeNames[typ]+suffix, suffix != ""
		case mysql.MYSQL_TYPE_FLOAT:
			col.Kind, col.SourceType = sluice.KindFloat, "float"+suffix
		case mysql.MYSQL_TYPE_DOUBLE:
			col.Kind, col.SourceType = sluice.KindDouble, "double"+suffix
		case mysql.MYSQL_TYPE_NEWDECIMAL:
			setDecimal(col, int(meta>>8), int(meta&0xFF), suffix)
		case mysql.MYSQL_TYPE_STRING:
			realType, length := stringMeta(meta)
			switch realType {
			case mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
				err = setEnumOrSet(col, realType, enums[i], sets[i], enumSetCollations, i)
			default:
				err = setString(col, "char", "binary", collations, i)
				if col.Kind == sluice.KindBytes {
					col.Length = length
					col.SourceType = "binary(" + strconv.Itoa(length) + ")"
				} else {
					col.Length = charLength(length, col.Charset)
				}
			}
		case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
			err = setString(col, "varchar", "varbinary", collations, i)
			if col.Kind == sluice.KindString {
				col.Length = charLength(int(meta), col.Charset)
			}
		case mysql.MYSQL_TYPE_BLOB:
			if meta < 1 || meta > 4 {
				err = fmt.Errorf("blob with %d length bytes", meta)
				break
			}
			err = setString(col, textTypeNames[meta], blobTypeNames[meta], collations, i)
		case mysql.MYSQL_TYPE_BIT:
			setBit(col, int(meta>>8)*8+int(meta&0xFF))
		case mysql.MYSQL_TYPE_YEAR:
			col.Kind, col.SourceType = sluice.KindYear, "year"
		case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
			col.Kind, col.SourceType = sluice.KindDate, "date"
		case mysql.MYSQL_TYPE_TIME:
			setTemporal(col, "time", 0)
		case mysql.MYSQL_TYPE_TIME2:
			setTemporal(col, "time", int(meta))
		case mysql.MYSQL_TYPE_DATETIME:
			setTemporal(col, "datetime", 0)
		case mysql.MYSQL_TYPE_DATETIME2:
			setTemporal(col, "datetime", int(meta))
		case mysql.MYSQL_TYPE_TIMESTAMP:
			setTemporal(col, "timestamp", 0)
		case mysql.MYSQL_TYPE_TIMESTAMP2:
			setTemporal(col, "timestamp", int(meta))
		case mysql.MYSQL_TYPE_JSON:
			col.Kind, col.SourceType = sluice.KindJSON, "json"
		case mysql.MYSQL_TYPE_GEOMETRY:
			g, ok := geometries[i]
			if !ok || g >= uint64(len(geometryTypeNames)) {
				err = errors.New("geometry subtype missing from the table map; fix: SET GLOBAL binlog_row_metadata=FULL")
				break
			}
			col.Kind, col.SourceType = sluice.KindGeometry, geometryTypeNames[g]
		case mysql.MYSQL_TYPE_VECTOR:
			err = unsupportedType("vector")
		default:
			err = fmt.Errorf("binlog column type %d is not supported; fix: leave the table out of the capture", typ)
		}
		if err != nil {
			return nil, fmt.Errorf("map table %s from the binlog: column %q: %w", t.FullName(), col.Name, err)
		}
	}
	for _, k := range tme.PrimaryKey {
		if k >= uint64(n) {
			return nil, fmt.Errorf("map table %s from the binlog: primary-key column %d out of range", t.FullName(), k)
		}
		t.Key = append(t.Key, int(k))
	}
	t.PrimaryKey = len(t.Key) > 0
	return t, nil
}

// unsignedColumns reads the table map's signedness bitmap. The server
// gives every numeric column a bit, YEAR and the old DECIMAL included;
// go-mysql v1.13's UnsignedMap skips those two and so shifts the sign of
// every numeric column after them.
func unsignedColumns(tme *replication.TableMapEvent) map[int]bool {
	out := map[int]bool{}
	bit := 0
	for i, typ := range tme.ColumnType {
		switch typ {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
			mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL,
			mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_YEAR:
			if bit/8 < len(tme.SignednessBitmap) {
				out[i] = tme.SignednessBitmap[bit/8]&(0x80>>(bit%8)) != 0
			}
			bit++
		}
	}
	return out
}

// MySQLSelectExpr returns the select-list expression the snapshot reads a
// column with, identifier quoted. FLOAT columns are read as
// CAST(… AS DOUBLE): MariaDB prints a FLOAT with six significant digits
// (3.14159 for 3.1415927), which loses what the binlog carries; the double
// it is cast to holds the float exactly. Every other column is read as is.
// List the columns explicitly (not SELECT *): invisible columns are in the
// binlog but not in SELECT *.
func MySQLSelectExpr(col *sluice.Column) string {
	q := QuoteMySQLIdentifier(col.Name)
	if col.Kind == sluice.KindFloat {
		return "CAST(" + q + " AS DOUBLE)"
	}
	return q
}

// QuoteMySQLIdentifier quotes a MySQL/MariaDB identifier with backticks,
// doubling any backtick inside it.
func QuoteMySQLIdentifier(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

var intTypeNames = map[byte]string{
	mysql.MYSQL_TYPE_TINY: "tinyint", mysql.MYSQL_TYPE_SHORT: "smallint", mysql.MYSQL_TYPE_INT24: "mediumint",
	mysql.MYSQL_TYPE_LONG: "int", mysql.MYSQL_TYPE_LONGLONG: "bigint",
}

// Indexed by the number of length bytes a BLOB-family column's values carry.
var (
	textTypeNames = [5]string{1: "tinytext", 2: "text", 3: "mediumtext", 4: "longtext"}
	blobTypeNames = [5]string{1: "tinyblob", 2: "blob", 3: "mediumblob", 4: "longblob"}
)

// geometryTypeNames is indexed by the geometry type the table map carries
// (MySQL's Field::geometry_type).
var geometryTypeNames = [...]string{
	"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
	"multipolygon", "geometrycollection",
}

// stringMeta decodes the metadata of a MYSQL_TYPE_STRING column: the real
// type (STRING, ENUM or SET) and, for STRING, the maximum byte length. It
// mirrors go-mysql's RowsEvent.decodeValue.
func stringMeta(meta uint16) (realType byte, length int) {
	if meta < 256 {
		return mysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(b1) | int((b0&0x30)^0x30)<<4
	}
	return b0, int(b1)
}

// charLength is the character length n of a CHAR(n) or VARCHAR(n) column
// of octets bytes in charset; 0 when the character set is not known.
func charLength(octets int, charset string) int {
	if m := charsetMaxBytes(charset); m > 0 {
		return octets / m
	}
	return 0
}

func setDecimal(col *sluice.Column, precision, scale int, suffix string) {
	col.Kind, col.Precision, col.Scale = sluice.KindDecimal, precision, scale
	col.SourceType = "decimal(" + strconv.Itoa(precision) + "," + strconv.Itoa(scale) + ")" + suffix
}

func setBit(col *sluice.Column, bits int) {
	col.Kind, col.Length = sluice.KindBit, bits
	col.SourceType = "bit(" + strconv.Itoa(bits) + ")"
}

func setTemporal(col *sluice.Column, name string, fsp int) {
	col.Scale = fsp
	col.SourceType = name
	if fsp > 0 {
		col.SourceType = name + "(" + strconv.Itoa(fsp) + ")"
	}
	switch name {
	case "time":
		col.Kind = sluice.KindTime
	case "datetime":
		col.Kind = sluice.KindDateTime
	default:
		col.Kind = sluice.KindTimestamp
	}
}

// setString maps a character or binary column of the binlog by its
// collation: the binary collation (63) makes it a byte column.
func setString(col *sluice.Column, textName, binaryName string, collations map[int]uint64, i int) error {
	id, ok := collations[i]
	if !ok {
		return checkCharset("")
	}
	cs := charsetOfCollation(id)
	if cs == charsetBinary {
		col.Kind, col.SourceType = sluice.KindBytes, binaryName
		return nil
	}
	if cs == "" {
		return fmt.Errorf("collation id %d is unknown; fix: convert the column to utf8mb4 or leave the table out of the capture", id)
	}
	col.Kind, col.SourceType, col.Charset = sluice.KindString, textName, cs
	return checkCharset(cs)
}

func setEnumOrSet(col *sluice.Column, realType byte, enumMembers, setMembers []string, collations map[int]uint64, i int) error {
	col.Kind, col.SourceType, col.Members = sluice.KindEnum, "enum", enumMembers
	if realType == mysql.MYSQL_TYPE_SET {
		col.Kind, col.SourceType, col.Members = sluice.KindSet, "set", setMembers
	}
	if col.Members == nil {
		return errors.New("enum and set members missing from the table map; fix: SET GLOBAL binlog_row_metadata=FULL")
	}
	id, ok := collations[i]
	if !ok {
		return checkCharset("")
	}
	col.Charset = charsetOfCollation(id)
	if err := checkCharset(col.Charset); err != nil {
		return err
	}
	members := make([]string, len(col.Members))
	for j, m := range col.Members {
		s, err := decodeCharset(col.Charset, []byte(m))
		if err != nil {
			return err
		}
		members[j] = s
	}
	col.Members = members
	return nil
}

func unsupportedType(typ string) error {
	binaryLen := 0
	switch typ {
	case "uuid", "inet6":
		binaryLen = 16
	case "inet4":
		binaryLen = 4
	}
	if binaryLen > 0 {
		return fmt.Errorf("type %s is not supported: the binlog carries it as plain binary while a SELECT formats it as text, so snapshot and stream would disagree; fix: change the column to BINARY(%d) or leave the table out of the capture", typ, binaryLen)
	}
	return fmt.Errorf("type %s is not supported; fix: change the column to a supported type (see docs/types.md) or leave the table out of the capture", typ)
}

// parseMembers returns the members of an ENUM or SET from its COLUMN_TYPE,
// such as enum('a','b'). Inside a member, information_schema doubles a
// single quote and escapes other special bytes MySQL-style with a backslash.
func parseMembers(columnType string) ([]string, error) {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil, fmt.Errorf("parse members of %q: no opening parenthesis", columnType)
	}
	s := columnType[open+1:]
	members := []string{}
	for {
		if len(s) == 0 || s[0] != '\'' {
			return nil, fmt.Errorf("parse members of %q: expected a quoted member", columnType)
		}
		var b strings.Builder
		i := 1
		for ; ; i++ {
			if i >= len(s) {
				return nil, fmt.Errorf("parse members of %q: unterminated member", columnType)
			}
			c := s[i]
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(unescapeMySQL(s[i]))
				continue
			}
			b.WriteByte(c)
		}
		members = append(members, b.String())
		s = s[i+1:]
		if len(s) == 0 {
			return nil, fmt.Errorf("parse members of %q: no closing parenthesis", columnType)
		}
		if s[0] == ')' {
			return members, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("parse members of %q: expected ',' or ')'", columnType)
		}
		s = s[1:]
	}
}

func unescapeMySQL(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'Z':
		return 0x1A
	}
	return c
}
