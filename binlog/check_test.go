package binlog

import "testing"

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
