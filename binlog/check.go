package binlog

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice"
)

// Check verifies the server settings and privileges the binlog stream and
// the snapshot need. Each problem names the cause and the fix. It runs a few
// read-only statements on conn.
func Check(conn *client.Conn) (sluice.Problems, error) {
	var ps sluice.Problems
	vars, err := variables(conn, "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata")
	if err != nil {
		return nil, err
	}
	want := []struct{ name, value, fix string }{
		{"log_bin", "ON", "start the server with log_bin (e.g. --log-bin=mysql-bin) and a server_id"},
		{"binlog_format", "ROW", "SET GLOBAL binlog_format = 'ROW' and set binlog_format=ROW in the server configuration"},
		{"binlog_row_image", "FULL", "SET GLOBAL binlog_row_image = 'FULL' and set it in the server configuration"},
		{"binlog_row_metadata", "FULL", "SET GLOBAL binlog_row_metadata = 'FULL' and set it in the server configuration (MySQL ≥ 8.0.1, MariaDB ≥ 10.5)"},
	}
	for _, w := range want {
		got, ok := vars[w.name]
		switch {
		case !ok:
			ps = append(ps, sluice.Problem{Message: fmt.Sprintf("server variable %s is missing: this server version cannot describe row events fully; use MySQL ≥ 8.0.1 or MariaDB ≥ 10.5", w.name)})
		case !strings.EqualFold(got, w.value):
			ps = append(ps, sluice.Problem{Message: fmt.Sprintf("%s is %s, sluice needs %s: %s", w.name, got, w.value, w.fix)})
		}
	}
	grants, err := Grants(conn)
	if err != nil {
		return nil, err
	}
	for _, g := range []struct {
		privs []string
		why   string
		warn  bool
	}{
		{[]string{"REPLICATION SLAVE", "REPLICATION REPLICA"}, "to read the binlog", false},
		{[]string{"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"}, "to read the binlog position", false},
		{[]string{"RELOAD"}, "for FLUSH TABLES WITH READ LOCK; without it the snapshot falls back to a lock-free consistent read on MariaDB and to table locks held for the whole snapshot on MySQL", true},
	} {
		if !grants.Has(g.privs...) {
			ps = append(ps, sluice.Problem{Warning: g.warn, Message: fmt.Sprintf("the user lacks %s (needed %s): GRANT %s ON *.* TO the sluice user", g.privs[0], g.why, g.privs[0])})
		}
	}
	return ps, nil
}

func variables(conn *client.Conn, names ...string) (map[string]string, error) {
	q := "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + strings.Join(names, "','") + "')"
	res, err := conn.Execute(q)
	if err != nil {
		return nil, fmt.Errorf("read server variables: %w", err)
	}
	defer res.Close()
	out := map[string]string{}
	for i := range res.Values {
		name := cell(res.GetString(i, 0))
		val := cell(res.GetString(i, 1))
		out[strings.ToLower(name)] = val
	}
	return out, nil
}

// GrantSet is the set of global privileges of the current user.
type GrantSet map[string]bool

// Has reports whether any of privs is granted globally (or ALL PRIVILEGES).
func (g GrantSet) Has(privs ...string) bool {
	if g["ALL PRIVILEGES"] {
		return true
	}
	for _, p := range privs {
		if g[p] {
			return true
		}
	}
	return false
}

var globalGrant = regexp.MustCompile(`(?i)^GRANT (.+?) ON \*\.\* TO `)

// Grants reads the current user's global privileges from SHOW GRANTS.
func Grants(conn *client.Conn) (GrantSet, error) {
	res, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer res.Close()
	var lines []string
	for i := range res.Values {
		s := cell(res.GetString(i, 0))
		lines = append(lines, s)
	}
	return ParseGrants(lines), nil
}

// ParseGrants extracts global privileges from SHOW GRANTS lines.
func ParseGrants(lines []string) GrantSet {
	g := GrantSet{}
	for _, line := range lines {
		m := globalGrant.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, p := range strings.Split(m[1], ",") {
			g[strings.ToUpper(strings.TrimSpace(p))] = true
		}
	}
	return g
}

// CheckRetained verifies that the server still has the binlog file pos
// names. A purged file means changes were lost to sluice: the error says so
// and names the fix; sluice never skips ahead or re-snapshots on its own.
func CheckRetained(conn *client.Conn, pos sluice.Position) error {
	res, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return fmt.Errorf("list binary logs: %w: grant REPLICATION CLIENT (BINLOG MONITOR on MariaDB)", err)
	}
	defer res.Close()
	var first string
	for i := range res.Values {
		name := cell(res.GetString(i, 0))
		if i == 0 {
			first = name
		}
		if name == pos.File {
			return nil
		}
	}
	return fmt.Errorf("%w: the checkpoint is at %s position %d but the server's oldest binlog is %s: the changes in between are gone and sluice will not skip them; "+
		"keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days) and, to start over, delete this source's checkpoint so sluice takes a new snapshot, or set snapshot.mode: when_needed to take one by itself",
		ErrPurged, pos.File, pos.Offset, first)
}

// cell copies a result string: go-mysql's strings alias the connection's
// read buffer, which the next statement overwrites.
func cell(s string, _ error) string { return strings.Clone(s) }

// FileSize is one row of SHOW BINARY LOGS: a binlog file and its size.
type FileSize struct {
	Name string
	Size int64
}

// BytesBehind is how many binlog bytes lie after pos in files (SHOW
// BINARY LOGS, oldest first): the rest of pos's file and every newer
// file. A pos whose file is not listed counts every listed file.
func BytesBehind(files []FileSize, pos sluice.Position) int64 {
	var n int64
	seen := false
	for _, f := range files {
		switch {
		case f.Name == pos.File:
			seen = true
			n += max(f.Size-int64(pos.Offset), 0)
		case seen || pos.File == "" || f.Name > pos.File:
			n += f.Size
		}
	}
	return n
}
