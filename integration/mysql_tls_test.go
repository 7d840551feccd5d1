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

// Promise 11 for the source: sluice's MySQL/MariaDB connections, the
// snapshot's and the binlog's, run over TLS to a server that requires it,
// verified as source.tls.mode says, with a client certificate when the
// user needs one; each wrong setting is named with its fix.

// tlsDB is a MariaDB that speaks TLS with pki's server certificate and
// refuses plain text (require_secure_transport=ON). performance_schema
// shows how each connection came in (threads.CONNECTION_TYPE).
var tlsDB = &lazyServer[*local.MariaDB]{what: "mariadb with TLS", start: func(ctx context.Context) (*local.MariaDB, error) {
	return local.StartMariaDB(ctx, local.MariaDBOptions{TLS: pki, Args: []string{"--server-id=9", "--performance-schema=ON"}})
}}

func tlsServer(t *testing.T) *local.MariaDB { return tlsDB.get(t) }

// tlsConfig is f.config connecting as user with source.tls set to the
// given lines (each "key: value"); no lines leave source.tls out, which
// means mode preferred.
func tlsConfig(f *fixture, user string, tls ...string) string {
	src := "  user: " + user + "\n"
	if len(tls) > 0 {
		src += "  tls:\n    " + strings.Join(tls, "\n    ") + "\n"
	}
	return strings.Replace(f.config(""), "  user: "+f.srv.User()+"\n", src, 1)
}

// binlogConnectionTypes returns performance_schema's CONNECTION_TYPE of
// every binlog dump connection of user.
func binlogConnectionTypes(f *fixture, user string) []string {
	f.t.Helper()
	res := f.query(fmt.Sprintf("SELECT CONNECTION_TYPE FROM performance_schema.threads WHERE PROCESSLIST_USER = '%s' AND PROCESSLIST_COMMAND LIKE 'Binlog Dump%%'", user))
	var types []string
	for i := range res.Values {
		s, _ := res.GetString(i, 0)
		types = append(types, s)
	}
	return types
}

// runOverTLS runs the whole path as user with source.tls set to tls:
// snapshot, stream, convergence with the binlog connection seen by the
// server as TLS, a clean stop and a restart that resumes from the
// checkpoint; it returns the first run's output.
func runOverTLS(t *testing.T, f *fixture, user string, tls ...string) string {
	t.Helper()
	f.exec("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40))",
		"INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	cfg := tlsConfig(f, user, tls...)
	p := f.sluice(cfg)
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	f.exec("INSERT INTO items VALUES (4, 'four')", "UPDATE items SET name = 'uno' WHERE id = 1", "DELETE FROM items WHERE id = 2")
	f.converge("items", "id", "name")
	// The server refuses plain text, so the snapshot's connection was
	// TLS; the binlog's is asked for here.
	binlogOverTLS(f, user)
	p.stop()
	out := p.output()

	p = f.sluice(cfg)
	f.eventually(60*time.Second, "resumed", func() (bool, string) {
		return strings.Contains(p.output(), "resuming from checkpoint"), "not resumed yet"
	})
	f.exec("INSERT INTO items VALUES (5, 'five')")
	f.converge("items", "id", "name")
	binlogOverTLS(f, user)
	p.stop()
	return out
}

// binlogOverTLS waits until user has one binlog connection and the server
// sees it as TLS.
func binlogOverTLS(f *fixture, user string) {
	f.t.Helper()
	f.eventually(30*time.Second, "binlog connection over TLS", func() (bool, string) {
		types := binlogConnectionTypes(f, user)
		return len(types) == 1 && types[0] == "SSL/TLS", fmt.Sprintf("binlog connections of %s: %q", user, types)
	})
}

// TestMySQLTLSVerifyIdentity: the strictest mode, with the CA in a file,
// end to end.
func TestMySQLTLSVerifyIdentity(t *testing.T) {
	f := newFixtureOn(t, tlsServer(t))
	out := runOverTLS(t, f, f.srv.User(), "mode: verify_identity", "ca_file: "+pki.CAFile)
	if !strings.Contains(out, "mysql connections: TLS (source.tls.mode verify_identity)") {
		t.Errorf("no log line says the connections use TLS:\n%s", out)
	}
}

// TestMySQLTLSPreferred: without source.tls, sluice finds that the server
// offers TLS and uses it.
func TestMySQLTLSPreferred(t *testing.T) {
	f := newFixtureOn(t, tlsServer(t))
	out := runOverTLS(t, f, f.srv.User())
	if !strings.Contains(out, "mysql connections: TLS (source.tls.mode preferred)") {
		t.Errorf("no log line says the connections use TLS:\n%s", out)
	}
}

// TestMySQLTLSClientCertificate: a user created REQUIRE X509 logs in with
// source.tls.cert_file and key_file; every connection of that user,
// snapshot and binlog, carried the certificate.
func TestMySQLTLSClientCertificate(t *testing.T) {
	f := newFixtureOn(t, tlsServer(t))
	runOverTLS(t, f, f.srv.X509User(), "mode: verify_identity", "ca_file: "+pki.CAFile,
		"cert_file: "+pki.ClientCert, "key_file: "+pki.ClientKey)
}

// TestMySQLTLSErrors: each wrong source.tls setting fails check and run
// with the cause and the fix; the right one passes check.
func TestMySQLTLSErrors(t *testing.T) {
	f := newFixtureOn(t, tlsServer(t))
	f.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	root, x509 := f.srv.User(), f.srv.X509User()
	for _, tt := range []struct {
		name string
		cfg  string
		want []string
	}{
		{"disabled", tlsConfig(f, root, "mode: disabled"),
			[]string{"require_secure_transport=ON", "set source.tls.mode to verify_identity"}},
		{"unknown CA", tlsConfig(f, root, "mode: verify_ca", "ca_file: "+pki.OtherCAFile),
			[]string{"the server's certificate is signed by a CA sluice does not trust (", "set source.tls.ca_file"}},
		{"wrong name", tlsConfig(f, root, "mode: verify_identity", "ca_file: "+pki.CAFile, "server_name: wrong.example"),
			[]string{"the server's certificate is not valid for the name sluice connected to (", "wrong.example", "set source.tls.server_name"}},
		{"no client certificate", tlsConfig(f, x509, "mode: verify_identity", "ca_file: "+pki.CAFile),
			[]string{`access denied for user "` + x509 + `"`, "REQUIRE X509", "set source.tls.cert_file and source.tls.key_file"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expectFailure(t, f, tt.cfg, "check", tt.want...)
			expectFailure(t, f, tt.cfg, "run", tt.want...)
		})
	}
	// required encrypts without verifying; verify_ca checks the chain,
	// not the name.
	for _, tls := range [][]string{
		{"mode: required"},
		{"mode: required", "ca_file: " + pki.OtherCAFile},
		{"mode: verify_ca", "ca_file: " + pki.CAFile, "server_name: wrong.example"},
	} {
		p := f.sluice(tlsConfig(f, root, tls...), "check")
		if err := p.wait(90 * time.Second); err != nil || !strings.Contains(p.output(), "OK: source and Kafka are ready") {
			t.Errorf("%q: %v\n%s", tls, err, p.output())
		}
	}
}
