package binlog

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

func TestParseGrants(t *testing.T) {
	g := ParseGrants([]string{
		"GRANT SELECT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `sluice`@`%` IDENTIFIED BY PASSWORD '*AB'",
		"GRANT ALL PRIVILEGES ON `shop`.* TO `sluice`@`%`",
	})
	for _, p := range []string{"SELECT", "RELOAD", "BINLOG MONITOR", "REPLICATION SLAVE"} {
		if !g.Has(p) {
			t.Errorf("missing %s", p)
		}
	}
	if g.Has("SUPER") || g.Has("ALL PRIVILEGES") {
		t.Error("database-level ALL PRIVILEGES counted as global")
	}
	if !ParseGrants([]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}).Has("RELOAD") {
		t.Error("global ALL PRIVILEGES not honoured")
	}
}

func TestBytesBehind(t *testing.T) {
	files := []FileSize{{"mysql-bin.000001", 1000}, {"mysql-bin.000002", 500}, {"mysql-bin.000003", 200}}
	for _, c := range []struct {
		pos  sluice.Position
		want int64
	}{
		{sluice.Position{File: "mysql-bin.000003", Offset: 200}, 0},
		{sluice.Position{File: "mysql-bin.000003", Offset: 150}, 50},
		{sluice.Position{File: "mysql-bin.000002", Offset: 100}, 600},
		{sluice.Position{File: "mysql-bin.000001", Offset: 4}, 1696},
		{sluice.Position{File: "mysql-bin.000000", Offset: 4}, 1700}, // purged: everything listed
		{sluice.Position{}, 1700},
	} {
		if got := BytesBehind(files, c.pos); got != c.want {
			t.Errorf("BytesBehind(%+v) = %d, want %d", c.pos, got, c.want)
		}
	}
}
