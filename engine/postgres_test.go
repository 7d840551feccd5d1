package engine

import (
	"net/url"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

func TestPostgresDSN(t *testing.T) {
	c, err := config.Load("", []string{"--source.type=postgresql", "--source.user=sl uice", "--source.database=shop db",
		"--source.host=db.internal", "--tables.include=public.*", "--kafka.brokers=127.0.0.1:9092", "--format=json",
		"--source.sslmode=verify-full", "--source.sslrootcert=/etc/ca.pem",
		"--source.tls.cert_file=/etc/client.pem", "--source.tls.key_file=/etc/client-key.pem"}, []string{"SLUICE_SOURCE_PASSWORD=p@ss:w/rd?#"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(postgresDSN(c))
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	q := u.Query()
	if u.User.Username() != "sl uice" || pw != "p@ss:w/rd?#" || u.Host != "db.internal:5432" || u.Path != "/shop db" ||
		q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") != "/etc/ca.pem" || q.Get("connect_timeout") != "10" ||
		q.Get("application_name") != "sluice sluice" || q.Get("sslcert") != "/etc/client.pem" || q.Get("sslkey") != "/etc/client-key.pem" {
		t.Errorf("DSN parts: user %q password ok %v host %q path %q query %v", u.User.Username(), pw == "p@ss:w/rd?#", u.Host, u.Path, q)
	}
}
