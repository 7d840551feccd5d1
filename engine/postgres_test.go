package engine

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/deploy/local"
	"github.com/sluice-cdc/sluice/snapshot"
)

// TestPostgresConnSettings: the source settings reach the connection
// settings every PostgreSQL connection uses, the replication ones too.
func TestPostgresConnSettings(t *testing.T) {
	pki, err := local.NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "from-env")
	c, err := config.Load("", []string{"--source.type=postgresql", "--source.user=sl uice", "--source.database=shop db",
		"--source.host=127.0.0.1", "--source.port=5433", "--tables.include=public.*", "--kafka.brokers=127.0.0.1:9092", "--format=json",
		"--source.sslmode=verify-full", "--source.sslrootcert=" + pki.CAFile,
		"--source.tls.cert_file=" + pki.ClientCert, "--source.tls.key_file=" + pki.ClientKey}, []string{"SLUICE_SOURCE_PASSWORD=p@ss:w/rd?#"})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := snapshot.PostgresConnConfig(newPostgresSource(c, slog.Default(), nil, nil).scfg)
	if err != nil {
		t.Fatal(err)
	}
	if cc.User != "sl uice" || cc.Password != "p@ss:w/rd?#" || cc.Host != "127.0.0.1" || cc.Port != 5433 || cc.Database != "shop db" ||
		cc.ConnectTimeout != 10*time.Second || cc.RuntimeParams["application_name"] != "sluice sluice" {
		t.Errorf("settings: user %q password ok %v host %q port %d database %q timeout %v application %q", cc.User, cc.Password == "p@ss:w/rd?#",
			cc.Host, cc.Port, cc.Database, cc.ConnectTimeout, cc.RuntimeParams["application_name"])
	}
	if strings.Contains(cc.ConnString(), "p@ss") || !strings.Contains(cc.ConnString(), "sslmode='verify-full'") {
		t.Errorf("connection string %s: want sslmode verify-full and no password", cc.ConnString())
	}
	// verify-full: TLS only, checked against the CA and the host name.
	tc := cc.TLSConfig
	if tc == nil || len(cc.Fallbacks) != 0 || tc.InsecureSkipVerify || tc.ServerName != "127.0.0.1" {
		t.Fatalf("TLS: %+v, %d fallbacks; want verify-full", tc, len(cc.Fallbacks))
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(readFile(t, pki.CAFile))
	if tc.RootCAs == nil || !tc.RootCAs.Equal(roots) {
		t.Error("TLS roots are not source.sslrootcert")
	}
	block, _ := pem.Decode(readFile(t, pki.ClientCert))
	if len(tc.Certificates) != 1 || block == nil || !bytes.Equal(tc.Certificates[0].Certificate[0], block.Bytes) {
		t.Error("TLS client certificate is not source.tls.cert_file")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
