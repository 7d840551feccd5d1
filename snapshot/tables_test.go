package snapshot

import "testing"

func TestTableRefQuoted(t *testing.T) {
	for _, tc := range []struct {
		db, name, want string
	}{
		{"shop", "orders", "`shop`.`orders`"},
		{"my-db", "order items", "`my-db`.`order items`"},
		{"a.b", "c.d", "`a.b`.`c.d`"},
		{"we`ird", "`", "`we``ird`.````"},
		{"shop", "caf\u00e9 \U0001F600", "`shop`.`caf\u00e9 \U0001F600`"},
		{"shop", "x'; DROP TABLE t; --", "`shop`.`x'; DROP TABLE t; --`"},
	} {
		if got := (TableRef{Database: tc.db, Name: tc.name}).Quoted(); got != tc.want {
			t.Errorf("Quoted(%q, %q) = %s, want %s", tc.db, tc.name, got, tc.want)
		}
	}
}
