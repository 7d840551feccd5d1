package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/snapshot"
)

// mysqlSource is the MySQL/MariaDB source: snapshot (consistent read under
// a short global read lock) and binlog. It keeps no connection open
// between calls.
type mysqlSource struct {
	cfg  *config.Config
	log  *slog.Logger
	scfg snapshot.Config
	bcfg binlog.Config
	// tlsDone is set once source.tls was settled (secure).
	tlsDone bool

	lagMu   sync.Mutex
	lagConn *client.Conn // Behind's connection, opened on first use
}

func newMySQLSource(cfg *config.Config, log *slog.Logger, onConn func(error), rewind func() (sluice.Position, bool)) *mysqlSource {
	s := &cfg.Source
	sel := selection(cfg)
	return &mysqlSource{
		cfg: cfg, log: log,
		scfg: snapshot.Config{
			Name: cfg.Name, Host: s.Host, Port: s.Port, User: s.User, Password: s.Password.Reveal(),
			Flavor: s.Flavor, Selection: sel, ConnectTimeout: s.ConnectTimeout, Logger: log, ProgressInterval: -1,
		},
		bcfg: binlog.Config{
			Name: cfg.Name, Host: s.Host, Port: s.Port, User: s.User, Password: s.Password.Reveal(),
			ServerID: s.ServerID, Flavor: s.Flavor, Selection: sel, Logger: log, OnConnection: onConn, Rewind: rewind,
		},
	}
}

// Behind implements Behinder: the binlog bytes from read to the end of
// the server's newest binlog (SHOW BINARY LOGS), on a connection of its
// own kept until Close.
func (m *mysqlSource) Behind(ctx context.Context, read sluice.Position) (int64, error) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.lagConn == nil {
		conn, err := snapshot.Connect(ctx, m.scfg)
		if err != nil {
			return 0, err
		}
		m.lagConn = conn
	}
	res, err := m.lagConn.Execute("SHOW BINARY LOGS")
	if err != nil {
		m.lagConn.Close()
		m.lagConn = nil
		return 0, fmt.Errorf("measure binlog behind: SHOW BINARY LOGS: %w", err)
	}
	defer res.Close()
	files := make([]binlog.FileSize, 0, len(res.Values))
	for i := range res.Values {
		name, _ := res.GetString(i, 0)
		size, _ := res.GetInt(i, 1)
		files = append(files, binlog.FileSize{Name: name, Size: size})
	}
	return binlog.BytesBehind(files, read), nil
}

// Close closes Behind's connection.
func (m *mysqlSource) Close() error {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.lagConn != nil {
		m.lagConn.Close()
		m.lagConn = nil
	}
	return nil
}

func selection(cfg *config.Config) *sluice.Selection {
	return &sluice.Selection{Include: cfg.Tables.Include, Exclude: cfg.Tables.Exclude,
		ExcludeColumns: cfg.Tables.ExcludeColumns, Keys: cfg.Tables.Keys}
}

// secure settles TLS for every connection from source.tls, once.
func (m *mysqlSource) secure(ctx context.Context) error {
	if m.tlsDone {
		return nil
	}
	t, _, err := mysqlTLS(ctx, m.cfg)
	if err != nil {
		return err
	}
	m.scfg.TLS, m.bcfg.TLS, m.tlsDone = t, t, true
	m.log.Info("mysql connections: "+describeTLS(m.cfg.Source.TLS.Mode, t), "host", m.cfg.Source.Host)
	return nil
}

// detectFlavor asks the server for its flavor when none is configured.
func (m *mysqlSource) detectFlavor(conn *client.Conn) error {
	if m.scfg.Flavor != "" {
		return nil
	}
	f, err := snapshot.Flavor(conn)
	if err != nil {
		return err
	}
	m.scfg.Flavor, m.bcfg.Flavor = f, f
	return nil
}

