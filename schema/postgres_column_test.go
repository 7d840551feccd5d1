package schema

import (
	"reflect"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

func TestPostgresColumnShapes(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   sluice.Column
	}{
		{pgtype.Int2OID, -1, sluice.Column{Kind: sluice.KindInt, SourceType: "smallint"}},
		{pgtype.Int8OID, -1, sluice.Column{Kind: sluice.KindInt, SourceType: "bigint"}},
		{pgtype.OIDOID, -1, sluice.Column{Kind: sluice.KindInt, SourceType: "oid", Unsigned: true}},
		{pgtype.Float4OID, -1, sluice.Column{Kind: sluice.KindFloat, SourceType: "real"}},
		{pgtype.Float8OID, -1, sluice.Column{Kind: sluice.KindDouble, SourceType: "double precision"}},
		{pgtype.NumericOID, -1, sluice.Column{Kind: sluice.KindDecimal, SourceType: "numeric", Scale: -1}},
		{pgtype.NumericOID, numericTypmod(10, 2), sluice.Column{Kind: sluice.KindDecimal, SourceType: "numeric(10,2)", Precision: 10, Scale: 2}},
		{pgtype.NumericOID, numericTypmod(1000, 0), sluice.Column{Kind: sluice.KindDecimal, SourceType: "numeric(1000,0)", Precision: 1000}},
		{pgtype.NumericOID, numericTypmod(3, -5), sluice.Column{Kind: sluice.KindDecimal, SourceType: "numeric(3,-5)", Precision: 3}},
		{pgMoneyOID, -1, sluice.Column{Kind: sluice.KindDecimal, SourceType: "money", Precision: 19, Scale: 2}},
		{pgtype.VarcharOID, 14, sluice.Column{Kind: sluice.KindString, SourceType: "character varying(10)"}},
		{pgtype.VarcharOID, -1, sluice.Column{Kind: sluice.KindString, SourceType: "character varying"}},
		{pgtype.BPCharOID, 5, sluice.Column{Kind: sluice.KindString, SourceType: "character(1)"}},
		{pgtype.BPCharOID, -1, sluice.Column{Kind: sluice.KindString, SourceType: "bpchar"}},
		{pgtype.QCharOID, -1, sluice.Column{Kind: sluice.KindString, SourceType: `"char"`}},
		{pgtype.BitOID, 12, sluice.Column{Kind: sluice.KindBit, SourceType: "bit(12)", Length: 12}},
		{pgtype.VarbitOID, 12, sluice.Column{Kind: sluice.KindString, SourceType: "bit varying(12)"}},
		{pgtype.VarbitOID, -1, sluice.Column{Kind: sluice.KindString, SourceType: "bit varying"}},
		{pgtype.TimeOID, -1, sluice.Column{Kind: sluice.KindTime, SourceType: "time without time zone", Scale: 6}},
		{pgtype.TimetzOID, 0, sluice.Column{Kind: sluice.KindTimeTZ, SourceType: "time(0) with time zone"}},
		{pgtype.TimestampOID, 3, sluice.Column{Kind: sluice.KindDateTime, SourceType: "timestamp(3) without time zone", Scale: 3}},
		{pgtype.TimestamptzOID, -1, sluice.Column{Kind: sluice.KindTimestamp, SourceType: "timestamp with time zone", Scale: 6}},
		{pgtype.IntervalOID, -1, sluice.Column{Kind: sluice.KindInterval, SourceType: "interval", Scale: 6}},
		{pgtype.IntervalOID, 6<<16 | 0xFFFF, sluice.Column{Kind: sluice.KindInterval, SourceType: "interval year to month", Scale: 6}},
		{pgtype.IntervalOID, 0x7FFF<<16 | 3, sluice.Column{Kind: sluice.KindInterval, SourceType: "interval(3)", Scale: 3}},
		{pgtype.IntervalOID, (1<<3|1<<10|1<<11|1<<12)<<16 | 2, sluice.Column{Kind: sluice.KindInterval, SourceType: "interval day to second(2)", Scale: 2}},
		{pgtype.UUIDOID, -1, sluice.Column{Kind: sluice.KindUUID, SourceType: "uuid"}},
		{pgtype.JSONBOID, -1, sluice.Column{Kind: sluice.KindJSON, SourceType: "jsonb"}},
		{pgtype.CIDROID, -1, sluice.Column{Kind: sluice.KindString, SourceType: "cidr"}},
		{pgtype.ByteaOID, -1, sluice.Column{Kind: sluice.KindBytes, SourceType: "bytea"}},
		{pgtype.Int4ArrayOID, -1, sluice.Column{Kind: sluice.KindArray, SourceType: "integer[]",
			Elem: &sluice.Column{Kind: sluice.KindInt, SourceType: "integer", Nullable: true}}},
		{pgtype.NumericArrayOID, numericTypmod(6, 2), sluice.Column{Kind: sluice.KindArray, SourceType: "numeric(6,2)[]",
			Elem: &sluice.Column{Kind: sluice.KindDecimal, SourceType: "numeric(6,2)", Precision: 6, Scale: 2, Nullable: true}}},
		{pgInt2VectorOID, -1, sluice.Column{Kind: sluice.KindString, SourceType: "int2vector"}},
	} {
		got := *pgCol(t, c.oid, c.typmod)
		c.want.Name = "c"
		if c.want.Elem != nil {
			c.want.Elem.Name = "c"
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("type %d typmod %d: got %+v (elem %+v), want %+v (elem %+v)", c.oid, c.typmod, got, got.Elem, c.want, c.want.Elem)
		}
	}
}

