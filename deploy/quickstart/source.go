package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// The values of -source.
const (
	sourceMySQL    = "mysql"
	sourcePostgres = "postgresql"
	sourceBoth     = "both"
)

// sourceKinds returns the sources the -source value picks, MySQL first.
func sourceKinds(flag string) ([]string, error) {
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case sourceMySQL, "mariadb":
		return []string{sourceMySQL}, nil
	case sourcePostgres, "postgres", "pg":
		return []string{sourcePostgres}, nil
	case sourceBoth, "":
		return []string{sourceMySQL, sourcePostgres}, nil
	}
	return nil, fmt.Errorf("-source %q is not one of mysql, postgresql, both", flag)
}

// source is one database the quickstart captures with a sluice process of
// its own: MariaDB (kind mysql) or PostgreSQL (kind postgresql). Exactly
// one of mariadb and postgres is set.
type source struct {
	kind     string
	mariadb  *local.MariaDB
	postgres *local.Postgres
	proc     *sluiceProcess
}

// label names the database in the quickstart's output.
func (s *source) label() string {
	if s.kind == sourcePostgres {
		return "PostgreSQL"
	}
	return "MariaDB"
}

// short is the source's part of topic prefixes and file names.
func (s *source) short() string {
	if s.kind == sourcePostgres {
		return "pg"
	}
	return "mysql"
}

// prefix is sluice's kafka.topic_prefix for this source; every topic of
// the source, its checkpoint topic included, starts with it and a dot.
func (s *source) prefix() string { return topicPrefix + "." + s.short() }

// name is sluice's name for this source, the key of its checkpoint.
func (s *source) name() string { return sourceName + "-" + s.short() }

// port is the database's TCP port, 0 before it runs.
func (s *source) port() int {
	switch {
	case s.postgres != nil:
		return s.postgres.Port()
	case s.mariadb != nil:
		return s.mariadb.Port()
	}
	return 0
}

// exec runs statements as the database's superuser, in the sample database
// (PostgreSQL) or with none selected (MariaDB; statements name it). It
// blocks until they are done.
func (s *source) exec(ctx context.Context, stmts ...string) error {
	if s.postgres != nil {
		return s.postgres.Exec(ctx, pgDatabase, stmts...)
	}
	return s.mariadb.Exec(ctx, stmts...)
}

// load (re)creates the sample database and the sluice user with password.
// It blocks until done.
func (s *source) load(ctx context.Context, password string) error {
	if s.postgres != nil {
		if err := s.postgres.Exec(ctx, "postgres", pgAdminStatements(password)...); err != nil {
			return fmt.Errorf("load the sample database into postgresql: %w", err)
		}
		if err := s.exec(ctx, pgSchemaStatements...); err != nil {
			return fmt.Errorf("load the sample database into postgresql: %w", err)
		}
		return nil
	}
	if err := s.exec(ctx, schemaStatements...); err != nil {
		return fmt.Errorf("load the sample database into mariadb: %w", err)
	}
	if err := s.exec(ctx, userStatements(password)...); err != nil {
		return fmt.Errorf("create the sluice user in mariadb: %w", err)
	}
	return nil
}

// describeLoad says in words what load does.
func (s *source) describeLoad() string {
	if s.kind == sourcePostgres {
		return fmt.Sprintf("PostgreSQL: database %s, schema shop (customers with REPLICA IDENTITY FULL, orders with the default), "+
			"publication %s created by the owner, role %s with %s",
			pgDatabase, pgPublication, sluiceUser, pgGrants)
	}
	return fmt.Sprintf("MariaDB: database shop, user %s@127.0.0.1 with %s", sluiceUser, sluiceGrants)
}

// changeSQL is the statement of c in this source's dialect.
func (s *source) changeSQL(c change) string {
	if s.kind == sourcePostgres {
		return c.postgres
	}
	return c.mysql
}

// settings is the configuration of this source's sluice.
func (s *source) settings(brokers, registryURL string) sluiceSettings {
	st := sluiceSettings{Type: s.kind, Name: s.name(), DBPort: s.port(), User: sluiceUser,
		Brokers: brokers, TopicPrefix: s.prefix(), RegistryURL: registryURL, AdminListen: s.adminAddr()}
	if s.kind == sourcePostgres {
		st.Database, st.Publication = pgDatabase, pgPublication
	}
	return st
}

// adminAddr is where this source's sluice serves its admin endpoints.
func (s *source) adminAddr() string {
	if s.kind == sourcePostgres {
		return "127.0.0.1:9181"
	}
	return "127.0.0.1:9180"
}

// files returns the paths of this source's sluice configuration and log
// under dir.
func (s *source) files(dir string) (config, log string) {
	return filepath.Join(dir, "sluice-"+s.short()+".yaml"), filepath.Join(dir, "sluice-"+s.short()+".log")
}

// shell is the command that opens the database's own client on the sample
// database as its superuser.
func (s *source) shell() string {
	if s.postgres != nil {
		return fmt.Sprintf("%s %q", filepath.Join(s.postgres.BinDir(), "psql"), s.postgres.DSN(pgDatabase))
	}
	return fmt.Sprintf("mariadb --host=127.0.0.1 --port=%d --user=root shop", s.mariadb.Port())
}
