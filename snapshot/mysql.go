package snapshot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/tlserr"
)

// Config describes the source connection and what to read.
type Config struct {
	// Name is the source name carried in every event.
	Name     string
	Host     string
	Port     int
	User     string
	Password string
	// Flavor is "mysql" or "mariadb".
	Flavor string
	// Selection picks the tables and columns.
	Selection *sluice.Selection
	// ConnectTimeout bounds connecting. Default 10 s.
	ConnectTimeout time.Duration
	// ProgressInterval is how often progress is logged. Default 10 s; a
	// negative interval logs none (the caller reports progress itself).
	ProgressInterval time.Duration
	Logger           *slog.Logger
	// TLS, when set, encrypts every connection with it, or fails to
	// connect; nil connects in plain text.
	TLS *tls.Config
	// LockFree reads without any lock, for a read that only compares
	// (sluice verify): START TRANSACTION WITH CONSISTENT SNAPSHOT alone.
	// On MariaDB the point is the transaction's own binlog position
	// (binlog_snapshot_file/position), exact; on MySQL it is the binlog
	// position read right after the transaction began, which may lie a
	// little after the rows read (changes committed in between are in
	// the stream before it, not in the rows).
	LockFree bool
}

// Connect opens a client connection with the session settings every sluice
// connection uses: utf8mb4 results and UTC time zone. It blocks until
// connected or ConnectTimeout passes.
func Connect(ctx context.Context, cfg Config) (*client.Conn, error) {
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	conn, err := client.ConnectWithContext(ctx, addr, cfg.User, cfg.Password, "", timeout, func(c *client.Conn) error {
		if cfg.TLS != nil {
			c.SetTLSConfig(cfg.TLS.Clone())
		}
		return c.SetCharset("utf8mb4")
	})
	if err != nil {
		return nil, connectError(addr, cfg.User, cfg.TLS, err)
	}
	for _, q := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'", "SET SESSION sql_mode = ''"} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mysql %s: %s: %w", addr, q, err)
		}
	}
	return conn, nil
}

// erSecureTransportRequired is MySQL's ER_SECURE_TRANSPORT_REQUIRED, its
// answer to a plain-text login when require_secure_transport=ON. MariaDB
// has no code of its own for that: it answers ER_ACCESS_DENIED_ERROR
// (1045), the code of a wrong password (seen on 10.11, in
// integration/mysql_tls_test.go), so the access-denied message names TLS
// too. MariaDB's 4151 is ER_ACCOUNT_HAS_BEEN_LOCKED, not a TLS error.
const erSecureTransportRequired = 3159

// connectError names the cause and the fix of a failed connection; t is
// the TLS configuration sluice connected with, nil for plain text.
func connectError(addr, user string, t *tls.Config, err error) error {
	if cerr := tlserr.Error("mysql "+addr, "server", err, map[tlserr.Kind]string{
		tlserr.UnknownCA: "set source.tls.ca_file to the CA certificate that signed it",
		tlserr.WrongName: "connect by a name the certificate carries, set source.tls.server_name, or use source.tls.mode verify_ca",
	}); cerr != nil {
		return cerr
	}
	var me *mysql.MyError
	switch {
	case errors.As(err, &me) && me.Code == erSecureTransportRequired:
		return fmt.Errorf("mysql %s requires TLS (require_secure_transport=ON) and source.tls.mode is disabled: set source.tls.mode to verify_identity (or required, verify_ca)", addr)
	case errors.As(err, &me) && me.Code == mysql.ER_ACCESS_DENIED_ERROR:
		var fix string
		switch {
		case t == nil:
			fix = "; MariaDB refuses a plain-text login the same way when it requires TLS (require_secure_transport=ON), and so do both servers when the user is created REQUIRE SSL or X509: then set source.tls.mode to verify_identity (or required, verify_ca), and for X509 source.tls.cert_file and key_file"
		case t.GetClientCertificate == nil && len(t.Certificates) == 0:
			fix = "; if the user is created REQUIRE X509 (or SUBJECT, ISSUER), the server wants a client certificate: set source.tls.cert_file and source.tls.key_file"
		default:
			fix = "; if the user is created REQUIRE SUBJECT or ISSUER, check that source.tls.cert_file is the certificate it names"
		}
		return fmt.Errorf("mysql %s: access denied for user %q: check source.user and the password (source.password, source.password_file or SLUICE_SOURCE_PASSWORD)%s", addr, user, fix)
	case tlserr.Classify(err) == tlserr.NotTLS:
		return fmt.Errorf("mysql %s: TLS failed: the server did not answer in TLS (%v)", addr, err)
	case errors.As(err, &me):
		// The server answered and refused: a locked account, too many
		// connections, a blocked host. Its own message says which.
		return fmt.Errorf("mysql %s refused user %q: %s (error %d)", addr, user, me.Message, me.Code)
	}
	return fmt.Errorf("mysql %s unreachable (%v): check source.host and source.port and that the server is running", addr, err)
}

