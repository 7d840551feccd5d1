//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// Promise 11 on PostgreSQL: every connection sluice makes, the replication
// connection included, is encrypted, verified and authenticated as
// configured, against a server that takes TCP connections only over TLS;
// each wrong TLS setting stops sluice with the cause and the fix.

// pgTLS is the PostgreSQL with TLS on (pki's certificates, hostssl only,
// the certificate user).
var pgTLS = &lazyServer[*local.Postgres]{what: "postgresql with tls", start: func(ctx context.Context) (*local.Postgres, error) {
	return local.StartPostgres(ctx, local.PostgresOptions{TLS: pki, Args: []string{
		"max_replication_slots=20", "max_wal_senders=20", "wal_sender_timeout=20s",
	}})
}}

func pgTLSServer(t *testing.T) *local.Postgres { return pgTLS.get(t) }

// tlsConfig is the fixture's configuration with extra source settings and
// another user.
func (f *pgFixture) tlsConfig(user, source string) string {
	cfg := strings.Replace(f.config(""), "  type: postgresql\n", "  type: postgresql\n"+source, 1)
	return strings.Replace(cfg, "  user: "+f.srv.User()+"\n", "  user: "+user+"\n", 1)
}

// sluiceSessions lists how each of sluice's sessions is connected, as the
// server sees them: "backend_type user ssl".
func (f *pgFixture) sluiceSessions() []string {
	f.t.Helper()
	rows, err := f.conn.Query(f.ctx, `SELECT a.backend_type, a.usename, s.ssl
		FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1 ORDER BY 1`, "sluice "+f.name)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, user string
		var ssl bool
		if err := rows.Scan(&kind, &user, &ssl); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %v", kind, user, ssl))
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// snapshotThenStream runs sluice with cfg: the snapshot converges, then
// changes arrive through the stream, and the server shows the replication
// connection as user over TLS.
func (f *pgFixture) snapshotThenStream(cfg, user string) {
	f.t.Helper()
	f.exec("CREATE TABLE items (id INT PRIMARY KEY, ver INT NOT NULL, name VARCHAR(64), amount NUMERIC(12,2))",
		"INSERT INTO items SELECT g, 1, 'item-' || g, g + 0.25 FROM generate_series(1, 500) g")
	p := f.sluice(cfg)
	f.converge("items", "id", "ver", "name", "amount")
	f.exec("INSERT INTO items VALUES (501, 1, 'new', 1.5)",
		"UPDATE items SET ver = 2, name = 'upd' WHERE id = 1",
		"DELETE FROM items WHERE id = 2")
	recs := f.converge("items", "id", "ver", "name", "amount")
	streamed := 0
	for _, r := range recs {
		if r.Value != nil && r.env(f.t).Op != "r" {
			streamed++
		}
	}
	if streamed < 3 {
		f.t.Errorf("%d streamed records, want the insert, update and delete", streamed)
	}
	f.eventually(30*time.Second, "every session over TLS as "+user+", the replication connection among them", func() (bool, string) {
		s := f.sluiceSessions()
		walsender := false
		for _, l := range s {
			if !strings.HasSuffix(l, " "+user+" true") {
				return false, fmt.Sprintf("sessions %q", s)
			}
			walsender = walsender || strings.HasPrefix(l, "walsender ")
		}
		return walsender, fmt.Sprintf("sessions %q", s)
	})
	p.stop()
}

// TestPostgresTLSVerifyFull: sslmode verify-full against the CA that
// signed the server's certificate: snapshot, stream and converge, every
// connection over TLS.
func TestPostgresTLSVerifyFull(t *testing.T) {
	f := newPGFixtureOn(t, pgTLSServer(t))
	cfg := f.tlsConfig(f.srv.User(), "  sslmode: verify-full\n  sslrootcert: "+pki.CAFile+"\n")
	f.snapshotThenStream(cfg, f.srv.User())
}

// TestPostgresTLSClientCertificate: a user pg_hba.conf authenticates by
// client certificate only (cert), with source.tls.cert_file and key_file
// and no password: the snapshot and the replication connection get in.
func TestPostgresTLSClientCertificate(t *testing.T) {
	f := newPGFixtureOn(t, pgTLSServer(t))
	user := f.srv.CertUser()
	cfg := f.tlsConfig(user, "  sslmode: verify-full\n  tls:\n    ca_file: "+pki.CAFile+
		"\n    cert_file: "+pki.ClientCert+"\n    key_file: "+pki.ClientKey+"\n")
	f.snapshotThenStream(cfg, user)
}

// TestPostgresTLSRequired: sslmode disable against a server that takes
// TCP only over TLS names the setting to change.
func TestPostgresTLSRequired(t *testing.T) {
	f := newPGFixtureOn(t, pgTLSServer(t))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := f.tlsConfig(f.srv.User(), "  sslmode: disable\n")
	for _, cmd := range []string{"check", "run"} {
		expectFailure(t, f.fixture, cfg, cmd, "the server accepts only TLS connections from this host",
			"set source.sslmode to require, verify-ca or verify-full")
	}
}

// TestPostgresTLSUnknownCA: verify-full against a CA that did not sign
// the server's certificate names the CA problem and source.sslrootcert.
func TestPostgresTLSUnknownCA(t *testing.T) {
	f := newPGFixtureOn(t, pgTLSServer(t))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := f.tlsConfig(f.srv.User(), "  sslmode: verify-full\n  sslrootcert: "+pki.OtherCAFile+"\n")
	for _, cmd := range []string{"check", "run"} {
		out := expectFailure(t, f.fixture, cfg, cmd, "signed by a CA sluice does not trust", "set source.sslrootcert")
		if strings.Contains(out, "unreachable") {
			t.Errorf("sluice %s calls the server unreachable:\n%s", cmd, out)
		}
	}
}

// TestPostgresTLSCertUserWithoutCertificate: the certificate user without
// a client certificate names source.tls.cert_file and key_file.
func TestPostgresTLSCertUserWithoutCertificate(t *testing.T) {
	f := newPGFixtureOn(t, pgTLSServer(t))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := f.tlsConfig(f.srv.CertUser(), "  sslmode: verify-full\n  sslrootcert: "+pki.CAFile+"\n")
	for _, cmd := range []string{"check", "run"} {
		expectFailure(t, f.fixture, cfg, cmd, "source.tls.cert_file", "source.tls.key_file")
	}
}
