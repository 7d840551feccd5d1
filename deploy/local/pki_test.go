package local

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// readPEM returns the blocks of a PEM file, failing on anything else in it.
func readPEM(t *testing.T, path string) []*pem.Block {
	t.Helper()
	rest, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 || strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("%s: %d PEM blocks and %d bytes of something else", path, len(blocks), len(rest))
	}
	return blocks
}

// readCert parses the single certificate of a PEM file.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	blocks := readPEM(t, path)
	if len(blocks) != 1 || blocks[0].Type != "CERTIFICATE" {
		t.Fatalf("%s: want one CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(blocks[0].Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// readKey parses the single PKCS#8 key of a PEM file as a P-256 key.
func readKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	blocks := readPEM(t, path)
	if len(blocks) != 1 || blocks[0].Type != "PRIVATE KEY" {
		t.Fatalf("%s: want one PRIVATE KEY (PKCS#8) block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
	if err != nil {
		t.Fatalf("%s: not PKCS#8: %v", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve.Params().Name != "P-256" {
		t.Fatalf("%s: want an ECDSA P-256 key, got %T", path, k)
	}
	return ec
}

func TestNewTestPKI(t *testing.T) {
	p, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca, other := readCert(t, p.CAFile), readCert(t, p.OtherCAFile)
	server, client := readCert(t, p.ServerCert), readCert(t, p.ClientCert)
	for _, c := range []*x509.Certificate{ca, other} {
		if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: not a CA certificate", c.Subject.CommonName)
		}
	}
	now := time.Now()
	for _, c := range []*x509.Certificate{ca, other, server, client} {
		if !c.NotBefore.Before(now.Add(-50*time.Minute)) || c.NotAfter.Before(now.Add(23*time.Hour)) || c.NotAfter.After(now.Add(25*time.Hour)) {
			t.Errorf("%s: valid %v to %v, want from an hour ago to a day ahead", c.Subject.CommonName, c.NotBefore, c.NotAfter)
		}
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if err := server.VerifyHostname("example.com"); err == nil {
		t.Error("server certificate verifies for example.com")
	}
	if len(server.IPAddresses) != 1 || !server.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !slices.Equal(server.DNSNames, []string{"localhost"}) {
		t.Errorf("server certificate names = %v %v, want localhost and 127.0.0.1", server.DNSNames, server.IPAddresses)
	}
	if !slices.Equal(server.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server extended key usage = %v, want server auth", server.ExtKeyUsage)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other)
	var unknown x509.UnknownAuthorityError
	if _, err := server.Verify(x509.VerifyOptions{Roots: otherRoots, DNSName: "localhost"}); err == nil {
		t.Error("server certificate verifies against the other CA")
	} else if !errors.As(err, &unknown) {
		t.Errorf("other CA: want an unknown-authority error, got %v", err)
	}

	if client.Subject.CommonName != "sluice-client" {
		t.Errorf("client CN = %q", client.Subject.CommonName)
	}
	if !slices.Equal(client.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client extended key usage = %v, want client auth", client.ExtKeyUsage)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate as a client: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots}); err == nil {
		t.Error("client certificate verifies as a server certificate")
	}

	caKey, serverKey, clientKey := readKey(t, p.CAKey), readKey(t, p.ServerKey), readKey(t, p.ClientKey)
	for _, c := range []struct {
		cert *x509.Certificate
		key  *ecdsa.PrivateKey
	}{{ca, caKey}, {server, serverKey}, {client, clientKey}} {
		if !c.key.PublicKey.Equal(c.cert.PublicKey) {
			t.Errorf("%s: key does not match the certificate", c.cert.Subject.CommonName)
		}
	}
	for _, f := range []string{p.CAKey, p.ServerKey, p.ClientKey, p.ServerKeyStore} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}

	// The keystore Kafka reads: the server key, then the chain to the CA.
	ks := readPEM(t, p.ServerKeyStore)
	if len(ks) != 3 || ks[0].Type != "PRIVATE KEY" || ks[1].Type != "CERTIFICATE" || ks[2].Type != "CERTIFICATE" {
		t.Fatalf("keystore blocks: want PRIVATE KEY, CERTIFICATE, CERTIFICATE")
	}
	if !slices.Equal(ks[1].Bytes, server.Raw) || !slices.Equal(ks[2].Bytes, ca.Raw) {
		t.Error("keystore chain is not server certificate then CA")
	}
	if _, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey); err != nil {
		t.Errorf("server key pair: %v", err)
	}
}

// TestTestPKIHandshake runs a TLS server with the server certificate that
// requires client certificates from the CA, and checks ClientTLS gets
// through while a client without a certificate, or one trusting only the
// other CA, does not.
func TestTestPKIHandshake(t *testing.T) {
	p, err := NewTestPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(readCert(t, p.CAFile))
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	exchange := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 2))
		return err
	}
	if err := exchange(p.ClientTLS()); err != nil {
		t.Errorf("ClientTLS: %v", err)
	}
	noCert := p.ClientTLS()
	noCert.Certificates = nil
	if err := exchange(noCert); err == nil {
		t.Error("client without a certificate got through")
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(readCert(t, p.OtherCAFile))
	other := p.ClientTLS()
	other.RootCAs = otherRoots
	if err := exchange(other); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("client trusting the other CA: want an unknown-authority error, got %v", err)
	}
	if p.ClientTLS().Certificates[0].PrivateKey == nil || p.ClientTLS() == p.ClientTLS() {
		t.Error("ClientTLS: want a new configuration with the client key each call")
	}
}

func TestNewTestPKIEmptyDir(t *testing.T) {
	if _, err := NewTestPKI(""); err == nil || !strings.Contains(err.Error(), "t.TempDir()") {
		t.Errorf("empty dir: want an error naming the fix, got %v", err)
	}
}
