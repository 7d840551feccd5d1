package keys

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

func table() *sluice.Table {
	return &sluice.Table{Database: "d", Name: "t", Columns: []sluice.Column{
		{Name: "note", Kind: sluice.KindString},
		{Name: "id", Kind: sluice.KindInt, Unsigned: true},
		{Name: "tag", Kind: sluice.KindBytes},
	}, Key: []int{1, 2}, PrimaryKey: true}
}

func TestEqualIgnoresNonKeyColumns(t *testing.T) {
	tb := table()
	a := sluice.Row{"first", uint64(18446744073709551615), []byte{1, 2}}
	b := sluice.Row{"second", uint64(18446744073709551615), []byte{1, 2}}
	if !Equal(tb, a, b) {
		t.Error("Equal = false for the same key")
	}
	if Equal(tb, a, sluice.Row{"first", uint64(1), []byte{1, 2}}) {
		t.Error("Equal = true for different integer keys")
	}
	if Equal(tb, a, sluice.Row{"first", uint64(18446744073709551615), []byte{1, 3}}) {
		t.Error("Equal = true for different byte keys")
	}
	if Equal(tb, a, sluice.Row{"first", uint64(18446744073709551615), nil}) {
		t.Error("Equal = true for a NULL key column")
	}
}

func TestNone(t *testing.T) {
	if !None(&sluice.Table{Columns: []sluice.Column{{Name: "a"}}}) || None(table()) {
		t.Fatal("None is wrong")
	}
}
