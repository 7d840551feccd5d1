package sink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// testCA is a throwaway CA and a server certificate it signed for names.
type testCA struct {
	pool   *x509.CertPool
	server tls.Certificate
}

func newTestCA(t *testing.T, notAfter time.Time, names ...string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testCA{pool: pool, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

func securityCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func connect(t *testing.T, cfg Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := NewClient(ctx, cfg)
	if err == nil {
		cl.Close()
	}
	return err
}

// TestClientTLSAndSASL: NewClient connects over TLS and with each SASL
// mechanism, and a failed connection names its cause and fix. kfake drops
// the connection on wrong SASL credentials and never answers a TLS hello
// on a plaintext port, so those two cases are proved against a real broker
// in the integration tier.
func TestClientTLSAndSASL(t *testing.T) {
	ca := newTestCA(t, time.Now().Add(time.Hour), "127.0.0.1")
	other := newTestCA(t, time.Now().Add(time.Hour), "127.0.0.1")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	trusting := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}

	tlsBrokers := securityCluster(t, kfake.TLS(serverTLS))
	saslBrokers := securityCluster(t, kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pw-512"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pw-256"),
		kfake.Superuser("PLAIN", "plainuser", "pw-plain"))

	ok := []struct {
		name string
		cfg  Config
	}{
		{"tls", Config{Brokers: tlsBrokers, TLS: trusting}},
		{"scram-sha-512", Config{Brokers: saslBrokers, SASL: scram.Auth{User: "scram512", Pass: "pw-512"}.AsSha512Mechanism()}},
		{"scram-sha-256", Config{Brokers: saslBrokers, SASL: scram.Auth{User: "scram256", Pass: "pw-256"}.AsSha256Mechanism()}},
		{"plain", Config{Brokers: saslBrokers, SASL: plain.Auth{User: "plainuser", Pass: "pw-plain"}.AsMechanism()}},
	}
	for _, tt := range ok {
		if err := connect(t, tt.cfg); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	bad := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown ca", Config{Brokers: tlsBrokers, TLS: &tls.Config{RootCAs: other.pool}},
			"the broker's certificate is signed by a CA sluice does not trust"},
		{"wrong name", Config{Brokers: tlsBrokers, TLS: &tls.Config{RootCAs: ca.pool, ServerName: "kafka.example.com"}},
			"the broker's certificate is not valid for the name sluice connected to"},
		{"plaintext to a tls listener", Config{Brokers: tlsBrokers},
			"speaks TLS and sluice connected without it"},
	}
	for _, tt := range bad {
		err := connect(t, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "nope") {
			t.Errorf("%s: the password is in the error: %v", tt.name, err)
		}
	}

	expired := newTestCA(t, time.Now().Add(-time.Hour), "127.0.0.1")
	expiredBrokers := securityCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{expired.server}}))
	if err := connect(t, Config{Brokers: expiredBrokers, TLS: &tls.Config{RootCAs: expired.pool}}); err == nil ||
		!strings.Contains(err.Error(), "the broker's certificate has expired") {
		t.Errorf("expired certificate: %v", err)
	}
}
