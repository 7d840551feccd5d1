package schema

import (
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// binlogColumn describes one column as a MariaDB/MySQL server writes it into
// a TABLE_MAP event with binlog_row_metadata=FULL.
type binlogColumn struct {
	name      string
	typ       byte
	meta      uint16
	unsigned  bool
	nullable  bool
	collation uint64   // character, enum and set columns
	members   []string // enum and set columns, in the column's charset
	geometry  uint64   // geometry columns
}

func isNumericType(c binlogColumn) bool {
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		return true
	}
	return false
}

func enumOrSet(c binlogColumn) byte {
	if c.typ != mysql.MYSQL_TYPE_STRING {
		return 0
	}
	rt, _ := stringMeta(c.meta)
	if rt == mysql.MYSQL_TYPE_ENUM || rt == mysql.MYSQL_TYPE_SET {
		return rt
	}
	return 0
}

// tableMap builds the TABLE_MAP event go-mysql would decode for cols.
func tableMap(db, table string, cols []binlogColumn, pk ...uint64) *replication.TableMapEvent {
	n := len(cols)
	tme := &replication.TableMapEvent{
		Schema:      []byte(db),
		Table:       []byte(table),
		ColumnCount: uint64(n),
		ColumnType:  make([]byte, n),
		ColumnMeta:  make([]uint16, n),
		NullBitmap:  make([]byte, (n+7)/8),
		PrimaryKey:  pk,
	}
	var signed []byte
	numeric := 0
	for i, c := range cols {
		tme.ColumnType[i], tme.ColumnMeta[i] = c.typ, c.meta
		tme.ColumnName = append(tme.ColumnName, []byte(c.name))
		if c.nullable {
			tme.NullBitmap[i/8] |= 1 << (i % 8)
		}
		if isNumericType(c) {
			if numeric%8 == 0 {
				signed = append(signed, 0)
			}
			if c.unsigned {
				signed[numeric/8] |= 0x80 >> (numeric % 8)
			}
			numeric++
		}
		switch {
		case enumOrSet(c) != 0:
			tme.EnumSetColumnCharset = append(tme.EnumSetColumnCharset, c.collation)
			vals := make([][]byte, len(c.members))
			for j, m := range c.members {
				vals[j] = []byte(m)
			}
			if enumOrSet(c) == mysql.MYSQL_TYPE_ENUM {
				tme.EnumStrValue = append(tme.EnumStrValue, vals)
			} else {
				tme.SetStrValue = append(tme.SetStrValue, vals)
			}
		case c.typ == mysql.MYSQL_TYPE_STRING || c.typ == mysql.MYSQL_TYPE_VARCHAR ||
			c.typ == mysql.MYSQL_TYPE_VAR_STRING || c.typ == mysql.MYSQL_TYPE_BLOB:
			tme.ColumnCharset = append(tme.ColumnCharset, c.collation)
		case c.typ == mysql.MYSQL_TYPE_GEOMETRY:
			tme.GeometryType = append(tme.GeometryType, c.geometry)
		}
	}
	tme.SignednessBitmap = signed
	return tme
}

// columnCase is one column as information_schema describes it, as the
// binlog describes it, and the shape both must map to.
type columnCase struct {
	info   MySQLInfoColumn
	binlog binlogColumn
	want   sluice.Column
}

func info(name, dataType, columnType, charset string, nullable bool) MySQLInfoColumn {
	c := MySQLInfoColumn{Name: name, DataType: dataType, ColumnType: columnType, CharacterSet: charset, IsNullable: "NO"}
	if nullable {
		c.IsNullable = "YES"
	}
	return c
}

func withNumeric(c MySQLInfoColumn, precision, scale int) MySQLInfoColumn {
	c.NumericPrecision, c.NumericScale = precision, scale
	return c
}

func withFsp(c MySQLInfoColumn, fsp int) MySQLInfoColumn {
	c.DatetimePrecision = fsp
	return c
}

func withOctets(c MySQLInfoColumn, n int64) MySQLInfoColumn {
	c.CharacterOctetLength = n
	return c
}

