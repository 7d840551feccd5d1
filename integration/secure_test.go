//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The SCRAM and PLAIN user of kafka's SASL_SSL listener.
const (
	saslUser     = "sluice-it"
	saslPassword = "sasl-It-Secret-7"
)

// secretFile writes content into a file of the test's own and returns its
// path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// saslYAML is the kafka.tls and kafka.sasl part of a configuration for the
// SASL_SSL listener with mechanism and the password in a file.
func saslYAML(t *testing.T, mechanism, password string) string {
	return fmt.Sprintf(`  tls:
    enabled: true
    ca_file: %s
  sasl:
    mechanism: %s
    username: %s
    password_file: %s
`, pki.CAFile, mechanism, saslUser, secretFile(t, password))
}

// runSecure runs the whole path over a secured listener: snapshot, stream,
// a clean stop with its checkpoint, and a restart that resumes from it.
func runSecure(t *testing.T, f *fixture) {
	t.Helper()
	f.exec("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40))",
		"INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	p := f.sluice(f.config(""))
	f.eventually(60*time.Second, "streaming", func() (bool, string) {
		return strings.Contains(p.output(), "snapshot complete"), "no snapshot yet"
	})
	f.exec("INSERT INTO items VALUES (4, 'four')", "UPDATE items SET name = 'uno' WHERE id = 1", "DELETE FROM items WHERE id = 2")
	f.converge("items", "id", "name")
	p.stop()
	if strings.Contains(p.output(), saslPassword) {
		t.Errorf("the SASL password appears in sluice's output")
	}

	// The restart reads the checkpoint over the same listener and
	// streams on.
	p = f.sluice(f.config(""))
	f.eventually(60*time.Second, "resumed", func() (bool, string) {
		return strings.Contains(p.output(), "resuming from checkpoint"), "not resumed yet"
	})
	f.exec("INSERT INTO items VALUES (5, 'five')")
	f.converge("items", "id", "name")
	p.stop()
}

// TestKafkaSASLSSL: each password mechanism over TLS, end to end:
// SCRAM-SHA-512 (MSK, most self-run clusters), SCRAM-SHA-256 and PLAIN
// (Confluent Cloud).
func TestKafkaSASLSSL(t *testing.T) {
	for _, m := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"} {
		t.Run(m, func(t *testing.T) {
			f := newFixture(t)
			f.brokers = kafka.SASLSSLBootstrap()
			f.kafkaYAML = saslYAML(t, m, saslPassword)
			runSecure(t, f)
		})
	}
}

// TestKafkaMutualTLS: a listener that requires a client certificate, end
// to end.
func TestKafkaMutualTLS(t *testing.T) {
	f := newFixture(t)
	f.brokers = kafka.MTLSBootstrap()
	f.kafkaYAML = fmt.Sprintf(`  tls:
    enabled: true
    ca_file: %s
    cert_file: %s
    key_file: %s
`, pki.CAFile, pki.ClientCert, pki.ClientKey)
	runSecure(t, f)
}

// TestKafkaSecurityCheck: sluice check accepts each mechanism the
// listener offers and names the cause and fix of each wrong setting.
func TestKafkaSecurityCheck(t *testing.T) {
	f := newFixture(t)
	f.exec("CREATE TABLE items (id INT PRIMARY KEY)")
	check := func(brokers, yaml string) (string, error) {
		t.Helper()
		f.brokers, f.kafkaYAML = brokers, yaml
		p := f.sluice(f.config(""), "check")
		err := p.wait(90 * time.Second)
		out := p.output()
		if strings.Contains(out, saslPassword) || strings.Contains(out, "wrong-Secret") {
			t.Errorf("a password appears in sluice check's output:\n%s", out)
		}
		return out, err
	}
	for _, m := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"} {
		if out, err := check(kafka.SASLSSLBootstrap(), saslYAML(t, m, saslPassword)); err != nil || !strings.Contains(out, "OK: source and Kafka are ready") {
			t.Errorf("%s: %v\n%s", m, err, out)
		}
	}
	tlsOnly := func(ca string) string {
		return fmt.Sprintf("  tls:\n    enabled: true\n    ca_file: %s\n", ca)
	}
	for _, tt := range []struct {
		name, brokers, yaml string
		want                []string
	}{
		{"wrong password", kafka.SASLSSLBootstrap(), saslYAML(t, "SCRAM-SHA-512", "wrong-Secret"),
			[]string{"refused the SASL SCRAM-SHA-512 credentials (", "check kafka.sasl.username and kafka.sasl.password"}},
		{"unknown CA", kafka.SASLSSLBootstrap(), strings.Replace(saslYAML(t, "SCRAM-SHA-512", saslPassword), pki.CAFile, pki.OtherCAFile, 1),
			[]string{"the broker's certificate is signed by a CA sluice does not trust (", "set kafka.tls.ca_file"}},
		{"no tls to a tls listener", kafka.MTLSBootstrap(), "",
			[]string{"speaks TLS and sluice connected without it (", "set kafka.tls.enabled: true"}},
		{"tls to a plaintext listener", kafka.Bootstrap(), tlsOnly(pki.CAFile),
			[]string{"does not speak TLS (", "set kafka.tls.enabled: false"}},
		{"no client certificate", kafka.MTLSBootstrap(), tlsOnly(pki.CAFile),
			[]string{"refused the TLS handshake (", "set kafka.tls.cert_file and key_file"}},
		{"no sasl on a sasl listener", kafka.SASLSSLBootstrap(), tlsOnly(pki.CAFile),
			[]string{"closed the connection at sluice's first request (", "the listener wants SASL"}},
		{"unknown user", kafka.SASLSSLBootstrap(), strings.Replace(saslYAML(t, "SCRAM-SHA-512", saslPassword), "username: "+saslUser, "username: nobody", 1),
			[]string{"refused the SASL SCRAM-SHA-512 credentials (", "the user must exist on the cluster"}},
		{"mechanism the listener does not offer", kafka.SASLSSLBootstrap(),
			tlsOnly(pki.CAFile) + "  sasl:\n    mechanism: OAUTHBEARER\n    token_file: " + secretFile(t, "a-token") + "\n",
			[]string{"does not offer SASL OAUTHBEARER on this listener (", "set kafka.sasl.mechanism to one the listener enables"}},
	} {
		out, err := check(tt.brokers, tt.yaml)
		if err == nil {
			t.Errorf("%s: sluice check succeeded:\n%s", tt.name, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out)
			}
		}
	}
}
