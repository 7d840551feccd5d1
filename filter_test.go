package sluice

import (
	"reflect"
	"strings"
	"testing"
)

func TestSelectionMatch(t *testing.T) {
	s := &Selection{Include: []string{"shop.*", "crm.users"}, Exclude: []string{"shop.tmp_*"}}
	cases := map[string]bool{
		"shop.orders": true, "shop.tmp_x": false, "crm.users": true, "crm.leads": false, "other.orders": false,
	}
	for name, want := range cases {
		db, tbl, _ := strings.Cut(name, ".")
		if got := s.Match(db, tbl); got != want {
			t.Errorf("Match(%s) = %v, want %v", name, got, want)
		}
	}
	if got := s.Literal(); !reflect.DeepEqual(got, []string{"crm.users"}) {
		t.Errorf("Literal = %v", got)
	}
	if err := (&Selection{Include: []string{"a.["}}).Validate(); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestProject(t *testing.T) {
	full := &Table{Database: "d", Name: "t", Columns: []Column{{Name: "a"}, {Name: "secret"}, {Name: "id"}}, Key: []int{2}, PrimaryKey: true}
	s := &Selection{ExcludeColumns: []string{"d.t.secret"}}
	p, err := s.Project(full)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Table.Columns) != 2 || p.Table.Key[0] != 1 || !p.Table.PrimaryKey {
		t.Fatalf("projected %+v", p.Table)
	}
	if got := p.Row(Row{1, "x", 3}); !reflect.DeepEqual(got, Row{1, 3}) {
		t.Errorf("Row = %v", got)
	}
	if _, err := (&Selection{ExcludeColumns: []string{"d.t.id"}}).Project(full); err == nil {
		t.Error("excluded key column accepted")
	}
	nokey := &Table{Database: "d", Name: "n", Columns: []Column{{Name: "a"}, {Name: "b"}}}
	p, err = (&Selection{Keys: map[string][]string{"d.n": {"b"}}}).Project(nokey)
	if err != nil || !reflect.DeepEqual(p.Table.Key, []int{1}) || p.Table.PrimaryKey || p.Source != nil {
		t.Fatalf("configured key: %+v %v", p, err)
	}
	if _, err := (&Selection{Keys: map[string][]string{"d.n": {"zz"}}}).Project(nokey); err == nil {
		t.Error("missing key column accepted")
	}
	p, _ = (&Selection{}).Project(nokey)
	if len(p.Table.Key) != 0 {
		t.Error("key without configuration")
	}
}