const (
	collUTF8MB4     = 45
	collUTF8MB4Bin  = 46
	collLatin1      = 8
	collASCII       = 11
	collUTF8MB3     = 33
	collUCS2        = 35
	collUTF16       = 54
	collUTF16LE     = 56
	collUTF32       = 60
	collBinary      = 63
	collUCA1400     = 2308 // utf8mb4_uca1400_ai_ci
	collMySQL0900   = 255  // utf8mb4_0900_ai_ci
	collCP1250      = 26
	metaEnum1       = uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1
	metaSet1        = uint16(mysql.MYSQL_TYPE_SET)<<8 | 1
	metaString      = uint16(mysql.MYSQL_TYPE_STRING) << 8
	typeString      = mysql.MYSQL_TYPE_STRING
	typeVarchar     = mysql.MYSQL_TYPE_VARCHAR
	typeBlob        = mysql.MYSQL_TYPE_BLOB
	typeTimestamp2  = mysql.MYSQL_TYPE_TIMESTAMP2
	typeDatetime2   = mysql.MYSQL_TYPE_DATETIME2
	typeTime2       = mysql.MYSQL_TYPE_TIME2
	typeNewDecimal  = mysql.MYSQL_TYPE_NEWDECIMAL
	typeGeometry    = mysql.MYSQL_TYPE_GEOMETRY
	typeJSON        = mysql.MYSQL_TYPE_JSON
	typeBit         = mysql.MYSQL_TYPE_BIT
	typeLongLong    = mysql.MYSQL_TYPE_LONGLONG
	typeInt24       = mysql.MYSQL_TYPE_INT24
	typeTiny        = mysql.MYSQL_TYPE_TINY
	typeShort       = mysql.MYSQL_TYPE_SHORT
	typeLong        = mysql.MYSQL_TYPE_LONG
	typeFloat       = mysql.MYSQL_TYPE_FLOAT
	typeDouble      = mysql.MYSQL_TYPE_DOUBLE
	typeYear        = mysql.MYSQL_TYPE_YEAR
	typeDate        = mysql.MYSQL_TYPE_DATE
	typeDatetimeOld = mysql.MYSQL_TYPE_DATETIME
)