// Flavor asks the server whether it is MariaDB or MySQL.
func Flavor(conn *client.Conn) (string, error) {
	res, err := conn.Execute("SELECT VERSION()")
	if err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	defer res.Close()
	v := cell(res.GetString(0, 0))
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return mysql.MariaDBFlavor, nil
	}
	return mysql.MySQLFlavor, nil
}

// Run takes the snapshot. It calls started with the consistent point before
// the first row is handed to h, so the caller can store it durably, then
// hands every row of every selected table to h and returns the point. It
// blocks until done; h is called from the calling goroutine.
func Run(ctx context.Context, cfg Config, h sluice.Handler, started func(context.Context, sluice.Position) error) (sluice.Position, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = 10 * time.Second
	}
	conn, err := Connect(ctx, cfg)
	if err != nil {
		return sluice.Position{}, err
	}
	defer conn.Close()
	for _, q := range []string{
		"SET SESSION net_write_timeout = 86400",
		"SET SESSION net_read_timeout = 86400",
		"SET SESSION wait_timeout = 86400",
		"SET SESSION lock_wait_timeout = 60",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	} {
		if _, err := conn.Execute(q); err != nil {
			return sluice.Position{}, fmt.Errorf("snapshot: %s: %w", q, err)
		}
	}
	tables, err := ListTables(conn, cfg.Selection)
	if err != nil {
		return sluice.Position{}, err
	}
	if len(tables) == 0 {
		log.Warn("snapshot: no table matches tables.include; nothing to copy", "include", cfg.Selection.Include)
	}

	point := consistentPoint
	if cfg.LockFree {
		point = lockFreePoint
	}
	pos, unlock, err := point(conn, cfg.Flavor, tables, log)
	if err != nil {
		return sluice.Position{}, err
	}
	defer unlock()
	shapes, err := LoadShapes(conn, cfg.Selection, tables, log)
	if err != nil {
		return sluice.Position{}, err
	}
	if err := unlock(); err != nil {
		return sluice.Position{}, err
	}
	log.Info("snapshot: consistent point", "file", pos.File, "pos", pos.Offset, "gtid_set", pos.GTIDSet, "tables", len(shapes))
	if started != nil {
		if err := started(ctx, pos); err != nil {
			return sluice.Position{}, err
		}
	}
	serverID, err := serverID(conn)
	if err != nil {
		return sluice.Position{}, err
	}
	if p, ok := h.(sluice.SnapshotPlanner); ok {
		plan := make([]sluice.TableEstimate, len(shapes))
		for i, sh := range shapes {
			plan[i] = sluice.TableEstimate{Table: sh.Full.FullName(), Rows: sh.Ref.EstRows}
		}
		p.SnapshotPlan(plan)
	}
	src := sluice.Source{Connector: "mysql", Name: cfg.Name, ServerID: serverID, Position: pos, Snapshot: true}
	for _, sh := range shapes {
		if err := readTable(ctx, conn, sh, src, h, cfg.ProgressInterval, log); err != nil {
			if ctx.Err() != nil {
				return sluice.Position{}, ctx.Err()
			}
			return sluice.Position{}, err
		}
	}
	if _, err := conn.Execute("COMMIT"); err != nil {
		return sluice.Position{}, fmt.Errorf("snapshot: commit: %w", err)
	}
	return pos, nil
}

// consistentPoint opens the consistent read and returns its binlog position
// and a function that releases whatever lock it took (idempotent).
func consistentPoint(conn *client.Conn, flavor string, tables []TableRef, log *slog.Logger) (sluice.Position, func() error, error) {
	noop := func() error { return nil }
	began := time.Now()
	_, err := conn.Execute("FLUSH TABLES WITH READ LOCK")
	if err == nil {
		unlocked := false
		unlock := func() error {
			if unlocked {
				return nil
			}
			unlocked = true
			if _, err := conn.Execute("UNLOCK TABLES"); err != nil {
				return fmt.Errorf("snapshot: unlock tables: %w", err)
			}
			log.Info("snapshot: global read lock released", "held", time.Since(began).Round(time.Microsecond))
			return nil
		}
		if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			unlock()
			return sluice.Position{}, noop, fmt.Errorf("snapshot: start transaction: %w", err)
		}
		pos, err := masterStatus(conn, flavor)
		if err != nil {
			unlock()
			return sluice.Position{}, noop, err
		}
		return pos, unlock, nil
	}
	var me *mysql.MyError
	if !errors.As(err, &me) || (me.Code != mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR && me.Code != mysql.ER_ACCESS_DENIED_ERROR && me.Code != mysql.ER_DBACCESS_DENIED_ERROR) {
		return sluice.Position{}, noop, fmt.Errorf("snapshot: flush tables with read lock: %w", err)
	}
	if flavor == mysql.MariaDBFlavor {
		log.Warn("snapshot: no RELOAD privilege for FLUSH TABLES WITH READ LOCK; using MariaDB's lock-free consistent snapshot position instead")
		if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return sluice.Position{}, noop, fmt.Errorf("snapshot: start transaction: %w", err)
		}
		pos, err := mariadbSnapshotStatus(conn)
		return pos, noop, err
	}
	log.Warn("snapshot: no RELOAD privilege for FLUSH TABLES WITH READ LOCK; holding LOCK TABLES … READ on the selected tables for the whole snapshot (writes to them wait until it ends); grant RELOAD to avoid this")
	if len(tables) == 0 {
		pos, err := masterStatus(conn, flavor)
		return pos, noop, err
	}
	var b strings.Builder
	b.WriteString("LOCK TABLES ")
	for i, t := range tables {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.Quoted())
		b.WriteString(" READ")
	}
	if _, err := conn.Execute(b.String()); err != nil {
		return sluice.Position{}, noop, fmt.Errorf("snapshot: lock tables (fallback without RELOAD): %w: grant RELOAD or LOCK TABLES to the sluice user", err)
	}
	pos, err := masterStatus(conn, flavor)
	// The table locks stay until the connection closes after the copy.
	return pos, noop, err
}

