package snapshot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/internal/tlserr"
	"github.com/sluice-cdc/sluice/schema"
)

// ConnectPostgres opens a connection with the settings of
// [PostgresConnConfig]. It blocks until connected or ConnectTimeout
// passes. Errors name the cause and the fix and never contain the password.
func ConnectPostgres(ctx context.Context, cfg PostgresConfig) (*pgx.Conn, error) {
	cc, err := PostgresConnConfig(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, postgresConnectError(cfg, err)
	}
	return conn, nil
}

// PostgresConnConfig builds the connection settings of a PostgreSQL
// source, the one place they are made: every connection sluice opens to
// the source uses them, ConnectPostgres's and the replication connections
// of package pgoutput, which add replication=database to a copy.
//
// They come from cfg only: host, port, user, password, database, sslmode
// (empty means prefer), sslrootcert, the client certificate and key,
// ConnectTimeout (default 10 s), application_name "sluice <Name>" and
// schema.PostgresSessionSettings as start-up parameters, so that values
// print in the form package schema reads. libpq's environment variables
// (PGPASSWORD, PGSSLMODE, PGAPPNAME, PGOPTIONS, …) and files (~/.pgpass,
// ~/.postgresql/postgresql.crt and root.crt) change nothing: an empty
// Password means no password.
//
// It reads the CA and client certificate files. Each call returns a new
// config the caller may change; connections that share one must each use
// a Copy. The password is in the config, never in its ConnString.
func PostgresConnConfig(cfg PostgresConfig) (*pgx.ConnConfig, error) {
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("postgresql port %d out of range: set source.port (PostgreSQL listens on 5432 by default)", cfg.Port)
	}
	mode := cfg.SSLMode
	if mode == "" {
		mode = "prefer"
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// pgx merges the environment and libpq's files under the connection
	// string, so every setting they could supply is given here, empty
	// where sluice has none. The password stays out of the string; it is
	// set below, over whatever ~/.pgpass held.
	kv := [][2]string{
		{"host", cfg.Host}, {"port", strconv.Itoa(cfg.Port)}, {"user", cfg.User}, {"dbname", cfg.Database},
		{"passfile", ""}, {"sslmode", mode}, {"sslrootcert", cfg.SSLRootCert},
		{"sslcert", cfg.SSLCert}, {"sslkey", cfg.SSLKey}, {"sslpassword", ""}, {"sslcertmode", "allow"},
		{"sslsni", "1"}, {"sslnegotiation", ""}, {"krbsrvname", ""}, {"krbspn", ""},
		{"connect_timeout", strconv.Itoa(max(1, int((timeout+time.Second-1)/time.Second)))},
		{"target_session_attrs", "any"}, {"min_protocol_version", ""}, {"max_protocol_version", ""},
		{"channel_binding", ""}, {"require_auth", ""},
	}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p[0] + "=" + quoteConnValue(p[1])
	}
	cc, err := pgx.ParseConfig(strings.Join(parts, " "))
	if err != nil {
		return nil, fmt.Errorf("postgresql connection settings: %w: check source.host, source.sslmode, source.sslrootcert and source.tls", err)
	}
	cc.Password = cfg.Password
	cc.ConnectTimeout = timeout
	app := "sluice"
	if cfg.Name != "" {
		app += " " + cfg.Name
	}
	cc.RuntimeParams = map[string]string{"application_name": app}
	for k, v := range schema.PostgresSessionSettings {
		cc.RuntimeParams[k] = v
	}
	return cc, nil
}

// SQLSTATE codes of failed log-ins.
const (
	pgInvalidAuthorization = "28000" // no pg_hba.conf entry, a certificate refused or missing
	pgInvalidPassword      = "28P01"
	pgInvalidCatalogName   = "3D000"
)

// postgresConnectError names the cause and the fix of a failed connection.
// It decides from error types, SQLSTATE codes and the settings sluice
// connected with, never from the text of the error.
func postgresConnectError(cfg PostgresConfig, err error) error {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	if cerr := tlserr.Error("postgresql "+addr, "server", err, postgresTLSFixes); cerr != nil {
		return cerr
	}
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == pgInvalidPassword:
		return fmt.Errorf("postgresql %s: authentication failed for user %q (%s): check source.user and the password (source.password, source.password_file or SLUICE_SOURCE_PASSWORD) and pg_hba.conf", addr, cfg.User, pe.Message)
	case errors.As(err, &pe) && pe.Code == pgInvalidAuthorization && cfg.SSLMode == "disable":
		// Without TLS the server finds no pg_hba.conf line for this
		// connection: the lines that would match are hostssl.
		return fmt.Errorf("postgresql %s: the server refused user %q without TLS (%s): the server accepts only TLS connections from this host: set source.sslmode to require, verify-ca or verify-full", addr, cfg.User, pe.Message)
	case errors.As(err, &pe) && pe.Code == pgInvalidAuthorization && cfg.SSLCert == "":
		return fmt.Errorf("postgresql %s: the server refused user %q (%s): if pg_hba.conf authenticates it by client certificate (cert, or clientcert=verify-full), set source.tls.cert_file and source.tls.key_file; otherwise check source.user, the password (source.password, source.password_file or SLUICE_SOURCE_PASSWORD) and pg_hba.conf", addr, cfg.User, pe.Message)
	case errors.As(err, &pe) && pe.Code == pgInvalidAuthorization:
		return fmt.Errorf("postgresql %s: the server refused user %q (%s): for cert authentication the common name of source.tls.cert_file must be the user name (or mapped to it in pg_ident.conf) and the certificate signed by the server's ssl_ca_file; check source.user and pg_hba.conf", addr, cfg.User, pe.Message)
	case errors.As(err, &pe) && pe.Code == pgInvalidCatalogName:
		return fmt.Errorf("postgresql %s: database %q does not exist: check source.database", addr, cfg.Database)
	case errors.As(err, &pe):
		return fmt.Errorf("postgresql %s: connect as %q: %w", addr, cfg.User, err)
	}
	return fmt.Errorf("postgresql %s unreachable (%w): check source.host and source.port and that the server is running", addr, err)
}

// postgresTLSFixes are the fixes of the certificate problems of a
// PostgreSQL source (tlserr.Error), for the snapshot's and the
// replication connections alike.
var postgresTLSFixes = map[tlserr.Kind]string{
	tlserr.UnknownCA: "set source.sslrootcert (or source.tls.ca_file) to the CA certificate that signed it",
	tlserr.WrongName: "connect by a name the certificate carries (source.host), or use source.sslmode verify-ca",
}

// quoteConnValue quotes a keyword/value connection string value.
func quoteConnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