// columnCases covers every type the MySQL mapper supports, with the
// metadata a MariaDB 10.11 server really writes (checked with
// binlog_row_metadata=FULL against information_schema on the same table).
var columnCases = []columnCase{
	{info("ti", "tinyint", "tinyint(4)", "", true), binlogColumn{typ: typeTiny, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "tinyint", Nullable: true}},
	{info("t1", "tinyint", "tinyint(1)", "", false), binlogColumn{typ: typeTiny},
		sluice.Column{Kind: sluice.KindInt, SourceType: "tinyint"}},
	{info("tiu", "tinyint", "tinyint(3) unsigned", "", true), binlogColumn{typ: typeTiny, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "tinyint unsigned", Unsigned: true, Nullable: true}},
	{info("si", "smallint", "smallint(6)", "", true), binlogColumn{typ: typeShort, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "smallint", Nullable: true}},
	{info("siu", "smallint", "smallint(5) unsigned", "", true), binlogColumn{typ: typeShort, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "smallint unsigned", Unsigned: true, Nullable: true}},
	{info("mi", "mediumint", "mediumint(9)", "", true), binlogColumn{typ: typeInt24, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "mediumint", Nullable: true}},
	{info("miu", "mediumint", "mediumint(8) unsigned", "", true), binlogColumn{typ: typeInt24, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "mediumint unsigned", Unsigned: true, Nullable: true}},
	{info("i", "int", "int(11)", "", true), binlogColumn{typ: typeLong, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "int", Nullable: true}},
	{info("iu", "int", "int(10) unsigned", "", false), binlogColumn{typ: typeLong, unsigned: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "int unsigned", Unsigned: true}},
	{info("bi", "bigint", "bigint(20)", "", true), binlogColumn{typ: typeLongLong, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "bigint", Nullable: true}},
	{info("biu", "bigint", "bigint(20) unsigned", "", true), binlogColumn{typ: typeLongLong, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true, Nullable: true}},
	{info("biz", "bigint", "bigint(20) unsigned zerofill", "", true), binlogColumn{typ: typeLongLong, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true, Nullable: true}},
	{withNumeric(info("f", "float", "float", "", true), 12, 0), binlogColumn{typ: typeFloat, meta: 4, nullable: true},
		sluice.Column{Kind: sluice.KindFloat, SourceType: "float", Nullable: true}},
	{withNumeric(info("fu", "float", "float unsigned", "", true), 12, 0), binlogColumn{typ: typeFloat, meta: 4, unsigned: true, nullable: true},
		sluice.Column{Kind: sluice.KindFloat, SourceType: "float unsigned", Nullable: true}},
	{withNumeric(info("f73", "float", "float(7,3)", "", true), 7, 3), binlogColumn{typ: typeFloat, meta: 4, nullable: true},
		sluice.Column{Kind: sluice.KindFloat, SourceType: "float", Nullable: true}},
	{withNumeric(info("d", "double", "double", "", true), 22, 0), binlogColumn{typ: typeDouble, meta: 8, nullable: true},
		sluice.Column{Kind: sluice.KindDouble, SourceType: "double", Nullable: true}},
	{withNumeric(info("dec", "decimal", "decimal(10,2)", "", true), 10, 2), binlogColumn{typ: typeNewDecimal, meta: 10<<8 | 2, nullable: true},
		sluice.Column{Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2, Nullable: true}},
	{withNumeric(info("dec65", "decimal", "decimal(65,30)", "", true), 65, 30), binlogColumn{typ: typeNewDecimal, meta: 65<<8 | 30, nullable: true},
		sluice.Column{Kind: sluice.KindDecimal, SourceType: "decimal(65,30)", Precision: 65, Scale: 30, Nullable: true}},
	{withNumeric(info("decu", "decimal", "decimal(5,0) unsigned", "", false), 5, 0), binlogColumn{typ: typeNewDecimal, meta: 5 << 8, unsigned: true},
		sluice.Column{Kind: sluice.KindDecimal, SourceType: "decimal(5,0) unsigned", Precision: 5}},
	{withOctets(info("c", "char", "char(5)", "utf8mb4", true), 20), binlogColumn{typ: typeString, meta: metaString | 20, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 5, SourceType: "char", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("c255", "char", "char(255)", "utf8mb4", true), 1020), binlogColumn{typ: typeString, meta: 52988, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 255, SourceType: "char", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("cl", "char", "char(5)", "latin1", true), 5), binlogColumn{typ: typeString, meta: metaString | 5, collation: collLatin1, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 5, SourceType: "char", Charset: "latin1", Nullable: true}},
	{withOctets(info("cu", "char", "char(4)", "ucs2", true), 8), binlogColumn{typ: typeString, meta: metaString | 8, collation: collUCS2, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 4, SourceType: "char", Charset: "ucs2", Nullable: true}},
	{withOctets(info("vc", "varchar", "varchar(20)", "utf8mb4", true), 80), binlogColumn{typ: typeVarchar, meta: 80, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 20, SourceType: "varchar", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("vc3", "varchar", "varchar(10)", "utf8mb3", true), 30), binlogColumn{typ: typeVarchar, meta: 30, collation: collUTF8MB3, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf8mb3", Nullable: true}},
	{withOctets(info("vc57", "varchar", "varchar(10)", "utf8", true), 30), binlogColumn{typ: typeVarchar, meta: 30, collation: 83, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf8mb3", Nullable: true}},
	{withOctets(info("vuca", "varchar", "varchar(10)", "utf8mb4", true), 40), binlogColumn{typ: typeVarchar, meta: 40, collation: collUCA1400, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("v0900", "varchar", "varchar(10)", "utf8mb4", true), 40), binlogColumn{typ: typeVarchar, meta: 40, collation: collMySQL0900, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("vl", "varchar", "varchar(20)", "latin1", true), 20), binlogColumn{typ: typeVarchar, meta: 20, collation: collLatin1, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 20, SourceType: "varchar", Charset: "latin1", Nullable: true}},
	{withOctets(info("va", "varchar", "varchar(10)", "ascii", true), 10), binlogColumn{typ: typeVarchar, meta: 10, collation: collASCII, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "ascii", Nullable: true}},
	{withOctets(info("v16", "varchar", "varchar(10)", "utf16", true), 40), binlogColumn{typ: typeVarchar, meta: 40, collation: collUTF16, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf16", Nullable: true}},
	{withOctets(info("v16le", "varchar", "varchar(10)", "utf16le", true), 40), binlogColumn{typ: typeVarchar, meta: 40, collation: collUTF16LE, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf16le", Nullable: true}},
	{withOctets(info("v32", "varchar", "varchar(10)", "utf32", true), 40), binlogColumn{typ: typeVarchar, meta: 40, collation: collUTF32, nullable: true},
		sluice.Column{Kind: sluice.KindString, Length: 10, SourceType: "varchar", Charset: "utf32", Nullable: true}},
	{withOctets(info("bn", "binary", "binary(4)", "", true), 4), binlogColumn{typ: typeString, meta: metaString | 4, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "binary(4)", Length: 4, Nullable: true}},
	{withOctets(info("vb", "varbinary", "varbinary(10)", "", true), 10), binlogColumn{typ: typeVarchar, meta: 10, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "varbinary", Nullable: true}},
	{withOctets(info("tt", "tinytext", "tinytext", "utf8mb4", true), 255), binlogColumn{typ: typeBlob, meta: 1, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, SourceType: "tinytext", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("tx", "text", "text", "latin1", true), 65535), binlogColumn{typ: typeBlob, meta: 2, collation: collLatin1, nullable: true},
		sluice.Column{Kind: sluice.KindString, SourceType: "text", Charset: "latin1", Nullable: true}},
	{withOctets(info("mt", "mediumtext", "mediumtext", "utf8mb4", true), 16777215), binlogColumn{typ: typeBlob, meta: 3, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, SourceType: "mediumtext", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("lt", "longtext", "longtext", "utf8mb4", true), 4294967295), binlogColumn{typ: typeBlob, meta: 4, collation: collUTF8MB4, nullable: true},
		sluice.Column{Kind: sluice.KindString, SourceType: "longtext", Charset: "utf8mb4", Nullable: true}},
	// MariaDB's JSON is LONGTEXT with a utf8mb4_bin collation and a check.
	{withOctets(info("mj", "longtext", "longtext", "utf8mb4", true), 4294967295), binlogColumn{typ: typeBlob, meta: 4, collation: collUTF8MB4Bin, nullable: true},
		sluice.Column{Kind: sluice.KindString, SourceType: "longtext", Charset: "utf8mb4", Nullable: true}},
	{withOctets(info("tb", "tinyblob", "tinyblob", "", true), 255), binlogColumn{typ: typeBlob, meta: 1, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "tinyblob", Nullable: true}},
	{withOctets(info("bb", "blob", "blob", "", true), 65535), binlogColumn{typ: typeBlob, meta: 2, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "blob", Nullable: true}},
	{withOctets(info("mb", "mediumblob", "mediumblob", "", true), 16777215), binlogColumn{typ: typeBlob, meta: 3, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "mediumblob", Nullable: true}},
	{withOctets(info("lb", "longblob", "longblob", "", true), 4294967295), binlogColumn{typ: typeBlob, meta: 4, collation: collBinary, nullable: true},
		sluice.Column{Kind: sluice.KindBytes, SourceType: "longblob", Nullable: true}},
	{info("e", "enum", "enum('a','b','c')", "utf8mb4", true), binlogColumn{typ: typeString, meta: metaEnum1, collation: collUTF8MB4, members: []string{"a", "b", "c"}, nullable: true},
		sluice.Column{Kind: sluice.KindEnum, SourceType: "enum", Charset: "utf8mb4", Members: []string{"a", "b", "c"}, Nullable: true}},
	{info("el", "enum", `enum('é','a''b','c,d','x\\y')`, "latin1", true), binlogColumn{typ: typeString, meta: metaEnum1, collation: collLatin1, members: []string{"\xe9", "a'b", "c,d", `x\y`}, nullable: true},
		sluice.Column{Kind: sluice.KindEnum, SourceType: "enum", Charset: "latin1", Members: []string{"é", "a'b", "c,d", `x\y`}, Nullable: true}},
	{info("s", "set", "set('x','y','z')", "utf8mb4", false), binlogColumn{typ: typeString, meta: metaSet1, collation: collUTF8MB4, members: []string{"x", "y", "z"}},
		sluice.Column{Kind: sluice.KindSet, SourceType: "set", Charset: "utf8mb4", Members: []string{"x", "y", "z"}}},
	{withNumeric(info("b1", "bit", "bit(1)", "", true), 1, 0), binlogColumn{typ: typeBit, meta: 1, nullable: true},
		sluice.Column{Kind: sluice.KindBit, SourceType: "bit(1)", Length: 1, Nullable: true}},
	{withNumeric(info("b12", "bit", "bit(12)", "", true), 12, 0), binlogColumn{typ: typeBit, meta: 1<<8 | 4, nullable: true},
		sluice.Column{Kind: sluice.KindBit, SourceType: "bit(12)", Length: 12, Nullable: true}},
	{withNumeric(info("b64", "bit", "bit(64)", "", true), 64, 0), binlogColumn{typ: typeBit, meta: 8 << 8, nullable: true},
		sluice.Column{Kind: sluice.KindBit, SourceType: "bit(64)", Length: 64, Nullable: true}},
	{info("y", "year", "year(4)", "", true), binlogColumn{typ: typeYear, nullable: true},
		sluice.Column{Kind: sluice.KindYear, SourceType: "year", Nullable: true}},
	{info("dt", "date", "date", "", true), binlogColumn{typ: typeDate, nullable: true},
		sluice.Column{Kind: sluice.KindDate, SourceType: "date", Nullable: true}},
	{info("tm", "time", "time", "", true), binlogColumn{typ: typeTime2, nullable: true},
		sluice.Column{Kind: sluice.KindTime, SourceType: "time", Nullable: true}},
	{withFsp(info("tm3", "time", "time(3)", "", true), 3), binlogColumn{typ: typeTime2, meta: 3, nullable: true},
		sluice.Column{Kind: sluice.KindTime, SourceType: "time(3)", Scale: 3, Nullable: true}},
	{info("dtm", "datetime", "datetime", "", true), binlogColumn{typ: typeDatetime2, nullable: true},
		sluice.Column{Kind: sluice.KindDateTime, SourceType: "datetime", Nullable: true}},
	{info("dtmold", "datetime", "datetime", "", true), binlogColumn{typ: typeDatetimeOld, nullable: true},
		sluice.Column{Kind: sluice.KindDateTime, SourceType: "datetime", Nullable: true}},
	{withFsp(info("dtm6", "datetime", "datetime(6)", "", true), 6), binlogColumn{typ: typeDatetime2, meta: 6, nullable: true},
		sluice.Column{Kind: sluice.KindDateTime, SourceType: "datetime(6)", Scale: 6, Nullable: true}},
	{info("ts", "timestamp", "timestamp", "", false), binlogColumn{typ: typeTimestamp2},
		sluice.Column{Kind: sluice.KindTimestamp, SourceType: "timestamp"}},
	{withFsp(info("ts3", "timestamp", "timestamp(3)", "", true), 3), binlogColumn{typ: typeTimestamp2, meta: 3, nullable: true},
		sluice.Column{Kind: sluice.KindTimestamp, SourceType: "timestamp(3)", Scale: 3, Nullable: true}},
	// MySQL's native JSON type.
	{info("j", "json", "json", "", true), binlogColumn{typ: typeJSON, meta: 4, nullable: true},
		sluice.Column{Kind: sluice.KindJSON, SourceType: "json", Nullable: true}},
	{info("g", "geometry", "geometry", "", true), binlogColumn{typ: typeGeometry, meta: 4, geometry: 0, nullable: true},
		sluice.Column{Kind: sluice.KindGeometry, SourceType: "geometry", Nullable: true}},
	{info("pt", "point", "point", "", false), binlogColumn{typ: typeGeometry, meta: 4, geometry: 1},
		sluice.Column{Kind: sluice.KindGeometry, SourceType: "point"}},
	{info("mpoly", "multipolygon", "multipolygon", "", true), binlogColumn{typ: typeGeometry, meta: 4, geometry: 6, nullable: true},
		sluice.Column{Kind: sluice.KindGeometry, SourceType: "multipolygon", Nullable: true}},
}

// TestColumnsAgree checks, type by type, that information_schema and the
// table map give the same column shape, and that it is the expected one.
func TestColumnsAgree(t *testing.T) {
	var bcols []binlogColumn
	var infos []MySQLInfoColumn
	for _, c := range columnCases {
		b := c.binlog
		b.name = c.info.Name
		bcols = append(bcols, b)
		infos = append(infos, c.info)
	}
	fromBinlog, err := MySQLTableFromTableMap(tableMap("shop", "all_types", bcols, 0))
	if err != nil {
		t.Fatal(err)
	}
	fromInfo, err := MySQLTable("shop", "all_types", infos, []string{columnCases[0].info.Name})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range columnCases {
		want := c.want
		want.Name = c.info.Name
		if !reflect.DeepEqual(fromInfo.Columns[i], want) {
			t.Errorf("%s from information_schema:\n got %+v\nwant %+v", want.Name, fromInfo.Columns[i], want)
		}
		if !reflect.DeepEqual(fromBinlog.Columns[i], want) {
			t.Errorf("%s from the table map:\n got %+v\nwant %+v", want.Name, fromBinlog.Columns[i], want)
		}
	}
	if !reflect.DeepEqual(fromInfo, fromBinlog) {
		t.Errorf("tables differ:\ninfo   %+v\nbinlog %+v", fromInfo, fromBinlog)
	}
	if fromBinlog.Database != "shop" || fromBinlog.Name != "all_types" || !fromBinlog.PrimaryKey || !reflect.DeepEqual(fromBinlog.Key, []int{0}) {
		t.Errorf("table identity/key: %+v", fromBinlog)
	}
}

func TestTableMapKey(t *testing.T) {
	cols := []binlogColumn{
		{name: "a", typ: typeLong},
		{name: "b", typ: typeVarchar, meta: 40, collation: collUTF8MB4},
		{name: "c", typ: typeLongLong, unsigned: true},
	}
	tab, err := MySQLTableFromTableMap(tableMap("d", "t", cols, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !tab.PrimaryKey || !reflect.DeepEqual(tab.Key, []int{2, 0}) {
		t.Errorf("key = %v primary=%v, want [2 0] true", tab.Key, tab.PrimaryKey)
	}
	info, err := MySQLTable("d", "t", []MySQLInfoColumn{
		info("a", "int", "int(11)", "", false),
		withOctets(info("b", "varchar", "varchar(10)", "utf8mb4", false), 40),
		info("c", "bigint", "bigint(20) unsigned", "", false),
	}, []string{"c", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info, tab) {
		t.Errorf("information_schema table %+v != table map %+v", info, tab)
	}

	keyless, err := MySQLTableFromTableMap(tableMap("d", "t", cols))
	if err != nil {
		t.Fatal(err)
	}
	if keyless.PrimaryKey || len(keyless.Key) != 0 {
		t.Errorf("keyless table: key %v primary %v", keyless.Key, keyless.PrimaryKey)
	}
	if _, err := MySQLTable("d", "t", nil, []string{"nope"}); err == nil {
		t.Error("unknown primary-key column accepted")
	}
}

func TestTableMapWithoutFullMetadata(t *testing.T) {
	tme := tableMap("d", "t", []binlogColumn{{name: "a", typ: typeLong}})
	tme.ColumnName = nil
	_, err := MySQLTableFromTableMap(tme)
	if err == nil || !strings.Contains(err.Error(), "SET GLOBAL binlog_row_metadata=FULL") || !strings.Contains(err.Error(), "d.t") {
		t.Fatalf("err = %v, want the binlog_row_metadata fix naming d.t", err)
	}

	tme = tableMap("d", "t", []binlogColumn{{name: "e", typ: typeString, meta: metaEnum1, collation: collUTF8MB4, members: []string{"a"}}})
	tme.EnumStrValue = nil
	if _, err := MySQLTableFromTableMap(tme); err == nil || !strings.Contains(err.Error(), "binlog_row_metadata=FULL") {
		t.Fatalf("missing enum members: err = %v", err)
	}

	tme = tableMap("d", "t", []binlogColumn{{name: "v", typ: typeVarchar, meta: 10, collation: collUTF8MB4}})
	tme.ColumnCharset = nil
	if _, err := MySQLTableFromTableMap(tme); err == nil || !strings.Contains(err.Error(), `"v"`) {
		t.Fatalf("missing charset: err = %v", err)
	}
}

func TestUnsupportedTypes(t *testing.T) {
	for _, c := range []struct {
		info MySQLInfoColumn
		want []string
	}{
		{info("u", "uuid", "uuid", "", true), []string{`"u"`, "uuid", "BINARY(16)"}},
		{info("ip", "inet4", "inet4", "", true), []string{`"ip"`, "BINARY(4)"}},
		{info("vec", "vector", "vector(3)", "", true), []string{`"vec"`, "vector", "fix:"}},
		{withOctets(info("w", "varchar", "varchar(10)", "cp1250", true), 10), []string{`"w"`, "cp1250", "utf8mb4"}},
		{withOctets(info("x", "varchar", "varchar(10)", "big5", true), 20), []string{`"x"`, "big5"}},
	} {
		_, err := MySQLColumn(c.info)
		if err == nil {
			t.Errorf("%s: no error", c.info.DataType)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.info.DataType, err, w)
			}
		}
	}

	for _, b := range []binlogColumn{
		{name: "w", typ: typeVarchar, meta: 10, collation: collCP1250},
		{name: "x", typ: typeVarchar, meta: 10, collation: 9999},
		{name: "vec", typ: mysql.MYSQL_TYPE_VECTOR, meta: 4},
		{name: "old", typ: mysql.MYSQL_TYPE_DECIMAL},
	} {
		_, err := MySQLTableFromTableMap(tableMap("d", "t", []binlogColumn{b}))
		if err == nil || !strings.Contains(err.Error(), `"`+b.name+`"`) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("binlog column %s: err = %v, want one naming the column and the fix", b.name, err)
		}
	}
}

func TestParseMembers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"enum('')", []string{""}},
		{`enum('it''s','back\\slash','n\nl','z\0z','t	b','c,d',' lead')`, []string{"it's", `back\slash`, "n\nl", "z\x00z", "t\tb", "c,d", " lead"}},
		{"set('é','😀')", []string{"é", "😀"}},
	} {
		got, err := parseMembers(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseMembers(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"enum", "enum(a)", "enum('a'", "enum('a',)", "enum('a' 'b')"} {
		if _, err := parseMembers(bad); err == nil {
			t.Errorf("parseMembers(%q) accepted", bad)
		}
	}
}

func TestScanMySQLInfoColumn(t *testing.T) {
	str := func(s string) mysql.FieldValue { return mysql.NewFieldValue(mysql.FieldValueTypeString, 0, []byte(s)) }
	null := mysql.NewFieldValue(mysql.FieldValueTypeNull, 0, nil)
	u := func(n uint64) mysql.FieldValue { return mysql.NewFieldValue(mysql.FieldValueTypeUnsigned, n, nil) }
	row := []mysql.FieldValue{str("price"), str("decimal"), str("decimal(10,2) unsigned"), null, str("NO"), u(10), u(2), null, null}
	got, err := ScanMySQLInfoColumn(row)
	if err != nil {
		t.Fatal(err)
	}
	want := MySQLInfoColumn{Name: "price", DataType: "decimal", ColumnType: "decimal(10,2) unsigned", IsNullable: "NO", NumericPrecision: 10, NumericScale: 2}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ScanMySQLInfoColumn(row[:3]); err == nil {
		t.Error("short row accepted")
	}
}

func TestMySQLSelectExpr(t *testing.T) {
	if got := MySQLSelectExpr(&sluice.Column{Name: "f`x", Kind: sluice.KindFloat}); got != "CAST(`f``x` AS DOUBLE)" {
		t.Errorf("float: %s", got)
	}
	if got := MySQLSelectExpr(&sluice.Column{Name: "d", Kind: sluice.KindDouble}); got != "`d`" {
		t.Errorf("double: %s", got)
	}
}