// lockFreePoint opens the consistent read without a lock (Config.LockFree).
func lockFreePoint(conn *client.Conn, flavor string, _ []TableRef, _ *slog.Logger) (sluice.Position, func() error, error) {
	noop := func() error { return nil }
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return sluice.Position{}, noop, fmt.Errorf("snapshot: start transaction: %w", err)
	}
	var pos sluice.Position
	var err error
	if flavor == mysql.MariaDBFlavor {
		pos, err = mariadbSnapshotStatus(conn)
	} else {
		pos, err = masterStatus(conn, flavor)
	}
	return pos, noop, err
}

// CurrentPosition reads the server's current binlog position and GTID set,
// where a stream that skips the snapshot starts.
func CurrentPosition(conn *client.Conn, flavor string) (sluice.Position, error) {
	return masterStatus(conn, flavor)
}

func masterStatus(conn *client.Conn, flavor string) (sluice.Position, error) {
	res, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		res, err = conn.Execute("SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return sluice.Position{}, fmt.Errorf("snapshot: read binlog position: %w: grant REPLICATION CLIENT (BINLOG MONITOR on MariaDB)", err)
	}
	defer res.Close()
	if len(res.Values) == 0 {
		return sluice.Position{}, errors.New("snapshot: the server reports no binlog position: binary logging is off; start the server with log_bin and binlog_format=ROW")
	}
	var pos sluice.Position
	pos.File = cell(res.GetStringByName(0, "File"))
	off, _ := res.GetUintByName(0, "Position")
	pos.Offset = off
	if flavor == mysql.MariaDBFlavor {
		r2, err := conn.Execute("SELECT @@GLOBAL.gtid_binlog_pos")
		if err != nil {
			return sluice.Position{}, fmt.Errorf("snapshot: read gtid_binlog_pos: %w", err)
		}
		pos.GTIDSet = cell(r2.GetString(0, 0))
		r2.Close()
	} else if set := cell(res.GetStringByName(0, "Executed_Gtid_Set")); set != "" {
		pos.GTIDSet = strings.ReplaceAll(set, "\n", "")
	}
	return pos, nil
}

func mariadbSnapshotStatus(conn *client.Conn) (sluice.Position, error) {
	res, err := conn.Execute("SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')")
	if err != nil {
		return sluice.Position{}, fmt.Errorf("snapshot: read binlog_snapshot_position: %w", err)
	}
	defer res.Close()
	var pos sluice.Position
	for i := range res.Values {
		name := cell(res.GetString(i, 0))
		val := cell(res.GetString(i, 1))
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			pos.File = val
		case "binlog_snapshot_position":
			pos.Offset, _ = strconv.ParseUint(val, 10, 64)
		}
	}
	if pos.File == "" {
		return pos, errors.New("snapshot: the server reports no binlog snapshot position: binary logging is off; start the server with log_bin and binlog_format=ROW")
	}
	r2, err := conn.Execute(fmt.Sprintf("SELECT BINLOG_GTID_POS('%s', %d)", escapeString(pos.File), pos.Offset))
	if err != nil {
		return pos, fmt.Errorf("snapshot: read gtid position: %w", err)
	}
	defer r2.Close()
	pos.GTIDSet = cell(r2.GetString(0, 0))
	return pos, nil
}

func serverID(conn *client.Conn) (uint32, error) {
	res, err := conn.Execute("SELECT @@server_id")
	if err != nil {
		return 0, fmt.Errorf("snapshot: read server_id: %w", err)
	}
	defer res.Close()
	id, err := res.GetUint(0, 0)
	return uint32(id), err
}

func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s)
}

// cell copies a result string: go-mysql's strings alias the connection's
// read buffer, which the next statement overwrites.
func cell(s string, _ error) string { return strings.Clone(s) }