// Prepare connects once to check the server and the tables and to detect
// the flavor when it is not configured.
func (m *mysqlSource) Prepare(ctx context.Context, _ bool) error {
	if err := m.secure(ctx); err != nil {
		return err
	}
	conn, err := snapshot.Connect(ctx, m.scfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := m.detectFlavor(conn); err != nil {
		return err
	}
	problems, err := binlog.Check(conn)
	if err != nil {
		return err
	}
	if err := warnOrFail(m.log, problems); err != nil {
		return fmt.Errorf("source %s:%d is not ready: %w", m.cfg.Source.Host, m.cfg.Source.Port, err)
	}
	tables, err := snapshot.ListTables(conn, m.scfg.Selection)
	if err != nil {
		return err
	}
	return snapshot.CheckReadable(conn, tables).Err()
}

// CanResume checks that the server still has the binlog pos names.
func (m *mysqlSource) CanResume(ctx context.Context, pos sluice.Position) error {
	conn, err := snapshot.Connect(ctx, m.scfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	err = binlog.CheckRetained(conn, pos)
	if errors.Is(err, binlog.ErrPurged) {
		return positionGone{err}
	}
	return err
}

func (m *mysqlSource) Snapshot(ctx context.Context, h Handler, began func(context.Context, sluice.Position) error) (sluice.Position, error) {
	return snapshot.Run(ctx, m.scfg, h, began)
}

// Resnapshot reads the tables at a new consistent point. Between taking
// it and reading the first row, with the consistent read open, the binlog
// from at up to the new point goes to catchUp.
func (m *mysqlSource) Resnapshot(ctx context.Context, at sluice.Position, catchUp, h Handler) (sluice.Position, error) {
	return snapshot.Run(ctx, m.scfg, h, func(ctx context.Context, to sluice.Position) error {
		if !binlog.Before(at, to) {
			return nil
		}
		m.log.Info("retaken snapshot: reading the binlog from the snapshot checkpoint's point to the new one; only deletions are passed on",
			"from_file", at.File, "from_pos", at.Offset, "to_file", to.File, "to_pos", to.Offset)
		cfg := m.bcfg
		cfg.Until = to
		if err := binlog.New(cfg).Run(ctx, at, catchUp); err != nil {
			return err
		}
		return ctx.Err()
	})
}

func (m *mysqlSource) Position(ctx context.Context) (sluice.Position, string, error) {
	conn, err := snapshot.Connect(ctx, m.scfg)
	if err != nil {
		return sluice.Position{}, "", err
	}
	defer conn.Close()
	pos, err := snapshot.CurrentPosition(conn, m.scfg.Flavor)
	return pos, "the current binlog position", err
}

func (m *mysqlSource) Stream(ctx context.Context, from sluice.Position, h Handler) error {
	return binlog.New(m.bcfg).Run(ctx, from, h)
}

// Check lists every problem of the server and the selected tables.
func (m *mysqlSource) Check(ctx context.Context) (sluice.Problems, []string) {
	sel := m.scfg.Selection
	if err := m.secure(ctx); err != nil {
		return sluice.Problems{{Message: err.Error()}}, nil
	}
	conn, err := snapshot.Connect(ctx, m.scfg)
	if err != nil {
		return sluice.Problems{{Message: err.Error()}}, nil
	}
	defer conn.Close()
	problems, err := binlog.Check(conn)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()}), nil
	}
	tables, err := snapshot.ListTables(conn, sel)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()}), nil
	}
	problems = append(problems, snapshot.CheckReadable(conn, tables)...)
	if len(tables) == 0 {
		problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf("tables.include %v matches no table: nothing will be captured until such a table exists", sel.Include)})
	}
	var shapes []*sluice.Table
	for _, ref := range tables {
		full, err := snapshot.LoadTable(conn, ref.Database, ref.Name)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		proj, err := sel.Project(full)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		if len(proj.Table.Key) == 0 {
			problems = append(problems, keylessWarning(full.FullName()))
		}
		shapes = append(shapes, proj.Table)
	}
	// The records carry the shapes the column transforms make.
	shapes, xp := transformTables(m.cfg, shapes)
	problems = append(problems, xp...)
	if m.cfg.Format == "avro" || m.cfg.Format == "connect-json" {
		opts := avroOptions(m.cfg)
		if m.cfg.Format == "connect-json" {
			opts.Mapping = schema.AvroMappingV2
		}
		for _, t := range shapes {
			if _, _, err := schema.AvroSchemas(t, opts); err != nil {
				problems = append(problems, sluice.Problem{Message: fmt.Sprintf("table %s cannot be written as %s: %v", t.FullName(), m.cfg.Format, err)})
			}
		}
	}
	return problems, nil
}

// warnOrFail logs the warnings among problems and returns the others,
// joined, or nil.
func warnOrFail(log *slog.Logger, problems sluice.Problems) error {
	for _, p := range problems {
		if p.Warning {
			log.Warn(p.Message)
		}
	}
	return problems.Err()
}

// keylessWarning is the problem of a table without key columns.
func keylessWarning(table string) sluice.Problem {
	return sluice.Problem{Warning: true, Message: fmt.Sprintf(
		"table %s has no primary key: its records get a null key and its topic is not compacted; name key columns under tables.keys", table)}
}

// ReadTables implements TableReader: the tables sel selects, read in a
// consistent-snapshot transaction without a lock (snapshot.Config
// LockFree). The position is exact on MariaDB and read just after the
// transaction began on MySQL.
func (m *mysqlSource) ReadTables(ctx context.Context, sel *sluice.Selection, h sluice.Handler) (sluice.Position, error) {
	if err := m.secure(ctx); err != nil {
		return sluice.Position{}, err
	}
	if m.scfg.Flavor == "" {
		conn, err := snapshot.Connect(ctx, m.scfg)
		if err != nil {
			return sluice.Position{}, err
		}
		err = m.detectFlavor(conn)
		conn.Close()
		if err != nil {
			return sluice.Position{}, err
		}
	}
	scfg := m.scfg
	scfg.Selection, scfg.LockFree = sel, true
	return snapshot.Run(ctx, scfg, h, nil)
}
