//go:build integration

package local

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// TestMariaDBTLS: a server started with MariaDBOptions.TLS answers the
// harness over TLS, refuses plain text, and lets X509User in with the
// client certificate only.
func TestMariaDBTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	pki, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := StartMariaDB(ctx, MariaDBOptions{TLS: pki})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if got := variable(t, db, "require_secure_transport"); got != "ON" {
		t.Errorf("require_secure_transport = %s, want ON", got)
	}
	if got := variable(t, db, "have_ssl"); got != "YES" {
		t.Errorf("have_ssl = %s, want YES", got)
	}
	cipher := func(c *client.Conn) string {
		t.Helper()
		r, err := c.Execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := r.GetString(0, 1)
		return v
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cipher(c); got == "" {
		t.Errorf("the harness's connection is not encrypted")
	}
	c.Close()

	connect := func(user string, tc *tls.Config) (*client.Conn, error) {
		return client.ConnectWithContext(ctx, db.Addr(), user, "", "", 10*time.Second, func(c *client.Conn) error {
			if tc != nil {
				c.SetTLSConfig(tc)
			}
			return nil
		})
	}
	// Plain text is refused for every account, with the error of a wrong
	// password: MariaDB has no code of its own for it.
	_, err = connect(db.User(), nil)
	var me *mysql.MyError
	if !errors.As(err, &me) || me.Code != mysql.ER_ACCESS_DENIED_ERROR {
		t.Errorf("plain text: want access denied (1045), got %v", err)
	}

	if db.X509User() == "" {
		t.Fatal("X509User is empty on a TLS server")
	}
	withCert := pki.ClientTLS()
	withCert.ServerName = db.Host()
	c, err = connect(db.X509User(), withCert)
	if err != nil {
		t.Fatalf("X509User with the client certificate: %v", err)
	}
	if got := cipher(c); got == "" {
		t.Errorf("X509User's connection is not encrypted")
	}
	r, err := c.Execute("SHOW GRANTS")
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := r.GetString(0, 0); !strings.Contains(g, "REPLICATION SLAVE") || !strings.HasSuffix(g, "REQUIRE X509") {
		t.Errorf("grants of %s: %s", db.X509User(), g)
	}
	c.Close()

	noCert := pki.ClientTLS()
	noCert.ServerName = db.Host()
	noCert.Certificates = nil
	_, err = connect(db.X509User(), noCert)
	if !errors.As(err, &me) || me.Code != mysql.ER_ACCESS_DENIED_ERROR {
		t.Errorf("X509User without a certificate: want access denied (1045), got %v", err)
	}
}