func TestPostgresTable(t *testing.T) {
	cat := NewPostgresCatalog(nil)
	attrs := []PostgresAttr{
		{Name: "id", TypeOID: pgtype.Int8OID, Typmod: -1},
		{Name: "tenant", TypeOID: pgtype.TextOID, Typmod: -1},
		{Name: "amount", TypeOID: pgtype.NumericOID, Typmod: numericTypmod(12, 2)},
	}
	tbl, err := PostgresTable(t.Context(), cat, "public", "orders", attrs, []string{"tenant", "id"})
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Database != "public" || tbl.Name != "orders" || !tbl.PrimaryKey || !slices.Equal(tbl.Key, []int{1, 0}) {
		t.Errorf("table = %+v", tbl)
	}
	for i, want := range []bool{false, false, true} {
		if tbl.Columns[i].Nullable != want {
			t.Errorf("column %s Nullable = %v, want %v", tbl.Columns[i].Name, tbl.Columns[i].Nullable, want)
		}
	}
	again, err := PostgresTable(t.Context(), cat, "public", "orders", slices.Clone(attrs), []string{"tenant", "id"})
	if err != nil || !reflect.DeepEqual(tbl, again) {
		t.Errorf("the same attributes gave a different shape: %+v, %v", again, err)
	}
	keyless, err := PostgresTable(t.Context(), cat, "public", "log", attrs, nil)
	if err != nil || keyless.PrimaryKey || len(keyless.Key) != 0 || !keyless.Columns[0].Nullable {
		t.Errorf("keyless table = %+v, %v", keyless, err)
	}
	if _, err := PostgresTable(t.Context(), cat, "public", "orders", attrs, []string{"nope"}); err == nil {
		t.Error("a key column that does not exist: want an error")
	}
	// A type that is not built in needs the catalog.
	if _, err := PostgresTable(t.Context(), cat, "public", "t", []PostgresAttr{{Name: "x", TypeOID: 142, Typmod: -1}}, nil); err == nil {
		t.Error("an unknown type without a catalog connection: want an error")
	}
}

func TestPostgresFallbackColumns(t *testing.T) {
	tbl := &sluice.Table{Columns: []sluice.Column{
		{Name: "a", Kind: sluice.KindString, SourceType: "text"},
		{Name: "b", Kind: sluice.KindString, SourceType: "xml"},
		{Name: "c", Kind: sluice.KindString, SourceType: "character varying(3)"},
		{Name: "d", Kind: sluice.KindArray, SourceType: "point[]", Elem: &sluice.Column{Kind: sluice.KindString, SourceType: "point"}},
		{Name: "e", Kind: sluice.KindArray, SourceType: "text[]", Elem: &sluice.Column{Kind: sluice.KindString, SourceType: "text"}},
		{Name: "f", Kind: sluice.KindString, SourceType: "public.int4range_x"},
		{Name: "g", Kind: sluice.KindInt, SourceType: "integer"},
		{Name: "h", Kind: sluice.KindString, SourceType: "int2vector"},
	}}
	if got, want := PostgresFallbackColumns(tbl), []string{"b", "d", "f", "h"}; !slices.Equal(got, want) {
		t.Errorf("PostgresFallbackColumns = %q, want %q", got, want)
	}
}

func TestQualifiedTypeName(t *testing.T) {
	for _, c := range [][3]string{
		{"pg_catalog", "xml", "xml"},
		{"public", "mood", "public.mood"},
		{"Sales", "Mood", `"Sales"."Mood"`},
		{"public", "my type", `public."my type"`},
		{"public", `q"t`, `public."q""t"`},
		{"s1", "t_2", "s1.t_2"},
		{"public", "2x", `public."2x"`},
	} {
		if got := qualifiedTypeName(c[0], c[1]); got != c[2] {
			t.Errorf("qualifiedTypeName(%q, %q) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}
